"""``neurosim bench engine``: the engine's throughput against baselines run in the same process.

Network (seeded): ``n`` LIF neurons (decay 0.95, threshold 1, reset by subtraction), ``n_in``
Poisson inputs active with probability ``p_in`` per step, each input projecting to ``k_in`` random
neurons and each neuron to ``k_rec`` random neurons recurrently (one step late); ``steps`` steps.
Weights are drawn so the recurrent activity stays low (about 1.5 % per step) and rounded to
multiples of 2**-10, so that summation order cannot change a spike.

Measured, on the identical network and input spikes:

* **bare**: the tightest numba loop -- decay, threshold, CSR scatter-add, reset, nothing else --
  the practical bound of this machine for this work;
* **engine float / fixed**: the full engine (cycle model, per-core event counts, routing,
  link loads), float64 and fixed point;
* **brian2** (``--brian2-python PATH``): the same network in Brian2 2.9's numpy and cython targets,
  run by ``neurosim/targets/neuromorphic/brian2_runner.py`` in an interpreter that has Brian2 (it needs numpy < 2.4).

The float engine's and Brian2's spike counts must equal the bare loop's before their times are
compared (a different count means a different computation). The fixed-point run uses the same
network with weights rounded to 2**-8 and the leak 1 - 2**-4; its spikes are checked against the
reference simulator by the test suite, not here. Throughput = synaptic events / second of the simulation loop;
the first call of every numba kernel compiles (cached on disk) and is excluded and reported apart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numba import njit


@dataclass(frozen=True)
class BenchNetwork:
    n: int
    n_in: int
    steps: int
    in_ptr: np.ndarray
    in_idx: np.ndarray
    in_w: np.ndarray
    rec_ptr: np.ndarray
    rec_idx: np.ndarray
    rec_w: np.ndarray
    inputs: np.ndarray  # [steps, n_in] 0/1
    decay: float = 0.95
    threshold: float = 1.0


def make_network(n=10_000, n_in=1_000, k_in=500, k_rec=50, p_in=0.1, steps=1000, seed=0,
                 w_in=0.0095, w_rec=0.005, fixed_lsb: float | None = 2.0 ** -10) -> BenchNetwork:
    """The benchmark network. Weights are rounded to multiples of ``fixed_lsb`` (2**-10 by default)
    so every synaptic sum is exact in float64 whatever the order: the float engine, the bare loop
    and Brian2 then agree spike for spike."""
    rng = np.random.default_rng(seed)

    def csr(n_src, k, n_tgt, mean):
        idx = np.sort(rng.integers(0, n_tgt, size=(n_src, k)), axis=1)
        w = rng.normal(mean, abs(mean) * 0.5, size=(n_src, k))
        if fixed_lsb is not None:
            w = np.round(w / fixed_lsb) * fixed_lsb
        ptr = np.arange(0, n_src * k + 1, k, dtype=np.int64)
        return ptr, idx.reshape(-1).astype(np.int64), w.reshape(-1)

    in_ptr, in_idx, in_w = csr(n_in, k_in, n, w_in)
    rec_ptr, rec_idx, rec_w = csr(n, k_rec, n, w_rec)
    inputs = (rng.random((steps, n_in)) < p_in).astype(np.float64)
    return BenchNetwork(n, n_in, steps, in_ptr, in_idx, in_w, rec_ptr, rec_idx, rec_w, inputs)


@njit(cache=True)
def bare_loop(inputs, in_ptr, in_idx, in_w, rec_ptr, rec_idx, rec_w, n, decay, thr):
    """Decay, threshold, CSR scatter-add, reset: the bound. Recurrent input is added before the
    external input, in the same order as the engine, so the float sums are bit-identical."""
    steps = inputs.shape[0]
    v = np.zeros(n)
    acc = np.zeros(n)
    nxt = np.zeros(n)
    spikes = 0
    events = 0
    for t in range(steps):
        for i in range(n):
            acc[i] = nxt[i]
            nxt[i] = 0.0
        for j in range(inputs.shape[1]):
            if inputs[t, j] != 0.0:
                for e in range(in_ptr[j], in_ptr[j + 1]):
                    acc[in_idx[e]] += in_w[e]
                events += in_ptr[j + 1] - in_ptr[j]
        for i in range(n):
            vi = decay * v[i] + (acc[i] + 0.0)
            if vi > thr:
                vi -= thr
                spikes += 1
                for e in range(rec_ptr[i], rec_ptr[i + 1]):
                    nxt[rec_idx[e]] += rec_w[e]
                events += rec_ptr[i + 1] - rec_ptr[i]
            v[i] = vi
    return spikes, events


def to_graph(net: BenchNetwork, *, fixed: bool = False, lsb: float = 2.0 ** -8):
    """The bench network as an IR graph (float, or fixed point with 16-bit weights/membranes)."""
    from neurosim.ir import LIF, FixedPoint, Graph, Input, NeuronFixedPoint, Output, SparseCSR

    def transpose_csr(ptr, idx, w, n_src, n_tgt):
        src = np.repeat(np.arange(n_src), np.diff(ptr))
        order = np.lexsort((src, idx))
        rows = idx[order]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_tgt))])
        return SparseCSR(weight=w[order], indices=src[order], indptr=indptr, shape=(n_tgt, n_src),
                         weight_format=FixedPoint(16, 8) if fixed else None)

    fin = transpose_csr(net.in_ptr, net.in_idx, net.in_w, net.n_in, net.n)
    frec = transpose_csr(net.rec_ptr, net.rec_idx, net.rec_w, net.n, net.n)
    if fixed:
        lif = LIF(shape=(net.n,), decay=1 - 2.0 ** -4, threshold=net.threshold,
                  fixed=NeuronFixedPoint(state=FixedPoint(24, 8), leak="shift", leak_shift=4))
    else:
        lif = LIF(shape=(net.n,), decay=net.decay, threshold=net.threshold)
    nodes = {"input": Input(shape=(net.n_in,)), "w_in": fin, "lif": lif, "w_rec": frec, "output": Output(shape=(net.n,))}
    edges = (("input", "w_in"), ("w_in", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output"))
    return Graph(nodes, edges)


def bench_engine(n=10_000, steps=1000, seed=0, chip="loihi", chips: int = 4, brian2: bool = True, repeats: int = 3,
                 brian2_python: str | None = None, log=print) -> dict:
    """Run the benchmark (module docstring); times are the best of ``repeats`` runs."""
    from neurosim.targets.neuromorphic.model.compile import compile_graph
    from neurosim.targets.neuromorphic.model.simulate import segments, simulate
    from neurosim.targets.neuromorphic.estimate import on_board
    from neurosim.targets.neuromorphic.config import load_preset

    chip = on_board(load_preset(chip), chips)
    results: dict = {"network": {}, "runs": {}}
    net = make_network(n=n, steps=steps, seed=seed)
    t0 = time.perf_counter()
    bare_loop(net.inputs[:2], net.in_ptr, net.in_idx, net.in_w, net.rec_ptr, net.rec_idx, net.rec_w, net.n,
              net.decay, net.threshold)
    results["compile_bare_s"] = time.perf_counter() - t0
    bare_s = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        spikes, events = bare_loop(net.inputs, net.in_ptr, net.in_idx, net.in_w, net.rec_ptr, net.rec_idx, net.rec_w,
                                   net.n, net.decay, net.threshold)
        bare_s = min(bare_s, time.perf_counter() - t0)
    results["network"] = {"neurons": n, "inputs": net.n_in, "steps": steps, "synapses": int(net.in_w.size + net.rec_w.size),
                          "synaptic_events": int(events), "spikes": int(spikes)}
    results["runs"]["bare numba loop (float64)"] = {"seconds": bare_s, "events_per_s": events / bare_s, "spikes": int(spikes)}
    log(f"network: {n} LIF, {net.n_in} inputs, {net.in_w.size + net.rec_w.size:,} synapses, {steps} steps: "
        f"{events:,} synaptic events, {spikes:,} spikes")
    log(f"bare loop: {bare_s:.3f} s, {events / bare_s / 1e6:.0f} M events/s")

    net_q = make_network(n=n, steps=steps, seed=seed, fixed_lsb=2.0 ** -8)
    for mode in ("float", "fixed"):
        graph = to_graph(net if mode == "float" else net_q, fixed=(mode == "fixed"))
        t0 = time.perf_counter()
        cn = compile_graph(graph, mode)
        compile_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = simulate(graph, chip, net.inputs[:2], mode=mode, net=cn)  # map, and warm the kernel (numba cache)
        warm_s = time.perf_counter() - t0
        mapping = res.mapping
        segs = segments(cn, mapping)
        run_s = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            res = simulate(graph, chip, net.inputs, mode=mode, net=cn, mapping=mapping, segs=segs)
            run_s = min(run_s, time.perf_counter() - t0)
        n_spikes = int(res.spikes["lif"].sum())
        ev = int(res.counts["synaptic_op"].sum()) if chip.synapse_storage == "sparse" else None
        row = {"seconds": run_s, "spikes": n_spikes, "compile_graph_s": compile_s, "first_call_s": warm_s,
               "cores": mapping.n_cores}
        if mode == "float":
            if n_spikes != spikes:
                raise AssertionError(f"engine float spikes {n_spikes} != bare loop {spikes}: the bench is invalid")
            row["events_per_s"] = events / run_s
            row["ratio_to_bare"] = bare_s / run_s
        else:
            row["events_per_s"] = (ev or events) / run_s
            row["synaptic_events"] = ev
        results["runs"][f"engine {mode} (full accounting)"] = row
        log(f"engine {mode}: {run_s:.3f} s, {row['events_per_s'] / 1e6:.0f} M events/s"
            + (f", {row['ratio_to_bare']:.0%} of the bare loop" if "ratio_to_bare" in row else "")
            + f" ({mapping.n_cores} cores on {chip.name})")
    if brian2:
        results["runs"].update(_bench_brian2(net, spikes, events, log, python=brian2_python))
    return results


def _bench_brian2(net: BenchNetwork, spikes: int, events: int, log, python: str | None = None) -> dict:
    """Brian2 on the identical network and spikes, in ``python`` (an interpreter with Brian2) via
    ``neurosim/targets/neuromorphic/brian2_runner.py``; Brian2 2.9 does not import beside numpy >= 2.4."""
    import json
    import subprocess
    import tempfile
    from pathlib import Path

    runner = Path(__file__).with_name("brian2_runner.py")
    if python is None or not runner.exists():
        log("brian2: skipped (give --brian2-python PATH: a Python with brian2 2.9 and numpy 2.3)")
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        npz, out = Path(tmp) / "net.npz", Path(tmp) / "out.json"
        np.savez(npz, steps=net.steps, n=net.n, n_in=net.n_in, decay=net.decay, inputs=net.inputs,
                 in_src=np.repeat(np.arange(net.n_in), np.diff(net.in_ptr)), in_idx=net.in_idx, in_w=net.in_w,
                 rec_src=np.repeat(np.arange(net.n), np.diff(net.rec_ptr)), rec_idx=net.rec_idx, rec_w=net.rec_w)
        t0 = time.perf_counter()
        proc = subprocess.run([python, str(runner), str(npz), str(out)], capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode:
            log(f"brian2 failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
            return {}
        data = json.loads(out.read_text())
    rows = {}
    for target in ("numpy", "cython"):
        if target not in data:
            continue
        r = data[target]
        same = r["spikes"] == spikes
        rows[f"brian2 {target}"] = {"seconds": r["seconds"], "setup_s": r["setup_s"], "spikes": r["spikes"],
                                    "spikes_identical": same, "events_per_s": events / r["seconds"] if same else None,
                                    "brian2_version": data.get("brian2_version")}
        log(f"brian2 {target}: {r['seconds']:.2f} s, {events / r['seconds'] / 1e6:.0f} M events/s, spikes {r['spikes']} "
            f"({'identical' if same else 'DIFFERENT from the bare loop'})")
    rows["brian2 subprocess wall"] = {"seconds": wall}
    return rows
