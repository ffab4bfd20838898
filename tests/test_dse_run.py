"""Running sweeps: store, resume after SIGKILL, lock, failed points, Dask = local processes, optuna seeds."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cimsim.dse import load, run_sweep, sweep_status
from cimsim.dse.store import LOCK_NAME, Lock
from cimsim.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def write(tmp: Path, name: str = "t", **spec) -> Path:
    doc = {"name": name, "arch": str(ROOT / "arch_configs" / "spindrop.yaml"),
           "workload": str(ROOT / "workloads" / "digits_mlp.yaml"), "timing_inputs": 4, **spec}
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def table(directory: Path) -> pd.DataFrame:
    """The results without wall-clock columns (those differ between runs by nature)."""
    df = load(directory)
    return df.drop(columns=[c for c in df.columns if c == "wall_s" or c.startswith("wall_time_s")])


AXES = [{"path": "crossbar.rows_active", "values": [4, 8, 16, 32]},
        {"path": "chip.tiles", "values": [1, 4]},  # 1 tile (4 arrays) cannot hold the MLP: a failed point
        {"path": "mc_passes", "values": [5, 10]}]


def test_grid_sweep_store_failures_and_rerun(tmp_path):
    out = tmp_path / "out"
    s = run_sweep(write(tmp_path, axes=AXES), out, workers=1)
    assert (s.status.planned, s.status.done, s.status.failed, s.status.pending) == (16, 8, 8, 0)
    df = load(out)
    assert len(df) == 16 and df["key"].is_unique
    failed = df[df["status"] == "failed"]
    assert set(failed["chip.tiles"]) == {1} and failed["error"].str.contains("MappingError").all()
    done = df[df["status"] == "done"]
    assert (done["passes"] == done["mc_passes"]).all()
    # more rows active per group → fewer row-group reads → lower latency (same chip)
    lat = done[done["mc_passes"] == 10].sort_values("crossbar.rows_active")["latency_s"].to_numpy()
    assert (lat[1:] < lat[:-1]).all()
    again = run_sweep(write(tmp_path, axes=AXES), out, workers=1)
    assert again.computed == 0 and again.reused == 16
    assert table(out).equals(table(out))
    assert len(load(out)) == 16


def test_resume_after_sigkill_equals_uninterrupted_run(tmp_path):
    spec = write(tmp_path, axes=[{"path": "crossbar.rows_active", "values": [4, 8, 16, 32]},
                                 {"path": "mc_passes", "values": [3, 4, 5]}], timing="engine", timing_inputs=48)
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "cimsim", "sweep", str(spec), "--workers", "1", "--out", str(killed)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        rows = 0
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            if (killed / "sweep.sqlite").is_file():
                try:
                    with sqlite3.connect(killed / "sweep.sqlite", timeout=5) as c:
                        rows = c.execute("SELECT COUNT(*) FROM points").fetchone()[0]
                except sqlite3.OperationalError:
                    continue
                if rows >= 3:
                    break
        assert proc.poll() is None, "the sweep finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert (killed / LOCK_NAME).is_file()  # the dead writer's lock stays behind
    part = sweep_status(killed)
    assert 3 <= part.done < 12 and part.pending == 12 - part.done
    s = run_sweep(spec, killed, workers=1)  # takes over the stale lock, computes only what is missing
    assert s.note and "stale" in s.note
    assert s.computed == 12 - part.done
    run_sweep(spec, clean, workers=1)
    a, b = table(killed), table(clean)
    assert len(a) == 12 and a["key"].is_unique and (a["status"] == "done").all()
    pd.testing.assert_frame_equal(a, b)


def test_second_writer_is_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with Lock(out), pytest.raises(ConfigError, match=rf"another sweep is writing .*pid {os.getpid()}"):
        run_sweep(write(tmp_path, axes=AXES[:1]), out, workers=1)
    assert not (out / LOCK_NAME).exists()
    run_sweep(write(tmp_path, axes=AXES[:1]), out, workers=1)  # free again
    with pytest.raises(ConfigError, match="holds sweep 't'"):
        run_sweep(write(tmp_path, name="other", axes=AXES[:1]), out, workers=1)


def test_dask_local_cluster_equals_local_processes(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    spec = write(tmp_path, axes=AXES[:2])
    run_sweep(spec, tmp_path / "pool", workers=2)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        run_sweep(spec, tmp_path / "dask", scheduler=client)
    pd.testing.assert_frame_equal(table(tmp_path / "pool"), table(tmp_path / "dask"))


def test_optuna_is_reproducible_with_a_seed(tmp_path):
    pytest.importorskip("optuna")
    spec = dict(search="optuna", samples=12, seed=5, optuna={"sampler": "nsga2", "population_size": 4, "batch": 4},
                axes=[{"path": "crossbar.rows_active", "values": [4, 8, 16, 32]},
                      {"path": "column_periphery.columns_per_converter", "values": [1, 2, 4, 8]},
                      {"path": "mc_passes", "values": [5, 10, 20]}],
                objectives=["min energy_per_inference_j", "min latency_s"], constraints=["area_m2 <= 1.9e-6"])
    runs = []
    for k, workers in enumerate((1, 2, 1)):
        seed = 6 if k == 2 else 5
        out = tmp_path / f"o{k}"
        s = run_sweep(write(tmp_path, **{**spec, "seed": seed}), out, workers=workers)
        assert s.status.planned == 12 and s.status.pending == 0
        with sqlite3.connect(out / "sweep.sqlite") as c:
            runs.append([(i, json.loads(a)) for i, a in c.execute("SELECT idx, axes FROM planned ORDER BY idx")])
    assert runs[0] == runs[1]  # same seed, different worker count: the same trials
    assert runs[0] != runs[2]  # another seed explores differently
    pd.testing.assert_frame_equal(table(tmp_path / "o0"), table(tmp_path / "o1"))
