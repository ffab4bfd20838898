"""On-chip wire bus: C·V² switching energy and a repeated-wire delay."""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

from pydantic import Field

from cimsim.components import tech
from cimsim.components.base import Action, Component, Context, register
from cimsim.spec.common import Arbitration, Spec


class WireBusParams(Spec):
    model: Literal["wire_bus"] = "wire_bus"
    width_bits: int = Field(default=128, ge=8, le=4096, description="bits moved per bus cycle")
    hop_length_m: float = Field(default=1e-3, gt=0, le=0.05,
                                description="average tile-to-tile wire length, m [assumed: ~1 mm tile pitch]")
    channels: int = Field(default=1, ge=1, le=64, description="independent bus channels (a contended resource)")
    arbitration: Arbitration = Field(
        default="fixed_priority", description="who gets a free channel when transfers ask in the same cycle: "
                                              "fixed_priority (lowest replica, job, layer name), round_robin or "
                                              "fcfs (docs/timing.md, Arbitration)")

#: Wire capacitance per length, F/m (0.2 fF/µm) [code: Accelergy-Project/hwcomponents-library
#: hwcomponents_library/library/misc.py::Wire capacitance_per_m = 2e-10]. Kept node-independent: wire
#: capacitance per length is nearly constant across nodes (narrower wires, closer neighbours) [lit].
WIRE_C_PER_M = 2e-10
#: Fraction of the wires that toggle per transfer (random data) [assumed: 0.5, uncorrelated flits].
ACTIVITY = 0.5
#: Delay of an optimally repeated intermediate-layer wire, s/m: 100 ps/mm [assumed, from the 50-150 ps/mm
#: range of Ho, Mai & Horowitz, "The future of wires", Proc. IEEE 89(4), 2001 (doi 10.1109/5.920580) [lit];
#: repeated-wire delay ≈ 2·sqrt(0.7·R_drv·C_in·r·c) per length is nearly node-independent].
REPEATED_WIRE_DELAY_S_PER_M = 100e-12 / 1e-3


@register
class WireBus(Component):
    """Point-to-point bus of ``width_bits`` wires of ``length_m`` m.

    * transfer (one flit of width_bits): E = 0.5 · width_bits · C'·length·Vdd², J (C' = 2e-10 F/m, Vdd =
      ctx.vdd_v); latency = max(1/clock, 100 ps/mm · length), s
    * area = 0 m² (wires routed over logic, as hwcomponents Wire [code]; repeater area and energy are not
      charged — they add roughly 10-30 % to the wire energy [assumed])
    * leakage = 0 W [code: hwcomponents Wire has no leakage]
    """

    kind: ClassVar[str] = "interconnect"
    model: ClassVar[str] = "wire_bus"
    Params = WireBusParams
    TRANSFER = "transfer"
    ACTIONS = (TRANSFER,)

    @classmethod
    def from_spec(cls, params: WireBusParams, build: Any) -> WireBus:
        bus = cls(build.ctx, width_bits=params.width_bits, length_m=params.hop_length_m)
        bus.channels = params.channels
        bus.arbitration = params.arbitration
        return bus

    def __init__(self, ctx: Context, *, width_bits: int, length_m: float) -> None:
        if int(width_bits) != width_bits or width_bits < 1:
            raise ValueError(f"width_bits must be an integer >= 1, got {width_bits!r}")
        if not length_m >= 0 or math.isinf(length_m):
            raise ValueError(f"length_m must be non-negative and finite, got {length_m!r}")
        tech.check_node(ctx.node_nm)
        self.ctx = ctx
        self.width_bits = int(width_bits)
        self.length_m = float(length_m)
        self.channels = 1
        self.arbitration = "fixed_priority"

    def area_m2(self) -> float:
        return 0.0

    def leakage_w(self) -> float:
        return 0.0

    def actions(self) -> dict[str, Action]:
        e = ACTIVITY * self.width_bits * WIRE_C_PER_M * self.length_m * self.ctx.vdd_v ** 2
        t = max(1.0 / self.ctx.clock_hz, REPEATED_WIRE_DELAY_S_PER_M * self.length_m)
        return {self.TRANSFER: Action(e, t)}
