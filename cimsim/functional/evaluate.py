"""Functional evaluation of a run: the test set, OOD sets, corruptions and sampled chips, as shards.

Every evaluation set (test MC and deterministic, each OOD set, each corruption × severity, and the test and OOD
sets of chips 1 … N−1 of ``variation.chips``) is cut into :class:`Unit` s, input ranges of one set on one chip
instance. A unit returns per-input MC summaries (:class:`cimsim.functional.metrics.Summary`) and, for the MC
test set, raw tallies; :mod:`cimsim.functional.shard` runs the units in this process, on local processes or on
a Dask cluster. Per-input results are pure functions of (seed, set, input index) (counter-based streams) and
tallies add exactly, so the metrics, tables, counts and energies do not depend on how the units were cut or
where they ran.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cimsim.functional import metrics
from cimsim.functional.backend import get_backend
from cimsim.functional.executor import Executor
from cimsim.functional.tallies import Tallies
from cimsim.hardware import Hardware
from cimsim.mapping import Mapping
from cimsim.spec.arch import ArchSpec
from cimsim.spec.workload import WorkloadSpec

# Seed domains of the evaluation-set generators (the executor uses 0–4).
OOD_DATA, CORRUPT_DATA, CHIPS = 10, 11, 12
# Streams of the executor: 0 test MC, 1 test deterministic, 100+ OOD sets (150+ deterministic), 1000+ corruptions.
OOD_STREAM, CORRUPT_STREAM = 100, 1000
# Executors a process keeps built (a chip instance's weights, variation and masks sources), most recent first.
_KEEP_EXECUTORS = 2


def chip_seed(seed: int, chip: int) -> int:
    """Root seed of chip instance ``chip`` (chip 0 is the run's own seed, so its numbers are the main run's)."""
    if chip == 0:
        return seed
    return int(np.random.SeedSequence(seed, spawn_key=(CHIPS, chip)).generate_state(1, np.uint64)[0] >> 1)


@dataclass(frozen=True)
class RunSpec:
    """What a worker needs to rebuild the chip and the network (picklable; weights are read from ``base``).

    Attributes:
        arch, workload: the specs as given to ``simulate`` (resolved again in the worker, identically).
        base: folder the workload's relative paths start from.
        passes: T.
        seed: the run's root seed (chip c runs on :func:`chip_seed` (seed, c)).
        backend, device: the array library (:mod:`cimsim.functional.backend`).
        threads: numpy threads per executor.
    """

    arch: ArchSpec
    workload: WorkloadSpec
    base: str
    passes: int
    seed: int
    backend: str = "numpy"
    device: str = "cpu"
    threads: int | None = None

    @property
    def key(self) -> str:
        return hashlib.sha256(pickle.dumps((self.arch.model_dump(mode="json"), self.workload.model_dump(mode="json"),
                                            self.base, self.passes, self.seed, self.backend, self.device,
                                            self.threads))).hexdigest()


class Context:
    """The chip, mapping and network of a run in one process, and the executors built on them (by seed)."""

    def __init__(self, spec: RunSpec, hw: Hardware, mapping: Mapping, net: Any) -> None:
        self.spec, self.hw, self.mapping, self.net = spec, hw, mapping, net
        self.backend = get_backend(spec.backend, spec.device)
        self._executors: dict[int, Executor] = {}

    @classmethod
    def build(cls, spec: RunSpec) -> Context:
        """Resolve, map and build the chip and load the network (in a worker process)."""
        from cimsim.hardware import build_hardware
        from cimsim.mapping import map_network
        from cimsim.network.weights import load_network
        from cimsim.resolve import resolve

        design = resolve(spec.arch, spec.workload)
        mapping = map_network(design)
        return cls(spec, build_hardware(design, mapping), mapping, load_network(spec.workload.network, Path(spec.base)))

    def executor(self, seed: int) -> Executor:
        ex = self._executors.pop(seed, None)
        if ex is None:
            ex = Executor(self.hw, self.mapping, self.net, seed=seed, passes=self.spec.passes,
                          threads=self.spec.threads, backend=self.backend)
        self._executors = {seed: ex, **dict(list(self._executors.items())[: _KEEP_EXECUTORS - 1])}
        return ex


_CONTEXTS: dict[str, Context] = {}  # per worker process: the run it serves (a memo, rebuilt from RunSpec)


def context_of(spec: RunSpec) -> Context:
    """This process's :class:`Context` of ``spec`` (built once per process and run)."""
    key = spec.key
    ctx = _CONTEXTS.get(key)
    if ctx is None:
        _CONTEXTS.clear()
        ctx = _CONTEXTS[key] = Context.build(spec)
    return ctx


@dataclass(frozen=True)
class Unit:
    """Inputs ``first`` … ``first + len(x) − 1`` of evaluation set ``set_key`` on chip ``chip``.

    Attributes:
        spec: the run.
        chip: chip instance (0: the run's own).
        set_key: e.g. ``test``, ``test_det``, ``ood/uniform_noise``, ``corrupt_det/gaussian_noise_3``.
        first: index of the first input in its set (names its random streams).
        x: quantized inputs (N, C, H, W).
        mc: MC passes (else one deterministic pass, dropout off).
        stream: the set's stream number.
        tally: whether to tally activity (the run's MC test set).
        module_p: whether to return the chip's per-module drop probabilities.
    """

    spec: RunSpec
    chip: int
    set_key: str
    first: int
    x: np.ndarray
    mc: bool
    stream: int
    tally: bool = False
    module_p: bool = False


@dataclass
class UnitResult:
    chip: int
    set_key: str
    first: int
    summary: metrics.Summary
    tallies: Tallies | None = None
    module_p: dict[str, np.ndarray] | None = None


def evaluate_unit(unit: Unit, ctx: Context | None = None, tick: Callable[[int], None] | None = None) -> UnitResult:
    """Run one unit: per-input summaries, a chunk at a time (memory bounded by the executor's chunk)."""
    ctx = ctx if ctx is not None else context_of(unit.spec)
    ex = ctx.executor(chip_seed(unit.spec.seed, unit.chip))
    tallies = ex.new_tallies() if unit.tally else None
    parts = []
    for start in range(0, unit.x.shape[0], ex.chunk):
        logits = ex.run(unit.x[start: start + ex.chunk], mc=unit.mc, stream=unit.stream, tallies=tallies,
                        first=unit.first + start, progress=tick)
        parts.append(metrics.Summary.of(metrics.softmax(logits)))
    return UnitResult(unit.chip, unit.set_key, unit.first, metrics.Summary.concat(parts), tallies,
                      ex.module_probabilities() if unit.module_p else None)


@dataclass(frozen=True)
class SetRecipe:
    """One evaluation set: how its inputs are made, and which chips run it."""

    key: str
    mc: bool
    stream: int
    make: Callable[[], np.ndarray]
    chips: tuple[int, ...] = (0,)
    tally: bool = False


@dataclass
class Collected:
    """Summaries by (chip, set), tallies and per-chip module probabilities, as units come back."""

    parts: dict[tuple[int, str], list[tuple[int, metrics.Summary]]] = field(default_factory=dict)
    tallies: Tallies = field(default_factory=Tallies)
    module_p: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)

    def add(self, r: UnitResult) -> None:
        self.parts.setdefault((r.chip, r.set_key), []).append((r.first, r.summary))
        if r.tallies is not None:
            self.tallies.add(r.tallies)
        if r.module_p is not None:
            self.module_p[r.chip] = r.module_p

    def summary(self, key: str, chip: int = 0) -> metrics.Summary:
        """The set's summary, its units joined in input order."""
        return metrics.Summary.concat([s for _, s in sorted(self.parts[(chip, key)], key=lambda p: p[0])])


def set_recipes(workload: WorkloadSpec, x01: np.ndarray, *, seed: int, ood: bool, corruptions: bool,
                chips: int) -> list[SetRecipe]:
    """Every evaluation set of a run, in the order the run reports them."""
    from cimsim.network.corruptions import corrupt
    from cimsim.network.ood import make_ood

    def rng(*key: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))

    def ood_set(i: int, name: str) -> Callable[[], np.ndarray]:
        return lambda: make_ood(name, x01, workload.ood_samples, rng(OOD_DATA, i))

    out = [SetRecipe("test", True, 0, lambda: x01, tally=True), SetRecipe("test_det", False, 1, lambda: x01)]
    if ood:
        for i, name in enumerate(workload.ood):
            out.append(SetRecipe(f"ood/{name}", True, OOD_STREAM + i, ood_set(i, name)))
            out.append(SetRecipe(f"ood_det/{name}", False, OOD_STREAM + 50 + i, ood_set(i, name)))
    if corruptions:
        k = 0
        for name, severities in workload.corruptions.items():
            for sev in severities:
                def make_c(k: int = k, name: str = name, sev: int = sev) -> np.ndarray:
                    return corrupt(name, x01, sev, rng(CORRUPT_DATA, k))
                out.append(SetRecipe(f"corrupt/{name}_{sev}", True, CORRUPT_STREAM + 2 * k, make_c))
                out.append(SetRecipe(f"corrupt_det/{name}_{sev}", False, CORRUPT_STREAM + 2 * k + 1, make_c))
                k += 1
    # chips 1 … N−1, chip after chip (a process keeps one chip's executor built): MC test and OOD sets, their
    # inputs made again from the same seeds (cheaper than holding every OOD set)
    for c in range(1, chips):
        out.append(SetRecipe("test", True, 0, lambda: x01, (c,)))
        if ood:
            out += [SetRecipe(f"ood/{name}", True, OOD_STREAM + i, ood_set(i, name), (c,))
                    for i, name in enumerate(workload.ood)]
    return out


def set_sizes(workload: WorkloadSpec, n: int, *, ood: bool, corruptions: bool, chips: int) -> int:
    """Inputs all evaluation sets hold together, chips included (the progress bar's total)."""
    per_chip = n + (workload.ood_samples * len(workload.ood) if ood else 0)
    total = n * 2 + (workload.ood_samples * len(workload.ood) * 2 if ood else 0)
    if corruptions:
        total += n * 2 * sum(len(v) for v in workload.corruptions.values())
    return total + per_chip * max(0, chips - 1)


def units_of(recipes: list[SetRecipe], spec: RunSpec, *, bits: int, size: int) -> Iterator[Unit]:
    """Units of at most ``size`` inputs; each set's inputs are made (and quantized) once, when first needed,
    so at most one set's inputs exist at a time."""
    from cimsim.network.datasets import quantize_inputs

    for r in recipes:
        xq = quantize_inputs(r.make(), bits)
        for chip in r.chips:
            for a in range(0, xq.shape[0], size):
                yield Unit(spec, chip, r.key, a, xq[a: a + size], r.mc, r.stream, tally=r.tally and chip == 0,
                           module_p=chip > 0 and r.key == "test" and a == 0)
        del xq
