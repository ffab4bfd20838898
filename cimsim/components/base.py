"""The component contract: area, leakage and named actions, each with an energy and a latency; the registry.

Components are pure cost models (docs/architecture.md): they never decide when or how often something happens.
A model class declares ``kind`` (the slot it fills: ``column_periphery``, ``dropout_source`` ...), ``model``
(the name YAML uses), ``Params`` (the pydantic class of its YAML section, whose ``model`` field is a
``Literal`` of that name) and ``ACTIONS`` (the names of its actions, each also a class constant), builds itself
from that section with :meth:`Component.from_spec`, and is registered with the :func:`register` decorator. The
registry is one explicit table (kind → model → class): the arch spec validates a section with the ``Params``
of the model it names (:mod:`cimsim.spec.sections`) and the chip builds it by name (:mod:`cimsim.hardware`).
The shipped models live in the modules :data:`cimsim.components.SHIPPED_MODULES` names (imported on the
first lookup); a model defined anywhere else (a test, a plug-in) is registered when its module runs the
decorator, and :func:`unregister` / :func:`registered` take it out again. No code outside ``components/``
switches on a model name.

Each kind's contract (the attributes and methods the rest of the simulator reads) is a ``typing.Protocol`` in
:mod:`cimsim.components.contracts`; :func:`register` refuses a class that lacks a member of its kind's
contract, so a model that would fail at ledger time fails where it is defined.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from cimsim.components import tech
from cimsim.errors import ConfigError

if TYPE_CHECKING:
    from cimsim.spec.common import Spec

C = TypeVar("C", bound=type)

#: kind → model → class. Filled by :func:`register` only.
_REGISTRY: dict[str, dict[str, type[Component]]] = {}


def register(cls: C) -> C:
    """Class decorator: make ``cls`` the model ``cls.model`` of kind ``cls.kind`` (a later registration of the
    same name replaces the earlier one, so a test can stand in for a shipped model; :func:`unregister` undoes it).

    Raises:
        TypeError: ``cls`` declares no kind or model, or lacks a member of its kind's contract.
    """
    if not (getattr(cls, "kind", "") and getattr(cls, "model", "")):
        raise TypeError(f"{cls.__name__}: a registered model declares `kind` and `model`")
    from cimsim.components.contracts import check_contract

    check_contract(cls)
    _REGISTRY.setdefault(cls.kind, {})[cls.model] = cls
    return cls


def unregister(cls: type) -> None:
    """Remove ``cls`` from the registry (no-op when another class holds its name)."""
    models = _REGISTRY.get(getattr(cls, "kind", ""), {})
    if models.get(getattr(cls, "model", "")) is cls:
        del models[cls.model]


@contextmanager
def registered(cls: C) -> Iterator[C]:
    """Register ``cls`` for the duration of a ``with`` block, restoring whatever model held its name."""
    before = _REGISTRY.get(cls.kind, {}).get(cls.model)
    register(cls)
    try:
        yield cls
    finally:
        unregister(cls)
        if before is not None:
            _REGISTRY[cls.kind][cls.model] = before


def _models(kind: str) -> dict[str, type[Component]]:
    from cimsim.components import load_shipped

    load_shipped()
    return _REGISTRY.get(kind, {})


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
    """A hardware block with an area (m²), a leakage power (W) and named actions.

    Technology scaling: a model characterised at one node and supply declares them as ``REF_NODE_NM`` and
    ``REF_VDD_V``; :attr:`energy_factor`, :attr:`area_factor` and :attr:`leakage_factor` then move its numbers
    to ``self.ctx`` (computed here once, for every model). Parts: a component built with blocks of its own
    (the array's periphery) lists them in :meth:`parts`; they are children of its node in the chip tree.
    """

    kind: ClassVar[str] = ""
    model: ClassVar[str] = ""
    #: The YAML section's parameter class (None: an internal part, not selectable from YAML).
    Params: ClassVar[type[Spec] | None] = None
    #: Names of the actions :meth:`actions` returns.
    ACTIONS: ClassVar[tuple[str, ...]] = ()
    #: Array-level events (:mod:`cimsim.components.contracts`) that fire one of its actions: event → action.
    TRIGGERS: ClassVar[dict[str, str]] = {}
    #: Node (nm) and supply (V) the model's numbers were characterised at (None: not a scaled model).
    REF_NODE_NM: ClassVar[float | None] = None
    REF_VDD_V: ClassVar[float] = 0.8
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

    def _factor(self, quantity: Quantity) -> float:
        if self.REF_NODE_NM is None:
            raise TypeError(f"{type(self).__name__} declares no REF_NODE_NM to scale from")
        return self.scale(1.0, quantity, ref_node_nm=self.REF_NODE_NM, ref_vdd_v=self.REF_VDD_V)

    @cached_property
    def energy_factor(self) -> float:
        """Energy of this model's characterisation moved to ``ctx`` (× per J)."""
        return self._factor("energy")

    @cached_property
    def area_factor(self) -> float:
        """Area of this model's characterisation moved to ``ctx`` (× per m²)."""
        return self._factor("area")

    @cached_property
    def leakage_factor(self) -> float:
        """Leakage of this model's characterisation moved to ``ctx`` (× per W)."""
        return self._factor("leakage")

    @abstractmethod
    def area_m2(self) -> float:
        """Silicon area of one instance, m²."""

    @abstractmethod
    def leakage_w(self) -> float:
        """Static power of one instance, W."""

    @abstractmethod
    def actions(self) -> dict[str, Action]:
        """Every action this component performs, by name (the names of :attr:`ACTIONS`)."""

    def parts(self) -> dict[str, tuple[Component, int]]:
        """Blocks this component is built with: part name → (component, instances per instance of this one)."""
        return {}

    def used_instances(self, mapping: Any) -> int | None:
        """Instances a mapped workload uses, when that differs from the chip as built (None: as built)."""
        return None

    def action(self, name: str) -> Action:
        """One action's cost. A component is immutable once built, so its action table is computed once."""
        table = self.__dict__.get("_action_table")
        if table is None:
            table = self.__dict__["_action_table"] = self.actions()
        try:
            return table[name]
        except KeyError:
            raise KeyError(f"{type(self).__name__} has no action {name!r}; it has {sorted(table)}") from None

    def cycles(self, name: str, clock_hz: float) -> int:
        """Whole clock cycles one occurrence of action ``name`` takes (a model whose action is a sequence
        of separately clocked phases overrides this to sum their cycles)."""
        return self.action(name).cycles(clock_hz)


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
    _models("")
    return sorted(k for k, models in _REGISTRY.items() if any(c.Params is not None for c in models.values()))
