"""Timing of a plan by the cheapest exact method: the closed form where it provably equals the event engine.

:func:`cimsim.engine.closed_form.closed_form` schedules with infinite buffer ports and bus channels; the event
engine (:func:`cimsim.engine.simulator.run_engine`) has the plan's finite ones. Every other rule (arrays,
converters, Spindrop modules, admission) is the same in both (docs/timing.md). So the two agree whenever no
port or bus request can ever find the resource full. :func:`contention_free` proves that from the plan alone:

* **sequential** — one job is in the machine at a time. Within it, a layer starts only after all its
  ancestors in the layer DAG (``LayerTiming.after``) finished, so only *incomparable* layers (neither an
  ancestor of the other: concurrent branches) can hold a port or the bus at once. On a tile, at most
  w_tile = max over its writing layers L of (1 + writers on the tile incomparable to L) writes overlap (an
  upper bound on the largest set of pairwise-concurrent writers); likewise at most w_bus transfers. Exact when
  w_tile ≤ ports on every tile and w_bus ≤ channels; a chain has w = 1, so always exact.
* **replicated** — each replica runs one job at a time on its own tiles (global tile id = id + r · tiles per
  replica), so ports see only that replica's branches (w_tile ≤ ports as above); the bus is shared by the
  replicas that have passes to run, min(k, T), each with at most w_bus transfers at a time, and so are the
  global buffer's ports, where each replica's logits layer writes. Exact when w_tile ≤ ports,
  min(k, T) · w_bus ≤ channels (or no layer transfers) and min(k, T) ≤ global-buffer ports.
* **layer_pipelined** — jobs hold a layer's arrays one after another, so successive jobs *start* their write
  (transfer) on layer ℓ at least hold_ℓ cycles apart; a window [τ − d, τ) of length d then contains at most
  ⌈d / hold_ℓ⌉ starts, i.e. at most ⌈b_ℓ / hold_ℓ⌉ of ℓ's writes overlap on one tile and ⌈x_ℓ / hold_ℓ⌉ of its
  transfers on the bus. Exact when, for every tile, Σ_{ℓ on the tile} ⌈b_ℓ / hold_ℓ⌉ ≤ ports, and
  Σ_ℓ ⌈x_ℓ / hold_ℓ⌉ ≤ channels (layers with b or x = 0 never request the resource); the logits layer's
  ⌈b / hold⌉ ≤ global-buffer ports.

Under these conditions no request ever waits (whatever the arbitration policy: a request that finds a free unit
is granted in its own cycle), so the engine's schedule is the infinite-capacity one: total
cycles and per-input latencies equal the closed form's to the cycle. Busy cycles, action counts and (for
the layer pipeline) the array and mask waits are then closed sums too, computed here so the returned
:class:`TimingResult` has every field of an :class:`EngineResult`; only ``events`` is 0 (no simulation ran).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from cimsim.engine.closed_form import closed_form
from cimsim.engine.cycles import (
    GLOBAL_TILE,
    ancestors,
    array_hold_cycles,
    arrays_key,
    buffer_write_cycles,
    mask_mode,
    masks_per_job,
    modules_key,
    tallied,
    transfer_cycles,
    validate_plan,
    written_tiles,
)
from cimsim.engine.plan import TimingPlan
from cimsim.engine.simulator import EngineResult, run_engine

TimingMode = Literal["auto", "engine", "closed_form"]
TIMING_MODES: tuple[str, ...] = ("auto", "engine", "closed_form")


@dataclass(frozen=True)
class TimingResult(EngineResult):
    """An :class:`EngineResult` plus how it was obtained.

    Attributes:
        method: ``engine`` (event simulation) or ``closed_form`` (exact algebra, ``events`` = 0).
        reason: why that method was used (the contention condition that held or failed, or the request).
    """

    method: str = "engine"
    reason: str = ""


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def branch_overlap(plan: TimingPlan) -> tuple[dict[int, int], int]:
    """Upper bounds on the writes overlapping on each (replica-0) tile and the transfers on the bus within one
    job, from the layer DAG (module docstring: w_tile, w_bus); a chain gives 1 everywhere."""
    anc = ancestors(plan)

    def width(users: list[int]) -> int:
        return max((1 + sum(1 for v in users if v != u and v not in anc[u] and u not in anc[v]) for u in users),
                   default=0)

    written = [written_tiles(layer, 0, plan.tiles_per_replica) for layer in plan.layers]
    tiles = sorted({t for ts in written for t in ts})
    per_tile = {t: width([k for k, layer in enumerate(plan.layers)
                          if t in written[k] and buffer_write_cycles(layer)]) for t in tiles}
    bus = width([k for k, layer in enumerate(plan.layers) if transfer_cycles(layer)])
    return per_tile, bus


def contention_free(plan: TimingPlan) -> tuple[bool, str]:
    """Whether no buffer port or bus request of ``plan`` can ever wait (module docstring), and why."""
    validate_plan(plan)
    if plan.schedule in ("sequential", "replicated"):
        per_tile, w_bus = branch_overlap(plan)
        w_global = per_tile.pop(GLOBAL_TILE, 0)
        tile, w_tile = max(per_tile.items(), key=lambda kv: kv[1], default=(None, 0))
        s = plan.schedule
        if w_tile > plan.buffer_ports:
            return False, (f"{s}: up to {w_tile} concurrent branch writes on tile {tile} > "
                           f"{plan.buffer_ports} port(s)")
        active = min(plan.replicas, plan.passes) if s == "replicated" else 1
        if active * w_global > plan.global_ports:
            return False, (f"{s}: {active} active replica(s) write logits through {plan.global_ports} "
                           f"global-buffer port(s)")
        if w_bus == 0:
            return True, f"{s}: <= {w_tile} concurrent writes per tile, no bus transfers"
        if active * w_bus > plan.bus_channels:
            return False, (f"{s}: {active} active replica(s) × up to {w_bus} concurrent transfers share "
                           f"{plan.bus_channels} bus channel(s)")
        return True, (f"{s}: <= {w_tile} concurrent writes per tile, {active} replica(s) × <= {w_bus} "
                      f"transfers on {plan.bus_channels} channel(s)")
    per_tile: dict[int, int] = defaultdict(int)
    bus = 0
    for layer in plan.layers:
        hold = array_hold_cycles(layer)
        b, x = buffer_write_cycles(layer), transfer_cycles(layer)
        jobs = plan.inputs * plan.passes
        # hold = 0: nothing spaces the jobs apart, so every job may overlap
        overlap_b = jobs if hold == 0 else _ceil_div(b, hold)
        overlap_x = jobs if hold == 0 else _ceil_div(x, hold)
        if b:
            for t in written_tiles(layer, 0, plan.tiles_per_replica):
                per_tile[t] += min(overlap_b, jobs)
        if x:
            bus += min(overlap_x, jobs)
    w_global = per_tile.pop(GLOBAL_TILE, 0)
    if w_global > plan.global_ports:
        return False, (f"layer_pipelined: up to {w_global} overlapping logits writes > {plan.global_ports} "
                       f"global-buffer port(s)")
    worst = max(per_tile.items(), key=lambda kv: kv[1], default=(None, 0))
    if worst[1] > plan.buffer_ports:
        return False, (f"layer_pipelined: up to {worst[1]} overlapping writes on tile {worst[0]} > "
                       f"{plan.buffer_ports} port(s)")
    if bus > plan.bus_channels:
        return False, f"layer_pipelined: up to {bus} overlapping transfers > {plan.bus_channels} bus channel(s)"
    return True, (f"layer_pipelined: <= {worst[1]} overlapping writes per tile, <= {bus} transfers on "
                  f"{plan.bus_channels} channel(s)")


def _tallies(plan: TimingPlan) -> tuple[list[list[int]], list[list[int]]]:
    """Steps and masks per (replica, layer) that the engine executes on ``plan`` (:func:`tallied`): replica r
    runs pass indices r, r + k, … of every input; masks on a job's path follow :func:`masks_per_job`, the layer
    pipeline's look-ahead generator makes one per job (per_input) or one per pass (per_pass)."""
    k = plan.replicas if plan.schedule == "replicated" else 1
    steps, masks = [], []
    for r in range(k):
        passes = len(range(r, plan.passes, k))
        steps.append([passes * plan.inputs] * len(plan.layers))
        row = []
        for layer in plan.layers:
            if plan.schedule == "layer_pipelined" and mask_mode(layer) == "job":
                row.append(plan.inputs * plan.passes if layer.regenerate == "per_input" else plan.passes)
            else:
                # input 0 alone differs (its per_pass masks); every later input makes input 1's
                row.append(passes * (masks_per_job(layer, 0) + (plan.inputs - 1) * masks_per_job(layer, 1)))
        masks.append(row)
    return steps, masks


def closed_form_result(plan: TimingPlan, reason: str = "") -> TimingResult:
    """The closed form as a full :class:`TimingResult` (exact only when :func:`contention_free` holds)."""
    cf = closed_form(plan)
    busy, counts = tallied(plan, *_tallies(plan))
    wait = dict.fromkeys(busy, 0)
    if plan.schedule == "layer_pipelined":
        for layer, wa, wm in zip(plan.layers, cf.array_waits, cf.mask_waits, strict=True):
            wait[arrays_key(layer.name)] = wa
            if mask_mode(layer) != "none":
                wait[modules_key(layer.name)] = wm
    total = cf.total_cycles
    return TimingResult(total_cycles=total, latency_cycles=cf.latency_cycles,
                        first_input_latency_cycles=cf.first_input_latency_cycles,
                        throughput_inputs_per_cycle=plan.inputs / total if total else math.inf,
                        busy_cycles=busy, wait_cycles=wait, action_counts=counts, events=0,
                        trace=[], finish_cycles=cf.finish_cycles, method="closed_form", reason=reason)


def time_plan(plan: TimingPlan, mode: TimingMode = "auto", *, trace: bool = False,
              progress: Callable[[int], None] | None = None) -> TimingResult:
    """Cycle counts of ``plan``.

    Args:
        plan: what to schedule.
        mode: ``auto`` — the closed form when :func:`contention_free` proves it exact (and no trace is
            asked for), else the engine; ``engine`` — always simulate; ``closed_form`` — always the closed
            form (infinite ports and bus: a lower bound when contention is possible).
        trace: keep Chrome-trace events (forces the engine in ``auto``).
        progress: passed to the engine.
    """
    if mode not in TIMING_MODES:
        raise ValueError(f"timing mode {mode!r} is not one of {TIMING_MODES}")
    if mode == "closed_form":
        return closed_form_result(plan, "requested")
    if mode == "auto" and not trace:
        ok, why = contention_free(plan)
        if ok:
            return closed_form_result(plan, why)
        reason = why
    else:
        reason = "requested" if mode == "engine" else "trace requested"
    if plan.schedule == "sequential" and plan.inputs > 2 and not trace:
        reason += (f"; repeated-input mode: inputs 0 and 1 simulated, inputs 2..{plan.inputs - 1} as input 1 "
                   f"(sequential: each starts idle)")
    eng = run_engine(plan, trace=trace, progress=progress)
    return TimingResult(**{f: getattr(eng, f) for f in eng.__dataclass_fields__}, method="engine", reason=reason)
