"""On-chip SRAM buffer: Horowitz 45 nm energy per bit and an NVMExplorer F²-based cell area."""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from cimsim.components import tech
from cimsim.components.base import Action, Component, Context, register
from cimsim.spec.common import Arbitration, Spec


class SRAMBufferParams(Spec):
    """An SRAM buffer section (``local_buffer``: one per tile; ``global_buffer``: one per chip)."""

    model: Literal["sram"] = "sram"
    size_kib: float = Field(gt=0, le=1048576, description="capacity, KiB")
    port_width_bits: int = Field(default=128, ge=8, le=4096, description="bits per buffer access")
    ports: int = Field(default=1, ge=1, le=16, description="access ports (a contended resource in the engine)")
    arbitration: Arbitration = Field(
        default="fixed_priority", description="who gets a free port when writes ask in the same cycle: "
                                              "fixed_priority (lowest replica, job, layer name), round_robin or "
                                              "fcfs (docs/timing.md, Arbitration)")

#: SRAM read energy per bit vs array size at 45 nm, 0.9 V: 8 KB → 10 pJ / 64 b, 32 KB → 20 pJ / 64 b,
#: 1 MB → 100 pJ / 64 b [lit: Horowitz, "Computing's energy problem", ISSCC 2014,
#: doi 10.1109/ISSCC.2014.6757323, via REFERENCES §5.1]. Sizes in bytes, energies in J/bit.
HOROWITZ_SIZES_B: tuple[float, ...] = (8 * 1024.0, 32 * 1024.0, 1024 * 1024.0)
HOROWITZ_E_PER_BIT_J: tuple[float, ...] = (10e-12 / 64, 20e-12 / 64, 100e-12 / 64)
HOROWITZ_NODE_NM = 45.0
HOROWITZ_VDD_V = 0.9
#: Write energy / read energy [assumed: Horowitz gives reads only; small-array SRAM writes are of the
#: same order as reads (bit-line swing is full in both cases)].
WRITE_TO_READ = 1.0
#: SRAM bit-cell area, F² [code: lpentecost/NVMExplorer nvmexplorer_src/tentpoles.py SRAM tentpole 146 F²].
SRAM_CELL_F2 = 146.0
#: Array efficiency (cell area / macro area) [assumed: typical compiled SRAM macros are 60-80 % cells; 0.7
#: charges decoders, sense amps, I/O and redundancy as 43 % on top of the cells].
ARRAY_EFFICIENCY = 0.7
#: Area growth per extra port [assumed: a second port turns the 6T into an 8T cell plus duplicated word
#: lines / periphery, ≈ +50 %].
EXTRA_PORT_AREA = 0.5
#: Cell leakage at 45 nm, 0.9 V, W/bit [assumed: ~50 pA per 6T cell on a general-purpose process; LP
#: processes are ~10× lower]. Scaled with tech.leakage_factor.
LEAK_PER_BIT_W_45NM = 50e-12


def horowitz_energy_per_bit_j(size_bytes: float) -> float:
    """Read energy per bit at 45 nm / 0.9 V, J: log-log interpolation in size; outside 8 KB-1 MB the end
    segment's power law is extended [assumed]."""
    xs = np.log(np.asarray(HOROWITZ_SIZES_B))
    ys = np.log(np.asarray(HOROWITZ_E_PER_BIT_J))
    x = math.log(size_bytes)
    if x < xs[0]:
        slope = (ys[1] - ys[0]) / (xs[1] - xs[0])
        return float(math.exp(ys[0] + slope * (x - xs[0])))
    if x > xs[-1]:
        slope = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
        return float(math.exp(ys[-1] + slope * (x - xs[-1])))
    return float(math.exp(np.interp(x, xs, ys)))


@register
class SRAMBuffer(Component):
    """SRAM buffer of ``size_bytes`` bytes with ``ports`` ports of ``port_width_bits`` bits.

    * read / write (one port-width access): port_width_bits · E_bit(size) · energy_factor(45, node, 0.9,
      vdd), J; latency one clock cycle, s [assumed: buffers are sized / banked to be single-cycle]
    * area = size_bytes · 8 · 146 · F²(node) / 0.7 · (1 + 0.5 · (ports − 1)), m²
    * leakage = size_bytes · 8 · 50 pW · leakage_factor(45, node, 0.9, vdd), W
    """

    kind: ClassVar[str] = "buffer"
    model: ClassVar[str] = "sram"
    Params = SRAMBufferParams
    READ, WRITE = "read", "write"
    ACTIONS = (READ, WRITE)

    @classmethod
    def from_spec(cls, params: SRAMBufferParams, build: Any) -> SRAMBuffer:
        return cls(build.ctx, size_bytes=params.size_kib * 1024, port_width_bits=params.port_width_bits,
                   ports=params.ports, arbitration=params.arbitration)

    def __init__(self, ctx: Context, *, size_bytes: float, port_width_bits: int, ports: int,
                 arbitration: str = "fixed_priority") -> None:
        if not size_bytes > 0 or math.isinf(size_bytes):
            raise ValueError(f"size_bytes must be positive and finite, got {size_bytes!r}")
        if int(port_width_bits) != port_width_bits or port_width_bits < 1:
            raise ValueError(f"port_width_bits must be an integer >= 1, got {port_width_bits!r}")
        if int(ports) != ports or ports < 1:
            raise ValueError(f"ports must be an integer >= 1, got {ports!r}")
        tech.check_node(ctx.node_nm)
        self.ctx = ctx
        self.size_bytes = float(size_bytes)
        self.port_width_bits = int(port_width_bits)
        self.ports = int(ports)
        self.arbitration = arbitration
        self.bits = self.size_bytes * 8.0

    def energy_per_bit_j(self) -> float:
        return self.scale(horowitz_energy_per_bit_j(self.size_bytes), "energy", ref_node_nm=HOROWITZ_NODE_NM,
                          ref_vdd_v=HOROWITZ_VDD_V)

    def area_m2(self) -> float:
        cells = self.bits * SRAM_CELL_F2 * tech.f2_m2(self.ctx.node_nm)
        return cells / ARRAY_EFFICIENCY * (1.0 + EXTRA_PORT_AREA * (self.ports - 1))

    def leakage_w(self) -> float:
        return self.scale(self.bits * LEAK_PER_BIT_W_45NM, "leakage", ref_node_nm=HOROWITZ_NODE_NM,
                          ref_vdd_v=HOROWITZ_VDD_V)

    def actions(self) -> dict[str, Action]:
        e_read = self.port_width_bits * self.energy_per_bit_j()
        t = 1.0 / self.ctx.clock_hz
        return {self.READ: Action(e_read, t), self.WRITE: Action(e_read * WRITE_TO_READ, t)}
