"""Generate the stochastic-LLG switching table with the ``cmtj`` package (optional extra ``physics``).

One macrospin trajectory per cmtj ``Junction``; each trajectory runs once up to the longest pulse and the
sign of m_z is read at every checkpoint pulse length, so one set of trajectories per (i, Delta) gives
P_sw at every pulse length. Results are checkpointed after each (i, Delta) point (atomic file replace), so
an interrupted run resumes without losing or redoing points.

Reduction (docs/mtj_model.md): for a uniaxial macrospin with the polariser on the easy axis, m_z is a
one-dimensional diffusion whose generator is alpha/(1+alpha^2) times an alpha-free operator, so P_sw depends
only on (i, Delta, t/tau_D). The table is therefore generated at the cheapest damping, alpha = 1 (precession
and damping equally fast, so the step can be large), with cmtj's own constants; the validation runs at the
physical damping (0.005-0.05) and temperature check the reduction.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from cimsim.components.switching.macrospin import equilibrium_start
from cimsim.components.switching.table import monotone_logit

__all__ = ["Grid", "FULL_GRID", "QUICK_GRID", "CmtjDevice", "row_steps", "cmtj_trajectories", "generate_table",
           "projected_logit", "finalize_table"]

K_B = 1.380649e-23  # J/K (exact SI); cmtj uses the same value


@dataclass(frozen=True)
class Grid:
    """Reduced axes of the table: current ratio i, thermal stability Delta, pulse length t_p / tau_D."""

    i: tuple[float, ...]
    delta: tuple[float, ...]
    tau: tuple[float, ...]


# i: dense near the threshold i = 1 where P changes fastest; 0.45-4.5 covers the required 0.5-4, and the
# precessional rows 5-10 reach P -> 1 for pulses down to ~0.3 tau_D (at i = 4.4 a 0.6 tau_D pulse gives only
# P = 0.12-0.44, issue 19). The precessional rows were appended to the shipped table later: a row's seed is
# keyed by its index, so appending keeps the earlier rows bit-identical.
_I_AXIS = (0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2, 1.3, 1.4, 1.5,
           1.65, 1.8, 2.0, 2.25, 2.5, 2.8, 3.2, 3.6, 4.0, 4.5, 5.0, 5.5, 6.0, 7.0, 8.0, 9.0, 10.0)
# Rows above this current are integrated with a step PRECESSIONAL_STEP_FACTOR times finer: at i = 10 the
# magnetisation leaves the pole within ~0.2 tau_D, where a 0.025 tau_D step biases the trajectory and rounds
# the checkpoint times to whole steps. Measured (cmtj, 1000 trajectories, i = 10, Delta = 30, t = 0.237 tau_D):
# P = 0.207 / 0.268 / 0.265 at steps 0.025 / 0.0125 / 0.00625 tau_D (sigma 0.014).
PRECESSIONAL_FROM_I = 4.75
PRECESSIONAL_STEP_FACTOR = 4
# Delta: 15-120 covers the required 20-90 with margin for Delta(T) at 200-420 K (the default storage MTJ,
# Delta = 60 at 300 K, has Delta = 104 at 200 K); denser at low Delta where logit P curves most.
_DELTA_AXIS = (15.0, 17.5, 20.0, 22.5, 25.0, 30.0, 35.0, 40.0, 45.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0, 120.0)
# t_p / tau_D: 0.1-1000, 8 per decade. tau_D = 1.14 ns at alpha = 0.01, mu0 H_k = 0.5 T; the required
# 0.5-100 ns at alpha 0.005-0.05 (mu0 H_k = 0.5 T) is 0.22-877 tau_D.
_TAU_AXIS = tuple(float(x) for x in np.round(np.logspace(-1, 3, 33), 6))

FULL_GRID = Grid(_I_AXIS, _DELTA_AXIS, _TAU_AXIS)
QUICK_GRID = Grid((0.5, 0.8, 1.0, 1.5, 3.0), (20.0, 40.0, 60.0, 80.0), tuple(float(x) for x in np.logspace(-1, 2, 7)))


@dataclass(frozen=True)
class CmtjDevice:
    """The physical macrospin cmtj integrates. Only the reduced numbers (i, Delta, t/tau_D) matter.

    Defaults: mu0 Ms = 1 T and mu0 H_k = 0.5 T are typical CoFeB/MgO values (REFERENCES §1.1 worked example
    for H_k); alpha = 1 is the integration-cost choice explained in the module docstring; thickness 1.3 nm
    (Zhang 2012) and P = 0.6 (utinclab) only set the current scale, which cancels in i.
    """

    alpha: float = 1.0
    ms_t: float = 1.0  # mu0 Ms, T (cmtj's Ms unit)
    mu0_hk_t: float = 0.5  # effective anisotropy field, T
    thickness_m: float = 1.3e-9
    polarization: float = 0.6
    temperature_k: float = 300.0
    dt_tau_d: float = 0.025  # step in units of tau_D (cmtj Heun); convergence checked in docs/mtj_model.md
    # cmtj's constants (core/constants.hpp): mu0 = 12.566e-7, gamma*mu0 = 220880 m/(A s), hbar, e
    mu0: float = field(default=12.566e-7, repr=False)
    gyro: float = field(default=220880.0, repr=False)
    hbar: float = field(default=6.62607015e-34 / (2.0 * math.pi), repr=False)
    e_charge: float = field(default=1.60217662e-19, repr=False)

    @property
    def hk_a_per_m(self) -> float:
        return self.mu0_hk_t / self.mu0

    @property
    def k_j_per_m3(self) -> float:
        """Anisotropy energy density with 2K/Ms[T] = H_k (cmtj's anisotropy field)."""
        return self.ms_t * self.hk_a_per_m / 2.0

    @property
    def tau_d_s(self) -> float:
        return (1.0 + self.alpha**2) / (self.alpha * self.gyro * self.hk_a_per_m)

    def volume_m3(self, delta: float) -> float:
        """Free-layer volume giving E_b = K V = Delta k_B T."""
        return delta * K_B * self.temperature_k / self.k_j_per_m3

    @property
    def jc0_a_per_m2(self) -> float:
        """Threshold current density: cmtj's a_J eta = alpha H_k, a_J = hbar j/(e Ms t), eta = P/2 (lambda=1)."""
        eta = self.polarization / 2.0
        return self.alpha * self.hk_a_per_m * self.e_charge * self.ms_t * self.thickness_m / (self.hbar * eta)


def row_steps(i_axis: NDArray[np.float64], device: CmtjDevice) -> NDArray[np.float64]:
    """Integration step (units of tau_D) of each current row: the device's step, finer in the precessional rows."""
    i_axis = np.asarray(i_axis, dtype=float)
    return np.where(i_axis > PRECESSIONAL_FROM_I, device.dt_tau_d / PRECESSIONAL_STEP_FACTOR, device.dt_tau_d)


def cmtj_trajectories(i: float, delta: float, tau: NDArray[np.float64], n_traj: int, seed: np.random.SeedSequence,
                      device: CmtjDevice = CmtjDevice(), lock_mz: float = 0.9) -> NDArray[np.int64]:
    """Switched count at each checkpoint ``tau`` (units of tau_D) over ``n_traj`` cmtj trajectories.

    A trajectory with m_z > ``lock_mz`` while the current flows is counted switched at all later
    checkpoints and stopped: returning below m_z = 0 against the current needs an effective barrier
    Delta((lock + i)^2 - i^2) >= 24 kT over the whole grid (Delta >= 15, i >= 0.45), i.e. a probability
    < 1e-7 within the longest pulse (docs/mtj_model.md).
    """
    import cmtj  # optional extra "physics"

    rng = np.random.default_rng(seed)
    seeds = rng.integers(1, 2**31 - 1, size=n_traj)
    m0 = equilibrium_start(delta, n_traj, rng)
    dt = device.dt_tau_d * device.tau_d_s
    steps = np.maximum(np.round(np.asarray(tau) / device.dt_tau_d).astype(np.int64), 1)
    chunks = np.diff(np.concatenate([[0], steps]))
    surface = device.volume_m3(delta) / device.thickness_m
    current = float(i * device.jc0_a_per_m2)
    zero = cmtj.CVector(0.0, 0.0, 0.0)
    counts = np.zeros(len(tau), dtype=np.int64)
    for k in range(n_traj):
        layer = cmtj.Layer.createSTTLayer(
            "free", cmtj.CVector(*m0[:, k]), cmtj.CVector(0.0, 0.0, 1.0), device.ms_t, device.thickness_m, surface,
            [zero, zero, zero], device.alpha, 1.0, 0.0, device.polarization)
        layer.setReferenceLayer(cmtj.CVector(0.0, 0.0, 1.0))
        layer.setAnisotropyDriver(cmtj.constantDriver(device.k_j_per_m3))
        layer.setTemperatureDriver(cmtj.constantDriver(device.temperature_k))
        layer.setSeed(int(seeds[k]))
        junction = cmtj.Junction([layer])
        junction.setLayerCurrentDriver("free", cmtj.constantDriver(current))
        for c, n_steps in enumerate(chunks):
            if n_steps > 0:
                span = float(n_steps * dt)
                junction.runSimulation(span, dt, span, False, False, cmtj.SolverMode.Heun)
                junction.clearLog()
            mz = junction.getLayerMagnetisation("free").z
            if mz > lock_mz:
                counts[c:] += 1
                break
            counts[c] += mz > 0
    return counts


def _save_atomic(path: Path, arrays: dict[str, NDArray]) -> None:
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def _rows_from(base: Path, meta: dict[str, NDArray], counts: NDArray[np.int64], done: NDArray[np.bool_],
               seconds: NDArray[np.float64]) -> None:
    """Mark the current rows ``base`` already holds as done (copying their counts): ``base`` must have been made
    with the same Delta and tau axes, trajectories, seed and generation damping, and its current axis and row
    steps must be a prefix of the new grid's. ``ValueError`` naming the first mismatch otherwise."""
    with np.load(base, allow_pickle=False) as f:
        for k in ("delta", "tau_d", "n_traj", "seed", "alpha_gen"):
            if not np.array_equal(f[k], meta[k]):
                raise ValueError(f"{base}: {k} differs from the grid being generated; cannot extend it")
        n = f["i"].size
        steps = np.broadcast_to(f["dt_tau_d"], (n,))
        if not (np.array_equal(f["i"], meta["i"][:n]) and np.array_equal(steps, meta["dt_tau_d"][:n])):
            raise ValueError(f"{base}: its current axis and steps are not a prefix of the grid being generated")
        counts[:n], seconds[:n] = f["n_switched"], f["seconds"]
        done[:n] = True


def generate_table(out: Path, *, n_traj: int, seed: int, grid: Grid = FULL_GRID, device: CmtjDevice = CmtjDevice(),
                   progress: Callable[[str], None] | None = None, extend: Path | None = None) -> Path:
    """Simulate every (i, Delta) point of ``grid`` and write the table npz to ``out``.

    Partial results live in ``out`` + ``.partial.npz`` and are resumed when the grid, trajectories, seed and
    device match. Each point uses its own SeedSequence child keyed by its grid indices, so the result does not
    depend on the order or on interruptions. ``extend``: an existing table whose current rows are a prefix of
    ``grid``'s; its rows are copied, not recomputed (the same seeds would give the same counts).
    """
    out = Path(out)
    partial = out.with_name(out.name + ".partial.npz")
    ii, dd, tt = (np.asarray(a, dtype=float) for a in (grid.i, grid.delta, grid.tau))
    steps = row_steps(ii, device)
    meta = {"i": ii, "delta": dd, "tau_d": tt, "n_traj": np.int64(n_traj), "seed": np.int64(seed),
            "alpha_gen": np.float64(device.alpha), "dt_tau_d": steps}
    counts = np.zeros((ii.size, dd.size, tt.size), dtype=np.int64)
    done = np.zeros((ii.size, dd.size), dtype=bool)
    seconds = np.zeros((ii.size, dd.size))
    if partial.exists():
        with np.load(partial, allow_pickle=False) as f:
            if all(k in f and np.array_equal(f[k], v) for k, v in meta.items()):
                counts, done, seconds = f["n_switched"].copy(), f["done"].copy(), f["seconds"].copy()
    low = None
    if extend is not None:
        _rows_from(Path(extend), meta, counts, done, seconds)
        with np.load(extend, allow_pickle=False) as f:
            n_low = int(np.sum(ii <= PRECESSIONAL_FROM_I))
            low = f["logit_p"][:n_low] if "logit_p" in f and f["i"].size >= n_low else None
    root = np.random.SeedSequence(seed)
    for a in range(ii.size):
        for b in range(dd.size):
            if done[a, b]:
                continue
            t0 = time.perf_counter()
            child = np.random.SeedSequence(root.entropy, spawn_key=(a, b))
            row_device = replace(device, dt_tau_d=float(steps[a]))
            counts[a, b] = cmtj_trajectories(ii[a], dd[b], tt, n_traj, child, row_device)
            seconds[a, b] = time.perf_counter() - t0
            done[a, b] = True
            _save_atomic(partial, {**meta, "n_switched": counts, "done": done, "seconds": seconds})
            if progress is not None:
                progress(f"i={ii[a]:.3g} delta={dd[b]:.3g}: P(tau_max)={counts[a, b, -1] / n_traj:.3f} "
                         f"({seconds[a, b]:.1f} s, {int(done.sum())}/{done.size})")
    import cmtj

    _save_atomic(out, {**meta, "n_switched": counts, "seconds": seconds,
                       "generator": np.array(f"cmtj {cmtj.__version__} Heun, macrospin PMA, alpha_gen="
                                             f"{device.alpha}, dt={device.dt_tau_d} tau_D (I/I_c0 > "
                                             f"{PRECESSIONAL_FROM_I}: dt/{PRECESSIONAL_STEP_FACTOR})")})
    finalize_table(out, low)
    partial.unlink(missing_ok=True)
    return out


def projected_logit(n_switched: NDArray[np.integer], n_traj: int, i_axis: NDArray[np.float64],
                    low: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
    """The monotone logit table, projected in two blocks of current rows: up to PRECESSIONAL_FROM_I, then above.

    The precessional block is projected on its own and then raised to at least the last row below it (a
    cumulative max along i): the result is monotone along every axis (a max of sequences ordered the same way
    keeps that order) and the rows below stay exactly what the shipped 0.45-4.5 table held before the
    precessional rows were appended (a joint projection moves a few of their unresolved P < 1e-3 nodes).
    ``low``: the lower block's logits as stored in the table being extended (reprojecting them reproduces them
    only to ~2e-16, the isotonic solver's round-off).
    """
    k = np.asarray(n_switched)
    n_low = int(np.sum(np.asarray(i_axis) <= PRECESSIONAL_FROM_I))
    if low is None:
        low = monotone_logit(k[:n_low], n_traj)
    if n_low == k.shape[0]:
        return low
    high = monotone_logit(k[n_low:], n_traj)
    if n_low == 0:
        return high
    high = np.maximum.accumulate(np.concatenate([low[-1:], high]), axis=0)[1:]
    return np.concatenate([low, high])


def finalize_table(path: Path, low: NDArray[np.float64] | None = None) -> None:
    """Add (or recompute) the monotone logit table the interpolator reads, in place (``low``: see
    :func:`projected_logit`)."""
    path = Path(path)
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["logit_p"] = projected_logit(arrays["n_switched"], int(arrays["n_traj"]), arrays["i"], low)
    _save_atomic(path, arrays)
