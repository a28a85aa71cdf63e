"""Self-attention: an ``nn.MultiheadAttention`` called as ``attn(x, x, x)`` in a traced forward().

It lowers to Dense ``<path>.q``/``.k``/``.v`` (rows of ``in_proj_weight`` split) -> MatMul
``.scores`` (heads, q k^T / sqrt(d)) -> Softmax ``.softmax`` -> MatMul ``.context`` (probs then
v, heads merged) -> Dense ``.out_proj``. Masks, ``batch_first=False``, extra key/value positions
and cross-attention are rejected; only item 0 of its ``(output, weights)`` may be used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from neurosim.errors import ShapeError, UnsupportedError
from neurosim.frontends.torch.base import Layer, Lowered, _f64, _is_meta, _projection
from neurosim.frontends.torch.context import _Value
from neurosim.frontends.torch.registry import _display
from neurosim.ir.nodes import Dense, MatMul, Softmax

if TYPE_CHECKING:
    from neurosim.frontends.torch.context import _FxImport

#: ``nn.MultiheadAttention.forward``'s parameters, in order.
_MHA_ARGS = ("query", "key", "value", "key_padding_mask", "need_weights", "attn_mask", "average_attn_weights",
             "is_causal")


def _attention(t: _FxImport, node, sub, mpath: str) -> None:
    """Lower the call ``node`` of the MultiheadAttention ``sub`` (at ``mpath``)."""
    src = _self_attention_input(t, node)
    display = _display(type(sub), t.registry)
    lay = Layer(mpath, display, t.b.shape_of(src.names, mpath, display), t.lead)
    _check_attention(sub, lay)
    proj = _qkv_projections(t, sub, lay, src)
    cname = _attention_core(t, sub, lay, proj)
    _out_projection(t, node, sub, lay, cname)


def _self_attention_input(t: _FxImport, node) -> _Value:
    """The one tensor passed as query, key and value; masks and other arguments are rejected."""
    from torch import fx

    names = _MHA_ARGS
    if len(node.args) > len(names) or set(node.kwargs) - set(names):
        raise t.fx_error(node, f"calls nn.MultiheadAttention with arguments {node.args!r} {node.kwargs!r} it "
                               f"does not take; call it as attn(x, x, x)")
    call = dict(zip(names, node.args), **node.kwargs)
    q, k, v = call.get("query"), call.get("key"), call.get("value")
    for opt, fine in (("key_padding_mask", None), ("attn_mask", None), ("is_causal", False)):
        if call.get(opt, fine) not in (fine,):
            raise t.fx_error(node, f"passes {opt}={call[opt]!r}; neurosim lowers unmasked self-attention: "
                                   f"leave {opt} at {fine!r}")
    if not (q is k is v):
        qn, kn, vn = (x.name if isinstance(x, fx.Node) else x for x in (q, k, v))
        raise t.fx_error(node, f"calls nn.MultiheadAttention with query {qn!r}, key {kn!r} and value {vn!r}; "
                               f"neurosim lowers self-attention only: pass the same tensor as query, key and value")
    return t.value(node, q)


def _check_attention(sub, lay: Layer) -> None:
    """Reject the options the IR's attention nodes cannot express and a wrongly shaped input."""
    E = int(sub.embed_dim)
    if not sub.batch_first:
        raise lay.error(UnsupportedError, "has batch_first=False, whose (L, N, E) input puts the batch on axis "
                                          "1; neurosim takes (N, L, E): use batch_first=True")
    if sub.bias_k is not None or sub.add_zero_attn:
        raise lay.error(UnsupportedError, f"has add_bias_kv={sub.bias_k is not None!r} and add_zero_attn="
                                          f"{bool(sub.add_zero_attn)!r}, which add attention positions; use "
                                          f"add_bias_kv=False and add_zero_attn=False")
    if len(lay.in_shape) != 2 or lay.in_shape[1] != E:
        raise lay.error(ShapeError, f"takes (tokens, {E}) per sample, found input shape {lay.in_shape!r}; "
                                    f"check the layer feeding it")


def _qkv_projections(t: _FxImport, sub, lay: Layer, src: _Value) -> list[str]:
    """Dense ``.q``, ``.k``, ``.v`` fed by ``src``; returns their node names."""
    E, mpath, display = int(sub.embed_dim), lay.path, lay.display
    if sub.in_proj_weight is not None:
        w = sub.in_proj_weight
        ws = [w[i * E:(i + 1) * E] for i in range(3)]
    else:
        ws = [sub.q_proj_weight, sub.k_proj_weight, sub.v_proj_weight]
    bs = [None] * 3 if sub.in_proj_bias is None else [sub.in_proj_bias[i * E:(i + 1) * E] for i in range(3)]
    proj = []
    for part, wt, bt in zip("qkv", ws, bs):
        sl = Layer(f"{mpath}.{part}", f"{display} {part} projection", lay.in_shape, t.lead)
        low = _projection(Dense, sl, _f64(wt), None if bt is None else _f64(bt), meta=_is_meta(wt))
        proj.append(t.b.add_lowered(low, sl, src.names)[0])
    return proj


def _attention_core(t: _FxImport, sub, lay: Layer, proj: list[str]) -> str:
    """MatMul ``.scores`` -> Softmax ``.softmax`` -> MatMul ``.context``; returns the context node's name."""
    b, lead, mpath, display = t.b, t.lead, lay.path, lay.display
    E, h = int(sub.embed_dim), int(sub.num_heads)
    L = lay.in_shape[0]
    scores = Layer(f"{mpath}.scores", f"{display} scores", (lay.in_shape,) * 2, lead)
    (sname,) = b.add_lowered(Lowered(MatMul(heads=h, transpose_b=True, scale=float((E // h) ** -0.5))), scores,
                             (proj[0], proj[1]))
    (pname,) = b.add_lowered(Lowered(Softmax()), Layer(f"{mpath}.softmax", f"{display} softmax", (h, L, L), lead),
                             (sname,))
    ctx = Layer(f"{mpath}.context", f"{display} context", ((h, L, L), lay.in_shape), lead)
    (cname,) = b.add_lowered(Lowered(MatMul(heads=h, merge_heads=True)), ctx, (pname, proj[2]))
    return cname


def _out_projection(t: _FxImport, node, sub, lay: Layer, cname: str) -> None:
    """Dense ``.out_proj`` fed by the context; the call's value is the ``(output, weights)`` tuple."""
    b, mpath, display = t.b, lay.path, lay.display
    E = int(sub.embed_dim)
    L = lay.in_shape[0]
    out = sub.out_proj
    ol = Layer(f"{mpath}.out_proj", f"{display} out_proj", (L, E), t.lead)
    low = _projection(Dense, ol, _f64(out.weight), None if out.bias is None else _f64(out.bias),
                      meta=_is_meta(out.weight))
    if sub.dropout:
        b.note(f"{lay.where}: attention dropout p={sub.dropout!r} skipped (the identity at inference)")
    t.env[node] = _Value(b.add_lowered(low, ol, (cname,)), tuple_of="attention")
