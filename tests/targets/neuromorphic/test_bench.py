"""``neurosim bench engine``: neuron variants, the scale series' per-model subprocess, the plot,
the Brian2 C++ standalone baseline (slow, needs an interpreter with Brian2)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from neurosim.cli import main
from neurosim.errors import SimulationError
from neurosim.targets.neuromorphic.bench import (
    PHASES,
    VARIANTS,
    _spec,
    bench_variants,
    make_network,
    parse_models,
    plot_scaling,
    run_model,
    to_graph,
    unique_fanout,
)
from neurosim.targets.neuromorphic.config import load_preset
from neurosim.targets.neuromorphic.estimate import on_board
from neurosim.targets.neuromorphic.model.simulate import segments, simulate


def _small():
    return make_network(n=400, n_in=60, k_in=30, k_rec=12, p_in=0.2, steps=60, seed=1, w_in=0.2, w_rec=0.1)


def test_variants_run_on_one_mapping_and_count_events():
    net = _small()
    chip = on_board(load_preset("loihi"), 1)
    res = simulate(to_graph(net), chip, net.inputs, mode="float")
    rows = bench_variants(net, chip, res.mapping, segments(res.net, res.mapping), repeats=1, log=lambda *_: None)
    assert list(rows) == list(VARIANTS)
    plain = rows["LIF"]
    assert plain["ratio_to_plain"] == 1.0 and plain["spikes"] == int(res.spikes["lif"].sum())
    # plain LIF, sparse storage: one synaptic op per delivered event = spikes x stored synapses
    # (a repeated pair is one synapse, a zero weight none; the last step's spikes arrive after the run)
    spk = res.spikes["lif"]
    fan_in = unique_fanout(net.in_ptr, net.in_idx, net.in_w)
    fan_rec = unique_fanout(net.rec_ptr, net.rec_idx, net.rec_w)
    expect = int((net.inputs @ fan_in).sum()) + int((spk[:-1] @ fan_rec).sum())
    assert plain["synaptic_events"] == expect
    assert rows["LIF refractory_steps=1"]["spikes"] < plain["spikes"]  # a refractory step removes spikes
    assert all(r["events_per_s"] > 0 for r in rows.values())


def test_parse_models_names_the_choices():
    assert parse_models("vgg11, dvs") == ("vgg11", "dvs")
    with pytest.raises(SimulationError, match=r"^--models must be a comma-separated list of \['dvs', 'resnet18', "
                                              r"'vgg11'\], found 'vgg16'$"):
        parse_models("vgg16")
    assert main(["bench", "--no-engine", "--models", "vgg16"]) == 2


def _tiny_vgg(**kw):
    spec = _spec("vgg11", input_px=8, **kw)
    spec["kwargs"]["config"] = (8, "M", 8)
    spec["steps"] = 3
    return spec


def test_run_model_reports_every_phase_in_a_fresh_process():
    row = run_model(_tiny_vgg(), timeout=300)
    assert "error" not in row, row
    assert set(row["phases_s"]) == set(PHASES)
    assert row["chips"] == 1 and row["cores"] >= 2 and row["neurons"] == 8 * 64 + 8 * 16 + 10
    assert row["synaptic_events"] > 0 and row["events_per_s"] > 0 and row["peak_rss_mib"] > 50
    assert row["energy_pj"] > 0 and 0 < row["firing_rate_mean"] < 0.5


def test_run_model_reports_a_capacity_error_in_one_line():
    """ODIN is one 256-neuron core: the 650-neuron model does not fit a one-chip board."""
    row = run_model(_tiny_vgg(chip="odin", board_chips=1), timeout=300)
    assert row["error"].startswith("CapacityError: the model needs ") and "\n" not in row["error"]
    assert "compile" in row["phases_s"] and "simulate" not in row["phases_s"]


def test_scaling_plot_is_written(tmp_path):
    rows = [{"label": f"VGG 3x{px}x{px}", "synaptic_events": 10 ** k, "neurons": 10 ** k, "weights": 10 ** k,
             "peak_rss_mib": 100.0 * k, "phases_s": {"simulate": 0.1 * k}} for k, px in ((5, 32), (6, 64), (7, 128))]
    path = tmp_path / "scaling.png"
    plot_scaling(rows, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


BRIAN2 = os.environ.get("NEUROSIM_BRIAN2_PYTHON", "/tmp/b2env/bin/python")


@pytest.mark.slow
@pytest.mark.skipif(not Path(BRIAN2).exists(), reason="set NEUROSIM_BRIAN2_PYTHON to a Python with brian2 2.9")
def test_brian2_cpp_standalone_matches_the_bare_loop():
    from neurosim.targets.neuromorphic.bench import _bench_brian2, bare_loop

    net = _small()
    spikes, events = bare_loop(net.inputs, net.in_ptr, net.in_idx, net.in_w, net.rec_ptr, net.rec_idx, net.rec_w,
                               net.n, net.decay, net.threshold)
    rows = _bench_brian2(net, int(spikes), int(events), lambda *_: None, python=BRIAN2,
                         targets=("numpy", "cpp_standalone"))
    cpp = rows["brian2 cpp_standalone"]
    assert cpp["spikes_identical"] and rows["brian2 numpy"]["spikes_identical"]
    assert cpp["build_s"] > 0 and cpp["binary_s"] >= cpp["seconds"] > 0
    assert np.isfinite(cpp["events_per_s"])
