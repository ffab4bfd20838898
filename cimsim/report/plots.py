"""Matplotlib figures of a sweep (Pareto scatter, parallel coordinates, sensitivity, breakdowns of the front)
and of a single run (breakdowns, per-layer energy/latency, ROC, uncertainty histograms, corruption curves,
P_sw curve). Figures use the object API (``matplotlib.figure.Figure``), so no pyplot state and no GUI backend.

Every function returns a Figure; :func:`save` writes it as PNG and SVG.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from cimsim.spec.sweep import Objective

# SI prefixes for axis labels, so 6.4e-08 J reads 64 nJ
_PREFIX = [(1e-15, "f"), (1e-12, "p"), (1e-9, "n"), (1e-6, "µ"), (1e-3, "m"), (1.0, "")]
_UNITS = {"_j": "J", "_s": "s", "_m2": "m²", "_w": "W", "_hz": "Hz", "_a": "A"}
FRONT_COLOR = "#d62728"


def save(fig: Figure, directory: Path, name: str) -> dict[str, Path]:
    """Write ``name.png`` (150 dpi) and ``name.svg`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    out = {}
    for ext in ("png", "svg"):
        path = directory / f"{name}.{ext}"
        fig.savefig(path, dpi=150 if ext == "png" else None, bbox_inches="tight",
                    metadata={"Date": None} if ext == "svg" else None)
        out[ext] = path
    return out


def unit_of(key: str) -> str:
    """SI unit named by the innermost dotted segment with a unit suffix (``energy_breakdown_j.crossbar`` → J)."""
    for segment in reversed(key.split(".")):
        for suffix, unit in _UNITS.items():
            if segment.endswith(suffix):
                return unit
    return ""


def scale_for(values: np.ndarray, unit: str) -> tuple[float, str]:
    """(divisor, prefixed unit) that brings the largest magnitude into [1, 1000)."""
    if not unit:
        return 1.0, ""
    prefixes = _PREFIX
    if unit == "m²":  # the prefix applies to the metre: 1e-6 m² = 1 mm²
        prefixes = [(1e-12, "µ"), (1e-6, "m"), (1.0, "")]
        unit = "m²"
    finite = np.abs(values[np.isfinite(values)])
    peak = float(finite.max()) if finite.size else 1.0
    div, pre = 1.0, ""
    for d, p in prefixes:
        if peak >= d:
            div, pre = d, p
    return div, pre + unit


# readable names of the result keys sweeps usually plot (others: their words, unit suffix dropped)
_NAMES = {"energy_per_inference_j": "energy per inference", "latency_s": "latency per inference",
          "area_m2": "chip area", "throughput_inferences_per_s": "throughput [inferences/s]",
          "accuracy": "accuracy (MC)", "accuracy_deterministic": "accuracy (deterministic)",
          "tops_per_w": "TOPS/W", "tops_per_mm2": "TOPS/mm²", "energy_per_mac_j": "energy per binary MAC",
          "leakage_w": "leakage power", "latency_per_pass_s": "latency per pass", "nll": "NLL", "ece": "ECE"}


def pretty(key: str) -> str:
    """A result key in words: ``energy_per_inference_j`` → ``energy per inference``,
    ``ood.uniform_noise.auroc`` → ``ood uniform noise auroc``."""
    if key in _NAMES:
        return _NAMES[key]
    words = []
    for seg in key.split("."):
        for suffix in _UNITS:
            if seg.endswith(suffix) and len(seg) > len(suffix):
                seg = seg[: -len(suffix)]
                break
        words.append(seg.replace("_", " "))
    return " ".join(words)


def label_of(key: str, unit: str) -> str:
    name = pretty(key)
    return f"{name} [{unit}]" if unit else name


def _log_worthy(v: np.ndarray) -> bool:
    """Positive values spanning over 20×: drawn on a log axis."""
    v = v[np.isfinite(v)]
    return bool(v.size >= 2 and (v > 0).all() and v.max() / v.min() > 20)


def _set_log(ax: Any, which: str) -> None:
    """A log axis with plain numbers at the decades (and 2, 5 within them) instead of 3×10² style labels."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _legend(ax: Any, **kw: Any) -> None:
    """A legend only when something carries a label (matplotlib warns on an empty one)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**kw)


def _numeric(s: pd.Series) -> np.ndarray:
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)


def _is_null(v: Any) -> bool:
    return v is None or (isinstance(v, (float, np.floating)) and np.isnan(v))


def _is_numeric_axis(s: pd.Series) -> bool:
    # a null among numbers (e.g. bits: [null, 5]) is a category of its own
    vals = list(s)
    return bool(vals) and all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
                              and not _is_null(v) for v in vals)


def _codes(s: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Categorical axis → integer codes in order of first appearance, and their labels."""
    names = ["null" if _is_null(v) else (f"{v:g}" if isinstance(v, (float, np.floating)) else str(v)) for v in s]
    labels = list(dict.fromkeys(names))
    index = {lab: i for i, lab in enumerate(labels)}
    return np.array([index[n] for n in names], dtype=float), labels


def _axis_values(s: pd.Series) -> tuple[np.ndarray, list[str] | None]:
    if _is_numeric_axis(s):
        return _numeric(s), None
    return _codes(s)


# ======================================================================================== sweep figures
def pareto_scatter(df: pd.DataFrame, front: pd.DataFrame, x: Objective, y: Objective, color_by: str | None,
                   feasible: pd.Series) -> Figure:
    """All finished points of two objectives, coloured by an axis; infeasible hollow; the front in red. An
    objective spanning over 20× gets a log axis."""
    fig = Figure(figsize=(7.0, 5.0), layout="constrained")
    ax = fig.add_subplot()
    xs, ys = _numeric(df[x.key]), _numeric(df[y.key])
    dx, ux = scale_for(xs, unit_of(x.key))
    dy, uy = scale_for(ys, unit_of(y.key))
    feas = feasible.to_numpy(dtype=bool)
    if color_by is not None and color_by in df.columns:
        cvals, labels = _axis_values(df[color_by])
        if labels is None:
            from matplotlib.colors import LogNorm, Normalize

            finite = cvals[np.isfinite(cvals)]
            lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
            # the colour scale spans every point's value (not only the feasible ones), so it exists even
            # when no point is feasible
            norm = LogNorm(lo, hi) if _log_worthy(finite) else Normalize(lo, hi if hi > lo else lo + 1.0)
            sc = ax.scatter(xs[feas] / dx, ys[feas] / dy, c=cvals[feas], cmap="viridis", norm=norm, s=28,
                            label="feasible" if feas.any() else None)
            if feas.any():
                fig.colorbar(sc, ax=ax, label=color_by)
        else:
            cmap = _cmap(len(labels))
            for k, lab in enumerate(labels):
                m = feas & (cvals == k)
                if m.any():
                    ax.scatter(xs[m] / dx, ys[m] / dy, color=cmap[k], s=28, label=f"{color_by} = {lab}")
    elif feas.any():
        ax.scatter(xs[feas] / dx, ys[feas] / dy, color="#1f77b4", s=28, label="feasible")
    if (~feas).any():
        ax.scatter(xs[~feas] / dx, ys[~feas] / dy, facecolors="none", edgecolors="#999999", s=28,
                   label="infeasible / failed")
    if len(front):
        fx, fy = _numeric(front[x.key]) / dx, _numeric(front[y.key]) / dy
        order = np.argsort(fx)
        ax.scatter(fx, fy, s=90, facecolors="none", edgecolors=FRONT_COLOR, linewidths=2,
                   label=f"Pareto front ({len(front)})")
        ax.step(fx[order], fy[order], where="post" if y.sense == "min" else "pre", color=FRONT_COLOR, lw=1,
                alpha=0.7)
    if _log_worthy(xs):
        _set_log(ax, "x")
    if _log_worthy(ys):
        _set_log(ax, "y")
    ax.set_xlabel(f"{label_of(x.key, ux)} ({'lower' if x.sense == 'min' else 'higher'} is better)")
    ax.set_ylabel(f"{label_of(y.key, uy)} ({'lower' if y.sense == 'min' else 'higher'} is better)")
    ax.grid(alpha=0.3, which="both")
    _legend(ax, fontsize=8, loc="best")
    ax.set_title(f"{pretty(x.key)} vs {pretty(y.key)}")
    return fig


def _cmap(n: int) -> list[Any]:
    from matplotlib import colormaps

    cm = colormaps["tab10" if n <= 10 else "tab20"]
    return [cm(i % cm.N) for i in range(n)]


def _level_text(v: float, unit: str, d: float, pu: str) -> str:
    return f"{v / d:.3g}{pu and ' ' + pu}" if unit else f"{v:.3g}"


def parallel_coordinates(df: pd.DataFrame, columns: Sequence[str], front: pd.DataFrame) -> Figure:
    """Every finished point as a line across its axes and objectives (each scaled to [0, 1]); front in red.
    Each axis is labelled at its values (categories and up to 8 distinct numbers), else at five levels."""
    fig = Figure(figsize=(max(6.0, 1.7 * len(columns)), 4.8), layout="constrained")
    ax = fig.add_subplot()
    norm = np.zeros((len(df), len(columns)))
    ticks: list[list[tuple[float, str]]] = []
    for j, col in enumerate(columns):
        vals, labels = _axis_values(df[col])
        finite = vals[np.isfinite(vals)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        span = hi - lo if hi > lo else 1.0
        norm[:, j] = (vals - lo) / span
        if labels is not None:
            ticks.append([((k - lo) / span, lab) for k, lab in enumerate(labels)])
            continue
        u = unit_of(col)
        d, pu = scale_for(vals, u)
        levels = np.unique(finite)
        if levels.size > 8:
            levels = np.linspace(lo, hi, 5)
        ticks.append([((v - lo) / span, _level_text(v, u, d, pu)) for v in levels])
    is_front = df.index.isin(front.index)
    xs = np.arange(len(columns))
    for row in norm[~is_front]:
        ax.plot(xs, row, color="#7f7f7f", alpha=0.25, lw=0.8)
    for row in norm[is_front]:
        ax.plot(xs, row, color=FRONT_COLOR, alpha=0.9, lw=1.6)
    for j, marks in enumerate(ticks):
        ax.axvline(j, color="black", lw=0.6)
        for pos, text in marks:
            ax.plot([j - 0.03, j], [pos, pos], color="black", lw=0.6)
            ax.annotate(text, (j, pos), xytext=(-4, 0), textcoords="offset points", ha="right", va="center",
                        fontsize=7, bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.7})
    ax.set_xticks(xs, [_wrap(pretty(c) if c in _NAMES else c) for c in columns], fontsize=8)
    ax.set_yticks([])
    ax.set_xlim(-0.6, len(columns) - 0.6)
    ax.set_ylim(-0.08, 1.08)
    ax.set_title(f"parallel coordinates ({int(is_front.sum())} Pareto designs in red)")
    return fig


def _wrap(text: str) -> str:
    return re.sub(r"\.", ".\n", text, count=1) if len(text) > 16 else text


def _group_series(df: pd.DataFrame, group: Sequence[str]) -> pd.Series:
    """One axis, or zipped axes as one categorical series ``"v1 / v2"``."""
    if len(group) == 1:
        return df[group[0]]
    cols = [df[a] for a in group]
    text = [" / ".join("null" if _is_null(v) else (f"{v:g}" if isinstance(v, (float, np.floating)) else str(v))
                       for v in vals) for vals in zip(*cols, strict=True)]
    return pd.Series(text, index=df.index)


def sensitivity(df: pd.DataFrame, axes: Sequence[str | Sequence[str]], objectives: Sequence[Objective]) -> Figure:
    """Per axis (zipped axes together, one panel) and objective: the median over the other axes at each axis
    value, with the min–max band."""
    groups = [[a] if isinstance(a, str) else list(a) for a in axes]
    n_r, n_c = len(objectives), len(groups)
    # at least 4.2 in per panel and 9 pt text: readable also when the page shows the figure at its own size
    fig = Figure(figsize=(max(4.2 * n_c, 5.5) + 0.6, 3.2 * n_r + 0.8), layout="constrained")
    grid = fig.subplots(n_r, n_c, squeeze=False)
    for r, obj in enumerate(objectives):
        yv = _numeric(df[obj.key])
        d, u = scale_for(yv, unit_of(obj.key))
        for c, group in enumerate(groups):
            ax = grid[r][c]
            xv, labels = _axis_values(_group_series(df, group))
            levels = np.unique(xv[np.isfinite(xv)])
            med = [np.nanmedian(yv[xv == lv]) / d for lv in levels]
            lo = [np.nanmin(yv[xv == lv]) / d for lv in levels]
            hi = [np.nanmax(yv[xv == lv]) / d for lv in levels]
            ax.fill_between(levels, lo, hi, color="#1f77b4", alpha=0.18, lw=0)
            ax.plot(levels, med, "o-", color="#1f77b4", ms=5)
            if labels is not None:
                ax.set_xticks(range(len(labels)), labels, fontsize=9, rotation=20 if len(labels) > 3 else 0)
            elif len(levels) > 2 and levels.min() > 0 and levels.max() / levels.min() > 20:
                _set_log(ax, "x")
            if _log_worthy(np.asarray(lo + hi, dtype=float)):
                _set_log(ax, "y")
            if r == n_r - 1:
                ax.set_xlabel(" / ".join(group), fontsize=10)
            if c == 0:
                ax.set_ylabel(label_of(obj.key, u), fontsize=10)
            ax.tick_params(labelsize=9)
            ax.grid(alpha=0.3, which="both")
    fig.suptitle("one-axis sensitivity: median over the other axes (band: min–max)", fontsize=11)
    return fig


def setting_labels(rows: pd.DataFrame, axes: Sequence[str], width: int = 60) -> list[str]:
    """Bar labels of designs by their axis settings (``rows_active=16, tiles=4``), the axis names shortened
    to their last dotted part; a design without varying axes is labelled by its point index."""
    def short(a: str) -> str:
        return a.rsplit(".", 1)[-1]

    out = []
    for _, r in rows.iterrows():
        parts = [f"{short(a)}={'null' if _is_null(r[a]) else (f'{r[a]:.4g}' if isinstance(r[a], float) else r[a])}"
                 for a in axes]
        text = ", ".join(parts) or f"point {int(r['index'])}"
        out.append(text if len(text) <= width else text[: width - 1] + "…")
    return out


def breakdown_bars(rows: pd.DataFrame, prefix: str, title: str, labels: Sequence[str]) -> Figure:
    """Stacked bars of the ``prefix.*`` columns (e.g. energy_breakdown_j.crossbar) for each row."""
    cols = [c for c in rows.columns if c.startswith(prefix + ".")]
    vals = rows[cols].apply(pd.to_numeric, errors="coerce").fillna(0.0).to_numpy(dtype=float)
    keep = vals.sum(axis=0) > 0
    cols, vals = [c for c, k in zip(cols, keep, strict=True) if k], vals[:, keep]
    d, u = scale_for(vals.sum(axis=1) if vals.size else np.array([1.0]), unit_of(prefix))
    fig = Figure(figsize=(max(5.5, 0.55 * len(rows) + 3.5), 4.2), layout="constrained")
    ax = fig.add_subplot()
    bottom = np.zeros(len(rows))
    colors = _cmap(len(cols))
    x = np.arange(len(rows))
    for k, c in enumerate(cols):
        ax.bar(x, vals[:, k] / d, bottom=bottom, color=colors[k], label=c.split(".", 1)[1])
        bottom += vals[:, k] / d
    ax.set_xticks(x, list(labels), fontsize=7, rotation=45, ha="right")
    ax.set_ylabel(label_of(prefix, u))
    ax.set_title(title)
    _legend(ax, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.grid(axis="y", alpha=0.3)
    return fig


# =================================================================================== single-run figures
def hbar(values: dict[str, float], key: str, title: str) -> Figure:
    """Horizontal bars of a breakdown dict (largest first), with shares."""
    items = sorted(((k, float(v)) for k, v in values.items() if v), key=lambda kv: kv[1])
    fig = Figure(figsize=(6.4, 0.32 * len(items) + 1.3), layout="constrained")
    ax = fig.add_subplot()
    vals = np.array([v for _, v in items])
    d, u = scale_for(vals, unit_of(key))
    total = vals.sum()
    ax.barh([k for k, _ in items], vals / d, color="#1f77b4")
    for i, v in enumerate(vals):
        ax.annotate(f" {100 * v / total:.1f} %", (v / d, i), va="center", fontsize=7)
    ax.set_xlabel(label_of(key, u))
    ax.set_title(f"{title} (total {total / d:.4g} {u})")
    ax.tick_params(labelsize=8)
    ax.margins(x=0.15)
    return fig


def per_layer(layers: pd.DataFrame, latency_s: dict[str, float]) -> Figure:
    """Energy per inference and one pass's latency of each layer."""
    fig = Figure(figsize=(9.0, 3.6), layout="constrained")
    a1, a2 = fig.subplots(1, 2)
    names = list(layers["layer"])
    e = layers["energy_per_inference_j"].to_numpy(dtype=float)
    d, u = scale_for(e, "J")
    a1.bar(names, e / d, color="#1f77b4")
    a1.set_ylabel(f"energy per inference [{u}]")
    a1.set_title("energy by layer")
    lat = np.array([latency_s.get(n, np.nan) for n in names])
    d2, u2 = scale_for(lat, "s")
    a2.bar(names, lat / d2, color="#ff7f0e")
    a2.set_ylabel(f"latency of one pass [{u2}]")
    a2.set_title("latency by layer (one job, no overlap)")
    for ax in (a1, a2):
        ax.grid(axis="y", alpha=0.3)
        ax.tick_params(labelsize=8)
    return fig


def roc_curves(scores: pd.DataFrame) -> Figure:
    """ROC of separating each OOD set from the test set by predictive entropy (solid) and MI (dashed)."""
    from sklearn.metrics import roc_auc_score, roc_curve

    fig = Figure(figsize=(5.6, 5.0), layout="constrained")
    ax = fig.add_subplot()
    ind = scores[scores["set"] == "in_distribution"]
    sets = [s for s in dict.fromkeys(scores["set"]) if s != "in_distribution"]
    colors = _cmap(len(sets))
    for k, name in enumerate(sets):
        ood = scores[scores["set"] == name]
        y = np.r_[np.zeros(len(ind)), np.ones(len(ood))]
        for score, ls in (("entropy", "-"), ("mutual_information", "--")):
            s = np.r_[ind[score].to_numpy(), ood[score].to_numpy()]
            fpr, tpr, _ = roc_curve(y, s)
            auc = roc_auc_score(y, s)
            ax.plot(fpr, tpr, ls, color=colors[k], lw=1.4,
                    label=f"{name}, {'entropy' if score == 'entropy' else 'MI'} (AUROC {auc:.3f})")
    ax.plot([0, 1], [0, 1], ":", color="grey", lw=0.8)
    ax.set_xlabel("false positive rate (test inputs flagged)")
    ax.set_ylabel("true positive rate (OOD inputs flagged)")
    ax.set_title("OOD detection ROC")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    return fig


def uncertainty_hist(scores: pd.DataFrame) -> Figure:
    """Histograms of predictive entropy and mutual information, test set vs each OOD set."""
    fig = Figure(figsize=(10.0, 3.8), layout="constrained")
    axes = fig.subplots(1, 2)
    sets = list(dict.fromkeys(scores["set"]))
    colors = _cmap(len(sets))
    for ax, score, name in zip(axes, ("entropy", "mutual_information"),
                               ("predictive entropy [nat]", "mutual information [nat]"), strict=True):
        hi = float(scores[score].max()) or 1.0
        bins = np.linspace(0.0, hi, 41)
        for k, s in enumerate(sets):
            v = scores.loc[scores["set"] == s, score].to_numpy()
            ax.hist(v, bins=bins, density=True, histtype="step", lw=1.6 if s == "in_distribution" else 1.1,
                    color="black" if s == "in_distribution" else colors[k], label=s)
        ax.set_xlabel(name)
        ax.set_ylabel("density")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("uncertainty in distribution (black) and out of distribution", fontsize=10)
    return fig


def corruption_curves(corrupted: dict[str, dict[str, float]], clean: float, clean_det: float) -> Figure:
    """Accuracy against severity per corruption, MC (solid) and deterministic (dashed); severity 0 = clean."""
    by_name: dict[str, list[tuple[int, float, float]]] = {}
    for key, v in corrupted.items():
        name, _, sev = key.rpartition("_")
        by_name.setdefault(name, []).append((int(sev), v["accuracy"], v["accuracy_deterministic"]))
    fig = Figure(figsize=(6.8, 4.4), layout="constrained")
    ax = fig.add_subplot()
    colors = _cmap(len(by_name))
    for k, (name, pts) in enumerate(sorted(by_name.items())):
        pts = [(0, clean, clean_det), *sorted(pts)]
        s = [p[0] for p in pts]
        ax.plot(s, [p[1] for p in pts], "o-", color=colors[k], label=f"{name} (MC)")
        ax.plot(s, [p[2] for p in pts], "s--", color=colors[k], alpha=0.6, ms=3, label=f"{name} (deterministic)")
    ax.set_xlabel("severity (0 = clean)")
    ax.set_ylabel("accuracy")
    ax.set_title("accuracy under corruption")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    return fig


def psw_curve(device: Any, pulse_s: float, temperature_k: float, current_a: float, p_target: float) -> Figure:
    """P_sw(I) of the dropout MTJ at the write pulse, with the chip's operating point."""
    from cimsim.components import mtj, mtj_switching

    ic0 = float(mtj.ic0_a(device, temperature_k))
    currents = np.linspace(0.5 * ic0, 1.6 * ic0, 400)  # inside the switching table (I/I_c0 ≥ 0.45)
    p = mtj_switching.p_switch(device, currents, pulse_s, temperature_k)
    p_op = float(mtj_switching.p_switch(device, current_a, pulse_s, temperature_k))
    fig = Figure(figsize=(6.0, 4.2), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(currents * 1e6, p, color="#1f77b4", label=f"P_sw, pulse {pulse_s * 1e9:.3g} ns")
    ax.axvline(ic0 * 1e6, color="grey", ls=":", lw=1, label=f"I_c0 = {ic0 * 1e6:.3g} µA")
    ax.plot([current_a * 1e6], [p_op], "o", color=FRONT_COLOR, ms=8,
            label=f"operating point {current_a * 1e6:.3g} µA → p = {p_op:.3f} (target {p_target:.3g})")
    ax.set_xlabel("write current [µA]")
    ax.set_ylabel("switching probability = drop probability")
    ax.set_title(f"Spindrop stochastic write at {temperature_k:.0f} K")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    return fig
