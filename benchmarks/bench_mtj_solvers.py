"""Speed of the two stochastic-LLG macrospin solvers: trajectories per CPU second (process time, so a
busy shared machine does not distort it; single-threaded).

    nice -n 10 python benchmarks/bench_mtj_solvers.py

cmtj (C++, one trajectory per Junction, Heun) and the vectorized numpy solver
(cimsim.components.switching.macrospin), both at the physical damping alpha = 0.01, mu0 H_k = 0.5 T, a step
of 0.1 precession radian (~1.1 ps), Delta = 40, for 10 ns and 100 ns pulses at I = 0.8 I_c0 (no early
switching, so every trajectory runs the whole pulse). Also the table generator's setting (alpha = 1,
0.025 tau_D steps), where the reduction makes a 100 ns-equivalent pulse cost 80x fewer steps.
"""

from __future__ import annotations

import time

import numpy as np

from cimsim.components.switching.calibrate import CmtjDevice, cmtj_trajectories
from cimsim.components.switching.macrospin import GAMMA_RAD_PER_S_T, simulate_switching


def main() -> None:
    alpha, mu0_hk = 0.01, 0.5
    tau_d_s = (1 + alpha**2) / (alpha * GAMMA_RAD_PER_S_T * mu0_hk)
    dt_tau_d = 0.1 * alpha / (1 + alpha**2)  # 0.1 rad
    for t_ns in (10.0, 100.0):
        tau = np.array([t_ns * 1e-9 / tau_d_s])
        n = 100 if t_ns > 50 else 400
        t0 = time.process_time()
        cmtj_trajectories(0.8, 40.0, tau, n, np.random.SeedSequence(1), CmtjDevice(alpha=alpha, dt_tau_d=dt_tau_d))
        c = n / (time.process_time() - t0)
        t0 = time.process_time()
        simulate_switching(0.8, 40.0, alpha, tau, n_traj=1000, rng=np.random.default_rng(1), dt_tau_d=dt_tau_d)
        m = 1000 / (time.process_time() - t0)
        t0 = time.process_time()
        cmtj_trajectories(0.8, 40.0, tau, n, np.random.SeedSequence(1), CmtjDevice())
        g = n / (time.process_time() - t0)
        print(f"{t_ns:5.0f} ns ({tau[0]:.1f} tau_D): cmtj {c:8.1f} traj/s, numpy {m:8.1f} traj/s (1000 at once); "
              f"table generator (cmtj, alpha = 1) {g:8.1f} traj/s")


if __name__ == "__main__":
    main()
