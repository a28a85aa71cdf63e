"""``neurons.update_range`` (the engine's one neuron-update loop) against the reference ``NeuronKernel``.

A tiny Python driver fills the accumulator with random inputs each step (integer codes in fixed
mode, multiples of 1/16 in float mode), calls ``update_range`` for the population (in one call,
or split into several core ranges) and records the spikes; the reference kernel steps the same
IR node on the same input plus the projection bias. Spikes, ``v`` and ``i_syn`` must be equal
bit for bit, every variant: LIF / IF / CubaLIF, reset zero / subtract / none, immediate /
delayed (both modes), gt / ge / multi, refractory 0 / 1 / 3, current_lag 0 / 1 (float), scalar or
per-neuron parameters, leak shift 0..3 / mult / linear of the membrane and of CubaLIF's current,
input shift 0..2 and saturation (fixed), accumulator overflow.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neurosim.errors import FixedPointError
from neurosim.ir import IF, LIF, CubaLIF, Dense, FixedPoint, Graph, Input, NeuronFixedPoint, Output
from neurosim.targets.neuromorphic.model.compile import compile_graph
from neurosim.targets.neuromorphic.model.neurons import NeuronParams, NeuronState, make_params, make_state, update_range
from neurosim.targets.neuromorphic.model.reference import NeuronKernel


def random_case(seed: int, mode: str):
    """(graph, node, proj bias, inputs [T, n]) of one random neuron population behind an identity Dense."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    per = bool(rng.random() < 0.5)
    kind = str(rng.choice(["LIF", "IF", "CubaLIF"]))
    rule = str(rng.choice(["gt", "ge", "multi"]))
    common = dict(shape=(n,), reset=str(rng.choice(["zero", "subtract", "none"])), spike_rule=rule,
                  refractory_steps=int(rng.choice([0, 1, 3])))
    size = (n,) if per else ()
    steps = int(rng.integers(1, 30))
    if mode == "fixed":
        width = int(rng.integers(5, 12))
        hi = (1 << (width - 1)) - 1
        fx, decay = random_leak(rng, width, "")
        ish = int(rng.choice([0, 0, 1, 2]))
        fx.update(state=FixedPoint(width, 0), input_shift=ish, acc_width=int(rng.choice([width, width + 2, 32])))
        common.update(threshold=rng.integers(1, hi + 1, size).astype(float),
                      bias=rng.integers(-3, 4, size).astype(float), v_reset=rng.integers(-hi, hi + 1, size) * 0.25 // 1,
                      reset_timing=str(rng.choice(["immediate", "delayed"])))
        if kind == "IF" and decay in (None, 1.0):
            node = IF(fixed=NeuronFixedPoint(**fx), **common)
        elif kind == "CubaLIF":
            sfx, syn_decay = random_leak(rng, width, "syn_")
            syn_shift = sfx.pop("syn_leak_shift")
            if sfx["syn_leak"] in ("shift", "none"):  # the historic field: CubaLIF.syn_shift, 0 = no leak
                sfx = {}
            fx.update(sfx)
            node = CubaLIF(decay=decay if decay is not None else float(rng.random()),
                           syn_decay=syn_decay if syn_decay is not None else float(rng.random()),
                           syn_shift=syn_shift if not sfx else 0, fixed=NeuronFixedPoint(**fx), **common)
        else:
            node = LIF(decay=decay if decay is not None else float(rng.random()), fixed=NeuronFixedPoint(**fx),
                       **common)
        amp = int(rng.choice([2, hi // 2 + 1, 2 * hi]))  # small drive .. saturation .. overflow (small acc_width)
        x = rng.integers(-amp, amp + 1, (steps, n)) * (rng.random((steps, n)) < 0.6)
        bias = rng.integers(-2, 3, n).astype(float) if rng.random() < 0.5 else None
        fmt = FixedPoint(8, 0)
    else:
        common.update(threshold=rng.integers(1, 17, size) / 8.0, bias=rng.integers(-2, 3, size) / 32.0,
                      v_reset=rng.integers(-4, 2, size) / 8.0, gain=rng.integers(4, 17, size) / 8.0,
                      reset_timing=str(rng.choice(["immediate", "delayed"])))
        decay = rng.integers(0, 17, size) / 16.0
        if kind == "IF":
            node = IF(**common)
        elif kind == "CubaLIF":
            node = CubaLIF(decay=decay, syn_decay=rng.integers(0, 17, size) / 16.0,
                           syn_gain=rng.integers(4, 17, size) / 8.0, current_lag=int(rng.integers(0, 2)), **common)
        else:
            node = LIF(decay=decay, **common)
        x = rng.integers(-8, 25, (steps, n)) / 16.0 * (rng.random((steps, n)) < 0.6)
        bias = rng.integers(-2, 3, n) / 16.0 if rng.random() < 0.5 else None
        fmt = None
    graph = Graph.chain([("input", Input(shape=(n,))), ("fc", Dense(weight=np.eye(n), bias=bias, weight_format=fmt)),
                         ("pop", node), ("output", Output(shape=(n,)))])
    return graph, node, (np.zeros(n) if bias is None else bias), x.astype(np.float64), rng


def random_leak(rng, width: int, prefix: str):
    """(NeuronFixedPoint leak fields with ``prefix``, the decay they realise (None: linear)):
    shift 0..3 (0 = none) half the time, else mult (1..8 bits) or linear (0..3 codes per step)."""
    kind = str(rng.choice(["shift", "shift", "mult", "linear"]))
    if kind == "shift":
        k = int(rng.integers(0, 4))
        return {f"{prefix}leak": "shift" if k else "none", f"{prefix}leak_shift": k}, (1 - 2.0 ** -k if k else 1.0)
    if kind == "mult":
        bits = int(rng.integers(1, 9))
        code = int(rng.integers(0, (1 << bits) + 1))
        return ({f"{prefix}leak": "mult", f"{prefix}leak_bits": bits, f"{prefix}leak_code": code,
                 f"{prefix}leak_shift": 0}, code / 2.0 ** bits)
    return {f"{prefix}leak": "linear", f"{prefix}leak_code": int(rng.integers(0, 4)), f"{prefix}leak_shift": 0}, None


def drive(graph, x, mode, rng):
    """Run ``update_range`` on ``x``: (spikes [T, n], state, status, err, per-step active counts)."""
    net = compile_graph(graph, mode)
    P, S = make_params(net), make_state(net.n_total)
    lo_n, hi_n = int(net.pop_offset[0]), int(net.pop_offset[1])
    cuts = sorted({lo_n, hi_n, *rng.integers(lo_n, hi_n + 1, int(rng.integers(0, 3))).tolist()})  # core ranges
    n_slots = int(rng.integers(1, 3))
    acc = np.zeros(n_slots * net.n_total)
    fired, fired_val, err = np.zeros(net.n_total, dtype=np.int64), np.zeros(net.n_total), np.zeros(3)
    steps, n = x.shape
    spikes = np.zeros((steps, n))
    active = []
    for t in range(steps):
        base = (t % n_slots) * net.n_total
        acc[base + lo_n:base + hi_n] = x[t]
        n_act = 0
        for a, b in zip(cuts[:-1], cuts[1:]):
            na, nf, status = update_range(t, 0, a, b, base, mode == "fixed", acc, P, S, fired, fired_val, err)
            if status:
                return spikes[:t], S, status, err, active
            n_act += na
            for k in range(nf):
                assert a <= fired[k] < b  # noqa: S101 - test
                spikes[t, fired[k] - lo_n] = fired_val[k]
        assert not np.any(acc), "update_range left accumulator entries uncleared"  # noqa: S101
        active.append(n_act)
    return spikes, S, 0, err, active


def reference(node, bias, x, mode):
    """The reference kernel stepped on the same input: (spikes, v, i or None, overflow step or None)."""
    k = NeuronKernel(node, "pop", mode, (), np.float64)
    out = []
    for t in range(x.shape[0]):
        xt = x[t] + bias
        try:
            out.append(k.step(xt.astype(np.int64) if mode == "fixed" else xt))
        except FixedPointError:
            return np.array(out, dtype=np.float64).reshape(t, x.shape[1]), k.state["v"], k.state.get("i"), t
    return np.array(out, dtype=np.float64).reshape(x.shape), k.state["v"], k.state.get("i"), None


def check(seed, mode):
    graph, node, bias, x, rng = random_case(seed, mode)
    spikes, S, status, err, active = drive(graph, x, mode, rng)
    ref_s, ref_v, ref_i, bad_t = reference(node, bias, x, mode)
    if bad_t is not None:
        assert status == 1, f"the reference overflows at step {bad_t}, update_range did not"
        t = int(err[0])
        assert t == bad_t
        drive_t = x[t] + bias
        first = int(np.flatnonzero(np.abs(drive_t) > (1 << (node.fixed.acc_width - 1)) - 1)[0])
        assert int(err[1]) == x.shape[1] + first and err[2] == drive_t[first]
        np.testing.assert_array_equal(spikes, ref_s)
        return
    assert status == 0
    np.testing.assert_array_equal(spikes, ref_s, err_msg="spikes")
    n_in = x.shape[1]
    np.testing.assert_array_equal(S.v[n_in:], ref_v, err_msg="membrane")
    if ref_i is not None:
        np.testing.assert_array_equal(S.i_syn[n_in:], ref_i, err_msg="current")
    assert active == [int(np.count_nonzero(row)) for row in x]


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_float_update_equals_reference(seed):
    check(seed, "float")


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_fixed_update_equals_reference(seed):
    check(seed, "fixed")


@pytest.mark.slow
@settings(max_examples=3000, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["float", "fixed"]))
def test_update_equals_reference_long(seed, mode):
    check(seed, mode)


@pytest.mark.parametrize("mode", ["float", "fixed"])
@pytest.mark.parametrize("kind", ["LIF", "IF", "CubaLIF"])
@pytest.mark.parametrize("rule", ["gt", "ge", "multi"])
@pytest.mark.parametrize("refractory", [0, 1, 3])
@pytest.mark.parametrize("reset", ["zero", "subtract", "none"])
@pytest.mark.parametrize("per", [False, True])
def test_every_variant(mode, kind, rule, refractory, reset, per):
    """Every combination once (the random test may miss one): both timings (and lags in float); in
    fixed point each of the leaks shift / mult / linear, with and without an input shift."""
    thr = np.array([3.0, 4.0, 5.0, 6.0]) if per else 4.0
    vr = np.array([0.0, -1.0, 1.0, -2.0]) if per else -1.0
    rng = np.random.default_rng(7)
    x = rng.integers(-2, 7, (40, 4)).astype(np.float64)
    if mode == "fixed":
        cases = [(timing, 0, leak, ish) for timing in ("immediate", "delayed")
                 for leak, ish in (("shift", 0), ("mult", 1), ("linear", 0), ("mult", 0), ("linear", 1))]
    else:
        cases = [("immediate", 0, None, 0), ("delayed", 0, None, 0), ("delayed", 1, None, 0)]
    for timing, lag, leak, ish in cases:
        fx = None
        if mode == "fixed":
            # 0.75 = 1 - 2**-2 (shift) = 12/16 (mult); linear: 1 code per step (the decay is not constrained)
            lk = {"shift": dict(leak="shift", leak_shift=2), "mult": dict(leak="mult", leak_bits=4, leak_code=12),
                  "linear": dict(leak="linear", leak_code=1)}[leak]
            if kind == "IF":
                lk = {"shift": dict(leak="none"), "mult": dict(leak="mult", leak_bits=4, leak_code=16),
                      "linear": lk}[leak]
            if kind == "CubaLIF" and leak != "shift":  # 0.5 = 8/16 (mult); linear 1 code per step
                lk.update(dict(syn_leak="mult", syn_leak_bits=4, syn_leak_code=8) if leak == "mult" else
                          dict(syn_leak="linear", syn_leak_code=1))
            fx = NeuronFixedPoint(state=FixedPoint(8, 0), acc_width=16, input_shift=ish, **lk)
        common = dict(shape=(4,), threshold=thr, v_reset=vr, reset=reset, spike_rule=rule, refractory_steps=refractory,
                      reset_timing=timing, fixed=fx)
        if kind == "IF" or (kind == "LIF" and mode == "fixed"):
            node = IF(**common) if kind == "IF" else LIF(decay=0.75, **common)
        elif kind == "LIF":
            node = LIF(decay=np.array([0.5, 0.75, 0.875, 1.0]) if per else 0.75, **common)
        elif mode == "fixed":
            node = CubaLIF(decay=0.75, syn_decay=0.5, syn_shift=1 if leak == "shift" else 0, **common)
        else:
            node = CubaLIF(decay=0.75, syn_decay=0.5, current_lag=lag, **common)
        graph = Graph.chain([("input", Input(shape=(4,))),
                             ("fc", Dense(weight=np.eye(4), weight_format=FixedPoint(8, 0) if fx else None)),
                             ("pop", node), ("output", Output(shape=(4,)))])
        spikes, S, status, _, _ = drive(graph, x, mode, np.random.default_rng(0))
        ref_s, ref_v, ref_i, bad = reference(node, np.zeros(4), x, mode)
        assert status == 0 and bad is None
        np.testing.assert_array_equal(spikes, ref_s, err_msg=f"{timing} {leak} {ish}")
        np.testing.assert_array_equal(S.v[4:], ref_v, err_msg=f"{timing} {leak} {ish}")
        if ref_i is not None:
            np.testing.assert_array_equal(S.i_syn[4:], ref_i)
        assert spikes.any(), "the stimulus should make the population spike"


def test_overflow_reports_first_neuron_and_stops():
    """|acc + const_in| > acc_max: status p + 1, err = (step, first neuron, drive), nothing updated."""
    fx = NeuronFixedPoint(state=FixedPoint(8, 0), leak="none", acc_width=8)  # acc_max 127
    graph = Graph.chain([("input", Input(shape=(3,))),
                         ("fc", Dense(weight=np.eye(3), bias=[0.0, 3.0, 0.0], weight_format=FixedPoint(8, 0))),
                         ("pop", IF(shape=(3,), threshold=100.0, fixed=fx)), ("output", Output(shape=(3,)))])
    net = compile_graph(graph, "fixed")
    P, S = make_params(net), make_state(net.n_total)
    acc = np.zeros(net.n_total)
    fired, fired_val, err = np.zeros(6, dtype=np.int64), np.zeros(6), np.zeros(3)
    acc[3:6] = [5.0, 125.0, -200.0]  # neuron 4: 125 + 3 = 128 > 127 (the first), neuron 5: 200
    assert update_range(9, 0, 3, 6, 0, True, acc, P, S, fired, fired_val, err) == (0, 0, 1)
    assert list(err) == [9.0, 4.0, 128.0]
    assert not S.v.any()
    acc[3:6] = [5.0, 124.0, -127.0]  # 127 is in range
    assert update_range(10, 0, 3, 6, 0, True, acc, P, S, fired, fired_val, err) == (3, 1, 0)
    assert list(S.v[3:]) == [5.0, 27.0, -127.0] and fired[0] == 4 and fired_val[0] == 1.0


def test_make_params_fields_and_uniform():
    """make_params: the kernel's dtypes, threshold -> thr, and uniform only when every parameter is constant."""
    pops = [("a", LIF(shape=(3,), decay=0.5)), ("b", LIF(shape=(3,), decay=[0.5, 0.5, 0.25])),
            ("c", IF(shape=(2,), threshold=2.0))]
    nodes = {"input": Input(shape=(3,)), "fa": Dense(weight=np.eye(3)), "fb": Dense(weight=np.eye(3)),
             "fc": Dense(weight=np.ones((2, 3)), bias=[0.5, 0.25]), "output": Output(shape=(2,))}
    nodes.update(dict(pops))
    edges = [("input", "fa"), ("fa", "a"), ("a", "fb"), ("fb", "b"), ("b", "fc"), ("fc", "c"), ("c", "output")]
    net = compile_graph(Graph(nodes, tuple(edges)), "float")
    P = make_params(net)
    assert isinstance(P, NeuronParams) and P._fields[-1] == "uniform"
    assert list(P.leak_mode) == [0, 0, 0] and list(P.input_shift) == [0, 0, 0]
    assert list(P.uniform) == [True, False, False]  # c: const_in differs per neuron
    for f in ("const_in", "decay", "thr", "lo", "hi", "acc_max"):
        assert getattr(P, f).dtype == np.float64
    assert P.rule.dtype == np.int64 and P.uniform.dtype == np.bool_
    np.testing.assert_array_equal(P.thr, net.threshold)
    S = make_state(5)
    assert isinstance(S, NeuronState) and S.refr.dtype == np.int64 and not S.v.any()


def test_empty_range_is_a_no_op():
    net = compile_graph(Graph.chain([("input", Input(shape=(2,))), ("fc", Dense(weight=np.eye(2))),
                                     ("pop", LIF(shape=(2,))), ("output", Output(shape=(2,)))]), "float")
    P, S = make_params(net), make_state(net.n_total)
    acc = np.ones(net.n_total)
    out = update_range(0, 0, 4, 4, 0, False, acc, P, S, np.zeros(4, dtype=np.int64), np.zeros(4), np.zeros(3))
    assert out == (0, 0, 0) and acc.all()
