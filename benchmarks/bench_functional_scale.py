"""``python -m benchmarks.bench_functional_scale [--inputs N] [--nets vgg,resnet] [--rss]``: functional runs at
data-set scale (issue 20 item 3).

VGG-small and ResNet-18 (CIFAR shapes, the shipped ``*_shapes`` workloads) on seeded synthetic weights and
images made here (:mod:`benchmarks.synthetic`), SpinDrop arch with 256×256 arrays and ``chip.tiles: auto``,
T = 20, MC test set only. Inputs/s for: numpy on 1 core and on all cores (this process's worker threads),
torch on the CPU (1 thread and its default threads), 2 local processes, a 2-worker Dask LocalCluster, and torch on CUDA when a GPU is present.
Every run tallies activity, as ``simulate()`` does. Each is set side by side with the float32 GEMM roofline of
the same shapes on the same device (the GEMMs the executor runs, :meth:`Executor.gemm_shapes`: (T_·N·P, F) @
(F, columns) per crossbar layer, T_ = 1 while a tensor does not depend on the pass), the two timed alternately
in this one run, best of ``benchmarks.REPEATS`` each, so that a busy spell on a shared machine hits both
(the 2-core modes, threads, local processes and Dask, alternately with each other too). ``--rss`` adds
peak RSS of a whole ``simulate()`` run against the number of inputs (subprocesses). Prints a markdown table and
the machine it ran on.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks import interleaved, peak_rss_mib
from benchmarks.synthetic import synthetic_workload

ROOT = Path(__file__).resolve().parent.parent
PASSES = 20
NETS = {"vgg": "cifar10_vgg_small_shapes", "resnet": "cifar10_resnet18_shapes"}
ARCH_SETS = [("chip.tiles", "auto"), ("crossbar.rows", 256), ("crossbar.cols", 256)]


class Bench:
    """One network: its synthetic workload on disk, chip, executors and roofline GEMM shapes."""

    def __init__(self, net: str, folder: Path, inputs: int) -> None:
        from cimsim.hardware import build_hardware
        from cimsim.mapping import map_network
        from cimsim.network.weights import load_network
        from cimsim.resolve import resolve
        from cimsim.spec.loader import load_arch, load_workload

        self.name = net
        self.wl_path = synthetic_workload(ROOT / "workloads" / f"{NETS[net]}.yaml", folder / net, inputs=inputs,
                                          overrides={"mc_passes": PASSES})
        self.arch = load_arch(ROOT / "arch_configs" / "spindrop.yaml", ARCH_SETS)
        self.wl = load_workload(self.wl_path)
        design = resolve(self.arch, self.wl)
        self.mapping = map_network(design)
        self.hw = build_hardware(design, self.mapping)
        self.net = load_network(self.wl.network, self.wl_path.parent)
        rng = np.random.default_rng(3)
        self.x = rng.integers(0, 2 ** self.wl.network.input_bits, (inputs, *self.wl.network.input_shape))
        self.gemms = self.executor().gemm_shapes(inputs)

    def executor(self, backend: str = "numpy", device: str = "cpu", threads: int | None = None):
        from cimsim.functional.backend import get_backend
        from cimsim.functional.executor import Executor

        return Executor(self.hw, self.mapping, self.net, seed=0, passes=PASSES, threads=threads,
                        backend=get_backend(backend, device))

    def roofline(self, backend: str = "numpy", device: str = "cpu"):
        """The float32 GEMM chain of the executor's shapes (±1 operands, made here) on ``backend``, to time."""
        from cimsim.functional.backend import get_backend

        bk = get_backend(backend, device)
        rng = np.random.default_rng(0)
        # one M-row block at a time (the executor's chunks), so the operands fit in memory at any N
        ops = [(bk.asarray(np.sign(rng.standard_normal((min(m, 8192), f))).astype(np.float32)),
                bk.asarray(np.sign(rng.standard_normal((f, o))).astype(np.float32)), m) for m, f, o in self.gemms]

        def chain() -> None:
            for a, w, m in ops:
                for _ in range(m // a.shape[0]):
                    r = a @ w
                rest = m % a.shape[0]
                if rest:
                    r = a[:rest] @ w
                if backend == "torch" and device == "cuda":
                    import torch

                    torch.cuda.synchronize()
                del r

        return chain

    def run(self, ex) -> None:
        """The MC test set through executor ``ex``, tallying activity as simulate() does."""
        ex.run(self.x, tallies=ex.new_tallies())

    def sharded(self, runner):
        """The MC test set through the sharding (units cut as `cimsim run --workers 2` cuts them), warmed up:
        the workers have built the chip and loaded the weights."""
        from cimsim.functional.evaluate import RunSpec, SetRecipe, units_of
        from cimsim.functional.shard import unit_size

        spec = RunSpec(self.arch, self.wl, str(self.wl_path.parent), PASSES, seed=0, threads=1)
        x01 = self.x / (2 ** self.wl.network.input_bits - 1)
        recipes = [SetRecipe("test", True, 0, lambda: x01, tally=True)]
        ex = self.executor()
        size = unit_size(self.x.shape[0], ex.chunk, ex.flop_per_input(), 2)

        def go() -> None:
            for _ in runner(units_of(recipes, spec, bits=self.wl.network.input_bits, size=size)):
                pass

        go()
        return go


def _rows(b: Bench, gpu: bool) -> list[tuple[str, float, float]]:
    """(mode, inputs/s, fraction of the roofline of the same device and cores). Each mode is timed alternately
    with its roofline; the 2-core modes (threads, local processes, Dask) alternately with each other too."""
    from threadpoolctl import threadpool_limits

    n = b.x.shape[0]
    rows = []
    with threadpool_limits(limits=1, user_api="blas"):
        ex1 = b.executor(threads=1)
        t = interleaved({"run": lambda: b.run(ex1), "roof": b.roofline()})
    rows.append(("numpy, 1 core", n / t["run"], t["roof"] / t["run"]))
    import torch

    default_threads = torch.get_num_threads()
    for nt in (1, default_threads):
        torch.set_num_threads(nt)
        ext = b.executor("torch")
        t = interleaved({"run": lambda ext=ext: b.run(ext), "roof": b.roofline("torch")})
        rows.append((f"torch, CPU, {nt} thread{'s' if nt > 1 else ''}", n / t["run"], t["roof"] / t["run"]))
    torch.set_num_threads(default_threads)
    from dask.distributed import Client, LocalCluster

    from cimsim.functional.shard import _new_pool, run_dask, run_pool

    ex = b.executor()
    pool = _new_pool(2)
    try:
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            t = interleaved({"threads": lambda: b.run(ex), "roof": b.roofline(),
                             "processes": b.sharded(lambda units: run_pool(units, 2, None, pool=pool)),
                             "dask": b.sharded(lambda units: run_dask(units, client, None))})
    finally:
        pool.shutdown()
    for key, mode in (("threads", f"numpy, all {os.cpu_count()} cores (threads)"), ("processes", "2 local processes"),
                      ("dask", "2-worker Dask LocalCluster")):
        rows.append((mode, n / t[key], t["roof"] / t[key]))
    if gpu:
        exg = b.executor("torch", "cuda")
        t = interleaved({"run": lambda: b.run(exg), "roof": b.roofline("torch", "cuda")})
        rows.append(("torch, CUDA", n / t["run"], t["roof"] / t["run"]))
    return rows


def _rss_child(wl: str, n: int) -> None:
    from cimsim.simulate import Options, simulate
    from cimsim.spec.loader import load_arch

    simulate(load_arch(ROOT / "arch_configs" / "spindrop.yaml", ARCH_SETS), wl,
             Options(limit=n, passes=PASSES, ood=False, corruptions=False))
    print(peak_rss_mib())


def _rss(folder: Path, net: str, sizes: tuple[int, ...]) -> list[tuple[int, str]]:
    """Peak RSS (MiB) of a whole ``simulate()`` run per input count, or the run's error (last line)."""
    wl = synthetic_workload(ROOT / "workloads" / f"{NETS[net]}.yaml", folder / f"rss_{net}", inputs=max(sizes),
                            overrides={"mc_passes": PASSES})
    out = []
    for n in sizes:
        p = subprocess.run([sys.executable, "-m", "benchmarks.bench_functional_scale", "--rss-child", str(wl),
                            str(n)], capture_output=True, text=True, cwd=ROOT)
        ok = p.returncode == 0
        out.append((n, f"{float(p.stdout.split()[-1]):.0f}" if ok else f"failed: {p.stderr.strip().splitlines()[-1]}"))
    return out


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device"
    load = os.getloadavg()
    return (f"{cpu}, {os.cpu_count()} cores, {gpu}; numpy {np.__version__}, torch {torch.__version__}; "
            f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min) at the start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inputs", type=int, default=16)
    ap.add_argument("--nets", default="vgg,resnet")
    ap.add_argument("--rss", action="store_true", help="also peak RSS against the number of inputs")
    ap.add_argument("--rss-child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rss_child:
        _rss_child(args.rss_child[0], int(args.rss_child[1]))
        return
    import torch

    gpu = torch.cuda.is_available()
    print(f"machine: {machine()}")
    print(f"T = {PASSES}, {args.inputs} inputs, synthetic weights and images, spindrop.yaml with "
          f"{', '.join(f'{k}={v}' for k, v in ARCH_SETS)}\n")
    print("| network | mode | inputs/s | fraction of float32 GEMM roofline (same device) |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for net in args.nets.split(","):
            b = Bench(net, Path(tmp), args.inputs)
            for mode, ips, frac in _rows(b, gpu):
                print(f"| {net} | {mode} | {ips:.2f} | {frac:.2f} |", flush=True)
        if args.rss:
            print("\n| network | inputs | peak RSS (MiB) |\n|---|---|---|")
            for net in args.nets.split(","):
                for n, mib in _rss(Path(tmp), net, (32, 256)):
                    print(f"| {net} | {n} | {mib} |", flush=True)


if __name__ == "__main__":
    main()
