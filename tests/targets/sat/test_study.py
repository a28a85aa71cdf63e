"""The SAT study's progress hook and batch bounds: ``study(progress=)``, the ``batch`` limit checked
once in ``simulate_step`` (so ``study``, ``bench_sat`` and sweeps all meet it), the 64-bit counter
guard behind a raised limit, and a study at the limit taking seconds, not minutes."""

from __future__ import annotations

import io
import time

import pytest

from neurosim import limits
from neurosim.errors import LimitError, SATConfigError
from neurosim.targets.sat import study as study_module
from neurosim.targets.sat.config import load_config
from neurosim.targets.sat.model.step import simulate_step
from neurosim.targets.sat.model.workload import GemmLayer, VectorLayer, Workload, load_workload
from neurosim.targets.sat.study import study

CFG = load_config()
LIMIT_MSG = (r"^--batch 65537 needs 65,537 batch, above neurosim's limit of 65,536 \(training batch of one SAT "
             r"study\); if the size is real, raise it with --limit batch=6\.55e\+04 \(or NEUROSIM_LIMITS\), else "
             r"the file or value is wrong$")


def _small() -> Workload:
    g = (GemmLayer("c1", "conv", 64, 27, 32, needs_dx=False), GemmLayer("fc", "linear", 1, 128, 10))
    return Workload("small", "test", (3, 8, 8), g, (VectorLayer("bn", "batchnorm", 4096, 5, 8),))


@pytest.mark.parametrize("nm, ablation, sweep", [((2, 8), True, True), ((2, 8), False, True), ((2, 8), True, False),
                                                 ((1, 1), True, True), ((2, 4), False, False)])
def test_progress_reports_every_step_with_the_true_total(monkeypatch, nm, ablation, sweep):
    """``progress(done, total)`` after every step: the oracle counts the calls to simulate_step."""
    calls = []
    real = study_module.simulate_step

    def counted(*args, **kwargs):
        calls.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(study_module, "simulate_step", counted)
    seen: list[tuple[int, int]] = []
    s = study(_small(), CFG, nm, 4, ablation=ablation, sweep=sweep, progress=lambda d, t: seen.append((d, t)))
    assert len(calls) >= 2
    assert seen == [(i, len(calls)) for i in range(1, len(calls) + 1)]
    assert s.sparse.nm == nm
    # the hook changes nothing in the result
    plain = study(_small(), CFG, nm, 4, ablation=ablation, sweep=sweep)
    assert (plain.dense, plain.sparse, plain.ablation, plain.patterns) == (s.dense, s.sparse, s.ablation, s.patterns)


def test_batch_limit_is_checked_in_simulate_step_for_every_caller():
    from neurosim.targets.sat.bench import bench_sat

    with pytest.raises(LimitError, match=LIMIT_MSG):
        simulate_step(_small(), CFG, (2, 8), 65537)
    with pytest.raises(LimitError, match=LIMIT_MSG):
        study(_small(), CFG, (2, 8), 65537)
    with pytest.raises(LimitError, match=LIMIT_MSG):
        bench_sat("resnet18", batch=65537, repeats=1, log=lambda *a: None)
    with limits.overridden({"batch": 65537}):
        assert simulate_step(_small(), CFG, (2, 8), 65537).batch == 65537


@pytest.mark.parametrize("batch, match", [
    (True, r"^batch must be a positive integer, found True$"),
    (2.5, r"^batch must be a positive integer, found 2\.5$"),
    ("x" * 5000, r"^batch must be a positive integer, found 'x{76}\.\.\.$"),
    (-10**50, r"^batch must be a positive integer, found a negative integer of about 51 digits$"),
    (10**6000, r"^batch must be below 2\*\*63 \(the cycle model counts in 64-bit integers\), found an integer of "
               r"about 6001 digits; use a realistic training batch such as 32$"),
    (2**63, r"^batch must be below 2\*\*63 \(the cycle model counts in 64-bit integers\), found 9223372036854775808; "
            r"use a realistic training batch such as 32$"),
], ids=["bool", "float", "long-str", "huge-negative", "6001-digits", "2**63"])
def test_bad_batch_values(batch, match):
    with pytest.raises(SATConfigError, match=match):
        simulate_step(_small(), CFG, (2, 8), batch)


def test_a_raised_limit_cannot_overflow_the_counters():
    """resnet50's conv1 does 118,013,952 MACs per sample (12,544 x 147 x 64): past 4.6e18 / 2**10 MACs a
    GEMM would wrap int64 silently; the message gives the largest batch that fits, and that batch runs."""
    w = load_workload("resnet50")
    conv1 = max(w.gemms, key=lambda g: g.m * g.k * g.n * g.count)
    fits = 2**62 // (conv1.m * conv1.k * conv1.n * conv1.count << 10)
    with limits.overridden({"batch": 10**30}):
        with pytest.raises(SATConfigError, match=rf"^--batch {fits + 1} makes layer '{conv1.name}' of 'resnet50' too "
                                                 rf"large for the cycle model's 64-bit counters; use --batch {fits} "
                                                 rf"or less$"):
            simulate_step(w, CFG, (2, 8), fits + 1)
        step = simulate_step(w, CFG, (2, 8), fits)
    small = simulate_step(w, CFG, (2, 8), 1)
    assert step.macs > 0 and step.cycles > 0
    # MACs are linear in the batch: an exact oracle that no counter wrapped
    assert step.macs == small.macs * fits


def test_study_at_the_batch_limit_takes_seconds():
    """Before the fast path, resnet18 at batch 65,536 took 60-90 s (the weight-gradient GEMMs' reduction
    loop grew with the batch); now its 16 steps take about a second. 30 s leaves room for a busy machine."""
    w = load_workload("resnet18")
    study(w, CFG, (2, 8), 32, ablation=False, sweep=False)  # kernels loaded
    t0 = time.perf_counter()
    s = study(w, CFG, (2, 8), 65536)
    assert time.perf_counter() - t0 < 30
    assert s.batch == 65536 and s.speedup > 1


def test_cli_progress_bar_on_a_terminal_only():
    from rich.console import Console

    from neurosim.targets.sat.cli import _progress_study

    w = _small()
    expected = study(w, CFG, (2, 8), 4)
    for terminal in (True, False):
        buf = io.StringIO()
        con = Console(file=buf, force_terminal=terminal, width=100)
        got = _progress_study(con, w, CFG, (2, 8), 4, None)
        assert got.sparse == expected.sparse and got.patterns == expected.patterns
        assert ("modelling training steps" in buf.getvalue()) is terminal


def test_a_layer_too_large_at_any_batch():
    huge = Workload("huge", "test", (1,), (GemmLayer("big", "linear", 2**20, 2**20, 2**20),), ())
    with pytest.raises(SATConfigError, match=r"^layer 'big' of 'huge' is too large for the cycle model's 64-bit "
                                             r"counters even at batch 1; split the layer or model a smaller network$"):
        simulate_step(huge, CFG, (1, 1), 1)
