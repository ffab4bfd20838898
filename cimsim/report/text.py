"""Readable text reports (the CLI prints these; nothing here prints)."""

from __future__ import annotations

from typing import Any

from cimsim.simulate import Result


def grid(rows: list[dict[str, Any]], index: str | None = None) -> str:
    """Rows of equal keys as an aligned text table (columns right-aligned under their headers; ``index``: a
    left-aligned first column). Plain Python: printing a report never needs pandas."""
    if not rows:
        return ""
    keys = list(rows[0])
    cells = [[str(k) for k in keys]] + [[str(r[k]) for k in keys] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(keys))]
    lines = []
    for c in cells:
        parts = [c[i].ljust(widths[i]) if keys[i] == index else c[i].rjust(widths[i]) for i in range(len(keys))]
        lines.append(" ".join(parts))
    return "\n".join(lines)


def _by_name(d: dict[str, dict[str, float]], first: str) -> str:
    """{name: {metric: value}} → a table with one row per name, values to 4 decimals."""
    return grid([{first: k, **{m: f"{v:.4f}" for m, v in vals.items()}} for k, vals in d.items()], index=first)


def si(value: float, unit: str) -> str:
    """``1.2e-9, "J"`` → ``"1.2 nJ"``."""
    if value == 0:
        return f"0 {unit}"
    prefixes = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"),
                (1e-12, "p"), (1e-15, "f"), (1e-18, "a")]
    for scale, p in prefixes:
        if abs(value) >= scale:
            return f"{value / scale:.4g} {p}{unit}"
    return f"{value:.3g} {unit}"


def _share(d: dict[str, float], header: str, fmt) -> str:
    """Rows sorted by value with their share of the total."""
    total = sum(d.values()) or 1.0
    width = max(len(k) for k in d)
    lines = [f"  {'':{width}}  {header:>12}   share"]
    lines += [f"  {k:{width}}  {fmt(v):>12}  {v / total:6.1%}" for k, v in sorted(d.items(), key=lambda kv: -kv[1])]
    return "\n".join(lines)


def describe_text(doc: dict[str, Any]) -> str:
    """Text form of ``Hardware.describe()``."""
    lines = [f"architecture {doc['name']}: {doc['arrays']} arrays, clock {si(doc['clock_hz'], 'Hz')}, "
             f"area {doc['area_m2'] * 1e6:.4g} mm², leakage {si(doc['leakage_w'], 'W')}", ""]
    op = doc.get("dropout", {}).get("operating_point")
    if op:
        lines[-1:-1] = [f"dropout modules: stochastic write {si(op['write_current_a'], 'A')} (I/I_c0 = "
                        f"{op['current_ratio']:.3f}) for {si(op['write_pulse_s'], 's')} at {op['operating_temperature_k']:.0f} K → "
                        f"p = {op['p']:.4f}, dP/d(I/I_c0) = {op['dp_dratio']:.3g} ({op['switching_model']} switching "
                        "model)"]
    rows = []
    for c in doc["components"]:
        for a, v in c["actions"].items():
            rows.append({"component": c["name"], "model": c["model"], "instances": c["instances"],
                         "area/inst": f"{c['area_m2'] * 1e12:.4g} µm²", "action": a,
                         "energy": si(v["energy_j"], "J"), "latency": si(v["latency_s"], "s"),
                         "cycles": v["latency_cycles"]})
    lines.append(grid(rows))
    lines += ["", "area breakdown:"]
    area = {k: v * 1e6 for k, v in doc["area_breakdown_m2"].items()}
    total = sum(area.values())
    lines.append(grid([{"component": k, "mm²": f"{v:.4g}", "share": f"{v / total:6.1%}"}
                               for k, v in sorted(area.items(), key=lambda kv: -kv[1])], index="component"))
    return "\n".join(lines)


def run_text(r: Result) -> str:
    """The report ``cimsim run`` prints."""
    j = r.to_json()
    t = j["timing"]
    out = [f"cimsim run: {r.arch.name} × {r.workload.name}  (T = {r.passes} passes, seed {r.seed}, "
           f"{r.inputs} inputs; cimsim {j['cimsim_version']}, config {j['config_hash'][:12]})", ""]
    out.append("timing")
    out.append(f"  latency per inference   {si(j['latency_s'], 's')}  ({j['latency_cycles']:.0f} cycles; "
               f"{si(j['latency_per_pass_s'], 's')} per pass)")
    out.append(f"  throughput              {j['throughput_inferences_per_s']:.4g} inferences/s")
    out.append(f"  schedule                {t['schedule']} (replicas {t['replicas']}), engine {t['engine_cycles']} "
               f"cycles for {t['timed_inputs']} inputs, uncontended closed form {t['closed_form_cycles']}, "
               f"contention stalls {t['contention_stall_cycles']}")
    out.append("")
    out.append(f"efficiency                {j['tops_per_w']:.4g} TOPS/W, {si(j['energy_per_mac_j'], 'J')} per binary MAC, "
               f"{j['tops_per_mm2']:.4g} TOPS/mm² (chip area)")
    out.append(f"  ops per inference       {j['ops_per_inference']:.6g}  ({j['ops_convention']})")
    out.append("")
    out.append(f"energy per inference      {si(j['energy_per_inference_j'], 'J')}  "
               f"({si(j['energy_per_pass_j'], 'J')} per pass; activity {j['activity']})")
    out.append(_share(j["energy_breakdown_j"], "energy", lambda v: si(v, "J")))
    out.append("")
    out.append("energy by layer")
    out.append(_share(j["energy_by_layer_j"], "energy", lambda v: si(v, "J")))
    out.append("")
    out.append(f"area                      {j['area_m2'] * 1e6:.4g} mm²  (arrays used {j['arrays_used']} of "
               f"{j['arrays_total']}, cell utilization {j['utilization']:.1%}; leakage {si(j['leakage_w'], 'W')})")
    built = j.get("views", {}).get("chip_as_built")
    if built is not None:
        out.append(f"                          used by this workload (priced above); chip as built: "
                   f"{built['area_m2'] * 1e6:.4g} mm², leakage {si(built['leakage_w'], 'W')}")
    if j.get("chip_tiles", {}).get("auto"):
        out.append(f"chip size                 {j['chip_tiles']['tiles']} tiles, sized automatically (chip.tiles: auto): "
                   "the fewest that map the network × replicas")
    out.append(_share(j["area_breakdown_m2"], "area", lambda v: f"{v * 1e6:.4g} mm²"))
    out.append("")
    out.append("layers (latency: one pass of one input on the layer, steady state, mask generation included; "
               "energy: per inference)")
    out.append(grid([{"layer": d["layer"], "kind": d["kind"], "fan_in": d["fan_in"], "outputs": d["outputs"],
                      "mvms/pass": d["mvms_per_pass"], "arrays": d["arrays"],
                      # what one MVM's compute time follows (layers.csv also has the all-arrays total)
                      "rg reads/mvm (busiest)": d["row_group_reads_per_mvm_busiest_array"],
                      "utilization": f"{d['utilization']:.1%}", "modules": d["dropout_modules"],
                      "MACs/pass": d["binary_macs_per_pass"], "cycles/pass": d["latency_cycles_per_pass"],
                      "latency/pass": si(d["latency_per_pass_s"], "s"), "energy": si(d["energy_per_inference_j"], "J")}
                     for d in r.layer_rows()]))
    if not r.hardware_only:
        out += ["", "accuracy and uncertainty (test set)"]
        out.append(f"  accuracy MC (T={r.passes})      {j['accuracy']:.4f}")
        out.append(f"  accuracy deterministic   {j['accuracy_deterministic']:.4f}")
        out.append(f"  NLL {j['nll']:.4f}   ECE {j['ece']:.4f}   mean entropy {j['entropy']:.4f}   "
                   f"mean MI {j['mutual_information']:.4f}")
        dd = j["dropout"]
        temp = (f" at {dd['operating_temperature_k']:g} K (tuned at {dd['calibration_temperature_k']:g} K, "
                f"compensation {dd['temperature_compensation']})" if "operating_temperature_k" in dd else "")
        if dd.get("realized_p_by_layer"):
            out.append(f"  dropout p: trained {dd['trained_p']}, hardware {dd['hardware_p']}, realized{temp} "
                       + ", ".join(f"{k} {v:.4f}" for k, v in dd["realized_p_by_layer"].items()))
        else:  # a workload without dropout layers: its MC passes are all alike
            out.append("  dropout: none (no layer of the workload is dropped; the MC passes are identical)")
        if "chips" in j:
            c = j["chips"]
            out.append(f"  chip Monte-Carlo over {c['n']} chips: " + ", ".join(
                f"{k} {c[k]['mean']:.4f} ± {c[k]['std']:.4f}" for k in ("accuracy", "nll", "auroc") if k in c))
        for name, v in j.get("dropout_p_modules", {}).items():
            faulty = ", ".join(f"{k} {v[k]}" for k in ("stuck_at_drop", "stuck_at_keep", "shifted") if v.get(k))
            out.append(f"  dropout modules {name}: p mean {v['mean']:.4f}, std {v['std']:.4f} over {v['n']}"
                       + (f" (faulty: {faulty})" if faulty else ""))
        if j.get("faults_injected"):
            out.append(f"  faults injected (seed {j['faults_injected']['seed']}): "
                       + "; ".join(f"{k}: " + ", ".join(_fault_text(d)) for k, d in j["faults_injected"]["layers"].items()))
        if j["ood"]:
            out += ["", "out-of-distribution detection (predictive entropy)"]
            out.append(_by_name(j["ood"], "set"))
        if j["corrupted"]:
            out += ["", "corrupted test sets"]
            out.append(_by_name(j["corrupted"], "set"))
    else:
        out += ["", "hardware-only run: no accuracy; energy from expected activity"]
    if j.get("lifetime"):
        out += ["", _lifetime_text(j["lifetime"])]
    w = j["wall_time_s"]
    out += ["", "wall time: " + ", ".join(f"{k} {v:.2f} s" for k, v in w.items())]
    return "\n".join(out)


def _fault_text(d: dict) -> list[str]:
    parts = []
    if "dropout_modules" in d:
        m = d["dropout_modules"]
        parts += [f"{len(m[k])} {k}" for k in ("stuck_at_drop", "stuck_at_keep", "shifted") if m[k]]
    if "cells" in d:
        parts.append(f"{d['cells']['stuck_lrs']} LRS + {d['cells']['stuck_hrs']} HRS stuck of {d['cells']['devices']} devices")
    if "converters" in d:
        parts.append(f"converter offset {d['converters']['offset_mean_lsb']:+.3g} ± {d['converters']['offset_std_lsb']:.3g} LSB")
    return parts


def _years(s: float | None) -> str:
    if s is None or s == float("inf"):
        return "never"
    return f"{s:.4g} s = {s / 3600:.4g} h = {s / 3.156e7:.3g} years"


def lifetime_lines(lt: dict) -> list[str]:
    """The dropout-MTJ lifetime block of the run report (also used by ``cimsim faults lifetime``). The three
    failure times are listed in time order, so that with one or two modules a small failed fraction (reached
    before the median first failure) does not read as coming after it."""
    times = [(f"median time to the first module failure ({lt['modules']} modules)", lt["lifetime_s"]),
             (f"expected {lt['failed_fraction']:.3g} of the modules failed", lt["lifetime_fraction_s"]),
             ("busiest module's characteristic life η / rate (63.2 % fail)", lt["module_characteristic_life_s"])]
    times.sort(key=lambda kv: float("inf") if kv[1] is None else kv[1])
    width = max(len(t) for t, _ in times)
    rate = lt["inference_rate_per_s"]
    lines = [
        f"  busiest module: {lt['writes_per_module_per_inference']:.4g} stochastic writes + "
        f"{lt['resets_per_module_per_inference']:.4g} resets per inference → "
        f"{_num(lt['writes_per_module_per_s'])} writes/s at {_num(rate)} inferences/s ({lt['rate_source']})",
        f"  endurance Weibull η = {lt['endurance_cycles']:.3g} pulses, β = {lt['weibull_shape']:.3g} "
        f"(counting {lt['counted'].replace('_', ' ')}; {lt['modules']} modules, {lt['regenerate']}, {lt['granularity']})",
        *[f"  {t:{width}}  {_years(v)}" for t, v in times],
    ]
    if lt.get("note"):
        lines.append(f"  note: {lt['note']}")
    return lines


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.4g}"


def _lifetime_text(lt: dict) -> str:
    return "\n".join(["dropout-MTJ lifetime (wear-out of the stochastic MTJs; docs/dependability.md)",
                      *lifetime_lines(lt)])
