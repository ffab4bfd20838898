"""Command line (click). The only package that prints or exits; one module per command family."""

from cimsim.cli import (  # noqa: F401  (each module registers its commands on the group)
    device,
    examples,
    faults,
    imports,
    margin,
    report,
    reproduce,
    run,
    sweep,
)
from cimsim.cli._app import cli, main

__all__ = ["cli", "main"]
