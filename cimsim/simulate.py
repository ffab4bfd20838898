"""The one entry point: ``simulate(arch, workload, options) -> Result`` (docs/architecture.md).

arch + workload → resolve (Design) → mapping → hardware → functional run (accuracy, uncertainty, activity
counts) and event-driven timing run (cycles) → energy ledger → Result.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cimsim import __version__
from cimsim.activity import expected_counts, new_counts
from cimsim.engine.closed_form import closed_form
from cimsim.engine.cycles import mask_mode, serial_step_cycles
from cimsim.engine.plan import TimingPlan, build_plan
from cimsim.engine.simulator import EngineResult
from cimsim.engine.timing import TimingMode, time_plan
from cimsim.errors import WeightsError
from cimsim.faults.lifetime import lifetime as wear_lifetime
from cimsim.hardware import Hardware, build_hardware
from cimsim.ledger import (
    OPS_CONVENTION,
    Efficiency,
    Ledger,
    binary_macs_per_pass,
    build_ledger,
    efficiency,
    ops_per_inference,
)
from cimsim.mapping import Mapping, map_network
from cimsim.resolve import resolve
from cimsim.spec.arch import ArchSpec
from cimsim.spec.loader import load_arch, load_workload
from cimsim.spec.workload import WorkloadSpec

if TYPE_CHECKING:  # pandas, scipy and the functional stack load only when a run or a table needs them
    import pandas as pd

# Seed domains of the evaluation-set generators (the executor uses 0–4).
_OOD_DATA, _CORRUPT_DATA, _CHIPS = 10, 11, 12
# Streams of the executor: 0 test MC, 1 test deterministic, 100+ OOD sets, 1000+ corruptions.
_OOD_STREAM, _CORRUPT_STREAM = 100, 1000


@dataclass(frozen=True)
class Options:
    """Run options.

    Attributes:
        passes: MC passes T (None: the workload's ``mc_passes``).
        seed: root seed of every random draw.
        limit: evaluate only the first N test inputs (None: the workload's ``limit``, else all).
        hardware_only: skip the functional run (no weights, no data set); energy from expected activity
            (stated in the result).
        inputs: hardware-only runs: inferences the energy and runtime are counted for (default 1; per-inference
            numbers do not depend on it).
        timing_inputs: inputs the event engine schedules (timing is data-independent): functional runs time
            the first min(N, timing_inputs) inputs, hardware-only runs exactly timing_inputs; None: all.
        trace: keep Chrome-trace events of the timing run.
        ood: evaluate the workload's OOD sets.
        corruptions: evaluate the workload's corruptions.
        progress: called as ``progress(phase, done, total)`` while long phases run.
        timing: ``auto`` (closed form where provably equal to the event engine, else the engine),
            ``engine`` or ``closed_form`` (:func:`cimsim.engine.timing.time_plan`).
        threads: worker threads of the functional run (None: the CPUs this process may use); results do not
            depend on it.
    """

    passes: int | None = None
    seed: int = 0
    limit: int | None = None
    hardware_only: bool = False
    inputs: int | None = None
    timing_inputs: int | None = 64
    trace: bool = False
    ood: bool = True
    corruptions: bool = True
    progress: Callable[[str, int, int], None] | None = None
    timing: TimingMode = "auto"
    threads: int | None = None


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


def _scores(name: str, summ: Any) -> pd.DataFrame:
    """Per-sample uncertainty scores of one evaluation set (ROC curves and histograms in reports), from its
    per-input MC summary (:class:`cimsim.functional.metrics.Summary`)."""
    import pandas as pd

    return pd.DataFrame({"set": name, "entropy": summ.predictive_entropy(),
                         "mutual_information": summ.mutual_information, "max_softmax": summ.max_softmax()})


def _load_specs(arch: ArchSpec | str | Path | None, workload: WorkloadSpec | str | Path,
                base_dir: str | Path | None, arch_file: str | None
                ) -> tuple[ArchSpec, WorkloadSpec, Path, str | None, str | None]:
    wl_file = None
    if not isinstance(arch, ArchSpec):
        arch_file = None if arch is None else str(arch)
        arch = load_arch(arch)
    if not isinstance(workload, WorkloadSpec):
        base = Path(workload).parent
        wl_file = str(workload)
        workload = load_workload(workload)
    else:
        base = Path(base_dir) if base_dir is not None else Path(".")
    return arch, workload, base, arch_file, wl_file


def simulate(arch: ArchSpec | str | Path | None, workload: WorkloadSpec | str | Path,
             options: Options | None = None, *, base_dir: str | Path | None = None,
             arch_file: str | None = None) -> Result:
    """Run ``workload`` on ``arch``.

    Args:
        arch: spec or YAML path (None: all defaults).
        workload: spec or YAML path.
        options: run options.
        base_dir: folder the workload's relative paths start from when ``workload`` is a spec.
        arch_file: the file ``arch`` came from, for error messages, when ``arch`` is a spec.
    """
    opt = options or Options()
    wall: dict[str, float] = {}
    t0 = time.perf_counter()
    arch, workload, base, arch_file, wl_file = _load_specs(arch, workload, base_dir, arch_file)
    passes = opt.passes or workload.mc_passes
    design = resolve(arch, workload, arch_file=arch_file, workload_file=wl_file)
    arch = design.arch  # chip.tiles: auto is settled here
    mapping = map_network(design)
    hw = build_hardware(design, mapping)
    if opt.hardware_only:  # no weights, no data: the input count is the user's
        n = opt.inputs or 1
    else:
        if workload.network.weights is None:
            raise WeightsError("a shape-only workload (no network.weights) runs hardware-only", file=wl_file,
                               field="network.weights", allowed="a weights .npz, or --hardware-only")
        from cimsim.network.checks import check_data_against_network
        from cimsim.network.datasets import load_dataset

        ds = load_dataset(workload.dataset, base)
        check_data_against_network(ds, workload.network, file=workload.dataset.path or workload.dataset.name)
        limit = opt.limit or workload.limit
        x01, y = (ds.x_test[:limit], ds.y_test[:limit]) if limit else (ds.x_test, ds.y_test)
        n = int(x01.shape[0])
    from cimsim.limits import check_run_memory

    check_run_memory(arch, workload, inputs=n, passes=passes, ood=opt.ood, corruptions=opt.corruptions,
                     hardware_only=opt.hardware_only, file=wl_file)
    wall["setup"] = time.perf_counter() - t0

    res_metrics: dict[str, Any] = {}
    ood: dict[str, dict[str, float]] = {}
    corrupted: dict[str, dict[str, float]] = {}
    per_sample = None
    ood_scores = None
    module_p: dict[str, np.ndarray] = {}
    faults: dict[str, Any] = {}
    chips: dict[str, Any] = {}
    chip_module_p = None
    if opt.hardware_only:
        counts = expected_counts(hw, mapping, inputs=n, passes=passes)
    else:
        import pandas as pd

        from cimsim.functional import metrics
        from cimsim.functional.executor import Executor
        from cimsim.network.corruptions import corrupt
        from cimsim.network.datasets import quantize_inputs
        from cimsim.network.ood import make_ood
        from cimsim.network.weights import load_network

        t1 = time.perf_counter()
        net = load_network(workload.network, base)
        ex = Executor(hw, mapping, net, seed=opt.seed, passes=passes, threads=opt.threads)
        module_p = ex.module_probabilities()
        faults = ex.faults.summary()
        bits = workload.network.input_bits
        cnt = new_counts()
        total = n * 2
        if opt.ood:
            total += workload.ood_samples * len(workload.ood) * 2
        if opt.corruptions:
            total += n * 2 * sum(len(v) for v in workload.corruptions.values())
        done = [0]

        def tick(k: int) -> None:
            done[0] += k
            if opt.progress:
                opt.progress("functional", done[0], total)

        def summary(x: np.ndarray, *, mc: bool, stream: int, counts=None) -> metrics.Summary:
            # quantize and run one memory-bounded chunk at a time, keeping per-input summaries only: memory
            # stays flat in the number of inputs (input ids carry on across chunks, so results are identical)
            parts = []
            for start in range(0, x.shape[0], ex.chunk):
                logits = ex.run(quantize_inputs(x[start: start + ex.chunk], bits), mc=mc, stream=stream,
                                counts=counts, progress=tick, first=start)
                parts.append(metrics.Summary.of(metrics.softmax(logits)))
            return metrics.Summary.concat(parts)

        s_mc = summary(x01, mc=True, stream=0, counts=cnt)
        s_det = summary(x01, mc=False, stream=1)
        counts = {k: dict(v) for k, v in cnt.items()}
        res_metrics = {**s_mc.summarize(y), "accuracy_deterministic": s_det.accuracy(y)}
        per_sample = pd.DataFrame({"label": y, "prediction": s_mc.predict(),
                                   "entropy": s_mc.predictive_entropy(),
                                   "mutual_information": s_mc.mutual_information,
                                   "max_softmax": s_mc.max_softmax(),
                                   "prediction_deterministic": s_det.predict()})
        if opt.ood:
            score_frames = [_scores("in_distribution", s_mc)]
            for i, name in enumerate(workload.ood):
                rng = np.random.default_rng(np.random.SeedSequence(opt.seed, spawn_key=(_OOD_DATA, i)))
                xo = make_ood(name, x01, workload.ood_samples, rng)
                s_o = summary(xo, mc=True, stream=_OOD_STREAM + i)
                s_od = summary(xo, mc=False, stream=_OOD_STREAM + 50 + i)
                score_frames.append(_scores(name, s_o))
                q = workload.ood_quantile
                s = metrics.ood_scores_summary(s_mc, s_o, "entropy", q)
                sd = metrics.ood_scores_summary(s_det, s_od, "max_softmax", q)
                smi = metrics.ood_scores_summary(s_mc, s_o, "mutual_information", q)
                ood[name] = {"auroc": s["auroc"], "detection_rate": s["detection_rate"],
                             "auroc_mutual_information": smi["auroc"],
                             "auroc_deterministic_max_softmax": sd["auroc"]}
            ood_scores = pd.concat(score_frames, ignore_index=True)
        if opt.corruptions:
            k = 0
            for name, severities in workload.corruptions.items():
                for sev in severities:
                    rng = np.random.default_rng(np.random.SeedSequence(opt.seed, spawn_key=(_CORRUPT_DATA, k)))
                    xc = corrupt(name, x01, sev, rng)
                    sc = summary(xc, mc=True, stream=_CORRUPT_STREAM + 2 * k)
                    scd = summary(xc, mc=False, stream=_CORRUPT_STREAM + 2 * k + 1)
                    corrupted[f"{name}_{sev}"] = {"accuracy": sc.accuracy(y),
                                                  "accuracy_deterministic": scd.accuracy(y),
                                                  "entropy": float(sc.predictive_entropy().mean())}
                    k += 1
        if arch.variation.chips > 1:
            chips, chip_module_p = chip_monte_carlo(hw, mapping, net, workload, x01, y, opt, passes)
        wall["functional"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    if opt.hardware_only:
        timed = opt.timing_inputs or n
    else:
        timed = n if opt.timing_inputs is None else max(1, min(n, opt.timing_inputs))
    plan = build_plan(hw, mapping, inputs=timed, passes=passes)
    jobs = timed * passes
    eng = time_plan(plan, opt.timing, trace=opt.trace,
                    progress=(lambda d: opt.progress("timing", d, jobs)) if opt.progress else None)
    cf_cycles = eng.total_cycles if eng.method == "closed_form" else closed_form(plan).total_cycles
    wall["timing"] = time.perf_counter() - t2
    runtime_s = n / (eng.throughput_inputs_per_cycle * hw.ctx.clock_hz)
    ledger = build_ledger(hw, counts, runtime_s=runtime_s, inferences=n, passes=passes,
                          tiles_used=mapping.tiles_per_replica * mapping.replicas)
    life = wear_lifetime(hw, mapping, passes=passes, inputs=n,
                         throughput_per_s=eng.throughput_inputs_per_cycle * hw.ctx.clock_hz, spec=arch.faults.lifetime)
    wall["total"] = time.perf_counter() - t0
    return Result(arch=arch, workload=workload, hardware=hw, mapping=mapping, ledger=ledger, engine=eng,
                  closed_form_cycles=cf_cycles, passes=passes, seed=opt.seed, inputs=n, timed_inputs=timed,
                  hardware_only=opt.hardware_only, metrics=res_metrics, ood=ood, corrupted=corrupted,
                  per_sample=per_sample, ood_scores=ood_scores, module_p=module_p, faults=faults, lifetime=life,
                  wall_s=wall, plan=plan, chips=chips, chip_module_p=chip_module_p)


def chip_seed(seed: int, chip: int) -> int:
    """Root seed of chip instance ``chip`` (chip 0 is the run's own seed, so its numbers are the main run's)."""
    if chip == 0:
        return seed
    return int(np.random.SeedSequence(seed, spawn_key=(_CHIPS, chip)).generate_state(1, np.uint64)[0] >> 1)


def chip_monte_carlo(hw: Hardware, mapping: Mapping, net: Any, workload: WorkloadSpec, x01: np.ndarray,
                     y: np.ndarray, opt: Options, passes: int) -> tuple[dict[str, Any], pd.DataFrame]:
    """Functional run on ``arch.variation.chips`` sampled chip instances (issue 13 item 4).

    Chip c draws its device variation and its random streams from :func:`chip_seed` (seed, c). Per chip: MC
    accuracy, NLL and OOD AUROC (predictive entropy, mean over the workload's OOD sets); returned as mean and
    std over chips (sample std, ddof = 1) with the per-chip values, and every module's p per chip as a table
    (chip, layer, module, p).
    """
    import pandas as pd

    from cimsim.functional import metrics
    from cimsim.functional.executor import Executor
    from cimsim.network.datasets import quantize_inputs
    from cimsim.network.ood import make_ood

    bits = workload.network.input_bits
    rows: list[dict[str, Any]] = []
    tables = []
    for c in range(hw.arch.variation.chips):
        ex = Executor(hw, mapping, net, seed=chip_seed(opt.seed, c), passes=passes, threads=opt.threads)
        p_mc = metrics.softmax(ex.run(quantize_inputs(x01, bits), mc=True, stream=0))
        summ = metrics.summarize(p_mc, y)
        row: dict[str, Any] = {"chip": c, "accuracy": summ["accuracy"], "nll": summ["nll"]}
        if opt.ood and workload.ood:
            aurocs = []
            for i, name in enumerate(workload.ood):
                rng = np.random.default_rng(np.random.SeedSequence(opt.seed, spawn_key=(_OOD_DATA, i)))
                xo = make_ood(name, x01, workload.ood_samples, rng)
                p_o = metrics.softmax(ex.run(quantize_inputs(xo, bits), mc=True, stream=_OOD_STREAM + i))
                aurocs.append(metrics.ood_scores(p_mc, p_o, "entropy", workload.ood_quantile)["auroc"])
            row["auroc"] = float(np.mean(aurocs))
        rows.append(row)
        for layer, pk in ex.module_probabilities().items():
            tables.append(pd.DataFrame({"chip": c, "layer": layer, "module": np.arange(pk.size), "p": pk}))
    df = pd.DataFrame(rows)
    ddof = 1 if len(df) > 1 else 0
    out: dict[str, Any] = {"n": len(df), "seeds": [chip_seed(opt.seed, c) for c in range(len(df))]}
    for k in ("accuracy", "nll", "auroc"):
        if k in df:
            out[k] = {"mean": float(df[k].mean()), "std": float(df[k].std(ddof=ddof)),
                      "per_chip": [float(v) for v in df[k]]}
    module_p = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=["chip", "layer", "module", "p"])
    if len(module_p):
        counts, edges = np.histogram(module_p["p"], bins=20, range=(0.0, 1.0))
        out["module_p_histogram"] = {"bin_edges": [float(e) for e in edges], "counts": [int(n) for n in counts]}
    return out, module_p
