"""`cimsim mtj` and `cimsim calibrate mtj` through the console entry point."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cimsim.cli import main
from cimsim.components import mtj
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
    np.testing.assert_allclose(p, mtj.p_switch(dev, np.array([0.9, 1.2]) * dev.ic0_ref_a, 10e-9, 300.0), rtol=1e-12)
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
