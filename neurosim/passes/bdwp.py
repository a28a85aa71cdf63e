r"""N:M masks along a chosen axis of a weight, and BDWP's bidirectional pair.

A weight ``W[out, in, *kernel]`` (a linear weight is ``[out, in]``) can be pruned N:M along two
axes:

* ``axis="in"``: groups of M consecutive entries of ``W.reshape(out, -1)`` (input channel major,
  kernel minor, torch's layout) -- the reduction axis of the forward GEMM :math:`Y = X W^\top`;
* ``axis="out"``: groups of M consecutive *output* channels at every ``(in, kernel)`` position --
  the reduction axis of the backward-data GEMM :math:`dX = dY\, W`.

BDWP (Fang et al., IEEE TCAD 2023, Sec. III) prunes the forward weight along ``in`` and, separately
from the same dense weight, the backward weight along ``out``: :func:`bdwp_masks`. Both GEMMs are
then N:M sparse; the weight-gradient GEMM and the update stay dense. A *transposable* mask
(:func:`transposable_mask`) is the alternative one-mask design: N:M along both axes at once,
which keeps fewer large weights.

Every mask keeps the N largest ``|w|`` of its group (ties: lowest index).
"""

from __future__ import annotations

import numpy as np

from neurosim.errors import NMError
from neurosim.ir import nm as nm_ops

AXES = ("in", "out")


def _check_axis(axis: str) -> None:
    if axis not in AXES:
        raise NMError(f"N:M axis must be 'in' (forward) or 'out' (backward), found {axis!r}")


def _as_out_major(weight: np.ndarray, axis: str) -> np.ndarray:
    """The weight as ``[rows, reduction]`` with groups along the chosen axis."""
    w = np.asarray(weight)
    if w.ndim < 2:
        raise NMError(f"an N:M weight needs at least 2 dimensions [out, in, ...], found shape {w.shape!r}")
    r = w.reshape(w.shape[0], -1)
    return r if axis == "in" else r.T


def nm_mask_along(weight: np.ndarray, n: int, m: int, axis: str = "in") -> np.ndarray:
    """Boolean N:M magnitude mask with groups along ``axis`` ("in" or "out"), shaped like ``weight``."""
    _check_axis(axis)
    n, m = nm_ops.check_pattern(n, m, what="N:M")
    w = _as_out_major(weight, axis)
    if w.shape[1] % m:
        length = "input length (in * kernel)" if axis == "in" else "number of output channels"
        raise NMError(
            f"the weight's {length} is {w.shape[1]!r}, not a multiple of M={m}; choose another M or keep this layer "
            f"dense"
        )
    mask = nm_ops.nm_mask(w, n, m)
    mask = mask if axis == "in" else mask.T
    return mask.reshape(np.asarray(weight).shape)


def check_nm_along(weight: np.ndarray, n: int, m: int, axis: str = "in", what: str = "weight") -> None:
    """Raise :class:`NMError` naming the first group along ``axis`` with more than N nonzeros."""
    _check_axis(axis)
    w = _as_out_major(weight, axis)
    nm_ops.check_nm(w, n, m, what=f"{what} (groups along {axis!r})")


def bdwp_masks(weight: np.ndarray, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """BDWP's two masks of one dense weight: ``(forward mask along 'in', backward mask along 'out')``."""
    return nm_mask_along(weight, n, m, "in"), nm_mask_along(weight, n, m, "out")


def transposable_mask(weight: np.ndarray, n: int, m: int) -> np.ndarray:
    """One mask that is N:M along both axes: greedy by magnitude inside every M x M block.

    Entries of a block are taken largest first while their row and column each hold fewer than
    N; the result satisfies :func:`check_nm_along` for ``in`` and ``out``.
    """
    n, m = nm_ops.check_pattern(n, m, what="N:M")
    w = np.abs(_as_out_major(weight, "in")).astype(np.float64)
    rows, cols = w.shape
    if rows % m or cols % m:
        raise NMError(f"a transposable {n}:{m} mask needs both weight dimensions divisible by {m}, found "
                      f"{(rows, cols)!r} (out, in * kernel)")
    keep = np.zeros_like(w, dtype=bool)
    blocks = w.reshape(rows // m, m, cols // m, m).transpose(0, 2, 1, 3)
    order = np.argsort(-blocks.reshape(rows // m, cols // m, m * m), axis=2, kind="stable")
    for bi in range(rows // m):
        for bj in range(cols // m):
            rc = np.zeros(m, dtype=np.int64)
            cc = np.zeros(m, dtype=np.int64)
            for flat in order[bi, bj]:
                i, j = divmod(int(flat), m)
                if rc[i] < n and cc[j] < n:
                    rc[i] += 1
                    cc[j] += 1
                    keep[bi * m + i, bj * m + j] = True
    return keep.reshape(np.asarray(weight).shape)
