"""`cimsim report DIR [--html]`: figures (PNG + SVG) of a sweep directory or a `cimsim run --out` directory."""

from __future__ import annotations

import click

from cimsim.cli._app import cli


@cli.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--html", "write_html", is_flag=True, help="also write one self-contained report.html")
@click.option("--out", "out_dir", metavar="DIR",
              help="report folder: new, empty or an earlier cimsim report (replaced whole) [default: DIR/report]")
@click.option("--color-by", help="sweep: the axis that colours the Pareto scatter [default: the spec's color_by]")
def report(directory: str, write_html: bool, out_dir: str | None, color_by: str | None) -> None:
    """Plot a sweep (Pareto front, parallel coordinates, sensitivity, front breakdowns; results.csv/.parquet,
    pareto.csv) or a single run (breakdowns, per-layer, ROC, uncertainty, corruptions, P_sw).

    Reads DIR only (a sweep store is opened read-only). The report folder is cimsim's: it is written into a
    fresh temporary folder and swapped into place with a manifest.json, and a folder holding other files or a
    symbolic link is refused. A later `cimsim run --out DIR` replaces DIR/report along with the run.
    """
    from cimsim.errors import ConfigError

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConfigError("cimsim report draws with matplotlib, which is not installed", field="report",
                          allowed="pip install 'cimsim[report]'") from None
    from cimsim.report.html import write_report

    rep, out = write_report(directory, out_dir, html=write_html, color_by=color_by)
    for note in rep.notes:
        click.echo(f"cimsim: note: {note}", err=True)
    click.echo(f"{len(rep.figures)} figures in {out / 'figures'}")
    for f in rep.data_files:
        click.echo(f"data: {f}")
    if write_html:
        click.echo(f"html: {out / 'report.html'}")
