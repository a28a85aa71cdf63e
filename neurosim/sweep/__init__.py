"""Design-space sweeps on Dask: ``neurosim sweep SPEC.toml`` and :func:`sweep`.

A spec (:mod:`.spec`) names a target and axes; :mod:`.points` resolves them to points (grid, list or
seeded random); :mod:`.execute` runs them on an embedded ``LocalCluster`` or any Dask scheduler,
each point's result cached under its content hash (:mod:`.cache`); :mod:`.table` writes one row per
point and :mod:`.pareto` the Pareto plots. ``docs/sweeps.md`` is the user guide.

The output folder (``out``) holds ``table.csv`` (and ``table.parquet`` with pyarrow), the Pareto
PNGs, ``sweep.json`` (what ran: counts, columns, files; no timings, so it is reproducible) and
``cache/`` (one JSON per point). A folder that already holds a sweep is refused unless ``resume``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from neurosim.errors import SweepError
from neurosim.sweep.spec import SweepSpec, load_spec, spec_from_dict

SCHEMA = "neurosim-sweep"

__all__ = ["SweepResult", "SweepSpec", "load_spec", "spec_from_dict", "sweep"]


@dataclass
class SweepResult:
    """The rows of a sweep (one dict per point, table order), its columns, and what it did."""

    spec: SweepSpec
    rows: list[dict]
    columns: list[str]
    submitted: int
    cached: int
    failed: int
    out: Path | None = None
    files: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> int:
        return len(self.rows) - self.failed


def _as_spec(spec: Any) -> SweepSpec:
    if isinstance(spec, SweepSpec):
        return spec
    if isinstance(spec, (str, os.PathLike)):
        return load_spec(spec)
    if isinstance(spec, dict):
        return spec_from_dict(spec)
    raise SweepError(f"sweep: spec must be a SweepSpec, a TOML path or a dict, found {type(spec).__name__!r}; "
                     f"pass the path of a sweep TOML")


def _check_out(out: Path, resume: bool) -> None:
    if out.exists() and not out.is_dir():
        raise SweepError(f"--out {str(out)!r} is an existing file, not a folder; choose a folder path")
    held = out.is_dir() and ((out / "table.csv").exists() or any((out / "cache").glob("*.json")))
    if held and not resume:
        raise SweepError(f"--out {str(out)!r} already holds a sweep; pass --resume to reuse its cached points or "
                         f"choose an empty folder")


def sweep(spec: Any, *, scheduler: str | None = None, workers: int | None = None, out: str | os.PathLike | None = None,
          resume: bool = False, client=None, progress: Callable[[int, int, int], None] | None = None) -> SweepResult:
    """Run a sweep (see the module docstring).

    ``spec``: a :class:`SweepSpec`, a TOML path or a parsed dict; ``scheduler``: a Dask scheduler
    address (default: an embedded LocalCluster of ``workers`` processes, one per core); ``out``: the
    output folder (None: nothing written, no cache); ``resume``: reuse the cached points in ``out``;
    ``client``: an open ``distributed.Client`` to run on (tests share one); ``progress(done, total,
    failed)``."""
    from neurosim.sweep.cache import Cache
    from neurosim.sweep.execute import execute
    from neurosim.sweep.points import resolve_points
    from neurosim.sweep.table import columns as table_columns

    spec = _as_spec(spec)
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise SweepError(f"--workers must be a positive integer, found {workers!r}")
    if scheduler is not None and workers is not None:
        raise SweepError(f"--workers {workers!r} applies to the embedded cluster, but --scheduler {scheduler!r} was "
                         f"given; start that many `dask worker` processes instead, or drop --scheduler")
    if scheduler is not None and (not isinstance(scheduler, str) or "://" not in scheduler):
        raise SweepError(f"--scheduler must be an address like 'tcp://host:8786', found {scheduler!r}")
    if resume and out is None:
        raise SweepError("--resume needs --out: the folder of the sweep to resume")
    out_path = None if out is None else Path(out)
    if out_path is not None and not str(out):
        raise SweepError("--out is empty ''; give a folder path")
    if out_path is not None:
        _check_out(out_path, resume)
    points = resolve_points(spec)
    cache = Cache(out_path / "cache") if out_path is not None else None
    outcome = execute(spec, points, client=client, scheduler=scheduler, workers=workers, cache=cache,
                      resume=resume, progress=progress)
    cols = table_columns(spec.target, spec.column_keys())
    result = SweepResult(spec, outcome.rows, cols, outcome.submitted, outcome.cached, outcome.failed, out_path)
    if out_path is not None:
        _write(result)
    return result


def _write(result: SweepResult) -> None:
    from neurosim.fileio import write_text_atomic
    from neurosim.sweep.pareto import write_plots
    from neurosim.sweep.table import write_tables

    out = result.out
    try:
        out.mkdir(parents=True, exist_ok=True)
        files = write_tables(result.rows, result.columns, out)
        swept = [a.key for a in result.spec.axes if a.swept] or list(result.spec.column_keys())
        plots = write_plots(result.rows, result.spec.target, swept, out)
        doc = {"schema": SCHEMA, "version": 1, "name": result.spec.name, "target": result.spec.target,
               "sampling": result.spec.sampling, "points": len(result.rows), "ok": result.ok, "failed": result.failed,
               "columns": result.columns, "tables": [p.name for p in files], "plots": plots}
        write_text_atomic(out / "sweep.json", json.dumps(doc, indent=1) + "\n")
    except OSError as exc:
        raise SweepError(f"--out {str(out)!r}: cannot write the results ({exc.strerror}); choose a writable "
                         f"folder") from None
    result.files = [*files, *(out / p for p in plots), out / "sweep.json"]
