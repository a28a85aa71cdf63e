"""cocotb testbench of the generated SAT PE array (``neurosim/targets/sat/hdl/array.py``).

The job file named by ``$NEUROSIM_SAT_JOB`` holds the array's parameters and a list of tiles,
each with its packed weight and activation beats, **numpy's** output beats and the **cycle
model's** ``tile_cycles``; nothing is recomputed here. All tiles run back to back through one
cycle-by-cycle loop: the weights of the next tile are offered as soon as the previous tile's are
taken (the array must not take them before its last output beat), activation beats with random
gaps, the output with random back-pressure, and garbage payloads whenever valid is low. The
drivers obey the stream rules themselves: a beat once offered stays offered, payload unchanged,
until it is taken.

Cycle accounting. The testbench counts the stall cycles it causes, per tile (the tile in
progress runs from its first weight handshake to its last output handshake), one for each of

* a weight beat is due (after the tile's first one) and not offered (``weights.ready`` is high
  all through the load phase),
* an activation beat is due (all weights taken, ``last`` not yet taken), the array is ready for
  it (``acts.ready``) and it is not offered: the array inserts a bubble,
* the output beat is valid and ``ready`` is low;

the last two can hold in the same cycle (a bubble enters at the top while a beat waits at the
bottom) and then cost two. A tile must take exactly ``tile_cycles + stalls`` cycles, and the
next tile's first weight beat, when offered, must be taken in the cycle right after the previous
tile's last output beat. Outputs are compared bit for bit (and the ``last`` flag).

Stream monitors (every cycle, all three streams): a valid beat that is not taken must stay valid
with the same payload in the next cycle (the array's ``out``; for ``weights``/``acts`` this checks
the drivers); valid and ready are never X/Z after reset and neither is a payload on a handshake
(each counted as a difference, never an exception); and, on a random fraction of the cycles, a
combinational probe: each handshake input the testbench drives (``out.ready``, ``acts.valid``,
``weights.valid``) is set to 1 and to 0 for 1 ps each and every handshake output of the array
(``out.valid``, ``out.payload``, ``acts.ready``, ``weights.ready``) must read the same both
times. ``out.valid`` changing with ``out.ready`` is the stream rule's violation (valid must not
wait for ready); any other change is a combinational path from an input handshake to an output,
which the array's registered outputs and skid buffer exclude. Violations are counted in the
report, the first one described; any of them fails the run.

The report goes to ``$NEUROSIM_SAT_OUT`` (written even when the loop ends on an exception);
zero differing bits, cycles and protocol violations is the only pass. It also carries the run's
coverage events (back-pressure, bubbles, held beats, back-to-back tiles), which
:mod:`neurosim.targets.sat.coverage` turns into bins.
"""

import json
import os
import random
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, Timer

#: the array's handshake outputs the probe reads, and the testbench's inputs it toggles
PROBED_OUTPUTS = ("out__valid", "out__payload", "acts__ready", "weights__ready")
PROBED_INPUTS = ("out__ready", "acts__valid", "weights__valid")


def unpack_out(word, cols, bits):
    ys = []
    for c in range(cols):
        v = (word >> (c * bits)) & ((1 << bits) - 1)
        ys.append(v - (1 << bits) if v >> (bits - 1) else v)
    return ys, (word >> (cols * bits)) & 1


def read(handle):
    """A signal as an int, or None when any bit is X/Z (counted by the caller, never raised)."""
    v = handle.value
    if not v.is_resolvable:
        return None
    return int(v) if len(handle) == 1 else v.to_unsigned()


class Protocol:
    """Counts of stream-rule violations and the first one, described."""

    KINDS = ("valid_dropped", "payload_changed", "valid_on_ready", "comb_path", "xz")

    def __init__(self):
        self.counts = dict.fromkeys(self.KINDS, 0)
        self.first = None
        self.probes = 0
        self.paths = {}  # "output <- input": probes that saw the output follow the input

    def bad(self, kind, text):
        self.counts[kind] += 1
        self.first = self.first or text


async def probe(dut, prot, cycle, driven):
    """Toggle each driven handshake input for 1 ps each way; the array's outputs must not move."""
    prot.probes += 1
    for name in PROBED_INPUTS:
        seen = []
        for level in (1, 0):
            getattr(dut, name).value = level
            await Timer(1, "ps")
            seen.append({o: str(getattr(dut, o).value) for o in PROBED_OUTPUTS})
        getattr(dut, name).value = driven[name]
        await Timer(1, "ps")
        for o in PROBED_OUTPUTS:
            if seen[0][o] != seen[1][o]:
                kind = "valid_on_ready" if (name, o) == ("out__ready", "out__valid") else "comb_path"
                path = f"{o.replace('__', '.')} <- {name.replace('__', '.')}"
                prot.paths[path] = prot.paths.get(path, 0) + 1
                prot.bad(kind, f"cycle {cycle}: {o.replace('__', '.')} follows {name.replace('__', '.')} "
                               f"combinationally ({name.replace('__', '.')}=1 -> {seen[0][o]}, =0 -> {seen[1][o]})")


@cocotb.test()
async def test_tiles(dut):
    job = json.loads(Path(os.environ["NEUROSIM_SAT_JOB"]).read_text())
    out_path = Path(os.environ["NEUROSIM_SAT_OUT"])
    p, tiles = job["params"], job["tiles"]
    rows, cols, acc = p["rows"], p["cols"], p["acc_bits"]
    beat_bits = cols * acc + 1
    mask = (1 << acc) - 1
    rng = random.Random(job["seed"])
    probe_rate = job.get("probe_rate", 0.1)
    n_tiles = len(tiles)

    Clock(dut.clk, 10, unit="ns").start()
    dut.rst.value = 1
    for name in ("weights__valid", "weights__payload", "acts__valid", "acts__payload", "out__ready"):
        getattr(dut, name).value = 0
    await ClockCycles(dut.clk, 2)
    await FallingEdge(dut.clk)
    dut.rst.value = 0

    report = [{"bits": 0, "cycles": 0, "stalls": 0, "measured": None, "first": None} for _ in tiles]
    events = {"refusals": 0, "refusal_runs_2": 0, "last_refused": 0, "bubbles": 0, "acts_held": 0,
              "weight_gaps": 0, "weights_held": 0, "back_to_back": 0, "bubble_and_refusal": 0}
    prot = Protocol()
    first = None
    wt = wbeat = at = abeat = ot = obeat = 0  # next tile/beat of each stream
    first_w = [None] * n_tiles
    last_out = [None] * n_tiles
    boundary = extra_bits = 0
    limit = 2000 + 15 * sum(t["cycles"] + 2 * len(t["acts"]) + rows for t in tiles)
    cycle = 0
    w_offer = a_offer = False  # offered and not yet taken: held (the stream rule)
    prev = {}  # last cycle's valid, ready and payload of each stream, for the hold checks
    run = 0  # consecutive refusals
    try:
        while ot < n_tiles and cycle < limit:
            # -- drive (just after the falling edge); an offered beat stays until it is taken --------
            if not w_offer:
                w_offer = wt < n_tiles and rng.random() >= tiles[wt]["wgap"]
                w_pay = tiles[wt]["weights"][wbeat] if w_offer else rng.getrandbits(p["weight_payload_bits"])
            if not a_offer:
                a_offer = at < n_tiles and rng.random() >= tiles[at]["agap"]
                a_pay = tiles[at]["acts"][abeat] if a_offer else rng.getrandbits(p["act_payload_bits"])
            dut.weights__valid.value = int(w_offer)
            dut.weights__payload.value = w_pay
            dut.acts__valid.value = int(a_offer)
            dut.acts__payload.value = a_pay
            ready = rng.random() >= tiles[min(ot, n_tiles - 1)]["stall"]
            dut.out__ready.value = int(ready)
            if rng.random() < probe_rate:
                await probe(dut, prot, cycle, {"out__ready": int(ready), "acts__valid": int(a_offer),
                                               "weights__valid": int(w_offer)})
            await ReadOnly()
            w_ready, a_ready, o_valid_raw = read(dut.weights__ready), read(dut.acts__ready), read(dut.out__valid)
            for name, v in (("weights__ready", w_ready), ("acts__ready", a_ready), ("out__valid", o_valid_raw)):
                if v is None:
                    prot.bad("xz", f"cycle {cycle}: {name.replace('__', '.')} is {getattr(dut, name).value}")
            w_hs = w_offer and w_ready == 1
            a_hs = a_offer and a_ready == 1
            o_valid = o_valid_raw == 1
            o_word = read(dut.out__payload) if o_valid else None

            # -- stream monitors: a beat not taken stays, payload unchanged ------------------------
            now = {"weights": (w_offer, w_ready == 1, w_pay), "acts": (a_offer, a_ready == 1, a_pay),
                   "out": (o_valid, ready, (o_word if o_word is not None else str(dut.out__payload.value))
                           if o_valid else None)}
            for s, (valid, _, pay) in now.items():
                if s in prev and prev[s][0] and not prev[s][1]:
                    if not valid:
                        prot.bad("valid_dropped", f"cycle {cycle}: {s}.valid dropped before the handshake")
                    elif pay != prev[s][2]:
                        prot.bad("payload_changed", f"cycle {cycle}: {s}.payload changed while valid and not "
                                                    f"taken ({prev[s][2]} -> {pay})")
            prev = now

            # -- stall accounting, from the state at the start of this cycle -------------------------
            in_tile = first_w[ot] is not None or (w_hs and wt == ot)
            if in_tile:
                w_due = wt == ot and wbeat > 0
                a_due = wt > ot and at == ot
                gap_w = w_due and not w_offer
                bubble = a_due and a_ready == 1 and not a_offer
                refusal = o_valid and not ready
                report[ot]["stalls"] += gap_w + bubble + refusal
                events["weight_gaps"] += gap_w
                events["bubbles"] += bubble
                events["bubble_and_refusal"] += bubble and refusal
                events["acts_held"] += a_due and a_offer and a_ready != 1
            elif ot > 0 and last_out[ot - 1] is not None and w_offer and wt == ot and not w_hs:
                boundary += 1  # the next tile's weights offered after the last output, but not taken
                first = first or f"cycle {cycle}: tile {ot}'s first weight beat offered after tile {ot - 1} ended, not taken"
            if w_offer and not w_hs and wt > ot:
                events["weights_held"] += 1
            if o_valid and not ready:
                events["refusals"] += 1
                run += 1
                events["refusal_runs_2"] += run == 2
            else:
                run = 0

            # -- handshakes --------------------------------------------------------------------------
            if w_hs:
                if wbeat == 0:
                    first_w[wt] = cycle
                    if wt > 0 and last_out[wt - 1] == cycle - 1:
                        events["back_to_back"] += 1
                wbeat += 1
                if wbeat == rows:
                    wt, wbeat = wt + 1, 0
                w_offer = False
            if a_hs:
                abeat += 1
                if abeat == len(tiles[at]["acts"]):
                    at, abeat = at + 1, 0
                a_offer = False
            if o_valid and ot < n_tiles and obeat == len(tiles[ot]["acts"]) - 1 and not ready:
                events["last_refused"] += 1
            if o_valid and ready:
                if ot < n_tiles:
                    tile = tiles[ot]
                    want = tile["y"][obeat]
                    want_last = int(obeat == len(tile["acts"]) - 1)
                    if o_word is None:
                        prot.bad("xz", f"cycle {cycle}: out.payload is {dut.out__payload.value} on a handshake")
                        bits = beat_bits
                        got = got_last = "X"
                    else:
                        got, got_last = unpack_out(o_word, cols, acc)
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
    finally:
        missing = sum(len(t["acts"]) for t in tiles[ot:]) - obeat if ot < n_tiles else 0
        firsts = [d["first"] for d in report if d["first"]]
        first = first or (firsts[0] if firsts else None)
        if missing:
            first = first or f"timeout after {cycle} cycles: {missing} output beats never came (tile {ot}, beat {obeat})"
        violations = sum(prot.counts.values())
        out = {"tiles": report, "boundary": boundary, "missing_beats": missing, "extra_bits": extra_bits,
               "first": first, "cycles": cycle, "protocol": prot.counts, "protocol_probes": prot.probes,
               "protocol_paths": prot.paths,
               "first_protocol": prot.first, "events": events}
        out_path.write_text(json.dumps(out))
    bad = sum(1 for d in report if d["bits"] or d["cycles"])
    assert not (bad or boundary or missing or extra_bits or violations), (
        f"{bad} of {n_tiles} tiles differ, {violations} protocol violations; first: {first or prot.first}")
