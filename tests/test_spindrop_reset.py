"""Spindrop reset failures (issue 19): the reset's failure probability from the switching table, the realised
drop probability of the module's two-state chain, the masks' empirical rate and the result.json report."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from cimsim.components import mtj_switching
from cimsim.components.base import Context
from cimsim.components.spindrop import MTJSpindrop, realized_p, write_p_for
from cimsim.components.switching.table import load_table
from cimsim.hardware import mtj_params
from cimsim.rng import CounterStream
from cimsim.spec.arch import MTJSpec

DEV = mtj_params(MTJSpec(delta_ref=40.0, ic0_ref_a=33.3e-6), 300.0)  # the example arch's dropout MTJ


def _module(reset_a: float, reset_s: float = 10e-9, t_k: float = 300.0) -> MTJSpindrop:
    return MTJSpindrop(Context(node_nm=28, vdd_v=0.9, temperature_k=t_k), device=DEV, target_p=0.2,
                       write_current_a=None, write_pulse_s=10e-9, reset_current_a=reset_a, reset_pulse_s=reset_s,
                       reset_policy="on_switch", read_voltage_v=0.1, read_pulse_s=1e-9)


@pytest.mark.parametrize("reset_a, reset_s", [(50e-6, 10e-9), (50e-6, 5e-9), (100e-6, 1e-9), (45e-6, 20e-9)])
def test_reset_failure_is_the_tables_own_probability(reset_a, reset_s):
    m = _module(reset_a, reset_s)
    i, d, tau = mtj_switching.reduced_coordinates(DEV, reset_a, reset_s, 300.0)
    assert m.p_reset_fail == 1.0 - float(load_table().p(i, d, tau))  # exactly: the same lookup


def test_example_sweep_reset_50_ua():
    """The sweep's 1.5 I_c0 reset (50 uA, 10 ns): p_rf = 1.26e-3, realised p 0.2 -> 0.2002; 100 uA resets for sure."""
    m = _module(50e-6)
    assert m.p_reset_fail == pytest.approx(1.26e-3, abs=0.05e-3)
    assert m.p_realized == pytest.approx(0.2 / (1 - m.p_reset_fail * 0.8), rel=1e-12)
    assert m.p_realized == pytest.approx(0.2002, abs=1e-4)
    assert _module(100e-6).p_reset_fail == 0.0 and _module(100e-6).p_realized == pytest.approx(0.2, abs=1e-12)
    assert _module(1e-3).p_reset_fail == 0.0  # beyond the table's 10 I_c0: evaluated at its top row


@pytest.mark.parametrize("p, p_rf", [(0.2, 0.0), (0.2, 0.15), (0.5, 0.6), (0.05, 0.99)])
def test_realized_p_is_the_chains_stationary_law(p, p_rf):
    stuck = p_rf + (1 - p_rf) * p
    trans = np.array([[1 - p, p], [1 - stuck, stuck]])
    w, v = np.linalg.eig(trans.T)
    pi = np.real(v[:, np.argmin(abs(w - 1))])
    assert realized_p(p, p_rf) == pytest.approx(pi[1] / pi.sum(), rel=1e-12)
    assert write_p_for(realized_p(p, p_rf), p_rf) == pytest.approx(p, rel=1e-12)
    assert realized_p(p, p_rf) >= p


def test_mask_rate_and_persistence_converge_to_the_chain():
    """A module with a poor reset (50 uA, 5 ns: p_rf = 0.15): the bits' rate converges to the realised p within
    the sampling error, and a 1 is followed by a 1 with probability p_rf + (1 - p_rf) p."""
    m = _module(50e-6, 5e-9)
    p_rf, p_real, p_w = m.p_reset_fail, m.p_realized, m.p_nominal
    assert 0.1 < p_rf < 0.2
    n_masks, modules, gens = 20000, 4, 8
    bits = m.sample_drops(CounterStream(11, 3), np.arange(n_masks), modules, gens, None)
    assert bits.shape == (n_masks, modules * gens)
    per_mask = bits.mean(axis=1)  # masks are independent; bits within one are correlated
    se = per_mask.std(ddof=1) / math.sqrt(n_masks)
    assert abs(per_mask.mean() - p_real) < 4 * se
    assert abs(per_mask.mean() - p_w) > 8 * se  # the reset failures are visible at this sample size
    g = bits.reshape(n_masks, modules, gens)
    prev, nxt = g[..., :-1].ravel(), g[..., 1:].ravel()
    stuck = p_rf + (1 - p_rf) * p_w
    n11 = prev.sum()
    assert abs(nxt[prev].mean() - stuck) < 4 * math.sqrt(stuck * (1 - stuck) / n11)
    assert abs(nxt[~prev].mean() - p_w) < 4 * math.sqrt(p_w * (1 - p_w) / (~prev).sum())


def test_no_reset_failure_keeps_the_bits_bit_for_bit():
    m = _module(100e-6)
    ids = np.arange(500)
    bits = m.sample_drops(CounterStream(5, 1), ids, 3, 4, None)
    ref = CounterStream(5, 1).bernoulli(ids, np.repeat(np.full(3, m.p_nominal), 4))
    np.testing.assert_array_equal(bits, ref)


def test_reset_failure_reported_in_result_json(tmp_path):
    out = tmp_path / "run"
    subprocess.run([sys.executable, "-m", "cimsim", "run", "--hardware-only", "--set", "spindrop.reset_current_a=5e-5",
                    "--set", "spindrop.reset_pulse_s=5e-9", "--out", str(out)], check=True, capture_output=True)
    doc = json.loads((out / "result.json").read_text())["dropout"]
    assert 0.1 < doc["p_reset_fail"] < 0.2 and doc["reset_current_ratio"] == pytest.approx(50e-6 / 33.3e-6)
    assert doc["realized_p"] == pytest.approx(realized_p(doc["p"], doc["p_reset_fail"]), rel=1e-12)
