"""Concurrent branches in the timing engine: a layer starts once its crossbar predecessors finished, independent
branches overlap, the closed form is the longest path through the layer DAG, and shared ports and bus channels
are never held by more than their capacity."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

import numpy as np
import pytest

from cimsim.activity import TIMED_ACTIONS, expected_counts
from cimsim.engine.closed_form import closed_form, masks_hidden, pipelined_bound
from cimsim.engine.cycles import is_chain
from cimsim.engine.plan import TimingPlan, build_plan
from cimsim.engine.simulator import BUS_KEY, run_engine
from cimsim.engine.timing import contention_free, time_plan
from cimsim.errors import ConfigError
from cimsim.hardware import build_hardware
from cimsim.mapping import map_network
from cimsim.resolve import resolve
from cimsim.spec.loader import load_arch, load_workload

from .conftest import ROOT
from .test_engine import layer, random_layer

RESNET = ROOT / "workloads" / "cifar10_resnet18_shapes.yaml"
RESNET_SETS = [("chip.tiles", "auto"), ("crossbar.rows", 256), ("crossbar.cols", 256)]


def two_branch(**plan_kw) -> TimingPlan:
    """Main branch m1 → m2 (10 + 10 cycles of compute), shortcut sc (4 cycles) from the input, join j (2
    cycles) after both; every layer on its own tile, no writes, no transfers."""
    layers = (layer("m1", read_cycles=9, tile_ids=(0,), after=()),
              layer("m2", read_cycles=9, tile_ids=(1,), after=("m1",)),
              layer("sc", read_cycles=3, tile_ids=(2,), after=()),
              layer("j", tile_ids=(3,), after=("m2", "sc")))
    return TimingPlan(layers=layers, tiles_per_replica=4, **plan_kw)


def test_two_branch_span_is_the_critical_path_hand_computed():
    plan = two_branch(passes=3)
    assert not is_chain(plan)
    # max(10 + 10, 4) + 2 = 22 per pass (the chain order would take 10 + 10 + 4 + 2 = 26)
    res = run_engine(plan)
    assert res.total_cycles == 3 * 22 == closed_form(plan).total_cycles
    chain = replace(plan, layers=tuple(replace(lt, after=None) for lt in plan.layers))
    assert is_chain(chain)
    assert run_engine(chain).total_cycles == 3 * 26 == closed_form(chain).total_cycles
    # replicated with 3 replicas: each pass on its own copy, all three in parallel
    rep = replace(plan, schedule="replicated", replicas=3, inputs_in_flight=1)
    assert run_engine(rep).total_cycles == 22 == closed_form(rep).total_cycles


def test_two_branch_pipeline_hand_computed():
    """Layer pipeline over the DAG: a job's step on a layer starts once its steps on the layer's predecessors
    finished, jobs keep input-major order per layer, so the shortcut runs beside the main branch."""
    plan = two_branch(passes=3, schedule="layer_pipelined")
    # m1 holds its arrays 0-10, 10-20, 20-30 (the 10-cycle bottleneck); sc 0-4, 4-8, 8-12 alongside;
    # m2 10-20, 20-30, 30-40; j after m2 and sc: 20-22, 30-32, 40-42
    res = run_engine(plan)
    assert res.total_cycles == 42 == closed_form(plan).total_cycles
    assert res.latency_cycles == (42,)
    # chain order (sc a stage between m2 and j): job 0 ends at 10 + 10 + 4 + 2 = 26, then one job per 10 cycles
    chain = replace(plan, layers=tuple(replace(lt, after=None) for lt in plan.layers))
    assert run_engine(chain).total_cycles == 46 == closed_form(chain).total_cycles
    # two inputs in flight: input 1's passes follow on m1 (30-60) and end on j at 52, 62, 72; its first
    # activity is its shortcut, which starts at 12 (sc reads the input too), so its latency is 72 - 12
    both = replace(plan, inputs=2, inputs_in_flight=2)
    res2, cf2 = run_engine(both), closed_form(both)
    assert res2.total_cycles == 72 == cf2.total_cycles
    assert res2.latency_cycles == (42, 60) == cf2.latency_cycles
    assert time_plan(both).method == "closed_form" and time_plan(both).latency_cycles == (42, 60)


def test_pipelined_engine_equals_closed_form_on_uncontended_dags():
    """Uncontended random DAGs under layer_pipelined (masks, admission and per-layer job order included): the
    engine equals the max-plus recurrence over predecessors to the cycle, and so do auto timing's waits."""
    rng = np.random.default_rng(4242)
    concurrent = 0
    for _ in range(60):
        plan = random_dag_plan(rng, "layer_pipelined", uncontended=True)
        concurrent += not is_chain(plan)
        got, want = run_engine(plan), closed_form(plan)
        assert got.total_cycles == want.total_cycles, plan
        assert got.latency_cycles == want.latency_cycles, plan
        assert all(v == 0 for k, v in got.wait_cycles.items() if k == BUS_KEY or k.startswith("ports:"))
        ok, why = contention_free(plan)
        assert ok, why
        auto = time_plan(plan)
        assert auto.method == "closed_form"
        assert auto.wait_cycles == got.wait_cycles and auto.busy_cycles == got.busy_cycles, plan
        assert auto.action_counts == got.action_counts, plan
    assert concurrent >= 40


def test_pipelined_bound_is_the_critical_path_pipeline_on_dags():
    """With masks hidden and every input in flight the DAG recurrence unrolls to max over paths π of
    m_π + Σ_π l + (J − 1)·max_π s; the chain formula Σ_ℓ l over all layers would overstate it."""
    plan = two_branch(passes=3, schedule="layer_pipelined")
    assert masks_hidden(plan) and pipelined_bound(plan) == 42  # path m1, m2, j: 22 + 2 × 10
    rng = np.random.default_rng(77)
    checked = 0
    for _ in range(60):
        dag = random_dag_plan(rng, "layer_pipelined", uncontended=True)
        dag = replace(dag, inputs_in_flight=dag.inputs)
        cf = closed_form(dag).total_cycles
        if not masks_hidden(dag):
            assert cf >= pipelined_bound(dag)
            continue
        checked += 1
        assert cf == pipelined_bound(dag) == run_engine(dag).total_cycles, dag
    assert checked >= 15


def bus_race(channels: int) -> TimingPlan:
    """m1 and sc both compute 5 cycles from cycle 0, then each transfers 5 flits × 1 cycle; j (2) after both."""
    layers = (layer("m1", read_cycles=4, tile_ids=(0,), transfer_flits=5, after=()),
              layer("sc", read_cycles=4, tile_ids=(1,), transfer_flits=5, after=()),
              layer("j", tile_ids=(2,), after=("m1", "sc")))
    return TimingPlan(layers=layers, tiles_per_replica=3, bus_channels=channels)


def test_one_bus_channel_stalls_concurrent_transfers_hand_computed():
    one = bus_race(1)
    # both ask for the bus at 5; m1 (created first) holds it 5-10, sc waits 5 cycles and holds 10-15; j 15-17
    res = run_engine(one)
    assert res.total_cycles == 17
    assert res.wait_cycles[BUS_KEY] == 5
    assert res.busy_cycles[BUS_KEY] == 10
    assert closed_form(one).total_cycles == 12  # uncontended: 5 + 5 + 2
    assert not contention_free(one)[0]
    assert time_plan(one).method == "engine" and time_plan(one).total_cycles == 17
    two = bus_race(2)
    assert run_engine(two).total_cycles == 12 and run_engine(two).wait_cycles[BUS_KEY] == 0
    ok, why = contention_free(two)
    assert ok, why
    assert time_plan(two).method == "closed_form" and time_plan(two).total_cycles == 12


def test_concurrent_writes_on_a_shared_tile_need_two_ports():
    # m1 and sc write 4 cycles each into tile 0 after 5 cycles of compute; one port serialises them
    layers = (layer("m1", read_cycles=4, tile_ids=(0,), buffer_accesses=4, after=()),
              layer("sc", read_cycles=4, tile_ids=(0,), buffer_accesses=4, after=()),
              layer("j", tile_ids=(1,), after=("m1", "sc")))
    plan = TimingPlan(layers=layers, tiles_per_replica=2, buffer_ports=1)
    assert run_engine(plan).total_cycles == 5 + 4 + 4 + 2
    assert not contention_free(plan)[0]
    wide = replace(plan, buffer_ports=2)
    assert contention_free(wide)[0]
    assert run_engine(wide).total_cycles == 5 + 4 + 2 == closed_form(wide).total_cycles


def random_dag_plan(rng: np.random.Generator, schedule: str, *, uncontended: bool) -> TimingPlan:
    """Random layer DAG (each layer waits for a random subset of earlier layers) in the style of
    tests/test_engine.py random_plan."""
    n_layers = int(rng.integers(2, 6))
    if uncontended:
        tiles = [(2 * k, 2 * k + 1) if rng.integers(2) else (2 * k,) for k in range(n_layers)]
        tiles_per_replica, ports, channels = 2 * n_layers, 64, 64
    else:  # layers share tiles 0 and 1; mostly one port and one channel; sparser edges (more siblings)
        tiles = [(int(rng.integers(2)),) for _ in range(n_layers)]
        tiles_per_replica, ports, channels = 2, int(rng.choice([1, 1, 1, 2])), int(rng.choice([1, 1, 1, 2]))
    layers = []
    for k in range(n_layers):
        lt = random_layer(rng, f"l{k}", tiles[k])
        after = tuple(f"l{p}" for p in range(k) if rng.random() < (0.4 if uncontended else 0.2))
        layers.append(replace(lt, after=after))
    return TimingPlan(layers=tuple(layers), schedule=schedule, replicas=int(rng.integers(1, 4)),
                      inputs=int(rng.integers(1, 4)), passes=int(rng.integers(1, 5)),
                      inputs_in_flight=int(rng.integers(1, 4)), buffer_ports=ports, bus_channels=channels,
                      tiles_per_replica=tiles_per_replica)


@pytest.mark.parametrize("schedule", ["sequential", "replicated"])
def test_engine_equals_longest_path_closed_form_on_uncontended_dags(schedule):
    rng = np.random.default_rng(9112)
    concurrent = 0
    for _ in range(40):
        plan = random_dag_plan(rng, schedule, uncontended=True)
        concurrent += not is_chain(plan)
        ok, why = contention_free(plan)
        assert ok, why
        got, want = run_engine(plan), closed_form(plan)
        assert got.total_cycles == want.total_cycles, plan
        assert got.latency_cycles == want.latency_cycles, plan
        assert all(v == 0 for k, v in got.wait_cycles.items() if k == BUS_KEY or k.startswith("ports:"))
    assert concurrent >= 30


def _max_overlap(intervals: list[tuple[int, int]]) -> int:
    """Most intervals [start, end) open at one time (an end at τ frees its unit before a start at τ)."""
    events = sorted([(s, 1) for s, e in intervals] + [(e, -1) for s, e in intervals], key=lambda x: (x[0], x[1]))
    level = best = 0
    for _, d in events:
        level += d
        best = max(best, level)
    return best


@pytest.mark.parametrize("schedule", ["sequential", "replicated", "layer_pipelined"])
def test_ports_and_bus_never_hold_more_than_their_capacity(schedule):
    rng = np.random.default_rng(55)
    stalled = exact = 0
    for _ in range(40):
        plan = random_dag_plan(rng, schedule, uncontended=False)
        res = run_engine(plan, trace=True)
        held: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for ev in res.trace:
            if ev["cat"] in ("buffer", "transfer") and ev["args"]["end_cycle"] > ev["args"]["start_cycle"]:
                held[ev["tid"]].append((ev["args"]["start_cycle"], ev["args"]["end_cycle"]))
        for key, spans in held.items():
            cap = plan.bus_channels if key == BUS_KEY else plan.buffer_ports
            assert _max_overlap(spans) <= cap, (key, spans, plan)
        # the trace holds every port / bus hold: its busy cycles add up to the engine's
        for key, spans in held.items():
            assert sum(e - s for s, e in spans) == res.busy_cycles[key]
        cf = closed_form(plan)
        assert res.total_cycles >= cf.total_cycles  # contention only delays
        stalled += any(v for k, v in res.wait_cycles.items() if k == BUS_KEY or k.startswith("ports:"))
        if contention_free(plan)[0]:  # the proof of exactness must hold on contended-looking plans too
            exact += 1
            assert res.total_cycles == cf.total_cycles and res.latency_cycles == cf.latency_cycles, plan
    assert stalled >= 3 and exact >= 3


@pytest.mark.parametrize("schedule", ["sequential", "replicated", "layer_pipelined"])
def test_one_port_stands_for_tiles_with_the_same_writers(schedule):
    """Tiles written by the same set of layers see identical queues, so one port of each such group is simulated;
    a burst per tile, each its own process, gives the same schedule and statistics on random contended plans,
    the bus contended too (its arbiter decides same-cycle ties by policy, so the number of processes cannot
    change them)."""
    from cimsim.engine.simulator import _Engine

    rng = np.random.default_rng(808)
    mirrored = stalled = 0
    for _ in range(80):
        plan = random_dag_plan(rng, schedule, uncontended=bool(rng.integers(2)))
        if rng.integers(2):  # multi-tile layers overlapping on 5 tiles, long bursts: groups that stall
            layers = tuple(replace(lay, tile_ids=tuple(sorted(rng.choice(5, int(rng.integers(1, 5)), replace=False)
                                                              .tolist())),
                                   buffer_accesses=int(rng.integers(1, 3)) * lay.mvms,
                                   buffer_cycles=int(rng.integers(3, 9)))
                           for lay in plan.layers)
            plan = replace(plan, layers=layers, tiles_per_replica=5)
        plan = replace(plan, buffer_ports=int(rng.integers(1, 3)), bus_channels=int(rng.integers(1, 3)))
        fast = _Engine(plan, False, None).run()
        full = _Engine(plan, False, None, mirror_ports=False).run()
        assert replace(fast, events=0) == replace(full, events=0), plan
        mirrored += fast.events < full.events
        stalled += any(v for k, v in fast.wait_cycles.items() if k.startswith("ports:"))
    assert mirrored >= 20 and stalled >= 5


def test_after_must_name_earlier_layers():
    bad = TimingPlan(layers=(layer("a", after=("b",)), layer("b", after=())))
    with pytest.raises(ConfigError, match="after"):
        run_engine(bad)


def _resnet():
    design = resolve(load_arch(ROOT / "arch_configs" / "spindrop.yaml", RESNET_SETS), load_workload(RESNET))
    mapping = map_network(design)
    return design, mapping, build_hardware(design, mapping)


def test_build_plan_derives_predecessors_from_the_graph():
    _, mapping, hw = _resnet()
    plan = build_plan(hw, mapping, inputs=1, passes=1)
    after = {lt.name: lt.after for lt in plan.layers}
    assert after["conv1"] == ()
    assert after["s1b1c2"] == ("conv1", "s1b1c1")  # Bi-Real: the add joins the conv and its input (sorted names)
    # stage 2's 1×1 downsample reads the stage-1 output, like the main branch's first conv: they are siblings
    assert after["s2down"] == after["s2b1c1"]
    assert "s2down" in after["s2b2c1"] and "s2b1c2" in after["s2b2c1"]
    assert not is_chain(plan)
    seq = closed_form(plan).total_cycles
    chain = closed_form(replace(plan, layers=tuple(replace(lt, after=None, after_cycles=None, input_cycles=None) for lt in plan.layers))).total_cycles
    assert seq < chain  # the shortcut overlaps the main branch
    # one bus channel: the shortcut's transfer can meet the main branch's, so the closed form is a lower bound
    assert not contention_free(plan)[0]
    assert run_engine(plan).total_cycles >= seq
    wide = replace(plan, bus_channels=8, buffer_ports=8)
    ok, why = contention_free(wide)
    assert ok, why
    assert run_engine(wide).total_cycles == closed_form(wide).total_cycles == time_plan(wide).total_cycles


@pytest.mark.parametrize("schedule", [[("controller.schedule", "sequential")],
                                      [("controller.schedule", "replicated"), ("controller.replicas", 2)],
                                      [("controller.schedule", "layer_pipelined")]], ids=lambda v: v[0][1])
def test_resnet_engine_counts_equal_priced_counts(schedule):
    design = resolve(load_arch(ROOT / "arch_configs" / "spindrop.yaml", RESNET_SETS + schedule),
                     load_workload(RESNET))
    mapping = map_network(design)
    hw = build_hardware(design, mapping)
    inputs, passes = 2, 3
    engine = run_engine(build_plan(hw, mapping, inputs=inputs, passes=passes))
    priced = expected_counts(hw, mapping, inputs=inputs, passes=passes)
    for lm in mapping.layers:
        for key in TIMED_ACTIONS:
            assert engine.action_counts.get((lm.name, key), 0) == pytest.approx(priced[lm.name].get(key, 0),
                                                                               rel=1e-12), (lm.name, key)


def test_sequential_extrapolation_equals_the_full_simulation():
    """The engine's repeated-input mode simulates inputs 0 and 1 of a sequential plan and multiplies out the rest:
    identical to simulating every input on contended and uncontended random plans (chains and branches),
    per_pass masks included; time_plan says it used it."""
    rng = np.random.default_rng(5)
    checked = 0
    for _ in range(40):
        plan = replace(random_dag_plan(rng, "sequential", uncontended=bool(rng.integers(2))),
                       inputs=int(rng.integers(3, 7)))
        full = run_engine(plan, repeat_inputs=False)
        fast = run_engine(plan)
        assert "inputs 0 and 1 simulated" in time_plan(plan, "engine").reason
        assert fast.total_cycles == full.total_cycles
        assert fast.latency_cycles == full.latency_cycles and fast.finish_cycles == full.finish_cycles
        assert fast.busy_cycles == full.busy_cycles and fast.wait_cycles == full.wait_cycles
        assert fast.action_counts == full.action_counts and fast.events == full.events
        checked += 1
    assert checked == 40
