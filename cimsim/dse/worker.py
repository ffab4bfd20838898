"""What a worker process runs: resolve a point's specs from the cached base files and simulate it.

A worker keeps the parsed base YAMLs of the sweep (one ``read_yaml`` per file per process), so a point costs
its overrides, one validation and ``simulate``. Everything is picklable, so the same functions serve the
local process pool and Dask workers.
"""

from __future__ import annotations

import functools
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cimsim.errors import CimsimError

Override = tuple[str, Any]


@dataclass(frozen=True)
class Task:
    """One point to run: its content key, where it came from and how to build it."""

    key: str
    index: int
    axes: dict[str, Any]
    arch_path: str | None
    workload_path: str
    arch_over: tuple[Override, ...]
    wl_over: tuple[Override, ...]
    options: dict[str, Any]
    # functional worker threads of this point (not part of the key: results do not depend on it); None: the CPUs
    threads: int | None = None
    # array library of the functional run (not part of the key either: results do not depend on it)
    backend: str = "numpy"
    device: str = "cpu"


@functools.lru_cache(maxsize=16)
def _raw(path: str | None) -> dict[str, Any]:
    """Parsed YAML of a base file, read once per process (callers never mutate it: overrides copy)."""
    from cimsim.spec.loader import read_yaml

    return read_yaml(path) if path is not None else {}


def run_task(task: Task) -> dict[str, Any]:
    """Simulate one point; a failure is returned as data (``error``), never raised."""
    from cimsim.simulate import Options, simulate
    from cimsim.spec.arch import ArchSpec
    from cimsim.spec.loader import apply_overrides, validate
    from cimsim.spec.workload import WorkloadSpec

    t0 = time.perf_counter()
    out: dict[str, Any] = {"key": task.key, "index": task.index, "axes": task.axes, "result": None, "error": None}
    try:
        arch = validate(ArchSpec, apply_overrides(_raw(task.arch_path), list(task.arch_over), ArchSpec),
                        file=task.arch_path)
        wl = validate(WorkloadSpec, apply_overrides(_raw(task.workload_path), list(task.wl_over), WorkloadSpec),
                      file=task.workload_path)
        result = simulate(arch, wl, Options(**task.options, threads=task.threads, backend=task.backend,  # type: ignore[arg-type]
                                                   device=task.device),
                          base_dir=Path(task.workload_path).parent, arch_file=task.arch_path)
        doc = result.to_json()
        doc.pop("config", None)  # the key and the sweep spec reproduce it; keeps the store small
        out["result"] = doc
    except CimsimError as exc:
        out["error"] = f"{type(exc).__name__}: {exc.one_line()}"
    except Exception as exc:  # noqa: BLE001 — a point's crash is recorded with its traceback; the sweep goes on
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        out["error"] = f"{tb} (at {traceback.extract_tb(exc.__traceback__)[-1].filename.rsplit('/', 1)[-1]}:"\
                       f"{traceback.extract_tb(exc.__traceback__)[-1].lineno})"
    out["wall_s"] = time.perf_counter() - t0
    return out


def run_batch(tasks: list[Task]) -> list[dict[str, Any]]:
    """Run several points in one call (fewer round trips to the pool)."""
    return [run_task(t) for t in tasks]
