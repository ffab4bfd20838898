"""RC timing of the array periphery: the delay conventions, logical-effort inverter chains and the word- and
bit-line wires of one array (:class:`ArrayLines`).

Formulas follow NVSim (Dong, Xu, Xie, Jouppi, "NVSim", IEEE TCAD 31(7), 2012; code SEAL-UCSB/NVSim commit
6334d00) and the CACTI conventions it inherits: switched-capacitance energy C·Vdd² per access, RC stage
delays 0.69·R·C (NVSim's ``horowitz`` with a step input reduces to ln 2·τ), distributed-wire Elmore delay
0.38·R·C, logical-effort inverter chains with stage effort 4 (NVSim ``constant.h`` OPT_F). Device and wire
numbers come from :mod:`cimsim.components.periphery_tech` (NVSim's HP tables). All units SI. The blocks built
on these are in :mod:`cimsim.components.row_periphery` and :mod:`cimsim.components.bitline_periphery`; their
assembly around a compute array is :mod:`cimsim.components.array_periphery`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from cimsim.components.base import Action, Component, Context, register
from cimsim.components.periphery_tech import DeviceParams, device_params

#: Step-input RC delay factor ln 2 [code: NVSim formula.cpp horowitz with beta = 0 gives τ·|ln 0.5|].
RC_STEP = math.log(2.0)
#: Elmore delay factor of a distributed RC line driven at one end (0.38·R·C) [lit: Rabaey, Digital
#: Integrated Circuits, 2nd ed., §4.4.4; used by CACTI for unrepeated wires].
RC_DISTRIBUTED = 0.38
#: Stage effort of an inverter chain [code: NVSim constant.h OPT_F = 4].
STAGE_EFFORT = 4.0



# ------------------------------------------------------------------------------------------------------
# shared circuit helpers
# ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class InverterChain:
    """Logical-effort inverter chain from a minimum inverter to a load (NVSim ``OutputDriver``,
    latency-first sizing).

    Attributes:
        widths_n_m: NMOS width of each stage, m (PMOS = pn_ratio × NMOS).
        switched_cap_f: capacitance one output transition cycle charges, stage outputs and load included
            (the first stage's input gate excluded: the previous block charges it), F.
        delay_s: input-to-load delay, s.
        input_cap_f: input capacitance of the first stage, F.
    """

    widths_n_m: tuple[float, ...]
    switched_cap_f: float
    delay_s: float
    input_cap_f: float

    @classmethod
    def sized_for(cls, dev: DeviceParams, load_cap_f: float) -> InverterChain:
        """Stages N = max(1, round(ln(C_load/C_in) / ln 4)), stage ratio f = (C_load/C_in)^(1/N), stage i
        NMOS width W_min·f^i; each stage's delay 0.69·R_n(W_i)·(C_next + C_self,i)
        [code: NVSim OutputDriver.cpp Initialize/CalculateLatency, latency_first; R, C from NVSim formulas].

        The last stage is capped at 100 F (NVSim's MaxNmosSize): a wider one is set to the cap and the stages
        before it re-spread geometrically between W_min and the cap, as NVSim re-computes its logical effort
        with the capped last stage; the last stage then drives the load with a larger fan-out (slower, but
        without the leakage and area of an unbounded driver on very long word lines).
        """
        w0 = dev.min_width_m
        c_in = dev.inverter_input_cap_f(w0)
        fo = max(1.0, load_cap_f / c_in)
        n = max(1, round(math.log(fo) / math.log(STAGE_EFFORT)))
        f = fo ** (1.0 / n)
        widths = tuple(w0 * f ** i for i in range(n))
        if widths[-1] > dev.max_width_m:
            g = (dev.max_width_m / w0) ** (1.0 / (n - 1))
            widths = tuple(w0 * g ** i for i in range(n))
        switched = 0.0
        delay = 0.0
        for i, w in enumerate(widths):
            c_next = load_cap_f if i == n - 1 else dev.inverter_input_cap_f(widths[i + 1])
            c_node = c_next + dev.inverter_output_cap_f(w)
            switched += c_node
            delay += RC_STEP * dev.on_resistance_ohm(w) * c_node
        return cls(widths, switched, delay, c_in)

    def area_m2(self, dev: DeviceParams) -> float:
        return math.fsum(dev.gate_area_m2(1, w, w * dev.pn_ratio) for w in self.widths_n_m)

    def leakage_w(self, dev: DeviceParams, vdd_v: float) -> float:
        return math.fsum(dev.gate_leakage_w(w, w * dev.pn_ratio, vdd_v) for w in self.widths_n_m)



def positive(name: str, value: float) -> float:
    """``value`` as a float; ``ValueError`` naming ``name`` unless it is positive and finite."""
    if not value > 0 or math.isinf(value):
        raise ValueError(f"{name} must be positive and finite, got {value!r}")
    return float(value)



# ------------------------------------------------------------------------------------------------------
# word and bit lines
# ------------------------------------------------------------------------------------------------------

@register
class ArrayLines(Component):
    """Word- and bit-line wires of one array: R and C from the wire's per-length values and the cell pitch.
    One instance per array; no area (the wires run over the cells) and no leakage.

    * C_WL = c_wire·cols·w_cell + cols·C_gate(W_access); R_WL = r_wire·cols·w_cell
    * C_BL = c_wire·rows·h_cell + (rows/2)·C_drain(W_access) (two cells share a contact);
      R_BL = r_wire·rows·h_cell [code: NVSim SubArray.cpp Initialize, CMOS-access MRAM]
    * ``wordline_rc``: 0.38·R_WL·C_WL (distributed line, far end) [lit: Elmore]
    * ``bitline_rc``: ln 2 · (R_BL·C_BL/2)·(R_cell + R_BL/3)/(R_cell + R_BL), the current-sensing bit-line
      settling of NVSim [code: NVSim SubArray.cpp CalculateLatency, "ICCAD 2009 model"]

    Args:
        ctx: operating point.
        rows, cols: cells along a bit line and along a word line.
        cell_width_m, cell_height_m: cell pitch along the word line and along the bit line, m.
        access_width_m: access-transistor width, m (its gate loads the WL, its drain the BL).
        cell_r_max_ohm: highest read-path resistance of a cell (R_AP + R_access), Ω.
        wire_cap_f_per_m, wire_res_ohm_per_m: per-length wire C (F/m) and R (Ω/m); None: NVSim's local
            aggressive wire at the node.
    """

    kind: ClassVar[str] = "array_lines"
    model: ClassVar[str] = "rc"
    ACTIONS = ("wordline_rc", "bitline_rc")

    def __init__(self, ctx: Context, *, rows: int, cols: int, cell_width_m: float, cell_height_m: float,
                 access_width_m: float, cell_r_max_ohm: float, wire_cap_f_per_m: float | None = None,
                 wire_res_ohm_per_m: float | None = None) -> None:
        if rows < 1 or cols < 1:
            raise ValueError(f"rows and cols must be >= 1, got {rows!r}, {cols!r}")
        self.ctx = ctx
        self.dev = device_params(ctx.node_nm, ctx.periphery_devices)
        self.rows, self.cols = int(rows), int(cols)
        self.cell_width_m = positive("cell_width_m", cell_width_m)
        self.cell_height_m = positive("cell_height_m", cell_height_m)
        self.access_width_m = positive("access_width_m", access_width_m)
        self.cell_r_max_ohm = positive("cell_r_max_ohm", cell_r_max_ohm)
        self.wire_cap_f_per_m = self.dev.wire_c_f_per_m if wire_cap_f_per_m is None else \
            positive("wire_cap_f_per_m", wire_cap_f_per_m)
        self.wire_res_ohm_per_m = self.dev.wire_r_ohm_per_m if wire_res_ohm_per_m is None else \
            positive("wire_res_ohm_per_m", wire_res_ohm_per_m)

    @property
    def wordline_length_m(self) -> float:
        return self.cols * self.cell_width_m

    @property
    def bitline_length_m(self) -> float:
        return self.rows * self.cell_height_m

    @property
    def wordline_cap_f(self) -> float:
        return (self.wire_cap_f_per_m * self.wordline_length_m
                + self.cols * self.dev.gate_cap_f(self.access_width_m))

    @property
    def wordline_res_ohm(self) -> float:
        return self.wire_res_ohm_per_m * self.wordline_length_m

    @property
    def bitline_cap_f(self) -> float:
        return (self.wire_cap_f_per_m * self.bitline_length_m
                + 0.5 * self.rows * self.dev.drain_cap_f(self.access_width_m))

    @property
    def bitline_res_ohm(self) -> float:
        return self.wire_res_ohm_per_m * self.bitline_length_m

    def wordline_delay_s(self) -> float:
        return RC_DISTRIBUTED * self.wordline_res_ohm * self.wordline_cap_f

    def bitline_delay_s(self) -> float:
        r, c, rc = self.bitline_res_ohm, self.bitline_cap_f, self.cell_r_max_ohm
        return RC_STEP * (r * c / 2.0) * (rc + r / 3.0) / (rc + r)

    def area_m2(self) -> float:
        return 0.0

    def leakage_w(self) -> float:
        return 0.0

    def actions(self) -> dict[str, Action]:
        return {"wordline_rc": Action(0.0, self.wordline_delay_s()),
                "bitline_rc": Action(0.0, self.bitline_delay_s())}
