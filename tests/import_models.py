"""Small PyTorch BNNs of the patterns issue 18 found refused, built with seeded weights (imported by the tests and,
as a MODULE.py, by `cimsim import torch`): a flatten by ``x.view(x.size(0), -1)``, dropout between a max-pool and
the flatten, a static-batch reshape, Bi-Real's downsample shortcut (AvgPool + real 1×1 conv + BN) and the original
Bi-Real ResNet-18 topology (liuzechun/Bi-Real-net, CIFAR stem) at a small width."""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch import nn

from cimsim.importers.builder import odd_levels

P = 0.25


class BinConv(nn.Conv2d):
    """Bi-Real's HardBinaryConv in eval: sign of the latent weights (its per-channel scale folds into the BN)."""

    def forward(self, x):
        return nn.functional.conv2d(x, torch.sign(self.weight), self.bias, self.stride, self.padding)


class BinLinear(nn.Linear):
    def forward(self, x):
        return nn.functional.linear(x, torch.sign(self.weight), self.bias)


def seeded(m: nn.Module, seed: int, shape: tuple[int, int, int] = (1, 8, 8), bits: int = 3, batch: int = 32
           ) -> nn.Module:
    """Every weight from ``seed`` (latent binary weights, plain layers ~ N(0, 1/fan_in) snapped to 8-bit odd levels
    per row, so that only real-valued inputs are quantized on import) and batch-norm running
    statistics measured as training would: over 4 batches of seeded ``bits``-bit inputs (cumulative average), then
    γ, β seeded (some γ < 0: weight flips). Returns the float64 model in eval mode."""
    rng = np.random.default_rng(seed)
    m = m.double()
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.Linear | nn.Conv2d):
                fan = mod.weight[0].numel()
                mod.weight.copy_(torch.tensor(rng.normal(0, fan ** -0.5, tuple(mod.weight.shape))))
                if type(mod) in (nn.Linear, nn.Conv2d):  # plain layers on the 8-bit odd grid: imported exactly
                    alpha, q = odd_levels(mod.weight.numpy(), 8)
                    mod.weight.copy_(torch.tensor(alpha.reshape(-1, *[1] * (q.ndim - 1)) * q))
                if mod.bias is not None:
                    mod.bias.copy_(torch.tensor(rng.normal(0, 0.3, mod.bias.shape[0])))
            elif isinstance(mod, nn.BatchNorm1d | nn.BatchNorm2d):
                mod.momentum = None
                mod.reset_running_stats()
                mod.weight.copy_(torch.tensor(rng.uniform(0.3, 1.5, mod.num_features)
                                              * rng.choice([1, -1], mod.num_features)))
                mod.bias.copy_(torch.tensor(rng.normal(0, 0.3, mod.num_features)))
        m.train()
        for _ in range(4):
            m(torch.tensor(rng.integers(0, 2 ** bits, size=(batch, *shape)), dtype=torch.float64))
    return m.eval()  # the make_* factories below are cached: one model per process, never mutated by a test


class ViewCNN(nn.Module):
    """``x.view(x.size(0), -1)`` before the classifier (refused by the torch importer before)."""

    def __init__(self):
        super().__init__()
        self.c1, self.b1 = BinConv(1, 6, 3, padding=1), nn.BatchNorm2d(6)
        self.pool = nn.MaxPool2d(2)
        self.fc = BinLinear(6 * 4 * 4, 10)

    def forward(self, x):
        x = self.pool(torch.sign(self.b1(self.c1(x))))
        return self.fc(x.view(x.size(0), -1))


class DropPoolCNN(nn.Module):
    """Dropout between the max-pool and the flatten: row dropout on the classifier's inputs."""

    def __init__(self):
        super().__init__()
        self.c1, self.b1 = BinConv(1, 6, 3, padding=1), nn.BatchNorm2d(6)
        self.pool, self.drop = nn.MaxPool2d(2), nn.Dropout(P)
        self.fc = BinLinear(6 * 4 * 4, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.drop(self.pool(torch.sign(self.b1(self.c1(x))))), 1))


class Batch2CNN(nn.Module):
    """A flatten by a constant (2, features) reshape: what torch's dynamo exporter writes for a static batch of 2."""

    def __init__(self):
        super().__init__()
        self.c1, self.b1 = BinConv(1, 4, 3, padding=1), nn.BatchNorm2d(4)
        self.pool = nn.MaxPool2d(2)
        self.fc = BinLinear(64, 10)

    def forward(self, x):
        return self.fc(self.pool(torch.sign(self.b1(self.c1(x)))).reshape(2, 64))


class BasicBlock(nn.Module):
    """Bi-Real's block: out = BN(binconv(sign x)) + residual, residual = downsample(x) (AvgPool + 1×1 conv + BN)."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.binary_conv, self.bn1 = BinConv(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.AvgPool2d(kernel_size=2, stride=stride),
                                            nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        residual = x
        out = self.bn1(self.binary_conv(torch.sign(x)))
        if self.downsample is not None:
            residual = self.downsample(x)
        out += residual
        return out


class BiRealNet(nn.Module):
    """Bi-Real Net (Liu et al., ECCV 2018) ResNet-18 layout [2, 2, 2, 2] with the CIFAR stem (3×3 conv, no
    max-pool), ``width`` channels in the first stage; the classifier reads the pooled real features."""

    def __init__(self, width=4, classes=10, layers=(2, 2, 2, 2)):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width)
        self.maxpool = nn.Identity()
        blocks, cin = [], width
        for i, n in enumerate(layers):
            cout = width * 2 ** i
            for j in range(n):
                blocks.append(BasicBlock(cin, cout, 2 if (i > 0 and j == 0) else 1))
                cin = cout
        self.layers = nn.Sequential(*blocks)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.maxpool(self.bn1(self.conv1(x)))
        x = self.avgpool(self.layers(x))
        x = x.view(x.size(0), -1)
        return self.fc(x)


class DownsampleNet(nn.Module):
    """One Bi-Real downsample block between a binary stem block and a binary classifier."""

    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4)
        self.block = BasicBlock(4, 8, stride=2)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = BinLinear(8, 10)

    def forward(self, x):
        x = self.block(self.bn1(self.conv1(x)))
        return self.fc(torch.sign(torch.flatten(self.gap(x), 1)))


@functools.cache
def make_view():
    return seeded(ViewCNN(), 1)


@functools.cache
def make_droppool():
    return seeded(DropPoolCNN(), 2)


@functools.cache
def make_batch2():
    return seeded(Batch2CNN(), 5, batch=2)


@functools.cache
def make_downsample():
    return seeded(DownsampleNet(), 3)


@functools.cache
def make_bireal():
    return seeded(BiRealNet(), 4, shape=(3, 8, 8), bits=8)
