"""`cimsim sweep SWEEP.yaml | DIR --status`."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from cimsim.cli._app import cli

# without a terminal, a progress line at most this often, s (and at every tenth of the points)
LINE_EVERY_S = 30.0


def status_text(st: Any, search: str | None = None) -> str:
    """One line of counts: planned/done/failed/pending, distinct points (optuna), feasible, stored extras."""
    what = "trials" if search == "optuna" else "planned"
    parts = [f"{st.planned} {what}"]
    if search == "optuna" and st.distinct is not None:
        parts[0] += f" ({st.distinct} distinct points)"
    parts += [f"{st.done} done", f"{st.failed} failed", f"{st.pending} pending"]
    if st.feasible is not None:
        parts.append(f"{st.feasible} feasible")
    extra = (st.stored or 0) - (st.distinct if st.distinct is not None else st.planned)
    text = f"{st.name}: " + ", ".join(parts)
    if st.stored is not None and extra > 0:
        text += f"; {extra} more stored from an earlier plan"
    return text


class _Lines:
    """Progress as plain lines on stderr when it is not a terminal (logs, CI): every tenth of the points or
    every :data:`LINE_EVERY_S` seconds, whichever comes first."""

    def __init__(self) -> None:
        self.t0 = self.last_t = time.monotonic()
        self.last_step = -1

    def __call__(self, finished: int, failed: int, total: int) -> None:
        now = time.monotonic()
        step = (10 * finished) // max(total, 1)
        if step == self.last_step and now - self.last_t < LINE_EVERY_S:
            return
        self.last_step, self.last_t = step, now
        click.echo(f"sweep: {finished}/{total} points ({failed} failed) after {now - self.t0:.0f} s", err=True)


@cli.command()
@click.argument("target", type=click.Path(exists=True))
@click.option("--workers", type=click.IntRange(1, 256), help="local worker processes [default: CPU count; 1: no pool]")
@click.option("--scheduler", metavar="tcp://HOST:PORT", help="run on this Dask distributed cluster instead")
@click.option("--out", "out_dir", metavar="DIR", help="sweep directory [default: results/<name>]")
@click.option("--status", "show_status", is_flag=True, help="TARGET is a sweep directory: print done/failed/pending")
def sweep(target: str, workers: int | None, scheduler: str | None, out_dir: str | None, show_status: bool) -> None:
    """Run (or resume) the sweep TARGET; with --status, report on the sweep directory TARGET.

    Each finished point is committed at once to DIR/sweep.sqlite;
    rerunning the same command skips the points already there. A failed point is recorded with its error and
    the sweep goes on. --status only reads (the store is opened read-only).
    """
    from cimsim.dse.runner import check_out_dir, check_scheduler, run_sweep, sweep_status
    from cimsim.errors import ConfigError

    path = Path(target)
    if show_status:
        if not path.is_dir():
            raise ConfigError("--status needs a sweep directory", file=target)
        from cimsim.dse.store import Store

        st = sweep_status(path)
        store = Store(path)
        try:
            search = store.meta().get("spec", {}).get("search")
        finally:
            store.close()
        click.echo(status_text(st, search if isinstance(search, str) else None))
        return
    if path.is_dir():
        raise ConfigError("give the sweep YAML to run (a directory only with --status)", file=target)
    if scheduler is not None:
        check_scheduler(scheduler)
    if out_dir is not None:
        check_out_dir(out_dir)
    from tqdm import tqdm

    bar: list[Any] = []

    def progress(finished: int, failed: int, total: int) -> None:
        if not bar:
            bar.append(tqdm(total=total, unit="pt", desc="sweep", file=sys.stderr, dynamic_ncols=True,
                            smoothing=0.1) if sys.stderr.isatty() else _Lines())
        b = bar[0]
        if isinstance(b, _Lines):
            b(finished, failed, total)
            return
        b.total = total
        b.set_postfix(failed=failed, refresh=False)
        b.update(finished - b.n)

    try:
        s = run_sweep(path, out_dir, workers=workers, scheduler=scheduler, progress=progress)
    finally:
        for b in bar:
            if not isinstance(b, _Lines):
                b.close()
    if s.note:
        click.echo(f"cimsim: note: {s.note}", err=True)
    st = s.status
    click.echo(f"{status_text(st, s.search)} ({s.computed} computed now, {s.reused} reused) in "
               f"{s.wall_s:.1f} s -> {s.directory}")
    if st.feasible == 0 and st.done:
        click.echo(f"cimsim: note: no finished point meets the constraints; `cimsim report {s.directory}` lists "
                   "the nearest ones", err=True)

