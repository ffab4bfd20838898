"""Run a sweep into a directory: check everything, lock the directory, skip stored points, run the rest on
this process, a local process pool or a Dask cluster, and commit each finished point at once.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cimsim
from cimsim.dse.lifeline import die_with
from cimsim.dse.points import Resolved, Sweep, dedupe, load_sweep, resolve_all
from cimsim.dse.store import Lock, Status, Store
from cimsim.dse.worker import Task, run_batch
from cimsim.errors import ConfigError, short_repr
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
        search: grid | random | optuna.
    """

    directory: Path
    status: Status
    computed: int
    reused: int
    wall_s: float
    note: str | None = None
    search: str = "grid"


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

    # points per batch sent to a worker; a batch is committed when it comes back, so 1 commits every point
    # at once (a point costs far more than its round trip to a worker or a Dask scheduler)
    batch_max = 1

    def chunks(self, tasks: list[Task]) -> list[list[Task]]:
        # a few batches per worker: amortizes pickling/IPC, keeps load balance and progress granular
        size = max(1, min(self.batch_max, math.ceil(len(tasks) / (4 * self.workers))))
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
        # workers die with this process, also under kill -9 (cimsim.dse.lifeline)
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=die_with,
                                        initargs=(os.getpid(),))

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
        check_scheduler(scheduler)
        try:
            return Client(scheduler, timeout="10s"), True
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler: {short_repr(str(exc), 120)}",
                              field="--scheduler") from None
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


_SCHEDULER = re.compile(r"^(tcp|tls)://[A-Za-z0-9_.\-]+(:[0-9]{1,5})?$|^(tcp|tls)://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


def check_scheduler(address: str) -> str:
    """A Dask scheduler address ``tcp://HOST:PORT`` / ``tls://HOST:PORT``; anything else is a ConfigError."""
    if not isinstance(address, str) or not _SCHEDULER.match(address):
        raise ConfigError(f"{short_repr(address)} is not a Dask scheduler address", field="--scheduler",
                          allowed="tcp://HOST:PORT or tls://HOST:PORT")
    return address


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
    if isinstance(scheduler, str):
        check_scheduler(scheduler)
    sweep = load_sweep(sweep_file)
    out = check_out_dir(out_dir if out_dir is not None else default_out(sweep))
    if sweep.spec.search == "optuna":
        from cimsim.dse.search import require_optuna, run_optuna

        require_optuna()
        executor = make_executor(workers, scheduler)
        with Session(sweep, out, executor, progress) as session:
            run_optuna(session)
            status = session.store.status()  # type: ignore[union-attr]
            computed, reused = session.computed, status.done + status.failed - session.computed
            note = session.note
    else:
        resolved = list(resolve_all(sweep, sweep.points()))  # every point checked before anything runs
        executor = make_executor(workers, scheduler)
        with Session(sweep, out, executor, progress) as session:
            assert session.store is not None
            session.store.set_meta(planned=len(resolved))
            session.store.plan([(r.point.index, r.key, r.point.axes) for r in resolved], replace=True)
            session.evaluate(resolved)
            status = session.store.status()
            computed, reused, note = session.computed, len(resolved) - session.computed, session.note
    status = replace(status, feasible=count_feasible(out, sweep.spec.model_dump(mode="json")))
    return SweepSummary(out, status, computed, reused, time.perf_counter() - t0, note, sweep.spec.search)


def check_out_dir(path: str | Path) -> Path:
    """A sweep directory path given as ``--out``: not empty, no NUL byte, not an existing file or symlink."""
    text = str(path)
    if text.strip() == "" or "\x00" in text:
        raise ConfigError(f"{short_repr(text)} is not a usable directory path", field="--out",
                          allowed="a directory path without NUL bytes")
    p = Path(path)
    if p.is_symlink():
        raise ConfigError(f"{text!r} is a symbolic link; give the real directory", field="--out")
    if p.exists() and not p.is_dir():
        raise ConfigError(f"{text!r} exists and is not a directory", field="--out")
    return p


def sweep_status(directory: str | Path) -> Status:
    """Planned / done / failed (and feasible) counts of a sweep directory; opens the store read-only, so it
    works while a sweep runs and on a read-only directory."""
    store = Store(directory)
    try:
        st = store.status()
        spec = store.meta().get("spec", {})
    finally:
        store.close()
    return replace(st, feasible=count_feasible(directory, spec))


def count_feasible(directory: str | Path, spec: dict[str, Any]) -> int | None:
    """Done points meeting every constraint of the stored spec (None when it has no constraints)."""
    from cimsim.spec.sweep import parse_constraint

    texts = spec.get("constraints") or []
    if not texts:
        return None
    try:
        cons = [parse_constraint(str(t)) for t in texts]
    except ValueError as exc:
        raise ConfigError(str(exc), file=str(Path(directory) / "sweep.sqlite"), field="meta.spec.constraints") \
            from None
    from cimsim.dse.results import feasible, load

    df = load(directory)
    if df.empty:
        return 0
    for c in cons:
        if c.key not in df.columns:
            return 0
    return int(feasible(df, cons).sum())
