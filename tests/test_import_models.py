"""The models issue 18 found refused, end to end at the CLI: `cimsim import torch|onnx` of a model built here,
then `cimsim run` on the ideal chip, agreeing with the reference forward and with torch's eval output on every
input: a flatten by ``x.view(x.size(0), -1)``, dropout between max-pool and flatten, a static-batch-2 Reshape to a
constant ``[2, 64]``, Bi-Real's downsample shortcut (AvgPool + real 1×1 conv) and the original Bi-Real ResNet-18
topology at a small width."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import yaml

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from tests import import_models as M  # noqa: E402

from .graph_helpers import assert_run_agrees, cli, run_cli, write_images  # noqa: E402


def _torch_fn(m, batch: int | None = None):
    """torch's eval logits of integer inputs (in pairs for a model with a static batch)."""
    def run(x):
        with torch.no_grad():
            step = batch or len(x)
            return np.concatenate([m(torch.tensor(x[i: i + step], dtype=torch.float64)).numpy()
                                   for i in range(0, len(x), step)])
    return run


def _export(m, shape, batch=1) -> onnx.ModelProto:
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, (torch.zeros(batch, *shape, dtype=torch.float64),), f, dynamo=False)
    return onnx.load_from_string(f.getvalue())


def _data(out, shape, n=24, seed=0):
    out.mkdir(parents=True, exist_ok=True)
    write_images(out / "data.npz", shape, 10, n, np.random.default_rng(seed))
    return ["--dataset", "cifar10" if shape[0] == 3 else "mnist", "--dataset-path", "data.npz"]


def _import_torch(tmp_path, factory, shape, bits, *extra) -> tuple:
    out = tmp_path / "out"
    data = _data(out, shape)
    (tmp_path / "model.py").write_text(f"from tests.import_models import {factory} as make  # noqa: F401\n")
    m = getattr(M, factory)()
    torch.save(m.state_dict(), tmp_path / "ckpt.pt")
    text = run_cli(["import", "torch", f"{tmp_path / 'model.py'}:make", str(tmp_path / "ckpt.pt"), "--out", str(out),
                    "--input-shape", ",".join(map(str, shape)), "--input-bits", str(bits), *data, *extra])
    return m, out / "model.yaml", text


def _import_onnx(tmp_path, m, shape, bits, *extra, batch=1) -> tuple:
    out = tmp_path / "out_onnx"
    data = _data(out, shape)
    onnx.save(_export(m, shape, batch), tmp_path / "model.onnx")
    text = run_cli(["import", "onnx", str(tmp_path / "model.onnx"), "--out", str(out), "--input-bits", str(bits),
                    *data, *extra])
    return out / "model.yaml", text


def test_view_size_flatten_imports_through_both_and_runs(tmp_path):
    m, wl, _ = _import_torch(tmp_path, "make_view", (1, 8, 8), 3)
    assert assert_run_agrees(wl, tmp_path / "run", other=_torch_fn(m)) == 0.0
    wl2, _ = _import_onnx(tmp_path, m, (1, 8, 8), 3)
    assert_run_agrees(wl2, tmp_path / "run2", other=_torch_fn(m))


def test_dropout_between_maxpool_and_flatten_is_row_dropout_on_the_classifier(tmp_path):
    m, wl, _ = _import_torch(tmp_path, "make_droppool", (1, 8, 8), 3)
    doc = yaml.safe_load(wl.read_text())
    assert doc["dropout"] == {"layers": ["fc"], "p": M.P}
    assert_run_agrees(wl, tmp_path / "run", ("--passes", "4"), other=_torch_fn(m))


def test_onnx_static_batch_of_two_reshape_to_a_constant(tmp_path):
    m = M.make_batch2()
    proto = _export(m, (1, 8, 8), batch=2)
    shapes = [n for n in proto.graph.node if n.op_type == "Reshape"]
    assert shapes and [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim][0] == 2
    wl, _ = _import_onnx(tmp_path, m, (1, 8, 8), 3, batch=2)
    assert_run_agrees(wl, tmp_path / "run", other=_torch_fn(m, batch=2))


@pytest.mark.parametrize("route", ["torch", "onnx"])
def test_bireal_downsample_shortcut_reads_its_real_input_bit_serially(tmp_path, route):
    """AvgPool + a real 1×1 conv + BN on the shortcut: the conv reads the pooled real tensor as 12-bit integers
    (exact against torch here); at the default 8 bits one sign in the classifier input may flip (|Δ| = 2)."""
    m = M.make_downsample()
    if route == "torch":
        _, wl, text = _import_torch(tmp_path, "make_downsample", (1, 8, 8), 3, "--real-input-bits", "12")
    else:
        wl, text = _import_onnx(tmp_path, m, (1, 8, 8), 3, "--real-input-bits", "12")
    assert "reads the real-valued" in text
    doc = yaml.safe_load(wl.read_text())
    quantized = [ly for ly in doc["network"]["layers"] if "input_bits" in ly]
    assert [ly["input_bits"] for ly in quantized] == [12] and quantized[0]["kernel_size"] == 1
    assert assert_run_agrees(wl, tmp_path / "run", other=_torch_fn(m)) == 0.0


@pytest.mark.parametrize("route", ["torch", "onnx"])
def test_original_bireal_resnet18_topology_imports_and_agrees(tmp_path, route):
    """Bi-Real Net's own ResNet-18 ([2, 2, 2, 2] blocks, `out += residual`, AvgPool + 1×1 conv downsample,
    classifier on the pooled real features, `x.view(x.size(0), -1)`), width 4, CIFAR stem. With the real inputs
    read at 16 bits (the accumulator width) the logits agree with torch to within the fixed-point step."""
    m = M.make_bireal()
    if route == "torch":
        _, wl, _ = _import_torch(tmp_path, "make_bireal", (3, 8, 8), 8, "--real-input-bits", "16")
    else:
        wl, _ = _import_onnx(tmp_path, m, (3, 8, 8), 8, "--real-input-bits", "16")
    doc = yaml.safe_load(wl.read_text())
    kinds = [ly["type"] for ly in doc["network"]["layers"]]
    assert kinds.count("add") == 8 and kinds.count("avgpool") == 3 and kinds.count("conv2d") == 1 + 8 + 3
    assert sum("input_bits" in ly for ly in doc["network"]["layers"]) == 4   # 3 downsample convs + fc
    diff = assert_run_agrees(wl, tmp_path / "run", ("--set", "chip.tiles=auto", "--timing-inputs", "1", "--passes", "1"),
                             other=_torch_fn(m), atol=None)
    # every prediction agrees (checked above); the logits agree to the fixed-point step except where a real value
    # within one step of 0 changed sign on its way into a binary conv (this random net is chaotic: such a flip
    # moves a few logits by O(1)), so the median is tight and the maximum bounded by the logit range
    from cimsim.network.datasets import quantize_inputs
    from cimsim.network.reference import reference_forward
    from cimsim.network.weights import load_network
    from cimsim.spec.loader import load_workload

    spec = load_workload(wl)
    x = quantize_inputs(np.load(wl.parent / "data.npz")["x_test"], 8)
    gap = np.abs(reference_forward(load_network(spec.network, wl.parent), x) - _torch_fn(m)(x))
    assert np.median(gap) < 1e-3 and diff <= 2.0, (np.median(gap), diff)


def test_import_defaults_are_stated_not_assumed(tmp_path):
    """--input-bits and --dataset are required (no silent 8 bits, no silent digits); a model without dropout is
    imported with no dropout section and says so."""
    (tmp_path / "model.py").write_text("from tests.import_models import make_view as make  # noqa: F401\n")
    code, out, err = cli(["import", "torch", f"{tmp_path / 'model.py'}:make", "--out", str(tmp_path / "o"),
                          "--input-shape", "1,8,8", "--dataset", "digits"])
    assert code == 2 and "--input-bits" in err and len(err.strip().splitlines()) == 1
    code, out, err = cli(["import", "torch", f"{tmp_path / 'model.py'}:make", "--out", str(tmp_path / "o"),
                          "--input-shape", "1,8,8", "--input-bits", "3"])
    assert code == 2 and "--dataset" in err
    text = run_cli(["import", "torch", f"{tmp_path / 'model.py'}:make", "--out", str(tmp_path / "o"),
                    "--input-shape", "1,8,8", "--input-bits", "3", "--dataset", "digits"])
    assert "no dropout layer" in text
    doc = yaml.safe_load((tmp_path / "o" / "model.yaml").read_text())
    assert "dropout" not in doc and doc["dataset"] == {"name": "digits"} and doc["network"]["input_bits"] == 3


@pytest.mark.slow
def test_dynamo_export_with_a_static_batch_of_two(tmp_path):
    """torch's default (dynamo) exporter at a static batch of 2: Reshape to a constant [2, features], and
    AdaptiveAvgPool2d(1) as ReduceMean over the spatial axes (needs onnxscript, the exporter's own dependency)."""
    pytest.importorskip("onnxscript")
    for make, shape in ((M.make_view, (1, 8, 8)), (M.make_downsample, (1, 8, 8))):
        m = make()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            proto = torch.onnx.export(m, (torch.zeros(2, *shape, dtype=torch.float64),), dynamo=True).model_proto
        onnx.save(proto, tmp_path / "model.onnx")
        out = tmp_path / f"out_{make.__name__}"
        data = _data(out, shape)
        run_cli(["import", "onnx", str(tmp_path / "model.onnx"), "--out", str(out), "--input-bits", "3", *data,
                 "--real-input-bits", "12"])
        assert_run_agrees(out / "model.yaml", tmp_path / f"run_{make.__name__}", other=_torch_fn(m, batch=2),
                          atol=1e-6)


def test_reduce_mean_over_spatial_axes_is_a_global_average_pool():
    from onnx import TensorProto, helper, numpy_helper

    from cimsim.importers.builder import ImportError_
    from cimsim.importers.onnx_import import import_onnx
    from cimsim.network.layers import GlobalAvgPool

    w = np.where(np.random.default_rng(0).random((4, 2, 3, 3)) < 0.5, -1.0, 1.0)
    fc = np.where(np.random.default_rng(1).random((3, 4)) < 0.5, -1.0, 1.0)

    def graph(axes, keep=1):
        nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="/c1/Conv"),
                 helper.make_node("Sign", ["c"], ["s"]),
                 helper.make_node("ReduceMean", ["s", "axes"], ["m"], keepdims=keep),
                 helper.make_node("Flatten", ["m"], ["f"]),
                 helper.make_node("Sign", ["f"], ["g"]),
                 helper.make_node("Gemm", ["g", "fc"], ["y"], transB=1, name="/fc/Gemm")]
        inits = [numpy_helper.from_array(w.astype(np.float32), "w"), numpy_helper.from_array(fc.astype(np.float32), "fc"),
                 numpy_helper.from_array(np.asarray(axes, dtype=np.int64), "axes")]
        g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
        return helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])

    for axes in ([2, 3], [-1, -2]):
        imp = import_onnx(graph(axes), input_bits=2)
        assert any(isinstance(n, GlobalAvgPool) for n in imp.network.nodes)
    with pytest.raises(ImportError_, match="ReduceMean"):
        import_onnx(graph([1]), input_bits=2)
