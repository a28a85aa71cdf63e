"""The energy (and event-latency) model: event counts priced with a chip preset's constants.

    energy = sum over events of count x energy_pj[event]  +  static_power_w x time_s x 1e12     (pJ)

An event whose constant is unknown is never guessed: its energy is excluded from the total and the
event is listed in :attr:`EnergyBreakdown.unknown_events` (when its count is nonzero). An unknown static
power likewise contributes nothing and sets :attr:`EnergyBreakdown.static_unknown` (when ``time_s > 0``).

Counts are a mapping ``event -> count`` or a sequence aligned with :data:`~neurosim.targets.neuromorphic.events.EVENTS`
(what the engine's per-event counter arrays hold).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from neurosim.errors import EnergyError
from neurosim.targets.neuromorphic.config import ChipPreset
from neurosim.targets.neuromorphic.events import EVENT_INDEX, EVENTS


@dataclass(frozen=True)
class EnergyBreakdown:
    """Energy of a run in pJ: per priced event, static, total, and what could not be priced."""

    per_event_pj: dict[str, float]
    static_pj: float
    total_pj: float
    unknown_events: tuple[str, ...]
    static_unknown: bool = False

    @property
    def complete(self) -> bool:
        """True when nothing was excluded for lack of a published constant."""
        return not self.unknown_events and not self.static_unknown

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"per_event_pj": dict(self.per_event_pj), "static_pj": self.static_pj, "total_pj": self.total_pj,
                "unknown_events": list(self.unknown_events), "static_unknown": self.static_unknown}


@dataclass(frozen=True)
class LatencyBreakdown:
    """Time in ns of a sequence of events on an ``event_latency`` chip: per priced event, total, unknowns."""

    per_event_ns: dict[str, float]
    total_ns: float
    unknown_events: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return not self.unknown_events


def _counts(counts: Any) -> dict[str, float]:
    """Validate counts; return them as ``event -> count`` in EVENTS order."""
    if isinstance(counts, Mapping):
        items = list(counts.items())
    elif (isinstance(counts, Sequence) and not isinstance(counts, (str, bytes))) or hasattr(counts, "__array__"):
        seq = list(counts)
        if len(seq) != len(EVENTS):
            raise EnergyError(f"event counts given as a sequence must have one entry per event ({len(EVENTS)}, "
                              f"in the order of neurosim.targets.neuromorphic.events.EVENTS), found {len(seq)}")
        items = list(zip(EVENTS, seq))
    else:
        raise EnergyError(f"event counts must be a mapping event -> count or a sequence aligned with EVENTS, "
                          f"found {type(counts).__name__}")
    out: dict[str, float] = {}
    for event, count in items:
        if event not in EVENT_INDEX:
            raise EnergyError(f"unknown event {event!r} in counts; choose one of {list(EVENTS)!r}")
        if isinstance(count, bool) or not isinstance(count, numbers.Real) or not math.isfinite(count):
            raise EnergyError(f"count of {event!r} must be a finite number of events, found {count!r}")
        if count < 0:
            raise EnergyError(f"count of {event!r} must be >= 0, found {count!r}; counts are numbers of events")
        out[event] = count
    return {e: out[e] for e in EVENTS if e in out}


def energy_breakdown(counts: Mapping[str, int | float] | Sequence[int | float], chip: ChipPreset,
                     time_s: float) -> EnergyBreakdown:
    """Price ``counts`` (event -> count) on ``chip`` over a run of ``time_s`` seconds."""
    if not isinstance(chip, ChipPreset):
        raise EnergyError(f"chip must be a ChipPreset (see neurosim.targets.neuromorphic.config.load_preset), found {type(chip).__name__}")
    if isinstance(time_s, bool) or not isinstance(time_s, numbers.Real) or not math.isfinite(time_s) or time_s < 0:
        raise EnergyError(f"time_s must be a finite number of seconds >= 0, found {time_s!r}")
    per_event: dict[str, float] = {}
    unknown: list[str] = []
    for event, count in _counts(counts).items():
        const = chip.energy_pj.get(event)
        if const is None or const.value is None:
            if count != 0:
                unknown.append(event)
            continue
        per_event[event] = float(count) * float(const.value)
    power = chip.static_power_w.value
    static_unknown = power is None and time_s > 0
    static_pj = 0.0 if power is None else float(power) * float(time_s) * 1e12
    total = math.fsum(per_event.values()) + static_pj
    return EnergyBreakdown(per_event_pj=per_event, static_pj=static_pj, total_pj=total,
                           unknown_events=tuple(unknown), static_unknown=static_unknown)


def latency_breakdown(counts: Mapping[str, int | float] | Sequence[int | float], chip: ChipPreset) -> LatencyBreakdown:
    """Sum of count x ``latency_ns[event]``: the busy time of one core of an ``event_latency`` chip."""
    if not isinstance(chip, ChipPreset):
        raise EnergyError(f"chip must be a ChipPreset (see neurosim.targets.neuromorphic.config.load_preset), found {type(chip).__name__}")
    per_event: dict[str, float] = {}
    unknown: list[str] = []
    for event, count in _counts(counts).items():
        const = chip.latency_ns.get(event)
        if const is None or const.value is None:
            if count != 0:
                unknown.append(event)
            continue
        per_event[event] = float(count) * float(const.value)
    return LatencyBreakdown(per_event_ns=per_event, total_ns=math.fsum(per_event.values()),
                            unknown_events=tuple(unknown))
