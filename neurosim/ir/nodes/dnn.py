r"""Non-spiking layers of trained DNNs, so that sparse training workloads share the one IR.

These nodes describe what a conventional network computes; the spiking engine does not run
them (it raises :class:`~neurosim.errors.UnsupportedError`), the SAT training model derives its
GEMMs and vector work from them. Shapes are unbatched, as everywhere in the IR: an image is
``(C, H, W)``, a token sequence ``(L, E)``.

.. math::

    \text{ReLU: } y = \max(x, 0) \qquad
    \text{GELU: } y = x\,\Phi(x) \qquad
    \text{Add: } y = \textstyle\sum_i x_i \ (+\ c)

    \text{BatchNorm: } y_c = \gamma_c \frac{x_c - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}} + \beta_c
    \ \text{(per channel, axis 0)} \qquad
    \text{LayerNorm: } y = \gamma \frac{x - \mathrm{E}[x]}{\sqrt{\mathrm{Var}[x] + \epsilon}} + \beta
    \ \text{(over the last axis)}

    \text{Softmax: } y_i = e^{x_i} / \textstyle\sum_j e^{x_j} \ \text{(over the last axis)} \qquad
    \text{MaxPool2d: } y[c,i,j] = \max_{a,b} x[c, s i - p + a, s j - p + b]

    \text{MatMul (per head } h\text{): } Y_h = s\, A_h B_h \ \text{or}\ s\, A_h B_h^{\top}

A :class:`MatMul` multiplies two *activations* (attention's :math:`QK^\top` and :math:`PV`):
it is the one node with two ordered operands (graph edges in insertion order). A 2-D operand
``(L, h*d)`` is viewed as ``h`` heads ``(L, d)``; a 3-D operand ``(h, L, d)`` is taken as is.
:class:`Rearrange` records data movement without arithmetic (reshape, permute, slicing,
concatenating a learned token): the training model charges it nothing, as address generation
does it in hardware.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from neurosim.errors import IRError, ShapeError
from neurosim.ir.nodes.base import (
    Node,
    Shape,
    check_array,
    check_shape,
    is_int,
    is_real,
    register,
    set_field,
)
from neurosim.ir.nodes.shaping import Pool2d


@dataclass(frozen=True, eq=False, kw_only=True)
class DNNNode(Node):
    """Base of the non-spiking layers: shape-preserving unless a subclass says otherwise."""

    family: ClassVar[str] = "dnn"

    def output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class ReLU(DNNNode):
    """Rectified linear unit (also ReLU6 and LeakyReLU: same cost, ``kind`` records which)."""

    kind: str = "relu"

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or self.kind not in ("relu", "relu6", "leaky_relu", "hardtanh"):
            raise IRError(f"ReLU.kind must be 'relu', 'relu6', 'leaky_relu' or 'hardtanh', found {self.kind!r}")


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class GELU(DNNNode):
    """Gaussian error linear unit (also SiLU/sigmoid/tanh: transcendental, ``kind`` records which)."""

    kind: str = "gelu"

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or self.kind not in ("gelu", "silu", "sigmoid", "tanh", "hardswish"):
            raise IRError(
                f"GELU.kind must be one of 'gelu', 'silu', 'sigmoid', 'tanh', 'hardswish', found {self.kind!r}"
            )


@dataclass(frozen=True, eq=False, kw_only=True)
class _Norm(DNNNode):
    """Shared fields of the normalisations: ``features`` channels (or the last axis), ``eps``."""

    features: int
    eps: float = 1e-5

    def __post_init__(self) -> None:
        name = type(self).__name__
        if not is_int(self.features) or self.features < 1:
            raise IRError(f"{name}.features must be a positive integer, found {self.features!r}")
        set_field(self, "features", int(self.features))
        if not (is_real(self.eps) and self.eps > 0):
            raise IRError(f"{name}.eps must be a positive number, found {self.eps!r}")
        set_field(self, "eps", float(self.eps))


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class BatchNorm(_Norm):
    """Batch normalisation over axis 0 (channels) of ``(C, ...)``."""

    def output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) < 1 or input_shape[0] != self.features:
            raise ShapeError(
                f"BatchNorm expects {self.features} channels on axis 0, found input shape {tuple(input_shape)!r}"
            )
        return tuple(input_shape)


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class LayerNorm(_Norm):
    """Layer normalisation over the last axis."""

    def output_shape(self, input_shape: Shape) -> Shape:
        if input_shape[-1] != self.features:
            raise ShapeError(
                f"LayerNorm normalises {self.features} features on the last axis, found input shape "
                f"{tuple(input_shape)!r}"
            )
        return tuple(input_shape)


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class Softmax(DNNNode):
    """Softmax over the last axis."""


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class Add(DNNNode):
    """Element-wise sum of every incoming edge (residual add), plus an optional learned constant.

    The graph already sums a node's inputs; ``Add`` makes the addition a layer of its own (it
    costs one vector operation per operand beyond the first, plus one for ``constant``).
    """

    constant: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.constant is not None:
            set_field(self, "constant", check_array(self, "constant", self.constant))

    def output_shape(self, input_shape: Shape) -> Shape:
        if self.constant is not None and tuple(self.constant.shape) != tuple(input_shape):
            raise ShapeError(
                f"Add.constant has shape {tuple(self.constant.shape)!r}, expected the input shape {tuple(input_shape)!r}"
            )
        return tuple(input_shape)


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class MaxPool2d(Pool2d):
    """2-D max pooling over ``(C, H, W)`` (torch semantics, floor mode): the fields and shape rule of
    the event pools, a DNN layer (a maximum is not a sum of events)."""

    family: ClassVar[str] = "dnn"


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class GlobalAvgPool(DNNNode):
    """Mean over every axis but the first: ``(C, H, W) -> (C, 1, 1)`` (torch AdaptiveAvgPool2d(1))."""

    def output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) < 2:
            raise ShapeError(f"GlobalAvgPool expects input shape (C, ...), found {tuple(input_shape)!r}")
        return (input_shape[0],) + (1,) * (len(input_shape) - 1)


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class Rearrange(DNNNode):
    """Data movement without arithmetic; ``shape`` is the output shape, ``op`` the source operation."""

    shape: Shape
    op: str = "reshape"

    def __post_init__(self) -> None:
        set_field(self, "shape", check_shape(self, "shape", self.shape))
        if not isinstance(self.op, str) or not self.op:
            raise IRError(f"Rearrange.op must name the source operation, found {self.op!r}")

    def output_shape(self, input_shape: Shape) -> Shape:
        return self.shape


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class MatMul(DNNNode):
    """Activation x activation product per head (see module docstring), scaled by ``scale``.

    ``transpose_b``: multiply by :math:`B_h^\\top`; ``merge_heads``: return ``(L, h*n)`` instead
    of ``(h, L, n)``.
    """

    operands: ClassVar[int] = 2

    heads: int = 1
    transpose_b: bool = False
    merge_heads: bool = False
    scale: float = 1.0

    def __post_init__(self) -> None:
        if not is_int(self.heads) or self.heads < 1:
            raise IRError(f"MatMul.heads must be a positive integer, found {self.heads!r}")
        set_field(self, "heads", int(self.heads))
        for f in ("transpose_b", "merge_heads"):
            if not isinstance(getattr(self, f), bool):
                raise IRError(f"MatMul.{f} must be True or False, found {getattr(self, f)!r}")
        if not is_real(self.scale):
            raise IRError(f"MatMul.scale must be a finite number, found {self.scale!r}")
        set_field(self, "scale", float(self.scale))

    def split(self, shape: Shape, which: str) -> tuple[int, int, int]:
        """An operand's shape as ``(heads, rows, cols)`` (see the module docstring)."""
        h = self.heads
        if len(shape) == 3 and shape[0] == h:
            return tuple(shape)
        if len(shape) == 2 and shape[1] % h == 0:
            return (h, shape[0], shape[1] // h)
        raise ShapeError(
            f"MatMul operand {which} has shape {tuple(shape)!r}; expected (L, {h}*d) or ({h}, L, d) for {h} heads"
        )

    def gemm(self, shapes: tuple[Shape, Shape]) -> tuple[int, int, int, int]:
        """``(heads, m, k, n)`` of the per-head product."""
        _, m, ka = self.split(shapes[0], "A")
        _, rb, cb = self.split(shapes[1], "B")
        kb, n = (cb, rb) if self.transpose_b else (rb, cb)
        if ka != kb:
            raise ShapeError(
                f"MatMul operands do not chain: A is {tuple(shapes[0])!r} (k={ka}) and B is {tuple(shapes[1])!r} "
                f"(k={kb}{', transposed' if self.transpose_b else ''}); check the operand order"
            )
        return self.heads, m, ka, n

    def output_shape(self, input_shape) -> Shape:
        shapes = tuple(input_shape)
        if len(shapes) != 2 or not all(isinstance(s, tuple) for s in shapes):
            raise ShapeError(f"MatMul takes exactly two operands, found input shapes {shapes!r}")
        h, m, _, n = self.gemm(shapes)
        return (m, h * n) if self.merge_heads else (h, m, n)
