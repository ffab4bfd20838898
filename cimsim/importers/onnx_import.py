"""ONNX → cimsim: read a BNN graph with ``onnx.load`` and write the canonical weights + a workload.

The ONNX twin of :mod:`cimsim.importers.torch_fx`: the same node types, the same batch-norm folding and the same
output files. Recognised (anything else is an :class:`~cimsim.importers.torch_fx.ImportError_` naming the ONNX
node, its position in ``graph.node`` and its op type):

- **constants**: initializers, ``Constant`` nodes and ``Sign`` / ``Identity`` / ``Transpose`` / ``Neg`` / ``Mul`` /
  ``Reshape`` / ``Cast`` of constants (evaluated here: the Brevitas/Larq-style export of a binary weight, a latent
  weight passed through ``Sign``);
- **crossbar layers**: ``Gemm`` (``transA = 0``), ``MatMul`` with a constant right operand, ``Conv`` (square
  kernel, symmetric zero padding, no groups or dilation). A weight whose every output row holds a single magnitude
  (±α per row: a ±1 initializer, ``Sign`` of a latent weight, or one with a per-channel scale or a fused batch-norm)
  is **binary**, α folded into the threshold or scale (a ``Sign`` output of 0 is taken as +1, cimsim's sign). Any
  other weight keeps ``weight_bits`` odd levels per output row, its step folded likewise (docs/networks.md);
- ``Add`` / ``Mul`` of a layer's output and a per-channel constant (a bias, a scale), and ``BatchNormalization``:
  folded into the threshold (a ±1 output) or into scale/bias (a real output); a negative factor flips the weights;
- activations ``Sign`` and ``Clip(-1, 1)`` (hardtanh, taken as the sign as in the torch importer): after a layer
  they make its ±1 output; on a real tensor (an add, a pool) they mark it for the next crossbar layer, which
  binarizes it;
- ``MaxPool`` (kernel = stride, no padding) right after a conv's sign → the conv's ``pool``; ``AveragePool`` (no
  padding) → avgpool; ``GlobalAveragePool`` → global_avgpool; ``Flatten(axis=1)`` and a ``Reshape`` to rank 2
  (shape from a constant, or from ``Shape``/``Gather``/``Unsqueeze``/``Concat`` arithmetic) → flatten;
- ``Dropout`` with a constant ratio on a layer's input → that layer in ``dropout.layers`` with the workload ``p``
  (a PyTorch eval-mode export drops dropout, so such a model imports without it);
- ``Add`` of two tensors → an ``add`` node (a layer output that feeds it is real-valued: Bi-Real Net).

The graph's one output must be a linear layer (optionally batch-normed, scaled, biased): the logits. The model
reads cimsim's integer first-layer inputs (0 … 2^input_bits − 1) as floats. Models are read with ``onnx.load``
(protobuf, no pickles); external-data tensors are loaded from beside the file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cimsim.errors import ConfigError
from cimsim.importers.torch_fx import Imported, ImportError_, _odd_levels, assemble, fold_affine
from cimsim.network.layers import (
    INPUT,
    Add,
    AvgPool,
    BinaryConv2d,
    BinaryLinear,
    Flatten,
    GlobalAvgPool,
)
from cimsim.network.weights import save_network

_ALLOWED = ("Gemm/MatMul/Conv, BatchNormalization, Sign/Clip(-1,1), MaxPool/AveragePool/GlobalAveragePool, "
            "Dropout, Add, Mul/Add by a per-channel constant, Flatten/Reshape, constants")
# ops evaluated when all their inputs are constants (weight quantizers, shape arithmetic)
_SHAPE_OPS = ("Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "Cast")


@dataclass
class _Layer:
    """A crossbar layer being assembled: integer weights ``q`` and its real pre-activation k·s + c."""

    name: str
    q: np.ndarray
    k: np.ndarray
    c: np.ndarray
    binary: bool
    inputs: tuple[str, ...]
    conv: dict[str, int] | None = None   # stride, padding of a conv layer
    dropout_p: float | None = None
    pool: int = 1
    node: Any = None   # the cimsim node, once finalized


def _quantize(w: np.ndarray, weight_bits: int, from_sign: bool) -> tuple[np.ndarray, np.ndarray, bool]:
    """(integer weights, per-row step α, binary?) with w ≈ α·q. A single magnitude per row → ±1 with step α;
    exact zeros are allowed only in a ``Sign`` output (``from_sign``), where cimsim's sign makes them +1."""
    mag = np.abs(w.reshape(w.shape[0], -1))
    top = mag.max(axis=1)
    same = mag == top[:, None]
    if from_sign:
        same |= mag == 0
    if np.all(same) and (from_sign or np.all(top > 0)):
        alpha = np.where(top > 0, top, 1.0)
        return np.where(w >= 0, 1, -1).astype(np.int8), alpha, True
    alpha, q = _odd_levels(w, weight_bits)
    return q, alpha, False


def import_onnx(model, out_dir: Path | str | None = None, *, input_shape: tuple[int, int, int] | None = None,
                input_bits: int = 8, weight_bits: int = 8, name: str | None = None,
                weights_file: str | None = None) -> Imported:
    """Import an ONNX BNN; with ``out_dir`` also write ``<name>.npz`` and ``<name>.yaml`` there.

    Args:
        model: a path to a ``.onnx`` file or an ``onnx.ModelProto``.
        out_dir: folder for the canonical weights and the workload YAML (None: write nothing).
        input_shape: (C, H, W) of one input (default: the graph input's static shape without the batch axis).
        input_bits: bits of the first-layer integer inputs.
        weight_bits: bits of the non-binary layers (2 … 8).
        name: workload name (default: the file's stem, or the graph's name).
        weights_file: the ``network.weights`` the workload names (default ``<name>.npz``).

    Raises:
        ImportError_: an unsupported node (named, with its position in ``graph.node``) or pattern.
        ConfigError: an unreadable file or an input shape that cannot be settled.
    """
    import onnx
    from onnx import numpy_helper

    src = None
    if isinstance(model, str | Path):
        src = Path(model)
        if not src.is_file():
            raise ConfigError("ONNX model not found", file=str(src), allowed="a .onnx file")
        try:
            model = onnx.load(str(src))
        except Exception as exc:  # protobuf raises DecodeError, onnx raises its own for external data
            raise ConfigError(f"cannot read the ONNX model ({type(exc).__name__}: {exc})", file=str(src),
                              allowed="an ONNX protobuf file") from None
    graph = model.graph
    name = name or (src.stem if src is not None else (graph.name or "imported"))
    name = "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in name) or "imported"
    weights_file = weights_file or f"{name}.npz"

    consts: dict[str, np.ndarray] = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    inputs = [v for v in graph.input if v.name not in consts]
    if len(inputs) != 1:
        raise ImportError_(f"the graph has {len(inputs)} data inputs ({[v.name for v in inputs]})",
                           field="graph.input", allowed="exactly one network input")
    if input_shape is None:
        dims = [d.dim_value if d.HasField("dim_value") else 0 for d in inputs[0].type.tensor_type.shape.dim]
        if len(dims) == 2 and dims[1] > 0:
            dims = [dims[0], 1, 1, dims[1]]
        if len(dims) != 4 or min(dims[1:]) <= 0:
            raise ConfigError(f"the graph input {inputs[0].name!r} has no static (N, C, H, W) shape ({dims})",
                              field="--input-shape", allowed="C,H,W, e.g. 3,32,32")
        input_shape = (dims[1], dims[2], dims[3])
    try:
        ranks = {v.name: len(v.type.tensor_type.shape.dim)
                 for v in onnx.shape_inference.infer_shapes(model).graph.value_info}
    except Exception:  # shape inference is only a hint (for Reshape); a model it rejects may still import
        ranks = {}

    readers: dict[str, int] = {}
    for nd in graph.node:
        for v in nd.input:
            readers[v] = readers.get(v, 0) + 1
    for v in graph.output:
        readers[v.name] = readers.get(v.name, 0) + 1

    used: set[str] = set()
    layers: dict[str, _Layer] = {}
    nodes: list[Any] = []
    dropout_ps: set[float] = set()
    signed: set[str] = set()   # constants produced by Sign
    val: dict[str, tuple] = {inputs[0].name: ("input", INPUT)}

    def fail(i: int, nd, what: str) -> None:
        label = nd.name or (nd.output[0] if nd.output else "")
        raise ImportError_(f"unsupported {what} at ONNX node #{i} {label!r} ({nd.op_type})",
                           field=f"graph.node[{i}]", allowed=_ALLOWED)

    def cname(text: str) -> str:
        base = "".join(ch if ch.isalnum() else "_" for ch in text).strip("_") or "n"
        base = base if (base[0].isalpha() or base[0] == "_") else f"n_{base}"
        out, k = base, 1
        while out in used or out == INPUT:
            k += 1
            out = f"{base}_{k}"
        used.add(out)
        return out

    def lname(nd, fallback: str) -> str:
        # "/fc1/Gemm" (torch export) → "fc1"; otherwise the node name or its output
        parts = [p for p in (nd.name or "").split("/") if p]
        return cname(parts[-2] if len(parts) >= 2 else (parts[0] if parts else fallback))

    def attrs(nd) -> dict[str, Any]:
        return {a.name: onnx.helper.get_attribute_value(a) for a in nd.attribute}

    def finalize(lay: _Layer, real: bool):
        if lay.node is not None:
            return lay.node
        q, k, c = lay.q, lay.k, lay.c
        bits = 1 if lay.binary else weight_bits
        q, extra = fold_affine(q, k, c, real=real)
        if lay.conv is not None:
            lay.node = BinaryConv2d(lay.name, q, stride=lay.conv["stride"], padding=lay.conv["padding"],
                                    pool=lay.pool, inputs=lay.inputs, weight_bits=bits, **extra)
        else:
            lay.node = BinaryLinear(lay.name, q, inputs=lay.inputs, weight_bits=bits, **extra)
        nodes.append(lay.node)
        return lay.node

    def tensor(v, i, nd) -> str:
        """The cimsim tensor name of value v used as a real (add / pool / flatten) operand."""
        kind, x = v
        if kind == "pre":
            finalize(x, real=True)
            return x.name
        if kind in ("real", "bin", "sgn"):
            return x
        fail(i, nd, f"operand ({kind})")
        return ""

    def per_channel(v: np.ndarray, lay: _Layer) -> np.ndarray | None:
        """A constant that is one value per output channel of ``lay`` (broadcast over batch and space)."""
        shape = (1, lay.q.shape[0], 1, 1) if lay.conv is not None else (1, lay.q.shape[0])
        v = np.asarray(v, dtype=np.float64)
        if v.ndim > len(shape):
            return None
        try:
            b = np.broadcast_to(v, shape)
        except ValueError:
            return None
        return b.reshape(-1).copy()

    def new_layer(i, nd, x_val, w: np.ndarray, bias: np.ndarray | None, conv: dict[str, int] | None,
                  gain: float = 1.0, from_sign: bool = False) -> None:
        kind, x = x_val
        p = None
        if kind == "drop":
            p, (kind, x) = x
        if kind == "pre":
            fail(i, nd, "layer fed by another layer's un-activated output (add a Sign)")
        if kind == "real":
            fail(i, nd, "layer fed by a real-valued tensor without Sign")
        if kind not in ("input", "bin", "sgn"):
            fail(i, nd, f"layer input ({kind})")
        q, alpha, binary = _quantize(np.asarray(w, dtype=np.float64), weight_bits, from_sign)
        out = q.shape[0]
        c = np.zeros(out)
        if bias is not None:
            b = np.asarray(bias, dtype=np.float64).reshape(-1)
            if b.size not in (1, out):
                fail(i, nd, f"{nd.op_type} bias of {b.size} values for {out} outputs")
            c = c + b
        lay = _Layer(lname(nd, "layer"), q, alpha * gain, c, binary, (x,), conv, dropout_p=p)
        layers[lay.name] = lay
        if p is not None:
            dropout_ps.add(p)
        val[nd.output[0]] = ("pre", lay)

    for i, nd in enumerate(graph.node):
        op, a = nd.op_type, attrs(nd)
        present = [v for v in nd.input if v]
        if op == "Constant":
            consts[nd.output[0]] = numpy_helper.to_array(a["value"]) if "value" in a else np.asarray(
                next(iter(a.values())))
            continue
        if all(v in consts for v in present) and op in ("Sign", "Identity", "Transpose", "Neg", "Mul", "Reshape",
                                                        "Cast") and present:
            xs = [consts[v] for v in present]
            try:
                if op == "Sign":
                    r = np.sign(xs[0])
                elif op == "Identity":
                    r = xs[0]
                elif op == "Transpose":
                    r = np.transpose(xs[0], a.get("perm"))
                elif op == "Neg":
                    r = -xs[0]
                elif op == "Mul":
                    r = xs[0] * xs[1]
                elif op == "Reshape":
                    shp = [d if d != 0 else xs[0].shape[j] for j, d in enumerate(xs[1].astype(int))]
                    r = xs[0].reshape(shp)
                else:  # Cast: values kept in float64 here
                    r = xs[0]
            except (ValueError, IndexError):
                fail(i, nd, "constant expression")
            consts[nd.output[0]] = np.asarray(r)
            # a binary weight's zeros are cimsim's +1 only if a Sign made them (through layout-only ops)
            if op == "Sign" or (op in ("Identity", "Transpose", "Reshape", "Cast") and present[0] in signed):
                signed.add(nd.output[0])
            continue
        if op in _SHAPE_OPS and all(v in consts or val.get(v, ("",))[0] == "shape" or (op == "Shape")
                                    for v in present):
            val[nd.output[0]] = ("shape", None)
            continue
        ins = [val.get(v) for v in present]
        if op in ("Gemm", "MatMul", "Conv"):
            if ins[0] is None or len(present) < 2 or present[1] not in consts:
                fail(i, nd, f"{op} (its weight must be a constant)")
            w = consts[present[1]]
            bias = consts.get(present[2]) if len(present) > 2 else None
            if len(present) > 2 and bias is None:
                fail(i, nd, f"{op} with a non-constant bias")
            if op == "Gemm":
                if a.get("transA", 0):
                    fail(i, nd, "Gemm with transA")
                w = w if a.get("transB", 0) else w.T
                gain, beta = float(a.get("alpha", 1.0)), float(a.get("beta", 1.0))
                new_layer(i, nd, ins[0], w, None if bias is None else beta * bias, None, gain,
                          present[1] in signed)
            elif op == "MatMul":
                if w.ndim != 2:
                    fail(i, nd, "MatMul with a weight that is not a matrix")
                new_layer(i, nd, ins[0], w.T, None, None, from_sign=present[1] in signed)
            else:
                ks = list(a.get("kernel_shape", w.shape[2:]))
                pads = list(a.get("pads", [0] * 4))
                strides = list(a.get("strides", [1, 1]))
                if (w.ndim != 4 or a.get("group", 1) != 1 or any(d != 1 for d in a.get("dilations", [1, 1]))
                        or len(set(ks)) != 1 or w.shape[2] != w.shape[3] or len(set(pads)) != 1
                        or len(set(strides)) != 1 or a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET")):
                    fail(i, nd, "convolution (grouped, dilated, non-square or non-symmetric padding)")
                new_layer(i, nd, ins[0], w, bias, {"stride": int(strides[0]), "padding": int(pads[0])},
                          from_sign=present[1] in signed)
        elif op == "BatchNormalization":
            if ins[0] is None or ins[0][0] != "pre" or any(v not in consts for v in present[1:5]):
                fail(i, nd, "batch-norm not directly after a layer (or with non-constant statistics)")
            lay = ins[0][1]
            # the statistics are 1-D along the channel axis (not numpy-broadcast like Add / Mul)
            g, beta, mean, var = (np.asarray(consts[v], dtype=np.float64).reshape(-1) for v in present[1:5])
            if any(v.size != lay.q.shape[0] for v in (g, beta, mean, var)):
                fail(i, nd, "batch-norm whose statistics are not one value per channel")
            inv = g / np.sqrt(var + float(a.get("epsilon", 1e-5)))
            lay.k, lay.c = lay.k * inv, (lay.c - mean) * inv + beta
            val[nd.output[0]] = ("pre", lay)
        elif op in ("Add", "Mul", "Sub", "Div") and len(present) == 2 and any(v in consts for v in present) and any(
                (val.get(v) or ("",))[0] == "pre" for v in present):
            (kind, lay), cst = next(val[v] for v in present if v in val), consts[next(v for v in present if v in consts)]
            v = per_channel(cst, lay)
            if v is None or (op in ("Sub", "Div") and present[1] not in consts):
                fail(i, nd, f"{op} by a constant that is not one value per channel")
            if op == "Add":
                lay.c = lay.c + v
            elif op == "Sub":
                lay.c = lay.c - v
            elif op == "Mul":
                lay.k, lay.c = lay.k * v, lay.c * v
            else:
                lay.k, lay.c = lay.k / v, lay.c / v
            val[nd.output[0]] = ("pre", lay)
        elif op in ("Sign", "Clip"):
            if op == "Clip":
                lo = a.get("min", consts.get(nd.input[1]) if len(nd.input) > 1 and nd.input[1] else None)
                hi = a.get("max", consts.get(nd.input[2]) if len(nd.input) > 2 and nd.input[2] else None)
                if lo is None or hi is None or float(lo) != -1.0 or float(hi) != 1.0:
                    fail(i, nd, "Clip (only Clip(-1, 1), hardtanh)")
            if ins[0] is None:
                fail(i, nd, "activation of a non-tensor")
            kind, x = ins[0]
            if kind == "pre" and readers.get(present[0], 0) > 1:
                # the layer's real output also feeds a shortcut: keep it real; its readers binarize it
                finalize(x, real=True)
                val[nd.output[0]] = ("sgn", x.name)
            elif kind == "pre":
                finalize(x, real=False)
                val[nd.output[0]] = ("bin", x.name)
            elif kind == "real":
                val[nd.output[0]] = ("sgn", x)
            elif kind in ("bin", "sgn"):
                val[nd.output[0]] = (kind, x)
            else:
                fail(i, nd, "sign of the network input")
        elif op == "Dropout":
            ratio = a.get("ratio", consts.get(nd.input[1]) if len(nd.input) > 1 and nd.input[1] else 0.5)
            if ins[0] is None or (len(nd.input) > 1 and nd.input[1] and nd.input[1] not in consts):
                fail(i, nd, "Dropout with a non-constant ratio")
            p = float(ratio)
            val[nd.output[0]] = ("drop", (p, ins[0])) if p > 0 else ins[0]
        elif op == "MaxPool":
            kind, x = ins[0] if ins[0] is not None else ("", None)
            ks, st = list(a.get("kernel_shape", [])), list(a.get("strides", [1, 1]))
            lay = layers.get(x) if kind == "bin" else None
            if (lay is None or lay.conv is None or lay.pool != 1 or len(set(ks)) != 1 or ks != st
                    or any(a.get("pads", [0])) or a.get("ceil_mode", 0) or any(d != 1 for d in a.get("dilations", [1]))
                    or len(nd.output) > 1 and nd.output[1]):
                fail(i, nd, "max-pool (only kernel = stride, no padding, right after a conv's sign)")
            nodes.remove(lay.node)   # the conv's node was built at its sign: rebuild it with the pool
            lay.node, lay.pool = None, int(ks[0])
            finalize(lay, real=False)
            val[nd.output[0]] = ("bin", lay.name)
        elif op == "AveragePool":
            ks, st = list(a.get("kernel_shape", [])), list(a.get("strides", [1, 1]))
            if (ins[0] is None or len(set(ks)) != 1 or len(set(st)) != 1 or any(a.get("pads", [0]))
                    or a.get("ceil_mode", 0)):
                fail(i, nd, "avg-pool (square, no padding, floor mode)")
            nm = lname(nd, "avgpool")
            nodes.append(AvgPool(nm, int(ks[0]), None if st[0] == ks[0] else int(st[0]), (tensor(ins[0], i, nd),)))
            val[nd.output[0]] = ("real", nm)
        elif op == "GlobalAveragePool":
            if ins[0] is None:
                fail(i, nd, "global avg-pool input")
            nm = lname(nd, "global_avgpool")
            nodes.append(GlobalAvgPool(nm, (tensor(ins[0], i, nd),)))
            val[nd.output[0]] = ("real", nm)
        elif op in ("Flatten", "Reshape"):
            if ins[0] is None:
                fail(i, nd, f"{op} of a constant")
            if op == "Flatten" and a.get("axis", 1) != 1:
                fail(i, nd, "Flatten (only axis = 1)")
            if op == "Reshape":
                shp = consts.get(present[1]) if len(present) > 1 else None
                rank = len(shp) if shp is not None else ranks.get(nd.output[0])
                if rank != 2 or (shp is not None and int(shp[0]) not in (0, -1, 1)):
                    fail(i, nd, "Reshape (only to (batch, features), a flatten)")
            kind, x = ins[0]
            if kind == "input":  # a linear first layer flattens the input itself
                val[nd.output[0]] = ins[0]
                continue
            if kind == "drop":
                fail(i, nd, "flatten after dropout (put dropout right before the layer)")
            nm = lname(nd, "flatten")
            srcname = x if kind == "sgn" else tensor(ins[0], i, nd)
            nodes.append(Flatten(nm, (srcname,)))
            val[nd.output[0]] = ("sgn" if kind == "sgn" else ("bin" if kind == "bin" else "real"), nm)
        elif op == "Add" and len(present) == 2 and all(v is not None for v in ins):
            nm = lname(nd, "add")
            nodes.append(Add(nm, tuple(tensor(v, i, nd) for v in ins)))
            val[nd.output[0]] = ("real", nm)
        else:
            fail(i, nd, "operation")

    if len(graph.output) != 1:
        raise ImportError_(f"the graph has {len(graph.output)} outputs", field="graph.output",
                           allowed="one output: the logits")
    res = val.get(graph.output[0].name)
    if res is None or res[0] != "pre" or res[1].conv is not None:
        raise ImportError_(f"the graph output {graph.output[0].name!r} is not a linear layer's output",
                           field="graph.output", allowed="a Gemm/MatMul layer, optionally batch-normed")
    finalize(res[1], real=True)
    imp = assemble(nodes, [lay for lay in layers.values() if lay.dropout_p is not None], dropout_ps, input_shape,
                   input_bits, name, weights_file, "the ONNX graph")
    if out_dir is not None:
        import yaml

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        save_network(imp.network, out / weights_file)
        origin = src.name if src is not None else "an ONNX ModelProto"
        (out / f"{name}.yaml").write_text(
            f"# imported from {origin} ({math.prod(input_shape)} inputs of {input_bits} bits) by `cimsim import onnx`\n"
            + yaml.safe_dump(imp.workload, sort_keys=False))
    return imp
