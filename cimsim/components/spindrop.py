"""Spindrop module: one stochastic MTJ + write/reset driver + sense amp + bit latch (SpinDrop, JETCAS 2023).

A dropout bit is made by reset → stochastic write (current I for pulse t_p, so the MTJ switches with
probability P_sw(I, t_p, T) = p) → read. A switched MTJ reads as "drop". Under ``reset_policy:
on_switch`` only a module that switched needs the (expensive) reset before its next write; the reset slot
is still reserved in time, since the controller does not know in advance which modules switched.

Energies are supply energies of current-mode drivers, Vdd·I·t [derived: the supply delivers I for t at
Vdd; this bounds the device's own I²R·t from above and includes the driver's drop].
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from cimsim.components import mtj
from cimsim.components.base import Action, Component, Context, model_class

# Current a minimum-length NMOS drives per µm of width at ~0.9 V in 22–40 nm bulk CMOS: ~0.5 mA/µm is a
# conservative on-current for low-leakage devices [assumed]. Sets the driver width, hence its area.
DRIVER_CURRENT_A_PER_M = 0.5e-3 / 1e-6
# Driver footprint per unit width: gate + two diffusions + contacts ≈ 4 F along the channel [assumed].
DRIVER_LENGTH_F = 4.0
# The stochastic MTJ with its access transistor occupies one 1T-1MTJ footprint (NVMExplorer 54 F²) [code].
MTJ_CELL_AREA_F2 = 54.0


class MTJSpindrop(Component):
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

    kind = "dropout_source"
    model = "mtj_spindrop"

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
        self.write_current_a = float(write_current_a)
        self._sense = model_class("column_periphery", "sense_amp")(
            ctx, levels=2, sample_rate_hz=ctx.clock_hz, column_resistance_ohm=mtj.r_p_ohm(device),
            read_voltage_v=read_voltage_v)
        self._latch = model_class("register", "aladdin")(ctx, bits=1)

    @property
    def p_nominal(self) -> float:
        """Drop probability this module realizes with nominal device parameters."""
        return float(mtj.p_switch(self.device, self.write_current_a, self.write_pulse_s, self.ctx.temperature_k))

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
        reset = Action(vdd * self.reset_current_a * self.reset_pulse_s, self.reset_pulse_s)
        write = Action(vdd * self.write_current_a * self.write_pulse_s, self.write_pulse_s)
        r_mean = mtj.r_p_ohm(self.device) * (1 + 0.5 * mtj.tmr(self.device, self.read_voltage_v))
        read_e = (self.read_voltage_v ** 2 / r_mean * self.read_pulse_s + self._sense.action("convert").energy_j
                  + self._latch.action("write").energy_j)
        read = Action(read_e, max(self.read_pulse_s, self._sense.action("convert").latency_s))
        p_reset = 1.0 if self.reset_policy == "always" else self.p_nominal
        generate = Action(write.energy_j + read.energy_j + p_reset * reset.energy_j,
                          reset.latency_s + write.latency_s + read.latency_s)
        return {"reset": reset, "stochastic_write": write, "read": read, "generate": generate}
