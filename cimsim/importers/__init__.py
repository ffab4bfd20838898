"""Importers of trained models into cimsim's canonical weights + workload (torch optional: ``pip install
cimsim[train]``)."""
