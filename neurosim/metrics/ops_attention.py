r"""Op counters of the attention node family (:mod:`neurosim.ir.nodes.attention`), registered with
:func:`neurosim.metrics.ops.register_counter`.

:class:`~neurosim.ir.nodes.attention.SpikeMatMul` (``Y_h = s Q_h (K_h^T V_h)``, ``h`` heads of ``d``
channels, ``N`` tokens, ``C = h d``) is counted as an event-driven unit whose events are the **Q and K
spikes** of its concatenated input ``[Q; K; V]``:

* a K spike at ``(n, i)`` of head ``h`` adds row ``n`` of ``V_h`` (``d`` binary values) into row ``i``
  of the ``d x d`` count matrix ``KV_h`` -- ``d`` accumulates (fan-out ``d``);
* a Q spike at ``(n, i)`` adds row ``i`` of ``KV_h`` (``d`` integer counts) into output row ``n`` --
  ``d`` accumulates (fan-out ``d``);
* V elements are the data added, not events (fan-out 0); the ``scale`` is a shift (``s = 2^-3``)
  folded into the next LIF's threshold, not counted.

So the fan-out map is ``d`` on the Q and K thirds of the input and 0 on V; the dense count (every
element a spike) is ``2 N C d`` = the FLOPs of the two matrix products ``K^T V`` (``h N d^2``) and
``Q (KV)`` (``h N d^2``) as the Spike-driven Transformer papers count a matmul (``m k n`` MACs), and
``flops`` returns the same ``2 N C d``. Level (a)'s ``SOP = fr T FLOPs`` then uses the firing rate over
the whole ``[Q; K; V]`` input (V included); the effective ACs (``d`` x the number of Q and K spikes)
are the exact event count. NeuroBench has no entry for this product (its SynapticOperations hooks
only weighted layers), so it is neurosim's count, stated here.

**Unit price** (:data:`UNIT`): one accumulate of a small integer into the per-head ``KV`` or output
register -- priced as every AC of level (a): ``E_AC = 0.9 pJ`` (Horowitz, ISSCC 2014, Fig. 1.1.9,
45 nm: a 32-bit float add; an int32 add is 0.1 pJ, so this over-prices the unit). Level (b) charges
each of these operations one read of its operand row at the weights' memory level -- an estimate:
the ``d x d`` counts of ``KV_h`` (``8 x 45^2`` 8-bit values for the 15M model's last stage) fit a
register file; the placement of level (b) is the conservative choice.
"""

from __future__ import annotations

import numpy as np

from neurosim.ir.nodes.attention import SpikeMatMul
from neurosim.metrics.ops import OpCounter, _no_neurons, _no_params, register_counter

#: The declared unit of a SpikeMatMul operation and its price (see the module docstring).
UNIT = {"op": "integer accumulate of one KV/output entry per Q or K spike and lane", "pj": 0.9,
        "source": "priced as E_AC of level (a): Horowitz ISSCC 2014 Fig. 1.1.9 (45 nm), 32-bit float add; "
                  "estimate: an int8/int16 accumulate costs less (int32 add 0.1 pJ)"}


def spike_matmul_fanout(node: SpikeMatMul, in_shape, dense: bool) -> np.ndarray:
    """``d`` accumulates per Q or K element, 0 per V element (``dense`` changes nothing: no weights)."""
    c, d, _ = node.split(in_shape)
    fan = np.zeros(tuple(in_shape))
    fan[: 2 * c] = d
    return fan


def spike_matmul_flops(node: SpikeMatMul, in_shape) -> int:
    """``2 N C d``: the MACs of ``K^T V`` and of ``Q (KV)``, ``h N d^2`` each."""
    c, d, n = node.split(in_shape)
    return int(2 * n * c * d)


register_counter(SpikeMatMul, OpCounter(params=_no_params, fanout=spike_matmul_fanout, flops=spike_matmul_flops,
                                        neurons=_no_neurons))
