"""Transfer function of a column converter: what it returns for a row group's partial sum.

The column-periphery component hands this to the functional executor (:meth:`ColumnPeriphery.quantizer`), so
cost and function come from one object (CrossSim's IADC shape, docs/architecture.md).

A row group's partial sum ``s_g`` (integer in [−rows_active, rows_active]) is converted with ``levels``
codes spanning ±``full_scale`` with a step of ``max(1, 2·full_scale/(levels−1))`` popcount steps (one LSB is
never finer than one popcount step, the current one matching cell adds), rounding to the nearest code
(ties upward, as a comparator ladder decides ``≥``) and clipping at the ends. Consequences:

- ``levels ≥ 2·full_scale + 1`` and ``full_scale ≥ rows_active``: exact;
- ``full_scale < rows_active``: partial sums beyond ±full_scale clip;
- fewer levels: uniform quantization with a coarser step;
- ``levels = 2`` (1-bit sense amp): ±full_scale by the sign of s_g (s_g = 0 reads as +).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Quantizer:
    """Transfer function of one column conversion.

    Attributes:
        levels: output codes.
        full_scale: half range, in popcount steps.
    """

    levels: int
    full_scale: float

    @property
    def step(self) -> float:
        return max(1.0, 2.0 * self.full_scale / (self.levels - 1))

    def is_exact_for(self, rows_active: int) -> bool:
        """Whether every partial sum of ``rows_active`` rows converts without error."""
        return self.full_scale >= rows_active and self.step == 1.0 and self.levels >= 2 * rows_active + 1

    def __call__(self, s: np.ndarray) -> np.ndarray:
        """Converted values (same shape, float32) of partial sums ``s``."""
        step = np.float32(self.step)
        fs = np.float32(self.full_scale)
        k = np.floor((s + fs) / step + np.float32(0.5))
        k = np.clip(k, 0, self.levels - 1)
        return (k * step - fs).astype(np.float32, copy=False)
