"""Op counters of the attention node family (:mod:`neurosim.ir.nodes.attention`), registered with
:func:`neurosim.metrics.ops.register_counter`."""

from __future__ import annotations
