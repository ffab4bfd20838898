"""CMOS technology scaling (Stillmaker & Baas 2017) and F²-based layout areas.

Every factor here is a ratio ``value(to) / value(from)`` of one per-node table, so the factors are exactly
self-consistent: ``f(a, b) * f(b, c) == f(a, c)`` and ``f(a, a) == 1``.

Sources (REFERENCES.md §5.2):
    * Node list and area factors: ``Accelergy-Project/hwcomponents``
      ``hwcomponents/scaling/techscaling.py`` (row 0 of ``AREA_SCALING``, relative to 130 nm), which
      implements Stillmaker & Baas, Integration 58 (2017) 74-81, doi 10.1016/j.vlsi.2017.02.002 [code].
    * Relative energy at Vdd = 0.8 V: the ``ENERGY_SCALING`` polynomial evaluated at 0.8 V [derived in
      REFERENCES §5.2]. The polynomial coefficients themselves are not in REFERENCES, so other supplies
      scale as (Vdd / 0.8 V)² (dynamic C·V² energy) [derived].

Between table nodes, ``log(factor)`` is interpolated linearly in ``log(node)`` (a power law per
segment). This is NOT the hwcomponents interpolation, whose index weight is inverted (REFERENCES §5.2
bug warning). Outside 7-130 nm every function raises :class:`ValueError`.
"""

from __future__ import annotations

import math

import numpy as np

#: Stillmaker/Baas nodes, nm, largest first [code: hwcomponents techscaling.py].
NODES_NM: tuple[float, ...] = (130.0, 90.0, 65.0, 45.0, 32.0, 20.0, 16.0, 14.0, 10.0, 7.0)
#: Area relative to 130 nm [code: hwcomponents techscaling.py AREA_SCALING row 0].
AREA_REL: tuple[float, ...] = (1.0, 0.44, 0.23, 0.16, 0.072, 0.033, 0.03, 0.027, 0.016, 0.0092)
#: Energy at Vdd = 0.8 V, arbitrary common unit [derived: ENERGY_SCALING polynomial at 0.8 V, REFERENCES §5.2].
ENERGY_REL_0V8: tuple[float, ...] = (2.126, 1.315, 0.860, 0.693, 0.457, 0.153, 0.120, 0.096, 0.082, 0.065)
#: Supply voltage at which ENERGY_REL_0V8 is tabulated, V [derived, REFERENCES §5.2].
ENERGY_TABLE_VDD_V = 0.8

NODE_MIN_NM = min(NODES_NM)
NODE_MAX_NM = max(NODES_NM)

#: Reference node at which an "effective F²" equals the drawn F² (planar bulk, a Stillmaker table node,
#: and NeuroSim's planar layout rules hold there) [assumed].
F2_REFERENCE_NM = 45.0

#: NeuroSim planar minimum-size transistor footprint, in F²: fixed cell height MAX_TRANSISTOR_HEIGHT = 28 F
#: times gate-region width 2·(POLY_WIDTH + MIN_GAP_BET_GATE_POLY)·F = 2·(1.0 + 2.8)·F = 7.6 F
#: [code: neurosim/DNN_NeuroSim_V1.4 Inference_pytorch/NeuroSIM/constant.h and formula.cpp
#: CalculateGateArea, INV with one unfolded device]; 28 × 7.6 = 212.8 F² [derived]. The minimum NMOS
#: (W = 2F) and PMOS (W = 2F·pnSizeRatio) both fit unfolded in the 28 F cell, so both are 212.8 F².
MIN_TRANSISTOR_AREA_F2 = 28.0 * 2.0 * (1.0 + 2.8)

_LOG_NODES = np.log(np.asarray(NODES_NM[::-1]))  # increasing, for np.interp
_LOG_AREA = np.log(np.asarray(AREA_REL[::-1]))
_LOG_ENERGY = np.log(np.asarray(ENERGY_REL_0V8[::-1]))


def check_node(node_nm: float) -> float:
    """Return ``node_nm`` as float; ValueError outside the tabulated 7-130 nm range."""
    node = float(node_nm)
    if not (NODE_MIN_NM <= node <= NODE_MAX_NM) or math.isnan(node):
        raise ValueError(f"technology node {node_nm!r} nm is outside the supported {NODE_MIN_NM:g}-"
                         f"{NODE_MAX_NM:g} nm range (Stillmaker & Baas table)")
    return node


def _check_vdd(vdd_v: float) -> float:
    v = float(vdd_v)
    if not v > 0.0 or math.isinf(v):
        raise ValueError(f"supply voltage must be positive and finite, got {vdd_v!r} V")
    return v


def _log_rel(node_nm: float, table: np.ndarray) -> float:
    return float(np.interp(math.log(check_node(node_nm)), _LOG_NODES, table))


def area_factor(from_nm: float, to_nm: float) -> float:
    """Multiply an area characterised at ``from_nm`` by this to get it at ``to_nm`` (dimensionless)."""
    return math.exp(_log_rel(to_nm, _LOG_AREA) - _log_rel(from_nm, _LOG_AREA))


def energy_factor(from_nm: float, to_nm: float, from_vdd_v: float = 0.8, to_vdd_v: float = 0.8) -> float:
    """Multiply a dynamic energy characterised at (``from_nm``, ``from_vdd_v`` V) to get it at
    (``to_nm``, ``to_vdd_v`` V). Node part: Stillmaker table at 0.8 V; supply part: (to/from)² [derived]."""
    node_part = math.exp(_log_rel(to_nm, _LOG_ENERGY) - _log_rel(from_nm, _LOG_ENERGY))
    return node_part * (_check_vdd(to_vdd_v) / _check_vdd(from_vdd_v)) ** 2


def leakage_factor(from_nm: float, to_nm: float, from_vdd_v: float = 0.8, to_vdd_v: float = 0.8) -> float:
    """Multiply a leakage power characterised at (``from_nm``, ``from_vdd_v``) to get it at (``to_nm``,
    ``to_vdd_v``).

    [assumed] Leakage ∝ total device width (∝ area) × Vdd: ``area_factor × (to_vdd/from_vdd)``. This ignores
    threshold-voltage and I_off trends between nodes and the temperature dependence; it is a placeholder
    until a sourced leakage-scaling table is added.
    """
    return area_factor(from_nm, to_nm) * (_check_vdd(to_vdd_v) / _check_vdd(from_vdd_v))


def f2_m2(node_nm: float) -> float:
    """Effective F² at ``node_nm``, m²: ``(45 nm)² × area_factor(45, node)``.

    [assumed] Layout rules written in F² (NeuroSim transistor footprints, NVMExplorer's 146 F² SRAM cell)
    are taken as exact at 45 nm and moved to other nodes with the Stillmaker area factor, so every area in
    cimsim scales with one technology model. At 28 nm this gives 7.6e-16 m² vs the drawn 7.8e-16 m².
    """
    return (F2_REFERENCE_NM * 1e-9) ** 2 * area_factor(F2_REFERENCE_NM, node_nm)


def min_transistor_area_m2(node_nm: float) -> float:
    """Footprint of one NeuroSim minimum-size transistor (planar layout rules), m²:
    ``212.8 × f2_m2(node)`` (see :data:`MIN_TRANSISTOR_AREA_F2`; FinFET cell-height rules below 22 nm in
    NeuroSim V1.4 are not modelled)."""
    return MIN_TRANSISTOR_AREA_F2 * f2_m2(node_nm)


def interp_loglog(node_nm: float, nodes_nm: tuple[float, ...] | list[float], values: list[float]) -> float:
    """Interpolate positive ``values`` tabulated at ``nodes_nm`` linearly in log-log space at ``node_nm``.

    ValueError if ``node_nm`` lies outside the tabulated range. Used for per-node NeuroSim coefficients.
    """
    node = float(node_nm)
    order = np.argsort(nodes_nm)
    xs = np.log(np.asarray(nodes_nm, dtype=float)[order])
    ys = np.log(np.asarray(values, dtype=float)[order])
    if not (math.exp(xs[0]) * (1 - 1e-12) <= node <= math.exp(xs[-1]) * (1 + 1e-12)):
        raise ValueError(f"node {node_nm!r} nm outside the tabulated {math.exp(xs[0]):g}-{math.exp(xs[-1]):g} nm")
    return float(math.exp(np.interp(math.log(node), xs, ys)))


def interp_lin_lognode(node_nm: float, nodes_nm: tuple[float, ...] | list[float], values: list[float]) -> float:
    """Interpolate ``values`` (any sign) linearly in log(node); same range rule as :func:`interp_loglog`."""
    node = float(node_nm)
    order = np.argsort(nodes_nm)
    xs = np.log(np.asarray(nodes_nm, dtype=float)[order])
    ys = np.asarray(values, dtype=float)[order]
    if not (math.exp(xs[0]) * (1 - 1e-12) <= node <= math.exp(xs[-1]) * (1 + 1e-12)):
        raise ValueError(f"node {node_nm!r} nm outside the tabulated {math.exp(xs[0]):g}-{math.exp(xs[-1]):g} nm")
    return float(np.interp(math.log(node), xs, ys))
