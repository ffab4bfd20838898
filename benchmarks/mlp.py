"""The issue-11 benchmark network: a 784-1024-1024-10 binary MLP with random ±1 weights (MNIST-sized), and the
plain numpy float32 GEMM chain of the same shapes that serves as its roofline.

The weights, thresholds and inputs are random (seeded): speed does not depend on what the network learned.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cimsim.functional.executor import Executor
from cimsim.hardware import build_hardware
from cimsim.mapping import map_network
from cimsim.network.layers import BinaryLinear, Network
from cimsim.resolve import resolve
from cimsim.spec.loader import load_arch
from cimsim.spec.workload import WorkloadSpec

ROOT = Path(__file__).resolve().parent.parent
SIZES = (784, 1024, 1024, 10)
INPUT_BITS = 8  # MNIST pixels are 8-bit


def workload(passes: int = 20) -> WorkloadSpec:
    """Shape-only workload of the benchmark MLP (row dropout p = 0.2 on the hidden layers' inputs)."""
    layers = [{"type": "linear", "name": f"fc{k + 1}", "in_features": a, "out_features": b}
              for k, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True))]
    return WorkloadSpec.model_validate({
        "name": "mlp_784_1024_1024_10",
        "network": {"weights": "random", "input_shape": [1, 28, 28], "input_bits": INPUT_BITS, "layers": layers},
        "dataset": {"name": "mnist"},
        "dropout": {"layers": ["fc2", "fc3"], "p": 0.2, "granularity": "row", "regenerate": "per_input"},
        "mc_passes": passes})


def network(seed: int = 0) -> Network:
    """Random ±1 weights; hidden thresholds 0, logits scale 1/√fan-in."""
    rng = np.random.default_rng(seed)
    layers = []
    last = len(SIZES) - 2
    for k, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True)):
        w = np.where(rng.random((b, a)) < 0.5, -1, 1).astype(np.int8)
        if k == last:
            layers.append(BinaryLinear(f"fc{k + 1}", w, scale=np.full(b, 1 / np.sqrt(a)), bias=np.zeros(b)))
        else:
            layers.append(BinaryLinear(f"fc{k + 1}", w, threshold=np.zeros(b)))
    return Network(tuple(layers), (1, 28, 28), INPUT_BITS)


def inputs(n: int, seed: int = 1) -> np.ndarray:
    """``n`` random 8-bit images (N, 1, 28, 28), int64 as ``quantize_inputs`` returns them."""
    return np.random.default_rng(seed).integers(0, 2 ** INPUT_BITS, (n, 1, 28, 28), dtype=np.int64)


def executor(arch_name: str = "spindrop.yaml", passes: int = 20, seed: int = 0,
             threads: int | None = None) -> Executor:
    """The cimsim executor of the benchmark MLP on ``arch_configs/<arch_name>``, with enough tiles for it
    (the shipped configs are sized for the digits networks); ``threads`` worker threads (None: every CPU)."""
    arch = load_arch(ROOT / "arch_configs" / arch_name, [("chip.tiles", 64)])
    design = resolve(arch, workload(passes))
    mp = map_network(design)
    return Executor(build_hardware(design, mp), mp, network(seed), seed=seed, passes=passes, threads=threads)


class Roofline:
    """float32 GEMM chain of the same shapes on the same batch: (N·T, 784) → sign → … → (N·T, 10)."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.w = [np.where(rng.random((a, b)) < 0.5, -1, 1).astype(np.float32)
                  for a, b in zip(SIZES[:-1], SIZES[1:], strict=True)]

    def run(self, x: np.ndarray, passes: int) -> np.ndarray:
        h = np.repeat(x.reshape(x.shape[0], -1).astype(np.float32), passes, axis=0)
        for k, w in enumerate(self.w):
            h = h @ w
            if k < len(self.w) - 1:
                h = np.sign(h, out=h)
        return h
