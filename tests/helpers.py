"""Helpers only tests use (kept out of the library)."""

from __future__ import annotations

import numpy as np

from cimsim.mapping import LayerMap


def module_of_row(lm: LayerMap) -> np.ndarray:
    """Index (0..modules−1) of the module gating each of the layer's ``fan_in`` rows."""
    return lm.bit_of_row() // max(lm.generations, 1)
