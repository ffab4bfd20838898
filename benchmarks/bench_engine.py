"""Timing-engine speed: events/s and wall time for 3 layers × T = 20 × 500 inputs, per schedule.

Run: ``python benchmarks/bench_engine.py`` (not part of the test suite).
"""

from __future__ import annotations

import time

from cimsim.engine.closed_form import closed_form
from cimsim.engine.plan import LayerTiming, TimingPlan
from cimsim.engine.simulator import run_engine


def plan(schedule: str) -> TimingPlan:
    layers = tuple(
        LayerTiming(name=f"layer{k}", mvms=16, arrays=4, tile_ids=(k,), row_groups=4, read_cycles=2,
                    conversions=32, columns_per_converter=4, convert_cycles=3, accumulate_cycles=1, reduce_cycles=2,
                    buffer_accesses=2, buffer_cycles=1, transfer_flits=4, transfer_cycles=2, dropout=True,
                    modules=8, generations=16, generate_cycles=3, regenerate="per_input")
        for k in range(3)
    )
    return TimingPlan(layers=layers, schedule=schedule, replicas=4, inputs=500, passes=20, inputs_in_flight=2,
                      buffer_ports=1, bus_channels=2, tiles_per_replica=3)


def main() -> None:
    print(f"{'schedule':<16} {'events':>9} {'wall s':>8} {'events/s':>10} {'cycles':>10} {'closed form':>11}")
    for schedule in ("sequential", "layer_pipelined", "replicated"):
        p = plan(schedule)
        t0 = time.perf_counter()
        res = run_engine(p)
        wall = time.perf_counter() - t0
        print(f"{schedule:<16} {res.events:>9} {wall:>8.3f} {res.events / wall:>10.0f} {res.total_cycles:>10} "
              f"{closed_form(p).total_cycles:>11}")


if __name__ == "__main__":
    main()
