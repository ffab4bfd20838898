"""Bit-line (column) periphery of an STT-MRAM array: bit-line precharge/clamp, column multiplexer, write
driver and an NVSim-style current-mode 1-bit sense amp.

Formulas follow NVSim (IEEE TCAD 31(7), 2012; code SEAL-UCSB/NVSim commit 6334d00); RC conventions are
:mod:`cimsim.components.periphery_rc`. Per array ``cols`` :class:`BitlinePrecharge`, ``ceil(cols /
columns_per_converter)`` :class:`ColumnMux` (only when columns_per_converter > 1), one :class:`WriteDriver` per
written bit line, and the sense amps (the assembly is :mod:`cimsim.components.array_periphery`). All units SI.

Write-energy convention (docs/models.md "Write energy"): :func:`write_pulse_energy_j` is the one place
that prices an MTJ write pulse, E = V_supply · I · t_p, with the access transistor in the current path.
"""

from __future__ import annotations

import math
from typing import ClassVar

from cimsim.components import contracts, tech
from cimsim.components.adc import ColumnPeriphery
from cimsim.components.base import Action, Component, Context, register
from cimsim.components.periphery_rc import RC_STEP, positive
from cimsim.components.periphery_tech import device_params


def write_pulse_energy_j(supply_v: float, current_a: float, pulse_s: float) -> float:
    """Energy of one MTJ write pulse, J: E = V_supply · I · t_p.

    The driver holds the write current I for t_p from its supply; the MTJ, the access transistor and the
    driver itself are all in that current path, so the supply energy is the whole cost (the MTJ's own
    I²·R·t is a part of it). This is NVSim's current-mode write energy when the cell file gives none
    [code: NVSim MemCell.cpp CalculateWriteEnergy, ``resetEnergy = vdd·|resetCurrent|·resetPulse``].

    Raises:
        ValueError: a non-positive or non-finite argument.
    """
    for name, v in (("supply_v", supply_v), ("current_a", current_a), ("pulse_s", pulse_s)):
        if not v > 0 or math.isinf(v):
            raise ValueError(f"{name} must be positive and finite, got {v!r}")
    return supply_v * current_a * pulse_s


#: NVSim precharger transistor widths, F: bit-line precharge PMOS 6 F (two per column), equaliser 1.5 F,
#: enable inverter minimum size [code: NVSim Precharger.cpp Initialize].
PRECHARGE_PMOS_F = 6.0
EQUALIZER_PMOS_F = 1.5


@register
class BitlinePrecharge(Component):
    """Bit-line precharge/clamp of one column (current-mode read: the clamp holds the bit line at V_read).
    One instance per column (``cols`` per array).

    * ``precharge`` energy = C_enable·Vdd² + C_BL·V_clamp·Vdd, with C_enable = C_gate(1.5 F) + 2·C_gate(6 F)
      + inverter drains [code: NVSim Precharger.cpp capLoadInv]; the bit-line term is the charge C_BL·V_clamp
      drawn from the Vdd rail [derived] (NVSim leaves it out, "it is a charging process")
    * latency = 0.69·[R_p(6 F)·(C_BL + C_drain) + R_BL·C_BL/2] [code: NVSim Precharger.cpp CalculateLatency]
    * area = 2 PMOS 6 F + PMOS 1.5 F + minimum inverter; leakage: inverter at Vdd + precharge PMOS at V_clamp

    Args:
        ctx: operating point.
        bitline_cap_f, bitline_res_ohm: the column's bit line (:class:`ArrayLines`), F and Ω.
        clamp_voltage_v: bit-line voltage held during a read, V.
    """

    kind: ClassVar[str] = "precharge"
    model: ClassVar[str] = "nvsim"
    PRECHARGE = "precharge"
    ACTIONS = (PRECHARGE,)
    TRIGGERS = {contracts.CONVERSION: PRECHARGE}  # every converted column is clamped for its read

    def __init__(self, ctx: Context, *, bitline_cap_f: float, bitline_res_ohm: float,
                 clamp_voltage_v: float) -> None:
        self.ctx = ctx
        self.dev = d = device_params(ctx.node_nm, ctx.periphery_devices)
        self.bitline_cap_f = positive("bitline_cap_f", bitline_cap_f)
        if not bitline_res_ohm >= 0:
            raise ValueError(f"bitline_res_ohm must be >= 0, got {bitline_res_ohm!r}")
        self.bitline_res_ohm = float(bitline_res_ohm)
        self.clamp_voltage_v = positive("clamp_voltage_v", clamp_voltage_v)
        f = d.feature_m
        self._w_pre, self._w_eq, self._w_inv = PRECHARGE_PMOS_F * f, EQUALIZER_PMOS_F * f, d.min_width_m
        self.enable_cap_f = (d.gate_cap_f(self._w_eq) + 2 * d.gate_cap_f(self._w_pre)
                             + d.inverter_output_cap_f(self._w_inv))
        self.output_cap_f = d.drain_cap_f(self._w_pre) + d.drain_cap_f(self._w_eq)

    def area_m2(self) -> float:
        d = self.dev
        return (2 * d.transistor_area_m2(self._w_pre) + d.transistor_area_m2(self._w_eq)
                + d.gate_area_m2(1, self._w_inv, d.pn_ratio * self._w_inv))

    def leakage_w(self) -> float:
        d = self.dev
        return (d.gate_leakage_w(self._w_inv, d.pn_ratio * self._w_inv, self.ctx.vdd_v)
                + self.clamp_voltage_v * self._w_pre * d.i_off_p_a_per_m)

    def actions(self) -> dict[str, Action]:
        vdd = self.ctx.vdd_v
        e = self.enable_cap_f * vdd ** 2 + self.bitline_cap_f * self.clamp_voltage_v * vdd
        t = RC_STEP * (self.dev.on_resistance_ohm(self._w_pre, pmos=True) * (self.bitline_cap_f + self.output_cap_f)
                       + self.bitline_res_ohm * self.bitline_cap_f / 2.0)
        return {"precharge": Action(e, t)}


@register
class ColumnMux(Component):
    """NMOS pass-gate multiplexer selecting one of ``ways`` bit lines for a shared converter / write driver.
    One instance per converter: ``ceil(cols / columns_per_converter)`` per array, only when
    columns_per_converter > 1 (its select lines come from a :class:`RowDecoder` with ``outputs = ways``).

    * pass width W = max(1.5 F, I_max / I_on,n) (sized for the largest bit-line current, the write current
      when writes pass through it) [code: NVSim SubArray.cpp minBitlineMuxWidth]
    * ``select`` energy = C_gate(W)·Vdd² + ways·C_drain(W)·V_swing·Vdd (the selected gate and the shared
      output node, which swings by V_swing) [derived from NVSim Mux.cpp CalculatePower]
    * latency = 0.69·R_on(W)·(ways·C_drain(W) + C_load) [code: NVSim Mux.cpp CalculateLatency]
    * area = ways pass transistors; leakage = (ways − 1)·W·I_off,n·V_swing (off gates across V_swing)

    Args:
        ctx: operating point.
        ways: bit lines per mux (columns_per_converter), ≥ 2.
        max_current_a: largest current through a pass gate, A.
        load_cap_f: capacitance on the mux output (sense-amp / converter input), F.
        swing_v: voltage swing of the mux output node (V_read in a read), V.
    """

    kind: ClassVar[str] = "column_mux"
    model: ClassVar[str] = "nvsim"
    SELECT = "select"
    ACTIONS = (SELECT,)
    TRIGGERS = {contracts.CONVERSION: SELECT}

    def __init__(self, ctx: Context, *, ways: int, max_current_a: float, load_cap_f: float, swing_v: float) -> None:
        if ways < 2:
            raise ValueError(f"a column mux needs ways >= 2 (columns_per_converter > 1), got {ways!r}")
        self.ctx = ctx
        self.dev = device_params(ctx.node_nm, ctx.periphery_devices)
        self.ways = int(ways)
        self.max_current_a = positive("max_current_a", max_current_a)
        self.load_cap_f = positive("load_cap_f", load_cap_f)
        self.swing_v = positive("swing_v", swing_v)
        self.pass_width_m = self.dev.width_for_current_m(self.max_current_a)

    @property
    def select_line_cap_f(self) -> float:
        """Gate load one mux puts on its select line, F."""
        return self.dev.gate_cap_f(self.pass_width_m)

    def area_m2(self) -> float:
        return self.ways * self.dev.transistor_area_m2(self.pass_width_m)

    def leakage_w(self) -> float:
        return (self.ways - 1) * self.pass_width_m * self.dev.i_off_n_a_per_m * self.swing_v

    def actions(self) -> dict[str, Action]:
        d, w = self.dev, self.pass_width_m
        c_out = self.ways * d.drain_cap_f(w)
        e = d.gate_cap_f(w) * self.ctx.vdd_v ** 2 + c_out * self.swing_v * self.ctx.vdd_v
        t = RC_STEP * d.on_resistance_ohm(w) * (c_out + self.load_cap_f)
        return {"select": Action(e, t)}


@register
class WriteDriver(Component):
    """Bipolar current-mode write driver of one bit line (a driver at the bit-line end and one at the
    source-line end, each an inverter sized for the write current). One instance per bit line written in
    parallel (``cols / columns_per_converter`` per array, behind the column mux).

    * widths: W_n = max(1.5 F, I/I_on,n), W_p = max(1.5 F, I/I_on,p) [code: NVSim SubArray.cpp sizing rule]
    * supply: ``supply_v``, or by default max(Vdd, I·R_path) — a write rail high enough to push I through the
      worst-case cell (R_AP + R_access) [assumed: a boosted write supply when Vdd is too low]
    * ``pulse``: :func:`write_pulse_energy_j` (V_supply·I·t_p), latency t_p — the write-energy convention
    * ``write_bit``: pulse + C_BL·V_supply² (line charged to the write level, [code: NVSim SubArray.cpp
      setEnergyPerBit += (C_access + C_BL + C_mux)·V²]) + 2·C_in(driver)·Vdd²; latency t_p + 0.69·R_n·C_BL
    * area: two inverter footprints; leakage: two inverters at Vdd

    Args:
        ctx: operating point.
        write_current_a: programming current, A.
        write_pulse_s: programming pulse, s.
        path_resistance_ohm: worst-case resistance in the write path (R_AP + R_access), Ω.
        bitline_cap_f: bit-line capacitance, F.
        supply_v: write supply, V (None: the default above).

    Raises:
        ValueError: an explicit ``supply_v`` cannot push the current through ``path_resistance_ohm``.
    """

    kind: ClassVar[str] = "write_driver"
    model: ClassVar[str] = "current"
    ACTIONS = ("pulse", "write_bit")

    def __init__(self, ctx: Context, *, write_current_a: float, write_pulse_s: float, path_resistance_ohm: float,
                 bitline_cap_f: float, supply_v: float | None = None) -> None:
        self.ctx = ctx
        self.dev = d = device_params(ctx.node_nm, ctx.periphery_devices)
        self.write_current_a = positive("write_current_a", write_current_a)
        self.write_pulse_s = positive("write_pulse_s", write_pulse_s)
        self.path_resistance_ohm = positive("path_resistance_ohm", path_resistance_ohm)
        self.bitline_cap_f = positive("bitline_cap_f", bitline_cap_f)
        self.required_supply_v = self.write_current_a * self.path_resistance_ohm
        if supply_v is None:
            self.supply_v = max(ctx.vdd_v, self.required_supply_v)
        else:
            self.supply_v = positive("supply_v", supply_v)
            if self.supply_v < self.required_supply_v:
                raise ValueError(f"write supply {self.supply_v:g} V cannot drive {self.write_current_a:g} A through "
                                 f"{self.path_resistance_ohm:g} Ω (needs >= {self.required_supply_v:g} V)")
        self.width_n_m = d.width_for_current_m(self.write_current_a)
        self.width_p_m = d.width_for_current_m(self.write_current_a, pmos=True)

    def pulse_energy_j(self) -> float:
        return write_pulse_energy_j(self.supply_v, self.write_current_a, self.write_pulse_s)

    def area_m2(self) -> float:
        return 2 * self.dev.gate_area_m2(1, self.width_n_m, self.width_p_m)

    def leakage_w(self) -> float:
        return 2 * self.dev.gate_leakage_w(self.width_n_m, self.width_p_m, self.ctx.vdd_v)

    def actions(self) -> dict[str, Action]:
        d = self.dev
        pulse = Action(self.pulse_energy_j(), self.write_pulse_s)
        c_gates = 2 * d.gate_cap_f(self.width_n_m + self.width_p_m)
        overhead = self.bitline_cap_f * self.supply_v ** 2 + c_gates * self.ctx.vdd_v ** 2
        t_edge = RC_STEP * d.on_resistance_ohm(self.width_n_m) * self.bitline_cap_f
        return {"pulse": pulse, "write_bit": Action(pulse.energy_j + overhead, self.write_pulse_s + t_edge)}


#: NVSim current-mode sense amp, HSPICE-characterised IV converter per node: (node nm, energy J, latency s,
#: leakage W) [code: NVSim SenseAmp.cpp CalculateLatency/CalculatePower; ≥ 119 nm uses the 120 nm row,
#: below 22 nm the 22 nm row ("TO-DO, need calibration below 22nm")].
IV_CONVERTER: tuple[tuple[float, float, float, float], ...] = (
    (120.0, 8.52e-14, 0.49e-9, 1.40e-8),
    (90.0, 8.72e-14, 0.53e-9, 1.87e-8),
    (65.0, 9.00e-14, 0.62e-9, 2.57e-8),
    (45.0, 10.26e-14, 0.80e-9, 4.41e-9),
    (32.0, 12.56e-14, 1.07e-9, 12.54e-8),
    (22.0, 15.0e-14, 1.45e-9, 15.0e-8),
)
#: IV-converter footprint, F² [code: NVSim constant.h IV_CONVERTER_AREA = 50000, marked there "technology
#: and design dependent"; PCRAMSim uses 649606].
IV_CONVERTER_AREA_F2 = 50000.0
#: Latch transistor widths, F: P 7.5, N 3.75, isolation 12.5, enable 5, mux 9 [code: NVSim constant.h W_SENSE_*].
W_SENSE_P_F, W_SENSE_N_F, W_SENSE_ISO_F, W_SENSE_EN_F, W_SENSE_MUX_F = 7.5, 3.75, 12.5, 5.0, 9.0
#: Minimum bit-line signal the latch resolves, V (NVSim sample STT-MRAM cell MinSenseVoltage 25 mV) [code].
MIN_SENSE_VOLTAGE_V = 0.025


def _iv_converter(node_nm: float) -> tuple[float, float, float]:
    """(energy J, latency s, leakage W) of the IV converter: log-log between NVSim's nodes, clamped at the
    ends as NVSim does."""
    nodes = [r[0] for r in IV_CONVERTER]
    node = min(max(node_nm, min(nodes)), max(nodes))
    return tuple(tech.interp_loglog(node, nodes, [r[i] for r in IV_CONVERTER]) for i in (1, 2, 3))  # type: ignore[return-value]


@register
class CurrentSenseAmp(ColumnPeriphery):
    """NVSim current-mode 1-bit sense amplifier: an IV converter followed by a voltage latch. A
    ``column_periphery`` model (one per sensed column), levels must be 2.

    * energy = E_IV(node) + C_latch·Vdd², C_latch = C_gate(W_P + W_N) + C_drain(W_N, W_P, W_ISO, W_MUX)
      [code: NVSim SenseAmp.cpp CalculateRC/CalculatePower]
    * latency = t_IV(node) + τ·ln(Vdd / V_sense), τ = C_latch / g_m, g_m = I_on(W_N + W_P)/(Vdd/2)
      [code: NVSim SenseAmp.cpp CalculateLatency; g_m of a velocity-saturated device with overdrive ≈ Vdd/2
      is assumed in place of NVSim's CalculateTransconductance]
    * area = 50 000 F² (IV converter) + latch transistors [code: NVSim SenseAmp.cpp CalculateArea]
    * leakage = IV-converter table + enable device W_EN·I_off·Vdd [code: NVSim SenseAmp.cpp]

    E_IV, t_IV: NVSim's per-node table (:data:`IV_CONVERTER`), log-log interpolated between its nodes (NVSim
    itself steps: e.g. 28 nm takes its 22 nm row), equal at the nodes. ``sample_rate_hz`` and
    ``column_resistance_ohm`` do not enter (the read current is priced with the cells).

    Raises:
        ValueError: ``levels != 2``.
    """

    model: ClassVar[str] = "nvsim_current_sa"

    def __init__(self, ctx: Context, *, levels: int, sample_rate_hz: float, column_resistance_ohm: float,
                 read_voltage_v: float, min_sense_voltage_v: float = MIN_SENSE_VOLTAGE_V) -> None:
        if levels != 2:
            raise ValueError(f"nvsim_current_sa is a 1-bit sense amplifier and needs levels == 2, got {levels!r}")
        super().__init__(ctx, levels=levels, sample_rate_hz=sample_rate_hz,
                         column_resistance_ohm=column_resistance_ohm, read_voltage_v=read_voltage_v)
        self.dev = d = device_params(ctx.node_nm, ctx.periphery_devices)
        self.min_sense_voltage_v = positive("min_sense_voltage_v", min_sense_voltage_v)
        f = d.feature_m
        self._w = {k: v * f for k, v in (("p", W_SENSE_P_F), ("n", W_SENSE_N_F), ("iso", W_SENSE_ISO_F),
                                         ("en", W_SENSE_EN_F), ("mux", W_SENSE_MUX_F))}
        self.latch_cap_f = (d.gate_cap_f(self._w["p"] + self._w["n"]) + d.drain_cap_f(self._w["n"])
                            + d.drain_cap_f(self._w["p"]) + d.drain_cap_f(self._w["iso"])
                            + d.drain_cap_f(self._w["mux"]))
        self.iv_energy_j, self.iv_latency_s, self.iv_leakage_w = _iv_converter(ctx.node_nm)

    def latency_s(self) -> float:
        d, vdd = self.dev, self.ctx.vdd_v
        gm = (d.i_on_n_a_per_m * self._w["n"] + d.i_on_p_a_per_m * self._w["p"]) / (vdd / 2.0)
        return self.iv_latency_s + self.latch_cap_f / gm * math.log(vdd / self.min_sense_voltage_v)

    def area_m2(self) -> float:
        d, w = self.dev, self._w
        latch = (2 * d.transistor_area_m2(w["p"]) + d.transistor_area_m2(w["iso"])
                 + 2 * d.transistor_area_m2(w["n"]) + d.transistor_area_m2(w["en"]))
        return IV_CONVERTER_AREA_F2 * d.feature_m ** 2 + latch

    def leakage_w(self) -> float:
        return self.iv_leakage_w + self.ctx.vdd_v * self._w["en"] * self.dev.i_off_n_a_per_m

    def actions(self) -> dict[str, Action]:
        e = self.iv_energy_j + self.latch_cap_f * self.ctx.vdd_v ** 2
        return {"convert": Action(e, self.latency_s())}
