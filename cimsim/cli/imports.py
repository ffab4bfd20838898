"""`cimsim import torch` / `cimsim import onnx`: a trained BNN → canonical weights .npz + workload YAML."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import click

from cimsim.cli._app import cli
from cimsim.errors import ConfigError

_DATASETS = ("digits", "mnist", "fashion_mnist", "cifar10")


@cli.group(name="import")
def import_group() -> None:
    """Import a trained model (writes the canonical .npz and a workload YAML; docs/networks.md)."""


def _shape(text: str) -> tuple[int, int, int]:
    try:
        c, h, w = (int(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"--input-shape {text!r}", field="--input-shape", allowed="C,H,W, e.g. 3,32,32") from None
    if min(c, h, w) < 1:
        raise ConfigError(f"--input-shape {text!r}", field="--input-shape", allowed="positive C,H,W, e.g. 3,32,32")
    return c, h, w


def _paths(**flags: str | None) -> None:
    """A path with a NUL byte (which no file system accepts) is a one-line error naming its flag."""
    for flag, value in flags.items():
        if value is not None and "\0" in value:
            raise ConfigError("the path holds a NUL byte", field=flag, allowed="a file or folder path")


def _dataset(name: str, path: str | None) -> dict:
    """The workload's dataset section (the data set the model was trained on: stated, never assumed)."""
    if name == "digits" and path is not None:
        raise ConfigError("digits is scikit-learn's bundled set and takes no path", field="--dataset-path")
    if name != "digits" and path is None:
        raise ConfigError(f"--dataset {name} needs --dataset-path", field="--dataset-path",
                          allowed="a local .npz or IDX folder, relative to the --out folder")
    return {"name": name} if path is None else {"name": name, "path": path}


@contextlib.contextmanager
def _quiet() -> Iterator[list]:
    """Collect the warnings torch/onnx/numpy raise while importing: on an error the one error line is all of
    stderr; on success they are printed after the result, one line each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught


def _report(npz, yml, imp, caught: list) -> None:
    click.echo(f"wrote {npz} and {yml}")
    for note in imp.notes:
        click.echo(f"note: {note}")
    if "dropout" not in imp.workload:
        click.echo("note: the model has no dropout layer; add dropout.layers and dropout.p to the workload for "
                   "MC-dropout runs")
    for w in {str(w.message) for w in caught}:
        click.echo(f"warning: {' '.join(w.split())[:300]}", err=True)


_COMMON = [
    # plain strings, not click.Path: click would stat a path with a NUL byte and crash before _paths names it
    click.option("--out", "out_dir", required=True, help="output folder"),
    click.option("--input-bits", required=True, type=click.IntRange(1, 8),
                 help="bits of the first-layer inputs the model was trained on: it reads integers 0 … 2^bits − 1"),
    click.option("--dataset", "dataset_name", required=True, type=click.Choice(_DATASETS),
                 help="the data set the workload evaluates on (written to its dataset section)"),
    click.option("--dataset-path", default=None,
                 help="its local file or folder (mnist/fashion_mnist/cifar10), relative to --out"),
    click.option("--real-input-bits", default=8, show_default=True, type=click.IntRange(2, 16),
                 help="bits a layer reading a real-valued tensor (Bi-Real downsample, classifier on pooled "
                      "features) quantizes it to (its input_bits in the workload)"),
    click.option("--name", default=None, help="workload name (default: the model file's stem)"),
    click.option("--force", is_flag=True, help="replace existing DIR/NAME.npz and DIR/NAME.yaml"),
]


def _common(fn):
    for opt in reversed(_COMMON):
        fn = opt(fn)
    return fn


@import_group.command(name="torch")
@click.argument("module_factory", metavar="MODULE.py:FACTORY")
@click.argument("checkpoint", required=False)
@click.option("--input-shape", required=True, help="C,H,W of one input")
@click.option("--weight-bits", default=8, show_default=True, type=click.IntRange(2, 8),
              help="bits of plain (non-binary) nn.Linear / nn.Conv2d layers")
@_common
def torch_cmd(module_factory: str, checkpoint: str | None, input_shape: str, weight_bits: int, out_dir: str,
              input_bits: int, dataset_name: str, dataset_path: str | None, real_input_bits: int, name: str | None,
              force: bool) -> None:
    """Trace MODULE.py's FACTORY() with torch.fx, load CHECKPOINT (a state dict, weights_only) and write DIR/NAME.npz
    and DIR/NAME.yaml."""
    _paths(**{"--out": out_dir, "MODULE.py:FACTORY": module_factory, "CHECKPOINT": checkpoint,
              "--dataset-path": dataset_path})
    path, _, factory = module_factory.rpartition(":")
    if not path or not factory:
        raise ConfigError(f"{module_factory!r}", field="MODULE.py:FACTORY", allowed="path/to/model.py:make_model")
    dataset = _dataset(dataset_name, dataset_path)
    shape = _shape(input_shape)
    with _quiet() as caught:
        try:
            import torch  # noqa: F401
        except ImportError:
            raise ConfigError("torch is not installed", allowed="pip install 'cimsim[torch]'") from None
        from cimsim.importers.torch_fx import import_checkpoint

        npz, yml, imp = import_checkpoint(path, factory, checkpoint, out_dir, input_shape=shape,
                                          input_bits=input_bits, weight_bits=weight_bits,
                                          real_input_bits=real_input_bits, name=name, dataset=dataset, force=force)
    _report(npz, yml, imp, caught)


@import_group.command(name="onnx")
@click.argument("model", metavar="MODEL.onnx")
@click.option("--input-shape", default=None, help="C,H,W of one input (default: the graph input's static shape)")
@click.option("--weight-bits", default=8, show_default=True, type=click.IntRange(2, 8),
              help="bits of the non-binary Gemm / MatMul / Conv layers")
@_common
def onnx_cmd(model: str, input_shape: str | None, weight_bits: int, out_dir: str, input_bits: int,
             dataset_name: str, dataset_path: str | None, real_input_bits: int, name: str | None,
             force: bool) -> None:
    """Read MODEL.onnx (onnx.load, no pickles), fold batch-norm into thresholds and write DIR/NAME.npz and
    DIR/NAME.yaml."""
    _paths(**{"--out": out_dir, "MODULE.onnx": model, "--dataset-path": dataset_path})
    dataset = _dataset(dataset_name, dataset_path)
    shape = _shape(input_shape) if input_shape else None
    with _quiet() as caught:
        try:
            import onnx  # noqa: F401
        except ImportError:
            raise ConfigError("onnx is not installed", allowed="pip install 'cimsim[onnx]'") from None
        from cimsim.importers.onnx_import import import_onnx

        imp = import_onnx(model, out_dir, input_shape=shape, input_bits=input_bits, weight_bits=weight_bits,
                          real_input_bits=real_input_bits, name=name, dataset=dataset, force=force)
    out = out_dir.rstrip("/") or "/"
    _report(f"{out}/{imp.workload['network']['weights']}", f"{out}/{imp.workload['name']}.yaml", imp, caught)
