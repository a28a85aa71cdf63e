"""Report folders: plots first, then ``report.json`` written atomically, so a folder holding a
``report.json`` is complete. Every target's report is a versioned JSON document with a
``schema`` (registered with the target, see :mod:`neurosim.targets`) and a ``version``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from neurosim.fileio import write_text_atomic


def write_report(doc: dict, out_dir, plots: Callable[[Path], list[str]] | None = None) -> dict:
    """Write ``doc`` as ``<out_dir>/report.json`` after ``plots(out_dir)`` (whose file names go
    into ``doc["plots"]``); return the document."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if plots is not None:
        doc["plots"] = plots(out)
    write_text_atomic(out / "report.json", json.dumps(doc, indent=1))
    return doc
