"""Layers → weight blocks on arrays, row groups, replication, and which Spindrop module serves which rows.

The functional executor and the timing engine consume the same :class:`Mapping`, so the row groups that
set the partial-sum quantization are the ones the engine times.

Only crossbar layers (linear, conv2d) take arrays; the graph's digital nodes (add, pools, flatten) run in the
tiles' digital periphery. A multi-bit layer (``weight_bits`` b) holds b ±1 slices per output in adjacent column
groups (slice k of output o in column k·outputs + o), added digitally with shifts 2^k after conversion.

Placement: a layer's fan-in × columns matrix (conv: unrolled C_in·k·k rows per output channel) is cut into
``rows × cols`` blocks; blocks take consecutive arrays, layers in order, replicas after one another; array a
sits on tile ``a // arrays_per_tile``.

Dropout modules: a mask has one bit per input row (``row``) or per input channel of a conv layer
(``channel``; broadcast to that channel's k·k rows). Module k serves bits ``k·rows_per_module …
(k+1)·rows_per_module − 1`` one after another. The same bit gates the row in every column block of the layer
(the row's input line is gated once). ``layer_scale`` (Scale-Dropout, arXiv:2311.15816): one module per dropped
layer makes ONE bit per mask, which drops the layer's whole scale vector (its digital output step, not its
rows; docs/models.md "Scale-Dropout"); every row maps to that bit, and ``regenerate: per_window`` is refused
(the scale is dropped once per pass).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from cimsim.chiptree import capacity
from cimsim.errors import MappingError
from cimsim.resolve import Design, LayerShape

#: Facts of a layer's shape a LayerMap reads through from its :class:`~cimsim.resolve.LayerShape` (one record,
#: not a copy: the shape is settled once by resolve and travels with the placement to the executor).
SHAPE_FIELDS = ("name", "index", "kind", "fan_in", "outputs", "mvms", "in_channels", "kernel_area", "first", "last",
                "planes", "dropout", "weight_bits", "out_real", "in_real", "out_elements", "columns")


@dataclass(frozen=True)
class LayerMap:
    """Placement of one layer on one copy of the weights; its shape facts are ``shape``'s (:data:`SHAPE_FIELDS`
    read through: ``lm.fan_in`` is ``lm.shape.fan_in``).

    Attributes:
        shape: the layer's :class:`~cimsim.resolve.LayerShape` (``outputs``: output neurons or channels;
            ``columns``: crossbar columns, outputs × weight_bits; ``weight_bits``: ±1 column slices per output).
        out_bits: activation bits the layer writes per input (after pooling; logits: outputs × accumulator bits).
        row_blocks, col_blocks: blocks of ``rows`` rows and ``cols`` columns.
        rows, cols: the array's size; rows_active: rows per row group.
        array_ids, tile_ids: arrays and tiles of replica 0.
        granularity: ``row``, ``channel`` or ``layer_scale``.
        mask_bits: dropout bits per mask.
        modules: Spindrop modules making them (in parallel).
        generations: bits each module makes per mask (sequentially).
    """

    shape: LayerShape
    out_bits: int
    row_blocks: int
    col_blocks: int
    rows: int
    cols: int
    rows_active: int
    array_ids: tuple[int, ...]
    tile_ids: tuple[int, ...]
    granularity: str
    mask_bits: int
    modules: int
    generations: int

    # shape facts (SHAPE_FIELDS), declared for type checkers; read through from `shape` below
    name: ClassVar[str]
    index: ClassVar[int]
    kind: ClassVar[str]
    fan_in: ClassVar[int]
    outputs: ClassVar[int]
    mvms: ClassVar[int]
    in_channels: ClassVar[int]
    kernel_area: ClassVar[int]
    first: ClassVar[bool]
    last: ClassVar[bool]
    planes: ClassVar[int]
    dropout: ClassVar[bool]
    weight_bits: ClassVar[int]
    out_real: ClassVar[bool]
    in_real: ClassVar[bool]
    out_elements: ClassVar[int]
    columns: ClassVar[int]

    @property
    def arrays(self) -> int:
        return self.row_blocks * self.col_blocks

    @property
    def row_groups(self) -> int:
        """Row-group reads per MVM on the busiest array (a full row block)."""
        return math.ceil(min(self.fan_in, self.rows) / self.rows_active)

    @property
    def total_row_groups(self) -> int:
        """Row groups covering the fan-in once (summed over row blocks)."""
        return math.ceil(self.fan_in / self.rows_active)

    @property
    def conversions(self) -> int:
        """Column conversions per row group on the busiest array."""
        return min(self.columns, self.cols)

    @property
    def reads_per_mvm(self) -> int:
        """Row-group reads per MVM summed over the layer's arrays and input bit planes (row blocks hold
        whole row groups, since rows is a multiple of rows_active)."""
        return self.planes * self.col_blocks * self.total_row_groups

    @property
    def conversions_per_mvm(self) -> int:
        """Column conversions per MVM summed over the layer's arrays and input bit planes."""
        return self.planes * self.total_row_groups * self.columns

    @property
    def utilization(self) -> float:
        """Fraction of the layer's arrays' cells holding a weight."""
        return self.fan_in * self.columns / (self.arrays * self.rows * self.cols)

    def buffer_writes_per_job(self, port_width_bits: int, one_buffer: bool = False) -> int:
        """Buffer port accesses per job on each buffer the outputs go to: each of the layer's tiles holds its
        share of the output neurons (``one_buffer``: the logits, all in the chip buffer), 1 bit each
        (real-valued outputs accumulator-wide), at every output position *after pooling* (a pooled conv
        max-pools its ±1 outputs in the tile's output register before the write: docs/timing.md)."""
        bits_per_output = self.out_bits // self.out_elements
        positions = self.out_elements // self.outputs
        per_buffer = (self.outputs if one_buffer else math.ceil(self.outputs / len(self.tile_ids))) * bits_per_output
        return positions * math.ceil(per_buffer / port_width_bits)

    def bit_of_row(self) -> np.ndarray:
        """Index (0..mask_bits−1) of the dropout bit gating each row."""
        rows = np.arange(self.fan_in)
        if self.granularity == "layer_scale":
            return np.zeros_like(rows)
        if self.kind == "conv2d" and self.granularity == "channel":
            return rows // self.kernel_area
        return rows


@dataclass(frozen=True)
class Mapping:
    """Every layer's placement, for one copy of the weights, and the replication."""

    layers: tuple[LayerMap, ...]
    replicas: int
    arrays_per_replica: int
    tiles_per_replica: int
    chip_arrays: int

    @property
    def arrays_used(self) -> int:
        return self.arrays_per_replica * self.replicas

    @property
    def modules(self) -> int:
        """Dropout modules the mapped network wires, over every copy of the weights."""
        return sum(lm.modules for lm in self.layers) * self.replicas

    @property
    def utilization(self) -> float:
        """Used cells over the cells of the arrays the mapping occupies."""
        used = sum(lm.fan_in * lm.columns for lm in self.layers)
        cells = sum(lm.arrays * lm.rows * lm.cols for lm in self.layers)
        return used / cells

    def layer(self, name: str) -> LayerMap:
        for lm in self.layers:
            if lm.name == name:
                return lm
        raise KeyError(name)


def _modules(ls: LayerShape, gran: str, rows_per_module: int) -> tuple[int, int, int]:
    """(mask bits, modules, generations per module) of one layer."""
    if not ls.dropout:
        return 0, 0, 0
    if gran == "layer_scale":
        return 1, 1, 1
    bits = ls.in_channels if (ls.kind == "conv2d" and gran == "channel") else ls.fan_in
    modules = math.ceil(bits / rows_per_module)
    return bits, modules, math.ceil(bits / modules)


def map_network(design: Design) -> Mapping:
    """Place the design's network on its chip (shapes, granularity and replicas come from the Design; the
    chip's capacity from its tree, :func:`cimsim.chiptree.capacity`).

    Raises:
        MappingError: the network (× replicas) needs more arrays than the chip has.
    """
    arch = design.arch
    xb = arch.crossbar
    cap = capacity(arch)
    reps, gran = design.replicas, design.granularity
    layers: list[LayerMap] = []
    next_array = 0
    for ls in design.layers:
        rb, cb = ls.blocks(xb.rows, xb.cols)
        ids = tuple(range(next_array, next_array + rb * cb))
        next_array += rb * cb
        tiles = tuple(sorted({a // cap.arrays_per_tile for a in ids}))
        bits, modules, gens = _modules(ls, gran, arch.spindrop.rows_per_module)
        out_bits = ls.out_elements * (arch.accumulator.bits if ls.out_real else 1)
        layers.append(LayerMap(shape=ls, out_bits=out_bits, row_blocks=rb, col_blocks=cb, rows=xb.rows, cols=xb.cols,
                               rows_active=xb.rows_active, array_ids=ids, tile_ids=tiles, granularity=gran,
                               mask_bits=bits, modules=modules, generations=gens))
    if gran == "layer_scale" and design.regenerate == "per_window" and any(lm.dropout for lm in layers):
        raise MappingError("Scale-Dropout drops a layer's scale once per pass; per-window masks do not apply",
                           file=design.workload_file, field="dropout.regenerate", allowed="per_input or per_pass")
    per_replica = next_array
    # Each copy starts on a fresh tile so copies never share a tile's buffer ports.
    tiles_per_replica = math.ceil(per_replica / cap.arrays_per_tile)
    if tiles_per_replica * reps > cap.tiles:
        raise MappingError(f"the network needs {per_replica} arrays ({tiles_per_replica} tiles) per copy × {reps} "
                           f"cop{'ies' if reps > 1 else 'y'}; the chip has {cap.tiles} tiles of "
                           f"{cap.arrays_per_tile} arrays", file=design.arch_file, field="chip.tiles",
                           allowed=f">= {tiles_per_replica * reps}, or chip.tiles=auto (the fewest that map)")
    return Mapping(layers=tuple(layers), replicas=reps, arrays_per_replica=per_replica,
                   tiles_per_replica=tiles_per_replica, chip_arrays=cap.arrays)


for _f in SHAPE_FIELDS:
    setattr(LayerMap, _f, property(lambda self, _f=_f: getattr(self.shape, _f), doc=f"``shape.{_f}``"))
