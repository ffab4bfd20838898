"""Bit-cells storing one binary weight: 2T-2MTJ complementary pair or 1T-1MTJ (+ reference column).

The 2T-2MTJ cell stores w as (MTJ, MTJ̄) = (P, AP) or (AP, P); the input selects WL or WL̄, so the read
device is low-resistance iff XNOR(x, w) (Hirtzlin et al., NANOARCH 2019; REFERENCES §3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class CellGeometry:
    """Geometry of one weight cell.

    Attributes:
        cell_type: ``2T2MTJ`` or ``1T1MTJ``.
        area_f2_per_device: footprint of one 1T-1MTJ device, F².
        node_nm: feature size F, nm.
    """

    cell_type: Literal["2T2MTJ", "1T1MTJ"]
    area_f2_per_device: float
    node_nm: float

    @property
    def devices_per_weight(self) -> int:
        return 2 if self.cell_type == "2T2MTJ" else 1

    @property
    def area_m2(self) -> float:
        """Area of one weight cell, m²."""
        f = self.node_nm * 1e-9
        return self.devices_per_weight * self.area_f2_per_device * f * f

    @property
    def pitch_m(self) -> float:
        """Side of a square weight cell, m (word- and bit-line length per cell)."""
        return self.area_m2 ** 0.5

