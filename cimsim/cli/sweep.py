"""`cimsim sweep SWEEP.yaml | DIR --status`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cimsim.cli._app import cli


@cli.command()
@click.argument("target", type=click.Path(exists=True))
@click.option("--workers", type=click.IntRange(1, 256), help="local worker processes [default: CPU count; 1: no pool]")
@click.option("--scheduler", metavar="tcp://HOST:PORT", help="run on this Dask distributed cluster instead")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="sweep directory [default: results/<name>]")
@click.option("--status", "show_status", is_flag=True, help="TARGET is a sweep directory: print done/failed/pending")
def sweep(target: str, workers: int | None, scheduler: str | None, out_dir: str | None, show_status: bool) -> None:
    """Run (or resume) the sweep TARGET; with --status, report on the sweep directory TARGET.

    Each finished point is committed at once to DIR/sweep.sqlite; rerunning the same command skips the
    points already there. A failed point is recorded with its error and the sweep goes on.
    """
    from cimsim.dse.runner import run_sweep, sweep_status
    from cimsim.errors import ConfigError

    path = Path(target)
    if show_status:
        if not path.is_dir():
            raise ConfigError("--status needs a sweep directory", file=target)
        st = sweep_status(path)
        click.echo(f"{st.name}: {st.planned} planned, {st.done} done, {st.failed} failed, {st.pending} pending")
        return
    if path.is_dir():
        raise ConfigError("give the sweep YAML to run (a directory only with --status)", file=target)
    from tqdm import tqdm

    bar: list[tqdm] = []

    def progress(finished: int, failed: int, total: int) -> None:
        if not bar:
            bar.append(tqdm(total=total, unit="pt", desc="sweep", file=sys.stderr, disable=None,
                            dynamic_ncols=True, smoothing=0.1))
        b = bar[0]
        b.total = total
        b.set_postfix(failed=failed, refresh=False)
        b.update(finished - b.n)

    try:
        s = run_sweep(path, out_dir, workers=workers, scheduler=scheduler, progress=progress)
    finally:
        for b in bar:
            b.close()
    if s.note:
        click.echo(f"cimsim: note: {s.note}", err=True)
    st = s.status
    click.echo(f"{st.name}: {st.done} done, {st.failed} failed, {st.pending} pending "
               f"({s.computed} computed now, {s.reused} reused) in {s.wall_s:.1f} s -> {s.directory}")
