"""Run options of :func:`cimsim.simulate.simulate` (the ``cimsim run`` flags and a sweep's run keys)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from cimsim.engine.timing import TimingMode


@dataclass(frozen=True)
class Options:
    """Run options.

    Attributes:
        passes: MC passes T (None: the workload's ``mc_passes``).
        seed: root seed of every random draw.
        limit: evaluate only the first N test inputs (None: the workload's ``limit``, else all).
        hardware_only: skip the functional run (no weights, no data set); energy from expected activity
            (stated in the result).
        inputs: hardware-only runs: inferences the energy and runtime are counted for (default 1; per-inference
            numbers do not depend on it).
        timing_inputs: inputs the event engine schedules (timing is data-independent): functional runs time
            the first min(N, timing_inputs) inputs, hardware-only runs exactly timing_inputs; None: all.
        trace: keep Chrome-trace events of the timing run.
        ood: evaluate the workload's OOD sets.
        corruptions: evaluate the workload's corruptions.
        progress: called as ``progress(phase, done, total)`` while long phases run (functional: inputs).
        timing: ``auto`` (closed form where provably equal to the event engine, else the engine),
            ``engine`` or ``closed_form`` (:func:`cimsim.engine.timing.time_plan`).
        threads: numpy worker threads of the functional run per process (None: the CPUs this process may use;
            1 in each worker of ``workers`` > 1 or a Dask cluster); results do not depend on it.
        backend: array library of the functional run: ``numpy``, ``torch`` or ``cupy``
            (:mod:`cimsim.functional.backend`); results do not depend on it.
        device: ``cpu`` or ``cuda``.
        workers: local processes the evaluation sets and chips are sharded over (None or 1: this process).
        scheduler: a Dask scheduler address ``tcp://HOST:PORT`` or a ``dask.distributed.Client`` to shard over
            instead of local processes. Results do not depend on ``workers`` or ``scheduler``.
    """

    passes: int | None = None
    seed: int = 0
    limit: int | None = None
    hardware_only: bool = False
    inputs: int | None = None
    timing_inputs: int | None = 64
    trace: bool = False
    ood: bool = True
    corruptions: bool = True
    progress: Callable[[str, int, int], None] | None = None
    timing: TimingMode = "auto"
    threads: int | None = None
    backend: Literal["numpy", "torch", "cupy"] = "numpy"
    device: Literal["cpu", "cuda"] = "cpu"
    workers: int | None = None
    scheduler: Any = None
