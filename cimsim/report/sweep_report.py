"""Plotted report of a sweep directory: summary, Pareto front, parallel coordinates, one-axis sensitivity,
energy/area breakdowns of the front designs, and the Pareto / nearest / failed tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cimsim.dse import results as dse_results
from cimsim.dse.store import Store
from cimsim.errors import ConfigError
from cimsim.report import plots
from cimsim.report.document import Report, add_figure
from cimsim.spec.sweep import Objective, parse_constraint, parse_objective

_DEFAULT_OBJECTIVES = ["min energy_per_inference_j", "min latency_s"]


@dataclass
class _Sweep:
    """A sweep directory as the report reads it: stored meta and status, all points, objectives, constraints."""

    directory: Path
    meta: dict[str, Any]
    status: Any
    spec: dict[str, Any]
    df: pd.DataFrame
    axes: list[str]
    objs: list[Objective]
    cons: list[Any]
    search: str


@dataclass
class _Finished:
    """The finished points with their Pareto front and feasibility mask."""

    done: pd.DataFrame
    front: pd.DataFrame
    feas: pd.Series
    n_feas: int
    varying: list[str] = field(default_factory=list)  # the axes taking more than one value among them


def _zip_groups(spec: dict[str, Any], axes: list[str]) -> list[list[str]]:
    """The sweep's dimensions as lists of axis names (a zipped group together), from the stored spec."""
    groups: list[list[str]] = []
    for entry in spec.get("axes") or []:
        if not isinstance(entry, dict):
            continue
        members = entry.get("zip") if isinstance(entry.get("zip"), list) else [entry]
        names = [str(m.get("label") or m.get("path")) for m in members if isinstance(m, dict)]
        names = [n for n in names if n in axes]
        if names:
            groups.append(names)
    listed = {n for g in groups for n in g}
    return groups + [[a] for a in axes if a not in listed]


def _nearest(done: pd.DataFrame, cons: list[Any]) -> pd.DataFrame:
    """Finished points ordered by their summed relative constraint violation (the nearest to feasible first)."""
    total = pd.Series(0.0, index=done.index)
    for c in cons:
        col = pd.to_numeric(done[c.key], errors="coerce") if c.key in done.columns else pd.Series(np.nan, index=done.index)
        scale = abs(c.value) or 1.0
        total += col.map(lambda x, c=c: c.violation(x)).astype(float) / scale
    out = done.assign(violation=total)
    return out.sort_values("violation", kind="stable")


def _read_sweep(directory: Path, objectives: list[str] | None) -> _Sweep:
    """Open the store read-only for its meta and status, load all points and parse objectives/constraints."""
    store = Store(directory)
    try:
        meta = store.meta()
        status = store.status()
    finally:
        store.close()
    spec = meta.get("spec", {})
    df = dse_results.load(directory)
    axes = list(meta.get("axes", []))
    try:
        objs = [parse_objective(str(o)) for o in (objectives or spec.get("objectives") or _DEFAULT_OBJECTIVES)]
        cons = [parse_constraint(str(c)) for c in spec.get("constraints", []) or []]
    except ValueError as exc:
        raise ConfigError(str(exc), file=str(directory / "sweep.sqlite"), field="meta.spec") from None
    return _Sweep(directory, meta, status, spec, df, axes, objs, cons, str(spec.get("search")))


def _summary(sw: _Sweep) -> Report:
    """A report with the sweep's title, summary rows and the note on points stored from an earlier plan."""
    status, spec = sw.status, sw.spec
    report = Report(title=f"Sweep {sw.meta.get('name', sw.directory.name)}", kind="sweep")
    points = (f"{status.planned} trials ({status.distinct} distinct points)" if sw.search == "optuna"
              else f"{status.planned} planned")
    points += f", {status.done} done, {status.failed} failed, {status.pending} pending"
    report.summary = [("sweep file", str(sw.meta.get("sweep_file"))), ("search", sw.search), ("points", points),
                      ("axes", ", ".join(sw.axes)), ("objectives", ", ".join(map(str, sw.objs))),
                      ("constraints", ", ".join(map(str, sw.cons)) or "none"),
                      ("mode", "hardware-only" if spec.get("hardware_only", True) else "functional"),
                      ("cimsim", str(sw.meta.get("version")))]
    if status.stored is not None and status.stored > (status.distinct or 0) and sw.search != "grid":
        report.notes.append(f"{status.stored - (status.distinct or 0)} more points are stored from an earlier plan "
                            "of this sweep; the tables and figures include them")
    if spec.get("description"):
        report.summary.insert(0, ("description", str(spec["description"])))
    return report


def _export_results(report: Report, sw: _Sweep, out: Path) -> None:
    """Write results.csv and results.parquet (a note instead when parquet cannot be written)."""
    out.mkdir(parents=True, exist_ok=True)
    report.data_files.append(dse_results.export(sw.df, out / "results.csv"))
    try:
        report.data_files.append(dse_results.export(sw.df, out / "results.parquet"))
    except ConfigError as exc:
        report.notes.append(exc.one_line())


def _feasibility(report: Report, sw: _Sweep, done: pd.DataFrame, out: Path) -> _Finished:
    """Pareto front and feasibility of the finished points; the 'feasible' summary row and pareto.csv."""
    front = dse_results.pareto(done, sw.objs, sw.cons)
    feas = dse_results.feasible(done, sw.cons)
    n_feas = int(feas.sum())
    if sw.cons:
        report.summary.insert(3, ("feasible", f"{n_feas} of {len(done)} finished points meet the constraints"))
    report.data_files.append(dse_results.export(front, out / "pareto.csv"))
    return _Finished(done, front, feas, n_feas)


def _color_axis(sw: _Sweep, done: pd.DataFrame, color_by: str | None) -> str | None:
    """The axis the Pareto scatter colours by (``--color-by``, the spec's ``color_by``, else the first axis)."""
    color = color_by or sw.spec.get("color_by") or (sw.axes[0] if sw.axes else None)
    if color is not None and color not in done.columns:
        raise ConfigError(f"--color-by {color!r} is not an axis", field="--color-by", allowed=", ".join(sw.axes))
    return color


def _pareto_figure(report: Report, sw: _Sweep, fin: _Finished, out: Path, color: str | None) -> None:
    """The Pareto scatter (with the 0-feasible note when no point meets the constraints)."""
    objs, cons, done = sw.objs, sw.cons, fin.done
    x, y = (objs[0], objs[1]) if len(objs) >= 2 else (Objective("area_m2", "min"), objs[0])
    infeasible_note = ""
    if cons and fin.n_feas == 0:
        infeasible_note = " No point meets the constraints, so there is no front: see the nearest points below."
        report.notes.append(f"0 feasible: none of the {len(done)} finished points meets "
                            f"{', '.join(map(str, cons))}; the table 'Nearest points' lists the closest")
    add_figure(report, out, "pareto", "Pareto front",
               f"Every finished point of {x} against {y}, coloured by {color}; hollow grey points break a "
               f"constraint or lack a value; red rings mark the {len(fin.front)} non-dominated feasible designs over "
               f"{', '.join(map(str, objs))}. An axis spanning over 20× is logarithmic.{infeasible_note}",
               plots.pareto_scatter(done, fin.front, x, y, color, fin.feas))


def _axis_figures(report: Report, sw: _Sweep, fin: _Finished, out: Path) -> None:
    """Parallel coordinates and one-axis sensitivity over the axes that vary."""
    cols = fin.varying + [o.key for o in sw.objs]
    if len(cols) >= 2:
        add_figure(report, out, "parallel", "Parallel coordinates",
                   "Each line is one design across its axes and objectives, each scaled to its own range (values "
                   "labelled along each axis); Pareto designs in red.",
                   plots.parallel_coordinates(fin.done, cols, fin.front))
    groups = [[a for a in g if a in fin.varying] for g in _zip_groups(sw.spec, sw.axes)]
    groups = [g for g in groups if g]
    if groups:
        add_figure(report, out, "sensitivity", "One-axis sensitivity",
                   "For each axis value (zipped axes together), the median of each objective over all other axes, "
                   "with the min–max band: how much one knob moves an objective on its own.",
                   plots.sensitivity(fin.done, groups, sw.objs))


def _breakdown_figures(report: Report, fin: _Finished, out: Path) -> None:
    """Energy and area breakdown bars of the first 24 front designs, labelled by their axis settings."""
    shown = fin.front.head(24)
    labels = plots.setting_labels(shown, fin.varying)
    if any(c.startswith("energy_breakdown_j.") for c in shown.columns) and len(shown):
        add_figure(report, out, "front_energy", "Energy breakdown of the Pareto designs",
                   "Energy per inference of each front design by component, labelled by its axis settings.",
                   plots.breakdown_bars(shown, "energy_breakdown_j", "energy per inference by component", labels))
    if any(c.startswith("area_breakdown_m2.") for c in shown.columns) and len(shown):
        add_figure(report, out, "front_area", "Area breakdown of the Pareto designs",
                   "Chip area by component of each front design, labelled by its axis settings.",
                   plots.breakdown_bars(shown, "area_breakdown_m2", "area by component", labels))


def _tables(report: Report, sw: _Sweep, fin: _Finished) -> None:
    """The Pareto designs, the nearest points when none is feasible, and the failed points."""
    obj_keys = [o.key for o in sw.objs]
    table_cols = ["index", *fin.varying, *obj_keys, *[c.key for c in sw.cons if c.key not in obj_keys]]
    front = fin.front
    report.tables.append(("Pareto designs", front[[c for c in dict.fromkeys(table_cols) if c in front.columns]]))
    if sw.cons and fin.n_feas == 0:
        near = _nearest(fin.done, sw.cons).head(10)
        report.tables.append(("Nearest points (none feasible; violation: summed relative distance to the "
                              "constraints)", near[[c for c in dict.fromkeys([*table_cols, "violation"])
                                                   if c in near.columns]]))
    failed = sw.df[sw.df["status"] == "failed"]
    if len(failed):
        report.tables.append((f"Failed points ({len(failed)})", failed[["index", *sw.axes, "error"]].head(50)))


def sweep_report(directory: str | Path, out: str | Path | None = None, *, color_by: str | None = None,
                 objectives: list[str] | None = None) -> Report:
    """Figures and tables of a sweep directory (results.csv/.parquet, pareto.csv, figures/) written into
    ``out`` (default ``DIR/report``); the store is opened read-only."""
    directory = Path(directory)
    out = Path(out) if out is not None else directory / "report"
    sw = _read_sweep(directory, objectives)
    report = _summary(sw)
    _export_results(report, sw, out)
    done = sw.df[sw.df["status"] == "done"].copy() if len(sw.df) else sw.df
    if done.empty:
        report.notes.append("no finished points yet: nothing to plot")
        return report
    fin = _feasibility(report, sw, done, out)
    color = _color_axis(sw, done, color_by)
    _pareto_figure(report, sw, fin, out, color)
    fin.varying = [a for a in sw.axes if done[a].nunique(dropna=False) > 1]
    _axis_figures(report, sw, fin, out)
    _breakdown_figures(report, fin, out)
    _tables(report, sw, fin)
    return report
