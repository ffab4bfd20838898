"""`cimsim import torch` / `cimsim import onnx`: a trained BNN → canonical weights .npz + workload YAML."""

from __future__ import annotations

import click

from cimsim.cli._app import cli
from cimsim.errors import ConfigError


@cli.group(name="import")
def import_group() -> None:
    """Import a trained model (writes the canonical .npz and a workload YAML; docs/networks.md)."""


def _shape(text: str) -> tuple[int, int, int]:
    try:
        c, h, w = (int(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"--input-shape {text!r}", field="--input-shape", allowed="C,H,W, e.g. 3,32,32") from None
    return c, h, w


@import_group.command(name="torch")
@click.argument("module_factory", metavar="MODULE.py:FACTORY")
@click.argument("checkpoint", required=False, type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="output folder")
@click.option("--input-shape", required=True, help="C,H,W of one input")
@click.option("--input-bits", default=8, show_default=True, type=click.IntRange(1, 8))
@click.option("--weight-bits", default=8, show_default=True, type=click.IntRange(2, 8),
              help="bits of plain (non-binary) nn.Linear / nn.Conv2d layers")
@click.option("--name", default=None, help="workload name (default: the module file's stem)")
def torch_cmd(module_factory: str, checkpoint: str | None, out_dir: str, input_shape: str, input_bits: int,
              weight_bits: int, name: str | None) -> None:
    """Trace MODULE.py's FACTORY() with torch.fx, load CHECKPOINT (a state dict, weights_only) and write DIR/NAME.npz
    and DIR/NAME.yaml."""
    from cimsim.importers.torch_fx import import_checkpoint

    path, _, factory = module_factory.rpartition(":")
    if not path or not factory:
        raise ConfigError(f"{module_factory!r}", field="MODULE.py:FACTORY", allowed="path/to/model.py:make_model")
    try:
        import torch  # noqa: F401
    except ImportError:
        raise ConfigError("torch is not installed", allowed="pip install 'cimsim[train]'") from None
    npz, yml = import_checkpoint(path, factory, checkpoint, out_dir, input_shape=_shape(input_shape),
                                 input_bits=input_bits, weight_bits=weight_bits, name=name)
    click.echo(f"wrote {npz} and {yml}")


@import_group.command(name="onnx")
@click.argument("model", metavar="MODEL.onnx", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="output folder")
@click.option("--input-shape", default=None, help="C,H,W of one input (default: the graph input's static shape)")
@click.option("--input-bits", default=8, show_default=True, type=click.IntRange(1, 8))
@click.option("--weight-bits", default=8, show_default=True, type=click.IntRange(2, 8),
              help="bits of the non-binary Gemm / MatMul / Conv layers")
@click.option("--name", default=None, help="workload name (default: the model file's stem)")
def onnx_cmd(model: str, out_dir: str, input_shape: str | None, input_bits: int, weight_bits: int,
             name: str | None) -> None:
    """Read MODEL.onnx (onnx.load, no pickles), fold batch-norm into thresholds and write DIR/NAME.npz and
    DIR/NAME.yaml."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise ConfigError("onnx is not installed", allowed="pip install 'cimsim[onnx]'") from None
    from cimsim.importers.onnx_import import import_onnx

    imp = import_onnx(model, out_dir, input_shape=_shape(input_shape) if input_shape else None,
                      input_bits=input_bits, weight_bits=weight_bits, name=name)
    out = out_dir.rstrip("/")
    click.echo(f"wrote {out}/{imp.workload['network']['weights']} and {out}/{imp.workload['name']}.yaml")
