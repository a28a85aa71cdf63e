"""The loihi-sanafe preset, the SANA-FE network writer and (slow, with SANA-FE's venv) the comparison."""

import os
import re
from pathlib import Path

import numpy as np
import pytest

from neurosim.errors import SimulationError
from neurosim.ir import LIF, Delay, Dense, Graph, Input, Output
from neurosim.targets.neuromorphic.bench import sanafe_mapping, sanafe_sync_ns
from neurosim.targets.neuromorphic.config import load_preset
from neurosim.targets.neuromorphic.model.compile import compile_graph
from neurosim.targets.neuromorphic.sanafe_runner import host_arch, sanafe_core, write_network

SANAFE_PYTHON = os.environ.get("NEUROSIM_SANAFE_PYTHON", "/tmp/sanafe-venv/bin/python")


def test_preset_carries_sanafe_constants():
    chip = load_preset("loihi-sanafe")
    # sanafe 2.2.9 loihi.yaml: access 51.2 + update 21.6 pJ, spike_out 69.3, message_out 111, sparse synapse 33.6
    assert chip.energy_pj["neuron_update_active"].value == pytest.approx(51.2 + 21.6)
    assert chip.energy_pj["neuron_update_inactive"].value == 51.2
    assert (chip.energy_pj["spike_out"].value, chip.energy_pj["packet_out"].value) == (69.3, 111.0)
    assert (chip.latency_ns["packet_out"].value, chip.latency_ns["synaptic_op"].value) == (5.1, 4.7)
    assert chip.barrier_ns.value == 1800 and chip.static_power_w.value is None
    assert all("sanafe" in c.source.lower() for k, c in chip.constants().items()
               if k.startswith(("energy_pj.", "latency_ns.")) and c.value)


def test_sync_table_lookup():
    # SANA-FE LookupTable::get: the largest key <= tiles
    assert [sanafe_sync_ns(t) for t in (1, 2, 3, 4, 28, 29, 32)] == [600, 1000, 1000, 1400, 1400, 1800, 1800]


def test_sanafe_tiles_are_column_major():
    # arch.cpp: x = tile / height, y = tile % height (height 4)
    assert sanafe_core((1, 0), 5, 4, 4) == "4.1" and sanafe_core((0, 1), 2, 4, 4) == "1.2"


def _net(delay=True):
    nodes = {"input": Input(shape=(2,)), "w": Dense(weight=np.array([[0.5, -0.25], [0.0, 1.5], [1.0, 1.0]])),
             "lif": LIF(shape=(3,), decay=0.75, threshold=1.0), "output": Output(shape=(3,))}
    edges = [("w", "lif"), ("lif", "output")]
    if delay:
        nodes["d"] = Delay(shape=(2,), delay_steps=1)
        edges += [("input", "d"), ("d", "w")]
    else:
        edges.append(("input", "w"))
    return compile_graph(Graph(nodes, tuple(edges)), "float")


def test_writer_emits_sanafe_network_format(tmp_path):
    net = _net()
    chip = load_preset("loihi-sanafe")
    mapping, ids = sanafe_mapping(net, chip, 2)
    x = np.array([[1, 0], [0, 1], [1, 1]], dtype=float)
    info = write_network(net, mapping, x, tmp_path / "n.yaml", core_ids=ids, scale=4.0)
    text = (tmp_path / "n.yaml").read_text()
    assert info["groups"] == {"p0": "lif"}
    # SANA-FE's example_snn.yaml layout: network.groups / network.edges, then mappings
    assert text.startswith("network:\n  name: neurosim\n  groups:\n") and "\n  edges:\n" in text and "\nmappings:\n" in text
    assert "        - 0: [spikes: [1, 0, 1]]" in text and "        - 1: [spikes: [0, 1, 1]]" in text
    assert "threshold: 4.0, leak_decay: 0.75, input_decay: 0.0, reset_mode: soft" in text
    # the four nonzero weights, scaled by 4, "pre -> post: [weight: w]"
    edges = sorted(re.findall(r"- (in\.\d) -> (p0\.\d): \[weight: (-?[\d.]+)\]", text))
    assert edges == [("in.0", "p0.0", "2.0"), ("in.0", "p0.2", "4.0"), ("in.1", "p0.0", "-1.0"),
                     ("in.1", "p0.1", "6.0"), ("in.1", "p0.2", "4.0")]
    # inputs on the host core 0.0 with one input soma unit each; neurons from core 1 (tile 0) and core 2
    assert '  - in.1: [core: 0.0, soma: "loihi_inputs[1]"]' in text
    assert "  - p0.0..1: [core: 0.1, soma: loihi_lif, synapse: loihi_sparse_synapse]" in text
    assert "  - p0.2..2: [core: 0.2, soma: loihi_lif, synapse: loihi_sparse_synapse]" in text


def test_writer_refuses_zero_delay(tmp_path):
    net = _net(delay=False)
    mapping, ids = sanafe_mapping(net, load_preset("loihi-sanafe"), 4)
    with pytest.raises(SimulationError, match=r"^a synapse has delay 0: SANA-FE delivers every message one step later"):
        write_network(net, mapping, np.zeros((2, 2)), tmp_path / "n.yaml", core_ids=ids)


def test_writer_refuses_host_core(tmp_path):
    net = _net()
    mapping, _ = sanafe_mapping(net, load_preset("loihi-sanafe"), 4)
    with pytest.raises(SimulationError, match=r"^mapped core 0 sits on SANA-FE core 0\.0, the host core"):
        write_network(net, mapping, np.zeros((2, 2)), tmp_path / "n.yaml", core_ids=[0])


def test_host_arch_zeroes_only_the_host_core():
    core = {"name": "c[0..3]", "axon_out": [{"name": "o", "attributes": {"energy_message_out": 1.0,
                                                                          "latency_message_out": 2.0}}]}
    arch = {"architecture": {"tile": [{"name": "t[0..31]", "core": [core]}]}}
    out = host_arch(arch)["architecture"]["tile"]
    assert [t["name"] for t in out] == ["t[0]", "t[1..31]"]
    assert [c["name"] for c in out[0]["core"]] == ["c[0]", "c[1..3]"]
    assert out[0]["core"][0]["axon_out"][0]["attributes"] == {"energy_message_out": 0.0, "latency_message_out": 0.0}
    assert out[0]["core"][1]["axon_out"][0]["attributes"]["energy_message_out"] == 1.0
    assert arch["architecture"]["tile"][0]["name"] == "t[0..31]"  # the input is not modified


@pytest.mark.slow
@pytest.mark.skipif(not Path(SANAFE_PYTHON).exists(), reason="needs SANA-FE's venv (NEUROSIM_SANAFE_PYTHON)")
def test_sanafe_comparison_within_tolerances(tmp_path):
    from neurosim.targets.neuromorphic.bench import bench_sanafe

    res = bench_sanafe(sanafe_python=SANAFE_PYTHON, out_dir=tmp_path, steps=100, log=lambda *a: None)
    for name, row in res["networks"].items():
        assert row["spikes"]["equal"], name  # identical LIF dynamics in both tools
        assert abs(row["energy_per_step_pj"]["ratio"] - 1) < 0.15, name
        assert abs(row["latency_per_step_ns"]["ratio"] - 1) < 0.25, name
