"""Meta-SpikeFormer lowered through from_torch: the IR run in the reference simulator equals the torch
forward (SpikingJelly, float64), the parameter count is the torch count minus the folded BatchNorm
parameters plus the biases the folds create; SpikeMatMul's node, kernel, counter and serialisation."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("spikingjelly")

from spikingjelly.activation_based import functional  # noqa: E402

from neurosim import zoo  # noqa: E402
from neurosim.errors import FrontendError, IRError, ShapeError, UnsupportedError  # noqa: E402
from neurosim.frontends.torch import from_torch  # noqa: E402
from neurosim.frontends.torch.spikingjelly import from_spikingjelly  # noqa: E402
from neurosim.ir import serialize  # noqa: E402
from neurosim.ir.graph import Graph  # noqa: E402
from neurosim.ir.nodes import Input, Output  # noqa: E402
from neurosim.ir.nodes.attention import SpikeMatMul  # noqa: E402
from neurosim.metrics.ops import counter_for  # noqa: E402
from neurosim.targets.neuromorphic.model import reference  # noqa: E402
from neurosim.zoo._spikeformer_modules import MetaSpikeFormer, MS_Attention_RepConv_qkv_id, MS_Block  # noqa: E402

# -- SpikeMatMul ------------------------------------------------------------------------------------


def _torch_attention_core(q, k, v, heads, scale):
    """The original forward's matmuls (MS_Attention_RepConv_qkv_id) on [T, B, C, H, W] spike tensors."""
    T, B, C, H, W = q.shape
    N = H * W

    def split(s):
        return s.flatten(3).transpose(-1, -2).reshape(T, B, N, heads, C // heads).permute(0, 1, 3, 2, 4)
    x = split(k).transpose(-2, -1) @ split(v)
    x = (split(q) @ x) * scale
    return x.transpose(3, 4).reshape(T, B, C, N).reshape(T, B, C, H, W)


@pytest.mark.parametrize("heads,c,hw", [(1, 4, (3, 3)), (2, 6, (2, 5)), (3, 9, (4, 4))])
def test_spike_matmul_kernel_equals_the_original_matmuls(heads, c, hw):
    g = torch.Generator().manual_seed(heads)
    q, k, v = ((torch.rand(2, 3, c, *hw, generator=g) < 0.4).double() for _ in range(3))
    expected = _torch_attention_core(q, k, v, heads, 0.125).numpy()
    graph = Graph({"input": Input(shape=(3 * c, *hw)), "kv": SpikeMatMul(heads=heads, scale=0.125),
                   "output": Output(shape=(c, *hw))}, (("input", "kv"), ("kv", "output")))
    x = torch.cat([q, k, v], dim=2).numpy()  # [T, B, 3C, H, W]
    got = reference.run(graph, x, batched=True).output_spikes
    np.testing.assert_array_equal(got, expected)
    assert expected.max() > 0


def test_spike_matmul_counts_by_hand():
    node = SpikeMatMul(heads=2, scale=0.5)
    c = counter_for(node, "kv")
    in_shape = (3 * 6, 2, 5)  # C = 6, d = 3, N = 10
    fan = c.fanout(node, in_shape, False)
    assert fan[:12].min() == fan[:12].max() == 3 and not fan[12:].any()  # d per Q/K element, 0 per V
    assert c.flops(node, in_shape) == 2 * 10 * 6 * 3 == fan.sum()  # h N d^2 for K^T V and for Q (KV)
    assert c.params(node) == 0 and node.output_shape(in_shape) == (6, 2, 5)


@pytest.mark.parametrize("kwargs,pattern", [
    (dict(heads=0), r"^SpikeMatMul\.heads must be a positive integer, found 0$"),
    (dict(heads=True), r"^SpikeMatMul\.heads must be a positive integer, found True$"),
    (dict(scale=float("nan")), r"^SpikeMatMul\.scale must be a finite real number, found nan$"),
    (dict(scale="0.125"), r"^SpikeMatMul\.scale must be a finite real number, found '0\.125'$"),
])
def test_spike_matmul_fields_are_validated(kwargs, pattern):
    with pytest.raises(IRError, match=pattern):
        SpikeMatMul(**kwargs)


def test_spike_matmul_shape_must_hold_three_operands():
    with pytest.raises(ShapeError, match=r"^SpikeMatMul expects input shape \(3\*C, \*tokens\) with C a multiple of "
                                         r"heads=2 \(Q, K and V concatenated on axis 0\), found \(9, 4\)$"):
        SpikeMatMul(heads=2).output_shape((9, 4))


def test_spike_matmul_refuses_fixed_mode():
    graph = Graph({"input": Input(shape=(6, 2)), "kv": SpikeMatMul(heads=1), "output": Output(shape=(2, 2))},
                  (("input", "kv"), ("kv", "output")))
    with pytest.raises(UnsupportedError, match=r"^node 'kv' \(SpikeMatMul\) has no fixed-point semantics: "):
        reference.run(graph, np.zeros((1, 6, 2), dtype=np.int64), mode="fixed")


def test_spike_matmul_round_trips_through_nsim():
    graph = Graph({"input": Input(shape=(12, 3)), "kv": SpikeMatMul(heads=4, scale=0.125),
                   "output": Output(shape=(4, 3))}, (("input", "kv"), ("kv", "output")))
    back = serialize.from_bytes(serialize.to_bytes(graph))
    assert back.equals(graph) and back.nodes["kv"].heads == 4 and back.nodes["kv"].scale == 0.125


# -- lowering ---------------------------------------------------------------------------------------


def _randomise(model, seed, attention_bias=1.5):
    """Random BN statistics; the Q/K/V BatchNorms shifted up so the attention LIF fires (a random model's
    attention is otherwise silent, and the test would not exercise it)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.5, 0.5, generator=g)
                m.running_var.uniform_(0.5, 2.0, generator=g)
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.uniform_(-0.3, 0.5, generator=g)
        for m in model.modules():
            if isinstance(m, MS_Attention_RepConv_qkv_id):
                for seq in (m.q_conv, m.k_conv, m.v_conv):
                    seq[1].bias.add_(attention_bias)
    return model.double().eval()


def _compare(model, T, hw, seed=0, repconv="chain"):
    """IR output (mean over T) and attention spikes vs the torch forward; returns the graph and attention rates."""
    x = torch.rand(1, 3, hw, hw, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 3
    attn = {}
    hooks = [m.attn_lif.register_forward_hook(lambda mod, i, o, name=name: attn.__setitem__(name, o.numpy()))
             for name, m in model.named_modules() if isinstance(m, MS_Attention_RepConv_qkv_id)]
    functional.reset_net(model)
    with torch.no_grad():
        expected = model(x).numpy()[0]
    for h in hooks:
        h.remove()
    graph = from_torch(model, (3, hw, hw)) if repconv == "chain" else from_spikingjelly(model, (3, hw, hw),
                                                                                          repconv=repconv)
    run = reference.run(graph, np.repeat(x.numpy()[0][None], T, 0))
    np.testing.assert_array_equal(run.output_spikes.mean(axis=0), expected)
    rates = {}
    for name, spikes in attn.items():  # [T, B, C, N] in torch, [T, C, H, W] in the IR
        ir = run.outputs[f"{name}.attn_lif"]
        np.testing.assert_array_equal(ir.reshape(T, -1), spikes[:, 0].reshape(T, -1))
        rates[name] = float(ir.mean())
    return graph, rates


@pytest.mark.parametrize("T,repconv", [(1, "chain"), (2, "chain"), (1, "merged"),
                                       pytest.param(2, "merged", marks=pytest.mark.slow)])
def test_tiny_metaspikeformer_equals_torch_spike_for_spike(T, repconv):
    torch.manual_seed(0)
    model = _randomise(MetaSpikeFormer((16, 32, 48, 64), T=T, num_classes=10), seed=T)
    graph, rates = _compare(model, T, 32, seed=T, repconv=repconv)
    assert max(rates.values()) > 0.05  # the attention path fired
    assert any(type(n).__name__ == "SpikeMatMul" for n in graph.nodes.values())


@pytest.mark.slow
def test_15m_equals_torch_at_32px_t1():
    model = _randomise(zoo.meta_spikeformer("15M", T=1, num_classes=100), seed=5)
    _, rates = _compare(model, 1, 32, seed=5)
    assert max(rates.values()) > 0.05


@pytest.mark.slow
def test_15m_equals_torch_at_64px_t2():
    model = _randomise(zoo.meta_spikeformer("15M", T=2), seed=6)
    _, rates = _compare(model, 2, 64, seed=6)
    assert max(rates.values()) > 0.05


def _param_count(graph) -> int:
    return sum(counter_for(n, k).params(n) for k, n in graph.nodes.items())


def _bn_and_bias(model):
    """BatchNorm parameters (all folded) and the biases folding creates: one per output channel of every
    bias-free conv followed by a BN (the RepConv's first 1x1 and last 1x1, every other bias-free conv but
    the depthwise ones, which no BN follows)."""
    bn = sum(p.numel() for m in model.modules() if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d))
             for p in m.parameters())
    created = 0
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d) and m.bias is None and not (m.groups > 1 and m.groups == m.in_channels):
            created += m.out_channels
    return bn, created


@pytest.mark.parametrize("size", ["15M", pytest.param("31M", marks=pytest.mark.slow),
                                  pytest.param("55M", marks=pytest.mark.slow)])
def test_parameter_count_is_torch_minus_folded_batchnorm(size):
    model = zoo.meta_spikeformer(size, T=1)
    graph = from_torch(model, (3, 32, 32))  # the count does not depend on the input size
    source = zoo.count_params(model)
    bn, created = _bn_and_bias(model)
    assert _param_count(graph) == source - bn + created
    assert f"source_params={source} (the torch model's parameters, sum of p.numel(): the model's parameter count)" \
        in graph.semantics.notes
    published = float(zoo.META_SPIKEFORMER_SIZES[size]["published"][:-1]) * 1e6
    assert abs(source - published) < 0.05e6


def test_training_mode_model_is_refused():
    model = MetaSpikeFormer((8, 16, 16, 16), T=1, num_classes=4).train()
    with pytest.raises(FrontendError, match=r"^the multi-step model MetaSpikeFormer is in training mode \(BatchNorm "
                                            r"uses batch statistics\); call model\.eval\(\) before importing it$"):
        from_torch(model, (3, 32, 32))


def test_repconv_mode_is_checked():
    model = MetaSpikeFormer((8, 16, 16, 16), T=1, num_classes=4).eval()
    with pytest.raises(FrontendError, match=r"^repconv must be one of \('chain', 'merged'\), found 'fused'$"):
        from_spikingjelly(model, (3, 32, 32), repconv="fused")


def test_differing_qkv_neurons_are_refused():
    block = MS_Block(16, num_heads=2).eval()
    block.attn.k_lif.v_threshold = 0.75
    with pytest.raises(UnsupportedError, match=r"^layer 'attn\.qkv_lif': the Q, K and V neurons differ "):
        from_torch(block, (16, 2, 2))


def test_metrics_count_the_spike_matmul_events():
    """Level (a)'s effective ACs of every SpikeMatMul = d x (Q spikes + K spikes) of the recorded run (hand count)."""
    from neurosim.metrics.report import counts_of, metrics_report

    torch.manual_seed(0)
    model = _randomise(MetaSpikeFormer((16, 32, 48, 64), T=2, num_classes=10), seed=9)
    graph = from_torch(model, (3, 32, 32))
    x = np.random.default_rng(9).random((2, 1, 3, 32, 32)) * 3
    counts = counts_of(graph, x)
    run = reference.run(graph, x[:, 0])
    kv = {p.name: p for p in counts.projections if p.kind == "SpikeMatMul"}
    assert len(kv) == 8
    for name, p in kv.items():
        node = graph.nodes[name]
        qkv = run.outputs[graph.predecessors(name)[0]]  # [T, 3C, H, W]
        c, d, n = node.split(qkv.shape[1:])
        assert p.effective_acs == d * qkv[:, : 2 * c].sum() and p.mac_steps == 0
        assert p.flops == 2 * n * c * d
    doc = metrics_report(graph, counts)
    assert doc["levels"]["a"]["sop"] > 0 and doc["neurobench"]["ParameterCount"] == _param_count(graph)


def test_sat_trains_the_lowered_transformer_with_its_attention_gemms():
    """`neurosim sat` on the lowered Meta-SpikeFormer: every conv/linear a weighted GEMM, every SpikeMatMul two
    weightless matmuls per head (K^T V: d x N x d, Q (KV): N x d x d, shapes by hand), and N:M beats dense."""
    from neurosim.ir.nodes.attention import SpikeMatMul
    from neurosim.targets.sat.config import load_config
    from neurosim.targets.sat.model.workload import from_graph
    from neurosim.targets.sat.study import study

    torch.manual_seed(0)
    model = _randomise(MetaSpikeFormer((16, 32, 48, 64), T=1, num_classes=10), seed=3)
    graph = from_torch(model, (3, 32, 32))
    w = from_graph(graph, "tiny-metaspikeformer")
    attn = [n for n in graph.order if isinstance(graph.nodes[n], SpikeMatMul)]
    gemms = {g.name: g for g in w.gemms}
    for name in attn:
        node = graph.nodes[name]
        c, d, n = node.split(graph.input_shape_of(name))
        kv, qkv = gemms[name + ".kv"], gemms[name + ".qkv"]
        assert (kv.m, kv.k, kv.n, kv.count, kv.weighted) == (d, n, d, node.heads, False)
        assert (qkv.m, qkv.k, qkv.n, qkv.count, qkv.weighted) == (n, d, d, node.heads, False)
    weighted = [g for g in w.gemms if g.weighted]
    assert len(weighted) == sum(1 for n in graph.order if graph.nodes[n].family == "projection")
    result = study(w, load_config("sat-vcu1525"), (2, 8), 8, ablation=False, sweep=False)
    assert result.sparse.cycles < result.dense.cycles
