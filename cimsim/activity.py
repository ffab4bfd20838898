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


def structural_per_job(lm: LayerMap, hw: Hardware) -> dict[str, float]:
    """Data-independent actions of one job (one input, one pass) on one layer."""
    bus = hw.component("interconnect").width_bits
    conversions = lm.mvms * lm.conversions_per_mvm
    reads = lm.mvms * lm.reads_per_mvm
    c = {
        "crossbar.read_row_group": reads,
        "row_decoder.decode": reads,
        "precharge.precharge": conversions,  # every converted column is clamped for its read
        "column_periphery.convert": conversions,
        "accumulator.accumulate": conversions,
        # The tile's adder tree is provisioned for arrays_per_tile operands; a layer spanning r row blocks uses
        # r − 1 of its inputs − 1 adders, so it is charged that fraction of a full reduction (energy is
        # linear in the adders used).
        "adder_tree.add": lm.mvms * lm.outputs * (lm.row_blocks - 1) / (hw.component("adder_tree").inputs - 1),
        "comparator.compare": 0 if lm.out_real else lm.mvms * lm.neurons,
        "interconnect.transfer": math.ceil(lm.out_bits / bus),
        "controller.issue": 1,
    }
    if hw.has("column_mux"):
        c["column_mux.select"] = conversions
    if lm.dropout and lm.granularity == "layer_scale":
        # Scale-Dropout's scale step: a select (scaled sum or 0) per output, priced as one comparator operation
        # on the accumulator-wide word [upper bound: a B-bit 2:1 select is cheaper than a B-bit compare]
        c["comparator.compare"] += lm.mvms * lm.neurons
    src = input_buffer(lm)
    acc_bits = hw.arch.accumulator.bits
    # a real-valued input (an add's or a pool's output) is read accumulator-wide and binarized by sign on the way in
    bits_per_row = acc_bits if lm.in_real else lm.planes
    c[f"{src}.read"] = lm.mvms * math.ceil(lm.fan_in * bits_per_row / hw.component(src).port_width_bits)
    if lm.in_real:
        c["comparator.compare"] += lm.mvms * lm.fan_in
    dst = output_buffer(lm)
    c[f"{dst}.write"] = lm.mvms * len(lm.tile_ids) * lm.buffer_writes_per_mvm(hw.component(dst).port_width_bits)
    return c


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
    port = hw.component("local_buffer").port_width_bits
    in_bits = sum(math.prod(s) * (bits if real else 1) for s, real in zip(node.in_shapes, node.in_real, strict=True))
    if node.kind == "add":
        adds = (len(node.inputs) - 1) * node.out_elements
    elif node.kind == "avgpool":
        adds = node.out_elements * node.kernel ** 2
    else:  # global_avgpool
        adds = node.in_elements
    return {"accumulator.accumulate": adds, "local_buffer.read": math.ceil(in_bits / port),
            "local_buffer.write": math.ceil(node.out_elements * bits / port)}


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
        c["wordline_driver.drive_row"] += t.driven_rows * lm.col_blocks
        c["crossbar.conduct_lrs"] += t.lrs_cells
        c["crossbar.conduct_hrs"] += t.driven_rows * lm.outputs - t.lrs_cells
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
        if lm.first:
            driven_rows = lm.fan_in * lm.planes * ASSUMED_INPUT_BIT_DENSITY
        else:
            driven_rows = lm.fan_in * ((1 - p_drop) if lm.dropout else 1.0)
        driven_rows *= lm.mvms * jobs
        c["wordline_driver.drive_row"] += driven_rows * lm.col_blocks
        cells = driven_rows * lm.outputs
        c["crossbar.conduct_lrs"] += cells * ASSUMED_LRS_FRACTION
        c["crossbar.conduct_hrs"] += cells * (1 - ASSUMED_LRS_FRACTION)
        gen = mask_generations(lm, inputs, passes, regenerate)
        add_mask_counts(c, hw, gen, gen * p_drop)
    for node in hw.design.digital_nodes:
        for k, v in digital_per_job(node, hw).items():
            counts[node.name][k] += v * jobs
    return {k: dict(v) for k, v in counts.items()}
