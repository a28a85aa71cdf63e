"""Converters for spiking-neuron layers: neurosim.torch, snnTorch, SpikingJelly and Sinabs.

Each framework's neuron (its threshold rule, reset, reset timing, decay and input gain) is mapped
onto the IR's LIF / IF / CubaLIF nodes, with :class:`~.base.Lowered` notes saying how the
framework's semantics were read; what the IR cannot express raises
:class:`~neurosim.errors.UnsupportedError` naming the layer. The frameworks themselves are not
imported here (sinabs' activation classes are imported inside its converter, when a model
already holds a sinabs layer).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

from neurosim.errors import ShapeError, UnsupportedError
from neurosim.frontends.torch.base import (
    Layer,
    Lowered,
    _check_threshold_positive,
    _f64,
)
from neurosim.frontends.torch.layers import _conv, _linear
from neurosim.ir.nodes import IF, LIF, Conv2d, CubaLIF, Dense, Node, Scale

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


def _sinabs_rule_and_threshold(mod, layer: Layer) -> tuple[str, np.ndarray]:
    """The spike rule and threshold of a sinabs neuron, after rejecting what the IR lacks."""
    from sinabs.activation import (
        MembraneReset,
        MembraneSubtract,
        MultiSpike,
        SingleSpike,
    )

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
    return rule, thr


def _sinabs_neuron(iaf: bool) -> Callable[[Any, Layer], Lowered]:
    def convert(mod, layer: Layer) -> Lowered:
        rule, thr = _sinabs_rule_and_threshold(mod, layer)
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
