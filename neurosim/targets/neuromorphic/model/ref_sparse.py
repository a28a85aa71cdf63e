"""Reference-simulator kernels of the sparse node family (:mod:`neurosim.ir.nodes.sparse`), registered in
:data:`neurosim.targets.neuromorphic.model.reference.KERNELS`."""

from __future__ import annotations
