"""Dependability of the simulated chip: fault injection (:mod:`.inject`) and MTJ endurance / lifetime of the dropout
modules (:mod:`.lifetime`). The online test of the dropout modules runs the functional executor, which itself
injects faults, so it sits above both packages: :mod:`cimsim.online_test`. See docs/dependability.md."""
