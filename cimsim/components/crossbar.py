"""STT-MRAM crossbar array: row-group reads by current summation on the bit lines (REFERENCES §3).

Energy of a row-group read is linear in the activity the functional run counts, so the crossbar exposes
one action per activity unit and the ledger multiplies counts by them; the blocks around the array (row
decoder, word-line drivers, bit-line precharge/clamps, write drivers: :mod:`cimsim.components.array_periphery`,
NVSim's models) are built with it and appear as their own instances (:meth:`Crossbar.parts`, children of its node in the chip tree):

- ``conduct_lrs`` / ``conduct_hrs``: one driven cell conducting through its low / high resistance device
  for the read pulse (V_read²/(R + R_access)·t_read);
- ``read_row_group``: the typical read used for timing and ``describe`` (decode, rows_active word lines,
  every column clamped, half the cells conducting in the low-resistance state); composite: the ledger prices
  its parts. Its latency is the access setup (decode, word-line drive, word- and bit-line RC) plus the sense
  window, so a longer RC delay adds cycles;
- ``write_weight``: programming one weight: decode, one word line, and every device of the cell through a
  write driver (supply × current × pulse: the write convention of docs/models.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, model_validator

from cimsim.components import contracts, mtj
from cimsim.components.array_periphery import ComputeArrayPeriphery
from cimsim.components.base import Action, Component, Context, register
from cimsim.components.bitline_periphery import ColumnMux
from cimsim.components.cell import CellGeometry
from cimsim.components.electrical import ArrayCircuit, tmr_at_temperature
from cimsim.spec.common import Spec

#: Driver and sense resistances (when not given) drop this fraction of V_read at the largest current they
#: carry [derived design rule: a 1 % clamp error, docs/analog.md "Electrical model"].
SIZING_DROP_FRACTION = 0.01


@dataclass(frozen=True)
class ReadCircuitSpec:
    """The crossbar section's read-path fields (YAML ``crossbar.*``, :class:`STTCrossbarParams`) and the storage
    MTJ's resistance parameters the circuit needs (Ω, V, K)."""

    model: str = "ideal"
    solver: str = "auto"
    source_line: str = "column"
    wire_res_ohm_per_m: float | None = None
    wire_res_scale: float = 1.0
    driver_r_ohm: float | None = None
    sense_r_ohm: float | None = None
    references: str = "calibrated"
    r_p_ohm: float = 0.0
    tmr_ref: float = 0.0
    vh_v: float = 0.5
    t_ref_k: float = 300.0


class STTCrossbarParams(Spec):
    """YAML section ``crossbar`` of the STT-MRAM crossbar."""

    model: Literal["stt_mram"] = "stt_mram"
    rows: int = Field(default=128, ge=8, le=4096, description="word lines per array")
    cols: int = Field(default=128, ge=8, le=4096, description="bit lines (weights columns) per array")
    rows_active: int = Field(default=16, ge=1, le=512,
                             description="rows driven at once (a row group); SpinDrop group drives 8 or 16 (docs/REFERENCES.md §11)")
    read_voltage_v: float = Field(default=0.1, gt=0, le=0.5, description="bit-line read voltage, V (REFERENCES §8) [derived]")
    read_pulse_s: float = Field(default=1e-9, gt=0, le=1e-7,
                                description="row-group read (sense) window, s; MLSA decides in 1 ns [code]")
    wire_cap_f_per_m: float = Field(default=2e-10, gt=0, le=1e-9,
                                    description="WL/BL wire capacitance, F/m (hwcomponents Wire) [code]")
    # --- read-path electrical model (components/electrical.py, sense_margin.py; docs/analog.md) ---
    read_model: Literal["ideal", "electrical"] = Field(
        default="ideal", description="ideal: a row group's sum is read exactly (plus variation.*); electrical: "
                                     "IR drop, driver/sense impedance and TMR(V, T) from the nodal model set a "
                                     "per-level read error (docs/analog.md)")
    solver: Literal["auto", "full", "reduced"] = Field(
        default="auto", description="circuit solve behind the per-level read error: full sparse nodal solve, the "
                                    "reduced model (alternating exact line solves, 3 sweeps; docs/analog.md), or "
                                    "auto: reduced where it is exact (no row-line or driver resistance), else full")
    source_line: Literal["column", "row"] = Field(
        default="column", description="column: source line beside the bit line (1T-1MTJ layout; WL carries gate "
                                      "charge only, BL+SL carry the read current); row: source line along the word "
                                      "line, driven at V_read by the row driver (crossbar layout)")
    wire_res_ohm_per_m: float | None = Field(
        default=None, gt=0, le=1e9, description="WL/BL/SL wire resistance, Ω/m; None: NVSim local wire at the node "
                                                "(components/periphery_tech.py)")
    wire_res_scale: float = Field(default=1.0, ge=0, le=100,
                                  description="multiplies the wire resistance (0: no wire IR drop); for studies")
    driver_r_ohm: float | None = Field(
        default=None, ge=0, le=1e5, description="row driver output resistance, Ω (source_line: row); None: sized "
                                                "for a 1 % V_read drop at the full row current [derived]")
    sense_r_ohm: float | None = Field(
        default=None, ge=0, le=1e5, description="sense-amp input (clamp) plus source-line switch resistance, Ω; "
                                                "None: sized for a 1 % V_read drop at the full-scale column "
                                                "current [derived]")
    read_references: Literal["calibrated", "nominal"] = Field(
        default="calibrated", description="calibrated: the converter's references sit at the mean current of each "
                                          "level at each row-group position (replica trim); nominal: at the ideal "
                                          "array's level currents at t_ref")

    @model_validator(mode="after")
    def _groups_tile_rows(self) -> STTCrossbarParams:
        if self.rows_active > self.rows:
            raise ValueError(f"rows_active ({self.rows_active}) must not exceed rows ({self.rows})")
        if self.rows % self.rows_active:
            raise ValueError(f"rows ({self.rows}) must be a multiple of rows_active ({self.rows_active}) "
                             "so row groups never straddle an array")
        return self


@register
class Crossbar(Component):
    """One R×C array of weight cells.

    Args:
        ctx: operating point.
        rows, cols: array size (word lines, bit lines).
        rows_active: rows driven at once.
        cell: cell geometry.
        r_lrs_ohm, r_hrs_ohm: read-path resistance of a cell in its low/high state incl. access transistor, Ω.
        read_voltage_v: bit-line read voltage, V.
        read_pulse_s: sense window of one row-group read, s.
        wire_cap_f_per_m: word/bit-line capacitance per length, F/m.
        write_current_a, write_pulse_s: weight programming current (A) and pulse (s).
    """

    kind = "crossbar"
    model = "stt_mram"
    Params = STTCrossbarParams
    READ_ROW_GROUP, CONDUCT_LRS, CONDUCT_HRS, WRITE_WEIGHT = "read_row_group", "conduct_lrs", "conduct_hrs", "write_weight"
    ACTIONS = (READ_ROW_GROUP, CONDUCT_LRS, CONDUCT_HRS, WRITE_WEIGHT)
    TRIGGERS = {contracts.ROW_GROUP_READ: READ_ROW_GROUP, contracts.LRS_CELL: CONDUCT_LRS,
                contracts.HRS_CELL: CONDUCT_HRS}

    def __init__(self, ctx: Context, *, rows: int, cols: int, rows_active: int, cell: CellGeometry,
                 r_lrs_ohm: float, r_hrs_ohm: float, read_voltage_v: float, read_pulse_s: float,
                 wire_cap_f_per_m: float, write_current_a: float, write_pulse_s: float,
                 r_access_ohm: float, electrical: ReadCircuitSpec | None = None) -> None:
        if not (0.0 < r_access_ohm < min(r_lrs_ohm, r_hrs_ohm)):
            raise ValueError(f"access resistance {r_access_ohm!r} Ω must be positive and below the cell "
                             "resistances")
        self.r_access_ohm = r_access_ohm
        self.electrical = electrical
        self.ctx = ctx
        self.rows, self.cols, self.rows_active = rows, cols, rows_active
        self.cell = cell
        self.r_lrs_ohm, self.r_hrs_ohm = r_lrs_ohm, r_hrs_ohm
        self.read_voltage_v, self.read_pulse_s = read_voltage_v, read_pulse_s
        self.wire_cap_f_per_m = wire_cap_f_per_m
        self.write_current_a, self.write_pulse_s = write_current_a, write_pulse_s
        # 1T-1MTJ needs one reference column per array to turn the {0,1} current into a ±1 sum.
        self.physical_cols = cols + (1 if cell.cell_type == "1T1MTJ" else 0)
        self.periphery = ComputeArrayPeriphery.build(
            ctx, rows=rows, cols=cols, physical_cols=self.physical_cols, rows_active=rows_active,
            devices_per_weight=cell.devices_per_weight, cell_pitch_m=cell.pitch_m, r_access_ohm=r_access_ohm,
            r_hrs_ohm=r_hrs_ohm, clamp_voltage_v=read_voltage_v, wire_cap_f_per_m=wire_cap_f_per_m,
            write_current_a=write_current_a, write_pulse_s=write_pulse_s)

    def parts(self) -> dict[str, tuple[Component, int]]:
        """The array's periphery blocks: name → (component, instances per array)."""
        return self.periphery.parts()

    def column_select(self, ways: int, max_current_a: float) -> Component | None:
        """The block that lets one converter serve ``ways`` bit lines: a column mux with pass gates sized for
        ``max_current_a`` (A; writes go through the mux, NVSim's rule); the load on its output is taken as one
        bit line's capacitance [assumed: the converter input is not modelled, a bit line bounds it from
        above]. None for ``ways == 1``."""
        if ways <= 1:
            return None
        return ColumnMux(self.ctx, ways=ways, max_current_a=max_current_a,
                         load_cap_f=self.periphery.lines.bitline_cap_f, swing_v=self.read_voltage_v)

    def replica_read_energy_j(self) -> float:
        """One read of a reference column (clamped, at most rows_active high-state cells conducting), J."""
        return (self.periphery.precharge.action("precharge").energy_j
                + self.rows_active * self.action(self.CONDUCT_HRS).energy_j)

    def column_area_m2(self) -> float:
        """Cells of one physical column, m²."""
        return self.area_m2() / self.physical_cols

    @classmethod
    def from_spec(cls, params: STTCrossbarParams, build: Any) -> Crossbar:
        arch = build.arch
        storage = build.mtj_params("storage")
        cell = CellGeometry(arch.cell.type, arch.cell.area_f2_per_device, build.ctx.node_nm)
        r_acc = arch.cell.r_access_ohm
        r_lrs = mtj.r_p_ohm(storage) + r_acc
        r_hrs = float(mtj.r_ap_ohm(storage, params.read_voltage_v)) + r_acc
        return cls(build.ctx, rows=params.rows, cols=params.cols, rows_active=params.rows_active, cell=cell,
                   r_lrs_ohm=r_lrs, r_hrs_ohm=r_hrs, read_voltage_v=params.read_voltage_v,
                   read_pulse_s=params.read_pulse_s, wire_cap_f_per_m=params.wire_cap_f_per_m,
                   write_current_a=arch.cell.write_current_a, write_pulse_s=arch.cell.write_pulse_s,
                   r_access_ohm=r_acc,
                   electrical=ReadCircuitSpec(
                       model=params.read_model, solver=params.solver, source_line=params.source_line,
                       wire_res_ohm_per_m=params.wire_res_ohm_per_m, wire_res_scale=params.wire_res_scale,
                       driver_r_ohm=params.driver_r_ohm, sense_r_ohm=params.sense_r_ohm,
                       references=params.read_references, r_p_ohm=mtj.r_p_ohm(storage), tmr_ref=storage.tmr0,
                       vh_v=storage.vh_v, t_ref_k=arch.mtj.t_ref_k))

    @property
    def read_model(self) -> str:
        """``ideal`` or ``electrical`` (YAML ``crossbar.read_model``)."""
        return "ideal" if self.electrical is None else self.electrical.model

    def circuit(self, temperature_k: float | None = None) -> ArrayCircuit:
        """The DC read circuit of one array at ``temperature_k`` (default: the chip's), for the nodal model.

        Segment resistance r = wire Ω/m × cell pitch (one weight cell per segment along either line).
        ``source_line: column``: the read current runs down the bit line and back up the source line beside it
        (r_col = 2r) and the word line carries gate charge only (r_row = 0, no driver drop); ``row``: the
        source line runs along the word line (r_row = r_col = r) from a driver of resistance R_drv.
        """
        e = self.electrical if self.electrical is not None else ReadCircuitSpec()
        t = self.ctx.temperature_k if temperature_k is None else temperature_k
        r_per_m = (e.wire_res_ohm_per_m if e.wire_res_ohm_per_m is not None
                   else self.periphery.lines.wire_res_ohm_per_m)
        r_seg = r_per_m * e.wire_res_scale * self.cell.pitch_m
        r_p = e.r_p_ohm if e.r_p_ohm else self.r_lrs_ohm - self.r_access_ohm
        tmr0 = e.tmr_ref if e.tmr_ref else (self.r_hrs_ohm - self.r_access_ohm) / r_p - 1.0
        i_lrs = self.read_voltage_v / (r_p + self.r_access_ohm)
        # 1 % of V_read at the largest current the element carries [derived design rule, docs/analog.md]
        r_sense = (e.sense_r_ohm if e.sense_r_ohm is not None
                   else SIZING_DROP_FRACTION * self.read_voltage_v / (self.rows_active * i_lrs))
        r_drv = (e.driver_r_ohm if e.driver_r_ohm is not None
                 else SIZING_DROP_FRACTION * self.read_voltage_v / (self.cols * i_lrs))
        row = e.source_line == "row"
        return ArrayCircuit(rows=self.rows, cols=self.cols, r_row_ohm=r_seg if row else 0.0,
                            r_col_ohm=r_seg if row else 2.0 * r_seg, r_driver_ohm=r_drv if row else 0.0,
                            r_sense_ohm=r_sense, r_access_ohm=self.r_access_ohm, r_p_ohm=r_p,
                            tmr=tmr_at_temperature(tmr0, e.t_ref_k, t), vh_v=e.vh_v,
                            read_voltage_v=self.read_voltage_v)

    def conductance_sigma_rel(self, ra_sigma_rel: float) -> float:
        """Relative spread of a cell's read-path conductance for a relative RA spread ``ra_sigma_rel``.

        RA moves the MTJ part of the read path only; the access transistor in series dilutes it by
        R_MTJ / (R_MTJ + R_access), with R_MTJ the mean of the two states.
        """
        r_mtj = 0.5 * (self.r_lrs_ohm + self.r_hrs_ohm) - self.r_access_ohm
        return ra_sigma_rel * r_mtj / (r_mtj + self.r_access_ohm)

    @property
    def i_lrs_a(self) -> float:
        """Current through one conducting low-resistance cell, A."""
        return self.read_voltage_v / self.r_lrs_ohm

    @property
    def i_hrs_a(self) -> float:
        return self.read_voltage_v / self.r_hrs_ohm

    def area_m2(self) -> float:
        return self.rows * self.physical_cols * self.cell.area_m2

    def leakage_w(self) -> float:
        # Non-volatile cells hold their state unpowered; the array itself leaks only through off access
        # transistors, which the word-line drivers keep at 0 V. Periphery leakage is counted on the periphery.
        return 0.0

    def actions(self) -> dict[str, Action]:
        vr, t = self.read_voltage_v, self.read_pulse_s
        lrs = vr * self.i_lrs_a * t
        hrs = vr * self.i_hrs_a * t
        per = self.periphery
        decode = per.decoder.action("decode").energy_j
        typical = (decode + per.wordline.action("drive_group").energy_j
                   + self.physical_cols * per.precharge.action("precharge").energy_j
                   + self.rows_active * self.physical_cols * 0.5 * (lrs + hrs))
        write = (decode + per.wordline.action("drive_row").energy_j
                 + self.cell.devices_per_weight * per.write.action("write_bit").energy_j)
        return {
            self.READ_ROW_GROUP: Action(typical, per.access_delay_s() + t, composite=True),
            self.CONDUCT_LRS: Action(lrs),
            self.CONDUCT_HRS: Action(hrs),
            self.WRITE_WEIGHT: Action(write, self.cell.devices_per_weight * self.write_pulse_s),
        }
