"""Crossbar electrical model: nodal-solve laws, hand-solved circuits, TMR(T), ngspice agreement (issue 19)."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest

from cimsim.components.electrical import (
    ArrayCircuit,
    solve,
    solve_reduced,
    tmr_at_temperature,
)
from cimsim.validation import ngspice_netlist as ng
from cimsim.validation.analog import SPICE_TOL, worst_columns


def _circuit(r_row=1.0, r_col=1.0, r_drv=20.0, r_sense=10.0, rows=24, cols=20, vh=0.5, tmr=1.2):
    return ArrayCircuit(rows=rows, cols=cols, r_row_ohm=r_row, r_col_ohm=r_col, r_driver_ohm=r_drv,
                        r_sense_ohm=r_sense, r_access_ohm=3.7e3, r_p_ohm=3979.0, tmr=tmr, vh_v=vh,
                        read_voltage_v=0.1)


def _pattern(rows=24, cols=20, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random(rows) < 0.6, rng.random((rows, cols)) < 0.5


def test_zero_wire_resistance_gives_ideal_currents_exactly():
    c = _circuit().ideal()
    driven, lrs = _pattern()
    ideal = c.ideal_currents_a(driven, lrs)
    np.testing.assert_allclose(solve(c, driven, lrs).currents_a, ideal, rtol=1e-13, atol=0)
    np.testing.assert_allclose(solve_reduced(c, driven, lrs), ideal, rtol=1e-13, atol=0)


@pytest.mark.parametrize("layout", ["row", "column"])
def test_currents_decrease_monotonically_with_wire_resistance(layout):
    driven, lrs = _pattern(seed=3)
    prev = None
    for r in (0.0, 0.1, 0.5, 2.0, 8.0):
        c = _circuit(r_row=r if layout == "row" else 0.0, r_col=r, r_drv=0.0 if layout == "column" else 20.0)
        cur = solve(c, driven, lrs).currents_a
        if prev is not None:
            assert np.all(cur < prev)
        prev = cur


def test_kcl_residual_is_at_solver_precision():
    c = _circuit(r_row=3.0, r_col=5.0)
    driven, lrs = _pattern(seed=5)
    s = solve(c, driven, lrs)
    assert s.kcl_residual_a < 1e-12 * s.currents_a.max()
    # every cell's MTJ sits at its settled bias: R_AP(V_MTJ) with V_MTJ = V_cell·R/(R + R_access)
    r_cell = 1.0 / s.g_cell_s
    r_mtj = r_cell - c.r_access_ohm
    v_mtj = s.v_cell_v * r_mtj / r_cell
    expect = np.where(lrs[driven], c.r_p_ohm, c.r_p_ohm * (1 + c.tmr / (1 + (v_mtj / c.vh_v) ** 2)))
    np.testing.assert_allclose(r_mtj, expect, rtol=1e-9)


def test_two_by_two_row_line_by_hand():
    # row 0 driven, bias-independent MTJs (V_h huge): a driver, two row segments, two cells into sinks
    c = _circuit(r_row=7.0, r_col=3.0, r_drv=11.0, r_sense=5.0, rows=2, cols=2, vh=1e9)
    lrs = np.array([[True, False], [False, False]])
    g0, g1 = 1 / (c.r_access_ohm + c.r_p_ohm), 1 / (c.r_access_ohm + c.r_p_ohm * (1 + c.tmr))
    sink = 2 * c.r_col_ohm + c.r_sense_ohm
    ra, rb = 1 / g0 + sink, c.r_row_ohm + 1 / g1 + sink
    total = 0.1 / (c.r_driver_ohm + c.r_row_ohm + ra * rb / (ra + rb))
    va = 0.1 - total * (c.r_driver_ohm + c.r_row_ohm)
    s = solve(c, np.array([True, False]), lrs)
    np.testing.assert_allclose(s.currents_a, [va / ra, va / rb], rtol=1e-12)


def test_two_by_two_bit_line_ladder_by_hand():
    # both rows driven, ideal row lines: each column is a two-rung ladder into its sense amp
    c = _circuit(r_row=0.0, r_col=13.0, r_drv=0.0, r_sense=5.0, rows=2, cols=2, vh=1e9)
    lrs = np.array([[True, False], [True, True]])
    gl, gh = 1 / (c.r_access_ohm + c.r_p_ohm), 1 / (c.r_access_ohm + c.r_p_ohm * (1 + c.tmr))
    want = []
    for g_top, g_bot in ((gl, gl), (gh, gl)):
        r_top = 1 / g_top + c.r_col_ohm
        r_th = 1 / (1 / r_top + g_bot)               # r_top ∥ 1/g_bot
        want.append(0.1 / (r_th + c.r_col_ohm + c.r_sense_ohm))
    for got in (solve(c, np.array([True, True]), lrs).currents_a, solve_reduced(c, np.array([True, True]), lrs)):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_reduced_model_is_exact_without_row_line_resistance():
    c = _circuit(r_row=0.0, r_drv=0.0, r_col=20.0, rows=64, cols=16)
    driven, lrs = _pattern(rows=64, cols=16, seed=9)
    np.testing.assert_allclose(solve_reduced(c, driven, lrs), solve(c, driven, lrs).currents_a, rtol=1e-9)


def test_tmr_temperature_law():
    assert math.isclose(tmr_at_temperature(1.2, 300.0, 300.0), 1.2, rel_tol=1e-12)
    # the two points of the fit (Lee et al. 2007) are reproduced
    assert math.isclose(tmr_at_temperature(6.04, 300.0, 5.0), 11.44, rel_tol=1e-9)
    ts = [250.0, 300.0, 350.0, 400.0]
    vals = [tmr_at_temperature(1.2, 300.0, t) for t in ts]
    assert all(a > b for a, b in zip(vals, vals[1:], strict=False))


def test_crossbar_circuit_follows_yaml(arch):
    from cimsim.hardware import build_hardware
    from cimsim.resolve import resolve

    spec = arch.model_copy(deep=True)
    hw = build_hardware(resolve(spec, arch_file="test"))
    c = hw.component("crossbar").circuit()
    assert c.r_row_ohm == 0.0 and c.r_col_ohm > 0       # default: source line beside the bit line
    spec.crossbar = spec.crossbar.model_copy(update={"source_line": "row", "wire_res_scale": 0.5})
    c2 = build_hardware(resolve(spec, arch_file="test")).component("crossbar").circuit()
    assert math.isclose(c2.r_col_ohm, 0.25 * c.r_col_ohm) and math.isclose(c2.r_row_ohm, c2.r_col_ohm)
    assert c2.r_driver_ohm > 0


@pytest.mark.parametrize("size", [16, 64])
def test_full_solve_matches_stored_ngspice(size):
    full, _ = worst_columns(size)
    assert full.error < SPICE_TOL, full.label


def test_reduced_model_against_stored_ngspice():
    # exact without row-line resistance; converges to the full solve as the sweeps grow
    assert worst_columns(16, "column")[1].error < 1e-9
    assert worst_columns(16, "row", sweeps=12)[1].error < 1e-8


@pytest.mark.slow
def test_full_solve_matches_stored_ngspice_128():
    full, _ = worst_columns(128)
    assert full.error < SPICE_TOL, full.label
    assert worst_columns(128, "row", sweeps=12)[1].error < 1e-6


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice not installed")
def test_ngspice_regenerates_the_stored_currents():
    stored = {e["seed"]: np.asarray(e["currents_a"]) for e in ng.load_reference()["16"]}
    for seed in (0, 1, 2, 3):
        got = ng.run_ngspice(ng.pattern(16, seed))
        np.testing.assert_allclose(got, stored[seed], rtol=1e-9)
    got = ng.run_ngspice(ng.pattern(64, 1))
    np.testing.assert_allclose(got, ng.load_reference()["64"][1]["currents_a"], rtol=1e-9)
