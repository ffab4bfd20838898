"""The arch's ``faults:`` section: what is broken on a chip instance, and the lifetime question asked of it.

Faults are sampled once per chip instance from the run seed (or ``faults.seed``), like device variation, and act
in the functional run (docs/dependability.md):

- ``dropout_modules``: stuck-at-drop (p = 1), stuck-at-keep (p = 0) and shifted p (p·factor + Δp, clipped to
  [0, 1]), each as a random fraction of the modules and/or named modules (layer + index); the fault model of the
  SpinDrop testing paper (Ahmed et al., arXiv:2401.04744: shifted p from process, temperature or ageing, and
  modules that always or never drop);
- ``cells``: crossbar MTJ devices stuck in the low- or high-resistance state, as fractions of the devices;
- ``storage``: read disturb and retention of the storage MTJs (reads per device and time since programming);
- ``converters``: an input-referred offset of every column converter in LSB (a systematic part and a per-converter
  Gaussian part).

``lifetime`` sets the question the endurance model answers (docs/dependability.md "Lifetime"): the fraction of
dropout modules whose failure ends the chip's useful life, and the inference rate (default: the throughput).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from cimsim.spec.common import Spec

ModuleFault = Literal["stuck_at_drop", "stuck_at_keep", "shifted"]


class NamedModuleFault(Spec):
    """One named faulty module (applied after, and instead of, any random fault of the same module)."""

    layer: str = Field(description="layer whose input rows the module gates (a dropout layer of the workload)")
    index: int = Field(ge=0, description="module index within the layer (0 … modules − 1; `cimsim run` lists modules)")
    fault: ModuleFault = Field(description="stuck_at_drop: p = 1; stuck_at_keep: p = 0; shifted: p·p_factor + delta_p")
    delta_p: float = Field(default=0.0, ge=-1, le=1, description="shifted: added to the module's p")
    p_factor: float = Field(default=1.0, ge=0, le=100, description="shifted: multiplies the module's p")


class DropoutModuleFaults(Spec):
    stuck_at_drop: float = Field(default=0.0, ge=0, le=1, description="fraction of modules stuck at drop (p = 1)")
    stuck_at_keep: float = Field(default=0.0, ge=0, le=1, description="fraction of modules stuck at keep (p = 0)")
    shifted: float = Field(default=0.0, ge=0, le=1, description="fraction of modules with a shifted p")
    delta_p: float = Field(default=0.0, ge=-1, le=1, description="random shifted modules: added to p")
    p_factor: float = Field(default=1.0, ge=0, le=100, description="random shifted modules: multiplies p (before delta_p)")
    layers: list[str] | None = Field(default=None, description="layers the random fractions apply to; None: every "
                                                               "dropout layer")
    named: list[NamedModuleFault] = Field(default_factory=list, description="individually named faulty modules")

    @model_validator(mode="after")
    def _fractions_sum_to_at_most_one(self) -> DropoutModuleFaults:
        total = self.stuck_at_drop + self.stuck_at_keep + self.shifted
        if total > 1.0 + 1e-12:
            raise ValueError(f"stuck_at_drop + stuck_at_keep + shifted = {total:g}; a module has one fault, so "
                             "the fractions must add up to at most 1")
        return self

    @property
    def any(self) -> bool:
        return bool(self.stuck_at_drop or self.stuck_at_keep or (self.shifted and (self.delta_p or self.p_factor != 1))
                    or self.named)


class CellFaults(Spec):
    stuck_lrs: float = Field(default=0.0, ge=0, le=1, description="fraction of crossbar MTJs stuck in the "
                                                                   "low-resistance (parallel) state")
    stuck_hrs: float = Field(default=0.0, ge=0, le=1, description="fraction of crossbar MTJs stuck in the "
                                                                   "high-resistance (antiparallel) state")

    @model_validator(mode="after")
    def _fractions_sum_to_at_most_one(self) -> CellFaults:
        if self.stuck_lrs + self.stuck_hrs > 1.0 + 1e-12:
            raise ValueError("stuck_lrs + stuck_hrs must be at most 1 (a device is stuck in one state)")
        return self

    @property
    def any(self) -> bool:
        return bool(self.stuck_lrs or self.stuck_hrs)


class ConverterFaults(Spec):
    offset_lsb: float = Field(default=0.0, ge=-64, le=64, description="input-referred offset of every column "
                                                                     "converter, LSB (systematic)")
    offset_sigma_lsb: float = Field(default=0.0, ge=0, le=64, description="per-converter Gaussian offset, σ in LSB")

    @property
    def any(self) -> bool:
        return bool(self.offset_lsb or self.offset_sigma_lsb)


class StorageAging(Spec):
    """Read disturb and retention of the crossbar's storage MTJs since the weights were programmed
    (docs/analog.md "Read disturb and retention"): each device flips with the probability its reads and the elapsed
    time give it, sampled once per chip instance like the other faults."""

    reads_per_device: float = Field(default=0.0, ge=0, le=1e18,
                                    description="reads each storage MTJ has had since programming (read disturb)")
    inferences_since_programming: float = Field(
        default=0.0, ge=0, le=1e18,
        description="inferences the chip has served since programming: each adds the workload's mc_passes reads "
                    "per device (every row is read once per pass; an upper bound, a 2T-2MTJ device is read only when "
                    "the input selects it and a dropped row not at all), on top of reads_per_device")
    time_since_programming_s: float = Field(default=0.0, ge=0, le=1e10,
                                            description="time since programming, s (retention; 3.15e8 s = 10 years)")
    retention_temperature_k: float | None = Field(
        default=None, ge=200, le=420, description="temperature the chip spent that time at, K; None: "
                                                  "technology.temperature_k")
    disturbed_state: Literal["low", "high"] = Field(
        default="low", description="the state the read current destabilises: low (parallel; the larger read current, "
                                   "the worst case [assumed]) or high (antiparallel)")

    @property
    def any(self) -> bool:
        return bool(self.reads_per_device or self.inferences_since_programming or self.time_since_programming_s)


class LifetimeSpec(Spec):
    failed_fraction: float = Field(default=0.01, gt=0, lt=1,
                                   description="report the time by which this expected fraction of the dropout "
                                               "modules has worn out (besides the first module's median lifetime)")
    inference_rate_per_s: float | None = Field(default=None, gt=0,
                                               description="inferences per second the chip serves; None: its "
                                                           "throughput (always busy, the worst case)")
    count: Literal["writes_and_resets", "writes"] = Field(
        default="writes_and_resets", description="which current pulses wear the MTJ barrier: the stochastic write "
                                                 "and the reset (both drive a current through the MgO), or the "
                                                 "stochastic writes alone")


class FaultsSpec(Spec):
    """Faults injected into a chip instance, and the lifetime question (see the module docstring)."""

    seed: int | None = Field(default=None, ge=0, description="seed of the fault draw; None: the run seed")
    dropout_modules: DropoutModuleFaults = Field(default_factory=DropoutModuleFaults)
    cells: CellFaults = Field(default_factory=CellFaults)
    converters: ConverterFaults = Field(default_factory=ConverterFaults)
    storage: StorageAging = Field(default_factory=StorageAging)
    lifetime: LifetimeSpec = Field(default_factory=LifetimeSpec)

    @property
    def any(self) -> bool:
        """Whether any fault is injected."""
        return self.dropout_modules.any or self.cells.any or self.converters.any or self.storage.any
