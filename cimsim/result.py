"""What a run produced: :class:`Result` (timing, energy, accuracy and uncertainty, tables, ``result.json``).

Built by :func:`cimsim.simulate.simulate`; read by report/ and cli/.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from cimsim import __version__
from cimsim.engine.cycles import mask_mode, serial_step_cycles
from cimsim.engine.plan import TimingPlan
from cimsim.engine.simulator import EngineResult
from cimsim.hardware import Hardware
from cimsim.ledger import (
    OPS_CONVENTION,
    Efficiency,
    Ledger,
    binary_macs_per_pass,
    efficiency,
    ops_per_inference,
)
from cimsim.mapping import Mapping
from cimsim.spec.arch import ArchSpec
from cimsim.spec.workload import WorkloadSpec

if TYPE_CHECKING:  # pandas loads only when a table is asked for
    import pandas as pd


@dataclass
class Result:
    """Everything a run produced. ``to_json()`` gives the machine-readable document; ``*_df()`` the tables.

    Energies are per inference (one input, all T passes) unless a name says otherwise; times in s or cycles.
    ``plan`` is the timing plan the engine ran (per-layer latency is read from it).
    """

    arch: ArchSpec
    workload: WorkloadSpec
    hardware: Hardware
    mapping: Mapping
    ledger: Ledger
    engine: EngineResult
    closed_form_cycles: int
    passes: int
    seed: int
    inputs: int
    timed_inputs: int
    hardware_only: bool
    plan: TimingPlan
    metrics: dict[str, Any] = field(default_factory=dict)
    ood: dict[str, dict[str, float]] = field(default_factory=dict)
    corrupted: dict[str, dict[str, float]] = field(default_factory=dict)
    per_sample: pd.DataFrame | None = None
    ood_scores: pd.DataFrame | None = None
    module_p: dict[str, np.ndarray] = field(default_factory=dict)
    faults: dict[str, Any] = field(default_factory=dict)
    lifetime: dict[str, Any] | None = None
    wall_s: dict[str, float] = field(default_factory=dict)
    chips: dict[str, Any] = field(default_factory=dict)
    chip_module_p: pd.DataFrame | None = None

    def __repr__(self) -> str:
        acc = f"accuracy {self.metrics['accuracy']:.4f}" if "accuracy" in self.metrics else "hardware-only"
        return (f"<Result {self.arch.name} × {self.workload.name}: T={self.passes}, {acc}, "
                f"{self.ledger.per_inference_j:.4g} J/inference, latency {self.latency_s:.4g} s, "
                f"area {self.hardware.area_m2() * 1e6:.4g} mm²>")

    # ---------------------------------------------------------------- timing
    @property
    def clock_hz(self) -> float:
        return self.hardware.ctx.clock_hz

    @property
    def latency_cycles(self) -> float:
        """Mean over the timed inputs of the cycles from an input's first pass starting to its last pass
        finishing (docs/timing.md, Results)."""
        return float(np.mean(self.engine.latency_cycles))

    @property
    def first_input_latency_cycles(self) -> int:
        """The first input's latency (an idle chip; per_pass masks generated during it)."""
        return self.engine.first_input_latency_cycles

    @property
    def steady_state_interval_cycles(self) -> float:
        """Cycles between successive inputs finishing after the first (the steady-state initiation interval)."""
        return self.engine.steady_state_interval_cycles

    @property
    def latency_s(self) -> float:
        return self.latency_cycles / self.clock_hz

    @property
    def throughput_inferences_per_s(self) -> float:
        return self.engine.throughput_inputs_per_cycle * self.clock_hz

    @property
    def runtime_s(self) -> float:
        """Time to run all evaluated inputs at the measured throughput."""
        return self.inputs / self.throughput_inferences_per_s

    def layer_latency(self) -> dict[str, dict[str, float]]:
        """Per layer, one MC pass of one input on that layer alone (uncontended, as in the sequential schedule;
        ``cimsim.engine.cycles.serial_step_cycles``) in steady state, i.e. of an input after the first:
        ``cycles`` and ``s``, mask generation included where that job needs a fresh mask (per_input: every job;
        per_window: inline before every MVM; per_pass: none, the masks were latched during the first input).
        ``mask_cycles`` is one fresh mask's generation (per_input and per_pass jobs; 0 otherwise)."""
        out = {}
        for layer in self.plan.layers:
            cyc = serial_step_cycles(layer, input_index=1)
            out[layer.name] = {"cycles": cyc, "s": cyc / self.clock_hz,
                               "mask_cycles": layer.mask_cycles if mask_mode(layer) == "job" else 0}
        return out

    # ---------------------------------------------------------------- efficiency
    def efficiency(self) -> Efficiency:
        """Ops per inference (``cimsim.ledger.OPS_CONVENTION``), TOPS/W, J per binary MAC and TOPS/mm² (whole
        chip area, measured throughput)."""
        return efficiency(ops_per_inference(self.mapping, self.passes), self.ledger.per_inference_j,
                          self.throughput_inferences_per_s, self.hardware.area_m2())

    @property
    def config_hash(self) -> str:
        """sha256 of the canonical JSON (sorted keys, no spaces) of the resolved arch, workload, seed and T."""
        doc = {"arch": self.arch.model_dump(mode="json"), "workload": self.workload.model_dump(mode="json"),
               "seed": self.seed, "passes": self.passes}
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(text.encode("ascii")).hexdigest()

    # ---------------------------------------------------------------- tables
    def layers_df(self) -> pd.DataFrame:
        """One row per layer: mapping, binary MACs and latency of one pass, energy per inference."""
        import pandas as pd

        return pd.DataFrame(self.layer_rows())

    def layer_rows(self) -> list[dict[str, Any]]:
        """The rows of :meth:`layers_df` as plain dicts."""
        e = self.ledger.by_layer_j()
        lat = self.layer_latency()
        rows = []
        for lm in self.mapping.layers:
            rows.append({"layer": lm.name, "kind": lm.kind, "fan_in": lm.fan_in, "outputs": lm.outputs,
                         "mvms_per_pass": lm.mvms, "arrays": lm.arrays,
                         # what one MVM's compute time follows (busiest array, × input bit planes) and what its
                         # energy counts (every array of the layer)
                         "row_group_reads_per_mvm_busiest_array": lm.row_groups * lm.planes,
                         "row_group_reads_per_mvm_all_arrays": lm.reads_per_mvm,
                         "utilization": lm.utilization, "dropout": lm.dropout, "dropout_modules": lm.modules,
                         "bits_per_module": lm.generations, "binary_macs_per_pass": binary_macs_per_pass(lm),
                         "latency_cycles_per_pass": lat[lm.name]["cycles"],
                         "latency_per_pass_s": lat[lm.name]["s"], "mask_cycles": lat[lm.name]["mask_cycles"],
                         "energy_per_inference_j": e.get(lm.name, 0.0)})
        return rows

    def components_df(self) -> pd.DataFrame:
        """One row per component type: instances, area, leakage, energy per inference."""
        import pandas as pd

        e = self.ledger.by_component_j()
        area = self.hardware.area_breakdown_m2()
        leak = self.hardware.leakage_breakdown_w()
        return pd.DataFrame([{"component": n, "model": i.component.model, "instances": i.count,
                              "area_m2": area[n], "leakage_w": leak[n], "energy_per_inference_j": e.get(n, 0.0)}
                             for n, i in self.hardware.instances.items()])

    def dropout_summary(self) -> dict[str, Any]:
        """Granularity and the three p's: trained (the network's), hardware (the source's setting) and
        realised (what the source's model makes of that setting with nominal parts)."""
        d = self.hardware.design
        src = self.hardware.component("dropout_source")
        # per dropped layer: mean p of its modules on this chip instance (variation), else the nominal p
        by_layer = {lm.name: float(self.module_p[lm.name].mean()) if lm.name in self.module_p else src.p_realized
                    for lm in self.mapping.layers if lm.dropout}
        return {"granularity": d.granularity, "regenerate": d.regenerate, "trained_p": d.trained_p,
                "hardware_p": d.hardware_p, "realized_p": src.p_realized, "realized_p_by_layer": by_layer,
                "modules": self.hardware.instances["dropout_source"].count, **src.operating_point()}

    def ood_df(self) -> pd.DataFrame:
        """One row per OOD set: AUROC (predictive entropy, mutual information, deterministic max-softmax) and
        detection rate. Empty for hardware-only runs or ``ood=False``."""
        import pandas as pd

        return pd.DataFrame([{"ood_set": k, **v} for k, v in self.ood.items()])

    def corrupted_df(self) -> pd.DataFrame:
        """One row per (corruption, severity): MC and deterministic accuracy, mean predictive entropy.
        Empty for hardware-only runs or ``corruptions=False``."""
        import pandas as pd

        rows = []
        for key, v in self.corrupted.items():
            name, _, severity = key.rpartition("_")
            rows.append({"corruption": name, "severity": int(severity), **v})
        return pd.DataFrame(rows)

    def per_sample_df(self) -> pd.DataFrame:
        """One row per evaluated test input (index ``input``): label, MC and deterministic prediction,
        predictive entropy, mutual information, max softmax. Empty for hardware-only runs."""
        import pandas as pd

        df = self.per_sample.copy() if self.per_sample is not None else pd.DataFrame()
        df.index.name = "input"
        return df

    def _module_fault_counts(self, layer: str) -> dict[str, int]:
        mods = self.faults.get("layers", {}).get(layer, {}).get("dropout_modules")
        return {k: len(v) for k, v in mods.items() if k != "modules"} if mods else {}

    def to_json(self) -> dict[str, Any]:
        eff = self.efficiency()
        out: dict[str, Any] = {
            "cimsim_version": __version__,
            "config_hash": self.config_hash,
            "latency_s": self.latency_s,
            "latency_cycles": self.latency_cycles,  # the mean over the timed inputs (next two: its parts)
            "first_input_latency_cycles": self.first_input_latency_cycles,
            "first_input_latency_s": self.first_input_latency_cycles / self.clock_hz,
            "steady_state_interval_cycles": self.steady_state_interval_cycles,
            "steady_state_interval_s": self.steady_state_interval_cycles / self.clock_hz,
            "latency_per_pass_s": self.latency_s / self.passes,
            "layer_latency_per_pass": self.layer_latency(),
            "throughput_inferences_per_s": self.throughput_inferences_per_s,
            "energy_per_inference_j": self.ledger.per_inference_j,
            "energy_per_pass_j": self.ledger.per_pass_j,
            "energy_breakdown_j": self.ledger.by_component_j(),
            "energy_by_layer_j": self.ledger.by_layer_j(),
            "ops_per_inference": eff.ops_per_inference,
            "ops_convention": OPS_CONVENTION,
            "tops_per_w": eff.tops_per_w,
            "energy_per_mac_j": eff.energy_per_mac_j,
            "tops_per_mm2": eff.tops_per_mm2,
            "area_m2": self.hardware.area_m2(),
            "area_breakdown_m2": self.hardware.area_breakdown_m2(),
            "leakage_w": self.hardware.leakage_w(),
            # area_m2 / leakage_w above are the chip as used by this workload (what is priced); views gives both
            # it and the chip as built, labelled, as `cimsim describe ARCH WORKLOAD` does
            "views": self.hardware.views(),
            "arrays_used": self.mapping.arrays_used,
            "chip_tiles": {"tiles": self.arch.chip.tiles, "auto": self.hardware.design.tiles_auto},
            "arrays_total": self.mapping.chip_arrays,
            "array_area_used_m2": self.mapping.arrays_used * self.hardware.component("crossbar").area_m2(),
            "utilization": self.mapping.utilization,
            "dropout": self.dropout_summary(),
            "timing": {"engine_cycles": self.engine.total_cycles, "closed_form_cycles": self.closed_form_cycles,
                       "contention_stall_cycles": self.engine.total_cycles - self.closed_form_cycles,
                       "timed_inputs": self.timed_inputs, "events": self.engine.events,
                       "schedule": self.arch.controller.schedule, "replicas": self.mapping.replicas,
                       "method": getattr(self.engine, "method", "engine"),
                       "reason": getattr(self.engine, "reason", "")},  # why that method (docs/timing.md)
            "hardware_only": self.hardware_only,
            "activity": "expected (hardware-only: p, input bit density 0.5, LRS fraction 0.5)"
                        if self.hardware_only else "counted in the functional run",
            "passes": self.passes,
            "seed": self.seed,
            "inputs": self.inputs,
            "wall_time_s": self.wall_s,
            # dropout-MTJ wear-out (cimsim.faults.lifetime); None for sources that do not wear out
            "lifetime": self.lifetime,
            "lifetime_s": self.lifetime["lifetime_s"] if self.lifetime else None,
            "writes_per_module_per_s": self.lifetime["writes_per_module_per_s"] if self.lifetime else None,
        }
        if not self.hardware_only:
            out.update({k: self.metrics[k] for k in ("accuracy", "accuracy_deterministic", "nll", "ece",
                                                      "entropy", "mutual_information")})
            out["ood"] = self.ood
            out["corrupted"] = self.corrupted
            out["dropout_p_modules"] = {k: {"mean": float(v.mean()), "std": float(v.std()), "n": int(v.size),
                                            **self._module_fault_counts(k)} for k, v in self.module_p.items()}
            out["faults_injected"] = self.faults
            if self.chips:
                out["chips"] = self.chips
        out["config"] = {"arch": self.arch.model_dump(mode="json"), "workload": self.workload.model_dump(mode="json")}
        return out
