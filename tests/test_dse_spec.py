"""Sweep specs: grid / random / zipped expansion over dotted arch and workload paths; errors name the axis."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cimsim.dse.points import load_sweep, resolve_all
from cimsim.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def write(tmp: Path, **spec) -> Path:
    doc = {"name": "t", "arch": str(ROOT / "arch_configs" / "spindrop.yaml"),
           "workload": str(ROOT / "workloads" / "digits_mlp.yaml"), **spec}
    path = tmp / "s.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_grid_with_zip_and_ranges_over_arch_and_workload(tmp_path):
    sw = load_sweep(write(tmp_path, axes=[
        {"path": "crossbar.rows", "values": [64, 128]},
        {"path": "arch.crossbar.rows_active", "log": {"start": 4, "stop": 16, "num": 3, "integer": True}},
        {"zip": [{"path": "workload.dropout.p", "linear": {"start": 0.1, "stop": 0.3, "num": 2}},
                 {"path": "mc_passes", "values": [5, 10]}]}]))
    pts = sw.points()
    assert sw.grid_size == len(pts) == 2 * 3 * 2
    # row-major: the last (zipped) axis varies fastest and its members move together
    assert [p.axes for p in pts[:2]] == [
        {"crossbar.rows": 64, "arch.crossbar.rows_active": 4, "workload.dropout.p": 0.1, "mc_passes": 5},
        {"crossbar.rows": 64, "arch.crossbar.rows_active": 4, "workload.dropout.p": pytest.approx(0.3),
         "mc_passes": 10}]
    assert pts[-1].axes["crossbar.rows"] == 128 and pts[-1].axes["arch.crossbar.rows_active"] == 16
    # routing: arch.* and sections go to the arch, workload.* and workload fields to the workload
    assert pts[0].arch_over == (("crossbar.rows", 64), ("crossbar.rows_active", 4))
    assert pts[0].wl_over == (("dropout.p", 0.1), ("mc_passes", 5))
    res = list(resolve_all(sw, pts))
    assert res[0].arch.crossbar.rows == 64 and res[0].workload.mc_passes == 5
    assert res[5].workload.dropout.p == pytest.approx(0.3) and res[5].arch.crossbar.rows_active == 16
    assert len({r.key for r in res}) == len(res)  # distinct configs, distinct keys
    assert sw.resolve(pts[0]).key == res[0].key  # keys are content hashes: stable


def test_random_is_seeded_distinct_and_within_the_grid(tmp_path):
    axes = [{"path": "crossbar.rows", "values": [64, 128, 256]},
            {"path": "spindrop.write_pulse_s", "log": {"start": 5e-9, "stop": 5e-8, "num": 7}}]
    a = load_sweep(write(tmp_path, axes=axes, search="random", samples=8, seed=3)).points()
    b = load_sweep(write(tmp_path, axes=axes, search="random", samples=8, seed=3)).points()
    c = load_sweep(write(tmp_path, axes=axes, search="random", samples=8, seed=4)).points()
    assert [p.index for p in a] == [p.index for p in b]
    assert [p.index for p in a] != [p.index for p in c]
    assert len({p.index for p in a}) == 8 and all(0 <= p.index < 21 for p in a)
    grid = [5e-9 * 10 ** (k / 6) for k in range(7)]  # geometric: 7 points per decade/6
    assert all(min(abs(p.axes["spindrop.write_pulse_s"] / g - 1) for g in grid) < 1e-12 for p in a)


@pytest.mark.parametrize(("axis", "needle"), [
    ({"path": "crossbar.rowz", "values": [1]}, "crossbar.rowz"),
    ({"path": "nonsense.x", "values": [1]}, "nonsense.x"),
    ({"path": "crossbar.rows_active", "values": [16, 7]}, "crossbar.rows_active = 7"),
    ({"path": "controller.schedule", "values": ["sequential", "warp"]}, "controller.schedule = 'warp'"),
    ({"path": "dropout.p", "values": [0.2, 1.5]}, "dropout.p = 1.5"),
])
def test_bad_axis_or_value_fails_before_running_naming_it(tmp_path, axis, needle):
    with pytest.raises(ConfigError) as err:
        load_sweep(write(tmp_path, axes=[axis]))
    assert needle in str(err.value)


def test_invalid_combination_refused_or_recorded(tmp_path):
    axes = [{"path": "crossbar.rows", "values": [64, 128]}, {"path": "crossbar.rows_active", "values": [16, 128]}]
    sw = load_sweep(write(tmp_path, axes=axes))
    with pytest.raises(ConfigError, match=r"crossbar.rows = 64, crossbar.rows_active = 128"):
        list(resolve_all(sw, sw.points()))
    sw = load_sweep(write(tmp_path, axes=axes, skip_invalid=True))
    res = list(resolve_all(sw, sw.points()))
    assert [r.error is not None for r in res] == [False, True, False, False]


@pytest.mark.parametrize(("extra", "needle"), [
    ({"objectives": ["minimize energy"]}, "objective"),
    ({"constraints": ["area_m2 <= big"]}, "not a number"),
    ({"search": "random"}, "needs samples"),
    ({"search": "optuna", "samples": 4}, "objective"),
    ({"color_by": "nope"}, "color_by"),
    ({"axes": [{"path": "crossbar.rows", "values": [64], "linear": {"start": 1, "stop": 2, "num": 2}}]},
     "exactly one"),
    ({"axes": [{"zip": [{"path": "crossbar.rows", "values": [64, 128]},
                        {"path": "crossbar.cols", "values": [64]}]}]}, "equal lengths"),
])
def test_spec_errors(tmp_path, extra, needle):
    spec = {"axes": [{"path": "crossbar.rows", "values": [64]}], **extra}
    with pytest.raises(ConfigError, match=needle):
        load_sweep(write(tmp_path, **spec))
