"""The latency model: a timestep's duration along the critical path, from an engine run's counts.

A population starts when all the populations feeding it (forward edges) have fired and their
packets have crossed the mesh (``max hops x hop latency``); the chip's step ends at the last
population's end plus the barrier (plus ``chip_barrier_ns`` per chip beyond the first). Chips
with ``timing = "event_latency"`` use the preset's per-event latencies instead of cycles.
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
        timed = ("synaptic_op", "neuron_update_active", "neuron_update_inactive", "spike_out", "packet_out")
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
