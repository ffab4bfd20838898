"""Counter-based random numbers: a draw is a pure function of (seed, stream key, counter).

Dropout masks, sense noise and OOD sets must not depend on how inputs are batched, on ``--limit`` or on the
worker count (docs/architecture.md). A sequential generator cannot give that cheaply: input 17's mask would depend on
how many draws came before it. Here every draw is ``splitmix64(key + counter·φ)`` for a counter that names the
draw (input index, pass, window, bit), so any subset of draws in any order reproduces the same bits.

splitmix64 is Steele, Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014
(doi 10.1145/2660193.2660195); its output function passes BigCrush on a Weyl sequence [lit]. The stream key
comes from ``numpy.random.SeedSequence(seed, spawn_key=key)``, so distinct purposes never share a stream.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / φ, the Weyl increment of splitmix64
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = (np.uint64(s) for s in (30, 27, 31, 11))
# Words generated per block: 32 Ki words = 256 KiB, so the in-place mix passes stay in L2 cache.
_BLOCK_WORDS = 32768


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64 output function, in place on a uint64 array (wrapping arithmetic)."""
    z ^= z >> _S30
    z *= _M1
    z ^= z >> _S27
    z *= _M2
    z ^= z >> _S31
    return z


class CounterStream:
    """Random words and uniforms addressed by integer counters.

    Args:
        seed: root seed of the run.
        key: what the stream is for (a tuple of small non-negative ints, e.g. ``(MASKS, layer_index)``).
    """

    def __init__(self, seed: int, *key: int) -> None:
        self.seed, self.key = seed, key
        self._k = np.random.SeedSequence(seed, spawn_key=key).generate_state(1, dtype=np.uint64)[0]

    def words(self, ids: np.ndarray, n: int) -> np.ndarray:
        """uint64 words of shape ``ids.shape + (n,)``: word j of draw ``ids[...]`` is counter ``id·n + j``."""
        ids = np.asarray(ids, dtype=np.uint64)
        out = np.empty((*ids.shape, n), dtype=np.uint64)
        flat_ids, flat = ids.reshape(-1), out.reshape(-1, n)
        step = max(1, _BLOCK_WORDS // max(n, 1))
        for a in range(0, flat_ids.shape[0], step):
            self._words_into(flat_ids[a: a + step], n, flat[a: a + step])
        return out

    def _words_into(self, ids: np.ndarray, n: int, out: np.ndarray) -> None:
        # (id·n + j)·φ + k = (id·n·φ + k) + j·φ in wrapping arithmetic: one broadcast add per word; the mix
        # runs in place on a cache-sized block
        with np.errstate(over="ignore"):
            base = ids * np.uint64(n) * _GOLDEN + self._k
            np.add(base[:, None], np.arange(n, dtype=np.uint64) * _GOLDEN, out=out)
        tmp = np.empty_like(out)
        for shift, mult in ((_S30, _M1), (_S27, _M2)):
            np.right_shift(out, shift, out=tmp)
            out ^= tmp
            out *= mult
        np.right_shift(out, _S31, out=tmp)
        out ^= tmp

    def bernoulli(self, ids: np.ndarray, p: np.ndarray) -> np.ndarray:
        """``uniform(ids, len(p)) < p`` (bool, shape ``ids.shape + (len(p),)``), bit for bit, without floats.

        u = (w >> 11)·2⁻⁵³ < p ⇔ (w >> 11) < p·2⁵³ ⇔ w < ⌈p·2⁵³⌉·2¹¹ (p·2⁵³ is exact in float64; an integer m is
        below a real x iff it is below ⌈x⌉)."""
        p = np.asarray(p, dtype=np.float64)
        scaled = np.ceil(np.ldexp(p, 53))
        always = scaled >= 2.0 ** 53                          # p ≥ 1: every uniform is below it
        thr = np.where(always, 0, np.maximum(scaled, 0)).astype(np.uint64) << _S11
        out = self.words(ids, p.size) < thr
        if always.any():
            out[..., always] = True
        return out

    def uniform(self, ids: np.ndarray, n: int) -> np.ndarray:
        """Uniforms in [0, 1) (float64, 53 random bits) of shape ``ids.shape + (n,)``."""
        return (self.words(ids, n) >> _S11).astype(np.float64) * (1.0 / 9007199254740992.0)

    def normal(self, ids: np.ndarray, n: int) -> np.ndarray:
        """Standard normals (float32) of shape ``ids.shape + (n,)`` (Box–Muller on two counter streams)."""
        u = self.uniform(ids, 2 * n)
        u1, u2 = u[..., :n], u[..., n:]
        r = np.sqrt(-2.0 * np.log1p(-u1))
        return (r * np.cos(2.0 * np.pi * u2)).astype(np.float32)
