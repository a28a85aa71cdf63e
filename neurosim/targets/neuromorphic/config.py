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

Each table is parsed and checked by the loader shared with the other targets
(:meth:`neurosim.constants.Constant.from_table`), raising :class:`ChipError`. Each field's schema (kind,
unit, must it be known) is declared once, as metadata on its :class:`ChipPreset` field.

Conventions the engine relies on:

* ``mesh_x`` x ``mesh_y`` is the grid of routers of one chip. Each router serves a tile of
  ``cores_per_tile`` cores (Loihi: 4; every other preset: 1, so the grid is the core grid). Core ``c``
  sits on tile ``c // cores_per_tile`` at ``(tile % mesh_x, tile // mesh_x)``: see :meth:`ChipPreset.core_xy`.
* ``timing = "cycles"``: a core's time is its cycle count / ``clock_hz``; the cycle-model fields
  (``lanes``, the pipeline and overhead cycles, ``hop_latency_cycles``, ``barrier_cycles``) must be known.
* ``timing = "event_latency"`` (asynchronous chips): a core's time is the sum over events of
  count x ``latency_ns[event]``; every event must be declared in ``[latency_ns]``; ``barrier_ns`` is the
  per-timestep synchronisation time where one is published; ``chip_barrier_ns`` the extra time per
  timestep for every chip beyond the first (unknown where unpublished: a multi-chip run's latency then
  lists it as unpriced).
* ``timestep_s`` set: the chip advances on a fixed tick (TrueNorth: 1 ms), so a timestep lasts that long.

Neuron arithmetic: an optional ``[arithmetic]`` table (leak mode and bits of the membrane and of the
synaptic current, the input-shift / weight-exponent range, the current's width, the leak's rounding;
every value sourced like the constants above) loads into :attr:`ChipPreset.arithmetic`, a frozen
:class:`~neurosim.targets.neuromorphic.arithmetic.ChipArithmetic`; its schema is documented in
:mod:`neurosim.targets.neuromorphic.arithmetic`. A preset without the table gets the historic shift
leak (:func:`~neurosim.targets.neuromorphic.arithmetic.default_arithmetic`). The quantize pass takes
it as ``quantize(graph, weight_bits=chip.weight_bits, state_bits=chip.membrane_bits,
arithmetic=chip.arithmetic)``.
"""

from __future__ import annotations

import numbers
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, NamedTuple

import neurosim.constants as shared
from neurosim.constants import NOT_APPLICABLE, UNKNOWN, is_real, read_toml  # noqa: F401  (UNKNOWN, NOT_APPLICABLE: re-exported)
from neurosim.errors import ChipError
from neurosim.targets.neuromorphic.events import EVENTS

PRESET_DIR = Path(__file__).with_name("presets")

#: Upper bounds of a preset's numbers, far above any chip yet far below overflow, so a typo or a
#: hostile file (1e308 pJ per event) is refused by name instead of pricing a run at "inf J".
#: Per-event energies (pJ) and latencies (ns), static power (W), timestep (s), barriers (ns):
MAX_PER_EVENT = 1e9
#: structural integers (neurons, axons, cores, mesh, chips, bits, cycles): int32 range
MAX_STRUCTURAL = 2**31 - 1
#: real structural fields (clock_hz): at most 1 THz, at least 1 Hz (a slower clock prices a run at "inf s")
MAX_REAL = 1e12
MIN_CLOCK_HZ = 1.0
#: core slots of one chip's router mesh (``mesh_x * mesh_y * cores_per_tile``): 16x TrueNorth's 4,096 cores.
#: The placement walks every slot of the mesh once per chip, so a hostile 2**31 x 2**31 mesh would never finish.
MAX_CORE_SLOTS = 2**16
#: widths the quantize pass can build (:func:`neurosim.passes.quantize.quantize`): signed weight codes of
#: 2..32 bits, a membrane wider than the weights and at most 62 bits (the engine's int64 arithmetic)
WEIGHT_BITS = (2, 32)
MEMBRANE_BITS = (3, 62)
#: size of a preset file: the bundled ones are a few kB; a bigger file is the wrong file, refused unread
MAX_FILE_BYTES = 16 * 2**20


class Constant(shared.Constant):
    """A chip's hardware constant (see :class:`neurosim.constants.Constant`); an invalid one raises :class:`ChipError`.

    In :meth:`ChipPreset.constants` the two categorical fields (``timing``, ``synapse_storage``) appear
    with a ``str`` value.
    """

    error = ChipError


class _Spec(NamedTuple):
    """How a scalar preset field is declared and checked.

    Kinds: ``"int"`` (an integer in [1, MAX_STRUCTURAL]), ``"int0"`` (in [0, MAX_STRUCTURAL]), ``"real"`` (a
    finite number in (0, MAX_REAL]), ``"choice"`` (one of ``choices``). ``bounds``: a narrower closed range
    ``(lo, hi)`` where the field has one. ``must_know``: the value may not be ``unknown``/``none``.
    """

    kind: str
    unit: str
    must_know: bool = False
    choices: tuple[str, ...] = ()
    bounds: tuple[float, float] | None = None

    def range(self) -> tuple[float, float]:
        """The closed range ``[lo, hi]`` of a numeric field (``"real"`` without bounds: lo is exclusive 0)."""
        if self.bounds is not None:
            return self.bounds
        return {"int": (1, MAX_STRUCTURAL), "int0": (0, MAX_STRUCTURAL)}.get(self.kind, (0, MAX_REAL))


class _ConstantSpec(NamedTuple):
    """How a preset field held as a :class:`Constant` is declared: canonical unit, may be None, must be > 0."""

    unit: str
    optional: bool
    positive: bool


def _spec(kind: str, unit: str, must_know: bool = False, choices: tuple[str, ...] = (),
          bounds: tuple[float, float] | None = None) -> Any:
    """A scalar field of :class:`ChipPreset`, declared with its schema (read back into ``_FIELDS``)."""
    return field(metadata={"spec": _Spec(kind, unit, must_know, choices, bounds)})


# Fields the cycle model needs when timing == "cycles" (in the order a missing one is reported).
_CYCLE_FIELDS = ("clock_hz", "lanes", "integrate_pipeline_cycles", "fire_pipeline_cycles",
                 "event_overhead_cycles", "hop_latency_cycles", "barrier_cycles")


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
    neurons_per_core: int = _spec("int", "neurons", must_know=True)
    axons_per_core: int = _spec("int", "axons", must_know=True)
    synapse_memory_bytes: int | None = _spec("int", "bytes")
    max_fanout_cores: int | None = _spec("int", "cores")
    weight_bits: int = _spec("int", "bits", must_know=True, bounds=WEIGHT_BITS)
    membrane_bits: int | None = _spec("int", "bits", bounds=MEMBRANE_BITS)
    lanes: int | None = _spec("int", "synapses/cycle")
    synapse_storage: str = _spec("choice", "", must_know=True, choices=("dense", "sparse"))
    integrate_pipeline_cycles: int | None = _spec("int0", "cycles")
    fire_pipeline_cycles: int | None = _spec("int0", "cycles")
    event_overhead_cycles: int | None = _spec("int0", "cycles")
    mesh_x: int = _spec("int", "routers", must_know=True, bounds=(1, MAX_CORE_SLOTS))
    mesh_y: int = _spec("int", "routers", must_know=True, bounds=(1, MAX_CORE_SLOTS))
    cores_per_chip: int = _spec("int", "cores", must_know=True, bounds=(1, MAX_CORE_SLOTS))
    cores_per_tile: int = _spec("int", "cores", must_know=True, bounds=(1, MAX_CORE_SLOTS))
    max_chips: int = _spec("int", "chips", must_know=True)
    board_x: int = _spec("int", "chips", must_know=True)
    board_y: int = _spec("int", "chips", must_know=True)
    clock_hz: float | None = _spec("real", "Hz", bounds=(MIN_CLOCK_HZ, MAX_REAL))
    timing: str = _spec("choice", "", must_know=True, choices=("cycles", "event_latency"))
    hop_latency_cycles: int | None = _spec("int0", "cycles")
    barrier_cycles: int | None = _spec("int0", "cycles")
    # per-event constants, all in the unit given as metadata
    energy_pj: dict[str, Constant] = field(metadata={"events": "pJ"})
    latency_ns: dict[str, Constant] = field(metadata={"events": "ns"})
    # the fields held as a Constant (optional: None when the file gives no value)
    static_power_w: Constant = field(metadata={"constant": _ConstantSpec("W", optional=False, positive=False)})
    timestep_s: Constant | None = field(metadata={"constant": _ConstantSpec("s", optional=True, positive=True)})
    barrier_ns: Constant | None = field(default=None,
                                        metadata={"constant": _ConstantSpec("ns", optional=True, positive=False)})
    # extra synchronisation time per timestep for every chip beyond the first (multi-chip barrier)
    chip_barrier_ns: Constant | None = field(default=None,
                                             metadata={"constant": _ConstantSpec("ns", optional=True, positive=False)})
    sources: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    published: dict[str, Constant] = field(default_factory=dict)
    reference: str = ""
    path: str | None = None
    #: the neuron arithmetic (ChipArithmetic; None -> the historic shift leak)
    arithmetic: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ChipError(f"a chip preset's name must be a non-empty string, found {self.name!r}")
        chip = f"chip {self.name!r}"
        if not isinstance(self.description, str):
            raise ChipError(f"{chip} description must be a string, found {self.description!r}")
        for fname, spec in _FIELDS.items():
            value = getattr(self, fname)
            if value is None:
                if spec.must_know:
                    raise ChipError(f"{chip} field {fname!r} must be known, found None; give its value")
                continue
            if spec.kind in ("int", "int0"):
                minimum, maximum = spec.range()
                if (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum
                        or value > maximum):
                    raise ChipError(f"{chip} field {fname!r} must be an integer in [{minimum}, {maximum:,}], "
                                    f"found {value!r}")
            elif spec.kind == "real":
                minimum, maximum = spec.range()
                if not is_real(value) or value <= 0 or value < minimum or value > maximum:
                    interval = f"[{minimum:g}, {maximum:g}]" if minimum > 0 else f"(0, {maximum:g}]"
                    raise ChipError(f"{chip} field {fname!r} must be a finite number in {interval}, found {value!r}")
            elif value not in spec.choices:
                raise ChipError(f"{chip} field {fname!r} must be one of {spec.choices!r}, found {value!r}")
        if self.timing == "cycles":
            for fname in _CYCLE_FIELDS:
                if getattr(self, fname) is None:
                    raise ChipError(f"{chip} uses timing 'cycles', so {fname!r} must be known, found None; "
                                    f"give its value or use timing 'event_latency'")
        # a membrane as wide as the weights is legal (the RTL core takes it and saturates); a narrower one
        # cannot hold one weight
        if self.membrane_bits is not None and self.membrane_bits < self.weight_bits:
            raise ChipError(f"{chip} field 'membrane_bits' must be at least weight_bits={self.weight_bits!r}, found "
                            f"{self.membrane_bits!r}; widen membrane_bits or narrow weight_bits")
        if self.mesh_x * self.mesh_y * self.cores_per_tile > MAX_CORE_SLOTS:
            raise ChipError(f"{chip} mesh {self.mesh_x}x{self.mesh_y} of {self.cores_per_tile} core(s) per tile has "
                            f"{self.mesh_x * self.mesh_y * self.cores_per_tile:,} core slots, above the "
                            f"{MAX_CORE_SLOTS:,} of the largest chip neurosim models; shrink mesh_x, mesh_y or "
                            f"cores_per_tile")
        if self.mesh_x * self.mesh_y < self.tiles_per_chip:
            raise ChipError(f"{chip} mesh {self.mesh_x}x{self.mesh_y} has fewer routers than its "
                            f"{self.tiles_per_chip} tiles ({self.cores_per_chip} cores / {self.cores_per_tile} per tile); "
                            f"enlarge mesh_x or mesh_y")
        if self.board_x * self.board_y < self.max_chips:
            raise ChipError(f"{chip} board {self.board_x}x{self.board_y} holds fewer than max_chips={self.max_chips!r} "
                            f"chips; enlarge board_x or board_y")
        self._check_events("energy_pj", require_all=True)
        self._check_events("latency_ns", require_all=self.timing == "event_latency")
        for fname, spec in _CONSTANT_FIELDS.items():
            self._check_constant(fname, getattr(self, fname), *spec)
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
        from neurosim.targets.neuromorphic.arithmetic import SCHEMA, ChipArithmetic, default_arithmetic

        if self.arithmetic is None:
            object.__setattr__(self, "arithmetic", default_arithmetic())
        elif not isinstance(self.arithmetic, ChipArithmetic):
            raise ChipError(f"{chip} arithmetic must be a ChipArithmetic, found {type(self.arithmetic).__name__!r}")
        for key, (kind, _unit, _required, _choices) in SCHEMA.items():  # the integer kinds' ranges, used or not
            value = getattr(self.arithmetic, key)
            minimum = 1 if kind == "int" else 0
            if kind in ("int", "int0") and value is not None and not minimum <= value <= MAX_STRUCTURAL:
                raise ChipError(f"{chip} arithmetic.{key} must be an integer in [{minimum}, {MAX_STRUCTURAL:,}], "
                                f"found {value!r}")
        object.__setattr__(self, "sources", sources)
        object.__setattr__(self, "notes", dict(self.notes))
        object.__setattr__(self, "energy_pj", dict(self.energy_pj))
        object.__setattr__(self, "latency_ns", dict(self.latency_ns))
        object.__setattr__(self, "published", dict(self.published))

    def _check_events(self, table: str, require_all: bool) -> None:
        chip = f"chip {self.name!r}"
        entries, unit = getattr(self, table), _EVENT_TABLES[table]
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
            if const.value is not None and (not is_real(const.value) or not 0 <= const.value <= MAX_PER_EVENT):
                raise ChipError(f"{chip} {table}[{event!r}] must be a finite number in [0, {MAX_PER_EVENT:g}] {unit} "
                                f"or unknown, found {const.value!r}; give the constant in {unit}")
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
            bad = (not is_real(const.value) or const.value < 0 or (positive and const.value == 0)
                   or const.value > MAX_PER_EVENT)
            if bad:
                raise ChipError(f"{chip} field {fname!r} must be a finite number {'> 0' if positive else '>= 0'} "
                                f"and <= {MAX_PER_EVENT:g} {unit}, or unknown, found {const.value!r}")

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
        for fname, spec in _FIELDS.items():
            out[fname] = Constant(getattr(self, fname), spec.unit, self.sources[fname], self.notes.get(fname, ""))
        for fname, cspec in _CONSTANT_FIELDS.items():
            const = getattr(self, fname)
            out[fname] = (const if const is not None else
                          Constant(None, cspec.unit, self.sources[fname], self.notes.get(fname, "")))
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


# The schema, read from the field declarations of ChipPreset: scalar fields (name -> _Spec), Constant
# fields (name -> _ConstantSpec), per-event tables (name -> unit), and the keys a preset file may hold.
_FIELDS: dict[str, _Spec] = {f.name: f.metadata["spec"] for f in fields(ChipPreset) if "spec" in f.metadata}
_CONSTANT_FIELDS: dict[str, _ConstantSpec] = {f.name: f.metadata["constant"] for f in fields(ChipPreset)
                                              if "constant" in f.metadata}
_EVENT_TABLES: dict[str, str] = {f.name: f.metadata["events"] for f in fields(ChipPreset) if "events" in f.metadata}
_SOURCED_FIELDS = tuple(_FIELDS) + tuple(_CONSTANT_FIELDS)
_TOP_LEVEL_KEYS = {"name", "description", "reference", *_EVENT_TABLES, "published", "arithmetic", *_SOURCED_FIELDS}


# -- loading ---------------------------------------------------------------------------------------

def _registry() -> dict[str, Path]:
    return {p.stem: p for p in sorted(PRESET_DIR.glob("*.toml"), key=lambda p: p.stem)}


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
            if path.exists():  # a directory, FIFO or device: never opened (a FIFO would block)
                raise ChipError(f"preset file {text!r} is not a regular file (a directory, pipe or device); give the "
                                f"path of a preset TOML or one of {sorted(registry)!r}")
            raise ChipError(f"preset file {text!r} does not exist; give an existing TOML path or one of "
                            f"{sorted(registry)!r}")
        return _load_file(path)
    raise ChipError(f"unknown chip {text!r}; choose one of {sorted(registry)!r} or give a path to a preset TOML")


def _load_file(path: Path) -> ChipPreset:
    where = f"preset file {str(path)!r}"
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ChipError(f"{where} holds {size:,} bytes, more than the {MAX_FILE_BYTES:,} a preset TOML may have; "
                        f"give the right file (a preset is a few kB)")
    data = read_toml(path, where, ChipError)
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
    for fname, spec in _FIELDS.items():
        const = Constant.from_table(where, fname, data.get(fname), unit=spec.unit, kind=spec.kind,
                                    must_know=spec.must_know, choices=spec.choices)
        values[fname] = const.value
        sources[fname] = const.source
        if const.note:
            notes[fname] = const.note
    held: dict[str, Constant | None] = {}
    for fname, cspec in _CONSTANT_FIELDS.items():
        const = Constant.from_table(where, fname, data.get(fname), unit=cspec.unit)
        sources[fname] = const.source
        if const.note:
            notes[fname] = const.note
        held[fname] = const if (not cspec.optional or const.value is not None) else None
    energy = _parse_events(where, "energy_pj", data.get("energy_pj"), required=True)
    latency = _parse_events(where, "latency_ns", data.get("latency_ns", {}), required=values["timing"] == "event_latency")
    published = _parse_published(where, data.get("published", {}))
    from neurosim.targets.neuromorphic.arithmetic import parse_arithmetic

    arithmetic = parse_arithmetic(where, data.get("arithmetic"))
    try:
        return ChipPreset(name=name, description=description, **values, energy_pj=energy, latency_ns=latency,
                          **held, sources=sources, notes=notes, published=published,
                          reference=reference, path=str(path), arithmetic=arithmetic)
    except ChipError as exc:
        raise ChipError(f"{where}: {exc}") from None


def _parse_events(where: str, table: str, entries: Any, required: bool) -> dict[str, Constant]:
    """The per-event constants of the ``[table]`` table, in event order (every event when ``required``)."""
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
    return {e: Constant.from_table(where, f"{table}.{e}", entries[e], unit=_EVENT_TABLES[table])
            for e in EVENTS if e in entries}


def _parse_published(where: str, entries: Any) -> dict[str, Constant]:
    """The ``[published]`` headline figures: named constants in any unit."""
    if not isinstance(entries, dict):
        raise ChipError(f"{where}: [published] must be a table of named constants, found {entries!r}")
    return {k: Constant.from_table(where, f"published.{k}", v) for k, v in entries.items()}
