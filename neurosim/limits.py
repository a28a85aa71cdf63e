"""Resource limits: sizes checked *before* anything is allocated or run.

A hostile or careless file can declare a billion neurons, a ``.npy`` header can declare 1e12
elements, a command line can ask for 1e11 timesteps or a training batch of 1e8: each would be
allocated or looped over before any other check and take the machine down or run for hours. Every
input boundary calls :func:`check` with the size it is about to commit to; above the limit it raises
:class:`~neurosim.errors.LimitError` naming the thing, the size, the limit and the override.

The limits are generous for real work (a 55 M-parameter spiking transformer fits; see
:data:`DEFAULTS`) and a user with a genuinely larger case raises one with ``--limit NAME=VALUE``
on any command (repeatable) or the ``NEUROSIM_LIMITS`` environment variable
(``NEUROSIM_LIMITS="neurons=1e10,elements=1e11"``); the command line wins.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

from neurosim.errors import LimitError

#: limit name -> (default, what it bounds). Defaults are sized so the largest workloads neurosim
#: ships (issue 16's 55 M-parameter Meta-SpikeFormer at 224 px, 128 px VGG-11) stay well inside.
DEFAULTS: dict[str, tuple[int, str]] = {
    "neurons": (200_000_000, "neurons in one model (after shape inference)"),
    "elements": (2_000_000_000, "elements of one array read from a file or allocated for a model (weights, inputs)"),
    "synapses": (20_000_000_000, "synapses in one model"),
    "timesteps": (10_000_000, "timesteps of one run"),
    "batch": (65_536, "training batch of one SAT study"),
    "file_bytes": (8 * 2**30, "bytes of one model or array file"),
    "depth": (10_000, "nesting depth of a model archive (subgraphs)"),
}

_overrides: dict[str, int] = {}


def _parse_value(name: str, text: str, origin: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise LimitError(f"{origin}: limit {name!r} must be a number like 1e9, found {text!r}") from None
    if not value >= 1 or value != value or value == float("inf"):
        raise LimitError(f"{origin}: limit {name!r} must be a finite number >= 1, found {text!r}")
    return int(value)


def parse(items: list[str] | str, origin: str = "--limit") -> dict[str, int]:
    """``["neurons=1e10", ...]`` (or one comma-separated string) -> ``{"neurons": 10**10}``."""
    if isinstance(items, str):
        items = [s for s in items.split(",") if s.strip()]
    out: dict[str, int] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep:
            raise LimitError(f"{origin}: expected NAME=VALUE, found {item!r}; names: {sorted(DEFAULTS)!r}")
        if name not in DEFAULTS:
            raise LimitError(f"{origin}: unknown limit {name!r}; known limits: {sorted(DEFAULTS)!r}")
        out[name] = _parse_value(name, value.strip(), origin)
    return out


def current(name: str) -> int:
    """The limit in force: ``--limit`` (see :func:`overridden`), else ``NEUROSIM_LIMITS``, else the default."""
    if name not in DEFAULTS:
        raise KeyError(name)
    if name in _overrides:
        return _overrides[name]
    env = os.environ.get("NEUROSIM_LIMITS")
    if env:
        from_env = parse(env, origin="NEUROSIM_LIMITS")
        if name in from_env:
            return from_env[name]
    return DEFAULTS[name][0]


@contextlib.contextmanager
def overridden(values: dict[str, int]) -> Iterator[None]:
    """Apply ``values`` (from :func:`parse`) for the duration of one command."""
    saved = dict(_overrides)
    _overrides.update(values)
    try:
        yield
    finally:
        _overrides.clear()
        _overrides.update(saved)


def _short(value) -> str:
    """``value`` for a message: digits with separators up to 1e15, else ``~1.2e+40`` (or ``~10**5000``
    for integers too large for a float), never thousands of digits."""
    value = int(value)
    if abs(value) < 10**15:
        return f"{value:,}"
    if value.bit_length() < 1000:
        return f"~{float(value):.3g}"
    return f"~10**{len(str(abs(value))) - 1}" if value.bit_length() < 14000 else f"~2**{value.bit_length() - 1}"


def check(name: str, value, where: str) -> None:
    """Raise :class:`LimitError` if ``value`` exceeds limit ``name``; ``where`` names the thing
    (a node, a file, a flag) in the message."""
    limit = current(name)
    if value > limit:
        suggestion = f"{float(value):.3g}" if int(value).bit_length() < 1000 else "a value above this size"
        raise LimitError(
            f"{where} needs {_short(value)} {name}, above neurosim's limit of {limit:,} ({DEFAULTS[name][1]}); "
            f"if the size is real, raise it with --limit {name}={suggestion} (or NEUROSIM_LIMITS), "
            f"else the file or value is wrong"
        )
