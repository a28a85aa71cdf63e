"""NIR import/export: lossless round trips, source profiles, framework exporters, bad input."""

import nir
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from neurosim.targets.neuromorphic.model.reference import run
from neurosim.errors import FormatError, FrontendError, ShapeError, UnsupportedError
from neurosim.frontends.nir import from_nir, read_nir, to_nir, write_nir
from neurosim.frontends.profiles import get_profile, profiles
from neurosim.ir import LIF


def _neuron(kind, n, rng):
    pos = lambda: rng.uniform(0.002, 0.05, size=n)  # noqa: E731  time constants in seconds
    thr = rng.uniform(0.5, 2.0, size=n)
    return {
        "LIF": lambda: nir.LIF(tau=pos(), r=rng.uniform(0.5, 2, n), v_leak=rng.normal(size=n) * 0.1, v_threshold=thr,
                               v_reset=rng.normal(size=n) * 0.1),
        "CubaLIF": lambda: nir.CubaLIF(tau_syn=pos(), tau_mem=pos(), r=rng.uniform(0.5, 2, n), v_leak=np.zeros(n),
                                       v_threshold=thr, w_in=rng.uniform(0.5, 2, n)),
        "IF": lambda: nir.IF(r=rng.uniform(0.5, 2, n), v_threshold=thr),
        "LI": lambda: nir.LI(tau=pos(), r=np.ones(n), v_leak=np.zeros(n)),
        "I": lambda: nir.I(r=rng.uniform(0.5, 2, n)),
        "Threshold": lambda: nir.Threshold(threshold=thr),
        "Scale": lambda: nir.Scale(scale=rng.normal(size=n)),
        "Delay": lambda: nir.Delay(delay=rng.integers(0, 4, size=n) * 1e-3),
    }[kind]()


def random_nir_graph(seed: int, neuron: str, projection: str, conv: str | None):
    """A NIR graph exercising one neuron type, one projection type and optionally a conv stack."""
    rng = np.random.default_rng(seed)
    nodes, edges = {}, []

    def add(name, node):
        if nodes:
            edges.append((list(nodes)[-1], name))
        nodes[name] = node

    if conv == "Conv2d":
        add("input", nir.Input(input_type={"input": np.array([2, 6, 6])}))
        add("conv", nir.Conv2d(input_shape=(6, 6), weight=rng.normal(size=(3, 2, 3, 3)), stride=1, padding=1,
                               dilation=1, groups=1, bias=rng.normal(size=3)))
        add("lif0", nir.LIF(tau=np.full((3, 6, 6), 0.01), r=np.ones((3, 6, 6)), v_leak=np.zeros((3, 6, 6)),
                            v_threshold=np.ones((3, 6, 6))))
        add("pool", nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0]))
            if seed % 2 else nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])))
        add("flat", nir.Flatten(input_type={"input": np.array([3, 3, 3])}, start_dim=0, end_dim=-1))
        n_in = 27
    elif conv == "Conv1d":
        add("input", nir.Input(input_type={"input": np.array([2, 9])}))
        add("conv", nir.Conv1d(input_shape=9, weight=rng.normal(size=(3, 2, 3)), stride=2, padding=0, dilation=1,
                               groups=1, bias=rng.normal(size=3)))
        add("flat", nir.Flatten(input_type={"input": np.array([3, 4])}, start_dim=0, end_dim=-1))
        n_in = 12
    else:
        n_in = 5
        add("input", nir.Input(input_type={"input": np.array([n_in])}))
    n = 4
    w = rng.normal(size=(n, n_in))
    add("proj", nir.Affine(weight=w, bias=rng.normal(size=n)) if projection == "Affine" else nir.Linear(weight=w))
    add("neuron", _neuron(neuron, n, rng))
    add("output", nir.Output(output_type={"output": np.array([n])}))
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


NEURONS = ["LIF", "CubaLIF", "IF", "LI", "I", "Threshold", "Scale", "Delay"]


@given(seed=st.integers(0, 2**31 - 1), neuron=st.sampled_from(NEURONS), projection=st.sampled_from(["Affine", "Linear"]),
       conv=st.sampled_from([None, "Conv1d", "Conv2d"]), profile=st.sampled_from(sorted(profiles())))
def test_nir_roundtrip_is_lossless(seed, neuron, projection, conv, profile, tmp_path_factory):
    """NIR -> IR -> NIR -> IR gives the identical IR (in memory and through a file)."""
    g = random_nir_graph(seed, neuron, projection, conv)
    ir1 = from_nir(g, source=profile, dt_s=1e-3)
    ng, _ = to_nir(ir1)
    assert from_nir(ng).equals(ir1)
    path = tmp_path_factory.mktemp("nir") / "m.nir"
    write_nir(ir1, path)
    assert read_nir(path).equals(ir1)


def test_export_is_faithful_for_other_tools(rng):
    """Without neurosim's metadata the NIR parameters alone reproduce the model (spec semantics)."""
    g = random_nir_graph(3, "LIF", "Affine", None)
    ir1 = from_nir(g, dt_s=1e-3)
    ng, lost = to_nir(ir1)
    assert lost == []
    for node in ng.nodes.values():
        node.metadata = {}
    ng.metadata = {}
    ir2 = from_nir(ng, dt_s=1e-3)
    np.testing.assert_allclose(ir2.nodes["neuron"].decay, ir1.nodes["neuron"].decay, rtol=1e-12)
    x = (rng.random((30, 5)) < 0.5).astype(float)
    assert np.array_equal(run(ir1, x).output_spikes, run(ir2, x).output_spikes)


def test_export_lists_what_nir_cannot_express():
    g = random_nir_graph(1, "LIF", "Linear", None)
    ir1 = from_nir(g, source="snntorch")
    _, lost = to_nir(ir1)
    assert "node 'neuron': reset 'subtract' (NIR resets to v_reset)" in lost
    assert "node 'neuron': delayed reset timing (NIR resets in the same step)" in lost


def test_profiles_differ_as_documented():
    g = random_nir_graph(5, "LIF", "Affine", None)
    tau = g.nodes["neuron"].tau
    nir_ir = from_nir(g, dt_s=1e-3)
    np.testing.assert_allclose(nir_ir.nodes["neuron"].decay, 1 - 1e-3 / tau)
    sinabs = from_nir(g, source="sinabs")
    np.testing.assert_allclose(sinabs.nodes["neuron"].decay, np.exp(-1 / tau))
    assert sinabs.nodes["neuron"].spike_rule == "multi"
    r = g.nodes["neuron"].r  # norm_input (sinabs.layers.LIF's default): v = a*v + (1 - a)*x
    np.testing.assert_allclose(sinabs.nodes["neuron"].gain, r * (1 - np.exp(-1 / tau)), rtol=1e-12)
    np.testing.assert_allclose(from_nir(g, source="sinabs", norm_input=False).nodes["neuron"].gain, r)
    li = random_nir_graph(5, "LI", "Affine", None)  # ExpLeak defaults to norm_input=False: LI keeps r
    np.testing.assert_allclose(from_nir(li, source="sinabs").nodes["neuron"].gain, li.nodes["neuron"].r)
    norse = from_nir(g, source="norse")  # Norse writes tau = dt * true tau
    np.testing.assert_allclose(norse.nodes["neuron"].decay, 1 - 1e-3 / (tau / 1e-3))
    snn = from_nir(g, source="snntorch")
    assert snn.nodes["neuron"].reset_timing == "delayed" and snn.semantics.dt_s == 1e-4


def test_profile_norm_input_must_be_a_bool():
    with pytest.raises(FrontendError, match=r"^source profile 'sinabs' field 'norm_input' must be true or false, found 'yes'$"):
        get_profile("sinabs").with_overrides(norm_input="yes")


def test_unknown_profile_override():
    with pytest.raises(FrontendError, match=r"^unknown profile override\(s\) \['tau'\]; known: \[.*'norm_input'"):
        get_profile("sinabs").with_overrides(tau=1.0)


def test_overrides_beat_profile():
    g = random_nir_graph(5, "LIF", "Affine", None)
    ir1 = from_nir(g, source="norse", dt_s=2e-3, reset="subtract", spike_rule="ge")
    node = ir1.nodes["neuron"]
    assert (node.reset, node.spike_rule, ir1.semantics.dt_s) == ("subtract", "ge", 2e-3)


def test_nir_profile_without_dt_is_a_clear_error():
    g = random_nir_graph(5, "LIF", "Affine", None)
    with pytest.raises(FrontendError, match=r"^node 'neuron' \(leaky neuron\) has time constants but the NIR file records no dt"):
        from_nir(g)


def test_unknown_primitive_names_node():
    g = random_nir_graph(5, "LIF", "Affine", None)
    g.nodes["neuron"] = nir.CubaLI(tau_syn=np.ones(4), tau_mem=np.ones(4), r=np.ones(4), v_leak=np.zeros(4))
    with pytest.raises(UnsupportedError, match=r"^node 'neuron' is a NIR CubaLI, which neurosim cannot import; supported primitives:"):
        from_nir(g, dt_s=1e-3)


def test_shape_mismatch_names_node():
    g = random_nir_graph(5, "LIF", "Affine", None)
    g.nodes["proj"] = nir.Affine(weight=np.ones((4, 7)), bias=np.zeros(4))
    with pytest.raises(ShapeError, match=r"^node 'proj': Dense expects input shape \(7,\), found \(5,\);"):
        from_nir(g, dt_s=1e-3)


def test_non_integer_delay():
    g = random_nir_graph(5, "Delay", "Affine", None)
    g.nodes["neuron"] = nir.Delay(delay=np.full(4, 1.5e-3))
    with pytest.raises(UnsupportedError, match=r"^node 'neuron': delay of 1\.5 timesteps is not a whole number of steps at dt=0\.001;"):
        from_nir(g, dt_s=1e-3)


def test_negative_decay_from_tau_shorter_than_dt():
    g = random_nir_graph(5, "LIF", "Affine", None)
    with pytest.raises(Exception, match=r"^node 'neuron': LIF\.decay must be in \[0, 1\]"):
        from_nir(g, dt_s=1.0)


def test_truncated_nir_file(tmp_path):
    g = random_nir_graph(2, "LIF", "Affine", None)
    path = tmp_path / "m.nir"
    write_nir(from_nir(g, dt_s=1e-3), path)
    data = path.read_bytes()
    cut = tmp_path / "cut.nir"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(FormatError, match=r"^'.*cut\.nir' is not a readable NIR file \("):
        read_nir(cut)


def test_not_a_nir_file(tmp_path):
    p = tmp_path / "junk.nir"
    p.write_text("hello")
    with pytest.raises(FormatError, match=r"^'.*junk\.nir' is not a readable NIR file \(OSError"):
        read_nir(p)


def test_missing_nir_file(tmp_path):
    with pytest.raises(FormatError, match=r"^NIR file '.*absent\.nir' does not exist$"):
        read_nir(tmp_path / "absent.nir")


def test_unknown_profile():
    with pytest.raises(FrontendError, match=r"^unknown source profile 'brian'; choose one of"):
        get_profile("brian")


def test_nested_subgraph_flattened_recurrent(rng):
    """snnTorch-style RLeaky export: a nested graph with a LIF <-> Affine cycle."""
    n = 3
    sub = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([n])}),
        "lif": nir.LIF(tau=np.full(n, 1e-3), r=np.full(n, 10.0), v_leak=np.zeros(n), v_threshold=np.ones(n)),
        "w_rec": nir.Affine(weight=rng.normal(size=(n, n)), bias=np.full(n, 0.05)),
        "output": nir.Output(output_type={"output": np.array([n])}),
    }, edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")], type_check=False)
    top = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([2])}),
        "fc": nir.Linear(weight=rng.normal(size=(n, 2))),
        "rlif": sub,
        "output": nir.Output(output_type={"output": np.array([n])}),
    }, edges=[("input", "fc"), ("fc", "rlif"), ("rlif", "output")], type_check=False)
    g = from_nir(top, source="snntorch")
    assert set(g.nodes) == {"input", "fc", "rlif.lif", "rlif.w_rec", "output"}
    assert g.recurrent_edges == {("rlif.w_rec", "rlif.lif")}
    assert isinstance(g.nodes["rlif.lif"], LIF)
    np.testing.assert_allclose(g.nodes["rlif.lif"].decay, 0.9)


# -- framework exporters, spike for spike ------------------------------------------------------------

def test_norse_export_matches_norse_forward():
    torch = pytest.importorskip("torch")
    nt = pytest.importorskip("norse.torch")
    torch.manual_seed(0)
    for cell, scale in ((nt.LIFBoxCell(), 12.0), (nt.LIFCell(), 2.0), (nt.IAFCell(), 1.0)):
        net = nt.SequentialState(torch.nn.Linear(6, 8), cell).double()
        graph = from_nir(nt.to_nir(net, torch.zeros(6, dtype=torch.float64)), source="norse")
        x = torch.rand(30, 4, 6, dtype=torch.float64) * scale
        state, outs = None, []
        with torch.no_grad():
            for t in range(30):
                z, state = net(x[t], state)
                outs.append(z.numpy())
        theirs = np.stack(outs)
        ours = run(graph, x.numpy(), batched=True).output_spikes
        assert 0 < theirs.mean() < 1, type(cell).__name__
        assert np.array_equal(theirs, ours), type(cell).__name__


def test_sinabs_export_matches_sinabs_forward():
    torch = pytest.importorskip("torch")
    sl = pytest.importorskip("sinabs.layers")
    from sinabs.nir import to_nir as sinabs_to_nir

    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Linear(6, 8), sl.LIF(tau_mem=torch.tensor(3.0), norm_input=False)).double()
    x = torch.rand(4, 30, 6, dtype=torch.float64) * 2  # sinabs is [B, T, ...]
    with torch.no_grad():
        theirs = net(x).numpy().transpose(1, 0, 2)
    graph = from_nir(sinabs_to_nir(net, torch.zeros(1, 6, dtype=torch.float64)), source="sinabs", norm_input=False)
    ours = run(graph, x.numpy().transpose(1, 0, 2), batched=True).output_spikes
    assert theirs.max() >= 2  # multi-spike exercised
    assert np.array_equal(theirs, ours)


def _snntorch_style_nir(beta, alpha, thr, w, dt=1e-4):
    """The NIR graph snnTorch 1.0's exporter means to write (its own export fails with nir 1.0.8)."""
    n, n_in = w.shape
    tau_mem = dt / (1 - beta)
    cell = (nir.LIF(tau=np.full(n, tau_mem), r=np.full(n, tau_mem / dt), v_leak=np.zeros(n), v_threshold=np.full(n, thr))
            if alpha is None else
            nir.CubaLIF(tau_syn=np.full(n, dt / (1 - alpha)), tau_mem=np.full(n, tau_mem), r=np.full(n, tau_mem / dt),
                        v_leak=np.zeros(n), v_threshold=np.full(n, thr), w_in=np.full(n, (dt / (1 - alpha)) / dt)))
    return nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([n_in])}),
                               "fc": nir.Linear(weight=w), "cell": cell,
                               "output": nir.Output(output_type={"output": np.array([n])})},
                        edges=[("input", "fc"), ("fc", "cell"), ("cell", "output")], type_check=False)


@pytest.mark.parametrize("alpha", [None, 0.6])
def test_snntorch_profile_matches_snntorch_forward(alpha):
    """snnTorch's export formulas (tau = dt/(1-beta), r = tau/dt, w_in = tau_syn/dt) under the snntorch profile."""
    torch = pytest.importorskip("torch")
    snn = pytest.importorskip("snntorch")
    rng = np.random.default_rng(7)
    beta, thr, w = 0.875, 1.0, rng.normal(size=(5, 4)) * 0.9  # beta, alpha exact in binary: no tau rounding
    alpha = None if alpha is None else 0.625
    graph = from_nir(_snntorch_style_nir(beta, alpha, thr, w), source="snntorch")
    cell = snn.Leaky(beta=beta, threshold=thr) if alpha is None else snn.Synaptic(alpha=alpha, beta=beta, threshold=thr)
    x = (rng.random((30, 3, 4)) < 0.5).astype(np.float64)
    cur = torch.tensor(x @ w.T)
    spikes = []
    state = cell.init_leaky() if alpha is None else cell.init_synaptic()
    with torch.no_grad():
        for t in range(30):
            if alpha is None:
                s, state = cell(cur[t], state)
            else:
                s, syn, mem = cell(cur[t], *state)
                state = (syn, mem)
            spikes.append(s.double().numpy())
    theirs = np.stack(spikes)
    ours = run(graph, x, batched=True).output_spikes
    assert 0 < theirs.mean() < 1
    assert np.array_equal(theirs, ours)
