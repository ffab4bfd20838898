"""Dropout masks of one layer from the chip's dropout source (Spindrop MTJ modules or LFSRs).

Each module k has its own drop probability p_k (the MTJ model with process variation sampled once per chip
instance; nominal p without variation); its bits are Bernoulli(p_k) per generation (cycle-to-cycle
stochasticity). The LFSR source produces its bits from LFSR sequences compared with p. Which bits a source
makes is the source's own business (:meth:`cimsim.components.spindrop.DropoutSource.sample_drops`); this
module names every mask by the job it belongs to, so masks are independent of batching (docs/architecture.md).
"""

from __future__ import annotations

import numpy as np

from cimsim.components.mtj import VariationSigmas
from cimsim.components.spindrop import DropoutSource
from cimsim.mapping import LayerMap
from cimsim.rng import CounterStream
from cimsim.spec.arch import VariationSpec

#: Mask id stride per input: ids of input i are i·PASS_STRIDE + t, so pass t of input i has the same mask for
#: any T ≤ PASS_STRIDE (the workload's mc_passes is bounded by 1000).
PASS_STRIDE = 1024


def variation_sigmas(v: VariationSpec) -> VariationSigmas | None:
    """Device sigmas when variation is enabled, else None."""
    if not v.enabled:
        return None
    return VariationSigmas(ra=v.ra_sigma_rel, tmr=v.tmr_sigma_rel, diameter=v.diameter_sigma_rel,
                           delta=v.delta_sigma_rel, ic0=v.ic0_sigma_rel, write_current=v.write_current_sigma_rel)


def job_ids(input_ids: np.ndarray, passes: int) -> np.ndarray:
    """Mask ids (passes, N) of the (input, pass) jobs of ``input_ids``."""
    return np.asarray(input_ids, dtype=np.int64)[None, :] * PASS_STRIDE + np.arange(passes)[:, None]


class MaskSource:
    """Draws one layer's drop bits.

    Args:
        source: the chip's dropout-source component.
        lm: the layer's mapping (modules, generations, bits per mask).
        p_modules: per-module drop probabilities of this chip instance (None: the source's own).
        stream: the counter stream of this layer and evaluation set.
    """

    def __init__(self, source: DropoutSource, lm: LayerMap, p_modules: np.ndarray | None,
                 stream: CounterStream) -> None:
        self.source, self.lm, self.p_modules, self.stream = source, lm, p_modules, stream

    def drops(self, ids: np.ndarray) -> np.ndarray:
        """Boolean drop bits of shape ``ids.shape + (mask_bits,)`` for the masks named ``ids``."""
        lm = self.lm
        bits = self.source.sample_drops(self.stream, ids, lm.modules, lm.generations, self.p_modules)
        return bits[..., : lm.mask_bits]
