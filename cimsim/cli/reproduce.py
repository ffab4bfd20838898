"""`cimsim reproduce`: run the validation cases (cimsim.validation) and print or write their table."""

from __future__ import annotations

import json
import sys

import click

from cimsim.cli._app import cli
from cimsim.errors import ConfigError


@cli.command()
@click.argument("cases", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="also write reproduce.json and reproduce.md here")
@click.option("--quick", is_flag=True, help="skip the slow cases (full functional runs); < 1 min")
@click.option("--list", "list_only", is_flag=True, help="list the cases (slow ones marked) and exit")
def reproduce(cases: tuple[str, ...], fmt: str, out_dir: str | None, quick: bool, list_only: bool) -> None:
    """Compare cimsim with published and tool-generated numbers. CASES are case names or prefixes (a topic:
    device, circuits, architecture, algorithm); none means all. Exit status 1 if any case fails."""
    from cimsim.validation import discover, failed, run, select
    from cimsim.validation.report import to_json, to_table, write_dir

    found = discover()
    try:
        chosen = select(found, cases, quick=quick)
    except ValueError as exc:
        raise ConfigError(str(exc), field="CASES") from None
    if list_only:
        for c in chosen:
            click.echo(f"{c.name}{'  (slow)' if c.slow else ''}")
        return
    results = run(chosen)
    if out_dir:
        write_dir(results, out_dir)
    click.echo(json.dumps(to_json(results), indent=2, ensure_ascii=False) if fmt == "json" else to_table(results))
    if failed(results):
        sys.exit(1)
