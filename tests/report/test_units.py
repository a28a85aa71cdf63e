"""One unit style: SI-scaled energies and times with 3 significant digits, "unknown" for None,
and no other number formatter for energies or times in the report and CLI modules."""

import re
from pathlib import Path

import pytest

from neurosim.report.units import energy_scale, format_energy, format_time, format_time_ns, time_scale

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("pj, text", [
    (4.81e5, "481 nJ"), (23.6, "23.6 pJ"), (0.9, "0.9 pJ"), (1.68e6, "1.68 uJ"), (6.035e5, "604 nJ"),
    (999.7e3, "1 uJ"),  # rounds up across the unit boundary: never "1e+03 nJ"
    (2.5e9, "2.5 mJ"), (4.22e12, "4.22 J"), (0.0, "0 pJ"), (None, "unknown"), (-1500.0, "-1.5 nJ"),
])
def test_format_energy(pj, text):
    assert format_energy(pj) == text


@pytest.mark.parametrize("s, text", [
    (4.43e-6, "4.43 us"), (7.09e-5, "70.9 us"), (9.996e-7, "1 us"), (5e-10, "0.5 ns"), (0.465, "465 ms"),
    (2.0, "2 s"), (None, "unknown"), (float("nan"), "unknown"),
])
def test_format_time(s, text):
    assert format_time(s) == text


def test_ns_and_axis_scales():
    assert format_time_ns(59_992.3) == "60 us"
    assert energy_scale(4.54e5) == (1e3, "nJ") and energy_scale(1.2e6) == (1e6, "uJ") and energy_scale(0) == (1.0, "pJ")
    assert time_scale(2.9e-5) == (1e-6, "us") and time_scale(3e-7) == (1e-9, "ns")


REPORT_MODULES = ["neurosim/targets/neuromorphic/report.py", "neurosim/targets/neuromorphic/plots.py",
                  "neurosim/targets/neuromorphic/cli.py", "neurosim/targets/sat/report.py",
                  "neurosim/targets/sat/plots.py", "neurosim/targets/sat/cli.py", "neurosim/cli.py"]


@pytest.mark.parametrize("module", REPORT_MODULES)
def test_no_other_energy_or_time_formatter(module):
    """Energies and times go through neurosim.report.units: no ad-hoc ``:.3e``/``:.4g} pJ`` or
    ``* 1e6`` microsecond scaling in the modules that print or plot them."""
    text = (ROOT / module).read_text()
    assert not re.search(r":[,]?\.\d+e\}", text), "scientific-notation format in a report module"
    assert not re.search(r"\}\s*(pJ|nJ|uJ|mJ|ns|us|ms)\b", text), "a hand-formatted energy/time unit"
    assert not re.search(r"\*\s*1e(6|9|-6|-9)\b", text), "a hand-scaled time or energy"
