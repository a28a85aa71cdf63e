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
class Violation:
    """A capacity limit a what-if mapping (``allow_overcapacity=True``) exceeds: physical ``core``
    (-1: the board), the ``resource`` (``neurons``, ``axons``, ``synapse_memory_bytes``,
    ``neurons_per_core`` (the requested cap above the chip's), ``chips``), what it needs and the limit."""

    core: int
    resource: str
    needed: int
    limit: int


@dataclass(frozen=True)
class Mapping:
    """Where every neuron lives and where every core sits.

    The per-core arrays are indexed by **virtual core**: a contiguous neuron range of one
    population (or, after the neuron cores, a splitter core's relay neurons). ``core_host`` gives
    the physical core of every virtual core: packed virtual cores share one physical core (its
    router, tile and capacity); ``None`` means one physical core per virtual core. Splitter
    neurons (``relay_source``) have global indices ``n_total, n_total + 1, ...``; each copies the
    spikes of its source (see :mod:`neurosim.targets.neuromorphic.splitters`)."""

    chip: object  # neurosim.targets.neuromorphic.config.ChipPreset
    core_population: tuple[str, ...]
    core_range: np.ndarray  # int64 [n_cores, 2]: global neuron index range [start, stop)
    core_xy: np.ndarray  # int64 [n_cores, 2]: global grid position of the core's router
    core_chip: np.ndarray  # int64 [n_cores]
    core_tile: np.ndarray  # int64 [n_cores]: router index (cores sharing a router share a tile)
    n_chips: int
    grid: tuple[int, int]  # global grid size (x, y)
    packets: tuple | None = None  # per-source packet table (simulate.packet_table) + its core pairs (core_pairs)
    core_host: np.ndarray | None = None  # int64 [n_cores]: physical core of every virtual core (None: identity)
    violations: tuple[Violation, ...] = ()  # limits a what-if mapping exceeds (allow_overcapacity)
    relay_source: np.ndarray | None = None  # int64 [n_relays]: the source every splitter neuron copies
    n_neuron_cores: int | None = None  # virtual cores holding population neurons (splitter cores follow)
    extra_steps: int = 0  # timesteps the splitter levels add to an inference's latency (not to its dynamics)
    neurons_per_core: int | None = None  # the per-core neuron cap the mapping was made under

    @property
    def n_cores(self) -> int:
        return len(self.core_population)

    @property
    def host(self) -> np.ndarray:
        """The physical core of every virtual core."""
        if self.core_host is None:
            return np.arange(self.n_cores, dtype=np.int64)
        return np.asarray(self.core_host, dtype=np.int64)

    @property
    def n_physical_cores(self) -> int:
        return int(self.host.max()) + 1 if self.n_cores else 0

    @property
    def n_relays(self) -> int:
        return 0 if self.relay_source is None else int(np.asarray(self.relay_source).size)

    @property
    def core_kind(self) -> tuple[str, ...]:
        """``"neurons"`` or ``"splitter"`` per virtual core."""
        k = self.n_cores if self.n_neuron_cores is None else self.n_neuron_cores
        return ("neurons",) * k + ("splitter",) * (self.n_cores - k)

    def per_physical(self, counts: np.ndarray) -> np.ndarray:
        """``[..., n_cores]`` per virtual core -> ``[..., n_physical_cores]`` summed per physical core."""
        counts = np.asarray(counts)
        out = np.zeros(counts.shape[:-1] + (self.n_physical_cores,), dtype=counts.dtype)
        np.add.at(np.moveaxis(out, -1, 0), self.host, np.moveaxis(counts, -1, 0))
        return out

    def core_of(self, n_total: int, n_inputs: int) -> np.ndarray:
        """The virtual core of every global source index, splitter neurons included (-1: inputs)."""
        return core_index(self.core_range, n_total + self.n_relays)


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
        f"but {limit} is {have} (over by {need - have}), a physical limit of the chip's cores that no mapping "
        f"removes; reduce the fan-in, sparsify, pick another chip, or pass --allow-overcapacity for a what-if")


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


def _whole_fan_in(net: CompiledNetwork, chip, p: int, name: str, whatif: list | None = None) -> int:
    """The synapses into population ``p``; raises when one of its neurons alone exceeds a per-core
    limit (with ``whatif``, a list, the breach is appended there instead: ``(resource, needed, limit)``)."""
    a, b = int(net.pop_offset[p]), int(net.pop_offset[p + 1])
    _, nnz_all, neuron_axons = _fan_in(net, a, b, np.array([a, b], dtype=np.int64))
    worst = int(neuron_axons.max()) if b > a else 0
    breaches = []
    if worst > chip.axons_per_core:
        breaches.append(("axons_per_core", worst, chip.axons_per_core, "axons"))
    if chip.synapse_memory_bytes is not None:
        single = _memory(chip, worst, 1, worst)
        if single > chip.synapse_memory_bytes:
            breaches.append(("synapse_memory_bytes", single, chip.synapse_memory_bytes, "bytes of synapse memory"))
    if breaches and whatif is None:
        limit, need, have, what = breaches[0]
        raise _too_big(name, chip, limit, need, have, what)
    if breaches:
        whatif.append(p)
    return int(nnz_all[0])


def _slices(net: CompiledNetwork, chip, p: int, name: str, nnz_total: int, npc: int | None = None) -> np.ndarray:
    """The slice bounds of population ``p``: the fewest equal slices under every per-core limit
    (``npc``: the neuron cap, default the chip's).

    Synapses are counted from the compact projections (one enumeration of the population's
    fan-in per candidate cut); the first candidate is the largest lower bound the neuron count
    and the total synapse memory (``nnz_total`` synapses) allow."""
    npc = npc or chip.neurons_per_core
    a, b = int(net.pop_offset[p]), int(net.pop_offset[p + 1])
    size = b - a
    n_slices = max(1, math.ceil(size / npc))
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


def partition(net: CompiledNetwork, chip, *, neurons_per_core: int | None = None, mapping=None,
              allow_overcapacity: bool = False, pack: str | bool = "auto", splitters: bool = True,
              swap_iterations: int = 2000) -> Mapping:
    """Cut ``net``'s populations into cores under ``chip``'s limits and place them (see module doc).

    ``neurons_per_core``
        cap the neurons per core below the chip's (``--neurons-per-core``).
    ``mapping``
        a mapping file (path, or a parsed :class:`~neurosim.targets.neuromorphic.mapfile.MapFile`)
        that fixes the slices and their physical cores instead (docs/mapping.md).
    ``allow_overcapacity``
        a what-if: a mapping that breaks a capacity limit is kept and every breach is listed in
        ``Mapping.violations`` instead of raising :class:`~neurosim.errors.CapacityError`.
    ``pack``
        ``"auto"`` (default) packs several virtual cores into one physical core
        (:mod:`~neurosim.targets.neuromorphic.packing`) only when the unpacked mapping exceeds the
        board; ``True`` always packs; ``False`` never.
    ``splitters``
        relay fan-out beyond ``max_fanout_cores`` through splitter neurons
        (:mod:`~neurosim.targets.neuromorphic.splitters`); ``False`` makes it an error.
    """
    from neurosim.targets.neuromorphic import packing
    from neurosim.targets.neuromorphic.model.simulate import packet_table

    if pack not in ("auto", True, False):
        raise CapacityError(f"pack must be 'auto', True or False, found {pack!r}")
    violations: list[Violation] = []
    npc = _neuron_cap(chip, neurons_per_core, allow_overcapacity, violations)
    if mapping is None:
        populations, ranges, whatif_pops = _auto_slices(net, chip, npc, allow_overcapacity)
        host = None
    else:
        populations, ranges, host = _file_slices(net, mapping)
        whatif_pops = []
    core_range = np.array(ranges, dtype=np.int64).reshape(-1, 2)
    n_v = len(populations)
    if host is None and not allow_overcapacity:
        # refuse before the packet table when no packing can help (or none is allowed): the fewest
        # cores packing could reach hold npc neurons each
        unpacked = math.ceil(n_v / chip.cores_per_chip) if n_v else 1
        least = math.ceil(math.ceil((net.n_total - net.n_inputs) / npc) / chip.cores_per_chip)
        if unpacked > chip.max_chips and (pack is False or (least > chip.max_chips and n_v > EARLY_REFUSAL_CORES)):
            raise _board_error(chip, n_v, unpacked)
    table = packet_table(net, core_range)
    neurons = np.diff(core_range, axis=1)[:, 0] if n_v else np.zeros(0, dtype=np.int64)
    sources = packing.core_sources(np.asarray(table[0]), np.asarray(table[1]), n_v)
    nnz = packing.core_nnz(np.asarray(table[1]), np.asarray(table[3]), n_v)
    if host is None:
        unpacked_chips = math.ceil(n_v / chip.cores_per_chip) if n_v else 1
        if pack is True or (pack == "auto" and unpacked_chips > chip.max_chips):
            host = packing.pack(chip, npc, neurons, sources, nnz)
        else:
            host = np.arange(n_v, dtype=np.int64)
    # capacity of every physical core: a mapping file's and a what-if's (the automatic cut and the
    # packing respect the limits by construction)
    if mapping is not None or whatif_pops:
        for h, need in enumerate(packing.host_usage(chip, host, neurons, sources, nnz)):
            for resource, needed, limit in packing.over(chip, npc, need):
                if not allow_overcapacity:
                    members = np.flatnonzero(host == h)
                    what = ", ".join(f"{populations[c]!r} [{core_range[c, 0] - net.pop_offset[net.populations.index(populations[c])]}, "
                                     f"{core_range[c, 1] - net.pop_offset[net.populations.index(populations[c])]})" for c in members)
                    raise CapacityError(
                        f"core {h} ({what}) needs {needed} {resource} but chip {chip.name!r} allows {limit} per core "
                        f"(over by {needed - limit}); split or move its slices, or pass --allow-overcapacity for a what-if")
                violations.append(Violation(h, resource, int(needed), int(limit)))
    n_neuron_cores = n_v
    relay = np.zeros(0, dtype=np.int64)
    extra = 0
    if chip.max_fanout_cores is not None:
        if splitters:
            populations, core_range, host, table, relay, extra, _ = split(net, chip, npc, list(populations), core_range,
                                                                           host, table)
        _check_fanout(np.asarray(table[4])[net.n_inputs:], chip, net.n_inputs, host, table)
    n_hosts = int(host.max()) + 1 if host.size else 0
    n_chips = math.ceil(n_hosts / chip.cores_per_chip) if n_hosts else 1
    if n_chips > chip.max_chips:
        if not allow_overcapacity:
            raise _board_error(chip, n_hosts, n_chips)
        violations.append(Violation(-1, "chips", n_chips, int(chip.max_chips)))
    mp = _place(net, chip, tuple(populations), core_range, host, n_chips, swap_iterations, table, n_v + 0)
    import dataclasses

    return dataclasses.replace(
        mp, core_host=None if np.array_equal(host, np.arange(host.size)) else host, violations=tuple(violations),
        relay_source=relay if relay.size else None, n_neuron_cores=n_neuron_cores, extra_steps=int(extra),
        neurons_per_core=npc)


#: above this many virtual cores a model that even perfect packing cannot fit is refused before packing
EARLY_REFUSAL_CORES = 4096


def _board_error(chip, n_cores: int, n_chips: int) -> CapacityError:
    return CapacityError(
        f"the model needs {n_cores} cores = {n_chips} chips of {chip.cores_per_chip} cores, but a {chip.name!r} "
        f"board holds {chip.max_chips} chip(s) (over by {n_chips - chip.max_chips}): it needs {n_chips} chips; "
        f"pass --chips {n_chips} (or --allow-overcapacity for a what-if)")


def split(net, chip, npc, populations, core_range, host, table):
    from neurosim.targets.neuromorphic.splitters import split as _split

    return _split(net, chip, npc, populations, core_range, host, table)


def _neuron_cap(chip, neurons_per_core, allow_overcapacity, violations) -> int:
    """The neurons per core the mapping may use: the chip's, or the cap asked for."""
    if neurons_per_core is None:
        return int(chip.neurons_per_core)
    if not isinstance(neurons_per_core, (int, np.integer)) or isinstance(neurons_per_core, bool) or neurons_per_core < 1:
        raise CapacityError(f"--neurons-per-core must be a positive integer, found {neurons_per_core!r}")
    if neurons_per_core > chip.neurons_per_core:
        if not allow_overcapacity:
            raise CapacityError(
                f"neurons_per_core={neurons_per_core!r} exceeds chip {chip.name!r}'s {chip.neurons_per_core} neurons per "
                f"core (over by {neurons_per_core - chip.neurons_per_core}); pass --neurons-per-core "
                f"{chip.neurons_per_core} or less, or --allow-overcapacity for a what-if")
        violations.append(Violation(-1, "neurons_per_core", int(neurons_per_core), int(chip.neurons_per_core)))
    return int(neurons_per_core)


def _auto_slices(net, chip, npc, allow_overcapacity):
    """Every population cut into the fewest equal slices under the limits. A what-if cuts a
    population whose single neurons break a limit by the neuron cap alone (returned in the third item)."""
    populations: list[str] = []
    ranges: list[tuple[int, int]] = []
    # every population's single-neuron limits first, the widest fan-in first: a model that cannot
    # fit fails after one population's enumeration, not after cutting the others
    bound = _fan_in_bounds(net)
    totals = [0] * len(net.populations)
    whatif: list[int] | None = [] if allow_overcapacity else None
    for p in sorted(range(len(net.populations)), key=lambda q: -bound[q]):
        totals[p] = _whole_fan_in(net, chip, p, net.populations[p], whatif)
    for p, name in enumerate(net.populations):
        if whatif and p in whatif:
            a, b = int(net.pop_offset[p]), int(net.pop_offset[p + 1])
            bounds = np.linspace(a, b, max(1, math.ceil((b - a) / npc)) + 1).round().astype(np.int64)
        else:
            bounds = _slices(net, chip, p, name, totals[p], npc)
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            populations.append(name)
            ranges.append((int(lo), int(hi)))
    return populations, ranges, whatif or []


def _file_slices(net, mapping):
    """The virtual cores of a mapping file, in population order (the dynamics sweep a population's
    cores in order), and the physical core (file order) of each."""
    from neurosim.targets.neuromorphic.mapfile import MapFile, load_mapfile

    sizes = {p: int(net.pop_offset[i + 1] - net.pop_offset[i]) for i, p in enumerate(net.populations)}
    spec = mapping if isinstance(mapping, MapFile) else load_mapfile(mapping, sizes)
    order = sorted(spec.slices, key=lambda s: (net.populations.index(s.population), s.start))
    populations = [s.population for s in order]
    off = {p: int(net.pop_offset[i]) for i, p in enumerate(net.populations)}
    ranges = [(off[s.population] + s.start, off[s.population] + s.stop) for s in order]
    return populations, ranges, np.array([s.core for s in order], dtype=np.int64)


def _check_fanout(fan: np.ndarray, chip, n_inputs: int = 0, host=None, table=None) -> None:
    """Fan-out of the neurons (host inputs are exempt: the host addresses every core), in physical cores."""
    if chip.max_fanout_cores is None or not fan.size:
        return
    if host is not None and table is not None:
        from neurosim.targets.neuromorphic.splitters import _fan

        ptr, core = np.asarray(table[0]), np.asarray(table[1])
        fan = _fan(ptr, host[core] if core.size else core)[n_inputs:]
    worst = int(fan.argmax())
    if fan[worst] > chip.max_fanout_cores:
        raise CapacityError(
            f"source neuron {worst + n_inputs} reaches {int(fan[worst])} cores but chip {chip.name!r} allows a fan-out of "
            f"{chip.max_fanout_cores} cores (over by {int(fan[worst]) - chip.max_fanout_cores}); "
            f"reduce the fan-out, allow splitter neurons, or pick a chip with multicast"
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


def _place(net, chip, populations, core_range, host, n_chips, swap_iterations, packets, _unused=0) -> Mapping:
    """Place the physical cores (serpentine, then swaps) and give every virtual core its host's place."""
    n_cores = len(populations)
    n_hosts = int(host.max()) + 1 if n_cores else 0
    mx, my = _router_grid(chip)
    per_tile = max(1, chip.cores_per_tile)
    slots = []  # (chip, tile, global x, global y) in serpentine order, chip by chip
    for k in range(n_chips):
        cx, cy = k % chip.board_x, k // chip.board_x
        for tile, (x, y) in enumerate(_serpentine(mx, my)):
            for _ in range(per_tile):
                if len(slots) < (k + 1) * chip.cores_per_chip:
                    slots.append((k, k * mx * my + tile, cx * mx + x, cy * my + y))
    # traffic between physical cores: synapse counts (a static proxy of spike traffic), from the packet table
    n_src = np.asarray(packets[0]).size - 1
    core_of = core_index(core_range, n_src)
    seg_ptr, seg_core, _, seg_nsyn, _ = packets
    h_of = np.where(core_of >= 0, host[np.maximum(core_of, 0)], -1) if n_cores else core_of
    _, pair_src, pair_dst, pair_nsyn = core_pairs(seg_ptr, host[seg_core] if n_cores else seg_core, seg_nsyn, h_of,
                                                  max(1, n_hosts))
    pair_of_seg, v_src, v_dst, _ = core_pairs(seg_ptr, seg_core, seg_nsyn, core_of, max(1, n_cores))
    packets = (*packets, pair_of_seg, v_src, v_dst)
    mesh_pair = (pair_src >= 0) & (pair_src != pair_dst)
    u, v, w = pair_src[mesh_pair], pair_dst[mesh_pair], pair_nsyn[mesh_pair]
    ends = np.concatenate([u, v])  # both directions: a core's cost sums over its partners
    order = np.argsort(ends, kind="stable")
    nbr = np.concatenate([v, u])[order]
    nbr_w = np.concatenate([w, w])[order]
    nbr_ptr = np.zeros(n_hosts + 1, dtype=np.int64)
    np.add.at(nbr_ptr, ends + 1, 1)
    nbr_ptr = np.cumsum(nbr_ptr)
    pos = np.array([[s[2], s[3]] for s in slots[:n_hosts]], dtype=np.int64).reshape(-1, 2)
    chip_of_slot = np.array([s[0] for s in slots[:n_hosts]], dtype=np.int64)
    assign = _swap(pos, chip_of_slot, nbr_ptr, nbr, nbr_w, n_hosts, swap_iterations)
    host_xy = pos[assign] if n_hosts else np.zeros((0, 2), dtype=np.int64)
    host_chip = np.array([slots[s][0] for s in assign], dtype=np.int64)
    host_tile = np.array([slots[s][1] for s in assign], dtype=np.int64)
    core_xy = host_xy[host] if n_cores else np.zeros((0, 2), dtype=np.int64)
    grid = (chip.board_x * mx, max(1, math.ceil(n_chips / chip.board_x)) * my)
    return Mapping(chip=chip, core_population=populations, core_range=core_range, core_xy=core_xy,
                   core_chip=host_chip[host] if n_cores else host_chip, core_tile=host_tile[host] if n_cores else host_tile,
                   n_chips=n_chips, grid=grid, packets=packets)


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
