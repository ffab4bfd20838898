"""Append-only result store of a sweep directory: SQLite in WAL mode, one row per point, keyed by content.

``DIR/sweep.sqlite`` holds three tables:

* ``meta(k, v)`` — the sweep spec (JSON), base paths, cimsim version, planned point count;
* ``planned(idx, key, axes)`` — what the sweep means to run (grid / random points, or optuna trials as asked);
* ``points(key, idx, axes, status, result, error, wall_s, finished_at)`` — one row per finished point
  (``status`` done or failed), inserted with ``INSERT OR IGNORE`` and committed at once. WAL with
  ``synchronous=NORMAL`` survives the writer being killed: a committed row is never lost or torn, an
  uncommitted one simply never appears.

Readers (``cimsim sweep DIR --status``, ``cimsim report``, :func:`cimsim.dse.load`) open the file read-only
(``Store(dir)``, SQLite URI ``mode=ro``): no folder is made, the journal mode is not switched, no table is
created and no ``-wal``/``-shm`` file is made or removed, so they work on a read-only directory. A store with no
``-wal`` file (no writer since the last checkpoint) is opened ``immutable``, which touches nothing at all.

``DIR/sweep.lock`` keeps a second writer out with an advisory ``flock`` on the file (pid, host and start time
inside are for messages only). The kernel drops the lock when its process dies, however it dies, so a lock
left by a killed writer is free without any take-over step, and two processes can never both hold it:
whoever gets the ``flock`` first and still finds its file at ``DIR/sweep.lock`` holds it. ``release`` unlinks
the file only while holding the lock on that very file (same inode), never a file another process made.
Every malformed store or lock file is a one-line :class:`~cimsim.errors.ConfigError` naming the file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cimsim.errors import ConfigError, short_repr

DB_NAME = "sweep.sqlite"
LOCK_NAME = "sweep.lock"
_TABLES = ("meta", "planned", "points")
_LOCK_BYTES = 4096  # a lock file holds one small JSON object; more is not read

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
    """Counts over the planned points (grid / random points, or optuna trials).

    Attributes:
        name: the sweep name.
        planned: planned points (optuna: trials).
        done / failed: planned points (trials) finished or failed.
        distinct: distinct configurations among the planned ones (optuna trials may repeat a point).
        stored: rows in the store (also points of an earlier, different plan).
        feasible: done points meeting every constraint of the spec (None: not counted).
    """

    name: str
    planned: int
    done: int
    failed: int
    distinct: int | None = None
    stored: int | None = None
    feasible: int | None = None

    @property
    def pending(self) -> int:
        return self.planned - self.done - self.failed


def is_sweep_dir(path: str | Path) -> bool:
    return (Path(path) / DB_NAME).is_file()


def parse_json(text: Any, what: str, file: str) -> Any:
    """``json.loads`` of a stored value; any malformed value (bad JSON, a 5 000-digit integer, NaN text) is a
    ConfigError naming the file and the field."""
    if text is None:
        return None
    if not isinstance(text, (str, bytes)):
        raise ConfigError(f"stored value is {type(text).__name__}, not JSON text", file=file, field=what)
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ConfigError(f"stored value is not valid JSON ({short_repr(str(exc), 80)})", file=file,
                          field=what) from None


def _parse_owner(raw: bytes) -> dict[str, Any]:
    """The (pid, host, started) of a lock file, for messages; anything malformed reads as unknown."""
    try:
        doc = json.loads(raw.decode("utf-8", "replace") or "{}")
    except (ValueError, RecursionError):
        return {}
    if not isinstance(doc, dict):
        return {}
    pid = doc.get("pid")
    return {"pid": pid if isinstance(pid, int) and not isinstance(pid, bool) and 0 < pid < 2**31 else None,
            "host": str(doc["host"])[:100] if isinstance(doc.get("host"), str) else None,
            "started": str(doc["started"])[:40] if isinstance(doc.get("started"), str) else None}


class Lock:
    """Exclusive writer lock of a sweep directory: ``flock`` on ``DIR/sweep.lock`` (see the module docstring).

    Args:
        directory: the sweep directory (must exist).
        pause: test hook, called with a stage name (``"opened"``, ``"locked"``) between the steps of
            :meth:`acquire`, to widen the race windows in tests.
    """

    def __init__(self, directory: Path, *, pause: Callable[[str], None] | None = None) -> None:
        self.path = Path(directory) / LOCK_NAME
        self.held = False
        self._fd: int | None = None
        self._pause = pause or (lambda stage: None)

    def acquire(self) -> str | None:
        """Take the lock; returns a note when the lock of a dead writer was taken over. Raises ConfigError when
        another live process holds it, or when the lock path is not a regular file."""
        for _ in range(20):  # a release unlinking between our open and our flock: retry on the new file
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise ConfigError(f"cannot open the sweep lock: {exc.strerror or exc} (it must be a regular "
                                  "file, not a symbolic link)", file=str(self.path)) from None
            try:
                st = os.fstat(fd)
                if not (st.st_mode & 0o170000 == 0o100000):
                    raise ConfigError("the sweep lock is not a regular file", file=str(self.path))
                self._pause("opened")
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    owner = _parse_owner(os.pread(fd, _LOCK_BYTES, 0))
                    raise ConfigError(
                        f"another sweep is writing to this directory (pid {owner.get('pid') or '?'} on "
                        f"{owner.get('host') or '?'}, since {owner.get('started') or '?'}); wait for it to finish",
                        file=str(self.path.parent)) from None
                self._pause("locked")
                try:
                    same = os.stat(self.path, follow_symlinks=False).st_ino == st.st_ino
                except FileNotFoundError:
                    same = False
                if not same:  # the holder released (unlinked) it after our open: lock the file now there
                    os.close(fd)
                    fd = -1
                    continue
                old = _parse_owner(os.pread(fd, _LOCK_BYTES, 0))
                doc = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                  "started": time.strftime("%Y-%m-%d %H:%M:%S")}).encode()
                os.ftruncate(fd, 0)
                os.pwrite(fd, doc, 0)
                os.fsync(fd)
            except BaseException:
                if fd >= 0:
                    os.close(fd)
                raise
            self._fd, self.held = fd, True
            if old.get("pid") is not None:
                return f"took over a stale lock of pid {old['pid']} (no longer running)"
            return None
        raise ConfigError("could not take the sweep lock (it kept changing under us)", file=str(self.path))

    def release(self) -> None:
        """Unlink the lock file if it is still ours (same inode, while we hold its flock), then unlock."""
        if not self.held or self._fd is None:
            return
        try:
            with contextlib.suppress(OSError):
                if os.stat(self.path, follow_symlinks=False).st_ino == os.fstat(self._fd).st_ino:
                    os.unlink(self.path)
        finally:
            os.close(self._fd)  # drops the flock
            self._fd, self.held = None, False

    def __enter__(self) -> Lock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def _sqlite_errors(db: Path) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise ConfigError(f"unreadable sweep store: {short_repr(str(exc), 100)} (a sweep.sqlite written by "
                          "`cimsim sweep` is expected)", file=str(db)) from None
    except UnicodeDecodeError:
        raise ConfigError("a stored text is not UTF-8 (a sweep.sqlite written by `cimsim sweep` is expected)",
                          file=str(db)) from None


class Store:
    """The SQLite file of one sweep directory.

    Args:
        directory: the sweep directory.
        create: open for writing (the runner, holding the :class:`Lock`): makes the directory, the file and
            its tables, and switches it to WAL. Without it the store is opened read-only and must exist.
    """

    def __init__(self, directory: str | Path, *, create: bool = False) -> None:
        self.dir = Path(directory)
        self.db = self.dir / DB_NAME
        self.writable = create
        if create:
            self.dir.mkdir(parents=True, exist_ok=True)
        elif not self.db.is_file():
            raise ConfigError("not a sweep directory (no sweep.sqlite)", file=str(self.dir))
        with _sqlite_errors(self.db):
            if create:
                self.conn = sqlite3.connect(self.db, timeout=30.0, isolation_level=None)
                try:
                    self.conn.execute("PRAGMA journal_mode=WAL")
                    self.conn.execute("PRAGMA synchronous=NORMAL")
                    self.conn.executescript(_SCHEMA)
                except sqlite3.Error:
                    self.conn.close()
                    raise
            else:
                self.conn = self._open_readonly()
            try:
                tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            except sqlite3.Error:
                self.conn.close()
                raise
        missing = [t for t in _TABLES if t not in tables]
        if missing:
            self.conn.close()
            raise ConfigError(f"not a sweep store (no table {missing[0]!r})", file=str(self.db))

    def _open_readonly(self) -> sqlite3.Connection:
        uri = "file:" + quote(str(self.db.resolve()))
        # No -wal file: nothing uncommitted to the main file, so open it immutable (no -shm, no locks, no
        # writes at all). With a -wal file a writer may be live: plain read-only, which reads its commits.
        if not Path(str(self.db) + "-wal").exists():
            return sqlite3.connect(uri + "?mode=ro&immutable=1", uri=True, isolation_level=None)
        try:
            conn = sqlite3.connect(uri + "?mode=ro", uri=True, timeout=30.0, isolation_level=None)
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError:  # a read-only folder without the -shm file: read the main file only
            return sqlite3.connect(uri + "?mode=ro&immutable=1", uri=True, isolation_level=None)

    def close(self) -> None:
        self.conn.close()

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with _sqlite_errors(self.db):
            return self.conn.execute(sql, args).fetchall()

    def _json(self, text: Any, what: str) -> Any:
        return parse_json(text, what, str(self.db))

    def _axes(self, text: Any, what: str) -> dict[str, Any]:
        axes = self._json(text, what)
        if not isinstance(axes, dict):
            raise ConfigError(f"stored axes are {type(axes).__name__}, not a mapping", file=str(self.db), field=what)
        return axes

    # ------------------------------------------------------------------- meta
    def set_meta(self, **items: Any) -> None:
        with _sqlite_errors(self.db), self.conn:
            self.conn.execute("BEGIN")
            self.conn.executemany("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)",
                                  [(k, json.dumps(v)) for k, v in items.items()])

    def meta(self) -> dict[str, Any]:
        """The meta table; a malformed value is a ConfigError (and ``spec`` / ``axes`` must have their shape)."""
        out = {k: self._json(v, f"meta.{k}") for k, v in self._query("SELECT k, v FROM meta")}
        if not isinstance(out.get("spec", {}), dict):
            raise ConfigError("stored sweep spec is not a mapping", file=str(self.db), field="meta.spec")
        axes = out.get("axes", [])
        if not (isinstance(axes, list) and all(isinstance(a, str) for a in axes)):
            raise ConfigError("stored axis names are not a list of names", file=str(self.db), field="meta.axes")
        planned = out.get("planned")
        if planned is not None and not (isinstance(planned, int) and 0 <= planned < 2**63):
            raise ConfigError(f"stored planned count {short_repr(planned)} is not a count", file=str(self.db),
                              field="meta.planned")
        name = out.get("name")
        if name is not None and not isinstance(name, str):
            raise ConfigError("stored sweep name is not text", file=str(self.db), field="meta.name")
        return out

    # ----------------------------------------------------------------- points
    def plan(self, rows: list[tuple[int, str, dict[str, Any]]], *, replace: bool = False) -> None:
        """Record the planned (index, key, axes); ``replace`` forgets an earlier plan (a changed spec)."""
        with _sqlite_errors(self.db), self.conn:
            self.conn.execute("BEGIN")
            if replace:
                self.conn.execute("DELETE FROM planned")
            self.conn.executemany("INSERT OR REPLACE INTO planned (idx, key, axes) VALUES (?, ?, ?)",
                                  [(i, k, json.dumps(a, default=str)) for i, k, a in rows])

    def keys(self) -> dict[str, str]:
        """key → status of every stored point."""
        return dict(self._query("SELECT key, status FROM points"))

    def add(self, key: str, idx: int, axes: dict[str, Any], *, result: dict[str, Any] | None = None,
            error: str | None = None, wall_s: float | None = None) -> bool:
        """Commit one finished point; False when its key was already stored (nothing changes)."""
        status = "done" if error is None else "failed"
        with _sqlite_errors(self.db), self.conn:
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO points (key, idx, axes, status, result, error, wall_s, finished_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (key, idx, json.dumps(axes, default=str), status,
                 None if result is None else json.dumps(result, allow_nan=True, default=_json_default),
                 error, wall_s, time.time()))
        return cur.rowcount == 1

    def result(self, key: str) -> tuple[str, dict[str, Any] | None, str | None] | None:
        rows = self._query("SELECT status, result, error FROM points WHERE key = ?", (key,))
        if not rows:
            return None
        status, result, error = rows[0]
        doc = self._json(result, "points.result") if result else None
        return status, (doc if isinstance(doc, dict) else None), error

    def rows(self) -> list[dict[str, Any]]:
        """Every stored point, in planned order (points no longer planned last)."""
        rows = self._query(
            "SELECT p.key, COALESCE(MIN(pl.idx), p.idx) AS i, p.axes, p.status, p.result, p.error, p.wall_s "
            "FROM points p LEFT JOIN planned pl ON pl.key = p.key GROUP BY p.key ORDER BY (MIN(pl.idx) IS NULL), i")
        out = []
        for k, i, a, s, r, e, w in rows:
            doc = self._json(r, "points.result") if r else None
            if doc is not None and not isinstance(doc, dict):
                raise ConfigError(f"a stored result is {type(doc).__name__}, not a mapping", file=str(self.db),
                                  field="points.result")
            if not isinstance(i, int) or s not in ("done", "failed"):
                raise ConfigError(f"a stored point has index {short_repr(i)} and status {short_repr(s)}",
                                  file=str(self.db), field="points")
            out.append({"key": str(k), "index": i, "axes": self._axes(a, "points.axes"), "status": s,
                        "result": doc, "error": None if e is None else str(e),
                        "wall_s": w if isinstance(w, (int, float)) else None})
        return out

    def status(self) -> Status:
        meta = self.meta()
        planned = meta.get("planned")
        n, done, failed, distinct = self._query(
            "SELECT COUNT(*), COALESCE(SUM(p.status = 'done'), 0), COALESCE(SUM(p.status = 'failed'), 0), "
            "COUNT(DISTINCT pl.key) FROM planned pl LEFT JOIN points p ON p.key = pl.key")[0]
        stored = self._query("SELECT COUNT(*) FROM points")[0][0]
        n_planned = n if planned is None else max(int(planned), n)
        return Status(name=meta.get("name") or self.dir.name, planned=n_planned, done=done, failed=failed,
                      distinct=distinct, stored=stored)


def _json_default(o: Any) -> Any:
    """Result documents' numpy values as numbers (:func:`cimsim.atomic_io.json_default`); anything else as its
    text, so one odd value never loses a stored point."""
    from cimsim.atomic_io import json_default

    try:
        return json_default(o)
    except TypeError:
        return str(o)
