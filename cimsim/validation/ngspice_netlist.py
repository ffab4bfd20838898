"""ngspice netlists of crossbar reads, the stored reference currents, and the comparison with the nodal model.

Each validation pattern is rebuilt from its seed (:func:`pattern`): an array of size N×N, inputs
x ∈ {−1, 0, +1} (0: row not driven; on average min(¾N, 32) rows driven, which keeps
the 128×128 decks to about 20 s of ngspice each), weights w = ±1, 2T-2MTJ cells (the read device is in its low
state iff x·w = +1), a wire resistance per segment drawn log-uniformly in 0.05–2 Ω, a driver and sense
resistance in 1–100 Ω, and the source-line layout alternating between ``row`` and ``column``
(components/electrical.py). The netlist (:func:`netlist`) has one node per row-line and bit-line cell position,
the access transistor as a linear resistor (its on-resistance) and every MTJ with its own internal node: a
parallel-state MTJ is a linear resistor R_P, an antiparallel one a behavioural current source
``B … I = V/(R_P·(1 + TMR/(1 + (V/V_h)²)))`` (the bias-dependent R_AP of mtj.py). Column currents are
V(bit-line end)/R_sink, read with ``wrdata`` (16 digits) after ``op`` at reltol 1e−9.

``python -m cimsim.validation.ngspice_netlist`` regenerates ``data/ngspice_crossbar.json`` (needs
``/usr/bin/ngspice``; about a minute per 128×128 pattern set on one core).
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cimsim.components.electrical import ArrayCircuit, solve, solve_reduced

#: Array sizes and patterns per size of the stored validation set.
SIZES = (16, 64, 128)
PATTERNS = 20
#: Mean driven rows of a pattern (at most 3/4 of the rows).
DRIVEN_ROWS = 32
#: Storage MTJ and access transistor of the default chip at 300 K (spindrop.yaml: RA 5 Ω·µm², d 40 nm,
#: TMR 120 %, V_h 0.5 V, R_access 3.7 kΩ, V_read 0.1 V).
R_P_OHM = 5e-12 / (math.pi * 40e-9 ** 2 / 4)
TMR0, VH_V, R_ACCESS_OHM, V_READ = 1.2, 0.5, 3.7e3, 0.1
DATA = Path(__file__).parent / "data" / "ngspice_crossbar.json"


@dataclass(frozen=True)
class Pattern:
    """One validation read: the circuit, the driven rows and the cell states."""

    size: int
    seed: int
    circuit: ArrayCircuit
    driven: np.ndarray
    lrs: np.ndarray


def pattern(size: int, seed: int) -> Pattern:
    """Validation pattern ``seed`` of an ``size``×``size`` array (module docstring)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(size,)))
    q = min(0.75, DRIVEN_ROWS / size)
    x = rng.choice([-1, 0, 1], p=[q / 2, 1 - q, q / 2], size=size)
    w = rng.choice([-1, 1], size=(size, size))
    r_seg = float(np.exp(rng.uniform(np.log(0.05), np.log(2.0))))
    r_drv, r_sense = (float(v) for v in np.exp(rng.uniform(0.0, np.log(100.0), size=2)))
    row = seed % 2 == 0
    circ = ArrayCircuit(rows=size, cols=size, r_row_ohm=r_seg if row else 0.0,
                        r_col_ohm=r_seg if row else 2 * r_seg, r_driver_ohm=r_drv if row else 0.0,
                        r_sense_ohm=r_sense, r_access_ohm=R_ACCESS_OHM, r_p_ohm=R_P_OHM, tmr=TMR0, vh_v=VH_V,
                        read_voltage_v=V_READ)
    driven = x != 0
    lrs = (x[:, None] * w) > 0
    return Pattern(size, seed, circ, driven, lrs)


def _r(name: str, a: str, b: str, r: float) -> str:
    return f"R{name} {a} {b} {r:.15g}"


def netlist(p: Pattern, out_file: str) -> tuple[str, list[float]]:
    """ngspice deck of pattern ``p`` writing the bit-line end voltages to ``out_file``; also the sink
    resistance of each column (Ω). Zero-resistance elements become shorts (node aliases)."""
    c = p.circuit
    pos = np.flatnonzero(p.driven)
    n, cc = pos.size, c.cols
    lines = [f"* crossbar {c.rows}x{c.cols} seed {p.seed}", f"Vread src 0 DC {c.read_voltage_v:.15g}"]
    # row line: a_k_j; a zero resistance joins nodes, written as a 0 V source (an ideal short)
    shorts = 0

    def element(name: str, a: str, b: str, r: float) -> str:
        nonlocal shorts
        if r == 0.0:
            shorts += 1
            return f"Vshort{shorts} {a} {b} DC 0"
        return _r(name, a, b, r)

    sink = c.r_col_ohm * (c.rows - pos[-1]) + c.r_sense_ohm if n else 0.0
    for k in range(n):
        lines.append(element(f"d{k}", "src", f"a_{k}_0", c.r_driver_ohm + c.r_row_ohm))
        for j in range(cc - 1):
            lines.append(element(f"w{k}_{j}", f"a_{k}_{j}", f"a_{k}_{j + 1}", c.r_row_ohm))
        for j in range(cc):
            lines.append(_r(f"x{k}_{j}", f"a_{k}_{j}", f"m_{k}_{j}", c.r_access_ohm))
            if p.lrs[pos[k], j]:
                lines.append(_r(f"p{k}_{j}", f"m_{k}_{j}", f"b_{k}_{j}", c.r_p_ohm))
            else:
                v = f"V(m_{k}_{j},b_{k}_{j})"
                lines.append(f"Bap{k}_{j} m_{k}_{j} b_{k}_{j} I={v}/({c.r_p_ohm:.15g}*(1+{c.tmr:.15g}/"
                             f"(1+({v}/{c.vh_v:.15g})^2)))")
            if k + 1 < n:
                lines.append(element(f"b{k}_{j}", f"b_{k}_{j}", f"b_{k + 1}_{j}", c.r_col_ohm * (pos[k + 1] - pos[k])))
    for j in range(cc):
        lines.append(_r(f"s{j}", f"b_{n - 1}_{j}", "0", sink))
    vecs = " ".join(f"v(b_{n - 1}_{j})" for j in range(cc))
    lines += [".options reltol=1e-9 abstol=1e-18 vntol=1e-12 gmin=1e-18", ".control", "op",
              "set wr_singlescale", "option numdgt=15", f"wrdata {out_file} {vecs}", ".endc", ".end"]
    return "\n".join(lines) + "\n", [sink] * cc


def run_ngspice(p: Pattern, ngspice: str = "ngspice") -> np.ndarray:
    """Column currents of pattern ``p`` from ngspice in batch mode, A."""
    if not p.driven.any():
        return np.zeros(p.circuit.cols)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.txt"
        deck, sink = netlist(p, str(out))
        cir = Path(tmp) / "deck.cir"
        cir.write_text(deck)
        # batch mode exits 1 for a deck whose analysis runs in .control ("no simulations run"): judge the output
        proc = subprocess.run([ngspice, "-b", str(cir)], capture_output=True, text=True, timeout=3600)
        if not out.is_file():
            raise RuntimeError(f"ngspice wrote no output for {p.size}x{p.size} seed {p.seed}: "
                               f"{proc.stderr.strip()[-300:]}")
        vals = np.array(out.read_text().split(), dtype=float)
    # with wr_singlescale, wrdata writes the scale once and then every vector (no header without wr_vecnames)
    return vals[1:] / np.asarray(sink)


def compare(p: Pattern, ref: np.ndarray) -> tuple[float, float]:
    """Largest relative column-current error of the full solve and of the reduced model against ``ref``
    (columns carrying at least 1e−3 of the largest current)."""
    full = solve(p.circuit, p.driven, p.lrs).currents_a
    red = solve_reduced(p.circuit, p.driven, p.lrs)
    m = ref > 1e-3 * ref.max() if ref.size and ref.max() > 0 else np.zeros(ref.shape, bool)
    if not m.any():
        return 0.0, 0.0
    return float(np.max(np.abs(full[m] / ref[m] - 1))), float(np.max(np.abs(red[m] / ref[m] - 1)))


def load_reference(path: Path = DATA) -> dict[str, list[dict]]:
    """The stored ngspice currents: size → [{seed, currents_a}]."""
    return json.loads(path.read_text())["sizes"]


def regenerate(path: Path = DATA, ngspice: str | None = None) -> dict[str, list[dict]]:
    """Run every pattern through ngspice and write the reference file (module docstring)."""
    exe = ngspice or shutil.which("ngspice")
    if exe is None:
        raise FileNotFoundError("ngspice not found on PATH")
    sizes: dict[str, list[dict]] = {}
    for size in SIZES:
        # 12 significant digits: far below the 1e-9 the regeneration test compares at, a third of the bytes
        sizes[str(size)] = [{"seed": s, "currents_a": [float(f"{v:.12g}") for v in run_ngspice(pattern(size, s), exe)]}
                            for s in range(PATTERNS)]
    banner = subprocess.run([exe, "-v"], capture_output=True, text=True).stdout.splitlines()
    version = next((ln.strip("* ").split(" :")[0] for ln in banner if "ngspice-" in ln), "")
    doc = {"generator": "python -m cimsim.validation.ngspice_netlist", "ngspice": version,
           "sizes": sizes}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    return sizes


if __name__ == "__main__":
    regenerate()
