"""Hardware constants with their sources, and the one loader of the TOML tables that declare them.

Every target describes its hardware in TOML files in which each constant is a table with ``value``,
``unit``, ``source`` and an optional ``note``::

    [energy_pj.synaptic_op]
    value = 23.6
    unit = "pJ"
    source = "Davies et al., IEEE Micro 38(1) 2018, Table 2"

``source`` names the paper and table, or says how an unpublished number was derived
(``source = "estimate: <how derived>"``). ``value = "unknown"`` marks a constant nobody has published
and ``value = "none"`` one that does not apply; both load as ``None`` (the latter with a note starting
"not applicable"), so a model can exclude and report them instead of guessing.

This module is shared by the targets (chip presets, accelerator configs) so the convention is parsed
and checked in one place. Errors are raised in the calling target's own exception class: each target
subclasses :class:`Constant` and sets :attr:`Constant.error` (``ChipError``, ``SATConfigError``), and
:func:`read_toml` takes the class to raise. Messages begin with ``where``, the file as the caller names it.
"""

from __future__ import annotations

import math
import numbers
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from neurosim.errors import NeurosimError

UNKNOWN = "unknown"
NOT_APPLICABLE = "none"

#: the keys one constant's table may hold
ENTRY_KEYS = frozenset({"value", "unit", "source", "note"})


def is_real(value: Any) -> bool:
    """True for a finite real number (bools excluded: TOML ``true`` is not a quantity)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def fmt(value: Any) -> str:
    """A value as short text: floats in ``%g`` form (``23.6``, ``1e+06``), anything else by ``str``."""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def read_toml(path: str | Path, where: str, error: type[Exception], fix: str = "fix the syntax") -> dict[str, Any]:
    """The parsed TOML file at ``path``; raise ``error`` naming ``where`` if it cannot be read or parsed.

    TOML files are UTF-8 by specification, so a file in another encoding is reported as not valid
    TOML, like a syntax error; ``fix`` ends those messages with the caller's advice.
    """
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{where} is not valid TOML ({exc}); {fix}") from None
    except OSError as exc:
        raise error(f"{where} cannot be read ({exc.strerror}); check the path and permissions") from None


@dataclass(frozen=True)
class Constant:
    """One hardware constant: its value in ``unit`` (None = unknown or not applicable) and where it comes from.

    ``source`` names the paper and table (``"Davies et al., IEEE Micro 38(1) 2018, Table 2"``) or says how
    an estimate was derived (``"estimate: <how derived>"``). A categorical constant (a chip's ``timing``)
    holds a ``str`` value. Subclasses set :attr:`error` to the exception class of their target, which
    every check of the constant and of its TOML table (:meth:`from_table`) raises.
    """

    value: float | None
    unit: str
    source: str
    note: str = ""

    #: the exception class raised on an invalid constant or table
    error: ClassVar[type[Exception]] = NeurosimError

    def __post_init__(self) -> None:
        if not isinstance(self.source, str) or not self.source.strip():
            raise self.error(f"a constant's source must name the paper and table or say 'estimate: <how derived>', "
                             f"found {self.source!r}; add a source")
        if not isinstance(self.unit, str):
            raise self.error(f"a constant's unit must be a string such as 'pJ', found {self.unit!r}")
        if not isinstance(self.note, str):
            raise self.error(f"a constant's note must be a string, found {self.note!r}")
        if self.value is not None and not isinstance(self.value, str) and not is_real(self.value):
            raise self.error(f"a constant's value must be a finite number or None (unknown), found {self.value!r}")

    @property
    def known(self) -> bool:
        """True when the value is known."""
        return self.value is not None

    @property
    def not_applicable(self) -> bool:
        """True for a constant that does not apply to the hardware (declared ``value = "none"``)."""
        return self.value is None and self.note.lower().startswith("not applicable")

    def display(self) -> str:
        """The value as text: the number, ``unknown`` or ``n/a``."""
        if self.value is None:
            return "n/a" if self.not_applicable else UNKNOWN
        return fmt(self.value)

    @classmethod
    def from_table(cls, where: str, key: str, entry: Any, *, unit: str | None = None, kind: str = "real",
                   must_know: bool = False, choices: tuple[str, ...] = (), owner: str = "chip") -> Constant:
        """Parse the ``[key]`` table ``entry`` of the file ``where`` into a constant of this class.

        Checks that it is a table of :data:`ENTRY_KEYS` only, with a source, a string note, the unit
        ``unit`` (``None`` accepts any unit; a ``"choice"`` may omit it) and a value of ``kind``:
        ``"int"``/``"int0"`` an integer, ``"real"``/``"real0"`` a finite number, ``"choice"`` a string
        (one of ``choices``, which the caller checks). ``"unknown"`` and ``"none"`` load as ``None``
        unless ``must_know`` (then every ``owner`` must give the value). Ranges are the caller's to check.
        """
        error = cls.error
        label = f"[{key}]"
        if entry is None:
            raise error(f"{where}: missing {label}; declare it with value, unit and source "
                        f"(value = \"unknown\" when it is not published)")
        if not isinstance(entry, dict):
            raise error(f"{where}: {label} must be a table with value, unit and source, found {entry!r}")
        extra = sorted(set(entry) - ENTRY_KEYS)
        if extra:
            raise error(f"{where}: {label} has unknown key(s) {extra!r}; expected {sorted(ENTRY_KEYS)!r}")
        source = entry.get("source")
        if not isinstance(source, str) or not source.strip():
            raise error(f"{where}: {label} has no source, found {source!r}; add source = \"<paper, table>\" "
                        f"or \"estimate: <how derived>\"")
        note = entry.get("note", "")
        if not isinstance(note, str):
            raise error(f"{where}: {label} note must be a string, found {note!r}")
        given_unit = entry.get("unit", "" if kind == "choice" else None)
        if not isinstance(given_unit, str):
            raise error(f"{where}: {label} has no unit, found {given_unit!r}; add unit = {unit!r}")
        if unit is not None and given_unit != unit:
            raise error(f"{where}: {label} unit must be {unit!r}, found {given_unit!r}; convert the value to {unit!r}")
        if "value" not in entry:
            raise error(f"{where}: {label} has no value; give a number, or \"unknown\" when it is not published")
        value = entry["value"]
        if value in (UNKNOWN, NOT_APPLICABLE):
            if must_know:
                raise error(f"{where}: {label} must be known for every {owner}, found {value!r}; give its value")
            if value == NOT_APPLICABLE and not note.lower().startswith("not applicable"):
                note = "not applicable" + (f"; {note}" if note else "")
            return cls(None, given_unit, source, note)
        if kind in ("int", "int0"):
            ok = isinstance(value, int) and not isinstance(value, bool)
            expected = "an integer"
        elif kind == "choice":
            ok = isinstance(value, str)
            expected = f"one of {choices!r}"
        else:
            ok = is_real(value)
            expected = "a finite number"
        if not ok:
            raise error(f"{where}: {label} value must be {expected}, \"unknown\" or \"none\", found {value!r}")
        return cls(value, given_unit, source, note)
