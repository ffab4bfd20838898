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

Interpolation of logit P, in three steps (docs/mtj_model.md, "Interpolation"):

1. each axis is mapped to a fractional node index u(x) by a monotone PCHIP through (node -> index); the axes
   are (i, Delta, ln tau);
2. the node values are refined to a grid UPSAMPLE times finer in u by monotone PCHIP along each axis (exact
   at the nodes, third-order between them), then made exactly monotone along all axes by cumulative max/min
   passes (PCHIP keeps the order along the axis it runs on; the passes remove the ~1e-4 cross-axis slips);
3. the refined values are the coefficients of a tensor-product quadratic B-spline on the fine uniform grid
   (Schoenberg's variation-diminishing approximation): every weight is a product of B-spline values, >= 0,
   summing to 1, so the result is exactly monotone along every axis, order-preserving across axes, bounded by
   the node values and C1 (dP/dI is continuous). Its smoothing bias (c_{k-1} - 2 c_k + c_{k+1})/8 is taken
   at the fine spacing, i.e. 1/UPSAMPLE^2 of what the coarse grid would give.

The Jeffreys floor f = 0.5/(N+1) is then mapped to 0 and 1 - f to 1 by the increasing affine map
(P - f)/(1 - 2f), clipped. The binomial standard error follows from the interpolated P and N.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cimsim.components.switching.pchip import Pchip

__all__ = ["SwitchingTable", "monotone_logit", "load_table", "shipped_table_path"]

SHIPPED = "sllg_switching.npz"
SEARCH_POINTS = 64  # sub-intervals per round of the inverse search (i_for_p)
UPSAMPLE = (4, 4, 2)  # refinement of (i, Delta, ln tau) before the B-spline; ln tau is already 8 per decade


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
    lg = np.log(pt / (1.0 - pt))
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
    def _index_maps(self) -> tuple[Pchip, Pchip, Pchip]:
        """x -> fractional node index per axis (monotone, C1); ln tau is uniform so its map is linear."""
        return tuple(Pchip(ax, np.arange(ax.size, dtype=float))
                     for ax in (self.i, self.delta, np.log(self.tau_d)))

    @cached_property
    def _coefficients(self) -> NDArray[np.float64]:
        """B-spline coefficients: node logits refined UPSAMPLE-fold by PCHIP in index space, made monotone."""
        c = self.logit_p
        for axis, m in enumerate(UPSAMPLE):
            n = c.shape[axis]
            c = Pchip(np.arange(n, dtype=float), c, axis=axis)(np.linspace(0, n - 1, (n - 1) * m + 1))
        c = np.maximum.accumulate(c, axis=2)
        c = np.maximum.accumulate(c, axis=0)
        # C order, so the flat view the interpolator gathers from is a view, not a copy
        return np.ascontiguousarray(np.minimum.accumulate(c, axis=1))

    def _weights(self, axis: int, x: NDArray[np.float64]) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        """Fine-grid indices and quadratic B-spline weights, both (N, 3), of flat coordinates along one axis."""
        n = self._coefficients.shape[axis]
        return _quadratic_weights(np.clip(self._index_maps[axis](x) * UPSAMPLE[axis], 0.0, n - 1.0), n)

    def _delta_tau(self, delta: NDArray[np.float64], tau_d: NDArray[np.float64]
                   ) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        """The (Delta, ln tau) part of the tensor-product B-spline at the flattened points (clipped into the
        table): offsets into a (Delta, tau) slice of the coefficients and the weight products, both (N, 9)."""
        kd, wd = self._weights(1, np.clip(delta, self.delta[0], self.delta[-1]).ravel())
        kt, wt = self._weights(2, np.clip(np.log(tau_d), math.log(self.tau_d[0]), math.log(self.tau_d[-1])).ravel())
        n2 = self._coefficients.shape[2]
        return ((kd[:, :, None] * n2 + kt[:, None, :]).reshape(-1, 9),
                (wd[:, :, None] * wt[:, None, :]).reshape(-1, 9))

    def _logit(self, i: NDArray[np.float64], dt: tuple[NDArray[np.intp], NDArray[np.float64]]
               ) -> NDArray[np.float64]:
        """Interpolated logit at flat currents ``i`` (inside the table), ``dt`` from :meth:`_delta_tau`: the 27
        coefficients around each point gathered at once and weighted."""
        coef = self._coefficients
        ki, wi = self._weights(0, i)
        lin = ki[:, :, None] * (coef.shape[1] * coef.shape[2]) + dt[0][:, None, :]
        return np.einsum("nab,nab->n", coef.reshape(-1)[lin], wi[:, :, None] * dt[1][:, None, :])

    def _p_of_logit(self, lg: NDArray[np.float64]) -> NDArray[np.float64]:
        """P from the interpolated logit: the Jeffreys floor f to 0 and 1 − f to 1, exactly."""
        f = self.floor
        out = np.clip((_expit(lg) - f) / (1.0 - 2.0 * f), 0.0, 1.0)
        # snap the round-off of averaging floor or ceiling values so the limits are exactly 0 and 1
        return np.where(out < 1e-12, 0.0, np.where(out > 1.0 - 1e-12, 1.0, out))

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
        lg = self._logit(np.clip(ii, self.i[0], self.i[-1]).ravel(), self._delta_tau(dd, tt))
        return self._p_of_logit(lg).reshape(ii.shape)

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
        """Reduced current with P_sw = ``target_p`` (vectorized search on the monotone interpolant).

        Each round evaluates P at ``SEARCH_POINTS`` − 1 currents spread evenly over the bracket and keeps the
        sub-interval where P crosses the target, so ten rounds shrink the bracket by 64¹⁰ = 2⁶⁰, to the
        float64 resolution of i (the bisection this replaces needed 60 evaluations instead of 10).
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
        frac = np.arange(1, SEARCH_POINTS) / SEARCH_POINTS
        # the (Delta, tau) weights of every probe are the same in every round: computed once
        dt = self._delta_tau(*np.broadcast_arrays(dd[..., None], tt[..., None], frac)[:2])
        for _ in range(10):
            u = lo[..., None] + (hi - lo)[..., None] * frac
            # P is monotone in i, so the currents below the target form a prefix of u
            p_u = self._p_of_logit(self._logit(u.ravel(), dt)).reshape(u.shape)
            n_below = np.sum(p_u < tp[..., None], axis=-1)
            last = SEARCH_POINTS - 2
            lo = np.where(n_below > 0, np.take_along_axis(u, np.maximum(n_below - 1, 0)[..., None], -1)[..., 0], lo)
            hi = np.where(n_below <= last, np.take_along_axis(u, np.minimum(n_below, last)[..., None], -1)[..., 0],
                          hi)
        return 0.5 * (lo + hi)


def _expit(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Logistic function 1/(1 + e^-x), the formula of ``scipy.special.expit`` (its import costs 0.15 s)."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def _quadratic_weights(u: NDArray[np.float64], n: int) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """Indices (clipped to [0, n-1]: the end coefficients repeat) and weights of the three uniform quadratic
    B-splines centred on the integers nearest to ``u``; the weights are >= 0 and sum to 1."""
    j = np.floor(u + 0.5)
    x = u - j
    w = np.stack([0.5 * (0.5 - x) ** 2, 0.75 - x * x, 0.5 * (0.5 + x) ** 2], axis=1)
    k = np.clip(j.astype(np.intp)[:, None] + np.arange(-1, 2), 0, n - 1)
    return k, w


def shipped_table_path() -> Path:
    """Path of the table shipped in the package (``cimsim/components/switching/data``)."""
    return Path(str(resources.files("cimsim.components.switching") / "data" / SHIPPED))


@lru_cache(maxsize=8)
def load_table(path: str | None = None) -> SwitchingTable:
    """Load (and memoize: tables are immutable) the shipped table or the one at ``path``."""
    return SwitchingTable.load(shipped_table_path() if path is None else path)
