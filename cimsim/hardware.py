"""Builds the component instances of a chip from an arch spec and rolls up area and leakage.

The chip is the hardware you pay for: area and leakage count every provisioned instance, whether or not a
workload uses it (utilization is reported by the mapping).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from cimsim.components import mtj
from cimsim.components.base import Component, Context, model_class
from cimsim.components.cell import CellGeometry
from cimsim.components.crossbar import Crossbar
from cimsim.errors import ConfigError
from cimsim.spec.arch import ArchSpec, MTJSpec

# When neither the arch (spindrop.target_p) nor a workload gives p, describe the module at p = 0.2,
# the default knob of SPINDROP.md ("dropout probability p ... default 0.2").
DEFAULT_DESCRIBE_P = 0.2
# Components that live in tiles (power-gated with their tile); the rest are chip-level.
PER_TILE = frozenset({"crossbar", "column_periphery", "dropout_source", "accumulator", "adder_tree", "comparator",
                      "local_buffer"})


def mtj_params(spec: MTJSpec, t_ref_k: float) -> mtj.MTJParams:
    """Device parameters of an MTJ spec section."""
    return mtj.MTJParams(**spec.model_dump(), t_ref_k=t_ref_k)


@dataclass(frozen=True)
class Instance:
    """``count`` identical copies of ``component`` on the chip, under the name reports use."""

    name: str
    component: Component
    count: int


@dataclass
class Hardware:
    """The chip: every component instance, its operating point and the spec it came from."""

    arch: ArchSpec
    ctx: Context
    instances: dict[str, Instance] = field(default_factory=dict)
    levels: int = 0
    converters_per_array: int = 0
    modules_per_array: int = 0
    dropout_p: float = DEFAULT_DESCRIBE_P

    @property
    def arrays(self) -> int:
        return self.arch.chip.tiles * self.arch.chip.arrays_per_tile

    def component(self, name: str) -> Component:
        return self.instances[name].component

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
        return self.component(name).action(action).cycles(self.ctx.clock_hz)

    def describe(self) -> dict[str, Any]:
        """The JSON document ``cimsim describe`` prints."""
        comps = []
        for inst in self.instances.values():
            c = inst.component
            comps.append({
                "name": inst.name, "model": c.model, "count": inst.count,
                "area_m2": c.area_m2(), "leakage_w": c.leakage_w(),
                "actions": {a: {"energy_j": act.energy_j, "latency_s": act.latency_s,
                                "latency_cycles": act.cycles(self.ctx.clock_hz)}
                            for a, act in c.actions().items()},
            })
        return {"name": self.arch.name, "area_m2": self.area_m2(), "area_breakdown_m2": self.area_breakdown_m2(),
                "leakage_w": self.leakage_w(), "clock_hz": self.ctx.clock_hz,
                "arrays": self.arrays, "column_levels": self.levels, "dropout_p": self.dropout_p,
                "components": comps}


def column_levels(arch: ArchSpec, file: str | None = None) -> int:
    """Output codes of the column periphery."""
    cp = arch.column_periphery
    model_class("column_periphery", cp.model, field="column_periphery.model", file=file)
    if cp.model == "mlsa":
        return cp.levels if cp.levels is not None else 2 * arch.crossbar.rows_active + 1
    if cp.model == "sense_amp":
        if cp.levels not in (None, 2) or cp.bits not in (None, 1):
            raise ConfigError("a 1-bit sense_amp has exactly 2 levels", file=file, field="column_periphery.levels")
        return 2
    if cp.bits is None:
        raise ConfigError(f"the {cp.model} converter needs bits", file=file, field="column_periphery.bits",
                          allowed="1..12")
    return 2 ** cp.bits


def build_hardware(arch: ArchSpec, *, dropout_p: float | None = None, file: str | None = None) -> Hardware:
    """Instantiate every component of ``arch``.

    Args:
        arch: validated architecture.
        dropout_p: the workload's trained drop probability (used when ``spindrop.target_p`` is unset).
        file: the arch file, for error messages.
    """
    ctx = Context(node_nm=arch.technology.node_nm, vdd_v=arch.technology.vdd_v,
                  temperature_k=arch.technology.temperature_k, clock_hz=arch.clock.frequency_hz)
    xb, cp, sd, ch = arch.crossbar, arch.column_periphery, arch.spindrop, arch.chip
    storage = mtj_params(arch.mtj.storage, arch.mtj.t_ref_k)
    dropout_dev = mtj_params(arch.mtj.dropout, arch.mtj.t_ref_k)
    cell = CellGeometry(arch.cell.type, arch.cell.area_f2_per_device, ctx.node_nm)
    r_lrs = mtj.r_p_ohm(storage) + arch.cell.r_access_ohm
    r_hrs = float(mtj.r_ap_ohm(storage, xb.read_voltage_v)) + arch.cell.r_access_ohm
    crossbar = Crossbar(ctx, rows=xb.rows, cols=xb.cols, rows_active=xb.rows_active, cell=cell,
                        r_lrs_ohm=r_lrs, r_hrs_ohm=r_hrs, read_voltage_v=xb.read_voltage_v,
                        read_pulse_s=xb.read_pulse_s, wire_cap_f_per_m=xb.wire_cap_f_per_m,
                        write_current_a=arch.cell.write_current_a, write_pulse_s=arch.cell.write_pulse_s)
    levels = column_levels(arch, file)
    conv_cls = model_class("column_periphery", cp.model, field="column_periphery.model", file=file)
    try:
        converter = conv_cls(ctx, levels=levels, sample_rate_hz=cp.sample_rate_hz or ctx.clock_hz,
                             column_resistance_ohm=0.5 * (r_lrs + r_hrs) / xb.rows_active,
                             read_voltage_v=xb.read_voltage_v)
    except ValueError as exc:
        raise ConfigError(str(exc), file=file, field="column_periphery") from None
    converters_per_array = math.ceil(xb.cols / cp.columns_per_converter)

    p = sd.target_p if sd.target_p is not None else (dropout_p if dropout_p is not None else DEFAULT_DESCRIBE_P)
    src_cls = model_class("dropout_source", sd.model, field="spindrop.model", file=file)
    try:
        if sd.model == "mtj_spindrop":
            source = src_cls(ctx, device=dropout_dev, target_p=p, write_current_a=sd.write_current_a,
                             write_pulse_s=sd.write_pulse_s, reset_current_a=sd.reset_current_a,
                             reset_pulse_s=sd.reset_pulse_s, reset_policy=sd.reset_policy,
                             read_voltage_v=sd.read_voltage_v, read_pulse_s=sd.read_pulse_s)
        else:
            source = src_cls(ctx, lfsr_bits=sd.lfsr_bits, comparator_bits=sd.comparator_bits)
    except ValueError as exc:
        raise ConfigError(str(exc), file=file, field="spindrop") from None
    arrays = ch.tiles * ch.arrays_per_tile
    if sd.granularity == "layer_scale":
        modules_per_array, modules = 0, 1  # Scale-Dropout: one stochastic unit for the whole model
    else:
        modules_per_array = math.ceil(xb.rows / sd.rows_per_module)
        modules = arrays * modules_per_array

    acc_bits = arch.digital.accumulator_bits
    bus = arch.interconnect
    inst = [
        Instance("crossbar", crossbar, arrays),
        Instance("column_periphery", converter, arrays * converters_per_array),
        Instance("dropout_source", source, modules),
        Instance("accumulator", model_class("accumulator", "aladdin")(ctx, bits=acc_bits), arrays * xb.cols),
        Instance("adder_tree", model_class("adder_tree", "aladdin")(ctx, inputs=max(2, ch.arrays_per_tile),
                                                                    bits=acc_bits), ch.tiles * xb.cols),
        Instance("comparator", model_class("comparator", "aladdin")(ctx, bits=acc_bits), ch.tiles * xb.cols),
        Instance("local_buffer", model_class("buffer", "sram")(ctx, size_bytes=arch.buffer.local_kib * 1024,
                                                               port_width_bits=arch.buffer.port_width_bits,
                                                               ports=arch.buffer.ports), ch.tiles),
        Instance("global_buffer", model_class("buffer", "sram")(ctx, size_bytes=arch.buffer.global_kib * 1024,
                                                                port_width_bits=arch.buffer.port_width_bits,
                                                                ports=arch.buffer.ports), 1),
        Instance("interconnect", model_class("interconnect", "wire_bus")(ctx, width_bits=bus.bus_width_bits,
                                                                         length_m=bus.hop_length_m), bus.channels),
        Instance("controller", model_class("controller", "fsm")(ctx), 1),
    ]
    return Hardware(arch=arch, ctx=ctx, instances={i.name: i for i in inst}, levels=levels,
                    converters_per_array=converters_per_array, modules_per_array=modules_per_array,
                    dropout_p=p)
