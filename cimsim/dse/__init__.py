"""Design-space exploration: sweep specs expanded into points, run on local processes or a Dask cluster into
an append-only, resumable store, and read back as a DataFrame with Pareto fronts (README: Design-space
exploration)."""

from cimsim.dse.results import export, feasible, flatten, load, pareto
from cimsim.dse.runner import SweepSummary, run_sweep, sweep_status

__all__ = ["SweepSummary", "export", "feasible", "flatten", "load", "pareto", "run_sweep", "sweep_status"]
