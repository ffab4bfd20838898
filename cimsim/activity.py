"""Action counts per layer and component: the structural part every run shares, and the expected
data-dependent part used when no functional run is made (``--hardware-only``).

Keys are ``"component.action"`` with the component names of :mod:`cimsim.hardware`. Counts are per job
(one input, one MC pass) unless a function says otherwise.
"""

from __future__ import annotations

import math
from collections import defaultdict

from cimsim.hardware import Hardware
from cimsim.mapping import LayerMap, Mapping

# Hardware-only mode: fraction of a first-layer bit plane's rows that carry a 1, and fraction of driven
# cells read in the low-resistance state. 0.5 each: no data → maximum-entropy bits [assumed, stated in
# every hardware-only report].
ASSUMED_INPUT_BIT_DENSITY = 0.5
ASSUMED_LRS_FRACTION = 0.5

Counts = dict[str, dict[str, float]]


def new_counts() -> defaultdict[str, defaultdict[str, float]]:
    return defaultdict(lambda: defaultdict(float))


def structural_per_job(lm: LayerMap, hw: Hardware) -> dict[str, float]:
    """Data-independent actions of one job on one layer."""
    arch = hw.arch
    planes = lm.planes
    port, bus = arch.buffer.port_width_bits, arch.interconnect.bus_width_bits
    conversions = lm.mvms * lm.total_row_groups * lm.outputs * planes
    c = {
        "crossbar.row_group_read": lm.mvms * lm.total_row_groups * lm.col_blocks * planes,
        "crossbar.precharge_column": conversions,
        "column_periphery.convert": conversions,
        "accumulator.accumulate": conversions,
        # The tile's adder tree is provisioned for arrays_per_tile operands; a layer spanning r row blocks uses
        # r − 1 of its inputs − 1 adders, so it is charged that fraction of a full reduction (energy is
        # linear in the adders used).
        "adder_tree.add": lm.mvms * lm.outputs * (lm.row_blocks - 1) / (hw.component("adder_tree").inputs - 1),
        "comparator.compare": 0 if lm.last else lm.mvms * lm.outputs,
        "interconnect.transfer": math.ceil(lm.out_bits / bus),
        "controller.issue": 1,
    }
    in_reads = lm.mvms * math.ceil(lm.fan_in * planes / port)
    c["global_buffer.read" if lm.first else "local_buffer.read"] = in_reads
    c["global_buffer.write" if lm.last else "local_buffer.write"] = (
        lm.mvms * len(lm.tile_ids) * lm.buffer_writes_per_mvm(port))
    return c


def mask_generations(lm: LayerMap, inputs: int, passes: int, regenerate: str) -> float:
    """Dropout bits generated for ``inputs`` × ``passes`` jobs on one layer."""
    if not lm.dropout:
        return 0.0
    if regenerate == "per_pass":
        return float(passes * lm.mask_bits)
    per_job = lm.mask_bits * (lm.mvms if regenerate == "per_window" else 1)
    return float(inputs * passes * per_job)


def add_mask_counts(counts: dict[str, float], hw: Hardware, generated: float, drops: float) -> None:
    """Dropout-source actions for ``generated`` bits of which ``drops`` switched (read as drop)."""
    if hw.arch.spindrop.model == "lfsr":
        counts["dropout_source.generate"] += generated
        return
    counts["dropout_source.stochastic_write"] += generated
    counts["dropout_source.read"] += generated
    counts["dropout_source.reset"] += drops if hw.arch.spindrop.reset_policy == "on_switch" else generated


def expected_counts(hw: Hardware, mapping: Mapping, *, inputs: int, passes: int, p: float,
                    regenerate: str) -> Counts:
    """Expected action counts of ``inputs`` × ``passes`` jobs without data (hardware-only mode).

    Driven rows: every row of a binary layer carries ±1, so a row is driven unless dropped (probability
    1 − p); first-layer bit planes have density ASSUMED_INPUT_BIT_DENSITY; the cells of driven rows conduct
    in the low-resistance state with probability ASSUMED_LRS_FRACTION. Zero-padded conv rows are counted as
    driven (an overestimate of k-border windows).
    """
    counts = new_counts()
    p_drop = hw.component("dropout_source").p_nominal if hw.arch.spindrop.model == "mtj_spindrop" else p
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
        c["crossbar.drive_row"] += driven_rows * lm.col_blocks
        cells = driven_rows * lm.outputs
        c["crossbar.conduct_lrs"] += cells * ASSUMED_LRS_FRACTION
        c["crossbar.conduct_hrs"] += cells * (1 - ASSUMED_LRS_FRACTION)
        gen = mask_generations(lm, inputs, passes, regenerate)
        add_mask_counts(c, hw, gen, gen * p_drop)
    return {k: dict(v) for k, v in counts.items()}
