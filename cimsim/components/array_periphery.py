"""Array periphery of an STT-MRAM compute array: the blocks around it and how many of each it has.

One instance of each block class is one physical block; the per-array counts are stated in each docstring:
per array one :class:`~cimsim.components.periphery_rc.ArrayLines`, one
:class:`~cimsim.components.row_periphery.RowDecoder`, ``rows``
:class:`~cimsim.components.row_periphery.WordlineDriver`, ``cols``
:class:`~cimsim.components.bitline_periphery.BitlinePrecharge`, ``ceil(cols / columns_per_converter)``
:class:`~cimsim.components.bitline_periphery.ColumnMux` (only when columns_per_converter > 1), one
:class:`~cimsim.components.bitline_periphery.WriteDriver` per written bit line, and the sense amps.
:class:`ComputeArrayPeriphery` sizes and counts them for one compute array (docs/array_periphery.md "Wiring
into the chip"). All units SI.
"""

from __future__ import annotations

from dataclasses import dataclass

from cimsim.components.base import Component, Context
from cimsim.components.bitline_periphery import BitlinePrecharge, WriteDriver
from cimsim.components.periphery_rc import ArrayLines
from cimsim.components.row_periphery import RowDecoder, WordlineDriver
from cimsim.components.subarray import access_width_m


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
