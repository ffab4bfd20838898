"""What each component kind promises the rest of the simulator: one ``typing.Protocol`` per kind.

The registry (:func:`cimsim.components.base.register`) checks a model's methods against its kind's contract
when the class is registered, and the chip (:func:`cimsim.hardware.build_hardware`) checks every built
instance (data attributes included), so a model missing a member fails where it is defined or built, with
the member named, never later in the ledger or the executor.

Events: what happens on an array, in the units :mod:`cimsim.activity` counts. A component lists in
``TRIGGERS`` the events that fire one of its actions (event → action name); the chip tree maps each event to
the ``"instance.action"`` keys of every instance that listens (:meth:`cimsim.hardware.Hardware.event_keys`),
so an array model brings its own periphery (decoders, drivers, muxes, sense amps) with no name list elsewhere.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

#: One row-group read of one array (decode, word lines up, bit lines clamped, sense window).
ROW_GROUP_READ = "row_group_read"
#: One column converted once (precharge/clamp of that column, mux select, conversion, accumulation).
CONVERSION = "conversion"
#: One word line driven for one array (a row driven in a layer with c column blocks counts c).
DRIVEN_ROW = "driven_row"
#: One driven cell conducting through its low / high resistance state for one read pulse.
LRS_CELL = "lrs_cell"
HRS_CELL = "hrs_cell"
EVENTS = (ROW_GROUP_READ, CONVERSION, DRIVEN_ROW, LRS_CELL, HRS_CELL)


@runtime_checkable
class CrossbarModel(Protocol):
    """``kind = "crossbar"``: one array of weight cells and the periphery it is built with (its ``parts``)."""

    rows: int
    cols: int
    rows_active: int
    physical_cols: int
    read_voltage_v: float
    i_lrs_a: float
    i_hrs_a: float
    #: ``ideal`` (partial sums read exactly) or ``electrical`` (per-level read error from the array's circuit,
    #: docs/analog.md); the functional run asks the array which.
    read_model: str
    READ_ROW_GROUP: ClassVar[str]

    def conductance_sigma_rel(self, ra_sigma_rel: float) -> float: ...
    def column_select(self, ways: int, max_current_a: float) -> Any: ...
    def replica_read_energy_j(self) -> float: ...
    def column_area_m2(self) -> float: ...
    def parts(self) -> dict[str, tuple[Any, int]]: ...


@runtime_checkable
class ElectricalArray(Protocol):
    """An array model that also has a DC read circuit (docs/analog.md): ``cimsim margin``, ``describe``'s
    sense-margin lines and ``read_model: electrical`` need it; an array without one reads ideally."""

    electrical: Any

    def circuit(self, temperature_k: float | None = None) -> Any: ...


@runtime_checkable
class ColumnConverter(Protocol):
    """``kind = "column_periphery"``: digitises one column per conversion; calibrated for an array by
    :meth:`calibrated` (full scale, references, tracking replica, mux) before it gives a quantizer."""

    levels: int
    bits: int
    columns_per_converter: int
    CONVERT: ClassVar[str]

    def calibrated(self, array: Any, params: Any, max_current_a: float) -> Any: ...
    def quantizer(self) -> Any: ...


@runtime_checkable
class DropoutSourceModel(Protocol):
    """``kind = "dropout_source"``: makes the dropout bits (p, bits, the actions one mask costs)."""

    modules_per_array: int
    GENERATE: ClassVar[str]

    @property
    def p_realized(self) -> float: ...
    def sample_drops(self, stream: Any, ids: Any, modules: int, generations: int, p_modules: Any) -> Any: ...
    def module_probabilities(self, n: int, rng: Any, sigmas: Any) -> Any: ...
    def mask_action_counts(self, generated: float, dropped: float) -> dict[str, float]: ...
    def endurance(self) -> tuple[float, float] | None: ...
    def operating_point(self) -> dict[str, float | str]: ...


@runtime_checkable
class BufferModel(Protocol):
    """``kind = "buffer"``: an on-chip memory read and written through ``ports`` ports."""

    port_width_bits: int
    ports: int
    READ: ClassVar[str]
    WRITE: ClassVar[str]


@runtime_checkable
class InterconnectModel(Protocol):
    """``kind = "interconnect"``: moves ``width_bits`` per transfer on each of ``channels`` channels."""

    width_bits: int
    channels: int
    TRANSFER: ClassVar[str]


@runtime_checkable
class ControllerModel(Protocol):
    """``kind = "controller"``: dispatches jobs (one ``issue`` each)."""

    ISSUE: ClassVar[str]


#: kind → its contract (kinds not listed, e.g. the array's parts, need only the Component base).
CONTRACTS: dict[str, type] = {"crossbar": CrossbarModel, "column_periphery": ColumnConverter,
                              "dropout_source": DropoutSourceModel, "buffer": BufferModel,
                              "interconnect": InterconnectModel, "controller": ControllerModel}


def _members(proto: type) -> tuple[list[str], list[str]]:
    """(methods and class constants, instance data attributes) a Protocol declares."""
    ann = [n for n in getattr(proto, "__annotations__", {}) if not n.startswith("_")]
    consts = [n for n in ann if n.isupper()]
    data = [n for n in ann if not n.isupper()]
    methods = [n for n, v in vars(proto).items() if not n.startswith("_") and (callable(v) or isinstance(v, property))]
    return methods + consts, data


def check_contract(cls: type) -> None:
    """Raise TypeError naming the members of its kind's contract that ``cls`` lacks (class level: methods,
    properties and action-name constants)."""
    proto = CONTRACTS.get(getattr(cls, "kind", ""))
    if proto is None:
        return
    methods, _ = _members(proto)
    missing = [m for m in methods if not hasattr(cls, m)]
    if missing:
        raise TypeError(f"{cls.__name__} ({cls.kind} model {cls.model!r}) lacks {', '.join(missing)} of the "
                        f"{proto.__name__} contract (cimsim.components.contracts)")


def missing_members(obj: Any) -> list[str]:
    """Members of its kind's contract a built instance lacks (data attributes included)."""
    proto = CONTRACTS.get(getattr(obj, "kind", ""))
    if proto is None:
        return []
    methods, data = _members(proto)
    return [m for m in methods + data if not hasattr(obj, m)]
