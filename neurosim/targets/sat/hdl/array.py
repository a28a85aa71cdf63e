"""The SAT PE array in amaranth: the RTL twin of the tile contract (:mod:`neurosim.targets.sat.model.tile`).

``rows`` x ``cols`` :class:`~neurosim.targets.sat.hdl.pe.SparsePE`, weight stationary and systolic,
behind three ``lib.stream`` interfaces:

``weights`` (in)
    ``rows`` beats per tile; beat ``r`` carries the ``cols`` weight sets of PE row ``r`` (set
    ``c`` for PE ``(r, c)``: its ``groups * n`` values and offsets, see
    :func:`~neurosim.targets.sat.hdl.pe.group_layout`) and the ``dense`` mode bit, sampled with the first
    beat. Beats enter a shift chain at the bottom row and move up one row per beat, so after
    ``rows`` beats beat ``r`` sits in row ``r``.
``acts`` (in)
    ``t`` beats per tile, each ``rows * W`` activations with ``W = groups * m`` (row ``r`` uses
    window ``[r*W, (r+1)*W)``, its group ``g`` the sub-window ``[r*W + g*m, r*W + (g+1)*m)``)
    and ``last``, which ends the tile.
``out`` (out)
    one beat per activation beat: the ``cols`` column sums ``y[c] = sum_r p(r, c)`` and ``last``.

Datapath, one *advance* at a time: row ``r`` sees activation beat ``i`` ``r`` advances late (an
``r``-deep skew register; row 0 takes the stream payload directly), PE ``(r, c)`` registers the
window for ``(r, c+1)`` and its partial sum for ``(r+1, c)``, and column ``c``'s sum leaves the
bottom row ``c`` advances after column 0's, so ``cols - 1 - c`` de-skew registers align the
columns. A token line of ``rows + cols - 1`` (valid, last) stages tracks the beats, so output
beat ``i`` is offered ``rows + cols - 1`` cycles after activation beat ``i`` was taken.

Control (``LOAD`` -> ``STREAM`` -> ``DRAIN`` -> ``LOAD``): ``LOAD`` takes ``rows`` weight beats
(``weights.ready`` high), ``STREAM`` takes activation beats up to ``last``, ``DRAIN`` waits for
the output beat marked ``last`` and returns to ``LOAD`` in the same edge, so the next tile's first
weight beat can be taken in the very next cycle. Weights of a tile and activations of the next
never overlap, which is what makes a tile take exactly ``2R + C + T - 1`` cycles and a sequence
of tiles the sum of them.

Stream protocol: every handshake output is a register or a function of registers only --
``weights.ready`` and ``acts.ready`` of the phase and the skid buffer's state, ``out.valid`` and
``out.payload`` of the pipeline's last stage and the skid buffer -- so no output depends
combinationally on any input, and no valid on its own ready. The output stream has a 2-entry
skid buffer: its main entry is the pipeline's last stage itself (the token line's last stage and
the de-skewed sums; no extra latency), its second entry ``skid`` takes a beat the sink refuses
while the pipeline advances. The pipeline advances every cycle except while ``skid`` is full
(``adv = ~skid_valid``, a register: the stall no longer fans out from the ``out.ready`` pin), and
``acts.ready`` is low while it holds. An activation gap does not stall: it enters the pipeline
as a bubble (an invalid token), which leaves the bottom as a cycle without an output beat.

Cycle contract: with always-valid sources and an always-ready sink a tile takes
``2R + C + T - 1`` cycles, as before. Each cycle in which the sink refuses a valid output beat
adds exactly one (that beat moves into ``skid``, the pipeline holds the next cycle), each cycle
in which the array is ready for an activation beat that is not offered adds exactly one (a
bubble), and each cycle a weight beat after the first is due and not offered adds one. The
first two can fall in the same cycle (a bubble enters at the top while a beat waits at the
bottom) and then add two: unlike the old global stall, they are independent events.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from neurosim.errors import SATConfigError
from neurosim.targets.sat.hdl.config import SATConfig
from neurosim.targets.sat.hdl.pe import SparsePE, group_layout

#: the array's phases (see module docstring); GAP exists only in the `late_weight_ready` mutation
LOAD, STREAM, DRAIN, GAP = 0, 1, 2, 3


def weight_beat_layout(cfg: SATConfig) -> data.StructLayout:
    return data.StructLayout({"groups": data.ArrayLayout(group_layout(cfg), cfg.cols), "dense": 1})


def act_beat_layout(cfg: SATConfig) -> data.StructLayout:
    return data.StructLayout({"x": data.ArrayLayout(signed(cfg.act_bits), cfg.rows * cfg.window), "last": 1})


def out_beat_layout(cfg: SATConfig) -> data.StructLayout:
    return data.StructLayout({"y": data.ArrayLayout(signed(cfg.acc_bits), cfg.cols), "last": 1})


class SATArray(wiring.Component):
    """The R x C array with its streams (see module docstring); ``cfg`` fixes its structure."""

    #: deliberate bugs of the array for the verification's self-test (the testbench must catch
    #: each of them; what each one breaks: :data:`MUTATION_DOCS`)
    ARRAY_MUTATIONS = ("extra_output_stage", "late_weight_ready", "deskew_ignores_stall", "dense_last_beat",
                       "mode_ignored", "weight_chain_order", "skew_short", "deskew_short", "last_early",
                       "skew_ignores_stall", "token_ignores_stall", "pe_ignores_stall", "valid_dropped",
                       "payload_unstable", "valid_waits_for_ready", "stall_from_ready_pin", "weights_ready_in_drain",
                       "acts_ready_ignores_stall", "duplicate_beat", "bubble_as_beat")
    #: every mutation: the array's and the PE's (forwarded to every :class:`SparsePE`)
    MUTATIONS = ARRAY_MUTATIONS + SparsePE.MUTATIONS
    #: the default suite's quick subset (one of each kind: datapath, timing, mode bit, protocol);
    #: the slow campaign (``tests/targets/sat/test_mutation.py``) runs all of them
    QUICK_MUTATIONS = ("offset_off_by_one", "extra_output_stage", "late_weight_ready", "deskew_ignores_stall",
                       "neighbour_group", "dense_last_beat", "valid_waits_for_ready", "stall_from_ready_pin",
                       "duplicate_beat")
    #: what a mutation needs of the build to exist at all: (test, what it needs, the field shown)
    _NEEDS = {
        "neighbour_group": (lambda c: c.groups >= 2, "groups >= 2", "groups", "a grouped array"),
        "dense_last_beat": (lambda c: c.rows >= 2, "rows >= 2", "rows", "an array of two rows or more"),
        "weight_chain_order": (lambda c: c.rows >= 2, "rows >= 2", "rows", "an array of two rows or more"),
        "skew_short": (lambda c: c.rows >= 2, "rows >= 2", "rows", "an array of two rows or more"),
        "skew_ignores_stall": (lambda c: c.rows >= 2, "rows >= 2", "rows", "an array of two rows or more"),
        "deskew_short": (lambda c: c.cols >= 2, "cols >= 2", "cols", "an array of two columns or more"),
        "deskew_ignores_stall": (lambda c: c.cols >= 2, "cols >= 2", "cols", "an array of two columns or more"),
        "last_early": (lambda c: c.latency >= 2, "rows + cols >= 3", "rows", "a larger array"),
    }

    def __init__(self, cfg: SATConfig, *, mutate: str | None = None):
        if not isinstance(cfg, SATConfig):
            raise SATConfigError(f"SATArray needs a SATConfig, found {type(cfg).__name__!r}; build one with "
                                 f"SATConfig(rows=..., cols=..., n=..., m=...)")
        if mutate is not None and mutate not in self.MUTATIONS:
            raise SATConfigError(f"SATArray mutate must be one of {self.MUTATIONS!r} or None, found {mutate!r}; "
                                 f"leave it None outside the verification self-test")
        if mutate in self._NEEDS:
            ok, need, fld, fix = self._NEEDS[mutate]
            if not ok(cfg):
                raise SATConfigError(f"SATArray mutate {mutate!r} needs {need}, found {fld} = {getattr(cfg, fld)!r}; "
                                     f"mutate {fix}")
        self.cfg = cfg
        self.mutate = mutate
        super().__init__({
            "weights": In(stream.Signature(weight_beat_layout(cfg))),
            "acts": In(stream.Signature(act_beat_layout(cfg))),
            "out": Out(stream.Signature(out_beat_layout(cfg))),
        })

    def elaborate(self, platform):
        cfg = self.cfg
        R, C = cfg.rows, cfg.cols
        window = cfg.window * cfg.act_bits
        mut = self.mutate
        depth = cfg.latency + (1 if mut == "extra_output_stage" else 0)
        m = Module()

        # -- the output skid buffer and the stall ------------------------------------------------
        # The pipeline's last stage (tok_*[-1] and the de-skewed sums) is the buffer's main entry;
        # `skid` is its second. A beat refused while the pipeline advances moves into `skid`, and
        # the pipeline holds (adv = 0) exactly while `skid` is full: the stall is a register, not
        # the out.ready pin, and out.valid/out.payload are registers too.
        tok_valid = [Signal(name=f"tok_valid{k}") for k in range(depth)]
        tok_last = [Signal(name=f"tok_last{k}") for k in range(depth)]
        y_main = Signal(data.ArrayLayout(signed(cfg.acc_bits), C))  # the de-skewed sums (wires of registers)
        skid_valid = Signal()
        skid = Signal(out_beat_layout(cfg))
        main_last = tok_last[-2] if mut == "last_early" else tok_last[-1]
        main_valid = tok_valid[-1]
        adv = Signal()  # every pipeline register moves
        streaming = Signal()  # STREAM: activation beats are taken
        take = Signal()  # an activation beat is handshaken
        if mut == "stall_from_ready_pin":  # the old global stall: the pin fans out to every enable
            m.d.comb += adv.eq(~skid_valid & (self.out.ready | ~main_valid))
        elif mut == "valid_dropped":  # a refused beat is not kept: the pipeline moves on
            m.d.comb += adv.eq(1)
        else:
            m.d.comb += adv.eq(~skid_valid)
        out_valid = skid_valid | main_valid
        m.d.comb += [
            self.acts.ready.eq(streaming if mut == "acts_ready_ignores_stall" else streaming & adv),
            take.eq(self.acts.valid & self.acts.ready),
            self.out.valid.eq(out_valid & self.out.ready if mut == "valid_waits_for_ready" else out_valid),
        ]
        # a Mux (a continuous assignment), not m.If: Icarus leaves an `always @*` block whose inputs
        # have not changed since time 0 at X, and the first output beat may well be all zeros
        main = Cat(y_main, main_last)
        m.d.comb += self.out.payload.eq(main if mut == "payload_unstable" else Mux(skid_valid, skid, main))
        if mut != "valid_dropped":
            with m.If(adv & main_valid & ~self.out.ready):
                m.d.sync += [skid_valid.eq(1), skid.y.eq(y_main), skid.last.eq(main_last)]
        again = Signal()  # duplicate_beat: the skid's beat is shown a second time
        with m.If(skid_valid & self.out.ready):
            if mut == "duplicate_beat":
                m.d.sync += [again.eq(~again), skid_valid.eq(~again)]
            else:
                m.d.sync += skid_valid.eq(0)

        # -- beat tracking: a bubble wherever no activation beat was taken ------------------------
        tok_en = 1 if mut == "token_ignores_stall" else adv
        with m.If(tok_en):
            m.d.sync += [tok_valid[0].eq(streaming if mut == "bubble_as_beat" else take),
                         tok_last[0].eq(self.acts.payload.last & take)]
            for k in range(1, depth):
                m.d.sync += [tok_valid[k].eq(tok_valid[k - 1]), tok_last[k].eq(tok_last[k - 1])]

        # -- phases: weight load, stream, drain ----------------------------------------------------
        # a phase register and unconditional decodes, not m.FSM: Icarus leaves an `always @*`
        # decode of a state that has not changed since time 0 at X (weights.ready of the first tile)
        phase = Signal(2, init=LOAD)
        load = Signal()  # a weight beat is taken: the load chain shifts
        dense = Signal()  # the tile's mode, sampled with its first weight beat
        row = Signal(range(R))  # weight beats taken so far
        m.d.comb += [
            self.weights.ready.eq(phase != STREAM if mut == "weights_ready_in_drain" else phase == LOAD),
            streaming.eq(phase == STREAM),
            load.eq(self.weights.valid & self.weights.ready),
        ]
        with m.If(load):
            m.d.sync += row.eq(row + 1)
            with m.If(row == (R - 1 if mut == "dense_last_beat" else 0)):
                m.d.sync += dense.eq(self.weights.payload.dense)
            with m.If(row == R - 1):
                m.d.sync += [row.eq(0), phase.eq(STREAM)]
        with m.If(take & self.acts.payload.last):
            m.d.sync += phase.eq(DRAIN)
        with m.If(self.out.valid & self.out.ready & self.out.payload.last):
            m.d.sync += phase.eq(GAP if mut == "late_weight_ready" else LOAD)
        if mut == "late_weight_ready":
            with m.If(phase == GAP):
                m.d.sync += phase.eq(LOAD)

        # -- input skew: row r's window enters r advances late -------------------------------------
        x_all = self.acts.payload.x.as_value()
        row_x = []
        for r in range(R):
            x = x_all[r * window:(r + 1) * window]
            n_skew = r - 1 if mut == "skew_short" and r == R - 1 else r
            skew_en = 1 if mut == "skew_ignores_stall" and r == R - 1 else adv
            for k in range(n_skew):
                reg = Signal(window, name=f"skew{r}_{k}")
                with m.If(skew_en):
                    m.d.sync += reg.eq(x)
                x = reg
            row_x.append(x)

        # -- the PE grid: windows move right, partial sums down, weights load bottom-up ------------
        pe_mutation = mut if mut in SparsePE.MUTATIONS else None
        pes = [[SparsePE(cfg, mutate=pe_mutation)
                for _ in range(C)] for _ in range(R)]
        for r in range(R):
            for c in range(C):
                pe = pes[r][c]
                m.submodules[f"pe_{r}_{c}"] = pe
                if mut == "weight_chain_order":  # beats enter at the top and shift down
                    w_in = self.weights.payload.groups[c] if r == 0 else pes[r - 1][c].w_out
                else:
                    w_in = self.weights.payload.groups[c] if r == R - 1 else pes[r + 1][c].w_out
                m.d.comb += [
                    pe.x.eq(row_x[r] if c == 0 else pes[r][c - 1].x_out),
                    pe.psum_in.eq(0 if r == 0 else pes[r - 1][c].psum_out),
                    pe.w_in.eq(w_in), pe.load.eq(load),
                    pe.en.eq(1 if mut == "pe_ignores_stall" and (r, c) == (R - 1, C - 1) else adv),
                    pe.dense.eq(0 if mut == "mode_ignored" else dense),
                ]

        # -- output de-skew: column c waits cols - 1 - c advances ----------------------------------
        extra = 1 if mut == "extra_output_stage" else 0
        deskew_en = 1 if mut == "deskew_ignores_stall" else adv
        for c in range(C):
            y = pes[R - 1][c].psum_out
            n_deskew = C - 2 if mut == "deskew_short" and c == 0 else C - 1 - c
            for k in range(n_deskew + extra):
                reg = Signal(signed(cfg.acc_bits), name=f"deskew{c}_{k}")
                with m.If(deskew_en):
                    m.d.sync += reg.eq(y)
                y = reg
            m.d.comb += y_main[c].eq(y)
        return m


#: what each mutation breaks (the campaign's table and docs/sat_rtl.md)
MUTATION_DOCS = {
    "extra_output_stage": "one more output register stage: outputs right, one cycle late",
    "late_weight_ready": "an idle cycle before the next tile's weights",
    "deskew_ignores_stall": "the de-skew registers advance during a stall",
    "dense_last_beat": "the dense bit is sampled on the last weight beat instead of the first",
    "mode_ignored": "the dense bit never reaches the PEs: dense tiles run sparse",
    "weight_chain_order": "weight beats enter the chain at the top row: row r holds beat R-1-r",
    "skew_short": "the last row's input skew is one register short",
    "deskew_short": "column 0's output de-skew is one register short",
    "last_early": "out.last comes from the token one stage early (the beat before the last)",
    "skew_ignores_stall": "the last row's skew registers advance during a stall",
    "token_ignores_stall": "the token line (valid, last) advances during a stall",
    "pe_ignores_stall": "the bottom-right PE's registers advance during a stall",
    "valid_dropped": "a refused output beat is not kept: valid drops before the handshake",
    "payload_unstable": "while the skid holds a refused beat, out.payload shows the next one",
    "valid_waits_for_ready": "out.valid is gated by out.ready (valid depends on ready)",
    "stall_from_ready_pin": "the stall comes from the out.ready pin, not the skid register (the old design)",
    "weights_ready_in_drain": "weights.ready is high while the tile drains",
    "acts_ready_ignores_stall": "acts.ready stays high while the array stalls",
    "duplicate_beat": "a beat refused into the skid is output twice",
    "bubble_as_beat": "an activation gap enters the pipeline as a valid beat",
    "offset_off_by_one": "the sparse select uses off + 1 (mod m)",
    "neighbour_group": "each weight's m-to-1 select reads the next group's sub-window",
    "act_unsigned": "activations are multiplied as unsigned values",
    "weight_unsigned": "weights are multiplied as unsigned values",
    "acc_narrow": "the accumulator is one bit narrower than acc_bits (wraps near full scale)",
}


# -- beats as integers (the flattened stream payloads), for testbenches and job files ----------------

def _field(value: int, bits: int) -> int:
    return int(value) & ((1 << bits) - 1)


def pack_weight_beat(cfg: SATConfig, values, offsets, dense: bool) -> int:
    """One weight beat: ``values[c][j]``, ``offsets[c][j]`` (``j < groups * n``, weight ``j`` in
    group ``j // n``, its offset into that group's sub-window) of the ``cols`` PEs of a row."""
    word, pos = 0, 0
    for c in range(cfg.cols):
        for j in range(cfg.lanes):
            word |= _field(values[c][j], cfg.weight_bits) << pos
            pos += cfg.weight_bits
        for j in range(cfg.lanes if not cfg.dense_only else 0):
            word |= _field(offsets[c][j], cfg.offset_bits) << pos
            pos += cfg.offset_bits
    return word | (int(bool(dense)) << pos)


def pack_act_beat(cfg: SATConfig, x, last: bool) -> int:
    """One activation beat: the ``rows * groups * m`` activations ``x`` and the ``last`` flag."""
    word = 0
    for k, v in enumerate(x):
        word |= _field(v, cfg.act_bits) << (k * cfg.act_bits)
    return word | (int(bool(last)) << (cfg.rows * cfg.window * cfg.act_bits))


def unpack_out_beat(cfg: SATConfig, word: int) -> tuple[list[int], bool]:
    """An output beat's ``cols`` signed sums and its ``last`` flag."""
    b = cfg.acc_bits
    ys = []
    for c in range(cfg.cols):
        v = (word >> (c * b)) & ((1 << b) - 1)
        ys.append(v - (1 << b) if v >> (b - 1) else v)
    return ys, bool(word >> (cfg.cols * b) & 1)
