"""Coverage bins of the neuromorphic co-verification on hand-made tiny cases (no simulator).

Every expected count here is derived by hand in the test's comments, and the engine confirms the
hand-derived spikes and membranes first (the engine is the spec)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from neurosim.errors import VerificationError
from neurosim.targets.neuromorphic.coverage import (
    GROUP_CHUNKS,
    Coverage,
    core_coverage,
    timing_coverage,
    top_coverage,
)
from neurosim.targets.neuromorphic.hdl.config import CoreConfig, CoreProgram

SIM = Path(__file__).resolve().parents[3] / "sim"


def _engine(cfg, prog, inputs):
    from neurosim.targets.neuromorphic.verify import expected

    return expected(cfg, prog, np.asarray(inputs))


def test_merge_adds_hits_keeps_the_larger_goal_and_names_unmet_bins():
    a, b = Coverage(), Coverage()
    a.define("x", 2).define("y", 1)
    a.hit("x")
    b.define("x", 3).define("z", 1, group="g")
    b.hit("x", 4)
    b.hit("z")
    m = Coverage.merged([a, b])
    assert (m.bins["x"].hits, m.bins["x"].goal) == (5, 3)  # 1 + 4 hits, goal max(2, 3)
    assert m.unmet() == ["y"] and not m.met
    assert m.rows() == [("x", 5, 3, True), ("y", 0, 1, False), ("g", 1, 1, True)]  # the group folds into one row
    lines = m.table().splitlines()
    assert lines[0].split() == ["bin", "hits", "goal", "met"]
    assert lines[2].split() == ["y", "0", "1", "NO"]
    assert a.bins["x"].hits == 1  # merged() leaves its inputs alone


def test_bins_refuse_bad_goals_and_undefined_names():
    with pytest.raises(VerificationError, match=r"^coverage bin 'q': goal must be an int >= 0, found -1$"):
        Coverage().define("q", -1)
    with pytest.raises(VerificationError, match=r"^coverage bin 'nope' is not defined; define it \(with its goal\) "
                                                r"before counting hits$"):
        Coverage().hit("nope")


def test_saturation_reset_accumulator_and_negative_threshold_bins_by_hand():
    # 4-bit membrane: v in -8..7; 4-bit accumulator: |sum| <= 7, half of full scale = 4
    cfg = CoreConfig(neurons=2, axons=2, lanes=1, weight_bits=4, membrane_bits=4, acc_bits=4, reset="subtract",
                     spike_rule="gt")
    prog = CoreProgram(weights=np.array([[4, -4], [3, -3]]), bias=np.array([3, -3]), threshold=np.array([-2, 7]),
                       v_reset=np.array([0, 0]))
    inputs = [[1, 1], [0, 0]]
    # step 0: acc = (7, -7); totals 0+7+3 = 10 > 7 and 0-7-3 = -10 < -8: both saturate, v = (7, -8);
    #   neuron 0 fires (7 > -2), subtractive reset 7 - (-2) = 9 > 7 saturates to 7; neuron 1 silent
    # step 1 (no events): totals 7+3 = 10, -8-3 = -11: both saturate again; neuron 0 fires, reset saturates
    exp = _engine(cfg, prog, inputs)
    assert exp.spikes.tolist() == [[1, 0], [1, 0]] and exp.membranes.tolist() == [7, -8]
    cov = core_coverage(cfg, prog, exp.events, exp.spikes, exp.membranes, label="c")
    hits = {n: b.hits for n, b in cov.bins.items()}
    assert hits["v saturates at v_max"] == 2 and hits["v saturates at v_min"] == 2
    assert hits["subtractive reset saturates"] == 2
    assert hits["accumulator >= +1/2 full scale"] == 1 and hits["accumulator <= -1/2 full scale"] == 1
    assert hits["spikes with a negative threshold"] == 2
    assert hits["spikes with reset subtract, rule gt"] == 2 and hits["spikes with reset zero, rule gt"] == 0
    assert hits["tie: v == threshold"] == 0 and hits["empty timestep"] == 1
    assert hits["storage dense"] == 2 and hits["storage sparse"] == 0
    assert hits["c: chunk 0 fired"] == 2 and hits["c: chunk 1 fired"] == 0  # lanes = 1: neuron n is chunk n
    assert ("c: chunk 1 fired" in cov.unmet()) and cov.bins["c: chunk 1 fired"].group == GROUP_CHUNKS


def test_tie_bin_and_rule_ge_by_hand():
    cfg = CoreConfig(neurons=3, axons=1, lanes=2, weight_bits=4, membrane_bits=8, acc_bits=8, reset="zero",
                     spike_rule="ge")
    prog = CoreProgram(weights=np.array([[3, 2, 0]]), bias=np.array([0, 0, 0]), threshold=np.array([3, 3, 1]),
                       v_reset=np.array([0, 0, 0]))
    # step 0: v = (3, 2, 0): neuron 0 ties its threshold and fires (ge), resets to 0; neuron 1 stays 2
    # step 1: v = (3, 4, 0): neuron 0 ties again and fires, neuron 1 fires (4 >= 3), both reset to 0
    exp = _engine(cfg, prog, [[1], [1]])
    assert exp.spikes.tolist() == [[1, 0, 0], [1, 1, 0]] and exp.membranes.tolist() == [0, 0, 0]
    cov = core_coverage(cfg, prog, exp.events, exp.spikes, exp.membranes, label="t")
    assert cov.bins["tie: v == threshold"].hits == 2
    assert cov.bins["spikes with reset zero, rule ge"].hits == 3
    # chunks of 2 lanes: neuron 0 = chunk 0 lane 0, neuron 1 = chunk 0 lane 1; neuron 2 (chunk 1) never fires
    assert (cov.bins["t: chunk 0 fired"].hits, cov.bins["t: chunk 1 fired"].hits) == (3, 0)
    assert (cov.bins["t: lane 0 fired"].hits, cov.bins["t: lane 1 fired"].hits) == (2, 1)


def test_sparse_row_length_bins_by_hand():
    cfg = CoreConfig(neurons=4, axons=3, lanes=2, weight_bits=4, membrane_bits=8, acc_bits=8, storage="sparse")
    # rows: 0 nonzeros (0 words), 1 nonzero (1 word), 4 nonzeros (2 words = the row's full chunks)
    prog = CoreProgram(weights=np.array([[0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 1, 1]]), bias=np.zeros(4, dtype=int),
                       threshold=np.full(4, 100), v_reset=np.zeros(4, dtype=int))
    exp = _engine(cfg, prog, [[1, 1, 1], [0, 0, 1]])
    assert exp.events == [[1, 2], [2]]  # the empty row gets no event (the engine sends none)
    cov = core_coverage(cfg, prog, exp.events, exp.spikes, exp.membranes)
    assert cov.bins["sparse row of 0 words (loaded)"].hits == 1
    assert cov.bins["sparse row of 1 word"].hits == 1  # axon 1 once
    assert cov.bins["sparse row of full chunks"].hits == 2  # axon 2 twice


def test_a_recomputation_that_disagrees_with_the_engine_is_an_error():
    cfg = CoreConfig(neurons=2, axons=1, lanes=1, weight_bits=4, membrane_bits=8, acc_bits=8)
    prog = CoreProgram(weights=np.array([[5, 0]]), bias=np.zeros(2, dtype=int), threshold=np.array([1, 1]),
                       v_reset=np.zeros(2, dtype=int))
    with pytest.raises(VerificationError, match=r"^coverage of x: the recomputed core fires differently from the "
                                                r"engine at step 0 \(neurons \[0\]\); fix "):
        core_coverage(cfg, prog, [[0]], [[0, 0]], [5, 0], label="x")


def test_timing_and_top_bins():
    cov = timing_coverage({"spikes_stalled": 3, "eos_with_last_event": 1})
    assert cov.bins["spikes stalled while valid"].hits == 3 and cov.bins["eos with the last event"].hits == 1
    assert "event gaps" in cov.unmet()
    top = top_coverage({"spikes_after_done": 0}, lanes=[2, 3])
    assert top.bins["top: mixed lane counts"].hits == 1
    assert "top: spike words after done" not in top.unmet()  # no goal: the top's done waits for its tap
    assert top_coverage({}, lanes=[4, 4]).bins["top: mixed lane counts"].hits == 0


def test_cap_sums_keeps_every_subset_inside_the_accumulator():
    from neurosim.targets.neuromorphic.verify import cap_sums

    # positives 5 + 5 = 10 > 7: each becomes 5 * 7 // 10 = 3; the negative -3 stays
    assert cap_sums(np.array([[5], [5], [-3]]), 7).tolist() == [[3], [3], [-3]]
    assert cap_sums(np.array([[-8], [-8]]), 7).tolist() == [[-3], [-3]]  # 8 * 7 // 16 = 3


def test_random_programs_draw_across_the_legal_space():
    """Negative thresholds, reset values and biases near both bounds, sums near the accumulator's
    full scale (where the widths make it reachable) but never beyond it."""
    from neurosim.targets.neuromorphic.verify import random_program

    cfg = CoreConfig(neurons=40, axons=12, lanes=4, weight_bits=8, membrane_bits=8, acc_bits=9)
    rng = np.random.default_rng(5)
    progs = [random_program(cfg, rng, density=1.0) for _ in range(4)]
    thr = np.concatenate([p.threshold for p in progs])
    vr = np.concatenate([p.v_reset for p in progs])
    bias = np.concatenate([p.bias for p in progs])
    assert thr.min() < 0 < thr.max() and thr.min() >= cfg.v_min and thr.max() <= cfg.v_max
    assert vr.min() <= cfg.v_min + 3 and vr.max() >= cfg.v_max - 3
    assert bias.min() < -10 and bias.max() > 10
    acc_max = (1 << (cfg.acc_bits - 1)) - 1
    for p in progs:
        w = p.weights
        assert np.clip(w, 0, None).sum(axis=0).max() <= acc_max and -np.clip(w, None, 0).sum(axis=0).min() <= acc_max
        assert np.abs(w).max() >= 100  # weights up to (near) full scale: wmax = 127
    assert max(np.clip(p.weights, 0, None).sum(axis=0).max() for p in progs) >= acc_max // 2


def _bench(folder, name):
    spec = importlib.util.spec_from_file_location(f"bench_{folder}", SIM / folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("folder, name", [("core", "test_core"), ("top", "test_top")])
def test_benches_compare_spikes_as_multisets(folder, name):
    """A duplicated spike word is one differing spike (the old core bench compared sorted lists
    and counted ``len(set(fired) ^ set(want))``: 0 for a duplicate, so it passed)."""
    spike_difference = _bench(folder, name).spike_difference
    assert spike_difference([3, 3, 5], [3, 5]) == (1, [], [3])
    assert spike_difference([5], [3, 5]) == (1, [3], [])
    assert spike_difference([5, 3], [3, 5]) == (0, [], [])
