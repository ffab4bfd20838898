"""Builds the component instances of a chip from the Design and rolls up area and leakage.

Each arch section names its model; the component class of that model builds itself from the section
(:meth:`cimsim.components.base.Component.from_spec`), so nothing here knows a model's name. How many of each
block the chip has is not decided here either: the chip tree (:func:`cimsim.spec.arch.chip_tree`, built by
:mod:`cimsim.chiptree`) declares it, and every count, roll-up and power-gating set is one walk over it.

Two views of one chip, both reported (labelled) by ``describe`` and ``run``: **as built** (every provisioned
instance: each array's dropout modules) and **used by a workload** (a component that reports
``used_instances(mapping)`` counts only those: the dropout modules the mapped network wires). The run prices
the second: its area, leakage and energy are those of the chip as configured for the workload.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cimsim import chiptree
from cimsim.components import mtj
from cimsim.components.base import Component, Context, model_class
from cimsim.components.contracts import missing_members
from cimsim.errors import ConfigError
from cimsim.resolve import Design
from cimsim.spec.arch import ArchSpec, MTJSpec, chip_tree, component_sections

if TYPE_CHECKING:
    from cimsim.mapping import Mapping


def mtj_params(spec: MTJSpec, t_ref_k: float) -> mtj.MTJParams:
    """Device parameters of an MTJ spec section."""
    return mtj.MTJParams(**spec.model_dump(), t_ref_k=t_ref_k)


@dataclass
class Build:
    """What a component sees while the chip is built: the specs, the settled design, the operating point
    and the components built before it (in arch-section order), by instance name."""

    design: Design
    ctx: Context
    parts: dict[str, Component] = field(default_factory=dict)

    @property
    def arch(self) -> ArchSpec:
        return self.design.arch

    def part(self, name: str) -> Component:
        return self.parts[name]

    def mtj_params(self, which: str) -> mtj.MTJParams:
        """Parameters of the ``storage`` or ``dropout`` MTJ."""
        return mtj_params(getattr(self.arch.mtj, which), self.arch.mtj.t_ref_k)


@dataclass(frozen=True)
class Instance:
    """``count`` identical copies of ``component`` on the chip, under the name reports use."""

    name: str
    component: Component
    count: int


@dataclass
class Hardware:
    """The chip: its built tree, every component instance (as used by the mapping it was built for, else as
    built), its operating point and the design it came from."""

    design: Design
    ctx: Context
    tree: chiptree.Node
    instances: dict[str, Instance] = field(default_factory=dict)
    as_built: dict[str, Instance] = field(default_factory=dict)
    _events: dict[str, list[str]] = field(default_factory=dict, repr=False)  # memo of event_keys (the tree is fixed)

    @property
    def arch(self) -> ArchSpec:
        return self.design.arch

    @property
    def arrays(self) -> int:
        return self.instances["crossbar"].count

    def component(self, name: str) -> Any:
        return self.instances[name].component

    @property
    def levels(self) -> int:
        """Output codes of the column periphery."""
        return self.component("column_periphery").levels

    def has(self, name: str) -> bool:
        """Whether the chip has instances named ``name`` (e.g. a column mux only when converters are shared)."""
        return name in self.instances

    def event_keys(self, event: str) -> list[str]:
        """The ``"instance.action"`` count keys one array-level ``event`` fires (:mod:`cimsim.components.contracts`)."""
        keys = self._events.get(event)
        if keys is None:
            keys = self._events[event] = chiptree.event_keys(self.tree, event)
        return keys

    def area_breakdown_m2(self, view: dict[str, Instance] | None = None) -> dict[str, float]:
        return {n: i.count * i.component.area_m2() for n, i in (view or self.instances).items()}

    def area_m2(self, view: dict[str, Instance] | None = None) -> float:
        return math.fsum(self.area_breakdown_m2(view).values())

    def leakage_breakdown_w(self, view: dict[str, Instance] | None = None) -> dict[str, float]:
        return {n: i.count * i.component.leakage_w() for n, i in (view or self.instances).items()}

    def leakage_w(self, view: dict[str, Instance] | None = None) -> float:
        return math.fsum(self.leakage_breakdown_w(view).values())

    def active_leakage_breakdown_w(self, tiles_used: int) -> dict[str, float]:
        """Leakage while running on ``tiles_used`` tiles: all of it, or with ``chip.power_gate_unused`` only
        the instances inside used tiles (the tree's gated containers) plus the chip-level ones."""
        full = self.leakage_breakdown_w()
        if not self.arch.chip.power_gate_unused:
            return full
        gated = chiptree.gated_names(self.tree)
        frac = min(1.0, tiles_used / self.arch.chip.tiles)
        return {n: w * (frac if n in gated else 1.0) for n, w in full.items()}

    def cycles(self, name: str, action: str) -> int:
        return self.component(name).cycles(action, self.ctx.clock_hz)

    def views(self) -> dict[str, dict[str, Any]]:
        """Area, leakage and instance counts of the chip as built and as used by the workload, labelled."""
        def view(inst: dict[str, Instance]) -> dict[str, Any]:
            return {"area_m2": self.area_m2(inst), "leakage_w": self.leakage_w(inst),
                    "instances": {n: i.count for n, i in inst.items()}}

        return {"chip_as_built": view(self.as_built), "used_by_workload": view(self.instances)}

    def describe(self) -> dict[str, Any]:
        """The JSON document ``cimsim describe`` prints (numbers of the chip as built; ``views`` adds the
        chip as used by the workload it was built for, when there is one)."""
        comps = []
        for inst in self.as_built.values():
            c = inst.component
            comps.append({
                "name": inst.name, "model": c.model, "instances": inst.count,
                "area_m2": c.area_m2(), "leakage_w": c.leakage_w(),
                # c.action(a): the action as the engine times it (a converter's includes its mux select)
                "actions": {a: {"energy_j": c.action(a).energy_j, "latency_s": c.action(a).latency_s,
                                "latency_cycles": c.cycles(a, self.ctx.clock_hz)}
                            for a in c.actions()},
            })
        src = self.component("dropout_source")
        views = self.views()
        if self.design.workload is None:
            views["used_by_workload"] = None
        return {"name": self.arch.name, "area_m2": self.area_m2(self.as_built),
                "area_breakdown_m2": self.area_breakdown_m2(self.as_built),
                "leakage_w": self.leakage_w(self.as_built), "clock_hz": self.ctx.clock_hz,
                "arrays": self.arrays, "column_levels": self.levels,
                "containers": chiptree.container_counts(self.tree), "views": views,
                "dropout": {"granularity": self.design.granularity, "trained_p": self.design.trained_p,
                            "hardware_p": self.design.hardware_p, "realized_p": src.p_realized,
                            "operating_point": src.operating_point()},
                "components": comps}


def _check(comp: Component) -> None:
    missing = missing_members(comp)
    if missing:
        raise ValueError(f"the {comp.kind} contract needs {', '.join(missing)}")
    # every cost is checked where it is made (Action), area and leakage here
    if not (math.isfinite(comp.area_m2()) and comp.area_m2() >= 0 and math.isfinite(comp.leakage_w())
            and comp.leakage_w() >= 0):
        raise ValueError("area and leakage must be finite and >= 0")
    comp.actions()


def _instances(tree: chiptree.Node, components: dict[str, Component], used: Any) -> dict[str, Instance]:
    """Instances in arch-section order, each component's parts right after it."""
    counts = chiptree.instance_counts(tree, used)
    out: dict[str, Instance] = {}
    for name, comp in components.items():
        for n, c in ((name, comp), *((p, pc) for p, (pc, _) in comp.parts().items())):
            if n in counts:
                out[n] = Instance(n, c, counts[n])
    return out


def build_hardware(design: Design, mapping: Mapping | None = None) -> Hardware:
    """Instantiate every component of ``design.arch`` and place them in the chip tree.

    Args:
        design: the settled design (:func:`cimsim.resolve.resolve`).
        mapping: the network's placement; when given, :attr:`Hardware.instances` is the chip as used by it
            (the dropout modules it wires), else the chip as built.

    Raises:
        ConfigError: a section's values are out of what its model can realise, or its model misses a member
            of its kind's contract (names the section).
    """
    arch = design.arch
    ctx = Context(node_nm=arch.technology.node_nm, vdd_v=arch.technology.vdd_v,
                  temperature_k=arch.technology.temperature_k, clock_hz=arch.clock.frequency_hz,
                  periphery_devices=arch.technology.periphery_devices)
    b = Build(design=design, ctx=ctx)
    decl = chip_tree(arch)
    names = {n.section: n.name for n in _declared(decl) if n.section is not None}
    for section, meta in component_sections().items():
        params = getattr(arch, section)
        cls = model_class(meta.kind, params.model, field=f"{section}.model", file=design.arch_file)
        try:
            comp = cls.from_spec(params, b)
            _check(comp)
        except (ValueError, ArithmeticError) as exc:
            raise ConfigError(f"{cls.__name__}: {exc}", file=design.arch_file, field=section) from None
        b.parts[names[section]] = comp
    tree = chiptree.build_tree(decl, b.parts)
    as_built = _instances(tree, b.parts, None)
    used = _instances(tree, b.parts, mapping) if mapping is not None else as_built
    return Hardware(design=design, ctx=ctx, tree=tree, instances=used, as_built=as_built)


def _declared(node: Any) -> list[Any]:
    return [node, *(d for c in node.children for d in _declared(c))]
