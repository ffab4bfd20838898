"""The one entry point: ``simulate(arch, workload, options) -> Result`` (docs/architecture.md).

arch + workload → resolve (Design) → mapping → hardware (:func:`_setup`) → functional evaluation (accuracy,
uncertainty, raw activity; :mod:`cimsim.functional.outcome`, sharded by :mod:`cimsim.functional.shard`) or
expected activity (hardware-only) → timing (:func:`_timing`) → pricing (:func:`_price`: energy ledger,
lifetime) → :class:`~cimsim.result.Result`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cimsim.activity import Counts, expected_counts
from cimsim.engine.closed_form import closed_form
from cimsim.engine.plan import TimingPlan, build_plan
from cimsim.engine.simulator import EngineResult
from cimsim.engine.timing import time_plan
from cimsim.errors import WeightsError
from cimsim.faults.lifetime import lifetime as wear_lifetime
from cimsim.hardware import Hardware, build_hardware
from cimsim.ledger import Ledger, build_ledger
from cimsim.mapping import Mapping, map_network
from cimsim.options import Options
from cimsim.resolve import resolve
from cimsim.result import Result
from cimsim.spec.arch import ArchSpec
from cimsim.spec.loader import load_arch, load_workload
from cimsim.spec.workload import WorkloadSpec

__all__ = ["Options", "Result", "chip_seed", "simulate"]


def chip_seed(seed: int, chip: int) -> int:
    """Root seed of chip instance ``chip`` (:func:`cimsim.functional.evaluate.chip_seed`)."""
    from cimsim.functional.evaluate import chip_seed as seed_of

    return seed_of(seed, chip)


@dataclass
class _Setup:
    """A run's specs, chip and mapping, and (functional runs) its test inputs."""

    arch: ArchSpec
    workload: WorkloadSpec
    base: Path
    wl_file: str | None
    hw: Hardware
    mapping: Mapping
    passes: int
    n: int
    arch_in: ArchSpec | None = None  # the arch as given (workers resolve it again, as this process did)
    x01: np.ndarray | None = None
    y: np.ndarray | None = None


def _load_specs(arch: ArchSpec | str | Path | None, workload: WorkloadSpec | str | Path,
                base_dir: str | Path | None, arch_file: str | None
                ) -> tuple[ArchSpec, WorkloadSpec, Path, str | None, str | None]:
    wl_file = None
    if not isinstance(arch, ArchSpec):
        arch_file = None if arch is None else str(arch)
        arch = load_arch(arch)
    if not isinstance(workload, WorkloadSpec):
        base = Path(workload).parent
        wl_file = str(workload)
        workload = load_workload(workload)
    else:
        base = Path(base_dir) if base_dir is not None else Path(".")
    return arch, workload, base, arch_file, wl_file


def _test_data(workload: WorkloadSpec, base: Path, limit: int | None, wl_file: str | None
               ) -> tuple[np.ndarray, np.ndarray]:
    """The test inputs in [0, 1] and labels (first ``limit``), checked against the network."""
    if workload.network.weights is None:
        raise WeightsError("a shape-only workload (no network.weights) runs hardware-only", file=wl_file,
                           field="network.weights", allowed="a weights .npz, or --hardware-only")
    from cimsim.network.checks import check_data_against_network
    from cimsim.network.datasets import load_dataset

    ds = load_dataset(workload.dataset, base)
    check_data_against_network(ds, workload.network, file=workload.dataset.path or workload.dataset.name)
    if limit:
        return ds.x_test[:limit], ds.y_test[:limit]
    return ds.x_test, ds.y_test


def _setup(arch: ArchSpec | str | Path | None, workload: WorkloadSpec | str | Path, opt: Options,
           base_dir: str | Path | None, arch_file: str | None) -> _Setup:
    """Specs → Design → mapping → hardware; the test data of a functional run; the memory check."""
    arch, workload, base, arch_file, wl_file = _load_specs(arch, workload, base_dir, arch_file)
    passes = opt.passes or workload.mc_passes
    design = resolve(arch, workload, arch_file=arch_file, workload_file=wl_file)
    mapping = map_network(design)
    # design.arch: chip.tiles: auto is settled there
    st = _Setup(design.arch, workload, base, wl_file, build_hardware(design, mapping), mapping, passes,
                opt.inputs or 1, arch_in=arch)
    if not opt.hardware_only:  # hardware-only: no weights, no data: the input count is the user's
        st.x01, st.y = _test_data(workload, base, opt.limit or workload.limit, wl_file)
        st.n = int(st.x01.shape[0])
    from cimsim.limits import check_run_memory

    check_run_memory(st.arch, workload, inputs=st.n, passes=passes, ood=opt.ood, corruptions=opt.corruptions,
                     hardware_only=opt.hardware_only, file=wl_file)
    return st


def _functional(st: _Setup, opt: Options) -> Any:
    """The functional evaluation (:func:`cimsim.functional.outcome.functional_run`) on this process's chip."""
    from cimsim.functional.evaluate import Context, RunSpec
    from cimsim.functional.outcome import functional_run
    from cimsim.network.weights import load_network

    sharded = opt.scheduler is not None or (opt.workers or 1) > 1
    assert st.arch_in is not None
    spec = RunSpec(st.arch_in, st.workload, str(st.base), st.passes, opt.seed, opt.backend, opt.device,
                   1 if sharded else opt.threads)
    ctx = Context(spec, st.hw, st.mapping, load_network(st.workload.network, st.base))
    assert st.x01 is not None and st.y is not None
    return functional_run(ctx, st.workload, st.x01, st.y, opt)


def _timing(st: _Setup, opt: Options) -> tuple[TimingPlan, EngineResult, int, int]:
    """(plan, engine result, closed-form cycles, inputs timed): timing is data-independent, so the first
    min(N, timing_inputs) inputs are scheduled (hardware-only: exactly timing_inputs)."""
    if opt.hardware_only:
        timed = opt.timing_inputs or st.n
    else:
        timed = st.n if opt.timing_inputs is None else max(1, min(st.n, opt.timing_inputs))
    plan = build_plan(st.hw, st.mapping, inputs=timed, passes=st.passes)
    jobs = timed * st.passes
    eng = time_plan(plan, opt.timing, trace=opt.trace,
                    progress=(lambda d: opt.progress("timing", d, jobs)) if opt.progress else None)
    cf_cycles = eng.total_cycles if eng.method == "closed_form" else closed_form(plan).total_cycles
    return plan, eng, cf_cycles, timed


def _price(st: _Setup, counts: Counts, eng: EngineResult) -> tuple[Ledger, dict[str, Any] | None]:
    """Energy ledger of the counts over the measured runtime, and the dropout MTJs' wear-out lifetime."""
    throughput_per_s = eng.throughput_inputs_per_cycle * st.hw.ctx.clock_hz
    ledger = build_ledger(st.hw, counts, runtime_s=st.n / throughput_per_s, inferences=st.n, passes=st.passes,
                          tiles_used=st.mapping.tiles_per_replica * st.mapping.replicas)
    life = wear_lifetime(st.hw, st.mapping, passes=st.passes, inputs=st.n, throughput_per_s=throughput_per_s,
                         spec=st.arch.faults.lifetime)
    return ledger, life


def simulate(arch: ArchSpec | str | Path | None, workload: WorkloadSpec | str | Path,
             options: Options | None = None, *, base_dir: str | Path | None = None,
             arch_file: str | None = None) -> Result:
    """Run ``workload`` on ``arch``.

    Args:
        arch: spec or YAML path (None: all defaults).
        workload: spec or YAML path.
        options: run options.
        base_dir: folder the workload's relative paths start from when ``workload`` is a spec.
        arch_file: the file ``arch`` came from, for error messages, when ``arch`` is a spec.
    """
    opt = options or Options()
    wall: dict[str, float] = {}
    t0 = time.perf_counter()
    st = _setup(arch, workload, opt, base_dir, arch_file)
    wall["setup"] = time.perf_counter() - t0
    func = None
    if opt.hardware_only:
        counts = expected_counts(st.hw, st.mapping, inputs=st.n, passes=st.passes)
    else:
        t1 = time.perf_counter()
        func = _functional(st, opt)
        counts = func.counts
        wall["functional"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    plan, eng, cf_cycles, timed = _timing(st, opt)
    wall["timing"] = time.perf_counter() - t2
    ledger, life = _price(st, counts, eng)
    wall["total"] = time.perf_counter() - t0
    extra = {} if func is None else {k: getattr(func, k) for k in (
        "metrics", "ood", "corrupted", "per_sample", "ood_scores", "module_p", "faults", "chips", "chip_module_p")}
    return Result(arch=st.arch, workload=st.workload, hardware=st.hw, mapping=st.mapping, ledger=ledger, engine=eng,
                  closed_form_cycles=cf_cycles, passes=st.passes, seed=opt.seed, inputs=st.n, timed_inputs=timed,
                  hardware_only=opt.hardware_only, lifetime=life, wall_s=wall, plan=plan, **extra)
