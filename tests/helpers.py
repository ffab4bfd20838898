"""Helpers only tests use (kept out of the library)."""

from __future__ import annotations

import numpy as np

from cimsim.cli import main
from cimsim.mapping import LayerMap


def module_of_row(lm: LayerMap) -> np.ndarray:
    """Index (0..modules−1) of the module gating each of the layer's ``fan_in`` rows."""
    return lm.bit_of_row() // max(lm.generations, 1)


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process; (exit status, stdout, stderr) of this call alone."""
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line_exit_2(capsys, *args: str, needles: tuple[str, ...] = ()) -> str:
    """The CLI's bad-input contract: exit 2 and one stderr line of at most 300 characters, no traceback,
    holding every ``needles`` string; returns that line."""
    code, _, err = cli(capsys, *args)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and len(lines[0]) <= 300, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]
