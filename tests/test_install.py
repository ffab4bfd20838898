"""A non-editable install works from any directory: the wheel carries the shipped configs, workloads and weights.

Builds the wheel from a copy of the checkout (so the checkout gets no build/ or egg-info), installs it with
``pip install --no-deps --target``, and runs ``python -m cimsim`` from an empty temporary directory with only the
install on PYTHONPATH. Fails if a shipped file is missing from the wheel or cannot be found after installation.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT

# What a build needs from the checkout; everything else (.git, virtualenvs, reports) stays behind.
_IGNORE = shutil.ignore_patterns(".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", ".*_cache",
                                 "reports", "benchmarks", "tests")


def _shipped_in_checkout() -> set[str]:
    """Wheel paths the checkout's example folders and in-package data files must appear under."""
    out = {f"cimsim/examples/{p.parent.name}/{p.name}"
           for folder in ("arch_configs", "workloads", "sweeps") if (ROOT / folder).is_dir()
           for pattern in ("*.yaml", "*.npz") for p in (ROOT / folder).glob(pattern)}
    out |= {p.relative_to(ROOT).as_posix() for p in (ROOT / "cimsim").rglob("*.npz")}
    return out


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str], Path]:
    """(install dir, environment using only it, empty working directory)."""
    tmp = tmp_path_factory.mktemp("install")
    src, wheels, target, cwd = tmp / "src", tmp / "wheels", tmp / "site", tmp / "cwd"
    shutil.copytree(ROOT, src, ignore=_IGNORE)
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONDONTWRITEBYTECODE="1")
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(wheels),
          str(src)], cwd=tmp, env=env)
    (wheel,) = wheels.glob("cimsim-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = _shipped_in_checkout() - names
    assert not missing, f"not in the wheel: {sorted(missing)}"
    _run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
         cwd=tmp, env=env)
    env["PYTHONPATH"] = str(target)
    return target, env, cwd


def test_installed_package_is_the_one_imported(installed):
    target, env, cwd = installed
    out = _run([sys.executable, "-c", "import cimsim; print(cimsim.__file__); print(cimsim.__version__)"],
               cwd=cwd, env=env).stdout.split()
    assert Path(out[0]).is_relative_to(target)
    assert out[1] == _run([sys.executable, "-m", "cimsim", "--version"], cwd=cwd, env=env).stdout.split()[-1]
    assert out[1] != "0+unknown"


def test_run_with_shipped_defaults_from_a_temp_directory(installed):
    _, env, cwd = installed
    hw = json.loads(_run([sys.executable, "-m", "cimsim", "run", "--hardware-only", "--format", "json"],
                         cwd=cwd, env=env).stdout)
    assert hw["hardware_only"] and hw["energy_per_inference_j"] > 0
    res = json.loads(_run([sys.executable, "-m", "cimsim", "run", "--limit", "20", "--passes", "5", "--no-ood",
                           "--no-corruptions", "--format", "json"], cwd=cwd, env=env).stdout)
    assert res["inputs"] == 20 and res["passes"] == 5
    # 20 digits on the shipped MLP: well above chance (0.1), so the weights file really was loaded
    assert res["accuracy"] >= 0.7


def test_examples_lists_and_copies_the_installed_files(installed):
    target, env, cwd = installed
    listing = _run([sys.executable, "-m", "cimsim", "examples"], cwd=cwd, env=env).stdout
    for name in ("spindrop.yaml", "digits_mlp.yaml", "digits_mlp.npz", "digits_cnn.yaml"):
        assert name in listing
    assert str(target) in listing
    _run([sys.executable, "-m", "cimsim", "examples", "--copy", "mine"], cwd=cwd, env=env)
    assert (cwd / "mine" / "workloads" / "digits_cnn.npz").read_bytes() == (ROOT / "workloads" /
                                                                             "digits_cnn.npz").read_bytes()
    res = json.loads(_run([sys.executable, "-m", "cimsim", "run", "mine/arch_configs/spindrop_adc.yaml",
                           "mine/workloads/digits_cnn.yaml", "--hardware-only", "--format", "json"],
                          cwd=cwd, env=env).stdout)
    assert res["config"]["arch"]["name"] == "spindrop_adc"
