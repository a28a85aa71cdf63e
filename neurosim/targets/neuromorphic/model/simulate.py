"""Drive the cycle-level engine: compile, map, run the numba kernel, assemble the counts.

The core spec (design.md, "The neuromorphic core"), per core and timestep:

* **integrate**: each arriving spike packet (one source, one target core) costs
  ``event_overhead_cycles + ceil(n_syn / lanes)`` cycles, where ``n_syn`` is the length of the
  row the core stores for that source (its nonzero synapses with sparse storage, all the core's
  neurons with dense storage); a phase with at least one packet adds
  ``integrate_pipeline_cycles`` (fill and drain).
* **fire**: ``ceil(neurons / lanes) + fire_pipeline_cycles``, every step.

:func:`step_timing` turns those into a timestep's latency along the critical path: a
population starts when all the populations feeding it (forward edges) have fired and their
packets have crossed the mesh (``max hops x hop latency``); the chip's step ends at the last
population's end plus the barrier. Chips with ``timing = "event_latency"`` use the preset's
per-event latencies instead of cycles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurosim.targets.neuromorphic.model.compile import CompiledNetwork, compile_graph
from neurosim.targets.neuromorphic.model.kernel import run_kernel
from neurosim.errors import FixedPointError, SimulationError
from neurosim.ir.graph import Graph
from neurosim.targets.neuromorphic.partition import Mapping, partition, xy_route

_DIRS = {"E": 0, "W": 1, "N": 2, "S": 3}


def core_timing(chip) -> dict[str, int]:
    """The core spec's cycle parameters of a preset. Event-latency chips (Loihi) publish no lane
    count or pipeline depths: the cycle columns are then computed for one lane and no pipeline,
    and their latency comes from the per-event latencies instead (see :func:`step_timing`)."""
    get = lambda name, default: int(getattr(chip, name, None) or default)  # noqa: E731
    return {"lanes": get("lanes", 1), "event_overhead": get("event_overhead_cycles", 0),
            "integrate_pipeline": get("integrate_pipeline_cycles", 0), "fire_pipeline": get("fire_pipeline_cycles", 0),
            "hop_latency": get("hop_latency_cycles", 0), "barrier": get("barrier_cycles", 0)}


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
    ptr: np.ndarray  # per source: its segments
    core: np.ndarray
    delay: np.ndarray
    nsyn: np.ndarray
    cycles: np.ndarray  # per segment: event_overhead + ceil(nsyn / lanes)
    pair: np.ndarray  # per segment: its (source core, target core) pair
    pair_dst: np.ndarray
    pair_hx: np.ndarray
    pair_hy: np.ndarray
    pair_chip: np.ndarray
    pair_tile: np.ndarray
    route_ptr: np.ndarray  # per pair: its links
    route_links: np.ndarray


def segments(net: CompiledNetwork, mapping: Mapping) -> _Segments:
    """Group every source's synapses by (target core, delay): one packet each (see kernel doc).

    Static for a (network, mapping) pair: compute it once and pass it to :func:`simulate`.
    """
    chip = mapping.chip
    syn = net.synapses
    core_of = mapping.core_of(net.n_total, net.n_inputs)
    n_cores = max(1, mapping.n_cores)
    n_delay = net.max_delay + 1
    src = np.repeat(np.arange(net.n_total, dtype=np.int64), np.diff(syn.ptr))
    key = (src * n_cores + core_of[syn.target]) * n_delay + syn.delay
    uniq, counts = np.unique(key, return_counts=True)  # sorted by source: segments in source order
    s_delay = uniq % n_delay
    s_core = (uniq // n_delay) % n_cores
    s_src = uniq // n_delay // n_cores
    core_size = np.diff(mapping.core_range, axis=1)[:, 0]
    nsyn = core_size[s_core] if chip.synapse_storage == "dense" else counts
    src_core = core_of[s_src]
    # one route per (source core or input port, target core) pair
    pair = (src_core + 1) * n_cores + s_core
    pairs, pair_of_seg = np.unique(pair, return_inverse=True)
    gx, gy = mapping.grid
    port = (0, 0)
    bx = max(1, chip.board_x)
    p_dst, p_hx, p_hy, p_chip, p_tile, route_ptr, links = [], [], [], [], [], [0], []
    for code in pairs:
        sc, dc = int(code // n_cores) - 1, int(code % n_cores)
        a = tuple(int(v) for v in mapping.core_xy[sc]) if sc >= 0 else port
        b = tuple(int(v) for v in mapping.core_xy[dc])
        p_dst.append(dc)
        p_hx.append(abs(a[0] - b[0]))
        p_hy.append(abs(a[1] - b[1]))
        ca = int(mapping.core_chip[sc]) if sc >= 0 else 0
        cb = int(mapping.core_chip[dc])
        p_chip.append(abs(ca % bx - cb % bx) + abs(ca // bx - cb // bx))
        p_tile.append(int(sc >= 0 and mapping.core_tile[sc] == mapping.core_tile[dc]))
        links.extend((y * gx + x) * 4 + _DIRS[d] for x, y, d in xy_route(a, b))
        route_ptr.append(len(links))
    ptr = np.zeros(net.n_total + 1, dtype=np.int64)
    np.add.at(ptr, s_src + 1, 1)
    i64 = lambda v: np.asarray(v, dtype=np.int64)  # noqa: E731
    return _Segments(
        ptr=np.cumsum(ptr), core=i64(s_core), delay=i64(s_delay), nsyn=i64(nsyn),
        cycles=i64(core_timing(chip)["event_overhead"] + -(-i64(nsyn) // core_timing(chip)["lanes"])), pair=i64(pair_of_seg), pair_dst=i64(p_dst),
        pair_hx=i64(p_hx), pair_hy=i64(p_hy), pair_chip=i64(p_chip), pair_tile=i64(p_tile),
        route_ptr=i64(route_ptr), route_links=i64(links),
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
        arr = np.asarray(inputs[name], dtype=np.float64)
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
    if not np.all(np.isfinite(flat)):
        raise SimulationError("the input contains non-finite values")
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
    n_slots = net.max_delay + 1
    z = lambda: np.zeros((steps, max(1, n_cores)), dtype=np.int64)  # noqa: E731
    arrays = {k: z() for k in ("synops", "packets_in", "cyc_rows", "active", "inactive", "spikes_out", "in_tile",
                               "hop_ew", "hop_ns", "chip_hops", "max_hops_in")}
    pair_total = np.zeros(max(1, seg.pair_dst.size), dtype=np.int64)
    spikes = np.zeros((steps, net.n_total - net.n_inputs), dtype=np.float32)  # counts: exact below 2**24
    v = np.zeros(net.n_total)
    i_syn = np.zeros(net.n_total)
    acc = np.zeros(n_slots * net.n_total)
    err = np.zeros(3)
    syn = net.synapses
    core_range = mapping.core_range if n_cores else np.zeros((0, 2), dtype=np.int64)
    pop_cores = np.zeros(len(net.populations) + 1, dtype=np.int64)
    for p, name in enumerate(net.populations):
        pop_cores[p + 1] = pop_cores[p] + sum(1 for q in mapping.core_population if q == name)
    uniform = np.zeros(len(net.populations), dtype=np.bool_)
    for p in range(len(net.populations)):
        a, b = int(net.pop_offset[p]), int(net.pop_offset[p + 1])
        uniform[p] = all(np.all(arr[a:b] == arr[a]) for arr in (net.decay, net.gain, net.bias, net.threshold,
                                                                 net.v_reset, net.const_in)) if b > a else True
    status = run_kernel(
        x, net.mode == "fixed",
        syn.ptr, syn.delay * net.n_total + syn.target, syn.weight, n_slots,
        pop_cores, np.ascontiguousarray(core_range[:, 0]), np.ascontiguousarray(core_range[:, 1]), uniform,
        net.n_inputs, net.const_in, net.decay, net.gain, net.bias, net.threshold, net.v_reset, net.syn_decay,
        net.syn_gain, net.is_cuba, net.current_lag, net.reset, net.timing, net.rule, net.refractory, net.leak_shift,
        net.syn_shift, net.lo.astype(np.float64), net.hi.astype(np.float64), net.acc_max.astype(np.float64),
        seg.ptr, seg.core, seg.delay, seg.cycles, seg.nsyn, seg.pair, seg.pair_hx, seg.pair_hy, seg.pair_chip,
        seg.pair_tile,
        spikes, v, i_syn, acc,
        arrays["synops"], arrays["packets_in"], arrays["cyc_rows"], arrays["active"], arrays["inactive"],
        arrays["spikes_out"], arrays["in_tile"], arrays["hop_ew"], arrays["hop_ns"], arrays["chip_hops"],
        arrays["max_hops_in"], pair_total, err,
    )
    if status:
        p = net.populations[status - 1]
        raise FixedPointError(
            f"node {p!r}: synaptic input sum {int(err[2])!r} at step {int(err[0])} overflows the accumulator; "
            f"widen fixed.acc_width or reduce the weight width"
        )
    arrays["link_load"] = _link_load(pair_total, seg, mapping)
    return _assemble(graph, net, mapping, arrays, spikes, v, i_syn, arrays.pop("link_load"))


def _link_load(pair_total: np.ndarray, seg: _Segments, mapping: Mapping) -> np.ndarray:
    """Packets per directed link over the inference, from the packets per core pair and their XY routes."""
    gx, gy = mapping.grid
    load = np.zeros(gx * gy * 4, dtype=np.int64)
    lengths = np.diff(seg.route_ptr)
    if seg.route_links.size:
        np.add.at(load, seg.route_links, np.repeat(pair_total[:lengths.size], lengths))
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


def step_timing(result: EngineResult, *, contention: bool = False) -> dict[str, np.ndarray]:
    """Per-step latency along the critical path (module docstring): seconds and, for cycle chips, cycles.

    With ``contention``, a router's ejection link hands one packet per hop latency to its core, so
    a core's packets have all arrived no earlier than ``packets_in x hop latency``:
    ``noc = max(hops x hop latency, packets_in x hop latency)``."""
    chip = result.mapping.chip
    net = result.net
    steps = result.steps
    core_pop = np.array([net.populations.index(p) for p in result.mapping.core_population], dtype=np.int64)
    if chip.timing == "cycles":
        core_time = result.core_cycles.astype(np.float64)
        noc = result.max_hops_in * float(core_timing(chip)["hop_latency"])
        barrier = float(core_timing(chip)["barrier"])
        unit_s = 1.0 / chip.clock_hz if chip.clock_hz else None
    else:
        timed = ("synaptic_op", "neuron_update_active", "neuron_update_inactive", "spike_out")
        lat, unknown = {}, []
        for e in (*timed, "hop_ew", "hop_ns", "spike_in_tile"):
            const = chip.latency_ns.get(e)
            value = None if const is None else const.value
            if value is None and result.counts.get(e, np.zeros(1)).any() and not getattr(const, "not_applicable", False):
                unknown.append(e)
            lat[e] = value or 0.0
        core_time = sum(result.counts[e] * lat[e] for e in timed)
        hop_ns = max(lat["hop_ew"], lat["hop_ns"])
        # a packet crosses max_hops_in routers; a same-tile packet costs the in-tile delivery latency
        noc = np.maximum(result.max_hops_in * hop_ns, np.where(result.counts["spike_in_tile"] > 0, lat["spike_in_tile"], 0.0))
        barrier_const = getattr(chip, "barrier_ns", None)
        barrier = float(barrier_const.value) if barrier_const is not None and barrier_const.value else 0.0
        unit_s = 1e-9
    if contention:
        per_hop = float(core_timing(chip)["hop_latency"]) if chip.timing == "cycles" else hop_ns
        noc = np.maximum(noc, result.packets_in * per_hop)
    finish = np.zeros((steps, len(net.populations)))
    for p in range(len(net.populations)):
        start = np.zeros(steps)
        for q in net.pop_sources[p]:
            if q >= 0:
                start = np.maximum(start, finish[:, q])
        mine = core_pop == p
        if np.any(mine):
            finish[:, p] = start + (noc[:, mine] + core_time[:, mine]).max(axis=1)
        else:
            finish[:, p] = start
    step = (finish.max(axis=1) if finish.size else np.zeros(steps)) + barrier
    out = {"step_units": step, "core_units": np.asarray(core_time, dtype=np.float64), "unit_s": unit_s,
           "unit": "cycles" if chip.timing == "cycles" else "ns",
           "unknown_latencies": tuple(unknown) if chip.timing != "cycles" else ()}
    if chip.timing == "cycles":
        out["step_cycles"] = step
    out["step_s"] = step * unit_s if unit_s is not None else np.full(steps, np.nan)
    tick = getattr(chip, "timestep_s", None)
    if tick is not None and getattr(tick, "value", None):
        out["step_s"] = np.maximum(out["step_s"], tick.value)  # a fixed tick (TrueNorth) bounds the step from below
    return out
