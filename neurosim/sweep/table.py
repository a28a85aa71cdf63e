"""The results table: one row per point, sorted by the point's index, in a fixed column order.

Columns: ``point`` (the row index of :mod:`neurosim.sweep.points`), ``key`` (the first 16 hex digits of
the point's content hash, :mod:`neurosim.sweep.cache`), every spec key in the spec's order, the
target's result columns (:data:`neurosim.sweep.runner.RESULT_COLUMNS`), then ``status`` (``ok`` /
``failed``) and ``error`` (the failed point's one-line message). No timing goes into the table, so
the same spec gives the same bytes whatever the cluster, the worker count or the order of completion.

``table.csv`` is always written (floats as Python's shortest round-trip ``repr``, empty for none);
``table.parquet`` too when ``pyarrow`` can be imported (it is optional, not a dependency).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from neurosim.sweep.runner import RESULT_COLUMNS


def columns(target: str, keys: tuple[str, ...]) -> list[str]:
    return ["point", "key", *keys, *RESULT_COLUMNS[target], "status", "error"]


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if math.isnan(value) else ("inf" if value > 0 else "-inf"))
    return str(value)


def to_csv(rows: list[dict], cols: list[str]) -> str:
    """The rows as CSV text (sorted by ``point``)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for row in sorted(rows, key=lambda r: r["point"]):
        w.writerow([_cell(row.get(c)) for c in cols])
    return buf.getvalue()


def parquet_available() -> bool:
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        return False
    return True


def to_parquet_bytes(rows: list[dict], cols: list[str]) -> bytes:
    """The rows as a Parquet file's bytes (needs pyarrow); every column typed from its values."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ordered = sorted(rows, key=lambda r: r["point"])
    data = {}
    for c in cols:
        vals = [r.get(c) for r in ordered]
        kinds = {type(v) for v in vals if v is not None}
        if kinds == {int, float}:
            vals = [None if v is None else float(v) for v in vals]
        elif len(kinds) > 1:
            vals = [None if v is None else _cell(v) for v in vals]
        data[c] = vals
    table = pa.table(data)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def write_tables(rows: list[dict], cols: list[str], out: Path) -> list[Path]:
    """Write ``table.csv`` (and ``table.parquet`` with pyarrow) into ``out`` atomically; return the paths."""
    from neurosim.fileio import write_bytes_atomic, write_text_atomic

    paths = [out / "table.csv"]
    write_text_atomic(paths[0], to_csv(rows, cols))
    if parquet_available():
        paths.append(out / "table.parquet")
        write_bytes_atomic(paths[1], to_parquet_bytes(rows, cols))
    return paths


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
