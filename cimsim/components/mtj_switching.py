"""Stochastic switching of a perpendicular STT-MTJ by one write pulse: P_sw, its error, slope and inverse.

Pure, numpy-vectorized functions over :class:`cimsim.components.mtj.MTJParams` (docs/mtj_model.md, REFERENCES
sections 1 and 10). Switching probabilities come from the shipped stochastic-LLG macrospin table
(``switching_model="sllg_table"``, cimsim.components.switching) or from the analytic Neel-Brown / Butler laws
(``"analytic"``); every switching function dispatches on it.

Conventions: SI units everywhere; ``i = I / I_c0`` is the reduced write current (positive in
the switching direction, negative currents stabilise the state); ``P_sw`` is the probability
that one write pulse reverses the free layer.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cimsim.components.mtj import FloatOrArray, MTJParams, _device, _ret, tau_d_s
from cimsim.components.switching.table import SwitchingTable, load_table

__all__ = [
    "AnalyticValidityWarning",
    "reduced_coordinates",
    "p_switch",
    "p_switch_error",
    "dp_dcurrent",
    "current_for_probability",
]


class AnalyticValidityWarning(UserWarning):
    """The analytic switching model was evaluated outside the validity of its closed forms."""


def _log_h_nb(p: MTJParams, i: NDArray[np.float64], t: NDArray[np.float64], d: NDArray[np.float64]
              ) -> NDArray[np.float64]:
    """ln of the Neel-Brown integrated rate t/tau, tau = tau0 exp(Delta (1 - i)^e); for i < 1."""
    with np.errstate(divide="ignore"):
        return np.log(t / p.tau0_s) - d * np.clip(1.0 - i, 0.0, None) ** p.thermal_exponent


def _log_h_butler(p: MTJParams, i: NDArray[np.float64], t: NDArray[np.float64], d: NDArray[np.float64],
                  tau_d: NDArray[np.float64]) -> NDArray[np.float64]:
    """ln of -ln(1 - P_Butler) for i > 1 (Butler 2012: P = exp(-A), A = (pi^2 Delta/4)(i-1)/(i e^{2(i-1)t/tau_D} - 1)).

    Written in log space so neither tail under- or overflows: for a large Butler exponent A,
    -ln(1 - e^{-A}) = e^{-A} to double precision, so ln H = -A.
    """
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        u = np.maximum(i - 1.0, 1e-300)
        xu = (2.0 * t / tau_d) * u
        denom = np.expm1(xu) + u * np.exp(xu)  # i e^{xu} - 1, accurate as u -> 0+
        a = (math.pi**2 / 4.0) * d * u / denom  # overflow -> a = 0 -> certain switch
        small = a < 30.0
        log_h = np.where(small, np.log(-np.log(-np.expm1(-np.where(small, a, 1.0)))), -a)
    return np.where(a <= 0, np.inf, log_h)


def _analytic_log_hazard(p: MTJParams, i: NDArray[np.float64], t: NDArray[np.float64], d: NDArray[np.float64],
                         tau_d: NDArray[np.float64], warn: bool = True) -> NDArray[np.float64]:
    """ln H of the analytic model: Neel-Brown, a log-linear bridge, then Butler (docs/mtj_model.md).

    - Neel-Brown for i <= i_a, where the barrier Delta (1 - i)^e >= ``nb_min_barrier`` k_B T;
    - Butler for i >= i_b = the smallest i >= ``butler_min_ratio`` with H_Butler(i) >= H_NB(i_a), so H is
      continuous and non-decreasing in i and no thermal rate survives above i_b (no 1/tau0 floor);
    - between them ln H is linear in i. Evaluations there raise an :class:`AnalyticValidityWarning`.
    """
    i, t, d, tau_d = np.broadcast_arrays(i, t, d, tau_d)
    i_a = 1.0 - (p.nb_min_barrier / d) ** (1.0 / p.thermal_exponent)
    lh_a = _log_h_nb(p, i_a, t, d)
    lo = np.full(i.shape, p.butler_min_ratio)
    need = _log_h_butler(p, lo, t, d, tau_d) < lh_a
    i_b = lo.copy()
    if np.any(need):
        lo_n, tn, dn, taun, target = lo[need], t[need], d[need], tau_d[need], lh_a[need]
        hi_n = lo_n + 1.0
        for _ in range(200):  # H_Butler -> inf as i -> inf: grow the bracket
            short = _log_h_butler(p, hi_n, tn, dn, taun) < target
            if not short.any():
                break
            lo_n = np.where(short, hi_n, lo_n)
            hi_n = np.where(short, 1.0 + 2.0 * (hi_n - 1.0), hi_n)
        for _ in range(100):
            mid = 0.5 * (lo_n + hi_n)
            below = _log_h_butler(p, mid, tn, dn, taun) < target
            lo_n, hi_n = np.where(below, mid, lo_n), np.where(below, hi_n, mid)
        i_b[need] = hi_n
    lh_b = _log_h_butler(p, i_b, t, d, tau_d)
    frac = np.clip((i - i_a) / (i_b - i_a), 0.0, 1.0)
    with np.errstate(invalid="ignore"):
        bridge = lh_a + frac * (lh_b - lh_a)
    out = np.where(i <= i_a, _log_h_nb(p, i, t, d), np.where(i >= i_b, _log_h_butler(p, i, t, d, tau_d), bridge))
    if warn and np.any((i > i_a) & (i < i_b) & (t > 0)):
        warnings.warn("analytic MTJ switching model used between the Neel-Brown validity limit (barrier "
                      f"{p.nb_min_barrier:g} k_B T) and the precessional (Butler) regime (I/I_c0 >= "
                      f"{p.butler_min_ratio:g}): P_sw there is a log-linear bridge, not a physical law; "
                      "use switching_model='sllg_table'", AnalyticValidityWarning, stacklevel=3)
    return out


def _analytic_p(p: MTJParams, i: NDArray[np.float64], t: NDArray[np.float64], d: NDArray[np.float64],
                tau_d: NDArray[np.float64], warn: bool = True) -> NDArray[np.float64]:
    with np.errstate(over="ignore"):
        h = np.exp(_analytic_log_hazard(p, i, t, d, tau_d, warn))
    return np.where(t > 0, -np.expm1(-h), 0.0)


def reduced_coordinates(p: MTJParams, current_a: ArrayLike, pulse_s: ArrayLike, temperature_k: ArrayLike, *,
                        delta: ArrayLike | None = None, ic0_a: ArrayLike | None = None
                        ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """(i, Delta, t_p/tau_D) of a write pulse: the only numbers P_sw of the macrospin depends on.

    i = I/I_c0(T), Delta = Delta(T), tau_D(T) = (1+alpha^2)/(alpha gamma mu0 H_k(T)); ``delta``/``ic0_a``
    override the values at ``temperature_k`` per device.
    """
    d, c = _device(p, temperature_k, delta, ic0_a)
    t = np.asarray(pulse_s, dtype=float)
    if np.any(~(t >= 0)):
        raise ValueError("pulse_s must be >= 0")
    i = np.asarray(current_a, dtype=float) / c
    return i, d, t / np.asarray(tau_d_s(p, temperature_k))


def _table(p: MTJParams) -> SwitchingTable:
    return load_table(p.switching_table)


def p_switch(
    p: MTJParams,
    current_a: ArrayLike,
    pulse_s: ArrayLike,
    temperature_k: ArrayLike,
    *,
    delta: ArrayLike | None = None,
    ic0_a: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Probability in [0, 1] that a write pulse of ``current_a`` (A) for ``pulse_s`` (s) switches.

    ``p.switching_model``: ``sllg_table`` interpolates the shipped stochastic-LLG table at
    (I/I_c0(T), Delta(T), t_p/tau_D(T)) and raises ``ValueError`` naming the coordinate outside it;
    ``analytic`` is Neel-Brown / bridge / Butler (docs/mtj_model.md). A zero pulse never switches.
    All arguments broadcast; ``delta``/``ic0_a`` override the values at ``temperature_k`` per device.
    """
    i, d, tau = reduced_coordinates(p, current_a, pulse_s, temperature_k, delta=delta, ic0_a=ic0_a)
    if p.switching_model == "analytic":
        tau_d = np.asarray(tau_d_s(p, temperature_k))
        return np.asarray(_analytic_p(p, i, tau * tau_d, d, tau_d))
    i, d, tau = np.broadcast_arrays(i, d, tau)
    out = np.zeros(i.shape)
    on = tau > 0
    if np.any(on):
        out[on] = _table(p).p(i[on], d[on], tau[on])
    return out


def p_switch_error(
    p: MTJParams,
    current_a: ArrayLike,
    pulse_s: ArrayLike,
    temperature_k: ArrayLike,
    *,
    delta: ArrayLike | None = None,
    ic0_a: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Binomial standard error of :func:`p_switch` from the table's trajectories; NaN for ``analytic``."""
    prob = p_switch(p, current_a, pulse_s, temperature_k, delta=delta, ic0_a=ic0_a)
    if p.switching_model == "analytic":
        return np.full(prob.shape, np.nan)
    return _table(p).p_error(prob)


def dp_dcurrent(
    p: MTJParams,
    current_a: ArrayLike,
    pulse_s: ArrayLike,
    temperature_k: ArrayLike,
    *,
    delta: ArrayLike | None = None,
    ic0_a: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Slope dP_sw/dI in 1/A (central difference, step 1e-4 I_c0); multiply by I_c0 for dP/d(I/I_c0).

    For ``sllg_table`` the difference is one-sided at the table's current ends, so both ends of its documented
    range can be evaluated; a current outside the table still raises ``ValueError`` naming ``i``.
    """
    _, _, c = np.broadcast_arrays(np.asarray(current_a, float), *_device(p, temperature_k, delta, ic0_a))
    h = 1e-4 * c
    cur = np.asarray(current_a, dtype=float)
    if p.switching_model == "sllg_table":
        i, d, tau, c = np.broadcast_arrays(
            *reduced_coordinates(p, cur, pulse_s, temperature_k, delta=delta, ic0_a=ic0_a), c)
        out = np.zeros(i.shape)
        on = tau > 0  # a zero pulse never switches: slope 0, no lookup (as in p_switch)
        if np.any(on):
            out[on] = _table(p).dp_di(i[on], d[on], tau[on]) / c[on]
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AnalyticValidityWarning)
        up = p_switch(p, cur + h, pulse_s, temperature_k, delta=delta, ic0_a=ic0_a)
        dn = p_switch(p, cur - h, pulse_s, temperature_k, delta=delta, ic0_a=ic0_a)
    return (up - dn) / (2.0 * h)


def current_for_probability(
    p: MTJParams,
    target_p: ArrayLike,
    pulse_s: ArrayLike,
    temperature_k: ArrayLike,
    *,
    delta: ArrayLike | None = None,
    ic0_a: ArrayLike | None = None,
) -> FloatOrArray:
    """Write current in A such that ``p_switch(...) == target_p`` for a pulse of ``pulse_s`` (s).

    Inverts the calibrated model (``p.switching_model``) by vectorized bisection in I/I_c0 to machine
    precision: within the table's current range for ``sllg_table`` (``ValueError`` if the target is not
    reachable there), on an unbounded bracket for ``analytic``.
    """
    tp = np.asarray(target_p, dtype=float)
    if np.any(~((tp > 0) & (tp < 1))):
        raise ValueError(f"target_p must lie in the open interval (0, 1), got {target_p!r}")
    d, c = _device(p, temperature_k, delta, ic0_a)
    t = np.asarray(pulse_s, dtype=float)
    if np.any(~(t > 0)) or np.any(~np.isfinite(t)):
        raise ValueError("pulse_s must be finite and > 0")
    tau_d = np.asarray(tau_d_s(p, temperature_k))
    tp, t, d, c, tau_d = np.broadcast_arrays(tp, t, d, c, tau_d)
    if p.switching_model == "sllg_table":
        return _ret(_table(p).i_for_p(tp, d, t / tau_d) * c)
    target = np.log(-np.log1p(-tp))  # ln H*
    lo = np.full(tp.shape, -1.0)
    hi = np.full(tp.shape, 2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AnalyticValidityWarning)
        for _ in range(200):  # ln H -> -inf as i -> -inf and -> inf as i -> inf: grow both ends
            low = _analytic_log_hazard(p, lo, t, d, tau_d, warn=False) > target
            high = _analytic_log_hazard(p, hi, t, d, tau_d, warn=False) < target
            if not (low.any() or high.any()):
                break
            lo = np.where(low, 2.0 * lo - 1.0, lo)
            hi = np.where(high, 2.0 * hi, hi)
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            below = _analytic_log_hazard(p, mid, t, d, tau_d, warn=False) < target
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
            if np.all(hi - lo <= 4.0 * np.finfo(float).eps * np.abs(hi)):
                break
    i_out = 0.5 * (lo + hi)
    _analytic_log_hazard(p, i_out, t, d, tau_d, warn=True)  # warn once if the answer lies in the bridge
    return _ret(i_out * c)
