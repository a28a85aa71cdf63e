"""cocotb testbench of the generated neuromorphic core (``neurosim/targets/neuromorphic/hdl/core.py``).

The job file named by ``$NEUROSIM_CORE_JOB`` holds the core's parameters and a list of traces,
each with the program to load (weights, biases, thresholds, reset values), the events of every
timestep and the **engine's** expected spikes, cycle counts and final membranes; nothing is
recomputed here. Inputs are driven with random gaps and the spike output with random
back-pressure (seeded per trace). Differences are written to ``$NEUROSIM_CORE_OUT`` and fail the
test: zero differing spikes, membrane bits and cycles is the only pass.
"""

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, RisingEdge

CFG_WEIGHTS, CFG_V, CFG_BIAS, CFG_THRESHOLD, CFG_V_RESET, CFG_ACC, CFG_ROWPTR = 0, 1, 2, 3, 4, 5, 6


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


async def step(dut, p, events, rng, gap, stall):
    """One timestep: returns (spiking neuron indices, counted cycles)."""
    await FallingEdge(dut.clk)
    dut.start.value = 1
    await RisingEdge(dut.clk)
    idx, fired, edges = 0, [], 0
    while True:
        await FallingEdge(dut.clk)
        dut.start.value = 0
        offer = idx < len(events) and rng.random() >= gap
        dut.events__valid.value = int(offer)
        dut.events__payload.value = events[idx] if idx < len(events) else 0
        dut.eos.value = int(idx >= len(events))
        dut.spikes__ready.value = int(rng.random() >= stall)
        await ReadOnly()
        if offer and dut.events__ready.value == 1:
            idx += 1
        if dut.spikes__valid.value == 1 and dut.spikes__ready.value == 1:
            word = dut.spikes__payload.value.to_unsigned()
            chunk, mask = word >> p["lanes"], word & ((1 << p["lanes"]) - 1)
            fired += [chunk * p["lanes"] + lane for lane in range(p["lanes"]) if mask >> lane & 1]
        if dut.done.value == 1:
            break
        await RisingEdge(dut.clk)
        edges += 1
        assert edges < 1_000_000, "timeout: the core never finished the step"
    cycles = int(dut.cycles.value)
    # drain spikes still queued after done
    while True:
        await FallingEdge(dut.clk)
        dut.eos.value = 0
        dut.events__valid.value = 0
        dut.spikes__ready.value = 1
        await ReadOnly()
        if dut.spikes__valid.value != 1:
            break
        word = dut.spikes__payload.value.to_unsigned()
        chunk, mask = word >> p["lanes"], word & ((1 << p["lanes"]) - 1)
        fired += [chunk * p["lanes"] + lane for lane in range(p["lanes"]) if mask >> lane & 1]
        await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.spikes__ready.value = 0
    return sorted(fired), cycles


async def membranes(dut, p):
    out = []
    for c in range(p["chunks"]):
        await FallingEdge(dut.clk)
        dut.dbg_addr.value = c
        await RisingEdge(dut.clk)
        await ReadOnly()
        out += unpack_signed(dut.dbg_v.value.to_unsigned(), p["membrane_bits"], p["lanes"])
    return out[:p["neurons"]]


@cocotb.test()
async def test_traces(dut):
    with open(os.environ["NEUROSIM_CORE_JOB"]) as fh:
        job = json.load(fh)
    p = job["params"]
    Clock(dut.clk, 10, unit="ns").start()
    dut.rst.value = 1
    for name in ("start", "eos", "events__valid", "events__payload", "spikes__ready", "cfg_en", "cfg_mem",
                 "cfg_addr", "cfg_data", "dbg_addr"):
        getattr(dut, name).value = 0
    await ClockCycles(dut.clk, 2)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    report = []
    for k, trace in enumerate(job["traces"]):
        rng = random.Random(trace["seed"])
        if not job.get("baked"):  # a baked program is already in the memories
            await load(dut, p, trace["program"])
        diffs = {"spikes": 0, "cycles": 0, "membrane_bits": 0, "first": None}
        for t, events in enumerate(trace["events"]):
            fired, cycles = await step(dut, p, events, rng, trace["gap"], trace["stall"])
            want = [n for n, s in enumerate(trace["spikes"][t]) if s]
            if fired != want:
                diffs["spikes"] += len(set(fired) ^ set(want))
                diffs["first"] = diffs["first"] or f"step {t}: spikes {fired} != engine {want}"
            if cycles != trace["cycles"][t]:
                diffs["cycles"] += 1
                diffs["first"] = diffs["first"] or f"step {t}: {cycles} cycles != engine {trace['cycles'][t]}"
        got_v = await membranes(dut, p)
        mask = (1 << p["membrane_bits"]) - 1
        diffs["membrane_bits"] = sum(bin((a ^ b) & mask).count("1") for a, b in zip(got_v, trace["membranes"]))
        if diffs["membrane_bits"] and not diffs["first"]:
            diffs["first"] = f"membranes {got_v} != engine {trace['membranes']}"
        report.append(diffs)
    with open(os.environ["NEUROSIM_CORE_OUT"], "w") as fh:
        json.dump(report, fh)
    bad = [(k, d) for k, d in enumerate(report) if d["spikes"] or d["cycles"] or d["membrane_bits"]]
    assert not bad, f"{len(bad)} of {len(report)} traces differ from the engine; first: trace {bad[0][0]}: {bad[0][1]['first']}"
