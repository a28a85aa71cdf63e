"""The SAT target's commands, under ``neurosim sat``: ``study`` (the default), ``rtl``, ``verify``,
``synth`` and ``bench``; ``neurosim rtl|verify|synth|bench sat`` are aliases of them.

``neurosim sat MODEL --nm 2:8`` models a training step dense against BDWP N:M (:mod:`.study`);
``neurosim sat rtl --rows 4 --cols 4 --nm 2:8 --out DIR`` writes the array's Verilog and manifest;
``neurosim sat verify --tiles 300 --seed 0`` runs the cocotb campaign (every pattern, or one build
with ``--nm``/``--groups``/``--config``); ``neurosim sat synth --fpga ecp5-85`` synthesizes the
dense PE, the sparse PE (and, for ``groups > 1``, the one-group PE with the same multipliers and
window) and the array (sparse and dense-only) and reports the sparse PE's overhead.

``--config NAME_OR_TOML --nm N:M`` builds the array of an accelerator configuration
(:class:`~neurosim.targets.sat.config.AcceleratorConfig`) running N:M: its ``rows`` x ``cols``, PEs of
``groups = lanes // N`` groups of N:M (``sat-vcu1525`` at 2:8: 16 x 32 PEs of two 2:8 groups, 4
multipliers and a 16-wide window each), its activation and weight widths, and the minimum exact
accumulator (unless ``--acc-bits``). Explicit ``--rows``/``--cols``/``--act-bits``/``--weight-bits``
override the config's (a smaller slice of the same PE for ``verify``); the pattern must be one the
config's PE supports.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from neurosim.commands import Command, Target, console, nm_arg, nonneg_int, positive_int, seed_arg, shape_arg
from neurosim.errors import SATConfigError

NAME = "sat"


def add_options(p: argparse.ArgumentParser, command: str) -> None:
    """The options that build one array: shape, pattern, groups, widths, or an accelerator config."""
    g = p.add_argument_group(f"SAT PE array (`neurosim sat {command}`)")
    g.add_argument("--rows", type=positive_int, default=None, help="sat: PE rows (default 4, or the --config's)")
    g.add_argument("--cols", type=positive_int, default=None, help="sat: PE columns (default 4, or the --config's)")
    g.add_argument("--nm", default=None, metavar="N:M",
                   help="sat: the PE's N:M pattern, N:N (or dense, 1:1) for a dense-only array (default 2:8"
                        + ("; verify: every pattern of the campaign)" if command == "verify" else ")"))
    g.add_argument("--groups", type=positive_int, default=None, metavar="G",
                   help="sat: N:M groups per PE: G*N multipliers, a G*M-wide window, each weight selecting "
                        "within its group's M (default 1)")
    g.add_argument("--config", default=None, metavar="NAME_OR_TOML",
                   help="sat: take rows, cols, widths and the PE (groups = lanes // N) from an accelerator "
                        "config, e.g. sat-vcu1525, for the --nm pattern")
    g.add_argument("--act-bits", type=positive_int, default=None, help="sat: activation width (default 8, or the --config's)")
    g.add_argument("--weight-bits", type=positive_int, default=None, help="sat: weight width (default 8, or the --config's)")
    g.add_argument("--acc-bits", type=nonneg_int, default=0, help="sat: accumulator width (default 0: the minimum)")
    if command == "verify":
        g.add_argument("--tiles", type=positive_int, default=300, help="sat: random tiles in all (default 300; plus edge tiles)")
    if command == "synth":
        g.add_argument("--pe-only", action="store_true", help="sat: synthesize the PEs only, not the arrays")


def accelerator_shape(acc, n: int, m: int) -> dict:
    """The SATConfig fields of accelerator ``acc``'s array running N:M: its rows, cols and widths,
    and ``groups = lanes // N`` groups of N:M per PE (the model's ``reduction_per_pe``: ``lanes * M / N``
    sparse, ``lanes`` dense). Raises :class:`SATConfigError` for a pattern the PE cannot run."""
    acc.reduction_per_pe(n, m)  # refuses a pattern the PE's lanes and window cannot run, naming them
    if acc.lanes % n:
        raise SATConfigError(f"--nm {n}:{m} needs N to divide the lanes of accelerator {acc.name!r} "
                             f"({acc.lanes} multipliers per PE), found N = {n}; choose N among "
                             f"{', '.join(str(d) for d in range(1, acc.lanes + 1) if acc.lanes % d == 0)}")
    return {"rows": acc.rows, "cols": acc.cols, "groups": acc.lanes // n, "n": n, "m": m,
            "act_bits": acc.act_bits, "weight_bits": acc.weight_bits}


def config_of(args, nm: str | None = None):
    """The SATConfig of the command line: ``--config`` (an accelerator's shape for ``--nm``) and
    explicit options over it, or the options over the defaults (4 x 4, 2:8, 8-bit, one group)."""
    from neurosim.ir.nm import parse_nm
    from neurosim.targets.sat.hdl.config import SATConfig

    n, m = parse_nm(nm or args.nm or "2:8")
    fields = {"rows": 4, "cols": 4, "groups": 1, "n": n, "m": m, "act_bits": 8, "weight_bits": 8}
    if getattr(args, "config", None):
        from neurosim.targets.sat.config import load_config

        if args.groups is not None:
            raise SATConfigError(f"--groups must be left out with --config, found --groups {args.groups!r}; "
                                 f"--config derives groups = lanes // N from the accelerator's PE")
        fields.update(accelerator_shape(load_config(args.config), n, m))
    for key in ("rows", "cols", "groups", "act_bits", "weight_bits"):
        if getattr(args, key, None) is not None:
            fields[key] = getattr(args, key)
    return SATConfig(**fields, acc_bits=args.acc_bits)


#: what a `neurosim sat rtl --out` folder holds (an existing folder holding more is not replaced)
RTL_FILES = ("*.v", "manifest.json")


def _rtl(args) -> int:
    from neurosim.fileio import atomic_dir, check_output_dir
    from neurosim.hdl.emit import emit_design
    from neurosim.targets.sat.hdl import TOP, describe, manifest_of, verilog_of

    check_output_dir("--out", args.out, owned=RTL_FILES)
    cfg = config_of(args)
    text, manifest = verilog_of(cfg), manifest_of(cfg, getattr(args, "config", None))
    with atomic_dir(args.out, owned=RTL_FILES) as tmp:
        name = emit_design(tmp, TOP, text, manifest).name
    path = Path(args.out) / name
    console().print(f"wrote {path}: {cfg.rows} x {cfg.cols} PEs, {describe(cfg)}, {cfg.act_bits}-bit activations, "
                     f"{cfg.weight_bits}-bit weights, {cfg.acc_bits}-bit sums; and manifest.json")
    return 0


def _verify(args) -> int:
    from rich.markup import escape

    from neurosim.hdl.runner import SimulatorLog
    from neurosim.targets.sat.hdl import describe
    from neurosim.targets.sat.verify import CAMPAIGN, verify_campaign
    from neurosim.fileio import check_output_dir

    check_output_dir("--work", args.work)
    if args.tiles < 1:
        raise SATConfigError(f"--tiles must be a positive integer, found {args.tiles!r}; give the number of random tiles")
    # any array option names one build; none runs the campaign (an option is never silently ignored)
    one = any(getattr(args, k, None) is not None for k in ("nm", "groups", "config", "rows", "cols", "act_bits",
                                                            "weight_bits")) or args.acc_bits
    configs = (config_of(args),) if one else CAMPAIGN
    con = console()
    verbose = getattr(args, "verbose", False)
    log = SimulatorLog(Path(args.work) / NAME / "simulator.log", verbose=verbose)
    with log:
        results = verify_campaign(args.tiles, args.seed, Path(args.work) / NAME, args.simulator, configs)
    head = ("array", "N:M", "bits a/w/acc", "tiles sp/dn", "beats", "stalls", "differ bits/cycles",
            "protocol viol/probes", "coverage", "result")
    rows = []
    for r in results:
        cfg = r.config
        cov = r.coverage
        rows.append((f"{cfg.rows}x{cfg.cols}", describe(cfg), f"{cfg.act_bits}/{cfg.weight_bits}/{cfg.acc_bits}",
                     f"{r.sparse_tiles}/{r.dense_tiles}", str(r.beats), str(r.stall_cycles),
                     f"{r.differing_bits}/{r.differing_cycles}",
                     f"{r.protocol_violations}/{r.protocol.get('probes', 0)}", f"{cov.reached}/{len(cov.goals)}", "PASS" if r.passed else "FAIL"))
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    con.print(f"verify sat ({args.simulator}): the PE array's RTL against the model, {len(results)} builds")
    for cells in [head] + rows:
        con.print("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip(),
                  highlight=False, soft_wrap=True)
    for r in results:
        if r.first_difference:
            con.print(escape(f"{r.config.rows}x{r.config.cols} {describe(r.config)}: first difference: "
                             f"{r.first_difference}"), highlight=False)
    ok = all(r.passed for r in results)
    con.print(f"{'[green]PASS[/]' if ok else '[red]FAIL[/]'}: {sum(r.tiles for r in results)} tiles on "
              f"{len(results)} builds, differing bits {sum(r.differing_bits for r in results)}, differing cycles "
              f"{sum(r.differing_cycles for r in results)}, protocol violations "
              f"{sum(r.protocol_violations for r in results)}; coverage {sum(r.coverage.reached for r in results)}/"
              f"{sum(len(r.coverage.goals) for r in results)} bins "
              f"({sum(not r.coverage.unmet for r in results)} of {len(results)} builds fully covered)", soft_wrap=True)
    if not ok and not verbose:
        for text in log.tail(30):
            con.print("  " + escape(text), highlight=False, soft_wrap=True)
    if not verbose:
        con.print(f"simulator log: {log.path}", soft_wrap=True)
    return 0 if ok else 1


def synth_designs(cfg, pe_only: bool = False):
    """(label, make component, top name) of what ``neurosim synth sat`` measures for ``cfg``: the
    dense PE with the same ``groups * n`` multipliers (one group of ``L:L``), the sparse PE and, for
    ``groups > 1``, the one-group PE with the same multipliers and window (``L:(groups*m)``, every
    weight selecting from the whole window), each bare (resources) and behind input registers
    (Fmax); unless ``pe_only``, the array dense-only and sparse."""
    from neurosim.targets.sat.hdl import describe
    from neurosim.targets.sat.hdl.array import SATArray
    from neurosim.targets.sat.hdl.pe import RegisteredPE, SparsePE

    L = cfg.lanes
    dense = dataclasses.replace(cfg, groups=1, n=L, m=L, acc_bits=0)
    designs = [("dense PE", dense)]
    if not cfg.dense_only:
        designs.append(("sparse PE", cfg))
        if cfg.groups > 1:
            designs.append(("one-group PE", dataclasses.replace(cfg, groups=1, n=L, m=cfg.window, acc_bits=0)))
    out = []
    for tag, c in designs:
        out.append((f"{tag} {describe(c)}", lambda c=c: SparsePE(c), "sat_pe"))
        out.append((f"{tag} {describe(c)} (input registers, for Fmax)", lambda c=c: RegisteredPE(c), "sat_pe_bench"))
    if not pe_only:
        out.append((f"array {cfg.rows}x{cfg.cols} {describe(dense)}", lambda: SATArray(dense), "neurosim_sat"))
        if not cfg.dense_only:
            out.append((f"array {cfg.rows}x{cfg.cols} {describe(cfg)}", lambda: SATArray(cfg), "neurosim_sat"))
    return out


def _synth(args) -> int:
    from neurosim.fileio import write_text_atomic
    from neurosim.hdl.synth import synthesize_design
    from neurosim.targets.sat.hdl import describe
    from neurosim.fileio import check_output_dir, check_output_file

    check_output_dir("--work", args.work)
    if args.json is not None:
        check_output_file("--json", args.json)
    cfg = config_of(args)
    con = console()
    reports = []
    for k, (label, make, name) in enumerate(synth_designs(cfg, getattr(args, "pe_only", False))):
        r = synthesize_design(make(), name, args.fpga, Path(args.work) / NAME / f"{k}_{name}")
        reports.append({"design": label, **r.as_dict()})
        con.print(f"{label}: {r.device}: {r.summary()}", style=None if r.fits else "red", highlight=False,
                  markup=False, soft_wrap=True)
    by = {d["design"]: d for d in reports}
    L = cfg.lanes
    dense_pe = by.get(f"dense PE {L}:{L}")
    sparse_pe = by.get(f"sparse PE {describe(cfg)}")
    one_group = by.get(f"one-group PE {L}:{cfg.window}")

    def delta(new, base, key):
        b = base[key] or 0
        return f"{new[key] - b:+d} ({(new[key] - b) / b:+.0%})" if b else "n/a"

    if dense_pe and sparse_pe:
        con.print(f"sparse PE {describe(cfg)} over dense PE {L}:{L} (same {L} multipliers): "
                  f"LUT4 {delta(sparse_pe, dense_pe, 'luts')}, FF {delta(sparse_pe, dense_pe, 'ffs')}, "
                  f"DSP {sparse_pe['dsp'] - dense_pe['dsp']:+d}")
    if one_group and sparse_pe:
        con.print(f"grouped PE {describe(cfg)} over one-group PE {L}:{cfg.window} (same multipliers and window): "
                  f"LUT4 {delta(sparse_pe, one_group, 'luts')}, FF {delta(sparse_pe, one_group, 'ffs')}, "
                  f"DSP {sparse_pe['dsp'] - one_group['dsp']:+d}")
    if args.json is not None:
        write_text_atomic(args.json, json.dumps({"config": dataclasses.asdict(cfg), "reports": reports}, indent=1) + "\n")
    return 0 if all(r["fits"] for r in reports) else 1


# -- study ----------------------------------------------------------------------------------------

def _configure_study(p):
    from neurosim.targets.sat.model.workload import networks

    p.add_argument("model", help=f"a shipped network ({', '.join(networks())}) or a model file (.nir, .nsim; "
                                 f".pt/.pth with --input-shape and the torch extra)")
    p.add_argument("--nm", type=nm_arg, default=(2, 8), help="N:M pattern of BDWP, e.g. 2:8 (default) or dense")
    p.add_argument("--config", default="sat-vcu1525", help="accelerator: a bundled name or a TOML file")
    p.add_argument("--batch", type=positive_int, default=32, help="training batch size (default 32)")
    p.add_argument("--out", default=None, help="write report.json and plots into this folder")
    p.add_argument("--top", type=nonneg_int, default=15, help="rows of the per-layer table (0: every layer)")
    p.add_argument("--input-shape", type=shape_arg, default=None,
                   help="unbatched input shape for torch modules, e.g. 3,224,224")
    p.add_argument("--all-layers", action="store_true",
                   help="prune the first and the last weighted layer too (default: they stay dense)")
    for switch in ("interleave", "pregenerate", "offline-schedule"):
        p.add_argument(f"--no-{switch}", action="store_true", help=f"switch the {switch} dataflow optimisation off")


def _progress_study(con, workload, cfg, nm, batch, dense_layers):
    """Run the study with a progress bar over its training steps on a terminal (a long study: big
    network, big batch; ``study`` reports each step and the total, so the bar pulses until the first
    step ends) and nothing off a terminal (a pipe or a log gets the report only)."""
    from neurosim.targets.sat.study import study

    if not con.is_terminal:
        return study(workload, cfg, nm, batch, dense_layers=dense_layers)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("modelling training steps"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=con, transient=True) as bar:
        task = bar.add_task("study", total=None)
        return study(workload, cfg, nm, batch, dense_layers=dense_layers,
                     progress=lambda done, total: bar.update(task, completed=done, total=total))


def _study(args) -> int:
    import time

    from neurosim.fileio import REPORT_FILES, check_output_dir
    from neurosim.targets.sat.model.workload import load_workload
    from neurosim.targets.sat.config import load_config
    from neurosim.targets.sat.report import print_summary, to_dict, write_report

    if args.out is not None:
        check_output_dir("--out", args.out, owned=REPORT_FILES)
    cfg = load_config(args.config)
    off = {k.replace("-", "_"): False for k in ("interleave", "pregenerate", "offline-schedule")
           if getattr(args, f"no_{k.replace('-', '_')}")}
    if off:
        cfg = cfg.with_dataflow(**off)
    workload = load_workload(args.model, input_shape=args.input_shape)
    con = console()
    start = time.perf_counter()
    result = _progress_study(con, workload, cfg, args.nm, args.batch, frozenset() if args.all_layers else None)
    seconds = time.perf_counter() - start
    doc = write_report(result, args.out) if args.out is not None else to_dict(result)
    print_summary(doc, con, top=args.top)
    # the wall time goes to the terminal only: report.json is the same bytes for the same command
    # dense + sparse, each ablation variant both ways, each swept pattern but the study's own (reused)
    steps = 2 + 2 * len(result.ablation) + sum(1 for r in result.patterns if tuple(r.nm) != tuple(args.nm))
    con.print(f"[dim]modelled {steps} training steps in "
              f"{seconds:.2f} s[/]")
    if args.out is not None:
        con.print(f"wrote {Path(args.out) / 'report.json'} and {len(doc.get('plots', []))} plots")
    return 0


def _configure_bench(p):
    p.add_argument("--network", default="resnet50", help="shipped network (default resnet50)")
    p.add_argument("--batch", type=positive_int, default=32, help="batch of the modelled training step (default 32)")
    p.add_argument("--repeats", type=positive_int, default=3, help="best of this many runs (default 3)")
    p.add_argument("--scalesim-python", default=None,
                   help="a Python interpreter with scalesim 3.0 and numpy 2.3 to run the SCALE-Sim baseline")
    p.add_argument("--scalesim-array", type=shape_arg, default=(32, 32), help="SCALE-Sim array rows,cols (32,32)")
    p.add_argument("--scalesim-layers", type=nonneg_int, default=0, help="only the first N forward layers (0: all)")
    p.add_argument("--json", default=None, help="also write the results to this JSON file")


def _bench(args) -> int:
    from neurosim.errors import SimulationError
    from neurosim.fileio import write_text_atomic
    from neurosim.targets.sat.bench import bench_sat
    from neurosim.fileio import check_output_file

    if args.json is not None:
        check_output_file("--json", args.json)
    if len(args.scalesim_array) != 2:
        raise SimulationError(f"--scalesim-array takes rows,cols, found {args.scalesim_array!r}")
    results = bench_sat(args.network, batch=args.batch, repeats=args.repeats, scalesim_python=args.scalesim_python,
                        scalesim_array=tuple(args.scalesim_array), scalesim_layers=args.scalesim_layers,
                        log=console().print)
    if args.json is not None:
        write_text_atomic(args.json, json.dumps(results, indent=1))
    return 0


def _configure_rtl(p):
    add_options(p, "rtl")
    p.add_argument("--out", required=True, help="output folder: the array's Verilog and manifest.json")


def _configure_verify(p):
    add_options(p, "verify")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed of the random tiles")
    p.add_argument("--simulator", choices=("icarus", "verilator"), default="icarus")
    p.add_argument("--work", default="build/verify", help="simulation work folder")
    p.add_argument("--verbose", action="store_true",
                   help="show the simulator's own output; otherwise it goes to <work>/sat/simulator.log, with its tail "
                        "shown on a failure")


def _configure_synth(p):
    add_options(p, "synth")
    p.add_argument("--fpga", choices=("ice40", "ecp5", "ecp5-85"), required=True)
    p.add_argument("--work", default="build/synth", help="synthesis work folder")
    p.add_argument("--json", default=None, help="also write the reports to this JSON file")


def _print_report(doc: dict, con) -> None:
    from neurosim.targets.sat.report import print_summary

    print_summary(doc, con)


TARGET = Target(
    name=NAME,
    help="N:M sparse (BDWP) training on the SAT accelerator: study, PE-array RTL, verification",
    nested=True,
    default="study",
    commands={
        "study": Command("N:M sparse (BDWP) against dense training on the SAT accelerator, per layer and phase",
                         _configure_study, _study),
        "rtl": Command("write the Verilog of the N:M sparse PE array", _configure_rtl, _rtl),
        "verify": Command("check the PE array against numpy and the tile cycle model (cocotb)", _configure_verify,
                          _verify),
        "synth": Command("synthesize the dense and sparse PEs and arrays for an FPGA and report resources",
                         _configure_synth, _synth),
        "bench": Command("the SAT model's speed against plain Python (and SCALE-Sim)", _configure_bench, _bench),
    },
    report_schema="neurosim-sat",
    print_report=_print_report,
)
