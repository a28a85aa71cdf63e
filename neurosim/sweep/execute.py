"""Running a sweep's points on Dask: an embedded ``LocalCluster`` by default, any scheduler by address.

* Embedded: ``LocalCluster`` with one single-threaded worker *process* per core (``workers=N``
  to choose), no dashboard; it is closed when the sweep ends, however it ends.
* ``scheduler="tcp://host:port"``: a running scheduler (``dask scheduler`` + ``dask worker``,
  dask-jobqueue, dask-kubernetes); the workers must import the same neurosim version (checked).
* Warm-up: a :class:`WarmUp` worker plugin runs the sweep's first point once on every worker that
  is or later joins the cluster (numba's kernels load once per worker process, not per point); its
  result is discarded.
* Files a point reads travel as bytes scattered once per content digest (:mod:`neurosim.sweep.runner`).
* Points are submitted as futures keyed by their content hash (the same point twice is one task) and
  collected with ``as_completed``; the client alone writes: each result into the cache as it arrives
  (atomically), the table and plots at the end. One failed point is a ``failed`` row; a lost worker
  fails only its point (not cached: a resumed sweep retries it).
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from distributed.diagnostics.plugin import WorkerPlugin

from neurosim.errors import SweepError
from neurosim.sweep.cache import Cache, point_key
from neurosim.sweep.points import Point
from neurosim.sweep.runner import RESULT_COLUMNS, run_point
from neurosim.sweep.spec import SweepSpec, keys, resolve_file

#: how long ``--scheduler`` waits to connect and for a first worker
CONNECT_TIMEOUT_S = 30


@dataclass
class Task:
    """One unique point to compute: its hash, what runs, and the points (rows) that share it."""

    key: str
    config: dict
    files: dict  # spec key -> (digest, suffix)
    points: list[int] = field(default_factory=list)


@dataclass
class Outcome:
    """What :func:`execute` did: the rows (one per point, sorted) and the counts."""

    rows: list[dict]
    submitted: int
    cached: int
    failed: int


class WarmUp(WorkerPlugin):
    """Run one point on each worker as it starts (numba load, imports, file materialisation)."""

    name = "neurosim-sweep-warmup"
    idempotent = True

    def __init__(self, target: str, config: dict, files: dict):
        self.target, self.config, self.files = target, config, files

    def setup(self, worker) -> None:
        run_point(self.target, self.config, self.files)


def _worker_version() -> str:
    import neurosim

    return neurosim.__version__


def plan(spec: SweepSpec, points: list[Point]) -> tuple[list[Task], dict[str, bytes]]:
    """The unique tasks of ``points`` (by content hash) and the file contents they read, by digest."""
    from neurosim import limits
    from neurosim.sweep.cache import file_digest

    schema = keys(spec.target)
    base = Path(spec.base_dir)
    tasks: dict[str, Task] = {}
    blobs: dict[str, bytes] = {}
    seen_files: dict[tuple, tuple[str, str]] = {}
    for p in points:
        config = p.resolved(spec.target)
        files: dict[str, tuple[str, str]] = {}
        for k, v in config.items():
            kind = schema[k].kind
            if kind not in ("model", "preset", "satconfig", "workload"):
                continue
            if (kind, v) not in seen_files:
                how, path = resolve_file(kind, v, base, f"{spec.where}: {k}")
                if how == "file":
                    limits.check("file_bytes", path.stat().st_size, f"{spec.where}: {k} file {str(path)!r}")
                    digest = file_digest(path)
                    blobs.setdefault(digest, path.read_bytes())
                    seen_files[(kind, v)] = (digest, path.suffix)
                else:
                    seen_files[(kind, v)] = None
            if seen_files[(kind, v)] is not None:
                files[k] = seen_files[(kind, v)]
        hashed = {k: ("<file>" if k in files else v) for k, v in config.items()}
        key = point_key(spec.target, hashed, {k: d for k, (d, _) in files.items()})
        task = tasks.setdefault(key, Task(key, config, files))
        task.points.append(p.index)
    return list(tasks.values()), blobs


@contextlib.contextmanager
def connect(scheduler: str | None, workers: int | None):
    """A dask Client: on ``scheduler`` or on an embedded LocalCluster of ``workers`` processes."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            raise SweepError(f"--scheduler {scheduler!r}: cannot connect ({' '.join(str(exc).split())[:200]}); start "
                             f"one with `dask scheduler` and give its tcp://host:port, or drop --scheduler to run "
                             f"on this machine") from None
        try:
            try:
                client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
            except (TimeoutError, OSError):
                raise SweepError(f"--scheduler {scheduler!r} has no worker after {CONNECT_TIMEOUT_S} s; start one "
                                 f"with `dask worker {scheduler}`") from None
            try:
                versions = set(client.run(_worker_version).values())
            except Exception as exc:  # noqa: BLE001  (a worker that cannot import neurosim fails here, any way)
                raise SweepError(f"--scheduler {scheduler!r}: the workers cannot run neurosim "
                                 f"({type(exc).__name__}: {str(exc)[:120]}); install neurosim in the workers' "
                                 f"environment") from None
            from neurosim import __version__

            if versions != {__version__}:
                raise SweepError(f"--scheduler {scheduler!r}: the workers run neurosim {sorted(versions)!r}, this "
                                 f"client {__version__!r}; install the same version on every machine")
            yield client
        finally:
            client.close()
        return
    n = workers if workers is not None else (os.cpu_count() or 1)
    try:
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                               worker_dashboard_address=None, silence_logs=logging.ERROR)
    except RuntimeError as exc:
        raise SweepError(f"the embedded Dask cluster of {n} worker processes failed to start ({str(exc)[:120]}); "
                         f"a script that calls neurosim.sweep.sweep must guard it with `if __name__ == "
                         f"'__main__':` (workers start by spawn), or pass --scheduler") from None
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()


def execute(spec: SweepSpec, points: list[Point], *, client=None, scheduler: str | None = None,
            workers: int | None = None, cache: Cache | None = None, resume: bool = False,
            progress: Callable[[int, int, int], None] | None = None) -> Outcome:
    """Compute every point (see the module docstring); ``client``: an open dask Client to use (else
    one is made from ``scheduler`` / ``workers`` and closed at the end). ``cache``: where results
    are kept (None: nowhere); with ``resume`` cached results are read back and not submitted.
    ``progress(done, total, failed)`` is called as points finish."""
    tasks, blobs = plan(spec, points)
    results: dict[str, dict] = {}
    if cache is not None and resume:
        for t in tasks:
            hit = cache.get(t.key)
            if hit is not None:
                results[t.key] = hit
    cached = len(results)
    pending = [t for t in tasks if t.key not in results]
    total = len(points)
    by_key = {t.key: t for t in tasks}
    failed = 0

    def tick():
        if progress is not None:
            done = sum(len(by_key[k].points) for k in results)
            progress(done, total, sum(len(by_key[k].points) for k, r in results.items() if r["status"] != "ok"))

    tick()
    if pending:
        ctx = contextlib.nullcontext(client) if client is not None else connect(scheduler, workers)
        with ctx as cl:
            _run(cl, spec, pending, blobs, results, cache, tick)
    rows = []
    for t in tasks:
        r = results[t.key]
        for i in t.points:
            rows.append({"key": t.key[:16], "status": r["status"], "error": r["error"], "index": i,
                         "values": r["values"]})
    failed = sum(1 for r in rows if r["status"] != "ok")
    table = []
    pts = {p.index: p for p in points}
    for r in sorted(rows, key=lambda r: r["index"]):
        row = {"point": r["index"], "key": r["key"], **pts[r["index"]].as_dict()}
        row.update({c: r["values"].get(c) for c in RESULT_COLUMNS[spec.target]})
        row.update(status=r["status"], error=r["error"])
        table.append(row)
    return Outcome(table, len(pending), cached, failed)


def _run(client, spec: SweepSpec, pending: list[Task], blobs: dict[str, bytes], results: dict, cache, tick) -> None:
    from distributed import as_completed

    needed = {d for t in pending for d, _ in t.files.values()}
    futures_of = client.scatter({f"neurosim-file-{d}": blobs[d] for d in sorted(needed)}) if needed else {}

    def files_of(t: Task) -> dict:
        return {k: (d, s, futures_of[f"neurosim-file-{d}"]) for k, (d, s) in t.files.items()}

    if spec.target != "rtl":
        first = pending[0]
        client.register_plugin(WarmUp(spec.target, first.config,
                                      {k: (d, s, blobs[d]) for k, (d, s) in first.files.items()}),
                               name=f"{WarmUp.name}-{spec.target}")
    futures = {}
    for t in pending:
        fut = client.submit(run_point, spec.target, t.config, files_of(t), key=f"neurosim-point-{t.key}", pure=False)
        futures[fut] = t
    try:
        for fut in as_completed(list(futures)):
            t = futures[fut]
            try:
                res = fut.result()
            except Exception as exc:  # noqa: BLE001  (a lost worker or an unpicklable result fails this point only)
                res = {"status": "failed", "error": f"internal error: {type(exc).__name__}: "
                                                    f"{' '.join(str(exc).split())[:300]}",
                       "cacheable": False, "values": {}}
            results[t.key] = res
            if cache is not None and res.get("cacheable"):
                cache.put(t.key, res)
            fut.release()
            tick()
    finally:
        for fut in futures:
            if not fut.done():
                fut.cancel()
