"""CLI and spec loading: one-line errors with exit status 2, describe roll-up, schema, --set routing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cimsim.cli import main
from cimsim.errors import ConfigError
from cimsim.spec.loader import load_arch

from .conftest import ARCH, MLP, ROOT


def run_cli(*args: str, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cimsim.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def _assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize(("text", "needles"), [
    ("crossbar:\n  rows_active: 7\n", ["bad.yaml", "crossbar", "multiple of rows_active"]),
    ("crossbar:\n  rows: 3\n", ["bad.yaml", "crossbar.rows", "greater than or equal to 8"]),
    ("crossbar:\n  rowz: 3\n", ["bad.yaml", "crossbar.rowz", "unknown key"]),
    ("controller: {schedule: fastest}\n", ["bad.yaml", "controller.schedule", "sequential"]),
    ("column_periphery: {model: magic_adc}\n", ["bad.yaml", "column_periphery.model", "mlsa"]),
    ("column_periphery: {model: neurosim_sar}\n", ["bad.yaml", "column_periphery.bits", "required"]),
    ("column_periphery: {model: mlsa, bits: 5}\n", ["bad.yaml", "column_periphery.bits", "unknown key"]),
    ("spindrop: {model: lfsr, write_pulse_s: 1.0e-8}\n", ["bad.yaml", "spindrop.write_pulse_s", "unknown key"]),
    ("crossbar: [1, 2\n", ["bad.yaml", "not valid YAML"]),
    ("- 1\n- 2\n", ["bad.yaml", "mapping"]),
])
def test_malformed_arch_is_one_line_exit_2(tmp_path, text, needles):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    _assert_one_line_error(run_cli("describe", str(bad)), *needles)


def test_missing_file_and_bad_flag_are_one_line_exit_2(tmp_path):
    _assert_one_line_error(run_cli("describe", str(tmp_path / "nope.yaml")), "nope.yaml", "not found")
    _assert_one_line_error(run_cli("run", "--passes", "0"), "--passes", "0")
    _assert_one_line_error(run_cli("describe", "--format", "xml"), "xml")


def test_set_unknown_path_exits_2_naming_it():
    _assert_one_line_error(run_cli("run", "--set", "crossbar.rows_activ=8", "--hardware-only"),
                           "crossbar.rows_activ", "rows_active")
    _assert_one_line_error(run_cli("run", "--set", "bogus.thing=1", "--hardware-only"), "bogus.thing")


def test_set_overrides_are_validated_and_applied():
    spec = load_arch(ARCH, [("controller.schedule", "layer_pipelined"), ("crossbar.rows_active", 8)])
    assert spec.controller.schedule == "layer_pipelined" and spec.crossbar.rows_active == 8
    with pytest.raises(ConfigError, match="crossbar.rows_active"):
        load_arch(ARCH, [("crossbar.rows_active", 0)])


def test_describe_total_equals_sum_of_breakdown(capsys):
    main(["describe", str(ARCH), "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["area_m2"] == pytest.approx(sum(doc["area_breakdown_m2"].values()), rel=1e-12)
    assert doc["area_m2"] == pytest.approx(sum(c["instances"] * c["area_m2"] for c in doc["components"]), rel=1e-12)
    assert doc["leakage_w"] == pytest.approx(sum(c["instances"] * c["leakage_w"] for c in doc["components"]), rel=1e-12)
    for c in doc["components"]:
        for a in c["actions"].values():
            assert a["energy_j"] >= 0 and a["latency_cycles"] >= (1 if a["latency_s"] > 0 else 0)
    names = {c["name"] for c in doc["components"]}
    assert {"crossbar", "column_periphery", "dropout_source", "accumulator", "adder_tree", "comparator",
            "local_buffer", "global_buffer", "interconnect", "controller"} <= names


def test_schema_prints_json_schema(capsys):
    main(["schema", "arch"])
    schema = json.loads(capsys.readouterr().out)
    assert "crossbar" in schema["properties"]
    main(["schema", "workload"])
    assert "dropout" in json.loads(capsys.readouterr().out)["properties"]


def test_run_json_has_the_documented_keys(tmp_path):
    proc = run_cli("run", "--limit", "40", "--passes", "4", "--no-corruptions", "--format", "json",
                   "--out", str(tmp_path / "out"), "--trace", str(tmp_path / "t.json"))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    for key in ("latency_s", "latency_cycles", "throughput_inferences_per_s", "energy_per_inference_j",
                "energy_per_pass_j", "energy_breakdown_j", "energy_by_layer_j", "area_m2", "area_breakdown_m2",
                "accuracy", "accuracy_deterministic", "nll", "ece", "ood", "corrupted", "passes", "seed", "config"):
        assert key in doc
    assert doc["passes"] == 4 and doc["inputs"] == 40
    assert set(doc["ood"]["uniform_noise"]) >= {"auroc", "detection_rate"}
    for f in ("result.json", "layers.csv", "components.csv", "energy_ledger.csv", "per_sample.csv"):
        assert (tmp_path / "out" / f).stat().st_size > 0
    trace = json.loads((tmp_path / "t.json").read_text())
    assert trace["traceEvents"]


def test_run_workload_set_and_default_paths_from_other_cwd(tmp_path):
    proc = run_cli("run", str(ARCH), str(MLP), "--hardware-only", "--set", "mc_passes=3",
                   "--set", "controller.schedule=layer_pipelined", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["passes"] == 3 and doc["timing"]["schedule"] == "layer_pipelined" and doc["hardware_only"]


def test_bad_weights_and_data_are_one_line_exit_2(tmp_path):
    import shutil

    import numpy as np

    wl = tmp_path / "wl.yaml"
    shutil.copy(MLP, wl)
    arrays = dict(np.load(MLP.parent / "digits_mlp.npz", allow_pickle=False))
    arrays["fc2.weight"] = arrays["fc2.weight"][:, :100]
    np.savez(tmp_path / "digits_mlp.npz", **arrays)
    _assert_one_line_error(run_cli("run", str(ARCH), str(wl), "--limit", "5"), "digits_mlp.npz", "fc2.weight",
                           "shape")
    (tmp_path / "digits_mlp.npz").unlink()
    _assert_one_line_error(run_cli("run", str(ARCH), str(wl), "--limit", "5"), "digits_mlp.npz")
    shutil.copy(MLP.parent / "digits_mlp.npz", tmp_path / "digits_mlp.npz")
    proc = run_cli("run", str(ARCH), str(wl), "--set", "dataset.name=mnist", "--set", "dataset.path=nowhere")
    _assert_one_line_error(proc, "nowhere")


# --------------------------------------------------------------------------- issue 7 item 8, issue 10 (real process)
def test_swapped_arguments_are_recognised():
    _assert_one_line_error(run_cli("run", str(MLP), str(ARCH), "--hardware-only"), "digits_mlp.yaml",
                           "looks like a workload file", "second argument")


def _in_process(capsys, *args: str) -> subprocess.CompletedProcess:
    """``main(args)`` in this process, shaped like a finished subprocess (faster than spawning one)."""
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out.out, out.err)


def test_set_typo_suggests_and_names_the_override(capsys):
    _assert_one_line_error(_in_process(capsys, "run", "--hardware-only", "--set", "controller.schedul=replicated"),
                           "--set controller.schedul=replicated", "did you mean 'schedule'")
    _assert_one_line_error(_in_process(capsys, "describe", "--set", "crossbar.rows=3"), "--set crossbar.rows=3",
                           "crossbar.rows", "greater than or equal to 8")


def test_bad_bytes_duplicate_keys_and_empty_files(tmp_path, capsys):
    (tmp_path / "bin.yaml").write_bytes(b"crossbar: \xff\n")
    _assert_one_line_error(_in_process(capsys, "describe", str(tmp_path / "bin.yaml")), "bin.yaml", "not UTF-8")
    (tmp_path / "dup.yaml").write_text("chip: {tiles: 2}\nchip: {tiles: 4}\n")
    _assert_one_line_error(_in_process(capsys, "describe", str(tmp_path / "dup.yaml")), "dup.yaml",
                           "duplicate key 'chip'")
    (tmp_path / "empty.yaml").write_text("")
    _assert_one_line_error(_in_process(capsys, "describe", str(tmp_path / "empty.yaml")), "empty.yaml", "empty")


def test_empty_out_and_trace_flags_exit_2(capsys):
    _assert_one_line_error(_in_process(capsys, "run", "--hardware-only", "--out", ""), "--out", "empty path")
    _assert_one_line_error(_in_process(capsys, "run", "--hardware-only", "--trace", ""), "--trace", "empty path")


def test_version_works_from_a_checkout():
    proc = run_cli("--version")
    assert proc.returncode == 0 and "cimsim" in proc.stdout


def test_internal_errors_are_one_line_with_their_own_status(capsys, monkeypatch):
    import cimsim.hardware

    def bug(*a, **k):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(cimsim.hardware, "build_hardware", bug)
    with pytest.raises(SystemExit) as info:
        main(["describe"])
    err = capsys.readouterr().err
    assert info.value.code == 70 and len(err.strip().splitlines()) == 1
    assert "internal error ZeroDivisionError" in err and "CIMSIM_DEBUG" in err
    monkeypatch.setenv("CIMSIM_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        main(["describe"])



def _readme_api_numbers() -> tuple[str, str, str]:
    import re

    line = next(ln for ln in (ROOT / "README.md").read_text().splitlines() if "# <Result spindrop × digits_mlp" in ln)
    m = re.search(r"T=(\d+), accuracy ([0-9.]+), ([0-9.e+-]+) J/inference", line)
    assert m, line
    return m.group(1), m.group(2), m.group(3)


def test_readme_api_example_numbers_are_the_shipped_run():
    """README's `simulate(...)` example (T = 20, seed 0, the default MLP on the SpinDrop chip) is the run of
    reports/spindrop_digits_mlp (`cimsim run --out`, same options): its repr must show that run's numbers.
    After `bash reports/regenerate.sh`, update the README line if this fails."""
    doc = json.loads((ROOT / "reports" / "spindrop_digits_mlp" / "result.json").read_text())
    assert (doc["passes"], doc["seed"]) == (20, 0)
    assert _readme_api_numbers() == ("20", f"{doc['accuracy']:.4f}", f"{doc['energy_per_inference_j']:.4g}")


@pytest.mark.slow
def test_readme_api_example_matches_a_fresh_run():
    """The README example itself, run through the API (about 10 s)."""
    from cimsim.simulate import Options, simulate

    r = simulate(str(ARCH), str(MLP), Options(passes=20, seed=0))
    t, acc, e = _readme_api_numbers()
    assert f"T={t}, accuracy {acc}, {e} J/inference" in repr(r)
