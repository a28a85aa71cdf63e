"""Workload metrics and energy estimates of any model neurosim imports.

One concept per module:

=================  ==============================================================================
:mod:`.ops`        per-node-type operation counters (fan-out maps, FLOPs, parameters, neurons) in
                   one registry, :data:`.ops.OP_COUNTERS`: a new node type plugs in there
:mod:`.activity`   one reference-simulator run recording every node's output and membrane per step
:mod:`.counts`     per-layer counts per sample, from a run or from stated firing rates
:mod:`.neurobench` NeuroBench's metric set (neurobench 2.3.0 definitions)
:mod:`.paper`      estimate level (a): the papers' E_MAC * FL_first + E_AC * SOP (Horowitz 45 nm)
:mod:`.memory`     estimate level (b): (a) + data movement on the hierarchy of ``memory.toml``
:mod:`.report`     the levels side by side (JSON dict and rich tables); :data:`.report.LEVELS`
:mod:`.cli`        the ``neurosim metrics`` command record
=================  ==============================================================================
"""

from neurosim.metrics.counts import Counts, from_activity, from_rates
from neurosim.metrics.neurobench import NeuroBenchMetrics, neurobench_metrics
from neurosim.metrics.ops import OP_COUNTERS, OpCounter, counter_for, register_counter

# The node families outside the core set (neurosim.ir.nodes.attention/recurrent/sparse) register their
# counters in OP_COUNTERS when imported; importing any module of this package imports them first.
from neurosim.metrics import ops_attention, ops_recurrent, ops_sparse  # noqa: E402,F401  isort: skip

__all__ = ["Counts", "from_activity", "from_rates", "NeuroBenchMetrics", "neurobench_metrics", "OP_COUNTERS",
           "OpCounter", "counter_for", "register_counter"]
