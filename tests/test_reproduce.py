"""`cimsim reproduce`: case registry, JSON schema, exit status when a model is broken, output files."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from cimsim.cli import cli, main
from cimsim.components import bitline_periphery
from cimsim.validation import discover, select
from cimsim.validation.registry import CaseResult, case

FIELDS = {"name": str, "topic": str, "source": str, "unit": str, "tolerance": str, "verdict": str, "note": str}


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_discovery_topics_and_slow_marks():
    found = discover()
    names = [c.name for c in found]
    assert len(names) == len(set(names))
    assert {c.topic for c in found} == {"device", "circuits", "architecture", "algorithm"}
    assert all(c.name.startswith(c.topic + ".") for c in found)
    assert all(c.slow for c in found if c.topic == "algorithm")
    quick = select(found, [], quick=True)
    assert quick and not any(c.slow for c in quick)
    assert [c.name for c in select(found, ["subarray_nvsim_45nm"], quick=False)] == ["circuits.subarray_nvsim_45nm"]
    with pytest.raises(ValueError, match="no validation case"):
        select(found, ["nonexistent"], quick=False)


def test_json_schema_of_reproduce():
    res = invoke("reproduce", "circuits", "architecture.spatial_spindrop_modules", "--format", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert set(doc) == {"cases"} and len(doc["cases"]) >= 16
    for c in doc["cases"]:
        assert set(c) == set(FIELDS) | {"reference", "value", "error"}
        for key, typ in FIELDS.items():
            assert isinstance(c[key], typ), key
        for key in ("reference", "value", "error"):
            assert c[key] is None or isinstance(c[key], float | int)
        assert c["verdict"] in ("pass", "fail", "info")
        if c["reference"] and c["value"] is not None:
            assert c["error"] == pytest.approx(c["value"] / c["reference"] - 1, rel=1e-9, abs=1e-12)
    names = {c["name"] for c in doc["cases"]}
    for node in (45, 32, 22):
        for q in ("read_energy", "write_energy", "read_latency", "area"):
            assert f"circuits.subarray_nvsim.{node}nm.{q}" in names
    assert all(c["verdict"] == "pass" for c in doc["cases"] if c["name"].startswith("circuits.subarray_nvsim"))


def test_reproduce_fails_when_a_model_is_broken(monkeypatch):
    assert invoke("reproduce", "subarray_nvsim_45nm").exit_code == 0
    # a sense amp 20× too large breaks the subarray area against NVSim
    monkeypatch.setattr(bitline_periphery, "IV_CONVERTER_AREA_F2", 20 * bitline_periphery.IV_CONVERTER_AREA_F2)
    res = invoke("reproduce", "subarray_nvsim_45nm")
    assert res.exit_code == 1
    assert "circuits.subarray_nvsim.45nm.area" in res.output and "fail" in res.output


def test_reproduce_fails_when_write_convention_is_broken(monkeypatch):
    monkeypatch.setattr(bitline_periphery, "write_pulse_energy_j", lambda v, i, t: 10 * v * i * t)
    res = invoke("reproduce", "subarray_nvsim_22nm", "--format", "json")
    assert res.exit_code == 1
    bad = [c["name"] for c in json.loads(res.output)["cases"] if c["verdict"] == "fail"]
    assert bad == ["circuits.subarray_nvsim.22nm.write_energy"]


def test_out_dir_and_unknown_case(tmp_path, capsys):
    res = invoke("reproduce", "device", "--out", str(tmp_path / "v"))
    assert res.exit_code == 0
    doc = json.loads((tmp_path / "v" / "reproduce.json").read_text())
    md = (tmp_path / "v" / "reproduce.md").read_text()
    assert len(doc["cases"]) == md.count("\n| device.")
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "no_such_case"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no_such_case" in err[0]


def test_case_decorator_is_one_function():
    @case(topic="circuits", name="example")
    def example() -> CaseResult:
        return CaseResult("circuits.example", "circuits", "s", 1.0, 1.0, "J", 0.0, "±1 %", "pass")

    assert example.__cimsim_case__.name == "circuits.example"
    assert math.isclose(example().reference, 1.0)
    with pytest.raises(ValueError, match="unknown topic"):
        case(topic="nonsense")
