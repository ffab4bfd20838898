"""What the timing engine needs to know, in whole clock cycles: built from the Mapping and the Hardware.

The engine never sees a component model or a weight; it sees counts and cycle latencies. That keeps it
testable against hand-computed schedules and lets the closed form and the event engine share one input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from cimsim.hardware import Hardware
    from cimsim.mapping import Mapping

Schedule = Literal["sequential", "layer_pipelined", "replicated"]
Regenerate = Literal["per_pass", "per_input", "per_window"]


@dataclass(frozen=True)
class LayerTiming:
    """Timing of one layer for one job (one input, one MC pass) on one copy of the weights.

    All ``*_cycles`` are clock cycles of one occurrence.

    Attributes:
        name: layer name.
        mvms: matrix-vector products per job (conv: output positions; linear: 1).
        arrays: arrays holding the layer (row blocks × column blocks); they compute in parallel.
        tile_ids: tiles those arrays occupy on replica 0 (arrays of a tile share that tile's buffer ports;
            replica r uses tile_ids + r·tiles_per_replica).
        row_groups: row-group reads per MVM on the busiest array.
        read_cycles: one row-group read (word lines on, bit lines sensed).
        conversions: columns of the busiest array converted per row group (its used columns).
        columns_per_converter: columns wired to one converter through its column mux (1: a converter per
            column). Converter k owns columns k·c … (k+1)·c − 1; a conversion round converts one column of
            each converter, so rounds = the busiest converter's used columns (:attr:`convert_rounds`).
        convert_cycles: one conversion (the column-mux select included: ``column_periphery.convert``).
        accumulate_cycles: digital accumulation of one row group's converted partial sums.
        reduce_cycles: per MVM, adding the row blocks' partial sums (``adder_tree.add`` passes) and comparing
            to the threshold (``comparator.compare``, hidden layers).
        buffer_accesses: buffer port accesses per job on each of the layer's tiles to store its outputs (after
            pooling); the logits layer (``last``): accesses of the one global-buffer port it writes through.
        buffer_cycles: one buffer access.
        transfer_flits: bus transfers per job to move the layer's output to the next layer.
        transfer_cycles: one flit on the bus.
        dropout: whether this layer's input rows are gated by dropout bits.
        modules: Spindrop modules serving the layer (they work in parallel).
        generations: sequential bit generations per module for one mask (rows or channels it serves).
        generate_cycles: one generation (reset → stochastic write → read).
        regenerate: when masks are redrawn: ``per_pass`` one mask per pass index t shared by every input
            (generated while the first input runs, then latched in a T-entry mask buffer), ``per_input`` a fresh
            mask for every (input, pass) job, ``per_window`` a fresh mask before every MVM.
        reads_per_mvm, conversions_per_mvm: row-group reads and column conversions of one MVM summed over
            all the layer's arrays (what the engine counts as executed; timing uses the busiest array).
        mask_bits: dropout bits in one mask (≤ modules × generations).
        last: whether the layer writes the logits (to the chip buffer).
        after: names of the crossbar layers whose outputs this layer reads, directly or through digital nodes
            (add, pool, flatten) — it starts once all of them finished (compute, buffer write, transfer);
            ``()`` for a layer reading the network input. ``None`` (hand-made plans): the previous layer in
            plan order (a chain). Only the sequential and replicated schedules use it (docs/timing.md).
        after_cycles: per name of ``after``, the cycles of the digital nodes (adds, pools) on the path from that
            layer to this one: this layer may start ``after_cycles[k]`` cycles after ``after[k]`` finished (the
            join runs once its last input arrived). ``None``: all 0.
        input_cycles: cycles of the digital nodes between the network input and this layer; ``None``: 0 for a
            layer without predecessors (it reads the input), no path from the input otherwise.
    """

    name: str
    mvms: int
    arrays: int
    tile_ids: tuple[int, ...]
    row_groups: int
    read_cycles: int
    conversions: int
    columns_per_converter: int
    convert_cycles: int
    accumulate_cycles: int
    reduce_cycles: int
    buffer_accesses: int
    buffer_cycles: int
    transfer_flits: int
    transfer_cycles: int
    dropout: bool = False
    modules: int = 0
    generations: int = 0
    generate_cycles: int = 0
    regenerate: Regenerate = "per_pass"
    reads_per_mvm: int = 0
    conversions_per_mvm: int = 0
    mask_bits: int = 0
    last: bool = False
    after: tuple[str, ...] | None = None
    after_cycles: tuple[int, ...] | None = None
    input_cycles: int | None = None

    @property
    def convert_rounds(self) -> int:
        """Conversion rounds per row group: the used columns of the busiest converter. The used columns are
        the first ``conversions`` of the array and converter k owns columns k·c … (k+1)·c − 1, so converter 0
        is the busiest, with min(conversions, c) of them."""
        return min(self.conversions, self.columns_per_converter)

    @property
    def mask_cycles(self) -> int:
        """Cycles to generate one full mask with all modules in parallel."""
        return self.generations * self.generate_cycles if self.dropout else 0


@dataclass(frozen=True)
class TimingPlan:
    """Everything the engine schedules.

    Attributes:
        layers: layers in execution order.
        schedule: controller policy.
        replicas: copies of the weights (replicated schedule), each with its own arrays and modules.
        inputs: inputs to process.
        passes: MC passes per input (T).
        inputs_in_flight: inputs whose jobs may be in the machine at once.
        buffer_ports: ports per tile buffer.
        bus_channels: independent interconnect channels (shared by all layers and replicas).
        global_ports: ports of the chip (global) buffer the logits layer writes through.
        bus_arbitration, port_arbitration, global_arbitration: who gets a free bus channel / tile-buffer port /
            global-buffer port when several steps ask in the same cycle (:data:`cimsim.spec.common.ARBITRATION`).
        tiles_per_replica: tiles one copy of the weights occupies.
        clock_hz: clock, Hz (only to convert cycles to seconds in reports).
    """

    layers: tuple[LayerTiming, ...]
    schedule: Schedule = "sequential"
    replicas: int = 1
    inputs: int = 1
    passes: int = 1
    inputs_in_flight: int = 1
    buffer_ports: int = 1
    bus_channels: int = 1
    tiles_per_replica: int = 1
    clock_hz: float = 1e9
    global_ports: int = 1
    bus_arbitration: str = "fixed_priority"
    port_arbitration: str = "fixed_priority"
    global_arbitration: str = "fixed_priority"


def digital_node_cycles(node, accumulate_cycles: int) -> int:
    """Cycles one job spends on a digital node (docs/timing.md, Joins and digital nodes).

    The node runs on the tile's per-column accumulators, all channels of one position in parallel: an add of k
    inputs takes k − 1 accumulate times per output position, a pool one per input position (the position is
    added into its window's sum), a flatten none (addressing only).
    """
    if node.kind == "flatten":
        return 0

    def positions(shape: tuple[int, ...]) -> int:
        return math.prod(shape[1:]) if len(shape) == 3 else 1

    if node.kind == "add":
        return positions(node.out_shape) * (len(node.inputs) - 1) * accumulate_cycles
    return positions(node.in_shapes[0]) * accumulate_cycles


def crossbar_predecessors(design, accumulate_cycles: int = 0
                          ) -> dict[str, tuple[tuple[str, ...], tuple[int, ...], int | None]]:
    """Per crossbar layer: the crossbar layers it reads from (looking through digital nodes), the digital
    cycles on the longest path from each of them, and those from the network input (None: no path).

    A digital node finishes ``digital_node_cycles`` after its *last* input arrived, so by max-plus algebra a
    layer may start at max over producers p of (finish of p + the longest digital path from p) — the same
    whatever order the graph's nodes or sibling branches are listed in. Derived from ``design.nodes``
    (topological); without a graph (no workload) the result is empty and plans fall back to the chain order.
    """
    # per node: {crossbar producer or "input": longest digital cycles from its finish to this node's output}
    ready: dict[str, dict[str, int]] = {"input": {"input": 0}}
    out: dict[str, tuple[tuple[str, ...], tuple[int, ...], int | None]] = {}
    for nd in design.nodes:
        seen: dict[str, int] = {}
        for s in nd.inputs:
            for src, d in ready.get(s, {}).items():
                seen[src] = max(seen.get(src, d), d)
        if nd.crossbar:
            names = tuple(sorted(k for k in seen if k != "input"))
            out[nd.name] = (names, tuple(seen[k] for k in names), seen.get("input"))
            ready[nd.name] = {nd.name: 0}
        else:
            own = digital_node_cycles(nd, accumulate_cycles)
            ready[nd.name] = {k: d + own for k, d in seen.items()}
    return out


def reduce_passes(row_blocks: int, tree_inputs: int) -> int:
    """Passes through ``tree_inputs``-operand adder trees to add ``row_blocks`` partial sums into one: the
    smallest p with tree_inputs^p ≥ row_blocks (0 for one row block)."""
    passes, reach = 0, 1
    while reach < row_blocks:
        reach *= tree_inputs
        passes += 1
    return passes


def build_plan(hw: Hardware, mapping: Mapping, *, inputs: int, passes: int) -> TimingPlan:
    """The timing plan of ``mapping`` on ``hw`` for ``inputs`` inputs × ``passes`` MC passes.

    Every step is timed with the action of the component that performs it (docs/timing.md, "One job on one
    layer"): row-group reads ``crossbar.read_row_group`` (the bit-serial first layer once per input bit plane),
    conversions ``column_periphery.convert``, accumulation ``accumulator.accumulate``, the reduction across row
    blocks ``adder_tree.add`` per pass through the tree (:func:`reduce_passes`) plus ``comparator.compare``
    (hidden layers), output writes the ``write`` of the buffer written (``global_buffer`` for the logits),
    transfers ``interconnect.transfer``, masks ``dropout_source.generate``, digital nodes
    ``accumulator.accumulate`` (:func:`digital_node_cycles`).
    """
    from cimsim.activity import output_buffer

    design = hw.design
    ctrl = design.arch.controller
    cyc = hw.cycles
    gen = cyc("dropout_source", "generate")
    bus = hw.component("interconnect")
    tree = hw.component("adder_tree")
    acc = cyc("accumulator", "accumulate")
    layers = []
    preds = crossbar_predecessors(design, acc) if design.workload is not None else {}
    for lm in mapping.layers:
        reduce = reduce_passes(lm.row_blocks, tree.inputs) * cyc("adder_tree", "add")
        reduce += 0 if lm.out_real else cyc("comparator", "compare")
        out_buf = output_buffer(lm)
        after, after_cycles, input_cycles = preds.get(lm.name, (None, None, None))
        layers.append(LayerTiming(
            name=lm.name, mvms=lm.mvms, arrays=lm.arrays, tile_ids=lm.tile_ids,
            row_groups=lm.row_groups * lm.planes, read_cycles=cyc("crossbar", "read_row_group"),
            conversions=lm.conversions, columns_per_converter=hw.component("column_periphery").columns_per_converter,
            convert_cycles=cyc("column_periphery", "convert"), accumulate_cycles=acc,
            reduce_cycles=reduce,
            buffer_accesses=lm.buffer_writes_per_job(hw.component(out_buf).port_width_bits, lm.last),
            buffer_cycles=cyc(out_buf, "write"),
            transfer_flits=math.ceil(lm.out_bits / bus.width_bits),
            transfer_cycles=cyc("interconnect", "transfer"), dropout=lm.dropout, modules=lm.modules,
            generations=lm.generations, generate_cycles=gen if lm.dropout else 0,
            regenerate=design.regenerate, reads_per_mvm=lm.reads_per_mvm,
            conversions_per_mvm=lm.conversions_per_mvm, mask_bits=lm.mask_bits, last=lm.last,
            after=after, after_cycles=after_cycles, input_cycles=input_cycles))
    local, glob = hw.component("local_buffer"), hw.component("global_buffer")
    return TimingPlan(layers=tuple(layers), schedule=ctrl.schedule, replicas=mapping.replicas,
                      inputs=inputs, passes=passes, inputs_in_flight=ctrl.inputs_in_flight,
                      buffer_ports=local.ports, bus_channels=bus.channels,
                      clock_hz=hw.ctx.clock_hz, tiles_per_replica=mapping.tiles_per_replica,
                      global_ports=glob.ports, bus_arbitration=bus.arbitration,
                      port_arbitration=local.arbitration, global_arbitration=glob.arbitration)
