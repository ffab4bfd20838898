"""PyTorch import (torch.fx): round trips of a binary MLP, CNN and Bi-Real residual CNN against cimsim's ideal
hardware (deterministic and with a fixed dropout mask), unsupported-layer errors, the CLI and checkpoint path."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from cimsim.functional.executor import Executor  # noqa: E402
from cimsim.hardware import build_hardware  # noqa: E402
from cimsim.importers.torch_fx import ImportError_, import_checkpoint, import_module  # noqa: E402
from cimsim.mapping import map_network  # noqa: E402
from cimsim.resolve import resolve  # noqa: E402
from cimsim.spec.arch import ArchSpec  # noqa: E402
from cimsim.spec.workload import WorkloadSpec  # noqa: E402

P = 0.25


class BinLinear(nn.Linear):
    def forward(self, x):
        return F.linear(x, torch.sign(self.weight), self.bias)


class BinConv(nn.Conv2d):
    def forward(self, x):
        return F.conv2d(x, torch.sign(self.weight), self.bias, self.stride, self.padding)


def _bn(m, rng, shift=3.0):
    """Random but fixed batch-norm statistics (some negative γ: weight flips)."""
    with torch.no_grad():
        m.weight.copy_(torch.tensor(rng.uniform(0.3, 1.5, m.num_features) * rng.choice([1, -1], m.num_features)))
        m.bias.copy_(torch.tensor(rng.normal(0, 0.5 * shift / 3, m.num_features)))
        m.running_mean.copy_(torch.tensor(rng.normal(0, shift, m.num_features)))
        m.running_var.copy_(torch.tensor(rng.uniform(0.5, 4, m.num_features)))
    return m


def _odd_grid(m, rng, bits=4, step=2.0 ** -6):
    """Plain (multi-bit) layer weights on the odd grid, so quantization is exact."""
    with torch.no_grad():
        q = 2 * rng.integers(0, 2 ** bits, size=tuple(m.weight.shape)) - (2 ** bits - 1)
        q.reshape(q.shape[0], -1)[:, 0] = 2 ** bits - 1  # every row reaches the top level: its step is `step`
        m.weight.copy_(torch.tensor(q * step))
    return m


class MLP(nn.Module):
    def __init__(self, rng):
        super().__init__()
        self.fc1, self.bn1 = BinLinear(16, 12), _bn(nn.BatchNorm1d(12), rng)
        self.drop = nn.Dropout(P)
        self.fc2, self.bn2 = BinLinear(12, 5), _bn(nn.BatchNorm1d(5), rng)

    def forward(self, x):
        x = torch.flatten(x, 1)
        x = torch.sign(self.bn1(self.fc1(x)))
        return self.bn2(self.fc2(self.drop(x)))


class Sign(nn.Module):
    def forward(self, x):
        return torch.sign(x)


class CNN(nn.Module):
    def __init__(self, rng):
        super().__init__()
        self.c1, self.b1 = BinConv(1, 4, 3, padding=1), _bn(nn.BatchNorm2d(4), rng)
        self.c2, self.b2 = BinConv(4, 6, 3, padding=1, bias=False), _bn(nn.BatchNorm2d(6), rng)
        self.pool = nn.MaxPool2d(2)
        self.act = Sign()  # a custom module is traced through to torch.sign
        self.drop = nn.Dropout(P)
        self.fc = BinLinear(6 * 3 * 3, 5)

    def forward(self, x):
        x = self.act(self.b1(self.c1(x)))
        x = self.pool(self.act(self.b2(self.c2(x))))
        return self.fc(self.drop(x.flatten(1)))


class ResNet(nn.Module):
    """Bi-Real: multi-bit stem and classifier, x ← BN(conv(sign x)) + x, a 1×1 stride-2 shortcut, pools."""

    def __init__(self, rng):
        super().__init__()
        self.stem, self.bs = _odd_grid(nn.Conv2d(2, 4, 3, padding=1), rng), _bn(nn.BatchNorm2d(4), rng)
        self.c1, self.b1 = BinConv(4, 4, 3, padding=1), _bn(nn.BatchNorm2d(4), rng)
        # centred statistics: the pooled signs that reach the classifier vary from input to input
        self.c2, self.b2 = BinConv(4, 8, 3, stride=2, padding=1), _bn(nn.BatchNorm2d(8), rng, shift=0.3)
        self.ds, self.bd = BinConv(4, 8, 1, stride=2), _bn(nn.BatchNorm2d(8), rng, shift=0.3)
        self.ap = nn.AvgPool2d(2, 1)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(P)
        self.fc = _odd_grid(nn.Linear(8, 5), rng)

    def forward(self, x):
        x = self.bs(self.stem(x))
        x = self.b1(self.c1(torch.sign(x))) + x
        s = torch.sign(x)
        x = self.b2(self.c2(s)) + self.bd(self.ds(s))
        x = torch.flatten(self.gap(self.ap(x)), 1)
        return self.fc(self.drop(torch.sign(x)))


def _cimsim(imp, passes=2):
    wl = WorkloadSpec.model_validate(imp.workload)
    d = resolve(ArchSpec(), wl)
    mp = map_network(d)
    return Executor(build_hardware(d, mp), mp, imp.network, seed=0, passes=passes)


@pytest.mark.parametrize(("model", "shape", "bits"), [(MLP, (1, 4, 4), 3), (CNN, (1, 6, 6), 3),
                                                       (ResNet, (2, 6, 6), 3)])
def test_round_trip_matches_torch_eval_and_a_fixed_dropout_mask(model, shape, bits):
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    m = model(rng).double().eval()
    imp = import_module(m, shape, input_bits=bits, weight_bits=4)
    assert imp.dropout_p == P and imp.workload["dropout"]["layers"]
    ex = _cimsim(imp)
    assert ex.exact
    x = rng.integers(0, 2 ** bits, size=(16, *shape))
    with torch.no_grad():
        want = m(torch.tensor(x, dtype=torch.float64)).numpy()
    got = ex.forward(x, mc=False, stream=0, input_ids=np.arange(16))[0]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
    assert len(np.unique(want.round(9), axis=0)) >= 4  # the outputs depend on the input
    # MC: cimsim's recorded keep mask applied to torch's dropout input (kept values × 1/(1 - p))
    rec: dict = {}
    got_mc = ex.forward(x, mc=True, stream=0, input_ids=np.arange(16), record=rec)
    (layer,) = imp.workload["dropout"]["layers"]
    for t in range(2):
        keep = torch.tensor(np.asarray(rec[layer])[t, :, 0, :], dtype=torch.float64)
        h = m.drop.register_forward_hook(lambda mod, inp, out, k=keep: inp[0] * k / (1 - P))
        with torch.no_grad():
            want_t = m(torch.tensor(x, dtype=torch.float64)).numpy()
        h.remove()
        np.testing.assert_allclose(got_mc[t], want_t, rtol=1e-9, atol=1e-9)


def test_unsupported_layer_is_named_with_its_position():
    class Bad(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.act, self.fc2 = BinLinear(4, 4), nn.ReLU(), BinLinear(4, 2)

        def forward(self, x):
            return self.fc2(self.act(self.fc1(x.flatten(1))))

    with pytest.raises(ImportError_, match=r"#3 'act'.*call_module act"):
        import_module(Bad(), (1, 2, 2))


def test_checkpoint_import_writes_a_runnable_workload(tmp_path):
    rng = np.random.default_rng(1)
    (tmp_path / "model.py").write_text(
        "import numpy as np\nfrom tests.test_import_torch import CNN\n"
        "def make():\n    return CNN(np.random.default_rng(5))\n")
    torch.save(CNN(rng).state_dict(), tmp_path / "ckpt.pt")
    from click.testing import CliRunner

    from cimsim.cli import cli
    res = CliRunner().invoke(cli, ["import", "torch", f"{tmp_path / 'model.py'}:make", str(tmp_path / "ckpt.pt"),
                                   "--out", str(tmp_path / "out"), "--input-shape", "1,6,6", "--input-bits", "3",
                                   "--dataset", "digits"])
    assert res.exit_code == 0, res.output
    from cimsim.simulate import Options, simulate
    r = simulate(ArchSpec(), tmp_path / "out" / "model.yaml", Options(hardware_only=True, passes=2))
    assert r.ledger.per_inference_j > 0
    with pytest.raises(Exception, match="checkpoint"):
        (tmp_path / "bad.pt").write_bytes(b"junk")
        import_checkpoint(tmp_path / "model.py", "make", tmp_path / "bad.pt", tmp_path / "o2", input_shape=(1, 6, 6))
