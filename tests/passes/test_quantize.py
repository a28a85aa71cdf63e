"""The quantize pass: fixed-point graphs that validate, run, and keep the float model's behaviour."""

from pathlib import Path

import numpy as np
import pytest

from neurosim.targets.neuromorphic.model.reference import run
from neurosim.errors import FixedPointError, UnsupportedError
from neurosim.ir import (
    IF,
    LI,
    LIF,
    AvgPool2d,
    Conv2d,
    CubaLIF,
    Delay,
    Dense,
    FixedPoint,
    Flatten,
    Graph,
    Input,
    Integrator,
    NMSparse,
    Output,
    Scale,
    SparseCSR,
    SumPool2d,
    Threshold,
    load,
)
from neurosim.passes import QuantizedGraph, best_shift, fold_avgpool, quantize

MODELS = Path(__file__).resolve().parents[2] / "models"
KINDS = ("mlp", "conv", "mlp_nm24")


def chain(n_in, w, neuron, bias=None):
    return Graph.chain([("input", Input(shape=(n_in,))), ("fc", Dense(weight=w, bias=bias)), ("pop", neuron),
                        ("output", Output(shape=(w.shape[0],)))])


def two_layer(rng, neuron_a, neuron_b, n_in=12, n_hid=8, n_out=4):
    w1 = rng.normal(size=(n_hid, n_in)) * 0.6
    w2 = rng.normal(size=(n_out, n_hid)) * 0.6
    return Graph.chain([("input", Input(shape=(n_in,))), ("fc1", Dense(weight=w1, bias=rng.normal(size=n_hid) * 0.1)),
                        ("pop1", neuron_a), ("fc2", Dense(weight=w2)), ("pop2", neuron_b),
                        ("output", Output(shape=(n_out,)))])


def spikes(rng, t, *shape, p=0.4):
    return (rng.random((t, *shape)) < p).astype(np.float64)


def _inputs(kind):
    data = np.load(MODELS / "digits_test_inputs.npz")
    return data["conv" if kind == "conv" else "mlp"], data["labels"]


def _accuracy(out, labels):
    return float(np.mean(out.sum(0).argmax(-1) == labels))


# -- the bundled models ----------------------------------------------------------------------------

@pytest.mark.parametrize("bits", [4, 6, 8])
@pytest.mark.parametrize("kind", KINDS)
def test_bundled_models_quantize_validate_and_run_fixed(kind, bits):
    g = load(MODELS / f"digits_{kind}.nsim")
    q = quantize(g, weight_bits=bits)
    assert isinstance(q, QuantizedGraph) and isinstance(q.graph, Graph)
    Graph(q.graph.nodes, q.graph.edges, q.graph.semantics)  # passes validation again from scratch
    fmt = FixedPoint(bits, 0)
    for name in q.graph.projections():
        node = q.graph.nodes[name]
        assert node.weight_format == fmt
        assert np.max(np.abs(node.weight)) <= fmt.max_int
    for name in q.graph.spiking_populations():
        node = q.graph.nodes[name]
        assert node.fixed.state == FixedPoint(16, 0) and node.fixed.acc_width == 32
        assert node.fixed.leak == "shift" and node.fixed.leak_shift == 3
        assert np.all(node.decay == 0.875) and np.all(node.gain == 1.0)
        r = q.layer(name)
        assert (r.decay, r.effective_decay, r.leak_shift) == (pytest.approx(0.9), 0.875, 3)
        assert r.clipped == 0 and r.scale_limited_by == "weights"
        assert r.max_weight_error <= 0.5 / r.scale + 1e-12
    x, _ = _inputs(kind)
    out = run(q.graph, x, mode="fixed", batched=True).output_spikes
    assert out.shape == (16, 32, 10)


def test_mlp_8bit_fixed_accuracy_close_to_float():
    g = load(MODELS / "digits_mlp.nsim")
    x, labels = _inputs("mlp")
    flt = run(g, x, batched=True).output_spikes
    fixed = run(quantize(g, weight_bits=8).graph, x, mode="fixed", batched=True).output_spikes
    # measured: float 32/32, fixed 32/32, 98.9 % of output spike entries equal
    assert _accuracy(flt, labels) == 1.0
    assert _accuracy(fixed, labels) >= _accuracy(flt, labels) - 2 / 32
    assert np.mean(fixed == flt) >= 0.97


def test_nm_pattern_survives_quantization():
    g = load(MODELS / "digits_mlp_nm24.nsim")
    q = quantize(g, weight_bits=4)
    for name in q.graph.projections():
        assert q.graph.nodes[name].nm == (2, 4)


def test_report_table_names_every_layer():
    q = quantize(load(MODELS / "digits_conv.nsim"), weight_bits=8)
    assert [r.name for r in q.layers] == ["1", "5"]
    text = q.table()
    assert "v>>3" in text and "0.9 -> 0.875" in text and "state range" not in text
    assert "AvgPool2d '2' -> SumPool2d, 1/4 folded into the weights of '4'" in text
    assert q.layer("5").projections == ("4",)
    # worst case of layer 5: 4 spikes per pooled input (2x2 window of a gt population), exact sum of codes
    w = q.graph.nodes["4"].weight
    b = q.graph.nodes["4"].bias
    worst = max(np.max(4 * np.maximum(w, 0).sum(1) + np.maximum(b, 0)),
                np.max(4 * np.maximum(-w, 0).sum(1) + np.maximum(-b, 0)))
    assert q.layer("5").acc_worst == int(worst)
    assert q.layer("5").acc_bits_needed == int(worst).bit_length() + 1


# -- identity on already-fixed dynamics ------------------------------------------------------------

def _integer_if_net(rng):
    w1 = rng.integers(-7, 8, size=(6, 10)).astype(float)
    w1[0, 0] = 7.0
    w2 = rng.integers(-7, 8, size=(3, 6)).astype(float)
    w2[1, 2] = -7.0
    rec = rng.integers(-3, 4, size=(6, 6)).astype(float)
    nodes = {"input": Input(shape=(10,)), "fc1": Dense(weight=w1, bias=rng.integers(-2, 3, size=6).astype(float)),
             "pop1": IF(shape=(6,), threshold=rng.integers(3, 12, size=6).astype(float), reset="subtract"),
             "rec": Dense(weight=rec), "fc2": Dense(weight=w2),
             "pop2": IF(shape=(3,), threshold=5.0, reset="zero", v_reset=-1.0, spike_rule="ge"),
             "output": Output(shape=(3,))}
    edges = (("input", "fc1"), ("fc1", "pop1"), ("pop1", "rec"), ("rec", "pop1"), ("pop1", "fc2"), ("fc2", "pop2"),
             ("pop2", "output"))
    return Graph(nodes, edges)


def test_integer_model_is_unchanged_and_fixed_equals_float(rng):
    g = _integer_if_net(rng)
    q = quantize(g, weight_bits=4, state_bits=12, acc_bits=16)
    for name in ("fc1", "rec", "fc2"):
        np.testing.assert_array_equal(q.graph.nodes[name].weight, g.nodes[name].weight)
    for name in ("pop1", "pop2"):
        assert q.layer(name).scale == 1.0 and q.layer(name).leak == "none"
        for f in ("threshold", "bias", "v_reset"):
            np.testing.assert_array_equal(getattr(q.graph.nodes[name], f), getattr(g.nodes[name], f))
    x = spikes(rng, 60, 10, p=0.5)
    flt, fixed = run(g, x), run(q.graph, x, mode="fixed")
    for name in ("pop1", "pop2"):
        np.testing.assert_array_equal(fixed.outputs[name], flt.outputs[name])
        np.testing.assert_array_equal(fixed.state[name]["v"], flt.state[name]["v"])


def test_exact_shift_decay_is_kept(rng):
    w = rng.integers(-127, 128, size=(5, 7)).astype(float)
    w[2, 3] = 127.0
    g = chain(7, w, LIF(shape=(5,), decay=1 - 2.0 ** -4, threshold=200.0))
    q = quantize(g)
    node = q.graph.nodes["pop"]
    assert node.fixed.leak_shift == 4 and np.all(node.decay == 1 - 2.0 ** -4)
    assert q.layer("pop").decay == q.layer("pop").effective_decay == 1 - 2.0 ** -4
    np.testing.assert_array_equal(q.graph.nodes["fc"].weight, w)
    assert q.layer("pop").threshold_code == 200
    x = spikes(rng, 40, 7, p=0.5)
    np.testing.assert_array_equal(run(q.graph, x).outputs["pop"], run(g, x).outputs["pop"])  # float dynamics: identical


def test_quantize_is_idempotent():
    q1 = quantize(load(MODELS / "digits_mlp.nsim"), weight_bits=6)
    q2 = quantize(q1.graph, weight_bits=6)
    assert all(q2.graph.nodes[n].equals(q1.graph.nodes[n]) for n in q1.graph.nodes)
    assert all(r.scale == 1.0 for r in q2.layers)


# -- leak ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("decay, k", [(0.9, 3), (0.5, 1), (0.0, 1), (0.95, 4), (0.97, 5), (0.99, 7), (0.8125, 2)])
def test_best_shift(decay, k):
    assert best_shift(decay, 15) == k


def test_per_neuron_decays_within_one_step_use_the_mean(rng):
    decay = np.array([0.86, 0.9, 0.93, 0.91])
    g = chain(4, rng.normal(size=(4, 4)), LIF(shape=(4,), decay=decay))
    q = quantize(g)
    r = q.layer("pop")
    assert r.leak_shift == best_shift(decay.mean(), 15) == 3
    assert r.decay == pytest.approx(decay.mean()) and r.effective_decay == 0.875
    assert any("per-neuron decays 0.86..0.93" in n for n in r.notes)


def test_if_and_unit_decay_get_no_leak(rng):
    g = two_layer(rng, IF(shape=(8,)), LIF(shape=(4,), decay=1.0))
    q = quantize(g)
    assert [q.graph.nodes[n].fixed.leak for n in ("pop1", "pop2")] == ["none", "none"]


def test_cubalif_shifts_and_gains_folded(rng):
    g = two_layer(rng, CubaLIF(shape=(8,), decay=0.9, syn_decay=0.75, syn_gain=0.5, gain=2.0),
                  CubaLIF(shape=(4,), decay=0.95, syn_decay=1.0))
    q = quantize(g, weight_bits=8)
    a, b = q.graph.nodes["pop1"], q.graph.nodes["pop2"]
    assert (a.fixed.leak_shift, a.syn_shift, b.fixed.leak_shift, b.syn_shift) == (3, 2, 4, 0)
    assert np.all(a.syn_gain == 1.0) and np.all(a.gain == 1.0) and np.all(a.syn_decay == 0.75)
    assert q.layer("pop1").effective_syn_decay == 0.75 and q.layer("pop2").effective_syn_decay == 1.0
    # the effective-decay float model and the fixed model agree on most spikes
    x = spikes(rng, 50, 12)
    eff = run(q.graph, x).outputs["pop1"]
    fixed = run(q.graph, x, mode="fixed").outputs["pop1"]
    assert np.mean(eff == fixed) >= 0.9


def test_gain_folding_equals_scaled_weights(rng):
    w = rng.normal(size=(4, 6))
    gain = np.array([0.5, 2.0, 1.0, 3.0])
    q1 = quantize(chain(6, w, LIF(shape=(4,), gain=gain)))
    q2 = quantize(chain(6, w * gain[:, None], LIF(shape=(4,))))
    assert q1.graph.nodes["fc"].equals(q2.graph.nodes["fc"])
    assert q1.graph.nodes["pop"].equals(q2.graph.nodes["pop"])
    assert "gain folded into the incoming weights" in q1.layer("pop").notes


def test_conv_gain_per_channel_is_folded(rng):
    w = rng.normal(size=(2, 1, 3, 3))
    gain = np.stack([np.full((4, 4), 2.0), np.full((4, 4), 0.5)])
    g = Graph.chain([("input", Input(shape=(1, 4, 4))), ("conv", Conv2d(weight=w, padding=1)),
                     ("pop", LIF(shape=(2, 4, 4), gain=gain)), ("output", Output(shape=(2, 4, 4)))])
    q = quantize(g)
    ref = quantize(g.replace(nodes={**g.nodes, "conv": Conv2d(weight=w * np.array([2.0, 0.5])[:, None, None, None],
                                                                padding=1),
                                    "pop": LIF(shape=(2, 4, 4))}))
    assert q.graph.nodes["conv"].equals(ref.graph.nodes["conv"])


# -- scale -----------------------------------------------------------------------------------------

def test_scale_maps_largest_weight_to_max_code(rng):
    w = rng.normal(size=(5, 8))
    q = quantize(chain(8, w, LIF(shape=(5,), threshold=1.3)), weight_bits=6)
    r = q.layer("pop")
    assert r.scale == pytest.approx(31 / np.max(np.abs(w)))
    assert np.max(np.abs(q.graph.nodes["fc"].weight)) == 31
    assert r.threshold_code == int(np.rint(1.3 * r.scale))
    np.testing.assert_array_equal(q.graph.nodes["fc"].weight, np.rint(w * r.scale))


def test_projection_bias_counts_towards_the_scale(rng):
    w = rng.uniform(-0.5, 0.5, size=(3, 4))
    q = quantize(chain(4, w, LIF(shape=(3,)), bias=np.array([0.0, 2.0, -0.1])), weight_bits=8)
    assert q.graph.nodes["fc"].bias[1] == 127 and q.layer("pop").clipped == 0


def test_threshold_limits_the_scale_with_headroom(rng):
    w = rng.uniform(-1, 1, size=(3, 4))
    w[0, 0] = 1.0
    q = quantize(chain(4, w, LIF(shape=(3,), threshold=10.0)), weight_bits=8, state_bits=9, acc_bits=16)
    r = q.layer("pop")
    assert r.scale_limited_by == "state range"
    assert r.threshold_code == 255 // 4 and r.scale == pytest.approx(6.3)
    assert np.max(np.abs(q.graph.nodes["fc"].weight)) == 6
    assert "state range" in q.table()


def test_tiny_threshold_is_at_least_one_code():
    w = np.array([[100.0, -50.0]])
    q = quantize(chain(2, w, IF(shape=(1,), threshold=0.001)), weight_bits=4)
    assert q.layer("pop").threshold_code == 1
    assert any("raised to 1 code" in n for n in q.layer("pop").notes)


def test_shared_projection_gives_one_scale(rng):
    nodes = {"input": Input(shape=(4,)), "fc": Dense(weight=rng.normal(size=(3, 4))),
             "a": LIF(shape=(3,), threshold=1.0), "b": IF(shape=(3,), threshold=2.0),
             "fa": Dense(weight=rng.normal(size=(3, 3)) * 5), "out": Output(shape=(3,))}
    edges = (("input", "fc"), ("fc", "a"), ("fc", "b"), ("b", "fa"), ("fa", "a"), ("a", "out"))
    q = quantize(Graph(nodes, edges))
    assert q.layer("a").scale == q.layer("b").scale
    w_all = np.concatenate([nodes["fc"].weight.ravel(), nodes["fa"].weight.ravel()])
    assert q.layer("a").scale == pytest.approx(127 / np.max(np.abs(w_all)))


def test_sparse_projections(rng):
    w = rng.normal(size=(4, 8)) * (rng.random((4, 8)) < 0.5)
    for proj in (SparseCSR.from_dense(w), NMSparse.from_dense(np.where(np.arange(8) % 2 == 0, w, 0.0), 1, 2)):
        g = chain(8, w, LIF(shape=(4,)))
        g = g.replace(nodes={**g.nodes, "fc": proj})
        q = quantize(g, weight_bits=5)
        dense = q.graph.nodes["fc"].dense_weight()
        np.testing.assert_array_equal(dense, np.rint(proj.dense_weight() * q.layer("pop").scale))
        run(q.graph, spikes(rng, 10, 8), mode="fixed")


# -- AvgPool folding -------------------------------------------------------------------------------

def test_fold_avgpool_keeps_conv_model_spikes():
    g = load(MODELS / "digits_conv.nsim")
    folded, notes = fold_avgpool(g)
    assert isinstance(folded.nodes["2"], SumPool2d) and not isinstance(folded.nodes["2"], AvgPool2d)
    assert (folded.nodes["2"].kernel_size, folded.nodes["2"].stride, folded.nodes["2"].padding) == ((2, 2), (2, 2), (0, 0))
    np.testing.assert_array_equal(folded.nodes["4"].weight, g.nodes["4"].weight / 4)
    np.testing.assert_array_equal(folded.nodes["4"].bias, g.nodes["4"].bias)
    assert notes == ("AvgPool2d '2' -> SumPool2d, 1/4 folded into the weights of '4'",)
    x, _ = _inputs("conv")
    a, b = run(g, x, batched=True), run(folded, x, batched=True)
    for name in ("1", "5"):
        np.testing.assert_array_equal(a.outputs[name], b.outputs[name])


def test_fold_avgpool_with_padding_and_odd_area(rng):
    nodes = {"input": Input(shape=(2, 5, 5)), "conv": Conv2d(weight=rng.normal(size=(2, 2, 3, 3)), padding=1),
             "pop0": LIF(shape=(2, 5, 5)), "pool": AvgPool2d(kernel_size=3, stride=2, padding=1), "flat": Flatten(),
             "fc": Dense(weight=rng.normal(size=(3, 18)), bias=rng.normal(size=3)), "pop": LIF(shape=(3,)),
             "output": Output(shape=(3,))}
    g = Graph.chain(list(nodes.items()))
    folded, _ = fold_avgpool(g)
    np.testing.assert_allclose(folded.nodes["fc"].weight, g.nodes["fc"].weight / 9)
    x = spikes(rng, 30, 2, 5, 5, p=0.6)
    a, b = run(g, x), run(folded, x)
    np.testing.assert_allclose(a.outputs["fc"], b.outputs["fc"], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(a.outputs["pop"], b.outputs["pop"])
    q = quantize(g)
    assert isinstance(q.graph.nodes["pool"], SumPool2d)
    run(q.graph, x, mode="fixed")


def test_fold_avgpool_into_a_conv(rng):
    nodes = {"input": Input(shape=(1, 4, 4)), "pool": AvgPool2d(kernel_size=2),
             "conv": Conv2d(weight=rng.normal(size=(2, 1, 2, 2))), "pop": LIF(shape=(2, 1, 1)),
             "output": Output(shape=(2, 1, 1))}
    g = Graph.chain(list(nodes.items()))
    folded, _ = fold_avgpool(g)
    x = spikes(rng, 20, 1, 4, 4, p=0.6)
    np.testing.assert_array_equal(run(g, x).outputs["pop"], run(folded, x).outputs["pop"])


def test_graph_without_avgpool_is_returned_as_is(rng):
    g = chain(3, rng.normal(size=(2, 3)), LIF(shape=(2,)))
    assert fold_avgpool(g) == (g, ())


# -- accumulator -----------------------------------------------------------------------------------

def test_accumulator_bound_and_error():
    w = np.ones((2, 10))
    q = quantize(chain(10, w, IF(shape=(2,), threshold=3.0)), weight_bits=8, state_bits=12, acc_bits=12)
    assert q.layer("pop").acc_worst == 1270 and q.layer("pop").acc_bits_needed == 12
    run(q.graph, np.ones((3, 10)), mode="fixed")  # the worst case itself runs
    with pytest.raises(FixedPointError, match=r"^node 'pop': the worst-case synaptic input sum 2540 needs a 13-bit "
                                              r"accumulator, more than acc_bits=12; raise acc_bits to 13"):
        quantize(chain(10, w, IF(shape=(2,), threshold=3.0)), weight_bits=8, state_bits=12, acc_bits=12, max_input=2)
    # threshold 300 would be code 38100 > 2047: the scale drops to 511 / 300, weight codes 2 -> worst 2 * 10 * 2
    g = chain(10, w, IF(shape=(2,), threshold=300.0))
    q = quantize(g, weight_bits=8, state_bits=12, acc_bits=12, max_input={"input": 2})
    assert q.layer("pop").scale_limited_by == "state range" and q.layer("pop").acc_worst == 40


def test_accumulator_counts_pool_area_and_multi_spikes():
    nodes = {"input": Input(shape=(1, 4, 4)), "conv": Conv2d(weight=np.ones((1, 1, 1, 1))),
             "pop0": IF(shape=(1, 4, 4), threshold=1.0, spike_rule="multi"), "pool": SumPool2d(kernel_size=2),
             "flat": Flatten(), "fc": Dense(weight=np.ones((1, 4))), "pop": IF(shape=(1,), threshold=1.0),
             "output": Output(shape=(1,))}
    q = quantize(Graph.chain(list(nodes.items())), weight_bits=4, state_bits=8, acc_bits=16)
    # pop0: threshold code 7 in s8.0 -> at most 127 // 7 = 18 spikes per neuron; 4 per window; weight code 7
    assert q.layer("pop0").threshold_code == 7
    assert q.layer("pop").acc_worst == 18 * 4 * 4 * 7


def test_delay_between_projection_and_population(rng):
    nodes = {"input": Input(shape=(3,)), "fc": Dense(weight=rng.normal(size=(2, 3))),
             "d": Delay(shape=(2,), delay_steps=[1, 2]), "pop": LIF(shape=(2,)), "output": Output(shape=(2,))}
    q = quantize(Graph.chain(list(nodes.items())))
    run(q.graph, spikes(rng, 10, 3), mode="fixed")


# -- errors ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("kw, msg", [
    (dict(weight_bits=1), r"^quantize: weight_bits must be an integer in 2\.\.32, found 1$"),
    (dict(weight_bits=33), r"^quantize: weight_bits must be an integer in 2\.\.32, found 33$"),
    (dict(weight_bits=8.0), r"^quantize: weight_bits must be an integer in 2\.\.32, found 8\.0$"),
    (dict(weight_bits=True), r"^quantize: weight_bits must be an integer in 2\.\.32, found True$"),
    (dict(weight_bits=8, state_bits=8),
     r"^quantize: state_bits must be an integer in 9\.\.62 \(wider than weight_bits\), found 8$"),
    (dict(state_bits=20, acc_bits=16),
     r"^quantize: acc_bits must be an integer in 20\.\.62 \(at least state_bits\), found 16$"),
    (dict(acc_bits=63), r"^quantize: acc_bits must be an integer in 16\.\.62 \(at least state_bits\), found 63$"),
    (dict(rounding="stochastic"), r"^quantize: rounding must be one of \('nearest_even', 'nearest_up', 'floor', "
                                  r"'zero'\), found 'stochastic'$"),
    (dict(leak="exp"), r"^quantize: leak must be one of \('shift', 'none'\), found 'exp'$"),
    (dict(max_input=0), r"^quantize: max_input for 'input' must be a positive number \(the largest spike count per "
                        r"step\), found 0$"),
    (dict(max_input={"inp": 2}), r"^quantize: max_input names 'inp', which is not an Input of the graph; "
                                 r"inputs: \['input'\]$"),
])
def test_argument_errors(rng, kw, msg):
    g = chain(3, rng.normal(size=(2, 3)), LIF(shape=(2,)))
    with pytest.raises(FixedPointError, match=msg):
        quantize(g, **kw)


def test_graph_argument_error():
    with pytest.raises(FixedPointError, match=r"^quantize: graph must be a neurosim Graph, found 'dict'$"):
        quantize({})


@pytest.mark.parametrize("node, msg", [
    (LI(shape=(2,)), r"^node 'pop' \(LI\) is a non-spiking readout, which fixed point does not support; "),
    (Integrator(shape=(2,)), r"^node 'pop' \(Integrator\) is a non-spiking readout, which fixed point does not"),
    (Scale(shape=(2,), scale=2.0), r"^node 'pop' \(Scale\) has no fixed-point form; fold it into the neighbouring"),
    (Threshold(shape=(2,)), r"^node 'pop' \(Threshold\) has no fixed-point form;"),
    (CubaLIF(shape=(2,), current_lag=1),
     r"^node 'pop' \(CubaLIF\) has current_lag=1; fixed point requires current_lag=0 \(the membrane sees this "
     r"step's current\)"),
    (LIF(shape=(2,), decay=[0.5, 0.99]),
     r"^node 'pop' \(LIF\) has per-neuron decays 0\.5\.\.0\.99 whose best shifts 1\.\.7 differ by more than one step"),
    (CubaLIF(shape=(2,), syn_decay=[0.5, 0.99]),
     r"^node 'pop' \(CubaLIF\) has per-neuron syn_decays 0\.5\.\.0\.99 whose best shifts 1\.\.7 differ"),
])
def test_unsupported_nodes(rng, node, msg):
    with pytest.raises(UnsupportedError, match=msg):
        quantize(chain(3, rng.normal(size=(2, 3)), node))


def test_leak_none_needs_unit_decay(rng):
    g = chain(3, rng.normal(size=(2, 3)), LIF(shape=(2,), decay=0.9))
    with pytest.raises(FixedPointError, match=r"^node 'pop' \(LIF\) has decay 0\.9 < 1, which leak='none' cannot "
                                              r"realise; use leak='shift'$"):
        quantize(g, leak="none")
    assert quantize(chain(3, rng.normal(size=(2, 3)), IF(shape=(2,))), leak="none").layer("pop").leak == "none"


def test_avgpool_feeding_a_population_is_unsupported(rng):
    nodes = {"input": Input(shape=(1, 4, 4)), "conv": Conv2d(weight=rng.normal(size=(1, 1, 1, 1))),
             "pop0": LIF(shape=(1, 4, 4)), "pool": AvgPool2d(kernel_size=2), "pop": LIF(shape=(1, 2, 2)),
             "output": Output(shape=(1, 2, 2))}
    with pytest.raises(UnsupportedError, match=r"^AvgPool2d 'pool' feeds 'pop' \(LIF\), which is not a projection; "
                                               r"fixed point folds 1/area into the weights"):
        quantize(Graph.chain(list(nodes.items())))


def test_avgpool_through_flatten_to_output_is_unsupported():
    nodes = {"input": Input(shape=(1, 4, 4)), "pool": AvgPool2d(kernel_size=2), "flat": Flatten(),
             "output": Output(shape=(4,))}
    with pytest.raises(UnsupportedError, match=r"^AvgPool2d 'pool' feeds 'output' \(Output\) \(through 'flat'\), "
                                               r"which is not a projection;"):
        fold_avgpool(Graph.chain(list(nodes.items())))


def test_avgpool_mixed_with_another_input_is_unsupported(rng):
    nodes = {"input": Input(shape=(1, 4, 4)), "pool": AvgPool2d(kernel_size=2), "flat": Flatten(),
             "flat_in": Flatten(), "sub": Dense(weight=np.ones((4, 16))),
             "fc": Dense(weight=rng.normal(size=(2, 4))), "pop": LIF(shape=(2,)), "output": Output(shape=(2,))}
    edges = (("input", "pool"), ("pool", "flat"), ("flat", "fc"), ("input", "flat_in"), ("flat_in", "sub"),
             ("sub", "fc"), ("fc", "pop"), ("pop", "output"))
    with pytest.raises(UnsupportedError, match=r"^projection 'fc' sums an averaged input with the output of 'sub' "
                                               r"\(Dense\); 1/4 of the pool cannot be folded into its weights"):
        fold_avgpool(Graph(nodes, edges))


def test_unweighted_population_input_is_unsupported(rng):
    g = Graph.chain([("input", Input(shape=(3,))), ("pop", LIF(shape=(3,))), ("output", Output(shape=(3,)))])
    with pytest.raises(UnsupportedError, match=r"^population 'pop' receives unweighted input from 'input' \(Input\); "
                                               r"fixed point scales a population's input through the weights"):
        quantize(g)


def test_projection_readout_is_unsupported(rng):
    g = Graph.chain([("input", Input(shape=(3,))), ("fc", Dense(weight=rng.normal(size=(2, 3)))),
                     ("output", Output(shape=(2,)))])
    with pytest.raises(UnsupportedError, match=r"^projection 'fc' feeds 'output' \(Output\) directly; fixed point "
                                               r"reads out spikes"):
        quantize(g)


def test_chained_projections_are_unsupported(rng):
    g = Graph.chain([("input", Input(shape=(3,))), ("fc", Dense(weight=rng.normal(size=(2, 3)))),
                     ("fc2", Dense(weight=rng.normal(size=(2, 2)))), ("pop", LIF(shape=(2,))),
                     ("output", Output(shape=(2,)))])
    with pytest.raises(UnsupportedError, match=r"^projection 'fc' feeds projection 'fc2' without a spiking population "
                                               r"in between; .* merge the two projections$"):
        quantize(g)


def test_unfoldable_per_neuron_gain_is_unsupported(rng):
    g = Graph.chain([("input", Input(shape=(1, 3, 3))), ("conv", Conv2d(weight=rng.normal(size=(1, 1, 1, 1)))),
                     ("pop", LIF(shape=(1, 3, 3), gain=rng.uniform(0.5, 2, size=(1, 3, 3)))),
                     ("output", Output(shape=(1, 3, 3)))])
    with pytest.raises(UnsupportedError, match=r"^population 'pop' has per-neuron gains that cannot be folded into "
                                               r"'conv' \(Conv2d\);"):
        quantize(g)


def test_all_weights_rounding_to_zero_is_an_error():
    g = chain(2, np.array([[1.0, 0.5]]), IF(shape=(1,), threshold=1000.0))
    with pytest.raises(FixedPointError, match=r"^node 'pop': every incoming weight rounds to 0 at scale 0\.031 "
                                              r"\(largest \|w\| 1 -> 0\.031 codes, scale limited by the state range\); "
                                              r"widen state_bits or lower the thresholds$"):
        quantize(g, weight_bits=4, state_bits=8, acc_bits=16)


@pytest.mark.parametrize("rounding", ["nearest_even", "nearest_up", "floor", "zero"])
def test_rounding_mode_is_used_for_every_value(rng, rounding):
    w = np.array([[1.0, 0.3, -0.3, 0.5]])
    g = chain(4, w, LIF(shape=(1,), threshold=0.75, bias=-0.1))
    q = quantize(g, weight_bits=3, rounding=rounding)  # scale 3: w -> 3, 0.9, -0.9, 1.5; thr 2.25; bias -0.3
    fmt = FixedPoint(3, 0, rounding=rounding)
    np.testing.assert_array_equal(q.graph.nodes["fc"].weight, fmt.quantize(w * 3))
    assert q.graph.nodes["fc"].weight_format == fmt
    assert q.layer("pop").threshold_code == int(FixedPoint(16, 0, rounding=rounding).quantize(2.25))
    assert q.graph.nodes["pop"].bias[0] == FixedPoint(16, 0, rounding=rounding).quantize(-0.3)
    assert q.layer("pop").clipped == 0


# -- quantizing to a declared chip arithmetic (issue 14) ----------------------------------------------

from neurosim.passes.quantize import Arithmetic  # noqa: E402

LOIHI_LIKE = Arithmetic(leak="mult", leak_bits=12, syn_leak="mult", syn_leak_bits=12, input_shift_min=0,
                        input_shift_max=13)


def test_mult_leak_code_and_input_shift_by_hand():
    """decay 0.951 -> d = rint(0.951 * 4096) = 3895; weights 0.5 max -> weight scale 127/0.5 = 254; threshold 1:
    the largest shift with 254 * 2**k * 1 <= (2**23 - 1) // 4 = 2097151 is k = 13 (254 * 8192 = 2080768)."""
    w = np.array([[0.5, -0.25], [0.125, 0.5]])
    q = quantize(chain(2, w, LIF(shape=(2,), decay=0.951)), weight_bits=8, state_bits=24, arithmetic=LOIHI_LIKE)
    r = q.layer("pop")
    assert (r.leak, r.leak_code, r.leak_bits, r.input_shift) == ("mult", 3895, 12, 13)
    assert r.effective_decay == 3895 / 4096 and r.scale == 254 * 2.0 ** 13
    node = q.graph.nodes["pop"]
    assert node.fixed.leak_code == 3895 and node.fixed.input_shift == 13
    assert float(node.threshold.flat[0]) == 254 * 2 ** 13
    np.testing.assert_array_equal(q.graph.nodes["fc"].weight, np.rint(w * 254))
    assert "v*3895/2**12, x<<13" in q.table() and "chip arithmetic: leak mult 12-bit" in q.table()


def test_without_arithmetic_nothing_changes(rng):
    g = chain(3, rng.normal(size=(2, 3)), LIF(shape=(2,), decay=0.951))
    a, b = quantize(g), quantize(g, arithmetic=Arithmetic())
    assert a.layers == b.layers and a.graph.equals(b.graph)
    assert (a.layer("pop").leak, a.layer("pop").leak_shift, a.layer("pop").input_shift) == ("shift", 4, 0)


def test_linear_leak_is_the_exponential_loss_at_half_the_threshold():
    """threshold code = 1 * 127 / 0.5 = 254 -> mid 127; lambda = rint(0.049 * 127) = rint(6.223) = 6."""
    q = quantize(chain(2, np.array([[0.5, 0.1], [0.2, 0.3]]), LIF(shape=(2,), decay=0.951)), weight_bits=8,
                 state_bits=20, arithmetic=Arithmetic(leak="linear", leak_bits=8))
    r = q.layer("pop")
    assert (r.leak, r.leak_code) == ("linear", 6) and abs(r.effective_decay - (1 - 6 / 127)) < 1e-12
    assert float(q.graph.nodes["pop"].decay.flat[0]) == 0.951  # the float decay it approximates stays recorded


def test_mult_current_leak_of_a_cubalif():
    q = quantize(chain(2, np.eye(2) * 0.5, CubaLIF(shape=(2,), decay=0.9, syn_decay=0.8)), state_bits=24,
                 arithmetic=LOIHI_LIKE)
    fx = q.graph.nodes["pop"].fixed
    assert (fx.syn_leak, fx.syn_leak_code, fx.leak_code) == ("mult", 3277, 3686)  # rint(0.8*4096), rint(0.9*4096)
    assert q.layer("pop").syn_leak_code == 3277 and "i*3277/2**12" in q.table()


def test_per_neuron_mult_codes():
    g = chain(2, np.eye(2), LIF(shape=(2,), decay=[0.9500, 0.9501]))  # codes 3891, 3892
    r = quantize(g, state_bits=24, arithmetic=LOIHI_LIKE).layer("pop")
    assert r.leak_code == 3891 and any("code 3891 of the mean" in n for n in r.notes)
    with pytest.raises(UnsupportedError, match=r"^node 'pop' \(LIF\) has per-neuron decays 0\.9\.\.0\.95 whose 12-bit "
                                               r"codes 3686\.\.3891 differ by more than one; one population has one "
                                               r"decay code: split it into populations of equal decay$"):
        quantize(chain(2, np.eye(2), LIF(shape=(2,), decay=[0.9, 0.95])), state_bits=24, arithmetic=LOIHI_LIKE)


def test_delayed_reset_is_carried_into_fixed_point(rng):
    q = quantize(chain(3, rng.normal(size=(2, 3)), LIF(shape=(2,), reset_timing="delayed")))
    assert q.graph.nodes["pop"].reset_timing == "delayed"
    run(q.graph, (rng.random((5, 3)) < 0.5).astype(float), mode="fixed")


@pytest.mark.parametrize("kwargs, msg", [
    (dict(leak="exp"), r"^Arithmetic\.leak must be one of \('shift', 'mult', 'linear', 'none'\), found 'exp'$"),
    (dict(leak="mult"), r"^Arithmetic\.leak_bits must be an int in 1\.\.24 for a multiplicative leak \(d/2\*\*bits\), "
                        r"found None$"),
    (dict(leak="linear", leak_bits=0), r"^Arithmetic\.leak_bits must be None or an int in 1\.\.61, found 0$"),
    (dict(input_shift_min=3, input_shift_max=1),
     r"^Arithmetic\.input_shift_min\.\.input_shift_max must be ints with 0 <= min <= max <= 30, found 3\.\.1$"),
    (dict(current_bits=1), r"^Arithmetic\.current_bits must be None or an int in 2\.\.62, found 1$"),
    (dict(leak="mult", leak_bits=12, rounding="floor"),
     r"^Arithmetic\.rounding must be 'zero' for leak='mult' \(the rounding neurosim's mult leak implements\), "
     r"found 'floor'$"),
])
def test_arithmetic_validation(kwargs, msg):
    with pytest.raises(FixedPointError, match=msg):
        Arithmetic(**kwargs)


def test_arithmetic_argument_errors(rng):
    g = chain(3, rng.normal(size=(2, 3)), LIF(shape=(2,)))
    with pytest.raises(FixedPointError, match=r"^quantize: arithmetic must be an Arithmetic \(e\.g\. a preset's "
                                              r"chip\.arithmetic\), found 'dict'$"):
        quantize(g, arithmetic={"leak": "mult"})
    with pytest.raises(FixedPointError, match=r"^quantize: leak='shift' contradicts arithmetic\.leak='mult'; pass one "
                                              r"of them$"):
        quantize(g, leak="shift", arithmetic=LOIHI_LIKE)
