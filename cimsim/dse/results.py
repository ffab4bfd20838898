"""A sweep's results as data: one DataFrame row per point, Pareto fronts with constraints, CSV/Parquet export."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cimsim.dse.store import Store
from cimsim.errors import ConfigError
from cimsim.spec.sweep import Constraint, Objective, parse_constraint, parse_objective

META_COLUMNS = ("key", "index", "status", "error", "wall_s")


def flatten(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Every scalar (number, bool, string, null) of a nested mapping, under dotted names; lists are skipped."""
    out: dict[str, Any] = {}
    for k, v in doc.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, name + "."))
        elif v is None or isinstance(v, (bool, int, float, str)):
            out[name] = v
    return out


def load(directory: str | Path) -> pd.DataFrame:
    """One row per stored point: key, index, status, error, wall_s, the axes, then every scalar of its
    ``result.json`` with dotted names (``energy_breakdown_j.crossbar``, ``ood.uniform_noise.auroc``, …)."""
    store = Store(directory)
    try:
        rows = store.rows()
        axes = store.meta().get("axes", [])
    finally:
        store.close()
    records = []
    for r in rows:
        rec = {"key": r["key"], "index": r["index"], "status": r["status"], "error": r["error"], "wall_s": r["wall_s"]}
        # a list or mapping value (e.g. an axis over workload.ood) as its JSON text: one hashable category
        rec.update({k: json.dumps(v, sort_keys=True, default=str) if isinstance(v, (list, dict)) else v
                    for k, v in r["axes"].items()})
        if r["result"]:
            rec.update({k: v for k, v in flatten(r["result"]).items() if k not in rec})
        records.append(rec)
    df = pd.DataFrame.from_records(records)
    if df.empty:
        df = pd.DataFrame(columns=[*META_COLUMNS, *axes])
    df.attrs["axes"] = list(axes)
    return df


def _objectives(objectives: Iterable[str | Objective]) -> list[Objective]:
    return [o if isinstance(o, Objective) else parse_objective(o) for o in objectives]


def _constraints(constraints: Iterable[str | Constraint]) -> list[Constraint]:
    return [c if isinstance(c, Constraint) else parse_constraint(c) for c in constraints]


def _column(df: pd.DataFrame, key: str, what: str) -> pd.Series:
    if key not in df.columns:
        scalars = [c for c in df.columns if c not in META_COLUMNS]
        raise ConfigError(f"{what} key {key!r} is not a column of the results", field=key,
                          allowed=", ".join(scalars[:20]) + (", …" if len(scalars) > 20 else ""))
    return pd.to_numeric(df[key], errors="coerce")


def feasible(df: pd.DataFrame, constraints: Iterable[str | Constraint] = ()) -> pd.Series:
    """Boolean mask: the point finished and satisfies every constraint (a missing value is infeasible)."""
    mask = df["status"].eq("done") if "status" in df.columns else pd.Series(True, index=df.index)
    for c in _constraints(constraints):
        col = _column(df, c.key, "constraint")
        mask &= col.map(c.holds).astype(bool)
    return mask


def pareto_mask(values: np.ndarray) -> np.ndarray:
    """Non-dominated rows of ``values`` (n × m, every column minimized). Duplicates are all kept."""
    n = values.shape[0]
    keep = np.ones(n, dtype=bool)
    for i in range(n):
        if not keep[i]:
            continue
        # rows that i dominates: i <= them everywhere and < somewhere
        dominated = np.all(values[i] <= values, axis=1) & np.any(values[i] < values, axis=1)
        keep &= ~dominated
    return keep


def pareto(df: pd.DataFrame, objectives: Sequence[str | Objective],
           constraints: Iterable[str | Constraint] = ()) -> pd.DataFrame:
    """The Pareto front of ``df`` over ``objectives`` (``"min KEY"`` / ``"max KEY"``) among the feasible
    points, sorted by the first objective; rows with a missing or non-finite objective are left out."""
    objs = _objectives(objectives)
    if not objs:
        raise ConfigError("a Pareto front needs at least one objective", field="objectives")
    ok = feasible(df, constraints)
    cols = [(_column(df, o.key, "objective") * (1.0 if o.sense == "min" else -1.0)) for o in objs]
    vals = np.column_stack([c.to_numpy(dtype=float) for c in cols])
    ok &= np.all(np.isfinite(vals), axis=1)
    idx = np.flatnonzero(ok.to_numpy())
    front = idx[pareto_mask(vals[idx])] if idx.size else idx
    out = df.iloc[front]
    return out.sort_values(objs[0].key, ascending=objs[0].sense == "min", kind="stable")


def export(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` as CSV (``.csv``) or Parquet (``.parquet``, needs pyarrow: the ``dse`` extra)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        df.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        try:
            import pyarrow
        except ImportError:
            raise ConfigError("Parquet export needs pyarrow: pip install 'cimsim[dse]'", file=str(path)) from None
        # object columns mixing types (axis values such as null and 5) are stored as strings
        out = df.copy()
        for c in out.columns:
            if out[c].dtype == object:
                kinds = {type(v) for v in out[c] if v is not None and not (isinstance(v, float) and np.isnan(v))}
                if len(kinds) > 1:
                    out[c] = out[c].map(lambda v: None if v is None else str(v))
        try:
            out.to_parquet(path, index=False)
        except (OverflowError, ValueError, TypeError, pyarrow.ArrowException) as exc:
            # e.g. an integer beyond int64 in a hand-edited store: the CSV holds every value
            path.unlink(missing_ok=True)
            raise ConfigError(f"no Parquet file: a column does not fit Parquet's types ({type(exc).__name__}: "
                              f"{str(exc)[:80]}); results.csv holds every value", file=str(path)) from None
    else:
        raise ConfigError(f"unknown export format {path.suffix!r}", file=str(path), allowed=".csv, .parquet")
    return path
