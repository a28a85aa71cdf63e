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
that reduce the hop-weighted synapse traffic between cores (a networkx graph of core-to-core
synapse counts), with a fixed iteration budget: deterministic.

**Routes.** Packets use dimension-ordered XY routing on the global grid; input spikes enter at
the router at grid position (0, 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx
import numpy as np

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


def _incoming_by_target(net: CompiledNetwork):
    syn = net.synapses
    src = np.repeat(np.arange(net.n_total), np.diff(syn.ptr))
    order = np.argsort(syn.target, kind="stable")
    tgt_sorted = syn.target[order]
    src_sorted = src[order]
    return tgt_sorted, src_sorted


def _slice_load(a: int, b: int, tgt_sorted, src_sorted, chip) -> tuple[int, int, int]:
    lo = np.searchsorted(tgt_sorted, a)
    hi = np.searchsorted(tgt_sorted, b)
    axons = int(np.unique(src_sorted[lo:hi]).size)
    nnz = int(hi - lo)
    if chip.synapse_storage == "dense":
        mem = math.ceil(axons * (b - a) * chip.weight_bits / 8)
    else:
        index_bits = max(1, math.ceil(math.log2(max(2, chip.neurons_per_core))))
        mem = math.ceil(nnz * (chip.weight_bits + index_bits) / 8)
    return axons, mem, nnz


def partition(net: CompiledNetwork, chip, *, swap_iterations: int = 2000) -> Mapping:
    """Cut ``net``'s populations into cores under ``chip``'s limits and place them (see module doc)."""
    tgt_sorted, src_sorted = _incoming_by_target(net)
    populations: list[str] = []
    ranges: list[tuple[int, int]] = []
    for p, name in enumerate(net.populations):
        a, b = int(net.pop_offset[p]), int(net.pop_offset[p + 1])
        size = b - a
        n_slices = math.ceil(size / chip.neurons_per_core)
        while True:
            bounds = np.linspace(a, b, n_slices + 1).round().astype(int)
            worst = None
            for lo, hi in zip(bounds[:-1], bounds[1:]):
                axons, mem, _ = _slice_load(int(lo), int(hi), tgt_sorted, src_sorted, chip)
                if axons > chip.axons_per_core:
                    worst = ("axons_per_core", axons, chip.axons_per_core)
                    break
                if chip.synapse_memory_bytes is not None and mem > chip.synapse_memory_bytes:
                    worst = ("synapse_memory_bytes", mem, chip.synapse_memory_bytes)
                    break
            if worst is None:
                break
            if n_slices >= size:
                limit, need, have = worst
                what = "axons" if limit == "axons_per_core" else "bytes of synapse memory"
                raise CapacityError(
                    f"population {name!r} does not fit chip {chip.name!r}: a single neuron needs {need} {what} "
                    f"but {limit} is {have} (over by {need - have}); reduce the fan-in, sparsify, or pick a "
                    f"larger chip"
                )
            n_slices = min(size, max(n_slices + 1, math.ceil(n_slices * 1.25)))
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            populations.append(name)
            ranges.append((int(lo), int(hi)))
    n_cores = len(ranges)
    n_chips = math.ceil(n_cores / chip.cores_per_chip) if n_cores else 1
    if n_chips > chip.max_chips:
        raise CapacityError(
            f"the model needs {n_cores} cores = {n_chips} chips of {chip.cores_per_chip} cores, but a {chip.name!r} "
            f"board holds {chip.max_chips} chip(s) (over by {n_chips - chip.max_chips}); shrink the model or use a "
            f"larger board"
        )
    core_range = np.array(ranges, dtype=np.int64).reshape(-1, 2)
    _check_fanout(net, core_range, chip)
    return _place(net, chip, tuple(populations), core_range, n_chips, swap_iterations)


def _check_fanout(net: CompiledNetwork, core_range: np.ndarray, chip) -> None:
    if chip.max_fanout_cores is None or not core_range.size:
        return
    core_of = core_index(core_range, net.n_total)
    syn = net.synapses
    src = np.repeat(np.arange(net.n_total), np.diff(syn.ptr))
    pairs = np.unique(np.stack([src, core_of[syn.target]]), axis=1)
    fan = np.bincount(pairs[0], minlength=net.n_total)
    worst = int(fan.argmax()) if fan.size else 0
    if fan.size and fan[worst] > chip.max_fanout_cores:
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


def _place(net, chip, populations, core_range, n_chips, swap_iterations) -> Mapping:
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
    # traffic between cores: synapse counts (a static proxy of spike traffic)
    core_of = core_index(core_range, net.n_total)
    syn = net.synapses
    src = np.repeat(np.arange(net.n_total), np.diff(syn.ptr))
    src_core = core_of[src]
    dst_core = core_of[syn.target]
    g = nx.Graph()
    g.add_nodes_from(range(n_cores))
    keep = src_core >= 0
    if np.any(keep):
        pairs, counts = np.unique(np.stack([src_core[keep], dst_core[keep]]), axis=1, return_counts=True)
        for (a, b), w in zip(pairs.T, counts):
            if a != b:
                prev = g.get_edge_data(int(a), int(b), {"weight": 0})["weight"]
                g.add_edge(int(a), int(b), weight=prev + int(w))
    pos = np.array([[s[2], s[3]] for s in slots[:n_cores]], dtype=np.int64).reshape(-1, 2)
    assign = np.arange(n_cores)  # core -> slot

    def cost_of(core: int, slot: int) -> float:
        x, y = pos[slot]
        total = 0.0
        for nb, data in g[core].items():
            ox, oy = pos[assign[nb]]
            total += data["weight"] * (abs(x - ox) + abs(y - oy))
        return total

    # only cores of one chip may swap (a chip's cores share its limits); deterministic sweep
    it = 0
    improved = True
    chip_of_slot = np.array([s[0] for s in slots[:n_cores]], dtype=np.int64)
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
    core_xy = pos[assign] if n_cores else np.zeros((0, 2), dtype=np.int64)
    core_chip = np.array([slots[s][0] for s in assign], dtype=np.int64)
    core_tile = np.array([slots[s][1] for s in assign], dtype=np.int64)
    grid = (chip.board_x * mx, max(1, math.ceil(n_chips / chip.board_x)) * my)
    return Mapping(chip=chip, core_population=populations, core_range=core_range, core_xy=core_xy,
                   core_chip=core_chip, core_tile=core_tile, n_chips=n_chips, grid=grid)


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
