"""The component contract: area, leakage and named actions, each with an energy and a latency; the registry.

Components are pure cost models (docs/architecture.md): they never decide when or how often something happens.
A subclass declares ``kind`` (what it is: ``column_periphery``, ``dropout_source`` ...), ``model`` (the name
YAML uses) and ``Params`` (the pydantic class of its YAML section, whose ``model`` field is a ``Literal`` of
that name), and builds itself from that section with :meth:`Component.from_spec`. :func:`model_class` finds a
model by walking ``__subclasses__()``, so a new model is one class: the arch spec validates a section with
the ``Params`` of the model it names (:mod:`cimsim.spec.sections`), and the chip builds it by name
(:mod:`cimsim.hardware`). There is no mutable registry and no code outside ``components/`` switches on a
model name.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from cimsim.components import tech
from cimsim.errors import ConfigError

if TYPE_CHECKING:
    from cimsim.spec.common import Spec

# Modules holding shipped models; importing them defines their classes, which the registry then finds.
MODEL_MODULES = ("adc", "sense_amp", "crossbar", "spindrop", "lfsr", "digital", "buffer", "interconnect",
                 "controller", "array_periphery")


def _import_models() -> None:
    import importlib
    import sys

    for name in MODEL_MODULES:
        if f"cimsim.components.{name}" not in sys.modules:
            importlib.import_module(f"cimsim.components.{name}")


# The registry is the set of Component subclasses; this counter (bumped by every class definition) only
# tells the lookup memo below when that set may have changed. It caches, it decides nothing.
_REGISTRY_VERSION = 0
_MODELS_SEEN: dict[tuple[str, int], dict[str, type]] = {}


@dataclass(frozen=True)
class Action:
    """Cost of one occurrence of an action.

    Attributes:
        energy_j: dynamic energy per occurrence, J.
        latency_s: time one occurrence occupies the component, s (0 for energy-only sub-actions).
        composite: the energy is the sum of finer actions that activity counts separately (e.g. a typical
            row-group read = word lines + bit lines + conducting cells); the ledger then uses its count as
            information only and prices the finer actions. ``describe`` still shows its energy.
    """

    energy_j: float
    latency_s: float = 0.0
    composite: bool = False

    def __post_init__(self) -> None:
        # Physical sanity where the number is made: a NaN, infinite or negative cost is a model bug or a
        # nonsensical input, never something to price.
        for name in ("energy_j", "latency_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f"action {name} must be finite and >= 0, got {value!r}")

    def cycles(self, clock_hz: float) -> int:
        """Latency in whole clock cycles (rounded up; at least 1 for a timed action)."""
        if self.latency_s <= 0.0:
            return 0
        # 1e-9 relative slack keeps 1.0000000001 cycles (float noise) from becoming 2.
        return max(1, math.ceil(self.latency_s * clock_hz * (1 - 1e-9)))


@dataclass(frozen=True)
class Context:
    """Chip-wide operating point every component model is evaluated at.

    Attributes:
        node_nm: CMOS technology node, nm.
        vdd_v: logic supply voltage, V.
        temperature_k: operating temperature, K.
        clock_hz: controller clock frequency, Hz.
        periphery_devices: transistor flavour of the array periphery (``hp`` or ``lstp``,
            :mod:`cimsim.components.periphery_tech`).
    """

    node_nm: float = 28.0
    vdd_v: float = 0.9
    temperature_k: float = 300.0
    clock_hz: float = 1.0e9
    periphery_devices: str = "hp"


Quantity = Literal["area", "energy", "leakage"]


class Component(ABC):
    """A hardware block with an area (m²), a leakage power (W) and named actions."""

    kind: ClassVar[str] = ""
    model: ClassVar[str] = ""
    #: The YAML section's parameter class (None: an internal part, not selectable from YAML).
    Params: ClassVar[type[Spec] | None] = None
    ctx: Context

    @classmethod
    def from_spec(cls, params: Spec, build: Any) -> Component:
        """Build from this model's YAML section ``params`` and the chip being built (``build``: a
        :class:`cimsim.hardware.Build` with the arch, the resolved design, the context and the parts built
        so far). Raise ValueError for values this model cannot realise."""
        raise NotImplementedError(f"{cls.__name__} is not built from a YAML section")

    # -- technology scaling: the one place a characterised number moves to the chip's node and supply ----
    def scale(self, value: float, quantity: Quantity, *, ref_node_nm: float, ref_vdd_v: float = 0.8) -> float:
        """``value`` characterised at (``ref_node_nm`` nm, ``ref_vdd_v`` V), moved to ``self.ctx``.

        area: Stillmaker area factor; energy: Stillmaker energy factor × (Vdd ratio)²; leakage: area factor
        × Vdd ratio (:mod:`cimsim.components.tech`, docs/REFERENCES.md §5.2).
        """
        if quantity == "area":
            return value * tech.area_factor(ref_node_nm, self.ctx.node_nm)
        if quantity == "energy":
            return value * tech.energy_factor(ref_node_nm, self.ctx.node_nm, ref_vdd_v, self.ctx.vdd_v)
        if quantity == "leakage":
            return value * tech.leakage_factor(ref_node_nm, self.ctx.node_nm, ref_vdd_v, self.ctx.vdd_v)
        raise ValueError(f"unknown quantity {quantity!r}")

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
        """One action's cost. A component is immutable once built, so its action table is computed once."""
        table = self.__dict__.get("_action_table")
        if table is None:
            table = self.__dict__["_action_table"] = self.actions()
        try:
            return table[name]
        except KeyError:
            raise KeyError(f"{type(self).__name__} has no action {name!r}; it has {sorted(table)}") from None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        global _REGISTRY_VERSION
        _REGISTRY_VERSION += 1  # a new model class: the registry's view changes

    def cycles(self, name: str, clock_hz: float) -> int:
        """Whole clock cycles one occurrence of action ``name`` takes (a model whose action is a sequence
        of separately clocked phases overrides this to sum their cycles)."""
        return self.action(name).cycles(clock_hz)


def _all_subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_all_subclasses(sub))
    return out


def _models(kind: str) -> dict[str, type[Component]]:
    _import_models()
    key = (kind, _REGISTRY_VERSION)
    if key not in _MODELS_SEEN:
        # later definitions win, so a test can register a replacement of a shipped model
        _MODELS_SEEN[key] = {c.model: c for c in _all_subclasses(Component) if c.kind == kind and c.model}
    return _MODELS_SEEN[key]


def model_class(kind: str, model: str, *, field: str | None = None, file: str | None = None) -> type[Component]:
    """The component class of ``kind`` whose ``model`` is ``model``.

    Raises:
        ConfigError: no such model; the message lists the models of that kind.
    """
    found = _models(kind)
    if model not in found:
        raise ConfigError(f"unknown {kind} model {model!r}", file=file, field=field,
                          allowed=", ".join(sorted(found)))
    return found[model]


def model_names(kind: str, *, selectable: bool = False) -> list[str]:
    """Names of every registered model of ``kind`` (``selectable``: only those with a YAML ``Params``)."""
    return sorted(m for m, c in _models(kind).items() if not selectable or c.Params is not None)


def params_class(kind: str, model: str) -> type[Spec]:
    """The YAML parameter class of model ``model`` of ``kind``. ValueError lists the selectable models."""
    found = {m: c for m, c in _models(kind).items() if c.Params is not None}
    if model not in found:
        raise ValueError(f"unknown {kind} model {model!r} (allowed: {', '.join(sorted(found))})")
    return found[model].Params  # type: ignore[return-value]


def kinds() -> list[str]:
    """Every component kind that has at least one YAML-selectable model."""
    _import_models()
    return sorted({c.kind for c in _all_subclasses(Component) if c.kind and c.model and c.Params is not None})
