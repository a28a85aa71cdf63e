"""Source profiles: the semantics a NIR file leaves unsaid, per exporting framework.

Profiles are data (``profiles.toml`` beside this module) loaded into :class:`SourceProfile`.
Users pick one with ``--source`` and may override single fields (``dt_s``, ``reset``, ...).
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from neurosim.errors import FrontendError

_CHOICES = {
    "decay": ("euler", "exp"),
    "input_gain": ("euler", "r", "rockpool"),
    "bias": ("euler", "v_leak"),
    "if_gain": ("dt_r", "r"),
    "tau_scale": ("none", "dt"),
    "reset": ("zero", "subtract", "none"),
    "reset_timing": ("immediate", "delayed"),
    "spike_rule": ("gt", "ge", "multi"),
    "cuba": ("euler", "euler_now", "jump", "decay_after"),
}


@dataclass(frozen=True)
class SourceProfile:
    """How to read one framework's NIR export (fields documented in ``profiles.toml``)."""

    name: str
    description: str
    decay: str
    input_gain: str
    bias: str
    if_gain: str
    tau_scale: str
    reset: str
    reset_timing: str
    spike_rule: str
    cuba: str
    dt_s: float | None = None
    norm_input: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.norm_input, bool):
            raise FrontendError(
                f"source profile {self.name!r} field 'norm_input' must be true or false, found {self.norm_input!r}"
            )
        for field, choices in _CHOICES.items():
            value = getattr(self, field)
            if value not in choices:
                raise FrontendError(
                    f"source profile {self.name!r} field {field!r} must be one of {choices!r}, found {value!r}"
                )
        if self.dt_s is not None and not (isinstance(self.dt_s, (int, float)) and math.isfinite(self.dt_s)
                                          and self.dt_s > 0):
            raise FrontendError(f"source profile {self.name!r}: dt must be a positive number of seconds, found {self.dt_s!r}")

    def with_overrides(self, **overrides) -> "SourceProfile":
        """A copy with the given fields replaced (None values are ignored)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        unknown = set(given) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise FrontendError(
                f"unknown profile override(s) {sorted(unknown)!r}; known: {sorted([*_CHOICES, 'dt_s', 'norm_input'])!r}"
            )
        return dataclasses.replace(self, **given) if given else self

    def notes(self) -> tuple[str, ...]:
        return (
            f"profile {self.name}: {self.description}",
            f"dt = {self.dt_s!r} s; decay = {'1 - dt/tau' if self.decay == 'euler' else 'exp(-dt/tau)'}"
            + ("; file tau divided by dt (Norse exporter bug)" if self.tau_scale == "dt" else ""),
            f"reset = {self.reset} ({self.reset_timing}); spike when "
            + {"gt": "v > threshold", "ge": "v >= threshold", "multi": "v >= threshold, floor(v/threshold) spikes"}[self.spike_rule],
        ) + (("norm_input: spiking leaky neurons' input gain multiplied by 1 - decay (Sinabs norm_input=True; "
              "--no-norm-input for models built with norm_input=False)",) if self.norm_input else ())


@cache
def profiles() -> dict[str, SourceProfile]:
    """All profiles by name, loaded from ``profiles.toml``."""
    data = tomllib.loads((Path(__file__).with_name("profiles.toml")).read_text())
    return {name: SourceProfile(name=name, **fields) for name, fields in data.items()}


def get_profile(name: str) -> SourceProfile:
    table = profiles()
    if name not in table:
        raise FrontendError(f"unknown source profile {name!r}; choose one of {sorted(table)!r}")
    return table[name]
