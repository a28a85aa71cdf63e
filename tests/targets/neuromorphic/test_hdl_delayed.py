"""The generated core with ``reset_timing="delayed"`` (snnTorch's default reset) against the
fixed-point contract, bit- and cycle-exact on Icarus (cocotb).

Two oracles, both independent of the RTL:

* :func:`contract` -- a plain transcription of the fixed-point step (immediate and delayed,
  subtract / zero / none, shift leak) written from the contract's equations, with the cycle
  count of the neurosim-core cycle model (``events * (1 + words) + drain + chunks + 1``);
* the engine (``verify.expected``, what ``neurosim verify`` compares with): the transcription
  equals it on immediate and delayed configurations, and ``verify.run`` compares the RTL with it.

The end-to-end check: a default ``snntorch.Leaky`` model (delayed subtract reset), exported to NIR
by snnTorch, goes through ``neurosim rtl`` and ``neurosim verify`` keeping its delayed reset.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from neurosim.errors import HDLError
from neurosim.targets.neuromorphic.hdl.config import CoreConfig, CoreProgram

needs_icarus = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")


def contract(cfg: CoreConfig, prog: CoreProgram, inputs: np.ndarray):
    """(spikes [T, n], final stored membranes [n], cycles [T], events per step) of one core.

    Per step, with ``acc = x_t @ W``, ``L(v) = v - (v >> k)`` and ``sat`` to the membrane's range:

    * immediate: ``v1 = sat(v + acc + b)``, ``s = fire(v1)``, ``v2 = reset(v1, s)``, ``v <- L(v2)``;
    * delayed subtract: ``v1 = sat(v - theta s' + acc + b)``, ``s = fire(v1)``, ``v <- L(v1)``, ``s' <- s``;
    * delayed zero: ``v1 = sat((L(v_reset) if s' else v) + acc + b)``, the rest as subtract.
    """
    lo, hi, k = cfg.v_min, cfg.v_max, cfg.leak_shift
    w = np.asarray(prog.weights, dtype=np.int64)
    b, thr, vr = (np.asarray(a, dtype=np.int64) for a in (prog.bias, prog.threshold, prog.v_reset))

    def leak(v):
        return v - (v >> k) if k else v

    v = np.zeros(cfg.neurons, dtype=np.int64)
    prev = np.zeros(cfg.neurons, dtype=np.int64)
    live = np.any(w != 0, axis=1)
    spikes, cycles, events = [], [], []
    delayed = cfg.reset_timing == "delayed"
    for x in np.asarray(inputs, dtype=np.int64):
        ev = [int(a) for a in np.flatnonzero((x != 0) & live)]
        acc = x @ w
        if delayed and cfg.reset == "subtract":
            base = v - thr * prev
        elif delayed and cfg.reset == "zero":
            base = np.where(prev > 0, leak(vr), v)
        else:
            base = v
        v1 = np.clip(base + acc + b, lo, hi)
        s = (v1 > thr) if cfg.spike_rule == "gt" else (v1 >= thr)
        s = s.astype(np.int64)
        if not delayed and cfg.reset == "subtract":
            v1 = np.clip(v1 - s * thr, lo, hi)
        elif not delayed and cfg.reset == "zero":
            v1 = np.where(s > 0, vr, v1)
        v, prev = leak(v1), s
        words = [cfg.chunks if cfg.storage == "dense" else -(-int(np.count_nonzero(w[a])) // cfg.lanes) for a in ev]
        cycles.append(sum(1 + n for n in words) + (1 if ev else 0) + cfg.chunks + 1)
        spikes.append(s)
        events.append(ev)
    return np.array(spikes), v, np.array(cycles), events


DELAYED_CONFIGS = [
    CoreConfig(neurons=10, axons=6, lanes=4, weight_bits=6, membrane_bits=10, acc_bits=12, leak_shift=2,
               reset="subtract", spike_rule="gt", reset_timing="delayed"),
    CoreConfig(neurons=7, axons=5, lanes=3, weight_bits=6, membrane_bits=8, acc_bits=10, leak_shift=1,
               reset="zero", spike_rule="ge", reset_timing="delayed", storage="sparse"),
]


def _traces(cfg, seed):
    from neurosim.targets.neuromorphic.verify import corner_traces, random_traces

    return random_traces(cfg, 4, seed=seed, steps=6) + corner_traces(cfg, seed=seed)


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
def test_the_transcription_equals_the_engine_on_immediate_cores(reset):
    """The contract's transcription is the engine's immediate fixed-point core (so it is a
    faithful oracle where the two paths share their equations)."""
    from neurosim.targets.neuromorphic.verify import expected

    for seed, storage in ((0, "dense"), (1, "sparse")):
        cfg = CoreConfig(neurons=9, axons=5, lanes=4, weight_bits=6, membrane_bits=9, acc_bits=12, leak_shift=2,
                         reset=reset, spike_rule="ge" if seed else "gt", storage=storage)
        for tr in _traces(cfg, seed):
            want = expected(cfg, tr.program, tr.inputs)
            spikes, v, cycles, events = contract(cfg, tr.program, tr.inputs)
            assert np.array_equal(spikes, want.spikes) and np.array_equal(v, want.membranes)
            assert cycles.tolist() == want.cycles.tolist() and events == want.events


def test_delayed_reset_differs_from_immediate():
    """The delayed core is a different neuron: same inputs, other spikes or membranes (else the
    tests below could not tell the timings apart)."""
    import dataclasses

    cfg = DELAYED_CONFIGS[0]
    differ = 0
    for tr in _traces(cfg, 3):
        a = contract(cfg, tr.program, tr.inputs)
        b = contract(dataclasses.replace(cfg, reset_timing="immediate"), tr.program, tr.inputs)
        differ += not (np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]))
        assert a[2].tolist() == b[2].tolist()  # the cycle model does not depend on the timing
    assert differ >= 3


def test_the_transcription_equals_the_engine_on_delayed_cores():
    """Once the engine implements the delayed fixed-point reset, it is this contract."""
    from neurosim.targets.neuromorphic.verify import expected

    for k, cfg in enumerate(DELAYED_CONFIGS):
        for tr in _traces(cfg, 10 + k):
            want = expected(cfg, tr.program, tr.inputs)
            spikes, v, cycles, _ = contract(cfg, tr.program, tr.inputs)
            assert np.array_equal(spikes, want.spikes) and np.array_equal(v, want.membranes)
            assert cycles.tolist() == want.cycles.tolist()


def _rtl_against_contract(cfg, traces, work, mutate=None) -> dict:
    """cocotb on Icarus: the (``mutate``d) core on ``traces`` against :func:`contract`; the testbench's report."""
    from neurosim.targets.neuromorphic.hdl import TOP, verilog_of
    from neurosim.targets.neuromorphic.verify import TESTBENCH, Expected, job_of
    from neurosim.hdl.runner import run_job

    exps = []
    for tr in traces:
        spikes, v, cycles, events = contract(cfg, tr.program, tr.inputs)
        exps.append(Expected(spikes=spikes, membranes=v, cycles=cycles, events=events))
    report, _, _ = run_job(TESTBENCH, job_of(cfg, traces, exps), work, "icarus", verilog_of(cfg, TOP, mutate=mutate))
    return report


def _differences(report) -> int:
    return sum(d["spikes"] + d["cycles"] + d["membrane_bits"] + d.get("unknown_values", 0) for d in report["traces"])


@needs_icarus
@pytest.mark.parametrize("index", range(len(DELAYED_CONFIGS)))
def test_delayed_core_is_bit_and_cycle_exact(index, tmp_path):
    """Random programs across the legal space plus the directed corners (saturation at both
    bounds, negative thresholds, every neuron firing), with input gaps and back-pressure: 0
    differing spikes, cycles and membrane bits against the contract and against the engine
    (``verify.run``, what ``neurosim verify`` runs)."""
    from neurosim.targets.neuromorphic.verify import run

    cfg = DELAYED_CONFIGS[index]
    traces = _traces(cfg, 20 + index)
    report = _rtl_against_contract(cfg, traces, tmp_path / "contract")
    assert len(report["traces"]) == len(traces) and _differences(report) == 0, \
        [d["first"] for d in report["traces"] if d["first"]]
    assert not report["protocol"], report["protocol_first"]
    r = run(cfg, traces, tmp_path / "engine")
    assert r.passed, r.first_difference
    assert r.compared_spikes == sum(len(t.inputs) for t in traces) * cfg.neurons


@needs_icarus
@pytest.mark.parametrize("mutation", ["delayed_as_immediate", "delayed_zero_unleaked", "delayed_prev_not_cleared"])
def test_delayed_mutants_are_caught(mutation, tmp_path):
    """A core that resets at once, substitutes v_reset instead of L(v_reset), or keeps last
    trace's previous spikes across a membrane load differs from the contract."""
    cfg = DELAYED_CONFIGS[1 if mutation == "delayed_zero_unleaked" else 0]
    report = _rtl_against_contract(cfg, _traces(cfg, 30), tmp_path, mutate=mutation)
    assert _differences(report) > 0


def test_delayed_state_memory_is_one_bit_per_neuron():
    cfg = DELAYED_CONFIGS[0]
    immediate = CoreConfig(**{**cfg.__dict__, "reset_timing": "immediate"})
    assert cfg.state_bits - immediate.state_bits == cfg.chunks * cfg.lanes == 12
    none = CoreConfig(**{**cfg.__dict__, "reset": "none"})
    assert not none.stores_prev_spike and none.state_bits == immediate.state_bits
    assert cfg.step_cycles(3) == immediate.step_cycles(3)


def test_reset_timing_is_checked():
    with pytest.raises(HDLError, match=r"^CoreConfig\.reset_timing must be 'immediate' or 'delayed', found 'late'$"):
        CoreConfig(neurons=4, axons=2, reset_timing="late")


def test_coverage_recomputes_the_delayed_core():
    """The coverage's recomputation of the core follows the delayed contract (it refuses a trace
    it cannot reproduce) and counts the delayed resets it applied."""
    from neurosim.targets.neuromorphic.coverage import core_coverage

    for cfg in DELAYED_CONFIGS:
        hits = 0
        for tr in _traces(cfg, 40):
            spikes, v, _, events = contract(cfg, tr.program, tr.inputs)
            cov = core_coverage(cfg, tr.program, events, spikes, v)
            hits += cov.bins[f"delayed {cfg.reset} reset applied"].hits
        assert hits > 0


def _snntorch_nir(tmp_path, monkeypatch):
    """A 12-8-3 MLP of default ``snn.Leaky(beta=0.9)`` neurons (reset_mechanism "subtract",
    reset_delay True), exported by snnTorch's own exporter (its final ``infer_types()`` fails with
    nir 1.0.8 on the 0-d parameters it writes, so that one call is skipped)."""
    torch = pytest.importorskip("torch")
    snn = pytest.importorskip("snntorch")
    import nir
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(12, 8), snn.Leaky(beta=0.9, init_hidden=True),
                              torch.nn.Linear(8, 3), snn.Leaky(beta=0.9, init_hidden=True))
    with torch.no_grad():
        for i in (0, 2):
            net[i].weight.copy_(torch.tensor(np.random.default_rng(i).normal(0.3, 0.4, size=net[i].weight.shape)))
    assert (net[1].reset_mechanism, net[1].reset_delay) == ("subtract", True)
    with monkeypatch.context() as m:
        m.setattr(nir.NIRGraph, "infer_types", lambda self: None)
        graph = export_to_nir(net, torch.zeros(12))
    path = tmp_path / "leaky.nir"
    nir.write(str(path), graph, compression=None)
    return path


@needs_icarus
def test_default_snntorch_leaky_goes_to_rtl_and_verifies(tmp_path, monkeypatch, capsys):
    import json

    from neurosim.cli import main

    model = _snntorch_nir(tmp_path, monkeypatch)
    x = (np.random.default_rng(5).random((12, 12)) < 0.4).astype(np.float64)
    np.save(tmp_path / "x.npy", x)
    flags = ["--source", "snntorch", "--input", str(tmp_path / "x.npy")]
    assert main(["rtl", str(model), *flags, "--out", str(tmp_path / "rtl")]) == 0
    manifests = [json.loads(p.read_text()) for p in sorted((tmp_path / "rtl").glob("core*/manifest.json"))]
    assert manifests and all(m["params"]["reset_timing"] == "delayed" and m["params"]["reset"] == "subtract"
                             for m in manifests)
    assert "prev_s" in (tmp_path / "rtl" / "core0" / "neurosim_core.v").read_text()
    from neurosim.frontends.nir import read_nir
    from neurosim.targets.neuromorphic.mapping import cores_of

    designs, _ = cores_of(read_nir(model, source="snntorch"), x)
    assert all(d.config.reset_timing == "delayed" and d.spikes.sum() > 0 for d in designs)  # both layers fire
    capsys.readouterr()
    assert main(["verify", str(model), *flags, "--work", str(tmp_path / "work")]) == 0
    out = capsys.readouterr().out
    assert "PASS 12 steps, differing spikes 0, membrane bits 0, cycles 0, X/Z values 0, protocol violations 0" in out
    assert len(out.splitlines()) <= 20
