"""Report folders, committed whole: plots and ``report.json`` are written into a hidden temporary
folder that then replaces the output folder in one step (:func:`neurosim.fileio.atomic_dir`), so a
folder holding a ``report.json`` is complete and every plot beside it is of the same run -- a kill at
any moment leaves the old folder or the new one, never a mix. Every target's report is a versioned
JSON document with a ``schema`` (registered with the target, see :mod:`neurosim.targets`) and a
``version``; it holds no wall-clock time or host detail, so the same command writes the same bytes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from neurosim.fileio import REPORT_FILES, atomic_dir


def write_report(doc: dict, out_dir, plots: Callable[[Path], list[str]] | None = None, *, flag: str = "--out") -> dict:
    """Write ``doc`` as ``<out_dir>/report.json`` after ``plots(folder)`` (whose file names go into
    ``doc["plots"]``), all committed at once; return the document. ``flag`` names ``out_dir`` in errors."""
    with atomic_dir(out_dir, flag=flag, owned=REPORT_FILES) as tmp:
        if plots is not None:
            doc["plots"] = plots(tmp)
        (tmp / "report.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return doc
