"""Expected values for the core's testbenches, computed by the engine (never re-derived here).

:func:`expected` builds the one-core IR graph a :class:`~neurosim.hdl.config.CoreConfig` implements
(input -> dense projection -> LIF/IF), runs it through ``neurosim.engine.simulate`` on the
``neurosim-core`` preset with the core's lane count and pipeline depths, and returns the spikes,
the final membranes, the cycles per timestep and the events the core receives. An input event
reaches the core only if its axon has a nonzero synapse there (the router sends packets only to
cores holding the axon's row), exactly as the engine counts packets.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from neurosim.hdl.config import (
    EVENT_OVERHEAD_CYCLES,
    FIRE_PIPELINE_CYCLES,
    INTEGRATE_PIPELINE_CYCLES,
    CoreConfig,
)


@dataclass(frozen=True)
class CoreProgram:
    """What is loaded into a core: integer codes, shapes ``weights[axons, neurons]``, others ``[neurons]``."""

    weights: np.ndarray
    bias: np.ndarray
    threshold: np.ndarray
    v_reset: np.ndarray


@dataclass(frozen=True)
class Expected:
    spikes: np.ndarray  # [T, neurons] 0/1
    membranes: np.ndarray  # [neurons] final
    cycles: np.ndarray  # [T]
    events: list  # per step: axon indices the core receives, ascending


def graph_of(cfg: CoreConfig, prog: CoreProgram):
    from neurosim.ir import IF, LIF, Dense, FixedPoint, Graph, Input, NeuronFixedPoint, Output

    fx = NeuronFixedPoint(state=FixedPoint(cfg.membrane_bits, 0), leak="shift" if cfg.leak_shift else "none",
                          leak_shift=cfg.leak_shift, acc_width=cfg.acc_bits)
    common = dict(shape=(cfg.neurons,), threshold=prog.threshold.astype(float), bias=prog.bias.astype(float),
                  v_reset=prog.v_reset.astype(float), reset=cfg.reset, spike_rule=cfg.spike_rule, fixed=fx)
    pop = LIF(decay=1 - 2.0 ** -cfg.leak_shift, **common) if cfg.leak_shift else IF(**common)
    return Graph.chain([
        ("input", Input(shape=(cfg.axons,))),
        ("syn", Dense(weight=prog.weights.T.astype(float), weight_format=FixedPoint(cfg.weight_bits, 0))),
        ("core", pop),
        ("output", Output(shape=(cfg.neurons,))),
    ])


def core_chip():
    """The neurosim-core preset with the RTL's cycle parameters."""
    from neurosim.hw.chip import load_preset

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


def expected(cfg: CoreConfig, prog: CoreProgram, inputs: np.ndarray) -> Expected:
    from neurosim.engine.simulate import simulate

    res = simulate(graph_of(cfg, prog), chip_of(cfg), np.asarray(inputs, dtype=np.int64), mode="fixed")
    assert res.mapping.n_cores == 1, "a core configuration maps onto exactly one core"
    live = np.any(prog.weights != 0, axis=1)
    events = [sorted(int(a) for a in np.nonzero((inputs[t] != 0) & live)[0]) for t in range(inputs.shape[0])]
    cycles = (res.integrate_cycles + res.fire_cycles)[:, 0]
    return Expected(spikes=res.spikes["core"].astype(np.int64), membranes=res.membranes["core"].astype(np.int64),
                    cycles=cycles.astype(np.int64), events=events)


def random_program(cfg: CoreConfig, rng: np.random.Generator, density: float = 0.5) -> CoreProgram:
    """Seeded random codes that keep every step's synaptic sum inside the accumulator."""
    wmax = (1 << (cfg.weight_bits - 1)) - 1
    w = rng.integers(-wmax - 1, wmax + 1, size=(cfg.axons, cfg.neurons)) * (rng.random((cfg.axons, cfg.neurons)) < density)
    acc_max = (1 << (cfg.acc_bits - 1)) - 1
    worst = np.abs(w).sum(axis=0).max() if w.size else 0
    if worst > acc_max:  # scale down rather than overflow the accumulator
        w = (w * (acc_max // max(1, worst))).astype(np.int64)
    vmax = cfg.v_max
    thr = rng.integers(1, max(2, min(vmax, 3 * wmax)), size=cfg.neurons)
    bias = rng.integers(-2, 3, size=cfg.neurons)
    v_reset = rng.integers(-min(3, vmax), 1, size=cfg.neurons)
    return CoreProgram(weights=w.astype(np.int64), bias=bias, threshold=thr, v_reset=v_reset)
