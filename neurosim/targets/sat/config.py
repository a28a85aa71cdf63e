"""SAT accelerator configurations: the PE array, buffers, DRAM, widths and energies, each with its source.

A configuration is a data file (TOML) in ``configs/`` beside this module, or a user's file,
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

Each constant's table is parsed and checked by the loader shared with the chip presets
(:meth:`neurosim.constants.Constant.from_table`: unit, source, unknown keys, value type), raising
:class:`SATConfigError`; each field's kind and unit are declared once, as metadata on its
:class:`AcceleratorConfig` field, and :meth:`AcceleratorConfig.__post_init__` checks the ranges.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import neurosim.constants as shared
from neurosim.constants import read_toml
from neurosim.errors import NMError, SATConfigError
from neurosim.ir.nm import parse_nm

CONFIG_DIR = Path(__file__).with_name("configs")
DEFAULT = "sat-vcu1525"
#: size of a config file: the bundled one is a few kB; a bigger file is the wrong file, refused unread
MAX_FILE_BYTES = 16 * 2**20


class Constant(shared.Constant):
    """An accelerator's hardware constant (see :class:`neurosim.constants.Constant`); an invalid one raises
    :class:`SATConfigError`."""

    error = SATConfigError


def _int(unit: str, maximum: int) -> Any:
    """A structural field of :class:`AcceleratorConfig`: an integer in ``[1, maximum]`` in ``unit``, read from
    ``[field]``. The maxima lie far above any built accelerator and far below the sizes at which the cycle
    model's int64 arithmetic or its loops would overflow or run for hours: a typo or a hostile file
    (``rows = 1e11``) is refused by name."""
    return dataclasses.field(metadata={"kind": "int", "unit": unit, "max": maximum})


def _real(unit: str, maximum: float, zero_ok: bool = False, minimum: float = 0.0) -> Any:
    """A real field of :class:`AcceleratorConfig`: a finite number > 0 (>= 0 if ``zero_ok``), at least ``minimum``
    and at most ``maximum`` in ``unit`` (see :func:`_int` for the maxima). A rate's minimum (1 Hz, 1 B/s) keeps
    the cycle and transfer times finite: a clock of 5e-324 Hz would price a layer at "inf" cycles."""
    return dataclasses.field(metadata={"kind": "real", "unit": unit, "zero_ok": zero_ok, "max": maximum,
                                       "min": minimum})


def _switch() -> Any:
    """A dataflow optimisation of :class:`AcceleratorConfig`, on unless ``[dataflow]`` switches it off."""
    return dataclasses.field(default=True, metadata={"kind": "switch"})


@dataclass(frozen=True)
class AcceleratorConfig:
    """One accelerator: see the module docstring. Sizes in the units of the field names."""

    name: str
    description: str
    rows: int = _int("PEs", 2**16)
    cols: int = _int("PEs", 2**16)
    lanes: int = _int("multipliers/PE", 2**12)
    window: int = _int("activations", 2**16)
    patterns: tuple[tuple[int, int], ...]
    clock_hz: float = _real("Hz", 1e11, minimum=1.0)
    act_bits: int = _int("bits", 64)
    weight_bits: int = _int("bits", 64)
    acc_bits: int = _int("bits", 128)
    ifmap_buffer_bytes: int = _int("bytes", 2**40)
    weight_buffer_bytes: int = _int("bytes", 2**40)
    ofmap_buffer_bytes: int = _int("bytes", 2**40)
    dram_bytes_per_s: float = _real("B/s", 1e15, minimum=1.0)
    vector_lanes: int = _int("elements/cycle", 2**20)
    generator_lanes: int = _int("weights/cycle", 2**20)
    mac_pj: float = _real("pJ", 1e9)
    vector_op_pj: float = _real("pJ", 1e9, zero_ok=True)
    sram_pj_per_byte: float = _real("pJ", 1e9)
    dram_pj_per_byte: float = _real("pJ", 1e9)
    static_w: float = _real("W", 1e6, zero_ok=True)
    interleave: bool = _switch()
    pregenerate: bool = _switch()
    offline_schedule: bool = _switch()
    constants: dict[str, Constant] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for f, meta in _INT_FIELDS.items():
            v = getattr(self, f)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise SATConfigError(
                    f"accelerator {self.name!r}: {f} must be an integer >= 1 ({meta['unit']}), found {v!r}; fix the "
                    f"config file"
                )
            if v > meta["max"]:
                raise SATConfigError(f"accelerator {self.name!r}: {f} must be at most {meta['max']:,} ({meta['unit']}), "
                                     f"found {v!r}; fix the config file")
        for f, meta in _REAL_FIELDS.items():
            v = getattr(self, f)
            if (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                    or not (v >= 0 if meta["zero_ok"] else v > 0)):
                raise SATConfigError(
                    f"accelerator {self.name!r}: {f} must be a finite number "
                    f"{'>= 0' if meta['zero_ok'] else '> 0'} ({meta['unit']}), found {v!r}; fix the "
                    f"config file"
                )
            if v > meta["max"] or v < meta["min"]:
                raise SATConfigError(f"accelerator {self.name!r}: {f} must be in [{meta['min']:g}, {meta['max']:g}] "
                                     f"({meta['unit']}), found {v!r}; fix the config file")
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
        if n != m and not self.patterns:
            raise SATConfigError(f"accelerator {self.name!r} lists no sparse N:M pattern, so it cannot run {n}:{m}; "
                                 f"run it dense (--nm dense) or add the pattern to the config's patterns")
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


#: the schema, read from the field declarations: field -> its metadata (kind, unit, ...)
_INT_FIELDS: dict[str, Any] = {f.name: f.metadata for f in dataclasses.fields(AcceleratorConfig)
                               if f.metadata.get("kind") == "int"}
_REAL_FIELDS: dict[str, Any] = {f.name: f.metadata for f in dataclasses.fields(AcceleratorConfig)
                                if f.metadata.get("kind") == "real"}
_SWITCHES = tuple(f.name for f in dataclasses.fields(AcceleratorConfig) if f.metadata.get("kind") == "switch")


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
        if path.exists():  # a directory, FIFO or device: never opened (a FIFO would block)
            raise SATConfigError(f"accelerator config {str(path)!r} is not a regular file (a directory, pipe or "
                                 f"device); give the path of a config TOML")
        raise SATConfigError(f"accelerator config {str(path)!r} does not exist; check the path")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise SATConfigError(f"accelerator config {str(path)!r} holds {size:,} bytes, more than the {MAX_FILE_BYTES:,} "
                             f"a config TOML may have; give the right file (a config is a few kB)")
    data = read_toml(path, f"accelerator config {str(path)!r}", SATConfigError, fix="fix the file")
    where = str(path)
    kw: dict[str, Any] = {"name": data.get("name", path.stem), "description": data.get("description", "")}
    for key in ("name", "description", "reference"):
        value = data.get(key, kw.get(key, ""))
        if not isinstance(value, str) or (key == "name" and not value.strip()):
            raise SATConfigError(f"{where}: {key} must be a {'non-empty ' if key == 'name' else ''}string, "
                                 f"found {value!r}; fix the file")
    constants: dict[str, Constant] = {}
    for key, meta in (*_INT_FIELDS.items(), *_REAL_FIELDS.items()):
        constants[key] = Constant.from_table(str(path), key, data.get(key), unit=meta["unit"], kind=meta["kind"],
                                             must_know=True, owner="accelerator")
        kw[key] = constants[key].value
    pats = data.get("patterns")
    if not isinstance(pats, dict) or not isinstance(pats.get("value"), list):
        raise SATConfigError(f"{path}: [patterns] must hold value = [\"2:8\", ...] and a source")
    try:
        kw["patterns"] = tuple(parse_nm(p) for p in pats["value"])
    except NMError as exc:
        raise SATConfigError(f"{path}: [patterns]: {exc}") from None
    extra = sorted(set(pats) - shared.ENTRY_KEYS)
    if extra:
        raise SATConfigError(f"{where}: [patterns] has unknown key(s) {extra!r}; expected {sorted(shared.ENTRY_KEYS)!r}")
    if not isinstance(pats.get("source"), str) or not pats["source"].strip():
        raise SATConfigError(f"{where}: [patterns] has no source, found {pats.get('source')!r}; add source = "
                             f"\"<paper, table>\" or \"estimate: <how derived>\"")
    for key in ("unit", "note"):
        if not isinstance(pats.get(key, ""), str):
            raise SATConfigError(f"{where}: [patterns] {key} must be a string, found {pats[key]!r}; fix the file")
    flow = data.get("dataflow", {})
    if not isinstance(flow, dict):
        raise SATConfigError(f"{where}: [dataflow] must be a table of switches ({', '.join(_SWITCHES)}), found "
                             f"{flow!r}; write it as [dataflow] with key = true/false lines")
    unknown_flow = sorted(set(flow) - set(_SWITCHES))
    if unknown_flow:
        raise SATConfigError(f"{where}: [dataflow] has unknown key {unknown_flow[0]!r}; known: {', '.join(_SWITCHES)}")
    for key in _SWITCHES:
        if key in flow:
            kw[key] = flow[key]
    unknown = set(data) - {"name", "description", "reference", "patterns", "dataflow", *_INT_FIELDS, *_REAL_FIELDS}
    if unknown:
        raise SATConfigError(f"{path}: unknown field {min(unknown)!r}; known: "
                             f"{', '.join(sorted((*_INT_FIELDS, *_REAL_FIELDS)))}")
    try:
        return AcceleratorConfig(**kw, constants=constants)
    except SATConfigError as exc:  # the checks across fields, the ranges and the switches: name the file
        raise SATConfigError(f"{where}: {exc}") from None


def configs() -> list[str]:
    """Names of the bundled configurations."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.toml"))
