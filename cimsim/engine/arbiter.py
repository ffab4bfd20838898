"""A shared resource with a modelled arbiter: grants decided at the cycle boundary by a stated policy.

simpy's own ``Resource`` grants a free unit to whichever request its event loop happens to process first,
which depends on how the model created its processes. Here every request made in a cycle (and every unit
freed in it) is collected, and once nothing else is left to happen in that cycle the free units go to the
waiting requests in the policy's order (docs/timing.md, "Arbitration"):

* ``fixed_priority`` — the lowest (replica, job, layer name) first;
* ``round_robin`` — requesters are (replica, layer name); the first requester after the last one granted, in
  that order, wrapping around (ties of one requester: the earliest job);
* ``fcfs`` — the earliest request first, ties as ``fixed_priority``.

"Nothing else left in the cycle" is read with ``Environment.peek()`` (public simpy API): the decision event
re-arms itself while other events are still due at the current time, so requests that a same-cycle cascade
makes (a transfer that starts because a sibling's write ended) are in the same decision.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import simpy

Requester = tuple[int, str]  # (replica, layer name)


class Arbiter:
    """``capacity`` identical units (bus channels, buffer ports) granted by ``policy`` at cycle boundaries."""

    __slots__ = ("cycle_end", "capacity", "free", "policy", "pending", "last")

    def __init__(self, cycle_end: CycleEnd, capacity: int, policy: str) -> None:
        self.cycle_end = cycle_end
        self.capacity = capacity
        self.free = capacity
        self.policy = policy
        self.pending: list[tuple[int, int, str, int, simpy.Event]] = []  # (replica, job, name, asked, granted)
        self.last: Requester | None = None  # round robin: the requester granted last

    def request(self, replica: int, job: int, name: str) -> simpy.Event:
        """An event that fires when this request is granted (at the end of the current cycle at the earliest)."""
        ev = self.cycle_end.env.event()
        self.pending.append((replica, job, name, self.cycle_end.env.now, ev))
        self.cycle_end.arm(self)
        return ev

    def release(self) -> None:
        self.free += 1
        if self.pending:
            self.cycle_end.arm(self)

    def _order(self) -> Callable[[tuple[int, int, str, int, simpy.Event]], Any]:
        if self.policy == "fcfs":
            return lambda r: (r[3], r[0], r[1], r[2])
        if self.policy == "round_robin" and self.last is not None:
            last = self.last
            return lambda r: ((r[0], r[2]) <= last, r[0], r[2], r[1])
        return lambda r: (r[0], r[1], r[2])  # fixed priority (and round robin before its first grant)

    def grant(self) -> None:
        """Give the free units to the waiting requests in the policy's order."""
        while self.free and self.pending:
            order = self._order()
            best = min(self.pending, key=order)
            self.pending.remove(best)
            replica, _, name, _, ev = best
            self.free -= 1
            self.last = (replica, name)
            ev.succeed()


class CycleEnd:
    """The end-of-cycle decision shared by every arbiter of one simulation (one event per decision, re-armed
    while the cycle is still busy; these events are bookkeeping of the arbiter, not waits of a job, and the
    engine's event count leaves them out so that it depends on the plan's structure only)."""

    __slots__ = ("env", "dirty", "armed")

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self.dirty: dict[int, Arbiter] = {}
        self.armed = False

    def arm(self, arbiter: Arbiter) -> None:
        self.dirty[id(arbiter)] = arbiter
        if not self.armed:
            self.armed = True
            self._schedule()

    def _schedule(self) -> None:
        self.env.timeout(0).callbacks.append(self._decide)

    def _decide(self, _event: simpy.Event) -> None:
        if self.env.peek() <= self.env.now:  # more of this cycle is still to happen: decide after it
            self._schedule()
            return
        self.armed = False
        dirty, self.dirty = self.dirty, {}
        # arbiters are independent (a grant only starts a hold), so their order does not matter
        for arbiter in dirty.values():
            arbiter.grant()
