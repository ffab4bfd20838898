"""Canonical weights file: an ``.npz`` of named arrays (format in docs/weights.md).

Keys: ``<layer>.weight`` (int8, ±1; (out, in) or (out, cin, k, k)), ``<layer>.threshold`` (float64, (out,))
for every layer but the last, ``<last>.scale`` and ``<last>.bias`` (float64, (out,)).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from cimsim.errors import WeightsError
from cimsim.network.layers import BinaryConv2d, BinaryLinear, Layer, Network, output_hw
from cimsim.spec.workload import Conv2dLayerSpec, NetworkSpec


def _expected_shape(ls) -> tuple[int, ...]:
    if isinstance(ls, Conv2dLayerSpec):
        return (ls.out_channels, ls.in_channels, ls.kernel_size, ls.kernel_size)
    return (ls.out_features, ls.in_features)


def load_network(spec: NetworkSpec, base_dir: Path | str) -> Network:
    """Load ``spec.weights`` (relative to ``base_dir``) and check it against the YAML layer list.

    Raises:
        WeightsError: missing/unreadable file, missing array, wrong shape or dtype class, weights not ±1,
            NaN/inf thresholds, scales or biases, or a layer chain whose fan-ins do not match.
    """
    path = Path(base_dir) / spec.weights
    file = str(path)
    if not path.is_file():
        raise WeightsError("weights file not found", file=file, allowed="an .npz written by save_network")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise WeightsError(f"cannot read weights ({type(exc).__name__}: {exc})", file=file,
                           allowed="an .npz of plain numeric arrays") from None

    def get(key: str, shape: tuple[int, ...]) -> np.ndarray:
        if key not in arrays:
            raise WeightsError("array missing", file=file, field=key, allowed=f"an array of shape {shape}")
        arr = arrays[key]
        if arr.shape != shape:
            raise WeightsError(f"shape {arr.shape}, expected {shape}", file=file, field=key,
                               allowed=f"shape {shape}")
        if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
            raise WeightsError(f"dtype {arr.dtype} is not numeric", file=file, field=key)
        return arr

    layers: list[Layer] = []
    last = len(spec.layers) - 1
    shape: tuple[int, ...] = tuple(spec.input_shape)
    for i, ls in enumerate(spec.layers):
        # chain check first: the YAML itself must be consistent
        if isinstance(ls, Conv2dLayerSpec):
            if len(shape) != 3:
                raise WeightsError("a conv layer cannot follow a linear layer", file=file,
                                   field=f"{ls.name}.weight")
            if shape[0] != ls.in_channels:
                raise WeightsError(f"layer chain mismatch: in_channels {ls.in_channels} but the previous stage "
                                   f"gives {shape[0]} channels", file=file, field=f"{ls.name}.weight",
                                   allowed=f"in_channels = {shape[0]}")
        else:
            flat = int(np.prod(shape))
            if flat != ls.in_features:
                raise WeightsError(f"layer chain mismatch: in_features {ls.in_features} but the previous stage "
                                   f"gives {flat} values", file=file, field=f"{ls.name}.weight",
                                   allowed=f"in_features = {flat}")
        wkey = f"{ls.name}.weight"
        w = get(wkey, _expected_shape(ls))
        if not np.all((w == 1) | (w == -1)):
            bad = np.unique(w[(w != 1) & (w != -1)])[:5]
            raise WeightsError(f"weights must be ±1, found {bad.tolist()}", file=file, field=wkey,
                               allowed="-1, +1")
        w = w.astype(np.int8)
        out = _expected_shape(ls)[0]
        extra: dict[str, np.ndarray | None] = {"threshold": None, "scale": None, "bias": None}
        keys = ("scale", "bias") if i == last else ("threshold",)
        for key in keys:
            arr = get(f"{ls.name}.{key}", (out,)).astype(np.float64)
            if np.isnan(arr).any() or (key != "threshold" and not np.isfinite(arr).all()):
                raise WeightsError("contains NaN or inf", file=file, field=f"{ls.name}.{key}",
                                   allowed="finite floats")
            extra[key] = arr
        layer: Layer
        if isinstance(ls, Conv2dLayerSpec):
            layer = BinaryConv2d(ls.name, w, stride=ls.stride, padding=ls.padding, pool=ls.pool, **extra)
            h, wd = output_hw(layer, shape[1:])
            if h < 1 or wd < 1:
                raise WeightsError(f"output is empty for input {shape}", file=file, field=wkey)
            shape = (ls.out_channels, h, wd)
        else:
            layer = BinaryLinear(ls.name, w, **extra)
            shape = (ls.out_features,)
        layers.append(layer)
    return Network(tuple(layers), tuple(spec.input_shape), spec.input_bits)


def network_arrays(net: Network) -> dict[str, np.ndarray]:
    """The named arrays of the canonical format."""
    out: dict[str, np.ndarray] = {}
    last = len(net.layers) - 1
    for i, layer in enumerate(net.layers):
        out[f"{layer.name}.weight"] = np.asarray(layer.weight, dtype=np.int8)
        if i == last:
            out[f"{layer.name}.scale"] = np.asarray(layer.scale, dtype=np.float64)
            out[f"{layer.name}.bias"] = np.asarray(layer.bias, dtype=np.float64)
        else:
            out[f"{layer.name}.threshold"] = np.asarray(layer.threshold, dtype=np.float64)
    return out


def save_network(net: Network, path: Path | str) -> None:
    """Write ``net`` in the canonical format (uncompressed .npz)."""
    np.savez(Path(path), **network_arrays(net))


def network_spec_dict(net: Network, weights: str) -> dict:
    """A ``network:`` YAML section (as a dict) describing ``net``; handy when writing workloads."""
    layers = []
    for layer in net.layers:
        if isinstance(layer, BinaryConv2d):
            layers.append({"type": "conv2d", "name": layer.name, "in_channels": layer.in_channels,
                           "out_channels": layer.out_features, "kernel_size": layer.kernel_size,
                           "stride": layer.stride, "padding": layer.padding, "pool": layer.pool})
        else:
            layers.append({"type": "linear", "name": layer.name, "in_features": layer.fan_in,
                           "out_features": layer.out_features})
    return {"weights": weights, "input_shape": list(net.input_shape), "input_bits": net.input_bits,
            "layers": layers}

