"""The reference simulator against hand-written scalar models of the documented equations."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from neurosim.targets.neuromorphic.model.reference import run
from neurosim.errors import SimulationError, UnsupportedError
from neurosim.ir import IF, LIF, AvgPool2d, CubaLIF, Dense, FixedPoint, Graph, Input, NeuronFixedPoint, Output, Delay


def chain(n_in, w, neuron, bias=None):
    n_out = w.shape[0]
    return Graph.chain([("input", Input(shape=(n_in,))), ("fc", Dense(weight=w, bias=bias)), ("pop", neuron),
                        ("output", Output(shape=(n_out,)))])


def scalar_lif(x_cur, decay, thr, reset, timing, rule, v_reset=0.0, refr=0):
    """One neuron, plain Python, straight from the LIF docstring."""
    v, prev_s, wait, out = 0.0, 0.0, 0, []
    for x in x_cur:
        base = v_reset if (timing == "delayed" and reset == "zero" and prev_s > 0) else v
        new = decay * base + x
        if timing == "delayed" and reset == "subtract":
            new -= prev_s * thr
        if wait > 0:  # hold the post-reset membrane (a delayed reset lands in the held value)
            held = v - prev_s * thr if (timing == "delayed" and reset == "subtract") else base
            new, s, wait = held, 0.0, wait - 1
        else:
            s = {"gt": float(new > thr), "ge": float(new >= thr),
                 "multi": float(np.floor(new / thr)) if new >= thr else 0.0}[rule]
            if s > 0:
                wait = refr
        if timing == "immediate":
            if reset == "subtract":
                new -= s * thr
            elif reset == "zero" and s > 0:
                new = v_reset
        v, prev_s = new, s
        out.append(s)
    return np.array(out)


@given(seed=st.integers(0, 2**31 - 1), reset=st.sampled_from(["zero", "subtract", "none"]),
       timing=st.sampled_from(["immediate", "delayed"]), rule=st.sampled_from(["gt", "ge", "multi"]),
       refr=st.integers(0, 2))
def test_lif_matches_scalar_model(seed, reset, timing, rule, refr):
    rng = np.random.default_rng(seed)
    n_in, n = 5, 4
    w = rng.normal(size=(n, n_in)) * 0.8
    decay = rng.uniform(0.5, 1.0, size=n)
    thr = rng.uniform(0.5, 1.5, size=n)
    g = chain(n_in, w, LIF(shape=(n,), decay=decay, threshold=thr, reset=reset, reset_timing=timing,
                           spike_rule=rule, refractory_steps=refr))
    x = (rng.random((25, n_in)) < 0.5).astype(float)
    spikes = run(g, x).output_spikes
    cur = x @ w.T
    for i in range(n):
        expect = scalar_lif(cur[:, i], decay[i], thr[i], reset, timing, rule, refr=refr)
        np.testing.assert_array_equal(spikes[:, i], expect)


def test_cubalif_current_lag():
    x = np.array([[1.0], [0.0], [0.0]])
    w = np.ones((1, 1))
    out = {}
    for lag in (0, 1):
        g = chain(1, w, CubaLIF(shape=(1,), decay=1.0, syn_decay=0.5, threshold=100.0, current_lag=lag))
        out[lag] = run(g, x).state["pop"]["v"][0]
    # lag 0: v sees i = 1, 0.5, 0.25 -> 1.75 ; lag 1: v sees i = 0, 1, 0.5 -> 1.5
    assert out[0] == pytest.approx(1.75) and out[1] == pytest.approx(1.5)


def test_recurrent_edge_is_one_step_late():
    """lif -> rec -> lif: the recurrent input at step t is the spike of step t-1 (plus bias from step 0)."""
    nodes = {"input": Input(shape=(1,)), "fc": Dense(weight=[[2.0]]), "lif": LIF(shape=(1,), decay=0.0, threshold=1.0),
             "rec": Dense(weight=[[5.0]], bias=[0.25]), "output": Output(shape=(1,))}
    g = Graph(nodes, (("input", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")))
    x = np.array([[1.0], [0.0], [0.0], [0.0]])
    r = run(g, x)
    # step0: 2 + 0.25 -> spike; step1: 0 + 5 + 0.25 -> spike; ... self-sustained
    assert r.output_spikes[:, 0].tolist() == [1.0, 1.0, 1.0, 1.0]
    g2 = Graph({**nodes, "rec": Dense(weight=[[0.0]], bias=[0.75])}, g.edges)
    # bias alone (0.75) never crosses 1 with decay 0; step 0 has 2.75
    assert run(g2, x).output_spikes[:, 0].tolist() == [1.0, 0.0, 0.0, 0.0]


def test_delay_node_shifts_by_whole_steps():
    g = Graph.chain([("input", Input(shape=(3,))), ("d", Delay(shape=(3,), delay_steps=[0, 1, 3])),
                     ("output", Output(shape=(3,)))])
    x = np.eye(6, 3)
    y = run(g, x).outputs["d"]
    assert y[:, 0].tolist() == [1, 0, 0, 0, 0, 0]
    assert y[:, 1].tolist() == [0, 0, 1, 0, 0, 0]
    assert y[:, 2].tolist() == [0, 0, 0, 0, 0, 1]


def test_avgpool_divides_by_area():
    g = Graph.chain([("input", Input(shape=(1, 2, 2))), ("p", AvgPool2d(kernel_size=2)), ("output", Output(shape=(1, 1, 1)))])
    assert run(g, np.ones((1, 1, 2, 2))).outputs["p"].item() == 1.0


def test_batched_equals_unbatched(rng):
    w = rng.normal(size=(4, 6))
    g = chain(6, w, LIF(shape=(4,), decay=0.8))
    x = (rng.random((12, 3, 6)) < 0.4).astype(float)
    batched = run(g, x, batched=True).output_spikes
    for b in range(3):
        np.testing.assert_array_equal(batched[:, b], run(g, x[:, b]).output_spikes)


# -- fixed point ----------------------------------------------------------------------------------

def scalar_fixed(events_per_step, thr, width, shift, reset):
    """One neuron's fixed-point semantics in plain Python ints (module docstring of reference.py)."""
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    sat = lambda v: max(lo, min(hi, v))  # noqa: E731
    v, out = 0, []
    for events in events_per_step:
        v = sat(v + sum(events))  # exact accumulation, one saturating add
        s = 1 if v > thr else 0
        if s:
            v = sat(v - thr) if reset == "subtract" else 0
        if shift:
            v = v - (v >> shift)
        out.append(s)
    return out, v


@given(seed=st.integers(0, 2**31 - 1), width=st.integers(4, 10), shift=st.integers(0, 3),
       reset=st.sampled_from(["zero", "subtract"]))
def test_fixed_mode_matches_scalar_integer_model(seed, width, shift, reset):
    rng = np.random.default_rng(seed)
    n_in, n = 6, 3
    hi = (1 << (width - 1)) - 1
    w = rng.integers(-hi, hi + 1, size=(n, n_in)).astype(float)
    thr = rng.integers(1, hi + 1, size=n).astype(float)
    fx = NeuronFixedPoint(state=FixedPoint(width, 0), leak="shift" if shift else "none", leak_shift=shift)
    decay = 1 - 2.0 ** -shift if shift else 1.0
    g = chain(n_in, w, LIF(shape=(n,), decay=decay, threshold=thr, reset=reset, fixed=fx))
    g = g.replace(nodes={**g.nodes, "fc": Dense(weight=w, weight_format=FixedPoint(width, 0))})
    x = (rng.random((20, n_in)) < 0.5).astype(np.int64)
    r = run(g, x, mode="fixed")
    for i in range(n):
        events = [[int(w[i, j]) for j in range(n_in) if x[t, j]] for t in range(20)]
        spikes, v_end = scalar_fixed(events, int(thr[i]), width, shift, reset)
        assert r.output_spikes[:, i].tolist() == spikes
        assert int(r.state["pop"]["v"][i]) == v_end


def test_fixed_without_saturation_equals_float_for_integrators(rng):
    """No leak, integer weights, wide membrane: fixed and float agree exactly."""
    w = rng.integers(-5, 6, size=(4, 6)).astype(float)
    fx = NeuronFixedPoint(state=FixedPoint(16, 0), leak="none")
    g = chain(6, w, IF(shape=(4,), threshold=7.0, fixed=fx))
    g = g.replace(nodes={**g.nodes, "fc": Dense(weight=w, weight_format=FixedPoint(8, 0))})
    x = (rng.random((30, 6)) < 0.5).astype(float)
    fixed, flt = run(g, x, mode="fixed"), run(g, x)
    np.testing.assert_array_equal(fixed.output_spikes, flt.output_spikes)
    np.testing.assert_array_equal(fixed.state["pop"]["v"], flt.state["pop"]["v"])


def test_accumulator_overflow_is_an_error_not_a_wrap():
    w = np.full((1, 4), 100.0)
    fx = NeuronFixedPoint(state=FixedPoint(8, 0), leak="none", acc_width=8)
    g = chain(4, w, IF(shape=(1,), threshold=50.0, fixed=fx))
    g = g.replace(nodes={**g.nodes, "fc": Dense(weight=w, weight_format=FixedPoint(8, 0))})
    assert run(g, np.array([[1, 0, 0, 0]]), mode="fixed").output_spikes.tolist() == [[1]]
    with pytest.raises(Exception, match=r"^node 'pop': synaptic input sum 200 overflows the 8-bit accumulator of the fixed-point model; "
                       r"scale the input down, or quantize with wider accumulators \(acc_bits\)$"):
        run(g, np.array([[1, 1, 0, 0]]), mode="fixed")


def test_fixed_mode_needs_quantized_graph(rng):
    g = chain(3, rng.normal(size=(2, 3)), LIF(shape=(2,)))
    with pytest.raises(SimulationError, match=r"^node 'fc' has no weight_format; fixed mode needs quantized weights"):
        run(g, np.zeros((2, 3)), mode="fixed")


def test_fixed_mode_rejects_fractional_input(rng):
    w = np.ones((2, 3))
    fx = NeuronFixedPoint(state=FixedPoint(8, 0), leak="none")
    g = chain(3, w, IF(shape=(2,), threshold=2.0, fixed=fx))
    g = g.replace(nodes={**g.nodes, "fc": Dense(weight=w, weight_format=FixedPoint(8, 0))})
    with pytest.raises(SimulationError, match=r"^node 'input' receives non-integer values in fixed mode \(e\.g\. 0\.5\)"):
        run(g, np.full((2, 3), 0.5), mode="fixed")


def test_fixed_mode_avgpool_unsupported():
    g = Graph.chain([("input", Input(shape=(1, 2, 2))), ("p", AvgPool2d(kernel_size=2)), ("output", Output(shape=(1, 1, 1)))])
    with pytest.raises(UnsupportedError, match=r"^node 'p' \(AvgPool2d\) has no fixed-point semantics: averaging divides"):
        run(g, np.ones((1, 1, 2, 2)), mode="fixed")


# -- input errors ---------------------------------------------------------------------------------

def test_wrong_input_shape(rng):
    g = chain(3, rng.normal(size=(2, 3)), LIF(shape=(2,)))
    with pytest.raises(SimulationError, match=r"^input 'input' has shape \(5, 4\), expected \[T, 3\]; the first axis is time$"):
        run(g, np.zeros((5, 4)))


def test_zero_steps(rng):
    g = chain(3, rng.normal(size=(2, 3)), LIF(shape=(2,)))
    with pytest.raises(SimulationError, match=r"^input 'input' has 0 timesteps \(shape \(0, \d+\)\); give at least one step along the first axis$"):
        run(g, np.zeros((0, 3)))


def test_unknown_mode(rng):
    g = chain(3, rng.normal(size=(2, 3)), LIF(shape=(2,)))
    with pytest.raises(SimulationError, match=r"^mode must be one of \('float', 'fixed'\), found 'analog'$"):
        run(g, np.zeros((1, 3)), mode="analog")


def test_recurrent_conv_bias_arrives_at_step_zero():
    """A recurrent conv without a declared input_shape still delivers its bias at step 0."""
    from neurosim.ir import Conv2d

    nodes = {"input": Input(shape=(1, 3, 3)), "conv": Conv2d(weight=np.ones((1, 1, 1, 1))),
             "lif": LIF(shape=(1, 3, 3), decay=0.0, threshold=10.0),
             "rec": Conv2d(weight=np.zeros((1, 1, 1, 1)), bias=[0.5]), "output": Output(shape=(1, 3, 3))}
    g = Graph(nodes, (("input", "conv"), ("conv", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")))
    r = run(g, np.zeros((1, 1, 3, 3)))
    np.testing.assert_array_equal(r.state["lif"]["v"], np.full((1, 3, 3), 0.5))


# -- compact projections: applied from their stored form --------------------------------------------

def _dyadic_weight(rng, shape, density, scale):
    """Small multiples of 2**-scale (exact in float64 whatever the summation order), some rows empty."""
    w = rng.integers(-7, 8, size=shape) * (rng.random(shape) < density)
    w[rng.random(shape[0]) < 0.3] = 0  # empty rows
    return w.astype(np.float64) * 2.0 ** -scale


def _kernel(node, mode, batch):
    from neurosim.targets.neuromorphic.model.reference import KERNELS

    return KERNELS[type(node)](node, "fc", mode, batch, np.float64)


@given(seed=st.integers(0, 2**31 - 1), mode=st.sampled_from(["float", "fixed"]), kind=st.sampled_from(["csr", "nm"]),
       batch=st.sampled_from([(), (3,), (2, 3)]))
def test_compact_kernels_equal_the_dense_product(seed, mode, kind, batch):
    """SparseCSR and NMSparse kernels equal the old dense path ``x @ dense_weight().T`` exactly
    (int64 codes in fixed mode; dyadic values in float mode so the sum order cannot matter)."""
    from neurosim.ir import NMSparse, SparseCSR
    from neurosim.ir.nm import nm_mask

    rng = np.random.default_rng(seed)
    n_out = int(rng.integers(1, 12))
    frac = 2 if mode == "fixed" else 6
    fmt = FixedPoint(8, frac) if mode == "fixed" else None
    if kind == "csr":
        n_in = int(rng.integers(1, 15))
        w = _dyadic_weight(rng, (n_out, n_in), float(rng.choice([0.0, 0.2, 0.6, 1.0])), frac)
        node = SparseCSR.from_dense(w, weight_format=fmt)
    else:
        n, m = [(1, 2), (2, 4), (1, 4), (2, 8)][int(rng.integers(0, 4))]
        n_in = m * int(rng.integers(1, 4))
        w = _dyadic_weight(rng, (n_out, n_in), 1.0, frac)
        w = w * nm_mask(w, n, m)
        node = NMSparse.from_dense(w, n, m, weight_format=fmt)
    np.testing.assert_array_equal(node.dense_weight(), w)
    if mode == "fixed":
        x = rng.integers(0, 3, size=batch + (n_in,)).astype(np.int64)
        want = x @ np.rint(w * 2**frac).astype(np.int64).T
    else:
        x = rng.integers(-3, 4, size=batch + (n_in,)) * 0.5
        want = x @ w.T
    got = _kernel(node, mode, batch).step(x)
    assert got.dtype == (np.int64 if mode == "fixed" else np.float64)
    assert got.shape == batch + (n_out,)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("mode", ["float", "fixed"])
def test_sparse_graph_equals_dense_graph(rng, mode):
    """The same weights as Dense, SparseCSR and NMSparse projections give identical runs (batched too)."""
    from neurosim.ir import NMSparse, SparseCSR
    from neurosim.ir.nm import nm_mask

    w = rng.integers(-5, 6, size=(6, 8)).astype(float)
    w = w * nm_mask(w, 2, 4)
    w[2] = 0  # an empty row
    fmt = FixedPoint(8, 0) if mode == "fixed" else None
    fx = NeuronFixedPoint(state=FixedPoint(12, 0), leak="shift", leak_shift=2) if mode == "fixed" else None
    pop = LIF(shape=(6,), decay=0.75, threshold=4.0, fixed=fx)
    bias = rng.integers(-2, 3, size=6).astype(float)
    base = chain(8, w, pop)
    x = (rng.random((10, 4, 8)) < 0.5).astype(np.int64)
    runs = []
    for proj in (Dense(weight=w, bias=bias, weight_format=fmt), SparseCSR.from_dense(w, bias=bias, weight_format=fmt),
                 NMSparse.from_dense(w, 2, 4, bias=bias, weight_format=fmt)):
        g = base.replace(nodes={**base.nodes, "fc": proj})
        r = run(g, x, mode=mode, batched=True)
        runs.append((r.outputs["fc"], r.output_spikes, r.state["pop"]["v"]))
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            np.testing.assert_array_equal(a, b)


def test_compact_kernel_checks_the_stored_codes():
    """Fixed mode checks the compact values themselves (here tampered with after construction)."""
    from neurosim.errors import FixedPointError
    from neurosim.ir import SparseCSR

    node = SparseCSR.from_dense(np.array([[1.0, 0.0], [0.0, 2.0]]), weight_format=FixedPoint(4, 0))
    object.__setattr__(node, "weight", np.array([1.0, 0.5]))
    with pytest.raises(FixedPointError, match=r"^node 'fc' weight value 0\.5 is not a multiple of the LSB 1\.0 of "):
        _kernel(node, "fixed", ())


def test_large_sparse_projection_never_densifies():
    """A 10,000 x 10,000 CSR projection (dense: 800 MB) runs in a few MB (tracemalloc peak)."""
    import tracemalloc

    from neurosim.ir import SparseCSR

    rng = np.random.default_rng(7)
    n, nnz = 10_000, 50_000
    rows = np.sort(rng.integers(0, n, size=nnz))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))])
    node = SparseCSR(weight=rng.integers(-3, 4, size=nnz).astype(float), indices=rng.integers(0, n, size=nnz),
                     indptr=indptr, shape=(n, n), weight_format=FixedPoint(4, 0))
    fx = NeuronFixedPoint(state=FixedPoint(12, 0), leak="none")
    g = Graph.chain([("input", Input(shape=(n,))), ("fc", node), ("pop", IF(shape=(n,), threshold=3.0, fixed=fx)),
                     ("output", Output(shape=(n,)))])
    x = (rng.random((3, n)) < 0.1).astype(np.int64)
    tracemalloc.start()
    try:
        r = run(g, x, mode="fixed")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 40e6, f"peak {peak / 1e6:.1f} MB"
    expect = np.zeros(n, dtype=np.int64)
    np.add.at(expect, np.repeat(np.arange(n), np.diff(indptr)), node.weight.astype(np.int64) * x[0, node.indices])
    np.testing.assert_array_equal(r.outputs["fc"][0], expect)


# -- fixed point: the chip arithmetics (issue 14) ------------------------------------------------------

def lava_cuba(a_in, du, dv, vth, steps, act_shift=6):
    """A transcription of lava-nc's PyLifModelFixed sub-threshold dynamics and reset (24-bit u, v;
    12-bit decays truncated toward zero; ``du``/``dv`` as lava takes them), the oracle of the mult leak."""
    u = v = 0
    spikes, vs = [], []
    for t in range(steps):
        decayed = u * (4096 - (du + 1))  # ds_offset = 1
        u = int(np.sign(decayed) * (abs(decayed) >> 12)) + (a_in[t] << act_shift)
        decayed = v * (4096 - dv)
        v = int(np.sign(decayed) * (abs(decayed) >> 12)) + u
        s = v > vth
        spikes.append(float(s))
        v = 0 if s else v
        vs.append(v)
    return np.array(spikes), u, v


def test_fixed_mult_leak_and_input_shift_equal_lava():
    """CubaLIF with 12-bit mult leaks and input shift 6 = lava-nc's fixed-point LIF, step for step."""
    du, dv, vth = 409, 205, 3000  # decays 3686/4096 (u) and 3891/4096 (v)
    rng = np.random.default_rng(3)
    a = rng.integers(-3, 8, 60)
    fx = NeuronFixedPoint(state=FixedPoint(24, 0), acc_width=32, leak="mult", leak_bits=12, leak_code=4096 - dv,
                          input_shift=6, syn_leak="mult", syn_leak_bits=12, syn_leak_code=4096 - du - 1)
    node = CubaLIF(shape=(1,), decay=(4096 - dv) / 4096, syn_decay=(4096 - du - 1) / 4096, threshold=float(vth),
                   reset="zero", fixed=fx)
    g = Graph.chain([("input", Input(shape=(1,))), ("fc", Dense(weight=np.eye(1), weight_format=FixedPoint(8, 0))),
                     ("pop", node), ("output", Output(shape=(1,)))])
    res = run(g, a.reshape(-1, 1), mode="fixed")
    want_s, want_u, want_v = lava_cuba(a.tolist(), du, dv, vth, len(a))
    assert want_s.sum() >= 3  # the stimulus makes it spike
    np.testing.assert_array_equal(res.output_spikes[:, 0], want_s)
    # neurosim stores the leaked values (the next step's start); lava decays them at the next step's start
    i_stored, v_stored = res.state["pop"]["i"][0], res.state["pop"]["v"][0]
    assert i_stored == int(np.sign(want_u * 3686) * (abs(want_u * 3686) >> 12))
    assert v_stored == int(np.sign(want_v * 3891) * (abs(want_v * 3891) >> 12))


def test_fixed_linear_leak_moves_toward_zero_and_stops_there():
    """v - sign(v) min(|v|, lambda), hand-derived: 10 -> 7 -> 4 -> 1 -> 0, then -10 -> -7 -> -4."""
    fx = NeuronFixedPoint(state=FixedPoint(8, 0), leak="linear", leak_code=3)
    g = chain(1, np.eye(1), LIF(shape=(1,), decay=0.7, threshold=100.0, fixed=fx))
    g = g.replace(nodes={**g.nodes, "fc": Dense(weight=np.eye(1), weight_format=FixedPoint(8, 0))})
    stored = []
    for t, xs in enumerate([[10], [10, 0], [10, 0, 0], [10, 0, 0, 0], [10, 0, 0, 0, 0], [10, 0, 0, 0, 0, -10],
                            [10, 0, 0, 0, 0, -10, 0], [10, 0, 0, 0, 0, -10, 0, 0]]):
        stored.append(int(run(g, np.array(xs).reshape(-1, 1), mode="fixed").state["pop"]["v"][0]))
    assert stored == [7, 4, 1, 0, 0, -7, -4, -1]


@pytest.mark.parametrize("reset", ["zero", "subtract"])
@pytest.mark.parametrize("rule", ["gt", "ge", "multi"])
@pytest.mark.parametrize("refr", [0, 2])
def test_fixed_delayed_reset_equals_float_in_exact_arithmetic(reset, rule, refr):
    """Without a leak or saturation the fixed delayed reset is the float one (snnTorch's), spike for spike."""
    rng = np.random.default_rng(11)
    w = rng.integers(-3, 6, (5, 4)).astype(float)
    x = (rng.random((40, 4)) < 0.5).astype(float)
    common = dict(shape=(5,), threshold=np.array([4.0, 5.0, 6.0, 3.0, 7.0]), v_reset=np.array([0, -1, 1, 0, 2.0]),
                  reset=reset, reset_timing="delayed", spike_rule=rule, refractory_steps=refr)
    fl = run(chain(4, w, IF(**common)), x)
    fx = NeuronFixedPoint(state=FixedPoint(16, 0), leak="none")
    g = Graph.chain([("input", Input(shape=(4,))), ("fc", Dense(weight=w, weight_format=FixedPoint(8, 0))),
                     ("pop", IF(fixed=fx, **common)), ("output", Output(shape=(5,)))])
    fq = run(g, x, mode="fixed")
    assert fl.output_spikes.sum() > 5
    np.testing.assert_array_equal(fq.output_spikes, fl.output_spikes)
    np.testing.assert_array_equal(fq.state["pop"]["v"], fl.state["pop"]["v"])  # the un-reset membrane
    imm = run(Graph.chain([("input", Input(shape=(4,))), ("fc", Dense(weight=w, weight_format=FixedPoint(8, 0))),
                           ("pop", IF(fixed=fx, **{**common, "reset_timing": "immediate"})),
                           ("output", Output(shape=(5,)))]), x, mode="fixed")
    if reset == "subtract":  # the two timings are different neurons (the test can tell them apart)
        assert not np.array_equal(imm.state["pop"]["v"], fq.state["pop"]["v"])
