"""Dependability: fault injection, the online test and the dropout-MTJ lifetime (docs/dependability.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cimsim.errors import ConfigError
from cimsim.faults.inject import ChipFaults, LayerFaults, sample_chip_faults
from cimsim.functional.executor import Executor
from cimsim.hardware import build_hardware
from cimsim.mapping import map_network
from cimsim.network.datasets import load_dataset, quantize_inputs
from cimsim.network.weights import load_network
from cimsim.online_test import FaultCase, campaign, nominal_false_alarm
from cimsim.resolve import resolve
from cimsim.simulate import Options, simulate
from cimsim.spec.arch import ArchSpec
from cimsim.spec.faults import FaultsSpec
from cimsim.spec.loader import apply_overrides, load_workload, validate
from tests.conftest import CNN, MLP
from tests.helpers import module_of_row


@pytest.fixture(scope="module")
def mlp():
    wl = load_workload(MLP)
    net = load_network(wl.network, MLP.parent)
    ds = load_dataset(wl.dataset, MLP.parent)
    return wl, net, quantize_inputs(ds.x_test, wl.network.input_bits)


def _arch(arch, over):
    return validate(ArchSpec, apply_overrides(arch.model_dump(), over, ArchSpec), file=None)


def _executor(arch, wl, net, over, *, seed=0, passes=20):
    design = resolve(_arch(arch, over), wl)
    mp = map_network(design)
    return Executor(build_hardware(design, mp), mp, net, seed=seed, passes=passes)


def test_stuck_modules_never_or_always_drop(arch, mlp):
    wl, net, x = mlp
    named = [{"layer": "fc2", "index": 3, "fault": "stuck_at_keep"}, {"layer": "fc2", "index": 7, "fault": "stuck_at_drop"},
             {"layer": "fc3", "index": 0, "fault": "stuck_at_drop"}]
    ex = _executor(arch, wl, net, [("faults.dropout_modules.named", named)])
    rec: dict = {}
    ex.forward(x[:100], mc=True, stream=0, input_ids=np.arange(100), record=rec)
    fc2 = module_of_row(ex.mapping.layer("fc2"))
    keep2 = np.asarray(rec["fc2"])[:, :, 0, :]       # (T, N, F), 1 = kept
    assert keep2[..., fc2 == 3].min() == 1.0           # stuck at keep: never dropped in 2000 jobs
    assert keep2[..., fc2 == 7].max() == 0.0           # stuck at drop: always dropped
    assert np.asarray(rec["fc3"])[:, :, 0, 0].max() == 0.0
    # a healthy module drops at p = 0.2: P(never in 2000 jobs) ≈ 1e-194
    assert 0 < keep2[..., fc2 == 4].mean() < 1
    assert ex.module_probabilities()["fc2"][[3, 7]].tolist() == [0.0, 1.0]


def test_shifted_p_shows_in_the_realized_drop_rate(arch, mlp):
    wl, net, x = mlp
    ex = _executor(arch, wl, net, [("faults.dropout_modules.shifted", 1.0), ("faults.dropout_modules.delta_p", 0.15),
                                   ("faults.dropout_modules.layers", ["fc2"])])
    rec: dict = {}
    ex.forward(x[:50], mc=True, stream=0, input_ids=np.arange(50), record=rec)
    n = 20 * 50 * 256
    for layer, p in (("fc2", 0.35), ("fc3", 0.2)):
        rate = 1.0 - float(np.asarray(rec[layer])[:, :, 0, :].mean())
        assert abs(rate - p) < 4 * math.sqrt(p * (1 - p) / n), (layer, rate)


def test_stuck_device_arithmetic_2t2mtj():
    """x = +1 reads device a, x = −1 device b; a stuck-low device adds +1 whatever the weight."""
    w = np.array([[1.0, -1.0, -1.0, 1.0]], np.float32)          # one row, four columns
    state = np.zeros((2, 1, 4), np.int8)
    state[0, 0, 1] = 1     # col 1: device a stuck low  (w = −1)
    state[1, 0, 2] = -1    # col 2: device b stuck high (w = −1)
    state[:, 0, 3] = 1     # col 3: both stuck low
    chip = ChipFaults(seed=0, layers={"l": LayerFaults(device_state=state)})

    class LM:
        name = "l"

    w_eff, bias = chip.weights(LM, w)
    for x in (1.0, -1.0):
        contrib = x * w_eff[0] + abs(x) * bias[0]
        # col 1: a stuck low (+1) or healthy b of w = −1 (+1); col 2: healthy a of w = −1 or b stuck high: −1
        want = [x, 1.0, -1.0, 1.0]
        np.testing.assert_array_equal(contrib, want)


def test_fault_sampling_is_deterministic_and_batching_independent(arch, mlp):
    wl, net, x = mlp
    over = [("faults.cells.stuck_lrs", 0.02), ("faults.cells.stuck_hrs", 0.02),
            ("faults.converters.offset_sigma_lsb", 0.4), ("faults.dropout_modules.stuck_at_drop", 0.05)]
    a = _arch(arch, over)
    design = resolve(a, wl)
    mp = map_network(design)
    hw = build_hardware(design, mp)
    s1, s2, s3 = (sample_chip_faults(a.faults, hw, mp, s).summary() for s in (5, 5, 6))
    assert s1 == s2 and s1 != s3
    ex = Executor(hw, mp, net, seed=5, passes=6)
    assert not ex.exact
    whole = ex.run(x[:40], chunk=40)
    chunked = Executor(hw, mp, net, seed=5, passes=6).run(x[:40], chunk=7)
    np.testing.assert_array_equal(whole, chunked)
    first = Executor(hw, mp, net, seed=5, passes=6).run(x[:13], chunk=5)   # --limit 13
    np.testing.assert_array_equal(whole[:, :13], first)


def test_faults_appear_in_result_json(arch):
    a = _arch(arch, [("faults.dropout_modules.stuck_at_keep", 0.1)])
    r = simulate(a, MLP, Options(limit=20, passes=4, ood=False, corruptions=False, timing_inputs=4))
    j = r.to_json()
    fc2 = j["faults_injected"]["layers"]["fc2"]["dropout_modules"]
    assert len(fc2["stuck_at_keep"]) == j["dropout_p_modules"]["fc2"]["stuck_at_keep"] > 0
    assert np.all(r.module_p["fc2"][fc2["stuck_at_keep"]] == 0.0)


def test_module_faults_need_a_source_with_per_module_p(arch, mlp):
    wl, net, _ = mlp
    with pytest.raises(ConfigError, match="faults.dropout_modules"):
        _executor(arch, wl, net, [("spindrop", {"model": "lfsr"}), ("faults.dropout_modules.stuck_at_drop", 0.1)])


def test_false_alarm_rate_matches_the_nominal_rate(arch):
    """No faults: the fraction of chips outside μ ± 2σ matches 2(1 − Φ(2)) = 4.55 % within binomial tolerance
    (+ 1.5 points for the bounds estimated from 300 calibration chips)."""
    wl = load_workload(MLP)
    res = campaign(arch, wl, MLP.parent, cases=[FaultCase("none", "-", FaultsSpec())], chips=300,
                   calibration_chips=300, passes=20, test_inputs=4, k_sigma=2.0, seed=1)
    rate, alpha = res.rows[0]["output_test"], nominal_false_alarm(2.0)
    assert abs(rate - alpha) < 3 * math.sqrt(alpha * (1 - alpha) / 300) + 0.015, rate
    assert res.rows[0]["readout_test"] <= alpha + 3 * math.sqrt(alpha / 300)
    assert res.cost["passes"] == 80 and res.cost["energy_j"] > 0 and res.cost["time_s"] > 0


def test_fully_stuck_layer_is_detected(arch):
    wl = load_workload(MLP)
    case = FaultCase("stuck_at_drop", "fc3", FaultsSpec(dropout_modules={"stuck_at_drop": 1.0, "layers": ["fc3"]}))
    keep = FaultCase("stuck_at_keep", "fc2", FaultsSpec(dropout_modules={"stuck_at_keep": 1.0, "layers": ["fc2"]}))
    res = campaign(arch, wl, MLP.parent, cases=[case, keep], chips=40, calibration_chips=60, seed=2)
    for row in res.rows:
        assert row["either"] == 1.0 and row["output_test"] >= 0.95, row


def _life(arch, path, over_arch=(), over_wl=()):
    from cimsim.spec.workload import WorkloadSpec

    wl = load_workload(path)
    wl = validate(WorkloadSpec, apply_overrides(wl.model_dump(), list(over_wl), WorkloadSpec), file=None)
    r = simulate(_arch(arch, list(over_arch)), wl, Options(hardware_only=True, inputs=8, timing_inputs=8),
                 base_dir=path.parent)
    return r


def test_lifetime_closed_form_and_inverse_write_rate(arch):
    """One dropped conv layer: every module carries the same load, so lifetime = η/c·(ln 2/M)^{1/β} and scales
    as 1/c between per_input and per_window and between sequential and layer_pipelined."""
    wl_over = [("dropout.layers", ["conv2"])]
    docs = {}
    for name, a_over, w_over in (("input", [], [("dropout.regenerate", "per_input")]),
                                 ("window", [], [("dropout.regenerate", "per_window")]),
                                 ("pipelined", [("controller.schedule", "layer_pipelined")],
                                  [("dropout.regenerate", "per_input")])):
        r = _life(arch, CNN, a_over, wl_over + w_over)
        docs[name] = (r, r.to_json()["lifetime"])
    r, lt = docs["input"]
    eta, beta, m, c = lt["endurance_cycles"], lt["weibull_shape"], lt["modules"], lt["cycles_per_module_per_s"]
    assert lt["lifetime_s"] == pytest.approx(eta / c * (math.log(2) / m) ** (1 / beta), rel=1e-9)
    f = lt["failed_fraction"]
    assert lt["lifetime_fraction_s"] == pytest.approx(eta / c * (-math.log1p(-f)) ** (1 / beta), rel=1e-6)
    # p = 0.2 under on_switch: 1 write + 0.2 resets per bit; T = 20 masks of one bit per module per inference
    assert lt["writes_per_module_per_inference"] == pytest.approx(20.0 * r.mapping.layer("conv2").generations)
    assert lt["resets_per_module_per_inference"] == pytest.approx(0.2 * lt["writes_per_module_per_inference"])
    for other in ("window", "pipelined"):
        _, lo = docs[other]
        ratio = lo["cycles_per_module_per_s"] / c
        assert ratio > 1.5
        assert lo["lifetime_s"] == pytest.approx(lt["lifetime_s"] / ratio, rel=1e-9)
    _, lw = docs["window"]
    mvms = r.mapping.layer("conv2").mvms
    assert lw["writes_per_module_per_inference"] == pytest.approx(mvms * lt["writes_per_module_per_inference"])


def test_lifetime_is_a_sweepable_field(arch):
    base = _life(arch, MLP).lifetime
    longer = _life(arch, MLP, [("spindrop.endurance_cycles", 1e15)]).lifetime
    assert longer["lifetime_s"] == pytest.approx(1e3 * base["lifetime_s"], rel=1e-9)
    always = _life(arch, MLP, [("spindrop.reset_policy", "always")]).lifetime
    assert always["resets_per_module_per_inference"] == pytest.approx(always["writes_per_module_per_inference"])
    assert always["lifetime_s"] < base["lifetime_s"]
    assert _life(arch, MLP, [("spindrop", {"model": "lfsr"})]).lifetime is None


# ---------------------------------------------------------------- storage MTJs: read disturb and retention

def _storage(reads=0.0, time_s=0.0, state="low", sigmas=None, t_k=300.0, t_ret=None, current=None):
    from cimsim.components import mtj
    from cimsim.faults.storage import StorageFlips

    cur = current if current is not None else (0.1 / (3979.0 + 3.7e3), 0.1 / (3979.0 * 2.2 + 3.7e3))
    return StorageFlips(device=mtj.MTJParams(), temperature_k=t_k, retention_temperature_k=t_ret or t_k,
                        read_current_a=cur, read_pulse_s=1e-9, reads=reads, time_s=time_s, disturbed_state=state,
                        sigmas=sigmas)


@pytest.mark.parametrize("i, delta, pulse_ns", [(0.6, 20.0, 50.0), (0.5, 15.0, 100.0), (0.8, 35.0, 20.0),
                                                (0.45, 17.5, 1000.0)])
def test_read_disturb_is_the_tables_own_p_where_it_resolves_it(i, delta, pulse_ns):
    """Issue 19: the per-read disturb probability is the switching table's P at the read's operating point, exactly
    (bit for bit: the same lookup), wherever the table resolves P."""
    from cimsim.components import mtj, mtj_switching, mtj_thermal

    dev = mtj.MTJParams()
    ic0 = float(mtj.ic0_a(dev, 300.0))
    p_tab = float(mtj_switching.p_switch(dev, i * ic0, pulse_ns * 1e-9, 300.0, delta=delta))
    assert p_tab > 0
    assert float(mtj_thermal.read_disturb_probability(dev, i * ic0, pulse_ns * 1e-9, 300.0, delta=delta)) == p_tab


def test_read_disturb_at_the_default_read_and_its_thermal_tail():
    """The default read (0.1 V over R_P + R_access: 13 uA = 0.26 I_c0, 1 ns, Delta 60) lies below the table's current
    axis (0.45) and far below its resolution (5e-4): there P is Brown's thermal tail, whose rate agrees with the
    table's resolved thermal nodes within a factor 0.97-3.6 (median 1.33: conservative, docs/analog.md)."""
    from cimsim.components import mtj
    from cimsim.components.switching.table import load_table

    dev = mtj.MTJParams()
    sf = _storage()
    p1 = float(sf.per_read())
    i = sf.read_current_a[0] / float(mtj.ic0_a(dev, 300.0))
    tau_d = float(mtj.tau_d_s(dev, 300.0))
    brown = math.sqrt(60 / math.pi) * (1 - i) ** 2 * (1 + i) * math.exp(-60 * (1 - i) ** 2) * 1e-9 / tau_d
    assert p1 == pytest.approx(-math.expm1(-brown), rel=1e-12)
    assert 1e-15 < p1 < load_table().floor
    tab = load_table()
    k = tab.n_switched / tab.n_traj
    ii, dd, tt = np.meshgrid(tab.i, tab.delta, tab.tau_d, indexing="ij")
    m = (ii <= 0.6) & (k > 0.05) & (k < 0.95)
    h_tab = -np.log1p(-k[m])
    h_brown = np.sqrt(dd[m] / math.pi) * (1 - ii[m]) ** 2 * (1 + ii[m]) * np.exp(-dd[m] * (1 - ii[m]) ** 2) * tt[m]
    ratio = h_brown / h_tab
    assert m.sum() > 300 and 1.1 < np.median(ratio) < 1.6 and ratio.min() > 0.8 and ratio.max() < 4.0


def test_read_disturb_accumulates_over_reads_and_only_in_the_disturbed_state():
    sf = _storage(reads=1e6, t_k=420.0)
    p1 = float(sf.per_read())
    p = sf.flip_probability(np.array([True, False]))
    assert p[0] == pytest.approx(-math.expm1(1e6 * math.log1p(-p1)), rel=1e-9) and p[1] == 0.0
    assert 0.01 < p[0] < 0.99     # at 420 K (Delta 35.5) a million reads matter
    assert _storage(reads=1e9).flip_probability(np.array([True]))[0] < 1e-4   # at 300 K they do not


def test_retention_is_a_symmetric_two_state_chain():
    from cimsim.components import mtj, mtj_thermal

    dev = mtj.MTJParams()
    r = float(mtj_thermal.thermal_escape_rate_hz(dev, 0.0, 358.0))
    d = float(mtj.delta(dev, 358.0))
    assert r == pytest.approx(math.sqrt(d / math.pi) * math.exp(-d) / float(mtj.tau_d_s(dev, 358.0)), rel=1e-12)
    ten_years = 3.15e8
    p = _storage(time_s=ten_years, t_ret=358.0).flip_probability(np.array([True, False]))
    assert p[0] == p[1] == pytest.approx(-0.5 * math.expm1(-2 * r * ten_years), rel=1e-12)
    temps = [300.0, 330.0, 358.0, 390.0, 420.0]
    ps = [float(mtj_thermal.retention_flip_probability(dev, ten_years, t)) for t in temps]
    assert all(a < b for a, b in zip(ps, ps[1:], strict=False)) and ps[-1] == pytest.approx(0.5)
    assert float(mtj_thermal.retention_flip_probability(dev, 1e3, 300.0, delta=30.0)) > ps[0]


def test_storage_flip_rate_and_the_weights_it_gives():
    """Sampled flips occur at their probability; a flipped device reads the other state (2T-2MTJ: only the
    device in the disturbed state flips, giving weight 0 + bias or an unchanged weight)."""
    sf = _storage(reads=1e6, t_k=420.0)
    w = np.where(np.random.default_rng(3).random((300, 200)) < 0.5, 1.0, -1.0).astype(np.float32)
    flipped, p = sf.flips(np.stack([w, -w]), np.random.default_rng(4))
    target = float(sf.flip_probability(np.array([True]))[0])
    low = np.stack([w, -w]) > 0
    n = low.sum()
    assert abs(flipped[low].mean() - target) < 4 * math.sqrt(target * (1 - target) / n)
    assert not flipped[~low].any()

    class LM:
        name, index = "l", 0

    sure = _storage(reads=100.0, current=(9.9 * 50e-6, 0.0))   # a write-strength read: 100 of them flip for sure
    assert float(sure.flip_probability(np.array([True]))[0]) == 1.0
    chip = ChipFaults(seed=1, layers={"l": LayerFaults(storage=sure)})
    w_eff, bias = chip.weights(LM, np.array([[1.0, -1.0]], np.float32))
    # the low device of each cell flips high: w = +1 (a low) and w = -1 (b low) both end at (c_a, c_b) = (-1, -1),
    # weight 0 and bias -1 on every driven row
    np.testing.assert_array_equal(w_eff, [[0.0, 0.0]])
    np.testing.assert_array_equal(bias, [[-1.0, -1.0]])
    assert chip.summary()["layers"]["l"]["storage"]["flipped"] == 2


def test_storage_faults_through_simulate(arch):
    """faults.storage in a run: flips are reported in result.json, and no history (0 reads, 0 s) changes nothing."""
    opts = Options(limit=60, passes=4, ood=False, corruptions=False, timing_inputs=4)
    base = simulate(arch, MLP, opts)
    same = simulate(_arch(arch, [("faults.storage.disturbed_state", "high")]), MLP, opts)
    assert same.metrics["accuracy"] == base.metrics["accuracy"] and same.to_json().get("faults_injected", {}) == {}
    hot = _arch(arch, [("faults.storage.time_since_programming_s", 3.15e8),
                       ("faults.storage.retention_temperature_k", 400.0)])
    r = simulate(hot, MLP, opts)
    st = r.to_json()["faults_injected"]["layers"]["fc1"]["storage"]
    assert st["p_flip_mean"] == pytest.approx(0.5, abs=1e-9)
    assert abs(st["flipped"] / st["devices"] - 0.5) < 4 * math.sqrt(0.25 / st["devices"])
    assert r.metrics["accuracy"] < 0.3 < base.metrics["accuracy"]   # ten years at 400 K forget the weights


def test_storage_reads_from_inferences_use_the_workloads_passes(arch, mlp):
    from cimsim.faults.inject import storage_flips

    wl = mlp[0]
    a = _arch(arch, [("faults.storage.inferences_since_programming", 1e6), ("faults.storage.reads_per_device", 5.0)])
    design = resolve(a, wl)
    sf = storage_flips(a.faults, build_hardware(design, map_network(design)))
    assert sf.reads == 1e6 * wl.mc_passes + 5.0
