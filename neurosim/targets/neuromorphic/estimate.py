"""``neurosim.targets.neuromorphic.estimate``: energy and latency of one inference of a model on a chip.

Two methods:

``cycle`` (default)
    The model is quantized for the chip (its weight and membrane widths) unless it already is,
    mapped onto cores, and run in the cycle-level engine on the given or generated input. Energy
    is ``sum(event count x energy per event) + static power x time`` with the preset's constants
    (events whose constant is unknown are listed, never guessed); latency follows the core spec's
    critical path per timestep.

``synops``
    The operation-count estimate of the SNN literature (e.g. Spike-driven Transformer V1/V2):
    ``E = E_MAC x (first-layer MACs) + E_AC x (synaptic operations of the other layers)``, where a
    layer's synaptic operations are its presynaptic spikes times their fan-out (= firing rate x T x
    FLOPs). It leaves out memory traffic, routing, neuron updates and static power; the report
    puts both side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neurosim.errors import SimulationError
from neurosim.ir.graph import Graph
from neurosim.ir.nodes import SpikingPopulation

METHODS = ("cycle", "synops")


@dataclass
class Estimate:
    """The result of :func:`estimate` (see ``neurosim.targets.neuromorphic.report`` for its JSON form)."""

    graph: Graph
    chip: object
    method: str
    steps: int
    result: object | None  # EngineResult for the cycle method
    counts_total: dict[str, int]
    counts_by_layer: dict[str, dict[str, int]]
    energy_by_event_pj: dict[str, float]
    energy_by_layer_pj: dict[str, float]
    energy_by_core_pj: np.ndarray
    energy_by_step_pj: np.ndarray
    static_pj: float
    total_pj: float
    unknown_events: tuple[str, ...]
    step_s: np.ndarray
    step_cycles: np.ndarray | None
    core_busy: np.ndarray | None = None  # [T, n_cores] busy time in ``busy_unit``
    busy_unit: str = "cycles"
    synops: dict[str, float] = field(default_factory=dict)
    quantization: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def latency_s(self) -> float:
        return float(np.sum(self.step_s))


def on_board(chip, chips: int):
    """The preset on a board of ``chips`` chips in a near-square grid (a modelling choice, not a product)."""
    import dataclasses
    import math

    if not (isinstance(chips, int) and chips >= 1):
        raise SimulationError(f"--chips must be a positive integer, found {chips!r}")
    bx = math.ceil(math.sqrt(chips))
    return dataclasses.replace(chip, max_chips=chips, board_x=bx, board_y=math.ceil(chips / bx))


def poisson_input(shape: tuple[int, ...], steps: int, rate: float, seed: int) -> np.ndarray:
    """Bernoulli spikes with probability ``rate`` per element and step (seeded)."""
    if not (isinstance(rate, (int, float)) and 0.0 <= rate <= 1.0):
        raise SimulationError(f"--rate must be a spike probability per step in [0, 1], found {rate!r}")
    if not (isinstance(steps, (int, np.integer)) and steps >= 1):
        raise SimulationError(f"--timesteps must be a positive integer, found {steps!r}")
    rng = np.random.default_rng(seed)
    return (rng.random((steps, *shape)) < rate).astype(np.int64)


def _is_quantized(graph: Graph) -> bool:
    return all(graph.nodes[n].fixed is not None for n in graph.spiking_populations())


def estimate(graph: Graph, chip, inputs=None, *, rate: float = 0.1, timesteps: int = 16, seed: int = 0,
             method: str = "cycle", chips: int | None = None, contention: bool = False) -> Estimate:
    """Estimate one inference of ``graph`` on ``chip`` (a preset name, path or ChipPreset).

    ``chips`` sets the board size (default: the preset's); ``contention`` adds link queueing to
    the latency (see :func:`neurosim.targets.neuromorphic.model.simulate.step_timing`)."""
    from neurosim.targets.neuromorphic.model.simulate import simulate, step_timing
    from neurosim.targets.neuromorphic.config import load_preset
    from neurosim.targets.neuromorphic.energy import energy_breakdown

    if method not in METHODS:
        raise SimulationError(f"method must be one of {METHODS!r}, found {method!r}")
    chip = load_preset(chip) if isinstance(chip, str) else chip
    if chips is not None:
        chip = on_board(chip, chips)
    if len(graph.inputs) != 1:
        raise SimulationError(f"estimate needs a single-input model, found inputs {graph.inputs!r}")
    in_shape = graph.nodes[graph.inputs[0]].shape
    x = poisson_input(in_shape, timesteps, rate, seed) if inputs is None else np.asarray(inputs)
    notes: list[str] = []
    if inputs is None:
        notes.append(f"input: Poisson spikes, rate {rate} per element and step, {timesteps} steps, seed {seed}")
    quant_rows: list[dict] = []
    hw_graph = graph
    if not _is_quantized(graph):
        from neurosim.passes.quantize import quantize

        q = quantize(graph, weight_bits=chip.weight_bits, state_bits=chip.membrane_bits)
        hw_graph = q.graph
        quant_rows = [_as_dict(r) for r in q.layers]
        notes.append(f"quantized for {chip.name}: {chip.weight_bits}-bit weights, {chip.membrane_bits}-bit membranes")
    res = simulate(hw_graph, chip, x, mode="fixed")
    timing = step_timing(res, contention=contention)
    step_s = timing["step_s"]
    if timing["unknown_latencies"]:
        notes.append("latency is a lower bound: no published latency for "
                     + ", ".join(timing["unknown_latencies"]) + f" on {chip.name} (counted as 0)")
    time_s = float(np.nansum(step_s))
    counts = res.counts
    core_pop = res.mapping.core_population
    # energy per (step, core): price every event
    per_event_steps = {}
    unknown = set()
    for ev, arr in counts.items():
        const = chip.energy_pj.get(ev)
        value = getattr(const, "value", None) if const is not None else None
        if value is None:
            if arr.any() and not getattr(const, "not_applicable", False):
                unknown.add(ev)
            continue
        per_event_steps[ev] = arr * float(value)
    totals = {ev: int(arr.sum()) for ev, arr in counts.items()}
    breakdown = energy_breakdown(totals, chip, time_s)
    by_step_core = sum(per_event_steps.values()) if per_event_steps else np.zeros_like(res.integrate_cycles, dtype=float)
    layers = list(dict.fromkeys(core_pop))
    by_layer_counts = {p: {ev: int(arr[:, [i for i, q in enumerate(core_pop) if q == p]].sum()) for ev, arr in counts.items()}
                       for p in layers}
    by_layer_pj = {p: float(by_step_core[:, [i for i, q in enumerate(core_pop) if q == p]].sum()) for p in layers}
    est = Estimate(
        graph=hw_graph, chip=chip, method=method, steps=res.steps, result=res, counts_total=totals,
        counts_by_layer=by_layer_counts, energy_by_event_pj=dict(breakdown.per_event_pj),
        energy_by_layer_pj=by_layer_pj, energy_by_core_pj=by_step_core.sum(axis=0),
        energy_by_step_pj=by_step_core.sum(axis=1), static_pj=breakdown.static_pj, total_pj=breakdown.total_pj,
        unknown_events=tuple(sorted(set(breakdown.unknown_events) | unknown)), step_s=step_s,
        step_cycles=timing.get("step_cycles"), core_busy=timing["core_units"], busy_unit=timing["unit"],
        quantization=quant_rows, notes=notes,
    )
    est.synops = synops_estimate(hw_graph, res, chip)
    return est


def synops_estimate(graph: Graph, res, chip) -> dict[str, float]:
    """The literature's op-count energy from the engine's spike trace (see module docstring)."""

    net = res.net
    counts = res.counts["synaptic_op"]
    core_pop = res.mapping.core_population
    first = set()
    for p, srcs in zip(net.populations, net.pop_sources):
        if -1 in srcs:
            first.add(p)
    first_cores = [i for i, p in enumerate(core_pop) if p in first]
    other_cores = [i for i, p in enumerate(core_pop) if p not in first]
    # first layer: dense MACs every step (its input is treated as a real-valued frame), FLOP-counted
    # as the literature does: a Linear layer's in x out, a conv's weights x output positions
    macs = float(_first_layer_flops(graph) * res.steps)
    sops = float(counts[:, other_cores].sum()) if other_cores else 0.0
    e_mac, e_ac, source = _mac_ac(chip)
    return {"first_layer_macs": macs, "synaptic_ops": sops, "e_mac_pj": e_mac, "e_ac_pj": e_ac,
            "energy_pj": macs * e_mac + sops * e_ac, "constants_from": source,
            "first_layer_sops_if_spiking": float(counts[:, first_cores].sum()) if first_cores else 0.0}


def _first_layer_flops(graph: Graph) -> int:
    from neurosim.ir.nodes import Projection
    from neurosim.ir.nodes.connections import ConvND

    flops = 0
    frontier = list(graph.inputs)
    seen = set(frontier)
    while frontier:
        name = frontier.pop()
        for nxt in graph.successors(name):
            node = graph.nodes[nxt]
            if nxt in seen or isinstance(node, SpikingPopulation):
                continue
            seen.add(nxt)
            if isinstance(node, ConvND):
                flops += node.weight.size * int(np.prod(graph.shapes[nxt][1:]))
            elif isinstance(node, Projection):
                flops += node.dense_weight().size
            frontier.append(nxt)
    return flops


def _mac_ac(chip) -> tuple[float, float, str]:
    from neurosim.targets.neuromorphic.config import load_preset

    for candidate in (chip, load_preset("generic-45nm")):
        mac, ac = candidate.energy_pj.get("mac"), candidate.energy_pj.get("ac")
        if mac is not None and ac is not None and mac.value is not None and ac.value is not None:
            return float(mac.value), float(ac.value), candidate.name
    raise SimulationError("no E_MAC/E_AC constants available for the synops method")  # pragma: no cover


def _as_dict(row) -> dict:
    import dataclasses

    if dataclasses.is_dataclass(row):
        out = {}
        for f in dataclasses.fields(row):
            v = getattr(row, f.name)
            if isinstance(v, np.ndarray):
                v = v.tolist()
            elif isinstance(v, (np.floating, np.integer)):
                v = v.item()
            out[f.name] = v
        return out
    return dict(row)

