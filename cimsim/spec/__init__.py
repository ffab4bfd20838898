"""Typed, validated configs (pydantic): architecture and workload; YAML in, JSON Schema out."""

from cimsim.spec.arch import ArchSpec
from cimsim.spec.loader import apply_overrides, load_arch, load_workload, parse_override
from cimsim.spec.workload import WorkloadSpec

__all__ = ["ArchSpec", "WorkloadSpec", "apply_overrides", "load_arch", "load_workload", "parse_override"]
