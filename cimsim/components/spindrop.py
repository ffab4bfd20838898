"""Spindrop module: one stochastic MTJ + write/reset driver + sense amp + bit latch (SpinDrop, JETCAS 2023).

A dropout bit is made by reset → stochastic write (current I for pulse t_p, so the MTJ switches with
probability P_sw(I, t_p, T) = p) → read. A switched MTJ reads as "drop". Under ``reset_policy:
on_switch`` only a module that switched needs the (expensive) reset before its next write; the reset slot
is still reserved in time, since the controller does not know in advance which modules switched.

**Reset failures.** The reset is a switching pulse in the other direction, so it fails with probability
p_rf = 1 − P_sw(I_reset, t_reset, T) from the same switching table (one I_c0 for both directions: the macrospin
is symmetric). Only a module whose MTJ switched needs resetting (an unswitched MTJ under reset current is
pushed deeper into its well), and a module whose reset failed starts the next write already switched, so it
reads 1 whatever the write does. A module's bits are then a two-state Markov chain,

    P(b_n = 1 | b_(n-1) = 0) = p,   P(b_n = 1 | b_(n-1) = 1) = p_rf + (1 − p_rf) p,

with stationary (realised) drop probability p_real = p / (1 − p_rf (1 − p)) ≥ p; ``always`` and ``on_switch``
give the same chain (the read bit is the only state the controller sees). :func:`realized_p` and
:func:`write_p_for` convert between the two.

Write and reset energies follow cimsim's one write convention (:func:`cimsim.components.bitline_periphery.
write_pulse_energy_j`, docs/models.md "Write energy"): supply × current × pulse, with the supply the write rail
needed to push the current through the MTJ and its access transistor (as for the crossbar's weights).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Literal

import numpy as np
from pydantic import Field

from cimsim.components import mtj, mtj_switching
from cimsim.components.array_periphery import write_supply_v
from cimsim.components.base import Action, Component, Context, model_class, register
from cimsim.components.bitline_periphery import write_pulse_energy_j
from cimsim.components.switching.table import load_table
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
                                 description="stochastic-write pulse, s: at 10 ns the s-LLG table puts p = 0.2 at I/I_c0 ≈ 0.84 "
                                             "with dP/d(I/I_c0) ≈ 2.2, a shallow slope that keeps driver mismatch from "
                                             "spreading p (docs/mtj_model.md) [derived]")
    reset_current_a: float = Field(default=100e-6, gt=0, le=1e-3,
                                   description="reset current, A: 3× I_c0 of the dropout MTJ [derived]; it fails with "
                                               "1 − P_sw(I, t_reset) from the switching table (below its 5e-4 "
                                               "resolution here; 1.3e-3 at 50 µA; docs/mtj_model.md)")
    reset_pulse_s: float = Field(default=10e-9, gt=0, le=1e-7, description="reset pulse, s (utinclab t_reset 10 ns) [code]")
    reset_policy: Literal["always", "on_switch"] = Field(
        default="on_switch", description="on_switch: reset only a module whose MTJ switched (the read bit tells)")
    read_voltage_v: float = Field(default=0.1, gt=0, le=0.5, description="module sense voltage, V")
    read_pulse_s: float = Field(default=1e-9, gt=0, le=1e-7, description="module read, s")
    endurance_cycles: float = Field(
        default=1e12, ge=1e3, le=1e20,
        description="Weibull scale η of the dropout MTJ's cycles to barrier breakdown (63.2 % of devices failed), in "
                    "current pulses: 1e12 is the cache-class STT-MRAM endurance of Intel's L4 variant (IEDM 2019; "
                    "REFERENCES §10) [lit]; Kan et al. TED 2017 project > 1e15 for scaled pMTJs, products quote "
                    "1e5–1e7. Reading a published endurance as η is [assumed] (docs/dependability.md)")
    endurance_weibull_shape: float = Field(
        default=1.5, ge=0.3, le=10,
        description="Weibull shape β of the cycles to breakdown: naturally oxidised MgO breaks down with Weibull "
                    "statistics (REFERENCES §10) but no published β was found; 1.5 [assumed] (β > 1: wear-out)")
    calibration_temperature_k: float = Field(
        default=300.0, ge=200, le=420,
        description="temperature at which the write current is tuned to target_p, K; at another operating "
                    "temperature (technology.temperature_k) p drifts unless compensated")
    temperature_compensation: Literal["none", "ptat"] = Field(
        default="none", description="none: fixed write current; ptat: a PTAT/CTAT-mix current reference per tile "
                                    "scales the current linearly with T, slope set so dP/dT = 0 at the calibration "
                                    "temperature (residual: the curvature of I*(T)); costs area and leakage")


class DropoutSource(Component):
    """What every dropout source gives the rest of the simulator (not itself a model).

    A source makes dropout bits for ``modules`` modules of a layer; the functional executor draws them with
    :meth:`sample_drops`, activity turns generated/dropped bit counts into this model's actions with
    :meth:`mask_action_counts`, and the timing engine times one bit as the action ``generate``.
    """

    kind = "dropout_source"
    GENERATE = "generate"
    #: Modules one array provisions (set by :func:`modules_per_array` when the source is built for a chip).
    modules_per_array: int = 1

    def used_instances(self, mapping: Any) -> int:
        """Modules the mapped network wires (every copy of the weights): the chip as used by a workload."""
        return mapping.modules

    @property
    def p_realized(self) -> float:
        """Drop probability the source realises with nominal parts at the operating point."""
        raise NotImplementedError

    def operating_point(self) -> dict[str, float | str]:
        """What sets this source's p beyond the nominal setting (reported in the result's ``dropout`` block)."""
        return {}

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

    def endurance(self) -> tuple[float, float] | None:
        """(Weibull scale η in write/reset pulses, Weibull shape β) of the source's wear-out, or None if it does
        not wear out with use (e.g. an LFSR)."""
        return None

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
# Temperature-compensated current reference (``temperature_compensation: ptat``), one per tile, mirrored into
# every module's write driver. Core: MOSFET-only PTAT/CTAT reference, 40 nW at 1.2 V and 0.0099 mm² in 0.13 µm
# CMOS (Mattia, Klimach, Bampi, "2.3 ppm/°C 40 nW MOSFET-only voltage reference", GLSVLSI 2014) [page]; a
# self-biased current reference of the same family takes 0.010 mm² in 180 nm (Toledo et al., "MOSFET ZTC
# condition analysis for a self-biased current reference design", JICS 2015) [page]. Analog area is kept
# unscaled with the node (matching-limited devices do not shrink) [assumed]; the mirrors are the drivers.
TC_REFERENCE_POWER_W = 40e-9
TC_REFERENCE_AREA_M2 = 0.0099e-6
# Half-width of the central difference that sets the tracking slope dI*/dT at the calibration temperature, K
# [derived: I*(T) is smooth; 1 K keeps the truncation error far below the curvature residual reported].
TC_SLOPE_DT_K = 1.0


def realized_p(p_write: np.ndarray | float, p_reset_fail: float) -> np.ndarray | float:
    """Stationary drop probability p / (1 − p_rf (1 − p)) of a module whose write switches with ``p_write`` and
    whose reset fails with ``p_reset_fail`` (module docstring)."""
    return p_write / (1.0 - p_reset_fail * (1.0 - p_write))


def write_p_for(p_real: np.ndarray | float, p_reset_fail: float) -> np.ndarray | float:
    """The write probability whose stationary drop probability is ``p_real``: the inverse of :func:`realized_p`,
    p = p_real (1 − p_rf) / (1 − p_real p_rf)."""
    return p_real * (1.0 - p_reset_fail) / (1.0 - p_real * p_reset_fail)


@register
class MTJSpindrop(DropoutSource):
    """Stochastic-MTJ dropout-bit generator.

    Args:
        ctx: operating point (its temperature sets Δ(T), I_c0(T)).
        device: the stochastic MTJ's parameters.
        target_p: drop probability the write current is tuned for (ignored if ``write_current_a`` is set).
        write_current_a: explicit stochastic-write current, A.
        write_pulse_s: stochastic-write pulse, s.
        reset_current_a, reset_pulse_s: reset current (A) and pulse (s); the reset fails with 1 − P_sw at them (:attr:`p_reset_fail`).
        reset_policy: ``always`` or ``on_switch``.
        read_voltage_v, read_pulse_s: read bias (V) and window (s).
        endurance: (Weibull scale η in pulses, shape β) of the MTJ's cycles to breakdown.
    """

    model = "mtj_spindrop"
    Params = MTJSpindropParams
    ACTIONS = ("reset", "stochastic_write", "read", DropoutSource.GENERATE)

    @classmethod
    def from_spec(cls, params: MTJSpindropParams, build: Any) -> MTJSpindrop:
        src = cls(build.ctx, device=build.mtj_params("dropout"), target_p=build.design.hardware_p,
                   write_current_a=params.write_current_a, write_pulse_s=params.write_pulse_s,
                   reset_current_a=params.reset_current_a, reset_pulse_s=params.reset_pulse_s,
                   reset_policy=params.reset_policy, read_voltage_v=params.read_voltage_v,
                   read_pulse_s=params.read_pulse_s, r_access_ohm=build.arch.cell.r_access_ohm,
                   endurance=(params.endurance_cycles, params.endurance_weibull_shape),
                   calibration_temperature_k=params.calibration_temperature_k,
                   temperature_compensation=params.temperature_compensation,
                   modules_per_reference=build.arch.chip.arrays_per_tile * modules_per_array(params, build))
        src.modules_per_array = modules_per_array(params, build)
        return src

    def __init__(self, ctx: Context, *, device: mtj.MTJParams, target_p: float | None,
                 write_current_a: float | None, write_pulse_s: float, reset_current_a: float,
                 reset_pulse_s: float, reset_policy: Literal["always", "on_switch"],
                 read_voltage_v: float, read_pulse_s: float, r_access_ohm: float = 0.0,
                 endurance: tuple[float, float] | None = None, calibration_temperature_k: float | None = None,
                 temperature_compensation: Literal["none", "ptat"] = "none",
                 modules_per_reference: int = 1) -> None:
        if write_current_a is None and target_p is None:
            raise ValueError("MTJSpindrop needs target_p or write_current_a")
        self.ctx = ctx
        self.device = device
        self.write_pulse_s = write_pulse_s
        self.reset_current_a, self.reset_pulse_s = reset_current_a, reset_pulse_s
        self.reset_policy = reset_policy
        self.read_voltage_v, self.read_pulse_s = read_voltage_v, read_pulse_s
        # worst-case write path: the MTJ in its high-resistance state plus its access transistor
        self.path_resistance_ohm = float(mtj.r_ap_ohm(device, 0.0)) + r_access_ohm
        self._endurance = endurance
        self.calibration_temperature_k = float(calibration_temperature_k or ctx.temperature_k)
        self.temperature_compensation = temperature_compensation
        self.modules_per_reference = max(1, int(modules_per_reference))
        t_cal = self.calibration_temperature_k
        if write_current_a is None:
            write_current_a = float(mtj_switching.current_for_probability(device, target_p, write_pulse_s, t_cal))
        if not write_current_a > 0:
            raise ValueError(f"the stochastic-write current for p = {target_p} comes out at {write_current_a:.3g} A; "
                             "the device cannot realise that p with this pulse (raise the pulse or the device's Δ)")
        self.calibration_current_a = float(write_current_a)
        self.tracking_tc_per_k = 0.0
        if temperature_compensation == "ptat":
            # First-order tracking: I(T) = I_cal·(1 + TC·(T − T_cal)) with TC = (dI*/dT)/I_cal at T_cal, where
            # I*(T) holds P_sw(I*, t_p, T) at the calibrated p. A PTAT/CTAT current mix realises any linear TC;
            # the curvature of I*(T) is left over (docs/models.md "Temperature").
            p_cal = float(mtj_switching.p_switch(device, write_current_a, write_pulse_s, t_cal))
            i_hi, i_lo = (float(mtj_switching.current_for_probability(device, p_cal, write_pulse_s, t_cal + s * TC_SLOPE_DT_K))
                          for s in (1, -1))
            self.tracking_tc_per_k = (i_hi - i_lo) / (2 * TC_SLOPE_DT_K * write_current_a)
        scale = 1.0 + self.tracking_tc_per_k * (ctx.temperature_k - t_cal)
        if not scale > 0:
            raise ValueError(f"the tracking reference's current reaches 0 at {ctx.temperature_k} K")
        self.write_current_a = float(write_current_a * scale)
        self._sense = model_class("column_periphery", "sense_amp")(
            ctx, levels=2, sample_rate_hz=ctx.clock_hz, column_resistance_ohm=mtj.r_p_ohm(device),
            read_voltage_v=read_voltage_v)
        self._latch = model_class("register", "aladdin")(ctx, bits=1)

    def endurance(self) -> tuple[float, float] | None:
        return self._endurance

    @cached_property
    def p_nominal(self) -> float:
        """Probability that the stochastic write switches a reset MTJ (nominal device parameters)."""
        return float(mtj_switching.p_switch(self.device, self.write_current_a, self.write_pulse_s, self.ctx.temperature_k))

    @cached_property
    def p_reset_fail(self) -> float:
        """Probability that the reset pulse leaves a switched MTJ switched: 1 − P_sw(I_reset, t_reset, T).

        A reset current beyond the s-LLG table's top row (10 I_c0) is evaluated at that row: P_sw only grows
        with current, so this bounds the failure probability from above (it is 0 there for pulses ≥ 0.6 τ_D).
        """
        t = self.ctx.temperature_k
        current = self.reset_current_a
        if self.device.switching_model == "sllg_table":
            i_max = load_table(self.device.switching_table).ranges()["i"][1]
            current = min(current, i_max * float(mtj.ic0_a(self.device, t)))
        return 1.0 - float(mtj_switching.p_switch(self.device, current, self.reset_pulse_s, t))

    @property
    def p_realized(self) -> float:
        """Stationary drop probability including reset failures (:func:`realized_p`)."""
        return float(realized_p(self.p_nominal, self.p_reset_fail))

    def operating_point(self) -> dict[str, float | str]:
        """The stochastic write as ``describe`` and ``result.json`` report it: temperatures (K), compensation, the
        calibration and actual write currents (A), pulse (s), I/I_c0, realised p and the slope dP/d(I/I_c0)
        there (how strongly a current error moves p), and the switching model."""
        t = self.ctx.temperature_k
        ic0 = float(mtj.ic0_a(self.device, t))
        slope = float(mtj_switching.dp_dcurrent(self.device, self.write_current_a, self.write_pulse_s, t)) * ic0
        return {"operating_temperature_k": t, "calibration_temperature_k": self.calibration_temperature_k,
                "temperature_compensation": self.temperature_compensation,
                "calibration_current_a": self.calibration_current_a, "write_current_a": self.write_current_a,
                "write_pulse_s": self.write_pulse_s, "current_ratio": self.write_current_a / ic0,
                "p": self.p_nominal, "dp_dratio": slope, "switching_model": self.device.switching_model,
                "reset_current_a": self.reset_current_a, "reset_pulse_s": self.reset_pulse_s,
                "reset_current_ratio": self.reset_current_a / ic0, "p_reset_fail": self.p_reset_fail}

    def module_probabilities(self, n: int, rng: np.random.Generator | None,
                             sigmas: mtj.VariationSigmas | None) -> np.ndarray:
        return self.drop_probabilities(n, rng, sigmas)

    def sample_drops(self, stream: CounterStream, ids: np.ndarray, modules: int, generations: int,
                     p_modules: np.ndarray | None) -> np.ndarray:
        """``p_modules`` are realised (stationary) probabilities. Without reset failures every bit is
        Bernoulli(p_k); with them a module's generations within a mask follow the Markov chain of the module
        docstring, its first generation drawn from the stationary law (a mask does not know the bit the module
        made for the previous mask, which keeps masks independent of batching; the marginal rate is exact)."""
        p = np.full(modules, self.p_realized) if p_modules is None else p_modules
        p_rf = self.p_reset_fail
        if p_rf <= 0.0:
            return stream.bernoulli(ids, np.repeat(p, generations))  # = uniform < p, bit for bit
        u = stream.uniform(ids, modules * generations).reshape(*np.shape(ids), modules, generations)
        p_w = write_p_for(p, p_rf)
        stuck = p_rf + (1.0 - p_rf) * p_w  # P(1 | previous 1)
        out = np.empty(u.shape, dtype=bool)
        out[..., 0] = u[..., 0] < p
        for g in range(1, generations):
            out[..., g] = u[..., g] < np.where(out[..., g - 1], stuck, p_w)
        return out.reshape(*np.shape(ids), modules * generations)

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
        """Per-module (realised, :func:`realized_p`) drop probability p_k for ``n`` modules of one chip instance.

        With ``sigmas`` (process variation) Δ_k and I_c0,k are sampled once from ``rng``, and each module's
        write driver delivers its own current around the one the chip was tuned for with nominal devices
        (driver mismatch, ``sigmas.write_current``), so p_k spreads around p.
        """
        if sigmas is None:
            return np.full(n, self.p_realized)
        dev = mtj.sample_devices(self.device, sigmas, n, rng, self.ctx.temperature_k)
        current = (mtj.sample_write_currents(self.write_current_a, sigmas.write_current, n, rng)
                   if sigmas.write_current > 0 else self.write_current_a)
        p_w = np.asarray(mtj_switching.p_switch(self.device, current, self.write_pulse_s,
                                      self.ctx.temperature_k, delta=dev.delta, ic0_a=dev.ic0_a))
        # reset failures at the nominal device (docs/mtj_model.md "Reset failures": not resampled per module)
        return np.asarray(realized_p(p_w, self.p_reset_fail))

    @property
    def compensated(self) -> bool:
        return self.temperature_compensation != "none"

    def area_m2(self) -> float:
        f = self.ctx.node_nm * 1e-9
        driver_w = max(self.reset_current_a, self.write_current_a) / DRIVER_CURRENT_A_PER_M
        driver = 2 * driver_w * DRIVER_LENGTH_F * f  # write driver + reset driver
        ref = TC_REFERENCE_AREA_M2 / self.modules_per_reference if self.compensated else 0.0
        return MTJ_CELL_AREA_F2 * f * f + driver + self._sense.area_m2() + self._latch.area_m2() + ref

    def leakage_w(self) -> float:
        ref = TC_REFERENCE_POWER_W / self.modules_per_reference if self.compensated else 0.0
        return self._sense.leakage_w() + self._latch.leakage_w() + ref

    def actions(self) -> dict[str, Action]:
        def pulse(i: float, t: float) -> Action:
            return Action(write_pulse_energy_j(write_supply_v(self.ctx, i, self.path_resistance_ohm), i, t), t)

        reset = pulse(self.reset_current_a, self.reset_pulse_s)
        write = pulse(self.write_current_a, self.write_pulse_s)
        r_mean = mtj.r_p_ohm(self.device) * (1 + 0.5 * mtj.tmr(self.device, self.read_voltage_v))
        read_e = (self.read_voltage_v ** 2 / r_mean * self.read_pulse_s + self._sense.action("convert").energy_j
                  + self._latch.action("write").energy_j)
        read = Action(read_e, max(self.read_pulse_s, self._sense.action("convert").latency_s))
        p_reset = 1.0 if self.reset_policy == "always" else self.p_realized  # a reset follows every 1 read
        generate = Action(write.energy_j + read.energy_j + p_reset * reset.energy_j,
                          reset.latency_s + write.latency_s + read.latency_s, composite=True)
        return {"reset": reset, "stochastic_write": write, "read": read, "generate": generate}


def modules_per_array(params: DropoutSourceParams, build: Any) -> int:
    """Modules one array provisions: one per ``rows_per_module`` rows (``layer_scale``: one, for the layer the
    array may hold). The one place the provisioned count is made; the chip tree multiplies it out."""
    if build.design.granularity == "layer_scale":
        return 1
    return -(-build.part("crossbar").rows // params.rows_per_module)
