"""Transfer function of a column converter: what it returns for a row group's partial sum.

The column-periphery component hands this to the functional executor (:meth:`ColumnPeriphery.quantizer`), so
cost and function come from one object (CrossSim's IADC shape, docs/architecture.md).

A row group's partial sum ``s_g`` (integer in [−rows_active, rows_active]) is converted with ``levels``
codes c_k = −full_scale + k·step, k = 0 … levels−1, step = ``max(1, 2·full_scale/(levels−1))`` popcount steps
(one LSB is never finer than one popcount step, the current one matching cell adds), to the nearest code,
clipping at the ends. The comparator references sit midway between adjacent codes. A partial sum can land
exactly on a reference (s has the parity of the driven-row count, and e.g. a 17-level MLSA over ±16 has its
references on the odd sums); how such a tie resolves is the ``references`` policy:

- ``symmetric`` (default): the ladder is mirrored about s = 0 and every reference that a reachable sum can hit
  is moved half a popcount step toward the centre code, so a tie converts to the code nearer 0. Then
  Q(−s) = −Q(s): symmetric inputs have zero mean conversion error. With an even number of levels the centre
  reference sits at s = 0 itself; it is moved up on even and down on odd columns (alternating reference
  trim), which cancels its bias over the columns of an array.
- ``ge_ladder``: every comparator decides ``s ≥ reference`` (ties upward) — the plain flash ladder. It biases
  every tie by +step/2 (docs/models.md "Functional conversion" measures what that costs).

Random comparator offset / thermal noise is ``variation.sense_noise_sigma_lsb``, added to s before this
transfer function by the executor; with it, ties resolve randomly and both policies are unbiased in
expectation. With ``crossbar.read_model: electrical`` the executor adds the circuit's per-level read error
(IR drop, TMR spread: :mod:`cimsim.components.sense_margin`) at the same place.

Reference tracking (``track_driven_rows``): the column current is I = n_d·I_H + n_LRS·ΔI (n_d rows driven,
n_LRS of them conducting in the low state), i.e. s = 2I/ΔI − κ·n_d with κ = (I_L + I_H)/(I_L − I_H). If the
references are re-centred for the n_d rows actually driven (dropout masks and first-layer bit planes change
n_d), the converter sees s. If they are set once for ``rows_active`` driven rows, the converter sees
s − κ·(rows_active − n_d): every undriven row shifts the reading by −κ popcount steps (not corrected).

Consequences (tracking references): ``levels ≥ 2·full_scale + 1`` and ``full_scale ≥ rows_active``: exact;
``full_scale < rows_active``: partial sums beyond ±full_scale clip; fewer levels: uniform quantization with a
coarser step; ``levels = 2`` (1-bit sense amp): ±full_scale by the sign of s_g.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

ReferencePolicy = Literal["symmetric", "ge_ladder"]
# Tolerance of the tie test in code-index units: float32 sums are integers, step a ratio of small integers.
_TIE_TOL = 1e-6


@dataclass(frozen=True)
class Quantizer:
    """Transfer function of one column conversion.

    Attributes:
        levels: output codes.
        full_scale: half range, in popcount steps.
        references: tie policy of the comparator references (module docstring).
        track_driven_rows: whether the references follow the driven-row count n_d of each read.
        rows_active: rows of a full row group (what fixed references are set for).
        kappa: (I_L + I_H)/(I_L − I_H), popcount shift per undriven row with fixed references.
    """

    levels: int
    full_scale: float
    references: ReferencePolicy = "symmetric"
    track_driven_rows: bool = True
    rows_active: int = 0
    kappa: float = 0.0

    @property
    def step(self) -> float:
        return max(1.0, 2.0 * self.full_scale / (self.levels - 1))

    def is_exact_for(self, rows_active: int) -> bool:
        """Whether every partial sum of ``rows_active`` rows converts without error (whatever rows are driven)."""
        return (self.full_scale >= rows_active and self.step == 1.0 and self.levels >= 2 * rows_active + 1
                and (self.track_driven_rows or self.kappa == 0.0))

    def __call__(self, s: np.ndarray, driven: np.ndarray | None = None) -> np.ndarray:
        """Converted values (same shape, float32) of partial sums ``s`` (last axis: columns).

        ``driven``: rows driven in each read, broadcastable to ``s`` (needed only by fixed references).
        """
        s = np.asarray(s, dtype=np.float32)
        if not self.track_driven_rows and self.kappa != 0.0:
            if driven is None:
                raise ValueError("fixed references need the driven-row count of each read")
            s = s - np.float32(self.kappa) * (np.float32(self.rows_active) - driven)
        step = self.step
        fs = self.full_scale
        u = (s.astype(np.float64) + fs) / step          # position in code-index units
        k_lo = np.floor(u)
        frac = u - k_lo
        k = k_lo + (frac > 0.5)
        tie = np.abs(frac - 0.5) < _TIE_TOL
        if self.references == "ge_ladder":
            k = np.where(tie, k_lo + 1, k)
        elif tie.any():
            centre = fs / step                           # code index of s = 0
            d_lo, d_hi = np.abs(k_lo - centre), np.abs(k_lo + 1 - centre)
            up = d_hi < d_lo - _TIE_TOL
            both = np.abs(d_hi - d_lo) <= _TIE_TOL        # the centre reference of an even-level ladder
            if both.any():
                col_even = (np.arange(s.shape[-1]) % 2 == 0) if s.ndim else np.array(True)
                up = up | (both & col_even)
            k = np.where(tie, k_lo + up, k)
        k = np.clip(k, 0, self.levels - 1)
        return (k * step - fs).astype(np.float32)
