"""The stream monitor and the spike comparison both neuromorphic cocotb benches use (``sim/core``, ``sim/top``).

The dut is the source of ``spikes`` and the sink of ``events``. :class:`Protocol` checks the
valid/ready rules on ``spikes`` -- valid never X, held with the same payload until the
handshake, not combinationally dependent on ready (a 1 ps toggle of ready on a sample of the
cycles) -- and that ``events.ready`` is never X; it counts violations into the bench's report
dict. :func:`spike_difference` compares the neurons that fired in one timestep as multisets.
"""

from __future__ import annotations

import random
from collections import Counter

from cocotb.triggers import Timer

TIMING_BINS = ("spikes_stalled", "events_not_ready", "event_gaps", "eos_with_last_event", "eos_after_last_event",
               "spikes_after_done", "ready_probes")
#: the stream rules the monitor checks: X on valid/ready, valid dropped or payload changed before
#: the handshake, valid depending combinationally on ready
RULES = ("x", "valid_dropped", "payload_changed", "valid_from_ready")
PROBE_RATE = 0.0625  # fraction of cycles on which spikes.valid is checked for a path from spikes.ready


def new_report(**fields) -> dict:
    """A bench report with the monitor's counters (``protocol*``, ``timing``) and ``fields``."""
    return {**fields, "protocol": 0, "protocol_first": None, "protocol_rules": dict.fromkeys(RULES, 0),
            "protocol_examples": dict.fromkeys(RULES), "timing": dict.fromkeys(TIMING_BINS, 0)}


def note(diffs, text):
    """Keep ``text`` as the first difference unless there is one already."""
    diffs["first"] = diffs["first"] or text


def spike_difference(fired, want):
    """Compare the neurons that fired as multisets: returns (differing spikes, missing, extra); a
    neuron reported twice in one timestep (a duplicated spike word) is one differing spike."""
    missing, extra = Counter(want) - Counter(fired), Counter(fired) - Counter(want)
    return sum(missing.values()) + sum(extra.values()), sorted(missing.elements()), sorted(extra.elements())


class Protocol:
    """Valid/ready rules of one stream whose source is the dut (``spikes``), plus the sink-side
    rule of ``events`` (the dut's ready is never X)."""

    def __init__(self, report, seed):
        self.report = report
        self.rng = random.Random(seed)
        self.held = None  # payload of a word offered and not yet taken at the last sample

    def violation(self, rule, text):
        """Count a broken ``rule`` (one of :data:`RULES`); keep the first text of each rule and overall."""
        self.report["protocol"] += 1
        self.report["protocol_first"] = self.report["protocol_first"] or text
        self.report["protocol_rules"][rule] += 1
        self.report["protocol_examples"][rule] = self.report["protocol_examples"][rule] or text

    async def probe(self, dut, where, ready):
        """Toggle ``spikes.ready`` around the bench's value and watch ``spikes.valid`` (call right
        after driving the inputs at a falling edge, before ``ReadOnly``); leaves ``ready`` driven."""
        if self.rng.random() >= PROBE_RATE:
            dut.spikes__ready.value = ready
            return
        seen = []
        for r in (0, 1):
            dut.spikes__ready.value = r
            await Timer(1, "ps")
            seen.append(str(dut.spikes__valid.value))
        dut.spikes__ready.value = ready
        await Timer(1, "ps")
        self.report["timing"]["ready_probes"] += 1
        if seen[0] != seen[1]:
            self.violation("valid_from_ready", f"{where}: spikes.valid depends combinationally on spikes.ready "
                                               f"(valid {seen[0]} with ready 0, {seen[1]} with ready 1)")

    def sample(self, dut, where):
        """Check the values of this cycle (in ``ReadOnly``); returns (spikes.valid, spikes.ready,
        events.ready) as bools."""
        valid, ready, ev_ready = dut.spikes__valid.value, dut.spikes__ready.value, dut.events__ready.value
        if not valid.is_resolvable:
            self.violation("x", f"{where}: spikes.valid is {valid}")
        if not ev_ready.is_resolvable:
            self.violation("x", f"{where}: events.ready is {ev_ready}")
        v, r = valid.is_resolvable and int(valid) == 1, ready.is_resolvable and int(ready) == 1
        payload = str(dut.spikes__payload.value) if v and (self.held is not None or not r) else None
        if self.held is not None:
            if not v:
                self.violation("valid_dropped",
                               f"{where}: spikes.valid fell before the handshake (word {self.held} was offered)")
            elif payload != self.held:
                self.violation("payload_changed",
                               f"{where}: spikes.payload changed from {self.held} to {payload} before the handshake")
        self.held = payload if v and not r else None
        if v and not r:
            self.report["timing"]["spikes_stalled"] += 1
        return v, r, ev_ready.is_resolvable and int(ev_ready) == 1


