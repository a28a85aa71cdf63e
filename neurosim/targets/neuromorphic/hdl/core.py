"""The neuromorphic core in amaranth: the RTL twin of the engine's fixed-point core spec.

One timestep (the cycle rules are in :mod:`neurosim.targets.neuromorphic.hdl.config`):

``IDLE``
    weights and neuron parameters may be written through the ``cfg_*`` port; ``start`` begins a
    timestep (clears the cycle counter and ``error``, drops ``done``); ``clear`` begins a clear
    sweep (below).
``WAIT``
    between input events: ``events.ready`` is high (whatever ``events.valid`` is); accept the next
    event (1 counted cycle), or -- once the producer raises ``eos`` and nothing is offered -- spend
    one counted drain cycle if the step had events and go to ``FIRE``. Waiting cycles are not
    counted. An event whose axon index is ``>= axons`` (the payload is ``bits(axons)`` wide, so
    such indices exist) is dropped without a counted cycle and raises ``error``.
``ROW``
    read the event's synapse row ``lanes`` weights per cycle together with the matching
    accumulator word; one cycle later (the pipeline stage) write back ``acc + weight`` per lane.
``FIRE``
    sweep the neurons ``lanes`` per cycle: read membrane, accumulator, bias, threshold and reset
    value; one cycle later write ``v`` updated as ``sat(v + acc + bias)``, compare, reset,
    ``v - (v >> leak_shift)``, clear the accumulator and queue the chunk's spike mask on
    ``spikes`` (when any lane fired). A chunk is issued only when the spike queue has room for it,
    so back-pressure on ``spikes`` stalls the sweep without changing the counted cycles.
    With ``reset_timing="delayed"`` the same cycle also reads the chunk's previous-spike bits
    ``s'`` and writes ``v <- L(v1)`` with ``v1 = sat(v - theta s' + acc + bias)`` (subtract) or
    ``v1 = sat((L(v_reset) if s' else v) + acc + bias)`` (zero), and ``s' <- s``
    (:mod:`~neurosim.targets.neuromorphic.hdl.config`): same cycles, one more bit per neuron.
``FDRAIN``
    one counted cycle for the last chunk's write-back, then ``IDLE`` with ``done`` high.

``idle`` is ``done`` with the spike queue empty: the queue shows a word on ``spikes`` one cycle
after ``done`` may already be high (its output register adds a cycle), so whoever waits for the
core's last spike word waits for ``idle``, never for ``done & ~spikes.valid``.

**Clear between samples.** A one-cycle pulse on ``clear`` in ``IDLE`` (with ``start`` low) drops
``done`` and sweeps the chunks, one per cycle (``chunks`` cycles), writing 0 to every membrane
and accumulator; then ``done`` (and ``idle``) rise again. The sequence between two samples is:
pulse ``clear``, wait for ``idle``, pulse ``start``. A sample run after a clear behaves exactly
like one run after a fresh reset (the programs -- weights, biases, thresholds, reset values --
are kept). The clear sweep is not counted: ``cycles`` keeps the last step's count until the next
``start``.

**Error flag.** ``error`` is sticky: it rises when an out-of-range event is dropped and stays high
until the next ``start`` or a reset. The engine never produces such events; the flag tells a
system integrator that its router sent one.

Streams (``events`` in, ``spikes`` out) follow amaranth's ``lib.stream`` / AXI-Stream rules:
``spikes.valid`` and ``spikes.payload`` come from the queue's output register (they do not depend
on ``spikes.ready``, and they hold until the handshake); ``events.ready`` depends on the state
only.

Memories (``amaranth.lib.memory``) hold one ``lanes``-wide word per chunk: weights
``[axons * chunks]``, accumulators, membranes, biases, thresholds and reset values
``[chunks]`` (and, for a delayed reset, the previous-spike bits ``prev_s``, ``lanes`` bits per
chunk); lane ``l`` of chunk ``c`` is neuron ``c * lanes + l``. A configuration write of a
membrane word (``CFG_V``) also clears that chunk's previous-spike bits (a written membrane is a
fresh state), and the clear sweep clears them with the membranes.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from neurosim.errors import HDLError
from neurosim.targets.neuromorphic.hdl.config import CoreConfig

#: ``cfg_mem`` selects which memory a configuration write goes to.
CFG_WEIGHTS, CFG_V, CFG_BIAS, CFG_THRESHOLD, CFG_V_RESET, CFG_ACC, CFG_ROWPTR = 0, 1, 2, 3, 4, 5, 6


def _bits(n: int) -> int:
    return max(1, (n - 1).bit_length())


class NeuromorphicCore(wiring.Component):
    """A time-multiplexed LIF/IF core (see module docstring); ``cfg`` fixes its structure."""

    #: deliberate bugs for the verification's self-test (a testbench must catch each of them);
    #: the default suite's quick test iterates exactly these
    MUTATIONS = ("leak_off_by_one", "threshold_ge", "skip_drain_count")
    #: the mutation campaign (tests/targets/neuromorphic/test_mutation.py): MUTATIONS and many more,
    #: each one plausible bug of the datapath, the control, the sparse path, the protocol or the
    #: clear/guard logic; ``mutate=`` accepts any of them
    CAMPAIGN_MUTATIONS = MUTATIONS + (
        # saturation of v <- sat(v + acc + bias)
        "sat_high_removed", "sat_low_removed", "sat_high_off_by_one", "sat_low_off_by_one",
        "sum_one_bit_narrow",
        # reset and leak
        "subtract_no_saturation", "reset_to_threshold", "reset_to_zero", "reset_mode_swapped",
        "leak_before_reset", "leak_removed",
        # fire sweep and accumulators
        "partial_chunk_spike", "acc_not_cleared", "acc_writeback_wrong_chunk", "fire_room_off_by_one",
        # the sparse (CSR) path
        "sparse_entry_off_by_one", "sparse_empty_row_reads", "sparse_last_word_skipped", "sparse_valid_ignored",
        # cycle counting
        "count_wait_cycle", "drain_without_events",
        # stream protocol
        "spikes_valid_drops", "spikes_payload_unstable", "spikes_valid_needs_ready", "events_ready_outside_wait",
        # guard, error flag, clear
        "guard_removed", "error_not_sticky", "clear_skips_last_chunk", "clear_keeps_acc",
        # delayed reset (reset_timing="delayed")
        "delayed_as_immediate", "delayed_threshold_leaked", "delayed_zero_unleaked", "delayed_prev_not_cleared",
    )

    def __init__(self, cfg: CoreConfig, *, program=None, mutate: str | None = None):
        self._MustUse__silence = True  # a refused build is not an unused one; cleared once built
        if not isinstance(cfg, CoreConfig):
            raise HDLError(f"NeuromorphicCore needs a CoreConfig, found {type(cfg).__name__!r}; build one with "
                           f"CoreConfig(neurons=..., axons=...)")
        if mutate is not None and mutate not in self.CAMPAIGN_MUTATIONS:
            raise HDLError(f"NeuromorphicCore mutate must be None or one of {self.CAMPAIGN_MUTATIONS!r}, "
                           f"found {mutate!r}")
        self.cfg = cfg
        self.mutate = mutate
        if program is not None:
            program.check(cfg)
        self.init = _initial_words(cfg, program) if program is not None else {}
        self.chunk_bits = _bits(cfg.chunks)
        self.neuron_bits = _bits(cfg.neurons)
        self.axon_bits = _bits(cfg.axons)
        self.entry_bits = cfg.weight_bits + self.neuron_bits + 1  # sparse entry: valid, neuron, weight
        self.row_addr_bits = _bits(cfg.row_words)
        self.count_bits = _bits(cfg.chunks + 1)
        self.weight_addr_bits = max(_bits(cfg.axons * cfg.chunks), self.row_addr_bits, _bits(cfg.axons))
        self.cfg_data_bits = max(cfg.lanes * max(cfg.weight_bits, cfg.membrane_bits, cfg.acc_bits),
                                 cfg.lanes * self.entry_bits if cfg.storage == "sparse" else 0,
                                 self.row_addr_bits + self.count_bits)
        self._MustUse__silence = False
        super().__init__({
            "events": In(stream.Signature(unsigned(self.axon_bits))),
            "eos": In(1),
            "start": In(1),
            "clear": In(1),
            "done": Out(1),
            "idle": Out(1),
            "error": Out(1),
            "cycles": Out(32),
            "spikes": Out(stream.Signature(unsigned(self.chunk_bits + cfg.lanes))),
            "cfg_en": In(1),
            "cfg_mem": In(3),
            "cfg_addr": In(self.weight_addr_bits),
            "cfg_data": In(self.cfg_data_bits),
            # read-back of the membranes (one chunk, one cycle after the address), for verification
            "dbg_addr": In(self.chunk_bits),
            "dbg_v": Out(cfg.lanes * cfg.membrane_bits),
        })

    def elaborate(self, platform):
        cfg = self.cfg
        mut = self.mutate
        P, C = cfg.lanes, cfg.chunks
        m = Module()

        # -- storage ---------------------------------------------------------------------------
        memories = {}

        def mem(name, width, depth):
            m.submodules[name] = memories[name] = memory = Memory(shape=unsigned(width * P), depth=depth,
                                                                  init=self.init.get(name, []))
            return memory.read_port(), memory.write_port()

        sparse = cfg.storage == "sparse"
        if sparse:
            # CSR rows: a row pointer per axon, `lanes` (valid, neuron, weight) entries per word, and
            # the accumulators in registers (a word's entries address arbitrary neurons)
            w_rd, w_wr = mem("weights", self.entry_bits, cfg.row_words)
            m.submodules.rowptr = rowptr = Memory(shape=unsigned(self.row_addr_bits + self.count_bits),
                                                  depth=cfg.axons, init=self.init.get("rowptr", []))
            rp_rd, rp_wr = rowptr.read_port(), rowptr.write_port()
            m.d.comb += rp_rd.en.eq(0)
            accs = [Signal(signed(cfg.acc_bits), name=f"acc{n}") for n in range(cfg.neurons)]
            acc_rd = None
        else:
            w_rd, w_wr = mem("weights", cfg.weight_bits, cfg.axons * C)
            acc_rd, acc_wr = mem("acc", cfg.acc_bits, C)
        v_rd, v_wr = mem("v", cfg.membrane_bits, C)
        b_rd, b_wr = mem("bias", cfg.membrane_bits, C)
        t_rd, t_wr = mem("threshold", cfg.membrane_bits, C)
        r_rd, r_wr = mem("v_reset", cfg.membrane_bits, C)
        delayed = cfg.stores_prev_spike
        if delayed:
            s_rd, s_wr = mem("prev_s", 1, C)  # each neuron's spike of the previous step
        dbg_rd = memories["v"].read_port()
        m.d.comb += [dbg_rd.addr.eq(self.dbg_addr), self.dbg_v.eq(dbg_rd.data)]
        m.submodules.out_fifo = out_fifo = fifo.SyncFIFOBuffered(width=self.chunk_bits + P, depth=4)

        axon = Signal(self.axon_bits)
        chunk = Signal(self.chunk_bits)
        row_base = Signal(self.weight_addr_bits)
        had_event = Signal()
        clearing = Signal()
        # pipeline registers: a read issued this cycle is written back next cycle
        int_valid, int_chunk = Signal(), Signal(self.chunk_bits)
        fire_valid, fire_chunk = Signal(), Signal(self.chunk_bits)
        m.d.sync += [int_valid.eq(0), fire_valid.eq(0)]
        if mut == "error_not_sticky":
            m.d.sync += self.error.eq(0)

        # -- configuration writes (IDLE only) --------------------------------------------------
        cfg_write = Signal()
        ports = [(CFG_WEIGHTS, w_wr), (CFG_V, v_wr), (CFG_BIAS, b_wr), (CFG_THRESHOLD, t_wr), (CFG_V_RESET, r_wr)]
        if sparse:
            ports.append((CFG_ROWPTR, rp_wr))
        for sel, port in ports:
            m.d.comb += [port.addr.eq(self.cfg_addr), port.data.eq(self.cfg_data),
                         port.en.eq(cfg_write & (self.cfg_mem == sel))]

        # -- spike output: the queue's read side is the output stream ----------------------------
        stalled = Signal()  # the previous cycle offered a word that was not taken (for protocol mutants)
        m.d.sync += stalled.eq(self.spikes.valid & ~self.spikes.ready)
        valid, payload = out_fifo.r_rdy, out_fifo.r_data
        if mut == "spikes_valid_drops":
            valid = valid & ~stalled  # valid falls for a cycle after a refused offer
        elif mut == "spikes_valid_needs_ready":
            valid = valid & self.spikes.ready
        elif mut == "spikes_payload_unstable":
            payload = Mux(self.spikes.ready, payload, payload ^ 1)
        m.d.comb += [self.spikes.payload.eq(payload), self.spikes.valid.eq(valid),
                     out_fifo.r_en.eq(self.spikes.ready & valid),
                     # level counts the word in the output register too: 0 means nothing is on its way
                     self.idle.eq(self.done & (out_fifo.level == 0))]

        count = Signal()
        with m.If(count):
            m.d.sync += self.cycles.eq(self.cycles + 1)

        # an event's axon index must name a synapse row: the payload is bits(axons) wide
        if (1 << self.axon_bits) > cfg.axons and mut != "guard_removed":
            in_range = self.events.payload < cfg.axons
        else:
            in_range = Const(1)

        # -- control -----------------------------------------------------------------------------
        with m.FSM(init="IDLE") as fsm:
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [self.cycles.eq(0), self.done.eq(0), had_event.eq(0), self.error.eq(0)]
                    m.next = "WAIT"
                with m.Elif(self.clear):
                    m.d.sync += [self.done.eq(0), chunk.eq(0)]
                    m.next = "CLEAR"
            with m.State("CLEAR"):
                # one chunk per cycle: membranes and accumulators to 0 (written below), not counted
                m.d.comb += clearing.eq(1)
                m.d.sync += chunk.eq(chunk + 1)
                last = C - 2 if mut == "clear_skips_last_chunk" and C > 1 else C - 1
                with m.If(chunk == last):
                    m.d.sync += self.done.eq(1)
                    m.next = "IDLE"
            with m.State("WAIT"):
                with m.If(self.events.valid & ~in_range):
                    m.d.sync += self.error.eq(1)  # dropped: reads no row, counts no cycle
                with m.Elif(self.events.valid):
                    m.d.comb += count.eq(1)
                    m.d.sync += [axon.eq(self.events.payload), row_base.eq(self.events.payload * C), chunk.eq(0),
                                 had_event.eq(1)]
                    if sparse:
                        m.d.comb += [rp_rd.en.eq(1), rp_rd.addr.eq(self.events.payload)]
                        m.next = "SROW"
                    else:
                        m.next = "ROW"
                with m.Elif(self.eos):
                    # the drain cycle of the last write-back
                    drain = {"skip_drain_count": 0, "drain_without_events": 1}.get(mut, had_event)
                    m.d.comb += count.eq(drain)
                    m.d.sync += chunk.eq(0)
                    m.next = "FIRE"
                with m.Else():
                    if mut == "count_wait_cycle":
                        m.d.comb += count.eq(1)
            if not sparse:
                with m.State("ROW"):
                    m.d.comb += [count.eq(1), w_rd.en.eq(1), w_rd.addr.eq(row_base + chunk),
                                 acc_rd.en.eq(1), acc_rd.addr.eq(chunk)]
                    m.d.sync += [int_valid.eq(1), int_chunk.eq(chunk), chunk.eq(chunk + 1)]
                    with m.If(chunk == C - 1):
                        m.next = "WAIT"
            else:
                row_start = Signal(self.row_addr_bits)
                row_words = Signal(self.count_bits)
                with m.State("SROW"):
                    # the row pointer read in WAIT arrives now; later words use the latched copy
                    first = chunk == 0
                    start_ = Mux(first, rp_rd.data[:self.row_addr_bits], row_start)
                    words_ = Mux(first, rp_rd.data[self.row_addr_bits:], row_words)
                    with m.If(first):
                        m.d.sync += [row_start.eq(start_), row_words.eq(words_)]
                    last_word = chunk == words_ - 1
                    if mut == "sparse_last_word_skipped":
                        last_word = last_word | ((words_ > 1) & (chunk == words_ - 2))
                    with m.If(words_ == 0):
                        if mut == "sparse_empty_row_reads":
                            m.d.comb += [count.eq(1), w_rd.en.eq(1), w_rd.addr.eq(start_)]
                            m.d.sync += int_valid.eq(1)
                        m.next = "WAIT"
                    with m.Else():
                        m.d.comb += [count.eq(1), w_rd.en.eq(1), w_rd.addr.eq(start_ + chunk)]
                        m.d.sync += [int_valid.eq(1), chunk.eq(chunk + 1)]
                        with m.If(last_word):
                            m.next = "WAIT"
            with m.State("FIRE"):
                if mut == "fire_room_off_by_one":
                    room = out_fifo.level + fire_valid <= out_fifo.depth
                else:
                    room = out_fifo.level + fire_valid < out_fifo.depth
                with m.If(room):
                    if not sparse:
                        m.d.comb += [acc_rd.en.eq(1), acc_rd.addr.eq(chunk)]
                    m.d.comb += [count.eq(1), v_rd.en.eq(1),
                                 v_rd.addr.eq(chunk), b_rd.en.eq(1), b_rd.addr.eq(chunk), t_rd.en.eq(1),
                                 t_rd.addr.eq(chunk), r_rd.en.eq(1), r_rd.addr.eq(chunk)]
                    if delayed:
                        m.d.comb += [s_rd.en.eq(1), s_rd.addr.eq(chunk)]
                    m.d.sync += [fire_valid.eq(1), fire_chunk.eq(chunk), chunk.eq(chunk + 1)]
                    with m.If(chunk == C - 1):
                        m.next = "FDRAIN"
            with m.State("FDRAIN"):
                m.d.comb += count.eq(1)
                m.d.sync += self.done.eq(1)
                m.next = "IDLE"
        # continuous assignments from the state (Icarus leaves an assignment inside the FSM's case
        # block X until the state first changes)
        m.d.comb += [cfg_write.eq(self.cfg_en & fsm.ongoing("IDLE")),
                     self.events.ready.eq(1 if mut == "events_ready_outside_wait" else fsm.ongoing("WAIT"))]

        # -- integrate write-back: acc += weight, per lane ---------------------------------------
        lanes_sum = []
        if not sparse:
            for lane in range(P):
                a = acc_rd.data.word_select(lane, cfg.acc_bits).as_signed()
                w = w_rd.data.word_select(lane, cfg.weight_bits).as_signed()
                lanes_sum.append((a + w)[:cfg.acc_bits])
            acc_fire = [acc_rd.data.word_select(lane, cfg.acc_bits).as_signed() for lane in range(P)]
        else:
            # a word's entries name distinct neurons: each accumulator adds the entry (if any) that names it
            # named, typed wires for every entry field keep the signedness explicit in the Verilog
            # (Icarus mis-extends a signed part-select inside a ternary chain)
            entries = []
            for lane in range(P):
                e = w_rd.data.word_select(lane, self.entry_bits)
                valid = Signal(name=f"entry_valid{lane}")
                idx = Signal(self.neuron_bits, name=f"entry_neuron{lane}")
                w = Signal(signed(cfg.weight_bits), name=f"entry_weight{lane}")
                m.d.comb += [valid.eq(e[-1]), idx.eq(e[cfg.weight_bits:cfg.weight_bits + self.neuron_bits]),
                             w.eq(e[:cfg.weight_bits])]
                entries.append((valid, idx, w))
            for n, acc in enumerate(accs):
                add = Signal(signed(cfg.weight_bits), name=f"add{n}")
                hit = Signal(name=f"hit{n}")
                for valid, idx, w in entries:
                    named = idx == (n + 1 if mut == "sparse_entry_off_by_one" else n)
                    with m.If(named if mut == "sparse_valid_ignored" else valid & named):
                        m.d.comb += [add.eq(w), hit.eq(1)]
                with m.If(int_valid & hit):
                    m.d.sync += acc.eq(acc + add)
            # the lane's accumulator of the chunk in the fire stage: a Mux chain (continuous
            # assignments), not an Array (an `always @*` case block that Icarus leaves X at time 0
            # until one of its inputs changes)
            acc_fire = []
            for lane in range(P):
                value = Const(0, signed(cfg.acc_bits))
                for c in range(C):
                    if c * P + lane < cfg.neurons:
                        value = Mux(fire_chunk == c, accs[c * P + lane], value)
                acc_fire.append(value)
        # -- fire write-back: the neuron update, per lane ----------------------------------------
        new_v, fired = [], []
        lo, hi = cfg.v_min, cfg.v_max
        for lane in range(P):
            v = v_rd.data.word_select(lane, cfg.membrane_bits).as_signed()
            a = acc_fire[lane]
            b = b_rd.data.word_select(lane, cfg.membrane_bits).as_signed()
            th = t_rd.data.word_select(lane, cfg.membrane_bits).as_signed()
            vr = r_rd.data.word_select(lane, cfg.membrane_bits).as_signed()
            # |v + acc + bias| < 2**(max(membrane, acc) + 1): two bits above the widest operand
            # (a delayed subtract adds a fourth term, -theta s': one bit more)
            dsub = delayed and cfg.reset == "subtract" and mut != "delayed_as_immediate"
            width = (max(cfg.membrane_bits, cfg.acc_bits) + (1 if mut == "sum_one_bit_narrow" else 2)
                     + (1 if dsub else 0))
            total = Signal(signed(width), name=f"total{lane}")
            vs = Signal(signed(cfg.membrane_bits), name=f"vs{lane}")
            shift = cfg.leak_shift + (1 if mut == "leak_off_by_one" and cfg.leak_shift else 0)
            leak_on = cfg.leak_shift and mut not in ("leak_removed", "leak_before_reset")
            if delayed and mut != "delayed_as_immediate":
                # last step's reset, applied at this integrate (config.py): s' from the prev_s memory
                sp = Signal(name=f"prev_s{lane}")
                m.d.comb += sp.eq(s_rd.data[lane])
                if cfg.reset == "subtract":
                    sub = th if mut != "delayed_threshold_leaked" or not cfg.leak_shift else th - (th >> shift)
                    m.d.comb += total.eq(v - Mux(sp, sub, 0) + a + b)
                else:
                    lvr = Signal(signed(cfg.membrane_bits), name=f"leaked_v_reset{lane}")
                    m.d.comb += lvr.eq(vr - (vr >> shift) if leak_on and mut != "delayed_zero_unleaked" else vr)
                    m.d.comb += total.eq(Mux(sp, lvr, v) + a + b)
            else:
                m.d.comb += total.eq(v + a + b)
            sat_lo = {"sat_low_removed": None, "sat_low_off_by_one": lo + 1}.get(mut, lo)
            sat_hi = {"sat_high_removed": None, "sat_high_off_by_one": hi - 1}.get(mut, hi)
            clamped = total
            if sat_hi is not None:
                clamped = Mux(total > hi, sat_hi, clamped)
            if sat_lo is not None:
                clamped = Mux(total < lo, sat_lo, clamped)
            m.d.comb += vs.eq(clamped)
            spike = Signal(name=f"spike{lane}")
            neuron_in_range = (fire_chunk * P + lane) < cfg.neurons  # the last chunk may be partial
            rule = cfg.spike_rule if mut != "threshold_ge" else ("ge" if cfg.spike_rule == "gt" else "gt")
            cmp = (vs > th) if rule == "gt" else (vs >= th)
            m.d.comb += spike.eq(cmp if mut == "partial_chunk_spike" else cmp & neuron_in_range)
            pre = Signal(signed(cfg.membrane_bits), name=f"pre{lane}")  # the value the reset acts on
            if mut == "leak_before_reset" and cfg.leak_shift:
                m.d.comb += pre.eq(vs - (vs >> shift))
            else:
                m.d.comb += pre.eq(vs)
            reset = cfg.reset if not delayed or mut == "delayed_as_immediate" else "none"  # delayed: reset at integrate
            if mut == "reset_mode_swapped":
                reset = {"subtract": "zero", "zero": "subtract", "none": "subtract"}[reset]
            after = Signal(signed(cfg.membrane_bits), name=f"after{lane}")
            if reset == "subtract":
                diff = Signal(signed(cfg.membrane_bits + 2), name=f"diff{lane}")
                m.d.comb += diff.eq(pre - th)
                if mut == "subtract_no_saturation":
                    m.d.comb += after.eq(Mux(spike, diff, pre))
                else:
                    m.d.comb += after.eq(Mux(spike, Mux(diff < lo, lo, Mux(diff > hi, hi, diff)), pre))
            elif reset == "zero":
                to = {"reset_to_threshold": th, "reset_to_zero": Const(0, signed(cfg.membrane_bits))}.get(mut, vr)
                m.d.comb += after.eq(Mux(spike, to, pre))
            else:
                m.d.comb += after.eq(pre)
            leaked = Signal(signed(cfg.membrane_bits), name=f"leaked{lane}")
            if leak_on:
                m.d.comb += leaked.eq(after - (after >> shift))
            else:
                m.d.comb += leaked.eq(after)
            new_v.append(leaked)
            fired.append(spike)

        mask = Cat(*fired)
        with m.If(fire_valid):
            m.d.comb += [v_wr.en.eq(1), v_wr.addr.eq(fire_chunk), v_wr.data.eq(Cat(*new_v)),
                         out_fifo.w_data.eq(Cat(mask, fire_chunk)), out_fifo.w_en.eq(mask != 0)]
        with m.Elif(clearing):
            m.d.comb += [v_wr.en.eq(1), v_wr.addr.eq(chunk), v_wr.data.eq(0)]
        if delayed:
            # s' <- s in the fire write-back; cleared by the clear sweep and by a membrane write (CFG_V)
            with m.If(fire_valid):
                m.d.comb += [s_wr.en.eq(1), s_wr.addr.eq(fire_chunk), s_wr.data.eq(mask)]
            if mut != "delayed_prev_not_cleared":
                with m.Elif(clearing):
                    m.d.comb += [s_wr.en.eq(1), s_wr.addr.eq(chunk), s_wr.data.eq(0)]
                with m.Elif(cfg_write & (self.cfg_mem == CFG_V)):
                    m.d.comb += [s_wr.en.eq(1), s_wr.addr.eq(self.cfg_addr), s_wr.data.eq(0)]
        clear_acc = clearing if mut != "clear_keeps_acc" else Const(0)
        if not sparse:
            with m.If(int_valid):
                addr = chunk if mut == "acc_writeback_wrong_chunk" else int_chunk
                m.d.comb += [acc_wr.en.eq(1), acc_wr.addr.eq(addr), acc_wr.data.eq(Cat(*lanes_sum))]
            with m.Elif(fire_valid & (mut != "acc_not_cleared")):
                m.d.comb += [acc_wr.en.eq(1), acc_wr.addr.eq(fire_chunk), acc_wr.data.eq(0)]
            with m.Elif(clear_acc):
                m.d.comb += [acc_wr.en.eq(1), acc_wr.addr.eq(chunk), acc_wr.data.eq(0)]
            with m.Elif(cfg_write & (self.cfg_mem == CFG_ACC)):
                m.d.comb += [acc_wr.en.eq(1), acc_wr.addr.eq(self.cfg_addr), acc_wr.data.eq(self.cfg_data)]
        else:
            for n, acc in enumerate(accs):
                if mut != "acc_not_cleared":
                    with m.If(fire_valid & (fire_chunk == n // P)):
                        m.d.sync += acc.eq(0)
                with m.If(clear_acc & (chunk == n // P)):
                    m.d.sync += acc.eq(0)
                with m.If(cfg_write & (self.cfg_mem == CFG_ACC) & (self.cfg_addr == n // P)):
                    m.d.sync += acc.eq(self.cfg_data.word_select(n % P, cfg.acc_bits))
        return m


def pack_lanes(values, width: int) -> int:
    """One memory word: lane ``l`` in bits ``[l*width, (l+1)*width)``, two's complement."""
    word = 0
    for lane, v in enumerate(values):
        word |= (int(v) & ((1 << width) - 1)) << (lane * width)
    return word


def _initial_words(cfg: CoreConfig, program) -> dict[str, list[int]]:
    """Memory contents that bake a program (weights ``[axons, neurons]``, per-neuron codes) into the core."""
    import numpy as np

    P, C = cfg.lanes, cfg.chunks

    def chunks(values):
        padded = np.zeros(P * C, dtype=np.int64)
        padded[:len(values)] = values
        return padded.reshape(C, P)

    w = np.asarray(program.weights, dtype=np.int64)
    if w.shape != (cfg.axons, cfg.neurons):
        raise HDLError(f"CoreProgram.weights must have shape (axons, neurons) = {(cfg.axons, cfg.neurons)!r}, found {w.shape!r}")
    if cfg.storage == "sparse":
        words_, rowptr = sparse_layout(cfg, w)
        words = {"weights": words_, "rowptr": rowptr}
    else:
        words = {"weights": [pack_lanes(chunk, cfg.weight_bits) for row in w for chunk in chunks(row)]}
    for name, key in (("bias", "bias"), ("threshold", "threshold"), ("v_reset", "v_reset")):
        words[name] = [pack_lanes(chunk, cfg.membrane_bits) for chunk in chunks(getattr(program, key))]
    return words


def sparse_layout(cfg: CoreConfig, weights) -> tuple[list[int], list[int]]:
    """CSR rows of ``weights[axons, neurons]``: the row memory's words (``lanes`` entries of
    valid, neuron, weight each) and one row pointer per axon (start word | words << addr bits)."""
    import numpy as np

    from neurosim.targets.neuromorphic.hdl.config import HDLError

    nb, wb = _bits(cfg.neurons), cfg.weight_bits
    addr_bits = _bits(cfg.row_words)
    words, rowptr = [], []
    for row in np.asarray(weights, dtype=np.int64):
        nz = np.nonzero(row)[0]
        start = len(words)
        for k in range(0, len(nz), cfg.lanes):
            entries = [(int(row[n]) & ((1 << wb) - 1)) | (int(n) << wb) | (1 << (wb + nb)) for n in nz[k:k + cfg.lanes]]
            words.append(pack_lanes(entries, wb + nb + 1))
        rowptr.append(start | ((len(words) - start) << addr_bits))
    if len(words) > cfg.row_words:
        raise HDLError(f"CoreConfig.sparse_words must be at least {len(words)} for this program, found {cfg.row_words!r}")
    return words, rowptr
