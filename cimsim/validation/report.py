"""Text table, markdown table and JSON document of ``cimsim reproduce`` results."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

from cimsim.validation.registry import CaseResult

COLUMNS = ("name", "reference", "value", "unit", "error", "tolerance", "verdict")


def _num(x: float) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x:.4g}"


def _err(x: float) -> str:
    return "—" if not math.isfinite(x) else f"{x * 100:+.1f} %"


def to_json(results: Sequence[CaseResult]) -> dict[str, object]:
    """``{"cases": [{name, topic, source, reference, value, unit, error, tolerance, verdict, note}]}``."""
    return {"cases": [r.to_json() for r in results]}


def summary(results: Sequence[CaseResult]) -> str:
    n = {v: sum(r.verdict == v for r in results) for v in ("pass", "fail", "info")}
    return f"{len(results)} cases: {n['pass']} pass, {n['fail']} fail, {n['info']} informational"


def to_table(results: Sequence[CaseResult]) -> str:
    """Fixed-width text table, then each case's source and note."""
    rows = [COLUMNS] + [(r.name, _num(r.reference), _num(r.value), r.unit, _err(r.error), r.tolerance, r.verdict)
                        for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines += ["", "Sources and notes:"]
    lines += [f"  {r.name}: {r.source}" + (f" — {r.note}" if r.note else "") for r in results]
    lines += ["", summary(results)]
    return "\n".join(lines)


def to_markdown(results: Sequence[CaseResult]) -> str:
    head = "| case | reference | cimsim | unit | error | tolerance | verdict | source | note |"
    rows = [head, "|" + "---|" * 9]
    for r in results:
        rows.append(f"| {r.name} | {_num(r.reference)} | {_num(r.value)} | {r.unit} | {_err(r.error)} | "
                    f"{r.tolerance} | {r.verdict} | {r.source} | {r.note} |")
    return "\n".join(rows) + f"\n\n{summary(results)}\n"


def write_dir(results: Sequence[CaseResult], out_dir: str | Path) -> list[Path]:
    """Write ``reproduce.json`` and ``reproduce.md`` into ``out_dir`` (created); returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "reproduce.json", out / "reproduce.md"]
    for path, text in zip(paths, (json.dumps(to_json(results), indent=2, ensure_ascii=False) + "\n",
                                  to_markdown(results)), strict=True):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)  # atomic: a reader never sees half a file
    return paths
