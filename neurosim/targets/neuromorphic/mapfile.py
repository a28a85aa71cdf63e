"""Mapping files: impose another tool's placement of population slices onto physical cores.

A TOML file lists the physical cores in order, one ``[[core]]`` table each. A core holds one slice::

    [[core]]
    population = "fc1.lif"
    start = 0          # first neuron of the slice, 0-based within the population
    stop = 100         # one past the last

or several (packed) slices::

    [[core]]
    slices = [{population = "fc1.lif", start = 100, stop = 128}, {population = "fc2.lif", start = 0, stop = 10}]

Every spiking population must be covered by its slices exactly once (no gap, no overlap); the
capacity of every core is checked by :func:`neurosim.targets.neuromorphic.partition.partition`
(an error, or a listed violation with ``allow_overcapacity``). See docs/mapping.md.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from neurosim.errors import FormatError

_SLICE_KEYS = {"population", "start", "stop"}


@dataclass(frozen=True)
class CoreSlice:
    """Neurons ``[start, stop)`` (within the population) of ``population`` on physical core ``core``."""

    core: int
    population: str
    start: int
    stop: int


@dataclass(frozen=True)
class MapFile:
    """A parsed, validated mapping file: its slices in file order."""

    path: str
    slices: tuple[CoreSlice, ...]

    @property
    def n_cores(self) -> int:
        return 1 + max((s.core for s in self.slices), default=-1)


#: size of a mapping file: one short table per core; a bigger file is the wrong file, refused unread
MAX_FILE_BYTES = 16 * 2**20


def _error(path, msg):
    return FormatError(f"mapping file {_shown(path, 200)}: {msg}")


def _shown(value, width: int = 80) -> str:
    """``value`` as ``!r``, cut to ``width`` characters (a hostile 10 kB entry is never echoed whole)."""
    text = repr(value)
    return text if len(text) <= width else text[:width] + f"... ({len(text):,} characters)"


def load_mapfile(path: str | os.PathLike, sizes: dict[str, int]) -> MapFile:
    """Read and validate ``path`` against the spiking populations ``sizes`` (name -> neurons).

    The file must be a regular file (a FIFO would block the read) of at most :data:`MAX_FILE_BYTES`,
    in UTF-8 (TOML's encoding); every failure is a :class:`FormatError` naming the file."""
    where = str(path)
    fix = "give the path of a TOML file of [[core]] tables (see docs/mapping.md)"
    try:
        p = Path(path)
        if p.exists() and not p.is_file():
            raise _error(where, f"is not a regular file (a directory, pipe or device); {fix}")
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _error(where, f"holds {size:,} bytes, more than the {MAX_FILE_BYTES:,} a mapping file may have; {fix}")
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: a path with a NUL byte
        if isinstance(exc, (tomllib.TOMLDecodeError, UnicodeDecodeError)):
            raise _error(where, f"is not valid TOML ({exc}); see docs/mapping.md for the format") from None
        raise _error(where, f"cannot be read ({getattr(exc, 'strerror', None) or exc}); {fix}") from None
    return parse_mapfile(doc, sizes, where)


def parse_mapfile(doc: dict, sizes: dict[str, int], where: str = "<mapping>") -> MapFile:
    """Validate an already-parsed mapping document (see :func:`load_mapfile`)."""
    extra = sorted(set(doc) - {"core"})
    if extra:
        raise _error(where, f"unknown top-level key {_shown(extra[0])}; the file holds only [[core]] tables")
    cores = doc.get("core")
    if not isinstance(cores, list) or not cores:
        raise _error(where, "has no [[core]] tables; list one [[core]] per physical core")
    slices: list[CoreSlice] = []
    for k, entry in enumerate(cores):
        if not isinstance(entry, dict):
            raise _error(where, f"core {k} is {_shown(entry)}, not a table; write it as [[core]]")
        if "slices" in entry:
            if set(entry) != {"slices"}:
                raise _error(where, f"core {k} has 'slices' and {_shown(sorted(set(entry) - {'slices'}))}; give either "
                                    f"'slices' or one population/start/stop")
            items = entry["slices"]
            if not isinstance(items, list) or not items:
                raise _error(where, f"core {k}: 'slices' is {_shown(items)}; give a non-empty list of "
                                    f"{{population, start, stop}} tables")
        else:
            items = [entry]
        for item in items:
            slices.append(_slice(where, k, item, sizes))
    by_pop: dict[str, list[CoreSlice]] = {}
    for s in slices:
        by_pop.setdefault(s.population, []).append(s)
    for name, size in sizes.items():
        mine = sorted(by_pop.get(name, []), key=lambda s: s.start)
        if not mine:
            raise _error(where, f"population {name!r} ({size} neurons) is on no core; add [[core]] slices covering "
                                f"0..{size}")
        at = 0
        for s in mine:
            if s.start < at:
                raise _error(where, f"population {name!r}: slice [{s.start}, {s.stop}) on core {s.core} overlaps the "
                                    f"slice ending at {at}; every neuron belongs to exactly one slice")
            if s.start > at:
                raise _error(where, f"population {name!r}: neurons [{at}, {s.start}) are on no core; add a slice "
                                    f"covering them")
            at = s.stop
        if at < size:
            raise _error(where, f"population {name!r}: neurons [{at}, {size}) are on no core; add a slice covering them")
    return MapFile(path=where, slices=tuple(slices))


def _slice(where, k, item, sizes) -> CoreSlice:
    if not isinstance(item, dict):
        raise _error(where, f"core {k}: slice {_shown(item)} is not a table; write {{population, start, stop}}")
    unknown = sorted(set(item) - _SLICE_KEYS)
    if unknown:
        raise _error(where, f"core {k}: unknown key {_shown(unknown[0])}; a slice has population, start and stop")
    missing = sorted(_SLICE_KEYS - set(item))
    if missing:
        raise _error(where, f"core {k}: slice is missing {missing[0]!r}; a slice has population, start and stop")
    name, start, stop = item["population"], item["start"], item["stop"]
    if not isinstance(name, str) or name not in sizes:  # a list or table is unhashable: check the type first
        raise _error(where, f"core {k}: unknown population {_shown(name)}; the spiking populations are "
                            f"{_shown(sorted(sizes), 300)}")
    size = sizes[name]
    for key, v in (("start", start), ("stop", stop)):
        if not isinstance(v, int) or isinstance(v, bool):
            raise _error(where, f"core {k}: {key} of population {name!r} is {_shown(v)}; give an integer neuron index")
    if not 0 <= start < stop <= size:
        raise _error(where, f"core {k}: slice [{start!r}, {stop!r}) of population {name!r} is not within "
                            f"0 <= start < stop <= {size}; give a non-empty range of its {size} neurons")
    return CoreSlice(core=k, population=name, start=start, stop=stop)
