"""numpy implementations of the IR's weight-shared linear operators.

One implementation serves every consumer -- the functional reference, the engine's graph
compiler and the quantize pass -- so the three cannot disagree on a convolution's geometry.
"""

from __future__ import annotations

import numpy as np

def conv_nd(x: np.ndarray, w: np.ndarray, stride, padding, dilation, groups) -> np.ndarray:
    """torch-style cross-correlation of ``x[..., C, *S]`` with ``w[O, C/groups, *K]`` (numpy)."""
    d = w.ndim - 2
    lead = x.shape[: x.ndim - d - 1]
    c = x.shape[-d - 1]
    xs = x.reshape((-1, c) + x.shape[-d:])
    pad = [(0, 0), (0, 0)] + [(p, p) for p in padding]
    xp = np.pad(xs, pad)
    k = w.shape[2:]
    out_sizes = [(xp.shape[2 + i] - dilation[i] * (k[i] - 1) - 1) // stride[i] + 1 for i in range(d)]
    # gather patches: [N, C, *out, *k]
    patches = np.lib.stride_tricks.sliding_window_view(
        xp, [dilation[i] * (k[i] - 1) + 1 for i in range(d)], axis=tuple(range(2, 2 + d)))
    sl = (slice(None), slice(None)) + tuple(slice(None, out_sizes[i] * stride[i], stride[i]) for i in range(d)) \
        + tuple(slice(None, None, dilation[i]) for i in range(d))
    patches = patches[sl]
    o = w.shape[0]
    cg, og = c // groups, o // groups
    outs = []
    letters = "abcdefgh"[:d]
    kl = "pqrstuvw"[:d]
    for g in range(groups):
        pg = patches[:, g * cg:(g + 1) * cg]
        wg = w[g * og:(g + 1) * og]
        outs.append(np.einsum(f"nc{letters}{kl},oc{kl}->no{letters}", pg, wg, optimize=True))
    y = np.concatenate(outs, axis=1)
    return y.reshape(lead + y.shape[1:])
