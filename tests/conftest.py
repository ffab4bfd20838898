"""Shared fixtures: the shipped specs, networks and data, loaded once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from cimsim.network.datasets import load_dataset, quantize_inputs
from cimsim.network.weights import load_network
from cimsim.spec.loader import load_arch, load_workload

ROOT = Path(__file__).resolve().parent.parent
ARCH = ROOT / "arch_configs" / "spindrop.yaml"
MLP = ROOT / "workloads" / "digits_mlp.yaml"
CNN = ROOT / "workloads" / "digits_cnn.yaml"


@pytest.fixture(scope="session")
def arch():
    return load_arch(ARCH)


@pytest.fixture(scope="session", params=["mlp", "cnn"])
def shipped(request):
    """(workload spec, network, quantized test inputs, labels) of a shipped workload."""
    path = MLP if request.param == "mlp" else CNN
    wl = load_workload(path)
    net = load_network(wl.network, path.parent)
    ds = load_dataset(wl.dataset, path.parent)
    return wl, net, quantize_inputs(ds.x_test, wl.network.input_bits), ds.y_test
