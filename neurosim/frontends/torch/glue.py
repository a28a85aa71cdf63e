"""Glue in an fx graph: data movement without arithmetic, and shape code.

Reshape, view, permute, transpose, expand, squeeze/unsqueeze, slicing ``x[:, 0]`` and ``torch.cat``
of a layer output with a parameter (ViT's class token) become one
:class:`~neurosim.ir.nodes.Rearrange` per op. Its shape comes from running the op on meta tensors
of a batch of one (:meth:`~.context._FxImport.evaluate`), so ``x.shape``/``x.size()`` arithmetic
and ``torch._assert`` work and nothing is computed on real data; ``contiguous`` and shape-keeping
reshapes are skipped. The batch axis must stay axis 0.
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING

from neurosim.frontends.torch.base import Lowered
from neurosim.frontends.torch.context import _hashable, _Param, _Value
from neurosim.ir.nodes import Rearrange

if TYPE_CHECKING:
    from neurosim.frontends.torch.context import _FxImport

#: Methods and functions that move data without arithmetic; each becomes one Rearrange node.
_GLUE_METHODS = frozenset({"reshape", "view", "permute", "transpose", "expand", "unsqueeze", "squeeze", "unflatten",
                           "contiguous", "swapaxes", "movedim"})
#: Shape queries: evaluated, no node.
_QUERY_METHODS = frozenset({"size", "dim"})
_QUERY_ATTRS = frozenset({"shape", "ndim", "dtype", "device"})
#: Glue that never changes the data layout (skipped), and glue that is the identity when the shape is kept.
_NOOP_METHODS = frozenset({"contiguous"})
_SHAPE_ONLY_METHODS = frozenset({"reshape", "view", "expand", "unsqueeze", "squeeze", "unflatten"})


def _glue_functions() -> dict:
    """torch functions that are glue, by the name of the op they perform."""
    import torch

    return {torch.reshape: "reshape", torch.permute: "permute", torch.transpose: "transpose",
            torch.squeeze: "squeeze", torch.unsqueeze: "unsqueeze", torch.cat: "cat", torch.concat: "cat",
            torch.swapaxes: "swapaxes", torch.movedim: "movedim", operator.getitem: "getitem"}


def _batch_axis_moved(node, name: str, ndim: int) -> str | None:
    """Why ``node`` (glue ``name`` on an ``ndim``-d batched tensor) would move or drop the batch axis."""
    args = list(node.args[1:])
    kw = node.kwargs
    if name == "permute":
        dims = tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else \
            tuple(args or kw.get("dims", ()))
        if dims and dims[0] % ndim != 0:
            return f"permutes the axes to {dims!r}"
    elif name in ("transpose", "swapaxes"):
        dims = tuple(args[:2]) or (kw.get("dim0"), kw.get("dim1"))
        if any(isinstance(d, int) and d % ndim == 0 for d in dims):
            return f"swaps axes {dims!r}"
    elif name == "cat":
        dim = args[0] if args else kw.get("dim", 0)
        if isinstance(dim, int) and dim % ndim == 0:
            return f"concatenates along dim={dim!r}"
    elif name == "getitem":
        idx = args[0] if isinstance(args[0], tuple) else (args[0],)
        if not (idx[0] == slice(None) or idx[0] is Ellipsis):
            return f"indexes with {args[0]!r}"
    elif name == "squeeze" and not args and "dim" not in kw:
        return "squeezes every size-1 axis"
    return None


def _glue_name(t: _FxImport, node) -> str | None:
    """The op ``node`` performs if it is glue (``reshape``, ``cat``, ``getitem``, ...), else None."""
    if node.op == "call_function":
        return t.glue_functions.get(node.target) if _hashable(node.target) else None
    return node.target if node.target in _GLUE_METHODS else None


def _is_query(node) -> bool:
    """Whether ``node`` asks for a size (``x.size()``, ``x.shape``, ...)."""
    is_fn = node.op == "call_function"
    return (not is_fn and node.target in _QUERY_METHODS) or \
        (is_fn and node.target is getattr and len(node.args) > 1 and node.args[1] in _QUERY_ATTRS)


def _glue(t: _FxImport, node) -> None:
    """Lower a call no other handler takes: shape code (evaluated), or glue on one layer output."""
    import torch

    inputs = t.layer_args(node)
    name = _glue_name(t, node)
    if not inputs or _is_query(node):  # sizes, shape assertions, parameters: evaluated, no node
        res = t.evaluate(node)
        if isinstance(res, torch.Tensor):  # computed from parameters: keep the first one's name
            res = _Param(res, None, next((t.aux[a].name for a in node.all_input_nodes
                                          if isinstance(t.aux.get(a), _Param)), node.name))
        t.aux[node] = res
        return
    if name is None:
        raise t.fx_error(node, "is not supported; neurosim imports layers, torch.nn.functional activations, "
                               "a + b and data movement (reshape, view, permute, transpose, flatten, slicing, "
                               "cat with a parameter): replace it with one of those")
    if len(inputs) > 1:
        raise t.fx_error(node, f"combines the outputs of {len(inputs)} layers ({', '.join(a.name for a in inputs)}) "
                               f"with {name}; the IR joins branches by addition only: use a + b")
    _rearrange(t, node, name, t.value(node, inputs[0]))


def _rearrange(t: _FxImport, node, name: str, src: _Value) -> None:
    """Glue ``name`` on the layer output ``src``: skipped when it keeps the layout, else a Rearrange."""
    import torch

    b, lead = t.b, t.lead
    in_shape = b.shape_of(src.names, t.owner(node, name), name)
    why = _batch_axis_moved(node, name, lead + len(in_shape))
    res = t.evaluate(node)
    if why is None and (not isinstance(res, torch.Tensor) or res.dim() <= lead
                        or tuple(res.shape[:lead]) != (1,) * lead):
        why = f"gives shape {tuple(res.shape) if isinstance(res, torch.Tensor) else res!r} for a batch of one"
    if why is not None:
        raise t.fx_error(node, f"{why}, which moves or drops the batch axis; neurosim shapes are per sample: "
                               f"keep axis 0 as the batch")
    shape = tuple(int(d) for d in res.shape[lead:])
    if name in _NOOP_METHODS or (name in _SHAPE_ONLY_METHODS and shape == tuple(in_shape)):
        t.env[node] = src
        return
    if name == "cat":
        consts = [t.aux[a] for a in node.all_input_nodes if isinstance(t.aux.get(a), _Param)]
        for p in consts:
            b.note(f"{t.where}: {p.name!r} ({int(p.meta.numel())} values) concatenated to a layer output by "
                   f"torch.cat, recorded as a Rearrange; its values are not kept in the IR")
    t.env[node] = _Value(t.add_dnn(node, name, Lowered(Rearrange(shape=shape, op=name)), src.names,
                                   f"torch {name}", in_shape=in_shape))
