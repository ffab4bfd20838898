"""Unbiased conversion (issue 13 item 6): reference placement, tie policy, tracking of driven rows, cost."""

from __future__ import annotations

import numpy as np
import pytest

from cimsim.components.quantizer import Quantizer
from cimsim.hardware import build_hardware
from cimsim.mapping import map_network
from cimsim.resolve import resolve
from cimsim.spec.arch import ArchSpec
from cimsim.spec.loader import apply_overrides, validate


def _symmetric_sums(ra: int) -> np.ndarray:
    """Every reachable partial sum of 0..ra driven ±1 rows, each with its mirror image (both parities)."""
    s = np.concatenate([np.arange(-n, n + 1, 2) for n in range(ra + 1)]).astype(np.float32)
    return np.concatenate([s, -s])


def test_coarse_mlsa_symmetric_references_have_zero_mean_error():
    s = _symmetric_sums(16)[None, :]                      # one column, symmetric inputs, exact-zero noise
    q = Quantizer(17, 16, references="symmetric")         # 17-level MLSA over ±16: step 2, ties on odd sums
    err = q(s) - s
    assert np.any(err != 0)                               # it does quantize
    assert err.mean() == 0.0
    np.testing.assert_array_equal(q(-s), -q(s))           # odd-symmetric transfer function


def test_ge_ladder_biases_every_tie_upward():
    s = _symmetric_sums(16)[None, :]
    err = Quantizer(17, 16, references="ge_ladder")(s) - s
    ties = (s.astype(int) % 2 != 0)                       # odd sums sit on a reference
    np.testing.assert_array_equal(err[ties], 1.0)         # +step/2 on every tie
    assert err.mean() == pytest.approx(ties.mean())


def test_even_levels_alternate_the_centre_reference_over_columns():
    s = np.zeros((5, 2), np.float32)                      # s = 0 on two columns of a 2-level sense amp
    out = Quantizer(2, 16, references="symmetric")(s)
    np.testing.assert_array_equal(out[:, 0], 16.0)
    np.testing.assert_array_equal(out[:, 1], -16.0)
    grid = np.broadcast_to(_symmetric_sums(16)[:, None], (_symmetric_sums(16).size, 2))
    for levels in (2, 4, 16):                             # even-level ADCs: unbiased over a column pair
        assert (Quantizer(levels, 16)(grid) - grid).mean() == pytest.approx(0.0, abs=1e-6)


def test_fixed_references_shift_by_kappa_per_undriven_row():
    q = Quantizer(33, 16, track_driven_rows=False, rows_active=16, kappa=2.0)
    s = np.array([[0.0, 4.0, -3.0]], np.float32)
    np.testing.assert_array_equal(q(s, np.full((1, 1), 16.0, np.float32)), s)        # all driven: exact
    np.testing.assert_array_equal(q(s, np.full((1, 1), 13.0, np.float32)), s - 6.0)  # 3 undriven: −3κ
    with pytest.raises(ValueError, match="driven-row count"):
        q(s)
    assert not q.is_exact_for(16)


def _hw(arch, **over):
    a = validate(ArchSpec, apply_overrides(arch.model_dump(), list(over.items()), ArchSpec), file=None)
    from cimsim.spec.loader import load_workload
    from tests.conftest import MLP
    design = resolve(a, load_workload(MLP))
    return build_hardware(design, map_network(design))


def test_tracking_references_are_costed(arch):
    tracked = _hw(arch, **{"column_periphery.track_driven_rows": True}).component("column_periphery")
    fixed = _hw(arch, **{"column_periphery.track_driven_rows": False}).component("column_periphery")
    assert tracked.reference_energy_j > 0 and tracked.reference_area_m2 > 0
    assert fixed.reference_energy_j == 0 and fixed.reference_area_m2 == 0
    de = tracked.action("convert").energy_j - fixed.action("convert").energy_j
    assert de == pytest.approx(tracked.reference_energy_j)
    assert tracked.area_m2() - fixed.area_m2() == pytest.approx(tracked.reference_area_m2)
    q = tracked.quantizer()
    assert q.kappa > 1 and q.rows_active == 16 and q.references == "symmetric"
