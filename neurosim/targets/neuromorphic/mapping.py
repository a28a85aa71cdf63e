"""From a model to the cores the RTL implements: one :class:`CoreDesign` per mapped core.

The model is quantized for the ``neurosim-core`` preset (its weight and membrane widths), mapped
by the partition pass, and run once in the engine. Every core then gets: its structural
configuration (its neurons, the distinct sources feeding it as axons, the preset's lanes and
widths, its population's leak, reset and spike rule); its program (the effective synapse
matrix from those sources, each neuron's bias plus the projection biases, thresholds and reset
values, all integer codes); and the input trace it receives in that run (its sources' spikes),
with the engine's spikes and final membranes for its neurons.

Limits (stated in docs/verification.md): one population per core, forward synapses of delay 0
only (no recurrent edges or Delay nodes), single-spike neurons (``gt``/``ge``), LIF/IF with a
shift leak (or none), ``input_shift`` 0, no refractory time; immediate or delayed reset. Each core
is verified on the exact event stream the engine's mesh delivers to it; :func:`top_of` builds the
whole model as one design (the cores plus a generated router,
:class:`~neurosim.targets.neuromorphic.hdl.top.MultiCoreTop`), verified against the engine too.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from neurosim.errors import UnsupportedError
from neurosim.ir.graph import Graph
from neurosim.targets.neuromorphic.hdl.config import (
    EVENT_OVERHEAD_CYCLES,
    FIRE_PIPELINE_CYCLES,
    INTEGRATE_PIPELINE_CYCLES,
    CoreConfig,
    CoreProgram,
)

def core_chip():
    """The neurosim-core preset with the RTL's cycle parameters."""
    from neurosim.targets.neuromorphic.config import load_preset

    return dataclasses.replace(load_preset("neurosim-core"), synapse_storage="dense",
                               event_overhead_cycles=EVENT_OVERHEAD_CYCLES,
                               integrate_pipeline_cycles=INTEGRATE_PIPELINE_CYCLES,
                               fire_pipeline_cycles=FIRE_PIPELINE_CYCLES)


def chip_of(cfg: CoreConfig):
    """``core_chip`` sized so that the whole configuration maps onto one core."""
    return dataclasses.replace(
        core_chip(), neurons_per_core=cfg.neurons, axons_per_core=cfg.axons, lanes=cfg.lanes,
        weight_bits=cfg.weight_bits, membrane_bits=cfg.membrane_bits, synapse_storage=cfg.storage,
        synapse_memory_bytes=None,
    )


#: the fixed-point leaks the generated core implements (NeuronFixedPoint.leak)
CORE_LEAKS = ("shift", "none")


def check_population(name: str, node) -> None:
    """Raise :class:`UnsupportedError` unless the generated core implements population ``name``:
    LIF/IF, spike rule gt/ge, leak ``shift``/``none`` with ``input_shift`` 0, no refractory time
    (each error names the node, what it uses and the fix)."""
    if node.spike_rule == "multi" or type(node).__name__ not in ("LIF", "IF"):
        raise UnsupportedError(f"population {name!r}: the generated core implements LIF/IF with spike rule gt/ge, "
                               f"found {type(node).__name__} with {node.spike_rule!r}")
    fx = node.fixed
    if fx.leak not in CORE_LEAKS:
        raise UnsupportedError(f"population {name!r}: the generated core implements the leaks {CORE_LEAKS!r}, found "
                               f"leak {fx.leak!r}; quantize for the neurosim-core preset (shift leak) to put it in RTL")
    shift = getattr(fx, "input_shift", 0)
    if shift:
        raise UnsupportedError(f"population {name!r}: the generated core adds the synaptic sum unshifted, found "
                               f"input_shift {shift!r}; quantize for the neurosim-core preset (input_shift 0) to put "
                               f"it in RTL")
    if getattr(node, "refractory_steps", 0):
        raise UnsupportedError(f"population {name!r}: the generated core has no refractory counter, found "
                               f"refractory_steps {node.refractory_steps!r}; set refractory_steps=0 to put it in RTL")


@dataclass
class CoreDesign:
    index: int
    population: str
    neurons: range  # the population's flat neuron indices on this core
    sources: np.ndarray  # global source indices feeding the core (its axons, in order)
    config: CoreConfig
    program: CoreProgram
    inputs: np.ndarray  # [T, axons] spikes the core receives
    spikes: np.ndarray  # [T, neurons] the engine's spikes of the core's neurons
    membranes: np.ndarray  # [neurons] the engine's final membranes


def cores_of(graph: Graph, inputs: np.ndarray, chip=None) -> tuple[list[CoreDesign], object]:
    """Quantize (if needed), map and run ``graph``; return its cores and the engine result."""
    from neurosim.targets.neuromorphic.model.simulate import simulate
    from neurosim.targets.neuromorphic.estimate import _is_quantized

    from neurosim.targets.neuromorphic.model.compile import check_engine_support

    chip = chip or core_chip()
    check_engine_support(graph)
    if not _is_quantized(graph):
        from neurosim.passes.quantize import quantize

        graph = quantize(graph, weight_bits=chip.weight_bits, state_bits=chip.membrane_bits).graph
    for name, node in graph.nodes.items():  # refuse what the core cannot run before the engine runs it
        if getattr(node, "fixed", None) is not None and hasattr(node, "spike_rule"):
            check_population(name, node)
    res = simulate(graph, chip, inputs, mode="fixed")
    net, mapping = res.net, res.mapping
    syn = net.synapse_list()
    if np.any(syn.delay != 0):
        raise UnsupportedError("the generated core handles forward synapses only; this model has recurrent edges or "
                               "delays, which the RTL flow does not map yet")
    steps = res.steps
    flat_in = np.asarray(inputs, dtype=np.int64).reshape(steps, -1)
    all_spikes = np.concatenate([flat_in] + [res.spikes[p].reshape(steps, -1).astype(np.int64)
                                             for p in net.populations], axis=1)
    src_of = np.repeat(np.arange(net.n_total), np.diff(syn.ptr))
    designs = []
    for c, (a, b) in enumerate(mapping.core_range):
        p = mapping.core_population[c]
        pi = net.populations.index(p)
        node = graph.nodes[p]
        check_population(p, node)
        mine = (syn.target >= a) & (syn.target < b)
        sources = np.unique(src_of[mine])
        weights = np.zeros((sources.size, b - a), dtype=np.int64)
        row = np.searchsorted(sources, src_of[mine])
        weights[row, syn.target[mine] - a] = syn.weight[mine].astype(np.int64)
        fx = node.fixed
        cfg = CoreConfig(neurons=int(b - a), axons=int(max(1, sources.size)), lanes=int(chip.lanes),
                         weight_bits=int(chip.weight_bits), membrane_bits=int(fx.state.width), acc_bits=int(fx.acc_width),
                         leak_shift=int(fx.leak_shift) if fx.leak == "shift" else 0, reset=node.reset,
                         reset_timing=node.reset_timing, spike_rule=node.spike_rule)
        sl = slice(a, b)
        prog = CoreProgram(
            weights=weights if sources.size else np.zeros((1, b - a), dtype=np.int64),
            bias=(net.bias[sl] + net.const_in[sl]).astype(np.int64), threshold=net.threshold[sl].astype(np.int64),
            v_reset=net.v_reset[sl].astype(np.int64))
        core_inputs = all_spikes[:, sources] if sources.size else np.zeros((steps, 1), dtype=np.int64)
        off = int(net.pop_offset[pi])
        designs.append(CoreDesign(
            index=c, population=p, neurons=range(a - off, b - off), sources=sources, config=cfg, program=prog,
            inputs=core_inputs, spikes=res.spikes[p].reshape(steps, -1)[:, a - off:b - off].astype(np.int64),
            membranes=res.membranes[p].reshape(-1)[a - off:b - off].astype(np.int64)))
    return designs, res


def top_of(designs: list[CoreDesign], n_inputs: int, mutate: str | None = None):
    """The multi-core top of ``designs``: cores, routes per global source, feeders per core
    (``mutate``: one of :attr:`~neurosim.targets.neuromorphic.hdl.top.MultiCoreTop.MUTATIONS`, for the
    mutation campaign).

    Global sources are numbered as in the engine: the model's input elements first, then every
    core's neurons in core order (cores hold contiguous neuron ranges in population order).
    """
    from neurosim.targets.neuromorphic.hdl.top import MultiCoreTop

    total = n_inputs + sum(d.config.neurons for d in designs)
    start = [n_inputs]
    for d in designs:
        start.append(start[-1] + d.config.neurons)
    routes: list[list[tuple[int, int]]] = [[] for _ in range(total)]
    feeders: list[list[int]] = []
    for j, d in enumerate(designs):
        if d.sources.size == 0:
            feeders.append([])
            continue
        for axon, s in enumerate(d.sources.tolist()):
            routes[s].append((j, axon))
        owners = {-1 if s < n_inputs else int(np.searchsorted(start, s, side="right") - 1) for s in d.sources.tolist()}
        feeders.append(sorted(owners))
    cores = [(d.config, d.program) for d in designs]
    return MultiCoreTop(cores, routes, feeders, n_inputs, mutate=mutate)
