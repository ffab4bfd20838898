"""Sharded functional runs (issue 20 item 2): local processes and Dask give one process's bits; a dying worker's
units are recomputed; the progress bar counts inputs; chips run as units too."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cimsim.functional.evaluate import Context, RunSpec, set_recipes, units_of
from cimsim.functional.shard import in_worker, run_local, run_pool
from cimsim.simulate import Options, simulate
from cimsim.spec.loader import load_arch, load_workload

from .conftest import ARCH, MLP


def _same(a, b) -> None:
    ja, jb = a.to_json(), b.to_json()
    ja.pop("wall_time_s"), jb.pop("wall_time_s")
    assert ja == jb
    assert repr(a.ledger.rows) == repr(b.ledger.rows)
    pd.testing.assert_frame_equal(a.per_sample_df(), b.per_sample_df(), check_exact=True)
    pd.testing.assert_frame_equal(a.ood_scores, b.ood_scores, check_exact=True)
    if a.chip_module_p is not None:
        pd.testing.assert_frame_equal(a.chip_module_p, b.chip_module_p, check_exact=True)


def _arch():
    # three chip instances with variation: chips are sharded like the evaluation sets
    return load_arch(ARCH, [("variation.enabled", True), ("variation.chips", 3)])


def test_two_local_workers_give_one_process_bits_and_count_inputs():
    seen: list[tuple[int, int]] = []

    def progress(phase: str, done: int, total: int) -> None:
        if phase == "functional":
            seen.append((done, total))

    opt = dict(limit=40, passes=3, seed=5)
    wl = load_workload(MLP, [("ood_samples", 30)])
    one = simulate(_arch(), wl, Options(**opt), base_dir=MLP.parent)
    two = simulate(_arch(), wl, Options(**opt, workers=2, progress=progress), base_dir=MLP.parent)
    _same(one, two)
    sets = 2 * 40 + 2 * wl.ood_samples * len(wl.ood) + 2 * 40 * sum(map(len, wl.corruptions.values()))
    chips = 2 * (40 + wl.ood_samples * len(wl.ood))                   # chips 1 and 2: test and OOD MC sets
    assert seen[-1] == (sets + chips, sets + chips)
    assert all(b >= a for (a, _), (b, _) in zip(seen, seen[1:], strict=False))


@pytest.mark.slow
def test_dask_cluster_gives_one_process_bits():
    distributed = pytest.importorskip("dask.distributed")
    opt = dict(limit=25, passes=2, seed=1, corruptions=False)
    one = simulate(_arch(), MLP, Options(**opt))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        two = simulate(_arch(), MLP, Options(**opt, scheduler=client))
    _same(one, two)


@pytest.mark.slow  # waits for the 10 s connection timeout
def test_unreachable_scheduler_is_one_line_exit_2():
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "cimsim", "run", "--limit", "2", "--scheduler", "tcp://127.0.0.1:9"],
                       capture_output=True, text=True, cwd=Path(ARCH).parent.parent)
    assert p.returncode == 2 and "--scheduler" in p.stderr and p.stderr.count("\n") == 1, p.stderr


def die_once(marker: str, unit):
    """Kills its worker process the first time it meets the test set's first unit (a crash, not an error)."""
    if unit.set_key == "test" and unit.first == 0 and unit.chip == 0 and not os.path.exists(marker):
        Path(marker).touch()
        os._exit(1)
    return in_worker(unit)


def test_a_killed_worker_s_units_are_recomputed(tmp_path):
    from cimsim.hardware import build_hardware
    from cimsim.mapping import map_network
    from cimsim.network.datasets import load_dataset
    from cimsim.network.weights import load_network
    from cimsim.resolve import resolve

    arch, wl = load_arch(ARCH), load_workload(MLP)
    spec = RunSpec(arch, wl, str(MLP.parent), passes=3, seed=9, threads=1)
    design = resolve(arch, wl)
    mp = map_network(design)
    ctx = Context(spec, build_hardware(design, mp), mp, load_network(wl.network, MLP.parent))
    x01 = load_dataset(wl.dataset, MLP.parent).x_test[:30]
    recipes = set_recipes(wl, x01, seed=9, ood=False, corruptions=False, chips=1)

    def results(it):
        return {(r.set_key, r.first): r for r in it}

    local = results(run_local(units_of(recipes, spec, bits=wl.network.input_bits, size=30), ctx, None))
    ticks: list[int] = []
    crashed = results(run_pool(units_of(recipes, spec, bits=wl.network.input_bits, size=10), 2, ticks.append,
                               fn=functools.partial(die_once, str(tmp_path / "died"))))
    assert (tmp_path / "died").exists()                              # a worker did die
    assert sum(ticks) == 60                                          # every input counted once
    for key in ("test", "test_det"):
        joined = np.concatenate([crashed[(key, a)].summary.mean for a in (0, 10, 20)])
        np.testing.assert_array_equal(joined, local[(key, 0)].summary.mean)
    total = crashed[("test", 0)].tallies
    for a in (10, 20):
        total.add(crashed[("test", a)].tallies)
    assert ctx.executor(9).counts(total) == ctx.executor(9).counts(local[("test", 0)].tallies)


def test_unit_size_carries_enough_work_and_keeps_every_worker_busy():
    from cimsim.functional.shard import IN_FLIGHT, UNIT_WORK, unit_size

    # a large set of a heavy network: enough inputs for UNIT_WORK flop, at least one executor chunk
    assert unit_size(10_000, 1, UNIT_WORK / 3.5, 2) == 4
    assert unit_size(10_000, 8, UNIT_WORK / 3.5, 2) == 8
    # a light network: capped so every worker holds IN_FLIGHT units
    assert unit_size(540, 4096, 1e6, 2) == -(-540 // (IN_FLIGHT * 2))
    # tiny sets still make units
    assert unit_size(1, 1, 1e12, 8) == 1 and unit_size(3, 1, 0.0, 2) == 1
