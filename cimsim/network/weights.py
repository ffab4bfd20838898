"""Canonical weights file: an ``.npz`` of named arrays (format in docs/weights.md).

Keys: ``<layer>.weight`` (int8, ±1; (out, in) or (out, cin, k, k)), ``<layer>.threshold`` (float64, (out,))
for every layer but the last, ``<last>.scale`` and ``<last>.bias`` (float64, (out,)).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cimsim.errors import WeightsError, short_repr
from cimsim.network.layers import BinaryConv2d, BinaryLinear, Layer, Network, output_hw
from cimsim.network.safe_npz import SafeNpz
from cimsim.spec.workload import Conv2dLayerSpec, NetworkSpec


def _expected_shape(ls) -> tuple[int, ...]:
    if isinstance(ls, Conv2dLayerSpec):
        return (ls.out_channels, ls.in_channels, ls.kernel_size, ls.kernel_size)
    return (ls.out_features, ls.in_features)


# |scale|, |bias| bound: with |a| ≤ fan_in/(1−p) ≤ 2²⁴·100 ≈ 1.7·10⁹ (workload bounds), logits stay below
# 10¹²·1.7·10⁹ + 10¹² ≈ 1.7·10²¹, far inside float32 and float64 range; trained folds are O(1–100) [derived].
MAX_AFFINE = 1e12
# Total declared size of a weights archive: the needed arrays are checked against the spec before any is read,
# so this only bounds the directory scan; 8 GiB ≥ the largest spec-allowed network as int8 [derived].
MAX_ARCHIVE_BYTES = 8 * 2**30


def _check_chain(spec: NetworkSpec, file: str) -> None:
    """The YAML layer list must be consistent before any array is looked at."""
    shape: tuple[int, ...] = tuple(spec.input_shape)
    for ls in spec.layers:
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
        if isinstance(ls, Conv2dLayerSpec):
            ho = (shape[1] + 2 * ls.padding - ls.kernel_size) // ls.stride + 1
            wo = (shape[2] + 2 * ls.padding - ls.kernel_size) // ls.stride + 1
            if ho < 1 or wo < 1 or ho // ls.pool < 1 or wo // ls.pool < 1:
                raise WeightsError(f"output is empty for input {shape}", file=file, field=f"{ls.name}.weight")
            shape = (ls.out_channels, ho // ls.pool, wo // ls.pool)
        else:
            shape = (ls.out_features,)


def load_network(spec: NetworkSpec, base_dir: Path | str) -> Network:
    """Load ``spec.weights`` (relative to ``base_dir``) and check it against the YAML layer list.

    Every array's presence, shape and dtype is checked from the ``.npy`` headers before any data is read
    (:mod:`cimsim.network.safe_npz`), and only the arrays the network needs are read.

    Raises:
        WeightsError: missing/unreadable/corrupt file, missing array, wrong shape or dtype class, weights not
            ±1, NaN thresholds, non-finite or absurd (|x| > 1e12) scales or biases, or a layer chain whose
            fan-ins do not match.
        ResourceError: the needed arrays do not fit in the memory available.
    """
    from cimsim.limits import check_memory

    path = Path(base_dir) / spec.weights
    file = str(path)
    _check_chain(spec, file)
    with SafeNpz(path, error=WeightsError, max_bytes=MAX_ARCHIVE_BYTES) as z:
        last = len(spec.layers) - 1
        wanted: dict[str, tuple[int, ...]] = {}
        for i, ls in enumerate(spec.layers):
            out = _expected_shape(ls)[0]
            wanted[f"{ls.name}.weight"] = _expected_shape(ls)
            for key in (("scale", "bias") if i == last else ("threshold",)):
                wanted[f"{ls.name}.{key}"] = (out,)
        for key, shape in wanted.items():
            m = z.members.get(key)
            if m is None:
                raise WeightsError("array missing", file=file, field=key, allowed=f"an array of shape {shape}")
            if m.shape != shape:
                raise WeightsError(f"shape {short_repr(m.shape, 40)}, expected {shape}", file=file, field=key,
                                   allowed=f"shape {shape}")
        check_memory(sum(z.members[k].nbytes for k in wanted), "reading the weights", file=file)
        arrays = {key: z.read(key) for key in wanted}

    layers: list[Layer] = []
    shape: tuple[int, ...] = tuple(spec.input_shape)
    for i, ls in enumerate(spec.layers):
        wkey = f"{ls.name}.weight"
        w = arrays[wkey]
        if w.dtype.kind == "f" and np.isnan(w).any():
            raise WeightsError("weights contain NaN", file=file, field=wkey, allowed="-1, +1")
        if not np.all((w == 1) | (w == -1)):
            bad = np.unique(w[(w != 1) & (w != -1)])[:3]
            raise WeightsError(f"weights must be ±1, found {short_repr(bad.tolist(), 50)}", file=file, field=wkey,
                               allowed="-1, +1")
        w = w.astype(np.int8)
        out = _expected_shape(ls)[0]
        extra: dict[str, np.ndarray | None] = {"threshold": None, "scale": None, "bias": None}
        keys = ("scale", "bias") if i == last else ("threshold",)
        for key in keys:
            arr = arrays[f"{ls.name}.{key}"].astype(np.float64)
            if key == "threshold":
                if np.isnan(arr).any():  # ±inf is a neuron that always outputs −1 / +1: allowed
                    raise WeightsError("contains NaN", file=file, field=f"{ls.name}.{key}",
                                       allowed="floats or ±inf")
            elif not np.isfinite(arr).all() or np.abs(arr).max(initial=0.0) > MAX_AFFINE:
                raise WeightsError(f"contains NaN, inf or a magnitude above {MAX_AFFINE:g} (largest "
                                   f"{short_repr(float(np.nanmax(np.abs(arr))), 20)})", file=file,
                                   field=f"{ls.name}.{key}", allowed=f"finite floats with |x| ≤ {MAX_AFFINE:g}")
            extra[key] = arr
        layer: Layer
        if isinstance(ls, Conv2dLayerSpec):
            layer = BinaryConv2d(ls.name, w, stride=ls.stride, padding=ls.padding, pool=ls.pool, **extra)
            try:
                h, wd = output_hw(layer, shape[1:])
            except ValueError:
                h = wd = 0
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

