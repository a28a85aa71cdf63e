"""The IR graph: named nodes, directed edges, shape inference and a schedule order.

Semantics of one timestep (shared by the reference simulator and the engine): nodes are
evaluated in :attr:`Graph.order`; a node's input is the **sum** of its predecessors' outputs.
Along a forward edge the predecessor's output of the *same* step arrives; along a
**recurrent** edge (one that closes a cycle, found by depth-first search from the inputs in
insertion order) the predecessor's output of the *previous* step arrives (zero at step 0).
So a population feeding itself, or an earlier layer, is delayed by exactly one timestep, as in
snnTorch's ``RLeaky`` and NIR's recurrent graphs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable, Mapping

import numpy as np

from neurosim.errors import FixedPointError, GraphError, IRError, ShapeError
from neurosim.ir.nodes import Input, Node, Output, Projection, SpikingPopulation
from neurosim.ir.nodes.base import Shape, node_context, short_repr

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


def _positive_seconds(value) -> bool:
    """A finite positive number that converts to float (not a bool, not a 400-digit int)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return False
    try:
        return 0 < float(value) < float("inf")
    except OverflowError:
        return False


@dataclass(frozen=True)
class Semantics:
    """How a model's continuous or framework-specific dynamics were discretised on import.

    ``profile`` is the source profile used (``snntorch``, ``norse``, ``sinabs``, ``rockpool``,
    ``nir``, ``torch``, ``neurosim``), ``dt_s`` the timestep in seconds used to turn time
    constants into per-step decays (None when the source was already discrete), and ``notes``
    human-readable lines on what was assumed (shown by ``neurosim info``).
    """

    profile: str = "neurosim"
    dt_s: float | None = None
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.profile, str) or not self.profile:
            raise IRError(f"Semantics.profile must be a non-empty string, found {self.profile!r}")
        if self.dt_s is not None and not _positive_seconds(self.dt_s):
            raise IRError(f"Semantics.dt_s must be a positive number of seconds or None, found {short_repr(self.dt_s)}")
        object.__setattr__(self, "notes", tuple(str(n) for n in self.notes))


@dataclass(frozen=True, eq=False)
class Graph:
    """A validated IR graph. Construction checks names, edges, reachability and shapes."""

    nodes: Mapping[str, Node]
    edges: tuple[tuple[str, str], ...]
    semantics: Semantics = field(default_factory=Semantics)

    def __post_init__(self) -> None:
        nodes = dict(self.nodes)
        for name, node in nodes.items():
            if not isinstance(name, str) or not _NAME.match(name):
                raise GraphError(
                    f"node name {name!r} is invalid; use letters, digits, '_', '.' and '-', starting with a letter, digit or '_'"
                )
            if not isinstance(node, Node):
                raise GraphError(f"node {name!r} must be an IR Node, found {type(node).__name__!r}")
        try:
            edges = tuple((str(a), str(b)) for a, b in self.edges)
        except (TypeError, ValueError):
            raise GraphError(f"Graph.edges must be (source, target) name pairs, found {self.edges!r}") from None
        for a, b in edges:
            for end in (a, b):
                if end not in nodes:
                    raise GraphError(
                        f"edge {a!r} -> {b!r} names the unknown node {end!r}; known nodes: {sorted(nodes)!r}"
                    )
        if len(set(edges)) != len(edges):
            dup = next(e for e in edges if edges.count(e) > 1)
            raise GraphError(f"edge {dup[0]!r} -> {dup[1]!r} appears twice; merge the two projections")
        if not isinstance(self.semantics, Semantics):
            raise GraphError(f"Graph.semantics must be a Semantics, found {self.semantics!r}")
        object.__setattr__(self, "nodes", nodes)
        object.__setattr__(self, "edges", edges)
        if not self.inputs:
            raise GraphError("the graph has no Input node; add one that feeds the first layer")
        if not self.outputs:
            raise GraphError("the graph has no Output node; add one after the last layer")
        for name in self.inputs:
            if self.predecessors(name):
                raise GraphError(f"node {name!r} is an Input but has incoming edges from {self.predecessors(name)!r}")
        for name in self.outputs:
            if self.successors(name):
                raise GraphError(f"node {name!r} is an Output but has outgoing edges to {self.successors(name)!r}")
        _ = self.order
        _ = self.shapes
        self._check_fixed_point_edges()

    def _check_fixed_point_edges(self) -> None:
        """Weight codes are added to membrane codes: their fractional bits must agree."""
        for a, b in self.edges:
            src, dst = self.nodes[a], self.nodes[b]
            if not (isinstance(src, Projection) and isinstance(dst, SpikingPopulation)):
                continue
            if src.weight_format is None or dst.fixed is None:
                continue
            if src.weight_format.frac_bits != dst.fixed.state.frac_bits:
                raise FixedPointError(
                    f"edge {a!r} -> {b!r}: weights have {src.weight_format.frac_bits} fractional bits "
                    f"({src.weight_format.describe()}) but the membrane has {dst.fixed.state.frac_bits} "
                    f"({dst.fixed.state.describe()}); quantize both to the same LSB"
                )

    # -- structure ----------------------------------------------------------------------------
    @cached_property
    def inputs(self) -> tuple[str, ...]:
        return tuple(n for n, node in self.nodes.items() if isinstance(node, Input))

    @cached_property
    def outputs(self) -> tuple[str, ...]:
        return tuple(n for n, node in self.nodes.items() if isinstance(node, Output))

    def predecessors(self, name: str) -> tuple[str, ...]:
        return tuple(a for a, b in self.edges if b == name)

    def successors(self, name: str) -> tuple[str, ...]:
        return tuple(b for a, b in self.edges if a == name)

    @cached_property
    def recurrent_edges(self) -> frozenset[tuple[str, str]]:
        """Edges that close a cycle: they carry the previous timestep's output."""
        state: dict[str, int] = {}  # 1 = on stack, 2 = done
        back: set[tuple[str, str]] = set()
        for root in self.inputs:
            if root in state:
                continue
            stack = [(root, iter(self.successors(root)))]
            state[root] = 1
            while stack:
                node, it = stack[-1]
                nxt = next(it, None)
                if nxt is None:
                    state[node] = 2
                    stack.pop()
                elif state.get(nxt) == 1:
                    back.add((node, nxt))
                elif nxt not in state:
                    state[nxt] = 1
                    stack.append((nxt, iter(self.successors(nxt))))
        unreachable = [n for n in self.nodes if n not in state]
        if unreachable:
            raise GraphError(
                f"node {unreachable[0]!r} is not reachable from any Input; connect it or remove it"
            )
        return frozenset(back)

    def is_recurrent(self, edge: tuple[str, str]) -> bool:
        return edge in self.recurrent_edges

    @cached_property
    def order(self) -> tuple[str, ...]:
        """A schedule: every node after all its forward (non-recurrent) predecessors."""
        forward = [e for e in self.edges if e not in self.recurrent_edges]
        indeg = {n: 0 for n in self.nodes}
        for _, b in forward:
            indeg[b] += 1
        ready = [n for n in self.nodes if indeg[n] == 0]
        out: list[str] = []
        while ready:
            n = ready.pop(0)
            out.append(n)
            for a, b in forward:
                if a == n:
                    indeg[b] -= 1
                    if indeg[b] == 0:
                        ready.append(b)
        return tuple(out)

    @cached_property
    def shapes(self) -> dict[str, Shape]:
        """Output shape of every node (validated along every edge)."""
        out: dict[str, Shape] = {}
        for name in self.order:
            node = self.nodes[name]
            with node_context(name):
                in_shape = self.input_shape_of(name, out)
                out[name] = tuple(node.output_shape(in_shape))
        for a, b in self.recurrent_edges:
            want = self.input_shape_of(b, out)
            if out[a] != want:
                raise ShapeError(
                    f"recurrent edge {a!r} -> {b!r} delivers shape {out[a]!r}, but node {b!r} takes {want!r}"
                )
        return out

    def input_shape_of(self, name: str, known: Mapping[str, Shape] | None = None) -> Shape:
        known = self.shapes if known is None else known
        node = self.nodes[name]
        if isinstance(node, Input):
            return node.shape
        preds = [a for a in self.predecessors(name) if (a, name) not in self.recurrent_edges]
        if node.operands > 1:
            if len(preds) != node.operands:
                raise ShapeError(
                    f"node {name!r} ({type(node).__name__}) takes {node.operands} ordered operands, found "
                    f"{len(preds)} incoming edges from {preds!r}"
                )
            return tuple(known[a] for a in preds)
        shapes = {a: known[a] for a in preds}
        if len(set(shapes.values())) > 1:
            raise ShapeError(
                f"node {name!r} sums inputs of different shapes {shapes!r}; every incoming edge must carry "
                f"the same shape"
            )
        if shapes:
            return next(iter(shapes.values()))
        fixed = node.fixed_input_shape()
        if fixed is None:
            raise ShapeError(
                f"node {name!r} has only recurrent inputs and no declared input shape; give it an input_shape"
            )
        return fixed

    # -- convenience --------------------------------------------------------------------------
    @classmethod
    def chain(cls, layers: Iterable[tuple[str, Node]], semantics: Semantics | None = None,
              extra_edges: Iterable[tuple[str, str]] = ()) -> "Graph":
        """A feed-forward chain of named nodes (plus optional extra, e.g. recurrent, edges)."""
        layers = list(layers)
        names = [n for n, _ in layers]
        edges = list(zip(names[:-1], names[1:])) + list(extra_edges)
        return cls(dict(layers), tuple(edges), semantics or Semantics())

    def populations(self) -> list[str]:
        return [n for n in self.order if self.nodes[n].family == "population"]

    def spiking_populations(self) -> list[str]:
        return [n for n in self.order if isinstance(self.nodes[n], SpikingPopulation)]

    def projections(self) -> list[str]:
        return [n for n in self.order if isinstance(self.nodes[n], Projection)]

    def equals(self, other: object) -> bool:
        """Exact equality of nodes (bit for bit), edges and semantics."""
        return (
            isinstance(other, Graph)
            and list(self.nodes) == list(other.nodes)
            and all(self.nodes[n].equals(other.nodes[n]) for n in self.nodes)
            and self.edges == other.edges
            and self.semantics == other.semantics
        )

    def replace(self, **changes) -> "Graph":
        kw = dict(nodes=self.nodes, edges=self.edges, semantics=self.semantics)
        kw.update(changes)
        return Graph(**kw)
