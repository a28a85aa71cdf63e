"""cocotb testbench of the multi-core top (``neurosim/targets/neuromorphic/hdl/top.py``): a whole model in RTL.

The job file (``$NEUROSIM_TOP_JOB``) gives, per timestep, the external input events and the
engine's per-core cycle counts and spiking neurons (global source indices), and the engine's
final membranes per core. The spike tap is read with random back-pressure.
"""

import json
import os
import random

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
    diffs = {"spikes": 0, "cycles": 0, "membrane_bits": 0, "first": None}
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
            assert guard < 200_000, f"timeout in step {t}"
        got_cycles = dut.core_cycles.value.to_unsigned()
        diffs.setdefault("log", []).append({"step": t, "cycles": [(got_cycles >> (32 * i)) & 0xFFFFFFFF for i in range(len(cores))],
                                            "want": step["cycles"], "spikes": len(fired), "want_spikes": len(step["spikes"])})
        for i, want in enumerate(step["cycles"]):
            got = (got_cycles >> (32 * i)) & 0xFFFFFFFF
            if got != want:
                diffs["cycles"] += 1
                diffs["first"] = diffs["first"] or f"step {t} core {i}: {got} cycles != engine {want}"
        if sorted(fired) != sorted(step["spikes"]):
            diffs["spikes"] += len(set(fired) ^ set(step["spikes"]))
            diffs["first"] = diffs["first"] or f"step {t}: spikes {sorted(fired)[:10]} != engine {sorted(step['spikes'])[:10]}"
        await FallingEdge(dut.clk)
        dut.eos.value = 0
        dut.spikes__ready.value = 0
    for i, c in enumerate(cores):
        got = []
        for chunk in range(c["chunks"]):
            await FallingEdge(dut.clk)
            dut.dbg_core.value, dut.dbg_addr.value = i, chunk
            await RisingEdge(dut.clk)
            await ReadOnly()
            word = dut.dbg_v.value.to_unsigned()
            w = c["membrane_bits"]
            for lane in range(c["lanes"]):
                v = (word >> (lane * w)) & ((1 << w) - 1)
                got.append(v - (1 << w) if v >> (w - 1) else v)
        got = got[:c["neurons"]]
        mask = (1 << c["membrane_bits"]) - 1
        bits = sum(bin((a ^ b) & mask).count("1") for a, b in zip(got, job["membranes"][i]))
        if bits:
            diffs["membrane_bits"] += bits
            diffs["first"] = diffs["first"] or f"core {i} membranes {got[:8]} != engine {job['membranes'][i][:8]}"
    with open(os.environ["NEUROSIM_TOP_OUT"], "w") as fh:
        json.dump(diffs, fh)
    assert not (diffs["spikes"] or diffs["cycles"] or diffs["membrane_bits"]), diffs["first"]
