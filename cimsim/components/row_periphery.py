"""Row periphery of an STT-MRAM array: the row decoder and the word-line drivers (NVSim/CACTI structure).

RC and logical-effort conventions: :mod:`cimsim.components.periphery_rc`. Per array one :class:`RowDecoder`
and ``rows`` :class:`WordlineDriver` (the assembly is :mod:`cimsim.components.array_periphery`). All units SI.
"""

from __future__ import annotations

import math
from typing import ClassVar

from cimsim.components import contracts
from cimsim.components.base import Action, Component, Context, register
from cimsim.components.periphery_rc import RC_DISTRIBUTED, RC_STEP, InverterChain, positive
from cimsim.components.periphery_tech import device_params


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
        self.wordline_cap_f = positive("wordline_cap_f", wordline_cap_f)
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
        self.height_m = positive("height_m", height_m)
        self.load_cap_f = positive("load_cap_f", load_cap_f)
        c_wire = d.wire_c_f_per_m if wire_cap_f_per_m is None else positive("wire_cap_f_per_m", wire_cap_f_per_m)
        r_wire = d.wire_r_ohm_per_m if wire_res_ohm_per_m is None else positive("wire_res_ohm_per_m",
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
