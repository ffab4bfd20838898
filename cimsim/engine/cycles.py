"""Per-layer cycle formulas and plan checks shared by the event engine and the closed form.

These are the *semantics* of one (job, layer) step (docs/timing.md); the schedules that combine them live in
:mod:`cimsim.engine.simulator` (events) and :mod:`cimsim.engine.closed_form` (algebra).
"""

from __future__ import annotations

import numbers
from dataclasses import fields

from cimsim.engine.plan import LayerTiming, TimingPlan
from cimsim.errors import ConfigError
from cimsim.spec.common import ARBITRATION

SCHEDULES = ("sequential", "layer_pipelined", "replicated")
REGENERATE = ("per_pass", "per_input", "per_window")


def compute_cycles(layer: LayerTiming) -> int:
    """Cycles the layer's arrays compute for one job (each converter converts its own used columns; no mask)."""
    per_group = layer.read_cycles + layer.convert_rounds * layer.convert_cycles + layer.accumulate_cycles
    return layer.mvms * (layer.row_groups * per_group + layer.reduce_cycles)


def buffer_write_cycles(layer: LayerTiming) -> int:
    """Cycles one tile's buffer port (the logits: the global buffer's) is held to store one job's outputs
    (one burst)."""
    return layer.buffer_accesses * layer.buffer_cycles


def transfer_cycles(layer: LayerTiming) -> int:
    """Cycles one bus channel is held to move one job's outputs to the next layer (or the global buffer)."""
    return layer.transfer_flits * layer.transfer_cycles


def mask_mode(layer: LayerTiming) -> str:
    """``none`` (no dropout or 0-cycle masks), ``window`` (per_window: inline before every MVM) or
    ``job`` (one mask per job: per_input, or per_pass during the first input)."""
    if not layer.dropout or layer.mask_cycles == 0:
        return "none"
    return "window" if layer.regenerate == "per_window" else "job"


def needs_job_mask(layer: LayerTiming, input_index: int) -> bool:
    """Whether a job of ``input_index`` needs a freshly generated (one-per-job) mask on this layer."""
    if mask_mode(layer) != "job":
        return False
    return layer.regenerate == "per_input" or input_index == 0


def masks_per_job(layer: LayerTiming, input_index: int) -> int:
    """Masks generated for one job of ``input_index`` on this layer (per_window: one per MVM)."""
    mode = mask_mode(layer)
    if mode == "window":
        return layer.mvms
    if mode == "job":
        return 1 if needs_job_mask(layer, input_index) else 0
    return 0


def array_hold_cycles(layer: LayerTiming) -> int:
    """Cycles a job holds the layer's arrays: per_window masks (inline, serial) + compute."""
    inline = layer.mvms * layer.mask_cycles if mask_mode(layer) == "window" else 0
    return inline + compute_cycles(layer)


def serial_step_cycles(layer: LayerTiming, input_index: int) -> int:
    """One job's time on the layer when nothing overlaps (sequential / replicated, uncontended)."""
    job_mask = layer.mask_cycles if needs_job_mask(layer, input_index) else 0
    return job_mask + array_hold_cycles(layer) + buffer_write_cycles(layer) + transfer_cycles(layer)


def arrivals(plan: TimingPlan) -> tuple[tuple[tuple[tuple[int, int], ...], int | None], ...]:
    """Per layer: ((predecessor plan index, digital cycles after its finish), …) and the digital cycles after
    the job's start when the layer reads the network input (None: it does not).

    A layer may start at max(finish(p) + d_p over its predecessors, start + d_input): a join (an ``add``)
    runs once its last input arrived (docs/timing.md, Joins). ``LayerTiming.after = None``: the previous layer
    in plan order (layer 0 reads the input). Names were checked by :func:`validate_plan` to refer to earlier
    layers, so plan order is topological.
    """
    index = {layer.name: k for k, layer in enumerate(plan.layers)}
    out = []
    for k, layer in enumerate(plan.layers):
        if layer.after is None:
            pred = ((k - 1, 0),) if k else ()
        else:
            delays = layer.after_cycles or (0,) * len(layer.after)
            best: dict[int, int] = {}
            for name, d in zip(layer.after, delays, strict=True):
                best[index[name]] = max(best.get(index[name], d), d)
            pred = tuple(sorted(best.items()))
        inp = layer.input_cycles if layer.input_cycles is not None else (None if pred else 0)
        out.append((pred, inp))
    return tuple(out)


def predecessors(plan: TimingPlan) -> tuple[tuple[int, ...], ...]:
    """Per layer, the plan indices of the layers it waits for (``LayerTiming.after``; None: the previous one)."""
    return tuple(tuple(p for p, _ in pred) for pred, _ in arrivals(plan))


def is_chain(plan: TimingPlan) -> bool:
    """Whether the layers form one chain in plan order (every layer waits for the one before it).

    Plan order is topological, so when layer k does not wait for layer k − 1 no path joins them and the two
    may run at the same time; conversely, if every k waits for k − 1 the order is total and nothing overlaps.
    """
    return all(k - 1 in pred for k, pred in enumerate(predecessors(plan)) if k)


def ancestors(plan: TimingPlan) -> tuple[frozenset[int], ...]:
    """Per layer, every layer that must finish before it starts (transitive closure of :func:`predecessors`)."""
    out: list[frozenset[int]] = []
    for pred in predecessors(plan):
        acc: set[int] = set(pred)
        for p in pred:
            acc |= out[p]
        out.append(frozenset(acc))
    return tuple(out)


def longest_path_cycles(plan: TimingPlan, weight: list[int]) -> int:
    """Length of the longest path through the layer DAG with per-layer ``weight`` and the digital cycles of
    :func:`arrivals` on its edges (the uncontended job span)."""
    finish: list[int] = []
    for k, (pred, inp) in enumerate(arrivals(plan)):
        heads = [finish[p] + d for p, d in pred] + ([inp] if inp is not None else [])
        finish.append(max(heads, default=0) + weight[k])
    return max(finish)


#: Count key of one generated dropout bit.
MASK_KEY = "dropout_source.generate"

#: Resource name of the shared bus (keys of busy/wait cycles, trace tids).
BUS_KEY = "bus"


def arrays_key(layer: str, replica: int = 0) -> str:
    """Resource name of a layer's arrays on one replica (keys of busy/wait cycles, trace tids)."""
    return f"arrays:{layer}:r{replica}"


def modules_key(layer: str, replica: int = 0) -> str:
    """Resource name of a layer's Spindrop modules on one replica."""
    return f"modules:{layer}:r{replica}"


#: Tile id the engine gives the global (chip) buffer's ports, written by the logits layer.
GLOBAL_TILE = -1


def ports_key(tile: int) -> str:
    """Resource name of the buffer ports of one global tile (tile_id + replica · tiles_per_replica), or of the
    global buffer (``GLOBAL_TILE``)."""
    return "ports:global" if tile == GLOBAL_TILE else f"ports:tile{tile}"


def written_tiles(layer: LayerTiming, replica: int, tiles_per_replica: int) -> tuple[int, ...]:
    """The buffers one step of ``layer`` on ``replica`` writes: its tiles' (global ids), or the global
    buffer for the logits layer."""
    if layer.last:
        return (GLOBAL_TILE,)
    return tuple(t + replica * tiles_per_replica for t in layer.tile_ids)


def step_counts(layer: LayerTiming) -> dict[str, int]:
    """Timing-level actions one (job, layer) step executes, masks aside, keyed ``"instance.action"`` like
    :data:`cimsim.activity.TIMED_ACTIONS` (the engine adds them per step; the closed form multiplies by jobs)."""
    conversions = layer.mvms * layer.conversions_per_mvm
    c = {"crossbar.read_row_group": layer.mvms * layer.reads_per_mvm, "column_periphery.convert": conversions,
         "accumulator.accumulate": conversions, "controller.issue": 1}
    if buffer_write_cycles(layer):
        key = "global_buffer.write" if layer.last else "local_buffer.write"
        c[key] = layer.buffer_accesses * (1 if layer.last else len(layer.tile_ids))
    if transfer_cycles(layer):
        c["interconnect.transfer"] = layer.transfer_flits
    return c


def tallied(plan: TimingPlan, steps: list[list[int]],
            masks: list[list[int]]) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """Busy cycles and action counts of a run from what it executed: ``steps[r][ell]`` (job, layer) steps and
    ``masks[r][ell]`` generated masks (per_window: one per MVM) of layer ``ell`` on replica ``r``.

    Every step holds its arrays :func:`array_hold_cycles`, each of its tiles' ports
    :func:`buffer_write_cycles` and one bus channel :func:`transfer_cycles`; every mask holds the modules
    ``mask_cycles``. The engine counts steps and masks as it runs them, the closed form derives them; both
    turn them into statistics here.
    """
    busy: dict[str, int] = {BUS_KEY: 0}
    counts: dict[tuple[str, str], int] = {}
    for r, (steps_r, masks_r) in enumerate(zip(steps, masks, strict=True)):
        for layer, n, m in zip(plan.layers, steps_r, masks_r, strict=True):
            busy[arrays_key(layer.name, r)] = n * array_hold_cycles(layer)
            if mask_mode(layer) != "none":
                busy[modules_key(layer.name, r)] = m * layer.mask_cycles
            for t in written_tiles(layer, r, plan.tiles_per_replica):
                key = ports_key(t)
                busy[key] = busy.get(key, 0) + n * buffer_write_cycles(layer)
            busy[BUS_KEY] += n * transfer_cycles(layer)
            for key, k in step_counts(layer).items():
                counts[(layer.name, key)] = counts.get((layer.name, key), 0) + n * k
    for ell, layer in enumerate(plan.layers):
        bits = sum(masks_r[ell] for masks_r in masks) * layer.mask_bits
        if bits:
            counts[(layer.name, MASK_KEY)] = bits
    return busy, counts


def validate_plan(plan: TimingPlan) -> None:
    """Raise :class:`ConfigError` when the plan cannot be scheduled."""
    if not plan.layers:
        raise ConfigError("a timing plan needs at least one layer", field="layers", allowed=">= 1 layer")
    if plan.schedule not in SCHEDULES:
        raise ConfigError(f"unknown schedule {plan.schedule!r}", field="schedule", allowed=", ".join(SCHEDULES))
    for name in ("replicas", "inputs", "passes", "inputs_in_flight", "buffer_ports", "bus_channels",
                 "tiles_per_replica", "global_ports"):
        value = getattr(plan, name)
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{name} = {value!r}", field=name, allowed="integer >= 1")
    if plan.clock_hz <= 0:
        raise ConfigError(f"clock_hz = {plan.clock_hz!r}", field="clock_hz", allowed="> 0")
    for name in ("bus_arbitration", "port_arbitration", "global_arbitration"):
        if getattr(plan, name) not in ARBITRATION:
            raise ConfigError(f"{name} = {getattr(plan, name)!r}", field=name, allowed=", ".join(ARBITRATION))
    names = [layer.name for layer in plan.layers]
    if len(set(names)) != len(names):
        raise ConfigError(f"layer names repeat: {names}", field="layers", allowed="unique names")
    for idx, layer in enumerate(plan.layers):
        _validate_wiring(layer, f"layers[{idx}]", names[:idx])
        _validate_layer(plan, layer, f"layers[{idx}]")


def _validate_wiring(layer: LayerTiming, where: str, earlier: list[str]) -> None:
    """A layer waits only for earlier layers (the plan is in topological order), with one delay per wait."""
    if layer.after is not None and not set(layer.after) <= set(earlier):
        raise ConfigError(f"{layer.name} waits for {sorted(set(layer.after) - set(earlier))}",
                          field=f"{where}.after", allowed="names of earlier layers (plan order is topological)")
    if layer.after_cycles is not None and (
            layer.after is None or len(layer.after_cycles) != len(layer.after)
            or any(not isinstance(d, numbers.Integral) or d < 0 for d in layer.after_cycles)):
        raise ConfigError(f"after_cycles = {layer.after_cycles!r}", field=f"{where}.after_cycles",
                          allowed="one integer >= 0 per name of after")
    if layer.input_cycles is not None and (not isinstance(layer.input_cycles, numbers.Integral)
                                           or layer.input_cycles < 0):
        raise ConfigError(f"input_cycles = {layer.input_cycles!r}", field=f"{where}.input_cycles",
                          allowed="integer >= 0 or None")


def _validate_layer(plan: TimingPlan, layer: LayerTiming, where: str) -> None:
    """One layer's counts, converters, tiles and dropout settings."""
    for f in fields(LayerTiming):
        value = getattr(layer, f.name)
        if f.type == "int" and (not isinstance(value, numbers.Integral) or value < 0):
            raise ConfigError(f"{f.name} = {value!r}", field=f"{where}.{f.name}", allowed="integer >= 0")
    if layer.mvms < 1 or layer.arrays < 1:
        raise ConfigError("mvms and arrays must be >= 1", field=where, allowed="integer >= 1")
    if layer.columns_per_converter < 1:
        raise ConfigError("every column needs a converter", field=f"{where}.columns_per_converter",
                          allowed="integer >= 1")
    if not layer.tile_ids or len(set(layer.tile_ids)) != len(layer.tile_ids) or min(layer.tile_ids) < 0:
        raise ConfigError(f"tile_ids = {layer.tile_ids!r}", field=f"{where}.tile_ids",
                          allowed="non-empty tuple of distinct tile ids >= 0")
    if plan.schedule == "replicated" and plan.replicas > 1 and max(layer.tile_ids) >= plan.tiles_per_replica:
        raise ConfigError(f"tile id {max(layer.tile_ids)} is outside one replica "
                          f"({plan.tiles_per_replica} tiles)", field=f"{where}.tile_ids",
                          allowed=f"ids < tiles_per_replica = {plan.tiles_per_replica}")
    if layer.regenerate not in REGENERATE:
        raise ConfigError(f"regenerate = {layer.regenerate!r}", field=f"{where}.regenerate",
                          allowed=", ".join(REGENERATE))
    if layer.dropout and layer.mask_cycles and layer.modules < 1:
        raise ConfigError("a dropout layer needs Spindrop modules", field=f"{where}.modules",
                          allowed="integer >= 1")
