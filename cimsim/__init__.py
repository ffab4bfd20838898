"""cimsim: compute-in-memory simulator for Bayesian binary neural networks on STT-MRAM crossbars."""

from __future__ import annotations

from cimsim._version import __version__

__all__ = ["__version__"]
