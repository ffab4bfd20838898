"""Validation of the switching table: figure docs/img/mtj_psw.png and the off-grid agreement statistics.

    nice -n 10 python benchmarks/plot_mtj_validation.py [--points 40] [--trajectories 1000] [--seed 7]
                                                        [--unsaturated] [--no-figure]

1. Figure: P_sw against I/I_c0 for several pulse widths for the Spindrop device (Delta = 40, alpha = 0.01,
   mu0 H_k = 0.5 T, 300 K): the stochastic-LLG table (lines), the analytic model (dashed) and fresh numpy
   macrospin runs at the physical damping (points with 2-sigma bars).
2. Statistics: |P_table - P_fresh| at random off-grid points over the whole required range
   (cimsim.components.switching.validate), and dP/d(I/I_c0) at the SpinDrop operating point (p = 0.2,
   the shipped 10 ns pulse) for the table and the analytic model.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
import warnings
from pathlib import Path

import numpy as np

from cimsim.components import mtj, mtj_switching
from cimsim.components.switching import validate
from cimsim.components.switching.macrospin import simulate_switching
from cimsim.components.switching.table import load_table

ROOT = Path(__file__).resolve().parent.parent
DROP = mtj.MTJParams(delta_ref=40.0, ic0_ref_a=50e-6 * 40 / 60)  # arch default dropout device
PULSES_NS = (2.0, 5.0, 10.0, 50.0)
T_K = 300.0


def figure(out: Path, n_traj: int, rng: np.random.Generator) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    an = mtj.MTJParams(delta_ref=40.0, ic0_ref_a=DROP.ic0_ref_a, switching_model="analytic")
    ic0 = DROP.ic0_ref_a
    tau_d = float(mtj.tau_d_s(DROP, T_K))
    ratios = np.linspace(0.5, 4.0, 700)
    fig, ax = plt.subplots(figsize=(7.0, 4.4))
    for k, t_ns in enumerate(PULSES_NS):
        color = f"C{k}"
        ax.plot(ratios, mtj_switching.p_switch(DROP, ratios * ic0, t_ns * 1e-9, T_K), color=color, lw=1.8,
                label=f"{t_ns:g} ns: s-LLG table")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mtj_switching.AnalyticValidityWarning)
            ax.plot(ratios, mtj_switching.p_switch(an, ratios * ic0, t_ns * 1e-9, T_K), color=color, lw=1.0, ls="--")
        table_p = mtj_switching.p_switch(DROP, ratios * ic0, t_ns * 1e-9, T_K)
        # fresh points where the curve rises (plus one on each shoulder)
        lo = ratios[np.argmax(table_p > 0.01)]
        hi = ratios[np.argmax(table_p > 0.99)] if np.any(table_p > 0.99) else ratios[-1]
        for r in np.linspace(max(0.5, lo - 0.05), min(4.0, hi + 0.05), 6):
            run = simulate_switching(float(r), 40.0, DROP.alpha, [t_ns * 1e-9 / tau_d], n_traj=n_traj, rng=rng)
            ax.errorbar(r, run.p[0], yerr=2 * run.p_error[0], fmt="o", ms=4, color=color, capsize=2)
    ax.plot([], [], "k--", lw=1.0, label="analytic (Néel–Brown / bridge / Butler)")
    ax.plot([], [], "ko", ms=4, label="fresh numpy s-LLG, α = 0.01 (±2σ)")
    ax.set_xlabel("I / I_c0")
    ax.set_ylabel("P_sw")
    ax.set_title("Spindrop MTJ: Δ = 40, α = 0.01, μ0H_k = 0.5 T, 300 K")
    ax.set_xscale("log")
    ax.set_xticks([0.5, 0.7, 1, 1.5, 2, 3, 4])
    ax.set_xticklabels(["0.5", "0.7", "1", "1.5", "2", "3", "4"])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=130)
    print(f"wrote {out}")


def operating_point() -> dict[str, float]:
    """dP/d(I/I_c0) at p = 0.2, 10 ns, 300 K: table vs analytic (default validity limit and pure Néel–Brown)."""
    out = {}
    for name, dev in [("table", DROP), ("analytic", dataclasses.replace(DROP, switching_model="analytic")),
                      ("analytic_neel_brown", dataclasses.replace(DROP, switching_model="analytic",
                                                                  nb_min_barrier=0.0))]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mtj_switching.AnalyticValidityWarning)
            cur = float(mtj_switching.current_for_probability(dev, 0.2, 10e-9, T_K))
            out[f"{name}_ratio"] = cur / DROP.ic0_ref_a
            out[f"{name}_dp_dratio"] = float(mtj_switching.dp_dcurrent(dev, cur, 10e-9, T_K)) * DROP.ic0_ref_a
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=40, help="random off-grid validation points")
    ap.add_argument("--trajectories", type=int, default=1000, help="fresh trajectories per point")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-figure", action="store_true")
    ap.add_argument("--unsaturated", action="store_true",
                    help="keep only points where the table gives 0.02 < P < 0.98 (rejection sampling)")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    table = load_table()
    t0 = time.perf_counter()
    if not args.no_figure:
        figure(ROOT / "docs" / "img" / "mtj_psw.png", args.trajectories, rng)
    if args.points == 0:
        return
    if args.unsaturated:
        points = []
        while len(points) < args.points:
            cand = validate.random_points(1, rng)[0]
            if 0.02 < float(table.p(cand.i, cand.delta, cand.tau_d)) < 0.98:
                points.append(cand)
    else:
        points = validate.random_points(args.points, rng)
    res = np.array([validate.fresh_p(p, args.trajectories, rng) for p in points])
    stats = validate.compare(table, points, res[:, 0], res[:, 1])
    stats.update(operating_point())
    stats["seconds"] = time.perf_counter() - t0
    rows = [{"i": p.i, "delta": p.delta, "tau_d": p.tau_d, "alpha": p.alpha, "p_fresh": float(f),
             "p_table": float(table.p(p.i, p.delta, p.tau_d))} for p, f in zip(points, res[:, 0], strict=True)]
    print(json.dumps({"stats": stats, "points": rows}, indent=1))


if __name__ == "__main__":
    main()
