"""The estimate report: a versioned JSON document, a terminal summary and plots.

Schema ``neurosim-estimate`` version :data:`SCHEMA_VERSION`; top-level keys: ``schema``,
``version``, ``model``, ``chip``, ``method``, ``notes``, ``mapping``, ``totals``, ``per_event``,
``per_layer``, ``per_core``, ``per_timestep``, ``busiest``, ``unknown_events``, ``synops``,
``comparison``, ``quantization``. Energies are in pJ, times in seconds, cycles in core cycles.
Files are written atomically; the JSON last, so a report folder with ``report.json`` is complete.
"""

from __future__ import annotations


import numpy as np

from neurosim.report.units import format_energy, format_time

SCHEMA = "neurosim-estimate"
SCHEMA_VERSION = 1

OP_COUNT_NOTE = ("The op-count (synops) method prices only first-layer MACs and synaptic accumulates; it leaves "
                 "out memory traffic, neuron updates, spike routing on the mesh and static power, which the cycle "
                 "method includes.")


def _f(x) -> float | None:
    x = float(x)
    return None if np.isnan(x) else x


def to_dict(est, model_name: str = "") -> dict:
    res = est.result
    chip = est.chip
    mapping = res.mapping
    core_pop = list(mapping.core_population)
    cycles = res.core_cycles
    per_event = {}
    for ev, count in est.counts_total.items():
        const = chip.energy_pj.get(ev)
        per_event[ev] = {
            "count": int(count),
            "energy_pj": _f(est.energy_by_event_pj.get(ev, 0.0)) if ev not in est.unknown_events else None,
            "constant_pj": None if const is None or const.value is None else float(const.value),
            "source": None if const is None else const.source,
        }
    per_layer = {}
    for p in dict.fromkeys(core_pop):
        cores = [i for i, q in enumerate(core_pop) if q == p]
        per_layer[p] = {"cores": len(cores), "neurons": int(sum(np.diff(mapping.core_range[cores], axis=1)[:, 0])),
                        "energy_pj": est.energy_by_layer_pj[p], "counts": est.counts_by_layer[p],
                        "spikes": int(res.spikes[p].sum())}
    busy = est.core_busy if est.core_busy is not None else cycles
    step_units = busy.max(axis=1) if busy.size else np.zeros(res.steps)
    per_core = []
    for c in range(mapping.n_cores):
        core_busy = busy[:, c]
        per_core.append({
            "core": c, "layer": core_pop[c], "chip": int(mapping.core_chip[c]),
            "xy": [int(v) for v in mapping.core_xy[c]],
            "neurons": int(mapping.core_range[c][1] - mapping.core_range[c][0]),
            "energy_pj": float(est.energy_by_core_pj[c]),
            "cycles_total": int(cycles[:, c].sum()),
            "busy_total": float(core_busy.sum()),
            "busy_unit": est.busy_unit,
            "utilisation": float(core_busy.sum() / max(1e-30, step_units.sum())),
            "synaptic_ops": int(res.counts["synaptic_op"][:, c].sum()),
        })
    busiest_core = max(per_core, key=lambda r: r["busy_total"]) if per_core else None
    load = res.link_load
    if load.size and load.max() > 0:
        x, y, d = np.unravel_index(int(load.argmax()), load.shape)
        busiest_link = {"from": [int(x), int(y)], "direction": "EWNS"[d], "packets": int(load.max())}
    else:
        busiest_link = None
    spikes_per_step = sum(res.spikes[p].reshape(res.steps, -1).sum(axis=1) for p in res.spikes)
    doc = {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "model": {"name": model_name, "layers": list(per_layer), "semantics_profile": est.graph.semantics.profile},
        "chip": {"name": chip.name, "timing": chip.timing, "clock_hz": chip.clock_hz, "description": chip.description},
        "method": est.method,
        "notes": list(est.notes),
        "mapping": {"cores": mapping.n_cores, "chips": mapping.n_chips, "grid": list(mapping.grid),
                    "cores_per_layer": {p: v["cores"] for p, v in per_layer.items()}},
        "totals": {
            "timesteps": est.steps,
            "energy_pj": float(est.total_pj),
            "dynamic_energy_pj": float(est.total_pj - est.static_pj),
            "static_energy_pj": float(est.static_pj),
            "energy_per_timestep_pj": float(est.total_pj / max(1, est.steps)),
            "latency_s": _f(np.nansum(est.step_s)) if not np.all(np.isnan(est.step_s)) else None,
            "latency_per_timestep_s": _f(np.nanmean(est.step_s)) if not np.all(np.isnan(est.step_s)) else None,
            "cycles": None if est.step_cycles is None else int(np.sum(est.step_cycles)),
            "spikes": int(sum(v["spikes"] for v in per_layer.values())),
        },
        "per_event": per_event,
        "per_layer": per_layer,
        "per_core": per_core,
        "per_timestep": {
            "latency_s": [_f(v) for v in est.step_s],
            "cycles": None if est.step_cycles is None else [int(v) for v in est.step_cycles],
            "energy_pj": [float(v) for v in est.energy_by_step_pj],
            "spikes": [int(v) for v in spikes_per_step] if res.spikes else [],
        },
        "busiest": {"core": busiest_core, "link": busiest_link},
        "unknown_events": list(est.unknown_events),
        "synops": est.synops,
        "comparison": {"cycle_method_pj": float(est.total_pj), "synops_method_pj": float(est.synops["energy_pj"]),
                       "ratio_cycle_over_synops": float(est.total_pj / est.synops["energy_pj"]) if est.synops["energy_pj"] else None,
                       "note": OP_COUNT_NOTE},
        "quantization": est.quantization,
    }
    return doc


def write_report(est, out_dir, model_name: str = "", plots: bool = True) -> dict:
    """Write the plots and ``report.json`` into ``out_dir``; return the document."""
    from neurosim.report import document
    from neurosim.targets.neuromorphic.plots import write_plots

    return document.write_report(to_dict(est, model_name), out_dir, (lambda out: write_plots(est, out)) if plots else None)


def print_summary(doc: dict, console) -> None:
    from rich.table import Table

    t = doc["totals"]
    console.print(f"[bold]{doc['model']['name']}[/] on [bold]{doc['chip']['name']}[/]: {doc['mapping']['cores']} cores "
                  f"on {doc['mapping']['chips']} chip(s); {t['timesteps']} timesteps, {t['spikes']:,} spikes")
    console.print(f"energy per inference: [bold]{format_energy(t['energy_pj'])}[/] "
                  f"(dynamic {format_energy(t['dynamic_energy_pj'])}, static {format_energy(t['static_energy_pj'])}); "
                  f"latency: {format_time(t['latency_per_timestep_s'])} per timestep, "
                  f"{format_time(t['latency_s'])} per inference")
    ev = Table(title="energy by event type")
    for col in ("event", "count", "pJ each", "energy", "share"):
        ev.add_column(col, justify="left" if col == "event" else "right")
    total = max(doc["totals"]["dynamic_energy_pj"], 1e-30)
    for name, row in doc["per_event"].items():
        if not row["count"]:
            continue
        ev.add_row(name, f"{row['count']:,}", "unknown" if row["constant_pj"] is None else f"{row['constant_pj']:g}",
                   format_energy(row["energy_pj"]), "" if row["energy_pj"] is None else f"{row['energy_pj'] / total:.1%}")
    console.print(ev)
    ly = Table(title="by layer")
    for col in ("layer", "cores", "neurons", "spikes", "synaptic ops", "energy"):
        ly.add_column(col, justify="left" if col == "layer" else "right")
    for name, row in doc["per_layer"].items():
        ly.add_row(name, str(row["cores"]), f"{row['neurons']:,}", f"{row['spikes']:,}",
                   f"{row['counts']['synaptic_op']:,}", format_energy(row["energy_pj"]))
    console.print(ly)
    b = doc["busiest"]
    if b["core"]:
        c = b["core"]
        console.print(f"busiest core: {c['core']} ({c['layer']}, at {tuple(c['xy'])}), busy {c['busy_total']:,.0f} "
                      f"{c['busy_unit']} over the inference, {c['utilisation']:.0%} of the critical core's time")
    if b["link"]:
        console.print(f"busiest link: router {tuple(b['link']['from'])} {b['link']['direction']}, "
                      f"{b['link']['packets']:,} packets")
    if doc["unknown_events"]:
        console.print(f"[yellow]not priced (constant unknown for {doc['chip']['name']}):[/] {', '.join(doc['unknown_events'])}")
    s = doc["synops"]
    console.print(f"op-count method (synops): {format_energy(s['energy_pj'])} = {s['first_layer_macs']:,.0f} MACs x "
                  f"{s['e_mac_pj']} pJ + {s['synaptic_ops']:,.0f} SOPs x {s['e_ac_pj']} pJ ({s['constants_from']}); "
                  f"cycle method / synops = {doc['comparison']['ratio_cycle_over_synops'] or float('nan'):.2f}")
    console.print(f"[dim]{OP_COUNT_NOTE}[/]")
