"""Sparse-family IR nodes (neurosim.ir.nodes.sparse), their reference kernels and op counters, and the
multispike cap (``max_spikes``) of the spiking neurons.

Oracles: a dense 3-D cross-correlation of the scattered voxel grid, masked to the active sites, in plain
numpy below (not neurosim.ir.ops); torch's conv3d / BatchNorm1d; E-3DSNN's own multispike
``torch.floor(torch.clamp(x, 0, 4) + 0.5)``; hand-counted rulebooks.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from neurosim.errors import IRError, ShapeError, UnsupportedError
from neurosim.ir import load, save
from neurosim.ir.graph import Graph
from neurosim.ir.nodes import IF, LIF, Input, Output
from neurosim.ir.nodes.sparse import (
    MAX_COORD,
    Conv3d,
    SiteMean,
    SparseConv3d,
    SubMConv3d,
    fold_batchnorm,
)
from neurosim.metrics.ops import counter_for
from neurosim.metrics.ops_sparse import gemm_flops
from neurosim.targets.neuromorphic.model import reference

# -- the oracle: dense grids in plain numpy ------------------------------------------------------


def _scatter(sites, x, first_wins: bool):
    """``x [N, C]`` on a dense grid ``[C, X, Y, Z]``: the first row of a voxel wins (submanifold input)
    or the rows of a voxel add up (strided input)."""
    shape = tuple(sites.max(axis=0) + 1)
    grid = np.zeros((x.shape[1],) + shape)
    order = range(len(sites) - 1, -1, -1) if first_wins else range(len(sites))
    for i in order:
        if first_wins:
            grid[(slice(None),) + tuple(sites[i])] = x[i]
        else:
            grid[(slice(None),) + tuple(sites[i])] += x[i]
    return grid


def _dense_conv(grid, w, stride, pad_lo, pad_hi):
    """Cross-correlation of ``grid [C, *S]`` with ``w [O, C, *K]``, explicit loops over taps."""
    g = np.pad(grid, [(0, 0)] + [(p, q) for p, q in zip(pad_lo, pad_hi)])
    k = w.shape[2:]
    out = [(g.shape[1 + i] - k[i]) // stride[i] + 1 for i in range(3)]
    y = np.zeros((w.shape[0],) + tuple(out))
    for tap in itertools.product(*(range(n) for n in k)):
        sl = tuple(slice(tap[i], tap[i] + stride[i] * (out[i] - 1) + 1, stride[i]) for i in range(3))
        y += np.einsum("oc,cxyz->oxyz", w[(slice(None), slice(None)) + tap], g[(slice(None),) + sl])
    return y


def _subm_oracle(sites, x, w, b=None):
    r = [k // 2 for k in w.shape[2:]]
    y = _dense_conv(_scatter(sites, x, True), w, (1, 1, 1), r, r)
    out = y[(slice(None),) + tuple(sites.T)].T
    return out if b is None else out + b


def _strided_oracle(sites, x, w, stride):
    k = w.shape[2:]
    grid = _scatter(sites, x, False)
    occ = _scatter(sites, np.ones((len(sites), 1)), False)
    y = _dense_conv(grid, w, stride, (0, 0, 0), k)  # pad above: the voxel grid is unbounded there
    hit = _dense_conv(occ, np.ones((1, 1) + k), stride, (0, 0, 0), k)[0] > 0
    q = np.argwhere(hit)  # lexicographic order, as the node's sorted unique sites
    return q, y[(slice(None),) + tuple(q.T)].T


def _cloud(seed, n=40, extent=6, dup=True):
    rng = np.random.default_rng(seed)
    sites = rng.integers(0, extent, (n, 3))
    if not dup:
        sites = np.unique(sites, axis=0)
        sites = sites[rng.permutation(len(sites))]
    return rng, sites


def _run(node, x, batched=False):
    n, c = node.fixed_input_shape()
    g = Graph({"in": Input(shape=(n, c)), "conv": node,
               "out": Output(shape=node.output_shape((n, c)))}, (("in", "conv"), ("conv", "out")))
    return reference.run(g, x[None], batched=batched).output_spikes[0]


# -- SubMConv3d -----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed,kernel,dup", [(0, (3, 3, 3), False), (1, (3, 3, 3), True), (2, (5, 5, 5), True),
                                             (3, (1, 1, 1), True), (4, (3, 1, 5), False)])
def test_subm_equals_dense_conv_masked_to_the_sites(seed, kernel, dup):
    rng, sites = _cloud(seed, dup=dup)
    w = rng.normal(size=(4, 3) + kernel)
    b = rng.normal(size=4)
    x = rng.normal(size=(len(sites), 3))
    node = SubMConv3d(weight=w, bias=b, sites=sites)
    np.testing.assert_allclose(_run(node, x), _subm_oracle(sites, x, w, b), rtol=1e-12, atol=1e-12)
    assert np.array_equal(node.output_sites, sites)


def test_subm_batched_rows_are_independent():
    rng, sites = _cloud(5)
    w = rng.normal(size=(2, 3, 3, 3, 3))
    x = rng.normal(size=(2, len(sites), 3))
    node = SubMConv3d(weight=w, sites=sites)
    y = _run(node, x, batched=True)
    for i in range(2):
        np.testing.assert_allclose(y[i], _subm_oracle(sites, x[i], w), rtol=1e-12, atol=1e-12)


def test_subm_rulebook_pairs_by_hand():
    # two adjacent voxels and a far one: 2 + 2 self/neighbour pairs + 1 self pair; a duplicate row adds
    # its own 2 (itself, the neighbour) and is read by nobody else twice (one row per voxel)
    sites = np.array([[0, 0, 0], [0, 0, 1], [5, 5, 5]])
    node = SubMConv3d(weight=np.ones((1, 1, 3, 3, 3)), sites=sites)
    assert node.pairs == 5
    dup = SubMConv3d(weight=np.ones((1, 1, 3, 3, 3)), sites=np.vstack([sites, [[0, 0, 0]]]))
    assert dup.pairs == 7
    y = _run(dup, np.array([[1.0], [10.0], [100.0], [1000.0]]))
    # the duplicate row (1000) is never read: voxel (0,0,0) supplies its first row's value 1
    np.testing.assert_array_equal(y[:, 0], [11.0, 11.0, 100.0, 11.0])


def test_subm_pairs_agree_with_the_zoo_count():
    from neurosim.zoo import subm_pairs

    _, sites = _cloud(6, n=300, extent=10)
    assert SubMConv3d(weight=np.zeros((1, 1, 3, 3, 3)), sites=sites).pairs == subm_pairs(sites, 3)
    assert SubMConv3d(weight=np.zeros((1, 1, 5, 5, 5)), sites=sites).pairs == subm_pairs(sites, 5)


# -- SparseConv3d ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed,kernel,stride", [(0, 2, 2), (1, 2, 2), (2, 3, 2), (3, 3, 1), (4, 4, 2)])
def test_strided_equals_dense_strided_conv(seed, kernel, stride):
    rng, sites = _cloud(seed, n=50, extent=9)
    w = rng.normal(size=(3, 2) + (kernel,) * 3)
    x = rng.normal(size=(len(sites), 2))
    node = SparseConv3d(weight=w, sites=sites, stride=stride)
    q, want = _strided_oracle(sites, x, w, (stride,) * 3)
    assert np.array_equal(node.output_sites, q)
    np.testing.assert_allclose(_run(node, x), want, rtol=1e-12, atol=1e-12)


def test_k2s2_downsamples_to_unique_floor_and_one_pair_per_row():
    sites = np.array([[0, 0, 0], [1, 1, 1], [2, 0, 0], [3, 1, 1], [0, 0, 0]])
    node = SparseConv3d(weight=np.ones((1, 1, 2, 2, 2)), sites=sites, stride=2)
    assert node.output_sites.tolist() == [[0, 0, 0], [1, 0, 0]]
    assert node.pairs == 5  # duplicates included, as spconv's rulebook
    y = _run(node, np.array([[1.0], [2.0], [4.0], [8.0], [16.0]]))
    assert y[:, 0].tolist() == [19.0, 12.0]  # the duplicate row adds its value


# -- Conv3d, SiteMean, BatchNorm folding --------------------------------------------------------


def test_dense_conv3d_equals_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    w = rng.normal(size=(4, 2, 3, 2, 3))
    b = rng.normal(size=4)
    x = rng.normal(size=(4, 5, 6, 7))
    node = Conv3d(weight=w, bias=b, stride=(1, 2, 1), padding=(1, 0, 2), groups=2)
    g = Graph({"in": Input(shape=x.shape), "c": node, "out": Output(shape=node.output_shape(x.shape))},
              (("in", "c"), ("c", "out")))
    y = reference.run(g, x[None]).output_spikes[0]
    want = torch.nn.functional.conv3d(torch.tensor(x[None]), torch.tensor(w), torch.tensor(b), stride=(1, 2, 1),
                                      padding=(1, 0, 2), groups=2)[0].numpy()
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)
    c = counter_for(node)
    assert c.flops(node, x.shape) == int(np.prod(node.output_shape(x.shape))) * 2 * 3 * 2 * 3


def test_site_mean_is_the_mean_over_rows():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(1, 2, 9, 3))
    g = Graph({"in": Input(shape=(9, 3)), "m": SiteMean(), "out": Output(shape=(3,))}, (("in", "m"), ("m", "out")))
    y = reference.run(g, x, batched=True).output_spikes[0]
    np.testing.assert_allclose(y, x[0].sum(axis=1) / 9, rtol=1e-12)


def test_fold_batchnorm_equals_torch_batchnorm1d():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    w = rng.normal(size=(5, 3, 1, 1, 1))
    gamma, beta, mean, var = rng.uniform(0.5, 2, 5), rng.normal(size=5), rng.normal(size=5), rng.uniform(0.1, 2, 5)
    bn = torch.nn.BatchNorm1d(5, eps=1e-3).double().eval()
    with torch.no_grad():
        bn.weight[:], bn.bias[:], bn.running_mean[:], bn.running_var[:] = map(torch.tensor, (gamma, beta, mean, var))
    x = rng.normal(size=(11, 3))
    want = bn(torch.tensor(x @ w[:, :, 0, 0, 0].T)).detach().numpy()
    wf, bf = fold_batchnorm(w, None, gamma, beta, mean, var, 1e-3)
    np.testing.assert_allclose(x @ wf[:, :, 0, 0, 0].T + bf, want, rtol=1e-12, atol=1e-12)


# -- counters -------------------------------------------------------------------------------------


def test_counter_fanout_and_flops_by_hand():
    sites = np.array([[0, 0, 0], [0, 0, 1], [5, 5, 5]])
    w = np.ones((3, 2, 3, 3, 3))
    w[1, 0] = 0.0  # output channel 1 ignores input channel 0 at every tap
    node = SubMConv3d(weight=w, sites=sites, bias=np.zeros(3), folded_bn=True)
    c = counter_for(node)
    assert c.flops(node, (3, 2)) == 5 * 2 * 3  # 5 pairs x C_in x C_out
    dense = c.fanout(node, (3, 2), True)
    assert dense.tolist() == [[6, 6], [6, 6], [3, 3]]  # rows read by 2, 2, 1 pairs, x 3 outputs
    assert c.fanout(node, (3, 2), False).tolist() == [[4, 6], [4, 6], [2, 3]]
    assert dense.sum() == c.flops(node, (3, 2))
    assert c.params(node) == w.size + 2 * 3  # weight + BatchNorm gamma, beta (the folded bias is not counted)
    assert c.params(SubMConv3d(weight=w, sites=sites, bias=np.zeros(3))) == w.size + 3
    assert gemm_flops(node) == 2 * 5 * 2 * 3 - 3
    assert node.n_params() == w.size + 3  # the stored arrays: the coordinates are not parameters


# -- the multispike cap -----------------------------------------------------------------------------


def _ms_grid():
    ties = np.arange(-1.0, 6.01, 0.5)
    near = np.concatenate([np.nextafter(ties, -np.inf), np.nextafter(ties, np.inf)])
    return np.concatenate([np.arange(-3.0, 8.0, 0.0625), ties, near, [0.0, -0.0, 3.5, 4.0, 4.5, 1e6]])


@pytest.mark.parametrize("cls,dtype", [(LIF, np.float64), (IF, np.float64), (LIF, np.float32)])
def test_multispike_neuron_equals_e3dsnn_multispike(cls, dtype):
    """``floor(clamp(x, 0, 4) + 0.5)``: .5 ties round up (0.5 -> 1, 3.5 -> 4), the cap is 4."""
    torch = pytest.importorskip("torch")
    x = _ms_grid().astype(dtype)
    extra = {"decay": 0.0} if cls is LIF else {}
    node = cls(shape=x.shape, bias=0.5, threshold=1.0, spike_rule="multi", max_spikes=4, **extra)
    g = Graph({"in": Input(shape=x.shape), "ms": node, "out": Output(shape=x.shape)}, (("in", "ms"), ("ms", "out")))
    s = reference.run(g, x[None], dtype=dtype).output_spikes[0]
    tx = torch.tensor(x)
    want = torch.floor(torch.clamp(tx, 0, 4) + 0.5).numpy()
    np.testing.assert_array_equal(s, want)
    assert s[np.flatnonzero(x == 0.5)[0]] == 1 and s[np.flatnonzero(x == 3.5)[0]] == 4


def test_multispike_lif_decay0_is_stateless_over_steps():
    x = np.array([[0.3], [0.3], [3.7], [9.0], [0.49]])
    node = LIF(shape=(1,), decay=0.0, bias=0.5, threshold=1.0, spike_rule="multi", max_spikes=4)
    g = Graph({"in": Input(shape=(1,)), "ms": node, "out": Output(shape=(1,))}, (("in", "ms"), ("ms", "out")))
    assert reference.run(g, x).output_spikes[:, 0].tolist() == [0, 0, 4, 4, 0]


def test_max_spikes_caps_the_fixed_point_rule_and_the_reset():
    from neurosim.ir.fixedpoint import FixedPoint
    from neurosim.ir.nodes import NeuronFixedPoint

    fx = NeuronFixedPoint(state=FixedPoint(16), leak="none")
    node = IF(shape=(3,), threshold=2.0, spike_rule="multi", max_spikes=2, fixed=fx)
    g = Graph({"in": Input(shape=(3,)), "n": node, "out": Output(shape=(3,))}, (("in", "n"), ("n", "out")))
    r = reference.run(g, np.array([[1, 5, 11]]), mode="fixed")
    assert r.output_spikes[0].tolist() == [0, 2, 2]
    assert r.state["n"]["v"].tolist() == [1, 1, 7]  # subtract the capped count times the threshold


def test_uncapped_multi_is_unchanged():
    node = IF(shape=(1,), threshold=1.0, spike_rule="multi")
    g = Graph({"in": Input(shape=(1,)), "n": node, "out": Output(shape=(1,))}, (("in", "n"), ("n", "out")))
    assert reference.run(g, np.array([[9.5]])).output_spikes[0].tolist() == [9.0]


@pytest.mark.parametrize("value,match", [
    (0, r"^IF\.max_spikes must be None \(no cap\) or an int in 1\.\.2147483647, found 0$"),
    (True, r"^IF\.max_spikes must be None \(no cap\) or an int in 1\.\.2147483647, found True$"),
    (2.0, r"^IF\.max_spikes must be None \(no cap\) or an int in 1\.\.2147483647, found 2\.0$"),
    ("4", r"^IF\.max_spikes must be None \(no cap\) or an int in 1\.\.2147483647, found '4'$"),
    (2**40, r"^IF\.max_spikes must be None \(no cap\) or an int in 1\.\.2147483647, found 1099511627776$"),
])
def test_max_spikes_validation(value, match):
    with pytest.raises(IRError, match=match):
        IF(shape=(1,), spike_rule="multi", max_spikes=value)


def test_max_spikes_needs_the_multi_rule():
    with pytest.raises(IRError, match=r"^LIF\.max_spikes=4 caps multi-spikes, but spike_rule is 'ge'; set "
                                      r"spike_rule='multi' or max_spikes=None$"):
        LIF(shape=(1,), spike_rule="ge", max_spikes=4)


def test_engine_refuses_max_spikes():
    from neurosim.targets.neuromorphic.model.compile import check_engine_support

    node = IF(shape=(2,), spike_rule="multi", max_spikes=4)
    g = Graph({"in": Input(shape=(2,)), "n": node, "out": Output(shape=(2,))}, (("in", "n"), ("n", "out")))
    with pytest.raises(UnsupportedError, match=r"^node 'n' \(IF\) caps multi-spikes at max_spikes=4, which the "
                                               r"cycle-level engine does not implement yet; .*neurosim metrics"):
        check_engine_support(g)


# -- validation -----------------------------------------------------------------------------------

_W = np.zeros((2, 1, 3, 3, 3))
_S = np.array([[0, 0, 0], [1, 2, 3]])


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(sites=np.array([[0, 0], [1, 1]])), ShapeError,
     r"^SubMConv3d\.sites must have shape \[N, 3\] with N >= 1 \(one x, y, z voxel coordinate row per active "
     r"site\), found \(2, 2\)$"),
    (dict(sites=np.zeros((0, 3), dtype=np.int64)), ShapeError, r"^SubMConv3d\.sites must have shape \[N, 3\] .*"
                                                               r"found \(0, 3\)$"),
    (dict(sites=np.array([[0, -1, 0]])), IRError,
     r"^SubMConv3d\.sites must hold voxel coordinates in 0\.\.1048575, found -1; shift the points to non-negative "
     r"coordinates or quantise them to a coarser voxel grid$"),
    (dict(sites=np.array([[0, MAX_COORD, 0]], dtype=np.uint64)), IRError,
     r"^SubMConv3d\.sites must hold voxel coordinates in 0\.\.1048575, found 1048576; "),
    (dict(sites=np.array([[0.5, 0, 0]])), IRError, r"^SubMConv3d\.sites must hold whole numbers, found 0\.5$"),
    (dict(sites=np.array([[np.nan, 0, 0]])), IRError, r"^SubMConv3d\.sites must hold whole numbers, found nan$"),
    (dict(sites=np.array([["a", "b", "c"]])), IRError, r"^SubMConv3d\.sites must hold real numbers, found strings"),
    (dict(weight=np.zeros((2, 1, 2, 3, 3))), IRError,
     r"^SubMConv3d\.weight has kernel \(2, 3, 3\); a submanifold conv needs odd extents \(centred on the site\): "
     r"use SparseConv3d for an even, strided kernel$"),
    (dict(weight=np.zeros((2, 1, 3, 3))), ShapeError, r"^SubMConv3d\.weight must have 5 dimensions, found shape "
                                                      r"\(2, 1, 3, 3\)$"),
    (dict(weight=np.zeros((1, 1, 65, 1, 1))), IRError, r"^SubMConv3d\.weight has kernel \(65, 1, 1\); each extent "
                                                       r"must be at most 64$"),
    (dict(bias=np.zeros(3)), ShapeError, r"^SubMConv3d\.bias has shape \(3,\), expected \(2,\)$"),
    (dict(folded_bn=True), IRError, r"^SubMConv3d\.folded_bn is True but bias is None; folding a BatchNorm gives a "
                                    r"bias \(neurosim\.ir\.nodes\.sparse\.fold_batchnorm returns it\)$"),
    (dict(folded_bn="yes", bias=np.zeros(2)), IRError, r"^SubMConv3d\.folded_bn must be True or False, found 'yes'$"),
])
def test_subm_validation(kwargs, error, match):
    kw = dict(weight=_W, sites=_S)
    kw.update(kwargs)
    with pytest.raises(error, match=match):
        SubMConv3d(**kw)


def test_strided_validation():
    with pytest.raises(IRError, match=r"^SparseConv3d\.stride \(3, 3, 3\) exceeds the kernel \(2, 2, 2\); a stride "
                                      r"above the kernel skips input sites -- use a kernel at least as large as the "
                                      r"stride$"):
        SparseConv3d(weight=np.zeros((1, 1, 2, 2, 2)), sites=_S, stride=3)
    with pytest.raises(IRError, match=r"^SparseConv3d\.stride must be an int or 3 ints >= 1, found 0$"):
        SparseConv3d(weight=np.zeros((1, 1, 2, 2, 2)), sites=_S, stride=0)


def test_graph_refuses_sites_of_another_layer():
    a = SubMConv3d(weight=np.zeros((2, 1, 3, 3, 3)), sites=_S)
    b = SubMConv3d(weight=np.zeros((2, 2, 3, 3, 3)), sites=np.array([[0, 0, 0]]))
    with pytest.raises(ShapeError, match=r"^node 'b': SubMConv3d expects input shape \(sites=1, channels=2\), found "
                                         r"\(2, 2\); its sites must be the output sites of the layer feeding it$"):
        Graph({"in": Input(shape=(2, 1)), "a": a, "b": b, "out": Output(shape=(1, 2))},
              (("in", "a"), ("a", "b"), ("b", "out")))


def test_site_mean_validation():
    with pytest.raises(ShapeError, match=r"^node 'm': SiteMean expects input shape \(sites, channels\), found "
                                         r"\(4,\); feed it the features of a sparse layer$"):
        Graph({"in": Input(shape=(4,)), "m": SiteMean(), "out": Output(shape=(4,))}, (("in", "m"), ("m", "out")))


@pytest.mark.parametrize("args,match", [
    (dict(var=-np.ones(2)), r"^fold_batchnorm: var \+ eps must be > 0, found -0\.999; a running variance is "
                            r"non-negative and eps > 0$"),
    (dict(gamma=np.ones(3)), r"^fold_batchnorm: gamma must be 2 finite values \(one per output channel of the weight "
                             r"\(2, 1, 1, 1, 1\)\), found array\(\[1\., 1\., 1\.\]\)$"),
    (dict(mean=np.array([np.inf, 0])), r"^fold_batchnorm: mean must be 2 finite values"),
    (dict(eps=float("nan")), r"^fold_batchnorm: eps must be a finite number >= 0, found nan$"),
    (dict(bias=np.ones(3)), r"^fold_batchnorm: bias must be 2 values or None, found array\(\[1\., 1\., 1\.\]\)$"),
])
def test_fold_batchnorm_validation(args, match):
    kw = dict(weight=np.ones((2, 1, 1, 1, 1)), bias=None, gamma=np.ones(2), beta=np.zeros(2), mean=np.zeros(2),
              var=np.ones(2), eps=1e-3)
    kw.update(args)
    with pytest.raises(IRError, match=match):
        fold_batchnorm(**kw)


# -- modes, engine, serialisation ------------------------------------------------------------------


def _small_graph():
    rng, sites = _cloud(11, n=30)
    sub = SubMConv3d(weight=rng.normal(size=(3, 2, 3, 3, 3)), sites=sites, bias=rng.normal(size=3), folded_bn=True)
    ms = LIF(shape=(len(sites), 3), decay=0.0, bias=0.5, threshold=1.0, spike_rule="multi", max_spikes=4)
    down = SparseConv3d(weight=rng.normal(size=(4, 3, 2, 2, 2)), sites=sites, stride=2)
    n_out = down.rulebook.n_out
    g = Graph({"in": Input(shape=(len(sites), 2)), "sub": sub, "ms": ms, "down": down, "mean": SiteMean(),
               "out": Output(shape=(4,))},
              (("in", "sub"), ("sub", "ms"), ("ms", "down"), ("down", "mean"), ("mean", "out")))
    return g, rng.normal(size=(2, len(sites), 2)), n_out


def test_fixed_mode_is_refused_with_the_node_named():
    g, x, _ = _small_graph()
    with pytest.raises(UnsupportedError, match=r"^node 'sub' \(SubMConv3d\) has no fixed-point semantics: sparse "
                                               r"convolutions run in float only for now; use mode='float'$"):
        reference.run(g, np.rint(x), mode="fixed")


def test_engine_refuses_sparse_nodes_and_points_to_metrics():
    from neurosim.targets.neuromorphic.model.compile import check_engine_support

    g, _, _ = _small_graph()
    with pytest.raises(UnsupportedError, match=r"^node 'sub' \(SubMConv3d\) is not supported by the cycle-level "
                                               r"engine yet; `neurosim metrics` gives"):
        check_engine_support(g)


def test_round_trip_through_nsim(tmp_path):
    g, x, n_out = _small_graph()
    path = save(g, tmp_path / "sparse.nsim")
    back = load(path)
    assert back.equals(g)
    assert back.shapes["down"] == (n_out, 4)
    assert back.nodes["ms"].max_spikes == 4 and back.nodes["sub"].folded_bn is True
    np.testing.assert_array_equal(reference.run(back, x).output_spikes, reference.run(g, x).output_spikes)


def test_nir_export_names_the_lost_cap_and_the_exact_restore_keeps_it(tmp_path):
    from neurosim.frontends.nir import read_nir, write_nir
    from neurosim.ir.graph import Graph
    from neurosim.ir.nodes import LIF, Dense, Input, Output

    g = Graph({"input": Input(shape=(4,)), "fc": Dense(weight=np.ones((3, 4))),
               "lif": LIF(shape=(3,), decay=0.0, threshold=1.0, spike_rule="multi", max_spikes=4),
               "output": Output(shape=(3,))}, (("input", "fc"), ("fc", "lif"), ("lif", "output")))
    lost = write_nir(g, tmp_path / "m.nir")
    assert "node 'lif': multi-spike cap max_spikes=4 (NIR has none)" in lost
    assert read_nir(tmp_path / "m.nir").nodes["lif"].max_spikes == 4
    assert read_nir(tmp_path / "m.nir", source="nir", dt_s=1e-3).nodes["lif"].max_spikes is None  # NIR data alone
