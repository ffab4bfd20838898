"""Binary network model: reference forward vs a naive loop model, unfold ordering, weights I/O, shipped models."""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from cimsim.errors import WeightsError
from cimsim.network.layers import BinaryConv2d, BinaryLinear, Network, conv_hw, output_hw, unfold
from cimsim.network.reference import mc_logits, reference_forward, sample_masks
from cimsim.network.weights import load_network, network_spec_dict, save_network
from cimsim.spec.workload import NetworkSpec, WorkloadSpec

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- naive independent model (explicit loops)
def naive_forward(net: Network, x, masks, p):
    masks = masks or {}
    h = np.asarray(x, dtype=np.int64)
    n = h.shape[0]
    for li, layer in enumerate(net.layers):
        m = masks.get(layer.name)
        scale = 1.0 / (1.0 - p) if m is not None else 1.0
        if isinstance(layer, BinaryConv2d):
            _, c, hh, ww = h.shape
            k, s, pad = layer.kernel_size, layer.stride, layer.padding
            ho = (hh + 2 * pad - k) // s + 1
            wo = (ww + 2 * pad - k) // s + 1
            a = np.zeros((n, layer.out_features, ho, wo))
            for b in range(n):
                for o in range(layer.out_features):
                    for y in range(ho):
                        for xx in range(wo):
                            tot = 0
                            for ci in range(c):
                                for kh in range(k):
                                    for kw in range(k):
                                        iy, ix = y * s + kh - pad, xx * s + kw - pad
                                        if not (0 <= iy < hh and 0 <= ix < ww):
                                            continue
                                        row = ci * k * k + kh * k + kw
                                        bit = 1
                                        if m is not None:
                                            bit = m[b, row] if m.ndim == 2 else m[b, y * wo + xx, row]
                                        tot += bit * h[b, ci, iy, ix] * layer.weight[o, ci, kh, kw]
                            a[b, o, y, xx] = tot * scale
            out = np.where(a >= layer.threshold[None, :, None, None], 1, -1)
            q = layer.pool
            ph, pw = ho // q, wo // q
            pooled = np.full((n, layer.out_features, ph, pw), -1)
            for b in range(n):
                for o in range(layer.out_features):
                    for y in range(ph):
                        for xx in range(pw):
                            pooled[b, o, y, xx] = max(out[b, o, y * q + dy, xx * q + dx]
                                                      for dy in range(q) for dx in range(q))
            h = pooled
        else:
            flat = h.reshape(n, -1)
            a = np.zeros((n, layer.out_features))
            for b in range(n):
                for j in range(layer.out_features):
                    tot = 0
                    for i in range(layer.fan_in):
                        bit = 1 if m is None else m[b, i]
                        tot += bit * flat[b, i] * layer.weight[j, i]
                    a[b, j] = tot * scale
            if li == len(net.layers) - 1:
                return layer.scale * a + layer.bias
            h = np.where(a >= layer.threshold, 1, -1)
    raise AssertionError("unreachable")


def random_net(rng, *, cin=2, hw=7, bits=3) -> Network:
    def w(*shape):
        return rng.choice(np.array([-1, 1], dtype=np.int8), size=shape)

    c1 = BinaryConv2d("c1", w(3, cin, 3, 3), stride=1, padding=1, pool=2,
                      threshold=rng.normal(0, 3, 3).round(1))
    c2 = BinaryConv2d("c2", w(4, 3, 2, 2), stride=2, padding=1, pool=1, threshold=rng.normal(0, 1, 4))
    net0 = Network((c1, c2), (cin, hw, hw), bits)
    flat = int(np.prod(net0.output_shapes()[-1]))
    f1 = BinaryLinear("f1", w(5, flat), threshold=rng.normal(0, 2, 5))
    f2 = BinaryLinear("f2", w(3, 5), scale=rng.uniform(0.5, 2, 3), bias=rng.normal(0, 1, 3))
    return Network((c1, c2, f1, f2), (cin, hw, hw), bits)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reference_matches_naive_loops(seed):
    rng = np.random.default_rng(seed)
    net = random_net(rng)
    x = rng.integers(0, 2**net.input_bits, size=(4, *net.input_shape))
    np.testing.assert_allclose(reference_forward(net, x), naive_forward(net, x, None, 0.0), rtol=1e-12)
    p = 0.3
    for per_window in (False, True):
        masks = sample_masks(net, ["c2", "f1", "f2"], p, "row", 4, rng, per_window=per_window)
        if per_window:
            assert masks["c2"].shape == (4, net.positions("c2"), net.layers[1].fan_in)
        got = reference_forward(net, x, masks, p)
        np.testing.assert_allclose(got, naive_forward(net, x, masks, p), rtol=1e-12)
        # dropping must change something for at least one input (the test can fail)
        assert not np.allclose(got, reference_forward(net, x))


def test_channel_masks_share_bits_over_kernel_rows():
    rng = np.random.default_rng(3)
    net = random_net(rng)
    m = sample_masks(net, ["c2", "f1"], 0.5, "channel", 50, rng)["c2"]
    assert m.shape == (50, 3 * 4)
    blocks = m.reshape(50, 3, 4)
    assert np.all(blocks == blocks[:, :, :1])
    assert 0.3 < m.mean() < 0.7


def test_mc_logits_stacks_passes():
    rng = np.random.default_rng(4)
    net = random_net(rng)
    x = rng.integers(0, 8, size=(6, *net.input_shape))
    out = mc_logits(net, x, ["f1"], 0.2, "row", 5, rng, chunk=7)
    assert out.shape == (5, 6, 3)
    det = mc_logits(net, x, [], 0.2, "row", 2, rng)
    np.testing.assert_array_equal(det[0], reference_forward(net, x))


def test_first_layer_cannot_be_dropped():
    rng = np.random.default_rng(0)
    net = random_net(rng)
    x = rng.integers(0, 8, size=(2, *net.input_shape))
    with pytest.raises(ValueError):
        reference_forward(net, x, {"c1": np.ones((2, 18), np.uint8)}, 0.2)


@pytest.mark.parametrize(("k", "s", "pad", "hw"), [(3, 1, 1, 6), (2, 2, 0, 7), (3, 2, 2, 5), (1, 1, 0, 4)])
def test_unfold_ordering_matches_weight_reshape(k, s, pad, hw):
    rng = np.random.default_rng(k * 10 + s)
    layer = BinaryConv2d("c", rng.choice(np.array([-1, 1], np.int8), (4, 3, k, k)), stride=s, padding=pad)
    x = rng.integers(0, 16, (2, 3, hw, hw))
    u = unfold(x, layer)
    ho, wo = conv_hw(layer, (hw, hw))
    assert u.shape == (2, ho * wo, 3 * k * k)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    for n in range(2):
        for y in range(ho):
            for xx in range(wo):
                for c in range(3):
                    for kh in range(k):
                        for kw in range(k):
                            assert u[n, y * wo + xx, c * k * k + kh * k + kw] == xp[n, c, y * s + kh, xx * s + kw]
    # unfold @ weight.reshape(out, -1).T is the convolution used by the reference
    conv = (u @ layer.weight.reshape(4, -1).T.astype(np.int64)).reshape(2, ho, wo, 4).transpose(0, 3, 1, 2)
    net = Network((layer,), (3, hw, hw), 4)
    from cimsim.network.reference import _conv_sum

    np.testing.assert_array_equal(conv, _conv_sum(x.astype(float), layer, None))
    assert net.positions("c") == ho * wo


def test_shapes_helpers():
    net = random_net(np.random.default_rng(0), hw=7)
    assert net.input_shapes()[:2] == [(2, 7, 7), (3, 3, 3)]
    assert output_hw(net.layers[0], (7, 7)) == (3, 3)
    assert output_hw(net.layers[1], (3, 3)) == (2, 2)
    assert net.positions("c1") == 49 and net.positions("c2") == 4 and net.positions("f1") == 1
    assert net.layers[0].fan_in == 18 and net.layers[1].fan_in == 12
    assert net.input_shapes()[2] == (16,)


# ---------------------------------------------------------------- weights I/O
def _write(tmp_path, net, arrays_edit=None, spec_edit=None):
    from cimsim.network.weights import network_arrays

    arrays = network_arrays(net)
    if arrays_edit:
        arrays_edit(arrays)
    np.savez(tmp_path / "w.npz", **arrays)
    d = network_spec_dict(net, "w.npz")
    if spec_edit:
        spec_edit(d)
    return NetworkSpec.model_validate(d)


def test_save_load_roundtrip(tmp_path):
    rng = np.random.default_rng(5)
    net = random_net(rng)
    save_network(net, tmp_path / "w.npz")
    spec = NetworkSpec.model_validate(network_spec_dict(net, "w.npz"))
    net2 = load_network(spec, tmp_path)
    x = rng.integers(0, 8, size=(3, *net.input_shape))
    np.testing.assert_array_equal(reference_forward(net, x), reference_forward(net2, x))
    assert net2.layers[0].weight.dtype == np.int8 and net2.layers[0].pool == 2


@pytest.mark.parametrize(("edit", "field", "what"), [
    (lambda a: a.pop("f1.weight"), "f1.weight", "missing"),
    (lambda a: a.update({"f1.weight": np.ones((5, 3), np.int8)}), "f1.weight", "shape"),
    (lambda a: a.update({"c2.weight": np.zeros((4, 3, 2, 2), np.int8)}), "c2.weight", "±1"),
    (lambda a: a["f1.threshold"].__setitem__(0, np.nan), "f1.threshold", "NaN"),
    (lambda a: a.pop("f2.bias"), "f2.bias", "missing"),
])
def test_weights_errors_name_file_and_array(tmp_path, edit, field, what):
    net = random_net(np.random.default_rng(6))
    spec = _write(tmp_path, net, arrays_edit=edit)
    with pytest.raises(WeightsError) as ei:
        load_network(spec, tmp_path)
    msg = str(ei.value)
    assert "w.npz" in msg and field in msg and what in msg
    assert ei.value.field == field and "\n" not in msg


def test_weights_chain_mismatch_and_missing_file(tmp_path):
    net = random_net(np.random.default_rng(7))

    def bad_chain(d):
        d["layers"][3]["in_features"] = 6  # f1 gives 5

    spec = _write(tmp_path, net, spec_edit=bad_chain)
    with pytest.raises(WeightsError, match=r"f2\.weight.*chain mismatch.*in_features = 5"):
        load_network(spec, tmp_path)
    spec = NetworkSpec.model_validate(network_spec_dict(net, "nope.npz"))
    with pytest.raises(WeightsError, match="nope.npz.*not found"):
        load_network(spec, tmp_path)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(WeightsError, match="junk.npz"):
        load_network(NetworkSpec.model_validate(network_spec_dict(net, "junk.npz")), tmp_path)


def test_importing_cimsim_network_does_not_import_torch():
    code = ("import sys, cimsim.network.layers, cimsim.network.reference, cimsim.network.weights, "
            "cimsim.network.datasets, cimsim.network.ood, cimsim.network.corruptions, cimsim.network.train, "
            "cimsim.functional.metrics; assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# ---------------------------------------------------------------- shipped models (golden, torch-free)
# Numbers measured with reference_forward on the digits test split (540 images), ideal hardware;
# MC: T = 20 passes, fresh masks per pass and input, np.random.default_rng(0) as in the test below.
GOLDEN = {
    "digits_mlp": {"det": 0.974, "mc": 0.974, "auroc_uniform": 0.966},
    "digits_cnn": {"det": 0.976, "mc": 0.980, "auroc_uniform": 0.988},
}


@functools.cache
def _evaluate_shipped(name):
    from cimsim.functional import metrics
    from cimsim.network.datasets import load_dataset, quantize_inputs
    from cimsim.network.ood import make_ood

    path = ROOT / "workloads" / f"{name}.yaml"
    spec = WorkloadSpec.model_validate(yaml.safe_load(path.read_text()))
    net = load_network(spec.network, path.parent)
    ds = load_dataset(spec.dataset, path.parent)
    x = quantize_inputs(ds.x_test, net.input_bits)
    rng = np.random.default_rng(0)
    d = spec.dropout
    det = metrics.accuracy(metrics.softmax(reference_forward(net, x)), ds.y_test)
    pin = metrics.softmax(mc_logits(net, x, d.layers, d.p, d.granularity, spec.mc_passes, rng))
    xo = quantize_inputs(make_ood("uniform_noise", ds.x_test, 500, np.random.default_rng(1)), net.input_bits)
    pout = metrics.softmax(mc_logits(net, xo, d.layers, d.p, d.granularity, spec.mc_passes, rng))
    return det, metrics.accuracy(pin, ds.y_test), metrics.ood_scores(pin, pout, "entropy")["auroc"]


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_shipped_model_reproduces_reported_numbers(name):
    det, mc, auc = _evaluate_shipped(name)
    g = GOLDEN[name]
    assert round(det, 3) == g["det"]
    assert round(mc, 3) == g["mc"]
    assert round(auc, 3) == g["auroc_uniform"]


def test_shipped_mlp_meets_targets():
    det, mc, auc = _evaluate_shipped("digits_mlp")
    assert det >= 0.92
    assert mc >= det - 0.01
    assert auc >= 0.95


# ---------------------------------------------------------------- BN folding (torch; skipped without it)
def test_bn_folding_with_negative_gamma_matches_torch():
    torch = pytest.importorskip("torch")
    from cimsim.network.train import build_model, export_network, verify_export

    spec = WorkloadSpec.model_validate(yaml.safe_load((ROOT / "workloads" / "digits_cnn.yaml").read_text()))
    torch.manual_seed(0)
    model = build_model(spec)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for bn in model.bns:
            c = bn.weight.shape[0]
            bn.weight.copy_(torch.randn(c, generator=g))  # mixed signs
            bn.bias.copy_(torch.randn(c, generator=g))
            bn.running_mean.copy_(torch.randn(c, generator=g) * 5)
            bn.running_var.copy_(torch.rand(c, generator=g) * 20 + 1)
        model.bns[0].weight[0] = 0.0  # constant channel
    model.eval()
    net = export_network(model, spec, temperature=0.7)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 16, size=(64, 1, 8, 8))
    res = verify_export(model, net, spec, x, rng, temperature=0.7)
    assert res == {"deterministic_match": True, "mc_match": True}
    assert np.isinf(net.layers[0].threshold[0])
