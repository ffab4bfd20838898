"""Benchmarks and studies run on demand (never in the test suite); shared helpers."""

from __future__ import annotations

import contextlib
import resource
from pathlib import Path


def peak_rss_mib() -> float:
    """This process's peak RSS (MiB). Linux: VmHWM, the high-water mark of this program image (``ru_maxrss``
    survives fork and exec, so a child started by a big parent would report the parent's peak)."""
    with contextlib.suppress(OSError, StopIteration):
        line = next(ln for ln in Path("/proc/self/status").read_text().splitlines() if ln.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
