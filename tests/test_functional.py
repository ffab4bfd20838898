"""Functional executor: bit-exactness against the numpy BNN, dropout statistics, periphery, variation."""

from __future__ import annotations

import numpy as np
import pytest

from cimsim.components import mtj, mtj_switching
from cimsim.components.quantizer import Quantizer
from cimsim.functional.executor import Executor
from cimsim.hardware import build_hardware, mtj_params
from cimsim.mapping import map_network
from cimsim.network.reference import reference_forward
from cimsim.resolve import resolve
from cimsim.spec.arch import ArchSpec
from cimsim.spec.loader import apply_overrides, validate


def _executor(arch, wl, net, *, passes=4, seed=0, **arch_changes):
    over = [(k.replace("__", "."), v) for k, v in arch_changes.items()]
    a = validate(ArchSpec, apply_overrides(arch.model_dump(), over, ArchSpec), file=None) if over else arch
    design = resolve(a, wl)
    mp = map_network(design)
    return Executor(build_hardware(design, mp), mp, net, seed=seed, passes=passes)


def _reference_with(net, x, masks, t, p):
    """Reference logits (T, N, K) using the executor's recorded masks."""
    n = x.shape[0]
    xs = np.broadcast_to(x[None], (t, *x.shape)).reshape(t * n, *x.shape[1:])
    ref_masks = {}
    for name, m in masks.items():
        m = np.asarray(m)            # (T, N, P, F)
        if m.shape[2] == 1:
            ref_masks[name] = m[:, :, 0, :].reshape(t * n, -1)
        else:
            ref_masks[name] = m.reshape(t * n, m.shape[2], m.shape[3])
    return reference_forward(net, xs, ref_masks, p).reshape(t, n, -1)


@pytest.mark.parametrize("regenerate", ["per_input", "per_pass", "per_window"])
def test_ideal_hardware_is_bit_identical_to_numpy_bnn(arch, shipped, regenerate):
    wl, net, x, _ = shipped
    wl = wl.model_copy(deep=True)
    wl.dropout.regenerate = regenerate
    ex = _executor(arch, wl, net, passes=3)
    assert ex.exact
    x = x[:40]
    rec: dict = {}
    got = ex.forward(x, mc=True, stream=0, input_ids=np.arange(len(x)), record=rec)
    assert set(rec) == set(wl.dropout.layers)
    want = _reference_with(net, x, rec, 3, wl.dropout.p)
    np.testing.assert_array_equal(got, want)
    det = ex.forward(x, mc=False, stream=1, input_ids=np.arange(len(x)))
    np.testing.assert_array_equal(det[0], reference_forward(net, x))


def test_grouped_path_equals_exact_path_with_enough_levels(arch, shipped):
    """Forcing the row-group path (noise 0, exact converter) reproduces the single-matmul result."""
    wl, net, x, _ = shipped
    ex = _executor(arch, wl, net, passes=2)
    fast = ex.forward(x[:30], mc=True, stream=0, input_ids=np.arange(30))
    ex.exact = False
    slow = ex.forward(x[:30], mc=True, stream=0, input_ids=np.arange(30))
    np.testing.assert_array_equal(fast, slow)


def test_empirical_dropout_rate_within_binomial_tolerance(arch, shipped):
    wl, net, x, _ = shipped
    wl = wl.model_copy(deep=True)
    wl.dropout.regenerate = "per_input"
    ex = _executor(arch, wl, net, passes=10)
    tallies = ex.new_tallies()
    ex.run(x[:200], mc=True, tallies=tallies)
    counts = ex.counts(tallies)
    p_real = ex.hw.component("dropout_source").p_nominal
    for name in wl.dropout.layers:
        c = counts[name]
        n = c["dropout_source.stochastic_write"]
        drops = c["dropout_source.reset"]  # on_switch: one reset per switched module
        assert n > 10_000
        assert abs(drops / n - p_real) < 4 * np.sqrt(p_real * (1 - p_real) / n)
    assert abs(p_real - wl.dropout.p) < 1e-9


def test_quantizer_exact_clipped_and_quantized():
    s = np.arange(-16, 17, dtype=np.float32)
    np.testing.assert_array_equal(Quantizer(33, 16)(s), s)                 # 2·16+1 levels: exact
    assert Quantizer(33, 16).is_exact_for(16) and not Quantizer(32, 15).is_exact_for(16)
    clipped = Quantizer(32, 15)(s)                                          # codes −15 … +16
    np.testing.assert_array_equal(clipped, np.clip(s, -15, 16))
    coarse = Quantizer(9, 16)(s)                                            # step 4
    assert set(np.unique(coarse)) <= set(np.arange(-16, 17, 4, dtype=np.float32))
    assert np.max(np.abs(coarse - s)) <= 2
    sign = Quantizer(2, 16)(s)                                              # 1-bit SA: ±16, 0 reads +
    np.testing.assert_array_equal(sign, np.where(s >= 0, 16, -16))


def test_adc_with_enough_bits_is_exact_and_fewer_bits_clip(arch, shipped):
    wl, net, x, _ = shipped
    x = x[:30]
    ideal = _executor(arch, wl, net, passes=1).forward(x, mc=False, stream=0, input_ids=np.arange(len(x)))
    six = _executor(arch, wl, net, passes=1, column_periphery__model="neurosim_sar", column_periphery__bits=6,
                    column_periphery__full_scale_rows=16)
    assert six.quantizer.is_exact_for(16)
    np.testing.assert_array_equal(six.forward(x, mc=False, stream=0, input_ids=np.arange(len(x))), ideal)
    sa = _executor(arch, wl, net, passes=1, column_periphery__model="sense_amp",
                   column_periphery__full_scale_rows=16)
    assert not np.array_equal(sa.forward(x, mc=False, stream=0, input_ids=np.arange(len(x))), ideal)


def test_same_seed_same_result_other_seed_differs(arch, shipped):
    wl, net, x, _ = shipped
    a = _executor(arch, wl, net, seed=3).run(x[:50])
    b = _executor(arch, wl, net, seed=3).run(x[:50])
    c = _executor(arch, wl, net, seed=4).run(x[:50])
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_per_input_results_do_not_depend_on_chunking_or_limit(arch, shipped):
    """Masks and noise are keyed by (input, pass, layer): any chunk size or prefix gives bit-identical
    per-input logits, in MC mode as well."""
    wl, net, x, _ = shipped
    ex = _executor(arch, wl, net, variation__enabled=True, variation__sense_noise_sigma_lsb=0.3)
    whole = ex.run(x[:60])
    assert ex.chunk > 60
    np.testing.assert_array_equal(ex.run(x[:60], chunk=7), whole)
    np.testing.assert_array_equal(ex.run(x[:20]), whole[:, :20])
    # pass t of input i keeps its mask whatever T is
    np.testing.assert_array_equal(_executor(arch, wl, net, passes=2, variation__enabled=True,
                                            variation__sense_noise_sigma_lsb=0.3).run(x[:10]), whole[:2, :10])


@pytest.mark.parametrize("changes", [{}, {"variation__enabled": True, "variation__sense_noise_sigma_lsb": 0.3},
                                     {"column_periphery__model": "neurosim_sar", "column_periphery__bits": 3}])
def test_worker_threads_change_nothing(arch, shipped, changes):
    """Chunks run as PARTS parts on 1, 2 or 3 threads: the same logits and the same activity counts, bit for
    bit (each part's increments are replayed in input order)."""
    wl, net, x, _ = shipped
    runs = []
    for threads in (1, 2, 3):
        ex = _executor(arch, wl, net, **changes)
        ex.threads = threads
        tallies = ex.new_tallies()
        logits = ex.run(x[:45], tallies=tallies, chunk=23)
        runs.append((logits, ex.counts(tallies)))
    for logits, counts in runs[1:]:
        np.testing.assert_array_equal(logits, runs[0][0])
        assert counts == runs[0][1]


def _module_p(arch, wl, net, **changes):
    ex = _executor(arch, wl, net, **{"variation__enabled": True, **changes})
    return ex, np.concatenate(list(ex.module_probabilities().values()))


def test_process_variation_spreads_module_p_as_the_model_predicts(arch, shipped):
    """Small spreads: std of p_k equals first-order propagation of the correlated Δ and I_c0 spreads through
    P_sw (tolerance from the sample size); larger spreads widen it further; no variation, no spread."""
    wl, net, _, _ = shipped
    sd, sc = 0.004, 0.002  # small enough for the linearization to hold
    ex, pk = _module_p(arch, wl, net, variation__delta_sigma_rel=sd, variation__ic0_sigma_rel=sc,
                       variation__diameter_sigma_rel=0.001, variation__write_current_sigma_rel=0.0)
    src = ex.hw.component("dropout_source")
    dev = mtj_params(arch.mtj.dropout, arch.mtj.t_ref_k)
    t_k = arch.technology.temperature_k
    d0, c0 = mtj.delta(dev, t_k), mtj.ic0_a(dev, t_k)

    def p(d, c):
        return float(mtj_switching.p_switch(dev, src.write_current_a, src.write_pulse_s, t_k, delta=d, ic0_a=c))

    eps = 1e-5
    dp_dd = (p(d0 * (1 + eps), c0) - p(d0 * (1 - eps), c0)) / (2 * eps)     # per relative change of Δ
    dp_dc = (p(d0, c0 * (1 + eps)) - p(d0, c0 * (1 - eps))) / (2 * eps)
    samples = mtj.sample_devices(dev, mtj.VariationSigmas(delta=sd, ic0=sc, diameter=0.001), 50_000,
                                 np.random.default_rng(1), t_k)
    rho = np.corrcoef(np.log(samples.delta), np.log(samples.ic0_a))[0, 1]
    predicted = np.sqrt((dp_dd * sd) ** 2 + (dp_dc * sc) ** 2 + 2 * rho * dp_dd * dp_dc * sd * sc)
    n = pk.size
    assert n >= 250
    # sample std of n normal draws has relative standard error 1/sqrt(2(n-1)); allow 4 of them
    assert np.std(pk, ddof=1) == pytest.approx(predicted, rel=4 / np.sqrt(2 * (n - 1)) + 0.02)
    assert np.mean(pk) == pytest.approx(wl.dropout.p, abs=4 * predicted / np.sqrt(n) + 1e-3)
    _, wide = _module_p(arch, wl, net)  # the default (assumed) sigmas
    assert np.std(wide) > 3 * np.std(pk)
    _, none = _module_p(arch, wl, net, variation__enabled=False)
    assert np.ptp(none) == 0


def test_cell_variation_and_sense_noise_perturb_but_stay_close(arch, shipped):
    wl, net, x, y = shipped
    x, y = x[:150], y[:150]
    ideal = _executor(arch, wl, net).run(x, mc=False)
    noisy = _executor(arch, wl, net, variation__enabled=True, variation__sense_noise_sigma_lsb=0.5).run(x, mc=False)
    assert not np.array_equal(ideal, noisy)
    acc_i = (ideal[0].argmax(1) == y).mean()
    acc_n = (noisy[0].argmax(1) == y).mean()
    assert acc_n > acc_i - 0.1
