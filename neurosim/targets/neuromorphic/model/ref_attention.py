"""Reference-simulator kernels of the attention node family (:mod:`neurosim.ir.nodes.attention`), registered in
:data:`neurosim.targets.neuromorphic.model.reference.KERNELS`.

:class:`SpikeMatMulKernel` computes ``Y_h = scale * Q_h (K_h^T V_h)`` per head from the concatenated
``[Q; K; V]`` input exactly as the node docstring writes it (two ``einsum`` products, no weights).
Float mode only: the ``scale`` makes the result real-valued (fixed mode refuses it, naming the node).
"""

from __future__ import annotations

import numpy as np

from neurosim.ir.nodes.attention import SpikeMatMul
from neurosim.targets.neuromorphic.model.reference import KERNELS, Kernel


class SpikeMatMulKernel(Kernel):
    """``x[..., 3C, *spatial] -> y[..., C, *spatial]``; the leading axes are the batch."""

    def setup(self) -> None:
        if self.mode == "fixed":
            self.unsupported_fixed("Q (K^T V) * scale is real-valued; run it in float mode")

    def step(self, x):
        x = np.asarray(x, dtype=self.dtype)
        nb = len(self.batch)
        spatial = x.shape[nb + 1:]
        c, d, n = self.node.split(x.shape[nb:])
        h = self.node.heads
        qkv = x.reshape(x.shape[:nb] + (3, h, d, n))
        q, k, v = qkv[..., 0, :, :, :], qkv[..., 1, :, :, :], qkv[..., 2, :, :, :]
        kv = np.einsum("...hin,...hjn->...hij", k, v)  # K_h^T V_h: (d, d) coincidence counts
        y = np.einsum("...hin,...hij->...hjn", q, kv) * self.node.scale  # (Q_h KV_h)^T: (d, N)
        return y.reshape(x.shape[:nb] + (c,) + spatial)


KERNELS[SpikeMatMul] = SpikeMatMulKernel
