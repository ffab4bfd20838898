"""Chrome trace export (chrome://tracing, https://ui.perfetto.dev)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cimsim.atomic_io import atomic_write_bytes


def chrome_trace_bytes(events: Iterable[dict[str, Any]]) -> bytes:
    """``events`` (Chrome-trace "X" events, µs) as the UTF-8 JSON object of a trace file.

    Resource names (string tids) become integer thread ids with a ``thread_name`` metadata record, and each
    pid (replica) gets a ``process_name``, so Perfetto and chrome://tracing label the rows by resource.
    """
    meta: list[dict[str, Any]] = []
    tids: dict[Any, int] = {}
    pids: set[Any] = set()
    out: list[dict[str, Any]] = []
    for ev in events:
        pid, name = ev.get("pid", 0), ev.get("tid", 0)
        if pid not in pids:
            pids.add(pid)
            meta.append({"name": "process_name", "ph": "M", "pid": pid, "tid": 0,
                         "args": {"name": f"replica {pid}"}})
        if name not in tids:
            tids[name] = len(tids) + 1
        tid = tids[name]
        key = (pid, tid)
        if key not in pids:
            pids.add(key)
            meta.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid, "args": {"name": str(name)}})
        out.append({**ev, "tid": tid})
    return json.dumps({"traceEvents": meta + out, "displayTimeUnit": "ns"}).encode("utf-8")


def write_chrome_trace(events: Iterable[dict[str, Any]], path: str | Path) -> Path:
    """Write ``events`` as a trace file (see :func:`chrome_trace_bytes`) and return its path.

    The file is replaced atomically (temporary sibling, fsync, rename): a kill leaves the old trace or the
    new one, never truncated JSON.
    """
    return atomic_write_bytes(path, chrome_trace_bytes(events))
