"""`cimsim margin`: sense margins per partial-sum level and the expected misread rate of an arch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cimsim.cli._app import DEFAULT_ARCH, cli, default_path, split_sets
from cimsim.errors import ConfigError


def margin_doc(hw: Any) -> dict[str, Any]:
    """The JSON document of ``cimsim margin`` (also summarised by ``describe``)."""
    from dataclasses import asdict

    from cimsim.components.sense_margin import chip_margin, resolved_solver

    xb = hw.component("crossbar")
    m = chip_margin(hw)
    e = m.error
    ra = e.rows_active
    return {"name": hw.arch.name, "read_model": xb.read_model,
            "solver": resolved_solver(xb.electrical.solver if xb.electrical else "auto", xb.circuit()),
            "references": xb.electrical.references if xb.electrical else "calibrated",
            "temperature_k": hw.ctx.temperature_k, "rows_active": ra,
            "circuit": asdict(xb.circuit()),
            **m.to_json(),
            "sigma_ir_lsb": e.sigma_ir[ra, : ra + 1].tolist(), "sigma_tmr_lsb": e.sigma_tmr[ra, : ra + 1].tolist(),
            "sigma_ra_lsb": e.sigma_ra[ra, : ra + 1].tolist(), "sigma_sense_lsb": e.sigma_sense,
            "samples": e.samples[ra, : ra + 1].tolist(),
            "worst_level": int(m.levels[int(m.p_misread.argmax())]), "worst_p_misread": float(m.p_misread.max())}


def margin_summary(doc: dict[str, Any]) -> dict[str, Any]:
    """The few numbers ``cimsim describe`` shows of a :func:`margin_doc`."""
    lo = [v for v in doc["margin_lo_lsb"] if v != float("inf")]
    hi = [v for v in doc["margin_hi_lsb"] if v != float("inf")]
    return {k: doc[k] for k in ("read_model", "references", "expected_misread", "worst_level", "worst_p_misread")} | {
        "min_margin_lsb": min(lo + hi) if lo + hi else None, "max_sigma_lsb": max(doc["sigma_lsb"])}


def summary_text(s: dict[str, Any]) -> str:
    """Two lines for ``describe``."""
    return (f"sense margin ({s['references']} references; functional read model {s['read_model']}; `cimsim margin` "
            f"for every level):\n  expected misread rate {s['expected_misread']:.4g} per conversion, worst level "
            f"{s['worst_level']:+d} at {s['worst_p_misread']:.4g}; smallest margin {s['min_margin_lsb']:.3f}, "
            f"largest σ {s['max_sigma_lsb']:.3f} popcount steps")


def margin_text(doc: dict[str, Any]) -> str:
    from cimsim.report.text import grid

    c = doc["circuit"]
    head = (f"sense margin of {doc['name']} ({doc['rows_active']} rows per group, {doc['references']} references, "
            f"{doc['solver']} solve, {doc['temperature_k']:.0f} K; functional read model: {doc['read_model']})\n"
            f"circuit: wire {c['r_col_ohm']:.4g} Ω/cell on the bit line, {c['r_row_ohm']:.4g} Ω/cell on the row "
            f"line, driver {c['r_driver_ohm']:.4g} Ω, sense {c['r_sense_ohm']:.4g} Ω, TMR {c['tmr']:.3f}; "
            "popcount units (1 = one partial-sum step)")
    rows = []
    for i, s in enumerate(doc["levels"]):
        rows.append({"sum": s, "bias": f"{doc['bias_lsb'][i]:+.3f}", "σ_IR": f"{doc['sigma_ir_lsb'][i]:.3f}",
                     "σ_TMR": f"{doc['sigma_tmr_lsb'][i]:.3f}", "σ_RA": f"{doc['sigma_ra_lsb'][i]:.3f}",
                     "σ": f"{doc['sigma_lsb'][i]:.3f}", "margin −": f"{doc['margin_lo_lsb'][i]:.3f}",
                     "margin +": f"{doc['margin_hi_lsb'][i]:.3f}", "P(misread)": f"{doc['p_misread'][i]:.3g}",
                     "weight": f"{doc['level_weight'][i]:.3g}"})
    tail = (f"expected misread rate (full group, random ±1 data): {doc['expected_misread']:.4g}; worst level "
            f"{doc['worst_level']:+d}: {doc['worst_p_misread']:.4g}")
    return "\n".join([head, grid(rows), tail])


@cli.command(name="margin")
@click.argument("arch", required=False, type=click.Path(dir_okay=False))
@click.option("--set", "sets", multiple=True, metavar="PATH=VALUE", help="override an arch field")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def margin_command(arch: str | None, sets: tuple[str, ...], fmt: str) -> None:
    """Sense margin per partial-sum level and the expected misread rate of ARCH's row-group read.

    Column currents come from the crossbar's electrical model (crossbar.solver, source_line, wire and
    TMR(V, T)) with variation.* spreads; the references are crossbar.read_references (docs/analog.md).
    """
    from cimsim.components.contracts import ElectricalArray
    from cimsim.hardware import build_hardware
    from cimsim.report.files import dumps
    from cimsim.resolve import resolve
    from cimsim.spec.loader import load_arch

    path = Path(arch) if arch else default_path(DEFAULT_ARCH)
    arch_over, wl_over = split_sets(sets)
    if wl_over:
        raise ConfigError("margin takes architecture fields only", file="--set", field=wl_over[0][0])
    hw = build_hardware(resolve(load_arch(path, arch_over), arch_file=str(path)))
    if not isinstance(hw.component("crossbar"), ElectricalArray):
        raise ConfigError(f"crossbar model {hw.component('crossbar').model!r} has no read circuit", file=str(path),
                          field="crossbar.model", allowed="an array model with an electrical read circuit "
                                                          "(e.g. the shipped crossbar models)")
    doc = margin_doc(hw)
    click.echo(dumps(doc) if fmt == "json" else margin_text(doc))
