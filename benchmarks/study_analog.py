"""Accuracy against TMR and against wire resistance under the crossbar electrical model (docs/analog.md).

For the digits MLP and CNN on the SpinDrop chip with ``crossbar.read_model: electrical`` (calibrated
references, source line beside the bit line), sweep the storage MTJ's zero-bias TMR (50–250 %) at the
default wire, and the wire resistance scale (× NVSim's local wire at 28 nm) at the default TMR; print the
accuracy, the expected misread rate per conversion (``cimsim margin``) and the ideal-read accuracy.

    PYTHONPATH=. python benchmarks/study_analog.py [--limit N] [--passes T] [--json out.json] [--png out.png]

Slow (about 40 runs); the numbers in docs/analog.md come from ``--passes 8`` on the full test sets.
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
WIRE_SCALES = (0.0, 0.1, 0.3, 1.0, 2.0, 4.0, 8.0, 16.0)


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


def study(limit: int | None, passes: int) -> dict[str, object]:
    out: dict[str, object] = {"tmr": list(TMRS), "wire_scale": list(WIRE_SCALES), "limit": limit, "passes": passes}
    elec = [("crossbar.read_model", "electrical")]
    for name, wl in WORKLOADS.items():
        ideal = _point([], wl, limit, passes)["accuracy"]
        by_tmr = [_point(elec + [("mtj.storage.tmr0", t)], wl, limit, passes) for t in TMRS]
        by_wire = [_point(elec + [("crossbar.wire_res_scale", s)], wl, limit, passes) for s in WIRE_SCALES]
        out[name] = {"ideal_accuracy": ideal, "by_tmr": by_tmr, "by_wire": by_wire}
        print(f"{name}: ideal {ideal:.4f}", file=sys.stderr)
        for t, p in zip(TMRS, by_tmr, strict=True):
            print(f"  TMR {t * 100:4.0f} %: accuracy {p['accuracy']:.4f}, misread {p['expected_misread']:.4f}",
                  file=sys.stderr)
        for s, p in zip(WIRE_SCALES, by_wire, strict=True):
            print(f"  wire ×{s:<5g}: accuracy {p['accuracy']:.4f}, misread {p['expected_misread']:.4f}",
                  file=sys.stderr)
    return out


def plot(doc: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
    for name in WORKLOADS:
        d = doc[name]
        a.plot([t * 100 for t in doc["tmr"]], [p["accuracy"] for p in d["by_tmr"]], "o-", label=name)
        b.plot([max(s, 0.03) for s in doc["wire_scale"]], [p["accuracy"] for p in d["by_wire"]], "o-", label=name)
    a.set(xlabel="zero-bias TMR (%)", ylabel="accuracy", title="electrical read, default wire")
    b.set(xscale="log", xlabel="wire resistance × NVSim local wire (0 at left)", title="electrical read, TMR 120 %")
    for ax in (a, b):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--passes", type=int, default=8)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--png", type=Path)
    a = ap.parse_args()
    doc = study(a.limit, a.passes)
    text = json.dumps(doc, indent=1)
    if a.json:
        a.json.write_text(text + "\n")
    else:
        print(text)
    if a.png:
        plot(doc, a.png)


if __name__ == "__main__":
    main()
