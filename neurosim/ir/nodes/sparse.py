r"""IR nodes of the sparse family: what E-3DSNN (spike sparse 3-D convolution) needs beyond the core node set.

**How the IR carries the active-site set.** A sparse tensor is a feature array ``(N, C)`` -- one row per
active voxel ("site") -- plus the integer voxel coordinates ``(N, 3)`` of those rows. The IR's shapes are
static, and a strided conv's output site count (``unique(floor(site / 2))``) depends on the coordinates,
so the coordinates are **structure, not a dynamic operand**: every sparse node stores the coordinates of
its *input* sites in its ``sites`` field (int64, ``[N, 3]``, each >= 0 and < :data:`MAX_COORD`), and
derives its rulebook and its output sites from them. A graph is therefore built for one point cloud,
as a conv graph is built for one image size: :func:`neurosim.zoo.e3dsnn_ir.e3dsnn_graph` computes the
site set of every level once and hands each node the sites of the layer feeding it (a node whose
``sites`` count differs from its input's row count is refused by the shape check). The graph input
is the feature array ``(N, C_in)`` only; a batch is several feature arrays on the same geometry. This
keeps every consumer that reads a node alone -- the op counters (rulebook pairs), the metrics, the
serialiser -- exact without a second graph input (the metrics take single-input graphs).

Rows may repeat a coordinate (E-3DSNN's energy script feeds 9,830 random points with duplicates).
Like spconv, a submanifold conv has one output row per input row, and a voxel's *input* features
are those of one row: here the **first** row holding that coordinate (spconv's hash table keeps one,
unspecified which). A strided conv reads every row (duplicates add up), as spconv's rulebook does.

.. math::

    \text{SubMConv3d (kernel } K\text{, odd, } r = \lfloor K/2 \rfloor\text{):}\quad
        y_i = b + \sum_{t \in [0,K)^3,\ p_i + t - r \in S} W_{:,:,t}\, x_{\rho(p_i + t - r)}

    \text{SparseConv3d (kernel } K\text{, stride } s \le K\text{, no padding):}\quad
        y_q = b + \sum_{j,\ t:\ p_j = s q + t} W_{:,:,t}\, x_j,\qquad
        Q = \{q \ge 0 : \exists j, t:\ p_j = s q + t\}\ \text{(sorted)}

    \text{SiteMean:}\quad y = \tfrac{1}{N} \textstyle\sum_i x_i

with :math:`S` the active coordinates, :math:`\rho(v)` the first row at voxel ``v``, ``W`` in torch's
Conv3d layout ``[out, in, kd, kh, kw]`` (spconv stores ``[out, kd, kh, kw, in]``: permute it) and
the voxel grid unbounded above (E-3DSNN's spatial shape, ``max + 96``, never clips). A rulebook
*pair* is one (input row, output row, tap) term: ``pairs * in * out`` multiply-accumulates, the count
E-3DSNN's energy script derives from spconv's ``pair_fwd``. For k = s = 2 every input row is one pair.

BatchNorm1d after a conv is folded at build time (:func:`fold_batchnorm`); ``folded_bn=True`` records
it, so the parameter counter reports the source model's count (the conv weight plus gamma and beta)
rather than the folded bias. All sparse nodes are float-only (no fixed-point semantics yet) and the
cycle-level engine does not run them (family ``"sparse"``; ``neurosim metrics`` gives estimates).

:class:`Conv3d` is the dense 3-D convolution (torch semantics, input ``(C, D, H, W)``), a
:class:`~neurosim.ir.nodes.connections.ConvND` like Conv1d/Conv2d.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import numpy as np

from neurosim.errors import IRError, ShapeError
from neurosim.ir.nodes.base import (
    Node,
    Shape,
    check_array,
    check_int_tuple,
    register,
    set_field,
    short_repr,
)
from neurosim.ir.nodes.connections import ConvND

#: Voxel coordinates must lie in ``0 .. MAX_COORD - 1`` (three of them pack into one int64 key).
MAX_COORD = 2 ** 20
#: The largest kernel extent per axis (keeps the packed neighbour keys inside int64).
MAX_KERNEL = 64


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class Conv3d(ConvND):
    """Dense 3-D convolution, input ``[C, D, H, W]`` (torch's ``Conv3d``, zero padding)."""

    spatial_dims: ClassVar[int] = 3


def _coord_range(node: Node, field: str, arr: np.ndarray) -> None:
    if arr.size and (arr.min() < 0 or arr.max() >= MAX_COORD):
        bad = int(arr.min()) if arr.min() < 0 else int(arr.max())
        raise IRError(f"{type(node).__name__}.{field} must hold voxel coordinates in 0..{MAX_COORD - 1}, found "
                      f"{bad!r}; shift the points to non-negative coordinates or quantise them to a coarser voxel grid")


def check_sites(node: Node, field: str, value) -> np.ndarray:
    """Voxel coordinates ``[N, 3]``, N >= 1, whole numbers in ``0 .. MAX_COORD - 1``, as read-only int64."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "iu":
        _coord_range(node, field, value)  # before the int64 conversion (a uint64 beyond it names the value)
    sites = check_array(node, field, value, ndim=2, dtype=np.int64)
    if sites.shape[0] < 1 or sites.shape[1] != 3:
        raise ShapeError(f"{type(node).__name__}.{field} must have shape [N, 3] with N >= 1 (one x, y, z voxel "
                         f"coordinate row per active site), found {sites.shape!r}")
    _coord_range(node, field, sites)
    return sites


def _pack(coords: np.ndarray, span: int) -> np.ndarray:
    """One int64 key per coordinate row (``coords`` >= 0, each < ``span``)."""
    return (coords[:, 0] * span + coords[:, 1]) * span + coords[:, 2]


@dataclass(frozen=True)
class Rulebook:
    """The (input row, output row) pairs of every kernel tap with at least one pair.

    ``taps[i]`` is a kernel index ``(a, b, c)``, ``inputs[i]`` / ``outputs[i]`` the int64 rows it pairs;
    ``n_out`` the number of output rows.
    """

    taps: tuple[tuple[int, int, int], ...]
    inputs: tuple[np.ndarray, ...]
    outputs: tuple[np.ndarray, ...]
    n_out: int

    @property
    def pairs(self) -> int:
        return int(sum(len(i) for i in self.inputs))


@dataclass(frozen=True, eq=False, kw_only=True)
class SparseConv(Node):
    """Fields and checks shared by the sparse 3-D convolutions (module docstring).

    ``weight`` ``[out, in, kd, kh, kw]``, ``sites`` the input sites ``[N, 3]``, ``bias`` ``[out]`` or
    None, ``folded_bn``: a BatchNorm1d was folded into ``weight`` and ``bias`` (the source conv had no
    bias of its own, spconv's ``bias=False``).
    """

    family: ClassVar[str] = "sparse"

    weight: np.ndarray
    sites: np.ndarray
    bias: np.ndarray | None = None
    folded_bn: bool = False

    def __post_init__(self) -> None:
        cls = type(self).__name__
        set_field(self, "weight", check_array(self, "weight", self.weight, ndim=5))
        if any(k > MAX_KERNEL for k in self.weight.shape[2:]):
            raise IRError(f"{cls}.weight has kernel {self.kernel_size!r}; each extent must be at most {MAX_KERNEL}")
        set_field(self, "sites", check_sites(self, "sites", self.sites))
        if self.bias is not None:
            set_field(self, "bias", check_array(self, "bias", self.bias, shape=(self.out_channels,)))
        if not isinstance(self.folded_bn, (bool, np.bool_)):
            raise IRError(f"{cls}.folded_bn must be True or False, found {short_repr(self.folded_bn)}")
        set_field(self, "folded_bn", bool(self.folded_bn))
        if self.folded_bn and self.bias is None:
            raise IRError(f"{cls}.folded_bn is True but bias is None; folding a BatchNorm gives a bias "
                          f"(neurosim.ir.nodes.sparse.fold_batchnorm returns it)")

    # -- geometry ------------------------------------------------------------------------------
    @property
    def in_channels(self) -> int:
        return int(self.weight.shape[1])

    @property
    def out_channels(self) -> int:
        return int(self.weight.shape[0])

    @property
    def kernel_size(self) -> tuple[int, int, int]:
        return tuple(int(k) for k in self.weight.shape[2:])

    @property
    def n_sites(self) -> int:
        return int(self.sites.shape[0])

    def fixed_input_shape(self) -> Shape:
        return (self.n_sites, self.in_channels)

    def output_shape(self, input_shape: Shape) -> Shape:
        want = (self.n_sites, self.in_channels)
        if tuple(input_shape) != want:
            raise ShapeError(
                f"{type(self).__name__} expects input shape (sites={want[0]}, channels={want[1]}), found "
                f"{tuple(input_shape)!r}; its sites must be the output sites of the layer feeding it"
            )
        return (self.rulebook.n_out, self.out_channels)

    @property
    def output_sites(self) -> np.ndarray:
        """The coordinates ``[N_out, 3]`` of the output rows (the next layer's ``sites``)."""
        raise NotImplementedError

    @cached_property
    def rulebook(self) -> Rulebook:
        raise NotImplementedError

    @property
    def pairs(self) -> int:
        """Rulebook pairs (input row, output row, tap): ``pairs * in * out`` MACs per step."""
        return self.rulebook.pairs

    # -- statistics ----------------------------------------------------------------------------
    def dense_weight(self) -> np.ndarray:
        """The kernel ``[out, in, kd, kh, kw]`` (what NeuroBench's connection sparsity reads)."""
        return self.weight

    def arrays(self) -> dict[str, np.ndarray]:
        """The parameter arrays (weight, bias): the coordinates are structure, not parameters."""
        return {k: v for k, v in super().arrays().items() if k != "sites"}

    def describe(self) -> str:
        k = "x".join(map(str, self.kernel_size))
        return f"{self.in_channels}->{self.out_channels}, kernel {k}, {self.n_sites} sites, {self.pairs} pairs" + (
            ", BN folded" if self.folded_bn else "")


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class SubMConv3d(SparseConv):
    """Submanifold sparse 3-D convolution (spconv's ``SubMConv3d``): outputs exactly at the input rows;
    every extent of the kernel is odd (the kernel is centred on the site)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if any(k % 2 == 0 for k in self.kernel_size):
            raise IRError(f"SubMConv3d.weight has kernel {self.kernel_size!r}; a submanifold conv needs odd "
                          f"extents (centred on the site): use SparseConv3d for an even, strided kernel")

    @property
    def output_sites(self) -> np.ndarray:
        return self.sites

    @cached_property
    def rulebook(self) -> Rulebook:
        sites = self.sites
        r = np.asarray([k // 2 for k in self.kernel_size], dtype=np.int64)
        span = int(sites.max()) + 2 * int(r.max()) + 2
        keys = _pack(sites + r, span)
        uniq, first = np.unique(keys, return_index=True)  # first row of every voxel
        taps, ins, outs = [], [], []
        for tap in itertools.product(*(range(k) for k in self.kernel_size)):
            nb = sites + (np.asarray(tap, dtype=np.int64) - r)  # neighbour voxel of every row
            ok = (nb >= 0).all(axis=1)
            rows = np.flatnonzero(ok)
            if not rows.size:
                continue
            nkeys = _pack(nb[rows] + r, span)
            pos = np.minimum(np.searchsorted(uniq, nkeys), uniq.size - 1)
            hit = uniq[pos] == nkeys
            if hit.any():
                taps.append(tuple(int(t) for t in tap))
                ins.append(first[pos[hit]].astype(np.int64))
                outs.append(rows[hit].astype(np.int64))
        return Rulebook(tuple(taps), tuple(ins), tuple(outs), n_out=self.n_sites)


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class SparseConv3d(SparseConv):
    """Strided sparse 3-D convolution (spconv's ``SparseConv3d``, no padding, no dilation): outputs at the
    sorted unique ``q`` with ``sites = stride * q + tap`` (for kernel = stride: ``floor(site / stride)``).
    ``stride`` (an int or 3 ints) must not exceed the kernel, so every input row reaches an output."""

    stride: tuple[int, ...] = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        set_field(self, "stride", check_int_tuple(self, "stride", self.stride, 3, minimum=1))
        if any(s > k for s, k in zip(self.stride, self.kernel_size)):
            raise IRError(f"SparseConv3d.stride {self.stride!r} exceeds the kernel {self.kernel_size!r}; a stride "
                          f"above the kernel skips input sites -- use a kernel at least as large as the stride")

    @cached_property
    def _layout(self) -> tuple[Rulebook, np.ndarray]:
        sites, stride = self.sites, np.asarray(self.stride, dtype=np.int64)
        per_tap = []
        for tap in itertools.product(*(range(k) for k in self.kernel_size)):
            d = sites - np.asarray(tap, dtype=np.int64)
            ok = (d >= 0).all(axis=1) & (d % stride == 0).all(axis=1)
            rows = np.flatnonzero(ok)
            if rows.size:
                per_tap.append((tuple(int(t) for t in tap), rows.astype(np.int64), d[rows] // stride))
        out_sites = np.unique(np.concatenate([q for _, _, q in per_tap]), axis=0)
        span = int(out_sites.max()) + 1
        out_keys = _pack(out_sites, span)
        taps, ins, outs = [], [], []
        for tap, rows, q in per_tap:
            taps.append(tap)
            ins.append(rows)
            outs.append(np.searchsorted(out_keys, _pack(q, span)).astype(np.int64))
        out_sites.setflags(write=False)
        return Rulebook(tuple(taps), tuple(ins), tuple(outs), n_out=int(out_sites.shape[0])), out_sites

    @property
    def rulebook(self) -> Rulebook:  # type: ignore[override]
        return self._layout[0]

    @property
    def output_sites(self) -> np.ndarray:
        return self._layout[1]


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class SiteMean(Node):
    """Mean over the active sites: ``(N, C) -> (C,)`` (E-3DSNN's ``scatter(..., reduce="mean")`` per sample;
    every row counts, duplicates included)."""

    family: ClassVar[str] = "sparse"

    def output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 2:
            raise ShapeError(f"SiteMean expects input shape (sites, channels), found {tuple(input_shape)!r}; feed "
                             f"it the features of a sparse layer")
        return (int(input_shape[1]),)


def fold_batchnorm(weight, bias, gamma, beta, mean, var, eps: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Fold an inference BatchNorm (per output channel ``o``) into the conv before it:

    .. math::  W'_o = W_o \frac{\gamma_o}{\sqrt{\sigma^2_o + \epsilon}}, \qquad
               b'_o = \beta_o + (b_o - \mu_o) \frac{\gamma_o}{\sqrt{\sigma^2_o + \epsilon}}

    ``weight`` has the output channel on axis 0; ``bias`` may be None (0). Returns float64 ``(W', b')``."""
    w = np.asarray(weight, dtype=np.float64)
    n = w.shape[0] if w.ndim else 0
    vals = {}
    for name, v in (("gamma", gamma), ("beta", beta), ("mean", mean), ("var", var)):
        a = np.asarray(v, dtype=np.float64)
        if a.shape != (n,) or not np.all(np.isfinite(a)):
            raise IRError(f"fold_batchnorm: {name} must be {n} finite values (one per output channel of the "
                          f"weight {w.shape!r}), found {short_repr(v)}")
        vals[name] = a
    if not (isinstance(eps, (int, float, np.floating)) and not isinstance(eps, bool) and np.isfinite(eps)
            and eps >= 0):
        raise IRError(f"fold_batchnorm: eps must be a finite number >= 0, found {short_repr(eps)}")
    if np.any(vals["var"] + eps <= 0):
        bad = float((vals["var"] + eps).min())
        raise IRError(f"fold_batchnorm: var + eps must be > 0, found {bad!r}; a running variance is non-negative "
                      f"and eps > 0")
    b = np.zeros(n) if bias is None else np.asarray(bias, dtype=np.float64)
    if b.shape != (n,):
        raise IRError(f"fold_batchnorm: bias must be {n} values or None, found {short_repr(bias)}")
    scale = vals["gamma"] / np.sqrt(vals["var"] + eps)
    return w * scale.reshape((n,) + (1,) * (w.ndim - 1)), vals["beta"] + (b - vals["mean"]) * scale
