"""The fast routes of the functional run give the same bits as the plain formulas they replace."""

from __future__ import annotations

import numpy as np

from cimsim.functional import metrics
from cimsim.functional.executor import Executor
from cimsim.functional.ops import integer_threshold
from cimsim.hardware import build_hardware
from cimsim.mapping import map_network
from cimsim.resolve import resolve
from cimsim.rng import CounterStream
from cimsim.spec.loader import load_arch
from tests.conftest import ROOT


def test_bernoulli_equals_uniform_comparison_bit_for_bit():
    st = CounterStream(7, 3, 1)
    ids = np.arange(300).reshape(30, 10) * 1024 + 5
    rng = np.random.default_rng(0)
    p = np.r_[0.0, 1.0, 2.0 ** -53, 1 - 2.0 ** -53, 0.2, rng.random(200)]
    np.testing.assert_array_equal(st.bernoulli(ids, p), st.uniform(ids, p.size) < p)
    # thresholds exactly on a drawn uniform and one ulp above it
    u = st.uniform(ids[:1, :1], 1)[0, 0]
    for q in (u, np.nextafter(u, 1.0)):
        assert bool(st.bernoulli(ids[:1, :1], q[None])[0, 0, 0]) == bool(u < q)


def test_integer_threshold_decides_like_the_float64_comparison():
    rng = np.random.default_rng(1)
    theta = np.r_[rng.normal(0, 40, 500), np.arange(-40, 40) * 1.25, np.arange(-40, 40) / 0.8]
    s = np.arange(-400, 400, dtype=np.float32)
    for scale in (1.0, 1 / 0.8, 1 / 0.7, 1 / 0.9):
        want = s[:, None].astype(np.float64) * scale >= theta[None]
        np.testing.assert_array_equal(s[:, None] >= integer_threshold(theta, scale)[None], want)


def test_clip_corrected_and_dense_routes_equal_the_per_group_formula(shipped):
    wl, net, x, _ = shipped
    design = resolve(load_arch(ROOT / "arch_configs" / "spindrop_adc.yaml"), wl)
    mp = map_network(design)
    ex = Executor(build_hardware(design, mp), mp, net, seed=0, passes=2)
    assert not ex.exact and ex._first_error <= ex.ra
    rng = np.random.default_rng(2)
    for lp in ex.layers:
        f = lp.w.shape[0]
        # ±1 inputs, some rows dropped; every group fully driven in some rows (clips happen)
        flat = np.where(rng.random((300, f)) < 0.5, -1, 1).astype(np.float32)
        flat[100:] *= rng.random((200, f)) < 0.9
        flat[:50] = -np.sign(lp.w[:, 0])  # column 0 sees −16 in every full group
        flat[100:110] = -np.sign(lp.w[:, 1])  # and column 1 in these rows
        g, ra, o = lp.wg.shape
        pad = np.zeros((flat.shape[0], g * ra), np.float32)
        pad[:, :f] = flat
        want = ex.quantizer(np.matmul(pad.reshape(-1, g, ra).transpose(1, 0, 2), lp.wg)).sum(axis=0)
        np.testing.assert_array_equal(ex._dense_groups(lp, flat, None), want)
        # the correction route on rows where few groups can clip (it declines when most can)
        sparse = flat[100:]
        got = ex._clip_corrected(lp, sparse)
        assert got is not None
        np.testing.assert_array_equal(got, want[100:])
        if f >= ra:  # a full group exists: clipping happened there
            assert np.any(want[100:110, 1] != (sparse[:10] @ lp.w)[:, 1])


def test_streamed_summary_equals_whole_set_metrics():
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 3, (20, 37, 10))
    probs = metrics.softmax(logits)
    labels = rng.integers(0, 10, 37)
    whole = metrics.summarize(probs, labels)
    for size in (1, 5, 37):
        s = metrics.Summary.concat([metrics.Summary.of(probs[:, a: a + size]) for a in range(0, 37, size)])
        assert s.summarize(labels) == whole
        np.testing.assert_array_equal(s.mutual_information, metrics.mutual_information(probs))
        np.testing.assert_array_equal(s.predictive_entropy(), metrics.predictive_entropy(probs))
    p_out = metrics.softmax(rng.normal(0, 1, (20, 30, 10)))
    for score in metrics.UNCERTAINTY_SCORES:
        got = metrics.ood_scores_summary(metrics.Summary.of(probs), metrics.Summary.of(p_out), score)
        assert got == metrics.ood_scores(probs, p_out, score)
