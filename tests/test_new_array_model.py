"""Done when (issue 23): a new crossbar model with a different periphery works from this test file alone.

A 1T-1MTJ array read one row at a time, whose bit lines are sensed by one current sense amp per 4 columns (a
3-level one: an undriven row, input bit 0 or dropped, reads 0) with no column mux (the array's column-enable lines select the column; priced in its read) and no separate clamp: its
parts are a row decoder, word-line drivers and write drivers. It is declared here, registered here, selected
from YAML, priced, timed and run functionally through `cimsim run` with no other file edited; the chip tree
counts its parts and the sense amps, and the activity model counts its actions through the events its parts
listen to.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal

import pytest
from click.testing import CliRunner
from pydantic import Field

from cimsim.cli import cli
from cimsim.components import contracts, mtj
from cimsim.components.array_periphery import ComputeArrayPeriphery
from cimsim.components.base import Action, Component, registered
from cimsim.components.cell import CellGeometry
from cimsim.spec.common import Spec

from .conftest import ARCH, MLP


class OneRowParams(Spec):
    model: Literal["t1mtj_csa4"] = "t1mtj_csa4"
    rows: int = Field(default=64, ge=8, le=1024)
    cols: int = Field(default=64, ge=8, le=1024)
    rows_active: int = Field(default=1, ge=1, le=1)
    read_voltage_v: float = Field(default=0.1, gt=0, le=0.5)
    read_pulse_s: float = Field(default=2e-9, gt=0, le=1e-7)


class OneRowArray(Component):
    """1T-1MTJ array, one row per read, one reference column; periphery without clamps or column mux."""

    kind: ClassVar[str] = "crossbar"
    model: ClassVar[str] = "t1mtj_csa4"
    Params = OneRowParams
    READ_ROW_GROUP, CONDUCT_LRS, CONDUCT_HRS = "read_row_group", "conduct_lrs", "conduct_hrs"
    ACTIONS = (READ_ROW_GROUP, CONDUCT_LRS, CONDUCT_HRS)
    read_model: ClassVar[str] = "ideal"  # no circuit model: partial sums are read exactly
    TRIGGERS: ClassVar[dict[str, str]] = {contracts.ROW_GROUP_READ: READ_ROW_GROUP,
                                          contracts.LRS_CELL: CONDUCT_LRS, contracts.HRS_CELL: CONDUCT_HRS}

    @classmethod
    def from_spec(cls, params: OneRowParams, build: Any) -> OneRowArray:
        return cls(build, params)

    def __init__(self, build: Any, p: OneRowParams) -> None:
        arch, self.ctx = build.arch, build.ctx
        storage, r_acc = build.mtj_params("storage"), arch.cell.r_access_ohm
        self.rows, self.cols, self.rows_active = p.rows, p.cols, p.rows_active
        self.physical_cols = p.cols + 1  # the reference column of a 1T-1MTJ array
        self.read_voltage_v, self.read_pulse_s = p.read_voltage_v, p.read_pulse_s
        self.r_lrs_ohm = mtj.r_p_ohm(storage) + r_acc
        self.r_hrs_ohm = float(mtj.r_ap_ohm(storage, p.read_voltage_v)) + r_acc
        self.i_lrs_a, self.i_hrs_a = p.read_voltage_v / self.r_lrs_ohm, p.read_voltage_v / self.r_hrs_ohm
        self.cell = CellGeometry("1T1MTJ", arch.cell.area_f2_per_device, self.ctx.node_nm)
        self.periphery = ComputeArrayPeriphery.build(
            self.ctx, rows=p.rows, cols=p.cols, physical_cols=self.physical_cols, rows_active=p.rows_active,
            devices_per_weight=1, cell_pitch_m=self.cell.pitch_m, r_access_ohm=r_acc, r_hrs_ohm=self.r_hrs_ohm,
            clamp_voltage_v=p.read_voltage_v, wire_cap_f_per_m=2e-10, write_current_a=arch.cell.write_current_a,
            write_pulse_s=arch.cell.write_pulse_s)

    def parts(self) -> dict[str, tuple[Component, int]]:
        return {k: v for k, v in self.periphery.parts().items() if k != "precharge"}  # the SA clamps its line

    def column_select(self, ways: int, max_current_a: float) -> Component | None:
        return None  # column-enable lines of the array: no mux in front of the shared sense amp

    def replica_read_energy_j(self) -> float:
        return self.rows_active * self.action(self.CONDUCT_HRS).energy_j

    def column_area_m2(self) -> float:
        return self.area_m2() / self.physical_cols

    def conductance_sigma_rel(self, ra_sigma_rel: float) -> float:
        return ra_sigma_rel

    def area_m2(self) -> float:
        return self.rows * self.physical_cols * self.cell.area_m2

    def leakage_w(self) -> float:
        return 0.0

    def actions(self) -> dict[str, Action]:
        t, v = self.read_pulse_s, self.read_voltage_v
        lrs, hrs = v * self.i_lrs_a * t, v * self.i_hrs_a * t
        per = self.periphery
        typical = (per.decoder.action("decode").energy_j + per.wordline.action("drive_group").energy_j
                   + self.physical_cols * 0.5 * (lrs + hrs))
        return {self.READ_ROW_GROUP: Action(typical, per.access_delay_s() + t, composite=True),
                self.CONDUCT_LRS: Action(lrs), self.CONDUCT_HRS: Action(hrs)}


def _arch_yaml(tmp_path) -> str:
    text = ARCH.read_text()
    crossbar = text[text.index("crossbar:\n"):text.index("column_periphery:\n")]
    column = text[text.index("column_periphery:\n"):text.index("spindrop:\n")]
    text = (text.replace(crossbar, "crossbar:\n  model: t1mtj_csa4\n  rows: 64\n  cols: 64\n\n")
            .replace(column, "column_periphery:\n  model: mlsa\n  levels: 3\n  columns_per_converter: 4\n\n")
            .replace("type: 2T2MTJ", "type: 1T1MTJ").replace("tiles: 4 ", "tiles: auto "))
    path = tmp_path / "one_row.yaml"
    path.write_text(text)
    return str(path)


def _run(*args: str) -> dict:
    res = CliRunner().invoke(cli, ["run", *args, "--format", "json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_new_array_model_from_yaml_is_priced_timed_and_run(tmp_path):
    arch = _arch_yaml(tmp_path)
    with registered(OneRowArray):
        hw = _run(arch, str(MLP), "--hardware-only")
        fn = _run(arch, str(MLP), "--limit", "24", "--passes", "2", "--no-ood", "--no-corruptions")
        described = _describe(arch)
    ref = _run(str(ARCH), str(MLP), "--limit", "24", "--passes", "2", "--no-ood", "--no-corruptions")
    area = hw["area_breakdown_m2"]
    # its own periphery: no clamps, no column mux; one sense amp per 4 columns of every array
    assert "precharge" not in area and "column_mux" not in area
    comps = {c["name"]: c for c in described["components"]}
    assert comps["column_periphery"]["instances"] == hw["arrays_total"] * 64 // 4
    assert comps["row_decoder"]["instances"] == hw["arrays_total"] and "precharge" not in comps
    # describe's "used by this workload" is the area the run prices
    assert described["views"]["used_by_workload"]["area_m2"] == pytest.approx(hw["area_m2"], rel=1e-12)
    # priced: the array, its decoder and drivers and the shared sense amps all cost energy
    for name in ("crossbar", "row_decoder", "wordline_driver", "column_periphery"):
        assert hw["energy_breakdown_j"][name] > 0, name
    # timed: one row per read → fan_in row groups per MVM; the engine equals the closed form
    assert hw["latency_s"] > 0 and hw["timing"]["engine_cycles"] == hw["timing"]["closed_form_cycles"]
    assert ref["latency_s"] < hw["latency_s"]
    # run functionally: exact one-row sums, so the deterministic accuracy equals the shipped exact chip's
    assert fn["accuracy_deterministic"] == ref["accuracy_deterministic"]
    assert fn["accuracy"] > 0.5


def _describe(arch: str) -> dict:
    res = CliRunner().invoke(cli, ["describe", arch, str(MLP), "--format", "json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_unregistered_model_is_refused_with_its_section_named(tmp_path):
    res = CliRunner().invoke(cli, ["run", _arch_yaml(tmp_path), str(MLP), "--hardware-only"])
    assert res.exit_code != 0
    with pytest.raises(Exception, match="crossbar.model"):
        from cimsim.spec.loader import load_arch

        load_arch(_arch_yaml(tmp_path))
