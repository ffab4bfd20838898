"""Discrete-event timing engine (simpy): one time unit = one clock cycle.

Semantics are specified in docs/timing.md. Every run of identical actions on a held resource is one timeout
(event compression), so the number of events grows with layers × passes × inputs (× tiles per layer), never
with cycles or row groups. Shared bus channels and buffer ports are granted by a modelled arbiter
(:mod:`cimsim.engine.arbiter`); the engine's modes (docs/timing.md, "Engine modes") change how many events a
run costs, never its cycles or statistics.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import replace
from typing import Any

import simpy

from cimsim.engine.arbiter import Arbiter, CycleEnd
from cimsim.engine.cycles import (
    BUS_KEY,
    GLOBAL_TILE,
    array_hold_cycles,
    arrays_key,
    arrivals,
    buffer_write_cycles,
    compute_cycles,
    is_chain,
    mask_mode,
    masks_per_job,
    modules_key,
    ports_key,
    tallied,
    transfer_cycles,
    validate_plan,
    written_tiles,
)
from cimsim.engine.plan import LayerTiming, TimingPlan
from cimsim.engine.result import EngineResult, Progress

__all__ = ["BUS_KEY", "EngineResult", "run_engine"]

_PROGRESS_CALLS = 200


class _Layer:
    """Static cycle counts and per-replica resources of one layer."""

    def __init__(self, env: simpy.Environment, plan: TimingPlan, layer: LayerTiming, replica: int,
                 arrival: tuple[tuple[tuple[int, int], ...], int | None]) -> None:
        self.layer = layer
        self.name = layer.name
        self.replica = replica
        self.arrays = simpy.Resource(env, capacity=1)
        self.modules = simpy.Resource(env, capacity=1)
        self.tiles = written_tiles(layer, replica, plan.tiles_per_replica)
        self.compute = compute_cycles(layer)
        self.mode = mask_mode(layer)
        self.mask = layer.mask_cycles
        self.inline_mask = layer.mvms * layer.mask_cycles if self.mode == "window" else 0
        self.hold = array_hold_cycles(layer)
        self.write = buffer_write_cycles(layer)
        self.transfer = transfer_cycles(layer)
        self.preds, self.input_delay = arrival  # ((plan index, digital cycles), …), cycles after the input
        self.steps = 0  # (job, layer) steps executed here
        self.masks = 0  # masks generated for this layer (per_window: one per MVM)
        self.akey = arrays_key(layer.name, replica)
        self.mkey = modules_key(layer.name, replica)
        # layer-pipeline bookkeeping
        self.started = Progress(env)  # jobs that started computing here
        self.requested = Progress(env)  # jobs that queued for the arrays (keeps input-major order)
        self.masks_done = Progress(env)  # look-ahead masks finished
        self.source = not self.preds  # reads the network input only: where a job's latency starts
        self.port_groups: list[tuple[int, ...]] = [(t,) for t in self.tiles]  # tiles with the same writers
        self.gen_start: dict[int, int] = {}  # source layers: start of job j's look-ahead mask generation


class _Engine:
    def __init__(self, plan: TimingPlan, trace: bool, progress: Callable[[int], None] | None,
                 mirror_ports: bool = True) -> None:
        self.plan = plan
        self.env = env = simpy.Environment()
        self.tracing = trace
        self.trace: list[dict[str, Any]] = []
        self.progress = progress
        self.jobs = plan.inputs * plan.passes
        self.progress_every = max(1, self.jobs // _PROGRESS_CALLS)
        self.pipelined = plan.schedule == "layer_pipelined"
        n_replicas = plan.replicas if plan.schedule == "replicated" else 1
        self.n_replicas = n_replicas
        self.events = 0  # what the processes waited on (EngineResult.events)
        # Sequential / replicated: one worker per replica runs one job at a time and owns that replica's
        # arrays and modules (each layer steps once per job), so they can never be contended. A chain also owns
        # its tile ports and (one replica) the bus and the global buffer's ports; concurrent branches of one
        # job may contend for the tile ports and the bus, so then they are arbitrated. An uncontended hold is
        # one timeout (no request, no grant); the cycles and statistics are the same (docs/timing.md, modes).
        self.chain = is_chain(plan)
        arrival = arrivals(plan)
        self.private = not self.pipelined
        self.ports_private = self.private and self.chain
        self.bus_private = self.ports_private and n_replicas == 1
        self.global_private = self.private and n_replicas == 1  # one job at a time, one logits layer
        self.cycle_end = CycleEnd(env)
        tiles = sorted({t for r in range(n_replicas) for layer in plan.layers
                        for t in written_tiles(layer, r, plan.tiles_per_replica)})
        self.ports = {t: Arbiter(self.cycle_end, plan.global_ports, plan.global_arbitration) if t == GLOBAL_TILE
                      else Arbiter(self.cycle_end, plan.buffer_ports, plan.port_arbitration) for t in tiles}
        self.bus = Arbiter(self.cycle_end, plan.bus_channels, plan.bus_arbitration)
        self.stages = [[_Layer(env, plan, layer, r, arr) for layer, arr in zip(plan.layers, arrival, strict=True)]
                       for r in range(n_replicas)]
        writers: dict[int, set[str]] = {}
        for stages in self.stages:
            for st in stages:
                if st.write:
                    for t in st.tiles:
                        writers.setdefault(t, set()).add(st.name)
        if mirror_ports:
            for stages in self.stages:
                for st in stages:
                    groups: dict[frozenset[str], list[int]] = {}
                    for t in st.tiles:
                        groups.setdefault(frozenset(writers.get(t, ())), []).append(t)
                    st.port_groups = [tuple(g) for g in groups.values()]
        # busy cycles and action counts follow from the steps and masks executed (cycles.tallied); only the
        # stalls depend on the interleaving and are booked as they happen
        self.wait: dict[str, int] = {}

        self.job_start: list[int | None] = [None] * plan.inputs
        self.job_finish = [0] * plan.inputs
        self.admit_time = [0] * plan.inputs
        self.passes_done = [0] * plan.inputs
        self.inputs_done = Progress(env)
        self.admitted = Progress(env)
        self.finished = 0

    # -- helpers -------------------------------------------------------------------------------------------
    def _x(self, name: str, cat: str, start: int, dur: int, pid: int, tid: str, args: dict[str, Any]) -> None:
        scale = 1e6 / self.plan.clock_hz
        self.trace.append({"name": name, "cat": cat, "ph": "X", "ts": start * scale, "dur": dur * scale,
                           "pid": pid, "tid": tid, "args": {**args, "start_cycle": start, "end_cycle": start + dur}})

    def _note_start(self, i: int, when: int) -> None:
        current = self.job_start[i]
        if current is None or when < current:
            self.job_start[i] = when

    def _job_done(self, i: int) -> None:
        self.job_finish[i] = max(self.job_finish[i], self.env.now)
        self.passes_done[i] += 1
        if self.passes_done[i] == self.plan.passes:
            self.inputs_done.advance()
        self.finished += 1
        if self.progress is not None and (self.finished % self.progress_every == 0 or self.finished == self.jobs):
            self.progress(self.finished)

    # -- resources ---------------------------------------------------------------------------------------
    def _acquire(self, req: simpy.Event, key: str) -> Generator[simpy.Event, Any, int]:
        """Wait for ``req`` (a request), booking the queueing time as a stall of ``key``."""
        asked = self.env.now
        self.events += 1
        yield req
        if self.env.now > asked:
            self.wait[key] = self.wait.get(key, 0) + self.env.now - asked
        return self.env.now

    def _hold(self, resource: simpy.Resource, cycles: int, key: str,
              private: bool = False) -> Generator[simpy.Event, Any, int]:
        """Take the (FIFO, never tied) ``resource``, keep it ``cycles`` cycles, give it back; returns the cycle
        the hold started. ``private``: nothing else can want it (one timeout)."""
        self.events += 1
        if private:
            start = self.env.now
            yield self.env.timeout(cycles)
            return start
        with resource.request() as req:
            start = yield from self._acquire(req, key)
            yield self.env.timeout(cycles)
        return start

    def _hold_arbitrated(self, arbiter: Arbiter, cycles: int, key: str, st: _Layer,
                         j: int) -> Generator[simpy.Event, Any, int]:
        """One unit of a shared ``arbiter`` (bus, buffer port) for ``cycles`` cycles, granted at a cycle boundary
        by its policy for (replica, job j, layer); returns the cycle the hold started."""
        start = yield from self._acquire(arbiter.request(st.replica, j, st.name), key)
        self.events += 1
        yield self.env.timeout(cycles)
        arbiter.release()
        return start

    # -- one (job, layer) step ---------------------------------------------------------------------------
    def _arrive(self, st: _Layer, done: list[int], begun: int) -> Generator[simpy.Event, Any, None]:
        """Wait until the layer may start: every predecessor finished (``done``: this job's finish per layer)
        plus the digital cycles (joins, pools) on the way, and the input's digital cycles after ``begun``."""
        heads = [done[p] + d for p, d in st.preds]
        if st.input_delay is not None:
            heads.append(begun + st.input_delay)
        wait = max(heads, default=begun) - self.env.now
        if wait > 0:
            self.events += 1
            yield self.env.timeout(wait)

    def _step(self, st: _Layer, j: int, i: int, t: int) -> Generator[simpy.Event, Any, None]:
        """Job j = (input i, pass t) on one layer: the arrays (its mask and compute), then the output write
        and the transfer to the next layer, each holding its own resource."""
        args = {"input": i, "pass": t} if self.tracing else None
        if self.private:  # this worker alone uses the replica's arrays
            yield from self._inline_mask(st, i, args)
            yield from self._compute(st, args)
        else:
            self.events += 1
            yield st.requested.reached(j)  # queue for the arrays in input-major job order
            with st.arrays.request() as req:
                st.requested.advance()
                yield from self._acquire(req, st.akey)
                yield from self._await_lookahead_mask(st, j, i)
                yield from self._inline_mask(st, i, args)
                yield from self._compute(st, args)
        if st.write:
            yield from self._write_outputs(st, j, args)
        if st.transfer:
            if self.bus_private:
                sent_at = yield from self._hold(self.bus, st.transfer, BUS_KEY, True)
            else:
                sent_at = yield from self._hold_arbitrated(self.bus, st.transfer, BUS_KEY, st, j)
            if self.tracing:
                self._x(f"transfer {st.name}", "transfer", sent_at, st.transfer, st.replica, BUS_KEY, args)
        st.steps += 1

    def _await_lookahead_mask(self, st: _Layer, j: int, i: int) -> Generator[simpy.Event, Any, None]:
        """Layer pipeline: with the arrays held, stall until this job's look-ahead mask is ready."""
        env = self.env
        if st.mode == "job" and (st.layer.regenerate == "per_input" or i == 0):
            asked = env.now
            self.events += 1
            yield st.masks_done.reached(j + 1)
            if env.now > asked:
                self.wait[st.mkey] = self.wait.get(st.mkey, 0) + env.now - asked
        st.started.advance()
        if st.source:  # a pass starts at its first activity on a layer reading the input (docs/timing.md)
            gen = st.gen_start.pop(j, None)
            self._note_start(i, env.now if gen is None else max(self.admit_time[i], min(gen, env.now)))

    def _inline_mask(self, st: _Layer, i: int, args: dict[str, Any] | None) -> Generator[simpy.Event, Any, None]:
        """Masks on the job's own path: sequential / replicated one-per-job masks, or per_window masks
        (one before every MVM, compressed into one hold)."""
        n_masks = masks_per_job(st.layer, i) if (st.mode == "window" or not self.pipelined) else 0
        if not n_masks:
            return
        cycles = st.inline_mask if st.mode == "window" else st.mask
        gen_at = yield from self._hold(st.modules, cycles, st.mkey, self.private)
        st.masks += n_masks
        if self.tracing:
            self._x(f"mask {st.name}", "mask", gen_at, cycles, st.replica, st.mkey, args)

    def _compute(self, st: _Layer, args: dict[str, Any] | None) -> Generator[simpy.Event, Any, None]:
        """Row-group reads, conversions, accumulation and the reduction of every MVM as one compressed timeout.
        The converters belong to the arrays, which this job holds alone: they cannot be contended."""
        env = self.env
        compute_at = env.now
        self.events += 1
        yield env.timeout(st.compute)
        if self.tracing:
            self._x(f"compute {st.name}", "compute", compute_at, st.compute, st.replica, st.akey, args)

    def _write_outputs(self, st: _Layer, j: int, args: dict[str, Any] | None) -> Generator[simpy.Event, Any, None]:
        """One burst per written buffer (each tile of the layer; the logits: the global buffer), in parallel."""
        if self.global_private if st.layer.last else self.ports_private:  # nothing else can want them
            wrote_at = self.env.now
            self.events += 1
            yield self.env.timeout(st.write)
            if self.tracing:
                for tile in st.tiles:
                    self._x(f"write {st.name}", "buffer", wrote_at, st.write, st.replica, ports_key(tile), args)
            return
        if len(st.port_groups) == 1:
            yield from self._write(st, st.port_groups[0], j, args)
        else:
            self.events += 1
            yield self.env.all_of([self.env.process(self._write(st, group, j, args)) for group in st.port_groups])

    def _write(self, st: _Layer, group: tuple[int, ...], j: int, args: dict[str, Any] | None
               ) -> Generator[simpy.Event, Any, None]:
        """The burst into one group of tiles with the same writers: their queues see the same requests at the
        same cycles and grant them alike, so the first tile's port stands for all; the others get the same
        wait (and busy) cycles."""
        asked = self.env.now
        wrote_at = yield from self._hold_arbitrated(self.ports[group[0]], st.write, ports_key(group[0]), st, j)
        for tile in group:
            key = ports_key(tile)
            if tile != group[0] and wrote_at > asked:
                self.wait[key] = self.wait.get(key, 0) + wrote_at - asked
            if self.tracing:
                self._x(f"write {st.name}", "buffer", wrote_at, st.write, st.replica, key, args)

    # -- schedules -----------------------------------------------------------------------------------------
    def _job(self, stages: list[_Layer], j: int, i: int, t: int) -> Generator[simpy.Event, Any, None]:
        """One job over the layer DAG from now: every layer starts once all its predecessors finished their
        step (compute, buffer write, transfer) and the digital nodes between them ran; a chain runs its layers
        one after another in this process, a DAG one process per layer (independent branches overlap)."""
        begun = self.env.now
        done = [0] * len(stages)
        if self.chain:
            for k, st in enumerate(stages):
                yield from self._arrive(st, done, begun)
                yield from self._step(st, j, i, t)
                done[k] = self.env.now
            return
        procs: list[simpy.Process] = []
        for k, st in enumerate(stages):
            procs.append(self.env.process(self._layer_after(st, k, [procs[p] for p, _ in st.preds], done,
                                                            begun, j, i, t)))
        self.events += 1
        yield self.env.all_of(procs)

    def _layer_after(self, st: _Layer, k: int, deps: list[simpy.Process], done: list[int], begun: int,
                     j: int, i: int, t: int) -> Generator[simpy.Event, Any, None]:
        self.events += 1  # the process's start
        if deps:
            self.events += 1
            yield self.env.all_of(deps)
        yield from self._arrive(st, done, begun)
        yield from self._step(st, j, i, t)
        done[k] = self.env.now

    def _worker(self, replica: int) -> Generator[simpy.Event, Any, None]:
        """Sequential / replicated: this replica runs its passes one at a time, input-major; within a pass the
        layers follow the plan's DAG (a chain: one after another)."""
        plan = self.plan
        passes = range(replica, plan.passes, self.n_replicas)
        stages = self.stages[replica]
        for i in range(plan.inputs):
            if plan.schedule == "replicated":
                self.events += 1
                yield self.admitted.reached(i + 1)
            for t in passes:
                self._note_start(i, self.env.now)
                yield from self._job(stages, i * plan.passes + t, i, t)
                self._job_done(i)

    def _segments(self, stages: list[_Layer], i: int) -> list[int]:
        """The timeouts of one job of input ``i`` when every resource is the worker's own: per layer the wait
        for its inputs (digital nodes), the inline mask (if any), the compute, the write and the transfer
        (those with cycles), exactly as :meth:`_job` yields them (nothing contended, so the offsets are fixed)."""
        segments: list[int] = []
        done: list[int] = []
        now = 0
        for st in stages:
            heads = [done[p] + d for p, d in st.preds] + ([st.input_delay] if st.input_delay is not None else [])
            arrive = max(heads, default=0)
            if arrive > now:
                segments.append(arrive - now)
            steps = [st.inline_mask if st.mode == "window" else st.mask] if masks_per_job(st.layer, i) else []
            steps += [st.compute] + [c for c in (st.write, st.transfer) if c]
            segments += steps
            now = max(arrive, now) + sum(steps)
            done.append(now)
        return segments

    def _owned_worker(self, replica: int) -> Generator[simpy.Event, Any, None]:
        """:meth:`_worker` in the engine's *owned-resource mode*: a chain whose arrays, modules, ports, bus and
        global buffer belong to this worker alone, no trace kept. It yields the same timeouts in the same order
        and tallies the per-step bookkeeping (steps, masks, events) per input instead of per event. Input 0
        differs from the rest only in its per_pass masks."""
        plan, env = self.plan, self.env
        timeout = env.timeout
        stages = self.stages[replica]
        passes = range(replica, plan.passes, self.n_replicas)
        first, rest = self._segments(stages, 0), self._segments(stages, 1)
        masks_first = [len(passes) * masks_per_job(st.layer, 0) for st in stages]
        masks_rest = [len(passes) * masks_per_job(st.layer, 1) for st in stages]
        for i in range(plan.inputs):
            if plan.schedule == "replicated":
                self.events += 1
                yield self.admitted.reached(i + 1)
            segments = rest if i else first
            for _ in passes:
                self._note_start(i, env.now)
                for cycles in segments:
                    yield timeout(cycles)
                self._job_done(i)
            self.events += len(passes) * len(segments)
            for st, m in zip(stages, masks_rest if i else masks_first, strict=True):
                st.steps += len(passes)
                st.masks += m

    def _admission(self) -> Generator[simpy.Event, Any, None]:
        """Replicated / pipelined: an input enters once fewer than inputs_in_flight inputs are unfinished."""
        plan = self.plan
        for i in range(plan.inputs):
            self.events += 1
            yield self.inputs_done.reached(i + 1 - plan.inputs_in_flight)
            self.admit_time[i] = self.env.now
            if self.pipelined:
                for t in range(plan.passes):
                    self.env.process(self._pipelined_job(i, t))
            else:
                self.admitted.advance()

    def _pipelined_job(self, i: int, t: int) -> Generator[simpy.Event, Any, None]:
        """Layer pipeline: one job through the stages; a layer's step starts once the job's steps on all its
        predecessors finished (and the digital nodes between them ran) and it queued for the arrays in
        input-major job order (:meth:`_step`)."""
        self.events += 1  # the process's start
        if any(st.source and st.input_delay for st in self.stages[0]):
            self._note_start(i, self.env.now)  # digital work on the input is the pass's first activity
        yield from self._job(self.stages[0], i * self.plan.passes + t, i, t)
        self._job_done(i)

    def _mask_generator(self, st: _Layer, n_masks: int) -> Generator[simpy.Event, Any, None]:
        """Layer pipeline: mask j is generated once mask j−1 is done and job j−1 started computing here."""
        for j in range(n_masks):
            self.events += 1
            yield st.started.reached(j)
            gen_at = yield from self._hold(st.modules, st.mask, st.mkey)
            if st.source:
                st.gen_start[j] = gen_at
            st.masks += 1
            st.masks_done.advance()
            if self.tracing:
                i, t = divmod(j, self.plan.passes)
                self._x(f"mask {st.name}", "mask", gen_at, st.mask, st.replica, st.mkey, {"input": i, "pass": t})

    def run(self) -> EngineResult:
        plan, env = self.plan, self.env
        if self.pipelined:
            for st in self.stages[0]:
                if st.mode == "job":
                    n = self.jobs if st.layer.regenerate == "per_input" else plan.passes
                    env.process(self._mask_generator(st, n))
            env.process(self._admission())
        else:
            if plan.schedule == "replicated":
                env.process(self._admission())
            owned = self.bus_private and not self.tracing
            for r in range(self.n_replicas):
                env.process(self._owned_worker(r) if owned else self._worker(r))
        env.run()
        busy, counts = tallied(plan, [[st.steps for st in stages] for stages in self.stages],
                               [[st.masks for st in stages] for stages in self.stages])
        total = max(self.job_finish)
        latencies = tuple(f - (s or 0) for f, s in zip(self.job_finish, self.job_start, strict=True))
        return EngineResult(
            total_cycles=total,
            latency_cycles=latencies,
            first_input_latency_cycles=latencies[0],
            throughput_inputs_per_cycle=plan.inputs / total if total else float("inf"),
            busy_cycles=busy,
            wait_cycles={key: self.wait.get(key, 0) for key in busy},
            action_counts=counts,
            events=self.events,
            trace=self.trace,
            finish_cycles=tuple(self.job_finish),
        )


def _repeated_inputs(plan: TimingPlan, progress: Callable[[int], None] | None) -> EngineResult:
    """The engine's *repeated-input mode* (sequential, more than 2 inputs, no trace): inputs 0 and 1 are
    simulated, the rest multiplied out — exact, because sequentially input i starts when input i − 1 has left
    the chip (every resource idle) and every input after the first runs the same jobs (only input 0 generates
    per_pass masks): its events, busy and wait cycles and action counts are those of input 1."""
    n = plan.inputs
    one = _Engine(replace(plan, inputs=1), False, None).run()
    # progress in jobs of the whole run: the two simulated inputs stand for all n
    two = _Engine(replace(plan, inputs=2), False,
                  (lambda d: progress(d * n // 2)) if progress is not None else None).run()

    def extend(a: dict, b: dict) -> dict:
        return {k: a.get(k, 0) + (n - 1) * (b[k] - a.get(k, 0)) for k in b}

    lat0, lat1 = two.latency_cycles
    total = lat0 + (n - 1) * lat1
    return EngineResult(
        total_cycles=total, latency_cycles=(lat0,) + (lat1,) * (n - 1), first_input_latency_cycles=lat0,
        throughput_inputs_per_cycle=n / total if total else float("inf"),
        busy_cycles=extend(one.busy_cycles, two.busy_cycles), wait_cycles=extend(one.wait_cycles, two.wait_cycles),
        action_counts=extend(one.action_counts, two.action_counts),
        events=one.events + (n - 1) * (two.events - one.events),
        finish_cycles=tuple(lat0 + k * lat1 for k in range(n)))


def run_engine(plan: TimingPlan, *, trace: bool = False, progress: Callable[[int], None] | None = None,
               repeat_inputs: bool = True) -> EngineResult:
    """Simulate ``plan`` cycle by cycle (event-compressed) under its schedule.

    Args:
        plan: what to schedule (validated; a bad plan raises :class:`cimsim.errors.ConfigError`).
        trace: also record Chrome-trace "X" events (µs via ``plan.clock_hz``; pid = replica, tid = resource).
        progress: called with the number of finished jobs, at most about 200 times per run.
        repeat_inputs: allow the repeated-input mode (sequential, > 2 inputs, no trace: inputs 0 and 1
            simulated, the rest multiplied out; exact). False: simulate every input.
    """
    validate_plan(plan)
    if repeat_inputs and plan.schedule == "sequential" and plan.inputs > 2 and not trace:
        return _repeated_inputs(plan, progress)
    return _Engine(plan, trace, progress).run()
