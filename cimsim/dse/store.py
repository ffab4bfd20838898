"""Append-only result store of a sweep directory: SQLite in WAL mode, one row per point, keyed by content.

``DIR/sweep.sqlite`` holds three tables:

* ``meta(k, v)`` — the sweep spec (JSON), base paths, cimsim version, planned point count;
* ``planned(idx, key, axes)`` — what the sweep means to run (grid / random points, or optuna trials as asked);
* ``points(key, idx, axes, status, result, error, wall_s, finished_at)`` — one row per finished point
  (``status`` done or failed), inserted with ``INSERT OR IGNORE`` and committed at once. WAL with
  ``synchronous=NORMAL`` survives the writer being killed: a committed row is never lost or torn, an
  uncommitted one simply never appears.

``DIR/sweep.lock`` (pid, host, start time; created with O_EXCL) keeps a second writer out; a lock whose
process is gone (same host) is stale and is taken over.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cimsim.errors import ConfigError

DB_NAME = "sweep.sqlite"
LOCK_NAME = "sweep.lock"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS planned (idx INTEGER PRIMARY KEY, key TEXT NOT NULL, axes TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS points (
    key TEXT PRIMARY KEY,
    idx INTEGER NOT NULL,
    axes TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'failed')),
    result TEXT,
    error TEXT,
    wall_s REAL,
    finished_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class Status:
    """Counts over the planned points (grid / random points, or optuna trials)."""

    name: str
    planned: int
    done: int
    failed: int

    @property
    def pending(self) -> int:
        return self.planned - self.done - self.failed


def is_sweep_dir(path: str | Path) -> bool:
    return (Path(path) / DB_NAME).is_file()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class Lock:
    """Exclusive writer lock of a sweep directory (a file holding pid, host and start time)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_NAME
        self.held = False

    def acquire(self) -> str | None:
        """Take the lock; returns a note when a stale lock was taken over. Raises ConfigError when held."""
        note = None
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self._owner()
                host = owner.get("host")
                pid = owner.get("pid")
                if host == socket.gethostname() and isinstance(pid, int) and not _pid_alive(pid):
                    self.path.unlink(missing_ok=True)
                    note = f"took over a stale lock of pid {pid} (no longer running)"
                    continue
                raise ConfigError(f"another sweep is writing to this directory (pid {pid} on {host}, since "
                                  f"{owner.get('started', '?')}); wait for it to finish, or delete {self.path} "
                                  "if that process is gone", file=str(self.path.parent)) from None
            with os.fdopen(fd, "w") as f:
                json.dump({"pid": os.getpid(), "host": socket.gethostname(),
                           "started": time.strftime("%Y-%m-%d %H:%M:%S")}, f)
            self.held = True
            return note
        raise ConfigError("could not take the sweep lock", file=str(self.path))

    def _owner(self) -> dict[str, Any]:
        try:
            return json.loads(self.path.read_text() or "{}")
        except (OSError, json.JSONDecodeError):
            # a lock being written right now, or garbage: treat as held by an unknown live process
            return {"pid": None, "host": None}

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> Lock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Store:
    """The SQLite file of one sweep directory."""

    def __init__(self, directory: str | Path, *, create: bool = False) -> None:
        self.dir = Path(directory)
        db = self.dir / DB_NAME
        if not create and not db.is_file():
            raise ConfigError("not a sweep directory (no sweep.sqlite)", file=str(self.dir))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(db, timeout=30.0, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(_SCHEMA)

    def close(self) -> None:
        self.conn.close()

    # ------------------------------------------------------------------- meta
    def set_meta(self, **items: Any) -> None:
        with self.conn:
            self.conn.execute("BEGIN")
            self.conn.executemany("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)",
                                  [(k, json.dumps(v)) for k, v in items.items()])

    def meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self.conn.execute("SELECT k, v FROM meta")}

    # ----------------------------------------------------------------- points
    def plan(self, rows: list[tuple[int, str, dict[str, Any]]], *, replace: bool = False) -> None:
        """Record the planned (index, key, axes); ``replace`` forgets an earlier plan (a changed spec)."""
        with self.conn:
            self.conn.execute("BEGIN")
            if replace:
                self.conn.execute("DELETE FROM planned")
            self.conn.executemany("INSERT OR REPLACE INTO planned (idx, key, axes) VALUES (?, ?, ?)",
                                  [(i, k, json.dumps(a, default=str)) for i, k, a in rows])

    def keys(self) -> dict[str, str]:
        """key → status of every stored point."""
        return dict(self.conn.execute("SELECT key, status FROM points"))

    def add(self, key: str, idx: int, axes: dict[str, Any], *, result: dict[str, Any] | None = None,
            error: str | None = None, wall_s: float | None = None) -> bool:
        """Commit one finished point; False when its key was already stored (nothing changes)."""
        status = "done" if error is None else "failed"
        with self.conn:
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO points (key, idx, axes, status, result, error, wall_s, finished_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (key, idx, json.dumps(axes, default=str), status,
                 None if result is None else json.dumps(result, allow_nan=True, default=_json_default),
                 error, wall_s, time.time()))
        return cur.rowcount == 1

    def result(self, key: str) -> tuple[str, dict[str, Any] | None, str | None] | None:
        row = self.conn.execute("SELECT status, result, error FROM points WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return row[0], (json.loads(row[1]) if row[1] else None), row[2]

    def rows(self) -> list[dict[str, Any]]:
        """Every stored point, in planned order (points no longer planned last)."""
        cur = self.conn.execute(
            "SELECT p.key, COALESCE(MIN(pl.idx), p.idx) AS i, p.axes, p.status, p.result, p.error, p.wall_s "
            "FROM points p LEFT JOIN planned pl ON pl.key = p.key GROUP BY p.key ORDER BY (MIN(pl.idx) IS NULL), i")
        return [{"key": k, "index": i, "axes": json.loads(a), "status": s,
                 "result": json.loads(r) if r else None, "error": e, "wall_s": w}
                for k, i, a, s, r, e, w in cur]

    def status(self) -> Status:
        meta = self.meta()
        planned = meta.get("planned")
        row = self.conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(p.status = 'done'), 0), COALESCE(SUM(p.status = 'failed'), 0) "
            "FROM planned pl LEFT JOIN points p ON p.key = pl.key").fetchone()
        n_planned = row[0] if planned is None else max(int(planned), row[0])
        return Status(name=meta.get("name", self.dir.name), planned=n_planned, done=row[1], failed=row[2])


def _json_default(o: Any) -> Any:
    """Result documents' numpy values as numbers (:func:`cimsim.atomic_io.json_default`); anything else as its
    text, so one odd value never loses a stored point."""
    from cimsim.atomic_io import json_default

    try:
        return json_default(o)
    except TypeError:
        return str(o)
