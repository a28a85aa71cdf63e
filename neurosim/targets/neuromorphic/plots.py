"""Plots of an estimate: energy by layer and event type, core utilisation on the mesh, spike
raster, latency per timestep. PNG files, written atomically, headless (Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neurosim.report.plots import pyplot, save


def write_plots(est, out: Path) -> list[str]:
    plt = pyplot()

    res = est.result
    files = []
    # 1. energy by layer, stacked by event type
    layers = list(est.counts_by_layer)
    events = [e for e, v in est.counts_total.items() if v and e not in est.unknown_events and e in est.chip.energy_pj
              and est.chip.energy_pj[e].value]
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(layers) + 3), 4))
    bottom = np.zeros(len(layers))
    for ev in events:
        vals = np.array([est.counts_by_layer[p][ev] * est.chip.energy_pj[ev].value for p in layers])
        ax.bar(layers, vals, bottom=bottom, label=ev)
        bottom += vals
    ax.set_ylabel("energy per inference (pJ)")
    ax.set_title(f"energy by layer and event type on {est.chip.name}")
    if events:
        ax.legend(fontsize=8)
    files.append(save(fig, out / "energy_by_layer.png"))
    # 2. core utilisation on the mesh
    m = res.mapping
    gx, gy = m.grid
    util = np.full((gy, gx), np.nan)
    per_core = est.core_busy if est.core_busy is not None else res.core_cycles
    busy = per_core.sum(axis=0) if per_core.size else np.zeros(0)
    step_total = per_core.max(axis=1).sum() if per_core.size else 1
    for c in range(m.n_cores):
        x, y = m.core_xy[c]
        prev = 0 if np.isnan(util[y, x]) else util[y, x]
        util[y, x] = max(prev, busy[c] / max(1e-30, step_total))
    fig, ax = plt.subplots(figsize=(min(12, 1 + 0.5 * gx), min(10, 1 + 0.5 * gy)))
    im = ax.imshow(util, origin="lower", cmap="viridis", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, label="busy fraction of the timestep (critical core = 1)")
    ax.set_title(f"core utilisation on the {gx}x{gy} mesh")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    files.append(save(fig, out / "mesh_utilisation.png"))
    # 3. spike raster
    fig, ax = plt.subplots(figsize=(7, 4))
    offset = 0
    for p, s in res.spikes.items():
        flat = s.reshape(s.shape[0], -1)
        t, n = np.nonzero(flat)
        ax.scatter(t, n + offset, s=2, label=p)
        offset += flat.shape[1]
    ax.set_xlabel("timestep")
    ax.set_ylabel("neuron (populations stacked)")
    ax.set_title("spike raster")
    ax.legend(fontsize=8, markerscale=4)
    files.append(save(fig, out / "spike_raster.png"))
    # 4. latency per timestep
    fig, ax = plt.subplots(figsize=(7, 3))
    if est.step_cycles is not None:
        ax.plot(est.step_cycles, marker=".")
        ax.set_ylabel("cycles")
    else:
        ax.plot(est.step_s * 1e6, marker=".")
        ax.set_ylabel("us")
    ax.set_xlabel("timestep")
    ax.set_title("latency per timestep (critical path + barrier)")
    files.append(save(fig, out / "latency_per_timestep.png"))
    return files
