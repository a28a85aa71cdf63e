"""The ``neurosim`` command.

Subcommands are registered in :data:`COMMANDS` (name -> (configure parser, run)); errors that
derive from :class:`~neurosim.errors.NeurosimError` print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from neurosim.errors import NeurosimError, SimulationError


def _console():
    from rich.console import Console

    con = Console()
    if not con.is_terminal:
        con = Console(width=140)
    return con


def _shape_arg(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--input-shape must be integers like 64 or 1,8,8, found {text!r}") from None
    if not shape or min(shape) <= 0:
        raise argparse.ArgumentTypeError(f"--input-shape must be positive integers, found {text!r}")
    return shape


def _add_model_options(p: argparse.ArgumentParser) -> None:
    from neurosim.frontends.profiles import profiles

    p.add_argument("model", help="model file: .nir, .nsim (native) or .pt/.pth (pickled torch module)")
    p.add_argument("--source", choices=sorted(profiles()), default=None,
                   help="NIR source profile: which framework exported the file (default: exact restore for "
                        "files neurosim wrote, else the NIR spec)")
    p.add_argument("--dt", type=float, default=None, dest="dt_s", metavar="SECONDS",
                   help="timestep used to discretise NIR time constants (overrides the profile)")
    p.add_argument("--reset", choices=("zero", "subtract", "none"), default=None, help="override the reset mode")
    p.add_argument("--reset-timing", choices=("immediate", "delayed"), default=None, help="override the reset timing")
    p.add_argument("--spike-rule", choices=("gt", "ge", "multi"), default=None, help="override the spike rule")
    p.add_argument("--input-shape", type=_shape_arg, default=None,
                   help="unbatched input shape for torch modules, e.g. 64 or 1,8,8")


def _load(args):
    from neurosim.frontends import load_model

    return load_model(args.model, source=args.source, dt_s=args.dt_s, reset=args.reset,
                      reset_timing=args.reset_timing, spike_rule=args.spike_rule, input_shape=args.input_shape)


# -- info ---------------------------------------------------------------------------------------

def _cmd_info(args) -> int:
    from rich.table import Table

    from neurosim.report.summary import summarize, totals

    graph = _load(args)
    rows = summarize(graph)
    table = Table(title=f"{args.model}", show_lines=False)
    for col in ("layer", "type", "shape", "neurons", "synapses", "params", "sparsity", "N:M", "fixed point"):
        table.add_column(col, justify="right" if col in ("neurons", "synapses", "params", "sparsity") else "left")
    for r in rows:
        table.add_row(r.name, r.type, "x".join(map(str, r.shape)), f"{r.neurons:,}" if r.neurons else "",
                      f"{r.synapses:,}" if r.synapses else "", f"{r.params:,}",
                      "" if r.sparsity is None else f"{r.sparsity:.1%}", r.nm, r.fixed_point)
    t = totals(rows)
    table.add_section()
    table.add_row("total", "", "", f"{t['neurons']:,}", f"{t['synapses']:,}", f"{t['params']:,}", "", "", "")
    con = _console()
    con.print(table)
    for r in rows:
        if r.details:
            con.print(f"  [bold]{r.name}[/]: {r.details}")
    sem = graph.semantics
    dt = "none (the source is discrete-time)" if sem.dt_s is None else f"{sem.dt_s!r} s"
    con.print(f"semantics: profile [bold]{sem.profile}[/], dt = {dt}")
    for note in sem.notes:
        con.print(f"  - {note}")
    return 0


def _configure_info(p):
    _add_model_options(p)


# -- run ----------------------------------------------------------------------------------------

def _cmd_run(args) -> int:
    from rich.progress import Progress

    from neurosim.engine.reference import run
    from neurosim.fileio import atomic_path

    graph = _load(args)
    try:
        x = np.load(args.input, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise SimulationError(f"cannot read input array {args.input!r}: {exc}; save it with numpy.save as [T, *input_shape]") from None
    if isinstance(x, np.lib.npyio.NpzFile):
        raise SimulationError(f"input {args.input!r} is an .npz archive; give one .npy array shaped [T, *input_shape]")
    con = _console()
    with Progress(transient=True, console=con, disable=not con.is_terminal) as progress:
        task = progress.add_task("simulating", total=int(x.shape[0]) if x.ndim else 1)
        result = run(graph, x, mode=args.mode, progress=lambda t, n: progress.update(task, completed=t))
    arrays = {"output_spikes": result.output_spikes}
    for name in graph.populations():
        arrays[f"spikes/{name}" if graph.nodes[name].spiking else f"values/{name}"] = result.outputs[name]
    for name, st in result.state.items():
        for key, value in st.items():
            arrays[f"membrane/{name}" if key == "v" else f"{key}/{name}"] = value
    out = Path(args.out)
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
    spikes = result.output_spikes
    con.print(f"{x.shape[0]} steps, output {graph.outputs[0]!r} {tuple(spikes.shape[1:])}: "
              f"{int(np.sum(spikes))} spikes; wrote {out}")
    per_neuron = spikes.reshape(spikes.shape[0], -1).sum(axis=0)
    con.print("output spike counts per neuron: " + " ".join(str(int(v)) for v in per_neuron[:32]))
    return 0


def _configure_run(p):
    _add_model_options(p)
    p.add_argument("--input", required=True, help="input .npy shaped [T, *input_shape] (spikes or currents)")
    p.add_argument("--out", required=True, help="output .npz: output_spikes, spikes/<node>, membrane/<node>")
    p.add_argument("--mode", choices=("float", "fixed"), default="float", help="numeric mode of the reference")


# -- estimate -----------------------------------------------------------------------------------

def _cmd_estimate(args) -> int:
    from neurosim.estimate import estimate
    from neurosim.report.estimate_report import print_summary, to_dict, write_report

    graph = _load(args)
    x = None
    if args.input is not None:
        try:
            x = np.load(args.input, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise SimulationError(f"cannot read input array {args.input!r}: {exc}; save it with numpy.save") from None
    con = _console()
    with con.status("mapping and simulating...", spinner="dots") if con.is_terminal else contextlib.nullcontext():
        est = estimate(graph, args.chip, x, rate=args.rate, timesteps=args.timesteps, seed=args.seed,
                       method=args.method, chips=args.chips, contention=args.contention)
    name = Path(args.model).stem
    doc = write_report(est, args.out, model_name=name) if args.out else to_dict(est, name)
    print_summary(doc, con)
    if args.method == "synops":
        con.print(f"[bold]synops estimate: {doc['synops']['energy_pj']:.4g} pJ[/] (cycle method shown for comparison)")
    if args.out:
        con.print(f"wrote {Path(args.out) / 'report.json'} and {len(doc.get('plots', []))} plots")
    return 0


def _rate_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--rate must be a number in [0, 1], found {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"--rate must be a spike probability in [0, 1], found {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, found {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, found {text!r}")
    return value


def _configure_estimate(p):
    _add_model_options(p)
    p.add_argument("--chip", required=True, help="chip preset name (see `neurosim chips`) or a preset TOML path")
    p.add_argument("--input", default=None, help="input .npy [T, *input_shape] (default: Poisson spikes at --rate)")
    p.add_argument("--rate", type=_rate_arg, default=0.1, help="Poisson input spike probability per step (default 0.1)")
    p.add_argument("--timesteps", type=_positive_int, default=16, help="timesteps of the Poisson input (default 16)")
    p.add_argument("--seed", type=int, default=0, help="seed of the Poisson input")
    p.add_argument("--out", default=None, help="report folder: report.json and plots")
    p.add_argument("--chips", type=_positive_int, default=None,
                   help="chips on the board (default: the preset's); the mesh continues across chips")
    p.add_argument("--contention", action="store_true", help="add link queueing to the NoC latency")
    p.add_argument("--method", choices=("cycle", "synops"), default="cycle",
                   help="cycle: the cycle-level engine; synops: the literature's op-count estimate (both are reported)")


def _configure_chips(p):
    from neurosim.hw.chips_command import configure

    configure(p)


def _cmd_chips(args) -> int:
    from neurosim.hw.chips_command import run as run_chips

    return run_chips(args)


# -- rtl / verify / synth -------------------------------------------------------------------------

def _model_input(graph, args) -> np.ndarray:
    from neurosim.estimate import poisson_input

    if getattr(args, "input", None):
        return np.load(args.input, allow_pickle=False)
    return poisson_input(graph.nodes[graph.inputs[0]].shape, args.timesteps, args.rate, args.seed)


def _configure_rtl(p):
    from neurosim.hdl.sat_commands import add_options as add_sat_options

    _configure_rtl_common(p)
    add_sat_options(p, "rtl")
    p.add_argument("--out", required=True, help="output folder: one subfolder per core with Verilog and manifest")


def _cmd_rtl(args) -> int:
    import json

    if args.model == "sat":  # the SAT PE array, not a model file
        from neurosim.hdl.sat_commands import rtl as rtl_sat

        return rtl_sat(args)

    from neurosim.fileio import write_text_atomic
    from neurosim.hdl.emit import emit
    from neurosim.hdl.model import cores_of

    graph = _load(args)
    designs, _ = cores_of(graph, _model_input(graph, args))
    out = Path(args.out)
    rows = []
    for d in designs:
        extra = {"model": Path(args.model).name, "core": d.index, "population": d.population,
                 "neurons": [d.neurons.start, d.neurons.stop], "axon_sources": d.sources.tolist()}
        path = emit(d.config, out / f"core{d.index}", extra=extra, program=d.program)
        rows.append({"core": d.index, "population": d.population, "verilog": str(path.relative_to(out)),
                     "neurons": d.config.neurons, "axons": d.config.axons})
    from amaranth.back import verilog

    from neurosim.hdl.model import top_of

    top = top_of(designs, _n_inputs(graph))
    write_text_atomic(out / "top" / "neurosim_top.v", verilog.convert(top, name="neurosim_top", emit_src=False))
    write_text_atomic(out / "cores.json", json.dumps(rows, indent=1) + "\n")
    _console().print(f"wrote {len(rows)} core(s) to {out}: " + ", ".join(f"{r['verilog']} ({r['neurons']} neurons, "
                                                                          f"{r['axons']} axons)" for r in rows)
                     + "; and the whole model with its router: top/neurosim_top.v")
    return 0


def _n_inputs(graph) -> int:
    return sum(int(np.prod(graph.nodes[n].shape)) for n in graph.inputs)


def _configure_verify(p):
    from neurosim.hdl.sat_commands import add_options as add_sat_options

    _configure_rtl_common(p)
    add_sat_options(p, "verify")
    p.add_argument("--simulator", choices=("icarus", "verilator"), default="icarus")
    p.add_argument("--work", default="build/verify", help="simulation work folder")
    p.add_argument("--no-top", action="store_true", help="verify the cores one by one only, not the whole-model top")


def _configure_rtl_common(p):
    _add_model_options(p)
    p.add_argument("--input", default=None, help="input .npy [T, *input_shape] (default: Poisson spikes)")
    p.add_argument("--rate", type=_rate_arg, default=0.2)
    p.add_argument("--timesteps", type=_positive_int, default=16)
    p.add_argument("--seed", type=int, default=0)


def _cmd_verify(args) -> int:
    from neurosim.hdl.verify import verify_model

    if args.model == "sat":  # the SAT PE array against numpy and the tile cycle model
        from neurosim.hdl.sat_commands import verify as verify_sat

        return verify_sat(args)

    graph = _load(args)
    con = _console()
    mv = verify_model(graph, _model_input(graph, args), args.work, args.simulator)
    for d, r in mv.cores:
        verdict = "[green]PASS[/]" if r.passed else "[red]FAIL[/]"
        con.print(f"core {d.index} ({d.population}, {d.config.neurons} neurons, {d.config.axons} axons): {verdict} "
                  f"{r.steps} steps, differing spikes {r.differing_spikes}, membrane bits {r.differing_membrane_bits}, "
                  f"cycles {r.differing_cycles} ({r.simulator}, {r.run_s:.1f} s)")
        if r.first_difference:
            con.print(f"  first difference: {r.first_difference}")
    ok = mv.passed
    if not args.no_top:
        from neurosim.hdl.verify import verify_model_top

        r = verify_model_top(graph, _model_input(graph, args), Path(args.work) / "top", args.simulator)
        verdict = "[green]PASS[/]" if r.passed else "[red]FAIL[/]"
        con.print(f"whole model (multi-core top with router): {verdict} {r.steps} steps, differing spikes "
                  f"{r.differing_spikes}, membrane bits {r.differing_membrane_bits}, per-core cycles {r.differing_cycles} "
                  f"({r.simulator}, {r.run_s:.1f} s)")
        if r.first_difference:
            con.print(f"  first difference: {r.first_difference}")
        ok = ok and r.passed
    return 0 if ok else 1


def _configure_synth(p):
    from neurosim.hdl.sat_commands import add_options as add_sat_options

    _configure_rtl_common(p)
    add_sat_options(p, "synth")
    p.add_argument("--fpga", choices=("ice40", "ecp5", "ecp5-85"), required=True)
    p.add_argument("--work", default="build/synth", help="synthesis work folder")
    p.add_argument("--json", default=None, help="also write the reports to this JSON file")
    p.add_argument("--top", action="store_true", help="also synthesize the whole model (cores + router) as one design")


def _cmd_synth(args) -> int:
    import json

    if args.model == "sat":  # the SAT PEs and array
        from neurosim.hdl.sat_commands import synth as synth_sat

        return synth_sat(args)

    from neurosim.fileio import write_text_atomic
    from neurosim.hdl.model import cores_of
    from neurosim.hdl.synth import synthesize

    graph = _load(args)
    designs, _ = cores_of(graph, _model_input(graph, args))
    con = _console()
    reports = []
    for d in designs:
        r = synthesize(d.config, args.fpga, Path(args.work) / f"core{d.index}")
        reports.append({"core": d.index, "population": d.population, **r.as_dict()})
        con.print(f"core {d.index} ({d.population}): {r.device}: LUT4 {r.luts}, FF {r.ffs}, BRAM {r.bram}, "
                  f"LUTRAM {r.lutram}, DSP {r.dsp}, logic cells {r.logic_cells}, Fmax {r.fmax_mhz} MHz"
                  + ("" if r.fits else " [red](does not fit)[/]"))
    if args.top:
        from neurosim.hdl.model import top_of
        from neurosim.hdl.synth import synthesize_design

        r = synthesize_design(top_of(designs, _n_inputs(graph)), "neurosim_top", args.fpga, Path(args.work) / "top")
        reports.append({"core": "top", "population": "all", **r.as_dict()})
        con.print(f"whole model: {r.device}: LUT4 {r.luts}, FF {r.ffs}, BRAM {r.bram}, LUTRAM {r.lutram}, DSP {r.dsp}, "
                  f"logic cells {r.logic_cells}, Fmax {r.fmax_mhz} MHz" + ("" if r.fits else " [red](does not fit)[/]"))
    if args.json:
        write_text_atomic(args.json, json.dumps(reports, indent=1) + "\n")
    return 0 if all(r["fits"] for r in reports) else 1


# -- bench --------------------------------------------------------------------------------------

def _configure_bench(p):
    p.add_argument("what", choices=("engine", "sat"), help="what to benchmark: the neuromorphic engine or the SAT "
                                                          "training model")
    p.add_argument("--neurons", type=_positive_int, default=10_000)
    p.add_argument("--steps", type=_positive_int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chip", default="loihi", help="preset the network is mapped onto (default loihi)")
    p.add_argument("--chips", type=_positive_int, default=4, help="chips on the board (default 4)")
    p.add_argument("--repeats", type=_positive_int, default=3, help="best of this many runs (default 3)")
    p.add_argument("--no-brian2", action="store_true", help="skip Brian2")
    p.add_argument("--brian2-python", default=None,
                   help="a Python interpreter with brian2 2.9 and numpy 2.3 to run the Brian2 baseline")
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    g = p.add_argument_group("sat")
    g.add_argument("--network", default="resnet50", help="shipped network for `bench sat` (default resnet50)")
    g.add_argument("--batch", type=_positive_int, default=32, help="batch of the modelled training step (default 32)")
    g.add_argument("--scalesim-python", default=None,
                   help="a Python interpreter with scalesim 3.0 and numpy 2.3 to run the SCALE-Sim baseline")
    g.add_argument("--scalesim-array", type=_shape_arg, default=(32, 32), help="SCALE-Sim array rows,cols (32,32)")
    g.add_argument("--scalesim-layers", type=int, default=0, help="only the first N forward layers (0: all)")


def _cmd_bench(args) -> int:
    import json

    from neurosim.bench import bench_engine
    from neurosim.fileio import write_text_atomic

    con = _console()
    if args.what == "sat":
        from neurosim.bench_sat import bench_sat

        if len(args.scalesim_array) != 2:
            raise SimulationError(f"--scalesim-array takes rows,cols, found {args.scalesim_array!r}")
        results = bench_sat(args.network, batch=args.batch, repeats=max(args.repeats, 1),
                            scalesim_python=args.scalesim_python, scalesim_array=tuple(args.scalesim_array),
                            scalesim_layers=args.scalesim_layers, log=con.print)
        if args.json:
            write_text_atomic(args.json, json.dumps(results, indent=1))
        return 0
    results = bench_engine(n=args.neurons, steps=args.steps, seed=args.seed, chip=args.chip, chips=args.chips,
                           brian2=not args.no_brian2, repeats=args.repeats, brian2_python=args.brian2_python,
                           log=con.print)
    if args.json:
        write_text_atomic(args.json, json.dumps(results, indent=1))
    return 0


# -- sat ----------------------------------------------------------------------------------------

def _nm_arg(text: str) -> tuple[int, int]:
    from neurosim.hw.accelerator import parse_nm

    try:
        return parse_nm(text)
    except NeurosimError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _configure_sat(p):
    from neurosim.engine.sat.workload import networks

    p.add_argument("model", help=f"a shipped network ({', '.join(networks())}) or a model file (.nir, .nsim; "
                                 f".pt/.pth with --input-shape and the torch extra)")
    p.add_argument("--nm", type=_nm_arg, default=(2, 8), help="N:M pattern of BDWP, e.g. 2:8 (default) or dense")
    p.add_argument("--config", default="sat-vcu1525", help="accelerator: a bundled name or a TOML file")
    p.add_argument("--batch", type=_positive_int, default=32, help="training batch size (default 32)")
    p.add_argument("--out", default=None, help="write report.json and plots into this folder")
    p.add_argument("--top", type=int, default=15, help="rows of the per-layer table (0: every layer)")
    p.add_argument("--input-shape", type=_shape_arg, default=None,
                   help="unbatched input shape for torch modules, e.g. 3,224,224")
    p.add_argument("--all-layers", action="store_true",
                   help="prune the first and the last weighted layer too (default: they stay dense)")
    for switch in ("interleave", "pregenerate", "offline-schedule"):
        p.add_argument(f"--no-{switch}", action="store_true", help=f"switch the {switch} dataflow optimisation off")


def _cmd_sat(args) -> int:
    from neurosim.engine.sat.study import study
    from neurosim.engine.sat.workload import load_workload
    from neurosim.hw.accelerator import load_config
    from neurosim.report.sat_report import print_summary, to_dict, write_report

    cfg = load_config(args.config)
    off = {k.replace("-", "_"): False for k in ("interleave", "pregenerate", "offline-schedule")
           if getattr(args, f"no_{k.replace('-', '_')}")}
    if off:
        cfg = cfg.with_dataflow(**off)
    workload = load_workload(args.model, input_shape=args.input_shape)
    con = _console()
    with con.status("modelling the training step...", spinner="dots") if con.is_terminal else contextlib.nullcontext():
        result = study(workload, cfg, args.nm, args.batch, dense_layers=frozenset() if args.all_layers else None)
    doc = write_report(result, args.out) if args.out else to_dict(result)
    print_summary(doc, con, top=args.top)
    con.print(f"[dim]modelled {len(result.ablation) * 2 + len(result.patterns) + 2} training steps in "
              f"{result.seconds:.2f} s[/]")
    if args.out:
        con.print(f"wrote {Path(args.out) / 'report.json'} and {len(doc.get('plots', []))} plots")
    return 0


#: name -> (help, configure(parser), run(args) -> exit status)
COMMANDS: dict[str, tuple[str, Callable, Callable]] = {
    "info": ("print a table of the model's layers", _configure_info, _cmd_info),
    "run": ("run the reference simulator on an input array", _configure_run, _cmd_run),
    "estimate": ("energy and latency of one inference on a chip", _configure_estimate, _cmd_estimate),
    "chips": ("list the chip presets and their sourced constants", _configure_chips, _cmd_chips),
    "bench": ("benchmark the engine against baselines in the same process", _configure_bench, _cmd_bench),
    "rtl": ("write the Verilog of the cores a model maps onto", _configure_rtl, _cmd_rtl),
    "verify": ("check the generated RTL against the engine, bit and cycle exact (cocotb)", _configure_verify,
               _cmd_verify),
    "synth": ("synthesize the model's cores for an FPGA (yosys + nextpnr) and report resources", _configure_synth,
              _cmd_synth),
    "sat": ("N:M sparse (BDWP) against dense training on the SAT accelerator, per layer and phase", _configure_sat,
            _cmd_sat),
}


def build_parser() -> argparse.ArgumentParser:
    from neurosim import __version__

    parser = argparse.ArgumentParser(prog="neurosim", description="Neuromorphic and FPGA hardware simulation.")
    parser.add_argument("--version", action="version", version=f"neurosim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, configure, _) in COMMANDS.items():
        configure(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command][2](args)
    except NeurosimError as exc:
        print(f"neurosim {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
