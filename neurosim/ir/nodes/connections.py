r"""Projections: weighted connections that turn input events into synaptic input.

Every projection is linear and stateless: :math:`y[t] = W * x[t] + b`, with ``*`` a matrix
product (:class:`Dense`, :class:`SparseCSR`, :class:`NMSparse`) or a cross-correlation
(:class:`Conv1d`, :class:`Conv2d`, as in torch). When ``x`` are spikes each nonzero input is one
event that reads one synapse row; that is what the engine counts as synaptic operations.

Fixed point: with ``weight_format`` set, every weight and bias must be exactly representable in
it; the projection's output is the exact integer sum of weight codes (no rounding), which the
target population then adds with saturation.

N:M: ``nm=(N, M)`` declares that the weight has at most N nonzeros in every group of M along the
reduction axis (see :mod:`neurosim.ir.nm`); construction checks it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from neurosim.errors import IRError, NMError, ShapeError
from neurosim.ir import nm as nm_ops
from neurosim.ir.fixedpoint import FixedPoint
from neurosim.ir.nodes.base import (
    Node,
    Shape,
    check_array,
    check_int_tuple,
    check_shape,
    is_int,
    register,
    short_repr,
    require_input_shape,
    set_field,
)
from neurosim.ir.nodes.neurons import representable


def _nm_pair(node: Node) -> tuple[int, int]:
    """``node.nm`` as an ``(N, M)`` pair of ints (the pattern itself is checked by :mod:`neurosim.ir.nm`)."""
    value = node.nm
    if not (isinstance(value, (tuple, list)) and len(value) == 2 and all(is_int(v) for v in value)):
        raise NMError(f"{type(node).__name__}.nm must be a pair of integers (N, M), found {short_repr(value)}")
    return int(value[0]), int(value[1])


@dataclass(frozen=True, eq=False, kw_only=True)
class Projection(Node):
    """Fields and checks shared by weighted projections."""

    family: ClassVar[str] = "projection"

    weight: np.ndarray
    bias: np.ndarray | None = None
    weight_format: FixedPoint | None = None
    nm: tuple[int, int] | None = None

    def _check_common(self, bias_len: int) -> None:
        if self.bias is not None:
            set_field(self, "bias", check_array(self, "bias", self.bias, shape=(bias_len,)))
        if self.nm is not None:
            n, m = nm_ops.check_pattern(*_nm_pair(self), what=f"{type(self).__name__}.nm")
            set_field(self, "nm", (n, m))
            nm_ops.check_nm(self.dense_weight(), n, m, what=f"{type(self).__name__}.weight")
        if self.weight_format is not None:
            if not isinstance(self.weight_format, FixedPoint):
                raise IRError(
                    f"{type(self).__name__}.weight_format must be a FixedPoint, found {self.weight_format!r}"
                )
            representable(self.weight_format, self.stored_weights(), f"{type(self).__name__}.weight")
            if self.bias is not None:
                representable(self.weight_format, self.bias, f"{type(self).__name__}.bias")

    def dense_weight(self) -> np.ndarray:
        """The weight as a dense array (``[out, in]`` or the conv kernel)."""
        return self.weight

    def stored_weights(self) -> np.ndarray:
        """The weight values the hardware stores (nonzeros for sparse formats)."""
        return self.weight

    def n_synapses(self) -> int:
        """Stored nonzero synapses (a conv kernel's weights count once, not per position)."""
        return int(np.count_nonzero(self.stored_weights()))

    def sparsity(self) -> float:
        """Fraction of zero weights in the dense equivalent."""
        w = self.dense_weight()
        return 1.0 - float(np.count_nonzero(w)) / max(1, w.size)

    def describe(self) -> str:
        text = super().describe()
        return text.replace("nm=", "N:M=")


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class Dense(Projection):
    r"""Fully connected: :math:`y = W x + b`, ``W`` of shape ``[out, in]`` (NIR Linear/Affine)."""

    def __post_init__(self) -> None:
        set_field(self, "weight", check_array(self, "weight", self.weight, ndim=2))
        self._check_common(self.weight.shape[0])

    def fixed_input_shape(self) -> Shape:
        return (self.weight.shape[1],)

    def output_shape(self, input_shape: Shape) -> Shape:
        """``(in,) -> (out,)``; leading axes (tokens of a sequence) pass through, as in torch."""
        if len(input_shape) > 1 and input_shape[-1] == self.weight.shape[1]:
            return (*input_shape[:-1], self.weight.shape[0])
        require_input_shape(self, input_shape, (self.weight.shape[1],))
        return (self.weight.shape[0],)


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class SparseCSR(Projection):
    r"""Unstructured sparse :math:`y = W x + b`, ``W`` stored row-compressed (row = output neuron).

    ``weight`` holds the nonzero values, ``indices`` their input (column) indices and ``indptr``
    the row starts, exactly as ``scipy.sparse.csr_matrix``; ``shape`` is ``(out, in)``.
    """

    indices: np.ndarray
    indptr: np.ndarray
    shape: Shape

    def __post_init__(self) -> None:
        set_field(self, "shape", check_shape(self, "shape", self.shape))
        if len(self.shape) != 2:
            raise ShapeError(f"SparseCSR.shape must be (out, in), found {self.shape!r}")
        set_field(self, "weight", check_array(self, "weight", self.weight, ndim=1))
        set_field(self, "indices", check_array(self, "indices", self.indices, ndim=1, dtype=np.int64))
        set_field(self, "indptr", check_array(self, "indptr", self.indptr, shape=(self.shape[0] + 1,), dtype=np.int64))
        nnz = self.weight.size
        if self.indices.size != nnz:
            raise ShapeError(f"SparseCSR.indices has {self.indices.size} entries, expected {nnz} (one per weight)")
        if self.indptr[0] != 0 or self.indptr[-1] != nnz or np.any(np.diff(self.indptr) < 0):
            raise IRError(
                f"SparseCSR.indptr must rise from 0 to {nnz}, found {self.indptr[:3]!r}...{self.indptr[-2:]!r}"
            )
        if nnz and (self.indices.min() < 0 or self.indices.max() >= self.shape[1]):
            raise IRError(
                f"SparseCSR.indices must lie in 0..{self.shape[1] - 1}, found "
                f"{int(self.indices.min())!r}..{int(self.indices.max())!r}"
            )
        self._check_common(self.shape[0])

    @classmethod
    def from_dense(cls, weight: np.ndarray, **kw) -> "SparseCSR":
        w = np.asarray(weight, dtype=np.float64)
        rows, cols = np.nonzero(w)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=w.shape[0]))])
        return cls(weight=w[rows, cols], indices=cols, indptr=indptr, shape=w.shape, **kw)

    def dense_weight(self) -> np.ndarray:
        w = np.zeros(self.shape)
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
        w[rows, self.indices] = self.weight
        return w

    def fixed_input_shape(self) -> Shape:
        return (self.shape[1],)

    def output_shape(self, input_shape: Shape) -> Shape:
        require_input_shape(self, input_shape, (self.shape[1],))
        return (self.shape[0],)


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class NMSparse(Projection):
    r"""N:M-compressed fully connected :math:`y = W x + b` (layout in :mod:`neurosim.ir.nm`).

    ``weight`` ``[out, in*N/M]`` holds N values per group of M inputs and ``offsets`` (same
    shape, 0..M-1, ascending within a group) their positions; ``in_features`` is the dense width.
    """

    offsets: np.ndarray
    in_features: int

    def __post_init__(self) -> None:
        if self.nm is None:
            raise IRError("NMSparse.nm must be given as (N, M), found None")
        n, m = nm_ops.check_pattern(*_nm_pair(self), what="NMSparse.nm")
        set_field(self, "nm", (n, m))
        if not is_int(self.in_features) or self.in_features <= 0 or self.in_features % m:
            raise ShapeError(f"NMSparse.in_features must be a positive multiple of M={m}, found {self.in_features!r}")
        set_field(self, "in_features", int(self.in_features))
        set_field(self, "weight", check_array(self, "weight", self.weight, ndim=2))
        per_row = self.in_features // m * n
        if self.weight.shape[1] != per_row:
            raise ShapeError(
                f"NMSparse.weight has {self.weight.shape[1]} values per row, expected {per_row} "
                f"(in_features {self.in_features} / M {m} * N {n})"
            )
        set_field(self, "offsets", check_array(self, "offsets", self.offsets, shape=self.weight.shape, dtype=np.uint8))
        grouped = self.offsets.reshape(self.weight.shape[0], -1, n).astype(np.int64)
        if np.any(grouped >= m) or np.any(np.diff(grouped, axis=2) <= 0):
            raise IRError(f"NMSparse.offsets must be strictly ascending within each group and < M={m}")
        self._check_common(self.weight.shape[0])

    @classmethod
    def from_dense(cls, weight: np.ndarray, n: int, m: int, **kw) -> "NMSparse":
        values, offsets = nm_ops.compress(np.asarray(weight, dtype=np.float64), n, m)
        return cls(weight=values, offsets=offsets, in_features=np.asarray(weight).shape[1], nm=(n, m), **kw)

    def dense_weight(self) -> np.ndarray:
        n, m = self.nm
        return nm_ops.decompress(self.weight, self.offsets, n, m, (self.weight.shape[0], self.in_features))

    def fixed_input_shape(self) -> Shape:
        return (self.in_features,)

    def output_shape(self, input_shape: Shape) -> Shape:
        require_input_shape(self, input_shape, (self.in_features,))
        return (self.weight.shape[0],)


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """torch's convolution/pooling output length (floor mode)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


@dataclass(frozen=True, eq=False, kw_only=True)
class ConvND(Projection):
    r"""Cross-correlation as in torch: ``weight[out, in/groups, *kernel]``, zero padding."""

    spatial_dims: ClassVar[int] = 2

    stride: tuple[int, ...] = 1
    padding: tuple[int, ...] = 0
    dilation: tuple[int, ...] = 1
    groups: int = 1
    input_shape: Shape | None = None

    def __post_init__(self) -> None:
        d = self.spatial_dims
        set_field(self, "weight", check_array(self, "weight", self.weight, ndim=d + 2))
        set_field(self, "stride", check_int_tuple(self, "stride", self.stride, d, minimum=1))
        set_field(self, "padding", check_int_tuple(self, "padding", self.padding, d, minimum=0))
        set_field(self, "dilation", check_int_tuple(self, "dilation", self.dilation, d, minimum=1))
        if not is_int(self.groups) or self.groups < 1 or self.weight.shape[0] % self.groups:
            raise IRError(
                f"{type(self).__name__}.groups must be a positive divisor of the {self.weight.shape[0]} output "
                f"channels, found {self.groups!r}"
            )
        set_field(self, "groups", int(self.groups))
        if self.input_shape is not None:
            set_field(self, "input_shape", check_shape(self, "input_shape", self.input_shape))
            self.output_shape(self.input_shape)
        self._check_common(self.weight.shape[0])

    @property
    def in_channels(self) -> int:
        return self.weight.shape[1] * self.groups

    @property
    def kernel_size(self) -> tuple[int, ...]:
        return tuple(self.weight.shape[2:])

    def fixed_input_shape(self) -> Shape | None:
        return self.input_shape

    def output_shape(self, input_shape: Shape) -> Shape:
        name = type(self).__name__
        if len(input_shape) != self.spatial_dims + 1 or input_shape[0] != self.in_channels:
            raise ShapeError(
                f"{name} expects input shape (channels={self.in_channels}, {self.spatial_dims} spatial dims), "
                f"found {tuple(input_shape)!r}; check the layer feeding it"
            )
        if self.input_shape is not None and tuple(input_shape) != self.input_shape:
            raise ShapeError(f"{name} declares input_shape {self.input_shape!r}, found {tuple(input_shape)!r}")
        out = []
        for size, k, s, p, dl in zip(input_shape[1:], self.kernel_size, self.stride, self.padding, self.dilation):
            o = conv_output_size(size, k, s, p, dl)
            if o < 1:
                raise ShapeError(f"{name} kernel {self.kernel_size!r} does not fit input {tuple(input_shape)!r}")
            out.append(o)
        return (self.weight.shape[0], *out)


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class Conv1d(ConvND):
    """1-D convolution, input ``[C, L]``."""

    spatial_dims: ClassVar[int] = 1


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class Conv2d(ConvND):
    """2-D convolution, input ``[C, H, W]``."""

    spatial_dims: ClassVar[int] = 2
