"""The NANOARCH'22 claims measured fairly on the MNIST workloads, over several training seeds.

For each training seed (the shipped weights are seed 0; ``data/mnist_seeds/<workload>_seed<k>.npz`` the others,
made by ``python -m cimsim.network.train WORKLOAD --seeds A-B --out-dir ...``, docs/training.md) the chip's
functional model (:class:`cimsim.functional.executor.Executor`, the same one ``cimsim run`` uses) gives
deterministic and MC (T passes) probabilities on the clean test inputs, on every OOD set of the workload and on
every corruption × severity. From them, per seed:

* clean accuracy, deterministic and MC (in-distribution claim ~+2 %), and both with rejection of the 5 % most
  uncertain clean inputs (MC entropy against deterministic entropy, equal coverage);
* OOD detection at the workload's ID quantile (95 % of clean test inputs kept) and AUROC, with four scores:
  MC predictive entropy, MC mutual information, deterministic entropy, deterministic max-softmax
  (OOD claim "up to 100 %");
* corrupted accuracy, deterministic and MC on all inputs (fair), and rejection: MC-entropy rejection at the
  clean-data threshold keeps a fraction c of a corrupted set; the deterministic network keeps the same fraction c
  ranked by its own entropy (fair, equal coverage); "MC on the inputs it keeps vs deterministic on all inputs" is
  also computed and labelled unfair (corrupted-data claim +15 %).

Figures are then mean ± sample std (ddof 1) over the seeds. The OOD data and corruptions are drawn from fixed
seeds, identical for every training seed, so the spread is the training seed's alone (plus the dropout masks,
drawn from the same run seed for every network).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cimsim.functional import metrics

#: Per-seed weights of the seed-spread cases (shipped with the package).
SEED_DIR = Path(__file__).resolve().parent / "data" / "mnist_seeds"
#: Seed domains of the claim cases' evaluation data (fixed, independent of the training seed).
_OOD_DATA, _CORRUPT_DATA = 20, 21
#: Executor streams: 0 clean MC, 1 clean deterministic, 100 + 2i OOD set i, 1000 + 2k corruption k (+1: det).
_OOD_STREAM, _CORRUPT_STREAM = 100, 1000


@dataclass(frozen=True)
class Setting:
    """What one claim evaluation runs: a shipped arch and workload, overrides, seeds and sizes."""

    workload: str                      # shipped path, e.g. "workloads/mnist_mlp.yaml"
    arch: str                          # shipped path, e.g. "arch_configs/spindrop.yaml"
    arch_overrides: tuple[tuple[str, str], ...] = ()
    seeds: tuple[int, ...] = (0,)
    n_test: int = 1000                 # clean test inputs (the whole 1 000-image split)
    ood_samples: int = 500             # images per OOD set
    severities: tuple[int, ...] | None = None  # every corruption at these severities (None: the workload's)
    run_seed: int = 0                  # seed of the chip's masks and variation (the same for every network)

    @property
    def name(self) -> str:
        return Path(self.workload).stem


@dataclass(frozen=True)
class Probs:
    """Deterministic (N, K) and MC (T, N, K) softmax probabilities of one evaluation set."""

    det: np.ndarray
    mc: np.ndarray


@dataclass
class SeedResult:
    """Every figure of one training seed (fractions in [0, 1])."""

    seed: int
    acc_det: float
    acc_mc: float
    passes: int                                                            # MC passes T
    clean_kept: dict[str, float] = field(default_factory=dict)             # clean-set rejection at the ID quantile
    ood: dict[str, dict[str, float]] = field(default_factory=dict)        # set -> {score_auroc, score_det}
    corrupted: dict[str, dict[str, float]] = field(default_factory=dict)  # name_sev -> figures


def weights_path(setting: Setting, seed: int) -> Path:
    """The weights of ``seed``: the workload's own file for seed 0, else the shipped per-seed file."""
    from cimsim.examples import shipped_path
    from cimsim.spec.loader import load_workload

    wl = shipped_path(setting.workload)
    if seed == 0:
        return wl.parent / load_workload(wl).network.weights
    return SEED_DIR / f"{setting.name}_seed{seed}.npz"


def scores(p: Probs) -> dict[str, np.ndarray]:
    """Uncertainty scores per input, higher = more uncertain."""
    return {"mc_entropy": metrics.predictive_entropy(p.mc),
            "mc_mutual_information": metrics.mutual_information(p.mc),
            "det_entropy": metrics.predictive_entropy(p.det[None]),
            "det_max_softmax": 1.0 - metrics.max_softmax(p.det[None])}


def accuracy_at_coverage(probs: np.ndarray, labels: np.ndarray, score: np.ndarray, coverage: float) -> float:
    """Accuracy on the ``coverage`` fraction (rounded to a whole number of inputs, at least 1) of inputs with the
    lowest ``score`` (stable order on ties). ``probs`` (N, K) or (T, N, K)."""
    keep = max(1, int(round(coverage * len(labels))))
    idx = np.argsort(score, kind="stable")[:keep]
    return float(np.mean(metrics.predict(probs)[idx] == labels[idx]))


def seed_figures(seed: int, clean: Probs, y: np.ndarray, ood: dict[str, Probs], corrupted: dict[str, Probs],
                 quantile: float) -> SeedResult:
    """All figures of one seed from its probabilities."""
    res = SeedResult(seed, metrics.accuracy(clean.det[None], y), metrics.accuracy(clean.mc, y), clean.mc.shape[0])
    s_in = scores(clean)
    res.clean_kept = {"coverage": quantile,
                      "acc_mc_kept": accuracy_at_coverage(clean.mc, y, s_in["mc_entropy"], quantile),
                      "acc_det_kept_entropy": accuracy_at_coverage(clean.det, y, s_in["det_entropy"], quantile),
                      "acc_det_kept_max_softmax": accuracy_at_coverage(clean.det, y, s_in["det_max_softmax"],
                                                                       quantile)}
    for name, p in ood.items():
        s_out = scores(p)
        row: dict[str, float] = {}
        for key in s_in:
            thr = float(np.quantile(s_in[key], quantile))
            row[f"{key}_detection"] = float(np.mean(s_out[key] > thr))
            row[f"{key}_auroc"] = metrics.auroc(s_in[key], s_out[key])
        res.ood[name] = row
    thr_mc = float(np.quantile(s_in["mc_entropy"], quantile))
    for name, p in corrupted.items():
        s = scores(p)
        kept = s["mc_entropy"] <= thr_mc
        cov = float(kept.mean())
        acc_mc_kept = float(np.mean(metrics.predict(p.mc)[kept] == y[kept])) if kept.any() else math.nan
        acc_det = metrics.accuracy(p.det[None], y)
        res.corrupted[name] = {
            "acc_det": acc_det, "acc_mc": metrics.accuracy(p.mc, y), "coverage": cov,
            "acc_mc_kept": acc_mc_kept,
            "acc_det_equal_coverage_entropy": accuracy_at_coverage(p.det, y, s["det_entropy"], cov),
            "acc_det_equal_coverage_max_softmax": accuracy_at_coverage(p.det, y, s["det_max_softmax"], cov),
        }
    return res


def _probs(ex, x01: np.ndarray, bits: int, stream: int) -> Probs:
    from cimsim.network.datasets import quantize_inputs

    xq = quantize_inputs(x01, bits)
    return Probs(metrics.softmax(ex.run(xq, mc=False, stream=stream + 1))[0],
                 metrics.softmax(ex.run(xq, mc=True, stream=stream)))


def evaluate(setting: Setting) -> list[SeedResult]:
    """Run every seed of ``setting`` through the chip's functional model; one :class:`SeedResult` each."""
    from cimsim.examples import shipped_path
    from cimsim.functional.executor import Executor
    from cimsim.hardware import build_hardware
    from cimsim.mapping import map_network
    from cimsim.network.corruptions import corrupt
    from cimsim.network.datasets import load_dataset
    from cimsim.network.ood import make_ood
    from cimsim.network.weights import load_network
    from cimsim.resolve import resolve
    from cimsim.spec.loader import load_arch, load_workload

    wl_path = shipped_path(setting.workload)
    wl = load_workload(wl_path)
    arch = load_arch(shipped_path(setting.arch), list(setting.arch_overrides))
    design = resolve(arch, wl)
    mapping = map_network(design)
    hw = build_hardware(design, mapping)
    ds = load_dataset(wl.dataset, wl_path.parent)
    x01, y = ds.x_test[: setting.n_test], ds.y_test[: setting.n_test]
    ood_x = {name: make_ood(name, x01, setting.ood_samples,
                            np.random.default_rng(np.random.SeedSequence(0, spawn_key=(_OOD_DATA, i))))
             for i, name in enumerate(wl.ood)}
    cor_x = {}
    pairs = [(n, s) for n, sevs in wl.corruptions.items() for s in (setting.severities or sevs)]
    for k, (name, sev) in enumerate(pairs):
        rng = np.random.default_rng(np.random.SeedSequence(0, spawn_key=(_CORRUPT_DATA, k)))
        cor_x[f"{name}_{sev}"] = corrupt(name, x01, sev, rng)
    bits = wl.network.input_bits
    out = []
    for seed in setting.seeds:
        spec = wl.network.model_copy(update={"weights": str(weights_path(setting, seed))})
        net = load_network(spec, wl_path.parent)
        ex = Executor(hw, mapping, net, seed=setting.run_seed, passes=wl.mc_passes)
        clean = _probs(ex, x01, bits, 0)
        ood = {name: _probs(ex, xo, bits, _OOD_STREAM + 2 * i) for i, (name, xo) in enumerate(ood_x.items())}
        cor = {name: _probs(ex, xc, bits, _CORRUPT_STREAM + 2 * k) for k, (name, xc) in enumerate(cor_x.items())}
        out.append(seed_figures(seed, clean, y, ood, cor, wl.ood_quantile))
    return out


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample std (ddof 1; 0 for one value) of finite values."""
    v = np.asarray([x for x in values if math.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0
