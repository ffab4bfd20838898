"""Digital periphery from the Aladdin 40 nm library (REFERENCES §5.1), scaled with :mod:`tech`.

Every number below is characterised at 40 nm; the supply it was characterised at is not stated in
hwcomponents-library, so [assumed] the 40 nm nominal standard-cell supply of 0.9 V (:data:`REF_VDD_V`).
Scaling to ``ctx``: energy × ``tech.energy_factor(40, node, 0.9, vdd)``, area × ``tech.area_factor(40,
node)``, leakage × ``tech.leakage_factor(40, node, 0.9, vdd)``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

from pydantic import Field

from cimsim.components import contracts, tech
from cimsim.components.base import Action, Component, Context, register
from cimsim.spec.common import Spec


class AladdinAccumulatorParams(Spec):
    model: Literal["aladdin"] = "aladdin"
    bits: int = Field(default=16, ge=4, le=64, description="partial-sum accumulator width, bits")


class AladdinAdderTreeParams(Spec):
    """The tile's reduction tree: one operand per array of the tile, accumulator-wide operands."""

    model: Literal["aladdin"] = "aladdin"


class AladdinComparatorParams(Spec):
    model: Literal["aladdin"] = "aladdin"
    bits: int | None = Field(default=None, ge=2, le=64,
                             description="threshold comparator width, bits; None: the accumulator's")

#: Node of the Aladdin characterisation, nm [code: hwcomponents-library aladdin.py CSV ``tech_node 40nm``].
REF_NODE_NM = 40.0
#: [assumed] supply of that characterisation, V (40 nm nominal; not stated in aladdin.py).
REF_VDD_V = 0.9

#: 32-b adder: 0.21 pJ per add, 278 µm², 2.40 µW leakage [code: aladdin.py AladdinAdder]; per bit [derived].
ADDER_E_PER_BIT_J = 0.21e-12 / 32
ADDER_AREA_PER_BIT_M2 = 278.0e-12 / 32
ADDER_LEAK_PER_BIT_W = 2.40e-6 / 32
#: 1-b register (flip-flop): 0.009 pJ per read and per write, 5.98 µm² [code: aladdin.py AladdinRegister;
#: the class charges 0.009 pJ for write too although its CSV lists 0].
REG_E_PER_BIT_J = 0.009e-12
REG_AREA_PER_BIT_M2 = 5.98e-12
#: 32-b comparator: 0.02947 pJ, 71 µm², 25.1 nW [code: aladdin.py AladdinComparator]; linear in width.
CMP32_E_J = 0.02947e-12
CMP32_AREA_M2 = 71.0e-12
CMP32_LEAK_W = 2.51e-8
#: Leakage per area of small control logic, W/m²: the Aladdin comparator's 25.1 nW / 71 µm² [derived].
#: Used where Aladdin lists no leakage (its register has leak 0, which is unphysical) [assumed].
LOGIC_LEAK_PER_M2 = CMP32_LEAK_W / CMP32_AREA_M2
#: 32-b counter: 0.25074 pJ per count, 495.5 µm², 0.321 µW [code: aladdin.py AladdinCounter].
CNT32_E_J = 0.25074e-12
CNT32_AREA_M2 = 495.5e-12
CNT32_LEAK_W = 3.21e-7
#: Physical delay of one 32-b add at 40 nm, s: Aladdin characterised its adder at global_cycle_period =
#: 1 ns [code: aladdin.py CSV], so a 32-b add fits in 1 ns; taken as the delay (upper bound) [assumed].
#: Other widths: linear in width (ripple-carry bound); other nodes: ∝ node (gate delay ∝ F) [assumed].
ADD32_DELAY_S = 1.0e-9


def check_bits(name: str, value: int, minimum: int = 1) -> int:
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class _Aladdin(Component):
    """What the Aladdin models share (not a registered model): their characterisation point."""

    REF_NODE_NM = REF_NODE_NM
    REF_VDD_V = REF_VDD_V

    def __init__(self, ctx: Context) -> None:
        tech.check_node(ctx.node_nm)
        if not ctx.clock_hz > 0:
            raise ValueError(f"clock_hz must be positive, got {ctx.clock_hz!r}")
        self.ctx = ctx

    @property
    def cycle_s(self) -> float:
        return 1.0 / self.ctx.clock_hz

    def add_delay_s(self, bits: int) -> float:
        """Assumed physical delay of one ``bits``-wide add at ``ctx.node_nm``, s."""
        return ADD32_DELAY_S * (bits / 32.0) * (self.ctx.node_nm / REF_NODE_NM)


@register
class Register(_Aladdin):
    """``bits``-wide register (flip-flops), Aladdin 40 nm.

    * read = write = bits · 9 fJ · energy_factor, J; write latency one clock cycle, read latency 0
      (the output is always driven)
    * area = bits · 5.98 µm² · area_factor
    * leakage = bits · 5.98 µm² · (25.1 nW / 71 µm²) ≈ bits · 2.1 nW at 40 nm, × leakage_factor [assumed:
      Aladdin lists 0 for the register; the comparator's leakage density is used]
    """

    kind: ClassVar[str] = "register"
    model: ClassVar[str] = "aladdin"
    READ, WRITE = "read", "write"
    ACTIONS = (READ, WRITE)

    def __init__(self, ctx: Context, *, bits: int) -> None:
        super().__init__(ctx)
        self.bits = check_bits("bits", bits)

    def area_m2(self) -> float:
        return self.bits * REG_AREA_PER_BIT_M2 * self.area_factor

    def leakage_w(self) -> float:
        return self.bits * REG_AREA_PER_BIT_M2 * LOGIC_LEAK_PER_M2 * self.leakage_factor

    def actions(self) -> dict[str, Action]:
        e = self.bits * REG_E_PER_BIT_J * self.energy_factor
        return {self.READ: Action(e, 0.0), self.WRITE: Action(e, self.cycle_s)}


@register
class AdderTree(_Aladdin):
    """Reduction tree of ``inputs`` operands of ``bits`` bits, Aladdin 40 nm adders.

    * add: energy = (inputs − 1) · bits · 6.56 fJ · energy_factor, J (operand-width adders; the growth of
      the partial sums by one bit per level is not charged)
    * latency = L · max(1/clock, t_level), L = ceil(log2 inputs), t_level = 1 ns·(bits/32)·(node/40) [assumed]
    * area = (inputs − 1) · bits · 8.69 µm² · area_factor; leakage = (inputs − 1) · bits · 75 nW ·
      leakage_factor [code: Aladdin adder 2.40 µW per 32 b]
    """

    kind: ClassVar[str] = "adder_tree"
    model: ClassVar[str] = "aladdin"
    Params = AladdinAdderTreeParams
    ADD = "add"
    ACTIONS = (ADD,)

    @classmethod
    def from_spec(cls, params: AladdinAdderTreeParams, build: Any) -> AdderTree:
        return cls(build.ctx, inputs=max(2, build.arch.chip.arrays_per_tile), bits=build.part("accumulator").bits)

    def __init__(self, ctx: Context, *, inputs: int, bits: int) -> None:
        super().__init__(ctx)
        self.inputs = check_bits("inputs", inputs)
        self.bits = check_bits("bits", bits)
        self.adders = self.inputs - 1
        self.levels = math.ceil(math.log2(self.inputs)) if self.inputs > 1 else 0

    def area_m2(self) -> float:
        return self.adders * self.bits * ADDER_AREA_PER_BIT_M2 * self.area_factor

    def leakage_w(self) -> float:
        return self.adders * self.bits * ADDER_LEAK_PER_BIT_W * self.leakage_factor

    def actions(self) -> dict[str, Action]:
        e = self.adders * self.bits * ADDER_E_PER_BIT_J * self.energy_factor
        t = self.levels * max(self.cycle_s, self.add_delay_s(self.bits))
        return {self.ADD: Action(e, t)}


@register
class Accumulator(_Aladdin):
    """``bits``-wide accumulator: one Aladdin adder + one register.

    * accumulate: energy = bits · (6.56 fJ + 9 fJ) · energy_factor, J; latency max(1/clock, t_add), s
    * area / leakage: adder + register
    """

    kind: ClassVar[str] = "accumulator"
    model: ClassVar[str] = "aladdin"
    Params = AladdinAccumulatorParams
    ACCUMULATE = "accumulate"
    ACTIONS = (ACCUMULATE,)
    TRIGGERS = {contracts.CONVERSION: ACCUMULATE}  # every converted column is added into its partial sum

    @classmethod
    def from_spec(cls, params: AladdinAccumulatorParams, build: Any) -> Accumulator:
        return cls(build.ctx, bits=params.bits)

    def __init__(self, ctx: Context, *, bits: int) -> None:
        super().__init__(ctx)
        self.bits = check_bits("bits", bits)
        self.register = Register(ctx, bits=self.bits)

    def area_m2(self) -> float:
        return self.bits * ADDER_AREA_PER_BIT_M2 * self.area_factor + self.register.area_m2()

    def leakage_w(self) -> float:
        return self.bits * ADDER_LEAK_PER_BIT_W * self.leakage_factor + self.register.leakage_w()

    def actions(self) -> dict[str, Action]:
        e = self.bits * ADDER_E_PER_BIT_J * self.energy_factor + self.register.action(Register.WRITE).energy_j
        return {self.ACCUMULATE: Action(e, max(self.cycle_s, self.add_delay_s(self.bits)))}


@register
class Comparator(_Aladdin):
    """``bits``-wide digital magnitude comparator, the Aladdin 32-b comparator scaled linearly in width.

    * compare: 0.02947 pJ · bits/32 · energy_factor, J; latency one clock cycle [assumed]
    * area 71 µm² · bits/32 · area_factor; leakage 25.1 nW · bits/32 · leakage_factor [code]
    """

    kind: ClassVar[str] = "comparator"
    model: ClassVar[str] = "aladdin"
    Params = AladdinComparatorParams
    COMPARE = "compare"
    ACTIONS = (COMPARE,)

    @classmethod
    def from_spec(cls, params: AladdinComparatorParams, build: Any) -> Comparator:
        return cls(build.ctx, bits=params.bits or build.part("accumulator").bits)

    def __init__(self, ctx: Context, *, bits: int) -> None:
        super().__init__(ctx)
        self.bits = check_bits("bits", bits)

    def area_m2(self) -> float:
        return CMP32_AREA_M2 * self.bits / 32.0 * self.area_factor

    def leakage_w(self) -> float:
        return CMP32_LEAK_W * self.bits / 32.0 * self.leakage_factor

    def actions(self) -> dict[str, Action]:
        return {self.COMPARE: Action(CMP32_E_J * self.bits / 32.0 * self.energy_factor, self.cycle_s)}
