"""The stochastic-LLG switching table: P_sw(i, Delta, t_p/tau_D), monotone projection and interpolation.

File format (npz, plain arrays, read with ``allow_pickle=False``):

==============  =====================================================================================
``i``           reduced current I/I_c0 axis, increasing
``delta``       thermal stability factor axis, increasing
``tau_d``       pulse length axis in units of tau_D = (1 + alpha^2)/(alpha gamma mu0 H_k), increasing
``n_switched``  int (i, delta, tau_d): trajectories with m_z > 0 at the end of the pulse
``n_traj``      trajectories per (i, delta) point (the same trajectories serve every tau_d)
``seed``        root seed of the generation (``numpy.random.SeedSequence``)
``logit_p``     monotone logit table the interpolator reads (:func:`monotone_logit` of the counts)
``generator``   text: solver, version, generation damping and step
==============  =====================================================================================

Interpolation of logit P: bilinear in (Delta, ln tau) gives the column over the i nodes (positive weights,
so every node value stays monotone in Delta and tau), then a monotone PCHIP (Fritsch-Carlson) along i makes
P continuously differentiable in the current, so dP/dI is continuous. The Jeffreys floor f = 0.5/(N+1)
is then mapped to 0 and 1 - f to 1 by the increasing affine map (P - f)/(1 - 2f), clipped. The binomial
standard error follows from the interpolated P and N.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit, logit

__all__ = ["SwitchingTable", "monotone_logit", "load_table", "shipped_table_path"]

SHIPPED = "sllg_switching.npz"


def _isotonic_along(values: NDArray[np.float64], weights: NDArray[np.float64], axis: int,
                    increasing: bool) -> NDArray[np.float64]:
    """Weighted least-squares isotonic regression of every 1-D line of ``values`` along ``axis``."""
    from sklearn.isotonic import IsotonicRegression

    v = np.moveaxis(values, axis, -1)
    w = np.moveaxis(weights, axis, -1)
    out = np.empty_like(v)
    x = np.arange(v.shape[-1], dtype=float)
    iso = IsotonicRegression(increasing=increasing)
    for idx in np.ndindex(v.shape[:-1]):
        out[idx] = iso.fit_transform(x, v[idx], sample_weight=w[idx])
    return np.moveaxis(out, -1, axis)


def monotone_logit(n_switched: NDArray[np.integer], n_traj: int, sweeps: int = 8) -> NDArray[np.float64]:
    """Logit table increasing in i (axis 0) and tau (axis 2), decreasing in Delta (axis 1).

    Jeffreys-smoothed estimates p~ = (k + 1/2)/(N + 1) keep the logit finite at k = 0 and N. Monte-Carlo
    noise breaks monotonicity where P is tiny or near 1, so the logits are projected by alternating weighted
    isotonic regressions along the three axes (weights N p~ (1 - p~), the inverse variance of a logit
    estimate), and a final cumulative max/min pass makes the order exact: each pass preserves the orders
    the previous ones established (max and min of ordered sequences stay ordered).
    """
    k = np.asarray(n_switched, dtype=float)
    pt = (k + 0.5) / (n_traj + 1.0)
    lg = logit(pt)
    w = n_traj * pt * (1.0 - pt)
    for _ in range(sweeps):
        lg = _isotonic_along(lg, w, 2, True)
        lg = _isotonic_along(lg, w, 0, True)
        lg = _isotonic_along(lg, w, 1, False)
    lg = np.maximum.accumulate(lg, axis=2)
    lg = np.maximum.accumulate(lg, axis=0)
    return np.minimum.accumulate(lg, axis=1)


@dataclass(frozen=True, eq=False)
class SwitchingTable:
    """P_sw on the reduced axes; see the module docstring for the file format."""

    i: NDArray[np.float64]
    delta: NDArray[np.float64]
    tau_d: NDArray[np.float64]
    n_switched: NDArray[np.int64]
    n_traj: int
    seed: int
    logit_p: NDArray[np.float64]
    generator: str
    source: str = ""

    @classmethod
    def load(cls, path: str | Path) -> SwitchingTable:
        """Read a table npz (no pickles)."""
        with np.load(path, allow_pickle=False) as f:
            n_traj = int(f["n_traj"])
            counts = np.asarray(f["n_switched"], dtype=np.int64)
            lg = np.asarray(f["logit_p"], dtype=float) if "logit_p" in f else monotone_logit(counts, n_traj)
            tab = cls(i=np.asarray(f["i"], float), delta=np.asarray(f["delta"], float),
                      tau_d=np.asarray(f["tau_d"], float), n_switched=counts, n_traj=n_traj, seed=int(f["seed"]),
                      logit_p=lg, generator=str(f["generator"]) if "generator" in f else "", source=str(path))
        tab.check()
        return tab

    def check(self) -> None:
        """Raise ``ValueError`` if the arrays are inconsistent."""
        shape = (self.i.size, self.delta.size, self.tau_d.size)
        for name in ("i", "delta", "tau_d"):
            ax = getattr(self, name)
            if ax.ndim != 1 or ax.size < 4 or np.any(np.diff(ax) <= 0) or ax[0] <= 0:
                raise ValueError(f"switching table {self.source}: axis {name!r} must be >= 4 increasing positive values")
        if self.n_switched.shape != shape or self.logit_p.shape != shape:
            raise ValueError(f"switching table {self.source}: n_switched and logit_p must have shape {shape}")
        if self.n_traj < 1 or np.any(self.n_switched < 0) or np.any(self.n_switched > self.n_traj):
            raise ValueError(f"switching table {self.source}: counts must lie in [0, n_traj]")

    @property
    def floor(self) -> float:
        """Jeffreys floor 0.5/(N + 1): the smallest P the Monte Carlo resolves; mapped to exactly 0."""
        return 0.5 / (self.n_traj + 1.0)

    @cached_property
    def _log_tau(self) -> NDArray[np.float64]:
        return np.log(self.tau_d)

    def _logit(self, i: NDArray[np.float64], delta: NDArray[np.float64], log_tau: NDArray[np.float64]
               ) -> NDArray[np.float64]:
        """Interpolated logit at flat query arrays (inside the table)."""
        # bilinear weights in (Delta, ln tau)
        cols = []
        for x, ax in ((delta, self.delta), (log_tau, self._log_tau)):
            k = np.clip(np.searchsorted(ax, x, side="right") - 1, 0, ax.size - 2)
            w = np.clip((x - ax[k]) / (ax[k + 1] - ax[k]), 0.0, 1.0)
            cols.append((k, w))
        (kd, wd), (kt, wt) = cols
        lg = self.logit_p  # (i, delta, tau)
        col = ((1 - wd) * (1 - wt))[:, None] * lg[:, kd, kt].T + ((1 - wd) * wt)[:, None] * lg[:, kd, kt + 1].T \
            + (wd * (1 - wt))[:, None] * lg[:, kd + 1, kt].T + (wd * wt)[:, None] * lg[:, kd + 1, kt + 1].T
        return _pchip_rows(self.i, col, i)

    def ranges(self) -> dict[str, tuple[float, float]]:
        """Closed ranges of the three reduced axes."""
        return {"i": (float(self.i[0]), float(self.i[-1])), "delta": (float(self.delta[0]), float(self.delta[-1])),
                "tau_d": (float(self.tau_d[0]), float(self.tau_d[-1]))}

    def check_range(self, i: ArrayLike, delta: ArrayLike, tau_d: ArrayLike) -> None:
        """Raise ``ValueError`` naming the first reduced coordinate outside the table."""
        labels = {"i": "current ratio I/I_c0", "delta": "thermal stability Delta", "tau_d": "pulse t_p/tau_D"}
        for name, val in (("i", i), ("delta", delta), ("tau_d", tau_d)):
            lo, hi = self.ranges()[name]
            v = np.asarray(val, dtype=float)
            bad = ~((v >= lo * (1 - 1e-12)) & (v <= hi * (1 + 1e-12)))
            if np.any(bad):
                first = float(v[bad].flat[0])
                raise ValueError(f"{name}: {labels[name]} = {first:.4g} is outside the switching table "
                                 f"[{lo:.4g}, {hi:.4g}]")

    def p(self, i: ArrayLike, delta: ArrayLike, tau_d: ArrayLike) -> NDArray[np.float64]:
        """Interpolated P_sw (broadcast over the arguments); ``ValueError`` outside the table."""
        ii, dd, tt = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (i, delta, tau_d)))
        self.check_range(ii, dd, tt)
        raw = expit(self._logit(np.clip(ii, self.i[0], self.i[-1]).ravel(),
                                np.clip(dd, self.delta[0], self.delta[-1]).ravel(),
                                np.clip(np.log(tt), math.log(self.tau_d[0]), math.log(self.tau_d[-1])).ravel()))
        raw = raw.reshape(ii.shape)
        f = self.floor
        return np.clip((raw - f) / (1.0 - 2.0 * f), 0.0, 1.0)

    def p_error(self, p: ArrayLike) -> NDArray[np.float64]:
        """Binomial standard error of a table value ``p`` (Jeffreys-smoothed so it is > 0 at 0 and 1)."""
        pt = np.clip(np.asarray(p, dtype=float), self.floor, 1.0 - self.floor)
        return np.sqrt(pt * (1.0 - pt) / self.n_traj)

    def dp_di(self, i: ArrayLike, delta: ArrayLike, tau_d: ArrayLike, h: float = 1e-4) -> NDArray[np.float64]:
        """dP/di by a central difference of the interpolant (one-sided at the table edges)."""
        ii = np.asarray(i, dtype=float)
        lo = np.maximum(ii - h, self.i[0])
        hi = np.minimum(ii + h, self.i[-1])
        return (self.p(hi, delta, tau_d) - self.p(lo, delta, tau_d)) / (hi - lo)

    def i_for_p(self, target_p: ArrayLike, delta: ArrayLike, tau_d: ArrayLike) -> NDArray[np.float64]:
        """Reduced current with P_sw = ``target_p`` (vectorized bisection on the monotone interpolant).

        ``ValueError`` if the target lies outside [P(i_min), P(i_max)] at that Delta and pulse.
        """
        tp, dd, tt = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (target_p, delta, tau_d)))
        lo = np.full(tp.shape, self.i[0])
        hi = np.full(tp.shape, self.i[-1])
        p_lo, p_hi = self.p(lo, dd, tt), self.p(hi, dd, tt)
        bad = (tp < p_lo) | (tp > p_hi)
        if np.any(bad):
            k = np.flatnonzero(bad.ravel())[0]
            raise ValueError(
                f"target_p: {tp.flat[k]:.4g} is not reachable within the switching table's current range "
                f"I/I_c0 in [{self.i[0]:.3g}, {self.i[-1]:.3g}] (P spans {p_lo.flat[k]:.3g}-{p_hi.flat[k]:.3g} at "
                f"Delta = {dd.flat[k]:.4g}, t_p/tau_D = {tt.flat[k]:.4g}); change the pulse")
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            below = self.p(mid, dd, tt) < tp
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
        return 0.5 * (lo + hi)


def _pchip_rows(x: NDArray[np.float64], y: NDArray[np.float64], xq: NDArray[np.float64]) -> NDArray[np.float64]:
    """Monotone piecewise-cubic Hermite interpolation (Fritsch-Carlson, as scipy's PchipInterpolator) of each
    row of ``y`` (shape (n, len(x))) at its own query ``xq[n]``; vectorized over rows."""
    h = np.diff(x)
    m = np.diff(y, axis=1) / h
    d = np.zeros_like(y)
    # interior: weighted harmonic mean where the neighbouring slopes share a sign, else 0
    w1 = 2 * h[1:] + h[:-1]
    w2 = h[1:] + 2 * h[:-1]
    same = (m[:, :-1] * m[:, 1:]) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        hm = (w1 + w2) / (w1 / m[:, :-1] + w2 / m[:, 1:])
    d[:, 1:-1] = np.where(same, hm, 0.0)
    # ends: shape-preserving three-point formula
    for end, (h0, h1, m0, m1) in ((0, (h[0], h[1], m[:, 0], m[:, 1])), (-1, (h[-1], h[-2], m[:, -1], m[:, -2]))):
        de = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
        de = np.where(np.sign(de) != np.sign(m0), 0.0, de)
        de = np.where((np.sign(m0) != np.sign(m1)) & (np.abs(de) > np.abs(3 * m0)), 3 * m0, de)
        d[:, end] = de
    k = np.clip(np.searchsorted(x, xq, side="right") - 1, 0, x.size - 2)
    rows = np.arange(y.shape[0])
    hk = h[k]
    s = (xq - x[k]) / hk
    h00, h10, h01, h11 = (2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s, -2 * s**3 + 3 * s**2, s**3 - s**2)
    return h00 * y[rows, k] + h10 * hk * d[rows, k] + h01 * y[rows, k + 1] + h11 * hk * d[rows, k + 1]


def shipped_table_path() -> Path:
    """Path of the table shipped in the package (``cimsim/components/switching/data``)."""
    return Path(str(resources.files("cimsim.components.switching") / "data" / SHIPPED))


@lru_cache(maxsize=8)
def load_table(path: str | None = None) -> SwitchingTable:
    """Load (and memoize: tables are immutable) the shipped table or the one at ``path``."""
    return SwitchingTable.load(shipped_table_path() if path is None else path)
