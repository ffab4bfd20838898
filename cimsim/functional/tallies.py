"""Raw tallies of a functional run: what the data did, not what it costs.

The executor counts, per graph node, the jobs it ran and, per crossbar layer, the rows it drove, the cells that
conducted in the low-resistance state and the dropout bits it drew and dropped. Every tally is an integer
(half-integer for the LRS cells of stuck 2T-2MTJ devices) far below 2^52, held in a Python float, so adding
tallies of chunks, threads, processes or Dask workers in any order gives the same bits.
:func:`cimsim.activity.counts_from_tallies` is the one place that turns them into action counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class NodeTally:
    """Tallies of one graph node (crossbar layer or digital node).

    Attributes:
        jobs: (input, pass) jobs run, passes × inputs.
        driven_rows: rows driven, summed over jobs, MVMs and first-layer bit planes (one column block).
        lrs_cells: driven cells read in the low-resistance state (one column block).
        mask_bits: dropout bits drawn for jobs of this run (per_input / per_window masks).
        mask_drops: of those, bits that read as drop.
        masked: whether this layer's masks were drawn per job (its dropout-source actions are counted).
    """

    jobs: float = 0.0
    driven_rows: float = 0.0
    lrs_cells: float = 0.0
    mask_bits: float = 0.0
    mask_drops: float = 0.0
    masked: bool = False

    def add(self, other: NodeTally) -> None:
        self.jobs += other.jobs
        self.driven_rows += other.driven_rows
        self.lrs_cells += other.lrs_cells
        self.mask_bits += other.mask_bits
        self.mask_drops += other.mask_drops
        self.masked = self.masked or other.masked


@dataclass
class Tallies:
    """Raw tallies of one evaluation (see module docstring).

    Attributes:
        nodes: per graph node name.
        shared_masks: per_pass dropout: per layer, (bits, drops) of the T masks shared by every input (drawn once
            per run, so counted once, not per shard).
    """

    nodes: dict[str, NodeTally] = field(default_factory=dict)
    shared_masks: dict[str, tuple[float, float]] = field(default_factory=dict)

    def node(self, name: str) -> NodeTally:
        t = self.nodes.get(name)
        if t is None:
            t = self.nodes[name] = NodeTally()
        return t

    def add(self, other: Tallies) -> None:
        """Add ``other`` into these tallies (exact, in any order)."""
        for name, t in other.nodes.items():
            self.node(name).add(t)
        for name, (bits, drops) in other.shared_masks.items():
            b0, d0 = self.shared_masks.get(name, (0.0, 0.0))
            self.shared_masks[name] = (b0 + bits, d0 + drops)
