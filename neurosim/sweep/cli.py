"""``neurosim sweep SPEC.toml [--scheduler ADDRESS] [--workers N] [--out DIR] [--resume]``.

Runs a design-space sweep (:func:`neurosim.sweep.sweep`) with a progress bar (ETA and failures; on a
terminal only), then prints how many points ran, failed and came from the cache, the Pareto front
of energy vs latency (or LUTs vs Fmax) and where the table and plots went. Exit status 0 when the
sweep ran, even if some points failed (they are rows with ``status = failed``); 1 when every point
failed.
"""

from __future__ import annotations

import time

from neurosim.commands import Command, console, positive_int


def _configure(p) -> None:
    p.add_argument("spec", help="sweep spec TOML (see docs/sweeps.md): [sweep] target/sampling and [axes]")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="a running Dask scheduler, e.g. tcp://host:8786 (default: an embedded cluster on this machine)")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="worker processes of the embedded cluster (default: one per core)")
    p.add_argument("--out", default=None, help="output folder: table.csv (+ .parquet), Pareto plots, sweep.json, cache/")
    p.add_argument("--resume", action="store_true",
                   help="reuse the points already cached in --out (an interrupted or extended sweep)")


def _run(args) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from neurosim.report.units import format_energy, format_time
    from neurosim.sweep import load_spec, sweep
    from neurosim.sweep.pareto import PLOTS, front, label

    spec = load_spec(args.spec)
    con = console()
    start = time.perf_counter()
    columns = (TextColumn("[bold]sweep"), BarColumn(), TextColumn("{task.completed}/{task.total} points"),
               TextColumn("[red]{task.fields[failed]} failed"), TextColumn("ETA"), TimeRemainingColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=con, transient=True, disable=not con.is_terminal) as bar:
        task = bar.add_task("sweep", total=None, failed=0)

        def progress(done: int, total: int, failed: int) -> None:
            bar.update(task, completed=done, total=total, failed=failed)

        result = sweep(spec, scheduler=args.scheduler, workers=args.workers, out=args.out, resume=args.resume,
                       progress=progress)
    seconds = time.perf_counter() - start
    con.print(f"{len(result.rows)} points: {result.ok} ok, {result.failed} failed; {result.submitted} computed, "
              f"{result.cached} from the cache, in {seconds:.1f} s", highlight=False)
    for r in result.rows:
        if r["status"] != "ok":
            con.print(f"  point #{r['point']} failed: {r['error']}", style="red", highlight=False, markup=False,
                      soft_wrap=True)
            break
    swept = [a.key for a in spec.axes if a.swept] or list(spec.column_keys())
    x, xs, y, ys, _ = PLOTS[spec.target][0]
    fr = front(result.rows, x, xs, y, ys)
    if fr:
        con.print(f"Pareto front of {y} vs {x}: {len(fr)} points", highlight=False)
        for r in fr[:10]:
            if y == "energy_pj":
                vals = f"{format_energy(r[y])}, {format_time(r[x])}"
            else:
                vals = f"{r[x]} {x}, {r[y]} {y}"
            con.print(f"  {label(r, swept)}: {vals}", highlight=False, markup=False, soft_wrap=True)
    if result.out is not None:
        con.print(f"wrote {', '.join(str(p) for p in result.files)}", highlight=False, soft_wrap=True)
    return 0 if result.ok or not result.rows else 1


COMMAND = Command("sweep a design space (models x presets x fields x bits ...) on Dask; table + Pareto plots",
                  _configure, _run)
