"""cocotb testbench of the generated SAT PE array (``neurosim/targets/sat/hdl/array.py``).

The job file named by ``$NEUROSIM_SAT_JOB`` holds the array's parameters and a list of tiles,
each with its packed weight and activation beats, **numpy's** output beats and the **cycle
model's** ``tile_cycles``; nothing is recomputed here. All tiles run back to back through one
cycle-by-cycle loop: the weights of the next tile are offered as soon as the previous tile's are
taken (the array must not take them before its last output beat), activation beats with random
gaps, the output with random back-pressure, and garbage payloads whenever valid is low.

The testbench counts the stall cycles it causes, per tile (the tile in progress runs from its
first weight handshake to its last output handshake):

* a weight beat is due (after the tile's first one) and not offered,
* an activation beat is due (all weights taken, ``last`` not yet taken) and not offered,
* the output beat is valid and ``ready`` is low;

one cycle per cycle in which any of them holds. A tile must take exactly ``tile_cycles + stalls``
cycles, and the next tile's first weight beat, when offered, must be taken in the cycle right
after the previous tile's last output beat. Outputs are compared bit for bit (and the ``last``
flag). The report goes to ``$NEUROSIM_SAT_OUT``; zero differing bits and cycles is the only pass.
"""

import json
import os
import random
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly


def unpack_out(word, cols, bits):
    ys = []
    for c in range(cols):
        v = (word >> (c * bits)) & ((1 << bits) - 1)
        ys.append(v - (1 << bits) if v >> (bits - 1) else v)
    return ys, (word >> (cols * bits)) & 1


@cocotb.test()
async def test_tiles(dut):
    job = json.loads(Path(os.environ["NEUROSIM_SAT_JOB"]).read_text())
    p, tiles = job["params"], job["tiles"]
    rows, cols, acc = p["rows"], p["cols"], p["acc_bits"]
    mask = (1 << acc) - 1
    rng = random.Random(job["seed"])
    n_tiles = len(tiles)

    Clock(dut.clk, 10, unit="ns").start()
    dut.rst.value = 1
    for name in ("weights__valid", "weights__payload", "acts__valid", "acts__payload", "out__ready"):
        getattr(dut, name).value = 0
    await ClockCycles(dut.clk, 2)
    await FallingEdge(dut.clk)
    dut.rst.value = 0

    report = [{"bits": 0, "cycles": 0, "stalls": 0, "measured": None, "first": None} for _ in tiles]
    first = None
    wt = wbeat = at = abeat = ot = obeat = 0  # next tile/beat of each stream
    first_w = [None] * n_tiles
    last_out = [None] * n_tiles
    boundary = extra_bits = 0
    limit = 2000 + 40 * sum(t["cycles"] + 2 * len(t["acts"]) + rows for t in tiles)
    cycle = 0
    while ot < n_tiles and cycle < limit:
        # -- drive (just after the falling edge) ------------------------------------------------------
        w_offer = wt < n_tiles and rng.random() >= tiles[wt]["wgap"]
        dut.weights__valid.value = int(w_offer)
        dut.weights__payload.value = tiles[wt]["weights"][wbeat] if w_offer else rng.getrandbits(p["weight_payload_bits"])
        a_offer = at < n_tiles and rng.random() >= tiles[at]["agap"]
        dut.acts__valid.value = int(a_offer)
        dut.acts__payload.value = tiles[at]["acts"][abeat] if a_offer else rng.getrandbits(p["act_payload_bits"])
        ready = rng.random() >= tiles[min(ot, n_tiles - 1)]["stall"]
        dut.out__ready.value = int(ready)
        await ReadOnly()
        w_hs = w_offer and dut.weights__ready.value == 1
        a_hs = a_offer and dut.acts__ready.value == 1
        o_valid = dut.out__valid.value == 1

        # -- stall accounting, from the state at the start of this cycle -----------------------------
        in_tile = first_w[ot] is not None or (w_hs and wt == ot)
        if in_tile:
            w_due = wt == ot and wbeat > 0
            a_due = wt > ot and at == ot
            if (w_due and not w_offer) or (a_due and not a_offer) or (o_valid and not ready):
                report[ot]["stalls"] += 1
        elif ot > 0 and last_out[ot - 1] is not None and w_offer and wt == ot and not w_hs:
            boundary += 1  # the next tile's weights offered after the last output, but not taken
            first = first or f"cycle {cycle}: tile {ot}'s first weight beat offered after tile {ot - 1} ended, not taken"

        # -- handshakes --------------------------------------------------------------------------------
        if w_hs:
            if wbeat == 0:
                first_w[wt] = cycle
            wbeat += 1
            if wbeat == rows:
                wt, wbeat = wt + 1, 0
        if a_hs:
            abeat += 1
            if abeat == len(tiles[at]["acts"]):
                at, abeat = at + 1, 0
        if o_valid and ready:
            got, got_last = unpack_out(dut.out__payload.value.to_unsigned(), cols, acc)
            if ot < n_tiles:
                tile = tiles[ot]
                want = tile["y"][obeat]
                want_last = int(obeat == len(tile["acts"]) - 1)
                bits = sum(((g ^ w) & mask).bit_count() for g, w in zip(got, want)) + (got_last != want_last)
                if bits:
                    report[ot]["bits"] += bits
                    report[ot]["first"] = report[ot]["first"] or (
                        f"tile {ot} ({tile['kind']}, {'dense' if tile['dense'] else 'sparse'}) beat {obeat}: "
                        f"y {got} last {got_last} != numpy {want} last {want_last}")
                obeat += 1
                if obeat == len(tile["acts"]):
                    last_out[ot] = cycle
                    measured = cycle - first_w[ot] + 1 if first_w[ot] is not None else -1
                    want_cycles = tile["cycles"] + report[ot]["stalls"]
                    report[ot]["measured"] = measured
                    if measured != want_cycles:
                        report[ot]["cycles"] = 1
                        report[ot]["first"] = report[ot]["first"] or (
                            f"tile {ot} (t={len(tile['acts'])}): {measured} cycles != tile_cycles {tile['cycles']} "
                            f"+ {report[ot]['stalls']} stalls")
                    ot, obeat = ot + 1, 0
            else:
                extra_bits += 1
        cycle += 1
        await FallingEdge(dut.clk)

    missing = sum(len(t["acts"]) for t in tiles[ot:]) - obeat if ot < n_tiles else 0
    firsts = [d["first"] for d in report if d["first"]]
    first = first or (firsts[0] if firsts else None)
    if missing:
        first = first or f"timeout after {cycle} cycles: {missing} output beats never came (tile {ot}, beat {obeat})"
    out = {"tiles": report, "boundary": boundary, "missing_beats": missing, "extra_bits": extra_bits, "first": first,
           "cycles": cycle}
    Path(os.environ["NEUROSIM_SAT_OUT"]).write_text(json.dumps(out))
    bad = sum(1 for d in report if d["bits"] or d["cycles"])
    assert not (bad or boundary or missing or extra_bits), f"{bad} of {n_tiles} tiles differ; first: {first}"
