"""The cycle-level engine against the reference simulator (fixed point) and a plain-Python
transcription of the core's cycle spec."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chips import tiny_chip
from neurosim.targets.neuromorphic.model.compile import compile_graph
from neurosim.targets.neuromorphic.model.reference import run
from neurosim.targets.neuromorphic.model.simulate import simulate, step_timing
from neurosim.errors import CapacityError, FixedPointError, SimulationError
from neurosim.ir import (
    IF, LIF, Conv2d, CubaLIF, Delay, Dense, FixedPoint, Flatten, Graph, Input, NeuronFixedPoint, Output, SparseCSR,
    SumPool2d,
)


def random_fixed_graph(seed: int):
    """A random quantized graph: widths, leak/reset modes, spike rules, sparsity, recurrence, delays, CubaLIF, conv."""
    rng = np.random.default_rng(seed)
    width = int(rng.integers(6, 14))
    wbits = int(rng.integers(3, min(width, 9)))
    wmax = (1 << (wbits - 1)) - 1
    fmt_w = FixedPoint(wbits, 0)
    fmt_s = FixedPoint(width, 0)

    def neuron(shape):
        shift = int(rng.integers(0, 4))
        fx = NeuronFixedPoint(state=fmt_s, leak="shift" if shift else "none", leak_shift=shift,
                              acc_width=int(rng.choice([width + 8, 32])))
        kind = rng.choice(["LIF", "IF", "CubaLIF"])
        thr = float(rng.integers(1, min(3 * wmax, (1 << (width - 1)) - 1) + 1))
        common = dict(shape=shape, threshold=thr, reset=str(rng.choice(["zero", "subtract", "none"])),
                      spike_rule=str(rng.choice(["gt", "ge", "multi"])), fixed=fx,
                      refractory_steps=int(rng.choice([0, 0, 1, 2])),
                      bias=float(rng.integers(-2, 3)), v_reset=float(rng.integers(-3, 1)))
        decay = 1 - 2.0 ** -shift if shift else 1.0
        if kind == "IF":
            if shift:
                return LIF(decay=decay, **common)
            return IF(**common)
        if kind == "LIF":
            return LIF(decay=decay, **common)
        syn_shift = int(rng.integers(0, 3))
        return CubaLIF(decay=decay, syn_decay=1 - 2.0 ** -syn_shift if syn_shift else 1.0, syn_shift=syn_shift, **common)

    def weights(shape, density):
        w = rng.integers(-wmax, wmax + 1, size=shape).astype(float)
        return w * (rng.random(shape) < density)

    density = float(rng.choice([0.2, 0.5, 1.0]))
    conv = bool(rng.random() < 0.3)
    nodes, edges = {}, []
    if conv:
        nodes["input"] = Input(shape=(1, 6, 6))
        nodes["conv"] = Conv2d(weight=weights((2, 1, 3, 3), 1.0), padding=1, weight_format=fmt_w)
        nodes["c_lif"] = neuron((2, 6, 6))
        nodes["pool"] = SumPool2d(kernel_size=2)
        nodes["flat"] = Flatten()
        edges += [("input", "conv"), ("conv", "c_lif"), ("c_lif", "pool"), ("pool", "flat")]
        prev, n_prev = "flat", 18
    else:
        n_prev = int(rng.integers(3, 12))
        nodes["input"] = Input(shape=(n_prev,))
        prev = "input"
    if rng.random() < 0.3:
        nodes["delay"] = Delay(shape=(n_prev,), delay_steps=rng.integers(0, 3, size=n_prev))
        edges.append((prev, "delay"))
        prev = "delay"
    n_hid = int(rng.integers(2, 20))
    w1 = weights((n_hid, n_prev), density)
    if rng.random() < 0.3:
        nodes["fc1"] = SparseCSR.from_dense(w1, weight_format=fmt_w)
    else:
        nodes["fc1"] = Dense(weight=w1, weight_format=fmt_w,
                             bias=rng.integers(-2, 3, size=n_hid).astype(float) if rng.random() < 0.5 else None)
    nodes["lif1"] = neuron((n_hid,))
    edges += [(prev, "fc1"), ("fc1", "lif1")]
    if rng.random() < 0.5:
        nodes["rec"] = Dense(weight=weights((n_hid, n_hid), density), weight_format=fmt_w)
        edges += [("lif1", "rec"), ("rec", "lif1")]
    n_out = int(rng.integers(1, 8))
    nodes["fc2"] = Dense(weight=weights((n_out, n_hid), density), weight_format=fmt_w)
    nodes["lif2"] = neuron((n_out,))
    nodes["output"] = Output(shape=(n_out,))
    edges += [("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "output")]
    graph = Graph(nodes, tuple(edges))
    shape = graph.nodes["input"].shape
    steps = int(rng.integers(5, 25))
    x = (rng.random((steps, *shape)) < float(rng.uniform(0.1, 0.7))).astype(np.int64)
    if rng.random() < 0.3:
        x = x * rng.integers(1, 3, size=x.shape)  # spike counts > 1
    chip = tiny_chip(neurons_per_core=int(rng.integers(2, 9)), axons_per_core=256, lanes=int(rng.integers(1, 5)),
                     synapse_storage=str(rng.choice(["dense", "sparse"])), cores_per_tile=int(rng.integers(1, 3)))
    return graph, x, chip


@settings(max_examples=500, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_fixed_engine_equals_reference(seed):
    graph, x, chip = random_fixed_graph(seed)
    try:
        ref = run(graph, x, mode="fixed")
    except FixedPointError:
        with pytest.raises(FixedPointError):
            simulate(graph, chip, x)
        return
    res = simulate(graph, chip, x)
    for name in res.spikes:
        np.testing.assert_array_equal(res.spikes[name], ref.outputs[name], err_msg=f"spikes of {name}")
        np.testing.assert_array_equal(res.membranes[name], ref.state[name]["v"], err_msg=f"membrane of {name}")
        if name in res.currents:
            np.testing.assert_array_equal(res.currents[name], ref.state[name]["i"], err_msg=f"current of {name}")


def source_layout(graph):
    """Global source indices as the core spec numbers them: input elements (graph input order),
    then the neurons of every spiking population in schedule order."""
    offsets, cursor = {}, 0
    for name in (*graph.inputs, *graph.spiking_populations()):
        offsets[name] = cursor
        cursor += int(np.prod(graph.shapes[name]))
    return offsets, cursor


def effective_synapses(graph, mode):
    """``{(target population, source, delay): matrix [n_source, n_target]}``, found independently of
    the engine's compiler by probing the reference simulator's own linear operators.

    Every source (input or spiking population) sends a one-hot batch (the identity) through the
    linear nodes between spiking layers: each node's reference kernel maps the batch (``linear``:
    the map without its bias); edges into a node add up; a recurrent edge adds one step of delay, a
    Delay node splits the batch by its per-element delays. Only for the small test graphs (the
    identity is ``n_source x n_source``).
    """
    from neurosim.targets.neuromorphic.model.reference import KERNELS

    shapes, pops = graph.shapes, graph.spiking_populations()
    sources = set(graph.inputs) | set(pops)
    dtype = np.int64 if mode == "fixed" else np.float64
    cache: dict = {}

    def incoming(name):
        total: dict = {}
        for pred in graph.predecessors(name):
            extra = 1 if (pred, name) in graph.recurrent_edges else 0
            for (src, d), m in response(pred).items():
                key = (src, d + extra)
                total[key] = m if key not in total else total[key] + m
        return total

    def response(name):
        """{(source, delay): [n_source, *shape(name)]}: the node's output for a unit at each source element."""
        if name in cache:
            return cache[name]
        node, shape = graph.nodes[name], shapes[name]
        if name in sources:
            n = int(np.prod(shape))
            out = {(name, 0): np.eye(n, dtype=dtype).reshape((n, *shape))}
        elif isinstance(node, Delay):
            out = {}
            steps = np.broadcast_to(node.delay_steps, shape)
            for (src, d), m in incoming(name).items():
                for dv in np.unique(steps):
                    key = (src, d + int(dv))
                    part = m * (steps == dv)
                    out[key] = part if key not in out else out[key] + part
        elif isinstance(node, Output):
            out = incoming(name)
        else:
            out = {}
            for key, m in incoming(name).items():
                kernel = KERNELS[type(node)](node, name, mode, (m.shape[0],), np.float64)
                out[key] = np.asarray(kernel.linear(m))
        cache[name] = out
        return out

    result = {}
    for p in pops:
        for (src, d), m in incoming(p).items():
            result[(p, src, d)] = m.reshape(m.shape[0], -1)
    return result


def transcribe_cycles(graph, x, res, mode="fixed"):
    """The core spec in plain Python, from the spikes the engine produced and synapses probed from
    the reference (:func:`effective_synapses`): per step and core the packets, synaptic ops and
    integrate/fire cycles. Returns ``(integrate, fire, synaptic_ops, packets)``."""
    mapping, chip = res.mapping, res.mapping.chip
    steps, n_cores = res.integrate_cycles.shape
    offsets, n_total = source_layout(graph)
    core_of = np.full(n_total, -1)
    for c, (a, b) in enumerate(mapping.core_range):
        pop = mapping.core_population[c]
        lo = offsets[pop]
        assert lo <= a <= b <= lo + int(np.prod(graph.shapes[pop])), f"core {c} range {(a, b)} outside {pop!r}"
        core_of[a:b] = c
    # per source: {(target core, delay): synapses}
    rows_of = [{} for _ in range(n_total)]
    for (p, src, d), mat in effective_synapses(graph, mode).items():
        s_idx, t_idx = np.nonzero(mat)
        for s, t in zip(s_idx.tolist(), t_idx.tolist()):
            key = (int(core_of[offsets[p] + t]), d)
            row = rows_of[offsets[src] + s]
            row[key] = row.get(key, 0) + 1
    values = {name: np.asarray(x[name] if isinstance(x, dict) else x).reshape(steps, -1) for name in graph.inputs}
    values.update({p: np.asarray(res.spikes[p]).reshape(steps, -1) for p in graph.spiking_populations()})
    rows = [[0] * n_cores for _ in range(steps)]
    packets = [[0] * n_cores for _ in range(steps)]
    synops = [[0] * n_cores for _ in range(steps)]
    for name, vals in values.items():
        for t in range(steps):
            for j in np.flatnonzero(vals[t]).tolist():
                val = float(vals[t, j])
                k = int(val) if val >= 1 and val == int(val) else 1
                for (c, d), nnz in rows_of[offsets[name] + j].items():
                    if t + d >= steps:
                        continue
                    lo, hi = mapping.core_range[c]
                    n_syn = (hi - lo) if chip.synapse_storage == "dense" else nnz
                    rows[t + d][c] += k * (chip.event_overhead_cycles + math.ceil(n_syn / chip.lanes))
                    packets[t + d][c] += k
                    synops[t + d][c] += k * n_syn
    integrate = [[rows[t][c] + (chip.integrate_pipeline_cycles if packets[t][c] else 0) for c in range(n_cores)]
                 for t in range(steps)]
    fire = [[math.ceil((b - a) / chip.lanes) + chip.fire_pipeline_cycles for a, b in mapping.core_range]] * steps
    return np.array(integrate), np.array(fire), np.array(synops), np.array(packets)


def check_cycles(graph, x, res, mode="fixed"):
    """The engine's cycles, synaptic ops and packets equal the plain-Python transcription."""
    integrate, fire, synops, packets = transcribe_cycles(graph, x, res, mode)
    np.testing.assert_array_equal(res.integrate_cycles, integrate, err_msg="integrate cycles")
    np.testing.assert_array_equal(res.fire_cycles, fire, err_msg="fire cycles")
    np.testing.assert_array_equal(res.counts["synaptic_op"], synops, err_msg="synaptic ops")
    np.testing.assert_array_equal(res.packets_in, packets, err_msg="packets in")


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_cycles_equal_plain_python_transcription(seed):
    graph, x, chip = random_fixed_graph(seed)
    try:
        res = simulate(graph, chip, x)
    except FixedPointError:
        return
    check_cycles(graph, x, res)


def test_critical_path_timing_by_hand():
    """One input -> one LIF core -> one LIF core; numbers worked out from the spec."""
    fmt, st_ = FixedPoint(8, 0), FixedPoint(12, 0)
    fx = NeuronFixedPoint(state=st_, leak="none")
    g = Graph.chain([("input", Input(shape=(2,))), ("fc1", Dense(weight=np.full((4, 2), 5.0), weight_format=fmt)),
                     ("l1", IF(shape=(4,), threshold=4.0, fixed=fx)),
                     ("fc2", Dense(weight=np.full((3, 4), 1.0), weight_format=fmt)),
                     ("l2", IF(shape=(3,), threshold=100.0, fixed=fx)), ("output", Output(shape=(3,)))])
    chip = tiny_chip(neurons_per_core=4, lanes=2, integrate_pipeline_cycles=3, fire_pipeline_cycles=2,
                     event_overhead_cycles=1, hop_latency_cycles=5, barrier_cycles=10)
    res = simulate(g, chip, np.array([[1, 0]]))
    # core l1: one input packet, row of 4 synapses: 1 + ceil(4/2) = 3, + pipeline 3 = 6; fire ceil(4/2)+2 = 4
    # core l2: four packets (all of l1 spiked), rows of 3: 4 * (1 + 2) = 12, + 3 = 15; fire ceil(3/2)+2 = 4
    assert res.integrate_cycles.tolist() == [[6, 15]]
    assert res.fire_cycles.tolist() == [[4, 4]]
    hops_l1 = int(res.max_hops_in[0, 0])
    hops_l2 = int(res.max_hops_in[0, 1])
    expect = (hops_l1 * 5 + 6 + 4) + (hops_l2 * 5 + 15 + 4) + 10
    assert step_timing(res)["step_cycles"].tolist() == [expect]


def test_event_counts_of_a_known_trace():
    fmt, st_ = FixedPoint(8, 0), FixedPoint(12, 0)
    fx = NeuronFixedPoint(state=st_, leak="none")
    g = Graph.chain([("input", Input(shape=(2,))), ("fc1", Dense(weight=[[5.0, 0.0], [5.0, 5.0], [0.0, 1.0]], weight_format=fmt)),
                     ("l1", IF(shape=(3,), threshold=4.0, fixed=fx)), ("output", Output(shape=(3,)))])
    res = simulate(g, tiny_chip(neurons_per_core=8), np.array([[1, 1], [1, 0]]))
    assert res.counts["synaptic_op"].sum(axis=1).tolist() == [4, 2]
    assert res.counts["spike_out"].sum(axis=1).tolist() == [2, 2]
    assert res.counts["neuron_update_active"].sum(axis=1).tolist() == [3, 2]
    assert res.counts["neuron_update_inactive"].sum(axis=1).tolist() == [0, 1]


def test_capacity_error_names_the_limit():
    fmt, st_ = FixedPoint(8, 0), FixedPoint(12, 0)
    fx = NeuronFixedPoint(state=st_, leak="none")
    g = Graph.chain([("input", Input(shape=(100,))), ("fc", Dense(weight=np.ones((4, 100)), weight_format=fmt)),
                     ("l1", IF(shape=(4,), threshold=4.0, fixed=fx)), ("output", Output(shape=(4,)))])
    with pytest.raises(CapacityError, match=r"^population 'l1' does not fit chip 'tiny': a single neuron needs 100 axons but axons_per_core is 64 \(over by 36\), a physical limit of the chip's cores that no mapping removes; reduce the fan-in, sparsify, pick another chip, or pass --allow-overcapacity for a what-if$"):
        simulate(g, tiny_chip(), np.zeros((1, 100)))


def test_board_too_small():
    fmt, st_ = FixedPoint(8, 0), FixedPoint(12, 0)
    fx = NeuronFixedPoint(state=st_, leak="none")
    g = Graph.chain([("input", Input(shape=(2,))), ("fc", Dense(weight=np.ones((40, 2)), weight_format=fmt)),
                     ("l1", IF(shape=(40,), threshold=4.0, fixed=fx)), ("output", Output(shape=(40,)))])
    chip = tiny_chip(neurons_per_core=2, cores_per_chip=4, max_chips=2)
    with pytest.raises(CapacityError, match=r"^the model needs 20 cores = 5 chips of 4 cores, but a 'tiny' board holds 2 chip\(s\) \(over by 3\): it needs 5 chips; pass --chips 5 \(or --allow-overcapacity for a what-if\)$"):
        simulate(g, chip, np.zeros((1, 2)))


def test_engine_wrong_input_shape():
    fmt, st_ = FixedPoint(8, 0), FixedPoint(12, 0)
    fx = NeuronFixedPoint(state=st_, leak="none")
    g = Graph.chain([("input", Input(shape=(2,))), ("fc", Dense(weight=np.ones((2, 2)), weight_format=fmt)),
                     ("l1", IF(shape=(2,), threshold=4.0, fixed=fx)), ("output", Output(shape=(2,)))])
    with pytest.raises(SimulationError, match=r"^input 'input' has shape \(3, 5\), expected \[T, 2\];"):
        simulate(g, tiny_chip(), np.zeros((3, 5)))


def test_engine_rejects_float_graph_in_fixed_mode():
    g = Graph.chain([("input", Input(shape=(2,))), ("fc", Dense(weight=np.ones((2, 2)))), ("l1", LIF(shape=(2,))),
                     ("output", Output(shape=(2,)))])
    with pytest.raises(SimulationError, match=r"^node 'fc' has no weight_format; fixed mode needs a quantized graph"):
        compile_graph(g, "fixed")


def test_float_engine_close_to_reference(rng):
    """Float mode sums in event order, the reference with matmuls: spikes agree on a smooth network."""
    w1 = rng.normal(size=(30, 12))
    g = Graph.chain([("input", Input(shape=(12,))), ("fc", Dense(weight=w1)), ("l1", LIF(shape=(30,), decay=0.9)),
                     ("output", Output(shape=(30,)))])
    x = (rng.random((40, 12)) < 0.3).astype(float)
    res = simulate(g, tiny_chip(neurons_per_core=16), x, mode="float")
    ref = run(g, x)
    assert (res.spikes["l1"] == ref.outputs["l1"]).mean() > 0.999


def test_engine_accumulator_overflow_matches_reference_error():
    fx = NeuronFixedPoint(state=FixedPoint(8, 0), leak="none", acc_width=8)
    g = Graph.chain([("input", Input(shape=(4,))), ("fc", Dense(weight=np.full((1, 4), 100.0), weight_format=FixedPoint(8, 0))),
                     ("pop", IF(shape=(1,), threshold=50.0, fixed=fx)), ("output", Output(shape=(1,)))])
    with pytest.raises(FixedPointError, match=r"^node 'pop': synaptic input sum 200 at step 1 overflows the 8-bit accumulator of the fixed-point "
                       r"model; scale the input down, or quantize with wider accumulators \(acc_bits\)$"):
        simulate(g, tiny_chip(), np.array([[1, 0, 0, 0], [1, 1, 0, 0]]))


def test_multi_chip_board_counts_chip_hops_and_contention_adds_queueing():
    fmt, st_ = FixedPoint(8, 0), FixedPoint(12, 0)
    fx = NeuronFixedPoint(state=st_, leak="none")
    g = Graph.chain([("input", Input(shape=(4,))), ("fc1", Dense(weight=np.full((12, 4), 5.0), weight_format=fmt)),
                     ("l1", IF(shape=(12,), threshold=4.0, fixed=fx)),
                     ("fc2", Dense(weight=np.ones((6, 12)), weight_format=fmt)),
                     ("l2", IF(shape=(6,), threshold=100.0, fixed=fx)), ("output", Output(shape=(6,)))])
    chip = tiny_chip(neurons_per_core=2, cores_per_chip=4, mesh_x=2, mesh_y=2, max_chips=4, board_x=2, board_y=2)
    res = simulate(g, chip, np.ones((3, 4)))
    assert res.mapping.n_chips == 3
    assert res.counts["chip_hop"].sum() > 0
    plain = step_timing(res)["step_cycles"]
    queued = step_timing(res, contention=True)["step_cycles"]
    assert np.all(queued >= plain) and np.any(queued > plain)
    assert res.link_load.sum() == res.counts["hop_ew"].sum() + res.counts["hop_ns"].sum()


def test_two_direct_projections_from_one_source_scale_their_codes():
    """Two projections from one source into one population, weights with fractional bits: the
    effective code is the sum of both codes (2 + 2 = 4 LSBs). The engine before issue 13 summed the
    unscaled weights (1.0 + 1.0 = 2 LSBs), silently, whenever the sum happened to be an integer."""
    fw, fs = FixedPoint(6, 1), FixedPoint(12, 1)
    fx = NeuronFixedPoint(state=fs, leak="none")
    nodes = {"input": Input(shape=(1,)), "fa": Dense(weight=[[1.0]], weight_format=fw),
             "fb": Dense(weight=[[1.0]], weight_format=fw), "pop": IF(shape=(1,), threshold=100.0, fixed=fx),
             "output": Output(shape=(1,))}
    g = Graph(nodes, (("input", "fa"), ("input", "fb"), ("fa", "pop"), ("fb", "pop"), ("pop", "output")))
    x = np.array([[1], [0], [2]])
    ref = run(g, x, mode="fixed")
    res = simulate(g, tiny_chip(), x)
    assert ref.state["pop"]["v"].tolist() == [12]  # codes: (2 + 2) * (1 + 0 + 2)
    np.testing.assert_array_equal(res.membranes["pop"], ref.state["pop"]["v"])
