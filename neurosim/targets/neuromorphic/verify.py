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

Stimulus: :func:`random_traces` draws programs across the whole legal parameter space (weights
up to full scale, thresholds -- negative ones included --, biases and reset values over the
membrane's range, synaptic sums up to the accumulator's full scale but never beyond it: the
engine refuses an overflowing sum, :func:`cap_sums`), with empty timesteps, input gaps and
back-pressure; :func:`corner_traces` adds directed corners (every neuron firing, full-scale sums,
saturation at both bounds, sparse rows of 0/1/all words); :func:`mixed_lane_designs` a top whose
cores mix lane counts. Every run reports its functional coverage (``VerifyResult.coverage``,
:mod:`neurosim.targets.neuromorphic.coverage`) and the stream-protocol violations the
testbenches' monitors counted (a violation fails the run like a differing bit).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neurosim.errors import VerificationError
from neurosim.hdl.runner import Testbench, build_verilog, run_job
from neurosim.targets.neuromorphic.coverage import (
    Coverage,
    core_coverage,
    timing_coverage,
    top_coverage,
)
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
    unknown_values: int = 0  # X/Z values read from the dut (each is a difference)
    protocol_violations: int = 0  # stream protocol rules broken by the dut (sim/*/test_*.py monitors)
    first_protocol_violation: str | None = None
    protocol_rules: dict | None = None  # rule -> (violations, first one): x, valid_dropped, payload_changed, valid_from_ready
    coverage: Coverage | None = None  # the bins this run hit (neurosim.targets.neuromorphic.coverage)
    netlist: str | None = None  # None: the RTL; else the yosys netlist flavor it ran on
    compared_spikes: int = 0  # spike values compared (neurons x steps of every trace run)
    compared_membrane_bits: int = 0  # final-membrane bits compared (neurons x membrane bits per trace)
    compared_cycles: int = 0  # per-step cycle counts compared (steps; steps x cores for a top)


@dataclass(frozen=True)
class Expected:
    spikes: np.ndarray  # [T, neurons] 0/1
    membranes: np.ndarray  # [neurons] final
    cycles: np.ndarray  # [T]
    events: list  # per step: axon indices the core receives, ascending


def graph_of(cfg: CoreConfig, prog: CoreProgram):
    from neurosim.ir import (
        IF,
        LIF,
        Dense,
        FixedPoint,
        Graph,
        Input,
        NeuronFixedPoint,
        Output,
    )

    fx = NeuronFixedPoint(state=FixedPoint(cfg.membrane_bits, 0), leak="shift" if cfg.leak_shift else "none",
                          leak_shift=cfg.leak_shift, acc_width=cfg.acc_bits)
    common = dict(shape=(cfg.neurons,), threshold=prog.threshold.astype(float), bias=prog.bias.astype(float),
                  v_reset=prog.v_reset.astype(float), reset=cfg.reset, reset_timing=cfg.reset_timing,
                  spike_rule=cfg.spike_rule, fixed=fx)
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


def _spread(rng: np.random.Generator, lo: int, hi: int, size: int, small: int) -> np.ndarray:
    """``size`` codes in ``lo..hi``: half of small magnitude (``|x| <= small``), a quarter anywhere,
    a quarter within ``small`` of either bound, so that both the typical and the extreme values occur."""
    small = max(1, min(small, hi))
    kind = rng.integers(0, 4, size=size)
    near = rng.integers(0, small + 1, size=size)
    out = np.where(kind < 2, rng.integers(max(lo, -small), min(hi, small) + 1, size=size),
                   np.where(kind == 2, rng.integers(lo, hi + 1, size=size),
                            np.where(rng.random(size) < 0.5, lo + near, hi - near)))
    return np.clip(out, lo, hi).astype(np.int64)


def cap_sums(w: np.ndarray, acc_max: int) -> np.ndarray:
    """Scale each neuron's positive and negative weights down (toward zero) so that no subset of
    its axons sums beyond ``+-acc_max``: the engine refuses a synaptic sum that overflows the
    accumulator (``abs(sum) > 2**(acc_bits-1) - 1``), so the generators stay inside it."""
    w = np.asarray(w, dtype=np.int64).copy()
    pos, neg = np.clip(w, 0, None).sum(axis=0), -np.clip(w, None, 0).sum(axis=0)
    for col in np.flatnonzero(pos > acc_max):
        p = w[:, col] > 0
        w[p, col] = w[p, col] * acc_max // pos[col]
    for col in np.flatnonzero(neg > acc_max):
        q = w[:, col] < 0
        w[q, col] = -((-w[q, col]) * acc_max // neg[col])
    return w


def _acc_max(cfg: CoreConfig) -> int:
    return (1 << (cfg.acc_bits - 1)) - 1


def random_program(cfg: CoreConfig, rng: np.random.Generator, density: float = 0.5) -> CoreProgram:
    """Seeded random codes across the legal parameter space: weights up to full scale (some neurons
    get same-sign columns, whose sums reach the accumulator's full scale when it is reachable),
    thresholds, biases and reset values over the membrane's whole range (negative thresholds
    included), every step's synaptic sum inside the accumulator (:func:`cap_sums`)."""
    wmax = (1 << (cfg.weight_bits - 1)) - 1
    mask = rng.random((cfg.axons, cfg.neurons)) < density
    w = rng.integers(-wmax - 1, wmax + 1, size=(cfg.axons, cfg.neurons))
    same = rng.random(cfg.neurons) < 0.25  # same-sign, full-scale columns: sums near the accumulator's bounds
    sign = np.where(rng.random(cfg.neurons) < 0.5, 1, -1)
    w = np.where(same[None, :], sign[None, :] * rng.integers(wmax // 2, wmax + 1, size=w.shape), w) * mask
    w = cap_sums(w, _acc_max(cfg))
    lo, hi = cfg.v_min, cfg.v_max
    thr = _spread(rng, lo, hi, cfg.neurons, 3 * wmax)
    bias = _spread(rng, lo, hi, cfg.neurons, wmax)
    bias = np.where(rng.random(cfg.neurons) < 0.5, 0, bias)
    v_reset = _spread(rng, lo, hi, cfg.neurons, 3)
    return CoreProgram(weights=w.astype(np.int64), bias=bias, threshold=thr, v_reset=v_reset)


def tie_program(cfg: CoreConfig, rng: np.random.Generator) -> CoreProgram:
    """Corner case: each neuron listens to one or two axons with weight +1 (now and then -1),
    thresholds 1..3, no bias: membranes climb by at most 2 a step and land exactly on the
    threshold (separates ``>`` from ``>=``)."""
    w = np.zeros((cfg.axons, cfg.neurons), dtype=np.int64)
    for n in range(cfg.neurons):
        pick = rng.choice(cfg.axons, size=min(cfg.axons, int(rng.integers(1, 3))), replace=False)
        w[pick, n] = rng.choice([1, 1, 1, -1], size=pick.size)
    thr = rng.integers(1, 4, size=cfg.neurons)
    return CoreProgram(weights=cap_sums(w, _acc_max(cfg)), bias=np.zeros(cfg.neurons, dtype=np.int64), threshold=thr,
                       v_reset=np.zeros(cfg.neurons, dtype=np.int64))


def extreme_program(cfg: CoreConfig, rng: np.random.Generator) -> CoreProgram:
    """Corner case: the largest positive and negative weights, thresholds near either bound of the
    membrane, biases at the bounds: saturation of v and of the subtractive reset."""
    wmax = (1 << (cfg.weight_bits - 1)) - 1
    w = cap_sums(rng.choice([-wmax - 1, wmax, 0], size=(cfg.axons, cfg.neurons)), _acc_max(cfg))
    lo, hi = cfg.v_min, cfg.v_max
    thr = np.where(rng.random(cfg.neurons) < 0.5, rng.integers(max(1, hi // 2), hi + 1, size=cfg.neurons),
                   rng.integers(lo, lo // 2 + 1, size=cfg.neurons))
    bias = rng.choice([lo, hi, -1, 0, 1], size=cfg.neurons)
    return CoreProgram(weights=w, bias=bias.astype(np.int64), threshold=thr.astype(np.int64),
                       v_reset=rng.integers(lo, hi + 1, size=cfg.neurons))


def _inputs(rng: np.random.Generator, cfg: CoreConfig, steps: int, empty: bool) -> np.ndarray:
    rate = float(rng.uniform(0.1, 0.8))
    x = (rng.random((steps, cfg.axons)) < rate).astype(np.int64)
    if empty and steps > 1:
        x[int(rng.integers(steps))] = 0  # a timestep without events
    return x


def random_traces(cfg: CoreConfig, n: int, seed: int, steps: int = 6) -> list[Trace]:
    """``n`` seeded traces: random programs, plus a tie trace and a saturation trace when n >= 3;
    the first trace runs without gaps or back-pressure, the others with random ones (and half of
    them with an empty timestep)."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        if k == 1:
            prog = tie_program(cfg, rng)
        elif k == 2:
            prog = extreme_program(cfg, rng)
        else:
            prog = random_program(cfg, rng, density=float(rng.choice([0.2, 0.5, 1.0])))
        inputs = _inputs(rng, cfg, steps, empty=k > 0 and rng.random() < 0.5)
        gap, stall = (0.0, 0.0) if k == 0 else (float(rng.choice([0, 0.3, 0.7])), float(rng.choice([0, 0.5, 0.9])))
        out.append(Trace(prog, inputs, int(rng.integers(1 << 30)), gap, stall))
    return out


def corner_traces(cfg: CoreConfig, seed: int) -> list[Trace]:
    """Directed traces for what random stimulus rarely hits, each short (2-3 steps) and run with
    input gaps and back-pressure:

    * *fire all*: every threshold at ``v_min``, bias +1, weights >= 0: every neuron -- every
      output chunk and lane -- fires in the first step; the subtractive reset then saturates
      (``v - v_min`` > ``v_max``); an empty second step;
    * *full scale* (2 steps): same-sign full-scale columns (capped to the accumulator) with every
      axon firing in the first step: sums at the accumulator's full scale where reachable, biases
      at the bounds: v saturates at both bounds, thresholds anywhere (negative ones included);
    * *sparse rows* (sparse storage): rows of 0 words, 1 word and the row's full chunks."""
    rng = np.random.default_rng(seed + 7919)
    wmax = (1 << (cfg.weight_bits - 1)) - 1
    lo, hi, n, a = cfg.v_min, cfg.v_max, cfg.neurons, cfg.axons
    acc_max = _acc_max(cfg)
    zeros = np.zeros(n, dtype=np.int64)
    out = []
    w = cap_sums(rng.integers(0, wmax + 1, size=(a, n)) * (rng.random((a, n)) < 0.5), acc_max)
    x = np.zeros((3, a), dtype=np.int64)
    x[0], x[2] = rng.random(a) < 0.5, rng.random(a) < 0.5
    out.append(Trace(CoreProgram(weights=w, bias=np.ones(n, dtype=np.int64), threshold=np.full(n, lo, dtype=np.int64),
                                 v_reset=rng.integers(lo, hi + 1, size=n)), x, int(rng.integers(1 << 30)), 0.5, 0.7))
    sign = np.where(np.arange(n) % 2 == 0, 1, -1)
    w = cap_sums(np.tile(sign * wmax, (a, 1)), acc_max)
    x = np.ones((2, a), dtype=np.int64)
    x[1] = rng.random(a) < 0.5
    out.append(Trace(CoreProgram(weights=w, bias=sign * rng.choice([hi, hi // 2, 0], size=n),
                                 threshold=_spread(rng, lo, hi, n, 3 * wmax), v_reset=rng.integers(lo, hi + 1, size=n)),
                     x, int(rng.integers(1 << 30)), 0.3, 0.5))
    if cfg.storage == "sparse":
        w = cap_sums(rng.integers(-wmax - 1, wmax + 1, size=(a, n)) * (rng.random((a, n)) < 0.5), acc_max)
        for axon in range(a):
            kind = axon % 3
            row = np.zeros(n, dtype=np.int64)
            if kind == 0 and a >= 3:
                pass  # a row of 0 words: loaded, never sent an event
            elif kind == 1 or (kind == 0 and a < 3):
                pick = rng.choice(n, size=int(rng.integers(1, min(cfg.lanes, n) + 1)), replace=False)
                row[pick] = rng.choice([-1, 1, wmax], size=pick.size)
            else:
                row = rng.choice([-1, 1, min(2, wmax)], size=n)
            w[axon] = row
        out.append(Trace(CoreProgram(weights=cap_sums(w, acc_max), bias=zeros, threshold=_spread(rng, lo, hi, n, 4),
                                     v_reset=zeros), _inputs(rng, cfg, 3, empty=False), int(rng.integers(1 << 30)),
                         0.3, 0.5))
    return out


def coverage_traces(cfg: CoreConfig, seed: int, steps: int = 3, max_events: int = 16) -> list[Trace]:
    """What ``neurosim verify MODEL`` adds per distinct core configuration besides the model's own
    data: three random traces (:func:`random_traces`) and the directed corners (:func:`corner_traces`),
    with at most ``max_events`` input events a step."""
    traces = random_traces(cfg, 3, seed, steps) + corner_traces(cfg, seed)
    rng = np.random.default_rng(seed + 104729)
    for tr in traces:  # a wide core: at most max_events events a step keeps the added time small
        for row in tr.inputs:
            on = np.flatnonzero(row)
            if on.size > max_events:
                row[rng.choice(on, size=on.size - max_events, replace=False)] = 0
    return traces


def job_of(cfg: CoreConfig, traces: list[Trace], expectations: list[Expected] | None = None) -> dict:
    """The core testbench's job: parameters and, per trace, the program, the events and the engine's values."""
    from neurosim.targets.neuromorphic.hdl.core import sparse_layout

    entries = []
    for k, tr in enumerate(traces):
        exp = expectations[k] if expectations is not None else expected(cfg, tr.program, tr.inputs)
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
    return {"params": params, "traces": entries, "probe_seed": traces[0].seed if traces else 0}


def _netlist_kw(netlist: str | None) -> dict:
    """``netlist=`` for the runner only when one is asked for (a runner without the option still works)."""
    return {} if netlist is None else {"netlist": netlist}


def build(cfg: CoreConfig, build_dir: Path, simulator: str = "icarus", mutate: str | None = None, program=None,
          netlist: str | None = None):
    """Build the core's Verilog (or its ``netlist`` flavor's gate-level netlist) for ``simulator``;
    returns (runner, seconds) for :func:`run`'s ``built``."""
    return build_verilog(verilog_of(cfg, TOP, mutate=mutate, program=program), TESTBENCH, build_dir, simulator,
                         **_netlist_kw(netlist))


def _rules(report: dict) -> dict:
    """The testbench's per-rule protocol counts: rule -> (violations, the first one's description)."""
    return {rule: (int(n), report.get("protocol_examples", {}).get(rule))
            for rule, n in report.get("protocol_rules", {}).items()}


def _trace_failed(d: dict) -> bool:
    return bool(d["spikes"] or d["cycles"] or d["membrane_bits"] or d.get("unknown_values") or d.get("error_flag")
                or d.get("timeout") is not None)


def run(cfg: CoreConfig, traces: list[Trace], work_dir, simulator: str = "icarus", mutate: str | None = None,
        built=None, baked: bool = False, netlist: str | None = None, step_guard: int | None = None) -> VerifyResult:
    """Build (unless ``built`` = (runner, build_s) is given) and run every trace; count differences,
    protocol violations and coverage (``VerifyResult.coverage``).

    ``baked``: generate the core with the (single) trace's program in its memories, as
    ``neurosim rtl`` does, and run without loading it through the configuration port.
    ``netlist``: run on the yosys netlist of that flavor (``generic``, ``ice40``, ``ecp5``).
    ``step_guard``: cycles a timestep may take before it counts as a timeout (default: the
    testbench's 200,000); a timeout fails the run with its report written."""
    if baked and len(traces) != 1:
        raise VerificationError("a baked core holds one program: give exactly one trace")
    exps = [expected(cfg, tr.program, tr.inputs) for tr in traces]
    text = None if built else verilog_of(cfg, TOP, mutate=mutate, program=traces[0].program if baked else None)
    report, build_s, run_s = run_job(TESTBENCH, {**job_of(cfg, traces, exps), "baked": baked, "step_guard": step_guard}, work_dir, simulator,
                                     text, built, **_netlist_kw(netlist))
    per_trace = report["traces"]
    firsts = [d["first"] if d["first"].startswith("trace ") else f"trace {k}: {d['first']}"
              for k, d in enumerate(per_trace) if d["first"]]
    if report["protocol"]:
        firsts.append(f"protocol: {report['protocol_first']}")
    coverage = Coverage.merged([core_coverage(cfg, tr.program, e.events, e.spikes, e.membranes)
                                for tr, e in zip(traces, exps)] + [timing_coverage(report["timing"])])
    failed = any(_trace_failed(d) for d in per_trace) or len(per_trace) < len(traces) or report["protocol"]
    return VerifyResult(
        passed=not failed,
        traces=len(per_trace), steps=sum(len(t.inputs) for t in traces),
        differing_spikes=sum(d["spikes"] for d in per_trace), differing_cycles=sum(d["cycles"] for d in per_trace),
        differing_membrane_bits=sum(d["membrane_bits"] for d in per_trace), build_s=build_s, run_s=run_s,
        first_difference=firsts[0] if firsts else None, simulator=simulator,
        unknown_values=sum(d.get("unknown_values", 0) for d in per_trace),
        protocol_violations=int(report["protocol"]), first_protocol_violation=report["protocol_first"],
        protocol_rules=_rules(report),
        coverage=coverage, netlist=netlist,
        compared_spikes=sum(len(traces[k].inputs) for k in range(len(per_trace))) * cfg.neurons,
        compared_membrane_bits=len(per_trace) * cfg.neurons * cfg.membrane_bits,
        compared_cycles=sum(len(traces[k].inputs) for k in range(len(per_trace))),
    )


@dataclass
class ModelVerification:
    cores: list  # (CoreDesign, VerifyResult): the model's trace, plus coverage traces when asked for
    random_traces: int = 0  # coverage traces run per distinct core configuration (0: the model's data only)

    @property
    def passed(self) -> bool:
        return all(r.passed for _, r in self.cores)

    @property
    def coverage(self) -> Coverage:
        return Coverage.merged(r.coverage for _, r in self.cores)


def _top_of(designs, n_inputs: int, mutate: str | None):
    from neurosim.targets.neuromorphic.mapping import top_of

    return top_of(designs, n_inputs) if mutate is None else top_of(designs, n_inputs, mutate=mutate)


def verify_model(graph, inputs: np.ndarray, work_dir, simulator: str = "icarus", progress=None,
                 random_traces: bool = False, seed: int = 0, netlist: str | None = None) -> ModelVerification:
    """Verify every core of ``graph`` on the event stream the engine delivers to it for ``inputs``.

    The expected values come from the engine twice over: the single-core run (``golden.expected``)
    and the whole-model run must agree before the RTL is compared with them.

    ``random_traces``: the first core of every distinct configuration also runs
    :func:`coverage_traces` (random programs across the legal space and the directed corners: negative
    thresholds, saturation, ties, ...) in the same simulation, so that a model whose cores share
    one configuration still exercises what its own weights never reach.
    ``netlist``: run on the yosys netlist of that flavor instead of the RTL.
    """
    from neurosim.targets.neuromorphic.mapping import cores_of

    designs, _ = cores_of(graph, inputs)
    out, seen = [], set()
    extra_count = 0
    for k, d in enumerate(designs):
        exp = expected(d.config, d.program, d.inputs)
        if not (np.array_equal(exp.spikes, d.spikes) and np.array_equal(exp.membranes, d.membranes)):
            raise VerificationError(f"core {d.index}: the single-core engine run disagrees with the whole-model run")
        traces = [Trace(program=d.program, inputs=d.inputs, seed=k, gap=0.3, stall=0.5)]
        if random_traces and d.config not in seen:
            seen.add(d.config)
            extra = coverage_traces(d.config, seed=seed + 1000 * k)
            extra_count = len(extra)
            traces += extra
        out.append((d, run(d.config, traces, Path(work_dir) / f"core{d.index}", simulator, netlist=netlist)))
        if progress:
            progress(k + 1, len(designs))
    return ModelVerification(out, random_traces=extra_count)


def verify_model_top(graph, inputs: np.ndarray, work_dir, simulator: str = "icarus", gap: float = 0.3,
                     stall: float = 0.5, seed: int = 0, built=None, mutate: str | None = None,
                     netlist: str | None = None) -> VerifyResult:
    """The whole model as one design (:class:`~neurosim.targets.neuromorphic.hdl.top.MultiCoreTop`) against the engine:
    per-core cycles and spikes every step, final membranes, the stream protocol of its ports.

    ``built``: (runner, seconds) of an earlier build of the same model's top (the design does not
    depend on the input: programs and routes are the model's), so many samples share one build.
    ``mutate``: plant one of the top's deliberate bugs; ``netlist``: run on the yosys netlist of
    that flavor."""
    from neurosim.targets.neuromorphic.mapping import cores_of

    designs, res = cores_of(graph, inputs)
    net = res.net
    top = _top_of(designs, net.n_inputs, mutate)
    steps = res.steps
    cycles = (res.integrate_cycles + res.fire_cycles)
    spikes = np.concatenate([res.spikes[p].reshape(steps, -1) for p in net.populations], axis=1)
    return run_top(top, designs, net.n_inputs, np.asarray(inputs).reshape(steps, -1), cycles, spikes, work_dir,
                   simulator, gap, stall, seed, built, netlist)


def run_top(top, designs, n_inputs: int, flat_in: np.ndarray, cycles: np.ndarray, spikes: np.ndarray, work_dir,
            simulator: str = "icarus", gap: float = 0.3, stall: float = 0.5, seed: int = 0, built=None,
            netlist: str | None = None) -> VerifyResult:
    """Run the top testbench on ``top`` (a MultiCoreTop of ``designs``) with the engine's values:
    ``flat_in`` ``[T, n_inputs]`` external spikes, ``cycles`` ``[T, cores]``, ``spikes`` ``[T, neurons]``
    (every core's neurons in core order); each design's ``membranes`` are the final ones."""
    from neurosim.hdl.emit import verilog

    if built:
        top._MustUse__silence = True  # only its routes and widths are read: the Verilog was built before
    steps = flat_in.shape[0]
    live = np.array([bool(top.routes[s]) for s in range(n_inputs)])
    job = {
        "seed": seed, "gap": gap, "stall": stall, "lanes_max": top.lanes, "chunk_bits": top.chunk_bits,
        "core_bits": top.core_bits,
        "cores": [{"base": int(n_inputs + sum(d.config.neurons for d in designs[:i])), "lanes": d.config.lanes,
                   "chunks": d.config.chunks, "neurons": d.config.neurons, "membrane_bits": d.config.membrane_bits}
                  for i, d in enumerate(designs)],
        "steps": [{"events": [int(j) for j in np.nonzero((flat_in[t] != 0) & live)[0]],
                   "cycles": [int(c) for c in cycles[t]],
                   "spikes": [int(n_inputs + k) for k in np.nonzero(spikes[t])[0]]} for t in range(steps)],
        "membranes": [d.membranes.tolist() for d in designs],
    }
    d, build_s, run_s = run_job(TOP_TESTBENCH, job, work_dir, simulator,
                                None if built else verilog(top, TOP_TESTBENCH.top), built, **_netlist_kw(netlist))
    protocol = int(d.get("protocol", 0))
    failed = (d["spikes"] or d["cycles"] or d["membrane_bits"] or d["unknown_values"] or d.get("error_flag")
              or d["timeout"] is not None or protocol)
    first = d["first"] or (f"protocol: {d.get('protocol_first')}" if protocol else None)
    return VerifyResult(passed=not failed, traces=1, steps=steps,
                        differing_spikes=d["spikes"], differing_cycles=d["cycles"],
                        differing_membrane_bits=d["membrane_bits"], build_s=build_s, run_s=run_s,
                        first_difference=first, simulator=simulator, unknown_values=int(d["unknown_values"]),
                        protocol_violations=protocol, first_protocol_violation=d.get("protocol_first"),
                        protocol_rules=_rules(d),
                        coverage=top_coverage(d.get("timing", {}), [x.config.lanes for x in designs]), netlist=netlist,
                        compared_spikes=steps * sum(x.config.neurons for x in designs),
                        compared_membrane_bits=sum(x.config.neurons * x.config.membrane_bits for x in designs),
                        compared_cycles=steps * len(designs))


def verify_model_samples(graph, samples, work_dir, simulator: str = "icarus", progress=None, mutate: str | None = None,
                         netlist: str | None = None) -> list[VerifyResult]:
    """:func:`verify_model_top` on every sample of ``samples`` (``[N, T, *input_shape]``) with one
    build of the model's top; sample ``k`` runs with seed ``k`` (its own input gaps and back-pressure)."""
    from neurosim.hdl.emit import verilog
    from neurosim.targets.neuromorphic.mapping import cores_of

    samples = np.asarray(samples)
    if samples.ndim < 2 or len(samples) == 0:
        raise VerificationError(f"samples must be shaped [N, T, *input_shape] with N >= 1, found {samples.shape!r}")
    designs, res = cores_of(graph, samples[0])
    built = build_verilog(verilog(_top_of(designs, res.net.n_inputs, mutate), TOP_TESTBENCH.top), TOP_TESTBENCH,
                          Path(work_dir).resolve() / "build", simulator, **_netlist_kw(netlist))
    out = []
    for k, x in enumerate(samples):
        out.append(verify_model_top(graph, x, work_dir, simulator, seed=k, built=built, mutate=mutate, netlist=netlist))
        if progress:
            progress(k + 1, len(samples), out[-1])
    return out


def mixed_lane_designs(seed: int, steps: int = 5):
    """A directed multi-core top the bundled models never make: three cores with 2, 3 and 1 lanes
    (the mapping gives every core the preset's lane count), core 1 fed by core 0, core 2 by the
    external input and core 1. Its expected values come from the single-core engine run of each
    core on the spikes of its feeders (delay 0: a core's spikes reach the next core in the same
    timestep, as in the whole-model engine run).

    Returns (designs, n_inputs, flat_in ``[T, n_inputs]``, cycles ``[T, cores]``, spikes ``[T, neurons]``)."""
    from neurosim.targets.neuromorphic.mapping import CoreDesign

    rng = np.random.default_rng(seed)
    n_inputs = 4
    layout = [(5, 2, "input"), (7, 3, "core0"), (4, 1, "input+core1")]
    flat_in = (rng.random((steps, n_inputs)) < 0.6).astype(np.int64)
    flat_in[min(2, steps - 1)] = 0  # an empty timestep
    designs, spikes, cycles, base = [], [], [], n_inputs
    bases = []
    for i, (neurons, lanes, feed) in enumerate(layout):
        sources = {"input": np.arange(n_inputs), "core0": np.arange(bases[0], bases[0] + layout[0][0]) if bases else None,
                   "input+core1": None}[feed]
        if feed == "input+core1":
            sources = np.concatenate([np.arange(n_inputs), np.arange(bases[1], bases[1] + layout[1][0])])
        cfg = CoreConfig(neurons=neurons, axons=int(sources.size), lanes=lanes, weight_bits=6, membrane_bits=10,
                         acc_bits=12, leak_shift=int(rng.integers(0, 3)), reset=("subtract", "zero", "none")[i],
                         spike_rule=("gt", "ge", "gt")[i])
        prog = random_program(cfg, rng, density=0.6)
        w = prog.weights.copy()
        empty = ~np.any(w != 0, axis=1)
        w[empty, 0] = 1  # every axon has a synapse here, so every routed event reaches the core (as the engine counts)
        prog = CoreProgram(weights=cap_sums(w, _acc_max(cfg)), bias=prog.bias, threshold=prog.threshold,
                           v_reset=prog.v_reset)
        if not np.all(np.any(prog.weights != 0, axis=1)):
            raise VerificationError(f"mixed_lane_designs: core {i} has an axon without synapses; pick another seed")
        everything = np.concatenate([flat_in] + spikes, axis=1) if spikes else flat_in
        core_in = everything[:, sources]
        exp = expected(cfg, prog, core_in)
        designs.append(CoreDesign(index=i, population=f"pop{i}", neurons=range(neurons), sources=sources, config=cfg,
                                  program=prog, inputs=core_in, spikes=exp.spikes, membranes=exp.membranes))
        bases.append(base)
        base += neurons
        spikes.append(exp.spikes)
        cycles.append(exp.cycles)
    return designs, n_inputs, flat_in, np.stack(cycles, axis=1), np.concatenate(spikes, axis=1)


def verify_mixed_lane_top(work_dir, simulator: str = "icarus", seed: int = 0, mutate: str | None = None,
                          netlist: str | None = None) -> VerifyResult:
    """:func:`mixed_lane_designs` as one top, against the engine (with gaps and back-pressure)."""
    designs, n_inputs, flat_in, cycles, spikes = mixed_lane_designs(seed)
    return run_top(_top_of(designs, n_inputs, mutate), designs, n_inputs, flat_in, cycles, spikes, work_dir,
                   simulator, gap=0.3, stall=0.6, seed=seed, netlist=netlist)
