"""Current-mode sense amplifiers: NeuroSim multi-level SA (flash of L−1 current SAs) and its 1-bit case.

REFERENCES §4.4; coefficients read in ``Accelergy-Project/accelergy-neurosim-plug-in``
``drop_in/MultilevelSenseAmp.cpp`` (HP roadmap, current mode) [code].
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from cimsim.components import tech
from cimsim.components.adc import ColumnPeriphery, ColumnPeripheryParams, node_coeffs
from cimsim.components.base import Action, Context, register


class MLSAParams(ColumnPeripheryParams):
    model: Literal["mlsa"] = "mlsa"
    levels: int | None = Field(default=None, ge=2, le=4097,
                               description="output codes; None: 2·rows_active+1 (exact) [docs/REFERENCES.md §11]")


class SenseAmpParams(ColumnPeripheryParams):
    model: Literal["sense_amp"] = "sense_amp"

#: HP current-mode MLSA coefficients per node: (k µW per comparator, c, d) in
#: ``P_col = k·(L−1)·1e-6 + c·exp(−d·log10 R')``, R' = R·0.5/V_read
#: [code: accelergy-neurosim-plug-in drop_in/MultilevelSenseAmp.cpp GetColumnPower, deviceroadmap == 1].
MLSA_HP_COEFFS: dict[float, tuple[float, float, float]] = {
    130.0: (19.898, 0.17452, 2.367),
    90.0: (13.09, 0.14900, 2.345),
    65.0: (9.9579, 0.1083, 2.321),
    45.0: (7.7017, 0.0754, 2.296),
    32.0: (3.9648, 0.079, 2.313),
    22.0: (1.8939, 0.073, 2.311),
    14.0: (1.2, 0.0584, 2.311),
    10.0: (0.8, 0.0318, 2.311),
    7.0: (0.5, 0.0210, 2.311),
}
#: Column latency for the HP roadmap (and any node ≤ 22 nm): 1 ns; E = P·latency
#: [code: MultilevelSenseAmp.cpp GetColumnLatency / CalculatePower, current mode].
MLSA_LATENCY_S = 1e-9
#: Minimum-transistor counts per comparator: current SA (48 N + 40 P) [code: NeuroSim V1.4
#: CurrentSenseAmp.cpp CalculateUnitArea; the MLSA instantiates (L−1)·numCol of them] plus the MLSA's
#: own 9 N + 9 P [code: MultilevelSenseAmp.cpp CalculateArea, current mode] → 106 per comparator [derived].
MLSA_TRANSISTORS_PER_COMPARATOR = 48 + 40 + 9 + 9


@register
class MultiLevelSenseAmp(ColumnPeriphery):
    """NeuroSim multi-level current-mode sense amplifier (flash of L−1 comparators), one per column.

    * P_col = k(node)·(L − 1)·1e-6 + c·exp(−d·log10(R·0.5/V_read)), W
    * latency = 1 ns (HP roadmap), s; E_convert = P_col · 1 ns, J
    * area = (L − 1) · 106 · A_min, m² (A_min = :func:`tech.min_transistor_area_m2`)
    * leakage = 0 W [code: MultilevelSenseAmp.cpp CalculatePower sets ``leakage = 0``]

    Coefficients between tabulated nodes: log-log for k and c, linear-in-log(node) for d (exact at the
    nodes). ``ctx.vdd_v``, ``ctx.temperature_k`` and ``sample_rate_hz`` do not enter (NeuroSim fits at
    its own nominal supply; no temperature term in this NeuroSim file).
    """

    model: ClassVar[str] = "mlsa"
    Params = MLSAParams

    @classmethod
    def levels_from(cls, params: Any, rows_active: int) -> int:
        return params.levels if params.levels is not None else 2 * rows_active + 1

    def __init__(self, ctx: Context, *, levels: int, sample_rate_hz: float, column_resistance_ohm: float,
                 read_voltage_v: float) -> None:
        super().__init__(ctx, levels=levels, sample_rate_hz=sample_rate_hz,
                         column_resistance_ohm=column_resistance_ohm, read_voltage_v=read_voltage_v)
        self.k_uw, self.c, self.d = node_coeffs(MLSA_HP_COEFFS, ctx.node_nm)

    @property
    def comparators(self) -> int:
        return self.levels - 1

    def column_power_w(self) -> float:
        return self.k_uw * self.comparators * 1e-6 + self._neurosim_r_term_w(self.c, self.d)

    def area_m2(self) -> float:
        return (self.comparators * MLSA_TRANSISTORS_PER_COMPARATOR * tech.min_transistor_area_m2(self.ctx.node_nm)
                + self.reference_area_m2)

    def leakage_w(self) -> float:
        return 0.0

    def actions(self) -> dict[str, Action]:
        return {"convert": Action(energy_j=self.column_power_w() * MLSA_LATENCY_S + self.reference_energy_j,
                                  latency_s=MLSA_LATENCY_S)}


@register
class SenseAmp(MultiLevelSenseAmp):
    """1-bit current sense amplifier: the NeuroSim MLSA with L = 2 (one comparator) (REFERENCES §4.4).

    Raises:
        ValueError: ``levels != 2``.
    """

    model: ClassVar[str] = "sense_amp"
    Params = SenseAmpParams

    @classmethod
    def levels_from(cls, params: Any, rows_active: int) -> int:
        return 2

    def __init__(self, ctx: Context, *, levels: int, sample_rate_hz: float, column_resistance_ohm: float,
                 read_voltage_v: float) -> None:
        if levels != 2:
            raise ValueError(f"sense_amp is a 1-bit sense amplifier and needs levels == 2, got {levels!r}; "
                             "use model 'mlsa' or an ADC for more levels")
        super().__init__(ctx, levels=levels, sample_rate_hz=sample_rate_hz,
                         column_resistance_ohm=column_resistance_ohm, read_voltage_v=read_voltage_v)
