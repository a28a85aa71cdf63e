"""The activity the metrics need: every node's output and every population's membrane, per step.

One run of the functional reference simulator (:mod:`neurosim.targets.neuromorphic.model.reference`)
in float mode, stepped here through the reference's own kernel registry
(``reference.KERNELS``) so that the membrane after every step can be recorded --
``reference.run`` returns only the final state, and NeuroBench's ``MembraneUpdates`` counts the
steps on which a membrane changed. The stepping is the reference's: nodes in ``graph.order``,
a node's input the sum of its predecessors' outputs, a recurrent edge delivering the previous
step's output (``tests/metrics`` checks the outputs equal ``reference.run``'s bit for bit).

Inputs are always batched here: ``[T, B, *input_shape]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neurosim import limits
from neurosim.errors import SimulationError, UnsupportedError
from neurosim.ir.graph import Graph
from neurosim.ir.nodes import Population


@dataclass(frozen=True)
class Activity:
    """A run's record: ``outputs[name]`` ``[T, B, *shape]`` for every node, ``membranes[name]``
    ``[T, B, *shape]`` (the membrane after each step) for every population."""

    outputs: dict[str, np.ndarray]
    membranes: dict[str, np.ndarray]
    steps: int
    batch: int
    #: the value a recurrent edge delivers at step 0, by source node (its bias for a projection)
    initial: dict[str, np.ndarray] = field(default_factory=dict)

    def input_of(self, graph: Graph, name: str) -> np.ndarray:
        """What node ``name`` received at every step: the sum of its predecessors' outputs
        (a recurrent predecessor's output one step late, zero -- or its initial output -- at step 0)."""
        total = None
        for a in graph.predecessors(name):
            y = self.outputs[a]
            if graph.is_recurrent((a, name)):
                y = np.concatenate([self.initial[a][None], y[:-1]], axis=0)
            total = y if total is None else total + y
        if total is None:
            raise SimulationError(f"node {name!r} has no inputs to count; it must be fed by another node")
        return total


def check_inputs(graph: Graph, x) -> np.ndarray:
    """The one validation boundary for a metrics input array: ``[T, B, *shape]`` of finite reals."""
    if len(graph.inputs) != 1:
        raise UnsupportedError(
            f"the graph has {len(graph.inputs)} inputs {graph.inputs!r}; metrics take single-input graphs")
    shape = graph.nodes[graph.inputs[0]].shape
    arr = np.asarray(x)
    if arr.dtype == bool:
        arr = arr.astype(np.int64)
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise SimulationError(
            f"metrics input has dtype {str(arr.dtype)!r}, expected real numbers; save spikes or currents as "
            f"int or float")
    if arr.ndim != 2 + len(shape) or tuple(arr.shape[2:]) != tuple(shape) or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise SimulationError(
            f"metrics input has shape {arr.shape!r}, expected [T, B, {', '.join(map(str, shape))}] with "
            f"T, B >= 1; add the batch axis with x[:, None] for one sample")
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        bad = arr[~np.isfinite(arr)].flat[0].item()
        raise SimulationError(f"metrics input contains the non-finite value {bad!r}; every entry must be finite")
    limits.check("timesteps", int(arr.shape[0]), "metrics input")
    limits.check("batch", int(arr.shape[1]), "metrics input")
    return arr


def record(graph: Graph, x) -> Activity:
    """Run ``graph`` on ``x`` ``[T, B, *input_shape]`` in float64 and record outputs and membranes."""
    from neurosim.targets.neuromorphic.model import reference

    arr = check_inputs(graph, x)
    for name in graph.order:
        if type(graph.nodes[name]) not in reference.KERNELS:
            raise UnsupportedError(
                f"node {name!r} ({type(graph.nodes[name]).__name__}) cannot be run by the reference simulator, "
                f"so its activity is unknown; give per-layer firing rates instead of an input")
    steps, batch = int(arr.shape[0]), (int(arr.shape[1]),)
    kernels = {n: reference.KERNELS[type(graph.nodes[n])](graph.nodes[n], n, "float", batch, np.float64)
               for n in graph.order}
    preds = {n: [(a, graph.is_recurrent((a, n))) for a in graph.predecessors(n)] for n in graph.order}
    rec_sources = {a for a, _ in graph.recurrent_edges}
    initial = {a: kernels[a].initial_output(graph.input_shape_of(a), graph.shapes[a]) for a in rec_sources}
    prev = dict(initial)
    outs: dict[str, list] = {n: [] for n in graph.order}
    mems: dict[str, list] = {n: [] for n in graph.order if isinstance(graph.nodes[n], Population)}
    src = graph.inputs[0]
    for t in range(steps):
        cur: dict[str, np.ndarray] = {}
        for n in graph.order:
            if n == src:
                xin = arr[t].astype(np.float64)
            else:
                vals = [(prev[a] if rec else cur[a]) for a, rec in preds[n]]
                if graph.nodes[n].operands > 1:
                    xin = tuple(vals)
                else:
                    xin = vals[0]
                    for v in vals[1:]:
                        xin = xin + v
            y = kernels[n].step(xin)
            cur[n] = y
            outs[n].append(np.array(y, copy=True))
            if n in mems:
                mems[n].append(np.array(kernels[n].state["v"], copy=True))
        prev = {a: cur[a] for a in rec_sources}
    act = Activity(outputs={n: np.stack(v) for n, v in outs.items()},
                   membranes={n: np.stack(v) for n, v in mems.items()}, steps=steps, batch=batch[0],
                   initial={a: np.asarray(v) for a, v in initial.items()})
    return act
