"""The multi-core top: the cores of a mapped model plus the router that connects them.

Each core is a :class:`~neurosim.targets.neuromorphic.hdl.core.NeuromorphicCore` with its program baked in. The router
takes one word at a time -- an external input event, or a spike word (chunk, lane mask) from a
core -- and, for every source neuron it names, walks that source's routing-table entries
(target core, axon) and pushes the axon into the target core's event queue. This is the
engine's packet model: a source sends one event to every core that holds a synapse row for it,
and nothing else.

End of step: a core gets ``eos`` once every core feeding it (and, for first-layer cores, the
external input) has finished, its spike words have been routed and the router is idle; the top
raises ``done`` when every core has fired and every spike word is routed. Each core counts its
own cycles (waiting is not counted), so the per-core cycle counts equal the engine's whatever
the router's speed or the back-pressure on the spike tap.

The ``spikes`` output is a tap of every spike word the router takes (core index, chunk, mask),
for observation.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal, unsigned
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from neurosim.targets.neuromorphic.hdl.core import NeuromorphicCore, _bits


class MultiCoreTop(wiring.Component):
    """``cores``: [(CoreConfig, CoreProgram)]; ``routes[s]``: [(core, axon)] for every global source
    ``s`` (external inputs first, then each core's neurons in core order); ``feeders[c]``: the cores
    (and ``-1`` for the external input) whose spikes reach core ``c``."""

    def __init__(self, cores, routes, feeders, n_inputs: int):
        if not cores:
            raise ValueError("MultiCoreTop needs at least one core")
        self.cores = cores
        self.routes = routes
        self.feeders = feeders
        self.n_inputs = n_inputs
        self.n = len(cores)
        self.lanes = max(cfg.lanes for cfg, _ in cores)
        self.chunk_bits = max(_bits(cfg.chunks) for cfg, _ in cores)
        self.core_bits = _bits(self.n)
        self.v_bits = max(cfg.lanes * cfg.membrane_bits for cfg, _ in cores)
        super().__init__({
            "events": In(stream.Signature(unsigned(_bits(max(1, n_inputs))))),
            "eos": In(1),
            "start": In(1),
            "done": Out(1),
            "core_cycles": Out(32 * self.n),
            "spikes": Out(stream.Signature(unsigned(self.core_bits + self.chunk_bits + self.lanes))),
            "dbg_core": In(self.core_bits),
            "dbg_addr": In(self.chunk_bits),
            "dbg_v": Out(self.v_bits),
        })

    def elaborate(self, platform):
        m = Module()
        n = self.n
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

        cores, queues = [], []
        for i, (cfg, prog) in enumerate(self.cores):
            core = NeuromorphicCore(cfg, program=prog)
            m.submodules[f"core{i}"] = core
            q = fifo.SyncFIFOBuffered(width=_bits(cfg.axons), depth=8)
            m.submodules[f"queue{i}"] = q
            m.d.comb += [core.start.eq(self.start), core.cfg_en.eq(0),
                         core.events.valid.eq(q.r_rdy), core.events.payload.eq(q.r_data), q.r_en.eq(core.events.ready),
                         self.core_cycles.word_select(i, 32).eq(core.cycles)]
            cores.append(core)
            queues.append(q)
        self._debug = {"cores": cores, "queues": queues}
        m.d.comb += self.dbg_v.eq(0)
        for i, core in enumerate(cores):
            m.d.comb += core.dbg_addr.eq(self.dbg_addr)
            with m.If(self.dbg_core == i):
                m.d.comb += self.dbg_v.eq(core.dbg_v)

        # -- end of step bookkeeping --------------------------------------------------------------
        ext_done = Signal()
        self._debug["ext_done"] = ext_done
        with m.If(self.start):
            m.d.sync += ext_done.eq(0)
        router_idle = Signal()
        self._debug["router_idle"] = router_idle
        drained = [Signal(name=f"drained{i}") for i in range(n)]
        for i, core in enumerate(cores):
            m.d.comb += drained[i].eq(core.idle)
        for i, core in enumerate(cores):
            # the queue's level counts words still on their way to the core (the buffered FIFO has a
            # cycle of latency): a core may only see the end of its step once its queue is empty
            ready = router_idle & (queues[i].level == 0)
            for f in self.feeders[i]:
                ready = ready & (ext_done & ~self.events.valid if f < 0 else drained[f])
            m.d.comb += core.eos.eq(ready)
        all_done = router_idle & ext_done
        for i in range(n):
            all_done = all_done & drained[i]
        started = Signal()
        with m.If(self.start):
            m.d.sync += started.eq(1)
        m.d.comb += self.done.eq(all_done & started & ~self.start)

        # -- the router ---------------------------------------------------------------------------
        src = Signal(_bits(max(2, total)))
        word_core = Signal(self.core_bits)
        word_chunk = Signal(self.chunk_bits)
        mask = Signal(self.lanes)
        lane = Signal(range(self.lanes + 1))
        e_ptr = Signal(e_bits + 1)
        e_end = Signal(e_bits + 2)
        rr = Signal(self.core_bits)  # round-robin start among the cores
        with m.FSM(init="IDLE"):
            with m.State("IDLE"):
                m.d.comb += router_idle.eq(1)
                with m.If(~self.events.valid & self.eos & ~self.start & started):
                    m.d.sync += ext_done.eq(1)
                with m.If(self.events.valid):
                    m.d.comb += self.events.ready.eq(1)
                    m.d.sync += src.eq(self.events.payload)
                    m.next = "LOOKUP"
                # otherwise take one spike word, round robin over the cores
                with m.Elif(self.spikes.ready):
                    with m.Switch(rr):
                        for k in range(n):
                            with m.Case(k):
                                for off in range(n):
                                    i = (k + off) % n
                                    cond = cores[i].spikes.valid
                                    with (m.If(cond) if off == 0 else m.Elif(cond)):
                                        self._take(m, cores[i], i, word_core, word_chunk, mask, lane)
                                        m.d.sync += rr.eq((k + 1) % n)
                                        m.next = "LANES"
            with m.State("LANES"):
                # next set bit of the mask -> a source neuron
                with m.If(lane == self.lanes):
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
                    for i, q in enumerate(queues):
                        with m.If(tgt == i):
                            m.d.comb += [q.w_data.eq(axon), q.w_en.eq(1)]
                            with m.If(q.w_rdy):
                                m.d.sync += e_ptr.eq(e_ptr + 1)
                                m.next = name + "_EMIT"
        return m

    def _take(self, m, core, i, word_core, word_chunk, mask, lane):
        """Accept core ``i``'s spike word, copy it to the tap and latch it for routing."""
        lanes = self.cores[i][0].lanes
        chunk = core.spikes.payload[lanes:]
        parts = [core.spikes.payload[:lanes]]
        if self.lanes > lanes:
            parts.append(Const(0, self.lanes - lanes))
        parts.append(chunk)
        if self.chunk_bits > len(chunk):
            parts.append(Const(0, self.chunk_bits - len(chunk)))
        parts.append(Const(i, self.core_bits))
        m.d.comb += [core.spikes.ready.eq(1), self.spikes.valid.eq(1), self.spikes.payload.eq(Cat(*parts))]
        m.d.sync += [word_core.eq(i), mask.eq(core.spikes.payload[:lanes]), word_chunk.eq(chunk), lane.eq(0)]
