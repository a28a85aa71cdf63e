"""The event-latency model (model/timing.py) on tiny networks, expected values derived by hand
from the loihi-sanafe constants (sanafe 2.2.9 loihi.yaml): access 6.0 ns, access + update 9.7 ns,
spike_out 30 ns, sparse synapse 4.7 ns, message receipt 16 ns, barrier 1800 ns."""

import numpy as np
import pytest

from neurosim.ir import LIF, Delay, Dense, Graph, Input, Output
from neurosim.targets.neuromorphic.config import load_preset
from neurosim.targets.neuromorphic.model.compile import compile_graph
from neurosim.targets.neuromorphic.model.simulate import simulate
from neurosim.targets.neuromorphic.model.timing import step_timing


def _graph(delayed: bool):
    nodes = {"input": Input(shape=(1,)), "w": Dense(weight=np.array([[2.0], [2.0]])),
             "lif": LIF(shape=(2,), decay=0.5, threshold=1.0), "output": Output(shape=(2,))}
    edges = [("w", "lif"), ("lif", "output")]
    if delayed:
        nodes["d"] = Delay(shape=(1,), delay_steps=1)
        edges += [("input", "d"), ("d", "w")]
    else:
        edges += [("input", "w")]
    return Graph(nodes, tuple(edges))


def _zero_delay_sources(net):
    """The populations (-1: inputs) feeding each population on zero-delay synapses, from the
    materialised synapse list (an oracle independent of compile_graph's path bookkeeping)."""
    syn = net.synapse_list()
    src = np.repeat(np.arange(net.n_total), np.diff(syn.ptr))
    pop = np.searchsorted(np.asarray(net.pop_offset), np.arange(net.n_total), side="right") - 1
    srcs = [set() for _ in net.populations]
    now = syn.delay == 0
    for s, t in set(zip(src[now].tolist(), syn.target[now].tolist())):
        srcs[int(pop[t])].add(-1 if s < net.n_inputs else int(pop[s]))
    return tuple(tuple(sorted(x)) for x in srcs)


@pytest.mark.parametrize("delayed", [True, False])
def test_one_core_step_latency_by_hand(delayed):
    chip = load_preset("loihi-sanafe")
    x = np.array([[1.0], [0.0], [0.0]])
    graph = _graph(delayed)
    net = compile_graph(graph, "float")
    assert net.pop_sources == _zero_delay_sources(net)
    res = simulate(graph, chip, x, mode="float", net=net)
    steps = step_timing(res)["step_s"] * 1e9
    fired = 1 if delayed else 0  # the step the input reaches the two neurons (both fire: v = 2 > 1)
    # that step: 2 active updates (9.7) + 2 spikes (30) generated; one packet (16) with 2 synaptic ops (4.7) received
    gen, rx = 2 * 9.7 + 2 * 30.0, 16.0 + 2 * 4.7
    busy = max(gen, rx) if delayed else gen + rx  # delayed input overlaps receipt and generation
    expect = np.full(3, 2 * 6.0 + 1800.0)  # the other steps: two idle neuron accesses + the barrier
    expect[fired] = busy + 1800.0
    assert steps == pytest.approx(expect, abs=1e-9)


def test_cycle_presets_keep_their_cycle_counts():
    chip = load_preset("neurosim-core")
    res = simulate(_graph(False), chip, np.array([[1.0], [0.0]]), mode="float")
    t = step_timing(res)
    # cycle chips: step = integrate + fire cycles + barrier, no event-latency breakdown keys
    assert t["step_cycles"].tolist() == (res.core_cycles.max(axis=1) + chip.barrier_cycles).tolist()
    assert "generation_units" not in t
