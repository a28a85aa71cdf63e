"""cocotb testbench of the multi-core top (``neurosim/targets/neuromorphic/hdl/top.py``): a whole model in RTL.

The job file (``$NEUROSIM_TOP_JOB``) gives, per timestep, the external input events and the
engine's per-core cycle counts and spiking neurons (global source indices), and the engine's
final membranes per core. The spike tap is read with random back-pressure.

Comparison: per timestep the multiset of spiking neurons (a duplicated or a missing spike is a
difference), every core's cycle count, and at the end every membrane bit; a value with X or Z
bits counts as a difference, never as a crash. The report is written whatever happens (also
when a step times out), and the first difference names the timestep with the engine's and the
RTL's full values.
"""

import json
import os
import random
from collections import Counter

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, RisingEdge


@cocotb.test()
async def test_model(dut):
    with open(os.environ["NEUROSIM_TOP_JOB"]) as fh:
        job = json.load(fh)
    rng = random.Random(job["seed"])
    cores = job["cores"]  # [{"base", "lanes", "chunks", "neurons", "membrane_bits"}]
    lanes_max, chunk_bits = job["lanes_max"], job["chunk_bits"]
    Clock(dut.clk, 10, unit="ns").start()
    dut.rst.value = 1
    for name in ("start", "eos", "events__valid", "events__payload", "spikes__ready", "dbg_core", "dbg_addr"):
        getattr(dut, name).value = 0
    await ClockCycles(dut.clk, 2)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    diffs = {"spikes": 0, "cycles": 0, "membrane_bits": 0, "unknown_values": 0, "timeout": None, "first": None}
    try:
        await _run_steps(dut, job, rng, cores, lanes_max, chunk_bits, diffs)
        if diffs["timeout"] is None:
            await _read_membranes(dut, job, cores, diffs)
    finally:
        with open(os.environ["NEUROSIM_TOP_OUT"], "w") as fh:
            json.dump(diffs, fh)
    assert not (diffs["spikes"] or diffs["cycles"] or diffs["membrane_bits"] or diffs["unknown_values"]
                or diffs["timeout"]), diffs["first"]


def _note(diffs, text):
    diffs["first"] = diffs["first"] or text


async def _run_steps(dut, job, rng, cores, lanes_max, chunk_bits, diffs):
    for t, step in enumerate(job["steps"]):
        await FallingEdge(dut.clk)
        dut.start.value = 1
        await RisingEdge(dut.clk)
        events, idx, fired, guard = step["events"], 0, [], 0
        while True:
            await FallingEdge(dut.clk)
            dut.start.value = 0
            offer = idx < len(events) and rng.random() >= job["gap"]
            dut.events__valid.value = int(offer)
            dut.events__payload.value = events[idx] if idx < len(events) else 0
            dut.eos.value = int(idx >= len(events))
            dut.spikes__ready.value = int(rng.random() >= job["stall"])
            await ReadOnly()
            if offer and dut.events__ready.value == 1:
                idx += 1
            if dut.spikes__valid.value == 1 and dut.spikes__ready.value == 1:
                if not dut.spikes__payload.value.is_resolvable:
                    diffs["unknown_values"] += 1
                    _note(diffs, f"step {t}: spike word {dut.spikes__payload.value} has X/Z bits")
                    await RisingEdge(dut.clk)
                    continue
                word = dut.spikes__payload.value.to_unsigned()
                mask = word & ((1 << lanes_max) - 1)
                chunk = (word >> lanes_max) & ((1 << chunk_bits) - 1)
                core = word >> (lanes_max + chunk_bits)
                c = cores[core]
                fired += [c["base"] + chunk * c["lanes"] + lane for lane in range(lanes_max) if mask >> lane & 1]
            if dut.done.value == 1 and idx >= len(events):
                break
            await RisingEdge(dut.clk)
            guard += 1
            if guard >= 200_000:
                diffs["timeout"] = t
                _note(diffs, f"step {t}: done never rose within 200,000 cycles ({idx} of {len(events)} events taken, "
                             f"spikes so far {sorted(fired)})")
                return
        if not dut.core_cycles.value.is_resolvable:
            diffs["unknown_values"] += 1
            _note(diffs, f"step {t}: core_cycles {dut.core_cycles.value} has X/Z bits")
        else:
            got_cycles = dut.core_cycles.value.to_unsigned()
            got = [(got_cycles >> (32 * i)) & 0xFFFFFFFF for i in range(len(cores))]
            bad = [i for i, want in enumerate(step["cycles"]) if got[i] != want]
            diffs["cycles"] += len(bad)
            if bad:
                _note(diffs, f"step {t}: cycles per core {got} != engine {step['cycles']}")
        missing = Counter(step["spikes"]) - Counter(fired)
        extra = Counter(fired) - Counter(step["spikes"])
        if missing or extra:
            diffs["spikes"] += sum(missing.values()) + sum(extra.values())
            _note(diffs, f"step {t}: spikes {sorted(fired)} != engine {sorted(step['spikes'])} "
                         f"(missing {sorted(missing.elements())}, extra {sorted(extra.elements())})")
        await FallingEdge(dut.clk)
        dut.eos.value = 0
        dut.spikes__ready.value = 0


async def _read_membranes(dut, job, cores, diffs):
    for i, c in enumerate(cores):
        got = []
        for chunk in range(c["chunks"]):
            await FallingEdge(dut.clk)
            dut.dbg_core.value, dut.dbg_addr.value = i, chunk
            await RisingEdge(dut.clk)
            await ReadOnly()
            if not dut.dbg_v.value.is_resolvable:
                diffs["unknown_values"] += 1
                _note(diffs, f"core {i} chunk {chunk}: membrane word {dut.dbg_v.value} has X/Z bits")
                got += [None] * c["lanes"]
                continue
            word = dut.dbg_v.value.to_unsigned()
            w = c["membrane_bits"]
            for lane in range(c["lanes"]):
                v = (word >> (lane * w)) & ((1 << w) - 1)
                got.append(v - (1 << w) if v >> (w - 1) else v)
        got = got[:c["neurons"]]
        mask = (1 << c["membrane_bits"]) - 1
        bits = sum(bin((a ^ b) & mask).count("1") for a, b in zip(got, job["membranes"][i]) if a is not None)
        if bits:
            diffs["membrane_bits"] += bits
            _note(diffs, f"core {i} membranes {got} != engine {job['membranes'][i]}")
