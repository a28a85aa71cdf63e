"""Walking a module: ``nn.Sequential`` flattened, leaves converted, anything else traced with torch.fx.

:func:`_walk` recurses into Sequentials and hands leaf modules (registered classes, hinted
classes, torch.nn and SNN-framework modules) to the builder; other modules go to :func:`_trace`,
which traces them with :mod:`torch.fx` and lowers each fx node through two registries:
:data:`_NODE_KINDS` (by ``node.op``) and, for calls, the per-trace call tables built by
:func:`_call_tables` (by call target; a target in neither table is glue, :mod:`.glue`).
"""

from __future__ import annotations

import operator
from typing import Callable

from neurosim.errors import IRError, UnsupportedError
from neurosim.frontends.torch.add import _add
from neurosim.frontends.torch.attention import _attention
from neurosim.frontends.torch.base import Layer, _Entry
from neurosim.frontends.torch.builder import _Builder
from neurosim.frontends.torch.context import _FxImport, _Param, _Value
from neurosim.frontends.torch.dnn import _functional_layers
from neurosim.frontends.torch.glue import _glue, _glue_functions
from neurosim.frontends.torch.layers import _flatten_dims
from neurosim.frontends.torch.registry import _hint_of

#: Top-level packages whose modules are always leaves of the fx trace (never traced into).
_SNN_PACKAGES = ("snntorch", "sinabs", "spikingjelly", "norse", "neurosim", "rockpool", "lava")


# ----------------------------------------------------------------------------------- walking


def _is_sequential(mod) -> bool:
    import torch.nn as nn

    return type(mod) is nn.Sequential


def _is_leaf(mod, registry: dict[type, _Entry]) -> bool:
    cls = type(mod)
    if cls in registry or _hint_of(cls) is not None:
        return True
    top = cls.__module__.split(".")[0]
    if top in _SNN_PACKAGES:
        return True
    return cls.__module__.startswith("torch.nn") and not _is_sequential(mod)


def _walk(b: _Builder, mod, path: str, sources: tuple[str, ...]) -> tuple[str, ...]:
    """Import ``mod`` (at ``path``) fed by ``sources``; returns the IR nodes its output sums.

    A SpikingJelly multi-step model (``[T, B, ...]`` tensors, :mod:`.spikingjelly`) is lowered whole by
    :func:`.spikingjelly.lower_multistep`."""
    if not path and sources == ("input",):
        from neurosim.frontends.torch.spikingjelly import is_multistep, lower_multistep

        if is_multistep(mod):
            return lower_multistep(b, mod)
    if _is_sequential(mod):
        # _modules, not named_children(): the latter skips a module that appears twice
        for key, child in mod._modules.items():
            if child is not None:
                sources = _walk(b, child, f"{path}.{key}" if path else key, sources)
        return sources
    if _is_leaf(mod, b.registry):
        return b.add_module(mod, path or type(mod).__name__, sources)
    return _trace(b, mod, path, sources)


# ----------------------------------------------------------------------------------- tracing


def _trace(b: _Builder, mod, path: str, sources: tuple[str, ...]) -> tuple[str, ...]:
    """Import ``mod`` (neither a Sequential nor a leaf) by tracing its forward() with torch.fx."""
    t = _FxImport(b, mod, path, sources, **_call_tables())
    graph = _fx_graph(mod, b.registry, t.where)
    for node in graph.nodes:
        _NODE_KINDS.get(node.op, _unsupported)(t, node)
    assert t.result is not None
    return t.result


def _fx_graph(mod, registry: dict[type, _Entry], where: str):
    """The fx graph of ``mod``, with every leaf module (see :func:`_is_leaf`) kept as one call."""
    from torch import fx

    class Tracer(fx.Tracer):
        def is_leaf_module(self, m, qualname: str) -> bool:  # noqa: D401 - fx API
            return _is_leaf(m, registry)

    try:
        return Tracer().trace(mod)
    except Exception as exc:  # fx raises TraceError, TypeError, RuntimeError ... on dynamic code
        raise UnsupportedError(
            f"{where} is neither an nn.Sequential nor traceable by torch.fx ({type(exc).__name__}: {exc}); "
            f"write it as an nn.Sequential or make forward() a fixed composition of layers for one timestep"
        ) from None


def _call_tables() -> dict:
    """The call registries of one trace: ``functions`` (call_function target -> handler) and
    ``methods`` (call_method name -> handler), plus the glue and layer tables they read."""
    import torch

    glue_functions = _glue_functions()
    layer_functions, layer_methods = _functional_layers()
    # later keys win; the order keeps the original precedence: add, then tuple item, flatten, layer
    functions: dict = {**{f: _layer_call for f in layer_functions}, torch.flatten: _flatten_call,
                       operator.getitem: _tuple_item,
                       **{f: _add for f in (operator.add, torch.add, operator.iadd)}}
    methods: dict = {**{m: _layer_call for m in layer_methods}, "flatten": _flatten_call}
    return {"functions": functions, "methods": methods, "glue_functions": glue_functions,
            "layer_functions": layer_functions, "layer_methods": layer_methods}


# ------------------------------------------------------------------------------ node kinds


def _placeholder(t: _FxImport, node) -> None:
    t.placeholders += 1
    if t.placeholders > 1:
        raise t.fx_error(node, "is a second forward() argument; neurosim imports modules with one input")
    t.env[node] = _Value(t.sources)


def _get_attr(t: _FxImport, node) -> None:
    """A parameter or buffer: its meta copy (for shape code) and the tensor (for Add constants)."""
    import torch

    obj = t.mod
    for part in node.target.split("."):
        obj = getattr(obj, part)
    if not isinstance(obj, torch.Tensor):
        raise t.fx_error(node, f"reads {obj!r}, which is not a tensor; neurosim reads parameters and buffers only")
    t.aux[node] = _Param(torch.empty(tuple(obj.shape), dtype=obj.dtype, device="meta"), obj, t.full(node.target))


def _call_module(t: _FxImport, node) -> None:
    """A leaf module: self-attention, or a registered layer fed by one layer output."""
    from torch import nn

    sub = t.mod.get_submodule(node.target)
    if isinstance(sub, nn.MultiheadAttention):
        _attention(t, node, sub, t.full(node.target))
        return
    if len(node.args) != 1 or node.kwargs:
        raise t.fx_error(node, "calls a layer with more than one argument (state passed explicitly?); call "
                               "it with the input only (snnTorch: init_hidden=True)")
    src = t.value(node, node.args[0])
    names = t.b.add_module(sub, t.full(node.target), src.names)
    entry = t.registry.get(type(sub))
    tup = bool(entry and entry.returns_tuple and entry.returns_tuple(sub))
    t.env[node] = _Value(names, tuple_of="neuron" if tup else "")


def _call(t: _FxImport, node) -> None:
    """A call_function or call_method: its handler from the call tables, else glue."""
    table = t.functions if node.op == "call_function" else t.methods
    table.get(node.target, _glue)(t, node)


def _output(t: _FxImport, node) -> None:
    from torch import fx

    out = node.args[0]
    if isinstance(out, (tuple, list)):
        raise t.fx_error(node, "returns several values; return the output spikes only")
    v = t.env.get(out) if isinstance(out, fx.Node) else None
    if v is None:
        raise t.fx_error(node, f"returns {out!r}, which is not a layer's output")
    t.result = t.value(node, out).names


def _unsupported(t: _FxImport, node) -> None:  # pragma: no cover - fx has no other node kinds
    raise t.fx_error(node, "is not supported")


#: fx node kind (``node.op``) -> handler.
_NODE_KINDS: dict[str, Callable[[_FxImport, object], None]] = {
    "placeholder": _placeholder,
    "get_attr": _get_attr,
    "call_module": _call_module,
    "call_function": _call,
    "call_method": _call,
    "output": _output,
}


# ------------------------------------------------------------------------------ call targets


def _tuple_item(t: _FxImport, node) -> None:
    """``out[i]`` of a module returning a tuple (``spk, mem = lif(x)``); other indexing is glue."""
    from torch import fx

    src = node.args[0]
    if not (isinstance(src, fx.Node) and src in t.env and t.env[src].is_tuple):
        _glue(t, node)
        return
    if not node.users:  # e.g. the unused ``mem`` of ``spk, mem = lif(x)``
        return
    if node.args[1] != 0:
        if t.env[src].tuple_of == "attention":
            raise t.fx_error(node, f"takes item {node.args[1]!r} (the attention weights) of {src.name!r}; "
                                   f"neurosim lowers the attention output only: use need_weights=False and "
                                   f"take item 0")
        raise t.fx_error(node, f"takes item {node.args[1]!r} (the membrane or another state) of "
                               f"{src.name!r}; only the spikes (item 0) can feed other layers")
    t.env[node] = _Value(t.env[src].names)


def _flatten_call(t: _FxImport, node) -> None:
    """``torch.flatten(x, start, end)`` / ``x.flatten(...)``: an IR Flatten."""
    b = t.b
    src = t.value(node, node.args[0])
    start = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
    end = node.args[2] if len(node.args) > 2 else node.kwargs.get("end_dim", -1)
    fpath = t.full(node.name)
    layer = Layer(fpath, "torch.flatten", b.shape_of(src.names, fpath, "torch.flatten"), b.lead_dims)
    t.env[node] = _Value(b.add_lowered(_flatten_dims(layer, int(start), int(end)), layer, src.names))


def _layer_call(t: _FxImport, node) -> None:
    """A torch function or tensor method that is a DNN layer (``F.relu``, ``x.softmax(-1)``) on a layer output."""
    from torch import fx

    if not (node.args and isinstance(node.args[0], fx.Node) and node.args[0] in t.env):
        _glue(t, node)
        return
    display, convert = (t.layer_functions[node.target] if node.op == "call_function"
                        else t.layer_methods[node.target])
    src = t.value(node, node.args[0])
    rest = [a for a in node.args[1:]]
    kwargs = {k: v for k, v in node.kwargs.items() if k != "inplace"}
    if any(isinstance(a, fx.Node) for a in list(rest) + list(kwargs.values())):
        raise t.fx_error(node, "takes a computed argument; neurosim lowers functions with constant options")
    base = display.rsplit(".", 1)[-1].rstrip("_")
    lpath = t.owner(node, base)
    layer = Layer(lpath, display, t.b.shape_of(src.names, lpath, display), t.lead)
    try:
        lowered = convert(layer, rest, kwargs)
    except IRError as exc:
        raise type(exc)(str(exc) if str(exc).startswith(layer.where) else f"{layer.where}: {exc}") from None
    t.env[node] = _Value(t.b.add_lowered(lowered, layer, src.names))
