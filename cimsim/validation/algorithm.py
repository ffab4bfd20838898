"""Algorithm cases: the NANOARCH'22 / SpinDrop claims beside cimsim's numbers on the shipped workloads. A claim
is reported, not judged (verdict ``info``): the published networks and data sets differ from the shipped ones."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from cimsim.validation.registry import CaseResult, case, info_case

#: The source checkout holding arch_configs/ and workloads/.
REPO_ROOT = Path(__file__).resolve().parents[2]
TOPIC = "algorithm"
SRC = ("NANOARCH'22 (doi 10.1145/3565478.3572536) abstract: up to 100 % OOD detection, +15 % accuracy on "
       "corrupted data, ~+2 % in distribution")
WORKLOADS = ("workloads/digits_mlp.yaml", "workloads/digits_cnn.yaml")
ARCH = "arch_configs/spindrop.yaml"
#: Inputs evaluated per workload: the whole digits test split (540 images) [DatasetSpec test_fraction 0.3].
SEED = 0


@cache
def _run(workload: str):
    from cimsim.simulate import Options, simulate

    wl = REPO_ROOT / workload
    return simulate(REPO_ROOT / ARCH, wl, Options(seed=SEED, timing_inputs=1), base_dir=wl.parent)


def _claims(workload: str) -> list[CaseResult]:
    r = _run(workload)
    name = workload.split("/")[-1].removesuffix(".yaml")
    best_ood = max(r.ood.items(), key=lambda kv: kv[1]["detection_rate"])
    gains = {k: v["accuracy"] - v["accuracy_deterministic"] for k, v in r.corrupted.items()}
    best_c = max(gains, key=gains.get)
    id_gain = r.metrics["accuracy"] - r.metrics["accuracy_deterministic"]
    base = f"{name}, T = {r.passes}, {r.inputs} test inputs, seed {SEED}"
    return [
        info_case(f"algorithm.{name}.ood_detection", TOPIC, SRC, 1.0, best_ood[1]["detection_rate"], "1",
                  note=f"{base}; best OOD set {best_ood[0]} (entropy score, {r.workload.ood_quantile:.0%} ID kept)"),
        info_case(f"algorithm.{name}.corrupted_gain", TOPIC, SRC, 0.15, gains[best_c], "1",
                  note=f"{base}; MC − deterministic accuracy, best corruption {best_c}"),
        info_case(f"algorithm.{name}.in_distribution_gain", TOPIC, SRC, 0.02, id_gain, "1",
                  note=f"{base}; MC − deterministic accuracy on the clean test set"),
    ]


@case(topic=TOPIC, slow=True)
def digits_mlp_claims() -> list[CaseResult]:
    return _claims(WORKLOADS[0])


@case(topic=TOPIC, slow=True)
def digits_cnn_claims() -> list[CaseResult]:
    return _claims(WORKLOADS[1])
