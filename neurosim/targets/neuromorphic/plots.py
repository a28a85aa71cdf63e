"""Plots of an estimate: energy by layer and event type, core utilisation on the mesh, spike
raster, latency per timestep. PNG files, written atomically, headless (Agg backend).

Each plot is built by its own function returning the matplotlib Figure (what the tests read back:
tick labels, axis labels, legend texts, colour bar position); :func:`write_plots` saves them.
Energies follow the estimate's method (``cycle`` or ``synops``) in SI-scaled units; an event that
occurred without a published constant is drawn as a hatched "unknown" segment, never left out.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np

from neurosim.report.plots import headroom, legend_outside, no_offset, pyplot, save, unknown_bar
from neurosim.report.units import energy_scale, time_scale

PLOTS = ("energy_by_layer", "mesh_utilisation", "spike_raster", "latency_per_timestep")


def _labels(est) -> dict[str, str]:
    from neurosim.targets.neuromorphic.report import layer_label

    return {p: layer_label(p, est.graph.nodes.get(p)) for p in est.counts_by_layer}


def energy_by_layer(est):
    """Stacked bars: energy per inference of each layer by event type (cycle method) or by
    operation (synops method); unknown events as a hatched marker on top of their layer's bar."""
    plt = pyplot()
    layers = list(est.counts_by_layer)
    names = _labels(est)
    stacks: dict[str, np.ndarray] = {}
    unknown_by_layer: dict[str, list[str]] = {}
    if est.method == "synops":
        by = est.synops_by_layer_pj
        stacks["first-layer MACs x E_MAC"] = np.array([by.get(p, {}).get("mac_pj", 0.0) for p in layers])
        stacks["synaptic ops x E_AC"] = np.array([by.get(p, {}).get("ac_pj", 0.0) for p in layers])
    else:
        for ev, total in est.counts_total.items():
            const = est.chip.energy_pj.get(ev)
            if not total or const is None or const.value is None or not const.value:
                continue
            stacks[ev] = np.array([est.counts_by_layer[p][ev] * const.value for p in layers], dtype=float)
        for p in layers:
            missing = [ev for ev in est.unknown_events if est.counts_by_layer[p].get(ev)]
            if missing:
                unknown_by_layer[p] = missing
    stacks = {k: v for k, v in stacks.items() if v.any()}
    heights = sum(stacks.values()) if stacks else np.zeros(len(layers))
    div, unit = energy_scale(float(np.max(heights)) if len(layers) else 0.0)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(layers) + 4), 4.2))
    x = np.arange(len(layers))
    bottom = np.zeros(len(layers))
    for ev, vals in stacks.items():
        ax.bar(x, vals / div, bottom=bottom, label=ev, width=0.6)
        bottom += vals / div
    top = float(bottom.max()) if len(layers) else 0.0
    if unknown_by_layer:
        mark = 0.12 * (top if top > 0 else 1.0)
        idx = [layers.index(p) for p in unknown_by_layer]
        events = sorted({e for v in unknown_by_layer.values() for e in v})
        unknown_bar(ax, x[idx], bottom[idx], mark, width=0.6,
                    label="unknown (no published constant;\nmarker, not to scale):\n"
                          + textwrap.fill(", ".join(events), 36))
        top = max(top, float((bottom[idx] + mark).max()))
    headroom(ax, top)
    no_offset(ax)
    ax.set_xticks(x)
    ax.set_xticklabels([names[p] for p in layers], rotation=0 if len(layers) <= 6 else 45,
                       ha="center" if len(layers) <= 6 else "right")
    ax.set_xlabel("layer")
    ax.set_ylabel(f"energy per inference ({unit})")
    method = "op-count method (synops)" if est.method == "synops" else "cycle method"
    bound = " -- lower bound" if est.method != "synops" and est.lower_bound else ""
    ax.set_title(f"energy by layer on {est.chip.name}, {method}{bound}", fontsize=10)
    if est.method != "synops" and est.static_unknown:
        ax.text(0.01, 0.98, "static power unknown: not included", transform=ax.transAxes, ha="left", va="top",
                fontsize=8, color="0.3")
    if stacks or unknown_by_layer:
        legend_outside(ax)
    return fig


def _core_cells(est):
    """(utilisation image [rows, cols], sub-cell shape (sr, sc), cell of every core)."""
    res = est.result
    m = res.mapping
    gx, gy = m.grid
    per_tile = max(1, int(getattr(est.chip, "cores_per_tile", 1) or 1))
    sc = math.ceil(math.sqrt(per_tile))
    sr = math.ceil(per_tile / sc)
    img = np.full((gy * sr, gx * sc), np.nan)
    per_core = est.core_busy if est.core_busy is not None else res.core_cycles
    busy = per_core.sum(axis=0) if per_core.size else np.zeros(0)
    step_total = per_core.max(axis=1).sum() if per_core.size else 1.0
    host = np.asarray(m.core_host) if getattr(m, "core_host", None) is not None else np.arange(m.n_cores)
    used: dict[tuple[int, int], int] = {}
    cells = {}  # physical core -> (row, col)
    for c in range(m.n_cores):  # packed virtual cores share their physical core's cell
        h = int(host[c])
        if h not in cells:
            x, y = (int(v) for v in m.core_xy[c])
            k = used.get((x, y), 0)
            used[(x, y)] = k + 1
            cells[h] = (y * sr + k // sc, x * sc + k % sc)
            img[cells[h]] = 0.0
        img[cells[h]] += busy[c] / max(1e-30, step_total)
    return img, (sr, sc), cells


def mesh_utilisation(est):
    """One cell per physical core: routers (tiles) as blocks of ``cores_per_tile`` cells, each
    core's busy fraction of the inference (the critical core = 1; packed virtual cores add up on
    their physical core); gray cells hold no core."""
    plt = pyplot()
    res = est.result
    gx, gy = res.mapping.grid
    img, (sr, sc), cells = _core_cells(est)
    rows, cols = img.shape
    fig, ax = plt.subplots(figsize=(min(14, max(6.0, 2 + 0.45 * cols)), min(11, max(4.5, 2.6 + 0.45 * rows))),
                           layout="constrained")
    cmap = plt.get_cmap("viridis").copy()
    cmap = cmap.with_extremes(bad="0.92")
    im = ax.imshow(img, origin="lower", cmap=cmap, vmin=0, vmax=1, aspect="equal", interpolation="nearest")
    if sr > 1 or sc > 1:  # core cells (thin) and tile (router) boundaries (thick)
        for xx in range(1, cols):
            ax.axvline(xx - 0.5, color="white", lw=2.5 if xx % sc == 0 else 0.6)
        for yy in range(1, rows):
            ax.axhline(yy - 0.5, color="white", lw=2.5 if yy % sr == 0 else 0.6)
    if len(cells) <= 64:
        for c, (r, q) in cells.items():
            ax.text(q, r, str(c), ha="center", va="center", fontsize=7,
                    color="white" if img[r, q] < 0.6 else "black")
    step = max(1, gx // 16)
    ax.set_xticks([xx * sc + (sc - 1) / 2 for xx in range(0, gx, step)])
    ax.set_xticklabels([str(xx) for xx in range(0, gx, step)])
    step = max(1, gy // 16)
    ax.set_yticks([yy * sr + (sr - 1) / 2 for yy in range(0, gy, step)])
    ax.set_yticklabels([str(yy) for yy in range(0, gy, step)])
    ax.set_xlabel("router x")
    ax.set_ylabel("router y")
    per = f", {sr * sc} cells = {est.chip.cores_per_tile} cores per router" if sr * sc > 1 else ""
    ax.set_title(f"core utilisation on the {gx}x{gy} router mesh of {est.chip.name}\n"
                 f"one cell per core (number = core){per}; gray: no core", fontsize=9)
    cb = fig.colorbar(im, ax=ax, location="bottom", fraction=0.05, aspect=40)
    cb.set_label("busy fraction of the inference (critical core = 1)")
    return fig


def spike_raster(est):
    """Every spike: timestep against neuron index, populations stacked and coloured; legend outside."""
    plt = pyplot()
    res = est.result
    names = _labels(est)
    fig, ax = plt.subplots(figsize=(8, 4))
    offset = 0
    for p, s in res.spikes.items():
        flat = s.reshape(s.shape[0], -1)
        t, n = np.nonzero(flat)
        ax.scatter(t, n + offset, s=3, label=f"{names.get(p, p)}: {int(flat.sum()):,} spikes")
        offset += flat.shape[1]
    ax.set_xlim(-0.5, res.steps - 0.5)
    ax.set_ylim(-0.5, max(1, offset) - 0.5)
    ax.set_xlabel("timestep")
    ax.set_ylabel("neuron (populations stacked)")
    ax.set_title(f"spike raster on {est.chip.name}", fontsize=10)
    if res.spikes:
        legend_outside(ax, markerscale=3)
    return fig


def latency_per_timestep(est):
    """The critical-path latency of every timestep (time where the chip has a clock or event
    latencies, else cycles), marked a lower bound where an event latency is unknown."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    step_s = np.asarray(est.step_s, dtype=float)
    if step_s.size and not np.all(np.isnan(step_s)):
        div, unit = time_scale(float(np.nanmax(step_s)))
        ax.plot(np.arange(step_s.size), step_s / div, marker=".")
        ax.set_ylabel(f"latency ({unit})")
        top = float(np.nanmax(step_s / div))
    else:
        cycles = np.asarray(est.step_cycles if est.step_cycles is not None else [], dtype=float)
        ax.plot(np.arange(cycles.size), cycles, marker=".")
        ax.set_ylabel("latency (cycles; no clock published)")
        top = float(cycles.max()) if cycles.size else 0.0
    headroom(ax, top)
    no_offset(ax)
    ax.set_xlabel("timestep")
    bound = ("\nlower bound: no published latency for " + ", ".join(est.unknown_latencies)
             if est.unknown_latencies else "")
    ax.set_title(f"latency per timestep on {est.chip.name} (critical path + barrier){bound}", fontsize=9)
    return fig


def figures(est) -> dict[str, object]:
    """Every plot of ``est`` as ``{name: Figure}`` (the caller closes them)."""
    return {"energy_by_layer": energy_by_layer(est), "mesh_utilisation": mesh_utilisation(est),
            "spike_raster": spike_raster(est), "latency_per_timestep": latency_per_timestep(est)}


def write_plots(est, out: Path) -> list[str]:
    return [save(fig, Path(out) / f"{name}.png") for name, fig in figures(est).items()]
