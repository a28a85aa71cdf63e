r"""IR nodes of the attention family: what Meta-SpikeFormer / Spike-driven Transformer V2 needs beyond the core node set.

:class:`SpikeMatMul` is SDT-V2's spike-driven self-attention core (SDSA-3, ``MS_Attention_RepConv_qkv_id``
of BICLab/Spike-Driven-Transformer-V2 ``classification/models.py``): a product of **two dynamic
operands** (no weights), per head, on spike tensors.

Its one input is the channel-wise concatenation ``x = [Q; K; V]`` of shape ``(3C, *spatial)`` (the
``N = prod(spatial)`` tokens of one timestep, ``C = heads * d`` channels, head ``h`` owning channels
``h*d .. h*d + d - 1`` -- exactly the layout torch's ``x.flatten(3).transpose(-1, -2).reshape(T, B, N,
heads, d)`` gives). With :math:`Q_h, K_h, V_h \in \{0, 1\}^{N \times d}` (``Q_h[n, i] = x[h d + i, n]``,
``K_h[n, i] = x[C + h d + i, n]``, ``V_h[n, j] = x[2C + h d + j, n]``):

.. math::

    KV_h = K_h^{\top} V_h \in \{0..N\}^{d \times d} \qquad
    Y_h = s \cdot Q_h\, KV_h \qquad
    y[h d + j, n] = Y_h[n, j]

so the output is ``(C, *spatial)``, the layout of torch's ``x.transpose(3, 4).reshape(T, B, C, N)``
(``s`` = ``scale``, 0.125 in SDT-V2). ``KV_h`` counts, for every channel pair ``(i, j)``, the tokens
where ``K`` and ``V`` both spiked (spike AND spike, then add); ``Q_h KV_h`` adds a row of those
integer counts for every ``Q`` spike (spike x integer: additions only). The node is stateless (it
runs within one timestep) and carries no parameters.

Why one concatenated operand rather than three ordered ones: Q, K and V are the outputs of three
convolutions of the same spike tensor followed by three identical LIF layers, so the frontend fuses
them into one convolution of ``3C`` output channels and one LIF population; the node then reads
one input, which every simulator and counter already handles (the graph sums a node's inputs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from neurosim.errors import IRError, ShapeError
from neurosim.ir.nodes.base import Node, Shape, is_int, is_real, register, set_field, short_repr


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class SpikeMatMul(Node):
    """Per-head ``Y = scale * Q (K^T V)`` of concatenated spike operands ``[Q; K; V]`` (module docstring).

    ``heads``: attention heads (the channel count ``C`` of each operand must be a multiple);
    ``scale``: the real factor applied to ``Q (K^T V)`` (SDT-V2: 0.125).
    """

    family: ClassVar[str] = "attention"

    heads: int = 1
    scale: float = 1.0

    def __post_init__(self) -> None:
        if not is_int(self.heads) or self.heads < 1:
            raise IRError(f"SpikeMatMul.heads must be a positive integer, found {short_repr(self.heads)}")
        set_field(self, "heads", int(self.heads))
        if not is_real(self.scale):
            raise IRError(f"SpikeMatMul.scale must be a finite real number, found {short_repr(self.scale)}")
        set_field(self, "scale", float(self.scale))

    def split(self, input_shape: Shape) -> tuple[int, int, int]:
        """``(C, d, N)``: channels per operand, channels per head and tokens of an input shape."""
        shape = tuple(input_shape)
        if len(shape) < 2 or shape[0] % (3 * self.heads):
            raise ShapeError(
                f"SpikeMatMul expects input shape (3*C, *tokens) with C a multiple of heads={self.heads} "
                f"(Q, K and V concatenated on axis 0), found {short_repr(shape)}"
            )
        c = shape[0] // 3
        return c, c // self.heads, int(np.prod(shape[1:]))

    def dense_weight(self) -> np.ndarray:
        """No weights: an empty matrix, so weight statistics (connection sparsity, footprint) that
        iterate over the operation-counted nodes see nothing stored here."""
        return np.zeros((0, 0))

    def output_shape(self, input_shape: Shape) -> Shape:
        c, _, _ = self.split(input_shape)
        return (c, *tuple(input_shape)[1:])
