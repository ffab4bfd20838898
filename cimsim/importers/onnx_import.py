"""ONNX → cimsim: read a BNN graph with ``onnx.load`` and write the canonical weights + a workload.

The ONNX twin of :mod:`cimsim.importers.torch_fx`: a table of per-op handlers (:data:`_HANDLERS`) calling the
same :class:`~cimsim.importers.builder.GraphBuilder`, so the node types, batch-norm folding and output files are
the same. Recognised (anything else is an :class:`~cimsim.importers.builder.ImportError_` naming the ONNX node,
its position in ``graph.node`` and its op type):

- **constants**: initializers, ``Constant`` nodes and ``Sign`` / ``Identity`` / ``Transpose`` / ``Neg`` / ``Mul`` /
  ``Reshape`` / ``Cast`` of constants (evaluated here: the Brevitas/Larq-style export of a binary weight, a latent
  weight passed through ``Sign``);
- **crossbar layers**: ``Gemm`` (``transA = 0``), ``MatMul`` with a constant right operand, ``Conv`` (square
  kernel, symmetric zero padding, no groups or dilation). A weight whose every output row holds a single magnitude
  (±α per row: a ±1 initializer, ``Sign`` of a latent weight, or one with a per-channel scale or a fused batch-norm)
  is **binary**, α folded into the threshold or scale (a ``Sign`` output of 0 is taken as +1, cimsim's sign). Any
  other weight keeps ``weight_bits`` odd levels per output row, its step folded likewise (docs/networks.md);
- ``Add`` / ``Sub`` / ``Mul`` / ``Div`` of a layer's output by a per-channel constant (a bias, a scale), and
  ``BatchNormalization``: folded into the threshold (a ±1 output) or into scale/bias (a real output); a negative
  factor flips the weights;
- activations ``Sign`` and ``Clip(-1, 1)`` (hardtanh, taken as the sign as in the torch importer): after a layer
  they make its ±1 output; on a real tensor (an add, a pool) they mark it for the next crossbar layer, which
  binarizes it; a layer reading a real tensor without a sign quantizes it to ``real_input_bits`` (builder.py);
- ``MaxPool`` (kernel = stride, no padding) right after a conv's sign → the conv's ``pool``; ``AveragePool`` (no
  padding) → avgpool; ``GlobalAveragePool`` and ``ReduceMean`` over the spatial axes (2, 3) → global_avgpool; ``Flatten(axis=1)`` and a ``Reshape`` to
  (batch, features) → flatten: its shape from ``Shape``/``Gather``/``Unsqueeze``/``Concat`` arithmetic, or a
  constant whose batch entry is 0, −1, 1 or the graph input's static batch (torch's dynamo exporter writes
  ``[2, 64]`` for a static batch of 2);
- ``Dropout`` with a constant ratio 0 ≤ p < 1 on a layer's input (also before a flatten) → that layer in
  ``dropout.layers`` with the workload ``p`` (an eval-mode export drops dropout: such a model imports without it);
- ``Add`` of two tensors → an ``add`` node (a layer output that feeds it is real-valued: Bi-Real Net).

The graph's one output must be a linear layer (optionally batch-normed, scaled, biased): the logits. The model
reads cimsim's integer first-layer inputs (0 … 2^input_bits − 1) as floats. Models are read with ``onnx.load``
(protobuf, no pickles); external-data tensors are loaded from beside the file.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cimsim.errors import ConfigError
from cimsim.importers.builder import GraphBuilder, Imported, ImportError_, Value

_ALLOWED = ("Gemm/MatMul/Conv, BatchNormalization, Sign/Clip(-1,1), MaxPool/AveragePool/GlobalAveragePool/ReduceMean, "
            "Dropout, Add, Mul/Add/Sub/Div by a per-channel constant, Flatten/Reshape, constants")
# ops evaluated when all their inputs are constants (weight quantizers, shape arithmetic)
_SHAPE_OPS = ("Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "Cast")
_CONST_OPS = ("Sign", "Identity", "Transpose", "Neg", "Mul", "Reshape", "Cast")
_LAYOUT_OPS = ("Identity", "Transpose", "Reshape", "Cast")   # keep a Sign's zeros meaning +1


@dataclass
class _Ctx:
    """One import: the builder, the constants, the traced values and the graph facts the handlers read."""

    b: GraphBuilder
    consts: dict[str, np.ndarray]
    val: dict[str, Value]
    readers: dict[str, int]
    ranks: dict[str, int]
    batch: int                               # the graph input's static batch (0: dynamic)
    signed: set[str] = field(default_factory=set)   # constants produced by Sign


def _attrs(nd) -> dict[str, Any]:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in nd.attribute}


def _set(ctx: _Ctx, nd, v: Value) -> None:
    ctx.val[nd.output[0]] = v


def _input(ctx: _Ctx, name: str) -> Value:
    v = ctx.val.get(name)
    if v is None:
        raise ctx.b.fail(f"input {name!r} (not a tensor cimsim can follow)")
    return v


def _label(nd, fallback: str) -> str:
    """"/fc1/Gemm" (torch export) → "fc1"; otherwise the node name or the fallback."""
    parts = [p for p in (nd.name or "").split("/") if p]
    return parts[-2] if len(parts) >= 2 else (parts[0] if parts else fallback)


# ------------------------------------------------------------------------------------------ constants
def _constant(ctx: _Ctx, i: int, nd, a: dict, present: list[str]) -> None:
    from onnx import numpy_helper

    ctx.consts[nd.output[0]] = (numpy_helper.to_array(a["value"]) if "value" in a
                                else np.asarray(next(iter(a.values()))))


def _fold(ctx: _Ctx, i: int, nd, a: dict, present: list[str]) -> None:
    """Evaluate a constant expression (a weight quantizer: Sign, Transpose, Reshape, ...)."""
    op, xs = nd.op_type, [ctx.consts[v] for v in present]
    fns: dict[str, Callable[[], np.ndarray]] = {
        "Sign": lambda: np.sign(xs[0]), "Identity": lambda: xs[0], "Neg": lambda: -xs[0], "Cast": lambda: xs[0],
        "Transpose": lambda: np.transpose(xs[0], a.get("perm")), "Mul": lambda: xs[0] * xs[1],
        "Reshape": lambda: xs[0].reshape([d if d != 0 else xs[0].shape[j] for j, d in enumerate(xs[1].astype(int))]),
    }
    try:
        ctx.consts[nd.output[0]] = np.asarray(fns[op]())
    except (ValueError, IndexError, TypeError):
        raise ctx.b.fail("constant expression") from None
    if op == "Sign" or (op in _LAYOUT_OPS and present[0] in ctx.signed):
        ctx.signed.add(nd.output[0])


# ------------------------------------------------------------------------------------------ crossbar layers
def _weight(ctx: _Ctx, nd, present: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
    if len(present) < 2 or present[1] not in ctx.consts:
        raise ctx.b.fail(f"{nd.op_type} (its weight must be a constant)")
    bias = ctx.consts.get(present[2]) if len(present) > 2 else None
    if len(present) > 2 and bias is None:
        raise ctx.b.fail(f"{nd.op_type} with a non-constant bias")
    return np.asarray(ctx.consts[present[1]], dtype=np.float64), bias


def _gemm(ctx: _Ctx, i: int, nd, a: dict, present: list[str]) -> None:
    w, bias = _weight(ctx, nd, present)
    if a.get("transA", 0) or w.ndim != 2:
        raise ctx.b.fail("Gemm with transA or a weight that is not a matrix")
    w = w if a.get("transB", 0) else w.T
    gain, beta = float(a.get("alpha", 1.0)), float(a.get("beta", 1.0))
    if not (math.isfinite(gain) and math.isfinite(beta)):
        raise ctx.b.fail(f"Gemm with alpha {gain} / beta {beta} (not finite)")
    _set(ctx, nd, ctx.b.layer(ctx.b.name(_label(nd, "fc")), _input(ctx, present[0]), w,
                              None if bias is None else beta * np.asarray(bias, dtype=np.float64), gain=gain,
                              from_sign=present[1] in ctx.signed))


def _matmul(ctx: _Ctx, i: int, nd, a: dict, present: list[str]) -> None:
    w, _ = _weight(ctx, nd, present[:2])
    if w.ndim != 2:
        raise ctx.b.fail("MatMul with a weight that is not a matrix")
    _set(ctx, nd, ctx.b.layer(ctx.b.name(_label(nd, "fc")), _input(ctx, present[0]), w.T,
                              from_sign=present[1] in ctx.signed))


def _conv(ctx: _Ctx, i: int, nd, a: dict, present: list[str]) -> None:
    w, bias = _weight(ctx, nd, present)
    ks = list(a.get("kernel_shape", w.shape[2:]))
    pads, strides = list(a.get("pads", [0] * 4)), list(a.get("strides", [1, 1]))
    if (w.ndim != 4 or a.get("group", 1) != 1 or any(d != 1 for d in a.get("dilations", [1, 1]))
            or len(set(ks)) != 1 or w.shape[2] != w.shape[3] or len(set(pads)) != 1 or len(set(strides)) != 1
            or a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET")):
        raise ctx.b.fail("convolution (grouped, dilated, non-square or non-symmetric padding)")
    _set(ctx, nd, ctx.b.layer(ctx.b.name(_label(nd, "conv")), _input(ctx, present[0]), w, bias,
                              conv={"stride": int(strides[0]), "padding": int(pads[0])},
                              from_sign=present[1] in ctx.signed))


def _batchnorm(ctx: _Ctx, i: int, nd, a: dict, present: list[str]) -> None:
    if any(v not in ctx.consts for v in present[1:5]) or len(present) < 5:
        raise ctx.b.fail("batch-norm with non-constant statistics")
    # the statistics are 1-D along the channel axis (not numpy-broadcast like Add / Mul)
    g, beta, mean, var = (ctx.consts[v] for v in present[1:5])
    _set(ctx, nd, ctx.b.batchnorm(_input(ctx, present[0]), g, beta, mean, var, float(a.get("epsilon", 1e-5))))


def _per_channel(ctx: _Ctx, v: np.ndarray, lay) -> np.ndarray:
    """A constant that is one value per output channel of ``lay`` (broadcast over batch and space)."""
    shape = (1, lay.q.shape[0], 1, 1) if lay.conv is not None else (1, lay.q.shape[0])
    v = np.asarray(v, dtype=np.float64)
    try:
        if v.ndim > len(shape):
            raise ValueError
        return np.broadcast_to(v, shape).reshape(-1).copy()
    except ValueError:
        raise ctx.b.fail(f"{v.shape} constant that is not one value per channel") from None


def _arith(ctx: _Ctx, i: int, nd, a: dict, present: list[str]) -> None:
    """Add / Sub / Mul / Div: of a layer's output by a per-channel constant (folded), or Add of two tensors."""
    op = nd.op_type
    pre = [v for v in present if (ctx.val.get(v) or ("",))[0] == "pre"]
    cst = [v for v in present if v in ctx.consts]
    if len(present) == 2 and pre and cst:
        if op in ("Sub", "Div") and present[1] not in ctx.consts:
            raise ctx.b.fail(f"{op} of a constant by a layer output")
        lay_val = ctx.val[pre[0]]
        v = _per_channel(ctx, ctx.consts[cst[0]], lay_val[1])
        with np.errstate(divide="ignore"):
            mul, add = {"Add": (None, v), "Sub": (None, -v), "Mul": (v, None), "Div": (1.0 / v, None)}[op]
        _set(ctx, nd, ctx.b.affine(lay_val, mul, add))
    elif op == "Add" and len(present) == 2 and all(v in ctx.val for v in present):
        _set(ctx, nd, ctx.b.add([ctx.val[v] for v in present], _label(nd, "add")))
    else:
        raise ctx.b.fail(f"{op} (only a layer output by a per-channel constant, or the sum of two tensors)")


# ------------------------------------------------------------------------------------------ activations, pools
def _sign(ctx: _Ctx, i: int, nd, a: dict, present: list[str]) -> None:
    if nd.op_type == "Clip":
        lo = a.get("min", ctx.consts.get(nd.input[1]) if len(nd.input) > 1 and nd.input[1] else None)
        hi = a.get("max", ctx.consts.get(nd.input[2]) if len(nd.input) > 2 and nd.input[2] else None)
        if [np.asarray(v, dtype=np.float64).reshape(-1).tolist() if v is not None else None
                for v in (lo, hi)] != [[-1.0], [1.0]]:
            raise ctx.b.fail("Clip (only Clip(-1, 1), hardtanh)")
    _set(ctx, nd, ctx.b.sign(_input(ctx, present[0]), shared=ctx.readers.get(present[0], 0) > 1))


def _dropout(ctx: _Ctx, i: int, nd, a: dict, present: list[str]) -> None:
    if len(nd.input) > 1 and nd.input[1] and nd.input[1] not in ctx.consts:
        raise ctx.b.fail("Dropout with a non-constant ratio")
    ratio = a.get("ratio", ctx.consts.get(nd.input[1]) if len(nd.input) > 1 and nd.input[1] else 0.5)
    try:
        p = float(np.asarray(ratio).reshape(-1)[0])
    except (IndexError, TypeError, ValueError):
        raise ctx.b.fail("Dropout ratio (not one number)") from None
    _set(ctx, nd, ctx.b.dropout(_input(ctx, present[0]), p))


def _maxpool(ctx: _Ctx, i: int, nd, a: dict, present: list[str]) -> None:
    ks, st = list(a.get("kernel_shape", [])), list(a.get("strides", [1, 1]))
    if (len(set(ks)) != 1 or ks != st or any(a.get("pads", [0])) or a.get("ceil_mode", 0)
            or any(d != 1 for d in a.get("dilations", [1])) or (len(nd.output) > 1 and nd.output[1])):
        raise ctx.b.fail("max-pool (only kernel = stride, no padding, right after a conv's sign)")
    _set(ctx, nd, ctx.b.maxpool(_input(ctx, present[0]), int(ks[0])))


def _avgpool(ctx: _Ctx, i: int, nd, a: dict, present: list[str]) -> None:
    ks, st = list(a.get("kernel_shape", [])), list(a.get("strides", [1, 1]))
    if len(set(ks)) != 1 or len(set(st)) != 1 or any(a.get("pads", [0])) or a.get("ceil_mode", 0):
        raise ctx.b.fail("avg-pool (square, no padding, floor mode)")
    _set(ctx, nd, ctx.b.avgpool(_input(ctx, present[0]), int(ks[0]), int(st[0]), _label(nd, "avgpool")))


def _global_avgpool(ctx: _Ctx, i: int, nd, a: dict, present: list[str]) -> None:
    _set(ctx, nd, ctx.b.global_avgpool(_input(ctx, present[0]), _label(nd, "global_avgpool")))


def _reduce_mean(ctx: _Ctx, i: int, nd, a: dict, present: list[str]) -> None:
    """ReduceMean over the two spatial axes (torch's dynamo export of AdaptiveAvgPool2d(1)) → global_avgpool."""
    axes = a.get("axes", ctx.consts.get(present[1]) if len(present) > 1 else None)
    if axes is None or sorted(int(x) % 4 for x in np.asarray(axes).reshape(-1)) != [2, 3]:
        raise ctx.b.fail("ReduceMean (only over the two spatial axes of (N, C, H, W): a global average pool)")
    _set(ctx, nd, ctx.b.global_avgpool(_input(ctx, present[0]), _label(nd, "global_avgpool")))


def _flatten(ctx: _Ctx, i: int, nd, a: dict, present: list[str]) -> None:
    if nd.op_type == "Flatten" and a.get("axis", 1) != 1:
        raise ctx.b.fail("Flatten (only axis = 1)")
    if nd.op_type == "Reshape":
        shp = ctx.consts.get(present[1]) if len(present) > 1 else None
        rank = len(shp) if shp is not None else ctx.ranks.get(nd.output[0])
        # an empty or wrong-rank shape is refused before its batch entry is read
        batch_ok = rank == 2 and (shp is None or int(shp[0]) in (0, -1, 1)
                                  or (ctx.batch > 0 and int(shp[0]) == ctx.batch))
        if not batch_ok:
            raise ctx.b.fail("Reshape (only to (batch, features), a flatten)")
    _set(ctx, nd, ctx.b.flatten(_input(ctx, present[0]), _label(nd, "flatten")))


_HANDLERS: dict[str, Callable[[_Ctx, int, Any, dict, list[str]], None]] = {
    "Constant": _constant, "Gemm": _gemm, "MatMul": _matmul, "Conv": _conv, "BatchNormalization": _batchnorm,
    "Add": _arith, "Sub": _arith, "Mul": _arith, "Div": _arith, "Sign": _sign, "Clip": _sign,
    "Dropout": _dropout, "MaxPool": _maxpool, "AveragePool": _avgpool, "GlobalAveragePool": _global_avgpool,
    "ReduceMean": _reduce_mean, "Flatten": _flatten, "Reshape": _flatten,
}


def _dispatch(ctx: _Ctx, i: int, nd) -> None:
    """Run node ``nd``: constant folding and shape arithmetic first, else its handler."""
    op, a = nd.op_type, _attrs(nd)
    present = [v for v in nd.input if v]
    if op != "Constant" and present and all(v in ctx.consts for v in present) and op in _CONST_OPS:
        _fold(ctx, i, nd, a, present)
    elif op in _SHAPE_OPS and all(v in ctx.consts or (ctx.val.get(v) or ("",))[0] == "shape" or op == "Shape"
                                  for v in present):
        _set(ctx, nd, ("shape", None))
    elif op in _HANDLERS and (op == "Constant" or present):
        _HANDLERS[op](ctx, i, nd, a, present)
    else:
        raise ctx.b.fail("operation")


# ------------------------------------------------------------------------------------------ the model
def _load(model) -> tuple[Any, Path | None]:
    import onnx

    if not isinstance(model, str | Path):
        return model, None
    src = Path(model)
    if not src.is_file():
        raise ConfigError("ONNX model not found", file=str(src), allowed="a .onnx file")
    try:
        return onnx.load(str(src)), src
    except Exception as exc:  # protobuf raises DecodeError, onnx raises its own for external data
        raise ConfigError(f"cannot read the ONNX model ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})",
                          file=str(src), allowed="an ONNX protobuf file") from None


def _initializers(graph) -> dict[str, np.ndarray]:
    """The initializers as arrays; one whose data does not match its dims is an ImportError_ naming it."""
    from onnx import numpy_helper

    out: dict[str, np.ndarray] = {}
    for t in graph.initializer:
        try:
            arr = numpy_helper.to_array(t)
        except Exception as exc:  # dims without data, a wrong data length, an unknown data type
            raise ImportError_(f"initializer {t.name!r} cannot be read ({type(exc).__name__}: "
                               f"{' '.join(str(exc).split())[:120]})", field=f"graph.initializer[{t.name}]",
                               allowed="a tensor whose data matches its dims") from None
        if arr.size != math.prod(t.dims):
            raise ImportError_(f"initializer {t.name!r} has {arr.size} values for dims {list(t.dims)}",
                               field=f"graph.initializer[{t.name}]", allowed="a tensor whose data matches its dims")
        out[t.name] = arr
    return out


def _input_dims(graph, consts) -> tuple[Any, list[int]]:
    inputs = [v for v in graph.input if v.name not in consts]
    if len(inputs) != 1:
        raise ImportError_(f"the graph has {len(inputs)} data inputs ({[v.name for v in inputs]})",
                           field="graph.input", allowed="exactly one network input")
    dims = [d.dim_value if d.HasField("dim_value") else 0 for d in inputs[0].type.tensor_type.shape.dim]
    return inputs[0], dims


def _shape_of(inp, dims: list[int], input_shape) -> tuple[int, int, int]:
    if input_shape is not None:
        return tuple(input_shape)
    if len(dims) == 2 and dims[1] > 0:
        dims = [dims[0], 1, 1, dims[1]]
    if len(dims) != 4 or min(dims[1:]) <= 0:
        raise ConfigError(f"the graph input {inp.name!r} has no static (N, C, H, W) shape ({dims})",
                          field="--input-shape", allowed="C,H,W, e.g. 3,32,32")
    return dims[1], dims[2], dims[3]


def _ranks(model) -> dict[str, int]:
    import onnx

    try:
        return {v.name: len(v.type.tensor_type.shape.dim)
                for v in onnx.shape_inference.infer_shapes(model).graph.value_info}
    except Exception:  # shape inference is only a hint (for Reshape); a model it rejects may still import
        return {}


def _readers(graph) -> dict[str, int]:
    readers: dict[str, int] = {}
    for nd in graph.node:
        for v in nd.input:
            readers[v] = readers.get(v, 0) + 1
    for v in graph.output:
        readers[v.name] = readers.get(v.name, 0) + 1
    return readers


def import_onnx(model, out_dir: Path | str | None = None, *, input_shape: tuple[int, int, int] | None = None,
                input_bits: int = 8, weight_bits: int = 8, real_input_bits: int = 8, name: str | None = None,
                weights_file: str | None = None, dataset: dict | None = None, force: bool = False) -> Imported:
    """Import an ONNX BNN; with ``out_dir`` also write ``<name>.npz`` and ``<name>.yaml`` there.

    Args:
        model: a path to a ``.onnx`` file or an ``onnx.ModelProto``.
        out_dir: folder for the canonical weights and the workload YAML (None: write nothing).
        input_shape: (C, H, W) of one input (default: the graph input's static shape without the batch axis).
        input_bits: bits of the first-layer integer inputs.
        weight_bits: bits of the non-binary layers (2 … 8).
        real_input_bits: bits a layer reading a real-valued tensor quantizes it to (builder.py).
        name: workload name (default: the file's stem, or the graph's name).
        weights_file: the ``network.weights`` the workload names (default ``<name>.npz``).
        dataset: the workload's ``dataset`` section (None: none written).
        force: replace existing output files (else an existing one is a ConfigError).

    Raises:
        ImportError_: an unsupported node (named, with its position in ``graph.node``) or pattern.
        ConfigError: an unreadable file, an input shape that cannot be settled, an existing output file.
    """
    model, src = _load(model)
    graph = model.graph
    name = name or (src.stem if src is not None else (graph.name or "imported"))
    name = "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in name) or "imported"
    consts = _initializers(graph)
    inp, dims = _input_dims(graph, consts)
    shape = _shape_of(inp, dims, input_shape)
    ctx = _Ctx(GraphBuilder(input_bits=input_bits, weight_bits=weight_bits, real_input_bits=real_input_bits),
               consts, {inp.name: ("input", "input")}, _readers(graph), _ranks(model), dims[0] if dims else 0)
    for i, nd in enumerate(graph.node):
        label = nd.name or (nd.output[0] if nd.output else "")
        ctx.b.fail = lambda what, i=i, nd=nd, label=label: ImportError_(
            f"unsupported {what} at ONNX node #{i} {label!r} ({nd.op_type})", field=f"graph.node[{i}]",
            allowed=_ALLOWED)
        _dispatch(ctx, i, nd)
    if len(graph.output) != 1:
        raise ImportError_(f"the graph has {len(graph.output)} outputs", field="graph.output",
                           allowed="one output: the logits")
    ctx.b.fail = lambda what: ImportError_(f"the graph output {graph.output[0].name!r} is not a linear layer's "
                                           "output", field="graph.output",
                                           allowed="a Gemm/MatMul layer, optionally batch-normed")
    ctx.b.output(ctx.val.get(graph.output[0].name))
    imp = ctx.b.assemble(shape, name, weights_file or f"{name}.npz", "the ONNX graph")
    if dataset is not None:
        imp.workload["dataset"] = dataset
    if out_dir is not None:
        from cimsim.importers.output import write_import

        origin = src.name if src is not None else "an ONNX ModelProto"
        write_import(imp, out_dir, f"imported from {origin} ({math.prod(shape)} inputs of {input_bits} bits) by "
                                   "`cimsim import onnx`", force=force)
    return imp
