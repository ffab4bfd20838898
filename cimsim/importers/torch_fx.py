"""PyTorch → cimsim: trace an ``nn.Module`` BNN with ``torch.fx`` and write the canonical weights + a workload.

Recognised (anything else is an :class:`ImportError_` naming the fx node, its position and its target):

- **crossbar layers**: ``nn.Linear`` / ``nn.Conv2d`` (square kernel, symmetric zero padding, no groups or
  dilation). A *subclass* of either (the usual ``BinaryLinear(nn.Linear)`` whose forward uses ``sign(weight)``)
  is binary: its weights are the sign of the latent weights (0 → +1). A plain ``nn.Linear`` / ``nn.Conv2d`` keeps
  multi-bit weights: each output channel is quantized to ``weight_bits`` odd levels (docs/networks.md), its
  step folded into the threshold or scale;
- ``nn.BatchNorm1d`` / ``nn.BatchNorm2d`` after a layer: folded into the threshold (a ±1 output) or into
  scale/bias (a real output); a negative γ flips the layer's weight signs;
- activations ``torch.sign``, ``nn.Hardtanh`` / ``F.hardtanh`` (taken as the sign: the BinaryNet convention in
  which hardtanh is the training-time activation and the next binary layer binarizes its input; a model whose
  binary layers do NOT binarize their inputs computes something else in torch): after a layer they make
  its ±1 output; on a real tensor (an add, a pool) they mark it for the next crossbar layer, which binarizes it;
- ``nn.MaxPool2d`` (kernel = stride) right after a conv's sign → the conv's ``pool``; ``nn.AvgPool2d`` → avgpool;
  ``nn.AdaptiveAvgPool2d(1)`` → global_avgpool; ``torch.flatten`` / ``nn.Flatten`` → flatten;
- ``nn.Dropout(p)`` on a layer's input → that layer in ``dropout.layers`` with the workload ``p``;
- residual ``+`` / ``torch.add`` of a layer's (batch-normed) output and another tensor → an ``add`` node (the
  layer's output is real-valued: Bi-Real Net).

The network output must be a linear layer (optionally batch-normed): its folded scale and bias give the logits.
The module sees cimsim's integer first-layer inputs (0 … 2^input_bits − 1) as floats.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cimsim.errors import ConfigError
from cimsim.network.layers import (
    INPUT,
    Add,
    AvgPool,
    BinaryConv2d,
    BinaryLinear,
    Flatten,
    GlobalAvgPool,
    Network,
)
from cimsim.network.weights import network_spec_dict, save_network


class ImportError_(ConfigError):  # noqa: N801  (not the builtin ImportError)
    """The model holds something the importer cannot express (names the fx node and its position)."""


@dataclass
class _Layer:
    name: str
    module: Any
    inputs: tuple[str, ...]
    binary: bool
    dropout_p: float | None = None
    bn: Any = None
    pool: int = 1
    node: Any = None   # the cimsim node, once finalized


@dataclass
class Imported:
    """Result of an import: the cimsim network, the workload document (YAML-ready dict) and the dropout p."""

    network: Network
    workload: dict[str, Any]
    dropout_p: float | None = None
    notes: list[str] = field(default_factory=list)


def _np(t) -> np.ndarray:
    return t.detach().cpu().double().numpy()


def _odd_levels(w: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Per output row: step α and the nearest odd integers q (|q| ≤ 2^bits − 1) with w ≈ α·q."""
    flat = w.reshape(w.shape[0], -1)
    top = 2 ** bits - 1
    alpha = np.abs(flat).max(axis=1) / top
    alpha[alpha == 0] = 1.0
    x = flat / alpha[:, None]
    q = np.clip(2 * np.round((x - 1) / 2) + 1, -top, top)
    return alpha, q.reshape(w.shape).astype(np.int16)


def fold_affine(q: np.ndarray, k: np.ndarray, c: np.ndarray, *, real: bool) -> tuple[np.ndarray, dict[str, Any]]:
    """A layer's weights and what follows its sum s, per output: k·s + c kept as ``scale``/``bias`` (a real
    output), or as a sign threshold: sign(k·s + c) = +1 ⇔ s ≥ −c/k for k > 0; k < 0 negates that output's
    weights; k = 0 leaves the constant sign(c). Both importers fold batch norm and scales through here."""
    if real:
        return q, {"scale": k.copy(), "bias": c.copy()}
    neg = k < 0
    q = q.copy()
    q[neg] = -q[neg]
    with np.errstate(divide="ignore", invalid="ignore"):
        th = np.where(k != 0, -c / np.abs(k), np.where(c >= 0, -np.inf, np.inf))
    return q, {"threshold": th}


def import_module(module, input_shape: tuple[int, int, int], *, input_bits: int = 8, weight_bits: int = 8,
                  name: str = "imported", weights_file: str = "weights.npz") -> Imported:
    """Trace ``module`` (an ``nn.Module`` in eval mode) and build the cimsim network and workload.

    Args:
        module: the PyTorch model.
        input_shape: (C, H, W) of one input.
        input_bits: bits of the first-layer integer inputs.
        weight_bits: bits of the non-binary (plain nn.Linear / nn.Conv2d) layers.
        name: workload name.
        weights_file: the ``network.weights`` the workload names.

    Raises:
        ImportError_: an unsupported node (named, with its position in the fx graph) or pattern.
    """
    import torch
    import torch.nn.functional as F  # noqa: N812
    from torch import fx, nn

    known = (nn.Linear, nn.Conv2d, nn.BatchNorm1d, nn.BatchNorm2d, nn.Dropout, nn.Hardtanh, nn.MaxPool2d,
             nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.Flatten)

    class _Tracer(fx.Tracer):
        def is_leaf_module(self, m, qualname):  # binary layer subclasses stay whole
            return isinstance(m, known) or super().is_leaf_module(m, qualname)

    module = module.eval()
    graph = _Tracer().trace(module)
    mods = dict(module.named_modules())
    layers: dict[str, _Layer] = {}
    nodes: list[Any] = []
    used: set[str] = set()
    val: dict[str, tuple] = {}   # fx node name → (kind, payload)
    dropout_ps: set[float] = set()

    def fail(i: int, nd, what: str) -> None:
        raise ImportError_(f"unsupported {what} at fx node #{i} {nd.name!r} ({nd.op} {getattr(nd.target, '__name__', nd.target)})",
                           field=f"graph[{i}]", allowed="linear/conv (binary or multi-bit), batch-norm, sign/hardtanh, "
                                                           "max/avg pool, dropout, add, flatten")

    def cname(qual: str) -> str:
        base = "".join(ch if ch.isalnum() else "_" for ch in qual) or "n"
        base = base if (base[0].isalpha() or base[0] == "_") else f"n_{base}"
        out, k = base, 1
        while out in used or out == INPUT:
            k += 1
            out = f"{base}_{k}"
        used.add(out)
        return out

    def fold(lay: _Layer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(integer weights, k, c) with the layer's real pre-activation = k·s + c, s the integer sum."""
        m = lay.module
        w = _np(m.weight)
        if lay.binary:
            q, alpha = np.where(w >= 0, 1, -1).astype(np.int8), np.ones(w.shape[0])
        else:
            alpha, q = _odd_levels(w, weight_bits)
        b = _np(m.bias) if m.bias is not None else np.zeros(w.shape[0])
        k, c = alpha.copy(), b.copy()
        if lay.bn is not None:
            bn = lay.bn
            g = _np(bn.weight) if bn.weight is not None else np.ones_like(k)
            beta = _np(bn.bias) if bn.bias is not None else np.zeros_like(k)
            inv = g / np.sqrt(_np(bn.running_var) + bn.eps)
            k, c = k * inv, (c - _np(bn.running_mean)) * inv + beta
        return q, k, c

    def finalize(lay: _Layer, real: bool, last: bool = False):
        if lay.node is not None:
            return lay.node
        m = lay.module
        q, k, c = fold(lay)
        bits = 1 if lay.binary else weight_bits
        q, extra = fold_affine(q, k, c, real=real or last)
        if isinstance(m, nn.Conv2d):
            lay.node = BinaryConv2d(lay.name, q, stride=m.stride[0], padding=m.padding[0], pool=lay.pool,
                                    inputs=lay.inputs, weight_bits=bits, **extra)
        else:
            lay.node = BinaryLinear(lay.name, q, inputs=lay.inputs, weight_bits=bits, **extra)
        nodes.append(lay.node)
        return lay.node

    def tensor(v, i, nd, real: bool = True) -> str:
        """The cimsim tensor name of value v used as a real (add / pool) operand."""
        kind, x = v
        if kind == "pre":
            finalize(x, real=True)
            return x.name
        if kind in ("real", "bin"):
            return x
        fail(i, nd, f"operand ({kind})")
        return ""

    sign_fns = (torch.sign, F.hardtanh)
    for i, nd in enumerate(graph.nodes):
        if nd.op == "placeholder":
            val[nd.name] = ("input", INPUT)
            continue
        if nd.op == "output":
            (res,) = nd.args if not isinstance(nd.args[0], tuple | list) else (nd.args[0][0],)
            kind, x = val[res.name]
            if kind != "pre" or not isinstance(x.module, nn.Linear):
                fail(i, nd, "network output (must be a linear layer, optionally batch-normed)")
            finalize(x, real=True, last=True)
            break
        args = [a for a in nd.args if isinstance(a, fx.Node)]
        ins = [val[a.name] for a in args]
        m = mods.get(nd.target) if nd.op == "call_module" else None
        if isinstance(m, nn.Linear | nn.Conv2d):
            if isinstance(m, nn.Conv2d) and (m.groups != 1 or m.dilation != (1, 1) or m.kernel_size[0] != m.kernel_size[1]
                                             or m.padding[0] != m.padding[1] or m.stride[0] != m.stride[1]
                                             or m.padding_mode != "zeros"):
                fail(i, nd, "convolution (grouped, dilated, non-square or non-zero padding)")
            kind, x = ins[0]
            p = None
            if kind == "drop":
                p, (kind, x) = x
            if kind == "pre":
                fail(i, nd, "layer fed by another layer's un-activated output (add a sign / hardtanh)")
            if kind == "real":
                fail(i, nd, "layer fed by a real-valued tensor without sign / hardtanh")
            src = x.name if isinstance(x, _Layer) else x
            binary = type(m) not in (nn.Linear, nn.Conv2d)
            lay = _Layer(cname(nd.target), m, (src,), binary, dropout_p=p)
            layers[lay.name] = lay
            if p is not None:
                dropout_ps.add(p)
            val[nd.name] = ("pre", lay)
        elif isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            kind, x = ins[0]
            if kind != "pre" or x.bn is not None:
                fail(i, nd, "batch-norm not directly after a linear/conv layer")
            x.bn = m
            val[nd.name] = ("pre", x)
        elif isinstance(m, nn.Hardtanh) or (nd.op == "call_function" and nd.target in sign_fns) or (
                nd.op == "call_method" and nd.target == "sign"):
            kind, x = ins[0]
            if kind == "pre" and len(args[0].users) > 1:
                # the layer's real output also feeds a shortcut: keep it real; its readers binarize it
                finalize(x, real=True)
                val[nd.name] = ("sgn", x.name)
            elif kind == "pre":
                finalize(x, real=False)
                val[nd.name] = ("bin", x.name)
            elif kind == "real":
                val[nd.name] = ("sgn", x)
            elif kind in ("bin", "sgn"):
                val[nd.name] = (kind, x)
            else:
                fail(i, nd, "sign of the network input")
        elif isinstance(m, nn.Dropout):
            kind, x = ins[0]
            val[nd.name] = ("drop", (float(m.p), ins[0])) if m.p > 0 else ins[0]
        elif isinstance(m, nn.MaxPool2d):
            kind, x = ins[0]
            k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
            s = m.stride if isinstance(m.stride, int) else m.stride[0]
            lay = layers.get(x) if kind == "bin" else None
            if lay is None or not isinstance(lay.module, nn.Conv2d) or lay.pool != 1 or k != s or m.padding:
                fail(i, nd, "max-pool (only kernel = stride right after a conv's sign)")
            # the conv's node was built at its sign: rebuild it with the pool
            nodes.remove(lay.node)
            lay.node, lay.pool = None, k
            finalize(lay, real=False)
            val[nd.name] = ("bin", lay.name)
        elif isinstance(m, nn.AvgPool2d):
            k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
            s = m.stride if isinstance(m.stride, int) else m.stride[0]
            if m.padding:
                fail(i, nd, "avg-pool with padding")
            nm = cname(nd.target)
            nodes.append(AvgPool(nm, k, None if s == k else s, (tensor(ins[0], i, nd),)))
            val[nd.name] = ("real", nm)
        elif isinstance(m, nn.AdaptiveAvgPool2d):
            if m.output_size not in (1, (1, 1)):
                fail(i, nd, "adaptive avg-pool to a size other than 1")
            nm = cname(nd.target)
            nodes.append(GlobalAvgPool(nm, (tensor(ins[0], i, nd),)))
            val[nd.name] = ("real", nm)
        elif isinstance(m, nn.Flatten) or (nd.op == "call_function" and nd.target is torch.flatten) or (
                nd.op == "call_method" and nd.target == "flatten"):
            kind, x = ins[0]
            if kind == "input":  # a linear first layer flattens the input itself
                val[nd.name] = ins[0]
                continue
            nm = cname(str(nd.target) if isinstance(nd.target, str) else "flatten")
            src = tensor(ins[0], i, nd) if kind != "sgn" else x
            nodes.append(Flatten(nm, (src,)))
            val[nd.name] = ("sgn" if kind == "sgn" else ("bin" if kind == "bin" else "real"), nm)
        elif nd.op == "call_function" and nd.target in (operator.add, torch.add) and len(args) == 2:
            nm = cname("add")
            nodes.append(Add(nm, tuple(tensor(v, i, nd) for v in ins)))
            val[nd.name] = ("real", nm)
        else:
            fail(i, nd, "operation")
    return assemble(nodes, [lay for lay in layers.values() if lay.dropout_p is not None], dropout_ps, input_shape,
                    input_bits, name, weights_file, "the traced graph")


def import_checkpoint(module_py: Path | str, factory: str, checkpoint: Path | str | None, out_dir: Path | str, *,
                      input_shape: tuple[int, int, int], input_bits: int = 8, weight_bits: int = 8,
                      name: str | None = None) -> tuple[Path, Path]:
    """Build ``factory()`` from ``module_py``, load ``checkpoint`` (``torch.load(weights_only=True)``: a state
    dict, never a pickle of code), import it and write ``<name>.npz`` and ``<name>.yaml`` into ``out_dir``."""
    import importlib.util

    import torch
    import yaml

    path = Path(module_py)
    if not path.is_file():
        raise ConfigError("module file not found", file=str(path), allowed="a .py file defining the factory")
    spec = importlib.util.spec_from_file_location(f"_cimsim_import_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    if not hasattr(mod, factory):
        raise ConfigError(f"no factory {factory!r}", file=str(path), allowed="a callable returning an nn.Module")
    model = getattr(mod, factory)()
    if checkpoint is not None:
        try:
            state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several types for a bad or unsafe file
            raise ConfigError(f"cannot load the checkpoint ({type(exc).__name__}: {exc})", file=str(checkpoint),
                              allowed="a state dict saved with torch.save (loaded with weights_only=True)") from None
        if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
            state = state["state_dict"]
        try:
            model.load_state_dict(state)
        except (RuntimeError, TypeError) as exc:
            raise ConfigError(f"checkpoint does not fit the model: {' '.join(str(exc).split())[:300]}",
                              file=str(checkpoint)) from None
    name = name or path.stem
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    imp = import_module(model, input_shape, input_bits=input_bits, weight_bits=weight_bits, name=name,
                        weights_file=f"{name}.npz")
    save_network(imp.network, out / f"{name}.npz")
    (out / f"{name}.yaml").write_text(
        f"# imported from {path.name}:{factory} ({math.prod(input_shape)} inputs of {input_bits} bits) by "
        "`cimsim import torch`\n" + yaml.safe_dump(imp.workload, sort_keys=False))
    return out / f"{name}.npz", out / f"{name}.yaml"


def assemble(nodes: list, dropped_layers: list, dropout_ps: set, input_shape: tuple[int, int, int], input_bits: int,
             name: str, weights_file: str | None, source: str) -> Imported:
    """The imported network and its workload document from the recognised nodes (both importers end here):
    one dropout rate, a consistent graph (``source`` names it in errors), dropout on the layers that had it."""
    if len(dropout_ps) > 1:
        raise ImportError_(f"dropout rates differ ({sorted(dropout_ps)}); a workload has one p", field="dropout")
    net = Network(tuple(n for n in nodes if isinstance(n, BinaryLinear | BinaryConv2d)), input_shape, input_bits,
                  nodes=tuple(nodes))
    try:
        net.validate()
    except ValueError as exc:
        raise ImportError_(f"{source} is inconsistent: {exc}", field="graph") from None
    p = next(iter(dropout_ps)) if dropout_ps else None
    doc: dict[str, Any] = {"name": name, "network": network_spec_dict(net, weights_file)}
    if dropped_layers:
        doc["dropout"] = {"layers": [lay.name for lay in dropped_layers], "p": p}
    return Imported(net, doc, p)
