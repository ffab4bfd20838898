"""Vectorized execution of the mapped network through the hardware (docs/architecture.md, "functional/").

Per layer and MC pass: input bits gated by dropout masks from the chip's modules; for every row group
g of ``rows_active`` rows, s_g = Σ_{i∈g} m_i x_i w_ij is converted by the column periphery (exact, clipped
or quantized; optionally perturbed by cell-conductance variation and sense noise); conversions are added
digitally; hidden layers compare with the folded threshold, the last layer returns its sums as logits.
The T passes are a batch axis; inputs stream in chunks so memory does not grow with the data set.

One implementation on any array library (:mod:`cimsim.functional.backend`): numpy, torch (CPU or CUDA) or CuPy,
with the same bits on each (why: the backend module's docstring).

Randomness: chip-instance draws (device variation) come from ``SeedSequence(seed, spawn_key=(domain, layer))``;
per-job draws (dropout masks, sense noise) from counter streams (:mod:`cimsim.rng`) addressed by (evaluation
set, layer, input index, pass[, window]), so a per-input result never depends on chunk size, ``--limit``,
worker count or backend. Activity is reported as raw tallies (:mod:`cimsim.functional.tallies`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from cimsim.activity import Counts, counts_from_tallies
from cimsim.components.sense_margin import chip_read_error
from cimsim.errors import MappingError
from cimsim.faults.inject import ChipFaults, sample_chip_faults
from cimsim.functional.backend import Backend, get_backend
from cimsim.functional.conversion import ConversionRoutes, device_of
from cimsim.functional.dropout import PASS_STRIDE, MaskSource, job_ids, variation_sigmas
from cimsim.functional.ops import FLOAT32_EXACT, integer_threshold, maxpool, maxpool_nhwc, unfold
from cimsim.functional.tallies import Tallies
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
    read_input,
)
from cimsim.network.layers import unfold as layers_unfold
from cimsim.rng import CounterStream

# Seed domains (first element of every spawn_key).
_MODULE_VARIATION, _CELL_VARIATION, _MASKS, _SENSE_NOISE, _SHARED_MASKS = range(5)
# A numpy chunk runs as this many parts, by input, on up to as many worker threads (a quarter chunk keeps the
# masks and sums of one part in cache better than a whole one; measured: docs/performance.md).
PARTS = 4
#: Rows a hidden layer's GEMM gets at least, by running that many inputs' rows together (when the part has them).
GEMM_ROWS = 1024
#: Grid of the relative cell-conductance errors (2⁻²⁰ ≈ 1e-6, far below any σ of variation): with ±1/0 rows,
#: a row group's error sum is a multiple of 2⁻²⁰ below 2⁵³·2⁻²⁰ in magnitude, so float64 GEMMs add it exactly
#: in any order, and the run does not depend on the BLAS, its threads or the backend.
GRID = 2.0 ** -20


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


@dataclass
class _Prepared:
    lm: LayerMap
    layer: Any
    w: Any                   # (F, O) float32, on the device
    wg: Any                  # (G, ra, O) float32, zero rows past F
    wsum: Any                # (F,) row sums of w
    eg: Any | None           # (G, ra, O) float64 relative conductance error of each cell (GRID multiples)
    weg: Any | None          # (G, ra, O) float64 w ∘ e
    group_of_row: Any        # (F, G) float32 one-hot: row i belongs to row group i // ra
    p_modules: np.ndarray | None     # drop probability of each module of this chip instance (host)
    conv_hw: tuple[int, int] | None  # conv output size before pooling
    out_shape: tuple[int, ...]       # one input's output after pooling
    scale: Any = None        # folded affine of the layer's output (float64), on the device
    bias: Any = None
    theta: Any = None
    folded: Any = None       # (F, neurons) Σ_k 2^k W_k when the exact route adds the weight slices in the GEMM
    window: Any = None       # (P, F) float32: 1 where a window element lies inside the image (not padding)
    window_rows: Any = None  # (F,) float64: positions at which each crossbar row reads the image


def _tally_reads(tally, lp: _Prepared, driven: float, lrs_sum: float, weight: int) -> None:
    """Add one read of a layer's rows to its tallies: ``driven`` rows driven, ``lrs_sum`` = Σ x·wsum over them
    (so half of driven·columns + lrs_sum cells are in the low-resistance state), ``weight`` passes it stands for."""
    n_d = driven * weight
    tally.driven_rows += n_d
    tally.lrs_cells += 0.5 * (n_d * lp.lm.columns + lrs_sum * weight)


def check_exact_bounds(lm: LayerMap) -> None:
    """Every partial sum, row sum and bit-plane sum of layer ``lm`` must be an integer float32 holds exactly."""
    if lm.fan_in >= FLOAT32_EXACT:
        raise MappingError(f"layer {lm.name}: fan-in {lm.fan_in} reaches 2^24, where float32 partial sums stop "
                           "being exact", field=f"network.layers.{lm.name}", allowed="fan-in below 16777216")


class Executor(ConversionRoutes):
    """Runs inputs through one chip instance (device variation is drawn once, at construction).

    Args:
        hw: the chip (its Design gives the shapes, p and the regeneration policy).
        mapping: placement of ``net`` on it.
        net: the binary network with its weights.
        seed: root seed.
        passes: T, MC passes per input.
        faults: this chip instance's faults (None: sampled from ``hw.arch.faults`` and ``seed``).
        threads: numpy worker threads (None: the usable CPUs); results do not depend on it.
        backend: the array library (None: numpy on the CPU).
    """

    def __init__(self, hw: Hardware, mapping: Mapping, net: Network, *, seed: int, passes: int,
                 faults: ChipFaults | None = None, threads: int | None = None,
                 backend: Backend | None = None) -> None:
        if passes > PASS_STRIDE:
            raise ValueError(f"at most {PASS_STRIDE} passes")
        self.hw, self.mapping, self.net, self.design = hw, mapping, net, hw.design
        self.seed, self.passes = seed, passes
        self.bk = backend if backend is not None else get_backend()
        self.xp = self.bk.xp
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
        self.ra = ra
        self._blas = None
        self._setup_conversion()
        # kept sums are rescaled by the TRAINED rate, whatever rate the hardware realises
        self.keep_scale = 1.0 / (1.0 - self.design.trained_p) if self.design.trained_p is not None else 1.0
        self.source = hw.component("dropout_source")
        self.layers: list[_Prepared] = []
        self._fault_bias: dict[int, Any] = {}
        self._fault_offset: dict[int, Any] = {}
        for lm, layer, ls in zip(mapping.layers, net.layers, self.design.layers, strict=True):
            check_exact_bounds(lm)
            self.layers.append(self._prepare(lm, layer, ls, seed))
        self.chunk, self._blocks = self._chunking()
        last_read = {src: i for i in range(len(net.nodes)) for src in net.inputs_of(i)}
        self._freed_after: dict[int, list[str]] = {}
        for name, i in last_read.items():
            self._freed_after.setdefault(i, []).append(name)
        self._streams: dict[tuple[int, ...], CounterStream] = {}
        self._thresholds: dict[tuple[int, float], Any] = {}
        self._one = self.bk.asarray(np.float32(1))
        self._minus_one = self.bk.asarray(np.float32(-1))

    def _chunking(self) -> tuple[int, dict[str, int]]:
        """Inputs per chunk, and per crossbar layer inputs per block (:meth:`_layer`), so that no array of a
        chunk exceeds CHUNK_BYTES. A layer's float32 rows, keep masks and sums with their float64
        post-processing take 16 B per row element (T_ passes). When every layer's rows for a whole part of a
        chunk fit, the chunk is as many inputs as fit (each part then runs as one block, its rows in cache);
        when even :data:`PARTS` inputs' rows do not fit, layers run in blocks (of about :data:`GEMM_ROWS` GEMM
        rows, never over the budget) and the chunk is as many inputs as the outputs (16 B per element) allow.
        Measured: docs/performance.md."""
        blocks, rows_bytes, out_bytes = {}, 1, 1
        for (rows, fan_in, columns), lp in zip(self.gemm_shapes(1), self.layers, strict=True):
            per_input = rows * (fan_in + columns) * 16
            blocks[lp.lm.name] = max(1, min(GEMM_ROWS // rows, CHUNK_BYTES // per_input))
            rows_bytes, out_bytes = max(rows_bytes, per_input), max(out_bytes, rows * columns * 16)
        whole = CHUNK_BYTES // rows_bytes
        return (whole if whole >= PARTS else max(1, CHUNK_BYTES // out_bytes)), blocks

    def _prepare(self, lm: LayerMap, layer: Any, ls: Any, seed: int) -> _Prepared:
        """Device copies of one layer's weights (faults applied), variation and module probabilities."""
        ra, bk = self.ra, self.bk
        # the arrays hold the ±1 slices (one column group per weight bit; binary layers: the matrix itself);
        # row-major, as BLAS packs a row-major B fastest for the executor's small-M GEMMs (a transposed view
        # cost 30 % on ResNet-18's (320, 4608) @ (4608, 512): docs/performance.md)
        w, bias = self.faults.weights(lm, np.ascontiguousarray(layer.sliced_matrix.T, dtype=np.float32))
        g = lm.total_row_groups
        if bias is not None:  # stuck 2T-2MTJ devices: a bias on every driven row, grouped like wg
            self._fault_bias[lm.index] = bk.asarray(np.pad(bias, ((0, g * ra - w.shape[0]), (0, 0)))
                                                    .reshape(g, ra, -1))
        off = self.faults.offset(lm)
        if off is not None:
            self._fault_offset[lm.index] = bk.asarray(off)
        wg = np.zeros((g * ra, w.shape[1]), np.float32)
        wg[: w.shape[0]] = w
        wg = wg.reshape(g, ra, w.shape[1])
        eg = weg = None
        if self.cell_sigma > 0:
            e = self.cell_sigma * _rng(seed, _CELL_VARIATION, lm.index).standard_normal(wg.shape)
            e = np.round(e / GRID) * GRID
            eg, weg = bk.asarray(e), bk.asarray(wg.astype(np.float64) * e)
        pk = None
        if lm.dropout:
            sigmas = variation_sigmas(self.hw.arch.variation)
            pk = self.source.module_probabilities(lm.modules, _rng(seed, _MODULE_VARIATION, lm.index), sigmas)
            pk = self.faults.apply_p(lm, pk)
        one_hot = (np.arange(w.shape[0])[:, None] // ra == np.arange(g)[None, :]).astype(np.float32)
        lp = _Prepared(lm, layer, bk.asarray(w), bk.asarray(wg), bk.asarray(w.sum(axis=1)), eg, weg,
                       bk.asarray(one_hot), pk, ls.conv_hw, ls.out_shape)
        # which row elements read the image rather than padding: with ±1 inputs these are the driven rows
        window = (layers_unfold(np.ones((1, *ls.in_shape), np.float32), layer)[0]
                  if isinstance(layer, BinaryConv2d) else np.ones((1, lm.fan_in), np.float32))
        lp.window, lp.window_rows = bk.asarray(window), bk.asarray(window.sum(axis=0, dtype=np.float64))
        if self._folds(lm):
            pow2 = np.float32(2) ** np.arange(lm.weight_bits, dtype=np.float32)
            lp.folded = bk.asarray(np.einsum("fko,k->fo", w.reshape(w.shape[0], lm.weight_bits, lm.outputs), pow2))
        if getattr(layer, "scale", None) is not None:
            lp.scale, lp.bias = bk.asarray(layer.scale, np.float64), bk.asarray(layer.bias, np.float64)
        if getattr(layer, "threshold", None) is not None:
            lp.theta = bk.asarray(layer.threshold, np.float64)
        return lp

    def module_probabilities(self) -> dict[str, np.ndarray]:
        """Per-layer drop probability of every module of this chip instance (sources that have one)."""
        return {lp.lm.name: lp.p_modules for lp in self.layers if lp.p_modules is not None}

    def new_tallies(self) -> Tallies:
        """Empty tallies with every graph node in network order (the order counts are priced in)."""
        t = Tallies()
        for node in self.net.nodes:
            t.node(node.name)
        return t

    def counts(self, tallies: Tallies) -> Counts:
        """Action counts of ``tallies`` (:func:`cimsim.activity.counts_from_tallies` on this chip)."""
        return counts_from_tallies(self.hw, self.mapping, tallies)

    def shared_mask_tallies(self, tallies: Tallies, stream: int = 0) -> None:
        """per_pass dropout: tally the T masks every input shares (once per run, not per shard)."""
        if self.design.regenerate != "per_pass":
            return
        for lp in self.layers:
            if lp.lm.dropout:
                drops = self._masks(lp, stream).drops(np.arange(self.passes))
                tallies.shared_masks[lp.lm.name] = (float(drops.size), float(drops.sum()))

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

    def _threshold(self, lp: _Prepared, scale: float) -> Any:
        key = (lp.lm.index, scale)
        z = self._thresholds.get(key)
        if z is None:
            z = self._thresholds.setdefault(key, self.bk.asarray(integer_threshold(lp.layer.threshold, scale)))
        return z

    # ------------------------------------------------------------------ core
    def _activity(self, tally, lp: _Prepared, xm: Any, weight: int, sums: Any | None = None,
                  driven: float | None = None) -> None:
        """Driven rows and LRS cells read of rows ``xm`` (values −1, 0, +1): Σ|x| = the non-zeros (or
        ``driven``, the same count from :meth:`_driven_rows`), and Σ_rows x·wsum = (Σ_rows x)·wsum, or the
        total of ``sums`` = x @ W when the exact route gives them (wsum = W's row sums), all exact integers in
        float64 (any order gives the same bits)."""
        xp = self.xp
        flat = xp.reshape(xm, (-1, xm.shape[-1]))
        n_d = float(xp.count_nonzero(flat)) if driven is None else driven
        if sums is not None:
            lrs = xp.sum(sums, dtype=xp.float64)
        else:
            lrs = xp.sum(xp.sum(flat, axis=0, dtype=xp.float64) * xp.astype(lp.wsum, xp.float64))
        _tally_reads(tally, lp, n_d, float(lrs), weight)

    def _driven_rows(self, lp: _Prepared, rows: Any, keep: Any | None, n: int) -> float:
        """Σ|x| of ±1 layer inputs without reading the rows: every window element inside the image drives its
        row, unless ``keep`` (the row keep mask the rows were multiplied by) dropped it."""
        xp = self.xp
        if keep is None:
            return float(rows.shape[0] * n) * float(xp.sum(lp.window_rows))
        if keep.shape[2] == 1:                      # one mask per job (or per pass) for all of its windows
            per_job = xp.astype(keep[:, :, 0, :], xp.float64) @ lp.window_rows
            return float(xp.sum(per_job)) * (n if keep.shape[1] == 1 else 1)
        return float(xp.sum(keep * lp.window, dtype=xp.float64))          # per_window: a mask per window

    def _rows(self, lp: _Prepared, h: Any, keep: Any | None = None) -> Any:
        """Layer input (T_, N, ...) → crossbar rows (T_, N, P, F), each job's rows times its row keep mask
        ``keep`` (T_, N or 1, 1, F) if given."""
        xp = self.xp
        t_, n = h.shape[:2]
        if isinstance(lp.layer, BinaryConv2d):
            row_keep = None
            if keep is not None:
                row_keep = xp.reshape(xp.broadcast_to(keep, (t_, n, 1, keep.shape[-1])), (t_ * n, -1))
            r = unfold(xp, xp.reshape(h, (t_ * n, *h.shape[2:])), lp.layer, row_keep)
            return xp.reshape(r, (t_, n, *r.shape[1:]))
        rows = xp.reshape(h, (t_, n, 1, -1))
        return rows if keep is None else rows * keep

    def _keep(self, lp: _Prepared, input_ids: np.ndarray, stream: int, tallies: Tallies | None) -> Any:
        """Row keep mask of the jobs of ``input_ids``: (T, N, 1, F), (T, N, P, F) per_window, (T, 1, 1, F)
        per_pass (shared by every input; tallied once per run, :meth:`shared_mask_tallies`). Drawn on the host
        and moved to the device, so masks do not depend on the backend."""
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
            if tallies is not None:
                t = tallies.node(lm.name)
                t.mask_bits += float(drops.size)
                t.mask_drops += float(drops.sum())
                t.masked = True
        rows = lm.bit_of_row()
        keep = np.logical_not(drops)
        if rows.size != keep.shape[-1] or np.any(rows != np.arange(rows.size)):
            keep = keep[..., rows]
        # row-major: the gather above leaves the row axis outermost in memory, and a product with such a mask
        # takes its layout (and every later flattening of it would copy)
        return self.bk.asarray(np.ascontiguousarray(keep, dtype=np.float32))

    def _noise(self, lp: _Prepared, input_ids: np.ndarray, stream: int, plane: int, rows: Any) -> Any:
        """Sense noise (T, N, P·G·O) for the conversions of these jobs (one draw per column read; host draws)."""
        t, _, p = rows.shape[:3]
        g, _, o = lp.wg.shape
        st = self._stream(_SENSE_NOISE, stream, lp.lm.index, plane)
        return self.bk.asarray(st.normal(job_ids(input_ids, t), p * g * o))

    def _crossbar(self, lp: _Prepared, h: Any, *, mc: bool, t: int, n: int, stream: int,
                  input_ids: np.ndarray, tallies: Tallies | None,
                  record: dict[str, Any] | None) -> tuple[Any, bool]:
        """Digital sums s (T_, N, P, neurons) of one crossbar layer for layer input ``h`` (T_, N, ...), after
        dropout, conversion and the weight slices' shift-add, and whether its input was dropped (the caller
        applies the 1/(1 − p) rescale, exactly or on integers)."""
        xp = self.xp
        lm = lp.lm
        dropped = mc and lm.dropout
        scale_keep = keep = None
        if not dropped:
            rows = self._rows(lp, h)                                  # (T_, N, P, F)
        else:
            keep = self._keep(lp, input_ids, stream, tallies)
            if lm.granularity == "layer_scale":
                # Scale-Dropout: the rows are read as usual; the one bit selects the layer's scaled sum or 0
                # at the digital scale step (docs/models.md "Scale-Dropout")
                scale_keep = keep[..., :1]                            # (T, N, 1, 1)
                rows = self._rows(lp, h)
            elif keep.shape[2] == 1:
                # masked while unfolding, in the copy's own layout; a pass-invariant conv input is repeated
                # for the T passes first (T small images, cheaper than a broadcast product of their rows)
                if isinstance(lp.layer, BinaryConv2d) and h.shape[0] != keep.shape[0]:
                    h = xp.broadcast_to(h, (keep.shape[0], *h.shape[1:]))
                rows = self._rows(lp, h, keep)
            else:                                    # per_window masks: one per window
                rows = self._rows(lp, h) * keep
            if record is not None:
                record[lm.name] = xp.broadcast_to(keep, (keep.shape[0], *rows.shape[1:]))
        if self._noisy and rows.shape[0] != t:
            rows = xp.broadcast_to(rows, (t, *rows.shape[1:]))
        # one (rows, F) layout for the GEMM, the tallies and the planes: unfold's strided view, masked, cannot
        # merge its (T, N, P) axes, so every later flattening would copy it again
        rows = xp.reshape(xp.reshape(rows, (-1, rows.shape[-1])), rows.shape)
        # the hardware runs every layer in every pass; a pass-invariant layer is computed once here
        weight = t // rows.shape[0]
        tally = tallies.node(lm.name) if tallies is not None else None
        if lm.first or lm.planes > 1:
            s = self._bit_planes(lp, rows, input_ids, stream, tally, weight)
        else:
            noise = self._noise(lp, input_ids, stream, 0, rows) if self._noisy else None
            s = self._convert_sum(lp, rows, noise)
            if tally is not None:
                self._activity(tally, lp, rows, weight, s if self.exact and lp.folded is None else None,
                               self._driven_rows(lp, rows, keep if scale_keep is None else None, n))
        if tally is not None:
            tally.jobs += t * n
        if scale_keep is not None:
            s = s * scale_keep                                        # a dropped scale step passes 0 on
        if lm.weight_bits > 1 and lp.folded is None:
            # digital shift-add of the weight slices: Σ_k 2^k s_k (columns k·neurons + o)
            s = xp.reshape(xp.astype(s, xp.float64), (*s.shape[:-1], lm.weight_bits, lm.outputs))
            pow2 = self.bk.asarray(2.0 ** np.arange(lm.weight_bits))
            s = xp.tensordot(s, pow2, axes=([-2], [0]))
        return s, dropped

    def _collapsed(self, lm: LayerMap) -> bool:
        """Whether a multi-bit layer's bit planes can run as one GEMM on the integer inputs: on the exact route
        Σ_b c_b (x_b @ W) = (Σ_b c_b x_b) @ W, and when every product and partial sum of either side stays below
        2^24 in magnitude both are the same float32 integers (so the same bits), at 1/B of the GEMM work."""
        return self.exact and lm.planes > 1 and 2 ** lm.planes * lm.fan_in < FLOAT32_EXACT

    def _folds(self, lm: LayerMap) -> bool:
        """Whether a multi-bit-weight layer's shift-add Σ_k 2^k s_k runs inside its GEMM, as x @ Σ_k 2^k W_k: on the
        exact route every s_k is an exact integer, and when |x|·2^K·F < 2^24 so is every partial sum of the folded
        GEMM, so both give the same integers (the same bits) at 1/K of the GEMM work."""
        if not (self.exact and lm.weight_bits > 1):
            return False
        if lm.planes > 1 and not self._collapsed(lm):
            return False
        x_max = 2 ** lm.planes if lm.planes > 1 else 1
        return x_max * 2 ** lm.weight_bits * lm.fan_in < FLOAT32_EXACT

    def _bit_planes(self, lp: _Prepared, rows: Any, input_ids: np.ndarray, stream: int, tally, weight: int) -> Any:
        """Multi-bit inputs streamed bit-serially: every bit plane in one GEMM (rows of plane b after those of
        plane b − 1), the planes then added in b order, as the bit-serial accumulator does. The first layer's
        inputs are unsigned; a quantized real input (signed integers, layers.quantize_real) is streamed in two's
        complement, so its top plane counts −2^(B−1). On the exact route the planes are one GEMM on their
        integer value (:meth:`_collapsed`)."""
        xp, lm = self.xp, lp.lm
        xi = xp.astype(rows, xp.int64) & (2 ** lm.planes - 1)
        signed = not lm.first
        if self._collapsed(lm):
            if tally is not None:
                self._plane_activity(tally, lp, xi, weight)
            value = xi - (2 ** lm.planes) * (xi >> (lm.planes - 1)) if signed else xi
            return self._convert_sum(lp, xp.astype(value, xp.float32), None)
        shifts = xp.reshape(self.bk.asarray(np.arange(lm.planes, dtype=np.int64)), (-1, *([1] * xi.ndim)))
        planes = xp.astype((xi[None, ...] >> shifts) & 1, xp.float32)       # (B, T_, N, P, F)
        noise = None
        if self._noisy:
            noise = xp.stack([self._noise(lp, input_ids, stream, b, planes[b, ...]) for b in range(lm.planes)])
        sb = self._convert_sum(lp, planes, noise)
        s = xp.zeros((*rows.shape[:-1], lm.columns), dtype=xp.float32, device=device_of(rows))
        for b in range(lm.planes):
            s = s + np.float32(-(2 ** b) if signed and b == lm.planes - 1 else 2 ** b) * sb[b, ...]
            if tally is not None:
                self._activity(tally, lp, planes[b, ...], weight)
        return s

    def _plane_activity(self, tally, lp: _Prepared, xi: Any, weight: int) -> None:
        """:meth:`_activity` of every bit plane of integer inputs ``xi``, from per-row bit counts (the same
        integers, added to the tallies in the same plane order, so the same bits) without building the planes."""
        xp = self.xp
        flat = xp.reshape(xi, (-1, xi.shape[-1]))
        wsum = xp.astype(lp.wsum, xp.float64)
        for b in range(lp.lm.planes):
            count = xp.astype(xp.sum((flat >> b) & 1, axis=0), xp.float64)       # (F,) driven rows per row
            _tally_reads(tally, lp, float(xp.sum(count)), float(xp.sum(count * wsum)), weight)

    def _digital(self, node: Any, vals: dict[str, Any], ins: list[str]) -> Any:
        """A digital node (add, pools, flatten) in exact layers.py semantics. The float64 pools run on the host's
        numpy so their sums add in numpy's order on every backend (a view on the CPU)."""
        xp, bk = self.xp, self.bk
        h = vals[ins[0]]
        if isinstance(node, Add):
            out = xp.astype(h, xp.float64)
            for src in ins[1:]:
                out = out + vals[src]
            return out
        if isinstance(node, AvgPool):
            return bk.asarray(avgpool(bk.to_numpy(h).astype(np.float64), node.kernel_size,
                                      node.stride or node.kernel_size))
        if isinstance(node, GlobalAvgPool):
            return bk.asarray(bk.to_numpy(h).astype(np.float64).mean(axis=(-2, -1)))
        return xp.reshape(h, (*h.shape[:2], -1))  # flatten

    def forward(self, x_int: np.ndarray, *, mc: bool, stream: int, input_ids: np.ndarray,
                tallies: Tallies | None = None, record: dict[str, Any] | None = None) -> Any:
        """Logits (T, N, K) (a device array) of inputs ``x_int`` whose indices in their evaluation set are
        ``input_ids`` (T = passes when ``mc``, else 1 with dropout off).

        Walks the network graph in topological order: tensors are (T_, N, ...) with T_ = 1 while they do not
        depend on the pass (up to the first dropped layer) and T after; crossbar layers run through the
        hardware, digital nodes (add, pools, flatten) are exact arithmetic (layers.py semantics).
        ``record``, if given, receives each dropped layer's row keep mask, broadcast to (T, N, P, F).
        """
        xp = self.xp
        t = self.passes if mc else 1
        n = x_int.shape[0]
        net = self.net
        vals: dict[str, Any] = {INPUT: self.bk.asarray(x_int, np.float32)[None, ...]}  # same every pass
        real: dict[str, bool] = {INPUT: False}
        prepared = {lp.lm.name: lp for lp in self.layers}
        last = len(net.nodes) - 1
        for i, node in enumerate(net.nodes):
            ins = net.inputs_of(i)
            for done in self._freed_after.get(i - 1, ()):   # tensors no later node reads: memory back
                vals.pop(done, None)
            lp = prepared.get(node.name)
            if lp is None:
                if tallies is not None:
                    tallies.node(node.name).jobs += t * n
                vals[node.name] = self._digital(node, vals, ins)
                real[node.name] = real[ins[0]] if isinstance(node, Flatten) else True
                continue
            h = vals[ins[0]]
            if real[ins[0]]:
                # a real tensor drives the rows by its sign, or as the layer's stated input_bits integers
                # (quantized on the host's numpy, like the float64 pools: the same bits on every backend)
                if lp.layer.input_bits is None:
                    h = xp.where(h >= 0, self._one, self._minus_one)
                else:
                    h = self.bk.asarray(read_input(self.bk.to_numpy(h), lp.layer).astype(np.float32))
            if i == last:
                s, dropped = self._crossbar(lp, h, mc=mc, t=t, n=n, stream=stream, input_ids=input_ids,
                                            tallies=tallies, record=record)
                a = xp.astype(s, xp.float64)
                if dropped:
                    a = a * self.keep_scale
                logits = lp.scale * a[:, :, 0, :] + lp.bias
                return xp.broadcast_to(logits, (t, n, logits.shape[-1]))
            vals[node.name] = self._layer(lp, h, mc=mc, t=t, stream=stream, input_ids=input_ids,
                                          tallies=tallies, record=record)
            real[node.name] = lp.lm.out_real
        raise AssertionError("unreachable")

    def _layer(self, lp: _Prepared, h: Any, *, mc: bool, t: int, stream: int, input_ids: np.ndarray,
               tallies: Tallies | None, record: dict[str, Any] | None) -> Any:
        """A hidden crossbar layer's output (T_, N, ...) for input ``h``, in blocks of inputs whose GEMM has about
        :data:`GEMM_ROWS` rows: one input of a large feature map alone (its rows stay in cache, unfold can hand
        the GEMM a view), the inputs of a small one together (the weights are packed once for more rows). Every
        input's result depends on its id only, so the blocking changes no bit."""
        xp, n = self.xp, h.shape[1]
        lm = lp.lm
        block = self._blocks[lm.name]
        outs = []
        recs: list[Any] = []
        for a in range(0, n, block):
            b = min(n, a + block)
            rec = {} if record is not None else None
            s, dropped = self._crossbar(lp, h[:, a:b], mc=mc, t=t, n=b - a, stream=stream,
                                        input_ids=input_ids[a:b], tallies=tallies, record=rec)
            outs.append(self._output(lp, s, dropped, b - a))
            if rec:
                recs.append(rec[lm.name])
        if recs:
            record[lm.name] = recs[0] if len(recs) == 1 else xp.concat(recs, axis=1)
        return outs[0] if len(outs) == 1 else xp.concat(outs, axis=1)

    def _output(self, lp: _Prepared, s: Any, dropped: bool, n: int) -> Any:
        """A hidden layer's output from its sums: ±1 by the folded threshold, or the real affine; conv outputs
        max-pooled back to (T_, N, C, H, W). A ±1 output is pooled before the comparator: the comparator is
        non-decreasing in s per channel, so max-pooling commutes with it (the same bits on a quarter of the
        sums); a real output is pooled after its affine, whose scale may be negative."""
        xp, lm = self.xp, lp.lm
        t_ = s.shape[0]
        conv = isinstance(lp.layer, BinaryConv2d)
        if conv:
            hc, wc = lp.conv_hw
            s = xp.reshape(s, (t_ * n, hc, wc, s.shape[-1]))                      # (T_·N, H, W, O)
            if not lm.out_real:
                s = maxpool_nhwc(xp, s, lp.layer.pool)
        if not lm.out_real and self._integer_out and lm.weight_bits == 1:
            # s·scale ≥ θ in float64 ⇔ s ≥ z for integer s (see ops.integer_threshold)
            z = self._threshold(lp, self.keep_scale if dropped else 1.0)
            out = xp.where(s >= z, self._one, self._minus_one)
        else:
            a = xp.astype(s, xp.float64)                   # a fresh array: scaled in place
            if dropped:
                a *= self.keep_scale
            if lm.out_real:
                a *= lp.scale
                a += lp.bias
                out = a
            else:
                out = xp.where(a >= lp.theta, self._one, self._minus_one)
        if conv:
            out = xp.permute_dims(out, (0, 3, 1, 2))
            if lm.out_real:
                out = maxpool(xp, out, lp.layer.pool)
            return xp.reshape(out, (t_, n, *lp.out_shape))
        return out[:, :, 0, :]

    def gemm_shapes(self, n: int, *, mc: bool = True) -> list[tuple[int, int, int]]:
        """(rows, fan-in, columns) of the dense float32 GEMM each crossbar layer amounts to for ``n`` inputs, in
        network order: the shapes :meth:`forward` multiplies (rows = T_·n·MVMs, times B bit planes unless
        :meth:`_collapsed`; T_ = 1 while a tensor does not depend on the pass). The benchmarks' roofline."""
        t = self.passes if mc else 1
        prepared = {lp.lm.name: lp for lp in self.layers}
        varying = {INPUT: False}
        shapes = []
        for i, node in enumerate(self.net.nodes):
            v = any(varying[src] for src in self.net.inputs_of(i))
            lp = prepared.get(node.name)
            if lp is not None:
                lm = lp.lm
                v = v or (mc and lm.dropout) or self._noisy
                planes = 1 if self._collapsed(lm) else lm.planes
                shapes.append(((t if v else 1) * n * lm.mvms * planes, lm.fan_in,
                               lm.columns if lp.folded is None else lm.outputs))
            varying[node.name] = v
        return shapes

    def flop_per_input(self, *, mc: bool = True) -> float:
        """GEMM work (flop) of one input: 2·rows·fan-in·columns summed over :meth:`gemm_shapes`."""
        return float(sum(2 * m * f * o for m, f, o in self.gemm_shapes(1, mc=mc)))

    def _forward_parts(self, x_int: np.ndarray, *, mc: bool, stream: int, input_ids: np.ndarray,
                       tallies: Tallies | None) -> np.ndarray:
        """:meth:`forward` of one chunk, logits on the host. numpy: as :data:`PARTS` parts by input on up to
        ``threads`` worker threads (numpy and BLAS release the GIL; BLAS keeps one thread per worker meanwhile,
        as two levels of threads would oversubscribe the cores). Other backends: one call (they thread inside).

        Every input's logits are a pure function of its id (counter-based random streams) and tallies add
        exactly, so the split changes no bit."""
        n = x_int.shape[0]
        parts = min(PARTS, n) if self.bk.is_numpy else 1
        bounds = np.linspace(0, n, parts + 1).astype(int)
        pieces = list(zip(bounds[:-1], bounds[1:], strict=True))

        def one(a: int, b: int, tl: Tallies | None) -> np.ndarray:
            return self.bk.to_numpy(self.forward(x_int[a:b], mc=mc, stream=stream, input_ids=input_ids[a:b],
                                                 tallies=tl))

        if self.threads == 1 or parts == 1:
            return np.concatenate([one(a, b, tallies) for a, b in pieces], axis=1)
        from concurrent.futures import ThreadPoolExecutor

        logs = [Tallies() if tallies is not None else None for _ in pieces]
        with self._blas_threads(1), ThreadPoolExecutor(min(self.threads, parts)) as pool:
            futures = [pool.submit(one, a, b, tl) for (a, b), tl in zip(pieces, logs, strict=True)]
            logits = [f.result() for f in futures]
        if tallies is not None:
            for tl in logs:
                tallies.add(tl)
        return np.concatenate(logits, axis=1)

    def run(self, x_int: np.ndarray, *, mc: bool = True, stream: int = 0, tallies: Tallies | None = None,
            progress: Callable[[int], None] | None = None, chunk: int | None = None, first: int = 0) -> np.ndarray:
        """Logits (T, N, K) (host numpy, float64) of all inputs, streamed in chunks (``chunk`` inputs; default
        from a memory budget); adds raw activity to ``tallies`` if given. Input k of ``x_int`` is input
        ``first + k`` of stream ``stream`` (so a caller may feed a long evaluation set in pieces). per_pass
        shared masks are not tallied here (:meth:`shared_mask_tallies`, once per run)."""
        outs = []
        size = chunk or self.chunk
        for start in range(0, x_int.shape[0], size):
            xb = x_int[start: start + size]
            ids = np.arange(first + start, first + start + xb.shape[0])
            outs.append(self._forward_parts(xb, mc=mc, stream=stream, input_ids=ids, tallies=tallies))
            if progress is not None:
                progress(xb.shape[0])
        return np.concatenate(outs, axis=1)

