"""Issue 10 reproducers: every crash and nonsense case ends in a one-line CimsimError naming the file (or the
flag) and the field; bombs are refused within bounded memory; outputs survive kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from pydantic import BaseModel, Field

from cimsim.errors import MAX_LINE, ConfigError, DataError, NumericalError, ResourceError, WeightsError
from cimsim.functional import metrics as M
from cimsim.network.checks import check_data_against_network, check_finite, network_outputs
from cimsim.network.datasets import Dataset, load_dataset, load_npz_dataset, read_idx
from cimsim.network.weights import load_network
from cimsim.spec.loader import apply_overrides, load_arch, load_workload, validate
from cimsim.spec.workload import DatasetSpec, NetworkSpec

from . import badfiles as B
from .conftest import ARCH, MLP, ROOT
from .helpers import cli, one_line_exit_2

WEIGHTS = MLP.parent / "digits_mlp.npz"
BOMB_MEMORY = 200 * 2**20  # the bound: refused within 200 MB




def peak_bytes(fn) -> tuple[int, BaseException | None]:
    """Peak traced allocation while ``fn`` runs (numpy and zlib buffers included), and what it raised."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    err = None
    try:
        fn()
    except BaseException as exc:  # noqa: BLE001  (returned for the caller to check)
        err = exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, err


# ----------------------------------------------------------------------------------------------- YAML
BAD_YAML = [
    (b"crossbar:\n  rows: 128\n  name: \xff\xfe\n", ("bad.yaml", "not UTF-8", "0xff")),
    (("x: " + "[" * 5000 + "]" * 5000 + "\n").encode(), ("bad.yaml", "nested deeper")),
    (b"crossbar:\n  rows: 64\n  rows: 128\n", ("bad.yaml", "line 3", "duplicate key 'rows'", "line 2")),
    (b"", ("bad.yaml", "empty")),
    (b"# only a comment\n", ("bad.yaml", "empty")),
    (b"a: &a [*a]\n", ("bad.yaml", "recursive alias")),
    (b"PK\x03\x04rest", ("bad.yaml", "not a YAML file")),
    (b"\x93NUMPY", ("bad.yaml", "not a YAML file")),
    (b"- 1\n", ("bad.yaml", "mapping")),
    (b"? [1, 2]\n: 3\n", ("bad.yaml",)),
]


@pytest.mark.parametrize(("content", "needles"), BAD_YAML)
def test_bad_yaml_is_one_line(tmp_path, capsys, content, needles):
    bad = B.write(tmp_path / "bad.yaml", content)
    one_line_exit_2(capsys, "describe", str(bad), needles=needles)


def test_describe_of_a_weights_file_is_one_line(capsys):
    one_line_exit_2(capsys, "describe", str(WEIGHTS), needles=("digits_mlp.npz", "not a YAML"))


@pytest.mark.parametrize("content", [c for c, _ in BAD_YAML] + [
    b"base: &b {rows: 64, cols: 64}\ncrossbar: {<<: *b, rows: 128}\nra: 6e-12\nn: 1_000\nt: [1, 2.5, .inf, null]\n"])
def test_libyaml_and_python_loaders_agree(content):
    """libyaml (the fast path) and the pure-Python loader (PyYAML without libyaml) read the same values and
    refuse the same files."""
    from cimsim.spec import yaml_io

    text = content.decode("utf-8", errors="replace")

    def outcome(fast: bool):
        try:
            if fast:
                return yaml_io.loads(text, file="f.yaml")
            return yaml.load(text, Loader=yaml_io.SafeLimitedLoader)  # noqa: S506
        except (ConfigError, yaml.YAMLError):
            return "refused"

    assert outcome(True) == outcome(False)


def test_libyaml_and_python_loaders_read_every_shipped_config_alike():
    from cimsim.spec import yaml_io

    shipped = sorted(ROOT.glob("*/*.yaml"))
    assert len(shipped) >= 15
    for path in shipped:
        body = path.read_text()
        assert yaml_io.loads(body, file=str(path)) == yaml.load(body, Loader=yaml_io.SafeLimitedLoader)  # noqa: S506


def test_yaml_merge_keys_still_work_and_1e_floats_are_numbers(tmp_path):
    path = B.write(tmp_path / "a.yaml", "base: &b {rows: 64, cols: 64}\ncrossbar: {<<: *b, rows: 128}\n"
                                        "mtj: {storage: {ra_ohm_m2: 6e-12}}\n".replace("base: &b", "x-base: &b"))
    # an unknown top-level key is still an error, but only after the merge and the float parsed fine
    with pytest.raises(ConfigError, match="x-base.*unknown key"):
        load_arch(path)
    path.write_text("crossbar: &b {rows: 64, cols: 64}\nchip: {tiles: 8}\nmtj: {storage: {ra_ohm_m2: 6e-12}}\n")
    spec = load_arch(path)
    assert spec.crossbar.rows == 64 and spec.mtj.storage.ra_ohm_m2 == 6e-12


def test_alias_bomb_refused_within_limits(tmp_path):
    bomb = B.write(tmp_path / "bomb.yaml", B.alias_bomb(levels=12, fan=12))  # 12¹² ≈ 9·10¹² strings
    assert bomb.stat().st_size < 3 * 1024
    peak, err = peak_bytes(lambda: load_arch(bomb))
    assert isinstance(err, ConfigError) and "expands" in str(err) and len(str(err)) <= MAX_LINE
    assert peak < BOMB_MEMORY / 10, peak


def test_alias_bomb_through_the_cli_bounded_rss(tmp_path):
    """The real thing: a fresh process refuses it with one line; its peak RSS stays under 200 MB.

    VmHWM (/proc/self/status) is the peak of this process image; getrusage's ru_maxrss would not do, because
    Linux carries it across fork and exec from the (large) pytest parent."""
    if not Path("/proc/self/status").is_file():
        pytest.skip("needs /proc (Linux)")
    bomb = B.write(tmp_path / "bomb.yaml", B.alias_bomb())
    code = textwrap.dedent(f"""
        from cimsim.cli import main
        try:
            main(["describe", {str(bomb)!r}])
        except SystemExit as e:
            hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
            print(e.code, int(hwm) * 1024)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    status, rss = proc.stdout.split()
    assert status == "2" and int(rss) < BOMB_MEMORY, proc
    assert len(proc.stderr.strip().splitlines()) == 1 and "expands" in proc.stderr


def test_huge_value_is_never_embedded_in_the_message(tmp_path, capsys):
    bad = B.write(tmp_path / "w.yaml", "crossbar:\n  rows: " + "9" * 100_000 + "x\n")
    line = one_line_exit_2(capsys, "describe", str(bad), needles=("crossbar.rows",))
    assert len(line) <= 300


# ----------------------------------------------------------------------------------------------- --set
@pytest.mark.parametrize(("sets", "needles"), [
    (("crossbar.rows_activ=8",), ("--set crossbar.rows_activ=8", "did you mean 'rows_active'")),
    (("crosbar.rows=8",), ("--set crosbar.rows=8", "did you mean 'crossbar'")),
    (("crossbar.rows_active=7",), ("--set crossbar.rows_active=7", "multiple of rows_active")),
    (("mc_passes=0",), ("--set mc_passes=0", "mc_passes", "greater than or equal to 1")),
    (("ood_samples=1e12",), ("--set ood_samples=1e12", "ood_samples", "less than or equal")),
    (("network.layers.1.out_features=1000000000000",), ("network.layers[1].out_features", "less than")),
    (("network.layers.1.out_featurs=3",), ("did you mean 'out_features'",)),
    (("network.layers.9.out_features=3",), ("network.layers.9", "0..2")),
    (("network.input_shape=[-1, -8, 8]",), ("--set network.input_shape", "input_shape[0]", "greater than")),
    (("dataset.split_seed=4294967296",), ("dataset.split_seed", "4294967295")),
    (("dataset.test_fraction=1e-9",), ("dataset.test_fraction", "0.01")),
    (("dropout.p=1e-300",), ("dropout.p", "0.0001")),
    (("crossbar.rows.x=1",), ("'crossbar.rows' is a value",)),
    (("nonsense",), ("--set", "dotted.path=value")),
])
def test_set_errors_name_the_override(capsys, sets, needles):
    args = [a for s in sets for a in ("--set", s)]
    one_line_exit_2(capsys, "run", "--hardware-only", *args, needles=needles)


def test_conv_padding_and_size_bounds_refused_before_allocating(tmp_path):
    cnn = ROOT / "workloads" / "digits_cnn.yaml"
    with pytest.raises(ConfigError, match=r"--set network.layers.0.padding=1000000.*padding.*less than"):
        load_workload(cnn, [("network.layers.0.padding", 1000000)])
    with pytest.raises(ConfigError, match="padding 3 must be smaller than kernel_size 3"):
        load_workload(cnn, [("network.layers.0.padding", 3)])
    with pytest.raises(ConfigError, match="at most 134217728 per layer"):
        load_workload(MLP, [("network.layers.1.in_features", 1 << 24), ("network.layers.1.out_features", 1 << 16)])


def test_wrong_kind_of_file_is_recognised(capsys):
    one_line_exit_2(capsys, "describe", str(MLP), needles=("digits_mlp.yaml", "looks like a workload file",
                                                           "second argument"))
    one_line_exit_2(capsys, "run", str(ARCH), str(ARCH), needles=("spindrop.yaml", "looks like an architecture file",
                                                                  "first argument"))


# A small discriminated union, shaped like the lead's component sections, to pin the union-aware walk.
class _Mlsa(BaseModel):
    model_config = {"extra": "forbid"}
    model: str = Field(default="mlsa", pattern="^mlsa$")
    levels: int = 33


class _Sar(BaseModel):
    model_config = {"extra": "forbid"}
    model: str = Field(default="sar", pattern="^sar$")
    bits: int = 5


class _Chip(BaseModel):
    model_config = {"extra": "forbid"}
    periphery: _Mlsa | _Sar = Field(default_factory=_Mlsa, discriminator=None)
    rows: int = 8


def _union_chip():
    from typing import Annotated, Literal

    class Mlsa(BaseModel):
        model_config = {"extra": "forbid"}
        model: Literal["mlsa"] = "mlsa"
        levels: int = 33

    class Sar(BaseModel):
        model_config = {"extra": "forbid"}
        model: Literal["sar"] = "sar"
        bits: int = 5

    class Chip(BaseModel):
        model_config = {"extra": "forbid"}
        periphery: Annotated[Mlsa | Sar, Field(discriminator="model")] = Field(default_factory=Mlsa)
        blocks: list[Annotated[Mlsa | Sar, Field(discriminator="model")]] = []
        rows: int = 8

    return Chip


def test_set_walks_discriminated_unions():
    Chip = _union_chip()
    # the default member (mlsa) decides which keys exist
    assert apply_overrides({}, [("periphery.levels", 17)], Chip) == {"periphery": {"levels": 17}}
    with pytest.raises(ConfigError, match="unknown key 'bits'.*allowed: levels, model"):
        apply_overrides({}, [("periphery.bits", 4)], Chip)
    # the member named in the data decides
    assert apply_overrides({"periphery": {"model": "sar"}}, [("periphery.bits", 4)], Chip)["periphery"]["bits"] == 4
    with pytest.raises(ConfigError, match="unknown key 'levels'"):
        apply_overrides({"periphery": {"model": "sar"}}, [("periphery.levels", 4)], Chip)
    # --set of the tag itself: the new member's fields apply, the old member's keys are dropped
    data = apply_overrides({"periphery": {"model": "mlsa", "levels": 9}},
                           [("periphery.model", "sar"), ("periphery.bits", 3)], Chip)
    assert data == {"periphery": {"model": "sar", "bits": 3}}
    assert validate(Chip, data, file="x").periphery.bits == 3
    # list items of a union, by index
    data = apply_overrides({"blocks": [{"model": "sar"}, {"model": "mlsa"}]}, [("blocks.1.levels", 5)], Chip)
    assert data["blocks"][1] == {"model": "mlsa", "levels": 5}
    with pytest.raises(ConfigError, match="did you mean 'bits'"):
        apply_overrides({"blocks": [{"model": "sar"}]}, [("blocks.0.bitz", 5)], Chip)
    # validation errors inside a union member suggest keys of that member and blame the override
    with pytest.raises(ConfigError, match=r"--set periphery.bitz=1: periphery.bitz: unknown key; did you mean 'bits'"):
        validate(Chip, {"periphery": {"model": "sar", "bitz": 1}}, file="a.yaml", overrides=[("periphery.bitz", 1)])
    with pytest.raises(ConfigError, match=r"^a.yaml: blocks\[0\].levls: unknown key; did you mean 'levels'"):
        validate(Chip, {"blocks": [{"model": "mlsa", "levls": 1}]}, file="a.yaml")


# ----------------------------------------------------------------------------------------------- weights
def _weights_case(tmp_path: Path, data: bytes) -> NetworkSpec:
    B.write(tmp_path / "w.npz", data)
    wl = load_workload(MLP)
    return wl.network.model_copy(update={"weights": "w.npz"})


def _mlp_arrays() -> dict[str, np.ndarray]:
    with np.load(WEIGHTS, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _patched(arrays: dict[str, np.ndarray], key: str, **member_kw) -> bytes:
    members = []
    for k, v in arrays.items():
        kw = member_kw if k == key else {}
        members.append(B.member(f"{k}.npy", B.npy_bytes(v), compress=kw.pop("compress", False), **kw))
    return B.raw_zip(members)


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]


@pytest.mark.parametrize("case", ["encrypted", "bzip2", "method99", "corrupt_zlib", "plain_npy", "shape_1e13",
                                  "truncated", "bad_crc", "structured", "not_zip", "nan_scale", "huge_scale",
                                  "inf_bias", "nan_threshold", "float_weights_half"])
def test_weights_failure_modes_are_weights_errors(tmp_path, case):
    a = _mlp_arrays()
    if case == "encrypted":
        data = _patched(a, "fc1.weight", flags=0x1)
    elif case == "bzip2":
        data = _patched(a, "fc1.weight", method=12)
    elif case == "method99":
        data = _patched(a, "fc1.weight", method=99)
    elif case == "corrupt_zlib":
        arr = B.npy_bytes(a["fc2.weight"])
        comp = B.deflate(arr)
        data = B.raw_zip([B.member(f"{k}.npy", B.npy_bytes(v), compress=False) for k, v in a.items()
                          if k != "fc2.weight"] + [{"name": "fc2.weight.npy", "data": _flip(comp, len(comp) // 2),
                                                    "method": 8, "plain": arr}])
    elif case == "plain_npy":
        data = B.npy_bytes(a["fc1.weight"])
    elif case == "shape_1e13":
        data = B.raw_zip([B.member(f"{k}.npy", B.npy_bytes(v), compress=False) for k, v in a.items()
                          if k != "fc1.weight"] + [B.member("fc1.weight.npy", B.npy_header((10**13,)) + bytes(16),
                                                            compress=False)])
    elif case == "truncated":
        full = B.npz_bytes(a)
        data = full[: len(full) // 2]
    elif case == "bad_crc":
        full = _patched(a, "fc3.bias")
        data = _flip(full, full.index(b"fc3.bias.npy") + 200)
    elif case == "structured":
        a["fc3.bias"] = np.zeros(10, dtype=[("x", "<f8")])
        data = B.npz_bytes(a)
    elif case == "not_zip":
        data = b"hello world, not a zip"
    elif case == "nan_scale":
        a["fc3.scale"] = a["fc3.scale"].copy()
        a["fc3.scale"][3] = np.nan
        data = B.npz_bytes(a)
    elif case == "huge_scale":
        a["fc3.scale"] = np.full(10, -1e308)
        data = B.npz_bytes(a)
    elif case == "inf_bias":
        a["fc3.bias"] = np.full(10, np.inf)
        data = B.npz_bytes(a)
    elif case == "nan_threshold":
        a["fc1.threshold"] = np.full_like(a["fc1.threshold"], np.nan)
        data = B.npz_bytes(a)
    else:  # float weights with a value that is not ±1
        a["fc2.weight"] = a["fc2.weight"].astype(np.float64) * 0.5
        data = B.npz_bytes(a)
    spec = _weights_case(tmp_path, data)
    with pytest.raises(WeightsError) as info:
        load_network(spec, tmp_path)
    line = info.value.one_line()
    assert "w.npz" in line and len(line) <= MAX_LINE


def test_weights_zip_bomb_refused_within_limits(tmp_path):
    a = _mlp_arrays()
    bomb = B.zip_bomb("fc1.weight")  # 1.5 MB declaring 1.6 GB
    assert len(bomb) < 1.6e6
    # splice the bomb member into an otherwise valid archive
    zb = zipfile.ZipFile(__import__("io").BytesIO(bomb)).infolist()[0]
    raw = bomb[zb.header_offset + 30 + len("fc1.weight.npy"): zb.header_offset + 30 + len("fc1.weight.npy")
               + zb.compress_size]
    members = [B.member(f"{k}.npy", B.npy_bytes(v), compress=False) for k, v in a.items() if k != "fc1.weight"]
    members.append({"name": "fc1.weight.npy", "data": raw, "method": 8, "size": zb.file_size, "crc": 0})
    spec = _weights_case(tmp_path, B.raw_zip(members))
    peak, err = peak_bytes(lambda: load_network(spec, tmp_path))
    assert isinstance(err, WeightsError) and "fc1.weight" in str(err), err
    assert peak < BOMB_MEMORY, peak


def test_data_zip_bomb_refused_within_limits(tmp_path):
    B.write(tmp_path / "bomb.npz", B.zip_bomb("x_train"))
    peak, err = peak_bytes(lambda: load_npz_dataset(tmp_path / "bomb.npz", channels=1))
    assert isinstance(err, DataError) and "zip bomb" in str(err), err
    assert peak < BOMB_MEMORY, peak


def test_gzip_bomb_idx_refused_within_limits(tmp_path):
    import gzip

    # 4-byte IDX header + 400 MB of zeros, gzip ≈ 400 KB
    header = bytes([0, 0, 8, 1]) + (400_000_000).to_bytes(4, "big")
    c = __import__("zlib").compressobj(9, 8, 31)
    blob = c.compress(header) + c.compress(bytes(16 << 20)) * 1 + c.flush()
    assert gzip.decompress(blob)[:4] == header[:4]
    # grow the stream without compressing 400 MB: a full-flush block of zeros repeated
    c = __import__("zlib").compressobj(9, 8, -15)
    head = c.compress(header) + c.flush(2)
    block = c.compress(bytes(16 << 20)) + c.flush(3)
    body = head + block * 24 + c.flush()
    gz = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + body + (0).to_bytes(4, "little") + (0).to_bytes(4, "little")
    path = B.write(tmp_path / "train-labels-idx1-ubyte.gz", gz)
    peak, err = peak_bytes(lambda: read_idx(path))
    assert isinstance(err, DataError) and "gzip bomb" in str(err), err
    assert peak < BOMB_MEMORY, peak


def test_idx_dimension_overflow_is_data_error(tmp_path):
    # three dims of 2^32-1: the product overflows int64 in np.prod; must be a clean DataError
    path = B.write(tmp_path / "t10k-images-idx3-ubyte", bytes([0, 0, 8, 3]) + b"\xff\xff\xff\xff" * 3 + bytes(64))
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.*header says"):
        read_idx(path)


@pytest.mark.parametrize("case", ["plain_npy", "structured", "shape_1e13", "truncated", "bool_labels"])
def test_data_npz_failure_modes_are_data_errors(tmp_path, case):
    x = np.zeros((4, 8, 8), np.uint8)
    arrays = {"x_train": x, "y_train": np.arange(4), "x_test": x, "y_test": np.arange(4)}
    if case == "plain_npy":
        data = B.npy_bytes(x)
    elif case == "structured":
        arrays["x_test"] = np.zeros(4, dtype=[("a", "u1"), ("b", "f4")])
        data = B.npz_bytes(arrays)
    elif case == "shape_1e13":
        data = B.raw_zip([B.member(f"{k}.npy", B.npy_bytes(v)) for k, v in arrays.items() if k != "x_test"]
                         + [B.member("x_test.npy", B.npy_header((10**13, 8, 8), "|u1") + bytes(64))])
    elif case == "truncated":
        full = B.npz_bytes(arrays)
        data = full[:-30]
    else:
        arrays["y_test"] = np.ones(4, bool)
        data = B.npz_bytes(arrays)
    B.write(tmp_path / "d.npz", data)
    with pytest.raises(DataError) as info:
        load_dataset(DatasetSpec(name="mnist", path="d.npz"), tmp_path)
    assert "d.npz" in info.value.one_line()


def test_digits_split_errors_are_data_errors():
    from cimsim.network.datasets import digits_dataset

    with pytest.raises(DataError, match="digits.*test_fraction"):
        digits_dataset(1e-9, 0)
    with pytest.raises(DataError, match="digits"):
        digits_dataset(0.3, 2**32)


# ----------------------------------------------------------------------------------------------- data vs network
def _ds(x_test, y_test, x_train=None, y_train=None) -> Dataset:
    return Dataset(x_train if x_train is not None else x_test, y_train if y_train is not None else y_test,
                   x_test, y_test, name="d.npz")


def test_data_checked_against_network():
    net = load_workload(MLP).network
    assert network_outputs(net) == 10
    ok = _ds(np.zeros((3, 1, 8, 8), np.float32), np.array([0, 9, 3]))
    check_data_against_network(ok, net)
    with pytest.raises(DataError, match=r"d.npz: network.input_shape: images are 1×28×28.*takes 1×8×8"):
        check_data_against_network(_ds(np.zeros((3, 1, 28, 28), np.float32), np.zeros(3, np.int64)), net)
    with pytest.raises(DataError, match="x_test: the test set is empty"):
        check_data_against_network(_ds(np.zeros((0, 1, 8, 8), np.float32), np.zeros(0, np.int64)), net)
    with pytest.raises(DataError, match="y_test: label 50 but the network has 10 outputs"):
        check_data_against_network(_ds(np.zeros((2, 1, 8, 8), np.float32), np.array([1, 50])), net)
    with pytest.raises(DataError, match="y_train: label 12"):
        check_data_against_network(_ds(np.zeros((2, 1, 8, 8), np.float32), np.array([1, 2]),
                                       y_train=np.array([0, 12])), net)


def test_non_finite_values_and_metrics():
    with pytest.raises(NumericalError, match="logits.*not finite.*index \\(1,\\)"):
        check_finite(np.array([0.0, np.inf]), "logits")
    with pytest.raises(NumericalError, match="NaN or inf"):
        M.softmax(np.array([[1.0, np.nan]]))
    with pytest.raises(NumericalError, match="NaN or inf"):
        M.softmax(np.array([[np.inf, 1.0]]))
    with pytest.raises(NumericalError):
        M.softmax(np.array([[-np.inf, -np.inf]]))
    np.testing.assert_allclose(M.softmax(np.array([[1e308, -1e308]])), [[1.0, 0.0]])  # huge but finite spread
    probs = np.full((2, 3, 4), 0.25)
    probs[0, 1, 2] = np.nan
    with pytest.raises(NumericalError):
        M.nll(probs, np.array([0, 1, 2]))
    with pytest.raises(NumericalError):
        M.ece(probs, np.array([0, 1, 2]))
    good = np.full((2, 3, 4), 0.25)
    with pytest.raises(DataError, match="labels must be integers in 0..3"):
        M.nll(good, np.array([0, 1, 50]))
    with pytest.raises(DataError, match="empty"):
        M.ece(np.zeros((2, 0, 4)), np.zeros(0, np.int64))


# ----------------------------------------------------------------------------------------------- limits
def test_memory_estimate_and_check(monkeypatch):
    from cimsim import limits

    arch, wl = load_arch(ARCH), load_workload(MLP)
    small = limits.estimate_run_bytes(arch, wl, inputs=540, passes=20)
    assert 0 < small["total"] < 2**30
    big = limits.estimate_run_bytes(arch, wl, inputs=540, passes=1000)
    assert big["test-set logits"] > 40 * small["test-set logits"]
    monkeypatch.setattr(limits, "available_memory_bytes", lambda: 100 * 2**20)
    with pytest.raises(ResourceError, match="needs about .* GiB.*lower --limit"):
        limits.check_run_memory(arch, wl.model_copy(update={"ood_samples": 100_000}), inputs=540, passes=1000)
    assert limits.check_run_memory(arch, wl, inputs=10, passes=2, ood=False, corruptions=False)["total"] > 0
    monkeypatch.setattr(limits, "available_memory_bytes", lambda: None)
    limits.check_memory(10**18, "anything")  # unknown memory: no check


def test_available_memory_is_plausible():
    from cimsim.limits import available_memory_bytes

    avail = available_memory_bytes()
    assert avail is None or 2**24 < avail < 2**50


def test_memory_estimate_bounds_the_measured_peak():
    """The estimate is an upper bound of the traced peak of a real functional run, within a factor 32.

    The estimate counts a whole chunk's intermediates as alive at once (78.6 of its 80.2 MB here), while the
    executor runs a chunk as 4 parts on at most ``threads`` threads: with 2 threads the traced peak is 4.9–5.1 MB
    (ratio ≈ 16), with 1 thread 3.1 MB (ratio ≈ 26; the ratio-20 bound this test had failed there). The run is
    pinned to 2 threads so the bound does not depend on the machine's CPU count.

    What the estimate covers is the run's own data (weights, inputs, masks, sums, results), not the interpreter:
    a first run in a fresh process also imports modules and fills one-time caches (the switching table, the data
    set), which tracemalloc counts too and which depend on what ran before in the session. A small warm-up run
    pays those first, so the traced peak is the run's data alone, whatever the test order."""
    from cimsim.limits import estimate_run_bytes
    from cimsim.simulate import Options, simulate

    arch, wl = load_arch(ARCH), load_workload(MLP)
    opts = Options(passes=8, limit=120, timing_inputs=4, ood=True, corruptions=False, threads=2)
    wl = wl.model_copy(update={"ood": ["uniform_noise"], "ood_samples": 200})
    est = estimate_run_bytes(arch, wl, inputs=120, passes=8, corruptions=False)["total"]
    simulate(arch, wl, Options(passes=1, limit=2, timing_inputs=1, ood=True, corruptions=False), base_dir=MLP.parent)
    peak, err = peak_bytes(lambda: simulate(arch, wl, opts, base_dir=MLP.parent))
    assert err is None, err
    assert peak <= est <= 32 * peak, (peak, est)


# ----------------------------------------------------------------------------------------------- outputs
def test_out_and_trace_paths_checked_before_running(tmp_path, capsys, monkeypatch):
    import cimsim.simulate

    def boom(*a, **k):
        raise AssertionError("simulate must not run")

    monkeypatch.setattr(cimsim.simulate, "simulate", boom)
    B.write(tmp_path / "file", "x")
    one_line_exit_2(capsys, "run", "--out", "", needles=("--out", "empty path"))
    one_line_exit_2(capsys, "run", "--trace", "", needles=("--trace", "empty path"))
    one_line_exit_2(capsys, "run", "--out", str(tmp_path / "file" / "sub"), needles=("--out",))
    one_line_exit_2(capsys, "run", "--trace", str(tmp_path), needles=("--trace", "is a directory"))
    user = tmp_path / "mine"
    B.write(user / "thesis.tex", "precious")
    one_line_exit_2(capsys, "run", "--out", str(user), needles=("--out", "thesis.tex", "did not write"))
    assert (user / "thesis.tex").read_text() == "precious"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_out_replaces_the_whole_directory_with_a_manifest(tmp_path, capsys):
    from cimsim.atomic_io import verify_output_dir

    out = tmp_path / "run"
    code, _, err = cli(capsys, "run", "--limit", "12", "--passes", "2", "--no-ood", "--no-corruptions",
                       "--out", str(out), "--trace", str(out / "trace.json"))
    assert code == 0, err
    first = verify_output_dir(out)
    assert {"result.json", "per_sample.csv", "report.txt", "trace.json"} <= set(first["files"])
    code, _, err = cli(capsys, "run", "--hardware-only", "--out", str(out))
    assert code == 0, err
    second = verify_output_dir(out)  # exactly the manifest's files: the stale per_sample.csv and trace are gone
    assert "per_sample.csv" not in second["files"] and "trace.json" not in second["files"]
    assert second["run_id"] != first["run_id"] and second["cimsim_version"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no hidden temporaries left


_WRITER = """
import sys, json
from cimsim.atomic_io import OutputDir
from cimsim.engine.trace import write_chrome_trace
mode, target = sys.argv[1], sys.argv[2]
gen = 0
print("ready", flush=True)
while True:
    gen += 1
    if mode == "out":
        blob = (str(gen) + "\\n") * 200_000
        with OutputDir(target) as o:
            o.commit({"a.txt": blob, "b.txt": blob, "c.json": json.dumps({"gen": gen})})
    else:
        write_chrome_trace([{"name": "x", "ph": "X", "ts": i, "dur": 1, "pid": 0, "tid": str(gen)}
                            for i in range(20_000)], target)
"""


@pytest.mark.parametrize("mode", ["out", "trace"])
def test_kill_9_leaves_old_or_new_never_a_mix(tmp_path, mode):
    from cimsim.atomic_io import OutputDir, verify_output_dir

    target = tmp_path / ("out" if mode == "out" else "trace.json")
    rng = np.random.default_rng(0)
    seen_gens = set()
    for trial in range(8):
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, mode, str(target)], stdout=subprocess.PIPE,
                                env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path)
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(0.05 + float(rng.uniform(0, 0.6)))  # a random moment inside the write loop
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        if not target.exists():
            assert trial == 0 or mode == "trace" and not seen_gens, "a complete earlier result vanished"
            continue
        if mode == "out":
            man = verify_output_dir(target)  # exactly the listed files, every hash matches
            gen = json.loads((target / "c.json").read_text())["gen"]
            assert set((target / "a.txt").read_text().split()) == {str(gen)}
            assert set(man["files"]) == {"a.txt", "b.txt", "c.json"}
        else:
            doc = json.loads(target.read_text())  # complete JSON
            gen = int({ev["args"]["name"] for ev in doc["traceEvents"] if ev["ph"] == "M" and ev["tid"]}.pop())
        seen_gens.add(gen)
    assert seen_gens, "the writer never completed a generation"
    # a later writer cleans the killed writers' temporaries
    if mode == "out":
        with OutputDir(target) as o:
            o.commit({"a.txt": "x"})
    else:
        from cimsim.atomic_io import check_file_target
        check_file_target(target, flag="--trace")
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == [], leftovers
