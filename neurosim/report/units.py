"""The one unit style of every report: SI-scaled energies and times with 3 significant digits.

Energies are stored in pJ and times in seconds (``energy_pj``, ``latency_s``); what a person reads
is scaled to the value: ``481 nJ``, ``4.43 us``, ``23.6 pJ``. ``None`` is an unknown value and
prints as ``"unknown"``, never as 0. Terminal summaries and plot axes of both targets use these
functions (plots through :func:`energy_scale` / :func:`time_scale`), so a number reads the same
wherever it appears.
"""

from __future__ import annotations

import math

UNKNOWN = "unknown"

#: (unit, size in pJ), smallest first
ENERGY_UNITS = (("pJ", 1.0), ("nJ", 1e3), ("uJ", 1e6), ("mJ", 1e9), ("J", 1e12))
#: (unit, size in s), smallest first
TIME_UNITS = (("ns", 1e-9), ("us", 1e-6), ("ms", 1e-3), ("s", 1.0))


def _pick(value: float, units) -> tuple[str, float]:
    """The largest unit not above ``|value|`` (the smallest one below it)."""
    mag = abs(value)
    unit, size = units[0]
    for u, s in units:
        if mag >= s:
            unit, size = u, s
    return unit, size


def _scaled(value: float | None, units) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return UNKNOWN
    value = float(value)
    if value == 0.0:
        return f"0 {units[0][0]}"
    unit, size = _pick(value, units)
    text = f"{value / size:.3g}"
    names = [u for u, _ in units]
    if abs(float(text)) >= 1000 and unit != names[-1]:  # 999.7 nJ rounds to 1000: say 1 uJ
        unit, size = units[names.index(unit) + 1]
        text = f"{value / size:.3g}"
    return f"{text} {unit}"


def format_energy(pj: float | None) -> str:
    """An energy given in pJ, e.g. ``format_energy(4.81e5) == "481 nJ"``; ``None``: ``"unknown"``."""
    return _scaled(pj, ENERGY_UNITS)


def format_time(s: float | None) -> str:
    """A time given in seconds, e.g. ``format_time(4.43e-6) == "4.43 us"``; ``None``: ``"unknown"``."""
    return _scaled(s, TIME_UNITS)


def format_time_ns(ns: float | None) -> str:
    """A time given in ns (the event-latency chips' busy time), in the same style."""
    return format_time(None if ns is None else float(ns) * 1e-9)


def _axis(max_value: float, units) -> tuple[float, str]:
    if not (max_value and math.isfinite(max_value)):
        return units[0][1], units[0][0]
    unit, size = _pick(max_value, units)
    return size, unit


def energy_scale(max_pj: float) -> tuple[float, str]:
    """(divisor, unit) for a plot axis whose largest value is ``max_pj`` pJ: values / divisor in unit."""
    return _axis(max_pj, ENERGY_UNITS)


def time_scale(max_s: float) -> tuple[float, str]:
    """(divisor, unit) for a plot axis whose largest value is ``max_s`` seconds."""
    return _axis(max_s, TIME_UNITS)
