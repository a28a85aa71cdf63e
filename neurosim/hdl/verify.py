"""Run the cocotb testbench of the core (``sim/core``) against the engine's expected values.

One simulator build per structural configuration serves any number of traces: weights and
neuron parameters are loaded through the core's configuration port at run time.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neurosim.errors import NeurosimError
from neurosim.hdl.config import CoreConfig
from neurosim.hdl.golden import CoreProgram, expected, random_program

SIM_DIR = Path(__file__).resolve().parents[2] / "sim" / "core"
TOP = "neurosim_core"


class VerificationError(NeurosimError):
    """The testbench could not run (missing simulator or testbench), not a mismatch."""


@dataclass
class Trace:
    program: CoreProgram
    inputs: np.ndarray  # [T, axons] 0/1
    seed: int
    gap: float = 0.0
    stall: float = 0.0


@dataclass
class VerifyResult:
    passed: bool
    traces: int
    steps: int
    differing_spikes: int
    differing_cycles: int
    differing_membrane_bits: int
    build_s: float
    run_s: float
    first_difference: str | None
    simulator: str


def tie_program(cfg: CoreConfig, rng: np.random.Generator) -> CoreProgram:
    """Corner case: unit weights and small thresholds, so membranes land exactly on the threshold
    (separates ``>`` from ``>=``) and saturate when the membrane is narrow."""
    wmax = (1 << (cfg.weight_bits - 1)) - 1
    w = np.minimum(rng.choice([0, 1, 1, 2, -1], size=(cfg.axons, cfg.neurons)), wmax).astype(np.int64)
    thr = rng.integers(1, 4, size=cfg.neurons)
    return CoreProgram(weights=w, bias=np.zeros(cfg.neurons, dtype=np.int64), threshold=thr,
                       v_reset=np.zeros(cfg.neurons, dtype=np.int64))


def extreme_program(cfg: CoreConfig, rng: np.random.Generator) -> CoreProgram:
    """Corner case: the largest positive and negative weights, thresholds near the membrane
    maximum: exercises saturation of v and of the subtractive reset."""
    wmax = (1 << (cfg.weight_bits - 1)) - 1
    w = rng.choice([-wmax - 1, wmax, 0], size=(cfg.axons, cfg.neurons)).astype(np.int64)
    acc_max = (1 << (cfg.acc_bits - 1)) - 1
    worst = int(np.abs(w).sum(axis=0).max()) if w.size else 0
    if worst > acc_max:
        w = np.clip(w, -(acc_max // max(1, cfg.axons)), acc_max // max(1, cfg.axons))
    thr = rng.integers(max(1, cfg.v_max // 2), cfg.v_max + 1, size=cfg.neurons)
    return CoreProgram(weights=w, bias=rng.integers(-1, 2, size=cfg.neurons), threshold=thr,
                       v_reset=rng.integers(-2, 1, size=cfg.neurons))


def random_traces(cfg: CoreConfig, n: int, seed: int, steps: int = 6) -> list[Trace]:
    """``n`` seeded traces: random programs, plus a tie trace and a saturation trace when n >= 3;
    the first trace runs without gaps or back-pressure, the others with random ones."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        if k == 1:
            prog = tie_program(cfg, rng)
        elif k == 2:
            prog = extreme_program(cfg, rng)
        else:
            prog = random_program(cfg, rng, density=float(rng.choice([0.2, 0.5, 1.0])))
        rate = float(rng.uniform(0.1, 0.8))
        inputs = (rng.random((steps, cfg.axons)) < rate).astype(np.int64)
        gap, stall = (0.0, 0.0) if k == 0 else (float(rng.choice([0, 0.3, 0.7])), float(rng.choice([0, 0.5, 0.9])))
        out.append(Trace(prog, inputs, int(rng.integers(1 << 30)), gap, stall))
    return out


def job_of(cfg: CoreConfig, traces: list[Trace]) -> dict:
    entries = []
    from neurosim.hdl.core import sparse_layout

    for tr in traces:
        exp = expected(cfg, tr.program, tr.inputs)
        program = {"weights": tr.program.weights.tolist(), "bias": tr.program.bias.tolist(),
                   "threshold": tr.program.threshold.tolist(), "v_reset": tr.program.v_reset.tolist()}
        if cfg.storage == "sparse":
            program["sparse_words"], program["rowptr"] = sparse_layout(cfg, tr.program.weights)
        entries.append({
            "program": program,
            "events": exp.events, "spikes": exp.spikes.tolist(), "cycles": exp.cycles.tolist(),
            "membranes": exp.membranes.tolist(), "seed": tr.seed, "gap": tr.gap, "stall": tr.stall,
        })
    params = {"neurons": cfg.neurons, "lanes": cfg.lanes, "chunks": cfg.chunks, "weight_bits": cfg.weight_bits,
              "membrane_bits": cfg.membrane_bits}
    return {"params": params, "traces": entries}


def _runner(simulator: str, testbench: Path | None = None):
    """The cocotb runner of ``simulator``, once it and the ``testbench`` file (default: the core's) exist."""
    testbench = testbench or SIM_DIR / "test_core.py"
    try:
        from cocotb_tools.runner import get_runner
    except ImportError as exc:  # pragma: no cover - cocotb is a core dependency
        raise VerificationError("cocotb_tools is not installed; pip install cocotb") from exc
    exe = {"icarus": "iverilog", "verilator": "verilator"}.get(simulator)
    if exe is None:
        raise VerificationError(f"simulator must be 'icarus' or 'verilator', found {simulator!r}")
    if shutil.which(exe) is None:
        raise VerificationError(f"{exe!r} is not on PATH; install it (bash scripts/test.sh does) to run {simulator}")
    if not testbench.exists():
        raise VerificationError(f"the testbench {str(testbench.parent)!r} is missing; run verification from a neurosim checkout")
    return get_runner(simulator)


def build(cfg: CoreConfig, build_dir: Path, simulator: str = "icarus", mutate: str | None = None, program=None):
    from neurosim.hdl.emit import verilog_of

    return build_verilog(verilog_of(cfg, TOP, mutate=mutate, program=program), TOP, build_dir, simulator)


def build_verilog(text: str, top: str, build_dir: Path, simulator: str = "icarus", testbench: Path | None = None):
    """Write ``text`` as ``<build_dir>/<top>.v`` and build it for ``simulator``; returns (runner, seconds)."""
    runner = _runner(simulator, testbench)
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    src = build_dir / f"{top}.v"
    src.write_text(text)
    # --output-split 0: see verify_model_top (Verilator 5.048 precompiled-header bug on larger designs)
    args = ["-Wno-fatal", "-Wno-WIDTH", "--output-split", "0"] if simulator == "verilator" else []
    t0 = time.perf_counter()
    runner.build(sources=[src], hdl_toplevel=top, build_dir=build_dir, build_args=args,
                 timescale=("1ns", "1ps"), always=True)
    return runner, time.perf_counter() - t0


def _run_testbench(runner, toplevel: str, module: str, test_dir: Path, env: str, job: dict, work: Path):
    """Write ``job`` for the cocotb ``module``, run it on the built ``toplevel`` and read its report
    (``$<env>_JOB`` in, ``$<env>_OUT`` out); returns (report, seconds)."""
    from cocotb_tools.check_results import get_results

    work = Path(work).resolve()  # the simulator runs in another directory: hand it absolute paths
    job_path, out = work / "job.json", work / "out.json"
    job_path.write_text(json.dumps(job))
    if out.exists():
        out.unlink()
    t0 = time.perf_counter()
    try:
        xml = runner.test(hdl_toplevel=toplevel, test_module=module, test_dir=test_dir, build_dir=work / "build",
                          extra_env={f"{env}_JOB": str(job_path), f"{env}_OUT": str(out)},
                          results_xml=str((work / "results.xml").resolve()))
        get_results(xml)
    except SystemExit:
        pass  # the runner exits on a failing test under pytest; the report says why
    run_s = time.perf_counter() - t0
    if not out.exists():
        raise VerificationError(f"the {module} testbench produced no report (see {work}); the simulation crashed")
    return json.loads(out.read_text()), run_s


def run(cfg: CoreConfig, traces: list[Trace], work_dir, simulator: str = "icarus", mutate: str | None = None,
        built=None, baked: bool = False) -> VerifyResult:
    """Build (unless ``built`` = (runner, build_s) is given) and run every trace; count differences.

    ``baked``: generate the core with the (single) trace's program in its memories, as
    ``neurosim rtl`` does, and run without loading it through the configuration port."""
    if baked and len(traces) != 1:
        raise VerificationError("a baked core holds one program: give exactly one trace")
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    runner, build_s = built or build(cfg, work / "build", simulator, mutate,
                                     program=traces[0].program if baked else None)
    report, run_s = _run_testbench(runner, TOP, "test_core", SIM_DIR, "NEUROSIM_CORE",
                                   {**job_of(cfg, traces), "baked": baked}, work)
    firsts = [d["first"] for d in report if d["first"]]
    return VerifyResult(
        passed=not any(d["spikes"] or d["cycles"] or d["membrane_bits"] for d in report),
        traces=len(report), steps=sum(len(t.inputs) for t in traces),
        differing_spikes=sum(d["spikes"] for d in report), differing_cycles=sum(d["cycles"] for d in report),
        differing_membrane_bits=sum(d["membrane_bits"] for d in report), build_s=build_s, run_s=run_s,
        first_difference=firsts[0] if firsts else None, simulator=simulator,
    )


@dataclass
class ModelVerification:
    cores: list  # (CoreDesign, VerifyResult)

    @property
    def passed(self) -> bool:
        return all(r.passed for _, r in self.cores)


def verify_model(graph, inputs: np.ndarray, work_dir, simulator: str = "icarus", progress=None) -> ModelVerification:
    """Verify every core of ``graph`` on the event stream the engine delivers to it for ``inputs``.

    The expected values come from the engine twice over: the single-core run (``golden.expected``)
    and the whole-model run must agree before the RTL is compared with them.
    """
    from neurosim.hdl.model import cores_of

    designs, _ = cores_of(graph, inputs)
    out = []
    for k, d in enumerate(designs):
        exp = expected(d.config, d.program, d.inputs)
        if not (np.array_equal(exp.spikes, d.spikes) and np.array_equal(exp.membranes, d.membranes)):
            raise VerificationError(f"core {d.index}: the single-core engine run disagrees with the whole-model run")
        trace = Trace(program=d.program, inputs=d.inputs, seed=k, gap=0.3, stall=0.5)
        out.append((d, run(d.config, [trace], Path(work_dir) / f"core{d.index}", simulator)))
        if progress:
            progress(k + 1, len(designs))
    return ModelVerification(out)


TOP_SIM_DIR = SIM_DIR.parent / "top"


def verify_model_top(graph, inputs: np.ndarray, work_dir, simulator: str = "icarus", gap: float = 0.3,
                     stall: float = 0.5, seed: int = 0) -> VerifyResult:
    """The whole model as one design (:class:`~neurosim.hdl.top.MultiCoreTop`) against the engine:
    per-core cycles and spikes every step, final membranes."""
    from amaranth.back import verilog

    from neurosim.hdl.model import cores_of, top_of

    designs, res = cores_of(graph, inputs)
    net = res.net
    top = top_of(designs, net.n_inputs)
    work = Path(work_dir)
    (work / "build").mkdir(parents=True, exist_ok=True)
    src = work / "build" / "neurosim_top.v"
    src.write_text(verilog.convert(top, name="neurosim_top", emit_src=False))
    runner = _runner(simulator)
    t0 = time.perf_counter()
    runner.build(sources=[src], hdl_toplevel="neurosim_top", build_dir=work / "build",
                 # --output-split 0: with split output Verilator 5.048's makefile passes a missing
                 # precompiled header to the compiler ("Vtop__pch.h.fast: linker input file not found")
                 build_args=["-Wno-fatal", "-Wno-WIDTH", "--output-split", "0"] if simulator == "verilator" else [],
                 timescale=("1ns", "1ps"), always=True)
    build_s = time.perf_counter() - t0
    steps = res.steps
    flat_in = np.asarray(inputs).reshape(steps, -1)
    live = np.array([bool(top.routes[s]) for s in range(net.n_inputs)])
    cycles = (res.integrate_cycles + res.fire_cycles)
    spikes = np.concatenate([res.spikes[p].reshape(steps, -1) for p in net.populations], axis=1)
    job = {
        "seed": seed, "gap": gap, "stall": stall, "lanes_max": top.lanes, "chunk_bits": top.chunk_bits,
        "core_bits": top.core_bits,
        "cores": [{"base": int(net.n_inputs + sum(d.config.neurons for d in designs[:i])), "lanes": d.config.lanes,
                   "chunks": d.config.chunks, "neurons": d.config.neurons, "membrane_bits": d.config.membrane_bits}
                  for i, d in enumerate(designs)],
        "steps": [{"events": [int(j) for j in np.nonzero((flat_in[t] != 0) & live)[0]],
                   "cycles": [int(c) for c in cycles[t]],
                   "spikes": [int(net.n_inputs + k) for k in np.nonzero(spikes[t])[0]]} for t in range(steps)],
        "membranes": [d.membranes.tolist() for d in designs],
    }
    d, run_s = _run_testbench(runner, "neurosim_top", "test_top", TOP_SIM_DIR, "NEUROSIM_TOP", job, work)
    return VerifyResult(passed=not (d["spikes"] or d["cycles"] or d["membrane_bits"]), traces=1, steps=steps,
                        differing_spikes=d["spikes"], differing_cycles=d["cycles"],
                        differing_membrane_bits=d["membrane_bits"], build_s=build_s, run_s=run_s,
                        first_difference=d["first"], simulator=simulator)
