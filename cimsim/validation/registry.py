"""Validation cases of ``cimsim reproduce``: one decorated function per case, found by scanning the topic modules.

A case function takes no arguments and returns one :class:`CaseResult` or a list of them. Decorate it with
``@case(topic=..., slow=...)`` inside one of :data:`TOPIC_MODULES`; nothing else needs registering (the
decorator only tags the function, so there is no mutable registry).
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Literal

#: Topic modules, in report order.
TOPIC_MODULES = ("device", "circuits", "architecture", "algorithm")
Verdict = Literal["pass", "fail", "info"]


@dataclass(frozen=True)
class CaseResult:
    """One compared number.

    Attributes:
        name: unique dotted name (``topic.case[.point]``).
        topic: device | circuits | architecture | algorithm.
        source: where the reference value comes from (paper, tool run, table).
        reference: the reference value, in ``unit``.
        value: cimsim's value, in ``unit``.
        unit: unit of both values.
        error: value / reference − 1 (relative error; NaN when the reference is 0 or undefined).
        tolerance: the band the verdict checks, in words (e.g. "ratio 0.5–2", "±5 %", "informational").
        verdict: ``pass``, ``fail`` or ``info`` (compared but not judged, e.g. a published claim the shipped
            workloads do not reach, or a number whose setting differs; ``note`` says why).
        note: configuration and explanation.
    """

    name: str
    topic: str
    source: str
    reference: float
    value: float
    unit: str
    error: float
    tolerance: str
    verdict: Verdict
    note: str = ""

    def to_json(self) -> dict[str, object]:
        d = asdict(self)
        for k in ("reference", "value", "error"):
            if isinstance(d[k], float) and not math.isfinite(d[k]):
                d[k] = None
        return d


def rel_error(value: float, reference: float) -> float:
    return value / reference - 1.0 if reference else math.nan


def ratio_case(name: str, topic: str, source: str, reference: float, value: float, unit: str, *,
               lo: float, hi: float, note: str = "") -> CaseResult:
    """A case that passes when lo ≤ value/reference ≤ hi."""
    ratio = value / reference if reference else math.nan
    ok = lo <= ratio <= hi
    if hi - 1 < 1e-6 and 1 - lo < 1e-6:
        tol = "exact (1e-6)"
    elif math.isclose(lo, 2 - hi):
        tol = f"±{(hi - 1) * 100:g} %"
    else:
        tol = f"ratio {lo:g}–{hi:g}"
    return CaseResult(name, topic, source, reference, value, unit, rel_error(value, reference), tol,
                      "pass" if ok else "fail", note)


def info_case(name: str, topic: str, source: str, reference: float, value: float, unit: str,
              note: str) -> CaseResult:
    """A number shown beside its reference without a verdict (the settings differ; ``note`` says how)."""
    return CaseResult(name, topic, source, reference, value, unit, rel_error(value, reference),
                      "informational", "info", note)


@dataclass(frozen=True)
class CaseInfo:
    """Tag a :func:`case` decorator leaves on a function."""

    name: str
    topic: str
    slow: bool
    func: Callable[[], CaseResult | list[CaseResult]]


def case(*, topic: str, slow: bool = False, name: str | None = None):
    """Mark a function as a validation case of ``topic``; ``slow`` cases are skipped by ``--quick``."""
    if topic not in TOPIC_MODULES:
        raise ValueError(f"unknown topic {topic!r}; one of {TOPIC_MODULES}")

    def mark(func: Callable[[], CaseResult | list[CaseResult]]):
        func.__cimsim_case__ = CaseInfo(f"{topic}.{name or func.__name__}", topic, slow, func)  # type: ignore[attr-defined]
        return func

    return mark


def discover() -> list[CaseInfo]:
    """Every case function of the topic modules, in module then source order."""
    found: list[CaseInfo] = []
    for mod_name in TOPIC_MODULES:
        mod = importlib.import_module(f"cimsim.validation.{mod_name}")
        funcs = [f for _, f in inspect.getmembers(mod, inspect.isfunction) if hasattr(f, "__cimsim_case__")]
        funcs.sort(key=lambda f: inspect.getsourcelines(f)[1])
        found.extend(f.__cimsim_case__ for f in funcs)
    return found


def select(cases: Iterable[CaseInfo], patterns: Iterable[str], *, quick: bool) -> list[CaseInfo]:
    """Cases whose name equals a pattern or starts with ``pattern + "."`` (a topic or a case); all if no
    pattern. ``quick`` drops slow cases. ValueError if a pattern matches nothing."""
    cases = list(cases)
    pats = list(patterns)
    chosen = []
    for c in cases:
        if pats and not any(c.name == p or c.name.startswith(p + ".") or c.name.split(".", 1)[1] == p
                            for p in pats):
            continue
        if quick and c.slow:
            continue
        chosen.append(c)
    for p in pats:
        if not any(c.name == p or c.name.startswith(p + ".") or c.name.split(".", 1)[1] == p for c in cases):
            raise ValueError(f"no validation case matches {p!r}; cases: {', '.join(c.name for c in cases)}")
    return chosen


def run(infos: Iterable[CaseInfo]) -> list[CaseResult]:
    """Run the cases; each returns one or more results."""
    out: list[CaseResult] = []
    for info in infos:
        r = info.func()
        out.extend(r if isinstance(r, list) else [r])
    return out


def failed(results: Iterable[CaseResult]) -> list[CaseResult]:
    return [r for r in results if r.verdict == "fail"]
