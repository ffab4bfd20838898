"""Canonical weights file: an ``.npz`` of named arrays (format in docs/weights.md).

Keys: ``<layer>.weight`` (int8, ±1; (out, in) or (out, cin, k, k); a ``weight_bits`` b > 1 layer: int16 odd
integers in [-(2^b - 1), 2^b - 1]), ``<layer>.threshold`` (float64, (out,)) for every ±1-output layer,
``<layer>.scale`` and ``<layer>.bias`` (float64, (out,)) for the last layer and every ``output: real`` layer.
Digital graph nodes (add, pools, flatten) have no arrays.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cimsim.errors import ConfigError, WeightsError, short_repr
from cimsim.network.layers import (
    INPUT,
    Add,
    AvgPool,
    BinaryConv2d,
    BinaryLinear,
    Flatten,
    GlobalAvgPool,
    Network,
    Node,
)
from cimsim.network.safe_npz import SafeNpz
from cimsim.resolve import network_graph_of, topological_order
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


def load_network(spec: NetworkSpec, base_dir: Path | str) -> Network:
    """Load ``spec.weights`` (relative to ``base_dir``) and check it against the YAML layer list.

    Raises:
        WeightsError: missing/unreadable file, missing array, wrong shape or dtype class, weights not ±1,
            NaN/inf thresholds, scales or biases, or a layer chain whose fan-ins do not match.
    """
    if spec.weights is None:
        raise WeightsError("this run needs trained weights but network.weights is not set", field="network.weights",
                           allowed="an .npz file (docs/weights.md), or run --hardware-only")
    path = Path(base_dir) / spec.weights
    file = str(path)
    from cimsim.limits import check_memory

    with SafeNpz(path, error=WeightsError, max_bytes=MAX_ARCHIVE_BYTES) as z:
        # shapes and dtypes come from the .npy headers; an array is read only once its header checks out
        check_memory(sum(m.nbytes for m in z.members.values()), "reading the weights", file=file)

        def get(key: str, shape: tuple[int, ...]) -> np.ndarray:
            m = z.members.get(key)
            if m is None:
                raise WeightsError("array missing", file=file, field=key, allowed=f"an array of shape {shape}")
            if m.shape != shape:
                raise WeightsError(f"shape {short_repr(m.shape, 40)}, expected {shape}", file=file, field=key,
                                   allowed=f"shape {shape}")
            arr = z.read(key)
            if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
                raise WeightsError(f"dtype {arr.dtype} is not numeric", file=file, field=key)
            return arr

        try:
            shapes, nodes = network_graph_of(spec, (), file)
        except ConfigError as exc:  # the YAML's own graph is inconsistent: report it against the weights it names
            pos = int(exc.field.split("[")[1].split("]")[0]) if exc.field and "[" in exc.field else 0
            what = exc.field.rsplit(".", 1)[-1] if exc.field else ""
            allowed = f"{what} = {exc.allowed}" if what in ("in_features", "in_channels") and exc.allowed else exc.allowed
            raise WeightsError(f"layer chain mismatch: {exc.message}", file=file,
                               field=f"{spec.layers[pos].name}.weight", allowed=allowed) from None
        by_name = {nd.name: nd for nd in nodes}
        order = topological_order(spec.layers, file)
        built: list[Node] = []
        for pos in order:
            ls = spec.layers[pos]
            nd = by_name[ls.name]
            ins = tuple(nd.inputs)
            if ls.type == "add":
                built.append(Add(ls.name, ins))
                continue
            if ls.type == "avgpool":
                built.append(AvgPool(ls.name, ls.kernel_size, ls.stride, ins))
                continue
            if ls.type == "global_avgpool":
                built.append(GlobalAvgPool(ls.name, ins))
                continue
            if ls.type == "flatten":
                built.append(Flatten(ls.name, ins))
                continue
            shape = shapes[[x.name for x in shapes].index(ls.name)]
            wkey = f"{ls.name}.weight"
            w = get(wkey, _expected_shape(ls))
            bits = ls.weight_bits
            if w.dtype.kind == "f" and np.isnan(w).any():
                raise WeightsError("weights contain NaN", file=file, field=wkey, allowed="-1, +1")
            if bits == 1:
                if not np.all((w == 1) | (w == -1)):
                    bad = np.unique(w[(w != 1) & (w != -1)])[:5]
                    raise WeightsError(f"weights must be ±1, found {bad.tolist()}", file=file, field=wkey,
                                       allowed="-1, +1")
                w = w.astype(np.int8)
            else:
                top = 2 ** bits - 1
                ok = (w == np.round(w)) & (np.abs(w) <= top) & (np.mod(w, 2) == 1)
                if not np.all(ok):
                    bad = np.unique(w[~ok])[:5]
                    raise WeightsError(f"{bits}-bit weights must be odd integers, found {bad.tolist()}", file=file,
                                       field=wkey, allowed=f"odd integers in [-{top}, {top}]")
                w = w.astype(np.int16)
            out = _expected_shape(ls)[0]
            extra: dict[str, np.ndarray | None] = {"threshold": None, "scale": None, "bias": None}
            keys = ("scale", "bias") if shape.out_real else ("threshold",)
            for key in keys:
                arr = get(f"{ls.name}.{key}", (out,)).astype(np.float64)
                if key == "threshold":
                    if np.isnan(arr).any():  # ±inf is a neuron that always outputs −1 / +1: allowed
                        raise WeightsError("contains NaN", file=file, field=f"{ls.name}.{key}",
                                           allowed="floats or ±inf")
                elif not np.isfinite(arr).all() or np.abs(arr).max(initial=0.0) > MAX_AFFINE:
                    raise WeightsError(f"contains NaN, inf or a magnitude above {MAX_AFFINE:g}", file=file,
                                       field=f"{ls.name}.{key}", allowed=f"finite floats with |x| ≤ {MAX_AFFINE:g}")
                extra[key] = arr
            extra.update(input_bits=ls.input_bits, input_step=ls.input_step)
            if isinstance(ls, Conv2dLayerSpec):
                built.append(BinaryConv2d(ls.name, w, stride=ls.stride, padding=ls.padding, pool=ls.pool, inputs=ins,
                                          weight_bits=bits, **extra))
            else:
                built.append(BinaryLinear(ls.name, w, inputs=ins, weight_bits=bits, **extra))
        return Network(tuple(n for n in built if isinstance(n, BinaryLinear | BinaryConv2d)),
                       tuple(spec.input_shape), spec.input_bits, nodes=tuple(built))
def network_arrays(net: Network) -> dict[str, np.ndarray]:
    """The named arrays of the canonical format (multi-bit weights as int16)."""
    out: dict[str, np.ndarray] = {}
    for layer in net.layers:
        dtype = np.int8 if layer.weight_bits == 1 else np.int16
        out[f"{layer.name}.weight"] = np.asarray(layer.weight, dtype=dtype)
        if layer.real_output:
            out[f"{layer.name}.scale"] = np.asarray(layer.scale, dtype=np.float64)
            out[f"{layer.name}.bias"] = np.asarray(layer.bias, dtype=np.float64)
        else:
            out[f"{layer.name}.threshold"] = np.asarray(layer.threshold, dtype=np.float64)
    return out


def save_network(net: Network, path: Path | str) -> None:
    """Write ``net`` in the canonical format (uncompressed .npz)."""
    np.savez(Path(path), **network_arrays(net))


def network_spec_dict(net: Network, weights: str | None) -> dict:
    """A ``network:`` YAML section (as a dict) describing ``net``; handy when writing workloads. Nodes list their
    ``inputs`` only where the graph departs from a chain."""
    layers = []
    for i, node in enumerate(net.nodes):
        ins = list(net.inputs_of(i))
        d: dict = {"name": node.name}
        if isinstance(node, BinaryConv2d):
            d.update(type="conv2d", in_channels=node.in_channels, out_channels=node.out_features,
                     kernel_size=node.kernel_size, stride=node.stride, padding=node.padding, pool=node.pool)
        elif isinstance(node, BinaryLinear):
            d.update(type="linear", in_features=node.fan_in, out_features=node.out_features)
        elif isinstance(node, Add):
            d.update(type="add")
        elif isinstance(node, AvgPool):
            d.update(type="avgpool", kernel_size=node.kernel_size)
            if node.stride is not None:
                d["stride"] = node.stride
        elif isinstance(node, GlobalAvgPool):
            d.update(type="global_avgpool")
        else:
            d.update(type="flatten")
        if isinstance(node, BinaryLinear | BinaryConv2d):
            if node.weight_bits > 1:
                d["weight_bits"] = node.weight_bits
            if node.real_output and i != len(net.nodes) - 1:
                d["output"] = "real"
            if node.input_bits is not None:
                d.update(input_bits=int(node.input_bits), input_step=float(node.input_step))
        default = [net.nodes[i - 1].name] if i else [INPUT]
        if isinstance(node, Add) or ins != default:
            d["inputs"] = ins
        layers.append({"type": d.pop("type"), **d})
    out = {"input_shape": list(net.input_shape), "input_bits": net.input_bits, "layers": layers}
    if weights is not None:
        out = {"weights": weights, **out}
    return out
