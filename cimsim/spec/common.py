"""Shared pydantic base: unknown keys are errors, values are validated on assignment."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class Spec(BaseModel):
    """Base of every config section: strict keys, documented fields, JSON-schema friendly."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


#: Arbitration policies of a shared resource (bus channels, buffer ports): who gets a unit when several steps
#: want it in the same cycle (docs/timing.md, "Arbitration"). ``fixed_priority``: the lowest (replica, job,
#: layer name) first; ``round_robin``: requesters (replica, layer name) served in rotation after the last one
#: granted; ``fcfs``: the earliest request first, ties as ``fixed_priority``.
Arbitration = Literal["fixed_priority", "round_robin", "fcfs"]
ARBITRATION: tuple[str, ...] = ("fixed_priority", "round_robin", "fcfs")
