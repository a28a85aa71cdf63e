r"""Per-node operation counts: one :class:`OpCounter` per IR node type, in one registry.

What a node costs is a property of its type, so the counts live in :data:`OP_COUNTERS`, keyed
by node class (a new node type -- spike x spike matmul, sparse 3-D conv -- adds one entry with
:func:`register_counter`; nothing else changes). A class without an entry inherits the entry of
its nearest registered base class; a node type with no entry on its whole MRO is refused by
:func:`counter_for` with the node named.

For a projection with weight :math:`W` the counter gives its **fan-out map**
:math:`f[i]` = the number of nonzero synapses that input element :math:`i` drives (for a conv:
summed over the output positions that read :math:`i`, so zero padding contributes nothing), and
its **dense fan-out** :math:`f_1[i]` (the same with every weight taken as nonzero). Then, for one
input :math:`x` (one timestep of one sample),

.. math::

    \text{effective ops}(x) = \sum_i [x_i \ne 0]\, f[i] \qquad
    \text{dense ops} = \sum_i f_1[i]

which is exactly what NeuroBench's ``SynapticOperations`` computes by running a binarised copy
of the layer on the binarised input (bias excluded). ``flops`` is the textbook count of the
papers' method (``C_out * prod(out) * C_in/groups * prod(k)`` for a conv, ``out * in`` per token
for a dense layer): it includes the taps that fall on zero padding, as the papers do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from neurosim.errors import UnsupportedError
from neurosim.ir.nodes import (
    IF,
    LI,
    LIF,
    Add,
    AvgPool2d,
    BatchNorm,
    CubaLIF,
    Delay,
    Dense,
    DNNNode,
    Flatten,
    Input,
    Integrator,
    NMSparse,
    Node,
    Output,
    Population,
    Scale,
    SparseCSR,
    SumPool2d,
    Threshold,
)
from neurosim.ir.nodes.base import Shape
from neurosim.ir.nodes.connections import ConvND


@dataclass(frozen=True)
class OpCounter:
    """How to count one node type.

    ``params(node)``: learned parameters as a torch model stores them (dense weight entries plus
    bias), ``fanout(node, in_shape, dense)``: the fan-out map of a projection (None for nodes that
    do no synaptic work), ``flops(node, in_shape)``: the papers' per-step dense MAC count,
    ``neurons(node, out_shape)``: state variables updated per step (membranes) -- 0 for stateless
    nodes. ``neuron_ops``: NeuroBench's basic operations per membrane update, by reset mode.
    """

    params: Callable[[Node], int]
    fanout: Callable[[Node, Shape, bool], np.ndarray | None]
    flops: Callable[[Node, Shape], int]
    neurons: Callable[[Node, Shape], int]
    neuron_ops: dict[str, int] | None = None


#: The counter of every node type; see :func:`register_counter` and :func:`counter_for`.
OP_COUNTERS: dict[type[Node], OpCounter] = {}


def register_counter(cls: type[Node], counter: OpCounter) -> None:
    """Add (or replace) the counter of node type ``cls``."""
    OP_COUNTERS[cls] = counter


def counter_for(node: Node, name: str = "?") -> OpCounter:
    """The counter of ``node``'s type (or of its nearest registered base class)."""
    for cls in type(node).__mro__:
        if cls in OP_COUNTERS:
            return OP_COUNTERS[cls]
    raise UnsupportedError(
        f"node {name!r} ({type(node).__name__}) has no operation counter; register one with "
        f"neurosim.metrics.ops.register_counter({type(node).__name__}, OpCounter(...))"
    )


# -- helpers ----------------------------------------------------------------------------------------

def _no_params(node: Node) -> int:
    return 0


def _no_fanout(node: Node, in_shape: Shape, dense: bool) -> None:
    return None


def _no_flops(node: Node, in_shape: Shape) -> int:
    return 0


def _no_neurons(node: Node, out_shape: Shape) -> int:
    return 0


def _projection_params(node) -> int:
    w = node.dense_weight()
    return int(w.size + (node.bias.size if node.bias is not None else 0))


def _nonzero(w: np.ndarray, dense: bool) -> np.ndarray:
    return np.ones(w.shape) if dense else (w != 0).astype(np.float64)


def _matrix_fanout(node, in_shape: Shape, dense: bool) -> np.ndarray:
    """Fan-out of ``y = W x`` (``W [out, in]``): column counts, repeated over leading token axes."""
    per_input = _nonzero(node.dense_weight(), dense).sum(axis=0)
    return np.broadcast_to(per_input, tuple(in_shape)).copy()


def _matrix_flops(node, in_shape: Shape) -> int:
    w = node.dense_weight()
    tokens = int(np.prod(in_shape[:-1])) if len(in_shape) > 1 else 1
    return int(w.shape[0] * w.shape[1] * tokens)


def _conv_fanout(node: ConvND, in_shape: Shape, dense: bool) -> np.ndarray:
    r"""Per input element, the nonzero (output channel, tap) pairs whose output position exists.

    The transpose of :func:`neurosim.ir.ops.conv_nd`'s tap loop: for every kernel tap, the input
    positions read by a valid output position get the tap's nonzero count over output channels.
    """
    w = _nonzero(node.weight, dense)
    d = node.spatial_dims
    c_in, spatial = in_shape[0], tuple(in_shape[1:])
    out = node.output_shape(tuple(in_shape))[1:]
    groups, o = node.groups, w.shape[0]
    cg, og = c_in // groups, o // groups
    padded = np.zeros((c_in, *(s + 2 * p for s, p in zip(spatial, node.padding))))
    # per group: tap counts summed over that group's output channels -> [groups, cg, *K]
    per_tap = w.reshape(groups, og, cg, *w.shape[2:]).sum(axis=1)
    for tap in np.ndindex(*node.kernel_size):
        sl = tuple(slice(tap[i] * node.dilation[i], tap[i] * node.dilation[i] + out[i] * node.stride[i],
                         node.stride[i]) for i in range(d))
        for g in range(groups):
            padded[(slice(g * cg, (g + 1) * cg),) + sl] += per_tap[(g, slice(None)) + tap].reshape(
                (cg,) + (1,) * d)
    crop = tuple(slice(p, p + s) for p, s in zip(node.padding, spatial))
    return padded[(slice(None),) + crop]


def _conv_flops(node: ConvND, in_shape: Shape) -> int:
    out = node.output_shape(tuple(in_shape))
    return int(np.prod(out) * node.weight[0].size)


def _population_neurons(node: Population, out_shape: Shape) -> int:
    return int(np.prod(out_shape))


_PROJECTION = dict(params=_projection_params, neurons=_no_neurons)
for _cls in (Dense, SparseCSR, NMSparse):
    register_counter(_cls, OpCounter(fanout=_matrix_fanout, flops=_matrix_flops, **_PROJECTION))
register_counter(ConvND, OpCounter(fanout=_conv_fanout, flops=_conv_flops, **_PROJECTION))

_FREE = OpCounter(params=_no_params, fanout=_no_fanout, flops=_no_flops, neurons=_no_neurons)
for _cls in (Input, Output, Flatten, SumPool2d, AvgPool2d, Scale, Threshold, Delay, DNNNode):
    register_counter(_cls, _FREE)
# BatchNorm: the IR keeps no norm values; torch stores 2 * features learned parameters (gamma, beta)
register_counter(BatchNorm, OpCounter(params=lambda n: 2 * n.features, fanout=_no_fanout, flops=_no_flops,
                                      neurons=_no_neurons))
register_counter(Add, OpCounter(params=lambda n: 0 if n.constant is None else int(n.constant.size),
                                fanout=_no_fanout, flops=_no_flops, neurons=_no_neurons))

# NeuroBench's NeuronOperations table (neurobench/metrics/workload/neuron_operations.py, v2.3.0):
# basic operations per membrane update of snnTorch Leaky (4/4) and Synaptic (6 subtract / 8 zero).
_LEAKY_OPS = {"subtract": 4, "zero": 4, "none": 4}
_SYNAPTIC_OPS = {"subtract": 6, "zero": 8, "none": 6}
for _cls, _ops in ((LIF, _LEAKY_OPS), (IF, _LEAKY_OPS), (CubaLIF, _SYNAPTIC_OPS), (LI, None), (Integrator, None)):
    register_counter(_cls, OpCounter(params=_no_params, fanout=_no_fanout, flops=_no_flops,
                                     neurons=_population_neurons, neuron_ops=_ops))
