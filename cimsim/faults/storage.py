"""Read disturb and retention of the crossbar's storage MTJs as a fault source (docs/analog.md "Read disturb and
retention").

Each storage MTJ of a chip instance flips with the probability its history gives it, drawn once per chip instance
(like the other faults, :mod:`cimsim.faults.inject`):

- **read disturb**: a read drives |I_r| = V_read / R_cell through the device; in the state that current
  destabilises (``faults.storage.disturbed_state``) one read flips it with P_1 =
  :func:`cimsim.components.mtj_thermal.read_disturb_probability` (the switching table's own P where it resolves it, its
  thermal tail below), and N reads with 1 − (1 − P_1)^N (each read starts from the re-equilibrated well);
- **retention**: both states escape at the zero-current Néel–Brown rate, so after t the device is found flipped
  with :func:`cimsim.components.mtj_thermal.retention_flip_probability` at the retention temperature.

A device in the disturbed state flips if exactly one of the two happens (independent events; the second-order
case of a disturbed device that thermally flips back is counted as flipped back). With ``variation.enabled``
every device has its own Δ and I_c0 (:func:`cimsim.components.mtj.sample_devices`), which matters: the flip
rates are exponential in Δ, so the low-Δ tail dominates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cimsim.components import mtj, mtj_thermal

__all__ = ["StorageFlips"]


@dataclass(frozen=True)
class StorageFlips:
    """The flip model of one chip's storage MTJs.

    Attributes:
        device: the storage MTJ's parameters.
        temperature_k: operating (read) temperature, K.
        retention_temperature_k: temperature of the time since programming, K.
        read_current_a: (low state, high state) read current through one device, A.
        read_pulse_s: one read's duration, s.
        reads: reads per device since programming.
        time_s: time since programming, s.
        disturbed_state: ``low`` or ``high``: the state the read current destabilises.
        sigmas: device variation (None: every device nominal).
    """

    device: mtj.MTJParams
    temperature_k: float
    retention_temperature_k: float
    read_current_a: tuple[float, float]
    read_pulse_s: float
    reads: float
    time_s: float
    disturbed_state: str
    sigmas: mtj.VariationSigmas | None = None

    def per_read(self, delta: np.ndarray | float | None = None,
                 ic0_a: np.ndarray | float | None = None) -> np.ndarray | float:
        """Read-disturb probability of one read of a device in the disturbed state (nominal without overrides)."""
        current = self.read_current_a[0 if self.disturbed_state == "low" else 1]
        return mtj_thermal.read_disturb_probability(self.device, current, self.read_pulse_s, self.temperature_k,
                                            delta=delta, ic0_a=ic0_a)

    def flip_probability(self, disturbed: np.ndarray, delta: np.ndarray | None = None,
                         ic0_a: np.ndarray | None = None) -> np.ndarray:
        """Flip probability of devices (``disturbed``: bool, whether each is in the disturbed state); ``delta`` and
        ``ic0_a`` are the devices' values at the operating temperature (None: nominal)."""
        disturbed = np.asarray(disturbed, dtype=bool)
        p_rd = np.zeros(disturbed.shape)
        if self.reads > 0:
            p1 = np.broadcast_to(np.asarray(self.per_read(delta, ic0_a), dtype=float), disturbed.shape)
            p_rd = np.where(disturbed, -np.expm1(self.reads * np.log1p(-np.minimum(p1, 1.0 - 1e-16))), 0.0)
            p_rd = np.where(disturbed & (p1 >= 1.0), 1.0, p_rd)
        p_ret = np.zeros(disturbed.shape)
        if self.time_s > 0:
            d_ret = None
            if delta is not None:  # the devices' own Delta, moved to the retention temperature
                d_ret = np.asarray(delta) * (float(mtj.delta(self.device, self.retention_temperature_k))
                                             / float(mtj.delta(self.device, self.temperature_k)))
            p_ret = np.broadcast_to(np.asarray(mtj_thermal.retention_flip_probability(
                self.device, self.time_s, self.retention_temperature_k, delta=d_ret), dtype=float), disturbed.shape)
        return p_rd * (1.0 - p_ret) + p_ret * (1.0 - p_rd)

    def flips(self, programmed: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(flipped, p): which devices of ``programmed`` (±1 per device, +1 = low state) flipped, and each one's
        probability; device parameters drawn from ``rng`` when ``sigmas`` is set, then one uniform per device."""
        low = np.asarray(programmed) > 0
        disturbed = low if self.disturbed_state == "low" else ~low
        delta = ic0 = None
        if self.sigmas is not None:
            dev = mtj.sample_devices(self.device, self.sigmas, disturbed.size, rng, self.temperature_k)
            delta, ic0 = dev.delta.reshape(disturbed.shape), dev.ic0_a.reshape(disturbed.shape)
        p = self.flip_probability(disturbed, delta, ic0)
        return rng.random(disturbed.shape) < p, p
