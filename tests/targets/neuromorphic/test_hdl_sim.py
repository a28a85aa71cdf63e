"""Fast unit tests of the core with ``amaranth.sim`` (no external simulator): the handshake that
ends a core's timestep.

The multi-core top treats a core as finished when its ``idle`` output is high. ``idle`` must
never be high while a spike word is still on its way out -- the queue's output register shows a
word one cycle after ``done`` may rise, which once let the top end a step before the output
core's last spike word was routed.
"""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from neurosim.targets.neuromorphic.hdl.config import CoreConfig, CoreProgram
from neurosim.targets.neuromorphic.hdl.core import NeuromorphicCore


def _program(cfg: CoreConfig, fire_last_chunk: bool) -> CoreProgram:
    """Neurons that fire on any input event: all of them, or only those of the last chunk."""
    w = np.zeros((cfg.axons, cfg.neurons), dtype=np.int64)
    first = (cfg.chunks - 1) * cfg.lanes if fire_last_chunk else 0
    w[:, first:] = 3
    return CoreProgram(weights=w, bias=np.zeros(cfg.neurons, dtype=np.int64),
                       threshold=np.ones(cfg.neurons, dtype=np.int64), v_reset=np.zeros(cfg.neurons, dtype=np.int64))


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

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert not violations, violations
    assert idle_seen, "idle never rose"
    fired_chunks = {cfg.chunks - 1} if last_only else set(range(cfg.chunks))
    assert len(words) == len(fired_chunks), f"idle rose after {len(words)} of {len(fired_chunks)} spike words"
