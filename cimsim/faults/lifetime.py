"""Wear-out of the dropout MTJs: write traffic per module from the action-count model, Weibull lifetime.

Each generated dropout bit costs its module one stochastic write and, under ``reset_policy: always``, one reset
(``on_switch``: a reset with probability p) — :meth:`DropoutSource.mask_action_counts`, the same numbers the
ledger prices. Bits per inference come from :func:`cimsim.activity.mask_generations` (``per_window``: one mask
per conv window; ``per_pass``: T masks for the whole run, shared by its inputs). Module k of a layer makes
``min(generations, mask_bits − k·generations)`` bits of every mask, so the last module of a layer can be lighter.

Cycles to breakdown of a module are Weibull(η, β) (``spindrop.endurance_cycles``, ``endurance_weibull_shape``);
a module stressed at c_k pulses per second has failed by time t with probability
F_k(t) = 1 − exp(−(c_k·t/η)^β). Reported (docs/dependability.md):

- ``lifetime_s``: median time to the chip's first module failure, P(no module failed) = exp(−Σ_k (c_k t/η)^β) = ½
  → t = η·(ln 2 / Σ_k c_k^β)^{1/β};
- ``lifetime_fraction_s``: time by which the expected fraction of failed modules reaches
  ``faults.lifetime.failed_fraction`` (solved numerically; closed form η/c·(−ln(1 − f))^{1/β} at equal load);
- ``module_characteristic_life_s``: η / c of the busiest module (63.2 % of such modules failed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from cimsim.activity import mask_generations
from cimsim.hardware import Hardware
from cimsim.mapping import Mapping
from cimsim.spec.faults import LifetimeSpec


@dataclass(frozen=True)
class ModuleLoad:
    """Per-inference wear of each dropout module of one layer.

    Attributes:
        layer: layer name.
        writes: (modules,) stochastic writes per inference.
        resets: (modules,) resets per inference (expected, at the source's realised p under ``on_switch``).
    """

    layer: str
    writes: np.ndarray
    resets: np.ndarray


def module_loads(hw: Hardware, mapping: Mapping, *, passes: int, inputs: int) -> list[ModuleLoad]:
    """Writes and resets per inference of every dropout module, for a run of ``inputs`` inputs × ``passes``."""
    src = hw.component("dropout_source")
    per_bit = src.mask_action_counts(1.0, src.p_realized)
    w_bit, r_bit = per_bit.get("stochastic_write", 0.0), per_bit.get("reset", 0.0)
    out = []
    for lm in mapping.layers:
        if not lm.dropout:
            continue
        masks = mask_generations(lm, inputs, passes, hw.design.regenerate) / lm.mask_bits / inputs
        bits = np.clip(lm.mask_bits - np.arange(lm.modules) * lm.generations, 0, lm.generations).astype(float)
        out.append(ModuleLoad(lm.name, masks * bits * w_bit, masks * bits * r_bit))
    return out


def _fraction_failed(t: float, c: np.ndarray, eta: float, beta: float) -> float:
    return float(np.mean(-np.expm1(-((c * t / eta) ** beta))))


def lifetime(hw: Hardware, mapping: Mapping, *, passes: int, inputs: int, throughput_per_s: float,
             spec: LifetimeSpec) -> dict[str, Any] | None:
    """The lifetime document (``result.json`` key ``lifetime``; see the module docstring), or None when the
    dropout source does not wear out or no layer is dropped.

    Args:
        hw, mapping: the chip and the network on it.
        passes, inputs: T and the inputs of the run (``per_pass`` masks are shared by the run's inputs).
        throughput_per_s: the chip's throughput, inferences/s (the rate used unless ``spec`` names one).
        spec: the arch's ``faults.lifetime``.
    """
    end = hw.component("dropout_source").endurance()
    loads = module_loads(hw, mapping, passes=passes, inputs=inputs)
    if end is None or not loads:
        return None
    eta, beta = end
    rate = spec.inference_rate_per_s or throughput_per_s
    writes = np.concatenate([ld.writes for ld in loads])
    resets = np.concatenate([ld.resets for ld in loads])
    stress = writes + resets if spec.count == "writes_and_resets" else writes
    c = stress * rate                                   # pulses per second of every module
    busiest = int(np.argmax(c))
    doc: dict[str, Any] = {
        "endurance_cycles": eta, "weibull_shape": beta, "counted": spec.count,
        "inference_rate_per_s": rate,
        "rate_source": "faults.lifetime.inference_rate_per_s" if spec.inference_rate_per_s else "throughput",
        "modules": int(c.size), "regenerate": hw.design.regenerate, "granularity": hw.design.granularity,
        "writes_per_module_per_inference": float(writes[busiest]),
        "resets_per_module_per_inference": float(resets[busiest]),
        "writes_per_module_per_s": float(writes[busiest] * rate),
        "resets_per_module_per_s": float(resets[busiest] * rate),
        "cycles_per_module_per_s": float(c[busiest]),
        "failed_fraction": spec.failed_fraction,
        "by_layer": {ld.layer: {"modules": int(ld.writes.size),
                                "writes_per_module_per_inference": float(ld.writes.max()),
                                "resets_per_module_per_inference": float(ld.resets.max())} for ld in loads},
    }
    active = c[c > 0]
    if active.size == 0:
        doc.update(lifetime_s=math.inf, lifetime_fraction_s=math.inf, module_characteristic_life_s=math.inf)
        return _json_safe(doc)
    # Σ c_k^β scaled by the busiest rate keeps the powers finite for any β
    cmax = float(active.max())
    doc["lifetime_s"] = eta / cmax * (math.log(2.0) / float(np.sum((active / cmax) ** beta))) ** (1.0 / beta)
    f = spec.failed_fraction
    if f >= active.size / c.size:  # idle modules never fail: the fraction is never reached
        doc["lifetime_fraction_s"] = math.inf
    else:
        lo = 0.5 * eta / cmax * (-math.log1p(-f)) ** (1.0 / beta)  # below the all-at-the-busiest-rate time
        hi = lo * (c.size / active.size) ** (1.0 / beta) * (cmax / float(active.min())) * 2.0
        while _fraction_failed(hi, c, eta, beta) < f:
            hi *= 2.0
        # bisection in log t on the increasing fraction failed, to rel 1e-12 (scipy.optimize would cost every
        # CLI run 0.45 s of imports for this one root)
        while hi / lo - 1.0 > 1e-12:
            mid = math.sqrt(lo * hi)
            lo, hi = (mid, hi) if _fraction_failed(mid, c, eta, beta) < f else (lo, mid)
        doc["lifetime_fraction_s"] = math.sqrt(lo * hi)
    doc["module_characteristic_life_s"] = eta / cmax
    return _json_safe(doc)


def _json_safe(doc: dict[str, Any]) -> dict[str, Any]:
    """Non-finite numbers (a module never written, or a rate so low that a time leaves the float range) become
    null, named in ``doc["note"]``: result.json stays strict JSON (no ``Infinity``)."""
    nulls = []
    for k, v in list(doc.items()):
        if isinstance(v, float) and not math.isfinite(v):
            doc[k] = None
            nulls.append(k)
    if nulls:
        doc["note"] = (f"{', '.join(nulls)} null: infinite (no module ever fails, or the time exceeds "
                       "1.8e308 s at this inference rate)")
    return doc
