"""`cimsim examples`: list the shipped architectures and workloads, or copy them out for editing."""

from __future__ import annotations

import click

from cimsim.cli._app import cli

_LINE = 110  # characters per listed line: the summary is cut to fit


@cli.command()
@click.option("--copy", "copy_to", type=click.Path(file_okay=False), metavar="DIR",
              help="copy every shipped example into DIR/arch_configs/ and DIR/workloads/ (never overwrites)")
def examples(copy_to: str | None) -> None:
    """List the shipped example configs and workloads (one line each), or copy them out with --copy DIR."""
    from cimsim.examples import copy_examples, list_examples

    if copy_to is not None:
        for path in copy_examples(copy_to):
            click.echo(f"copied {path}")
        click.echo(f"run one with: cimsim run {copy_to}/arch_configs/spindrop.yaml {copy_to}/workloads/digits_mlp.yaml")
        return
    items = list_examples()
    width = max((len(e.name) for e in items), default=0)
    room = max(20, _LINE - 4 - width)
    folder = None
    for e in items:
        if e.folder != folder:
            folder = e.folder
            click.echo(f"{folder}/  ({e.path.parent})")
        summary = e.summary if len(e.summary) <= room else e.summary[:room - 1] + "…"
        click.echo(f"  {e.name:{width}}  {summary}")
