"""Plotted reports of a sweep directory (built in :mod:`cimsim.report.sweep_report`) or of a single
``cimsim run --out`` directory: figures (PNG + SVG) and an optional self-contained ``report.html`` (every figure
embedded as a base64 SVG, no external files).
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cimsim.atomic_io import OutputDir, atomic_write_bytes
from cimsim.dse.store import is_sweep_dir
from cimsim.errors import CimsimError, ConfigError, short_repr
from cimsim.report import plots
from cimsim.report.document import Report, add_figure
from cimsim.report.sweep_report import sweep_report

PERFETTO_URL = "https://ui.perfetto.dev"


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


_RUN_NUMBERS = ("latency_s", "throughput_inferences_per_s", "energy_per_inference_j", "area_m2")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _load_json_object(path: Path) -> dict[str, Any]:
    """The JSON object in ``path`` (ConfigError naming the file when it is unreadable or not an object)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ConfigError(f"unreadable result.json: {short_repr(str(exc), 100)}", file=str(path)) from None
    if not isinstance(doc, dict):
        raise ConfigError(f"result.json holds {type(doc).__name__}, not an object", file=str(path))
    return doc


def _check_run_scalars(doc: dict[str, Any], path: Path) -> None:
    """The headline numbers, ``passes``, ``hardware_only`` and ``timing.schedule`` have their types."""
    for k in _RUN_NUMBERS:
        if not _is_number(doc.get(k)):
            raise ConfigError(f"missing or not a number: {short_repr(doc.get(k))}", file=str(path), field=k)
    if not (isinstance(doc.get("passes"), int) and not isinstance(doc.get("passes"), bool)):
        raise ConfigError("missing or not an integer", file=str(path), field="passes")
    if not isinstance(doc.get("hardware_only"), bool):
        raise ConfigError("missing or not true/false", file=str(path), field="hardware_only")
    if not (isinstance(doc.get("timing"), dict) and isinstance(doc["timing"].get("schedule"), str)):
        raise ConfigError("missing or malformed", file=str(path), field="timing.schedule")


def _check_run_breakdowns(doc: dict[str, Any], path: Path) -> None:
    """The energy and area breakdowns map names to numbers."""
    for k in ("energy_breakdown_j", "area_breakdown_m2"):
        v = doc.get(k)
        if not (isinstance(v, dict) and all(isinstance(n, str) and _is_number(x) for n, x in v.items())):
            raise ConfigError("missing, or not a mapping of names to numbers", file=str(path), field=k)


def _check_run_functional(doc: dict[str, Any], path: Path) -> None:
    """A functional run's accuracies are numbers; the optional sections, when present, are mappings."""
    if not doc["hardware_only"]:
        for k in ("accuracy", "accuracy_deterministic"):
            if not _is_number(doc.get(k)):
                raise ConfigError(f"missing or not a number: {short_repr(doc.get(k))}", file=str(path), field=k)
    for k in ("config", "ood", "corrupted", "layer_latency_per_pass"):
        if doc.get(k) is not None and not isinstance(doc[k], dict):
            raise ConfigError("not a mapping", file=str(path), field=k)


def _read_run_doc(path: Path) -> dict[str, Any]:
    """``result.json`` of a run directory with the fields the report reads checked (ConfigError naming the
    file and the field otherwise)."""
    doc = _load_json_object(path)
    _check_run_scalars(doc, path)
    _check_run_breakdowns(doc, path)
    _check_run_functional(doc, path)
    return doc


def _read_csv(path: Path, columns: tuple[str, ...], numeric: tuple[str, ...]) -> pd.DataFrame:
    """A CSV of a run directory with the named columns (numeric ones all numbers), or a ConfigError."""
    try:
        df = pd.read_csv(path)
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ConfigError(f"unreadable CSV: {short_repr(str(exc), 100)}", file=str(path)) from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ConfigError(f"no column {missing[0]!r}", file=str(path), allowed=", ".join(columns))
    for c in numeric:
        vals = pd.to_numeric(df[c], errors="coerce")
        if vals.isna().any() and not df[c].isna().all():
            raise ConfigError("holds a value that is not a number", file=str(path), field=c)
        df[c] = vals
    return df


def run_report(directory: str | Path, out: str | Path | None = None) -> Report:
    """Figures of one ``cimsim run --out`` directory."""
    directory = Path(directory)
    out = Path(out) if out is not None else directory / "report"
    doc = _read_run_doc(directory / "result.json")
    try:
        return _run_report(directory, out, doc)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        # a field the checks above do not cover (e.g. an OOD entry without its AUROC)
        raise ConfigError(f"malformed result.json: {type(exc).__name__} {short_repr(str(exc), 80)}",
                          file=str(directory / "result.json")) from None


def _run_summary(doc: dict[str, Any]) -> Report:
    """A report titled by the run's workload and architecture with its headline numbers as summary rows."""
    cfg = doc.get("config") or {}
    name = (cfg.get("workload") or {}).get("name", "run")
    arch_name = (cfg.get("arch") or {}).get("name", "arch")
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
        for k, v in (doc.get("ood") or {}).items():
            report.summary.append((f"OOD AUROC {k}", f"{v['auroc']:.4f} (entropy), "
                                                    f"{v['auroc_mutual_information']:.4f} (MI)"))
    return report


def _breakdown_figures(report: Report, out: Path, doc: dict[str, Any]) -> None:
    """Energy and area by component type."""
    add_figure(report, out, "energy_breakdown", "Energy by component",
               "Energy per inference by component type (all layers, all passes).",
               plots.hbar(doc["energy_breakdown_j"], "energy_breakdown_j", "energy per inference"))
    add_figure(report, out, "area_breakdown", "Area by component", "Chip area by component type.",
               plots.hbar(doc["area_breakdown_m2"], "area_breakdown_m2", "chip area"))


def _latency_and_hardware(report: Report, doc: dict[str, Any]) -> tuple[dict[str, float], Any]:
    """Per-layer seconds and the rebuilt hardware, or ({}, None) with a note when the config does not rebuild."""
    try:
        return _layer_latency_s(doc)
    except (CimsimError, ValueError, KeyError) as exc:
        report.notes.append(f"per-layer latency and P_sw unavailable: {exc}")
        return {}, None


def _per_layer_figure(report: Report, directory: Path, out: Path, doc: dict[str, Any],
                      latency: dict[str, float]) -> None:
    """Energy and latency by layer from layers.csv, with the energy no layer owns explained."""
    layers_csv = directory / "layers.csv"
    if not layers_csv.is_file():
        return
    layers = _read_csv(layers_csv, ("layer", "energy_per_inference_j"), ("energy_per_inference_j",))
    in_layers = float(layers["energy_per_inference_j"].sum())
    total = float(doc["energy_per_inference_j"])
    rest = (f" The layers account for {in_layers * 1e9:.4g} of the {total * 1e9:.4g} nJ per inference; the "
            f"other {(total - in_layers) * 1e9:.4g} nJ is leakage over the run's time and actions no single "
            "layer owns (the '(leakage)' and shared rows of energy_ledger.csv)." if total > in_layers * (1 + 1e-9) else "")
    add_figure(report, out, "per_layer", "Energy and latency by layer",
               "Left: energy per inference of each layer. Right: one job's time on each layer when nothing "
               f"overlaps (mask, compute, buffer write, transfer; steady state).{rest}",
               plots.per_layer(layers, latency))


def _ood_figures(report: Report, directory: Path, out: Path, doc: dict[str, Any]) -> None:
    """ROC curves and uncertainty histograms from ood_scores.csv (a note when a functional run lacks it)."""
    scores_csv = directory / "ood_scores.csv"
    if scores_csv.is_file():
        scores = _read_csv(scores_csv, ("set", "entropy", "mutual_information"), ("entropy", "mutual_information"))
        if scores["set"].nunique() > 1:
            add_figure(report, out, "roc", "OOD detection ROC",
                       "Test inputs (negatives) against each OOD set (positives), scored by MC predictive entropy "
                       "(solid) and mutual information (dashed).", plots.roc_curves(scores))
        add_figure(report, out, "uncertainty", "Uncertainty in and out of distribution",
                   "Per-input predictive entropy and mutual information of the MC ensemble.",
                   plots.uncertainty_hist(scores))
    elif not doc["hardware_only"]:
        report.notes.append("no ood_scores.csv (run with OOD sets and --out to get ROC curves and histograms)")


def _psw_figure(report: Report, out: Path, hw: Any) -> None:
    """The dropout MTJ's switching probability curve (a note when the dropout source is not an MTJ)."""
    src = hw.component("dropout_source")
    if hasattr(src, "device"):  # a source that switches an MTJ
        add_figure(report, out, "psw", "Spindrop switching probability",
                   "Switching probability of the dropout MTJ against write current at the configured pulse "
                   "(cimsim.components.mtj_switching.p_switch); the dot is the chip's operating point.",
                   plots.psw_curve(src.device, src.write_pulse_s, hw.ctx.temperature_k, src.write_current_a,
                                   src.p_realized))
    else:
        report.notes.append(f"dropout source {getattr(src, 'model', '?')}: no P_sw curve (not an MTJ)")


def _run_files_and_traces(report: Report, directory: Path) -> None:
    """The run's data files, and a Perfetto link per trace (a note on how to record one when there is none)."""
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


def _run_report(directory: Path, out: Path, doc: dict[str, Any]) -> Report:
    report = _run_summary(doc)
    _breakdown_figures(report, out, doc)
    latency, hw = _latency_and_hardware(report, doc)
    _per_layer_figure(report, directory, out, doc, latency)
    _ood_figures(report, directory, out, doc)
    if doc.get("corrupted"):
        add_figure(report, out, "corruptions", "Accuracy under corruption",
                   "MC (solid) and deterministic (dashed) accuracy against corruption severity.",
                   plots.corruption_curves(doc["corrupted"], doc["accuracy"], doc["accuracy_deterministic"]))
    if hw is not None:
        _psw_figure(report, out, hw)
    _run_files_and_traces(report, directory)
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


def write_report(directory: str | Path, out: str | Path | None = None, *, html: bool = False,
                 color_by: str | None = None) -> tuple[Report, Path]:
    """Build the report of ``directory`` into a folder cimsim owns (``out``, default ``DIR/report``) and
    return it with the paths it ends at.

    The folder is an :class:`~cimsim.atomic_io.OutputDir`: it must be new, empty or an earlier cimsim report
    (its manifest lists every file); everything is written into a fresh temporary directory this process made
    and swapped into place whole, so no write follows a symbolic link and no user file is overwritten.
    """
    directory = Path(directory)
    if not (is_sweep_dir(directory) or (directory / "result.json").is_file()):
        build_report(directory)  # raises the one-line error naming what the folder lacks
    target = Path(out) if out is not None else directory / "report"
    od = OutputDir(target, flag="--out")
    with od:
        rep = build_report(directory, od.tmp, color_by=color_by)
        if html:
            render_html(rep, od.tmp / "report.html")
        od.commit_tree()
    for fig in rep.figures:
        fig.files = {k: od.final(v) for k, v in fig.files.items()}
    rep.data_files = [od.final(f) for f in rep.data_files]
    return rep, target


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
    atomic_write_bytes(path, "\n".join(parts).encode("utf-8"))
    return path
