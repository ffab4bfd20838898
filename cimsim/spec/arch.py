"""Architecture spec: chip, tiles, crossbars, cells, column periphery, Spindrop modules, digital periphery,
buffers, interconnect, controller, technology and clock.

Units are SI and named in every field (``_m``, ``_s``, ``_a``, ``_v``, ``_hz``, ``_k``, ``_j``); the few
non-SI fields say so (``node_nm``, ``area_f2``, ``_kib``). Defaults carry their source in the field
description; tags follow docs/REFERENCES.md: [code] read in public code, [lit] literature, [derived]
computed from sourced values, [assumed] a stated assumption.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from cimsim.spec.common import Spec


class TechnologySpec(Spec):
    node_nm: float = Field(default=28.0, ge=7.0, le=130.0,
                           description="CMOS node, nm. 28 nm: the node of the STT-MRAM CiM macros in "
                                       "REFERENCES §7 (Cai ISSCC'23, Jung Nature'22) [page]")
    vdd_v: float = Field(default=0.9, ge=0.5, le=1.5, description="logic supply, V [assumed: 28 nm nominal]")
    temperature_k: float = Field(default=300.0, ge=200.0, le=420.0,
                                 description="operating temperature, K (utinclab T = 300) [code]")


class ClockSpec(Spec):
    frequency_hz: float = Field(default=1.0e9, gt=1e6, le=5e9,
                                description="controller clock, Hz; 1 GHz so a 1 ns MLSA decision is one cycle "
                                            "(NeuroSim MLSA latency 1 ns) [code]")


class MTJSpec(Spec):
    """One MTJ device type (REFERENCES §1.2)."""

    diameter_m: float = Field(default=40e-9, ge=10e-9, le=200e-9, description="free-layer diameter, m (NYU device 40 nm) [code]")
    free_layer_thickness_m: float = Field(default=1.3e-9, ge=0.5e-9, le=5e-9, description="m (Zhang 2012) [lit]")
    ra_ohm_m2: float = Field(default=5e-12, gt=0, le=1e-10, description="resistance-area product, Ω·m² (5 Ω·µm²) [code-excerpt]")
    tmr0: float = Field(default=1.2, gt=0, le=5, description="zero-bias TMR (120 %) [code]")
    vh_v: float = Field(default=0.5, gt=0, le=2, description="TMR half-bias voltage, V (utinclab Vh) [code]")
    delta_ref: float = Field(default=60.0, ge=5, le=150, description="thermal stability at t_ref_k (retention criterion) [lit]")
    ic0_ref_a: float = Field(default=50e-6, gt=0, le=1e-3, description="critical switching current at t_ref_k, A [derived]")
    tau0_s: float = Field(default=1e-9, gt=0, le=1e-6, description="attempt time, s [lit]; swept per Soumah 2024")
    alpha: float = Field(default=0.01, gt=0, le=0.2, description="Gilbert damping [code]")
    polarization: float = Field(default=0.6, gt=0, lt=1, description="spin polarisation (utinclab P) [code]")
    mu0_hk_t: float = Field(default=0.5, gt=0, le=5, description="anisotropy field μ0·H_k, T (REFERENCES §1.1 worked example) [derived]")
    thermal_exponent: float = Field(default=1.0, ge=1.0, le=2.0, description="exponent of (1 − I/I_c0) in the Néel–Brown law [lit]")
    switching_model: Literal["sllg_table", "analytic"] = Field(
        default="sllg_table",
        description="sllg_table: P_sw from the shipped stochastic-LLG macrospin table (cmtj; docs/mtj_model.md); "
                    "analytic: Néel–Brown / Butler closed forms, warns outside their validity")


def _dropout_mtj() -> MTJSpec:
    # A relaxed-retention device for the stochastic write: Δ = 40 [assumed, REFERENCES §1.2], with
    # I_c0 scaled by the same E_b ratio (I_c0 ∝ Δ, REFERENCES §1.1): 50 µA × 40/60 = 33.3 µA [derived].
    return MTJSpec(delta_ref=40.0, ic0_ref_a=50e-6 * 40.0 / 60.0)


class MTJDevicesSpec(Spec):
    storage: MTJSpec = Field(default_factory=MTJSpec, description="weight-storage MTJs of the crossbar")
    dropout: MTJSpec = Field(default_factory=_dropout_mtj, description="stochastic MTJs of the Spindrop modules")
    t_ref_k: float = Field(default=300.0, ge=200, le=420, description="temperature the *_ref values hold at, K")


class CellSpec(Spec):
    type: Literal["2T2MTJ", "1T1MTJ"] = Field(
        default="2T2MTJ", description="2T2MTJ: complementary pair, XNOR in the cell (Hirtzlin NANOARCH'19) [page]; "
                                      "1T1MTJ: one device per weight plus a reference column per array")
    area_f2_per_device: float = Field(default=54.0, ge=10, le=200,
                                      description="1T-1MTJ footprint, F² (NVMExplorer STT cell 54 F²) [code]")
    r_access_ohm: float = Field(default=3.7e3, ge=0, le=1e5,
                                description="access-transistor on-resistance, Ω: NVSim cell drops 0.15 V at 40.82 µA "
                                            "→ 3.7 kΩ [derived]")
    write_current_a: float = Field(default=80e-6, gt=0, le=1e-3, description="weight programming current, A (NVMExplorer 80 µA) [code]")
    write_pulse_s: float = Field(default=10e-9, gt=0, le=1e-6, description="weight programming pulse, s (NVMExplorer 10 ns) [code]")


class CrossbarSpec(Spec):
    rows: int = Field(default=128, ge=8, le=4096, description="word lines per array")
    cols: int = Field(default=128, ge=8, le=4096, description="bit lines (weights columns) per array")
    rows_active: int = Field(default=16, ge=1, le=512,
                             description="rows driven at once (a row group); SpinDrop group drives 8 or 16 (SPINDROP.md)")
    read_voltage_v: float = Field(default=0.1, gt=0, le=0.5, description="bit-line read voltage, V (REFERENCES §8) [derived]")
    read_pulse_s: float = Field(default=1e-9, gt=0, le=1e-7,
                                description="row-group read (sense) window, s; MLSA decides in 1 ns [code]")
    wire_cap_f_per_m: float = Field(default=2e-10, gt=0, le=1e-9, description="WL/BL wire capacitance, F/m (hwcomponents Wire) [code]")

    @model_validator(mode="after")
    def _groups_tile_rows(self) -> CrossbarSpec:
        if self.rows_active > self.rows:
            raise ValueError(f"rows_active ({self.rows_active}) must not exceed rows ({self.rows})")
        if self.rows % self.rows_active:
            raise ValueError(f"rows ({self.rows}) must be a multiple of rows_active ({self.rows_active}) "
                             "so row groups never straddle an array")
        return self


class ColumnPeripherySpec(Spec):
    model: str = Field(default="mlsa", description="mlsa | sense_amp | neurosim_sar | murmann_survey (see `cimsim models`)")
    levels: int | None = Field(default=None, ge=2, le=4097,
                               description="output codes of an mlsa; None: 2·rows_active+1 (exact) [SPINDROP.md]")
    bits: int | None = Field(default=None, ge=1, le=12, description="resolution of an ADC model, bits")
    columns_per_converter: int = Field(default=1, ge=1, le=256, description="columns time-sharing one converter")
    full_scale_rows: int | None = Field(default=None, ge=1,
                                        description="partial sums beyond ±full_scale_rows clip; None: rows_active")
    sample_rate_hz: float | None = Field(default=None, gt=0, description="ADC sample rate, Hz; None: the clock")


class SpindropSpec(Spec):
    model: str = Field(default="mtj_spindrop", description="mtj_spindrop (stochastic MTJ write) | lfsr (CMOS LFSR + comparator)")
    granularity: Literal["row", "channel", "layer_scale"] = Field(
        default="row", description="row: SpinDrop; channel: Spatial-SpinDrop; layer_scale: Scale-Dropout. The "
                                    "default for workloads that name none; a workload's dropout.granularity wins "
                                    "(row-wired modules can gate a channel's rows together)")
    rows_per_module: int = Field(default=1, ge=1, le=4096,
                                 description="row granularity: rows (channel: channels) one module serves, time-multiplexed")
    target_p: float | None = Field(default=None, gt=0, lt=1,
                                   description="drop probability the write current is tuned for; None: the workload's p")
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
    lfsr_bits: int = Field(default=16, ge=4, le=64, description="lfsr model: register length (16-b LFSR, REFERENCES §6)")
    comparator_bits: int = Field(default=8, ge=2, le=16, description="lfsr model: bits compared against p")


class VariationSpec(Spec):
    enabled: bool = Field(default=False, description="sample device-to-device variation once per chip instance")
    ra_sigma_rel: float = Field(default=0.05, ge=0, le=0.5,
                                description="σ/µ of RA [assumed]: no published array-level σ found (REFERENCES §10)")
    tmr_sigma_rel: float = Field(default=0.05, ge=0, le=0.5,
                                 description="σ/µ of TMR [assumed]: no published array-level σ found (REFERENCES §10)")
    diameter_sigma_rel: float = Field(default=0.02, ge=0, le=0.5,
                                      description="σ/µ of the pillar diameter: E_b and I_c0 scale with d², so "
                                                  "σ_d ≤ σ_Ic0/2 = 2.2 % [derived from Worledge IEDM 2010]")
    delta_sigma_rel: float = Field(default=0.12, ge=0, le=0.5,
                                   description="σ/µ of Δ: 9.6–14.3 % on a 16-kbit top-pinned p-MTJ array (\"Area "
                                               "dependence of thermal stability factor in perpendicular STT-MRAM "
                                               "analyzed by bi-directional data flipping model\", 2014) [page]")
    ic0_sigma_rel: float = Field(default=0.044, ge=0, le=0.5,
                                 description="σ/µ of I_c0: device-to-device σ(V_c)/V_c = 4.4 % on IBM perpendicular "
                                             "4-kbit arrays (Worledge et al., IEDM 2010, doi 10.1109/IEDM.2010.5703349) [page]")
    write_current_sigma_rel: float = Field(default=0.05, ge=0, le=0.5,
                                           description="σ/µ of each module's write-driver current: Pelgrom's law "
                                                       "(JSSC 1989) [lit] with A_VT = 1.5 mV·µm [lit] on a 1×0.1 µm "
                                                       "mirror at V_ov = 0.2 V gives 4.7–6.7 % [derived]")
    sense_noise_sigma_lsb: float = Field(default=0.0, ge=0, le=10,
                                         description="Gaussian noise on each column read, in units of one popcount step")


class DigitalSpec(Spec):
    accumulator_bits: int = Field(default=16, ge=4, le=64, description="partial-sum accumulator width, bits")
    adder_cycles: int = Field(default=1, ge=1, le=64, description="cycles of one accumulate / adder-tree level")


class BufferSpec(Spec):
    local_kib: float = Field(default=16.0, gt=0, le=65536, description="per-tile activation buffer, KiB")
    global_kib: float = Field(default=256.0, gt=0, le=1048576, description="chip buffer for inputs and outputs, KiB")
    port_width_bits: int = Field(default=128, ge=8, le=4096, description="bits per buffer access")
    ports: int = Field(default=1, ge=1, le=16, description="access ports per buffer (a contended resource)")


class InterconnectSpec(Spec):
    bus_width_bits: int = Field(default=128, ge=8, le=4096, description="bits moved per bus cycle")
    hop_length_m: float = Field(default=1e-3, gt=0, le=0.05, description="average tile-to-tile wire length, m [assumed: ~1 mm tile pitch]")
    channels: int = Field(default=1, ge=1, le=64, description="independent bus channels (a contended resource)")


class ChipSpec(Spec):
    tiles: int = Field(default=4, ge=1, le=4096, description="tiles on the chip")
    arrays_per_tile: int = Field(default=4, ge=1, le=256, description="crossbar arrays per tile")
    power_gate_unused: bool = Field(default=False,
                                    description="charge leakage only for tiles the mapping uses (idle tiles "
                                                "power-gated); false charges every provisioned instance, as NeuroSim")


class ControllerSpec(Spec):
    schedule: Literal["sequential", "layer_pipelined", "replicated"] = Field(
        default="sequential", description="how MC passes are issued (DESIGN.md §2)")
    replicas: int = Field(default=1, ge=1, le=64, description="copies of the weights (replicated schedule)")
    inputs_in_flight: int = Field(default=1, ge=1, le=1024, description="inputs whose passes may overlap")

    @model_validator(mode="after")
    def _replicas_need_policy(self) -> ControllerSpec:
        if self.replicas > 1 and self.schedule != "replicated":
            raise ValueError("replicas > 1 needs schedule: replicated")
        return self


class ArchSpec(Spec):
    name: str = "arch"
    technology: TechnologySpec = Field(default_factory=TechnologySpec)
    clock: ClockSpec = Field(default_factory=ClockSpec)
    mtj: MTJDevicesSpec = Field(default_factory=MTJDevicesSpec)
    cell: CellSpec = Field(default_factory=CellSpec)
    crossbar: CrossbarSpec = Field(default_factory=CrossbarSpec)
    column_periphery: ColumnPeripherySpec = Field(default_factory=ColumnPeripherySpec)
    spindrop: SpindropSpec = Field(default_factory=SpindropSpec)
    variation: VariationSpec = Field(default_factory=VariationSpec)
    digital: DigitalSpec = Field(default_factory=DigitalSpec)
    buffer: BufferSpec = Field(default_factory=BufferSpec)
    interconnect: InterconnectSpec = Field(default_factory=InterconnectSpec)
    chip: ChipSpec = Field(default_factory=ChipSpec)
    controller: ControllerSpec = Field(default_factory=ControllerSpec)
