"""Circuit case: the crossbar nodal model against stored ngspice column currents (docs/validation.md "ngspice").

The patterns are rebuilt from their seeds (:mod:`cimsim.validation.ngspice_netlist`); ngspice is not needed.
"""

from __future__ import annotations

import numpy as np

from cimsim.components.electrical import solve, solve_reduced
from cimsim.validation import ngspice_netlist as ng
from cimsim.validation.registry import CaseResult, case, info_case, ratio_case

TOPIC = "circuits"
#: Issue 19 target: full-solve column currents within 1 % of ngspice.
SPICE_TOL = 0.01
SOURCE = "ngspice op, generated netlists (cimsim/validation/data/ngspice_crossbar.json)"


def worst_columns(size: int) -> tuple[tuple[float, float, str], tuple[float, float, str]]:
    """(ngspice, full solve, label) and (ngspice, reduced, label) of the column with the largest relative error
    over the stored patterns of ``size`` (columns carrying ≥ 1e−3 of the pattern's largest current)."""
    worst_f = worst_r = (1.0, 1.0, "")
    for entry in ng.load_reference()[str(size)]:
        p = ng.pattern(size, entry["seed"])
        ref = np.asarray(entry["currents_a"])
        if not ref.size or ref.max() <= 0:
            continue
        full = solve(p.circuit, p.driven, p.lrs).currents_a
        red = solve_reduced(p.circuit, p.driven, p.lrs)
        m = np.flatnonzero(ref > 1e-3 * ref.max())
        layout = "row" if p.circuit.r_row_ohm > 0 else "column"
        for vals, which in ((full, "f"), (red, "r")):
            err = np.abs(vals[m] / ref[m] - 1)
            j = int(m[np.argmax(err)])
            cand = (float(ref[j]), float(vals[j]), f"seed {entry['seed']} ({layout} source line) column {j}")
            cur = worst_f if which == "f" else worst_r
            if abs(cand[1] / cand[0] - 1) >= abs(cur[1] / cur[0] - 1):
                if which == "f":
                    worst_f = cand
                else:
                    worst_r = cand
    return worst_f, worst_r


@case(topic=TOPIC)
def crossbar_ngspice() -> list[CaseResult]:
    out = []
    for size in ng.SIZES:
        (ref, val, label), (rref, rval, rlabel) = worst_columns(size)
        n = len(ng.load_reference()[str(size)])
        out.append(ratio_case(f"circuits.crossbar_ngspice.{size}x{size}", TOPIC, SOURCE, ref, val, "A",
                              lo=1 - SPICE_TOL, hi=1 + SPICE_TOL,
                              note=f"full nodal solve, worst column of {n} patterns: {label}"))
        out.append(info_case(f"circuits.crossbar_ngspice.{size}x{size}_reduced", TOPIC, SOURCE, rref, rval, "A",
                             note=f"reduced model (exact ladders, first-order row lines), worst column of {n} "
                                  f"patterns: {rlabel}"))
    return out
