"""Import ``torch.nn.Module`` networks (spiking, and conventional DNNs) into the IR.

:func:`from_torch` reads an ``nn.Sequential`` (nested Sequentials are flattened) or any module
``torch.fx`` can trace, one timestep at a time: ``input_shape`` is the shape of one step of one
sample (no batch, no time axis). IR node names are the module paths (``0``, ``1``, ``net.2``;
a path the IR would not accept as a name gets ``layer`` in front). Errors name the module path and class, e.g. ``layer '3' (snntorch.Leaky)``.

One registry, :data:`_ENTRIES`, maps each supported class to a converter; optional frameworks are
never imported here (a class is looked up only when its package is already loaded, which it is
whenever a model contains one of its modules). torch itself is imported inside functions.

Layer mapping (weights are copied as float64 of the torch values; every Dense/Conv weight goes
through :func:`neurosim.ir.nm.detect_nm` and a found N:M pattern is recorded as ``nm``):

=================================  ==========================================================
torch.nn.Linear                    Dense (bias kept)
torch.nn.Conv1d / Conv2d           Conv1d / Conv2d (padding 'same'/'valid' resolved to ints)
torch.nn.AvgPool2d                 AvgPool2d (count_include_pad=True, ceil_mode=False only)
torch.nn.Flatten                   Flatten, dims shifted past the batch (and sinabs' time) axis
torch.nn.Identity / Dropout        skipped (identity at inference)
neurosim.torch.LIF                 LIF(decay, threshold, reset, immediate, spike_rule='gt')
snntorch.Leaky                     LIF(beta clamped to [0, 1]); reset_delay -> 'delayed'
snntorch.Synaptic                  CubaLIF(syn_decay=alpha, syn_gain=1, current_lag=0)
snntorch.RLeaky                    LIF + projection ``<name>.rec`` on a one-step-delayed edge
spikingjelly LIFNode / IFNode      LIF / IF, spike_rule='ge', membrane relative to v_reset
sinabs LIF / IAF (and *Squeeze)    LIF / IF, or CubaLIF with tau_syn; MultiSpike -> 'multi'
sinabs SumPool2d                   SumPool2d
=================================  ==========================================================

Conventional (non-spiking) DNN layers lower to the IR's DNN nodes (:mod:`neurosim.ir.nodes.dnn`),
which the SAT training model reads and the neuromorphic engine refuses:

* ``ReLU``, ``ReLU6``, ``LeakyReLU``, ``Hardtanh`` -> ReLU(kind=...); also ``torch.relu``, ``F.relu``,
  ``F.relu6``, ``F.leaky_relu``, ``x.relu()``
* ``GELU``, ``SiLU``, ``Sigmoid``, ``Tanh``, ``Hardswish`` -> GELU(kind=...); also ``F.gelu``, ``F.silu``,
  ``torch.sigmoid``, ``torch.tanh``
* ``BatchNorm1d``/``BatchNorm2d`` -> BatchNorm(features, eps); ``LayerNorm`` -> LayerNorm (last axis
  only); the IR keeps no norm values (the SAT model needs none)
* ``MaxPool2d`` -> MaxPool2d (floor mode, no dilation)
* ``AdaptiveAvgPool2d(1)`` and ``F.adaptive_avg_pool2d(x, 1)`` -> GlobalAvgPool; an output size equal
  to the input size (VGG's (7, 7) on a 7x7 map) is the identity and is skipped
* ``Softmax(dim=-1)``, ``torch.softmax``/``F.softmax`` -> Softmax
* ``MultiheadAttention`` (self-attention, ``batch_first=True``, called ``attn(x, x, x)``) -> Dense
  ``<path>.q``/``.k``/``.v`` (rows of ``in_proj_weight`` split) -> MatMul ``.scores`` (heads,
  q k^T / sqrt(d)) -> Softmax ``.softmax`` -> MatMul ``.context`` (probs then v, heads
  merged) -> Dense ``.out_proj``; only item 0 of its ``(output, weights)`` may be used

Models built on torch's meta device have shapes but no values: their weights become
:func:`~neurosim.ir.nodes.base.shape_only` arrays (no memory) and N:M detection is skipped.

In an ``fx``-traced module, ``a + b`` (``operator.add``/``torch.add``/``+=``) of two branches is an
:class:`~neurosim.ir.nodes.Add` node when the model has no spiking neurons or either branch ends in a
DNN node; in spiking models it stays several edges into the next node (IR nodes sum their inputs).
``x + parameter`` is ``Add(constant=...)``. ``torch.flatten``/``x.flatten`` become Flatten;
``spk, mem = lif(x)`` with only ``spk`` used is accepted. Data movement without arithmetic
(reshape, view, permute, transpose, expand, squeeze/unsqueeze, slicing ``x[:, 0]``, ``torch.cat``
of a layer output with a parameter such as ViT's class token) becomes one
:class:`~neurosim.ir.nodes.Rearrange` per op; its shape comes from running the op on meta tensors
of a batch of one (so ``x.shape``/``x.size()`` arithmetic and ``torch._assert`` work and nothing
is computed on real data); ``contiguous`` and shape-keeping reshapes are skipped. The batch axis
must stay axis 0.
"""

from __future__ import annotations

import dataclasses
import operator
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from neurosim.errors import FormatError, FrontendError, IRError, ShapeError, UnsupportedError
from neurosim.ir import graph as _graph_module
from neurosim.ir.graph import Graph, Semantics
from neurosim.ir.nm import detect_nm
from neurosim.ir.nodes import (
    GELU,
    IF,
    LIF,
    Add,
    AvgPool2d,
    BatchNorm,
    Conv1d,
    Conv2d,
    CubaLIF,
    Dense,
    Flatten,
    GlobalAvgPool,
    Input,
    LayerNorm,
    MatMul,
    MaxPool2d,
    Node,
    Output,
    Rearrange,
    ReLU,
    Scale,
    Softmax,
    SumPool2d,
)
from neurosim.ir.nodes.base import shape_only

__all__ = ["PROFILES", "Layer", "Lowered", "from_torch", "load_torch_file", "supported_layers"]

#: Values of ``Semantics.profile`` this frontend writes.
PROFILES = ("torch", "snntorch", "spikingjelly", "sinabs", "neurosim")

#: Top-level packages whose modules are always leaves of the fx trace (never traced into).
_SNN_PACKAGES = ("snntorch", "sinabs", "spikingjelly", "norse", "neurosim", "rockpool", "lava")


# ----------------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Layer:
    """What a converter knows about the module it converts."""

    path: str  # module path, e.g. "net.2"
    display: str  # public class name, e.g. "snntorch.Leaky"
    in_shape: tuple[int, ...]  # unbatched shape of one timestep
    lead_dims: int  # leading axes the module sees before ``in_shape`` (batch; sinabs: batch, time)

    @property
    def where(self) -> str:
        return f"layer {self.path!r} ({self.display})"

    def error(self, cls: type[Exception], text: str) -> Exception:
        return cls(f"{self.where} {text}")


@dataclass(frozen=True)
class Lowered:
    """A converter's result.

    ``node`` is the IR node (None: the layer is the identity and is skipped); ``recurrent`` are
    ``(name suffix, projection)`` pairs fed by ``node``'s output and feeding ``node`` back one
    step later; ``notes`` go into the graph's :class:`Semantics`.
    """

    node: Node | None
    recurrent: tuple[tuple[str, Node], ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Entry:
    path: str  # public dotted path of the class
    convert: Callable[[Any, Layer], Lowered]
    profile: str | None = None  # set for neuron classes: the framework whose semantics apply
    lead_dims: int = 1  # sinabs' non-Squeeze layers take [B, T, ...]
    returns_tuple: Callable[[Any], bool] | None = None  # forward returns (spk, state...)


# ---------------------------------------------------------------------------------- helpers


def _is_meta(t) -> bool:
    return bool(getattr(t, "is_meta", False))


def _f64(t) -> np.ndarray:
    """A tensor (or number) as a float64 numpy array of the same values.

    A meta-device tensor has a shape but no values: it becomes a :func:`shape_only` array
    (all zeros, no memory), which is what a weight of unknown value is in the IR.
    """
    if _is_meta(t):
        return shape_only(tuple(t.shape))
    if hasattr(t, "detach"):
        return t.detach().cpu().double().numpy().copy()
    return np.asarray(t, dtype=np.float64)


def _projection(cls: type[Node], layer: Layer, weight: np.ndarray, bias: np.ndarray | None, *,
                meta: bool = False, **kw) -> Lowered:
    """A weighted node; N:M detection runs on real weights only (a meta placeholder has no pattern)."""
    nm = None if meta else detect_nm(weight)
    notes = ()
    if nm is not None:
        notes = (f"{layer.where}: weight is {nm[0]}:{nm[1]} structured-sparse (recorded as nm={nm!r})",)
    return Lowered(cls(weight=weight, bias=bias, nm=nm, **kw), notes=notes)


def _check_threshold_positive(layer: Layer, thr: np.ndarray, why: str) -> None:
    if np.any(thr <= 0):
        raise layer.error(
            UnsupportedError,
            f"has threshold {float(np.min(thr))!r}, {why}; use a threshold > 0",
        )


# ------------------------------------------------------------------------- torch.nn layers


def _linear(mod, layer: Layer) -> Lowered:
    bias = None if mod.bias is None else _f64(mod.bias)
    return _projection(Dense, layer, _f64(mod.weight), bias, meta=_is_meta(mod.weight))


def _conv(cls: type[Node], d: int) -> Callable[[Any, Layer], Lowered]:
    def convert(mod, layer: Layer) -> Lowered:
        if mod.padding_mode != "zeros":
            raise layer.error(
                UnsupportedError,
                f"has padding_mode={mod.padding_mode!r}; neurosim convolutions pad with zeros only: "
                f"use padding_mode='zeros'",
            )
        k, dil = tuple(mod.kernel_size), tuple(mod.dilation)
        pad = mod.padding
        if pad == "valid":
            pad = (0,) * d
        elif pad == "same":
            totals = [dl * (kk - 1) for kk, dl in zip(k, dil)]
            if any(t % 2 for t in totals):
                raise layer.error(
                    UnsupportedError,
                    f"has padding='same' with kernel {k!r} and dilation {dil!r}, which torch pads "
                    f"asymmetrically; neurosim pads symmetrically: use an odd kernel or integer padding",
                )
            pad = tuple(t // 2 for t in totals)
        elif isinstance(pad, str):
            raise layer.error(UnsupportedError, f"has padding={pad!r}; use integers, 'same' or 'valid'")
        bias = None if mod.bias is None else _f64(mod.bias)
        return _projection(cls, layer, _f64(mod.weight), bias, meta=_is_meta(mod.weight), stride=tuple(mod.stride),
                           padding=tuple(pad), dilation=dil, groups=int(mod.groups))
    return convert


def _avgpool2d(mod, layer: Layer) -> Lowered:
    if mod.ceil_mode:
        raise layer.error(UnsupportedError, "has ceil_mode=True; neurosim pools in floor mode: use ceil_mode=False")
    if not mod.count_include_pad:
        raise layer.error(
            UnsupportedError,
            "has count_include_pad=False; neurosim divides by the full kernel area: use count_include_pad=True "
            "(or padding=0)",
        )
    if getattr(mod, "divisor_override", None) is not None:
        raise layer.error(
            UnsupportedError,
            f"has divisor_override={mod.divisor_override!r}; neurosim divides by the kernel area: remove it",
        )
    stride = mod.stride if mod.stride is not None else mod.kernel_size
    return Lowered(AvgPool2d(kernel_size=mod.kernel_size, stride=stride, padding=mod.padding))


def _sumpool2d(mod, layer: Layer) -> Lowered:
    if float(mod.norm_type) != 1.0:
        raise layer.error(UnsupportedError, f"has norm_type={mod.norm_type!r}; only 1 (a sum) is supported")
    if mod.ceil_mode:
        raise layer.error(UnsupportedError, "has ceil_mode=True; neurosim pools in floor mode: use ceil_mode=False")
    stride = mod.stride if mod.stride is not None else mod.kernel_size
    return Lowered(SumPool2d(kernel_size=mod.kernel_size, stride=stride))


def _flatten_dims(layer: Layer, start: int, end: int) -> Lowered:
    """Flatten(start, end) of the batched tensor -> IR Flatten of the unbatched shape."""
    lead, n = layer.lead_dims, len(layer.in_shape)
    total = lead + n
    what = "the batch axis" if lead == 1 else "the batch or time axis (sinabs layers take [B, T, ...])"

    def shift(v: int, name: str) -> int:
        pos = v + total if v < 0 else v
        if not lead <= pos < total:
            raise layer.error(
                UnsupportedError,
                f"has {name}={v!r}, which reaches {what} of its {total}-d input; neurosim models one sample "
                f"per timestep: use {name} >= {lead}",
            )
        return v if v < 0 else v - lead

    return Lowered(Flatten(start_dim=shift(start, "start_dim"), end_dim=shift(end, "end_dim")))


def _flatten(mod, layer: Layer) -> Lowered:
    return _flatten_dims(layer, int(mod.start_dim), int(mod.end_dim))


def _skip(mod, layer: Layer) -> Lowered:
    name = layer.display.rsplit(".", 1)[-1]
    note = f"{layer.display} layers skipped (the identity at inference)" if "Dropout" in name else ()
    return Lowered(None, notes=(note,) if note else ())


# ------------------------------------------------------------------ torch.nn DNN layers


def _activation(cls: type[Node], kind: str) -> Callable[[Any, Layer], Lowered]:
    def convert(mod, layer: Layer) -> Lowered:
        return Lowered(cls(kind=kind))
    return convert


def _batchnorm(mod, layer: Layer) -> Lowered:
    return Lowered(BatchNorm(features=int(mod.num_features), eps=float(mod.eps)))


def _layernorm(mod, layer: Layer) -> Lowered:
    shape = tuple(int(d) for d in mod.normalized_shape)
    if len(shape) != 1:
        raise layer.error(
            UnsupportedError,
            f"has normalized_shape={shape!r}, which normalises over {len(shape)} axes; neurosim's LayerNorm "
            f"normalises the last axis only: use normalized_shape=({shape[-1]},) or reshape first",
        )
    return Lowered(LayerNorm(features=shape[0], eps=float(mod.eps)))


def _maxpool2d(mod, layer: Layer) -> Lowered:
    for name, bad, fix in (("ceil_mode", bool(mod.ceil_mode), "ceil_mode=False"),
                           ("return_indices", bool(mod.return_indices), "return_indices=False"),
                           ("dilation", mod.dilation not in (1, (1, 1)), "dilation=1")):
        if bad:
            raise layer.error(UnsupportedError, f"has {name}={getattr(mod, name)!r}, which the IR's MaxPool2d "
                                                f"(floor mode, no dilation) cannot express; use {fix}")
    stride = mod.stride if mod.stride is not None else mod.kernel_size
    return Lowered(MaxPool2d(kernel_size=mod.kernel_size, stride=stride, padding=mod.padding))


def _adaptive_avgpool(layer: Layer, output_size) -> Lowered:
    """AdaptiveAvgPool2d(output_size): global average (1x1), the identity (output = input size), else an error."""
    size = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size, output_size)
    if len(layer.in_shape) != 3 or len(size) != 2:
        raise layer.error(ShapeError, f"expects a (C, H, W) input and a 2-d output_size, found input shape "
                                      f"{layer.in_shape!r} and output_size={output_size!r}")
    hw = layer.in_shape[1:]
    size = tuple(int(hw[i]) if s is None else int(s) for i, s in enumerate(size))
    if size == (1, 1):
        return Lowered(GlobalAvgPool())
    if size == tuple(hw):
        note = f"{layer.where}: output size {size!r} equals its input size: the identity, skipped"
        return Lowered(None, notes=(note,))
    raise layer.error(
        UnsupportedError,
        f"has output_size={output_size!r} on a {hw!r} input; neurosim lowers adaptive average pooling to a "
        f"global average (output_size=1) or, where the input already has the output size, the identity: use "
        f"AdaptiveAvgPool2d(1) or an AvgPool2d with a fixed kernel",
    )


def _adaptive_avgpool2d(mod, layer: Layer) -> Lowered:
    return _adaptive_avgpool(layer, mod.output_size)


def _softmax_dim(layer: Layer, dim) -> Lowered:
    total = layer.lead_dims + len(layer.in_shape)
    if dim is None or not isinstance(dim, int) or dim not in (-1, total - 1):
        raise layer.error(
            UnsupportedError,
            f"has dim={dim!r}; neurosim's Softmax normalises the last axis of its {total}-d input: use dim=-1",
        )
    return Lowered(Softmax())


def _softmax(mod, layer: Layer) -> Lowered:
    return _softmax_dim(layer, mod.dim)


def _mha_alone(mod, layer: Layer) -> Lowered:
    raise layer.error(
        UnsupportedError,
        "is called with one input (inside an nn.Sequential?); neurosim lowers self-attention called as "
        "attn(x, x, x) in a module's forward(): wrap it in a module whose forward() does that",
    )


# ------------------------------------------------------------------------- neurosim.torch


def _neurosim_lif(mod, layer: Layer) -> Lowered:
    node = LIF(shape=tuple(mod.shape), decay=_f64(mod.decay), threshold=_f64(mod.threshold), reset=mod.reset,
               reset_timing="immediate", spike_rule="gt")
    return Lowered(node, notes=("neurosim.torch.LIF: the IR LIF as is (spike when v > threshold, reset in the "
                                "same step); bit-exact when the model runs in float64",))


# --------------------------------------------------------------------------------- snnTorch


def _snn_returns_tuple(mod) -> bool:
    return bool(mod.output) or not bool(mod.init_hidden)


def _snn_common(mod, layer: Layer, kind: str) -> tuple[dict, list[str]]:
    """Threshold, reset and timing of an snnTorch neuron, after rejecting what the IR lacks."""
    if getattr(mod, "inhibition", False):
        raise layer.error(
            UnsupportedError,
            "has inhibition=True (only the most active neuron of each sample may fire), which neurosim "
            "cannot express; use inhibition=False",
        )
    g = _f64(mod.graded_spikes_factor)
    if not np.all(g == 1.0):
        raise layer.error(
            UnsupportedError,
            f"has graded_spikes_factor={float(g.flat[0])!r}; neurosim spikes are unit events: use 1.0 and "
            f"fold the factor into the next layer's weights",
        )
    if getattr(mod, "state_quant", False):
        raise layer.error(
            UnsupportedError,
            "has state_quant set; quantize with neurosim's quantize pass instead: use state_quant=False",
        )
    thr = _f64(mod.threshold)
    reset = mod.reset_mechanism
    delayed = bool(mod.reset_delay)
    notes = [f"snnTorch {kind}: spike when mem > threshold; beta (and alpha) clamped to [0, 1] as snnTorch does"]
    if reset == "none":
        return dict(threshold=thr, reset="none", reset_timing="immediate"), notes
    if reset not in ("subtract", "zero"):
        raise layer.error(UnsupportedError, f"has reset_mechanism={reset!r}; use 'subtract', 'zero' or 'none'")
    if delayed:
        notes.append(f"snnTorch {kind}: reset applied one step late (reset_delay=True -> reset_timing='delayed')")
    else:
        _check_threshold_positive(
            layer, thr, "and reset_delay=False re-applies a stale reset when the threshold is not positive")
        if reset == "subtract":
            notes.append(
                f"snnTorch {kind} with reset_delay=False: reset in the same step; exact while the membrane "
                f"before reset stays below 2*threshold (above it snnTorch re-applies a stale reset)"
            )
        else:
            notes.append(f"snnTorch {kind} with reset_delay=False: reset to zero in the same step")
    return dict(threshold=thr, reset=reset, reset_timing="delayed" if delayed else "immediate"), notes


def _clamped(t) -> np.ndarray:
    return _f64(t.detach().clamp(0, 1) if hasattr(t, "detach") else np.clip(np.asarray(t, dtype=np.float64), 0, 1))


def _snn_leaky(mod, layer: Layer) -> Lowered:
    kw, notes = _snn_common(mod, layer, "Leaky")
    node = LIF(shape=layer.in_shape, decay=_clamped(mod.beta), spike_rule="gt", **kw)
    return Lowered(node, notes=tuple(notes))


def _snn_synaptic(mod, layer: Layer) -> Lowered:
    if mod.reset_mechanism == "zero" and mod.reset_delay:
        raise layer.error(
            UnsupportedError,
            "has reset_mechanism='zero' with reset_delay=True, which sets the whole membrane to 0 on the step "
            "after a spike, that step's input included (Leaky keeps the input); neurosim's zero reset keeps it: "
            "use reset_mechanism='subtract', or reset_delay=False",
        )
    kw, notes = _snn_common(mod, layer, "Synaptic")
    node = CubaLIF(shape=layer.in_shape, decay=_clamped(mod.beta), syn_decay=_clamped(mod.alpha), syn_gain=1.0,
                   current_lag=0, spike_rule="gt", **kw)
    notes.append("snnTorch Synaptic: syn = alpha*syn + x, then mem = beta*mem + syn (CubaLIF current_lag=0)")
    return Lowered(node, notes=tuple(notes))


def _snn_rleaky(mod, layer: Layer) -> Lowered:
    if mod.reset_mechanism == "zero" and mod.reset_delay:
        raise layer.error(
            UnsupportedError,
            "has reset_mechanism='zero' with reset_delay=True, which sets the whole membrane to 0 on the step "
            "after a spike, that step's input included; neurosim's zero reset keeps it: use "
            "reset_mechanism='subtract', or reset_delay=False",
        )
    kw, notes = _snn_common(mod, layer, "RLeaky")
    node = LIF(shape=layer.in_shape, decay=_clamped(mod.beta), spike_rule="gt", **kw)
    rec = mod.recurrent
    sub = Layer(f"{layer.path}.recurrent", f"{layer.display} recurrent", layer.in_shape, layer.lead_dims)
    if mod.all_to_all:
        if rec.__class__.__name__ == "Linear":
            proj = _linear(rec, sub)
        elif rec.__class__.__name__ == "Conv2d":
            proj = _conv(Conv2d, 2)(rec, sub)
            # declare the input shape: the recurrent edge delivers the bias from step 0 only when the
            # projection's input shape is known without its (delayed) input
            proj = Lowered(dataclasses.replace(proj.node, input_shape=layer.in_shape), notes=proj.notes)
        else:  # pragma: no cover - snnTorch builds only these two
            raise layer.error(UnsupportedError, f"has a recurrent {type(rec).__name__}; use Linear or Conv2d")
        notes.append("snnTorch RLeaky: recurrent layer (bias included) as '<name>.rec' on a one-step-delayed edge; "
                     "its bias is added from step 0, as in snnTorch")
        return Lowered(node, recurrent=((".rec", proj.node),), notes=tuple(notes) + proj.notes)
    v = _f64(rec.V)
    if len(layer.in_shape) == 1:
        try:
            diag = np.broadcast_to(v, layer.in_shape)
        except ValueError:
            raise layer.error(
                ShapeError, f"has V of shape {v.shape!r}, which does not broadcast to {layer.in_shape!r}"
            ) from None
        proj = Dense(weight=np.diag(diag))
    else:
        proj = Scale(shape=layer.in_shape, scale=v)
    notes.append("snnTorch RLeaky (all_to_all=False): V*spk[t-1] as '<name>.rec' on a one-step-delayed edge")
    return Lowered(node, recurrent=((".rec", proj),), notes=tuple(notes))


# ----------------------------------------------------------------------------- SpikingJelly


def _sj_node(cls: type[Node]) -> Callable[[Any, Layer], Lowered]:
    def convert(mod, layer: Layer) -> Lowered:
        vth = float(mod.v_threshold)
        vr = mod.v_reset
        kw: dict[str, Any] = dict(shape=layer.in_shape, spike_rule="ge", reset_timing="immediate")
        notes = ["SpikingJelly: spike when v >= v_threshold, reset in the same step (v_reset float: hard reset; "
                 "None: subtract v_threshold)"]
        if vr is None:
            kw.update(reset="subtract", threshold=vth)
        else:
            vr = float(vr)
            kw.update(reset="zero", v_reset=0.0, threshold=vth - vr)
            if vr != 0.0:
                notes.append(
                    f"{layer.where}: SpikingJelly starts at and leaks towards v_reset={vr!r}; the IR membrane is "
                    f"v - v_reset (threshold {vth!r} - {vr!r}), which gives the same spikes"
                )
        if cls is LIF:
            tau = float(mod.tau)
            kw.update(decay=1.0 - 1.0 / tau, gain=1.0 / tau if mod.decay_input else 1.0)
            notes.append("SpikingJelly LIFNode: decay = 1 - 1/tau, input gain 1/tau (decay_input=True) or 1")
        return Lowered(cls(**kw), notes=tuple(notes))
    return convert


# ---------------------------------------------------------------------------------- Sinabs


def _sinabs_neuron(iaf: bool) -> Callable[[Any, Layer], Lowered]:
    def convert(mod, layer: Layer) -> Lowered:
        from sinabs.activation import MembraneReset, MembraneSubtract, MultiSpike, SingleSpike

        rules = {MultiSpike: "multi", SingleSpike: "ge"}
        rule = rules.get(mod.spike_fn) if isinstance(mod.spike_fn, type) else None
        if rule is None:
            raise layer.error(
                UnsupportedError,
                f"has spike_fn={mod.spike_fn!r}; neurosim supports MultiSpike and SingleSpike",
            )
        reset = mod.reset_fn
        if isinstance(reset, MembraneReset):
            raise layer.error(
                UnsupportedError,
                "has reset_fn=MembraneReset, which in sinabs 3.1 adds reset_value to every neuron on every "
                "step, spiking or not; use MembraneSubtract()",
            )
        if not isinstance(reset, MembraneSubtract):
            raise layer.error(UnsupportedError, f"has reset_fn={reset!r}; neurosim supports MembraneSubtract()")
        if mod.spike_threshold is None:
            raise layer.error(UnsupportedError, "has spike_threshold=None; give it a threshold")
        thr = _f64(mod.spike_threshold)
        if reset.subtract_value is not None and not np.all(_f64(reset.subtract_value) == thr):
            raise layer.error(
                UnsupportedError,
                f"has MembraneSubtract(subtract_value={reset.subtract_value!r}) different from its threshold; "
                f"neurosim subtracts the threshold: use subtract_value=None",
            )
        if mod.min_v_mem is not None:
            raise layer.error(
                UnsupportedError,
                f"has min_v_mem={float(_f64(mod.min_v_mem).flat[0])!r}, a lower clamp on the membrane neurosim "
                f"does not model; use min_v_mem=None",
            )
        alpha = mod.alpha_mem_calculated.detach()
        gain = _f64(1 - alpha) if (mod.norm_input and not iaf) else 1.0
        kw: dict[str, Any] = dict(shape=layer.in_shape, threshold=thr, reset="subtract", reset_timing="immediate",
                                  spike_rule=rule, gain=gain)
        notes = ["sinabs: tau in timesteps (decay = exp(-1/tau_mem)); spike when v >= threshold "
                 "(MultiSpike: floor(v/threshold) spikes), subtract per spike in the same step; input_shape is one "
                 "timestep (LIF/IAF take [B, T, ...], the Squeeze variants [B*T, ...])"]
        if mod.norm_input and not iaf:
            notes.append("sinabs LIF norm_input=True: input gain 1 - exp(-1/tau_mem)")
        alpha_syn = mod.alpha_syn_calculated
        if alpha_syn is not None:
            a = _f64(alpha_syn)
            node = CubaLIF(decay=_f64(alpha), syn_decay=a, syn_gain=a, current_lag=0, **kw)
            notes.append("sinabs tau_syn: i = alpha_syn*(i + x) imported as alpha_syn*i + alpha_syn*x "
                         "(equal up to float rounding)")
        elif iaf:
            node = IF(**kw)
        else:
            node = LIF(decay=_f64(alpha), **kw)
        return Lowered(node, notes=tuple(notes))
    return convert


# -------------------------------------------------------------------------------- registry

_TORCH_NN = "torch.nn"
_SJ_LAYER = "spikingjelly.activation_based.layer"

#: Every supported class, by public path (resolved lazily, see :func:`_registry`).
_ENTRIES: tuple[_Entry, ...] = (
    _Entry(f"{_TORCH_NN}.Linear", _linear),
    _Entry(f"{_TORCH_NN}.Conv1d", _conv(Conv1d, 1)),
    _Entry(f"{_TORCH_NN}.Conv2d", _conv(Conv2d, 2)),
    _Entry(f"{_TORCH_NN}.AvgPool2d", _avgpool2d),
    _Entry(f"{_TORCH_NN}.Flatten", _flatten),
    _Entry(f"{_TORCH_NN}.Identity", _skip),
    _Entry(f"{_TORCH_NN}.Dropout", _skip),
    _Entry(f"{_TORCH_NN}.Dropout1d", _skip),
    _Entry(f"{_TORCH_NN}.Dropout2d", _skip),
    _Entry(f"{_TORCH_NN}.ReLU", _activation(ReLU, "relu")),
    _Entry(f"{_TORCH_NN}.ReLU6", _activation(ReLU, "relu6")),
    _Entry(f"{_TORCH_NN}.LeakyReLU", _activation(ReLU, "leaky_relu")),
    _Entry(f"{_TORCH_NN}.Hardtanh", _activation(ReLU, "hardtanh")),
    _Entry(f"{_TORCH_NN}.GELU", _activation(GELU, "gelu")),
    _Entry(f"{_TORCH_NN}.SiLU", _activation(GELU, "silu")),
    _Entry(f"{_TORCH_NN}.Sigmoid", _activation(GELU, "sigmoid")),
    _Entry(f"{_TORCH_NN}.Tanh", _activation(GELU, "tanh")),
    _Entry(f"{_TORCH_NN}.Hardswish", _activation(GELU, "hardswish")),
    _Entry(f"{_TORCH_NN}.BatchNorm1d", _batchnorm),
    _Entry(f"{_TORCH_NN}.BatchNorm2d", _batchnorm),
    _Entry(f"{_TORCH_NN}.LayerNorm", _layernorm),
    _Entry(f"{_TORCH_NN}.MaxPool2d", _maxpool2d),
    _Entry(f"{_TORCH_NN}.AdaptiveAvgPool2d", _adaptive_avgpool2d),
    _Entry(f"{_TORCH_NN}.Softmax", _softmax),
    _Entry(f"{_TORCH_NN}.MultiheadAttention", _mha_alone, returns_tuple=lambda mod: True),
    _Entry("neurosim.torch.LIF", _neurosim_lif, profile="neurosim"),
    _Entry("snntorch.Leaky", _snn_leaky, profile="snntorch", returns_tuple=_snn_returns_tuple),
    _Entry("snntorch.Synaptic", _snn_synaptic, profile="snntorch", returns_tuple=_snn_returns_tuple),
    _Entry("snntorch.RLeaky", _snn_rleaky, profile="snntorch", returns_tuple=_snn_returns_tuple),
    _Entry("spikingjelly.activation_based.neuron.LIFNode", _sj_node(LIF), profile="spikingjelly"),
    _Entry("spikingjelly.activation_based.neuron.IFNode", _sj_node(IF), profile="spikingjelly"),
    _Entry(f"{_SJ_LAYER}.Linear", _linear),
    _Entry(f"{_SJ_LAYER}.Conv1d", _conv(Conv1d, 1)),
    _Entry(f"{_SJ_LAYER}.Conv2d", _conv(Conv2d, 2)),
    _Entry(f"{_SJ_LAYER}.AvgPool2d", _avgpool2d),
    _Entry(f"{_SJ_LAYER}.Flatten", _flatten),
    _Entry(f"{_SJ_LAYER}.Dropout", _skip),
    _Entry("sinabs.layers.LIF", _sinabs_neuron(iaf=False), profile="sinabs", lead_dims=2),
    _Entry("sinabs.layers.IAF", _sinabs_neuron(iaf=True), profile="sinabs", lead_dims=2),
    _Entry("sinabs.layers.LIFSqueeze", _sinabs_neuron(iaf=False), profile="sinabs"),
    _Entry("sinabs.layers.IAFSqueeze", _sinabs_neuron(iaf=True), profile="sinabs"),
    _Entry("sinabs.layers.SumPool2d", _sumpool2d),
)

#: Classes that exist but cannot be imported, with the reason and the fix.
_HINTS: dict[str, str] = {
    f"{_TORCH_NN}.MaxPool1d": "1-d max pooling has no IR node; use MaxPool2d on a (C, 1, L) view or average "
                              "pooling",
    f"{_SJ_LAYER}.MaxPool2d": "SpikingJelly's stepped max pooling has no IR node (max pooling of spikes is not a "
                              "sum of events); replace it with layer.AvgPool2d and retrain",
}


def supported_layers() -> list[str]:
    """Public paths of every class :func:`from_torch` converts."""
    return sorted(e.path for e in _ENTRIES)


def _resolve(path: str):
    mod_name, cls_name = path.rsplit(".", 1)
    mod = sys.modules.get(mod_name)
    if mod is None:
        return None
    return getattr(mod, cls_name, None)


def _registry() -> dict[type, _Entry]:
    """``{class: entry}`` for every entry whose package is already imported."""
    out: dict[type, _Entry] = {}
    for e in _ENTRIES:
        cls = _resolve(e.path)
        if isinstance(cls, type):
            out.setdefault(cls, e)
    return out


def _hint_of(cls: type) -> tuple[str, str] | None:
    for path, hint in _HINTS.items():
        if _resolve(path) is cls:
            return path, hint
    return None


def _display(cls: type, registry: dict[type, _Entry]) -> str:
    """The shortest public dotted name of ``cls`` (``torch.nn.GELU``, ``snntorch.Leaky``)."""
    if cls in registry:
        return registry[cls].path
    parts = cls.__module__.split(".")
    for i in range(1, len(parts) + 1):
        prefix = ".".join(parts[:i])
        mod = sys.modules.get(prefix)
        if mod is not None and getattr(mod, cls.__name__, None) is cls:
            return f"{prefix}.{cls.__name__}"
    return f"{cls.__module__}.{cls.__qualname__}"


# --------------------------------------------------------------------------------- builder


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
    """Import ``mod`` (at ``path``) fed by ``sources``; returns the IR nodes its output sums."""
    if _is_sequential(mod):
        # _modules, not named_children(): the latter skips a module that appears twice
        for key, child in mod._modules.items():
            if child is not None:
                sources = _walk(b, child, f"{path}.{key}" if path else key, sources)
        return sources
    if _is_leaf(mod, b.registry):
        return b.add_module(mod, path or type(mod).__name__, sources)
    return _trace(b, mod, path, sources)


@dataclass(frozen=True)
class _Value:
    """What an fx node evaluates to: the sum of the outputs of ``names`` (or a module's tuple).

    ``tuple_of`` is ``""`` for a tensor, ``"neuron"`` for a spiking neuron's ``(spikes, state...)``
    and ``"attention"`` for MultiheadAttention's ``(output, weights)``.
    """

    names: tuple[str, ...]
    tuple_of: str = ""

    @property
    def is_tuple(self) -> bool:
        return bool(self.tuple_of)


@dataclass(frozen=True)
class _Param:
    """A parameter or buffer read with ``get_attr`` (``tensor``), or a tensor computed from one
    (``tensor`` None: only its shape, ``meta``, is known)."""

    meta: Any
    tensor: Any
    name: str


#: Methods and functions that move data without arithmetic; each becomes one Rearrange node.
_GLUE_METHODS = frozenset({"reshape", "view", "permute", "transpose", "expand", "unsqueeze", "squeeze", "unflatten",
                           "contiguous", "swapaxes", "movedim"})
#: Shape queries: evaluated, no node.
_QUERY_METHODS = frozenset({"size", "dim"})
_QUERY_ATTRS = frozenset({"shape", "ndim", "dtype", "device"})
#: Glue that never changes the data layout (skipped), and glue that is the identity when the shape is kept.
_NOOP_METHODS = frozenset({"contiguous"})
_SHAPE_ONLY_METHODS = frozenset({"reshape", "view", "expand", "unsqueeze", "squeeze", "unflatten"})


def _torch_functions() -> tuple[dict, dict, dict]:
    """``(glue, layers, methods)``: torch functions that are glue (by name), functions and tensor
    methods that are layers (``(display, convert(layer, args, kwargs) -> Lowered)``)."""
    import torch
    import torch.nn.functional as F

    glue = {torch.reshape: "reshape", torch.permute: "permute", torch.transpose: "transpose",
            torch.squeeze: "squeeze", torch.unsqueeze: "unsqueeze", torch.cat: "cat", torch.concat: "cat",
            torch.swapaxes: "swapaxes", torch.movedim: "movedim", operator.getitem: "getitem"}

    def act(cls, kind):
        return lambda layer, args, kwargs: Lowered(cls(kind=kind))

    def softmax(layer, args, kwargs):
        return _softmax_dim(layer, args[0] if args else kwargs.get("dim"))

    def pool(layer, args, kwargs):
        return _adaptive_avgpool(layer, args[0] if args else kwargs.get("output_size"))

    layers = {
        torch.relu: ("torch.relu", act(ReLU, "relu")), torch.relu_: ("torch.relu_", act(ReLU, "relu")),
        F.relu: ("torch.nn.functional.relu", act(ReLU, "relu")),
        F.relu6: ("torch.nn.functional.relu6", act(ReLU, "relu6")),
        F.leaky_relu: ("torch.nn.functional.leaky_relu", act(ReLU, "leaky_relu")),
        F.gelu: ("torch.nn.functional.gelu", act(GELU, "gelu")),
        F.silu: ("torch.nn.functional.silu", act(GELU, "silu")),
        F.hardswish: ("torch.nn.functional.hardswish", act(GELU, "hardswish")),
        torch.sigmoid: ("torch.sigmoid", act(GELU, "sigmoid")), F.sigmoid: ("torch.sigmoid", act(GELU, "sigmoid")),
        torch.tanh: ("torch.tanh", act(GELU, "tanh")), F.tanh: ("torch.tanh", act(GELU, "tanh")),
        torch.softmax: ("torch.softmax", softmax), F.softmax: ("torch.nn.functional.softmax", softmax),
        F.adaptive_avg_pool2d: ("torch.nn.functional.adaptive_avg_pool2d", pool),
    }
    methods = {
        "relu": ("Tensor.relu", act(ReLU, "relu")), "relu_": ("Tensor.relu_", act(ReLU, "relu")),
        "sigmoid": ("Tensor.sigmoid", act(GELU, "sigmoid")), "tanh": ("Tensor.tanh", act(GELU, "tanh")),
        "softmax": ("Tensor.softmax", softmax),
    }
    return glue, layers, methods


def _trace(b: _Builder, mod, path: str, sources: tuple[str, ...]) -> tuple[str, ...]:
    import torch
    from torch import fx, nn

    registry = b.registry
    where = f"module {path!r} ({_display(type(mod), registry)})" if path else \
        f"module {_display(type(mod), registry)}"

    class Tracer(fx.Tracer):
        def is_leaf_module(self, m, qualname: str) -> bool:  # noqa: D401 - fx API
            return _is_leaf(m, registry)

    try:
        graph = Tracer().trace(mod)
    except Exception as exc:  # fx raises TraceError, TypeError, RuntimeError ... on dynamic code
        raise UnsupportedError(
            f"{where} is neither an nn.Sequential nor traceable by torch.fx ({type(exc).__name__}: {exc}); "
            f"write it as an nn.Sequential or make forward() a fixed composition of layers for one timestep"
        ) from None

    def full(target: str) -> str:
        return f"{path}.{target}" if path else target

    def fx_error(node, text: str, cls: type[Exception] = UnsupportedError) -> Exception:
        return cls(f"fx node {node.name!r} ({node.op} {_target_name(node.target)}) of {where} {text}")

    def owner(node, base: str) -> str:
        """A node name for a function: the path of the module whose forward() calls it, then ``base``."""
        stack = node.meta.get("nn_module_stack") or {}
        inner = next(reversed(stack), None) if stack else None
        return full(f"{inner}.{base}" if inner else base)

    env: dict[Any, _Value] = {}  # fx node -> layer output(s)
    aux: dict[Any, Any] = {}  # fx node -> python value (sizes, flags) or _Param
    placeholders = 0
    result: tuple[str, ...] | None = None
    lead = b.lead_dims

    def value(node, arg) -> _Value:
        if not isinstance(arg, fx.Node) or arg not in env:
            raise fx_error(node, f"uses {arg!r}, which is not the output of a layer; neurosim imports layers "
                                 f"fed by the input or by other layers only")
        v = env[arg]
        if v.is_tuple:
            what = "(output, attention weights)" if v.tuple_of == "attention" else "(spikes, state)"
            raise fx_error(node, f"uses the whole {what} tuple of {arg.name!r}; take its first item with [0]")
        return v

    def meta_of(node, v: _Value):
        shape = b.shape_of(v.names, owner(node, node.name), _target_name(node.target))
        return torch.empty((1,) * lead + tuple(shape), device="meta")

    def evaluate(node):
        """Run ``node`` on meta tensors (batch 1): sizes, shape checks and glue, no real data."""
        def sub(a):
            if a in env:
                return meta_of(node, value(node, a))
            if a in aux:
                x = aux[a]
                return x.meta if isinstance(x, _Param) else x
            raise fx_error(node, f"uses {a.name!r}, which is not the output of a layer")
        args = fx.node.map_arg(node.args, sub)
        kwargs = fx.node.map_arg(node.kwargs, sub)
        try:
            with torch.no_grad():
                if node.op == "call_method":
                    return getattr(args[0], node.target)(*args[1:], **kwargs)
                return node.target(*args, **kwargs)
        except (RuntimeError, TypeError, ValueError, IndexError, AssertionError) as exc:
            raise fx_error(node, f"fails on the shapes of a batch of one ({type(exc).__name__}: {exc}); neurosim "
                                 f"evaluates shape code with one sample: make it independent of the batch size"
                           ) from None

    def add_dnn(node, base: str, lowered: Lowered, src: tuple[str, ...], display: str,
                in_shape=None) -> tuple[str, ...]:
        lpath = owner(node, base)
        shape = b.shape_of(src, lpath, display) if in_shape is None else in_shape
        return b.add_lowered(lowered, Layer(lpath, display, shape, lead), src)

    def layer_args(node) -> list:
        return [a for a in node.all_input_nodes if a in env]

    def add_op(node) -> None:
        if len(node.args) != 2 or node.kwargs:
            raise fx_error(node, "adds with extra arguments (alpha?); use a plain a + b")
        a, c = node.args
        in_a, in_c = isinstance(a, fx.Node) and a in env, isinstance(c, fx.Node) and c in env
        if not in_a and not in_c:
            if all(not isinstance(x, fx.Node) or x in aux for x in (a, c)):
                res = evaluate(node)  # size arithmetic, or parameter + parameter
                aux[node] = _Param(res, None, node.name) if isinstance(res, torch.Tensor) else res
                return
            value(node, a if isinstance(a, fx.Node) and a not in aux else c)
        if in_a and in_c:
            va, vc = value(node, a), value(node, c)
            if set(va.names) & set(vc.names):
                raise fx_error(node, "adds a branch to itself, which needs a scale of 2; scale the layer's "
                                     "weights instead")
            names = va.names + vc.names
            if b.dnn_adds or any(b.is_dnn(n) for n in names):
                env[node] = _Value(add_dnn(node, "add", Lowered(Add()), names, "residual add"))
            else:
                env[node] = _Value(names)
            return
        v, other = (value(node, a), c) if in_a else (value(node, c), a)
        p = aux.get(other) if isinstance(other, fx.Node) else None
        if not isinstance(p, _Param):
            value(node, other)  # raises: a number or a non-layer value
        lpath = owner(node, "add")
        shape = b.shape_of(v.names, lpath, "add")
        batched = (1,) * lead + tuple(shape)
        try:
            ok = tuple(torch.broadcast_shapes(tuple(p.meta.shape), batched)) == batched
        except RuntimeError:
            ok = False
        if not ok:
            raise fx_error(node, f"adds {p.name!r} of shape {tuple(p.meta.shape)!r} to a layer output of shape "
                                 f"{batched!r} and changes its shape; add a constant that broadcasts to the layer "
                                 f"output", ShapeError)
        if p.tensor is None:
            raise fx_error(node, f"adds {p.name!r}, a tensor computed from parameters; neurosim records a learned "
                                 f"constant only when the parameter itself is added: add the nn.Parameter directly")
        if _is_meta(p.tensor):
            const = shape_only(shape)
        else:
            const = np.broadcast_to(_f64(p.tensor), batched)[(0,) * lead].copy()
        env[node] = _Value(b.add_lowered(Lowered(Add(constant=const)), Layer(lpath, f"add {p.name}", shape, lead),
                                         v.names))

    def attention(node, sub, mpath: str) -> None:
        names = ("query", "key", "value", "key_padding_mask", "need_weights", "attn_mask", "average_attn_weights",
                 "is_causal")
        if len(node.args) > len(names) or set(node.kwargs) - set(names):
            raise fx_error(node, f"calls nn.MultiheadAttention with arguments {node.args!r} {node.kwargs!r} it "
                                 f"does not take; call it as attn(x, x, x)")
        call = dict(zip(names, node.args), **node.kwargs)
        q, k, v = call.get("query"), call.get("key"), call.get("value")
        for opt, fine in (("key_padding_mask", None), ("attn_mask", None), ("is_causal", False)):
            if call.get(opt, fine) not in (fine,):
                raise fx_error(node, f"passes {opt}={call[opt]!r}; neurosim lowers unmasked self-attention: "
                                     f"leave {opt} at {fine!r}")
        if not (q is k is v):
            qn, kn, vn = (x.name if isinstance(x, fx.Node) else x for x in (q, k, v))
            raise fx_error(node, f"calls nn.MultiheadAttention with query {qn!r}, key {kn!r} and value {vn!r}; "
                                 f"neurosim lowers self-attention only: pass the same tensor as query, key and value")
        src = value(node, q)
        display = _display(type(sub), registry)
        lay = Layer(mpath, display, b.shape_of(src.names, mpath, display), lead)
        E, h = int(sub.embed_dim), int(sub.num_heads)
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
        if sub.in_proj_weight is not None:
            w = sub.in_proj_weight
            ws = [w[i * E:(i + 1) * E] for i in range(3)]
        else:
            ws = [sub.q_proj_weight, sub.k_proj_weight, sub.v_proj_weight]
        bs = [None] * 3 if sub.in_proj_bias is None else [sub.in_proj_bias[i * E:(i + 1) * E] for i in range(3)]
        proj = []
        for part, wt, bt in zip("qkv", ws, bs):
            sl = Layer(f"{mpath}.{part}", f"{display} {part} projection", lay.in_shape, lead)
            low = _projection(Dense, sl, _f64(wt), None if bt is None else _f64(bt), meta=_is_meta(wt))
            proj.append(b.add_lowered(low, sl, src.names)[0])
        L = lay.in_shape[0]
        scores = Layer(f"{mpath}.scores", f"{display} scores", (lay.in_shape,) * 2, lead)
        (sname,) = b.add_lowered(Lowered(MatMul(heads=h, transpose_b=True, scale=float((E // h) ** -0.5))), scores,
                                 (proj[0], proj[1]))
        (pname,) = b.add_lowered(Lowered(Softmax()), Layer(f"{mpath}.softmax", f"{display} softmax", (h, L, L), lead),
                                 (sname,))
        ctx = Layer(f"{mpath}.context", f"{display} context", ((h, L, L), lay.in_shape), lead)
        (cname,) = b.add_lowered(Lowered(MatMul(heads=h, merge_heads=True)), ctx, (pname, proj[2]))
        out = sub.out_proj
        ol = Layer(f"{mpath}.out_proj", f"{display} out_proj", (L, E), lead)
        low = _projection(Dense, ol, _f64(out.weight), None if out.bias is None else _f64(out.bias),
                          meta=_is_meta(out.weight))
        if sub.dropout:
            b.note(f"{lay.where}: attention dropout p={sub.dropout!r} skipped (the identity at inference)")
        env[node] = _Value(b.add_lowered(low, ol, (cname,)), tuple_of="attention")

    def batch_axis_moved(node, name: str, ndim: int) -> str | None:
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

    def glue(node) -> None:
        inputs = layer_args(node)
        is_fn = node.op == "call_function"
        if is_fn:
            name = glue_functions.get(node.target) if _hashable(node.target) else None
        else:
            name = node.target if node.target in _GLUE_METHODS else None
        query = (not is_fn and node.target in _QUERY_METHODS) or \
            (is_fn and node.target is getattr and len(node.args) > 1 and node.args[1] in _QUERY_ATTRS)
        if not inputs or query:  # sizes, shape assertions, parameters: evaluated, no node
            res = evaluate(node)
            if isinstance(res, torch.Tensor):  # computed from parameters: keep the first one's name
                res = _Param(res, None, next((aux[a].name for a in node.all_input_nodes
                                              if isinstance(aux.get(a), _Param)), node.name))
            aux[node] = res
            return
        if name is None:
            raise fx_error(node, "is not supported; neurosim imports layers, torch.nn.functional activations, "
                                 "a + b and data movement (reshape, view, permute, transpose, flatten, slicing, "
                                 "cat with a parameter): replace it with one of those")
        if len(inputs) > 1:
            raise fx_error(node, f"combines the outputs of {len(inputs)} layers ({', '.join(a.name for a in inputs)}) "
                                 f"with {name}; the IR joins branches by addition only: use a + b")
        src = value(node, inputs[0])
        in_shape = b.shape_of(src.names, owner(node, name), name)
        why = batch_axis_moved(node, name, lead + len(in_shape))
        res = evaluate(node)
        if why is None and (not isinstance(res, torch.Tensor) or res.dim() <= lead
                            or tuple(res.shape[:lead]) != (1,) * lead):
            why = f"gives shape {tuple(res.shape) if isinstance(res, torch.Tensor) else res!r} for a batch of one"
        if why is not None:
            raise fx_error(node, f"{why}, which moves or drops the batch axis; neurosim shapes are per sample: "
                                 f"keep axis 0 as the batch")
        shape = tuple(int(d) for d in res.shape[lead:])
        if name in _NOOP_METHODS or (name in _SHAPE_ONLY_METHODS and shape == tuple(in_shape)):
            env[node] = src
            return
        if name == "cat":
            consts = [aux[a] for a in node.all_input_nodes if isinstance(aux.get(a), _Param)]
            for p in consts:
                b.note(f"{where}: {p.name!r} ({int(p.meta.numel())} values) concatenated to a layer output by "
                       f"torch.cat, recorded as a Rearrange; its values are not kept in the IR")
        env[node] = _Value(add_dnn(node, name, Lowered(Rearrange(shape=shape, op=name)), src.names, f"torch {name}",
                                   in_shape=in_shape))

    glue_functions, layer_functions, layer_methods = _torch_functions()
    adds = {operator.add, torch.add, operator.iadd}
    flattens = {torch.flatten}
    for node in graph.nodes:
        if node.op == "placeholder":
            placeholders += 1
            if placeholders > 1:
                raise fx_error(node, "is a second forward() argument; neurosim imports modules with one input")
            env[node] = _Value(sources)
        elif node.op == "get_attr":
            t = mod
            for part in node.target.split("."):
                t = getattr(t, part)
            if not isinstance(t, torch.Tensor):
                raise fx_error(node, f"reads {t!r}, which is not a tensor; neurosim reads parameters and buffers only")
            aux[node] = _Param(torch.empty(tuple(t.shape), dtype=t.dtype, device="meta"), t, full(node.target))
        elif node.op == "call_module":
            sub = mod.get_submodule(node.target)
            if isinstance(sub, nn.MultiheadAttention):
                attention(node, sub, full(node.target))
                continue
            if len(node.args) != 1 or node.kwargs:
                raise fx_error(node, "calls a layer with more than one argument (state passed explicitly?); call "
                                     "it with the input only (snnTorch: init_hidden=True)")
            src = value(node, node.args[0])
            names = b.add_module(sub, full(node.target), src.names)
            entry = registry.get(type(sub))
            tup = bool(entry and entry.returns_tuple and entry.returns_tuple(sub))
            env[node] = _Value(names, tuple_of="neuron" if tup else "")
        elif node.op == "call_function" and node.target in adds:
            add_op(node)
        elif node.op == "call_function" and node.target is operator.getitem and \
                isinstance(node.args[0], fx.Node) and node.args[0] in env and env[node.args[0]].is_tuple:
            src = node.args[0]
            if not node.users:  # e.g. the unused ``mem`` of ``spk, mem = lif(x)``
                continue
            if node.args[1] != 0:
                if env[src].tuple_of == "attention":
                    raise fx_error(node, f"takes item {node.args[1]!r} (the attention weights) of {src.name!r}; "
                                         f"neurosim lowers the attention output only: use need_weights=False and "
                                         f"take item 0")
                raise fx_error(node, f"takes item {node.args[1]!r} (the membrane or another state) of "
                                     f"{src.name!r}; only the spikes (item 0) can feed other layers")
            env[node] = _Value(env[src].names)
        elif (node.op == "call_function" and node.target in flattens) or \
                (node.op == "call_method" and node.target == "flatten"):
            src = value(node, node.args[0])
            start = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
            end = node.args[2] if len(node.args) > 2 else node.kwargs.get("end_dim", -1)
            fpath = full(node.name)
            layer = Layer(fpath, "torch.flatten", b.shape_of(src.names, fpath, "torch.flatten"), b.lead_dims)
            env[node] = _Value(b.add_lowered(_flatten_dims(layer, int(start), int(end)), layer, src.names))
        elif node.op in ("call_function", "call_method") and (
                (node.op == "call_function" and _hashable(node.target) and node.target in layer_functions) or
                (node.op == "call_method" and node.target in layer_methods)) and \
                node.args and isinstance(node.args[0], fx.Node) and node.args[0] in env:
            display, convert = (layer_functions[node.target] if node.op == "call_function"
                                else layer_methods[node.target])
            src = value(node, node.args[0])
            rest = [a for a in node.args[1:]]
            kwargs = {k: v for k, v in node.kwargs.items() if k != "inplace"}
            if any(isinstance(a, fx.Node) for a in list(rest) + list(kwargs.values())):
                raise fx_error(node, "takes a computed argument; neurosim lowers functions with constant options")
            base = display.rsplit(".", 1)[-1].rstrip("_")
            lpath = owner(node, base)
            layer = Layer(lpath, display, b.shape_of(src.names, lpath, display), lead)
            try:
                lowered = convert(layer, rest, kwargs)
            except IRError as exc:
                raise type(exc)(str(exc) if str(exc).startswith(layer.where) else f"{layer.where}: {exc}") from None
            env[node] = _Value(b.add_lowered(lowered, layer, src.names))
        elif node.op in ("call_function", "call_method"):
            glue(node)
        elif node.op == "output":
            out = node.args[0]
            if isinstance(out, (tuple, list)):
                raise fx_error(node, "returns several values; return the output spikes only")
            v = env.get(out) if isinstance(out, fx.Node) else None
            if v is None:
                raise fx_error(node, f"returns {out!r}, which is not a layer's output")
            result = value(node, out).names
        else:  # pragma: no cover - fx has no other node kinds
            raise fx_error(node, "is not supported")
    assert result is not None
    return result


def _hashable(x) -> bool:
    try:
        hash(x)
    except TypeError:
        return False
    return True


def _target_name(target) -> str:
    if isinstance(target, str):
        return target
    mod = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", repr(target))
    return f"{mod}.{name}" if mod else name


# ------------------------------------------------------------------------------------- API


def _input_shape(input_shape) -> tuple[int, ...]:
    if isinstance(input_shape, (int, np.integer)) and not isinstance(input_shape, bool):
        input_shape = (input_shape,)
    try:
        shape = tuple(int(d) for d in input_shape)
        ok = all(int(d) == d for d in input_shape)
    except (TypeError, ValueError):
        shape, ok = (), False
    if not ok or not shape or any(d <= 0 for d in shape):
        raise ShapeError(
            f"input_shape must be a non-empty tuple of positive ints (one timestep of one sample, no batch or "
            f"time axis), found {input_shape!r}"
        )
    return shape


def from_torch(module, input_shape, *, profile: str | None = None, name_prefix: str = "") -> Graph:
    """Import ``module`` (one timestep per forward call) into an IR :class:`Graph`.

    ``input_shape`` is the unbatched shape of one timestep. ``profile`` names the framework whose
    semantics the graph records (default: the framework of the spiking neurons found, ``torch``
    when there are none). ``name_prefix`` is put in front of every layer's node name. The input
    node is ``input`` and the output node ``output``. See the module docstring for the mapping.
    """
    try:
        import torch.nn as nn
    except ImportError:  # pragma: no cover - depends on the environment
        raise FrontendError("from_torch needs torch; install it (pip install 'neurosim[torch]')") from None
    if not isinstance(module, nn.Module):
        raise FrontendError(f"from_torch expects a torch.nn.Module, found {type(module).__name__!r}")
    if profile is not None and profile not in PROFILES:
        raise FrontendError(f"profile must be one of {PROFILES!r} or None, found {profile!r}")
    if not isinstance(name_prefix, str):
        raise FrontendError(f"name_prefix must be a string, found {name_prefix!r}")
    shape = _input_shape(input_shape)
    registry = _registry()
    lead = max([1] + [registry[type(m)].lead_dims for m in module.modules() if type(m) in registry])
    b = _Builder(shape, name_prefix, registry, lead)
    b.dnn_adds = not any(registry[type(m)].profile is not None for m in module.modules() if type(m) in registry)
    out = _walk(b, module, "", ("input",))
    return b.finish(out, profile)


def load_torch_file(path, input_shape, **options) -> Graph:
    """Load a whole pickled module (``torch.save(model, path)``) and import it with :func:`from_torch`.

    This unpickles with ``weights_only=False``, which runs code from the file: open trusted files
    only. Missing, truncated or foreign files and files that hold no ``nn.Module`` raise
    :class:`~neurosim.errors.FormatError` naming the path.
    """
    try:
        import torch
    except ImportError:  # pragma: no cover - depends on the environment
        raise FrontendError("load_torch_file needs torch; install it (pip install 'neurosim[torch]')") from None
    p = Path(path)
    if not p.exists():
        raise FormatError(f"torch file {str(p)!r} does not exist; check the path")
    if not p.is_file():
        raise FormatError(f"torch file {str(p)!r} is not a regular file; give the path of a torch.save file")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=False)
    except ModuleNotFoundError as exc:
        raise FormatError(
            f"torch file {str(p)!r} pickles a model that needs the module {exc.name!r}, which is not installed; "
            f"install it and retry"
        ) from None
    except Exception as exc:  # truncated zip, foreign pickle, ... (torch raises many types)
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FormatError(
            f"torch file {str(p)!r} cannot be read ({type(exc).__name__}: {detail}); the file is truncated or "
            f"not written by torch.save"
        ) from None
    if not isinstance(obj, torch.nn.Module):
        kind = type(obj).__name__
        extra = " (a state dict? build the model, load_state_dict it and call from_torch)" if isinstance(obj, dict) \
            else ""
        raise FormatError(
            f"torch file {str(p)!r} holds a {kind}{extra}, not a pickled torch.nn.Module; save the whole model "
            f"with torch.save(model, path)"
        )
    return from_torch(obj, input_shape, **options)
