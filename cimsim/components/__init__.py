"""Component cost models: tech scaling, MTJ physics, cell, crossbar, sense amps, ADCs, Spindrop module,
LFSR, digital periphery, buffers, interconnect, controller. ``base.model_class`` finds a model by name."""
