"""Energy ledger: action counts × component action energies, plus leakage power × runtime (docs/architecture.md,
Semantics), per inference.

Counts come from the functional run (data-dependent) or from :func:`cimsim.activity.expected_counts`
(hardware-only mode). Leakage is charged for the whole makespan on every provisioned instance (or only the
tiles in use when the chip power-gates) and appears as its own layer row ``(leakage)`` so the per-layer
breakdown sums to the total.

The table (``Ledger.table``, written as ``energy_ledger.csv``) is **per inference** (one input, all T passes):

============================  ========================================================================
column                        meaning
============================  ========================================================================
``layer``                     layer name, or ``(leakage)``
``component``                 component instance name (``cimsim describe``)
``action``                    action name, or ``leakage``
``actions``                   actions per inference (mean over the evaluated inputs; may be fractional);
                              empty on leakage rows
``energy_per_action_j``       J per action; empty on leakage rows
``power_w``                   leakage rows: leakage power of all instances of the component, W; else empty
``time_s``                    leakage rows: runtime per inference (makespan / inputs), s; else empty
``energy_j``                  J per inference: ``actions × energy_per_action_j`` or ``power_w × time_s``
============================  ========================================================================

``energy_j`` sums to ``Result.to_json()["energy_per_inference_j"]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from cimsim.activity import Counts
from cimsim.hardware import Hardware
from cimsim.mapping import LayerMap, Mapping

if TYPE_CHECKING:
    import pandas as pd

LEAKAGE_ROW = "(leakage)"
#: Columns of :attr:`Ledger.table`, in order (see the module docstring for units).
COLUMNS = ("layer", "component", "action", "actions", "energy_per_action_j", "power_w", "time_s", "energy_j")


@dataclass(frozen=True)
class Ledger:
    """Energy of a run, per inference.

    Attributes:
        rows: one tuple per (layer, component, action) with the :data:`COLUMNS`; every value is per inference.
        inferences: inputs the counts covered (each with all T passes); totals are per-inference × this.
        passes: T.
    """

    rows: tuple[tuple[Any, ...], ...]
    inferences: int
    passes: int

    @cached_property
    def table(self) -> pd.DataFrame:
        """The rows as a DataFrame with the :data:`COLUMNS` (built on first use: a hardware-only CLI run that
        prints no table never imports pandas)."""
        import pandas as pd

        return pd.DataFrame(list(self.rows), columns=list(COLUMNS))

    def _sum_by(self, column: str) -> dict[str, float]:
        k, e = COLUMNS.index(column), COLUMNS.index("energy_j")
        groups: dict[str, list[float]] = {}
        for row in self.rows:
            groups.setdefault(row[k], []).append(row[e])
        return {name: math.fsum(values) for name, values in groups.items()}

    @property
    def per_inference_j(self) -> float:
        """Energy of one inference (all T passes), J."""
        return math.fsum(row[-1] for row in self.rows)

    @property
    def per_pass_j(self) -> float:
        """Energy of one MC pass, J."""
        return self.per_inference_j / self.passes

    def by_component_j(self, per_inference: bool = True) -> dict[str, float]:
        """Energy by component, J per inference (or over all inputs)."""
        return {k: v * (1 if per_inference else self.inferences) for k, v in self._sum_by("component").items()}

    def by_layer_j(self, per_inference: bool = True) -> dict[str, float]:
        """Energy by layer (leakage as the layer ``(leakage)``), J per inference (or over all inputs)."""
        return {k: v * (1 if per_inference else self.inferences) for k, v in self._sum_by("layer").items()}


def build_ledger(hw: Hardware, counts: Counts, *, runtime_s: float, inferences: int, passes: int,
                 tiles_used: int | None = None) -> Ledger:
    """Price ``counts`` (actions summed over ``inferences`` inputs) with ``hw``'s action energies and add
    leakage over ``runtime_s`` (s, the makespan of all ``inferences`` inputs) of the tiles in use
    (``tiles_used``; all when None or when the chip does not power-gate). The table is per inference."""
    nan = float("nan")
    rows = []
    for layer, actions in counts.items():
        for key, n in actions.items():
            comp, action = key.split(".", 1)
            act = hw.component(comp).action(action)
            if act.composite or n == 0:  # its energy is in the finer actions counted beside it
                continue
            e = act.energy_j
            per_inf = float(n) / inferences
            rows.append((layer, comp, action, per_inf, e, nan, nan, per_inf * e))
    leak = hw.active_leakage_breakdown_w(tiles_used if tiles_used is not None else hw.arch.chip.tiles)
    time_s = runtime_s / inferences
    for name, watts in leak.items():
        if watts > 0:
            rows.append((LEAKAGE_ROW, name, "leakage", nan, nan, watts, time_s, watts * time_s))
    return Ledger(rows=tuple(rows), inferences=inferences, passes=passes)


# ------------------------------------------------------------------------------------------- efficiency
#: Operations per binary multiply-accumulate: one XNOR (multiply) and one add (popcount). 1 MAC = 2 OP is the
#: usual convention of the CiM macro papers whose TOPS/W cimsim is compared with [lit: REFERENCES §12.1, §7].
OPS_PER_MAC = 2
OPS_CONVENTION = ("2 ops per binary MAC (XNOR + add); all T MC passes; the bit-serial first layer counts one "
                  "binary MAC per input bit plane; nominal: rows gated off by dropout still count")


def binary_macs_per_pass(lm: LayerMap) -> int:
    """Binary MACs of one layer in one MC pass: fan-in × outputs per MVM, × MVMs (conv: output positions),
    × input bit planes (bit-serial first layer)."""
    return lm.fan_in * lm.columns * lm.mvms * lm.planes


def ops_per_inference(mapping: Mapping, passes: int) -> int:
    """Operations of one inference (``OPS_CONVENTION``): ``OPS_PER_MAC`` × binary MACs × T."""
    return OPS_PER_MAC * passes * sum(binary_macs_per_pass(lm) for lm in mapping.layers)


@dataclass(frozen=True)
class Efficiency:
    """Derived figures of merit.

    Attributes:
        ops_per_inference: operations per inference (``OPS_CONVENTION``).
        tops_per_w: 1e-12 × ops / J (= tera-ops per second per watt).
        energy_per_mac_j: J per binary MAC (energy per inference / MACs per inference).
        tops_per_mm2: 1e-12 × ops/s at the measured throughput / chip area in mm².
    """

    ops_per_inference: float
    tops_per_w: float
    energy_per_mac_j: float
    tops_per_mm2: float


def efficiency(ops: float, energy_per_inference_j: float, inferences_per_s: float, area_m2: float) -> Efficiency:
    """Figures of merit from ops per inference, energy per inference (J), throughput (1/s) and area (m²)."""
    return Efficiency(ops_per_inference=ops,
                      tops_per_w=ops / energy_per_inference_j * 1e-12,
                      energy_per_mac_j=energy_per_inference_j / (ops / OPS_PER_MAC),
                      tops_per_mm2=ops * inferences_per_s * 1e-12 / (area_m2 * 1e6))
