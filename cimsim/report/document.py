"""What a plotted report holds (title, summary rows, figures, tables, notes, data files), shared by the sweep
and the single-run report builders and read by the HTML renderer."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from cimsim.report import plots


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


def add_figure(report: Report, out: Path, name: str, title: str, caption: str, fig: Any) -> None:
    """Save ``fig`` as ``out/figures/name.{png,svg}`` and list it in ``report``."""
    report.figures.append(FigureEntry(name, title, caption, plots.save(fig, out / "figures", name)))
