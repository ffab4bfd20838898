"""Perpendicular STT-MTJ device: parameters, resistance and TMR, thermal stability, write energy, variation.

Pure, numpy-vectorized functions; no simulator state. Equations, defaults and provenance tags follow
docs/REFERENCES.md sections 1 and 10 (see docs/mtj_model.md). The stochastic switching probability of a write
pulse is :mod:`cimsim.components.mtj_switching`; read disturb and retention are
:mod:`cimsim.components.mtj_thermal`.

Conventions: SI units everywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cimsim.components.switching.macrospin import GAMMA_RAD_PER_S_T
from cimsim.spec.arch import MTJSpec, VariationSpec

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
    "hk_ratio",
    "tau_d_s",
    "write_energy_j",
    "sample_devices",
    "sample_write_currents",
]

K_B_J_PER_K = 1.380649e-23  # Boltzmann constant, J/K (exact, SI 2019)
_E_CHARGE_C = 1.602176634e-19  # elementary charge, C (exact)
_HBAR_J_S = 1.054571817e-34  # reduced Planck constant, J*s (exact)

# The YAML-settable defaults, read from the spec classes that document them (one fact, one place).
_MTJ = {k: f.default for k, f in MTJSpec.model_fields.items()}
_VAR = {k: f.default for k, f in VariationSpec.model_fields.items()}

FloatOrArray = float | NDArray[np.float64]


@dataclass(frozen=True)
class MTJParams:
    """Device parameters of one perpendicular (PMA) MTJ; SI units.

    The device fields a YAML file can set take their defaults (and their sources) from
    :class:`cimsim.spec.arch.MTJSpec`, the one place they are written; the material constants below are
    model-internal.
    """

    diameter_m: float = _MTJ["diameter_m"]
    free_layer_thickness_m: float = _MTJ["free_layer_thickness_m"]
    ra_ohm_m2: float = _MTJ["ra_ohm_m2"]
    tmr0: float = _MTJ["tmr0"]
    vh_v: float = _MTJ["vh_v"]
    delta_ref: float = _MTJ["delta_ref"]
    t_ref_k: float = 300.0  # reference temperature of the *_ref values, utinclab T [code] (MTJDevicesSpec.t_ref_k)
    ic0_ref_a: float = _MTJ["ic0_ref_a"]
    tau0_s: float = _MTJ["tau0_s"]
    alpha: float = _MTJ["alpha"]
    polarization: float = _MTJ["polarization"]
    mu0_hk_t: float = _MTJ["mu0_hk_t"]
    thermal_exponent: float = _MTJ["thermal_exponent"]
    # E_b(T) = K_eff(T) V with K(T) ~ Ms(T)^n, Ms(T) ~ 1 - (T/Tc)^q  (utinclab joule_heating.f90) [code].
    # eb_ms_exponent = 0 selects the simple form (E_b constant, Delta ~ 1/T, I_c0 constant).
    curie_temperature_k: float = 1453.0  # Tc of CoFeB free layer [code]
    ms_exponent_q: float = 1.0583  # q in Ms(T) [code]
    eb_ms_exponent: float = _MTJ["eb_ms_exponent"]  # n in K ~ Ms^n (MTJSpec, utinclab) [code]
    # Analytic model (switching_model="analytic", docs/mtj_model.md): Neel-Brown only where the barrier
    # Delta(1-i)^e is at least nb_min_barrier k_B T. The Kramers/Brown escape-rate asymptotics are expansions in
    # k_B T / E_b, so they need E_b >> k_B T; 5 k_B T keeps that ratio at 0.2 [assumed validity limit].
    nb_min_barrier: float = 5.0
    # Butler's formula from this I/I_c0 on: the s-LLG cross-check (docs/mtj_model.md) puts it within 0.05 of
    # macrospin P_sw for i >= 2 and 0.25 low at i = 1.5 [derived from the cross-check].
    butler_min_ratio: float = 1.5
    # sllg_table: the shipped stochastic-LLG macrospin table (default); analytic: closed forms.
    switching_model: Literal["sllg_table", "analytic"] = _MTJ["switching_model"]
    # Table file; None = the shipped cimsim/components/switching/data/sllg_switching.npz.
    switching_table: str | None = None

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
        for name in ("tmr0", "eb_ms_exponent", "nb_min_barrier"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"MTJParams.{name} must be finite and >= 0, got {value!r}")
        if not (math.isfinite(self.butler_min_ratio) and self.butler_min_ratio > 1):
            raise ValueError(f"MTJParams.butler_min_ratio must be finite and > 1, got {self.butler_min_ratio!r}")
        if self.switching_model not in ("sllg_table", "analytic"):
            raise ValueError(f"MTJParams.switching_model must be 'sllg_table' or 'analytic', got {self.switching_model!r}")
        if not 0 < self.polarization < 1:
            raise ValueError(f"MTJParams.polarization must be in (0, 1), got {self.polarization!r}")
        if self.t_ref_k >= self.curie_temperature_k:
            raise ValueError(
                f"MTJParams.t_ref_k ({self.t_ref_k} K) must be below curie_temperature_k "
                f"({self.curie_temperature_k} K)"
            )


@dataclass(frozen=True)
class VariationSigmas:
    """Relative (sigma/mean) device-to-device spreads. Defaults and their sources live in
    :class:`cimsim.spec.arch.VariationSpec` (``*_sigma_rel`` fields; docs/mtj_model.md "Variation")."""

    delta: float = _VAR["delta_sigma_rel"]
    ic0: float = _VAR["ic0_sigma_rel"]
    diameter: float = _VAR["diameter_sigma_rel"]
    ra: float = _VAR["ra_sigma_rel"]
    tmr: float = _VAR["tmr_sigma_rel"]
    write_current: float = _VAR["write_current_sigma_rel"]  # write-driver spread, one draw per module

    def __post_init__(self) -> None:
        for name in ("ra", "tmr", "diameter", "delta", "ic0", "write_current"):
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


def hk_ratio(p: MTJParams, temperature_k: ArrayLike) -> FloatOrArray:
    """H_k(T) / H_k(t_ref): H_k = 2 K / (mu0 Ms) with K ~ Ms^n, so the ratio is (Ms ratio)^(n - 1)."""
    t = _temperature(p, temperature_k)
    if p.eb_ms_exponent == 0:
        return _ret(np.ones_like(t))
    ms = (1.0 - (t / p.curie_temperature_k) ** p.ms_exponent_q) / (
        1.0 - (p.t_ref_k / p.curie_temperature_k) ** p.ms_exponent_q
    )
    return _ret(ms ** (p.eb_ms_exponent - 1.0))


def tau_d_s(p: MTJParams, temperature_k: ArrayLike | None = None) -> FloatOrArray:
    """Precessional time (1+alpha^2) / (alpha gamma mu0 H_k(T)) in s (Butler 2012); at t_ref_k by default."""
    tau_ref = (1.0 + p.alpha**2) / (p.alpha * GAMMA_RAD_PER_S_T * p.mu0_hk_t)
    if temperature_k is None:
        return tau_ref
    return _ret(tau_ref / np.asarray(hk_ratio(p, temperature_k)))


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


def sample_write_currents(nominal_a: float, sigma_rel: float, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """Per-module write currents (A): lognormal with mean ``nominal_a`` and relative std ``sigma_rel``.

    One draw per module and chip instance (the driver's mismatch is static); combine with
    :func:`sample_devices` and pass both to :func:`cimsim.components.mtj_switching.p_switch` for the module's
    probability.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not (math.isfinite(sigma_rel) and 0 <= sigma_rel < 1):
        raise ValueError(f"sigma_rel must be in [0, 1), got {sigma_rel!r}")
    s = _lognormal_sigma(sigma_rel)
    return nominal_a * np.exp(s * rng.standard_normal(n) - s * s / 2)
