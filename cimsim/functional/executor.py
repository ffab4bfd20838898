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

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cimsim.activity import add_mask_counts, digital_per_job, structural_per_job
from cimsim.components.sense_margin import chip_read_error
from cimsim.faults.inject import ChipFaults, sample_chip_faults
from cimsim.functional.dropout import PASS_STRIDE, MaskSource, job_ids, variation_sigmas
from cimsim.hardware import Hardware
from cimsim.limits import CHUNK_BYTES, usable_cpus
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
    maxpool,
    read_input,
    unfold,
)
from cimsim.rng import CounterStream

# Seed domains (first element of every spawn_key).
_MODULE_VARIATION, _CELL_VARIATION, _MASKS, _SENSE_NOISE, _SHARED_MASKS = range(5)
# Rows per block of the dense row-group route: a block's (rows × outputs) float32 sums stay in L2 cache.
_ROW_BLOCK = 256
# A chunk runs as this many parts, by input, on up to as many worker threads. Fixed (not the thread count) so
# that the activity sums, which are added per part, are the same bits on any machine; a quarter chunk also keeps
# the masks and sums of one part in cache better than a whole one (measured: docs/performance.md).
PARTS = 4
# Above this fraction of (input, group) pairs that may convert with an error, recomputing them costs more than
# computing every group (the dense route).
_DENSE_FRACTION = 0.5


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


class _CountLog:
    """Stands in for an activity table (``table[layer][action] += v``) in a worker thread: it records every
    increment, in order, for :meth:`replay` into the real table. Float sums depend on their order, so replaying
    the parts in input order reproduces a serial run's counts exactly."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str, float]] = []

    def __getitem__(self, layer: str) -> _LayerLog:
        return _LayerLog(self.log, layer)

    def replay(self, counts) -> None:
        for layer, action, v in self.log:
            counts[layer][action] += v


class _LayerLog:
    """One layer's row of a :class:`_CountLog`: reads 0, so ``row[action] += v`` stores exactly v."""

    __slots__ = ("log", "layer")

    def __init__(self, log: list[tuple[str, str, float]], layer: str) -> None:
        self.log, self.layer = log, layer

    def __getitem__(self, action: str) -> float:
        return 0.0

    def __setitem__(self, action: str, value: float) -> None:
        self.log.append((self.layer, action, value))


@dataclass
class _Prepared:
    lm: LayerMap
    layer: object
    w: np.ndarray            # (F, O) float32
    wg: np.ndarray           # (G, ra, O) float32, zero rows past F
    wsum: np.ndarray         # (F,) row sums of w
    eg: np.ndarray | None    # (G, ra, O) relative conductance error of each cell
    weg: np.ndarray | None   # (G, ra, O) w ∘ e
    group_of_row: np.ndarray  # (F, G) float32 one-hot: row i belongs to row group i // ra
    p_modules: np.ndarray | None     # drop probability of each module of this chip instance
    conv_hw: tuple[int, int] | None  # conv output size before pooling
    out_shape: tuple[int, ...]       # one input's output after pooling


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
    z = np.where(fin, z, np.where(th > 0, 2.0 ** 24, -(2.0 ** 24)))
    # clipped far outside any partial sum (|s| < 2^24), where float32 is still exact
    return np.clip(z, -2.0 ** 24, 2.0 ** 24).astype(np.float32)


def _integer_threshold(theta: np.ndarray, scale: float) -> np.ndarray:
    """z_j (float32) with ``float64(s)·scale ≥ θ_j ⇔ s ≥ z_j`` for every integer s: the comparator decision of
    an integer sum without a float64 copy (s ↦ float64(s)·scale is monotone, so the decision is a threshold)."""
    return _threshold_cached(np.ascontiguousarray(theta, dtype=np.float64).tobytes(), float(scale))


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
                 faults: ChipFaults | None = None, threads: int | None = None) -> None:
        if passes > PASS_STRIDE:
            raise ValueError(f"at most {PASS_STRIDE} passes")
        self.hw, self.mapping, self.net, self.design = hw, mapping, net, hw.design
        self.seed, self.passes = seed, passes
        self.threads = usable_cpus() if threads is None else threads
        if self.threads < 1:
            raise ValueError(f"threads = {threads}: at least 1")
        arch = hw.arch
        xbar = hw.component("crossbar")
        ra = xbar.rows_active
        self.quantizer = hw.component("column_periphery").quantizer()
        self.noise = arch.variation.sense_noise_sigma_lsb if arch.variation.enabled else 0.0
        # crossbar.read_model: electrical → per-level read error from the circuit (docs/analog.md "Sense margin")
        self.read_error = chip_read_error(hw) if xbar.read_model == "electrical" else None
        self._noisy = self.noise > 0 or self.read_error is not None
        i_l, i_h = xbar.i_lrs_a, xbar.i_hrs_a
        # s_hat = s + kappa·Σ d_i e_ij + Σ d_i x_i w_ij e_ij   (derivation: docs/models.md)
        self.kappa = (i_l + i_h) / (i_l - i_h)
        self.cell_sigma = xbar.conductance_sigma_rel(arch.variation.ra_sigma_rel) if arch.variation.enabled else 0.0
        self.faults = faults if faults is not None else sample_chip_faults(arch.faults, hw, mapping, seed)
        self.exact = (self.quantizer.is_exact_for(ra) and not self._noisy and self.cell_sigma == 0.0
                      and not self.faults.conversion)
        # Without noise or cell variation every partial sum is an integer in [−ra, ra]: the converter is a table,
        # unless its output also depends on the column (an even-level symmetric ladder trims its centre
        # reference by column parity), on the rows driven (fixed references) or on injected faults.
        self.ra = ra
        self._blas = None
        self._integer_sums = not self._noisy and self.cell_sigma == 0.0
        domain = np.arange(-ra, ra + 1, dtype=np.float32)
        q = self.quantizer
        two_cols = q(np.stack([domain, domain], axis=1), np.full((domain.size, 1), np.float32(ra)))
        self._table = two_cols[:, 0].copy()
        self._table_ok = (bool(np.array_equal(two_cols[:, 0], two_cols[:, 1]))
                          and (q.track_driven_rows or q.kappa == 0.0) and not self.faults.conversion)
        self._table_integer = bool(np.all(self._table == np.round(self._table)))
        # converted sums are integers too (exact in float32): the comparator can work on them directly
        self._integer_out = self._integer_sums and (self.exact or (self._table_integer and self._table_ok))
        wrong = np.abs(domain[self._table != domain])
        # fewest driven rows of a group that can convert with an error (|s_g| ≤ driven rows)
        self._first_error = int(wrong.min()) if wrong.size else ra + 1
        # kept sums are rescaled by the TRAINED rate, whatever rate the hardware realises
        self.keep_scale = 1.0 / (1.0 - self.design.trained_p) if self.design.trained_p is not None else 1.0
        sigmas = variation_sigmas(arch.variation)
        self.source = hw.component("dropout_source")
        self.layers: list[_Prepared] = []
        self._fault_bias: dict[int, np.ndarray] = {}
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
            one_hot = (np.arange(w.shape[0])[:, None] // ra == np.arange(g)[None, :]).astype(np.float32)
            self.layers.append(_Prepared(lm, layer, w, wg, w.sum(axis=1), eg, weg, one_hot, pk, ls.conv_hw,
                                         ls.out_shape))
        # float32 rows, keep masks and sums plus their float64 post-processing, per input (all T passes)
        per_input = max(lp.lm.mvms * (lp.lm.fan_in + lp.lm.columns) * 16 * passes for lp in self.layers)
        self.chunk = max(1, CHUNK_BYTES // per_input)
        # every stream a run may draw from, made before any worker thread reads the dict
        self._streams: dict[tuple[int, ...], CounterStream] = {}

    def module_probabilities(self) -> dict[str, np.ndarray]:
        """Per-layer drop probability of every module of this chip instance (sources that have one)."""
        return {lp.lm.name: lp.p_modules for lp in self.layers if lp.p_modules is not None}

    def _stream(self, *key: int) -> CounterStream:
        # worker threads may race to add a key; both build the same stateless stream, so either may win
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams.setdefault(key, CounterStream(self.seed, *key))
        return stream

    def _masks(self, lp: _Prepared, stream: int) -> MaskSource:
        shared = self.design.regenerate == "per_pass"
        key = (_SHARED_MASKS, lp.lm.index) if shared else (_MASKS, stream, lp.lm.index)
        return MaskSource(self.source, lp.lm, lp.p_modules, self._stream(*key))

    # ------------------------------------------------------------------ core
    def _convert_sum(self, lp: _Prepared, xm: np.ndarray, noise: np.ndarray | None) -> np.ndarray:
        """Σ_g Q(s_g) for rows ``xm`` (T, N, P, F) → (T, N, P, O); ``noise`` (T, N, P·G·O) sense noise in LSB.

        Every route gives the same bits: the exact route and the clip-correction route add integers (exact in
        float32 below 2^24, so the order does not matter); the dense route adds the groups in g order, as a
        sum over the group axis does.
        """
        lead = xm.shape[:-1]
        f = xm.shape[-1]
        o = lp.w.shape[1]
        flat = xm.reshape(-1, f)                 # one 2-D GEMM, not T·N vector–matrix products
        if self.exact:
            return (flat @ lp.w).reshape(*lead, o)
        if self._integer_sums and self._table_integer and self._table_ok:
            out = self._clip_corrected(lp, flat)
            if out is not None:
                return out.reshape(*lead, o)
        return self._dense_groups(lp, flat, noise).reshape(*lead, o)

    def _clip_corrected(self, lp: _Prepared, flat: np.ndarray) -> np.ndarray | None:
        """Σ_g Q(s_g) = Σ_g s_g + Σ_g (Q(s_g) − s_g) for integer partial sums and an integer-valued Q: the full
        GEMM gives Σ_g s_g; a group can only be converted with an error when at least ``_first_error`` of its
        rows are driven (|s_g| ≤ driven rows), so only those (input, group) pairs are recomputed. None when too
        many pairs qualify for this to pay (then the dense route runs)."""
        ra = self.ra
        g, _, o = lp.wg.shape
        f = flat.shape[1]
        driven = np.abs(flat) @ lp.group_of_row            # (M, G) driven rows per group, exact integers
        cand = driven >= np.float32(self._first_error)
        if cand.mean() > _DENSE_FRACTION:
            return None
        out = flat @ lp.w
        # dozens of tiny GEMMs: BLAS threads would spend more time waking up than multiplying
        with self._blas_threads(1):
            for k in np.flatnonzero(cand.any(axis=0)):
                rows = np.flatnonzero(cand[:, k])
                s = flat[rows, k * ra: min(f, (k + 1) * ra)] @ lp.w[k * ra: (k + 1) * ra]
                out[rows] += self._lookup(s) - s
        return out

    def _blas_threads(self, n: int):
        """Context in which BLAS runs on ``n`` threads (threadpoolctl; its controller is built once, before any
        worker thread starts)."""
        if self._blas is None:
            from threadpoolctl import ThreadpoolController

            self._blas = ThreadpoolController()
        return self._blas.limit(limits=n, user_api="blas")

    def _lookup(self, s: np.ndarray) -> np.ndarray:
        """Q(s) of integer-valued partial sums by table (the quantizer evaluated once on −ra … ra)."""
        return self._table[(s + np.float32(self.ra)).astype(np.intp)]

    def _dense_groups(self, lp: _Prepared, flat: np.ndarray, noise: np.ndarray | None) -> np.ndarray:
        """Every row group's partial sum, converted, added in g order; blocks of rows keep the working set in
        cache."""
        g, _, o = lp.wg.shape
        m = flat.shape[0]
        nz = None if noise is None else noise.reshape(m, g, o)
        out = np.empty((m, o), np.float32)
        with self._blas_threads(1):
            self._dense_blocks(lp, flat, nz, out)
        return out

    def _dense_blocks(self, lp: _Prepared, flat: np.ndarray, nz: np.ndarray | None, out: np.ndarray) -> None:
        ra = self.ra
        g = lp.wg.shape[0]
        for r0 in range(0, flat.shape[0], _ROW_BLOCK):
            xb = flat[r0: r0 + _ROW_BLOCK]
            acc = out[r0: r0 + _ROW_BLOCK]
            for k in range(g):
                xs = xb[:, k * ra: (k + 1) * ra]
                if xs.shape[1] < ra:                      # last group of a fan-in that is not a multiple of ra
                    xs = np.concatenate([xs, np.zeros((xs.shape[0], ra - xs.shape[1]), np.float32)], axis=1)
                s = xs @ lp.wg[k]
                if lp.eg is not None:
                    s += self.kappa * (np.abs(xs) @ lp.eg[k]) + (xs @ lp.weg[k])
                if nz is not None:
                    z = nz[r0: r0 + _ROW_BLOCK, k]
                    s = (self.read_error.perturb(s, np.abs(xs).sum(axis=-1, keepdims=True), z)
                         if self.read_error is not None else s + np.float32(self.noise) * z)
                q = self._lookup(s) if (self._integer_sums and self._table_ok) else self._convert_group(lp, k, xs, s)
                if k == 0:
                    acc[...] = q
                else:
                    acc += q

    def _convert_group(self, lp: _Prepared, k: int, xs: np.ndarray, s: np.ndarray) -> np.ndarray:
        """The converter on row group k's partial sums ``s`` (rows, O) of rows ``xs`` (rows, ra): stuck-cell
        bias on driven rows and converter offsets (cimsim.faults.inject) first, then the quantizer (with the
        driven-row count when its references are fixed)."""
        bias = self._fault_bias.get(lp.lm.index)
        if bias is not None:
            s = s + np.abs(xs) @ bias[k]
        off = self.faults.offset(lp.lm)
        if off is not None:
            s = s + off[k]
        q = self.quantizer
        driven = None if q.track_driven_rows else np.abs(xs).sum(axis=-1, keepdims=True)
        return q(s, driven)

    def _activity(self, counts, lp: _Prepared, xm: np.ndarray, weight: float) -> None:
        flat = xm.reshape(-1, xm.shape[-1])
        # integer-valued float32 (|Σ| < 2^24 per row), summed in float64: exact in any order
        n_d = float(np.abs(flat).sum(axis=1).sum(dtype=np.float64)) * weight
        lrs = 0.5 * (n_d * lp.lm.columns + float((flat @ lp.wsum).sum(dtype=np.float64)) * weight)
        c = counts[lp.lm.name]
        c["wordline_driver.drive_row"] += n_d * lp.lm.col_blocks
        c["crossbar.conduct_lrs"] += lrs
        c["crossbar.conduct_hrs"] += n_d * lp.lm.columns - lrs

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
        rows = lm.bit_of_row()
        keep = np.logical_not(drops)
        if rows.size != keep.shape[-1] or np.any(rows != np.arange(rows.size)):
            keep = keep[..., rows]
        return keep.astype(np.float32)

    def _noise(self, lp: _Prepared, input_ids: np.ndarray, stream: int, plane: int, rows: np.ndarray) -> np.ndarray:
        """Sense noise (T, N, P·G·O) for the conversions of these jobs (one draw per column read)."""
        t, _, p = rows.shape[:3]
        g, _, o = lp.wg.shape
        st = self._stream(_SENSE_NOISE, stream, lp.lm.index, plane)
        return st.normal(job_ids(input_ids, t), p * g * o)

    def _crossbar(self, lp: _Prepared, h: np.ndarray, *, mc: bool, t: int, n: int, stream: int,
                  input_ids: np.ndarray, counts, record: dict[str, np.ndarray] | None) -> tuple[np.ndarray, bool]:
        """Digital sums s (T_, N, P, neurons) of one crossbar layer for layer input ``h`` (T_, N, ...), after
        dropout, conversion and the weight slices' shift-add, and whether its input was dropped (the caller
        applies the 1/(1 − p) rescale, exactly or on integers)."""
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
                scale_keep = keep[..., :1]                            # (T, N, 1, 1)
            else:
                rows = rows * keep
        if self._noisy and rows.shape[0] != t:
            rows = np.broadcast_to(rows, (t, *rows.shape[1:]))
        # the hardware runs every layer in every pass; a pass-invariant layer is computed once here
        weight = t / rows.shape[0]
        if lm.first or lm.planes > 1:
            # every bit plane in one GEMM (rows of plane b after those of plane b − 1); the planes are then
            # added in b order, as the bit-serial accumulator does. A quantized real input (signed integers) is
            # streamed in two's complement: its top plane counts −2^(B−1) (layers.quantize_real)
            xi = rows.astype(np.int64) & (2 ** lm.planes - 1)
            shifts = np.arange(lm.planes).reshape(-1, *([1] * xi.ndim))
            planes = ((xi[None] >> shifts) & 1).astype(np.float32)       # (B, T_, N, P, F)
            signed = not lm.first
            noise = None
            if self._noisy:
                noise = np.stack([self._noise(lp, input_ids, stream, b, planes[b]) for b in range(lm.planes)])
            sb = self._convert_sum(lp, planes, noise)
            s = np.zeros((*rows.shape[:-1], lm.columns), np.float32)
            for b in range(lm.planes):
                s += np.float32(-(2 ** b) if signed and b == lm.planes - 1 else 2 ** b) * sb[b]
                if counts is not None:
                    self._activity(counts, lp, planes[b], weight)
        else:
            noise = self._noise(lp, input_ids, stream, 0, rows) if self._noisy else None
            s = self._convert_sum(lp, rows, noise)
            if counts is not None:
                self._activity(counts, lp, rows, weight)
        if counts is not None:
            for k, v in structural_per_job(lm, self.hw).items():
                counts[lm.name][k] += v * t * n
        if scale_keep is not None:
            s = s * scale_keep                                        # a dropped scale step passes 0 on
        if lm.weight_bits > 1:  # digital shift-add of the weight slices: Σ_k 2^k s_k (columns k·neurons + o)
            s = s.astype(np.float64).reshape(*s.shape[:-1], lm.weight_bits, lm.outputs)
            s = np.tensordot(s, 2.0 ** np.arange(lm.weight_bits), axes=([-2], [0]))
        return s, dropped

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
                # a real tensor drives the rows by its sign, or as the layer's stated input_bits integers
                h = read_input(h, lp.layer).astype(np.float32)
            s, dropped = self._crossbar(lp, h, mc=mc, t=t, n=n, stream=stream, input_ids=input_ids,
                                        counts=counts, record=record)
            t_ = s.shape[0]
            layer = lp.layer
            sign_out = i != last and not lm.out_real
            if sign_out and self._integer_out and lm.weight_bits == 1:
                # s·scale ≥ θ in float64 ⇔ s ≥ z for integer s (see _integer_threshold)
                z = _integer_threshold(layer.threshold, self.keep_scale if dropped else 1.0)
                out = np.where(s >= z, np.float32(1), np.float32(-1))                  # (T_, N, P, O)
            else:
                a = s.astype(np.float64)
                if dropped:
                    a = a * self.keep_scale
                if i == last:
                    logits = layer.scale * a[:, :, 0, :] + layer.bias
                    return np.broadcast_to(logits, (t, n, logits.shape[-1]))
                if lm.out_real:
                    out = layer.scale * a + layer.bias                                   # (T_, N, P, O) float64
                else:
                    out = np.where(a >= layer.threshold, np.float32(1), np.float32(-1))
            if isinstance(layer, BinaryConv2d):
                hc, wc = lp.conv_hw
                out = out.reshape(t_ * n, hc, wc, lm.outputs).transpose(0, 3, 1, 2)
                out = maxpool(out, layer.pool).reshape(t_, n, *lp.out_shape)
            else:
                out = out[:, :, 0, :]
            vals[node.name], real[node.name] = out, lm.out_real
        raise AssertionError("unreachable")

    def _forward_parallel(self, x_int: np.ndarray, *, mc: bool, stream: int, input_ids: np.ndarray,
                          counts) -> np.ndarray:
        """:meth:`forward` of one chunk as :data:`PARTS` parts by input, on up to ``threads`` worker threads.

        Every input's logits are a pure function of its id (counter-based random streams), so the split does not
        change them. numpy and BLAS release the GIL, so masks, thresholds and GEMMs of the parts run on separate
        cores; BLAS keeps one thread per worker meanwhile (two levels of threads would oversubscribe the cores).
        Each part logs its activity increments, replayed in input order: the counts are those of running the
        parts one after another, whatever the number of threads.
        """
        n = x_int.shape[0]
        parts = min(PARTS, n)
        bounds = np.linspace(0, n, parts + 1).astype(int)
        pieces = list(zip(bounds[:-1], bounds[1:], strict=True))
        if self.threads == 1 or parts == 1:
            return np.concatenate([np.array(self.forward(x_int[a:b], mc=mc, stream=stream,
                                                         input_ids=input_ids[a:b], counts=counts))
                                   for a, b in pieces], axis=1)
        from concurrent.futures import ThreadPoolExecutor

        logs = [_CountLog() if counts is not None else None for _ in pieces]
        with self._blas_threads(1), ThreadPoolExecutor(min(self.threads, parts)) as pool:
            futures = [pool.submit(self.forward, x_int[a:b], mc=mc, stream=stream, input_ids=input_ids[a:b],
                                   counts=log) for (a, b), log in zip(pieces, logs, strict=True)]
            logits = [np.array(f.result()) for f in futures]
        if counts is not None:
            for log in logs:
                log.replay(counts)
        return np.concatenate(logits, axis=1)

    def run(self, x_int: np.ndarray, *, mc: bool = True, stream: int = 0, counts=None,
            progress: Callable[[int], None] | None = None, chunk: int | None = None, first: int = 0) -> np.ndarray:
        """Logits (T, N, K) of all inputs, streamed in chunks (``chunk`` inputs; default from a memory
        budget); adds activity to ``counts`` if given. Input k of ``x_int`` is input ``first + k`` of stream
        ``stream`` (so a caller may feed a long evaluation set in pieces)."""
        outs = []
        if counts is not None and mc and self.design.regenerate == "per_pass" and first == 0:
            for lp in self.layers:  # T shared masks, generated once for the whole run
                if lp.lm.dropout:
                    drops = self._masks(lp, stream).drops(np.arange(self.passes))
                    add_mask_counts(counts[lp.lm.name], self.hw, float(drops.size), float(drops.sum()))
        size = chunk or self.chunk
        for start in range(0, x_int.shape[0], size):
            xb = x_int[start: start + size]
            ids = np.arange(first + start, first + start + xb.shape[0])
            outs.append(self._forward_parallel(xb, mc=mc, stream=stream, input_ids=ids, counts=counts))
            if progress is not None:
                progress(xb.shape[0])
        return np.concatenate(outs, axis=1)
