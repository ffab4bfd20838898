"""Timing engine: event engine vs closed form, hand-computed contention, scaling and determinism."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from cimsim.engine.closed_form import closed_form, masks_hidden, pipelined_bound
from cimsim.engine.plan import LayerTiming, TimingPlan
from cimsim.engine.simulator import BUS_KEY, run_engine
from cimsim.engine.trace import write_chrome_trace
from cimsim.errors import ConfigError

SCHEDULES = ("sequential", "layer_pipelined", "replicated")


def _with_counts(kw: dict) -> dict:
    """Executed-action counts of a hand-made layer: every array reads all row groups and converts its columns."""
    kw.setdefault("reads_per_mvm", kw["arrays"] * kw["row_groups"])
    kw.setdefault("conversions_per_mvm", kw["arrays"] * kw["row_groups"] * kw["conversions"])
    kw.setdefault("mask_bits", kw.get("modules", 0) * kw.get("generations", 0))
    return kw


def layer(name: str, **kw) -> LayerTiming:
    """A 1-cycle-everything layer: compute = 1 read + 1 conversion = 2 cycles, no buffer, no bus, no dropout."""
    base = dict(mvms=1, arrays=1, tile_ids=(0,), row_groups=1, read_cycles=1, conversions=1, columns_per_converter=1,
                convert_cycles=1, accumulate_cycles=0, reduce_cycles=0, buffer_accesses=0, buffer_cycles=1,
                transfer_flits=0, transfer_cycles=1)
    base.update(kw)
    return LayerTiming(name=name, **_with_counts(base))


def random_layer(rng: np.random.Generator, name: str, tiles: tuple[int, ...]) -> LayerTiming:
    def n(lo: int, hi: int) -> int:
        return int(rng.integers(lo, hi + 1))

    lt = LayerTiming(name=name, **_with_counts(dict(
        mvms=n(1, 3), arrays=n(1, 3), tile_ids=tiles, row_groups=n(1, 3), read_cycles=n(1, 3),
        conversions=n(0, 8), columns_per_converter=n(1, 4), convert_cycles=n(1, 3), accumulate_cycles=n(0, 2),
        reduce_cycles=n(0, 2), buffer_accesses=n(0, 2), buffer_cycles=n(1, 2), transfer_flits=n(0, 3),
        transfer_cycles=n(1, 2), dropout=bool(n(0, 1)), modules=n(1, 3), generations=n(1, 4),
        generate_cycles=n(1, 5), regenerate=("per_pass", "per_input", "per_window")[n(0, 2)])))
    # 0-2 buffer accesses per MVM on each tile: buffer_accesses counts them per job
    return replace(lt, buffer_accesses=lt.buffer_accesses * lt.mvms)


def random_plan(rng: np.random.Generator, schedule: str, *, uncontended: bool) -> TimingPlan:
    n_layers = int(rng.integers(1, 4))
    if uncontended:  # each layer its own tiles; ports and channels never run out
        tiles = [(2 * k, 2 * k + 1) if rng.integers(2) else (2 * k,) for k in range(n_layers)]
        tiles_per_replica, ports, channels = 2 * n_layers, 64, 64
    else:  # every layer on tile 0 or 1, one port, one bus channel
        tiles = [(int(rng.integers(2)),) for _ in range(n_layers)]
        tiles_per_replica, ports, channels = 2, 1, 1
    layers = tuple(random_layer(rng, f"l{k}", tiles[k]) for k in range(n_layers))
    return TimingPlan(layers=layers, schedule=schedule, replicas=int(rng.integers(1, 4)),
                      inputs=int(rng.integers(1, 5)), passes=int(rng.integers(1, 6)),
                      inputs_in_flight=int(rng.integers(1, 4)), buffer_ports=ports, bus_channels=channels,
                      tiles_per_replica=tiles_per_replica)


def assert_no_port_or_bus_waits(result) -> None:
    waits = {k: v for k, v in result.wait_cycles.items() if k == BUS_KEY or k.startswith("ports:")}
    assert waits and all(v == 0 for v in waits.values()), waits


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_engine_equals_closed_form_on_uncontended_random_plans(schedule):
    rng = np.random.default_rng(20240611)
    for _ in range(40):
        plan = random_plan(rng, schedule, uncontended=True)
        got, want = run_engine(plan), closed_form(plan)
        assert_no_port_or_bus_waits(got)
        assert got.total_cycles == want.total_cycles, plan
        assert got.latency_cycles == want.latency_cycles, plan
        assert got.first_input_latency_cycles == want.first_input_latency_cycles
        assert got.throughput_inputs_per_cycle == plan.inputs / got.total_cycles


def test_pipelined_recurrence_equals_textbook_bound_when_masks_hidden():
    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(60):
        plan = random_plan(rng, "layer_pipelined", uncontended=True)
        plan = replace(plan, inputs_in_flight=plan.inputs)
        if not masks_hidden(plan):
            assert closed_form(plan).total_cycles >= pipelined_bound(plan)
            continue
        checked += 1
        assert closed_form(plan).total_cycles == pipelined_bound(plan), plan
        assert run_engine(plan).total_cycles == pipelined_bound(plan)
    assert checked >= 20


def test_shared_adc_hand_computed():
    # 8 used columns, 4 per converter (converter 0 owns columns 0-3, converter 1 columns 4-7): 4 rounds
    # 2 row groups × (1 read + 4 rounds × 3 cycles + 1 accumulate) + 2 reduce = 2×14 + 2 = 30
    plan = TimingPlan(layers=(layer("a", row_groups=2, conversions=8, columns_per_converter=4, convert_cycles=3,
                                    accumulate_cycles=1, reduce_cycles=2),))
    res = run_engine(plan)
    assert res.total_cycles == 30 == closed_form(plan).total_cycles
    assert res.action_counts[("a", "column_periphery.convert")] == 16
    assert res.action_counts[("a", "crossbar.read_row_group")] == 2
    # converters not shared: 8 conversions on 8 converters are one round of 3 → 2×(1+3+1)+2 = 12
    assert run_engine(replace(plan, layers=(replace(plan.layers[0], columns_per_converter=1),))).total_cycles == 12
    # the wiring, not a free pool: 10 used columns on 8:1-muxed converters take 8 rounds (converter 0 owns
    # columns 0-7, converter 1 columns 8-9), not ⌈10 / converters⌉ = 1 → 2×(1+8×3+1)+2 = 54
    wired = replace(plan.layers[0], conversions=10, columns_per_converter=8)
    assert wired.convert_rounds == 8
    assert run_engine(replace(plan, layers=(wired,))).total_cycles == 54 == closed_form(replace(plan, layers=(wired,))).total_cycles


def test_modules_shared_by_rows_hand_computed():
    # 2 modules each generating 4 bits × 5 cycles = 20-cycle mask; compute 2 cycles; T = 3, per_input.
    drop = layer("a", dropout=True, modules=2, generations=4, generate_cycles=5, regenerate="per_input")
    seq = run_engine(TimingPlan(layers=(drop,), passes=3))
    assert seq.total_cycles == 3 * (20 + 2)  # 66: mask then compute, per pass
    assert seq.action_counts[("a", "dropout_source.generate")] == 3 * 2 * 4
    assert seq.busy_cycles["modules:a:r0"] == 60
    # pipelined: mask j starts when mask j-1 is done and job j-1 started computing → masks back to back:
    # masks 0-20, 20-40, 40-60; computes 20-22, 40-42, 60-62 → 62 (the modules are the bottleneck)
    pipe = run_engine(TimingPlan(layers=(drop,), passes=3, schedule="layer_pipelined"))
    assert pipe.total_cycles == 62
    assert pipe.wait_cycles["modules:a:r0"] == 20 + 18 + 18  # job 0 waits 0-20; jobs 1, 2 wait 18 each
    # per_window: a fresh 20-cycle mask before each of 2 MVMs, serial with compute, in every schedule
    win = replace(drop, regenerate="per_window", mvms=2)
    for schedule in SCHEDULES:
        res = run_engine(TimingPlan(layers=(win,), passes=3, schedule=schedule))
        assert res.total_cycles == 3 * (2 * 20 + 2 * 2), schedule
        assert res.action_counts[("a", "dropout_source.generate")] == 3 * 2 * 2 * 4


def test_two_layers_one_tile_one_port_pipelined_hand_computed():
    # Layers a, b both on tile 0 (1 port); each computes 2 cycles and writes 4 cycles; T = 2 passes.
    #   job0 a: compute 0-2, write 2-6            job1 a: compute 2-4, port busy → write 6-10
    #   job0 b: arrives 6, compute 6-8, port busy (job1 a) → write 10-14
    #   job1 b: arrives 10, compute 10-12, port busy (job0 b) → write 14-18           → 18 cycles
    # port waits: job1 a 2, job0 b 2, job1 b 2 = 6. Uncontended (closed form) it would be 14.
    plan = TimingPlan(layers=(layer("a", buffer_accesses=4), layer("b", buffer_accesses=4)),
                      schedule="layer_pipelined", passes=2)
    res = run_engine(plan)
    assert res.total_cycles == 18
    assert res.wait_cycles["ports:tile0"] == 6
    assert res.busy_cycles["ports:tile0"] == 16
    assert closed_form(plan).total_cycles == 14
    assert run_engine(replace(plan, buffer_ports=2)).total_cycles == 14


def test_bus_one_channel_two_replicas_hand_computed():
    # Replicated ×2, T = 2: both replicas compute 0-2, then each sends 3 flits × 1 cycle.
    # One channel: replica 0 sends 2-5, replica 1 queues and sends 5-8 → 8 (uncontended: 5).
    plan = TimingPlan(layers=(layer("a", transfer_flits=3),), schedule="replicated", replicas=2, passes=2)
    res = run_engine(plan)
    assert res.total_cycles == 8 and res.latency_cycles == (8,)
    assert res.wait_cycles[BUS_KEY] == 3
    assert closed_form(plan).total_cycles == 5
    assert run_engine(replace(plan, bus_channels=2)).total_cycles == 5


def test_pipelined_never_slower_than_sequential():
    rng = np.random.default_rng(99)
    for uncontended in (True, False):
        for _ in range(40):
            plan = random_plan(rng, "sequential", uncontended=uncontended)
            plan = replace(plan, passes=max(2, plan.passes))
            seq = run_engine(plan).total_cycles
            pipe = run_engine(replace(plan, schedule="layer_pipelined")).total_cycles
            assert pipe <= seq, plan


@pytest.mark.parametrize("k", [2, 3])
def test_replicated_throughput_is_k_times_sequential(k):
    rng = np.random.default_rng(k)
    for _ in range(15):
        plan = random_plan(rng, "sequential", uncontended=True)
        plan = replace(plan, passes=k * int(rng.integers(1, 3)), bus_channels=k, buffer_ports=1,
                       inputs_in_flight=1)
        seq = run_engine(plan)
        rep = run_engine(replace(plan, schedule="replicated", replicas=k))
        assert seq.total_cycles == k * rep.total_cycles
        assert rep.throughput_inputs_per_cycle == pytest.approx(k * seq.throughput_inputs_per_cycle, rel=1e-12)


def test_per_pass_masks_make_later_inputs_faster_by_the_mask_cycles():
    a = layer("a", dropout=True, modules=1, generations=3, generate_cycles=4, regenerate="per_pass")
    b = layer("b", tile_ids=(1,), buffer_accesses=2, transfer_flits=2, dropout=True, modules=2,
              generations=2, generate_cycles=5, regenerate="per_pass")
    c = layer("c", tile_ids=(2,), reduce_cycles=3)
    passes = 4
    res = run_engine(TimingPlan(layers=(a, b, c), passes=passes, inputs=3, tiles_per_replica=3))
    mask = a.mask_cycles + b.mask_cycles  # 12 + 10
    assert res.latency_cycles[0] - res.latency_cycles[1] == passes * mask
    assert res.latency_cycles[1] == res.latency_cycles[2]
    assert res.action_counts[("a", "dropout_source.generate")] == passes * 3  # only during input 0
    per_input = run_engine(TimingPlan(layers=(replace(a, regenerate="per_input"), b, c), passes=passes,
                                      inputs=3, tiles_per_replica=3))
    assert per_input.latency_cycles[2] - res.latency_cycles[2] == passes * a.mask_cycles


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_event_count_is_independent_of_cycles_and_linear_in_inputs(schedule):
    drop = dict(dropout=True, modules=2, generations=3, generate_cycles=2, regenerate="per_input")
    layers = (layer("a", tile_ids=(0, 1), buffer_accesses=1, transfer_flits=2, **drop),
              layer("b", tile_ids=(2,), buffer_accesses=2, transfer_flits=1, mvms=3),
              layer("c", tile_ids=(3,), transfer_flits=1, **drop))
    plan = TimingPlan(layers=layers, schedule=schedule, passes=4, inputs=3, replicas=2, tiles_per_replica=4,
                      inputs_in_flight=2)
    base = run_engine(plan)
    scaled = replace(plan, layers=tuple(replace(lay, row_groups=100 * lay.row_groups,
                                                read_cycles=100 * lay.read_cycles) for lay in layers))
    scaled_res = run_engine(scaled)
    assert scaled_res.total_cycles > 50 * base.total_cycles // 2
    assert scaled_res.events == base.events
    counts = [run_engine(replace(plan, inputs=n)).events for n in (1, 2, 3, 5)]
    step = counts[1] - counts[0]
    assert step > 0
    assert counts[2] - counts[1] == step
    assert counts[3] == counts[0] + 4 * step


def test_trace_is_valid_chrome_json_and_ends_at_total_cycles(tmp_path):
    plan = TimingPlan(layers=(layer("a", tile_ids=(0, 1), buffer_accesses=2, transfer_flits=1, dropout=True,
                                    modules=1, generations=2, generate_cycles=3),
                              layer("b", tile_ids=(0,), buffer_accesses=1, transfer_flits=2)),
                      schedule="replicated", replicas=2, passes=4, inputs=2, tiles_per_replica=2,
                      clock_hz=2e6)
    res = run_engine(plan, trace=True)
    assert run_engine(plan).trace == []
    path = write_chrome_trace(res.trace, tmp_path / "t.json")
    doc = json.loads(path.read_text())
    assert doc["displayTimeUnit"] == "ns"
    events = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    assert len(events) == len(res.trace) > 0
    for e in events:
        assert {"name", "cat", "ph", "ts", "dur", "pid", "tid"} <= e.keys()
        assert isinstance(e["tid"], int) and e["pid"] in (0, 1) and e["dur"] >= 0
    us_per_cycle = 1e6 / plan.clock_hz
    assert max(e["ts"] + e["dur"] for e in events) == pytest.approx(res.total_cycles * us_per_cycle)
    assert max(e["args"]["end_cycle"] for e in events) == res.total_cycles
    names = {e["args"]["name"] for e in doc["traceEvents"] if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {"arrays:a:r0", "arrays:b:r1", BUS_KEY, "ports:tile2"} <= names


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_deterministic_and_progress(schedule):
    rng = np.random.default_rng(3)
    plan = replace(random_plan(rng, schedule, uncontended=False), inputs=30, passes=20)
    calls: list[int] = []
    first = run_engine(plan, trace=True, progress=calls.append)
    second = run_engine(plan, trace=True)
    assert first == second
    assert first.trace == second.trace
    assert calls == sorted(calls) and calls[-1] == 600 and len(calls) <= 201


@pytest.mark.parametrize("schedule", ["sequential", "replicated"])
def test_owned_resource_mode_equals_the_traced_general_path(schedule):
    """Untraced chains whose resources are the worker's own run in the engine's owned-resource mode (a worker
    that only yields the step timeouts); traced runs take the general step-by-step path. Both must give the
    same schedule, statistics and events on every plan (every input simulated in both)."""
    rng = np.random.default_rng(77)
    for _ in range(60):
        plan = random_plan(rng, schedule, uncontended=bool(rng.integers(2)))
        fast, full = run_engine(plan, repeat_inputs=False), run_engine(plan, trace=True)
        assert fast == replace(full, trace=[]), plan


def test_busy_cycles_and_action_counts_add_up():
    rng = np.random.default_rng(11)
    for schedule in SCHEDULES:
        plan = random_plan(rng, schedule, uncontended=True)
        res = run_engine(plan)
        jobs = plan.inputs * plan.passes
        for lay in plan.layers:
            reads = lay.arrays * lay.row_groups * lay.mvms * jobs
            assert res.action_counts[(lay.name, "crossbar.read_row_group")] == reads
            assert res.action_counts[(lay.name, "column_periphery.convert")] == reads * lay.conversions
            assert res.action_counts[(lay.name, "controller.issue")] == jobs
            assert res.action_counts.get((lay.name, "interconnect.transfer"), 0) == lay.transfer_flits * jobs
            writes = lay.buffer_accesses * len(lay.tile_ids) * jobs  # buffer_accesses: per job and tile
            assert res.action_counts.get((lay.name, "local_buffer.write"), 0) == writes
        bus = sum(lay.transfer_flits * lay.transfer_cycles for lay in plan.layers) * jobs
        assert res.busy_cycles[BUS_KEY] == bus


def test_bad_plans_raise_config_error():
    with pytest.raises(ConfigError):
        run_engine(TimingPlan(layers=()))
    with pytest.raises(ConfigError):
        run_engine(TimingPlan(layers=(layer("a"), layer("a"))))
    with pytest.raises(ConfigError):
        run_engine(TimingPlan(layers=(layer("a"),), inputs_in_flight=0))
    with pytest.raises(ConfigError):
        closed_form(TimingPlan(layers=(layer("a", tile_ids=(3,)),), schedule="replicated", replicas=2))
