"""Partition spiking populations into cores and place the cores on the chip's mesh.

**Partition.** Each spiking population is cut into contiguous slices, one per core, as large as
the chip allows: a slice must respect ``neurons_per_core``, ``axons_per_core`` (distinct sources
with a synapse into the slice) and ``synapse_memory_bytes`` (sparse storage: one weight plus a
target index per synapse; dense storage: a full row of ``weight_bits`` per axon and neuron).
Cores hold one population each. A source may reach at most ``max_fanout_cores`` cores. When a
limit cannot be met even with one neuron per core, or the cores exceed the board, a
:class:`~neurosim.errors.CapacityError` says which limit, and by how much.

**Placement.** Routers form a ``mesh_x x mesh_y`` grid per chip (``cores_per_tile`` cores share a
router); chips tile a ``board_x x board_y`` board, so every core has a global grid position.
Cores are laid along a serpentine path in population order, then improved by pairwise swaps
that reduce the hop-weighted synapse traffic between cores (core-to-core synapse counts from the
per-source packet table), with a fixed iteration budget: deterministic.

**Routes.** Packets use dimension-ordered XY routing on the global grid; input spikes enter at
the router at grid position (0, 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from neurosim.targets.neuromorphic.model.compile import CompiledNetwork
from neurosim.errors import CapacityError


@dataclass(frozen=True)
class Mapping:
    """Where every neuron lives and where every core sits."""

    chip: object  # neurosim.targets.neuromorphic.config.ChipPreset
    core_population: tuple[str, ...]
    core_range: np.ndarray  # int64 [n_cores, 2]: global neuron index range [start, stop)
    core_xy: np.ndarray  # int64 [n_cores, 2]: global grid position of the core's router
    core_chip: np.ndarray  # int64 [n_cores]
    core_tile: np.ndarray  # int64 [n_cores]: router index (cores sharing a router share a tile)
    n_chips: int
    grid: tuple[int, int]  # global grid size (x, y)
    packets: tuple | None = None  # per-source packet table (simulate.packet_table) + its core pairs (core_pairs)

    @property
    def n_cores(self) -> int:
        return len(self.core_population)

    def core_of(self, n_total: int, n_inputs: int) -> np.ndarray:
        return core_index(self.core_range, n_total)


def core_index(core_range: np.ndarray, n_total: int) -> np.ndarray:
    """The core of every global source index (-1 for inputs)."""
    out = np.full(n_total, -1, dtype=np.int64)
    for c, (a, b) in enumerate(core_range):
        out[a:b] = c
    return out


def _index_bits(chip) -> int:
    return max(1, math.ceil(math.log2(max(2, chip.neurons_per_core))))


def _memory(chip, axons, neurons, nnz):
    """Synapse memory of a slice: dense rows store every (axon, neuron) weight; sparse rows one weight
    plus a target index per synapse."""
    if chip.synapse_storage == "dense":
        return -(-axons * neurons * chip.weight_bits // 8)
    return -(-nnz * (chip.weight_bits + _index_bits(chip)) // 8)


def _fan_in(net: CompiledNetwork, a: int, b: int, bounds: np.ndarray):
    from neurosim.targets.neuromorphic.model.projections import fan_in, n_chunks

    slice_of = np.repeat(np.arange(bounds.size - 1, dtype=np.int64), np.diff(bounds))
    return fan_in(net.program, net.n_groups, net.n_slots, net.n_total, a, b, slice_of, bounds.size - 1, n_chunks())


def _too_big(name, chip, limit, need, have, what):
    return CapacityError(
        f"population {name!r} does not fit chip {chip.name!r}: a single neuron needs {need} {what} "
        f"but {limit} is {have} (over by {need - have}); reduce the fan-in, sparsify, or pick a larger chip")


def _fan_in_bounds(net: CompiledNetwork) -> list[int]:
    """Per population, an upper bound of one neuron's fan-in from the ops alone (a conv tap reads
    C/g x k_h x k_w inputs, a pool k_h x k_w, a CSR row its longest target row), summed over routes."""
    from neurosim.targets.neuromorphic.model import projections as pj

    P = net.program
    per_op = []
    for op in range(P.op_kind.size):
        g = P.op_geom[op]
        kind = P.op_kind[op]
        if kind == pj.OP_CONV:
            per_op.append(int(g[pj.G_C] // g[pj.G_GROUPS] * g[pj.G_KH] * g[pj.G_KW]))
        elif kind == pj.OP_POOL:
            per_op.append(int(g[pj.G_KH] * g[pj.G_KW]))
        elif kind == pj.OP_CSR:
            n_in, n_out = int(g[pj.G_IN]), int(g[pj.G_OUT])
            nnz = int(P.ints[P.op_a[op] + n_in])
            rows = P.ints[P.op_b[op]:P.op_b[op] + nnz]
            per_op.append(int(np.bincount(rows, minlength=n_out).max()) if nnz else 0)
        else:
            per_op.append(1)
    out = [0] * len(net.populations)
    for r in range(P.route_tgt_off.size):
        p = int(np.searchsorted(net.pop_offset, P.route_tgt_off[r], side="right") - 1)
        path = P.path_ops[P.path_ptr[P.route_path[r]]:P.path_ptr[P.route_path[r] + 1]]
        out[p] += int(np.prod([per_op[o] for o in path]))
    return out


def _whole_fan_in(net: CompiledNetwork, chip, p: int, name: str) -> int:
    """The synapses into population ``p``; raises when one of its neurons alone exceeds a per-core limit."""
    a, b = int(net.pop_offset[p]), int(net.pop_offset[p + 1])
    _, nnz_all, neuron_axons = _fan_in(net, a, b, np.array([a, b], dtype=np.int64))
    worst = int(neuron_axons.max()) if b > a else 0
    if worst > chip.axons_per_core:
        raise _too_big(name, chip, "axons_per_core", worst, chip.axons_per_core, "axons")
    if chip.synapse_memory_bytes is not None:
        single = _memory(chip, worst, 1, worst)
        if single > chip.synapse_memory_bytes:
            raise _too_big(name, chip, "synapse_memory_bytes", single, chip.synapse_memory_bytes,
                           "bytes of synapse memory")
    return int(nnz_all[0])


def _slices(net: CompiledNetwork, chip, p: int, name: str, nnz_total: int) -> np.ndarray:
    """The slice bounds of population ``p``: the fewest equal slices under every per-core limit.

    Synapses are counted from the compact projections (one enumeration of the population's
    fan-in per candidate cut); the first candidate is the largest lower bound the neuron count
    and the total synapse memory (``nnz_total`` synapses) allow."""
    a, b = int(net.pop_offset[p]), int(net.pop_offset[p + 1])
    size = b - a
    n_slices = max(1, math.ceil(size / chip.neurons_per_core))
    if chip.synapse_memory_bytes is not None and chip.synapse_storage == "sparse":
        n_slices = max(n_slices, math.ceil(_memory(chip, 0, 0, nnz_total) / chip.synapse_memory_bytes))
    n_slices = min(max(1, size), n_slices)
    # grow by the worst overshoot (axons or memory per slice over the limit), then bisect between the
    # last cut that failed and the first that fits: a few enumerations instead of one per 25 % step
    fits: dict[int, bool] = {n_slices - 1: False}  # fewer slices break a bound above
    best = None
    while True:
        bounds = np.linspace(a, b, n_slices + 1).round().astype(np.int64)
        axons, nnz, _ = _fan_in(net, a, b, bounds)
        neurons = np.diff(bounds)
        over = float((axons / chip.axons_per_core).max())
        if chip.synapse_memory_bytes is not None:
            mem = np.array([_memory(chip, int(x), int(n), int(z)) for x, n, z in zip(axons, neurons, nnz)])
            over = max(over, float((mem / chip.synapse_memory_bytes).max()))
        fits[n_slices] = over <= 1.0
        if fits[n_slices]:
            best = bounds if best is None or n_slices < best.size - 1 else best
        lower = max((n for n, ok in fits.items() if not ok), default=0)
        upper = min((n for n, ok in fits.items() if ok), default=None)
        if upper is not None:
            if upper - lower <= max(1, upper // 20):  # within 5 % of the fewest cores: done
                return best
            n_slices = (lower + upper) // 2
        elif n_slices >= size:  # pragma: no cover - excluded by the single-neuron checks above
            raise _too_big(name, chip, "axons_per_core", int(axons.max()), chip.axons_per_core, "axons")
        else:
            n_slices = min(size, max(n_slices + 1, math.ceil(n_slices * over * 1.05)))


def partition(net: CompiledNetwork, chip, *, swap_iterations: int = 2000) -> Mapping:
    """Cut ``net``'s populations into cores under ``chip``'s limits and place them (see module doc)."""
    from neurosim.targets.neuromorphic.model.simulate import packet_table

    populations: list[str] = []
    ranges: list[tuple[int, int]] = []
    # every population's single-neuron limits first, the widest fan-in first: a model that cannot
    # fit fails after one population's enumeration, not after cutting the others
    bound = _fan_in_bounds(net)
    totals = [0] * len(net.populations)
    for p in sorted(range(len(net.populations)), key=lambda q: -bound[q]):
        totals[p] = _whole_fan_in(net, chip, p, net.populations[p])
    for p, name in enumerate(net.populations):
        bounds = _slices(net, chip, p, name, totals[p])
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            populations.append(name)
            ranges.append((int(lo), int(hi)))
    n_cores = len(ranges)
    n_chips = math.ceil(n_cores / chip.cores_per_chip) if n_cores else 1
    if n_chips > chip.max_chips:
        raise CapacityError(
            f"the model needs {n_cores} cores = {n_chips} chips of {chip.cores_per_chip} cores, but a {chip.name!r} "
            f"board holds {chip.max_chips} chip(s) (over by {n_chips - chip.max_chips}); shrink the model or use a "
            f"larger board (--chips {n_chips})"
        )
    core_range = np.array(ranges, dtype=np.int64).reshape(-1, 2)
    packets = packet_table(net, core_range)
    _check_fanout(packets[4], chip)
    return _place(net, chip, tuple(populations), core_range, n_chips, swap_iterations, packets)


def _check_fanout(fan: np.ndarray, chip) -> None:
    if chip.max_fanout_cores is None or not fan.size:
        return
    worst = int(fan.argmax())
    if fan[worst] > chip.max_fanout_cores:
        raise CapacityError(
            f"source neuron {worst} reaches {int(fan[worst])} cores but chip {chip.name!r} allows a fan-out of "
            f"{chip.max_fanout_cores} cores (over by {int(fan[worst]) - chip.max_fanout_cores}); "
            f"reduce the fan-out or pick a chip with multicast"
        )


def _router_grid(chip) -> tuple[int, int]:
    routers = math.ceil(chip.cores_per_chip / max(1, chip.cores_per_tile))
    mx, my = chip.mesh_x, chip.mesh_y
    if mx * my < routers:  # the preset gives a core grid: fold tiles into it
        my = math.ceil(routers / mx)
    return mx, my


def _serpentine(mx: int, my: int) -> list[tuple[int, int]]:
    path = []
    for y in range(my):
        xs = range(mx) if y % 2 == 0 else range(mx - 1, -1, -1)
        path.extend((x, y) for x in xs)
    return path


def _place(net, chip, populations, core_range, n_chips, swap_iterations, packets) -> Mapping:
    n_cores = len(populations)
    mx, my = _router_grid(chip)
    per_tile = max(1, chip.cores_per_tile)
    slots = []  # (chip, tile, global x, global y) in serpentine order, chip by chip
    for k in range(n_chips):
        cx, cy = k % chip.board_x, k // chip.board_x
        for tile, (x, y) in enumerate(_serpentine(mx, my)):
            for _ in range(per_tile):
                if len(slots) < (k + 1) * chip.cores_per_chip:
                    slots.append((k, k * mx * my + tile, cx * mx + x, cy * my + y))
    slots = slots[:max(n_cores, 0)] if len(slots) >= n_cores else slots
    # traffic between cores: synapse counts (a static proxy of spike traffic), from the packet table
    core_of = core_index(core_range, net.n_total)
    seg_ptr, seg_core, _, seg_nsyn, _ = packets
    pair_of_seg, pair_src, pair_dst, pair_nsyn = core_pairs(seg_ptr, seg_core, seg_nsyn, core_of, max(1, n_cores))
    packets = (*packets, pair_of_seg, pair_src, pair_dst)
    mesh_pair = (pair_src >= 0) & (pair_src != pair_dst)
    u, v, w = pair_src[mesh_pair], pair_dst[mesh_pair], pair_nsyn[mesh_pair]
    ends = np.concatenate([u, v])  # both directions: a core's cost sums over its partners
    order = np.argsort(ends, kind="stable")
    nbr = np.concatenate([v, u])[order]
    nbr_w = np.concatenate([w, w])[order]
    nbr_ptr = np.zeros(n_cores + 1, dtype=np.int64)
    np.add.at(nbr_ptr, ends + 1, 1)
    nbr_ptr = np.cumsum(nbr_ptr)
    pos = np.array([[s[2], s[3]] for s in slots[:n_cores]], dtype=np.int64).reshape(-1, 2)
    chip_of_slot = np.array([s[0] for s in slots[:n_cores]], dtype=np.int64)
    assign = _swap(pos, chip_of_slot, nbr_ptr, nbr, nbr_w, n_cores, swap_iterations)
    core_xy = pos[assign] if n_cores else np.zeros((0, 2), dtype=np.int64)
    core_chip = np.array([slots[s][0] for s in assign], dtype=np.int64)
    core_tile = np.array([slots[s][1] for s in assign], dtype=np.int64)
    grid = (chip.board_x * mx, max(1, math.ceil(n_chips / chip.board_x)) * my)
    return Mapping(chip=chip, core_population=populations, core_range=core_range, core_xy=core_xy,
                   core_chip=core_chip, core_tile=core_tile, n_chips=n_chips, grid=grid, packets=packets)


@njit(cache=True)
def core_pairs(seg_ptr, seg_core, seg_nsyn, core_of, n_cores):
    """The (source core, target core) pairs of a packet table -- source core -1 for the inputs --
    without sorting: sources of one core are contiguous. Returns (pair of every packet, pair source
    core, pair target core, synapses per pair)."""
    n_src = seg_ptr.shape[0] - 1
    pair_of_seg = np.zeros(seg_core.shape[0], dtype=np.int64)
    stamp = np.full(n_cores, -1, dtype=np.int64)
    cap = 1024
    p_src = np.zeros(cap, dtype=np.int64)
    p_dst = np.zeros(cap, dtype=np.int64)
    p_n = np.zeros(cap, dtype=np.int64)
    n_pairs = 0
    block = -2
    for s in range(n_src):
        sc = core_of[s]
        if sc != block:  # a new source core: forget the previous core's pairs
            block = sc
            stamp[:] = -1
        for g in range(seg_ptr[s], seg_ptr[s + 1]):
            d = seg_core[g]
            if stamp[d] < 0:
                if n_pairs == cap:
                    cap *= 2
                    a = np.zeros(cap, dtype=np.int64)
                    b = np.zeros(cap, dtype=np.int64)
                    c = np.zeros(cap, dtype=np.int64)
                    a[:n_pairs] = p_src[:n_pairs]
                    b[:n_pairs] = p_dst[:n_pairs]
                    c[:n_pairs] = p_n[:n_pairs]
                    p_src, p_dst, p_n = a, b, c
                stamp[d] = n_pairs
                p_src[n_pairs] = sc
                p_dst[n_pairs] = d
                n_pairs += 1
            pair_of_seg[g] = stamp[d]
            p_n[stamp[d]] += seg_nsyn[g]
    return pair_of_seg, p_src[:n_pairs], p_dst[:n_pairs], p_n[:n_pairs]


@njit(cache=True)
def _swap(pos, chip_of_slot, nbr_ptr, nbr, nbr_w, n_cores, swap_iterations):
    """Pairwise swaps of cores (within one chip: a chip's cores share its limits) that lower the
    hop-weighted synapse traffic, in a fixed order with a fixed budget: deterministic."""
    assign = np.arange(n_cores)  # core -> slot

    def cost_of(core, slot):
        x, y = pos[slot, 0], pos[slot, 1]
        total = 0.0
        for e in range(nbr_ptr[core], nbr_ptr[core + 1]):
            o = assign[nbr[e]]
            total += nbr_w[e] * (abs(x - pos[o, 0]) + abs(y - pos[o, 1]))
        return total

    it = 0
    improved = True
    while improved and it < swap_iterations and n_cores > 2:
        improved = False
        for a in range(n_cores):
            for b in range(a + 1, n_cores):
                it += 1
                if it >= swap_iterations:
                    break
                sa, sb = assign[a], assign[b]
                if chip_of_slot[sa] != chip_of_slot[sb]:
                    continue
                before = cost_of(a, sa) + cost_of(b, sb)
                assign[a], assign[b] = sb, sa
                after = cost_of(a, sb) + cost_of(b, sa)
                if after + 1e-9 < before:
                    improved = True
                else:
                    assign[a], assign[b] = sa, sb
            if it >= swap_iterations:
                break
    return assign


def xy_route(a: tuple[int, int], b: tuple[int, int]) -> list[tuple[int, int, str]]:
    """Links of the dimension-ordered route a -> b: (x, y, direction) of each hop's start router."""
    x, y = a
    links = []
    while x != b[0]:
        d = 1 if b[0] > x else -1
        links.append((x, y, "E" if d > 0 else "W"))
        x += d
    while y != b[1]:
        d = 1 if b[1] > y else -1
        links.append((x, y, "N" if d > 0 else "S"))
        y += d
    return links
