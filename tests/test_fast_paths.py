"""The fast routes of the functional run give the same bits as the plain formulas they replace."""

from __future__ import annotations

import numpy as np
import pytest

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


def _graph_workload(tmp_path):
    """The residual graph of the graph-run tests with dropout, multi-bit weights (c1: 3 bits, fc: 4 bits) and
    layers that read real tensors as signed bit planes (c4: 4 bits, fc: 6 bits)."""
    import copy

    from tests.graph_helpers import synthetic_weights, write_images, write_workload
    from tests.test_graph_run import RESIDUAL

    doc = copy.deepcopy(RESIDUAL)
    layers = doc["network"]["layers"]
    layers[5].update(input_bits=4, input_step=0.05)
    layers[-1].update(input_bits=6, input_step=0.02)
    doc["dropout"] = {"layers": ["c3", "fc"], "p": 0.2}
    rng = np.random.default_rng(11)
    write_images(tmp_path / "data.npz", (3, 8, 8), 5, 10, rng)
    doc["dataset"] = {"name": "cifar10", "path": "data.npz"}
    return write_workload(tmp_path, doc, synthetic_weights(doc, rng))


def test_collapsed_planes_and_folded_slices_give_the_bits_of_the_plain_route(tmp_path, monkeypatch):
    """On the exact route the bit planes run as one GEMM on their integer value and the weight slices' shift-add
    inside the GEMM; simulate() gives the same bits (logits, per-sample table, activity counts and energies)
    as the per-plane, per-slice route."""
    from cimsim.simulate import Options, simulate

    wl = _graph_workload(tmp_path)
    opts = Options(passes=3, ood=False, corruptions=False)
    arch = str(ROOT / "arch_configs" / "spindrop.yaml")
    fast = simulate(arch, wl, opts)
    used = [(lp.lm.name, Executor._collapsed(fast_ex, lp.lm), lp.folded is not None)
            for fast_ex in [_executor_of(arch, wl)] for lp in fast_ex.layers]
    assert ("c1", True, True) in used and ("c4", True, False) in used and ("fc", True, True) in used
    monkeypatch.setattr(Executor, "_collapsed", lambda self, lm: False)
    monkeypatch.setattr(Executor, "_folds", lambda self, lm: False)
    plain = simulate(arch, wl, opts)
    assert {**fast.to_json(), "wall_time_s": 0} == {**plain.to_json(), "wall_time_s": 0}
    assert fast.per_sample_df().equals(plain.per_sample_df())
    assert fast.ledger.table.equals(plain.ledger.table)


def _executor_of(arch: str, wl) -> Executor:
    from cimsim.network.weights import load_network
    from cimsim.spec.loader import load_workload

    w = load_workload(wl)
    design = resolve(load_arch(arch), w)
    mp = map_network(design)
    return Executor(build_hardware(design, mp), mp, load_network(w.network, wl.parent), seed=0, passes=3)


def test_gemm_shapes_are_the_gemms_the_executor_runs(tmp_path, monkeypatch):
    """Executor.gemm_shapes (the benchmarks' roofline) lists, per crossbar layer, the rows, fan-in and columns of
    the GEMMs forward() multiplies: pass-invariant layers once, planes collapsed, slices folded."""
    from cimsim.functional import conversion

    wl = _graph_workload(tmp_path)
    ex = _executor_of(str(ROOT / "arch_configs" / "spindrop.yaml"), wl)
    seen: dict[str, list[int]] = {}
    real = conversion.ConversionRoutes._convert_sum

    def spy(self, lp, xm, noise):
        out = real(self, lp, xm, noise)
        rows = int(np.prod(xm.shape[:-1]))
        prev = seen.setdefault(lp.lm.name, [0, xm.shape[-1], out.shape[-1]])
        prev[0] += rows
        return out

    monkeypatch.setattr(conversion.ConversionRoutes, "_convert_sum", spy)
    x = np.random.default_rng(0).integers(0, 8, (5, 3, 8, 8))
    ex.run(x, chunk=2)
    assert [tuple(seen[lp.lm.name]) for lp in ex.layers] == ex.gemm_shapes(5)
    shapes = dict(zip([lp.lm.name for lp in ex.layers], ex.gemm_shapes(5), strict=True))
    assert shapes["c1"][0] == 5 * 64 and shapes["fc"][0] == 3 * 5 and shapes["c3"][0] == 3 * 5 * 64


@pytest.mark.parametrize("c,h,w,k,s,p", [(3, 5, 4, 3, 1, 1), (4, 4, 4, 3, 2, 1), (2, 7, 7, 2, 2, 0),
                                          (5, 3, 3, 3, 1, 1), (8, 9, 9, 3, 1, 1), (6, 17, 16, 3, 2, 1)])
def test_unfold_by_gather_and_by_view_equal_the_reference(c, h, w, k, s, p, monkeypatch):
    """Both im2col routes of functional.ops.unfold (a gather, or a strided view of stacked taps for one image)
    equal layers.unfold, the reference, with and without a row mask, on numpy and (when installed) torch."""
    import array_api_compat.numpy as xnp

    from cimsim.functional import ops
    from cimsim.network.layers import BinaryConv2d
    from cimsim.network.layers import unfold as reference

    layer = BinaryConv2d("c", np.ones((2, c, k, k), np.int8), stride=s, padding=p)
    rng = np.random.default_rng(c * h)
    x = rng.standard_normal((3, c, h, w)).astype(np.float32)
    keep = (rng.random((3, c * k * k)) < 0.7).astype(np.float32)
    want = reference(x, layer)
    namespaces = [(xnp, np.asarray, np.asarray)]
    try:
        import array_api_compat.torch as xt
        import torch

        namespaces.append((xt, torch.from_numpy, lambda a: a.numpy()))
    except ImportError:
        pass
    for view_above in (0, 10 ** 6):   # one image unmasked: the view route when its output is large enough
        monkeypatch.setattr(ops, "VIEW_ABOVE", view_above)
        for xp, dev, host in namespaces:
            np.testing.assert_array_equal(host(ops.unfold(xp, dev(x), layer)), want)
            np.testing.assert_array_equal(host(ops.unfold(xp, dev(x), layer, dev(keep))), want * keep[:, None])
            for i in range(3):
                np.testing.assert_array_equal(host(ops.unfold(xp, dev(x[i: i + 1]), layer)), want[i: i + 1])


@pytest.mark.parametrize("workload,sets", [
    ("digits_cnn.yaml", []),                                          # channel masks, conv windows with padding
    ("digits_cnn.yaml", [("dropout.regenerate", "per_pass")]),
    ("digits_cnn.yaml", [("dropout.regenerate", "per_window")]),
    ("digits_mlp.yaml", []),
    ("digits_mlp_scale.yaml", []),                                    # Scale-Dropout: rows read, not masked
])
def test_driven_rows_from_the_window_geometry_equal_the_non_zeros(workload, sets, monkeypatch):
    """The driven-row tally counted from the window geometry and the keep masks (no pass over the rows) gives
    the bits of counting the rows' non-zeros, in simulate()'s ledger."""
    from cimsim.simulate import Options, simulate
    from cimsim.spec.loader import load_workload

    wl = load_workload(ROOT / "workloads" / workload, sets)
    opts = Options(passes=3, ood=False, corruptions=False, limit=20)
    arch = str(ROOT / "arch_configs" / "spindrop.yaml")
    fast = simulate(arch, wl, opts, base_dir=ROOT / "workloads").ledger.table
    monkeypatch.setattr(Executor, "_driven_rows", lambda self, lp, rows, keep, n: None)
    plain = simulate(arch, wl, opts, base_dir=ROOT / "workloads").ledger.table
    assert fast.equals(plain)
    assert float(fast.energy_j.sum()) > 0
