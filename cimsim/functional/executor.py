"""Vectorized execution of the mapped network through the hardware (DESIGN.md §4 "Functional").

Per layer and MC pass: input bits gated by dropout masks from the chip's modules; for every row group
g of ``rows_active`` rows, s_g = Σ_{i∈g} m_i x_i w_ij is converted by the column periphery (exact, clipped
or quantized; optionally perturbed by cell-conductance variation and sense noise); conversions are added
digitally; hidden layers compare with the folded threshold, the last layer returns its sums as logits.
The T passes are a batch axis; inputs stream in chunks so memory does not grow with the data set.

Randomness: every stream is ``SeedSequence(seed, spawn_key=(domain, ...))``, so a draw depends only on
the seed and what it is for, never on call order or chunking of other streams.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cimsim.activity import add_mask_counts, structural_per_job
from cimsim.components import mtj
from cimsim.functional.dropout import MaskSource, variation_sigmas
from cimsim.functional.periphery import Quantizer
from cimsim.hardware import Hardware, mtj_params
from cimsim.mapping import LayerMap, Mapping
from cimsim.network.layers import BinaryConv2d, Network, conv_hw, maxpool, unfold
from cimsim.spec.workload import WorkloadSpec

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
    masks: MaskSource | None
    shared: np.ndarray | None  # per_pass masks, (T, 1, 1, F) keep
    conv_hw: tuple[int, int] | None  # conv output size before pooling
    out_shape: tuple[int, ...]       # one input's output after pooling


class Executor:
    """Runs inputs through one chip instance (device variation is drawn once, at construction).

    Args:
        hw: the chip.
        mapping: placement of ``net`` on it.
        net: the binary network with its weights.
        workload: dropout and MC settings.
        seed: root seed.
        passes: T, MC passes per input.
    """

    def __init__(self, hw: Hardware, mapping: Mapping, net: Network, workload: WorkloadSpec, *, seed: int,
                 passes: int) -> None:
        self.hw, self.mapping, self.net, self.wl = hw, mapping, net, workload
        self.seed, self.passes = seed, passes
        arch = hw.arch
        cp = arch.column_periphery
        ra = arch.crossbar.rows_active
        self.quantizer = Quantizer(hw.levels, float(cp.full_scale_rows or ra))
        self.noise = arch.variation.sense_noise_sigma_lsb if arch.variation.enabled else 0.0
        xbar = hw.component("crossbar")
        i_l, i_h = xbar.i_lrs_a, xbar.i_hrs_a
        # s_hat = s + kappa·Σ d_i e_ij + Σ d_i x_i w_ij e_ij   (derivation: docs/functional.md)
        self.kappa = (i_l + i_h) / (i_l - i_h)
        # RA spread moves the MTJ part of the cell resistance only; the access transistor dilutes it.
        storage = mtj_params(arch.mtj.storage, arch.mtj.t_ref_k)
        r_mtj = 0.5 * (mtj.r_p_ohm(storage) + mtj.r_ap_ohm(storage, arch.crossbar.read_voltage_v))
        self.cell_sigma = (arch.variation.ra_sigma_rel * r_mtj / (r_mtj + arch.cell.r_access_ohm)
                           if arch.variation.enabled else 0.0)
        self.exact = self.quantizer.is_exact_for(ra) and self.noise == 0.0 and self.cell_sigma == 0.0
        sigmas = variation_sigmas(arch.variation)
        source = hw.component("dropout_source")
        self.layers: list[_Prepared] = []
        self._shared_drops: dict[str, float] = {}
        in_shapes, out_shapes = net.input_shapes(), net.output_shapes()
        for lm, layer, in_shape, out_shape in zip(mapping.layers, net.layers, in_shapes, out_shapes, strict=True):
            w = layer.matrix.T.astype(np.float32)
            g = lm.total_row_groups
            wg = np.zeros((g * ra, w.shape[1]), np.float32)
            wg[: w.shape[0]] = w
            wg = wg.reshape(g, ra, w.shape[1])
            eg = weg = None
            if self.cell_sigma > 0:
                eg = (self.cell_sigma * _rng(seed, _CELL_VARIATION, lm.index).standard_normal(wg.shape)
                      ).astype(np.float32)
                weg = wg * eg
            ms = shared = None
            if lm.dropout:
                pk = None
                if arch.spindrop.model == "mtj_spindrop":
                    pk = source.drop_probabilities(lm.modules, _rng(seed, _MODULE_VARIATION, lm.index), sigmas)
                ms = MaskSource(source, hw.dropout_p, lm.modules, lm.generations, lm.mask_bits, pk)
                if workload.dropout.regenerate == "per_pass":
                    drops = ms.drops((passes,), _rng(seed, _SHARED_MASKS, lm.index))
                    shared = (~drops)[:, lm.bit_of_row()].astype(np.float32)[:, None, None, :]
                    self._shared_drops[lm.name] = float(drops.sum())
            chw = conv_hw(layer, in_shape[1:]) if isinstance(layer, BinaryConv2d) else None
            self.layers.append(_Prepared(lm, layer, w, wg, w.sum(axis=1), eg, weg, ms, shared, chw, out_shape))
        per_input = max(lp.lm.total_row_groups * lp.lm.mvms * lp.lm.outputs * 4 * passes for lp in self.layers)
        self.chunk = max(1, CHUNK_BYTES // per_input)

    def module_probabilities(self) -> dict[str, np.ndarray]:
        """Per-layer drop probability of every module of this chip instance (MTJ source only)."""
        return {lp.lm.name: lp.masks.p_modules for lp in self.layers
                if lp.masks is not None and lp.masks.p_modules is not None}

    # ------------------------------------------------------------------ core
    def _convert_sum(self, lp: _Prepared, xm: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        """Σ_g Q(s_g) for rows ``xm`` (..., F) → (..., O)."""
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
        if self.noise > 0:
            s += np.float32(self.noise) * rng.standard_normal(s.shape, dtype=np.float32)
        return self.quantizer(s).sum(axis=0).reshape(*lead, o)

    def _activity(self, counts, lp: _Prepared, xm: np.ndarray, weight: float) -> None:
        driven = np.abs(xm)
        n_d = float(driven.sum(dtype=np.float64)) * weight
        lrs = 0.5 * (n_d * lp.lm.outputs + float((xm @ lp.wsum).sum(dtype=np.float64)) * weight)
        c = counts[lp.lm.name]
        c["crossbar.drive_row"] += n_d * lp.lm.col_blocks
        c["crossbar.conduct_lrs"] += lrs
        c["crossbar.conduct_hrs"] += n_d * lp.lm.outputs - lrs

    def _rows(self, lp: _Prepared, h: np.ndarray) -> np.ndarray:
        """Layer input (T_, N, ...) → crossbar rows (T_, N, P, F)."""
        t_, n = h.shape[:2]
        if isinstance(lp.layer, BinaryConv2d):
            r = unfold(h.reshape(t_ * n, *h.shape[2:]), lp.layer)
            return r.reshape(t_, n, *r.shape[1:])
        return h.reshape(t_, n, 1, -1)

    def _mask(self, lp: _Prepared, t: int, n: int, rng: np.random.Generator, counts) -> np.ndarray:
        lm = lp.lm
        if lp.shared is not None:
            return lp.shared
        per_window = self.wl.dropout.regenerate == "per_window" and lm.kind == "conv2d"
        lead = (t, n, lm.mvms) if per_window else (t, n)
        drops = lp.masks.drops(lead, rng)
        if counts is not None:
            add_mask_counts(counts[lm.name], self.hw, float(drops.size), float(drops.sum()))
        keep = (~drops)[..., lm.bit_of_row()].astype(np.float32)
        return keep if per_window else keep[:, :, None, :]

    def forward(self, x_int: np.ndarray, *, mc: bool, stream: int, chunk: int, counts=None,
                record: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """Logits (T, N, K) for one chunk (T = passes when ``mc``, else 1 with dropout off).

        ``record``, if given, receives each dropped layer's row keep mask, broadcast to (T, N, P, F).
        """
        t = self.passes if mc else 1
        n = x_int.shape[0]
        h = x_int.astype(np.float32)[None]          # (1, N, C, H, W): the first layer is the same every pass
        last = len(self.layers) - 1
        for i, lp in enumerate(self.layers):
            lm = lp.lm
            rows = self._rows(lp, h)                 # (T_, N, P, F)
            noise_rng = _rng(self.seed, _SENSE_NOISE, stream, chunk, i) if self.noise > 0 else None
            dropped = mc and lm.dropout
            if dropped:
                keep = self._mask(lp, t, n, _rng(self.seed, _MASKS, stream, chunk, i), counts)
                rows = rows * keep
                if record is not None:
                    record[lm.name] = np.broadcast_to(keep, rows.shape)
            if self.noise > 0 and rows.shape[0] != t:
                rows = np.broadcast_to(rows, (t, *rows.shape[1:]))
            # the hardware runs every layer in every pass; a pass-invariant layer is computed once here
            weight = t / rows.shape[0]
            if lm.first:
                xi = rows.astype(np.int64)
                s = np.zeros((*rows.shape[:-1], lm.outputs), np.float32)
                for b in range(lm.planes):
                    plane = ((xi >> b) & 1).astype(np.float32)
                    s += np.float32(2 ** b) * self._convert_sum(lp, plane, noise_rng)
                    if counts is not None:
                        self._activity(counts, lp, plane, weight)
            else:
                s = self._convert_sum(lp, rows, noise_rng)
                if counts is not None:
                    self._activity(counts, lp, rows, weight)
            if counts is not None:
                for k, v in structural_per_job(lm, self.hw).items():
                    counts[lm.name][k] += v * t * n
            a = s.astype(np.float64)
            if dropped:
                a = a / (1.0 - self.wl.dropout.p)
            t_ = a.shape[0]
            if i == last:
                logits = lp.layer.scale * a[:, :, 0, :] + lp.layer.bias
                return np.broadcast_to(logits, (t, n, logits.shape[-1]))
            out = np.where(a >= lp.layer.threshold, np.float32(1), np.float32(-1))  # (T_, N, P, O)
            if isinstance(lp.layer, BinaryConv2d):
                hc, wc = lp.conv_hw
                out = out.reshape(t_ * n, hc, wc, lm.outputs).transpose(0, 3, 1, 2)
                out = maxpool(out, lp.layer.pool).reshape(t_, n, *lp.out_shape)
            h = out
        raise AssertionError("unreachable")

    def run(self, x_int: np.ndarray, *, mc: bool = True, stream: int = 0, counts=None,
            progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Logits (T, N, K) of all inputs, streamed in chunks; adds activity to ``counts`` if given."""
        outs = []
        if counts is not None and mc:
            for lp in self.layers:
                if lp.shared is not None:
                    gen = float(lp.shared.shape[0] * lp.lm.mask_bits)
                    add_mask_counts(counts[lp.lm.name], self.hw, gen, self._shared_drops[lp.lm.name])
        for ci, start in enumerate(range(0, x_int.shape[0], self.chunk)):
            xb = x_int[start: start + self.chunk]
            outs.append(np.array(self.forward(xb, mc=mc, stream=stream, chunk=ci, counts=counts)))
            if progress is not None:
                progress(xb.shape[0])
        return np.concatenate(outs, axis=1)
