"""The component contract: area, leakage and named actions, each with an energy and a latency.

Components are pure cost models (DESIGN.md §2): they never decide when or how often something happens.
A subclass declares ``kind`` (what it is: ``adc``, ``sense_amp`` ...) and ``model`` (the name YAML uses);
:func:`model_class` finds it by walking ``__subclasses__()``, so a new model is one class and there is
no mutable registry.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from cimsim.errors import ConfigError

# Modules holding shipped models; importing them defines their classes, which the registry then finds.
MODEL_MODULES = ("adc", "sense_amp", "crossbar", "spindrop", "lfsr", "digital", "buffer", "interconnect",
                 "controller", "array_periphery")


def _import_models() -> None:
    import importlib

    for name in MODEL_MODULES:
        importlib.import_module(f"cimsim.components.{name}")


@dataclass(frozen=True)
class Action:
    """Cost of one occurrence of an action.

    Attributes:
        energy_j: dynamic energy per occurrence, J.
        latency_s: time one occurrence occupies the component, s (0 for energy-only sub-actions).
    """

    energy_j: float
    latency_s: float = 0.0

    def cycles(self, clock_hz: float) -> int:
        """Latency in whole clock cycles (rounded up; at least 1 for a timed action)."""
        if self.latency_s <= 0.0:
            return 0
        # 1e-9 relative slack keeps 1.0000000001 cycles (float noise) from becoming 2.
        return max(1, math.ceil(self.latency_s * clock_hz * (1 - 1e-9)))


class Component(ABC):
    """A hardware block with an area (m²), a leakage power (W) and named actions."""

    kind: ClassVar[str] = ""
    model: ClassVar[str] = ""

    @abstractmethod
    def area_m2(self) -> float:
        """Silicon area of one instance, m²."""

    @abstractmethod
    def leakage_w(self) -> float:
        """Static power of one instance, W."""

    @abstractmethod
    def actions(self) -> dict[str, Action]:
        """Every action this component performs, by name."""

    def action(self, name: str) -> Action:
        try:
            return self.actions()[name]
        except KeyError:
            raise KeyError(f"{type(self).__name__} has no action {name!r}; it has {sorted(self.actions())}") from None


def _all_subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_all_subclasses(sub))
    return out


def model_class(kind: str, model: str, *, field: str | None = None, file: str | None = None) -> type[Component]:
    """The component class of ``kind`` whose ``model`` is ``model``.

    Raises:
        ConfigError: no such model; the message lists the models of that kind.
    """
    _import_models()
    found = {c.model: c for c in _all_subclasses(Component) if c.kind == kind and c.model}
    if model not in found:
        raise ConfigError(f"unknown {kind} model {model!r}", file=file, field=field,
                          allowed=", ".join(sorted(found)))
    return found[model]


def model_names(kind: str) -> list[str]:
    """Names of every registered model of ``kind``."""
    _import_models()
    return sorted({c.model for c in _all_subclasses(Component) if c.kind == kind and c.model})


@dataclass(frozen=True)
class Context:
    """Chip-wide operating point every component model is evaluated at.

    Attributes:
        node_nm: CMOS technology node, nm.
        vdd_v: logic supply voltage, V.
        temperature_k: operating temperature, K.
        clock_hz: controller clock frequency, Hz.
    """

    node_nm: float = 28.0
    vdd_v: float = 0.9
    temperature_k: float = 300.0
    clock_hz: float = 1.0e9
