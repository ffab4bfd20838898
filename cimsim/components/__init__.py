"""Component cost models: tech scaling, MTJ physics, cell, crossbar, sense amps, ADCs, Spindrop module,
LFSR, digital periphery, buffers, interconnect, controller.

Every model class is registered with :func:`cimsim.components.base.register`; ``base.model_class`` finds a
model by kind and name. The shipped models are in the modules below, imported on the first registry lookup
(not when this package is imported, so importing one component module stays cheap and cycle-free). A new
shipped module is added here; a model defined anywhere else registers itself when its module is imported.
"""

from __future__ import annotations

import importlib

#: Modules of the shipped models (each registers its classes with ``@register`` when imported).
SHIPPED_MODULES = ("adc", "sense_amp", "crossbar", "spindrop", "lfsr", "digital", "buffer", "interconnect",
                   "controller", "periphery_rc", "row_periphery", "bitline_periphery")


def load_shipped() -> None:
    """Import the shipped model modules (idempotent: Python imports each once)."""
    for name in SHIPPED_MODULES:
        importlib.import_module(f"cimsim.components.{name}")
