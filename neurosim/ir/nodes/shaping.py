r"""Weight-free reshaping of events: pooling and flatten.

Pooling follows torch (floor mode, zero padding):

.. math::

    \text{SumPool2d:}\ y[c,i,j] = \sum_{a<k_h,\,b<k_w} x[c,\ s_h i - p_h + a,\ s_w j - p_w + b]
    \qquad \text{AvgPool2d:}\ y = \text{SumPool2d}(x) / (k_h k_w)

(``AvgPool2d`` divides by the full kernel area, padding included: torch's
``count_include_pad=True``). Flatten merges dimensions ``start_dim..end_dim`` of the
*unbatched* shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from neurosim.errors import ShapeError
from neurosim.ir.nodes.base import Node, Shape, check_int_tuple, register, set_field
from neurosim.ir.nodes.connections import conv_output_size


@dataclass(frozen=True, eq=False, kw_only=True)
class Pool2d(Node):
    """Shared fields of 2-D pooling over ``[C, H, W]``."""

    family: ClassVar[str] = "shape"

    kernel_size: tuple[int, int]
    stride: tuple[int, int] | None = None
    padding: tuple[int, int] = 0

    def __post_init__(self) -> None:
        set_field(self, "kernel_size", check_int_tuple(self, "kernel_size", self.kernel_size, 2, minimum=1))
        stride = self.kernel_size if self.stride is None else self.stride
        set_field(self, "stride", check_int_tuple(self, "stride", stride, 2, minimum=1))
        set_field(self, "padding", check_int_tuple(self, "padding", self.padding, 2, minimum=0))

    def output_shape(self, input_shape: Shape) -> Shape:
        name = type(self).__name__
        if len(input_shape) != 3:
            raise ShapeError(f"{name} expects input shape (C, H, W), found {tuple(input_shape)!r}")
        out = [conv_output_size(n, k, s, p, 1) for n, k, s, p in
               zip(input_shape[1:], self.kernel_size, self.stride, self.padding)]
        if min(out) < 1:
            raise ShapeError(f"{name} kernel {self.kernel_size!r} does not fit input {tuple(input_shape)!r}")
        return (input_shape[0], *out)


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class SumPool2d(Pool2d):
    """Sum of each pooling window (spike counts add up)."""


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class AvgPool2d(Pool2d):
    """Mean of each pooling window (sum divided by the kernel area)."""


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class Flatten(Node):
    """Merge dimensions ``start_dim..end_dim`` (inclusive, negative counts from the end)."""

    family: ClassVar[str] = "shape"

    start_dim: int = 0
    end_dim: int = -1

    def __post_init__(self) -> None:
        for f in ("start_dim", "end_dim"):
            v = getattr(self, f)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
                raise ShapeError(f"Flatten.{f} must be an int, found {v!r}")
            set_field(self, f, int(v))

    def output_shape(self, input_shape: Shape) -> Shape:
        n = len(input_shape)
        s = self.start_dim + n if self.start_dim < 0 else self.start_dim
        e = self.end_dim + n if self.end_dim < 0 else self.end_dim
        if not 0 <= s <= e < n:
            raise ShapeError(
                f"Flatten dims {self.start_dim}..{self.end_dim} do not fit input shape {tuple(input_shape)!r}"
            )
        return (*input_shape[:s], int(np.prod(input_shape[s:e + 1])), *input_shape[e + 1:])
