"""Numbers of every shipped arch × workload, captured from `cimsim describe` and `cimsim run`, flattened.

`tests/test_tree_baseline.py` recomputes them and compares to 1e-12 relative: the tree redesign (issue 23) must
move no instance count, area, leakage, energy or latency. Regenerate the stored file (only when a number is meant
to change, and say which in the commit) with:

    PYTHONPATH=. python tests/golden/tree_baseline.py > tests/golden/tree_baseline.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
ARCHS = sorted(p.name for p in (ROOT / "arch_configs").glob("*.yaml"))
WORKLOADS = sorted(p.name for p in (ROOT / "workloads").glob("*.yaml"))
FUNCTIONAL = ("digits_mlp.yaml", "digits_cnn.yaml", "digits_mlp_scale.yaml")
FUNCTIONAL_FLAGS = ["--limit", "8", "--passes", "4", "--no-ood", "--no-corruptions"]
SCHEDULES = ("layer_pipelined", "replicated")
# Run metadata, not model numbers: versions, hashes, wall times and the echoed input config.
SKIP = ("cimsim_version", "config_hash", "wall_time_s", "config")


def flatten(obj: object, prefix: str = "") -> dict[str, float]:
    """Every number of a JSON document by its dotted path (lists by index, components by name)."""
    out: dict[str, float] = {}
    if isinstance(obj, dict):
        for key, value in obj.items():
            if not prefix and key in SKIP:
                continue
            out.update(flatten(value, f"{prefix}{key}."))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            tag = value.get("name", i) if isinstance(value, dict) else i
            out.update(flatten(value, f"{prefix}{tag}."))
    elif isinstance(obj, bool):
        pass
    elif isinstance(obj, (int, float)):
        out[prefix.rstrip(".")] = float(obj)
    return out


def invoke(args: list[str]) -> tuple[int, dict]:
    from cimsim.cli import cli

    res = CliRunner().invoke(cli, args)
    if res.exit_code != 0:
        return res.exit_code, {}
    return 0, json.loads(res.output)


def cases() -> list[tuple[str, list[str]]]:
    """(case name, CLI arguments) of every captured run."""
    out: list[tuple[str, list[str]]] = []
    for a in ARCHS:
        arch = str(ROOT / "arch_configs" / a)
        out.append((f"describe/{a}", ["describe", arch, "--format", "json"]))
        for w in WORKLOADS:
            wl = str(ROOT / "workloads" / w)
            out.append((f"hw/{a}/{w}", ["run", arch, wl, "--hardware-only", "--format", "json"]))
            if w in FUNCTIONAL:
                out.append((f"fn/{a}/{w}", ["run", arch, wl, *FUNCTIONAL_FLAGS, "--format", "json"]))
    mlp = [str(ROOT / "arch_configs" / "spindrop.yaml"), str(ROOT / "workloads" / "digits_mlp.yaml")]
    for s in SCHEDULES:
        out.append((f"sched/{s}", ["run", *mlp, "--hardware-only", "--set", f"controller.schedule={s}",
                                   "--format", "json"]))
    return out


def capture(args: list[str]) -> dict[str, float]:
    """Flattened numbers of one run; a network too big for the chip runs on `chip.tiles=auto`."""
    code, doc = invoke(args)
    if code != 0 and args[0] == "run":
        code, doc = invoke([*args, "--set", "chip.tiles=auto"])
    if code != 0:
        raise RuntimeError(f"{' '.join(args)} exited {code}")
    return flatten(doc)


if __name__ == "__main__":
    json.dump({name: capture(args) for name, args in cases()}, sys.stdout, indent=0, sort_keys=True)
    sys.stdout.write("\n")
