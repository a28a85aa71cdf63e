"""NIR import and export.

Import (:func:`read_nir`, :func:`from_nir`) turns NIR's continuous-time primitives into the IR's
discrete-time nodes using a **source profile** (:mod:`neurosim.frontends.profiles`) for what
NIR leaves unsaid: ``dt``, reset mode and timing, spike rule, each framework's parameter
conventions. Nested NIR subgraphs are flattened (node names ``outer.inner``).

Export (:func:`to_nir`, :func:`write_nir`) writes the NIR spec's forward-Euler parameters for a
chosen ``dt`` and returns the list of things NIR cannot express (subtractive or delayed reset,
``>=`` or multi-spike rules, refractory periods, fixed-point formats, N:M declarations). It also
stores each node's exact IR fields in the node's ``metadata["neurosim"]``, so that
neurosim -> NIR -> neurosim is lossless; other tools simply ignore that metadata.

Per-primitive discretisation (``p`` = profile, ``dt`` in seconds, Euler shown):

==========  ==============================================================================
Affine      Dense(weight, bias);  Linear: Dense(weight)
Conv1d/2d   Conv1d/Conv2d (string padding ``same``/``valid`` resolved to integers)
LIF         decay = 1 - dt/tau (``exp``: exp(-dt/tau)), gain = dt*r/tau, bias = dt*v_leak/tau
            (``norm_input``: gain times 1 - decay)
CubaLIF     as LIF for the membrane; current by ``p.cuba`` (see profiles.toml)
IF          IF with gain = dt*r (``p.if_gain``)
LI          LI as LIF without spikes;  I: Integrator with gain = dt*r
Scale       Scale;  Threshold: Threshold (v > threshold)
Flatten     Flatten(start_dim, end_dim) on the unbatched shape
SumPool2d   SumPool2d;  AvgPool2d: AvgPool2d
Delay       Delay with delay_steps = delay/dt (must be whole steps)
==========  ==============================================================================
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import numpy as np

from neurosim.errors import FormatError, FrontendError, IRError, ShapeError, UnsupportedError
from neurosim.fileio import atomic_path
from neurosim.frontends.profiles import SourceProfile, get_profile
from neurosim.ir import nodes as ir
from neurosim.ir.graph import Graph, Semantics
from neurosim.ir.nodes.base import node_context
from neurosim.ir.serialize import _decode, _encode

#: Marker in graph metadata of files neurosim wrote.
META_KEY = "neurosim"
#: Export dt when the graph does not record one (torch imports are dt-free).
DEFAULT_EXPORT_DT_S = 1e-3


def _nir():
    try:
        import nir
    except ImportError as exc:  # pragma: no cover - nir is a core dependency
        raise FrontendError("the 'nir' package is not installed; pip install nir") from exc
    return nir


def _arr(x) -> np.ndarray:
    """NIR parameters arrive as numpy arrays, numpy scalars, python numbers or torch tensors."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


# ----------------------------------------------------------------------------------------------
# import
# ----------------------------------------------------------------------------------------------

@dataclass
class _ImportContext:
    profile: SourceProfile
    dt_s: float | None
    notes: list[str] = field(default_factory=list)

    def dt(self, name: str, what: str) -> float:
        if self.dt_s is None:
            raise FrontendError(
                f"node {name!r} ({what}) has time constants but the NIR file records no dt and profile "
                f"{self.profile.name!r} has no default; pass dt (--dt SECONDS) or a --source profile"
            )
        return self.dt_s

    def tau(self, name: str, tau) -> np.ndarray:
        tau = _arr(tau)
        if np.any(tau <= 0):
            raise IRError(f"node {name!r}: tau must be > 0 seconds, found {float(tau.min())!r}")
        return tau / self.dt(name, "tau") if self.profile.tau_scale == "dt" else tau


def _leaky(ctx: _ImportContext, name: str, tau, r, v_leak, spiking: bool = False) -> dict[str, np.ndarray]:
    """decay, gain and bias of a leaky membrane under the profile.

    With ``norm_input`` (Sinabs' ``norm_input=True``) a spiking membrane's gain is also multiplied by
    ``1 - decay``: Sinabs computes ``v = a*v + (1 - a)*x`` with ``a = exp(-dt/tau)``. Non-spiking ``LI``
    nodes keep the plain gain (Sinabs' ``ExpLeak`` defaults to ``norm_input=False``).
    """
    p = ctx.profile
    dt = ctx.dt(name, "leaky neuron")
    tau = ctx.tau(name, tau)
    r, v_leak = _arr(r), _arr(v_leak)
    decay = 1.0 - dt / tau if p.decay == "euler" else np.exp(-dt / tau)
    gain = {"euler": lambda: dt * r / tau, "r": lambda: r, "rockpool": lambda: r * dt / (tau * decay)}[p.input_gain]()
    if spiking and p.norm_input:
        gain = gain * (1.0 - decay)
    bias = dt * v_leak / tau if p.bias == "euler" else v_leak
    return {"decay": decay, "gain": gain, "bias": bias}


def _spiking(ctx: _ImportContext, node) -> dict[str, Any]:
    p = ctx.profile
    thr = _arr(node.v_threshold)
    v_reset = _arr(node.v_reset) if getattr(node, "v_reset", None) is not None else np.zeros_like(thr)
    return {"threshold": thr, "v_reset": v_reset, "reset": p.reset, "reset_timing": p.reset_timing,
            "spike_rule": p.spike_rule}


def _shape_of(*arrays: np.ndarray) -> tuple[int, ...] | None:
    shapes = {a.shape for a in arrays if a.ndim > 0}
    if len(shapes) > 1:
        raise ShapeError(f"neuron parameters have different shapes {sorted(shapes)!r}; give them all one shape")
    return next(iter(shapes)) if shapes else None


def _imp_lif(node, name, ctx, in_shape):
    m = _leaky(ctx, name, node.tau, node.r, node.v_leak, spiking=True)
    s = _spiking(ctx, node)
    shape = _shape_of(*m.values(), s["threshold"], s["v_reset"]) or in_shape
    return ir.LIF(shape=shape, **m, **s)


def _imp_cubalif(node, name, ctx, in_shape):
    p = ctx.profile
    m = _leaky(ctx, name, node.tau_mem, node.r, node.v_leak, spiking=True)
    s = _spiking(ctx, node)
    dt = ctx.dt(name, "CubaLIF")
    tau_syn = ctx.tau(name, node.tau_syn)
    w_in = _arr(node.w_in)
    if p.cuba in ("euler", "euler_now"):
        syn_decay, syn_gain, lag = 1.0 - dt / tau_syn, dt * w_in / tau_syn, 1 if p.cuba == "euler" else 0
    elif p.cuba == "jump":
        syn_decay, syn_gain, lag = 1.0 - dt / tau_syn, w_in, 0
    else:  # decay_after: i = a*(i + w_in x)
        a = np.exp(-dt / tau_syn) if p.decay == "exp" else 1.0 - dt / tau_syn
        syn_decay, syn_gain, lag = a, a * w_in, 0
    shape = _shape_of(*m.values(), s["threshold"], _arr(syn_decay), _arr(syn_gain)) or in_shape
    return ir.CubaLIF(shape=shape, syn_decay=syn_decay, syn_gain=syn_gain, current_lag=lag, **m, **s)


def _imp_if(node, name, ctx, in_shape):
    r = _arr(node.r)
    gain = ctx.dt(name, "IF") * r if ctx.profile.if_gain == "dt_r" else r
    s = _spiking(ctx, node)
    shape = _shape_of(gain, s["threshold"], s["v_reset"]) or in_shape
    return ir.IF(shape=shape, gain=gain, **s)


def _imp_li(node, name, ctx, in_shape):
    m = _leaky(ctx, name, node.tau, node.r, node.v_leak)
    return ir.LI(shape=_shape_of(*m.values()) or in_shape, **m)


def _imp_i(node, name, ctx, in_shape):
    r = _arr(node.r)
    gain = ctx.dt(name, "I") * r if ctx.profile.if_gain == "dt_r" else r
    return ir.Integrator(shape=_shape_of(gain) or in_shape, gain=gain)


def _imp_affine(node, name, ctx, in_shape):
    return ir.Dense(weight=_arr(node.weight), bias=_arr(node.bias))


def _imp_linear(node, name, ctx, in_shape):
    return ir.Dense(weight=_arr(node.weight))


def _conv_padding(node, name, in_shape, d: int):
    pad = node.padding
    if isinstance(pad, (str, bytes)):
        pad = pad.decode() if isinstance(pad, bytes) else pad
        if pad == "valid":
            return (0,) * d
        if pad == "same":
            k = np.asarray(node.weight.shape[2:])
            dil = np.broadcast_to(np.asarray(node.dilation), (d,))
            total = dil * (k - 1)
            if np.any(total % 2) or np.any(np.broadcast_to(np.asarray(node.stride), (d,)) != 1):
                raise UnsupportedError(
                    f"node {name!r}: padding 'same' with an even kernel {tuple(k)!r} or stride != 1 is asymmetric; "
                    f"neurosim supports symmetric padding only -- give explicit integer padding"
                )
            return tuple(int(v) for v in total // 2)
        raise FormatError(f"node {name!r}: padding must be integers, 'same' or 'valid', found {pad!r}")
    return pad


def _imp_conv(cls, d):
    def convert(node, name, ctx, in_shape):
        input_shape = getattr(node, "input_shape", None)
        weight = _arr(node.weight)
        if input_shape is not None:  # NIR gives the spatial shape only; the IR includes channels
            spatial = tuple(int(v) for v in np.atleast_1d(np.asarray(input_shape)))
            input_shape = (weight.shape[1] * int(np.asarray(node.groups)), *spatial)
        return cls(weight=_arr(node.weight), bias=_arr(node.bias), stride=node.stride,
                   padding=_conv_padding(node, name, in_shape, d), dilation=node.dilation,
                   groups=int(np.asarray(node.groups)), input_shape=input_shape)
    return convert


def _imp_pool(cls):
    def convert(node, name, ctx, in_shape):
        return cls(kernel_size=node.kernel_size, stride=node.stride, padding=node.padding)
    return convert


def _imp_flatten(node, name, ctx, in_shape):
    return ir.Flatten(start_dim=int(np.asarray(node.start_dim)), end_dim=int(np.asarray(node.end_dim)))


def _imp_scale(node, name, ctx, in_shape):
    scale = _arr(node.scale)
    return ir.Scale(shape=scale.shape if scale.ndim else in_shape, scale=scale)


def _imp_threshold(node, name, ctx, in_shape):
    thr = _arr(node.threshold)
    return ir.Threshold(shape=thr.shape if thr.ndim else in_shape, threshold=thr)


def _imp_delay(node, name, ctx, in_shape):
    delay_s = _arr(node.delay)
    steps = delay_s / ctx.dt(name, "Delay")
    whole = np.rint(steps)
    if not np.allclose(steps, whole, rtol=0, atol=1e-6):
        bad = float(steps[~np.isclose(steps, whole, rtol=0, atol=1e-6)].flat[0])
        raise UnsupportedError(
            f"node {name!r}: delay of {bad!r} timesteps is not a whole number of steps at dt={ctx.dt_s!r}; "
            f"choose a dt that divides the delays"
        )
    return ir.Delay(shape=delay_s.shape if delay_s.ndim else in_shape, delay_steps=whole.astype(np.int64))


def _imp_input(node, name, ctx, in_shape):
    return ir.Input(shape=tuple(int(v) for v in np.atleast_1d(np.asarray(node.input_type["input"]))))


def _imp_output(node, name, ctx, in_shape):
    shape = node.output_type.get("output") if node.output_type else None
    if shape is None or np.size(shape) == 0 or (np.asarray(shape).ndim == 0):
        shape = in_shape
    return ir.Output(shape=tuple(int(v) for v in np.atleast_1d(np.asarray(shape))))


#: NIR primitive name -> converter(node, name, ctx, input_shape) -> IR node.
IMPORTERS: dict[str, Callable] = {
    "Input": _imp_input,
    "Output": _imp_output,
    "Affine": _imp_affine,
    "Linear": _imp_linear,
    "Conv1d": _imp_conv(ir.Conv1d, 1),
    "Conv2d": _imp_conv(ir.Conv2d, 2),
    "LIF": _imp_lif,
    "CubaLIF": _imp_cubalif,
    "IF": _imp_if,
    "LI": _imp_li,
    "I": _imp_i,
    "Scale": _imp_scale,
    "Threshold": _imp_threshold,
    "Flatten": _imp_flatten,
    "SumPool2d": _imp_pool(ir.SumPool2d),
    "AvgPool2d": _imp_pool(ir.AvgPool2d),
    "Delay": _imp_delay,
}

#: Converters that need the input shape (scalar neuron parameters take it from the input).
_SHAPE_FROM_INPUT = {"LIF", "CubaLIF", "IF", "LI", "I", "Scale", "Threshold", "Delay", "Output"}


def _flatten_graph(g, prefix: str = "") -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Inline nested NIRGraphs: inner nodes become ``outer.inner``; inner Input/Output dissolve."""
    nir = _nir()
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    entry: dict[str, list[str]] = {}
    exit_: dict[str, list[str]] = {}
    for key, node in g.nodes.items():
        full = f"{prefix}{key}"
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges = _flatten_graph(node, prefix=f"{full}.")
            ins = [k for k, n in node.nodes.items() if isinstance(n, nir.Input)]
            outs = [k for k, n in node.nodes.items() if isinstance(n, nir.Output)]
            if len(ins) != 1 or len(outs) != 1:
                raise UnsupportedError(
                    f"node {full!r}: nested NIR subgraphs must have exactly one Input and one Output, found "
                    f"{len(ins)} and {len(outs)}"
                )
            in_name, out_name = f"{full}.{ins[0]}", f"{full}.{outs[0]}"
            entry[full] = [b for a, b in sub_edges if a == in_name]
            exit_[full] = [a for a, b in sub_edges if b == out_name]
            for k in (in_name, out_name):
                sub_nodes.pop(k)
            nodes.update(sub_nodes)
            edges.extend((a, b) for a, b in sub_edges if a != in_name and b != out_name)
        else:
            nodes[full] = node
    for a, b in g.edges:
        a_full, b_full = f"{prefix}{a}", f"{prefix}{b}"
        for src in exit_.get(a_full, [a_full]):
            for dst in entry.get(b_full, [b_full]):
                edges.append((src, dst))
    return nodes, edges


def from_nir(graph, *, source: str | None = None, dt_s: float | None = None, reset: str | None = None,
             reset_timing: str | None = None, spike_rule: str | None = None, norm_input: bool | None = None) -> Graph:
    """Convert an in-memory ``nir.NIRGraph`` to an IR :class:`Graph`.

    ``source`` picks the profile (default: exact restore for files neurosim wrote, else ``nir``);
    ``dt_s``, ``reset``, ``reset_timing``, ``spike_rule`` and ``norm_input`` override single profile
    fields (``norm_input=False`` reads a Sinabs model built with ``norm_input=False``).
    """
    nir = _nir()
    if not isinstance(graph, nir.NIRGraph):
        raise FrontendError(f"expected a nir.NIRGraph, found {type(graph).__name__!r}")
    meta = _graph_meta(graph)
    overrides = (dt_s, reset, reset_timing, spike_rule, norm_input)
    exact = source is None and meta is not None and not any(v is not None for v in overrides)
    profile = get_profile(source or "nir").with_overrides(reset=reset, reset_timing=reset_timing, spike_rule=spike_rule,
                                                          norm_input=norm_input)
    dt = dt_s if dt_s is not None else (meta["dt_s"] if exact and meta["dt_s"] is not None else profile.dt_s)
    profile = profile.with_overrides(dt_s=dt)
    ctx = _ImportContext(profile=profile, dt_s=dt)
    flat_nodes, flat_edges = _flatten_graph(graph)
    for name, node in flat_nodes.items():
        kind = type(node).__name__
        if kind not in IMPORTERS:
            raise UnsupportedError(
                f"node {name!r} is a NIR {kind}, which neurosim cannot import; supported primitives: "
                f"{sorted(IMPORTERS)!r}"
            )
    # Convert in dependency order so parameter-free shapes can come from the input.
    preds = {n: [a for a, b in flat_edges if b == n] for n in flat_nodes}
    converted: dict[str, ir.Node] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    progressed = True
    while progressed:
        progressed = False
        for name, node in flat_nodes.items():
            known = [shapes[a] for a in preds[name] if a in shapes]
            in_shape = known[0] if known else None
            if name not in converted:
                kind = type(node).__name__
                if kind in _SHAPE_FROM_INPUT and kind != "Input" and in_shape is None and preds[name]:
                    continue
                with node_context(name):
                    out = _exact_node(node, name) if exact else None
                    converted[name] = out if out is not None else IMPORTERS[kind](node, name, ctx, in_shape)
                progressed = True
            if name not in shapes:
                out = converted[name]
                in_shape = in_shape if in_shape is not None else out.fixed_input_shape()
                if in_shape is not None:
                    with node_context(name):
                        shapes[name] = out.output_shape(in_shape)
                    progressed = True
    pending = [n for n in flat_nodes if n not in converted]
    if pending:
        raise FrontendError(f"cannot infer the shapes of NIR nodes {pending!r}; give their parameters explicit shapes")
    order = list(flat_nodes)
    if meta is not None and sorted(meta["order"]) == sorted(order):
        order = list(meta["order"])  # HDF5 stores nodes alphabetically; restore the written order
    if exact:
        semantics = Semantics(profile=meta["profile"], dt_s=meta["dt_s"], notes=tuple(meta["notes"]))
    else:
        semantics = Semantics(profile=profile.name, dt_s=dt, notes=profile.notes())
    return Graph({n: converted[n] for n in order}, tuple(flat_edges), semantics)


def _graph_meta(graph) -> dict | None:
    raw = getattr(graph, "metadata", None) or {}
    text = raw.get(META_KEY) if isinstance(raw, dict) else None
    if text is None:
        return None
    try:
        meta = json.loads(str(text))
        return {"profile": meta["profile"], "dt_s": meta["dt_s"], "notes": meta.get("notes", []),
                "order": meta.get("order", [])}
    except (ValueError, KeyError, TypeError):
        return None


def _exact_node(node, name: str) -> ir.Node | None:
    """The exact IR node stored in a neurosim-written node's metadata, if present and intact."""
    meta = getattr(node, "metadata", None) or {}
    entry = meta.get(META_KEY) if isinstance(meta, dict) else None
    if not isinstance(entry, dict) or "node" not in entry:
        return None
    doc = json.loads(str(entry["node"]))
    arrays = {k: np.asarray(v) for k, v in (entry.get("arrays") or {}).items()}
    cls = ir.NODE_TYPES.get(doc["type"])
    if cls is None:
        return None
    restored = {}
    for k, v in doc["fields"].items():
        val = _decode(v, arrays, f"node {name!r}.{k}")
        if isinstance(val, np.ndarray) and k in doc.get("dtypes", {}):
            val = val.astype(doc["dtypes"][k])
        restored[k] = val
    return cls(**restored)


def read_nir(path: str | os.PathLike, **options) -> Graph:
    """Read a ``.nir`` (HDF5) file; see :func:`from_nir` for ``options``."""
    nir = _nir()
    path = Path(path)
    if not path.exists():
        raise FormatError(f"NIR file {str(path)!r} does not exist")
    try:
        # nir's own type check rejects valid files with 0-d parameters (Norse exports); the
        # importer validates shapes itself, naming the node.
        graph = nir.read(str(path), type_check=False)
    except Exception as exc:  # nir raises AssertionError/TypeError/ValueError/OSError on bad files
        detail = str(exc) or type(exc).__name__
        raise FormatError(
            f"{str(path)!r} is not a readable NIR file ({type(exc).__name__}: {detail}); the file is truncated, "
            f"of another format or uses a primitive this nir version does not know"
        ) from None
    return from_nir(graph, **options)


# ----------------------------------------------------------------------------------------------
# export
# ----------------------------------------------------------------------------------------------

@dataclass
class _ExportContext:
    dt_s: float
    lost: list[str] = field(default_factory=list)

    def note(self, name: str, what: str) -> None:
        self.lost.append(f"node {name!r}: {what}")


def _tau(ctx, decay):
    with np.errstate(divide="ignore"):
        return np.where(decay < 1, ctx.dt_s / np.maximum(1e-300, 1 - decay), np.inf)


def _membrane(ctx, node) -> dict[str, np.ndarray]:
    tau = _tau(ctx, node.decay)
    with np.errstate(invalid="ignore"):
        return {"tau": tau, "r": node.gain * tau / ctx.dt_s, "v_leak": node.bias * tau / ctx.dt_s}


def _spike_notes(ctx, name, node) -> None:
    if node.reset != "zero":
        ctx.note(name, f"reset {node.reset!r} (NIR resets to v_reset)")
    if node.reset_timing != "immediate":
        ctx.note(name, "delayed reset timing (NIR resets in the same step)")
    if node.spike_rule != "gt":
        ctx.note(name, f"spike rule {node.spike_rule!r} (NIR spikes when v > v_threshold, once)")
    if node.refractory_steps:
        ctx.note(name, f"refractory period of {node.refractory_steps} steps")
    if node.fixed is not None:
        ctx.note(name, f"fixed-point format {node.fixed.describe()}")
    if np.any(node.decay_values >= 1) and type(node).__name__ != "IF":
        ctx.note(name, "decay of 1 (no leak) written as tau = inf")


def _exp_lif(nir, node, name, ctx):
    _spike_notes(ctx, name, node)
    return nir.LIF(v_threshold=node.threshold, v_reset=node.v_reset, **_membrane(ctx, node))


def _exp_cubalif(nir, node, name, ctx):
    _spike_notes(ctx, name, node)
    if node.current_lag != 1:
        ctx.note(name, "membrane driven by the current of the same step (NIR/Euler uses the previous step's)")
    tau_syn = _tau(ctx, node.syn_decay)
    m = _membrane(ctx, node)
    with np.errstate(invalid="ignore"):
        w_in = node.syn_gain * tau_syn / ctx.dt_s
    return nir.CubaLIF(tau_syn=tau_syn, tau_mem=m["tau"], r=m["r"], v_leak=m["v_leak"],
                       v_threshold=node.threshold, v_reset=node.v_reset, w_in=w_in)


def _exp_if(nir, node, name, ctx):
    _spike_notes(ctx, name, node)
    if np.any(node.bias != 0):
        ctx.note(name, "bias on an IF neuron (NIR IF has none)")
    return nir.IF(r=node.gain / ctx.dt_s, v_threshold=node.threshold, v_reset=node.v_reset)


def _exp_li(nir, node, name, ctx):
    return nir.LI(**_membrane(ctx, node))


def _exp_integrator(nir, node, name, ctx):
    if np.any(node.bias != 0):
        ctx.note(name, "bias on an integrator (NIR I has none)")
    return nir.I(r=node.gain / ctx.dt_s)


def _exp_dense(nir, node, name, ctx):
    if node.nm is not None:
        ctx.note(name, f"N:M {node.nm[0]}:{node.nm[1]} declaration (kept in metadata)")
    if type(node).__name__ != "Dense":
        ctx.note(name, f"{type(node).__name__} storage written as a dense weight")
    if node.weight_format is not None:
        ctx.note(name, f"weight format {node.weight_format.describe()}")
    w = node.dense_weight()
    return nir.Linear(weight=w) if node.bias is None else nir.Affine(weight=w, bias=node.bias)


def _exp_conv(nir, node, name, ctx):
    cls = nir.Conv1d if node.spatial_dims == 1 else nir.Conv2d
    bias = node.bias if node.bias is not None else np.zeros(node.weight.shape[0])
    if node.bias is None:
        ctx.note(name, "missing conv bias written as zeros")
    stride, padding, dilation = (np.asarray(v) for v in (node.stride, node.padding, node.dilation))
    if node.spatial_dims == 1:
        stride, padding, dilation = (int(v[0]) for v in (stride, padding, dilation))
    spatial = None if node.input_shape is None else np.asarray(node.input_shape[1:])
    if spatial is not None and node.spatial_dims == 1:
        spatial = int(spatial[0])
    return cls(input_shape=spatial,
               weight=node.weight, stride=stride, padding=padding, dilation=dilation, groups=node.groups, bias=bias)


def _exp_pool(nir_cls_name):
    def convert(nir, node, name, ctx):
        return getattr(nir, nir_cls_name)(kernel_size=np.asarray(node.kernel_size), stride=np.asarray(node.stride),
                                          padding=np.asarray(node.padding))
    return convert


def _exp_flatten(nir, node, name, ctx, in_shape=None):
    return nir.Flatten(input_type={"input": np.asarray(ctx.shapes[ctx.preds[name][0]])},
                       start_dim=node.start_dim, end_dim=node.end_dim)


def _exp_scale(nir, node, name, ctx):
    return nir.Scale(scale=node.scale)


def _exp_threshold(nir, node, name, ctx):
    if node.spike_rule != "gt":
        ctx.note(name, f"spike rule {node.spike_rule!r}")
    return nir.Threshold(threshold=node.threshold)


def _exp_delay(nir, node, name, ctx):
    return nir.Delay(delay=node.delay_steps.astype(np.float64) * ctx.dt_s)


def _exp_input(nir, node, name, ctx):
    return nir.Input(input_type={"input": np.asarray(node.shape)})


def _exp_output(nir, node, name, ctx):
    return nir.Output(output_type={"output": np.asarray(node.shape)})


#: IR node type -> NIR converter.
EXPORTERS: dict[type, Callable] = {
    ir.Input: _exp_input,
    ir.Output: _exp_output,
    ir.Dense: _exp_dense,
    ir.SparseCSR: _exp_dense,
    ir.NMSparse: _exp_dense,
    ir.Conv1d: _exp_conv,
    ir.Conv2d: _exp_conv,
    ir.LIF: _exp_lif,
    ir.CubaLIF: _exp_cubalif,
    ir.IF: _exp_if,
    ir.LI: _exp_li,
    ir.Integrator: _exp_integrator,
    ir.Scale: _exp_scale,
    ir.Threshold: _exp_threshold,
    ir.Flatten: _exp_flatten,
    ir.SumPool2d: _exp_pool("SumPool2d"),
    ir.AvgPool2d: _exp_pool("AvgPool2d"),
    ir.Delay: _exp_delay,
}


def _node_metadata(node: ir.Node) -> dict:
    arrays: dict[str, np.ndarray] = {}
    encoded = {f.name: _encode(getattr(node, f.name), f.name, arrays) for f in fields(node)}
    doc = {"type": type(node).__name__, "fields": encoded,
           "dtypes": {k: str(v.dtype) for k, v in arrays.items()}}
    entry: dict[str, Any] = {"node": json.dumps(doc)}
    if arrays:
        entry["arrays"] = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    return {META_KEY: entry}


def to_nir(graph: Graph, *, dt_s: float | None = None):
    """Export to a ``nir.NIRGraph``; returns ``(nir_graph, lost)`` where ``lost`` lists what NIR cannot express."""
    nir = _nir()
    dt = dt_s or graph.semantics.dt_s or DEFAULT_EXPORT_DT_S
    ctx = _ExportContext(dt_s=dt)
    ctx.shapes = graph.shapes
    ctx.preds = {n: graph.predecessors(n) for n in graph.nodes}
    if graph.semantics.dt_s is None and dt_s is None:
        ctx.lost.append(f"the model has no dt; time constants written for dt = {dt!r} s")
    out_nodes = {}
    for name, node in graph.nodes.items():
        conv = EXPORTERS.get(type(node))
        if conv is None:  # pragma: no cover - every registered IR type has an exporter
            raise UnsupportedError(f"node {name!r}: IR type {type(node).__name__!r} has no NIR equivalent")
        nir_node = conv(nir, node, name, ctx)
        nir_node.metadata = _node_metadata(node)
        out_nodes[name] = nir_node
    meta = {META_KEY: json.dumps({"profile": graph.semantics.profile, "dt_s": graph.semantics.dt_s,
                                  "notes": list(graph.semantics.notes), "export_dt_s": dt,
                                  "order": list(graph.nodes)})}
    edges = [tuple(e) for e in graph.edges]
    try:
        g = nir.NIRGraph(nodes=out_nodes, edges=edges, metadata=meta)
    except (ValueError, AssertionError, TypeError):
        g = nir.NIRGraph(nodes=out_nodes, edges=edges, metadata=meta, type_check=False)
    return g, ctx.lost


def write_nir(graph: Graph, path: str | os.PathLike, *, dt_s: float | None = None) -> list[str]:
    """Write ``graph`` as a NIR file atomically; returns what NIR could not express."""
    nir = _nir()
    g, lost = to_nir(graph, dt_s=dt_s)
    with atomic_path(path) as tmp:
        try:
            nir.write(str(tmp), g)
        except TypeError:  # nir's gzip option rejects 0-d arrays: write those files uncompressed
            nir.write(str(tmp), g, compression=None)
    return lost
