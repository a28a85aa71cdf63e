"""Reference-simulator kernels of the sparse node family (:mod:`neurosim.ir.nodes.sparse`), registered in
:data:`neurosim.targets.neuromorphic.model.reference.KERNELS`.

A sparse conv runs from its rulebook, one kernel tap at a time: gather the tap's input rows, multiply
by the tap's ``[in, out]`` weight slice, add into its output rows (memory: the rows and one tap's
products, never a voxel grid). Inputs are ``[..., N, C]`` (leading batch axes pass through). Float
only: fixed mode is refused with the node named. The dense :class:`~neurosim.ir.nodes.sparse.Conv3d`
reuses the reference's conv kernel (:func:`neurosim.ir.ops.conv_nd` is N-dimensional).
"""

from __future__ import annotations

import numpy as np

from neurosim.ir.nodes.sparse import Conv3d, SiteMean, SparseConv3d, SubMConv3d
from neurosim.targets.neuromorphic.model.reference import KERNELS, ConvKernel, Kernel


class SparseConvKernel(Kernel):
    """``y[out rows] += x[in rows] @ W[:, :, tap].T`` for every tap of the node's rulebook, plus the bias."""

    def setup(self) -> None:
        if self.mode == "fixed":
            self.unsupported_fixed("sparse convolutions run in float only for now; use mode='float'")
        node = self.node
        book = node.rulebook
        self.book = book
        self.w = [self.param(node.weight[(slice(None), slice(None)) + tap].T) for tap in book.taps]
        self.b = None if node.bias is None else self.param(node.bias)
        # a strided conv's rows can meet one output row twice within a tap (duplicate coordinates)
        self.unique_out = isinstance(node, SubMConv3d)

    def step(self, x):
        x = np.asarray(x, dtype=self.dtype)
        xt = np.moveaxis(x, -2, 0)  # [N, ..., C_in]
        y = np.zeros((self.book.n_out,) + xt.shape[1:-1] + (self.node.out_channels,), dtype=self.dtype)
        for w, rows_in, rows_out in zip(self.w, self.book.inputs, self.book.outputs):
            contrib = xt[rows_in] @ w
            if self.unique_out:
                y[rows_out] += contrib
            else:
                np.add.at(y, rows_out, contrib)
        y = np.moveaxis(y, 0, -2)
        return y if self.b is None else y + self.b


class SiteMeanKernel(Kernel):
    def setup(self) -> None:
        if self.mode == "fixed":
            self.unsupported_fixed("a mean divides by the site count; use mode='float'")

    def step(self, x):
        return np.asarray(x, dtype=self.dtype).mean(axis=-2)


KERNELS[SubMConv3d] = SparseConvKernel
KERNELS[SparseConv3d] = SparseConvKernel
KERNELS[SiteMean] = SiteMeanKernel
KERNELS[Conv3d] = ConvKernel
