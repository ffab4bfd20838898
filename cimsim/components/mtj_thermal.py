"""Thermally activated flips of an MTJ without a write: read disturb and retention (docs/analog.md "Read
disturb and retention").

The same device parameters (:mod:`cimsim.components.mtj`) and switching model
(:mod:`cimsim.components.mtj_switching`): read disturb is the switching
table's own P_sw at the read's operating point wherever the table resolves it, and Brown's high-barrier escape
rate below (the collinear spin torque acts on m_z like an axial field, so Brown's axially symmetric result holds
with h = I/I_c0); retention is the zero-current rate. SI units throughout.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cimsim.components.mtj import FloatOrArray, MTJParams, _device, _ret, tau_d_s
from cimsim.components.mtj_switching import _log_h_nb, _table

__all__ = ["thermal_escape_rate_hz", "read_disturb_probability", "retention_flip_probability"]


def thermal_escape_rate_hz(
    p: MTJParams,
    current_a: ArrayLike,
    temperature_k: ArrayLike,
    *,
    delta: ArrayLike | None = None,
    ic0_a: ArrayLike | None = None,
) -> FloatOrArray:
    """Rate (1/s) of thermally activated escape from the well a current ``current_a`` (A, |I| < I_c0) destabilises.

    Brown's high-barrier asymptotic for an axially symmetric macrospin (Brown, Phys. Rev. 130, 1677 (1963);
    Coffey & Kalmykov, J. Appl. Phys. 112, 121301 (2012) eq. 7.10) with field h = I/I_c0: in the collinear
    geometry the spin torque enters m_z's drift exactly like an easy-axis field (docs/mtj_model.md, "Why three
    axes suffice"), so with Brown's tau_N = Delta tau_D

        rate tau_D = sqrt(Delta/pi) (1 - i)^2 (1 + i) exp(-Delta (1 - i)^2).

    It has no free parameter; against the table's resolved thermal nodes (i <= 0.6, 0.05 < P < 0.95) it is 1.33x
    high at the median (0.97-3.6x; 1.1x at Delta 60), the O(1/barrier) correction of the asymptotics, so the tail
    errs on the safe side (docs/analog.md). At zero current it is
    the retention (Neel-Brown) rate sqrt(Delta/pi) e^-Delta / tau_D.
    """
    d, c = _device(p, temperature_k, delta, ic0_a)
    i = np.abs(np.asarray(current_a, dtype=float)) / c
    if np.any(i >= 1):
        raise ValueError("i: thermal escape needs |I| < I_c0 (no barrier is left at or above it)")
    return _ret(_brown_rate_per_tau_d(i, d) / np.asarray(tau_d_s(p, temperature_k)))


def _brown_rate_per_tau_d(i: NDArray[np.float64], d: NDArray[np.float64]) -> NDArray[np.float64]:
    """Brown's escape rate in units of 1/tau_D at reduced current 0 <= i < 1 (see thermal_escape_rate_hz)."""
    return np.sqrt(d / math.pi) * (1 - i) ** 2 * (1 + i) * np.exp(-d * (1 - i) ** 2)


def read_disturb_probability(
    p: MTJParams,
    read_current_a: ArrayLike,
    read_pulse_s: ArrayLike,
    temperature_k: ArrayLike,
    *,
    delta: ArrayLike | None = None,
    ic0_a: ArrayLike | None = None,
) -> FloatOrArray:
    """Probability that one read pulse (|I| in A, s) flips a cell in the state the read current destabilises.

    ``sllg_table``: the switching table's own P_sw where it resolves it (the point inside the table and P above
    its Jeffreys floor) — the same physics as a write at a lower current; elsewhere (below the table's current
    range, outside its Delta range, or P below its resolution) the thermal tail 1 - exp(-t_r rate) of
    :func:`thermal_escape_rate_hz`, capped at the floor inside the table (where the table says P is below it).
    ``analytic``: the Neel-Brown law 1 - exp(-(t_r/tau0) e^{-Delta(1-i)^e}).
    """
    d, c = _device(p, temperature_k, delta, ic0_a)
    t = np.asarray(read_pulse_s, dtype=float)
    if np.any(~(t >= 0)):
        raise ValueError("read_pulse_s must be >= 0")
    i = np.abs(np.asarray(read_current_a, dtype=float)) / c
    if p.switching_model == "analytic":
        with np.errstate(over="ignore"):
            return _ret(-np.expm1(-np.exp(_log_h_nb(p, i, t, d))))
    tau_d = np.asarray(tau_d_s(p, temperature_k))
    i, d, t, tau_d = np.broadcast_arrays(i, d, t, tau_d)
    table = _table(p)
    rng_ = table.ranges()
    tau = t / tau_d
    inside = ((i >= rng_["i"][0]) & (i <= rng_["i"][1]) & (d >= rng_["delta"][0]) & (d <= rng_["delta"][1])
              & (tau >= rng_["tau_d"][0]) & (tau <= rng_["tau_d"][1]))
    out = np.zeros(i.shape)
    if np.any(inside):
        out[inside] = table.p(i[inside], d[inside], tau[inside])
    tail = ~inside | (out <= 0)
    tail &= t > 0
    if np.any(tail & (i >= 1)):
        table.check_range(i[tail & (i >= 1)], d[tail & (i >= 1)], tau[tail & (i >= 1)])  # names the coordinate
    if np.any(tail):
        pt = -np.expm1(-_brown_rate_per_tau_d(i[tail], d[tail]) * tau[tail])
        out[tail] = np.where(inside[tail], np.minimum(pt, table.floor), pt)
    return _ret(out)


def retention_flip_probability(
    p: MTJParams, time_s: ArrayLike, temperature_k: ArrayLike, *, delta: ArrayLike | None = None
) -> FloatOrArray:
    """Probability that an unpowered MTJ is found in the other state after ``time_s`` (s) at ``temperature_k``.

    Both states escape at the zero-current rate r of :func:`thermal_escape_rate_hz`, so the state is a symmetric
    two-state chain: P = (1 - exp(-2 r t))/2 (-> 1/2: the stored bit is forgotten).
    """
    t = np.asarray(time_s, dtype=float)
    if np.any(~(t >= 0)):
        raise ValueError("time_s must be >= 0")
    rate = np.asarray(thermal_escape_rate_hz(p, 0.0, temperature_k, delta=delta))
    return _ret(-0.5 * np.expm1(-2.0 * rate * t))
