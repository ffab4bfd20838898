"""Faults of one chip instance, sampled once from the seed and applied by the functional executor.

Three kinds (spec: :mod:`cimsim.spec.faults`, semantics: docs/dependability.md):

- **dropout modules**: a stuck module's p becomes 1 (stuck-at-drop) or 0 (stuck-at-keep); a shifted module's p
  becomes clip(p·factor + Δp, 0, 1). They act on the per-module probabilities the dropout source hands the
  executor, so every downstream bit, count and statistic sees them.
- **crossbar cells**: a stuck MTJ reads its stuck state whatever was written. In a 2T-2MTJ cell the input x = +1
  (or a first-layer bit 1) reads device a and x = −1 reads device b; a device contributes +1 to the column
  popcount in the low state and −1 in the high state. Healthy, (c_a, c_b) = (w, −w); with stuck devices the cell
  contributes c_a·[x = +1] + c_b·[x = −1] = x·(c_a − c_b)/2 + |x|·(c_a + c_b)/2, i.e. an effective weight
  (c_a − c_b)/2 ∈ {−1, 0, 1} plus a bias (c_a + c_b)/2 on every driven row. A 1T-1MTJ cell has one device:
  the weight reads as its state (+1 low, −1 high).
- **storage MTJs** (read disturb and retention, :mod:`cimsim.faults.storage`): a flipped device reads the other
  state from then on, i.e. in the formula above c_a = −w (device a flipped) or c_b = w (device b flipped); stuck
  devices win over flips.
- **converters**: every column converter adds its input-referred offset (LSB × the quantizer's step, in popcount
  steps) to each partial sum before quantization.

Randomness: ``SeedSequence(seed, spawn_key=(FAULTS_DOMAIN, kind, layer))``, drawn once per chip instance at
construction, so faults never depend on batching, ``--limit`` or the order of evaluation sets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cimsim.errors import ConfigError
from cimsim.faults.storage import StorageFlips
from cimsim.hardware import Hardware, mtj_params
from cimsim.mapping import LayerMap, Mapping
from cimsim.spec.faults import FaultsSpec

#: First element of every fault spawn key (the executor uses 0–4, simulate.py 10–11).
FAULTS_DOMAIN = 20
_MODULES, _CELLS, _CONVERTERS, _STORAGE = range(4)

#: Module fault codes.
HEALTHY, STUCK_AT_DROP, STUCK_AT_KEEP, SHIFTED = range(4)
CODE_NAMES = {STUCK_AT_DROP: "stuck_at_drop", STUCK_AT_KEEP: "stuck_at_keep", SHIFTED: "shifted"}
_CODE_OF = {v: k for k, v in CODE_NAMES.items()}


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(FAULTS_DOMAIN, *key)))


@dataclass
class LayerFaults:
    """Faults of one layer's hardware.

    Attributes:
        module_code: (modules,) fault code of each dropout module (None: the layer has no dropout).
        p_factor, p_delta: (modules,) shift of each module's p (1 and 0 for unshifted modules).
        device_state: (devices, F, O) int8, 0 healthy, +1 stuck low, −1 stuck high (devices 2 for 2T-2MTJ:
            a then b; 1 for 1T-1MTJ); None without cell faults.
        offset_steps: (G, O) offset of the converter of each (row group, column), popcount steps; None without.
    """

    module_code: np.ndarray | None = None
    p_factor: np.ndarray | None = None
    p_delta: np.ndarray | None = None
    device_state: np.ndarray | None = None
    offset_steps: np.ndarray | None = None
    offset_lsb: np.ndarray | None = None
    storage: StorageFlips | None = None
    devices: int = 2
    storage_flipped: dict[str, float] | None = None  # filled when the weights are read (summary)


@dataclass
class ChipFaults:
    """Every fault of one chip instance (see the module docstring); empty when the spec injects none."""

    seed: int
    layers: dict[str, LayerFaults] = field(default_factory=dict)

    @property
    def conversion(self) -> bool:
        """Whether any fault changes the conversion (cells or converters): the executor then takes the row-group
        path, where those faults act."""
        return any(lf.device_state is not None or lf.offset_steps is not None or lf.storage is not None
                   for lf in self.layers.values())

    def apply_p(self, lm: LayerMap, p: np.ndarray | None) -> np.ndarray | None:
        """Per-module p of layer ``lm`` with its module faults applied."""
        lf = self.layers.get(lm.name)
        if lf is None or lf.module_code is None or p is None:
            return p
        out = np.clip(p * lf.p_factor + lf.p_delta, 0.0, 1.0)
        out[lf.module_code == STUCK_AT_DROP] = 1.0
        out[lf.module_code == STUCK_AT_KEEP] = 0.0
        return out

    def weights(self, lm: LayerMap, w: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Effective weight matrix (F, O) and per-cell bias (F, O) on driven rows (None: no stuck device)."""
        lf = self.layers.get(lm.name)
        if lf is None or (lf.device_state is None and lf.storage is None):
            return w, None
        # programmed state of each device: +1 low, −1 high (2T-2MTJ: a holds w, b holds −w)
        devices = lf.device_state.shape[0] if lf.device_state is not None else lf.devices
        c = w[None] if devices == 1 else np.stack([w, -w])
        if lf.storage is not None:
            flipped, p = lf.storage.flips(c, _rng(self.seed, _STORAGE, lm.index))
            c = np.where(flipped, -c, c)
            lf.storage_flipped = {"devices": int(c.size), "flipped": int(flipped.sum()), "p_flip_mean": float(p.mean())}
        if lf.device_state is not None:
            st = lf.device_state
            c = np.where(st != 0, st, c)
        if devices == 1:  # 1T-1MTJ: the weight reads as the device's state
            return c[0].astype(w.dtype), None
        c_a, c_b = c[0], c[1]
        return ((c_a - c_b) / 2).astype(w.dtype), ((c_a + c_b) / 2).astype(w.dtype)

    def offset(self, lm: LayerMap) -> np.ndarray | None:
        """(G, 1, O) converter offsets of layer ``lm`` in popcount steps (None: no converter fault)."""
        lf = self.layers.get(lm.name)
        if lf is None or lf.offset_steps is None:
            return None
        return lf.offset_steps[:, None, :].astype(np.float32)

    def summary(self) -> dict[str, Any]:
        """What was injected, per layer (``result.json`` key ``faults_injected``)."""
        out: dict[str, Any] = {}
        for name, lf in self.layers.items():
            d: dict[str, Any] = {}
            if lf.module_code is not None:
                d["dropout_modules"] = {"modules": int(lf.module_code.size), **{
                    n: [int(i) for i in np.flatnonzero(lf.module_code == c)] for c, n in CODE_NAMES.items()}}
            if lf.device_state is not None:
                d["cells"] = {"devices": int(lf.device_state.size),
                              "stuck_lrs": int((lf.device_state > 0).sum()),
                              "stuck_hrs": int((lf.device_state < 0).sum())}
            if lf.storage_flipped is not None:
                d["storage"] = lf.storage_flipped
            if lf.offset_lsb is not None:
                d["converters"] = {"converters": int(lf.offset_lsb.size), "offset_mean_lsb": float(lf.offset_lsb.mean()),
                                   "offset_std_lsb": float(lf.offset_lsb.std())}
            if d:
                out[name] = d
        return {"seed": self.seed, "layers": out} if out else {}


def _module_faults(spec: FaultsSpec, lm: LayerMap, seed: int, file: str | None) -> LayerFaults:
    mf = spec.dropout_modules
    n = lm.modules
    code = np.full(n, HEALTHY, np.int8)
    factor, delta = np.ones(n), np.zeros(n)
    if mf.layers is None or lm.name in mf.layers:
        u = _rng(seed, _MODULES, lm.index).random(n)
        edges = np.cumsum([mf.stuck_at_drop, mf.stuck_at_keep, mf.shifted])
        code[u < edges[2]] = SHIFTED
        code[u < edges[1]] = STUCK_AT_KEEP
        code[u < edges[0]] = STUCK_AT_DROP
        factor[code == SHIFTED], delta[code == SHIFTED] = mf.p_factor, mf.delta_p
    for i, nf in enumerate(mf.named):
        if nf.layer != lm.name:
            continue
        if nf.index >= n:
            raise ConfigError(f"layer {lm.name!r} has {n} dropout modules", file=file,
                              field=f"faults.dropout_modules.named[{i}].index", allowed=f"0 … {n - 1}")
        code[nf.index] = _CODE_OF[nf.fault]
        factor[nf.index], delta[nf.index] = (nf.p_factor, nf.delta_p) if nf.fault == "shifted" else (1.0, 0.0)
    return LayerFaults(module_code=code, p_factor=factor, p_delta=delta)


def _cell_faults(spec: FaultsSpec, lm: LayerMap, devices: int, seed: int) -> np.ndarray:
    cf = spec.cells
    u = _rng(seed, _CELLS, lm.index).random((devices, lm.fan_in, lm.columns))
    state = np.zeros(u.shape, np.int8)
    state[u < cf.stuck_lrs + cf.stuck_hrs] = -1
    state[u < cf.stuck_lrs] = 1
    return state


def _converter_offsets(spec: FaultsSpec, lm: LayerMap, columns_per_converter: int, seed: int
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(per-converter offsets in LSB, (G, O) offset of each row group's column in LSB)."""
    cv = spec.converters
    per_array = -(-lm.cols // columns_per_converter)
    lsb = cv.offset_lsb + cv.offset_sigma_lsb * _rng(seed, _CONVERTERS, lm.index).standard_normal(
        (lm.row_blocks, lm.col_blocks, per_array))
    g = np.arange(lm.total_row_groups)
    rb = (g * lm.rows_active) // lm.rows                       # row block of each row group
    j = np.arange(lm.columns)
    cb, conv = j // lm.cols, (j % lm.cols) // columns_per_converter
    return lsb, lsb[rb[:, None], cb[None, :], conv[None, :]]


def sample_chip_faults(spec: FaultsSpec, hw: Hardware, mapping: Mapping, seed: int) -> ChipFaults:
    """Sample the faults ``spec`` describes for one chip instance (``spec.seed`` overrides ``seed``).

    Args:
        spec: the arch's ``faults`` section.
        hw, mapping: the chip and the network's placement on it.
        seed: the run seed (the chip instance).

    Raises:
        ConfigError: a named module does not exist, or module faults on a source without per-module p.
    """
    s = spec.seed if spec.seed is not None else seed
    chip = ChipFaults(seed=s)
    if not spec.any:
        return chip
    file = hw.design.arch_file
    dropped = {lm.name for lm in mapping.layers if lm.dropout}
    mf = spec.dropout_modules
    for i, nf in enumerate(mf.named):
        if nf.layer not in dropped:
            raise ConfigError(f"faults name a module of layer {nf.layer!r}, which has no dropout modules", file=file,
                              field=f"faults.dropout_modules.named[{i}].layer", allowed=", ".join(sorted(dropped)))
    for name in mf.layers or []:
        if name not in dropped:
            raise ConfigError(f"layer {name!r} has no dropout modules", file=file, field="faults.dropout_modules.layers",
                              allowed=", ".join(sorted(dropped)))
    # module faults act on per-module p; a source without them (an LFSR) has nothing to shift or stick
    per_module_p = hw.component("dropout_source").module_probabilities(1, None, None) is not None
    devices = 2 if hw.arch.cell.type == "2T2MTJ" else 1
    cpc = hw.component("column_periphery").columns_per_converter
    step = hw.component("column_periphery").quantizer().step
    storage = storage_flips(spec, hw) if spec.storage.any else None
    for lm in mapping.layers:
        lf = LayerFaults(devices=devices, storage=storage)
        if lm.dropout and mf.any:
            if not per_module_p:
                raise ConfigError("dropout-module faults act on per-module drop probabilities; this dropout source "
                                  "has none (its bits come from a sequence)", file=file, field="faults.dropout_modules",
                                  allowed="a source with per-module p (e.g. spindrop.model: mtj_spindrop)")
            lf = _module_faults(spec, lm, s, file)
        if spec.cells.any:
            lf.device_state = _cell_faults(spec, lm, devices, s)
        if spec.converters.any:
            lf.offset_lsb, g_o = _converter_offsets(spec, lm, cpc, s)
            lf.offset_steps = g_o * step
        chip.layers[lm.name] = lf
    return chip


def storage_flips(spec: FaultsSpec, hw: Hardware) -> StorageFlips:
    """The read-disturb and retention model of ``hw``'s storage MTJs: read currents and pulse from the crossbar,
    temperatures from the operating point (or ``faults.storage.retention_temperature_k``), device variation from
    ``variation`` when enabled; reads = ``reads_per_device`` + ``inferences_since_programming`` × the workload's
    mc_passes (without a workload: ``reads_per_device`` alone)."""
    from cimsim.functional.dropout import variation_sigmas

    xb = hw.component("crossbar")
    st = spec.storage
    t_k = hw.ctx.temperature_k
    wl = hw.design.workload
    passes = wl.mc_passes if wl is not None else 0
    return StorageFlips(device=mtj_params(hw.arch.mtj.storage, hw.arch.mtj.t_ref_k), temperature_k=t_k,
                        retention_temperature_k=st.retention_temperature_k or t_k,
                        read_current_a=(xb.i_lrs_a, xb.i_hrs_a), read_pulse_s=xb.read_pulse_s,
                        reads=st.reads_per_device + st.inferences_since_programming * passes,
                        time_s=st.time_since_programming_s,
                        disturbed_state=st.disturbed_state, sigmas=variation_sigmas(hw.arch.variation))
