"""PyTorch → cimsim: trace an ``nn.Module`` BNN with ``torch.fx`` and write the canonical weights + a workload.

A table of per-node handlers (:data:`_MODULES`, :data:`_FUNCTIONS`, :data:`_METHODS`) turns each fx node into a
call on the shared :class:`~cimsim.importers.builder.GraphBuilder`. Recognised (anything else is an
:class:`ImportError_` naming the fx node, its position and its target):

- **crossbar layers**: ``nn.Linear`` / ``nn.Conv2d`` (square kernel, symmetric zero padding, no groups or
  dilation). A *subclass* of either (the usual ``BinaryLinear(nn.Linear)`` whose forward uses ``sign(weight)``)
  is binary: its weights are the sign of the latent weights (0 → +1). A plain ``nn.Linear`` / ``nn.Conv2d`` keeps
  multi-bit weights: each output channel is quantized to ``weight_bits`` odd levels (docs/networks.md), its
  step folded into the threshold or scale;
- ``nn.BatchNorm1d`` / ``nn.BatchNorm2d`` after a layer: folded into the threshold (a ±1 output) or into
  scale/bias (a real output); a negative γ flips the layer's weight signs;
- activations ``torch.sign`` / ``x.sign()``, ``nn.Hardtanh`` / ``F.hardtanh`` (taken as the sign: the BinaryNet
  convention in which hardtanh is the training-time activation and the next binary layer binarizes its input):
  after a layer they make its ±1 output; on a real tensor (an add, a pool) they mark it for the next crossbar
  layer, which binarizes it;
- a crossbar layer reading a **real-valued** tensor without a sign (Bi-Real's downsample: AvgPool + a real 1×1
  conv; a classifier on pooled features) reads it as ``real_input_bits``-bit integers (builder.py);
- ``nn.MaxPool2d`` (kernel = stride) right after a conv's sign → the conv's ``pool``; ``nn.AvgPool2d`` → avgpool;
  ``nn.AdaptiveAvgPool2d(1)`` → global_avgpool; ``torch.flatten(x, 1)`` / ``x.flatten(1)`` / ``nn.Flatten`` and
  ``x.view(x.size(0), -1)`` / ``x.reshape(n, -1)`` / ``x.view(-1, features)`` → flatten; ``nn.Identity`` passes;
- ``nn.Dropout(p)`` on a layer's input (also before a flatten) → that layer in ``dropout.layers`` with ``p``;
- residual ``+`` / ``+=`` / ``torch.add`` of two tensors → an ``add`` node (Bi-Real Net).

The network output must be a linear layer (optionally batch-normed): its folded scale and bias give the logits.
The module sees cimsim's integer first-layer inputs (0 … 2^input_bits − 1) as floats.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cimsim.errors import ConfigError
from cimsim.importers.builder import (  # noqa: F401  (re-exported: the importers' public names)
    GraphBuilder,
    Imported,
    ImportError_,
    Value,
    fold_affine,
    odd_levels,
)

_ALLOWED = ("linear/conv (binary or multi-bit), batch-norm, sign/hardtanh, max/avg pool, dropout, add, "
            "flatten/view/reshape to (batch, features), x.size(0)")


@dataclass
class _Ctx:
    """One trace: the builder, the module table of the model and the values of the fx nodes so far."""

    b: GraphBuilder
    mods: dict[str, Any]
    val: dict[str, Value]
    nn: Any


def _np(t) -> np.ndarray:
    return t.detach().cpu().double().numpy()


def _int(v) -> int:
    return v if isinstance(v, int) else v[0]


# ------------------------------------------------------------------------------------------ module handlers
def _crossbar(ctx: _Ctx, nd, m, ins: list[Value]) -> Value:
    nn = ctx.nn
    conv = None
    if isinstance(m, nn.Conv2d):
        if (m.groups != 1 or m.dilation != (1, 1) or m.kernel_size[0] != m.kernel_size[1]
                or m.padding[0] != m.padding[1] or m.stride[0] != m.stride[1] or m.padding_mode != "zeros"
                or isinstance(m.padding, str)):
            raise ctx.b.fail("convolution (grouped, dilated, non-square or non-zero padding)")
        conv = {"stride": int(m.stride[0]), "padding": int(m.padding[0])}
    binary = type(m) not in (nn.Linear, nn.Conv2d)
    bias = _np(m.bias) if m.bias is not None else None
    return ctx.b.layer(ctx.b.name(nd.target), ins[0], _np(m.weight), bias, conv=conv, binary=binary)


def _batchnorm(ctx: _Ctx, nd, m, ins: list[Value]) -> Value:
    if m.running_mean is None or m.running_var is None:
        raise ctx.b.fail("batch-norm without running statistics")
    g = _np(m.weight) if m.weight is not None else np.ones(m.num_features)
    beta = _np(m.bias) if m.bias is not None else np.zeros(m.num_features)
    return ctx.b.batchnorm(ins[0], g, beta, _np(m.running_mean), _np(m.running_var), float(m.eps))


def _hardtanh(ctx: _Ctx, nd, m, ins: list[Value]) -> Value:
    return ctx.b.sign(ins[0], shared=len(nd.args[0].users) > 1)


def _dropout(ctx: _Ctx, nd, m, ins: list[Value]) -> Value:
    return ctx.b.dropout(ins[0], float(m.p))


def _maxpool(ctx: _Ctx, nd, m, ins: list[Value]) -> Value:
    k, s = _int(m.kernel_size), _int(m.stride)
    if k != s or _int(m.padding) or _int(m.dilation) != 1 or m.ceil_mode:
        raise ctx.b.fail("max-pool (only kernel = stride, no padding, right after a conv's sign)")
    return ctx.b.maxpool(ins[0], k)


def _avgpool(ctx: _Ctx, nd, m, ins: list[Value]) -> Value:
    if _int(m.padding) or m.ceil_mode:
        raise ctx.b.fail("avg-pool with padding or ceil mode")
    return ctx.b.avgpool(ins[0], _int(m.kernel_size), _int(m.stride or m.kernel_size), nd.target)


def _adaptive(ctx: _Ctx, nd, m, ins: list[Value]) -> Value:
    if m.output_size not in (1, (1, 1)):
        raise ctx.b.fail("adaptive avg-pool to a size other than 1")
    return ctx.b.global_avgpool(ins[0], nd.target)


def _flatten_module(ctx: _Ctx, nd, m, ins: list[Value]) -> Value:
    if m.start_dim != 1 or m.end_dim != -1:
        raise ctx.b.fail("nn.Flatten (only start_dim = 1, end_dim = -1)")
    return ctx.b.flatten(ins[0], nd.target)


def _identity(ctx: _Ctx, nd, m, ins: list[Value]) -> Value:
    return ins[0]


# ------------------------------------------------------------------------------------------ functions, methods
def _sign_fn(ctx: _Ctx, nd, ins: list[Value]) -> Value:
    return ctx.b.sign(ins[0], shared=len(nd.args[0].users) > 1)


def _flatten_fn(ctx: _Ctx, nd, ins: list[Value]) -> Value:
    start = nd.args[1] if len(nd.args) > 1 else nd.kwargs.get("start_dim", 0)
    end = nd.args[2] if len(nd.args) > 2 else nd.kwargs.get("end_dim", -1)
    if start != 1 or end != -1:
        raise ctx.b.fail("flatten (only from dim 1 to the end: (batch, features))")
    return ctx.b.flatten(ins[0], "flatten")


def _add_fn(ctx: _Ctx, nd, ins: list[Value]) -> Value:
    tensors = [a for a in nd.args if hasattr(a, "op")]
    if len(tensors) != 2 or len(nd.args) != 2 or nd.kwargs.get("alpha", 1) != 1:
        raise ctx.b.fail("add (only the sum of two tensors)")
    return ctx.b.add(ins, "add")


def _shape_fn(ctx: _Ctx, nd, ins: list[Value]) -> Value:
    """``x.size(...)``, ``x.shape``, ``shape[i]``: shape arithmetic, read only by a view/reshape."""
    if nd.target is getattr and nd.args[1] != "shape":
        raise ctx.b.fail(f"attribute {nd.args[1]!r}")
    if nd.target is operator.getitem and ins[0][0] != "shape":
        raise ctx.b.fail("indexing of a tensor")
    return "shape", None


def _view_fn(ctx: _Ctx, nd, ins: list[Value]) -> Value:
    dims = list(nd.args[1:]) or list(nd.kwargs.get("shape", ()))
    if len(dims) == 1 and isinstance(dims[0], tuple | list):
        dims = list(dims[0])

    def batch(d) -> bool:  # x.size(0), x.shape[0] or -1
        return d == -1 or (hasattr(d, "op") and ctx.val.get(d.name, ("",))[0] == "shape")

    if len(dims) != 2 or not (batch(dims[0]) or dims[1] == -1):
        raise ctx.b.fail("view/reshape (only to (batch, features), a flatten)")
    return ctx.b.flatten(ins[0], "flatten")


_FUNCTIONS: dict[Any, Callable] = {operator.add: _add_fn, operator.iadd: _add_fn, getattr: _shape_fn,
                                   operator.getitem: _shape_fn}
_METHODS: dict[str, Callable] = {"sign": _sign_fn, "flatten": _flatten_fn, "size": _shape_fn, "view": _view_fn,
                                 "reshape": _view_fn, "add": _add_fn}


def _tables(torch) -> tuple[tuple[tuple[type, Callable], ...], dict[Any, Callable]]:
    """(module type → handler, in isinstance order; function → handler), built once torch is imported."""
    nn, F = torch.nn, torch.nn.functional  # noqa: N806
    modules = ((nn.Linear, _crossbar), (nn.Conv2d, _crossbar), (nn.BatchNorm1d, _batchnorm),
               (nn.BatchNorm2d, _batchnorm), (nn.Hardtanh, _hardtanh), (nn.Dropout, _dropout),
               (nn.MaxPool2d, _maxpool), (nn.AvgPool2d, _avgpool), (nn.AdaptiveAvgPool2d, _adaptive),
               (nn.Flatten, _flatten_module), (nn.Identity, _identity))
    functions = {**_FUNCTIONS, torch.sign: _sign_fn, F.hardtanh: _sign_fn, torch.flatten: _flatten_fn,
                 torch.add: _add_fn, torch.reshape: _view_fn}
    return modules, functions


def _trace(module, modules) -> Any:
    from torch import fx

    known = tuple(t for t, _ in modules)

    class _Tracer(fx.Tracer):
        def is_leaf_module(self, m, qualname):  # binary layer subclasses stay whole
            return isinstance(m, known) or super().is_leaf_module(m, qualname)

    try:
        return _Tracer().trace(module)
    except Exception as exc:  # fx raises TraceError, TypeError, ... on data-dependent control flow
        raise ImportError_(f"torch.fx cannot trace the model ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})",
                           field="forward", allowed="a forward without data-dependent control flow") from None


def _handler(ctx: _Ctx, nd, modules, functions) -> tuple[Callable, Any]:
    """The handler of fx node ``nd`` and its module (None for functions and methods)."""
    if nd.op == "call_module":
        m = ctx.mods.get(nd.target)
        for typ, fn in modules:
            if isinstance(m, typ):
                return fn, m
    elif nd.op == "call_function" and nd.target in functions:
        return functions[nd.target], None
    elif nd.op == "call_method" and nd.target in _METHODS:
        return _METHODS[nd.target], None
    raise ctx.b.fail("operation")


def import_module(module, input_shape: tuple[int, int, int], *, input_bits: int = 8, weight_bits: int = 8,
                  real_input_bits: int = 8, name: str = "imported", weights_file: str = "weights.npz") -> Imported:
    """Trace ``module`` (an ``nn.Module``, put in eval mode) and build the cimsim network and workload.

    Args:
        module: the PyTorch model.
        input_shape: (C, H, W) of one input.
        input_bits: bits of the first-layer integer inputs.
        weight_bits: bits of the non-binary (plain nn.Linear / nn.Conv2d) layers.
        real_input_bits: bits a layer reading a real-valued tensor quantizes it to (builder.py).
        name: workload name.
        weights_file: the ``network.weights`` the workload names.

    Raises:
        ImportError_: an unsupported node (named, with its position in the fx graph) or pattern.
    """
    import torch

    modules, functions = _tables(torch)
    module = module.eval()
    graph = _trace(module, modules)
    ctx = _Ctx(GraphBuilder(input_bits=input_bits, weight_bits=weight_bits, real_input_bits=real_input_bits),
               dict(module.named_modules()), {}, torch.nn)
    for i, nd in enumerate(graph.nodes):
        target = getattr(nd.target, "__name__", nd.target)
        ctx.b.fail = lambda what, i=i, nd=nd, target=target: ImportError_(
            f"unsupported {what} at fx node #{i} {nd.name!r} ({nd.op} {target})", field=f"graph[{i}]",
            allowed=_ALLOWED)
        if nd.op == "placeholder":
            ctx.val[nd.name] = ("input", "input")
        elif nd.op == "output":
            res = nd.args[0][0] if isinstance(nd.args[0], tuple | list) else nd.args[0]
            ctx.b.output(ctx.val.get(getattr(res, "name", None)))
            break
        else:
            fn, m = _handler(ctx, nd, modules, functions)
            ins = [ctx.val[a.name] for a in nd.args if hasattr(a, "op")]
            if not ins:
                raise ctx.b.fail("operation on constants")
            ctx.val[nd.name] = fn(ctx, nd, m, ins) if m is not None else fn(ctx, nd, ins)
    return ctx.b.assemble(tuple(input_shape), name, weights_file, "the traced graph")


def _load_factory(path: Path, factory: str):
    """``factory()`` of the module file ``path``: an ``nn.Module`` (ConfigError naming the file otherwise)."""
    import importlib.util

    import torch

    try:
        spec = importlib.util.spec_from_file_location(f"_cimsim_import_{path.stem}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    except Exception as exc:  # a user's file: a SyntaxError, an ImportError, anything it raises at import
        raise ConfigError(f"cannot run the module file ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})",
                          file=str(path), allowed="a Python file defining the factory") from None
    fn = getattr(mod, factory, None)
    if not callable(fn):
        raise ConfigError(f"no factory {factory!r}", file=str(path), allowed="a callable returning an nn.Module")
    try:
        model = fn()
    except Exception as exc:
        raise ConfigError(f"{factory}() raised {type(exc).__name__}: {' '.join(str(exc).split())[:200]}",
                          file=str(path), allowed="a callable returning an nn.Module") from None
    if not isinstance(model, torch.nn.Module):
        raise ConfigError(f"{factory}() returned a {type(model).__name__}, not an nn.Module", file=str(path),
                          allowed="a callable returning an nn.Module")
    return model


def _load_state(model, checkpoint: Path | str) -> None:
    import torch

    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a bad or unsafe file
        raise ConfigError(f"cannot load the checkpoint ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})",
                          file=str(checkpoint),
                          allowed="a state dict saved with torch.save (loaded with weights_only=True)") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise ConfigError(f"checkpoint does not fit the model: {' '.join(str(exc).split())[:300]}",
                          file=str(checkpoint)) from None


def import_checkpoint(module_py: Path | str, factory: str, checkpoint: Path | str | None, out_dir: Path | str, *,
                      input_shape: tuple[int, int, int], input_bits: int = 8, weight_bits: int = 8,
                      real_input_bits: int = 8, name: str | None = None, dataset: dict | None = None,
                      force: bool = False) -> tuple[Path, Path, Imported]:
    """Build ``factory()`` from ``module_py``, load ``checkpoint`` (``torch.load(weights_only=True)``: a state
    dict, never a pickle of code), import it and write ``<name>.npz`` and ``<name>.yaml`` into ``out_dir``
    (``dataset``: the workload's ``dataset`` section, None: none written; ``force``: replace existing files)."""
    from cimsim.importers.output import write_import

    path = Path(module_py)
    if not path.is_file():
        raise ConfigError("module file not found", file=str(path), allowed="a .py file defining the factory")
    model = _load_factory(path, factory)
    if checkpoint is not None:
        _load_state(model, checkpoint)
    name = _safe_name(name or path.stem)
    imp = import_module(model, input_shape, input_bits=input_bits, weight_bits=weight_bits,
                        real_input_bits=real_input_bits, name=name, weights_file=f"{name}.npz")
    if dataset is not None:
        imp.workload["dataset"] = dataset
    npz, yml = write_import(imp, out_dir, f"imported from {path.name}:{factory} ({int(np.prod(input_shape))} inputs "
                                          f"of {input_bits} bits) by `cimsim import torch`", force=force)
    return npz, yml, imp


def _safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in name) or "imported"

