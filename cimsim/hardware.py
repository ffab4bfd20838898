"""Builds the component instances of a chip from the Design and rolls up area and leakage.

The chip is the hardware you pay for: area and leakage count every provisioned instance, whether or not a
workload uses it (utilization is reported by the mapping). Each arch section names its model; the component
class of that model builds itself from the section (:meth:`cimsim.components.base.Component.from_spec`), so
nothing here knows a model's name. This module decides only *how many* of each block the chip has.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cimsim.components import mtj
from cimsim.components.base import Component, Context, model_class
from cimsim.errors import ConfigError
from cimsim.resolve import Design
from cimsim.spec.arch import ArchSpec, MTJSpec, component_sections

if TYPE_CHECKING:
    from cimsim.mapping import Mapping


def mtj_params(spec: MTJSpec, t_ref_k: float) -> mtj.MTJParams:
    """Device parameters of an MTJ spec section."""
    return mtj.MTJParams(**spec.model_dump(), t_ref_k=t_ref_k)


@dataclass
class Build:
    """What a component sees while the chip is built: the specs, the settled design, the operating point
    and the parts built before it (in :data:`BUILD_ORDER`)."""

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


def _modules(design: Design, parts: dict[str, Component], mapping: Mapping | None) -> int:
    """Dropout modules on the chip: those the mapped network uses (every copy), or, for a chip described
    without a workload, one per ``rows_per_module`` rows of every array (``layer_scale``: one per chip)."""
    if mapping is not None:
        return sum(lm.modules for lm in mapping.layers) * mapping.replicas
    if design.granularity == "layer_scale":
        return 1
    xb = parts["crossbar"]
    arrays = design.arch.chip.tiles * design.arch.chip.arrays_per_tile
    return arrays * math.ceil(xb.rows / design.arch.spindrop.rows_per_module)


def _arrays(d: Design) -> int:
    return d.arch.chip.tiles * d.arch.chip.arrays_per_tile


#: instance name → how many the chip has (design, parts built so far, mapping or None), in build order.
COUNTS: dict[str, Callable[[Design, dict[str, Component], Any], int]] = {
    "crossbar": lambda d, p, m: _arrays(d),
    "column_periphery": lambda d, p, m: _arrays(d) * math.ceil(p["crossbar"].cols
                                                             / p["column_periphery"].columns_per_converter),
    "dropout_source": _modules,
    "accumulator": lambda d, p, m: _arrays(d) * p["crossbar"].cols,
    "adder_tree": lambda d, p, m: d.arch.chip.tiles * p["crossbar"].cols,
    "comparator": lambda d, p, m: d.arch.chip.tiles * p["crossbar"].cols,
    "local_buffer": lambda d, p, m: d.arch.chip.tiles,
    "global_buffer": lambda d, p, m: 1,
    "interconnect": lambda d, p, m: p["interconnect"].channels,
    "controller": lambda d, p, m: 1,
}
#: instance name → the arch section it is built from, where they differ (the YAML keeps the design's name).
SECTION_OF_INSTANCE = {"dropout_source": "spindrop"}
#: Components that live in tiles (power-gated with their tile); the rest are chip-level.
PER_TILE = frozenset({"crossbar", "column_periphery", "dropout_source", "accumulator", "adder_tree", "comparator",
                      "local_buffer", "array_lines", "row_decoder", "wordline_driver", "precharge", "write_driver",
                      "column_mux"})


@dataclass(frozen=True)
class Instance:
    """``count`` identical copies of ``component`` on the chip, under the name reports use."""

    name: str
    component: Component
    count: int


@dataclass
class Hardware:
    """The chip: every component instance, its operating point and the design it came from."""

    design: Design
    ctx: Context
    instances: dict[str, Instance] = field(default_factory=dict)

    @property
    def arch(self) -> ArchSpec:
        return self.design.arch

    @property
    def arrays(self) -> int:
        return _arrays(self.design)

    def component(self, name: str) -> Any:
        return self.instances[name].component

    @property
    def levels(self) -> int:
        """Output codes of the column periphery."""
        return self.component("column_periphery").levels

    def has(self, name: str) -> bool:
        """Whether the chip has instances named ``name`` (e.g. a column mux only when converters are shared)."""
        return name in self.instances

    def area_breakdown_m2(self) -> dict[str, float]:
        return {n: i.count * i.component.area_m2() for n, i in self.instances.items()}

    def area_m2(self) -> float:
        return math.fsum(self.area_breakdown_m2().values())

    def leakage_breakdown_w(self) -> dict[str, float]:
        return {n: i.count * i.component.leakage_w() for n, i in self.instances.items()}

    def leakage_w(self) -> float:
        return math.fsum(self.leakage_breakdown_w().values())

    def active_leakage_breakdown_w(self, tiles_used: int) -> dict[str, float]:
        """Leakage while running on ``tiles_used`` tiles: all of it, or with ``chip.power_gate_unused`` only
        the per-tile components of used tiles plus the chip-level ones."""
        full = self.leakage_breakdown_w()
        if not self.arch.chip.power_gate_unused:
            return full
        frac = min(1.0, tiles_used / self.arch.chip.tiles)
        return {n: w * (frac if n in PER_TILE else 1.0) for n, w in full.items()}

    def cycles(self, name: str, action: str) -> int:
        return self.component(name).cycles(action, self.ctx.clock_hz)

    def describe(self) -> dict[str, Any]:
        """The JSON document ``cimsim describe`` prints."""
        comps = []
        for inst in self.instances.values():
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
        return {"name": self.arch.name, "area_m2": self.area_m2(), "area_breakdown_m2": self.area_breakdown_m2(),
                "leakage_w": self.leakage_w(), "clock_hz": self.ctx.clock_hz,
                "arrays": self.arrays, "column_levels": self.levels,
                "dropout": {"granularity": self.design.granularity, "trained_p": self.design.trained_p,
                            "hardware_p": self.design.hardware_p, "realized_p": src.p_realized,
                            **({"operating_point": src.operating_point()}
                               if hasattr(src, "operating_point") else {})},
                "components": comps}


def build_hardware(design: Design, mapping: Mapping | None = None) -> Hardware:
    """Instantiate every component of ``design.arch``.

    Args:
        design: the settled design (:func:`cimsim.resolve.resolve`).
        mapping: the network's placement; when given, the chip carries the dropout modules it uses.

    Raises:
        ConfigError: a section's values are out of what its model can realise (names the section).
    """
    arch = design.arch
    ctx = Context(node_nm=arch.technology.node_nm, vdd_v=arch.technology.vdd_v,
                  temperature_k=arch.technology.temperature_k, clock_hz=arch.clock.frequency_hz,
                  periphery_devices=arch.technology.periphery_devices)
    b = Build(design=design, ctx=ctx)
    sections = component_sections()
    instances: dict[str, Instance] = {}
    for name, count in COUNTS.items():
        section = SECTION_OF_INSTANCE.get(name, name)
        params = getattr(arch, section)
        cls = model_class(sections[section].kind, params.model, field=f"{section}.model", file=design.arch_file)
        try:
            comp = cls.from_spec(params, b)
            b.parts[name] = comp
            n = count(design, b.parts, mapping)
            # every cost is checked where it is made (Action), area and leakage here
            if not (math.isfinite(comp.area_m2()) and comp.area_m2() >= 0 and math.isfinite(comp.leakage_w())
                    and comp.leakage_w() >= 0):
                raise ValueError("area and leakage must be finite and >= 0")
            comp.actions()
        except (ValueError, ArithmeticError) as exc:
            raise ConfigError(f"{cls.__name__}: {exc}", file=design.arch_file, field=section) from None
        instances[name] = Instance(name, comp, n)
        # blocks a component is built with (array periphery, column muxes): their own rows in every report
        for part, (pc, per) in getattr(comp, "parts", {}).items():
            instances[part] = Instance(part, pc, n * per)
    return Hardware(design=design, ctx=ctx, instances=instances)
