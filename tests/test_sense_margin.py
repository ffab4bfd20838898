"""Sense margins: per-level misread probabilities against Monte Carlo, `cimsim margin`, and `cimsim run` with
the electrical read model (issue 19)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from cimsim.cli import main
from cimsim.components.quantizer import Quantizer
from cimsim.components.sense_margin import ReadError, margin, misread_probability
from cimsim.hardware import build_hardware
from cimsim.resolve import resolve

from .conftest import ARCH, MLP
from .test_cli import _assert_one_line_error, run_cli


def _hw(arch, **crossbar):
    spec = arch.model_copy(deep=True)
    spec.crossbar = spec.crossbar.model_copy(update=crossbar)
    return build_hardware(resolve(spec, arch_file="test"))


@pytest.mark.parametrize(("bias", "sigma"), [(0.0, 0.3), (0.2, 0.45), (-0.35, 0.8)])
def test_misread_probability_matches_monte_carlo_through_the_quantizer(bias, sigma):
    ra = 16
    q = Quantizer(levels=2 * ra + 1, full_scale=ra)
    shape = (ra + 1, ra + 1)
    err = ReadError(ra, np.full(shape, bias), np.full(shape, sigma), np.zeros(shape), np.zeros(shape), 0.0,
                    np.ones(shape, np.int64))
    m = margin(err, q)
    rng = np.random.default_rng(7)
    n = 20000
    for i in (0, 5, 8, 16):  # the clipped end, inner levels and the top
        s = float(m.levels[i])
        z = rng.standard_normal(n)
        got = err.perturb(np.full(n, s, np.float32), np.full(n, ra), z)
        rate = float(np.mean(q(got[:, None])[:, 0] != q(np.array([[s]], np.float32))[0, 0]))
        p = m.p_misread[i]
        assert math.isclose(p, misread_probability(q, s, bias, sigma))
        tol = 4.5 * math.sqrt(max(p * (1 - p), 1 / n) / n)    # binomial, 4.5 σ
        assert abs(rate - p) < tol, (s, rate, p)


def test_no_wire_no_variation_reads_exactly(arch):
    from cimsim.components.sense_margin import chip_margin

    m = chip_margin(_hw(arch, wire_res_scale=0.0, sense_r_ohm=0.0))
    assert m.expected_misread == 0.0
    assert np.max(np.abs(m.bias)) < 1e-9 and np.max(m.sigma) < 1e-9


def test_ra_spread_in_popcount_units_matches_sampled_cells(arch):
    # σ_RA² = σ_c²·[n(κ+1)² + (n_d − n)(κ−1)²]: sample the cell conductances and read the ideal column
    from cimsim.components.sense_margin import read_error

    xb = _hw(arch, wire_res_scale=0.0).component("crossbar")
    err = read_error(xb, ra_sigma_rel=0.05, tmr_sigma_rel=0.0, sense_sigma_lsb=0.0)
    c = xb.circuit().ideal()
    one = np.ones((1, 1), bool)
    i_l = 0.1 * c.cell_conductance_s(one, np.full((1, 1), 0.1))[0, 0]
    i_h = 0.1 * c.cell_conductance_s(~one, np.full((1, 1), 0.1))[0, 0]
    sig_c = xb.conductance_sigma_rel(0.05)
    rng = np.random.default_rng(3)
    n_d, n, draws = 16, 11, 40000
    e = sig_c * rng.standard_normal((draws, n_d))
    cur = i_l * (1 + e[:, :n]).sum(axis=1) + i_h * (1 + e[:, n:]).sum(axis=1)
    s_hat = 2 * (cur - n_d * i_h) / (i_l - i_h) - n_d
    sd = float(np.std(s_hat))
    tol = 4.5 * sd / math.sqrt(2 * draws)                    # standard error of a sample σ
    assert abs(sd - err.sigma_ra[n_d, n]) < tol


def _cli(capsys, *args: str) -> str:
    main(list(args))
    return capsys.readouterr().out


def test_margin_cli_json_table_describe(capsys):
    doc = json.loads(_cli(capsys, "margin", str(ARCH), "--format", "json", "--set", "crossbar.wire_res_scale=0.1"))
    assert len(doc["levels"]) == 17 and 0.0 <= doc["expected_misread"] <= 1.0
    assert doc["expected_misread"] == pytest.approx(float(np.dot(doc["level_weight"], doc["p_misread"])))
    assert "expected misread rate" in _cli(capsys, "margin", str(ARCH))
    assert "expected misread rate" in _cli(capsys, "describe", str(ARCH))


def test_margin_cli_bad_flag_is_one_line_exit_2():
    _assert_one_line_error(run_cli("margin", str(ARCH), "--set", "crossbar.read_references=exact"),
                           "crossbar.read_references")


def _accuracy(capsys, *sets: str) -> float:
    args = ["run", str(ARCH), str(MLP), "--no-ood", "--no-corruptions", "--limit", "40", "--passes", "4",
            "--threads", "1", "--format", "json"]
    for s in sets:
        args += ["--set", s]
    return json.loads(_cli(capsys, *args))["accuracy"]


def test_run_with_electrical_read_model_nominal_references_collapse(capsys):
    # references at the ideal level currents while the bit lines drop volts: the reads collapse to chance
    # (the ideal chip scores 0.98 on these inputs, test_run_electrical_without_parasitics_is_the_ideal_run)
    assert _accuracy(capsys, "crossbar.read_model=electrical", "crossbar.read_references=nominal") < 0.4


@pytest.mark.slow
def test_run_electrical_without_parasitics_is_the_ideal_run(capsys):
    ideal = _accuracy(capsys)
    assert ideal > 0.9
    # no wire or sense resistance: the electrical model reads every sum exactly, the run is the ideal run
    assert _accuracy(capsys, "crossbar.read_model=electrical", "crossbar.wire_res_scale=0",
                     "crossbar.sense_r_ohm=0") == ideal
