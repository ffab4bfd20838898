"""arch + workload → Design: every fact the rest of the simulator shares, settled once (docs/architecture.md).

The hardware, the mapping, the functional executor, the activity counts, the engine and the ledger read these
values from the Design and never re-derive them from the specs:

- **granularity** of dropout: the workload's ``dropout.granularity``, else the arch's ``spindrop.granularity``;
- **p**, named for what it is: ``trained_p`` is the drop rate the network was trained with (the workload's
  ``dropout.p``; the functional run rescales kept sums by 1/(1 − trained_p)), ``hardware_p`` is the rate the
  dropout source is set to (``spindrop.target_p``, else trained_p). The rate the source then *realises* comes
  from its device model (:attr:`cimsim.components.spindrop.DropoutSource.p_realized`);
- **replicas** and the schedule;
- **layer shapes**: fan-in, outputs, MVMs per input, conv output sizes before and after pooling, checked once
  against the chain of layers (a mismatch is a ConfigError naming the workload field).
"""

from __future__ import annotations

from dataclasses import dataclass

from cimsim.errors import ConfigError
from cimsim.spec.arch import ArchSpec
from cimsim.spec.workload import Conv2dLayerSpec, WorkloadSpec

#: p a chip is described at when neither the arch (spindrop.target_p) nor a workload gives one: the default
#: knob of docs/REFERENCES.md §11 ("dropout probability p ... default 0.2").
DEFAULT_DESCRIBE_P = 0.2


@dataclass(frozen=True)
class LayerShape:
    """Shape facts of one layer for one input.

    Attributes:
        name, index: layer name and position.
        kind: ``linear`` or ``conv2d``.
        in_shape: one input of the layer: (C, H, W) for conv, (features,) for linear.
        fan_in: crossbar rows the layer uses (conv: C_in·k·k).
        outputs: crossbar columns it uses (output neurons or channels).
        mvms: matrix-vector products per input (conv: output positions before pooling; linear: 1).
        in_channels: input channels (linear: fan_in).
        kernel_area: k·k (linear: 1).
        conv_hw: conv output (H, W) before pooling (None for linear).
        out_shape: one output after pooling: (C, H, W) for conv, (outputs,) for linear.
        first, last: the bit-serial multi-bit input layer / the logits layer.
        planes: input bit planes streamed per MVM (input_bits for the first layer, else 1).
        dropout: whether the layer's input rows are gated by dropout bits (MC mode).
    """

    name: str
    index: int
    kind: str
    in_shape: tuple[int, ...]
    fan_in: int
    outputs: int
    mvms: int
    in_channels: int
    kernel_area: int
    conv_hw: tuple[int, int] | None
    out_shape: tuple[int, ...]
    first: bool
    last: bool
    planes: int
    dropout: bool

    @property
    def out_elements(self) -> int:
        n = 1
        for v in self.out_shape:
            n *= v
        return n


@dataclass(frozen=True)
class Design:
    """The settled design point (see the module docstring).

    Attributes:
        arch, workload: the validated specs (workload None: the chip alone, e.g. ``cimsim describe``).
        granularity: ``row``, ``channel`` or ``layer_scale``.
        trained_p: the workload's training drop rate (None without a workload).
        hardware_p: the drop rate the dropout source is set to.
        regenerate: mask regeneration policy (``per_pass``, ``per_input``, ``per_window``).
        schedule, replicas: controller policy and copies of the weights.
        layers: per-layer shapes (empty without a workload).
        arch_file, workload_file: where the specs came from, for error messages.
    """

    arch: ArchSpec
    workload: WorkloadSpec | None
    granularity: str
    trained_p: float | None
    hardware_p: float
    regenerate: str
    schedule: str
    replicas: int
    layers: tuple[LayerShape, ...]
    arch_file: str | None = None
    workload_file: str | None = None

    def layer(self, name: str) -> LayerShape:
        for ls in self.layers:
            if ls.name == name:
                return ls
        raise KeyError(name)


def _out(size: int, k: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - k) // stride + 1


def layer_shapes(workload: WorkloadSpec, file: str | None = None) -> tuple[LayerShape, ...]:
    """Propagate (C, H, W) through the network, checking every layer against its input once."""
    c, h, w = workload.network.input_shape
    layers = workload.network.layers
    dropped = set(workload.dropout.layers)
    out: list[LayerShape] = []
    for i, spec in enumerate(layers):
        where = f"network.layers[{i}]"
        first, last = i == 0, i == len(layers) - 1
        planes = workload.network.input_bits if first else 1
        if isinstance(spec, Conv2dLayerSpec):
            if spec.in_channels != c:
                raise ConfigError(f"layer {spec.name!r} expects {spec.in_channels} input channels, the previous "
                                  f"stage gives {c}", file=file, field=f"{where}.in_channels", allowed=str(c))
            if (h, w) == (1, 1) and i > 0 and not isinstance(layers[i - 1], Conv2dLayerSpec):
                raise ConfigError(f"conv layer {spec.name!r} cannot follow a linear layer", file=file, field=where)
            ho, wo = _out(h, spec.kernel_size, spec.stride, spec.padding), _out(w, spec.kernel_size, spec.stride,
                                                                                spec.padding)
            if ho < 1 or wo < 1:
                raise ConfigError(f"kernel {spec.kernel_size} (padding {spec.padding}) does not fit the {h}x{w} "
                                  f"input of layer {spec.name!r}", file=file, field=f"{where}.kernel_size")
            if ho // spec.pool < 1 or wo // spec.pool < 1:
                raise ConfigError(f"pool {spec.pool} is larger than the {ho}x{wo} output of layer {spec.name!r}",
                                  file=file, field=f"{where}.pool", allowed=f"<= {min(ho, wo)}")
            shape = LayerShape(name=spec.name, index=i, kind="conv2d", in_shape=(c, h, w),
                               fan_in=spec.in_channels * spec.kernel_size ** 2, outputs=spec.out_channels,
                               mvms=ho * wo, in_channels=spec.in_channels, kernel_area=spec.kernel_size ** 2,
                               conv_hw=(ho, wo), out_shape=(spec.out_channels, ho // spec.pool, wo // spec.pool),
                               first=first, last=last, planes=planes, dropout=spec.name in dropped)
        else:
            if spec.in_features != c * h * w:
                raise ConfigError(f"layer {spec.name!r} has in_features {spec.in_features}, the flattened output of "
                                  f"the previous stage is {c * h * w}", file=file, field=f"{where}.in_features",
                                  allowed=str(c * h * w))
            shape = LayerShape(name=spec.name, index=i, kind="linear", in_shape=(spec.in_features,),
                               fan_in=spec.in_features, outputs=spec.out_features, mvms=1,
                               in_channels=spec.in_features, kernel_area=1, conv_hw=None,
                               out_shape=(spec.out_features,), first=first, last=last, planes=planes,
                               dropout=spec.name in dropped)
        out.append(shape)
        c, h, w = (shape.out_shape if shape.kind == "conv2d" else (shape.outputs, 1, 1))
    return tuple(out)


def resolve(arch: ArchSpec, workload: WorkloadSpec | None = None, *, arch_file: str | None = None,
            workload_file: str | None = None) -> Design:
    """Settle granularity, p, replicas and layer shapes of ``workload`` on ``arch`` (see module docstring)."""
    src, ctrl = arch.spindrop, arch.controller
    trained = workload.dropout.p if workload is not None else None
    hardware_p = src.target_p if src.target_p is not None else (trained if trained is not None else DEFAULT_DESCRIBE_P)
    granularity = (workload.dropout.granularity if workload is not None and workload.dropout.granularity
                   else src.granularity)
    regenerate = workload.dropout.regenerate if workload is not None else "per_input"
    replicas = ctrl.replicas if ctrl.schedule == "replicated" else 1
    layers = layer_shapes(workload, workload_file) if workload is not None else ()
    return Design(arch=arch, workload=workload, granularity=granularity, trained_p=trained, hardware_p=hardware_p,
                  regenerate=regenerate, schedule=ctrl.schedule, replicas=replicas, layers=layers,
                  arch_file=arch_file, workload_file=workload_file)
