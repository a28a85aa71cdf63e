"""Plots of a SAT report: per-layer speedup, phase breakdown, ablation, speedup by N:M pattern.

PNG files, written atomically, headless (Agg backend). They read the report document, so a saved
``report.json`` can be re-plotted. Each plot is built by its own function returning the matplotlib
Figure (what tests/report/test_plots.py reads back); :func:`write_plots` saves them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neurosim.report.plots import headroom, legend_outside, pyplot, save, unknown_bar
from neurosim.targets.sat.report import PHASE_NAMES


#: bar colours of the per-layer speedup: what each GEMM layer ran as
SPARSE_COLOR, DENSE_COLOR, NO_WEIGHTS_COLOR = "tab:blue", "tab:orange", "tab:gray"


def _layer_kind(row: dict) -> str:
    g = row["gemm"]
    if not g["weighted"]:
        return "no weights"
    if g.get("sparse", row["speedup"] is not None and row["speedup"] > 1.0 + 1e-9):
        return "sparse"
    return "kept dense"


def layer_speedup(doc: dict):
    """Per-layer speedup of the GEMM layers, coloured by what the layer ran as (N:M sparse, kept
    dense, no weights: an activation-activation product); a layer without a speedup (no sparse
    cycles) is a hatched "unknown" marker."""
    from matplotlib.patches import Patch

    plt = pyplot()
    nm, ideal, name = doc["nm"], doc["totals"]["ideal_speedup"], doc["model"]["name"]
    gemm = [r for r in doc["layers"] if "gemm" in r]
    colors = {"sparse": SPARSE_COLOR, "kept dense": DENSE_COLOR, "no weights": NO_WEIGHTS_COLOR}
    kinds = [_layer_kind(r) for r in gemm]
    fig, ax = plt.subplots(figsize=(min(16, 4 + 0.18 * len(gemm)), 4))
    x = np.arange(len(gemm))
    known = [i for i, r in enumerate(gemm) if r["speedup"] is not None]
    ax.bar(x[known], [gemm[i]["speedup"] for i in known], color=[colors[kinds[i]] for i in known])
    top = max([gemm[i]["speedup"] for i in known] + [ideal, doc["totals"]["speedup"], 1.0])
    missing = [i for i, r in enumerate(gemm) if r["speedup"] is None]
    handles = [Patch(color=colors[k], label=f"{k} ({kinds.count(k)})") for k in colors if k in kinds]
    if missing:
        handles.append(unknown_bar(ax, x[missing], 0, 0.2 * top, label="speedup unknown (no sparse cycles)"))
    handles.append(ax.axhline(ideal, color="tab:red", ls="--", lw=1, label=f"ideal {ideal:.2f}x (step, GEMM MACs only)"))
    handles.append(ax.axhline(doc["totals"]["speedup"], color="k", lw=1,
                              label=f"whole step {doc['totals']['speedup']:.2f}x"))
    headroom(ax, top)
    every = max(1, len(gemm) // 40)
    ax.set_xticks(x[::every])
    ax.set_xticklabels([gemm[i]["name"] for i in x[::every]], rotation=90, fontsize=6)
    ax.set_xlim(-0.6, len(gemm) - 0.4)
    ax.set_ylabel(f"{nm} speedup over dense")
    ax.set_title(f"{name}: per-layer training speedup of the GEMM layers ({nm}), coloured by how each ran",
                 fontsize=10)
    legend_outside(ax, handles=handles)
    return fig


def phases(doc: dict):
    """The training step by phase, dense vs sparse, stacked (dense step = 1)."""
    plt = pyplot()
    nm, name = doc["nm"], doc["model"]["name"]
    fig, ax = plt.subplots(figsize=(6, 4))
    bottom = np.zeros(2)
    for p, row in doc["phases"].items():
        vals = np.array([row["dense_cycles"], row["sparse_cycles"]], dtype=float) / doc["totals"]["dense"]["cycles"]
        ax.bar(["dense", nm], vals, bottom=bottom, label=PHASE_NAMES[p], width=0.6)
        bottom += vals
    headroom(ax, float(bottom.max()))
    ax.set_ylabel("step time (dense = 1)")
    ax.set_title(f"{name}: training step by phase", fontsize=10)
    legend_outside(ax)
    return fig


def ablation(doc: dict):
    """The sparse step's speedup with each dataflow optimisation switched on alone, none and all."""
    plt = pyplot()
    nm, ideal, name = doc["nm"], doc["totals"]["ideal_speedup"], doc["model"]["name"]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    labels = [a["label"] for a in doc["ablation"]]
    ax.barh(labels, [a["speedup"] for a in doc["ablation"]], color="tab:green", label="modelled")
    ax.axvline(ideal, color="tab:red", ls="--", lw=1, label=f"ideal {ideal:.2f}x")
    ax.set_xlim(0, max([a["speedup"] for a in doc["ablation"]] + [ideal]) * 1.15)
    ax.set_xlabel(f"{nm} step speedup over the optimised dense step")
    ax.set_title(f"{name}: dataflow optimisations", fontsize=10)
    legend_outside(ax)
    return fig


def patterns(doc: dict):
    """The step speedup of every N:M pattern against its ideal bound 3/(2N/M+1)."""
    plt = pyplot()
    name = doc["model"]["name"]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    pats = doc["patterns"]
    xs = np.arange(len(pats))
    ax.bar(xs - 0.2, [p["speedup"] for p in pats], 0.4, label="modelled")
    ax.bar(xs + 0.2, [p["ideal"] for p in pats], 0.4, label="ideal 3/(2N/M+1)", color="tab:red", alpha=0.5)
    headroom(ax, max([p["speedup"] for p in pats] + [p["ideal"] for p in pats]))
    ax.set_xticks(xs)
    ax.set_xticklabels([p["nm"] for p in pats])
    ax.set_xlabel("N:M pattern")
    ax.set_ylabel("step speedup over dense")
    ax.set_title(f"{name}: speedup by N:M pattern", fontsize=10)
    legend_outside(ax)
    return fig


def figures(doc: dict) -> dict[str, object]:
    """Every plot of the report ``doc`` as ``{name: Figure}`` (the caller closes them)."""
    figs = {"layer_speedup": layer_speedup(doc), "phases": phases(doc)}
    if doc["ablation"]:
        figs["ablation"] = ablation(doc)
    if doc["patterns"]:
        figs["patterns"] = patterns(doc)
    return figs


def write_plots(doc: dict, out: Path) -> list[str]:
    return [save(fig, Path(out) / f"{name}.png") for name, fig in figures(doc).items()]
