"""Data sets (nothing downloads): scikit-learn digits, MNIST / Fashion-MNIST, CIFAR-10 from local files.

* ``digits``: ``sklearn.datasets.load_digits()`` / 16, shape (N, 1, 8, 8), fixed stratified split
  (``test_fraction``, ``split_seed``).
* ``mnist`` / ``fashion_mnist``: ``path`` is a folder holding the four IDX files
  (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
  ``t10k-labels-idx1-ubyte``, each optionally ``.gz``) or an ``.npz`` with ``x_train, y_train, x_test, y_test``.
* ``cifar10``: only an ``.npz`` (same keys; images (N, 32, 32, 3) or (N, 3, 32, 32), uint8 0..255 or float
  in [0, 1]). The official "python version" batches are pickles, and unpickling a downloaded file can run
  arbitrary code, so cimsim refuses them and tells how to convert them once, in a trusted session.

Images are float32 in [0, 1] of shape (N, C, H, W); labels int64.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cimsim.errors import DataError
from cimsim.spec.workload import DatasetSpec

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

CIFAR_CONVERT_HINT = ("convert the python batches once with: python -c \"import pickle,numpy as np;"
                      "b=[pickle.load(open(f'data_batch_{i}','rb'),encoding='bytes') for i in range(1,6)];"
                      "t=pickle.load(open('test_batch','rb'),encoding='bytes');"
                      "np.savez('cifar10.npz',x_train=np.concatenate([d[b'data'] for d in b]).reshape(-1,3,32,32),"
                      "y_train=np.concatenate([d[b'labels'] for d in b]),x_test=t[b'data'].reshape(-1,3,32,32),"
                      "y_test=np.array(t[b'labels']))\"")


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train/test images float32 in [0, 1], (N, C, H, W); labels int64."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str = ""

    @property
    def num_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_test.shape[1:])  # type: ignore[return-value]


def quantize_inputs(x01: np.ndarray, bits: int) -> np.ndarray:
    """Images in [0, 1] -> unsigned ints in [0, 2**bits - 1], round to nearest (uint8, int64 for bits > 8)."""
    if not 1 <= bits <= 16:
        raise ValueError(f"bits must be 1..16, got {bits}")
    levels = (1 << bits) - 1
    q = np.rint(np.clip(np.asarray(x01, dtype=np.float64), 0.0, 1.0) * levels)
    return q.astype(np.uint8 if bits <= 8 else np.int64)


def digits_dataset(test_fraction: float = 0.3, split_seed: int = 0) -> Dataset:
    """scikit-learn's bundled 8x8 digits, /16, fixed stratified split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]
    y = d.target.astype(np.int64)
    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=test_fraction, random_state=split_seed, stratify=y)
    tr, te = np.sort(tr), np.sort(te)
    return Dataset(x[tr], y[tr], x[te], y[te], name="digits")


def read_idx(path: Path | str) -> np.ndarray:
    """Read one IDX file (optionally gzip-compressed). Raises DataError naming the file when malformed."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read IDX file ({exc})", file=str(path)) from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError("not an IDX file (bad magic number)", file=str(path),
                        allowed="IDX magic 0x0000<type><ndim>")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError("truncated IDX header", file=str(path))
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    count = int(np.prod(dims)) if dims else 1
    if len(raw) - header != count * dtype.itemsize:
        raise DataError(f"IDX payload has {len(raw) - header} bytes, header says {dims} x {dtype.itemsize}",
                        file=str(path))
    return np.frombuffer(raw, dtype=dtype, count=count, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def write_idx(path: Path | str, arr: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (gzip-compressed when the name ends in .gz). Used by tests."""
    arr = np.asarray(arr, dtype=np.uint8)
    data = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape) + arr.tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


def _find_idx(folder: Path, stem: str) -> Path:
    for cand in (folder / stem, folder / f"{stem}.gz", folder / stem.replace("-idx", ".idx"),
                 folder / f"{stem.replace('-idx', '.idx')}.gz"):
        if cand.is_file():
            return cand
    raise DataError("IDX file not found", file=str(folder / stem), allowed=f"{stem} or {stem}.gz")


def _to_nchw01(x: np.ndarray, file: str, key: str, channels: int) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim == 3 and channels == 1:
        x = x[:, None]
    if x.ndim != 4:
        raise DataError(f"images must be (N, H, W) or (N, C, H, W), got {x.shape}", file=file, field=key)
    if x.shape[1] != channels and x.shape[-1] == channels:
        x = x.transpose(0, 3, 1, 2)
    if x.shape[1] != channels:
        raise DataError(f"images have shape {x.shape}, expected {channels} channels", file=file, field=key)
    if np.issubdtype(x.dtype, np.integer):
        x = x.astype(np.float32) / 255.0
    else:
        x = x.astype(np.float32)
        if x.size and (np.nanmin(x) < 0.0 or np.nanmax(x) > 1.0 or np.isnan(x).any()):
            raise DataError("float images must lie in [0, 1]", file=file, field=key)
    return np.ascontiguousarray(x)


def _labels(y: np.ndarray, n: int, file: str, key: str) -> np.ndarray:
    y = np.asarray(y).reshape(-1)
    if y.shape[0] != n:
        raise DataError(f"{y.shape[0]} labels for {n} images", file=file, field=key)
    if not np.issubdtype(y.dtype, np.integer) or (y.size and y.min() < 0):
        raise DataError("labels must be non-negative integers", file=file, field=key)
    return y.astype(np.int64)


def load_npz_dataset(path: Path | str, channels: int, name: str = "") -> Dataset:
    """An .npz with ``x_train, y_train, x_test, y_test`` (loaded without pickle)."""
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise DataError("data file not found", file=file, allowed="an .npz with x_train, y_train, x_test, y_test")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in IDX_FILES if k not in z.files]
            if missing:
                raise DataError(f"missing arrays {missing}", file=file, allowed="x_train, y_train, x_test, y_test")
            arrs = {k: z[k] for k in IDX_FILES}
    except DataError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"cannot read .npz ({type(exc).__name__}: {exc})", file=file) from None
    xtr = _to_nchw01(arrs["x_train"], file, "x_train", channels)
    xte = _to_nchw01(arrs["x_test"], file, "x_test", channels)
    return Dataset(xtr, _labels(arrs["y_train"], len(xtr), file, "y_train"),
                   xte, _labels(arrs["y_test"], len(xte), file, "y_test"), name=name)


def load_idx_folder(folder: Path | str, name: str = "") -> Dataset:
    """MNIST-style folder of the four IDX files (optionally .gz)."""
    folder = Path(folder)
    arrs = {k: read_idx(_find_idx(folder, stem)) for k, stem in IDX_FILES.items()}
    out = {}
    for k in ("x_train", "x_test"):
        f = str(_find_idx(folder, IDX_FILES[k]))
        out[k] = _to_nchw01(arrs[k], f, k, 1)
        yk = "y" + k[1:]
        out[yk] = _labels(arrs[yk], len(out[k]), str(_find_idx(folder, IDX_FILES[yk])), yk)
    return Dataset(out["x_train"], out["y_train"], out["x_test"], out["y_test"], name=name)


def load_dataset(spec: DatasetSpec, base_dir: Path | str = ".") -> Dataset:
    """Load the data set a workload names. Paths are relative to ``base_dir`` (the YAML's folder)."""
    if spec.name == "digits":
        return digits_dataset(spec.test_fraction, spec.split_seed)
    if spec.path is None:
        raise DataError(f"data set {spec.name!r} needs a local path (nothing is downloaded)", field="dataset.path",
                        allowed="a folder of IDX files or an .npz" if spec.name != "cifar10" else "an .npz")
    path = Path(base_dir) / spec.path
    if spec.name in ("mnist", "fashion_mnist"):
        if path.is_dir():
            return load_idx_folder(path, name=spec.name)
        return load_npz_dataset(path, channels=1, name=spec.name)
    # cifar10
    if path.is_dir() or path.name.startswith(("data_batch", "test_batch")):
        raise DataError("CIFAR-10 python batches are pickles and are not loaded (unpickling can run code); "
                        + CIFAR_CONVERT_HINT, file=str(path), allowed="an .npz")
    return load_npz_dataset(path, channels=3, name=spec.name)
