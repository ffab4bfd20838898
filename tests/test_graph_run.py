"""Graph networks (adds, pools, flatten, global average pool) run functionally through `cimsim run` on the ideal
chip and agree with the reference forward on every input (issue 18): the issue's minimal conv + flatten + linear
case, a residual network, and the shipped Bi-Real ResNet-18 with synthetic weights."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from cimsim.simulate import Options, simulate

from .graph_helpers import ARCH, ROOT, assert_run_agrees, cli, synthetic_weights, write_images, write_workload

MINIMAL = {"name": "g", "network": {"input_shape": [1, 8, 8], "input_bits": 4, "layers": [
    {"type": "conv2d", "name": "c1", "in_channels": 1, "out_channels": 2, "kernel_size": 3, "padding": 1, "pool": 2},
    {"type": "flatten", "name": "f"},
    {"type": "linear", "name": "fc", "in_features": 32, "out_features": 10}]}}

RESIDUAL = {"name": "res", "network": {"input_shape": [3, 8, 8], "input_bits": 3, "layers": [
    {"type": "conv2d", "name": "c1", "in_channels": 3, "out_channels": 4, "kernel_size": 3, "padding": 1,
     "weight_bits": 3, "output": "real"},
    {"type": "conv2d", "name": "c2", "in_channels": 4, "out_channels": 4, "kernel_size": 3, "padding": 1,
     "output": "real"},
    {"type": "add", "name": "add1", "inputs": ["c2", "c1"]},
    {"type": "conv2d", "name": "c3", "in_channels": 4, "out_channels": 8, "kernel_size": 3, "padding": 1,
     "pool": 2, "inputs": ["add1"]},
    {"type": "avgpool", "name": "ap", "kernel_size": 2, "stride": 1},
    {"type": "conv2d", "name": "c4", "in_channels": 8, "out_channels": 8, "kernel_size": 1, "output": "real"},
    {"type": "global_avgpool", "name": "gap", "inputs": ["c4"]},
    {"type": "linear", "name": "fc1_r", "in_features": 8, "out_features": 12, "output": "real"},
    {"type": "flatten", "name": "fl", "inputs": ["c3"]},
    {"type": "linear", "name": "fcb", "in_features": 128, "out_features": 12, "output": "real"},
    {"type": "add", "name": "add2", "inputs": ["fc1_r", "fcb"]},
    {"type": "linear", "name": "fc", "in_features": 12, "out_features": 5, "weight_bits": 4}]}}


def _setup(tmp_path, doc, seed, classes, n=12):
    rng = np.random.default_rng(seed)
    shape = tuple(doc["network"]["input_shape"])
    write_images(tmp_path / "data.npz", shape, classes, n, rng)
    doc = {**doc, "dataset": {"name": "mnist" if shape[0] == 1 else "cifar10", "path": "data.npz"}}
    return write_workload(tmp_path, doc, synthetic_weights(doc, rng))


def test_issue_minimal_conv_flatten_linear_runs_and_agrees(tmp_path):
    wl = _setup(tmp_path, MINIMAL, 0, 10)
    assert assert_run_agrees(wl, tmp_path / "out") == 0.0   # every input checked (12 of them)


@pytest.mark.parametrize("dropout", [False, True])
def test_residual_graph_with_pools_flatten_runs_and_agrees(tmp_path, dropout):
    doc = RESIDUAL
    if dropout:
        doc = {**doc, "dropout": {"layers": ["c3", "fc"], "p": 0.2}}
    wl = _setup(tmp_path, doc, 1, 5)
    assert_run_agrees(wl, tmp_path / "out", ("--passes", "3"))
    report = (tmp_path / "out" / "report.txt").read_text()
    # issue 18: a workload without dropout must not report a trained/hardware p it does not use
    assert ("dropout p: trained 0.2" in report) is dropout
    assert ("dropout: none" in report) is not dropout


def test_simulate_api_runs_a_graph_network(tmp_path):
    wl = _setup(tmp_path, RESIDUAL, 2, 5)
    r = simulate(str(ARCH), wl, Options(passes=2, ood=False, corruptions=False))
    assert len(r.per_sample_df()) == 12 and r.to_json()["energy_per_inference_j"] > 0


def test_shipped_resnet18_with_synthetic_weights_runs_and_agrees(tmp_path):
    """workloads/cifar10_resnet18.yaml as shipped (its layer list and dropout), with synthetic weights and images."""
    doc = yaml.safe_load((ROOT / "workloads" / "cifar10_resnet18.yaml").read_text())
    doc["limit"] = 2
    wl = _setup(tmp_path, doc, 3, 10, n=2)
    assert_run_agrees(wl, tmp_path / "out", ("--passes", "2", "--timing-inputs", "1", "--set", "chip.tiles=auto",
                                           "--set", "crossbar.rows=256", "--set", "crossbar.cols=256"))


def test_layers_quantizing_real_inputs_run_bit_serially_and_agree(tmp_path):
    """A layer reading a real tensor with input_bits/input_step (a Bi-Real downsample's real 1×1 conv, a real
    classifier input): signed two's-complement bit planes on the ideal chip equal the reference's integers, and
    each costs input_bits row-group reads per MVM (priced and timed)."""
    import copy

    doc = copy.deepcopy(RESIDUAL)
    layers = doc["network"]["layers"]
    layers[5].update(input_bits=4, input_step=0.05)   # c4 reads the avgpool
    layers[-1].update(input_bits=6, input_step=0.02)  # fc reads the add
    wl = _setup(tmp_path, doc, 4, 5)
    assert_run_agrees(wl, tmp_path / "out", ("--passes", "2"))
    r = simulate(str(ARCH), wl, Options(passes=2, ood=False, corruptions=False, limit=3))
    m = r.mapping
    assert m.layer("c4").planes == 4 and m.layer("fc").planes == 6 and m.layer("c3").planes == 1
    table = r.ledger.table
    for name in ("c4", "fc"):   # one decode per row-group read, per inference (all T passes), priced
        lm = m.layer(name)
        reads = table[(table.layer == name) & (table.component == "row_decoder")]
        assert float(reads.actions.sum()) == pytest.approx(lm.planes * lm.col_blocks * lm.total_row_groups
                                                           * lm.mvms * 2)
    # and timed: the engine's read events include the planes
    eng = r.engine.action_counts
    assert sum(v for (layer, key), v in eng.items() if layer == "c4" and key == "crossbar.read_row_group") > 0
    # a hardware-only run prices the same reads (expected counts), its drive density that of bit planes
    hw_only = simulate(str(ARCH), wl, Options(passes=2, hardware_only=True)).ledger.table
    for name in ("c4", "fc"):
        got = hw_only[(hw_only.layer == name) & (hw_only.component == "row_decoder")].actions.sum()
        want = table[(table.layer == name) & (table.component == "row_decoder")].actions.sum()
        assert float(got) == pytest.approx(float(want))


def _edited(tmp_path, seed, edit):
    """A valid residual workload with weights, whose YAML ``edit(layers)`` then changes."""
    wl = _setup(tmp_path, RESIDUAL, seed, 5)
    doc = yaml.safe_load(wl.read_text())
    edit(doc["network"]["layers"])
    wl.write_text(yaml.safe_dump(doc, sort_keys=False))
    return wl


@pytest.mark.parametrize(("change", "message"), [
    ({"input_bits": 4}, "input_bits and input_step go together"),
    ({"input_bits": 4, "input_step": 0.0}, "input_step"),
    ({"input_bits": 17, "input_step": 0.1}, "input_bits"),
])
def test_input_bits_field_is_validated(tmp_path, change, message):
    wl = _edited(tmp_path, 5, lambda layers: layers[5].update(change))
    code, _, err = cli(["run", str(ARCH), str(wl), "--hardware-only"])
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_input_bits_on_a_layer_reading_pm1_values_is_refused(tmp_path):
    # fcb reads the flattened ±1 output of c3: nothing real to quantize
    wl = _edited(tmp_path, 6, lambda layers: layers[9].update(input_bits=4, input_step=0.1))
    code, _, err = cli(["run", str(ARCH), str(wl), "--hardware-only"])
    assert code == 2 and "fcb" in err and "input_bits" in err and "not real-valued" in err, err
