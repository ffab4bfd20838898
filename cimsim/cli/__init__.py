"""Command line (click). The only package that prints or exits; one module per command family."""

from cimsim.cli import examples, faults, imports, report, reproduce, run, sweep  # noqa: F401  (register their commands)
from cimsim.cli._app import cli, main

__all__ = ["cli", "main"]
