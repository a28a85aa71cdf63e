"""neurosim.frontends.torch: import torch / snnTorch / SpikingJelly / Sinabs modules and check
that the reference simulator reproduces each framework's own forward pass spike for spike.

Every equivalence test runs the framework in float64 on seeded random inputs for T >= 20 steps,
runs :func:`neurosim.targets.neuromorphic.model.reference.run` on the imported graph, and requires the spikes of every
spiking layer to be exactly equal, and the test to be non-trivial (some spikes, some silence).
"""

from __future__ import annotations

import operator

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from neurosim.targets.neuromorphic.model.reference import run as ref_run  # noqa: E402
from neurosim.errors import FormatError, FrontendError, ShapeError, UnsupportedError  # noqa: E402
from neurosim.frontends.torch import from_torch, load_torch_file, supported_layers  # noqa: E402
from neurosim.ir import nodes as ir  # noqa: E402

T, B = 25, 3


def _inputs(shape, scale=1.0, seed=0, offset=0.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand((T, B) + tuple(shape), generator=g, dtype=torch.float64) * scale + offset)


def _seeded(seed: int) -> None:
    torch.manual_seed(seed)


def _run_steps(net: nn.Sequential, x: torch.Tensor, mems: dict | None = None) -> dict[str, np.ndarray]:
    """Run every layer's own forward, one timestep at a time, on ``x [T, B, ...]``.

    Returns each layer's output ``[T, B, ...]`` by module path. Framework spikes that come back
    as float32 (snnTorch, Sinabs) are cast to float64 before the next layer; they are 0/1 values.
    If ``mems`` is a dict, the stored membrane ``layer.mem`` of every layer that has one is
    collected into it (``[T, B, ...]`` by path).
    """
    outs: dict[str, list] = {name: [] for name, _ in net.named_children()}
    rec: dict[str, list] = {}
    with torch.no_grad():
        for t in range(x.shape[0]):
            h = x[t]
            for name, layer in net.named_children():
                h = layer(h)
                if isinstance(h, tuple):
                    h = h[0]
                h = h.to(torch.float64)
                outs[name].append(h)
                if mems is not None and isinstance(getattr(layer, "mem", None), torch.Tensor):
                    rec.setdefault(name, []).append(layer.mem.clone())
    if mems is not None:
        mems.update({k: torch.stack(v).numpy() for k, v in rec.items()})
    return {k: torch.stack(v).numpy() for k, v in outs.items()}


def _check_stale_reset_free(net, mems: dict) -> None:
    """snnTorch with reset_delay=False and subtract reset matches the IR only while the stored
    (post-reset) membrane stays <= threshold (see the frontend's notes): check the test keeps to it."""
    for name, m in mems.items():
        thr = net[int(name)].threshold.detach().numpy()
        assert np.all(m <= thr), f"layer {name!r}: stored membrane {m.max()} above threshold; lower the input"


def _assert_same_spikes(net, graph, x, framework_out: dict[str, np.ndarray], spiking: list[str],
                        multi: bool = False) -> None:
    res = ref_run(graph, x.numpy() if hasattr(x, "numpy") else x, batched=True)
    for name in spiking:
        want, got = framework_out[name], res.outputs[name]
        assert want.shape == got.shape, (name, want.shape, got.shape)
        diff = np.argwhere(want != got)
        assert diff.size == 0, f"layer {name!r}: first mismatch at [t, b, ...] = {diff[0].tolist()}"
        assert np.any(want > 0) and np.any(want == 0), f"layer {name!r} is trivial (mean {want.mean()})"
        if not multi:
            assert 0 < want.mean() < 1
    last = spiking[-1]
    assert np.array_equal(res.output_spikes, framework_out[last])


# ------------------------------------------------------------------------- neurosim.torch.LIF


def test_neurosim_lif_mlp_exact():
    from neurosim.torch import LIF, run

    _seeded(0)
    net = nn.Sequential(nn.Linear(6, 12), LIF(12, decay=0.8, threshold=1.0), nn.Linear(12, 5),
                        LIF(5, decay=0.9, threshold=0.7, reset="zero")).double()
    g = from_torch(net, (6,))
    assert list(g.nodes) == ["input", "0", "1", "2", "3", "output"]
    assert g.semantics.profile == "neurosim"
    x = _inputs((6,), scale=1.0)
    out = _run_steps(net, x)
    with torch.no_grad():
        assert np.array_equal(run(net, x).numpy(), out["3"])
    _assert_same_spikes(net, g, x, out, ["1", "3"])


def test_neurosim_lif_conv_exact():
    from neurosim.torch import LIF

    _seeded(1)
    net = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), LIF((4, 6, 6), decay=0.85), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(36, 5), LIF(5, decay=0.9, threshold=0.5),
    ).double()
    g = from_torch(net, (2, 6, 6))
    assert isinstance(g.nodes["2"], ir.AvgPool2d) and isinstance(g.nodes["3"], ir.Flatten)
    assert g.nodes["3"].start_dim == 0 and g.nodes["3"].end_dim == -1
    assert g.shapes["output"] == (5,)
    x = _inputs((2, 6, 6), scale=1.2)
    out = _run_steps(net, x)
    _assert_same_spikes(net, g, x, out, ["1", "5"])


# ------------------------------------------------------------------------------------ snnTorch


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("reset_delay", [True, False])
def test_snntorch_leaky_exact(reset, reset_delay):
    snn = pytest.importorskip("snntorch")
    _seeded(2)
    net = nn.Sequential(
        nn.Linear(5, 10), snn.Leaky(beta=0.8, threshold=1.0, init_hidden=True, reset_mechanism=reset,
                                    reset_delay=reset_delay),
        nn.Linear(10, 4), snn.Leaky(beta=torch.full((4,), 0.9), threshold=0.6, init_hidden=True,
                                    reset_mechanism=reset, reset_delay=reset_delay),
    ).double()
    g = from_torch(net, (5,))
    node = g.nodes["1"]
    assert isinstance(node, ir.LIF) and node.spike_rule == "gt" and node.reset == reset
    assert node.reset_timing == ("delayed" if reset_delay else "immediate")
    assert g.semantics.profile == "snntorch" and g.semantics.dt_s is None
    if reset_delay:
        assert any("reset_timing='delayed'" in n for n in g.semantics.notes)
    x = _inputs((5,), scale=1.0, seed=3)
    mems: dict = {}
    out = _run_steps(net, x, mems)
    if reset == "subtract" and not reset_delay:
        _check_stale_reset_free(net, mems)
    _assert_same_spikes(net, g, x, out, ["1", "3"])


def test_snntorch_leaky_beta_clamped():
    snn = pytest.importorskip("snntorch")
    net = nn.Sequential(nn.Linear(3, 2), snn.Leaky(beta=1.5, init_hidden=True))
    assert np.all(from_torch(net, (3,)).nodes["1"].decay == 1.0)


@pytest.mark.parametrize("reset,reset_delay", [("subtract", True), ("subtract", False), ("zero", False),
                                               ("none", True)])
def test_snntorch_synaptic_exact(reset, reset_delay):
    snn = pytest.importorskip("snntorch")
    _seeded(4)
    net = nn.Sequential(
        nn.Linear(5, 10), snn.Synaptic(alpha=0.6, beta=0.8, init_hidden=True, reset_mechanism=reset,
                                       reset_delay=reset_delay),
        nn.Linear(10, 4), snn.Synaptic(alpha=0.5, beta=0.7, threshold=1.5, init_hidden=True,
                                       reset_mechanism=reset, reset_delay=reset_delay),
    ).double()
    g = from_torch(net, (5,))
    node = g.nodes["1"]
    assert isinstance(node, ir.CubaLIF) and node.current_lag == 0
    assert np.all(node.syn_decay == np.float32(0.6)) and np.all(node.syn_gain == 1.0)  # the f32 buffer value
    x = _inputs((5,), scale=0.6 if reset_delay else 0.45, seed=5, offset=-0.2)
    mems: dict = {}
    out = _run_steps(net, x, mems)
    if reset == "subtract" and not reset_delay:
        _check_stale_reset_free(net, mems)
    _assert_same_spikes(net, g, x, out, ["1", "3"])


def _heaviside64(z):
    """snnTorch's spike (strict z > 0) without its float32 cast, so a float64 RLeaky can feed its
    float64 recurrent layer (the stock surrogates return float32 spikes)."""
    return (z > 0).to(z.dtype)


def test_snntorch_rleaky_exact():
    snn = pytest.importorskip("snntorch")
    _seeded(6)
    net = nn.Sequential(
        nn.Linear(5, 8), snn.RLeaky(beta=0.85, linear_features=8, init_hidden=True, spike_grad=_heaviside64),
        nn.Linear(8, 4), snn.RLeaky(beta=0.7, all_to_all=False, V=torch.tensor([0.5, -0.3, 0.2, 0.4]),
                                    init_hidden=True, spike_grad=_heaviside64),
    ).double()
    with torch.no_grad():
        net[1].recurrent.weight.mul_(1.5)
        net[1].recurrent.bias.copy_(torch.linspace(-0.2, 0.3, 8))
    g = from_torch(net, (5,))
    assert ("1", "1.rec") in g.edges and ("1.rec", "1") in g.edges
    assert g.is_recurrent(("1.rec", "1"))
    rec = g.nodes["1.rec"]
    assert isinstance(rec, ir.Dense)
    assert np.array_equal(rec.bias, net[1].recurrent.bias.detach().numpy())
    assert np.array_equal(g.nodes["3.rec"].weight, np.diag([0.5, -0.3, 0.2, 0.4]).astype(np.float32).astype(float))
    assert g.nodes["3.rec"].bias is None
    x = _inputs((5,), scale=0.8, seed=7)
    out = _run_steps(net, x)
    _assert_same_spikes(net, g, x, out, ["1", "3"])


def test_snntorch_rleaky_conv_exact():
    snn = pytest.importorskip("snntorch")
    _seeded(8)
    net = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1), snn.RLeaky(beta=0.8, conv2d_channels=2, kernel_size=3, init_hidden=True,
                                                 spike_grad=_heaviside64),
        nn.Flatten(), nn.Linear(2 * 5 * 5, 3), snn.Leaky(beta=0.9, init_hidden=True),
    ).double()
    g = from_torch(net, (1, 5, 5))
    assert isinstance(g.nodes["1.rec"], ir.Conv2d) and g.nodes["1.rec"].padding == (1, 1)
    x = _inputs((1, 5, 5), scale=1.0, seed=9)
    out = _run_steps(net, x)
    _assert_same_spikes(net, g, x, out, ["1", "4"])


def test_snntorch_synaptic_zero_reset_rejected():
    snn = pytest.importorskip("snntorch")
    net = nn.Sequential(nn.Linear(3, 2), snn.Synaptic(alpha=0.5, beta=0.5, init_hidden=True, reset_mechanism="zero"))
    with pytest.raises(UnsupportedError, match=r"^layer '1' \(snntorch\.Synaptic\) has reset_mechanism='zero' "
                                               r"with reset_delay=True, which sets the whole membrane to 0"):
        from_torch(net, (3,))


def test_snntorch_rleaky_zero_reset_rejected():
    snn = pytest.importorskip("snntorch")
    net = nn.Sequential(nn.Linear(3, 2), snn.RLeaky(beta=0.5, linear_features=2, init_hidden=True,
                                                    reset_mechanism="zero"))
    with pytest.raises(UnsupportedError, match=r"^layer '1' \(snntorch\.RLeaky\) has reset_mechanism='zero'"):
        from_torch(net, (3,))


@pytest.mark.filterwarnings("ignore:Inhibition is an unstable feature")
@pytest.mark.parametrize("kw,pattern", [
    (dict(graded_spikes_factor=2.0), r"has graded_spikes_factor=2\.0; neurosim spikes are unit events"),
    (dict(inhibition=True), r"has inhibition=True"),
])
def test_snntorch_leaky_options_rejected(kw, pattern):
    snn = pytest.importorskip("snntorch")
    net = nn.Sequential(nn.Linear(3, 2), snn.Leaky(beta=0.5, init_hidden=True, **kw))
    with pytest.raises(UnsupportedError, match=r"^layer '1' \(snntorch\.Leaky\) " + pattern):
        from_torch(net, (3,))


# -------------------------------------------------------------------------------- SpikingJelly


@pytest.mark.parametrize("cfg", [
    dict(lif=dict(tau=2.0, v_reset=0.0), if_=dict(v_reset=None)),
    dict(lif=dict(tau=3.0, decay_input=False, v_reset=None), if_=dict(v_reset=0.0)),
    dict(lif=dict(tau=2.5, v_reset=-0.5, v_threshold=0.8), if_=dict(v_reset=0.25, v_threshold=1.2)),
], ids=["hard-lif_soft-if", "soft-lif-nodecayinput_hard-if", "nonzero-v_reset"])
def test_spikingjelly_exact(cfg):
    pytest.importorskip("spikingjelly")
    from spikingjelly.activation_based import functional, neuron

    _seeded(10)
    net = nn.Sequential(nn.Linear(5, 10), neuron.LIFNode(**cfg["lif"]), nn.Linear(10, 4),
                        neuron.IFNode(**cfg["if_"])).double()
    functional.reset_net(net)
    g = from_torch(net, (5,))
    assert g.semantics.profile == "spikingjelly"
    lif, iff = g.nodes["1"], g.nodes["3"]
    assert isinstance(lif, ir.LIF) and isinstance(iff, ir.IF)
    assert lif.spike_rule == iff.spike_rule == "ge"
    assert lif.reset == ("subtract" if cfg["lif"]["v_reset"] is None else "zero")
    x = _inputs((5,), scale=3.0, seed=11, offset=0.1)
    out = _run_steps(net, x)
    _assert_same_spikes(net, g, x, out, ["1", "3"])


def test_spikingjelly_conv_exact():
    pytest.importorskip("spikingjelly")
    from spikingjelly.activation_based import functional, layer, neuron

    _seeded(12)
    net = nn.Sequential(layer.Conv2d(1, 3, 3, padding="same"), neuron.LIFNode(tau=2.0),
                        layer.Flatten(), layer.Linear(3 * 4 * 4, 3), neuron.IFNode()).double()
    functional.reset_net(net)
    g = from_torch(net, (1, 4, 4))
    assert g.nodes["0"].padding == (1, 1)
    x = _inputs((1, 4, 4), scale=4.0, seed=13)
    out = _run_steps(net, x)
    _assert_same_spikes(net, g, x, out, ["1", "4"])


# -------------------------------------------------------------------------------------- Sinabs


def _run_sinabs(net: nn.Sequential, x_tb: torch.Tensor) -> dict[str, np.ndarray]:
    """Sinabs layers take [B, T, ...]: run the whole sequence per layer, return [T, B, ...]."""
    h = x_tb.transpose(0, 1).contiguous()
    outs = {}
    with torch.no_grad():
        for name, layer in net.named_children():
            h = layer(h).to(torch.float64)
            outs[name] = h.transpose(0, 1).numpy()
    return outs


@pytest.mark.parametrize("cfg", [
    dict(lif=dict(tau_mem=4.0, norm_input=True), scale=10.0),
    dict(lif=dict(tau_mem=3.0, norm_input=False), scale=3.0),
    dict(lif=dict(tau_mem=3.0, norm_input=False, spike_fn="single"), scale=3.0),
    dict(lif=dict(tau_mem=5.0, tau_syn=2.0, norm_input=False), scale=3.0),
], ids=["multispike-norm_input", "multispike", "singlespike", "tau_syn"])
def test_sinabs_exact(cfg):
    pytest.importorskip("sinabs")
    import sinabs.layers as sl
    from sinabs.activation import SingleSpike

    _seeded(14)
    kw = dict(cfg["lif"])
    single = kw.pop("spike_fn", None) == "single"
    spike = dict(spike_fn=SingleSpike) if single else {}
    net = nn.Sequential(nn.Linear(5, 10), sl.LIF(**kw, **spike), nn.Linear(10, 4),
                        sl.IAF(spike_threshold=torch.tensor(0.8), **spike)).double()
    g = from_torch(net, (5,))
    assert g.semantics.profile == "sinabs"
    node = g.nodes["1"]
    assert node.spike_rule == ("ge" if single else "multi")
    assert isinstance(node, ir.CubaLIF if "tau_syn" in kw else ir.LIF)
    assert isinstance(g.nodes["3"], ir.IF)
    alpha = float(np.exp(-1.0 / kw["tau_mem"]))
    np.testing.assert_allclose(node.decay, alpha, rtol=1e-15)
    if kw.get("norm_input", True):
        np.testing.assert_allclose(node.gain, 1 - alpha, rtol=1e-15)
    x = _inputs((5,), scale=cfg["scale"], seed=15, offset=-0.2)
    out = _run_sinabs(net, x)
    _assert_same_spikes(net, g, x, out, ["1", "3"], multi=not single)
    if not single:
        assert out["1"].max() > 1  # several spikes in one step did happen


def test_sinabs_squeeze_conv_exact():
    pytest.importorskip("sinabs")
    import sinabs.layers as sl

    _seeded(16)
    net = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), sl.LIFSqueeze(tau_mem=3.0, norm_input=False, batch_size=B),
                        sl.SumPool2d(2), nn.Flatten(), nn.Linear(3 * 2 * 2, 3),
                        sl.IAFSqueeze(batch_size=B)).double()
    g = from_torch(net, (1, 4, 4))
    assert isinstance(g.nodes["2"], ir.SumPool2d) and g.nodes["3"].start_dim == 0
    x = _inputs((1, 4, 4), scale=4.0, seed=17)
    # Squeeze layers take [B*T, ...] (batch major)
    h = x.transpose(0, 1).reshape((B * T, 1, 4, 4))
    outs = {}
    with torch.no_grad():
        for name, layer in net.named_children():
            h = layer(h).to(torch.float64)
            outs[name] = h.reshape((B, T) + h.shape[1:]).transpose(0, 1).numpy()
    _assert_same_spikes(net, g, x, outs, ["1", "5"], multi=True)


def test_sinabs_flatten_skips_time_axis():
    pytest.importorskip("sinabs")
    import sinabs.layers as sl

    g = from_torch(nn.Sequential(nn.Flatten(start_dim=2), nn.Linear(12, 3), sl.IAF()), (3, 4))
    assert g.nodes["0"].start_dim == 0 and g.shapes["0"] == (12,)
    with pytest.raises(UnsupportedError, match=r"^layer '0' \(torch\.nn\.Flatten\) has start_dim=1, which reaches "
                                               r"the batch or time axis"):
        from_torch(nn.Sequential(nn.Flatten(), nn.Linear(12, 3), sl.IAF()), (3, 4))


@pytest.mark.parametrize("kw,pattern", [
    ("reset", r"has reset_fn=MembraneReset, which in sinabs 3\.1 adds reset_value to every neuron"),
    ("min_v_mem", r"has min_v_mem=-1\.0, a lower clamp"),
])
def test_sinabs_options_rejected(kw, pattern):
    pytest.importorskip("sinabs")
    import sinabs.layers as sl
    from sinabs.activation import MembraneReset

    opts = dict(reset_fn=MembraneReset()) if kw == "reset" else dict(min_v_mem=-1.0)
    net = nn.Sequential(nn.Linear(3, 2), sl.LIF(tau_mem=2.0, **opts))
    with pytest.raises(UnsupportedError, match=r"^layer '1' \(sinabs\.layers\.LIF\) " + pattern):
        from_torch(net, (3,))


# ------------------------------------------------------------------------------------ torch.fx


class _Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        from neurosim.torch import LIF

        self.fc_in = nn.Linear(4, 6)
        self.lif1 = LIF(6, decay=0.8)
        self.fc_a = nn.Linear(6, 6)
        self.fc_skip = nn.Linear(4, 6, bias=False)
        self.lif2 = LIF(6, decay=0.9)
        self.head = nn.Sequential(nn.Linear(6, 3), LIF(3, decay=0.9, threshold=0.5))

    def forward(self, x):
        s = self.lif1(self.fc_in(x))
        s2 = self.lif2(self.fc_a(s) + self.fc_skip(x))
        return self.head(s2)


def test_fx_residual_exact():
    from neurosim.torch import run

    _seeded(18)
    net = _Residual().double()
    g = from_torch(net, (4,))
    assert set(g.predecessors("lif2")) == {"fc_a", "fc_skip"}
    assert g.predecessors("fc_skip") == ("input",)
    assert "head.1" in g.nodes and g.predecessors("output") == ("head.1",)
    x = _inputs((4,), scale=1.2, seed=19)
    with torch.no_grad():
        want = run(net, x).numpy()
    res = ref_run(g, x.numpy(), batched=True)
    assert np.array_equal(res.output_spikes, want)
    assert 0 < want.mean() < 1


class _TupleNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        import snntorch as snn

        self.fc = nn.Linear(3, 4)
        self.lif = snn.Leaky(beta=0.9)  # init_hidden=False: returns (spk, mem)

    def forward(self, x):
        spk, mem = self.lif(self.fc(x))
        return spk


def test_fx_snntorch_tuple_output():
    pytest.importorskip("snntorch")
    g = from_torch(_TupleNet(), (3,))
    assert list(g.nodes) == ["input", "fc", "lif", "output"]


class _Exp(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 4)

    def forward(self, x):
        return torch.exp(self.fc(x))


def test_fx_unsupported_function():
    # torch.relu is a DNN layer now (ReLU); torch.exp has no IR node
    with pytest.raises(UnsupportedError, match=r"^fx node 'exp' \(call_function torch\.exp\) of module "
                                               r".*_Exp is not supported; .* replace it with one of those$"):
        from_torch(_Exp(), (3,))


class _Relu(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 4)

    def forward(self, x):
        return torch.relu(self.fc(x))


def test_fx_functional_relu_is_a_dnn_layer():
    g = from_torch(_Relu(), (3,))
    assert isinstance(g.nodes["relu"], ir.ReLU) and g.predecessors("relu") == ("fc",)


class _Dynamic(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x
        return -x


def test_fx_untraceable():
    with pytest.raises(UnsupportedError, match=r"^module .*_Dynamic is neither an nn\.Sequential nor traceable"):
        from_torch(_Dynamic(), (3,))


# ------------------------------------------------------------------------------- errors, misc


def test_unsupported_layer():
    net = nn.Sequential(nn.Linear(4, 3), nn.PReLU())
    with pytest.raises(UnsupportedError, match=r"^layer '1' is a torch\.nn\.PReLU, which neurosim cannot import; "
                                               r"supported: .*torch\.nn\.Linear"):
        from_torch(net, (4,))


def test_maxpool_hint():
    # MaxPool2d lowers to the DNN MaxPool2d node now; 1-d max pooling keeps its hint
    net = nn.Sequential(nn.Conv1d(1, 2, 3), nn.MaxPool1d(2))
    with pytest.raises(UnsupportedError, match=r"^layer '1' is a torch\.nn\.MaxPool1d, which neurosim cannot "
                                               r"import: 1-d max pooling has no IR node; use MaxPool2d"):
        from_torch(net, (1, 6))
    g = from_torch(nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2)), (1, 6, 6))
    assert isinstance(g.nodes["1"], ir.MaxPool2d) and g.shapes["1"] == (2, 2, 2)


def test_shape_mismatch():
    net = nn.Sequential(nn.Linear(4, 3), nn.Linear(5, 2))
    with pytest.raises(ShapeError, match=r"^layer '1' \(torch\.nn\.Linear\): Dense expects input shape \(5,\), "
                                         r"found \(3,\)"):
        from_torch(net, (4,))
    with pytest.raises(ShapeError, match=r"^layer '0' \(torch\.nn\.Linear\): Dense expects input shape \(4,\)"):
        from_torch(net, (7,))


@pytest.mark.parametrize("bad", [(), (0, 3), (2.5,), "abc", None])
def test_bad_input_shape(bad):
    with pytest.raises(ShapeError, match=r"^input_shape must be a non-empty tuple of positive ints"):
        from_torch(nn.Sequential(nn.Linear(3, 2)), bad)


def test_not_a_module():
    with pytest.raises(FrontendError, match=r"^from_torch expects a torch\.nn\.Module, found 'dict'"):
        from_torch({}, (3,))
    with pytest.raises(FrontendError, match=r"^profile must be one of"):
        from_torch(nn.Sequential(nn.Linear(3, 2)), (3,), profile="keras")


def test_nm_detection():
    lin = nn.Linear(8, 4).double()
    with torch.no_grad():
        mask = torch.tensor([1, 1, 0, 0, 0, 1, 1, 0], dtype=torch.float64)
        lin.weight.mul_(mask)  # 2 nonzeros (adjacent) in every group of 4: 2:4, not 1:2
    dense = nn.Linear(4, 3).double()
    g = from_torch(nn.Sequential(lin, dense), (8,))
    assert g.nodes["0"].nm == (2, 4)
    assert g.nodes["1"].nm is None
    assert any("2:4" in n for n in g.semantics.notes)


def test_nm_detection_conv():
    conv = nn.Conv2d(1, 2, (1, 4), bias=False)
    with torch.no_grad():
        conv.weight.mul_(torch.tensor([1.0, 0.0, 0.0, 0.0]))
    g = from_torch(nn.Sequential(conv), (1, 3, 4))
    assert g.nodes["0"].nm == (1, 4)


def test_layer_mapping_details():
    net = nn.Sequential(
        nn.Identity(),
        nn.Sequential(nn.Conv1d(2, 3, 3, padding="same", bias=False), nn.Dropout(0.5)),
        nn.Flatten(1, -1),
        nn.Linear(12, 2),
    )
    g = from_torch(net, (2, 4), name_prefix="m.")
    assert list(g.nodes) == ["input", "m.1.0", "m.2", "m.3", "output"]
    conv = g.nodes["m.1.0"]
    assert isinstance(conv, ir.Conv1d) and conv.padding == (1,) and conv.bias is None
    assert conv.weight.dtype == np.float64
    assert np.array_equal(conv.weight, net[1][0].weight.detach().double().numpy())
    assert g.semantics.profile == "torch"
    assert any("Dropout" in n for n in g.semantics.notes)


@pytest.mark.parametrize("layer,pattern", [
    (nn.AvgPool2d(2, ceil_mode=True), r"^layer '0' \(torch\.nn\.AvgPool2d\) has ceil_mode=True"),
    (nn.AvgPool2d(3, padding=1, count_include_pad=False),
     r"^layer '0' \(torch\.nn\.AvgPool2d\) has count_include_pad=False"),
    (nn.Conv2d(1, 1, 2, padding="same"), r"^layer '0' \(torch\.nn\.Conv2d\) has padding='same' with kernel \(2, 2\)"),
    (nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect"), r"^layer '0' \(torch\.nn\.Conv2d\) has "
                                                             r"padding_mode='reflect'"),
    (nn.Flatten(0), r"^layer '0' \(torch\.nn\.Flatten\) has start_dim=0, which reaches the batch axis"),
])
def test_layer_options_rejected(layer, pattern):
    with pytest.raises(UnsupportedError, match=pattern):
        from_torch(nn.Sequential(layer), (1, 6, 6))


def test_supported_layers_listed():
    names = supported_layers()
    assert "snntorch.Leaky" in names and "torch.nn.Linear" in names and "sinabs.layers.IAF" in names


# ----------------------------------------------------------------------------- load_torch_file


def test_load_torch_file_roundtrip(tmp_path):
    from neurosim.torch import LIF

    net = nn.Sequential(nn.Linear(3, 4), LIF(4))
    path = tmp_path / "m.pt"
    torch.save(net, path)
    with pytest.raises(FormatError, match=r"^torch file '.*m\.pt' pickles a whole Python object \(a torch\.save\(model\) "
                                          r"file; it names torch\.nn\.modules\.container\.Sequential\): unpickling it runs code from the file, so neurosim refuses it; if you "
                                          r"trust the file pass --trust-pickle"):
        load_torch_file(path, (3,))
    from neurosim.frontends.torch.load import TrustPickleWarning

    with pytest.warns(TrustPickleWarning, match=r"^unpickling torch file '.*m\.pt' runs code from the file"):
        g = load_torch_file(path, (3,), trust_pickle=True)
    assert np.array_equal(g.nodes["0"].weight, net[0].weight.detach().double().numpy())


def test_load_torch_file_errors(tmp_path):
    missing = tmp_path / "nope.pt"
    with pytest.raises(FormatError, match=r"^torch file '.*nope\.pt' does not exist"):
        load_torch_file(missing, (3,))
    sd = tmp_path / "sd.pt"
    torch.save(nn.Linear(3, 2).state_dict(), sd)
    with pytest.raises(FormatError, match=r"^torch file '.*sd\.pt' holds a state dict \(OrderedDict of 2 entries\), "
                                          r"which has no architecture; build the model in Python"):
        load_torch_file(sd, (3,))
    full = tmp_path / "full.pt"
    torch.save(nn.Sequential(nn.Linear(3, 2)), full)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(FormatError, match=r"^torch file '.*cut\.pt' cannot be read \(.*\); the file is truncated"):
        load_torch_file(cut, (3,))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(FormatError, match=r"^torch file '.*junk\.pt' cannot be read"):
        load_torch_file(junk, (3,))


def test_module_imports_without_optional_frameworks():
    import subprocess
    import sys

    code = ("import sys; import neurosim.frontends.torch as m; "
            "bad = [k for k in ('torch', 'snntorch', 'sinabs', 'spikingjelly') if k in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_operator_add_constant_rejected():
    class AddConst(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(3, 3)

        def forward(self, x):
            return operator.add(self.fc(x), 1.0)

    with pytest.raises(UnsupportedError, match=r"^fx node 'add' \(call_function _operator\.add\) .* uses 1\.0, "
                                               r"which is not the output of a layer"):
        from_torch(AddConst(), (3,))


def test_shared_neuron_module_rejected():
    from neurosim.torch import LIF

    lif = LIF(4)
    net = nn.Sequential(nn.Linear(4, 4), lif, nn.Linear(4, 4), lif)
    with pytest.raises(UnsupportedError, match=r"^layer '3' \(neurosim\.torch\.LIF\) is a neuron module used a "
                                               r"second time \(first as layer '1'\)"):
        from_torch(net, (4,))


def test_profile_override_recorded():
    from neurosim.torch import LIF

    g = from_torch(nn.Sequential(nn.Linear(3, 2), LIF(2)), (3,), profile="torch")
    assert g.semantics.profile == "torch"
    assert any("given by the caller" in n for n in g.semantics.notes)


class _Twice(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        from neurosim.torch import LIF

        self.fc = nn.Linear(4, 4)
        self.lif = LIF(4)

    def forward(self, x):
        return self.lif(self.fc(self.lif(self.fc(x))))


def test_fx_shared_neuron_rejected():
    with pytest.raises(UnsupportedError, match=r"^layer 'lif' \(neurosim\.torch\.LIF\) is a neuron module used a "
                                               r"second time \(first as layer 'lif'\)"):
        from_torch(_Twice(), (4,))
