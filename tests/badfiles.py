"""Builders of hostile input files for the reliability and fuzz tests (no network, no large temporaries).

Zip archives are assembled byte by byte where zipfile cannot write the case (encrypted flags, unknown
methods, a 1.5 MB deflate bomb declaring 1.6 GB), so each case is exactly the one named in issue 10.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np


def npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=False)
    return buf.getvalue()


def npy_header(shape: tuple[int, ...], dtype: str | np.dtype = "<f8") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                              "fortran_order": False, "shape": shape})
    return buf.getvalue()


def raw_zip(members: list[dict]) -> bytes:
    """A zip from members {name, data (stored bytes as they appear in the archive), method, crc, size, flags}.

    ``size`` is the declared uncompressed size; ``crc`` the declared CRC-32 (computed from ``plain`` if given).
    """
    out = bytearray()
    central = bytearray()
    for m in members:
        name = m["name"].encode()
        data = m["data"]
        method, flags = m.get("method", 0), m.get("flags", 0)
        size = m.get("size", len(data))
        crc = m.get("crc", zlib.crc32(m.get("plain", data)))
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, method, 0, 0x21, crc, len(data), size,
                           len(name), 0) + name + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, flags, method, 0, 0x21, crc, len(data),
                               size, len(name), 0, 0, 0, 0, 0, offset) + name
    start = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), start, 0)
    return bytes(out)


def deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def member(name: str, plain: bytes, *, compress: bool = True, **kw) -> dict:
    return {"name": name, "data": deflate(plain) if compress else plain, "method": 8 if compress else 0,
            "plain": plain, **kw}


def npz_bytes(arrays: dict[str, np.ndarray], *, compress: bool = False) -> bytes:
    return raw_zip([member(f"{k}.npy", npy_bytes(v), compress=compress) for k, v in arrays.items()])


def zip_bomb(key: str, declared_bytes: int = 1_600_000_000, *, shape: tuple[int, ...] | None = None,
             dtype: str = "|u1") -> bytes:
    """One deflated member of ``declared_bytes`` (an .npy header, then zeros) in about 1/1000 of the size:
    the stream is the header, then one 16 MiB zero block compressed once with a full flush and repeated."""
    header = npy_header(shape if shape is not None else (declared_bytes,), dtype)
    chunk = 16 << 20
    n_blocks, tail = divmod(declared_bytes, chunk)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(header) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(bytes(chunk)) + c.flush(zlib.Z_FULL_FLUSH)
    end = c.compress(bytes(tail)) + c.flush(zlib.Z_FINISH)
    data = head + block * n_blocks + end
    return raw_zip([{"name": f"{key}.npy", "data": data, "method": 8, "size": len(header) + declared_bytes,
                     "crc": 0}])


def alias_bomb(levels: int = 9, fan: int = 9) -> str:
    """The "billion laughs" YAML: ``fan ** levels`` strings from a few KB of text (≈ 9⁹ = 3.9·10⁸)."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * fan) + "]")
    lines.append(f"crossbar: {{rows: *a{levels - 1}}}")
    return "\n".join(lines) + "\n"


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data)
    else:
        path.write_bytes(data)
    return path
