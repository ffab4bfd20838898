"""Command line (click). The only package that prints or exits; one module per command family."""

import cimsim.cli.reproduce  # noqa: F401  (registers `reproduce`)
from cimsim.cli import run  # noqa: F401  (registers its commands on the group)
from cimsim.cli._app import cli, main

__all__ = ["cli", "main"]
