"""Architecture spec: chip, tiles, crossbars, cells, column periphery, Spindrop modules, digital periphery,
buffers, interconnect, controller, technology and clock.

Units are SI and named in every field (``_m``, ``_s``, ``_a``, ``_v``, ``_hz``, ``_k``, ``_j``); the few
non-SI fields say so (``node_nm``, ``area_f2``, ``_kib``). Defaults carry their source in the field
description; tags follow docs/REFERENCES.md: [code] read in public code, [lit] literature, [derived]
computed from sourced values, [assumed] a stated assumption.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from cimsim.spec.common import Spec
from cimsim.spec.faults import FaultsSpec
from cimsim.spec.sections import ComponentSection


class TechnologySpec(Spec):
    node_nm: float = Field(default=28.0, ge=7.0, le=130.0,
                           description="CMOS node, nm. 28 nm: the node of the STT-MRAM CiM macros in "
                                       "REFERENCES §7 (Cai ISSCC'23, Jung Nature'22) [page]")
    vdd_v: float = Field(default=0.9, ge=0.5, le=1.5, description="logic supply, V [assumed: 28 nm nominal]")
    temperature_k: float = Field(default=300.0, ge=200.0, le=420.0,
                                 description="operating temperature, K (utinclab T = 300) [code]")
    periphery_devices: Literal["hp", "lstp"] = Field(
        default="lstp", description="transistors of the array periphery (decoders, word-line drivers, clamps, "
                                    "write drivers, column muxes): ITRS LSTP (low standby power) or HP, NVSim's "
                                    "tables. LSTP by default: thousands of word-line drivers idle between row "
                                    "groups, so an edge BNN chip is built from low-leakage devices [assumed]; "
                                    "HP is what NVSim's sample runs use (docs/validation.md)")


class ClockSpec(Spec):
    frequency_hz: float = Field(default=1.0e9, gt=1e6, le=5e9,
                                description="controller clock, Hz; 1 GHz so a 1 ns MLSA decision is one cycle "
                                            "(NeuroSim MLSA latency 1 ns) [code]")


class MTJSpec(Spec):
    """One MTJ device type (REFERENCES §1.2)."""

    diameter_m: float = Field(default=40e-9, ge=10e-9, le=200e-9, description="free-layer diameter, m (NYU device 40 nm) [code]")
    free_layer_thickness_m: float = Field(default=1.3e-9, ge=0.5e-9, le=5e-9, description="m (Zhang 2012) [lit]")
    ra_ohm_m2: float = Field(default=5e-12, ge=1e-13, le=1e-10, description="resistance-area product, Ω·m² (5 Ω·µm²) [code-excerpt]; ≥ 0.1 Ω·µm², below the lowest "
                                                                              "MgO barriers reported (≈ 0.5–1 Ω·µm²) [lit]")
    tmr0: float = Field(default=1.2, gt=0, le=5, description="zero-bias TMR (120 %) [code]")
    vh_v: float = Field(default=0.5, gt=0, le=2, description="TMR half-bias voltage, V (utinclab Vh) [code]")
    delta_ref: float = Field(default=60.0, ge=5, le=150, description="thermal stability at t_ref_k (retention criterion) [lit]")
    ic0_ref_a: float = Field(default=50e-6, gt=0, le=1e-3, description="critical switching current at t_ref_k, A [derived]")
    tau0_s: float = Field(default=1e-9, gt=0, le=1e-6, description="attempt time, s [lit]; swept per Soumah 2024")
    alpha: float = Field(default=0.01, gt=0, le=0.2, description="Gilbert damping [code]")
    polarization: float = Field(default=0.6, gt=0, lt=1, description="spin polarisation (utinclab P) [code]")
    mu0_hk_t: float = Field(default=0.5, gt=0, le=5, description="anisotropy field μ0·H_k, T (REFERENCES §1.1 worked example) [derived]")
    thermal_exponent: float = Field(default=1.0, ge=1.0, le=2.0, description="exponent of (1 − I/I_c0) in the Néel–Brown law [lit]")
    eb_ms_exponent: float = Field(
        default=1.804, ge=0, le=4,
        description="n in K(T) ∝ Ms(T)^n: E_b and I_c0 scale as Ms^n, H_k as Ms^(n−1) (utinclab joule_heating.f90 "
                    "1.804 [code]; Callen–Callen gives 2 for interface and 3 for bulk uniaxial anisotropy [lit]); "
                    "0 keeps E_b and I_c0 independent of T (Δ ∝ 1/T)")
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
    chips: int = Field(default=1, ge=1, le=1000,
                       description="functional Monte-Carlo over this many sampled chip instances (device variation "
                                   "drawn per chip from the seed and chip index); reports mean ± std and module_p.csv")


#: Most tiles a chip may have (also the bound on ``tiles: auto``).
MAX_TILES = 4096


#: Array-level blocks a container level may hold instead of its arrays (one bank per container).
SHAREABLE = ("column_periphery", "accumulator", "dropout_source")
#: Names a container level may not take (the tree's own containers and its component instances).
RESERVED_NAMES = ("chip", "tile", "array", "crossbar", "global_buffer", "local_buffer", "interconnect", "controller",
                  "adder_tree", "comparator", *SHAREABLE)


class LevelSpec(Spec):
    """A container between the tile and its arrays (e.g. a macro of arrays sharing one converter bank)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="the level's name in reports (e.g. macro)")
    arrays: int = Field(ge=1, le=256, description="arrays in one container of this level")
    shares: list[Literal["column_periphery", "accumulator", "dropout_source"]] = Field(
        default_factory=list, description="array-level blocks this level holds once per container instead of "
                                          "once per array (their count per container is what one array had)")


class ChipSpec(Spec):
    tiles: Annotated[int, Field(ge=1, le=MAX_TILES)] | Literal["auto"] = Field(
        default=4, description="tiles on the chip; auto: the fewest that map the workload (× replicas), settled "
                               "by cimsim.resolve")
    arrays_per_tile: int = Field(default=4, ge=1, le=256, description="crossbar arrays per tile")
    power_gate_unused: bool = Field(default=False,
                                    description="charge leakage only for tiles the mapping uses (idle tiles "
                                                "power-gated); false charges every provisioned instance, as NeuroSim")
    levels: list[LevelSpec] = Field(
        default_factory=list, description="containers between a tile and its arrays, outermost first; each "
                                          "level's arrays divide the enclosing one's (docs/architecture.md, the chip "
                                          "tree)")

    @model_validator(mode="after")
    def _levels_nest(self) -> ChipSpec:
        outer, name_outer, seen, shared = self.arrays_per_tile, "chip.arrays_per_tile", set(), set()
        for i, lv in enumerate(self.levels):
            if lv.name in RESERVED_NAMES or lv.name in seen:
                raise ValueError(f"levels[{i}].name {lv.name!r} is taken (reserved: {', '.join(RESERVED_NAMES)}; "
                                 "level names are unique)")
            if outer % lv.arrays:
                raise ValueError(f"levels[{i}].arrays ({lv.arrays}) must divide {name_outer} ({outer})")
            if set(lv.shares) & shared:
                raise ValueError(f"levels[{i}].shares: {sorted(set(lv.shares) & shared)} already shared by an "
                                 "outer level")
            seen.add(lv.name)
            shared |= set(lv.shares)
            outer, name_outer = lv.arrays, f"levels[{i}].arrays"
        return self


def _section(kind: str, default_model: str, **defaults: Any) -> Any:
    """A component section: validated by the Params of the model it names; ``defaults`` are this slot's
    own defaults (e.g. the size of the global buffer), applied under what the YAML gives."""
    sec = ComponentSection(kind, default_model, defaults)
    return Field(default_factory=sec.default, description=f"{kind} section: `model` ({default_model} by default; "
                 "`cimsim models` lists the others) and that model's parameters"), sec


_CROSSBAR, _CROSSBAR_T = _section("crossbar", "stt_mram")
_COLUMN, _COLUMN_T = _section("column_periphery", "mlsa")
_DROPOUT, _DROPOUT_T = _section("dropout_source", "mtj_spindrop")
_ACC, _ACC_T = _section("accumulator", "aladdin")
_TREE, _TREE_T = _section("adder_tree", "aladdin")
_CMP, _CMP_T = _section("comparator", "aladdin")
# Buffer sizes [assumed]: 16 KiB per tile holds the activations of the layers a tile serves; the 256 KiB
# chip buffer holds inputs and logits of a batch (docs/REFERENCES.md §5.1 prices them per access).
_LBUF, _LBUF_T = _section("buffer", "sram", size_kib=16.0)
_GBUF, _GBUF_T = _section("buffer", "sram", size_kib=256.0)
_BUS, _BUS_T = _section("interconnect", "wire_bus")
_CTRL, _CTRL_T = _section("controller", "fsm")


class ArchSpec(Spec):
    """The chip. Each component section is named after the component instance it builds (``cimsim
    describe`` rows); ``model`` selects its cost model and which fields it takes."""

    name: str = "arch"
    technology: TechnologySpec = Field(default_factory=TechnologySpec)
    clock: ClockSpec = Field(default_factory=ClockSpec)
    mtj: MTJDevicesSpec = Field(default_factory=MTJDevicesSpec)
    cell: CellSpec = Field(default_factory=CellSpec)
    variation: VariationSpec = Field(default_factory=VariationSpec)
    chip: ChipSpec = Field(default_factory=ChipSpec)
    crossbar: Annotated[Spec, _CROSSBAR_T] = _CROSSBAR
    column_periphery: Annotated[Spec, _COLUMN_T] = _COLUMN
    spindrop: Annotated[Spec, _DROPOUT_T] = _DROPOUT
    accumulator: Annotated[Spec, _ACC_T] = _ACC
    adder_tree: Annotated[Spec, _TREE_T] = _TREE
    comparator: Annotated[Spec, _CMP_T] = _CMP
    local_buffer: Annotated[Spec, _LBUF_T] = _LBUF
    global_buffer: Annotated[Spec, _GBUF_T] = _GBUF
    interconnect: Annotated[Spec, _BUS_T] = _BUS
    controller: Annotated[Spec, _CTRL_T] = _CTRL
    faults: FaultsSpec = Field(default_factory=FaultsSpec, description="injected faults and the lifetime question (docs/dependability.md)")


def component_sections() -> dict[str, ComponentSection]:
    """Arch section name → its :class:`ComponentSection` (kind and default model), in declaration order."""
    out = {}
    for name, f in ArchSpec.model_fields.items():
        for meta in f.metadata:
            if isinstance(meta, ComponentSection):
                out[name] = meta
    return out


# ------------------------------------------------------------------------------------------------------
# the chip tree (docs/architecture.md "The chip tree"): containers with fan-outs, in the manner of
# Timeloop/CiMLoop containers and Accelergy components
# ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TreeNode:
    """One declared node of the chip tree.

    Attributes:
        name: the instance name reports use (``crossbar``, ``column_periphery`` ...) or a container's name
            (``chip``, ``tile``, ``array``, a level of ``chip.levels``).
        fanout: copies per parent: an integer, or an expression over the chip's built components,
            ``"<instance>.<attribute>"`` joined by ``*`` and ``/`` (``/`` rounds up: a shared block serves at
            most its divisor), e.g. ``"crossbar.cols / column_periphery.columns_per_converter"``.
        section: the arch section whose model builds the component (None: a container). A component's own
            parts (:meth:`cimsim.components.base.Component.parts`) become its children when the chip is built.
        children: the nodes inside it.
        gated: power-gated as a unit when ``chip.power_gate_unused`` (the tiles).
    """

    name: str
    fanout: int | str
    section: str | None = None
    children: tuple[TreeNode, ...] = ()
    gated: bool = False


def chip_tree(arch: ArchSpec) -> TreeNode:
    """The chip as one declared tree: chip → tiles × N → [levels] → arrays × M → the array's blocks, with
    per-tile buffer and reduction, and chip-level buffer, bus and controller. ``chip.tiles`` must be settled
    (not ``auto``)."""
    chip = arch.chip
    per_array = {
        "column_periphery": TreeNode("column_periphery", "crossbar.cols / column_periphery.columns_per_converter",
                                     "column_periphery"),
        "dropout_source": TreeNode("dropout_source", "dropout_source.modules_per_array", "spindrop"),
        "accumulator": TreeNode("accumulator", "crossbar.cols", "accumulator"),
    }
    shared = {name for lv in chip.levels for name in lv.shares}
    inner: TreeNode = TreeNode("array", chip.levels[-1].arrays if chip.levels else chip.arrays_per_tile, children=(
        TreeNode("crossbar", 1, "crossbar"), *(n for k, n in per_array.items() if k not in shared)))
    outer_arrays = [chip.arrays_per_tile] + [lv.arrays for lv in chip.levels]
    for i in range(len(chip.levels) - 1, -1, -1):
        lv = chip.levels[i]
        own = tuple(per_array[k] for k in lv.shares)
        inner = TreeNode(lv.name, outer_arrays[i] // lv.arrays, children=(*own, inner))
    tile = TreeNode("tile", int(chip.tiles), gated=True, children=(
        TreeNode("local_buffer", 1, "local_buffer"), TreeNode("adder_tree", "crossbar.cols", "adder_tree"),
        TreeNode("comparator", "crossbar.cols", "comparator"), inner))
    return TreeNode("chip", 1, children=(
        TreeNode("global_buffer", 1, "global_buffer"), TreeNode("interconnect", "interconnect.channels", "interconnect"),
        TreeNode("controller", 1, "controller"), tile))
