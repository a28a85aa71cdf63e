"""cocotb testbench of the multi-core top (``neurosim/targets/neuromorphic/hdl/top.py``): a whole model in RTL.

The job file (``$NEUROSIM_TOP_JOB``) gives, per timestep, the external input events and the
engine's per-core cycle counts and spiking neurons (global source indices), and the engine's
final membranes per core. Input events are offered with random gaps (a word once offered stays
offered until it is taken; ``eos`` sometimes rises with the last event) and the spike tap is read
with random back-pressure.

Comparison: per timestep the multiset of spiking neurons (a duplicated or a missing spike is a
difference), every core's cycle count, and at the end every membrane bit; a value with X or Z
bits counts as a difference, never as a crash. The report is written whatever happens (also
when a step times out), and the first difference names the timestep with the engine's and the
RTL's full values.

Stream protocol, checked on the spike tap (the top is its source): ``valid`` held with a stable
payload until the handshake, no X on ``valid``/``ready``, and ``valid`` independent of ``ready``
(on a sample of cycles ``ready`` is toggled for a picosecond each way and ``valid`` read back);
on ``events`` (the bench is the source) the top's ``ready`` must never be X. Violations are
counted (``protocol``) and fail the test. ``timing`` counts the back-pressure and end-of-step
situations the run went through (coverage).
"""

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, RisingEdge

from neurosim.targets.neuromorphic.monitor import Protocol, new_report, note, spike_difference

#: every input a top (of any generation) may have; the ones the dut lacks are skipped
INPUTS = ("start", "eos", "clear", "events__valid", "events__payload", "spikes__ready", "dbg_core", "dbg_addr",
          "cfg_en", "cfg_core", "cfg_mem", "cfg_addr", "cfg_data")
STEP_GUARD = 200_000


@cocotb.test()
async def test_model(dut):
    with open(os.environ["NEUROSIM_TOP_JOB"]) as fh:
        job = json.load(fh)
    rng = random.Random(job["seed"])
    cores = job["cores"]  # [{"base", "lanes", "chunks", "neurons", "membrane_bits"}]
    lanes_max, chunk_bits = job["lanes_max"], job["chunk_bits"]
    Clock(dut.clk, 10, unit="ns").start()
    dut.rst.value = 1
    for name in INPUTS:
        if hasattr(dut, name):
            getattr(dut, name).value = 0
    await ClockCycles(dut.clk, 2)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    diffs = new_report(spikes=0, cycles=0, membrane_bits=0, unknown_values=0, error_flag=0, timeout=None,
                       first=None)
    mon = Protocol(diffs, job["seed"] + 1)
    try:
        await _run_steps(dut, job, rng, cores, lanes_max, chunk_bits, diffs, mon)
        if diffs["timeout"] is None:
            await _read_membranes(dut, job, cores, diffs)
    finally:
        with open(os.environ["NEUROSIM_TOP_OUT"], "w") as fh:
            json.dump(diffs, fh)
    assert not (diffs["spikes"] or diffs["cycles"] or diffs["membrane_bits"] or diffs["unknown_values"]
                or diffs["error_flag"] or diffs["timeout"] is not None), diffs["first"]
    assert not diffs["protocol"], f"{diffs['protocol']} stream protocol violations; first: {diffs['protocol_first']}"


def _take(dut, t, cores, lanes_max, chunk_bits, fired, diffs):
    if not dut.spikes__payload.value.is_resolvable:
        diffs["unknown_values"] += 1
        note(diffs, f"step {t}: spike word {dut.spikes__payload.value} has X/Z bits")
        return
    word = dut.spikes__payload.value.to_unsigned()
    mask = word & ((1 << lanes_max) - 1)
    chunk = (word >> lanes_max) & ((1 << chunk_bits) - 1)
    core = word >> (lanes_max + chunk_bits)
    if core >= len(cores):
        diffs["spikes"] += 1
        note(diffs, f"step {t}: spike word {word:#x} names core {core}, the top has {len(cores)}")
        return
    c = cores[core]
    fired += [c["base"] + chunk * c["lanes"] + lane for lane in range(lanes_max) if mask >> lane & 1]


async def _run_steps(dut, job, rng, cores, lanes_max, chunk_bits, diffs, mon):
    timing = diffs["timing"]
    for t, step in enumerate(job["steps"]):
        early_eos = rng.random() < 0.5
        await FallingEdge(dut.clk)
        dut.start.value = 1
        await RisingEdge(dut.clk)
        events, idx, offering, fired, guard = step["events"], 0, False, [], 0
        mon.held = None
        where = f"step {t}"
        while True:
            await FallingEdge(dut.clk)
            dut.start.value = 0
            if not offering and idx < len(events):
                offering = rng.random() >= job["gap"]  # once offered, a word stays offered until taken
                timing["event_gaps"] += int(not offering)
            last = offering and idx == len(events) - 1
            dut.events__valid.value = int(offering)
            dut.events__payload.value = events[idx] if idx < len(events) else 0
            dut.eos.value = int(idx >= len(events) or (early_eos and last))
            await mon.probe(dut, where, int(rng.random() >= job["stall"]))
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
                _take(dut, t, cores, lanes_max, chunk_bits, fired, diffs)
            done = dut.done.value
            if done.is_resolvable and int(done) == 1 and idx >= len(events):
                break
            await RisingEdge(dut.clk)
            guard += 1
            if guard >= STEP_GUARD:
                diffs["timeout"] = t
                note(diffs, f"step {t}: done never rose within {STEP_GUARD:,} cycles ({idx} of {len(events)} "
                             f"events taken, spikes so far {sorted(fired)})")
                return
        if hasattr(dut, "error") and str(dut.error.value) != "0":  # the engine's events are all in range
            diffs["error_flag"] += 1
            note(diffs, f"step {t}: the error flag is {dut.error.value} (the engine's events are all in range)")
        if not dut.core_cycles.value.is_resolvable:
            diffs["unknown_values"] += 1
            note(diffs, f"step {t}: core_cycles {dut.core_cycles.value} has X/Z bits")
        else:
            got_cycles = dut.core_cycles.value.to_unsigned()
            got = [(got_cycles >> (32 * i)) & 0xFFFFFFFF for i in range(len(cores))]
            bad = [i for i, want in enumerate(step["cycles"]) if got[i] != want]
            diffs["cycles"] += len(bad)
            if bad:
                note(diffs, f"step {t}: cycles per core {got} != engine {step['cycles']}")
        # spike words still in the tap after done belong to this step
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
            _take(dut, t, cores, lanes_max, chunk_bits, fired, diffs)
            await RisingEdge(dut.clk)
        count, missing, extra = spike_difference(fired, step["spikes"])
        if count:
            diffs["spikes"] += count
            note(diffs, f"step {t}: spikes {sorted(fired)} != engine {sorted(step['spikes'])} "
                         f"(missing {missing}, extra {extra})")
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
                note(diffs, f"core {i} chunk {chunk}: membrane word {dut.dbg_v.value} has X/Z bits")
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
            note(diffs, f"core {i} membranes {got} != engine {job['membranes'][i]}")
