"""Lower an IR graph to the flat synapse lists the cycle-level engine runs on.

The engine sees a network of **sources** (input elements and spiking neurons, one global index
each: inputs first, then every spiking population in schedule order) and **synapses** from a
source to a spiking neuron, each with a weight and a delay in timesteps. Everything between two
spiking layers -- projections, pooling, flatten, delays, several edges summing -- is linear, so it
is composed into one effective weight matrix per (source population, delay); projection biases
become a constant per-step input of the target neuron.

Delay: 0 for forward edges (same step), +1 for every recurrent edge on the path, +d for a
:class:`~neurosim.ir.nodes.Delay` node.

In fixed mode the effective weights are integer codes (weights are exact multiples of the
membrane LSB, checked by the graph); composing with SumPool2d and Flatten keeps them integers,
and the engine's exact accumulation makes the result independent of event order.
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

#: Above this many entries an effective weight matrix is not built densely.
MAX_DENSE_ENTRIES = 1 << 23

RESET_CODES = {"zero": 0, "subtract": 1, "none": 2}
TIMING_CODES = {"immediate": 0, "delayed": 1}
RULE_CODES = {"gt": 0, "ge": 1, "multi": 2}


@dataclass(frozen=True)
class Synapses:
    """Synapses in source-major CSR order: ``ptr[s]..ptr[s+1]`` are source ``s``'s entries."""

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
    synapses: Synapses
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
    lo: np.ndarray
    hi: np.ndarray
    acc_max: np.ndarray

    def population_slice(self, name: str) -> slice:
        i = self.populations.index(name)
        return slice(int(self.pop_offset[i]), int(self.pop_offset[i + 1]))


#: Marker for "this source itself" (the identity map), kept symbolic to avoid n x n matrices.
IDENTITY = "identity"


class _Map:
    """Linear map from sources to a node's output: {(source, delay): matrix [out, src]} + offset."""

    def __init__(self, terms: dict, offset: np.ndarray):
        self.terms = terms
        self.offset = offset


def _apply_linear(node, name: str, mat: np.ndarray, in_shape, mode: str) -> np.ndarray:
    """Apply a weight-bearing or shaping node to every column of ``mat`` ([in_flat, n_cols])."""
    from neurosim.ir.ops import conv_nd  # one conv implementation for both engines

    cols = mat.shape[1]
    batch = mat.T.reshape((cols,) + tuple(in_shape))
    if isinstance(node, (Dense, SparseCSR, NMSparse)):
        w = _weights(node, name, mode)
        return w @ mat
    if isinstance(node, (Conv1d, Conv2d)):
        y = conv_nd(batch, _weights(node, name, mode), node.stride, node.padding, node.dilation, node.groups)
    elif isinstance(node, (SumPool2d, AvgPool2d)):
        k = np.ones((1, 1) + node.kernel_size)
        c = batch.shape[1]
        y = conv_nd(batch.reshape((-1, 1) + batch.shape[2:]), k, node.stride, node.padding, (1, 1), 1)
        y = y.reshape((cols, c) + y.shape[2:])
        if isinstance(node, AvgPool2d):
            if mode == "fixed":
                raise UnsupportedError(f"node {name!r} (AvgPool2d) divides; quantize the graph (it folds 1/area into weights)")
            y = y / float(np.prod(node.kernel_size))
    elif isinstance(node, Flatten):
        return mat
    else:  # pragma: no cover - guarded by the caller
        raise UnsupportedError(f"node {name!r} ({type(node).__name__}) is not linear")
    return y.reshape(cols, -1).T


def _weights(node, name: str, mode: str) -> np.ndarray:
    w = node.dense_weight()
    if mode == "fixed":
        if node.weight_format is None:
            raise SimulationError(f"node {name!r} has no weight_format; fixed mode needs a quantized graph "
                                  f"(run neurosim.passes.quantize first)")
        w = w * 2.0 ** node.weight_format.frac_bits
    return np.asarray(w, dtype=np.float64)


def _bias(node, mode: str) -> np.ndarray | None:
    b = getattr(node, "bias", None)
    if b is None:
        return None
    if mode == "fixed":
        b = b * 2.0 ** node.weight_format.frac_bits
    return b


def compile_graph(graph: Graph, mode: str = "fixed") -> CompiledNetwork:
    """Lower ``graph`` (see module docstring). Raises UnsupportedError for nodes the core cannot run."""
    if mode not in ("float", "fixed"):
        raise SimulationError(f"mode must be 'float' or 'fixed', found {mode!r}")
    shapes = graph.shapes
    inputs = graph.inputs
    pops = tuple(graph.spiking_populations())
    for name, node in graph.nodes.items():
        if node.family == "population" and not isinstance(node, SpikingPopulation):
            raise UnsupportedError(
                f"node {name!r} ({type(node).__name__}) is a non-spiking readout; the neuromorphic core runs "
                f"spiking populations only -- replace it with a spiking layer or read the layer before it"
            )
        if node.family == "elementwise":
            raise UnsupportedError(f"node {name!r} ({type(node).__name__}) has no hardware mapping; fold it into weights")
        if node.family == "dnn":
            raise UnsupportedError(
                f"node {name!r} ({type(node).__name__}) is a non-spiking DNN layer, which the neuromorphic engine "
                f"cannot run; estimate its training cost with `neurosim sat` instead"
            )
    if mode == "fixed":
        for name in graph.order:
            node = graph.nodes[name]
            if isinstance(node, SpikingPopulation) and node.fixed is None:
                raise SimulationError(f"node {name!r} has no fixed-point spec; fixed mode needs a quantized graph "
                                      f"(run neurosim.passes.quantize first)")
            if isinstance(node, (Dense, SparseCSR, NMSparse, Conv1d, Conv2d)) and node.weight_format is None:
                raise SimulationError(f"node {name!r} has no weight_format; fixed mode needs a quantized graph "
                                      f"(run neurosim.passes.quantize first)")
    sizes = {n: int(np.prod(shapes[n])) for n in (*inputs, *pops)}
    offsets: dict[str, int] = {}
    cursor = 0
    for n in (*inputs, *pops):
        offsets[n] = cursor
        cursor += sizes[n]
    n_inputs = sum(sizes[n] for n in inputs)
    n_total = cursor

    maps: dict[str, _Map] = {}

    def build(name: str) -> _Map:
        if name in maps:
            return maps[name]
        node = graph.nodes[name]
        size = int(np.prod(shapes[name]))
        if isinstance(node, (Input, SpikingPopulation)):
            maps[name] = _Map({(name, 0): IDENTITY}, np.zeros(size))
            return maps[name]
        in_shape = graph.input_shape_of(name)
        in_size = int(np.prod(in_shape))
        terms: dict = {}
        offset = np.zeros(in_size)
        for pred in graph.predecessors(name):
            extra = 1 if (pred, name) in graph.recurrent_edges else 0
            m = build(pred)
            offset = offset + m.offset
            for (src, d), mat in m.terms.items():
                key = (src, d + extra)
                terms[key] = mat if key not in terms else _add(terms[key], mat, sizes[src])
        if isinstance(node, Delay):
            out_terms = {}
            steps = node.delay_steps.reshape(-1)
            for (src, d), mat in terms.items():
                for dv in np.unique(steps):
                    mask = (steps == dv).astype(np.float64)[:, None]
                    full = _dense(mat, sizes[src], in_size)
                    out_terms[(src, d + int(dv))] = _add(out_terms.get((src, d + int(dv))), mask * full, sizes[src])
            if np.any(offset):
                raise UnsupportedError(f"node {name!r}: a Delay after a biased projection is not supported by the engine")
            maps[name] = _Map(out_terms, offset)
            return maps[name]
        if not isinstance(node, (Dense, SparseCSR, NMSparse, Conv1d, Conv2d, SumPool2d, AvgPool2d, Flatten, Output)):
            raise UnsupportedError(f"node {name!r} ({type(node).__name__}) cannot be mapped onto the core")
        if isinstance(node, Output):
            maps[name] = _Map(terms, offset)
            return maps[name]
        out_terms = {}
        for (src, d), mat in terms.items():
            if isinstance(mat, str) and isinstance(node, (Dense, SparseCSR, NMSparse)):
                out_terms[(src, d)] = ("csr", node)  # keep direct weights sparse; expanded below
                continue
            full = _dense(mat, sizes[src], in_size)
            out_terms[(src, d)] = _apply_linear(node, name, full, in_shape, mode)
        new_offset = _apply_linear(node, name, offset[:, None], in_shape, mode)[:, 0] if np.any(offset) else \
            np.zeros(int(np.prod(shapes[name])))
        b = _bias(node, mode)
        if b is not None:
            out_shape = shapes[name]
            new_offset = new_offset + np.broadcast_to(b.reshape((-1,) + (1,) * (len(out_shape) - 1)), out_shape).reshape(-1)
        maps[name] = _Map(out_terms, new_offset)
        return maps[name]

    src_rows: list[np.ndarray] = []
    tgt_rows: list[np.ndarray] = []
    w_rows: list[np.ndarray] = []
    d_rows: list[np.ndarray] = []
    const_in = np.zeros(n_total)
    pop_sources: list[tuple[int, ...]] = []
    for p in pops:
        total = _Map({}, np.zeros(sizes[p]))
        srcs = set()
        for pred in graph.predecessors(p):
            extra = 1 if (pred, p) in graph.recurrent_edges else 0
            m = build(pred)
            total.offset = total.offset + m.offset
            for (src, d), mat in m.terms.items():
                key = (src, d + extra)
                total.terms[key] = mat if key not in total.terms else _add(total.terms[key], mat, sizes[src])
        const_in[offsets[p]:offsets[p] + sizes[p]] = total.offset
        for (src, d), mat in total.terms.items():
            if d == 0:
                srcs.add(-1 if src in inputs else pops.index(src))
            rows, cols, vals = _triplets(mat, sizes[src], sizes[p], mode)
            src_rows.append(cols + offsets[src])
            tgt_rows.append(rows + offsets[p])
            w_rows.append(vals)
            d_rows.append(np.full(vals.size, d, dtype=np.int64))
        pop_sources.append(tuple(sorted(srcs)))
    if src_rows:
        src = np.concatenate(src_rows)
        tgt = np.concatenate(tgt_rows)
        w = np.concatenate(w_rows)
        dl = np.concatenate(d_rows)
    else:
        src = tgt = dl = np.zeros(0, dtype=np.int64)
        w = np.zeros(0)
    order = np.lexsort((tgt, src))
    src, tgt, w, dl = src[order], tgt[order], w[order], dl[order]
    ptr = np.zeros(n_total + 1, dtype=np.int64)
    np.add.at(ptr, src + 1, 1)
    ptr = np.cumsum(ptr)
    syn = Synapses(ptr=ptr, target=tgt.astype(np.int64), weight=w.astype(np.float64), delay=dl.astype(np.int64))
    return _parameters(graph, mode, pops, offsets, sizes, n_inputs, n_total, syn, const_in, tuple(pop_sources))


def _add(a, b, n_src):
    """Sum two maps from one source (either may be symbolic); ``a`` may be absent (None)."""
    if a is None:
        return b
    n_out = _dense(a, n_src, 0).shape[0]
    return _dense(a, n_src, n_out) + _dense(b, n_src, n_out)


def _dense(mat, n_src: int, n_out: int) -> np.ndarray:
    if isinstance(mat, str):
        if n_src * n_src > MAX_DENSE_ENTRIES:
            raise UnsupportedError(f"a {n_src}-wide identity is too large to compose; connect populations directly")
        return np.eye(n_src)
    if isinstance(mat, tuple):
        return mat[1].dense_weight()
    return mat


def _triplets(mat, n_src: int, n_tgt: int, mode: str):
    """(target rows, source cols, weights) of the nonzero entries of a source->target matrix."""
    if isinstance(mat, tuple):  # direct projection: read its storage without densifying huge matrices
        node = mat[1]
        scale = 2.0 ** node.weight_format.frac_bits if mode == "fixed" else 1.0
        if isinstance(node, SparseCSR):
            rows = np.repeat(np.arange(node.shape[0]), np.diff(node.indptr))
            keep = node.weight != 0
            return rows[keep], node.indices[keep], node.weight[keep] * scale
        w = node.dense_weight()
        rows, cols = np.nonzero(w)
        return rows, cols, w[rows, cols] * scale
    if isinstance(mat, str):
        idx = np.arange(n_src)
        return idx, idx, np.ones(n_src)
    if mat.shape != (n_tgt, n_src):
        raise SimulationError(f"internal: effective weight shape {mat.shape} != {(n_tgt, n_src)}")  # pragma: no cover
    rows, cols = np.nonzero(mat)
    vals = mat[rows, cols]
    if mode == "fixed" and not np.all(vals == np.rint(vals)):
        bad = float(vals[vals != np.rint(vals)][0])
        raise SimulationError(f"effective weight code {bad!r} is not an integer; quantize the graph first")
    return rows, cols, vals


def _parameters(graph, mode, pops, offsets, sizes, n_inputs, n_total, syn, const_in, pop_sources) -> CompiledNetwork:
    arrays = {k: np.zeros(n_total) for k in ("decay", "gain", "bias", "threshold", "v_reset", "syn_decay", "syn_gain")}
    n = len(pops)
    codes = {k: np.zeros(n, dtype=np.int64) for k in
             ("is_cuba", "current_lag", "reset", "timing", "rule", "refractory", "leak_shift", "syn_shift", "lo", "hi",
              "acc_max")}
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
                                      f"(run neurosim.passes.quantize first)")
            if node.reset_timing != "immediate":
                raise UnsupportedError(f"node {p!r}: reset_timing='delayed' has no hardware realisation; re-import "
                                       f"with --reset-timing immediate")
            if cuba and node.current_lag != 0:
                raise UnsupportedError(f"node {p!r}: CubaLIF current_lag=1 has no hardware realisation")
            scale = 2.0 ** fx.state.frac_bits
            for k in ("bias", "threshold", "v_reset"):
                arrays[k][sl] = arrays[k][sl] * scale
            codes["leak_shift"][i] = fx.leak_shift if fx.leak == "shift" else 0
            codes["lo"][i], codes["hi"][i] = fx.state.min_int, fx.state.max_int
            codes["acc_max"][i] = (1 << (fx.acc_width - 1)) - 1
    pop_offset = np.array([offsets[p] for p in pops] + [n_total], dtype=np.int64)
    return CompiledNetwork(
        mode=mode, n_inputs=n_inputs, input_names=graph.inputs, input_offsets={n: offsets[n] for n in graph.inputs},
        populations=pops, pop_offset=pop_offset, pop_sources=pop_sources, n_total=n_total, synapses=syn,
        max_delay=int(syn.delay.max()) if syn.delay.size else 0, const_in=const_in, **arrays, **codes,
    )
