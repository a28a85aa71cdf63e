"""The numba kernels of the cycle-level engine: the dynamics of all timesteps in one call, then
the accounting as a separate pass over the spike raster.

Arrays in, arrays out; :mod:`neurosim.targets.neuromorphic.model.simulate` prepares them.

**Dynamics** (:func:`run_dynamics`), one timestep:

1. input elements with a nonzero value are delivered;
2. every spiking population, in schedule order, counts its cores' active neurons, runs its neuron
   update (:mod:`~neurosim.targets.neuromorphic.model.neurons`) with the accumulated input of this
   step, records its spikes in the raster, and delivers each spike;
3. **delivery** of a value ``x`` from a source: along every route of its group, through the
   route's ops in compact form (:mod:`~neurosim.targets.neuromorphic.model.projections`), into
   a ring of accumulators ``delay`` steps ahead.

A population's spikes are delivered after its update sweep, in neuron order: the same result as
inline delivery, since a population never feeds its own current step (recurrent edges are delayed).

**Accounting** (:func:`account`): every per-core, per-step count is a linear function of the
spike raster and the per-source packet table (one packet per source, target core and delay, with
the number of synapses the core reads for it), so it is computed after the dynamics, in parallel
beside the dynamics (a second thread, one chunk of steps behind): a spike of value ``x`` is ``k = x`` packets when ``x`` is a whole number
>= 1 and one packet otherwise; a packet of ``n`` synapses adds ``k n`` synaptic ops, ``k``
packets and ``k (event_overhead + ceil(n / lanes))`` integrate cycles to its target core ``delay``
steps later, plus ``k`` x its core pair's in-tile packet, east-west, north-south and chip hops,
and raises the core's longest-route statistic; the source core generates the ``k`` packets (message
generation, the ``packet_out`` event) at the step the spike fired.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from neurosim.targets.neuromorphic.model.neurons import update_range
from neurosim.targets.neuromorphic.model.projections import _scratch, deliver

#: Columns of the per-step, per-core count array and of a packet's contribution.
C_SYNOPS, C_PACKETS, C_CYCLES, C_IN_TILE, C_HOP_EW, C_HOP_NS, C_CHIP_HOPS, C_PACKETS_OUT = range(8)
N_COUNTS = 8


@njit(cache=True, error_model="numpy", nogil=True)  # error model as neurons.update_range, which it inlines
def run_dynamics(inputs, fixed, prog, params, state, n_in, n_slots, pop_group, pop_cores, core_start, core_stop,
                 acc, spikes, active, fired, fired_val, err, t0, t1):
    """Run steps ``t0..t1-1`` (the state carries over between calls); returns 0, or 1 + the
    population index whose accumulator overflowed (``err``: step, neuron, value).
    ``spikes[t, n - n_in]`` receives every spike; ``active[t, c]`` the neurons of core ``c`` with
    nonzero synaptic input at step ``t``."""
    n_pops = pop_cores.shape[0] - 1
    n_total = state.v.shape[0]
    n_groups_in = prog.group_off.shape[0] - 1 - n_pops
    B = _scratch(prog.buf_size, 1)  # stage buffers of multi-op paths
    for t in range(t0, t1):
        base = (t % n_slots) * n_total
        for grp in range(n_groups_in):
            a, b = prog.group_off[grp], prog.group_off[grp + 1]
            for j in range(a, b):
                x = inputs[t, j]
                if x != 0.0:
                    deliver(prog, B, grp, j - a, x, acc, t, n_slots, n_total)
        for p in range(n_pops):
            grp = pop_group[p]
            g0 = prog.group_off[grp]
            c0, c1 = pop_cores[p], pop_cores[p + 1]
            if c1 == c0:
                continue
            # the active counts per core first, then one update sweep over the whole population: a
            # population never feeds its own current step, so delivering its spikes after the sweep
            # is the same as after each core's (and a sweep per core costs ~1 us of setup on Loihi's
            # thousands of small cores)
            for c in range(c0, c1):
                seg = acc[base + core_start[c]:base + core_stop[c]]
                n_active = 0
                for j in range(seg.size):
                    n_active += seg[j] != 0.0
                active[t, c] = n_active
            _, n_fired, status = update_range(t, p, core_start[c0], core_stop[c1 - 1], base, fixed, acc, params,
                                              state, fired, fired_val, err)
            if status:
                return status
            for k in range(n_fired):
                n = fired[k]
                s = fired_val[k]
                spikes[t, n - n_in] = s
                deliver(prog, B, grp, n - g0, s, acc, t, n_slots, n_total)
    return 0


@njit(cache=True, inline="always")
def _packets(x):
    # a value that is a positive whole count k > 1 travels as k packets; anything else as one
    return np.int64(x) if (x >= 1.0 and x == np.floor(x)) else np.int64(1)


@njit(cache=True, nogil=True)
def account(inputs, spikes, n_in, seg_ptr, seg_core, seg_delay, seg_nsyn, seg_pair, src_delays, pair_src, pair_dst,
            pair_vec, seg_lead, pair_hops, lanes, event_overhead, n_slots, counts, max_hops, pair_count, ta0, ta1):
    """The per-step, per-core counts (module docstring) of target steps ``ta0..ta1-1``: they need
    the raster up to step ``ta1 - 1`` only, so :func:`~neurosim.targets.neuromorphic.model.simulate.simulate`
    runs this on a second thread, one chunk of steps behind the dynamics.

    Per packet only what depends on its synapse count is added (synaptic ops, integrate cycles)
    plus one to its core pair's packets (``pair_count``, a ``[n_pairs]`` scratch); what depends on
    the pair alone (packets, in-tile packets, hops, the longest route) is added per pair after each
    step. ``src_delays[s]`` is a bit mask of the delays source ``s``'s packets have.

    A packet is also *generated* (``C_PACKETS_OUT``) by its source core (``pair_src``; -1 for the
    host inputs, which no core generates) at the step its source fired, ``ta - d``. ``seg_lead[g]`` is 0
    for a packet another virtual core of the same physical core already receives (same source and
    delay: one physical packet): it adds its synapses and cycles, not a packet."""
    n_src = n_in + spikes.shape[1]
    n_pairs = pair_dst.shape[0]
    for ta in range(ta0, ta1):
        for d in range(n_slots):
            t = ta - d
            if t < 0:
                break
            bit = (np.int64(1) << d) if d < 62 else np.int64(-1)
            for s in range(n_src):
                if (src_delays[s] & bit) == 0:
                    continue
                x = inputs[t, s] if s < n_in else np.float64(spikes[t, s - n_in])
                if x == 0.0:
                    continue
                k = _packets(x)
                g0, g1 = seg_ptr[s], seg_ptr[s + 1]
                # 0-based slices: numba drops its negative-index checks
                delays, cores, pairs, nsyns = seg_delay[g0:g1], seg_core[g0:g1], seg_pair[g0:g1], seg_nsyn[g0:g1]
                leads = seg_lead[g0:g1]
                for g in range(g1 - g0):
                    if delays[g] != d:
                        continue
                    c = cores[g]
                    nsyn = nsyns[g]
                    counts[ta, c, C_SYNOPS] += k * nsyn
                    counts[ta, c, C_CYCLES] += k * (event_overhead + (nsyn + lanes - 1) // lanes)
                    if leads[g] == 0:
                        continue
                    pair_count[pairs[g]] += k
                    src_core = pair_src[pairs[g]]
                    if src_core >= 0:
                        counts[t, src_core, C_PACKETS_OUT] += k
        for q in range(n_pairs):
            k = pair_count[q]
            if k == 0:
                continue
            pair_count[q] = 0
            c = pair_dst[q]
            counts[ta, c, C_PACKETS] += k
            counts[ta, c, C_IN_TILE] += k * pair_vec[q, 0]
            counts[ta, c, C_HOP_EW] += k * pair_vec[q, 1]
            counts[ta, c, C_HOP_NS] += k * pair_vec[q, 2]
            counts[ta, c, C_CHIP_HOPS] += k * pair_vec[q, 3]
            if pair_hops[q] > max_hops[ta, c]:
                max_hops[ta, c] = pair_hops[q]


@njit(cache=True)
def pair_totals(inputs, spikes, n_in, seg_ptr, seg_delay, seg_pair, seg_lead, n_pairs, n_slots):
    """Packets per (source core, target core) pair over the run (a packet counts when it arrives
    within the run: ``t + delay < T``), for the link loads. Row by row over the raster: per source
    its total packets, minus those of the last ``delay`` steps."""
    n_steps = inputs.shape[0]
    n_src = n_in + spikes.shape[1]
    tot = np.zeros(n_src, dtype=np.int64)
    late = np.zeros((n_slots, n_src), dtype=np.int64)  # late[d, s]: packets of s in steps >= T - d
    for t in range(n_steps):
        for s in range(n_src):
            x = inputs[t, s] if s < n_in else np.float64(spikes[t, s - n_in])
            if x != 0.0:
                k = _packets(x)
                tot[s] += k
                for d in range(1, n_slots):
                    if t >= n_steps - d:
                        late[d, s] += k
    total = np.zeros(n_pairs, dtype=np.int64)
    for s in range(n_src):
        for g in range(seg_ptr[s], seg_ptr[s + 1]):
            total[seg_pair[g]] += (tot[s] - late[seg_delay[g], s]) * seg_lead[g]
    return total
