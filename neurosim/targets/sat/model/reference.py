"""Plain-Python reference of the GEMM tile loop (:func:`neurosim.targets.sat.model.kernel.gemm_cycles`).

Written from the kernel's docstring, one tile at a time with Python integers and no numba, so
the two can be compared on random GEMMs (tests) and the kernel's speed measured against it
(``neurosim bench sat``). Returns the same eight numbers per GEMM as the kernel.
"""

from __future__ import annotations

import math


def gemm(m: int, k: int, n: int, count: int, red: int, keep: tuple[int, int], sparse: bool, *, rows: int,
         cols: int, act_bits: int, weight_bits: int, index_bits: int, acc_bits: int, ifmap_bytes: int,
         ofmap_bytes: int, overlap: bool, bytes_per_kcycle: int, interleave: bool = False,
         chunk: int | None = None) -> dict[str, int]:
    """Cycles, compute, stall, MACs, DRAM bytes, SRAM bytes, tiles and dense MACs of one GEMM.

    ``chunk``: rows per chunk (default: as many as fit half the output buffer).
    """
    ktile = rows * red
    span = cols
    if interleave and k <= ktile:
        span = cols * max(1, rows // math.ceil(k / red))
    t_max = chunk or max(1, (ofmap_bytes * 8 // 2) // (cols * acc_bits))
    w_bits = weight_bits + (index_bits if sparse else 0)
    res = {"cycles": 0, "compute": 0, "macs": 0, "dram": 0, "sram": 0, "tiles": 0}
    prefetched = None
    for m0 in range(0, m, t_max):
        t = min(t_max, m - m0)
        resident = t * k * act_bits <= ifmap_bytes * 8 // 2
        for n0 in range(0, n, span):
            c = min(span, n - n0)
            for k0 in range(0, k, ktile):
                ka = min(ktile, k - k0)
                stored = math.ceil(ka * keep[0] / keep[1])
                bits = stored * c * w_bits
                if n0 == 0 or not resident:
                    bits += t * ka * act_bits
                if k0 + ktile >= k:
                    bits += t * c * act_bits
                nbytes = math.ceil(bits / 8)
                xfer = math.ceil(nbytes * 1000 / bytes_per_kcycle)
                compute = 2 * rows + cols + t - 1
                if not overlap:
                    res["cycles"] += compute + xfer
                elif prefetched is None:
                    res["cycles"] += xfer + compute
                else:
                    res["cycles"] += max(0, prefetched - compute) + compute
                prefetched = xfer
                res["compute"] += compute
                res["dram"] += nbytes
                res["macs"] += t * stored * c
                res["sram"] += math.ceil((t * ka * act_bits + stored * c * w_bits + 2 * t * c * acc_bits) / 8)
                res["tiles"] += 1
    out = {key: v * count for key, v in res.items()}
    out["stall"] = out["cycles"] - out["compute"]
    out["useful"] = m * k * n * count
    return out
