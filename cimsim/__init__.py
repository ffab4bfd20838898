"""cimsim: compute-in-memory simulator for Bayesian binary neural networks on STT-MRAM crossbars."""

from __future__ import annotations

from configparser import ConfigParser
from importlib import metadata
from pathlib import Path


def _version() -> str:
    """The installed distribution's version; in a source checkout that is not installed, setup.cfg's (the one
    place the version is written), else ``0+unknown``."""
    try:
        return metadata.version("cimsim")
    except metadata.PackageNotFoundError:
        cfg = ConfigParser()
        cfg.read(Path(__file__).resolve().parent.parent / "setup.cfg", encoding="utf-8")
        if cfg.get("metadata", "name", fallback=None) == "cimsim":
            return cfg.get("metadata", "version", fallback="0+unknown")
        return "0+unknown"


__version__ = _version()
