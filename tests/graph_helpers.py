"""Helpers of the CLI-level graph and importer tests: synthetic weights for a workload's layer list, a synthetic
data set, and the check that a `cimsim run --out DIR` agrees with the reference forward on every input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from cimsim.cli import main
from cimsim.network.datasets import quantize_inputs
from cimsim.network.reference import reference_forward
from cimsim.network.weights import load_network
from cimsim.resolve import network_graph_of
from cimsim.spec.loader import load_workload

ROOT = Path(__file__).resolve().parent.parent
ARCH = ROOT / "arch_configs" / "spindrop.yaml"   # an exact (ideal) converter, no variation, no noise


def synthetic_weights(doc: dict, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Canonical arrays for every crossbar layer of a workload document (``doc['network']``): ±1 or odd-level
    weights, thresholds near the sums' centre (so outputs vary), O(1) scale/bias for real outputs."""
    from cimsim.spec.workload import NetworkSpec

    spec = NetworkSpec.model_validate({k: v for k, v in doc["network"].items() if k != "weights"})
    shapes, _ = network_graph_of(spec, ())
    out: dict[str, np.ndarray] = {}
    by_name = {ls.name: ls for ls in spec.layers}
    for ls in shapes:
        layer = by_name[ls.name]
        bits = layer.weight_bits
        shape = ((ls.outputs, ls.in_channels, int(ls.kernel_area ** 0.5), int(ls.kernel_area ** 0.5))
                 if ls.kind == "conv2d" else (ls.outputs, ls.fan_in))
        w = 2 * rng.integers(0, 2 ** bits, size=shape) - (2 ** bits - 1)
        out[f"{ls.name}.weight"] = w.astype(np.int8 if bits == 1 else np.int16)
        # a sum of fan_in ±1 terms times odd levels: its spread is about sqrt(fan_in) × the level RMS
        spread = np.sqrt(ls.fan_in * ls.planes) * (2 ** bits - 1) / 2 * (2 ** ls.planes if ls.first else 1)
        if ls.out_real:
            out[f"{ls.name}.scale"] = rng.uniform(0.5, 1.5, ls.outputs) / spread
            out[f"{ls.name}.bias"] = rng.normal(0, 0.3, ls.outputs)
        else:
            out[f"{ls.name}.threshold"] = np.round(rng.normal(0, 0.3, ls.outputs) * spread)
    return out


def write_images(path: Path, shape: tuple[int, ...], classes: int, n: int, rng: np.random.Generator) -> None:
    """A small data set .npz (x_train, y_train, x_test, y_test) of random images in [0, 1]."""
    np.savez(path, x_train=rng.random((n, *shape), dtype=np.float32), y_train=rng.integers(0, classes, n),
             x_test=rng.random((n, *shape), dtype=np.float32), y_test=rng.integers(0, classes, n))


def cli(args: list[str]) -> tuple[int, str, str]:
    """`cimsim ARGS` in-process through the console entry point (errors become one line and an exit status):
    (exit status, stdout, stderr)."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def run_cli(args: list[str]) -> str:
    """`cimsim ARGS` in-process; returns stdout (asserts exit 0)."""
    code, out, err = cli(args)
    assert code == 0, out + err
    return out


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def assert_run_agrees(workload: Path, out: Path, extra: tuple[str, ...] = (), *, other=None,
                      atol: float | None = 1e-9) -> float:
    """Run ``workload`` through `cimsim run` on the ideal chip and check every test input against the reference
    forward: the deterministic prediction, and (a workload without dropout, where every MC pass equals the
    deterministic one) the max softmax. ``other``: a function of the integer inputs giving other expected logits
    (torch's eval output), whose predictions must match too and whose logits must lie within ``atol`` of the
    reference's (None: not checked). Returns max |reference − other| (0 without ``other``)."""
    run_cli(["run", str(ARCH), str(workload), "--no-ood", "--no-corruptions", "--out", str(out), *extra])
    df = pd.read_csv(out / "per_sample.csv")
    wl = load_workload(workload)
    net = load_network(wl.network, workload.parent)
    from cimsim.network.datasets import load_dataset

    ds = load_dataset(wl.dataset, workload.parent)
    x = quantize_inputs(ds.x_test[: len(df)], wl.network.input_bits)
    ref = reference_forward(net, x)
    assert len(df) == len(x) and (len(x) < 3 or len(np.unique(ref.argmax(axis=1))) > 1)  # the weights matter
    np.testing.assert_array_equal(df["prediction_deterministic"].to_numpy(), ref.argmax(axis=1))
    if not wl.dropout.layers:
        np.testing.assert_allclose(df["max_softmax"].to_numpy(), softmax(ref).max(axis=1), rtol=1e-5)
    if other is None:
        return 0.0
    want = other(x)
    np.testing.assert_array_equal(ref.argmax(axis=1), want.argmax(axis=1))
    diff = float(np.abs(ref - want).max())
    assert atol is None or diff <= atol, diff
    return diff


def write_workload(folder: Path, doc: dict, arrays: dict[str, np.ndarray], name: str = "wl") -> Path:
    np.savez(folder / f"{name}.npz", **arrays)
    doc = {**doc, "network": {**doc["network"], "weights": f"{name}.npz"}}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


__all__ = ["ARCH", "cli", "ROOT", "assert_run_agrees", "run_cli", "synthetic_weights", "write_images", "write_workload"]
