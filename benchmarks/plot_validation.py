"""Figures of docs/validation.md from `cimsim reproduce --out docs/validation` (reads reproduce.json).

    python benchmarks/plot_validation.py [--json docs/validation/reproduce.json] [--out docs/img]

Writes validation_nvsim.png (cimsim / NVSim per quantity and node, with the 0.5–2× band) and
validation_cases.png (every judged case's value / reference, coloured by verdict).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
QUANTITIES = ("read_energy", "write_energy", "read_latency", "area", "leakage")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default=str(ROOT / "docs" / "validation" / "reproduce.json"))
    ap.add_argument("--out", default=str(ROOT / "docs" / "img"))
    args = ap.parse_args()
    cases = json.loads(Path(args.json).read_text())["cases"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    nvsim = {c["name"]: c for c in cases if c["name"].startswith("circuits.subarray_nvsim.")}
    nodes = sorted({n.split(".")[2] for n in nvsim}, key=lambda s: -float(s.rstrip("nm")))
    fig, ax = plt.subplots(figsize=(7.5, 3.8), layout="constrained")
    width = 0.8 / len(nodes)
    for k, node in enumerate(nodes):
        ratios = [nvsim[f"circuits.subarray_nvsim.{node}.{q}"]["value"] / nvsim[f"circuits.subarray_nvsim.{node}.{q}"]
                  ["reference"] for q in QUANTITIES]
        ax.bar([i + (k - (len(nodes) - 1) / 2) * width for i in range(len(QUANTITIES))], ratios, width, label=node)
    ax.axhspan(0.5, 2.0, color="0.92", zorder=0, label="target 0.5–2×")
    ax.axhline(1.0, color="0.4", lw=0.8)
    ax.set_xticks(range(len(QUANTITIES)), [q.replace("_", " ") for q in QUANTITIES])
    ax.set_ylabel("cimsim / NVSim")
    ax.set_ylim(0, 2.2)
    ax.set_title("STT-MRAM 256×128 subarray, NVSim's sample cell (memory mode)")
    ax.legend(ncols=4, fontsize=8, loc="upper right")
    fig.savefig(out / "validation_nvsim.png", dpi=130)

    # value-vs-reference cases (bound cases such as "<= 0.03" are listed in the table, not here)
    judged = [c for c in cases if c["verdict"] in ("pass", "fail") and c["reference"] not in (0, None)
              and not str(c["tolerance"]).startswith("<=") and not c["name"].startswith("circuits.subarray_nvsim.")]
    fig, ax = plt.subplots(figsize=(7.5, 0.28 * len(judged) + 1.2), layout="constrained")
    names = [c["name"] for c in judged]
    ratios = [c["value"] / c["reference"] for c in judged]
    ax.barh(range(len(judged)), ratios, color=["#2ca02c" if c["verdict"] == "pass" else "#d62728" for c in judged])
    ax.axvline(1.0, color="0.4", lw=0.8)
    ax.set_yticks(range(len(judged)), names, fontsize=7)
    ax.set_xscale("log")
    ax.set_xticks([0.5, 1, 2, 3], ["0.5", "1", "2", "3"])
    ax.minorticks_off()
    ax.set_xlabel("cimsim value / reference (log scale)")
    ax.set_title("Judged reproduce cases (green: inside tolerance)")
    fig.savefig(out / "validation_cases.png", dpi=130)
    print(f"wrote {out / 'validation_nvsim.png'} and {out / 'validation_cases.png'}")


if __name__ == "__main__":
    main()
