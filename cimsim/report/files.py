"""Machine-readable outputs of a run: result.json, per-layer, per-component and ledger CSVs."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from cimsim.simulate import Result


def _default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, default=_default, allow_nan=True)


def atomic_write(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_outputs(result: Result, out_dir: str | Path) -> list[Path]:
    """Write result.json, layers.csv, components.csv, energy_ledger.csv (and per_sample.csv, ood_scores.csv) into ``out_dir``."""
    out = Path(out_dir)
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
    written = []
    for name, text in files.items():
        atomic_write(out / name, text)
        written.append(out / name)
    return written
