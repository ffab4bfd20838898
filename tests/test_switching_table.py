"""The shipped stochastic-LLG switching table: file, coverage, monotonicity, limits, inverse, temperature,
and (slow) agreement with fresh macrospin runs. docs/mtj_model.md describes the model and the numbers."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.special import expit

from cimsim.components import mtj, mtj_switching
from cimsim.components.switching import validate
from cimsim.components.switching.table import SwitchingTable, _expit, load_table, shipped_table_path

TABLE = load_table()
NS = 1e-9
# the Spindrop modules' device (arch default: Delta 40, I_c0 = 50 uA x 40/60) and the storage device
DROP = mtj.MTJParams(delta_ref=40.0, ic0_ref_a=50e-6 * 40 / 60)
STORE = mtj.MTJParams()
IC0 = DROP.ic0_ref_a


def test_file_is_plain_arrays_with_provenance():
    with np.load(shipped_table_path(), allow_pickle=False) as f:
        assert {"i", "delta", "tau_d", "n_switched", "n_traj", "seed", "logit_p", "generator"} <= set(f.files)
        assert str(f["generator"]).startswith("cmtj")
    assert TABLE.n_traj >= 1000
    assert TABLE.n_switched.shape == (TABLE.i.size, TABLE.delta.size, TABLE.tau_d.size)
    lg = TABLE.logit_p
    assert np.all(np.diff(lg, axis=0) >= 0) and np.all(np.diff(lg, axis=2) >= 0) and np.all(np.diff(lg, axis=1) <= 0)


@pytest.mark.parametrize("seed", range(3))
def test_numpy_pchip_equals_scipy(seed):
    """The run-time PCHIP (numpy, cimsim/components/switching/pchip.py) is scipy's PchipInterpolator: random
    nodes with flat runs and sign changes, 1-D and N-D along any axis, queries at and between the nodes."""
    from scipy.interpolate import PchipInterpolator

    from cimsim.components.switching.pchip import Pchip

    rng = np.random.default_rng(seed)
    for _ in range(100):
        n = int(rng.integers(2, 12))
        x = np.cumsum(rng.uniform(0.01, 2.0, n))
        y = rng.normal(size=(n, 3, 2))
        y[rng.integers(n)] = y[rng.integers(n)]  # repeated values: flat secants, extrema
        axis = int(rng.integers(3))
        y = np.moveaxis(y, 0, axis)
        q = np.concatenate([x, rng.uniform(x[0], x[-1], 17)]).reshape(-1, 1)
        want = PchipInterpolator(x, y, axis=axis)(q)
        got = Pchip(x, y, axis=axis)(q)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)


def test_refined_table_equals_scipy_refinement():
    """The refinement the interpolator reads, computed by scipy's PCHIP instead, agrees to round-off."""
    from scipy.interpolate import PchipInterpolator

    from cimsim.components.switching.table import UPSAMPLE

    c = TABLE.logit_p
    for axis, m in enumerate(UPSAMPLE):
        n = c.shape[axis]
        c = PchipInterpolator(np.arange(n, dtype=float), c, axis=axis)(np.linspace(0, n - 1, (n - 1) * m + 1))
    c = np.minimum.accumulate(np.maximum.accumulate(np.maximum.accumulate(c, axis=2), axis=0), axis=1)
    np.testing.assert_allclose(TABLE._coefficients, c, rtol=0, atol=1e-12)
    x = np.linspace(-40.0, 40.0, 100001)
    np.testing.assert_allclose(_expit(x), expit(x), rtol=1e-15, atol=0)


def test_projection_stays_within_the_binomial_noise():
    """The monotone projection moves node values by no more than Monte-Carlo noise explains."""
    k, n = TABLE.n_switched, TABLE.n_traj
    raw = k / n
    f = TABLE.floor
    proj = np.clip((expit(TABLE.logit_p) - f) / (1 - 2 * f), 0, 1)
    z = np.abs(proj - raw) / TABLE.p_error(raw)
    assert np.mean(z < 3) > 0.99
    assert np.max(np.abs(proj - raw)) < 0.05


def test_required_coverage():
    lo, hi = TABLE.ranges()["i"]
    assert lo <= 0.5 and hi >= 4.0
    lo, hi = TABLE.ranges()["delta"]
    assert lo <= 20 and hi >= 90
    temps = np.linspace(200, 420, 12)
    for dev in (DROP, STORE):
        d = np.asarray(mtj.delta(dev, temps))
        assert d.min() >= lo and d.max() <= hi
    lo, hi = TABLE.ranges()["tau_d"]
    for alpha in (0.005, 0.05):
        dev = dataclasses.replace(DROP, alpha=alpha)
        for t_k in (200.0, 420.0):
            tau_d = float(mtj.tau_d_s(dev, t_k))
            assert lo <= 0.5 * NS / tau_d and 100 * NS / tau_d <= hi, (alpha, t_k)


@pytest.mark.parametrize(
    "kwargs, name",
    [({"current_a": 0.3 * IC0}, "i"), ({"pulse_s": 20e-6}, "tau_d"), ({"pulse_s": 0.01 * NS}, "tau_d"),
     ({"delta": 150.0}, "delta"), ({"current_a": 11 * IC0}, "i")],
)
def test_outside_the_table_is_a_value_error_naming_the_parameter(kwargs, name):
    args = {"current_a": IC0, "pulse_s": 10 * NS, "delta": None} | kwargs
    with pytest.raises(ValueError, match=rf"^{name}: .* outside the switching table"):
        mtj_switching.p_switch(DROP, args["current_a"], args["pulse_s"], 300.0, delta=args["delta"])


def test_unreachable_target_names_target_p():
    with pytest.raises(ValueError, match="^target_p: .* not reachable"):
        mtj_switching.current_for_probability(DROP, 0.999999, 0.5 * NS, 300.0)


def test_limits_zero_and_one():
    assert TABLE.p(TABLE.i[0], TABLE.delta[-1], TABLE.tau_d[0]) == 0.0
    assert TABLE.p(TABLE.i[-1], TABLE.delta[0], TABLE.tau_d[-1]) == 1.0
    assert float(mtj_switching.p_switch(DROP, IC0, 0.0, 300.0)) == 0.0  # no pulse, no switch


def test_dense_grid_monotone_and_bounded():
    i = np.linspace(TABLE.i[0], TABLE.i[-1], 401)
    tau = np.geomspace(TABLE.tau_d[0], TABLE.tau_d[-1], 121)
    for d in (15.0, 22.5, 40.0, 47.0, 65.0, 99.0):
        g = TABLE.p(i[:, None], d, tau[None, :])
        assert g.min() >= 0 and g.max() <= 1
        assert np.all(np.diff(g, axis=0) >= -1e-12) and np.all(np.diff(g, axis=1) >= -1e-12)
    dd = np.linspace(TABLE.delta[0], TABLE.delta[-1], 171)
    for ii in (0.6, 0.95, 1.07, 1.6):
        g = TABLE.p(ii, dd[:, None], tau[None, :])
        assert np.all(np.diff(g, axis=0) <= 1e-12)


_i = st.floats(0.45, 4.5)
_d = st.floats(15.0, 100.0)
_lt = st.floats(math.log(0.1), math.log(1000.0))
_step = st.floats(1e-6, 0.5)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(_i, _d, _lt, _step)
def test_monotone_everywhere(i, d, lt, h):
    t = math.exp(lt)
    p = float(TABLE.p(i, d, t))
    assert float(TABLE.p(min(i + h, 4.5), d, t)) >= p - 1e-12
    assert float(TABLE.p(i, min(d + 20 * h, 100.0), t)) <= p + 1e-12
    assert float(TABLE.p(i, d, min(t * math.exp(h), 1000.0))) >= p - 1e-12


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.floats(250.0, 400.0), st.floats(0.1, 20.0), st.floats(0.75, 1.6), st.floats(3.0, 50.0))
def test_p_rises_with_temperature_at_fixed_current(t_k, dt, ratio, pulse_ns):
    """T lowers Delta and I_c0 (P up) and H_k (longer tau_D, P down); the first wins wherever P is resolved.

    Within 1e-4 of 0 or 1 the opposing tau_D(T) term can win by < 1e-7, below the table's resolution 1/N."""
    cur = ratio * IC0
    lo = float(mtj_switching.p_switch(DROP, cur, pulse_ns * NS, t_k))
    hi = float(mtj_switching.p_switch(DROP, cur, pulse_ns * NS, t_k + dt))
    assume(1e-4 < lo < 1 - 1e-4)
    assert hi >= lo - 1e-12


def test_thermal_drift_of_the_spindrop_operating_point():
    """Current tuned for p = 0.2 at 300 K: p drifts up with T and down when cold (no compensation)."""
    cur = mtj_switching.current_for_probability(DROP, 0.2, 10 * NS, 300.0)
    temps = np.array([233.0, 273.0, 300.0, 350.0, 398.0])
    prob = mtj_switching.p_switch(DROP, cur, 10 * NS, temps)
    assert prob[2] == pytest.approx(0.2, abs=1e-9)
    assert np.all(np.diff(prob) > 0)
    assert prob[0] < 0.1 and prob[-1] > 0.35


@pytest.mark.parametrize("t_k", [233.0, 300.0, 398.0])
def test_inverse_round_trip(t_k):
    target = np.array([0.05, 0.2, 0.5, 0.8, 0.98])[:, None]
    pulses = np.array([2.0, 5.0, 10.0, 50.0])[None, :] * NS
    cur = mtj_switching.current_for_probability(DROP, target, pulses, t_k)
    assert cur.shape == (5, 4)
    back = mtj_switching.p_switch(DROP, cur, pulses, t_k)
    np.testing.assert_allclose(back, np.broadcast_to(target, back.shape), atol=1e-9, rtol=0)
    assert np.all(np.diff(cur, axis=0) > 0) and np.all(np.diff(cur, axis=1) < 0)
    # per-device overrides broadcast like p_switch's
    d = np.array([35.0, 40.0, 45.0])
    per_dev = mtj_switching.current_for_probability(DROP, 0.3, 10 * NS, t_k, delta=d)
    np.testing.assert_allclose(mtj_switching.p_switch(DROP, per_dev, 10 * NS, t_k, delta=d), 0.3, atol=1e-9)


def test_slope_and_error_helpers():
    cur = mtj_switching.current_for_probability(DROP, 0.2, 10 * NS, 300.0)
    slope = float(mtj_switching.dp_dcurrent(DROP, cur, 10 * NS, 300.0))
    h = 1e-3 * IC0
    fd = float(np.diff(mtj_switching.p_switch(DROP, np.array([cur - h, cur + h]), 10 * NS, 300.0))[0]) / (2 * h)
    assert slope == pytest.approx(fd, rel=0.02)
    # SpinDrop operating point: the macrospin slope dP/d(I/I_c0) is O(1), not the ~8 of the old analytic law
    assert 0.8 < slope * IC0 < 4.0
    err = float(mtj_switching.p_switch_error(DROP, cur, 10 * NS, 300.0))
    assert err == pytest.approx(math.sqrt(0.2 * 0.8 / TABLE.n_traj), rel=1e-6)
    an = dataclasses.replace(DROP, switching_model="analytic", nb_min_barrier=0.0)
    assert np.isnan(mtj_switching.p_switch_error(an, cur, 10 * NS, 300.0))  # no Monte-Carlo error for closed forms


@pytest.mark.slow
def test_table_against_fresh_numpy_macrospin():
    """>= 20 random off-grid points over the whole required range (I/I_c0 0.5-4, Delta 20-90, t_p 0.5-100 ns,
    alpha 0.005-0.05), each simulated afresh at its physical damping by the independent numpy s-LLG."""
    rng = np.random.default_rng(20231)
    points = validate.random_points(24, rng, pulse_range_s=(0.5e-9, 30e-9))
    res = np.array([validate.fresh_p(p, 600, rng) for p in points])
    stats = validate.compare(TABLE, points, res[:, 0], res[:, 1])
    pt = TABLE.p([p.i for p in points], [p.delta for p in points], [p.tau_d for p in points])
    sig = np.hypot(TABLE.p_error(pt), res[:, 1])
    # 3 sigma binomial plus an interpolation allowance of 0.03 (the grid spacing's largest error, docs)
    assert np.all(np.abs(pt - res[:, 0]) <= 3 * sig + 0.03), stats
    assert stats["median_abs_dp"] <= 0.03 and stats["max_abs_dp"] <= 0.10


@pytest.mark.slow
def test_reduction_alpha_and_temperature_in_cmtj():
    """cmtj at a physical damping and temperature reproduces the table generated at alpha = 1, 300 K."""
    pytest.importorskip("cmtj")
    from cimsim.components.switching.calibrate import CmtjDevice, cmtj_trajectories

    for i, d, tau, alpha, t_k in [(1.3, 40.0, 4.0, 0.01, 398.0), (0.85, 25.0, 30.0, 0.03, 233.0)]:
        dev = CmtjDevice(alpha=alpha, temperature_k=t_k, dt_tau_d=0.05 * alpha / (1 + alpha**2))
        k = cmtj_trajectories(i, d, np.array([tau]), 800, np.random.SeedSequence(7), dev)[0]
        p_fresh = k / 800
        p_tab = float(TABLE.p(i, d, tau))
        sig = math.hypot(float(TABLE.p_error(p_tab)), math.sqrt(max(p_fresh * (1 - p_fresh), 1e-4) / 800))
        assert abs(p_tab - p_fresh) <= 3 * sig + 0.03, (i, d, tau, alpha, t_k, p_tab, p_fresh)


def test_precessional_rows_reach_the_upper_band_for_short_pulses():
    """Issue 19: below ~0.65 tau_D the 0.45-4.5 table could not reach the upper half of the 0.05-0.95 band
    (here P(4.4 I_c0) = 0.10 at Delta 30, 0.5 tau_D and 0.17 at Delta 45, 0.6 tau_D); the rows up to 10 I_c0
    reach 0.95 down to ~0.45 tau_D."""
    assert TABLE.ranges()["i"] == (0.45, 10.0)
    for d, tau in ((30.0, 0.5), (45.0, 0.6), (45.0, 0.45)):
        assert float(TABLE.p(4.4, d, tau)) < 0.5
        assert float(TABLE.p(10.0, d, tau)) > 0.95
        i = float(TABLE.i_for_p(0.95, d, tau))
        assert 4.5 < i <= 10 and float(TABLE.p(i, d, tau)) == pytest.approx(0.95, abs=1e-9)


def test_precessional_block_projection_keeps_the_lower_rows():
    """The rows above 4.75 I_c0 are projected on their own and raised to the last lower row, so the 0.45-4.5
    rows are the stand-alone projection of their counts and the whole table stays monotone."""
    from cimsim.components.switching.calibrate import PRECESSIONAL_FROM_I
    from cimsim.components.switching.table import monotone_logit

    n_low = int(np.sum(TABLE.i <= PRECESSIONAL_FROM_I))
    assert n_low == 28
    np.testing.assert_allclose(TABLE.logit_p[:n_low], monotone_logit(TABLE.n_switched[:n_low], TABLE.n_traj),
                               rtol=0, atol=1e-12)
    lg = TABLE.logit_p
    assert np.all(np.diff(lg, axis=0) >= 0) and np.all(np.diff(lg, axis=1) <= 0) and np.all(np.diff(lg, axis=2) >= 0)


def test_extending_a_table_equals_generating_it_whole(tmp_path):
    """`calibrate mtj --extend`: the rows of the base table are copied, the new ones seeded by their index."""
    pytest.importorskip("cmtj")
    from cimsim.components.switching.calibrate import Grid, generate_table

    tau = (0.3, 1.0, 3.0, 10.0)
    deltas = (20.0, 30.0, 40.0, 60.0)
    base = generate_table(tmp_path / "base.npz", n_traj=20, seed=5, grid=Grid((0.8, 1.5, 3.0, 4.5), deltas, tau))
    big = Grid((0.8, 1.5, 3.0, 4.5, 6.0, 8.0), deltas, tau)
    ext = generate_table(tmp_path / "ext.npz", n_traj=20, seed=5, grid=big, extend=base)
    whole = generate_table(tmp_path / "whole.npz", n_traj=20, seed=5, grid=big)
    a, b, c = (SwitchingTable.load(p) for p in (base, ext, whole))
    np.testing.assert_array_equal(b.n_switched, c.n_switched)
    np.testing.assert_array_equal(b.logit_p[:4], a.logit_p)
    with pytest.raises(ValueError, match="n_traj differs"):
        generate_table(tmp_path / "bad.npz", n_traj=30, seed=5, grid=big, extend=base)


@pytest.mark.slow
def test_precessional_rows_against_fresh_numpy_macrospin():
    """24 off-grid points over I/I_c0 4.5-10, Delta 20-90, t_p 0.25-1.5 ns, alpha 0.005-0.05, each simulated
    afresh at its physical damping by the independent numpy s-LLG (1000 trajectories; docs/mtj_model.md)."""
    rng = np.random.default_rng(20261205)
    points = validate.random_points(24, rng, i_range=(4.5, 10.0), pulse_range_s=(0.25e-9, 1.5e-9))
    res = np.array([validate.fresh_p(p, 1000, rng) for p in points])
    stats = validate.compare(TABLE, points, res[:, 0], res[:, 1])
    pt = TABLE.p([p.i for p in points], [p.delta for p in points], [p.tau_d for p in points])
    sig = np.hypot(TABLE.p_error(pt), res[:, 1])
    assert np.all(np.abs(pt - res[:, 0]) <= 3 * sig + 0.03), stats
    assert stats["median_abs_dp"] <= 0.03 and stats["max_abs_dp"] <= 0.10


@pytest.mark.slow
def test_precessional_rows_against_cmtj_at_physical_damping():
    """cmtj at alpha 0.005-0.02 and 250-350 K (800 trajectories, step 0.02 alpha/(1+alpha^2) tau_D) reproduces the
    precessional rows generated at alpha = 1, 300 K (measured: 0.8, 1.2 and 0.1 sigma; docs/mtj_model.md)."""
    pytest.importorskip("cmtj")
    from cimsim.components.switching.calibrate import CmtjDevice, cmtj_trajectories

    for i, d, tau, alpha, t_k in [(7.3, 52.0, 0.43, 0.01, 350.0), (5.6, 33.0, 0.62, 0.02, 300.0),
                                  (9.1, 75.0, 0.33, 0.005, 250.0)]:
        dev = CmtjDevice(alpha=alpha, temperature_k=t_k, dt_tau_d=0.02 * alpha / (1 + alpha**2))
        p_fresh = cmtj_trajectories(i, d, np.array([tau]), 800, np.random.SeedSequence(11), dev)[0] / 800
        p_tab = float(TABLE.p(i, d, tau))
        sig = math.hypot(float(TABLE.p_error(p_tab)), math.sqrt(max(p_fresh * (1 - p_fresh), 1e-4) / 800))
        assert abs(p_tab - p_fresh) <= 3 * sig, (i, d, tau, alpha, t_k, p_tab, p_fresh)
