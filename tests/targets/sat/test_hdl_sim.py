"""Unit tests of the SAT array's stall logic, skid buffer and dense-bit sampling in amaranth.sim.

No external simulator: amaranth's own simulator runs the array component directly, a cycle at a
time. Expected outputs come from numpy (``neurosim.targets.sat.verify.expected``), cycle counts
from the tile model (``tile_cycles``), never from the RTL; each check also runs on the mutant it
is meant to catch, so none of them can pass vacuously.
"""

import numpy as np
import pytest
from amaranth.sim import Simulator

from neurosim.targets.sat.hdl.array import SATArray, pack_act_beat, pack_weight_beat, unpack_out_beat
from neurosim.targets.sat.hdl.config import SATConfig
from neurosim.targets.sat.model.tile import tile_cycles
from neurosim.targets.sat.verify import SATTile, expected, make_tile

pytestmark = pytest.mark.filterwarnings("ignore:.*created but never used")


def simulate(cfg, tile, ready, mutate=None, agap=()):
    """Run one tile through ``SATArray(cfg, mutate)``: ``ready(cycle)`` is the sink's ready,
    activation beats are withheld in the cycles of ``agap``. Returns the output beats, the
    cycles from the first weight handshake to the last output handshake, and a list of the
    stream-rule breaks seen (a refused beat that vanished or changed, an output that moved when
    ``out.ready`` was toggled)."""
    dut = SATArray(cfg, mutate=mutate)
    weights = [pack_weight_beat(cfg, tile.values[r], tile.offsets[r], d) for r, d in enumerate(tile.beat_dense())]
    acts = [pack_act_beat(cfg, tile.x[i], i == tile.t - 1) for i in range(tile.t)]
    res = {"y": [], "cycles": None, "breaks": []}

    async def bench(ctx):
        wb = ab = 0
        held = None  # the refused output beat of the last cycle
        first = None
        for cycle in range(200 + 4 * tile.t):
            ctx.set(dut.weights.valid, wb < len(weights))
            ctx.set(dut.weights.payload.as_value(), weights[wb] if wb < len(weights) else 0)
            offer = ab < len(acts) and cycle not in agap
            ctx.set(dut.acts.valid, offer)
            ctx.set(dut.acts.payload.as_value(), acts[ab] if offer else 0)
            seen = []
            for level in (1, 0):  # valid and payload must not follow ready within the cycle
                ctx.set(dut.out.ready, level)
                seen.append((ctx.get(dut.out.valid), ctx.get(dut.out.payload.as_value()), ctx.get(dut.acts.ready)))
            if seen[0] != seen[1]:
                res["breaks"].append(f"cycle {cycle}: outputs follow out.ready {seen}")
            r = ready(cycle)
            ctx.set(dut.out.ready, r)
            valid, payload = ctx.get(dut.out.valid), ctx.get(dut.out.payload.as_value())
            if held is not None and (not valid or payload != held):
                res["breaks"].append(f"cycle {cycle}: refused beat {held:#x} became valid={valid} {payload:#x}")
            held = payload if valid and not r else None
            if ctx.get(dut.weights.ready) and wb < len(weights):
                first = cycle if wb == 0 else first
                wb += 1
            if offer and ctx.get(dut.acts.ready):
                ab += 1
            if valid and r:
                ys, last = unpack_out_beat(cfg, payload)
                res["y"].append(ys)
                if last:
                    res["cycles"] = cycle - first + 1
                    return
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return res


CFG = SATConfig(rows=2, cols=2, n=2, m=4, act_bits=4, weight_bits=4)


def tile_of(cfg, seed, t, sparse=True):
    return make_tile(cfg, np.random.default_rng(seed), sparse=sparse, t=t)


def test_unstalled_tile_keeps_the_contract():
    tile = tile_of(CFG, 0, 5)
    res = simulate(CFG, tile, lambda c: 1)
    assert res["y"] == expected(CFG, tile).tolist() and not res["breaks"]
    assert res["cycles"] == tile_cycles(CFG.rows, CFG.cols, tile.t)


@pytest.mark.parametrize("pattern", ["single", "runs", "every_other"])
def test_skid_buffer_keeps_every_beat_and_counts_one_cycle_per_refusal(pattern):
    """Output back-pressure: every refused beat is kept (valid held, payload unchanged), the
    outputs never follow out.ready within a cycle, and each refusal costs exactly one cycle."""
    tile = tile_of(CFG, 1, 8)
    refuse = {"single": {6}, "runs": {5, 6, 7, 9, 10}, "every_other": set(range(4, 30, 2))}[pattern]
    refusals = []

    def ready(c):
        return int(c not in refuse)

    res = simulate(CFG, tile, ready)
    assert res["y"] == expected(CFG, tile).tolist() and not res["breaks"], res["breaks"]
    start = CFG.rows + CFG.latency  # the first output beat is offered in this cycle
    beat, c = 0, start
    while beat < tile.t:  # the sink side alone: a beat is offered every cycle from `start` on
        if ready(c):
            beat += 1
        else:
            refusals.append(c)
        c += 1
    assert res["cycles"] == tile_cycles(CFG.rows, CFG.cols, tile.t) + len(refusals)


def test_activation_gap_is_a_bubble():
    """An activation beat withheld while the array is ready costs one cycle and no output."""
    tile = tile_of(CFG, 2, 6)
    gaps = (CFG.rows + 1, CFG.rows + 3)  # cycles of the stream phase
    res = simulate(CFG, tile, lambda c: 1, agap=gaps)
    assert res["y"] == expected(CFG, tile).tolist() and not res["breaks"]
    assert res["cycles"] == tile_cycles(CFG.rows, CFG.cols, tile.t) + len(gaps)


@pytest.mark.parametrize("mutate", ["valid_dropped", "payload_unstable", "stall_from_ready_pin", "duplicate_beat"])
def test_skid_mutants_break_the_checks(mutate):
    tile = tile_of(CFG, 1, 8)
    res = simulate(CFG, tile, lambda c: int(c not in {5, 6, 7, 9}), mutate=mutate)
    assert res["breaks"] or res["y"] != expected(CFG, tile).tolist()


@pytest.mark.parametrize("sparse", [True, False])
def test_dense_bit_is_sampled_on_the_first_weight_beat(sparse):
    """Beat 0 carries the tile's mode, every later beat the opposite bit: only beat 0 counts,
    and sampling it on the last beat (the ``dense_last_beat`` mutant) gives the other mode's sums."""
    base = tile_of(CFG, 3, 3, sparse=sparse)
    tile = SATTile(values=base.values, offsets=base.offsets, dense=base.dense, x=base.x,
                   later_dense=(sparse,) * (CFG.rows - 1))
    want = expected(CFG, tile).tolist()
    assert simulate(CFG, tile, lambda c: 1)["y"] == want
    other = SATTile(values=base.values, offsets=base.offsets, dense=not base.dense, x=base.x)
    assert expected(CFG, other).tolist() != want  # the two modes differ on this tile
    assert simulate(CFG, tile, lambda c: 1, mutate="dense_last_beat")["y"] == expected(CFG, other).tolist()
