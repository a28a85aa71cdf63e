"""Reference-simulator kernels of the attention node family (:mod:`neurosim.ir.nodes.attention`), registered in
:data:`neurosim.targets.neuromorphic.model.reference.KERNELS`."""

from __future__ import annotations
