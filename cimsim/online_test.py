"""Online test of the dropout modules, after the SpinDrop testing paper (Ahmed et al., arXiv:2401.04744).

The paper runs known test inputs for T MC passes and flags a chip whose uncertainty falls outside the fault-free
distribution's μ ± 3σ bounds. cimsim does the same with two statistics (docs/dependability.md "Online test"):

- **output spread** (the paper's idea): S = mean over test inputs and classes of the standard deviation, over the
  T passes, of the logits (not the softmax: a confident network's probabilities saturate, so their spread sits
  at the floor of 0 and a frozen output would stay inside the lower bound). Fault-free chips (different seeds: their own masks and, with variation on, their
  own devices) give μ_S and σ_S; a chip is flagged if |S − μ_S| > k·σ_S. Stuck-at-keep modules and p shifted down
  shrink the spread; stuck-at-drop modules and p shifted up change it too (a fully dropped layer freezes it).
  If S is Gaussian the false-alarm rate is 2·(1 − Φ(k)) (0.27 % at k = 3).
- **module read-out**: each module's read bit is latched on chip, so a counter per module can tally its drops over
  the test's T·N masks. Module k makes n_k bits; under the nominal p its count is Binomial(n_k, p). A chip is
  flagged if any module's count falls outside the two-sided binomial quantiles at level α/M (Bonferroni over the
  M modules), α = the output test's nominal rate, so the chip-level false-alarm rate is at most α. This test
  compares with the *nominal* p: with process variation on, modules whose p varied are flagged as shifted.

The cost of the test is the chip running N test inputs × T passes: energy and time come from a hardware-only
:func:`cimsim.simulate.simulate` of exactly that (the ledger and the engine), plus nothing for the read-out
(its bits are read anyway; the counters are not priced).

Chip instances are seeded ``SeedSequence(seed, spawn_key=(ONLINE_TEST_DOMAIN, role, case, chip))`` so the
calibration chips, the chips of each fault case and their faults are independent and reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from cimsim.faults.inject import sample_chip_faults
from cimsim.functional.dropout import job_ids
from cimsim.functional.executor import Executor
from cimsim.hardware import Hardware, build_hardware
from cimsim.mapping import Mapping, map_network
from cimsim.network.datasets import load_dataset, quantize_inputs
from cimsim.network.layers import Network
from cimsim.network.weights import load_network
from cimsim.resolve import resolve
from cimsim.spec.arch import ArchSpec
from cimsim.spec.faults import FaultsSpec
from cimsim.spec.workload import WorkloadSpec

ONLINE_TEST_DOMAIN = 30
_CALIBRATION, _EVALUATION = 0, 1


@dataclass(frozen=True)
class FaultCase:
    """One row of the detection table: a fault type at a severity (``spec``: the faults every chip gets)."""

    fault: str
    severity: str
    spec: FaultsSpec


def default_cases(dropout_layers: list[str]) -> list[FaultCase]:
    """Fault-free chips (false alarms), the testing paper's module faults at three severities each, and a fully
    stuck layer (every module of the last dropout layer stuck at drop)."""
    cases = [FaultCase("none", "-", FaultsSpec())]
    for fault in ("stuck_at_drop", "stuck_at_keep"):
        for frac in (0.01, 0.05, 0.2):
            cases.append(FaultCase(fault, f"{frac:.0%} of modules", FaultsSpec(dropout_modules={fault: frac})))
    for dp in (-0.1, -0.05, 0.05, 0.1):
        cases.append(FaultCase("shifted", f"Δp {dp:+.2f}, all modules",
                               FaultsSpec(dropout_modules={"shifted": 1.0, "delta_p": dp})))
    layer = dropout_layers[-1]
    cases.append(FaultCase("stuck_at_drop", f"whole layer {layer}",
                           FaultsSpec(dropout_modules={"stuck_at_drop": 1.0, "layers": [layer]})))
    return cases


def nominal_false_alarm(k_sigma: float) -> float:
    """Two-sided Gaussian tail outside μ ± kσ."""
    return float(2.0 * stats.norm.sf(k_sigma))


def _chip_seed(seed: int, role: int, case: int, chip: int) -> int:
    ss = np.random.SeedSequence(seed, spawn_key=(ONLINE_TEST_DOMAIN, role, case, chip))
    return int(ss.generate_state(1, dtype=np.uint32)[0])


@dataclass
class Bench:
    """The chip design, network and test inputs the test runs on (built once)."""

    hw: Hardware
    mapping: Mapping
    net: Network
    x: np.ndarray
    passes: int

    @classmethod
    def build(cls, arch: ArchSpec, workload: WorkloadSpec, base_dir: str | Path, *, passes: int,
              test_inputs: int) -> Bench:
        design = resolve(arch, workload)
        mapping = map_network(design)
        hw = build_hardware(design, mapping)
        net = load_network(workload.network, base_dir)
        ds = load_dataset(workload.dataset, base_dir)
        x = quantize_inputs(ds.x_test[:test_inputs], workload.network.input_bits)
        return cls(hw, mapping, net, x, passes)

    def measure(self, spec: FaultsSpec, chip_seed: int) -> tuple[float, list[tuple[np.ndarray, np.ndarray]]]:
        """Output spread S of one chip and, per dropout layer, (drop counts, bits) of each module."""
        faults = sample_chip_faults(spec, self.hw, self.mapping, chip_seed)
        ex = Executor(self.hw, self.mapping, self.net, seed=chip_seed, passes=self.passes, faults=faults)
        ids = np.arange(self.x.shape[0])
        logits = ex.forward(self.x, mc=True, stream=0, input_ids=ids)
        spread = float(logits.std(axis=0).mean())
        readout = []
        jobs = job_ids(ids, self.passes)
        for lp in ex.layers:
            lm = lp.lm
            if not lm.dropout:
                continue
            # the same bits the forward pass drew for these jobs (per_input masks; the read-out counts them)
            drops = ex._masks(lp, 0).drops(jobs).reshape(-1, lm.mask_bits)
            module = np.arange(lm.mask_bits) // lm.generations
            counts = np.bincount(module, weights=drops.sum(axis=0), minlength=lm.modules)
            bits = np.bincount(module, minlength=lm.modules) * drops.shape[0]
            readout.append((counts, bits))
        return spread, readout


def readout_flag(readout: list[tuple[np.ndarray, np.ndarray]], p: float, alpha: float) -> bool:
    """Whether any module's drop count is outside its two-sided Binomial(n_k, p) bounds at level α/M."""
    m = sum(c.size for c, _ in readout)
    a = alpha / max(m, 1) / 2.0
    for counts, bits in readout:
        lo = stats.binom.ppf(a, bits, p)           # P(X < lo) ≤ a
        hi = stats.binom.isf(a, bits, p)           # P(X > hi) ≤ a
        if np.any(counts < lo) or np.any(counts > hi):
            return True
    return False


@dataclass
class CampaignResult:
    """Detection table and calibration of an online-test campaign."""

    passes: int
    test_inputs: int
    k_sigma: float
    nominal_false_alarm: float
    calibration_chips: int
    chips: int
    mu: float
    sigma: float
    rows: list[dict[str, Any]] = field(default_factory=list)
    cost: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"passes": self.passes, "test_inputs": self.test_inputs, "k_sigma": self.k_sigma,
                "nominal_false_alarm": self.nominal_false_alarm, "calibration_chips": self.calibration_chips,
                "chips_per_case": self.chips, "fault_free_spread_mean": self.mu, "fault_free_spread_std": self.sigma,
                "cases": self.rows, "test_cost": self.cost}


def cost_of_test(arch: ArchSpec, workload: WorkloadSpec, base_dir: str | Path, *, passes: int,
              test_inputs: int) -> dict[str, float]:
    """Passes, energy (J) and time (s) of running the test inputs for T passes (ledger and engine)."""
    from cimsim.simulate import (  # imported when a campaign runs: keeps `import` of this module light
        Options,
        simulate,
    )

    r = simulate(arch, workload, Options(hardware_only=True, passes=passes, inputs=test_inputs,
                                         timing_inputs=test_inputs), base_dir=base_dir)
    return {"passes": passes * test_inputs, "energy_j": r.ledger.per_inference_j * test_inputs,
            "time_s": r.engine.total_cycles / r.clock_hz}


def campaign(arch: ArchSpec, workload: WorkloadSpec, base_dir: str | Path, *, cases: list[FaultCase] | None = None,
             chips: int = 200, calibration_chips: int = 200, passes: int = 20, test_inputs: int = 4,
             k_sigma: float = 3.0, seed: int = 0) -> CampaignResult:
    """Calibrate the output-spread bounds on fault-free chips, then flag ``chips`` sampled chips per fault case.

    Detection rate (fault cases) and false-alarm rate (the ``none`` case) are the flagged fractions; each row also
    gives the read-out test's rate and either test's ("any"). Binomial standard errors: √(r(1 − r)/chips).
    """
    bench = Bench.build(arch, workload, base_dir, passes=passes, test_inputs=test_inputs)
    dropped = [lm.name for lm in bench.mapping.layers if lm.dropout]
    cases = cases if cases is not None else default_cases(dropped)
    alpha = nominal_false_alarm(k_sigma)
    calib = np.array([bench.measure(FaultsSpec(), _chip_seed(seed, _CALIBRATION, 0, c))[0]
                      for c in range(calibration_chips)])
    mu, sigma = float(calib.mean()), float(calib.std(ddof=1))
    p_nom = bench.hw.component("dropout_source").p_realized
    res = CampaignResult(passes, test_inputs, k_sigma, alpha, calibration_chips, chips, mu, sigma)
    for i, case in enumerate(cases):
        out_flags, ro_flags = [], []
        for c in range(chips):
            spread, readout = bench.measure(case.spec, _chip_seed(seed, _EVALUATION, i, c))
            out_flags.append(abs(spread - mu) > k_sigma * sigma)
            ro_flags.append(readout_flag(readout, p_nom, alpha))
        o, r = np.array(out_flags), np.array(ro_flags)
        rate = {"output": float(o.mean()), "readout": float(r.mean()), "any": float((o | r).mean())}
        res.rows.append({"fault": case.fault, "severity": case.severity,
                         "metric": "false_alarm_rate" if case.fault == "none" else "detection_rate",
                         "output_test": rate["output"], "readout_test": rate["readout"], "either": rate["any"],
                         "stderr_output": math.sqrt(rate["output"] * (1 - rate["output"]) / chips)})
    res.cost = cost_of_test(arch, workload, base_dir, passes=passes, test_inputs=test_inputs)
    return res
