"""`cimsim report DIR [--html]`: figures (PNG + SVG) of a sweep directory or a `cimsim run --out` directory."""

from __future__ import annotations

from pathlib import Path

import click

from cimsim.cli._app import cli


@cli.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--html", "write_html", is_flag=True, help="also write one self-contained report.html")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="report folder [default: DIR/report]")
@click.option("--color-by", help="sweep: the axis that colours the Pareto scatter [default: the spec's color_by]")
def report(directory: str, write_html: bool, out_dir: str | None, color_by: str | None) -> None:
    """Plot a sweep (Pareto front, parallel coordinates, sensitivity, front breakdowns; results.csv/.parquet,
    pareto.csv) or a single run (breakdowns, per-layer, ROC, uncertainty, corruptions, P_sw)."""
    from cimsim.report.html import build_report, render_html

    out = Path(out_dir) if out_dir else Path(directory) / "report"
    rep = build_report(directory, out, color_by=color_by)
    for note in rep.notes:
        click.echo(f"cimsim: note: {note}", err=True)
    click.echo(f"{len(rep.figures)} figures in {out / 'figures'}")
    for f in rep.data_files:
        click.echo(f"data: {f}")
    if write_html:
        click.echo(f"html: {render_html(rep, out / 'report.html')}")
