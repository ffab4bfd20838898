"""Benchmarks and studies run on demand (never in the test suite); shared helpers."""

from __future__ import annotations

import contextlib
import resource
import time
from pathlib import Path

REPEATS = 3


def peak_rss_mib() -> float:
    """This process's peak RSS (MiB). Linux: VmHWM, the high-water mark of this program image (``ru_maxrss``
    survives fork and exec, so a child started by a big parent would report the parent's peak)."""
    with contextlib.suppress(OSError, StopIteration):
        line = next(ln for ln in Path("/proc/self/status").read_text().splitlines() if ln.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def interleaved(fns: dict, repeats: int = REPEATS) -> dict[str, float]:
    """Best wall time of each function, the functions run in turn ``repeats`` times (so that a busy spell on a
    shared machine hits all of them)."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t)
    return best


def markdown(df) -> str:
    """A markdown table of DataFrame ``df`` (numbers to 4 significant digits)."""
    def cell(v: object) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)
