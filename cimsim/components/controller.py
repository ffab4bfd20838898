"""Tile / chip controller: a small FSM with job registers, built from the Aladdin digital parts."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from cimsim.components import digital
from cimsim.components.base import Action, Component, Context, register
from cimsim.spec.common import Spec

Schedule = Literal["sequential", "layer_pipelined", "replicated"]


class FSMControllerParams(Spec):
    """The controller: its cost model and the schedule policy it runs (docs/architecture.md)."""

    model: Literal["fsm"] = "fsm"
    state_bits: int = Field(default=64, ge=8, le=256,
                            description="job-state register width, bits [assumed: 64 holds input, pass, layer and "
                                        "window counters]")
    schedule: Schedule = Field(default="sequential", description="how MC passes are issued (docs/architecture.md)")
    replicas: int = Field(default=1, ge=1, le=64, description="copies of the weights (replicated schedule)")
    inputs_in_flight: int = Field(default=1, ge=1, le=1024, description="inputs whose passes may overlap")

    @model_validator(mode="after")
    def _replicas_need_policy(self) -> FSMControllerParams:
        if self.replicas > 1 and self.schedule != "replicated":
            raise ValueError("replicas > 1 needs schedule: replicated")
        return self

# Next-state logic [assumed]: one state_bits-wide counter (loop-index increment) and one state_bits-wide
# comparator (loop-bound check): a loop-nest sequencer dispatches a job by incrementing and testing a counter.


@register
class Controller(Component):
    """FSM controller holding ``state_bits`` bits of job state.

    Parts: a ``state_bits`` register (job registers), a ``state_bits`` counter (Aladdin 32-b counter
    scaled linearly: 0.25074 pJ, 495.5 µm², 0.321 µW per 32 b [code: aladdin.py AladdinCounter]) and a
    ``state_bits`` comparator (:class:`digital.Comparator`).

    * issue (one job dispatch): register read + register write + counter increment + compare, J;
      latency one clock cycle, s
    * area / leakage: sum of the parts, scaled from 40 nm with :mod:`tech`
    """

    kind: ClassVar[str] = "controller"
    model: ClassVar[str] = "fsm"
    Params = FSMControllerParams
    REF_NODE_NM, REF_VDD_V = digital.REF_NODE_NM, digital.REF_VDD_V  # the counter is Aladdin's
    ISSUE = "issue"
    ACTIONS = (ISSUE,)

    @classmethod
    def from_spec(cls, params: FSMControllerParams, build: Any) -> Controller:
        return cls(build.ctx, state_bits=params.state_bits)

    def __init__(self, ctx: Context, *, state_bits: int = 64) -> None:
        self.state_bits = digital.check_bits("state_bits", state_bits)
        self.ctx = ctx
        self.register = digital.Register(ctx, bits=self.state_bits)
        self.comparator = digital.Comparator(ctx, bits=self.state_bits)
        frac = self.state_bits / 32.0
        self._counter_e = digital.CNT32_E_J * frac * self.energy_factor
        self._counter_a = digital.CNT32_AREA_M2 * frac * self.area_factor
        self._counter_l = digital.CNT32_LEAK_W * frac * self.leakage_factor

    def area_m2(self) -> float:
        return self.register.area_m2() + self.comparator.area_m2() + self._counter_a

    def leakage_w(self) -> float:
        return self.register.leakage_w() + self.comparator.leakage_w() + self._counter_l

    def actions(self) -> dict[str, Action]:
        r = digital.Register
        e = (self.register.action(r.READ).energy_j + self.register.action(r.WRITE).energy_j
             + self._counter_e + self.comparator.action(digital.Comparator.COMPARE).energy_j)
        return {self.ISSUE: Action(e, 1.0 / self.ctx.clock_hz)}
