"""ONNX import: tiny PyTorch BNNs (MLP, CNN with max-pool, Bi-Real residual CNN) exported to ONNX inside the test
equal torch's eval output on cimsim's ideal hardware; hand-built graphs cover ±1 initializers, MatMul + bias,
Reshape, Dropout and the unsupported-op error; the CLI writes a runnable workload."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from cimsim.importers.onnx_import import import_onnx  # noqa: E402
from cimsim.importers.torch_fx import ImportError_  # noqa: E402
from tests.test_import_torch import CNN, MLP, ResNet, _cimsim  # noqa: E402


def _export(m, shape) -> onnx.ModelProto:
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, (torch.zeros(1, *shape, dtype=torch.float64),), f, dynamo=False)
    return onnx.load_from_string(f.getvalue())


@pytest.mark.parametrize(("model", "shape", "bits"), [(MLP, (1, 4, 4), 3), (CNN, (1, 6, 6), 3),
                                                       (ResNet, (2, 6, 6), 3)])
def test_torch_export_round_trip_matches_torch_eval(model, shape, bits):
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    m = model(rng).double().eval()
    proto = _export(m, shape)
    imp = import_onnx(proto, input_bits=bits, weight_bits=4)
    assert imp.network.input_shape == shape  # taken from the graph input
    kinds = {type(n).__name__ for n in imp.network.nodes}
    if model is ResNet:  # the residual graph survives: adds, pools, a 1×1 shortcut, multi-bit stem/classifier
        assert {"Add", "AvgPool", "GlobalAvgPool", "Flatten"} <= kinds
        assert [la.weight_bits for la in imp.network.layers] == [4, 1, 1, 1, 4]
    ex = _cimsim(imp)
    assert ex.exact
    x = rng.integers(0, 2 ** bits, size=(16, *shape))
    with torch.no_grad():
        want = m(torch.tensor(x, dtype=torch.float64)).numpy()
    got = ex.forward(x, mc=False, stream=0, input_ids=np.arange(16))[0]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
    assert len(np.unique(want.round(9), axis=0)) >= 4  # the outputs depend on the input


def _graph(nodes, inits, in_shape, out="y", opset=17):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
                          [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(np.asarray(v, dtype=np.float32), k) for k, v in inits.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def test_pm1_initializers_matmul_bias_reshape_and_dropout_against_numpy():
    """A Larq-style graph: ±1 and ±α weight initializers, MatMul + Add bias, a per-channel Mul scale, a Reshape
    from Shape arithmetic and a Dropout with a constant ratio; the folded network equals a numpy evaluation."""
    rng = np.random.default_rng(3)
    w1 = rng.choice([-1.0, 1.0], size=(12, 8))                          # (in, out) for MatMul
    b1 = rng.normal(0, 2, 8)
    s1 = rng.choice([-1.0, 1.0], 8) * rng.uniform(0.5, 2, 8)            # per-channel scale (some negative)
    w2 = rng.choice([-1.0, 1.0], size=(5, 8)) * rng.uniform(0.1, 1, (5, 1))  # ±α per row (Gemm transB)
    b2 = rng.normal(0, 1, 5)
    nodes = [
        helper.make_node("Shape", ["x"], ["shp"]),
        helper.make_node("Gather", ["shp", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "axes"], ["n1"]),
        helper.make_node("Concat", ["n1", "minus1"], ["tgt"], axis=0),
        helper.make_node("Reshape", ["x", "tgt"], ["xf"], name="flat"),
        helper.make_node("MatMul", ["xf", "w1"], ["m1"], name="/fc1/MatMul"),
        helper.make_node("Add", ["m1", "b1"], ["a1"]),
        helper.make_node("Mul", ["a1", "s1"], ["z1"]),
        helper.make_node("Sign", ["z1"], ["h1"]),
        helper.make_node("Dropout", ["h1", "ratio"], ["d1"]),
        helper.make_node("Gemm", ["d1", "w2", "b2"], ["y"], transB=1, name="/fc2/Gemm"),
    ]
    inits = {"w1": w1, "b1": b1, "s1": s1, "w2": w2, "b2": b2, "ratio": np.float32(0.25)}
    g = _graph(nodes, inits, [None, 3, 2, 2])
    for name, v in (("zero", np.int64(0)), ("axes", np.array([0])), ("minus1", np.array([-1]))):
        g.graph.initializer.append(numpy_helper.from_array(np.asarray(v, dtype=np.int64), name))
    imp = import_onnx(g, input_shape=(3, 2, 2), input_bits=2)
    assert imp.dropout_p == 0.25 and imp.workload["dropout"]["layers"] == ["fc2"]
    assert [la.weight_bits for la in imp.network.layers] == [1, 1]
    x = rng.integers(0, 4, size=(32, 3, 2, 2))
    f32 = np.float32
    h = np.where((x.reshape(32, -1) @ w1.astype(f32) + b1.astype(f32)) * s1.astype(f32) >= 0, 1.0, -1.0)
    want = h @ w2.astype(f32).T + b2.astype(f32)
    got = _cimsim(imp).forward(x, mc=False, stream=0, input_ids=np.arange(32))[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_unsupported_op_is_named_with_its_position():
    w = np.ones((4, 4))
    nodes = [helper.make_node("Flatten", ["x"], ["f"]),
             helper.make_node("Gemm", ["f", "w"], ["g"], transB=1, name="/fc1/Gemm"),
             helper.make_node("Relu", ["g"], ["r"], name="act"),
             helper.make_node("Gemm", ["r", "w"], ["y"], transB=1, name="/fc2/Gemm")]
    with pytest.raises(ImportError_, match=r"graph\.node\[2\].*#2 'act' \(Relu\)"):
        import_onnx(_graph(nodes, {"w": w}, [1, 1, 2, 2]))


def test_cli_writes_a_runnable_workload(tmp_path):
    from click.testing import CliRunner

    from cimsim.cli import cli
    from cimsim.simulate import Options, simulate
    from cimsim.spec.arch import ArchSpec

    m = CNN(np.random.default_rng(1)).double().eval()
    onnx.save(_export(m, (1, 6, 6)), tmp_path / "cnn.onnx")
    res = CliRunner().invoke(cli, ["import", "onnx", str(tmp_path / "cnn.onnx"), "--out", str(tmp_path / "out"),
                                   "--input-bits", "3", "--dataset", "digits"])
    assert res.exit_code == 0, res.output
    r = simulate(ArchSpec(), tmp_path / "out" / "cnn.yaml", Options(hardware_only=True, passes=2))
    assert r.ledger.per_inference_j > 0



def test_cli_bad_file_is_one_line_and_exit_2(tmp_path, capsys):
    from cimsim.cli import main

    (tmp_path / "bad.onnx").write_bytes(b"junk")
    with pytest.raises(SystemExit) as exc:
        main(["import", "onnx", str(tmp_path / "bad.onnx"), "--out", str(tmp_path / "o2"), "--input-bits", "4",
              "--dataset", "digits"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "cannot read the ONNX model" in err and "bad.onnx" in err
    assert len(err.strip().splitlines()) == 1


def test_fused_conv_batchnorm_with_pm1_weights_stays_binary():
    """torch's exporter fuses BN into a plain conv holding ±1 weights: each row becomes ±γ/σ (some γ < 0), which
    the importer keeps binary (one crossbar slice) with the step and sign folded into the threshold."""
    nn = torch.nn
    rng = np.random.default_rng(4)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.c, self.b = nn.Conv2d(2, 5, 3, padding=1), nn.BatchNorm2d(5)
            self.fc = nn.Linear(5 * 4 * 4, 3)
            with torch.no_grad():
                self.c.weight.copy_(torch.tensor(rng.choice([-1.0, 1.0], size=(5, 2, 3, 3))))
                self.b.weight.copy_(torch.tensor(rng.uniform(0.5, 1.5, 5) * np.array([1, -1, 1, -1, 1])))
                self.b.running_mean.copy_(torch.tensor(rng.normal(0, 3, 5)))
                self.b.running_var.copy_(torch.tensor(rng.uniform(0.5, 4, 5)))
                self.fc.weight.copy_(torch.tensor(rng.choice([-1.0, 1.0], size=(3, 80))))

        def forward(self, x):
            return self.fc(torch.flatten(torch.sign(self.b(self.c(x))), 1))

    m = Net().double().eval()
    proto = _export(m, (2, 4, 4))
    assert "BatchNormalization" not in {n.op_type for n in proto.graph.node}  # fused by the exporter
    imp = import_onnx(proto, input_bits=3)
    assert [la.weight_bits for la in imp.network.layers] == [1, 1]
    x = rng.integers(0, 8, size=(16, 2, 4, 4))
    with torch.no_grad():
        want = m(torch.tensor(x, dtype=torch.float64)).numpy()
    got = _cimsim(imp).forward(x, mc=False, stream=0, input_ids=np.arange(16))[0]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
    assert len(np.unique(want.round(9), axis=0)) >= 4


def test_sign_of_a_latent_weight_with_zeros_is_binary_zero_to_plus_one():
    """Sign(W) of a latent weight (Brevitas/Larq export) is binary; Sign's exact 0 becomes cimsim's +1. The same
    magnitudes as a plain initializer (zeros not from Sign) are not a ±α row: they keep multi-bit levels."""
    w = np.array([[0.5, 0.0, -0.2, 0.9], [-0.1, 0.3, 0.0, 0.4]])
    nodes = [helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Sign", ["w"], ["ws"]),
             helper.make_node("Gemm", ["f", "ws"], ["y"], transB=1, name="/fc/Gemm")]
    (layer,) = import_onnx(_graph(nodes, {"w": w}, [1, 1, 2, 2])).network.layers
    assert layer.weight_bits == 1
    np.testing.assert_array_equal(layer.weight, [[1, 1, -1, 1], [-1, 1, 1, 1]])
    signed = np.sign(w)
    nodes[2] = helper.make_node("Gemm", ["f", "w"], ["y"], transB=1, name="/fc/Gemm")
    (layer,) = import_onnx(_graph(nodes[:1] + nodes[2:], {"w": signed}, [1, 1, 2, 2]), weight_bits=2).network.layers
    assert layer.weight_bits == 2 and layer.weight[0, 1] in (-1, 1)
