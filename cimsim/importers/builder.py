"""The network both importers build: crossbar layers with their folded affine, digital nodes, dropout, the
real-valued tensors and the bits a layer reads them with (one place, so the torch.fx and ONNX importers are
tables of per-op handlers that call it).

A traced value is a pair ``(kind, payload)``:

- ``input``: the network input (payload: ``"input"``);
- ``pre``: a crossbar layer's pre-activation k·s + c, still open to batch-norm / scale / bias folding
  (payload: its :class:`Pending` layer);
- ``bin``: a ±1 tensor (payload: the cimsim node name);
- ``sgn``: a real tensor a sign was applied to: the next crossbar layer binarizes it (payload: the node name);
- ``real``: a real-valued tensor (an add, a pool, a real layer output) (payload: the node name);
- ``drop``: a value with dropout applied (payload: ``(p, inner value)``);
- ``shape``: shape arithmetic (``x.size(0)``, ONNX ``Shape``/``Gather``), used only by a flatten.

**A layer reading a real-valued tensor** (a Bi-Real downsample's 1×1 conv after an average pool, a classifier on
the pooled features) reads it as signed ``real_input_bits``-bit integers of step Δ (``input_bits`` /
``input_step`` in the workload, docs/networks.md); Δ is folded into the layer's k, so its sum stays an integer.
Δ = R / (2^(b−1) − 1) with R the tensor's estimated range, derived without data from the batch-norm statistics
that produced it: a batch-norm output has mean β and standard deviation |γ| per channel over the training data
(that is what its running statistics normalise), an add sums means and adds variances (independent branches),
pools and flatten keep them; R = max over channels of |mean| + :data:`COVERAGE_SIGMA`·std. A real layer without
batch-norm statistics (an exporter fused them into its weights and bias) gets the spread of a sum of independent
±x terms: mean c, std |k|·sqrt(Σ q²)·rms(x), with rms(x) = 1 for ±1 inputs, (2^b − 1)/√3 for the network's
uniform b-bit input and (2^(b−1) − 1)/COVERAGE_SIGMA for a quantized real input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
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
from cimsim.network.weights import network_spec_dict

# Range of a real tensor read by a quantizing layer: mean ± 4σ per channel. A Gaussian value falls outside with
# probability 6.3e-5 [derived: 2·(1 − Φ(4))], so clipping is rare and the step stays fine.
COVERAGE_SIGMA = 4.0


class ImportError_(ConfigError):  # noqa: N801  (not the builtin ImportError)
    """The model holds something the importer cannot express (names the node and its position)."""


@dataclass
class Imported:
    """Result of an import: the cimsim network, the workload document (YAML-ready dict) and the dropout p."""

    network: Network
    workload: dict[str, Any]
    dropout_p: float | None = None
    notes: list[str] = field(default_factory=list)


def odd_levels(w: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
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
    weights; k = 0 leaves the constant sign(c) (threshold ∓inf, docs/weights.md)."""
    if real:
        return q, {"scale": k.copy(), "bias": c.copy()}
    neg = k < 0
    q = q.copy()
    q[neg] = -q[neg]
    with np.errstate(divide="ignore", invalid="ignore"):
        th = np.where(k != 0, -c / np.abs(k), np.where(c >= 0, -np.inf, np.inf))
    return q, {"threshold": th}


def quantize_weight(w: np.ndarray, bits: int, binary: bool | None, from_sign: bool = False
                    ) -> tuple[np.ndarray, np.ndarray, bool]:
    """(integer weights, per-row step α, binary?) with w ≈ α·q. ``binary`` True: the sign (0 → +1), α = 1 (a
    torch binary-layer subclass); False: ``bits`` odd levels; None: binary when every row holds one magnitude
    (±α per row; exact zeros only from a ``Sign``, ``from_sign``), else odd levels."""
    if binary:
        return np.where(w >= 0, 1, -1).astype(np.int8), np.ones(w.shape[0]), True
    if binary is None:
        mag = np.abs(w.reshape(w.shape[0], -1))
        top = mag.max(axis=1)
        same = (mag == top[:, None]) | ((mag == 0) if from_sign else False)
        if np.all(same) and (from_sign or np.all(top > 0)):
            return np.where(w >= 0, 1, -1).astype(np.int8), np.where(top > 0, top, 1.0), True
    alpha, q = odd_levels(w, bits)
    return q, alpha, False


@dataclass
class Pending:
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
    in_bits: int | None = None           # a quantized real input: its bits and step
    in_step: float | None = None
    x_rms: float = 1.0                   # rms of the values the rows carry (the spread without batch-norm)
    stats: tuple[np.ndarray, np.ndarray] | None = None  # (mean, std) per output after a batch-norm
    node: Any = None                     # the cimsim node, once finalized


Value = tuple[str, Any]
Fail = Callable[[str], Exception]


def _finite(*arrays) -> bool:
    return all(np.all(np.isfinite(np.asarray(a, dtype=np.float64))) for a in arrays)


class GraphBuilder:
    """Collects the nodes of one import. ``fail(what)`` makes the importer's error for the node at hand (the
    importer points it at each node as it walks the graph); every method raises it on what it cannot express."""

    def __init__(self, *, input_bits: int, weight_bits: int, real_input_bits: int) -> None:
        self.input_bits, self.weight_bits, self.real_input_bits = input_bits, weight_bits, real_input_bits
        self.nodes: list[Any] = []
        self.layers: dict[str, Pending] = {}
        self.used: set[str] = set()
        self.dropout_ps: set[float] = set()
        self.stats: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.fail: Fail = lambda what: ImportError_(f"unsupported {what}")
        self.notes: list[str] = []

    # ------------------------------------------------------------------ names and tensors
    def name(self, text: str) -> str:
        """A fresh cimsim node name from ``text`` (non-identifier characters → _)."""
        base = "".join(ch if ch.isalnum() else "_" for ch in text).strip("_") or "n"
        base = base if (base[0].isalpha() or base[0] == "_") else f"n_{base}"
        out, k = base, 1
        while out in self.used or out == INPUT:
            k += 1
            out = f"{base}_{k}"
        self.used.add(out)
        return out

    def operand(self, v: Value) -> str:
        """The cimsim tensor name of ``v`` used as a real operand (an add, a pool, a flatten)."""
        kind, x = v
        if kind == "pre":
            self.finalize(x, real=True)
            return x.name
        if kind in ("real", "bin", "sgn"):
            return x
        raise self.fail(f"operand ({kind})")

    # ------------------------------------------------------------------ crossbar layers
    def layer(self, name: str, x: Value, w: np.ndarray, bias: np.ndarray | None = None, *,
              conv: dict[str, int] | None = None, gain: float = 1.0, binary: bool | None = None,
              from_sign: bool = False) -> Value:
        """A crossbar layer of weights ``w`` ((out, in) or (out, cin, k, k)) times ``gain`` plus ``bias``,
        reading ``x``."""
        w = np.asarray(w, dtype=np.float64)
        if w.size == 0 or w.ndim < 2:
            raise self.fail(f"weight of shape {tuple(w.shape)} (empty or not a matrix)")
        if not _finite(w, gain) or (bias is not None and not _finite(bias)):
            raise self.fail("layer with NaN or infinite weights, bias or gain")
        p = None
        kind, src = x
        if kind == "drop":
            p, (kind, src) = src
        q, alpha, is_binary = quantize_weight(w, self.weight_bits, binary, from_sign)
        out = q.shape[0]
        c = np.zeros(out)
        if bias is not None:
            b = np.asarray(bias, dtype=np.float64).reshape(-1)
            if b.size not in (1, out):
                raise self.fail(f"bias of {b.size} values for {out} outputs")
            c = c + b
        lay = Pending(name, q, alpha * float(gain), c, is_binary, (), conv, dropout_p=p)
        lay.inputs = (self._layer_input(lay, kind, src),)
        self.layers[lay.name] = lay
        if p is not None:
            self.dropout_ps.add(p)
        return "pre", lay

    def _layer_input(self, lay: Pending, kind: str, src: Any) -> str:
        """The tensor a new layer reads; a real-valued one is quantized to ``real_input_bits`` (see module)."""
        if kind == "input":
            lay.x_rms = (2.0 ** self.input_bits - 1) / np.sqrt(3.0)
            return INPUT
        if kind in ("bin", "sgn"):
            return src
        if kind not in ("pre", "real"):
            raise self.fail(f"layer input ({kind})")
        name = self.operand((kind, src))
        mean, std = self.stats_of(name)
        bits = self.real_input_bits
        r = float(np.max(np.abs(mean) + COVERAGE_SIGMA * std))
        step = r / (2 ** (bits - 1) - 1) if r > 0 and np.isfinite(r) else 1.0
        lay.in_bits, lay.in_step, lay.x_rms = bits, step, (2.0 ** (bits - 1) - 1) / COVERAGE_SIGMA
        lay.k = lay.k * step
        self.notes.append(f"layer {lay.name!r} reads the real-valued {name!r} as {bits}-bit integers of step "
                          f"{step:.4g} (range ±{r:.4g} from the batch-norm statistics)")
        return name

    def batchnorm(self, v: Value, gamma, beta, mean, var, eps: float) -> Value:
        """Fold a batch-norm (per-channel statistics) into the layer before it."""
        kind, lay = v
        if kind != "pre":
            raise self.fail("batch-norm not directly after a linear/conv layer")
        g, b, mu, var = (np.asarray(a, dtype=np.float64).reshape(-1) for a in (gamma, beta, mean, var))
        if any(a.size != lay.q.shape[0] for a in (g, b, mu, var)):
            raise self.fail("batch-norm whose statistics are not one value per channel")
        if not _finite(g, b, mu, var, eps) or np.any(var + eps <= 0):
            raise self.fail("batch-norm with a negative variance or NaN/inf statistics")
        inv = g / np.sqrt(var + eps)
        lay.k, lay.c = lay.k * inv, (lay.c - mu) * inv + b
        lay.stats = (b.copy(), np.abs(g))
        return "pre", lay

    def affine(self, v: Value, mul: np.ndarray | None = None, add: np.ndarray | None = None) -> Value:
        """k·s + c ← (k·s + c)·mul + add, per channel (a Mul / Add / Sub / Div by a constant after a layer)."""
        kind, lay = v
        mul = np.ones(1) if mul is None else np.asarray(mul, dtype=np.float64)
        add = np.zeros(1) if add is None else np.asarray(add, dtype=np.float64)
        if not _finite(mul, add):
            raise self.fail("scale or shift by NaN/inf")
        lay.k, lay.c = lay.k * mul, lay.c * mul + add
        if lay.stats is not None:
            lay.stats = (lay.stats[0] * mul + add, lay.stats[1] * np.abs(mul))
        return "pre", lay

    def finalize(self, lay: Pending, real: bool) -> Any:
        """The cimsim node of ``lay`` (a real output: scale/bias; else a threshold), built once."""
        if lay.node is not None:
            return lay.node
        if not _finite(lay.k, lay.c):
            raise self.fail(f"layer {lay.name!r} whose folded scale or bias is NaN/inf")
        q, extra = fold_affine(lay.q, lay.k, lay.c, real=real)
        extra.update(input_bits=lay.in_bits, input_step=lay.in_step)
        bits = 1 if lay.binary else self.weight_bits
        if lay.conv is not None:
            lay.node = BinaryConv2d(lay.name, q, stride=lay.conv["stride"], padding=lay.conv["padding"],
                                    pool=lay.pool, inputs=lay.inputs, weight_bits=bits, **extra)
        else:
            lay.node = BinaryLinear(lay.name, q, inputs=lay.inputs, weight_bits=bits, **extra)
        self.nodes.append(lay.node)
        if real:
            if lay.stats is None:  # no batch-norm statistics: the spread of a sum of independent terms
                q2 = np.square(lay.q.reshape(lay.q.shape[0], -1).astype(np.float64)).sum(axis=1)
                lay.stats = (lay.c.copy(), np.abs(lay.k) * np.sqrt(q2) * lay.x_rms)
            self.stats[lay.name] = lay.stats
        return lay.node

    # ------------------------------------------------------------------ activations and digital nodes
    def sign(self, v: Value, shared: bool) -> Value:
        """sign / hardtanh of ``v``; ``shared``: the layer's real output also feeds another reader (a
        shortcut), so it stays real and its sign readers binarize it."""
        kind, x = v
        if kind == "pre":
            self.finalize(x, real=shared)
            return ("sgn" if shared else "bin"), x.name
        if kind == "real":
            return "sgn", x
        if kind in ("bin", "sgn"):
            return kind, x
        raise self.fail("sign of the network input" if kind == "input" else f"sign of a {kind} value")

    def maxpool(self, v: Value, k: int) -> Value:
        """A max-pool (kernel = stride = k) right after a conv's sign becomes the conv's ``pool``."""
        kind, x = v
        lay = self.layers.get(x) if kind == "bin" else None
        if lay is None or lay.conv is None or lay.pool != 1:
            raise self.fail("max-pool (only kernel = stride, no padding, right after a conv's sign)")
        self.nodes.remove(lay.node)   # the conv's node was built at its sign: rebuild it with the pool
        lay.node, lay.pool = None, int(k)
        self.finalize(lay, real=False)
        return "bin", lay.name

    def stats_of(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) per channel of tensor ``name``; a ±1 tensor (|x| = 1) has range exactly 1."""
        return self.stats.get(name, (np.zeros(1), np.full(1, 1.0 / COVERAGE_SIGMA)))

    def _digital(self, node: Any, src: str) -> Value:
        self.nodes.append(node)
        self.stats[node.name] = self.stats_of(src)
        return "real", node.name

    def avgpool(self, v: Value, k: int, stride: int, label: str) -> Value:
        src = self.operand(v)
        return self._digital(AvgPool(self.name(label), int(k), None if stride == k else int(stride), (src,)), src)

    def global_avgpool(self, v: Value, label: str) -> Value:
        src = self.operand(v)
        return self._digital(GlobalAvgPool(self.name(label), (src,)), src)

    def flatten(self, v: Value, label: str) -> Value:
        """(C, H, W) → (C·H·W,); dropout commutes with it (row dropout on the next layer's inputs)."""
        kind, x = v
        if kind == "input":  # a linear first layer flattens the input itself
            return v
        if kind == "drop":
            p, inner = x
            return "drop", (p, self.flatten(inner, label))
        src = x if kind == "sgn" else self.operand(v)
        out = self._digital(Flatten(self.name(label), (src,)), src)
        return (kind if kind in ("sgn", "bin") else "real"), out[1]

    def add(self, vs: list[Value], label: str) -> Value:
        """An element-wise sum of branches (a residual shortcut): real-valued."""
        srcs = tuple(self.operand(v) for v in vs)
        node = Add(self.name(label), srcs)
        self.nodes.append(node)
        st = [self.stats_of(s) for s in srcs]
        if len({a.size for a, _ in st}) == 1:
            self.stats[node.name] = (sum(a for a, _ in st), np.sqrt(sum(b ** 2 for _, b in st)))
        else:
            self.stats[node.name] = (np.array([sum(np.abs(a).max() for a, _ in st)]),
                                     np.array([np.sqrt(sum(b.max() ** 2 for _, b in st))]))
        return "real", node.name

    def dropout(self, v: Value, p: float) -> Value:
        """Dropout of rate p on ``v`` (0 ≤ p < 1): the next crossbar layer's input rows."""
        if not (0.0 <= p < 1.0):
            raise self.fail(f"dropout rate {p!r} (allowed 0 <= p < 1)")
        return ("drop", (float(p), v)) if p > 0 else v

    def output(self, v: Value | None) -> None:
        """The network output: a linear layer's (batch-normed, scaled) pre-activation, the logits."""
        if v is None or v[0] != "pre" or v[1].conv is not None:
            raise self.fail("network output (must be a linear layer, optionally batch-normed or scaled)")
        self.finalize(v[1], real=True)

    # ------------------------------------------------------------------ result
    def assemble(self, input_shape: tuple[int, int, int], name: str, weights_file: str | None,
                 source: str) -> Imported:
        """The imported network and its workload document: one dropout rate, a consistent graph (``source``
        names it in errors), dropout on the layers that had it."""
        if len(self.dropout_ps) > 1:
            raise ImportError_(f"dropout rates differ ({sorted(self.dropout_ps)}); a workload has one p",
                               field="dropout")
        net = Network(tuple(n for n in self.nodes if isinstance(n, BinaryLinear | BinaryConv2d)), input_shape,
                      self.input_bits, nodes=tuple(self.nodes))
        try:
            net.validate()
        except ValueError as exc:
            raise ImportError_(f"{source} is inconsistent: {exc}", field="graph") from None
        p = next(iter(self.dropout_ps)) if self.dropout_ps else None
        doc: dict[str, Any] = {"name": name, "network": network_spec_dict(net, weights_file)}
        dropped = [lay.name for lay in self.layers.values() if lay.dropout_p is not None]
        if dropped:
            doc["dropout"] = {"layers": dropped, "p": p}
        return Imported(net, doc, p, list(self.notes))
