"""The numba kernel of the cycle-level engine: all timesteps of one inference in one call.

Arrays in, arrays out; :mod:`neurosim.engine.simulate` prepares them. One timestep:

1. input elements with a nonzero value send their synapse rows (delivery, below);
2. every spiking population, in schedule order, runs its **fire** sweep over its neurons with
   the accumulated input of this step (``acc``), emits spikes, and each spike is delivered;
3. **delivery** of a spike (or input value) ``x`` from source ``s``: every synapse ``e`` of ``s``
   adds ``weight[e] * x`` to ``acc`` of its target, ``delay[e]`` steps later (a ring buffer of
   accumulators). Accounting is per *segment* -- the synapses of ``s`` on one target core with
   one delay -- because that is what one spike packet costs: the packet is routed (hops, links)
   and the target core reads that row, ``ceil(n_syn / lanes)`` cycles plus the per-event
   overhead. A multi-spike count ``k`` is ``k`` packets.

The neuron update repeats the reference simulator's equations (``neurosim.engine.reference``)
for both numeric modes; in fixed mode values are integer codes held exactly in float64 (|v| is
far below 2**53), with the accumulator range checked before the update.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _fire(x_fixed, v, thr, rule):
    if rule == 0:
        return 1.0 if v > thr else 0.0
    if rule == 1:
        return 1.0 if v >= thr else 0.0
    if v < thr:
        return 0.0
    if x_fixed:
        return float(np.int64(v) // np.int64(thr))
    return np.floor(v / thr)


@njit(cache=True)
def _sat(v, lo, hi):
    if v < lo:
        return lo
    if v > hi:
        return hi
    return v


@njit(cache=True)
def _shift_leak(v, k):
    # v - (v >> k), arithmetic shift (floor), exact on integer-valued float64
    return v - np.floor(v / (2.0 ** k))


@njit(cache=True)
def run_kernel(
    inputs, fixed,
    ptr, target, weight, delay, n_slots,
    pop_offset, const_in, decay, gain, bias, thr, v_reset, syn_decay, syn_gain,
    is_cuba, current_lag, reset, timing, rule, refractory, leak_shift, syn_shift, lo, hi, acc_max,
    core_of, seg_ptr, seg_core, seg_delay, seg_nsyn, seg_hx, seg_hy, seg_chip, seg_tile, seg_route_ptr, route_links,
    lanes, event_overhead,
    spikes, v, i_syn, acc, touched,
    synops, packets_in, cyc_rows, active, inactive, spikes_out, in_tile, hop_ew, hop_ns, chip_hops, max_hops_in,
    link_load, err,
):
    """Run all steps; returns 0, or 1 + the population index whose accumulator overflowed (``err``: step, neuron, value)."""
    n_steps = inputs.shape[0]
    n_in = inputs.shape[1]
    n_pops = pop_offset.shape[0] - 1
    prev_s = np.zeros(v.shape[0])
    refr = np.zeros(v.shape[0], dtype=np.int64)
    for t in range(n_steps):
        slot = t % n_slots
        # -- inputs -------------------------------------------------------------------------------
        for j in range(n_in):
            x = inputs[t, j]
            if x != 0.0:
                _deliver(t, j, x, n_steps, n_slots, ptr, target, weight, delay, acc, touched,
                         seg_ptr, seg_core, seg_delay, seg_nsyn, seg_hx, seg_hy, seg_chip, seg_tile, seg_route_ptr,
                         route_links, lanes, event_overhead, synops, packets_in, cyc_rows, in_tile, hop_ew, hop_ns,
                         chip_hops, max_hops_in, link_load)
        # -- populations in schedule order ----------------------------------------------------
        for p in range(n_pops):
            a, b = pop_offset[p], pop_offset[p + 1]
            for n in range(a, b):
                drive = acc[slot, n] + const_in[n]
                c = core_of[n]
                if touched[slot, n]:
                    active[t, c] += 1
                else:
                    inactive[t, c] += 1
                acc[slot, n] = 0.0
                touched[slot, n] = 0
                frozen = refractory[p] > 0 and refr[n] > 0
                vn = v[n]
                if fixed:
                    if abs(drive) > acc_max[p]:
                        err[0] = t
                        err[1] = n
                        err[2] = drive
                        return p + 1
                    if is_cuba[p]:
                        inew = _sat(i_syn[n] + drive, lo[p], hi[p])
                        if not frozen:
                            i_syn[n] = inew
                        drive = i_syn[n]
                    newv = _sat(vn + drive + bias[n], lo[p], hi[p])
                else:
                    if is_cuba[p]:
                        iold = i_syn[n]
                        inew = syn_decay[n] * iold + syn_gain[n] * drive
                        i_syn[n] = inew
                        drive = inew if current_lag[p] == 0 else iold
                    base = vn
                    if timing[p] == 1 and reset[p] == 0 and prev_s[n] > 0:
                        base = v_reset[n]
                    vn = base
                    newv = decay[n] * base + gain[n] * drive + bias[n]
                    if timing[p] == 1 and reset[p] == 1:
                        newv = newv - prev_s[n] * thr[n]
                if frozen:
                    newv = vn
                s = _fire(fixed, newv, thr[n], rule[p])
                if refractory[p] > 0:
                    if frozen:
                        s = 0.0
                        refr[n] -= 1
                    elif s > 0:
                        refr[n] = refractory[p]
                    else:
                        refr[n] = 0
                if timing[p] == 0:
                    if reset[p] == 1:
                        newv = newv - s * thr[n]
                        if fixed:
                            newv = _sat(newv, lo[p], hi[p])
                    elif reset[p] == 0 and s > 0:
                        newv = v_reset[n]
                if fixed:
                    if leak_shift[p] > 0:
                        newv = _shift_leak(newv, leak_shift[p])
                    if is_cuba[p] and syn_shift[p] > 0:
                        i_syn[n] = _shift_leak(i_syn[n], syn_shift[p])
                v[n] = newv
                prev_s[n] = s
                if s > 0:
                    spikes[t, n - n_in] = s
                    spikes_out[t, c] += np.int64(s)
                    _deliver(t, n, s, n_steps, n_slots, ptr, target, weight, delay, acc, touched,
                             seg_ptr, seg_core, seg_delay, seg_nsyn, seg_hx, seg_hy, seg_chip, seg_tile, seg_route_ptr,
                             route_links, lanes, event_overhead, synops, packets_in, cyc_rows, in_tile, hop_ew, hop_ns,
                             chip_hops, max_hops_in, link_load)
    return 0


@njit(cache=True)
def _deliver(t, src, x, n_steps, n_slots, ptr, target, weight, delay, acc, touched,
             seg_ptr, seg_core, seg_delay, seg_nsyn, seg_hx, seg_hy, seg_chip, seg_tile, seg_route_ptr, route_links,
             lanes, event_overhead, synops, packets_in, cyc_rows, in_tile, hop_ew, hop_ns, chip_hops, max_hops_in,
             link_load):
    for e in range(ptr[src], ptr[src + 1]):
        slot = (t + delay[e]) % n_slots
        acc[slot, target[e]] += weight[e] * x
        touched[slot, target[e]] = 1
    # a value that is a positive whole count k > 1 travels as k packets; anything else as one
    packets = np.int64(x) if (x >= 1.0 and x == np.floor(x)) else np.int64(1)
    for g in range(seg_ptr[src], seg_ptr[src + 1]):
        ta = t + seg_delay[g]
        if ta >= n_steps:
            continue
        c = seg_core[g]
        nsyn = seg_nsyn[g]
        synops[ta, c] += packets * nsyn
        packets_in[ta, c] += packets
        cyc_rows[ta, c] += packets * (event_overhead + (nsyn + lanes - 1) // lanes)
        if seg_tile[g]:
            in_tile[ta, c] += packets
        else:
            hop_ew[ta, c] += packets * seg_hx[g]
            hop_ns[ta, c] += packets * seg_hy[g]
            chip_hops[ta, c] += packets * seg_chip[g]
        hops = seg_hx[g] + seg_hy[g]
        if hops > max_hops_in[ta, c]:
            max_hops_in[ta, c] = hops
        for r in range(seg_route_ptr[g], seg_route_ptr[g + 1]):
            link_load[route_links[r]] += packets
