"""Graph networks (issue 12): validation, residual blocks and pools through the hardware vs numpy, bit-sliced
multi-bit layers vs integer matmul, their costs, shape-only hardware runs and chip.tiles: auto."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from cimsim.activity import expected_counts
from cimsim.errors import ConfigError, MappingError, WeightsError
from cimsim.functional.executor import Executor
from cimsim.hardware import build_hardware
from cimsim.mapping import map_network
from cimsim.network.layers import (
    Add,
    AvgPool,
    BinaryConv2d,
    BinaryLinear,
    Flatten,
    GlobalAvgPool,
    Network,
    bit_slices,
)
from cimsim.network.reference import reference_forward
from cimsim.network.weights import load_network, network_spec_dict, save_network
from cimsim.resolve import resolve
from cimsim.simulate import Options, simulate
from cimsim.spec.arch import ArchSpec
from cimsim.spec.loader import load_workload
from cimsim.spec.workload import WorkloadSpec

P = 0.2


def _odd(rng, shape, bits):
    """Random odd integers in [-(2^bits - 1), 2^bits - 1] (±1 for bits = 1)."""
    return (2 * rng.integers(0, 2 ** bits, size=shape) - (2 ** bits - 1)).astype(np.int16 if bits > 1 else np.int8)


def _conv(rng, name, cin, cout, k, *, stride=1, padding=0, inputs=None, bits=1, real=True, pool=1):
    w = _odd(rng, (cout, cin, k, k), bits)
    if real:
        return BinaryConv2d(name, w, stride=stride, padding=padding, pool=pool, inputs=inputs, weight_bits=bits,
                            scale=rng.uniform(0.05, 0.3, cout), bias=rng.normal(0, 0.5, cout))
    return BinaryConv2d(name, w, stride=stride, padding=padding, pool=pool, inputs=inputs, weight_bits=bits,
                        threshold=rng.normal(0, 2, cout).round())


def residual_net(rng) -> Network:
    """Bi-Real-style: multi-bit first conv, a residual block, a downsampling block with a 1×1 stride-2 shortcut,
    pools and a multi-bit classifier."""
    nodes = (
        _conv(rng, "c1", 2, 4, 3, padding=1, bits=3, inputs=("input",)),
        _conv(rng, "c2", 4, 4, 3, padding=1),
        Add("add1", ("c1", "c2")),
        _conv(rng, "c3", 4, 8, 3, stride=2, padding=1, inputs=("add1",)),
        _conv(rng, "ds", 4, 8, 1, stride=2, inputs=("add1",)),
        Add("add2", ("c3", "ds")),
        _conv(rng, "c4", 8, 8, 3, padding=1, real=False, inputs=("add2",)),
        AvgPool("ap", 2, 1),
        GlobalAvgPool("gap"),
        BinaryLinear("fc", _odd(rng, (5, 8), 4), weight_bits=4, scale=rng.uniform(0.5, 1.5, 5),
                     bias=rng.normal(0, 1, 5)),
    )
    return Network(tuple(n for n in nodes if isinstance(n, BinaryLinear | BinaryConv2d)), (2, 6, 6), 3, nodes=nodes)


def _workload(tmp_path, net, *, dropout=("c2", "c4", "fc"), regenerate="per_input", weights=True, **extra):
    save_network(net, tmp_path / "w.npz")
    doc = {"name": "graph", "network": network_spec_dict(net, "w.npz" if weights else None),
           "dropout": {"layers": list(dropout), "p": P, "regenerate": regenerate}, **extra}
    path = tmp_path / "wl.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _reference_with(net, x, masks, t, p):
    n = x.shape[0]
    xs = np.broadcast_to(x[None], (t, *x.shape)).reshape(t * n, *x.shape[1:])
    ref = {}
    for name, m in masks.items():
        m = np.asarray(m)
        ref[name] = m[:, :, 0, :].reshape(t * n, -1) if m.shape[2] == 1 else m.reshape(t * n, m.shape[2], m.shape[3])
    return reference_forward(net, xs, ref, p).reshape(t, n, -1)


# ------------------------------------------------------------------------------------------------ validation
def _spec(layers, **net):
    return WorkloadSpec.model_validate({"network": {"input_shape": [1, 4, 4], "layers": layers, **net}})


BASE = [{"type": "conv2d", "name": "a", "in_channels": 1, "out_channels": 2, "kernel_size": 3, "padding": 1,
         "output": "real"},
        {"type": "conv2d", "name": "b", "in_channels": 2, "out_channels": 2, "kernel_size": 3, "padding": 1,
         "output": "real"}]
HEAD = [{"type": "global_avgpool", "name": "g"}, {"type": "linear", "name": "fc", "in_features": 2, "out_features": 3}]


@pytest.mark.parametrize(("layers", "node", "what"), [
    (BASE + [{"type": "add", "name": "s", "inputs": ["a", "nope"]}] + HEAD, "s", "'nope', which is not a node"),
    ([{**BASE[0], "inputs": ["b"]}, {**BASE[1], "inputs": ["a"]}, {"type": "add", "name": "s", "inputs": ["a", "b"]}]
     + HEAD, "a", "cycle"),
    (BASE[:1] + [{**BASE[1], "stride": 2}, {"type": "add", "name": "s", "inputs": ["a", "b"]}] + HEAD, "s",
     "differ in shape"),
    (BASE + [{"type": "add", "name": "s", "inputs": ["b", "b"]}, {"type": "flatten", "name": "f", "inputs": ["a"]},
             *HEAD], "s", "never used"),
    (BASE + HEAD[:1] + [{**HEAD[1], "in_features": 3}], "fc", "in_features"),
    ([{"type": "avgpool", "name": "p", "kernel_size": 2}] + BASE[1:] + HEAD, "p", "network input"),
])
def test_graph_errors_name_the_node(layers, node, what):
    with pytest.raises(ConfigError) as ei:
        resolve(ArchSpec(), _spec(layers))
    msg = str(ei.value)
    assert f"'{node}'" in msg and what in msg and ei.value.field.startswith("network.layers[")


def test_graph_order_is_topological_whatever_the_listing():
    layers = [{**BASE[1], "inputs": ["a"]}, {**BASE[0], "inputs": ["input"]},
              {"type": "add", "name": "s", "inputs": ["a", "b"]}, *HEAD]
    d = resolve(ArchSpec(), _spec(layers))
    assert [nd.name for nd in d.nodes] == ["a", "b", "s", "g", "fc"]
    assert [ls.name for ls in d.layers] == ["a", "b", "fc"] and d.layer("a").first and d.layer("b").in_real
    assert d.node("s").real and d.layer("fc").in_real  # fc reads the pooled (real) sum and binarizes it


# ------------------------------------------------------------------------------------------- functional
@pytest.mark.parametrize("regenerate", ["per_input", "per_window"])
def test_residual_graph_on_ideal_hardware_equals_numpy(tmp_path, regenerate):
    rng = np.random.default_rng(3)
    net = residual_net(rng)
    net.validate()
    wl_path = _workload(tmp_path, net, regenerate=regenerate)
    wl = load_workload(wl_path)
    loaded = load_network(wl.network, tmp_path)
    assert [n.name for n in loaded.nodes] == [n.name for n in net.nodes]
    design = resolve(ArchSpec(), wl)
    mp = map_network(design)
    ex = Executor(build_hardware(design, mp), mp, loaded, seed=1, passes=3)
    assert ex.exact
    x = rng.integers(0, 8, size=(6, 2, 6, 6))
    rec: dict = {}
    got = ex.forward(x, mc=True, stream=0, input_ids=np.arange(6), record=rec)
    assert set(rec) == {"c2", "c4", "fc"}
    want = _reference_with(net, x, rec, 3, P)
    # float64 sums of real branches: equal up to rounding of 1/(1-p) (multiply vs divide)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    det = ex.forward(x, mc=False, stream=1, input_ids=np.arange(6))
    np.testing.assert_allclose(det[0], reference_forward(net, x), rtol=1e-12, atol=1e-12)
    # the residual path matters: dropping the shortcut changes the output
    no_short = Network(net.layers, net.input_shape, 3, nodes=tuple(
        Add("add1", ("c2", "c2")) if n.name == "add1" else n for n in net.nodes))
    assert not np.allclose(reference_forward(no_short, x), reference_forward(net, x))


def test_avgpool_flatten_and_real_input_binarization_by_hand():
    """A tiny graph evaluated by hand: sign of an averaged real tensor drives the next layer."""
    c = BinaryConv2d("c", np.ones((1, 1, 1, 1), np.int8), scale=np.array([1.0]), bias=np.array([-2.5]))
    nodes = (c, AvgPool("p", 2), Flatten("f"),
             BinaryLinear("fc", np.array([[1, -1, 1, -1]], np.int8), scale=np.array([1.0]), bias=np.array([0.0])))
    net = Network((c, nodes[-1]), (1, 4, 4), 3, nodes=nodes)
    x = np.array([[0, 0, 7, 7], [0, 0, 7, 7], [1, 5, 3, 3], [5, 1, 2, 2]])[None, None]
    # c: x - 2.5; 2×2 means (C, H, W order): [-2.5, 4.5, 0.5, 0.0] → signs (0 → +1) [-1, +1, +1, +1]
    # · [1, -1, 1, -1] = -1 - 1 + 1 - 1 = -2
    assert reference_forward(net, x)[0, 0] == -2.0
    x2 = x.copy()
    x2[0, 0, 2:, :2] = 0  # bottom-left mean -2.5 → sign -1 → -1 - 1 - 1 - 1
    assert reference_forward(net, x2)[0, 0] == -4.0


@pytest.mark.parametrize("bits", [1, 2, 5, 8])
def test_bit_slices_recompose_every_odd_level(bits):
    top = 2 ** bits - 1
    w = np.arange(-top, top + 1, 2)
    sl = bit_slices(w, bits)
    assert set(np.unique(sl)) <= {-1, 1}
    np.testing.assert_array_equal(2 ** np.arange(bits) @ sl.astype(np.int64), w)


@pytest.mark.parametrize("bits", [2, 8])
def test_bit_sliced_layers_are_exact_against_integer_matmul(tmp_path, bits):
    """A multi-bit first layer (bit-serial inputs) and a multi-bit classifier through the arrays = int64 matmul."""
    rng = np.random.default_rng(bits)
    w1, w2 = _odd(rng, (40, 64), bits), _odd(rng, (7, 40), bits)
    l1 = BinaryLinear("l1", w1, weight_bits=bits, scale=np.ones(40), bias=np.zeros(40))
    l2 = BinaryLinear("l2", w2, weight_bits=bits, scale=np.ones(7), bias=np.zeros(7))
    net = Network((l1, l2), (1, 8, 8), 4)
    wl = load_workload(_workload(tmp_path, net, dropout=()))
    design = resolve(ArchSpec(), wl)
    mp = map_network(design)
    assert mp.layer("l1").columns == 40 * bits and mp.layer("l1").outputs == 40
    ex = Executor(build_hardware(design, mp), mp, load_network(wl.network, tmp_path), seed=0, passes=1)
    x = rng.integers(0, 16, size=(9, 1, 8, 8))
    h = x.reshape(9, -1).astype(np.int64) @ w1.astype(np.int64).T
    want = np.where(h >= 0, 1, -1) @ w2.astype(np.int64).T
    got = ex.forward(x, mc=False, stream=0, input_ids=np.arange(9))[0]
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(reference_forward(net, x), want)


def test_multi_bit_and_graph_costs(tmp_path):
    """weight_bits b multiplies a layer's columns, arrays and conversions by b; an add costs one accumulate per
    element and buffers its branches (accumulator-wide), in the functional count and the expected one alike."""
    net = residual_net(np.random.default_rng(0))
    wl = load_workload(_workload(tmp_path, net, dropout=()))
    arch = ArchSpec.model_validate({"crossbar": {"rows": 64, "cols": 16}, "chip": {"tiles": 8}})
    design = resolve(arch, wl)
    mp = map_network(design)
    hw = build_hardware(design, mp)
    fc, c1 = mp.layer("fc"), mp.layer("c1")
    assert (fc.columns, fc.col_blocks) == (20, 2) and (c1.columns, c1.col_blocks) == (12, 1)
    exp = expected_counts(hw, mp, inputs=2, passes=3)
    assert exp["fc"]["column_periphery.convert"] == 6 * fc.planes * fc.total_row_groups * 20
    acc_bits = arch.accumulator.bits
    port = hw.component("local_buffer").port_width_bits
    assert exp["add1"]["accumulator.accumulate"] == 6 * 4 * 6 * 6
    assert exp["add1"]["local_buffer.read"] == 6 * math.ceil(2 * 4 * 36 * acc_bits / port)
    assert exp["gap"]["accumulator.accumulate"] == 6 * 8 * 2 * 2
    assert "c4" in exp and "comparator.compare" in exp["c4"]
    # the functional run counts the same structural and digital actions
    ex = Executor(hw, mp, load_network(wl.network, tmp_path), seed=0, passes=3)
    tallies = ex.new_tallies()
    ex.run(np.random.default_rng(1).integers(0, 8, size=(2, 2, 6, 6)), mc=True, tallies=tallies)
    cnt = ex.counts(tallies)
    for node in ("add1", "add2", "ap", "gap"):
        assert dict(cnt[node]) == pytest.approx(exp[node])
    assert cnt["fc"]["accumulator.accumulate"] == exp["fc"]["accumulator.accumulate"]


# ----------------------------------------------------------------------------- shape-only runs, tiles: auto
def test_hardware_only_run_needs_no_weights_and_no_data(tmp_path):
    net = residual_net(np.random.default_rng(0))
    path = _workload(tmp_path, net, weights=False, dataset={"name": "cifar10", "path": "missing_folder"})
    (tmp_path / "w.npz").unlink()
    r = simulate(ArchSpec(), path, Options(hardware_only=True, passes=4, inputs=3))
    assert r.hardware_only and r.ledger.per_inference_j > 0 and r.inputs == 3
    assert {"add1", "add2", "gap"} <= set(r.ledger.by_layer_j())
    path = _workload(tmp_path, net, weights=False)  # a data set that exists: the missing weights are the error
    with pytest.raises(WeightsError, match="network.weights"):
        simulate(ArchSpec(), path, Options(passes=2, limit=2, ood=False, corruptions=False))


@pytest.mark.parametrize(("rows", "replicas"), [(64, 1), (32, 2), (128, 3)])
def test_tiles_auto_is_the_minimal_chip_that_maps(tmp_path, rows, replicas):
    net = residual_net(np.random.default_rng(0))
    wl = load_workload(_workload(tmp_path, net))
    ctrl = {"schedule": "replicated", "replicas": replicas} if replicas > 1 else {}
    doc = {"crossbar": {"rows": rows, "cols": 8, "rows_active": 8}, "chip": {"tiles": "auto", "arrays_per_tile": 2},
           "controller": ctrl}
    design = resolve(ArchSpec.model_validate(doc), wl)
    tiles = design.arch.chip.tiles
    assert design.tiles_auto and isinstance(tiles, int)
    mp = map_network(design)
    assert mp.tiles_per_replica * replicas == tiles
    smaller = ArchSpec.model_validate({**doc, "chip": {"tiles": tiles - 1, "arrays_per_tile": 2}})
    with pytest.raises(MappingError):
        map_network(resolve(smaller, wl))
    r = simulate(ArchSpec.model_validate(doc), wl, Options(hardware_only=True, passes=2), base_dir=tmp_path)
    assert r.to_json()["chip_tiles"] == {"tiles": tiles, "auto": True}


def test_tiles_auto_without_a_workload_is_a_config_error():
    with pytest.raises(ConfigError, match="chip.tiles"):
        resolve(ArchSpec.model_validate({"chip": {"tiles": "auto"}}))


@pytest.mark.parametrize("schedule", ["sequential", "layer_pipelined"])
def test_shipped_resnet18_shapes_engine_executes_the_priced_counts(schedule):
    """The shipped Bi-Real ResNet-18 (graph, multi-bit edges, tiles: auto): the event engine equals the closed form
    and executes exactly the priced crossbar-layer actions."""
    from cimsim.activity import TIMED_ACTIONS
    from cimsim.engine.closed_form import closed_form
    from cimsim.engine.plan import build_plan
    from cimsim.engine.simulator import run_engine
    from cimsim.spec.loader import load_arch

    from .conftest import ARCH, ROOT
    arch = load_arch(ARCH, [("chip.tiles", "auto"), ("crossbar.rows", 256), ("crossbar.cols", 256),
                            ("controller.schedule", schedule)])
    d = resolve(arch, load_workload(ROOT / "workloads" / "cifar10_resnet18_shapes.yaml"))
    m = map_network(d)
    hw = build_hardware(d, m)
    assert len(m.layers) == 21 and len(d.nodes) == 21 + 17 and m.layer("fc").columns == 80
    plan = build_plan(hw, m, inputs=2, passes=2)
    eng = run_engine(plan)
    # concurrent branches may contend for the bus (tests/test_branches.py): the closed form is exact when
    # contention_free proves it, a lower bound otherwise
    from cimsim.engine.timing import contention_free
    cf = closed_form(plan).total_cycles
    assert eng.total_cycles == cf if contention_free(plan)[0] else eng.total_cycles >= cf
    priced = expected_counts(hw, m, inputs=2, passes=2)
    for lm in m.layers:
        for key in TIMED_ACTIONS:
            assert eng.action_counts.get((lm.name, key), 0) == pytest.approx(priced[lm.name].get(key, 0), rel=1e-12)
