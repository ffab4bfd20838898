"""Vectorized execution of the mapped network through the hardware (DESIGN.md §4 "Functional").

Per layer and MC pass: input bits gated by dropout masks from the chip's modules; for every row group
g of ``rows_active`` rows, s_g = Σ_{i∈g} m_i x_i w_ij is converted by the column periphery (exact, clipped
or quantized; optionally perturbed by cell-conductance variation and sense noise); conversions are added
digitally; hidden layers compare with the folded threshold, the last layer returns its sums as logits.
The T passes are a batch axis; inputs stream in chunks so memory does not grow with the data set.

Randomness: chip-instance draws (device variation) come from ``SeedSequence(seed, spawn_key=(domain, layer))``;
per-job draws (dropout masks, sense noise) from counter streams (:mod:`cimsim.rng`) addressed by (evaluation
set, layer, input index, pass[, window]), so a per-input result never depends on chunk size, ``--limit`` or
worker count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cimsim.activity import add_mask_counts, digital_per_job, structural_per_job
from cimsim.faults.inject import ChipFaults, sample_chip_faults
from cimsim.functional.dropout import PASS_STRIDE, MaskSource, job_ids, variation_sigmas
from cimsim.hardware import Hardware
from cimsim.mapping import LayerMap, Mapping
from cimsim.network.layers import (
    INPUT,
    Add,
    AvgPool,
    BinaryConv2d,
    Flatten,
    GlobalAvgPool,
    Network,
    avgpool,
    binarize,
    maxpool,
    unfold,
)
from cimsim.rng import CounterStream

# Seed domains (first element of every spawn_key).
_MODULE_VARIATION, _CELL_VARIATION, _MASKS, _SENSE_NOISE, _SHARED_MASKS = range(5)
# Largest intermediate array per chunk, bytes: bounds memory whatever the data set size.
CHUNK_BYTES = 64 * 2**20


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


@dataclass
class _Prepared:
    lm: LayerMap
    layer: object
    w: np.ndarray            # (F, O) float32
    wg: np.ndarray           # (G, ra, O) float32, zero rows past F
    wsum: np.ndarray         # (F,) row sums of w
    eg: np.ndarray | None    # (G, ra, O) relative conductance error of each cell
    weg: np.ndarray | None   # (G, ra, O) w ∘ e
    p_modules: np.ndarray | None     # drop probability of each module of this chip instance
    conv_hw: tuple[int, int] | None  # conv output size before pooling
    out_shape: tuple[int, ...]       # one input's output after pooling


class Executor:
    """Runs inputs through one chip instance (device variation is drawn once, at construction).

    Args:
        hw: the chip (its Design gives the shapes, p and the regeneration policy).
        mapping: placement of ``net`` on it.
        net: the binary network with its weights.
        seed: root seed.
        passes: T, MC passes per input.
        faults: this chip instance's faults (None: sampled from ``hw.arch.faults`` and ``seed``).
    """

    def __init__(self, hw: Hardware, mapping: Mapping, net: Network, *, seed: int, passes: int,
                 faults: ChipFaults | None = None) -> None:
        if passes > PASS_STRIDE:
            raise ValueError(f"at most {PASS_STRIDE} passes")
        self.hw, self.mapping, self.net, self.design = hw, mapping, net, hw.design
        self.seed, self.passes = seed, passes
        arch = hw.arch
        xbar = hw.component("crossbar")
        ra = xbar.rows_active
        self.quantizer = hw.component("column_periphery").quantizer()
        self.noise = arch.variation.sense_noise_sigma_lsb if arch.variation.enabled else 0.0
        i_l, i_h = xbar.i_lrs_a, xbar.i_hrs_a
        # s_hat = s + kappa·Σ d_i e_ij + Σ d_i x_i w_ij e_ij   (derivation: docs/models.md)
        self.kappa = (i_l + i_h) / (i_l - i_h)
        self.cell_sigma = xbar.conductance_sigma_rel(arch.variation.ra_sigma_rel) if arch.variation.enabled else 0.0
        self.exact = self.quantizer.is_exact_for(ra) and self.noise == 0.0 and self.cell_sigma == 0.0
        # kept sums are rescaled by the TRAINED rate, whatever rate the hardware realises
        self.keep_scale = 1.0 / (1.0 - self.design.trained_p) if self.design.trained_p is not None else 1.0
        sigmas = variation_sigmas(arch.variation)
        self.source = hw.component("dropout_source")
        self.faults = faults if faults is not None else sample_chip_faults(arch.faults, hw, mapping, seed)
        self.exact = self.exact and not self.faults.conversion
        self._fault_bias: dict[int, np.ndarray] = {}
        self.layers: list[_Prepared] = []
        self._streams: dict[tuple[int, ...], CounterStream] = {}
        for lm, layer, ls in zip(mapping.layers, net.layers, self.design.layers, strict=True):
            # the arrays hold the ±1 slices (one column group per weight bit; binary layers: the matrix itself)
            w, bias = self.faults.weights(lm, layer.sliced_matrix.T.astype(np.float32))
            g = lm.total_row_groups
            if bias is not None:  # stuck 2T-2MTJ devices: a bias on every driven row, grouped like wg
                self._fault_bias[lm.index] = np.pad(bias, ((0, g * ra - w.shape[0]), (0, 0))).reshape(g, ra, -1)
            wg = np.zeros((g * ra, w.shape[1]), np.float32)
            wg[: w.shape[0]] = w
            wg = wg.reshape(g, ra, w.shape[1])
            eg = weg = None
            if self.cell_sigma > 0:
                eg = (self.cell_sigma * _rng(seed, _CELL_VARIATION, lm.index).standard_normal(wg.shape)
                      ).astype(np.float32)
                weg = wg * eg
            pk = None
            if lm.dropout:
                pk = self.source.module_probabilities(lm.modules, _rng(seed, _MODULE_VARIATION, lm.index), sigmas)
                pk = self.faults.apply_p(lm, pk)
            self.layers.append(_Prepared(lm, layer, w, wg, w.sum(axis=1), eg, weg, pk, ls.conv_hw, ls.out_shape))
        per_input = max(lp.lm.total_row_groups * lp.lm.mvms * lp.lm.outputs * 4 * passes for lp in self.layers)
        self.chunk = max(1, CHUNK_BYTES // per_input)

    def module_probabilities(self) -> dict[str, np.ndarray]:
        """Per-layer drop probability of every module of this chip instance (sources that have one)."""
        return {lp.lm.name: lp.p_modules for lp in self.layers if lp.p_modules is not None}

    def _stream(self, *key: int) -> CounterStream:
        if key not in self._streams:
            self._streams[key] = CounterStream(self.seed, *key)
        return self._streams[key]

    def _masks(self, lp: _Prepared, stream: int) -> MaskSource:
        shared = self.design.regenerate == "per_pass"
        key = (_SHARED_MASKS, lp.lm.index) if shared else (_MASKS, stream, lp.lm.index)
        return MaskSource(self.source, lp.lm, lp.p_modules, self._stream(*key))

    # ------------------------------------------------------------------ core
    def _convert_sum(self, lp: _Prepared, xm: np.ndarray, noise: np.ndarray | None) -> np.ndarray:
        """Σ_g Q(s_g) for rows ``xm`` (T, N, P, F) → (T, N, P, O); ``noise`` (T, N, P·G·O) sense noise in LSB."""
        if self.exact:
            return xm @ lp.w
        lead = xm.shape[:-1]
        f = xm.shape[-1]
        g, ra, o = lp.wg.shape
        flat = xm.reshape(-1, f)
        if g * ra != f:
            flat = np.concatenate([flat, np.zeros((flat.shape[0], g * ra - f), np.float32)], axis=1)
        xg = flat.reshape(-1, g, ra).transpose(1, 0, 2)           # (G, M, ra)
        s = np.matmul(xg, lp.wg)                                   # (G, M, O)
        if lp.eg is not None:
            s += self.kappa * np.matmul(np.abs(xg), lp.eg) + np.matmul(xg, lp.weg)
        if noise is not None:
            # (T, N, P, G, O) order of the counter draws → (G, T·N·P, O)
            s += np.float32(self.noise) * noise.reshape(-1, g, o).transpose(1, 0, 2)
        self._fault_hook(lp, xg, s)
        q = self.quantizer
        driven = None if q.track_driven_rows else np.abs(xg).sum(axis=-1, keepdims=True)  # (G, M, 1) rows driven
        return q(s, driven).sum(axis=0).reshape(*lead, o)

    def _fault_hook(self, lp: _Prepared, xg: np.ndarray, s: np.ndarray) -> None:
        """Stuck-cell bias on driven rows and converter offsets, added in place to the partial sums s (G, M, O)
        before the converter (cimsim.faults.inject)."""
        bias = self._fault_bias.get(lp.lm.index)
        if bias is not None:
            s += np.matmul(np.abs(xg), bias)
        off = self.faults.offset(lp.lm)
        if off is not None:
            s += off

    def _activity(self, counts, lp: _Prepared, xm: np.ndarray, weight: float) -> None:
        driven = np.abs(xm)
        n_d = float(driven.sum(dtype=np.float64)) * weight
        lrs = 0.5 * (n_d * lp.lm.outputs + float((xm @ lp.wsum).sum(dtype=np.float64)) * weight)
        c = counts[lp.lm.name]
        c["wordline_driver.drive_row"] += n_d * lp.lm.col_blocks
        c["crossbar.conduct_lrs"] += lrs
        c["crossbar.conduct_hrs"] += n_d * lp.lm.outputs - lrs

    def _rows(self, lp: _Prepared, h: np.ndarray) -> np.ndarray:
        """Layer input (T_, N, ...) → crossbar rows (T_, N, P, F)."""
        t_, n = h.shape[:2]
        if isinstance(lp.layer, BinaryConv2d):
            r = unfold(h.reshape(t_ * n, *h.shape[2:]), lp.layer)
            return r.reshape(t_, n, *r.shape[1:])
        return h.reshape(t_, n, 1, -1)

    def _keep(self, lp: _Prepared, input_ids: np.ndarray, stream: int, counts) -> np.ndarray:
        """Row keep mask of the jobs of ``input_ids``: (T, N, 1, F), (T, N, P, F) per_window, (T, 1, 1, F)
        per_pass (shared by every input; its bits are counted once per run, in :meth:`run`)."""
        lm = lp.lm
        masks = self._masks(lp, stream)
        regen = self.design.regenerate
        if regen == "per_pass":
            drops = masks.drops(np.arange(self.passes))[:, None, None, :]
        else:
            ids = job_ids(input_ids, self.passes)                    # (T, N)
            if regen == "per_window" and lm.kind == "conv2d":
                ids = ids[..., None] * lm.mvms + np.arange(lm.mvms)  # (T, N, P)
            drops = masks.drops(ids)
            if ids.ndim == 2:
                drops = drops[:, :, None, :]
            if counts is not None:
                add_mask_counts(counts[lm.name], self.hw, float(drops.size), float(drops.sum()))
        return (~drops)[..., lm.bit_of_row()].astype(np.float32)

    def _noise(self, lp: _Prepared, input_ids: np.ndarray, stream: int, plane: int, rows: np.ndarray) -> np.ndarray:
        """Sense noise (T, N, P·G·O) for the conversions of these jobs (one draw per column read)."""
        t, _, p = rows.shape[:3]
        g, _, o = lp.wg.shape
        st = self._stream(_SENSE_NOISE, stream, lp.lm.index, plane)
        return st.normal(job_ids(input_ids, t), p * g * o)

    def _crossbar(self, lp: _Prepared, h: np.ndarray, *, mc: bool, t: int, n: int, stream: int,
                  input_ids: np.ndarray, counts, record: dict[str, np.ndarray] | None) -> np.ndarray:
        """Digital sums a (T_, N, P, outputs) float64 of one crossbar layer for layer input ``h`` (T_, N, ...),
        after dropout, conversion, slice shift-add and the 1/(1 − p) rescale."""
        lm = lp.lm
        rows = self._rows(lp, h)                 # (T_, N, P, F)
        dropped = mc and lm.dropout
        scale_keep = None
        if dropped:
            keep = self._keep(lp, input_ids, stream, counts)
            if record is not None:
                record[lm.name] = np.broadcast_to(keep, (keep.shape[0], *rows.shape[1:]))
            if lm.granularity == "layer_scale":
                # Scale-Dropout: the rows are read as usual; the one bit selects the layer's scaled sum or 0
                # at the digital scale step (docs/models.md "Scale-Dropout")
                scale_keep = keep[..., :1].astype(np.float64)        # (T, N, 1, 1)
            else:
                rows = rows * keep
        if self.noise > 0 and rows.shape[0] != t:
            rows = np.broadcast_to(rows, (t, *rows.shape[1:]))
        # the hardware runs every layer in every pass; a pass-invariant layer is computed once here
        weight = t / rows.shape[0]
        if lm.first:
            xi = rows.astype(np.int64)
            s = np.zeros((*rows.shape[:-1], lm.outputs), np.float32)
            for b in range(lm.planes):
                plane = ((xi >> b) & 1).astype(np.float32)
                noise = self._noise(lp, input_ids, stream, b, plane) if self.noise > 0 else None
                s += np.float32(2 ** b) * self._convert_sum(lp, plane, noise)
                if counts is not None:
                    self._activity(counts, lp, plane, weight)
        else:
            noise = self._noise(lp, input_ids, stream, 0, rows) if self.noise > 0 else None
            s = self._convert_sum(lp, rows, noise)
            if counts is not None:
                self._activity(counts, lp, rows, weight)
        if counts is not None:
            for k, v in structural_per_job(lm, self.hw).items():
                counts[lm.name][k] += v * t * n
        a = s.astype(np.float64)
        if lm.weight_bits > 1:  # digital shift-add of the weight slices: Σ_k 2^k s_k (columns k·neurons + o)
            a = a.reshape(*a.shape[:-1], lm.weight_bits, lm.neurons)
            a = np.tensordot(a, 2.0 ** np.arange(lm.weight_bits), axes=([-2], [0]))
        if dropped:
            a = a * self.keep_scale
        if scale_keep is not None:
            a = a * scale_keep
        return a

    def forward(self, x_int: np.ndarray, *, mc: bool, stream: int, input_ids: np.ndarray, counts=None,
                record: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """Logits (T, N, K) of inputs ``x_int`` whose indices in their evaluation set are ``input_ids``
        (T = passes when ``mc``, else 1 with dropout off).

        Walks the network graph in topological order: tensors are (T_, N, ...) with T_ = 1 while they do not
        depend on the pass (up to the first dropped layer) and T after; crossbar layers run through the
        hardware, digital nodes (add, pools, flatten) are exact arithmetic (layers.py semantics).
        ``record``, if given, receives each dropped layer's row keep mask, broadcast to (T, N, P, F).
        """
        t = self.passes if mc else 1
        n = x_int.shape[0]
        net = self.net
        vals: dict[str, np.ndarray] = {INPUT: x_int.astype(np.float32)[None]}  # the first layers: same every pass
        real: dict[str, bool] = {INPUT: False}
        prepared = {lp.lm.name: lp for lp in self.layers}
        last = len(net.nodes) - 1
        for i, node in enumerate(net.nodes):
            ins = net.inputs_of(i)
            h = vals[ins[0]]
            lp = prepared.get(node.name)
            if lp is None:  # a digital node
                if counts is not None:
                    for k, v in digital_per_job(self.design.node(node.name), self.hw).items():
                        counts[node.name][k] += v * t * n
                if isinstance(node, Add):
                    out = vals[ins[0]].astype(np.float64)
                    for src in ins[1:]:
                        out = out + vals[src]
                elif isinstance(node, AvgPool):
                    out = avgpool(h.astype(np.float64), node.kernel_size, node.stride or node.kernel_size)
                elif isinstance(node, GlobalAvgPool):
                    out = h.astype(np.float64).mean(axis=(-2, -1))
                else:  # flatten
                    out = h.reshape(*h.shape[:2], -1)
                vals[node.name] = out
                real[node.name] = real[ins[0]] if isinstance(node, Flatten) else True
                continue
            lm = lp.lm
            if real[ins[0]]:
                h = binarize(h).astype(np.float32)  # a real tensor drives the rows by its sign
            a = self._crossbar(lp, h, mc=mc, t=t, n=n, stream=stream, input_ids=input_ids, counts=counts,
                               record=record)
            t_ = a.shape[0]
            layer = lp.layer
            if i == last:
                logits = layer.scale * a[:, :, 0, :] + layer.bias
                return np.broadcast_to(logits, (t, n, logits.shape[-1]))
            if lm.out_real:
                out = layer.scale * a + layer.bias                                       # (T_, N, P, O) float64
            else:
                out = np.where(a >= layer.threshold, np.float32(1), np.float32(-1))     # (T_, N, P, O)
            if isinstance(layer, BinaryConv2d):
                hc, wc = lp.conv_hw
                out = out.reshape(t_ * n, hc, wc, lm.neurons).transpose(0, 3, 1, 2)
                out = maxpool(out, layer.pool).reshape(t_, n, *lp.out_shape)
            else:
                out = out[:, :, 0, :]
            vals[node.name], real[node.name] = out, lm.out_real
        raise AssertionError("unreachable")

    def run(self, x_int: np.ndarray, *, mc: bool = True, stream: int = 0, counts=None,
            progress: Callable[[int], None] | None = None, chunk: int | None = None) -> np.ndarray:
        """Logits (T, N, K) of all inputs, streamed in chunks (``chunk`` inputs; default from a memory
        budget); adds activity to ``counts`` if given. Input k of ``x_int`` is input k of stream ``stream``."""
        outs = []
        if counts is not None and mc and self.design.regenerate == "per_pass":
            for lp in self.layers:  # T shared masks, generated once for the whole run
                if lp.lm.dropout:
                    drops = self._masks(lp, stream).drops(np.arange(self.passes))
                    add_mask_counts(counts[lp.lm.name], self.hw, float(drops.size), float(drops.sum()))
        size = chunk or self.chunk
        for start in range(0, x_int.shape[0], size):
            xb = x_int[start: start + size]
            ids = np.arange(start, start + xb.shape[0])
            outs.append(np.array(self.forward(xb, mc=mc, stream=stream, input_ids=ids, counts=counts)))
            if progress is not None:
                progress(xb.shape[0])
        return np.concatenate(outs, axis=1)
