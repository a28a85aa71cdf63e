"""The sweep spec: one TOML schema for every target, validated once, at load.

A spec names a target, a sampling and the axes::

    [sweep]
    target = "neuromorphic"   # neuromorphic (estimate) | sat (training step) | rtl (synthesis of the core)
    sampling = "grid"         # grid (every combination) | random (seeded draws from the grid) | list ([[points]])
    # samples = 20            # random: how many distinct grid points
    # seed = 1                # random: the seed (required: a sweep is reproducible)

    [axes]
    model = ["digits_mlp.nir", "digits_conv.nir"]   # a list: swept
    preset = ["loihi", "neurosim-core"]
    bits = [4, 8]
    timesteps = 16                                  # a scalar: the same for every point
    chip.lanes = [1, 2, 4]                          # any scalar ChipPreset field (dotted key)

Keys (one declaration per key, :data:`KEYS`; the prefixed ones are read from the target's own
dataclass so a new preset field is sweepable without touching this module):

* neuromorphic: ``model`` (a .nir/.nsim/.pt file relative to the spec or a bundled model of
  ``models/``, or ``zoo:<builder>`` of :mod:`neurosim.workloads`), ``preset`` (name or TOML path),
  ``bits`` (the quantization's weight width: the preset's ``weight_bits``), ``nm`` (prune every
  dense/conv projection whose fan-in allows it to N:M, ``dense`` keeps it), ``chips``,
  ``timesteps``, ``rate``, ``seed``, ``method``, ``arith``, ``contention``, and ``chip.<field>``
  for every scalar field of :class:`~neurosim.targets.neuromorphic.config.ChipPreset`;
* sat: ``workload`` (a shipped network or a model file), ``config`` (name or TOML path), ``nm``,
  ``batch``, ``all_layers``, and ``sat.<field>`` for every number and dataflow switch of
  :class:`~neurosim.targets.sat.config.AcceleratorConfig`;
* rtl: ``fpga``, ``freq_mhz``, and ``rtl.<field>`` for every field of
  :class:`~neurosim.targets.neuromorphic.hdl.config.CoreConfig` (``rtl.neurons`` and ``rtl.axons``
  are required).

Each value is checked for type and range here (a :class:`~neurosim.errors.SweepError` naming the
spec file, the key and the bad value); what only a whole point can check (a preset whose mesh no
longer holds its cores) is checked by the target's own dataclass when the point runs, and a point
that fails is a ``failed`` row of the table, not a failed sweep.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from neurosim.errors import NeurosimError, SweepError

TARGETS = ("neuromorphic", "sat", "rtl")
SAMPLINGS = ("grid", "random", "list")
#: the keys of the ``[sweep]`` table
SWEEP_KEYS = ("name", "target", "sampling", "samples", "seed")
#: the largest number of points one spec may resolve to (a typo such as 1e9 points is refused)
MAX_POINTS = 100_000
MODEL_SUFFIXES = (".nir", ".nsim", ".pt", ".pth")
#: where bundled models live (the repository's ``models/``); a model value not found beside the spec is looked up here
BUNDLED_MODELS = Path(__file__).resolve().parents[2] / "models"
ZOO = ("vgg11", "dvs_gesture_cnn", "sew_resnet18")


class Key(NamedTuple):
    """How one spec key is checked: ``kind`` (below), its ``default`` (None: the target's own), choices/bounds.

    Kinds: ``int`` (an integer in ``lo..hi``), ``real`` (a finite number in ``lo..hi``; ``open_lo``
    excludes ``lo``), ``bool``, ``choice`` (one of ``choices``), ``nm`` (an N:M pattern string),
    ``str`` (a non-empty string), ``model`` / ``preset`` / ``satconfig`` / ``workload`` (a string naming
    a file or a bundled entry, resolved by :func:`resolve_file`)."""

    kind: str
    default: Any = None
    choices: tuple = ()
    lo: float | None = None
    hi: float | None = None
    open_lo: bool = False
    help: str = ""


def _neuromorphic_keys() -> dict[str, Key]:
    from neurosim.targets.neuromorphic import config as chip_config
    from neurosim.targets.neuromorphic.estimate import ARITHS, METHODS

    keys = {
        "model": Key("model", help="model file or bundled model"),
        "preset": Key("preset", help="chip preset name or TOML path"),
        "bits": Key("int", None, lo=2, hi=32, help="quantization weight bits (the preset's weight_bits)"),
        "nm": Key("nm", "dense", help="N:M pruning of the model's projections"),
        "chips": Key("int", None, lo=1, hi=1_000_000, help="chips on the board (default: the preset's)"),
        "timesteps": Key("int", 16, lo=1, hi=1_000_000),
        "rate": Key("real", 0.1, lo=0.0, hi=1.0),
        "seed": Key("int", 0, lo=0, hi=2**63 - 1),
        "method": Key("choice", "cycle", choices=tuple(METHODS)),
        "arith": Key("choice", "chip", choices=tuple(ARITHS)),
        "contention": Key("bool", False),
    }
    for name, spec in chip_config._FIELDS.items():
        if spec.kind == "choice":
            keys[f"chip.{name}"] = Key("choice", None, choices=tuple(spec.choices))
        elif spec.kind in ("int", "int0"):
            keys[f"chip.{name}"] = Key("int", None, lo=1 if spec.kind == "int" else 0, hi=2**62)
        else:
            keys[f"chip.{name}"] = Key("real", None, lo=0.0, hi=1e300, open_lo=True)
    return keys


def _sat_keys() -> dict[str, Key]:
    from neurosim.targets.sat import config as sat_config

    keys = {
        "workload": Key("workload", help="a shipped network or a model file"),
        "config": Key("satconfig", "sat-vcu1525", help="accelerator config name or TOML path"),
        "nm": Key("nm", "2:8"),
        "batch": Key("int", 32, lo=1, hi=1_000_000),
        "all_layers": Key("bool", False),
    }
    for name in sat_config._INT_FIELDS:
        keys[f"sat.{name}"] = Key("int", None, lo=1, hi=2**62)
    for name, meta in sat_config._REAL_FIELDS.items():
        keys[f"sat.{name}"] = Key("real", None, lo=0.0, hi=1e300, open_lo=not meta["zero_ok"])
    for name in sat_config._SWITCHES:
        keys[f"sat.{name}"] = Key("bool", None)
    return keys


def _rtl_keys() -> dict[str, Key]:
    from neurosim.hdl.synth import FPGAS
    from neurosim.targets.neuromorphic.hdl.config import CoreConfig

    keys = {"fpga": Key("choice", "ice40", choices=tuple(sorted(FPGAS))),
            "freq_mhz": Key("real", 48.0, lo=0.0, hi=10_000.0, open_lo=True)}
    for f in dataclasses.fields(CoreConfig):
        kind = "str" if f.type in ("str", str) else "int"
        keys[f"rtl.{f.name}"] = Key(kind, None, lo=0, hi=2**31)
    return keys


_BUILDERS = {"neuromorphic": _neuromorphic_keys, "sat": _sat_keys, "rtl": _rtl_keys}
_CACHE: dict[str, dict[str, Key]] = {}
#: keys a point of the target must have (no default)
REQUIRED = {"neuromorphic": ("model", "preset"), "sat": ("workload",), "rtl": ("rtl.neurons", "rtl.axons")}
#: dotted prefixes: ``chip.lanes`` may be written as a nested table ``[axes.chip]``
PREFIXES = {"neuromorphic": "chip", "sat": "sat", "rtl": "rtl"}


def keys(target: str) -> dict[str, Key]:
    """The schema of ``target``'s keys (read from the target's dataclasses once per process)."""
    if target not in _CACHE:
        _CACHE[target] = _BUILDERS[target]()
    return _CACHE[target]


def _short(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters (a 10 kB value is never printed whole)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_value(where: str, key: str, spec: Key, value: Any) -> Any:
    """``value`` checked against ``spec`` (normalised: an N:M string stays as written); raise SweepError."""
    at = f"{where}: {key}"
    if spec.kind == "int":
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise SweepError(f"{at} must be an integer, found {_short(value)}; write a whole number such as 4")
        if not spec.lo <= value <= spec.hi:
            raise SweepError(f"{at} must be an integer in {spec.lo}..{spec.hi}, found {_short(value)}; "
                             f"choose a value in that range")
        return int(value)
    if spec.kind == "real":
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise SweepError(f"{at} must be a finite number, found {_short(value)}; write a number such as 1.5e8")
        low_ok = value > spec.lo if spec.open_lo else value >= spec.lo
        if not (low_ok and value <= spec.hi):
            raise SweepError(f"{at} must be a number {'>' if spec.open_lo else '>='} {spec.lo} and <= {spec.hi}, "
                             f"found {_short(value)}; choose a value in that range")
        return float(value)
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise SweepError(f"{at} must be true or false, found {_short(value)}")
        return value
    if spec.kind == "choice":
        if value not in spec.choices:
            raise SweepError(f"{at} must be one of {list(spec.choices)!r}, found {_short(value)}")
        return value
    if spec.kind == "nm":
        from neurosim.ir.nm import parse_nm

        if not isinstance(value, str):
            raise SweepError(f"{at} must be an N:M pattern string such as \"2:8\" or \"dense\", found {_short(value)}")
        try:
            parse_nm(value)
        except NeurosimError as exc:
            raise SweepError(f"{at}: {exc}") from None
        return value
    # str and the file-like kinds
    if not isinstance(value, str) or not value.strip():
        raise SweepError(f"{at} must be a non-empty string, found {_short(value)}")
    return value


def resolve_file(kind: str, value: str, base_dir: Path, where: str) -> tuple[str, Path | None]:
    """Where a file-like value lives: ``("file", path)`` or ``("name", None)`` for a bundled entry that
    is not a file (a preset or SAT config by name, a shipped network, a zoo builder). Raises SweepError."""
    if kind == "model":
        if value.startswith("zoo:"):
            if value[4:] not in ZOO:
                raise SweepError(f"{where}: model {value!r} names no zoo builder; choose one of "
                                 f"{['zoo:' + z for z in ZOO]!r}")
            return "name", None
        for cand in (base_dir / value, BUNDLED_MODELS / value, BUNDLED_MODELS / f"{value}.nir"):
            if cand.is_file() and cand.suffix in MODEL_SUFFIXES:
                return "file", cand.resolve()
        bundled = sorted(p.name for p in BUNDLED_MODELS.glob("*") if p.suffix in MODEL_SUFFIXES)
        raise SweepError(f"{where}: model {value!r} is neither a model file ({', '.join(MODEL_SUFFIXES)}) beside the "
                         f"spec nor a bundled model; give a path relative to the spec or one of {bundled!r}")
    if kind == "preset":
        from neurosim.targets.neuromorphic.config import preset_names

        if value in preset_names():
            return "name", None
        cand = base_dir / value
        if cand.is_file():
            return "file", cand.resolve()
        raise SweepError(f"{where}: preset {value!r} is neither a bundled preset nor a TOML file beside the spec; "
                         f"choose one of {preset_names()!r} or give a path")
    if kind == "satconfig":
        from neurosim.targets.sat.config import configs

        if value in configs():
            return "name", None
        cand = base_dir / value
        if cand.is_file():
            return "file", cand.resolve()
        raise SweepError(f"{where}: accelerator config {value!r} is neither bundled nor a TOML file beside the spec; "
                         f"choose one of {configs()!r} or give a path")
    if kind == "workload":
        from neurosim.targets.sat.model.workload import networks

        if value in networks():
            return "name", None
        cand = base_dir / value
        if cand.is_file():
            return "file", cand.resolve()
        raise SweepError(f"{where}: workload {value!r} is neither a shipped network nor a model file beside the spec; "
                         f"choose one of {networks()!r} or give a path")
    return "name", None


@dataclass(frozen=True)
class Axis:
    """One key of the spec and its values (one value: the same for every point)."""

    key: str
    values: tuple

    @property
    def swept(self) -> bool:
        return len(self.values) > 1


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep spec (see the module docstring). ``axes`` keep the spec's order: it is the
    table's column order. ``points`` (list sampling) are tuples of ``(key, value)``; ``base_dir`` is
    where relative file values resolve; ``where`` names the spec in messages."""

    target: str
    axes: tuple[Axis, ...]
    sampling: str = "grid"
    samples: int | None = None
    seed: int | None = None
    points: tuple[tuple[tuple[str, Any], ...], ...] = ()
    name: str = "sweep"
    base_dir: str = "."
    where: str = "sweep spec"

    def __post_init__(self) -> None:
        w = self.where
        if self.target not in TARGETS:
            raise SweepError(f"{w}: [sweep] target must be one of {list(TARGETS)!r}, found {_short(self.target)}")
        if self.sampling not in SAMPLINGS:
            raise SweepError(f"{w}: [sweep] sampling must be one of {list(SAMPLINGS)!r}, found {_short(self.sampling)}")
        if not isinstance(self.name, str) or not self.name.strip():
            raise SweepError(f"{w}: [sweep] name must be a non-empty string, found {_short(self.name)}")
        schema = keys(self.target)
        seen: set[str] = set()
        base = Path(self.base_dir)
        for axis in self.axes:
            if not isinstance(axis, Axis):
                raise SweepError(f"{w}: axes must be Axis records, found {_short(axis)}")
            self._check_key(axis.key, schema)
            if axis.key in seen:
                raise SweepError(f"{w}: axis {axis.key!r} is given twice; give it once")
            seen.add(axis.key)
            if not isinstance(axis.values, tuple) or not axis.values:
                raise SweepError(f"{w}: axis {axis.key!r} has no values, found {_short(axis.values)}; "
                                 f"give at least one value or remove the axis")
            checked = tuple(self._check(axis.key, schema[axis.key], v, base) for v in axis.values)
            if len(set(map(repr, checked))) != len(checked):
                dup = next(v for i, v in enumerate(checked) if repr(v) in map(repr, checked[:i]))
                raise SweepError(f"{w}: axis {axis.key!r} lists the value {_short(dup)} twice; list each value once")
            object.__setattr__(axis, "values", checked)
        if "bits" in seen and "chip.weight_bits" in seen:
            raise SweepError(f"{w}: axes 'bits' and 'chip.weight_bits' both set the weight width; keep one")
        if self.sampling == "random":
            for fname, lo in (("samples", 1), ("seed", 0)):
                v = getattr(self, fname)
                if v is None:
                    raise SweepError(f"{w}: [sweep] sampling 'random' needs {fname} = <integer >= {lo}>"
                                     + ("; a seed makes the sweep reproducible" if fname == "seed" else ""))
                if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                    raise SweepError(f"{w}: [sweep] {fname} must be an integer >= {lo}, found {_short(v)}")
        else:
            for fname in ("samples", "seed"):
                if getattr(self, fname) is not None:
                    raise SweepError(f"{w}: [sweep] {fname} applies to sampling 'random' only, but sampling is "
                                     f"{self.sampling!r}; remove {fname} or set sampling = \"random\"")
        if self.sampling == "list":
            if not self.points:
                raise SweepError(f"{w}: sampling 'list' needs [[points]] tables, found none; add one table per point")
            swept = [a.key for a in self.axes if a.swept]
            if swept:
                raise SweepError(f"{w}: axis {swept[0]!r} lists several values but sampling is 'list'; give each "
                                 f"point's value in [[points]] and keep [axes] to one value per key")
            pts = []
            for i, point in enumerate(self.points):
                if not isinstance(point, tuple) or not point:
                    raise SweepError(f"{w}: points[{i}] must be a non-empty table of key = value, found {_short(point)}")
                fixed = []
                names = set()
                for key, value in point:
                    self._check_key(key, schema, f"points[{i}]")
                    if key in names:
                        raise SweepError(f"{w}: points[{i}] gives {key!r} twice; give it once")
                    names.add(key)
                    fixed.append((key, self._check(key, schema[key], value, base, f"points[{i}].{key}")))
                pts.append(tuple(fixed))
            object.__setattr__(self, "points", tuple(pts))
        elif self.points:
            raise SweepError(f"{w}: [[points]] is for sampling 'list', but sampling is {self.sampling!r}; "
                             f"set sampling = \"list\" or move the values into [axes]")
        given = seen | {k for p in self.points for k, _ in p}
        for req in REQUIRED[self.target]:
            if req not in given:
                raise SweepError(f"{w}: target {self.target!r} needs the axis {req!r}; add {req} = [...] to [axes]")
        n = self.grid_size()
        if self.sampling == "random" and self.samples > n:
            raise SweepError(f"{w}: [sweep] samples = {self.samples!r} exceeds the {n} distinct points of the grid; "
                             f"lower samples or add values")
        count = len(self.points) if self.sampling == "list" else (self.samples if self.sampling == "random" else n)
        if count > MAX_POINTS:
            raise SweepError(f"{w}: the spec resolves to {count} points, more than {MAX_POINTS}; use sampling = "
                             f"\"random\" with samples, or fewer values")

    def _check_key(self, key: Any, schema: dict, at: str = "[axes]") -> None:
        if not isinstance(key, str) or key not in schema:
            near = sorted(k for k in schema if isinstance(key, str) and (k.split(".")[-1] == key.split(".")[-1]))
            hint = f"did you mean {near[0]!r}? " if near else ""
            prefix = PREFIXES[self.target]
            fields = sorted(k for k in schema if "." not in k)
            raise SweepError(f"{self.where}: {at} key {_short(key)} is not an axis of target {self.target!r}; {hint}"
                             f"choose one of {fields!r} or {prefix}.<field> (see docs/sweeps.md)")

    def _check(self, key: str, spec: Key, value: Any, base: Path, at: str | None = None) -> Any:
        at = at or f"axis {key!r}"
        value = check_value(self.where, at, spec, value)
        if spec.kind in ("model", "preset", "satconfig", "workload"):
            resolve_file(spec.kind, value, base, f"{self.where}: {at}")
        return value

    def grid_size(self) -> int:
        n = 1
        for a in self.axes:
            n *= len(a.values)
            if n > 10**12:
                return n
        return n

    def column_keys(self) -> tuple[str, ...]:
        """The point's keys in table order: the [axes] keys as written, then keys only [[points]] give."""
        out = [a.key for a in self.axes]
        for p in self.points:
            out += [k for k, _ in p if k not in out]
        return tuple(out)


def _flatten(table: Any, where: str, what: str, target: str) -> list[tuple[str, Any]]:
    if not isinstance(table, dict):
        raise SweepError(f"{where}: {what} must be a table of key = value, found {_short(table)}")
    prefix = PREFIXES.get(target)
    out: list[tuple[str, Any]] = []
    for key, value in table.items():
        if isinstance(value, dict):
            if key != prefix:
                raise SweepError(f"{where}: {what} key {key!r} holds a table, but only {prefix!r} fields may be "
                                 f"nested ({prefix}.lanes = [...]); give {key} a value or a list")
            out += [(f"{key}.{k}", v) for k, v in value.items()]
            bad = [k for k, v in value.items() if isinstance(v, dict)]
            if bad:
                raise SweepError(f"{where}: {what} key {prefix}.{bad[0]} holds a table; give it a value or a list")
        else:
            out.append((key, value))
    return out


def spec_from_dict(data: Any, *, base_dir: str | os.PathLike = ".", where: str = "sweep spec") -> SweepSpec:
    """A :class:`SweepSpec` from parsed TOML (the one boundary for a spec's structure)."""
    if not isinstance(data, dict):
        raise SweepError(f"{where} must be a table with [sweep] and [axes], found {_short(data)}")
    unknown = sorted(set(data) - {"sweep", "axes", "points"})
    if unknown:
        raise SweepError(f"{where}: unknown table {unknown[0]!r}; a spec holds [sweep], [axes] and [[points]]")
    head = data.get("sweep")
    if not isinstance(head, dict):
        raise SweepError(f"{where}: missing [sweep] table, found {_short(head)}; add [sweep] with target = "
                         f"\"neuromorphic\", \"sat\" or \"rtl\"")
    bad = sorted(set(head) - set(SWEEP_KEYS))
    if bad:
        raise SweepError(f"{where}: [sweep] key {bad[0]!r} is unknown; expected one of {list(SWEEP_KEYS)!r}")
    target = head.get("target")
    if target not in TARGETS:
        raise SweepError(f"{where}: [sweep] target must be one of {list(TARGETS)!r}, found {_short(target)}")
    axes = []
    for key, value in _flatten(data.get("axes", {}), where, "[axes]", target):
        if isinstance(value, list):
            axes.append(Axis(key, tuple(value)))
        else:
            axes.append(Axis(key, (value,)))
    raw_points = data.get("points", [])
    if not isinstance(raw_points, list):
        raise SweepError(f"{where}: points must be an array of tables [[points]], found {_short(raw_points)}")
    points = tuple(tuple(_flatten(p, where, f"points[{i}]", target)) for i, p in enumerate(raw_points))
    for i, p in enumerate(points):
        for k, v in p:
            if isinstance(v, list):
                raise SweepError(f"{where}: points[{i}].{k} is a list, found {_short(v)}; a point takes one value "
                                 f"per key")
    return SweepSpec(target=target, axes=tuple(axes), sampling=head.get("sampling", "list" if points else "grid"),
                     samples=head.get("samples"), seed=head.get("seed"), points=points,
                     name=head.get("name", "sweep"), base_dir=str(base_dir), where=where)


def load_spec(path: str | os.PathLike) -> SweepSpec:
    """The spec TOML at ``path`` (relative values resolve beside it)."""
    from neurosim.constants import read_toml

    p = Path(path)
    where = f"sweep spec {str(p)!r}"
    if not p.is_file():
        raise SweepError(f"{where} does not exist or is not a file; give the path of a sweep TOML")
    size = p.stat().st_size
    if size > 1_000_000:
        raise SweepError(f"{where} is {size} bytes, more than a spec's 1000000; give a spec TOML, not data")
    data = read_toml(p, where, SweepError)
    return spec_from_dict(data, base_dir=p.resolve().parent, where=where)
