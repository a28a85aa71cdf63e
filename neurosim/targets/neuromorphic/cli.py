"""The neuromorphic target's commands: ``run``, ``estimate``, ``chips``, ``rtl``, ``verify``,
``synth`` and ``bench``, top-level in ``neurosim`` (this is the default target)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from neurosim.commands import (
    Command,
    Target,
    add_model_options,
    console,
    int_in,
    load_array,
    load_model_of,
    positive_int,
    rate_arg,
    seed_arg,
    status,
)

#: ``--chips``/``--board-chips``: a board size a preset's ``max_chips`` may hold (int32, see config.MAX_STRUCTURAL)
board_chips = int_in(1, 2**31 - 1, "a number of chips")

# -- run ----------------------------------------------------------------------------------------


def _configure_run(p):
    add_model_options(p)
    p.add_argument("--input", required=True, help="input .npy shaped [T, *input_shape] (spikes or currents)")
    p.add_argument("--out", required=True, help="output .npz: output_spikes, spikes/<node>, membrane/<node>")
    p.add_argument("--mode", choices=("float", "fixed"), default="float", help="numeric mode of the reference")
    p.add_argument("--chip", default="neurosim-core",
                   help="fixed mode: quantize a float model with this chip preset's arithmetic first (a name from "
                        "`neurosim chips` or a preset TOML; default neurosim-core); a quantized model runs as it is")


def _run(args) -> int:
    from rich.progress import Progress

    from neurosim.fileio import atomic_path, check_output_file
    from neurosim.targets.neuromorphic.model.reference import run

    out = check_output_file("--out", args.out, suffix=".npz")
    graph = load_model_of(args)
    if args.mode == "fixed":
        graph = quantized_for_fixed(graph, args.chip)
    x = load_array(args.input)
    con = console()
    with Progress(transient=True, console=con, disable=not con.is_terminal) as progress:
        task = progress.add_task("simulating", total=int(x.shape[0]) if x.ndim else 1)
        result = run(graph, x, mode=args.mode, progress=lambda t, n: progress.update(task, completed=t))
    arrays = {"output_spikes": result.output_spikes}
    for name in graph.populations():
        arrays[f"spikes/{name}" if graph.nodes[name].spiking else f"values/{name}"] = result.outputs[name]
    for name, st in result.state.items():
        for key, value in st.items():
            arrays[f"membrane/{name}" if key == "v" else f"{key}/{name}"] = value
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
    spikes = result.output_spikes
    con.print(f"{x.shape[0]} steps, output {graph.outputs[0]!r} {tuple(spikes.shape[1:])}: "
              f"{int(np.sum(spikes))} spikes; wrote {out}")
    per_neuron = spikes.reshape(spikes.shape[0], -1).sum(axis=0)
    con.print("output spike counts per neuron: " + " ".join(str(int(v)) for v in per_neuron[:32]))
    return 0


def quantized_for_fixed(graph, chip: str):
    """``graph`` ready for the engine's fixed mode: as it is when every spiking population and weighted
    projection carries its fixed-point format, else quantized with preset ``chip``'s arithmetic (what
    ``neurosim estimate`` does), so no command-line path needs the Python quantize pass."""
    from neurosim.targets.neuromorphic.config import load_preset
    from neurosim.targets.neuromorphic.estimate import _quantize_for

    if (all(graph.nodes[n].fixed is not None for n in graph.spiking_populations())
            and all(getattr(node, "weight_format", True) is not None for node in graph.nodes.values())):
        return graph
    return _quantize_for(graph, load_preset(chip)).graph


# -- estimate -----------------------------------------------------------------------------------

def _configure_estimate(p):
    add_model_options(p)
    p.add_argument("--chip", required=True, help="chip preset name (see `neurosim chips`) or a preset TOML path")
    p.add_argument("--input", default=None, help="input .npy [T, *input_shape] (default: Poisson spikes at --rate)")
    p.add_argument("--rate", type=rate_arg, default=0.1, help="Poisson input spike probability per step (default 0.1)")
    p.add_argument("--timesteps", type=positive_int, default=16, help="timesteps of the Poisson input (default 16)")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed of the Poisson input")
    p.add_argument("--out", default=None, help="report folder: report.json and plots")
    p.add_argument("--chips", type=board_chips, default=None,
                   help="chips on the board (default: the preset's); the mesh continues across chips")
    p.add_argument("--contention", action="store_true", help="add link queueing to the NoC latency")
    p.add_argument("--neurons-per-core", type=positive_int, default=None,
                   help="cap the neurons per core below the chip's (e.g. to impose another tool's mapping)")
    p.add_argument("--mapping", default=None, metavar="FILE",
                   help="a mapping file (TOML: population slices -> physical cores) fixing the placement")
    p.add_argument("--allow-overcapacity", action="store_true",
                   help="what-if: keep a mapping that breaks a capacity limit and list every breach in the report")
    p.add_argument("--method", choices=("cycle", "synops"), default="cycle",
                   help="the headline, totals and plots: cycle (the cycle-level engine, default) or synops (the "
                        "literature's op-count estimate); the other is shown for comparison")
    p.add_argument("--arith", choices=("chip", "float"), default="chip",
                   help="chip: quantize with the chip's arithmetic and report what that changed (default); "
                        "float: price the float model's spike trains on the chip (engine in float mode)")


def _estimate(args) -> int:
    from neurosim.fileio import REPORT_FILES, check_output_dir
    from neurosim.targets.neuromorphic.estimate import estimate
    from neurosim.targets.neuromorphic.report import print_summary, to_dict, write_report

    if args.out is not None:
        check_output_dir("--out", args.out, owned=REPORT_FILES)
    graph = load_model_of(args)
    x = None if args.input is None else load_array(args.input)
    con = console()
    with status(con, "mapping and simulating..."):
        est = estimate(graph, args.chip, x, rate=args.rate, timesteps=args.timesteps, seed=args.seed,
                       method=args.method, chips=args.chips, contention=args.contention, arith=args.arith,
                       neurons_per_core=args.neurons_per_core, mapping=args.mapping,
                       allow_overcapacity=args.allow_overcapacity)
    name = Path(args.model).stem
    doc = write_report(est, args.out, model_name=name) if args.out is not None else to_dict(est, name)
    print_summary(doc, con)
    if args.out is not None:
        con.print(f"wrote {Path(args.out) / 'report.json'} and {len(doc.get('plots', []))} plots", soft_wrap=True)
    return 0


# -- chips ----------------------------------------------------------------------------------------

def _configure_chips(p):
    from neurosim.targets.neuromorphic.chips import configure

    configure(p)


def _chips(args) -> int:
    from neurosim.targets.neuromorphic.chips import run

    return run(args)


# -- rtl / verify / synth -------------------------------------------------------------------------

def _configure_model_stimulus(p):
    add_model_options(p)
    p.add_argument("--input", default=None, help="input .npy [T, *input_shape] (default: Poisson spikes)")
    p.add_argument("--rate", type=rate_arg, default=0.2)
    p.add_argument("--timesteps", type=positive_int, default=16)
    p.add_argument("--seed", type=seed_arg, default=0)


def _stimulus(graph, args) -> np.ndarray:
    from neurosim.targets.neuromorphic.estimate import poisson_input

    if getattr(args, "input", None):
        return load_array(args.input)
    return poisson_input(graph.nodes[graph.inputs[0]].shape, args.timesteps, args.rate, args.seed)


def _n_inputs(graph) -> int:
    return sum(int(np.prod(graph.nodes[n].shape)) for n in graph.inputs)


def _configure_rtl(p):
    _configure_model_stimulus(p)
    p.add_argument("--out", required=True, help="output folder: one subfolder per core with Verilog and manifest")


#: what a `neurosim rtl --out` folder holds (an existing folder holding more is not replaced)
RTL_FILES = ("core[0-9]*", "top", "cores.json")


def _rtl(args) -> int:
    from neurosim.fileio import atomic_dir, check_output_dir, write_text_atomic
    from neurosim.hdl.emit import verilog
    from neurosim.targets.neuromorphic.hdl import emit
    from neurosim.targets.neuromorphic.mapping import cores_of, top_of

    check_output_dir("--out", args.out, owned=RTL_FILES)
    graph = load_model_of(args)
    designs, _ = cores_of(graph, _stimulus(graph, args))
    out = Path(args.out)
    rows = []
    with atomic_dir(out, owned=RTL_FILES) as tmp:
        for d in designs:
            extra = {"model": Path(args.model).name, "core": d.index, "population": d.population,
                     "neurons": [d.neurons.start, d.neurons.stop], "axon_sources": d.sources.tolist()}
            path = emit(d.config, tmp / f"core{d.index}", extra=extra, program=d.program)
            rows.append({"core": d.index, "population": d.population, "verilog": str(path.relative_to(tmp)),
                         "neurons": d.config.neurons, "axons": d.config.axons})
        write_text_atomic(tmp / "top" / "neurosim_top.v", verilog(top_of(designs, _n_inputs(graph)), "neurosim_top"))
        write_text_atomic(tmp / "cores.json", json.dumps(rows, indent=1) + "\n")
    console().print(f"wrote {len(rows)} core(s) to {out}: " + ", ".join(f"{r['verilog']} ({r['neurons']} neurons, "
                                                                        f"{r['axons']} axons)" for r in rows)
                    + "; and the whole model with its router: top/neurosim_top.v")
    return 0


def _configure_verify(p):
    _configure_model_stimulus(p)
    p.add_argument("--simulator", choices=("icarus", "verilator"), default="icarus")
    p.add_argument("--work", default="build/verify", help="simulation work folder")
    p.add_argument("--no-top", action="store_true", help="verify the cores one by one only, not the whole-model top")
    p.add_argument("--no-random", action="store_true",
                   help="run the model's own data only, without the random and directed coverage traces added per "
                        "distinct core configuration")
    p.add_argument("--netlist", choices=("generic", "ice40", "ecp5"), default=None,
                   help="run the same testbenches on the yosys gate-level netlist of this flavor instead of the RTL")
    p.add_argument("--verbose", action="store_true",
                   help="show the simulator's own output (cocotb, the Verilator build) and the full coverage table; "
                        "otherwise it goes to <work>/simulator.log, with its tail shown on a failure")


def _coverage_cell(cov) -> str:
    rows = cov.rows() if cov is not None else []
    return f"{sum(1 for r in rows if r[3])}/{len(rows)}" if rows else "-"


def _verdict_table(units) -> list[str]:
    """``units``: [(label, neurons, VerifyResult)] -> the verdict table's lines (plain text, every
    column labelled) and a total row."""
    head = ("unit", "neurons", "spikes cmp", "membrane bits cmp", "cycles cmp", "differ s/b/c", "X/Z", "protocol",
            "coverage", "result")
    rows = []
    tot = [0] * 8
    for label, neurons, r in units:
        vals = [neurons, r.compared_spikes, r.compared_membrane_bits, r.compared_cycles, r.differing_spikes,
                r.differing_membrane_bits, r.differing_cycles, r.unknown_values + r.protocol_violations]
        tot = [a + b for a, b in zip(tot, vals)]
        rows.append((label, str(neurons), str(r.compared_spikes), str(r.compared_membrane_bits), str(r.compared_cycles),
                     f"{r.differing_spikes}/{r.differing_membrane_bits}/{r.differing_cycles}", str(r.unknown_values),
                     str(r.protocol_violations), _coverage_cell(r.coverage), "PASS" if r.passed else "FAIL"))
    ok = all(r.passed for *_, r in units)
    rows.append(("all", "", str(tot[1]), str(tot[2]), str(tot[3]), f"{tot[4]}/{tot[5]}/{tot[6]}",
                 str(sum(r.unknown_values for *_, r in units)), str(sum(r.protocol_violations for *_, r in units)),
                 "", "PASS" if ok else "FAIL"))
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]

    def line(cells):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return [line(head)] + [line(row) for row in rows]


def _show_log_tail(con, log) -> None:
    from rich.markup import escape

    tail = log.tail(30)
    if tail:
        con.print(f"last {len(tail)} lines of the simulator log ({log.path}):", soft_wrap=True)
        for text in tail:
            con.print("  " + escape(text), highlight=False, soft_wrap=True)
    con.print(f"simulator log: {log.path}", soft_wrap=True)


def _show_coverage(con, coverage, random_traces: int, verbose: bool) -> None:
    from rich.markup import escape

    unmet = coverage.unmet()
    groups = sorted({coverage.bins[n].group or n for n in unmet})
    rows = coverage.rows()
    con.print(f"coverage reached: {sum(1 for r in rows if r[3])} of {len(rows)} goals over every run above"
              + ("" if unmet else " (every goal met)"), soft_wrap=True)
    if verbose:
        con.print(escape(coverage.table()), highlight=False, soft_wrap=True)
    if not unmet:
        return
    extra = (f"{random_traces} coverage traces per distinct core configuration" if random_traces
             else "the model's own data only (--no-random)")
    if verbose:
        con.print(escape(f"  not met: {'; '.join(groups)}"), highlight=False, soft_wrap=True)
    con.print(f"  {len(groups)} not met with {extra}: one model's cores share a few configurations (not a failure; "
              f"the test suite's random sweep reaches every goal{'' if verbose else '; --verbose lists them'})", soft_wrap=True)


def _verify(args) -> int:
    from neurosim.hdl.runner import SimulatorLog
    from neurosim.targets.neuromorphic.coverage import Coverage
    from neurosim.targets.neuromorphic.verify import verify_model, verify_model_top
    from neurosim.fileio import check_output_dir

    check_output_dir("--work", args.work)
    graph = load_model_of(args)
    x = _stimulus(graph, args)
    con = console()
    log = SimulatorLog(Path(args.work) / "simulator.log", verbose=args.verbose)
    units, top = [], None
    with log:
        mv = verify_model(graph, x, args.work, args.simulator, random_traces=not args.no_random, seed=args.seed,
                          netlist=args.netlist)
        if not args.no_top:
            top = verify_model_top(graph, x, Path(args.work) / "top", args.simulator, netlist=args.netlist)
    for d, r in mv.cores:
        extra = f" +{r.traces - 1} traces" if r.traces > 1 else ""
        units.append((f"core {d.index} ({d.population}){extra}", d.config.neurons, r))
    if top is not None:
        units.append(("whole model (top)", sum(d.config.neurons for d, _ in mv.cores), top))
    ok = all(r.passed for *_, r in units)
    where = args.simulator + (f", netlist {args.netlist}" if args.netlist else "")
    con.print(f"verify {Path(args.model).name} ({where}, {x.shape[0]} steps): RTL against the engine, "
              f"s/b/c = spikes / membrane bits / cycles", soft_wrap=True)
    for text in _verdict_table(units):
        con.print(text, highlight=False, soft_wrap=True)
    runs = [mv.coverage] + ([top.coverage] if top is not None else [])
    _show_coverage(con, Coverage.merged(runs), mv.random_traces, args.verbose)
    for label, _, r in units:
        if r.first_difference:
            con.print(f"{label}: first difference: {r.first_difference}", highlight=False, markup=False,
                      soft_wrap=True)
    totals = (f"{x.shape[0]} steps, differing spikes {sum(r.differing_spikes for *_, r in units)}, membrane bits "
              f"{sum(r.differing_membrane_bits for *_, r in units)}, cycles {sum(r.differing_cycles for *_, r in units)}"
              f", X/Z values {sum(r.unknown_values for *_, r in units)}, protocol violations "
              f"{sum(r.protocol_violations for *_, r in units)}")
    if ok:
        con.print(f"[green]PASS[/] {totals}" + ("" if args.verbose else f"; simulator log: {log.path}"),
                  highlight=False, soft_wrap=True)
    else:
        con.print(f"[red]FAIL[/] {totals}", highlight=False, soft_wrap=True)
        if not args.verbose:
            _show_log_tail(con, log)
    return 0 if ok else 1


def _configure_synth(p):
    _configure_model_stimulus(p)
    p.add_argument("--fpga", choices=("ice40", "ecp5", "ecp5-85"), required=True)
    p.add_argument("--work", default="build/synth", help="synthesis work folder")
    p.add_argument("--json", default=None, help="also write the reports to this JSON file")
    p.add_argument("--top", action="store_true", help="also synthesize the whole model (cores + router) as one design")


def _synth(args) -> int:
    from neurosim.fileio import check_output_dir, check_output_file, write_text_atomic
    from neurosim.hdl.synth import synthesize_design
    from neurosim.targets.neuromorphic.hdl.core import NeuromorphicCore
    from neurosim.targets.neuromorphic.mapping import cores_of, top_of

    check_output_dir("--work", args.work)
    if args.json is not None:
        check_output_file("--json", args.json)
    graph = load_model_of(args)
    designs, _ = cores_of(graph, _stimulus(graph, args))
    con = console()
    reports = []
    jobs = [(f"core {d.index} ({d.population})", d.index, d.population, lambda d=d: NeuromorphicCore(d.config),
             "neurosim_core", f"core{d.index}") for d in designs]
    if args.top:
        jobs.append(("whole model", "top", "all", lambda: top_of(designs, _n_inputs(graph)), "neurosim_top", "top"))
    for label, core, population, make, name, folder in jobs:
        r = synthesize_design(make(), name, args.fpga, Path(args.work) / folder)
        reports.append({"core": core, "population": population, **r.as_dict()})
        con.print(f"{label}: {r.device}: {r.summary()}", style=None if r.fits else "red", highlight=False,
                  markup=False, soft_wrap=True)
    if args.json is not None:
        write_text_atomic(args.json, json.dumps(reports, indent=1) + "\n")
    return 0 if all(r["fits"] for r in reports) else 1


# -- bench --------------------------------------------------------------------------------------

def _configure_bench(p):
    p.add_argument("what", nargs="?", choices=("engine", "sanafe"), default="engine",
                   help="engine (the default), or sanafe: the same three networks and mappings through SANA-FE "
                        "(`neurosim bench sat` is `neurosim sat bench`)")
    p.add_argument("--sanafe-python", default=None,
                   help="sanafe: a Python interpreter with sanafe 2.2.9 (default $NEUROSIM_SANAFE_PYTHON)")
    p.add_argument("--out", default=None, help="sanafe: write the comparison table and JSON into this folder")
    p.add_argument("--neurons", type=positive_int, default=10_000)
    p.add_argument("--steps", type=positive_int, default=1000)
    p.add_argument("--seed", type=seed_arg, default=0)
    p.add_argument("--chip", default="loihi", help="preset the network is mapped onto (default loihi)")
    p.add_argument("--chips", type=board_chips, default=4, help="chips on the board (default 4)")
    p.add_argument("--repeats", type=positive_int, default=3, help="best of this many runs (default 3)")
    p.add_argument("--no-brian2", action="store_true", help="skip Brian2")
    p.add_argument("--brian2-python", default=None,
                   help="a Python interpreter with brian2 2.9 and numpy 2.3 to run the Brian2 baseline")
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    p.add_argument("--no-variants", action="store_true",
                   help="skip the neuron variants (refractory, CubaLIF, multi-spike) on the same network")
    p.add_argument("--models", default=None,
                   help="scale series: comma-separated real-size workloads (vgg11,dvs,resnet18), each in a fresh process")
    p.add_argument("--scale", action="store_true", help="scaling curve: VGG-11 at 32/64/128 px (T=8)")
    p.add_argument("--plot", default=None, help="with --scale: save the scaling plot (PNG) here")
    p.add_argument("--board-chips", type=board_chips, default=None,
                   help="scale series: chips on the board (default: as many as the mapping needs)")
    p.add_argument("--model-timeout", type=positive_int, default=600,
                   help="scale series: seconds allowed per model process (default 600)")
    p.add_argument("--no-engine", action="store_true",
                   help="skip the 10k-neuron network (run only --models / --scale)")


def _bench(args) -> int:
    from neurosim.fileio import check_output_dir, check_output_file, write_text_atomic
    from neurosim.targets.neuromorphic.bench import bench_engine, bench_models, parse_models

    if args.out is not None:
        check_output_dir("--out", args.out)
    for flag, value in (("--json", args.json), ("--plot", args.plot)):
        if value is not None:
            check_output_file(flag, value)
    if args.what == "sanafe":
        from neurosim.targets.neuromorphic.bench import bench_sanafe

        ok = bench_sanafe(sanafe_python=args.sanafe_python, out_dir=args.out, seed=args.seed,
                          log=lambda text: console().print(text, soft_wrap=True))
        return 0 if ok else 1
    models = parse_models(args.models) if args.models else ()
    results: dict = {}
    if not args.no_engine:
        results = bench_engine(n=args.neurons, steps=args.steps, seed=args.seed, chip=args.chip, chips=args.chips,
                               brian2=not args.no_brian2, repeats=args.repeats, brian2_python=args.brian2_python,
                               log=console().print, variants=not args.no_variants)
    if models or args.scale:
        results["scale_series"] = bench_models(models, scale=args.scale, seed=args.seed, chip=args.chip,
                                               board_chips=args.board_chips, timeout=args.model_timeout,
                                               plot=args.plot, log=console().print)
    if args.json is not None:
        write_text_atomic(args.json, json.dumps(results, indent=1))
    return 0


def _print_report(doc: dict, con) -> None:
    from neurosim.targets.neuromorphic.report import print_summary

    print_summary(doc, con)


TARGET = Target(
    name="neuromorphic",
    help="spiking models on neuromorphic chips: estimate, RTL of the core, verification",
    commands={
        "run": Command("run the reference simulator on an input array", _configure_run, _run),
        "estimate": Command("energy and latency of one inference on a chip", _configure_estimate, _estimate),
        "chips": Command("list the chip presets and their sourced constants", _configure_chips, _chips),
        "rtl": Command("write the Verilog of the cores a model maps onto (`rtl sat`: the SAT PE array)",
                       _configure_rtl, _rtl),
        "verify": Command("check the generated RTL against the engine, bit and cycle exact (cocotb; `verify sat`: "
                          "the SAT PE array)", _configure_verify, _verify),
        "synth": Command("synthesize the model's cores for an FPGA (yosys + nextpnr) and report resources "
                         "(`synth sat`: the SAT PEs and array)", _configure_synth, _synth),
        "bench": Command("benchmark the engine against baselines in the same process (`bench sat`: the SAT model)",
                         _configure_bench, _bench),
    },
    report_schema="neurosim-estimate",
    print_report=_print_report,
)

