"""The functional reference simulator: the golden model of neurosim.

Plain numpy, one timestep at a time, no cycle model. The cycle-level engine, and through it the
generated RTL, are tested against this module; it is kept simple enough to read against the
equations in ``docs/ir.md``.

Two numeric modes:

``float``
    Real arithmetic in ``dtype`` (float64 by default), reproducing the source framework's forward
    pass (the node docstrings in :mod:`neurosim.ir.nodes` give the equations).

``fixed``
    The hardware semantics. Every projection needs a ``weight_format`` and every neuron a
    ``fixed`` spec (the quantize pass produces them). Values are int64 codes. Per timestep a
    spiking population does, in this order:

    1. **integrate**: the exact integer sum ``acc`` of every incoming projection's output (weight
       codes times input values, plus bias codes) -- the accumulator of ``fixed.acc_width`` bits; a
       sum outside its range raises :class:`~neurosim.errors.FixedPointError` (never wraps); the
       drive is ``x = acc << fixed.input_shift``; CubaLIF first adds it to the current,
       saturating: ``i <- sat(i + x)``, and the drive is ``i``;
    2. **fire**: ``v1 = sat(base + x + bias)`` with ``base = v`` (immediate reset), ``v - theta*s'``
       (delayed subtract: ``s'`` the previous step's spike) or ``L(v_reset)`` where ``s' > 0`` else
       ``v`` (delayed zero); compare with the threshold; the immediate reset then gives
       ``sat(v1 - s*theta)`` (subtract) or ``v_reset`` (zero); the delayed one leaves ``v1``;
       a refractory neuron keeps ``sat(base)`` and does not fire;
    3. **leak**: ``v <- L(v)`` with ``fixed.leak``: ``v - (v >> k)`` (shift), ``sign(v*d) *
       (|v*d| >> k)`` (mult), ``v - sign(v)*min(|v|, lam)`` (linear) or nothing; this is the
       starting value of the next step (CubaLIF's current likewise with ``syn_shift`` or
       ``fixed.syn_leak``). The reported membrane is this stored value (for a delayed reset: the
       un-reset membrane, as in float mode).

    So in exact arithmetic the fixed path equals the float path with ``decay = 1 - 2**-k``
    (shift) or ``d / 2**k`` (mult); they differ by the rounding of the leak and by saturation,
    both defined in :mod:`neurosim.ir.fixedpoint`. The sum is exact, so event order does not matter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from neurosim.errors import FixedPointError, SimulationError, UnsupportedError
from neurosim.ir.ops import conv_nd
from neurosim.ir.fixedpoint import saturate, shift_right
from neurosim.ir.graph import Graph
from neurosim.ir.nodes import (
    IF,
    LI,
    LIF,
    AvgPool2d,
    Conv1d,
    Conv2d,
    CubaLIF,
    Delay,
    Dense,
    Flatten,
    Input,
    Integrator,
    NMSparse,
    Node,
    Output,
    Scale,
    SparseCSR,
    SumPool2d,
    Threshold,
)
from neurosim.ir.nodes.neurons import representable

MODES = ("float", "fixed")

#: the largest input magnitude the simulators take: an int32 input code. Spike counts and input
#: currents of real models are orders of magnitude below it; a larger value (``1e300``) can only
#: overflow the fixed-point accumulators or turn the float membranes into inf/nan.
INPUT_MAX = 2**31 - 1


def _at(index) -> str:
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def overflow_message(node: str, value, acc_width: int | None, step: int | None = None) -> str:
    """The one message of a fixed-point accumulator overflow (engine and reference alike): the sum in
    short form when it is huge, and the fixes a command-line user and a Python user each have."""
    v = float(value)
    shown = f"{int(v)}" if abs(v) < 1e15 else f"{v:.4g}"
    at = "" if step is None else f" at step {step}"
    width = "" if acc_width is None else f"{acc_width}-bit "
    return (f"node {node!r}: synaptic input sum {shown}{at} overflows the {width}accumulator of the fixed-point "
            f"model; scale the input down, or quantize with wider accumulators (acc_bits)")


def check_input_array(arr, name: str) -> np.ndarray:
    """The one value check of an input array, shared by the CLI (after
    :func:`neurosim.commands.load_array`), the reference simulator (:func:`run`), the engine
    (:func:`~neurosim.targets.neuromorphic.model.simulate.simulate`) and ``estimate``.

    Returns ``arr`` as an ndarray; raises :class:`SimulationError` naming input ``name`` when its dtype
    is not bool/integer/real float (complex values would lose their imaginary part, strings,
    bytes, datetimes and objects be coerced), when it has no time axis, 0 timesteps or more than the
    ``timesteps`` limit (:mod:`neurosim.limits`), or when a value
    is not finite or beyond :data:`INPUT_MAX` (shown in short form, with its index)."""
    try:
        arr = np.asarray(arr)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise SimulationError(f"input {name!r} is not an array of numbers ({str(exc)[:120]}); give a numpy array "
                              f"shaped [T, *input_shape]") from None
    if arr.dtype.kind not in "biuf" or arr.dtype.fields is not None:
        raise SimulationError(f"input {name!r} has dtype {str(arr.dtype)!r}; inputs must be bool, integer or real "
                              f"float numbers (spike counts or currents): convert it, e.g. x.astype(numpy.float32)")
    if arr.ndim == 0:
        raise SimulationError(f"input {name!r} is a scalar ({arr.item()!r}); give an array shaped [T, *input_shape] "
                              f"(the first axis is time)")
    if arr.shape[0] == 0:
        raise SimulationError(f"input {name!r} has 0 timesteps (shape {arr.shape!r}); give at least one step "
                              f"along the first axis")
    from neurosim import limits

    limits.check("timesteps", int(arr.shape[0]), f"input {name!r}")
    if arr.dtype.kind == "f" and arr.size:
        finite = np.isfinite(arr)
        if not finite.all():
            idx = np.argwhere(~finite)[0]
            raise SimulationError(f"input {name!r} holds {float(arr[tuple(idx)])!r} at {_at(idx)}; inputs must be "
                                  f"finite numbers: fix or drop the non-finite values")
    if arr.dtype.kind in "iuf" and arr.size:
        big = np.abs(arr.astype(np.float64, copy=False)) > INPUT_MAX
        if big.any():
            idx = np.argwhere(big)[0]
            raise SimulationError(f"input {name!r} holds {float(arr[tuple(idx)]):.4g} at {_at(idx)}, beyond the "
                                  f"simulators' input range of +-{INPUT_MAX:,} (an int32 input code); scale the input "
                                  f"down to spike counts or currents within that range")
    return arr


@dataclass
class RunResult:
    """What one run produced.

    ``outputs[name]`` is every node's output per step, ``[T, (B,) *shape]`` (spikes for spiking
    nodes, values otherwise); ``state[name]`` the final state arrays of stateful nodes (``v``,
    and ``i`` for CubaLIF).
    """

    outputs: dict[str, np.ndarray]
    state: dict[str, dict[str, np.ndarray]]
    graph_outputs: tuple[str, ...]
    mode: str = "float"

    @property
    def output_spikes(self) -> np.ndarray:
        """The first Output node's values ``[T, (B,) *shape]``."""
        return self.outputs[self.graph_outputs[0]]


# -- kernels: one per node type, registered below -----------------------------------------------

class Kernel:
    """How one node type steps. ``init`` returns its state dict; ``step`` returns its output."""

    def __init__(self, node: Node, name: str, mode: str, batch: tuple[int, ...], dtype) -> None:
        self.node, self.name, self.mode, self.batch, self.dtype = node, name, mode, batch, dtype
        self.state: dict[str, np.ndarray] = {}
        self.setup()

    def setup(self) -> None:
        pass

    def step(self, x):
        raise NotImplementedError

    def zeros(self, shape) -> np.ndarray:
        return np.zeros(self.batch + tuple(shape), dtype=np.int64 if self.mode == "fixed" else self.dtype)

    def initial_output(self, in_shape, shape):
        """The value a recurrent edge from this node delivers at step 0 (its output before time)."""
        return self.zeros(shape)

    def unsupported_fixed(self, why: str):
        raise UnsupportedError(f"node {self.name!r} ({type(self.node).__name__}) has no fixed-point semantics: {why}")

    def param(self, arr) -> np.ndarray:
        return np.asarray(arr, dtype=self.dtype)


class PassKernel(Kernel):
    def step(self, x):
        return x


class InputKernel(PassKernel):
    pass


class OutputKernel(PassKernel):
    pass


class ProjectionKernel(Kernel):
    """Linear maps ``y = W x + b``, applied from the node's stored form (never densified).

    Subclasses say which arrays hold the weights (:meth:`stored`) and how to apply them
    (:meth:`apply`); fixed mode turns those arrays into exact int64 codes (checked
    representable), float mode into ``dtype``.
    """

    def setup(self) -> None:
        node = self.node
        if self.mode == "fixed":
            if node.weight_format is None:
                raise SimulationError(
                    f"node {self.name!r} has no weight_format; fixed mode needs quantized weights "
                    f"(on the command line `neurosim estimate --chip NAME` quantizes it with the chip's arithmetic; in Python call neurosim.passes.quantize(graph) first)"
                )
            self.w = representable(node.weight_format, self.stored(), f"node {self.name!r} weight")
            self.b = None if node.bias is None else representable(node.weight_format, node.bias, f"node {self.name!r} bias")
        else:
            self.w = self.param(self.stored())
            self.b = None if node.bias is None else self.param(node.bias)
        self.setup_layout()

    def stored(self) -> np.ndarray:
        """The weight values as the node stores them (dense matrix, conv kernel, nonzeros)."""
        return self.node.weight

    def setup_layout(self) -> None:
        """Index arrays a compact format needs next to its values."""

    def step(self, x):
        if self.mode == "fixed":
            x = _integer_input(x, self.name)
        y = self.linear(x)
        return y if self.b is None else y + self.bias_shaped(y)

    def linear(self, x):
        """The map without its bias, on ``x[..., *in_shape]`` (also used to probe the graph's linear chains)."""
        return self.apply(x)

    def bias_shaped(self, y: np.ndarray) -> np.ndarray:
        return self.b

    def initial_output(self, in_shape, shape):
        """A stateless projection's output for silent input: its bias (snnTorch RLeaky adds the
        recurrent bias from step 0 on)."""
        if self.b is None:
            return self.zeros(shape)
        return self.step(self.zeros(in_shape))

    def apply(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class DenseKernel(ProjectionKernel):
    def apply(self, x):
        return x @ self.w.T


class SparseCSRKernel(ProjectionKernel):
    """Row-compressed ``W``: gather the inputs each nonzero reads, multiply, sum each row's run.

    Memory is ``batch x nnz``, never ``out x in``; empty rows give 0 (and their bias).
    """

    def setup_layout(self) -> None:
        node = self.node
        self.indices = node.indices
        self.n_out = int(node.shape[0])
        starts = node.indptr[:-1]
        self.nonempty = np.flatnonzero(np.diff(node.indptr) > 0)
        self.starts = starts[self.nonempty]

    def apply(self, x):
        lead = x.shape[:-1]
        y = np.zeros(lead + (self.n_out,), dtype=np.result_type(x.dtype, self.w.dtype))
        if self.w.size:
            prod = x[..., self.indices] * self.w
            y[..., self.nonempty] = np.add.reduceat(prod, self.starts, axis=-1)
        return y


class NMSparseKernel(ProjectionKernel):
    """N:M-compressed ``W`` (:mod:`neurosim.ir.nm`): value ``[o, g*N + j]`` reads input column
    ``g*M + offsets[o, g*N + j]``; memory is ``batch x out x (in*N/M)``, the stored size."""

    def setup_layout(self) -> None:
        n, m = self.node.nm
        k = self.node.weight.shape[1]
        group = (np.arange(k, dtype=np.int64) // n) * m
        self.columns = group[None, :] + self.node.offsets.astype(np.int64)

    def apply(self, x):
        return np.einsum("...ok,ok->...o", x[..., self.columns], self.w)


class ConvKernel(ProjectionKernel):
    def bias_shaped(self, y):
        return self.b.reshape((-1,) + (1,) * self.node.spatial_dims)

    def apply(self, x):
        return conv_nd(x, self.w, self.node.stride, self.node.padding, self.node.dilation, self.node.groups)


class PoolKernel(Kernel):
    def setup(self) -> None:
        if self.mode == "fixed" and isinstance(self.node, AvgPool2d):
            self.unsupported_fixed("averaging divides; use SumPool2d and fold 1/area into the next weights")
        k = self.node.kernel_size
        ones = np.ones((1, 1) + k, dtype=np.int64 if self.mode == "fixed" else self.dtype)
        self.k = ones

    def step(self, x):
        lead = x.shape[:-3]
        c = x.shape[-3]
        xs = x.reshape((-1, 1) + x.shape[-2:])
        y = conv_nd(xs, self.k, self.node.stride, self.node.padding, (1, 1), 1)
        y = y.reshape(lead + (c,) + y.shape[-2:])
        if isinstance(self.node, AvgPool2d):
            y = y / float(np.prod(self.node.kernel_size))
        return y

    def linear(self, x):
        """Pooling is linear and has no bias: the map is the step."""
        return self.step(x)


class FlattenKernel(Kernel):
    def step(self, x):
        nb = len(self.batch)
        n = x.ndim - nb
        node = self.node
        s = node.start_dim + n if node.start_dim < 0 else node.start_dim
        e = node.end_dim + n if node.end_dim < 0 else node.end_dim
        shape = x.shape[nb:]
        return x.reshape(x.shape[:nb] + shape[:s] + (int(np.prod(shape[s:e + 1])),) + shape[e + 1:])

    def linear(self, x):
        """Flatten is a reshape: the map is the step."""
        return self.step(x)


class ScaleKernel(Kernel):
    def setup(self) -> None:
        if self.mode == "fixed":
            self.unsupported_fixed("a real-valued scale; fold it into the neighbouring weights")

    def step(self, x):
        return x * self.param(self.node.scale)


class ThresholdKernel(Kernel):
    def step(self, x):
        thr = self.param(self.node.threshold)
        if self.mode == "fixed":
            self.unsupported_fixed("the threshold needs a format; quantize the graph")
        s = x > thr if self.node.spike_rule == "gt" else x >= thr
        return s.astype(self.dtype)


class DelayKernel(Kernel):
    def setup(self) -> None:
        depth = self.node.max_delay + 1
        self.state["buffer"] = np.zeros((depth,) + self.batch + self.node.shape,
                                        dtype=np.int64 if self.mode == "fixed" else self.dtype)
        self.t = 0

    def step(self, x):
        buf = self.state["buffer"]
        depth = buf.shape[0]
        buf[self.t % depth] = x
        d = np.broadcast_to(self.node.delay_steps, self.batch + self.node.shape)
        idx = (self.t - d) % depth
        y = np.take_along_axis(buf, idx[None], axis=0)[0]
        y = np.where(self.t - d >= 0, y, 0)
        self.t += 1
        return y


class NeuronKernel(Kernel):
    """LIF, IF, CubaLIF, LI and Integrator in both modes (see module and node docstrings)."""

    def setup(self) -> None:
        node = self.node
        self.spiking = node.spiking
        self.has_syn = isinstance(node, CubaLIF)
        self.state["v"] = self.zeros(node.shape)
        if self.has_syn:
            self.state["i"] = self.zeros(node.shape)
        if self.spiking:
            self.prev_s = self.zeros(node.shape)
            self.refr = np.zeros(self.batch + node.shape, dtype=np.int64)
        if self.mode == "fixed":
            self.setup_fixed()
        else:
            self.decay = self.param(getattr(node, "decay", 1.0))
            self.gain = self.param(node.gain)
            self.bias = self.param(node.bias)
            if self.spiking:
                self.thr = self.param(node.threshold)
                self.v_reset = self.param(node.v_reset)
            if self.has_syn:
                self.syn_decay = self.param(node.syn_decay)
                self.syn_gain = self.param(node.syn_gain)

    def setup_fixed(self) -> None:
        node = self.node
        if not self.spiking:
            self.unsupported_fixed("non-spiking readouts are read out in float; quantize the layer before it")
        fx = node.fixed
        if fx is None:
            raise SimulationError(
                f"node {self.name!r} has no fixed-point spec; fixed mode needs a quantized graph "
                f"(on the command line `neurosim estimate --chip NAME` quantizes it with the chip's arithmetic; in Python call neurosim.passes.quantize(graph) first)"
            )
        if self.has_syn and node.current_lag != 0:
            self.unsupported_fixed("CubaLIF current_lag=1 has no hardware realisation")
        self.fmt = fx.state
        what = f"node {self.name!r}"
        self.bias = representable(self.fmt, node.bias, f"{what} bias")
        self.thr = representable(self.fmt, node.threshold, f"{what} threshold")
        self.v_reset = representable(self.fmt, node.v_reset, f"{what} v_reset")
        self.leak_v = _leak_fn(fx.leak, fx.leak_shift, fx.leak_bits, fx.leak_code)
        if self.has_syn:
            if fx.syn_leak == "shift":
                self.leak_i = _leak_fn("shift" if node.syn_shift > 0 else "none", node.syn_shift, 0, 0)
            else:
                self.leak_i = _leak_fn(fx.syn_leak, 0, fx.syn_leak_bits, fx.syn_leak_code)

    # float -----------------------------------------------------------------------------------
    def step(self, x):
        if self.mode == "fixed":
            return self.step_fixed(x)
        node, st = self.node, self.state
        v = st["v"]
        if self.has_syn:
            i_old = st["i"]
            i_new = self.syn_decay * i_old + self.syn_gain * x
            st["i"] = i_new
            drive = i_new if node.current_lag == 0 else i_old
        else:
            drive = x
        if not self.spiking:
            st["v"] = self.decay * v + self.gain * drive + self.bias
            return st["v"].copy()
        if node.reset_timing == "delayed" and node.reset == "zero":
            v = np.where(self.prev_s > 0, self.v_reset, v)
        v_new = self.decay * v + self.gain * drive + self.bias
        if node.reset_timing == "delayed" and node.reset == "subtract":
            v_new = v_new - self.prev_s * self.thr
        if node.refractory_steps:
            frozen = self.refr > 0
            # hold the post-reset membrane (the delayed subtract's reset lands in the held value)
            held = v - self.prev_s * self.thr if (node.reset_timing == "delayed" and node.reset == "subtract") else v
            v_new = np.where(frozen, held, v_new)
        s = self.fire(v_new)
        if node.refractory_steps:
            s = np.where(frozen, 0, s).astype(s.dtype)
            self.refr = np.where(frozen, self.refr - 1, np.where(s > 0, node.refractory_steps, 0))
        if node.reset_timing == "immediate":
            if node.reset == "subtract":
                v_new = v_new - s * self.thr
            elif node.reset == "zero":
                v_new = np.where(s > 0, self.v_reset, v_new)
        st["v"] = v_new
        self.prev_s = s
        return s

    def fire(self, v):
        rule = self.node.spike_rule
        if rule == "gt":
            return (v > self.thr).astype(v.dtype)
        if rule == "ge":
            return (v >= self.thr).astype(v.dtype)
        s = np.where(v >= self.thr, np.floor(v / self.thr), 0)
        if self.node.max_spikes is not None:  # multi-spikes capped (E-3DSNN's multispike: 4)
            s = np.minimum(s, self.node.max_spikes)
        return s.astype(v.dtype)

    # fixed -----------------------------------------------------------------------------------
    def step_fixed(self, x):
        node, st, fmt, fx = self.node, self.state, self.fmt, self.node.fixed
        lo, hi = fmt.min_int, fmt.max_int
        acc = _integer_input(x, self.name)
        acc_max = (1 << (fx.acc_width - 1)) - 1
        if np.any(np.abs(acc) > acc_max):
            bad = int(acc.flat[np.argmax(np.abs(acc))])
            raise FixedPointError(overflow_message(self.name, bad, fx.acc_width))
        drive = np.left_shift(acc, fx.input_shift) if fx.input_shift else acc
        frozen = self.refr > 0 if node.refractory_steps else None
        if self.has_syn:
            i_new = saturate(st["i"] + drive, lo, hi)
            st["i"] = i_new if frozen is None else np.where(frozen, st["i"], i_new)
            drive = st["i"]
        base = st["v"]
        delayed = node.reset_timing == "delayed"
        if delayed and node.reset == "subtract":
            base = base - self.prev_s * self.thr
        elif delayed and node.reset == "zero":
            base = np.where(self.prev_s > 0, self.leak_v(self.v_reset), base)
        v_new = saturate(base + drive + self.bias, lo, hi)  # one saturation, on the exact int64 sum
        if frozen is not None:
            v_new = np.where(frozen, saturate(base, lo, hi), v_new)
        rule = node.spike_rule
        if rule == "gt":
            s = (v_new > self.thr).astype(np.int64)
        elif rule == "ge":
            s = (v_new >= self.thr).astype(np.int64)
        else:
            s = np.where(v_new >= self.thr, v_new // self.thr, 0).astype(np.int64)
            if node.max_spikes is not None:
                s = np.minimum(s, node.max_spikes)
        if frozen is not None:
            s = np.where(frozen, 0, s)
            self.refr = np.where(frozen, self.refr - 1, np.where(s > 0, node.refractory_steps, 0))
        if not delayed and node.reset == "subtract":
            v_new = saturate(v_new - s * self.thr, lo, hi)
        elif not delayed and node.reset == "zero":
            v_new = np.where(s > 0, self.v_reset, v_new)
        st["v"] = self.leak_v(v_new)
        if self.has_syn:
            st["i"] = self.leak_i(st["i"])
        self.prev_s = s
        return s


def _leak_fn(leak: str, shift: int, bits: int, code: int) -> Callable[[np.ndarray], np.ndarray]:
    """The fixed-point leak ``L`` on int64 codes (see the module docstring and the IR's neuron docs)."""
    if leak == "shift":
        return lambda v: v - shift_right(v, shift)
    if leak == "mult":  # Loihi / lava-nc PyLifModelFixed: the product truncated toward zero
        def mult(v):
            prod = np.asarray(v, dtype=np.int64) * np.int64(code)
            return np.sign(prod) * np.right_shift(np.abs(prod), bits)
        return mult
    if leak == "linear":  # TrueNorth: toward zero by lam, never past it
        return lambda v: np.asarray(v, dtype=np.int64) - np.sign(v) * np.minimum(np.abs(v), code)
    return lambda v: np.asarray(v, dtype=np.int64)


def _integer_input(x, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.int64)
    r = np.rint(arr)
    if not np.array_equal(r, arr):
        raise SimulationError(
            f"node {name!r} receives non-integer values in fixed mode (e.g. {float(arr[r != arr].flat[0])!r}); "
            f"fixed-mode inputs must be spike counts or integer codes"
        )
    return r.astype(np.int64)


#: The kernel of every node type (one registry, no if/elif chain).
KERNELS: dict[type[Node], type[Kernel]] = {
    Input: InputKernel,
    Output: OutputKernel,
    Dense: DenseKernel,
    SparseCSR: SparseCSRKernel,
    NMSparse: NMSparseKernel,
    Conv1d: ConvKernel,
    Conv2d: ConvKernel,
    SumPool2d: PoolKernel,
    AvgPool2d: PoolKernel,
    Flatten: FlattenKernel,
    Scale: ScaleKernel,
    Threshold: ThresholdKernel,
    Delay: DelayKernel,
    LIF: NeuronKernel,
    IF: NeuronKernel,
    CubaLIF: NeuronKernel,
    LI: NeuronKernel,
    Integrator: NeuronKernel,
}


def check_graph_size(graph: Graph, what: str = "the model") -> None:
    """Refuse a graph above the ``neurons`` or ``synapses`` limit (:mod:`neurosim.limits`) before any
    state or weight table is allocated for it: a file that declares 1e9 neurons must fail here with a
    clear message, not after allocating gigabytes."""
    from neurosim import limits
    from neurosim.ir.nodes import Projection

    shapes = graph.shapes
    neurons = synapses = 0
    for name, node in graph.nodes.items():
        if node.family == "population":
            n = 1
            for d in shapes[name]:
                n *= int(d)
            neurons += n
        elif isinstance(node, Projection):
            synapses += int(node.n_synapses())
    limits.check("neurons", neurons, what)
    limits.check("synapses", synapses, what)


def _normalise_inputs(graph: Graph, inputs, batched: bool) -> tuple[dict[str, np.ndarray], int, tuple[int, ...]]:
    if not isinstance(inputs, Mapping):
        if len(graph.inputs) != 1:
            raise SimulationError(
                f"the graph has {len(graph.inputs)} inputs {graph.inputs!r}; pass a dict of arrays keyed by input name"
            )
        inputs = {graph.inputs[0]: inputs}
    missing = set(graph.inputs) - set(inputs)
    if missing:
        raise SimulationError(f"no input array for input node(s) {sorted(missing)!r}")
    out, steps, batch = {}, None, None
    for name in graph.inputs:
        arr = check_input_array(inputs[name], name)
        shape = graph.nodes[name].shape
        nb = 1 if batched else 0
        if arr.ndim != 1 + nb + len(shape) or tuple(arr.shape[1 + nb:]) != tuple(shape):
            want = "[T, B, " if batched else "[T, "
            raise SimulationError(
                f"input {name!r} has shape {arr.shape!r}, expected {want}{', '.join(map(str, shape))}]; "
                f"the first axis is time"
            )
        if steps is None:
            steps = arr.shape[0]
            batch = tuple(arr.shape[1:1 + nb])
        elif arr.shape[0] != steps:
            raise SimulationError(f"input {name!r} has {arr.shape[0]} steps, other inputs have {steps}")
        out[name] = arr
    if steps == 0:
        raise SimulationError("the input has 0 timesteps; give at least one")
    return out, steps, batch


def run(graph: Graph, inputs, *, mode: str = "float", dtype=np.float64, batched: bool = False,
        progress: Callable[[int, int], None] | None = None) -> RunResult:
    """Simulate ``graph`` on ``inputs`` (``[T, *input_shape]``, or ``[T, B, *shape]`` if ``batched``).

    ``inputs`` is an array (single-input graphs) or a dict keyed by input node name. ``progress``
    is called as ``progress(t, T)`` after every step.
    """
    if mode not in MODES:
        raise SimulationError(f"mode must be one of {MODES!r}, found {mode!r}")
    for name in graph.order:
        if type(graph.nodes[name]) not in KERNELS:
            raise UnsupportedError(
                f"node {name!r} ({type(graph.nodes[name]).__name__}) is a non-spiking DNN layer, which the "
                f"spiking simulators cannot run; estimate its training cost with `neurosim sat` instead"
            )
    check_graph_size(graph)
    arrays, steps, batch = _normalise_inputs(graph, inputs, batched)
    kernels = {name: KERNELS[type(graph.nodes[name])](graph.nodes[name], name, mode, batch, dtype)
               for name in graph.order}
    preds = {name: [(a, (a, name) in graph.recurrent_edges) for a in graph.predecessors(name)] for name in graph.order}
    rec_sources = {a for a, _ in graph.recurrent_edges}
    prev: dict[str, object] = {name: kernels[name].initial_output(graph.input_shape_of(name), graph.shapes[name])
                               for name in rec_sources}
    records: dict[str, list[np.ndarray]] = {name: [] for name in graph.order}
    for t in range(steps):
        cur: dict[str, object] = {}
        for name in graph.order:
            if name in arrays:
                x = arrays[name][t].astype(dtype) if mode == "float" else _integer_input(arrays[name][t], name)
            else:
                vals = [(prev[a] if rec else cur[a]) for a, rec in preds[name]]
                x = tuple(vals) if graph.nodes[name].operands > 1 else _gather(vals, mode)
            y = kernels[name].step(x)
            cur[name] = y
            records[name].append(np.array(y, copy=True))
        prev = {n: cur[n] for n in rec_sources}
        if progress is not None:
            progress(t + 1, steps)
    outputs = {n: np.stack(r) for n, r in records.items() if r}
    state = {n: {k: v.copy() for k, v in kernels[n].state.items() if k != "buffer"} for n in graph.order
             if kernels[n].state and graph.nodes[n].family == "population"}
    return RunResult(outputs=outputs, state=state, graph_outputs=graph.outputs, mode=mode)


def _gather(values: list, mode: str):
    """The sum of a node's inputs (exact in fixed mode: int64)."""
    total = values[0]
    for v in values[1:]:
        total = total + v
    return total
