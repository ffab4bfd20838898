"""Golden numpy forward pass of a binary network (plain and obviously correct, not fast).

This is the model the hardware executor must reproduce bit for bit with an ideal periphery.
"""

from __future__ import annotations

import numpy as np

from cimsim.network.layers import (
    INPUT,
    Add,
    AvgPool,
    BinaryConv2d,
    BinaryLinear,
    Flatten,
    GlobalAvgPool,
    Network,
    avgpool,
    conv_hw,
    maxpool,
    read_input,
)


def _conv_sum(x: np.ndarray, layer: BinaryConv2d, mask: np.ndarray | None) -> np.ndarray:
    """Integer pre-activation of a conv layer, (N, out, Ho, Wo), by a loop over kernel offsets."""
    n, c, h, w = x.shape
    k, s, p = layer.kernel_size, layer.stride, layer.padding
    ho, wo = conv_hw(layer, (h, w))
    xp = np.zeros((n, c, h + 2 * p, w + 2 * p), dtype=np.float64)
    xp[:, :, p : p + h, p : p + w] = x
    if mask is not None:
        if mask.ndim == 2:
            m = mask.reshape(n, c, k, k).astype(np.float64)
        elif mask.ndim == 3:
            m = mask.reshape(n, ho, wo, c, k, k).astype(np.float64)
        else:
            raise ValueError(f"{layer.name}: mask must be (N, fan_in) or (N, P, fan_in), got {mask.shape}")
    out = np.zeros((n, layer.out_features, ho, wo), dtype=np.float64)
    wf = layer.weight.astype(np.float64)
    for kh in range(k):
        for kw in range(k):
            patch = xp[:, :, kh : kh + s * (ho - 1) + 1 : s, kw : kw + s * (wo - 1) + 1 : s]  # (N,C,Ho,Wo)
            if mask is not None:
                if mask.ndim == 2:
                    patch = patch * m[:, :, kh, kw][:, :, None, None]
                else:
                    patch = patch * m[:, :, :, :, kh, kw].transpose(0, 3, 1, 2)
            out += np.einsum("nchw,oc->nohw", patch, wf[:, :, kh, kw], optimize=True)
    return out


def reference_forward(net: Network, x_int: np.ndarray, masks: dict[str, np.ndarray] | None = None,
                      p: float = 0.0) -> np.ndarray:
    """Logits (N, K) of ``net`` for integer inputs ``x_int`` (N, C, H, W) in [0, 2**input_bits - 1].

    Args:
        net: the binary network.
        x_int: first-layer inputs, unsigned integers (any int/float dtype holding integers).
        masks: ``None`` = deterministic mode (no dropout, no scaling). Otherwise a dict layer name -> keep bits
            (1 = row driven, 0 = dropped) for every layer whose input is dropped in this MC pass; layers absent
            from the dict are not dropped. Shapes: linear ``(N, fan_in)``; conv ``(N, fan_in)`` (same mask for
            every window) or ``(N, P, fan_in)`` (one mask per window, P = Ho*Wo in row-major order); the
            fan_in axis is ordered (C_in, kh, kw) like ``weight.reshape(out, -1)``. To run T passes at once,
            stack them into the batch axis (N = T * inputs).
        p: drop probability; a dropped layer's sum is scaled by ``1 / (1 - p)``.

    Semantics: ``s = sum_i m_i x_i w_ij`` (exact: integer sums held in float64), ``a = s / (1 - p)`` for a
    dropped layer else ``s``; hidden layers output ``+1 if a >= threshold else -1`` (real-output layers
    ``scale * a + bias``) followed by max-pool (conv) and a (C, H, W) flatten; the last node returns
    ``scale * a + bias``. Graph nodes: an add sums its branches, pools average, a crossbar layer reading a
    real tensor binarizes it (x >= 0 → +1) first, or quantizes it to its ``input_bits`` (layers.py).
    """
    masks = masks or {}
    for name in masks:
        if name not in net.names:
            raise KeyError(f"mask for unknown layer {name!r}")
        if net.reads_input(name):
            raise ValueError(f"{name}: a layer reading the network input takes multi-bit inputs and cannot be dropped")
    x = np.asarray(x_int, dtype=np.float64)
    if x.shape[1:] != net.input_shape:
        raise ValueError(f"input shape {x.shape[1:]} != network input_shape {net.input_shape}")
    if not net.nodes:
        raise ValueError("empty network")
    last = len(net.nodes) - 1
    if not isinstance(net.nodes[last], BinaryLinear):
        raise ValueError(f"{net.nodes[last].name}: the last layer must be linear")
    vals: dict[str, np.ndarray] = {INPUT: x}
    real: dict[str, bool] = {INPUT: False}
    for i, node in enumerate(net.nodes):
        ins = net.inputs_of(i)
        h = vals[ins[0]]
        if isinstance(node, Add):
            vals[node.name] = sum(vals[s] for s in ins)
            real[node.name] = True
            continue
        if isinstance(node, AvgPool):
            vals[node.name] = avgpool(h, node.kernel_size, node.stride or node.kernel_size)
        elif isinstance(node, GlobalAvgPool):
            vals[node.name] = h.mean(axis=(2, 3))
        elif isinstance(node, Flatten):
            vals[node.name] = h.reshape(h.shape[0], -1)
            real[node.name] = real[ins[0]]
            continue
        if not isinstance(node, BinaryLinear | BinaryConv2d):
            real[node.name] = True
            continue
        if real[ins[0]]:
            h = read_input(h, node)  # sign, or the stated input_bits quantization
        mask = masks.get(node.name)
        if isinstance(node, BinaryLinear):
            h = h.reshape(h.shape[0], -1)
            if mask is not None:
                if mask.shape != h.shape:
                    raise ValueError(f"{node.name}: mask shape {mask.shape} != {h.shape}")
                h = h * mask
            s = h @ node.weight.astype(np.float64).T  # (N, out): integer matmul, multi-bit weights included
        else:
            s = _conv_sum(h, node, mask)  # (N, out, Ho, Wo)
        a = s / (1.0 - p) if mask is not None else s
        bshape = (slice(None),) if a.ndim == 2 else (slice(None), None, None)
        if i == last:
            return node.scale * a + node.bias
        if node.real_output:
            y = node.scale[bshape] * a + node.bias[bshape]
        else:
            y = np.where(a >= node.threshold[bshape], 1.0, -1.0)
        if isinstance(node, BinaryConv2d):
            y = maxpool(y, node.pool)
        vals[node.name], real[node.name] = y, node.real_output
    raise AssertionError("unreachable")


def sample_masks(net: Network, layers: list[str], p: float, granularity: str | None, n: int,
                 rng: np.random.Generator, per_window: bool = False) -> dict[str, np.ndarray]:
    """Fresh Bernoulli keep bits (uint8, P(1) = 1 - p) for the inputs of ``layers``; one row of the batch each.

    ``row`` (and ``None``): one bit per crossbar row (fan_in element). ``channel``: one bit per input channel of
    a conv layer, shared by its k*k rows (a linear layer falls back to ``row``). ``layer_scale``: one bit per
    layer, shared by all its rows (gating every input of a layer by m scales its sum by m: Scale-Dropout).
    ``per_window``: conv masks get shape (n, P, fan_in), otherwise (n, fan_in).
    """
    out: dict[str, np.ndarray] = {}
    for name in layers:
        layer = net.layer(name)
        pos = net.positions(layer) if per_window and isinstance(layer, BinaryConv2d) else None
        lead = (n,) if pos is None else (n, pos)
        if granularity == "layer_scale":
            m = np.repeat((rng.random((*lead, 1)) >= p).astype(np.uint8), layer.fan_in, axis=-1)
        elif granularity == "channel" and isinstance(layer, BinaryConv2d):
            k2 = layer.kernel_size ** 2
            m = (rng.random((*lead, layer.in_channels)) >= p).astype(np.uint8)
            m = np.repeat(m, k2, axis=-1)
        else:
            m = (rng.random((*lead, layer.fan_in)) >= p).astype(np.uint8)
        out[name] = m
    return out


def mc_logits(net: Network, x_int: np.ndarray, layers: list[str], p: float, granularity: str | None,
              passes: int, rng: np.random.Generator, chunk: int = 4096) -> np.ndarray:
    """Logits (T, N, K) of ``passes`` MC-dropout passes with fresh masks per pass and input."""
    n = x_int.shape[0]
    xs = np.broadcast_to(x_int[None], (passes, *x_int.shape)).reshape(passes * n, *x_int.shape[1:])
    outs = []
    for start in range(0, xs.shape[0], chunk):
        xb = xs[start : start + chunk]
        masks = sample_masks(net, layers, p, granularity, xb.shape[0], rng)
        outs.append(reference_forward(net, xb, masks if layers else None, p))
    return np.concatenate(outs).reshape(passes, n, -1)
