"""Perpendicular STT-MTJ physics: resistance, thermal stability, stochastic switching, variation.

Pure, numpy-vectorized closed forms; no simulator state. Equations, defaults and provenance
tags follow /work/shared/REFERENCES.md section 1 (see docs/mtj_model.md).

Conventions: SI units everywhere; ``i = I / I_c0`` is the reduced write current (positive in
the switching direction, negative currents stabilise the state); ``P_sw`` is the probability
that one write pulse reverses the free layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "K_B_J_PER_K",
    "GAMMA_RAD_PER_S_T",
    "MTJParams",
    "VariationSigmas",
    "DeviceSamples",
    "area_m2",
    "r_p_ohm",
    "tmr",
    "r_ap_ohm",
    "energy_barrier_ratio",
    "delta",
    "ic0_a",
    "ic0_from_damping_a",
    "tau_d_s",
    "p_switch",
    "current_for_probability",
    "read_disturb_probability",
    "write_energy_j",
    "sample_devices",
]

K_B_J_PER_K = 1.380649e-23  # Boltzmann constant, J/K (exact, SI 2019)
GAMMA_RAD_PER_S_T = 1.76085963e11  # electron gyromagnetic ratio, rad/(s*T) (CODATA 2018)
_E_CHARGE_C = 1.602176634e-19  # elementary charge, C (exact)
_HBAR_J_S = 1.054571817e-34  # reduced Planck constant, J*s (exact)

FloatOrArray = float | NDArray[np.float64]


@dataclass(frozen=True)
class MTJParams:
    """Device parameters of one perpendicular (PMA) MTJ; SI units. Tags refer to REFERENCES §1.2."""

    diameter_m: float = 40e-9  # circular pillar diameter a=b; NYU device 40 nm [code]
    free_layer_thickness_m: float = 1.3e-9  # PMA CoFeB, Zhang 2012 [lit]
    ra_ohm_m2: float = 5e-12  # RA = 5 Ohm*um^2, UMN model RA0 [code-excerpt]
    tmr0: float = 1.2  # zero-bias TMR ratio (120 %) [code] UTA 1.2 / NYU 1.24
    vh_v: float = 0.5  # TMR half-bias voltage, utinclab Vh [code]
    delta_ref: float = 60.0  # thermal stability at t_ref_k, storage MTJ [lit] Khvalkovskiy 2013
    t_ref_k: float = 300.0  # reference temperature, utinclab T [code]
    ic0_ref_a: float = 50e-6  # zero-temperature critical current at t_ref_k [derived]
    tau0_s: float = 1e-9  # Neel-Brown attempt time [lit]; may be fs (Soumah 2024) [page]
    alpha: float = 0.01  # Gilbert damping, range 0.005-0.03 [code]
    polarization: float = 0.6  # spin polarisation, utinclab P [code]
    mu0_hk_t: float = 0.5  # anisotropy field mu0*H_k in tesla, sets tau_D [derived] REFERENCES Butler example
    thermal_exponent: float = 1.0  # exponent of (1 - i) in Neel-Brown barrier; 1 per REFERENCES [lit]
    # E_b(T) = K_eff(T) V with K(T) ~ Ms(T)^n, Ms(T) ~ 1 - (T/Tc)^q  (utinclab joule_heating.f90) [code].
    # eb_ms_exponent = 0 selects the simple form (E_b constant, Delta ~ 1/T, I_c0 constant).
    curie_temperature_k: float = 1453.0  # Tc of CoFeB free layer [code]
    ms_exponent_q: float = 1.0583  # q in Ms(T) [code]
    eb_ms_exponent: float = 1.804  # n in K_i ~ Ms^n [code]
    # Width (in i = I/I_c0) over which the precessional (Butler) channel fades in above I_c0;
    # numerical smoothing choice, see docs/mtj_model.md [assumed].
    bridge_width: float = 0.1
    # Reduced current above which the Neel-Brown rate is frozen. 1.0 keeps the textbook law (and the
    # REFERENCES operating-point table) for all I < I_c0; 0.9 follows REFERENCES' "regime 1 for
    # i < ~0.9" and is closer to s-LLG for ns pulses (docs/mtj_model.md) [assumed].
    thermal_cutoff: float = 1.0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` if any parameter is non-physical."""
        positive = (
            "diameter_m",
            "free_layer_thickness_m",
            "ra_ohm_m2",
            "vh_v",
            "delta_ref",
            "t_ref_k",
            "ic0_ref_a",
            "tau0_s",
            "alpha",
            "mu0_hk_t",
            "thermal_exponent",
            "curie_temperature_k",
            "ms_exponent_q",
        )
        for name in positive:
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"MTJParams.{name} must be finite and > 0, got {value!r}")
        for name in ("tmr0", "eb_ms_exponent", "bridge_width"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"MTJParams.{name} must be finite and >= 0, got {value!r}")
        if not 0 < self.thermal_cutoff <= 1:
            raise ValueError(f"MTJParams.thermal_cutoff must be in (0, 1], got {self.thermal_cutoff!r}")
        if not 0 < self.polarization < 1:
            raise ValueError(f"MTJParams.polarization must be in (0, 1), got {self.polarization!r}")
        if self.t_ref_k >= self.curie_temperature_k:
            raise ValueError(
                f"MTJParams.t_ref_k ({self.t_ref_k} K) must be below curie_temperature_k "
                f"({self.curie_temperature_k} K)"
            )


@dataclass(frozen=True)
class VariationSigmas:
    """Relative (sigma/mean) device-to-device spreads; all defaults [assumed], REFERENCES §1.3."""

    ra: float = 0.05  # resistance-area product
    tmr: float = 0.05  # zero-bias TMR
    diameter: float = 0.03  # critical dimension (-> ~6 % area)
    delta: float = 0.07  # thermal stability factor
    ic0: float = 0.05  # critical current

    def __post_init__(self) -> None:
        for name in ("ra", "tmr", "diameter", "delta", "ic0"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 <= value < 1):
                raise ValueError(f"VariationSigmas.{name} must be in [0, 1), got {value!r}")


@dataclass(frozen=True)
class DeviceSamples:
    """Per-device parameter draws (arrays of length n)."""

    delta: NDArray[np.float64]  # thermal stability factor at the sampling temperature, -
    ic0_a: NDArray[np.float64]  # critical current at the sampling temperature, A
    r_p_ohm: NDArray[np.float64]  # parallel-state resistance, Ohm
    tmr: NDArray[np.float64]  # zero-bias TMR ratio, -
    diameter_m: NDArray[np.float64]  # pillar diameter, m


def _ret(x: NDArray[np.float64]) -> FloatOrArray:
    """Scalars in, float out; arrays in, array out."""
    return float(x) if np.ndim(x) == 0 else x


def _temperature(p: MTJParams, temperature_k: ArrayLike) -> NDArray[np.float64]:
    t = np.asarray(temperature_k, dtype=float)
    if np.any(~np.isfinite(t)) or np.any(t <= 0) or np.any(t >= p.curie_temperature_k):
        raise ValueError(f"temperature_k must be in (0, {p.curie_temperature_k}) K, got {temperature_k!r}")
    return t


def area_m2(p: MTJParams) -> float:
    """Junction area pi*d^2/4 in m^2 (a = b = diameter, REFERENCES §1.1)."""
    return math.pi * p.diameter_m**2 / 4.0


def r_p_ohm(p: MTJParams) -> float:
    """Parallel-state resistance R_P = RA / A in ohm (taken bias-independent)."""
    return p.ra_ohm_m2 / area_m2(p)


def tmr(p: MTJParams, v_bias_v: ArrayLike = 0.0) -> FloatOrArray:
    """TMR ratio (dimensionless) at bias ``v_bias_v`` (V): TMR0 / (1 + V^2/V_h^2)."""
    v = np.asarray(v_bias_v, dtype=float)
    return _ret(p.tmr0 / (1.0 + (v / p.vh_v) ** 2))


def r_ap_ohm(p: MTJParams, v_bias_v: ArrayLike = 0.0) -> FloatOrArray:
    """Antiparallel-state resistance R_P (1 + TMR(V)) in ohm at bias ``v_bias_v`` (V)."""
    return _ret(r_p_ohm(p) * (1.0 + np.asarray(tmr(p, v_bias_v))))


def energy_barrier_ratio(p: MTJParams, temperature_k: ArrayLike) -> FloatOrArray:
    """E_b(T) / E_b(t_ref) (dimensionless), from Ms(T) ~ 1-(T/Tc)^q and K ~ Ms^n."""
    t = _temperature(p, temperature_k)
    if p.eb_ms_exponent == 0:
        return _ret(np.ones_like(t))
    ms = (1.0 - (t / p.curie_temperature_k) ** p.ms_exponent_q) / (
        1.0 - (p.t_ref_k / p.curie_temperature_k) ** p.ms_exponent_q
    )
    return _ret(ms**p.eb_ms_exponent)


def delta(p: MTJParams, temperature_k: ArrayLike) -> FloatOrArray:
    """Thermal stability factor Delta(T) = E_b(T) / (k_B T) (dimensionless)."""
    t = _temperature(p, temperature_k)
    return _ret(p.delta_ref * np.asarray(energy_barrier_ratio(p, t)) * p.t_ref_k / t)


def ic0_a(p: MTJParams, temperature_k: ArrayLike) -> FloatOrArray:
    """Critical current I_c0(T) in A; I_c0 = 4 e alpha E_b / (hbar eta) so it scales with E_b(T)."""
    return _ret(p.ic0_ref_a * np.asarray(energy_barrier_ratio(p, temperature_k)))


def ic0_from_damping_a(delta_: ArrayLike, temperature_k: ArrayLike, alpha: float, eta: float) -> FloatOrArray:
    """PMA critical current 4 e alpha k_B T Delta / (hbar eta) in A (Khvalkovskiy 2013) [lit].

    Independent of :class:`MTJParams` (whose ``ic0_ref_a`` is a free parameter); use it to derive
    a consistent ``ic0_ref_a`` from damping ``alpha`` and STT efficiency ``eta``.
    """
    kt = K_B_J_PER_K * np.asarray(temperature_k, dtype=float)
    return _ret(4.0 * _E_CHARGE_C * alpha * kt * np.asarray(delta_, dtype=float) / (_HBAR_J_S * eta))


def tau_d_s(p: MTJParams) -> float:
    """Precessional characteristic time (1+alpha^2) / (alpha gamma mu0 H_k) in s (Butler 2012)."""
    return (1.0 + p.alpha**2) / (p.alpha * GAMMA_RAD_PER_S_T * p.mu0_hk_t)


def _device(
    p: MTJParams, temperature_k: ArrayLike, delta_: ArrayLike | None, ic0: ArrayLike | None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per-device (Delta, I_c0): explicit overrides win over the params' values at T."""
    d = np.asarray(delta(p, temperature_k) if delta_ is None else delta_, dtype=float)
    c = np.asarray(ic0_a(p, temperature_k) if ic0 is None else ic0, dtype=float)
    if np.any(~(d > 0)) or np.any(~np.isfinite(d)):
        raise ValueError("delta must be finite and > 0")
    if np.any(~(c > 0)) or np.any(~np.isfinite(c)):
        raise ValueError("ic0_a must be finite and > 0")
    return d, c


def _thermal_hazard(
    p: MTJParams, i: NDArray[np.float64], t: NDArray[np.float64], d: NDArray[np.float64], cutoff: float = 1.0
) -> NDArray[np.float64]:
    """Neel-Brown integrated rate t/tau, tau = tau0 exp(Delta (1 - min(i, cutoff))^e)."""
    barrier = d * (1.0 - np.minimum(i, cutoff)) ** p.thermal_exponent
    return (t / p.tau0_s) * np.exp(-barrier)


def _hazard(
    p: MTJParams, i: NDArray[np.float64], t: NDArray[np.float64], d: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Total integrated switching rate H = -ln(1 - P_sw): thermal + gated Butler channels."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        h_th = _thermal_hazard(p, i, t, d, p.thermal_cutoff)
        u = i - 1.0
        above = u > 0
        uu = np.where(above, u, 1.0)  # placeholder keeps the unused branch finite
        xu = (2.0 * t / tau_d_s(p)) * uu
        # i*exp(x u) - 1 written so it stays accurate for u -> 0+
        denom = np.expm1(xu) + uu * np.exp(xu)
        a = (math.pi**2 / 4.0) * d * uu / denom  # Butler exponent; -> 0 (certain switch) on overflow
        # -ln(1 - exp(-a)) without cancellation at either end
        h_b = np.where(a > math.log(2.0), -np.log1p(-np.exp(-a)), -np.log(-np.expm1(-a)))
        if p.bridge_width > 0:
            v = np.clip(u / p.bridge_width, 0.0, 1.0)
            gate = v * v * (3.0 - 2.0 * v)  # C1 smoothstep: no kink where Butler enters
        else:
            gate = np.ones_like(u)
        h = h_th + np.where(above, gate * h_b, 0.0)
    return np.where(t > 0, h, 0.0)


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

    Model (docs/mtj_model.md): independent competing channels, P = 1 - exp(-(H_th + g(i) H_B)).
    For i = I/I_c0 < ``thermal_cutoff`` this is exactly the Neel-Brown law 1 - exp(-t_p/tau); above it
    the thermal rate is frozen, and above I_c0 the Butler (2012) precessional channel fades in over
    ``bridge_width``.
    All arguments broadcast; ``delta``/``ic0_a`` override the values at ``temperature_k`` per device.
    """
    d, c = _device(p, temperature_k, delta, ic0_a)
    t = np.asarray(pulse_s, dtype=float)
    if np.any(~(t >= 0)):
        raise ValueError("pulse_s must be >= 0")
    i = np.asarray(current_a, dtype=float) / c
    return np.asarray(-np.expm1(-_hazard(p, i, t, d)))


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

    Closed form where the solution lies in the thermal regime (H* <= H_th(cutoff), i <= cutoff):
    i = 1 - (ln(t_p / (tau0 H*)) / Delta)^(1/e), H* = -ln(1-p); vectorised bisection above I_c0
    (P is flat between the cutoff and I_c0, so no solution lies strictly inside that interval).
    """
    tp = np.asarray(target_p, dtype=float)
    if np.any(~((tp > 0) & (tp < 1))):
        raise ValueError(f"target_p must lie in the open interval (0, 1), got {target_p!r}")
    d, c = _device(p, temperature_k, delta, ic0_a)
    t = np.asarray(pulse_s, dtype=float)
    if np.any(~(t > 0)) or np.any(~np.isfinite(t)):
        raise ValueError("pulse_s must be finite and > 0")
    tp, t, d, c = np.broadcast_arrays(tp, t, d, c)
    h_star = -np.log1p(-tp)
    h_one = _thermal_hazard(p, np.ones_like(t), t, d, p.thermal_cutoff)  # hazard at i = 1
    thermal = h_star <= h_one
    with np.errstate(divide="ignore", invalid="ignore"):
        i_out = np.where(
            thermal, 1.0 - (np.log(t / (p.tau0_s * h_star)) / d) ** (1.0 / p.thermal_exponent), np.nan
        )
    if np.any(~thermal):
        hs, tt, dd = h_star[~thermal], t[~thermal], d[~thermal]
        lo = np.ones_like(hs)
        hi = np.full_like(hs, 2.0)
        for _ in range(80):  # grow the bracket; H -> inf as i -> inf
            short = _hazard(p, hi, tt, dd) < hs
            if not short.any():
                break
            hi = np.where(short, 1.0 + 2.0 * (hi - 1.0), hi)
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            below = _hazard(p, mid, tt, dd) < hs
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
            if np.all(hi - lo <= 4.0 * np.finfo(float).eps * hi):
                break
        i_out[~thermal] = 0.5 * (lo + hi)
    return _ret(i_out * c)


def read_disturb_probability(
    p: MTJParams,
    read_current_a: ArrayLike,
    read_pulse_s: ArrayLike,
    temperature_k: ArrayLike,
    *,
    delta: ArrayLike | None = None,
    ic0_a: ArrayLike | None = None,
) -> FloatOrArray:
    """Probability that a read pulse (A, s) flips the cell: thermal law 1 - exp(-t_r/tau(I_r)).

    Applies only when the read current polarity favours switching; pass |I_read| in that case.
    """
    d, c = _device(p, temperature_k, delta, ic0_a)
    t = np.asarray(read_pulse_s, dtype=float)
    if np.any(~(t >= 0)):
        raise ValueError("read_pulse_s must be >= 0")
    i = np.asarray(read_current_a, dtype=float) / c
    return _ret(-np.expm1(-_thermal_hazard(p, i, t, d)))


def write_energy_j(
    p: MTJParams, current_a: ArrayLike, pulse_s: ArrayLike, state: Literal["P", "AP"] = "P"
) -> FloatOrArray:
    """Joule energy I^2 R t_p (J) dissipated in the MTJ alone during a write pulse.

    ``state`` is the resistance state during the pulse. For "AP" the bias-dependent R_AP is solved
    self-consistently with V = I R_AP. Driver / access-transistor energy belongs to the circuit model.
    """
    i = np.abs(np.asarray(current_a, dtype=float))
    t = np.asarray(pulse_s, dtype=float)
    if np.any(~(t >= 0)):
        raise ValueError("pulse_s must be >= 0")
    rp = r_p_ohm(p)
    if state == "P":
        r = np.full_like(i, rp)
    elif state == "AP":
        # f(R) = R - R_P(1 + TMR(I R)) is increasing in R; root lies in [R_P, R_P (1 + TMR0)]
        lo = np.full_like(i, rp)
        hi = np.full_like(i, rp * (1.0 + p.tmr0))
        for _ in range(100):
            mid = 0.5 * (lo + hi)
            neg = mid - rp * (1.0 + p.tmr0 / (1.0 + (i * mid / p.vh_v) ** 2)) < 0
            lo = np.where(neg, mid, lo)
            hi = np.where(neg, hi, mid)
        r = 0.5 * (lo + hi)
    else:
        raise ValueError(f"state must be 'P' or 'AP', got {state!r}")
    return _ret(i**2 * r * t)


def _lognormal_sigma(rel_sigma: float) -> float:
    """Log-space sigma giving relative std ``rel_sigma`` for a unit-mean lognormal."""
    return math.sqrt(math.log1p(rel_sigma**2))


def sample_devices(
    p: MTJParams, sigmas: VariationSigmas, n: int, rng: np.random.Generator, temperature_k: float
) -> DeviceSamples:
    """Draw ``n`` devices (device-to-device variation) at ``temperature_k`` (K).

    Every parameter is lognormal with mean = nominal and relative std = its sigma (R_P excepted: it is
    RA/area, so it inherits the diameter spread). Delta and I_c0 both scale with E_b = K_eff V, so
    they share the diameter draw z_d: log factor = c z_d + r_x z_x with c = min(2 s_d, s_Delta, s_Ic0)
    (2 s_d is the area spread) and r_x chosen so each marginal sigma equals the table value.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    d0 = float(delta(p, temperature_k))
    c0 = float(ic0_a(p, temperature_k))
    z = rng.standard_normal((5, n))
    s_d, s_ra, s_tmr = (_lognormal_sigma(s) for s in (sigmas.diameter, sigmas.ra, sigmas.tmr))
    s_delta, s_ic0 = _lognormal_sigma(sigmas.delta), _lognormal_sigma(sigmas.ic0)
    shared = min(2.0 * s_d, s_delta, s_ic0)
    r_delta = math.sqrt(max(s_delta**2 - shared**2, 0.0))
    r_ic0 = math.sqrt(max(s_ic0**2 - shared**2, 0.0))

    diam = p.diameter_m * np.exp(s_d * z[0] - s_d**2 / 2)
    ra = p.ra_ohm_m2 * np.exp(s_ra * z[1] - s_ra**2 / 2)
    tmr_s = p.tmr0 * np.exp(s_tmr * z[2] - s_tmr**2 / 2)
    delta_s = d0 * np.exp(shared * z[0] + r_delta * z[3] - s_delta**2 / 2)
    ic0_s = c0 * np.exp(shared * z[0] + r_ic0 * z[4] - s_ic0**2 / 2)
    rp = ra / (math.pi * diam**2 / 4.0)
    return DeviceSamples(delta=delta_s, ic0_a=ic0_s, r_p_ohm=rp, tmr=tmr_s, diameter_m=diam)
