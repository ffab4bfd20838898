"""Column ADCs: the NeuroSim V1.4 SAR model and the Murmann-survey model (REFERENCES §4.1, §4.3).

Both are ``kind = "column_periphery"`` models: one instance digitises one crossbar column, and the action
``"convert"`` is one conversion of that column. All of them take
``(ctx, *, levels, sample_rate_hz, column_resistance_ohm, read_voltage_v)`` and build themselves from their
YAML section (``columns_per_converter``, ``full_scale_rows`` and their own resolution field).
"""

from __future__ import annotations

import copy
import math
import warnings
from typing import Any, ClassVar, Literal

from pydantic import Field

from cimsim.components import contracts, tech
from cimsim.components.base import Action, Component, Context, register
from cimsim.components.quantizer import Quantizer, ReferencePolicy
from cimsim.spec.common import Spec


class ColumnPeripheryParams(Spec):
    """Fields every column-periphery section has (not itself a model)."""

    columns_per_converter: int = Field(default=1, ge=1, le=256, description="columns time-sharing one converter")
    full_scale_rows: int | None = Field(default=None, ge=1, le=4096,
                                        description="partial sums beyond ±full_scale_rows clip; None: rows_active")
    references: ReferencePolicy = Field(
        default="symmetric", description="comparator references midway between codes; a sum exactly on one "
                                         "resolves toward 0 (symmetric: unbiased) or upward (ge_ladder: +step/2 per "
                                         "tie) (components/quantizer.py)")
    track_driven_rows: bool = Field(
        default=True, description="re-centre the references on the rows actually driven (dropout, bit planes) "
                                  "with a replica column per array (costed per conversion); false: references set "
                                  "for rows_active rows, each undriven row shifts the reading by −κ popcounts")


class BitsParams(ColumnPeripheryParams):
    bits: int = Field(ge=1, le=12, description="resolution of the ADC, bits (2^bits output codes)")


class SarParams(BitsParams):
    model: Literal["neurosim_sar"] = "neurosim_sar"


class MurmannParams(BitsParams):
    model: Literal["murmann_survey"] = "murmann_survey"
    sample_rate_hz: float | None = Field(default=None, gt=0, le=1e11,
                                         description="ADC sample rate, Hz; None: the clock")


class ColumnPeriphery(Component):
    """Shared argument handling of every ``column_periphery`` model (not itself a registered model).

    Args:
        ctx: chip operating point.
        levels: number of output levels L the column read-out resolves (≥ 2).
        sample_rate_hz: conversions per second one instance must sustain, Hz.
        column_resistance_ohm: equivalent resistance of the sensed column, Ω (``math.inf`` = open column,
            which removes the read-current term).
        read_voltage_v: read voltage applied to the column, V.

    Attributes:
        levels: L.
        bits: ``ceil(log2 L)``, the whole bits a digital output of L levels needs.
    """

    kind: ClassVar[str] = "column_periphery"
    model: ClassVar[str] = ""
    CONVERT = "convert"
    ACTIONS = (CONVERT,)
    TRIGGERS = {contracts.CONVERSION: CONVERT}

    def __init__(self, ctx: Context, *, levels: int, sample_rate_hz: float, column_resistance_ohm: float,
                 read_voltage_v: float) -> None:
        if isinstance(levels, bool) or int(levels) != levels or levels < 2:
            raise ValueError(f"levels must be an integer >= 2, got {levels!r}")
        if not sample_rate_hz > 0 or math.isinf(sample_rate_hz):
            raise ValueError(f"sample_rate_hz must be positive and finite, got {sample_rate_hz!r}")
        if not column_resistance_ohm > 0:
            raise ValueError(f"column_resistance_ohm must be positive, got {column_resistance_ohm!r}")
        if not read_voltage_v > 0 or math.isinf(read_voltage_v):
            raise ValueError(f"read_voltage_v must be positive and finite, got {read_voltage_v!r}")
        tech.check_node(ctx.node_nm)
        self.ctx = ctx
        self.levels = int(levels)
        self.bits = max(1, math.ceil(math.log2(self.levels) - 1e-12))
        self.sample_rate_hz = float(sample_rate_hz)
        self.column_resistance_ohm = float(column_resistance_ohm)
        self.read_voltage_v = float(read_voltage_v)
        self.columns_per_converter = 1
        self.full_scale_rows: float | None = None
        self.mux: Component | None = None
        # Reference ladder: set for an array by calibrated(); a bare instance is the converter alone (no
        # tracking replica costed) and gives no quantizer.
        self.references: ReferencePolicy = "symmetric"
        self.track_driven_rows = True
        self.rows_active = 0
        self.kappa = 0.0
        self.reference_energy_j = 0.0
        self.reference_area_m2 = 0.0

    @classmethod
    def levels_from(cls, params: Any, rows_active: int) -> int:
        """Output codes of this model for its section ``params`` (ADCs: 2^bits)."""
        return 2 ** params.bits

    @classmethod
    def from_spec(cls, params: Any, build: Any) -> ColumnPeriphery:
        xb = build.part("crossbar")
        conv = cls(build.ctx, levels=cls.levels_from(params, xb.rows_active),
                   sample_rate_hz=getattr(params, "sample_rate_hz", None) or build.ctx.clock_hz,
                   column_resistance_ohm=0.5 * (xb.r_lrs_ohm + xb.r_hrs_ohm) / xb.rows_active,
                   read_voltage_v=xb.read_voltage_v)
        return conv.calibrated(xb, params, max_current_a=build.arch.cell.write_current_a)

    def calibrated(self, array: Any, params: Any, max_current_a: float) -> ColumnPeriphery:
        """A copy of this converter set for ``array`` (a :class:`cimsim.components.contracts.CrossbarModel`)
        and its section ``params``: full scale, reference ladder, tracking replica, and the array's column
        select when ``columns_per_converter`` > 1 (pass gates for ``max_current_a``, A). The explicit
        calibration step (CrossSim's ``set_limits``): only a calibrated converter gives a :meth:`quantizer`.
        """
        conv = copy.copy(self)
        conv.__dict__.pop("_action_table", None)
        conv.columns_per_converter = params.columns_per_converter
        conv.full_scale_rows = float(params.full_scale_rows or array.rows_active)
        conv.mux = array.column_select(params.columns_per_converter, max_current_a)
        conv.references, conv.track_driven_rows = params.references, params.track_driven_rows
        conv.rows_active = array.rows_active
        conv.kappa = (array.i_lrs_a + array.i_hrs_a) / (array.i_lrs_a - array.i_hrs_a)
        if params.track_driven_rows:
            # Tracking references: one replica column per array, cells fixed in the high state and driven by the
            # same word lines, carries n_d·I_H, the baseline the ladder is offset by [derived: I = n_d·I_H +
            # n_LRS·ΔI]. One replica read (precharge + at most rows_active HRS cells) per row-group read, shared
            # by the array's cols conversions; its cells (one column) shared by the array's converters.
            conv.reference_energy_j = array.replica_read_energy_j() / array.cols
            conv.reference_area_m2 = array.column_area_m2() * params.columns_per_converter / array.cols
        return conv

    def parts(self) -> dict[str, tuple[Component, int]]:
        """The column select in front of a shared converter (one per converter), if the array needs one."""
        return {"column_mux": (self.mux, 1)} if self.mux is not None else {}

    def action(self, name: str) -> Action:
        """One action's cost; ``convert`` behind a column mux includes the mux's select time, because the
        select settles before the conversion can start: one stated latency for the whole step (its energy
        stays the converter's; the select is counted as ``column_mux.select``)."""
        act = super().action(name)
        if name == "convert" and self.mux is not None:
            return Action(act.energy_j, act.latency_s + self.mux.action("select").latency_s, act.composite)
        return act

    def quantizer(self) -> Quantizer:
        """The transfer function of one conversion (levels over ±full_scale_rows popcount steps)."""
        if self.full_scale_rows is None:
            raise ValueError(f"{type(self).__name__} is not calibrated: call calibrated(array, params, max_current_a)")
        return Quantizer(self.levels, self.full_scale_rows, references=self.references,
                         track_driven_rows=self.track_driven_rows, rows_active=self.rows_active, kappa=self.kappa)

    def _neurosim_r_term_w(self, c: float, d: float) -> float:
        """NeuroSim column-current term ``c·exp(-d·log10(R'))``, W, with ``R' = R·0.5 V / V_read``
        (NeuroSim fits were made at 0.5 V read) [code: SarADC.cpp / MultilevelSenseAmp.cpp GetColumnPower]."""
        r_eff = self.column_resistance_ohm * 0.5 / self.read_voltage_v
        if math.isinf(r_eff):
            return 0.0
        return c * math.exp(-d * math.log10(r_eff))


# --------------------------------------------------------------------------------------------------
# NeuroSim SAR ADC
# --------------------------------------------------------------------------------------------------

#: HP-roadmap SAR coefficients per node: (a µW/bit, b µW, c, d) in
#: ``P_col = (a·log2 L + b)·1e-6 + c·exp(-d·log10 R')`` [code: neurosim/DNN_NeuroSim_V1.4
#: Inference_pytorch/NeuroSIM/SarADC.cpp GetColumnPower, commit 9e6742cd, deviceroadmap == 1].
SAR_HP_COEFFS: dict[float, tuple[float, float, float, float]] = {
    130.0: (6.4806, 49.047, 0.207452, 2.367),
    90.0: (4.3474, 31.782, 0.164900, 2.345),
    65.0: (2.9503, 22.047, 0.128483, 2.321),
    45.0: (2.1843, 11.931, 0.097754, 2.296),
    32.0: (1.0157, 7.6286, 0.083709, 2.313),
    22.0: (0.7213, 3.3041, 0.084273, 2.311),
    14.0: (0.4710, 1.9529, 0.060584, 2.311),
    10.0: (0.3076, 1.1543, 0.049418, 2.311),
    7.0: (0.2008, 0.6823, 0.040310, 2.311),
}
#: Time per SAR cycle, s; the conversion takes (log2 L + 1) cycles [code: SarADC.cpp CalculateLatency].
SAR_CYCLE_S = 1e-9
#: Relative power increase per kelvin above 300 K [code: SarADC.cpp, ``1 + 1.3e-3·(T - 300)``].
SAR_TEMP_COEFF_PER_K = 1.3e-3
#: Minimum-transistor counts: N·(269 + (log2 L - 1)·109) + P·(209 + (log2 L - 1)·73)
#: [code: SarADC.cpp CalculateUnitArea].
SAR_AREA_N = (269.0, 109.0)
SAR_AREA_P = (209.0, 73.0)


def node_coeffs(table: dict[float, tuple[float, ...]], node_nm: float) -> tuple[float, ...]:
    """Per-node NeuroSim coefficients; between nodes: positive magnitudes log-log, exponents d linear in
    log(node) [derived: same power-law-per-segment rule as :mod:`tech`]. Exact at tabulated nodes."""
    nodes = sorted(table)
    n_coef = len(next(iter(table.values())))
    out = []
    for i in range(n_coef):
        vals = [table[n][i] for n in nodes]
        is_exponent = i == n_coef - 1
        f = tech.interp_lin_lognode if is_exponent else tech.interp_loglog
        out.append(f(node_nm, nodes, vals))
    return tuple(out)


@register
class NeuroSimSarADC(ColumnPeriphery):
    """NeuroSim V1.4 SAR ADC, HP roadmap (REFERENCES §4.3), one per column.

    With B = ``bits`` (= log2 L for L = 2^B; ceil(log2 L) otherwise, because a SAR resolves whole bits):

    * latency = (B + 1) · 1 ns, s
    * P_col = [(a·B + b)·1e-6 + c·exp(-d·log10(R·0.5/V_read))] · (1 + 1.3e-3·(T - 300)), W
    * E_conv = P_col · (B + 1) · 1e-9, J
    * area = A_min · (269 + 109·(B - 1)) + A_min · (209 + 73·(B - 1)), m² (A_min from
      :func:`tech.min_transistor_area_m2`)
    * leakage = 0 W [code: SarADC.cpp CalculatePower sets ``leakage = 0``]

    ``ctx.vdd_v`` and ``sample_rate_hz`` do not enter: NeuroSim's fits are at its own nominal supply and
    the latency is fixed by the SAR cycle.
    """

    model: ClassVar[str] = "neurosim_sar"
    Params = SarParams

    def __init__(self, ctx: Context, *, levels: int, sample_rate_hz: float, column_resistance_ohm: float,
                 read_voltage_v: float) -> None:
        super().__init__(ctx, levels=levels, sample_rate_hz=sample_rate_hz,
                         column_resistance_ohm=column_resistance_ohm, read_voltage_v=read_voltage_v)
        self.a, self.b, self.c, self.d = node_coeffs(SAR_HP_COEFFS, ctx.node_nm)

    def column_power_w(self) -> float:
        """Power while converting, W."""
        p = (self.a * self.bits + self.b) * 1e-6 + self._neurosim_r_term_w(self.c, self.d)
        return p * (1.0 + SAR_TEMP_COEFF_PER_K * (self.ctx.temperature_k - 300.0))

    def latency_s(self) -> float:
        return (self.bits + 1) * SAR_CYCLE_S

    def area_m2(self) -> float:
        a_min = tech.min_transistor_area_m2(self.ctx.node_nm)
        n = SAR_AREA_N[0] + (self.bits - 1) * SAR_AREA_N[1]
        p = SAR_AREA_P[0] + (self.bits - 1) * SAR_AREA_P[1]
        return a_min * (n + p) + self.reference_area_m2

    def leakage_w(self) -> float:
        return 0.0

    def actions(self) -> dict[str, Action]:
        t = self.latency_s()
        return {"convert": Action(energy_j=self.column_power_w() * t + self.reference_energy_j, latency_s=t)}


# --------------------------------------------------------------------------------------------------
# Murmann survey
# --------------------------------------------------------------------------------------------------

#: SNDR(N) = 6.0206·N + 1.7609 dB [code: accelergy-adc-plug-in headers.bits2sndr, HEAD ff0fb48a].
SNDR_SLOPE_DB, SNDR_OFFSET_DB = 6.0206, 1.7609
#: FOM_S(f) = 213.7807 − 2.871903·ln f dB, capped at FOMmax[ceil N] [code: adc_data/model.yaml].
FOMS_INTERCEPT_DB, FOMS_SLOPE_DB = 213.7807, -2.871903
#: FOMmax[k] = 128.3068 + 3.22051·k dB [code: adc_data/model.yaml].
FOMMAX_INTERCEPT_DB, FOMMAX_SLOPE_DB = 128.3068, 3.22051
#: E_conv[pJ] = E_0·exp(26.04962 + 1.880037·ln(tech_nm) − 2.829126·ln N − 1.470202) [code: model.py].
E_FIT = (26.04962, 1.880037, -2.829126, -1.470202)
#: Area[µm²] = exp(1.346192 + 0.993279·ln(tech_nm) + 0.180715·ln f + 0.299124·ln E_pJ) [code: model.py].
AREA_FIT = (1.346192, 0.993279, 0.180715, 0.299124)
#: Beyond this sample rate the fit extrapolates (e^23.026 Hz) [code: model.py].
MURMANN_F_MAX_HZ = 1.0e10
#: Resolution floor of the fit, bits [assumed]: the E_conv fit has its minimum near 4 b and rises again
#: below (the −2.83·ln N term; 1 b would cost 6× a 4-b ADC), an extrapolation artefact — the survey holds
#: no ADCs below ~3 b ENOB (REFERENCES §4.1 statistics start at ENOB 3). Below 4 b the 4-b cost is used.
MURMANN_MIN_BITS = 4


@register
class MurmannSurveyADC(ColumnPeriphery):
    """Murmann-survey ADC fit from the Accelergy ADC plug-in (REFERENCES §4.1), one per column.

    N = ``bits``, f = ``sample_rate_hz`` (per ADC), node = ``ctx.node_nm``:

    * SNDR = 6.0206·N + 1.7609 dB
    * FOM_S = min(213.7807 − 2.871903·ln f, 128.3068 + 3.22051·ceil(N)) dB
    * E_0 = 1 / (2·10^((FOM_S − SNDR)/10))
    * E_conv = E_0·exp(26.04962 + 1.880037·ln node − 2.829126·ln N − 1.470202) pJ
    * Area = exp(1.346192 + 0.993279·ln node + 0.180715·ln f + 0.299124·ln E_conv[pJ]) µm²
    * N < 4 is costed as N = 4 (:data:`MURMANN_MIN_BITS`, [assumed]); N ≥ 4 follows the equations exactly
    * latency = 1/f s; leakage = 0 W [assumed: survey E_conv is P/f_s, so static power at the design
      rate is already inside it]

    The fit carries its own node dependence (area ∝ node^~1.6), so it does NOT follow
    :func:`tech.area_factor`; ``ctx.vdd_v`` does not enter.
    """

    model: ClassVar[str] = "murmann_survey"
    Params = MurmannParams

    def __init__(self, ctx: Context, *, levels: int, sample_rate_hz: float, column_resistance_ohm: float,
                 read_voltage_v: float) -> None:
        super().__init__(ctx, levels=levels, sample_rate_hz=sample_rate_hz,
                         column_resistance_ohm=column_resistance_ohm, read_voltage_v=read_voltage_v)
        if self.sample_rate_hz > MURMANN_F_MAX_HZ:
            warnings.warn(f"MurmannSurveyADC: {self.sample_rate_hz:g} Hz is beyond the survey fit "
                          f"({MURMANN_F_MAX_HZ:g} Hz); extrapolating", stacklevel=2)

    @property
    def fit_bits(self) -> int:
        """Resolution N the fit is evaluated at: ``max(bits, 4)``."""
        return max(self.bits, MURMANN_MIN_BITS)

    def sndr_db(self) -> float:
        return SNDR_SLOPE_DB * self.fit_bits + SNDR_OFFSET_DB

    def fom_s_db(self) -> float:
        fom_f = FOMS_INTERCEPT_DB + FOMS_SLOPE_DB * math.log(self.sample_rate_hz)
        fom_max = FOMMAX_INTERCEPT_DB + FOMMAX_SLOPE_DB * math.ceil(self.fit_bits)
        return min(fom_f, fom_max)

    def energy_pj(self) -> float:
        """Energy per conversion, pJ."""
        e0 = 1.0 / (2.0 * 10.0 ** ((self.fom_s_db() - self.sndr_db()) / 10.0))
        k0, k_node, k_bits, k1 = E_FIT
        return e0 * math.exp(k0 + k_node * math.log(self.ctx.node_nm) + k_bits * math.log(self.fit_bits) + k1)

    def area_m2(self) -> float:
        k0, k_node, k_f, k_e = AREA_FIT
        um2 = math.exp(k0 + k_node * math.log(self.ctx.node_nm) + k_f * math.log(self.sample_rate_hz)
                       + k_e * math.log(self.energy_pj()))
        return um2 * 1e-12 + self.reference_area_m2

    def leakage_w(self) -> float:
        return 0.0

    def actions(self) -> dict[str, Action]:
        return {"convert": Action(energy_j=self.energy_pj() * 1e-12 + self.reference_energy_j,
                                  latency_s=1.0 / self.sample_rate_hz)}
