"""Array-API versions of the network's data-movement ops, and the comparator's integer threshold.

:func:`unfold` and :func:`maxpool` give the same bits as :func:`cimsim.network.layers.unfold` / ``maxpool`` on
numpy (pure data movement and maxima: exact on every backend); they take the namespace ``xp`` of their input.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from cimsim.network.layers import BinaryConv2d, conv_hw

#: Largest integer every partial sum, row sum and tally must stay below for float32 to hold it exactly
#: (24-bit significand, IEEE 754 binary32).
FLOAT32_EXACT = 2 ** 24


#: One unmasked image with more than this many output positions is unfolded as a strided view of its k·k
#: stacked taps (one copy; BLAS reads the view transposed); anything else (several images, a mask, small
#: outputs), whose rows must end up contiguous, by one gather (``take``). Measured on ResNet-18 and VGG-small
#: CIFAR shapes (1 thread): the gather is 3–4× faster than taps plus a contiguous copy, the view 2× faster than
#: the gather for one 32×32 image.
VIEW_ABOVE = 64


def unfold(xp: Any, x: Any, layer: BinaryConv2d, row_keep: Any | None = None) -> Any:
    """im2col of (N, C, H, W) → (N, P, C·k·k), rows in (C_in, kh, kw) order, zero padding; any backend.

    ``row_keep`` (N, C·k·k), if given, multiplies every window of image i by ``row_keep[i]`` (a dropout mask
    shared by an image's windows), in place on the gathered rows."""
    k, s, p = layer.kernel_size, layer.stride, layer.padding
    n, c, h, w = x.shape
    if c != layer.in_channels:
        raise ValueError(f"{layer.name}: input has {c} channels, layer expects {layer.in_channels}")
    ho, wo = conv_hw(layer, (h, w))
    if p:
        padded = xp.zeros((n, c, h + 2 * p, w + 2 * p), dtype=x.dtype, device=_device(x))
        padded[:, :, p: p + h, p: p + w] = x
        x = padded
    if n == 1 and row_keep is None and ho * wo > VIEW_ABOVE:
        # one strided view per kernel offset, stacked in (kh, kw) order: window element kh·k + kw
        taps = [x[:, :, i: i + (ho - 1) * s + 1: s, j: j + (wo - 1) * s + 1: s] for i in range(k) for j in range(k)]
        win = xp.permute_dims(xp.stack(taps, axis=2), (0, 3, 4, 1, 2))   # (N, Ho, Wo, C, k·k)
        return xp.reshape(win, (n, ho * wo, c * k * k))
    idx = xp.asarray(_window_index(c, x.shape[2], x.shape[3], k, s, ho, wo), device=_device(x))
    rows = xp.reshape(xp.take(xp.reshape(x, (n, -1)), idx, axis=1), (n, ho * wo, c * k * k))
    if row_keep is not None:
        rows *= row_keep[:, None, :]
    return rows


@functools.lru_cache(maxsize=64)
def _window_index(c: int, hp: int, wp: int, k: int, s: int, ho: int, wo: int) -> np.ndarray:
    """Flat index into one padded (C, Hp, Wp) image of every (position, C_in, kh, kw) window element."""
    y, x, ci, kh, kw = np.meshgrid(np.arange(ho), np.arange(wo), np.arange(c), np.arange(k), np.arange(k),
                                   indexing="ij")
    return (ci * hp * wp + (y * s + kh) * wp + (x * s + kw)).reshape(-1).astype(np.int64)


def maxpool(xp: Any, y: Any, pool: int) -> Any:
    """Max-pool (N, C, H, W), kernel = stride = ``pool``, floor mode; any backend."""
    if pool == 1:
        return y
    n, c, h, w = y.shape
    ho, wo = h // pool, w // pool
    y = xp.reshape(y[:, :, : ho * pool, : wo * pool], (n, c, ho, pool, wo, pool))
    return xp.max(y, axis=(3, 5))


def maxpool_nhwc(xp: Any, y: Any, pool: int) -> Any:
    """:func:`maxpool` of channels-last (N, H, W, C): the same maxima, read along contiguous channels."""
    if pool == 1:
        return y
    n, h, w, c = y.shape
    ho, wo = h // pool, w // pool
    y = xp.reshape(y[:, : ho * pool, : wo * pool, :], (n, ho, pool, wo, pool, c))
    return xp.max(y, axis=(2, 4))


def _device(x: Any) -> Any:
    from array_api_compat import device

    return device(x)


@functools.lru_cache(maxsize=64)
def _threshold_cached(theta: bytes, scale: float) -> np.ndarray:
    th = np.frombuffer(theta, dtype=np.float64)
    fin = np.isfinite(th)
    with np.errstate(invalid="ignore", over="ignore"):
        z = np.ceil(th / scale)
        # float64 rounding of s·scale can move the boundary by one step either way: settle it exactly
        for _ in range(2):
            z = np.where((z - 1) * scale >= th, z - 1, z)
            z = np.where(z * scale >= th, z, z + 1)
    if not (np.all((z * scale >= th)[fin]) and np.all(((z - 1) * scale < th)[fin])):
        raise AssertionError("integer threshold did not settle")
    # ±inf (docs/weights.md): a neuron that always outputs −1 / +1, i.e. a z beyond every sum
    z = np.where(fin, z, np.where(th > 0, float(FLOAT32_EXACT), -float(FLOAT32_EXACT)))
    # clipped far outside any partial sum (|s| < 2^24, checked per layer), where float32 is still exact
    return np.clip(z, -float(FLOAT32_EXACT), float(FLOAT32_EXACT)).astype(np.float32)


def integer_threshold(theta: np.ndarray, scale: float) -> np.ndarray:
    """z_j (float32) with ``float64(s)·scale ≥ θ_j ⇔ s ≥ z_j`` for every integer s: the comparator decision of
    an integer sum without a float64 copy (s ↦ float64(s)·scale is monotone, so the decision is a threshold)."""
    return _threshold_cached(np.ascontiguousarray(theta, dtype=np.float64).tobytes(), float(scale))
