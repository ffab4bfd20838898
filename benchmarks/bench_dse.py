"""Throughput of hardware-only sweep points of the digits MLP (issue 8 target: >= 200 points/s on 2 cores).

Run on demand (not part of the test suite):  python benchmarks/bench_dse.py [--points N] [--workers W]
Prints, measured in this run: one point's time with the event engine and with time_plan(auto), where a
point's time goes (phases of simulate), and the sweep throughput of `run_sweep` on W local processes.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import yaml

from cimsim.dse import run_sweep
from cimsim.simulate import Options, simulate
from cimsim.spec.loader import load_arch, load_workload

ROOT = Path(__file__).resolve().parent.parent


def per_point_ms(timing: str, repeat: int) -> float:
    arch = load_arch(ROOT / "arch_configs" / "spindrop.yaml")
    wl = load_workload(ROOT / "workloads" / "digits_mlp.yaml")
    opts = Options(hardware_only=True, timing=timing)
    simulate(arch, wl, opts, base_dir=ROOT / "workloads")  # warm caches / imports
    t = time.perf_counter()
    for _ in range(repeat):
        simulate(arch, wl, opts, base_dir=ROOT / "workloads")
    return (time.perf_counter() - t) / repeat * 1e3


def phases_ms(repeat: int = 50) -> dict[str, float]:
    """Mean wall time of each phase simulate() records, auto timing, hardware-only."""
    arch = load_arch(ROOT / "arch_configs" / "spindrop.yaml")
    wl = load_workload(ROOT / "workloads" / "digits_mlp.yaml")
    acc: dict[str, float] = {}
    for _ in range(repeat):
        r = simulate(arch, wl, Options(hardware_only=True), base_dir=ROOT / "workloads")
        for k, v in r.wall_s.items():
            acc[k] = acc.get(k, 0.0) + v * 1e3 / repeat
    return acc


def sweep_rate(points: int, workers: int) -> tuple[float, float]:
    """(points/s including pool start-up, points/s of the steady state after the first 10 %)."""
    side = max(2, round(points ** (1 / 3)))
    spec = {"name": "bench", "arch": str(ROOT / "arch_configs" / "spindrop.yaml"),
            "workload": str(ROOT / "workloads" / "digits_mlp.yaml"),
            "axes": [{"path": "crossbar.rows_active", "values": [4, 8, 16, 32]},
                     {"path": "spindrop.write_pulse_s", "log": {"start": 5e-9, "stop": 5e-8, "num": side}},
                     {"path": "mc_passes", "linear": {"start": 5, "stop": 50, "num": max(2, points // (4 * side)),
                                                      "integer": True}}]}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(yaml.safe_dump(spec))
        marks: list[tuple[float, int]] = []
        t0 = time.perf_counter()
        s = run_sweep(path, Path(tmp) / "out", workers=workers,
                      progress=lambda done, failed, total: marks.append((time.perf_counter(), done)))
        total = time.perf_counter() - t0
        n = s.status.done
        start = next((t, d) for t, d in marks if d >= n // 10)
        steady = (n - start[1]) / (marks[-1][0] - start[0])
        return n / total, steady


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    eng = per_point_ms("engine", 5)
    auto = per_point_ms("auto", 50)
    print(f"one hardware-only digits-MLP point: engine timing {eng:7.1f} ms, auto (closed form) {auto:6.1f} ms "
          f"(x{eng / auto:.0f})")
    print("  phases (auto): " + ", ".join(f"{k} {v:.2f} ms" for k, v in phases_ms().items()))
    overall, steady = sweep_rate(args.points, args.workers)
    print(f"run_sweep, {args.points} points on {args.workers} workers: {overall:6.0f} points/s overall "
          f"(incl. pool start), {steady:6.0f} points/s steady state")


if __name__ == "__main__":
    main()
