"""Splitter neurons: fan-out beyond a chip's ``max_fanout_cores`` through relay (copy) neurons.

A TrueNorth neuron targets one axon on one core (Merolla et al., Science 345(6197) 2014,
Supplementary S4): a spike that must reach ``m > 1`` cores is relayed through *splitter*
neurons, the standard practice of the TrueNorth tool flow (Merolla et al. 2014, S4; Esser et al.,
PNAS 113(41):11441-11446, 2016, "Convolutional networks for fast, energy-efficient neuromorphic
computing", where the copies of a layer's outputs are made by splitter neurons): the source's one
target is an axon of a *splitter core*; that axon has a weight-1 synapse to ``ceil(m / f)``
splitter neurons (``f = max_fanout_cores``) of threshold 1 and no leak, and each splitter neuron
fires the tick after and targets ``f`` of the source's cores.

**Model** (one splitter level).

* Every source neuron ``s`` (host inputs are exempt: the host addresses every core) whose packets
  reach ``m_s > f`` physical cores gets ``ceil(m_s / f)`` splitter neurons, each covering ``f`` of
  its target cores in core order; the neurons of one source sit in one splitter core (one axon),
  splitter cores are filled first-fit in source order under the chip's per-core limits (neurons,
  axons = relayed sources, synapse memory) and hold the relays of one population each.
* Function: a splitter neuron's spike train equals its source's, one tick later. All of a
  population's outgoing paths get the same delay (paths without a splitter get a matching extra
  axonal delay; TrueNorth axons have programmable 1-15 tick delays, Merolla et al. 2014, S4), so
  the network computes the same spike trains, shifted: the engine runs the undelayed dynamics and
  the mapping's ``extra_steps`` -- the longest chain of split populations along forward paths,
  ``o(p) = max_{q -> p} o(q) + [q split]``, ``extra_steps = max_p o(p)`` -- is added to an
  inference's latency. A recurrent edge through a splitter would change the recurrence: refused.
* Counts (exact from the source spike counts): the source sends one packet to its splitter core
  (instead of ``m_s``); the splitter core receives it (one synaptic row: ``ceil(m_s / f)``
  synapses, its whole crossbar row with dense storage), updates all its neurons each step (the
  relays whose source spiked are the active ones), and every relay neuron spikes and sends one
  packet per target core with the source's original synapse counts and delays. Hops follow the
  detour source -> splitter core -> target core on the mesh.
"""

from __future__ import annotations

import math

import numpy as np

from neurosim.errors import CapacityError
from neurosim.targets.neuromorphic import packing


def split(net, chip, npc: int, populations: list[str], core_range: np.ndarray, host: np.ndarray, table):
    """Add splitter cores for every source over the fan-out limit.

    ``table`` is the packet table ``(ptr, core, delay, nsyn, fan)`` over ``net.n_total`` sources and
    the virtual cores of ``core_range``. Returns ``(populations, core_range, host, table,
    relay_source, extra_steps, n_split_sources)``; unchanged (``relay_source`` empty) when no source
    needs a splitter."""
    f = chip.max_fanout_cores
    ptr, s_core, s_delay, s_nsyn = (np.asarray(a, dtype=np.int64) for a in table[:4])
    n_src = ptr.size - 1
    n_hosts = int(host.max()) + 1 if host.size else 0
    src_of_seg = np.repeat(np.arange(n_src, dtype=np.int64), np.diff(ptr))
    seg_host = host[s_core] if s_core.size else s_core
    pairs = np.unique(src_of_seg * max(1, n_hosts) + seg_host)
    fan_h = np.bincount(pairs // max(1, n_hosts), minlength=n_src)
    split_src = np.flatnonzero((fan_h > f) & (np.arange(n_src) >= net.n_inputs))
    empty = np.zeros(0, dtype=np.int64)
    if f is None or not split_src.size:
        return populations, core_range, host, table, empty, 0, 0
    pop_of = lambda n: int(np.searchsorted(net.pop_offset, n, side="right") - 1)  # noqa: E731
    core_pop = np.array([net.populations.index(p) for p in populations], dtype=np.int64)
    # relay neurons: per split source, its target hosts in order, f per relay
    relay_src, relay_hosts, group_of = [], [], {}
    cores: list[list[int]] = []  # per splitter core: its split sources
    core_neurons: list[int] = []
    for s in split_src.tolist():
        hosts = np.unique(seg_host[ptr[s]:ptr[s + 1]])
        q = pop_of(s)
        targets = np.unique(core_pop[s_core[ptr[s]:ptr[s + 1]]])
        if np.any(targets <= q):
            raise CapacityError(
                f"population {net.populations[q]!r} sends recurrent spikes from neuron {s} to {hosts.size} cores but "
                f"chip {chip.name!r} allows a fan-out of {f} cores (over by {hosts.size - f}), and a splitter neuron "
                f"would delay the recurrence by one tick; map the population onto fewer cores (--neurons-per-core, "
                f"a mapping file) or pick a chip with multicast")
        n_rel = math.ceil(hosts.size / f)
        if n_rel > npc:
            raise CapacityError(
                f"population {net.populations[q]!r}: neuron {s} reaches {hosts.size} cores, needing {n_rel} splitter "
                f"neurons, more than one splitter core holds ({npc}, over by {n_rel - npc}); splitter trees deeper "
                f"than one level are not modelled: map the target population onto fewer cores")
        fits = False
        if cores and pop_of(cores[-1][0]) == q:
            need = packing.usage(chip, core_neurons[-1] + n_rel, range(len(cores[-1]) + 1), core_neurons[-1] + n_rel)
            fits = not packing.over(chip, npc, need)
        if not fits:
            cores.append([])
            core_neurons.append(0)
        cores[-1].append(s)
        core_neurons[-1] += n_rel
        group_of[s] = (len(cores) - 1, len(relay_src), n_rel)
        for j in range(n_rel):
            relay_src.append(s)
            relay_hosts.append(set(hosts[j * f:(j + 1) * f].tolist()))
    n_v = len(populations)
    base = net.n_total
    new_pops = list(populations)
    new_range = [tuple(r) for r in np.asarray(core_range).tolist()]
    new_host = host.tolist()
    at = base
    for k, members in enumerate(cores):
        new_pops.append(net.populations[pop_of(members[0])])
        new_range.append((at, at + core_neurons[k]))
        new_host.append(n_hosts + k)
        at += core_neurons[k]
    # the new packet table over n_total + relays sources
    out_c, out_d, out_n, counts = [], [], [], []
    for s in range(n_src):
        g0, g1 = ptr[s], ptr[s + 1]
        if s in group_of:
            k, _, n_rel = group_of[s]
            out_c.append(np.array([n_v + k]))
            out_d.append(np.array([0]))
            out_n.append(np.array([n_rel]))
            counts.append(1)
        else:
            out_c.append(s_core[g0:g1])
            out_d.append(s_delay[g0:g1])
            out_n.append(s_nsyn[g0:g1])
            counts.append(g1 - g0)
    for j, s in enumerate(relay_src):
        g0, g1 = ptr[s], ptr[s + 1]
        mine = np.isin(seg_host[g0:g1], list(relay_hosts[j]))
        out_c.append(s_core[g0:g1][mine])
        out_d.append(s_delay[g0:g1][mine])
        out_n.append(s_nsyn[g0:g1][mine])
        counts.append(int(mine.sum()))
    new_ptr = np.zeros(len(counts) + 1, dtype=np.int64)
    new_ptr[1:] = np.cumsum(counts)
    cat = lambda parts: np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)  # noqa: E731
    new_core = cat(out_c)
    new_table = (new_ptr, new_core, cat(out_d), cat(out_n), _fan(new_ptr, new_core))
    # extra latency: the longest chain of split populations along forward paths
    split_pops = {pop_of(s) for s in split_src.tolist()}
    offset = [0] * len(net.populations)
    for p in range(len(net.populations)):  # schedule order: forward sources come first
        offset[p] = max([offset[q] + (q in split_pops) for q in net.pop_sources[p] if q >= 0], default=0)
    extra = max(offset, default=0)
    return (new_pops, np.array(new_range, dtype=np.int64).reshape(-1, 2), np.array(new_host, dtype=np.int64),
            new_table, np.array(relay_src, dtype=np.int64), extra, int(split_src.size))


def _fan(ptr: np.ndarray, core: np.ndarray) -> np.ndarray:
    """Distinct target cores per source."""
    n = ptr.size - 1
    src = np.repeat(np.arange(n, dtype=np.int64), np.diff(ptr))
    if not core.size:
        return np.zeros(n, dtype=np.int64)
    u = np.unique(src * (int(core.max()) + 1) + core)
    return np.bincount(u // (int(core.max()) + 1), minlength=n).astype(np.int64)
