"""Thermal drift of the Spindrop dropout probability and what it does to the Bayesian BNN (issue 13 item 3).

The write current is tuned at ``spindrop.calibration_temperature_k`` (300 K) and the chip is operated at
``technology.temperature_k`` from 233 K to 398 K (automotive −40…125 °C), without compensation and with the
tracking current reference (``spindrop.temperature_compensation: ptat``). For each point: realized p, MC
accuracy, NLL, ECE and OOD AUROC (predictive entropy) of the shipped digits MLP (T = 20, seed 0, all 540 test
images, 500 images per OOD set).

Run on demand (not part of the test suite):

    python -m benchmarks.study_temperature [--out DIR]

Prints a markdown table (docs/models.md "Temperature" holds its numbers) and writes ``temperature_study.csv``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from benchmarks import markdown
from cimsim.simulate import Options, simulate
from cimsim.spec.arch import ArchSpec
from cimsim.spec.loader import apply_overrides, load_arch, load_workload, validate

ROOT = Path(__file__).resolve().parent.parent
# −40 °C … 125 °C (REFERENCES §10 automotive range) with the 300 K calibration point inside
TEMPERATURES_K = (233.0, 253.0, 273.0, 300.0, 323.0, 348.0, 373.0, 398.0)


def run(temperature_k: float, compensation: str, workload: str = "digits_mlp.yaml") -> dict[str, float | str]:
    base = load_arch(ROOT / "arch_configs" / "spindrop.yaml")
    over = [("technology.temperature_k", temperature_k), ("spindrop.temperature_compensation", compensation)]
    arch = validate(ArchSpec, apply_overrides(base.model_dump(), over, ArchSpec), file=None)
    wl_path = ROOT / "workloads" / workload
    r = simulate(arch, load_workload(wl_path), Options(corruptions=False), base_dir=wl_path.parent)
    j = r.to_json()
    d = j["dropout"]
    ood = j["ood"]
    return {"compensation": compensation, "temperature_k": temperature_k,
            "write_current_a": d["write_current_a"], "realized_p": d["realized_p"],
            "accuracy": j["accuracy"], "nll": j["nll"], "ece": j["ece"],
            "auroc_mean": sum(v["auroc"] for v in ood.values()) / len(ood),
            **{f"auroc_{k}": v["auroc"] for k, v in ood.items()},
            "energy_per_inference_j": j["energy_per_inference_j"], "area_m2": j["area_m2"],
            "leakage_w": j["leakage_w"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("."), help="folder for temperature_study.csv")
    args = ap.parse_args()
    rows = [run(t, c) for c in ("none", "ptat") for t in TEMPERATURES_K]
    df = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out / "temperature_study.csv", index=False)
    cols = ["compensation", "temperature_k", "write_current_a", "realized_p", "accuracy", "nll", "ece",
            "auroc_mean", "auroc_uniform_noise"]
    print(markdown(df[cols]))


if __name__ == "__main__":
    main()
