"""Speed of the functional executor and the whole default run, measured side by side in one process.

Run on demand (not part of the test suite):  python benchmarks/bench_simulate.py
Prints wall times and the ratios between variants measured in this same run.
"""

from __future__ import annotations

import time
from pathlib import Path

from cimsim.functional.executor import Executor
from cimsim.hardware import build_hardware
from cimsim.mapping import map_network
from cimsim.network.datasets import load_dataset, quantize_inputs
from cimsim.network.weights import load_network
from cimsim.simulate import Options, simulate
from cimsim.spec.loader import load_arch, load_workload

ROOT = Path(__file__).resolve().parent.parent
PASSES = 20


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    arch = load_arch(ROOT / "arch_configs" / "spindrop.yaml")
    for wl_name in ("digits_mlp", "digits_cnn"):
        path = ROOT / "workloads" / f"{wl_name}.yaml"
        wl = load_workload(path)
        net = load_network(wl.network, path.parent)
        x = quantize_inputs(load_dataset(wl.dataset, path.parent).x_test, wl.network.input_bits)
        hw = build_hardware(arch, dropout_p=wl.dropout.p)
        mp = map_network(arch, wl)
        exact = Executor(hw, mp, net, wl, seed=0, passes=PASSES)
        grouped = Executor(hw, mp, net, wl, seed=0, passes=PASSES)
        grouped.exact = False  # force the per-row-group conversion path (what a non-ideal periphery costs)
        t_exact = best_of(lambda ex=exact, x=x: ex.run(x))
        t_grouped = best_of(lambda ex=grouped, x=x: ex.run(x))
        n = x.shape[0] * PASSES
        print(f"{wl_name}: {x.shape[0]} inputs × T={PASSES}")
        print(f"  functional, ideal periphery     {t_exact:7.3f} s  {n / t_exact:10.0f} passes/s")
        print(f"  functional, per-group convert   {t_grouped:7.3f} s  {n / t_grouped:10.0f} passes/s  "
              f"(×{t_grouped / t_exact:.1f} of ideal)")
        t_full = best_of(lambda p=path: simulate(arch, load_workload(p), Options(), base_dir=p.parent), repeat=1)
        t_hw = best_of(lambda p=path: simulate(arch, load_workload(p), Options(hardware_only=True),
                                               base_dir=p.parent), repeat=1)
        print(f"  full default run (test + OOD + corruptions)  {t_full:7.3f} s")
        print(f"  hardware-only run                            {t_hw:7.3f} s  (×{t_full / t_hw:.1f} faster)")


if __name__ == "__main__":
    main()
