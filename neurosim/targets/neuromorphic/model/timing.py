r"""The latency model: a timestep's duration along the critical path, from an engine run's counts.

**Cycle chips** (``timing = "cycles"``; neurosim-core, generic-45nm): a core's time is its cycle
count (integrate + fire, :mod:`~neurosim.targets.neuromorphic.model.simulate`). A population starts
when all the populations feeding it on zero-delay edges have fired and their packets have crossed
the mesh (``max hops x hop latency``); the step ends at the last population's end plus the barrier.

**Event-latency chips** (``timing = "event_latency"``; Loihi), per step :math:`t` and core :math:`c`,
with :math:`n_e` the core's count of event :math:`e` and :math:`\ell_e` its ``latency_ns``:

.. math::

    g_c = \sum_{e \in \{\text{update active, update inactive, spike\_out, packet\_out}\}} n_e \ell_e
    \quad\text{(generation: neuron updates, spike and message generation, one serial pipeline)}

    r_c = n_{\text{synaptic\_op}} \ell_{\text{synaptic\_op}} + p_c \ell_{\text{packet\_in}}
    \quad\text{(receipt: } p_c \text{ packets in; } \ell_{\text{packet\_in}} = 0 \text{ while the vocabulary has no such event)}

    h_c = \max(\text{max hops in} \times \max(\ell_{\text{hop\_ew}}, \ell_{\text{hop\_ns}}),\ \ell_{\text{spike\_in\_tile}} [\text{in-tile packets}])

    d_c = h_c + r_c + g_c \quad \text{(population fed on a zero-delay edge: it integrates this
    step's packets before it updates)}

    d_c = \max(g_c,\ h_c + r_c) \quad \text{(population fed only on delayed edges: the packets it
    receives feed a later step, so receipt overlaps generation, as in SANA-FE's detailed model)}

    \text{step} = \max_p \big(\text{start}_p + \max_{c \in p} d_c\big) + \text{barrier}
    \ (+\ \text{chip\_barrier\_ns} \times (\text{chips} - 1))

where :math:`\text{start}_p` is the latest end of the populations feeding :math:`p` on zero-delay
edges. Virtual cores packed onto one physical core (``Mapping.core_host``) share its pipelines:
each one's :math:`d_c` becomes the sum over the virtual cores of its host. The SANA-FE
correspondence of every term is in docs/chips.md ("SANA-FE").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from neurosim.constants import Constant

if TYPE_CHECKING:
    from neurosim.targets.neuromorphic.model.simulate import EngineResult


def core_timing(chip) -> dict[str, int]:
    """The core spec's cycle parameters of a preset. Event-latency chips (Loihi) publish no lane
    count or pipeline depths: the cycle columns are then computed for one lane and no pipeline,
    and their latency comes from the per-event latencies instead (see :func:`step_timing`)."""
    get = lambda name, default: int(getattr(chip, name, None) or default)  # noqa: E731
    return {"lanes": get("lanes", 1), "event_overhead": get("event_overhead_cycles", 0),
            "integrate_pipeline": get("integrate_pipeline_cycles", 0), "fire_pipeline": get("fire_pipeline_cycles", 0),
            "hop_latency": get("hop_latency_cycles", 0), "barrier": get("barrier_cycles", 0)}


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
        gen_events = ("neuron_update_active", "neuron_update_inactive", "spike_out", "packet_out")
        lat, unknown = {}, []
        for e in (*gen_events, "synaptic_op", "packet_in", "hop_ew", "hop_ns", "spike_in_tile"):
            const = chip.latency_ns.get(e)
            value = None if const is None else const.value
            counted = result.counts.get(e)
            if value is None and counted is not None and counted.any() and not getattr(const, "not_applicable", False):
                unknown.append(e)
            lat[e] = value or 0.0
        gen = sum(result.counts[e] * lat[e] for e in gen_events)
        rx = result.counts["synaptic_op"] * lat["synaptic_op"] + result.packets_in * lat["packet_in"]
        hop_ns = max(lat["hop_ew"], lat["hop_ns"])
        # a packet crosses max_hops_in routers; a same-tile packet costs the in-tile delivery latency
        noc = np.maximum(result.max_hops_in * hop_ns, np.where(result.counts["spike_in_tile"] > 0, lat["spike_in_tile"], 0.0))
        barrier_const = getattr(chip, "barrier_ns", None)
        barrier = float(barrier_const.value) if barrier_const is not None and barrier_const.value else 0.0
        if result.mapping.n_chips > 1:  # every chip beyond the first adds its share of the board-wide barrier
            constants = getattr(chip, "constants", None)  # duck-typed test chips declare none
            chip_const = constants()["chip_barrier_ns"] if constants else Constant(None, "ns", "", "not applicable")
            if chip_const.value is None:
                if not chip_const.not_applicable:
                    unknown.append("chip_barrier_ns")
            else:
                barrier += float(chip_const.value) * (result.mapping.n_chips - 1)
        unit_s = 1e-9
    if contention:
        per_hop = float(core_timing(chip)["hop_latency"]) if chip.timing == "cycles" else hop_ns
        noc = np.maximum(noc, result.packets_in * per_hop)
    n_c = len(core_pop)
    if chip.timing == "cycles":
        duration = noc + core_time
        parts = None
    else:
        fed_now = np.array([bool(net.pop_sources[p]) for p in core_pop], dtype=bool)
        duration = np.where(fed_now[None, :], noc + rx + gen, np.maximum(gen, noc + rx)) if n_c else np.zeros((steps, 0))
        core_time = gen + rx
        parts = {"generation": gen, "receipt": rx, "noc": noc}
    host = getattr(result.mapping, "core_host", None) if chip.timing != "cycles" else None
    if host is not None and n_c:  # virtual cores on one physical core run one after the other
        host = np.asarray(host, dtype=np.int64)
        per_host = np.zeros((steps, int(host.max()) + 1))
        np.add.at(per_host.T, host, duration.T)
        duration = per_host[:, host]
    finish = np.zeros((steps, len(net.populations)))
    for p in range(len(net.populations)):
        start = np.zeros(steps)
        for q in net.pop_sources[p]:
            if q >= 0:
                start = np.maximum(start, finish[:, q])
        mine = core_pop == p
        if np.any(mine):
            finish[:, p] = start + duration[:, mine].max(axis=1)
        else:
            finish[:, p] = start
    step = (finish.max(axis=1) if finish.size else np.zeros(steps)) + barrier
    out = {"step_units": step, "core_units": np.asarray(core_time, dtype=np.float64), "unit_s": unit_s,
           "unit": "cycles" if chip.timing == "cycles" else "ns",
           "unknown_latencies": tuple(unknown) if chip.timing != "cycles" else ()}
    if parts is not None:  # the event-latency terms per core (ns) and the barrier, for breakdowns
        out.update({f"{k}_units": np.asarray(v, dtype=np.float64) for k, v in parts.items()})
        out["barrier_units"] = barrier
    if chip.timing == "cycles":
        out["step_cycles"] = step
    out["step_s"] = step * unit_s if unit_s is not None else np.full(steps, np.nan)
    tick = getattr(chip, "timestep_s", None)
    if tick is not None and getattr(tick, "value", None):
        out["step_s"] = np.maximum(out["step_s"], tick.value)  # a fixed tick (TrueNorth) bounds the step from below
    # splitter levels (TrueNorth) delay the output by whole timesteps without changing the dynamics:
    # each adds one tick (a fixed-tick chip) or one longest step to the inference's latency
    extra = int(getattr(result.mapping, "extra_steps", 0) or 0)
    out["extra_steps"] = extra
    if extra and steps:
        per = tick.value if tick is not None and getattr(tick, "value", None) else float(np.nanmax(out["step_s"]))
        out["extra_s"] = extra * float(per)
    else:
        out["extra_s"] = 0.0
    return out
