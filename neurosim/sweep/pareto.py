"""Pareto fronts of a sweep table and their plots.

A point is on the front of two objectives when no other ``ok`` point is at least as good in both and
better in one (each objective is minimised or maximised, :data:`PLOTS`). The plots show every ``ok``
point, the front as a highlighted step line, and label each front point with its row (``#index``)
and its swept values, so a reader can find the design in the table. Plots of one objective pair
exist only where the table has those columns (energy vs latency for estimates and SAT steps, energy
vs cores -- the area a neuromorphic mapping takes --, LUTs vs Fmax for synthesised cores).
"""

from __future__ import annotations

import math
from pathlib import Path

#: per target: (x column, x sense, y column, y sense, file name); sense "min" or "max"
PLOTS = {
    "neuromorphic": (("latency_s", "min", "energy_pj", "min", "pareto_energy_latency.png"),
                     ("cores", "min", "energy_pj", "min", "pareto_energy_cores.png")),
    "sat": (("latency_s", "min", "energy_pj", "min", "pareto_energy_latency.png"),),
    "rtl": (("luts", "min", "fmax_mhz", "max", "pareto_luts_fmax.png"),),
}
AXIS_LABELS = {"latency_s": "latency per inference", "energy_pj": "energy per inference",
               "cores": "cores (area)", "luts": "LUTs", "fmax_mhz": "Fmax (MHz)"}


def _scale(col: str, vals: list[float]) -> tuple[float, str]:
    """(divisor, unit suffix) of a plot axis: energies and times in a unit that fits the data (no offset)."""
    from neurosim.report.units import energy_scale, time_scale

    if col == "energy_pj":
        div, unit = energy_scale(max(vals))
        return div, f" ({unit})"
    if col == "latency_s":
        div, unit = time_scale(max(vals))
        return div, f" ({unit})"
    return 1.0, ""


def _num(v) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def front(rows: list[dict], x: str, xs: str, y: str, ys: str) -> list[dict]:
    """The non-dominated ``ok`` rows of (x, y), sorted by x (ties: the lower point index first)."""
    pts = [r for r in rows if r.get("status") == "ok" and _num(r.get(x)) is not None and _num(r.get(y)) is not None]
    sx = 1.0 if xs == "min" else -1.0
    sy = 1.0 if ys == "min" else -1.0
    pts.sort(key=lambda r: (sx * r[x], sy * r[y], r["point"]))
    out, best = [], math.inf
    for r in pts:
        if sy * r[y] < best:
            out.append(r)
            best = sy * r[y]
    return out


def label(row: dict, swept: list[str]) -> str:
    text = f"#{row['point']} " + ", ".join(str(row.get(k)) for k in swept)
    return text if len(text) <= 48 else text[:45] + "..."


def write_plots(rows: list[dict], target: str, swept: list[str], out: Path) -> list[str]:
    """One PNG per objective pair of ``target`` that has data; returns the file names."""
    from neurosim.report.plots import pyplot, save

    plt = pyplot()
    names = []
    for x, xs, y, ys, fname in PLOTS[target]:
        ok = [r for r in rows if r.get("status") == "ok" and _num(r.get(x)) is not None and _num(r.get(y)) is not None]
        if not ok:
            continue
        fr = front(rows, x, xs, y, ys)
        (dx, ux), (dy, uy) = _scale(x, [r[x] for r in ok]), _scale(y, [r[y] for r in ok])
        fig, ax = plt.subplots(figsize=(7, 4.8))
        ax.scatter([r[x] / dx for r in ok], [r[y] / dy for r in ok], s=14, color="0.6",
                   label=f"design points ({len(ok)})")
        ax.step([r[x] / dx for r in fr], [r[y] / dy for r in fr], where="post", color="tab:red", lw=1.5)
        ax.scatter([r[x] / dx for r in fr], [r[y] / dy for r in fr], s=36, color="tab:red", zorder=3,
                   label=f"Pareto front ({len(fr)})")
        for r in fr[:20]:
            ax.annotate(label(r, swept), (r[x] / dx, r[y] / dy), textcoords="offset points", xytext=(4, 4), fontsize=7)
        for axis, col in (("x", x), ("y", y)):
            vals = [r[col] for r in ok]
            if min(vals) > 0 and max(vals) / min(vals) > 100:
                getattr(ax, f"set_{axis}scale")("log")
            else:
                fmt = getattr(ax, f"{axis}axis").get_major_formatter()
                if hasattr(fmt, "set_useOffset"):
                    fmt.set_useOffset(False)
                    fmt.set_scientific(False)
        ax.set_xlabel(AXIS_LABELS.get(x, x) + ux + (" (lower is better)" if xs == "min" else " (higher is better)"))
        ax.set_ylabel(AXIS_LABELS.get(y, y) + uy)
        ax.set_title(f"{y} vs {x}: {len(fr)} of {len(ok)} points on the front")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
        names.append(save(fig, out / fname))
    return names
