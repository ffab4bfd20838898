"""End-to-end: energy ledger, hardware-only vs functional activity, schedules, determinism, golden results."""

from __future__ import annotations

import math

import pytest

from cimsim.activity import TIMED_ACTIONS, expected_counts
from cimsim.simulate import Options, simulate
from cimsim.spec.loader import load_arch, load_workload

from .conftest import ARCH, CNN, MLP

FAST = Options(passes=8, limit=120, ood=False, corruptions=False)


def _run(arch_over=(), wl=MLP, **opt):
    arch = load_arch(ARCH, list(arch_over))
    base = {**FAST.__dict__, **opt}
    return simulate(arch, load_workload(wl), Options(**base), base_dir=wl.parent)


def test_energy_breakdowns_sum_to_total():
    r = _run()
    total = r.ledger.per_inference_j
    assert sum(r.ledger.by_component_j().values()) == pytest.approx(total, rel=1e-12)
    assert sum(r.ledger.by_layer_j().values()) == pytest.approx(total, rel=1e-12)
    assert r.ledger.per_pass_j * r.passes == pytest.approx(total, rel=1e-12)
    j = r.to_json()
    assert j["energy_per_inference_j"] == pytest.approx(sum(j["energy_breakdown_j"].values()), rel=1e-12)
    assert (r.ledger.table["energy_j"] >= 0).all()


def test_hardware_only_counts_agree_with_functional_in_expectation():
    """Structural counts are identical; dropout and driven-row counts agree within binomial tolerance."""
    r = _run(passes=10, limit=300)
    wl = r.workload
    from cimsim.functional.executor import Executor
    from cimsim.network.datasets import load_dataset, quantize_inputs
    from cimsim.network.weights import load_network

    net = load_network(wl.network, MLP.parent)
    x = quantize_inputs(load_dataset(wl.dataset, MLP.parent).x_test[:300], wl.network.input_bits)
    ex = Executor(r.hardware, r.mapping, net, seed=5, passes=10)
    tallies = ex.new_tallies()
    ex.shared_mask_tallies(tallies)
    ex.run(x, tallies=tallies)
    counts = ex.counts(tallies)
    exp = expected_counts(r.hardware, r.mapping, inputs=300, passes=10)
    p = r.hardware.component("dropout_source").p_nominal
    for lm in r.mapping.layers:
        got, want = counts[lm.name], exp[lm.name]
        for key in ("column_periphery.convert", "precharge.precharge", "row_decoder.decode", "accumulator.accumulate",
                    "comparator.compare", "adder_tree.add", "local_buffer.read", "interconnect.transfer",
                    "dropout_source.stochastic_write", "dropout_source.read", *TIMED_ACTIONS):
            assert got.get(key, 0) == pytest.approx(want.get(key, 0), rel=1e-12), (lm.name, key)
        if lm.dropout:
            n = want["dropout_source.stochastic_write"]
            tol = 4 * math.sqrt(n * p * (1 - p))
            assert abs(got["dropout_source.reset"] - want["dropout_source.reset"]) < tol
            # each dropped bit removes a driven row in each of the layer's column blocks
            rows_tol = tol * lm.col_blocks
            assert abs(got["wordline_driver.drive_row"] - want["wordline_driver.drive_row"]) < rows_tol


def test_same_seed_identical_results_other_seed_differs():
    a, b, c = _run(seed=11).to_json(), _run(seed=11).to_json(), _run(seed=12).to_json()
    for d in (a, b, c):
        d.pop("wall_time_s")
    assert a == b
    assert a["energy_per_inference_j"] != c["energy_per_inference_j"]


def test_engine_equals_closed_form_on_shipped_configs():
    """The event engine, run on the plan of a shipped run, takes exactly the closed form's cycles (computed
    separately here: in ``auto`` timing a run may report the closed form for both)."""
    from cimsim.engine.closed_form import closed_form
    from cimsim.engine.plan import build_plan
    from cimsim.engine.simulator import run_engine

    for wl in (MLP, CNN):
        r = _run(wl=wl, hardware_only=True)
        plan = build_plan(r.hardware, r.mapping, inputs=r.timed_inputs, passes=r.passes)
        cycles = run_engine(plan).total_cycles
        assert cycles == closed_form(plan).total_cycles == r.engine.total_cycles
        assert run_engine(plan).events > 0


def test_layer_pipelined_never_slower_than_sequential():
    seq = _run(hardware_only=True)
    pipe = _run([("controller.schedule", "layer_pipelined")], hardware_only=True)
    assert pipe.engine.total_cycles <= seq.engine.total_cycles
    assert pipe.throughput_inferences_per_s > seq.throughput_inferences_per_s


@pytest.mark.parametrize("k", [2, 4])
def test_replicated_k_gives_k_times_throughput_at_k_times_array_area(k):
    # k replicas need k bus channels and k global-buffer ports (their logits writes) to never wait
    over = [("chip.tiles", 4 * k), ("interconnect.channels", k), ("global_buffer.ports", k)]
    one = _run(over, hardware_only=True)
    rep = _run([*over, ("controller.schedule", "replicated"), ("controller.replicas", k)], hardware_only=True)
    assert rep.throughput_inferences_per_s == pytest.approx(k * one.throughput_inferences_per_s, rel=1e-12)
    assert rep.to_json()["array_area_used_m2"] == pytest.approx(k * one.to_json()["array_area_used_m2"], rel=1e-12)


def test_mapping_too_big_is_a_clear_error():
    from cimsim.errors import MappingError

    with pytest.raises(MappingError, match="chip.tiles"):
        _run([("chip.tiles", 1), ("chip.arrays_per_tile", 2)], hardware_only=True)


def test_lfsr_variant_runs_and_drops_at_the_quantized_p():
    r = _run([("spindrop.model", "lfsr")], passes=10, limit=200)
    c = r.ledger.table
    gen = c[(c.component == "dropout_source") & (c.action == "generate")]["actions"].sum()  # per inference
    assert gen == pytest.approx(sum(lm.mask_bits for lm in r.mapping.layers) * 10, rel=1e-12)
    assert r.metrics["accuracy"] > 0.9


# ----------------------------------------------------------------------------------------- golden results
# The default run of each shipped workload on arch_configs/spindrop.yaml (seed 0, T = 20, no corruptions).
# After an intended model change, rerun `python -m pytest tests/test_simulate.py -k golden -s` and update.
# Issue 13 item 6: tracking references add a replica-column read per conversion (+0.03 % energy).
# Issue 22: the reduction is timed with adder_tree.add (one pass through the 4-input tree = 2 cycles, was one
# 1-cycle accumulate per halving): fc2 and fc3 have 2 row blocks, +1 cycle each per pass, MLP 3700 → 3740 cycles
# (20 passes; docs/timing.md worked example) and its leakage energy with it; pooled convs write pooled outputs
# only (CNN energy −5.5 %, 36260 → 35080 cycles together with the adder-tree reduction).
# Issue 19 item 7: word-line drivers capped at 100 F and periphery laid out in the nominal F (−0.63 % MLP energy,
# −0.57 % CNN; accuracy, AUROC and cycles unchanged).
GOLDEN = {
    "digits_mlp": {"accuracy": 0.9740740740740741, "accuracy_deterministic": 0.9740740740740741,
                   "uniform_noise_auroc": 0.9676888888888889, "energy_per_inference_j": 6.849481747505078e-08,
                   "latency_cycles": 3740.0},
    "digits_cnn": {"accuracy": 0.975925925925926, "accuracy_deterministic": 0.975925925925926,
                   "uniform_noise_auroc": 0.9864999999999999, "energy_per_inference_j": 3.213210674460053e-07,
                   "latency_cycles": 35080.0},
}


@pytest.mark.parametrize("wl", [MLP, CNN], ids=["mlp", "cnn"])
def test_golden_shipped_examples(wl):
    r = simulate(load_arch(ARCH), load_workload(wl), Options(corruptions=False), base_dir=wl.parent)
    j = r.to_json()
    got = {"accuracy": j["accuracy"], "accuracy_deterministic": j["accuracy_deterministic"],
           "uniform_noise_auroc": j["ood"]["uniform_noise"]["auroc"],
           "energy_per_inference_j": j["energy_per_inference_j"], "latency_cycles": j["latency_cycles"]}
    print(wl.stem, got)
    for k, v in GOLDEN[wl.stem].items():
        assert got[k] == pytest.approx(v, rel=1e-9), k
    if wl == MLP:  # the functional issue's targets for the shipped MLP on ideal hardware
        assert j["accuracy_deterministic"] >= 0.92
        assert j["accuracy"] >= j["accuracy_deterministic"] - 0.01
        assert j["ood"]["uniform_noise"]["auroc"] >= 0.95
