"""Weight-shared projections in their compact form, delivered event by event.

Everything linear between two spiking layers -- dense, sparse CSR and N:M projections,
convolutions (1-D/2-D, strided, padded, dilated, grouped), sum/average pooling, flatten, delays,
and sums of several edges (residual connections) -- is kept as a **path**: the sequence of
operators a value travels through from a source population to a target population. One
**op** maps a flat input index ``i`` with value ``x`` to the output entries it touches:

* ``CSR``: row ``i`` of a source-major sparse matrix, ``y[j] += W[j, i] * x`` (dense and N:M
  weights are stored this way too, their zeros dropped);
* ``CONV``: the transposed scatter of a cross-correlation: input ``(c, y, x)`` reaches output
  ``(o, (y + p_h - k_y d_h) / s_h, (x + p_w - k_x d_w) / s_w)`` for every kernel tap ``(k_y, k_x)``
  where the division is exact and in range, and every output channel ``o`` of ``c``'s group, with
  weight ``W[o, c mod (C/g), k_y, k_x]``;
* ``POOL``: input ``(c, y, x)`` reaches every window ``(c, o_y, o_x)`` with
  ``o_y s_h - p_h <= y < o_y s_h - p_h + k_h`` (and likewise in x), scaled by 1 (sum) or
  ``1 / (k_h k_w)`` (average, padding included as in torch);
* ``DELAY``: the identity, adding ``delay_steps[i]`` to the entry's delay.

A **route** is (source group, target population, base delay, path). The base delay is the
number of recurrent edges on the path (each carries the previous step's value). Memory grows
with the weights (a conv kernel is stored once), never with neurons x neurons.

Two consumers share the op code: the engine's delivery (a spike scattered straight into the
accumulator ring; multi-op paths expand through two scratch buffers) and the **enumeration** of
a source's effective synapses (all its routes, entries to the same target and delay summed,
zeros dropped) -- what a chip without weight sharing stores, so it is what the partition pass,
the per-source packet tables and the RTL flow count.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from neurosim.errors import SimulationError, UnsupportedError
from neurosim.ir.nodes import AvgPool2d, Conv1d, Conv2d, Delay, Dense, NMSparse, SparseCSR, SumPool2d

OP_CSR, OP_CONV, OP_POOL, OP_DELAY = 0, 1, 2, 3

# geometry columns of an op (unused ones are 0)
G_IN, G_OUT, G_C, G_H, G_W, G_CO, G_HO, G_WO, G_KH, G_KW, G_SH, G_SW, G_PH, G_PW, G_DH, G_DW, G_GROUPS = range(17)
N_GEOM = 17

#: The flat program the numba code reads (see module docstring). ``op_a``/``op_b`` are offsets into
#: ``ints`` (CSR pointers / indices, delay steps), ``op_w`` into ``wts``. Routes are grouped by source
#: group (inputs, then spiking populations, in global index order): ``route_ptr[g]..route_ptr[g+1]``.
Program = namedtuple("Program", (
    "op_kind op_geom op_a op_b op_w ints wts path_ptr path_ops "
    "group_off route_ptr route_tgt_off route_tgt_size route_delay route_path route_varying "
    "merge buf_size"
))

#: Per-thread scratch of the enumeration and of multi-op delivery: the final sink (``buf_*``) and the
#: two stage buffers of a multi-op path; ``mark``/``accum`` (``n_slots * n_total``) merge entries.
Scratch = namedtuple("Scratch", "buf_i buf_v buf_d buf2_i buf2_v buf2_d buf3_i buf3_v buf3_d mark accum out_j out_d out_w")


def n_chunks() -> int:
    """Chunks of sources for the parallel enumeration: one per numba thread."""
    import numba

    return max(1, numba.get_num_threads())


@dataclass
class _Builder:
    """Collects ops, paths and routes while the graph is walked (compile.py drives it)."""

    mode: str

    def __post_init__(self):
        self.kinds: list[int] = []
        self.geoms: list[np.ndarray] = []
        self.a: list[int] = []
        self.b: list[int] = []
        self.w: list[int] = []
        self.ints: list[np.ndarray] = []
        self.n_ints = 0
        self.wts: list[np.ndarray] = []
        self.n_wts = 0
        self.fanout: list[int] = []  # per op: the most entries one input can produce
        self.extra_delay: list[int] = []  # per op: the most steps it can add
        self.by_node: dict[str, int] = {}
        self.dup_ops: set[int] = set()  # CSR ops with repeated (row, column) pairs: their entries must be summed

    def _ints(self, arr) -> int:
        arr = np.ascontiguousarray(arr, dtype=np.int64).reshape(-1)
        off = self.n_ints
        self.ints.append(arr)
        self.n_ints += arr.size
        return off

    def _wts(self, arr) -> int:
        arr = np.ascontiguousarray(arr, dtype=np.float64).reshape(-1)
        off = self.n_wts
        self.wts.append(arr)
        self.n_wts += arr.size
        return off

    def _add(self, kind, geom: dict, a=0, b=0, w=0, fanout=1, extra_delay=0) -> int:
        g = np.zeros(N_GEOM, dtype=np.int64)
        for k, v in geom.items():
            g[k] = v
        self.kinds.append(kind)
        self.geoms.append(g)
        self.a.append(a)
        self.b.append(b)
        self.w.append(w)
        self.fanout.append(int(fanout))
        self.extra_delay.append(int(extra_delay))
        return len(self.kinds) - 1

    def op_of(self, name: str, node, in_shape, out_shape) -> int:
        """The op of a linear node (built once per node, shared by every path through it)."""
        if name in self.by_node:
            return self.by_node[name]
        in_size, out_size = int(np.prod(in_shape)), int(np.prod(out_shape))
        base = {G_IN: in_size, G_OUT: out_size}
        if isinstance(node, (Dense, NMSparse, SparseCSR)):
            op = self._csr(name, node, base)
        elif isinstance(node, (Conv1d, Conv2d)):
            op = self._conv(name, node, in_shape, out_shape, base)
        elif isinstance(node, (SumPool2d, AvgPool2d)):
            op = self._pool(name, node, in_shape, out_shape, base)
        elif isinstance(node, Delay):
            steps = np.asarray(node.delay_steps, dtype=np.int64)
            steps = np.broadcast_to(steps, node.shape).reshape(-1)
            op = self._add(OP_DELAY, base, a=self._ints(steps), extra_delay=int(steps.max()) if steps.size else 0)
        else:  # pragma: no cover - the caller only passes linear nodes
            raise UnsupportedError(f"node {name!r} ({type(node).__name__}) is not linear")
        self.by_node[name] = op
        return op

    def identity(self, size: int) -> int:
        """A population fed directly by another (no projection): weight 1 from element i to i."""
        idx = np.arange(size, dtype=np.int64)
        return self._add(OP_CSR, {G_IN: size, G_OUT: size}, a=self._ints(np.arange(size + 1)), b=self._ints(idx),
                         w=self._wts(np.ones(size)), fanout=1)

    def _scale(self, node, name: str) -> float:
        if self.mode != "fixed":
            return 1.0
        if node.weight_format is None:
            raise SimulationError(f"node {name!r} has no weight_format; fixed mode needs a quantized graph "
                                  f"(on the command line `neurosim estimate --chip NAME` quantizes it with the chip's arithmetic; in Python call neurosim.passes.quantize(graph) first)")
        return 2.0 ** node.weight_format.frac_bits

    def _csr(self, name, node, base) -> int:
        scale = self._scale(node, name)
        n_out, n_in = base[G_OUT], base[G_IN]
        if isinstance(node, SparseCSR):
            rows = np.repeat(np.arange(n_out, dtype=np.int64), np.diff(node.indptr))
            cols = np.asarray(node.indices, dtype=np.int64)
            vals = np.asarray(node.weight, dtype=np.float64)
        elif isinstance(node, NMSparse):
            n, m = node.nm
            out = node.weight.shape[0]
            groups = np.arange(node.weight.shape[1], dtype=np.int64) // n
            cols = (groups[None, :] * m + node.offsets.astype(np.int64)).reshape(-1)
            rows = np.repeat(np.arange(out, dtype=np.int64), node.weight.shape[1])
            vals = np.asarray(node.weight, dtype=np.float64).reshape(-1)
        else:
            w = np.asarray(node.weight, dtype=np.float64)
            rows, cols = np.nonzero(w)
            vals = w[rows, cols]
        keep = vals != 0
        rows, cols, vals = rows[keep], cols[keep], vals[keep] * scale
        order = np.lexsort((rows, cols))  # source-major, targets ascending
        rows, cols, vals = rows[order], cols[order], vals[order]
        ptr = np.zeros(n_in + 1, dtype=np.int64)
        np.add.at(ptr, cols + 1, 1)
        ptr = np.cumsum(ptr)
        fan = int(np.diff(ptr).max()) if n_in else 0
        op = self._add(OP_CSR, base, a=self._ints(ptr), b=self._ints(rows), w=self._wts(vals), fanout=max(1, fan))
        if rows.size > 1 and np.any((np.diff(cols) == 0) & (np.diff(rows) == 0)):
            self.dup_ops.add(op)
        return op

    def _conv(self, name, node, in_shape, out_shape, base) -> int:
        scale = self._scale(node, name)
        w = np.asarray(node.weight, dtype=np.float64) * scale
        if isinstance(node, Conv1d):  # as 2-D with a height of one
            in_shape, out_shape = (in_shape[0], 1, in_shape[1]), (out_shape[0], 1, out_shape[1])
            w = w[:, :, None, :]
            stride, pad, dil = (1, *node.stride), (0, *node.padding), (1, *node.dilation)
        else:
            stride, pad, dil = node.stride, node.padding, node.dilation
        co, cg, kh, kw = w.shape
        g = node.groups
        og = co // g
        # [group, ci, ky, kx, o_local]: one tap's output channels are contiguous
        wt = w.reshape(g, og, cg, kh, kw).transpose(0, 2, 3, 4, 1)
        geom = dict(base)
        geom.update({G_C: in_shape[0], G_H: in_shape[1], G_W: in_shape[2], G_CO: co, G_HO: out_shape[1],
                     G_WO: out_shape[2], G_KH: kh, G_KW: kw, G_SH: stride[0], G_SW: stride[1], G_PH: pad[0],
                     G_PW: pad[1], G_DH: dil[0], G_DW: dil[1], G_GROUPS: g})
        taps = -(-kh // stride[0]) * -(-kw // stride[1]) if dil == (1, 1) else kh * kw
        return self._add(OP_CONV, geom, w=self._wts(wt), fanout=og * taps)

    def _pool(self, name, node, in_shape, out_shape, base) -> int:
        if isinstance(node, AvgPool2d) and self.mode == "fixed":
            raise UnsupportedError(f"node {name!r} (AvgPool2d) divides; quantize the graph (it folds 1/area into weights)")
        kh, kw = node.kernel_size
        scale = 1.0 / (kh * kw) if isinstance(node, AvgPool2d) else 1.0
        geom = dict(base)
        geom.update({G_C: in_shape[0], G_H: in_shape[1], G_W: in_shape[2], G_CO: out_shape[0], G_HO: out_shape[1],
                     G_WO: out_shape[2], G_KH: kh, G_KW: kw, G_SH: node.stride[0], G_SW: node.stride[1],
                     G_PH: node.padding[0], G_PW: node.padding[1]})
        fan = -(-kh // node.stride[0]) * -(-kw // node.stride[1])
        return self._add(OP_POOL, geom, w=self._wts([scale]), fanout=fan)

    def program(self, group_off, routes) -> Program:
        """``routes``: per source group, a list of (target offset, target size, base delay, ops tuple)."""
        i64 = lambda v: np.asarray(v, dtype=np.int64)  # noqa: E731
        path_ptr, path_ops = [0], []
        route_ptr, tgt_off, tgt_size, delay, path, varying, merge = [0], [], [], [], [], [], []
        stage, final = 1, 1
        for group in routes:
            seen, dup = set(), False
            targets: list[int] = []
            total = 0
            first = len(tgt_off)
            for off, size, d, ops in group:
                path_ops.extend(ops)
                path_ptr.append(len(path_ops))
                tgt_off.append(off)
                tgt_size.append(size)
                delay.append(d)
                path.append(len(path_ptr) - 2)
                varying.append(int(any(self.kinds[o] == OP_DELAY for o in ops)))
                key = (off, d)
                prod = 1
                for o in ops[:-1]:
                    prod *= self.fanout[o]
                # two entries can meet at one target only through two routes, an intermediate stage of
                # several entries, or a CSR op listing a (row, column) pair twice
                dup = dup or key in seen or prod > 1 or any(o in self.dup_ops for o in ops)
                seen.add(key)
                targets.append(off)
                stage = max(stage, prod)
                total += prod * (self.fanout[ops[-1]] if ops else 1)
            final = max(final, total)
            # a Delay op can move a route onto another route's delay: merge whenever they share a target
            if any(varying[first:]) and len(set(targets)) < len(targets):
                dup = True
            merge.append(int(dup))
            route_ptr.append(len(tgt_off))
        kinds = i64(self.kinds) if self.kinds else np.zeros(0, dtype=np.int64)
        geoms = np.stack(self.geoms) if self.geoms else np.zeros((0, N_GEOM), dtype=np.int64)
        ints = np.concatenate(self.ints) if self.ints else np.zeros(1, dtype=np.int64)
        wts = np.concatenate(self.wts) if self.wts else np.zeros(1)
        size = max(stage, final, 1)
        return Program(
            op_kind=kinds, op_geom=geoms, op_a=i64(self.a), op_b=i64(self.b), op_w=i64(self.w), ints=ints, wts=wts,
            path_ptr=i64(path_ptr), path_ops=i64(path_ops) if path_ops else np.zeros(1, dtype=np.int64),
            group_off=i64(group_off), route_ptr=i64(route_ptr), route_tgt_off=i64(tgt_off),
            route_tgt_size=i64(tgt_size), route_delay=i64(delay), route_path=i64(path), route_varying=i64(varying),
            merge=i64(merge), buf_size=np.int64(size),
        )

    def max_extra_delay(self) -> int:
        return max(self.extra_delay, default=0)


# -- numba: one op, one input entry -------------------------------------------------------------

@njit(cache=True, inline="always")
def _put(to_acc, acc, k0, n_slots, n_total, t, tgt_off, varying, j, v, d, oi, ov, od, n):
    """Sink of one output entry: into the accumulator ring, or appended to a buffer."""
    if to_acc:
        if varying:
            acc[((t + d) % n_slots) * n_total + tgt_off + j] += v
        else:
            acc[k0 + j] += v
        return n
    oi[n] = j
    ov[n] = v
    od[n] = d
    return n + 1


@njit(cache=True)
def op_scatter(P, op, i, x, d, to_acc, acc, k0, n_slots, n_total, t, tgt_off, varying, oi, ov, od, n):
    """Apply op ``op`` to the input entry ``(i, x, delay d)`` (module docstring); returns the new
    buffer length ``n`` (unchanged when writing into the accumulator)."""
    kind = P.op_kind[op]
    g = P.op_geom[op]
    ints, wts = P.ints, P.wts
    if kind == OP_CSR:
        a, b, w = P.op_a[op], P.op_b[op], P.op_w[op]
        for e in range(ints[a + i], ints[a + i + 1]):
            n = _put(to_acc, acc, k0, n_slots, n_total, t, tgt_off, varying, ints[b + e], wts[w + e] * x, d,
                     oi, ov, od, n)
        return n
    if kind == OP_DELAY:
        return _put(to_acc, acc, k0, n_slots, n_total, t, tgt_off, varying or True, i, x,
                    d + ints[P.op_a[op] + i], oi, ov, od, n)
    h, wd = g[G_H], g[G_W]
    c = i // (h * wd)
    r = i - c * h * wd
    y = r // wd
    xx = r - y * wd
    ho, wo = g[G_HO], g[G_WO]
    kh, kw, sh, sw, ph, pw = g[G_KH], g[G_KW], g[G_SH], g[G_SW], g[G_PH], g[G_PW]
    if kind == OP_POOL:
        scale = wts[P.op_w[op]] * x
        oy0 = max(0, (y + ph - kh + sh) // sh)
        oy1 = min(ho - 1, (y + ph) // sh)
        ox0 = max(0, (xx + pw - kw + sw) // sw)
        ox1 = min(wo - 1, (xx + pw) // sw)
        for oy in range(oy0, oy1 + 1):
            for ox in range(ox0, ox1 + 1):
                n = _put(to_acc, acc, k0, n_slots, n_total, t, tgt_off, varying, (c * ho + oy) * wo + ox, scale, d,
                         oi, ov, od, n)
        return n
    # OP_CONV
    dh, dw, groups = g[G_DH], g[G_DW], g[G_GROUPS]
    cg = g[G_C] // groups
    og = g[G_CO] // groups
    grp = c // cg
    ci = c - grp * cg
    plane = ho * wo
    w0 = P.op_w[op] + (grp * cg + ci) * kh * kw * og
    j0 = grp * og * plane
    for ky in range(kh):
        ty = y + ph - ky * dh
        if ty < 0 or ty % sh != 0:
            continue
        oy = ty // sh
        if oy >= ho:
            continue
        for kx in range(kw):
            tx = xx + pw - kx * dw
            if tx < 0 or tx % sw != 0:
                continue
            ox = tx // sw
            if ox >= wo:
                continue
            wb = w0 + (ky * kw + kx) * og
            jb = j0 + oy * wo + ox
            for o in range(og):
                wv = wts[wb + o]
                if wv != 0.0:
                    n = _put(to_acc, acc, k0, n_slots, n_total, t, tgt_off, varying, jb + o * plane, wv * x, d,
                             oi, ov, od, n)
    return n


@njit(cache=True)
def route_scatter(P, B, r, i, x, to_acc, acc, t, n_slots, n_total, n):
    """Send the entry ``(i, x)`` of route ``r``'s source through its path. Into the accumulator
    (``to_acc``), or appended to the scratch ``B.buf_*`` from position ``n`` with global target indices;
    returns the new length."""
    p = P.route_path[r]
    p0, p1 = P.path_ptr[p], P.path_ptr[p + 1]
    d0 = P.route_delay[r]
    off = P.route_tgt_off[r]
    varying = P.route_varying[r] != 0
    k0 = ((t + d0) % n_slots) * n_total + off
    if p1 - p0 == 1:
        if to_acc:
            return op_scatter(P, P.path_ops[p0], i, x, d0, True, acc, k0, n_slots, n_total, t, off, varying,
                              B.buf_i, B.buf_v, B.buf_d, n)
        m = op_scatter(P, P.path_ops[p0], i, x, d0, False, acc, k0, n_slots, n_total, t, off, varying,
                       B.buf_i, B.buf_v, B.buf_d, n)
        for q in range(n, m):
            B.buf_i[q] += off
        return m
    # multi-op path: expand stage by stage, ping-pong between buf2 and buf3 (the last op writes the sink)
    ci, cv, cd = B.buf2_i, B.buf2_v, B.buf2_d
    ni, nv, nd = B.buf3_i, B.buf3_v, B.buf3_d
    ci[0] = i
    cv[0] = x
    cd[0] = d0
    m = 1
    for s in range(p0, p1 - 1):
        m2 = 0
        for q in range(m):
            m2 = op_scatter(P, P.path_ops[s], ci[q], cv[q], cd[q], False, acc, k0, n_slots, n_total, t, off,
                            varying, ni, nv, nd, m2)
        ci, cv, cd, ni, nv, nd = ni, nv, nd, ci, cv, cd
        m = m2
    last = P.path_ops[p1 - 1]
    if to_acc:
        for q in range(m):
            op_scatter(P, last, ci[q], cv[q], cd[q], True, acc, k0, n_slots, n_total, t, off, varying,
                       B.buf_i, B.buf_v, B.buf_d, 0)
        return n
    n0 = n
    for q in range(m):
        n = op_scatter(P, last, ci[q], cv[q], cd[q], False, acc, k0, n_slots, n_total, t, off, varying,
                       B.buf_i, B.buf_v, B.buf_d, n)
    for q in range(n0, n):
        B.buf_i[q] += off
    return n


@njit(cache=True, inline="always")
def deliver(P, B, grp, i, x, acc, t, n_slots, n_total):
    """Deliver value ``x`` of element ``i`` of source group ``grp`` at step ``t`` along every route."""
    for r in range(P.route_ptr[grp], P.route_ptr[grp + 1]):
        p = P.route_path[r]
        p0 = P.path_ptr[p]
        op = P.path_ops[p0]
        if P.path_ptr[p + 1] - p0 == 1 and P.op_kind[op] == OP_CSR and P.route_varying[r] == 0:
            # the common case, kept tight: one sparse row straight into the accumulator
            k0 = ((t + P.route_delay[r]) % n_slots) * n_total + P.route_tgt_off[r]
            ints, wts = P.ints, P.wts
            a, b, w = P.op_a[op], P.op_b[op], P.op_w[op]
            lo, hi = ints[a + i], ints[a + i + 1]
            # slices indexed from 0: numba drops its negative-index check and the loop runs ~1.5x faster
            idx = ints[b + lo:b + hi]
            val = wts[w + lo:w + hi]
            dst = acc[k0:]
            for e in range(hi - lo):
                dst[idx[e]] += val[e] * x
        else:
            route_scatter(P, B, r, i, x, True, acc, t, n_slots, n_total, 0)


@njit(cache=True)
def source_synapses(P, B, grp, i, n_slots, n_total):
    """The effective synapses of element ``i`` of group ``grp``: every route enumerated, entries with
    the same (target, delay) summed, zero sums dropped, into ``B.out_*`` (global target, delay,
    weight); returns the count. ``B.mark`` is left clean (all -1)."""
    n = 0
    for r in range(P.route_ptr[grp], P.route_ptr[grp + 1]):
        n = route_scatter(P, B, r, i, 1.0, False, B.accum, 0, n_slots, n_total, n)
    out_j, out_d, out_w, mark, accum = B.out_j, B.out_d, B.out_w, B.mark, B.accum
    if P.merge[grp] == 0:
        m = 0
        for q in range(n):
            if B.buf_v[q] != 0.0:
                out_j[m] = B.buf_i[q]
                out_d[m] = B.buf_d[q]
                out_w[m] = B.buf_v[q]
                m += 1
        return m
    u = 0
    for q in range(n):
        k = B.buf_d[q] * n_total + B.buf_i[q]
        if mark[k] < 0:
            mark[k] = u
            out_j[u] = B.buf_i[q]
            out_d[u] = B.buf_d[q]
            accum[u] = 0.0
            u += 1
        accum[mark[k]] += B.buf_v[q]
    m = 0
    for q in range(u):
        mark[out_d[q] * n_total + out_j[q]] = -1
        if accum[q] != 0.0:
            out_j[m] = out_j[q]
            out_d[m] = out_d[q]
            out_w[m] = accum[q]
            m += 1
    return m


@njit(cache=True)
def _scratch(size, cells):
    z = np.zeros
    return Scratch(z(size, np.int64), z(size), z(size, np.int64), z(size, np.int64), z(size), z(size, np.int64),
                   z(size, np.int64), z(size), z(size, np.int64), np.full(cells, -1, dtype=np.int64), z(size),
                   z(size, np.int64), z(size, np.int64), z(size))


@njit(cache=True)
def _group_of(P, s):
    return np.searchsorted(P.group_off, s, side="right") - 1


@njit(cache=True)
def materialize(P, n_groups, n_slots, n_total, limit):
    """Every effective synapse as source-major arrays (ptr, target, delay, weight); -1 in ptr[0]
    when there are more than ``limit``."""
    B = _scratch(P.buf_size, n_slots * n_total)
    ptr = np.zeros(n_total + 1, dtype=np.int64)
    size = 1024
    tj = np.zeros(size, dtype=np.int64)
    td = np.zeros(size, dtype=np.int64)
    tw = np.zeros(size)
    nnz = 0
    for grp in range(n_groups):
        a, b = P.group_off[grp], P.group_off[grp + 1]
        for i in range(b - a):
            m = source_synapses(P, B, grp, i, n_slots, n_total)
            if nnz + m > limit:
                ptr[0] = -1
                return ptr, tj[:0], td[:0], tw[:0]
            while nnz + m > size:
                size *= 2
                nj = np.zeros(size, dtype=np.int64)
                nd = np.zeros(size, dtype=np.int64)
                nw = np.zeros(size)
                nj[:nnz] = tj[:nnz]
                nd[:nnz] = td[:nnz]
                nw[:nnz] = tw[:nnz]
                tj, td, tw = nj, nd, nw
            tj[nnz:nnz + m] = B.out_j[:m]
            td[nnz:nnz + m] = B.out_d[:m]
            tw[nnz:nnz + m] = B.out_w[:m]
            nnz += m
            ptr[a + i + 1] = nnz
    return ptr, tj[:nnz], td[:nnz], tw[:nnz]


@njit(cache=True, inline="always")
def _packets_of(P, B, s, n_slots, n_total, core_of, n_cores, slot, core_seen, sc, sd, sn, at, fill):
    """Enumerate source ``s`` and count its packets (distinct target core and delay). With ``fill``,
    write them from ``at`` into ``sc``/``sd``/``sn``. Returns (packets, distinct cores)."""
    grp = _group_of(P, s)
    m = source_synapses(P, B, grp, s - P.group_off[grp], n_slots, n_total)
    u = 0
    fan = 0
    for q in range(m):
        c = core_of[B.out_j[q]]
        k = B.out_d[q] * n_cores + c
        if slot[k] < 0:
            slot[k] = u
            if fill:
                sc[at + u] = c
                sd[at + u] = B.out_d[q]
                sn[at + u] = 0
            u += 1
            if core_seen[c] != s:
                core_seen[c] = s
                fan += 1
        if fill:
            sn[at + slot[k]] += 1
    for q in range(m):  # clean the slots for the next source
        slot[B.out_d[q] * n_cores + core_of[B.out_j[q]]] = -1
    return u, fan


@njit(cache=True, parallel=True)
def packet_table(P, n_groups, n_slots, n_total, core_of, n_cores, n_chunks, limit):
    """Per source, its packets: one per (target core, delay), with the number of synapses of the
    source on that core. Returns (seg_ptr [n_total+1], seg_core, seg_delay, seg_nsyn, fanout
    cores [n_total]). Two parallel passes over interleaved chunks of sources: count, then fill; more
    than ``limit`` packets: ``ptr[0] = -1`` and nothing filled."""
    cells = n_slots * n_total
    count = np.zeros(n_total, dtype=np.int64)
    fan = np.zeros(n_total, dtype=np.int64)
    empty = np.zeros(1, dtype=np.int64)
    for k in prange(n_chunks):
        B = _scratch(P.buf_size, cells)
        slot = np.full(n_cores * n_slots, -1, dtype=np.int64)
        core_seen = np.full(n_cores, -1, dtype=np.int64)
        for s in range(k, n_total, n_chunks):
            u, f = _packets_of(P, B, s, n_slots, n_total, core_of, n_cores, slot, core_seen, empty, empty, empty,
                               0, False)
            count[s] = u
            fan[s] = f
    ptr = np.zeros(n_total + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(count)
    ns = ptr[n_total]
    if ns > limit:  # refuse before allocating: the caller names the size
        ptr[0] = -1
        z = np.zeros(0, dtype=np.int64)
        return ptr, z, z, z, fan
    sc = np.zeros(ns, dtype=np.int64)
    sd = np.zeros(ns, dtype=np.int64)
    sn = np.zeros(ns, dtype=np.int64)
    for k in prange(n_chunks):
        B = _scratch(P.buf_size, cells)
        slot = np.full(n_cores * n_slots, -1, dtype=np.int64)
        core_seen = np.full(n_cores, -1, dtype=np.int64)
        for s in range(k, n_total, n_chunks):
            if count[s]:
                _packets_of(P, B, s, n_slots, n_total, core_of, n_cores, slot, core_seen, sc, sd, sn, ptr[s], True)
    return ptr, sc, sd, sn, fan


@njit(cache=True, parallel=True)
def fan_in(P, n_groups, n_slots, n_total, lo, hi, slice_of, n_slices, n_chunks):
    """For target neurons ``lo..hi-1`` cut into slices (``slice_of[n - lo]``): per slice, the
    distinct sources with a synapse into it (axons) and the synapses (nnz); per neuron, its
    distinct sources. Returns (axons [n_slices], nnz [n_slices], neuron_axons [hi - lo]).
    Parallel over interleaved chunks of sources; each chunk's counts are exact, so they add."""
    cells = n_slots * n_total
    feeds = np.zeros(n_groups, dtype=np.bool_)
    for grp in range(n_groups):
        for r in range(P.route_ptr[grp], P.route_ptr[grp + 1]):
            if P.route_tgt_off[r] < hi and P.route_tgt_off[r] + P.route_tgt_size[r] > lo:
                feeds[grp] = True
    axons = np.zeros((n_chunks, n_slices), dtype=np.int64)
    nnz = np.zeros((n_chunks, n_slices), dtype=np.int64)
    neuron_axons = np.zeros((n_chunks, hi - lo), dtype=np.int64)
    for k in prange(n_chunks):
        B = _scratch(P.buf_size, cells)
        slice_seen = np.full(n_slices, -1, dtype=np.int64)
        neuron_seen = np.full(hi - lo, -1, dtype=np.int64)
        for s in range(k, n_total, n_chunks):
            grp = _group_of(P, s)
            if not feeds[grp]:
                continue
            m = source_synapses(P, B, grp, s - P.group_off[grp], n_slots, n_total)
            for q in range(m):
                j = B.out_j[q]
                if j < lo or j >= hi:
                    continue
                c = slice_of[j - lo]
                nnz[k, c] += 1
                if slice_seen[c] != s:
                    slice_seen[c] = s
                    axons[k, c] += 1
                if neuron_seen[j - lo] != s:
                    neuron_seen[j - lo] = s
                    neuron_axons[k, j - lo] += 1
    return axons.sum(axis=0), nnz.sum(axis=0), neuron_axons.sum(axis=0)
