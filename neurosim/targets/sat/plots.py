"""Plots of a SAT report: per-layer speedup, phase breakdown, ablation, speedup by N:M pattern.

PNG files, written atomically, headless (Agg backend). They read the report document, so a saved
``report.json`` can be re-plotted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neurosim.report.plots import pyplot, save
from neurosim.targets.sat.report import PHASE_NAMES


def write_plots(doc: dict, out: Path) -> list[str]:
    plt = pyplot()

    files = []
    nm = doc["nm"]
    ideal = doc["totals"]["ideal_speedup"]
    name = doc["model"]["name"]

    # 1. per-layer speedup of the GEMM layers, bar width ~ dense time
    gemm = [r for r in doc["layers"] if "gemm" in r]
    fig, ax = plt.subplots(figsize=(min(16, 3 + 0.18 * len(gemm)), 4))
    x = np.arange(len(gemm))
    ax.bar(x, [r["speedup"] for r in gemm], color=["tab:blue" if r["gemm"]["weighted"] else "tab:gray" for r in gemm])
    ax.axhline(ideal, color="tab:red", ls="--", lw=1, label=f"ideal {ideal:.2f}x (step, GEMM MACs only)")
    ax.axhline(doc["totals"]["speedup"], color="k", lw=1, label=f"whole step {doc['totals']['speedup']:.2f}x")
    ax.set_xticks(x[:: max(1, len(gemm) // 40)])
    ax.set_xticklabels([gemm[i]["name"] for i in x[:: max(1, len(gemm) // 40)]], rotation=90, fontsize=6)
    ax.set_ylabel(f"{nm} speedup over dense")
    ax.set_title(f"{name}: per-layer training speedup ({nm}; gray: no weights or kept dense)")
    ax.legend(fontsize=8)
    files.append(save(fig, out / "layer_speedup.png"))

    # 2. phase breakdown, dense vs sparse, stacked
    fig, ax = plt.subplots(figsize=(5, 4))
    bottom = np.zeros(2)
    for p, row in doc["phases"].items():
        vals = np.array([row["dense_cycles"], row["sparse_cycles"]], dtype=float) / doc["totals"]["dense"]["cycles"]
        ax.bar(["dense", nm], vals, bottom=bottom, label=PHASE_NAMES[p])
        bottom += vals
    ax.set_ylabel("step time (dense = 1)")
    ax.set_title(f"{name}: training step by phase")
    ax.legend(fontsize=8)
    files.append(save(fig, out / "phases.png"))

    # 3. ablation of the dataflow optimisations
    if doc["ablation"]:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        labels = [a["label"] for a in doc["ablation"]]
        ax.barh(labels, [a["speedup"] for a in doc["ablation"]], color="tab:green")
        ax.axvline(ideal, color="tab:red", ls="--", lw=1, label=f"ideal {ideal:.2f}x")
        ax.set_xlabel(f"{nm} step speedup over the optimised dense step")
        ax.set_title(f"{name}: dataflow optimisations")
        ax.legend(fontsize=8)
        files.append(save(fig, out / "ablation.png"))

    # 4. speedup by N:M pattern against the ideal bound
    if doc["patterns"]:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        pats = doc["patterns"]
        xs = np.arange(len(pats))
        ax.bar(xs - 0.2, [p["speedup"] for p in pats], 0.4, label="modelled")
        ax.bar(xs + 0.2, [p["ideal"] for p in pats], 0.4, label="ideal 3/(2N/M+1)", color="tab:red", alpha=0.5)
        ax.set_xticks(xs)
        ax.set_xticklabels([p["nm"] for p in pats])
        ax.set_ylabel("step speedup over dense")
        ax.set_title(f"{name}: speedup by N:M pattern")
        ax.legend(fontsize=8)
        files.append(save(fig, out / "patterns.png"))
    return files
