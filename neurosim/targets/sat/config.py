"""SAT accelerator configurations: the PE array, buffers, DRAM, widths and energies, each with its source.

A configuration is a data file (TOML) in ``accelerators/`` beside this module, or a user's file,
loaded into a frozen :class:`AcceleratorConfig` that validates itself. The file follows the chip presets'
convention: every hardware constant is a table with ``value``, ``unit``, ``source`` and an optional
``note`` (``source = "estimate: <how derived>"`` where nobody published the number)::

    [rows]
    value = 32
    unit = "PEs"
    source = "estimate: ..."

The ``[dataflow]`` table holds the three dataflow optimisations of the SAT paper as switches
(``interleave``, ``pregenerate``, ``offline_schedule``), so their contributions can be measured one
at a time. ``patterns`` lists the N:M patterns the PEs run sparse; a PE has ``lanes`` multipliers
and can select from a ``window`` of activations, so pattern N:M needs ``lanes % N == 0`` and
``lanes / N * M <= window``.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neurosim.errors import NMError, SATConfigError
from neurosim.ir.nm import parse_nm
from neurosim.targets.neuromorphic.config import ChipError, Constant

CONFIG_DIR = Path(__file__).with_name("configs")
DEFAULT = "sat-vcu1525"

#: field -> (unit, minimum); integers are the structural fields, the rest are reals.
_INT_FIELDS: dict[str, tuple[str, int]] = {
    "rows": ("PEs", 1),
    "cols": ("PEs", 1),
    "lanes": ("multipliers/PE", 1),
    "window": ("activations", 1),
    "act_bits": ("bits", 1),
    "weight_bits": ("bits", 1),
    "acc_bits": ("bits", 1),
    "ifmap_buffer_bytes": ("bytes", 1),
    "weight_buffer_bytes": ("bytes", 1),
    "ofmap_buffer_bytes": ("bytes", 1),
    "vector_lanes": ("elements/cycle", 1),
    "generator_lanes": ("weights/cycle", 1),
}
_REAL_FIELDS: dict[str, str] = {
    "clock_hz": "Hz",
    "dram_bytes_per_s": "B/s",
    "mac_pj": "pJ",
    "vector_op_pj": "pJ",
    "sram_pj_per_byte": "pJ",
    "dram_pj_per_byte": "pJ",
    "static_w": "W",
}
_SWITCHES = ("interleave", "pregenerate", "offline_schedule")




@dataclass(frozen=True)
class AcceleratorConfig:
    """One accelerator: see the module docstring. Sizes in the units of the field names."""

    name: str
    description: str
    rows: int
    cols: int
    lanes: int
    window: int
    patterns: tuple[tuple[int, int], ...]
    clock_hz: float
    act_bits: int
    weight_bits: int
    acc_bits: int
    ifmap_buffer_bytes: int
    weight_buffer_bytes: int
    ofmap_buffer_bytes: int
    dram_bytes_per_s: float
    vector_lanes: int
    generator_lanes: int
    mac_pj: float
    vector_op_pj: float
    sram_pj_per_byte: float
    dram_pj_per_byte: float
    static_w: float
    interleave: bool = True
    pregenerate: bool = True
    offline_schedule: bool = True
    constants: dict[str, Constant] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for f, (unit, low) in _INT_FIELDS.items():
            v = getattr(self, f)
            if not isinstance(v, int) or isinstance(v, bool) or v < low:
                raise SATConfigError(
                    f"accelerator {self.name!r}: {f} must be an integer >= {low} ({unit}), found {v!r}; fix the "
                    f"config file"
                )
        for f, unit in _REAL_FIELDS.items():
            v = getattr(self, f)
            low_ok = v >= 0 if f in ("static_w", "vector_op_pj") else v > 0
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not low_ok:
                raise SATConfigError(
                    f"accelerator {self.name!r}: {f} must be a finite number "
                    f"{'>= 0' if f in ('static_w', 'vector_op_pj') else '> 0'} ({unit}), found {v!r}; fix the "
                    f"config file"
                )
        for f in _SWITCHES:
            if not isinstance(getattr(self, f), bool):
                raise SATConfigError(f"accelerator {self.name!r}: dataflow.{f} must be true or false, "
                                     f"found {getattr(self, f)!r}")
        if self.lanes > self.window:
            raise SATConfigError(
                f"accelerator {self.name!r}: a PE's window ({self.window!r} activations) must be at least its "
                f"lanes ({self.lanes!r} multipliers); raise window"
            )
        if self.acc_bits < self.act_bits + self.weight_bits:
            raise SATConfigError(
                f"accelerator {self.name!r}: acc_bits={self.acc_bits!r} is narrower than a product "
                f"({self.act_bits}+{self.weight_bits} bits); widen the accumulator"
            )
        for n, m in self.patterns:
            self.reduction_per_pe(n, m)

    # -- the PE ---------------------------------------------------------------------------------
    def supports(self, n: int, m: int) -> bool:
        return n == m or (self.lanes % n == 0 and self.lanes // n * m <= self.window)

    def reduction_per_pe(self, n: int, m: int) -> int:
        """Reduction elements one PE covers per cycle: ``lanes`` dense, ``lanes * M / N`` for N:M."""
        if n == m:
            return self.lanes
        if not (1 <= n <= m):
            raise SATConfigError(f"N:M pattern {n}:{m} needs 1 <= N <= M; use e.g. 2:8")
        if not self.supports(n, m):
            raise SATConfigError(
                f"accelerator {self.name!r} cannot run {n}:{m} sparse: a PE has {self.lanes} multipliers and a "
                f"window of {self.window} activations, and {n}:{m} needs lanes % N == 0 and lanes/N*M <= window; "
                f"choose one of {', '.join(f'{a}:{b}' for a, b in self.patterns)}"
            )
        return self.lanes // n * m

    def check_pattern(self, n: int, m: int) -> None:
        """Raise unless N:M is dense or one of the configured ``patterns``."""
        if n != m and (n, m) not in self.patterns:
            raise SATConfigError(
                f"accelerator {self.name!r} does not list the pattern {n}:{m}; choose one of "
                f"{', '.join(f'{a}:{b}' for a, b in self.patterns)} or add it to the config's patterns"
            )
        self.reduction_per_pe(n, m)

    @property
    def macs_per_cycle(self) -> int:
        return self.rows * self.cols * self.lanes

    def with_dataflow(self, **switches: bool) -> AcceleratorConfig:
        """A copy with some dataflow optimisations switched (for the ablation)."""
        bad = set(switches) - set(_SWITCHES)
        if bad:
            raise SATConfigError(f"unknown dataflow switch {min(bad)!r}; known: {', '.join(_SWITCHES)}")
        return dataclasses.replace(self, **switches)

    def replace(self, **changes: Any) -> AcceleratorConfig:
        return dataclasses.replace(self, **changes)


def _value(table: dict, key: str, path: str) -> tuple[Any, Constant]:
    entry = table.get(key)
    if not isinstance(entry, dict) or "value" not in entry:
        raise SATConfigError(f"{path}: [{key}] is missing or has no value; add [{key}] with value, unit and source")
    try:
        const = Constant(value=None, unit=str(entry.get("unit", "")), source=entry.get("source", ""),
                         note=str(entry.get("note", "")))
    except ChipError as exc:  # the message names the problem
        raise SATConfigError(f"{path}: [{key}]: {exc}") from None
    return entry["value"], dataclasses.replace(const, value=entry["value"] if not isinstance(entry["value"], str)
                                               else None)


def load_config(name_or_path: str | Path = DEFAULT) -> AcceleratorConfig:
    """Load a configuration by name (``sat-vcu1525``) or path to a TOML file."""
    text = str(name_or_path)
    path = Path(text)
    if not (path.suffix == ".toml" or path.exists()):
        path = CONFIG_DIR / f"{text}.toml"
        if not path.exists():
            raise SATConfigError(
                f"unknown accelerator config {text!r}; known: {', '.join(configs())} (or give a .toml path)"
            )
    if not path.is_file():
        raise SATConfigError(f"accelerator config {str(path)!r} does not exist; check the path")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SATConfigError(f"accelerator config {str(path)!r} is not valid TOML ({exc}); fix the file") from None
    kw: dict[str, Any] = {"name": str(data.get("name", path.stem)), "description": str(data.get("description", ""))}
    constants: dict[str, Constant] = {}
    for key in (*_INT_FIELDS, *_REAL_FIELDS):
        kw[key], constants[key] = _value(data, key, str(path))
    pats = data.get("patterns")
    if not isinstance(pats, dict) or not isinstance(pats.get("value"), list):
        raise SATConfigError(f"{path}: [patterns] must hold value = [\"2:8\", ...] and a source")
    try:
        kw["patterns"] = tuple(parse_nm(p) for p in pats["value"])
    except NMError as exc:
        raise SATConfigError(f"{path}: [patterns]: {exc}") from None
    flow = data.get("dataflow", {})
    for key in _SWITCHES:
        if key in flow:
            kw[key] = flow[key]
    unknown = set(data) - {"name", "description", "reference", "patterns", "dataflow", *_INT_FIELDS, *_REAL_FIELDS}
    if unknown:
        raise SATConfigError(f"{path}: unknown field {min(unknown)!r}; known: "
                             f"{', '.join(sorted((*_INT_FIELDS, *_REAL_FIELDS)))}")
    return AcceleratorConfig(**kw, constants=constants)


def configs() -> list[str]:
    """Names of the bundled configurations."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.toml"))
