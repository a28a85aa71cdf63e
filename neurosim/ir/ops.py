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
    xp = np.pad(xs, [(0, 0), (0, 0)] + [(p, p) for p in padding])
    k = w.shape[2:]
    out_sizes = [(xp.shape[2 + i] - dilation[i] * (k[i] - 1) - 1) // stride[i] + 1 for i in range(d)]
    o = w.shape[0]
    cg, og = c // groups, o // groups
    y = np.zeros((xs.shape[0], o, *out_sizes), dtype=np.result_type(x.dtype, w.dtype))
    for tap in np.ndindex(*k):  # one kernel tap at a time: memory = padded input + output, no im2col
        sl = tuple(slice(tap[i] * dilation[i], tap[i] * dilation[i] + out_sizes[i] * stride[i], stride[i])
                   for i in range(d))
        for g in range(groups):
            xg = xp[(slice(None), slice(g * cg, (g + 1) * cg)) + sl]
            wg = w[(slice(g * og, (g + 1) * og), slice(None)) + tap]
            y[:, g * og:(g + 1) * og] += np.moveaxis(np.tensordot(xg, wg, axes=([1], [1])), -1, 1)
    return y.reshape(lead + y.shape[1:])
