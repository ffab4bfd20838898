"""Binary network model: layers, shapes and the im2col unfold shared by the reference and the hardware executor.

Semantics (the contract every executor reproduces bit for bit, see ``reference.py``):

* pre-activation ``s_j = sum_i m_i x_i w_ij`` (integers; ``m`` the dropout bit, 1 without dropout);
* ``a = s / (1 - p)`` when the layer's input is dropped in MC mode, else ``a = s``;
* hidden layer: ``+1 if a >= threshold_j else -1``, then max-pool (conv, ``pool > 1``), flatten (C, H, W);
* last layer: ``logits = scale_j * a + bias_j``;
* first layer inputs are unsigned integers in ``[0, 2**input_bits - 1]``; zero padding contributes 0.

Graph networks (docs/networks.md): every node names its ``inputs`` (default: the node before it; ``"input"`` is
the network input). A crossbar layer with ``output="real"`` returns ``scale * a + bias`` (a Bi-Real-style real
branch, max-pooled like a binary one); :class:`Add` sums branches, :class:`AvgPool` / :class:`GlobalAvgPool`
average (both real-valued); :class:`Flatten` reshapes. A crossbar layer that reads a real-valued tensor
binarizes it first: ``+1 if x >= 0 else -1``, unless it states ``input_bits`` b and ``input_step`` Δ: then it
reads the integers ``q = clip(round(x / Δ), -2**(b-1), 2**(b-1) - 1)`` (:func:`quantize_real`), streamed
bit-serially in two's complement like the first layer's inputs, and ``s = sum_i m_i q_i w_ij``. Multi-bit weights (``weight_bits`` b > 1) are odd integers in
``[-(2**b - 1), 2**b - 1]``, which are exactly ``sum_k 2**k c_k`` over b ±1 digits ``c_k`` (:func:`bit_slices`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INPUT = "input"


def bit_slices(weight: np.ndarray, bits: int) -> np.ndarray:
    """±1 digits (bits, *weight.shape) int8 with ``weight == sum_k 2**k * slices[k]``.

    ``weight`` holds odd integers in [-(2**bits - 1), 2**bits - 1]: u = (weight + 2**bits - 1) / 2 is an unsigned
    ``bits``-bit integer and digit k is ``2 * bit_k(u) - 1``, so ``sum_k 2**k (2 bit_k(u) - 1) = 2u - (2**bits - 1)``.
    """
    w = np.asarray(weight, dtype=np.int64)
    if bits == 1:
        return w[None].astype(np.int8)
    u = (w + (2 ** bits - 1)) // 2
    return np.stack([2 * ((u >> k) & 1) - 1 for k in range(bits)]).astype(np.int8)


class _Crossbar:
    """Shared behaviour of the crossbar layers (weights on arrays)."""

    weight: np.ndarray
    weight_bits: int
    threshold: np.ndarray | None
    input_bits: int | None
    input_step: float | None

    @property
    def real_output(self) -> bool:
        """Returns ``scale * a + bias`` (real) rather than ``sign(a - threshold)``."""
        return self.threshold is None

    @property
    def sliced_matrix(self) -> np.ndarray:
        """The (out · weight_bits, fan_in) ±1 matrix the arrays hold: slice k of output o in row k·out + o."""
        m = self.matrix  # type: ignore[attr-defined]
        return bit_slices(m, self.weight_bits).reshape(-1, m.shape[1])


@dataclass(frozen=True, eq=False)
class BinaryLinear(_Crossbar):
    """Fully-connected layer. ``weight`` is ±1 (int8) of shape (out, in), or odd integers for ``weight_bits`` > 1.
    ``threshold`` for a ±1 output; ``scale`` and ``bias`` for a real one (the logits, a real branch)."""

    name: str
    weight: np.ndarray
    threshold: np.ndarray | None = None
    scale: np.ndarray | None = None
    bias: np.ndarray | None = None
    inputs: tuple[str, ...] | None = None
    weight_bits: int = 1
    input_bits: int | None = None     # a real-valued input quantized to this many bits (two's complement)
    input_step: float | None = None   # its step Δ: the real value of one LSB

    @property
    def fan_in(self) -> int:
        """Crossbar rows used (= in_features)."""
        return int(self.weight.shape[1])

    @property
    def out_features(self) -> int:
        return int(self.weight.shape[0])

    @property
    def matrix(self) -> np.ndarray:
        """Weights as the (out, fan_in) matrix programmed into the crossbar."""
        return self.weight


@dataclass(frozen=True, eq=False)
class BinaryConv2d(_Crossbar):
    """Binary 2-D convolution. ``weight`` is int8 ±1 of shape (out, cin, k, k) (odd integers for weight_bits > 1);
    square kernel.

    ``pool`` is the kernel = stride of the max-pool after the sign (1: none; floor mode, like torch).
    """

    name: str
    weight: np.ndarray
    stride: int = 1
    padding: int = 0
    pool: int = 1
    threshold: np.ndarray | None = None
    scale: np.ndarray | None = None
    bias: np.ndarray | None = None
    inputs: tuple[str, ...] | None = None
    weight_bits: int = 1
    input_bits: int | None = None
    input_step: float | None = None

    @property
    def in_channels(self) -> int:
        return int(self.weight.shape[1])

    @property
    def kernel_size(self) -> int:
        return int(self.weight.shape[2])

    @property
    def fan_in(self) -> int:
        """Crossbar rows used: cin * k * k, ordered (cin, kh, kw)."""
        return int(np.prod(self.weight.shape[1:]))

    @property
    def out_features(self) -> int:
        """Output channels (crossbar columns)."""
        return int(self.weight.shape[0])

    @property
    def matrix(self) -> np.ndarray:
        """Weights as the (out, fan_in) matrix, rows ordered (cin, kh, kw) like :func:`unfold`."""
        return self.weight.reshape(self.weight.shape[0], -1)


Layer = BinaryLinear | BinaryConv2d


def conv_hw(layer: BinaryConv2d, in_hw: tuple[int, int]) -> tuple[int, int]:
    """Spatial size of the convolution output before pooling (one MVM per position)."""
    k, s, p = layer.kernel_size, layer.stride, layer.padding
    h = (in_hw[0] + 2 * p - k) // s + 1
    w = (in_hw[1] + 2 * p - k) // s + 1
    if h < 1 or w < 1:
        raise ValueError(f"{layer.name}: kernel {k} does not fit input {in_hw} with padding {p}")
    return h, w


def output_hw(layer: Layer, in_hw: tuple[int, int]) -> tuple[int, int]:
    """Spatial size of a conv layer's output after pooling ((1, 1) for a linear layer)."""
    if isinstance(layer, BinaryLinear):
        return (1, 1)
    h, w = conv_hw(layer, in_hw)
    return h // layer.pool, w // layer.pool


def unfold(x: np.ndarray, layer: BinaryConv2d) -> np.ndarray:
    """im2col: (N, C, H, W) -> (N, P, C*k*k), P = Ho*Wo in row-major (h, w) order.

    Each window's row order is (C_in, kh, kw), exactly ``layer.weight.reshape(out, -1)``'s column order, so
    ``unfold(x, layer) @ layer.matrix.T`` is the convolution. Padding positions are 0. Returns a copy with the
    dtype of ``x``.
    """
    if x.ndim != 4:
        raise ValueError(f"unfold expects (N, C, H, W), got shape {x.shape}")
    k, s, p = layer.kernel_size, layer.stride, layer.padding
    n, c = x.shape[:2]
    if c != layer.in_channels:
        raise ValueError(f"{layer.name}: input has {c} channels, layer expects {layer.in_channels}")
    ho, wo = conv_hw(layer, x.shape[2:])
    if p:
        x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))  # (N, C, H', W', k, k)
    win = win[:, :, : (ho - 1) * s + 1 : s, : (wo - 1) * s + 1 : s]  # (N, C, Ho, Wo, k, k)
    return np.ascontiguousarray(win.transpose(0, 2, 3, 1, 4, 5)).reshape(n, ho * wo, c * k * k)


def maxpool(y: np.ndarray, pool: int) -> np.ndarray:
    """Max-pool (N, C, H, W) with kernel = stride = pool, floor mode (trailing rows/cols dropped)."""
    if pool == 1:
        return y
    n, c, h, w = y.shape
    ho, wo = h // pool, w // pool
    y = y[:, :, : ho * pool, : wo * pool].reshape(n, c, ho, pool, wo, pool)
    return y.max(axis=(3, 5))


@dataclass(frozen=True, eq=False)
class Add:
    """Element-wise sum of branches of one shape (residual shortcut); real-valued output."""

    name: str
    inputs: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class AvgPool:
    """Average pool, kernel ``kernel_size``, step ``stride`` (None: the kernel), floor mode; real output."""

    name: str
    kernel_size: int
    stride: int | None = None
    inputs: tuple[str, ...] | None = None


@dataclass(frozen=True, eq=False)
class GlobalAvgPool:
    """Mean over the positions of each channel, (C, H, W) → (C,); real output."""

    name: str
    inputs: tuple[str, ...] | None = None


@dataclass(frozen=True, eq=False)
class Flatten:
    """(C, H, W) → (C·H·W,)."""

    name: str
    inputs: tuple[str, ...] | None = None


Node = BinaryLinear | BinaryConv2d | Add | AvgPool | GlobalAvgPool | Flatten


def avgpool(y: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    """Average-pool the last two axes of (..., H, W), floor mode, no padding."""
    win = np.lib.stride_tricks.sliding_window_view(y, (kernel, kernel), axis=(-2, -1))
    return win[..., ::stride, ::stride, :, :].mean(axis=(-2, -1))


def binarize(x: np.ndarray) -> np.ndarray:
    """Sign of a real-valued tensor as a crossbar layer reads it: +1 where x >= 0, else -1 (same dtype)."""
    return np.where(x >= 0, x.dtype.type(1), x.dtype.type(-1))


def quantize_real(x: np.ndarray, bits: int, step: float) -> np.ndarray:
    """A real-valued tensor as a layer with ``input_bits`` = bits and ``input_step`` = step reads it: the signed
    integers ``clip(round(x / step), -2**(bits-1), 2**(bits-1) - 1)`` (round half to even), same dtype."""
    top = 2 ** (bits - 1)
    return np.clip(np.round(x / step), -top, top - 1).astype(x.dtype)


def read_input(x: np.ndarray, layer: Layer) -> np.ndarray:
    """What a crossbar layer drives its rows with when it reads a real tensor ``x``: its quantized integers
    (``input_bits`` set) or the sign."""
    if layer.input_bits is not None:
        return quantize_real(x, layer.input_bits, layer.input_step)
    return binarize(x)


@dataclass(frozen=True, eq=False)
class Network:
    """A binary network: its crossbar ``layers`` and, for a graph, all its ``nodes`` (crossbar layers and
    digital nodes) in topological order (None: the layers form a chain). ``input_shape`` is (C, H, W) of one
    input; inputs are ``input_bits``-bit unsigned integers. The last node produces the logits."""

    layers: tuple[Layer, ...]
    input_shape: tuple[int, int, int]
    input_bits: int = 4
    nodes: tuple[Node, ...] | None = None

    def __post_init__(self) -> None:
        nodes = tuple(self.nodes) if self.nodes is not None else tuple(self.layers)
        object.__setattr__(self, "nodes", nodes)
        object.__setattr__(self, "layers", tuple(n for n in nodes if isinstance(n, BinaryLinear | BinaryConv2d)))
        object.__setattr__(self, "input_shape", tuple(int(v) for v in self.input_shape))

    @property
    def names(self) -> list[str]:
        return [layer.name for layer in self.layers]

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def inputs_of(self, i: int) -> tuple[str, ...]:
        """Names node ``i`` reads (default: the node before it; the first reads ``input``)."""
        node = self.nodes[i]
        if node.inputs is not None:
            return tuple(node.inputs)
        return (self.nodes[i - 1].name,) if i else (INPUT,)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """One output's shape per node name (``input``: the network input), walking the graph."""
        out: dict[str, tuple[int, ...]] = {INPUT: self.input_shape}
        for i, node in enumerate(self.nodes):
            ins = self.inputs_of(i)
            for src in ins:
                if src not in out:
                    raise ValueError(f"{node.name}: input {src!r} is not an earlier node")
            x = out[ins[0]]
            if isinstance(node, BinaryConv2d):
                if len(x) != 3:
                    raise ValueError(f"{node.name}: a conv layer needs a (C, H, W) input, got {x}")
                out[node.name] = (node.out_features, *output_hw(node, x[1:]))
            elif isinstance(node, BinaryLinear):
                out[node.name] = (node.out_features,)
            elif isinstance(node, Add):
                out[node.name] = x
            elif isinstance(node, AvgPool | GlobalAvgPool) and len(x) != 3:
                raise ValueError(f"{node.name}: a pool needs a (C, H, W) input, got {x}")
            elif isinstance(node, AvgPool):
                k, st = node.kernel_size, node.stride or node.kernel_size
                out[node.name] = (x[0], (x[1] - k) // st + 1, (x[2] - k) // st + 1)
                if min(out[node.name]) < 1:
                    raise ValueError(f"{node.name}: pool {k} does not fit its {x[1]}x{x[2]} input")
            elif isinstance(node, GlobalAvgPool):
                out[node.name] = (x[0],)
            else:
                out[node.name] = (int(np.prod(x)),)
        return out

    def input_shapes(self) -> list[tuple[int, ...]]:
        """Shape of one input of each crossbar layer: (C, H, W) for a conv layer, (in_features,) for a linear one."""
        shapes = self.shapes()
        result = []
        for i, node in enumerate(self.nodes):
            if isinstance(node, BinaryConv2d):
                result.append(shapes[self.inputs_of(i)[0]])
            elif isinstance(node, BinaryLinear):
                result.append((int(np.prod(shapes[self.inputs_of(i)[0]])),))
        return result

    def output_shapes(self) -> list[tuple[int, ...]]:
        """Shape of one output of each crossbar layer (after pooling): (C, H, W) for conv, (out,) for linear."""
        shapes = self.shapes()
        return [shapes[layer.name] for layer in self.layers]

    def positions(self, layer: Layer | str) -> int:
        """MVMs per input for this layer: conv output positions before pooling (Ho*Wo); 1 for linear."""
        if isinstance(layer, str):
            layer = self.layer(layer)
        if isinstance(layer, BinaryLinear):
            return 1
        idx = self.names.index(layer.name)
        h, w = conv_hw(layer, self.input_shapes()[idx][1:])
        return h * w

    def reads_input(self, name: str) -> bool:
        """Whether crossbar layer ``name`` reads the (multi-bit) network input."""
        i = [n.name for n in self.nodes].index(name)
        return INPUT in self.inputs_of(i)

    def validate(self) -> None:
        """Raise ValueError when the graph is inconsistent (fan-in vs its input, branches of an add)."""
        shapes = self.shapes()
        for i, node in enumerate(self.nodes):
            ins = self.inputs_of(i)
            if isinstance(node, Add):
                if len({shapes[s] for s in ins}) != 1:
                    raise ValueError(f"{node.name}: branches differ in shape {[shapes[s] for s in ins]}")
                continue
            if not isinstance(node, BinaryLinear | BinaryConv2d):
                continue
            x = shapes[ins[0]]
            need = x[0] if isinstance(node, BinaryConv2d) else int(np.prod(x))
            have = node.in_channels if isinstance(node, BinaryConv2d) else node.fan_in
            if need != have:
                raise ValueError(f"{node.name}: expects {have} inputs/channels, previous stage gives {need}")
