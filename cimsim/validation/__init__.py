"""`cimsim reproduce`: every validation of cimsim against published or tool-generated numbers, one case per
decorated function in the topic modules (device, circuits, architecture, algorithm)."""

from cimsim.validation.registry import CaseInfo, CaseResult, case, discover, failed, run, select

__all__ = ["CaseInfo", "CaseResult", "case", "discover", "failed", "run", "select"]
