"""``python -m benchmarks [--quick] [--rss-max N]``: the issue-11 performance table, every ratio measured side by
side in this one run (interleaved, best of 3). Not part of the test suite; speed is never asserted in tests.

Rows: functional MC inference of a 784-1024-1024-10 binary MLP (T = 20) against a plain float32 GEMM chain
of the same shapes on the same batch (all BLAS threads and one); the engine's event rate against a raw simpy
``env.timeout`` loop; events per (input, pass) job against tiles, T and inputs; doubling every latency; the
VGG-small hardware-only CLI wall time; peak RSS of the streamed functional run against the number of inputs
(subprocesses); hardware-only design points per second.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import fields, replace
from pathlib import Path

import numpy as np

from benchmarks import interleaved, peak_rss_mib

ROOT = Path(__file__).resolve().parent.parent
REPEATS = 3


def functional(n: int) -> list[tuple[str, str]]:
    from threadpoolctl import threadpool_limits

    from benchmarks import mlp

    roof = mlp.Roofline()
    x = mlp.inputs(n)
    rows = []
    for arch, label in (("spindrop.yaml", "shipped periphery (MLSA, exact)"),
                        ("spindrop_adc.yaml", "lossy periphery (spindrop_adc: 5-bit SAR per row group)")):
        for threads in (None, 1):
            # all cores: BLAS threads for the roofline, cimsim's worker threads; one core: one of each
            ex = mlp.executor(arch, threads=threads)
            with threadpool_limits(limits=threads, user_api="blas"):
                t = interleaved({"roof": lambda: roof.run(x, 20), "cim": lambda ex=ex: ex.run(x)})
            tl = f"all {os.cpu_count()} cores" if threads is None else "1 core (1 BLAS thread, 1 worker thread)"
            rows.append((f"functional MLP, {label}, {tl}, {n} inputs × T=20",
                         f"{t['roof'] / t['cim']:.2f} of roofline ({t['cim']:.2f} s vs {t['roof']:.2f} s)"))
    return rows


def _vgg_plan(inputs: int = 16, passes: int = 20, arrays_per_tile: int = 4):
    from cimsim.engine.plan import build_plan
    from cimsim.hardware import build_hardware
    from cimsim.mapping import map_network
    from cimsim.resolve import resolve
    from cimsim.spec.loader import load_arch, load_workload

    arch = load_arch(ROOT / "arch_configs" / "spindrop_256.yaml",
                     [("chip.arrays_per_tile", arrays_per_tile), ("chip.tiles", 256 // arrays_per_tile)])
    design = resolve(arch, load_workload(ROOT / "workloads" / "cifar10_vgg_small_shapes.yaml"))
    mp = map_network(design)
    return build_plan(build_hardware(design, mp), mp, inputs=inputs, passes=passes), mp


def engine() -> list[tuple[str, str]]:
    import simpy

    from cimsim.engine.simulator import run_engine

    plan, _ = _vgg_plan(inputs=32)
    box = {}

    def raw():
        env = simpy.Environment()
        n = box["events"]

        def proc():
            for _ in range(n):
                yield env.timeout(1)
        env.process(proc())
        env.run()

    # every input simulated (the repeated-input mode would simulate 2 of the 32 and multiply out)
    box["events"] = run_engine(plan, repeat_inputs=False).events
    t = interleaved({"engine": lambda: run_engine(plan, repeat_inputs=False), "raw": raw})
    ev = box["events"]
    rows = [("engine event rate vs raw simpy env.timeout loop (VGG-small, sequential)",
             f"{t['raw'] / t['engine']:.2f} ({ev / t['engine']:.0f} vs {ev / t['raw']:.0f} events/s)")]
    jobs = []
    for apt in (1, 4):
        p, mp = _vgg_plan(inputs=4, arrays_per_tile=apt)
        jobs.append(f"{mp.tiles_per_replica} tiles: {run_engine(p).events / (p.inputs * p.passes):.1f}")
    for passes in (10, 40):
        p, _ = _vgg_plan(inputs=4, passes=passes)
        jobs.append(f"T={passes}: {run_engine(p).events / (p.inputs * p.passes):.1f}")
    for inputs in (2, 32):
        p, _ = _vgg_plan(inputs=inputs)
        jobs.append(f"{inputs} inputs: {run_engine(p).events / (p.inputs * p.passes):.1f}")
    rows.append(("events per (input, pass) job, VGG-small", "; ".join(jobs)))
    for schedule in ("layer_pipelined", "replicated"):
        per_tiles = []
        for apt in (1, 4):
            p, mp = _vgg_plan(inputs=4, arrays_per_tile=apt)
            p = replace(p, schedule=schedule)
            per_tiles.append(f"{mp.tiles_per_replica} tiles: {run_engine(p).events / (p.inputs * p.passes):.1f}")
        rows.append((f"events per job, VGG-small, {schedule}", "; ".join(per_tiles)))
    piped = replace(plan, schedule="layer_pipelined")
    box["events"] = run_engine(piped).events
    t = interleaved({"engine": lambda: run_engine(piped), "raw": raw})
    ev = box["events"]
    rows.append(("engine event rate vs raw simpy, VGG-small, layer_pipelined (contended ports and bus)",
                 f"{t['raw'] / t['engine']:.2f} ({ev / t['engine']:.0f} vs {ev / t['raw']:.0f} events/s)"))
    def twice(v):  # a latency field: an int, per-edge ints (after_cycles) or None
        return None if v is None else tuple(2 * x for x in v) if isinstance(v, tuple) else 2 * v

    doubled = replace(plan, layers=tuple(
        replace(layer, **{f.name: twice(getattr(layer, f.name)) for f in fields(layer) if f.name.endswith("_cycles")})
        for layer in plan.layers))
    t = interleaved({"base": lambda: run_engine(plan), "doubled": lambda: run_engine(doubled)})
    a, b = run_engine(plan), run_engine(doubled)
    rows.append(("doubling every latency (VGG-small)",
                 f"events {a.events} → {b.events}; cycles ×{b.total_cycles / a.total_cycles:.2f}; "
                 f"wall {t['base']:.3f} s → {t['doubled']:.3f} s"))
    return rows


def cli_wall() -> list[tuple[str, str]]:
    cmd = [sys.executable, "-m", "cimsim", "run", "arch_configs/spindrop_256.yaml",
           "workloads/cifar10_vgg_small_shapes.yaml", "--hardware-only"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    best = float("inf")
    for _ in range(REPEATS):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
        best = min(best, time.perf_counter() - t)
    imp = subprocess.run([sys.executable, "-c", "import time; t = time.perf_counter(); import cimsim.cli, "
                          "cimsim.simulate, cimsim.report.text, cimsim.report.files; print(time.perf_counter() - t)"],
                         cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return [("VGG-small (CIFAR-10), 256×256 arrays, T=20, `cimsim run --hardware-only`, CLI wall",
             f"{best:.2f} s (of which imports {float(imp.stdout):.2f} s)")]


def _rss_child(n: int) -> None:
    """Streamed functional run of the benchmark MLP on ``n`` inputs (generated chunk by chunk, as simulate()
    quantizes them chunk by chunk), keeping per-input summaries only; prints peak RSS in MiB."""
    from benchmarks import mlp
    from cimsim.functional import metrics

    ex = mlp.executor("spindrop.yaml")
    parts = []
    for start in range(0, n, ex.chunk):
        x = mlp.inputs(min(ex.chunk, n - start), seed=start)
        parts.append(metrics.Summary.of(metrics.softmax(ex.run(x, first=start))))
    metrics.Summary.concat(parts)
    print(peak_rss_mib())


def rss(sizes: list[int]) -> list[tuple[str, str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = []
    for n in sizes:
        r = subprocess.run([sys.executable, "-m", "benchmarks", "--rss-child", str(n)], cwd=ROOT, env=env,
                           check=True, capture_output=True, text=True)
        out.append((n, float(r.stdout.split()[-1])))
    text = "; ".join(f"{n} inputs: {mib:.0f} MiB" for n, mib in out)
    return [("peak RSS, streamed functional MLP (784-1024-1024-10, T=20)",
             f"{text} (×{out[-1][1] / out[0][1]:.2f})")]


def design_points() -> list[tuple[str, str]]:
    from cimsim.simulate import Options, simulate
    from cimsim.spec.loader import load_arch, load_workload

    arch = load_arch(ROOT / "arch_configs" / "spindrop.yaml")
    wl = load_workload(ROOT / "workloads" / "digits_mlp.yaml")
    opt = Options(hardware_only=True)
    simulate(arch, wl, opt, base_dir=ROOT / "workloads")
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 3.0:
        simulate(arch, wl, opt, base_dir=ROOT / "workloads")
        n += 1
    return [("hardware-only digits-MLP design points/s, one process", f"{n / (time.perf_counter() - t0):.1f}")]


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run, not the table)")
    ap.add_argument("--rss-max", type=int, default=10000, help="largest input count of the RSS row")
    ap.add_argument("--rss-child", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.rss_child:
        _rss_child(a.rss_child)
        return
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} at start")
    n = 200 if a.quick else 1000
    rows = functional(n) + engine() + cli_wall() + rss([1000, 200] if a.quick else [1000, a.rss_max]) \
        + design_points()
    load = os.getloadavg()
    print(f"load average at end {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}\n")
    width = max(len(r[0]) for r in rows)
    print(f"| {'what':<{width}} | measured |\n|{'-' * (width + 2)}|---|")
    for what, value in rows:
        print(f"| {what:<{width}} | {value} |")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
