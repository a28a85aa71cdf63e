r"""NeuroBench's metric set, computed from an IR graph and a run of the reference simulator.

The definitions are those of the ``neurobench`` package 2.3.0 (Yik et al., "The neurobench
framework for benchmarking neuromorphic computing algorithms and systems", Nature
Communications 16, 1545, 2025), read from its source, ``neurobench/metrics``:

==========================  ================================================================
Footprint                   bytes of the learned parameters (``static/footprint.py`` adds the
                            framework's buffers, see below)
ParameterCount              learned parameters: dense weight entries + biases of every
                            projection (``static/parameter_count.py``)
ConnectionSparsity          zero weights / all weights of the projections (biases excluded;
                            NeuroBench rounds to 4 decimals, neurosim does not)
ActivationSparsity          1 - nonzero outputs / all outputs of every spiking neuron layer,
                            over steps and samples
SynapticOperations          per sample: ``Effective_MACs`` / ``Effective_ACs`` = pairs (nonzero
                            input, nonzero weight) on steps whose input is / is not binary
                            (:mod:`neurosim.metrics.counts`), ``Dense`` = every (input,
                            weight) pair whose output exists, each step; bias excluded
MembraneUpdates             per sample: every neuron at step 0, then each neuron whose
                            membrane changed from one step to the next
NeuronOperations            membrane updates x NeuroBench's basic operations per update
                            (Leaky 4; Synaptic 6 subtract / 8 zero); ``dense`` = neurons x steps x
                            operations
==========================  ================================================================

Where neurosim cannot see what NeuroBench counts, the difference is stated, not hidden:

* NeuroBench's Footprint also adds every torch **buffer** of the module: snnTorch's per-layer
  ``beta``, ``threshold``, ``graded_spikes_factor`` (4 bytes each), ``reset_mechanism_val``
  (8 bytes) and its ``mem`` state once a forward pass has run. The IR keeps neuron parameters
  per neuron, not as the framework stores them, so :attr:`NeuroBenchMetrics.footprint_bytes` is
  the parameter part; ``tests/metrics`` checks NeuroBench's figure = it + the module's buffers.
* NeuroBench hooks only snnTorch neurons (``snntorch.SpikingNeuron``) and ``nn.ReLU`` /
  ``nn.Sigmoid`` by default, and counts membranes only where a layer has ``.mem``; neurosim
  counts every spiking population, whatever framework it came from.
* NeuroBench classifies binary input per forward call: one call per timestep for snnTorch, but
  one call over all timesteps for a layer applied to a ``[B, T, ...]`` tensor (sinabs). neurosim
  classifies per step; they agree unless one layer's input is binary on some steps and not on
  others.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from neurosim.errors import SimulationError
from neurosim.metrics.counts import Counts


@dataclass(frozen=True)
class NeuroBenchMetrics:
    """NeuroBench's metrics of one workload (per sample where NeuroBench averages over samples)."""

    parameter_count: int
    footprint_bytes: int
    connection_sparsity: float
    activation_sparsity: float
    effective_macs: float
    effective_acs: float
    dense_synops: float
    membrane_updates: float
    neuron_ops_effective: float | None
    neuron_ops_dense: float | None
    per_layer: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """NeuroBench's result keys and values, plus ``per_layer``."""
        return {
            "ParameterCount": self.parameter_count,
            "Footprint": self.footprint_bytes,
            "ConnectionSparsity": self.connection_sparsity,
            "ActivationSparsity": self.activation_sparsity,
            "SynapticOperations": {"Effective_MACs": self.effective_macs, "Effective_ACs": self.effective_acs,
                                   "Dense": self.dense_synops},
            "MembraneUpdates": self.membrane_updates,
            "NeuronOperations": {"Effective Neuron Ops": self.neuron_ops_effective,
                                 "Neuron Dense Ops": self.neuron_ops_dense},
            "per_layer": self.per_layer,
        }


def neurobench_metrics(graph, counts: Counts, *, bytes_per_param: int = 4) -> NeuroBenchMetrics:
    """NeuroBench's metrics from ``counts`` (:mod:`neurosim.metrics.counts`) of ``graph``.

    ``bytes_per_param``: storage per parameter (4: float32, torch's default)."""
    if not isinstance(bytes_per_param, int) or isinstance(bytes_per_param, bool) or not 1 <= bytes_per_param <= 16:
        raise SimulationError(f"bytes per parameter must be an integer in 1..16, found {bytes_per_param!r}")
    params = sum(p.params for p in counts.projections)
    zeros = total = 0
    for p in counts.projections:
        w = graph.nodes[p.name].dense_weight()
        zeros += int(w.size - (w != 0).sum())
        total += int(w.size)
    spiking = [p for p in counts.populations if p.spiking]
    outputs = sum(p.outputs for p in spiking)
    nonzero = sum(p.nonzero_out for p in spiking)
    priced = [p for p in spiking if p.neuron_ops is not None]
    per_layer = {p.name: {"kind": p.kind, "effective_macs": p.effective_macs, "effective_acs": p.effective_acs,
                          "dense": p.dense_ops * (p.mac_steps + p.ac_steps), "params": p.params}
                 for p in counts.projections}
    per_layer.update({p.name: {"kind": p.kind, "neurons": p.neurons, "membrane_updates": p.membrane_updates,
                               "activation_sparsity": 1.0 - p.nonzero_out / p.outputs if p.outputs else 0.0}
                      for p in counts.populations})
    return NeuroBenchMetrics(
        parameter_count=params,
        footprint_bytes=params * bytes_per_param,
        connection_sparsity=zeros / total if total else 0.0,
        activation_sparsity=(outputs - nonzero) / outputs if outputs else 0.0,
        effective_macs=sum(p.effective_macs for p in counts.projections),
        effective_acs=sum(p.effective_acs for p in counts.projections),
        dense_synops=float(sum(p.dense_ops * (p.mac_steps + p.ac_steps) for p in counts.projections)),
        membrane_updates=sum(p.membrane_updates for p in spiking),
        neuron_ops_effective=sum(p.membrane_updates * p.neuron_ops for p in priced) if priced else None,
        neuron_ops_dense=float(sum(p.neurons * counts.steps * p.neuron_ops for p in priced)) if priced else None,
        per_layer=per_layer,
    )
