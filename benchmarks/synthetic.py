"""Synthetic weights and data for any workload's shapes (shape-only workloads, benchmarks, backend tests).

Speed and bit-equality do not depend on what a network learned, so a shape-only workload (or one whose trained
weights and data set are not shipped) runs functionally on seeded random ±1 weights (odd integers for
multi-bit layers), thresholds 0, scales 1/√fan-in, biases 0 and uniform random images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from cimsim.network.weights import MAX_AFFINE
from cimsim.resolve import network_graph_of
from cimsim.spec.loader import load_workload
from cimsim.spec.workload import Conv2dLayerSpec, WorkloadSpec


def synthetic_arrays(wl: WorkloadSpec, seed: int = 0) -> dict[str, np.ndarray]:
    """Canonical weight arrays (docs/weights.md) for every crossbar layer of ``wl``'s network."""
    rng = np.random.default_rng(seed)
    shapes, _ = network_graph_of(wl.network, ())
    real = {s.name: s.out_real for s in shapes}
    out: dict[str, np.ndarray] = {}
    for ls in wl.network.layers:
        if ls.type not in ("linear", "conv2d"):
            continue
        if isinstance(ls, Conv2dLayerSpec):
            shape = (ls.out_channels, ls.in_channels, ls.kernel_size, ls.kernel_size)
        else:
            shape = (ls.out_features, ls.in_features)
        top = 2 ** ls.weight_bits - 1
        w = 2 * rng.integers(0, (top + 1) // 2, shape) + 1          # odd magnitudes 1 … top
        w = np.where(rng.random(shape) < 0.5, -w, w)
        out[f"{ls.name}.weight"] = w.astype(np.int8 if ls.weight_bits == 1 else np.int16)
        fan_in = int(np.prod(shape[1:]))
        if real[ls.name]:
            out[f"{ls.name}.scale"] = np.full(shape[0], min(MAX_AFFINE, 1.0 / np.sqrt(fan_in) / top))
            out[f"{ls.name}.bias"] = np.zeros(shape[0])
        else:
            out[f"{ls.name}.threshold"] = np.zeros(shape[0])
    return out


def synthetic_workload(path: str | Path, folder: str | Path, *, inputs: int = 8, seed: int = 0,
                       overrides: dict | None = None) -> Path:
    """A copy of workload ``path`` in ``folder`` with synthetic weights and an ``inputs``-image synthetic data
    set of its input shape (10 classes); ``overrides`` update top-level workload keys. Returns the YAML path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    wl = load_workload(path)
    np.savez(folder / "weights.npz", **synthetic_arrays(wl, seed))
    rng = np.random.default_rng(seed + 1)
    c, h, w = wl.network.input_shape
    images = rng.integers(0, 256, (inputs, c, h, w), dtype=np.uint8)
    labels = rng.integers(0, 10, inputs)
    np.savez(folder / "data.npz", x_train=images, y_train=labels, x_test=images, y_test=labels)
    doc = wl.model_dump(mode="json", exclude_none=True)
    doc["network"]["weights"] = "weights.npz"
    name = doc["dataset"]["name"] if doc["dataset"]["name"] != "digits" else "mnist"
    doc["dataset"] = {"name": name, "path": "data.npz"}
    doc.update(overrides or {})
    out = folder / "workload.yaml"
    out.write_text(yaml.safe_dump(doc, sort_keys=False))
    return out
