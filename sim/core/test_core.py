"""cocotb testbench of the generated neuromorphic core (``neurosim/targets/neuromorphic/hdl/core.py``).

The job file named by ``$NEUROSIM_CORE_JOB`` holds the core's parameters and a list of traces,
each with the program to load (weights, biases, thresholds, reset values), the events of every
timestep and the **engine's** expected spikes, cycle counts and final membranes; nothing is
recomputed here. Inputs are driven with random gaps and the spike output with random
back-pressure (seeded per trace); ``eos`` sometimes rises together with the last event of a step.

Comparison: per timestep the multiset of spiking neurons (a duplicated or a missing spike word is
a difference), the cycle count, and after each trace every membrane bit; a value with X or Z bits
counts as a difference, never as a crash. The report (``$NEUROSIM_CORE_OUT``) is written whatever
happens (also when a step times out); the first difference names the timestep with the engine's
and the RTL's full values.

Stream protocol: the bench obeys the valid/ready rules as the source of ``events`` and checks the
core as the source of ``spikes``: once ``valid`` is high it stays high with the same payload until
the handshake, ``valid``/``ready`` are never X, and ``spikes.valid`` does not depend
combinationally on ``spikes.ready`` (on a sample of cycles ``ready`` is toggled for a picosecond
each way and ``valid`` read back). Violations are counted (``protocol``) and fail the test.

Timing coverage (``timing`` in the report): cycles with the spike output stalled while valid,
events offered while the core was not ready, gaps in the event stream, ``eos`` high in the
cycle the last event is taken, spike words drained after ``done``, ready probes done.
"""

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, RisingEdge

from neurosim.targets.neuromorphic.monitor import Protocol, new_report, note, spike_difference

CFG_WEIGHTS, CFG_V, CFG_BIAS, CFG_THRESHOLD, CFG_V_RESET, CFG_ACC, CFG_ROWPTR = 0, 1, 2, 3, 4, 5, 6

#: every input a core (of any generation) may have; the ones the dut lacks are skipped
INPUTS = ("start", "eos", "clear", "events__valid", "events__payload", "spikes__ready", "cfg_en", "cfg_core",
          "cfg_mem", "cfg_addr", "cfg_data", "dbg_addr", "dbg_core")
STEP_GUARD = 200_000  # cycles of one timestep before it counts as a timeout


def pack(values, width):
    word = 0
    for i, v in enumerate(values):
        word |= (int(v) & ((1 << width) - 1)) << (i * width)
    return word


def unpack_signed(word, width, count):
    out = []
    for i in range(count):
        v = (word >> (i * width)) & ((1 << width) - 1)
        out.append(v - (1 << width) if v >> (width - 1) else v)
    return out


def chunked(values, lanes, chunks, fill=0):
    padded = list(values) + [fill] * (lanes * chunks - len(values))
    return [padded[c * lanes:(c + 1) * lanes] for c in range(chunks)]


def zero_inputs(dut):
    for name in INPUTS:
        if hasattr(dut, name):
            getattr(dut, name).value = 0


def take_word(dut, p, fired, diffs, t):
    value = dut.spikes__payload.value
    if not value.is_resolvable:
        diffs["unknown_values"] += 1
        note(diffs, f"step {t}: spike word {value} has X/Z bits")
        return
    word = value.to_unsigned()
    chunk, mask = word >> p["lanes"], word & ((1 << p["lanes"]) - 1)
    fired += [chunk * p["lanes"] + lane for lane in range(p["lanes"]) if mask >> lane & 1]


async def write(dut, mem, addr, data):
    await FallingEdge(dut.clk)
    dut.cfg_en.value, dut.cfg_mem.value, dut.cfg_addr.value, dut.cfg_data.value = 1, mem, addr, data


async def load(dut, p, prog):
    lanes, chunks = p["lanes"], p["chunks"]
    if "sparse_words" in prog:  # CSR rows, laid out by neurosim.targets.neuromorphic.hdl.core.sparse_layout
        for k, word in enumerate(prog["sparse_words"]):
            await write(dut, CFG_WEIGHTS, k, word)
        for axon, ptr in enumerate(prog["rowptr"]):
            await write(dut, CFG_ROWPTR, axon, ptr)
    else:
        for axon, row in enumerate(prog["weights"]):
            for c, word in enumerate(chunked(row, lanes, chunks)):
                await write(dut, CFG_WEIGHTS, axon * chunks + c, pack(word, p["weight_bits"]))
    for sel, key in ((CFG_BIAS, "bias"), (CFG_THRESHOLD, "threshold"), (CFG_V_RESET, "v_reset")):
        for c, word in enumerate(chunked(prog[key], lanes, chunks)):
            await write(dut, sel, c, pack(word, p["membrane_bits"]))
    for c in range(chunks):  # a fresh trace starts from zero state
        await write(dut, CFG_V, c, 0)
        await write(dut, CFG_ACC, c, 0)
    await FallingEdge(dut.clk)
    dut.cfg_en.value = 0


async def step(dut, p, events, rng, trace, t, diffs, mon, timing):
    """One timestep: returns (spiking neuron indices, counted cycles or None), or None on a timeout."""
    gap, stall = trace["gap"], trace["stall"]
    early_eos = rng.random() < 0.5  # raise eos together with the last event
    await FallingEdge(dut.clk)
    dut.start.value = 1
    await RisingEdge(dut.clk)
    idx, offering, fired, edges = 0, False, [], 0
    where = f"trace {trace['index']} step {t}"
    mon.held = None
    while True:
        await FallingEdge(dut.clk)
        dut.start.value = 0
        if not offering and idx < len(events):
            offering = rng.random() >= gap  # once offered, a word stays offered until it is taken
            timing["event_gaps"] += int(not offering)
        last = offering and idx == len(events) - 1
        dut.events__valid.value = int(offering)
        dut.events__payload.value = events[idx] if idx < len(events) else 0
        dut.eos.value = int(idx >= len(events) or (early_eos and last))
        await mon.probe(dut, where, int(rng.random() >= stall))
        await ReadOnly()
        valid, ready, ev_ready = mon.sample(dut, where)
        if offering and ev_ready:
            if last:
                timing["eos_with_last_event" if early_eos else "eos_after_last_event"] += 1
            idx += 1
            offering = False
        elif offering:
            timing["events_not_ready"] += 1
        if valid and ready:
            take_word(dut, p, fired, diffs, t)
        if dut.done.value.is_resolvable and int(dut.done.value) == 1:
            break
        await RisingEdge(dut.clk)
        edges += 1
        if edges >= trace["step_guard"]:
            diffs["timeout"] = t
            note(diffs, f"{where}: done never rose within {trace['step_guard']:,} cycles ({idx} of {len(events)} "
                        f"events taken, spikes so far {sorted(fired)})")
            return None
    if hasattr(dut, "error") and str(dut.error.value) != "0":  # the engine never sends an out-of-range event
        diffs["error_flag"] += 1
        note(diffs, f"{where}: the error flag is {dut.error.value} (the engine's events are all in range)")
    value = dut.cycles.value
    cycles = value.to_unsigned() if value.is_resolvable else None
    if cycles is None:
        diffs["unknown_values"] += 1
        note(diffs, f"{where}: cycles {value} has X/Z bits")
    # drain spikes still queued after done
    while True:
        await FallingEdge(dut.clk)
        dut.eos.value = 0
        dut.events__valid.value = 0
        await mon.probe(dut, where, 1)
        await ReadOnly()
        valid, _, _ = mon.sample(dut, where)
        if not valid:
            break
        timing["spikes_after_done"] += 1
        take_word(dut, p, fired, diffs, t)
        await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.spikes__ready.value = 0
    return fired, cycles


async def membranes(dut, p, diffs):
    out = []
    for c in range(p["chunks"]):
        await FallingEdge(dut.clk)
        dut.dbg_addr.value = c
        await RisingEdge(dut.clk)
        await ReadOnly()
        value = dut.dbg_v.value
        if not value.is_resolvable:
            diffs["unknown_values"] += 1
            note(diffs, f"membranes: chunk {c} reads {value} (X/Z bits)")
            out += [None] * p["lanes"]
            continue
        out += unpack_signed(value.to_unsigned(), p["membrane_bits"], p["lanes"])
    return out[:p["neurons"]]


async def run_trace(dut, job, p, k, trace, diffs, mon, timing):
    rng = random.Random(trace["seed"])
    trace = {**trace, "index": k, "step_guard": job.get("step_guard") or STEP_GUARD}
    if not job.get("baked"):  # a baked program is already in the memories
        await load(dut, p, trace["program"])
    for t, events in enumerate(trace["events"]):
        got = await step(dut, p, events, rng, trace, t, diffs, mon, timing)
        if got is None:
            return
        fired, cycles = got
        want = [n for n, s in enumerate(trace["spikes"][t]) if s]
        count, missing, extra = spike_difference(fired, want)
        if count:
            diffs["spikes"] += count
            note(diffs, f"step {t}: spikes {sorted(fired)} != engine {want} (missing {missing}, extra {extra})")
        if cycles is not None and cycles != trace["cycles"][t]:
            diffs["cycles"] += 1
            note(diffs, f"step {t}: {cycles} cycles != engine {trace['cycles'][t]}")
    got_v = await membranes(dut, p, diffs)
    mask = (1 << p["membrane_bits"]) - 1
    diffs["membrane_bits"] = sum(bin((a ^ b) & mask).count("1") for a, b in zip(got_v, trace["membranes"])
                                 if a is not None)
    if diffs["membrane_bits"]:
        note(diffs, f"membranes {got_v} != engine {trace['membranes']}")


@cocotb.test()
async def test_traces(dut):
    with open(os.environ["NEUROSIM_CORE_JOB"]) as fh:
        job = json.load(fh)
    p = job["params"]
    Clock(dut.clk, 10, unit="ns").start()
    dut.rst.value = 1
    zero_inputs(dut)
    await ClockCycles(dut.clk, 2)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    report = new_report(traces=[])
    mon = Protocol(report, job.get("probe_seed", 0))
    try:
        for k, trace in enumerate(job["traces"]):
            diffs = {"spikes": 0, "cycles": 0, "membrane_bits": 0, "unknown_values": 0, "error_flag": 0, "timeout": None,
                     "first": None}
            report["traces"].append(diffs)
            await run_trace(dut, job, p, k, trace, diffs, mon, report["timing"])
            if diffs["timeout"] is not None:
                break  # the core's state is unknown: later traces would only repeat the failure
    finally:
        with open(os.environ["NEUROSIM_CORE_OUT"], "w") as fh:
            json.dump(report, fh)
    bad = [(k, d) for k, d in enumerate(report["traces"])
           if d["spikes"] or d["cycles"] or d["membrane_bits"] or d["unknown_values"] or d["error_flag"]
           or d["timeout"] is not None]
    assert not bad, (f"{len(bad)} of {len(report['traces'])} traces differ from the engine; first: trace {bad[0][0]}: "
                     f"{bad[0][1]['first']}")
    assert not report["protocol"], f"{report['protocol']} stream protocol violations; first: {report['protocol_first']}"
