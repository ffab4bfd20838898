"""Sweep spec (YAML): a base arch + workload, axes over their fields by dotted path, a search strategy,
objectives and constraints on keys of ``result.json``.

Example::

    name: array_size
    arch: ../arch_configs/spindrop.yaml      # relative to this file; omit for all defaults
    workload: ../workloads/digits_mlp.yaml
    search: grid                             # grid | random | optuna
    axes:
      - {path: crossbar.rows, values: [64, 128, 256]}
      - {path: crossbar.rows_active, log: {start: 4, stop: 32, num: 4, integer: true}}
      - zip:                                 # values that move together
          - {path: column_periphery.model, values: [mlsa, neurosim_sar]}
          - {path: column_periphery.bits, values: [null, 5]}
    objectives: [min energy_per_inference_j, min latency_s]
    constraints: ["area_m2 <= 2e-6"]

An axis path is routed like ``--set``: ``arch.<path>`` / ``workload.<path>``, or by its first key (an arch
section or a workload field).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from cimsim.spec.arch import ArchSpec
from cimsim.spec.common import Spec
from cimsim.spec.workload import WorkloadSpec

OPS = ("<=", ">=", "==", "!=", "<", ">")
# Most points a sweep plans (grid size, random samples, optuna trials). Every planned point is resolved and
# validated before anything runs (about 1 ms each, so the bound keeps planning under ~2 minutes) and gets a row
# in the store; a larger grid is refused with its size before a single point is built.
MAX_PLAN_POINTS = 100_000
# optuna's samplers take a 32-bit seed (numpy RandomState); the sweep seed is also every point's run seed
MAX_SEED = 2**32 - 1
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][\w.\-]*)\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*$")
_OBJECTIVE = re.compile(r"^\s*(min|max)\s+([A-Za-z_][\w.\-]*)\s*$")


@dataclass(frozen=True)
class Objective:
    """``sense`` (min | max) of the result key ``key`` (dotted, e.g. ``ood.uniform_noise.auroc``)."""

    key: str
    sense: Literal["min", "max"]

    def __str__(self) -> str:
        return f"{self.sense} {self.key}"


@dataclass(frozen=True)
class Constraint:
    """``key op value``: a point is feasible when its result satisfies it."""

    key: str
    op: str
    value: float

    def holds(self, x: Any) -> bool:
        try:
            x = float(x)
        except (TypeError, ValueError):
            return False
        if math.isnan(x):
            return False
        return {"<=": x <= self.value, ">=": x >= self.value, "==": x == self.value, "!=": x != self.value,
                "<": x < self.value, ">": x > self.value}[self.op]

    def violation(self, x: Any) -> float:
        """0 when feasible, else > 0 (how far off; optuna's constraint convention)."""
        try:
            x = float(x)
        except (TypeError, ValueError):
            return math.inf
        if math.isnan(x):
            return math.inf
        return 0.0 if self.holds(x) else max(abs(x - self.value), 1e-300)

    def __str__(self) -> str:
        return f"{self.key} {self.op} {self.value:g}"


def parse_objective(text: str) -> Objective:
    m = _OBJECTIVE.match(text)
    if not m:
        raise ValueError(f"objective {text!r} is not 'min KEY' or 'max KEY'")
    return Objective(key=m.group(2), sense=m.group(1))  # type: ignore[arg-type]


def parse_constraint(text: str) -> Constraint:
    m = _CONSTRAINT.match(text)
    if not m:
        raise ValueError(f"constraint {text!r} is not 'KEY OP NUMBER' with OP in {' '.join(OPS)}")
    try:
        value = float(m.group(3))
    except ValueError:
        raise ValueError(f"constraint {text!r}: {m.group(3)!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"constraint {text!r}: the bound must be a finite number")
    return Constraint(key=m.group(1), op=m.group(2), value=value)


class Range(Spec):
    """``num`` points from ``start`` to ``stop`` inclusive; ``integer`` rounds them (duplicates dropped)."""

    start: float = Field(allow_inf_nan=False)
    stop: float = Field(allow_inf_nan=False)
    num: int = Field(ge=2, le=10000, description="points, ends included")
    integer: bool = Field(default=False, description="round to integers (for counts such as rows)")


class Axis(Spec):
    """One swept field: exactly one of ``values``, ``linear`` (evenly spaced) or ``log`` (geometric)."""

    path: str = Field(description="dotted field path, routed like --set (arch.<path> / workload.<path> or by first key)")
    values: list[Any] | None = Field(default=None, min_length=1, description="explicit values (any YAML scalar)")
    linear: Range | None = None
    log: Range | None = None
    label: str | None = Field(default=None, description="column name in tables and plots (default: path)")

    @model_validator(mode="after")
    def _one_source(self) -> Axis:
        given = [k for k in ("values", "linear", "log") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"axis {self.path!r} needs exactly one of values, linear, log (got {given or 'none'})")
        if self.log is not None and (self.log.start <= 0 or self.log.stop <= 0):
            raise ValueError(f"axis {self.path!r}: a log range needs start > 0 and stop > 0")
        return self

    @property
    def name(self) -> str:
        return self.label or self.path

    def points(self) -> list[Any]:
        if self.values is not None:
            return list(self.values)
        rng = self.linear if self.linear is not None else self.log
        assert rng is not None
        xs = (np.linspace(rng.start, rng.stop, rng.num) if self.linear is not None
              else np.geomspace(rng.start, rng.stop, rng.num))
        if rng.integer:
            return list(dict.fromkeys(int(round(x)) for x in xs))
        return [float(x) for x in xs]


class ZipAxis(Spec):
    """Axes whose values move together (the i-th value of each); all must have the same length."""

    zip: list[Axis] = Field(min_length=2)

    @model_validator(mode="after")
    def _same_length(self) -> ZipAxis:
        lengths = {a.path: len(a.points()) for a in self.zip}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"zipped axes need equal lengths (got {lengths})")
        return self

    @property
    def name(self) -> str:
        return "+".join(a.name for a in self.zip)


def _axis_kind(v: Any) -> str:
    # called on raw YAML when validating and on the model when serializing
    return "zip" if isinstance(v, ZipAxis) or (isinstance(v, dict) and "zip" in v) else "axis"


AnyAxis = Annotated[Annotated[Axis, Tag("axis")] | Annotated[ZipAxis, Tag("zip")], Discriminator(_axis_kind)]


class OptunaSpec(Spec):
    sampler: Literal["nsga2", "tpe"] = Field(default="nsga2", description="multi-objective NSGA-II or TPE")
    population_size: int = Field(default=16, ge=2, le=1000, description="NSGA-II population")
    batch: int = Field(default=8, ge=1, le=1000,
                       description="trials asked (and evaluated in parallel) per round; results are told in trial "
                                   "order, so a seed reproduces the study whatever the worker count")


class SweepSpec(Spec):
    # a name of dots only ('.', '..') would make the default output results/.. escape results/
    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$", max_length=100,
                      description="sweep name (default output folder results/<name>; letters, digits, _ . -, "
                                  "not only dots)")
    description: str = ""
    arch: str | None = Field(default=None, description="arch YAML, relative to the sweep file (None: all defaults)")
    workload: str = Field(description="workload YAML, relative to the sweep file")
    search: Literal["grid", "random", "optuna"] = "grid"
    samples: int | None = Field(default=None, ge=1, le=MAX_PLAN_POINTS,
                                description="random: points drawn from the grid without replacement; optuna: trials")
    seed: int = Field(default=0, ge=0, le=MAX_SEED,
                      description="root seed of every run and of the random/optuna search (32-bit: optuna's samplers)")
    hardware_only: bool = Field(default=True, description="no functional run (energy from expected activity)")
    passes: int | None = Field(default=None, ge=1, le=1000, description="MC passes T (None: the workload's)")
    limit: int | None = Field(default=None, ge=1, description="functional runs: first N test inputs")
    ood: bool = True
    corruptions: bool = True
    timing_inputs: int = Field(default=64, ge=1, description="inputs the timing run schedules")
    timing: Literal["auto", "engine", "closed_form"] = "auto"
    backend: Literal["numpy", "torch", "cupy"] = Field(default="numpy", description="array library of functional "
                                                       "runs (results do not depend on it; not part of a point's key)")
    device: Literal["cpu", "cuda"] = Field(default="cpu", description="device of the torch or cupy backend")
    skip_invalid: bool = Field(default=False, description="record a point whose axis combination is invalid as "
                                                          "failed instead of refusing the sweep")
    set: dict[str, Any] = Field(default_factory=dict, description="fixed overrides of every point, dotted path → "
                                                                 "value, routed like axes (applied before them)")
    axes: list[AnyAxis] = Field(min_length=1)
    objectives: list[str] = Field(default_factory=list, description="'min KEY' / 'max KEY', KEY dotted into result.json")
    constraints: list[str] = Field(default_factory=list, description="'KEY OP NUMBER', OP one of <= >= < > == !=")
    color_by: str | None = Field(default=None, description="axis that colours the report's Pareto scatter")
    optuna: OptunaSpec = Field(default_factory=OptunaSpec)

    @field_validator("name")
    @classmethod
    def _name_stays_inside(cls, v: str) -> str:
        if set(v) == {"."}:
            raise ValueError(f"sweep name {v!r} is only dots: its output folder results/{v} would leave results/")
        return v

    @field_validator("objectives")
    @classmethod
    def _objectives(cls, v: list[str]) -> list[str]:
        for text in v:
            parse_objective(text)
        return v

    @field_validator("constraints")
    @classmethod
    def _constraints(cls, v: list[str]) -> list[str]:
        for text in v:
            parse_constraint(text)
        return v

    @model_validator(mode="after")
    def _search_needs(self) -> SweepSpec:
        names = [a.name for a in self.flat_axes()]
        if len(set(names)) != len(names):
            raise ValueError(f"axis names repeat: {names}")
        if self.search in ("random", "optuna") and self.samples is None:
            raise ValueError(f"search: {self.search} needs samples")
        if self.search == "optuna" and not self.objectives:
            raise ValueError("search: optuna needs at least one objective")
        if self.color_by is not None and self.color_by not in names:
            raise ValueError(f"color_by {self.color_by!r} is not an axis (axes: {', '.join(names)})")
        return self

    def flat_axes(self) -> list[Axis]:
        out: list[Axis] = []
        for a in self.axes:
            out.extend(a.zip if isinstance(a, ZipAxis) else [a])
        return out

    def objective_list(self) -> list[Objective]:
        return [parse_objective(t) for t in self.objectives]

    def constraint_list(self) -> list[Constraint]:
        return [parse_constraint(t) for t in self.constraints]


ARCH_SECTIONS = frozenset(ArchSpec.model_fields) - {"name"}
WORKLOAD_FIELDS = frozenset(WorkloadSpec.model_fields) - {"name"}


def route(path: str) -> tuple[str, str]:
    """``("arch" | "workload", path inside it)`` for an axis path, by the rules of ``--set``.

    Raises:
        ValueError: naming the path and what is allowed.
    """
    head, _, rest = path.partition(".")
    if head in ("arch", "workload") and rest:
        return head, rest
    if head in ARCH_SECTIONS:
        return "arch", path
    if head in WORKLOAD_FIELDS:
        return "workload", path
    raise ValueError(f"axis path {path!r} is neither an arch section ({', '.join(sorted(ARCH_SECTIONS))}), a "
                     f"workload field ({', '.join(sorted(WORKLOAD_FIELDS))}), nor arch.<path> / workload.<path>")
