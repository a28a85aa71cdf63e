r"""Per-layer counts of one workload, from a recorded run or from stated firing rates.

Every estimate level and the NeuroBench metrics read these counts, so the levels cannot disagree
on what a layer did. All counts are **per sample** (summed over the timesteps, averaged over the
batch), as NeuroBench reports them.

A projection's input at one step is **binary** (its operations are accumulates, ACs) when every
value of that step's input tensor, over the whole batch, is -1, 0 or 1 -- NeuroBench's rule
(``neurobench.metrics.utils.layers.input.binary_inputs``); otherwise its operations are MACs.
So a layer fed real values (the encoding layer of a direct-coded image) counts MACs, and a layer
fed multi-spike counts of 2 or more counts MACs for that step, as NeuroBench does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from neurosim.errors import SimulationError
from neurosim.ir.graph import Graph
from neurosim.ir.nodes import Population
from neurosim.metrics.activity import Activity
from neurosim.metrics.ops import counter_for


@dataclass(frozen=True)
class ProjectionCounts:
    """One projection: static sizes and its work per sample.

    ``flops``: the papers' dense MACs per step; ``dense_ops``: NeuroBench's Dense per step
    (padding taps excluded); ``in_elements``: input elements per step; ``mac_steps`` /
    ``ac_steps``: steps with non-binary / binary input; ``effective_macs`` / ``effective_acs``:
    NeuroBench's effective operations (nonzero input x nonzero weight pairs); ``spikes_in``: the
    sum of the input values over the binary steps (spike count; the firing rate is
    ``spikes_in / (in_elements * ac_steps)``)."""

    name: str
    kind: str
    params: int
    flops: int
    dense_ops: int
    in_elements: int
    mac_steps: float
    ac_steps: float
    effective_macs: float
    effective_acs: float
    spikes_in: float

    @property
    def firing_rate(self) -> float:
        """Mean input spikes per element and binary step (0 when no step was binary)."""
        return self.spikes_in / (self.in_elements * self.ac_steps) if self.ac_steps else 0.0

    @property
    def sop(self) -> float:
        """The papers' synaptic operations ``fr * T * FLOPs`` over the binary steps."""
        return self.firing_rate * self.ac_steps * self.flops


@dataclass(frozen=True)
class PopulationCounts:
    """One population (neuron layer): ``neurons``, ``membrane_updates`` (NeuroBench's count:
    every neuron at step 0, then the neurons whose membrane changed), ``spikes_out`` (the sum of the
    output spike counts), ``nonzero_out`` and ``outputs`` (nonzero / all output values, for
    activation sparsity); ``neuron_ops``: NeuroBench's
    operations per update for this neuron type (None when NeuroBench has no entry)."""

    name: str
    kind: str
    neurons: int
    spiking: bool
    membrane_updates: float
    spikes_out: float
    nonzero_out: float
    outputs: float
    neuron_ops: int | None


@dataclass(frozen=True)
class Counts:
    """The per-layer counts of one workload of ``steps`` timesteps; ``measured`` is False when the
    counts come from stated rates (then membrane updates assume every neuron every step)."""

    projections: tuple[ProjectionCounts, ...]
    populations: tuple[PopulationCounts, ...]
    steps: int
    batch: int
    measured: bool


def _is_binary(x: np.ndarray) -> bool:
    return bool(np.all((x == 0) | (x == 1) | (x == -1)))


def _projection_static(graph: Graph, name: str) -> dict:
    node = graph.nodes[name]
    c = counter_for(node, name)
    in_shape = graph.input_shape_of(name)
    return dict(name=name, kind=type(node).__name__, params=c.params(node), flops=c.flops(node, in_shape),
                in_elements=int(np.prod(in_shape)))


def _projections(graph: Graph) -> list[str]:
    out = []
    for n in graph.order:
        node = graph.nodes[n]
        if counter_for(node, n).fanout(node, graph.input_shape_of(n), True) is not None:
            out.append(n)
    return out


def from_activity(graph: Graph, act: Activity) -> Counts:
    """Counts measured from a recorded run (:func:`neurosim.metrics.activity.record`)."""
    b = act.batch
    projs = []
    for n in _projections(graph):
        node = graph.nodes[n]
        c = counter_for(node, n)
        in_shape = graph.input_shape_of(n)
        fan = c.fanout(node, in_shape, False)
        fan1 = c.fanout(node, in_shape, True)
        x = act.input_of(graph, n)  # [T, B, *in]
        mac_steps = ac_steps = 0
        eff_mac = eff_ac = spikes = 0.0
        for t in range(act.steps):
            xt = x[t]
            ops = float(np.sum((xt != 0) * fan))
            if _is_binary(xt):
                ac_steps += 1
                eff_ac += ops
                spikes += float(np.abs(xt).sum())
            else:
                mac_steps += 1
                eff_mac += ops
        projs.append(ProjectionCounts(**_projection_static(graph, n), dense_ops=int(fan1.sum()),
                                      mac_steps=mac_steps, ac_steps=ac_steps, effective_macs=eff_mac / b,
                                      effective_acs=eff_ac / b, spikes_in=spikes / b))
    pops = []
    for n in graph.order:
        node = graph.nodes[n]
        if not isinstance(node, Population):
            continue
        c = counter_for(node, n)
        v = act.membranes[n]
        updates = v[0].size + int(np.count_nonzero(v[1:] - v[:-1]))
        y = act.outputs[n]
        ops = None if c.neuron_ops is None else c.neuron_ops.get(getattr(node, "reset", "subtract"))
        pops.append(PopulationCounts(name=n, kind=type(node).__name__, neurons=c.neurons(node, graph.shapes[n]),
                                     spiking=node.spiking, membrane_updates=updates / b,
                                     spikes_out=float(np.abs(y).sum()) / b if node.spiking else 0.0,
                                     nonzero_out=float(np.count_nonzero(y)) / b,
                                     outputs=float(y.size) / b, neuron_ops=ops))
    return Counts(projections=tuple(projs), populations=tuple(pops), steps=act.steps, batch=b, measured=True)


def from_rates(graph: Graph, rates: Mapping[str, float], steps: int, *, input_rate: float | None = None) -> Counts:
    """Counts from stated firing rates (spikes per neuron and step) of the spiking populations.

    ``rates[name]`` is the rate of population ``name``; a projection's input rate is the rate of the
    population feeding it (summed over several). The graph input is real-valued (every step a MAC
    step, every element nonzero) unless ``input_rate`` gives its spike rate. Effective operations are
    the expectation ``rate * sum(fan-out)``; membrane updates assume every neuron every step.
    """
    from neurosim.ir.nodes import Input, SpikingPopulation

    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 1:
        raise SimulationError(f"timesteps must be a positive integer, found {steps!r}")
    pops_needing = [n for n in graph.order if isinstance(graph.nodes[n], SpikingPopulation)]
    for n, r in rates.items():
        if n not in graph.nodes:
            raise SimulationError(f"firing rate given for the unknown layer {n!r}; layers: {pops_needing!r}")
        if not (isinstance(r, (int, float)) and not isinstance(r, bool) and np.isfinite(r) and r >= 0):
            raise SimulationError(f"firing rate of layer {n!r} must be a number >= 0 (spikes per neuron and step), "
                                  f"found {r!r}")
    missing = [n for n in pops_needing if n not in rates]
    if missing:
        raise SimulationError(f"no firing rate for layer {missing[0]!r}; give one for every spiking layer "
                              f"{pops_needing!r}")

    def rate_into(name: str) -> float | None:
        """Spike rate arriving at ``name`` (None: real-valued), through shape and delay nodes only."""
        total, real = 0.0, False
        for a in graph.predecessors(name):
            src = graph.nodes[a]
            if isinstance(src, Input):
                if input_rate is None:
                    real = True
                else:
                    total += input_rate
            elif isinstance(src, SpikingPopulation):
                total += float(rates[a])
            elif isinstance(src, Population) or src.family not in ("shape", "delay"):
                # a readout, a projection (conv -> conv), a DNN/recurrent/attention/sparse node: real values
                real = True
            else:  # pooling, flatten, delay: spikes pass through
                r = rate_into(a)
                if r is None:
                    real = True
                else:
                    total += r
        return None if real else total

    projs = []
    for n in _projections(graph):
        node = graph.nodes[n]
        c = counter_for(node, n)
        in_shape = graph.input_shape_of(n)
        fan_sum = float(c.fanout(node, in_shape, False).sum())
        dense = int(c.fanout(node, in_shape, True).sum())
        static = _projection_static(graph, n)
        r = rate_into(n)
        if r is None:
            projs.append(ProjectionCounts(**static, dense_ops=dense, mac_steps=steps, ac_steps=0,
                                          effective_macs=fan_sum * steps, effective_acs=0.0, spikes_in=0.0))
        else:
            projs.append(ProjectionCounts(**static, dense_ops=dense, mac_steps=0, ac_steps=steps, effective_macs=0.0,
                                          effective_acs=min(r, 1.0) * fan_sum * steps,
                                          spikes_in=r * static["in_elements"] * steps))
    pops = []
    for n in graph.order:
        node = graph.nodes[n]
        if not isinstance(node, Population):
            continue
        c = counter_for(node, n)
        size = c.neurons(node, graph.shapes[n])
        ops = None if c.neuron_ops is None else c.neuron_ops.get(getattr(node, "reset", "subtract"))
        rate = float(rates.get(n, 0.0)) if node.spiking else 0.0
        pops.append(PopulationCounts(name=n, kind=type(node).__name__, neurons=size, spiking=node.spiking,
                                     membrane_updates=float(size * steps), spikes_out=rate * size * steps,
                                     nonzero_out=(min(rate, 1.0) if node.spiking else 1.0) * size * steps,
                                     outputs=float(size * steps),
                                     neuron_ops=ops))
    return Counts(projections=tuple(projs), populations=tuple(pops), steps=int(steps), batch=1, measured=False)
