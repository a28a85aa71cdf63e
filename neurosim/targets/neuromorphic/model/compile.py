"""Lower an IR graph to what the cycle-level engine runs on.

The engine sees a network of **sources** (input elements and spiking neurons, one global index
each: inputs first, then every spiking population in schedule order) and, per source group (an
Input node or a spiking population), its **routes** to spiking populations: everything linear
between two spiking layers -- projections, pooling, flatten, delays, several edges summing -- is
kept in compact form as a path of ops (:mod:`~neurosim.targets.neuromorphic.model.projections`),
never composed into a matrix: memory grows with the weights, not with neurons x neurons.
Projection biases become a constant per-step input of the target neuron.

Delay: 0 for forward edges (same step), +1 for every recurrent edge on the path, +d for a
:class:`~neurosim.ir.nodes.Delay` node.

In fixed mode the weights are integer codes (weights are exact multiples of the membrane LSB,
checked by the graph); SumPool2d and Flatten keep them integers, and the engine's exact
accumulation makes the result independent of event order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurosim.errors import SimulationError, UnsupportedError
from neurosim.ir.graph import Graph
from neurosim.ir.nodes import (
    IF,
    LIF,
    AvgPool2d,
    Conv1d,
    Conv2d,
    CubaLIF,
    Delay,
    Dense,
    Flatten,
    Input,
    NMSparse,
    Output,
    SparseCSR,
    SpikingPopulation,
    SumPool2d,
)
from neurosim.targets.neuromorphic.model import projections as pj

RESET_CODES = {"zero": 0, "subtract": 1, "none": 2}
TIMING_CODES = {"immediate": 0, "delayed": 1}
RULE_CODES = {"gt": 0, "ge": 1, "multi": 2}
#: fixed-point leak modes beyond the shift: 0 = shift by ``leak_shift`` (0 = no leak), 1 = mult, 2 = linear
LEAK_CODES = {"shift": 0, "none": 0, "mult": 1, "linear": 2}

#: More distinct paths than this between one source and one population is refused (a DAG of
#: linear nodes whose paths multiply); no real model comes close.
MAX_PATHS = 256

#: :meth:`CompiledNetwork.synapse_list` refuses to materialise more synapses than this by default.
MAX_SYNAPSE_LIST = 50_000_000

_LINEAR = (Dense, SparseCSR, NMSparse, Conv1d, Conv2d, SumPool2d, AvgPool2d, Delay)


@dataclass(frozen=True)
class Synapses:
    """Effective synapses in source-major order: ``ptr[s]..ptr[s+1]`` are source ``s``'s entries
    (targets ascending). A materialisation for small networks (the RTL flow, tests)."""

    ptr: np.ndarray  # int64 [n_sources + 1]
    target: np.ndarray  # int64 [nnz], global neuron index
    weight: np.ndarray  # float64 [nnz] (integer codes in fixed mode)
    delay: np.ndarray  # int64 [nnz]


@dataclass(frozen=True)
class CompiledNetwork:
    """A graph as flat arrays (see module docstring). Neuron arrays are indexed by global index."""

    mode: str
    n_inputs: int
    input_names: tuple[str, ...]
    input_offsets: dict[str, int]
    populations: tuple[str, ...]  # spiking populations in schedule order
    pop_offset: np.ndarray  # int64 [n_pops + 1]: global index range of each population
    pop_sources: tuple[tuple[int, ...], ...]  # per population: source populations (-1 = inputs) on forward edges
    n_total: int
    program: pj.Program
    n_groups: int  # source groups: the inputs, then the populations
    max_delay: int
    # per-neuron parameters (global index; input entries unused)
    const_in: np.ndarray
    decay: np.ndarray
    gain: np.ndarray
    bias: np.ndarray
    threshold: np.ndarray
    v_reset: np.ndarray
    syn_decay: np.ndarray
    syn_gain: np.ndarray
    # per-population codes
    is_cuba: np.ndarray
    current_lag: np.ndarray
    reset: np.ndarray
    timing: np.ndarray
    rule: np.ndarray
    refractory: np.ndarray
    leak_shift: np.ndarray  # fixed: 0 = no leak
    syn_shift: np.ndarray
    # fixed: leak mode (LEAK_CODES), its bits (mult) and code (mult: d; linear: lambda), membrane and current
    leak_mode: np.ndarray
    leak_bits: np.ndarray
    leak_code: np.ndarray
    syn_leak_mode: np.ndarray
    syn_leak_bits: np.ndarray
    syn_leak_code: np.ndarray
    input_shift: np.ndarray  # fixed: the accumulated input is shifted left by this before it is added
    lo: np.ndarray
    hi: np.ndarray
    acc_max: np.ndarray

    def population_slice(self, name: str) -> slice:
        i = self.populations.index(name)
        return slice(int(self.pop_offset[i]), int(self.pop_offset[i + 1]))

    @property
    def n_slots(self) -> int:
        return self.max_delay + 1

    def synapse_list(self, limit: int = MAX_SYNAPSE_LIST) -> Synapses:
        """Every effective synapse (all paths of a source to one target and delay summed, zeros
        dropped), for networks with at most ``limit`` of them."""
        ptr, tgt, dly, w = pj.materialize(self.program, self.n_groups, self.n_slots, self.n_total, limit)
        if ptr[0] < 0:
            raise SimulationError(f"the network has more than {limit:,} effective synapses; materialising them is "
                                  f"refused -- use the engine's compact projections (or raise limit=)")
        src = np.repeat(np.arange(self.n_total, dtype=np.int64), np.diff(ptr))
        order = np.lexsort((dly, tgt, src))
        return Synapses(ptr=ptr, target=tgt[order], weight=w[order], delay=dly[order])


def _apply_offset(node, name: str, x: np.ndarray, in_shape, mode: str) -> np.ndarray:
    """A linear node applied to one constant vector (the per-step input its predecessors' biases make)."""
    from neurosim.ir.ops import conv_nd  # one conv implementation for both engines

    scale = 2.0 ** node.weight_format.frac_bits if mode == "fixed" and getattr(node, "weight_format", None) else 1.0
    if isinstance(node, SparseCSR):
        rows = np.repeat(np.arange(node.shape[0]), np.diff(node.indptr))
        return np.bincount(rows, weights=node.weight * scale * x[node.indices], minlength=node.shape[0])
    if isinstance(node, (Dense, NMSparse)):
        return (node.dense_weight() * scale) @ x
    batch = x.reshape((1,) + tuple(in_shape))
    if isinstance(node, (Conv1d, Conv2d)):
        y = conv_nd(batch, node.weight * scale, node.stride, node.padding, node.dilation, node.groups)
    else:  # pooling
        k = np.ones((1, 1) + node.kernel_size)
        c = batch.shape[1]
        y = conv_nd(batch.reshape((-1, 1) + batch.shape[2:]), k, node.stride, node.padding, (1, 1), 1)
        y = y.reshape((1, c) + y.shape[2:])
        if isinstance(node, AvgPool2d):
            y = y / float(np.prod(node.kernel_size))
    return y.reshape(-1)


def _bias(node, mode: str) -> np.ndarray | None:
    b = getattr(node, "bias", None)
    if b is None:
        return None
    if mode == "fixed":
        b = b * 2.0 ** node.weight_format.frac_bits
    return b


#: node families the engine lowers (the rest are refused by :func:`check_engine_support`)
ENGINE_FAMILIES = frozenset({"io", "population", "projection", "shape", "delay"})


def check_engine_support(graph: Graph) -> None:
    """Refuse, naming the first node in schedule order, a graph with a node the cycle-level engine
    cannot run: non-spiking readouts, elementwise nodes, DNN layers and the node families beyond the
    core set (LayerNorm, WKV, spike x spike matmul, sparse convolution, ...). Called before any
    quantization or mapping, so the message names the real blocker."""
    for name in graph.order:
        node = graph.nodes[name]
        kind = type(node).__name__
        if node.family == "population" and not isinstance(node, SpikingPopulation):
            raise UnsupportedError(
                f"node {name!r} ({kind}) is a non-spiking readout; the neuromorphic core runs "
                f"spiking populations only -- replace it with a spiking layer or read the layer before it"
            )
        if isinstance(node, SpikingPopulation) and node.max_spikes is not None:
            raise UnsupportedError(
                f"node {name!r} ({kind}) caps multi-spikes at max_spikes={node.max_spikes!r}, which the cycle-level "
                f"engine does not implement yet; run it with the reference simulator or `neurosim metrics`"
            )
        if node.family == "elementwise":
            raise UnsupportedError(f"node {name!r} ({kind}) has no hardware mapping; fold it into weights")
        if node.family not in ENGINE_FAMILIES:
            what = ("is a non-spiking DNN layer, which the cycle-level engine cannot run" if node.family == "dnn"
                    else "is not supported by the cycle-level engine yet")
            raise UnsupportedError(
                f"node {name!r} ({kind}) {what}; `neurosim metrics` gives "
                f"the papers'-method and memory-aware estimates of this model (and `neurosim sat` the training "
                f"cost of its conv/linear layers)"
            )


def compile_graph(graph: Graph, mode: str = "fixed") -> CompiledNetwork:
    """Lower ``graph`` (see module docstring). Raises UnsupportedError for nodes the core cannot run."""
    from neurosim.targets.neuromorphic.model.reference import check_graph_size

    if mode not in ("float", "fixed"):
        raise SimulationError(f"mode must be 'float' or 'fixed', found {mode!r}")
    check_graph_size(graph)
    shapes = graph.shapes
    inputs = graph.inputs
    pops = tuple(graph.spiking_populations())
    check_engine_support(graph)
    if mode == "fixed":
        for name in graph.order:
            node = graph.nodes[name]
            if isinstance(node, SpikingPopulation) and node.fixed is None:
                raise SimulationError(f"node {name!r} has no fixed-point spec; fixed mode needs a quantized graph "
                                      f"(on the command line `neurosim estimate --chip NAME` quantizes it with the chip's arithmetic; in Python call neurosim.passes.quantize(graph) first)")
            if isinstance(node, (Dense, SparseCSR, NMSparse, Conv1d, Conv2d)) and node.weight_format is None:
                raise SimulationError(f"node {name!r} has no weight_format; fixed mode needs a quantized graph "
                                      f"(on the command line `neurosim estimate --chip NAME` quantizes it with the chip's arithmetic; in Python call neurosim.passes.quantize(graph) first)")
    sources = (*inputs, *pops)
    sizes = {n: int(np.prod(shapes[n])) for n in sources}
    offsets: dict[str, int] = {}
    cursor = 0
    for n in sources:
        offsets[n] = cursor
        cursor += sizes[n]
    n_inputs = sum(sizes[n] for n in inputs)
    n_total = cursor
    builder = pj._Builder(mode)

    # per node: {(source, delay): [path (tuple of op ids), ...]} and the constant offset it outputs
    paths: dict[str, tuple[dict, np.ndarray]] = {}

    def gather(name: str) -> tuple[dict, np.ndarray]:
        terms: dict = {}
        offset = None
        for pred in graph.predecessors(name):
            extra = 1 if (pred, name) in graph.recurrent_edges else 0
            t_pred, o_pred = build(pred)
            offset = o_pred if offset is None else offset + o_pred
            for (src, d), plist in t_pred.items():
                terms.setdefault((src, d + extra), []).extend(plist)
        for key, plist in terms.items():
            if len(plist) > MAX_PATHS:
                raise UnsupportedError(f"node {name!r} is reached from {key[0]!r} along {len(plist)} distinct linear "
                                       f"paths (at most {MAX_PATHS}); insert a spiking layer between the branches")
        return terms, (offset if offset is not None else np.zeros(int(np.prod(graph.input_shape_of(name)))))

    def build(name: str) -> tuple[dict, np.ndarray]:
        if name in paths:
            return paths[name]
        node = graph.nodes[name]
        if isinstance(node, (Input, SpikingPopulation)):
            paths[name] = ({(name, 0): [()]}, np.zeros(sizes[name]))
            return paths[name]
        if not isinstance(node, (*_LINEAR, Flatten, Output)):
            raise UnsupportedError(f"node {name!r} ({type(node).__name__}) cannot be mapped onto the core")
        terms, offset = gather(name)
        if isinstance(node, (Flatten, Output)):
            paths[name] = (terms, offset)
            return paths[name]
        in_shape = graph.input_shape_of(name)
        if isinstance(node, Delay) and np.any(offset):
            raise UnsupportedError(f"node {name!r}: a Delay after a biased projection is not supported by the engine")
        op = builder.op_of(name, node, in_shape, shapes[name])
        out_terms = {key: [p + (op,) for p in plist] for key, plist in terms.items()}
        if isinstance(node, Delay):
            new_offset = offset
        else:
            new_offset = _apply_offset(node, name, offset, in_shape, mode) if np.any(offset) else \
                np.zeros(int(np.prod(shapes[name])))
            b = _bias(node, mode)
            if b is not None:
                out_shape = shapes[name]
                new_offset = new_offset + np.broadcast_to(b.reshape((-1,) + (1,) * (len(out_shape) - 1)),
                                                          out_shape).reshape(-1)
        paths[name] = (out_terms, new_offset)
        return paths[name]

    routes: list[list] = [[] for _ in sources]
    const_in = np.zeros(n_total)
    pop_sources: list[tuple[int, ...]] = []
    identity: dict[str, int] = {}
    max_delay = 0
    for p in pops:
        terms, offset = gather(p)
        const_in[offsets[p]:offsets[p] + sizes[p]] = offset
        srcs = set()
        for (src, d), plist in terms.items():
            for path in plist:
                if not path:  # a population fed directly: the identity, stored as a CSR diagonal
                    if src not in identity:
                        identity[src] = builder.identity(sizes[src])
                    path = (identity[src],)
                extra = sum(builder.extra_delay[o] for o in path)  # Delay nodes on the path
                if d + extra == 0:  # a forward (same-step) edge: the latency model orders p after src
                    srcs.add(-1 if src in inputs else pops.index(src))
                max_delay = max(max_delay, d + extra)
                routes[sources.index(src)].append((offsets[p], sizes[p], d, path))
        pop_sources.append(tuple(sorted(srcs)))
    group_off = [offsets[n] for n in sources] + [n_total]
    program = builder.program(group_off, routes)
    return _parameters(graph, mode, pops, offsets, sizes, n_inputs, n_total, program, len(sources), max_delay,
                       const_in, tuple(pop_sources))


def _parameters(graph, mode, pops, offsets, sizes, n_inputs, n_total, program, n_groups, max_delay, const_in,
                pop_sources) -> CompiledNetwork:
    arrays = {k: np.zeros(n_total) for k in ("decay", "gain", "bias", "threshold", "v_reset", "syn_decay", "syn_gain")}
    n = len(pops)
    codes = {k: np.zeros(n, dtype=np.int64) for k in
             ("is_cuba", "current_lag", "reset", "timing", "rule", "refractory", "leak_shift", "syn_shift", "lo", "hi",
              "acc_max", "leak_mode", "leak_bits", "leak_code", "syn_leak_mode", "syn_leak_bits", "syn_leak_code",
              "input_shift")}
    for i, p in enumerate(pops):
        node = graph.nodes[p]
        if not isinstance(node, (LIF, IF, CubaLIF)):  # pragma: no cover - all spiking types listed
            raise UnsupportedError(f"node {p!r}: {type(node).__name__} is not supported by the engine")
        sl = slice(offsets[p], offsets[p] + sizes[p])
        decay = node.decay_values.reshape(-1)
        arrays["decay"][sl] = decay
        arrays["gain"][sl] = node.gain.reshape(-1)
        arrays["bias"][sl] = node.bias.reshape(-1)
        arrays["threshold"][sl] = node.threshold.reshape(-1)
        arrays["v_reset"][sl] = node.v_reset.reshape(-1)
        cuba = isinstance(node, CubaLIF)
        codes["is_cuba"][i] = int(cuba)
        if cuba:
            arrays["syn_decay"][sl] = node.syn_decay.reshape(-1)
            arrays["syn_gain"][sl] = node.syn_gain.reshape(-1)
            codes["current_lag"][i] = node.current_lag
            codes["syn_shift"][i] = node.syn_shift
        codes["reset"][i] = RESET_CODES[node.reset]
        codes["timing"][i] = TIMING_CODES[node.reset_timing]
        codes["rule"][i] = RULE_CODES[node.spike_rule]
        codes["refractory"][i] = node.refractory_steps
        if mode == "fixed":
            fx = node.fixed
            if fx is None:
                raise SimulationError(f"node {p!r} has no fixed-point spec; fixed mode needs a quantized graph "
                                      f"(on the command line `neurosim estimate --chip NAME` quantizes it with the chip's arithmetic; in Python call neurosim.passes.quantize(graph) first)")
            if cuba and node.current_lag != 0:
                raise UnsupportedError(f"node {p!r}: CubaLIF current_lag=1 has no hardware realisation")
            scale = 2.0 ** fx.state.frac_bits
            for k in ("bias", "threshold", "v_reset"):
                arrays[k][sl] = arrays[k][sl] * scale
            codes["leak_shift"][i] = fx.leak_shift if fx.leak == "shift" else 0
            codes["leak_mode"][i] = LEAK_CODES[fx.leak]
            codes["leak_bits"][i], codes["leak_code"][i] = fx.leak_bits, fx.leak_code
            codes["input_shift"][i] = fx.input_shift
            if cuba and fx.syn_leak != "shift":
                codes["syn_shift"][i] = 0
                codes["syn_leak_mode"][i] = LEAK_CODES[fx.syn_leak]
                codes["syn_leak_bits"][i], codes["syn_leak_code"][i] = fx.syn_leak_bits, fx.syn_leak_code
            codes["lo"][i], codes["hi"][i] = fx.state.min_int, fx.state.max_int
            codes["acc_max"][i] = (1 << (fx.acc_width - 1)) - 1
    pop_offset = np.array([offsets[p] for p in pops] + [n_total], dtype=np.int64)
    return CompiledNetwork(
        mode=mode, n_inputs=n_inputs, input_names=graph.inputs, input_offsets={n: offsets[n] for n in graph.inputs},
        populations=pops, pop_offset=pop_offset, pop_sources=pop_sources, n_total=n_total, program=program,
        n_groups=n_groups, max_delay=max_delay, const_in=const_in, **arrays, **codes,
    )
