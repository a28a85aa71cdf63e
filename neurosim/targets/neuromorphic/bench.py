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
* **brian2** (``--brian2-python PATH``): the same network in Brian2 2.9's numpy and cython targets
  and its C++ standalone mode (g++; build time reported apart from run time), run by
  ``neurosim/targets/neuromorphic/brian2_runner.py`` in an interpreter that has Brian2 (it needs numpy < 2.4);
* **neuron variants** (:func:`bench_variants`): the same network and mapping with plain LIF,
  ``refractory_steps=1``, CubaLIF and ``spike_rule="multi"``; spike counts differ between them, so
  the figure of merit is synaptic events per second (the engine's ``counts["synaptic_op"]``);
* **scale series** (:func:`bench_models`, ``--models`` / ``--scale``): the real-size workloads of
  :mod:`neurosim.workloads` (VGG-11 CIFAR T=8, DVS Gesture CNN T=16, SEW-ResNet-18 T=4), each in a
  fresh subprocess so that its peak RSS is its own, timed per phase (import, build, quantize,
  compile, map, simulate, report) on a Loihi board with as many chips as the mapping needs.

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
                 brian2_python: str | None = None, log=print, variants: bool = True) -> dict:
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
        if mode == "float":
            float_mapping, float_segs = mapping, segs
    if variants:
        results["variants"] = bench_variants(net, chip, float_mapping, float_segs, repeats=repeats, log=log)
    if brian2:
        results["runs"].update(_bench_brian2(net, spikes, events, log, python=brian2_python))
        cpp = results["runs"].get("brian2 cpp_standalone")
        if cpp and cpp.get("events_per_s"):
            ratio = results["runs"]["engine float (full accounting)"]["events_per_s"] / cpp["events_per_s"]
            results["engine_float_over_brian2_cpp_standalone"] = ratio
            log(f"engine float / brian2 cpp_standalone: {ratio:.2f}x (events/s)")
    return results


#: the neuron variants of :func:`bench_variants`: name -> (population class name, extra fields)
VARIANTS = {
    "LIF": ("LIF", {}),
    "LIF refractory_steps=1": ("LIF", {"refractory_steps": 1}),
    "CubaLIF (syn_decay 0.5)": ("CubaLIF", {"syn_decay": 0.5}),
    "LIF spike_rule=multi": ("LIF", {"spike_rule": "multi"}),
}


def variant_graph(net: BenchNetwork, variant: str):
    """The float bench graph with its population replaced by ``variant`` (a key of :data:`VARIANTS`)."""
    import dataclasses

    from neurosim.ir import CubaLIF

    graph = to_graph(net)
    cls, extra = VARIANTS[variant]
    lif = graph.nodes["lif"]
    if cls == "CubaLIF":
        pop = CubaLIF(shape=lif.shape, decay=net.decay, threshold=net.threshold, **extra)
    else:
        pop = dataclasses.replace(lif, **extra)
    return graph.replace(nodes={**graph.nodes, "lif": pop})


def unique_fanout(ptr: np.ndarray, idx: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Synapses per source row as the engine stores them: a repeated (source, target) pair is one
    synapse (its weights add) and a zero weight is none; that is the synaptic events of one spike."""
    out = np.zeros(ptr.size - 1, dtype=np.int64)
    for j, (a, b) in enumerate(zip(ptr[:-1], ptr[1:])):
        tgt, inv = np.unique(idx[a:b], return_inverse=True)
        out[j] = np.count_nonzero(np.bincount(inv, weights=w[a:b], minlength=tgt.size))
    return out


def bench_variants(net: BenchNetwork, chip, mapping, segs, *, repeats: int = 3, log=print) -> dict:
    """Engine float throughput of the neuron variants on the same network, mapping and input spikes.

    The synaptic events are the engine's ``counts["synaptic_op"]`` (the chip stores synapses
    sparsely, so one op is one delivered synaptic event) or, for a dense-storage chip, spikes x
    fan-out; ``ratio_to_plain`` compares events per second with plain LIF."""
    from neurosim.targets.neuromorphic.model.compile import compile_graph
    from neurosim.targets.neuromorphic.model.simulate import simulate

    rows: dict = {}
    fan_in = unique_fanout(net.in_ptr, net.in_idx, net.in_w)
    fan_rec = unique_fanout(net.rec_ptr, net.rec_idx, net.rec_w)
    for variant in VARIANTS:
        graph = variant_graph(net, variant)
        cn = compile_graph(graph, "float")
        simulate(graph, chip, net.inputs[:2], mode="float", net=cn, mapping=mapping, segs=segs)  # warm the kernel
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            res = simulate(graph, chip, net.inputs, mode="float", net=cn, mapping=mapping, segs=segs)
            best = min(best, time.perf_counter() - t0)
        spk = res.spikes["lif"]
        if chip.synapse_storage == "sparse":
            ev = int(res.counts["synaptic_op"].sum())
        else:
            ev = int((net.inputs @ fan_in).sum() + (spk[:-1] @ fan_rec).sum())
        rows[variant] = {"seconds": best, "spikes": int(spk.sum()), "synaptic_events": ev, "events_per_s": ev / best}
    plain = rows["LIF"]["events_per_s"]
    for variant, row in rows.items():
        row["ratio_to_plain"] = row["events_per_s"] / plain
        log(f"variant {variant}: {row['seconds']:.3f} s, {row['spikes']:,} spikes, {row['synaptic_events']:,} events, "
            f"{row['events_per_s'] / 1e6:.0f} M events/s ({row['ratio_to_plain']:.2f}x plain)")
    return rows


# -- scale series -------------------------------------------------------------------------------

#: model key -> (builder in neurosim.workloads, keyword arguments, timesteps, label)
MODELS = {
    "vgg11": ("vgg11", {}, 8, "VGG-11 CIFAR-10 3x32x32"),
    "dvs": ("dvs_gesture_cnn", {}, 16, "DVS Gesture CNN 2x128x128"),
    "resnet18": ("sew_resnet18", {"pool": "sum"}, 4, "SEW-ResNet-18 3x224x224"),
}
SCALE_PX = (32, 64, 128)
PHASES = ("import", "build", "quantize", "compile", "map_sizing", "map", "simulate_first_step", "simulate", "report")


def parse_models(text: str) -> tuple[str, ...]:
    """``"vgg11,dvs"`` -> ``("vgg11", "dvs")``; an unknown name raises."""
    from neurosim.errors import SimulationError

    names = tuple(m.strip() for m in text.split(",") if m.strip())
    bad = [m for m in names if m not in MODELS]
    if bad or not names:
        raise SimulationError(f"--models must be a comma-separated list of {sorted(MODELS)!r}, found {text!r}")
    return names


def _spec(key: str, *, input_px: int | None = None, seed: int = 0, rate: float = 0.1, steps: int | None = None,
          chip: str = "loihi", board_chips: int | None = None) -> dict:
    builder, kwargs, t, label = MODELS[key]
    kwargs = dict(kwargs, seed=seed)
    if input_px is not None:
        kwargs["input_px"] = input_px
        label = f"{label.rsplit(' ', 1)[0]} 3x{input_px}x{input_px}"
    return {"key": key, "builder": builder, "kwargs": kwargs, "steps": steps or t, "label": label, "rate": rate,
            "seed": seed, "chip": chip, "board_chips": board_chips}


def run_model(spec: dict, *, timeout: float = 600.0, python: str | None = None) -> dict:
    """Run one scale-series model in a fresh interpreter (:func:`_worker`) and return its row."""
    import json
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "row.json"
        code = ("import time; t0 = time.perf_counter(); import sys, json; "
                "from neurosim.targets.neuromorphic.bench import _worker; "
                "_worker(t0, json.loads(sys.argv[1]), sys.argv[2])")
        t0 = time.perf_counter()
        try:
            proc = subprocess.run([python or sys.executable, "-c", code, json.dumps(spec), str(out)],
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            row = json.loads(out.read_text()) if out.exists() else {}
            row.update(error=f"timed out after {timeout:.0f} s", label=spec["label"])
            return row
        wall = time.perf_counter() - t0
        if out.exists():
            row = json.loads(out.read_text())
        else:
            tail = proc.stderr.strip().splitlines()
            row = {"label": spec["label"], "error": tail[-1] if tail else f"exit status {proc.returncode}"}
        if proc.returncode and "error" not in row:
            tail = proc.stderr.strip().splitlines()
            row["error"] = tail[-1] if tail else f"exit status {proc.returncode}"
        row["process_wall_s"] = wall
        return row


def _peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _worker(t_start: float, spec: dict, out_path: str) -> None:
    """One scale-series model, phase by phase; writes its row (JSON) after every phase, so a
    timeout or an error still reports the phases done. Errors of neurosim (CapacityError: the
    model does not fit) are caught and reported in one line."""
    import json

    from neurosim.errors import NeurosimError
    import neurosim.workloads as workloads
    from neurosim.passes.quantize import quantize
    from neurosim.targets.neuromorphic.config import load_preset
    from neurosim.targets.neuromorphic.estimate import on_board
    from neurosim.targets.neuromorphic.model.compile import compile_graph
    from neurosim.targets.neuromorphic.model.simulate import simulate
    from neurosim.targets.neuromorphic.partition import partition

    row: dict = {"label": spec["label"], "key": spec["key"], "steps": spec["steps"], "phases_s": {}}
    phases = row["phases_s"]
    phases["import"] = time.perf_counter() - t_start

    def save():
        row["peak_rss_mib"] = _peak_rss_mib()
        with open(out_path, "w") as fh:
            json.dump(row, fh)

    def timed(phase, fn):
        t0 = time.perf_counter()
        value = fn()
        phases[phase] = time.perf_counter() - t0
        save()
        return value

    try:
        base = load_preset(spec["chip"])
        graph = timed("build", lambda: getattr(workloads, spec["builder"])(**spec["kwargs"]))
        row.update(workloads.size_of(graph))
        x = workloads.random_input(graph, spec["steps"], spec["rate"], spec["seed"])
        q = timed("quantize", lambda: quantize(graph, weight_bits=base.weight_bits, state_bits=base.membrane_bits))
        hw = q.graph
        cn = timed("compile", lambda: compile_graph(hw, "fixed"))
        if spec.get("board_chips"):
            board = on_board(base, int(spec["board_chips"]))
            mapping = timed("map", lambda: partition(cn, board))
        else:  # size the board: map on the largest Loihi system, then onto exactly the chips it needs
            big = on_board(base, 16_384)  # Davies et al. 2018: the mesh extends to 16,384 chips
            sizing = timed("map_sizing", lambda: partition(cn, big))
            board = on_board(base, int(sizing.n_chips))
            mapping = timed("map", lambda: partition(cn, board))
        row.update(cores=int(mapping.n_cores), chips=int(mapping.n_chips), chip=base.name)
        # the first call loads numba's cached kernels: one step, timed apart
        timed("simulate_first_step", lambda: simulate(hw, board, x[:1], mode="fixed", net=cn, mapping=mapping))
        res = timed("simulate", lambda: simulate(hw, board, x, mode="fixed", net=cn, mapping=mapping))
        events = int(res.counts["synaptic_op"].sum())
        spikes = {p: float(a.mean()) for p, a in res.spikes.items()}
        row.update(synaptic_events=events, events_per_s=events / phases["simulate"],
                   spikes=int(sum(float(a.sum()) for a in res.spikes.values())),
                   firing_rate_mean=float(np.mean(list(spikes.values()))) if spikes else 0.0,
                   firing_rate_by_layer=spikes)
        doc = timed("report", lambda: _report(hw, board, res, q))
        row.update(energy_pj=doc["totals"]["energy_pj"], latency_s=doc["totals"]["latency_s"])
    except NeurosimError as exc:
        row["error"] = f"{type(exc).__name__}: {exc}"
    except MemoryError:
        row["error"] = "MemoryError"
    save()


def _report(hw_graph, chip, res, q) -> dict:
    """The estimate's report assembly on an engine result (energy per event, latency, synops,
    per-layer counts, JSON form): what :func:`neurosim.targets.neuromorphic.estimate.estimate`
    does after ``simulate``."""
    from neurosim.targets.neuromorphic.energy import energy_breakdown
    from neurosim.targets.neuromorphic.estimate import Estimate, _as_dict, synops_estimate
    from neurosim.targets.neuromorphic.model.simulate import step_timing
    from neurosim.targets.neuromorphic.report import to_dict

    timing = step_timing(res)
    step_s = timing["step_s"]
    counts = res.counts
    core_pop = res.mapping.core_population
    per_event, unknown = {}, set()
    for ev, arr in counts.items():
        const = chip.energy_pj.get(ev)
        value = getattr(const, "value", None) if const is not None else None
        if value is None:
            if arr.any() and not getattr(const, "not_applicable", False):
                unknown.add(ev)
            continue
        per_event[ev] = arr * float(value)
    totals = {ev: int(arr.sum()) for ev, arr in counts.items()}
    breakdown = energy_breakdown(totals, chip, float(np.nansum(step_s)))
    by_step_core = sum(per_event.values()) if per_event else np.zeros_like(res.integrate_cycles, dtype=float)
    layers = list(dict.fromkeys(core_pop))
    cols = {p: [i for i, c in enumerate(core_pop) if c == p] for p in layers}
    est = Estimate(
        graph=hw_graph, chip=chip, method="cycle", steps=res.steps, result=res, counts_total=totals,
        counts_by_layer={p: {ev: int(arr[:, cols[p]].sum()) for ev, arr in counts.items()} for p in layers},
        energy_by_event_pj=dict(breakdown.per_event_pj),
        energy_by_layer_pj={p: float(by_step_core[:, cols[p]].sum()) for p in layers},
        energy_by_core_pj=by_step_core.sum(axis=0), energy_by_step_pj=by_step_core.sum(axis=1),
        static_pj=breakdown.static_pj, total_pj=breakdown.total_pj,
        unknown_events=tuple(sorted(set(breakdown.unknown_events) | unknown)), step_s=step_s,
        step_cycles=timing.get("step_cycles"), core_busy=timing["core_units"], busy_unit=timing["unit"],
        quantization=[_as_dict(r) for r in q.layers], notes=[], static_unknown=breakdown.static_unknown,
        unknown_latencies=tuple(timing["unknown_latencies"]), extra_latency_s=timing["extra_s"],
    )
    est.synops = synops_estimate(hw_graph, res, chip)
    return to_dict(est)


def bench_models(models=(), *, scale: bool = False, seed: int = 0, rate: float = 0.1, chip: str = "loihi",
                 board_chips: int | None = None, timeout: float = 600.0, plot: str | None = None, log=print,
                 specs: list[dict] | None = None) -> dict:
    """The scale series (module docstring): ``models`` (keys of :data:`MODELS`) and, with ``scale``,
    VGG-11 at 32/64/128 px; one fresh subprocess per model; ``plot`` saves the scaling curve."""
    todo = list(specs or [])
    todo += [_spec(m, seed=seed, rate=rate, chip=chip, board_chips=board_chips) for m in models]
    if scale:
        todo += [_spec("vgg11", input_px=px, seed=seed, rate=rate, chip=chip, board_chips=board_chips)
                 for px in SCALE_PX if not (px == 32 and "vgg11" in models)]
    rows = []
    for spec in todo:
        row = run_model(spec, timeout=timeout)
        row.setdefault("label", spec["label"])
        rows.append(row)
        _log_row(row, log)
    out = {"models": rows}
    if scale and plot:
        vgg = [r for r in rows if r.get("key") == "vgg11" and "error" not in r]
        missing = [r["label"].rsplit(" ", 1)[-1] for r in rows if r.get("key") == "vgg11" and "error" in r]
        if vgg:
            plot_scaling(vgg, plot, chip=str(chip), missing=missing)
            out["plot"] = str(plot)
            log(f"scaling plot: {plot}")
    return out


def _log_row(row: dict, log) -> None:
    ph = row.get("phases_s", {})
    text = ", ".join(f"{p} {ph[p]:.2f} s" for p in PHASES if p in ph)
    size = (f"{row['neurons']:,} neurons, {row['weights']:,} weights" if "neurons" in row else "")
    log(f"{row['label']} (T={row.get('steps')}): {size}; {text}")
    if "error" in row:
        log(f"  {row['error']}")
        return
    log(f"  {row['chips']} chip(s), {row['cores']} cores; {row['synaptic_events']:,} synaptic events, "
        f"{row['events_per_s'] / 1e6:.1f} M events/s; mean firing rate {row['firing_rate_mean']:.3f}; "
        f"peak RSS {row['peak_rss_mib']:.0f} MiB")


def plot_scaling(rows: list[dict], path, chip: str = "loihi", missing: list[str] = ()) -> None:
    """Two panels: simulate time vs synaptic events, peak RSS vs neurons + weights (log-log); the
    title names the chip and the sizes that did not finish (``missing``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.6))
    ev = [r["synaptic_events"] for r in rows]
    a.loglog(ev, [r["phases_s"]["simulate"] for r in rows], "o-")
    a.set_xlabel("synaptic events")
    a.set_ylabel("simulate wall time (s)")
    size = [r["neurons"] + r["weights"] for r in rows]
    b.loglog(size, [r["peak_rss_mib"] for r in rows], "s-")
    b.set_xlabel("neurons + weights")
    b.set_ylabel("peak RSS (MiB)")
    for ax, xs, ys in ((a, ev, [r["phases_s"]["simulate"] for r in rows]), (b, size, [r["peak_rss_mib"] for r in rows])):
        for r, x, y in zip(rows, xs, ys):
            ax.annotate(r["label"].rsplit(" ", 1)[-1], (x, y), textcoords="offset points", xytext=(4, -10), fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
    from pathlib import Path

    title = f"neurosim engine: spiking VGG-11, T=8, fixed point, on {Path(chip).stem}"
    if missing:
        title += f"\nnot finished: {', '.join(missing)}"
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _bench_brian2(net: BenchNetwork, spikes: int, events: int, log, python: str | None = None,
                  targets: tuple[str, ...] = ("numpy", "cython", "cpp_standalone")) -> dict:
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
        proc = subprocess.run([python, str(runner), str(npz), str(out), *targets], capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode:
            log(f"brian2 failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
            return {}
        data = json.loads(out.read_text())
    rows = {}
    for target in targets:
        if target not in data:
            continue
        r = data[target]
        same = r["spikes"] == spikes
        rows[f"brian2 {target}"] = {"seconds": r["seconds"], "setup_s": r["setup_s"], "spikes": r["spikes"],
                                    "spikes_identical": same, "events_per_s": events / r["seconds"] if same else None,
                                    "brian2_version": data.get("brian2_version")}
        extra = ""
        for key in ("build_s", "binary_s"):
            if key in r:
                rows[f"brian2 {target}"][key] = r[key]
        if "build_s" in r:
            extra = f"; build (codegen + g++) {r['build_s']:.1f} s, binary {r['binary_s']:.2f} s"
        log(f"brian2 {target}: {r['seconds']:.2f} s, {events / r['seconds'] / 1e6:.0f} M events/s, spikes {r['spikes']} "
            f"({'identical' if same else 'DIFFERENT from the bare loop'}){extra}")
    rows["brian2 subprocess wall"] = {"seconds": wall}
    return rows


# -- neurosim bench sanafe ------------------------------------------------------------------------------

#: SANA-FE's barrier by tiles in use (largest key <= tiles), ns: sanafe 2.2.9 sanafe/examples/loihi.yaml latency_sync.
SANAFE_SYNC_NS = {1: 600.0, 2: 1000.0, 4: 1400.0, 29: 1800.0}


def sanafe_sync_ns(tiles: int) -> float:
    """SANA-FE's barrier for ``tiles`` mapped tiles (``LookupTable::get``: the largest key <= tiles)."""
    keys = [k for k in sorted(SANAFE_SYNC_NS) if k <= tiles]
    return SANAFE_SYNC_NS[keys[-1] if keys else min(SANAFE_SYNC_NS)]


def sanafe_networks(seed: int = 0, steps: int = 100):
    """The three comparison networks (graph, input raster, neurons per core): feed-forward (3 dense
    layers), recurrent (a CSR population with sparse recurrent synapses), conv (two conv layers and
    a dense readout). Every projection is preceded by a one-step Delay, the timing SANA-FE gives
    every message; weights are multiples of 2**-10."""
    from neurosim.ir import LIF, Conv2d, Delay, Dense, Graph, Input, Output, SparseCSR
    from neurosim.ir.nodes.shaping import Flatten

    rng = np.random.default_rng(seed)
    q = lambda w: np.round(w * 1024) / 1024  # noqa: E731
    lif = lambda shape: LIF(shape=shape, decay=0.9, threshold=1.0)  # noqa: E731
    out = {}
    # feed-forward: 64 -> 128 -> 128 -> 32
    nodes = {"input": Input(shape=(64,))}
    edges, prev, n_prev = [], "input", 64
    for i, (n, mean) in enumerate(((128, 0.03), (128, 0.02), (32, 0.02))):
        nodes[f"d{i}"] = Delay(shape=(n_prev,), delay_steps=1)
        nodes[f"w{i}"] = Dense(weight=q(rng.normal(mean, 0.1, size=(n, n_prev))))
        nodes[f"l{i}"] = lif((n,))
        edges += [(prev, f"d{i}"), (f"d{i}", f"w{i}"), (f"w{i}", f"l{i}")]
        prev, n_prev = f"l{i}", n
    nodes["output"] = Output(shape=(32,))
    edges.append((prev, "output"))
    out["feed-forward"] = (Graph(nodes, tuple(edges)), (rng.random((steps, 64)) < 0.2).astype(np.float64), 64)
    # recurrent: 64 inputs -> 256 LIF, 10 % recurrent connectivity
    n, n_in = 256, 64

    def csr(n_tgt, n_src, p, mean, sd):
        mask = rng.random((n_tgt, n_src)) < p
        w = q(rng.normal(mean, sd, size=(n_tgt, n_src))) * mask
        rows, cols = np.nonzero(w)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_tgt))])
        return SparseCSR(weight=w[rows, cols], indices=cols, indptr=indptr, shape=(n_tgt, n_src))

    # the recurrent edge is one step late by itself (design.md): no Delay node on it
    nodes = {"input": Input(shape=(n_in,)), "d_in": Delay(shape=(n_in,), delay_steps=1),
             "w_in": csr(n, n_in, 0.25, 0.08, 0.04), "lif": lif((n,)),
             "w_rec": csr(n, n, 0.1, 0.0, 0.1), "output": Output(shape=(n,))}
    edges = (("input", "d_in"), ("d_in", "w_in"), ("w_in", "lif"), ("lif", "w_rec"),
             ("w_rec", "lif"), ("lif", "output"))
    out["recurrent"] = (Graph(nodes, edges), (rng.random((steps, n_in)) < 0.2).astype(np.float64), 64)
    # conv: (2, 12, 12) -> conv3x3 8ch (8, 10, 10) -> conv3x3 stride 2 8ch (8, 4, 4) -> dense 10
    nodes = {"input": Input(shape=(2, 12, 12)), "d0": Delay(shape=(2, 12, 12), delay_steps=1),
             "c0": Conv2d(weight=q(rng.normal(0.12, 0.15, size=(8, 2, 3, 3))), input_shape=(2, 12, 12)),
             "l0": lif((8, 10, 10)), "d1": Delay(shape=(8, 10, 10), delay_steps=1),
             "c1": Conv2d(weight=q(rng.normal(0.05, 0.1, size=(8, 8, 3, 3))), stride=2, input_shape=(8, 10, 10)),
             "l1": lif((8, 4, 4)), "f2": Flatten(), "d2": Delay(shape=(128,), delay_steps=1),
             "w2": Dense(weight=q(rng.normal(0.06, 0.1, size=(10, 128)))), "l2": lif((10,)), "output": Output(shape=(10,))}
    edges = (("input", "d0"), ("d0", "c0"), ("c0", "l0"), ("l0", "d1"), ("d1", "c1"), ("c1", "l1"), ("l1", "f2"), ("f2", "d2"),
             ("d2", "w2"), ("w2", "l2"), ("l2", "output"))
    out["conv"] = (Graph(nodes, edges), (rng.random((steps, 2, 12, 12)) < 0.15).astype(np.float64), 100)
    return out


def sanafe_mapping(net, chip, neurons_per_core: int):
    """Every population in slices of ``neurons_per_core`` on consecutive physical cores from core 1
    (core 0 of tile 0 is SANA-FE's host core of the inputs, which neurosim's host inputs stand for)."""
    from neurosim.targets.neuromorphic.partition import Mapping

    pops, ranges, ids = [], [], []
    core = 1
    for p, name in enumerate(net.populations):
        a, b = int(net.pop_offset[p]), int(net.pop_offset[p + 1])
        for lo in range(a, b, neurons_per_core):
            pops.append(name)
            ranges.append((lo, min(b, lo + neurons_per_core)))
            ids.append(core)
            core += 1
    ids = np.asarray(ids, dtype=np.int64)
    xy = np.asarray([chip.core_xy(int(c)) for c in ids], dtype=np.int64)
    mapping = Mapping(chip=chip, core_population=tuple(pops), core_range=np.asarray(ranges, dtype=np.int64),
                      core_xy=xy, core_chip=np.zeros(len(ids), dtype=np.int64), core_tile=ids // chip.cores_per_tile,
                      n_chips=1, grid=(chip.mesh_x, chip.mesh_y))
    return mapping, ids


def _categories_neurosim(counts: dict, chip) -> dict:
    """Energy per category (pJ, whole run) from neurosim's counts priced on ``chip``."""
    price = lambda e: float(np.sum(counts[e])) * float(chip.energy_pj[e].value or 0.0)  # noqa: E731
    return {"synaptic": price("synaptic_op"),
            "neuron updates": price("neuron_update_active") + price("neuron_update_inactive"),
            "spike generation": price("spike_out"), "messages": price("packet_out"),
            "noc": price("hop_ew") + price("hop_ns") + price("spike_in_tile")}


def bench_sanafe(*, sanafe_python: str | None = None, out_dir=None, steps: int = 100, seed: int = 0,
                 chip: str = "loihi-sanafe", log=print, networks=None) -> dict:
    """Run the three comparison networks through neurosim (float engine, ``chip``) and SANA-FE
    (:mod:`~neurosim.targets.neuromorphic.sanafe_runner` in ``sanafe_python``, or
    ``$NEUROSIM_SANAFE_PYTHON``) on the same mapping; returns (and writes to ``out_dir``) per network
    the energy and latency per timestep of both, their ratio, the spikes, and the energy breakdown by
    category. neurosim's barrier is set to SANA-FE's table value for the tiles in use (inputs' tile
    included): the preset holds one value."""
    import dataclasses
    import json
    import os
    import subprocess
    import tempfile
    from pathlib import Path

    from neurosim.errors import SimulationError
    from neurosim.targets.neuromorphic.config import Constant, load_preset
    from neurosim.targets.neuromorphic.model.compile import compile_graph
    from neurosim.targets.neuromorphic.model.simulate import simulate
    from neurosim.targets.neuromorphic.model.timing import step_timing
    from neurosim.targets.neuromorphic.sanafe_runner import write_network

    python = sanafe_python or os.environ.get("NEUROSIM_SANAFE_PYTHON")
    if not python:
        raise SimulationError("no SANA-FE interpreter: pass --sanafe-python PATH or set NEUROSIM_SANAFE_PYTHON "
                              "(python -m venv V && V/bin/pip install sanafe==2.2.9 numpy pyyaml)")
    base = load_preset(chip)
    runner = Path(__file__).with_name("sanafe_runner.py")
    nets = networks or sanafe_networks(seed=seed, steps=steps)
    results = {"chip": chip, "steps": steps, "seed": seed, "networks": {}}
    work = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="neurosim_sanafe_"))
    work.mkdir(parents=True, exist_ok=True)
    for name, (graph, x, npc) in nets.items():
        net = compile_graph(graph, "float")
        mapping, ids = sanafe_mapping(net, base, npc)
        tiles = len(set((ids // base.cores_per_tile).tolist()) | {0})
        sync = sanafe_sync_ns(tiles)
        chip_n = dataclasses.replace(base, barrier_ns=Constant(
            sync, "ns", "sanafe 2.2.9 sanafe/examples/loihi.yaml latency_sync", f"{tiles} tiles in use"))
        mapping = dataclasses.replace(mapping, chip=chip_n)
        res = simulate(graph, chip_n, x, mode="float", mapping=mapping, net=net)
        timing = step_timing(res)
        flat = x.reshape(x.shape[0], -1)
        slug = name.replace(" ", "_")
        net_path, out_path = work / f"{slug}.yaml", work / f"{slug}.sanafe.json"
        info = write_network(net, mapping, flat, net_path, core_ids=ids)
        proc = subprocess.run([python, str(runner), str(net_path), str(out_path), str(steps)], capture_output=True,
                              text=True)
        if proc.returncode:
            tail = (proc.stderr.strip().splitlines() or [str(proc.returncode)])[-1]
            raise SimulationError(f"SANA-FE failed on network {name!r}: {tail}")
        sf = json.loads(out_path.read_text())
        # spikes per population, both tools
        ns_spikes = {p: int(res.spikes[p].sum()) for p in net.populations}
        sf_spikes = {info["groups"][g]: int(sum(v)) for g, v in sf["spikes"].items() if g in info["groups"]}
        sf_spikes = {p: sf_spikes.get(p, 0) for p in net.populations}
        # energy per step (pJ) and by category
        ns_cat = _categories_neurosim(res.counts, chip_n)
        perf = sf["perf"]
        lif_spikes = sum(sf_spikes.values())
        spike_gen = lif_spikes * float(chip_n.energy_pj["spike_out"].value)
        # packets_sent counts the host core's input messages too (priced 0): they are the packets that
        # arrive without being generated by a core, the same count in both tools
        host_packets = int(res.packets_in.sum() - res.counts["packet_out"].sum())
        messages = (sf["packets_sent"] - host_packets) * float(chip_n.energy_pj["packet_out"].value)
        soma = sum(perf["soma_energy"]) * 1e12
        network = sum(perf["network_energy"]) * 1e12
        sf_cat = {"synaptic": sum(perf["synapse_energy"]) * 1e12, "neuron updates": soma - spike_gen,
                  "spike generation": spike_gen, "messages": messages, "noc": network - messages}
        ns_e = sum(ns_cat.values()) / steps
        sf_e = sum(perf["total_energy"]) * 1e12 / steps
        ns_l = float(np.mean(timing["step_s"])) * 1e9
        sf_l = float(np.mean(perf["sim_time"])) * 1e9
        crit = np.argmax(np.where(np.asarray([bool(net.pop_sources[net.populations.index(p)])
                                             for p in mapping.core_population])[None, :],
                                  timing["noc_units"] + timing["receipt_units"] + timing["generation_units"],
                                  np.maximum(timing["generation_units"], timing["noc_units"] + timing["receipt_units"])),
                         axis=1)
        pick = lambda a: float(np.mean(a[np.arange(steps), crit]))  # noqa: E731
        row = {"neurons": int(net.n_total - net.n_inputs), "cores": int(mapping.n_cores), "tiles": tiles,
               "neurons_per_core": npc, "synapses": int(net.synapse_list().target.size),
               "energy_per_step_pj": {"neurosim": ns_e, "sanafe": sf_e, "ratio": ns_e / sf_e if sf_e else None},
               "latency_per_step_ns": {"neurosim": ns_l, "sanafe": sf_l, "ratio": ns_l / sf_l if sf_l else None},
               "spikes": {"neurosim": ns_spikes, "sanafe": sf_spikes, "equal": ns_spikes == sf_spikes},
               "energy_by_category_pj_per_step": {k: {"neurosim": ns_cat[k] / steps, "sanafe": sf_cat[k] / steps}
                                                  for k in ns_cat},
               "latency_critical_core_ns": {"generation": pick(timing["generation_units"]),
                                            "receipt": pick(timing["receipt_units"]), "noc": pick(timing["noc_units"]),
                                            "barrier": float(timing["barrier_units"])},
               "sanafe": {"version": sf["sanafe_version"], "arch": sf["arch"], "packets": sf["packets_sent"],
                          "neurons_updated": sf["neurons_updated"]},
               "neurosim_counts": {e: int(np.sum(res.counts[e])) for e in
                                   ("synaptic_op", "neuron_update_active", "neuron_update_inactive", "spike_out",
                                    "packet_out", "packet_in", "spike_in_tile", "hop_ew", "hop_ns")}}
        results["networks"][name] = row
        log(f"{name}: energy/step neurosim {ns_e / 1e3:.2f} nJ, SANA-FE {sf_e / 1e3:.2f} nJ ({ns_e / sf_e:.3f}x); "
            f"latency/step {ns_l:.0f} ns vs {sf_l:.0f} ns ({ns_l / sf_l:.3f}x); spikes "
            f"{'equal' if row['spikes']['equal'] else 'DIFFER'} ({sum(ns_spikes.values())} vs {lif_spikes})")
    table = sanafe_table(results)
    log(table)
    if out_dir:
        (work / "sanafe.json").write_text(json.dumps(results, indent=1))
        (work / "sanafe.md").write_text(table + "\n")
    return results


def sanafe_table(results: dict) -> str:
    """The comparison as a Markdown table (one row per network) and the energy breakdown by category."""
    lines = ["| network | neurons / cores / tiles | spikes neurosim / SANA-FE | energy/step neurosim | SANA-FE | ratio "
             "| latency/step neurosim | SANA-FE | ratio |", "|---|---|---|---|---|---|---|---|---|"]
    for name, r in results["networks"].items():
        e, lt = r["energy_per_step_pj"], r["latency_per_step_ns"]
        lines.append(f"| {name} | {r['neurons']} / {r['cores']} / {r['tiles']} | {sum(r['spikes']['neurosim'].values())} / "
                     f"{sum(r['spikes']['sanafe'].values())} | {e['neurosim'] / 1e3:.2f} nJ | {e['sanafe'] / 1e3:.2f} nJ "
                     f"| {e['ratio']:.3f} | {lt['neurosim']:.0f} ns | {lt['sanafe']:.0f} ns | {lt['ratio']:.3f} |")
    lines += ["", "| network | category | neurosim (nJ/step) | SANA-FE (nJ/step) |", "|---|---|---|---|"]
    for name, r in results["networks"].items():
        for cat, v in r["energy_by_category_pj_per_step"].items():
            lines.append(f"| {name} | {cat} | {v['neurosim'] / 1e3:.3f} | {v['sanafe'] / 1e3:.3f} |")
    return "\n".join(lines)
