"""BinaryNet-style training of a Bayesian BNN with MC-dropout, exported to cimsim's canonical weights.

The only cimsim module that uses torch (imported inside functions). Usage::

    python -m cimsim.network.train workloads/digits_mlp.yaml --seed 0

reads the workload YAML (architecture, data set, dropout layers / p / granularity), trains, folds batch norm
into thresholds (hidden layers) and scale/bias (last layer), writes the ``network.weights`` .npz named in the
YAML, checks with :func:`cimsim.network.reference.reference_forward` that numpy reproduces torch, and prints
deterministic and MC accuracy and OOD AUROC. See docs/training.md.

Recipe: latent real weights clipped to [-1, 1], forward with sign(w) (straight-through estimator);
binary layer -> BatchNorm -> sign activation (hardtanh STE) -> max-pool (conv, after the sign); the last
layer -> BatchNorm = logits. Dropout (inverted: kept values scaled by 1/(1-p) in training) acts on the inputs
of the layers in ``dropout.layers``: granularity ``row`` (and ``None``) drops single input elements, ``channel``
drops whole input channels of a conv layer (a linear layer falls back to elements), ``layer_scale``
(Scale-Dropout, arXiv:2311.15816) drops the layer's whole scale with one bit per sample: the pre-BN sum is
multiplied by m/(1-p), m ~ Bernoulli(1-p), so a dropped sample's layer output is BN's bias pattern.
The first layer sees the quantized integer inputs (0..2**input_bits-1) and is never dropped.

``--seeds A-B --out-dir DIR`` trains one network per seed A..B with the same recipe and writes
``DIR/<workload name>_seed<k>.npz`` for each (the per-seed weights of the seed-spread validation cases,
cimsim/validation/algorithm.py), printing one JSON line per seed (deterministic test accuracy, train time).
Weights files are written deflate-compressed (``numpy.savez_compressed``; ±1 int8 weights shrink about 6:1).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from cimsim.errors import DataError
from cimsim.functional import metrics
from cimsim.network.datasets import Dataset, load_dataset, quantize_inputs
from cimsim.network.layers import BinaryConv2d, BinaryLinear, Network
from cimsim.network.ood import make_ood
from cimsim.network.reference import mc_logits, reference_forward, sample_masks
from cimsim.network.weights import load_network, network_arrays
from cimsim.spec.workload import Conv2dLayerSpec, WorkloadSpec


def load_workload(path: Path | str) -> WorkloadSpec:
    """Read a workload YAML (yaml.safe_load + WorkloadSpec validation)."""
    import yaml

    with open(path) as fh:
        return WorkloadSpec.model_validate(yaml.safe_load(fh))


def build_model(spec: WorkloadSpec):
    """The torch model for ``spec`` (a torch.nn.Module with ``forward(x, masks=None, mc=False)``)."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class SignSTE(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * (x.abs() <= 1).to(grad.dtype)

    net_spec = spec.network
    dropped = set(spec.dropout.layers)
    p = spec.dropout.p
    gran = spec.dropout.granularity or "row"

    class BNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.specs = list(net_spec.layers)
            self.weights = nn.ParameterList()
            self.bns = nn.ModuleList()
            for ls in self.specs:
                if isinstance(ls, Conv2dLayerSpec):
                    w = torch.empty(ls.out_channels, ls.in_channels, ls.kernel_size, ls.kernel_size)
                    self.bns.append(nn.BatchNorm2d(ls.out_channels))
                else:
                    w = torch.empty(ls.out_features, ls.in_features)
                    self.bns.append(nn.BatchNorm1d(ls.out_features))
                nn.init.uniform_(w, -0.5, 0.5)
                self.weights.append(nn.Parameter(w))

        def clip_(self) -> None:
            with torch.no_grad():
                for w in self.weights:
                    w.clamp_(-1.0, 1.0)

        def _drop(self, h, ls, masks, mc):
            if ls.name not in dropped:
                return h
            if masks is not None:
                return h * masks[ls.name].to(h.dtype) / (1.0 - p)
            if not (self.training or mc):
                return h
            if gran == "layer_scale":  # one bit per sample scales the layer's whole sum (Scale-Dropout)
                keep = (torch.rand(h.shape[0], *([1] * (h.dim() - 1)), dtype=h.dtype) >= p).to(h.dtype)
            elif gran == "channel" and h.dim() == 4:
                keep = (torch.rand(h.shape[0], h.shape[1], 1, 1, dtype=h.dtype) >= p).to(h.dtype)
            else:
                keep = (torch.rand(h.shape, dtype=h.dtype) >= p).to(h.dtype)
            return h * keep / (1.0 - p)

        def forward(self, x, masks=None, mc=False):
            h = x
            last = len(self.specs) - 1
            for i, (ls, w, bn) in enumerate(zip(self.specs, self.weights, self.bns, strict=True)):
                wb = SignSTE.apply(w)
                if isinstance(ls, Conv2dLayerSpec):
                    h = self._drop(h, ls, masks, mc)
                    h = F.conv2d(h, wb, stride=ls.stride, padding=ls.padding)
                else:
                    h = self._drop(h.flatten(1), ls, masks, mc)
                    h = h @ wb.t()
                h = bn(h)
                if i == last:
                    return h
                h = SignSTE.apply(h)
                if isinstance(ls, Conv2dLayerSpec) and ls.pool > 1:
                    h = F.max_pool2d(h, ls.pool)
            return h

    return BNN()


def export_network(model, spec: WorkloadSpec, temperature: float = 1.0) -> Network:
    """Fold batch norm into thresholds (hidden) and scale/bias (last); logits are divided by ``temperature``.

    Hidden layer j: BN(a) = g (a - mu) / sd + b >= 0  <=>  a >= t with t = mu - b sd / g when g > 0; when
    g < 0 it is a <= t, i.e. (-a) >= -t, so the weights of output j are negated and the threshold is -t
    (sign is applied before the max-pool, so the pool sees identical ±1 values). g == 0 gives a constant
    output: threshold -inf (b >= 0) or +inf.
    """
    import torch

    layers = []
    last = len(spec.network.layers) - 1
    with torch.no_grad():
        for i, (ls, w, bn) in enumerate(zip(spec.network.layers, model.weights, model.bns, strict=True)):
            wb = np.where(w.detach().double().numpy() >= 0, 1, -1).astype(np.int8)
            g = bn.weight.detach().double().numpy()
            b = bn.bias.detach().double().numpy()
            mu = bn.running_mean.detach().double().numpy()
            sd = np.sqrt(bn.running_var.detach().double().numpy() + bn.eps)
            extra = {}
            if i == last:
                extra["scale"] = g / sd / temperature
                extra["bias"] = (b - g * mu / sd) / temperature
            else:
                with np.errstate(divide="ignore", invalid="ignore"):
                    t = mu - b * sd / g
                neg = g < 0
                t = np.where(neg, -t, t)
                t = np.where(g == 0, np.where(b >= 0, -np.inf, np.inf), t)
                wb[neg] = -wb[neg]
                extra["threshold"] = t.astype(np.float64)
            if isinstance(ls, Conv2dLayerSpec):
                layers.append(BinaryConv2d(ls.name, wb, stride=ls.stride, padding=ls.padding, pool=ls.pool, **extra))
            else:
                layers.append(BinaryLinear(ls.name, wb, **extra))
    return Network(tuple(layers), tuple(spec.network.input_shape), spec.network.input_bits)


def _torch_masks(net: Network, masks: dict[str, np.ndarray], gran: str):
    """numpy crossbar-row masks -> torch input masks (only for masks that an input mask can express)."""
    import torch

    out = {}
    for name, m in masks.items():
        layer = net.layer(name)
        if isinstance(layer, BinaryConv2d):
            if gran != "channel":
                return None
            k2 = layer.kernel_size ** 2
            out[name] = torch.from_numpy(m[:, ::k2].astype(np.float64))[:, :, None, None]
        else:
            out[name] = torch.from_numpy(m.astype(np.float64))
    return out


def verify_export(model, net: Network, spec: WorkloadSpec, x_int: np.ndarray, rng: np.random.Generator,
                  temperature: float = 1.0) -> dict:
    """Check numpy (reference_forward) against torch (float64, eval) in deterministic and MC mode.

    Asserts identical predictions and logits equal to 1e-6 (relative), so exported accuracy == torch accuracy.
    """
    import copy

    import torch

    m64 = copy.deepcopy(model).double().eval()
    xt = torch.from_numpy(x_int.astype(np.float64))
    with torch.no_grad():
        lt = m64(xt).numpy() / temperature
    ln = reference_forward(net, x_int)
    assert np.array_equal(lt.argmax(1), ln.argmax(1)), "export: deterministic predictions differ from torch"
    assert np.allclose(ln, lt, rtol=1e-6, atol=1e-6), "export: deterministic logits differ from torch"
    res = {"deterministic_match": True, "mc_match": None}
    gran = spec.dropout.granularity or "row"
    if spec.dropout.layers:
        masks = sample_masks(net, spec.dropout.layers, spec.dropout.p, gran, len(x_int), rng)
        tm = _torch_masks(net, masks, gran)
        if tm is not None:
            with torch.no_grad():
                lt = m64(xt, masks=tm).numpy() / temperature
            ln = reference_forward(net, x_int, masks, spec.dropout.p)
            assert np.array_equal(lt.argmax(1), ln.argmax(1)), "export: MC predictions differ from torch"
            assert np.allclose(ln, lt, rtol=1e-6, atol=1e-6), "export: MC logits differ from torch"
            res["mc_match"] = True
    return res


def evaluate(net: Network, spec: WorkloadSpec, ds: Dataset, seed: int = 0) -> dict:
    """Ideal-hardware metrics with reference_forward: deterministic, MC (T = mc_passes), OOD AUROC (entropy)."""
    rng = np.random.default_rng(seed)
    bits = net.input_bits
    x = quantize_inputs(ds.x_test, bits)
    y = ds.y_test
    det = metrics.softmax(reference_forward(net, x))[None]
    gran = spec.dropout.granularity or "row"
    mc = metrics.softmax(mc_logits(net, x, spec.dropout.layers, spec.dropout.p, gran, spec.mc_passes, rng))
    out = {"deterministic": metrics.summarize(det, y), "mc": metrics.summarize(mc, y), "ood": {}}
    for name in spec.ood:
        try:
            xo = quantize_inputs(make_ood(name, ds.x_test, spec.ood_samples, rng), bits)
        except DataError as exc:  # e.g. Pillow missing for sample_images
            out["ood"][name] = {"error": str(exc)}
            continue
        po = metrics.softmax(mc_logits(net, xo, spec.dropout.layers, spec.dropout.p, gran, spec.mc_passes, rng))
        pd = metrics.softmax(reference_forward(net, xo))[None]
        out["ood"][name] = {
            "mc_auroc_entropy": metrics.ood_scores(mc, po, "entropy", spec.ood_quantile)["auroc"],
            "mc_auroc_mi": metrics.ood_scores(mc, po, "mutual_information", spec.ood_quantile)["auroc"],
            "mc_detection_rate_entropy": metrics.ood_scores(mc, po, "entropy", spec.ood_quantile)["detection_rate"],
            "det_auroc_entropy": metrics.ood_scores(det, pd, "entropy", spec.ood_quantile)["auroc"],
        }
    return out


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Scalar temperature minimising the NLL of softmax(logits / T) (golden-section search on log T)."""
    from scipy.optimize import minimize_scalar

    def f(logt: float) -> float:
        return metrics.nll(metrics.softmax(logits / np.exp(logt)), labels)

    return float(np.exp(minimize_scalar(f, bounds=(-4, 4), method="bounded").x))


def train(spec: WorkloadSpec, base_dir: Path, seed: int = 0, epochs: int = 300, lr: float = 1e-2,
          batch_size: int = 64, weight_decay: float = 0.0, temperature: str | float = "fit",
          val_fraction: float = 0.15, log=None):
    """Train on the workload's data set; returns (torch model, exported Network, info dict).

    ``temperature``: a number (logits divided by it) or ``"fit"`` (NLL-optimal on a held-out validation part
    of the training set, MC mean softmax not used; deterministic logits). The validation part is held out of
    training only when temperature is fitted.
    """
    import torch
    from torch.nn import functional as F

    if log is None:
        def log(msg: str) -> None:
            print(msg, file=sys.stderr)

    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    rng = np.random.default_rng(seed)

    ds = load_dataset(spec.dataset, base_dir)
    bits = spec.network.input_bits
    x_all = quantize_inputs(ds.x_train, bits).astype(np.float32)
    y_all = ds.y_train
    idx = rng.permutation(len(y_all))
    n_val = int(round(val_fraction * len(y_all))) if temperature == "fit" else 0
    val_idx, tr_idx = idx[:n_val], idx[n_val:]
    xtr = torch.from_numpy(x_all[tr_idx])
    ytr = torch.from_numpy(y_all[tr_idx])

    model = build_model(spec)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps_per_epoch = (len(tr_idx) + batch_size - 1) // batch_size
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
    gen = torch.Generator().manual_seed(seed)
    t0 = time.time()
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(ytr), generator=gen)
        tot = 0.0
        for s in range(steps_per_epoch):
            b = perm[s * batch_size : (s + 1) * batch_size]
            if len(b) < 2:
                continue
            loss = F.cross_entropy(model(xtr[b]), ytr[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            model.clip_()
            tot += loss.item() * len(b)
        if log and (ep % max(1, epochs // 10) == 0 or ep == epochs - 1):
            log(f"epoch {ep + 1}/{epochs} loss {tot / len(ytr):.4f} ({time.time() - t0:.1f} s)")
    model.eval()
    temp = 1.0
    if temperature == "fit" and n_val:
        net1 = export_network(model, spec, 1.0)
        temp = fit_temperature(reference_forward(net1, x_all[val_idx]), y_all[val_idx])
    elif temperature != "fit":
        temp = float(temperature)
    net = export_network(model, spec, temp)
    check = verify_export(model, net, spec, quantize_inputs(ds.x_test, bits), rng, temp)
    info = {"seed": seed, "epochs": epochs, "lr": lr, "batch_size": batch_size, "temperature": temp,
            "train_seconds": round(time.time() - t0, 1), "verify": check}
    return model, net, info, ds


def save_compressed(net: Network, path: Path | str) -> None:
    """Write ``net`` in the canonical format as a deflate-compressed .npz (read by the same loader)."""
    np.savez_compressed(Path(path), **network_arrays(net))


def parse_seeds(text: str) -> list[int]:
    """``"3"`` -> [3]; ``"0-7"`` -> [0, ..., 7]. ValueError otherwise."""
    lo, _, hi = text.partition("-")
    seeds = list(range(int(lo), int(hi or lo) + 1))
    if not seeds or seeds[0] < 0:
        raise ValueError(f"--seeds {text!r}: expected N or A-B with 0 <= A <= B")
    return seeds


def train_seeds(spec: WorkloadSpec, base: Path, seeds: list[int], out_dir: Path, **kwargs) -> list[dict]:
    """Train one network per seed; write ``out_dir/<spec.name>_seed<k>.npz``; one summary dict per seed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for seed in seeds:
        _, net, info, ds = train(spec, base, seed, **kwargs)
        path = out_dir / f"{spec.name}_seed{seed}.npz"
        save_compressed(net, path)
        acc = float((reference_forward(net, quantize_inputs(ds.x_test, net.input_bits)).argmax(1)
                     == ds.y_test).mean())
        row = {"seed": seed, "weights": str(path), "deterministic_accuracy": acc,
               "temperature": info["temperature"], "train_seconds": info["train_seconds"]}
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m cimsim.network.train", description=__doc__.split("\n\n")[0])
    ap.add_argument("workload", type=Path, help="workload YAML; its network.weights .npz is (over)written")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--temperature", default="fit", help="'fit' (NLL on 15%% of train held out) or a number")
    ap.add_argument("--val-fraction", type=float, default=0.15)
    ap.add_argument("--out", type=Path, default=None, help="write here instead of the YAML's network.weights")
    ap.add_argument("--seeds", default=None, help="N or A-B: train one network per seed (with --out-dir)")
    ap.add_argument("--out-dir", type=Path, default=None, help="folder of the per-seed files (--seeds)")
    args = ap.parse_args(argv)

    spec = load_workload(args.workload)
    base = args.workload.resolve().parent
    temp = args.temperature if args.temperature == "fit" else float(args.temperature)
    if args.seeds is not None:
        if args.out_dir is None:
            ap.error("--seeds needs --out-dir")
        try:
            seeds = parse_seeds(args.seeds)
        except ValueError as exc:
            ap.error(str(exc))
        train_seeds(spec, base, seeds, args.out_dir, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                    weight_decay=args.weight_decay, temperature=temp, val_fraction=args.val_fraction)
        return 0
    model, net, info, ds = train(spec, base, args.seed, args.epochs, args.lr, args.batch_size,
                                 args.weight_decay, temp, args.val_fraction)
    # torch eval accuracy must equal the exported numpy accuracy
    import torch

    xq = quantize_inputs(ds.x_test, net.input_bits)
    with torch.no_grad():
        acc_torch = float((model.double()(torch.from_numpy(xq.astype(np.float64))).argmax(1).numpy()
                           == ds.y_test).mean())
    acc_np = float((reference_forward(net, xq).argmax(1) == ds.y_test).mean())
    assert acc_torch == acc_np, f"torch accuracy {acc_torch} != exported numpy accuracy {acc_np}"
    out = args.out or base / spec.network.weights
    save_compressed(net, out)
    reloaded = load_network(spec.network.model_copy(update={"weights": str(Path(out).resolve())}), base)
    assert np.array_equal(reference_forward(reloaded, xq), reference_forward(net, xq))
    res = evaluate(reloaded, spec, ds, seed=0)
    print(json.dumps({"workload": str(args.workload), "weights": str(out), "torch_accuracy": acc_torch,
                      **info, **res}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
