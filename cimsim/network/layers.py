"""Binary network model: layers, shapes and the im2col unfold shared by the reference and the hardware executor.

Semantics (the contract every executor reproduces bit for bit, see ``reference.py``):

* pre-activation ``s_j = sum_i m_i x_i w_ij`` (integers; ``m`` the dropout bit, 1 without dropout);
* ``a = s / (1 - p)`` when the layer's input is dropped in MC mode, else ``a = s``;
* hidden layer: ``+1 if a >= threshold_j else -1``, then max-pool (conv, ``pool > 1``), flatten (C, H, W);
* last layer: ``logits = scale_j * a + bias_j``;
* first layer inputs are unsigned integers in ``[0, 2**input_bits - 1]``; zero padding contributes 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class BinaryLinear:
    """Fully-connected binary layer. ``weight`` is int8 ±1 of shape (out, in)."""

    name: str
    weight: np.ndarray
    threshold: np.ndarray | None = None
    scale: np.ndarray | None = None
    bias: np.ndarray | None = None

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
class BinaryConv2d:
    """Binary 2-D convolution. ``weight`` is int8 ±1 of shape (out, cin, k, k); square kernel.

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
class Network:
    """A chain of binary layers. ``input_shape`` is (C, H, W) of one input; inputs are ``input_bits``-bit ints."""

    layers: tuple[Layer, ...]
    input_shape: tuple[int, int, int]
    input_bits: int = 4

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "input_shape", tuple(int(v) for v in self.input_shape))

    @property
    def names(self) -> list[str]:
        return [layer.name for layer in self.layers]

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def input_shapes(self) -> list[tuple[int, ...]]:
        """Shape of one input of each layer: (C, H, W) for a conv layer, (in_features,) for a linear one."""
        shapes: list[tuple[int, ...]] = []
        shape: tuple[int, ...] = self.input_shape
        for layer in self.layers:
            if isinstance(layer, BinaryConv2d):
                if len(shape) != 3:
                    raise ValueError(f"{layer.name}: a conv layer cannot follow a linear layer")
                shapes.append(shape)
                h, w = output_hw(layer, shape[1:])
                shape = (layer.out_features, h, w)
            else:
                shape = (int(np.prod(shape)),)
                shapes.append(shape)
                shape = (layer.out_features,)
        return shapes

    def output_shapes(self) -> list[tuple[int, ...]]:
        """Shape of one output of each layer (after pooling): (C, H, W) for conv, (out,) for linear."""
        ins = self.input_shapes()
        outs: list[tuple[int, ...]] = []
        for layer, shape in zip(self.layers, ins, strict=True):
            if isinstance(layer, BinaryConv2d):
                outs.append((layer.out_features, *output_hw(layer, shape[1:])))
            else:
                outs.append((layer.out_features,))
        return outs

    def positions(self, layer: Layer | str) -> int:
        """MVMs per input for this layer: conv output positions before pooling (Ho*Wo); 1 for linear."""
        if isinstance(layer, str):
            layer = self.layer(layer)
        if isinstance(layer, BinaryLinear):
            return 1
        idx = [lay.name for lay in self.layers].index(layer.name)
        h, w = conv_hw(layer, self.input_shapes()[idx][1:])
        return h * w

    def validate(self) -> None:
        """Raise ValueError when the layer chain is inconsistent (fan-in vs previous output)."""
        for layer, shape in zip(self.layers, self.input_shapes(), strict=True):
            need = shape[0]  # channels (conv) or flattened features (linear)
            have = layer.in_channels if isinstance(layer, BinaryConv2d) else layer.fan_in
            if need != have:
                raise ValueError(f"{layer.name}: expects {have} inputs/channels, previous stage gives {need}")
