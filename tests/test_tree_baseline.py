"""Nothing moves that should not (issue 23): every number of every shipped arch × workload equals the one captured
from `main` before the chip-tree redesign, to 1e-12 relative.

The stored numbers and their regeneration command: tests/golden/tree_baseline.py. Numbers that moved on purpose
are listed in :data:`MOVED` with the reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .golden.tree_baseline import capture, cases

STORED = json.loads((Path(__file__).parent / "golden" / "tree_baseline.json").read_text())
#: path suffix → why it moved (none so far: every shipped number is unchanged).
MOVED: dict[str, str] = {}


@pytest.mark.parametrize(("name", "args"), cases(), ids=[c[0] for c in cases()])
def test_numbers_unchanged(name, args):
    want, got = STORED[name], capture(args)
    missing = sorted(set(want) - set(got))
    assert not missing, f"{name}: no longer reported: {missing[:10]}"
    bad = {k: (want[k], got[k]) for k in want
           if got[k] != pytest.approx(want[k], rel=1e-12, abs=1e-300) and not any(k.endswith(m) for m in MOVED)}
    assert not bad, f"{name}: {len(bad)} numbers moved, e.g. {dict(list(bad.items())[:8])}"
