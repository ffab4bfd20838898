"""arch + workload → Design: every fact the rest of the simulator shares, settled once (docs/architecture.md).

The hardware, the mapping, the functional executor, the activity counts, the engine and the ledger read these
values from the Design and never re-derive them from the specs:

- **granularity** of dropout: the workload's ``dropout.granularity``, else the arch's ``spindrop.granularity``;
- **p**, named for what it is: ``trained_p`` is the drop rate the network was trained with (the workload's
  ``dropout.p``; the functional run rescales kept sums by 1/(1 − trained_p)), ``hardware_p`` is the rate the
  dropout source is set to (``spindrop.target_p``, else trained_p). The rate the source then *realises* comes
  from its device model (:attr:`cimsim.components.spindrop.DropoutSource.p_realized`);
- **replicas** and the schedule;
- **layer shapes**: the network graph (nodes name their ``inputs``; default the node listed before) in
  topological order; fan-in, outputs, MVMs per input, conv output sizes before and after pooling, checked once
  (a missing input, a cycle or a shape mismatch is a ConfigError naming the node and its workload field);
- **chip size**: ``chip.tiles: auto`` becomes the fewest tiles that map the network × replicas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from cimsim.errors import ConfigError
from cimsim.spec.arch import MAX_TILES, ArchSpec
from cimsim.spec.workload import CROSSBAR_TYPES, INPUT, Conv2dLayerSpec, NetworkSpec, WorkloadSpec

#: p a chip is described at when neither the arch (spindrop.target_p) nor a workload gives one: the default
#: knob of docs/REFERENCES.md §11 ("dropout probability p ... default 0.2").
DEFAULT_DESCRIBE_P = 0.2


@dataclass(frozen=True)
class LayerShape:
    """Shape facts of one crossbar layer for one input.

    Attributes:
        name, index: layer name and position among the crossbar layers (topological order).
        kind: ``linear`` or ``conv2d``.
        in_shape: one input of the layer: (C, H, W) for conv, (features,) for linear.
        fan_in: crossbar rows the layer uses (conv: C_in·k·k).
        outputs: output neurons or channels.
        mvms: matrix-vector products per input (conv: output positions before pooling; linear: 1).
        in_channels: input channels (linear: fan_in).
        kernel_area: k·k (linear: 1).
        conv_hw: conv output (H, W) before pooling (None for linear).
        out_shape: one output after pooling: (C, H, W) for conv, (outputs,) for linear.
        first, last: reads the network input (bit-serial, multi-bit) / produces the logits.
        planes: input bit planes streamed per MVM (the network's input_bits for a first layer, the layer's own
            input_bits for a layer quantizing a real-valued input, else 1).
        dropout: whether the layer's input rows are gated by dropout bits (MC mode).
        weight_bits: 1 (binary) or b (b ±1 column slices per output, digital shift-add).
        inputs: the node it reads (``input``: the network input).
        out_real: its output is real-valued (scale·a + bias: the logits or a Bi-Real branch), else ±1.
        in_real: its input is real-valued and is binarized (sign) before it drives the rows, or quantized.
        in_step: the quantization step of a real-valued input read as ``planes`` signed bits (None: sign).
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
    weight_bits: int = 1
    inputs: tuple[str, ...] = ()
    out_real: bool = False
    in_real: bool = False
    in_step: float | None = None

    @property
    def out_elements(self) -> int:
        return math.prod(self.out_shape)

    @property
    def columns(self) -> int:
        """Crossbar columns: a multi-bit weight takes weight_bits adjacent ±1 slices."""
        return self.outputs * self.weight_bits

    def blocks(self, rows: int, cols: int) -> tuple[int, int]:
        """(row blocks, column blocks) of the layer's matrix on ``rows`` × ``cols`` arrays: the one place
        the arrays a layer takes are counted (:func:`arrays_per_copy`, :func:`cimsim.mapping.map_network`)."""
        return math.ceil(self.fan_in / rows), math.ceil(self.columns / cols)


@dataclass(frozen=True)
class NodeShape:
    """One node of the network graph (crossbar layer or digital operation), in topological order.

    Attributes:
        name: node name.
        kind: ``linear``, ``conv2d``, ``add``, ``avgpool``, ``global_avgpool`` or ``flatten``.
        inputs: names of the nodes it reads (``input``: the network input).
        in_shapes: one input's shape per input.
        out_shape: one output's shape.
        real: the output is real-valued (multi-bit) rather than ±1.
        in_real: per input, whether it is real-valued.
        kernel, stride: avgpool window and step (1 otherwise).
    """

    name: str
    kind: str
    inputs: tuple[str, ...]
    in_shapes: tuple[tuple[int, ...], ...]
    out_shape: tuple[int, ...]
    real: bool
    in_real: tuple[bool, ...] = ()
    kernel: int = 1
    stride: int = 1

    @property
    def crossbar(self) -> bool:
        return self.kind in CROSSBAR_TYPES

    @property
    def out_elements(self) -> int:
        return math.prod(self.out_shape)

    @property
    def in_elements(self) -> int:
        """Elements of all inputs together."""
        return sum(math.prod(s) for s in self.in_shapes)


@dataclass(frozen=True)
class Design:
    """The settled design point (see the module docstring).

    Attributes:
        arch, workload: the validated specs (workload None: the chip alone, e.g. ``cimsim describe``).
            ``arch.chip.tiles`` is a number here: ``auto`` is settled to the minimal tile count.
        granularity: ``row``, ``channel`` or ``layer_scale``.
        trained_p: the workload's training drop rate (None without a workload).
        hardware_p: the drop rate the dropout source is set to.
        regenerate: mask regeneration policy (``per_pass``, ``per_input``, ``per_window``).
        schedule, replicas: controller policy and copies of the weights.
        layers: per-crossbar-layer shapes in topological order (empty without a workload).
        nodes: every node of the network graph (crossbar layers and digital operations), topological order.
        tiles_auto: ``chip.tiles: auto`` was settled to the minimal count that maps.
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
    nodes: tuple[NodeShape, ...] = ()
    tiles_auto: bool = False

    def layer(self, name: str) -> LayerShape:
        for ls in self.layers:
            if ls.name == name:
                return ls
        raise KeyError(name)

    def node(self, name: str) -> NodeShape:
        for nd in self.nodes:
            if nd.name == name:
                return nd
        raise KeyError(name)

    @property
    def digital_nodes(self) -> tuple[NodeShape, ...]:
        """Nodes that run in the digital periphery (add, pools, flatten), in topological order."""
        return tuple(nd for nd in self.nodes if not nd.crossbar)


def _out(size: int, k: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - k) // stride + 1


def node_inputs(layers: list, i: int) -> tuple[str, ...]:
    """The inputs node ``i`` of a workload's layer list names (default: the node before it)."""
    spec = layers[i]
    if spec.inputs is not None:
        return tuple(spec.inputs)
    return (layers[i - 1].name,) if i else (INPUT,)


def topological_order(layers: list, file: str | None = None) -> list[int]:
    """Positions of ``layers`` in a topological order of their ``inputs`` graph, stable w.r.t. the listed order.

    Raises:
        ConfigError: an input names no node, or the graph has a cycle (naming a node on it).
    """
    names = [spec.name for spec in layers]
    pos = {n: i for i, n in enumerate(names)}
    deps: list[set[int]] = []
    for i, spec in enumerate(layers):
        d = set()
        for src in node_inputs(layers, i):
            if src == INPUT:
                continue
            if src not in pos:
                raise ConfigError(f"node {spec.name!r} reads {src!r}, which is not a node", file=file,
                                  field=f"network.layers[{i}].inputs", allowed=f"'{INPUT}' or one of {names}")
            if src == spec.name:
                raise ConfigError(f"node {spec.name!r} reads itself (a cycle)", file=file,
                                  field=f"network.layers[{i}].inputs")
            d.add(pos[src])
        deps.append(d)
    order: list[int] = []
    done: set[int] = set()
    while len(order) < len(layers):
        ready = [i for i in range(len(layers)) if i not in done and deps[i] <= done]
        if not ready:
            # every remaining node waits on another remaining one: walk the waits until a node repeats
            i = min(set(range(len(layers))) - done)
            seen: list[int] = []
            while i not in seen:
                seen.append(i)
                i = min(deps[i] - done)
            cycle = seen[seen.index(i):]
            path = " -> ".join(names[j] for j in [*cycle, cycle[0]][::-1])
            raise ConfigError(f"the network graph has a cycle through node {names[i]!r} ({path})", file=file,
                              field=f"network.layers[{i}].inputs", allowed="an acyclic graph")
        order.append(ready[0])
        done.add(ready[0])
    return order


def network_graph(workload: WorkloadSpec, file: str | None = None
                  ) -> tuple[tuple[LayerShape, ...], tuple[NodeShape, ...]]:
    """:func:`network_graph_of` the workload's network with its dropped layers."""
    return network_graph_of(workload.network, workload.dropout.layers, file)


def network_graph_of(net: NetworkSpec, dropped_layers, file: str | None = None
                     ) -> tuple[tuple[LayerShape, ...], tuple[NodeShape, ...]]:
    """Propagate shapes through the network graph in topological order, checking every node once.

    Returns the crossbar layers' :class:`LayerShape` and every node's :class:`NodeShape`, both topological.

    Raises:
        ConfigError: naming the node (its ``network.layers[i]`` field): a missing input, a cycle, a shape
            mismatch (an add's branches, a layer's fan-in), a node whose output nothing reads, a last node that is
            not a linear layer, or a digital node reading the multi-bit network input.
    """
    layers = net.layers
    dropped = set(dropped_layers)
    order = topological_order(layers, file)
    sink = order[-1]
    consumers: dict[str, int] = {}
    for i in range(len(layers)):
        for src in node_inputs(layers, i):
            consumers[src] = consumers.get(src, 0) + 1
    shapes: dict[str, tuple[int, ...]] = {INPUT: tuple(net.input_shape)}
    real: dict[str, bool] = {INPUT: False}
    out: list[LayerShape] = []
    nodes: list[NodeShape] = []
    for i in order:
        spec = layers[i]
        ins = node_inputs(layers, i)
        _check_wiring(layers, i, ins, sink, consumers, file)
        in_shapes = tuple(shapes[s] for s in ins)
        kernel = stride = 1
        if spec.type in CROSSBAR_TYPES:
            shape = _layer_shape(net, spec, i, ins, in_shapes[0], index=len(out), last=i == sink,
                                 dropout=spec.name in dropped, in_real=real[ins[0]], file=file)
            out.append(shape)
            o_shape, o_real = shape.out_shape, shape.out_real
        else:
            o_shape, o_real, kernel, stride = _digital_shape(spec, i, ins, in_shapes, real, file)
        shapes[spec.name], real[spec.name] = o_shape, o_real
        nodes.append(NodeShape(name=spec.name, kind=spec.type, inputs=ins, in_shapes=in_shapes, out_shape=o_shape,
                               real=o_real, in_real=tuple(real[s] for s in ins), kernel=kernel, stride=stride))
    return tuple(out), tuple(nodes)


def _check_wiring(layers: list, i: int, ins: tuple[str, ...], sink: int, consumers: dict[str, int],
                  file: str | None) -> None:
    """A node's inputs: its output is read (unless it is the sink), one input (an add: several), and only a
    crossbar layer reads the multi-bit network input."""
    spec, where = layers[i], f"network.layers[{i}]"
    if i != sink and consumers.get(spec.name, 0) == 0:
        raise ConfigError(f"the output of node {spec.name!r} is never used", file=file, field=where,
                          allowed=f"a node read by another (only the last node, {layers[sink].name!r}, is "
                                  "the network output)")
    if spec.type != "add" and len(ins) != 1:
        raise ConfigError(f"node {spec.name!r} ({spec.type}) reads one tensor, {len(ins)} given", file=file,
                          field=f"{where}.inputs", allowed="one name (an add sums several)")
    if spec.type not in CROSSBAR_TYPES and INPUT in ins:
        raise ConfigError(f"node {spec.name!r} ({spec.type}) cannot read the multi-bit network input; a "
                          "crossbar layer must come first", file=file, field=f"{where}.inputs")


def _layer_shape(net: NetworkSpec, spec: Any, i: int, ins: tuple[str, ...], x: tuple[int, ...], *, index: int,
                 last: bool, dropout: bool, in_real: bool, file: str | None) -> LayerShape:
    """Shape of crossbar layer ``spec`` (``network.layers[i]``) reading ``x``."""
    where = f"network.layers[{i}]"
    first = INPUT in ins
    if last and spec.type != "linear":
        raise ConfigError(f"the last node {spec.name!r} must be a linear layer (it produces the logits)",
                          file=file, field=f"{where}.type", allowed="linear")
    if spec.input_bits is not None and not in_real:
        raise ConfigError(f"layer {spec.name!r} states input_bits but reads {ins[0]!r}, which is not "
                          "real-valued", file=file, field=f"{where}.input_bits",
                          allowed="only on a layer reading an add, a pool or a real-output layer")
    planes = net.input_bits if first else (spec.input_bits or 1)
    common = dict(name=spec.name, index=index, first=first, last=last, planes=planes,
                  dropout=dropout, weight_bits=spec.weight_bits, inputs=ins,
                  out_real=last or spec.output == "real", in_real=in_real, in_step=spec.input_step)
    if isinstance(spec, Conv2dLayerSpec):
        if len(x) != 3:
            raise ConfigError(f"conv layer {spec.name!r} needs a (C, H, W) input, {ins[0]!r} gives {x}",
                              file=file, field=where)
        c, h, w = x
        if spec.in_channels != c:
            raise ConfigError(f"layer {spec.name!r} expects {spec.in_channels} input channels, the "
                              f"previous stage gives {c}", file=file, field=f"{where}.in_channels",
                              allowed=str(c))
        ho, wo = _out(h, spec.kernel_size, spec.stride, spec.padding), _out(w, spec.kernel_size,
                                                                            spec.stride, spec.padding)
        if ho < 1 or wo < 1:
            raise ConfigError(f"kernel {spec.kernel_size} (padding {spec.padding}) does not fit the "
                              f"{h}x{w} input of layer {spec.name!r}", file=file,
                              field=f"{where}.kernel_size")
        if ho // spec.pool < 1 or wo // spec.pool < 1:
            raise ConfigError(f"pool {spec.pool} is larger than the {ho}x{wo} output of layer "
                              f"{spec.name!r}", file=file, field=f"{where}.pool", allowed=f"<= {min(ho, wo)}")
        shape = LayerShape(kind="conv2d", in_shape=x, fan_in=spec.in_channels * spec.kernel_size ** 2,
                           outputs=spec.out_channels, mvms=ho * wo, in_channels=spec.in_channels,
                           kernel_area=spec.kernel_size ** 2, conv_hw=(ho, wo),
                           out_shape=(spec.out_channels, ho // spec.pool, wo // spec.pool), **common)
    else:
        flat = math.prod(x)
        if spec.in_features != flat:
            raise ConfigError(f"layer {spec.name!r} has in_features {spec.in_features}, the flattened "
                              f"output of the previous stage is {flat}", file=file,
                              field=f"{where}.in_features", allowed=str(flat))
        shape = LayerShape(kind="linear", in_shape=(flat,), fan_in=flat, outputs=spec.out_features,
                           mvms=1, in_channels=flat, kernel_area=1, conv_hw=None,
                           out_shape=(spec.out_features,), **common)
    return shape


def _digital_shape(spec: Any, i: int, ins: tuple[str, ...], in_shapes: tuple[tuple[int, ...], ...],
                   real: dict[str, bool], file: str | None) -> tuple[tuple[int, ...], bool, int, int]:
    """(output shape, real-valued, kernel, stride) of digital node ``spec`` (add, flatten, pools)."""
    where = f"network.layers[{i}]"
    x = in_shapes[0]
    kernel = stride = 1
    if spec.type == "add":
        if len(set(in_shapes)) != 1:
            detail = ", ".join(f"{n} {s}" for n, s in zip(ins, in_shapes, strict=True))
            raise ConfigError(f"add node {spec.name!r}: its branches differ in shape ({detail})", file=file,
                              field=f"{where}.inputs", allowed="branches of one shape")
        o_shape, o_real = x, True
    elif spec.type == "flatten":
        o_shape, o_real = (math.prod(x),), real[ins[0]]
    else:
        if len(x) != 3:
            raise ConfigError(f"{spec.type} node {spec.name!r} needs a (C, H, W) input, {ins[0]!r} gives {x}",
                              file=file, field=where)
        c, h, w = x
        if spec.type == "global_avgpool":
            o_shape = (c,)
        else:
            kernel, stride = spec.kernel_size, spec.stride or spec.kernel_size
            ho, wo = _out(h, kernel, stride, 0), _out(w, kernel, stride, 0)
            if ho < 1 or wo < 1:
                raise ConfigError(f"avgpool {kernel} is larger than the {h}x{w} input of node {spec.name!r}",
                                  file=file, field=f"{where}.kernel_size", allowed=f"<= {min(h, w)}")
            o_shape = (c, ho, wo)
        o_real = True
    return o_shape, o_real, kernel, stride


def arrays_per_copy(layers: tuple[LayerShape, ...], arch: ArchSpec) -> int:
    """Crossbar arrays one copy of the weights needs (:meth:`LayerShape.blocks`)."""
    return sum(math.prod(ls.blocks(arch.crossbar.rows, arch.crossbar.cols)) for ls in layers)


def auto_tiles(layers: tuple[LayerShape, ...], arch: ArchSpec, replicas: int) -> int:
    """The fewest tiles that map ``layers`` × ``replicas`` (each copy starts on a fresh tile, as
    :func:`cimsim.mapping.map_network` places them; arrays per tile from the chip tree)."""
    from cimsim.chiptree import capacity

    return math.ceil(arrays_per_copy(layers, arch) / capacity(arch).arrays_per_tile) * replicas


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
    layers, nodes = network_graph(workload, workload_file) if workload is not None else ((), ())
    tiles_auto = arch.chip.tiles == "auto"
    if tiles_auto:
        if workload is None:
            raise ConfigError("chip.tiles: auto sizes the chip to a workload; none was given", file=arch_file,
                              field="chip.tiles", allowed="a tile count, or run with a workload")
        tiles = auto_tiles(layers, arch, replicas)
        if tiles > MAX_TILES:
            raise ConfigError(f"the network needs {tiles} tiles, more than a chip may have", file=arch_file,
                              field="chip.tiles", allowed=f"<= {MAX_TILES} (larger arrays or more arrays per tile)")
        arch = arch.model_copy(update={"chip": arch.chip.model_copy(update={"tiles": tiles})})
    return Design(arch=arch, workload=workload, granularity=granularity, trained_p=trained, hardware_p=hardware_p,
                  regenerate=regenerate, schedule=ctrl.schedule, replicas=replicas, layers=layers,
                  arch_file=arch_file, workload_file=workload_file, nodes=nodes, tiles_auto=tiles_auto)
