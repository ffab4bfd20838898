"""cimsim: compute-in-memory simulator for Bayesian binary neural networks on STT-MRAM crossbars."""

__version__ = "0.1.0"
