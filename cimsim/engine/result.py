"""What an engine run returns, and the engine's monotone progress counters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import simpy


@dataclass(frozen=True)
class EngineResult:
    """Outcome of one engine run (all times in clock cycles).

    Attributes:
        total_cycles: makespan (finish of the last job).
        latency_cycles: per input, finish of its last pass − start of its first pass.
        first_input_latency_cycles: ``latency_cycles[0]``.
        finish_cycles: per input, the cycle its last pass finished.
        throughput_inputs_per_cycle: inputs / total_cycles.
        busy_cycles: per resource name, cycles of holding (× units for multi-unit resources: port-cycles,
            channel-cycles); arrays count their hold time (compute + inline per_window masks).
        wait_cycles: per resource name, cycles jobs spent queued for it (stalls); for modules in the
            layer pipeline, cycles a job holding the arrays waited for its look-ahead mask.
        action_counts: ``(layer name, "instance.action") -> count`` of the timing-level events the engine
            executed (:data:`cimsim.activity.TIMED_ACTIONS`); equal to the activity model's counts.
        events: events the engine's processes waited on (every timeout, grant, wake-up and join they
            yield; always yielded, even when already due, so the count depends on the plan's structure only),
            counted by the engine itself. The arbiters' end-of-cycle decision events are not included.
        trace: Chrome-trace "X" events (empty unless ``trace=True``).
    """

    total_cycles: int
    latency_cycles: tuple[int, ...]
    first_input_latency_cycles: int
    throughput_inputs_per_cycle: float
    busy_cycles: dict[str, int]
    wait_cycles: dict[str, int]
    action_counts: dict[tuple[str, str], int]
    events: int
    trace: list[dict[str, Any]] = field(default_factory=list, repr=False)
    finish_cycles: tuple[int, ...] = ()

    @property
    def steady_state_interval_cycles(self) -> float:
        """Cycles between successive inputs finishing once the first is out: (finish of the last input −
        finish of the first) / (inputs − 1); one input: its latency."""
        f = self.finish_cycles
        return (f[-1] - f[0]) / (len(f) - 1) if len(f) > 1 else float(self.first_input_latency_cycles)


class Progress:
    """A monotone counter whose waiters get one event each (always yielded, so event counts never depend
    on whether a wait was needed)."""

    __slots__ = ("env", "value", "_waiters")

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self.value = 0
        self._waiters: dict[int, list[simpy.Event]] = {}

    def advance(self) -> None:
        self.value += 1
        for ev in self._waiters.pop(self.value, ()):
            ev.succeed()

    def reached(self, target: int) -> simpy.Event:
        ev = self.env.event()
        if self.value >= target:
            ev.succeed()
        else:
            self._waiters.setdefault(target, []).append(ev)
        return ev
