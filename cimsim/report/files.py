"""Machine-readable outputs of a run: result.json, per-layer, per-component and ledger CSVs, the text report,
written as one atomically swapped directory with a manifest (:mod:`cimsim.atomic_io`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cimsim.atomic_io import OutputDir, atomic_write_bytes, json_default
from cimsim.simulate import Result


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, default=json_default, allow_nan=True)


def atomic_write(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a reader never sees half a file."""
    atomic_write_bytes(path, text.encode("utf-8"))


def output_files(result: Result, report_text: str | None = None) -> dict[str, str]:
    """The files of an output directory, name → content: result.json, layers.csv, components.csv,
    energy_ledger.csv, per_sample.csv (functional runs) and report.txt (when given)."""
    files = {
        "result.json": dumps(result.to_json()),
        "layers.csv": result.layers_df().to_csv(index=False),
        "components.csv": result.components_df().to_csv(index=False),
        "energy_ledger.csv": result.ledger.table.to_csv(index=False),
    }
    if result.per_sample is not None:
        files["per_sample.csv"] = result.per_sample.to_csv(index=False)
    if result.ood_scores is not None:
        files["ood_scores.csv"] = result.ood_scores.to_csv(index=False)
    if result.chip_module_p is not None:
        files["module_p.csv"] = result.chip_module_p.to_csv(index=False)
    if report_text is not None:
        files["report.txt"] = report_text if report_text.endswith("\n") else report_text + "\n"
    return files


def write_outputs(result: Result, out_dir: str | Path | OutputDir, report_text: str | None = None,
                  extra: dict[str, str | bytes] | None = None) -> list[Path]:
    """Replace ``out_dir`` atomically by the run's files plus ``manifest.json`` (see :class:`OutputDir`).

    Pass an :class:`OutputDir` made before the run to have the path checked before any work is done.
    """
    out = out_dir if isinstance(out_dir, OutputDir) else OutputDir(out_dir)
    with out:
        return out.commit({**output_files(result, report_text), **(extra or {})})
