"""Tests for cimsim.components.mtj against REFERENCES.md §1 equations and worked values."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from cimsim.components import mtj

P0 = mtj.MTJParams()
T0 = 300.0
IC0 = P0.ic0_ref_a
NS = 1e-9


def neel_brown(i, t, delta, tau0=1e-9, e=1.0):
    return -np.expm1(-t / (tau0 * np.exp(delta * (1.0 - i) ** e)))


def butler(i, t, delta, tau_d):
    return np.exp(-(math.pi**2 * delta / 4) * (i - 1) / (i * np.exp(2 * (i - 1) * t / tau_d) - 1))


# ---------------------------------------------------------------- parameters and closed forms


@pytest.mark.parametrize(
    "field, value",
    [
        ("diameter_m", 0.0),
        ("ra_ohm_m2", -1e-12),
        ("delta_ref", float("nan")),
        ("tau0_s", 0.0),
        ("alpha", -0.01),
        ("polarization", 1.0),
        ("tmr0", -0.1),
        ("thermal_cutoff", 1.2),
        ("t_ref_k", 2000.0),
        ("thermal_exponent", 0.0),
    ],
)
def test_params_reject_nonphysical(field, value):
    with pytest.raises(ValueError, match=field):
        mtj.MTJParams(**{field: value})


def test_variation_sigmas_reject_negative():
    with pytest.raises(ValueError, match="ra"):
        mtj.VariationSigmas(ra=-0.01)


def test_resistance_nyu_check_and_default():
    nyu = mtj.MTJParams(ra_ohm_m2=3.18e-12, diameter_m=40e-9)
    assert mtj.r_p_ohm(nyu) == pytest.approx(2530, rel=1e-3)  # utinclab Rp: 2530
    assert mtj.area_m2(P0) == pytest.approx(math.pi * 40e-9**2 / 4, rel=1e-12)
    assert mtj.r_p_ohm(P0) == pytest.approx(5e-12 / mtj.area_m2(P0), rel=1e-12)


def test_tmr_bias_closed_form():
    assert mtj.tmr(P0) == pytest.approx(1.2)
    assert mtj.tmr(P0, 0.5) == pytest.approx(0.6)  # V = V_h halves TMR
    v = np.linspace(-1, 1, 11)
    np.testing.assert_allclose(mtj.tmr(P0, v), 1.2 / (1 + (v / 0.5) ** 2), rtol=1e-14)
    np.testing.assert_allclose(mtj.r_ap_ohm(P0, v), mtj.r_p_ohm(P0) * (1 + 1.2 / (1 + 4 * v**2)), rtol=1e-14)


def test_delta_and_ic0_temperature():
    temps = np.linspace(230, 400, 35)
    d = mtj.delta(P0, temps)
    c = mtj.ic0_a(P0, temps)
    assert mtj.delta(P0, T0) == pytest.approx(60.0, rel=1e-14)
    assert mtj.ic0_a(P0, T0) == pytest.approx(50e-6, rel=1e-14)
    assert np.all(np.diff(d) < 0) and np.all(np.diff(c) < 0)
    # Delta(T) k_B T and I_c0(T) both track E_b(T)
    np.testing.assert_allclose(d * temps / (60 * 300), c / 50e-6, rtol=1e-12)
    simple = dataclasses.replace(P0, eb_ms_exponent=0.0)
    np.testing.assert_allclose(mtj.delta(simple, temps), 60 * 300 / temps, rtol=1e-14)
    np.testing.assert_allclose(mtj.ic0_a(simple, temps), 50e-6, rtol=1e-14)
    with pytest.raises(ValueError):
        mtj.delta(P0, 0.0)


@pytest.mark.parametrize(
    "alpha, eta, delta, expected_ua",
    [(0.01, 0.6, 40, 16.8), (0.01, 0.6, 60, 25.2), (0.02, 0.6, 60, 50.3), (0.03, 0.5, 45, 68.0)],
)
def test_ic0_worked_values(alpha, eta, delta, expected_ua):
    assert mtj.ic0_from_damping_a(delta, 300.0, alpha, eta) * 1e6 == pytest.approx(expected_ua, rel=6e-3)


def test_tau_d():
    assert mtj.tau_d_s(P0) == pytest.approx(1.14e-9, rel=5e-3)


# ---------------------------------------------------------------- switching probability


def test_thermal_regime_exact():
    i = np.linspace(-0.5, 0.999, 301)[:, None]
    t = np.geomspace(1e-10, 1e-5, 11)[None, :]
    for d in (20.0, 40.0, 60.0):
        got = mtj.p_switch(P0, i * IC0, t, T0, delta=d)
        np.testing.assert_allclose(got, neel_brown(i, t, d), rtol=1e-12, atol=0)
    e2 = dataclasses.replace(P0, thermal_exponent=2.0, tau0_s=1e-12)
    got = mtj.p_switch(e2, i * IC0, t, T0)
    np.testing.assert_allclose(got, neel_brown(i, t, 60.0, tau0=1e-12, e=2.0), rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    "params",
    [
        P0,
        dataclasses.replace(P0, thermal_cutoff=0.9),
        dataclasses.replace(P0, thermal_exponent=2.0, delta_ref=40.0),
    ],
)
def test_monotone_in_current_pulse_temperature(params):
    i = np.linspace(0, 5, 2001)
    t = np.geomspace(0.1 * NS, 100 * NS, 61)
    grid = mtj.p_switch(params, i[:, None] * IC0, t[None, :], T0)
    assert np.all(np.diff(grid, axis=0) >= -1e-15)
    assert np.all(np.diff(grid, axis=1) >= -1e-15)
    assert grid.min() >= 0 and grid.max() <= 1
    temps = np.linspace(230, 400, 52)
    for pulse in (1 * NS, 5 * NS, 20 * NS):
        gt = mtj.p_switch(params, i[:, None] * IC0, pulse, temps[None, :])
        assert np.all(np.diff(gt, axis=1) >= -1e-15)
    # the grid really spans both regimes
    assert grid[0, 0] < 1e-15 and grid[-1, -1] == 1.0


@pytest.mark.parametrize("delta", [20.0, 40.0, 60.0])
@pytest.mark.parametrize("pulse", [0.5 * NS, 1 * NS, 5 * NS, 10 * NS, 100 * NS])
def test_continuous_through_bridge(delta, pulse):
    eps = 1e-9
    left, right = mtj.p_switch(P0, np.array([1 - eps, 1 + eps]) * IC0, pulse, T0, delta=delta)
    assert abs(right - left) < 1e-6
    i = np.arange(0.8, 1.5, 1e-4)
    prob = mtj.p_switch(P0, i * IC0, pulse, T0, delta=delta)
    # the steepest thermal slope is dP/di <= Delta/e; anything larger would be a jump
    assert np.max(np.abs(np.diff(prob))) < max(delta / math.e * 1e-4 * 1.05, 5e-4)


def test_butler_worked_table_with_thermal_channel_off():
    """Thermal channel disabled (tau0 huge): the model must be Butler's formula (REFERENCES table)."""
    prec = dataclasses.replace(P0, tau0_s=1e6)
    rows = [(1.5, 5, 0.54), (1.5, 10, 0.993), (2, 1, 0.0), (2, 5, 0.989), (3, 1, 0.052), (3, 5, 1 - 2e-6)]
    for i, t_ns, expected in rows:
        got = float(mtj.p_switch(prec, i * IC0, t_ns * NS, T0))
        assert got == pytest.approx(expected, rel=0.03, abs=1e-3), (i, t_ns)
        assert got == pytest.approx(butler(i, t_ns * NS, 60.0, mtj.tau_d_s(P0)), rel=1e-6, abs=1e-300)


def test_butler_rows_where_default_model_uses_butler():
    """Default model: the Butler rows whose P exceeds the saturated thermal 1 - exp(-t/tau0)."""
    for i, t_ns, expected in [(1.5, 10, 0.993), (2, 5, 0.989), (3, 5, 1 - 2e-6)]:
        assert float(mtj.p_switch(P0, i * IC0, t_ns * NS, T0)) == pytest.approx(expected, rel=0.03)
    # well above I_c0 the precessional channel dominates and pushes P above the thermal plateau
    plateau = -math.expm1(-1.0)
    assert float(mtj.p_switch(P0, 5 * IC0, 1 * NS, T0)) > plateau + 0.3


def test_extremes_finite_and_bounded():
    cur = np.array([-1e-3, 0.0, 1e-12, 0.5 * IC0, IC0, 1e3 * IC0, 1.0, 1e6])
    for t in (0.0, 1e-15, 1e-9, 1.0, 1e6):
        prob = mtj.p_switch(P0, cur, t, T0)
        assert np.all(np.isfinite(prob)) and np.all((prob >= 0) & (prob <= 1))
    assert np.all(mtj.p_switch(P0, cur, 0.0, T0) == 0.0)
    assert float(mtj.p_switch(P0, 1.0, 1e-9, T0)) == 1.0
    with pytest.raises(ValueError):
        mtj.p_switch(P0, IC0, -1e-9, T0)


def test_broadcasting_and_device_overrides():
    out = mtj.p_switch(P0, np.linspace(0.9, 1.2, 3)[:, None] * IC0, np.array([1, 2, 5, 10]) * NS, T0)
    assert out.shape == (3, 4)
    d = np.array([40.0, 60.0])
    per_dev = mtj.p_switch(P0, 0.95 * IC0, 5 * NS, T0, delta=d, ic0_a=np.array([IC0, IC0]))
    np.testing.assert_allclose(per_dev, neel_brown(0.95, 5 * NS, d), rtol=1e-12)
    with pytest.raises(ValueError):
        mtj.p_switch(P0, IC0, NS, T0, delta=-1.0)


# ---------------------------------------------------------------- inverse


@pytest.mark.parametrize("params", [P0, dataclasses.replace(P0, thermal_cutoff=0.9)])
@pytest.mark.parametrize("temperature", [260.0, 300.0, 370.0])
def test_inverse_round_trip(params, temperature):
    target = np.array([0.05, 0.2, 0.5, 0.8])[:, None]
    pulses = np.array([1, 2, 5, 10]) * NS
    for d in (None, 40.0):
        cur = mtj.current_for_probability(params, target, pulses[None, :], temperature, delta=d)
        assert cur.shape == (4, 4)
        back = mtj.p_switch(params, cur, pulses[None, :], temperature, delta=d)
        np.testing.assert_allclose(back, np.broadcast_to(target, back.shape), rtol=0, atol=1e-9)
    assert isinstance(mtj.current_for_probability(params, 0.5, 5 * NS, temperature), float)


@pytest.mark.parametrize("delta, expected", [(40.0, (0.991, 0.951, 0.933)), (60.0, (0.994, 0.967, 0.956))])
def test_operating_point_table(delta, expected):
    cur = mtj.current_for_probability(P0, 0.5, np.array([1, 5, 10]) * NS, T0, delta=delta)
    np.testing.assert_allclose(cur / IC0, expected, atol=6e-4)
    closed = 1 - np.log(np.array([1, 5, 10]) / math.log(2)) / delta
    np.testing.assert_allclose(cur / IC0, closed, rtol=1e-13)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_inverse_rejects_bad_target(bad):
    with pytest.raises(ValueError, match="target_p"):
        mtj.current_for_probability(P0, bad, NS, T0)


# ---------------------------------------------------------------- read disturb, energy


@pytest.mark.parametrize(
    "delta, ratio, t_ns, expected", [(40, 0.5, 2, 4.1e-9), (40, 0.3, 5, 3.5e-12), (60, 0.5, 5, 4.7e-13)]
)
def test_read_disturb_examples(delta, ratio, t_ns, expected):
    params = dataclasses.replace(P0, delta_ref=float(delta))
    got = mtj.read_disturb_probability(params, ratio * IC0, t_ns * NS, T0)
    assert got == pytest.approx(expected, rel=0.02)


def test_read_disturb_tiny_and_thermal_only():
    params = dataclasses.replace(P0, delta_ref=60.0)
    assert mtj.read_disturb_probability(params, 0.3 * IC0, 1 * NS, T0) < 1e-18
    # no precessional term even above I_c0: saturates at the attempt-limited value
    assert mtj.read_disturb_probability(params, 3 * IC0, 1 * NS, T0) == pytest.approx(-math.expm1(-1.0))


def test_write_energy():
    i, t = 50e-6, 5 * NS
    assert mtj.write_energy_j(P0, i, t, "P") == pytest.approx(i**2 * mtj.r_p_ohm(P0) * t, rel=1e-12)
    e_ap = mtj.write_energy_j(P0, i, t, "AP")
    r_ap = e_ap / (i**2 * t)
    assert r_ap == pytest.approx(mtj.r_ap_ohm(P0, i * r_ap), rel=1e-10)  # self-consistent bias
    assert mtj.r_p_ohm(P0) < r_ap < mtj.r_p_ohm(P0) * 2.2
    tiny = mtj.write_energy_j(P0, 1e-9, t, "AP") / (1e-18 * t)
    assert tiny == pytest.approx(mtj.r_p_ohm(P0) * 2.2, rel=1e-6)
    assert np.all(np.diff(mtj.write_energy_j(P0, np.linspace(0, 1e-4, 50), t, "AP")) > 0)
    with pytest.raises(ValueError, match="state"):
        mtj.write_energy_j(P0, i, t, "X")  # type: ignore[arg-type]


# ---------------------------------------------------------------- process variation

N_DEV = 200_000


def _lognormal_log_sigma(rel):
    return math.sqrt(math.log1p(rel**2))


def test_variation_statistics():
    sig = mtj.VariationSigmas()
    s = mtj.sample_devices(P0, sig, N_DEV, np.random.default_rng(1234), T0)
    for arr, nominal, rel in [
        (s.delta, 60.0, sig.delta),
        (s.ic0_a, IC0, sig.ic0),
        (s.tmr, 1.2, sig.tmr),
        (s.diameter_m, 40e-9, sig.diameter),
    ]:
        assert arr.shape == (N_DEV,)
        assert abs(arr.mean() / nominal - 1) < 4 * rel / math.sqrt(N_DEV)
        # std of the sample std of a near-normal variable is ~ sigma / sqrt(2n)
        assert abs(arr.std() / (nominal * rel) - 1) < 4 / math.sqrt(2 * N_DEV) + 0.002
    # R_P = RA / area: log-spread adds RA and 2x diameter spreads
    log_rp = np.log(s.r_p_ohm / mtj.r_p_ohm(P0))
    s_rp = math.hypot(_lognormal_log_sigma(sig.ra), 2 * _lognormal_log_sigma(sig.diameter))
    assert abs(log_rp.std() / s_rp - 1) < 4 / math.sqrt(2 * N_DEV)
    corr = np.corrcoef(np.vstack([s.delta, s.ic0_a, s.r_p_ohm, s.tmr]))
    assert corr[0, 1] > 0.5  # both scale with E_b
    assert corr[0, 2] < -0.3  # bigger pillar: larger barrier, lower resistance
    assert abs(corr[0, 3]) < 4 / math.sqrt(N_DEV)


def test_variation_zero_sigma_is_nominal():
    zero = mtj.VariationSigmas(ra=0, tmr=0, diameter=0, delta=0, ic0=0)
    s = mtj.sample_devices(P0, zero, 100, np.random.default_rng(0), 350.0)
    assert np.all(s.delta == mtj.delta(P0, 350.0)) and np.all(s.ic0_a == mtj.ic0_a(P0, 350.0))
    assert np.all(s.r_p_ohm == pytest.approx(mtj.r_p_ohm(P0), rel=1e-15))
    assert np.all(s.tmr == 1.2) and np.all(s.diameter_m == 40e-9)


def test_variation_reproducible_and_usable():
    a = mtj.sample_devices(P0, mtj.VariationSigmas(), 1000, np.random.default_rng(7), T0)
    b = mtj.sample_devices(P0, mtj.VariationSigmas(), 1000, np.random.default_rng(7), T0)
    c = mtj.sample_devices(P0, mtj.VariationSigmas(), 1000, np.random.default_rng(8), T0)
    for f in dataclasses.fields(a):
        np.testing.assert_array_equal(getattr(a, f.name), getattr(b, f.name))
    assert not np.array_equal(a.delta, c.delta)
    i_w = mtj.current_for_probability(P0, 0.5, 5 * NS, T0)
    prob = mtj.p_switch(P0, i_w, 5 * NS, T0, delta=a.delta, ic0_a=a.ic0_a)
    assert prob.shape == (1000,) and 0.3 < prob.mean() < 0.7 and prob.std() > 0.05
    with pytest.raises(ValueError):
        mtj.sample_devices(P0, mtj.VariationSigmas(), -1, np.random.default_rng(0), T0)


# ---------------------------------------------------------------- s-LLG cross-check (slow)


def _sllg_p_switch(i, t_pulse_s, delta=60.0, alpha=0.01, mu0_hk_t=0.5, n=2048, dtau=0.05, seed=0):
    """Macrospin stochastic LLG, PMA, Slonczewski STT polariser +z, Heun; reduced units.

    h = H/H_k, tau = gamma mu0 H_k t; thermal field variance alpha/(Delta dtau) per component;
    critical STT amplitude is alpha, so a_J = i * alpha. Start: thermal equilibrium around -z.
    """
    rng = np.random.default_rng(seed)
    tau_total = mtj.GAMMA_RAD_PER_S_T * mu0_hk_t * t_pulse_s
    steps = int(np.ceil(tau_total / dtau))
    dtau = tau_total / steps
    a_j = i * alpha
    th = rng.normal(0, math.sqrt(1 / (2 * delta)), (2, n))
    m = np.vstack([th[0], th[1], -np.sqrt(np.clip(1 - th[0] ** 2 - th[1] ** 2, 0, 1))])
    m /= np.linalg.norm(m, axis=0)
    pol = np.broadcast_to(np.array([0.0, 0.0, 1.0])[:, None], m.shape)
    sig = math.sqrt(alpha / (delta * dtau))
    c = 1.0 / (1 + alpha**2)

    def rhs(m, h_th):
        h = h_th.copy()
        h[2] += m[2]
        mxh = np.cross(m, h, axis=0)
        return -c * (mxh + alpha * np.cross(m, mxh, axis=0)) - c * a_j * np.cross(
            m, np.cross(m, pol, axis=0), axis=0
        )

    for _ in range(steps):
        h_th = sig * rng.standard_normal((3, n))
        k1 = rhs(m, h_th)
        mp = m + dtau * k1
        mp /= np.linalg.norm(mp, axis=0)
        m = m + 0.5 * dtau * (k1 + rhs(mp, h_th))
        m /= np.linalg.norm(m, axis=0)
    return float(np.mean(m[2] > 0))


@pytest.mark.slow
def test_butler_channel_against_sllg_macrospin():
    """The precessional channel (Butler) agrees with a numpy s-LLG macrospin for i >= 2."""
    prec = dataclasses.replace(P0, tau0_s=1e6)
    for i, t_ns in [(2.0, 5.0), (3.0, 1.0), (3.0, 2.0)]:
        sim = _sllg_p_switch(i, t_ns * NS)
        model = float(mtj.p_switch(prec, i * IC0, t_ns * NS, T0))
        assert sim == pytest.approx(model, abs=0.05), (i, t_ns, sim, model)
