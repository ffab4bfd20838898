"""The one action-count model (docs/architecture.md, Semantics: Energy): what every (input, pass) job does on each layer.

Keys are ``"instance.action"`` with the instance names of :mod:`cimsim.hardware` and the actions of its
component. The ledger prices every count whose action is not ``composite`` (a composite action's count is the
timing-level event; its energy is in the finer actions also counted here). The event engine counts the
timing-level events it executes (:data:`TIMED_ACTIONS`), and a test holds those equal to this model on every
shipped configuration and schedule.

Three parts:
- :func:`structural_per_job`: data-independent actions of one job on one layer (geometry of the mapping);
- :func:`mask_generations` + the dropout source's own :meth:`mask_action_counts`: dropout bits;
- :func:`digital_per_job`: the graph's digital nodes (residual adds, pools) and their buffering;
- data-dependent crossbar activity (driven rows, conducting cells): from the functional run's raw tallies
  (:func:`counts_from_tallies`), or :func:`expected_counts` without one (``--hardware-only``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import TYPE_CHECKING

from cimsim.components import contracts
from cimsim.hardware import Hardware
from cimsim.mapping import LayerMap, Mapping
from cimsim.resolve import NodeShape

if TYPE_CHECKING:  # the functional run's tally record (activity sits below functional/)
    from cimsim.functional.tallies import Tallies

# Hardware-only mode: fraction of a first-layer bit plane's rows that carry a 1, and fraction of driven
# cells read in the low-resistance state. 0.5 each: no data → maximum-entropy bits [assumed, stated in
# every hardware-only report].
ASSUMED_INPUT_BIT_DENSITY = 0.5
ASSUMED_LRS_FRACTION = 0.5

#: The timing-level events the engine schedules, by count key.
TIMED_ACTIONS = ("crossbar.read_row_group", "column_periphery.convert", "accumulator.accumulate",
                 "dropout_source.generate", "local_buffer.write", "global_buffer.write", "interconnect.transfer",
                 "controller.issue")

Counts = dict[str, dict[str, float]]


def new_counts() -> defaultdict[str, defaultdict[str, float]]:
    return defaultdict(lambda: defaultdict(float))


def input_buffer(lm: LayerMap) -> str:
    """The buffer a layer reads its inputs from (the network's inputs sit in the chip buffer)."""
    return "global_buffer" if lm.first else "local_buffer"


def output_buffer(lm: LayerMap) -> str:
    """The buffer a layer writes its outputs to (the logits go to the chip buffer)."""
    return "global_buffer" if lm.last else "local_buffer"


def key(hw: Hardware, instance: str, action: str) -> str:
    """The count key of ``action`` (a name the instance's component declares) on ``instance``."""
    if action not in hw.component(instance).ACTIONS:
        raise KeyError(f"{instance} ({hw.component(instance).model}) declares no action {action!r}")
    return f"{instance}.{action}"


def structural_per_job(lm: LayerMap, hw: Hardware) -> dict[str, float]:
    """Data-independent actions of one job (one input, one pass) on one layer. Array-level work is counted
    as events (a row-group read, a column conversion); the chip tree says which instances' actions each fires
    (:meth:`Hardware.event_keys`), so the array's parts are counted without being named here."""
    bus, tree, cmp_ = hw.component("interconnect"), hw.component("adder_tree"), hw.component("comparator")
    conversions = lm.mvms * lm.conversions_per_mvm
    reads = lm.mvms * lm.reads_per_mvm
    c: dict[str, float] = {k: reads for k in hw.event_keys(contracts.ROW_GROUP_READ)}
    c.update({k: conversions for k in hw.event_keys(contracts.CONVERSION)})
    compare = key(hw, "comparator", cmp_.COMPARE)
    # The tile's adder tree is provisioned for arrays_per_tile operands; a layer spanning r row blocks uses
    # r − 1 of its inputs − 1 adders, so it is charged that fraction of a full reduction (energy is
    # linear in the adders used).
    c[key(hw, "adder_tree", tree.ADD)] = lm.mvms * lm.columns * (lm.row_blocks - 1) / (tree.inputs - 1)
    c[compare] = 0 if lm.out_real else lm.mvms * lm.outputs
    c[key(hw, "interconnect", bus.TRANSFER)] = math.ceil(lm.out_bits / bus.width_bits)
    c[key(hw, "controller", hw.component("controller").ISSUE)] = 1
    if lm.dropout and lm.granularity == "layer_scale":
        # Scale-Dropout's scale step: a select (scaled sum or 0) per output, priced as one comparator operation
        # on the accumulator-wide word [upper bound: a B-bit 2:1 select is cheaper than a B-bit compare]
        c[compare] += lm.mvms * lm.outputs
    src = input_buffer(lm)
    acc_bits = hw.arch.accumulator.bits
    # a real-valued input (an add's or a pool's output) is read accumulator-wide and binarized by sign on the way in
    bits_per_row = acc_bits if lm.in_real else lm.planes
    buf = hw.component(src)
    c[key(hw, src, buf.READ)] = lm.mvms * math.ceil(lm.fan_in * bits_per_row / buf.port_width_bits)
    if lm.in_real:
        c[compare] += lm.mvms * lm.fan_in
    dst = output_buffer(lm)
    buf = hw.component(dst)
    buffers = 1 if lm.last else len(lm.tile_ids)  # the logits go to the one chip buffer
    c[key(hw, dst, buf.WRITE)] = buffers * lm.buffer_writes_per_job(buf.port_width_bits, lm.last)
    return c


def array_activity(hw: Hardware, lm: LayerMap, *, driven_rows: float, lrs_cells: float) -> dict[str, float]:
    """Data-dependent array actions of ``driven_rows`` word-line activations of layer ``lm`` (summed over its
    row groups, inputs and passes) of which ``lrs_cells`` driven cells conduct in the low-resistance state:
    each driven row is driven on every column block and conducts through every column. The one place these
    counts are made (the functional run passes its tallies here; :func:`expected_counts` its expectations)."""
    cells = driven_rows * lm.columns
    out = {k: driven_rows * lm.col_blocks for k in hw.event_keys(contracts.DRIVEN_ROW)}
    out.update({k: lrs_cells for k in hw.event_keys(contracts.LRS_CELL)})
    out.update({k: cells - lrs_cells for k in hw.event_keys(contracts.HRS_CELL)})
    return out


def digital_per_job(node: NodeShape, hw: Hardware) -> dict[str, float]:
    """Actions of one job on a digital graph node (add, avgpool, global_avgpool; flatten is addressing only).

    The node reads its inputs from the tile buffer (±1 tensors 1 bit per element, real-valued ones
    accumulator-wide: this is the shortcut's buffering), adds element by element on the accumulators
    (add: one accumulate per extra branch and element; pools: one per input element of a window) and writes its
    real-valued output back accumulator-wide.
    """
    if node.kind == "flatten":
        return {}
    bits = hw.arch.accumulator.bits
    buf = hw.component("local_buffer")
    port = buf.port_width_bits
    in_bits = sum(math.prod(s) * (bits if real else 1) for s, real in zip(node.in_shapes, node.in_real, strict=True))
    if node.kind == "add":
        adds = (len(node.inputs) - 1) * node.out_elements
    elif node.kind == "avgpool":
        adds = node.out_elements * node.kernel ** 2
    else:  # global_avgpool
        adds = node.in_elements
    return {key(hw, "accumulator", hw.component("accumulator").ACCUMULATE): adds,
            key(hw, "local_buffer", buf.READ): math.ceil(in_bits / port),
            key(hw, "local_buffer", buf.WRITE): math.ceil(node.out_elements * bits / port)}


def mask_generations(lm: LayerMap, inputs: int, passes: int, regenerate: str) -> float:
    """Dropout bits generated for ``inputs`` × ``passes`` jobs on one layer (``per_pass``: T masks shared by
    every input, generated once)."""
    if not lm.dropout:
        return 0.0
    if regenerate == "per_pass":
        return float(passes * lm.mask_bits)
    per_job = lm.mask_bits * (lm.mvms if regenerate == "per_window" else 1)
    return float(inputs * passes * per_job)


def add_mask_counts(counts: dict[str, float], hw: Hardware, generated: float, dropped: float) -> None:
    """Dropout-source actions for ``generated`` bits of which ``dropped`` read as drop (the source's model
    says which actions those are)."""
    for action, n in hw.component("dropout_source").mask_action_counts(generated, dropped).items():
        counts[f"dropout_source.{action}"] += n


def counts_from_tallies(hw: Hardware, mapping: Mapping, tallies: Tallies) -> Counts:
    """Action counts of a functional run from its raw tallies (:mod:`cimsim.functional.tallies`): the
    data-independent actions per job × jobs, the crossbar's data-dependent actions from the driven rows and LRS
    cells, the dropout source's from the bits drawn. Every count is an exact function of integer tallies, so it
    does not depend on chunking, threads or sharding."""
    counts = new_counts()
    layers = {lm.name: lm for lm in mapping.layers}
    for name, (bits, drops) in tallies.shared_masks.items():  # per_pass: T masks, drawn once per run
        add_mask_counts(counts[name], hw, bits, drops)
    for name, t in tallies.nodes.items():
        lm = layers.get(name)
        if t.jobs == 0:
            continue
        if lm is None:
            for k, v in digital_per_job(hw.design.node(name), hw).items():
                counts[name][k] += v * t.jobs
            continue
        c = counts[name]
        if t.masked:
            add_mask_counts(c, hw, t.mask_bits, t.mask_drops)
        for k, v in array_activity(hw, lm, driven_rows=t.driven_rows, lrs_cells=t.lrs_cells).items():
            c[k] += v
        for k, v in structural_per_job(lm, hw).items():
            c[k] += v * t.jobs
    return {k: dict(v) for k, v in counts.items()}


def expected_counts(hw: Hardware, mapping: Mapping, *, inputs: int, passes: int) -> Counts:
    """Expected action counts of ``inputs`` × ``passes`` jobs without data (hardware-only mode).

    Driven rows: every row of a binary layer carries ±1, so a row is driven unless dropped (the source's
    realised p); first-layer bit planes have density ASSUMED_INPUT_BIT_DENSITY; the cells of driven rows
    conduct in the low-resistance state with probability ASSUMED_LRS_FRACTION. Zero-padded conv rows are
    counted as driven (an overestimate of k-border windows).
    """
    counts = new_counts()
    p_drop = hw.component("dropout_source").p_realized
    regenerate = hw.design.regenerate
    jobs = inputs * passes
    for lm in mapping.layers:
        c = counts[lm.name]
        for k, v in structural_per_job(lm, hw).items():
            c[k] += v * jobs
        if lm.first or lm.planes > 1:  # bit planes: the first layer's, or a quantized real input's
            driven_rows = lm.fan_in * lm.planes * ASSUMED_INPUT_BIT_DENSITY
        else:
            driven_rows = lm.fan_in * ((1 - p_drop) if lm.dropout else 1.0)
        driven_rows *= lm.mvms * jobs
        for k, v in array_activity(hw, lm, driven_rows=driven_rows,
                                   lrs_cells=driven_rows * lm.columns * ASSUMED_LRS_FRACTION).items():
            c[k] += v
        gen = mask_generations(lm, inputs, passes, regenerate)
        add_mask_counts(c, hw, gen, gen * p_drop)
    for node in hw.design.digital_nodes:
        for k, v in digital_per_job(node, hw).items():
            counts[node.name][k] += v * jobs
    return {k: dict(v) for k, v in counts.items()}
