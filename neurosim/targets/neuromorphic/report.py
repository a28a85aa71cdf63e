"""The estimate report: a versioned JSON document, a terminal summary and plots.

Schema ``neurosim-estimate`` version :data:`SCHEMA_VERSION`; top-level keys: ``schema``,
``version``, ``model``, ``chip``, ``method``, ``arith``, ``notes``, ``mapping``, ``totals``,
``cycle``, ``per_event``, ``per_layer``, ``per_core``, ``per_timestep``, ``busiest``,
``unknown_events``, ``synops``, ``comparison``, ``quantization``, ``quantization_effect``.
Energies are in pJ, times in seconds, cycles in core cycles.

``totals``, ``per_layer[*].energy_pj``, ``per_core[*].energy_pj`` and ``per_timestep.energy_pj``
follow the chosen ``method`` (``cycle`` or ``synops``); ``cycle`` always holds the cycle method's
totals and ``synops`` the op-count method's. An unknown value is ``null``, never 0: an unpriced
event's ``energy_pj``, an unknown static energy. ``totals.lower_bound`` is true when the energy
leaves out something unknown (``totals.unpriced_events``: the event types that occurred without a
published constant; ``totals.static_unknown``), ``totals.latency_lower_bound`` when an event
latency is unknown (``totals.unpriced_latencies``). ``busiest.link`` is null when no packet crossed
a router, and ``busiest.link_reason`` then says why.

Files are written atomically; the JSON last, so a report folder with ``report.json`` is complete.
"""

from __future__ import annotations

import numpy as np

from neurosim.report.tables import print_line, print_table
from neurosim.report.units import format_energy, format_time, format_time_ns

SCHEMA = "neurosim-estimate"
SCHEMA_VERSION = 2

OP_COUNT_NOTE = ("The op-count (synops) method prices only first-layer MACs and synaptic accumulates; it leaves "
                 "out memory traffic, neuron updates, spike routing on the mesh and static power, which the cycle "
                 "method includes.")

NO_LINK_IN_TILE = "no packet crossed a router: all traffic stayed inside a tile"
NO_LINK_NO_TRAFFIC = "no packet crossed a router: no spike travelled between cores"


def _f(x) -> float | None:
    x = float(x)
    return None if np.isnan(x) else x


def layer_label(name: str, node=None) -> str:
    """How a layer is named to a reader: its node name (``fc1.lif``); a bare numeric id, as NIR
    files often give, gets its type and size: ``layer 1 (LIF 128)``."""
    if node is None or not name.isdigit():
        return name
    size = getattr(node, "size", None)
    return f"layer {name} ({type(node).__name__}{'' if size is None else f' {size}'})"


def lower_bound_text(unpriced: list[str], occurred: int, static_unknown: bool) -> str:
    """The headline's qualifier: ``"lower bound (2 of 8 event types unpriced: a, b; static power
    unknown)"``, or ``""`` when nothing is left out."""
    parts = []
    if unpriced:
        parts.append(f"{len(unpriced)} of {occurred} event types unpriced: {', '.join(unpriced)}")
    if static_unknown:
        parts.append("static power unknown")
    return f"lower bound ({'; '.join(parts)})" if parts else ""


def _link_reason(res) -> str:
    hops = int(res.counts["hop_ew"].sum() + res.counts["hop_ns"].sum()) if "hop_ew" in res.counts else 0
    if hops == 0 and int(res.counts.get("spike_in_tile", np.zeros(1)).sum()) > 0:
        return NO_LINK_IN_TILE
    return NO_LINK_NO_TRAFFIC


def to_dict(est, model_name: str = "") -> dict:
    res = est.result
    chip = est.chip
    mapping = res.mapping
    core_pop = list(mapping.core_population)
    cycles = res.core_cycles
    synops_mode = est.method == "synops"
    syn_core = est.synops_by_step_core_pj
    if syn_core is None:  # an Estimate assembled elsewhere (bench): no op-count split
        syn_core = np.zeros_like(np.asarray(cycles, dtype=float))
    per_event = {}
    for ev, count in est.counts_total.items():
        const = chip.energy_pj.get(ev)
        priced = const is not None and const.value is not None
        per_event[ev] = {
            "count": int(count),
            "energy_pj": _f(est.energy_by_event_pj.get(ev, 0.0)) if priced else None,
            "constant_pj": float(const.value) if priced else None,
            "status": "priced" if priced else ("not applicable" if getattr(const, "not_applicable", False)
                                               else "unknown"),
            "source": None if const is None else const.source,
        }
    per_layer = {}
    for p in dict.fromkeys(core_pop):
        cores = [i for i, q in enumerate(core_pop) if q == p]
        node = est.graph.nodes.get(p) if hasattr(est.graph, "nodes") else None
        cycle_pj = float(est.energy_by_layer_pj[p])
        syn_pj = float(syn_core[:, cores].sum())
        per_layer[p] = {"label": layer_label(p, node), "type": type(node).__name__ if node is not None else None,
                        "cores": len(cores),
                        "neurons": int(sum(np.diff(mapping.core_range[cores], axis=1)[:, 0])),
                        "energy_pj": syn_pj if synops_mode else cycle_pj,
                        "energy_pj_by_method": {"cycle": cycle_pj, "synops": syn_pj},
                        "counts": est.counts_by_layer[p], "spikes": int(res.spikes[p].sum())}
    busy = est.core_busy if est.core_busy is not None else cycles
    step_units = busy.max(axis=1) if busy.size else np.zeros(res.steps)
    core_energy = syn_core.sum(axis=0) if synops_mode else est.energy_by_core_pj
    host = getattr(mapping, "core_host", None)
    per_core = []
    for c in range(mapping.n_cores):
        core_busy = busy[:, c]
        per_core.append({
            "core": c, "layer": core_pop[c], "chip": int(mapping.core_chip[c]),
            "xy": [int(v) for v in mapping.core_xy[c]],
            "tile": int(mapping.core_tile[c]),
            "physical_core": int(host[c]) if host is not None else c,
            "neurons": int(mapping.core_range[c][1] - mapping.core_range[c][0]),
            "energy_pj": float(core_energy[c]),
            "cycles_total": int(cycles[:, c].sum()),
            "busy_total": float(core_busy.sum()),
            "busy_unit": est.busy_unit,
            "utilisation": float(core_busy.sum() / max(1e-30, step_units.sum())),
            "synaptic_ops": int(res.counts["synaptic_op"][:, c].sum()),
        })
    busiest_core = max(per_core, key=lambda r: r["busy_total"]) if per_core else None
    load = res.link_load
    link_reason = None
    if load.size and load.max() > 0:
        x, y, d = np.unravel_index(int(load.argmax()), load.shape)
        busiest_link = {"from": [int(x), int(y)], "direction": "EWNS"[d], "packets": int(load.max())}
    else:
        busiest_link = None
        link_reason = _link_reason(res)
    spikes_per_step = sum(res.spikes[p].reshape(res.steps, -1).sum(axis=1) for p in res.spikes)
    latency_known = not np.all(np.isnan(est.step_s))
    occurred = [e for e, v in est.counts_total.items() if v]
    unpriced = [e for e in est.unknown_events if est.counts_total.get(e)]
    static_unknown = bool(getattr(est, "static_unknown", False))
    unknown_latencies = list(getattr(est, "unknown_latencies", ()))
    cycle_totals = {
        "energy_pj": float(est.total_pj),
        "dynamic_energy_pj": float(est.total_pj - est.static_pj),
        "static_energy_pj": None if static_unknown else float(est.static_pj),
        "energy_per_timestep_pj": float(est.total_pj / max(1, est.steps)),
        "lower_bound": bool(unpriced) or static_unknown,
        "unpriced_events": unpriced,
        "event_types_occurred": len(occurred),
        "static_unknown": static_unknown,
        # priced 0 because the preset's event energies include it (TrueNorth's 26 pJ per synaptic event)
        "static_included": (not static_unknown and est.static_pj == 0
                            and est.chip.static_power_w.source.lower().startswith("accounting:")),
    }
    syn_total = float(est.synops["energy_pj"])
    energy = {"energy_pj": syn_total, "dynamic_energy_pj": syn_total, "static_energy_pj": None,
              "energy_per_timestep_pj": syn_total / max(1, est.steps), "lower_bound": False, "unpriced_events": [],
              "event_types_occurred": len(occurred), "static_unknown": False} if synops_mode else dict(cycle_totals)
    doc = {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "model": {"name": model_name, "layers": list(per_layer), "semantics_profile": est.graph.semantics.profile},
        "chip": {"name": chip.name, "timing": chip.timing, "clock_hz": chip.clock_hz, "description": chip.description},
        "method": est.method,
        "arith": getattr(est, "arith", "chip"),
        "notes": list(est.notes),
        "mapping": {"cores": mapping.n_cores, "chips": mapping.n_chips, "grid": list(mapping.grid),
                    "cores_per_tile": int(getattr(chip, "cores_per_tile", 1) or 1),
                    "physical_cores": len(set(host.tolist())) if host is not None else mapping.n_cores,
                    "neurons_per_core": getattr(mapping, "neurons_per_core", None),
                    "violations": [{"core": int(v.core), "resource": v.resource, "needed": int(v.needed),
                                    "limit": int(v.limit)} for v in getattr(mapping, "violations", ())],
                    "cores_per_layer": {p: v["cores"] for p, v in per_layer.items()}},
        "totals": {
            "method": est.method,
            "timesteps": est.steps,
            **energy,
            "latency_s": _f(np.nansum(est.step_s) + est.extra_latency_s) if latency_known else None,
            "latency_per_timestep_s": _f(np.nanmean(est.step_s)) if latency_known else None,
            "latency_lower_bound": bool(unknown_latencies),
            "unpriced_latencies": unknown_latencies,
            "cycles": None if est.step_cycles is None else int(np.sum(est.step_cycles)),
            "spikes": int(sum(v["spikes"] for v in per_layer.values())),
        },
        "cycle": cycle_totals,
        "per_event": per_event,
        "per_layer": per_layer,
        "per_core": per_core,
        "per_timestep": {
            "latency_s": [_f(v) for v in est.step_s],
            "cycles": None if est.step_cycles is None else [int(v) for v in est.step_cycles],
            "energy_pj": [float(v) for v in (syn_core.sum(axis=1) if synops_mode else est.energy_by_step_pj)],
            "spikes": [int(v) for v in spikes_per_step] if res.spikes else [],
        },
        "busiest": {"core": busiest_core, "link": busiest_link, "link_reason": link_reason},
        "unknown_events": list(est.unknown_events),
        "synops": {**est.synops, "by_layer": getattr(est, "synops_by_layer_pj", {})},
        "comparison": {"cycle_method_pj": float(est.total_pj), "synops_method_pj": syn_total,
                       "ratio_cycle_over_synops": float(est.total_pj / syn_total) if syn_total else None,
                       "cycle_method_lower_bound": cycle_totals["lower_bound"],
                       "note": OP_COUNT_NOTE},
        "quantization": est.quantization,
        "quantization_effect": getattr(est, "quantization_effect", None),
    }
    return doc


def write_report(est, out_dir, model_name: str = "", plots: bool = True) -> dict:
    """Write the plots and ``report.json`` into ``out_dir``; return the document."""
    from neurosim.report import document
    from neurosim.targets.neuromorphic.plots import write_plots

    return document.write_report(to_dict(est, model_name), out_dir, (lambda out: write_plots(est, out)) if plots else None)


# -- the terminal summary ---------------------------------------------------------------------------

def _pct(x: float | None) -> str:
    return "unknown" if x is None else f"{x:.1%}"


def headline(doc: dict) -> str:
    """The energy and latency line (plain text, no markup): the chosen method's energy, marked a
    lower bound where something is unpriced, and the latency, marked where an event latency is."""
    t = doc["totals"]
    lat_mark = " (lower bound)" if t.get("latency_lower_bound") else ""
    latency = (f"latency: {format_time(t['latency_per_timestep_s'])} per timestep{lat_mark}, "
               f"{format_time(t['latency_s'])} per inference")
    if doc["method"] == "synops":
        return f"energy per inference: {format_energy(t['energy_pj'])} (op-count method, synops); {latency}"
    qualifier = lower_bound_text(t.get("unpriced_events", []), t.get("event_types_occurred", 0),
                                 t.get("static_unknown", False))
    return f"energy per inference: {format_energy(t['energy_pj'])}{' ' + qualifier if qualifier else ''}; {latency}"


def _constant_text(row: dict) -> str:
    if row.get("status") == "not applicable":
        return "n/a"
    if row["constant_pj"] is None:
        return "unknown"
    if row["constant_pj"] == 0 and str(row.get("source") or "").startswith("accounting: included"):
        return "0 (in others)"
    return format_energy(row["constant_pj"])


def _event_table(doc: dict, title: str):
    from rich.table import Table

    ev = Table(title=title)
    for col in ("event", "count", "energy each", "energy", "share"):
        ev.add_column(col, justify="left" if col == "event" else "right")
    cycle = doc.get("cycle", doc["totals"])
    total = max(cycle["dynamic_energy_pj"], 1e-30)
    for name, row in doc["per_event"].items():
        if not row["count"]:
            continue
        unknown = row["energy_pj"] is None
        ev.add_row(name, f"{row['count']:,}", _constant_text(row),
                   "[yellow]unknown[/]" if unknown else format_energy(row["energy_pj"]),
                   "unknown" if unknown else f"{row['energy_pj'] / total:.1%}")
    return ev


def _layer_table(doc: dict):
    from rich.table import Table

    synops = doc["method"] == "synops"
    effect = doc.get("quantization_effect") or {}
    qlayers = effect.get("layers", {})
    ly = Table(title="by layer")
    cols = ["layer", "type", "cores", "neurons", "spikes"]
    if qlayers:
        cols += ["float spikes", "neurons changed"]
    cols += ["synaptic ops", "energy (synops)" if synops else "energy"]
    if synops:
        cols.append("cycle method")
    for col in cols:
        ly.add_column(col, justify="left" if col in ("layer", "type") else "right")
    for name, row in doc["per_layer"].items():
        cells = [name, row.get("type") or "", str(row["cores"]), f"{row['neurons']:,}", f"{row['spikes']:,}"]
        if qlayers:
            q = qlayers.get(name)
            cells += [f"{q['float_spikes']:,}", f"{q['changed_fraction']:.1%}"] if q else ["", ""]
        cells += [f"{row['counts']['synaptic_op']:,}", format_energy(row["energy_pj"])]
        if synops:
            cells.append(format_energy(row.get("energy_pj_by_method", {}).get("cycle")))
        ly.add_row(*cells)
    return ly


def quantization_warning(effect: dict | None) -> str | None:
    """The one-line warning when quantization changed the spikes above the thresholds, else None."""
    if not effect or not effect.get("warn"):
        return None
    t, th = effect["total"], effect["thresholds"]
    change = "n/a (no float spikes)" if t["spike_change"] is None else f"{t['spike_change']:+.1%}"
    return (f"quantization changed the activity: {t['fixed_spikes']:,} spikes in fixed point vs {t['float_spikes']:,} "
            f"in float ({change}), {t['changed_fraction']:.1%} of the neurons changed their spike count "
            f"(warned above {th['spike_change']:.0%} / {th['changed_fraction']:.0%}; --arith float prices the float "
            f"spike trains)")


def print_summary(doc: dict, console) -> None:
    t = doc["totals"]
    chips = doc["mapping"]["chips"]
    arith = doc.get("arith", "chip")
    print_line(console, f"[bold]{doc['model']['name']}[/] on [bold]{doc['chip']['name']}[/]: "
                        f"{doc['mapping']['cores']} core{'s' if doc['mapping']['cores'] != 1 else ''} on {chips} "
                        f"chip{'s' if chips != 1 else ''}; {t['timesteps']} timesteps, {t['spikes']:,} spikes"
                        + ("; float arithmetic (--arith float)" if arith == "float" else ""))
    print_line(console, headline(doc), markup=False)
    violations = doc["mapping"].get("violations") or []
    if violations:
        print_line(console, f"[yellow]what-if mapping (--allow-overcapacity): {len(violations)} capacity limit(s) "
                            f"exceeded:[/] " + "; ".join(
                                f"{'the board' if v['core'] < 0 else 'core ' + str(v['core'])}: {v['resource']} "
                                f"{v['needed']:,} > {v['limit']:,}" for v in violations))
    cycle = doc.get("cycle", t)
    if doc["method"] == "synops":
        s = doc["synops"]
        print_line(console, f"  = {s['first_layer_macs']:,.0f} first-layer MACs x {format_energy(s['e_mac_pj'])} + "
                            f"{s['synaptic_ops']:,.0f} synaptic ops x {format_energy(s['e_ac_pj'])} "
                            f"(constants of {s['constants_from']})")
        qual = lower_bound_text(cycle["unpriced_events"], cycle["event_types_occurred"], cycle["static_unknown"])
        print_line(console, f"  cycle method, for comparison: {format_energy(cycle['energy_pj'])}"
                            f"{' ' + qual if qual else ''}", markup=False)
    else:
        static = format_energy(cycle["static_energy_pj"])
        if cycle.get("static_included"):  # a point model whose event energies already hold the static power
            static = "0 (included in the event energies)"
        print_line(console, f"  dynamic {format_energy(cycle['dynamic_energy_pj'])}, static {static}")
    for note in doc["notes"]:
        print_line(console, f"  note: {note}", markup=False)
    warning = quantization_warning(doc.get("quantization_effect"))
    if warning:
        print_line(console, f"[yellow]warning: {warning}[/]")
    elif doc.get("quantization_effect"):
        e = doc["quantization_effect"]["total"]
        change = "n/a" if e["spike_change"] is None else f"{e['spike_change']:+.1%}"
        print_line(console, f"  quantization: {e['fixed_spikes']:,} spikes in fixed point vs {e['float_spikes']:,} in "
                            f"float ({change}), {e['changed_fraction']:.1%} of the neurons changed their spike count")
    title = "energy by event type" + (" (cycle method, for comparison)" if doc["method"] == "synops" else "")
    print_table(console, _event_table(doc, title))
    print_table(console, _layer_table(doc))
    b = doc["busiest"]
    if b["core"]:
        c = b["core"]
        busy = (format_time_ns(c["busy_total"]) if c["busy_unit"] == "ns" else f"{c['busy_total']:,.0f} cycles")
        layer = doc["per_layer"].get(c["layer"], {})
        kind = f", {layer['type']} {layer['neurons']:,}" if layer.get("type") else ""
        print_line(console, f"busiest core: core {c['core']} (layer {c['layer']!r}{kind}, router {tuple(c['xy'])}, "
                            f"chip {c['chip']}), "
                            f"busy {busy} over the inference = {c['utilisation']:.0%} of the critical core's time",
                   markup=False)
    if b["link"]:
        direction = {"E": "east", "W": "west", "N": "north", "S": "south"}[b["link"]["direction"]]
        print_line(console, f"busiest link: router {tuple(b['link']['from'])} -> {direction}, "
                            f"{b['link']['packets']:,} packets over the inference")
    else:
        print_line(console, f"busiest link: none ({b.get('link_reason') or NO_LINK_NO_TRAFFIC})")
    if doc["unknown_events"]:
        print_line(console, f"[yellow]not priced (no published constant for {doc['chip']['name']}):[/] "
                            f"{', '.join(doc['unknown_events'])}")
    if doc["method"] != "synops":
        s = doc["synops"]
        ratio = doc["comparison"]["ratio_cycle_over_synops"]
        print_line(console, f"op-count method (synops), for comparison: {format_energy(s['energy_pj'])} = "
                            f"{s['first_layer_macs']:,.0f} MACs x {format_energy(s['e_mac_pj'])} + "
                            f"{s['synaptic_ops']:,.0f} SOPs x {format_energy(s['e_ac_pj'])} ({s['constants_from']}); "
                            f"cycle method / synops = {'unknown' if ratio is None else f'{ratio:.2f}'}")
    print_line(console, f"[dim]{OP_COUNT_NOTE}[/]")
