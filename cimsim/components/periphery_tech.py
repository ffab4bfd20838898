"""Transistor and local-wire parameters of the array periphery (NVSim's HP device tables) and the layout
rules that turn transistor widths into areas.

Every per-width device number here was printed by NVSim (SEAL-UCSB/NVSim commit 6334d00, ``Technology.cpp``
``Initialize(..., HP)`` and ``Wire.cpp`` ``LocalAggressive``) at 300 K; docs/validation.md records the run.
NVSim's own sources are the ITRS 2007–2011 HP roadmap (devices) and CACTI 6.5 (wires, effective-resistance
multiplier). Between tabulated nodes every quantity is interpolated log-log in the node
(:func:`cimsim.components.tech.interp_loglog`); outside 22–90 nm the per-width device values are held at the
nearest table node and the wire resistance per length scales as 1/F² (cross-section ∝ F²) [assumed].

Widths are in metres. The feature size that turns "k·F" layout rules into metres is the *nominal* F (the node),
as in NVSim (``tech->featureSize``) and as cimsim's cells use it (:class:`cimsim.components.cell.CellGeometry`),
so a subarray's periphery and its cells scale together (issue 19: an effective F from the Stillmaker area
factor, 54 nm at 65 nm, put the sense amps 30 % below NVSim's there).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from cimsim.components import tech

#: Nodes of the NVSim HP table, nm.
NVSIM_NODES_NM: tuple[float, ...] = (90.0, 65.0, 45.0, 32.0, 22.0)

#: Per node: (capIdealGate, capOverlap, capFringe) F/m [code: NVSim Technology.cpp HP].
_GATE_CAPS = {90.0: (6.380e-10, 1.276e-10, 2.500e-10), 65.0: (4.700e-10, 9.400e-11, 2.400e-10),
              45.0: (6.780e-10, 1.356e-10, 1.700e-10), 32.0: (6.420e-10, 1.284e-10, 1.600e-10),
              22.0: (3.830e-10, 7.660e-11, 1.600e-10)}
#: Per node: (capJunction F/m², capSidewall F/m, capDrainToChannel F/m) [code: NVSim Technology.cpp HP].
_DRAIN_CAPS = {90.0: (6.547e-4, 1.890e-10, 3.780e-11), 65.0: (6.708e-4, 1.921e-10, 3.842e-11),
               45.0: (6.882e-4, 1.954e-10, 3.907e-11), 32.0: (7.071e-4, 1.989e-10, 3.978e-11),
               22.0: (7.071e-4, 1.989e-10, 3.978e-11)}
#: Per node: NMOS and PMOS on-current at 300 K, A/m (= µA/µm) [code: NVSim Technology.cpp HP currentOn*[0]].
_ION = {90.0: (1050.0, 638.7), 65.0: (1211.0, 888.7), 45.0: (1824.0, 1632.0), 32.0: (1786.0, 1713.5),
        22.0: (2030.0, 1015.0)}
#: Per node: NMOS and PMOS off-current at 300 K, A/m [code: NVSim Technology.cpp HP currentOff*[0]].
_IOFF = {90.0: (5.187e-2, 5.260e-2), 65.0: (3.430e-1, 5.680e-1), 45.0: (2.800e-1, 2.800e-1),
         32.0: (8.340e-1, 8.340e-1), 22.0: (5.974e-1, 5.974e-1)}
#: Per node: nominal HP supply, V [code: NVSim Technology.cpp HP vdd].
_VDD_NOM = {90.0: 1.2, 65.0: 1.1, 45.0: 1.0, 32.0: 0.9, 22.0: 0.9}
#: Per node: effective-resistance multiplier (CACTI) [code: NVSim Technology.cpp HP].
_R_MULT = {90.0: 1.54, 65.0: 1.50, 45.0: 1.51, 32.0: 1.49, 22.0: 1.45}
#: Per node: P/N width ratio for equal drive [code: NVSim Technology.cpp HP pnSizeRatio].
_PN_RATIO = {90.0: 2.45, 65.0: 2.41, 45.0: 2.41, 32.0: 2.41, 22.0: 2.0}
#: Per node: local-aggressive wire resistance Ω/m and capacitance F/m at 300 K
#: [code: NVSim Wire.cpp LocalAggressive, RepeatedNone, as printed by the run in docs/validation.md].
_WIRE = {90.0: (9.397e5, 3.038e-10), 65.0: (1.268e6, 2.939e-10), 45.0: (8.953e6, 2.776e-10),
         32.0: (2.787e7, 2.881e-10), 22.0: (6.703e7, 2.800e-10)}

#: ITRS low-standby-power (LSTP) devices, per node: (vdd V, capIdealGate F/m, capFringe F/m, pnSizeRatio,
#: effectiveResistanceMultiplier, I_on,n, I_on,p, I_off,n, I_off,p at 300 K in A/m) [code: NVSim Technology.cpp
#: LSTP branch (MASTAR 5 lstp-bulk profiles); where NVSim overrides MASTAR (22 nm I_on,p = I_on,n/2, 22 nm
#: I_off = 3.02e-5/1.86, PMOS I_off = NMOS at 45–22 nm) its override is used]. The overlap capacitance is
#: 0.2·capIdealGate and the drain caps follow from vdd, as NVSim derives them.
_LSTP = {90.0: (1.2, 7.73e-10, 2.4e-10, 2.44, 1.92, 446.6, 221.5, 9.45e-6, 2.05e-5),
         65.0: (1.1, 6.17e-10, 2.4e-10, 2.23, 1.96, 465.4, 234.2, 3.03e-5, 3.85e-5),
         45.0: (1.0, 5.58e-10, 2.1e-10, 2.23, 1.99, 527.5, 497.9, 1.01e-5, 1.01e-5),
         32.0: (1.0, 5.02e-10, 1.9e-10, 2.23, 1.99, 560.0, 549.6, 3.02e-5, 3.02e-5),
         22.0: (0.8, 4.25e-10, 2.0e-10, 2.23, 1.99, 745.5, 372.75, 3.02e-5 / 1.86, 3.02e-5 / 1.86)}
#: Junction model of the drain caps: zero-bias bottom cj 1e-3 F/m², isolation sidewall 2.5e-10 F/m, gate-edge
#: sidewall 0.5e-10 F/m, grading 0.5/0.33/0.33, built-in potential 0.9 V [code: NVSim Technology.cpp
#: Initialize tail]; it reproduces the HP drain caps above from their vdd.
_CJ, _CJSW, _CJSWG, _MJ, _MJSW, _PHI_B = 1e-3, 2.5e-10, 0.5e-10, 0.5, 0.33, 0.9


def _drain_caps(vdd: float) -> tuple[float, float, float]:
    return (_CJ / (1 + vdd / _PHI_B) ** _MJ, _CJSW / (1 + vdd / _PHI_B) ** _MJSW,
            _CJSWG / (1 + vdd / _PHI_B) ** _MJSW)


#: Device tables by flavour: (gate caps, drain caps, I_on, I_off, vdd, R multiplier, P/N ratio) per node.
_FLAVOURS = {
    "hp": (_GATE_CAPS, _DRAIN_CAPS, _ION, _IOFF, _VDD_NOM, _R_MULT, _PN_RATIO),
    "lstp": ({n: (v[1], 0.2 * v[1], v[2]) for n, v in _LSTP.items()},
             {n: _drain_caps(v[0]) for n, v in _LSTP.items()},
             {n: (v[5], v[6]) for n, v in _LSTP.items()}, {n: (v[7], v[8]) for n, v in _LSTP.items()},
             {n: v[0] for n, v in _LSTP.items()}, {n: v[4] for n, v in _LSTP.items()},
             {n: v[3] for n, v in _LSTP.items()}),
}
#: Periphery device flavours cimsim knows (``technology.periphery_devices``).
FLAVOURS = tuple(_FLAVOURS)

# NVSim layout rules, in F [code: NVSim constant.h].
MIN_NMOS_SIZE_F = 1.5            # smallest transistor width
MAX_NMOS_SIZE_F = 100.0          # largest driver width (InputParameter maxNmosSize = MAX_NMOS_SIZE; OutputDriver.cpp)
CONTACT_SIZE_F = 1.0
MIN_GAP_BET_CONTACT_POLY_F = 0.75
MIN_GAP_BET_POLY_F = 1.5
MIN_GAP_BET_P_AND_N_DIFFS_F = 2.0
#: Length of one source/drain diffusion, F: contact plus a contact-to-poly gap on each side
#: [derived: NVSim formula.cpp CalculateGateArea uses CONTACT_SIZE + 2·MIN_GAP_BET_CONTACT_POLY per side].
DIFFUSION_LENGTH_F = CONTACT_SIZE_F + 2 * MIN_GAP_BET_CONTACT_POLY_F


@dataclass(frozen=True)
class DeviceParams:
    """Periphery transistor and local-wire parameters at one node (SI units).

    Attributes:
        node_nm: technology node, nm.
        feature_m: nominal feature size F (the node), m.
        c_gate_f_per_m: gate capacitance per width (ideal + overlap + 3·fringe), F/m.
        c_junction_f_per_m2, c_sidewall_f_per_m, c_drain_channel_f_per_m: drain-junction terms.
        i_on_n_a_per_m, i_on_p_a_per_m: saturated on-current per width, A/m.
        i_off_n_a_per_m, i_off_p_a_per_m: off-state leakage current per width at 300 K, A/m.
        vdd_nominal_v: the supply the on-currents were characterised at, V.
        r_multiplier: CACTI effective-resistance multiplier (switching R = k·V/I_on).
        pn_ratio: PMOS/NMOS width ratio for equal drive.
        wire_r_ohm_per_m, wire_c_f_per_m: local wire resistance and capacitance per length.
    """

    node_nm: float
    feature_m: float
    c_gate_f_per_m: float
    c_junction_f_per_m2: float
    c_sidewall_f_per_m: float
    c_drain_channel_f_per_m: float
    i_on_n_a_per_m: float
    i_on_p_a_per_m: float
    i_off_n_a_per_m: float
    i_off_p_a_per_m: float
    vdd_nominal_v: float
    r_multiplier: float
    pn_ratio: float
    wire_r_ohm_per_m: float
    wire_c_f_per_m: float

    # ------------------------------------------------------------------ electrical
    def gate_cap_f(self, width_m: float) -> float:
        """Gate capacitance of a transistor of ``width_m``, F [code: NVSim formula.cpp CalculateGateCap]."""
        return self.c_gate_f_per_m * width_m

    def drain_cap_f(self, width_m: float) -> float:
        """Drain capacitance of an unfolded transistor of ``width_m``, F: junction bottom (W·L_d) + sidewall
        (W + 2·L_d) + drain-to-channel (W) [derived: NVSim formula.cpp CalculateDrainCap without folding]."""
        ld = DIFFUSION_LENGTH_F * self.feature_m
        return (self.c_junction_f_per_m2 * width_m * ld + self.c_sidewall_f_per_m * (width_m + 2 * ld)
                + self.c_drain_channel_f_per_m * width_m)

    def on_resistance_ohm(self, width_m: float, pmos: bool = False) -> float:
        """Switching resistance k·V_nom/(I_on·W), Ω [code: NVSim formula.cpp CalculateOnResistance]."""
        i_on = self.i_on_p_a_per_m if pmos else self.i_on_n_a_per_m
        return self.r_multiplier * self.vdd_nominal_v / (i_on * width_m)

    def width_for_current_m(self, current_a: float, pmos: bool = False) -> float:
        """Width whose saturated on-current equals ``current_a``, at least the minimum width, m
        [code: NVSim SubArray.cpp minBitlineMuxWidth = maxBitlineCurrent / currentOnNmos]."""
        i_on = self.i_on_p_a_per_m if pmos else self.i_on_n_a_per_m
        return max(self.min_width_m, current_a / i_on)

    @property
    def min_width_m(self) -> float:
        """Minimum transistor width, m (1.5 F) [code: NVSim constant.h MIN_NMOS_SIZE]."""
        return MIN_NMOS_SIZE_F * self.feature_m

    @property
    def max_width_m(self) -> float:
        """Largest driver width, m (100 F) [code: NVSim constant.h MAX_NMOS_SIZE, OutputDriver.cpp]."""
        return MAX_NMOS_SIZE_F * self.feature_m

    def inverter_input_cap_f(self, width_n_m: float) -> float:
        """Input capacitance of an inverter with NMOS ``width_n_m`` and PMOS pn_ratio× wider, F."""
        return self.gate_cap_f(width_n_m * (1.0 + self.pn_ratio))

    def inverter_output_cap_f(self, width_n_m: float) -> float:
        """Self-load (drain) capacitance of the same inverter, F."""
        return self.drain_cap_f(width_n_m) + self.drain_cap_f(width_n_m * self.pn_ratio)

    def gate_leakage_w(self, width_n_m: float, width_p_m: float, vdd_v: float) -> float:
        """Static power of a gate, W: Vdd·max(W_n·I_off,n, W_p·I_off,p) (the off network leaks in either
        state) [code: NVSim formula.cpp CalculateGateLeakage, INV case]."""
        return vdd_v * max(width_n_m * self.i_off_n_a_per_m, width_p_m * self.i_off_p_a_per_m)

    # ------------------------------------------------------------------ layout
    def transistor_area_m2(self, width_m: float) -> float:
        """Footprint of one unfolded transistor, m²: width × (poly F + two diffusions 2·L_d)
        [derived: NVSim formula.cpp CalculateGateArea, INV region width 2F·(contact + 2 gaps) + F]."""
        w = max(width_m, self.min_width_m)
        return w * self.feature_m * (1.0 + 2.0 * DIFFUSION_LENGTH_F)

    def gate_area_m2(self, inputs: int, width_n_m: float, width_p_m: float) -> float:
        """Footprint of a static CMOS NAND/INV gate with ``inputs`` series NMOS and parallel PMOS, m²:
        region width 2·L_d + inputs·F + (inputs − 1)·1.5 F, region height W_n + W_p + 2 F (N–P gap)
        [derived: NVSim formula.cpp CalculateGateArea for NAND/INV without folding]."""
        f = self.feature_m
        width_region = 2 * DIFFUSION_LENGTH_F * f + inputs * f + (inputs - 1) * MIN_GAP_BET_POLY_F * f
        wn, wp = max(width_n_m, self.min_width_m), max(width_p_m, self.min_width_m)
        return width_region * (wn + wp + MIN_GAP_BET_P_AND_N_DIFFS_F * f)


def _interp(node_nm: float, table: dict[float, float]) -> float:
    nodes = sorted(table)
    clamped = min(max(node_nm, nodes[0]), nodes[-1])
    return tech.interp_loglog(clamped, nodes, [table[n] for n in nodes])


@functools.lru_cache(maxsize=64)
def device_params(node_nm: float, flavour: str = "hp") -> DeviceParams:
    """Periphery device parameters at ``node_nm`` (7–130 nm; see the module docstring for the rules) for
    ``flavour`` ``hp`` (ITRS high performance, NVSim's sample runs) or ``lstp`` (low standby power)."""
    node = tech.check_node(node_nm)
    if flavour not in _FLAVOURS:
        raise ValueError(f"unknown periphery device flavour {flavour!r} (allowed: {', '.join(FLAVOURS)})")
    gate_caps, drain_caps, i_on, i_off, vdd_nom, r_mult, pn = _FLAVOURS[flavour]
    gate = {n: v[0] + v[1] + 3 * v[2] for n, v in gate_caps.items()}  # NVSim CalculateGateCap sum
    lo, hi = min(NVSIM_NODES_NM), max(NVSIM_NODES_NM)
    edge = min(max(node, lo), hi)
    wire_r = _interp(node, {n: v[0] for n, v in _WIRE.items()}) * (edge / node) ** 2
    return DeviceParams(
        node_nm=node,
        feature_m=node * 1e-9,
        c_gate_f_per_m=_interp(node, gate),
        c_junction_f_per_m2=_interp(node, {n: v[0] for n, v in drain_caps.items()}),
        c_sidewall_f_per_m=_interp(node, {n: v[1] for n, v in drain_caps.items()}),
        c_drain_channel_f_per_m=_interp(node, {n: v[2] for n, v in drain_caps.items()}),
        i_on_n_a_per_m=_interp(node, {n: v[0] for n, v in i_on.items()}),
        i_on_p_a_per_m=_interp(node, {n: v[1] for n, v in i_on.items()}),
        i_off_n_a_per_m=_interp(node, {n: v[0] for n, v in i_off.items()}),
        i_off_p_a_per_m=_interp(node, {n: v[1] for n, v in i_off.items()}),
        vdd_nominal_v=_interp(node, vdd_nom),
        r_multiplier=_interp(node, r_mult),
        pn_ratio=_interp(node, pn),
        wire_r_ohm_per_m=wire_r,
        wire_c_f_per_m=_interp(node, {n: v[1] for n, v in _WIRE.items()}),
    )
