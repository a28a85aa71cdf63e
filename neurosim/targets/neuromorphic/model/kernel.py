"""The numba kernel of the cycle-level engine: all timesteps of one inference in one call.

Arrays in, arrays out; :mod:`neurosim.targets.neuromorphic.model.simulate` prepares them. One timestep:

1. input elements with a nonzero value send their synapse rows (delivery, below);
2. every spiking population, in schedule order, runs its **fire** sweep over its neurons with
   the accumulated input of this step (``acc``), emits spikes, and each spike is delivered;
3. **delivery** of a spike (or input value) ``x`` from source ``s``: every synapse ``e`` of ``s``
   adds ``weight[e] * x`` to ``acc`` of its target, ``delay[e]`` steps later (a ring buffer of
   accumulators). Accounting is per *segment* -- the synapses of ``s`` on one target core with
   one delay -- because that is what one spike packet costs: the target core reads that row,
   ``ceil(n_syn / lanes)`` cycles plus the per-event overhead, and the packet crosses the mesh
   from the source core to the target core (hops counted per step and target core; packets per
   core pair, whose XY routes give the link loads outside the kernel). A multi-spike count ``k``
   is ``k`` packets.

A core's spikes are delivered after its fire sweep, in neuron order: the same order as inline
delivery, since a population never feeds its own current step (recurrent edges are delayed).

The neuron update repeats the reference simulator's equations (``neurosim.targets.neuromorphic.model.reference``)
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
    ptr, tgt_off, weight, n_slots,
    pop_cores, core_start, core_stop, uniform, n_in, const_in, decay, gain, bias, thr, v_reset, syn_decay, syn_gain,
    is_cuba, current_lag, reset, timing, rule, refractory, leak_shift, syn_shift, lo, hi, acc_max,
    seg_ptr, seg_core, seg_delay, seg_cycles, seg_nsyn, seg_pair, pair_hx, pair_hy, pair_chip, pair_tile,
    spikes, v, i_syn, acc,
    synops, packets_in, cyc_rows, active, inactive, spikes_out, in_tile, hop_ew, hop_ns, chip_hops, max_hops_in,
    pair_total, err,
):
    """Run all steps; returns 0, or 1 + the population index whose accumulator overflowed (``err``: step, neuron, value).

    A neuron update counts as *active* when its synaptic input this step is nonzero.
    """
    n_steps = inputs.shape[0]
    n_pops = pop_cores.shape[0] - 1
    n_total = v.shape[0]
    ring = n_slots * n_total
    prev_s = np.zeros(n_total)
    refr = np.zeros(n_total, dtype=np.int64)
    fired = np.zeros(n_total, dtype=np.int64)
    fired_val = np.zeros(n_total)
    for t in range(n_steps):
        base = (t % n_slots) * n_total
        # -- inputs -------------------------------------------------------------------------------
        for j in range(n_in):
            x = inputs[t, j]
            if x != 0.0:
                _deliver(t, j, x, n_steps, base, ring, ptr, tgt_off, weight, acc, seg_ptr, seg_core, seg_delay,
                         seg_cycles, seg_nsyn, seg_pair, pair_hx, pair_hy, pair_chip, pair_tile, synops, packets_in, cyc_rows,
                         in_tile, hop_ew, hop_ns, chip_hops, max_hops_in, pair_total)
        # -- populations in schedule order, core by core ----------------------------------------
        for p in range(n_pops):
            fast = (not fixed) and is_cuba[p] == 0 and timing[p] == 0 and refractory[p] == 0 and rule[p] != 2
            fast_fixed = fixed and is_cuba[p] == 0 and refractory[p] == 0 and rule[p] != 2
            for c in range(pop_cores[p], pop_cores[p + 1]):
                lo_n, hi_n = core_start[c], core_stop[c]
                n_active = 0
                n_fired = 0
                if fast and uniform[p]:
                    # one parameter set for the whole population: the tight loop
                    dk, gk, ck, bk, th, vr = decay[lo_n], gain[lo_n], const_in[lo_n], bias[lo_n], thr[lo_n], v_reset[lo_n]
                    ge, rs = rule[p] == 1, reset[p]
                    for n in range(lo_n, hi_n):
                        a = acc[base + n]
                        n_active += a != 0.0  # branch-free: about half the neurons get input
                        acc[base + n] = 0.0
                        newv = dk * v[n] + gk * (a + ck) + bk
                        if newv > th or (ge and newv == th):
                            if rs == 1:
                                newv -= th
                            elif rs == 0:
                                newv = vr
                            fired[n_fired] = n
                            fired_val[n_fired] = 1.0
                            n_fired += 1
                        v[n] = newv
                elif fast_fixed:
                    # fixed point, LIF/IF: exact sum, one saturating add, compare, reset, shift leak
                    lo_p, hi_p, am = lo[p], hi[p], acc_max[p]
                    ge, rs = rule[p] == 1, reset[p]
                    kshift = leak_shift[p]
                    div = 2.0 ** kshift
                    for n in range(lo_n, hi_n):
                        a = acc[base + n]
                        if a != 0.0:
                            n_active += 1
                            acc[base + n] = 0.0
                        drive = a + const_in[n]
                        if abs(drive) > am:
                            err[0] = t
                            err[1] = n
                            err[2] = drive
                            return p + 1
                        newv = _sat(v[n] + drive + bias[n], lo_p, hi_p)
                        th = thr[n]
                        if newv > th or (ge and newv == th):
                            if rs == 1:
                                newv = _sat(newv - th, lo_p, hi_p)
                            elif rs == 0:
                                newv = v_reset[n]
                            fired[n_fired] = n
                            fired_val[n_fired] = 1.0
                            n_fired += 1
                        if kshift > 0:
                            newv = newv - np.floor(newv / div)
                        v[n] = newv
                else:
                    for n in range(lo_n, hi_n):
                        a = acc[base + n]
                        if a != 0.0:
                            n_active += 1
                            acc[base + n] = 0.0
                        drive = a + const_in[n]
                        if fixed and abs(drive) > acc_max[p]:
                            err[0] = t
                            err[1] = n
                            err[2] = drive
                            return p + 1
                        s = _update(n, p, drive, fixed, v, i_syn, prev_s, refr, decay, gain, bias, thr, v_reset,
                                    syn_decay, syn_gain, is_cuba, current_lag, reset, timing, rule, refractory,
                                    leak_shift, syn_shift, lo, hi)
                        if s > 0.0:
                            fired[n_fired] = n
                            fired_val[n_fired] = s
                            n_fired += 1
                active[t, c] = n_active
                inactive[t, c] = hi_n - lo_n - n_active
                for k in range(n_fired):
                    n = fired[k]
                    s = fired_val[k]
                    spikes[t, n - n_in] = s
                    spikes_out[t, c] += np.int64(s)
                    _deliver(t, n, s, n_steps, base, ring, ptr, tgt_off, weight, acc, seg_ptr, seg_core, seg_delay,
                             seg_cycles, seg_nsyn, seg_pair, pair_hx, pair_hy, pair_chip, pair_tile, synops, packets_in, cyc_rows,
                         in_tile, hop_ew, hop_ns, chip_hops, max_hops_in, pair_total)
    return 0


@njit(cache=True)
def _update(n, p, drive, fixed, v, i_syn, prev_s, refr, decay, gain, bias, thr, v_reset, syn_decay, syn_gain,
            is_cuba, current_lag, reset, timing, rule, refractory, leak_shift, syn_shift, lo, hi):
    """The general neuron update (every type, timing, rule, refractory, both modes); returns the spike."""
    frozen = refractory[p] > 0 and refr[n] > 0
    vn = v[n]
    if fixed:
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
        if timing[p] == 1 and reset[p] == 0 and prev_s[n] > 0:
            vn = v_reset[n]
        newv = decay[n] * vn + gain[n] * drive + bias[n]
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
    return s


@njit(cache=True, inline="always")
def _deliver(t, src, x, n_steps, base, ring, ptr, tgt_off, weight, acc, seg_ptr, seg_core, seg_delay, seg_cycles,
             seg_nsyn, seg_pair, pair_hx, pair_hy, pair_chip, pair_tile, synops, packets_in, cyc_rows, in_tile, hop_ew,
             hop_ns, chip_hops, max_hops_in, pair_total):
    for e in range(ptr[src], ptr[src + 1]):
        k = base + tgt_off[e]  # (slot of step t + delay) * n_total + target, wrapped around the ring
        if k >= ring:
            k -= ring
        acc[k] += weight[e] * x
    # a value that is a positive whole count k > 1 travels as k packets; anything else as one
    packets = np.int64(x) if (x >= 1.0 and x == np.floor(x)) else np.int64(1)
    for g in range(seg_ptr[src], seg_ptr[src + 1]):
        ta = t + seg_delay[g]
        if ta >= n_steps:
            continue
        c = seg_core[g]
        synops[ta, c] += packets * seg_nsyn[g]
        packets_in[ta, c] += packets
        cyc_rows[ta, c] += packets * seg_cycles[g]
        q = seg_pair[g]
        pair_total[q] += packets
        if pair_tile[q]:
            in_tile[ta, c] += packets
        else:
            hx = pair_hx[q]
            hy = pair_hy[q]
            hop_ew[ta, c] += packets * hx
            hop_ns[ta, c] += packets * hy
            if pair_chip[q]:
                chip_hops[ta, c] += packets * pair_chip[q]
            if hx + hy > max_hops_in[ta, c]:
                max_hops_in[ta, c] = hx + hy
