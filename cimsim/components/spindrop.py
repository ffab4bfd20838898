"""Spindrop module: one stochastic MTJ + write/reset driver + sense amp + bit latch (SpinDrop, JETCAS 2023).

A dropout bit is made by reset → stochastic write (current I for pulse t_p, so the MTJ switches with
probability P_sw(I, t_p, T) = p) → read. A switched MTJ reads as "drop". Under ``reset_policy:
on_switch`` only a module that switched needs the (expensive) reset before its next write; the reset slot
is still reserved in time, since the controller does not know in advance which modules switched.

Write and reset energies follow cimsim's one write convention (:func:`cimsim.components.cell.write_energy_j`,
docs/models.md "Write energy"): supply × current × pulse.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from cimsim.components import mtj
from cimsim.components.base import Action, Component, Context, model_class
from cimsim.components.cell import write_energy_j
from cimsim.rng import CounterStream
from cimsim.spec.common import Spec

Granularity = Literal["row", "channel", "layer_scale"]


class DropoutSourceParams(Spec):
    """Fields every dropout-source section (``spindrop:``) has (not itself a model)."""

    granularity: Granularity = Field(
        default="row", description="row: SpinDrop; channel: Spatial-SpinDrop; layer_scale: Scale-Dropout. The "
                                    "default for workloads that name none; a workload's dropout.granularity wins "
                                    "(row-wired modules can gate a channel's rows together)")
    rows_per_module: int = Field(default=1, ge=1, le=4096,
                                 description="row granularity: rows (channel: channels) one module serves, time-multiplexed")
    target_p: float | None = Field(default=None, gt=0, lt=1,
                                   description="hardware drop probability the source is set to; None: the workload's "
                                               "trained dropout.p")


class MTJSpindropParams(DropoutSourceParams):
    model: Literal["mtj_spindrop"] = "mtj_spindrop"
    write_current_a: float | None = Field(default=None, gt=0, le=1e-3,
                                          description="explicit stochastic-write current, A (overrides target_p)")
    write_pulse_s: float = Field(default=10e-9, gt=0, le=1e-7,
                                 description="stochastic-write pulse, s: 10 ns keeps the operating point (I/I_c0 ≈ 0.9 for p = 0.2)"
                                             " where the Néel–Brown law holds (REFERENCES §1.1: i < 0.9, pulses ≥ 10 ns) [derived]")
    reset_current_a: float = Field(default=100e-6, gt=0, le=1e-3,
                                   description="reset current, A: 3× I_c0 of the dropout MTJ for a deterministic reset [derived]")
    reset_pulse_s: float = Field(default=10e-9, gt=0, le=1e-7, description="reset pulse, s (utinclab t_reset 10 ns) [code]")
    reset_policy: Literal["always", "on_switch"] = Field(
        default="on_switch", description="on_switch: reset only a module whose MTJ switched (the read bit tells)")
    read_voltage_v: float = Field(default=0.1, gt=0, le=0.5, description="module sense voltage, V")
    read_pulse_s: float = Field(default=1e-9, gt=0, le=1e-7, description="module read, s")


class DropoutSource(Component):
    """What every dropout source gives the rest of the simulator (not itself a model).

    A source makes dropout bits for ``modules`` modules of a layer; the functional executor draws them with
    :meth:`sample_drops`, activity turns generated/dropped bit counts into this model's actions with
    :meth:`mask_action_counts`, and the timing engine times one bit as the action ``generate``.
    """

    kind = "dropout_source"

    @property
    def p_realized(self) -> float:
        """Drop probability the source realises with nominal parts at the operating point."""
        raise NotImplementedError

    def module_probabilities(self, n: int, rng: np.random.Generator | None,
                             sigmas: mtj.VariationSigmas | None) -> np.ndarray | None:
        """Per-module drop probability of ``n`` modules of one chip instance (None: the source has no
        per-module probability, e.g. an LFSR whose bits come from its sequence)."""
        return None

    def sample_drops(self, stream: CounterStream, ids: np.ndarray, modules: int, generations: int,
                     p_modules: np.ndarray | None) -> np.ndarray:
        """Drop bits, bool ``ids.shape + (modules × generations,)``: bit b of mask ``ids[...]`` is made by
        module b // generations as its (b % generations)-th generation. ``ids`` name the masks (unique within
        the stream), so a mask never depends on which other masks are drawn with it."""
        raise NotImplementedError

    def mask_action_counts(self, generated: float, dropped: float) -> dict[str, float]:
        """This model's action counts for ``generated`` bits of which ``dropped`` read as drop."""
        raise NotImplementedError

# Current a minimum-length NMOS drives per µm of width at ~0.9 V in 22–40 nm bulk CMOS: ~0.5 mA/µm is a
# conservative on-current for low-leakage devices [assumed]. Sets the driver width, hence its area.
DRIVER_CURRENT_A_PER_M = 0.5e-3 / 1e-6
# Driver footprint per unit width: gate + two diffusions + contacts ≈ 4 F along the channel [assumed].
DRIVER_LENGTH_F = 4.0
# The stochastic MTJ with its access transistor occupies one 1T-1MTJ footprint (NVMExplorer 54 F²) [code].
MTJ_CELL_AREA_F2 = 54.0


class MTJSpindrop(DropoutSource):
    """Stochastic-MTJ dropout-bit generator.

    Args:
        ctx: operating point (its temperature sets Δ(T), I_c0(T)).
        device: the stochastic MTJ's parameters.
        target_p: drop probability the write current is tuned for (ignored if ``write_current_a`` is set).
        write_current_a: explicit stochastic-write current, A.
        write_pulse_s: stochastic-write pulse, s.
        reset_current_a, reset_pulse_s: deterministic reset current (A) and pulse (s).
        reset_policy: ``always`` or ``on_switch``.
        read_voltage_v, read_pulse_s: read bias (V) and window (s).
    """

    model = "mtj_spindrop"
    Params = MTJSpindropParams

    @classmethod
    def from_spec(cls, params: MTJSpindropParams, build: Any) -> MTJSpindrop:
        return cls(build.ctx, device=build.mtj_params("dropout"), target_p=build.design.hardware_p,
                   write_current_a=params.write_current_a, write_pulse_s=params.write_pulse_s,
                   reset_current_a=params.reset_current_a, reset_pulse_s=params.reset_pulse_s,
                   reset_policy=params.reset_policy, read_voltage_v=params.read_voltage_v,
                   read_pulse_s=params.read_pulse_s)

    def __init__(self, ctx: Context, *, device: mtj.MTJParams, target_p: float | None,
                 write_current_a: float | None, write_pulse_s: float, reset_current_a: float,
                 reset_pulse_s: float, reset_policy: Literal["always", "on_switch"],
                 read_voltage_v: float, read_pulse_s: float) -> None:
        if write_current_a is None and target_p is None:
            raise ValueError("MTJSpindrop needs target_p or write_current_a")
        self.ctx = ctx
        self.device = device
        self.write_pulse_s = write_pulse_s
        self.reset_current_a, self.reset_pulse_s = reset_current_a, reset_pulse_s
        self.reset_policy = reset_policy
        self.read_voltage_v, self.read_pulse_s = read_voltage_v, read_pulse_s
        if write_current_a is None:
            write_current_a = float(mtj.current_for_probability(device, target_p, write_pulse_s, ctx.temperature_k))
        if not write_current_a > 0:
            raise ValueError(f"the stochastic-write current for p = {target_p} comes out at {write_current_a:.3g} A; "
                             "the device cannot realise that p with this pulse (raise the pulse or the device's Δ)")
        self.write_current_a = float(write_current_a)
        self._sense = model_class("column_periphery", "sense_amp")(
            ctx, levels=2, sample_rate_hz=ctx.clock_hz, column_resistance_ohm=mtj.r_p_ohm(device),
            read_voltage_v=read_voltage_v)
        self._latch = model_class("register", "aladdin")(ctx, bits=1)

    @property
    def p_nominal(self) -> float:
        """Drop probability this module realizes with nominal device parameters."""
        return float(mtj.p_switch(self.device, self.write_current_a, self.write_pulse_s, self.ctx.temperature_k))

    @property
    def p_realized(self) -> float:
        return self.p_nominal

    def module_probabilities(self, n: int, rng: np.random.Generator | None,
                             sigmas: mtj.VariationSigmas | None) -> np.ndarray:
        return self.drop_probabilities(n, rng, sigmas)

    def sample_drops(self, stream: CounterStream, ids: np.ndarray, modules: int, generations: int,
                     p_modules: np.ndarray | None) -> np.ndarray:
        p = np.full(modules, self.p_nominal) if p_modules is None else p_modules
        p_bits = np.repeat(p, generations)
        return stream.bernoulli(ids, p_bits)  # = stream.uniform(ids, p_bits.size) < p_bits, bit for bit

    def mask_action_counts(self, generated: float, dropped: float) -> dict[str, float]:
        # the composite `generate` is the timing-level event; its energy is priced through the phases
        return {"generate": generated, "stochastic_write": generated, "read": generated,
                "reset": dropped if self.reset_policy == "on_switch" else generated}

    def cycles(self, name: str, clock_hz: float) -> int:
        if name == "generate":  # reset, write and read are separately clocked phases
            return sum(self.action(a).cycles(clock_hz) for a in ("reset", "stochastic_write", "read"))
        return super().cycles(name, clock_hz)

    def drop_probabilities(self, n: int, rng: np.random.Generator | None,
                           sigmas: mtj.VariationSigmas | None) -> np.ndarray:
        """Per-module drop probability p_k for ``n`` modules of one chip instance.

        With ``sigmas`` (process variation) Δ_k and I_c0,k are sampled once from ``rng``; the write current
        is the one the chip was tuned for with nominal devices, so p_k spreads around p.
        """
        if sigmas is None:
            return np.full(n, self.p_nominal)
        dev = mtj.sample_devices(self.device, sigmas, n, rng, self.ctx.temperature_k)
        return np.asarray(mtj.p_switch(self.device, self.write_current_a, self.write_pulse_s,
                                       self.ctx.temperature_k, delta=dev.delta, ic0_a=dev.ic0_a))

    def area_m2(self) -> float:
        f = self.ctx.node_nm * 1e-9
        driver_w = max(self.reset_current_a, self.write_current_a) / DRIVER_CURRENT_A_PER_M
        driver = 2 * driver_w * DRIVER_LENGTH_F * f  # write driver + reset driver
        return MTJ_CELL_AREA_F2 * f * f + driver + self._sense.area_m2() + self._latch.area_m2()

    def leakage_w(self) -> float:
        return self._sense.leakage_w() + self._latch.leakage_w()

    def actions(self) -> dict[str, Action]:
        vdd = self.ctx.vdd_v
        reset = Action(write_energy_j(vdd, self.reset_current_a, self.reset_pulse_s), self.reset_pulse_s)
        write = Action(write_energy_j(vdd, self.write_current_a, self.write_pulse_s), self.write_pulse_s)
        r_mean = mtj.r_p_ohm(self.device) * (1 + 0.5 * mtj.tmr(self.device, self.read_voltage_v))
        read_e = (self.read_voltage_v ** 2 / r_mean * self.read_pulse_s + self._sense.action("convert").energy_j
                  + self._latch.action("write").energy_j)
        read = Action(read_e, max(self.read_pulse_s, self._sense.action("convert").latency_s))
        p_reset = 1.0 if self.reset_policy == "always" else self.p_nominal
        generate = Action(write.energy_j + read.energy_j + p_reset * reset.energy_j,
                          reset.latency_s + write.latency_s + read.latency_s, composite=True)
        return {"reset": reset, "stochastic_write": write, "read": read, "generate": generate}
