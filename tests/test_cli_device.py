"""`cimsim mtj` and `cimsim calibrate mtj` through the console entry point."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cimsim.cli import main
from cimsim.components import mtj, mtj_switching
from cimsim.components.switching.table import SwitchingTable


def _run(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
        raise SystemExit(0)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_mtj_json_points_and_keys(capsys):
    code, out, _ = _run(capsys, ["mtj", "--current-ratio", "0.9", "--current-ratio", "1.2", "--format", "json"])
    assert code == 0
    doc = json.loads(out)
    assert {"points", "ic0_a", "delta", "model"} <= set(doc) and doc["model"] == "sllg_table"
    assert doc["delta"] == pytest.approx(40.0) and doc["ic0_a"] == pytest.approx(50e-6 * 40 / 60, rel=2e-3)
    keys = {"current_ratio", "current_a", "pulse_s", "temperature_k", "p_switch", "p_error"}
    assert all(keys <= set(p) for p in doc["points"])
    p = [pt["p_switch"] for pt in doc["points"]]
    assert [pt["current_ratio"] for pt in doc["points"]] == pytest.approx([0.9, 1.2])
    assert 0 < p[0] < p[1] <= 1
    dev = mtj.MTJParams(delta_ref=40.0, ic0_ref_a=doc["ic0_a"])
    np.testing.assert_allclose(p, mtj_switching.p_switch(dev, np.array([0.9, 1.2]) * dev.ic0_ref_a, 10e-9, 300.0), rtol=1e-12)
    assert all(pt["p_error"] > 0 and pt["pulse_s"] == 10e-9 for pt in doc["points"])


def test_mtj_target_p_round_trip_and_slope(capsys):
    code, out, _ = _run(capsys, ["mtj", "--target-p", "0.2", "--temperature", "350", "--format", "json"])
    assert code == 0
    (pt,) = json.loads(out)["points"]
    assert pt["p_switch"] == pytest.approx(0.2, abs=1e-9) and pt["temperature_k"] == 350.0
    assert pt["dp_dratio"] > 0


def test_mtj_table_text_and_analytic_warning(capsys):
    code, out, err = _run(capsys, ["mtj", "--set", "mtj.dropout.switching_model=analytic", "--current-ratio", "1.1"])
    assert code == 0 and "model analytic" in out and "cimsim: warning:" in err


@pytest.mark.parametrize("argv, field", [
    (["mtj", "--current-ratio", "0.2"], "--current-ratio"),
    (["mtj", "--pulse", "1e-11"], "--pulse"),
    (["mtj", "--target-p", "0.2", "--current-ratio", "1"], "--target-p"),
    (["mtj", "--set", "mtj.dropout.switching_model=foo"], "switching_model"),
])
def test_mtj_bad_input_is_one_line_exit_2(capsys, argv, field):
    code, _, err = _run(capsys, argv)
    assert code == 2 and err.startswith("cimsim: error:") and field in err and err.count("\n") == 1


def test_calibrate_quick_writes_a_loadable_table(capsys, tmp_path):
    pytest.importorskip("cmtj")
    out = tmp_path / "t.npz"
    code, text, _ = _run(capsys, ["calibrate", "mtj", "--quick", "--trajectories", "20", "--seed", "3",
                                  "--out", str(out)])
    assert code == 0 and "20 trajectories per point; seed 3" in text
    tab = SwitchingTable.load(out)
    assert tab.n_traj == 20 and tab.seed == 3 and tab.n_switched.shape == (5, 4, 7)
    # reproducible with the seed
    again = tmp_path / "u.npz"
    _run(capsys, ["calibrate", "mtj", "--quick", "--trajectories", "20", "--seed", "3", "--out", str(again)])
    np.testing.assert_array_equal(SwitchingTable.load(again).n_switched, tab.n_switched)


@pytest.mark.parametrize("ratio", ["0.45", "10"])
def test_mtj_both_table_ends_evaluate_with_one_sided_slope(capsys, ratio):
    """Issue 19: the documented range includes both ends; dP/dI is one-sided there instead of stepping out."""
    code, out, err = _run(capsys, ["mtj", "--current-ratio", ratio, "--pulse", "2e-9", "--format", "json"])
    assert code == 0, err
    (pt,) = json.loads(out)["points"]
    dev = mtj.MTJParams(delta_ref=40.0, ic0_ref_a=json.loads(out)["ic0_a"])
    i = float(ratio)
    h = 1e-4
    inner = i + h if i < 1 else i - h
    p_in = float(mtj_switching.p_switch(dev, inner * dev.ic0_ref_a, 2e-9, 300.0))
    one_sided = (pt["p_switch"] - p_in) / (i - inner)
    assert pt["dp_dratio"] == pytest.approx(one_sided, rel=1e-6, abs=1e-9)


def test_mtj_delta_outside_the_table_from_set_names_set(capsys):
    code, _, err = _run(capsys, ["mtj", "--set", "mtj.dropout.delta_ref=140"])
    assert code == 2 and err.startswith("cimsim: error: --set: mtj.dropout.delta_ref:") and err.count("\n") == 1


def test_mtj_eb_ms_exponent_is_a_yaml_field(capsys):
    """eb_ms_exponent = 0 keeps E_b fixed, so Delta(T) = Delta_ref T_ref / T and I_c0 does not move."""
    code, out, _ = _run(capsys, ["mtj", "--set", "mtj.dropout.eb_ms_exponent=0", "--temperature", "400",
                                 "--current-ratio", "1", "--format", "json"])
    assert code == 0
    doc = json.loads(out)
    assert doc["delta"] == pytest.approx(40.0 * 300 / 400, rel=1e-12)
    assert doc["ic0_a"] == pytest.approx(33.3e-6, rel=1e-12)  # the example arch sets 33.3 uA
    code, out, _ = _run(capsys, ["mtj", "--temperature", "400", "--current-ratio", "1", "--format", "json"])
    assert json.loads(out)["delta"] < 40.0 * 300 / 400  # the default 1.804 also lowers E_b with T


def test_mtj_target_p_in_the_precessional_regime(capsys):
    """Issue 19: at Delta 30 and 2 ns (alpha 0.005: 0.88 tau_D) the 10 I_c0 rows reach P = 0.95."""
    code, out, err = _run(capsys, ["mtj", "--set", "mtj.dropout.delta_ref=30", "--set", "mtj.dropout.alpha=0.005",
                                   "--pulse", "2e-9", "--target-p", "0.95", "--format", "json"])
    assert code == 0, err
    (pt,) = json.loads(out)["points"]
    assert pt["p_switch"] == pytest.approx(0.95, abs=1e-9) and 4.5 < pt["current_ratio"] <= 10


def test_calibrate_extend_with_a_mismatched_table_is_one_line_exit_2(capsys, tmp_path):
    pytest.importorskip("cmtj")
    from cimsim.components.switching.table import shipped_table_path

    code, _, err = _run(capsys, ["calibrate", "mtj", "--quick", "--out", str(tmp_path / "t.npz"),
                                 "--extend", str(shipped_table_path())])
    assert code == 2 and "--extend" in err and "cannot extend" in err and err.count("\n") == 1
