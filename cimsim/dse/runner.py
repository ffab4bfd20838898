"""Run a sweep into a directory: check everything, lock the directory, skip stored points, run the rest on
this process, a local process pool or a Dask cluster, and commit each finished point at once.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cimsim
from cimsim.dse.points import Resolved, Sweep, dedupe, load_sweep, resolve_all
from cimsim.dse.store import Lock, Status, Store
from cimsim.dse.worker import Task, run_batch
from cimsim.errors import ConfigError
from cimsim.limits import usable_cpus

Progress = Callable[[int, int, int], None]  # (finished, failed, total)


@dataclass(frozen=True)
class SweepSummary:
    """What one ``run_sweep`` call did.

    Attributes:
        directory: the sweep directory.
        status: planned / done / failed counts after the run.
        computed: points simulated in this call.
        reused: planned points found in the store (not recomputed).
        wall_s: wall time of the call, s.
        note: e.g. a stale lock taken over.
    """

    directory: Path
    status: Status
    computed: int
    reused: int
    wall_s: float
    note: str | None = None


def default_out(sweep: Sweep) -> Path:
    """``results/<name>`` under the working directory."""
    return Path("results") / sweep.spec.name


# -------------------------------------------------------------------------------------------- executors
class _Executor:
    """Runs batches of tasks; yields each finished batch's rows as soon as it is back."""

    workers = 1
    # functional threads per point: a pool of processes already fills the cores (None: all CPUs)
    threads_per_task: int | None = 1

    def run(self, tasks: list[Task]) -> Iterator[list[dict[str, Any]]]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def chunks(self, tasks: list[Task]) -> list[list[Task]]:
        # a few batches per worker: amortizes pickling/IPC, keeps load balance and progress granular
        size = max(1, min(32, math.ceil(len(tasks) / (4 * self.workers))))
        return [tasks[i:i + size] for i in range(0, len(tasks), size)]


class _InProcess(_Executor):
    threads_per_task = None

    def run(self, tasks: list[Task]) -> Iterator[list[dict[str, Any]]]:
        for t in tasks:
            yield run_batch([t])


class _LocalPool(_Executor):
    def __init__(self, workers: int) -> None:
        self.workers = workers
        # forkserver: workers are forked from a clean server that imported cimsim once (fast start, and no
        # fork of this process's threads, e.g. the progress bar's monitor)
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["cimsim.dse.worker", "cimsim.simulate"])
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)

    def run(self, tasks: list[Task]) -> Iterator[list[dict[str, Any]]]:
        pending = {self.pool.submit(run_batch, chunk) for chunk in self.chunks(tasks)}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield fut.result()
        finally:
            for fut in pending:
                fut.cancel()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def dask_client(scheduler: Any) -> tuple[Any, bool]:
    """(client, whether this call opened it): a ``tcp://HOST:PORT`` address is connected to, an existing
    ``dask.distributed.Client`` (tests, notebooks) is used as is. Also used by ``cimsim run --scheduler``."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise ConfigError("--scheduler needs Dask: pip install 'cimsim[dse]'", field="--scheduler") from None
    if isinstance(scheduler, str):
        try:
            return Client(scheduler, timeout="10s"), True
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler: {exc}", field="--scheduler") from None
    return scheduler, False


class _Dask(_Executor):
    def __init__(self, scheduler: Any) -> None:
        self.client, self.own = dask_client(scheduler)
        self.workers = max(1, sum(self.client.nthreads().values()))

    def run(self, tasks: list[Task]) -> Iterator[list[dict[str, Any]]]:
        from dask.distributed import as_completed

        futures = self.client.map(run_batch, self.chunks(tasks), pure=False)
        for fut in as_completed(futures):
            yield fut.result()

    def close(self) -> None:
        if self.own:
            self.client.close()


def make_executor(workers: int | None, scheduler: Any = None) -> _Executor:
    """Dask when ``scheduler`` is given, else a local pool of ``workers`` processes (1: this process)."""
    if scheduler is not None:
        return _Dask(scheduler)
    n = workers or usable_cpus()
    return _InProcess() if n == 1 else _LocalPool(n)


# --------------------------------------------------------------------------------------------- running
def task_of(sweep: Sweep, r: Resolved, threads: int | None = None) -> Task:
    return Task(key=r.key, index=r.point.index, axes=r.point.axes,
                arch_path=None if sweep.arch_path is None else str(sweep.arch_path),
                workload_path=str(sweep.workload_path), arch_over=r.point.arch_over, wl_over=r.point.wl_over,
                options=sweep.run_options(), threads=threads, backend=sweep.spec.backend, device=sweep.spec.device)


class Session:
    """An open, locked sweep directory with its executor (used by grid/random runs and the optuna loop)."""

    def __init__(self, sweep: Sweep, out: Path, executor: _Executor, progress: Progress | None) -> None:
        self.sweep, self.out, self.executor, self.progress = sweep, out, executor, progress
        self.lock = Lock(out)
        self.store: Store | None = None
        self.note: str | None = None
        self.computed = 0

    def __enter__(self) -> Session:
        self.out.mkdir(parents=True, exist_ok=True)
        self.note = self.lock.acquire()
        try:
            self.store = Store(self.out, create=True)
            meta = self.store.meta()
            if meta.get("name") not in (None, self.sweep.spec.name):
                raise ConfigError(f"this directory holds sweep {meta['name']!r}, not {self.sweep.spec.name!r}; "
                                  "give another --out", file=str(self.out))
            self.store.set_meta(name=self.sweep.spec.name, spec=self.sweep.spec.model_dump(mode="json"),
                                sweep_file=str(self.sweep.file.resolve()), version=cimsim.__version__,
                                arch=None if self.sweep.arch_path is None else str(self.sweep.arch_path.resolve()),
                                workload=str(self.sweep.workload_path.resolve()),
                                axes=[a.name for a in self.sweep.spec.flat_axes()])
        except BaseException:
            self.lock.release()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.executor.close()
        finally:
            if self.store is not None:
                self.store.close()
            self.lock.release()

    def evaluate(self, resolved: list[Resolved], *, finished: int = 0, total: int | None = None) -> int:
        """Commit invalid points as failed, run the ones not stored yet; returns how many ran."""
        assert self.store is not None
        stored = self.store.keys()
        total = total if total is not None else len(resolved)
        for r in resolved:
            if r.error is not None and r.key not in stored:
                self.store.add(r.key, r.point.index, r.point.axes, error=r.error)
                stored[r.key] = "failed"
        todo = [r for r in dedupe(resolved) if r.key not in stored]
        copies = Counter(r.key for r in resolved)  # a config planned twice finishes twice
        count = finished + sum(1 for r in resolved if r.key in stored)
        failed = sum(1 for r in resolved if stored.get(r.key) == "failed")
        if self.progress:
            self.progress(count, failed, total)
        ran = 0
        for rows in self.executor.run([task_of(self.sweep, r, self.executor.threads_per_task)
                                          for r in todo]):
            for row in rows:
                self.store.add(row["key"], row["index"], row["axes"], result=row["result"], error=row["error"],
                               wall_s=row["wall_s"])
                ran += 1
                count += copies[row["key"]]
                failed += copies[row["key"]] if row["error"] is not None else 0
            if self.progress:
                self.progress(count, failed, total)
        self.computed += ran
        return ran


def run_sweep(sweep_file: str | Path, out_dir: str | Path | None = None, *, workers: int | None = None,
              scheduler: Any = None, progress: Progress | None = None) -> SweepSummary:
    """Run (or resume) a sweep.

    Args:
        sweep_file: the sweep YAML.
        out_dir: the sweep directory (default ``results/<name>``).
        workers: local processes (default: the CPU count; 1 runs in this process).
        scheduler: a Dask scheduler address (``tcp://host:port``) or a ``dask.distributed.Client``.
        progress: called as ``progress(finished, failed, total)``.

    Raises:
        ConfigError: bad sweep file, axis or value (before anything runs), or the directory is locked.
    """
    t0 = time.perf_counter()
    sweep = load_sweep(sweep_file)
    out = Path(out_dir) if out_dir is not None else default_out(sweep)
    if sweep.spec.search == "optuna":
        from cimsim.dse.search import run_optuna

        executor = make_executor(workers, scheduler)
        with Session(sweep, out, executor, progress) as session:
            run_optuna(session)
            status = session.store.status()  # type: ignore[union-attr]
            return SweepSummary(out, status, session.computed, status.done + status.failed - session.computed,
                                time.perf_counter() - t0, session.note)
    resolved = list(resolve_all(sweep, sweep.points()))  # every point checked before anything runs
    executor = make_executor(workers, scheduler)
    with Session(sweep, out, executor, progress) as session:
        assert session.store is not None
        session.store.set_meta(planned=len(resolved))
        session.store.plan([(r.point.index, r.key, r.point.axes) for r in resolved], replace=True)
        session.evaluate(resolved)
        status = session.store.status()
        return SweepSummary(out, status, session.computed, len(resolved) - session.computed,
                            time.perf_counter() - t0, session.note)


def sweep_status(directory: str | Path) -> Status:
    """Planned / done / failed counts of a sweep directory (reads only; works while a sweep runs)."""
    store = Store(directory)
    try:
        return store.status()
    finally:
        store.close()
