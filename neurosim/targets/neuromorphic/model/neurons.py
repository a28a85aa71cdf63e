r"""The neuron update of the cycle-level engine: one fast loop per numeric mode for every neuron variant.

:func:`update_range` runs one timestep of one population's neurons ``lo_n..hi_n-1`` (one core's
slice): it takes each neuron's accumulated synaptic input of this step ``a`` from ``acc``, clears
it, updates the state and appends the spiking neurons to ``fired`` / ``fired_val``. It is the
reference simulator's :class:`~neurosim.targets.neuromorphic.model.reference.NeuronKernel`
(the equations below, docs/ir.md) on flat arrays; spikes, ``v`` and ``i_syn`` are bit-identical
to it in both modes.

**float** (per neuron; :math:`\beta` decay, :math:`g` gain, :math:`b` bias, :math:`c` the
projections' constant input, :math:`\theta` threshold, :math:`s'` the previous step's spike)

.. math::

    x = a + c, \qquad
    i \leftarrow \alpha i + g_{syn} x,\ x \leftarrow i \text{ (or the old } i \text{ with current\_lag=1)}
    \quad\text{(CubaLIF)}

    \tilde v = v_{reset} \text{ if delayed zero reset and } s' > 0 \text{ else } v, \qquad
    v' = \beta \tilde v + g x + b\ [-\, s' \theta \text{ if delayed subtract}]

    s = [v' > \theta] \text{ (gt)},\ [v' \ge \theta] \text{ (ge)},\ \lfloor v' / \theta \rfloor [v' \ge \theta] \text{ (multi)}

    \text{refractory } r > 0: v' = \tilde v,\ s = 0,\ r \leftarrow r - 1;
    \text{ else } r \leftarrow R [s > 0]

    \text{immediate reset: } v' \leftarrow v' - s\theta \text{ (subtract)},\ v_{reset} \text{ if } s > 0 \text{ (zero)}

**fixed** (integer codes held exactly in float64; ``sat`` clips to the state format ``lo..hi``;
:math:`s_{in}` the input shift, :math:`s'` the previous step's spike)

.. math::

    x = (a + c)\,2^{s_{in}},\ |a + c| \le acc_{max} \text{ else overflow (status } p + 1),\qquad
    i \leftarrow \mathrm{sat}(i + x),\ x \leftarrow i \text{ (CubaLIF; kept while refractory)}

    u = v \text{ (immediate)},\ v - s'\theta \text{ (delayed subtract)},\
    L(v_{reset}) \text{ if } s' > 0 \text{ else } v \text{ (delayed zero)}

    v' = \mathrm{sat}(u + x + b) \text{ (} \mathrm{sat}(u) \text{ while refractory)}, \text{ fire as above
    (multi: integer division)}, \text{ immediate reset: } \mathrm{sat}(v' - s\theta) \text{ or } v_{reset}

    v \leftarrow L(v'), \qquad i \leftarrow L_{syn}(i)

with the leak :math:`L`: :math:`v - \lfloor v / 2^k \rfloor` (shift), :math:`\mathrm{trunc}(v d / 2^k)`
(mult: :math:`vd` is exact in float64 because the IR bounds state width + k by 53, and the
division by a power of two is exact), :math:`v - \mathrm{sign}(v)\min(|v|, \lambda)` (linear) or
none.

Why one loop per mode: the old engine had a tight loop for uniform LIF and a general per-neuron
function call for everything else (~15x slower per neuron-step). Here the variant switches are
population constants read once before the loop (the branch predictor makes a loop-invariant
branch almost free), parameters of a uniform population are scalars, and the body is one inline
function that :func:`update_range` calls with literal switches for the commonest variant (plain
LIF/IF), so that numba compiles that case without the untaken branches.

``prev_s`` is kept only for delayed-reset populations (the only ones that read it), ``refr``
only for refractory ones. The fixed mode's extensions (mult/linear leaks, an input shift, the
delayed reset) take a separate pair of call sites (``ext``), so the historic shift-leak loops
compile exactly as before.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit

#: Neuron parameters: per-neuron float64 ``[n_total]`` (``const_in`` .. ``syn_gain``), per-population
#: int64 codes ``[n_pops]`` (``is_cuba`` .. ``syn_shift``, ``leak_mode`` .. ``input_shift``; codes as in
#: compile.py), per-population float64 ``lo``/``hi``/``acc_max`` (fixed mode) and bool ``uniform``
#: (every per-neuron membrane parameter constant over the population, so the loop holds them in scalars).
NeuronParams = namedtuple("NeuronParams", "const_in decay gain bias thr v_reset syn_decay syn_gain "
                                          "is_cuba current_lag reset timing rule refractory leak_shift syn_shift "
                                          "lo hi acc_max leak_mode leak_bits leak_code syn_leak_mode syn_leak_bits "
                                          "syn_leak_code input_shift uniform")
#: Neuron state ``[n_total]``: membrane, synaptic current (CubaLIF), previous spike (delayed reset),
#: refractory counter.
NeuronState = namedtuple("NeuronState", "v i_syn prev_s refr")

_UNIFORM_FIELDS = ("decay", "gain", "bias", "threshold", "v_reset", "const_in")


def make_params(net) -> NeuronParams:
    """The :class:`NeuronParams` of a ``CompiledNetwork`` (contiguous arrays of the kernel's dtypes)."""
    n_pops = len(net.populations)
    uniform = np.ones(n_pops, dtype=np.bool_)
    for p in range(n_pops):
        a, b = int(net.pop_offset[p]), int(net.pop_offset[p + 1])
        if b > a:
            uniform[p] = all(bool(np.all(getattr(net, f)[a:b] == getattr(net, f)[a])) for f in _UNIFORM_FIELDS)
    f64 = lambda x: np.ascontiguousarray(x, dtype=np.float64)  # noqa: E731
    i64 = lambda x: np.ascontiguousarray(x, dtype=np.int64)  # noqa: E731
    return NeuronParams(
        const_in=f64(net.const_in), decay=f64(net.decay), gain=f64(net.gain), bias=f64(net.bias),
        thr=f64(net.threshold), v_reset=f64(net.v_reset), syn_decay=f64(net.syn_decay), syn_gain=f64(net.syn_gain),
        is_cuba=i64(net.is_cuba), current_lag=i64(net.current_lag), reset=i64(net.reset), timing=i64(net.timing),
        rule=i64(net.rule), refractory=i64(net.refractory), leak_shift=i64(net.leak_shift),
        syn_shift=i64(net.syn_shift), lo=f64(net.lo), hi=f64(net.hi), acc_max=f64(net.acc_max),
        leak_mode=i64(net.leak_mode), leak_bits=i64(net.leak_bits), leak_code=f64(net.leak_code),
        syn_leak_mode=i64(net.syn_leak_mode), syn_leak_bits=i64(net.syn_leak_bits),
        syn_leak_code=f64(net.syn_leak_code), input_shift=i64(net.input_shift), uniform=uniform,
    )


def make_state(n_total: int) -> NeuronState:
    """The all-zero :class:`NeuronState` of ``n_total`` neurons (the state before step 0)."""
    return NeuronState(v=np.zeros(n_total), i_syn=np.zeros(n_total), prev_s=np.zeros(n_total),
                       refr=np.zeros(n_total, dtype=np.int64))


@njit(cache=True, inline="always")
def _float_pass(lo_n, hi_n, base, acc, P, S, spk, gen, per, cuba, lag, delayed, refr_steps, rule, rs):
    """The float update of neurons ``lo_n..hi_n-1``; the spike of neuron ``lo_n + j`` goes to ``spk[j]``.

    The switches are population constants. ``per``: parameters per neuron (else the scalars of
    neuron ``lo_n``); both ``per`` and ``gen`` are literals at every call site, so numba compiles
    one loop per value. ``gen=False`` (LIF/IF, immediate reset, gt/ge; the other switches literal
    off): the unused parts vanish. ``gen=True``: every state array is read and written and each
    switch is a select, so the loop has no branch and LLVM vectorises it. Returns the number of
    neurons with nonzero input.
    """
    # slices indexed from 0: numba then knows an index is >= 0 (no wraparound select) and LLVM vectorises
    m = hi_n - lo_n
    x = acc[base + lo_n:base + hi_n]
    v, i_syn, prev_s, refr = S.v[lo_n:hi_n], S.i_syn[lo_n:hi_n], S.prev_s[lo_n:hi_n], S.refr[lo_n:hi_n]
    decay, gain, const_in, bias = P.decay[lo_n:hi_n], P.gain[lo_n:hi_n], P.const_in[lo_n:hi_n], P.bias[lo_n:hi_n]
    thr, v_reset, syn_decay, syn_gain = P.thr[lo_n:hi_n], P.v_reset[lo_n:hi_n], P.syn_decay[lo_n:hi_n], \
        P.syn_gain[lo_n:hi_n]
    dk, gk, ck, bk, th, vr = decay[0], gain[0], const_in[0], bias[0], thr[0], v_reset[0]
    ge = rule == 1
    multi = rule == 2
    lag0 = lag == 0
    d_zero = delayed and rs == 0
    d_sub = delayed and rs == 1
    i_sub = (not delayed) and rs == 1
    i_zero = (not delayed) and rs == 0
    n_active = 0
    for j in range(m):
        a = x[j]
        n_active += a != 0.0
        x[j] = 0.0
        if per:
            dk, gk, ck, bk, th, vr = decay[j], gain[j], const_in[j], bias[j], thr[j], v_reset[j]
        drive = a + ck
        vn = v[j]
        if gen:  # CubaLIF: i <- alpha i + g_syn x; the membrane sees the new (lag 0) or old current
            iold = i_syn[j]
            inew = syn_decay[j] * iold + syn_gain[j] * drive
            i_syn[j] = inew if cuba else iold
            drive = (inew if lag0 else iold) if cuba else drive
        ps = 0.0
        if gen:  # delayed reset: last step's spike resets now
            ps = prev_s[j]
            vn = vr if (d_zero & (ps > 0.0)) else vn
        newv = dk * vn + gk * drive + bk
        if gen:
            newv = newv - ps * th if d_sub else newv
        s = 1.0 if ((newv > th) | (ge & (newv == th))) else 0.0
        if gen:
            q = np.floor(newv / th)  # (error_model numpy: no branch; th > 0 when multi)
            s = (q if newv >= th else 0.0) if multi else s
            r = refr[j]  # 0 unless refractory
            frozen = r > 0
            newv = (vn - ps * th if d_sub else vn) if frozen else newv  # hold the post-reset membrane
            s = 0.0 if frozen else s
            refr[j] = r - 1 if frozen else (refr_steps if s > 0.0 else 0)
        newv = newv - s * th if (i_sub & (s > 0.0)) else newv
        newv = vr if (i_zero & (s > 0.0)) else newv
        if gen:
            prev_s[j] = s if delayed else ps
        v[j] = newv
        spk[j] = s
    return n_active


@njit(cache=True, inline="always")
def _float_cuba_pass(lo_n, hi_n, base, acc, P, S, spk, per, lag, rule, rs):
    """The float CubaLIF update without refractory time, delayed reset or multi-spikes, the
    commonest CubaLIF: the general loop's equations with those parts left out, so the loop stays
    branch-free (the general one measures 7x slower per neuron-step).

    ``i <- alpha i + g_syn x``; ``v <- beta v + g i' + b`` with ``i'`` the new (lag 0) or old current.
    """
    m = hi_n - lo_n
    x = acc[base + lo_n:base + hi_n]
    v, i_syn = S.v[lo_n:hi_n], S.i_syn[lo_n:hi_n]
    decay, gain, const_in, bias = P.decay[lo_n:hi_n], P.gain[lo_n:hi_n], P.const_in[lo_n:hi_n], P.bias[lo_n:hi_n]
    thr, v_reset, syn_decay, syn_gain = P.thr[lo_n:hi_n], P.v_reset[lo_n:hi_n], P.syn_decay[lo_n:hi_n], \
        P.syn_gain[lo_n:hi_n]
    dk, gk, ck, bk, th, vr = decay[0], gain[0], const_in[0], bias[0], thr[0], v_reset[0]
    ge = rule == 1
    lag0 = lag == 0
    sub = rs == 1
    zero = rs == 0
    n_active = 0
    for j in range(m):
        a = x[j]
        n_active += a != 0.0
        x[j] = 0.0
        if per:
            dk, gk, ck, bk, th, vr = decay[j], gain[j], const_in[j], bias[j], thr[j], v_reset[j]
        drive = a + ck
        iold = i_syn[j]
        inew = syn_decay[j] * iold + syn_gain[j] * drive
        i_syn[j] = inew
        newv = dk * v[j] + gk * (inew if lag0 else iold) + bk
        s = 1.0 if ((newv > th) | (ge & (newv == th))) else 0.0
        newv = newv - s * th if (sub & (s > 0.0)) else newv
        newv = vr if (zero & (s > 0.0)) else newv
        v[j] = newv
        spk[j] = s
    return n_active


@njit(cache=True, inline="always")
def _leak(v, mode, shift_on, inv, binv, code):
    """The fixed leak of one value (module docstring): mode 0 shift (``shift_on``: ``v - floor(v * inv)``)
    or none, 1 mult (``trunc(v * code * binv)``), 2 linear (toward 0 by ``code``)."""
    if mode == 1:
        return np.trunc(v * code * binv)
    if mode == 2:
        return max(v - code, 0.0) if v >= 0.0 else min(v + code, 0.0)
    return v - np.floor(v * inv) if shift_on else v


@njit(cache=True, inline="always")
def _fixed_pass(lo_n, hi_n, base, acc, P, S, spk, p, gen, per, cuba, immediate, refr_steps, rule, rs, kshift,
                sshift, ext, lmode, lbits, lcode, slmode, sbits, scode, ish):
    """The fixed-point update of neurons ``lo_n..hi_n-1`` (after the accumulator check), spikes to ``spk``.

    ``gen`` and ``per`` as in :func:`_float_pass`; ``ext`` (a literal too) adds the input shift
    ``ish``, the delayed reset (``immediate`` false) and the mult/linear leaks (``lmode``/``slmode``
    with ``lbits``/``lcode``, ``sbits``/``scode``); without it those arguments are unused.
    """
    m = hi_n - lo_n
    x = acc[base + lo_n:base + hi_n]
    v, i_syn, refr, prev_s = S.v[lo_n:hi_n], S.i_syn[lo_n:hi_n], S.refr[lo_n:hi_n], S.prev_s[lo_n:hi_n]
    const_in, bias, thr, v_reset = P.const_in[lo_n:hi_n], P.bias[lo_n:hi_n], P.thr[lo_n:hi_n], P.v_reset[lo_n:hi_n]
    ck, bk, th, vr = const_in[0], bias[0], thr[0], v_reset[0]
    lo, hi = P.lo[p], P.hi[p]
    leak = kshift > 0
    syn_leak = cuba and sshift > 0
    no_cuba = not cuba
    inv = 2.0 ** -kshift  # v / 2**k == v * 2**-k exactly
    sinv = 2.0 ** -sshift
    binv = 2.0 ** -lbits
    sbinv = 2.0 ** -sbits
    xin = 2.0 ** ish  # acc << ish, exact
    ge = rule == 1
    multi = rule == 2
    i_sub = immediate and rs == 1
    i_zero = immediate and rs == 0
    d_sub = (not immediate) and rs == 1
    d_zero = (not immediate) and rs == 0
    n_active = 0
    for j in range(m):
        a = x[j]
        n_active += a != 0.0
        x[j] = 0.0
        if per:
            ck, bk, th, vr = const_in[j], bias[j], thr[j], v_reset[j]
        drive = a + ck
        if ext:
            drive = drive * xin
        vn = v[j]
        r = 0
        frozen = False
        if gen:
            r = refr[j]  # 0 unless refractory
            frozen = r > 0
        inew = 0.0
        if gen:  # CubaLIF: i <- sat(i + acc), kept while refractory; the membrane sees i
            iold = i_syn[j]
            inew = min(max(iold + drive, lo), hi)
            inew = iold if (frozen | no_cuba) else inew
            drive = inew if cuba else drive
        bv = vn
        ps = 0.0
        if ext:  # the delayed reset: last step's spike resets now (zero: to the leaked v_reset)
            ps = prev_s[j]
            bv = _leak(vr, lmode, leak, inv, binv, lcode) if (d_zero & (ps > 0.0)) else bv
            bv = bv - ps * th if d_sub else bv
        newv = min(max(bv + drive + bk, lo), hi)
        s = 1.0 if ((newv > th) | (ge & (newv == th))) else 0.0
        if gen:
            # the integer quotient: codes below 2**53 divide exactly enough in float64 for the floor
            q = np.floor(newv / th)
            s = (q if newv >= th else 0.0) if multi else s
            if ext:
                newv = min(max(bv, lo), hi) if frozen else newv
            else:
                newv = vn if frozen else newv
            s = 0.0 if frozen else s
            refr[j] = r - 1 if frozen else (refr_steps if s > 0.0 else 0)
        newv = min(max(newv - s * th, lo), hi) if (i_sub & (s > 0.0)) else newv
        newv = vr if (i_zero & (s > 0.0)) else newv
        if ext:
            newv = _leak(newv, lmode, leak, inv, binv, lcode)
        else:
            newv = newv - np.floor(newv * inv) if leak else newv
        if gen:
            if ext:
                i_syn[j] = _leak(inew, slmode, syn_leak, sinv, sbinv, scode)
            else:
                i_syn[j] = inew - np.floor(inew * sinv) if syn_leak else inew
        if ext:
            prev_s[j] = ps if immediate else s
        v[j] = newv
        spk[j] = s
    return n_active


@njit(cache=True, inline="always")
def _first_overflow(lo_n, hi_n, base, acc, P, per, am):
    """The first neuron of ``lo_n..hi_n-1`` whose drive ``|acc + const_in|`` exceeds ``am``, or -1.

    A max-reduction first (it vectorises), the scan for the neuron only when one overflows.
    """
    x = acc[base + lo_n:base + hi_n]
    const_in = P.const_in[lo_n:hi_n]
    ck = const_in[0]
    worst = 0.0
    for n in range(hi_n - lo_n):
        if per:
            ck = const_in[n]
        worst = max(worst, abs(x[n] + ck))
    if worst <= am:
        return -1
    for n in range(lo_n, hi_n):
        if abs(acc[base + n] + P.const_in[n]) > am:
            return n
    return -1  # pragma: no cover - the reduction found one


@njit(cache=True, inline="always")
def _compact(lo_n, hi_n, fired, fired_val):
    """Turn the per-neuron spikes ``fired_val[0..hi_n-lo_n)`` into the list of spiking neurons, in place.

    Branch-free: every neuron writes the next slot, which advances only on a spike (a random ~10 %
    spike pattern defeats a branch predictor). Returns the number of spiking neurons.
    """
    k = 0
    for j in range(hi_n - lo_n):
        s = fired_val[j]
        fired[k] = lo_n + j
        fired_val[k] = s
        k += s > 0.0
    return k


@njit(cache=True, error_model="numpy", inline="always")
def update_range(t, p, lo_n, hi_n, base, fixed, acc, P, S, fired, fired_val, err):
    """Update neurons ``lo_n..hi_n-1`` (global indices) of population ``p`` for step ``t``.

    Reads and clears ``acc[base + n]`` (this step's accumulated synaptic input); appends every
    spiking neuron ``n`` to ``fired[k]`` / ``fired_val[k]`` (``k`` counting from 0 within this
    call; the value is the spike count, 1.0 for single spikes); both need room for
    ``hi_n - lo_n`` entries (``fired_val`` is the scratch of the per-neuron spikes). Returns
    ``(n_active, n_fired, status)``: ``n_active`` the neurons with nonzero input; ``status`` 0,
    or ``p + 1`` when in fixed mode ``|acc + const_in| > acc_max[p]`` for some neuron (then
    ``err`` = step, first such neuron, its drive; nothing is updated).
    """
    if hi_n <= lo_n:
        return 0, 0, 0
    per = not P.uniform[p]
    cuba = P.is_cuba[p] != 0
    refr_steps = P.refractory[p]
    rule = P.rule[p]
    rs = P.reset[p]
    simple = not cuba and refr_steps == 0 and rule != 2 and P.timing[p] == 0
    if fixed:
        bad = _first_overflow(lo_n, hi_n, base, acc, P, per, P.acc_max[p])
        if bad >= 0:
            err[0] = t
            err[1] = bad
            err[2] = acc[base + bad] + P.const_in[bad]
            return 0, 0, p + 1
        kshift = P.leak_shift[p]
        ext = P.timing[p] != 0 or P.leak_mode[p] != 0 or P.syn_leak_mode[p] != 0 or P.input_shift[p] != 0
        if ext:  # mult/linear leak, input shift or delayed reset: the general loop with the extensions
            imm = P.timing[p] == 0
            if not per:
                na = _fixed_pass(lo_n, hi_n, base, acc, P, S, fired_val, p, True, False, cuba, imm, refr_steps, rule,
                                 rs, kshift, P.syn_shift[p], True, P.leak_mode[p], P.leak_bits[p], P.leak_code[p],
                                 P.syn_leak_mode[p], P.syn_leak_bits[p], P.syn_leak_code[p], P.input_shift[p])
            else:
                na = _fixed_pass(lo_n, hi_n, base, acc, P, S, fired_val, p, True, True, cuba, imm, refr_steps, rule,
                                 rs, kshift, P.syn_shift[p], True, P.leak_mode[p], P.leak_bits[p], P.leak_code[p],
                                 P.syn_leak_mode[p], P.syn_leak_bits[p], P.syn_leak_code[p], P.input_shift[p])
        elif simple and not per:
            na = _fixed_pass(lo_n, hi_n, base, acc, P, S, fired_val, p, False, False, False, True, 0, rule, rs,
                             kshift, 0, False, 0, 0, 0.0, 0, 0, 0.0, 0)
        elif simple:
            na = _fixed_pass(lo_n, hi_n, base, acc, P, S, fired_val, p, False, True, False, True, 0, rule, rs,
                             kshift, 0, False, 0, 0, 0.0, 0, 0, 0.0, 0)
        elif not per:
            na = _fixed_pass(lo_n, hi_n, base, acc, P, S, fired_val, p, True, False, cuba, True, refr_steps, rule, rs,
                             kshift, P.syn_shift[p], False, 0, 0, 0.0, 0, 0, 0.0, 0)
        else:
            na = _fixed_pass(lo_n, hi_n, base, acc, P, S, fired_val, p, True, True, cuba, True, refr_steps, rule, rs,
                             kshift, P.syn_shift[p], False, 0, 0, 0.0, 0, 0, 0.0, 0)
    else:
        lag = P.current_lag[p]
        delayed = P.timing[p] == 1
        cuba_only = cuba and refr_steps == 0 and rule != 2 and not delayed
        if simple and not per:
            na = _float_pass(lo_n, hi_n, base, acc, P, S, fired_val, False, False, False, 0, False, 0, rule, rs)
        elif cuba_only and not per:
            na = _float_cuba_pass(lo_n, hi_n, base, acc, P, S, fired_val, False, lag, rule, rs)
        elif cuba_only:
            na = _float_cuba_pass(lo_n, hi_n, base, acc, P, S, fired_val, True, lag, rule, rs)
        elif simple:
            na = _float_pass(lo_n, hi_n, base, acc, P, S, fired_val, False, True, False, 0, False, 0, rule, rs)
        elif not per:
            na = _float_pass(lo_n, hi_n, base, acc, P, S, fired_val, True, False, cuba, lag, delayed, refr_steps,
                             rule, rs)
        else:
            na = _float_pass(lo_n, hi_n, base, acc, P, S, fired_val, True, True, cuba, lag, delayed, refr_steps,
                             rule, rs)
    return na, _compact(lo_n, hi_n, fired, fired_val), 0
