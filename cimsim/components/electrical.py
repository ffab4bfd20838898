"""DC nodal model of one crossbar read: column currents with wire, driver, sense and bias-dependent MTJs.

Circuit (docs/analog.md "Electrical model"). A read drives the rows of one row group; a driven row's cells
conduct (access transistor on), an undriven row's cells are open. For the driven rows ``k`` (physical row
``p_k`` of an array of ``rows`` rows) and every column ``j``:

- row line: source V_read → (R_drv + r_row) → a[k,0] —r_row— a[k,1] … a[k,C−1] (one segment per cell);
- cell: a[k,j] —(R_access + R_MTJ(V_MTJ))— b[k,j];
- bit line: b[k,j] —r_col·(p_{k+1} − p_k)— b[k+1,j] … b[last,j] —(r_col·(rows − p_last) + R_sense)— 0 V.

Undriven rows carry no current, so the bit-line segments between two driven rows are lumped exactly. The
column current is I_j = Σ_k g_kj·(V_a,kj − V_b,kj) (KCL: equal to the current into the sense amp).

MTJ: R_P bias-independent, R_AP = R_P (1 + TMR(V_MTJ, T)), TMR(V) = TMR(T)/(1 + V²/V_h²) (mtj.tmr, REFERENCES
§1.2); V_MTJ = V_cell·R_MTJ/(R_MTJ + R_access) is settled per cell by a fixed point, the network by repeated
sparse LU solves (scipy.sparse.linalg.splu) until the cell conductances stop changing (relative 1e−10).

TMR(T): Jullière TMR = 2P²/(1 − P²) with the spin polarisation P(T) = P₀(1 − α_sp·T^{3/2}) (Shang et al.,
PRB 58, R2917, 1998) [lit]; α_sp = 1.17e−5 K^{−3/2} fitted to CoFeB/MgO/CoFeB TMR 1144 % at 5 K and 604 % at
300 K (Lee et al., APL 90, 212507, 2007) [derived]; P₀ is set so TMR(t_ref) = tmr0.

Zero resistances are exact: nodes joined by a 0 Ω element are merged before the solve, so with every wire,
driver and sense resistance at 0 the currents are V_read·Σ_k g_kj exactly.

The reduced model (:func:`solve_reduced`) alternates exact ladder solves of the columns (row-line voltages
held) and of the row lines (bit-line voltages held) for a few sweeps; it is exact for the default layout (no
row-line resistance) and its error otherwise is measured against :func:`solve` and ngspice in docs/analog.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

#: Spin-polarisation temperature coefficient α_sp, K^-3/2 [derived: Lee et al. APL 90, 212507 (2007), TMR
#: 1144 % at 5 K and 604 % at 300 K, through P = sqrt(TMR/(2 + TMR)) and P(T) = P0 (1 − α T^1.5)]: 1.17e-5.
_RHO = math.sqrt(11.44 / 13.44) / math.sqrt(6.04 / 8.04)       # P(5 K) / P(300 K)
ALPHA_SP_PER_K15 = (_RHO - 1.0) / (_RHO * 300.0 ** 1.5 - 5.0 ** 1.5)
_REL_TOL = 1e-10
_MAX_ITER = 60


def tmr_at_temperature(tmr_ref: float, t_ref_k: float, temperature_k: float) -> float:
    """Zero-bias TMR (dimensionless) at ``temperature_k`` given ``tmr_ref`` at ``t_ref_k`` (Jullière + Shang)."""
    if not (tmr_ref > 0 and t_ref_k > 0 and temperature_k > 0):
        raise ValueError("tmr_ref, t_ref_k and temperature_k must be positive")
    p_ref = math.sqrt(tmr_ref / (2.0 + tmr_ref))
    p0 = p_ref / (1.0 - ALPHA_SP_PER_K15 * t_ref_k ** 1.5)
    p = p0 * (1.0 - ALPHA_SP_PER_K15 * temperature_k ** 1.5)
    if not 0.0 < p < 1.0:
        raise ValueError(f"spin polarisation {p:.3g} outside (0, 1) at {temperature_k} K")
    return 2.0 * p * p / (1.0 - p * p)


@dataclass(frozen=True)
class ArrayCircuit:
    """The DC read circuit of one array (all resistances in Ω, voltages in V).

    Attributes:
        rows, cols: array size (weight rows, columns sensed).
        r_row_ohm: row-line resistance per cell segment.
        r_col_ohm: bit-line resistance per cell segment (bit line plus a column-parallel source line).
        r_driver_ohm: output resistance of a row's driver.
        r_sense_ohm: input resistance of a column's sense amp (and its source-line ground switch).
        r_access_ohm: access transistor on-resistance.
        r_p_ohm: MTJ parallel-state resistance.
        tmr: zero-bias TMR at the operating temperature.
        vh_v: TMR half-bias voltage.
        read_voltage_v: driver voltage.
    """

    rows: int
    cols: int
    r_row_ohm: float
    r_col_ohm: float
    r_driver_ohm: float
    r_sense_ohm: float
    r_access_ohm: float
    r_p_ohm: float
    tmr: float
    vh_v: float
    read_voltage_v: float

    def __post_init__(self) -> None:
        for name in ("r_row_ohm", "r_col_ohm", "r_driver_ohm", "r_sense_ohm", "r_access_ohm"):
            v = getattr(self, name)
            if not (v >= 0 and math.isfinite(v)):
                raise ValueError(f"{name} must be finite and >= 0, got {v!r}")
        for name in ("r_p_ohm", "tmr", "vh_v", "read_voltage_v"):
            v = getattr(self, name)
            if not (v > 0 and math.isfinite(v)):
                raise ValueError(f"{name} must be finite and > 0, got {v!r}")

    def ideal(self) -> ArrayCircuit:
        """The same array with every wire, driver and sense resistance at 0 Ω."""
        return replace(self, r_row_ohm=0.0, r_col_ohm=0.0, r_driver_ohm=0.0, r_sense_ohm=0.0)

    def r_mtj_ohm(self, lrs: NDArray[np.bool_], v_mtj: NDArray[np.float64]) -> NDArray[np.float64]:
        """MTJ resistance of cells in state ``lrs`` (True: parallel) at MTJ bias ``v_mtj``, Ω."""
        r_ap = self.r_p_ohm * (1.0 + self.tmr / (1.0 + (v_mtj / self.vh_v) ** 2))
        return np.where(lrs, self.r_p_ohm, r_ap)

    def cell_conductance_s(self, lrs: NDArray[np.bool_], v_cell: NDArray[np.float64]) -> NDArray[np.float64]:
        """Conductance of access + MTJ at cell voltage ``v_cell`` (MTJ bias settled by a fixed point), S."""
        v_cell = np.abs(np.asarray(v_cell, dtype=float))
        r = self.r_mtj_ohm(lrs, v_cell * 0.5)
        for _ in range(_MAX_ITER):
            r_new = self.r_mtj_ohm(lrs, v_cell * r / (r + self.r_access_ohm))
            if np.max(np.abs(r_new - r) / r) < 1e-13:
                r = r_new
                break
            r = r_new
        return 1.0 / (r + self.r_access_ohm)

    def ideal_currents_a(self, driven: NDArray[np.bool_], lrs: NDArray[np.bool_]) -> NDArray[np.float64]:
        """Column currents with no parasitics: V_read·Σ_k g_kj, A."""
        d = np.asarray(driven, bool)
        g = self.cell_conductance_s(np.asarray(lrs, bool)[d], np.full((int(d.sum()), self.cols), self.read_voltage_v))
        return self.read_voltage_v * g.sum(axis=0)


@dataclass(frozen=True)
class Solution:
    """Result of one nodal solve.

    Attributes:
        currents_a: column currents (C,), A.
        v_cell_v: voltage across each driven cell (n_driven, C), V.
        g_cell_s: conductance of each driven cell at that voltage (n_driven, C), S.
        iterations: network solves until the MTJ conductances settled.
        kcl_residual_a: largest |Σ currents| over the free nodes, A.
    """

    currents_a: NDArray[np.float64]
    v_cell_v: NDArray[np.float64]
    g_cell_s: NDArray[np.float64]
    iterations: int
    kcl_residual_a: float


def _check(c: ArrayCircuit, driven: NDArray[np.bool_], lrs: NDArray[np.bool_]) -> tuple[np.ndarray, np.ndarray]:
    driven = np.asarray(driven, bool)
    lrs = np.asarray(lrs, bool)
    if driven.shape != (c.rows,) or lrs.shape != (c.rows, c.cols):
        raise ValueError(f"driven must be ({c.rows},) and lrs ({c.rows}, {c.cols}); got {driven.shape}, "
                         f"{lrs.shape}")
    return np.flatnonzero(driven), lrs[driven]


def solve(c: ArrayCircuit, driven: NDArray[np.bool_], lrs: NDArray[np.bool_]) -> Solution:
    """Full nodal solve of one read: ``driven`` (rows,) rows on, ``lrs`` (rows, cols) cell in its low state.

    Returns column currents into the sense amps and the per-cell operating point (module docstring).
    """
    pos, state = _check(c, driven, lrs)
    n, cc = state.shape
    if n == 0:
        z = np.zeros((0, cc))
        return Solution(np.zeros(cc), z, z, 0, 0.0)
    na = n * cc
    vsrc, gnd = 2 * na, 2 * na + 1
    a = np.arange(na).reshape(n, cc)
    b = na + a
    # fixed elements: (u, v, R)
    us = [np.full(n, vsrc), a[:, :-1].ravel(), b[:-1].ravel(), b[-1]]
    vs = [a[:, 0], a[:, 1:].ravel(), b[1:].ravel(), np.full(cc, gnd)]
    gaps = np.diff(pos).astype(float)
    rs = [np.full(n, c.r_driver_ohm + c.r_row_ohm), np.full(n * (cc - 1), c.r_row_ohm),
          np.repeat(gaps * c.r_col_ohm, cc), np.full(cc, c.r_col_ohm * (c.rows - pos[-1]) + c.r_sense_ohm)]
    fu, fv, fr = np.concatenate(us), np.concatenate(vs), np.concatenate(rs)
    # merge nodes joined by 0 Ω
    zero = fr == 0.0
    nn = 2 * na + 2
    # scipy.sparse only here and in _solve_nodes: every run builds a crossbar, only the electrical read solves it
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    adj = coo_matrix((np.ones(int(zero.sum())), (fu[zero], fv[zero])), shape=(nn, nn))
    _, comp = connected_components(adj, directed=False)
    if comp[vsrc] == comp[gnd]:
        raise ValueError("the read voltage is shorted to ground (zero-resistance path)")
    fixed_v = {comp[vsrc]: c.read_voltage_v, comp[gnd]: 0.0}
    classes = np.unique(comp)
    free = np.array([k for k in classes if k not in fixed_v], dtype=np.intp)
    index = np.full(comp.max() + 1, -1, dtype=np.intp)
    index[free] = np.arange(free.size)
    vfix = np.zeros(comp.max() + 1)
    for k, v in fixed_v.items():
        vfix[k] = v
    keep = ~zero & (comp[fu] != comp[fv])
    eu, ev, eg = comp[fu[keep]], comp[fv[keep]], 1.0 / fr[keep]
    cu, cv = comp[a.ravel()], comp[b.ravel()]       # cell ends (classes)
    v_cell = np.full((n, cc), c.read_voltage_v)
    g = c.cell_conductance_s(state, v_cell)
    it = 0
    volt = np.zeros(comp.max() + 1)
    for it in range(1, _MAX_ITER + 1):  # noqa: B007  (the count is returned)
        uu = np.concatenate([eu, cu])
        vv = np.concatenate([ev, cv])
        gg = np.concatenate([eg, g.ravel()])
        volt = _nodal(uu, vv, gg, index, vfix, free.size)
        v_cell = (volt[cu] - volt[cv]).reshape(n, cc)
        g_new = c.cell_conductance_s(state, v_cell)
        done = np.max(np.abs(g_new - g) / g) < _REL_TOL
        g = g_new
        if done:
            break
    i_cell = g * v_cell
    currents = i_cell.sum(axis=0)
    # KCL at the free nodes with the final conductances
    uu = np.concatenate([eu, cu])
    vv = np.concatenate([ev, cv])
    gg = np.concatenate([eg, g.ravel()])
    flow = gg * (volt[uu] - volt[vv])
    net = np.zeros(comp.max() + 1)
    np.add.at(net, uu, -flow)
    np.add.at(net, vv, flow)
    resid = float(np.max(np.abs(net[free]))) if free.size else 0.0
    return Solution(currents, v_cell, g, it, resid)


def _nodal(u: np.ndarray, v: np.ndarray, g: np.ndarray, index: np.ndarray, vfix: np.ndarray,
           n_free: int) -> np.ndarray:
    """Node voltages (by class) of a resistor network: free classes solved, fixed classes at ``vfix``."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import splu

    volt = vfix.copy()
    if n_free == 0:
        return volt
    iu, iv = index[u], index[v]
    rows, cols, data = [], [], []
    rhs = np.zeros(n_free)
    for x, y in ((iu, iv), (iv, iu)):
        m = x >= 0
        rows.append(x[m])
        cols.append(x[m])
        data.append(g[m])
        both = m & (y >= 0)
        rows.append(x[both])
        cols.append(y[both])
        data.append(-g[both])
        fixed_other = m & (y < 0)
        np.add.at(rhs, x[fixed_other], g[fixed_other] * vfix[(v if x is iu else u)[fixed_other]])
    mat = coo_matrix((np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
                     shape=(n_free, n_free)).tocsc()
    sol = splu(mat).solve(rhs)
    free_classes = np.flatnonzero(index >= 0)
    volt[free_classes] = sol[index[free_classes]]
    return volt


def _column_ladders(c: ArrayCircuit, g: np.ndarray, src: np.ndarray, seg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every column as a ladder: cells ``g`` (n, C) from row-line voltages ``src`` onto the bit line with
    segments ``seg`` (n,: below each driven row; the last one ends in the sense amp). Returns the bit-line
    voltages (n, C) and the column currents (C,), exact by a Thévenin recursion toward the sense amp."""
    n = g.shape[0]
    vth, rth = np.empty_like(src), np.empty_like(src)
    vt, rt = src[0], 1.0 / g[0]
    vth[0], rth[0] = vt, rt
    for k in range(1, n):
        rs = rt + seg[k - 1]
        den = 1.0 / rs + g[k]
        vt, rt = (vt / rs + src[k] * g[k]) / den, 1.0 / den
        vth[k], rth[k] = vt, rt
    ij = vt / (rt + seg[-1])
    vb = np.empty_like(src)
    vb[-1] = ij * seg[-1]
    for k in range(n - 2, -1, -1):
        vb[k] = vb[k + 1] + (vth[k] - vb[k + 1]) / (rth[k] + seg[k]) * seg[k]
    return vb, ij


def _row_ladders(c: ArrayCircuit, g: np.ndarray, vb: np.ndarray) -> np.ndarray:
    """Every driven row line as a ladder: driver (V_read behind R_drv + r_row) along segments r_row, cells ``g``
    (n, C) onto bit-line voltages ``vb``. Returns the row-line voltages (n, C), exact by a Thévenin recursion
    from the far end toward the driver."""
    cc = g.shape[1]
    r = c.r_row_ohm
    vth, rth = np.empty_like(vb), np.empty_like(vb)
    vt, rt = vb[:, -1], 1.0 / g[:, -1]
    vth[:, -1], rth[:, -1] = vt, rt
    for j in range(cc - 2, -1, -1):
        rs = rt + r
        den = 1.0 / rs + g[:, j]
        vt, rt = (vt / rs + vb[:, j] * g[:, j]) / den, 1.0 / den
        vth[:, j], rth[:, j] = vt, rt
    va = np.empty_like(vb)
    r_in = c.r_driver_ohm + r
    va[:, 0] = vt + (c.read_voltage_v - vt) * rt / (rt + r_in)
    for j in range(cc - 1):
        va[:, j + 1] = va[:, j] - (va[:, j] - vth[:, j + 1]) / (rth[:, j + 1] + r) * r
    return va


def solve_reduced(c: ArrayCircuit, driven: NDArray[np.bool_], lrs: NDArray[np.bool_], *,
                  sweeps: int = 3) -> NDArray[np.float64]:
    """Reduced model of the column currents, A: no sparse solve, O(sweeps·rows·cols).

    Alternating line solves: every column is a ladder of its driven cells on the bit line with the row-line
    voltages held, solved exactly by a Thévenin recursion toward the sense amp; then every row line is a ladder
    from its driver with the bit-line voltages held, solved the same way. ``sweeps`` column/row passes (the first
    column pass sees ideal row lines); cell conductances follow the cell voltages. With r_row = R_drv = 0 one
    column pass is exact (to the MTJ fixed point); otherwise the error after ``sweeps`` passes is in
    docs/analog.md (block Gauss–Seidel: it converges to the full solve as sweeps grow).
    """
    pos, state = _check(c, driven, lrs)
    n = pos.size
    if n == 0:
        return np.zeros(c.cols)
    v = c.read_voltage_v
    g = c.cell_conductance_s(state, np.full(state.shape, v))
    seg = np.append(np.diff(pos) * c.r_col_ohm, c.r_col_ohm * (c.rows - pos[-1]) + c.r_sense_ohm)
    va = np.full(state.shape, v)
    rows_ideal = c.r_row_ohm == 0.0 and c.r_driver_ohm == 0.0
    ij = np.zeros(c.cols)
    for _sweep in range(max(1, sweeps)):
        for _ in range(_MAX_ITER):  # MTJ bias: settle the cells with the lines of this sweep
            vb, ij = _column_ladders(c, g, va, seg)
            g_new = c.cell_conductance_s(state, va - vb)
            done = np.max(np.abs(g_new - g) / g) < _REL_TOL
            g = g_new
            if done:
                break
        if rows_ideal:
            break
        va = _row_ladders(c, g, vb)
        g = c.cell_conductance_s(state, va - vb)
    if not rows_ideal:
        _, ij = _column_ladders(c, g, va, seg)
    return ij
