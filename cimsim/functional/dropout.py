"""Dropout masks from the chip's dropout sources (Spindrop MTJ modules or LFSRs).

Each module k has its own drop probability p_k (the MTJ model with process variation sampled once per chip
instance; nominal p without variation); its bits are Bernoulli(p_k) per generation (cycle-to-cycle
stochasticity). The LFSR source produces its bits from actual LFSR sequences compared with p.
"""

from __future__ import annotations

import numpy as np

from cimsim.components.base import Component
from cimsim.components.mtj import VariationSigmas
from cimsim.spec.arch import VariationSpec


def variation_sigmas(v: VariationSpec) -> VariationSigmas | None:
    """Device sigmas when variation is enabled, else None."""
    if not v.enabled:
        return None
    return VariationSigmas(ra=v.ra_sigma_rel, tmr=v.tmr_sigma_rel, diameter=v.diameter_sigma_rel,
                           delta=v.delta_sigma_rel, ic0=v.ic0_sigma_rel)


class MaskSource:
    """Draws keep masks (1 = row driven) for one layer's modules.

    Args:
        source: the dropout-source component (``mtj_spindrop`` or ``lfsr``).
        p: drop probability the source is set to.
        modules: modules serving the layer.
        generations: bits each module makes per mask.
        mask_bits: bits per mask (≤ modules × generations).
        p_modules: per-module drop probabilities (MTJ), or None for the LFSR.
    """

    def __init__(self, source: Component, p: float, modules: int, generations: int, mask_bits: int,
                 p_modules: np.ndarray | None) -> None:
        self.source, self.p = source, p
        self.modules, self.generations, self.mask_bits = modules, generations, mask_bits
        self.p_modules = p_modules
        # bit b is made by module b // generations as its (b % generations)-th generation
        self.p_bits = None if p_modules is None else p_modules[np.arange(mask_bits) // generations]

    def drops(self, lead: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """Boolean drop bits of shape ``lead + (mask_bits,)``."""
        if self.p_bits is not None:
            return rng.random((*lead, self.mask_bits)) < self.p_bits
        masks = int(np.prod(lead)) if lead else 1
        seed = int(rng.integers(0, 2**63 - 1))
        # each module runs its own LFSR through masks × generations steps
        bits = self.source.sample_bits(self.p, self.modules, masks * self.generations, seed)
        bits = bits.reshape(masks, self.generations, self.modules).transpose(0, 2, 1)
        return bits.reshape(masks, self.modules * self.generations)[:, : self.mask_bits].reshape(*lead, self.mask_bits)
