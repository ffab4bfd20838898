"""The chip is one declared tree (issue 23, DESIGN.md §8): a new level of hierarchy is YAML alone, and counts,
roll-ups, power gating and capacity all follow from the one declaration."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cimsim import chiptree
from cimsim.cli import cli
from cimsim.errors import ConfigError
from cimsim.hardware import build_hardware
from cimsim.mapping import map_network
from cimsim.resolve import resolve
from cimsim.spec.loader import load_arch, load_workload

from .conftest import ARCH, MLP

MACRO = "  arrays_per_tile: 4\n  levels:\n    - {name: macro, arrays: 4, shares: [column_periphery]}\n"


def _macro_arch(tmp_path):
    path = tmp_path / "macro.yaml"
    path.write_text(ARCH.read_text().replace("  arrays_per_tile: 4\n", MACRO, 1))
    return path


def _describe(*args: str) -> dict:
    res = CliRunner().invoke(cli, ["describe", *map(str, args), "--format", "json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def _run(*args: str) -> dict:
    res = CliRunner().invoke(cli, ["run", *map(str, args), "--hardware-only", "--format", "json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_a_macro_level_sharing_one_converter_bank_is_yaml_alone(tmp_path):
    """4 arrays per macro share one bank of cols/cpc converters: 4× fewer converters, the converter area and
    leakage drop by exactly that, everything else (and every action count) stays."""
    macro = _macro_arch(tmp_path)
    flat, shared = _describe(ARCH), _describe(macro)
    assert shared["containers"] == {"chip": 1, "tile": 4, "macro": 4, "array": 16}
    n = {c["name"]: c["instances"] for c in flat["components"]}
    m = {c["name"]: c["instances"] for c in shared["components"]}
    assert m["column_periphery"] * 4 == n["column_periphery"] == 16 * 128
    assert {k: v for k, v in m.items() if k != "column_periphery"} == {k: v for k, v in n.items()
                                                                     if k != "column_periphery"}
    conv_area = flat["area_breakdown_m2"]["column_periphery"]
    assert shared["area_breakdown_m2"]["column_periphery"] == pytest.approx(conv_area / 4, rel=1e-12)
    assert flat["area_m2"] - shared["area_m2"] == pytest.approx(conv_area * 3 / 4, rel=1e-9)
    # energy: the same conversions are priced; leakage energy follows the smaller bank
    a, b = _run(ARCH, MLP), _run(macro, MLP)
    assert a["energy_breakdown_j"]["column_periphery"] == pytest.approx(b["energy_breakdown_j"]["column_periphery"],
                                                                       rel=1e-12)
    assert b["area_m2"] < a["area_m2"] and b["arrays_total"] == a["arrays_total"] == 16


def test_levels_must_nest_and_names_are_free(tmp_path):
    for bad, field in (("{name: macro, arrays: 3}", "must divide"), ("{name: tile, arrays: 2}", "is taken")):
        path = tmp_path / "bad.yaml"
        path.write_text(ARCH.read_text().replace("  arrays_per_tile: 4\n", f"  arrays_per_tile: 4\n  levels: [{bad}]\n"))
        with pytest.raises(ConfigError, match=field):
            load_arch(path)


def test_counts_gating_and_capacity_come_from_the_tree():
    design = resolve(load_arch(ARCH, [("chip.power_gate_unused", True)]), load_workload(MLP))
    mapping = map_network(design)
    hw = build_hardware(design, mapping)
    # arrays counted once: the mapping's capacity is the tree's
    cap = chiptree.capacity(design.arch)
    assert (cap.tiles, cap.arrays_per_tile, cap.arrays) == (4, 4, mapping.chip_arrays) and hw.arrays == 16
    # dropout modules: as built one per row of every array; used: the mapped layers' (one fact each)
    assert hw.as_built["dropout_source"].count == 16 * 128
    assert hw.instances["dropout_source"].count == mapping.modules == 256 + 256
    gated = chiptree.gated_names(hw.tree)
    assert {"crossbar", "column_periphery", "dropout_source", "row_decoder", "local_buffer"} <= gated
    assert not gated & {"global_buffer", "interconnect", "controller"}
    full, half = hw.leakage_breakdown_w(), hw.active_leakage_breakdown_w(2)
    for name, w in full.items():
        assert half[name] == pytest.approx(w * (0.5 if name in gated else 1.0), rel=1e-15)


def test_event_keys_follow_the_parts_the_array_has():
    design = resolve(load_arch(ARCH, [("column_periphery.columns_per_converter", 4)]))
    hw = build_hardware(design)
    assert set(hw.event_keys("conversion")) == {"column_periphery.convert", "column_mux.select",
                                                "accumulator.accumulate", "precharge.precharge"}
    assert set(hw.event_keys("row_group_read")) == {"crossbar.read_row_group", "row_decoder.decode"}
    plain = build_hardware(resolve(load_arch(ARCH)))
    assert "column_mux.select" not in plain.event_keys("conversion")


def test_fanout_expressions_reject_anything_else():
    with pytest.raises(ValueError, match="only integers"):
        chiptree.evaluate_fanout("__import__('os')", {})
    with pytest.raises(ValueError, match="no built instance"):
        chiptree.evaluate_fanout("crossbar.nothing", {})


def test_run_and_describe_report_both_views_alike():
    """`cimsim run` prices the chip as used by the workload and shows the chip as built beside it; both equal
    what `cimsim describe ARCH WORKLOAD` labels the same way (issue 23: 512 used vs 2 048 built modules)."""
    arch, wl = str(ARCH), str(MLP)
    run = json.loads(CliRunner().invoke(cli, ["run", arch, wl, "--hardware-only", "--format", "json"]).output)
    desc = json.loads(CliRunner().invoke(cli, ["describe", arch, wl, "--format", "json"]).output)
    assert run["views"] == desc["views"]
    assert run["area_m2"] == run["views"]["used_by_workload"]["area_m2"]
    built, used = run["views"]["chip_as_built"], run["views"]["used_by_workload"]
    assert built["instances"]["dropout_source"] == 2048 and used["instances"]["dropout_source"] == 512
    assert built["area_m2"] > used["area_m2"]
