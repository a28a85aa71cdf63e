"""Chip presets: the structure, energy and latency constants of a neuromorphic chip, each with its source.

Presets are data: one TOML file per chip in ``presets/`` beside this module (or a user's file), loaded
into a frozen :class:`ChipPreset` that validates itself. Every hardware constant, structural ones
included, is a table with ``value``, ``unit``, ``source`` and an optional ``note``::

    [neurons_per_core]
    value = 1024
    unit = "neurons"
    source = "Davies et al., IEEE Micro 38(1) 2018, Chip Overview"

    [energy_pj.synaptic_op]
    value = 23.6
    unit = "pJ"
    source = "Davies et al., IEEE Micro 38(1) 2018, Table 2"

``value = "unknown"`` marks a constant nobody has published (it becomes ``None``; the energy model
excludes and reports it, never guesses it). ``value = "none"`` marks one that does not apply to the
chip (also ``None``; its note is prefixed "not applicable"). The source of an estimate says how it
was derived: ``source = "estimate: <how derived>"``.

Conventions the engine relies on:

* ``mesh_x`` x ``mesh_y`` is the grid of routers of one chip. Each router serves a tile of
  ``cores_per_tile`` cores (Loihi: 4; every other preset: 1, so the grid is the core grid). Core ``c``
  sits on tile ``c // cores_per_tile`` at ``(tile % mesh_x, tile // mesh_x)``: see :meth:`ChipPreset.core_xy`.
* ``timing = "cycles"``: a core's time is its cycle count / ``clock_hz``; the cycle-model fields
  (``lanes``, the pipeline and overhead cycles, ``hop_latency_cycles``, ``barrier_cycles``) must be known.
* ``timing = "event_latency"`` (asynchronous chips): a core's time is the sum over events of
  count x ``latency_ns[event]``; every event must be declared in ``[latency_ns]``; ``barrier_ns`` is the
  per-timestep synchronisation time where one is published.
* ``timestep_s`` set: the chip advances on a fixed tick (TrueNorth: 1 ms), so a timestep lasts that long.
"""

from __future__ import annotations

import math
import numbers
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neurosim.errors import ChipError, NeurosimError
from neurosim.targets.neuromorphic.events import EVENTS

PRESET_DIR = Path(__file__).with_name("presets")

UNKNOWN = "unknown"
NOT_APPLICABLE = "none"



# field -> (kind, canonical unit, must be known). Kinds: "int" (>= 1), "int0" (>= 0), "real" (> 0),
# "choice" (one of _CHOICES[field]).
_FIELDS: dict[str, tuple[str, str, bool]] = {
    "neurons_per_core": ("int", "neurons", True),
    "axons_per_core": ("int", "axons", True),
    "synapse_memory_bytes": ("int", "bytes", False),
    "max_fanout_cores": ("int", "cores", False),
    "weight_bits": ("int", "bits", True),
    "membrane_bits": ("int", "bits", False),
    "lanes": ("int", "synapses/cycle", False),
    "synapse_storage": ("choice", "", True),
    "integrate_pipeline_cycles": ("int0", "cycles", False),
    "fire_pipeline_cycles": ("int0", "cycles", False),
    "event_overhead_cycles": ("int0", "cycles", False),
    "mesh_x": ("int", "routers", True),
    "mesh_y": ("int", "routers", True),
    "cores_per_chip": ("int", "cores", True),
    "cores_per_tile": ("int", "cores", True),
    "max_chips": ("int", "chips", True),
    "board_x": ("int", "chips", True),
    "board_y": ("int", "chips", True),
    "clock_hz": ("real", "Hz", False),
    "timing": ("choice", "", True),
    "hop_latency_cycles": ("int0", "cycles", False),
    "barrier_cycles": ("int0", "cycles", False),
}

# Fields held as a Constant (or None) on the preset, with their canonical unit.
_CONSTANT_FIELDS: dict[str, str] = {"static_power_w": "W", "timestep_s": "s", "barrier_ns": "ns"}

_CHOICES: dict[str, tuple[str, ...]] = {
    "synapse_storage": ("dense", "sparse"),
    "timing": ("cycles", "event_latency"),
}

# Fields the cycle model needs when timing == "cycles".
_CYCLE_FIELDS = ("clock_hz", "lanes", "integrate_pipeline_cycles", "fire_pipeline_cycles",
                 "event_overhead_cycles", "hop_latency_cycles", "barrier_cycles")

_SOURCED_FIELDS = tuple(_FIELDS) + tuple(_CONSTANT_FIELDS)

_TOP_LEVEL_KEYS = {"name", "description", "reference", "energy_pj", "latency_ns", "published", *_SOURCED_FIELDS}
_ENTRY_KEYS = {"value", "unit", "source", "note"}


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass(frozen=True)
class Constant:
    """One hardware constant: its value in ``unit`` (None = unknown or not applicable) and where it comes from.

    ``source`` names the paper and table (``"Davies et al., IEEE Micro 38(1) 2018, Table 2"``) or says how
    an estimate was derived (``"estimate: <how derived>"``). In :meth:`ChipPreset.constants` the two
    categorical fields (``timing``, ``synapse_storage``) appear with a ``str`` value.
    """

    value: float | None
    unit: str
    source: str
    note: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.source, str) or not self.source.strip():
            raise ChipError(f"a constant's source must name the paper and table or say 'estimate: <how derived>', "
                            f"found {self.source!r}; add a source")
        if not isinstance(self.unit, str):
            raise ChipError(f"a constant's unit must be a string such as 'pJ', found {self.unit!r}")
        if not isinstance(self.note, str):
            raise ChipError(f"a constant's note must be a string, found {self.note!r}")
        if self.value is not None and not isinstance(self.value, str) and not _is_real(self.value):
            raise ChipError(f"a constant's value must be a finite number or None (unknown), found {self.value!r}")

    @property
    def known(self) -> bool:
        """True when the value is known."""
        return self.value is not None

    @property
    def not_applicable(self) -> bool:
        """True for a constant that does not apply to the chip (declared ``value = "none"``)."""
        return self.value is None and self.note.lower().startswith("not applicable")

    def display(self) -> str:
        """The value as text: the number, ``unknown`` or ``n/a``."""
        if self.value is None:
            return "n/a" if self.not_applicable else UNKNOWN
        return _fmt(self.value)


@dataclass(frozen=True)
class ChipPreset:
    """A neuromorphic chip: structure, timing model, per-event energy (pJ) and latency (ns), static power.

    Every non-event field has a non-empty entry in ``sources`` (and optionally ``notes``); every event
    constant carries its own source. ``published`` holds headline figures of the source papers that the
    model does not price directly (cross-checks, e.g. ODIN's total 12.7 pJ/SOP). Treat the dicts as
    read-only. See the module docstring for the conventions of ``mesh_x``/``mesh_y`` and ``timing``.
    """

    name: str
    description: str
    neurons_per_core: int
    axons_per_core: int
    synapse_memory_bytes: int | None
    max_fanout_cores: int | None
    weight_bits: int
    membrane_bits: int | None
    lanes: int | None
    synapse_storage: str
    integrate_pipeline_cycles: int | None
    fire_pipeline_cycles: int | None
    event_overhead_cycles: int | None
    mesh_x: int
    mesh_y: int
    cores_per_chip: int
    cores_per_tile: int
    max_chips: int
    board_x: int
    board_y: int
    clock_hz: float | None
    timing: str
    hop_latency_cycles: int | None
    barrier_cycles: int | None
    energy_pj: dict[str, Constant]
    latency_ns: dict[str, Constant]
    static_power_w: Constant
    timestep_s: Constant | None
    barrier_ns: Constant | None = None
    sources: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    published: dict[str, Constant] = field(default_factory=dict)
    reference: str = ""
    path: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ChipError(f"a chip preset's name must be a non-empty string, found {self.name!r}")
        chip = f"chip {self.name!r}"
        if not isinstance(self.description, str):
            raise ChipError(f"{chip} description must be a string, found {self.description!r}")
        for fname, (kind, _, must_know) in _FIELDS.items():
            value = getattr(self, fname)
            if value is None:
                if must_know:
                    raise ChipError(f"{chip} field {fname!r} must be known, found None; give its value")
                continue
            if kind in ("int", "int0"):
                minimum = 1 if kind == "int" else 0
                if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
                    raise ChipError(f"{chip} field {fname!r} must be an integer >= {minimum}, found {value!r}")
            elif kind == "real":
                if not _is_real(value) or value <= 0:
                    raise ChipError(f"{chip} field {fname!r} must be a positive finite number, found {value!r}")
            elif value not in _CHOICES[fname]:
                raise ChipError(f"{chip} field {fname!r} must be one of {_CHOICES[fname]!r}, found {value!r}")
        if self.timing == "cycles":
            for fname in _CYCLE_FIELDS:
                if getattr(self, fname) is None:
                    raise ChipError(f"{chip} uses timing 'cycles', so {fname!r} must be known, found None; "
                                    f"give its value or use timing 'event_latency'")
        if self.mesh_x * self.mesh_y < self.tiles_per_chip:
            raise ChipError(f"{chip} mesh {self.mesh_x}x{self.mesh_y} has fewer routers than its "
                            f"{self.tiles_per_chip} tiles ({self.cores_per_chip} cores / {self.cores_per_tile} per tile); "
                            f"enlarge mesh_x or mesh_y")
        if self.board_x * self.board_y < self.max_chips:
            raise ChipError(f"{chip} board {self.board_x}x{self.board_y} holds fewer than max_chips={self.max_chips!r} "
                            f"chips; enlarge board_x or board_y")
        self._check_events("energy_pj", self.energy_pj, "pJ", require_all=True)
        self._check_events("latency_ns", self.latency_ns, "ns", require_all=self.timing == "event_latency")
        self._check_constant("static_power_w", self.static_power_w, "W", optional=False, positive=False)
        self._check_constant("timestep_s", self.timestep_s, "s", optional=True, positive=True)
        self._check_constant("barrier_ns", self.barrier_ns, "ns", optional=True, positive=False)
        if not isinstance(self.published, dict) or not all(
                isinstance(k, str) and isinstance(v, Constant) for k, v in self.published.items()):
            raise ChipError(f"{chip} published must map names to Constant, found {self.published!r}")
        # Sources: defensive copies; the Constant fields supply their own source when none is given.
        sources = dict(self.sources)
        for fname in _CONSTANT_FIELDS:
            const = getattr(self, fname)
            if const is not None:
                sources.setdefault(fname, const.source)
        for fname in _SOURCED_FIELDS:
            src = sources.get(fname)
            if not isinstance(src, str) or not src.strip():
                raise ChipError(f"{chip} field {fname!r} has no source, found {src!r}; add the paper and table "
                                f"or 'estimate: <how derived>'")
        object.__setattr__(self, "sources", sources)
        object.__setattr__(self, "notes", dict(self.notes))
        object.__setattr__(self, "energy_pj", dict(self.energy_pj))
        object.__setattr__(self, "latency_ns", dict(self.latency_ns))
        object.__setattr__(self, "published", dict(self.published))

    def _check_events(self, table: str, entries: Any, unit: str, require_all: bool) -> None:
        chip = f"chip {self.name!r}"
        if not isinstance(entries, dict):
            raise ChipError(f"{chip} {table} must map event names to Constant, found {entries!r}")
        for event, const in entries.items():
            if event not in EVENTS:
                raise ChipError(f"{chip} {table} key {event!r} is not an event; choose one of {list(EVENTS)!r}")
            if not isinstance(const, Constant):
                raise ChipError(f"{chip} {table}[{event!r}] must be a Constant, found {const!r}")
            if const.unit != unit:
                raise ChipError(f"{chip} {table}[{event!r}] unit must be {unit!r}, found {const.unit!r}; "
                                f"convert the value to {unit}")
            if const.value is not None and (not _is_real(const.value) or const.value < 0):
                raise ChipError(f"{chip} {table}[{event!r}] must be a finite number >= 0 or unknown, "
                                f"found {const.value!r}")
        if require_all:
            missing = [e for e in EVENTS if e not in entries]
            if missing:
                raise ChipError(f"{chip} {table} is missing {missing!r}; declare every event "
                                f"(value 'unknown' with a note when it is not published)")

    def _check_constant(self, fname: str, const: Any, unit: str, optional: bool, positive: bool) -> None:
        chip = f"chip {self.name!r}"
        if const is None and optional:
            return
        if not isinstance(const, Constant):
            raise ChipError(f"{chip} field {fname!r} must be a Constant{' or None' if optional else ''}, found {const!r}")
        if const.unit != unit:
            raise ChipError(f"{chip} field {fname!r} unit must be {unit!r}, found {const.unit!r}; convert the value to {unit}")
        if const.value is not None:
            bad = not _is_real(const.value) or const.value < 0 or (positive and const.value == 0)
            if bad:
                raise ChipError(f"{chip} field {fname!r} must be a finite number {'> 0' if positive else '>= 0'} "
                                f"or unknown, found {const.value!r}")

    def __hash__(self) -> int:
        # The dict fields are unhashable; hash a subset of fields (equal presets have equal subsets).
        return hash((self.name, self.path, self.timing, self.cores_per_chip, self.neurons_per_core, self.axons_per_core))

    # -- derived geometry -------------------------------------------------------------------------

    @property
    def tiles_per_chip(self) -> int:
        """Number of tiles (routers in use) on one chip."""
        return -(-self.cores_per_chip // self.cores_per_tile)

    def core_xy(self, core: int) -> tuple[int, int]:
        """Router coordinates (x, y) of core ``core`` (0-based) on its chip."""
        if isinstance(core, bool) or not isinstance(core, numbers.Integral) or not 0 <= core < self.cores_per_chip:
            raise ChipError(f"core index must be an integer in [0, {self.cores_per_chip}) for chip {self.name!r}, "
                            f"found {core!r}")
        tile = int(core) // self.cores_per_tile
        return tile % self.mesh_x, tile // self.mesh_x

    @property
    def is_placeholder(self) -> bool:
        """True when any constant is a placeholder (a design whose figures await synthesis)."""
        return any(c.source.lower().startswith("placeholder") for c in self.constants().values())

    # -- every constant, uniformly ------------------------------------------------------------------

    def constants(self) -> dict[str, Constant]:
        """Every constant of the preset, keyed ``field``, ``energy_pj.<event>``, ``latency_ns.<event>``, ``published.<name>``."""
        out: dict[str, Constant] = {}
        for fname, (_, unit, _) in _FIELDS.items():
            out[fname] = Constant(getattr(self, fname), unit, self.sources[fname], self.notes.get(fname, ""))
        for fname, unit in _CONSTANT_FIELDS.items():
            const = getattr(self, fname)
            out[fname] = const if const is not None else Constant(None, unit, self.sources[fname], self.notes.get(fname, ""))
        for event in EVENTS:
            if event in self.energy_pj:
                out[f"energy_pj.{event}"] = self.energy_pj[event]
        for event in EVENTS:
            if event in self.latency_ns:
                out[f"latency_ns.{event}"] = self.latency_ns[event]
        for key, const in self.published.items():
            out[f"published.{key}"] = const
        return out

    def unknown_constants(self) -> dict[str, Constant]:
        """The constants whose value is not published (``unknown``; not-applicable ones excluded)."""
        return {k: c for k, c in self.constants().items() if c.value is None and not c.not_applicable}


# -- loading ---------------------------------------------------------------------------------------

def _registry() -> dict[str, Path]:
    return {p.stem: p for p in sorted(PRESET_DIR.glob("*.toml"))}


def preset_names() -> list[str]:
    """Names of the bundled presets, sorted."""
    return sorted(_registry())


def presets() -> dict[str, ChipPreset]:
    """All bundled presets by name (freshly loaded from ``neurosim/targets/neuromorphic/presets/*.toml``)."""
    return {name: _load_file(path) for name, path in _registry().items()}


def load_preset(name_or_path: str | os.PathLike) -> ChipPreset:
    """A bundled preset by name (``"loihi"``) or a user's preset TOML by path."""
    registry = _registry()
    if isinstance(name_or_path, str) and name_or_path in registry:
        return _load_file(registry[name_or_path])
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise ChipError(f"a chip must be given by name or TOML path, found {name_or_path!r}; "
                        f"choose one of {sorted(registry)!r}")
    text = os.fspath(name_or_path)
    path = Path(text)
    if isinstance(name_or_path, os.PathLike) or path.suffix == ".toml" or "/" in text or os.sep in text or path.is_file():
        if not path.is_file():
            raise ChipError(f"preset file {text!r} does not exist; give an existing TOML path or one of "
                            f"{sorted(registry)!r}")
        return _load_file(path)
    raise ChipError(f"unknown chip {text!r}; choose one of {sorted(registry)!r} or give a path to a preset TOML")


def _load_file(path: Path) -> ChipPreset:
    where = f"preset file {str(path)!r}"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ChipError(f"{where} is not valid TOML ({exc}); fix the syntax") from None
    except OSError as exc:
        raise ChipError(f"{where} cannot be read ({exc.strerror}); check the path and permissions") from None
    for key in data:
        if key not in _TOP_LEVEL_KEYS:
            raise ChipError(f"{where}: unknown key {key!r}; expected one of {sorted(_TOP_LEVEL_KEYS)!r}")
    name = data.get("name", path.stem)
    description = data.get("description")
    reference = data.get("reference", "")
    for key, value, required in (("name", name, True), ("description", description, True), ("reference", reference, False)):
        if not isinstance(value, str) or (required and not value.strip()):
            raise ChipError(f"{where}: {key} must be a non-empty string, found {value!r}")

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    notes: dict[str, str] = {}
    for fname, (kind, unit, must_know) in _FIELDS.items():
        const = _parse_entry(where, fname, data.get(fname), unit, kind, must_know)
        values[fname] = const.value
        sources[fname] = const.source
        if const.note:
            notes[fname] = const.note
    constants: dict[str, Constant | None] = {}
    for fname, unit in _CONSTANT_FIELDS.items():
        const = _parse_entry(where, fname, data.get(fname), unit, "real0", must_know=False)
        sources[fname] = const.source
        if const.note:
            notes[fname] = const.note
        constants[fname] = const if (fname == "static_power_w" or const.value is not None) else None
    energy = _parse_events(where, "energy_pj", data.get("energy_pj"), "pJ", required=True)
    latency = _parse_events(where, "latency_ns", data.get("latency_ns", {}), "ns",
                            required=values["timing"] == "event_latency")
    published = _parse_published(where, data.get("published", {}))
    try:
        return ChipPreset(name=name, description=description, **values, energy_pj=energy, latency_ns=latency,
                          static_power_w=constants["static_power_w"], timestep_s=constants["timestep_s"],
                          barrier_ns=constants["barrier_ns"], sources=sources, notes=notes, published=published,
                          reference=reference, path=str(path))
    except ChipError as exc:
        raise ChipError(f"{where}: {exc}") from None


def _parse_entry(where: str, key: str, entry: Any, unit: str | None, kind: str, must_know: bool) -> Constant:
    """Parse one ``{value, unit, source, note}`` table; ``unit=None`` accepts any unit."""
    label = f"[{key}]"
    if entry is None:
        raise ChipError(f"{where}: missing {label}; declare it with value, unit and source "
                        f"(value = \"unknown\" when it is not published)")
    if not isinstance(entry, dict):
        raise ChipError(f"{where}: {label} must be a table with value, unit and source, found {entry!r}")
    extra = sorted(set(entry) - _ENTRY_KEYS)
    if extra:
        raise ChipError(f"{where}: {label} has unknown key(s) {extra!r}; expected {sorted(_ENTRY_KEYS)!r}")
    source = entry.get("source")
    if not isinstance(source, str) or not source.strip():
        raise ChipError(f"{where}: {label} has no source, found {source!r}; add source = \"<paper, table>\" "
                        f"or \"estimate: <how derived>\"")
    note = entry.get("note", "")
    if not isinstance(note, str):
        raise ChipError(f"{where}: {label} note must be a string, found {note!r}")
    given_unit = entry.get("unit", "" if kind == "choice" else None)
    if not isinstance(given_unit, str):
        raise ChipError(f"{where}: {label} has no unit, found {given_unit!r}; add unit = {unit!r}")
    if unit is not None and given_unit != unit:
        raise ChipError(f"{where}: {label} unit must be {unit!r}, found {given_unit!r}; convert the value to {unit!r}")
    if "value" not in entry:
        raise ChipError(f"{where}: {label} has no value; give a number, or \"unknown\" when it is not published")
    value = entry["value"]
    if value in (UNKNOWN, NOT_APPLICABLE):
        if must_know:
            raise ChipError(f"{where}: {label} must be known for every chip, found {value!r}; give its value")
        if value == NOT_APPLICABLE and not note.lower().startswith("not applicable"):
            note = "not applicable" + (f"; {note}" if note else "")
        return Constant(None, given_unit, source, note)
    if kind in ("int", "int0"):
        ok = isinstance(value, int) and not isinstance(value, bool)
        expected = "an integer"
    elif kind == "choice":
        ok = isinstance(value, str)
        expected = f"one of {_CHOICES[key]!r}"
    else:
        ok = _is_real(value)
        expected = "a finite number"
    if not ok:
        raise ChipError(f"{where}: {label} value must be {expected}, \"unknown\" or \"none\", found {value!r}")
    return Constant(value, given_unit, source, note)


def _parse_events(where: str, table: str, entries: Any, unit: str, required: bool) -> dict[str, Constant]:
    if entries is None:
        raise ChipError(f"{where}: missing [{table}]; declare every event in {list(EVENTS)!r} with value, unit and source")
    if not isinstance(entries, dict):
        raise ChipError(f"{where}: [{table}] must be a table of events, found {entries!r}")
    for key in entries:
        if key not in EVENTS:
            raise ChipError(f"{where}: [{table}] key {key!r} is not an event; choose one of {list(EVENTS)!r}")
    if required:
        missing = [e for e in EVENTS if e not in entries]
        if missing:
            raise ChipError(f"{where}: [{table}] is missing {missing!r}; declare every event "
                            f"(value = \"unknown\" with a note when it is not published)")
    return {e: _parse_entry(where, f"{table}.{e}", entries[e], unit, "real0", must_know=False)
            for e in EVENTS if e in entries}


def _parse_published(where: str, entries: Any) -> dict[str, Constant]:
    if not isinstance(entries, dict):
        raise ChipError(f"{where}: [published] must be a table of named constants, found {entries!r}")
    return {k: _parse_entry(where, f"published.{k}", v, None, "real0", must_know=False) for k, v in entries.items()}
