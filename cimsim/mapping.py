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

import numpy as np

from cimsim.errors import MappingError
from cimsim.resolve import Design


@dataclass(frozen=True)
class LayerMap:
    """Placement of one layer on one copy of the weights.

    Attributes:
        name: layer name.
        index: position in the network.
        kind: ``linear`` or ``conv2d``.
        fan_in: crossbar rows the layer uses (conv: C_in·k·k).
        outputs: crossbar columns it uses: output neurons (channels) × weight_bits.
        mvms: matrix-vector products per input (conv: output positions before pooling; linear: 1).
        in_channels: input channels (linear: fan_in).
        kernel_area: k·k (linear: 1).
        out_bits: activation bits the layer writes per input (after pooling; logits: outputs × accumulator bits).
        row_blocks, col_blocks: blocks of ``rows`` rows and ``cols`` columns.
        rows_active: rows per row group.
        array_ids, tile_ids: arrays and tiles of replica 0.
        dropout: whether the layer's input rows are gated.
        granularity: ``row``, ``channel`` or ``layer_scale``.
        mask_bits: dropout bits per mask.
        modules: Spindrop modules making them (in parallel).
        generations: bits each module makes per mask (sequentially).
        first: whether this is the bit-serial multi-bit first layer.
        planes: input bit planes streamed per MVM (input_bits for the first layer, else 1).
        last: whether this layer produces the logits.
        weight_bits: ±1 column slices per output (1: binary weights; b: b slices, digital shift-add).
        out_real: the layer's outputs are multi-bit (logits or a real-valued Bi-Real branch).
        out_elements: output elements per input (after pooling); out_bits / out_elements bits each.
        in_real: the layer reads a real-valued tensor (an add or a pool) and binarizes it (sign) on the way in.
    """

    name: str
    index: int
    kind: str
    fan_in: int
    outputs: int
    mvms: int
    in_channels: int
    kernel_area: int
    out_bits: int
    row_blocks: int
    col_blocks: int
    rows: int
    cols: int
    rows_active: int
    array_ids: tuple[int, ...]
    tile_ids: tuple[int, ...]
    dropout: bool
    granularity: str
    mask_bits: int
    modules: int
    generations: int
    first: bool
    last: bool
    planes: int = 1
    weight_bits: int = 1
    out_real: bool = False
    out_elements: int = 1
    in_real: bool = False

    @property
    def neurons(self) -> int:
        """Output neurons (conv: channels): the columns over the weight slices."""
        return self.outputs // self.weight_bits

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
        return min(self.outputs, self.cols)

    @property
    def reads_per_mvm(self) -> int:
        """Row-group reads per MVM summed over the layer's arrays and input bit planes (row blocks hold
        whole row groups, since rows is a multiple of rows_active)."""
        return self.planes * self.col_blocks * self.total_row_groups

    @property
    def conversions_per_mvm(self) -> int:
        """Column conversions per MVM summed over the layer's arrays and input bit planes."""
        return self.planes * self.total_row_groups * self.outputs

    @property
    def utilization(self) -> float:
        """Fraction of the layer's arrays' cells holding a weight."""
        return self.fan_in * self.outputs / (self.arrays * self.rows * self.cols)

    def buffer_writes_per_mvm(self, port_width_bits: int) -> int:
        """Buffer accesses per MVM on each of the layer's tiles (its share of the output neurons, 1 bit each;
        real-valued outputs (logits, Bi-Real branches) accumulator-wide)."""
        bits_per_output = self.out_bits // self.out_elements
        per_tile = math.ceil(self.neurons / len(self.tile_ids)) * bits_per_output
        return math.ceil(per_tile / port_width_bits)

    def module_of_row(self) -> np.ndarray:
        """Index (0..modules−1) of the module gating each of the ``fan_in`` rows."""
        return self.bit_of_row() // max(self.generations, 1)

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
    def utilization(self) -> float:
        """Used cells over the cells of the arrays the mapping occupies."""
        used = sum(lm.fan_in * lm.outputs for lm in self.layers)
        cells = sum(lm.arrays * lm.rows * lm.cols for lm in self.layers)
        return used / cells

    def layer(self, name: str) -> LayerMap:
        for lm in self.layers:
            if lm.name == name:
                return lm
        raise KeyError(name)


def map_network(design: Design) -> Mapping:
    """Place the design's network on its chip (shapes, granularity and replicas come from the Design).

    Raises:
        MappingError: the network (× replicas) needs more arrays than the chip has.
    """
    arch = design.arch
    xb, src = arch.crossbar, arch.spindrop
    reps, gran = design.replicas, design.granularity
    layers: list[LayerMap] = []
    next_array = 0
    for ls in design.layers:
        cols = ls.outputs * ls.weight_bits  # a multi-bit weight takes weight_bits adjacent ±1 slices
        rb, cb = math.ceil(ls.fan_in / xb.rows), math.ceil(cols / xb.cols)
        ids = tuple(range(next_array, next_array + rb * cb))
        next_array += rb * cb
        tiles = tuple(sorted({a // arch.chip.arrays_per_tile for a in ids}))
        bits = (ls.in_channels if (ls.kind == "conv2d" and gran == "channel") else ls.fan_in) if ls.dropout else 0
        if not ls.dropout:
            modules = gens = 0
        elif gran == "layer_scale":
            bits = modules = gens = 1
        else:
            modules = math.ceil(bits / src.rows_per_module)
            gens = math.ceil(bits / modules)
        out_bits = ls.out_elements * (arch.accumulator.bits if ls.out_real else 1)
        layers.append(LayerMap(name=ls.name, index=ls.index, kind=ls.kind, fan_in=ls.fan_in, outputs=cols,
                               mvms=ls.mvms, in_channels=ls.in_channels, kernel_area=ls.kernel_area,
                               out_bits=out_bits, row_blocks=rb, col_blocks=cb, rows=xb.rows, cols=xb.cols,
                               rows_active=xb.rows_active, array_ids=ids, tile_ids=tiles, dropout=ls.dropout,
                               granularity=gran, mask_bits=bits, modules=modules, generations=gens,
                               first=ls.first, last=ls.last, planes=ls.planes, weight_bits=ls.weight_bits,
                               out_real=ls.out_real, out_elements=ls.out_elements, in_real=ls.in_real))
    if gran == "layer_scale" and design.regenerate == "per_window" and any(lm.dropout for lm in layers):
        raise MappingError("Scale-Dropout drops a layer's scale once per pass; per-window masks do not apply",
                           file=design.workload_file, field="dropout.regenerate", allowed="per_input or per_pass")
    per_replica = next_array
    chip_arrays = arch.chip.tiles * arch.chip.arrays_per_tile
    # Each copy starts on a fresh tile so copies never share a tile's buffer ports.
    tiles_per_replica = math.ceil(per_replica / arch.chip.arrays_per_tile)
    if tiles_per_replica * reps > arch.chip.tiles:
        raise MappingError(f"the network needs {per_replica} arrays ({tiles_per_replica} tiles) per copy × {reps} "
                           f"cop{'ies' if reps > 1 else 'y'}; the chip has {arch.chip.tiles} tiles of "
                           f"{arch.chip.arrays_per_tile} arrays", file=design.arch_file, field="chip.tiles",
                           allowed=f">= {tiles_per_replica * reps}, or chip.tiles=auto (the fewest that map)")
    return Mapping(layers=tuple(layers), replicas=reps, arrays_per_replica=per_replica,
                   tiles_per_replica=tiles_per_replica, chip_arrays=chip_arrays)
