"""neurosim.zoo.e3dsnn_ir: E-3DSNN lowered to the IR -- parameter count, rulebooks, the energy script's
FLOP count through the IR and the metrics counters, and the forward against a dense-grid torch oracle.

Oracles: the repository's published figures (1.87M parameters = 1,874,216 by :mod:`neurosim.zoo.e3dsnn`;
2.92e7 FLOPs, 0.13432 mJ from ``energy_calculate.py``), :func:`neurosim.zoo.layer_pairs` /
:func:`neurosim.zoo.script_flops` (an independent rulebook count), and below a plain torch
re-implementation of ``SNN_3dv.forward`` on dense voxel grids (``F.conv3d`` masked to the active sites,
unfolded BatchNorm1d, ``torch.floor(torch.clamp(x, 0, 4) + 0.5)``).
"""

from __future__ import annotations

import numpy as np
import pytest
from fuzzing import assert_ok, run_cli

from neurosim.errors import IRError
from neurosim.metrics.ops_sparse import full_flops, script_faithful_flops
from neurosim.targets.neuromorphic.model import reference
from neurosim.zoo import e3dsnn, layer_pairs, n_params, script_flops
from neurosim.zoo.e3dsnn_ir import (
    BN_EPS,
    e3dsnn_graph,
    flop_report,
    learned_params,
    main,
    random_params,
    script_features,
    script_sites,
)

SMALL = dict(embed_channels=4, enc_channels=(4, 6, 8, 8), num_classes=5)


@pytest.fixture(scope="module")
def full_graph():
    return e3dsnn_graph("1.87M", seed=0)


def test_parameter_count_is_1874216(full_graph):
    assert learned_params(full_graph) == n_params(e3dsnn("1.87M")) == 1_874_216


def test_rulebooks_equal_the_zoo_counts(full_graph):
    pairs = layer_pairs(e3dsnn("1.87M"), script_sites(0))
    assert {n: full_graph.nodes[n].pairs for n in pairs} == pairs


def test_script_faithful_count_equals_the_script_formula():
    for seed in range(3):
        g = e3dsnn_graph("1.87M", seed=seed)
        assert script_faithful_flops(g) == script_flops(script_sites(seed))


def test_script_faithful_count_reproduces_the_published_figure():
    """16 seeded draws of the script's input (it sets no seed: its 2.92e7 is one draw): the published
    figure lies within 2 standard deviations of the mean, whose energy prints as the published 0.134 mJ."""
    rep = flop_report("1.87M", range(16))
    sf = rep["script_faithful"]
    assert abs(sf["mean"] - 2.92e7) < 2 * sf["std"], sf
    assert f"{sf['energy_mj']:.3f}" == "0.134"
    assert 1e5 < sf["std"] < 5e5
    assert rep["params"] == 1_874_216


def test_full_count_is_every_layer_with_true_channels(full_graph):
    pairs = layer_pairs(e3dsnn("1.87M"), script_sites(0))
    layers = {la.name: la for la in e3dsnn("1.87M")}
    full = full_flops(full_graph)
    outs = {n: full_graph.shapes[n][0] for n in full}
    assert full == {n: 2 * p * layers[n].in_channels * layers[n].out_channels - outs[n] for n, p in pairs.items()}
    assert 0.9e9 < sum(full.values()) < 1.1e9  # ~35x the script's stem-only count


# -- the forward against a dense-grid torch oracle --------------------------------------------------


def _torch_e3dsnn(layers, params, sites, feat):
    """SNN_3dv.forward on dense grids: SubM = conv3d(padding k//2) read at the sites (a voxel's input is
    its first row), SparseConv k2s2 = conv3d(stride 2) of the row sum read at unique(floor(site/2))."""
    import torch
    import torch.nn.functional as F

    def ms(x):
        return torch.floor(torch.clamp(x, 0, 4) + 0.5)

    def bn(x, p):
        m = torch.nn.BatchNorm1d(x.shape[1], eps=BN_EPS).double().eval()
        with torch.no_grad():
            for t, v in zip((m.weight, m.bias, m.running_mean, m.running_var), p["bn"]):
                t[:] = torch.tensor(v)
            return m(x)

    def grid(s, x, first):
        g = torch.zeros((x.shape[1],) + tuple(int(v) + 2 for v in s.max(axis=0)), dtype=torch.float64)
        rows = range(len(s) - 1, -1, -1) if first else range(len(s))
        for i in rows:
            if first:
                g[(slice(None),) + tuple(s[i])] = x[i]
            else:
                g[(slice(None),) + tuple(s[i])] += x[i]
        return g[None]

    def conv(layer, s, x):
        p = params[layer.name]
        w = torch.tensor(p["weight"])
        if layer.kind == "subm":
            y = F.conv3d(grid(s, x, True), w, padding=layer.kernel // 2)[0]
            out_s = s
        else:
            y = F.conv3d(grid(s, x, False), w, stride=layer.stride)[0]
            out_s = np.unique(s // layer.stride, axis=0)
        y = y[(slice(None),) + tuple(out_s.T)].T
        if layer.bias:
            y = y + torch.tensor(p["bias"])
        return (bn(y, p) if layer.bn else y), out_s

    s, x = sites, torch.tensor(feat)
    skip = None
    for layer in layers:
        y, s = conv(layer, s, ms(x) if layer.spike_in else x)
        if layer.kind == "strided":
            x = skip = y
        elif layer.name.endswith(".block.1") or layer.name.endswith("voxel_block.4"):
            x = skip = y + skip
        else:
            x = y
    return x.mean(dim=0).numpy()


@pytest.mark.parametrize("seed", [0, 1])
def test_forward_equals_a_dense_grid_torch_oracle(seed):
    pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    sites = rng.integers(0, 10, (80, 3))  # duplicates included
    feat = rng.normal(size=(80, 6))
    layers = e3dsnn("1.87M", **SMALL)
    params = random_params(layers, seed)
    g = e3dsnn_graph("1.87M", sites, params=params, **SMALL)
    res = reference.run(g, feat[None])
    want = _torch_e3dsnn(layers, params, sites, feat)
    np.testing.assert_allclose(res.output_spikes[0], want, rtol=1e-10, atol=1e-10)
    spikes = res.outputs["enc.1.blocks.0.block.1.ms"]
    assert 0 < np.count_nonzero(spikes) < spikes.size and spikes.max() > 1  # multi-spikes, not all silent


def test_script_input_is_seeded():
    assert np.array_equal(script_sites(3), script_sites(3)) and not np.array_equal(script_sites(3), script_sites(4))
    assert script_sites(0).shape == (9830, 3) and script_sites(0).max() < 64 and script_features(0).shape == (9830, 6)


@pytest.mark.parametrize("mutate,match", [
    (lambda p: p.pop("stem.3"), r"^e3dsnn_graph: params lacks layer 'stem\.3'; give every layer of \['stem\.0', "),
    (lambda p: p["stem.0"].update(weight=np.zeros((16, 6, 3, 3))),
     r"^e3dsnn_graph: params\['stem\.0'\]\['weight'\] has shape \(16, 6, 3, 3\), expected \(16, 6, 3, 3, 3\) "
     r"\(torch Conv3d layout \[out, in, k, k, k\]; permute spconv's \[out, k, k, k, in\]\)$"),
    (lambda p: p["stem.0"].update(bn=None),
     r"^e3dsnn_graph: params\['stem\.0'\]\['bn'\] must be \(gamma, beta, running_mean, running_var\), found "
     r"NoneType$"),
    (lambda p: p["final"].pop("bias"), r"^e3dsnn_graph: params\['final'\] lacks 'bias'; layer 'final' has a bias$"),
    (lambda p: p.update({"stem.0": 3}), r"^e3dsnn_graph: params\['stem\.0'\] must be a mapping with a 'weight' "
                                        r"entry, found int$"),
])
def test_params_validation(mutate, match):
    params = random_params(e3dsnn("1.87M"), 0)
    mutate(params)
    with pytest.raises(IRError, match=match):
        e3dsnn_graph("1.87M", script_sites(0)[:50], params=params)


def test_bad_sites_are_refused_by_the_node():
    with pytest.raises(IRError, match=r"^SubMConv3d\.sites must hold voxel coordinates in 0\.\.1048575, found -2; "):
        e3dsnn_graph("1.87M", np.array([[0, -2, 0]]), **SMALL)


def test_metrics_command_prints_levels_a_and_b(tmp_path):
    g = e3dsnn_graph("1.87M", script_sites(0)[:400], seed=0, **SMALL)
    from neurosim.ir import save

    model = save(g, tmp_path / "e3dsnn_small.nsim")
    x = tmp_path / "x.npy"
    np.save(x, script_features(0, n=400)[None, None])
    out = run_cli(["metrics", str(model), "--input", str(x)], kind="e3dsnn metrics")
    assert_ok(out)
    assert f"{learned_params(g):,}" in out.stdout
    assert "(a) papers' method" in out.stdout and "(b) memory-aware" in out.stdout


def test_main_prints_both_counts(capsys):
    assert main(["--seeds", "2"]) == 0
    text = capsys.readouterr().out
    assert "1,874,216 parameters" in text and "script-faithful" in text and "full (every layer" in text


@pytest.mark.slow
def test_full_model_metrics_under_five_minutes(tmp_path):
    import time

    t0 = time.perf_counter()
    assert main(["--seeds", "1", "--save", str(tmp_path / "e3")]) == 0
    out = run_cli(["metrics", str(tmp_path / "e3.nsim"), "--input", str(tmp_path / "e3_input.npy")],
                  kind="e3dsnn metrics full")
    assert_ok(out)
    assert "1,874,216" in out.stdout
    assert time.perf_counter() - t0 < 300
