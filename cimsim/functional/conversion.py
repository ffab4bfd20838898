"""The column conversion routes of the executor: Σ_g Q(s_g) of a layer's rows, exact, by table with clip
correction, or group by group (variation, noise, faults, converters that need the driven-row count).

A mixin of :class:`cimsim.functional.executor.Executor` (it reads the executor's backend, quantizer, noise,
variation and faults); every route gives the same bits (see :meth:`ConversionRoutes._convert_sum`).
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

# Rows per block of the dense row-group route: a block's (rows × outputs) float32 sums stay in L2 cache.
_ROW_BLOCK = 256
# Above this fraction of (input, group) pairs that may convert with an error, recomputing them costs more than
# computing every group (the dense route).
_DENSE_FRACTION = 0.5


def device_of(x: Any) -> Any:
    """The device an array lives on (array-api-compat's portable accessor)."""
    from array_api_compat import device

    return device(x)


class ConversionRoutes:
    """Conversion of row-group partial sums (mixed into the executor; attributes documented there)."""

    bk: Any
    xp: Any
    ra: int
    exact: bool
    noise: float
    read_error: Any
    _noisy: bool
    kappa: float
    quantizer: Any
    faults: Any
    _blas: Any
    _fault_bias: dict[int, Any]
    _fault_offset: dict[int, Any]

    def _setup_conversion(self) -> None:
        # Without noise or cell variation every partial sum is an integer in [−ra, ra]: the converter is a table,
        # unless its output also depends on the column (an even-level symmetric ladder trims its centre
        # reference by column parity), on the rows driven (fixed references) or on injected faults.
        ra, q = self.ra, self.quantizer
        self._integer_sums = not self._noisy and self.cell_sigma == 0.0
        domain = np.arange(-ra, ra + 1, dtype=np.float32)
        two_cols = q(np.stack([domain, domain], axis=1), np.full((domain.size, 1), np.float32(ra)))
        table = two_cols[:, 0].copy()
        self._table = self.bk.asarray(table)
        self._table_ok = (bool(np.array_equal(two_cols[:, 0], two_cols[:, 1]))
                          and (q.track_driven_rows or q.kappa == 0.0) and not self.faults.conversion)
        self._table_integer = bool(np.all(table == np.round(table)))
        # converted sums are integers too (exact in float32): the comparator can work on them directly
        self._integer_out = self._integer_sums and (self.exact or (self._table_integer and self._table_ok))
        wrong = np.abs(domain[table != domain])
        # fewest driven rows of a group that can convert with an error (|s_g| ≤ driven rows)
        self._first_error = int(wrong.min()) if wrong.size else ra + 1

    def _convert_sum(self, lp: Any, xm: Any, noise: Any | None) -> Any:
        """Σ_g Q(s_g) for rows ``xm`` (T, N, P, F) → (T, N, P, O); ``noise`` (T, N, P·G·O) sense noise in LSB.
        A layer with ``folded`` weights (exact route only) returns its neurons' shift-added sums instead.

        Every route gives the same bits: the exact route and the clip-correction route add integers (exact in
        float32 below 2^24, so the order does not matter); the dense route adds the groups in g order, as a
        sum over the group axis does.
        """
        xp = self.xp
        lead = tuple(xm.shape[:-1])
        o = lp.w.shape[1]
        flat = xp.reshape(xm, (-1, xm.shape[-1]))   # one 2-D GEMM, not T·N vector–matrix products
        if self.exact:
            w = lp.w if lp.folded is None else lp.folded   # folded: the weight slices' shift-add is in the GEMM
            return xp.reshape(flat @ w, (*lead, w.shape[1]))
        if self._integer_sums and self._table_integer and self._table_ok:
            out = self._clip_corrected(lp, flat)
            if out is not None:
                return xp.reshape(out, (*lead, o))
        return xp.reshape(self._dense_groups(lp, flat, noise), (*lead, o))

    def _clip_corrected(self, lp: Any, flat: Any) -> Any | None:
        """Σ_g Q(s_g) = Σ_g s_g + Σ_g (Q(s_g) − s_g) for integer partial sums and an integer-valued Q: the full
        GEMM gives Σ_g s_g; a group can only be converted with an error when at least ``_first_error`` of its
        rows are driven (|s_g| ≤ driven rows), so only those (input, group) pairs are recomputed. None when too
        many pairs qualify for this to pay (then the dense route runs)."""
        xp, ra = self.xp, self.ra
        f = flat.shape[1]
        driven = xp.abs(flat) @ lp.group_of_row            # (M, G) driven rows per group, exact integers
        cand = driven >= self._first_error
        if 2 * int(xp.sum(xp.astype(cand, xp.int64))) > _DENSE_FRACTION * 2 * cand.shape[0] * cand.shape[1]:
            return None
        out = flat @ lp.w
        # dozens of tiny GEMMs: BLAS threads would spend more time waking up than multiplying
        with self._blas_threads(1):
            for k in self.bk.to_numpy(xp.nonzero(xp.any(cand, axis=0))[0]).tolist():
                rows = xp.nonzero(cand[:, k])[0]
                s = flat[rows, k * ra: min(f, (k + 1) * ra)] @ lp.w[k * ra: (k + 1) * ra]
                out[rows] += self._lookup(s) - s
        return out

    def _blas_threads(self, n: int):
        """Context in which numpy's BLAS runs on ``n`` threads (threadpoolctl; its controller is built once,
        before any worker thread starts). Other backends schedule their own threads: a no-op there."""
        if not self.bk.is_numpy:
            return contextlib.nullcontext()
        if self._blas is None:
            from threadpoolctl import ThreadpoolController

            self._blas = ThreadpoolController()
        return self._blas.limit(limits=n, user_api="blas")

    def _lookup(self, s: Any) -> Any:
        """Q(s) of integer-valued partial sums by table (the quantizer evaluated once on −ra … ra)."""
        xp = self.xp
        return self._table[xp.astype(s + np.float32(self.ra), xp.int64)]

    def _dense_groups(self, lp: Any, flat: Any, noise: Any | None) -> Any:
        """Every row group's partial sum, converted, added in g order; blocks of rows keep the working set in
        cache."""
        xp = self.xp
        g, _, o = lp.wg.shape
        m = flat.shape[0]
        nz = None if noise is None else xp.reshape(noise, (m, g, o))
        out = xp.zeros((m, o), dtype=xp.float32, device=device_of(flat))
        with self._blas_threads(1):
            self._dense_blocks(lp, flat, nz, out)
        return out

    def _dense_blocks(self, lp: Any, flat: Any, nz: Any | None, out: Any) -> None:
        xp, ra = self.xp, self.ra
        g = lp.wg.shape[0]
        kappa, sigma = np.float32(self.kappa), np.float32(self.noise)
        for r0 in range(0, flat.shape[0], _ROW_BLOCK):
            xb = flat[r0: r0 + _ROW_BLOCK]
            for k in range(g):
                xs = xb[:, k * ra: (k + 1) * ra]
                if xs.shape[1] < ra:                      # last group of a fan-in that is not a multiple of ra
                    pad = xp.zeros((xs.shape[0], ra - xs.shape[1]), dtype=xp.float32, device=device_of(xs))
                    xs = xp.concat([xs, pad], axis=1)
                s = xs @ lp.wg[k]
                if lp.eg is not None:  # exact float64 sums on the GRID, rounded once to float32
                    x64 = xp.astype(xs, xp.float64)
                    a = xp.astype(xp.abs(x64) @ lp.eg[k], xp.float32)
                    b = xp.astype(x64 @ lp.weg[k], xp.float32)
                    s = s + (kappa * a + b)
                if nz is not None:
                    z = nz[r0: r0 + _ROW_BLOCK, k]
                    if self.read_error is not None:  # the circuit's per-level read error (components/sense_margin.py)
                        s = self.bk.asarray(self.read_error.perturb(
                            self.bk.to_numpy(s), self.bk.to_numpy(xp.sum(xp.abs(xs), axis=-1, keepdims=True)),
                            self.bk.to_numpy(z)))
                    else:
                        s = s + sigma * z
                q = self._lookup(s) if (self._integer_sums and self._table_ok) else self._convert_group(lp, k, xs, s)
                if k == 0:
                    out[r0: r0 + _ROW_BLOCK] = q
                else:
                    out[r0: r0 + _ROW_BLOCK] += q

    def _convert_group(self, lp: Any, k: int, xs: Any, s: Any) -> Any:
        """The converter on row group k's partial sums ``s`` (rows, O) of rows ``xs`` (rows, ra): stuck-cell
        bias on driven rows and converter offsets (cimsim.faults.inject) first, then the quantizer (with the
        driven-row count when its references are fixed). The quantizer is the component's numpy model: it runs
        on the host (a view on the CPU)."""
        xp, bk = self.xp, self.bk
        bias = self._fault_bias.get(lp.lm.index)
        if bias is not None:
            s = s + xp.abs(xs) @ bias[k]
        off = self._fault_offset.get(lp.lm.index)
        if off is not None:
            s = s + off[k]
        q = self.quantizer
        driven = None if q.track_driven_rows else bk.to_numpy(xp.sum(xp.abs(xs), axis=-1, keepdims=True))
        return bk.asarray(q(bk.to_numpy(s), driven))
