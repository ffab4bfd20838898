"""Hostile inputs to the importers and weights (issue 21): each ends in one line on stderr and exit 2 (nothing
before it: no torch/numpy warning), or in exit 0 with sane output; an import never overwrites a file."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from .graph_helpers import ROOT, assert_run_agrees, cli, run_cli  # noqa: E402

ONNX_ARGS = ("--input-bits", "3", "--dataset", "digits")


def _one_line_error(args, *needles):
    code, out, err = cli(list(args))
    assert code == 2, (code, out, err)
    assert len(err.strip().splitlines()) == 1 and err.startswith("cimsim: error:"), err
    for n in needles:
        assert n in err, err
    return err


def _model(nodes, inits, path, shape=(1, 1, 2, 2)):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def _gemm(w, **kw):
    return [helper.make_node("Flatten", ["x"], ["f"]),
            helper.make_node("Gemm", ["f", "w"], ["y"], transB=1, name="/fc/Gemm", **kw)], w


def _arr(v, name):
    return numpy_helper.from_array(np.asarray(v, dtype=np.float32), name)


@pytest.mark.parametrize(("case", "needle"), [
    ("no_data", "initializer 'w'"),
    ("zero_size", "weight of shape (0, 4)"),
    ("nan_weight", "NaN or infinite"),
    ("inf_weight", "NaN or infinite"),
    ("nan_alpha", "alpha nan"),
    ("negative_variance", "negative variance"),
    ("dropout_ratio_2", "dropout rate 2.0"),
])
def test_hostile_onnx_models_are_one_line_errors(tmp_path, case, needle):
    w = np.ones((3, 4), np.float32)
    nodes, _ = _gemm(w)
    inits = [_arr(w, "w")]
    if case == "no_data":
        t = TensorProto(name="w", data_type=TensorProto.FLOAT)
        t.dims.extend([3, 4])   # dims but no data
        inits = [t]
    elif case == "zero_size":
        inits = [_arr(np.zeros((0, 4)), "w")]
    elif case in ("nan_weight", "inf_weight"):
        bad = w.copy()
        bad[1, 2] = np.nan if case == "nan_weight" else np.inf
        inits = [_arr(bad, "w")]
    elif case == "nan_alpha":
        nodes, _ = _gemm(w, alpha=float("nan"))
    elif case == "negative_variance":
        nodes = [helper.make_node("Flatten", ["x"], ["f"]),
                 helper.make_node("Gemm", ["f", "w"], ["g"], transB=1, name="/fc1/Gemm"),
                 helper.make_node("BatchNormalization", ["g", "s", "b", "m", "v"], ["n"]),
                 helper.make_node("Sign", ["n"], ["h"]),
                 helper.make_node("Gemm", ["h", "w2"], ["y"], transB=1, name="/fc2/Gemm")]
        inits += [_arr(np.ones(3), "s"), _arr(np.zeros(3), "b"), _arr(np.zeros(3), "m"),
                  _arr([1.0, -2.0, 1.0], "v"), _arr(np.ones((2, 3)), "w2")]
    elif case == "dropout_ratio_2":
        nodes = [helper.make_node("Flatten", ["x"], ["f"]),
                 helper.make_node("Gemm", ["f", "w"], ["g"], transB=1, name="/fc1/Gemm"),
                 helper.make_node("Sign", ["g"], ["h"]),
                 helper.make_node("Dropout", ["h", "r"], ["d"]),
                 helper.make_node("Gemm", ["d", "w2"], ["y"], transB=1, name="/fc2/Gemm")]
        inits += [_arr(2.0, "r"), _arr(np.ones((2, 3)), "w2")]
    path = _model(nodes, inits, tmp_path / "m.onnx")
    _one_line_error(["import", "onnx", str(path), "--out", str(tmp_path / "o"), *ONNX_ARGS], needle)
    assert not (tmp_path / "o" / "m.yaml").exists()


@pytest.mark.parametrize(("source", "needle"), [
    ("def make(:\n", "SyntaxError"),
    ("def make():\n    raise RuntimeError('boom')\n", "make() raised RuntimeError: boom"),
    ("def make():\n    return 42\n", "returned a int, not an nn.Module"),
    ("import warnings\nwarnings.warn('noisy import', UserWarning)\nimport numpy as np\nnp.log(np.zeros(1))\n"
     "def make():\n    return None\n", "returned a NoneType"),
    ("import torch\ndef make():\n    m = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))\n"
     "    torch.nn.init.constant_(m[1].weight, float('nan'))\n    return m\n", "NaN or infinite"),
    ("import torch\ndef make():\n    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3), "
     "torch.nn.BatchNorm1d(3), torch.nn.Hardtanh(), torch.nn.Linear(3, 2))\n", "negative variance"),
])
def test_hostile_torch_module_files_are_one_line_errors(tmp_path, source, needle):
    """A syntax error, a raising factory, a non-module (after a UserWarning and a numpy RuntimeWarning at import:
    stderr stays one line), NaN weights, a batch-norm with a negative running variance."""
    if "BatchNorm1d" in source:
        source += ("_make = make\ndef make():\n    m = _make()\n    m[2].running_var[1] = -1.0\n    return m\n")
    (tmp_path / "model.py").write_text(source)
    _one_line_error(["import", "torch", f"{tmp_path / 'model.py'}:make", "--out", str(tmp_path / "o"),
                     "--input-shape", "1,2,2", *ONNX_ARGS], needle)


def _ok_onnx(tmp_path):
    w = np.ones((3, 4), np.float32)
    nodes, _ = _gemm(w)
    return _model(nodes, [_arr(w, "w")], tmp_path / "m.onnx")


def test_import_never_overwrites_and_writes_atomically(tmp_path):
    path = _ok_onnx(tmp_path)
    out = tmp_path / "o"
    args = ["import", "onnx", str(path), "--out", str(out), *ONNX_ARGS]
    run_cli(args)
    before = (out / "m.npz").read_bytes(), (out / "m.yaml").read_text()
    (out / "m.yaml").write_text("# the user's own edits\n")
    _one_line_error(args, "exists; an import does not overwrite it", "--force")
    assert (out / "m.yaml").read_text() == "# the user's own edits\n" and (out / "m.npz").read_bytes() == before[0]
    run_cli([*args, "--force"])
    assert (out / "m.yaml").read_text() == before[1]
    assert sorted(p.name for p in out.iterdir()) == ["m.npz", "m.yaml"]   # no temporary files left
    # a symlink is refused even with --force (its target is never written)
    target = tmp_path / "precious.txt"
    target.write_text("keep")
    (out / "m.yaml").unlink()
    (out / "m.yaml").symlink_to(target)
    _one_line_error([*args, "--force"], "symlink")
    assert target.read_text() == "keep"


def test_import_warnings_print_after_success_not_before(tmp_path):
    (tmp_path / "model.py").write_text(
        "import warnings\nfrom tests.import_models import make_view\n"
        "def make():\n    warnings.warn('a torch-style UserWarning', UserWarning)\n    return make_view()\n")
    code, out, err = cli(["import", "torch", f"{tmp_path / 'model.py'}:make", "--out", str(tmp_path / "o"),
                          "--input-shape", "1,8,8", *ONNX_ARGS])
    assert code == 0 and out.startswith("wrote ") and "warning: a torch-style UserWarning" in err


def test_infinite_thresholds_in_weights_are_constant_neurons(tmp_path):
    """docs/weights.md: a threshold of +inf is a neuron that always outputs −1, −inf one that always outputs +1;
    the run agrees with the reference forward on every input."""
    z = dict(np.load(ROOT / "workloads" / "digits_mlp.npz"))
    z["fc1.threshold"] = z["fc1.threshold"].copy()
    z["fc1.threshold"][:3] = [np.inf, -np.inf, np.inf]
    np.savez(tmp_path / "w.npz", **z)
    doc = yaml.safe_load((ROOT / "workloads" / "digits_mlp.yaml").read_text())
    doc["network"]["weights"] = "w.npz"
    doc["limit"] = 40
    (tmp_path / "wl.yaml").write_text(yaml.safe_dump(doc))
    assert_run_agrees(tmp_path / "wl.yaml", tmp_path / "run", ("--passes", "2"))


@pytest.mark.parametrize(("command", "module", "extra"), [("torch", "torch", "cimsim[torch]"),
                                                          ("onnx", "onnx", "cimsim[onnx]")])
def test_missing_extra_is_named(tmp_path, monkeypatch, command, module, extra):
    import sys

    monkeypatch.setitem(sys.modules, module, None)   # `import torch` / `import onnx` now raises ImportError
    target = f"{tmp_path / 'model.py'}:make" if command == "torch" else str(tmp_path / "m.onnx")
    shape = ("--input-shape", "1,2,2") if command == "torch" else ()
    _one_line_error(["import", command, target, "--out", str(tmp_path / "o"), *shape, *ONNX_ARGS], extra)


def test_nul_byte_in_a_path_is_named(tmp_path):
    path = _ok_onnx(tmp_path)
    _one_line_error(["import", "onnx", str(path), "--out", "x\0y", *ONNX_ARGS], "--out", "NUL")
    _one_line_error(["import", "torch", "m\0.py:make", "--out", str(tmp_path / "o"), "--input-shape", "1,2,2",
                     *ONNX_ARGS], "MODULE.py:FACTORY")


def test_reshape_to_an_empty_shape_is_one_line(tmp_path):
    """A Reshape whose shape initializer is empty (found by the ONNX fuzz test: IndexError, exit 70)."""
    w = np.ones((3, 4), np.float32)
    nodes = [helper.make_node("Reshape", ["x", "s"], ["f"]),
             helper.make_node("Gemm", ["f", "w"], ["y"], transB=1, name="/fc/Gemm")]
    path = _model(nodes, [_arr(w, "w"), numpy_helper.from_array(np.zeros((0,), np.int64), "s")],
                  tmp_path / "m.onnx")
    _one_line_error(["import", "onnx", str(path), "--out", str(tmp_path / "o"), *ONNX_ARGS], "Reshape")
