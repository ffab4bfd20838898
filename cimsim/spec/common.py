"""Shared pydantic base: unknown keys are errors, values are validated on assignment."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Spec(BaseModel):
    """Base of every config section: strict keys, documented fields, JSON-schema friendly."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)
