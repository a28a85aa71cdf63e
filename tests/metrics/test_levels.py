"""Estimate levels (a) and (b), the op counters and the metrics' input boundaries.

The oracle of the level tests is a 2-layer model whose spikes, FLOPs, SOPs and traffic are
derived by hand in the comments (not from neurosim's code).
"""

from __future__ import annotations

import argparse
import dataclasses
import json

import numpy as np
import pytest

from neurosim.errors import EnergyError, SimulationError, UnsupportedError
from neurosim.ir.graph import Graph
from neurosim.ir.nodes import LIF, Conv2d, Dense, Input, Node, Output
from neurosim.metrics import counter_for, from_activity, from_rates, neurobench_metrics
from neurosim.metrics.activity import record
from neurosim.metrics.memory import load_memory, memory_estimate
from neurosim.metrics.ops import OpCounter, register_counter
from neurosim.metrics.paper import paper_estimate
from neurosim.targets.neuromorphic.model import reference

W1 = np.array([[1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 1]])
W2 = np.array([[1.0, 0, 2], [0, 0, 3]])
X = np.array([[0.7, 0.2, 0.0, 0.3], [0.1, 0.9, 0.4, 0.4]])[:, None]  # [T=2, B=1, 4]


def two_layer() -> Graph:
    return Graph.chain([("in", Input(shape=(4,))), ("fc1", Dense(weight=W1)),
                        ("lif1", LIF(shape=(3,), decay=0.0, threshold=0.5, reset="zero")),
                        ("fc2", Dense(weight=W2)), ("lif2", LIF(shape=(2,), decay=0.0, threshold=0.5, reset="zero")),
                        ("out", Output(shape=(2,)))])


def test_level_a_by_hand():
    # fc1 sees real values on both steps: FL_first = 2 steps * (3*4) = 24 MACs.
    # lif1 (decay 0, thr 0.5): v0 = [0.7, 0.2, 0.3] -> spikes [1,0,0]; v1 = [0.1, 0.9, 0.8] -> [0,1,1].
    # fc2 input: 3 spikes over 3 neurons x 2 steps: fr = 0.5; SOP = 0.5 * 2 * (2*3) = 6.
    # E = 4.6 * 24 + 0.9 * 6 = 115.8 pJ.
    g = two_layer()
    counts = from_activity(g, record(g, X))
    a = paper_estimate(counts)
    assert [la.fl_mac for la in a.layers] == [24, 0]
    assert [la.firing_rate for la in a.layers] == [0.0, 0.5]
    assert a.sop == 6.0
    assert a.energy_pj == pytest.approx(115.8, abs=1e-9)
    nb = neurobench_metrics(g, counts)
    # effective MACs: x0 has 3 nonzeros, x1 4, each column of W1 has 1 nonzero -> 7;
    # effective ACs: step 0 spike on column 0 (1 nonzero), step 1 on columns 1 (0) and 2 (2) -> 3
    assert (nb.effective_macs, nb.effective_acs, nb.dense_synops) == (7.0, 3.0, 36.0)
    assert nb.connection_sparsity == pytest.approx((12 - 4 + 6 - 3) / 18)
    # membranes after each step: lif1 [0 (reset), 0.2, 0.3] then [0.1, 0, 0]: 3 + 3 changes;
    # lif2 gets [1, 0] -> spike, reset -> [0, 0], then [2, 3] -> both spike, reset -> [0, 0]: 2 + 0
    assert nb.membrane_updates == 8
    assert nb.activation_sparsity == pytest.approx(1 - (3 + 3) / 10)


def test_level_b_by_hand():
    # 18 params * 4 B, 5 membranes * 4 B and 133 activation bits all fit the 8 kB SRAM: 10 pJ per
    # 64 bits, so a 32-bit access is 5 pJ and a 1-bit access 10/64 pJ.
    # weights: 30 ops * 5 = 150; membranes: 30 ops * 2 * 5 + 5 neurons * 2 steps * 2 * 5 = 400;
    # activations: fc1 reads 4 * 2 * 32 bits = 40 pJ, fc2 reads 3 * 2 bits, lif writes 5 * 2 bits: 16 * 10/64.
    g = two_layer()
    counts = from_activity(g, record(g, X))
    b = memory_estimate(counts, paper_estimate(counts))
    assert b.placement["weights"] == b.placement["membranes"] == b.placement["activations"] == "sram-8kB"
    assert b.total("weight_pj") == pytest.approx(150.0)
    assert b.total("membrane_pj") == pytest.approx(400.0)
    assert b.total("activation_pj") == pytest.approx(40.0 + 16 * 10 / 64)
    assert b.energy_pj == pytest.approx(115.8 + 150 + 400 + 40 + 2.5)


def test_from_rates_matches_the_formula():
    g = two_layer()
    c = from_rates(g, {"lif1": 0.5, "lif2": 0.25}, steps=2)
    a = paper_estimate(c)
    assert a.fl_mac == 24 and a.sop == 6.0 and not c.measured


def _brute_conv_fanout(w, in_shape, stride, padding, dilation, groups):
    """Per input element, count (nonzero weight, valid output position) pairs by looping over outputs."""
    c_in, h, wd = in_shape
    o, cg, kh, kw = w.shape
    og = o // groups
    oh = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    fan = np.zeros(in_shape)
    for oc in range(o):
        g = oc // og
        for i in range(oh):
            for j in range(ow):
                for c in range(cg):
                    for a in range(kh):
                        for b in range(kw):
                            y = i * stride[0] - padding[0] + a * dilation[0]
                            x = j * stride[1] - padding[1] + b * dilation[1]
                            if 0 <= y < h and 0 <= x < wd and w[oc, c, a, b] != 0:
                                fan[g * cg + c, y, x] += 1
    return fan


@pytest.mark.parametrize("stride,padding,dilation,groups", [
    ((1, 1), (1, 1), (1, 1), 1), ((2, 1), (0, 2), (1, 1), 2), ((1, 2), (2, 1), (2, 1), 4), ((3, 3), (1, 0), (1, 2), 1)])
def test_conv_fanout_equals_brute_force(stride, padding, dilation, groups):
    rng = np.random.default_rng(sum(stride) + 10 * groups)
    w = rng.normal(size=(4, 4 // groups, 3, 2)) * (rng.random((4, 4 // groups, 3, 2)) < 0.6)
    node = Conv2d(weight=w, stride=stride, padding=padding, dilation=dilation, groups=groups)
    c = counter_for(node)
    for dense in (False, True):
        got = c.fanout(node, (4, 7, 6), dense)
        want = _brute_conv_fanout(np.ones_like(w) if dense else w, (4, 7, 6), stride, padding, dilation, groups)
        np.testing.assert_array_equal(got, want)
    assert c.flops(node, (4, 7, 6)) == int(np.prod(node.output_shape((4, 7, 6)))) * w[0].size


def test_record_equals_reference_run_with_a_recurrent_edge():
    rng = np.random.default_rng(3)
    nodes = {"in": Input(shape=(5,)), "fc": Dense(weight=rng.normal(size=(4, 5)), bias=rng.normal(size=4)),
             "lif": LIF(shape=(4,), decay=0.8, threshold=0.6),
             "rec": Dense(weight=rng.normal(size=(4, 4)), bias=np.full(4, 0.1)), "out": Output(shape=(4,))}
    g = Graph(nodes, (("in", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "out")))
    assert g.recurrent_edges
    x = rng.random((9, 2, 5)) * 2
    act = record(g, x)
    ref = reference.run(g, x, batched=True)
    for name in g.order:
        np.testing.assert_array_equal(act.outputs[name], ref.outputs[name])
    np.testing.assert_array_equal(act.membranes["lif"][-1], ref.state["lif"]["v"])
    np.testing.assert_array_equal(act.input_of(g, "lif")[1:], act.outputs["fc"][1:] + act.outputs["rec"][:-1])


def test_a_subclass_inherits_its_base_counter_and_a_new_type_plugs_in():
    @dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
    class MyDense(Dense):
        pass

    @dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
    class Odd(Node):
        pass

    assert counter_for(MyDense(weight=W1)) is counter_for(Dense(weight=W1))
    with pytest.raises(UnsupportedError, match=r"^node 'x' \(Odd\) has no operation counter; register one with "
                                               r"neurosim\.metrics\.ops\.register_counter\(Odd, OpCounter\(\.\.\.\)\)$"):
        counter_for(Odd(), "x")
    register_counter(Odd, OpCounter(params=lambda n: 7, fanout=lambda n, s, d: None, flops=lambda n, s: 0,
                                    neurons=lambda n, s: 0))
    assert counter_for(Odd(), "x").params(Odd()) == 7


# -- input boundaries -----------------------------------------------------------------------------

@pytest.mark.parametrize("x,match", [
    (np.zeros((2, 4)), r"^metrics input has shape \(2, 4\), expected \[T, B, 4\] with T, B >= 1; add the batch axis "
                       r"with x\[:, None\] for one sample$"),
    (np.zeros((0, 1, 4)), r"^metrics input has shape \(0, 1, 4\), expected \[T, B, 4\]"),
    (np.array([[["a"] * 4]]), r"^metrics input has dtype '<U1', expected real numbers; save spikes or currents as "
                              r"int or float$"),
    (np.full((1, 1, 4), np.nan), r"^metrics input contains the non-finite value nan; every entry must be finite$"),
])
def test_bad_inputs(x, match):
    with pytest.raises(SimulationError, match=match):
        record(two_layer(), x)


@pytest.mark.parametrize("rates,steps,match", [
    ({"lif1": 0.5}, 2, r"^no firing rate for layer 'lif2'; give one for every spiking layer \['lif1', 'lif2'\]$"),
    ({"lif1": 0.5, "lif2": 0.1, "nope": 0.1}, 2, r"^firing rate given for the unknown layer 'nope'; layers: "),
    ({"lif1": -1.0, "lif2": 0.1}, 2, r"^firing rate of layer 'lif1' must be a number >= 0 \(spikes per neuron and "
                                     r"step\), found -1\.0$"),
    ({"lif1": 0.5, "lif2": 0.1}, 0, r"^timesteps must be a positive integer, found 0$"),
])
def test_bad_rates(rates, steps, match):
    with pytest.raises(SimulationError, match=match):
        from_rates(two_layer(), rates, steps)


def test_bad_bytes_per_param():
    g = two_layer()
    with pytest.raises(SimulationError, match=r"^bytes per parameter must be an integer in 1\.\.16, found 0$"):
        neurobench_metrics(g, from_rates(g, {"lif1": 0.1, "lif2": 0.1}, 1), bytes_per_param=0)


GOOD_LEVEL = 'name = "s"\ncapacity_bytes = {cap}\npj_per_64bit = {pj}\nsource = "x"\n'
GOOD_PREC = "[precision]\nweight_bits = 32\nmembrane_bits = 32\nspike_bits = 1\ninput_bits = {bits}\n"


def _toml(cap="inf", pj="10.0", bits="32", extra=""):
    return "[[level]]\n" + GOOD_LEVEL.format(cap=cap, pj=pj) + GOOD_PREC.format(bits=bits) + extra


@pytest.mark.parametrize("text,match", [
    (_toml(extra="[other]\n"), r"^memory file '.*m\.toml': an unknown table is 'other'; use only \[\[level\]\] and "
                               r"\[precision\]$"),
    (_toml(pj="-1.0"), r"^memory file '.*': level 1 pj_per_64bit is -1\.0; give a positive number"),
    (_toml(pj='"ten"'), r"^memory file '.*': level 1 pj_per_64bit is 'ten'; give a positive number"),
    (_toml(cap="100"), r"^memory file '.*': the last level's capacity_bytes is 100\.0; make the last level hold "
                       r"anything \(inf\)$"),
    (_toml(bits="0"), r"^memory file '.*': precision\.input_bits is 0; give an integer number of bits in 1\.\.64$"),
    ("[[level]]\n" + GOOD_LEVEL.format(cap="inf", pj="1.0") + "[[level]]\n" + GOOD_LEVEL.format(cap="8", pj="1.0")
     + GOOD_PREC.format(bits=1), r"^memory file '.*': the level capacities is \[inf, 8\.0\]; list the levels from "
                                 r"the smallest to the largest$"),
    ('[[level]]\nname = "s"\n' + GOOD_PREC.format(bits=1), r"^memory file '.*': level 1 keys is \['name'\]; give "
                                                            r"exactly \['capacity_bytes', 'name', 'pj_per_64bit', "
                                                            r"'source'\]$"),
    ("[[level]\n", r"^cannot read memory file '.*m\.toml': .*; give a UTF-8 TOML file like "
                   r"neurosim/metrics/memory\.toml$"),
])
def test_bad_memory_files(tmp_path, text, match):
    p = tmp_path / "m.toml"
    p.write_text(text)
    with pytest.raises(EnergyError, match=match):
        load_memory(p)


def test_bundled_memory_file_cites_every_level():
    m = load_memory()
    assert [lv.name for lv in m.levels] == ["sram-8kB", "sram-32kB", "sram-1MB", "dram"]
    assert all("Horowitz, ISSCC 2014" in lv.source for lv in m.levels)


# -- command --------------------------------------------------------------------------------------

def _run(argv):
    from neurosim.metrics.cli import COMMAND

    p = argparse.ArgumentParser()
    COMMAND.configure(p)
    return COMMAND.run(p.parse_args(argv))


def test_cli_writes_the_levels_side_by_side(tmp_path, capsys):
    out = tmp_path / "m.json"
    assert _run(["models/digits_mlp.nsim", "--timesteps", "4", "--batch", "2", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert set(doc["levels"]) == {"a", "b"} and doc["batch"] == 2 and doc["timesteps"] == 4
    assert doc["totals"]["energy_b_pj"] > doc["totals"]["energy_a_pj"] > 0
    assert sum(r["energy_a_pj"] for r in doc["layers"]) == pytest.approx(doc["totals"]["energy_a_pj"])
    text = capsys.readouterr().out
    assert "0.9 pJ is a 32-bit floating-point add" in text and "Effective_ACs" in text


def test_cli_input_file_and_bad_json_path(tmp_path):
    from neurosim.fileio import OutputPathError

    x = tmp_path / "x.npy"
    np.save(x, (np.random.default_rng(0).random((3, 64)) < 0.3).astype(np.int64))
    assert _run(["models/digits_mlp.nsim", "--input", str(x)]) == 0
    with pytest.raises(OutputPathError, match=r"^--json "):
        _run(["models/digits_mlp.nsim", "--json", str(tmp_path)])
    assert _run(["models/digits_mlp.nsim", "--seed", "-5"]) == 0  # any integer is a seed (commands.seed_arg)


def test_level_c_is_the_engine_on_the_chip_or_says_why_it_does_not_map(tmp_path, capsys):
    """`neurosim metrics --chip`: level (c) is estimate() on the same input's first sample; a model that cannot
    map gets the engine's or partitioner's one-line reason instead of a number."""
    import json

    from neurosim.frontends import load_model
    from neurosim.metrics.cli import _input
    from neurosim.targets.neuromorphic.estimate import estimate

    out = tmp_path / "m.json"
    assert _run(["models/digits_mlp.nir", "--chip", "loihi", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    args = argparse.Namespace(input=None, timesteps=16, batch=1, rate=0.1, seed=0)
    graph = load_model("models/digits_mlp.nir")
    direct = estimate(graph, "loihi", _input(args, graph)[:, 0])
    assert doc["engine"]["maps"] and doc["engine"]["energy_pj"] == direct.energy_pj
    assert doc["totals"]["energy_c_pj"] == direct.energy_pj and doc["engine"]["latency_s"] == direct.latency_s
    assert "(c) cycle-level engine on loihi: " in capsys.readouterr().out
    assert _run(["models/digits_conv.nir", "--chip", "truenorth", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert not doc["engine"]["maps"] and "energy_c_pj" not in doc["totals"]
    assert doc["engine"]["why"].startswith("population '5' does not fit chip 'truenorth': a single neuron needs 512 "
                                           "axons but axons_per_core is 256")


def test_saved_rates_reproduce_the_run_and_bad_rate_files_are_refused(tmp_path):
    """--save-rates writes the measured per-layer rates (and the spike input's rate); --rates on that file gives
    the same levels on a dense MLP (uniform fan-out: the expectation equals the realised count)."""
    import json

    from neurosim.errors import FormatError, SimulationError

    rates, a, b = tmp_path / "r.toml", tmp_path / "a.json", tmp_path / "b.json"
    assert _run(["models/digits_mlp.nsim", "--save-rates", str(rates), "--json", str(a)]) == 0
    text = rates.read_text()
    assert "input_rate = 0.09375" in text and '"1" = 0.03515625' in text
    assert _run(["models/digits_mlp.nsim", "--rates", str(rates), "--json", str(b)]) == 0
    da, db = json.loads(a.read_text()), json.loads(b.read_text())
    for key in ("energy_a_pj", "energy_b_pj"):
        assert db["totals"][key] == pytest.approx(da["totals"][key], rel=1e-12)
    rates.write_text('[rates]\ndefault = 0.1\n')
    assert _run(["models/digits_mlp.nsim", "--rates", str(rates)]) == 0  # default fills every spiking layer
    rates.write_text('rate = 3\n')
    with pytest.raises(FormatError, match=r"^--rates '.*r\.toml': expected a \[rates\] table and optionally "
                                          r"input_rate, found keys \['rate'\]$"):
        _run(["models/digits_mlp.nsim", "--rates", str(rates)])
    rates.write_text('[rates]\n"1" = -1\n"3" = 0.1\n')
    with pytest.raises(SimulationError, match=r"^firing rate of layer '1' must be a number >= 0"):
        _run(["models/digits_mlp.nsim", "--rates", str(rates)])
    with pytest.raises(SimulationError, match=r"^--rates replaces the run: leave out --input, --save-rates and --chip$"):
        _run(["models/digits_mlp.nsim", "--rates", str(rates), "--chip", "loihi"])
