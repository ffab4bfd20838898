"""NVSim's sample STT-MRAM cell as a cimsim architecture, and NVSim's own numbers for its subarrays.

NVSim (SEAL-UCSB/NVSim commit 6334d00, built with g++ -std=c++11) was run on the unmodified
``sample_STTRAM.cell`` with a one-bank, one-mat, one-subarray RAM whose word is a whole row (no column mux), 300 K,
local-aggressive wires, latency-optimised buffers, over a grid of subarray sizes (64×64 … 1024×256), nodes
(22–90 nm) and both device roadmaps cimsim has (HP, LSTP). ``data/nvsim_grid.json`` holds the exact .cfg template,
the cell file and NVSim's printed totals of every run (docs/validation.md "NVSim grid"); no NVSim code, binary or
build recipe is kept in this repository.

The arch that describes NVSim's cell at a node takes its node-dependent numbers (supply, the 8 F access
transistor's on-resistance, the local wire's capacitance) from :mod:`cimsim.components.periphery_tech`, whose
tables are NVSim's own (``Technology.cpp``, ``Wire.cpp``), so one fact lives in one place.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from cimsim.components import mtj
from cimsim.components.base import Context
from cimsim.components.periphery_tech import device_params
from cimsim.components.subarray import MemoryModeCost, SubarrayParams, memory_mode
from cimsim.spec.arch import ArchSpec
from cimsim.spec.loader import load_arch

#: NVSim sample cell: R_on 3 kΩ, R_off 6 kΩ, read 0.25 V, 80 µA / 10 ns writes, 54 F², 8 F access NMOS
#: [code: sample_STTRAM.cell].
R_ON_OHM, R_OFF_OHM, READ_V, WRITE_I_A, WRITE_T_S, CELL_F2, ACCESS_WIDTH_F = 3000.0, 6000.0, 0.25, 80e-6, 10e-9, 54.0, 8.0
#: The first validated subarray (issue 9): 256 rows × 128 columns, one 128-bit word.
ROWS, COLS, WORD_BITS = 256, 128, 128
#: MTJ diameter used to express R_on as an RA product, m (cimsim's default device; only RA/area matters).
DIAMETER_M = 40e-9
#: TMR half-bias voltage, V: the schema's maximum, so TMR at 0.25 V is 98.5 % of TMR0 (NVSim's R_off is
#: bias-independent; this is the closest the YAML allows).
VH_V = 2.0
#: The quantities compared: NVSim grid key → (MemoryModeCost attribute, unit, what it is).
QUANTITIES = {"read_energy_j": ("read_energy_j", "J", "one row, one word"),
              "write_energy_j": ("write_energy_j", "J", "one word"),
              "read_latency_s": ("read_latency_s", "s", "decode to sense-amp output"),
              "area_m2": ("area_m2", "m²", "NVSim total (subarray + mat predecoders)"),
              "leakage_w": ("leakage_w", "W", "static power of the subarray periphery")}


@lru_cache(maxsize=1)
def grid_data() -> dict[str, Any]:
    """The stored NVSim grid (``data/nvsim_grid.json``): inputs, provenance and ``runs``."""
    path = resources.files("cimsim.validation") / "data" / "nvsim_grid.json"
    return json.loads(path.read_text(encoding="utf-8"))


def nvsim_run(node_nm: int, roadmap: str = "hp", rows: int = ROWS, cols: int = COLS) -> dict[str, float]:
    """NVSim's totals for one grid point (``KeyError`` if it was not run)."""
    for r in grid_data()["runs"]:
        if (r["node_nm"], r["roadmap"].lower(), r["rows"], r["cols"]) == (node_nm, roadmap, rows, cols):
            return r
    raise KeyError(f"no NVSim run for {rows}×{cols} at {node_nm} nm {roadmap}")


def overrides(node_nm: int, roadmap: str = "hp", rows: int = ROWS, cols: int = COLS) -> list[tuple[str, Any]]:
    """``--set``-style overrides of the default arch that describe NVSim's sample STT-MRAM cell in a
    ``rows`` × ``cols`` subarray at a node and device roadmap (``hp`` or ``lstp``)."""
    d = device_params(float(node_nm), roadmap)
    area = math.pi * DIAMETER_M ** 2 / 4
    return [
        ("technology.node_nm", float(node_nm)), ("technology.vdd_v", round(d.vdd_nominal_v, 9)),
        ("technology.temperature_k", 300.0), ("technology.periphery_devices", roadmap),
        ("cell.type", "1T1MTJ"), ("cell.area_f2_per_device", CELL_F2),
        # NVSim's access resistance: CalculateOnResistance(8 F, NMOS) of the same roadmap (SubArray.cpp)
        ("cell.r_access_ohm", round(d.on_resistance_ohm(ACCESS_WIDTH_F * d.feature_m), 6)),
        ("cell.write_current_a", WRITE_I_A), ("cell.write_pulse_s", WRITE_T_S),
        ("mtj.storage.diameter_m", DIAMETER_M), ("mtj.storage.ra_ohm_m2", R_ON_OHM * area),
        ("mtj.storage.tmr0", R_OFF_OHM / R_ON_OHM - 1.0), ("mtj.storage.vh_v", VH_V),
        ("crossbar.rows", rows), ("crossbar.cols", cols), ("crossbar.rows_active", 1),
        ("crossbar.read_voltage_v", READ_V), ("crossbar.wire_cap_f_per_m", d.wire_c_f_per_m),
    ]


def nvsim_arch(node_nm: int, roadmap: str = "hp", rows: int = ROWS, cols: int = COLS) -> ArchSpec:
    """The default arch with :func:`overrides` applied (validated like any YAML)."""
    return load_arch(None, overrides(node_nm, roadmap, rows, cols))


def subarray_from_arch(arch: ArchSpec, word_bits: int | None = None) -> tuple[Context, SubarrayParams]:
    """The memory-mode subarray an arch describes (cell, MTJ, crossbar and technology sections, including
    ``technology.periphery_devices``); ``word_bits`` None: one whole row (``crossbar.cols``)."""
    from cimsim.hardware import mtj_params

    storage = mtj_params(arch.mtj.storage, arch.mtj.t_ref_k)
    ctx = Context(node_nm=arch.technology.node_nm, vdd_v=arch.technology.vdd_v,
                  temperature_k=arch.technology.temperature_k, clock_hz=arch.clock.frequency_hz,
                  periphery_devices=arch.technology.periphery_devices)
    xb = arch.crossbar
    params = SubarrayParams(
        rows=xb.rows, cols=xb.cols, word_bits=xb.cols if word_bits is None else word_bits,
        cell_area_f2=arch.cell.area_f2_per_device,
        r_on_ohm=mtj.r_p_ohm(storage), r_off_ohm=float(mtj.r_ap_ohm(storage, xb.read_voltage_v)),
        r_access_ohm=arch.cell.r_access_ohm, read_voltage_v=xb.read_voltage_v,
        write_current_a=arch.cell.write_current_a, write_pulse_s=arch.cell.write_pulse_s,
        wire_cap_f_per_m=xb.wire_cap_f_per_m)
    return ctx, params


@dataclass(frozen=True)
class GridPoint:
    """cimsim against NVSim at one grid point: ``ratios`` (cimsim / NVSim) per :data:`QUANTITIES` key."""

    rows: int
    cols: int
    node_nm: int
    roadmap: str
    cimsim: MemoryModeCost
    nvsim: dict[str, float]

    @property
    def label(self) -> str:
        return f"{self.rows}×{self.cols} {self.node_nm} nm {self.roadmap.upper()}"

    def ratio(self, key: str) -> float:
        return getattr(self.cimsim, QUANTITIES[key][0]) / self.nvsim[key]


def grid_points() -> list[GridPoint]:
    """Every stored NVSim run with cimsim's memory-mode figures for the same subarray."""
    out = []
    for r in grid_data()["runs"]:
        rm = r["roadmap"].lower()
        ctx, params = subarray_from_arch(nvsim_arch(r["node_nm"], rm, r["rows"], r["cols"]))
        out.append(GridPoint(r["rows"], r["cols"], r["node_nm"], rm, memory_mode(ctx, params), r))
    return out


def grid_markdown(points: list[GridPoint] | None = None) -> str:
    """The grid as a markdown table of ratios cimsim / NVSim (docs/validation.md "NVSim grid")."""
    pts = grid_points() if points is None else points
    head = "| subarray | node | roadmap | read energy | write energy | read latency | area | leakage |"
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for p in pts:
        cells = " | ".join(f"{p.ratio(k):.2f}" for k in QUANTITIES)
        lines.append(f"| {p.rows}×{p.cols} | {p.node_nm} nm | {p.roadmap.upper()} | {cells} |")
    return "\n".join(lines)
