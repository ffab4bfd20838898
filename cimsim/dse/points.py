"""A loaded sweep: its base specs, its axes' values, the points of a grid or a seeded random sample, and the
content key of a point (hash of its resolved config, run options, seed and cimsim version).

Everything a point needs is checked here, before anything runs: each axis path and each value on its own
(naming the axis and the value), then each point's full combination.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import cimsim
from cimsim.errors import ConfigError
from cimsim.spec.arch import ArchSpec
from cimsim.spec.loader import apply_overrides, read_yaml, validate
from cimsim.spec.sweep import MAX_PLAN_POINTS, Axis, SweepSpec, ZipAxis, route
from cimsim.spec.workload import WorkloadSpec

Override = tuple[str, Any]
_PERMUTE_MAX = 1 << 22  # grids up to this size are sampled by a full permutation (32 MB of int64 at most)
_BLOCK = 1024  # candidate points drawn per block on larger grids


@dataclass(frozen=True)
class Point:
    """One design point.

    Attributes:
        index: position in the grid (grid/random) or the trial number (optuna).
        axes: axis name → value.
        arch_over / wl_over: the overrides (dotted path, value) it applies to the base arch / workload.
    """

    index: int
    axes: dict[str, Any]
    arch_over: tuple[Override, ...]
    wl_over: tuple[Override, ...]


@dataclass(frozen=True)
class Resolved:
    """A validated point: its specs and content key, or the reason it is invalid."""

    point: Point
    key: str
    arch: ArchSpec | None = None
    workload: WorkloadSpec | None = None
    error: str | None = None


@dataclass
class Sweep:
    """A sweep file with its base specs read once.

    Attributes:
        spec: the validated sweep spec.
        file: the sweep YAML.
        arch_path / workload_path: base files, resolved against the sweep file's folder.
        dims: one list of choices per (zipped) axis; a choice is a tuple of (axis, value).
    """

    spec: SweepSpec
    file: Path
    arch_path: Path | None
    workload_path: Path
    arch_raw: dict[str, Any] = field(repr=False)
    workload_raw: dict[str, Any] = field(repr=False)
    dims: list[list[tuple[tuple[Axis, Any], ...]]] = field(repr=False)

    # ------------------------------------------------------------------ points
    @property
    def grid_size(self) -> int:
        return int(np.prod([len(d) for d in self.dims], dtype=object))

    def dim_names(self) -> list[str]:
        return [a.name for a in self.spec.axes]

    def point_from_choices(self, index: int, choices: tuple[int, ...]) -> Point:
        """The point taking choice ``choices[d]`` on every dimension d."""
        axes: dict[str, Any] = {}
        arch_over: list[Override] = []
        wl_over: list[Override] = []
        for path, value in self.spec.set.items():
            target, sub = route(path)
            (arch_over if target == "arch" else wl_over).append((sub, value))
        for dim, c in zip(self.dims, choices, strict=True):
            for axis, value in dim[c]:
                axes[axis.name] = value
                target, path = route(axis.path)
                (arch_over if target == "arch" else wl_over).append((path, value))
        return Point(index, axes, tuple(arch_over), tuple(wl_over))

    def point_at(self, index: int) -> Point:
        """Grid point number ``index`` (row-major: the last axis varies fastest)."""
        choices = []
        rest = index
        for dim in reversed(self.dims):
            rest, c = divmod(rest, len(dim))
            choices.append(c)
        return self.point_from_choices(index, tuple(reversed(choices)))

    def planned_count(self) -> int:
        """Points :meth:`points` would build (grid size, or the random sample size), counted without building."""
        n = self.grid_size
        return n if self.spec.search == "grid" else min(self.spec.samples or n, n)

    def check_plan_size(self) -> None:
        """Refuse, with the count, a plan over :data:`MAX_PLAN_POINTS` before any point is built."""
        if self.spec.search == "grid" and self.grid_size > MAX_PLAN_POINTS:
            sizes = " × ".join(str(len(d)) for d in self.dims)
            raise ConfigError(f"the grid has {self.grid_size:,} points ({sizes}), over the {MAX_PLAN_POINTS:,} a "
                              "sweep plans; use fewer axis values, or search: random / optuna with samples",
                              file=str(self.file), field="axes")

    def points(self) -> list[Point]:
        """Grid: every point; random: ``samples`` distinct grid points drawn with the sweep seed.

        The random sample is a prefix of one seeded sequence of distinct grid points that does not depend on
        ``samples``: raising ``samples`` keeps the points drawn before and adds new ones.
        """
        self.check_plan_size()
        n = self.grid_size
        if self.spec.search == "grid":
            return [self.point_at(i) for i in range(n)]
        if self.spec.search == "random":
            k = min(self.spec.samples or n, n)
            return [self.point_at(i) for i in self._sample(n, k)]
        raise ValueError("optuna points are asked one trial at a time (cimsim.dse.search)")

    def _sample(self, n: int, k: int) -> list[int]:
        rng = np.random.default_rng(np.random.SeedSequence(self.spec.seed, spawn_key=(20,)))
        if n <= _PERMUTE_MAX:  # a seeded permutation of the whole grid; its first k are the sample
            return [int(i) for i in rng.permutation(n)[:k]]
        # a huge grid (k ≤ MAX_PLAN_POINTS ≪ n): uniform choices per dimension in fixed blocks, the first k
        # distinct grid points kept (a duplicate has probability < k/n per draw)
        sizes = [len(d) for d in self.dims]
        strides = [int(np.prod(sizes[d + 1:], dtype=object)) for d in range(len(sizes))]
        out: list[int] = []
        seen: set[int] = set()
        while len(out) < k:
            block = np.column_stack([rng.integers(0, m, size=_BLOCK) for m in sizes])
            for row in block:
                i = sum(int(c) * st for c, st in zip(row, strides, strict=True))
                if i not in seen:
                    seen.add(i)
                    out.append(i)
                    if len(out) == k:
                        break
        return out

    # --------------------------------------------------------------- validate
    def resolve(self, point: Point) -> Resolved:
        """Validate a point's full combination; an invalid one carries the error (naming its axes)."""
        try:
            arch = validate(ArchSpec, apply_overrides(self.arch_raw, list(point.arch_over), ArchSpec,
                                                      source=str(self.file)), file=str(self.arch_path))
            wl = validate(WorkloadSpec, apply_overrides(self.workload_raw, list(point.wl_over), WorkloadSpec,
                                                        source=str(self.file)), file=str(self.workload_path))
        except ConfigError as exc:
            axes = ", ".join(f"{k} = {v!r}" for k, v in point.axes.items())
            msg = f"point {point.index} ({axes}): {exc.one_line()}"
            return Resolved(point, _invalid_key(point, self.spec), error=msg)
        return Resolved(point, point_key(arch, wl, self.spec), arch, wl)

    def run_options(self) -> dict[str, Any]:
        """The options every point runs with (part of its key)."""
        return run_options(self.spec)


def point_key(arch: ArchSpec, workload: WorkloadSpec, spec: SweepSpec) -> str:
    """sha256 of the resolved arch and workload, the run options, the seed and the cimsim version."""
    doc = {"arch": arch.model_dump(mode="json"), "workload": workload.model_dump(mode="json"),
           "options": run_options(spec), "version": cimsim.__version__}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:32]


def run_options(spec: SweepSpec) -> dict[str, Any]:
    """The :class:`cimsim.simulate.Options` fields every point of ``spec`` runs with (part of its key)."""
    return {"hardware_only": spec.hardware_only, "passes": spec.passes, "limit": spec.limit, "ood": spec.ood,
            "corruptions": spec.corruptions, "timing_inputs": spec.timing_inputs, "timing": spec.timing,
            "seed": spec.seed}


def _invalid_key(point: Point, spec: SweepSpec) -> str:
    doc = {"invalid": [list(point.arch_over), list(point.wl_over)], "options": run_options(spec),
           "version": cimsim.__version__}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _axis_error(file: Path, choice: tuple[tuple[Axis, Any], ...], exc: ConfigError) -> ConfigError:
    what = ", ".join(f"{axis.name} = {value!r}" for axis, value in choice)
    return ConfigError(f"axis {what} is invalid: {exc.one_line()}", file=str(file),
                       field="axes." + "+".join(axis.name for axis, _ in choice))


def load_sweep(path: str | Path) -> Sweep:
    """Read and check a sweep file: the spec, its base files, every axis path and every axis value."""
    path = Path(path)
    spec = validate(SweepSpec, read_yaml(path), file=str(path))
    base = path.parent
    arch_path = (base / spec.arch) if spec.arch is not None else None
    wl_path = base / spec.workload
    arch_raw = read_yaml(arch_path) if arch_path is not None else {}
    wl_raw = read_yaml(wl_path)
    validate(ArchSpec, arch_raw, file=str(arch_path))
    validate(WorkloadSpec, wl_raw, file=str(wl_path))
    fixed: dict[str, list[Override]] = {"arch": [], "workload": []}
    for key, value in spec.set.items():
        try:
            target, sub = route(key)
            fixed[target].append((sub, value))
        except ValueError as exc:
            raise ConfigError(str(exc), file=str(path), field=f"set.{key}") from None
    try:
        # axis values are checked on the base with the fixed overrides; points re-apply them (the worker
        # builds every point from the plain base file)
        arch_base = apply_overrides(arch_raw, fixed["arch"], ArchSpec, source=str(path))
        wl_base = apply_overrides(wl_raw, fixed["workload"], WorkloadSpec, source=str(path))
        validate(ArchSpec, arch_base, file=str(arch_path))
        validate(WorkloadSpec, wl_base, file=str(wl_path))
    except ConfigError as exc:
        raise ConfigError(f"set: {exc.one_line()}", file=str(path), field="set") from None
    dims: list[list[tuple[tuple[Axis, Any], ...]]] = []
    for entry in spec.axes:
        members = entry.zip if isinstance(entry, ZipAxis) else [entry]
        routes = []
        for axis in members:
            try:
                routes.append(route(axis.path))
            except ValueError as exc:
                raise ConfigError(str(exc), file=str(path), field=f"axes.{axis.name}.path") from None
        columns = [axis.points() for axis in members]
        choices = [tuple(zip(members, vals, strict=True)) for vals in zip(*columns, strict=True)]
        for choice in choices:  # each value (a zipped tuple together) on the base: names axis and value
            over: dict[str, list[Override]] = {"arch": [], "workload": []}
            for (target, sub), (_, value) in zip(routes, choice, strict=True):
                over[target].append((sub, value))
            try:
                validate(ArchSpec, apply_overrides(arch_base, over["arch"], ArchSpec, source=str(path)),
                         file=str(arch_path))
                validate(WorkloadSpec, apply_overrides(wl_base, over["workload"], WorkloadSpec, source=str(path)),
                         file=str(wl_path))
            except ConfigError as exc:
                raise _axis_error(path, choice, exc) from None
        dims.append(choices)
    sweep = Sweep(spec=spec, file=path, arch_path=arch_path, workload_path=wl_path, arch_raw=arch_raw,
                  workload_raw=wl_raw, dims=dims)
    sweep.check_plan_size()
    return sweep


def resolve_all(sweep: Sweep, points: list[Point]) -> Iterator[Resolved]:
    """Resolve every point; an invalid combination raises unless the sweep says ``skip_invalid``."""
    for point in points:
        r = sweep.resolve(point)
        if r.error is not None and not sweep.spec.skip_invalid:
            raise ConfigError(f"{r.error} (set skip_invalid: true to record such points as failed)",
                              file=str(sweep.file), field="axes")
        yield r


def dedupe(resolved: list[Resolved]) -> list[Resolved]:
    """Keep the first of points that resolve to the same config (e.g. duplicate axis values)."""
    seen: set[str] = set()
    out = []
    for r in resolved:
        if r.key not in seen:
            seen.add(r.key)
            out.append(r)
    return out


__all__ = ["Point", "Resolved", "Sweep", "dedupe", "load_sweep", "point_key", "resolve_all", "run_options"]
