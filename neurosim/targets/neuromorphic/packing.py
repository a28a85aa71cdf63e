"""Packing: several small virtual cores (population slices) share one physical core where they fit.

A virtual core is a contiguous neuron range of one population (the unit the engine's dynamics and
the per-core counts use); a physical core is what the chip has. A set of virtual cores fits one
physical core when, summed over the set,

* neurons ``sum_i n_i <= neurons_per_core`` (or the ``neurons_per_core`` cap asked for),
* axons ``|U_i S_i| <= axons_per_core``, ``S_i`` the distinct sources with a synapse into virtual
  core ``i`` (a source feeding two packed populations uses one axon: one input row),
* synapse memory ``<= synapse_memory_bytes``: sparse storage ``sum_i nnz_i x (weight_bits +
  index_bits) / 8``; dense storage the crossbar ``|U_i S_i| x sum_i n_i x weight_bits / 8``.

:func:`pack` is first-fit over the virtual cores in population order (the last
:data:`WINDOW` physical cores opened are the candidates, so it stays linear on large models):
deterministic, and a core's populations stay neighbours in the schedule.
"""

from __future__ import annotations

import math

import numpy as np

#: first-fit looks at this many of the most recently opened physical cores
WINDOW = 64


def core_sources(seg_ptr: np.ndarray, seg_core: np.ndarray, n_cores: int) -> list[np.ndarray]:
    """The distinct sources with a packet (synapses) into every virtual core, from the packet table."""
    src = np.repeat(np.arange(seg_ptr.size - 1, dtype=np.int64), np.diff(seg_ptr))
    order = np.lexsort((src, seg_core))
    c_sorted, s_sorted = seg_core[order], src[order]
    cuts = np.searchsorted(c_sorted, np.arange(n_cores + 1))
    return [np.unique(s_sorted[cuts[c]:cuts[c + 1]]) for c in range(n_cores)]


def core_nnz(seg_core: np.ndarray, seg_nsyn: np.ndarray, n_cores: int) -> np.ndarray:
    """Synapses stored by every virtual core."""
    return np.bincount(seg_core, weights=seg_nsyn, minlength=n_cores).astype(np.int64)[:n_cores]


def memory_bytes(chip, axons: int, neurons: int, nnz: int) -> int:
    """Synapse memory of a core (module docstring)."""
    if chip.synapse_storage == "dense":
        return -(-axons * neurons * chip.weight_bits // 8)
    index_bits = max(1, math.ceil(math.log2(max(2, chip.neurons_per_core))))
    return -(-nnz * (chip.weight_bits + index_bits) // 8)


def usage(chip, neurons: int, sources: set | np.ndarray, nnz: int) -> dict[str, int]:
    """What a physical core holding these virtual cores needs, per resource."""
    axons = len(sources)
    out = {"neurons": int(neurons), "axons": int(axons)}
    if chip.synapse_memory_bytes is not None:
        out["synapse_memory_bytes"] = memory_bytes(chip, axons, neurons, nnz)
    return out


def limits(chip, npc: int) -> dict[str, int]:
    out = {"neurons": int(npc), "axons": int(chip.axons_per_core)}
    if chip.synapse_memory_bytes is not None:
        out["synapse_memory_bytes"] = int(chip.synapse_memory_bytes)
    return out


def over(chip, npc: int, need: dict[str, int]) -> list[tuple[str, int, int]]:
    """The ``(resource, needed, limit)`` a core's needs exceed."""
    lim = limits(chip, npc)
    return [(r, need[r], lim[r]) for r in lim if need[r] > lim[r]]


def pack(chip, npc: int, neurons: np.ndarray, sources: list[np.ndarray], nnz: np.ndarray) -> np.ndarray:
    """The physical core of every virtual core (first-fit, module docstring). A virtual core that
    alone exceeds a limit gets a core of its own (the caller reports it)."""
    host = np.zeros(len(neurons), dtype=np.int64)
    open_n: list[int] = []
    open_src: list[set] = []
    open_nnz: list[int] = []
    for c in range(len(neurons)):
        n_c, s_c, z_c = int(neurons[c]), sources[c], int(nnz[c])
        placed = False
        for h in range(max(0, len(open_n) - WINDOW), len(open_n)):
            union = open_src[h].union(s_c.tolist())
            if not over(chip, npc, usage(chip, open_n[h] + n_c, union, open_nnz[h] + z_c)):
                open_n[h] += n_c
                open_src[h] = union
                open_nnz[h] += z_c
                host[c] = h
                placed = True
                break
        if not placed:
            host[c] = len(open_n)
            open_n.append(n_c)
            open_src.append(set(s_c.tolist()))
            open_nnz.append(z_c)
    return host


def host_usage(chip, host: np.ndarray, neurons: np.ndarray, sources: list[np.ndarray],
               nnz: np.ndarray) -> list[dict[str, int]]:
    """Per physical core, what its virtual cores need together."""
    n_hosts = int(host.max()) + 1 if host.size else 0
    out = []
    for h in range(n_hosts):
        members = np.flatnonzero(host == h)
        src = np.unique(np.concatenate([sources[c] for c in members])) if members.size else np.zeros(0)
        out.append(usage(chip, int(neurons[members].sum()), src, int(nnz[members].sum())))
    return out
