"""Report figures: ops, TOPS/W, J/MAC, TOPS/mm² by hand; per-inference energy ledger; per-layer latency against
the engine; config hash; Result tables and repr; the text report shows them."""

from __future__ import annotations

import hashlib
import io
import json

import pandas as pd
import pytest

from cimsim.ledger import COLUMNS, LEAKAGE_ROW, OPS_PER_MAC, efficiency
from cimsim.report.text import run_text
from cimsim.simulate import Options, simulate
from cimsim.spec.loader import load_arch, load_workload

from .conftest import ARCH, MLP

# A tiny hand-made network on the 8x8 digits: conv 1->4 (3x3, padding 1, 2x2 pool: 4x4x4 out), then 64 -> 10.
# Hardware-only runs never read the weights file.
TINY = """\
name: tiny
network:
  weights: unused.npz
  input_shape: [1, 8, 8]
  input_bits: 4
  layers:
    - {type: conv2d, name: c1, in_channels: 1, out_channels: 4, kernel_size: 3, stride: 1, padding: 1, pool: 2}
    - {type: linear, name: f1, in_features: 64, out_features: 10}
dataset: {name: digits}
dropout: {layers: [f1], p: 0.2, regenerate: per_input}
mc_passes: 3
ood: []
corruptions: {}
"""
# Binary MACs per pass by hand: c1 has 9 rows x 4 columns per MVM, 8x8 = 64 MVMs, 4 input bit planes;
# f1 has 64 x 10 and one MVM.
TINY_MACS_PER_PASS = 9 * 4 * 64 * 4 + 64 * 10      # 9216 + 640 = 9856
TINY_OPS = 2 * 3 * TINY_MACS_PER_PASS               # 2 ops per MAC, T = 3 passes: 59136


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny") / "tiny.yaml"
    path.write_text(TINY)
    return simulate(load_arch(ARCH), load_workload(path),
                    Options(hardware_only=True, limit=10, timing_inputs=4), base_dir=path.parent)


@pytest.fixture(scope="module")
def mlp():
    wl = load_workload(MLP, [("ood_samples", 40), ("ood", ["uniform_noise", "permuted"]),
                             ("corruptions", {"gaussian_noise": [1, 5]})])
    return simulate(load_arch(ARCH), wl, Options(passes=4, limit=30, timing_inputs=3), base_dir=MLP.parent)


def test_efficiency_closed_form():
    e = efficiency(2e6, 1e-6, 1e5, 1e-6)   # 2e6 ops in 1 µJ; 1e5 inferences/s on 1 mm²
    assert e.tops_per_w == pytest.approx(2.0, rel=1e-12)             # 2e12 ops per J
    assert e.energy_per_mac_j == pytest.approx(1e-12, rel=1e-12)     # 1 µJ / 1e6 MACs
    assert e.tops_per_mm2 == pytest.approx(0.2, rel=1e-12)           # 2e11 ops/s on 1 mm²


def test_tiny_case_ops_and_derived_metrics_by_hand(tiny):
    assert OPS_PER_MAC == 2
    j = tiny.to_json()
    assert j["ops_per_inference"] == TINY_OPS == 59136
    assert tiny.layers_df()["binary_macs_per_pass"].tolist() == [9216, 640]
    energy, thr, area_mm2 = j["energy_per_inference_j"], j["throughput_inferences_per_s"], j["area_m2"] * 1e6
    assert j["tops_per_w"] == pytest.approx(59136 / energy / 1e12, rel=1e-12)
    assert j["energy_per_mac_j"] == pytest.approx(energy / 29568, rel=1e-12)
    assert j["tops_per_mm2"] == pytest.approx(59136 * thr / 1e12 / area_mm2, rel=1e-12)
    # the same figures in the text report
    text = run_text(tiny)
    assert f"{j['tops_per_w']:.4g} TOPS/W" in text and "59136" in text


def test_ledger_csv_is_per_inference_and_sums_to_the_total(tiny, mlp):
    for r in (tiny, mlp):
        j = r.to_json()
        csv = pd.read_csv(io.StringIO(r.ledger.table.to_csv(index=False)))
        assert tuple(csv.columns) == COLUMNS
        assert csv["energy_j"].sum() == pytest.approx(j["energy_per_inference_j"], rel=1e-12)
        dyn, leak = csv[csv.action != "leakage"], csv[csv.action == "leakage"]
        assert (leak.layer == LEAKAGE_ROW).all() and len(leak) > 0
        # units are consistent row by row; leakage rows carry power and time, not actions
        assert (dyn.actions * dyn.energy_per_action_j).to_numpy() == pytest.approx(dyn.energy_j.to_numpy(), rel=1e-12)
        assert (leak.power_w * leak.time_s).to_numpy() == pytest.approx(leak.energy_j.to_numpy(), rel=1e-12)
        assert leak.actions.isna().all() and dyn.power_w.isna().all() and dyn.time_s.isna().all()
        assert leak.time_s.to_numpy() == pytest.approx(r.runtime_s / r.inputs, rel=1e-12)
        # per inference: the controller issues one job per layer per pass
        issue = csv[(csv.component == "controller") & (csv.action == "issue")]
        assert issue.actions.tolist() == [r.passes] * len(r.mapping.layers)
        # `count` is gone from every table (it clashes with DataFrame.count)
        for df in (csv, r.components_df(), r.layers_df()):
            assert "count" not in df.columns


@pytest.mark.parametrize("regenerate", ["per_input", "per_pass"])
def test_layer_latency_adds_up_to_the_sequential_engine(regenerate):
    wl = load_workload(MLP, [("dropout.regenerate", regenerate)])
    r = simulate(load_arch(ARCH), wl, Options(passes=5, hardware_only=True, limit=3, timing_inputs=3),
                 base_dir=MLP.parent)
    lat = r.to_json()["layer_latency_per_pass"]
    steady = sum(v["cycles"] for v in lat.values())
    masks = sum(v["mask_cycles"] for v in lat.values())
    assert masks > 0
    assert r.engine.latency_cycles[1] == r.passes * steady       # a later input: steady state
    first = steady if regenerate == "per_input" else steady + masks  # per_pass: the first input makes the masks
    assert r.engine.latency_cycles[0] == r.passes * first
    for v in lat.values():
        assert v["s"] == pytest.approx(v["cycles"] / r.clock_hz, rel=1e-12)


def test_config_hash_identifies_arch_workload_seed_and_passes(tiny, mlp):
    h = mlp.config_hash
    doc = {"arch": mlp.arch.model_dump(mode="json"), "workload": mlp.workload.model_dump(mode="json"),
           "seed": 0, "passes": 4}
    assert h == hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert mlp.to_json()["config_hash"] == h and h != tiny.config_hash
    arch = load_arch(ARCH)
    wl = load_workload(MLP)
    base = dict(hardware_only=True, limit=2, timing_inputs=1, passes=2)
    a = simulate(arch, wl, Options(**base), base_dir=MLP.parent).config_hash
    assert a == simulate(arch, wl, Options(**{**base, "limit": 3}), base_dir=MLP.parent).config_hash  # run option
    assert a != simulate(arch, wl, Options(**{**base, "seed": 1}), base_dir=MLP.parent).config_hash
    assert a != simulate(arch, wl, Options(**{**base, "passes": 3}), base_dir=MLP.parent).config_hash
    other = load_arch(ARCH, [("crossbar.rows_active", 8)])
    assert a != simulate(other, wl, Options(**base), base_dir=MLP.parent).config_hash


def test_result_tables_and_repr(tiny, mlp):
    assert list(mlp.ood_df()["ood_set"]) == ["uniform_noise", "permuted"]
    assert {"auroc", "detection_rate", "auroc_mutual_information"} <= set(mlp.ood_df().columns)
    c = mlp.corrupted_df()
    assert list(zip(c.corruption, c.severity, strict=True)) == [("gaussian_noise", 1), ("gaussian_noise", 5)]
    ps = mlp.per_sample_df()
    assert len(ps) == 30 and ps.index.name == "input" and {"label", "prediction", "entropy"} <= set(ps.columns)
    text = repr(mlp)
    assert "\n" not in text
    for needle in ("spindrop", "digits_mlp", "T=4", f"accuracy {mlp.metrics['accuracy']:.4f}", "J/inference",
                   "mm²"):
        assert needle in text
    assert "hardware-only" in repr(tiny)
    assert tiny.ood_df().empty and tiny.corrupted_df().empty and tiny.per_sample_df().empty
    j = mlp.to_json()
    assert j["cimsim_version"] and j["cimsim_version"] != "0+unknown"
