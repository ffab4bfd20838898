"""Crash-safe outputs: files replaced atomically, output directories swapped in whole, with a manifest.

* :func:`atomic_write_bytes` writes a sibling temporary file, fsyncs it and renames it over the target, so a
  reader (or a ``kill -9``) sees the old complete file or the new complete file, never a truncated one.
* :class:`OutputDir` checks and creates the path *before* a run, writes every file of the run into a hidden
  sibling directory, adds ``manifest.json`` (cimsim version, run id, each file's size and sha256), and swaps it
  into place with one atomic ``renameat2(RENAME_EXCHANGE)`` (Linux ≥ 3.15); elsewhere it falls back to two
  renames and recovers the old directory on the next run if a kill fell between them. Files of an older run
  never mix with the new ones, because the whole directory is replaced. A directory holding files cimsim did
  not write is refused, never deleted.

Ownership: cimsim replaces an existing output directory only when it is empty or its ``manifest.json`` lists
every file in it (sub-folders included, e.g. a report's ``figures/``). A sub-folder that is itself a cimsim
output directory (its own manifest, e.g. ``RUN_DIR/report`` made by ``cimsim report RUN_DIR``) counts as
cimsim's too, so a report never blocks a later ``cimsim run --out RUN_DIR``; that run replaces the folder whole,
the report of the previous run with it. A symbolic link as the output path is refused, and files are only
ever written into a temporary directory this process made, so no write follows a link planted in the output.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import os
import shutil
import uuid
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType

import numpy as np

from cimsim.errors import ConfigError

MANIFEST = "manifest.json"
_TMP_TAG = ".cimsim-"


def json_default(o: object) -> object:
    """``json.dumps`` default for result documents: numpy scalars and arrays as Python numbers and lists;
    anything else is a ``TypeError`` (a result must not hold objects JSON cannot show)."""
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")

def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _tmp_name(target: Path, suffix: str) -> Path:
    return target.parent / f".{target.name}{_TMP_TAG}{os.getpid()}-{uuid.uuid4().hex[:8]}.{suffix}"


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (signal 0; a process of another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def clean_stale(target: Path) -> None:
    """Remove temporaries of ``target`` left by cimsim processes that no longer run (killed mid-write), and
    restore ``target`` from a fallback swap that a kill interrupted."""
    parent = target.parent
    if not parent.is_dir():
        return
    for cand in parent.glob(f".{target.name}{_TMP_TAG}*"):
        stem = cand.name[len(f".{target.name}{_TMP_TAG}"):]
        head = stem.split("-", 1)[0]
        if not (head.isdigit() and len(head) <= 9):  # a pid; anything else is not ours
            continue
        pid = int(head)
        if pid == os.getpid() or pid_alive(pid):
            continue  # a live writer (or this process) owns it
        if cand.name.endswith(".old") and not target.exists() and cand.is_dir() and not cand.is_symlink():
            os.rename(cand, target)  # the kill fell between the two renames of a fallback swap
        elif cand.is_dir() and not cand.is_symlink():
            shutil.rmtree(cand, ignore_errors=True)
        else:
            cand.unlink(missing_ok=True)


def check_path_text(path: str | Path, *, flag: str, what: str = "a path") -> None:
    """An output path from the command line: not empty, no NUL byte (which the OS cannot take)."""
    text = str(path)
    if text.strip() == "":
        raise ConfigError("empty path", file=flag, allowed=what)
    if "\x00" in text:
        raise ConfigError("the path holds a NUL byte", file=flag, allowed=what)


def check_file_target(path: str | Path, *, flag: str) -> Path:
    """Validate an output file path given on the command line and create its folder; returns it."""
    check_path_text(path, flag=flag, what="a file path")
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"{str(p)!r} is a directory", file=flag, allowed="a file path")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create folder {str(p.parent)!r}: {exc.strerror or exc}", file=flag) from None
    if not os.access(p.parent, os.W_OK | os.X_OK):
        raise ConfigError(f"folder {str(p.parent)!r} is not writable", file=flag)
    clean_stale(p)
    return p


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Replace ``path`` with ``data`` atomically (temporary sibling, fsync, rename, fsync of the folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(path, "tmp")
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with renameat2(RENAME_EXCHANGE); False where the OS cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_manifest(path: str | Path) -> dict | None:
    """The manifest of an output directory (None if absent, unreadable, a symlink or malformed)."""
    f = Path(path) / MANIFEST
    if f.is_symlink():
        return None
    try:
        doc = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not (isinstance(doc, dict) and isinstance(doc.get("files"), dict)):
        return None
    return doc if all(isinstance(k, str) and isinstance(v, dict) for k, v in doc["files"].items()) else None


def _tree(path: Path) -> list[str]:
    """Every entry below ``path`` that is not a directory (files, links), as posix paths relative to it;
    symlinked folders are not followed."""
    out = []
    for root, dirs, files in os.walk(path):
        rel = Path(root).relative_to(path)
        out += [(rel / f).as_posix() for f in files]
        out += [(rel / d).as_posix() for d in dirs if (Path(root) / d).is_symlink()]
    return sorted(out)


def foreign_files(path: str | Path) -> list[str]:
    """Files in output directory ``path`` that cimsim did not write: not in its manifest, and not inside a
    sub-folder that is itself a cimsim output directory (recursively). Everything, without a manifest."""
    path = Path(path)
    man = read_manifest(path)
    known = (set(man["files"]) | {MANIFEST}) if man is not None else set()
    if man is None:
        return _tree(path)
    out = []
    owned: list[str] = []
    for rel in _tree(path):
        if rel in known or any(rel.startswith(o + "/") for o in owned):
            continue
        top = rel.split("/", 1)[0]
        sub = path / top
        if "/" in rel and top not in {k.split("/", 1)[0] for k in known} and sub.is_dir() \
                and not sub.is_symlink() and read_manifest(sub) is not None and not foreign_files(sub):
            owned.append(top)
            continue
        out.append(rel)
    return out


def verify_output_dir(path: str | Path) -> dict:
    """Check that a directory holds exactly the files its manifest lists (besides nested cimsim output
    folders such as a report), with matching sha256; returns the manifest. Raises ConfigError naming the
    first mismatch."""
    path = Path(path)
    man = read_manifest(path)
    if man is None:
        raise ConfigError("no readable manifest.json", file=str(path))
    extra = foreign_files(path)
    missing = [n for n in man["files"] if not (path / n).is_file()]
    if extra or missing:
        raise ConfigError(f"files {sorted(extra + missing)} differ from the manifest", file=str(path))
    for name, meta in man["files"].items():
        if sha256_bytes((path / name).read_bytes()) != meta.get("sha256"):
            raise ConfigError("sha256 differs from the manifest", file=str(path / name))
    return man


class OutputDir:
    """An output directory replaced whole and atomically. Create it before the run (validates the path and
    proves it writable), then :meth:`commit` the files; on any failure :meth:`discard` (or leaving the
    ``with`` block by an exception) removes the temporary and leaves the old directory untouched.

    Args:
        path: the directory (``--out``).
        flag: the option named in errors.
    """

    def __init__(self, path: str | Path, *, flag: str = "--out") -> None:
        self.flag = flag
        check_path_text(path, flag=flag, what="a directory path")
        self.path = Path(path)
        p = self.path
        if p.is_symlink():
            raise ConfigError(f"{str(p)!r} is a symbolic link; give a real directory", file=flag)
        if p.exists() and not p.is_dir():
            raise ConfigError(f"{str(p)!r} exists and is not a directory", file=flag)
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            clean_stale(p)
        except OSError as exc:
            raise ConfigError(f"cannot create {str(p.parent)!r}: {exc.strerror or exc}", file=flag) from None
        if p.is_symlink():  # also one a stale-temporary recovery could have put there
            raise ConfigError(f"{str(p)!r} is a symbolic link; give a real directory", file=flag)
        if p.is_dir():
            self._check_replaceable()
        self.run_id = uuid.uuid4().hex
        self.tmp = _tmp_name(p, "tmp")
        try:
            self.tmp.mkdir()
        except OSError as exc:
            raise ConfigError(f"cannot write in {str(p.parent)!r}: {exc.strerror or exc}", file=flag) from None

    def _check_replaceable(self) -> None:
        try:
            foreign = foreign_files(self.path)
        except OSError as exc:
            raise ConfigError(f"cannot read {str(self.path)!r}: {exc.strerror or exc}", file=self.flag) from None
        if foreign:
            raise ConfigError(f"{str(self.path)!r} holds files cimsim did not write ({', '.join(foreign[:3])}"
                              f"{', …' if len(foreign) > 3 else ''}); the whole directory is replaced by a run, "
                              "so give a new or empty directory", file=self.flag)

    def commit(self, files: dict[str, str | bytes]) -> list[Path]:
        """Write ``files`` (name → content) and the manifest, then swap the directory into place."""
        meta = {}
        for name, content in files.items():
            if "/" in name or name in ("", ".", "..", MANIFEST):
                raise ValueError(f"bad output file name {name!r}")
            data = content.encode("utf-8") if isinstance(content, str) else content
            with open(self.tmp / name, "xb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            meta[name] = {"bytes": len(data), "sha256": sha256_bytes(data)}
        self._seal(meta)
        return [self.path / n for n in files]

    def _seal(self, meta: dict[str, dict[str, int | str]]) -> None:
        """Write the manifest of ``meta`` (file → bytes, sha256) into :attr:`tmp`, fsync, swap into place."""
        from cimsim import __version__

        manifest = {"cimsim_version": __version__, "run_id": self.run_id,
                    "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"), "files": meta}
        with open(self.tmp / MANIFEST, "x", encoding="utf-8") as fh:
            json.dump(manifest, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        _fsync_dir(self.tmp)
        self._swap()

    def commit_tree(self) -> list[Path]:
        """Add the manifest over every file already written into :attr:`tmp` (sub-folders included), then
        swap the directory into place; returns the final paths."""
        meta = {}
        for rel in _tree(self.tmp):
            f = self.tmp / rel
            if rel == MANIFEST or f.is_symlink():
                raise ValueError(f"bad output file {rel!r}")
            data = f.read_bytes()
            meta[rel] = {"bytes": len(data), "sha256": sha256_bytes(data)}
        self._seal(meta)
        return [self.path / rel for rel in meta]

    def final(self, p: str | Path) -> Path:
        """Where a path inside :attr:`tmp` ends up after the commit."""
        try:
            return self.path / Path(p).relative_to(self.tmp)
        except ValueError:
            return Path(p)

    def _swap(self) -> None:
        if self.path.is_dir() and _exchange(self.tmp, self.path):
            pass  # self.tmp now holds the previous run
        elif self.path.is_dir():
            old = self.tmp.with_name(self.tmp.name[: -len(".tmp")] + ".old")
            os.rename(self.path, old)
            os.rename(self.tmp, self.path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(self.tmp, self.path)
        _fsync_dir(self.path.parent)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def discard(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> OutputDir:
        return self

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.discard()
