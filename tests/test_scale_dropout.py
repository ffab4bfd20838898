"""Scale-Dropout (issue 13 item 5): one module and one bit per dropped layer per pass, drop rate p."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cimsim.activity import mask_generations
from cimsim.errors import MappingError
from cimsim.functional.executor import Executor
from cimsim.hardware import build_hardware
from cimsim.mapping import map_network
from cimsim.network.datasets import load_dataset, quantize_inputs
from cimsim.network.weights import load_network
from cimsim.resolve import resolve
from cimsim.spec.loader import load_workload

ROOT = Path(__file__).resolve().parent.parent
SCALE = ROOT / "workloads" / "digits_mlp_scale.yaml"


@pytest.fixture(scope="module")
def setup(arch):
    wl = load_workload(SCALE)
    design = resolve(arch, wl)
    mp = map_network(design)
    hw = build_hardware(design, mp)
    net = load_network(wl.network, SCALE.parent)
    ds = load_dataset(wl.dataset, SCALE.parent)
    return wl, hw, mp, net, quantize_inputs(ds.x_test, wl.network.input_bits)


def test_mapping_one_module_one_bit_per_layer(setup):
    wl, hw, mp, _, _ = setup
    fc2 = mp.layer("fc2")
    assert (fc2.modules, fc2.mask_bits, fc2.generations) == (1, 1, 1)
    assert np.all(fc2.bit_of_row() == 0)
    assert hw.instances["dropout_source"].count == len(wl.dropout.layers)
    assert mask_generations(fc2, inputs=7, passes=5, regenerate="per_input") == 35
    assert mask_generations(fc2, inputs=7, passes=5, regenerate="per_pass") == 5


def test_exactly_one_generation_per_layer_per_pass_and_rate_is_p(setup):
    wl, hw, mp, net, x = setup
    passes = 20
    ex = Executor(hw, mp, net, seed=3, passes=passes)
    tallies = ex.new_tallies()
    rec: dict[str, np.ndarray] = {}
    xs = x[:400]
    ex.forward(xs, mc=True, stream=0, input_ids=np.arange(len(xs)), tallies=tallies, record=rec)
    counts = ex.counts(tallies)
    jobs = passes * len(xs)
    assert counts["fc2"]["dropout_source.generate"] == jobs      # one bit per (input, pass) job
    assert counts["fc3"].get("dropout_source.generate", 0) == 0
    keep = rec["fc2"]                                            # (T, N, 1, F): one value across the layer
    assert np.all(keep == keep[..., :1])
    dropped = 1.0 - keep[:, :, 0, 0].mean()
    p = hw.component("dropout_source").p_realized
    assert abs(dropped - p) < 4 * np.sqrt(p * (1 - p) / jobs)
    assert counts["fc2"]["dropout_source.reset"] == pytest.approx((1 - keep[:, :, 0, 0]).sum())


def test_dropped_pass_outputs_the_threshold_pattern(setup):
    """A dropped scale leaves the comparator with 0: fc2's outputs are [0 ≥ threshold] for every input."""
    wl, hw, mp, net, x = setup
    ex = Executor(hw, mp, net, seed=1, passes=8)
    xs = x[:50]
    rec: dict[str, np.ndarray] = {}
    logits = ex.forward(xs, mc=True, stream=0, input_ids=np.arange(len(xs)), record=rec)
    kept = rec["fc2"][:, :, 0, 0].astype(bool)
    assert kept.any() and (~kept).any()
    h = np.where(net.layer("fc2").threshold <= 0.0, 1.0, -1.0)
    fc3 = net.layer("fc3")
    const = fc3.scale * (h @ fc3.matrix.T) + fc3.bias              # the dropped-pass logits, input-independent
    np.testing.assert_allclose(logits[~kept], np.broadcast_to(const, logits[~kept].shape), rtol=1e-6)


def test_per_window_is_refused(arch):
    wl = load_workload(ROOT / "workloads" / "digits_cnn.yaml")
    wl = wl.model_copy(update={"dropout": wl.dropout.model_copy(update={"granularity": "layer_scale",
                                                                        "regenerate": "per_window"})})
    with pytest.raises(MappingError, match="per-window"):
        map_network(resolve(arch, wl))


@pytest.mark.parametrize("regenerate", ["per_pass", "per_input"])
@pytest.mark.parametrize("schedule", [[("controller.schedule", "sequential")],
                                      [("controller.schedule", "layer_pipelined")],
                                      [("chip.tiles", 8), ("controller.schedule", "replicated"),
                                       ("controller.replicas", 2)]], ids=["sequential", "pipelined", "replicated"])
def test_engine_executes_exactly_the_priced_counts(schedule, regenerate):
    from cimsim.activity import TIMED_ACTIONS, expected_counts
    from cimsim.engine.plan import build_plan
    from cimsim.engine.simulator import run_engine
    from cimsim.spec.loader import load_arch

    from .conftest import ARCH
    design = resolve(load_arch(ARCH, schedule), load_workload(SCALE, [("dropout.regenerate", regenerate)]))
    mapping = map_network(design)
    hw = build_hardware(design, mapping)
    engine = run_engine(build_plan(hw, mapping, inputs=3, passes=4))
    priced = expected_counts(hw, mapping, inputs=3, passes=4)
    for lm in mapping.layers:
        for key in TIMED_ACTIONS:
            assert engine.action_counts.get((lm.name, key), 0) == pytest.approx(priced[lm.name].get(key, 0),
                                                                               rel=1e-12), (lm.name, key)
    gen = engine.action_counts.get(("fc2", "dropout_source.generate"), 0)
    assert gen == (4 if regenerate == "per_pass" else 12)       # one bit per pass (shared) or per job
