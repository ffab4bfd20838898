"""Array periphery of an STT-MRAM subarray: word/bit-line RC, row decoder, word-line drivers, bit-line
precharge/clamp, column multiplexer, write drivers and an NVSim-style current-mode 1-bit sense amp.

Formulas follow NVSim (Dong, Xu, Xie, Jouppi, "NVSim", IEEE TCAD 31(7), 2012; code SEAL-UCSB/NVSim commit
6334d00) and the CACTI conventions it inherits: switched-capacitance energy C·Vdd² per access, RC stage
delays 0.69·R·C (NVSim's ``horowitz`` with a step input reduces to ln 2·τ), distributed-wire Elmore delay
0.38·R·C, logical-effort inverter chains with stage effort 4 (NVSim ``constant.h`` OPT_F). Device and wire
numbers come from :mod:`cimsim.components.periphery_tech` (NVSim's HP tables). All units SI.

One instance of each class is one physical block; the per-array counts are stated in each docstring (the
lead wires them into hardware.py): per array one :class:`RowDecoder`, one :class:`ArrayLines`, ``rows``
:class:`WordlineDriver`, ``cols`` :class:`BitlinePrecharge`, ``ceil(cols / columns_per_converter)``
:class:`ColumnMux` (only when columns_per_converter > 1), one :class:`WriteDriver` per written bit line, and
the sense amps.

Write-energy convention (docs/models.md "Write energy"): :func:`write_pulse_energy_j` is the one place
that prices an MTJ write pulse, E = V_supply · I · t_p, with the access transistor in the current path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from cimsim.components import contracts, tech
from cimsim.components.adc import ColumnPeriphery
from cimsim.components.base import Action, Component, Context, register
from cimsim.components.periphery_tech import DeviceParams, device_params

#: Step-input RC delay factor ln 2 [code: NVSim formula.cpp horowitz with beta = 0 gives τ·|ln 0.5|].
RC_STEP = math.log(2.0)
#: Elmore delay factor of a distributed RC line driven at one end (0.38·R·C) [lit: Rabaey, Digital
#: Integrated Circuits, 2nd ed., §4.4.4; used by CACTI for unrepeated wires].
RC_DISTRIBUTED = 0.38
#: Stage effort of an inverter chain [code: NVSim constant.h OPT_F = 4].
STAGE_EFFORT = 4.0


# ------------------------------------------------------------------------------------------------------
# write-energy convention
# ------------------------------------------------------------------------------------------------------

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


# ------------------------------------------------------------------------------------------------------
# shared circuit helpers
# ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class InverterChain:
    """Logical-effort inverter chain from a minimum inverter to a load (NVSim ``OutputDriver``,
    latency-first sizing).

    Attributes:
        widths_n_m: NMOS width of each stage, m (PMOS = pn_ratio × NMOS).
        switched_cap_f: capacitance one output transition cycle charges, stage outputs and load included
            (the first stage's input gate excluded: the previous block charges it), F.
        delay_s: input-to-load delay, s.
        input_cap_f: input capacitance of the first stage, F.
    """

    widths_n_m: tuple[float, ...]
    switched_cap_f: float
    delay_s: float
    input_cap_f: float

    @classmethod
    def sized_for(cls, dev: DeviceParams, load_cap_f: float) -> InverterChain:
        """Stages N = max(1, round(ln(C_load/C_in) / ln 4)), stage ratio f = (C_load/C_in)^(1/N), stage i
        NMOS width W_min·f^i; each stage's delay 0.69·R_n(W_i)·(C_next + C_self,i)
        [code: NVSim OutputDriver.cpp Initialize/CalculateLatency, latency_first; R, C from NVSim formulas].

        The last stage is capped at 100 F (NVSim's MaxNmosSize): a wider one is set to the cap and the stages
        before it re-spread geometrically between W_min and the cap, as NVSim re-computes its logical effort
        with the capped last stage; the last stage then drives the load with a larger fan-out (slower, but
        without the leakage and area of an unbounded driver on very long word lines).
        """
        w0 = dev.min_width_m
        c_in = dev.inverter_input_cap_f(w0)
        fo = max(1.0, load_cap_f / c_in)
        n = max(1, round(math.log(fo) / math.log(STAGE_EFFORT)))
        f = fo ** (1.0 / n)
        widths = tuple(w0 * f ** i for i in range(n))
        if widths[-1] > dev.max_width_m:
            g = (dev.max_width_m / w0) ** (1.0 / (n - 1))
            widths = tuple(w0 * g ** i for i in range(n))
        switched = 0.0
        delay = 0.0
        for i, w in enumerate(widths):
            c_next = load_cap_f if i == n - 1 else dev.inverter_input_cap_f(widths[i + 1])
            c_node = c_next + dev.inverter_output_cap_f(w)
            switched += c_node
            delay += RC_STEP * dev.on_resistance_ohm(w) * c_node
        return cls(widths, switched, delay, c_in)

    def area_m2(self, dev: DeviceParams) -> float:
        return math.fsum(dev.gate_area_m2(1, w, w * dev.pn_ratio) for w in self.widths_n_m)

    def leakage_w(self, dev: DeviceParams, vdd_v: float) -> float:
        return math.fsum(dev.gate_leakage_w(w, w * dev.pn_ratio, vdd_v) for w in self.widths_n_m)


def _positive(name: str, value: float) -> float:
    if not value > 0 or math.isinf(value):
        raise ValueError(f"{name} must be positive and finite, got {value!r}")
    return float(value)


# ------------------------------------------------------------------------------------------------------
# word and bit lines
# ------------------------------------------------------------------------------------------------------

@register
class ArrayLines(Component):
    """Word- and bit-line wires of one array: R and C from the wire's per-length values and the cell pitch.
    One instance per array; no area (the wires run over the cells) and no leakage.

    * C_WL = c_wire·cols·w_cell + cols·C_gate(W_access); R_WL = r_wire·cols·w_cell
    * C_BL = c_wire·rows·h_cell + (rows/2)·C_drain(W_access) (two cells share a contact);
      R_BL = r_wire·rows·h_cell [code: NVSim SubArray.cpp Initialize, CMOS-access MRAM]
    * ``wordline_rc``: 0.38·R_WL·C_WL (distributed line, far end) [lit: Elmore]
    * ``bitline_rc``: ln 2 · (R_BL·C_BL/2)·(R_cell + R_BL/3)/(R_cell + R_BL), the current-sensing bit-line
      settling of NVSim [code: NVSim SubArray.cpp CalculateLatency, "ICCAD 2009 model"]

    Args:
        ctx: operating point.
        rows, cols: cells along a bit line and along a word line.
        cell_width_m, cell_height_m: cell pitch along the word line and along the bit line, m.
        access_width_m: access-transistor width, m (its gate loads the WL, its drain the BL).
        cell_r_max_ohm: highest read-path resistance of a cell (R_AP + R_access), Ω.
        wire_cap_f_per_m, wire_res_ohm_per_m: per-length wire C (F/m) and R (Ω/m); None: NVSim's local
            aggressive wire at the node.
    """

    kind: ClassVar[str] = "array_lines"
    model: ClassVar[str] = "rc"
    ACTIONS = ("wordline_rc", "bitline_rc")

    def __init__(self, ctx: Context, *, rows: int, cols: int, cell_width_m: float, cell_height_m: float,
                 access_width_m: float, cell_r_max_ohm: float, wire_cap_f_per_m: float | None = None,
                 wire_res_ohm_per_m: float | None = None) -> None:
        if rows < 1 or cols < 1:
            raise ValueError(f"rows and cols must be >= 1, got {rows!r}, {cols!r}")
        self.ctx = ctx
        self.dev = device_params(ctx.node_nm, ctx.periphery_devices)
        self.rows, self.cols = int(rows), int(cols)
        self.cell_width_m = _positive("cell_width_m", cell_width_m)
        self.cell_height_m = _positive("cell_height_m", cell_height_m)
        self.access_width_m = _positive("access_width_m", access_width_m)
        self.cell_r_max_ohm = _positive("cell_r_max_ohm", cell_r_max_ohm)
        self.wire_cap_f_per_m = self.dev.wire_c_f_per_m if wire_cap_f_per_m is None else \
            _positive("wire_cap_f_per_m", wire_cap_f_per_m)
        self.wire_res_ohm_per_m = self.dev.wire_r_ohm_per_m if wire_res_ohm_per_m is None else \
            _positive("wire_res_ohm_per_m", wire_res_ohm_per_m)

    @property
    def wordline_length_m(self) -> float:
        return self.cols * self.cell_width_m

    @property
    def bitline_length_m(self) -> float:
        return self.rows * self.cell_height_m

    @property
    def wordline_cap_f(self) -> float:
        return (self.wire_cap_f_per_m * self.wordline_length_m
                + self.cols * self.dev.gate_cap_f(self.access_width_m))

    @property
    def wordline_res_ohm(self) -> float:
        return self.wire_res_ohm_per_m * self.wordline_length_m

    @property
    def bitline_cap_f(self) -> float:
        return (self.wire_cap_f_per_m * self.bitline_length_m
                + 0.5 * self.rows * self.dev.drain_cap_f(self.access_width_m))

    @property
    def bitline_res_ohm(self) -> float:
        return self.wire_res_ohm_per_m * self.bitline_length_m

    def wordline_delay_s(self) -> float:
        return RC_DISTRIBUTED * self.wordline_res_ohm * self.wordline_cap_f

    def bitline_delay_s(self) -> float:
        r, c, rc = self.bitline_res_ohm, self.bitline_cap_f, self.cell_r_max_ohm
        return RC_STEP * (r * c / 2.0) * (rc + r / 3.0) / (rc + r)

    def area_m2(self) -> float:
        return 0.0

    def leakage_w(self) -> float:
        return 0.0

    def actions(self) -> dict[str, Action]:
        return {"wordline_rc": Action(0.0, self.wordline_delay_s()),
                "bitline_rc": Action(0.0, self.bitline_delay_s())}


# ------------------------------------------------------------------------------------------------------
# row decoder and word-line drivers
# ------------------------------------------------------------------------------------------------------

@register
class WordlineDriver(Component):
    """Word-line driver: an inverter chain sized by logical effort for the word-line load. One instance per
    row (``rows`` per array); in compute mode the ``rows_active`` drivers of a row group fire together.

    * chain: :meth:`InverterChain.sized_for` (C_WL), stage effort 4 [code: NVSim OutputDriver.cpp]
    * ``drive_row``: E = C_switched·Vdd² (chain nodes + C_WL, one rise and fall), t = chain delay
    * ``drive_group``: ``rows_active`` rows at once: E × rows_active, same t
    * area: Σ stage inverter footprints; leakage: Σ Vdd·max(W_n I_off,n, W_p I_off,p) [code: NVSim formula.cpp]

    The distributed wire delay of the word line itself is :class:`ArrayLines`'s ``wordline_rc``.

    Args:
        ctx: operating point.
        wordline_cap_f: capacitance of one word line (wire + access gates), F.
        rows_active: word lines driven at once in compute mode.
    """

    kind: ClassVar[str] = "wordline_driver"
    model: ClassVar[str] = "nvsim"
    DRIVE_ROW, DRIVE_GROUP = "drive_row", "drive_group"
    ACTIONS = (DRIVE_ROW, DRIVE_GROUP)
    TRIGGERS = {contracts.DRIVEN_ROW: DRIVE_ROW}

    def __init__(self, ctx: Context, *, wordline_cap_f: float, rows_active: int = 1) -> None:
        if rows_active < 1:
            raise ValueError(f"rows_active must be >= 1, got {rows_active!r}")
        self.ctx = ctx
        self.dev = device_params(ctx.node_nm, ctx.periphery_devices)
        self.wordline_cap_f = _positive("wordline_cap_f", wordline_cap_f)
        self.rows_active = int(rows_active)
        self.chain = InverterChain.sized_for(self.dev, self.wordline_cap_f)

    @property
    def input_cap_f(self) -> float:
        """Load one driver presents to the decoder, F."""
        return self.chain.input_cap_f

    def area_m2(self) -> float:
        return self.chain.area_m2(self.dev)

    def leakage_w(self) -> float:
        return self.chain.leakage_w(self.dev, self.ctx.vdd_v)

    def actions(self) -> dict[str, Action]:
        e = self.chain.switched_cap_f * self.ctx.vdd_v ** 2
        t = self.chain.delay_s
        return {"drive_row": Action(e, t), "drive_group": Action(e * self.rows_active, t)}


@register
class RowDecoder(Component):
    """Row decoder: address buffers, predecoders and a final NAND2 per output (NVSim/CACTI structure).
    One instance per array.

    n = ceil(log2(outputs)) address bits. For n ≤ 3 one predecoder block's outputs drive the loads directly;
    otherwise two blocks of n − ⌊n/2⌋ and ⌊n/2⌋ bits feed a NAND2 per output [code: NVSim Mat.cpp
    Initialize, RowDecoder.cpp numNandInput]. A block of k bits has 2^k NAND_k gates (k = 1: inverters),
    each followed by an inverter chain driving a predecode line that runs the decoder height and fans out to
    outputs/2^k final NAND2 inputs.

    * ``decode`` energy = Vdd²·[½·n·C_address + Σ_blocks (C_NANDk,out + C_chain(line)) + C_NAND2,out +
      C_load], i.e. half the address bits toggle [assumed: random addresses], one predecode line per block
      and one output rise and fall per access [code: NVSim RowDecoder.cpp/PredecodeBlock.cpp CalculatePower]
    * ``decode`` latency = NAND_k + chain + 0.38·R_line·C_line + final NAND2 into C_load (RC stages)
    * area = address inverters + Σ_blocks 2^k·(NAND_k + chain) + outputs·NAND2 (n > 3)

    Cost grows with log2(outputs) through the address bits and predecode blocks, and with outputs through
    the predecode-line fan-out and the NAND2 column.

    Args:
        ctx: operating point.
        outputs: decoded lines (``rows`` in memory mode; ``rows / rows_active`` row groups in compute mode).
        height_m: length of the predecode lines (the array height), m.
        load_cap_f: load on one decoder output (the driver input(s) it selects), F.
        wire_cap_f_per_m, wire_res_ohm_per_m: predecode-line wire; None: NVSim local wire at the node.
    """

    kind: ClassVar[str] = "row_decoder"
    model: ClassVar[str] = "nvsim"
    DECODE = "decode"
    ACTIONS = (DECODE,)
    TRIGGERS = {contracts.ROW_GROUP_READ: DECODE}

    def __init__(self, ctx: Context, *, outputs: int, height_m: float, load_cap_f: float,
                 wire_cap_f_per_m: float | None = None, wire_res_ohm_per_m: float | None = None) -> None:
        if outputs < 1:
            raise ValueError(f"outputs must be >= 1, got {outputs!r}")
        self.ctx = ctx
        self.dev = d = device_params(ctx.node_nm, ctx.periphery_devices)
        self.outputs = int(outputs)
        self.height_m = _positive("height_m", height_m)
        self.load_cap_f = _positive("load_cap_f", load_cap_f)
        c_wire = d.wire_c_f_per_m if wire_cap_f_per_m is None else _positive("wire_cap_f_per_m", wire_cap_f_per_m)
        r_wire = d.wire_r_ohm_per_m if wire_res_ohm_per_m is None else _positive("wire_res_ohm_per_m",
                                                                                 wire_res_ohm_per_m)
        self.address_bits = math.ceil(math.log2(self.outputs) - 1e-12) if self.outputs > 1 else 0
        n = self.address_bits
        self.blocks: tuple[int, ...] = () if n == 0 else ((n,) if n <= 3 else (n - n // 2, n // 2))
        self.final_nand = n > 3
        wmin = d.min_width_m
        # NAND_k: k series NMOS each k·W_min wide, PMOS pn·W_min [code: NVSim RowDecoder.cpp widthNandN/P].
        self._nand2_n, self._nand2_p = 2 * wmin, d.pn_ratio * wmin
        c_nand2_in = d.gate_cap_f(self._nand2_n + self._nand2_p)
        c_line_wire = c_wire * self.height_m
        r_line_wire = r_wire * self.height_m
        vdd2 = ctx.vdd_v ** 2
        e_cap = 0.0
        delay_block = 0.0
        area = 0.0
        leak = 0.0
        for k in self.blocks:
            wn, wp = max(1, k) * wmin, d.pn_ratio * wmin
            fanout = math.ceil(self.outputs / 2 ** k)
            line = c_line_wire + (fanout * c_nand2_in if self.final_nand else self.load_cap_f)
            chain = InverterChain.sized_for(d, line)
            c_nand_out = d.drain_cap_f(wn) + k * d.drain_cap_f(wp) + chain.input_cap_f
            # Address bits of this block: each drives 2^(k-1) NAND_k inputs plus its buffer's self-load.
            c_addr = 2 ** (k - 1) * d.gate_cap_f(wn + wp) + d.inverter_output_cap_f(wmin)
            e_cap += 0.5 * k * c_addr + c_nand_out + chain.switched_cap_f
            t = (RC_STEP * d.on_resistance_ohm(wmin) * c_addr
                 + RC_STEP * k * d.on_resistance_ohm(wn) * c_nand_out
                 + chain.delay_s + RC_DISTRIBUTED * r_line_wire * c_line_wire)
            delay_block = max(delay_block, t)
            area += k * d.gate_area_m2(1, wmin, d.pn_ratio * wmin)
            area += 2 ** k * (d.gate_area_m2(k, wn, wp) + chain.area_m2(d))
            leak += k * d.gate_leakage_w(wmin, d.pn_ratio * wmin, ctx.vdd_v)
            leak += 2 ** k * (d.gate_leakage_w(wn, k * wp, ctx.vdd_v) + chain.leakage_w(d, ctx.vdd_v))
        t_final = 0.0
        if self.final_nand:
            c_out = d.drain_cap_f(self._nand2_n) + 2 * d.drain_cap_f(self._nand2_p) + self.load_cap_f
            e_cap += c_out
            t_final = RC_STEP * 2 * d.on_resistance_ohm(self._nand2_n) * c_out
            area += self.outputs * d.gate_area_m2(2, self._nand2_n, self._nand2_p)
            leak += self.outputs * d.gate_leakage_w(self._nand2_n, 2 * self._nand2_p, ctx.vdd_v)
        self._energy_j = e_cap * vdd2
        self._latency_s = delay_block + t_final
        self._area_m2 = area
        self._leakage_w = leak

    def area_m2(self) -> float:
        return self._area_m2

    def leakage_w(self) -> float:
        return self._leakage_w

    def actions(self) -> dict[str, Action]:
        return {"decode": Action(self._energy_j, self._latency_s)}


# ------------------------------------------------------------------------------------------------------
# column periphery: precharge / clamp, multiplexer, write drivers, sense amp
# ------------------------------------------------------------------------------------------------------

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
        self.bitline_cap_f = _positive("bitline_cap_f", bitline_cap_f)
        if not bitline_res_ohm >= 0:
            raise ValueError(f"bitline_res_ohm must be >= 0, got {bitline_res_ohm!r}")
        self.bitline_res_ohm = float(bitline_res_ohm)
        self.clamp_voltage_v = _positive("clamp_voltage_v", clamp_voltage_v)
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
        self.max_current_a = _positive("max_current_a", max_current_a)
        self.load_cap_f = _positive("load_cap_f", load_cap_f)
        self.swing_v = _positive("swing_v", swing_v)
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
        self.write_current_a = _positive("write_current_a", write_current_a)
        self.write_pulse_s = _positive("write_pulse_s", write_pulse_s)
        self.path_resistance_ohm = _positive("path_resistance_ohm", path_resistance_ohm)
        self.bitline_cap_f = _positive("bitline_cap_f", bitline_cap_f)
        self.required_supply_v = self.write_current_a * self.path_resistance_ohm
        if supply_v is None:
            self.supply_v = max(ctx.vdd_v, self.required_supply_v)
        else:
            self.supply_v = _positive("supply_v", supply_v)
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
        self.min_sense_voltage_v = _positive("min_sense_voltage_v", min_sense_voltage_v)
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


# ------------------------------------------------------------------------------------------------------
# composition around a compute array (docs/array_periphery.md "Wiring into the chip")
# ------------------------------------------------------------------------------------------------------

def write_supply_v(ctx: Context, current_a: float, path_resistance_ohm: float) -> float:
    """The write rail a current-mode driver needs: Vdd, or higher when Vdd cannot push ``current_a`` (A)
    through ``path_resistance_ohm`` (Ω, worst-case MTJ + access transistor) [assumed: a boosted write
    supply, :class:`WriteDriver`'s default]."""
    return max(ctx.vdd_v, current_a * path_resistance_ohm)


@dataclass(frozen=True)
class ComputeArrayPeriphery:
    """The blocks around one compute array and how many of each it has.

    Attributes:
        lines: word-/bit-line RC of the array (latency only).
        decoder: row-group decoder (``rows / rows_active`` outputs, each selecting rows_active drivers).
        wordline: one word-line driver (``rows × devices_per_weight`` per array for area: a 2T-2MTJ row has
            WL and WL̄, one of which is driven per input).
        precharge: one bit-line precharge/clamp (``physical_cols`` per array).
        write: one write driver (``cols`` per array: a row of weights is programmed in one pulse).
        per_array: instance counts per array, by part name.
    """

    lines: ArrayLines
    decoder: RowDecoder
    wordline: WordlineDriver
    precharge: BitlinePrecharge
    write: WriteDriver
    per_array: dict[str, int]

    @classmethod
    def build(cls, ctx: Context, *, rows: int, cols: int, physical_cols: int, rows_active: int,
              devices_per_weight: int, cell_pitch_m: float, r_access_ohm: float, r_hrs_ohm: float,
              clamp_voltage_v: float, wire_cap_f_per_m: float, write_current_a: float,
              write_pulse_s: float) -> ComputeArrayPeriphery:
        """Size every block for the array (``r_hrs_ohm``: worst-case read path, MTJ + access, Ω)."""
        from cimsim.components.subarray import access_width_m

        lines = ArrayLines(ctx, rows=rows, cols=physical_cols, cell_width_m=cell_pitch_m, cell_height_m=cell_pitch_m,
                           access_width_m=access_width_m(ctx, r_access_ohm), cell_r_max_ohm=r_hrs_ohm,
                           wire_cap_f_per_m=wire_cap_f_per_m)
        wld = WordlineDriver(ctx, wordline_cap_f=lines.wordline_cap_f, rows_active=rows_active)
        dec = RowDecoder(ctx, outputs=max(1, rows // rows_active), height_m=lines.bitline_length_m,
                         load_cap_f=rows_active * wld.input_cap_f)
        pre = BitlinePrecharge(ctx, bitline_cap_f=lines.bitline_cap_f, bitline_res_ohm=lines.bitline_res_ohm,
                               clamp_voltage_v=clamp_voltage_v)
        wd = WriteDriver(ctx, write_current_a=write_current_a, write_pulse_s=write_pulse_s,
                         path_resistance_ohm=r_hrs_ohm, bitline_cap_f=lines.bitline_cap_f)
        per = {"array_lines": 1, "row_decoder": 1, "wordline_driver": rows * devices_per_weight,
               "precharge": physical_cols, "write_driver": cols}
        return cls(lines, dec, wld, pre, wd, per)

    def parts(self) -> dict[str, tuple[Component, int]]:
        """Part name → (component, instances per array): the array's children in the chip tree."""
        comps = {"array_lines": self.lines, "row_decoder": self.decoder, "wordline_driver": self.wordline,
                 "precharge": self.precharge, "write_driver": self.write}
        return {k: (c, self.per_array[k]) for k, c in comps.items()}

    def access_delay_s(self) -> float:
        """Setup before a row group can be sensed: decode, word-line drive, word-line and bit-line RC, s."""
        a = self.lines.actions()
        return (self.decoder.action("decode").latency_s + self.wordline.action("drive_row").latency_s
                + a["wordline_rc"].latency_s + a["bitline_rc"].latency_s)
