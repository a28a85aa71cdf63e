"""Plot helpers shared by the targets' plots: a headless pyplot and atomic PNG writing."""

from __future__ import annotations

from pathlib import Path

from neurosim.fileio import atomic_path


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
