"""Storage-MTJ retention and read disturb: accuracy and OOD AUROC against time since programming and against
reads, and what a refresh costs to hold accuracy within 0.5 points (issue 19 item 4; docs/analog.md).

Chip: arch_configs/spindrop.yaml with device variation on (``variation.enabled``: every storage MTJ has its own
Δ and I_c0, whose low-Δ tail dominates both flip rates), running the shipped digits MLP (T = 20, all 540 test
images, the workload's OOD sets). Faults: ``faults.storage`` (cimsim.faults.storage).

The accuracy of a chip depends on which devices flipped, and to first order on how many: each mechanism is
therefore swept over the mean flip probability of a storage device (FLIP_TARGETS), several chip instances per
point, and every time or read count is that mean's inverse at a temperature (monotone, by bisection on the
model). Retention flips either state; read disturb flips only the state the read current destabilises (the
low-resistance one by default), so its flips all push the popcount the same way.

Refresh: rewriting every device of the used arrays from the copy the chip was programmed from, one row at a
time per array, arrays in parallel (crossbar action ``write_weight``: devices × (decode + word line + write
pulse)). Held within 0.5 points means refreshing before the mean flip probability reaches the largest swept
value whose accuracy (mean over chips) is within 0.5 points of the fresh chips' (log-interpolated between the
swept points).

Run on demand (not part of the test suite; ~8 min on one idle core):

    nice -n 10 python -m benchmarks.study_retention [--chips 3] [--out DIR]

Prints markdown tables (docs/analog.md holds their numbers) and writes ``retention_study.csv``.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks import markdown
from cimsim.components import mtj
from cimsim.faults.inject import storage_flips
from cimsim.faults.storage import StorageFlips
from cimsim.hardware import build_hardware
from cimsim.mapping import map_network
from cimsim.resolve import resolve
from cimsim.simulate import Options, simulate
from cimsim.spec.arch import ArchSpec
from cimsim.spec.loader import apply_overrides, load_arch, load_workload, validate

ROOT = Path(__file__).resolve().parent.parent
WORKLOAD = ROOT / "workloads" / "digits_mlp.yaml"
FLIP_TARGETS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
TEMPERATURES_K = (330.0, 358.0, 398.0)   # 57, 85 (industrial), 125 °C (automotive grade 1)
HOLD_POINTS = 0.5                        # accuracy loss the refresh policy must stay within, percentage points
DEVICE_SAMPLES = 200_000                 # Δ/I_c0 draws that estimate a mean flip probability


def arch_with(over: list[tuple[str, object]]) -> ArchSpec:
    base = load_arch(ROOT / "arch_configs" / "spindrop.yaml")
    over = [("variation.enabled", True), *over]
    return validate(ArchSpec, apply_overrides(base.model_dump(), over, ArchSpec), file=None)


@lru_cache(maxsize=8)
def flip_model(t_k: float) -> tuple[StorageFlips, np.ndarray, np.ndarray, np.ndarray]:
    """The chip's storage-flip model at operating temperature ``t_k`` (no history yet) with DEVICE_SAMPLES drawn
    devices (Δ, I_c0), half of them in each state: (model, disturbed, delta, ic0)."""
    arch = arch_with([("technology.temperature_k", t_k), ("faults.storage.reads_per_device", 1.0)])
    design = resolve(arch, load_workload(WORKLOAD))
    sf = storage_flips(arch.faults, build_hardware(design, map_network(design)))
    dev = mtj.sample_devices(sf.device, sf.sigmas, DEVICE_SAMPLES, np.random.default_rng(12345), t_k)
    disturbed = np.arange(DEVICE_SAMPLES) % 2 == 0
    return sf, disturbed, dev.delta, dev.ic0_a


def mean_flip(t_k: float, mechanism: str, amount: float) -> float:
    """Mean flip probability of a storage device (over devices and both states) after ``amount`` s or reads."""
    sf, disturbed, delta, ic0 = flip_model(t_k)
    hist = {"time_s": amount, "reads": 0.0} if mechanism == "retention" else {"time_s": 0.0, "reads": amount}
    return float(replace(sf, **hist).flip_probability(disturbed, delta, ic0).mean())


def amount_for(t_k: float, mechanism: str, target: float) -> float:
    """Time (s) or reads giving mean flip probability ``target`` at ``t_k`` (bisection in log amount)."""
    lo, hi = 1e-6, 1e30
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if mean_flip(t_k, mechanism, mid) < target else (lo, mid)
        if hi / lo < 1.001:
            break
    return math.sqrt(lo * hi)


def run_point(arch: ArchSpec, seed: int) -> dict[str, float]:
    r = simulate(arch, load_workload(WORKLOAD), Options(seed=seed, corruptions=False, threads=1), base_dir=WORKLOAD.parent)
    j = r.to_json()
    flips = [v["storage"] for v in j.get("faults_injected", {}).get("layers", {}).values() if "storage" in v]
    flipped = sum(f["flipped"] for f in flips) / max(1, sum(f["devices"] for f in flips))
    return {"accuracy": j["accuracy"], "auroc_mean": float(np.mean([v["auroc"] for v in j["ood"].values()])),
            "flipped_fraction": flipped, "energy_per_inference_j": j["energy_per_inference_j"],
            "latency_s": j["latency_s"], "passes": j["passes"]}


def sweep(chips: int) -> pd.DataFrame:
    """Accuracy and AUROC per (mechanism, target mean flip probability, chip) at 358 K (the flip count, not the
    temperature, is what the network sees; the other temperatures only rescale the time or read axis)."""
    rows = []
    base = arch_with([("technology.temperature_k", 358.0)])
    for seed in range(chips):
        rows.append({"mechanism": "fresh", "target_flip": 0.0, "seed": seed, **run_point(base, seed)})
    for mech in ("retention", "read_disturb"):
        field = "time_since_programming_s" if mech == "retention" else "reads_per_device"
        for target in FLIP_TARGETS:
            amount = amount_for(358.0, mech, target)
            a = arch_with([("technology.temperature_k", 358.0), (f"faults.storage.{field}", amount)])
            for seed in range(chips):
                rows.append({"mechanism": mech, "target_flip": target, "seed": seed, **run_point(a, seed)})
    return pd.DataFrame(rows)


def hold_limit(df: pd.DataFrame, mechanism: str, metric: str = "accuracy") -> float:
    """Largest mean flip probability whose chip-mean ``metric`` (accuracy or auroc_mean) stays within HOLD_POINTS
    of the fresh chips'."""
    fresh = df[df.mechanism == "fresh"][metric].mean()
    g = df[df.mechanism == mechanism].groupby("target_flip")[metric].mean().sort_index()
    ok = g >= fresh - HOLD_POINTS / 100
    if ok.all():
        return float(g.index[-1])
    first_bad = int(np.argmax(~ok.to_numpy()))
    if first_bad == 0:
        return float(g.index[0])
    x0, x1 = g.index[first_bad - 1], g.index[first_bad]
    y0, y1 = g.iloc[first_bad - 1], g.iloc[first_bad]
    f = (y0 - (fresh - HOLD_POINTS / 100)) / (y0 - y1)
    return float(math.exp(math.log(x0) + f * (math.log(x1) - math.log(x0))))


def refresh_cost() -> dict[str, float]:
    """Energy (J) and time (s) of rewriting every device of the used arrays once."""
    arch = arch_with([])
    design = resolve(arch, load_workload(WORKLOAD))
    mp = map_network(design)
    hw = build_hardware(design, mp)
    xb = hw.component("crossbar")
    w = xb.action("write_weight")
    return {"arrays": mp.arrays_used, "weights": mp.arrays_used * xb.rows * xb.cols,
            "energy_j": mp.arrays_used * xb.rows * xb.cols * w.energy_j, "time_s": xb.rows * w.latency_s}


def policy(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, float]]:
    """Refresh interval and overhead per mechanism and temperature."""
    cost = refresh_cost()
    fresh = df[df.mechanism == "fresh"]
    e_inf = float(fresh.energy_per_inference_j.mean())
    lat = float(fresh.latency_s.mean())
    passes = int(fresh.passes.iloc[0])
    rows = []
    for mech in ("retention", "read_disturb"):
        for metric in ("accuracy", "auroc_mean"):
            limit = hold_limit(df, mech, metric)
            for t_k in TEMPERATURES_K:
                amount = amount_for(t_k, mech, limit)
                row = {"mechanism": mech, "hold": metric, "temperature_k": t_k, "flip_limit": limit}
                if mech == "retention":
                    row.update(refresh_every_s=amount, refresh_energy_per_s_w=cost["energy_j"] / amount,
                               refresh_time_fraction=cost["time_s"] / amount)
                else:
                    # reads per device per inference: every row is read once per MC pass (conservative: a 2T-2MTJ
                    # device is read only when the input selects it)
                    inferences = amount / passes
                    row.update(refresh_every_reads=amount, refresh_every_inferences=inferences,
                               refresh_energy_per_inference_j=cost["energy_j"] / inferences,
                               refresh_energy_fraction=cost["energy_j"] / inferences / e_inf,
                               refresh_time_fraction=cost["time_s"] / (inferences * lat))
                rows.append(row)
    return pd.DataFrame(rows), cost


def axes(df: pd.DataFrame) -> pd.DataFrame:
    """The sweep as accuracy/AUROC against time (retention) or reads (read disturb) at each temperature."""
    g = df.groupby(["mechanism", "target_flip"]).agg(accuracy=("accuracy", "mean"), accuracy_sd=("accuracy", "std"),
                                                     auroc=("auroc_mean", "mean"),
                                                     flipped=("flipped_fraction", "mean")).reset_index()
    out = []
    for row in g.itertuples(index=False):
        rec = row._asdict()
        if row.mechanism != "fresh":
            for t_k in TEMPERATURES_K:
                a = amount_for(t_k, row.mechanism, row.target_flip)
                rec[f"at_{int(t_k)}K"] = a
        out.append(rec)
    return pd.DataFrame(out)


def plot(table: pd.DataFrame, path: Path) -> None:
    """Accuracy and OOD AUROC against time since programming (retention) and reads (read disturb), one line per
    temperature; the fresh chips' values and the 0.5-point band dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fresh = table[table.mechanism == "fresh"].iloc[0]
    fig, axes_ = plt.subplots(2, 2, figsize=(10, 7), sharey="row")
    for col, (mech, xlabel) in enumerate((("retention", "time since programming (s)"),
                                          ("read_disturb", "reads per device"))):
        sub = table[table.mechanism == mech].sort_values("target_flip")
        for row, (metric, ylabel) in enumerate((("accuracy", "MC accuracy"), ("auroc", "OOD AUROC (entropy)"))):
            ax = axes_[row, col]
            for t_k in TEMPERATURES_K:
                ax.semilogx(sub[f"at_{int(t_k)}K"], sub[metric], "o-", label=f"{t_k:g} K")
            ax.axhline(fresh[metric], color="k", ls="--", lw=0.8)
            ax.axhline(fresh[metric] - HOLD_POINTS / 100, color="grey", ls=":", lw=0.8)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
    axes_[0, 0].legend(title="temperature")
    axes_[0, 0].set_title("retention (variation on, 3 chips)")
    axes_[0, 1].set_title("read disturb (low state, 1 ns reads)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chips", type=int, default=3, help="chip instances (seeds) per point")
    ap.add_argument("--out", type=Path, default=Path("."), help="folder for retention_study.csv")
    ap.add_argument("--png", type=Path, help="also write the figure (docs/img/retention_study.png)")
    ap.add_argument("--from-csv", type=Path, help="recompute the tables from a retention_study.csv of an earlier "
                                                  "run instead of simulating")
    args = ap.parse_args()
    if args.from_csv:
        df = pd.read_csv(args.from_csv)
    else:
        df = sweep(args.chips)
        args.out.mkdir(parents=True, exist_ok=True)
        df.to_csv(args.out / "retention_study.csv", index=False)
    table = axes(df)
    print(markdown(table))
    if args.png:
        plot(table, args.png)
    pol, cost = policy(df)
    print(f"\nrefresh: {cost['weights']} weights in {cost['arrays']} arrays, {cost['energy_j']:.4g} J, "
          f"{cost['time_s']:.4g} s")
    ret = ["hold", "temperature_k", "flip_limit", "refresh_every_s", "refresh_energy_per_s_w", "refresh_time_fraction"]
    rd = ["hold", "temperature_k", "flip_limit", "refresh_every_reads", "refresh_every_inferences",
          "refresh_energy_fraction", "refresh_time_fraction"]
    print("\nretention\n" + markdown(pol[pol.mechanism == "retention"][ret]))
    print("\nread disturb\n" + markdown(pol[pol.mechanism == "read_disturb"][rd]))


if __name__ == "__main__":
    main()
