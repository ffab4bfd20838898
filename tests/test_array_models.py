"""Cell, crossbar, Spindrop module, hardware roll-up and mapping."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cimsim.components import mtj_switching
from cimsim.components.base import Context, model_class
from cimsim.components.cell import CellGeometry
from cimsim.components.crossbar import Crossbar
from cimsim.errors import MappingError
from cimsim.hardware import build_hardware, mtj_params
from cimsim.mapping import map_network
from cimsim.resolve import resolve
from cimsim.spec.loader import load_arch, load_workload

from .conftest import ARCH, CNN, MLP
from .helpers import module_of_row


def _xbar(node=28.0, cell="2T2MTJ", rows=128, cols=128, vdd=0.9):
    ctx = Context(node_nm=node, vdd_v=vdd)
    return Crossbar(ctx, rows=rows, cols=cols, rows_active=16, cell=CellGeometry(cell, 54.0, node),
                    r_lrs_ohm=8e3, r_hrs_ohm=12e3, read_voltage_v=0.1, read_pulse_s=1e-9, wire_cap_f_per_m=2e-10,
                    write_current_a=80e-6, write_pulse_s=10e-9, r_access_ohm=3.7e3)


def test_cell_and_array_area_scale_with_f_squared():
    a28, a56 = _xbar(28).area_m2(), _xbar(56).area_m2()
    assert a56 / a28 == pytest.approx(4.0, rel=1e-12)
    assert a28 == pytest.approx(128 * 128 * 2 * 54 * (28e-9) ** 2, rel=1e-12)
    # 1T-1MTJ: half the devices per weight plus one reference column
    one = _xbar(cell="1T1MTJ")
    assert one.area_m2() == pytest.approx(a28 / 2 * 129 / 128, rel=1e-12)


def test_crossbar_read_energy_closed_forms():
    x = _xbar()
    a = x.actions()
    assert a["conduct_lrs"].energy_j == pytest.approx(0.1 ** 2 / 8e3 * 1e-9, rel=1e-12)   # V²/R·t
    assert a["conduct_hrs"].energy_j == pytest.approx(0.1 ** 2 / 12e3 * 1e-9, rel=1e-12)
    per = x.periphery
    drive = per.wordline.action("drive_row").energy_j
    pitch = math.sqrt(2 * 54) * 28e-9
    assert drive > 2e-10 * 128 * pitch * 0.9 ** 2   # the driver swings the word-line wire (and more) at Vdd
    typical = (per.decoder.action("decode").energy_j + 16 * drive + 128 * per.precharge.action("precharge").energy_j
               + 16 * 128 * 0.5 * (a["conduct_lrs"].energy_j + a["conduct_hrs"].energy_j))
    assert a["read_row_group"].energy_j == pytest.approx(typical, rel=1e-12)
    assert a["read_row_group"].composite  # the ledger prices its parts
    # word-line energy grows with the line length (columns) and exactly with Vdd²
    assert _xbar(cols=256).periphery.wordline.action("drive_row").energy_j > 1.5 * drive
    assert _xbar(vdd=1.8).periphery.wordline.action("drive_row").energy_j == pytest.approx(4 * drive, rel=1e-12)
    # the read cycle is the access setup (decode, drive, RC) plus the 1 ns sense window; longer lines set up slower
    assert a["read_row_group"].latency_s == pytest.approx(1e-9 + per.access_delay_s(), rel=1e-12)
    assert _xbar(rows=1024).actions()["read_row_group"].latency_s > a["read_row_group"].latency_s


def test_spindrop_module_realizes_its_target_p_and_costs_follow_the_mtj_model():
    arch = load_arch(ARCH)
    for p in (0.1, 0.2, 0.5):
        src = build_hardware(resolve(load_arch(ARCH, [("spindrop.target_p", p)]))).component("dropout_source")
        assert src.p_nominal == pytest.approx(p, abs=1e-9)
    src = build_hardware(resolve(arch)).component("dropout_source")  # described at the default p = 0.2
    act = src.actions()
    assert act["reset"].energy_j == pytest.approx(0.9 * 100e-6 * 10e-9, rel=1e-12)    # Vdd·I·t
    assert act["stochastic_write"].energy_j == pytest.approx(0.9 * src.write_current_a * 10e-9, rel=1e-12)
    assert act["generate"].latency_s == pytest.approx(sum(act[k].latency_s for k in ("reset", "stochastic_write",
                                                                                        "read")))
    assert act["generate"].energy_j == pytest.approx(act["stochastic_write"].energy_j + act["read"].energy_j
                                                     + 0.2 * act["reset"].energy_j, rel=1e-9)
    # a hotter chip with the current tuned at 300 K drops more often (Δ and I_c0 fall with T)
    dev = mtj_params(arch.mtj.dropout, arch.mtj.t_ref_k)
    hot = float(mtj_switching.p_switch(dev, src.write_current_a, src.write_pulse_s, 350.0))
    assert hot > 0.2


def test_lfsr_dropout_source_from_registry():
    src = model_class("dropout_source", "lfsr")(Context(), lfsr_bits=16, comparator_bits=8)
    bits = src.sample_bits(0.25, 64, 2000, 7)
    assert bits.shape == (2000, 64)
    n = bits.size
    assert abs(bits.mean() - src.quantized_p(0.25)) < 5 * math.sqrt(0.25 * 0.75 / n)


def test_mapping_blocks_groups_and_modules():
    arch = load_arch(ARCH)
    mp = map_network(resolve(arch, load_workload(MLP)))
    fc1, fc2, fc3 = mp.layers
    assert (fc1.row_blocks, fc1.col_blocks, fc1.total_row_groups, fc1.planes) == (1, 2, 4, 4)
    assert (fc2.row_blocks, fc2.col_blocks, fc2.total_row_groups) == (2, 2, 16)
    assert (fc3.row_blocks, fc3.col_blocks, fc3.conversions) == (2, 1, 10)
    assert mp.arrays_per_replica == 8 and fc2.array_ids == (2, 3, 4, 5) and fc2.tile_ids == (0, 1)
    assert fc2.modules == 256 and fc2.generations == 1 and not fc1.dropout
    assert fc1.utilization == pytest.approx(64 * 256 / (2 * 128 * 128))
    cnn = map_network(resolve(arch, load_workload(CNN)))
    conv2 = cnn.layer("conv2")
    assert conv2.granularity == "channel" and conv2.mask_bits == conv2.in_channels
    np.testing.assert_array_equal(conv2.bit_of_row()[:18], np.repeat([0, 1], 9))
    assert conv2.mvms == 16


def test_rows_per_module_time_multiplexes_modules():
    arch = load_arch(ARCH, [("spindrop.rows_per_module", 4)])
    fc2 = map_network(resolve(arch, load_workload(MLP))).layer("fc2")
    assert (fc2.modules, fc2.generations) == (64, 4)
    np.testing.assert_array_equal(module_of_row(fc2)[:8], [0, 0, 0, 0, 1, 1, 1, 1])
    scale = map_network(resolve(load_arch(ARCH, [("spindrop.granularity", "layer_scale")]),
                                load_workload(MLP, [("dropout.granularity", None)]))).layer("fc2")
    assert (scale.modules, scale.generations, scale.mask_bits) == (1, 1, 1)  # Scale-Dropout: one bit per layer


def test_replicas_start_on_fresh_tiles_and_overflow_is_an_error():
    arch = load_arch(ARCH, [("chip.tiles", 8), ("controller.schedule", "replicated"), ("controller.replicas", 2)])
    mp = map_network(resolve(arch, load_workload(MLP)))
    assert mp.replicas == 2 and mp.tiles_per_replica == 2 and mp.arrays_used == 16
    with pytest.raises(MappingError, match="chip.tiles"):
        map_network(resolve(load_arch(ARCH, [("controller.schedule", "replicated"), ("controller.replicas", 3)]),
                            load_workload(MLP)))
