"""The click group, shared helpers and the console entry point. Commands live in sibling modules, one per
command family; ``cimsim.cli`` is the only package that prints or exits."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from cimsim import __version__
from cimsim.errors import CimsimError, ConfigError

DEFAULT_ARCH = "arch_configs/spindrop.yaml"
DEFAULT_WORKLOAD = "workloads/digits_mlp.yaml"

def default_path(rel: str) -> Path:
    """A shipped default such as ``arch_configs/spindrop.yaml``: ``./rel`` when the working directory has one
    (an edited copy, e.g. from ``cimsim examples --copy .``), else the copy shipped with cimsim."""
    from cimsim.examples import shipped_path

    local = Path.cwd() / rel
    if local.is_file():
        return local
    shipped = shipped_path(rel)
    if shipped is None:
        raise ConfigError("shipped default not found (broken install?); give the path", file=rel,
                          allowed="an existing YAML path; `cimsim examples` lists the shipped ones")
    return shipped


def split_sets(sets: tuple[str, ...]) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    """Route ``--set`` overrides to the arch or the workload by their first key (or an explicit prefix)."""
    from cimsim.spec.arch import ArchSpec
    from cimsim.spec.loader import parse_override
    from cimsim.spec.workload import WorkloadSpec

    arch_keys = set(ArchSpec.model_fields) - {"name"}

    arch, wl = [], []
    for text in sets:
        path, value = parse_override(text)
        head, _, rest = path.partition(".")
        if head in ("arch", "workload") and rest:
            (arch if head == "arch" else wl).append((rest, value))
        elif head in arch_keys:
            arch.append((path, value))
        elif head in WorkloadSpec.model_fields and head != "name":
            wl.append((path, value))
        else:
            raise ConfigError(f"unknown field {path!r}", file="--set", field=path,
                              allowed="an arch section (" + ", ".join(sorted(arch_keys)) + "), a workload field ("
                              + ", ".join(sorted(set(WorkloadSpec.model_fields) - {"name"}))
                              + "), or arch.<path> / workload.<path>")
    return arch, wl


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=__version__, prog_name="cimsim")
def cli() -> None:
    """cimsim: compute-in-memory simulator for Bayesian binary NNs on STT-MRAM crossbars (SpinDrop)."""



def main(argv: list[str] | None = None) -> None:
    """Console entry point: user errors are one line on stderr and exit status 2."""
    try:
        cli.main(args=argv, prog_name="cimsim", standalone_mode=False)
    except CimsimError as exc:
        click.echo(f"cimsim: error: {exc.one_line()}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("cimsim: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        ctx = getattr(exc, "ctx", None)
        where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        click.echo(f"cimsim: error: {' '.join(exc.format_message().split())}{where}", err=True)
        sys.exit(2)
    except OSError as exc:
        click.echo(f"cimsim: error: {exc.filename or ''}: {exc.strerror or exc}", err=True)
        sys.exit(2)

