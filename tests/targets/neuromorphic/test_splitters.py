"""Splitter neurons (TrueNorth's fan-out of one core): counts derived by hand on a tiny network."""

import numpy as np

from chips import tiny_chip
from neurosim.ir import IF, Dense, FixedPoint, Graph, Input, NeuronFixedPoint, Output
from neurosim.targets.neuromorphic.model.reference import run
from neurosim.targets.neuromorphic.model.simulate import simulate


def _net():
    """input(2) -> A (2 IF neurons) -> B (4 IF neurons): every A neuron feeds all of B."""
    fmt, fx = FixedPoint(8, 0), NeuronFixedPoint(state=FixedPoint(12, 0), leak="none")
    return Graph.chain([("input", Input(shape=(2,))), ("w1", Dense(weight=np.ones((2, 2)), weight_format=fmt)),
                        ("a", IF(shape=(2,), threshold=1.0, fixed=fx)),
                        ("w2", Dense(weight=np.ones((4, 2)), weight_format=fmt)),
                        ("b", IF(shape=(4,), threshold=2.0, fixed=fx)), ("output", Output(shape=(4,)))])


def test_splitters_relay_fanout_with_hand_derived_counts():
    g = _net()
    x = np.array([[1, 0], [0, 0], [1, 1], [0, 1], [1, 1]])
    # 2 neurons per core: A on core 0, B on cores 1-2; each A neuron reaches 2 cores > fan-out 1
    res = simulate(g, tiny_chip(neurons_per_core=2, max_fanout_cores=1), x)
    free = simulate(g, tiny_chip(neurons_per_core=2), x)
    ref = run(g, x, mode="fixed")
    m = res.mapping
    assert m.n_neuron_cores == 3 and m.n_cores == 5 and m.core_kind[3:] == ("splitter", "splitter")
    assert m.relay_source.tolist() == [2, 2, 3, 3] and m.extra_steps == 1  # A's neurons are global 2, 3
    a = ref.outputs["a"].astype(int)  # [T, 2]: the oracle's spikes of A
    np.testing.assert_array_equal(res.spikes["b"], ref.outputs["b"])  # function unchanged
    np.testing.assert_array_equal(res.spikes["b"], free.spikes["b"])
    c = res.counts
    # A's core sends one packet per spike (to its splitter core) instead of two
    assert c["packet_out"][:, 0].tolist() == a.sum(axis=1).tolist()
    assert c["packet_out"][:, 0].sum() * 2 == free.counts["packet_out"][:, 0].sum()
    for k in (0, 1):  # splitter core 3 + k relays A's neuron k: 2 relays, 1 axon
        col = 3 + k
        assert res.packets_in[:, col].tolist() == a[:, k].tolist()
        assert c["synaptic_op"][:, col].tolist() == (2 * a[:, k]).tolist()
        assert c["spike_out"][:, col].tolist() == (2 * a[:, k]).tolist()
        assert c["packet_out"][:, col].tolist() == (2 * a[:, k]).tolist()
        assert c["neuron_update_active"][:, col].tolist() == (2 * a[:, k]).tolist()
        assert c["neuron_update_inactive"][:, col].tolist() == (2 - 2 * a[:, k]).tolist()
    # B's cores receive the same packets and synapses as without splitters (now from the relays)
    np.testing.assert_array_equal(res.packets_in[:, 1:3], free.packets_in[:, 1:3])
    for ev in ("synaptic_op", "spike_out"):
        np.testing.assert_array_equal(c[ev][:, 1:3], free.counts[ev][:, 1:3])
