"""Op counters of the recurrent node family (:mod:`neurosim.ir.nodes.recurrent`), registered with
:func:`neurosim.metrics.ops.register_counter`."""

from __future__ import annotations
