"""Reference-simulator kernels of the recurrent node family (:mod:`neurosim.ir.nodes.recurrent`), registered in
:data:`neurosim.targets.neuromorphic.model.reference.KERNELS`."""

from __future__ import annotations
