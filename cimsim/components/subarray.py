"""One STT-MRAM subarray read and written as a plain memory (the way NVSim and NVMExplorer report it), composed
from the cells and the array periphery blocks of :mod:`cimsim.components.periphery_rc`,
:mod:`cimsim.components.row_periphery` and :mod:`cimsim.components.bitline_periphery`.

A *memory read* activates one row and senses one word of ``word_bits`` columns with 1-bit current-mode sense
amps (each against a reference cell); a *memory write* programs one word. This is the number to put beside
NVSim's "Read/Write Dynamic Energy" of a one-subarray bank (docs/validation.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from cimsim.components.base import Context
from cimsim.components.bitline_periphery import BitlinePrecharge, ColumnMux, CurrentSenseAmp, WriteDriver
from cimsim.components.cell import CellGeometry
from cimsim.components.periphery_rc import ArrayLines
from cimsim.components.periphery_tech import device_params
from cimsim.components.row_periphery import RowDecoder, WordlineDriver


@dataclass(frozen=True)
class SubarrayParams:
    """A 1T-1MTJ subarray as plain numbers (SI units).

    Attributes:
        rows, cols: word lines and bit lines.
        word_bits: bits read or written per access (cols / word_bits columns share a mux and sense amp).
        cell_area_f2: footprint of one 1T-1MTJ cell, F².
        cell_aspect_ratio: cell height (along the bit line) / width (along the word line); cimsim's
            :class:`CellGeometry` is square (1.0), NVSim's sample STT-MRAM cell 0.54.
        r_on_ohm, r_off_ohm: MTJ resistance in its parallel / antiparallel state at the read bias, Ω.
        r_access_ohm: access-transistor on-resistance, Ω (its width follows from it).
        read_voltage_v: bit-line clamp voltage during a read, V.
        write_current_a, write_pulse_s: programming current (A) and pulse (s).
        write_supply_v: write-driver supply, V (None: :class:`WriteDriver`'s default).
        wire_cap_f_per_m, wire_res_ohm_per_m: local wire per length (None: NVSim's local wire at the node).
        min_sense_voltage_v: latch resolution of the sense amp, V.
    """

    rows: int
    cols: int
    word_bits: int
    cell_area_f2: float
    r_on_ohm: float
    r_off_ohm: float
    r_access_ohm: float
    read_voltage_v: float
    write_current_a: float
    write_pulse_s: float
    cell_aspect_ratio: float = 1.0
    write_supply_v: float | None = None
    wire_cap_f_per_m: float | None = None
    wire_res_ohm_per_m: float | None = None
    min_sense_voltage_v: float = 0.025


@dataclass(frozen=True)
class MemoryModeCost:
    """Memory-mode figures of one subarray (per access of one word).

    Attributes:
        read_energy_j, write_energy_j: dynamic energy of one word read / write, J.
        read_latency_s, write_latency_s: access latency (decode → data out / end of pulse), s.
        area_m2: subarray area (cells + periphery, no white space), m².
        leakage_w: static power, W.
        read_breakdown_j, write_breakdown_j, latency_breakdown_s, area_breakdown_m2: by block.
    """

    read_energy_j: float
    write_energy_j: float
    read_latency_s: float
    write_latency_s: float
    area_m2: float
    leakage_w: float
    read_breakdown_j: dict[str, float] = field(default_factory=dict)
    write_breakdown_j: dict[str, float] = field(default_factory=dict)
    latency_breakdown_s: dict[str, float] = field(default_factory=dict)
    area_breakdown_m2: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, float | dict[str, float]]:
        """Plain numbers (SI units) for JSON and ``cimsim describe --subarray``."""
        return {"read_energy_j": self.read_energy_j, "write_energy_j": self.write_energy_j,
                "read_latency_s": self.read_latency_s, "write_latency_s": self.write_latency_s,
                "area_m2": self.area_m2, "leakage_w": self.leakage_w,
                "read_breakdown_j": dict(self.read_breakdown_j), "write_breakdown_j": dict(self.write_breakdown_j),
                "latency_breakdown_s": dict(self.latency_breakdown_s),
                "area_breakdown_m2": dict(self.area_breakdown_m2)}


def access_width_m(ctx: Context, r_access_ohm: float) -> float:
    """Access-transistor width that gives ``r_access_ohm``: W = k·V_nom/(I_on·R) (NVSim's on-resistance
    formula inverted) [derived]."""
    d = device_params(ctx.node_nm, ctx.periphery_devices)
    return d.r_multiplier * d.vdd_nominal_v / (d.i_on_n_a_per_m * r_access_ohm)


def memory_mode(ctx: Context, p: SubarrayParams) -> MemoryModeCost:
    """Read one word / write one word of a subarray; see :class:`MemoryModeCost`.

    Read = row decode + one word-line drive + precharge/clamp of every column + column-mux select (when
    cols > word_bits) + word_bits sense-amp decisions + the cell current of word_bits data cells and as many
    reference cells for the sense time, V_read²/R̄·t_SA with R̄ the mean of the two states plus the access
    transistor [derived; NVSim charges 2 × the cell file's read power for the same time]. Write = decode +
    word-line drive + mux select + word_bits :class:`WriteDriver` ``write_bit`` (the write-energy convention
    plus line charging).

    Raises:
        ValueError: ``word_bits`` does not divide ``cols``, or an argument is out of range.
    """
    if p.word_bits < 1 or p.cols % p.word_bits:
        raise ValueError(f"word_bits ({p.word_bits}) must divide cols ({p.cols})")
    ways = p.cols // p.word_bits
    geom = CellGeometry("1T1MTJ", p.cell_area_f2, ctx.node_nm)
    f = ctx.node_nm * 1e-9
    cell_w = math.sqrt(p.cell_area_f2 / p.cell_aspect_ratio) * f
    cell_h = math.sqrt(p.cell_area_f2 * p.cell_aspect_ratio) * f
    r_lrs, r_hrs = p.r_on_ohm + p.r_access_ohm, p.r_off_ohm + p.r_access_ohm
    lines = ArrayLines(ctx, rows=p.rows, cols=p.cols, cell_width_m=cell_w, cell_height_m=cell_h,
                       access_width_m=access_width_m(ctx, p.r_access_ohm), cell_r_max_ohm=r_hrs,
                       wire_cap_f_per_m=p.wire_cap_f_per_m, wire_res_ohm_per_m=p.wire_res_ohm_per_m)
    wld = WordlineDriver(ctx, wordline_cap_f=lines.wordline_cap_f)
    dec = RowDecoder(ctx, outputs=p.rows, height_m=lines.bitline_length_m, load_cap_f=wld.input_cap_f,
                     wire_cap_f_per_m=p.wire_cap_f_per_m, wire_res_ohm_per_m=p.wire_res_ohm_per_m)
    pre = BitlinePrecharge(ctx, bitline_cap_f=lines.bitline_cap_f, bitline_res_ohm=lines.bitline_res_ohm,
                           clamp_voltage_v=p.read_voltage_v)
    sa = CurrentSenseAmp(ctx, levels=2, sample_rate_hz=ctx.clock_hz,
                         column_resistance_ohm=0.5 * (r_lrs + r_hrs), read_voltage_v=p.read_voltage_v,
                         min_sense_voltage_v=p.min_sense_voltage_v)
    wdrv = WriteDriver(ctx, write_current_a=p.write_current_a, write_pulse_s=p.write_pulse_s,
                       path_resistance_ohm=r_hrs, bitline_cap_f=lines.bitline_cap_f, supply_v=p.write_supply_v)

    a_dec, a_wld, a_lines = dec.action("decode"), wld.action("drive_row"), lines.actions()
    a_pre, a_sa, a_wr = pre.action("precharge"), sa.action("convert"), wdrv.action("write_bit")
    mux_e = mux_t = 0.0
    area = {"cells": p.rows * p.cols * geom.area_m2, "row_decoder": dec.area_m2(),
            "wordline_drivers": p.rows * wld.area_m2(), "precharge": p.cols * pre.area_m2(),
            "sense_amps": p.word_bits * sa.area_m2(), "write_drivers": p.word_bits * wdrv.area_m2()}
    leak = (dec.leakage_w() + p.rows * wld.leakage_w() + p.cols * pre.leakage_w()
            + p.word_bits * (sa.leakage_w() + wdrv.leakage_w()))
    if ways > 1:
        mux = ColumnMux(ctx, ways=ways, max_current_a=p.write_current_a, load_cap_f=sa.latch_cap_f,
                        swing_v=p.read_voltage_v)
        mux_dec = RowDecoder(ctx, outputs=ways, height_m=lines.wordline_length_m,
                             load_cap_f=p.word_bits * mux.select_line_cap_f,
                             wire_cap_f_per_m=p.wire_cap_f_per_m, wire_res_ohm_per_m=p.wire_res_ohm_per_m)
        a_mux, a_mdec = mux.action("select"), mux_dec.action("decode")
        mux_e = p.word_bits * a_mux.energy_j + a_mdec.energy_j
        mux_t = max(0.0, a_mdec.latency_s - a_dec.latency_s) + a_mux.latency_s
        area["column_mux"] = p.word_bits * mux.area_m2() + mux_dec.area_m2()
        leak += p.word_bits * mux.leakage_w() + mux_dec.leakage_w()

    i_mean = 0.5 * (p.read_voltage_v / r_lrs + p.read_voltage_v / r_hrs)
    cell_read = 2 * p.word_bits * p.read_voltage_v * i_mean * a_sa.latency_s  # data + reference cells
    read = {"row_decoder": a_dec.energy_j, "wordline_driver": a_wld.energy_j,
            "precharge": p.cols * a_pre.energy_j, "column_mux": mux_e,
            "cells": cell_read, "sense_amps": p.word_bits * a_sa.energy_j}
    write = {"row_decoder": a_dec.energy_j, "wordline_driver": a_wld.energy_j, "column_mux": mux_e,
             "write_drivers": p.word_bits * a_wr.energy_j}
    lat = {"row_decoder": a_dec.latency_s, "wordline_driver": a_wld.latency_s,
           "wordline_rc": a_lines["wordline_rc"].latency_s, "bitline_rc": a_lines["bitline_rc"].latency_s,
           "column_mux": mux_t, "sense_amp": a_sa.latency_s, "write_pulse": a_wr.latency_s}
    t_row = lat["row_decoder"] + lat["wordline_driver"] + lat["wordline_rc"]
    return MemoryModeCost(
        read_energy_j=math.fsum(read.values()), write_energy_j=math.fsum(write.values()),
        read_latency_s=t_row + lat["bitline_rc"] + mux_t + lat["sense_amp"],
        write_latency_s=t_row + mux_t + lat["write_pulse"],
        area_m2=math.fsum(area.values()), leakage_w=leak,
        read_breakdown_j=read, write_breakdown_j=write, latency_breakdown_s=lat, area_breakdown_m2=area)
