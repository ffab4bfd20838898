"""Dependability of the simulated chip: fault injection (:mod:`.inject`), the online test of the dropout modules
(:mod:`.online_test`) and MTJ endurance / lifetime of the dropout modules (:mod:`.lifetime`).
See docs/dependability.md."""
