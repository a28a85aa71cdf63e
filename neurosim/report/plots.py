"""Plot helpers shared by the targets' plots: a headless pyplot, atomic PNG writing, the "unknown"
marker and legends placed off the data.

Conventions every plot follows (checked by tests/report/test_plots.py on the drawn Figure):
axis units scaled to the data through :mod:`neurosim.report.units` (``energy (nJ)``, never a
``1e6`` offset), headroom above the tallest bar, legends outside the axes, colour bars clear of
the title, and a hatched, labelled "unknown" marker wherever a value is unknown (never a missing
or zero bar).
"""

from __future__ import annotations

from pathlib import Path

from neurosim.fileio import atomic_path

UNKNOWN_HATCH = "///"
UNKNOWN_COLOR = "0.45"
#: headroom above the tallest bar, as a fraction of it
HEADROOM = 0.18


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: Path) -> str:
    """Write ``fig`` as a PNG at ``path`` atomically, close it, and return the file name."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    pyplot().close(fig)
    return path.name


def no_offset(ax) -> None:
    """Plain tick labels on the y axis (no ``1e6`` offset or scientific multiplier)."""
    fmt = ax.yaxis.get_major_formatter()
    if hasattr(fmt, "set_useOffset"):
        fmt.set_useOffset(False)
        fmt.set_scientific(False)


def headroom(ax, top: float, fraction: float = HEADROOM) -> None:
    """Leave ``fraction`` of the tallest value free above it (labels and markers fit there)."""
    ax.set_ylim(0, top * (1 + fraction) if top > 0 else 1)


def unknown_bar(ax, x, bottom, height, width=0.8, label: str | None = "unknown", text: str = "?"):
    """A hatched, unfilled bar segment meaning "a value is here, but unknown": its height is a
    marker, not a quantity (the legend says so), and ``text`` is written on it."""
    bars = ax.bar(x, height, width=width, bottom=bottom, facecolor="none", edgecolor=UNKNOWN_COLOR,
                  hatch=UNKNOWN_HATCH, linewidth=0.8, label=label)
    for b in bars:
        ax.text(b.get_x() + b.get_width() / 2, b.get_y() + b.get_height() / 2, text, ha="center", va="center",
                fontsize=8, color="0.2", bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
    return bars


def legend_outside(ax, **kwargs):
    """A legend to the right of the axes, off the data."""
    return ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=8, **kwargs)
