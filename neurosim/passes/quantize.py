r"""The quantize pass: a float graph -> the fixed-point graph the hardware runs.

    qg = quantize(graph, weight_bits=8, state_bits=16, acc_bits=32)
    run(qg.graph, x, mode="fixed")        # integer semantics of neurosim.targets.neuromorphic.model.reference
    print(qg.table())                     # per-layer report

**Why one scale per population.** LIF, IF and CubaLIF are linear in the membrane (and the
current) between spikes, and firing compares the membrane with the threshold. Multiplying every
incoming weight and projection bias, the neuron bias, the threshold and the reset value of a
population by one factor ``s > 0`` multiplies its membrane (and current) by ``s`` at every step
and leaves its spikes unchanged. The pass picks ``s`` per spiking population so that the integer
codes use the available bits, then rounds (with :meth:`FixedPoint.quantize`, the single rounding
rule). Inputs are spike counts and need no scaling; so are the spikes between layers.

Per population (populations that share an incoming projection share one ``s``):

1. fold ``gain`` (and ``syn_gain`` for CubaLIF) into the incoming weights and projection biases;
2. ``s = (2**(weight_bits-1) - 1) / max |w|`` over the incoming weights *and projection biases*
   (both are stored in the weight format, so neither is clipped);
3. if that puts ``s * threshold``, ``s * v_reset`` or ``s * bias`` outside the membrane range,
   ``s`` is reduced so that the largest of them is ``(2**(state_bits-1) - 1) // 4`` (two bits of
   headroom above the threshold);
4. weights/biases -> ``FixedPoint(weight_bits, 0)`` codes, threshold/bias/v_reset ->
   ``FixedPoint(state_bits, 0)`` codes; a positive threshold is at least 1 code;
5. leak (the chip's :class:`Arithmetic`; without one, ``shift``), ``leak="none"`` wherever every
   decay is 1:

   * ``shift``: ``decay -> 1 - 2**-k`` with ``k`` in ``1..state_bits-1`` minimising
     ``|1 - 2**-k - decay|`` (ties: the smaller ``k``). Per-neuron decays: the shift of the mean
     decay, provided the best shifts of the individual neurons span at most one step; otherwise
     :class:`UnsupportedError`.
   * ``mult`` (``leak_bits = b``, Loihi: 12): ``d = rint(decay * 2**b)`` clipped to ``0..2**b``, so
     the realised decay ``d / 2**b`` is within ``2**-(b+1)`` of the float one. Per-neuron decays:
     one code per population; codes that differ by one are replaced by the code of the mean decay
     (a note says so), codes further apart raise :class:`UnsupportedError` (split the population).
   * ``linear`` (TrueNorth, ODIN): a linear leak cannot equal an exponential one; ``lambda`` is
     the amount the exponential leak removes at the middle of the sub-threshold range,
     ``lambda = rint(mean((1 - decay) * theta_code / 2))`` (clipped to ``0..2**leak_bits - 1``):
     the two agree at ``v = theta/2``, the linear leak removes more below it and less above. The
     report's effective decay is ``1 - lambda / (theta_code / 2)``, the factor at that point. The
     float ``decay`` stays on the node (fixed point does not constrain it with this leak).

   CubaLIF's ``syn_decay`` likewise with the chip's current leak (``syn_shift`` for ``shift``;
   ``syn_shift = 0`` where ``syn_decay == 1``; the linear current leak uses the same mid-point).
6. input shift (the chip's weight exponent, ``Arithmetic.input_shift_min..max``; Loihi 0..13,
   every other preset 0): the weights keep the scale of step 2 (their mantissa uses all
   ``weight_bits``) and the membrane scale is ``s * 2**input_shift`` with the largest shift in the
   range that keeps ``s * 2**shift * max(|threshold|, |v_reset|, |bias|)`` within
   ``(2**(state_bits-1) - 1) // 4``. The finer membrane LSB is what keeps a truncating
   multiplicative leak from eating small membranes (Loihi's reason for ``act_shift``). Without a
   chip arithmetic the range is ``0..0`` and steps 2-3 are exactly the historic rule.

Before that, :func:`fold_avgpool` replaces every ``AvgPool2d`` by a ``SumPool2d`` and folds
``1/area`` into the weights of the projection(s) it feeds (through ``Flatten`` nodes only).

After quantization the worst-case synaptic input sum of every population is bounded (inputs
``0..max_input``, default 1; a ``gt``/``ge`` population emits at most 1 spike per step, a
``multi`` one at most ``state_max // threshold``; pooling sums the window) and checked against
``acc_bits``: the accumulator of the fixed mode raises on overflow at run time, the pass raises
up front, naming the population and the bits it needs.

``reset_timing="delayed"`` (snnTorch's default) is carried over unchanged: the fixed-point
delayed reset is defined in :mod:`neurosim.ir.nodes.neurons` and realised by the simulators.

The pass does not import torch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from neurosim.ir.ops import conv_nd
from neurosim.errors import FixedPointError, UnsupportedError
from neurosim.ir.fixedpoint import ROUNDING_MODES, FixedPoint
from neurosim.ir.graph import Graph, Semantics
from neurosim.ir.nodes import (
    IF,
    LIF,
    AvgPool2d,
    CubaLIF,
    Delay,
    Flatten,
    Input,
    NeuronFixedPoint,
    Node,
    Output,
    Projection,
    SparseCSR,
    SpikingPopulation,
    SumPool2d,
)
from neurosim.ir.nodes.connections import ConvND

__all__ = ["Arithmetic", "LayerReport", "QuantizedGraph", "fold_avgpool", "quantize", "best_shift"]

LEAKS = ("shift", "none")
#: the leak modes an :class:`Arithmetic` may declare, and the rounding each one implies
ARITH_LEAKS = ("shift", "mult", "linear", "none")
LEAK_ROUNDING = {"shift": "floor", "mult": "zero", "linear": "exact", "none": "exact"}
#: node types the pass knows how to carry into fixed point
_SUPPORTED = (Input, Output, Projection, IF, LIF, CubaLIF, AvgPool2d, SumPool2d, Flatten, Delay)
#: weight-free nodes a projection's output may cross on its way to a population (linear, >= 0)
_LINEAR = (Flatten, SumPool2d, Delay)


# -- the declared arithmetic ------------------------------------------------------------------------

@dataclass(frozen=True)
class Arithmetic:
    """The neuron arithmetic a chip implements (what the pass quantizes to; a chip preset's
    ``[arithmetic]`` table loads into the subclass ``ChipArithmetic`` of the neuromorphic target).

    ``leak``/``syn_leak``: the membrane's and the synaptic current's leak (``"shift"``, ``"mult"``,
    ``"linear"``, ``"none"``; ``syn_leak=None``: the chip has no current, CubaLIF keeps the shift);
    ``leak_bits``/``syn_leak_bits``: ``k`` of a ``d/2**k`` multiplicative decay (required for
    ``mult``) or the magnitude bits of a linear leak's lambda (None: up to the state range);
    ``input_shift_min..max``: the left shifts the chip can apply to the synaptic input (a weight
    exponent); ``current_bits``: the current's width where published (the IR holds it in the
    membrane's format); ``rounding``: how the chip rounds the leak, which must be what the IR
    implements for that mode (``shift`` floor, ``mult`` toward zero, ``linear``/``none`` exact).
    """

    leak: str = "shift"
    leak_bits: int | None = None
    syn_leak: str | None = None
    syn_leak_bits: int | None = None
    input_shift_min: int = 0
    input_shift_max: int = 0
    current_bits: int | None = None
    rounding: str | None = None

    def __post_init__(self) -> None:
        name = type(self).__name__
        for fld, mode, bits in (("leak", self.leak, self.leak_bits), ("syn_leak", self.syn_leak, self.syn_leak_bits)):
            if mode is None and fld == "syn_leak":
                continue
            if mode not in ARITH_LEAKS:
                raise FixedPointError(f"{name}.{fld} must be one of {ARITH_LEAKS!r}, found {mode!r}")
            if mode == "mult" and not (isinstance(bits, int) and not isinstance(bits, bool) and 1 <= bits <= 24):
                raise FixedPointError(
                    f"{name}.{fld}_bits must be an int in 1..24 for a multiplicative leak (d/2**bits), found {bits!r}"
                )
            if bits is not None and not (isinstance(bits, int) and not isinstance(bits, bool) and 1 <= bits <= 61):
                raise FixedPointError(f"{name}.{fld}_bits must be None or an int in 1..61, found {bits!r}")
        lo, hi = self.input_shift_min, self.input_shift_max
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (lo, hi)) or not 0 <= lo <= hi <= 30:
            raise FixedPointError(
                f"{name}.input_shift_min..input_shift_max must be ints with 0 <= min <= max <= 30, found {lo!r}..{hi!r}"
            )
        if self.current_bits is not None and not (isinstance(self.current_bits, int) and 2 <= self.current_bits <= 62):
            raise FixedPointError(f"{name}.current_bits must be None or an int in 2..62, found {self.current_bits!r}")
        want = LEAK_ROUNDING[self.leak]
        if self.rounding is not None and self.rounding != want:
            raise FixedPointError(
                f"{name}.rounding must be {want!r} for leak={self.leak!r} (the rounding neurosim's {self.leak} leak "
                f"implements), found {self.rounding!r}"
            )
        if self.rounding is None:
            object.__setattr__(self, "rounding", want)

    def describe(self) -> str:
        """One line, e.g. ``leak mult 12-bit, current mult 12-bit, input shift 0..13``."""
        def one(mode, bits):
            return f"{mode} {bits}-bit" if mode == "mult" else (f"{mode} ({bits}-bit lambda)" if bits else mode)
        out = f"leak {one(self.leak, self.leak_bits)}"
        if self.syn_leak is not None:
            out += f", current {one(self.syn_leak, self.syn_leak_bits)}"
        return out + f", input shift {self.input_shift_min}..{self.input_shift_max}"


# -- the result ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LayerReport:
    """What the pass did to one spiking population and its incoming projections.

    Real-valued errors are in the units of the original (float) model, after gain folding.
    ``threshold_code`` is an int when all neurons share it, else ``(min, max)``.
    """

    name: str
    kind: str
    projections: tuple[str, ...]
    scale: float
    scale_limited_by: str  # "weights" or "state range"
    weight_max: float
    max_weight_error: float
    clipped: int
    threshold_code: int | tuple[int, int]
    max_threshold_error: float
    leak: str
    leak_shift: int | None
    decay: float
    effective_decay: float
    syn_shift: int | None = None
    syn_decay: float | None = None
    effective_syn_decay: float | None = None
    acc_worst: int = 0
    acc_bits_needed: int = 1
    notes: tuple[str, ...] = ()
    #: mult: ``d`` of ``d/2**leak_bits``; linear: lambda (codes per step); None for shift/none
    leak_code: int | None = None
    leak_bits: int | None = None
    #: the synaptic input's left shift (the membrane LSB is the weight LSB / 2**input_shift)
    input_shift: int = 0
    syn_leak: str | None = None
    syn_leak_code: int | None = None
    syn_leak_bits: int | None = None

    @property
    def decay_error(self) -> float:
        return self.effective_decay - self.decay


@dataclass(frozen=True)
class QuantizedGraph:
    """The fixed-point graph and a per-population report (``layers``, in schedule order;
    ``layer(name)`` looks one up)."""

    graph: Graph
    layers: tuple[LayerReport, ...]
    weight_bits: int
    state_bits: int
    acc_bits: int
    rounding: str
    leak: str
    notes: tuple[str, ...] = ()
    arithmetic: Arithmetic | None = None

    def layer(self, name: str) -> LayerReport:
        """The report of the spiking population ``name``."""
        for r in self.layers:
            if r.name == name:
                return r
        raise KeyError(f"no spiking population {name!r} in the report; layers: {[r.name for r in self.layers]!r}")

    def table(self) -> str:
        """A plain-text table of :attr:`layers` (one row per spiking population)."""
        head = ("layer", "type", "scale", "limited by", "max |w|", "max w err", "clipped", "thr code",
                "leak", "decay -> eff.", "acc worst (bits)")
        rows = [head]
        for r in self.layers:
            leak = _leak_text("v", r.leak, r.leak_shift, r.leak_bits, r.leak_code)
            if r.syn_leak is not None and r.syn_leak != "shift":
                leak += ", " + _leak_text("i", r.syn_leak, None, r.syn_leak_bits, r.syn_leak_code)
            elif r.syn_shift is not None:
                leak += f", i>>{r.syn_shift}" if r.syn_shift else ", i: none"
            if r.input_shift:
                leak += f", x<<{r.input_shift}"
            rows.append((r.name, r.kind, f"{r.scale:.4g}", r.scale_limited_by, f"{r.weight_max:.4g}",
                         f"{r.max_weight_error:.3g}", str(r.clipped), str(r.threshold_code), leak,
                         f"{r.decay:.4g} -> {r.effective_decay:.4g}", f"{r.acc_worst} ({r.acc_bits_needed})"))
        widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        extra = [f"weights s{self.weight_bits}.0, membrane s{self.state_bits}.0, accumulator {self.acc_bits} bits, "
                 f"rounding {self.rounding}"]
        if self.arithmetic is not None:
            extra.append(f"chip arithmetic: {self.arithmetic.describe()}")
        extra += list(self.notes)
        for r in self.layers:
            extra += [f"{r.name}: {n}" for n in r.notes]
        return "\n".join(lines + extra)


# -- small helpers ---------------------------------------------------------------------------------

def _leak_text(var: str, leak: str, shift, bits, code) -> str:
    if leak == "shift":
        return f"{var}>>{shift}"
    if leak == "mult":
        return f"{var}*{code}/2**{bits}"
    if leak == "linear":
        return f"{var}-{code}"
    return "none" if var == "v" else f"{var}: none"


def best_shift(decay: float, max_shift: int) -> int:
    """The ``k`` in ``1..max_shift`` minimising ``|(1 - 2**-k) - decay|`` (ties: the smaller k)."""
    ks = np.arange(1, max_shift + 1)
    return int(ks[np.argmin(np.abs((1.0 - 2.0 ** -ks.astype(np.float64)) - float(decay)))])


def _int_arg(name: str, value, lo: int, hi: int, why: str = "") -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not lo <= value <= hi:
        raise FixedPointError(f"quantize: {name} must be an integer in {lo}..{hi}{why}, found {value!r}")
    return int(value)


def _n_clipped(codes: np.ndarray, scaled: np.ndarray, rounding: str) -> int:
    """How many ``codes`` were saturated: they differ from the same rounding without a range limit."""
    wide = FixedPoint(62, 0, rounding=rounding).quantize(scaled)
    return int(np.count_nonzero(wide != codes))


def _tname(node: Node) -> str:
    return type(node).__name__


def _scale_projection(node: Projection, factor, *, bias: bool = True) -> Projection:
    """``node`` with its weights (and bias) multiplied by ``factor``: a scalar, or one value per
    output (row of a dense/sparse weight, output channel of a convolution)."""
    f = np.asarray(factor, dtype=np.float64)
    w = np.asarray(node.weight, dtype=np.float64)
    if f.ndim == 0:
        wf = w * f
    elif isinstance(node, SparseCSR):
        wf = w * f[np.repeat(np.arange(node.shape[0]), np.diff(node.indptr))]
    else:  # Dense/NMSparse [out, ...] and Conv [out, in, *k]: one factor per leading index
        wf = w * f.reshape((-1,) + (1,) * (w.ndim - 1))
    b = node.bias
    if bias and b is not None:
        b = np.asarray(b, dtype=np.float64) * f
    return dataclasses.replace(node, weight=wf, bias=b, weight_format=None)


def _with_weights(node: Projection, weight: np.ndarray, bias, fmt: FixedPoint | None) -> Projection:
    return dataclasses.replace(node, weight=weight, bias=bias, weight_format=fmt)


# -- AvgPool folding -------------------------------------------------------------------------------

def fold_avgpool(graph: Graph) -> tuple[Graph, tuple[str, ...]]:
    """Replace every ``AvgPool2d`` by a ``SumPool2d`` (same kernel, stride, padding) and divide the
    weights (not the biases) of the projection(s) it feeds by the kernel area.

    Exact in real arithmetic: the pooled path ``pool -> (Flatten ->)* projection`` is linear and
    ``AvgPool2d`` divides by the full area (padding included). Returns the rewritten float graph and
    one note per fold. Raises :class:`UnsupportedError` naming the node if a pool feeds anything
    else, or if a projection it feeds also sums an input that is not averaged the same way.
    """
    pools = [n for n in graph.order if isinstance(graph.nodes[n], AvgPool2d)]
    if not pools:
        return graph, ()
    nodes = dict(graph.nodes)
    notes = []
    for p in pools:
        pool = graph.nodes[p]
        area = int(np.prod(pool.kernel_size))
        targets: list[str] = []
        stack, seen = [p], {p}
        while stack:
            cur = stack.pop()
            for nxt in graph.successors(cur):
                node = graph.nodes[nxt]
                if isinstance(node, Flatten):
                    if nxt not in seen:
                        seen.add(nxt)
                        stack.append(nxt)
                elif isinstance(node, Projection):
                    if nxt not in targets:
                        targets.append(nxt)
                else:
                    via = f" (through {cur!r})" if cur != p else ""
                    raise UnsupportedError(
                        f"AvgPool2d {p!r} feeds {nxt!r} ({_tname(node)}){via}, which is not a projection; fixed point "
                        f"folds 1/area into the weights of the projection(s) a pool feeds through Flatten nodes only "
                        f"(pool -> flatten -> dense): move the pool, or use SumPool2d and scale the next weights yourself"
                    )
        for t in targets:
            _check_only_pooled(graph, t, area)
            nodes[t] = _scale_projection(nodes[t], 1.0 / area, bias=False)
        nodes[p] = SumPool2d(kernel_size=pool.kernel_size, stride=pool.stride, padding=pool.padding)
        notes.append(f"AvgPool2d {p!r} -> SumPool2d, 1/{area} folded into the weights of "
                     f"{', '.join(repr(t) for t in targets) or 'nothing'}")
    return graph.replace(nodes=nodes), tuple(notes)


def _check_only_pooled(graph: Graph, proj: str, area: int) -> None:
    """Every input of ``proj`` must come (through Flatten) from an AvgPool2d of the same area."""
    stack, seen = [proj], {proj}
    while stack:
        cur = stack.pop()
        for prev in graph.predecessors(cur):
            node = graph.nodes[prev]
            if isinstance(node, Flatten):
                if prev not in seen:
                    seen.add(prev)
                    stack.append(prev)
            elif not (isinstance(node, AvgPool2d) and int(np.prod(node.kernel_size)) == area):
                raise UnsupportedError(
                    f"projection {proj!r} sums an averaged input with the output of {prev!r} ({_tname(node)}); "
                    f"1/{area} of the pool cannot be folded into its weights: give the averaged path its own projection"
                )


# -- topology --------------------------------------------------------------------------------------

def _projection_targets(graph: Graph, proj: str) -> list[str]:
    """Spiking populations a projection's output reaches through linear weight-free nodes."""
    out: list[str] = []
    stack, seen = [proj], {proj}
    while stack:
        cur = stack.pop()
        for nxt in graph.successors(cur):
            node = graph.nodes[nxt]
            if isinstance(node, SpikingPopulation):
                if nxt not in out:
                    out.append(nxt)
            elif isinstance(node, _LINEAR):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
            elif isinstance(node, Projection):
                raise UnsupportedError(
                    f"projection {proj!r} feeds projection {nxt!r} without a spiking population in between; "
                    f"fixed point scales each projection for the population it drives: merge the two projections"
                )
            else:
                raise UnsupportedError(
                    f"projection {proj!r} feeds {nxt!r} ({_tname(node)}) directly; fixed point reads out spikes, "
                    f"and a projection's integer sums have no real scale: end the network with a spiking population"
                )
    return out


def _population_sources(graph: Graph, pop: str) -> list[str]:
    """Projections feeding ``pop`` (through linear weight-free nodes); raise on an unweighted input."""
    out: list[str] = []
    stack, seen = [pop], {pop}
    while stack:
        cur = stack.pop()
        for prev in graph.predecessors(cur):
            node = graph.nodes[prev]
            if isinstance(node, Projection):
                if prev not in out:
                    out.append(prev)
            elif isinstance(node, _LINEAR):
                if prev not in seen:
                    seen.add(prev)
                    stack.append(prev)
            else:
                raise UnsupportedError(
                    f"population {pop!r} receives unweighted input from {prev!r} ({_tname(node)}); fixed point "
                    f"scales a population's input through the weights of its incoming projections: insert a "
                    f"projection (e.g. an identity Dense) in between"
                )
    return out


def _gain_factor(graph: Graph, proj: str, pops: list[str], direct: bool) -> np.ndarray:
    """The factor (scalar or per output row/channel) folding the targets' gains into ``proj``."""
    factors = []
    for p in pops:
        node = graph.nodes[p]
        g = np.asarray(node.gain, dtype=np.float64)
        if isinstance(node, CubaLIF):
            g = g * np.asarray(node.syn_gain, dtype=np.float64)
        factors.append(g)
    first = factors[0]
    if any(f.shape != first.shape or not np.array_equal(f, first) for f in factors[1:]):
        raise UnsupportedError(
            f"projection {proj!r} feeds populations {pops!r} with different gains; fixed point folds the gain into "
            f"the weights, so they must agree"
        )
    if np.all(first == first.flat[0]):
        return np.asarray(first.flat[0])
    pnode, pop = graph.nodes[proj], pops[0]
    if direct and not isinstance(pnode, ConvND):
        return first.reshape(-1)
    if direct and isinstance(pnode, ConvND):
        per_channel = first.reshape(first.shape[0], -1)
        if np.all(per_channel == per_channel[:, :1]):
            return per_channel[:, 0]
    raise UnsupportedError(
        f"population {pop!r} has per-neuron gains that cannot be folded into {proj!r} ({_tname(pnode)}); fold them "
        f"yourself (a convolution takes one gain per output channel, and only on a direct edge)"
    )


class _Groups:
    """Union-find over populations that must share one scale (they share a projection)."""

    def __init__(self, names):
        self.parent = {n: n for n in names}

    def find(self, a):
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a, b):
        self.parent[self.find(b)] = self.find(a)


def _leak_shift(name: str, node: Node, decays: np.ndarray, what: str, max_shift: int, allow_leak: bool,
                notes: list[str]) -> tuple[int | None, float]:
    """``(k, mean decay)``: the shift for ``decays``, None where every decay is exactly 1."""
    d = np.asarray(decays, dtype=np.float64)
    mean = float(d.flat[0]) if np.all(d == d.flat[0]) else float(d.mean())
    if np.all(d == 1.0):
        return None, 1.0
    if not allow_leak:
        raise FixedPointError(
            f"node {name!r} ({_tname(node)}) has {what} {float(d.min())!r} < 1, which leak='none' cannot realise; "
            f"use leak='shift'"
        )
    ks = {best_shift(v, max_shift) for v in np.unique(d)}
    if max(ks) - min(ks) > 1:
        raise UnsupportedError(
            f"node {name!r} ({_tname(node)}) has per-neuron {what}s {float(d.min())!r}..{float(d.max())!r} whose "
            f"best shifts {min(ks)}..{max(ks)} differ by more than one step; one population has one shift: split it "
            f"into populations of similar {what}"
        )
    k = best_shift(mean, max_shift)
    if len(np.unique(d)) > 1:
        notes.append(f"per-neuron {what}s {float(d.min()):.6g}..{float(d.max()):.6g}: shift {k} of the mean {mean:.6g}")
    return k, mean


def _leak_mult(name: str, node: Node, decays: np.ndarray, what: str, bits: int,
               notes: list[str]) -> tuple[int | None, float]:
    """``(d, mean decay)`` of a ``d/2**bits`` leak for ``decays``; None where every decay is exactly 1."""
    d = np.asarray(decays, dtype=np.float64)
    mean = float(d.flat[0]) if np.all(d == d.flat[0]) else float(d.mean())
    if np.all(d == 1.0):
        return None, 1.0
    unity = 1 << bits
    codes = np.clip(np.rint(d * unity), 0, unity).astype(np.int64)
    lo, hi = int(codes.min()), int(codes.max())
    if hi - lo > 1:
        raise UnsupportedError(
            f"node {name!r} ({_tname(node)}) has per-neuron {what}s {float(d.min())!r}..{float(d.max())!r} whose "
            f"{bits}-bit codes {lo}..{hi} differ by more than one; one population has one decay code: split it into "
            f"populations of equal {what}"
        )
    code = lo if lo == hi else int(np.clip(np.rint(mean * unity), 0, unity))
    if lo != hi:
        notes.append(f"per-neuron {what}s {float(d.min()):.6g}..{float(d.max()):.6g}: code {code} of the mean {mean:.6g}")
    return code, mean


def _leak_linear(node: Node, decays: np.ndarray, what: str, thr_codes: np.ndarray, bits: int | None, state_max: int,
                 notes: list[str]) -> tuple[int | None, float, float]:
    """``(lambda, mean decay, effective decay)`` of a linear leak approximating ``decays`` (module
    docstring, step 5): the exponential leak's loss at half the threshold; None where every decay is 1."""
    d = np.asarray(decays, dtype=np.float64)
    mean = float(d.flat[0]) if np.all(d == d.flat[0]) else float(d.mean())
    if np.all(d == 1.0):
        return None, 1.0, 1.0
    mid = np.broadcast_to(np.abs(np.asarray(thr_codes, dtype=np.float64)) / 2.0, np.shape(d) or (1,))
    exact = float(np.mean((1.0 - d) * mid))
    top = (1 << bits) - 1 if bits else state_max
    lam = int(min(np.rint(exact), top))
    if exact > top:
        notes.append(f"linear {what} leak {exact:.4g} codes/step clipped to the chip's {top}")
    half = float(np.mean(mid))
    eff = 1.0 - lam / half if half > 0 else 1.0
    notes.append(f"{what} {mean:.6g} -> linear leak {lam} codes/step (the exponential loss at half the threshold, "
                 f"{half:.4g} codes; the factor there {eff:.6g})")
    return lam, mean, eff


# -- accumulator bounds ----------------------------------------------------------------------------

def _bounds(graph: Graph, max_input: Mapping[str, float]):
    """``bound(name) -> (pos, neg)``: per-element bounds ``-neg <= output <= pos`` of a node."""
    memo: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    active: set[str] = set()

    def inputs_of(name: str):
        shape = graph.input_shape_of(name)
        pos, neg = np.zeros(shape), np.zeros(shape)
        for prev in graph.predecessors(name):
            p, n = bound(prev)
            pos, neg = pos + p, neg + n
        return pos, neg

    def bound(name: str):
        if name in memo:
            return memo[name]
        node = graph.nodes[name]
        shape = graph.shapes[name]
        if isinstance(node, Input):
            out = (np.full(shape, float(max_input[name])), np.zeros(shape))
        elif isinstance(node, SpikingPopulation):
            if node.spike_rule == "multi":
                fmt = node.fixed.state
                cnt = np.floor_divide(fmt.max_int, np.maximum(np.asarray(node.threshold, dtype=np.int64), 1))
            else:
                cnt = np.ones(shape)
            out = (np.broadcast_to(cnt, shape).astype(np.float64), np.zeros(shape))
        else:
            if name in active:
                raise UnsupportedError(
                    f"node {name!r} ({_tname(node)}) lies on a cycle without a spiking population; its values are "
                    f"unbounded in fixed point"
                )
            active.add(name)
            p, n = inputs_of(name)
            active.discard(name)
            if isinstance(node, Projection):
                w = np.asarray(node.dense_weight(), dtype=np.float64)
                wp, wn = np.maximum(w, 0.0), np.maximum(-w, 0.0)
                if isinstance(node, ConvND):
                    args = (node.stride, node.padding, node.dilation, node.groups)
                    pos = conv_nd(p, wp, *args) + conv_nd(n, wn, *args)
                    neg = conv_nd(n, wp, *args) + conv_nd(p, wn, *args)
                    bshape = (-1,) + (1,) * node.spatial_dims
                else:
                    pos, neg = wp @ p + wn @ n, wp @ n + wn @ p
                    bshape = (-1,)
                if node.bias is not None:
                    b = np.asarray(node.bias, dtype=np.float64).reshape(bshape)
                    pos, neg = pos + np.maximum(b, 0.0), neg + np.maximum(-b, 0.0)
                out = (pos, neg)
            elif isinstance(node, SumPool2d):
                k = np.ones((1, 1) + tuple(node.kernel_size))

                def pool(a):
                    y = conv_nd(a.reshape((-1, 1) + a.shape[-2:]), k, node.stride, node.padding, (1, 1), 1)
                    return y.reshape(shape)
                out = (pool(p), pool(n))
            else:  # Flatten, Delay, Output: same values, maybe reshaped
                out = (p.reshape(shape), n.reshape(shape))
        memo[name] = out
        return out

    return bound, inputs_of


# -- the pass --------------------------------------------------------------------------------------

def quantize(graph: Graph, *, weight_bits: int = 8, state_bits: int = 16, acc_bits: int = 32,
             rounding: str = "nearest_even", leak: str | None = None,
             max_input: float | Mapping[str, float] | None = None,
             arithmetic: Arithmetic | None = None) -> QuantizedGraph:
    """Quantize a float graph to fixed point (see the module docstring for the rules).

    ``weight_bits`` (2..32): signed weight/bias codes, ``FixedPoint(weight_bits, 0)``;
    ``state_bits`` (> weight_bits): membrane, current, threshold, bias, reset codes;
    ``acc_bits`` (state_bits..62): the synaptic accumulator; ``rounding``: a
    :data:`~neurosim.ir.fixedpoint.ROUNDING_MODES` mode for every value; ``leak``: ``"shift"``
    (``decay -> 1 - 2**-k``, the default) or ``"none"`` (every decay must be 1); ``max_input``: the
    largest value an ``Input`` delivers per element and step (a number, or a dict by input name;
    default 1); ``arithmetic``: the chip's :class:`Arithmetic` (a preset's ``chip.arithmetic``):
    its leak modes, leak bits and input-shift range (None: the historic shift leak, no input shift,
    exactly as before).
    """
    weight_bits = _int_arg("weight_bits", weight_bits, 2, 32)
    state_bits = _int_arg("state_bits", state_bits, weight_bits + 1, 62, " (wider than weight_bits)")
    acc_bits = _int_arg("acc_bits", acc_bits, state_bits, 62, " (at least state_bits)")
    if rounding not in ROUNDING_MODES:
        raise FixedPointError(f"quantize: rounding must be one of {ROUNDING_MODES!r}, found {rounding!r}")
    if leak is not None and leak not in LEAKS:
        raise FixedPointError(f"quantize: leak must be one of {LEAKS!r}, found {leak!r}")
    if arithmetic is not None and not isinstance(arithmetic, Arithmetic):
        raise FixedPointError(f"quantize: arithmetic must be an Arithmetic (e.g. a preset's chip.arithmetic), "
                              f"found {type(arithmetic).__name__!r}")
    if arithmetic is not None and leak is not None and leak != arithmetic.leak:
        raise FixedPointError(f"quantize: leak={leak!r} contradicts arithmetic.leak={arithmetic.leak!r}; pass one of "
                              f"them")
    vleak = leak if leak is not None else (arithmetic.leak if arithmetic is not None else "shift")
    syn_mode = arithmetic.syn_leak if arithmetic is not None and arithmetic.syn_leak is not None else "shift"
    shift_lo, shift_hi = ((arithmetic.input_shift_min, arithmetic.input_shift_max) if arithmetic is not None
                          else (0, 0))
    if not isinstance(graph, Graph):
        raise FixedPointError(f"quantize: graph must be a neurosim Graph, found {type(graph).__name__!r}")
    max_in = _max_input(graph, max_input)

    # 1. what fixed point cannot express at all
    for name in graph.order:
        node = graph.nodes[name]
        if not isinstance(node, _SUPPORTED):
            if isinstance(node, SpikingPopulation) or node.family != "population":
                raise UnsupportedError(
                    f"node {name!r} ({_tname(node)}) has no fixed-point form; fold it into the neighbouring weights "
                    f"or remove it before quantizing"
                )
            raise UnsupportedError(
                f"node {name!r} ({_tname(node)}) is a non-spiking readout, which fixed point does not support; "
                f"read the last spiking layer out instead (e.g. replace the readout by a LIF and count spikes)"
            )
        if isinstance(node, SpikingPopulation):
            if isinstance(node, CubaLIF) and node.current_lag != 0:
                raise UnsupportedError(
                    f"node {name!r} (CubaLIF) has current_lag=1; fixed point requires current_lag=0 (the membrane "
                    f"sees this step's current): re-import with a profile whose CubaLIF uses it (cuba='euler_now')"
                )

    # 2. AvgPool -> SumPool with 1/area in the next weights (exact)
    g, notes = fold_avgpool(graph)

    # 3. topology: who drives whom, and which populations must share a scale
    pops = g.spiking_populations()
    targets = {p: _projection_targets(g, p) for p in g.projections()}
    sources = {p: _population_sources(g, p) for p in pops}
    for proj, ts in targets.items():
        if not ts:
            raise UnsupportedError(f"projection {proj!r} reaches no spiking population; remove it before quantizing")
    groups = _Groups(pops)
    for ts in targets.values():
        for t in ts[1:]:
            groups.union(ts[0], t)

    # 4. fold gains into the weights (float, exact up to one rounding of the product)
    folded: dict[str, Projection] = {}
    gain_note: dict[str, bool] = {}
    for proj, ts in targets.items():
        direct = all(proj in g.predecessors(t) and set(g.successors(proj)) == set(ts) for t in ts)
        f = _gain_factor(g, proj, ts, direct)
        folded[proj] = _scale_projection(g.nodes[proj], f) if not np.all(f == 1.0) else g.nodes[proj]
        for t in ts:
            gain_note[t] = gain_note.get(t, False) or not np.all(f == 1.0)

    # 5. one scale per group
    wfmt = FixedPoint(weight_bits, 0, rounding=rounding)
    sfmt = FixedPoint(state_bits, 0, rounding=rounding)
    members: dict[str, list[str]] = {}
    for p in pops:
        members.setdefault(groups.find(p), []).append(p)
    scale: dict[str, float] = {}  # the membrane scale: real membrane value x scale = codes
    in_shift: dict[str, int] = {}  # weights are at scale / 2**in_shift
    limited: dict[str, str] = {}
    wmax_of: dict[str, float] = {}
    for root, ps in members.items():
        projs = sorted({q for p in ps for q in sources[p]}, key=g.order.index)
        wmax = max([0.0] + [float(np.max(np.abs(folded[q].weight), initial=0.0)) for q in projs]
                   + [float(np.max(np.abs(folded[q].bias), initial=0.0)) for q in projs if folded[q].bias is not None])
        pmax = max(float(np.max(np.abs(np.concatenate([np.ravel(getattr(g.nodes[p], f)) for p in ps]))))
                   for f in ("threshold", "v_reset", "bias"))
        s = wfmt.max_int / wmax if wmax > 0 else 1.0
        why = "weights"
        ish = shift_lo
        if pmax > 0:
            room = sfmt.max_int // 4
            fits = [k for k in range(shift_lo, shift_hi + 1) if s * 2.0 ** k * pmax <= room]
            if fits:
                ish = max(fits)
            elif s * 2.0 ** shift_lo * pmax > sfmt.max_int:
                s = room / pmax / 2.0 ** shift_lo
                why = "state range"
        for p in ps:
            scale[p], in_shift[p], limited[p], wmax_of[p] = s * 2.0 ** ish, ish, why, wmax

    # 6. quantize projections (each with the scale of the group it drives)
    nodes = dict(g.nodes)
    werr: dict[str, float] = {}
    clipped: dict[str, int] = {}
    zeroed: set[str] = set()
    for proj, ts in targets.items():
        s = scale[ts[0]] / 2.0 ** in_shift[ts[0]]  # the weight scale
        node = folded[proj]
        w = np.asarray(node.weight, dtype=np.float64)
        wc = wfmt.quantize(w * s, what=f"node {proj!r} weight")
        nclip = _n_clipped(wc, w * s, rounding)
        b = bc = None
        err = float(np.max(np.abs(wc / s - w), initial=0.0))
        if node.bias is not None:
            b = np.asarray(node.bias, dtype=np.float64)
            bc = wfmt.quantize(b * s, what=f"node {proj!r} bias")
            nclip += _n_clipped(bc, b * s, rounding)
            err = max(err, float(np.max(np.abs(bc / s - b), initial=0.0)))
        if np.any(w != 0) and not np.any(wc != 0):
            zeroed.add(proj)
        nodes[proj] = _with_weights(node, wc.astype(np.float64), None if bc is None else bc.astype(np.float64), wfmt)
        werr[proj], clipped[proj] = err, nclip
    for root, ps in members.items():
        projs = sorted({q for p in ps for q in sources[p]}, key=g.order.index)
        if projs and all(q in zeroed for q in projs):
            s = scale[ps[0]] / 2.0 ** in_shift[ps[0]]
            big = wmax_of[ps[0]]
            raise FixedPointError(
                f"node {ps[0]!r}: every incoming weight rounds to 0 at scale {s:.4g} (largest |w| {big:.4g} -> "
                f"{big * s:.3g} codes, scale limited by the {limited[ps[0]]}); widen state_bits or lower the thresholds"
            )

    # 7. quantize populations
    layer_info = {}
    for p in pops:
        node, s = g.nodes[p], scale[p]
        pnotes: list[str] = []
        nclip = 0
        codes = {}
        for f in ("bias", "threshold", "v_reset"):
            v = np.asarray(getattr(node, f), dtype=np.float64)
            codes[f] = sfmt.quantize(v * s, what=f"node {p!r} {f}")
            nclip += _n_clipped(codes[f], v * s, rounding)
        thr = np.asarray(node.threshold, dtype=np.float64)
        raise_to_one = (thr > 0) & (codes["threshold"] < 1)
        if np.any(raise_to_one):
            pnotes.append(f"{int(np.count_nonzero(raise_to_one))} threshold(s) rounded to 0 codes, raised to 1 code")
            codes["threshold"] = np.where(raise_to_one, 1, codes["threshold"])
        k, lk, d_mean, eff, fxkw = _population_leak(p, node, node.decay_values, "decay", vleak, arithmetic,
                                                   arithmetic.leak_bits if arithmetic is not None else None,
                                                   codes["threshold"], sfmt, pnotes)
        fx_fields = dict(fxkw)
        changes = dict(gain=1.0, bias=codes["bias"].astype(np.float64), threshold=codes["threshold"].astype(np.float64),
                       v_reset=codes["v_reset"].astype(np.float64))
        if isinstance(node, (LIF, CubaLIF)) and fxkw["leak"] != "linear":
            changes["decay"] = eff
        syn = (None, None, None)
        syn_leak, syn_code = None, None
        if isinstance(node, CubaLIF):
            syn_leak = syn_mode
            if syn_mode == "shift":
                ks, sd_mean = _leak_shift(p, node, node.syn_decay, "syn_decay", state_bits - 1, vleak != "none", pnotes)
                ks = 0 if ks is None else ks
                seff = 1.0 - 2.0 ** -ks if ks else 1.0
                changes.update(syn_decay=seff, syn_gain=1.0, syn_shift=ks)
                syn = (ks, sd_mean, seff)
                if sd_mean != seff:
                    pnotes.append(f"syn_decay {sd_mean:.6g} -> {seff:.6g} (1 - 2**-{ks})")
            else:
                _, syn_code, sd_mean, seff, skw = _population_leak(
                    p, node, node.syn_decay, "syn_decay", syn_mode, arithmetic, arithmetic.syn_leak_bits,
                    codes["threshold"], sfmt, pnotes)
                fx_fields.update({f"syn_{key}": val for key, val in skw.items() if key != "leak_shift"})
                syn_leak = skw["leak"]
                changes.update(syn_gain=1.0, syn_shift=0)
                if skw["leak"] != "linear":
                    changes["syn_decay"] = seff
                syn = (None, sd_mean, seff)
        fx = NeuronFixedPoint(state=sfmt, acc_width=acc_bits, input_shift=in_shift[p], **fx_fields)
        changes["fixed"] = fx
        nodes[p] = dataclasses.replace(node, **changes)
        if fx.leak in ("shift", "none") and d_mean != eff:
            pnotes.append(f"decay {d_mean:.6g} -> {eff:.6g} (1 - 2**-{k})")
        elif fx.leak == "mult" and d_mean != eff:
            pnotes.append(f"decay {d_mean:.6g} -> {eff:.6g} ({lk}/2**{fx.leak_bits})")
        if in_shift[p]:
            pnotes.append(f"synaptic input shifted left by {in_shift[p]} (the membrane LSB is 2**-{in_shift[p]} of the "
                          f"weight LSB)")
        pnotes += [f"every weight of {q!r} rounds to 0 codes" for q in sources[p] if q in zeroed]
        if gain_note.get(p):
            pnotes.append("gain folded into the incoming weights")
        if limited[p] == "state range":
            pnotes.append(f"scale reduced so that threshold/bias/v_reset fit {sfmt.describe()} with 2 bits of headroom")
        terr = float(np.max(np.abs(codes["threshold"] / s - thr), initial=0.0))
        tc = codes["threshold"]
        tcode = int(tc.flat[0]) if np.all(tc == tc.flat[0]) else (int(tc.min()), int(tc.max()))
        layer_info[p] = dict(
            name=p, kind=_tname(node), projections=tuple(sources[p]), scale=float(s), scale_limited_by=limited[p],
            weight_max=wmax_of[p], max_weight_error=max([werr[q] for q in sources[p]], default=0.0),
            clipped=nclip + sum(clipped[q] for q in sources[p]), threshold_code=tcode, max_threshold_error=terr,
            leak=fx.leak, leak_shift=k, decay=d_mean, effective_decay=eff,
            syn_shift=syn[0], syn_decay=syn[1], effective_syn_decay=syn[2], notes=tuple(pnotes),
            leak_code=lk, leak_bits=fx.leak_bits if fx.leak == "mult" else None, input_shift=in_shift[p],
            syn_leak=syn_leak, syn_leak_code=syn_code,
            syn_leak_bits=fx.syn_leak_bits if fx.syn_leak == "mult" else None)

    note = (f"quantized by neurosim.passes.quantize: weights {wfmt.describe()}, membrane {sfmt.describe()}, "
            f"accumulator {acc_bits} bits, rounding {rounding}")
    sem = Semantics(profile=g.semantics.profile, dt_s=g.semantics.dt_s, notes=g.semantics.notes + notes + (note,))
    qgraph = Graph(nodes, g.edges, sem)

    # 8. accumulator: worst-case |sum| per neuron against acc_bits
    _, inputs_of = _bounds(qgraph, max_in)
    acc_max = (1 << (acc_bits - 1)) - 1
    for p in pops:
        pos, neg = inputs_of(p)
        worst = int(np.ceil(float(np.max(np.maximum(pos, neg), initial=0.0))))
        bits = worst.bit_length() + 1
        if worst > acc_max:
            raise FixedPointError(
                f"node {p!r}: the worst-case synaptic input sum {worst} needs a {bits}-bit accumulator, more than "
                f"acc_bits={acc_bits}; raise acc_bits to {bits} (at most 62) or lower weight_bits"
            )
        layer_info[p].update(acc_worst=worst, acc_bits_needed=bits)

    layers = tuple(LayerReport(**layer_info[p]) for p in pops)
    if arithmetic is not None and arithmetic.current_bits not in (None, state_bits) and any(
            isinstance(qgraph.nodes[p], CubaLIF) for p in pops):
        notes = notes + (f"the chip's current is {arithmetic.current_bits} bits; neurosim holds it in the "
                         f"{state_bits}-bit membrane format",)
    return QuantizedGraph(graph=qgraph, layers=layers, weight_bits=weight_bits, state_bits=state_bits,
                          acc_bits=acc_bits, rounding=rounding, leak=vleak, notes=notes, arithmetic=arithmetic)


def _population_leak(name: str, node: Node, decays, what: str, mode: str, arithmetic, bits, thr_codes,
                     sfmt: FixedPoint, notes: list[str]):
    """``(shift k, code, mean decay, effective decay, NeuronFixedPoint leak fields)`` of one state
    variable (the membrane's ``decay`` or the current's ``syn_decay``) in ``mode``."""
    if mode in ("shift", "none"):
        k, mean = _leak_shift(name, node, decays, what, sfmt.width - 1, mode == "shift", notes)
        eff = 1.0 - 2.0 ** -k if k else 1.0
        return k, None, mean, eff, dict(leak="none" if k is None else "shift", leak_shift=0 if k is None else k)
    if mode == "mult":
        code, mean = _leak_mult(name, node, decays, what, bits, notes)
        if code is None:
            return None, None, 1.0, 1.0, dict(leak="none", leak_shift=0)
        return None, code, mean, code / 2.0 ** bits, dict(leak="mult", leak_bits=bits, leak_code=code, leak_shift=0)
    lam, mean, eff = _leak_linear(node, decays, what, thr_codes, bits, sfmt.max_int, notes)
    if lam is None:
        return None, None, 1.0, 1.0, dict(leak="none", leak_shift=0)
    return None, lam, mean, eff, dict(leak="linear", leak_code=lam, leak_shift=0)


def _max_input(graph, max_input) -> dict[str, float]:
    if max_input is None:
        return {n: 1.0 for n in graph.inputs}
    if isinstance(max_input, Mapping):
        unknown = sorted(set(max_input) - set(graph.inputs))
        if unknown:
            raise FixedPointError(
                f"quantize: max_input names {unknown[0]!r}, which is not an Input of the graph; inputs: {list(graph.inputs)!r}"
            )
        values = {n: max_input.get(n, 1.0) for n in graph.inputs}
    else:
        values = {n: max_input for n in graph.inputs}
    for n, v in values.items():
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not (np.isfinite(v) and v > 0):
            raise FixedPointError(
                f"quantize: max_input for {n!r} must be a positive number (the largest spike count per step), found {v!r}"
            )
    return {n: float(v) for n, v in values.items()}
