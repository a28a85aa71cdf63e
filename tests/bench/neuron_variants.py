"""Benchmark: ns per neuron-step of every neuron variant through ``neurons.update_range`` (issue 13).

A script, not a timed test: ``python tests/bench/neuron_variants.py [--neurons 10000] [--steps 1000]``.
One population of ``--neurons`` neurons runs ``--steps`` steps; before each step the accumulator is
filled from a fixed random input pattern (about half the neurons nonzero, as in the engine bench).
The time of the fill alone is measured separately and subtracted, so the numbers are the neuron
update only. Every variant is timed in the same process and printed with its ratio to the
baseline (uniform float LIF through ``update_range``); the target is every ratio <= 1.5.

For comparison the old engine's paths are timed too: its uniform float LIF loop and fixed LIF/IF
loop (copied from kernel.py as it was before issue 13, commit 2a7b324) and its general path (``kernel._update``
per neuron, on a tenth of the steps), on the same variants.
"""

from __future__ import annotations

import argparse
import time
from types import SimpleNamespace

import numpy as np
from numba import njit

from neurosim.targets.neuromorphic.model.neurons import make_params, make_state, update_range

RESET = {"zero": 0, "subtract": 1, "none": 2}
RULE = {"gt": 0, "ge": 1, "multi": 2}

#: name -> (fixed, overrides of the plain LIF)
VARIANTS = {
    "LIF uniform (baseline)": (False, {}),
    "LIF per-neuron params": (False, {"per": True}),
    "IF": (False, {"decay": 1.0}),
    "LIF ge, reset zero": (False, {"rule": "ge", "reset": "zero"}),
    "LIF refractory 1": (False, {"refractory": 1}),
    "LIF refractory 3, per-neuron": (False, {"refractory": 3, "per": True}),
    "CubaLIF": (False, {"cuba": True}),
    "CubaLIF current_lag 1": (False, {"cuba": True, "lag": 1}),
    "LIF multi-spike": (False, {"rule": "multi"}),
    "LIF delayed reset": (False, {"timing": 1}),
    "LIF delayed zero reset": (False, {"timing": 1, "reset": "zero"}),
    "everything (Cuba, refr 2, multi, delayed, per)": (False, {"cuba": True, "refractory": 2, "rule": "multi",
                                                               "timing": 1, "per": True}),
    "fixed LIF shift 3": (True, {"shift": 3}),
    "fixed IF": (True, {"shift": 0}),
    "fixed LIF per-neuron": (True, {"shift": 3, "per": True}),
    "fixed LIF refractory 1": (True, {"shift": 3, "refractory": 1}),
    "fixed CubaLIF syn_shift 2": (True, {"shift": 3, "cuba": True, "syn_shift": 2}),
    "fixed LIF multi-spike": (True, {"shift": 3, "rule": "multi"}),
    "fixed everything (Cuba, refr 2, multi, per)": (True, {"shift": 2, "cuba": True, "syn_shift": 1,
                                                           "refractory": 2, "rule": "multi", "per": True}),
}


# -- the old engine's neuron functions, copied from kernel.py before issue 13 (commit 2a7b324) --

@njit
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


@njit
def _sat(v, lo, hi):
    if v < lo:
        return lo
    if v > hi:
        return hi
    return v


@njit
def _shift_leak(v, k):
    # v - (v >> k), arithmetic shift (floor), exact on integer-valued float64
    return v - np.floor(v / (2.0 ** k))


@njit
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


def network(n: int, fixed: bool, o: dict, seed: int = 0) -> SimpleNamespace:
    """A CompiledNetwork-like namespace: one population of ``n`` neurons (no inputs)."""
    rng = np.random.default_rng(seed)
    per = o.get("per", False)

    def arr(value, spread):
        return value + (rng.integers(-2, 3, n) * spread if per else np.zeros(n))

    if fixed:
        k = o.get("shift", 3)
        decay, thr, bias, vr = np.full(n, 1 - 2.0 ** -k if k else 1.0), arr(64.0, 4.0), arr(0.0, 1.0), arr(0.0, 1.0)
        lo, hi, am = -(1 << 15), (1 << 15) - 1, (1 << 23) - 1
    else:
        decay, thr, bias, vr = arr(o.get("decay", 0.9), 0.01), arr(1.0, 0.125), arr(0.0, 0.0078125), arr(0.0, 0.0625)
        lo = hi = am = 0
    cuba = o.get("cuba", False)
    one = lambda x: np.array([x], dtype=np.int64)  # noqa: E731
    return SimpleNamespace(
        populations=("pop",), pop_offset=np.array([0, n]), const_in=arr(0.0, 1.0 if fixed else 0.0625),
        decay=decay, gain=np.ones(n), bias=bias, threshold=thr, v_reset=vr,
        syn_decay=np.full(n, (1 - 2.0 ** -o.get("syn_shift", 0)) if fixed else 0.8), syn_gain=np.ones(n),
        is_cuba=one(int(cuba)), current_lag=one(o.get("lag", 0)), reset=one(RESET[o.get("reset", "subtract")]),
        timing=one(o.get("timing", 0)), rule=one(RULE[o.get("rule", "gt")]), refractory=one(o.get("refractory", 0)),
        leak_shift=one(o.get("shift", 0) if fixed else 0), syn_shift=one(o.get("syn_shift", 0) if cuba else 0),
        lo=one(lo), hi=one(hi), acc_max=one(am),
    )


def pattern(n: int, fixed: bool, rows: int = 16, seed: int = 1) -> np.ndarray:
    """``rows`` input rows, about half the entries nonzero (integer codes, or multiples of 1/16)."""
    rng = np.random.default_rng(seed)
    vals = rng.integers(1, 33, (rows, n)) if fixed else rng.integers(1, 9, (rows, n)) / 16.0
    return np.where(rng.random((rows, n)) < 0.5, vals, 0.0).astype(np.float64)


@njit
def _fill(acc, pat, t):
    row = pat[t % pat.shape[0]]
    for n in range(row.shape[0]):
        acc[n] = row[n]


@njit
def run_fill(acc, pat, steps):
    for t in range(steps):
        _fill(acc, pat, t)
    return 0


@njit
def run_new(P, S, acc, pat, steps, fixed, fired, fired_val, err):
    total = 0
    n = acc.shape[0]
    for t in range(steps):
        _fill(acc, pat, t)
        na, nf, status = update_range(t, 0, 0, n, 0, fixed, acc, P, S, fired, fired_val, err)
        total += nf
        if status:
            return -1
    return total


@njit
def run_old_general(P, S, acc, pat, steps, fixed, fired, fired_val, err):
    """The old engine's general path: ``kernel._update`` per neuron (its loop copied from run_kernel)."""
    total = 0
    n_all = acc.shape[0]
    lo = P.lo
    hi = P.hi
    for t in range(steps):
        _fill(acc, pat, t)
        n_active = 0
        n_fired = 0
        for n in range(n_all):
            a = acc[n]
            if a != 0.0:
                n_active += 1
                acc[n] = 0.0
            drive = a + P.const_in[n]
            if fixed and abs(drive) > P.acc_max[0]:
                err[0] = t
                return -1
            s = _update(n, 0, drive, fixed, S.v, S.i_syn, S.prev_s, S.refr, P.decay, P.gain, P.bias, P.thr,
                               P.v_reset, P.syn_decay, P.syn_gain, P.is_cuba, P.current_lag, P.reset, P.timing,
                               P.rule, P.refractory, P.leak_shift, P.syn_shift, lo, hi)
            if s > 0.0:
                fired[n_fired] = n
                fired_val[n_fired] = s
                n_fired += 1
        total += n_fired
    return total


@njit
def run_old_fast_float(P, S, acc, pat, steps, fixed, fired, fired_val, err):
    """The old engine's uniform float LIF loop, copied from run_kernel."""
    total = 0
    lo_n, hi_n, base = 0, acc.shape[0], 0
    v = S.v
    for t in range(steps):
        _fill(acc, pat, t)
        n_active = 0
        n_fired = 0
        dk, gk, ck, bk, th, vr = P.decay[lo_n], P.gain[lo_n], P.const_in[lo_n], P.bias[lo_n], P.thr[lo_n], \
            P.v_reset[lo_n]
        ge, rs = P.rule[0] == 1, P.reset[0]
        for n in range(lo_n, hi_n):
            a = acc[base + n]
            n_active += a != 0.0
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
        total += n_fired
    return total


@njit
def run_old_fast_fixed(P, S, acc, pat, steps, fixed, fired, fired_val, err):
    """The old engine's fixed LIF/IF loop, copied from run_kernel."""
    total = 0
    lo_n, hi_n, base = 0, acc.shape[0], 0
    v = S.v
    for t in range(steps):
        _fill(acc, pat, t)
        n_active = 0
        n_fired = 0
        lo_p, hi_p, am = P.lo[0], P.hi[0], P.acc_max[0]
        ge, rs = P.rule[0] == 1, P.reset[0]
        kshift = P.leak_shift[0]
        div = 2.0 ** kshift
        for n in range(lo_n, hi_n):
            a = acc[base + n]
            if a != 0.0:
                n_active += 1
                acc[base + n] = 0.0
            drive = a + P.const_in[n]
            if abs(drive) > am:
                err[0] = t
                return -1
            newv = _sat(v[n] + drive + P.bias[n], lo_p, hi_p)
            th = P.thr[n]
            if newv > th or (ge and newv == th):
                if rs == 1:
                    newv = _sat(newv - th, lo_p, hi_p)
                elif rs == 0:
                    newv = P.v_reset[n]
                fired[n_fired] = n
                fired_val[n_fired] = 1.0
                n_fired += 1
            if kshift > 0:
                newv = newv - np.floor(newv / div)
            v[n] = newv
        total += n_fired
    return total


def timed(fn, args, repeats: int) -> float:
    """Best wall time of ``repeats`` calls (after one warm-up call that also compiles)."""
    fn(*args)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best


def measure(fn, n: int, steps: int, fixed: bool, o: dict, repeats: int) -> tuple[float, float]:
    """(seconds, spikes per neuron-step) of ``fn`` on a fresh state of the variant."""
    P = make_params(network(n, fixed, o))
    pat = pattern(n, fixed)
    acc = np.zeros(n)
    fired, fired_val, err = np.zeros(n, dtype=np.int64), np.zeros(n), np.zeros(3)
    S = make_state(n)
    fn(P, S, acc, pat, steps, fixed, fired, fired_val, err)  # warm-up (compiles), then time from this state
    best = float("inf")
    spikes = 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        spikes = fn(P, S, acc, pat, steps, fixed, fired, fired_val, err)
        best = min(best, time.perf_counter() - t0)
    if spikes < 0:
        raise SystemExit("accumulator overflow in the benchmark pattern; lower its values")
    return best, spikes / (n * steps)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--neurons", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=1_000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    n, steps, reps = args.neurons, args.steps, args.repeats
    fill = timed(run_fill, (np.zeros(n), pattern(n, False), steps), reps)
    per_step = lambda sec: (sec - fill) / (n * steps) * 1e9  # noqa: E731
    print(f"{n} neurons x {steps} steps, best of {reps}; input fill {fill / (n * steps) * 1e9:.2f} ns/neuron-step "
          f"subtracted")
    rows = []
    for name, (fixed, o) in VARIANTS.items():
        new, rate = measure(run_new, n, steps, fixed, o, reps)
        old_steps = max(1, steps // 10)  # ~340 ns per neuron-step: a tenth of the steps is plenty
        old = measure(run_old_general, n, old_steps, fixed, o, 2)[0]
        rows.append((name, per_step(new), (old - fill * old_steps / steps) / (n * old_steps) * 1e9, rate))
    base = rows[0][1]
    old_fast_f = per_step(measure(run_old_fast_float, n, steps, False, {}, reps)[0])
    old_fast_x = per_step(measure(run_old_fast_fixed, n, steps, True, {"shift": 3}, reps)[0])
    print("| variant | spikes/neuron-step | new ns/neuron-step | ratio to baseline | old general path ns | "
          "old/new |")
    print("|---|---|---|---|---|---|")
    for name, new, old, rate in rows:
        print(f"| {name} | {rate:.3f} | {new:.2f} | {new / base:.2f} | {old:.2f} | {old / new:.1f} |")
    print(f"| old fast loop, uniform float LIF | | {old_fast_f:.2f} | {old_fast_f / base:.2f} | | |")
    print(f"| old fast loop, fixed LIF shift 3 | | {old_fast_x:.2f} | {old_fast_x / base:.2f} | | |")
    worst = max(r[1] / base for r in rows)
    print(f"worst ratio {worst:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
