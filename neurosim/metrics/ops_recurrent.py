r"""Op counters of the recurrent node family (:mod:`neurosim.ir.nodes.recurrent`), registered with
:func:`neurosim.metrics.ops.register_counter`, and the **vector operations** per timestep (per token) of
the non-synaptic nodes, which levels (a) and (b) do not price.

The synaptic side needs nothing new: every Linear of SpikeGPT is a :class:`~neurosim.ir.nodes.Dense`
whose input is real-valued, so :mod:`neurosim.metrics.counts` books its work as MACs on every step.
WKV, Mul and SquaredReLU do no synaptic work (no fan-out) and update no membrane; WKV stores two
learned vectors (``time_decay``, ``time_first``).

:func:`vector_ops` counts, per step, the element-wise arithmetic of the graph by kind (``add``
includes subtractions, ``cmp`` comparisons and maxima):

=================  ======================================================================
node (C elements)   operations per step
=================  ======================================================================
WKV                 per channel: 4 exp, 1 div, 6 mul, 10 add, 2 cmp (the recurrence in its docstring)
Mul                 C mul
SquaredReLU         C cmp + C mul
GELU sigmoid        C exp + C add + C div (``1 / (1 + e^{-x})``); tanh the same; silu + C mul;
                    gelu C erf counted as exp + 3C mul + C add; hardswish 2C cmp + 2C add + 2C mul
LayerNorm           3C add + 2C mul + 3 div + 1 sqrt (mean, centre, mean square, ``x * rstd``)
Scale               C mul
Add                 C add per operand beyond the first, + C for ``constant``
any other node      C add per incoming edge beyond the first (the graph sums its inputs)
Threshold           C cmp
=================  ======================================================================

Spiking neurons are priced by NeuroBench's neuron operations, projections by the levels: both are
left out here. Prices (:data:`VECTOR_PJ`): Horowitz ISSCC 2014 Fig. 1.1.9 (45 nm) for fp32 add
0.9 pJ and multiply 3.7 pJ; a comparison is priced as an add (estimate: same adder); exp, div and
sqrt have no figure there -- estimate: 4 fp32 multiplies each (14.8 pJ), as a short polynomial or
Newton iteration needs.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from neurosim.ir.nodes import GELU, Add, LayerNorm, Scale, Threshold
from neurosim.ir.nodes.recurrent import WKV, Mul, SquaredReLU
from neurosim.metrics.ops import OpCounter, _no_fanout, _no_flops, _no_neurons, _no_params, register_counter

register_counter(WKV, OpCounter(params=lambda n: int(n.time_decay.size + n.time_first.size), fanout=_no_fanout,
                                flops=_no_flops, neurons=_no_neurons))
for _cls in (Mul, SquaredReLU):
    register_counter(_cls, OpCounter(params=_no_params, fanout=_no_fanout, flops=_no_flops, neurons=_no_neurons))

#: pJ per operation (see the module docstring for the sources and estimates)
VECTOR_PJ = {"add": 0.9, "mul": 3.7, "cmp": 0.9, "exp": 14.8, "div": 14.8, "sqrt": 14.8}
VECTOR_SOURCE = ("add/mul: Horowitz ISSCC 2014 fp32 (45 nm); cmp: estimate, an add; exp/div/sqrt: estimate, "
                 "4 fp32 multiplies")

_GELU_OPS = {"sigmoid": {"exp": 1, "add": 1, "div": 1}, "tanh": {"exp": 1, "add": 1, "div": 1},
             "silu": {"exp": 1, "add": 1, "div": 1, "mul": 1}, "gelu": {"exp": 1, "mul": 3, "add": 1},
             "hardswish": {"cmp": 2, "add": 2, "mul": 2}}


def node_vector_ops(node, in_shape, out_shape, n_inputs: int) -> dict[str, int]:
    """The vector operations of one node per step (see the module docstring); ``n_inputs`` is its
    number of incoming edges."""
    ops: Counter = Counter()
    size = int(np.prod(out_shape))
    if isinstance(node, WKV):
        for k, n in (("exp", 4), ("div", 1), ("mul", 6), ("add", 10), ("cmp", 2)):
            ops[k] += n * size
        return dict(ops)
    if node.operands == 1 and n_inputs > 1:
        ops["add"] += (n_inputs - 1) * int(np.prod(in_shape))
    if isinstance(node, Mul):
        ops["mul"] += size
    elif isinstance(node, SquaredReLU):
        ops["cmp"] += size
        ops["mul"] += size
    elif isinstance(node, GELU):
        for k, n in _GELU_OPS[node.kind].items():
            ops[k] += n * size
    elif isinstance(node, LayerNorm):
        rows = size // node.features
        ops["add"] += 3 * size
        ops["mul"] += 2 * size
        ops["div"] += 3 * rows
        ops["sqrt"] += rows
    elif isinstance(node, Scale):
        ops["mul"] += size
    elif isinstance(node, Add) and node.constant is not None:
        ops["add"] += size
    elif isinstance(node, Threshold):
        ops["cmp"] += size
    return dict(ops)


def vector_ops(graph) -> dict[str, int]:
    """The vector operations of ``graph`` per step, by kind (``add``, ``mul``, ``cmp``, ``exp``, ``div``,
    ``sqrt``), summed over every node; of a projection or population only the sum of its inputs."""
    from neurosim.ir.nodes import Population, Projection

    total: Counter = Counter()
    for name in graph.order:
        node = graph.nodes[name]
        preds = graph.predecessors(name)
        if isinstance(node, (Projection, Population)):  # only the sum of their inputs
            if len(preds) > 1:
                total["add"] += (len(preds) - 1) * int(np.prod(graph.input_shape_of(name)))
            continue
        in_shape = graph.input_shape_of(name) if node.operands == 1 else graph.shapes[name]
        total.update(node_vector_ops(node, in_shape, graph.shapes[name], len(preds)))
    return {k: int(total[k]) for k in VECTOR_PJ if total[k]}
