r"""Brian2 networks in neurosim's update order: leaky integrate-and-fire groups and their synapses.

Brian2 cannot be imported next to neurosim (Brian2 2.9 needs numpy < 2.4), and its networks are
Python code, not files; so this helper takes the parameters of a Brian2 network and builds the IR
graph whose spikes equal Brian2's, step for step. The Brian2 model it reproduces, per group::

    G = NeuronGroup(n, "dv/dt = (v_rest - v) / tau : 1", threshold="v > v_threshold",
                    reset="v = v_reset" | "v -= v_threshold", method="exact" | "euler")
    S = Synapses(pre, G, "w : 1", on_pre="v += w")           # no delay; pre: a group or the input

**Why a transformation is needed.** Brian2 runs, within one timestep ``t``, the slots ``groups``
(state update), ``thresholds``, ``synapses``, ``resets``. With :math:`\beta` the per-step decay
(``exact``: :math:`e^{-dt/\tau}`; ``euler``: :math:`1 - dt/\tau`) and :math:`c = (1-\beta)\,v_{rest}`
(both methods), and :math:`u` the membrane at the end of a step:

.. math::

    a_t = \beta\,u_{t-1} + c \qquad s_t = [a_t > \theta] \qquad
    b_t = a_t + W\,s^{pre}_t \qquad
    u_t = \begin{cases} v_r & s_t = 1 \text{ (reset to value)} \\ b_t - \theta\,s_t & \text{(subtract)} \\
                        b_t & s_t = 0 \end{cases}

so the threshold sees the decayed membrane *before* this step's input, and a presynaptic spike of
step ``t`` reaches the threshold only at step ``t+1``. neurosim's IR integrates and then fires
within a step, and a feed-forward projection delivers in the same step.

**The transformation** (derived from the recurrence above; tested spike for spike against
Brian2 in ``tests/frontends/test_defaults.py``): take neurosim's membrane at step ``t`` to be
Brian2's :math:`a_t` (the value its threshold sees). Substituting :math:`u_t` into
:math:`a_{t+1} = \beta u_t + c` gives

.. math::

    a_{t+1} = \beta\,\tilde a_t + \beta\,W\,s^{pre}_t + c, \qquad
    \tilde a_t = a_t - \theta s_t \ \text{(subtract)}

which is the IR ``LIF`` with ``decay`` :math:`\beta`, ``gain`` :math:`\beta`, ``bias`` :math:`c`,
``threshold`` :math:`\theta`, immediate reset, spike rule ``gt``, **fed one step late** (a
``Delay`` of one step before every feed-forward projection, the input's included; a recurrent
projection needs none, since the IR already delivers recurrent edges one step late). For the reset
to a value, Brian2's reset at step ``t`` also discards the input :math:`W s^{pre}_t` and
:math:`a_{t+1} = \beta v_r + c`; the IR gets that with ``v_reset`` :math:`= \beta v_r + c` and
``refractory_steps = 1`` (the step after a spike ignores its input, holds ``v_reset`` and cannot
fire), which is exact when :math:`\beta v_r + c \le \theta` (else Brian2 fires on every step
after a reset; refused). Result: the IR's spikes of every group equal Brian2's at the same step, and
its membrane equals Brian2's ``v`` as the threshold sees it (after the state update, before the
synapses), except during the refractory step.

The hand rule "threshold / decay plus ``refractory_steps=1``" is the same recurrence written with
neurosim's membrane = Brian2's :math:`u_{t-1}` (gain 1, threshold :math:`(\theta - c)/\beta`): it
needs the same one-step delays (without them every layer fires one step early), and with a
subtractive reset it is exact only for :math:`v_{rest} = 0` (the IR subtracts its own threshold
where Brian2 subtracts :math:`\theta`); the form above has neither limit.

Not covered (refused or out of scope): Brian2 refractoriness (``refractory=...``), synaptic
delays, other equations (conductances, adaptation), ``v_threshold <= 0``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from neurosim.errors import FrontendError
from neurosim.ir import nodes as ir
from neurosim.ir.graph import Graph, Semantics

RESETS = ("zero", "subtract")
METHODS = ("exact", "euler")


@dataclass(frozen=True)
class Brian2LIF:
    """One Brian2 ``NeuronGroup``: ``dv/dt = (v_rest - v)/tau``, ``v > v_threshold``, reset
    ``v = v_reset`` (``reset="zero"``) or ``v -= v_threshold`` (``reset="subtract"``)."""

    n: int
    tau_s: float
    v_threshold: float = 1.0
    reset: str = "zero"
    v_reset: float = 0.0
    v_rest: float = 0.0
    method: str = "exact"

    def __post_init__(self) -> None:
        if not isinstance(self.n, (int, np.integer)) or isinstance(self.n, bool) or self.n < 1:
            raise FrontendError(f"Brian2LIF.n must be a positive number of neurons, found {self.n!r}")
        if not (isinstance(self.tau_s, (int, float)) and math.isfinite(self.tau_s) and self.tau_s > 0):
            raise FrontendError(f"Brian2LIF.tau_s must be a positive number of seconds, found {self.tau_s!r}")
        if not (isinstance(self.v_threshold, (int, float)) and math.isfinite(self.v_threshold) and self.v_threshold > 0):
            raise FrontendError(
                f"Brian2LIF.v_threshold must be a positive number, found {self.v_threshold!r}; shift v_rest, "
                f"v_reset and v_threshold together so that the threshold is positive"
            )
        if self.reset not in RESETS:
            raise FrontendError(
                f"Brian2LIF.reset must be 'zero' (reset='v = v_reset') or 'subtract' (reset='v -= v_threshold'), "
                f"found {self.reset!r}"
            )
        if self.method not in METHODS:
            raise FrontendError(f"Brian2LIF.method must be one of {METHODS!r}, found {self.method!r}")

    def decay(self, dt_s: float) -> float:
        """Brian2's per-step factor: ``exp(-dt/tau)`` (exact) or ``1 - dt/tau`` (euler)."""
        return math.exp(-dt_s / self.tau_s) if self.method == "exact" else 1.0 - dt_s / self.tau_s


def lif_from_brian2(group: Brian2LIF, dt_s: float) -> ir.LIF:
    """The IR ``LIF`` that reproduces ``group`` when every feed-forward projection into it is
    delayed one extra step (see the module docstring; :func:`brian2_network` builds such graphs)."""
    if not (isinstance(dt_s, (int, float)) and math.isfinite(dt_s) and dt_s > 0):
        raise FrontendError(f"Brian2 dt must be a positive number of seconds, found {dt_s!r}")
    beta = group.decay(dt_s)
    c = (1.0 - beta) * group.v_rest
    if group.reset == "zero":
        v_reset = beta * group.v_reset + c
        if v_reset > group.v_threshold:
            raise FrontendError(
                f"Brian2 group: after a reset the membrane decays to {v_reset!r} > v_threshold "
                f"{group.v_threshold!r}, so Brian2 fires on every step; lower v_reset or v_rest"
            )
        refractory = 1
    else:
        v_reset, refractory = 0.0, 0
    return ir.LIF(shape=(group.n,), decay=beta, gain=beta, bias=c, threshold=group.v_threshold, v_reset=v_reset,
                  reset=group.reset, reset_timing="immediate", spike_rule="gt", refractory_steps=refractory)


def brian2_network(n_input: int, layers: Sequence[tuple], dt_s: float) -> Graph:
    """The IR graph of a feed-forward chain of Brian2 groups (optionally each with recurrent synapses).

    ``layers``: ``(weight, group)`` or ``(weight, group, w_rec)`` per group, ``weight[j, i]`` the
    ``w`` of the synapse from presynaptic neuron ``i`` (an input or the previous group) to neuron
    ``j`` of ``group``; ``w_rec[j, i]`` from neuron ``i`` of the group to its neuron ``j``. Nodes:
    ``input``, then per layer ``k = 1, 2, ...``: ``delay{k}`` (one step), ``fc{k}``, ``lif{k}``
    (and ``rec{k}``), and ``output`` reading the last group. The input is a ``[T, n_input]`` raster
    (``SpikeGeneratorGroup`` spikes at step ``t``); the spikes of ``lif{k}`` equal those of
    Brian2's group ``k``.
    """
    if not isinstance(n_input, (int, np.integer)) or n_input < 1:
        raise FrontendError(f"brian2_network: n_input must be a positive number of inputs, found {n_input!r}")
    if not layers:
        raise FrontendError("brian2_network: layers is empty; give at least one (weight, Brian2LIF) pair")
    nodes: dict[str, ir.Node] = {"input": ir.Input(shape=(int(n_input),))}
    edges: list[tuple[str, str]] = []
    prev, width = "input", int(n_input)
    for k, layer in enumerate(layers, start=1):
        if not (isinstance(layer, tuple) and len(layer) in (2, 3) and isinstance(layer[1], Brian2LIF)):
            raise FrontendError(
                f"brian2_network: layer {k} must be (weight, Brian2LIF) or (weight, Brian2LIF, w_rec), found "
                f"{type(layer).__name__} {layer!r:.80}"
            )
        weight, group = np.asarray(layer[0], dtype=np.float64), layer[1]
        if weight.shape != (group.n, width):
            raise FrontendError(
                f"brian2_network: layer {k} weight has shape {weight.shape!r}; expected {(group.n, width)!r} "
                f"([group size, presynaptic size])"
            )
        nodes[f"delay{k}"] = ir.Delay(shape=(width,), delay_steps=1)
        nodes[f"fc{k}"] = ir.Dense(weight=weight)
        nodes[f"lif{k}"] = lif_from_brian2(group, dt_s)
        edges += [(prev, f"delay{k}"), (f"delay{k}", f"fc{k}"), (f"fc{k}", f"lif{k}")]
        if len(layer) == 3 and layer[2] is not None:
            w_rec = np.asarray(layer[2], dtype=np.float64)
            if w_rec.shape != (group.n, group.n):
                raise FrontendError(
                    f"brian2_network: layer {k} w_rec has shape {w_rec.shape!r}; expected {(group.n, group.n)!r}"
                )
            nodes[f"rec{k}"] = ir.Dense(weight=w_rec)
            edges += [(f"lif{k}", f"rec{k}"), (f"rec{k}", f"lif{k}")]
        prev, width = f"lif{k}", group.n
    nodes["output"] = ir.Output(shape=(width,))
    edges.append((prev, "output"))
    notes = ("Brian2 update order (state update, threshold, synapses, reset): neurosim membrane = Brian2's v "
             "at the threshold; gain = decay, one-step Delay before each feed-forward projection; reset to "
             "value as v_reset = decay*v_reset + (1-decay)*v_rest with refractory_steps=1",)
    return Graph(nodes, tuple(edges), Semantics(profile="brian2", dt_s=float(dt_s), notes=notes))
