"""NVSim's sample STT-MRAM cell as a cimsim architecture, and NVSim's own numbers for a 256×128 subarray.

NVSim (SEAL-UCSB/NVSim commit 6334d00, built with g++ -std=c++11) was run on ``sample_STTRAM.cell`` with a
one-bank, one-mat, one-subarray RAM of 4 KB and a 128-bit word (subarray 256 rows × 128 columns, no column
mux), HP devices, local-aggressive wires, 300 K, latency-optimised buffers. The exact .cfg/.cell and the full
output are in docs/validation.md; :data:`NVSIM_RUNS` holds the totals it printed.
"""

from __future__ import annotations

import math
from typing import Any

from cimsim.components import mtj
from cimsim.components.base import Context
from cimsim.components.subarray import SubarrayParams
from cimsim.spec.arch import ArchSpec
from cimsim.spec.loader import load_arch

#: NVSim output per node: read energy J, write energy J, read latency s, total (bank = subarray + mat
#: predecoders) area m², subarray-only area m², leakage W [NVSim run, docs/validation.md].
NVSIM_RUNS: dict[int, dict[str, float]] = {
    45: {"read_energy_j": 20.067e-12, "write_energy_j": 133.181e-12, "read_latency_s": 1.023e-9,
         "area_m2": 24294.289e-12, "subarray_area_m2": 23185.928e-12, "leakage_w": 1.110e-3},
    32: {"read_energy_j": 24.748e-12, "write_energy_j": 130.982e-12, "read_latency_s": 1.268e-9,
         "area_m2": 12295.322e-12, "subarray_area_m2": 11724.637e-12, "leakage_w": 2.167e-3},
    22: {"read_energy_j": 30.613e-12, "write_energy_j": 129.965e-12, "read_latency_s": 1.607e-9,
         "area_m2": 5749.223e-12, "subarray_area_m2": 5477.905e-12, "leakage_w": 949.574e-6},
}
#: NVSim's HP supply at each node, V [code: NVSim Technology.cpp], used as ``technology.vdd_v``.
NVSIM_VDD_V = {45: 1.0, 32: 0.9, 22: 0.9}
#: On-resistance NVSim computes for the cell's 8 F access NMOS at 300 K, Ω (printed by the run).
NVSIM_R_ACCESS_OHM = {45: 2300.0, 32: 2933.0, 22: 3653.0}
#: NVSim local-aggressive wire capacitance at each node, F/m (printed by the run).
NVSIM_WIRE_CAP_F_PER_M = {45: 2.776e-10, 32: 2.881e-10, 22: 2.800e-10}
#: NVSim sample cell: R_on 3 kΩ, R_off 6 kΩ, read 0.25 V, 80 µA / 10 ns writes, 54 F² [code: sample_STTRAM.cell].
R_ON_OHM, R_OFF_OHM, READ_V, WRITE_I_A, WRITE_T_S, CELL_F2 = 3000.0, 6000.0, 0.25, 80e-6, 10e-9, 54.0
ROWS, COLS, WORD_BITS = 256, 128, 128
#: MTJ diameter used to express R_on as an RA product, m (cimsim's default device; only RA/area matters).
DIAMETER_M = 40e-9
#: TMR half-bias voltage, V: the schema's maximum, so TMR at 0.25 V is 98.5 % of TMR0 (NVSim's R_off is
#: bias-independent; this is the closest the YAML allows).
VH_V = 2.0


def overrides(node_nm: int) -> list[tuple[str, Any]]:
    """``--set``-style overrides of the default arch that describe NVSim's sample STT-MRAM cell at a node."""
    area = math.pi * DIAMETER_M ** 2 / 4
    return [
        ("technology.node_nm", float(node_nm)), ("technology.vdd_v", NVSIM_VDD_V[node_nm]),
        ("technology.temperature_k", 300.0),
        ("cell.type", "1T1MTJ"), ("cell.area_f2_per_device", CELL_F2),
        ("cell.r_access_ohm", NVSIM_R_ACCESS_OHM[node_nm]),
        ("cell.write_current_a", WRITE_I_A), ("cell.write_pulse_s", WRITE_T_S),
        ("mtj.storage.diameter_m", DIAMETER_M), ("mtj.storage.ra_ohm_m2", R_ON_OHM * area),
        ("mtj.storage.tmr0", R_OFF_OHM / R_ON_OHM - 1.0), ("mtj.storage.vh_v", VH_V),
        ("crossbar.rows", ROWS), ("crossbar.cols", COLS), ("crossbar.rows_active", 1),
        ("crossbar.read_voltage_v", READ_V), ("crossbar.wire_cap_f_per_m", NVSIM_WIRE_CAP_F_PER_M[node_nm]),
    ]


def nvsim_arch(node_nm: int) -> ArchSpec:
    """The default arch with :func:`overrides` applied (validated like any YAML)."""
    return load_arch(None, overrides(node_nm))


def subarray_from_arch(arch: ArchSpec, word_bits: int) -> tuple[Context, SubarrayParams]:
    """The memory-mode subarray an arch describes (cell, MTJ, crossbar and technology sections)."""
    from cimsim.hardware import mtj_params

    storage = mtj_params(arch.mtj.storage, arch.mtj.t_ref_k)
    ctx = Context(node_nm=arch.technology.node_nm, vdd_v=arch.technology.vdd_v,
                  temperature_k=arch.technology.temperature_k, clock_hz=arch.clock.frequency_hz)
    xb = arch.crossbar
    params = SubarrayParams(
        rows=xb.rows, cols=xb.cols, word_bits=word_bits, cell_area_f2=arch.cell.area_f2_per_device,
        r_on_ohm=mtj.r_p_ohm(storage), r_off_ohm=float(mtj.r_ap_ohm(storage, xb.read_voltage_v)),
        r_access_ohm=arch.cell.r_access_ohm, read_voltage_v=xb.read_voltage_v,
        write_current_a=arch.cell.write_current_a, write_pulse_s=arch.cell.write_pulse_s,
        wire_cap_f_per_m=xb.wire_cap_f_per_m)
    return ctx, params
