"""Tests for cimsim.components.mtj against REFERENCES.md §1 equations and worked values."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from cimsim.components import mtj, mtj_switching, mtj_thermal

pytestmark = pytest.mark.filterwarnings("ignore::cimsim.components.mtj_switching.AnalyticValidityWarning")

P0 = mtj.MTJParams(switching_model="analytic")  # closed-form tests; the table has tests/test_switching_table.py
NB = dataclasses.replace(P0, nb_min_barrier=0.0)  # Neel-Brown all the way up to I_c0 (REFERENCES' textbook law)
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
        ("butler_min_ratio", 1.0),
        ("nb_min_barrier", -1.0),
        ("switching_model", "table"),
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


# ---------------------------------------------------------------- switching probability (analytic model)


def test_thermal_regime_exact():
    i = np.linspace(-0.5, 0.999, 301)[:, None]
    t = np.geomspace(1e-10, 1e-5, 11)[None, :]
    for d in (20.0, 40.0, 60.0):
        got = mtj_switching.p_switch(NB, i * IC0, t, T0, delta=d)
        np.testing.assert_allclose(got, neel_brown(i, t, d), rtol=1e-12, atol=0)
    e2 = dataclasses.replace(NB, thermal_exponent=2.0, tau0_s=1e-12)
    got = mtj_switching.p_switch(e2, i * IC0, t, T0)
    np.testing.assert_allclose(got, neel_brown(i, t, 60.0, tau0=1e-12, e=2.0), rtol=1e-12, atol=0)
    # with the default validity limit Neel-Brown holds wherever the barrier is >= 5 kT
    i_ok = np.linspace(-0.5, 1 - 5 / 40, 50)[:, None]
    np.testing.assert_allclose(mtj_switching.p_switch(P0, i_ok * IC0, t, T0, delta=40.0), neel_brown(i_ok, t, 40.0),
                               rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    "params",
    [P0, NB, dataclasses.replace(P0, thermal_exponent=2.0, delta_ref=40.0), dataclasses.replace(P0, tau0_s=1e-13)],
)
def test_monotone_in_current_pulse_temperature(params):
    i = np.linspace(0, 5, 2001)
    t = np.geomspace(0.1 * NS, 100 * NS, 61)
    grid = mtj_switching.p_switch(params, i[:, None] * IC0, t[None, :], T0)
    assert np.all(np.diff(grid, axis=0) >= -1e-15)
    assert np.all(np.diff(grid, axis=1) >= -1e-15)
    assert grid.min() >= 0 and grid.max() <= 1
    temps = np.linspace(230, 400, 52)
    for pulse in (1 * NS, 5 * NS, 20 * NS):
        gt = mtj_switching.p_switch(params, i[:, None] * IC0, pulse, temps[None, :])
        assert np.all(np.diff(gt, axis=1) >= -1e-12)
    # the grid really spans both regimes
    assert grid[0, 0] < 1e-15 and grid[-1, -1] == 1.0


@pytest.mark.parametrize("delta", [20.0, 40.0, 60.0])
@pytest.mark.parametrize("pulse", [0.5 * NS, 1 * NS, 5 * NS, 10 * NS, 100 * NS])
def test_continuous_through_bridge(delta, pulse):
    i = np.arange(0.5, 4.0, 1e-4)
    prob = mtj_switching.p_switch(P0, i * IC0, pulse, T0, delta=delta)
    # no jump: the largest step between neighbours stays that of a steep but continuous curve
    assert np.max(np.abs(np.diff(prob))) < 5e-3
    i_a = 1 - 5 / delta
    left, right = mtj_switching.p_switch(P0, np.array([i_a - 1e-9, i_a + 1e-9]) * IC0, pulse, T0, delta=delta)
    assert abs(right - left) < 1e-6


def test_bridge_warns_and_closed_forms_do_not():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", mtj_switching.AnalyticValidityWarning)
        mtj_switching.p_switch(P0, 0.5 * IC0, 10 * NS, T0, delta=40.0)  # barrier 10 kT: Neel-Brown
        mtj_switching.p_switch(P0, 3.0 * IC0, 2 * NS, T0, delta=40.0)  # precessional: Butler
    with pytest.warns(mtj_switching.AnalyticValidityWarning, match="bridge"):
        mtj_switching.p_switch(P0, 1.0 * IC0, 10 * NS, T0, delta=40.0)


def test_butler_worked_table_with_thermal_channel_off():
    """Thermal channel disabled (tau0 huge): the model must be Butler's formula (REFERENCES table)."""
    prec = dataclasses.replace(P0, tau0_s=1e6)
    rows = [(1.5, 5, 0.54), (1.5, 10, 0.993), (2, 1, 0.0), (2, 5, 0.989), (3, 1, 0.052), (3, 5, 1 - 2e-6)]
    for i, t_ns, expected in rows:
        got = float(mtj_switching.p_switch(prec, i * IC0, t_ns * NS, T0))
        assert got == pytest.approx(expected, rel=0.03, abs=1e-3), (i, t_ns)
        assert got == pytest.approx(butler(i, t_ns * NS, 60.0, mtj.tau_d_s(P0)), rel=1e-6, abs=1e-300)


def test_precessional_regime_follows_butler_in_pulse_length_no_thermal_floor():
    """Above I_c0 the default analytic model is Butler's law in t_p, not a frozen 1/tau0 thermal rate."""
    tau_d = mtj.tau_d_s(P0)
    for i in (3.0, 4.0):
        t = np.linspace(0.9, 3.0, 8) * NS  # where Butler exceeds the Neel-Brown rate at its validity limit
        got = mtj_switching.p_switch(P0, i * IC0, t, T0)
        np.testing.assert_allclose(got, butler(i, t, 60.0, tau_d), rtol=1e-9, atol=1e-300)
        assert np.all(np.diff(got) > 0)
    # the old model's floor: 1 - exp(-t/tau0) = 0.63 at 1 ns for every i >= 1; Butler gives 0.05 at i = 3
    assert float(mtj_switching.p_switch(P0, 3 * IC0, 1 * NS, T0)) == pytest.approx(0.052, abs=2e-3)
    assert float(mtj_switching.p_switch(P0, 1.2 * IC0, 1 * NS, T0)) < -math.expm1(-1.0) / 10


def test_extremes_finite_and_bounded():
    cur = np.array([-1e-3, 0.0, 1e-12, 0.5 * IC0, IC0, 1e3 * IC0, 1.0, 1e6])
    for t in (0.0, 1e-15, 1e-9, 1.0, 1e6):
        prob = mtj_switching.p_switch(P0, cur, t, T0)
        assert np.all(np.isfinite(prob)) and np.all((prob >= 0) & (prob <= 1))
    assert np.all(mtj_switching.p_switch(P0, cur, 0.0, T0) == 0.0)
    assert float(mtj_switching.p_switch(P0, 1.0, 1e-9, T0)) == 1.0
    with pytest.raises(ValueError):
        mtj_switching.p_switch(P0, IC0, -1e-9, T0)


def test_broadcasting_and_device_overrides():
    out = mtj_switching.p_switch(P0, np.linspace(0.9, 1.2, 3)[:, None] * IC0, np.array([1, 2, 5, 10]) * NS, T0)
    assert out.shape == (3, 4)
    d = np.array([40.0, 60.0])
    per_dev = mtj_switching.p_switch(NB, 0.95 * IC0, 5 * NS, T0, delta=d, ic0_a=np.array([IC0, IC0]))
    np.testing.assert_allclose(per_dev, neel_brown(0.95, 5 * NS, d), rtol=1e-12)
    with pytest.raises(ValueError):
        mtj_switching.p_switch(P0, IC0, NS, T0, delta=-1.0)


def test_tau_d_follows_hk_temperature():
    assert mtj.tau_d_s(P0, 300.0) == pytest.approx(mtj.tau_d_s(P0), rel=1e-14)
    temps = np.linspace(200, 420, 23)
    # H_k = 2K/(mu0 Ms) with K ~ Ms^n: tau_D ~ 1/H_k ~ Ms^(1-n) grows as Ms falls
    ratio = np.asarray(mtj.energy_barrier_ratio(P0, temps)) ** ((P0.eb_ms_exponent - 1) / P0.eb_ms_exponent)
    np.testing.assert_allclose(mtj.tau_d_s(P0, temps), mtj.tau_d_s(P0) / ratio, rtol=1e-12)
    assert np.all(np.diff(mtj.tau_d_s(P0, temps)) > 0)


# ---------------------------------------------------------------- inverse


@pytest.mark.parametrize("params", [P0, NB])
@pytest.mark.parametrize("temperature", [260.0, 300.0, 370.0])
def test_inverse_round_trip(params, temperature):
    target = np.array([0.05, 0.2, 0.5, 0.8])[:, None]
    pulses = np.array([1, 2, 5, 10]) * NS
    for d in (None, 40.0):
        cur = mtj_switching.current_for_probability(params, target, pulses[None, :], temperature, delta=d)
        assert cur.shape == (4, 4)
        back = mtj_switching.p_switch(params, cur, pulses[None, :], temperature, delta=d)
        np.testing.assert_allclose(back, np.broadcast_to(target, back.shape), rtol=0, atol=1e-9)
    assert isinstance(mtj_switching.current_for_probability(params, 0.5, 5 * NS, temperature), float)


@pytest.mark.parametrize("delta, expected", [(40.0, (0.991, 0.951, 0.933)), (60.0, (0.994, 0.967, 0.956))])
def test_operating_point_table(delta, expected):
    cur = mtj_switching.current_for_probability(NB, 0.5, np.array([1, 5, 10]) * NS, T0, delta=delta)
    np.testing.assert_allclose(cur / IC0, expected, atol=6e-4)
    closed = 1 - np.log(np.array([1, 5, 10]) / math.log(2)) / delta
    np.testing.assert_allclose(cur / IC0, closed, rtol=1e-13)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_inverse_rejects_bad_target(bad):
    with pytest.raises(ValueError, match="target_p"):
        mtj_switching.current_for_probability(P0, bad, NS, T0)


# ---------------------------------------------------------------- read disturb, energy


@pytest.mark.parametrize(
    "delta, ratio, t_ns, expected", [(40, 0.5, 2, 4.1e-9), (40, 0.3, 5, 3.5e-12), (60, 0.5, 5, 4.7e-13)]
)
def test_read_disturb_examples(delta, ratio, t_ns, expected):
    params = dataclasses.replace(P0, delta_ref=float(delta))
    got = mtj_thermal.read_disturb_probability(params, ratio * IC0, t_ns * NS, T0)
    assert got == pytest.approx(expected, rel=0.02)


def test_read_disturb_tiny_and_thermal_only():
    params = dataclasses.replace(P0, delta_ref=60.0)
    assert mtj_thermal.read_disturb_probability(params, 0.3 * IC0, 1 * NS, T0) < 1e-18
    # no precessional term even above I_c0: saturates at the attempt-limited value
    assert mtj_thermal.read_disturb_probability(params, 3 * IC0, 1 * NS, T0) == pytest.approx(-math.expm1(-1.0))


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
    corr = np.corrcoef(np.log(np.vstack([s.delta, s.ic0_a, s.r_p_ohm, s.tmr])))
    s_d, s_delta, s_ic0 = (_lognormal_log_sigma(x) for x in (sig.diameter, sig.delta, sig.ic0))
    shared = min(2 * s_d, s_delta, s_ic0)  # the common area factor of Delta and I_c0
    tol = 4 / math.sqrt(N_DEV)
    assert corr[0, 1] == pytest.approx(shared**2 / (s_delta * s_ic0), abs=tol)  # both scale with E_b
    # bigger pillar: larger barrier, lower resistance
    assert corr[0, 2] == pytest.approx(-shared * 2 * s_d / (s_delta * s_rp), abs=tol)
    assert corr[0, 2] < -0.1
    assert abs(corr[0, 3]) < tol


def test_variation_sigmas_are_the_sourced_values():
    sig = mtj.VariationSigmas()
    # REFERENCES §10: sigma_Delta 9.6-14.3 % (16-kbit p-MTJ array), sigma(V_c) 4.4 % (Worledge IEDM 2010)
    assert 0.096 <= sig.delta <= 0.143 and sig.ic0 == 0.044
    assert sig.diameter <= sig.ic0 / 2 + 1e-12  # I_c0 ~ area ~ d^2 bounds the CD spread


def test_write_current_draws():
    cur = mtj.sample_write_currents(30e-6, 0.05, N_DEV, np.random.default_rng(3))
    assert cur.shape == (N_DEV,) and np.all(cur > 0)
    assert abs(cur.mean() / 30e-6 - 1) < 4 * 0.05 / math.sqrt(N_DEV)
    assert abs(cur.std() / (30e-6 * 0.05) - 1) < 4 / math.sqrt(2 * N_DEV) + 0.002
    assert np.all(mtj.sample_write_currents(30e-6, 0.0, 5, np.random.default_rng(3)) == 30e-6)
    with pytest.raises(ValueError):
        mtj.sample_write_currents(30e-6, 1.5, 5, np.random.default_rng(3))


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
    i_w = mtj_switching.current_for_probability(P0, 0.5, 5 * NS, T0)
    prob = mtj_switching.p_switch(P0, i_w, 5 * NS, T0, delta=a.delta, ic0_a=a.ic0_a)
    assert prob.shape == (1000,) and 0.3 < prob.mean() < 0.7 and prob.std() > 0.05
    with pytest.raises(ValueError):
        mtj.sample_devices(P0, mtj.VariationSigmas(), -1, np.random.default_rng(0), T0)


# ---------------------------------------------------------------- s-LLG cross-check (slow)


@pytest.mark.slow
def test_butler_channel_against_sllg_macrospin():
    """The precessional law (Butler) agrees with the numpy s-LLG macrospin for i >= 2."""
    from cimsim.components.switching.macrospin import simulate_switching

    prec = dataclasses.replace(P0, tau0_s=1e6)
    tau_d = mtj.tau_d_s(P0)
    for i, t_ns in [(2.0, 5.0), (3.0, 1.0), (3.0, 2.0)]:
        run = simulate_switching(i, 60.0, P0.alpha, [t_ns * NS / tau_d], n_traj=2048, rng=np.random.default_rng(0))
        model = float(mtj_switching.p_switch(prec, i * IC0, t_ns * NS, T0))
        assert run.p[0] == pytest.approx(model, abs=0.05), (i, t_ns, run.p[0], model)
