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
beat ``i`` is handshaken ``rows + cols - 1`` cycles after activation beat ``i``.

Control (``LOAD`` -> ``STREAM`` -> ``DRAIN`` -> ``LOAD``): ``LOAD`` takes ``rows`` weight beats
(``weights.ready`` high), ``STREAM`` takes activation beats up to ``last``, ``DRAIN`` waits for
the output beat marked ``last`` and returns to ``LOAD`` in the same edge, so the next tile's first
weight beat can be taken in the very next cycle. Weights of a tile and activations of the next
never overlap, which is what makes a tile take exactly ``2R + C + T - 1`` cycles and a sequence
of tiles the sum of them.

Global stall: the array advances every cycle except when the output beat is valid and
``out.ready`` is low, or when an activation beat is due (``STREAM``) and ``acts.valid`` is low;
then every pipeline register holds, and ``out.valid`` is held low during an activation gap so
that no output is taken twice. Each such cycle adds exactly one cycle to the tile.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal, signed
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

    #: deliberate bugs for the verification's self-test (the testbench must catch each of them)
    MUTATIONS = ("offset_off_by_one", "extra_output_stage", "late_weight_ready", "deskew_ignores_stall",
                 "neighbour_group")

    def __init__(self, cfg: SATConfig, *, mutate: str | None = None):
        if not isinstance(cfg, SATConfig):
            raise SATConfigError(f"SATArray needs a SATConfig, found {type(cfg).__name__!r}; build one with "
                                 f"SATConfig(rows=..., cols=..., n=..., m=...)")
        if mutate is not None and mutate not in self.MUTATIONS:
            raise SATConfigError(f"SATArray mutate must be one of {self.MUTATIONS!r} or None, found {mutate!r}; "
                                 f"leave it None outside the verification self-test")
        if mutate == "neighbour_group" and cfg.groups < 2:
            raise SATConfigError(f"SATArray mutate 'neighbour_group' needs groups >= 2, found groups = {cfg.groups!r}; "
                                 f"mutate a grouped array")
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
        depth = cfg.latency + (1 if self.mutate == "extra_output_stage" else 0)
        m = Module()

        # -- beat tracking and the global stall --------------------------------------------------
        # tok_valid[k]/tok_last[k]: a beat (and whether it ends the tile) k + 1 advances after it entered
        tok_valid = [Signal(name=f"tok_valid{k}") for k in range(depth)]
        tok_last = [Signal(name=f"tok_last{k}") for k in range(depth)]
        streaming = Signal()  # STREAM: an activation beat is due
        out_stall = Signal()  # the output beat is valid and the sink does not take it
        act_gap = Signal()  # a beat is due and the source offers none
        adv = Signal()  # every pipeline register moves
        m.d.comb += [
            out_stall.eq(tok_valid[-1] & ~self.out.ready),
            act_gap.eq(streaming & ~self.acts.valid),
            adv.eq(~out_stall & ~act_gap),
            self.acts.ready.eq(streaming & ~out_stall),
            self.out.valid.eq(tok_valid[-1] & ~act_gap),
            self.out.payload.last.eq(tok_last[-1]),
        ]
        with m.If(adv):
            m.d.sync += [tok_valid[0].eq(streaming), tok_last[0].eq(self.acts.payload.last)]
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
            self.weights.ready.eq(phase == LOAD),
            streaming.eq(phase == STREAM),
            load.eq(self.weights.valid & self.weights.ready),
        ]
        with m.If(load):
            m.d.sync += row.eq(row + 1)
            with m.If(row == 0):
                m.d.sync += dense.eq(self.weights.payload.dense)
            with m.If(row == R - 1):
                m.d.sync += [row.eq(0), phase.eq(STREAM)]
        with m.If(self.acts.valid & self.acts.ready & self.acts.payload.last):
            m.d.sync += phase.eq(DRAIN)
        with m.If(self.out.valid & self.out.ready & tok_last[-1]):
            m.d.sync += phase.eq(GAP if self.mutate == "late_weight_ready" else LOAD)
        if self.mutate == "late_weight_ready":
            with m.If(phase == GAP):
                m.d.sync += phase.eq(LOAD)

        # -- input skew: row r's window enters r advances late -------------------------------------
        x_all = self.acts.payload.x.as_value()
        row_x = []
        for r in range(R):
            x = x_all[r * window:(r + 1) * window]
            for k in range(r):
                reg = Signal(window, name=f"skew{r}_{k}")
                with m.If(adv):
                    m.d.sync += reg.eq(x)
                x = reg
            row_x.append(x)

        # -- the PE grid: windows move right, partial sums down, weights load bottom-up ------------
        pe_mutation = self.mutate if self.mutate in SparsePE.MUTATIONS else None
        pes = [[SparsePE(cfg, mutate=pe_mutation)
                for _ in range(C)] for _ in range(R)]
        for r in range(R):
            for c in range(C):
                pe = pes[r][c]
                m.submodules[f"pe_{r}_{c}"] = pe
                m.d.comb += [
                    pe.x.eq(row_x[r] if c == 0 else pes[r][c - 1].x_out),
                    pe.psum_in.eq(0 if r == 0 else pes[r - 1][c].psum_out),
                    pe.w_in.eq(self.weights.payload.groups[c] if r == R - 1 else pes[r + 1][c].w_out),
                    pe.load.eq(load), pe.en.eq(adv), pe.dense.eq(dense),
                ]

        # -- output de-skew: column c waits cols - 1 - c advances ----------------------------------
        extra = 1 if self.mutate == "extra_output_stage" else 0
        deskew_en = 1 if self.mutate == "deskew_ignores_stall" else adv
        for c in range(C):
            y = pes[R - 1][c].psum_out
            for k in range(C - 1 - c + extra):
                reg = Signal(signed(cfg.acc_bits), name=f"deskew{c}_{k}")
                with m.If(deskew_en):
                    m.d.sync += reg.eq(y)
                y = reg
            m.d.comb += self.out.payload.y[c].eq(y)
        return m


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
