"""The multi-core top: the cores of a mapped model plus the router that connects them.

Each core is a :class:`~neurosim.targets.neuromorphic.hdl.core.NeuromorphicCore` with its program baked in. The router
takes one word at a time -- an external input event, or a spike word (chunk, lane mask) from a
core -- and, for every source neuron it names, walks that source's routing-table entries
(target core, axon) and pushes the axon into the target core's event queue. This is the
engine's packet model: a source sends one event to every core that holds a synapse row for it,
and nothing else.

End of step: a core gets ``eos`` once every core feeding it (and, for first-layer cores, the
external input) has finished, its spike words have been routed and the router is idle; the top
raises ``done`` when every core has fired, every spike word is routed and the spike tap is
empty. Each core counts its own cycles (waiting is not counted), so the per-core cycle counts
equal the engine's whatever the router's speed or the back-pressure on the spike tap.

**Spike tap.** ``spikes`` carries every spike word the router takes (core index, chunk, mask),
for observation. The router pushes each word it takes into a small tap FIFO and takes a word
only while the FIFO has room; ``spikes.valid`` and ``spikes.payload`` are the FIFO's output
register, so they never depend on ``spikes.ready`` and hold until the handshake (AXI-Stream and
``amaranth.lib.stream`` rules). A full tap stalls the router, never the counted cycles.
``events.ready`` is high whenever the router is idle, whatever ``events.valid`` is.

**Configuration port.** ``cfg_en``, ``cfg_core`` (which core), ``cfg_mem``, ``cfg_addr`` and
``cfg_data`` (as wide as the widest core's ``cfg_data``; narrower cores take the low bits) write
one word of the selected core's memories, exactly as that core's own ``cfg_*`` port does
(writes take effect in the core's ``IDLE`` only). The model's program stays in the memories'
initial contents, so the Verilog runs without loading; the write ports let synthesis map the
memories to block RAM (a memory without a write port becomes a ROM in LUTs).

**Clear between samples.** A pulse on ``clear`` while the top is idle clears every core's
membranes and accumulators (each core sweeps its chunks, one per cycle) and drops ``done``;
``done`` rises again when every core is idle. Sequence between two samples: pulse ``clear``,
wait for ``done``, then run the next sample's steps (``start`` ... ``done``). A sample after a
clear behaves exactly like one after a reset; the clear changes no counted cycle.

**Error flag.** ``error`` is sticky: it is high when an external event with an index
``>= n_inputs`` was dropped (it would read a neuron's routing entry) or a core dropped an
out-of-range event; ``start`` or a reset clears it.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal, unsigned
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from neurosim.errors import HDLError
from neurosim.targets.neuromorphic.hdl.core import NeuromorphicCore, _bits


class MultiCoreTop(wiring.Component):
    """``cores``: [(CoreConfig, CoreProgram)]; ``routes[s]``: [(core, axon)] for every global source
    ``s`` (external inputs first, then each core's neurons in core order); ``feeders[c]``: the cores
    (and ``-1`` for the external input) whose spikes reach core ``c``; ``mutate``: one of
    :attr:`MUTATIONS` (a deliberate bug of the router, the end of step, the tap or the ports)."""

    #: deliberate bugs for the mutation campaign (tests/targets/neuromorphic/test_mutation.py)
    MUTATIONS = (
        "route_drop_last_lane", "route_wrong_axon", "route_wrong_core",
        "eos_before_feeder_idle", "ext_done_ignores_pending", "eos_ignores_queue",
        "rr_starvation", "rr_duplicate_take",
        "tap_missing_core_index", "tap_ignores_full", "done_ignores_tap", "tap_valid_needs_ready",
        "cfg_core_ignored", "guard_removed", "clear_not_routed",
    )
    TAP_DEPTH = 4

    def __init__(self, cores, routes, feeders, n_inputs: int, mutate: str | None = None):
        self._MustUse__silence = True  # a refused build is not an unused one; cleared once built
        if not cores:
            raise HDLError("MultiCoreTop.cores must name at least one (CoreConfig, CoreProgram), found []")
        if mutate is not None and mutate not in self.MUTATIONS:
            raise HDLError(f"MultiCoreTop mutate must be None or one of {self.MUTATIONS!r}, found {mutate!r}")
        self.cores = cores
        self.routes = routes
        self.feeders = feeders
        self.n_inputs = n_inputs
        self.mutate = mutate
        self.n = len(cores)
        self.lanes = max(cfg.lanes for cfg, _ in cores)
        self.chunk_bits = max(_bits(cfg.chunks) for cfg, _ in cores)
        self.core_bits = _bits(self.n)
        self.v_bits = max(cfg.lanes * cfg.membrane_bits for cfg, _ in cores)
        self.input_bits = _bits(max(1, n_inputs))
        # the cores as built (their port widths give the top's configuration port)
        self._cores = [NeuromorphicCore(cfg, program=prog) for cfg, prog in cores]
        for core in self._cores:
            core._MustUse__silence = True  # elaborated as submodules of the top (not when only its widths are read)
        self.cfg_addr_bits = max(c.weight_addr_bits for c in self._cores)
        self.cfg_data_bits = max(c.cfg_data_bits for c in self._cores)
        self._MustUse__silence = False
        super().__init__({
            "events": In(stream.Signature(unsigned(self.input_bits))),
            "eos": In(1),
            "start": In(1),
            "clear": In(1),
            "done": Out(1),
            "error": Out(1),
            "core_cycles": Out(32 * self.n),
            "spikes": Out(stream.Signature(unsigned(self.core_bits + self.chunk_bits + self.lanes))),
            "cfg_en": In(1),
            "cfg_core": In(self.core_bits),
            "cfg_mem": In(3),
            "cfg_addr": In(self.cfg_addr_bits),
            "cfg_data": In(self.cfg_data_bits),
            "dbg_core": In(self.core_bits),
            "dbg_addr": In(self.chunk_bits),
            "dbg_v": Out(self.v_bits),
        })

    def elaborate(self, platform):
        m = Module()
        n = self.n
        mut = self.mutate
        base, total = [], self.n_inputs
        for cfg, _ in self.cores:
            base.append(total)
            total += cfg.neurons
        # routing table: per source (start, count); entries (core, axon)
        entries, table = [], []
        axon_bits = max(_bits(cfg.axons) for cfg, _ in self.cores)
        for s in range(total):
            targets = self.routes[s] if s < len(self.routes) else []
            table.append((len(entries), len(targets)))
            entries.extend(targets)
        e_bits = _bits(max(1, len(entries)))
        cnt_bits = _bits(n + 1) + 1
        m.submodules.table = table_mem = Memory(shape=unsigned(e_bits + cnt_bits), depth=max(1, total),
                                                init=[start | (count << e_bits) for start, count in table])
        m.submodules.entries = entry_mem = Memory(shape=unsigned(self.core_bits + axon_bits), depth=max(1, len(entries)),
                                                  init=[c | (a << self.core_bits) for c, a in entries] or [0])
        t_rd, e_rd = table_mem.read_port(), entry_mem.read_port()
        # a lib.memory read port reads every cycle unless disabled: keep the looked-up data while
        # the router waits for a full queue
        m.d.comb += [t_rd.en.eq(0), e_rd.en.eq(0)]

        cores, queues = self._cores, []
        for i, core in enumerate(cores):
            cfg = core.cfg
            m.submodules[f"core{i}"] = core
            q = fifo.SyncFIFOBuffered(width=_bits(cfg.axons), depth=8)
            m.submodules[f"queue{i}"] = q
            selected = 1 if mut == "cfg_core_ignored" else self.cfg_core == i
            m.d.comb += [core.start.eq(self.start), core.clear.eq(0 if mut == "clear_not_routed" else self.clear),
                         core.cfg_en.eq(self.cfg_en & selected), core.cfg_mem.eq(self.cfg_mem),
                         core.cfg_addr.eq(self.cfg_addr[:len(core.cfg_addr)]),
                         core.cfg_data.eq(self.cfg_data[:len(core.cfg_data)]),
                         core.events.valid.eq(q.r_rdy), core.events.payload.eq(q.r_data), q.r_en.eq(core.events.ready),
                         self.core_cycles.word_select(i, 32).eq(core.cycles)]
            queues.append(q)
        m.submodules.tap = tap = fifo.SyncFIFOBuffered(width=len(self.spikes.payload), depth=self.TAP_DEPTH)
        tap_valid = tap.r_rdy & self.spikes.ready if mut == "tap_valid_needs_ready" else tap.r_rdy
        m.d.comb += [self.spikes.valid.eq(tap_valid), self.spikes.payload.eq(tap.r_data),
                     tap.r_en.eq(self.spikes.ready & tap_valid)]
        self._debug = {"cores": cores, "queues": queues, "tap": tap}
        m.d.comb += self.dbg_v.eq(0)
        for i, core in enumerate(cores):
            m.d.comb += core.dbg_addr.eq(self.dbg_addr)
            with m.If(self.dbg_core == i):
                m.d.comb += self.dbg_v.eq(core.dbg_v)

        # -- end of step bookkeeping --------------------------------------------------------------
        ext_done = Signal()
        started = Signal()
        self._debug["ext_done"] = ext_done
        with m.If(self.start):
            m.d.sync += [ext_done.eq(0), started.eq(1)]
        with m.Elif(self.clear):
            # a clear has no external input: the cores' idle alone raises done
            m.d.sync += [ext_done.eq(1), started.eq(1)]
        router_idle = Signal()
        self._debug["router_idle"] = router_idle
        drained = [Signal(name=f"drained{i}") for i in range(n)]
        for i, core in enumerate(cores):
            m.d.comb += drained[i].eq(core.done if mut == "eos_before_feeder_idle" else core.idle)
        ext_ready = ext_done & ~self.events.valid
        for i, core in enumerate(cores):
            # the queue's level counts words still on their way to the core (the buffered FIFO has a
            # cycle of latency): a core may only see the end of its step once its queue is empty
            ready = Const(1) if mut == "eos_ignores_queue" else queues[i].level == 0
            if not (mut == "ext_done_ignores_pending" and -1 in self.feeders[i]):
                ready = ready & router_idle
            for f in self.feeders[i]:
                ready = ready & (ext_ready if f < 0 else drained[f])
            m.d.comb += core.eos.eq(ready)
        all_done = router_idle & ext_done
        if mut != "done_ignores_tap":
            all_done = all_done & (tap.level == 0)
        for i in range(n):
            all_done = all_done & drained[i]
        m.d.comb += self.done.eq(all_done & started & ~self.start & ~self.clear)

        guard_error = Signal()
        with m.If(self.start):
            m.d.sync += guard_error.eq(0)
        error = guard_error
        for core in cores:
            error = error | core.error
        m.d.comb += self.error.eq(error)
        if (1 << self.input_bits) > self.n_inputs and mut != "guard_removed":
            in_range = self.events.payload < self.n_inputs
        else:
            in_range = Const(1)

        # -- the router ---------------------------------------------------------------------------
        src = Signal(_bits(max(2, total)))
        word_core = Signal(self.core_bits)
        word_chunk = Signal(self.chunk_bits)
        mask = Signal(self.lanes)
        lane = Signal(range(self.lanes + 1))
        e_ptr = Signal(e_bits + 1)
        e_end = Signal(e_bits + 2)
        rr = Signal(self.core_bits)  # round-robin start among the cores
        room = Const(1) if mut == "tap_ignores_full" else tap.w_rdy
        with m.FSM(init="IDLE") as fsm:
            with m.State("IDLE"):
                if mut != "ext_done_ignores_pending":
                    with m.If(~self.events.valid & self.eos & ~self.start & started):
                        m.d.sync += ext_done.eq(1)
                with m.If(self.events.valid & ~in_range):
                    m.d.sync += guard_error.eq(1)  # dropped: its index would read a neuron's routing entry
                with m.Elif(self.events.valid):
                    m.d.sync += src.eq(self.events.payload)
                    m.next = "LOOKUP"
                # otherwise take one spike word, round robin over the cores, while the tap has room
                with m.Elif(room):
                    with m.Switch(rr):
                        for k in range(n):
                            with m.Case(k):
                                for off in range(n):
                                    i = (k + off) % n
                                    cond = cores[i].spikes.valid
                                    with (m.If(cond) if off == 0 else m.Elif(cond)):
                                        pop = not (mut == "rr_duplicate_take" and off == 0 and n > 1)
                                        self._take(m, cores[i], i, word_core, word_chunk, mask, lane, tap, pop)
                                        if mut != "rr_starvation":
                                            m.d.sync += rr.eq((k + 1) % n)
                                        m.next = "LANES"
            with m.State("LANES"):
                # next set bit of the mask -> a source neuron
                last = self.lanes - 1 if mut == "route_drop_last_lane" else self.lanes
                with m.If(lane == last):
                    m.next = "IDLE"
                with m.Elif(mask.bit_select(lane, 1)):
                    for i, (cfg, _) in enumerate(self.cores):
                        with m.If(word_core == i):
                            m.d.sync += src.eq(base[i] + word_chunk * cfg.lanes + lane)
                    m.d.sync += lane.eq(lane + 1)
                    m.next = "LOOKUP_SPIKE"
                with m.Else():
                    m.d.sync += lane.eq(lane + 1)
            for name, back in (("LOOKUP", "IDLE"), ("LOOKUP_SPIKE", "LANES")):
                with m.State(name):
                    m.d.comb += [t_rd.en.eq(1), t_rd.addr.eq(src)]
                    m.next = name + "_WAIT"
                with m.State(name + "_WAIT"):
                    start_, count_ = t_rd.data[:e_bits], t_rd.data[e_bits:]
                    m.d.sync += [e_ptr.eq(start_), e_end.eq(start_ + count_)]
                    m.next = name + "_EMIT"
                with m.State(name + "_EMIT"):
                    with m.If(e_ptr == e_end):
                        m.next = back
                    with m.Else():
                        m.d.comb += [e_rd.en.eq(1), e_rd.addr.eq(e_ptr)]
                        m.next = name + "_PUSH"
                with m.State(name + "_PUSH"):
                    tgt, axon = e_rd.data[:self.core_bits], e_rd.data[self.core_bits:]
                    if mut == "route_wrong_axon":
                        axon = axon ^ 1
                    for i, q in enumerate(queues):
                        # route_wrong_core: core i receives the events meant for core i - 1
                        with m.If(tgt == ((i - 1) % n if mut == "route_wrong_core" else i)):
                            m.d.comb += [q.w_data.eq(axon), q.w_en.eq(1)]
                            with m.If(q.w_rdy):
                                m.d.sync += e_ptr.eq(e_ptr + 1)
                                m.next = name + "_EMIT"
        # continuous assignments from the state (not assignments inside the FSM's case block, which
        # Icarus leaves X until the state first changes: it stays IDLE from reset to the first event)
        m.d.comb += [router_idle.eq(fsm.ongoing("IDLE")), self.events.ready.eq(fsm.ongoing("IDLE"))]
        if mut == "ext_done_ignores_pending":
            # the external input counts as finished while the router still routes its last event
            with m.If(~self.events.valid & self.eos & ~self.start & started):
                m.d.sync += ext_done.eq(1)
        return m

    def _take(self, m, core, i, word_core, word_chunk, mask, lane, tap, pop=True):
        """Accept core ``i``'s spike word, push it into the tap and latch it for routing."""
        lanes = self.cores[i][0].lanes
        chunk = core.spikes.payload[lanes:]
        parts = [core.spikes.payload[:lanes]]
        if self.lanes > lanes:
            parts.append(Const(0, self.lanes - lanes))
        parts.append(chunk)
        if self.chunk_bits > len(chunk):
            parts.append(Const(0, self.chunk_bits - len(chunk)))
        parts.append(Const(0 if self.mutate == "tap_missing_core_index" else i, self.core_bits))
        m.d.comb += [core.spikes.ready.eq(1 if pop else 0), tap.w_en.eq(1), tap.w_data.eq(Cat(*parts))]
        m.d.sync += [word_core.eq(i), mask.eq(core.spikes.payload[:lanes]), word_chunk.eq(chunk), lane.eq(0)]
