"""Op counters of the sparse node family (:mod:`neurosim.ir.nodes.sparse`), registered with
:func:`neurosim.metrics.ops.register_counter`."""

from __future__ import annotations
