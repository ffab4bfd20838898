"""``time_plan``: wherever ``auto`` picks the closed form, the event engine gives the very same result."""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pytest

from cimsim.engine.plan import LayerTiming, TimingPlan
from cimsim.engine.simulator import EngineResult, run_engine
from cimsim.engine.timing import TimingResult, contention_free, time_plan

SCHEDULES = ("sequential", "layer_pipelined", "replicated")


def _layer(rng: np.random.Generator, name: str, tiles: tuple[int, ...]) -> LayerTiming:
    def n(lo: int, hi: int) -> int:
        return int(rng.integers(lo, hi + 1))

    return LayerTiming(
        name=name, mvms=n(1, 3), arrays=n(1, 3), tile_ids=tiles, row_groups=n(1, 3), read_cycles=n(1, 3),
        conversions=n(0, 8), columns_per_converter=n(1, 4), convert_cycles=n(1, 3), accumulate_cycles=n(0, 2),
        reduce_cycles=n(0, 2), buffer_accesses=n(0, 3), buffer_cycles=n(1, 4), transfer_flits=n(0, 3),
        transfer_cycles=n(1, 4), dropout=bool(n(0, 1)), modules=n(1, 3), generations=n(1, 4),
        generate_cycles=n(1, 5), regenerate=("per_pass", "per_input", "per_window")[n(0, 2)])


def _plan(rng: np.random.Generator, schedule: str) -> TimingPlan:
    """Random plans on 1–3 shared tiles with 1–3 ports and channels: some contend, some provably cannot."""
    n_layers = int(rng.integers(1, 4))
    tiles_per_replica = int(rng.integers(1, 4))
    layers = tuple(_layer(rng, f"l{k}", (int(rng.integers(tiles_per_replica)),)) for k in range(n_layers))
    return TimingPlan(layers=layers, schedule=schedule, replicas=int(rng.integers(1, 4)),
                      inputs=int(rng.integers(1, 5)), passes=int(rng.integers(1, 6)),
                      inputs_in_flight=int(rng.integers(1, 4)), buffer_ports=int(rng.integers(1, 4)),
                      bus_channels=int(rng.integers(1, 4)), tiles_per_replica=tiles_per_replica)


def _same(a: EngineResult, b: EngineResult) -> None:
    for f in fields(EngineResult):
        if f.name not in ("events", "trace"):
            assert getattr(a, f.name) == getattr(b, f.name), f.name


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_auto_closed_form_equals_engine_on_every_plan_it_picks(schedule):
    rng = np.random.default_rng(8 + SCHEDULES.index(schedule))
    picked = refused = 0
    for _ in range(150):
        plan = _plan(rng, schedule)
        auto = time_plan(plan, "auto")
        eng = run_engine(plan)
        if auto.method == "closed_form":
            picked += 1
            _same(auto, eng)  # every field: cycles, latencies, busy, waits, action counts
            assert auto.events == 0
        else:
            refused += 1
            _same(auto, eng)
            assert auto.events == eng.events
    # the sample must exercise both branches (sequential always picks the closed form)
    assert picked >= 20
    assert refused >= (0 if schedule == "sequential" else 10)


def test_refusal_is_needed_contention_makes_engine_slower():
    """A pipelined plan with two transferring layers on one bus channel: auto refuses, and rightly so."""
    lay = dict(mvms=1, arrays=1, row_groups=1, read_cycles=1, conversions=0, columns_per_converter=1, convert_cycles=1,
               accumulate_cycles=0, reduce_cycles=0, buffer_accesses=0, buffer_cycles=1, transfer_flits=4,
               transfer_cycles=1)
    plan = TimingPlan(layers=(LayerTiming(name="a", tile_ids=(0,), **lay), LayerTiming(name="b", tile_ids=(0,), **lay)),
                      schedule="layer_pipelined", inputs=4, passes=3, inputs_in_flight=4, bus_channels=1)
    ok, why = contention_free(plan)
    assert not ok and "bus" in why
    assert run_engine(plan).total_cycles > time_plan(plan, "closed_form").total_cycles
    assert time_plan(plan).method == "engine"
    # with enough channels (⌈4/1⌉ per layer → 8) it is provably free and exact
    wide = replace(plan, bus_channels=8)
    assert contention_free(wide)[0]
    assert time_plan(wide).total_cycles == run_engine(wide).total_cycles


def test_modes_and_trace():
    rng = np.random.default_rng(3)
    plan = _plan(rng, "sequential")
    assert time_plan(plan, "engine").method == "engine"
    assert time_plan(plan, "closed_form").method == "closed_form"
    traced = time_plan(plan, "auto", trace=True)
    assert traced.method == "engine" and traced.trace
    assert isinstance(traced, TimingResult)
    with pytest.raises(ValueError):
        time_plan(plan, "fast")  # type: ignore[arg-type]
