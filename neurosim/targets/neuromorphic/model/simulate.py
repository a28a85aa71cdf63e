"""Drive the cycle-level engine: compile, map, run the numba kernel, assemble the counts.

The core spec (design.md, "The neuromorphic core"), per core and timestep:

* **integrate**: each arriving spike packet (one source, one target core) costs
  ``event_overhead_cycles + ceil(n_syn / lanes)`` cycles, where ``n_syn`` is the length of the
  row the core stores for that source (its nonzero synapses with sparse storage, all the core's
  neurons with dense storage); a phase with at least one packet adds
  ``integrate_pipeline_cycles`` (fill and drain).
* **fire**: ``ceil(neurons / lanes) + fire_pipeline_cycles``, every step.

:func:`~neurosim.targets.neuromorphic.model.timing.step_timing` turns those into a timestep's
latency (see that module).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurosim.targets.neuromorphic.model.compile import CompiledNetwork, compile_graph
from neurosim.targets.neuromorphic.model.kernel import C_CHIP_HOPS, C_CYCLES, C_PACKETS_OUT, C_HOP_EW, C_HOP_NS, C_IN_TILE, \
    C_PACKETS, C_SYNOPS, N_COUNTS, account, pair_totals, run_dynamics
from neurosim.targets.neuromorphic.model.neurons import make_params, make_state
from neurosim.targets.neuromorphic.model.reference import check_input_array, overflow_message
# the latency model lives in its own module; step_timing re-exported for callers of this one
from neurosim.targets.neuromorphic.model.timing import core_timing, step_timing  # noqa: F401
from neurosim.errors import FixedPointError, SimulationError
from neurosim.ir.graph import Graph
from numba import njit

from neurosim.targets.neuromorphic.partition import Mapping, partition



@dataclass
class EngineResult:
    """Everything one inference produced (arrays are ``[T, n_cores]`` unless noted)."""

    net: CompiledNetwork
    mapping: Mapping
    spikes: dict[str, np.ndarray]  # per population [T, *shape]
    membranes: dict[str, np.ndarray]  # final v per population [*shape]
    currents: dict[str, np.ndarray]  # final synaptic current of CubaLIF populations
    counts: dict[str, np.ndarray]  # event -> [T, n_cores] int64
    integrate_cycles: np.ndarray
    fire_cycles: np.ndarray
    max_hops_in: np.ndarray
    packets_in: np.ndarray  # spike packets arriving at each core
    link_load: np.ndarray  # [grid_x, grid_y, 4] packets per directed link (E, W, N, S out of a router)

    @property
    def steps(self) -> int:
        return self.integrate_cycles.shape[0]

    @property
    def core_cycles(self) -> np.ndarray:
        return self.integrate_cycles + self.fire_cycles


@dataclass(frozen=True)
class _Segments:
    """The per-source packet table of a (network, mapping) pair: one packet per source, target
    core and delay, with its contribution to the counts (kernel docstring) and its route."""

    ptr: np.ndarray  # per source: its packets
    core: np.ndarray
    delay: np.ndarray
    nsyn: np.ndarray  # synapses the target core reads for it (dense rows: the core's neurons)
    lanes: int  # a packet costs event_overhead + ceil(nsyn / lanes) integrate cycles
    event_overhead: int
    pair: np.ndarray  # per packet: its (source core, target core) pair
    src_delays: np.ndarray  # per source: bit d set when it has a packet of delay d
    pair_vec: np.ndarray  # [n_pairs, 4]: in-tile packet, east-west hops, north-south hops, chip hops
    pair_hops: np.ndarray  # per pair: routers crossed (-1 inside a tile: no mesh hop)
    pair_dst: np.ndarray
    pair_src: np.ndarray  # per pair: source core (-1: a host input)
    pair_from: np.ndarray  # [n_pairs, 2] grid position of the source router (inputs: (0, 0))
    pair_to: np.ndarray  # [n_pairs, 2] grid position of the target router
    lead: np.ndarray | None = None  # per packet: 1 when it is the physical packet, 0 for the other virtual
    # cores of the same physical core it reaches (same source and delay): they read the one packet


def packet_table(net: CompiledNetwork, core_range: np.ndarray):
    """(ptr, core, delay, nsyn, fan-out cores per source) for cores holding ``core_range``: the
    synapses of every source per target core and delay (see
    :func:`neurosim.targets.neuromorphic.model.projections.packet_table`)."""
    from neurosim.targets.neuromorphic.model.projections import n_chunks
    from neurosim.targets.neuromorphic.model.projections import packet_table as _table
    from neurosim.targets.neuromorphic.partition import core_index

    core_of = core_index(core_range, net.n_total)
    table = _table(net.program, net.n_groups, net.n_slots, net.n_total, core_of, max(1, len(core_range)), n_chunks(),
                   MAX_PACKET_ENTRIES)
    if table[0][0] < 0:
        raise SimulationError(
            f"the mapping onto {len(core_range)} cores needs more than {MAX_PACKET_ENTRIES:,} per-source packet entries "
            f"(~{MAX_PACKET_ENTRIES * 32 / 2**30:.0f} GB): every source reaches many cores; use a chip with larger "
            f"cores (neurons_per_core, axons_per_core) or a smaller model")
    return table


#: The per-source packet table is refused above this many entries (32 bytes each).
MAX_PACKET_ENTRIES = 100_000_000


def segments(net: CompiledNetwork, mapping: Mapping) -> _Segments:
    """Every source's packets (one per target core and delay) with their routes on the mesh.

    Static for a (network, mapping) pair: compute it once and pass it to :func:`simulate`.
    """
    chip = mapping.chip
    core_of = mapping.core_of(net.n_total, net.n_inputs)
    n_cores = max(1, mapping.n_cores)
    if mapping.packets is not None and len(mapping.packets) == 8:
        ptr, s_core, s_delay, nsyn, _, pair_of_seg, sc, dc = mapping.packets
    elif mapping.n_relays:
        raise SimulationError("a mapping with splitter neurons carries its packet table; make it with partition()")
    else:
        from neurosim.targets.neuromorphic.partition import core_pairs

        ptr, s_core, s_delay, nsyn, _ = packet_table(net, mapping.core_range)
        pair_of_seg, sc, dc, _ = core_pairs(ptr, s_core, nsyn, core_of, n_cores)
    if chip.synapse_storage == "dense":  # a dense row holds every neuron of the core
        nsyn = np.diff(mapping.core_range, axis=1)[:, 0][s_core]
    xy = np.asarray(mapping.core_xy, dtype=np.int64).reshape(-1, 2)
    a_xy = np.where((sc >= 0)[:, None], xy[np.maximum(sc, 0)], 0)  # inputs enter at router (0, 0)
    b_xy = xy[dc] if dc.size else np.zeros((0, 2), dtype=np.int64)
    bx = max(1, chip.board_x)
    chip_of = np.asarray(mapping.core_chip, dtype=np.int64)
    ca = np.where(sc >= 0, chip_of[np.maximum(sc, 0)], 0)
    cb = chip_of[dc]
    tile_of = np.asarray(mapping.core_tile, dtype=np.int64)
    i64 = lambda v: np.asarray(v, dtype=np.int64)  # noqa: E731
    p_hx, p_hy = i64(np.abs(a_xy[:, 0] - b_xy[:, 0])), i64(np.abs(a_xy[:, 1] - b_xy[:, 1]))
    p_chip = i64(np.abs(ca % bx - cb % bx) + np.abs(ca // bx - cb // bx))
    p_tile = i64((sc >= 0) & (tile_of[np.maximum(sc, 0)] == tile_of[dc]))
    ct = core_timing(chip)
    mesh = 1 - p_tile
    # per pair: in-tile packets, east-west hops, north-south hops, chip hops, and routers crossed (-1: in tile)
    pair_vec = np.ascontiguousarray(np.stack([p_tile, p_hx * mesh, p_hy * mesh, p_chip * mesh], axis=1)
                                    if p_tile.size else np.zeros((0, 4), dtype=np.int64))
    pair_hops = np.where(p_tile == 1, -1, p_hx + p_hy).astype(np.int64)
    lead = _lead(i64(ptr), i64(s_core), i64(s_delay), mapping.host, net.max_delay + 1)
    return _Segments(lead=lead,
        ptr=i64(ptr), core=i64(s_core), delay=i64(s_delay), nsyn=i64(nsyn), lanes=int(ct["lanes"]),
        src_delays=_delay_bits(i64(ptr), i64(s_delay), net.n_total + mapping.n_relays),
        event_overhead=int(ct["event_overhead"]), pair=i64(pair_of_seg).reshape(-1), pair_vec=pair_vec,
        pair_hops=pair_hops, pair_dst=i64(dc), pair_src=i64(sc),
        pair_from=np.ascontiguousarray(a_xy), pair_to=np.ascontiguousarray(b_xy),
    )


def _flat_inputs(net: CompiledNetwork, graph: Graph, inputs) -> np.ndarray:
    if not isinstance(inputs, dict):
        if len(graph.inputs) != 1:
            raise SimulationError(f"the graph has inputs {graph.inputs!r}; pass a dict of arrays keyed by name")
        inputs = {graph.inputs[0]: inputs}
    parts, steps = [], None
    for name in graph.inputs:
        if name not in inputs:
            raise SimulationError(f"no input array for input node {name!r}")
        arr = check_input_array(inputs[name], name).astype(np.float64, copy=False)
        shape = graph.nodes[name].shape
        if arr.ndim != 1 + len(shape) or tuple(arr.shape[1:]) != tuple(shape):
            raise SimulationError(
                f"input {name!r} has shape {arr.shape!r}, expected [T, {', '.join(map(str, shape))}]; the first axis is time"
            )
        if steps is not None and arr.shape[0] != steps:
            raise SimulationError(f"input {name!r} has {arr.shape[0]} steps, other inputs have {steps}")
        steps = arr.shape[0]
        parts.append(arr.reshape(steps, -1))
    if not steps:
        raise SimulationError("the input has 0 timesteps; give at least one")
    flat = np.ascontiguousarray(np.concatenate(parts, axis=1))
    if net.mode == "fixed" and not np.array_equal(flat, np.rint(flat)):
        bad = float(flat[flat != np.rint(flat)][0])
        raise SimulationError(f"fixed mode needs integer inputs (spike counts or codes), found {bad!r}")
    return flat


def simulate(graph: Graph, chip, inputs, *, mode: str = "fixed", mapping: Mapping | None = None,
             net: CompiledNetwork | None = None, segs: _Segments | None = None) -> EngineResult:
    """Run ``graph`` on ``chip`` for the input ``[T, *input_shape]`` (one sample) and count everything."""
    net = net or compile_graph(graph, mode)
    mapping = mapping or partition(net, chip)
    x = _flat_inputs(net, graph, inputs)
    steps = x.shape[0]
    n_cores = mapping.n_cores
    seg = segs or segments(net, mapping)
    n_slots = net.n_slots
    n_c = max(1, n_cores)
    n_rel = mapping.n_relays
    # counts: exact below 2**24; splitter neurons (after the populations' neurons) copy their sources
    spikes = np.zeros((steps, net.n_total - net.n_inputs + n_rel), dtype=np.float32)
    params, state = make_params(net), make_state(net.n_total)
    acc = np.zeros(n_slots * net.n_total)
    err = np.zeros(3)
    active = np.zeros((steps, n_c), dtype=np.int64)
    core_range = mapping.core_range if n_cores else np.zeros((0, 2), dtype=np.int64)
    pop_cores = np.zeros(len(net.populations) + 1, dtype=np.int64)
    n_neuron_cores = n_cores if mapping.n_neuron_cores is None else mapping.n_neuron_cores
    for p, name in enumerate(net.populations):
        pop_cores[p + 1] = pop_cores[p] + sum(1 for q in mapping.core_population[:n_neuron_cores] if q == name)
    relay_cols = (np.asarray(mapping.relay_source, dtype=np.int64) - net.n_inputs) if n_rel else None
    relay_core = np.searchsorted(core_range[n_neuron_cores:, 0], net.n_total + np.arange(n_rel), side="right") - 1 \
        + n_neuron_cores if n_rel else None
    pop_group = np.arange(len(net.populations), dtype=np.int64) + len(net.input_names)
    fired = np.zeros(max(1, net.n_total), dtype=np.int64)
    fired_val = np.zeros(max(1, net.n_total))
    counts = np.zeros((steps, n_c, N_COUNTS), dtype=np.int64)
    max_hops = np.zeros((steps, n_c), dtype=np.int64)
    starts = np.ascontiguousarray(core_range[:, 0])
    stops = np.ascontiguousarray(core_range[:, 1])

    def dynamics(t0, t1):
        return run_dynamics(x, net.mode == "fixed", net.program, params, state, net.n_inputs, n_slots, pop_group,
                            pop_cores, starts, stops, acc, spikes, active, fired, fired_val, err, t0, t1)

    pair_count = np.zeros(max(1, seg.pair_dst.size), dtype=np.int64)

    def accounting(t0, t1):
        if n_rel:  # a splitter neuron fires with its source (the tick it adds is latency, Mapping.extra_steps)
            copied = spikes[t0:t1, relay_cols]
            spikes[t0:t1, net.n_total - net.n_inputs:] = copied
            for t in range(t0, t1):  # the relays whose source fired are the splitter cores' active neurons
                active[t, n_neuron_cores:] = np.bincount(relay_core, weights=copied[t - t0] != 0,
                                                         minlength=n_c).astype(np.int64)[n_neuron_cores:n_c]
        account(x, spikes, net.n_inputs, seg.ptr, seg.core, seg.delay, seg.nsyn, seg.pair, seg.src_delays,
                seg.pair_src, seg.pair_dst, seg.pair_vec, seg.lead,
                seg.pair_hops, seg.lanes, seg.event_overhead, n_slots, counts, max_hops, pair_count, t0, t1)

    status = _pipelined(dynamics, accounting, steps)
    if status:
        p = net.populations[status - 1]
        fx = getattr(graph.nodes[p], "fixed", None)
        raise FixedPointError(overflow_message(p, float(err[2]), getattr(fx, "acc_width", None), int(err[0])))
    pair_total = pair_totals(x, spikes, net.n_inputs, seg.ptr, seg.delay, seg.pair, seg.lead, max(1, seg.pair_dst.size),
                             n_slots)
    core_size = np.diff(core_range, axis=1)[:, 0] if n_cores else np.zeros(0, dtype=np.int64)
    spikes_out = np.zeros((steps, n_c), dtype=np.int64)
    if n_cores:
        starts = core_range[:, 0] - net.n_inputs
        spikes_out[:, :n_cores] = np.add.reduceat(spikes, starts, axis=1).astype(np.int64) if spikes.shape[1] else 0
    arrays = {"synops": counts[:, :, C_SYNOPS], "packets_in": counts[:, :, C_PACKETS],
              "cyc_rows": counts[:, :, C_CYCLES], "in_tile": counts[:, :, C_IN_TILE], "hop_ew": counts[:, :, C_HOP_EW],
              "hop_ns": counts[:, :, C_HOP_NS], "chip_hops": counts[:, :, C_CHIP_HOPS], "max_hops_in": max_hops,
              "packets_out": counts[:, :, C_PACKETS_OUT],
              "active": active, "inactive": np.pad(core_size, (0, n_c - n_cores))[None, :] - active,
              "spikes_out": spikes_out}
    v, i_syn = state.v, state.i_syn
    arrays["link_load"] = _link_load(pair_total, seg, mapping)
    return _assemble(graph, net, mapping, arrays, spikes, v, i_syn, arrays.pop("link_load"))


def _lead(ptr, core, delay, host, n_slots):
    """Per packet, 1 when it is the first of its (source, physical core, delay): virtual cores packed
    into one physical core receive a source's spike as one packet (one axon), so only the first
    carries the packet, its hops and its generation; each still reads its own synapses."""
    if not core.size:
        return np.ones(0, dtype=np.int64)
    src = np.repeat(np.arange(ptr.size - 1, dtype=np.int64), np.diff(ptr))
    n_hosts = int(host.max()) + 1
    key = (src * n_hosts + host[core]) * max(1, n_slots) + delay
    lead = np.zeros(core.size, dtype=np.int64)
    lead[np.unique(key, return_index=True)[1]] = 1
    return lead


def _delay_bits(ptr, delay, n_src):
    """Per source, the bit mask of its packets' delays (the accounting skips a source for other
    delays); delays from 62 on set every bit (never skipped)."""
    bits = np.zeros(n_src, dtype=np.int64)
    src = np.repeat(np.arange(n_src), np.diff(ptr))
    mask = np.where(delay < 62, np.left_shift(np.int64(1), np.minimum(delay, 61)), np.int64(-1))
    np.bitwise_or.at(bits, src, mask)
    return bits


def _pipelined(dynamics, accounting, steps: int, chunks: int = 16) -> int:
    """Run the dynamics chunk by chunk on this thread and the accounting of each finished chunk on a
    second one (both numba kernels release the GIL), so the two overlap on two cores. Returns the
    dynamics' status (non-zero: stopped on an overflow, the accounting is then moot)."""
    from concurrent.futures import ThreadPoolExecutor

    bounds = np.unique(np.linspace(0, steps, min(steps, chunks) + 1).round().astype(int))
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = None
        for a, b in zip(bounds[:-1], bounds[1:]):
            status = dynamics(int(a), int(b))
            if status:
                return status
            if pending is not None:
                pending.result()
            pending = pool.submit(accounting, int(a), int(b))
        if pending is not None:
            pending.result()
    return 0


def _link_load(pair_total: np.ndarray, seg: _Segments, mapping: Mapping) -> np.ndarray:
    """Packets per directed link over the inference, from the packets per core pair and their XY routes."""
    gx, gy = mapping.grid
    return _xy_loads(pair_total, seg.pair_from, seg.pair_to, gx, gy)


@njit(cache=True)
def _xy_loads(pair_total, src, dst, gx, gy):
    """Walk every pair's dimension-ordered route (x first, then y; :func:`~neurosim.targets.neuromorphic.
    partition.xy_route`), adding its packets to each link: ``(y * gx + x) * 4 + direction`` with
    E, W, N, S = 0..3 out of the router at ``(x, y)``."""
    load = np.zeros(gx * gy * 4, dtype=np.int64)
    for q in range(src.shape[0]):
        k = pair_total[q]
        if k == 0:
            continue
        x, y = src[q, 0], src[q, 1]
        while x != dst[q, 0]:
            step = 1 if dst[q, 0] > x else -1
            load[(y * gx + x) * 4 + (0 if step > 0 else 1)] += k
            x += step
        while y != dst[q, 1]:
            step = 1 if dst[q, 1] > y else -1
            load[(y * gx + x) * 4 + (2 if step > 0 else 3)] += k
            y += step
    return load


def _assemble(graph, net, mapping, a, spikes, v, i_syn, link_load) -> EngineResult:
    chip = mapping.chip
    n_cores = mapping.n_cores
    steps = spikes.shape[0]
    shapes = graph.shapes
    out_spikes, membranes, currents = {}, {}, {}
    for p, name in enumerate(net.populations):
        lo, hi = int(net.pop_offset[p]), int(net.pop_offset[p + 1])
        out_spikes[name] = spikes[:, lo - net.n_inputs:hi - net.n_inputs].reshape((steps,) + shapes[name])
        membranes[name] = v[lo:hi].reshape(shapes[name])
        if net.is_cuba[p]:
            currents[name] = i_syn[lo:hi].reshape(shapes[name])
    c = slice(0, n_cores)
    updates = a["active"][:, c] + a["inactive"][:, c]
    counts = {
        "synaptic_op": a["synops"][:, c],
        "neuron_update_active": a["active"][:, c],
        "neuron_update_inactive": a["inactive"][:, c],
        "spike_out": a["spikes_out"][:, c],
        "packet_out": a["packets_out"][:, c],
        "packet_in": a["packets_in"][:, c],
        "spike_in_tile": a["in_tile"][:, c],
        "hop_ew": a["hop_ew"][:, c],
        "hop_ns": a["hop_ns"][:, c],
        "chip_hop": a["chip_hops"][:, c],
        # synapse rows are read from SRAM; each neuron update reads and writes its state
        "sram_read_byte": (a["synops"][:, c] * chip.weight_bits + updates * chip.membrane_bits) // 8,
        "sram_write_byte": (updates * chip.membrane_bits) // 8,
    }
    core_size = np.diff(mapping.core_range, axis=1)[:, 0]
    ct = core_timing(chip)
    integrate = a["cyc_rows"][:, c] + np.where(a["packets_in"][:, c] > 0, ct["integrate_pipeline"], 0)
    fire = np.broadcast_to(-(-core_size // ct["lanes"]) + ct["fire_pipeline"], integrate.shape).copy()
    gx, gy = mapping.grid
    return EngineResult(net=net, mapping=mapping, spikes=out_spikes, membranes=membranes, currents=currents,
                        counts=counts, integrate_cycles=integrate, fire_cycles=fire,
                        max_hops_in=a["max_hops_in"][:, c], packets_in=a["packets_in"][:, c], link_load=link_load.reshape(gy, gx, 4).transpose(1, 0, 2))
