"""`cimsim mtj` (switching probability of an arch's MTJ) and `cimsim calibrate mtj` (regenerate the table)."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import click

from cimsim.cli._app import DEFAULT_ARCH, FiniteFloatRange, cli, default_path, split_sets
from cimsim.errors import ConfigError

# reduced coordinate named in a switching-model ValueError -> the option that sets it
_FIELD_OF = {"i": "--current-ratio", "delta": "mtj.{which}.delta_ref", "tau_d": "--pulse", "target_p": "--target-p"}
DEFAULT_RATIOS = (0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0)


def _model_error(exc: ValueError, which: str, file: str, set_keys: tuple[str, ...] = ()) -> ConfigError:
    """The switching model's ValueError as a one-line error naming the option, the --set override or the file.

    A Delta outside the table comes from the device's fields: if ``--set`` overrode one of them (mtj.<which>.*,
    mtj.t_ref_k) the override is named, else the arch file.
    """
    text = str(exc)
    head = text.split(":", 1)[0].strip()
    field = _FIELD_OF.get(head, "mtj").format(which=which)
    if not field.startswith("mtj."):
        return ConfigError(text, file="command line", field=field)
    device_sets = [k for k in set_keys if k.startswith(f"mtj.{which}.") or k == "mtj.t_ref_k"]
    if device_sets:
        return ConfigError(text, file="--set", field=field if field in device_sets else device_sets[0])
    return ConfigError(text, file=file, field=field)


def _json_value(x: float) -> float | None:
    return None if not math.isfinite(x) else float(x)


@cli.command(name="mtj")
@click.argument("arch", required=False, type=click.Path(dir_okay=False))
@click.option("--which", type=click.Choice(["dropout", "storage"]), default="dropout", show_default=True,
              help="the Spindrop modules' stochastic MTJ or the crossbar's storage MTJ")
@click.option("--current-ratio", "ratios", multiple=True, type=FiniteFloatRange(min=0, min_open=True),
              metavar="R", help="write current as I/I_c0(T); repeatable [default: a sweep 0.8-3]")
@click.option("--pulse", type=FiniteFloatRange(min=0, min_open=True), metavar="S",
              help="write pulse, s [default: spindrop.write_pulse_s]")
@click.option("--temperature", type=FiniteFloatRange(200, 420), metavar="K",
              help="device temperature, K [default: technology.temperature_k]")
@click.option("--target-p", type=FiniteFloatRange(0, 1, min_open=True, max_open=True), metavar="P",
              help="solve for the current that gives P_sw = P instead of sweeping ratios")
@click.option("--set", "sets", multiple=True, metavar="PATH=VALUE", help="override an arch field")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def mtj_command(arch: str | None, which: str, ratios: tuple[float, ...], pulse: float | None,
                temperature: float | None, target_p: float | None, sets: tuple[str, ...], fmt: str) -> None:
    """Switching probability P_sw of ARCH's MTJ at each current ratio, or the current for --target-p.

    Also prints the slope dP/dI at each operating point (per A and per unit I/I_c0) and the binomial
    standard error of the stochastic-LLG table (none for the analytic model).
    """
    from cimsim.components import mtj, mtj_switching
    from cimsim.hardware import mtj_params
    from cimsim.spec.loader import load_arch

    path = Path(arch) if arch else default_path(DEFAULT_ARCH)
    arch_over, wl_over = split_sets(sets)
    if wl_over:
        raise ConfigError("mtj takes architecture fields only", file="--set", field=wl_over[0][0])
    if ratios and target_p is not None:
        raise ConfigError("give either --current-ratio or --target-p, not both", file="command line",
                          field="--target-p")
    spec = load_arch(path, arch_over)
    dev = mtj_params(getattr(spec.mtj, which), spec.mtj.t_ref_k)
    t_k = float(spec.technology.temperature_k if temperature is None else temperature)
    t_p = float(spec.spindrop.write_pulse_s if pulse is None else pulse)
    ic0 = float(mtj.ic0_a(dev, t_k))
    delta = float(mtj.delta(dev, t_k))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", mtj_switching.AnalyticValidityWarning)
        doc = _evaluate(dev, which, path, ic0, delta, t_k, t_p, ratios, target_p,
                        tuple(ov[0] for ov in arch_over))
    for msg in dict.fromkeys(str(w.message) for w in caught):
        click.echo(f"cimsim: warning: {msg}", err=True)
    if fmt == "json":
        click.echo(json.dumps(doc, indent=2))
        return
    points = doc["points"]
    click.echo(f"{which} MTJ of {path}: model {dev.switching_model}, T = {t_k:g} K, Delta = {delta:.4g}, "
               f"I_c0 = {ic0 * 1e6:.4g} µA, pulse = {t_p * 1e9:.4g} ns (t_p/tau_D = "
               f"{t_p / float(mtj.tau_d_s(dev, t_k)):.4g})")
    click.echo(f"{'I/I_c0':>8} {'I (µA)':>9} {'P_sw':>8} {'+-':>7} {'dP/d(I/I_c0)':>13} {'dP/dI (1/µA)':>13}")
    for pt in points:
        pe = "-" if pt["p_error"] is None else f"{pt['p_error']:.4f}"
        click.echo(f"{pt['current_ratio']:8.4f} {pt['current_a'] * 1e6:9.3f} {pt['p_switch']:8.4f} {pe:>7} "
                   f"{pt['dp_dratio']:13.4g} {pt['dp_dcurrent_per_a'] * 1e-6:13.4g}")


def _evaluate(dev: Any, which: str, path: Path, ic0: float, delta: float, t_k: float, t_p: float,
              ratios: tuple[float, ...], target_p: float | None, set_keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """The JSON document of `cimsim mtj`: one point per ratio (or the target-p solution)."""
    import numpy as np

    from cimsim.components import mtj_switching

    try:
        if target_p is not None:
            currents = np.atleast_1d(mtj_switching.current_for_probability(dev, target_p, t_p, t_k))
        else:
            currents = np.asarray(ratios or DEFAULT_RATIOS, dtype=float) * ic0
        prob = mtj_switching.p_switch(dev, currents, t_p, t_k)
        err = mtj_switching.p_switch_error(dev, currents, t_p, t_k)
        slope = mtj_switching.dp_dcurrent(dev, currents, t_p, t_k)
    except ValueError as exc:
        raise _model_error(exc, which, str(path), set_keys) from None
    points: list[dict[str, Any]] = [
        {"current_ratio": float(c / ic0), "current_a": float(c), "pulse_s": t_p, "temperature_k": t_k,
         "p_switch": float(p), "p_error": _json_value(float(e)), "dp_dcurrent_per_a": float(s),
         "dp_dratio": float(s * ic0)}
        for c, p, e, s in zip(currents, prob, err, slope, strict=True)]
    return {"points": points, "ic0_a": ic0, "delta": delta, "model": dev.switching_model}


@cli.group()
def calibrate() -> None:
    """Regenerate calibration data shipped with cimsim."""


@calibrate.command(name="mtj")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="table file to write (.npz)")
@click.option("--trajectories", type=click.IntRange(10), help="macrospin trajectories per (i, Delta) point "
              "[default: 1000; 200 with --quick]")
@click.option("--seed", type=click.IntRange(0), default=2023, show_default=True, help="root seed")
@click.option("--quick", is_flag=True, help="a 5 x 4 x 7 smoke-test grid instead of the full 35 x 16 x 33 one")
@click.option("--extend", type=click.Path(exists=True, dir_okay=False), metavar="TABLE",
              help="copy the current rows TABLE already has (a prefix of the grid) and compute only the new ones")
def calibrate_mtj(out: str, trajectories: int | None, seed: int, quick: bool, extend: str | None) -> None:
    """Stochastic-LLG macrospin switching table with cmtj (extra 'physics'); resumes an interrupted run."""
    try:
        import cmtj  # noqa: F401
    except ImportError:
        raise ConfigError("the cmtj package is not installed", field="calibrate mtj",
                          allowed="pip install 'cimsim[physics]'") from None
    from cimsim.components.switching.calibrate import FULL_GRID, QUICK_GRID, CmtjDevice, generate_table

    grid = QUICK_GRID if quick else FULL_GRID
    n_traj = trajectories or (200 if quick else 1000)
    device = CmtjDevice()
    click.echo(f"grid: I/I_c0 {grid.i[0]:g}-{grid.i[-1]:g} ({len(grid.i)}), Delta {grid.delta[0]:g}-"
               f"{grid.delta[-1]:g} ({len(grid.delta)}), t_p/tau_D {grid.tau[0]:g}-{grid.tau[-1]:g} "
               f"({len(grid.tau)}); {n_traj} trajectories per point; seed {seed}; cmtj Heun, "
               f"alpha_gen = {device.alpha:g}, dt = {device.dt_tau_d:g} tau_D")
    try:
        path = generate_table(Path(out), n_traj=n_traj, seed=seed, grid=grid, device=device,
                              progress=lambda s: click.echo(s, err=True), extend=Path(extend) if extend else None)
    except ValueError as exc:
        raise ConfigError(str(exc), file=str(extend), field="--extend") from None
    click.echo(f"wrote {path}")
