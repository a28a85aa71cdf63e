"""The SAT training report: a versioned JSON document, a terminal table and plots.

Schema ``neurosim-sat`` version :data:`SCHEMA_VERSION`; top-level keys: ``schema``, ``version``,
``model``, ``accelerator``, ``nm``, ``batch``, ``totals`` (dense and sparse step: cycles, time,
utilisation, DRAM bytes, energy; speedup and the ideal bound), ``phases`` (per phase, dense and
sparse), ``layers`` (per layer and phase), ``ablation``, ``patterns``, ``plots``.
Cycles are accelerator cycles, times seconds, energies pJ. ``report.json`` is written last and
atomically with its plots, so a folder holding it is complete; it holds no wall-clock time (the
command prints the modelling time on the terminal), so the same command writes the same bytes.
"""

from __future__ import annotations

from dataclasses import asdict

from neurosim.targets.sat.model.step import PHASES, StepResult
from neurosim.targets.sat.study import SATStudy
from neurosim.report.tables import print_line, print_table
from neurosim.report.units import format_energy, format_time

SCHEMA = "neurosim-sat"
SCHEMA_VERSION = 1
PHASE_NAMES = {"fwd": "forward", "bwd": "backward-data", "wg": "weight-gradient"}


def _step(r: StepResult) -> dict:
    dram = sum(r.phase_total(p).dram_bytes for p in PHASES)
    return {"cycles": r.cycles, "time_s": r.time_s, "utilisation": r.utilisation(), "dram_bytes": dram,
            "energy_pj": r.total_energy_pj, "energy_by_kind_pj": dict(r.energy_pj), "breakdown_cycles": r.breakdown()}


def to_dict(s: SATStudy) -> dict:
    cfg = s.config
    layers = []
    for d, sp in zip(s.dense.layers, s.sparse.layers):
        row = {"name": d.name, "kind": d.kind, "dense_cycles": d.cycles, "sparse_cycles": sp.cycles,
               "speedup": d.cycles / sp.cycles if sp.cycles else None, "phases": {}}
        g = next((g for g in s.workload.gemms if g.name == d.name), None)
        if g is not None:
            row["gemm"] = {"m": g.m * s.batch, "k": g.k, "n": g.n, "count": g.count, "weighted": g.weighted,
                           "sparse": any(sp.phases[p].sparse for p in PHASES)}
        for p in PHASES:
            dp, spp = d.phases[p], sp.phases[p]
            row["phases"][p] = {"dense": asdict(dp), "sparse": asdict(spp)}
        layers.append(row)
    return {
        "schema": SCHEMA, "version": SCHEMA_VERSION,
        "model": {"name": s.workload.name, "source": s.workload.source, "input_shape": list(s.workload.input_shape),
                  "gemm_layers": len(s.workload.gemms), "vector_layers": len(s.workload.vectors),
                  "macs_per_sample": s.workload.macs(1)},
        "accelerator": {"name": cfg.name, "rows": cfg.rows, "cols": cfg.cols, "lanes": cfg.lanes,
                        "window": cfg.window, "clock_hz": cfg.clock_hz, "dram_bytes_per_s": cfg.dram_bytes_per_s,
                        "dataflow": {k: getattr(cfg, k) for k in ("interleave", "pregenerate", "offline_schedule")},
                        "patterns": [f"{n}:{m}" for n, m in cfg.patterns]},
        "nm": f"{s.sparse.nm[0]}:{s.sparse.nm[1]}", "batch": s.batch,
        "totals": {"dense": _step(s.dense), "sparse": _step(s.sparse), "speedup": s.speedup,
                   "ideal_speedup": s.ideal, "mac_speedup": s.mac_speedup},
        "phases": {p: {"dense_cycles": s.dense.phase_total(p).cycles, "sparse_cycles": s.sparse.phase_total(p).cycles,
                       "dense_time_s": s.dense.phase_total(p).cycles / cfg.clock_hz,
                       "sparse_time_s": s.sparse.phase_total(p).cycles / cfg.clock_hz,
                       "dense_utilisation": s.dense.phase_utilisation(p),
                       "sparse_utilisation": s.sparse.phase_utilisation(p),
                       "dense_dram_bytes": s.dense.phase_total(p).dram_bytes,
                       "sparse_dram_bytes": s.sparse.phase_total(p).dram_bytes,
                       "dense_energy_pj": s.dense.phase_energy_pj(p),
                       "sparse_energy_pj": s.sparse.phase_energy_pj(p),
                       "sparse_stall_cycles": s.sparse.phase_total(p).stall_cycles,
                       "sparse_generator_cycles": s.sparse.phase_total(p).generator_cycles}
                   for p in PHASES},
        "layers": layers,
        "ablation": [asdict(a) for a in s.ablation],
        "patterns": [{"nm": f"{p.nm[0]}:{p.nm[1]}", "cycles": p.cycles, "speedup": p.speedup, "ideal": p.ideal}
                     for p in s.patterns],
    }


def write_report(s: SATStudy, out_dir, plots: bool = True) -> dict:
    """Write the plots and ``report.json`` into ``out_dir``; return the document."""
    from neurosim.report import document
    from neurosim.targets.sat.plots import write_plots

    doc = to_dict(s)
    return document.write_report(doc, out_dir, (lambda out: write_plots(doc, out)) if plots else None)


def print_summary(doc: dict, console, top: int = 0) -> None:
    """The step totals, the phases, the per-layer table (``top`` > 0: only the longest layers)."""
    from rich.table import Table

    t = doc["totals"]
    d, sp = t["dense"], t["sparse"]
    acc = doc["accelerator"]
    print_line(console, f"[bold]{doc['model']['name']}[/] training step, batch {doc['batch']}, on [bold]{acc['name']}[/] "
                  f"({acc['rows']}x{acc['cols']} PEs x {acc['lanes']} lanes, {acc['clock_hz'] / 1e6:g} MHz)")
    print_line(console, f"dense: {d['cycles']:,} cycles = {format_time(d['time_s'])}, utilisation {d['utilisation']:.0%}, "
                  f"DRAM {d['dram_bytes'] / 1e6:,.1f} MB, energy {format_energy(d['energy_pj'])}")
    print_line(console, f"{doc['nm']}:  {sp['cycles']:,} cycles = {format_time(sp['time_s'])}, utilisation "
                  f"{sp['utilisation']:.0%}, DRAM {sp['dram_bytes'] / 1e6:,.1f} MB, energy "
                  f"{format_energy(sp['energy_pj'])}")
    bd, bs = d["breakdown_cycles"], sp["breakdown_cycles"]
    print_line(console, "where the cycles go (dense -> " + doc["nm"] + "): " + ", ".join(
        f"{k} {bd[k] / d['cycles']:.0%} -> {bs[k] / d['cycles']:.0%}" for k in bd) + " (shares of the dense step)")
    print_line(console, f"speedup over dense: [bold]{t['speedup']:.2f}x[/]; compute-only bounds: {t['mac_speedup']:.2f}x for "
                  f"this network's executed MACs, {t['ideal_speedup']:.2f}x = 3/(2N/M+1) with every layer sparse")
    ph = Table(title=f"by phase (dense -> {doc['nm']})")
    for col in ("phase", "cycles", "time", "speedup", "utilisation", "DRAM MB", "energy", "DRAM stall",
                "N:M generation"):
        ph.add_column(col, justify="left" if col == "phase" else "right")
    for p, row in doc["phases"].items():
        ph.add_row(PHASE_NAMES[p], f"{row['dense_cycles']:,} -> {row['sparse_cycles']:,}",
                   f"{format_time(row['dense_time_s'])} -> {format_time(row['sparse_time_s'])}",
                   f"{row['dense_cycles'] / max(1, row['sparse_cycles']):.2f}x",
                   f"{row['dense_utilisation']:.0%} -> {row['sparse_utilisation']:.0%}",
                   f"{row['dense_dram_bytes'] / 1e6:,.0f} -> {row['sparse_dram_bytes'] / 1e6:,.0f}",
                   f"{format_energy(row['dense_energy_pj'])} -> {format_energy(row['sparse_energy_pj'])}",
                   f"{row['sparse_stall_cycles']:,}", f"{row['sparse_generator_cycles']:,}")
    print_table(console, ph)
    layers = doc["layers"]
    if top:
        layers = sorted(layers, key=lambda r: -r["dense_cycles"])[:top]
    ly = Table(title=f"by layer{f' (the {top} longest)' if top else ''}")
    for col in ("layer", "kind", "GEMM m x k x n", "dense cycles", f"{doc['nm']} cycles", "speedup"):
        ly.add_column(col, justify="left" if col in ("layer", "kind") else "right")
    for r in layers:
        g = r.get("gemm")
        dims = f"{g['m']}x{g['k']}x{g['n']}" + (f" x{g['count']}" if g["count"] > 1 else "") if g else ""
        ly.add_row(r["name"], r["kind"], dims, f"{r['dense_cycles']:,}", f"{r['sparse_cycles']:,}",
                   f"{r['speedup']:.2f}x" if r["speedup"] else "-")
    print_table(console, ly)
    if doc["ablation"]:
        ab = Table(title="dataflow optimisations (sparse step; speedup over the optimised dense step)")
        for col in ("switches on", "cycles", "speedup"):
            ab.add_column(col, justify="left" if col == "switches on" else "right")
        for a in doc["ablation"]:
            ab.add_row(a["label"], f"{a['sparse_cycles']:,}", f"{a['speedup']:.2f}x")
        print_table(console, ab)
    if doc["patterns"]:
        print_line(console, "speedup by pattern: " + ", ".join(
            f"{p['nm']} {p['speedup']:.2f}x (ideal {p['ideal']:.2f}x)" for p in doc["patterns"]))
