"""Command line (click). The only package that prints or exits; one module per command family."""

from cimsim.cli import (
    device,  # noqa: F401  (mtj, calibrate mtj)
    run,  # noqa: F401  (registers its commands on the group)
)
from cimsim.cli._app import cli, main

__all__ = ["cli", "main"]
