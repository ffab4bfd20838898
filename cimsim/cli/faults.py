"""`cimsim faults test | lifetime`: online test of the dropout modules and MTJ wear-out (docs/dependability.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cimsim.cli._app import DEFAULT_ARCH, DEFAULT_WORKLOAD, FiniteFloatRange, cli, default_path, split_sets

_ARGS = [click.argument("arch", required=False, type=click.Path(dir_okay=False)),
         click.argument("workload", required=False, type=click.Path(dir_okay=False)),
         click.option("--set", "sets", multiple=True, metavar="PATH=VALUE", help="override an arch or workload field"),
         click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)]


def _common(f: Any) -> Any:
    for dec in reversed(_ARGS):
        f = dec(f)
    return f


def _specs(arch: str | None, workload: str | None, sets: tuple[str, ...]):
    from cimsim.spec.loader import load_arch, load_workload

    arch_path = Path(arch) if arch else default_path(DEFAULT_ARCH)
    wl_path = Path(workload) if workload else default_path(DEFAULT_WORKLOAD)
    a_over, w_over = split_sets(sets)
    return load_arch(arch_path, a_over), load_workload(wl_path, w_over), wl_path.parent


@cli.group()
def faults() -> None:
    """Dependability: online test of the dropout modules, MTJ lifetime."""


@faults.command("test")
@_common
@click.option("--chips", type=click.IntRange(10), default=200, show_default=True, help="sampled chips per fault case")
@click.option("--calibration-chips", type=click.IntRange(10), default=200, show_default=True,
              help="fault-free chips that set the μ ± kσ bounds")
@click.option("--passes", type=click.IntRange(2, 1000), default=20, show_default=True, help="MC passes T of the test")
@click.option("--test-inputs", type=click.IntRange(1, 1000), default=4, show_default=True,
              help="known test inputs (the first test images)")
@click.option("--k-sigma", type=FiniteFloatRange(0.5, 6), default=3.0, show_default=True, help="bound half-width, σ")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
def test_cmd(arch: str | None, workload: str | None, sets: tuple[str, ...], fmt: str, chips: int,
             calibration_chips: int, passes: int, test_inputs: int, k_sigma: float, seed: int) -> None:
    """Detection and false-alarm rates of the online test over sampled chips, per fault type and severity."""
    import pandas as pd

    from cimsim.online_test import campaign
    from cimsim.report.files import dumps
    from cimsim.report.text import si

    a, w, base = _specs(arch, workload, sets)
    res = campaign(a, w, base, chips=chips, calibration_chips=calibration_chips, passes=passes,
                   test_inputs=test_inputs, k_sigma=k_sigma, seed=seed)
    if fmt == "json":
        click.echo(dumps(res.to_json()))
        return
    click.echo(f"online test: {test_inputs} test inputs × T = {passes} passes, bounds μ ± {k_sigma:g}σ of the output "
               f"spread over {calibration_chips} fault-free chips (μ = {res.mu:.5f}, σ = {res.sigma:.5f}; nominal "
               f"false-alarm rate {res.nominal_false_alarm:.4f}); {chips} chips per case")
    df = pd.DataFrame(res.rows)
    click.echo(df.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    c = res.cost
    click.echo(f"test cost: {c['passes']} passes, {si(c['energy_j'], 'J')}, {si(c['time_s'], 's')} "
               "(ledger and engine of a hardware-only run of the test)")


@faults.command("lifetime")
@_common
@click.option("--passes", type=click.IntRange(1, 1000), help="MC passes T [default: the workload's]")
def lifetime_cmd(arch: str | None, workload: str | None, sets: tuple[str, ...], fmt: str, passes: int | None) -> None:
    """Dropout-MTJ lifetime across schedule, granularity, regeneration and reset policy (hardware-only runs)."""
    import pandas as pd

    from cimsim.errors import ConfigError
    from cimsim.report.files import dumps
    from cimsim.simulate import Options, simulate

    a, w, base = _specs(arch, workload, sets)
    conv = any(layer.type == "conv2d" for layer in w.network.layers)
    rows = []
    variants = [("schedule", s) for s in ("sequential", "layer_pipelined")]
    variants += [("granularity", g) for g in ("row", "channel", "layer_scale")]
    variants += [("regenerate", r) for r in ("per_pass", "per_input") + (("per_window",) if conv else ())]
    variants += [("reset_policy", r) for r in ("on_switch", "always")]
    for knob, value in [("as given", "-"), *variants]:
        aa, ww = a.model_copy(deep=True), w.model_copy(deep=True)
        if knob == "schedule":
            aa.controller.schedule = value
        elif knob == "granularity":
            ww.dropout.granularity = value
        elif knob == "regenerate":
            ww.dropout.regenerate = value
        elif knob == "reset_policy":
            if not hasattr(aa.spindrop, "reset_policy"):
                continue
            aa.spindrop.reset_policy = value
        try:
            r = simulate(aa, ww, Options(hardware_only=True, passes=passes, timing_inputs=8, inputs=8),
                         base_dir=base)
        except ConfigError as exc:
            rows.append({"knob": knob, "value": value, "note": exc.one_line()})
            continue
        lt = r.lifetime or {}
        rows.append({"knob": knob, "value": value, "inferences_per_s": r.throughput_inferences_per_s,
                     "modules": lt.get("modules"), "writes/module/inf": lt.get("writes_per_module_per_inference"),
                     "resets/module/inf": lt.get("resets_per_module_per_inference"),
                     "writes_per_module_per_s": lt.get("writes_per_module_per_s"),
                     "lifetime_s": lt.get("lifetime_s"), "lifetime_fraction_s": lt.get("lifetime_fraction_s")})
    if fmt == "json":
        click.echo(dumps(rows))
        return
    click.echo("dropout-MTJ lifetime, one knob changed at a time from the given design (hardware-only, 8 inputs; "
               "per_pass masks are shared by those 8). lifetime_s: median time to the first module failure; "
               f"lifetime_fraction_s: {a.faults.lifetime.failed_fraction:g} of modules failed")
    click.echo(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
