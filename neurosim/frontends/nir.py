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

**Hostile or edited files.** :func:`read_nir` is the validation boundary of NIR files. Before
``nir.read`` allocates anything it scans the HDF5 tree with h5py (:func:`_scan_hdf5`): a directory,
a file that is not HDF5 or that h5py cannot open is a one-line :class:`~neurosim.errors.FormatError`;
every dataset's declared size is checked against the ``elements`` limit (and a neuron node's
parameters, and the Input/Output shapes, against ``neurons``) and the group nesting against the
``depth`` limit, from the dataset headers alone; a dataset over 64 MiB must store its data (a shape
declared without data, or a > 1024:1 compression bomb, is refused). Each NIR node's parameters must then be real numeric
arrays (strings, bytes, complex, object, datetime arrays and NaN are refused, naming the node and the
parameter). The neurosim metadata of a file neurosim wrote is checked against the schema of the
native format (:func:`neurosim.ir.serialize.decode_node`; damaged JSON, missing keys and wrong types
name the entry) and **against the file's own NIR data**: the restored graph is exported again with
the recorded export ``dt`` and every parameter must equal the file's NIR parameter. If another tool
changed the NIR data (set the weights to NaN, retrained them), the metadata no longer describes the
file and neurosim **refuses** it, naming the node and the parameter that disagree; reading the NIR
data alone (``--source nir`` or any other profile) ignores the metadata.

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
import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import numpy as np

from neurosim import limits
from neurosim.errors import FormatError, FrontendError, IRError, NeurosimError, ShapeError, UnsupportedError
from neurosim.fileio import atomic_path
from neurosim.frontends.profiles import SourceProfile, get_profile
from neurosim.ir import nodes as ir
from neurosim.ir.graph import Graph, Semantics
from neurosim.ir.nodes.base import REAL_KINDS, node_context, short_repr
from neurosim.ir.serialize import _encode, check_array_dtype, decode_node

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
    """NIR parameters arrive as numpy arrays, numpy scalars, python numbers or torch tensors
    (already checked to be real numbers by :func:`_check_params`)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


#: NIR node fields that are not numeric parameters (checked elsewhere or not at all)
_NON_PARAMS = ("metadata", "input_type", "output_type")
_KIND_NAMES = {"b": "booleans", "c": "complex values", "U": "strings", "S": "bytes", "O": "Python objects",
               "M": "datetimes", "m": "timedeltas", "V": "structured records"}


def _check_params(node, name: str, allow_nan: bool) -> None:
    """Every numeric parameter of a NIR node is a real number array (NaN only when ``allow_nan``:
    a neurosim-written file's parameters are compared with its metadata instead)."""
    kind = type(node).__name__
    for f in fields(node) if hasattr(node, "__dataclass_fields__") else ():
        if f.name in _NON_PARAMS:
            continue
        v = getattr(node, f.name)
        if v is None or (f.name == "padding" and isinstance(v, (str, bytes))):
            continue
        if hasattr(v, "detach"):
            v = v.detach().cpu().numpy()
        try:
            arr = np.asarray(v)
        except (TypeError, ValueError):
            arr = np.asarray(None)
        if arr.dtype.kind not in REAL_KINDS or arr.dtype.fields is not None:
            what = _KIND_NAMES.get(arr.dtype.kind, f"dtype {arr.dtype}")
            raise FormatError(
                f"node {name!r} (NIR {kind}): parameter {f.name!r} must be a real number array, found {what} "
                f"{short_repr(v)}; write it as a float array"
            )
        if not allow_nan and arr.dtype.kind == "f" and np.isnan(arr).any():
            raise FormatError(
                f"node {name!r} (NIR {kind}): parameter {f.name!r} contains NaN; every parameter must be a number -- "
                f"the file is damaged or was written by a broken export"
            )
    for attr in ("input_type", "output_type"):
        types = getattr(node, attr, None)
        if not isinstance(types, dict):
            continue
        for port, shape in types.items():
            if shape is None:
                continue
            arr = np.asarray(shape) if not isinstance(shape, (str, bytes)) else np.asarray(None)
            if arr.dtype.kind not in "iuf" or arr.ndim > 1 or (arr.size and not np.all(np.isfinite(arr))):
                raise FormatError(
                    f"node {name!r} (NIR {kind}): {attr}[{port!r}] must be a shape (integers), found {short_repr(shape)}"
                )


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
    shape = (node.input_type or {}).get("input")
    if shape is None:
        raise FormatError(f"node {name!r}: the NIR Input declares no shape (input_type['input']); the file is damaged")
    return ir.Input(shape=np.atleast_1d(np.asarray(shape)))


def _imp_output(node, name, ctx, in_shape):
    shape = node.output_type.get("output") if node.output_type else None
    if shape is None or np.size(shape) == 0 or (np.asarray(shape).ndim == 0):
        shape = in_shape
    return ir.Output(shape=np.atleast_1d(np.asarray(shape)) if not isinstance(shape, tuple) else shape)


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
    overrides = (dt_s, reset, reset_timing, spike_rule, norm_input)
    wants_exact = source is None and not any(v is not None for v in overrides)
    try:
        meta = _graph_meta(graph)
    except FormatError:
        if wants_exact:
            raise
        meta = None  # reading the NIR data alone: damaged neurosim metadata is ignored
    exact = wants_exact and meta is not None
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
    restored: set[str] = set()
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
                    _check_params(node, name, allow_nan=exact)
                    out = _exact_node(node, name) if exact else None
                    if out is not None:
                        restored.add(name)
                    else:
                        out = _import_node(node, name, kind, ctx, in_shape)
                    converted[name] = out
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
    result = Graph({n: converted[n] for n in order}, tuple(flat_edges), semantics)
    if restored:
        _verify_exact(result, flat_nodes, restored, meta)
    return result


def _import_node(node, name: str, kind: str, ctx: _ImportContext, in_shape):
    """One NIR node through its importer; a parameter of a form the importer cannot use (a 2-element
    ``groups``, a padding of the wrong length) is a FormatError naming the node, never a traceback."""
    try:
        return IMPORTERS[kind](node, name, ctx, in_shape)
    except (TypeError, ValueError, IndexError, KeyError, AttributeError, OverflowError) as exc:
        raise FormatError(
            f"node {name!r}: the parameters of this NIR {kind} have a form neurosim cannot import "
            f"({type(exc).__name__}: {short_repr(str(exc), 120)}); check the file's {kind} parameters"
        ) from None


def _meta_error(where: str, problem: str) -> FormatError:
    """``where`` names the metadata entry ("node '0': the neurosim metadata entry 'node'")."""
    return FormatError(
        f"{where} {problem}; the file is damaged -- re-export it from neurosim, or read the "
        f"NIR data alone with --source nir"
    )


def _meta_json(text, where: str) -> Any:
    if isinstance(text, np.ndarray) and text.ndim == 0:
        text = text.item()
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise _meta_error(where, "is not UTF-8 text") from None
    if not isinstance(text, str):
        raise _meta_error(where, f"must be a JSON string, found {short_repr(text)}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _meta_error(where, f"is not valid JSON ({exc.msg} at char {exc.pos})") from None
    except (RecursionError, ValueError):
        raise _meta_error(where, "nests too deeply or holds an oversized number") from None


def _graph_meta(graph) -> dict | None:
    raw = getattr(graph, "metadata", None) or {}
    text = raw.get(META_KEY) if isinstance(raw, dict) else None
    if text is None:
        return None
    where = "the graph's neurosim metadata"
    meta = _meta_json(text, where)
    if not isinstance(meta, dict):
        raise _meta_error(where, f"must be a JSON object, found {short_repr(meta)}")
    for key in ("profile", "dt_s"):
        if key not in meta:
            raise _meta_error(where, f"lacks the key {key!r}")
    dt = meta["dt_s"]
    export_dt = meta.get("export_dt_s", dt if dt is not None else DEFAULT_EXPORT_DT_S)
    notes, order = meta.get("notes", []), meta.get("order", [])
    checks = (
        ("profile", isinstance(meta["profile"], str) and bool(meta["profile"]), "a profile name"),
        ("dt_s", dt is None or (_is_number(dt) and dt > 0), "a positive number or null"),
        ("export_dt_s", _is_number(export_dt) and export_dt > 0, "a positive number"),
        ("notes", isinstance(notes, list) and all(isinstance(n, str) for n in notes), "a list of strings"),
        ("order", isinstance(order, list) and all(isinstance(n, str) for n in order), "a list of node names"),
    )
    for key, ok, expected in checks:
        if not ok:
            raise _meta_error(where, f"key {key!r} must be {expected}, found {short_repr(meta.get(key))}")
    return {"profile": meta["profile"], "dt_s": dt, "notes": notes, "order": order, "export_dt_s": export_dt}


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _exact_node(node, name: str) -> ir.Node | None:
    """The exact IR node stored in a neurosim-written node's metadata (None for a node without it).

    The metadata is checked like a ``.nsim`` node (schema, types, dtypes): damaged metadata is a
    FormatError naming the node and the entry, never a silent fallback."""
    meta = getattr(node, "metadata", None) or {}
    entry = meta.get(META_KEY) if isinstance(meta, dict) else None
    if entry is None:
        return None
    where = f"node {name!r}: the neurosim metadata"
    if not isinstance(entry, dict) or "node" not in entry:
        raise _meta_error(where, "must hold the entry 'node' (the IR node as JSON)")
    extra = sorted(str(k) for k in entry if k not in ("node", "arrays"))
    if extra:
        raise _meta_error(where, f"has unknown entries {short_repr(extra)}")
    node_where = f"{where} entry 'node'"
    doc = _meta_json(entry["node"], node_where)
    if not isinstance(doc, dict) or not {"type", "fields"} <= set(doc) or not set(doc) <= {"type", "fields", "dtypes"}:
        raise _meta_error(node_where, f"must be an object with keys 'type', 'fields' and 'dtypes', "
                                      f"found {short_repr(sorted(doc) if isinstance(doc, dict) else doc)}")
    raw_arrays = entry.get("arrays") or {}
    if not isinstance(raw_arrays, dict):
        raise _meta_error(f"{where} entry 'arrays'", f"must be a group of arrays, found {short_repr(raw_arrays)}")
    dtypes = doc.get("dtypes", {})
    if not isinstance(dtypes, dict):
        raise _meta_error(node_where, f"key 'dtypes' must be an object, found {short_repr(dtypes)}")
    arrays: dict[str, np.ndarray] = {}
    for key, value in raw_arrays.items():
        if hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        arr = np.asarray(value) if isinstance(value, np.ndarray) or np.isscalar(value) else np.asarray(None)
        check_array_dtype(arr.dtype, f"{where} array {short_repr(key)}")
        if key in dtypes:
            try:
                want = np.dtype(str(dtypes[key]))
            except (TypeError, ValueError):
                raise _meta_error(node_where, f"names the unknown dtype {short_repr(dtypes[key])} "
                                              f"for array {short_repr(key)}") from None
            check_array_dtype(want, f"{where} dtype of array {short_repr(key)}")
            arr = arr.astype(want)
        arrays[str(key)] = arr
    return decode_node(doc["type"], doc["fields"], arrays, f"node {name!r}", "", name, doc="neurosim metadata",
                       fix="re-export it from neurosim, or read the NIR data alone with --source nir")


def _same(a, b) -> bool:
    """Equality of two NIR parameter values (arrays bit for bit as float64, NaN equal to NaN)."""
    if isinstance(a, dict) or isinstance(b, dict):
        return (isinstance(a, dict) and isinstance(b, dict) and set(a) == set(b)
                and all(_same(a[k], b[k]) for k in a))
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, (str, bytes)) or isinstance(b, (str, bytes)):
        def text(v):
            return v.decode() if isinstance(v, bytes) else v
        return text(a) == text(b)
    x, y = np.asarray(_arr(a)), np.asarray(_arr(b))
    return x.shape == y.shape and np.array_equal(x, y, equal_nan=True)


def _verify_exact(graph: Graph, flat_nodes: dict[str, Any], restored: set[str], meta: dict) -> None:
    """The metadata-restored nodes, exported again, must equal the file's NIR data (else the NIR data
    was changed after neurosim wrote it and the metadata no longer describes the file)."""
    again, _ = to_nir(graph, dt_s=meta["export_dt_s"])
    for name in sorted(restored):
        ours, theirs = again.nodes[name], flat_nodes[name]
        if type(ours).__name__ != type(theirs).__name__:
            raise FormatError(
                f"node {name!r}: the neurosim metadata describes a {type(graph.nodes[name]).__name__} (NIR "
                f"{type(ours).__name__}) but the file's NIR node is a {type(theirs).__name__}; another tool changed the "
                f"file -- read the NIR data alone with --source nir, or re-export the model from neurosim"
            )
        for f in fields(ours):
            if f.name == "metadata" or (f.name in ("input_type", "output_type")
                                        and type(ours).__name__ not in ("Input", "Output")):
                continue
            if not _same(getattr(ours, f.name, None), getattr(theirs, f.name, None)):
                raise FormatError(
                    f"node {name!r}: the neurosim metadata disagrees with the file's NIR parameter {f.name!r} "
                    f"(another tool changed the NIR data?), so neurosim does not trust it -- read the NIR data alone "
                    f"with --source nir, or re-export the model from neurosim"
                )


#: NIR node types whose parameters are per-neuron (their sizes count against the ``neurons`` limit)
_NEURON_TYPES = {"LIF", "CubaLIF", "IF", "LI", "I", "CubaLI", "Threshold", "Scale", "Delay"}
#: the deepest group nesting the reader walks (nir's reader recurses once per level)
_MAX_GROUP_DEPTH = 200


#: above this many bytes a dataset must store its data at a plausible compression ratio
_LAZY_BYTES = 64 * 2**20
_MAX_RATIO = 1024


def _check_stored(ds, size: int, where: str) -> None:
    """A large dataset must hold its data: an HDF5 dataset declared with a shape only (no data written;
    h5py fills it on read) or a gzip bomb would be allocated in full by ``nir.read``."""
    nbytes = size * ds.dtype.itemsize
    if nbytes <= _LAZY_BYTES:
        return
    stored = int(ds.id.get_storage_size())
    if stored == 0 or nbytes > _MAX_RATIO * stored:
        raise FormatError(
            f"{where} declares {size:,} elements ({nbytes / 2**30:.3g} GiB) but stores only {stored:,} bytes; the file is "
            f"hand-crafted (a shape without data, or a compression bomb) -- neurosim refuses to expand it"
        )


def _scan_hdf5(path: Path) -> None:
    """Check an HDF5 file's tree from its headers alone, before ``nir.read`` loads any dataset:
    element counts (``elements``; a neuron node's parameters and Input/Output shapes: ``neurons``),
    nesting depth (``depth``). h5py errors become one-line FormatErrors, never h5py internals."""
    import h5py

    shown = short_repr(str(path), 300)
    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise FormatError(
            f"{shown} is not a readable NIR file ({type(exc).__name__}: HDF5 cannot open it); the file is truncated "
            f"or of another format -- write NIR files with nir.write"
        ) from None
    total = 0
    try:
        with f:
            stack: list[tuple[Any, int]] = [(f, 0)]
            while stack:
                group, depth = stack.pop()
                if depth > _MAX_GROUP_DEPTH:
                    raise FormatError(f"{shown}: HDF5 groups nest more than {_MAX_GROUP_DEPTH} levels deep at "
                                      f"{short_repr(group.name)}; the file is damaged or hand-crafted")
                limits.check("depth", depth // 2, f"NIR file {shown} (subgraph nesting at {short_repr(group.name)})")
                node_type = None
                if "type" in group and isinstance(group["type"], h5py.Dataset) and group["type"].size == 1:
                    raw = group["type"][()]
                    node_type = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
                for key in group:
                    item = group.get(key)
                    where = f"NIR file {shown}: dataset {short_repr(f'{group.name}/{key}')}"
                    if isinstance(item, h5py.Group):
                        stack.append((item, depth + 1))
                    elif isinstance(item, h5py.Dataset):
                        size = int(math.prod(item.shape)) if item.shape is not None else 0
                        limits.check("elements", size, where)
                        total += size
                        if node_type in _NEURON_TYPES and key not in ("type",):
                            limits.check("neurons", size, where)
                        _check_stored(item, size, where)
                        if node_type in ("Input", "Output") and key == "shape":
                            if size > 32 or item.dtype.kind not in "iuf":
                                raise FormatError(f"{where} must be a short list of integers (a shape), found "
                                                  f"{size} elements of dtype {item.dtype}")
                            dims = np.atleast_1d(item[()]).astype(np.float64)
                            if np.all(np.isfinite(dims)) and np.all(dims > 0):
                                count = math.prod(float(d) for d in dims)
                                if count > 2**62:
                                    raise FormatError(f"{where} declares a shape of more than 2**62 elements; the file "
                                                      f"is damaged or hand-crafted")
                                limits.check("neurons", int(count), where)
            limits.check("elements", total, f"NIR file {shown} (all datasets)")
    except NeurosimError:
        raise
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as exc:
        raise FormatError(
            f"{shown} is not a readable NIR file ({type(exc).__name__} while reading the HDF5 tree); the file is "
            f"damaged -- write NIR files with nir.write"
        ) from None


def read_nir(path: str | os.PathLike, **options) -> Graph:
    """Read a ``.nir`` (HDF5) file; see :func:`from_nir` for ``options``.

    The file's tree is checked by :func:`_scan_hdf5` before anything is loaded; errors of the import
    are prefixed with the path."""
    nir = _nir()
    path = Path(path)
    shown = short_repr(str(path), 300)
    if not path.exists():
        raise FormatError(f"NIR file {shown} does not exist")
    if path.is_dir():
        raise FormatError(f"NIR file {shown} is a directory; give the path of a .nir file (HDF5 written by nir.write)")
    if not path.is_file():
        raise FormatError(f"NIR file {shown} is not a regular file; give the path of a .nir file")
    limits.check("file_bytes", path.stat().st_size, f"NIR file {shown}")
    _scan_hdf5(path)
    try:
        # nir's own type check rejects valid files with 0-d parameters (Norse exports); the
        # importer validates shapes itself, naming the node.
        graph = nir.read(str(path), type_check=False)
    except Exception as exc:  # nir raises AssertionError/TypeError/ValueError/KeyError on bad files
        detail = short_repr(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 160)
        raise FormatError(
            f"{shown} is not a readable NIR file ({type(exc).__name__}: {detail}); the file is truncated, "
            f"of another format or uses a primitive this nir version does not know"
        ) from None
    try:
        return from_nir(graph, **options)
    except NeurosimError as exc:
        raise type(exc)(f"{str(path)}: {exc}") from None


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
    if getattr(node, "max_spikes", None) is not None:
        ctx.note(name, f"multi-spike cap max_spikes={node.max_spikes!r} (NIR has none)")
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
    if getattr(node, "max_spikes", None) is not None:
        ctx.note(name, f"multi-spike cap max_spikes={node.max_spikes!r} (NIR has none)")
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
