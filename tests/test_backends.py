"""One functional implementation on any array library (issue 20 item 1): numpy and torch give the same bits —
predictions, logits, per-sample tables, activity counts and energies — on every shipped workload and arch,
on a residual graph, and with variation, sense noise and faults. GPU runs where a GPU is present."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.synthetic import synthetic_workload
from cimsim.errors import ConfigError
from cimsim.functional.backend import get_backend
from cimsim.functional.executor import Executor
from cimsim.hardware import build_hardware
from cimsim.mapping import map_network
from cimsim.network.weights import load_network
from cimsim.resolve import resolve
from cimsim.simulate import Options, simulate
from cimsim.spec.loader import load_arch, load_workload

from .conftest import ROOT

torch = pytest.importorskip("torch")

ARCHS = sorted(p.stem for p in (ROOT / "arch_configs").glob("*.yaml"))
SHIPPED_WITH_DATA = ("digits_mlp", "digits_cnn", "digits_mlp_scale")
# workloads whose weights or data set are not shipped (or that are shape-only): synthetic weights and images
OTHERS = [p.stem for p in sorted((ROOT / "workloads").glob("*.yaml")) if p.stem not in SHIPPED_WITH_DATA]
NO_GPU = "no CUDA device on this machine"


def _same_result(a, b) -> None:
    ja, jb = a.to_json(), b.to_json()
    ja.pop("wall_time_s"), jb.pop("wall_time_s")
    assert ja == jb                                                  # metrics, energies, counts' prices, chips
    assert repr(a.ledger.rows) == repr(b.ledger.rows)               # every action count, bit for bit
    pd.testing.assert_frame_equal(a.per_sample_df(), b.per_sample_df(), check_exact=True)
    if a.ood_scores is not None:
        pd.testing.assert_frame_equal(a.ood_scores, b.ood_scores, check_exact=True)


def _arch(name: str, **sets):
    return load_arch(ROOT / "arch_configs" / f"{name}.yaml", list(sets.items()))


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("workload", SHIPPED_WITH_DATA)
def test_shipped_workloads_are_bit_identical_on_torch(arch, workload):
    full = arch == "spindrop"  # OOD sets and corruptions on one arch keep the default suite short
    opt = dict(limit=12, passes=3, seed=7, ood=full, corruptions=full, threads=1)
    wl = ROOT / "workloads" / f"{workload}.yaml"
    a = simulate(_arch(arch), wl, Options(**opt))
    b = simulate(_arch(arch), wl, Options(**opt, backend="torch"))
    _same_result(a, b)


def test_variation_noise_faults_and_chips_are_bit_identical_on_torch():
    """Cell variation (GRID-exact float64 sums), sense noise (host draws), stuck cells, converter offsets,
    module faults and three chip instances."""
    arch = _arch("spindrop_adc", **{"variation.enabled": True, "variation.sense_noise_sigma_lsb": 0.4,
                                    "variation.chips": 3, "faults.cells.stuck_lrs": 0.01,
                                    "faults.converters.offset_sigma_lsb": 0.3,
                                    "faults.dropout_modules.stuck_at_drop": 0.05})
    opt = dict(limit=8, passes=2, seed=2, corruptions=False, threads=1)
    wl = load_workload(ROOT / "workloads" / "digits_cnn.yaml", [("ood_samples", 10)])
    base = ROOT / "workloads"
    _same_result(simulate(arch, wl, Options(**opt), base_dir=base),
                 simulate(arch, wl, Options(**opt, backend="torch"), base_dir=base))


def _executors(arch, wl_path: Path, **kw):
    wl = load_workload(wl_path)
    design = resolve(arch, wl)
    mp = map_network(design)
    hw = build_hardware(design, mp)
    net = load_network(wl.network, wl_path.parent)
    return [Executor(hw, mp, net, seed=11, passes=3, threads=1, backend=get_backend(b), **kw)
            for b in ("numpy", "torch")], net


def _same_logits_and_tallies(exs, x) -> None:
    out = []
    for ex in exs:
        tallies = ex.new_tallies()
        ex.shared_mask_tallies(tallies)
        logits = ex.run(x, tallies=tallies, chunk=3)
        out.append((logits, ex.counts(tallies)))
    np.testing.assert_array_equal(out[0][0], out[1][0])
    assert out[0][1] == out[1][1]


@pytest.mark.parametrize("changes", [{}, {"variation.enabled": True, "variation.sense_noise_sigma_lsb": 0.3},
                                     {"faults.cells.stuck_hrs": 0.02, "column_periphery.bits": 3}])
def test_residual_graph_logits_and_tallies_are_bit_identical_on_torch(tmp_path, changes):
    from .test_graph import _workload, residual_net

    net = residual_net(np.random.default_rng(4))
    path = _workload(tmp_path, net)
    exs, _ = _executors(_arch("spindrop_adc", **changes), path)
    _same_logits_and_tallies(exs, np.random.default_rng(5).integers(0, 8, size=(7, 2, 6, 6)))


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("workload", OTHERS)
def test_large_workloads_on_synthetic_weights_are_bit_identical_on_torch(tmp_path, arch, workload):
    """Every other shipped workload (CIFAR VGG-small, ResNet-18, MNIST MLP; shape-only or without their data
    here) on seeded synthetic weights and images, two inputs, T = 2."""
    wl = synthetic_workload(ROOT / "workloads" / f"{workload}.yaml", tmp_path, inputs=2)
    arch_spec = _arch(arch, **{"chip.tiles": "auto"})
    exs, _ = _executors(arch_spec, wl)
    _same_logits_and_tallies(exs, np.random.default_rng(0).integers(0, 256, (2, *exs[0].net.input_shape)))
    opt = dict(passes=2, seed=1, ood=False, corruptions=False)
    _same_result(simulate(arch_spec, wl, Options(**opt)), simulate(arch_spec, wl, Options(**opt, backend="torch")))


def test_cli_backend_torch_matches_numpy(tmp_path):
    docs = []
    for backend in ("numpy", "torch"):
        p = subprocess.run([sys.executable, "-m", "cimsim", "run", "--limit", "6", "--passes", "2", "--no-ood",
                            "--no-corruptions", "--backend", backend, "--format", "json"],
                           capture_output=True, text=True, cwd=ROOT, check=True)
        doc = json.loads(p.stdout)
        doc.pop("wall_time_s")
        docs.append(doc)
    assert docs[0] == docs[1]


def test_missing_library_or_device_is_one_line_exit_2():
    for flags, field in ((["--backend", "numpy", "--device", "cuda"], "--device"),
                         (["--backend", "cupy", "--device", "cpu"], "--device")):
        p = subprocess.run([sys.executable, "-m", "cimsim", "run", "--limit", "2", *flags], capture_output=True,
                           text=True, cwd=ROOT)
        assert p.returncode == 2 and p.stderr.count("\n") == 1 and field in p.stderr, p.stderr
    with pytest.raises(ConfigError, match="--backend"):
        get_backend("jax")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA device"):
            get_backend("torch", "cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_GPU)
def test_torch_cuda_is_bit_identical():
    wl = ROOT / "workloads" / "digits_cnn.yaml"
    opt = dict(limit=30, passes=3, seed=7, corruptions=False)
    _same_result(simulate(_arch("spindrop"), wl, Options(**opt)),
                 simulate(_arch("spindrop"), wl, Options(**opt, backend="torch", device="cuda")))


def test_cupy_is_bit_identical():
    cupy = pytest.importorskip("cupy", reason="CuPy is not installed (and no CUDA device on this machine)")
    if cupy.cuda.runtime.getDeviceCount() < 1:
        pytest.skip(NO_GPU)
    wl = ROOT / "workloads" / "digits_cnn.yaml"
    opt = dict(limit=30, passes=3, seed=7, corruptions=False)
    _same_result(simulate(_arch("spindrop"), wl, Options(**opt)),
                 simulate(_arch("spindrop"), wl, Options(**opt, backend="cupy", device="cuda")))


def test_sweep_file_backend_key_runs_points_on_torch_with_the_same_bits(tmp_path):
    from cimsim.dse.points import load_sweep, resolve_all
    from cimsim.dse.runner import task_of
    from cimsim.dse.worker import run_task

    docs = []
    for backend in ("numpy", "torch"):
        f = tmp_path / f"{backend}.yaml"
        f.write_text(f"name: b_{backend}\narch: {ROOT}/arch_configs/spindrop.yaml\n"
                     f"workload: {ROOT}/workloads/digits_mlp.yaml\nhardware_only: false\nlimit: 5\npasses: 2\n"
                     f"ood: false\ncorruptions: false\nbackend: {backend}\n"
                     "axes:\n  - {path: crossbar.rows_active, values: [16]}\n")
        sweep = load_sweep(f)
        (r,) = resolve_all(sweep, sweep.points())
        task = task_of(sweep, r, threads=1)
        assert task.backend == backend
        row = run_task(task)
        assert row["error"] is None
        row["result"].pop("wall_time_s")
        docs.append((r.key, row["result"]))
    assert docs[0] == docs[1]                        # same point key and the same result on either backend


def test_a_layer_whose_sums_float32_cannot_hold_exactly_is_refused():
    from types import SimpleNamespace

    from cimsim.errors import MappingError
    from cimsim.functional.executor import check_exact_bounds

    check_exact_bounds(SimpleNamespace(name="ok", fan_in=2 ** 24 - 1))
    with pytest.raises(MappingError, match="2\\^24"):
        check_exact_bounds(SimpleNamespace(name="wide", fan_in=2 ** 24))
