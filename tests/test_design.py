"""One fact, one place: the Design's granularity, p and module counts reach hardware, mapping, ledger and
engine unchanged; the engine executes exactly the actions the activity model prices; components are
selectable from YAML by registering one class."""

from __future__ import annotations

import itertools
from typing import Any, ClassVar, Literal

import pytest

from cimsim.activity import TIMED_ACTIONS, expected_counts
from cimsim.components.adc import ColumnPeripheryParams
from cimsim.components.base import Action, Component, model_class, model_names, register, registered
from cimsim.engine.plan import build_plan
from cimsim.engine.simulator import run_engine
from cimsim.errors import ConfigError
from cimsim.hardware import build_hardware
from cimsim.mapping import map_network
from cimsim.resolve import resolve
from cimsim.simulate import Options, simulate
from cimsim.spec.loader import load_arch, load_workload

from .conftest import ARCH, CNN, MLP, ROOT

ARCHS = [ROOT / "arch_configs" / f for f in ("spindrop.yaml", "spindrop_adc.yaml", "lfsr_dropout.yaml")]
SCHEDULES = [[("controller.schedule", "sequential")], [("controller.schedule", "layer_pipelined")],
             [("chip.tiles", 8), ("controller.schedule", "replicated"), ("controller.replicas", 2)]]


@pytest.mark.parametrize(("arch_path", "wl_path", "schedule", "regenerate"),
                         list(itertools.product(ARCHS, [MLP, CNN], SCHEDULES, ["per_pass", "per_input", "per_window"])),
                         ids=lambda v: getattr(v, "stem", None) or (v[0][1] if isinstance(v, list) else str(v)))
def test_engine_executes_exactly_the_priced_counts(arch_path, wl_path, schedule, regenerate):
    design = resolve(load_arch(arch_path, schedule), load_workload(wl_path, [("dropout.regenerate", regenerate)]))
    mapping = map_network(design)
    hw = build_hardware(design, mapping)
    inputs, passes = 3, 4
    engine = run_engine(build_plan(hw, mapping, inputs=inputs, passes=passes))
    priced = expected_counts(hw, mapping, inputs=inputs, passes=passes)
    for lm in mapping.layers:
        for key in TIMED_ACTIONS:
            assert engine.action_counts.get((lm.name, key), 0) == pytest.approx(priced[lm.name].get(key, 0),
                                                                               rel=1e-12), (lm.name, key)


@pytest.mark.parametrize(("arch_gran", "wl_gran"), list(itertools.product(["row", "channel", "layer_scale"],
                                                                          [None, "row", "channel", "layer_scale"])))
def test_granularity_p_and_modules_agree_everywhere(arch_gran, wl_gran):
    arch = load_arch(ARCH, [("spindrop.granularity", arch_gran), ("spindrop.target_p", 0.3)])
    wl = load_workload(CNN, [("dropout.granularity", wl_gran)])
    r = simulate(arch, wl, Options(hardware_only=True, passes=3, timing_inputs=2), base_dir=CNN.parent)
    want = wl_gran or arch_gran
    d = r.to_json()["dropout"]
    assert d["granularity"] == want and r.hardware.design.granularity == want
    assert all(lm.granularity == want for lm in r.mapping.layers)
    assert d["trained_p"] == wl.dropout.p and d["hardware_p"] == 0.3
    assert d["realized_p"] == pytest.approx(0.3, abs=1e-9)
    modules = sum(lm.modules for lm in r.mapping.layers)
    assert r.hardware.instances["dropout_source"].count == modules == d["modules"]
    plan_modules = sum(lay.modules for lay in build_plan(r.hardware, r.mapping, inputs=1, passes=1).layers)
    assert plan_modules == modules
    # the ledger prices exactly the bits the engine generated
    gen = r.ledger.table.query("component == 'dropout_source' and action == 'stochastic_write'")
    engine_bits = sum(v for (lay, key), v in r.engine.action_counts.items() if key == "dropout_source.generate")
    assert gen.iloc[:, 3].sum() / r.inputs * r.timed_inputs == pytest.approx(engine_bits, rel=1e-12)


class _DummyParams(ColumnPeripheryParams):
    model: Literal["dummy_sa"] = "dummy_sa"
    energy_j: float = 1e-15


def test_a_new_component_class_is_usable_from_yaml(tmp_path):
    from cimsim.components.sense_amp import SenseAmp

    class DummySenseAmp(SenseAmp):  # registered explicitly below: no other file changes
        model: ClassVar[str] = "dummy_sa"
        Params = _DummyParams

        @classmethod
        def from_spec(cls, params: Any, build: Any) -> Component:
            comp = super().from_spec(params, build)
            comp.dummy_energy = params.energy_j
            return comp

        def actions(self) -> dict[str, Action]:
            return {"convert": Action(self.dummy_energy, 1e-9)}

    arch_file = tmp_path / "a.yaml"
    arch_file.write_text(ARCH.read_text().replace("model: mlsa", "model: dummy_sa").replace(
        "  levels: 33                     # 2·rows_active + 1 reference levels: exact partial sums\n", "")
        .replace("  full_scale_rows: 16 ", "  energy_j: 2.0e-15\n  full_scale_rows: 16 "))
    with registered(DummySenseAmp):
        arch = load_arch(arch_file)
        assert arch.column_periphery.model == "dummy_sa" and arch.column_periphery.energy_j == 2e-15
        r = simulate(arch, load_workload(MLP), Options(hardware_only=True, passes=2), base_dir=MLP.parent)
        assert r.hardware.component("column_periphery").action("convert").energy_j == 2e-15
        assert r.to_json()["energy_breakdown_j"]["column_periphery"] > 0
    # unregistered on leaving the block (no gc): the name is unknown again, with the allowed models listed
    with pytest.raises(ConfigError, match=r"column_periphery\.model: unknown column_periphery model 'dummy_sa'.*mlsa"):
        load_arch(arch_file)


def test_registration_replaces_and_restores_a_shipped_model():
    from cimsim.components.sense_amp import MultiLevelSenseAmp

    class Stand_in(MultiLevelSenseAmp):
        pass

    with registered(Stand_in):
        assert model_class("column_periphery", "mlsa") is Stand_in
    assert model_class("column_periphery", "mlsa") is MultiLevelSenseAmp
    assert "mlsa" in model_names("column_periphery", selectable=True)


def test_registering_a_model_without_its_contract_fails_where_it_is_defined():
    with pytest.raises(TypeError, match="Broken .*lacks .*column_select.*CrossbarModel"):
        register(type("Broken", (Component,), {"kind": "crossbar", "model": "broken", "area_m2": lambda s: 0.0,
                                               "leakage_w": lambda s: 0.0, "actions": lambda s: {}}))
