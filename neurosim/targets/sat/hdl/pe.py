"""The SAT processing element in amaranth: ``groups`` N:M weight groups, index select, multipliers.

A PE of the weight-stationary array (:mod:`neurosim.targets.sat.hdl.array`) holds ``groups`` weight
*groups* of ``n`` signed weights each (``L = groups * n`` weights, one multiplier each) and, in a
sparse build (``n < m``), an offset per weight into its own group's sub-window of ``m``
activations; the window that passes through the PE is ``groups * m`` activations wide. Weight
``j`` belongs to group ``g = j // n``. Each cycle the array advances (``en``) it computes

    psum_out <= psum_in + sum_j w_j * x[sel_j],
    sel_j = j (dense mode) or g * m + off_j (sparse mode)

and hands its window on to the PE on its right (``x_out <= x``). The index select is what a
sparse PE adds to a dense one: per weight an m-to-1 multiplexer of ``act_bits`` over its group's
sub-window (not a ``groups * m``-to-1 one over the whole window: that is what grouping saves) and
an offset register (plus the wider activation register, ``groups * m`` instead of ``L``
activations). In dense mode weight ``j`` meets activation ``j``; when that activation lies
outside its group's sub-window (``j // m != j // n``, only with ``groups > 1``), a 2-to-1
multiplexer after the m-to-1 one supplies it. A dense-only build (``n == m``) has neither:
weight ``j`` always meets activation ``j``. ``groups = 1`` is the one-group PE, Verilog
unchanged.

Weights arrive through a shift chain (``w_in`` -> stored weights -> ``w_out``, on ``load``), so
the array needs no row decoder. Products and sums are exact at ``acc_bits`` (checked by
:class:`~neurosim.targets.sat.hdl.config.SATConfig`).
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from neurosim.errors import SATConfigError
from neurosim.targets.sat.hdl.config import SATConfig


def group_layout(cfg: SATConfig) -> data.StructLayout:
    """One PE's weights: ``groups * n`` signed values (weight ``j`` in group ``j // n``), then
    (sparse builds) as many offsets below ``m``, each into its own group's sub-window."""
    fields = {"values": data.ArrayLayout(signed(cfg.weight_bits), cfg.lanes)}
    if not cfg.dense_only:
        fields["offsets"] = data.ArrayLayout(cfg.offset_bits, cfg.lanes)
    return data.StructLayout(fields)


class SparsePE(wiring.Component):
    """One PE (see module docstring); ``cfg`` gives groups, n, m and the widths (rows/cols are unused)."""

    #: deliberate bugs for the verification's self-test (the testbench must catch each of them);
    #: ``neighbour_group``: every weight's m-to-1 multiplexer reads the next group's sub-window;
    #: ``act_unsigned``/``weight_unsigned``: that operand multiplied as unsigned; ``acc_narrow``:
    #: the partial sum kept in ``acc_bits - 1`` bits (wraps only near full scale)
    MUTATIONS = ("offset_off_by_one", "neighbour_group", "act_unsigned", "weight_unsigned", "acc_narrow")
    #: the mutations of the offset select, which a dense-only build does not have
    SPARSE_MUTATIONS = ("offset_off_by_one", "neighbour_group")

    def __init__(self, cfg: SATConfig, *, mutate: str | None = None):
        if not isinstance(cfg, SATConfig):
            raise SATConfigError(f"SparsePE needs a SATConfig, found {type(cfg).__name__!r}; build one with "
                                 f"SATConfig(n=..., m=...)")
        if mutate is not None and mutate not in self.MUTATIONS:
            raise SATConfigError(f"SparsePE mutate must be one of {self.MUTATIONS!r} or None, found {mutate!r}; "
                                 f"leave it None outside the verification self-test")
        if mutate in self.SPARSE_MUTATIONS and cfg.dense_only:
            raise SATConfigError(f"SparsePE mutate {mutate!r} needs a sparse build (n < m), found "
                                 f"n:m = {cfg.pattern!r}; mutate a sparse PE")
        if mutate == "neighbour_group" and cfg.groups < 2:
            raise SATConfigError(f"SparsePE mutate 'neighbour_group' needs groups >= 2, found groups = {cfg.groups!r}; "
                                 f"mutate a grouped PE")
        self.cfg = cfg
        self.mutate = mutate
        window = cfg.window * cfg.act_bits
        super().__init__({
            "x": In(window),  # activation k of the window in bits [k * act_bits, (k + 1) * act_bits)
            "x_out": Out(window),  # the window, one advance later, for the PE on the right
            "psum_in": In(signed(cfg.acc_bits)),  # partial sum of the PEs above
            "psum_out": Out(signed(cfg.acc_bits)),  # psum_in + this PE's products, registered
            "w_in": In(group_layout(cfg)),  # the weights shifted in on `load`
            "w_out": Out(group_layout(cfg)),  # the stored weights (next link of the load chain)
            "load": In(1),
            "en": In(1),  # advance: the array's global stall holds every pipeline register
            "dense": In(1),  # 1: weight j meets activation j, offsets ignored
        })

    def elaborate(self, platform):
        cfg = self.cfg
        a_bits, w_bits = cfg.act_bits, cfg.weight_bits
        m = Module()

        # -- the stored weight group (a link of the array's load chain) ---------------------------
        group = Signal(group_layout(cfg))
        with m.If(self.load):
            m.d.sync += group.eq(self.w_in)
        m.d.comb += self.w_out.eq(group)

        # -- index select and multiply, per weight -------------------------------------------------
        # named, typed wires for every field keep signedness explicit in the Verilog, and the
        # select is a Mux chain over raw bits (continuous assignments, no Array case block)
        prods = []
        for j in range(cfg.lanes):
            w = Signal(signed(w_bits), name=f"w{j}")
            m.d.comb += w.eq(group.values[j])
            if cfg.dense_only:
                raw = self.x.word_select(j, a_bits)
            else:
                g = j // cfg.n  # the weight's group: it selects from x[g*m : (g+1)*m] only
                src = (g + 1) % cfg.groups if self.mutate == "neighbour_group" else g
                off = Signal(cfg.offset_bits, name=f"off{j}")
                m.d.comb += off.eq(group.offsets[j])
                if self.mutate == "offset_off_by_one":
                    off = Mux(off == cfg.m - 1, 0, off + 1)
                sel = Signal(cfg.offset_bits, name=f"sel{j}")
                inside = j // cfg.m == g  # dense mode's activation j lies in the group's sub-window
                m.d.comb += sel.eq(Mux(self.dense, j - g * cfg.m, off) if inside else off)
                # an m-to-1 multiplexer as a binary tree, one level per select bit
                level = [self.x.word_select(src * cfg.m + k, a_bits) for k in range(cfg.m)]
                for b in range(cfg.offset_bits):
                    level = [Mux(sel[b], level[i + 1], level[i]) if i + 1 < len(level) else level[i]
                             for i in range(0, len(level), 2)]
                raw = level[0] if inside else Mux(self.dense, self.x.word_select(j, a_bits), level[0])
            a = Signal(signed(a_bits), name=f"a{j}")
            prod = Signal(signed(a_bits + w_bits), name=f"prod{j}")
            m.d.comb += a.eq(raw)
            if self.mutate == "act_unsigned":
                m.d.comb += prod.eq(a.as_unsigned() * w)
            elif self.mutate == "weight_unsigned":
                m.d.comb += prod.eq(a * w.as_unsigned())
            else:
                m.d.comb += prod.eq(a * w)
            prods.append(prod)

        # -- accumulate into the column's partial sum ----------------------------------------------
        total = self.psum_in
        for prod in prods:
            total = total + prod
        if self.mutate == "acc_narrow":  # one bit short: the sum wraps at acc_bits - 1, sign-extended
            narrow = Signal(signed(cfg.acc_bits - 1))
            m.d.comb += narrow.eq(total)
            total = narrow
        with m.If(self.en):
            m.d.sync += [self.psum_out.eq(total), self.x_out.eq(self.x)]
        return m


class RegisteredPE(wiring.Component):
    """A PE behind a register on every input, for synthesis only: out of context, nextpnr times
    register-to-register paths, so the window -> select -> multiply -> add path of a bare PE
    (fed by its left neighbour's register in the array) would go untimed."""

    def __init__(self, cfg: SATConfig):
        self._pe = SparsePE(cfg)
        super().__init__(self._pe.signature)

    def elaborate(self, platform):
        m = Module()
        m.submodules.pe = pe = self._pe
        for name in ("x", "psum_in", "w_in", "load", "en", "dense"):
            m.d.sync += getattr(pe, name).eq(getattr(self, name))
        m.d.comb += [self.x_out.eq(pe.x_out), self.psum_out.eq(pe.psum_out), self.w_out.eq(pe.w_out)]
        return m
