"""Command line (click). The only package that prints or exits; one module per command family."""

from cimsim.cli import examples, faults, reproduce, run  # noqa: F401  (register their commands on the group)
from cimsim.cli._app import cli, main

__all__ = ["cli", "main"]
