"""Reading ``.npz`` files without trusting them: every size is checked before anything is decompressed.

``numpy.load`` on an ``.npz`` trusts the archive: a member whose header declares shape (10¹³,) makes numpy
allocate it; a 1.5 MB deflate stream of zeros expands to gigabytes; encrypted or unusual zip members, bad
CRCs, truncated archives and structured dtypes surface as half a dozen exception types. Here:

* the file must be a zip (a plain ``.npy`` is named as such); members must be stored or deflated, not
  encrypted;
* each member's declared uncompressed size, the sum of them and the compression ratio are bounded before
  anything is read (deflate reaches its ~1000:1 maximum only on constant data, and real weight or image
  arrays compress by well under 20:1, so a large member beyond :data:`MAX_RATIO` is a zip bomb);
* each ``.npy`` header (read from the first bytes of the member) must declare a plain numeric dtype and a
  shape whose byte size plus the header equals the member's declared size, so no read and no allocation is
  ever larger than what the archive's directory promised;
* reading stops at the declared size; zlib, CRC and truncation errors become the caller's error class.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np

from cimsim.errors import CimsimError, short_repr

# Deflate's ceiling is 1032:1; MNIST's IDX images compress 4.7:1 with gzip (47 MB → 9.9 MB) [derived].
MAX_RATIO = 100
# Members smaller than this are not ratio-checked (tiny constant arrays compress very well and are harmless).
RATIO_FLOOR_BYTES = 16 << 20
MAX_MEMBERS = 4096
MAX_HEADER_BYTES = 10_000  # numpy's own default limit for .npy headers
_NUMERIC_KINDS = "biuf"  # bool, signed, unsigned, float; no complex, object, string, void/structured
_READ_ERRORS = (OSError, EOFError, ValueError, RuntimeError, NotImplementedError, zipfile.BadZipFile, zlib.error,
                OverflowError, KeyError, UnicodeDecodeError, MemoryError)


@dataclass(frozen=True)
class NpzMember:
    """One array of the archive as its header declares it."""

    key: str
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    header_bytes: int
    info: zipfile.ZipInfo

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


class SafeNpz:
    """An ``.npz`` opened for checked reading. Use as a context manager; ``members`` maps key → header.

    Args:
        path: the file.
        error: the CimsimError subclass to raise (WeightsError, DataError).
        max_bytes: the largest total uncompressed size accepted, bytes.
    """

    def __init__(self, path: str | Path, *, error: type[CimsimError], max_bytes: int) -> None:
        self.path = Path(path)
        self.file = str(self.path)
        self.error = error
        if self.path.is_dir():
            raise error("is a directory, not an .npz file", file=self.file)
        if not self.path.is_file():
            raise error("file not found", file=self.file, allowed="an .npz of named arrays")
        try:
            with self.path.open("rb") as fh:
                magic = fh.read(6)
        except OSError as exc:
            raise error(f"cannot read ({exc.strerror or exc})", file=self.file) from None
        if magic.startswith(b"\x93NUMPY"):
            raise error("a plain .npy array, not an .npz archive of named arrays", file=self.file,
                        allowed="an .npz written by numpy.savez")
        if not magic.startswith(b"PK"):
            raise error("not an .npz (zip) file", file=self.file, allowed="an .npz written by numpy.savez")
        try:
            self.zip = zipfile.ZipFile(self.path)
        except _READ_ERRORS as exc:
            raise error(f"not a readable .npz ({type(exc).__name__}: {short_repr(str(exc), 80)})",
                        file=self.file) from None
        try:
            self.members = self._scan(max_bytes)
        except BaseException:
            self.zip.close()
            raise

    # ------------------------------------------------------------------ checks before reading
    def _scan(self, max_bytes: int) -> dict[str, NpzMember]:
        infos = [i for i in self.zip.infolist() if not i.is_dir() and i.filename.endswith(".npy")]
        if len(infos) > MAX_MEMBERS:
            raise self.error(f"{len(infos)} arrays; at most {MAX_MEMBERS}", file=self.file)
        total = sum(i.file_size for i in infos)
        if total > max_bytes:
            raise self.error(f"arrays declare {total} bytes uncompressed; at most {max_bytes} are read",
                             file=self.file)
        members: dict[str, NpzMember] = {}
        for info in infos:
            key = info.filename[: -len(".npy")]
            if info.flag_bits & 0x1:
                raise self.error("member is encrypted", file=self.file, field=key)
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise self.error(f"member compressed with zip method {info.compress_type}", file=self.file,
                                 field=key, allowed="stored or deflate (numpy.savez / savez_compressed)")
            if info.file_size > RATIO_FLOOR_BYTES and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise self.error(f"compression ratio {info.file_size // max(info.compress_size, 1)}:1 "
                                 f"({info.file_size} bytes from {info.compress_size}) looks like a zip bomb",
                                 file=self.file, field=key, allowed=f"at most {MAX_RATIO}:1")
            members[key] = self._header(key, info)
        return members

    def _header(self, key: str, info: zipfile.ZipInfo) -> NpzMember:
        fmt = np.lib.format
        try:
            with self.zip.open(info) as fp:
                version = fmt.read_magic(fp)
                if version == (1, 0):
                    shape, fortran, dtype = fmt.read_array_header_1_0(fp, max_header_size=MAX_HEADER_BYTES)
                elif version in ((2, 0), (3, 0)):
                    shape, fortran, dtype = fmt.read_array_header_2_0(fp, max_header_size=MAX_HEADER_BYTES)
                else:
                    raise ValueError(f"unsupported .npy version {version}")
                header = fp.tell()
        except _READ_ERRORS as exc:
            raise self.error(f"unreadable .npy header ({type(exc).__name__}: {short_repr(str(exc), 80)})",
                             file=self.file, field=key) from None
        if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype is not None:
            raise self.error(f"dtype {short_repr(str(dtype), 40)} is not a plain number type", file=self.file,
                             field=key, allowed="bool, int, uint or float arrays")
        if any(not isinstance(d, int) or d < 0 for d in shape):
            raise self.error(f"bad shape {short_repr(shape, 40)} in the .npy header", file=self.file, field=key)
        member = NpzMember(key, tuple(shape), dtype, bool(fortran), header, info)
        if header + member.nbytes != info.file_size:
            raise self.error(f"header declares shape {short_repr(member.shape, 40)} of {dtype} "
                             f"({member.nbytes} bytes) but the member holds {info.file_size - header}",
                             file=self.file, field=key)
        return member

    # ------------------------------------------------------------------ reading
    def read(self, key: str) -> np.ndarray:
        """The array ``key``, reading exactly its declared bytes (CRC checked at the end)."""
        m = self.members[key]
        buf = bytearray(m.nbytes)
        view = memoryview(buf)
        try:
            with self.zip.open(m.info) as fp:
                fp.read(m.header_bytes)
                got = 0
                while got < m.nbytes:
                    n = fp.readinto(view[got:])
                    if not n:
                        break
                    got += n
                if got != m.nbytes or fp.read(1):
                    raise EOFError(f"member holds {got} data bytes, header says {m.nbytes}")
        except _READ_ERRORS as exc:
            raise self.error(f"corrupt array data ({type(exc).__name__}: {short_repr(str(exc), 80)})",
                             file=self.file, field=key) from None
        arr = np.frombuffer(buf, dtype=m.dtype)
        return arr.reshape(m.shape, order="F" if m.fortran_order else "C")

    def close(self) -> None:
        self.zip.close()

    def __enter__(self) -> SafeNpz:
        return self

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
