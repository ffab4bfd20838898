"""One exception family for every user-facing failure (docs/architecture.md).

Each error carries the file, the field path and what is allowed, so the CLI can print one line and
exit with status 2 without a traceback. The line is bounded (:data:`MAX_LINE`): values from the input are
shortened with :func:`short_repr` before they enter a message, and every part is capped again here, so a
huge value (an alias bomb, a megabyte-long string) can never make the message itself huge.
"""

from __future__ import annotations

import reprlib

# The CLI prints "cimsim: error: " + one_line(); the README promises at most 300 characters in all.
MAX_LINE = 300 - len("cimsim: error: ")
_MAX_FILE, _MAX_FIELD, _MAX_ALLOWED = 90, 70, 110

_repr = reprlib.Repr()
_repr.maxstring, _repr.maxother, _repr.maxlist, _repr.maxtuple, _repr.maxdict = 40, 40, 4, 4, 3
_repr.maxlevel = 2


def short_repr(value: object, limit: int = 60) -> str:
    """``repr(value)`` bounded in length and depth, without walking the whole value (safe on alias bombs)."""
    try:
        text = _repr.repr(value)
    except Exception:  # a value whose __repr__ fails must not turn an error message into a crash
        text = f"<{type(value).__name__}>"
    return clip(text, limit)


def clip(text: str, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


class CimsimError(Exception):
    """Base of all user-facing errors.

    Args:
        message: what is wrong.
        file: the file the value came from, or the flag (``--set``, ``--out``) for command-line values.
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
        """``file: field: message (allowed: ...)`` on one line of at most :data:`MAX_LINE` characters."""
        parts = [clip(self.file, _MAX_FILE) if self.file else "", clip(self.field, _MAX_FIELD) if self.field else ""]
        where = ": ".join(p for p in parts if p)
        tail = f" (allowed: {clip(self.allowed, _MAX_ALLOWED)})" if self.allowed else ""
        room = MAX_LINE - len(where) - (2 if where else 0) - len(tail)
        text = clip(self.message, max(room, 40))
        text = f"{where}: {text}" if where else text
        return clip(text + tail, MAX_LINE)


class ConfigError(CimsimError):
    """An architecture, workload or sweep file (or a --set override or a flag) is malformed or out of range."""


class WeightsError(CimsimError):
    """A weights file is missing, unreadable, or holds arrays of the wrong name, shape or values."""


class DataError(CimsimError):
    """A data set file is missing or malformed, or does not fit the network."""


class MappingError(CimsimError):
    """A network does not fit the architecture (too few arrays, incompatible shapes)."""


class ResourceError(CimsimError):
    """A run would need more memory (or another resource) than the machine has or the limits allow."""


class NumericalError(CimsimError):
    """A computed value is not finite (NaN or inf logits, probabilities), so metrics would be meaningless."""
