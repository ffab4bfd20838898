"""One exception family for every user-facing failure (docs/architecture.md).

Each error carries the file, the field path and what is allowed, so the CLI can print one line and
exit with status 2 without a traceback.
"""

from __future__ import annotations


class CimsimError(Exception):
    """Base of all user-facing errors.

    Args:
        message: what is wrong.
        file: the file the value came from (None for values given in Python or on the command line).
        field: dotted field path inside that file (e.g. ``crossbar.rows_active``).
        allowed: what would have been accepted.
    """

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None,
                 allowed: str | None = None) -> None:
        self.message = message
        self.file = None if file is None else str(file)
        self.field = field
        self.allowed = allowed
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = ": ".join(p for p in (self.file, self.field) if p)
        text = f"{where}: {self.message}" if where else self.message
        if self.allowed:
            text += f" (allowed: {self.allowed})"
        return " ".join(text.split())


class ConfigError(CimsimError):
    """An architecture, workload or sweep file (or a --set override) is malformed or out of range."""


class WeightsError(CimsimError):
    """A weights file is missing, unreadable, or holds arrays of the wrong name, shape or values."""


class DataError(CimsimError):
    """A data set file is missing or malformed."""


class MappingError(CimsimError):
    """A network does not fit the architecture (too few arrays, incompatible shapes)."""
