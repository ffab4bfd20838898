"""`cimsim describe | schema | models | run`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from cimsim.cli._app import DEFAULT_ARCH, DEFAULT_WORKLOAD, cli, default_path, split_sets
from cimsim.errors import ConfigError


@cli.command()
@click.argument("arch", required=False, type=click.Path(dir_okay=False))
@click.argument("workload", required=False, type=click.Path(dir_okay=False))
@click.option("--set", "sets", multiple=True, metavar="PATH=VALUE", help="override an arch (or workload) field")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--subarray", is_flag=True, help="instead: one crossbar as a plain memory (read/write one whole row), "
              "the figures NVSim reports for a one-subarray bank")
def describe(arch: str | None, workload: str | None, sets: tuple[str, ...], fmt: str, subarray: bool) -> None:
    """Area, leakage and every component action (energy, latency, cycles) of ARCH: the chip as built and,
    with WORKLOAD, as used by it (the area `cimsim run` reports), side by side; ``--subarray``: one crossbar
    as a memory (NVSim-style)."""
    from cimsim.cli.margin import margin_doc, margin_summary, summary_text
    from cimsim.components.contracts import ElectricalArray
    from cimsim.hardware import build_hardware
    from cimsim.mapping import map_network
    from cimsim.report.files import dumps
    from cimsim.report.text import describe_text
    from cimsim.resolve import resolve
    from cimsim.spec.loader import load_arch, load_workload

    path = Path(arch) if arch else default_path(DEFAULT_ARCH)
    arch_over, wl_over = split_sets(sets)
    if wl_over and workload is None:
        raise ConfigError("describe without a WORKLOAD takes architecture fields only", file="--set",
                          field=wl_over[0][0])
    spec = load_arch(path, arch_over)
    if subarray:
        _describe_subarray(spec, path, fmt)
        return
    wl = load_workload(Path(workload), wl_over) if workload else None
    design = resolve(spec, wl, arch_file=str(path), workload_file=workload)
    hw = build_hardware(design, map_network(design) if wl is not None else None)
    doc = hw.describe()
    margin = ""
    if isinstance(hw.component("crossbar"), ElectricalArray):   # docs/analog.md "Sense margin"
        doc["sense_margin"] = margin_summary(margin_doc(hw))
        margin = "\n\n" + summary_text(doc["sense_margin"])
    click.echo(dumps(doc) if fmt == "json" else describe_text(doc) + _views_text(doc["views"]) + margin)


def _views_text(views: dict[str, Any]) -> str:
    """The chip as built next to the chip as used by the workload (labelled; `cimsim run` prices the second)."""
    built, used = views["chip_as_built"], views["used_by_workload"]
    rows = [f"{'':22}{'chip as built':>16}{'used by this workload':>24}"]
    for label, key, scale, unit in (("area", "area_m2", 1e6, "mm²"), ("leakage", "leakage_w", 1e3, "mW")):
        u = f"{used[key] * scale:.4g} {unit}" if used else "(no workload)"
        rows.append(f"{label:22}{built[key] * scale:>12.4g} {unit:<3}{u:>24}")
    for name, n in built["instances"].items():
        u = used["instances"].get(name, 0) if used else None
        if u is not None and u != n:
            rows.append(f"{name + ' instances':22}{n:>16}{u:>24}")
    return "\n\n" + "\n".join(rows)


def _describe_subarray(spec: Any, path: Path, fmt: str) -> None:
    """`describe --subarray`: the crossbar's devices (one per bit, 1T-1MTJ) and NVSim-style periphery read and
    written as a memory (:func:`cimsim.components.subarray.memory_mode`, docs/validation.md "NVSim grid")."""
    from cimsim.components.subarray import memory_mode
    from cimsim.report.files import dumps
    from cimsim.validation.nvsim import subarray_from_arch

    ctx, params = subarray_from_arch(spec)
    try:
        cost = memory_mode(ctx, params)
    except ValueError as exc:
        raise ConfigError(str(exc), file=str(path), field="crossbar") from None
    doc = {"subarray": {"rows": params.rows, "cols": params.cols, "word_bits": params.word_bits,
                        "node_nm": ctx.node_nm, "vdd_v": ctx.vdd_v, "periphery_devices": ctx.periphery_devices},
           **cost.to_dict()}
    if fmt == "json":
        click.echo(dumps(doc))
        return
    s = doc["subarray"]
    click.echo(f"memory-mode subarray of {path}: {s['rows']} rows x {s['cols']} columns, one {s['word_bits']}-bit word "
               f"per access, {s['node_nm']:g} nm, {s['periphery_devices'].upper()} periphery at {s['vdd_v']:g} V")
    for name, key, scale, unit, parts in (
            ("read energy", "read_energy_j", 1e12, "pJ", "read_breakdown_j"),
            ("write energy", "write_energy_j", 1e12, "pJ", "write_breakdown_j"),
            ("read latency", "read_latency_s", 1e9, "ns", "latency_breakdown_s"),
            ("write latency", "write_latency_s", 1e9, "ns", None),
            ("area", "area_m2", 1e12, "um^2", "area_breakdown_m2"),
            ("leakage", "leakage_w", 1e6, "uW", None)):
        line = f"  {name:<14}{doc[key] * scale:12.4g} {unit}"
        if parts:
            line += "  (" + ", ".join(f"{k} {v * scale:.4g}" for k, v in doc[parts].items()
                                      if v and not (key == "read_latency_s" and k == "write_pulse")) + ")"
        click.echo(line)


@cli.command()
@click.argument("kind", type=click.Choice(["arch", "workload", "sweep"]))
def schema(kind: str) -> None:
    """Print the JSON Schema of an arch, workload or sweep YAML."""
    from cimsim.spec import ArchSpec, WorkloadSpec
    from cimsim.spec.sweep import SweepSpec

    model = {"arch": ArchSpec, "workload": WorkloadSpec, "sweep": SweepSpec}[kind]
    click.echo(json.dumps(model.model_json_schema(), indent=2))


@cli.command()
def models() -> None:
    """Registered component models by kind (what ``model:`` keys accept)."""
    from cimsim.components.base import model_names

    for kind in ("column_periphery", "dropout_source", "crossbar", "adder_tree", "accumulator", "comparator",
                 "register", "buffer", "interconnect", "controller"):
        click.echo(f"{kind}: {', '.join(model_names(kind))}")


@cli.command()
@click.argument("arch", required=False, type=click.Path(dir_okay=False))
@click.argument("workload", required=False, type=click.Path(dir_okay=False))
@click.option("--passes", type=click.IntRange(1, 1000), help="MC passes T [default: the workload's]")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True, help="root random seed")
@click.option("--limit", type=click.IntRange(1), help="evaluate only the first N test inputs")
@click.option("--set", "sets", multiple=True, metavar="PATH=VALUE",
              help="override an arch or workload field, e.g. controller.schedule=layer_pipelined")
@click.option("--hardware-only", is_flag=True,
              help="no functional run (needs no weights or data set): energy from expected activity")
@click.option("--inputs", type=click.IntRange(1), help="hardware-only: inferences to count [default: 1]")
@click.option("--timing-inputs", type=click.IntRange(1), default=64, show_default=True,
              help="inputs the event engine schedules (timing is data-independent)")
@click.option("--threads", type=click.IntRange(1), help="functional worker threads [default: the usable CPUs]; "
              "results do not depend on it")
@click.option("--backend", type=click.Choice(["numpy", "torch", "cupy"]), default="numpy", show_default=True,
              help="array library of the functional run; results do not depend on it")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
              help="device of --backend torch (cpu or cuda) or cupy (cuda)")
@click.option("--workers", type=click.IntRange(1), help="local processes the evaluation sets and chips are "
              "sharded over [default: this process]; results do not depend on it")
@click.option("--scheduler", metavar="tcp://HOST:PORT", help="shard over this Dask distributed cluster instead")
@click.option("--no-ood", is_flag=True, help="skip the OOD sets")
@click.option("--no-corruptions", is_flag=True, help="skip the corrupted sets")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--out", "out_dir", metavar="DIR",
              help="write result.json, CSVs, report.txt and manifest.json here (the folder is replaced whole)")
@click.option("--trace", "trace_file", metavar="FILE", help="write a Chrome trace JSON")
def run(arch: str | None, workload: str | None, passes: int | None, seed: int, limit: int | None,
        sets: tuple[str, ...], hardware_only: bool, inputs: int | None, timing_inputs: int, threads: int | None,
        backend: str, device: str, workers: int | None, scheduler: str | None, no_ood: bool, no_corruptions: bool, fmt: str, out_dir: str | None, trace_file: str | None) -> None:
    """Simulate WORKLOAD on ARCH (defaults: the SpinDrop chip running the digits MLP)."""
    from cimsim.atomic_io import OutputDir, check_file_target
    from cimsim.engine.trace import chrome_trace_bytes, write_chrome_trace
    from cimsim.report.files import dumps, write_outputs
    from cimsim.report.text import run_text
    from cimsim.simulate import Options, simulate
    from cimsim.spec.loader import load_arch, load_workload

    arch_path = Path(arch) if arch else default_path(DEFAULT_ARCH)
    wl_path = Path(workload) if workload else default_path(DEFAULT_WORKLOAD)
    arch_over, wl_over = split_sets(sets)
    arch_spec = load_arch(arch_path, arch_over)
    wl_spec = load_workload(wl_path, wl_over)
    # Output paths are checked (and the output folder's temporary created) before the run, not after it.
    trace_path = check_file_target(trace_file, flag="--trace") if trace_file is not None else None
    out = OutputDir(out_dir, flag="--out") if out_dir is not None else None
    trace_in_out = (out is not None and trace_path is not None
                    and trace_path.parent.resolve() == out.path.resolve())
    bars: dict[str, Any] = {}
    show = sys.stderr.isatty()  # what tqdm's disable=None decides; without a terminal tqdm is not even imported

    def progress(phase: str, done: int, total: int) -> None:
        if not show:
            return
        bar = bars.get(phase)
        if bar is None:
            from tqdm import tqdm

            bar = bars[phase] = tqdm(total=total, desc=phase, unit="inputs" if phase == "functional" else "jobs",
                                     leave=False, file=sys.stderr)
        bar.update(done - bar.n)

    if limit is not None and hardware_only:
        raise ConfigError("--limit picks test inputs of a functional run; a --hardware-only run reads no data",
                          field="--limit", allowed="--inputs N with --hardware-only (inferences to count), or "
                          "--limit without --hardware-only")
    if inputs is not None and not hardware_only:
        raise ConfigError("--inputs counts inferences of a --hardware-only run; a functional run counts its data set",
                          field="--inputs", allowed="--inputs with --hardware-only, or --limit")
    if hardware_only and (workers or scheduler or backend != "numpy"):
        raise ConfigError("--backend, --workers and --scheduler shape the functional run; a --hardware-only run "
                          "has none", field="--workers" if workers else "--scheduler" if scheduler else "--backend",
                          allowed="drop the flag, or drop --hardware-only")
    from cimsim.functional.backend import get_backend

    get_backend(backend, device)  # a missing library or device is refused before anything runs
    opts = Options(passes=passes, seed=seed, limit=limit, hardware_only=hardware_only, inputs=inputs,
                   timing_inputs=timing_inputs, threads=threads, backend=backend, device=device,
                   workers=workers, scheduler=scheduler,
                   trace=trace_file is not None, ood=not no_ood, corruptions=not no_corruptions, progress=progress)
    try:
        result = simulate(arch_spec, wl_spec, opts, base_dir=wl_path.parent, arch_file=str(arch_path))
    except BaseException:
        if out is not None:
            out.discard()
        raise
    finally:
        for bar in bars.values():
            bar.close()
    text = dumps(result.to_json()) if fmt == "json" else run_text(result)
    if out is not None:
        extra = {trace_path.name: chrome_trace_bytes(result.engine.trace)} if trace_in_out else None
        write_outputs(result, out, report_text=run_text(result), extra=extra)
    if trace_path is not None and not trace_in_out:
        write_chrome_trace(result.engine.trace, trace_path)
    click.echo(text)
