"""SpikeGPT as IR (neurosim.zoo.spikegpt_ir) and the recurrent node family, against the zoo's torch module.

Oracles: the zoo's SpikeGPT forward (logits, every LIF's spikes) on the same weights, the closed form
of the WKV sum written here in plain numpy, torch's own layer_norm/sigmoid, and hand counts of the
vector operations.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("spikingjelly")

from neurosim import zoo  # noqa: E402
from neurosim.errors import IRError, ShapeError, SimulationError, UnsupportedError  # noqa: E402
from neurosim.ir import serialize  # noqa: E402
from neurosim.ir.graph import Graph  # noqa: E402
from neurosim.ir.nodes import GELU, Dense, Input, LayerNorm, Output  # noqa: E402
from neurosim.ir.nodes.recurrent import WKV, Mul, SquaredReLU  # noqa: E402
from neurosim.metrics.ops_recurrent import node_vector_ops, vector_ops  # noqa: E402
from neurosim.targets.neuromorphic.model import reference  # noqa: E402
from neurosim.zoo.spikegpt_ir import learned_params, one_hot, spikegpt_graph  # noqa: E402


def _model(n_layer=3, n_embd=32, vocab=50, gain=20.0, seed=0):
    """A small zoo SpikeGPT in float64 whose branch outputs are scaled by ``gain`` so the LIFs fire
    (random init alone leaves them silent)."""
    m = zoo.spikegpt("46M", seed=seed, n_layer=n_layer, n_embd=n_embd, vocab_size=vocab).eval().double()
    with torch.no_grad():
        for b in m.blocks:
            b.att.output.weight.mul_(gain)
            b.ffn.value.weight.mul_(gain)
    return m


def _torch_forward(m, ids):
    from spikingjelly.activation_based import functional

    spikes = {}
    hooks = [mod.register_forward_hook(lambda mod, i, o, n=n: spikes.__setitem__(n, o.detach().numpy()[:, 0]))
             for n, mod in m.named_modules() if n.endswith(("lif1", "lif2"))]
    functional.reset_net(m)
    with torch.no_grad():
        logits = m(torch.tensor(ids)[None]).numpy()[0]
    for h in hooks:
        h.remove()
    return logits, {n.replace("blocks.", "b"): s for n, s in spikes.items()}


@pytest.mark.parametrize("n_layer, n_embd, tokens", [(3, 32, 12), (1, 768, 4)])
def test_reference_run_equals_torch_forward(n_layer, n_embd, tokens):
    """Small config and one full-width (216M's C = 768) block: logits to 1e-9, spikes exactly."""
    m = _model(n_layer=n_layer, n_embd=n_embd)
    ids = np.random.default_rng(1).integers(0, 50, size=tokens)
    g = spikegpt_graph(m)
    r = reference.run(g, one_hot(ids, 50))
    logits, spikes = _torch_forward(m, ids)
    assert np.abs(r.outputs["logits"] - logits).max() < 1e-9
    assert len(spikes) == 2 * n_layer
    fired = 0.0
    for name, s in spikes.items():
        np.testing.assert_array_equal(r.outputs[name], s)
        fired += s.sum()
    assert fired > 0  # the comparison is not vacuous: the LIFs fire


def test_graph_parameters_equal_the_torch_count():
    m = _model()
    g = spikegpt_graph(m)
    assert learned_params(g) == sum(p.numel() for p in m.parameters()) == 44_320
    assert any("source model parameters" in n for n in g.semantics.notes)


def _wkv_closed_form(time_decay, time_first, k, v):
    w, u = -np.exp(time_decay), time_first
    y = np.zeros_like(k)
    for t in range(k.shape[0]):
        num = np.exp(u + k[t]) * v[t]
        den = np.exp(u + k[t])
        for i in range(t):
            e = np.exp((t - 1 - i) * w + k[i])
            num, den = num + e * v[i], den + e
        y[t] = num / den
    return y


def _wkv_graph(c):
    rng = np.random.default_rng(3)
    td, tf = rng.normal(size=c), rng.normal(size=c)
    nodes = {"x": Input(shape=(c,)), "k": Dense(weight=rng.normal(size=(c, c))),
             "v": Dense(weight=rng.normal(size=(c, c))), "wkv": WKV(time_decay=td, time_first=tf),
             "y": Output(shape=(c,))}
    edges = (("x", "k"), ("x", "v"), ("k", "wkv"), ("v", "wkv"), ("wkv", "y"))
    return Graph(nodes, edges), td, tf


def test_wkv_kernel_equals_closed_form_and_zoo_wkv():
    g, td, tf = _wkv_graph(6)
    x = np.random.default_rng(4).normal(size=(9, 6))
    r = reference.run(g, x)
    k, v = r.outputs["k"], r.outputs["v"]
    np.testing.assert_allclose(r.outputs["y"], _wkv_closed_form(td, tf, k, v), rtol=1e-12, atol=1e-12)
    from neurosim.zoo._spikegpt_modules import wkv

    zt = wkv(torch.tensor(td), torch.tensor(tf), torch.tensor(k)[None], torch.tensor(v)[None])[0].numpy()
    np.testing.assert_allclose(r.outputs["y"], zt, rtol=1e-5, atol=1e-5)  # the zoo's WKV is float32


def test_layernorm_sigmoid_relu2_mul_kernels_equal_torch():
    x = np.random.default_rng(5).normal(size=(3, 4, 8))
    tx = torch.tensor(x)

    def step(node, arg):
        return reference.KERNELS[type(node)](node, "n", "float", (), np.float64).step(arg)

    np.testing.assert_allclose(step(LayerNorm(features=8), x), torch.nn.functional.layer_norm(tx, (8,)).numpy(),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(step(GELU(kind="sigmoid"), x), torch.sigmoid(tx).numpy(), rtol=1e-12)
    np.testing.assert_allclose(step(GELU(kind="gelu"), x), torch.nn.functional.gelu(tx).numpy(), rtol=1e-12)
    np.testing.assert_array_equal(step(SquaredReLU(), x), torch.square(torch.relu(tx)).numpy())
    np.testing.assert_array_equal(step(Mul(), (x, x[::-1])), (tx * tx.flip(0)).numpy())


def test_fixed_mode_is_refused_naming_the_node():
    g, _, _ = _wkv_graph(2)
    with pytest.raises(UnsupportedError, match=r"^node 'wkv' \(WKV\) has no fixed-point semantics: the WKV"):
        reference.KERNELS[WKV](g.nodes["wkv"], "wkv", "fixed", (), np.float64)


def test_summed_operands_are_refused():
    node = Mul()
    with pytest.raises(SimulationError, match=r"^node 'm' \(Mul\) takes two ordered operands but the simulator "
                                              r"passed ndarray;"):
        reference.KERNELS[Mul](node, "m", "float", (), np.float64).step(np.zeros(3))


def test_node_validation_messages():
    with pytest.raises(ShapeError, match=r"^WKV.time_first has shape \(2,\), expected \(3,\)$"):
        WKV(time_decay=np.zeros(3), time_first=np.zeros(2))
    with pytest.raises(IRError, match=r"^WKV.time_decay contains the non-finite value nan;"):
        WKV(time_decay=np.array([np.nan]), time_first=np.zeros(1))
    with pytest.raises(IRError, match=r"^WKV.time_decay holds 100.0; exp\(time_decay\) overflows"):
        WKV(time_decay=np.array([100.0]), time_first=np.zeros(1))
    with pytest.raises(ShapeError, match=r"^WKV expects operands k and v of the same shape \(\.\.\., 3\), found "
                                         r"\(3,\) and \(4,\);"):
        WKV(time_decay=np.zeros(3), time_first=np.zeros(3)).output_shape(((3,), (4,)))
    with pytest.raises(ShapeError, match=r"^Mul multiplies operands of one shape, found \(3,\) and \(4,\);"):
        Mul().output_shape(((3,), (4,)))
    with pytest.raises(ShapeError, match=r"^Mul takes exactly two operands, found input shapes \(3,\)$"):
        Mul().output_shape((3,))


def test_builder_boundary_messages():
    with pytest.raises(UnsupportedError, match=r"^spikegpt_graph takes a neurosim.zoo.spikegpt\(\.\.\.\) module, "
                                               r"found 'Linear';"):
        spikegpt_graph(torch.nn.Linear(2, 2))
    m = _model(n_layer=1, n_embd=8)
    m.blocks[0].lif1.tau = 3.0
    with pytest.raises(UnsupportedError, match=r"^SpikeGPT module 'b0.lif1': LIF with tau=3.0,"):
        spikegpt_graph(m)
    with pytest.raises(IRError, match=r"^SpikeGPT token ids must be integers in 0..49, found 50;"):
        one_hot(np.array([3, 50]), 50)


def test_serialize_round_trip():
    g = spikegpt_graph(_model(n_layer=1, n_embd=8))
    assert serialize.from_bytes(serialize.to_bytes(g)).equals(g)


def test_vector_op_counts_by_hand():
    c = 5
    assert node_vector_ops(WKV(time_decay=np.zeros(c), time_first=np.zeros(c)), (c,), (c,), 2) == \
        {"exp": 20, "div": 5, "mul": 30, "add": 50, "cmp": 10}
    assert node_vector_ops(LayerNorm(features=c), (c,), (c,), 1) == {"add": 15, "mul": 10, "div": 3, "sqrt": 1}
    assert node_vector_ops(GELU(kind="sigmoid"), (c,), (c,), 2) == {"add": 5 + 5, "exp": 5, "div": 5}
    # per token of one block of width C: hand count from the graph's structure (module docstring)
    C = 8
    g = spikegpt_graph(_model(n_layer=1, n_embd=C))
    ln = {"add": 3 * C + C, "mul": 2 * C + C, "div": 3, "sqrt": 1}  # LN + Scale(gamma) + Add(beta)
    want = {k: 4 * v for k, v in ln.items()}  # ln0, ln1, ln2, ln_out
    want["cmp"] = C + 2 * C + 4 * C  # spk threshold, WKV maxima, relu^2 (on the 4C hidden layer)
    want["exp"] = 4 * C + C + C  # WKV, two sigmoids
    want["div"] += C + C + C
    want["mul"] += 10 * C + 6 * C + C + C + 4 * C  # 10 mix scales, WKV, two gates, relu^2
    want["add"] += 5 * C + 10 * C + C + C + 2 * C  # 5 mix sums, WKV, two sigmoids, two residual adds
    assert vector_ops(g) == {k: want[k] for k in ("add", "mul", "cmp", "exp", "div", "sqrt")}


def test_estimate_names_the_node_type_the_engine_lacks(tmp_path):
    from fuzzing import assert_clean_error, run_cli

    path = tmp_path / "spikegpt.nsim"
    serialize.save(spikegpt_graph(_model(n_layer=1, n_embd=8)), path)
    argv = ["estimate", str(path), "--chip", "loihi", "--timesteps", "2"]
    out = run_cli(argv, kind="estimate")
    assert_clean_error(out, argv=argv)
    line = next(ln for ln in out.stderr.splitlines() if "error:" in ln)
    # one line naming a node and its type that the cycle-level path cannot take
    assert re.search(r"error: node '[\w.]+' \((Threshold|LayerNorm|Scale|Add|Delay|GELU|WKV|Mul|SquaredReLU)\) ",
                     line), line


def test_per_token_cost_is_constant_over_the_context():
    """Every Linear reads real values, so level (a)'s MACs per token are exactly 13 C^2 per block plus the
    head, at any context length; the one-hot embedding row read is C accumulates per token."""
    from neurosim.metrics.report import counts_of, metrics_report

    C, L, V = 16, 2, 30
    m = _model(n_layer=L, n_embd=C, vocab=V)
    g = spikegpt_graph(m)
    for ctx in (3, 7):
        x = one_hot(np.random.default_rng(ctx).integers(0, V, size=ctx), V)[:, None]
        a = metrics_report(g, counts_of(g, x))["levels"]["a"]
        assert a["fl_mac"] == ctx * (13 * C * C * L + C * V)
        assert a["sop"] == pytest.approx(ctx * C)
