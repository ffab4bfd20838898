"""Array periphery (NVSim formulas): hand calculations at two nodes, NVSim's printed internals, monotonicity,
the write-energy convention, and the memory-mode subarray."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cimsim.components import bitline_periphery as bl
from cimsim.components import mtj
from cimsim.components import periphery_rc as rc
from cimsim.components import row_periphery as row
from cimsim.components.base import Context, model_class
from cimsim.components.periphery_tech import device_params
from cimsim.components.spindrop import MTJSpindrop
from cimsim.components.subarray import SubarrayParams, memory_mode
from cimsim.hardware import mtj_params
from cimsim.spec.arch import MTJSpec

NODES = (45, 22)
VDD = {45: 1.0, 22: 0.9}
# NVSim 6334d00 internals printed for sample_STTRAM.cell, 256×128, 300 K (docs/validation.md):
# C_WL F, R_WL Ω, C_BL F, R_BL Ω, row-decoder (= word-line driver) energy J, SA energy per column J, SA latency s.
NVSIM = {45: (7.698e-14, 515.664, 3.727e-14, 556.917, 1.079e-13, 13.292e-12 / 128, 8.048e-10),
         22: (2.905e-14, 1887.479, 1.757e-14, 2038.478, 3.189e-14, 19.251e-12 / 128, 1.454e-9)}


def ctx(node: int) -> Context:
    return Context(node_nm=node, vdd_v=VDD[node], temperature_k=300.0)


def nvsim_lines(node: int) -> rc.ArrayLines:
    f = node * 1e-9
    return rc.ArrayLines(ctx(node), rows=256, cols=128, cell_width_m=10 * f, cell_height_m=5.4 * f,
                         access_width_m=8 * device_params(node).feature_m, cell_r_max_ohm=8e3)


@pytest.mark.parametrize("node", NODES)
def test_lines_hand_calculation_and_nvsim(node):
    d = device_params(node)
    lines = nvsim_lines(node)
    f = node * 1e-9
    w_acc = 8 * d.feature_m
    c_wl = d.wire_c_f_per_m * 128 * 10 * f + 128 * d.c_gate_f_per_m * w_acc
    ld = 2.5 * d.feature_m
    c_drain = d.c_junction_f_per_m2 * w_acc * ld + d.c_sidewall_f_per_m * (w_acc + 2 * ld) \
        + d.c_drain_channel_f_per_m * w_acc
    c_bl = d.wire_c_f_per_m * 256 * 5.4 * f + 128 * c_drain
    r_bl = d.wire_r_ohm_per_m * 256 * 5.4 * f
    assert lines.wordline_cap_f == pytest.approx(c_wl, rel=1e-12)
    assert lines.bitline_cap_f == pytest.approx(c_bl, rel=1e-12)
    assert lines.action("wordline_rc").latency_s == pytest.approx(0.38 * d.wire_r_ohm_per_m * 1280 * f * c_wl)
    tau = r_bl * c_bl / 2 * (8e3 + r_bl / 3) / (8e3 + r_bl)
    assert lines.action("bitline_rc").latency_s == pytest.approx(math.log(2) * tau)
    # NVSim's own numbers for the same geometry (both use the drawn node as F)
    c_wl_nv, r_wl_nv, c_bl_nv, r_bl_nv = NVSIM[node][:4]
    assert lines.wordline_cap_f == pytest.approx(c_wl_nv, rel=0.01)
    assert lines.wordline_res_ohm == pytest.approx(r_wl_nv, rel=0.01)
    assert lines.bitline_cap_f == pytest.approx(c_bl_nv, rel=0.01)
    assert lines.bitline_res_ohm == pytest.approx(r_bl_nv, rel=0.01)


@pytest.mark.parametrize("node", NODES)
def test_wordline_driver_chain_hand_calculation(node):
    d = device_params(node)
    c_load = nvsim_lines(node).wordline_cap_f
    drv = row.WordlineDriver(ctx(node), wordline_cap_f=c_load, rows_active=16)
    w0 = 1.5 * d.feature_m
    c_in = d.c_gate_f_per_m * w0 * (1 + d.pn_ratio)
    n = max(1, round(math.log(c_load / c_in) / math.log(4)))
    f = (c_load / c_in) ** (1 / n)
    widths = [w0 * f ** i for i in range(n)]
    if widths[-1] > 100 * node * 1e-9:  # NVSim's MaxNmosSize: last stage 100 F, the others re-spread
        widths = [w0 * (100 * node * 1e-9 / w0) ** (i / (n - 1)) for i in range(n)]
    assert drv.chain.widths_n_m == pytest.approx(widths)
    sw = sum((c_load if i == n - 1 else d.inverter_input_cap_f(widths[i + 1])) + d.inverter_output_cap_f(w)
             for i, w in enumerate(widths))
    e = drv.action("drive_row").energy_j
    assert e == pytest.approx(sw * VDD[node] ** 2, rel=1e-12)
    assert drv.action("drive_group").energy_j == pytest.approx(16 * e)
    assert drv.action("drive_group").latency_s == drv.action("drive_row").latency_s
    assert e == pytest.approx(NVSIM[node][4], rel=0.06)  # NVSim "Row Decoder Dynamic Energy"


@pytest.mark.parametrize("node", NODES)
def test_current_sense_amp_hand_calculation_and_nvsim(node):
    sa = bl.CurrentSenseAmp(ctx(node), levels=2, sample_rate_hz=1e9, column_resistance_ohm=5e3,
                            read_voltage_v=0.25)
    d = device_params(node)
    f = d.feature_m
    c = (d.gate_cap_f((7.5 + 3.75) * f) + d.drain_cap_f(3.75 * f) + d.drain_cap_f(7.5 * f)
         + d.drain_cap_f(12.5 * f) + d.drain_cap_f(9 * f))
    e_iv, t_iv = {45: (10.26e-14, 0.80e-9), 22: (15e-14, 1.45e-9)}[node]
    gm = (d.i_on_n_a_per_m * 3.75 * f + d.i_on_p_a_per_m * 7.5 * f) / (VDD[node] / 2)
    a = sa.action("convert")
    assert a.energy_j == pytest.approx(e_iv + c * VDD[node] ** 2, rel=1e-12)
    assert a.latency_s == pytest.approx(t_iv + c / gm * math.log(VDD[node] / 0.025), rel=1e-12)
    assert sa.area_m2() > 50000 * f * f
    assert a.energy_j == pytest.approx(NVSIM[node][5], rel=0.02)
    assert a.latency_s == pytest.approx(NVSIM[node][6], rel=0.01)
    assert model_class("column_periphery", "nvsim_current_sa") is bl.CurrentSenseAmp
    with pytest.raises(ValueError, match="levels == 2"):
        bl.CurrentSenseAmp(ctx(node), levels=4, sample_rate_hz=1e9, column_resistance_ohm=5e3, read_voltage_v=0.25)


@pytest.mark.parametrize("node", NODES)
def test_precharge_mux_writedriver_hand_calculation(node):
    d, c, vdd = device_params(node), ctx(node), VDD[node]
    f = d.feature_m
    pre = bl.BitlinePrecharge(c, bitline_cap_f=30e-15, bitline_res_ohm=1e3, clamp_voltage_v=0.25)
    c_en = d.gate_cap_f(1.5 * f) + 2 * d.gate_cap_f(6 * f) + d.inverter_output_cap_f(1.5 * f)
    assert pre.action("precharge").energy_j == pytest.approx(c_en * vdd ** 2 + 30e-15 * 0.25 * vdd, rel=1e-12)

    mux = bl.ColumnMux(c, ways=8, max_current_a=80e-6, load_cap_f=2e-15, swing_v=0.25)
    w = 80e-6 / d.i_on_n_a_per_m
    assert mux.pass_width_m == pytest.approx(max(w, 1.5 * f))
    e = d.gate_cap_f(mux.pass_width_m) * vdd ** 2 + 8 * d.drain_cap_f(mux.pass_width_m) * 0.25 * vdd
    assert mux.action("select").energy_j == pytest.approx(e, rel=1e-12)
    assert mux.area_m2() == pytest.approx(8 * d.transistor_area_m2(mux.pass_width_m))
    with pytest.raises(ValueError, match="ways >= 2"):
        bl.ColumnMux(c, ways=1, max_current_a=80e-6, load_cap_f=2e-15, swing_v=0.25)

    wd = bl.WriteDriver(c, write_current_a=80e-6, write_pulse_s=10e-9, path_resistance_ohm=8e3,
                        bitline_cap_f=30e-15)
    assert wd.supply_v == vdd  # 80 µA × 8 kΩ = 0.64 V fits under Vdd
    pulse = vdd * 80e-6 * 10e-9
    assert wd.action("pulse").energy_j == pytest.approx(pulse, rel=1e-15)
    gates = 2 * d.gate_cap_f(wd.width_n_m + wd.width_p_m) * vdd ** 2
    assert wd.action("write_bit").energy_j == pytest.approx(pulse + 30e-15 * vdd ** 2 + gates, rel=1e-12)
    boosted = bl.WriteDriver(c, write_current_a=80e-6, write_pulse_s=10e-9, path_resistance_ohm=15e3,
                             bitline_cap_f=30e-15)
    assert boosted.supply_v == pytest.approx(1.2)  # I·R above Vdd: the write rail follows it
    with pytest.raises(ValueError, match="cannot drive"):
        bl.WriteDriver(c, write_current_a=80e-6, write_pulse_s=10e-9, path_resistance_ohm=15e3,
                       bitline_cap_f=30e-15, supply_v=1.0)


@pytest.mark.parametrize("node", NODES)
def test_row_decoder_small_hand_calculation(node):
    """outputs = 4: one 2-bit predecode block whose lines drive the loads directly (NVSim: ≤ 8 rows)."""
    d, c = device_params(node), ctx(node)
    dec = row.RowDecoder(c, outputs=4, height_m=10e-6, load_cap_f=5e-15)
    assert dec.address_bits == 2 and dec.blocks == (2,) and not dec.final_nand
    wmin = d.min_width_m
    wn, wp = 2 * wmin, d.pn_ratio * wmin
    line = d.wire_c_f_per_m * 10e-6 + 5e-15
    chain = rc.InverterChain.sized_for(d, line)
    c_nand_out = d.drain_cap_f(wn) + 2 * d.drain_cap_f(wp) + chain.input_cap_f
    c_addr = 2 * d.gate_cap_f(wn + wp) + d.inverter_output_cap_f(wmin)
    e = (0.5 * 2 * c_addr + c_nand_out + chain.switched_cap_f) * VDD[node] ** 2
    assert dec.action("decode").energy_j == pytest.approx(e, rel=1e-12)


def test_decoder_cost_grows_with_log2_rows():
    c = ctx(45)
    prev_e = prev_t = prev_a = 0.0
    for k in range(2, 12):
        dec = row.RowDecoder(c, outputs=2 ** k, height_m=2 ** k * 0.4e-6, load_cap_f=2e-15)
        assert dec.address_bits == k
        a = dec.action("decode")
        assert a.energy_j > prev_e and a.latency_s > prev_t and dec.area_m2() > prev_a
        prev_e, prev_t, prev_a = a.energy_j, a.latency_s, dec.area_m2()
    # address-bit term alone: same lines (fixed height, load), more address bits cost more
    e = [row.RowDecoder(c, outputs=n, height_m=50e-6, load_cap_f=2e-15).action("decode").energy_j
         for n in (16, 64, 256)]
    assert e[0] < e[1] < e[2]


def _params(rows: int, cols: int, word_bits: int | None = None) -> SubarrayParams:
    return SubarrayParams(rows=rows, cols=cols, word_bits=word_bits or cols, cell_area_f2=54, r_on_ohm=3e3,
                          r_off_ohm=6e3, r_access_ohm=2.3e3, read_voltage_v=0.25, write_current_a=80e-6,
                          write_pulse_s=10e-9)


def test_subarray_energy_area_rise_with_rows_and_cols():
    c = ctx(45)
    base = memory_mode(c, _params(128, 128))
    for bigger in (memory_mode(c, _params(256, 128)), memory_mode(c, _params(128, 256, 128))):
        assert bigger.area_m2 > base.area_m2
        assert bigger.read_energy_j > base.read_energy_j
        assert bigger.write_energy_j > base.write_energy_j
        assert bigger.read_latency_s > base.read_latency_s
    # a column mux (256 cols, 128-bit word) appears only when cols > word_bits
    assert "column_mux" in memory_mode(c, _params(128, 256, 128)).area_breakdown_m2
    assert "column_mux" not in base.area_breakdown_m2
    with pytest.raises(ValueError, match="divide"):
        memory_mode(c, _params(128, 128, 48))


def test_longer_lines_raise_read_cycles():
    """A resistive wire makes the bit-line RC dominate the read and costs whole extra clock cycles."""
    c = Context(node_nm=45, vdd_v=1.0, clock_hz=2e9)
    fast = memory_mode(c, _params(256, 128))
    slow = memory_mode(c, SubarrayParams(**{**_params(256, 128).__dict__, "wire_res_ohm_per_m": 1e9}))
    assert slow.latency_breakdown_s["bitline_rc"] > 10 * fast.latency_breakdown_s["bitline_rc"]
    cyc = [math.ceil(m.read_latency_s * c.clock_hz) for m in (fast, slow)]
    assert cyc[1] > cyc[0]


def test_write_energy_identical_through_every_writer():
    """Same MTJ, same current and pulse, same supply → the same pulse energy V·I·t everywhere."""
    c = Context(node_nm=28, vdd_v=0.9)
    i, t = 60e-6, 10e-9
    ref = bl.write_pulse_energy_j(0.9, i, t)
    assert ref == pytest.approx(0.9 * i * t, rel=1e-15)
    dev = mtj_params(MTJSpec(delta_ref=40.0, ic0_ref_a=33.3e-6), 300.0)
    wd = bl.WriteDriver(c, write_current_a=i, write_pulse_s=t,
                        path_resistance_ohm=float(mtj.r_ap_ohm(dev, 0.1)) + 3.7e3, bitline_cap_f=20e-15)
    sd = MTJSpindrop(c, device=dev, target_p=None, write_current_a=i, write_pulse_s=t, reset_current_a=100e-6,
                     reset_pulse_s=t, reset_policy="always", read_voltage_v=0.1, read_pulse_s=1e-9)
    assert wd.action("pulse").energy_j == pytest.approx(ref, rel=1e-15)
    assert sd.action("stochastic_write").energy_j == pytest.approx(ref, rel=1e-15)
    assert sd.action("reset").energy_j == pytest.approx(bl.write_pulse_energy_j(0.9, 100e-6, t), rel=1e-15)
    with pytest.raises(ValueError):
        bl.write_pulse_energy_j(0.9, -1e-6, t)


def test_node_range_and_periphery_positive():
    for node in (7, 14, 28, 65, 90, 130):
        c = Context(node_nm=node, vdd_v=0.9)
        m = memory_mode(c, _params(128, 64, 32))
        assert m.read_energy_j > 0 and m.write_energy_j > 0 and m.area_m2 > 0 and m.leakage_w > 0
    # smaller node → smaller area (one technology model)
    assert memory_mode(ctx(22), _params(256, 128)).area_m2 < memory_mode(ctx(45), _params(256, 128)).area_m2


# ---------------------------------------------------------------- issue 19: NVSim grid, driver cap, describe --subarray

def test_every_stored_nvsim_ratio_within_half_to_double():
    """Issue 19: 6 sizes (64×64 … 1024×256) × 22–90 nm × HP/LSTP against the stored NVSim 6334d00 runs."""
    from cimsim.validation import nvsim

    points = nvsim.grid_points()
    assert len(points) == 60
    assert {(p.rows, p.cols) for p in points} == {(64, 64), (128, 128), (256, 128), (256, 256), (512, 512),
                                                  (1024, 256)}
    assert {p.node_nm for p in points} == {22, 32, 45, 65, 90} and {p.roadmap for p in points} == {"hp", "lstp"}
    bad = [(p.label, k, round(p.ratio(k), 3)) for p in points for k in nvsim.QUANTITIES
           if not 0.5 <= p.ratio(k) <= 2.0]
    assert not bad


def test_wordline_driver_last_stage_capped_at_100_f():
    """A 1024-column word line at 32 nm asks for a last stage wider than NVSim's MaxNmosSize (100 F)."""
    d = device_params(32.0)
    long_wl = 1024 * 300e-15 / 128   # ~2.4 pF: far beyond what a 100 F stage drives at effort 4
    c32 = Context(node_nm=32, vdd_v=0.9, temperature_k=300.0)
    drv = row.WordlineDriver(c32, wordline_cap_f=long_wl)
    assert drv.chain.widths_n_m[-1] == pytest.approx(100 * 32e-9, rel=1e-12)
    assert drv.chain.widths_n_m[0] == pytest.approx(d.min_width_m, rel=1e-12)
    ratios = np.diff(np.log(drv.chain.widths_n_m))
    assert np.allclose(ratios, ratios[0])   # re-spread geometrically below the cap
    small = row.WordlineDriver(c32, wordline_cap_f=20e-15)
    assert small.chain.widths_n_m[-1] < 100 * 32e-9


def test_nvsim_subarray_honours_the_periphery_roadmap():
    from cimsim.components.subarray import memory_mode
    from cimsim.validation import nvsim

    hp = memory_mode(*nvsim.subarray_from_arch(nvsim.nvsim_arch(45, "hp")))
    lstp = memory_mode(*nvsim.subarray_from_arch(nvsim.nvsim_arch(45, "lstp")))
    assert lstp.leakage_w < hp.leakage_w / 10   # LSTP devices leak orders of magnitude less
    assert nvsim.nvsim_run(45, "lstp")["leakage_w"] < nvsim.nvsim_run(45, "hp")["leakage_w"] / 10


def test_periphery_layout_uses_the_nominal_feature_size():
    for node in (22.0, 28.0, 65.0, 90.0):
        assert device_params(node).feature_m == pytest.approx(node * 1e-9, rel=1e-15)


def test_describe_subarray_cli(tmp_path):
    import json
    import subprocess
    import sys

    from cimsim.components.subarray import memory_mode
    from cimsim.validation import nvsim

    sets = [a for k, v in nvsim.overrides(45) for a in ("--set", f"{k}={v}")]
    out = subprocess.run([sys.executable, "-m", "cimsim", "describe", "--subarray", *sets, "--format", "json"],
                         check=True, capture_output=True, text=True).stdout
    doc = json.loads(out)
    ref = memory_mode(*nvsim.subarray_from_arch(nvsim.nvsim_arch(45)))
    assert doc["subarray"] == {"rows": 256, "cols": 128, "word_bits": 128, "node_nm": 45.0, "vdd_v": 1.0,
                               "periphery_devices": "hp"}
    assert doc["read_energy_j"] == pytest.approx(ref.read_energy_j, rel=1e-12)
    assert doc["read_energy_j"] / nvsim.nvsim_run(45)["read_energy_j"] == pytest.approx(0.85, abs=0.01)
    text = subprocess.run([sys.executable, "-m", "cimsim", "describe", "--subarray"], check=True,
                          capture_output=True, text=True).stdout
    assert "memory-mode subarray" in text and "read energy" in text and "leakage" in text
