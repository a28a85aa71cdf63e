r"""Op counters of the sparse node family (:mod:`neurosim.ir.nodes.sparse`), registered with
:func:`neurosim.metrics.ops.register_counter`, and E-3DSNN's energy-script FLOP counts.

A sparse conv's work is its rulebook (:class:`~neurosim.ir.nodes.sparse.Rulebook`): every pair
(input row ``i``, output row, tap ``t``) multiplies input row ``i``'s ``C_in`` values by the tap's
``[C_out, C_in]`` weights. So, per step,

.. math::

    \text{flops} = P\, C_{in} C_{out}, \qquad
    f[i, c] = \sum_{(i, \cdot, t) \in \text{rulebook}} \#\{o : W_{o,c,t} \ne 0\}

(``P`` pairs; ``f`` the fan-out map :mod:`neurosim.metrics.ops` defines, ``f_1`` the same with every
weight nonzero, whose sum is ``flops``): the dense count of a sparse conv is its rulebook, not a
voxel grid. Parameters are counted as the source model stores them: the weight, plus ``2 C_out``
(BatchNorm gamma and beta) when a BatchNorm was folded in, else the bias. ``SiteMean`` is free,
like the other reductions of the metrics.

E-3DSNN's ``energy_calculate.py`` prices ``FLOPs = sum(2 P C_in C_out - N_out)`` at 4.6 pJ each
(:func:`gemm_flops` is that formula for one node). The script evaluates it only for the rulebooks
that exist when it asks, which is the stem's alone, three times, with ``C_in = C_out = embed``
(:func:`script_faithful_flops`, a bug of the script reproduced on purpose); :func:`full_flops` is
the same formula over every sparse conv with its true channels.
"""

from __future__ import annotations

import numpy as np

from neurosim.errors import UnsupportedError
from neurosim.ir.nodes.sparse import SiteMean, SparseConv, SubMConv3d
from neurosim.metrics.ops import (
    OpCounter,
    _no_fanout,
    _no_flops,
    _no_neurons,
    _no_params,
    register_counter,
)

#: E-3DSNN's energy constant: 4.6 pJ per FLOP (``energy_calculate.py``; Horowitz 2014's fp32 MAC).
E_FLOP_PJ = 4.6


def _params(node: SparseConv) -> int:
    extra = 2 * node.out_channels if node.folded_bn else (0 if node.bias is None else int(node.bias.size))
    return int(node.weight.size) + extra


def _fanout(node: SparseConv, in_shape, dense: bool) -> np.ndarray:
    w = node.weight
    nz = np.ones(w.shape) if dense else (w != 0).astype(np.float64)
    per_tap = nz.sum(axis=0)  # [C_in, kd, kh, kw]: output channels each (input channel, tap) drives
    fan = np.zeros((node.n_sites, node.in_channels))
    book = node.rulebook
    for tap, rows in zip(book.taps, book.inputs):
        uses = np.bincount(rows, minlength=node.n_sites).astype(np.float64)
        fan += uses[:, None] * per_tap[(slice(None),) + tap][None, :]
    return np.broadcast_to(fan, tuple(in_shape)).copy()


def _flops(node: SparseConv, in_shape) -> int:
    return node.pairs * node.in_channels * node.out_channels


register_counter(SparseConv, OpCounter(params=_params, fanout=_fanout, flops=_flops, neurons=_no_neurons))
register_counter(SiteMean, OpCounter(params=_no_params, fanout=_no_fanout, flops=_no_flops, neurons=_no_neurons))


def gemm_flops(node: SparseConv, in_channels: int | None = None, out_channels: int | None = None) -> int:
    """``2 * P * C_in * C_out - N_out``: E-3DSNN's ``calculate_gemm_flops`` of one sparse conv (``pair_fwd``
    has ``P`` entries > -1 and ``N_out`` columns); the channels default to the node's."""
    cin = node.in_channels if in_channels is None else in_channels
    cout = node.out_channels if out_channels is None else out_channels
    return 2 * node.pairs * cin * cout - node.rulebook.n_out


def _sparse_convs(graph) -> list[str]:
    return [n for n in graph.order if isinstance(graph.nodes[n], SparseConv)]


def full_flops(graph) -> dict[str, int]:
    """``{node: gemm_flops(node)}`` for every sparse conv of ``graph``, in schedule order (what the script meant)."""
    return {n: gemm_flops(graph.nodes[n]) for n in _sparse_convs(graph)}


def script_faithful_flops(graph, stem_terms: int = 3) -> int:
    """E-3DSNN ``energy_calculate.py``'s total exactly as the script computes it.

    Its ``calculate_gemm_flops(x, key, cin, cout)`` is 0 unless ``key`` is already in ``x.indice_dict``;
    it asks for each encoder key before the layer that creates it and for ``final`` (which has none),
    so only its ``stem_terms`` (3) stem terms count, each on the stem's rulebook with
    ``cin = cout = embed_channels``: ``3 * (2 * P_stem * embed**2 - N)``. The stem is the first sparse
    conv of ``graph`` (a submanifold conv on the input sites); ``embed`` its output channels.
    """
    convs = _sparse_convs(graph)
    if not convs or not isinstance(graph.nodes[convs[0]], SubMConv3d):
        raise UnsupportedError("the E-3DSNN script count needs a graph whose first sparse conv is the "
                               "submanifold stem conv; build it with neurosim.zoo.e3dsnn_ir.e3dsnn_graph")
    stem = graph.nodes[convs[0]]
    emb = stem.out_channels
    return stem_terms * gemm_flops(stem, emb, emb)
