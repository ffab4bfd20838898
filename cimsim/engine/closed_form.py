"""Closed-form cycle counts of the three schedules with no contention on buffer ports or the bus.

Everything else follows docs/timing.md exactly (converters shared by columns, module generations, mask
regeneration policy, ``inputs_in_flight``), so on a plan whose ports and bus never queue the event engine
must return these numbers to the cycle. Sequential and replicated are explicit sums of job spans, a job's span
being the longest path through the layer DAG (``LayerTiming.after``); the layer pipeline is the exact max-plus
recurrence over jobs × layers in plan order (a layer's arrival: the latest finish of its predecessors plus the digital nodes between: docs/timing.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from cimsim.engine.cycles import (
    array_hold_cycles,
    arrivals,
    buffer_write_cycles,
    longest_path_cycles,
    mask_mode,
    serial_step_cycles,
    transfer_cycles,
    validate_plan,
)
from cimsim.engine.plan import TimingPlan


@dataclass(frozen=True)
class ClosedForm:
    """Uncontended schedule length.

    Attributes:
        total_cycles: makespan of all jobs.
        latency_cycles: per input, finish of its last pass − start of its first (docs/timing.md).
        first_input_latency_cycles: ``latency_cycles[0]``.
        finish_cycles: per input, the cycle its last pass finishes.
        array_waits, mask_waits: layer_pipelined only, per layer in plan order: cycles jobs queued for the
            layer's arrays, and cycles a job holding them waited for its look-ahead mask (the engine's
            ``wait_cycles`` of that layer's arrays and modules when nothing else contends).
    """

    total_cycles: int
    latency_cycles: tuple[int, ...]
    first_input_latency_cycles: int
    finish_cycles: tuple[int, ...] = ()
    array_waits: tuple[int, ...] = ()
    mask_waits: tuple[int, ...] = ()


def _job_cycles(plan: TimingPlan, input_index: int) -> int:
    """One job's span with nothing contended: the longest path through the layer DAG (a chain: the sum)."""
    return longest_path_cycles(plan, [serial_step_cycles(layer, input_index) for layer in plan.layers])


def _job_spans(plan: TimingPlan) -> tuple[int, int]:
    """Job spans of input 0 and of every later input (they differ only by input 0's per_pass masks:
    :func:`cimsim.engine.cycles.needs_job_mask`)."""
    return _job_cycles(plan, 0), _job_cycles(plan, 1)


def _sequential(plan: TimingPlan) -> ClosedForm:
    now = 0
    latencies, finish = [], []
    spans = _job_spans(plan)
    for i in range(plan.inputs):
        span = plan.passes * spans[min(i, 1)]
        latencies.append(span)
        now += span
        finish.append(now)
    return ClosedForm(now, tuple(latencies), latencies[0], tuple(finish))


def _replicated(plan: TimingPlan) -> ClosedForm:
    k, passes, flight = plan.replicas, plan.passes, plan.inputs_in_flight
    free = [0] * k
    admitted_prev = 0
    finish: list[int] = []
    latencies = []
    spans = _job_spans(plan)
    for i in range(plan.inputs):
        admit = max(admitted_prev, finish[i - flight] if i >= flight else 0)
        admitted_prev = admit
        job = spans[min(i, 1)]
        first, last = None, 0
        for r in range(k):
            for _t in range(r, passes, k):
                start = max(free[r], admit)
                free[r] = start + job
                first = start if first is None else min(first, start)
                last = max(last, free[r])
        finish.append(last)
        latencies.append(last - first)
    return ClosedForm(max(finish), tuple(latencies), latencies[0], tuple(finish))


def _pipelined(plan: TimingPlan) -> ClosedForm:
    """The max-plus recurrence of docs/timing.md: job j starts computing on ℓ at
    S(j,ℓ) = max(arrive(j,ℓ), S(j−1,ℓ) + hold_ℓ, G_end(j,ℓ)), arrive = the latest finish of job j on ℓ's
    predecessors (a layer reading the input: the input's admission). Plan order is topological, so walking the
    layers in it sees every predecessor's finish first.

    The waits: a job queues for ℓ's arrays at R(j) = max(arrive, R(j−1)) (input-major order) and gets them at
    A(j) = max(R(j), S(j−1) + hold); it then waits for its mask until G_end(j), so S(j) = max(A(j), G_end(j)).
    """
    layers = plan.layers
    n_layers, passes, flight = len(layers), plan.passes, plan.inputs_in_flight
    arrive_from = arrivals(plan)
    hold = [array_hold_cycles(layer) for layer in layers]
    after = [buffer_write_cycles(layer) + transfer_cycles(layer) for layer in layers]
    mask = [layer.mask_cycles if mask_mode(layer) == "job" else 0 for layer in layers]
    # jobs that get a look-ahead mask: all (per_input) or the first input's passes (per_pass)
    n_masks = [
        0 if mask_mode(layer) != "job" else (plan.inputs * passes if layer.regenerate == "per_input" else passes)
        for layer in layers
    ]
    start_prev = [0] * n_layers  # compute start of job j-1 on each layer
    release_prev = [0] * n_layers  # arrays release of job j-1
    mask_end_prev = [0] * n_layers  # end of the previous mask generation on each layer
    req_prev = [0] * n_layers  # when job j-1 queued for each layer's arrays
    wait_a, wait_m = [0] * n_layers, [0] * n_layers
    finish: list[int] = []
    latencies = []
    admit = 0
    first: int | None = None
    last = 0
    for j in range(plan.inputs * passes):
        i, t = divmod(j, passes)
        if t == 0:
            admit = max(admit, finish[i - flight] if i >= flight else 0)
            first, last = None, 0
        done = [0] * n_layers  # this job's finish (transfer end) on each layer
        job_start: int | None = None
        for ell in range(n_layers):
            pred, inp = arrive_from[ell]
            heads = [done[p] + d for p, d in pred] + ([admit + inp] if inp is not None else [])
            arrive = max(heads, default=admit)
            ready = 0
            gen_start = None
            if j < n_masks[ell]:
                gen_start = max(mask_end_prev[ell], start_prev[ell]) if j else 0
                ready = mask_end_prev[ell] = gen_start + mask[ell]
            req = max(arrive, req_prev[ell]) if j else arrive
            got = max(req, release_prev[ell])
            start = max(got, ready)  # = max(arrive, release_prev, ready): req_prev ≤ S(j−1) ≤ release_prev
            wait_a[ell] += got - req
            if j < n_masks[ell]:
                wait_m[ell] += start - got
            req_prev[ell] = req
            if not pred:  # a source layer: the pass's first activity (docs/timing.md, Results)
                begun = start if gen_start is None else max(admit, min(gen_start, start))
                if inp:  # digital work on the input starts at admission
                    begun = admit
                job_start = begun if job_start is None else min(job_start, begun)
            start_prev[ell] = start
            release_prev[ell] = start + hold[ell]
            done[ell] = release_prev[ell] + after[ell]
        assert job_start is not None  # layer 0 has no predecessors
        first = job_start if first is None else min(first, job_start)
        last = max(last, max(done))
        if t == passes - 1:
            finish.append(last)
            latencies.append(last - first)
    return ClosedForm(max(finish), tuple(latencies), latencies[0], tuple(finish), tuple(wait_a), tuple(wait_m))


def closed_form(plan: TimingPlan) -> ClosedForm:
    """Uncontended cycle counts of ``plan`` (infinite buffer ports and bus channels)."""
    validate_plan(plan)
    if plan.schedule == "sequential":
        return _sequential(plan)
    if plan.schedule == "replicated":
        return _replicated(plan)
    return _pipelined(plan)


def masks_hidden(plan: TimingPlan) -> bool:
    """Whether look-ahead masks never stall the layer pipeline (the condition of :func:`pipelined_bound`).

    Holds when every look-ahead mask fits in the layer's array-hold time (mask ℓ of job j is generated
    while job j−1 computes on ℓ) and job 0's mask of every layer with predecessors is ready by the time job 0
    arrives there (the latest finish of its predecessors). Per_window masks are inline (part of the hold
    time) and always count as hidden here.
    """
    finish: list[int] = []
    for layer, (pred, inp) in zip(plan.layers, arrivals(plan), strict=True):
        hold = array_hold_cycles(layer)
        arrival = max([finish[p] + d for p, d in pred] + ([inp] if inp is not None else []), default=0)
        if mask_mode(layer) == "job":
            m = layer.mask_cycles
            if not pred:  # reads the input: job 0's mask is exposed (generated from admission, in parallel)
                arrival = max(m, arrival)
            elif m > arrival:
                return False
            if m > hold:
                return False
        finish.append(arrival + hold + buffer_write_cycles(layer) + transfer_cycles(layer))
    return True


def pipelined_bound(plan: TimingPlan) -> int:
    """Textbook pipeline length max over input-to-layer paths π of m_π + Σ_{ℓ∈π} l_ℓ + (J − 1)·max_{ℓ∈π} s_ℓ.

    J = inputs × passes, s_ℓ = cycles a job holds layer ℓ's arrays (the stage time), l_ℓ = s_ℓ + buffer write
    + transfer (the stage latency), m_π = job 0's look-ahead mask on the path's first layer (it reads the
    input, so that mask is never hidden). For a chain: m₀ + Σ_ℓ l_ℓ + (J − 1)·max_ℓ s_ℓ. Equal to the
    layer_pipelined closed form when :func:`masks_hidden` and ``inputs_in_flight >= inputs``; a lower bound
    otherwise (the recurrence S(j,ℓ) = max(max_p S(j,p) + l_p, S(j−1,ℓ) + s_ℓ) unrolls into this maximum).
    """
    validate_plan(plan)
    layers, arrive_from = plan.layers, arrivals(plan)
    jobs = plan.inputs * plan.passes
    stage = [array_hold_cycles(layer) for layer in layers]
    latency = [s + buffer_write_cycles(layer) + transfer_cycles(layer) for s, layer in zip(stage, layers, strict=True)]
    best = 0
    # for each candidate bottleneck h: the longest path using only stages <= h and passing through one == h
    for h in sorted(set(stage)):
        without: list[int | None] = []  # longest path ending here with every stage < h (None: none exists)
        with_h: list[int | None] = []  # ... with every stage <= h and at least one == h
        for ell, layer in enumerate(layers):
            if stage[ell] > h:
                without.append(None)
                with_h.append(None)
                continue
            m = layer.mask_cycles if mask_mode(layer) == "job" else 0
            pred, inp = arrive_from[ell]
            heads_w = [without[p] + d for p, d in pred if without[p] is not None]
            heads_h = [with_h[p] + d for p, d in pred if with_h[p] is not None]
            if not pred:
                heads_w, heads_h = [max(m, inp or 0)], []
            elif inp is not None:  # also reads the input through digital nodes: a path may start here
                heads_w.append(inp)
            if stage[ell] == h:
                both = heads_w + heads_h
                without.append(None)
                with_h.append(max(both) + latency[ell] if both else None)
            else:
                without.append(max(heads_w) + latency[ell] if heads_w else None)
                with_h.append(max(heads_h) + latency[ell] if heads_h else None)
        tops = [v for v in with_h if v is not None]
        if tops:
            best = max(best, max(tops) + (jobs - 1) * h)
    return best
