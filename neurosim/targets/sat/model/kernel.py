"""numba kernels of the SAT cycle model: every tile of every GEMM, and the vector unit.

Arrays in, arrays out; :mod:`neurosim.targets.sat.model.step` builds the tables and reads the results.

A GEMM ``[M, K] x [K, N]`` (``count`` independent copies) is tiled onto the weight-stationary
``R x C`` array: ``K`` in tiles of ``R * r`` (``r`` = reduction per PE per cycle: ``lanes`` dense,
``lanes * M/N`` for an N:M weight), ``N`` in tiles of ``C`` columns, and the rows ``M`` in chunks of
``T`` rows whose partial sums fit the output buffer. Loop order: row chunk, column tile, reduction
tile (partial sums stay in the output buffer across reduction tiles). Each tile takes
:func:`~neurosim.targets.sat.model.tile.tile_cycles` (``2R + C + T - 1``).

DRAM: a tile needs its weights (``stored`` values plus indices), the activation chunk
``[T, R*r]`` unless the whole ``[T, K]`` chunk stayed in the input buffer since the previous column
tile (half the buffer: it is double buffered), and writes ``[T, C]`` outputs after its last
reduction tile. With ``overlap`` (double-buffered transfers scheduled offline) the transfers of the
next tile hide under the current tile's compute and only the excess stalls; without it every
transfer is serialised with the compute.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from neurosim.targets.sat.model.tile import tile_cycles

# columns of the GEMM table
G_M, G_K, G_N, G_COUNT, G_RED, G_KEEP_NUM, G_KEEP_DEN, G_SPARSE = range(8)
GEMM_FIELDS = 8
# columns of the result table
R_CYCLES, R_COMPUTE, R_STALL, R_MACS, R_DRAM_BYTES, R_SRAM_BYTES, R_TILES, R_USEFUL, R_CHUNK = range(9)
RESULT_FIELDS = 9
# hardware vector: see neurosim.targets.sat.model.step.hw_vector
(H_ROWS, H_COLS, H_ACT_BITS, H_W_BITS, H_IDX_BITS, H_ACC_BITS, H_IBUF, H_OBUF, H_OVERLAP, H_BYTES_PER_KCYC, H_INTERLEAVE,
 H_SCHEDULE) = range(12)
HW_FIELDS = 12


@njit(cache=True)
def _ceil_div(a, b):
    return (a + b - 1) // b


@njit(cache=True)
def _chunk(hw, k, n, keep_num, keep_den, sparse, red, t, first, pending, fast):
    """One row chunk of ``t`` rows: every column tile x reduction tile, in order.

    Returns ``(cycles, compute, macs, dram, sram, tiles, pending)``; ``first``: the GEMM's first
    chunk (its first transfer cannot be prefetched), ``pending``: the transfer prefetched under
    the previous chunk's last tile.

    With ``fast``, the middle reduction tiles of a column tile are costed once and multiplied:
    tiles ``1 .. k_tiles - 2`` are all full (``ktile`` deep), none is the last, and each starts
    with the previous one's transfer pending, which is tile 0's (full, not last) transfer -- so
    each adds exactly what tile 1 adds and leaves the same prefetch state. This makes the cost of
    a chunk independent of ``k`` (a weight-gradient GEMM reduces over the batch: ``k = batch *
    rows``); the results are bit-identical to the tile-by-tile loop (``fast=False``; tests compare).
    """
    rows = hw[H_ROWS]
    cols = hw[H_COLS]
    bw = hw[H_BYTES_PER_KCYC]
    overlap = hw[H_OVERLAP] != 0
    ktile = rows * red
    k_tiles = _ceil_div(k, ktile)
    # interleave mapping: a reduction shorter than the array's depth uses only ``used`` PE rows;
    # ``segments`` column tiles then share the array, one per band of ``used`` rows
    segments = 1
    if hw[H_INTERLEAVE] != 0 and k_tiles == 1:
        segments = max(1, rows // _ceil_div(k, red))
    span = cols * segments
    n_tiles = _ceil_div(n, span)
    w_bits = hw[H_W_BITS] + (hw[H_IDX_BITS] if sparse else 0)
    a_bits = hw[H_ACT_BITS]
    x_resident = t * k * a_bits <= hw[H_IBUF] * 8 // 2
    cycles = 0
    compute = 0
    macs = 0
    dram = 0
    sram = 0
    tiles = 0
    for nt in range(n_tiles):
        c_act = min(span, n - nt * span)
        kt = 0
        while kt < k_tiles:
            # tile 1 stands for tiles 1 .. k_tiles - 2 (see the docstring); every other tile for itself
            reps = k_tiles - 2 if fast and kt == 1 and k_tiles > 3 else 1
            k_act = min(ktile, k - kt * ktile)
            stored = _ceil_div(k_act * keep_num, keep_den)
            bits = stored * c_act * w_bits
            if nt == 0 or not x_resident:
                bits += t * k_act * a_bits
            if kt == k_tiles - 1:
                bits += t * c_act * a_bits
            nbytes = _ceil_div(bits, 8)
            xfer = _ceil_div(nbytes * 1000, bw)
            tc = tile_cycles(rows, cols, t)
            if overlap:
                if first:
                    cycles += xfer  # the first tile's operands cannot be prefetched
                else:
                    cycles += max(0, pending - tc) * reps
                cycles += tc * reps
                pending = xfer
            else:
                cycles += (tc + xfer) * reps
            first = False
            compute += tc * reps
            dram += nbytes * reps
            macs += t * stored * c_act * reps
            # SRAM: the activation window stream, the weights once, partial sums read+write
            sram += _ceil_div(t * k_act * a_bits + stored * c_act * w_bits + 2 * t * c_act * hw[H_ACC_BITS], 8) * reps
            tiles += reps
            kt += reps
    return cycles, compute, macs, dram, sram, tiles, pending


@njit(cache=True)
def _gemm_at(gemms: np.ndarray, g: int, hw: np.ndarray, t_chunk: int, out: np.ndarray, fast: bool) -> None:
    """Fill ``out[g]`` for GEMM row ``g`` with rows streamed in chunks of ``t_chunk``.

    Every full chunk after the first starts in the same state (the previous full chunk's last
    prefetch), so it costs exactly what the second chunk costs: with ``fast`` chunks 3.. are the
    second one repeated, not re-simulated, and :func:`_chunk` repeats its middle reduction tiles
    the same way; ``fast=False`` simulates every chunk and every tile (the plain-Python reference
    loops over all of them too; tests compare the three).
    """
    m = gemms[g, G_M]
    k = gemms[g, G_K]
    n = gemms[g, G_N]
    count = gemms[g, G_COUNT]
    kn = gemms[g, G_KEEP_NUM]
    kd = gemms[g, G_KEEP_DEN]
    sparse = gemms[g, G_SPARSE] != 0
    red = gemms[g, G_RED]
    t = min(t_chunk, m)
    full = m // t
    rest = m - full * t
    c, comp, macs, dram, sram, tiles, pending = _chunk(hw, k, n, kn, kd, sparse, red, t, True, 0, fast)
    done = 1
    while done < full:
        c2, comp2, macs2, dram2, sram2, tiles2, pending = _chunk(hw, k, n, kn, kd, sparse, red, t, False, pending,
                                                                 fast)
        reps = full - done if fast else 1
        done += reps
        c += c2 * reps
        comp += comp2 * reps
        macs += macs2 * reps
        dram += dram2 * reps
        sram += sram2 * reps
        tiles += tiles2 * reps
    if rest:
        c3, comp3, macs3, dram3, sram3, tiles3, pending = _chunk(hw, k, n, kn, kd, sparse, red, rest, False, pending,
                                                                 fast)
        c += c3
        comp += comp3
        macs += macs3
        dram += dram3
        sram += sram3
        tiles += tiles3
    out[g, R_CYCLES] = c * count
    out[g, R_COMPUTE] = comp * count
    out[g, R_STALL] = (c - comp) * count
    out[g, R_MACS] = macs * count
    out[g, R_DRAM_BYTES] = dram * count
    out[g, R_SRAM_BYTES] = sram * count
    out[g, R_TILES] = tiles * count
    out[g, R_USEFUL] = m * k * n * count
    out[g, R_CHUNK] = t_chunk


@njit(cache=True)
def gemm_cycles(gemms: np.ndarray, hw: np.ndarray, out: np.ndarray, fast: bool = True) -> None:
    """Fill ``out[g]`` (see the R_* columns) for every GEMM row of ``gemms`` on hardware ``hw``.

    The row chunk ``T`` is the largest whose partial sums fit half the output buffer; with
    ``hw[H_SCHEDULE]`` (offline scheduling) its halvings down to ``R + C`` rows, and the largest
    chunk whose ``[T, K]`` activations stay resident in the input buffer, are tried too and the
    fastest is kept. ``hw[H_BYTES_PER_KCYC]`` is the DRAM bandwidth in bytes per 1000 cycles (integer
    arithmetic: transfer cycles are rounded up per tile).

    ``fast`` (the default) costs repeated row chunks and middle reduction tiles once and multiplies
    (see :func:`_chunk`), so the time taken is independent of the batch; ``fast=False`` runs the
    unoptimised tile-by-tile loop, with bit-identical results, as the tests' oracle.
    """
    cols = hw[H_COLS]
    best = np.zeros((1, RESULT_FIELDS), dtype=np.int64)
    trial = np.zeros((1, RESULT_FIELDS), dtype=np.int64)
    one = np.zeros((1, GEMM_FIELDS), dtype=np.int64)
    for g in range(gemms.shape[0]):
        t_max = max(1, (hw[H_OBUF] * 8 // 2) // (cols * hw[H_ACC_BITS]))
        t_max = min(t_max, gemms[g, G_M])
        one[0, :] = gemms[g, :]
        _gemm_at(one, 0, hw, t_max, best, fast)
        if hw[H_SCHEDULE] != 0:
            # halve the chunk while it stays longer than the array's fill and drain (R + C): shorter
            # chunks spend most of every tile filling the array and never win
            t = t_max // 2
            while t >= hw[H_ROWS] + cols:
                _gemm_at(one, 0, hw, t, trial, fast)
                if trial[0, R_CYCLES] < best[0, R_CYCLES]:
                    best[0, :] = trial[0, :]
                t //= 2
            resident = (hw[H_IBUF] * 8 // 2) // max(1, gemms[g, G_K] * hw[H_ACT_BITS])
            if 1 <= resident < t_max:
                _gemm_at(one, 0, hw, resident, trial, fast)
                if trial[0, R_CYCLES] < best[0, R_CYCLES]:
                    best[0, :] = trial[0, :]
        out[g, :] = best[0, :]


@njit(cache=True)
def vector_cycles(elements: np.ndarray, ops: np.ndarray, tensors: int, lanes: int, act_bits: int,
                  bytes_per_kcycle: int, overlap: bool, out: np.ndarray) -> None:
    """Cycles (``out[i, 0]``) and DRAM bytes (``out[i, 1]``) of the vector unit per layer.

    ``elements * ops / lanes`` operations; ``tensors`` tensors of ``elements`` values move to or
    from DRAM (2 for a layer: read its input, write its output; 3 for a weight update). With
    ``overlap`` the transfer hides under the arithmetic and only the excess counts.
    """
    for i in range(elements.shape[0]):
        if ops[i] == 0:
            out[i, 0] = 0
            out[i, 1] = 0
            continue
        work = _ceil_div(elements[i] * ops[i], lanes)
        nbytes = _ceil_div(tensors * elements[i] * act_bits, 8)
        xfer = _ceil_div(nbytes * 1000, bytes_per_kcycle)
        out[i, 0] = max(work, xfer) if overlap else work + xfer
        out[i, 1] = nbytes
