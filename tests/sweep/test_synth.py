"""Synthesis as a sweep axis (target ``rtl``): one tiny core through yosys/nextpnr (~20-60 s; slow)."""

from __future__ import annotations

import pytest

from neurosim.sweep import spec_from_dict, sweep


@pytest.mark.slow
def test_one_tiny_core_synthesizes_and_a_bad_one_is_a_failed_row():
    from neurosim.hdl.synth import synthesize_design
    from neurosim.targets.neuromorphic.hdl.config import CoreConfig
    from neurosim.targets.neuromorphic.hdl.core import NeuromorphicCore

    spec = spec_from_dict({"sweep": {"target": "rtl"},
                           "axes": {"fpga": "ice40", "rtl": {"neurons": 8, "axons": [4, 5000], "lanes": 1}}})
    res = sweep(spec, workers=1)
    ok, bad = res.rows
    assert bad["status"] == "failed" and bad["error"].startswith("CoreConfig.axons must be an int in 1..4096, found 5000")
    assert ok["status"] == "ok", ok["error"]
    direct = synthesize_design(NeuromorphicCore(CoreConfig(neurons=8, axons=4, lanes=1)), "neurosim_core", "ice40",
                               pytest.importorskip("tempfile").mkdtemp())
    assert (ok["luts"], ok["ffs"], ok["bram"], ok["fits"]) == (direct.luts, direct.ffs, direct.bram, direct.fits)
