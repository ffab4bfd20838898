"""Memory the machine has, and an estimate of what a run needs, checked before the run allocates.

``estimate_run_bytes`` adds up the arrays the functional run holds at its peak (weights in the executor's
float32 layouts, the executor's chunk intermediates, the MC logits and probabilities of the test set and of
the largest OOD or corrupted set, the generated OOD/corrupted images). It is an estimate from the spec, not a
measurement: it counts the large numpy arrays and ignores Python objects and the event engine (bounded by
``--timing-inputs``). ``check_run_memory`` compares it with the memory the machine has available and raises
a ResourceError naming the largest term, so a run that cannot fit fails in milliseconds with advice, not
after minutes with a MemoryError or the kernel's OOM killer.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from cimsim.errors import ResourceError
from cimsim.resolve import network_graph_of
from cimsim.spec.arch import ArchSpec
from cimsim.spec.workload import NetworkSpec, WorkloadSpec

# Fraction of the available memory a run may plan to use: the estimate ignores Python objects, allocator
# slack and transient copies, and the machine is shared [assumed].
USABLE_FRACTION = 0.7
# The executor bounds each chunk's largest intermediate to CHUNK_BYTES (64 MiB: a few chunk arrays stay well
# inside any machine this runs on, and GEMMs of ~100 MNIST inputs × 20 passes already run at BLAS speed); a
# chunk holds about three arrays of that size at once (partial sums, activations, masks) [code]. Worker threads
# split a chunk, so the bound holds whatever their number.
CHUNK_BYTES = 64 * 2**20
CHUNK_ARRAYS = 3
_GIB = 2**30


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one, else the CPU count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def available_memory_bytes() -> int | None:
    """Memory available to this process, bytes: MemAvailable (/proc/meminfo) or free physical pages
    (``os.sysconf``), further capped by a cgroup v2 ``memory.max`` limit; None when the OS says nothing."""
    avail: int | None = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                avail = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            avail = None
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        current = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        if limit != "max":
            room = int(limit) - current
            avail = room if avail is None else min(avail, room)
    except (OSError, ValueError):
        pass
    return avail


def memory_budget_bytes() -> int | None:
    """What a run may plan to use: :data:`USABLE_FRACTION` of the available memory (None: unknown)."""
    avail = available_memory_bytes()
    return None if avail is None else int(avail * USABLE_FRACTION)


def _gib(n: float) -> str:
    return f"{n / _GIB:.2f} GiB" if n >= _GIB / 100 else f"{n / 2**20:.1f} MiB"


def check_memory(need_bytes: int, what: str, *, file: str | None = None, field: str | None = None,
                 advice: str = "") -> None:
    """Raise ResourceError if ``need_bytes`` exceed the memory budget (no check when the OS says nothing)."""
    budget = memory_budget_bytes()
    if budget is not None and need_bytes > budget:
        raise ResourceError(f"{what} needs about {_gib(need_bytes)}; this machine has {_gib(budget)} to spare"
                            + (f"; {advice}" if advice else ""), file=file, field=field)


@dataclass(frozen=True)
class LayerSize:
    name: str
    fan_in: int
    outputs: int  # crossbar columns (neurons × weight_bits)
    mvms: int  # MVMs per input per pass (conv output positions; 1 for linear)
    out_elements: int  # values one input's output holds (after pooling)
    planes: int = 1  # input bit planes streamed per MVM (bit-serial first layer, quantized real inputs)


def layer_sizes(network: NetworkSpec) -> list[LayerSize]:
    """Per-crossbar-layer sizes from the spec alone (integers, no allocation), read from the resolved graph
    (:func:`cimsim.resolve.network_graph_of`, the one place shapes are derived), so graph networks (adds,
    pools, flatten) are sized like chains.

    Raises:
        ConfigError: the graph is inconsistent (naming the node), as resolving the workload would.
    """
    shapes, _ = network_graph_of(network, ())
    return [LayerSize(ls.name, ls.fan_in, ls.outputs * ls.weight_bits, ls.mvms, ls.out_elements, ls.planes)
            for ls in shapes]


def estimate_run_bytes(arch: ArchSpec, workload: WorkloadSpec, *, inputs: int, passes: int,
                       ood: bool = True, corruptions: bool = True, hardware_only: bool = False) -> dict[str, int]:
    """Bytes the functional run holds at its peak, by term (sum: ``total``). See the module docstring.

    Args:
        arch, workload: the specs.
        inputs: test inputs evaluated (after ``--limit``).
        passes: MC passes T.
        ood, corruptions: whether those sets are evaluated.
        hardware_only: no functional run (then only the event engine runs: bounded, estimated as 0).
    """
    if hardware_only:
        return {"total": 0}
    sizes = layer_sizes(workload.network)
    ra = arch.crossbar.rows_active
    pixels = math.prod(workload.network.input_shape)
    k = sizes[-1].out_elements
    t = passes
    # weights: int8 as loaded, float32 matrix, float32 padded to row groups (+ its variation copies)
    per_weight = 1 + 4 + 4 + (8 if arch.variation.enabled else 0)
    weights = sum(math.ceil(s.fan_in / ra) * ra * s.outputs for s in sizes) * per_weight
    # the executor's chunk: as many inputs as keep its largest array under CHUNK_BYTES (at least one)
    # the larger of a layer's partial sums and (bit-serial layers) its rows split into bit planes, float32
    per_input = max(max(math.ceil(s.fan_in / ra) * s.outputs, s.planes * s.fan_in) * s.mvms * 4 * t for s in sizes)
    n_ood = workload.ood_samples if (ood and workload.ood) else 0
    per_chunk = min(max(inputs, n_ood), max(1, CHUNK_BYTES // per_input))
    chunk = CHUNK_ARRAYS * per_chunk * per_input
    # logits (T, N, K) float64, their softmax, and the chunk list concatenated once (x2 transient)
    def probs(n: int) -> int:
        return 3 * (t + 1) * n * k * 8

    test = probs(inputs) + inputs * pixels * (4 + 1)  # held: test probs; the float and quantized inputs
    ood_set = probs(n_ood) + n_ood * pixels * (8 + 1) if n_ood else 0
    n_cor = inputs if (corruptions and workload.corruptions) else 0
    cor_set = probs(n_cor) + n_cor * pixels * (8 + 1) if n_cor else 0
    terms = {"weights": weights, "chunk intermediates": chunk, "test-set logits": test,
             "OOD set": ood_set, "corrupted set": cor_set}
    terms["total"] = weights + chunk + test + max(ood_set, cor_set)
    return terms


def check_run_memory(arch: ArchSpec, workload: WorkloadSpec, *, inputs: int, passes: int, ood: bool = True,
                     corruptions: bool = True, hardware_only: bool = False, file: str | None = None) -> dict[str, int]:
    """:func:`estimate_run_bytes`, raising ResourceError (naming the largest term) when it exceeds the budget."""
    terms = estimate_run_bytes(arch, workload, inputs=inputs, passes=passes, ood=ood, corruptions=corruptions,
                               hardware_only=hardware_only)
    parts = {k: v for k, v in terms.items() if k != "total"}
    if parts:
        big = max(parts, key=parts.__getitem__)
        check_memory(terms["total"], f"this run ({inputs} inputs × {passes} passes)", file=file,
                     advice=f"the largest part is {big} ({_gib(parts[big])}); lower --limit, --passes, "
                            "ood_samples or the layer sizes, or use --no-ood / --no-corruptions")
    return terms
