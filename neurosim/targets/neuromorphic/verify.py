"""Verify the neuromorphic target's RTL (``sim/core``, ``sim/top``) against the engine.

Expected values come from the engine, never from the RTL: :func:`expected` builds the one-core
IR graph a :class:`~neurosim.targets.neuromorphic.hdl.config.CoreConfig` implements (input ->
dense projection -> LIF/IF), runs it through the cycle-level engine on the ``neurosim-core``
preset with the core's lane count and pipeline depths, and returns the spikes, the final
membranes, the cycles per timestep and the events the core receives. An input event reaches the
core only if its axon has a nonzero synapse there (the router sends packets only to cores
holding the axon's row), exactly as the engine counts packets.

One simulator build per structural configuration serves any number of traces: weights and
neuron parameters are loaded through the core's configuration port at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neurosim.errors import VerificationError
from neurosim.hdl.runner import Testbench, build_verilog, run_job
from neurosim.targets.neuromorphic.hdl import TOP, verilog_of
from neurosim.targets.neuromorphic.hdl.config import CoreConfig, CoreProgram

TESTBENCH = Testbench(top=TOP, module="test_core", folder="core", env="NEUROSIM_CORE")
TOP_TESTBENCH = Testbench(top="neurosim_top", module="test_top", folder="top", env="NEUROSIM_TOP")


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


@dataclass(frozen=True)
class Expected:
    spikes: np.ndarray  # [T, neurons] 0/1
    membranes: np.ndarray  # [neurons] final
    cycles: np.ndarray  # [T]
    events: list  # per step: axon indices the core receives, ascending


def graph_of(cfg: CoreConfig, prog: CoreProgram):
    from neurosim.ir import IF, LIF, Dense, FixedPoint, Graph, Input, NeuronFixedPoint, Output

    fx = NeuronFixedPoint(state=FixedPoint(cfg.membrane_bits, 0), leak="shift" if cfg.leak_shift else "none",
                          leak_shift=cfg.leak_shift, acc_width=cfg.acc_bits)
    common = dict(shape=(cfg.neurons,), threshold=prog.threshold.astype(float), bias=prog.bias.astype(float),
                  v_reset=prog.v_reset.astype(float), reset=cfg.reset, spike_rule=cfg.spike_rule, fixed=fx)
    pop = LIF(decay=1 - 2.0 ** -cfg.leak_shift, **common) if cfg.leak_shift else IF(**common)
    return Graph.chain([
        ("input", Input(shape=(cfg.axons,))),
        ("syn", Dense(weight=prog.weights.T.astype(float), weight_format=FixedPoint(cfg.weight_bits, 0))),
        ("core", pop),
        ("output", Output(shape=(cfg.neurons,))),
    ])


def expected(cfg: CoreConfig, prog: CoreProgram, inputs: np.ndarray) -> Expected:
    from neurosim.targets.neuromorphic.mapping import chip_of
    from neurosim.targets.neuromorphic.model.simulate import simulate

    res = simulate(graph_of(cfg, prog), chip_of(cfg), np.asarray(inputs, dtype=np.int64), mode="fixed")
    assert res.mapping.n_cores == 1, "a core configuration maps onto exactly one core"
    live = np.any(prog.weights != 0, axis=1)
    events = [sorted(int(a) for a in np.nonzero((inputs[t] != 0) & live)[0]) for t in range(inputs.shape[0])]
    cycles = (res.integrate_cycles + res.fire_cycles)[:, 0]
    return Expected(spikes=res.spikes["core"].astype(np.int64), membranes=res.membranes["core"].astype(np.int64),
                    cycles=cycles.astype(np.int64), events=events)


def random_program(cfg: CoreConfig, rng: np.random.Generator, density: float = 0.5) -> CoreProgram:
    """Seeded random codes that keep every step's synaptic sum inside the accumulator."""
    wmax = (1 << (cfg.weight_bits - 1)) - 1
    w = rng.integers(-wmax - 1, wmax + 1, size=(cfg.axons, cfg.neurons)) * (rng.random((cfg.axons, cfg.neurons)) < density)
    acc_max = (1 << (cfg.acc_bits - 1)) - 1
    worst = np.abs(w).sum(axis=0).max() if w.size else 0
    if worst > acc_max:  # scale down rather than overflow the accumulator
        w = (w * (acc_max // max(1, worst))).astype(np.int64)
    vmax = cfg.v_max
    thr = rng.integers(1, max(2, min(vmax, 3 * wmax)), size=cfg.neurons)
    bias = rng.integers(-2, 3, size=cfg.neurons)
    v_reset = rng.integers(-min(3, vmax), 1, size=cfg.neurons)
    return CoreProgram(weights=w.astype(np.int64), bias=bias, threshold=thr, v_reset=v_reset)


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
    from neurosim.targets.neuromorphic.hdl.core import sparse_layout

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


def build(cfg: CoreConfig, build_dir: Path, simulator: str = "icarus", mutate: str | None = None, program=None):
    """Build the core's Verilog for ``simulator``; returns (runner, seconds) for :func:`run`'s ``built``."""
    return build_verilog(verilog_of(cfg, TOP, mutate=mutate, program=program), TESTBENCH, build_dir, simulator)


def run(cfg: CoreConfig, traces: list[Trace], work_dir, simulator: str = "icarus", mutate: str | None = None,
        built=None, baked: bool = False) -> VerifyResult:
    """Build (unless ``built`` = (runner, build_s) is given) and run every trace; count differences.

    ``baked``: generate the core with the (single) trace's program in its memories, as
    ``neurosim rtl`` does, and run without loading it through the configuration port."""
    if baked and len(traces) != 1:
        raise VerificationError("a baked core holds one program: give exactly one trace")
    text = None if built else verilog_of(cfg, TOP, mutate=mutate, program=traces[0].program if baked else None)
    report, build_s, run_s = run_job(TESTBENCH, {**job_of(cfg, traces), "baked": baked}, work_dir, simulator, text,
                                     built)
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
    from neurosim.targets.neuromorphic.mapping import cores_of

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


def verify_model_top(graph, inputs: np.ndarray, work_dir, simulator: str = "icarus", gap: float = 0.3,
                     stall: float = 0.5, seed: int = 0, built=None) -> VerifyResult:
    """The whole model as one design (:class:`~neurosim.targets.neuromorphic.hdl.top.MultiCoreTop`) against the engine:
    per-core cycles and spikes every step, final membranes.

    ``built``: (runner, seconds) of an earlier build of the same model's top (the design does not
    depend on the input: programs and routes are the model's), so many samples share one build."""
    from neurosim.hdl.emit import verilog
    from neurosim.targets.neuromorphic.mapping import cores_of, top_of

    designs, res = cores_of(graph, inputs)
    net = res.net
    top = top_of(designs, net.n_inputs)
    if built:
        top._MustUse__silence = True  # only its routes and widths are read: the Verilog was built before
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
    d, build_s, run_s = run_job(TOP_TESTBENCH, job, work_dir, simulator,
                                None if built else verilog(top, TOP_TESTBENCH.top), built)
    failed = d["spikes"] or d["cycles"] or d["membrane_bits"] or d["unknown_values"] or d["timeout"] is not None
    return VerifyResult(passed=not failed, traces=1, steps=steps,
                        differing_spikes=d["spikes"], differing_cycles=d["cycles"],
                        differing_membrane_bits=d["membrane_bits"], build_s=build_s, run_s=run_s,
                        first_difference=d["first"], simulator=simulator)


def verify_model_samples(graph, samples, work_dir, simulator: str = "icarus", progress=None) -> list[VerifyResult]:
    """:func:`verify_model_top` on every sample of ``samples`` (``[N, T, *input_shape]``) with one
    build of the model's top; sample ``k`` runs with seed ``k`` (its own input gaps and back-pressure)."""
    from neurosim.hdl.emit import verilog
    from neurosim.targets.neuromorphic.mapping import cores_of, top_of

    samples = np.asarray(samples)
    if samples.ndim < 2 or len(samples) == 0:
        raise VerificationError(f"samples must be shaped [N, T, *input_shape] with N >= 1, found {samples.shape!r}")
    designs, res = cores_of(graph, samples[0])
    built = build_verilog(verilog(top_of(designs, res.net.n_inputs), TOP_TESTBENCH.top), TOP_TESTBENCH,
                          Path(work_dir).resolve() / "build", simulator)
    out = []
    for k, x in enumerate(samples):
        out.append(verify_model_top(graph, x, work_dir, simulator, seed=k, built=built))
        if progress:
            progress(k + 1, len(samples), out[-1])
    return out
