"""Accuracy against TMR and against wire resistance under the crossbar electrical model (docs/analog.md).

For the digits MLP and CNN on the SpinDrop chip with ``crossbar.read_model: electrical`` (source line beside
the bit line) the series of :data:`SERIES`: the storage MTJ's zero-bias TMR (50–250 %) at the default wire and
at 16× it, and the wire resistance scale (× NVSim's local wire at 28 nm) with calibrated references and with
nominal references (ideal sense, R_sense = 0); each point prints the accuracy and the expected misread rate
per conversion (``cimsim margin``), beside the ideal-read accuracy.

    PYTHONPATH=. python benchmarks/study_analog.py [--limit N] [--passes T] [--networks ...] [--json F] [--png F]

Slow (about 60 runs); the numbers in docs/analog.md come from ``--passes 8`` on the full test sets.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARCH = ROOT / "arch_configs" / "spindrop.yaml"
WORKLOADS = {"digits_mlp": ROOT / "workloads" / "digits_mlp.yaml", "digits_cnn": ROOT / "workloads" / "digits_cnn.yaml"}
TMRS = (0.5, 0.75, 1.0, 1.2, 1.5, 2.0, 2.5)
WIRE_SCALES = (0.0, 0.1, 0.3, 1.0, 4.0, 16.0, 32.0, 64.0, 100.0)
NOMINAL_SCALES = (0.0, 0.003, 0.01, 0.03, 0.1, 0.3)
ELECTRICAL = (("crossbar.read_model", "electrical"),)
#: name → (fixed overrides, swept field, values)
SERIES: dict[str, tuple[tuple[tuple[str, object], ...], str, tuple[float, ...]]] = {
    "tmr_wire_x1": (ELECTRICAL, "mtj.storage.tmr0", TMRS),
    "tmr_wire_x16": (ELECTRICAL + (("crossbar.wire_res_scale", 16.0),), "mtj.storage.tmr0", TMRS),
    "tmr_variation": (ELECTRICAL + (("variation.enabled", True),), "mtj.storage.tmr0", TMRS),
    "wire_calibrated": (ELECTRICAL, "crossbar.wire_res_scale", WIRE_SCALES),
    "wire_nominal": (ELECTRICAL + (("crossbar.read_references", "nominal"), ("crossbar.sense_r_ohm", 0.0)),
                     "crossbar.wire_res_scale", NOMINAL_SCALES),
}


def _point(sets: list[tuple[str, object]], workload: Path, limit: int | None, passes: int) -> dict[str, float]:
    from cimsim.components.sense_margin import chip_margin
    from cimsim.hardware import build_hardware
    from cimsim.resolve import resolve
    from cimsim.simulate import Options, simulate
    from cimsim.spec.loader import load_arch, parse_override

    overrides = [parse_override(f"{k}={v}") for k, v in sets]
    arch = load_arch(ARCH, overrides)
    r = simulate(arch, workload, Options(limit=limit, passes=passes, ood=False, corruptions=False, threads=1),
                 arch_file=str(ARCH))
    m = chip_margin(build_hardware(resolve(arch, arch_file=str(ARCH))))
    return {"accuracy": float(r.to_json()["accuracy"]), "expected_misread": m.expected_misread}


def study(limit: int | None, passes: int, networks: list[str], series: list[str],
          out: dict | None = None) -> dict[str, object]:
    """Run ``series`` on ``networks``; ``out``: earlier results (same limit and passes) to add to."""
    out = out or {"limit": limit, "passes": passes, "series": {}}
    if (out["limit"], out["passes"]) != (limit, passes):
        raise SystemExit("--merge: the file was made with another --limit or --passes")
    out["series"].update({k: {"fixed": dict(SERIES[k][0]), "field": SERIES[k][1], "values": list(SERIES[k][2])}
                          for k in series})
    for name in networks:
        wl = WORKLOADS[name]
        res = out.setdefault(name, {})
        if "ideal_accuracy" not in res:
            res["ideal_accuracy"] = _point([], wl, limit, passes)["accuracy"]
        print(f"{name}: ideal read {res['ideal_accuracy']:.4f}", file=sys.stderr, flush=True)
        for key in series:
            fixed, fld, values = SERIES[key]
            pts = []
            for v in values:
                p = _point(list(fixed) + [(fld, v)], wl, limit, passes)
                pts.append(p)
                print(f"  {key} {fld}={v:g}: accuracy {p['accuracy']:.4f}, misread {p['expected_misread']:.4f}",
                      file=sys.stderr, flush=True)
            res[key] = pts
    return out


def plot(doc: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    nets = [n for n in WORKLOADS if n in doc]
    for name, style in zip(nets, ("o-", "s--"), strict=False):
        d = doc[name]
        for key, lab in (("tmr_wire_x1", "wire ×1"), ("tmr_wire_x16", "wire ×16"),
                         ("tmr_variation", "wire ×1 + RA/TMR spread")):
            if key not in d:
                continue
            a.plot([t * 100 for t in doc["series"][key]["values"]], [p["accuracy"] for p in d[key]], style,
                   label=f"{name}, {lab}")
        for key, lab in (("wire_calibrated", "calibrated refs"), ("wire_nominal", "nominal refs, R_sense 0")):
            if key not in d:
                continue
            xs = [max(v, 1e-3) for v in doc["series"][key]["values"]]
            b.plot(xs, [p["accuracy"] for p in d[key]], style, label=f"{name}, {lab}")
    a.set(xlabel="zero-bias TMR (%)", ylabel="accuracy", title="electrical read, calibrated references")
    b.set(xscale="log", xlabel="wire resistance × NVSim local wire (0 drawn at 1e-3)", title="electrical read, TMR 120 %")
    for ax in (a, b):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--passes", type=int, default=8)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--png", type=Path)
    ap.add_argument("--networks", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    ap.add_argument("--series", nargs="+", choices=list(SERIES), default=list(SERIES))
    ap.add_argument("--merge", type=Path, help="add to the results in this JSON file")
    a = ap.parse_args()
    doc = study(a.limit, a.passes, a.networks, a.series, json.loads(a.merge.read_text()) if a.merge else None)
    text = json.dumps(doc, indent=1)
    if a.json:
        a.json.write_text(text + "\n")
    else:
        print(text)
    if a.png:
        plot(doc, a.png)


if __name__ == "__main__":
    main()
