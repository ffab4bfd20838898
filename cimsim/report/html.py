"""Plotted reports of a sweep directory or of a single ``cimsim run --out`` directory: figures (PNG + SVG)
and an optional self-contained ``report.html`` (every figure embedded as a base64 SVG, no external files).
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cimsim.dse import results as dse_results
from cimsim.dse.store import Store, is_sweep_dir
from cimsim.errors import CimsimError, ConfigError
from cimsim.report import plots
from cimsim.spec.sweep import Objective, parse_constraint, parse_objective

PERFETTO_URL = "https://ui.perfetto.dev"


@dataclass
class FigureEntry:
    name: str
    title: str
    caption: str
    files: dict[str, Path]


@dataclass
class Report:
    """What a report holds: a title, summary rows, figures, notes and data files next to it."""

    title: str
    kind: str
    summary: list[tuple[str, str]] = field(default_factory=list)
    figures: list[FigureEntry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data_files: list[Path] = field(default_factory=list)
    links: list[tuple[str, str, str]] = field(default_factory=list)  # (text, href, explanation)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)


def _add(report: Report, out: Path, name: str, title: str, caption: str, fig: Any) -> None:
    report.figures.append(FigureEntry(name, title, caption, plots.save(fig, out / "figures", name)))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


# ============================================================================================== sweep
def sweep_report(directory: str | Path, out: str | Path | None = None, *, color_by: str | None = None,
                 objectives: list[str] | None = None) -> Report:
    """Figures and tables of a sweep directory (results.csv/.parquet, pareto.csv, figures/)."""
    directory = Path(directory)
    out = Path(out) if out is not None else directory / "report"
    store = Store(directory)
    try:
        meta = store.meta()
        status = store.status()
    finally:
        store.close()
    spec = meta.get("spec", {})
    df = dse_results.load(directory)
    axes = list(meta.get("axes", []))
    objs = [parse_objective(o) for o in (objectives or spec.get("objectives") or
                                         ["min energy_per_inference_j", "min latency_s"])]
    cons = [parse_constraint(c) for c in spec.get("constraints", [])]
    report = Report(title=f"Sweep {meta.get('name', directory.name)}", kind="sweep")
    report.summary = [("sweep file", str(meta.get("sweep_file"))), ("search", str(spec.get("search"))),
                      ("points", f"{status.planned} planned, {status.done} done, {status.failed} failed, "
                                 f"{status.pending} pending"),
                      ("axes", ", ".join(axes)), ("objectives", ", ".join(map(str, objs))),
                      ("constraints", ", ".join(map(str, cons)) or "none"),
                      ("mode", "hardware-only" if spec.get("hardware_only", True) else "functional"),
                      ("cimsim", str(meta.get("version")))]
    if spec.get("description"):
        report.summary.insert(0, ("description", spec["description"]))
    out.mkdir(parents=True, exist_ok=True)
    report.data_files.append(dse_results.export(df, out / "results.csv"))
    try:
        report.data_files.append(dse_results.export(df, out / "results.parquet"))
    except ConfigError as exc:
        report.notes.append(str(exc))
    done = df[df["status"] == "done"].copy() if len(df) else df
    if done.empty:
        report.notes.append("no finished points yet: nothing to plot")
        return report
    front = dse_results.pareto(done, objs, cons)
    feas = dse_results.feasible(done, cons)
    report.data_files.append(dse_results.export(front, out / "pareto.csv"))
    color = color_by or spec.get("color_by") or (axes[0] if axes else None)
    if color is not None and color not in done.columns:
        raise ConfigError(f"--color-by {color!r} is not an axis", field="--color-by", allowed=", ".join(axes))
    x, y = (objs[0], objs[1]) if len(objs) >= 2 else (Objective("area_m2", "min"), objs[0])
    _add(report, out, "pareto", "Pareto front",
         f"Every finished point of {x} against {y}, coloured by {color}; hollow grey points break a constraint "
         f"or lack a value; red rings mark the {len(front)} non-dominated feasible designs over "
         f"{', '.join(map(str, objs))}.", plots.pareto_scatter(done, front, x, y, color, feas))
    cols = [a for a in axes if done[a].nunique(dropna=False) > 1] + [o.key for o in objs]
    if len(cols) >= 2:
        _add(report, out, "parallel", "Parallel coordinates",
             "Each line is one design across its axes and objectives, each scaled to its own range (ends "
             "labelled); Pareto designs in red.", plots.parallel_coordinates(done, cols, front))
    varying = [a for a in axes if done[a].nunique(dropna=False) > 1]
    if varying:
        _add(report, out, "sensitivity", "One-axis sensitivity",
             "For each axis value, the median of each objective over all other axes, with the min–max band: how "
             "much one knob moves an objective on its own.", plots.sensitivity(done, varying, objs))
    shown = front.head(24)
    labels = [", ".join(f"{a}={_fmt(r[a])}" for a in varying) or str(r["index"]) for _, r in shown.iterrows()]
    labels = [f"#{int(i)}: {lab}" if len(lab) < 48 else f"#{int(i)}" for i, lab in zip(shown["index"], labels,
                                                                                     strict=True)]
    if any(c.startswith("energy_breakdown_j.") for c in shown.columns):
        _add(report, out, "front_energy", "Energy breakdown of the Pareto designs",
             "Energy per inference of each front design by component.",
             plots.breakdown_bars(shown, "energy_breakdown_j", "energy per inference by component", labels))
    if any(c.startswith("area_breakdown_m2.") for c in shown.columns):
        _add(report, out, "front_area", "Area breakdown of the Pareto designs", "Chip area by component.",
             plots.breakdown_bars(shown, "area_breakdown_m2", "area by component", labels))
    table_cols = ["index", *varying, *[o.key for o in objs], *[c.key for c in cons if c.key not in
                                                                [o.key for o in objs]]]
    report.tables.append(("Pareto designs", front[[c for c in dict.fromkeys(table_cols) if c in front.columns]]))
    failed = df[df["status"] == "failed"]
    if len(failed):
        report.tables.append((f"Failed points ({len(failed)})", failed[["index", *axes, "error"]].head(50)))
    return report


# =========================================================================================== single run
def _layer_latency_s(doc: dict[str, Any]) -> tuple[dict[str, float], Any]:
    """One pass's seconds per layer (result.json ``layer_latency_per_pass``) and the hardware rebuilt from the
    run's recorded config (for the P_sw curve)."""
    from cimsim.hardware import build_hardware
    from cimsim.resolve import resolve
    from cimsim.spec.arch import ArchSpec
    from cimsim.spec.workload import WorkloadSpec

    arch = ArchSpec.model_validate(doc["config"]["arch"])
    wl = WorkloadSpec.model_validate(doc["config"]["workload"])
    hw = build_hardware(resolve(arch, wl))
    return {k: v["s"] for k, v in doc.get("layer_latency_per_pass", {}).items()}, hw


def run_report(directory: str | Path, out: str | Path | None = None) -> Report:
    """Figures of one ``cimsim run --out`` directory."""
    directory = Path(directory)
    out = Path(out) if out is not None else directory / "report"
    doc = json.loads((directory / "result.json").read_text())
    name = doc.get("config", {}).get("workload", {}).get("name", "run")
    arch_name = doc.get("config", {}).get("arch", {}).get("name", "arch")
    report = Report(title=f"Run: {name} on {arch_name}", kind="run")
    report.summary = [("latency per inference", f"{doc['latency_s'] * 1e6:.4g} µs ({doc['passes']} passes)"),
                      ("throughput", f"{doc['throughput_inferences_per_s']:.4g} inferences/s"),
                      ("energy per inference", f"{doc['energy_per_inference_j'] * 1e9:.4g} nJ"),
                      ("area", f"{doc['area_m2'] * 1e6:.4g} mm²"),
                      ("timing", f"{doc['timing'].get('method', 'engine')}, schedule {doc['timing']['schedule']}"),
                      ("mode", "hardware-only (expected activity)" if doc["hardware_only"] else "functional")]
    if not doc["hardware_only"]:
        report.summary.insert(0, ("accuracy (MC / deterministic)",
                                  f"{doc['accuracy']:.4f} / {doc['accuracy_deterministic']:.4f}"))
        for k, v in doc.get("ood", {}).items():
            report.summary.append((f"OOD AUROC {k}", f"{v['auroc']:.4f} (entropy), "
                                                    f"{v['auroc_mutual_information']:.4f} (MI)"))
    _add(report, out, "energy_breakdown", "Energy by component",
         "Energy per inference by component type (all layers, all passes).",
         plots.hbar(doc["energy_breakdown_j"], "energy_breakdown_j", "energy per inference"))
    _add(report, out, "area_breakdown", "Area by component", "Chip area by component type.",
         plots.hbar(doc["area_breakdown_m2"], "area_breakdown_m2", "chip area"))
    hw = None
    latency: dict[str, float] = {}
    try:
        latency, hw = _layer_latency_s(doc)
    except (CimsimError, ValueError, KeyError) as exc:
        report.notes.append(f"per-layer latency and P_sw unavailable: {exc}")
    layers_csv = directory / "layers.csv"
    if layers_csv.is_file():
        _add(report, out, "per_layer", "Energy and latency by layer",
             "Left: energy per inference of each layer. Right: one job's time on each layer when nothing "
             "overlaps (mask, compute, buffer write, transfer; steady state).",
             plots.per_layer(pd.read_csv(layers_csv), latency))
    scores_csv = directory / "ood_scores.csv"
    if scores_csv.is_file():
        scores = pd.read_csv(scores_csv)
        if scores["set"].nunique() > 1:
            _add(report, out, "roc", "OOD detection ROC",
                 "Test inputs (negatives) against each OOD set (positives), scored by MC predictive entropy "
                 "(solid) and mutual information (dashed).", plots.roc_curves(scores))
        _add(report, out, "uncertainty", "Uncertainty in and out of distribution",
             "Per-input predictive entropy and mutual information of the MC ensemble.",
             plots.uncertainty_hist(scores))
    elif not doc["hardware_only"]:
        report.notes.append("no ood_scores.csv (run with OOD sets and --out to get ROC curves and histograms)")
    if doc.get("corrupted"):
        _add(report, out, "corruptions", "Accuracy under corruption",
             "MC (solid) and deterministic (dashed) accuracy against corruption severity.",
             plots.corruption_curves(doc["corrupted"], doc["accuracy"], doc["accuracy_deterministic"]))
    if hw is not None:
        src = hw.component("dropout_source")
        if hasattr(src, "device"):  # a source that switches an MTJ
            _add(report, out, "psw", "Spindrop switching probability",
                 "Switching probability of the dropout MTJ against write current at the configured pulse "
                 "(cimsim.components.mtj_switching.p_switch); the dot is the chip's operating point.",
                 plots.psw_curve(src.device, src.write_pulse_s, hw.ctx.temperature_k, src.write_current_a,
                                 src.p_realized))
        else:
            report.notes.append(f"dropout source {getattr(src, 'model', '?')}: no P_sw curve (not an MTJ)")
    for f in ("result.json", "layers.csv", "components.csv", "energy_ledger.csv", "per_sample.csv",
              "ood_scores.csv"):
        if (directory / f).is_file():
            report.data_files.append(directory / f)
    traces = sorted(p for p in directory.glob("*trace*.json"))
    for t in traces:
        report.links.append((f"Open {t.name} in Perfetto", PERFETTO_URL,
                             f"open {PERFETTO_URL}, choose 'Open trace file' and pick {t.resolve()} "
                             "(Perfetto reads it locally in the browser)"))
    if not traces:
        report.notes.append(f"no trace: rerun with --trace {directory}/trace.json to inspect the schedule in "
                            f"Perfetto ({PERFETTO_URL})")
    return report


def build_report(directory: str | Path, out: str | Path | None = None, *, color_by: str | None = None) -> Report:
    """A sweep or a run report, by what ``directory`` holds."""
    directory = Path(directory)
    if is_sweep_dir(directory):
        return sweep_report(directory, out, color_by=color_by)
    if (directory / "result.json").is_file():
        if color_by is not None:
            raise ConfigError("--color-by applies to sweep directories", field="--color-by")
        return run_report(directory, out)
    raise ConfigError("neither a sweep directory (sweep.sqlite) nor a run directory (result.json)",
                      file=str(directory))


# =============================================================================================== HTML
_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 0; color: #1d1d1f;
       background: #f6f7f9; line-height: 1.45; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 28px 60px; }
h1 { font-size: 1.7em; margin: 0.2em 0 0.4em; }
h2 { font-size: 1.25em; margin: 1.6em 0 0.4em; border-bottom: 1px solid #dde; padding-bottom: 4px; }
table { border-collapse: collapse; font-size: 0.88em; background: white; }
td, th { border: 1px solid #dde; padding: 4px 9px; text-align: left; vertical-align: top; }
th { background: #eef0f4; }
figure { background: white; border: 1px solid #dde; border-radius: 6px; margin: 12px 0; padding: 12px; }
figure img { max-width: 100%; height: auto; display: block; margin: 0 auto; }
figcaption { font-size: 0.9em; color: #444; margin-top: 6px; }
.note { color: #8a5a00; font-size: 0.9em; }
.files a { margin-right: 12px; }
.scroll { overflow-x: auto; }
"""


def _table(df: pd.DataFrame) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            return f"{v:.4g}"
        return html.escape(str(v))

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>"
                   for row in df.itertuples(index=False))
    return f'<div class="scroll"><table><tr>{head}</tr>{body}</table></div>'


def render_html(report: Report, path: str | Path) -> Path:
    """Write ``report`` as one self-contained HTML file (figures inlined as base64 SVG)."""
    path = Path(path)
    esc = html.escape
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{esc(report.title)}</title>"
             f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{_CSS}</style></head>"
             f"<body><main><h1>{esc(report.title)}</h1>"]
    parts.append("<table>" + "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in report.summary)
                  + "</table>")
    for note in report.notes:
        parts.append(f"<p class='note'>{esc(note)}</p>")
    if report.figures:
        parts.append("<p>Figures: " + " · ".join(f"<a href='#{esc(f.name)}'>{esc(f.title)}</a>"
                                                 for f in report.figures) + "</p>")
    for fig in report.figures:
        svg = base64.b64encode(fig.files["svg"].read_bytes()).decode("ascii")
        parts.append(f"<h2 id='{esc(fig.name)}'>{esc(fig.title)}</h2><figure>"
                     f"<img class='figure' alt='{esc(fig.title)}' src='data:image/svg+xml;base64,{svg}'>"
                     f"<figcaption>{esc(fig.caption)} <span class='files'>"
                     f"(<a href='figures/{esc(fig.files['png'].name)}'>PNG</a> "
                     f"<a href='figures/{esc(fig.files['svg'].name)}'>SVG</a>)</span></figcaption></figure>")
    for title, df in report.tables:
        parts.append(f"<h2>{esc(title)}</h2>{_table(df)}")
    if report.links:
        parts.append("<h2>Trace</h2>")
        for text, href, why in report.links:
            parts.append(f"<p><a href='{esc(href)}' target='_blank' rel='noopener'>{esc(text)}</a>: {esc(why)}</p>")
    if report.data_files:
        rel = []
        for f in report.data_files:
            try:
                rel.append(str(Path(f).resolve().relative_to(path.parent.resolve())))
            except ValueError:
                rel.append(str(Path(f).resolve()))
        parts.append("<h2>Data</h2><p class='files'>" + " ".join(f"<a href='{esc(r)}'>{esc(Path(r).name)}</a>"
                                                                  for r in rel) + "</p>")
    # marks how many embedded figures decoded (read by the headless-browser test; harmless otherwise)
    parts.append("<script>window.addEventListener('load',function(){var i=document.querySelectorAll('img.figure');"
                 "var ok=0;i.forEach(function(x){if(x.complete&&x.naturalWidth>0)ok++;});"
                 "document.body.setAttribute('data-figures',ok+'/'+i.length);});</script>")
    parts.append("</main></body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
