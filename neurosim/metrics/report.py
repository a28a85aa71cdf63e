"""One model's metrics and estimate levels side by side: a JSON-ready dict and its rich tables.

:func:`metrics_report` runs the counts once (:mod:`neurosim.metrics.counts`) and hands them to
every level in :data:`LEVELS` (``a``: the papers' method, ``b``: memory-aware), so a new level --
the cycle-level engine on a chip preset -- is one more entry, not edits here; and to the
NeuroBench metrics. :func:`print_metrics` prints a document made by :func:`metrics_report`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from neurosim.metrics.counts import Counts, from_activity, from_rates
from neurosim.metrics.memory import MemoryModel, memory_estimate
from neurosim.metrics.neurobench import neurobench_metrics
from neurosim.metrics.paper import paper_estimate

SCHEMA = "neurosim.metrics/1"


@dataclass(frozen=True)
class Level:
    """One estimate level: ``run(counts, earlier, options)`` -> an object with ``energy_pj``,
    ``as_dict()`` and ``layers`` (each with ``name`` and ``energy_pj``); ``earlier`` holds the
    results of the levels before it, by key."""

    key: str
    title: str
    run: Callable


def _level_a(counts, earlier, options):
    return paper_estimate(counts)


def _level_b(counts, earlier, options):
    return memory_estimate(counts, earlier["a"], options.get("memory"))


#: The estimate levels, in order; each may read the results of those before it.
LEVELS: list[Level] = [
    Level("a", "(a) papers' method: E_MAC*FL_first + E_AC*SOP", _level_a),
    Level("b", "(b) memory-aware: (a) + weight/membrane/activation traffic", _level_b),
]


def counts_of(graph, x=None, *, rates=None, steps: int | None = None, input_rate: float | None = None) -> Counts:
    """The counts of ``graph`` from an input ``x`` ``[T, B, *shape]`` (a recorded run), or from
    stated per-layer ``rates`` over ``steps`` timesteps."""
    from neurosim.metrics.activity import record

    if x is not None:
        return from_activity(graph, record(graph, x))
    return from_rates(graph, rates or {}, steps, input_rate=input_rate)


def metrics_report(graph, counts: Counts, *, memory: MemoryModel | None = None, model: str = "") -> dict:
    """NeuroBench metrics and every level of :data:`LEVELS` for ``counts`` of ``graph``."""
    results = {}
    for level in LEVELS:
        results[level.key] = level.run(counts, results, {"memory": memory})
    nb = neurobench_metrics(graph, counts)
    names = [p.name for p in counts.projections] + [p.name for p in counts.populations]
    order = {n: i for i, n in enumerate(graph.order)}
    names.sort(key=lambda n: order[n])
    rows = []
    proj = {p.name: p for p in counts.projections}
    pops = {p.name: p for p in counts.populations}
    for n in names:
        row = {"layer": n, "kind": type(graph.nodes[n]).__name__}
        if n in proj:
            p = proj[n]
            row.update(params=p.params, flops=p.flops, firing_rate_in=p.firing_rate, fl_mac=p.mac_steps * p.flops,
                       sop=p.sop, effective_macs=p.effective_macs, effective_acs=p.effective_acs)
        else:
            q = pops[n]
            row.update(neurons=q.neurons, spikes_out=q.spikes_out, membrane_updates=q.membrane_updates)
        for key, res in results.items():
            row[f"energy_{key}_pj"] = next((la.energy_pj for la in res.layers if la.name == n), 0.0)
        rows.append(row)
    return {
        "schema": SCHEMA,
        "model": model,
        "timesteps": counts.steps,
        "batch": counts.batch,
        "activity": "measured from a reference run" if counts.measured else
                    "from stated firing rates (membrane updates assume every neuron every step)",
        "per_sample": True,
        "neurobench": nb.as_dict(),
        "levels": {lv.key: {"title": lv.title, **results[lv.key].as_dict()} for lv in LEVELS},
        "layers": rows,
        "totals": {f"energy_{lv.key}_pj": results[lv.key].energy_pj for lv in LEVELS},
    }


def _num(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:.4g}"
    return f"{int(v):,}"


def engine_level(graph, x, chip: str) -> dict:
    """Level (c): one inference of ``graph`` on ``x``'s first sample through the cycle-level engine on the
    preset ``chip`` (:func:`neurosim.targets.neuromorphic.estimate.estimate`, the chip's arithmetic), or
    why it does not map: a node the engine cannot run yet, a model that does not fit the chip. The
    levels (a)/(b) price the same activity without a chip; (c) prices the events of the chip's own
    quantized run, so it need not equal them."""
    from neurosim.errors import CapacityError, ChipError, UnsupportedError
    from neurosim.targets.neuromorphic.estimate import estimate

    title = f"(c) cycle-level engine on {chip}"
    try:
        est = estimate(graph, chip, x[:, 0] if x.ndim == 2 + len(graph.nodes[graph.inputs[0]].shape) else x)
    except (UnsupportedError, CapacityError) as exc:
        return {"title": title, "maps": False, "why": str(exc)}
    except ChipError:
        raise
    return {"title": title, "maps": True, "energy_pj": float(est.energy_pj), "latency_s": float(est.latency_s),
            "energy_lower_bound": bool(est.lower_bound), "latency_lower_bound": bool(est.latency_lower_bound),
            "cores": int(len(est.energy_by_core_pj))}


def print_metrics(doc: dict, con) -> None:
    """Print a :func:`metrics_report` document: NeuroBench metrics, the per-layer levels, totals."""
    from rich.table import Table

    from neurosim.report.tables import print_line, print_table
    from neurosim.report.units import format_energy

    nb = doc["neurobench"]
    print_line(con, f"[bold]{doc['model'] or 'model'}[/]: {doc['timesteps']} timesteps, per sample "
                    f"(batch of {doc['batch']}); activity {doc['activity']}")
    t = Table(title="NeuroBench metrics (neurobench 2.3.0 definitions)")
    t.add_column("metric")
    t.add_column("value", justify="right")
    syn = nb["SynapticOperations"]
    nops = nb["NeuronOperations"]
    for k, v in (("ParameterCount", nb["ParameterCount"]), ("Footprint (bytes, parameters)", nb["Footprint"]),
                 ("ConnectionSparsity", nb["ConnectionSparsity"]), ("ActivationSparsity", nb["ActivationSparsity"]),
                 ("SynapticOperations Effective_MACs", syn["Effective_MACs"]),
                 ("SynapticOperations Effective_ACs", syn["Effective_ACs"]), ("SynapticOperations Dense", syn["Dense"]),
                 ("MembraneUpdates", nb["MembraneUpdates"]), ("Effective Neuron Ops", nops["Effective Neuron Ops"]),
                 ("Neuron Dense Ops", nops["Neuron Dense Ops"])):
        t.add_row(k, _num(v))
    print_table(con, t)
    keys = list(doc["levels"])
    t = Table(title="Estimate levels per layer (per sample)")
    for col in ("layer", "kind", "params", "FLOPs/step", "fr in", "FL_MAC", "SOP", "eff. MACs", "eff. ACs"):
        t.add_column(col, justify="left" if col in ("layer", "kind") else "right")
    for k in keys:
        t.add_column(f"E ({k})", justify="right")
    for r in doc["layers"]:
        t.add_row(r["layer"], r["kind"], _num(r.get("params")), _num(r.get("flops")), _num(r.get("firing_rate_in")),
                  _num(r.get("fl_mac")), _num(r.get("sop")), _num(r.get("effective_macs")),
                  _num(r.get("effective_acs")), *(format_energy(r[f"energy_{k}_pj"]) for k in keys))
    t.add_row("total", "", _num(nb["ParameterCount"]), "", "", _num(doc["levels"]["a"]["fl_mac"]),
              _num(doc["levels"]["a"]["sop"]), _num(syn["Effective_MACs"]), _num(syn["Effective_ACs"]),
              *(format_energy(doc["totals"][f"energy_{k}_pj"]) for k in keys), style="bold")
    print_table(con, t)
    for k in keys:
        lv = doc["levels"][k]
        print_line(con, f"{lv['title']}: {format_energy(lv['energy_pj'])}")
    c = doc.get("engine")
    if c is not None and c["maps"]:
        bound = " (lower bound: unpriced events)" if c["energy_lower_bound"] else ""
        print_line(con, f"{c['title']}: {format_energy(c['energy_pj'])}{bound}, latency {c['latency_s']:.3g} s "
                        f"per inference (its own quantized run; `neurosim estimate` for the breakdown)")
    elif c is not None:
        print_line(con, f"{c['title']}: does not map -- {c['why']}")
    a = doc["levels"]["a"]
    print_line(con, f"  (a) {a['source']}; {a['note']}")
    if "b" in doc["levels"]:
        b = doc["levels"]["b"]
        pl = b["placement"]
        print_line(con, f"  (b) weights in {pl['weights']} ({_num(pl['weight_bytes'])} B), membranes in "
                        f"{pl['membranes']} ({_num(pl['membrane_bytes'])} B), activations in {pl['activations']}; "
                        f"compute {format_energy(b['compute_pj'])} + weights {format_energy(b['weight_pj'])} + "
                        f"membranes {format_energy(b['membrane_pj'])} + activations "
                        f"{format_energy(b['activation_pj'])} ({b['memory_file']})")
