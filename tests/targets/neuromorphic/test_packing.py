"""Packing several populations into one physical core: same spikes, counts per physical core are sums."""

import numpy as np

from chips import tiny_chip
from neurosim.ir import IF, Dense, FixedPoint, Graph, Input, NeuronFixedPoint, Output
from neurosim.targets.neuromorphic.model.compile import compile_graph
from neurosim.targets.neuromorphic.model.reference import run
from neurosim.targets.neuromorphic.model.simulate import simulate
from neurosim.targets.neuromorphic.partition import partition


def _mlp(seed=0):
    rng = np.random.default_rng(seed)
    fmt, fx = FixedPoint(8, 0), NeuronFixedPoint(state=FixedPoint(12, 0), leak="none")
    return Graph.chain([("input", Input(shape=(6,))),
                        ("w1", Dense(weight=rng.integers(0, 3, (3, 6)).astype(float), weight_format=fmt)),
                        ("h", IF(shape=(3,), threshold=3.0, fixed=fx)),
                        ("w2", Dense(weight=rng.integers(0, 3, (2, 3)).astype(float), weight_format=fmt)),
                        ("o", IF(shape=(2,), threshold=2.0, fixed=fx)), ("output", Output(shape=(2,)))])


def test_packed_mapping_gives_same_spikes_and_summed_counts():
    g = _mlp()
    x = (np.random.default_rng(1).random((12, 6)) < 0.5).astype(int)
    chip = tiny_chip(neurons_per_core=8)
    net = compile_graph(g, "fixed")
    packed = partition(net, chip, pack=True)
    assert packed.n_cores == 2 and packed.n_physical_cores == 1 and packed.host.tolist() == [0, 0]
    a = simulate(g, chip, x, mapping=packed)
    b = simulate(g, chip, x, mapping=partition(net, chip, pack=False))
    ref = run(g, x, mode="fixed")
    for p in ("h", "o"):
        np.testing.assert_array_equal(a.spikes[p], ref.outputs[p])
        np.testing.assert_array_equal(a.spikes[p], b.spikes[p])
    # a packed core does both populations' work: per-event totals equal the unpacked run's ...
    for ev in ("synaptic_op", "neuron_update_active", "neuron_update_inactive", "spike_out", "packet_out"):
        assert a.counts[ev].sum() == b.counts[ev].sum(), ev
    # ... and its in-core traffic h -> o crosses no mesh link (the unpacked cores are neighbours)
    assert a.counts["hop_ew"].sum() + a.counts["hop_ns"].sum() == 0
    sent = ref.outputs["h"][:, (g.nodes["w2"].weight != 0).any(axis=0)].sum()  # spikes of h neurons with a synapse
    assert a.counts["spike_in_tile"].sum() == sent > 0
    assert b.counts["hop_ew"].sum() + b.counts["hop_ns"].sum() == sent
    phys = packed.per_physical(a.counts["synaptic_op"])
    assert phys.shape == (12, 1) and phys[:, 0].tolist() == a.counts["synaptic_op"].sum(axis=1).tolist()


def test_a_source_feeding_two_packed_populations_sends_one_packet():
    fmt, fx = FixedPoint(8, 0), NeuronFixedPoint(state=FixedPoint(12, 0), leak="none")
    nodes = {"input": Input(shape=(2,)), "w1": Dense(weight=np.ones((2, 2)), weight_format=fmt),
             "p": IF(shape=(2,), threshold=1.0, fixed=fx), "w2": Dense(weight=np.ones((3, 2)), weight_format=fmt),
             "q": IF(shape=(3,), threshold=9.0, fixed=fx), "output": Output(shape=(2,)), "out2": Output(shape=(3,))}
    edges = (("input", "w1"), ("w1", "p"), ("input", "w2"), ("w2", "q"), ("p", "output"), ("q", "out2"))
    g = Graph(nodes, edges)
    x = np.array([[1, 0], [1, 1], [0, 0]])
    chip = tiny_chip(neurons_per_core=8)
    res = simulate(g, chip, x, mapping=partition(compile_graph(g, "fixed"), chip, pack=True))
    spikes_in = x.sum(axis=1)  # hand: every input spike is one packet to the one physical core
    assert res.packets_in.sum(axis=1).tolist() == spikes_in.tolist()
    assert res.counts["synaptic_op"].sum(axis=1).tolist() == (spikes_in * (2 + 3)).tolist()
