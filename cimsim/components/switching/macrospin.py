"""Vectorized numpy stochastic-LLG macrospin of a perpendicular STT-MTJ free layer (reduced units).

This is the *independent* solver that validates the shipped switching table (which is generated with the
``cmtj`` package, :mod:`cimsim.components.switching.calibrate`). It integrates many trajectories at once.

Model (docs/mtj_model.md, "Reduced macrospin"): uniaxial effective anisotropy along z (H_k includes the
demagnetising field), Slonczewski damping-like torque with an angle-independent efficiency and the fixed
layer along +z, isotropic Gaussian thermal field (Brown 1963). Reduced units:

- field h = H / H_k, time u = gamma mu0 H_k t (so one precession radian per unit),
- thermal field variance per component alpha / (Delta du) (fluctuation-dissipation with
  Delta = mu0 Ms H_k V / (2 k_B T)),
- spin-torque amplitude a_J = i * alpha, i = I / I_c0 (I_c0: the zero-temperature threshold, where the
  anti-damping torque cancels the damping at the -z pole).

Integration: stochastic Heun (predictor-corrector) with the same noise sample in both stages, which
converges to the Stratonovich solution (the interpretation the LLG thermal field requires); the norm is
restored after each stage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["GAMMA_RAD_PER_S_T", "MacrospinRun", "equilibrium_start", "simulate_switching"]

GAMMA_RAD_PER_S_T = 1.76085963e11  # electron gyromagnetic ratio, rad/(s T) (CODATA 2018)


def equilibrium_start(delta: float, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """``n`` unit vectors (3, n) drawn from thermal equilibrium in the -z well.

    The Boltzmann density on the sphere is exp(Delta m_z^2) dm_z dphi; with u = 1 + m_z in [0, 1] this is
    exp(-Delta u (2 - u)). Exact rejection sampling from the envelope exp(-Delta u) (valid since
    2 - u >= 1), acceptance exp(-Delta u (1 - u)) (about one half for Delta >> 1).
    """
    if not delta > 0:
        raise ValueError(f"delta must be > 0, got {delta!r}")
    out = np.empty(0)
    while out.size < n:
        m = 2 * (n - out.size) + 16
        # exponential truncated to [0, 1] by inversion
        u = -np.log1p(-rng.random(m) * -math.expm1(-delta)) / delta
        keep = rng.random(m) < np.exp(-delta * u * (1.0 - u))
        out = np.concatenate([out, u[keep]])
    mz = out[:n] - 1.0
    phi = rng.random(n) * 2.0 * math.pi
    rho = np.sqrt(np.clip(1.0 - mz * mz, 0.0, 1.0))
    return np.vstack([rho * np.cos(phi), rho * np.sin(phi), mz])


def _cross(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.stack([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def _rhs(m: NDArray[np.float64], h_th: NDArray[np.float64], alpha: float, a_j: float) -> NDArray[np.float64]:
    """dm/du of the reduced LLG-Slonczewski equation in Landau-Lifshitz form (polariser +z)."""
    h = h_th.copy()
    h[2] += m[2]  # uniaxial anisotropy field m_z z-hat
    mxh = _cross(m, h)
    mxmxh = _cross(m, mxh)
    # m x (m x z) = m m_z - z
    mxmxp = m * m[2]
    mxmxp[2] -= 1.0
    c = 1.0 / (1.0 + alpha * alpha)
    return -c * (mxh + alpha * mxmxh) - c * a_j * mxmxp


@dataclass(frozen=True)
class MacrospinRun:
    """Result of :func:`simulate_switching`: switched fraction at each checkpoint."""

    tau_d: NDArray[np.float64]  # checkpoint times in units of tau_D = (1 + alpha^2) / (alpha gamma mu0 H_k)
    n_switched: NDArray[np.int64]  # trajectories with m_z > 0 at each checkpoint
    n_traj: int  # trajectories simulated

    @property
    def p(self) -> NDArray[np.float64]:
        """Switching probability estimate at each checkpoint."""
        return self.n_switched / self.n_traj

    @property
    def p_error(self) -> NDArray[np.float64]:
        """Binomial standard error, with the Jeffreys-smoothed p so it is > 0 at 0 and n."""
        pt = (self.n_switched + 0.5) / (self.n_traj + 1.0)
        return np.sqrt(pt * (1.0 - pt) / self.n_traj)


def simulate_switching(i: float, delta: float, alpha: float, tau_d: NDArray[np.float64] | list[float], *,
                       n_traj: int, rng: np.random.Generator, dt_tau_d: float = 0.01,
                       max_dt_rad: float = 0.1) -> MacrospinRun:
    """Switched fraction P(m_z > 0 at the end of a pulse of length tau) for every checkpoint tau.

    Args:
        i: reduced current I / I_c0 (positive favours switching from -z to +z).
        delta: thermal stability factor Delta.
        alpha: Gilbert damping of the simulated magnet.
        tau_d: increasing pulse lengths in units of tau_D.
        n_traj: trajectories.
        rng: random generator (seed it for reproducibility).
        dt_tau_d: step in units of tau_D; the step is also capped at ``max_dt_rad`` precession radians.

    A pulse that ends at tau is followed by relaxation with no current; for this axisymmetric model the
    separatrix without current is m_z = 0 and the relaxation preserves the sign of m_z, so "switched" is
    m_z > 0 at the end of the pulse.
    """
    ck = np.asarray(tau_d, dtype=float)
    if ck.ndim != 1 or ck.size == 0 or np.any(np.diff(ck) <= 0) or ck[0] <= 0:
        raise ValueError("tau_d must be a non-empty increasing sequence of positive times")
    if n_traj < 1:
        raise ValueError(f"n_traj must be >= 1, got {n_traj}")
    u_per_tau_d = (1.0 + alpha * alpha) / alpha
    du = min(dt_tau_d * u_per_tau_d, max_dt_rad)
    m = equilibrium_start(delta, n_traj, rng)
    sig = math.sqrt(alpha / (delta * du))
    a_j = i * alpha
    counts = np.zeros(ck.size, dtype=np.int64)
    u_now = 0.0
    for k, target in enumerate(ck * u_per_tau_d):
        steps = int(round((target - u_now) / du))
        for _ in range(max(steps, 0)):
            h_th = sig * rng.standard_normal(m.shape)
            k1 = _rhs(m, h_th, alpha, a_j)
            mp = m + du * k1
            mp /= np.sqrt(np.einsum("ij,ij->j", mp, mp))
            m = m + 0.5 * du * (k1 + _rhs(mp, h_th, alpha, a_j))
            m /= np.sqrt(np.einsum("ij,ij->j", m, m))
        u_now += max(steps, 0) * du
        counts[k] = int(np.count_nonzero(m[2] > 0))
    return MacrospinRun(tau_d=ck, n_switched=counts, n_traj=n_traj)
