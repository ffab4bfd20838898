"""Chip Monte-Carlo (issue 13 item 4, variation.chips)."""

from __future__ import annotations

import numpy as np

from cimsim.report.files import write_outputs
from cimsim.simulate import Options, simulate
from cimsim.spec.loader import load_arch, load_workload

from .conftest import ARCH, MLP


def test_chips_sample_distinct_instances_and_write_module_p(tmp_path):
    arch = load_arch(ARCH, [("variation.enabled", True), ("variation.chips", 3)])
    r = simulate(arch, load_workload(MLP), Options(limit=60, passes=4, ood=False, corruptions=False),
                 base_dir=MLP.parent)
    c = r.to_json()["chips"]
    assert c["n"] == 3 and len(set(c["seeds"])) == 3
    assert c["accuracy"]["per_chip"][0] == r.metrics["accuracy"]        # chip 0 is the run's own chip
    assert c["accuracy"]["std"] == np.std(c["accuracy"]["per_chip"], ddof=1)
    df = r.chip_module_p
    modules = sum(lm.modules for lm in r.mapping.layers)
    assert len(df) == 3 * modules and set(df["chip"]) == {0, 1, 2}
    np.testing.assert_array_equal(df[df.chip == 0].query("layer == 'fc2'")["p"], r.module_p["fc2"])
    p0 = df[df.chip == 0]["p"].to_numpy()
    assert not np.array_equal(p0, df[df.chip == 1]["p"].to_numpy())    # a different chip instance
    assert sum(c["module_p_histogram"]["counts"]) == len(df)
    names = {p.name for p in write_outputs(r, tmp_path)}
    assert "module_p.csv" in names


def test_one_chip_reports_no_monte_carlo():
    r = simulate(load_arch(ARCH), load_workload(MLP), Options(limit=20, passes=2, ood=False, corruptions=False),
                 base_dir=MLP.parent)
    assert "chips" not in r.to_json() and r.chip_module_p is None
