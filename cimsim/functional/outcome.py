"""A run's functional outcome from its evaluated units: metrics, OOD and corruption figures, per-sample tables,
activity counts and the chip Monte-Carlo (docs/architecture.md, "functional/")."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from cimsim.activity import Counts
from cimsim.functional import metrics
from cimsim.functional.evaluate import Collected, Context, chip_seed, set_recipes, set_sizes, units_of
from cimsim.functional.shard import run_units, unit_size
from cimsim.spec.workload import WorkloadSpec

if TYPE_CHECKING:
    import pandas as pd

    from cimsim.options import Options


@dataclass
class FunctionalOutcome:
    """What the functional run adds to a :class:`cimsim.result.Result` (same field names)."""

    counts: Counts
    metrics: dict[str, Any]
    per_sample: pd.DataFrame
    module_p: dict[str, np.ndarray]
    faults: dict[str, Any]
    ood: dict[str, dict[str, float]] = field(default_factory=dict)
    ood_scores: pd.DataFrame | None = None
    corrupted: dict[str, dict[str, float]] = field(default_factory=dict)
    chips: dict[str, Any] = field(default_factory=dict)
    chip_module_p: pd.DataFrame | None = None


def functional_run(ctx: Context, workload: WorkloadSpec, x01: np.ndarray, y: np.ndarray,
                   opt: Options) -> FunctionalOutcome:
    """Evaluate every set of the run (sharded as ``opt.workers`` / ``opt.scheduler`` say) and summarise."""
    ex = ctx.executor(opt.seed)
    chips = ctx.hw.arch.variation.chips
    n = int(x01.shape[0])
    total = set_sizes(workload, n, ood=opt.ood, corruptions=opt.corruptions, chips=chips)
    done = [0]

    def tick(k: int) -> None:
        done[0] += k
        if opt.progress:
            opt.progress("functional", done[0], total)

    sharded = opt.scheduler is not None or (opt.workers or 1) > 1
    # sharded: units of a few per worker, each enough work to pay its scheduling; here: one unit per set
    size = unit_size(n, ex.chunk, ex.flop_per_input(), opt.workers or 2) if sharded else sys.maxsize
    col = Collected(tallies=ex.new_tallies())
    ex.shared_mask_tallies(col.tallies, stream=0)  # per_pass masks: drawn once per run, tallied once
    recipes = set_recipes(workload, x01, seed=opt.seed, ood=opt.ood, corruptions=opt.corruptions, chips=chips)
    for r in run_units(units_of(recipes, ctx.spec, bits=workload.network.input_bits, size=size), ctx=ctx,
                       workers=opt.workers, scheduler=opt.scheduler, tick=tick):
        col.add(r)
    out = _test_figures(col, ex, y)
    out.faults = ex.faults.summary()
    if opt.ood:
        out.ood, out.ood_scores = _ood_figures(col, workload)
    if opt.corruptions:
        out.corrupted = _corruption_figures(col, workload, y)
    if chips > 1:
        out.chips, out.chip_module_p = _chip_figures(col, workload, y, opt, chips, ex.module_probabilities())
    return out


def _test_figures(col: Collected, ex: Any, y: np.ndarray) -> FunctionalOutcome:
    import pandas as pd

    s_mc, s_det = col.summary("test"), col.summary("test_det")
    per_sample = pd.DataFrame({"label": y, "prediction": s_mc.predict(), "entropy": s_mc.predictive_entropy(),
                               "mutual_information": s_mc.mutual_information, "max_softmax": s_mc.max_softmax(),
                               "prediction_deterministic": s_det.predict()})
    return FunctionalOutcome(counts=ex.counts(col.tallies),
                             metrics={**s_mc.summarize(y), "accuracy_deterministic": s_det.accuracy(y)},
                             per_sample=per_sample, module_p=ex.module_probabilities(), faults={})


def _scores(name: str, summ: metrics.Summary) -> pd.DataFrame:
    """Per-sample uncertainty scores of one evaluation set (ROC curves and histograms in reports)."""
    import pandas as pd

    return pd.DataFrame({"set": name, "entropy": summ.predictive_entropy(),
                         "mutual_information": summ.mutual_information, "max_softmax": summ.max_softmax()})


def _ood_figures(col: Collected, workload: WorkloadSpec) -> tuple[dict[str, dict[str, float]], pd.DataFrame]:
    import pandas as pd

    s_mc, s_det = col.summary("test"), col.summary("test_det")
    q = workload.ood_quantile
    ood: dict[str, dict[str, float]] = {}
    frames = [_scores("in_distribution", s_mc)]
    for name in workload.ood:
        s_o, s_od = col.summary(f"ood/{name}"), col.summary(f"ood_det/{name}")
        frames.append(_scores(name, s_o))
        s = metrics.ood_scores_summary(s_mc, s_o, "entropy", q)
        sd = metrics.ood_scores_summary(s_det, s_od, "max_softmax", q)
        smi = metrics.ood_scores_summary(s_mc, s_o, "mutual_information", q)
        ood[name] = {"auroc": s["auroc"], "detection_rate": s["detection_rate"],
                     "auroc_mutual_information": smi["auroc"], "auroc_deterministic_max_softmax": sd["auroc"]}
    return ood, pd.concat(frames, ignore_index=True)


def _corruption_figures(col: Collected, workload: WorkloadSpec, y: np.ndarray) -> dict[str, dict[str, float]]:
    out = {}
    for name, severities in workload.corruptions.items():
        for sev in severities:
            sc, scd = col.summary(f"corrupt/{name}_{sev}"), col.summary(f"corrupt_det/{name}_{sev}")
            out[f"{name}_{sev}"] = {"accuracy": sc.accuracy(y), "accuracy_deterministic": scd.accuracy(y),
                                    "entropy": float(sc.predictive_entropy().mean())}
    return out


def _chip_figures(col: Collected, workload: WorkloadSpec, y: np.ndarray, opt: Options, chips: int,
                  module_p0: dict[str, np.ndarray]) -> tuple[dict[str, Any], pd.DataFrame]:
    """Chip Monte-Carlo (issue 13 item 4): chip c draws its device variation and random streams from
    :func:`chip_seed` (seed, c); per chip MC accuracy, NLL and OOD AUROC (predictive entropy, mean over the OOD
    sets), as mean and sample std (ddof = 1) with the per-chip values, and every module's p per chip as a table
    (chip, layer, module, p). Chip 0 is the run's own chip: its figures are the run's."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    tables = []
    for c in range(chips):
        s_mc = col.summary("test", c)
        summ = s_mc.summarize(y)
        row: dict[str, Any] = {"chip": c, "accuracy": summ["accuracy"], "nll": summ["nll"]}
        if opt.ood and workload.ood:
            aurocs = [metrics.ood_scores_summary(s_mc, col.summary(f"ood/{name}", c), "entropy",
                                                 workload.ood_quantile)["auroc"] for name in workload.ood]
            row["auroc"] = float(np.mean(aurocs))
        rows.append(row)
        for layer, pk in (module_p0 if c == 0 else col.module_p.get(c, {})).items():
            tables.append(pd.DataFrame({"chip": c, "layer": layer, "module": np.arange(pk.size), "p": pk}))
    df = pd.DataFrame(rows)
    ddof = 1 if len(df) > 1 else 0
    out: dict[str, Any] = {"n": len(df), "seeds": [chip_seed(opt.seed, c) for c in range(len(df))]}
    for k in ("accuracy", "nll", "auroc"):
        if k in df:
            out[k] = {"mean": float(df[k].mean()), "std": float(df[k].std(ddof=ddof)),
                      "per_chip": [float(v) for v in df[k]]}
    module_p = (pd.concat(tables, ignore_index=True) if tables
                else pd.DataFrame(columns=["chip", "layer", "module", "p"]))
    if len(module_p):
        counts, edges = np.histogram(module_p["p"], bins=20, range=(0.0, 1.0))
        out["module_p_histogram"] = {"bin_edges": [float(e) for e in edges], "counts": [int(n) for n in counts]}
    return out, module_p
