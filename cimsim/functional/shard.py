"""Where the units of a functional run execute: this process, a pool of local processes, or a Dask cluster.

Local pools and Dask clients are made as the sweep runner makes them (:mod:`cimsim.dse.runner`: forkserver
workers that imported cimsim once; the same ``--scheduler`` checks). At most a few units per worker are in
flight, so the parent holds a bounded slice of the inputs, and each worker a unit's inputs and one executor
chunk. A local worker that dies (killed, out of memory) breaks its pool: the units that had not come back are
recomputed on a fresh pool, up to :data:`MAX_RESTARTS` times. Dask reschedules a dead worker's tasks itself.
"""

from __future__ import annotations

import math
import multiprocessing as mp
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from cimsim.errors import CimsimError
from cimsim.functional.evaluate import Unit, UnitResult, evaluate_unit

#: Fresh pools a run may start after workers died, before it gives up.
MAX_RESTARTS = 3
#: Units in flight per worker: one running, one queued (keeps every worker busy across IPC).
IN_FLIGHT = 2
#: GEMM work (flop) a unit carries at least, when the set is large enough: a Dask task costs about 10 ms of
#: scheduling and transfer (measured: a 2-worker LocalCluster, ResNet-18 units of 2 inputs, 13 ms per unit
#: against 2 ms on a local pool), a few per cent of 1e10 flop on one core here (0.3–0.5 s).
UNIT_WORK = 1e10

UnitFn = Callable[[Unit], UnitResult]


def in_worker(unit: Unit) -> UnitResult:
    """A unit in a pool or Dask worker: BLAS (and torch) on one thread (the workers already fill the cores)."""
    from threadpoolctl import threadpool_limits

    if unit.spec.backend == "torch" and unit.spec.device == "cpu":
        import torch

        torch.set_num_threads(1)  # this worker process only

    with threadpool_limits(limits=1, user_api="blas"):
        return evaluate_unit(unit)


def unit_size(n: int, chunk: int, flop_per_input: float, workers: int) -> int:
    """Inputs per unit of a sharded set of ``n`` inputs: as many as carry :data:`UNIT_WORK` flop (at least one
    executor ``chunk``), but no more than keep :data:`IN_FLIGHT` units per worker busy. A worker runs its unit
    one chunk at a time, so its memory does not grow with the unit; results do not depend on the size."""
    by_work = max(chunk, math.ceil(UNIT_WORK / max(flop_per_input, 1.0)))
    return max(1, min(by_work, math.ceil(n / (IN_FLIGHT * workers))))


def run_local(units: Iterable[Unit], ctx: Any, tick: Callable[[int], None] | None) -> Iterator[UnitResult]:
    """Units one after another in this process, on the run's own chip and network (``ctx``)."""
    for u in units:
        yield evaluate_unit(u, ctx, tick)


def _new_pool(workers: int) -> ProcessPoolExecutor:
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["cimsim.functional.evaluate"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx)


def run_pool(units: Iterable[Unit], workers: int, tick: Callable[[int], None] | None,
             fn: UnitFn = in_worker, pool: ProcessPoolExecutor | None = None) -> Iterator[UnitResult]:
    """Units on ``workers`` local processes; the units of a pool broken by a dying worker are recomputed.
    ``pool``: an open pool of ``workers`` processes to use (kept open; its workers keep their built chips), else
    one is made for this call."""
    todo = iter(units)
    retry: list[Unit] = []
    pending: dict[Future, Unit] = {}
    restarts = 0
    own = pool is None
    pool = pool if pool is not None else _new_pool(workers)
    try:
        while True:
            while len(pending) < IN_FLIGHT * workers:
                u = retry.pop() if retry else next(todo, None)
                if u is None:
                    break
                pending[pool.submit(fn, u)] = u
            if not pending:
                return
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            broken = False
            for fut in done:
                u = pending.pop(fut)
                try:
                    r = fut.result()
                except BrokenProcessPool:
                    retry.append(u)
                    broken = True
                    continue
                if tick is not None:
                    tick(u.x.shape[0])
                yield r
            if broken:  # every future of a broken pool fails: recompute them all on a fresh pool
                retry.extend(pending.values())
                pending.clear()
                restarts += 1
                if restarts > MAX_RESTARTS:
                    raise CimsimError(f"functional workers died {restarts} times; giving up", field="--workers",
                                      allowed="fewer workers, or more memory per worker")
                pool.shutdown(wait=False, cancel_futures=True)
                pool, own = _new_pool(workers), True
    finally:
        if own:
            pool.shutdown(wait=True, cancel_futures=True)


def dask_client(scheduler: Any) -> tuple[Any, bool]:
    """(client, whether this call opened it) for ``scheduler`` (the sweep runner's checks and messages)."""
    from cimsim.dse.runner import dask_client as connect

    return connect(scheduler)


def run_dask(units: Iterable[Unit], scheduler: Any, tick: Callable[[int], None] | None,
             fn: UnitFn = in_worker) -> Iterator[UnitResult]:
    """Units on a Dask cluster (a dead worker's tasks are rescheduled by the scheduler)."""
    from dask.distributed import wait as dask_wait

    client, own = dask_client(scheduler)
    try:
        workers = max(1, sum(client.nthreads().values()))
        todo = iter(units)
        pending: dict[Any, Unit] = {}
        while True:
            while len(pending) < IN_FLIGHT * workers:
                u = next(todo, None)
                if u is None:
                    break
                pending[client.submit(fn, u, pure=False)] = u
            if not pending:
                return
            done = dask_wait(list(pending), return_when="FIRST_COMPLETED").done
            for fut in done:
                u = pending.pop(fut)
                r = fut.result()
                if tick is not None:
                    tick(u.x.shape[0])
                yield r
    finally:
        if own:
            client.close()


def run_units(units: Iterable[Unit], *, ctx: Any, workers: int | None, scheduler: Any,
              tick: Callable[[int], None] | None) -> Iterator[UnitResult]:
    """Dask when ``scheduler`` is given, else ``workers`` local processes, else this process."""
    if scheduler is not None:
        return run_dask(units, scheduler, tick)
    if workers is not None and workers > 1:
        return run_pool(units, workers, tick)
    return run_local(units, ctx, tick)
