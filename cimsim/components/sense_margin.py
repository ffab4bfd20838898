"""Sense margin of a row-group read: per-level reading error and misread probability (docs/analog.md).

A read of ``n_d`` driven rows, ``n`` of them conducting in the low-resistance state, has the partial sum
s = 2n − n_d. The converter turns the column current I into a reading ŝ through its reference ladder:

- ``nominal`` references sit at the ideal array's level currents at t_ref, I_n = n_d·I_H + n·ΔI:
  ŝ = 2(I − n_d·I_H)/ΔI − n_d;
- ``calibrated`` references sit at the mean current of each level at each row-group position (a trimmed or
  replica reference): ŝ is I placed on that ladder by linear interpolation (the level means are a quadratic
  least-squares fit in n per position and n_d).

The reading error e = ŝ − s of each column is collected from circuit solves (:mod:`electrical`) of random
patterns: every row-group position of the array, every n_d = 1 … rows_active (driven rows drawn at random in
the group; large arrays: at most 8 positions and 16 counts, :func:`group_starts`, :func:`driven_counts`),
each column with its own low-state fraction f ~ U(0, 1), so every level n = 0 … n_d is equally likely. Per (n_d, n), pooled over positions and columns: the bias b and the spread σ_IR (IR drop depends on
which cells conduct and where). Device spread adds in popcount units (cell-conductance σ_c from RA, the
executor's per-cell draw): σ_RA² = σ_c²·[n(κ+1)² + (n_d − n)(κ−1)²]; TMR spread (σ_TMR, relative) moves the
high-resistance cells only: σ_TMR,cell = σ_TMR·TMR/(1+TMR)·R_MTJ,AP/(R_MTJ,AP + R_access), in popcount units
(κ−1)·σ_TMR,cell per high cell. The comparator's own noise (``variation.sense_noise_sigma_lsb``) is a
separate effect and adds in quadrature.

Misread: the reading falls outside the code interval of s: P = Φ((lo − s − b)/σ) + 1 − Φ((hi − s − b)/σ),
[lo, hi) the references around Q(s) (quantizer.py). The expected misread rate weights the levels of a full
group with Binomial(rows_active, ½) (random ±1 inputs and weights).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

from cimsim.components import electrical

#: Root seed of the margin Monte Carlo: a design characterisation, the same for every run of a chip.
MARGIN_SEED = 20231
#: Random patterns per (row-group position, driven-row count).
PATTERNS = 1
#: At most this many row-group positions and driven-row counts are solved (large arrays): a count not
#: solved takes the statistics of the nearest solved one at the same fraction n/n_d.
MAX_POSITIONS, MAX_DRIVEN_COUNTS = 8, 16
#: Columns solved when they are independent (no row-line or driver resistance): more add only samples.
MAX_INDEPENDENT_COLUMNS = 128


@dataclass(frozen=True)
class ReadError:
    """Per-level reading error of one chip, popcount units; index [n_d, n] (n_d = 0 … ra, n = 0 … n_d).

    Attributes:
        rows_active: ra.
        bias: mean of ŝ − s.
        sigma_ir: spread of ŝ − s from the circuit (IR drop pattern dependence).
        sigma_tmr: spread from TMR device variation (per read).
        sigma_ra: spread from RA device variation (the executor draws it per cell instead).
        sigma_sense: the comparator noise ``variation.sense_noise_sigma_lsb``.
        samples: column samples behind each entry.
    """

    rows_active: int
    bias: NDArray[np.float64]
    sigma_ir: NDArray[np.float64]
    sigma_tmr: NDArray[np.float64]
    sigma_ra: NDArray[np.float64]
    sigma_sense: float
    samples: NDArray[np.int64]

    @property
    def sigma_read(self) -> NDArray[np.float64]:
        """Per-read spread the functional run adds (RA is drawn per cell there): √(σ_IR² + σ_TMR² + σ_sense²)."""
        return np.sqrt(self.sigma_ir ** 2 + self.sigma_tmr ** 2 + self.sigma_sense ** 2)

    @property
    def sigma_total(self) -> NDArray[np.float64]:
        return np.sqrt(self.sigma_read ** 2 + self.sigma_ra ** 2)

    def perturb(self, s: np.ndarray, driven: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Readings ŝ = s + b + σ_read·z of partial sums ``s`` with ``driven`` rows (broadcastable), float32."""
        d = np.clip(np.rint(np.broadcast_to(driven, s.shape)), 0, self.rows_active).astype(np.intp)
        n = np.clip(np.rint((s + d) * 0.5), 0, d).astype(np.intp)
        sig = self.sigma_read
        return (s + self.bias[d, n] + sig[d, n] * z).astype(np.float32)


def code_interval(q: Any, s: float) -> tuple[float, float]:
    """Readings [lo, hi) that convert to the same code as ``s`` under quantizer ``q`` (−inf/inf at the ends)."""
    step, fs = q.step, q.full_scale
    k = min(max(round((s + fs) / step), 0), q.levels - 1)
    lo = -math.inf if k == 0 else (k - 0.5) * step - fs
    hi = math.inf if k == q.levels - 1 else (k + 0.5) * step - fs
    return lo, hi


def misread_probability(q: Any, s: float, bias: float, sigma: float) -> float:
    """P(Q(s + bias + σz) ≠ Q(s)), z ~ N(0, 1)."""
    lo, hi = code_interval(q, s)
    if sigma <= 0:
        x = s + bias
        return 0.0 if lo <= x < hi else 1.0
    return float(ndtr((lo - s - bias) / sigma) + 1.0 - ndtr((hi - s - bias) / sigma))


def group_starts(rows: int, rows_active: int) -> np.ndarray:
    """First rows of the row groups sampled: all of them up to :data:`MAX_POSITIONS`, else that many evenly
    spaced from the first to the last group."""
    groups = rows // rows_active
    return rows_active * np.unique(np.round(np.linspace(0, groups - 1, min(groups, MAX_POSITIONS))).astype(int))


def driven_counts(rows_active: int) -> np.ndarray:
    """Driven-row counts n_d sampled: all up to :data:`MAX_DRIVEN_COUNTS`, else evenly spaced, with 1 and ra."""
    return np.unique(np.round(np.linspace(1, rows_active, min(rows_active, MAX_DRIVEN_COUNTS))).astype(int))


def _readings(circ: electrical.ArrayCircuit, nominal: electrical.ArrayCircuit, solver: str, rows_active: int,
              references: str, rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Reading error samples e and their level n, indexed by n_d (lists of arrays)."""
    ra = rows_active
    solve = electrical.solve_reduced if solver == "reduced" else (lambda c, d, l_: electrical.solve(c, d, l_).currents_a)
    one = np.ones((1, 1), bool)
    v = nominal.read_voltage_v
    i_l = v * float(nominal.cell_conductance_s(one, np.full((1, 1), v))[0, 0])
    i_h = v * float(nominal.cell_conductance_s(~one, np.full((1, 1), v))[0, 0])
    errs: list[list[np.ndarray]] = [[] for _ in range(ra + 1)]
    levels: list[list[np.ndarray]] = [[] for _ in range(ra + 1)]
    for g0 in group_starts(circ.rows, ra):
        for n_d in driven_counts(ra):
            for _ in range(PATTERNS):
                rows = g0 + rng.choice(ra, size=n_d, replace=False)
                driven = np.zeros(circ.rows, bool)
                driven[rows] = True
                frac = rng.random(circ.cols)
                lrs = rng.random((circ.rows, circ.cols)) < frac[None, :]
                n = lrs[driven].sum(axis=0)
                cur = solve(circ, driven, lrs)
                s = 2 * n - n_d
                if references == "nominal":
                    s_hat = 2.0 * (cur - n_d * i_h) / (i_l - i_h) - n_d
                else:
                    deg = min(2, n_d)
                    coef = np.polyfit(n.astype(float), cur, deg) if np.unique(n).size > deg else None
                    if coef is None:
                        s_hat = s.astype(float)
                    else:
                        ladder = np.polyval(coef, np.arange(n_d + 1, dtype=float))
                        order = np.argsort(ladder)
                        n_hat = np.interp(cur, ladder[order], np.arange(n_d + 1, dtype=float)[order],
                                          left=np.nan, right=np.nan)
                        # beyond the ladder's ends: extrapolate with the end spacing
                        lo_sp = ladder[order][1] - ladder[order][0] if n_d else 1.0
                        hi_sp = ladder[order][-1] - ladder[order][-2] if n_d else 1.0
                        below, above = cur < ladder[order][0], cur > ladder[order][-1]
                        n_hat = np.where(below, (cur - ladder[order][0]) / lo_sp, n_hat)
                        n_hat = np.where(above, n_d + (cur - ladder[order][-1]) / hi_sp, n_hat)
                        s_hat = 2.0 * n_hat - n_d
                errs[n_d].append(s_hat - s)
                levels[n_d].append(n)
    return [np.concatenate(e) if e else np.zeros(0) for e in errs], \
        [np.concatenate(lv) if lv else np.zeros(0, int) for lv in levels]


def resolved_solver(solver: str, circ: electrical.ArrayCircuit) -> str:
    """``auto`` → ``reduced`` when it is exact for ``circ`` (no row-line or driver resistance), else ``full``."""
    if solver != "auto":
        return solver
    return "reduced" if circ.r_row_ohm == 0.0 and circ.r_driver_ohm == 0.0 else "full"


def read_error(crossbar: Any, *, ra_sigma_rel: float, tmr_sigma_rel: float, sense_sigma_lsb: float,
               temperature_k: float | None = None) -> ReadError:
    """Per-level reading error of ``crossbar`` (a :class:`~cimsim.components.crossbar.Crossbar`) at
    ``temperature_k`` (default: the chip's), with relative RA / TMR spreads and comparator noise in LSB."""
    e = crossbar.electrical
    references = e.references if e is not None else "calibrated"
    ra = crossbar.rows_active
    circ = crossbar.circuit(temperature_k)
    if circ.r_row_ohm == 0.0 and circ.r_driver_ohm == 0.0 and circ.cols > MAX_INDEPENDENT_COLUMNS:
        circ = replace(circ, cols=MAX_INDEPENDENT_COLUMNS)   # columns decouple: the same statistics
    solver = resolved_solver(e.solver if e is not None else "auto", circ)
    nominal = crossbar.circuit(e.t_ref_k if e is not None else None).ideal()
    rng = np.random.default_rng(np.random.SeedSequence(MARGIN_SEED))
    errs, levels = _readings(circ, nominal, solver, ra, references, rng)
    shape = (ra + 1, ra + 1)
    bias, sig, count = np.zeros(shape), np.zeros(shape), np.zeros(shape, np.int64)
    solved = driven_counts(ra)
    for n_d in range(1, ra + 1):
        src = int(solved[np.argmin(np.abs(solved - n_d))])
        for n in range(n_d + 1):
            m = n if src == n_d else int(round(n * src / n_d))
            sel = errs[src][levels[src] == m]
            count[n_d, n] = sel.size
            if sel.size:
                bias[n_d, n] = float(sel.mean())
                sig[n_d, n] = float(sel.std(ddof=1)) if sel.size > 1 else 0.0
    # device spreads, popcount units (module docstring)
    v = circ.read_voltage_v
    one = np.ones((1, 1), bool)
    i_l = v * float(circ.ideal().cell_conductance_s(one, np.full((1, 1), v))[0, 0])
    i_h = v * float(circ.ideal().cell_conductance_s(~one, np.full((1, 1), v))[0, 0])
    kappa = (i_l + i_h) / (i_l - i_h)
    sig_c = crossbar.conductance_sigma_rel(ra_sigma_rel)
    r_ap = 1.0 / (i_h / v) - circ.r_access_ohm
    sig_t = tmr_sigma_rel * circ.tmr / (1.0 + circ.tmr) * r_ap / (r_ap + circ.r_access_ohm)
    nd = np.arange(ra + 1)[:, None]
    nn = np.arange(ra + 1)[None, :]
    valid = nn <= nd
    hi_cells = np.where(valid, nd - nn, 0)
    sig_ra = np.where(valid, sig_c * np.sqrt(nn * (kappa + 1) ** 2 + hi_cells * (kappa - 1) ** 2), 0.0)
    sig_tmr = np.where(valid, sig_t * (kappa - 1) * np.sqrt(hi_cells), 0.0)
    return ReadError(ra, bias, sig, sig_tmr, sig_ra, float(sense_sigma_lsb), count)


@dataclass(frozen=True)
class Margin:
    """Sense margins of a full row group (n_d = rows_active) and the expected misread rate.

    Attributes:
        levels: partial sums s = 2n − ra, n = 0 … ra.
        bias, sigma: reading error mean and total spread per level, popcount units.
        margin_lo, margin_hi: distance from the mean reading to the lower / upper reference, popcount units.
        p_misread: misread probability per level.
        weight: Binomial(ra, ½) probability of each level.
        expected_misread: Σ weight·p_misread.
        error: the underlying :class:`ReadError`.
    """

    levels: NDArray[np.int64]
    bias: NDArray[np.float64]
    sigma: NDArray[np.float64]
    margin_lo: NDArray[np.float64]
    margin_hi: NDArray[np.float64]
    p_misread: NDArray[np.float64]
    weight: NDArray[np.float64]
    expected_misread: float
    error: ReadError

    def to_json(self) -> dict[str, Any]:
        return {"levels": self.levels.tolist(), "bias_lsb": self.bias.tolist(), "sigma_lsb": self.sigma.tolist(),
                "margin_lo_lsb": self.margin_lo.tolist(), "margin_hi_lsb": self.margin_hi.tolist(),
                "p_misread": self.p_misread.tolist(), "level_weight": self.weight.tolist(),
                "expected_misread": self.expected_misread}


def margin(err: ReadError, quantizer: Any) -> Margin:
    """Per-level margins and misread probabilities of a full row group under ``quantizer``."""
    ra = err.rows_active
    n = np.arange(ra + 1)
    s = 2 * n - ra
    bias = err.bias[ra, n]
    sigma = err.sigma_total[ra, n]
    lo_hi = [code_interval(quantizer, float(v)) for v in s]
    mean = s + bias
    m_lo = np.array([m - lo for m, (lo, _) in zip(mean, lo_hi, strict=True)])
    m_hi = np.array([hi - m for m, (_, hi) in zip(mean, lo_hi, strict=True)])
    p = np.array([misread_probability(quantizer, float(v), float(b), float(sg))
                  for v, b, sg in zip(s, bias, sigma, strict=True)])
    w = np.array([math.comb(ra, int(k)) for k in n], float) / 2.0 ** ra
    return Margin(s, bias, sigma, m_lo, m_hi, p, w, float((w * p).sum()), err)


def chip_read_error(hw: Any) -> ReadError:
    """:func:`read_error` of a chip (``hw``: :class:`cimsim.hardware.Hardware`) with its variation section."""
    var = hw.arch.variation
    on = var.enabled
    return read_error(hw.component("crossbar"), ra_sigma_rel=var.ra_sigma_rel if on else 0.0,
                      tmr_sigma_rel=var.tmr_sigma_rel if on else 0.0,
                      sense_sigma_lsb=var.sense_noise_sigma_lsb if on else 0.0)


def chip_margin(hw: Any) -> Margin:
    """Sense margins of a chip under its electrical model and converter (``cimsim margin``)."""
    return margin(chip_read_error(hw), hw.component("column_periphery").quantizer())
