"""The version of cimsim: the one place it is written (setup.cfg reads it with ``attr:``). A plain constant, so
``import cimsim`` does not need ``importlib.metadata`` (≈ 30 ms of every CLI call)."""

__version__ = "0.1.0"
