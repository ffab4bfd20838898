"""Monotone piecewise-cubic Hermite interpolation (PCHIP) in numpy: the derivatives and the Hermite
polynomials of :class:`scipy.interpolate.PchipInterpolator`, for the switching table's run-time path.

Why not scipy: every run evaluates the switching table, and importing ``scipy.interpolate`` takes ≈ 0.4 s (it
pulls in ``scipy.optimize``, ``scipy.sparse`` and ``scipy.special``), most of a hardware-only CLI run's wall
time. The algorithm is short and fixed (Fritsch & Butland, SIAM J. Sci. Stat. Comput. 5(2), 1984: weighted
harmonic mean of the neighbouring secants, zero at extrema; the three-point end formula limited as in Moler,
*Numerical Computing with MATLAB*, 2004, §3.6), and tests/test_switching_table.py holds this module equal to
scipy's to 1e-12 on random data and on the shipped table.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def _edge(h0: NDArray, h1: NDArray, m0: NDArray, m1: NDArray) -> NDArray:
    """One-sided three-point derivative at an end, limited so the interpolant stays monotone."""
    d = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
    wrong_sign = np.sign(d) != np.sign(m0)
    overshoot = (np.sign(m0) != np.sign(m1)) & (np.abs(d) > 3 * np.abs(m0))
    return np.where(wrong_sign, 0.0, np.where(overshoot, 3 * m0, d))


def derivatives(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    """PCHIP node derivatives of ``y`` (nodes along axis 0) at the increasing nodes ``x``."""
    shape = (-1,) + (1,) * (y.ndim - 1)
    h = np.diff(x).reshape(shape)
    m = np.diff(y, axis=0) / h
    if x.size == 2:
        return np.concatenate([m, m], axis=0)
    d = np.empty_like(y)
    flat = (np.sign(m[1:]) != np.sign(m[:-1])) | (m[1:] == 0) | (m[:-1] == 0)
    w1 = 2 * h[1:] + h[:-1]
    w2 = h[1:] + 2 * h[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = (w1 / m[:-1] + w2 / m[1:]) / (w1 + w2)
        d[1:-1] = np.where(flat, 0.0, 1.0 / mean)
    d[0] = _edge(h[0], h[1], m[0], m[1])
    d[-1] = _edge(h[-1], h[-2], m[-1], m[-2])
    return d


class Pchip:
    """PCHIP through ``(x[k], y[k])``, ``y`` with the nodes along ``axis``; called at points it returns the
    interpolated values with the query shape in place of that axis (like ``PchipInterpolator``)."""

    def __init__(self, x: ArrayLike, y: ArrayLike, axis: int = 0) -> None:
        self.x = np.asarray(x, dtype=float)
        if self.x.ndim != 1 or self.x.size < 2 or np.any(np.diff(self.x) <= 0):
            raise ValueError("Pchip: x must be >= 2 strictly increasing values")
        self.axis = axis
        yy = np.ascontiguousarray(np.moveaxis(np.asarray(y, dtype=float), axis, 0))
        d = derivatives(self.x, yy)
        dx = np.diff(self.x).reshape((-1,) + (1,) * (yy.ndim - 1))
        slope = np.diff(yy, axis=0) / dx
        t = (d[:-1] + d[1:] - 2 * slope) / dx
        # Horner coefficients of the cubic on each interval, highest power first (PPoly's layout)
        self.c = np.stack([t / dx, (slope - d[:-1]) / dx - t, d[:-1], yy[:-1]])

    def __call__(self, q: ArrayLike) -> NDArray[np.float64]:
        qq = np.asarray(q, dtype=float)
        flat = qq.ravel()
        k = np.clip(np.searchsorted(self.x, flat, side="right") - 1, 0, self.x.size - 2)
        s = (flat - self.x[k]).reshape((-1,) + (1,) * (self.c.ndim - 2))
        out = self.c[0].take(k, axis=0)
        for c in self.c[1:]:  # Horner, in place: no (4, queries, ...) gather
            out *= s
            out += c.take(k, axis=0)
        out = out.reshape(qq.shape + out.shape[1:])
        return np.moveaxis(out, tuple(range(qq.ndim)), tuple(range(self.axis, self.axis + qq.ndim)))
