"""``neurosim.targets.neuromorphic.estimate``: energy and latency of one inference of a model on a chip.

Two methods (``method=``); both are always computed, the chosen one is the headline, the totals
and the plots, the other is shown for comparison:

``cycle`` (default)
    The model is quantized for the chip (its arithmetic: weight and membrane widths, leak) unless
    it already is, mapped onto cores, and run in the cycle-level engine on the given or generated
    input. Energy is ``sum(event count x energy per event) + static power x time`` with the
    preset's constants; latency follows the core spec's critical path per timestep. An event
    whose constant is unknown is listed, never guessed: the total is then a **lower bound**
    (:attr:`Estimate.lower_bound`), and so is the latency when an event latency is unknown.

``synops``
    The operation-count estimate of the SNN literature (e.g. Spike-driven Transformer V1/V2):
    ``E = E_MAC x (first-layer MACs) + E_AC x (synaptic operations of the other layers)``, where a
    layer's synaptic operations are its presynaptic spikes times their fan-out (= firing rate x T x
    FLOPs). It leaves out memory traffic, routing, neuron updates and static power.

Arithmetic (``arith=``): ``"chip"`` (default) prices the spike trains of the model quantized with
the chip's arithmetic, and reports what quantization changed (:func:`quantization_effect_rows`:
per layer, float vs fixed spike counts and the fraction of neurons whose count changed; a warning
above :data:`SPIKE_CHANGE_WARN` / :data:`NEURON_CHANGE_WARN`); ``"float"`` runs the engine in float
mode and prices the float spike trains on the chip (the chip's arithmetic is then not applied,
and the report says so).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neurosim.errors import EnergyError, SimulationError
from neurosim.ir.graph import Graph
from neurosim.ir.nodes import SpikingPopulation

METHODS = ("cycle", "synops")
ARITHS = ("chip", "float")

#: warn when quantization changes the total spike count by more than this fraction (5 %) ...
SPIKE_CHANGE_WARN = 0.05
#: ... or changes the spike count of more than this fraction of the neurons (10 %)
NEURON_CHANGE_WARN = 0.10


@dataclass
class Estimate:
    """The result of :func:`estimate` (see ``neurosim.targets.neuromorphic.report`` for its JSON form).

    ``total_pj``, ``static_pj``, ``energy_by_*`` are the cycle method's figures (always computed);
    :attr:`energy_pj` is the chosen method's total."""

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
    static_unknown: bool = False
    unknown_latencies: tuple[str, ...] = ()
    arith: str = "chip"
    #: per layer and in total, what quantization changed (None: no float reference, see notes)
    quantization_effect: dict | None = None
    #: the op-count method by (step, core), pJ: first-layer MACs x E_MAC + synaptic ops x E_AC
    synops_by_step_core_pj: np.ndarray | None = None
    synops_by_layer_pj: dict[str, dict[str, float]] = field(default_factory=dict)
    #: latency the mapping adds after the last step (TrueNorth splitter levels: one tick each)
    extra_latency_s: float = 0.0

    @property
    def latency_s(self) -> float:
        return float(np.sum(self.step_s)) + self.extra_latency_s

    @property
    def events_occurred(self) -> tuple[str, ...]:
        """The event types with a nonzero count."""
        return tuple(e for e, v in self.counts_total.items() if v)

    @property
    def lower_bound(self) -> bool:
        """True when the cycle method's energy leaves out something unknown (an unpriced event that
        occurred, or an unknown static power)."""
        return bool(self.unknown_events) or self.static_unknown

    @property
    def latency_lower_bound(self) -> bool:
        return bool(self.unknown_latencies)

    @property
    def energy_pj(self) -> float:
        """The chosen method's energy per inference."""
        return float(self.synops["energy_pj"]) if self.method == "synops" else float(self.total_pj)


def on_board(chip, chips: int):
    """The preset on a board of ``chips`` chips in a near-square grid (a modelling choice, not a product)."""
    import dataclasses
    import math

    if not (isinstance(chips, int) and chips >= 1):
        raise SimulationError(f"--chips must be a positive integer, found {chips!r}")
    bx = math.ceil(math.sqrt(chips))
    return dataclasses.replace(chip, max_chips=chips, board_x=bx, board_y=math.ceil(chips / bx))


def poisson_input(shape: tuple[int, ...], steps: int, rate: float, seed: int) -> np.ndarray:
    """Bernoulli spikes with probability ``rate`` per element and step (seeded).

    Any integer is a seed: a negative one maps to its unsigned 64-bit encoding
    (:func:`neurosim.commands.numpy_seed`), as numpy takes only seeds >= 0. ``steps`` is checked
    against the ``timesteps`` limit and ``steps x shape`` against ``elements`` before allocating."""
    import math

    from neurosim import limits
    from neurosim.commands import numpy_seed

    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)) or not 0.0 <= rate <= 1.0:
        raise SimulationError(f"--rate must be a spike probability per step in [0, 1], found {rate!r}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise SimulationError(f"--timesteps must be a positive integer, found {steps!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise SimulationError(f"--seed must be an integer, found {seed!r}")
    limits.check("timesteps", int(steps), f"--timesteps {int(steps)}")
    limits.check("elements", int(steps) * math.prod(int(d) for d in shape),
                 f"the Poisson input of {int(steps)} steps x shape {tuple(shape)!r}")
    rng = np.random.default_rng(numpy_seed(int(seed)))
    return (rng.random((steps, *shape)) < rate).astype(np.int64)


def _is_quantized(graph: Graph) -> bool:
    return all(graph.nodes[n].fixed is not None for n in graph.spiking_populations())


def _quantize_for(graph: Graph, chip):
    """The graph quantized with the chip's arithmetic (its widths; its leak etc. where the pass
    takes the preset's ``arithmetic``)."""
    from neurosim.passes.quantize import quantize

    return quantize(graph, weight_bits=chip.weight_bits, state_bits=chip.membrane_bits,
                    arithmetic=getattr(chip, "arithmetic", None))


def estimate(graph: Graph, chip, inputs=None, *, rate: float = 0.1, timesteps: int = 16, seed: int = 0,
             method: str = "cycle", chips: int | None = None, contention: bool = False, arith: str = "chip",
             neurons_per_core: int | None = None, mapping=None, allow_overcapacity: bool = False) -> Estimate:
    """Estimate one inference of ``graph`` on ``chip`` (a preset name, path or ChipPreset).

    ``chips`` sets the board size (default: the preset's); ``contention`` adds link queueing to
    the latency (see :func:`neurosim.targets.neuromorphic.model.timing.step_timing`); ``method``
    picks the headline method; ``arith`` is ``"chip"`` (quantize with the chip's arithmetic) or
    ``"float"`` (price the float spike trains); ``neurons_per_core``, ``mapping`` (a mapping file:
    population slice -> core) and ``allow_overcapacity`` (a what-if: capacity violations listed,
    not raised) are handed to the partitioner."""
    from neurosim.targets.neuromorphic.config import load_preset
    from neurosim.targets.neuromorphic.energy import energy_breakdown
    from neurosim.targets.neuromorphic.model.compile import compile_graph
    from neurosim.targets.neuromorphic.model.simulate import simulate
    from neurosim.targets.neuromorphic.model.timing import step_timing
    from neurosim.targets.neuromorphic.partition import partition

    if method not in METHODS:
        raise SimulationError(f"method must be one of {METHODS!r}, found {method!r}")
    if arith not in ARITHS:
        raise SimulationError(f"arith must be one of {ARITHS!r}, found {arith!r}; 'chip' quantizes with the "
                              f"chip's arithmetic, 'float' prices the float spike trains")
    chip = load_preset(chip) if isinstance(chip, str) else chip
    if chips is not None:
        chip = on_board(chip, chips)
    if len(graph.inputs) != 1:
        raise SimulationError(f"estimate needs a single-input model, found inputs {graph.inputs!r}")
    from neurosim.targets.neuromorphic.model.compile import check_engine_support

    check_engine_support(graph)  # the real blocker, before quantization refuses a node it cannot quantize
    in_shape = graph.nodes[graph.inputs[0]].shape
    if inputs is None:
        x = poisson_input(in_shape, timesteps, rate, seed)
    else:
        from neurosim.targets.neuromorphic.model.reference import check_input_array

        x = check_input_array(inputs, graph.inputs[0])
    notes: list[str] = []
    if inputs is None:
        notes.append(f"input: Poisson spikes, rate {rate} per element and step, {timesteps} steps, seed {seed}")
    quant_rows: list[dict] = []
    hw_graph = graph
    quantized_here = False
    if arith == "float":
        if _is_quantized(graph):
            raise SimulationError("arith='float' needs a float model, but every spiking population of this model "
                                  "is already in fixed point; pass arith='chip' (--arith chip) to price it as given")
        notes.append(f"arithmetic: float (--arith float): the float model's spike trains are priced on {chip.name}; "
                     f"the chip's fixed-point arithmetic is not applied")
    elif not _is_quantized(graph):
        q = _quantize_for(graph, chip)
        hw_graph = q.graph
        quantized_here = True
        quant_rows = [_as_dict(r) for r in q.layers]
        notes.append(f"quantized for {chip.name}: {chip.weight_bits}-bit weights, {chip.membrane_bits}-bit membranes")
    else:
        notes.append("the model is already in fixed point: priced as given (no float reference for the "
                     "quantization effect)")
    mode = "float" if arith == "float" else "fixed"
    net = compile_graph(hw_graph, mode)
    placed = partition(net, chip, neurons_per_core=neurons_per_core, mapping=mapping,
                       allow_overcapacity=allow_overcapacity)
    res = simulate(hw_graph, chip, x, mode=mode, mapping=placed, net=net)
    violations = list(getattr(placed, "violations", ()))
    if violations:
        notes.append(f"what-if mapping (allow_overcapacity): {len(violations)} capacity limit(s) exceeded; "
                     f"this chip cannot hold the mapping as given")
    effect = quantization_effect_rows(graph, hw_graph, x, chip, res) if quantized_here else None
    timing = step_timing(res, contention=contention)
    step_s = timing["step_s"]
    if timing["unknown_latencies"]:
        notes.append("latency is a lower bound: no published latency for "
                     + ", ".join(timing["unknown_latencies"]) + f" on {chip.name} (counted as 0)")
    if timing["extra_steps"]:
        notes.append(f"splitter neurons add {timing['extra_steps']} timestep(s) of latency to the inference "
                     f"(one per splitter level; the dynamics are unchanged)")
    time_s = float(np.nansum(step_s)) + timing["extra_s"]
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
    if breakdown.static_unknown:
        notes.append(f"static power of {chip.name} is unknown: the energy leaves it out (a lower bound)")
    by_step_core = sum(per_event_steps.values()) if per_event_steps else np.zeros_like(res.integrate_cycles, dtype=float)
    layers = list(dict.fromkeys(core_pop))
    cols = {p: [i for i, q in enumerate(core_pop) if q == p] for p in layers}
    by_layer_counts = {p: {ev: int(arr[:, cols[p]].sum()) for ev, arr in counts.items()} for p in layers}
    by_layer_pj = {p: float(by_step_core[:, cols[p]].sum()) for p in layers}
    est = Estimate(
        graph=hw_graph, chip=chip, method=method, steps=res.steps, result=res, counts_total=totals,
        counts_by_layer=by_layer_counts, energy_by_event_pj=dict(breakdown.per_event_pj),
        energy_by_layer_pj=by_layer_pj, energy_by_core_pj=by_step_core.sum(axis=0),
        energy_by_step_pj=by_step_core.sum(axis=1), static_pj=breakdown.static_pj, total_pj=breakdown.total_pj,
        unknown_events=tuple(sorted(unknown)), step_s=step_s,
        step_cycles=timing.get("step_cycles"), core_busy=timing["core_units"], busy_unit=timing["unit"],
        quantization=quant_rows, notes=notes, static_unknown=breakdown.static_unknown,
        unknown_latencies=tuple(timing["unknown_latencies"]), arith=arith, quantization_effect=effect,
        extra_latency_s=timing["extra_s"],
    )
    est.synops = synops_estimate(hw_graph, res, chip)
    est.synops_by_step_core_pj, est.synops_by_layer_pj = _synops_split(hw_graph, res, est.synops)
    _check_finite(est)
    return est


def _check_finite(est: Estimate) -> None:
    """Refuse a result that overflowed: a total energy or latency of inf/nan is no answer (a preset
    with absurd constants, e.g. 1e308 pJ per event, would otherwise report "inf J" and exit 0)."""
    import math

    figures = {"total energy (cycle method)": est.total_pj, "static energy": est.static_pj,
               "op-count energy (synops method)": est.synops.get("energy_pj", 0.0), "latency": est.latency_s}
    figures.update({f"energy of event {ev!r}": v for ev, v in est.energy_by_event_pj.items()})
    for what, value in figures.items():
        if not math.isfinite(float(value)):
            raise EnergyError(f"chip {est.chip.name!r}: the {what} of this run is {float(value)!r} (it overflowed); "
                              f"the preset's energy or latency constants are out of any physical range: fix them "
                              f"(per-event energies are pJ, latencies ns)")


# -- quantization effect ----------------------------------------------------------------------------

def quantization_effect_rows(float_graph: Graph, fixed_graph: Graph, inputs, chip, fixed_result=None) -> dict:
    """What quantization changed, per spiking layer and in total (float vs fixed spike counts),
    with the warning flag of this report.

    ``layers``: ``{name: {neurons, float_spikes, fixed_spikes, neurons_changed, changed_fraction}}``
    where ``neurons_changed`` counts the neurons whose spike count over the run differs;
    ``total``: the same summed, with ``spike_change = fixed / float - 1``; ``warn``: True when
    ``|spike_change| > SPIKE_CHANGE_WARN`` or ``changed_fraction > NEURON_CHANGE_WARN``.

    The counts come from :func:`neurosim.targets.neuromorphic.arithmetic.quantization_effect`
    (both graphs in the engine on ``chip``; the engine's float path equals the source framework's
    forward, its fixed path the reference simulator)."""
    from neurosim.targets.neuromorphic.arithmetic import quantization_effect

    spikes = fixed_result.spikes if fixed_result is not None else None
    return _effect_summary(quantization_effect(float_graph, fixed_graph, inputs, chip=chip,
                                               fixed_spikes=spikes)["layers"])


def _effect_summary(layers: dict) -> dict:
    n = sum(r["neurons"] for r in layers.values())
    fl = sum(r["float_spikes"] for r in layers.values())
    fx = sum(r["fixed_spikes"] for r in layers.values())
    changed = sum(r["neurons_changed"] for r in layers.values())
    change = (fx / fl - 1.0) if fl else (0.0 if fx == 0 else None)
    frac = changed / max(1, n)
    warn = (change is None) or abs(change) > SPIKE_CHANGE_WARN or frac > NEURON_CHANGE_WARN
    return {"layers": layers,
            "total": {"neurons": n, "float_spikes": fl, "fixed_spikes": fx, "spike_change": change,
                      "neurons_changed": changed, "changed_fraction": frac},
            "thresholds": {"spike_change": SPIKE_CHANGE_WARN, "changed_fraction": NEURON_CHANGE_WARN},
            "warn": bool(warn)}


# -- the op-count method ----------------------------------------------------------------------------

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
    """The MACs of one step of the projections between the inputs and the first spiking layer(s)."""
    return int(round(sum(_first_layer_flops_by_pop(graph).values())))


def _first_layer_flops_by_pop(graph: Graph) -> dict[str, float]:
    """:func:`_first_layer_flops` split by the first spiking population each projection feeds
    (a projection feeding several splits its MACs evenly between them)."""
    from neurosim.ir.nodes import Projection
    from neurosim.ir.nodes.connections import ConvND

    out: dict[str, float] = {}
    frontier = list(graph.inputs)
    seen = set(frontier)
    while frontier:
        name = frontier.pop()
        for nxt in graph.successors(name):
            node = graph.nodes[nxt]
            if nxt in seen or isinstance(node, SpikingPopulation):
                continue
            seen.add(nxt)
            flops = 0
            if isinstance(node, ConvND):
                flops = node.weight.size * int(np.prod(graph.shapes[nxt][1:]))
            elif isinstance(node, Projection):
                flops = node.dense_weight().size
            if flops:
                targets = _spiking_after(graph, nxt) or [""]
                for t in targets:
                    out[t] = out.get(t, 0.0) + flops / len(targets)
            frontier.append(nxt)
    return out


def _spiking_after(graph: Graph, name: str) -> list[str]:
    """The spiking populations reached from ``name`` through non-spiking nodes."""
    found, stack, seen = [], [name], {name}
    while stack:
        for nxt in graph.successors(stack.pop()):
            if nxt in seen:
                continue
            seen.add(nxt)
            if isinstance(graph.nodes[nxt], SpikingPopulation):
                found.append(nxt)
            else:
                stack.append(nxt)
    return sorted(found)


def _synops_split(graph: Graph, res, s: dict) -> tuple[np.ndarray, dict[str, dict[str, float]]]:
    """The op-count energy by (step, core) and by layer: a first layer's MACs x E_MAC every step
    (spread over its cores by neurons), the other layers' synaptic ops x E_AC where they happen."""
    net = res.net
    core_pop = list(res.mapping.core_population)
    syn = res.counts["synaptic_op"].astype(np.float64)
    by = np.zeros_like(syn)
    first = {p for p, srcs in zip(net.populations, net.pop_sources) if -1 in srcs}
    flops = _first_layer_flops_by_pop(graph)
    unassigned = flops.pop("", 0.0)
    sizes = np.diff(res.mapping.core_range, axis=1)[:, 0].astype(np.float64)
    per_layer = {}
    for p in dict.fromkeys(core_pop):
        cores = [i for i, q in enumerate(core_pop) if q == p]
        if p in first:
            f = flops.get(p, 0.0) + unassigned
            unassigned = 0.0
            share = sizes[cores] / max(1.0, sizes[cores].sum())
            by[:, cores] = f * s["e_mac_pj"] * share[None, :]
            per_layer[p] = {"macs": f * res.steps, "synaptic_ops": 0.0, "mac_pj": f * res.steps * s["e_mac_pj"],
                            "ac_pj": 0.0}
        else:
            ops = float(syn[:, cores].sum())
            by[:, cores] = syn[:, cores] * s["e_ac_pj"]
            per_layer[p] = {"macs": 0.0, "synaptic_ops": ops, "mac_pj": 0.0, "ac_pj": ops * s["e_ac_pj"]}
    return by, per_layer


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

