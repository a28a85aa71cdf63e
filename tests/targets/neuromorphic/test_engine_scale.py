"""The engine at scale: compact projections, memory that grows with weights, and the limits that
refuse (with a clear message) what would not fit in this process."""

import tracemalloc

import numpy as np
import pytest

from chips import tiny_chip
from neurosim.errors import SimulationError
from neurosim.ir import LIF, Graph, Input, Output, SparseCSR
from neurosim.targets.neuromorphic.model import simulate as sim
from neurosim.targets.neuromorphic.model.compile import compile_graph
from neurosim.targets.neuromorphic.model.reference import run


def recurrent_csr(n=10_000, k=20, seed=0):
    """n LIF neurons, each with k random recurrent synapses (a 800 MB matrix if it were dense)."""
    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(n), k)
    cols = rng.integers(0, n, size=n * k)
    w = np.round(rng.normal(0.02, 0.01, size=n * k) * 64) / 64  # dyadic: exact sums in any order
    order = np.lexsort((cols, rows))
    indptr = np.arange(0, n * k + 1, k)
    rec = SparseCSR(weight=w[order], indices=cols[order], indptr=indptr, shape=(n, n))
    inp = SparseCSR(weight=np.full(n, 0.5), indices=np.arange(n) % 100, indptr=np.arange(n + 1), shape=(n, 100))
    nodes = {"input": Input(shape=(100,)), "w_in": inp, "lif": LIF(shape=(n,), decay=0.9, threshold=1.0),
             "w_rec": rec, "output": Output(shape=(n,))}
    edges = (("input", "w_in"), ("w_in", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output"))
    return Graph(nodes, edges)


def test_recurrent_csr_runs_without_dense_matrices_and_equals_reference():
    g = recurrent_csr()
    x = (np.random.default_rng(1).random((6, 100)) < 0.5).astype(float)
    chip = tiny_chip(neurons_per_core=2500, axons_per_core=20_000, synapse_storage="sparse")
    simulate_once = lambda: sim.simulate(g, chip, x, mode="float")  # noqa: E731
    simulate_once()  # numba kernels load from the cache outside the measurement
    tracemalloc.start()
    res = simulate_once()
    ref = run(g, x, mode="float")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 100 * 2**20, f"peak {peak / 2**20:.0f} MB: something densified the 10,000 x 10,000 projection"
    np.testing.assert_array_equal(res.spikes["lif"], ref.outputs["lif"])
    np.testing.assert_array_equal(res.membranes["lif"], ref.state["lif"]["v"])


def test_synapse_list_refuses_above_its_limit():
    net = compile_graph(recurrent_csr(n=500, k=4), "float")
    syn = net.synapse_list()
    assert syn.ptr[-1] == syn.target.size > 100  # recurrent synapses (duplicates summed) plus 500 input ones
    with pytest.raises(SimulationError, match=r"^the network has more than 100 effective synapses; materialising"):
        net.synapse_list(limit=100)


def test_packet_table_refuses_above_its_limit(monkeypatch):
    g = recurrent_csr(n=400, k=8)
    chip = tiny_chip(neurons_per_core=10, axons_per_core=1000, synapse_storage="sparse")
    monkeypatch.setattr(sim, "MAX_PACKET_ENTRIES", 50)
    with pytest.raises(SimulationError, match=r"^the mapping onto 40 cores needs more than 50 per-source packet entries"):
        sim.simulate(g, chip, np.ones((2, 100)), mode="float")


def test_link_loads_follow_the_xy_routes():
    """The numba route walker adds each pair's packets to exactly the links `partition.xy_route` lists."""
    from neurosim.targets.neuromorphic.partition import xy_route

    rng = np.random.default_rng(3)
    gx, gy = 6, 5
    src = rng.integers(0, [gx, gy], size=(40, 2))
    dst = rng.integers(0, [gx, gy], size=(40, 2))
    total = rng.integers(0, 5, size=40)
    want = np.zeros(gx * gy * 4, dtype=np.int64)
    dirs = {"E": 0, "W": 1, "N": 2, "S": 3}
    for (a, b, k) in zip(src, dst, total):
        for x, y, d in xy_route(tuple(a), tuple(b)):
            want[(y * gx + x) * 4 + dirs[d]] += k
    np.testing.assert_array_equal(sim._xy_loads(total, src, dst, gx, gy), want)
