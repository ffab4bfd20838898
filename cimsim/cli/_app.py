"""The click group, shared helpers and the console entry point. Commands live in sibling modules, one per
command family; ``cimsim.cli`` is the only package that prints or exits."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from cimsim import __version__
from cimsim.errors import MAX_LINE, CimsimError, ConfigError, clip

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


class FiniteFloatRange(click.FloatRange):
    """``click.FloatRange`` that also refuses NaN and ±inf (NaN passes every range comparison)."""

    name = "finite float range"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        import math

        rv = super().convert(value, param, ctx)
        if isinstance(rv, float) and not math.isfinite(rv):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return rv


def split_sets(sets: tuple[str, ...]) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    """Route ``--set`` overrides to the arch or the workload by their first key (or an explicit prefix)."""
    import difflib

    from cimsim.spec.arch import ArchSpec
    from cimsim.spec.loader import format_override, parse_override
    from cimsim.spec.workload import WorkloadSpec

    arch_keys = set(ArchSpec.model_fields) - {"name"}
    wl_keys = set(WorkloadSpec.model_fields) - {"name"}
    arch, wl = [], []
    for text in sets:
        ov = parse_override(text)
        path, value = ov
        head, _, rest = path.partition(".")
        if head in ("arch", "workload") and rest:
            (arch if head == "arch" else wl).append(ov.retarget(rest))
        elif head in arch_keys:
            arch.append(ov)
        elif head in wl_keys:
            wl.append(ov)
        else:
            near = difflib.get_close_matches(head, sorted(arch_keys | wl_keys), n=1, cutoff=0.6)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ConfigError(f"unknown field {head!r}{hint}", file=format_override(path, value, ov), field=path,
                              allowed="an arch section, a workload field, or arch.<path> / workload.<path> "
                                      "(see `cimsim schema arch|workload`)")
    return arch, wl


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=__version__, prog_name="cimsim")
def cli() -> None:
    """cimsim: compute-in-memory simulator for Bayesian binary NNs on STT-MRAM crossbars (SpinDrop)."""



def main(argv: list[str] | None = None) -> None:
    """Console entry point: user errors are one line on stderr and exit status 2.

    Exit statuses: 0 success, 2 bad input (one line naming the file or flag, the field and what is
    allowed), 130 interrupted, 70 internal error (a bug: one line, the traceback only with CIMSIM_DEBUG=1).

    Python warnings raised by a command (numpy, torch, matplotlib) are held back: after a success each distinct
    one is printed once as ``cimsim: warning: ...``; after an error only the error line is printed.
    """
    import os
    import warnings

    def fail(text: str, status: int) -> None:
        click.echo(f"cimsim: error: {clip(text, MAX_LINE)}", err=True)
        sys.exit(status)

    with warnings.catch_warnings(record=True) as caught:
        try:
            cli.main(args=argv, prog_name="cimsim", standalone_mode=False)
        except CimsimError as exc:
            fail(exc.one_line(), 2)
        except (click.exceptions.Abort, KeyboardInterrupt):
            click.echo("cimsim: aborted", err=True)
            sys.exit(130)
        except click.ClickException as exc:
            ctx = getattr(exc, "ctx", None)
            where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            fail(clip(exc.format_message(), MAX_LINE - len(where)) + where, 2)
        except MemoryError:
            fail("out of memory; lower --limit, --passes, ood_samples or the layer sizes", 2)
        except OSError as exc:
            fail(f"{exc.filename or ''}: {exc.strerror or exc}", 2)
        except Exception as exc:  # a bug, not bad input: say so in one line, keep the traceback for debugging
            if isinstance(exc, ValueError) and "embedded null byte" in str(exc):  # the OS refuses such a path
                fail("a path given on the command line holds a NUL byte", 2)
            if os.environ.get("CIMSIM_DEBUG"):
                raise
            fail(f"internal error {type(exc).__name__}: {exc} (a bug; rerun with CIMSIM_DEBUG=1 for the "
                 "traceback and report it)", 70)
    for text in dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught):
        click.echo(f"cimsim: warning: {clip(text, MAX_LINE)}", err=True)
