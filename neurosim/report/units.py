"""Human-readable energies and times for the terminal summaries (``None`` is "unknown", never 0)."""

from __future__ import annotations


def format_energy(pj: float | None) -> str:
    if pj is None:
        return "unknown"
    for unit, scale in (("J", 1e12), ("mJ", 1e9), ("uJ", 1e6), ("nJ", 1e3)):
        if abs(pj) >= scale:
            return f"{pj / scale:.3g} {unit}"
    return f"{pj:.3g} pJ"


def format_time(s: float | None) -> str:
    if s is None:
        return "unknown"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if abs(s) >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"
