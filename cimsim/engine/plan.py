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
        conversions: column conversions per row group on the busiest array.
        converters: converters per array (columns share them; a contended resource).
        convert_cycles: one conversion.
        accumulate_cycles: digital accumulation of one row group's converted partial sums.
        reduce_cycles: per MVM, adding the row blocks' partial sums and comparing to the threshold.
        buffer_accesses: buffer port accesses per MVM on each of the layer's tiles to store its outputs.
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
    """

    name: str
    mvms: int
    arrays: int
    tile_ids: tuple[int, ...]
    row_groups: int
    read_cycles: int
    conversions: int
    converters: int
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

    @property
    def convert_rounds(self) -> int:
        """Conversion rounds per row group when the converters are not shared with another array."""
        return -(-self.conversions // self.converters) if self.conversions else 0

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


def digital_cycles_per_mvm(design, accumulate_cycles: int) -> dict[str, int]:
    """Cycles per MVM that the graph's digital nodes add to the crossbar layer hosting them.

    A digital node (add, pool) runs on the accumulators of the tile as its operands arrive, so it is timed in the
    reduce stage of its *host*: the crossbar layer latest in topological order among its producers (the last
    branch to finish). Per MVM of the host, its output channels are added in parallel on the per-column
    accumulators: an add of k branches takes k − 1 accumulate times, a pool one (it adds the position into its
    window's sum) [upper bound when the host max-pools: fewer positions reach the add]. Flatten is addressing
    only. The actions themselves are counted under the node's own name (activity.digital_per_job).
    """
    if design.workload is None or not design.nodes:
        return {}
    rank = {ls.name: ls.index for ls in design.layers}
    host: dict[str, str | None] = {"input": None}
    out: dict[str, int] = {}
    for nd in design.nodes:
        if nd.crossbar:
            host[nd.name] = nd.name
            continue
        cands = [host[s] for s in nd.inputs if host.get(s) is not None]
        h = max(cands, key=rank.__getitem__) if cands else None
        host[nd.name] = h
        if h is None or nd.kind == "flatten":
            continue
        steps = len(nd.inputs) - 1 if nd.kind == "add" else 1
        out[h] = out.get(h, 0) + steps * accumulate_cycles
    return out


def crossbar_predecessors(design) -> dict[str, tuple[str, ...]]:
    """Per crossbar layer, the crossbar layers it reads from, looking through digital nodes (add, pool, flatten).

    Derived from ``design.nodes`` (topological); ``input`` and nodes fed only by it give ``()``. Without a
    graph (no workload) the result is empty and plans fall back to the chain order.
    """
    feeds: dict[str, tuple[str, ...]] = {"input": ()}
    out: dict[str, tuple[str, ...]] = {}
    for nd in design.nodes:
        # dict.fromkeys: union in first-seen order, no repeats (a node may read one producer twice)
        srcs = tuple(dict.fromkeys(x for s in nd.inputs for x in feeds.get(s, ())))
        if nd.crossbar:
            out[nd.name] = srcs
            feeds[nd.name] = (nd.name,)
        else:
            feeds[nd.name] = srcs
    return out


def build_plan(hw: Hardware, mapping: Mapping, *, inputs: int, passes: int) -> TimingPlan:
    """The timing plan of ``mapping`` on ``hw`` for ``inputs`` inputs × ``passes`` MC passes.

    The bit-serial first layer reads every row group once per input bit plane. Reduce = ⌈log2 row_blocks⌉
    adder levels across row blocks + the threshold comparator (hidden layers).
    """
    from cimsim.activity import output_buffer

    design = hw.design
    ctrl = design.arch.controller
    cyc = hw.cycles
    gen = cyc("dropout_source", "generate")
    bus = hw.component("interconnect")
    layers = []
    digital = digital_cycles_per_mvm(design, cyc("accumulator", "accumulate"))
    preds = crossbar_predecessors(design) if design.workload is not None else {}
    for lm in mapping.layers:
        # one adder level (≥ one accumulate time) per halving of the row blocks' partial sums
        levels = math.ceil(math.log2(lm.row_blocks)) if lm.row_blocks > 1 else 0
        reduce = levels * cyc("accumulator", "accumulate") + (0 if lm.out_real else cyc("comparator", "compare"))
        reduce += digital.get(lm.name, 0)
        out_buf = output_buffer(lm)
        layers.append(LayerTiming(
            name=lm.name, mvms=lm.mvms, arrays=lm.arrays, tile_ids=lm.tile_ids,
            row_groups=lm.row_groups * lm.planes, read_cycles=cyc("crossbar", "read_row_group"),
            conversions=lm.conversions, converters=hw.converters_per_array,
            convert_cycles=cyc("column_periphery", "convert"), accumulate_cycles=cyc("accumulator", "accumulate"),
            reduce_cycles=reduce,
            buffer_accesses=lm.buffer_writes_per_mvm(hw.component(out_buf).port_width_bits),
            buffer_cycles=cyc(out_buf, "write"),
            transfer_flits=math.ceil(lm.out_bits / bus.width_bits),
            transfer_cycles=cyc("interconnect", "transfer"), dropout=lm.dropout, modules=lm.modules,
            generations=lm.generations, generate_cycles=gen if lm.dropout else 0,
            regenerate=design.regenerate, reads_per_mvm=lm.reads_per_mvm,
            conversions_per_mvm=lm.conversions_per_mvm, mask_bits=lm.mask_bits, last=lm.last,
            after=preds.get(lm.name)))
    return TimingPlan(layers=tuple(layers), schedule=ctrl.schedule, replicas=mapping.replicas,
                      inputs=inputs, passes=passes, inputs_in_flight=ctrl.inputs_in_flight,
                      buffer_ports=hw.component("local_buffer").ports, bus_channels=bus.channels,
                      clock_hz=hw.ctx.clock_hz, tiles_per_replica=mapping.tiles_per_replica)
