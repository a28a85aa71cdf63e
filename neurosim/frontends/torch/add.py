"""``a + b`` in an fx graph (``operator.add``, ``torch.add``, ``+=``).

Two layer outputs become a residual :class:`~neurosim.ir.nodes.Add` node when the model has no
spiking neurons or either branch ends in a DNN node; in spiking models they stay several edges
into the next node (IR nodes sum their inputs). A layer output plus a parameter is
``Add(constant=...)``; sizes and parameters added together are evaluated, no node.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from neurosim.errors import ShapeError
from neurosim.frontends.torch.base import Layer, Lowered, _f64, _is_meta
from neurosim.frontends.torch.context import _Param, _Value
from neurosim.ir.nodes import Add
from neurosim.ir.nodes.base import shape_only

if TYPE_CHECKING:
    from neurosim.frontends.torch.context import _FxImport


def _add(t: _FxImport, node) -> None:
    """Lower the fx add ``node``: branches joined, a constant added, or a size computed."""
    import torch
    from torch import fx

    if len(node.args) != 2 or node.kwargs:
        raise t.fx_error(node, "adds with extra arguments (alpha?); use a plain a + b")
    a, c = node.args
    in_a, in_c = isinstance(a, fx.Node) and a in t.env, isinstance(c, fx.Node) and c in t.env
    if not in_a and not in_c:
        if all(not isinstance(x, fx.Node) or x in t.aux for x in (a, c)):
            res = t.evaluate(node)  # size arithmetic, or parameter + parameter
            t.aux[node] = _Param(res, None, node.name) if isinstance(res, torch.Tensor) else res
            return
        t.value(node, a if isinstance(a, fx.Node) and a not in t.aux else c)
    if in_a and in_c:
        _add_branches(t, node, t.value(node, a), t.value(node, c))
        return
    v, other = (t.value(node, a), c) if in_a else (t.value(node, c), a)
    _add_constant(t, node, v, other)


def _add_branches(t: _FxImport, node, va: _Value, vc: _Value) -> None:
    """Two layer outputs: an Add node (DNN models, DNN branches) or both summed into the next node."""
    b = t.b
    if set(va.names) & set(vc.names):
        raise t.fx_error(node, "adds a branch to itself, which needs a scale of 2; scale the layer's "
                               "weights instead")
    names = va.names + vc.names
    if b.dnn_adds or any(b.is_dnn(n) for n in names):
        t.env[node] = _Value(t.add_dnn(node, "add", Lowered(Add()), names, "residual add"))
    else:
        t.env[node] = _Value(names)


def _add_constant(t: _FxImport, node, v: _Value, other) -> None:
    """A layer output ``v`` plus ``other``, which must be a parameter that broadcasts to it."""
    import torch
    from torch import fx

    b, lead = t.b, t.lead
    p = t.aux.get(other) if isinstance(other, fx.Node) else None
    if not isinstance(p, _Param):
        t.value(node, other)  # raises: a number or a non-layer value
    lpath = t.owner(node, "add")
    shape = b.shape_of(v.names, lpath, "add")
    batched = (1,) * lead + tuple(shape)
    try:
        ok = tuple(torch.broadcast_shapes(tuple(p.meta.shape), batched)) == batched
    except RuntimeError:
        ok = False
    if not ok:
        raise t.fx_error(node, f"adds {p.name!r} of shape {tuple(p.meta.shape)!r} to a layer output of shape "
                               f"{batched!r} and changes its shape; add a constant that broadcasts to the layer "
                               f"output", ShapeError)
    if p.tensor is None:
        raise t.fx_error(node, f"adds {p.name!r}, a tensor computed from parameters; neurosim records a learned "
                               f"constant only when the parameter itself is added: add the nn.Parameter directly")
    if _is_meta(p.tensor):
        const = shape_only(shape)
    else:
        const = np.broadcast_to(_f64(p.tensor), batched)[(0,) * lead].copy()
    t.env[node] = _Value(b.add_lowered(Lowered(Add(constant=const)), Layer(lpath, f"add {p.name}", shape, lead),
                                       v.names))
