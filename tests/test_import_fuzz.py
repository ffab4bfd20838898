"""Property test of the ONNX importer on hostile graphs (issue 21): random chains of the ops it knows and some it
does not, with random attributes and initializers (NaN, inf, empty, mis-shaped, dims without data). Every graph
ends in a one-line CimsimError or in a network that validates and whose reference forward gives finite logits.
Long profile: CIMSIM_FUZZ_EXAMPLES=10000 python -m pytest tests/test_import_fuzz.py."""

from __future__ import annotations

import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from hypothesis import HealthCheck, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from cimsim.errors import CimsimError  # noqa: E402
from cimsim.importers.onnx_import import import_onnx  # noqa: E402
from cimsim.network.reference import reference_forward  # noqa: E402

EXAMPLES = int(os.environ.get("CIMSIM_FUZZ_EXAMPLES", "150"))
VALUES = st.sampled_from([1.0, -1.0, 0.5, 0.0, 2.0, -3.0, float("nan"), float("inf"), 1e30, -1e-30])
OPS = st.sampled_from(["Conv", "Gemm", "MatMul", "Sign", "Clip", "BatchNormalization", "MaxPool", "AveragePool",
                       "GlobalAveragePool", "ReduceMean", "Flatten", "Reshape", "Dropout", "Add", "Mul", "Relu",
                       "Identity"])


@st.composite
def graphs(draw):
    """A chain x → op → op → ... → Gemm (the logits), each op's constants drawn (sometimes hostile)."""
    c, hw = draw(st.integers(1, 2)), draw(st.integers(2, 4))
    c0, hw0 = c, hw
    inits, nodes, cur, k = [], [], "x", 0

    def const(shape, hostile_ok=True):
        nonlocal k
        k += 1
        name = f"k{k}"
        kind = draw(st.sampled_from(["ok", "ok", "ok", "values", "empty", "nodata"])) if hostile_ok else "ok"
        if kind == "nodata":
            t = TensorProto(name=name, data_type=TensorProto.FLOAT)
            t.dims.extend(shape)
            inits.append(t)
            return name
        if kind == "empty":
            shape = (0, *shape[1:])
        arr = np.asarray(draw(st.lists(VALUES, min_size=1, max_size=4)), dtype=np.float32)
        data = np.resize(arr, int(np.prod(shape))).reshape(shape) if kind == "values" else \
            np.where(np.random.default_rng(k).random(shape) < 0.5, -1.0, 1.0).astype(np.float32)
        inits.append(numpy_helper.from_array(data.astype(np.float32), name))
        return name

    for _ in range(draw(st.integers(1, 5))):
        op = draw(OPS)
        out = f"t{len(nodes)}"
        ch = draw(st.integers(1, 3))
        if op == "Conv":
            kk = draw(st.integers(1, 3))
            nodes.append(helper.make_node(op, [cur, const((ch, c, kk, kk))], [out], pads=[kk // 2] * 4,
                                          name=f"/c{len(nodes)}/Conv"))
            c = ch
        elif op in ("Gemm", "MatMul"):
            nodes.append(helper.make_node("Flatten", [cur], [out + "f"]))
            w = const((ch, c * hw * hw) if op == "Gemm" else (c * hw * hw, ch))
            kw = {"transB": 1, "alpha": draw(VALUES)} if op == "Gemm" else {}
            nodes.append(helper.make_node(op, [out + "f", w], [out], name=f"/fc{len(nodes)}/{op}", **kw))
            c, hw = ch, 1
        elif op == "BatchNormalization":
            nodes.append(helper.make_node(op, [cur] + [const((c,)) for _ in range(4)], [out]))
        elif op in ("MaxPool", "AveragePool"):
            kk = draw(st.integers(1, 2))
            nodes.append(helper.make_node(op, [cur], [out], kernel_shape=[kk, kk], strides=[kk, kk]))
        elif op == "ReduceMean":
            nodes.append(helper.make_node(op, [cur], [out], axes=draw(st.sampled_from([[2, 3], [1], [3]]))))
        elif op == "Reshape":
            shape = numpy_helper.from_array(np.array(draw(st.sampled_from([[1, -1], [0, -1], [2, -1], [-1]])),
                                                     np.int64), f"s{len(nodes)}")
            inits.append(shape)
            nodes.append(helper.make_node(op, [cur, shape.name], [out]))
        elif op == "Dropout":
            nodes.append(helper.make_node(op, [cur, const(())], [out]))
        elif op in ("Add", "Mul"):
            nodes.append(helper.make_node(op, [cur, const((1, c, 1, 1)) if draw(st.booleans()) else cur], [out]))
        elif op == "Clip":
            nodes.append(helper.make_node(op, [cur, const(()), const(())], [out]))
        else:
            nodes.append(helper.make_node(op, [cur], [out]))
        cur = out
        if op in ("Conv", "Gemm", "MatMul", "BatchNormalization") and draw(st.booleans()):
            nodes.append(helper.make_node("Sign", [cur], [out + "s"]))   # the usual activation, often
            cur = out + "s"
    nodes.append(helper.make_node("Flatten", [cur], ["yf"]))
    nodes.append(helper.make_node("Gemm", ["yf", const((3, c * hw * hw), hostile_ok=False)], ["y"], transB=1,
                                  name="/head/Gemm"))
    g = helper.make_graph(nodes, "fuzz", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c0, hw0, hw0])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 11)])


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(model=graphs())
def test_onnx_importer_on_hostile_graphs_errs_in_one_line_or_imports_a_sound_network(model):
    try:
        imp = import_onnx(model, input_bits=2)
    except CimsimError as exc:
        line = exc.one_line()
        assert "\n" not in line and "graph" in line
        event("one-line error")
        return
    event("imported")
    net = imp.network
    net.validate()
    x = np.random.default_rng(0).integers(0, 4, size=(3, *net.input_shape))
    logits = reference_forward(net, x)
    assert logits.shape == (3, 3) and np.isfinite(logits).all()


MODULES = st.sampled_from(["binlinear", "linear", "conv", "binconv", "bn", "hardtanh", "maxpool", "avgpool",
                           "gap", "dropout", "flatten", "relu", "identity"])


@st.composite
def torch_models(draw):
    """A random nn.Sequential of the modules the torch importer knows (and one it does not), with hostile
    parameters sometimes: NaN/inf weights, a negative running variance."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    from tests.import_models import BinConv, BinLinear

    c, hw, flat = 1, 4, False
    mods = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(MODULES)
        ch = draw(st.integers(1, 3))
        if kind in ("binlinear", "linear"):
            if not flat:
                mods.append(nn.Flatten())
                flat = True
            mods.append((BinLinear if kind == "binlinear" else nn.Linear)(c * hw * hw, ch))
            c, hw = ch, 1
        elif kind in ("conv", "binconv") and not flat:
            mods.append((BinConv if kind == "binconv" else nn.Conv2d)(c, ch, 3, padding=1))
            c = ch
        elif kind == "bn":
            mods.append(nn.BatchNorm1d(c) if flat else nn.BatchNorm2d(c))
        elif kind in ("maxpool", "avgpool") and not flat and hw >= 2:
            mods.append(nn.MaxPool2d(2) if kind == "maxpool" else nn.AvgPool2d(2))
            hw //= 2
        elif kind == "gap" and not flat:
            mods += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
            hw, flat = 1, True
        elif kind == "dropout":
            mods.append(nn.Dropout(draw(st.sampled_from([0.0, 0.2, 0.5]))))
        elif kind == "flatten" and not flat:
            mods.append(nn.Flatten())
            flat = True
        else:
            mods.append({"hardtanh": nn.Hardtanh(), "relu": nn.ReLU()}.get(kind, nn.Identity()))
    if not flat:
        mods.append(nn.Flatten())
    mods.append(nn.Linear(c * hw * hw, 3))
    model = nn.Sequential(*mods).double().eval()
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    with torch.no_grad():
        for m in model.modules():
            if hasattr(m, "weight") and m.weight is not None:
                m.weight.copy_(torch.tensor(rng.normal(0, 1, tuple(m.weight.shape))))
            if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
                m.running_var.copy_(torch.tensor(rng.uniform(0.5, 2, m.num_features)))
        hostile = draw(st.sampled_from(["none", "none", "nan", "inf", "negvar"]))
        params = [m for m in model.modules() if hasattr(m, "weight") and m.weight is not None]
        bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d)]
        if hostile in ("nan", "inf"):
            params[draw(st.integers(0, len(params) - 1))].weight.view(-1)[0] = float(hostile)
        elif hostile == "negvar" and bns:
            bns[0].running_var[0] = -1.0
    return model


@settings(max_examples=max(EXAMPLES // 3, 20), deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=True)
@given(model=torch_models())
def test_torch_importer_on_random_models_errs_in_one_line_or_imports_a_sound_network(model):
    from cimsim.importers.torch_fx import import_module

    try:
        imp = import_module(model, (1, 4, 4), input_bits=2)
    except CimsimError as exc:
        assert "\n" not in exc.one_line()
        event("one-line error")
        return
    event("imported")
    x = np.random.default_rng(0).integers(0, 4, size=(3, 1, 4, 4))
    logits = reference_forward(imp.network, x)
    assert logits.shape == (3, 3) and np.isfinite(logits).all()
