"""Pareto fronts and constraints on hand-made points; flattening; export; plotted reports and their HTML."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from cimsim.dse import export, feasible, flatten, pareto, run_sweep
from cimsim.dse.results import pareto_mask
from cimsim.errors import ConfigError
from cimsim.report.files import write_outputs
from cimsim.report.html import build_report, render_html
from cimsim.simulate import Options, simulate
from cimsim.spec.loader import load_arch, load_workload

ROOT = Path(__file__).resolve().parent.parent


def points() -> pd.DataFrame:
    # e: energy (min), a: accuracy (max), area: constrained
    return pd.DataFrame({"index": range(7), "status": ["done"] * 6 + ["failed"],
                         "e": [1.0, 2.0, 3.0, 2.0, 1.5, 0.5, 0.1],
                         "a": [0.90, 0.95, 0.99, 0.94, 0.90, 0.80, 0.99],
                         "area": [1.0, 1.0, 3.0, 1.0, 1.0, 1.0, 1.0]})


def test_pareto_on_hand_made_points():
    df = points()
    front = pareto(df, ["min e", "max a"])
    # 3 dominates (2.0, 0.94); 4 (1.5, 0.90) is dominated by 0 (1.0, 0.90); 6 failed: never on a front
    assert list(front["index"]) == [5, 0, 1, 2]
    assert list(pareto(df, ["min e", "max a"], ["area <= 2"])["index"]) == [5, 0, 1]
    assert list(pareto(df, ["max a"], ["area <= 2", "e >= 0.6"])["index"]) == [1]
    assert list(feasible(df, ["a > 0.9"])) == [False, True, True, True, False, False, False]
    with pytest.raises(ConfigError, match="'nope'"):
        pareto(df, ["min nope"])


def test_pareto_mask_brute_force():
    rng = np.random.default_rng(0)
    v = rng.integers(0, 5, size=(60, 3)).astype(float)  # many ties
    got = pareto_mask(v)
    want = [not any(np.all(v[j] <= v[i]) and np.any(v[j] < v[i]) for j in range(len(v))) for i in range(len(v))]
    assert list(got) == want


def test_flatten_and_export(tmp_path):
    flat = flatten({"a": 1, "b": {"c": 2.5, "d": {"e": "x"}}, "l": [1, 2], "n": None})
    assert flat == {"a": 1, "b.c": 2.5, "b.d.e": "x", "n": None}
    df = pd.DataFrame({"x": [1, 2], "bits": [None, 5], "model": ["mlsa", "sar"]})
    export(df, tmp_path / "r.csv")
    assert pd.read_csv(tmp_path / "r.csv")["x"].tolist() == [1, 2]
    pytest.importorskip("pyarrow")
    export(df, tmp_path / "r.parquet")
    assert pd.read_parquet(tmp_path / "r.parquet")["model"].tolist() == ["mlsa", "sar"]
    with pytest.raises(ConfigError, match="allowed: .csv, .parquet"):
        export(df, tmp_path / "r.xlsx")


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("sweep")
    spec = {"name": "rep", "arch": str(ROOT / "arch_configs" / "spindrop.yaml"),
            "workload": str(ROOT / "workloads" / "digits_mlp.yaml"), "timing_inputs": 4,
            "axes": [{"path": "crossbar.rows_active", "values": [4, 8, 16]},
                     {"zip": [{"path": "column_periphery.model", "values": ["mlsa", "neurosim_sar"]},
                              {"path": "column_periphery.bits", "values": [None, 5]}]}],
            "objectives": ["min energy_per_inference_j", "min latency_s"], "constraints": ["area_m2 <= 2e-6"]}
    (tmp / "s.yaml").write_text(yaml.safe_dump(spec))
    run_sweep(tmp / "s.yaml", tmp / "out", workers=1)
    return tmp / "out"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run")
    wl = load_workload(ROOT / "workloads" / "digits_mlp.yaml",
                       [("ood", ["uniform_noise", "permuted"]), ("ood_samples", 40),
                        ("corruptions", {"gaussian_noise": [1, 5]})])
    r = simulate(load_arch(ROOT / "arch_configs" / "spindrop.yaml"), wl,
                 Options(passes=4, limit=40, trace=True, timing_inputs=2), base_dir=ROOT / "workloads")
    write_outputs(r, out)
    from cimsim.engine.trace import write_chrome_trace

    write_chrome_trace(r.engine.trace, out / "trace.json")
    return out


@pytest.fixture(scope="module")
def reports(sweep_dir, run_dir) -> dict:
    """Each report built and rendered once: (report, html path)."""
    out = {}
    for name, d in (("sweep_dir", sweep_dir), ("run_dir", run_dir)):
        rep = build_report(d)
        out[name] = (rep, render_html(rep, d / "report" / "report.html"))
    return out


def _embedded(html: str) -> int:
    return len(re.findall(r"<img class='figure'[^>]*src='data:image/svg\+xml;base64,[A-Za-z0-9+/=]{200,}'", html))


def test_sweep_report_files_and_html(sweep_dir, reports):
    rep, page = reports["sweep_dir"]
    names = {f.name for f in rep.figures}
    assert names == {"pareto", "parallel", "sensitivity", "front_energy", "front_area"}
    for f in rep.figures:
        assert f.files["png"].stat().st_size > 5000 and f.files["svg"].read_text().lstrip().startswith("<?xml")
    front = pd.read_csv(sweep_dir / "report" / "pareto.csv")
    assert len(front) >= 1 and (front["area_m2"] <= 2e-6).all()
    assert len(pd.read_csv(sweep_dir / "report" / "results.csv")) == 6
    html = page.read_text()
    assert _embedded(html) == len(rep.figures)
    assert "src='figures/" not in html  # nothing loaded from disk


def test_run_report_files_and_html(run_dir, reports):
    scores = pd.read_csv(run_dir / "ood_scores.csv")
    assert scores.groupby("set").size().to_dict() == {"in_distribution": 40, "uniform_noise": 40, "permuted": 40}
    assert set(scores.columns) == {"set", "entropy", "mutual_information", "max_softmax"}
    rep, page = reports["run_dir"]
    assert {f.name for f in rep.figures} == {"energy_breakdown", "area_breakdown", "per_layer", "roc",
                                             "uncertainty", "corruptions", "psw"}
    html = page.read_text()
    assert _embedded(html) == len(rep.figures) == 7
    assert "ui.perfetto.dev" in html and "trace.json" in html


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)")
def test_html_renders_in_headless_chromium(reports, tmp_path):
    for name, (rep, page) in reports.items():
        proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                               "--disable-background-networking", "--no-first-run",
                               f"--user-data-dir={tmp_path / name}", "--enable-logging=stderr", "--v=0",
                               "--virtual-time-budget=5000", "--dump-dom", page.resolve().as_uri()],
                              capture_output=True, text=True, timeout=120)
        n = len(rep.figures)
        assert f'data-figures="{n}/{n}"' in proc.stdout, (name, proc.stdout[-500:])
        console = [ln for ln in proc.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
        assert not console, (name, console)
