"""Energy ledger: action counts × component action energies, plus leakage × runtime (DESIGN.md §4 "Energy").

Counts come from the functional run (data-dependent) or from :func:`cimsim.activity.expected_counts`
(hardware-only mode). Leakage is charged for the whole makespan on every provisioned instance and
appears as its own layer row ``(leakage)`` so the per-layer breakdown sums to the total.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from cimsim.activity import Counts
from cimsim.hardware import Hardware

LEAKAGE_ROW = "(leakage)"


@dataclass(frozen=True)
class Ledger:
    """Energy of a run.

    Attributes:
        table: one row per (layer, component, action): count, energy_per_action_j, energy_j.
        inferences: inputs the counts cover (each with all T passes).
        passes: T.
    """

    table: pd.DataFrame
    inferences: int
    passes: int

    @property
    def total_j(self) -> float:
        return math.fsum(self.table["energy_j"])

    @property
    def per_inference_j(self) -> float:
        return self.total_j / self.inferences

    @property
    def per_pass_j(self) -> float:
        return self.per_inference_j / self.passes

    def by_component_j(self, per_inference: bool = True) -> dict[str, float]:
        s = self.table.groupby("component", sort=False)["energy_j"].sum()
        return {k: float(v) / (self.inferences if per_inference else 1) for k, v in s.items()}

    def by_layer_j(self, per_inference: bool = True) -> dict[str, float]:
        s = self.table.groupby("layer", sort=False)["energy_j"].sum()
        return {k: float(v) / (self.inferences if per_inference else 1) for k, v in s.items()}


def build_ledger(hw: Hardware, counts: Counts, *, runtime_s: float, inferences: int, passes: int,
                 tiles_used: int | None = None) -> Ledger:
    """Price ``counts`` with ``hw``'s action energies and add leakage over ``runtime_s`` (s) of the tiles in
    use (``tiles_used``; all when None or when the chip does not power-gate)."""
    rows = []
    for layer, actions in counts.items():
        for key, n in actions.items():
            comp, action = key.split(".", 1)
            act = hw.component(comp).action(action)
            if act.composite or n == 0:  # its energy is in the finer actions counted beside it
                continue
            e = act.energy_j
            rows.append((layer, comp, action, float(n), e, float(n) * e))
    leak = hw.active_leakage_breakdown_w(tiles_used if tiles_used is not None else hw.arch.chip.tiles)
    for name, watts in leak.items():
        if watts > 0:
            rows.append((LEAKAGE_ROW, name, "leakage", runtime_s, watts, watts * runtime_s))
    table = pd.DataFrame(rows, columns=["layer", "component", "action", "count", "energy_per_action_j",
                                        "energy_j"])
    return Ledger(table=table, inferences=inferences, passes=passes)
