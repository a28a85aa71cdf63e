"""N:M structured sparsity: at most N nonzeros in every group of M consecutive weights.

Groups run along the *reduction* axis of a weight: for a dense weight ``W[out, in]`` the group
``g`` of row ``o`` is ``W[o, g*M:(g+1)*M]``; a conv weight ``W[out, in, *k]`` is flattened to
``W[out, in*prod(k)]`` first (input channel major, kernel minor, as torch stores it). This is the
forward-pass layout of Ampere-style 2:4 sparsity and of SAT's BDWP forward pruning.

The compressed layout (:class:`~neurosim.ir.nodes.connections.NMSparse`) keeps, per row and
group, N values and their N offsets ``0 <= off < M`` inside the group, ascending; groups with
fewer than N nonzeros are padded with zero values at the lowest unused offsets.
"""

from __future__ import annotations

import numpy as np

from neurosim.errors import NMError

#: Patterns tried by :func:`detect_nm`, sparsest first.
CANDIDATES: tuple[tuple[int, int], ...] = ((1, 8), (1, 4), (2, 8), (1, 2), (2, 4), (4, 8))


def parse_nm(text) -> tuple[int, int]:
    """The one parser of N:M patterns as users write them: ``"2:8"`` -> ``(2, 8)``; ``"dense"`` ->
    ``(1, 1)`` (every group of one keeps its one weight), for the model, the RTL and the CLI alike."""
    if isinstance(text, str) and text.strip().lower() == "dense":
        return (1, 1)
    try:
        n_text, m_text = str(text).split(":")
        n, m = int(n_text), int(m_text)
    except ValueError:
        raise NMError(f"an N:M pattern is written 'N:M' (e.g. '2:8') or 'dense', found {text!r}") from None
    if not 1 <= n <= m:
        raise NMError(f"N:M pattern {text!r} needs 1 <= N <= M; use e.g. '2:8'")
    return (n, m)


def check_pattern(n: int, m: int, *, what: str = "nm") -> tuple[int, int]:
    """Validate N and M themselves (1 <= N <= M)."""
    if not (isinstance(n, (int, np.integer)) and isinstance(m, (int, np.integer)) and 1 <= n <= m):
        raise NMError(f"{what} must be integers with 1 <= N <= M, found N={n!r}, M={m!r}")
    return int(n), int(m)


def rows(weight: np.ndarray) -> np.ndarray:
    """The weight as ``[out, reduction]`` (see module docstring)."""
    w = np.asarray(weight)
    return w.reshape(w.shape[0], -1)


def check_nm(weight: np.ndarray, n: int, m: int, *, what: str = "weight") -> None:
    """Raise :class:`NMError` naming the first group with more than N nonzeros."""
    n, m = check_pattern(n, m, what=f"{what} N:M")
    w = rows(weight)
    if w.shape[1] % m:
        raise NMError(
            f"{what} has a reduction length of {w.shape[1]!r}, not a multiple of M={m}; "
            f"pad the input dimension or choose another M"
        )
    nnz = np.count_nonzero(w.reshape(w.shape[0], -1, m), axis=2)
    bad = np.argwhere(nnz > n)
    if bad.size:
        r, g = (int(v) for v in bad[0])
        raise NMError(
            f"{what} is declared {n}:{m} but row {r} group {g} (columns {g * m}..{g * m + m - 1}) has "
            f"{int(nnz[r, g])} nonzeros; prune it with neurosim.ir.nm.nm_mask or drop the N:M declaration"
        )


def is_nm(weight: np.ndarray, n: int, m: int) -> bool:
    w = rows(weight)
    if w.shape[1] % m or w.size == 0:
        return False
    return bool(np.all(np.count_nonzero(w.reshape(w.shape[0], -1, m), axis=2) <= n))


def detect_nm(weight: np.ndarray, candidates=CANDIDATES) -> tuple[int, int] | None:
    """The sparsest candidate N:M pattern the weight satisfies, or None (dense or unstructured)."""
    w = rows(weight)
    if np.count_nonzero(w) == w.size:
        return None
    for n, m in candidates:
        if is_nm(w, n, m):
            return (n, m)
    return None


def nm_mask(weight: np.ndarray, n: int, m: int) -> np.ndarray:
    """Boolean mask keeping the N largest-magnitude weights of every group of M (ties: lowest index)."""
    n, m = check_pattern(n, m)
    w = rows(np.asarray(weight, dtype=np.float64))
    if w.shape[1] % m:
        raise NMError(f"weight reduction length {w.shape[1]!r} is not a multiple of M={m}")
    g = np.abs(w.reshape(w.shape[0], -1, m))
    order = np.argsort(-g, axis=2, kind="stable")
    keep = np.zeros_like(g, dtype=bool)
    np.put_along_axis(keep, order[:, :, :n], True, axis=2)
    return keep.reshape(np.asarray(weight).shape)


def compress(weight: np.ndarray, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Dense N:M weight -> (values [out, G*N], offsets [out, G*N] as uint8), see module docstring."""
    check_nm(weight, n, m)
    w = rows(weight)
    out, k = w.shape
    groups = w.reshape(out, k // m, m)
    nz = groups != 0
    # rank: nonzeros first (by offset), then zeros (by offset): take the first N positions
    key = np.where(nz, 0, 1) * m + np.arange(m)
    order = np.sort(np.argsort(key, axis=2, kind="stable")[:, :, :n], axis=2)
    values = np.take_along_axis(groups, order, axis=2)
    return values.reshape(out, -1), order.reshape(out, -1).astype(np.uint8)


def decompress(values: np.ndarray, offsets: np.ndarray, n: int, m: int, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`compress`."""
    out = shape[0]
    k = int(np.prod(shape[1:]))
    groups = np.zeros((out, k // m, m), dtype=np.asarray(values).dtype)
    np.put_along_axis(groups, np.asarray(offsets, dtype=np.int64).reshape(out, k // m, n),
                      np.asarray(values).reshape(out, k // m, n), axis=2)
    return groups.reshape(shape)
