"""CMOS dropout source: a maximal-length LFSR plus a comparator (REFERENCES §6).

The CMOS alternative to the MTJ Spindrop module. Every ``generate`` shifts a ``lfsr_bits``-bit Galois LFSR
once and compares its low ``comparator_bits`` bits (k) with the threshold ``round(p·2^k)``: the bit is a
DROP when the window is below the threshold. The drop probability is therefore quantised to
``round(p·2^k)/2^k`` (exactly, up to the one missing all-zero state, ``(T·2^(n−k) − 1)/(2^n − 1)`` over a
full period). Consecutive decisions of one module share k − 1 window bits, so they are correlated; that is
what the hardware does ("one fresh bit per shift", REFERENCES §6) and what :meth:`sample_bits` reproduces.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from cimsim.components import digital
from cimsim.components.base import Action, Context, register
from cimsim.components.spindrop import DropoutSource, DropoutSourceParams, modules_per_array
from cimsim.rng import CounterStream


class LFSRParams(DropoutSourceParams):
    model: Literal["lfsr"] = "lfsr"
    lfsr_bits: int = Field(default=16, ge=4, le=64, description="register length (16-b LFSR, REFERENCES §6)")
    comparator_bits: int = Field(default=8, ge=2, le=16, description="bits compared against p")

#: Maximal-length LFSR taps (bit numbers, 1 = LSB), n = 3..64: feedback polynomial x^n + Σ x^t + 1
#: [lit: P. Alfke, Xilinx XAPP052 (1996) "Efficient Shift Registers, LFSR Counters, and Long Pseudo-Random
#: Sequence Generators", Table 3; recalled, then every entry checked primitive over GF(2) here (order of x
#: equals 2^n − 1, using sympy.factorint of 2^n − 1) [derived]].
MAX_LENGTH_TAPS: dict[int, tuple[int, ...]] = {
    3: (3, 2), 4: (4, 3), 5: (5, 3), 6: (6, 5), 7: (7, 6), 8: (8, 6, 5, 4), 9: (9, 5), 10: (10, 7), 11: (11, 9),
    12: (12, 6, 4, 1), 13: (13, 4, 3, 1), 14: (14, 5, 3, 1), 15: (15, 14), 16: (16, 15, 13, 4), 17: (17, 14),
    18: (18, 11), 19: (19, 6, 2, 1), 20: (20, 17), 21: (21, 19), 22: (22, 21), 23: (23, 18), 24: (24, 23, 22, 17),
    25: (25, 22), 26: (26, 6, 2, 1), 27: (27, 5, 2, 1), 28: (28, 25), 29: (29, 27), 30: (30, 6, 4, 1), 31: (31, 28),
    32: (32, 22, 2, 1), 33: (33, 20), 34: (34, 27, 2, 1), 35: (35, 33), 36: (36, 25), 37: (37, 5, 4, 3, 2, 1),
    38: (38, 6, 5, 1), 39: (39, 35), 40: (40, 38, 21, 19), 41: (41, 38), 42: (42, 41, 20, 19), 43: (43, 42, 38, 37),
    44: (44, 43, 18, 17), 45: (45, 44, 42, 41), 46: (46, 45, 26, 25), 47: (47, 42), 48: (48, 47, 21, 20), 49: (49, 40),
    50: (50, 49, 24, 23), 51: (51, 50, 36, 35), 52: (52, 49), 53: (53, 52, 38, 37), 54: (54, 53, 18, 17), 55: (55, 31),
    56: (56, 55, 35, 34), 57: (57, 50), 58: (58, 39), 59: (59, 58, 38, 37), 60: (60, 59), 61: (61, 60, 46, 45),
    62: (62, 61, 6, 5), 63: (63, 62), 64: (64, 63, 61, 60),
}
MIN_LFSR_BITS = 4
MAX_LFSR_BITS = 64

#: XOR-gate energy / area as a fraction of one Aladdin full-adder bit: a full adder is two XORs plus a
#: majority gate, so one XOR ≈ 1/3 of it [assumed].
XOR_FRACTION_OF_ADDER_BIT = 1.0 / 3.0


def galois_mask(lfsr_bits: int) -> int:
    """Right-shifting Galois feedback mask of the tabulated maximal-length polynomial."""
    if not MIN_LFSR_BITS <= lfsr_bits <= MAX_LFSR_BITS:
        raise ValueError(f"lfsr_bits must be in {MIN_LFSR_BITS}..{MAX_LFSR_BITS}, got {lfsr_bits!r}")
    return sum(1 << (t - 1) for t in MAX_LENGTH_TAPS[lfsr_bits])


def galois_step(state: np.ndarray, mask: int) -> np.ndarray:
    """One right shift of every LFSR in ``state`` (uint64 array); returns the new states."""
    lsb = state & np.uint64(1)
    return (state >> np.uint64(1)) ^ (lsb * np.uint64(mask))


def seed_states(lfsr_bits: int, n_modules: int, seed: int) -> np.ndarray:
    """Independent non-zero initial states (uint64, shape (n_modules,)) from ``numpy.random.SeedSequence``."""
    width_mask = np.uint64((1 << lfsr_bits) - 1)
    seq = np.random.SeedSequence(seed)
    state = seq.generate_state(n_modules, dtype=np.uint64) & width_mask
    extra = 0
    while np.any(state == 0):  # the all-zero state is the LFSR's lock-up state: redraw those modules
        extra += 1
        redraw = np.random.SeedSequence(seed, spawn_key=(extra,)).generate_state(n_modules, dtype=np.uint64)
        state = np.where(state == 0, redraw & width_mask, state)
    return state


@register
class LFSRDropout(DropoutSource):
    """LFSR dropout source: ``lfsr_bits``-bit maximal-length Galois LFSR + ``comparator_bits``-bit comparator.

    Args:
        ctx: chip operating point.
        lfsr_bits: LFSR length n (4..64).
        comparator_bits: comparator width k (1..n); p is quantised to round(p·2^k)/2^k.

    Costs (Aladdin 40 nm parts from :mod:`digital`, scaled with :mod:`tech`):

    * generate (one dropout bit = one shift + one compare): n register writes + (taps − 1) XORs
      + one k-bit compare, J; latency one clock cycle, s
    * area: n-bit LFSR register + k-bit threshold register + XORs + k-bit comparator, m²
    * leakage: the same parts, W
    At 40 nm / 0.9 V a 16-b LFSR with an 8-b comparator costs ≈ 0.16 pJ per bit (REFERENCES §6: ≈ 0.15 pJ
    + ≈ 7 fJ).
    """

    model: ClassVar[str] = "lfsr"
    Params = LFSRParams
    REF_NODE_NM, REF_VDD_V = digital.REF_NODE_NM, digital.REF_VDD_V  # built from the Aladdin parts
    ACTIONS = ("generate",)

    @classmethod
    def from_spec(cls, params: LFSRParams, build: Any) -> LFSRDropout:
        src = cls(build.ctx, lfsr_bits=params.lfsr_bits, comparator_bits=params.comparator_bits,
                  p=build.design.hardware_p)
        src.modules_per_array = modules_per_array(params, build)
        return src

    def __init__(self, ctx: Context, *, lfsr_bits: int, comparator_bits: int, p: float = 0.2) -> None:
        lfsr_bits = digital.check_bits("lfsr_bits", lfsr_bits, MIN_LFSR_BITS)
        self.mask = galois_mask(lfsr_bits)
        comparator_bits = digital.check_bits("comparator_bits", comparator_bits)
        if comparator_bits > lfsr_bits:
            raise ValueError(f"comparator_bits ({comparator_bits}) cannot exceed lfsr_bits ({lfsr_bits})")
        self.ctx = ctx
        self.lfsr_bits = lfsr_bits
        self.comparator_bits = comparator_bits
        self.n_xor = len(MAX_LENGTH_TAPS[lfsr_bits]) - 1
        self.state_register = digital.Register(ctx, bits=lfsr_bits)
        self.threshold_register = digital.Register(ctx, bits=comparator_bits)
        self.comparator = digital.Comparator(ctx, bits=comparator_bits)
        self.p = p
        self.threshold(p)  # validates p

    # -- costs -------------------------------------------------------------------------------------
    def _xor_area_m2(self) -> float:
        return self.n_xor * XOR_FRACTION_OF_ADDER_BIT * digital.ADDER_AREA_PER_BIT_M2 * self.area_factor

    def area_m2(self) -> float:
        return (self.state_register.area_m2() + self.threshold_register.area_m2()
                + self.comparator.area_m2() + self._xor_area_m2())

    def leakage_w(self) -> float:
        xor_leak = (self.n_xor * XOR_FRACTION_OF_ADDER_BIT * digital.ADDER_AREA_PER_BIT_M2
                    * digital.LOGIC_LEAK_PER_M2 * self.leakage_factor)
        return (self.state_register.leakage_w() + self.threshold_register.leakage_w()
                + self.comparator.leakage_w() + xor_leak)

    def actions(self) -> dict[str, Action]:
        e = (self.state_register.action(digital.Register.WRITE).energy_j
             + self.n_xor * XOR_FRACTION_OF_ADDER_BIT * digital.ADDER_E_PER_BIT_J * self.energy_factor
             + self.comparator.action(digital.Comparator.COMPARE).energy_j)
        return {self.GENERATE: Action(e, 1.0 / self.ctx.clock_hz)}

    # -- as a dropout source --------------------------------------------------------------------
    @property
    def p_realized(self) -> float:
        return self.quantized_p(self.p)

    def sample_drops(self, stream: CounterStream, ids: np.ndarray, modules: int, generations: int,
                     p_modules: np.ndarray | None) -> np.ndarray:
        # Each module's register starts every mask from a state drawn for that mask (an LFSR re-seeded per
        # mask), then shifts once per generation: the bits of one mask keep the LFSR's shift correlation, and
        # a mask never depends on which masks were drawn before it.
        state = stream.words(ids, modules) & np.uint64((1 << self.lfsr_bits) - 1)
        state[state == 0] = np.uint64(1)  # the all-zero lock-up state
        window = np.uint64((1 << self.comparator_bits) - 1)
        thr = self.threshold(self.p)
        out = np.empty((*state.shape, generations), dtype=bool)
        for g in range(generations):
            state = galois_step(state, self.mask)
            out[..., g] = (state & window) < np.uint64(thr) if thr < (1 << self.comparator_bits) else True
        return out.reshape(*state.shape[:-1], modules * generations)

    def mask_action_counts(self, generated: float, dropped: float) -> dict[str, float]:
        return {self.GENERATE: generated}

    # -- function ----------------------------------------------------------------------------------
    def threshold(self, p: float) -> int:
        """Comparator threshold ``round(p·2^k)`` (clipped to 0..2^k)."""
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], got {p!r}")
        full = 1 << self.comparator_bits
        return int(min(full, max(0, round(p * full))))

    def quantized_p(self, p: float) -> float:
        """The drop probability the hardware realises for a requested ``p``: round(p·2^k)/2^k."""
        return self.threshold(p) / float(1 << self.comparator_bits)

    def sample_bits(self, p: float, n_modules: int, n_bits: int, seed: int) -> np.ndarray:
        """Dropout decisions of ``n_modules`` independent LFSR modules over ``n_bits`` consecutive steps.

        Returns:
            bool array (n_bits, n_modules); True = DROP (probability ≈ :meth:`quantized_p`).
        """
        if n_modules < 0 or n_bits < 0:
            raise ValueError("n_modules and n_bits must be non-negative")
        thr = self.threshold(p)
        state = seed_states(self.lfsr_bits, int(n_modules), seed)
        window = np.uint64((1 << self.comparator_bits) - 1)
        out = np.empty((int(n_bits), int(n_modules)), dtype=bool)
        for i in range(int(n_bits)):
            state = galois_step(state, self.mask)
            out[i] = (state & window) < np.uint64(thr) if thr < (1 << self.comparator_bits) else True
        return out
