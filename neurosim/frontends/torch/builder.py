"""The graph builder: accumulates IR nodes, edges, shapes and notes while a module is walked.

:class:`_Builder` names nodes after module paths, converts registered modules through their
registry entry (rejecting a neuron module used twice), adds :class:`~.base.Lowered` results with
their recurrent projections, and finishes the :class:`~neurosim.ir.graph.Graph` with the
semantics profile.
"""

from __future__ import annotations

from neurosim.errors import IRError, ShapeError, UnsupportedError
from neurosim.frontends.torch.base import Layer, Lowered, _Entry
from neurosim.frontends.torch.registry import _display, _hint_of, supported_layers
from neurosim.ir import graph as _graph_module
from neurosim.ir.graph import Graph, Semantics
from neurosim.ir.nodes import Input, Node, Output


class _Builder:
    """Accumulates IR nodes and edges while walking a module."""

    def __init__(self, input_shape: tuple[int, ...], name_prefix: str, registry: dict[type, _Entry],
                 lead_dims: int) -> None:
        self.registry = registry
        self.prefix = name_prefix
        self.lead_dims = lead_dims
        self.nodes: dict[str, Node] = {"input": Input(shape=input_shape)}
        self.edges: list[tuple[str, str]] = []
        self.shapes: dict[str, tuple[int, ...]] = {"input": input_shape}
        self.notes: list[str] = []
        self.profiles: list[str] = []
        self.stateful: dict[int, str] = {}  # id(neuron module) -> path of its first use
        #: ``a + b`` of two layer outputs becomes an Add node (True: the model has no spiking neurons)
        #: or, in spiking models, two edges into the next node (the IR sums a node's inputs).
        self.dnn_adds = True

    # names ------------------------------------------------------------------------------
    def _name(self, path: str) -> str:
        name = f"{self.prefix}{path}"
        pattern = getattr(_graph_module, "_NAME", None)
        if pattern is not None and not pattern.match(name):
            name = f"layer{name}" if pattern.match(f"layer{name}") else "layer_" + "".join(
                c if c.isalnum() or c in "_.-" else "_" for c in name)
        base, k = name, 1
        while name in self.nodes or name in ("input", "output"):
            name = f"{base}_{k}"
            k += 1
        return name

    def note(self, *texts: str) -> None:
        for t in texts:
            if t and t not in self.notes:
                self.notes.append(t)

    # shapes -----------------------------------------------------------------------------
    def shape_of(self, sources: tuple[str, ...], path: str, display: str) -> tuple[int, ...]:
        shapes = {s: self.shapes[s] for s in sources}
        if len(set(shapes.values())) > 1:
            raise ShapeError(
                f"layer {path!r} ({display}) sums inputs of different shapes {shapes!r}; every summed branch "
                f"must have the same shape"
            )
        return next(iter(shapes.values()))

    # layers -----------------------------------------------------------------------------
    def entry(self, mod, path: str) -> tuple[_Entry, str]:
        cls = type(mod)
        display = _display(cls, self.registry)
        entry = self.registry.get(cls)
        if entry is not None:
            return entry, display
        hint = _hint_of(cls)
        if hint is not None:
            raise UnsupportedError(f"layer {path!r} is a {hint[0]}, which neurosim cannot import: {hint[1]}")
        raise UnsupportedError(
            f"layer {path!r} is a {display}, which neurosim cannot import; supported: {', '.join(supported_layers())}"
        )

    def add_module(self, mod, path: str, sources: tuple[str, ...]) -> tuple[str, ...]:
        entry, display = self.entry(mod, path)
        layer = Layer(path, display, self.shape_of(sources, path, display), self.lead_dims)
        if entry.profile is not None:
            first = self.stateful.get(id(mod))
            if first is not None:
                raise layer.error(
                    UnsupportedError,
                    f"is a neuron module used a second time (first as layer {first!r}); one module used twice "
                    f"shares its state between both places, which the IR cannot express: use a separate instance "
                    f"for each",
                )
            self.stateful[id(mod)] = path
        try:
            lowered = entry.convert(mod, layer)
        except IRError as exc:
            if str(exc).startswith(layer.where):
                raise
            raise type(exc)(f"{layer.where}: {exc}") from exc
        if entry.profile is not None and entry.profile not in self.profiles:
            self.profiles.append(entry.profile)
        return self.add_lowered(lowered, layer, sources)

    def add_lowered(self, lowered: Lowered, layer: Layer, sources: tuple[str, ...]) -> tuple[str, ...]:
        self.note(*lowered.notes)
        if lowered.node is None:
            return sources
        name = self._name(layer.path)
        try:
            out_shape = tuple(lowered.node.output_shape(layer.in_shape))
        except IRError as exc:
            raise type(exc)(f"{layer.where}: {exc}") from exc
        self.nodes[name] = lowered.node
        self.edges.extend((s, name) for s in sources)
        self.shapes[name] = out_shape
        for suffix, proj in lowered.recurrent:
            rname = self._name(f"{layer.path}{suffix}")
            try:
                rshape = tuple(proj.output_shape(out_shape))
            except IRError as exc:
                raise type(exc)(f"{layer.where} recurrent connection: {exc}") from exc
            if rshape != layer.in_shape:
                raise layer.error(
                    ShapeError,
                    f"has a recurrent connection giving shape {rshape!r}, but the layer takes {layer.in_shape!r}; "
                    f"the recurrent layer must keep the shape",
                )
            self.nodes[rname] = proj
            self.edges.extend([(name, rname), (rname, name)])
            self.shapes[rname] = rshape
        return (name,)

    def is_dnn(self, name: str) -> bool:
        return self.nodes[name].family == "dnn"

    def finish(self, sources: tuple[str, ...], profile: str | None) -> Graph:
        out_shape = self.shape_of(sources, "output", "graph output")
        self.nodes["output"] = Output(shape=out_shape)
        self.edges.extend((s, "output") for s in sources)
        found = self.profiles
        if profile is None:
            profile = found[0] if found else "torch"
            if len(found) > 1:
                self.note(f"the model mixes neurons of {', '.join(found)}; each layer keeps its own framework's "
                          f"semantics")
        elif found and profile not in found:
            self.note(f"profile {profile!r} given by the caller; the neurons come from {', '.join(found)}")
        return Graph(self.nodes, tuple(self.edges), Semantics(profile=profile, dt_s=None, notes=tuple(self.notes)))
