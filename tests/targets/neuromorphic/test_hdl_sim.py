"""Fast unit tests of the core and the multi-core top with ``amaranth.sim`` (no external simulator).

What they pin, every expected value from the engine (``verify.expected`` for one core,
``mapping.cores_of`` for a two-core model), never from the RTL:

* the handshake that ends a core's timestep (``idle`` waits for the last spike word);
* ``clear``: after a few steps, a clear and the same steps again equal a fresh core's run, the
  membranes read back 0, and the clear counts no cycle;
* out-of-range events are dropped and raise the sticky ``error`` (cleared by ``start``);
* the stream rules on every port: ``valid`` and ``payload`` do not depend on ``ready`` (checked
  combinationally: ``ready`` is toggled inside one cycle), a refused word stays offered unchanged,
  ``events.ready`` does not depend on ``events.valid``;
* the top: the spike tap FIFO under back-pressure (spikes as multisets and per-core cycles equal
  the engine's), the configuration port writes only the selected core, the top's clear and error.

The ``*_findings`` functions return the differences they found (empty: pass); the mutation
campaign (``test_mutation.py``) runs them on every mutant.
"""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest
from amaranth.sim import Simulator

from neurosim.targets.neuromorphic.hdl.config import CoreConfig, CoreProgram
from neurosim.targets.neuromorphic.hdl.core import CFG_ACC, CFG_THRESHOLD, NeuromorphicCore, pack_lanes


def _program(cfg: CoreConfig, fire_last_chunk: bool) -> CoreProgram:
    """Neurons that fire on any input event: all of them, or only those of the last chunk."""
    w = np.zeros((cfg.axons, cfg.neurons), dtype=np.int64)
    first = (cfg.chunks - 1) * cfg.lanes if fire_last_chunk else 0
    w[:, first:] = 3
    return CoreProgram(weights=w, bias=np.zeros(cfg.neurons, dtype=np.int64),
                       threshold=np.ones(cfg.neurons, dtype=np.int64), v_reset=np.zeros(cfg.neurons, dtype=np.int64))


def _run(dut, bench):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("neurons,lanes,last_only", [(5, 2, True), (8, 4, False), (1, 1, True), (9, 4, True)])
@pytest.mark.parametrize("stall", [0, 3])
def test_idle_waits_for_the_last_spike_word(neurons, lanes, last_only, stall):
    cfg = CoreConfig(neurons=neurons, axons=2, lanes=lanes)
    dut = NeuromorphicCore(cfg, program=_program(cfg, last_only))
    words, violations, idle_seen = [], [], []

    async def bench(ctx):
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        ctx.set(dut.events.valid, 1)
        ctx.set(dut.events.payload, 1)
        while not ctx.get(dut.events.ready):
            await ctx.tick()
        await ctx.tick()
        ctx.set(dut.events.valid, 0)
        ctx.set(dut.eos, 1)
        for cycle in range(200):
            ready = stall == 0 or cycle % (stall + 1) == stall  # back-pressure: ready one cycle in stall + 1
            ctx.set(dut.spikes.ready, ready)
            valid, idle, done = ctx.get(dut.spikes.valid), ctx.get(dut.idle), ctx.get(dut.done)
            if idle and (valid or not done):
                violations.append((cycle, valid, done))
            if valid and ready:
                words.append(ctx.get(dut.spikes.payload))
            if idle:
                idle_seen.append(cycle)
                break
            await ctx.tick()

    _run(dut, bench)
    assert not violations, violations
    assert idle_seen, "idle never rose"
    fired_chunks = {cfg.chunks - 1} if last_only else set(range(cfg.chunks))
    assert len(words) == len(fired_chunks), f"idle rose after {len(words)} of {len(fired_chunks)} spike words"


# -- a protocol-checking driver for the core ---------------------------------------------------


class Streams:
    """Drives a ``dut``'s ``events`` (a source that holds ``valid`` and ``payload`` until the
    handshake) and ``spikes`` (a sink with random back-pressure) and checks the dut's side of the
    stream rules every cycle; ``problems`` collects what it saw."""

    def __init__(self, dut, rng: random.Random, gap: float, stall: float):
        self.dut, self.rng, self.gap, self.stall = dut, rng, gap, stall
        self.problems: list[str] = []
        self.offered = None  # payload offered and not yet taken
        self.pending = None  # (payload) of a spike word offered and refused last cycle

    def _note(self, text):
        if len(self.problems) < 20:
            self.problems.append(text)

    def cycle(self, ctx, events: list, idx: int, eos: bool) -> tuple[int, int | None]:
        """Drive one cycle (before the clock edge): returns (events taken so far, spike word taken or None)."""
        dut = self.dut
        if self.offered is None and idx < len(events) and self.rng.random() >= self.gap:
            self.offered = events[idx]
        ctx.set(dut.eos, int(eos and self.offered is None))
        ctx.set(dut.events.payload, self.offered if self.offered is not None else 0)
        # events.ready must not depend on events.valid (cheaply avoidable: ready follows the state)
        ctx.set(dut.events.valid, 0)
        r0 = ctx.get(dut.events.ready)
        ctx.set(dut.events.valid, 1)
        r1 = ctx.get(dut.events.ready)
        if r0 != r1:
            self._note("events.ready depends on events.valid")
        ctx.set(dut.events.valid, int(self.offered is not None))
        # spikes.valid/payload must not depend on spikes.ready
        ctx.set(dut.spikes.ready, 0)
        v0, p0 = ctx.get(dut.spikes.valid), ctx.get(dut.spikes.payload)
        ctx.set(dut.spikes.ready, 1)
        v1, p1 = ctx.get(dut.spikes.valid), ctx.get(dut.spikes.payload)
        if v0 != v1 or (v0 and p0 != p1):
            self._note(f"spikes.valid/payload depend on spikes.ready ({v0}/{p0} vs {v1}/{p1})")
        if self.pending is not None and not (v1 and p1 == self.pending):
            self._note(f"spike word {self.pending} refused, then withdrawn or changed (valid {v1}, payload {p1})")
        ready = int(self.rng.random() >= self.stall)
        ctx.set(dut.spikes.ready, ready)
        valid, payload = ctx.get(dut.spikes.valid), ctx.get(dut.spikes.payload)
        taken = payload if valid and ready else None
        self.pending = payload if valid and not ready else None
        if self.offered is not None and ctx.get(dut.events.ready):
            self.offered = None
            idx += 1
        return idx, taken


def _decode(word: int, lanes: int) -> list[int]:
    chunk, mask = word >> lanes, word & ((1 << lanes) - 1)
    return [chunk * lanes + lane for lane in range(lanes) if mask >> lane & 1]


async def _core_step(ctx, dut, cfg, events, streams, limit=5000):
    """One timestep through :class:`Streams`; returns (spiking neurons, counted cycles, finished)."""
    ctx.set(dut.start, 1)
    await ctx.tick()
    ctx.set(dut.start, 0)
    idx, fired = 0, []
    for _ in range(limit):
        idx, word = streams.cycle(ctx, events, idx, eos=idx >= len(events))
        if word is not None:
            fired += _decode(word, cfg.lanes)
        if ctx.get(dut.idle) and idx >= len(events):
            break
        await ctx.tick()
    else:
        return sorted(fired), ctx.get(dut.cycles), False
    cycles = ctx.get(dut.cycles)
    ctx.set(dut.eos, 0)
    ctx.set(dut.events.valid, 0)
    await ctx.tick()
    return sorted(fired), cycles, True


async def _read_membranes(ctx, dut, cfg) -> list[int]:
    out = []
    for c in range(cfg.chunks):
        ctx.set(dut.dbg_addr, c)
        await ctx.tick()
        word = ctx.get(dut.dbg_v)
        for lane in range(cfg.lanes):
            v = (word >> (lane * cfg.membrane_bits)) & ((1 << cfg.membrane_bits) - 1)
            out.append(v - (1 << cfg.membrane_bits) if v >> (cfg.membrane_bits - 1) else v)
    return out[:cfg.neurons]


async def _wait_idle(ctx, dut, limit=2000) -> int:
    for k in range(limit):
        if ctx.get(dut.idle):
            return k
        await ctx.tick()
    return -1


def sim_program(cfg: CoreConfig, seed: int) -> CoreProgram:
    """Seeded codes that make neurons fire often (small thresholds, both signs) without overflowing
    the accumulator; reset values nonzero so that a reset to 0 or to the threshold differs."""
    rng = np.random.default_rng(seed)
    wmax = (1 << (cfg.weight_bits - 1)) - 1
    w = rng.integers(-wmax // 2, wmax + 1, size=(cfg.axons, cfg.neurons)) * (rng.random((cfg.axons, cfg.neurons)) < 0.7)
    thr = rng.integers(-2, min(cfg.v_max, 2 * wmax) + 1, size=cfg.neurons)
    return CoreProgram(weights=w.astype(np.int64), bias=rng.integers(-1, 2, size=cfg.neurons),
                       threshold=thr, v_reset=rng.integers(-3, 3, size=cfg.neurons))


SIM_CONFIGS = [
    CoreConfig(neurons=7, axons=5, lanes=3, weight_bits=6, membrane_bits=10, acc_bits=12, leak_shift=1,
               reset="zero", spike_rule="ge"),
    CoreConfig(neurons=6, axons=5, lanes=4, weight_bits=6, membrane_bits=10, acc_bits=12, leak_shift=2,
               storage="sparse"),
]


def _events(inputs, prog):
    live = np.any(prog.weights != 0, axis=1)
    return [sorted(int(a) for a in np.nonzero((row != 0) & live)[0]) for row in inputs]


def core_clear_findings(cfg: CoreConfig, mutate: str | None = None, seed: int = 0) -> list[str]:
    """Steps A, then a clear (after a nonzero accumulator write), then steps B, against the engine
    on B alone (a fresh core); membranes read back 0 after the clear; the clear counts no cycle."""
    from neurosim.targets.neuromorphic.verify import expected

    prog = sim_program(cfg, seed)
    rng = np.random.default_rng(seed + 1)
    a = (rng.random((3, cfg.axons)) < 0.6).astype(np.int64)
    b = (rng.random((4, cfg.axons)) < 0.6).astype(np.int64)
    b[2] = 0  # an empty step
    want = expected(cfg, prog, b)
    dut = NeuromorphicCore(cfg, program=prog, mutate=mutate)
    streams = Streams(dut, random.Random(seed), gap=0.3, stall=0.5)
    found = []

    async def bench(ctx):
        for events in _events(a, prog):
            *_, ok = await _core_step(ctx, dut, cfg, events, streams)
            if not ok:
                found.append("a step before the clear did not finish")
                return
        last = ctx.get(dut.cycles)
        # leave junk in the accumulators (as an aborted sample would), then clear
        ctx.set(dut.cfg_en, 1)
        ctx.set(dut.cfg_mem, CFG_ACC)
        for c in range(cfg.chunks):
            ctx.set(dut.cfg_addr, c)
            ctx.set(dut.cfg_data, pack_lanes([5] * cfg.lanes, cfg.acc_bits))
            await ctx.tick()
        ctx.set(dut.cfg_en, 0)
        ctx.set(dut.clear, 1)
        await ctx.tick()
        ctx.set(dut.clear, 0)
        if ctx.get(dut.idle):
            found.append("idle stayed high right after clear")
        if await _wait_idle(ctx, dut) < 0:
            found.append("idle never rose after clear")
            return
        if ctx.get(dut.cycles) != last:
            found.append(f"the clear changed cycles from {last} to {ctx.get(dut.cycles)}")
        v = await _read_membranes(ctx, dut, cfg)
        if any(v):
            found.append(f"membranes after clear {v} != 0")
        for t, events in enumerate(want.events):
            fired, cycles, ok = await _core_step(ctx, dut, cfg, events, streams)
            spikes = [n for n in range(cfg.neurons) if want.spikes[t][n]]
            if not ok:
                found.append(f"step {t} after clear did not finish")
                return
            if fired != spikes:
                found.append(f"step {t} after clear: spikes {fired} != engine {spikes}")
            if cycles != int(want.cycles[t]):
                found.append(f"step {t} after clear: {cycles} cycles != engine {int(want.cycles[t])}")
        v = await _read_membranes(ctx, dut, cfg)
        if v != want.membranes.tolist():
            found.append(f"membranes {v} != engine {want.membranes.tolist()}")

    _run(dut, bench)
    return found + streams.problems


def core_error_findings(cfg: CoreConfig, mutate: str | None = None, seed: int = 0) -> list[str]:
    """A step with an out-of-range axon index among its events: dropped (the step equals the
    engine's without it, cycles included), ``error`` rises and stays until the next ``start``."""
    from neurosim.targets.neuromorphic.verify import expected

    bad = (1 << max(1, (cfg.axons - 1).bit_length())) - 1
    assert bad >= cfg.axons, "the test needs axons that are not a power of two"
    prog = sim_program(cfg, seed)
    rng = np.random.default_rng(seed + 2)
    x = (rng.random((2, cfg.axons)) < 0.6).astype(np.int64)
    want = expected(cfg, prog, x)
    dut = NeuromorphicCore(cfg, program=prog, mutate=mutate)
    streams = Streams(dut, random.Random(seed), gap=0.0, stall=0.3)
    found = []

    async def bench(ctx):
        events = list(want.events[0])
        events.insert(len(events) // 2, bad)
        fired, cycles, ok = await _core_step(ctx, dut, cfg, events, streams)
        spikes = [n for n in range(cfg.neurons) if want.spikes[0][n]]
        if not ok:
            found.append("the step with an out-of-range event did not finish")
            return
        if (fired, cycles) != (spikes, int(want.cycles[0])):
            found.append(f"out-of-range event not dropped: spikes {fired}, {cycles} cycles != engine {spikes}, "
                         f"{int(want.cycles[0])} cycles without it")
        for _ in range(3):
            if not ctx.get(dut.error):
                found.append("error is not high (sticky) after an out-of-range event")
                break
            await ctx.tick()
        fired, cycles, ok = await _core_step(ctx, dut, cfg, want.events[1], streams)
        if ctx.get(dut.error):
            found.append("start did not clear error")
        spikes = [n for n in range(cfg.neurons) if want.spikes[1][n]]
        if (fired, cycles) != (spikes, int(want.cycles[1])):
            found.append(f"step 1: spikes {fired}, {cycles} cycles != engine {spikes}, {int(want.cycles[1])}")

    _run(dut, bench)
    return found + streams.problems


@pytest.mark.parametrize("index", range(len(SIM_CONFIGS)))
def test_clear_equals_a_fresh_core(index):
    assert core_clear_findings(SIM_CONFIGS[index]) == []


@pytest.mark.parametrize("index", range(len(SIM_CONFIGS)))
def test_out_of_range_event_is_dropped_and_flagged(index):
    assert core_error_findings(SIM_CONFIGS[index]) == []


@pytest.mark.parametrize("mutation,check", [("spikes_valid_needs_ready", "clear"), ("clear_skips_last_chunk", "clear"),
                                            ("guard_removed", "error")])
def test_sim_checks_catch_their_mutants(mutation, check):
    """The checks above can fail: each catches a deliberate bug it is meant for (the mutation
    campaign, ``test_mutation.py``, runs them on every mutant)."""
    run = core_clear_findings if check == "clear" else core_error_findings
    assert run(SIM_CONFIGS[0], mutation), f"mutant {mutation!r} passed the amaranth.sim {check} check"


# -- the multi-core top -------------------------------------------------------------------------


def two_core_model(seed: int = 0):
    """A fixed-point two-layer model (3 inputs -> 7 IF neurons -> 5 IF neurons): 3 inputs (not a
    power of two, so the top's guard exists), two cores with a partial last chunk each."""
    from neurosim.ir import IF, Dense, FixedPoint, Graph, Input, NeuronFixedPoint, Output

    rng = np.random.default_rng(seed)
    fx = NeuronFixedPoint(state=FixedPoint(16, 0), leak="none", acc_width=24)
    w1 = rng.integers(-20, 60, size=(7, 3)).astype(float)
    w2 = rng.integers(-20, 60, size=(5, 7)).astype(float)
    return Graph.chain([
        ("input", Input(shape=(3,))),
        ("fc1", Dense(weight=w1, weight_format=FixedPoint(8, 0))),
        ("l1", IF(shape=(7,), threshold=40.0, reset="subtract", fixed=fx)),
        ("fc2", Dense(weight=w2, weight_format=FixedPoint(8, 0))),
        ("l2", IF(shape=(5,), threshold=30.0, v_reset=-3.0, reset="zero", spike_rule="ge", fixed=fx)),
        ("output", Output(shape=(5,))),
    ])


def wide_model(seed: int = 0):
    """Two layers whose first fires every neuron of its 6 chunks on any input: many spike words
    per step, so that heavy back-pressure fills the top's spike tap."""
    from neurosim.ir import IF, Dense, FixedPoint, Graph, Input, NeuronFixedPoint, Output

    rng = np.random.default_rng(seed)
    fx = NeuronFixedPoint(state=FixedPoint(16, 0), leak="none", acc_width=24)
    return Graph.chain([
        ("input", Input(shape=(3,))),
        ("fc1", Dense(weight=rng.integers(30, 60, size=(24, 3)).astype(float), weight_format=FixedPoint(8, 0))),
        ("l1", IF(shape=(24,), threshold=20.0, reset="zero", fixed=fx)),
        ("fc2", Dense(weight=rng.integers(-5, 10, size=(5, 24)).astype(float), weight_format=FixedPoint(8, 0))),
        ("l2", IF(shape=(5,), threshold=30.0, reset="subtract", fixed=fx)),
        ("output", Output(shape=(5,))),
    ])


def top_backpressure_findings(mutate: str | None = None, seed: int = 0) -> list[str]:
    """The top under heavy back-pressure on its spike tap (ready 1 cycle in ~30): spikes (as a
    multiset) and per-core cycles equal the engine's; no word is lost when the tap is full."""
    from neurosim.targets.neuromorphic.mapping import top_of

    x = np.ones((2, 3), dtype=np.int64)
    designs, res, want, cyc = _top_expectation(wide_model(seed), x)
    top = top_of(designs, res.net.n_inputs, mutate=mutate)
    base = [res.net.n_inputs + sum(d.config.neurons for d in designs[:i]) for i in range(len(designs))]
    streams = Streams(top, random.Random(seed), gap=0.0, stall=0.97)
    found = []

    async def bench(ctx):
        for t in range(len(x)):
            fired, cycles = await _top_step(ctx, top, top, [0, 1, 2], streams, base, limit=20000)
            if cycles is None:
                found.append(f"step {t}: done never rose")
                return
            if Counter(fired) != Counter(want[t]):
                found.append(f"step {t}: spikes {sorted(fired)} != engine {want[t]}")
            if cycles != [int(c) for c in cyc[t]]:
                found.append(f"step {t}: cycles {cycles} != engine {[int(c) for c in cyc[t]]}")

    _run(top, bench)
    return found + streams.problems


def test_top_tap_under_heavy_backpressure():
    assert top_backpressure_findings() == []


def _top_expectation(graph, x):
    from neurosim.targets.neuromorphic.mapping import cores_of

    designs, res = cores_of(graph, x)
    steps = res.steps
    cycles = (res.integrate_cycles + res.fire_cycles)
    spikes = np.concatenate([res.spikes[p].reshape(steps, -1) for p in res.net.populations], axis=1)
    want = [sorted(int(res.net.n_inputs + k) for k in np.nonzero(spikes[t])[0]) for t in range(steps)]
    return designs, res, want, cycles


async def _top_step(ctx, dut, top, events, streams, base, limit=5000):
    ctx.set(dut.start, 1)
    await ctx.tick()
    ctx.set(dut.start, 0)
    idx, fired = 0, []
    cb, kb = top.chunk_bits, top.lanes
    for _ in range(limit):
        idx, word = streams.cycle(ctx, events, idx, eos=idx >= len(events))
        if word is not None:
            mask, chunk, core = word & ((1 << kb) - 1), (word >> kb) & ((1 << cb) - 1), word >> (kb + cb)
            if core < len(base):
                lanes = top.cores[core][0].lanes
                fired += [base[core] + chunk * lanes + lane for lane in range(kb) if mask >> lane & 1]
            else:
                fired.append(-1)
        if ctx.get(dut.done) and idx >= len(events):
            break
        await ctx.tick()
    else:
        return fired, None
    word = ctx.get(dut.core_cycles)
    cycles = [(word >> (32 * i)) & 0xFFFFFFFF for i in range(top.n)]
    ctx.set(dut.eos, 0)
    ctx.set(dut.events.valid, 0)
    await ctx.tick()
    return fired, cycles


def top_findings(mutate: str | None = None, seed: int = 0) -> list[str]:
    """The two-core top against the engine: sample A (with an out-of-range input event and
    back-pressure on the tap), a clear, sample B (must equal the engine's fresh run of B), then
    a configuration write of core 1's thresholds through the top's port (core 1 can no longer
    fire; core 0 must be untouched)."""
    from neurosim.targets.neuromorphic.mapping import top_of

    graph = two_core_model(seed)
    rng = np.random.default_rng(seed + 3)
    xa = (rng.random((3, 3)) < 0.6).astype(np.int64)
    xb = (rng.random((4, 3)) < 0.6).astype(np.int64)
    xb[1] = 0
    designs, res, want_a, cyc_a = _top_expectation(graph, xa)
    _, _, want_b, cyc_b = _top_expectation(graph, xb)
    top = top_of(designs, res.net.n_inputs, mutate=mutate)
    base = [res.net.n_inputs + sum(d.config.neurons for d in designs[:i]) for i in range(len(designs))]
    live = np.array([bool(top.routes[s]) for s in range(res.net.n_inputs)])
    streams = Streams(top, random.Random(seed), gap=0.3, stall=0.6)
    found = []

    def events_of(x, t):
        return [int(j) for j in np.nonzero((x[t] != 0) & live)[0]]

    async def sample(ctx, x, want, cyc, name, bad_event=None):
        for t in range(len(x)):
            events = events_of(x, t)
            if bad_event is not None and t == 0:
                events.insert(len(events) // 2, bad_event)
            fired, cycles = await _top_step(ctx, top, top, events, streams, base)
            if cycles is None:
                found.append(f"sample {name} step {t}: done never rose")
                return False
            if Counter(fired) != Counter(want[t]):
                found.append(f"sample {name} step {t}: spikes {sorted(fired)} != engine {want[t]}")
            if cycles != [int(c) for c in cyc[t]]:
                found.append(f"sample {name} step {t}: cycles {cycles} != engine {[int(c) for c in cyc[t]]}")
            if bad_event is not None and t == 0:
                if not ctx.get(top.error):
                    found.append("error not raised by an input event >= n_inputs")
        return True

    async def clear(ctx):
        ctx.set(top.clear, 1)
        await ctx.tick()
        ctx.set(top.clear, 0)
        for _ in range(200):
            if ctx.get(top.done):
                return True
            await ctx.tick()
        found.append("done never rose after clear")
        return False

    async def bench(ctx):
        if not await sample(ctx, xa, want_a, cyc_a, "A", bad_event=3):
            return
        if ctx.get(top.error):
            found.append("start did not clear error")
        if not await clear(ctx) or not await sample(ctx, xb, want_b, cyc_b, "B"):
            return
        # core 1 gets thresholds at the membrane maximum: with spike_rule ge only v == v_max fires,
        # which these small weights never reach; core 0 keeps its program
        cfg1 = top.cores[1][0]
        ctx.set(top.cfg_en, 1)
        ctx.set(top.cfg_core, 1)
        ctx.set(top.cfg_mem, CFG_THRESHOLD)
        for c in range(cfg1.chunks):
            ctx.set(top.cfg_addr, c)
            ctx.set(top.cfg_data, pack_lanes([cfg1.v_max] * cfg1.lanes, cfg1.membrane_bits))
            await ctx.tick()
        ctx.set(top.cfg_en, 0)
        if not await clear(ctx):
            return
        for t in range(len(xb)):
            fired, cycles = await _top_step(ctx, top, top, events_of(xb, t), streams, base)
            if cycles is None:
                found.append(f"after the cfg write, step {t}: done never rose")
                return
            core0 = sorted(s for s in fired if s < base[1])
            want0 = [s for s in want_b[t] if s < base[1]]
            if core0 != want0:
                found.append(f"cfg write to core 1 changed core 0: step {t} spikes {core0} != engine {want0}")
            if any(s >= base[1] for s in fired):
                found.append(f"cfg write to core 1 did not reach it: step {t} core-1 spikes "
                             f"{sorted(s for s in fired if s >= base[1])}")

    _run(top, bench)
    return found + streams.problems


def test_top_against_the_engine_with_clear_cfg_port_and_guard():
    """Tap FIFO under back-pressure, clear, configuration port and the error flag of the top."""
    assert top_findings() == []


@pytest.mark.parametrize("mutation", ["tap_valid_needs_ready", "cfg_core_ignored"])
def test_top_sim_checks_catch_their_mutants(mutation):
    assert top_findings(mutation), f"top mutant {mutation!r} passed the amaranth.sim checks"
