"""Where the files of the wheel come from (metadata and dependencies are in setup.cfg).

The example folders stay at the top of the checkout, where users, docs and tests name them
(``arch_configs/spindrop.yaml``), and are shipped inside the package as ``cimsim/examples/<folder>/`` by mapping
each one to a package directory. setup.cfg cannot express that next to ``find:``, hence this file.
"""

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).resolve().parent
# Keep in step with cimsim.examples.FOLDERS and PATTERNS (tests/test_install.py checks the wheel's contents).
EXAMPLE_FOLDERS = [f for f in ("arch_configs", "workloads", "sweeps") if (ROOT / f).is_dir()]
EXAMPLE_FILES = ["*.yaml", "*.npz"]
# Data files other modules keep under cimsim/ (e.g. device tables as .npz), shipped wherever they sit.
PACKAGE_FILES = ["**/*.npz", "**/*.json", "**/*.csv", "**/*.yaml"]

setup(
    packages=find_packages(include=["cimsim", "cimsim.*"]) + [f"cimsim.examples.{f}" for f in EXAMPLE_FOLDERS],
    package_dir={f"cimsim.examples.{f}": f for f in EXAMPLE_FOLDERS},
    package_data={"cimsim": PACKAGE_FILES, **{f"cimsim.examples.{f}": EXAMPLE_FILES for f in EXAMPLE_FOLDERS}},
)
