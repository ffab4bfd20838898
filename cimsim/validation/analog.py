"""Circuit case: the crossbar nodal model against stored ngspice column currents (docs/validation.md "ngspice").

The patterns are rebuilt from their seeds (:mod:`cimsim.validation.ngspice_netlist`); ngspice is not needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cimsim.components.electrical import solve, solve_reduced
from cimsim.validation import ngspice_netlist as ng
from cimsim.validation.registry import CaseResult, case, info_case, ratio_case

TOPIC = "circuits"
#: Issue 19 target: full-solve column currents within 1 % of ngspice.
SPICE_TOL = 0.01
SOURCE = "ngspice-39 op on generated netlists (cimsim/validation/data/ngspice_crossbar.json)"


@dataclass(frozen=True)
class Worst:
    """The column with the largest relative error of one model over a set of patterns."""

    reference_a: float
    value_a: float
    label: str
    median_error: float

    @property
    def error(self) -> float:
        return abs(self.value_a / self.reference_a - 1)


def worst_columns(size: int, layout: str | None = None, sweeps: int = 3) -> tuple[Worst, Worst]:
    """Worst column of the full solve and of the reduced model (``sweeps``) over the stored patterns of
    ``size`` (only ``layout`` ``row``/``column`` if given; columns carrying ≥ 1e−3 of the pattern's largest
    current), with the median over patterns of each pattern's largest error."""
    best = {"f": (1.0, 1.0, ""), "r": (1.0, 1.0, "")}
    per_pattern: dict[str, list[float]] = {"f": [], "r": []}
    for entry in ng.load_reference()[str(size)]:
        p = ng.pattern(size, entry["seed"])
        lay = "row" if p.circuit.r_row_ohm > 0 else "column"
        ref = np.asarray(entry["currents_a"])
        if (layout is not None and lay != layout) or not ref.size or ref.max() <= 0:
            continue
        m = np.flatnonzero(ref > 1e-3 * ref.max())
        for key, vals in (("f", solve(p.circuit, p.driven, p.lrs).currents_a),
                          ("r", solve_reduced(p.circuit, p.driven, p.lrs, sweeps=sweeps))):
            err = np.abs(vals[m] / ref[m] - 1)
            j = int(m[np.argmax(err)])
            per_pattern[key].append(float(err.max()))
            r0, v0, _ = best[key]
            if err.max() >= abs(v0 / r0 - 1):
                best[key] = (float(ref[j]), float(vals[j]), f"seed {entry['seed']} ({lay} source line) column {j}")
    return tuple(Worst(*best[k], float(np.median(per_pattern[k])) if per_pattern[k] else 0.0)  # type: ignore[return-value]
                 for k in ("f", "r"))


@case(topic=TOPIC)
def crossbar_ngspice() -> list[CaseResult]:
    out = []
    for size in ng.SIZES:
        n = len(ng.load_reference()[str(size)])
        full, _ = worst_columns(size)
        out.append(ratio_case(f"circuits.crossbar_ngspice.{size}x{size}", TOPIC, SOURCE, full.reference_a,
                              full.value_a, "A", lo=1 - SPICE_TOL, hi=1 + SPICE_TOL,
                              note=f"full nodal solve, worst column of {n} patterns: {full.label}"))
        for layout in ("column", "row"):
            _, red = worst_columns(size, layout)
            out.append(info_case(f"circuits.crossbar_ngspice.{size}x{size}_reduced_{layout}", TOPIC, SOURCE,
                                 red.reference_a, red.value_a, "A",
                                 note=f"reduced model (3 sweeps), {layout} source line: worst column {red.label}; "
                                      f"median of the per-pattern worst errors {red.median_error:.2g}"))
    return out
