"""Fuzz the hardware descriptions and the numbers of the command line: chip presets, SAT configs, mapping
files and every numeric flag (issue 15).

Presets and SAT configs: every bundled file is parsed, one key path is mutated (a wrong type where a
number or a choice is expected, NaN/inf/negative/zero/huge values, a missing table or entry key, an
unknown key in every table, a wrong unit, ``"unknown"`` where a value must be known) and the document
is written back as TOML by :func:`toml_text` (a writer of our own, so any value TOML holds can be
written); file-level damage (non-UTF-8 bytes, broken syntax, an empty file, a directory, a 10 MB file)
is applied to the text. The legal range of every value comes from the schema *declarations*
(``ChipPreset`` field metadata and its documented maxima, ``arithmetic.SCHEMA``, ``AcceleratorConfig``
metadata), not from the checks: a mutation inside the range that keeps the documented cross-field rules
(mesh >= tiles, board >= chips, membrane wider than weights, lanes <= window, acc >= act + weight) must
exit 0; any other must give one clean error line naming the file, the key and the bad value.

Mapping files: valid mappings of ``models/digits_mlp.nir`` (random slices packed onto random cores)
exit 0; slices out of range, overlapping, gaps, unknown populations, wrong types, unknown/missing keys
and damaged files give one line naming the file.

Numeric flags: every option of ``neurosim.cli.build_parser()`` whose type is one of the numeric types
of :mod:`neurosim.commands` (or int/float) gets hostile values as ``--flag=value`` with a poison
(``--no-such-option``) after it, so no real work starts: an invalid value is an error naming the flag
and the value, a valid one reaches the poison. An independent oracle (:func:`flag_valid`) says which is
which. The cheap commands (``estimate``, ``sat``) also run for real on the extreme values the types
accept (1e11, 2**63, ...): exit 0 or a clean line naming the flag.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import tomllib
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neurosim.targets.neuromorphic.config as chipcfg
import neurosim.targets.sat.config as satcfg
from fuzzing import assert_clean_error, assert_ok, leaf_parsers, run_cli
from neurosim import commands
from neurosim.cli import build_parser
from neurosim.targets.neuromorphic.arithmetic import SCHEMA as ARITH_SCHEMA
from neurosim.targets.neuromorphic.events import EVENTS

ROOT = Path(__file__).resolve().parents[2]
MODEL = str(ROOT / "models" / "digits_mlp.nir")
PRESETS = sorted(chipcfg.PRESET_DIR.glob("*.toml"))
CONFIGS = sorted(satcfg.CONFIG_DIR.glob("*.toml"))
SETTINGS = dict(derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
ENTRY_KEYS = ("value", "unit", "source", "note")
#: populations of models/digits_mlp.nir (name -> neurons), read once from the model itself
MLP_SIZES = {"1": 128, "3": 10}


# -- a TOML writer (any value tomllib can read back) ----------------------------------------------

def _key(k: str) -> str:
    return _string(k)


def _string(s: str) -> str:
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v == math.inf else "-inf" if v == -math.inf else repr(v))
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(v)


def toml_text(doc: dict) -> str:
    """``doc`` as TOML, one top-level key per line (tables inline), so ``tomllib.loads`` gives ``doc`` back."""
    return "".join(f"{_key(k)} = {_value(v)}\n" for k, v in doc.items())


def _doc(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


PRESET_DOCS = {p.stem: _doc(p) for p in PRESETS}
CONFIG_DOCS = {p.stem: _doc(p) for p in CONFIGS}


# -- the schemas, read from their declarations ----------------------------------------------------

def preset_schema(doc: dict) -> dict[tuple[str, ...], tuple]:
    """Key path of every constant table in a preset -> (kind, unit, lo, hi, lo_open, must_know).

    ``kind``: int/int0/real/choice (choices in ``unit``'s place for a choice). From the field metadata of
    ``ChipPreset`` (``_FIELDS``: the documented kinds and bounds; ``_CONSTANT_FIELDS``; the per-event
    tables, [0, MAX_PER_EVENT]) and ``arithmetic.SCHEMA`` (ints without an upper bound)."""
    out = {}
    for name, spec in chipcfg._FIELDS.items():
        if spec.kind == "choice":
            out[(name,)] = ("choice", spec.choices, None, None, False, spec.must_know)
        else:
            lo, hi = spec.bounds or ({"int": (1, chipcfg.MAX_STRUCTURAL), "int0": (0, chipcfg.MAX_STRUCTURAL)}
                                     .get(spec.kind, (0, chipcfg.MAX_REAL)))
            out[(name,)] = (spec.kind, spec.unit, lo, hi, spec.kind == "real" and lo == 0, spec.must_know)
    for name, cspec in chipcfg._CONSTANT_FIELDS.items():
        out[(name,)] = ("real", cspec.unit, 0, chipcfg.MAX_PER_EVENT, cspec.positive, not cspec.optional and False)
    for table, unit in chipcfg._EVENT_TABLES.items():
        for event in doc.get(table, {}):
            out[(table, event)] = ("real", unit, 0, chipcfg.MAX_PER_EVENT, False, False)
    for key, (kind, unit, required, choices) in ARITH_SCHEMA.items():
        if key in doc.get("arithmetic", {}):
            if kind == "choice":
                out[("arithmetic", key)] = ("choice", choices, None, None, False, required)
            else:
                out[("arithmetic", key)] = (kind, unit, None, None, False, required and key != "leak_bits")
    for key in doc.get("published", {}):
        out[("published", key)] = ("real", None, -math.inf, math.inf, False, False)
    return out


def config_schema() -> dict[tuple[str, ...], tuple]:
    """Key path of every constant of a SAT config -> (kind, unit, lo, hi, lo_open, must_know)."""
    out = {}
    for f in satcfg.dataclasses.fields(satcfg.AcceleratorConfig):
        meta = f.metadata
        if meta.get("kind") == "int":
            out[(f.name,)] = ("int", meta["unit"], 1, meta["max"], False, True)
        elif meta.get("kind") == "real":
            lo = max(meta.get("min", 0.0), 0.0)
            out[(f.name,)] = ("real", meta["unit"], lo, meta["max"], lo == 0 and not meta["zero_ok"], True)
    return out


SAT_SCHEMA = config_schema()


def _label(path: tuple[str, ...]) -> str:
    return path[-1]


def _get(doc, path):
    for k in path:
        doc = doc[k]
    return doc


def _in_range(kind, lo, hi, lo_open, v) -> bool:
    if isinstance(v, bool):
        return False
    if kind in ("int", "int0") and not isinstance(v, int):
        return False
    if not isinstance(v, (int, float)) or not math.isfinite(v):
        return False
    if lo is None:
        return v >= (1 if kind == "int" else 0) and v < 2**31
    return (v > lo if lo_open else v >= lo) and v <= hi


# -- value strategies -------------------------------------------------------------------------------

WRONG_TYPES = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30).filter(
        lambda s: s not in ("unknown", "none", "dense", "sparse", "cycles", "event_latency", "shift", "mult", "linear",
                            "floor", "zero", "exact")),
    st.booleans(), st.lists(st.integers(-5, 5), max_size=3), st.just({"a": 1}), st.just({}),
    st.just(dt.datetime(1979, 5, 27, 7, 32)), st.just(dt.date(2020, 1, 1)), st.just(dt.time(7, 32)),
)
HOSTILE_NUMBERS = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, -1, 0, -0.0, 1e308, -1e308, 2**63, -2**63, 2**63 - 1, 5e-324,
                     1.5, 2.0, -1e-300, 2**31, 2**31 - 1, 10**18, 1e11]),
    st.integers(-2**64, 2**64), st.floats(allow_nan=True, allow_infinity=True),
)


def _mentions_value(v) -> str:
    """What an error line must quote of the bad value ``v`` (its ``!r``; short by construction)."""
    return repr(v)


# -- preset mutations -----------------------------------------------------------------------------

@st.composite
def preset_mutation(draw):
    """(preset name, mutated document or raw bytes, expected: "ok" or a tuple of mentions)."""
    name = draw(st.sampled_from(sorted(PRESET_DOCS)), label="preset")
    doc = _copy(PRESET_DOCS[name])
    schema = preset_schema(doc)
    paths = sorted(schema)
    kind_of = draw(st.sampled_from(["type", "number", "missing", "unknown_key", "unit", "must_know", "valid",
                                    "valid", "text"]), label="mutation")
    if kind_of == "type":
        path = draw(st.sampled_from(paths))
        kind = schema[path][0]
        v = draw(WRONG_TYPES if kind != "choice" else st.one_of(WRONG_TYPES, HOSTILE_NUMBERS))
        if kind == "choice" and isinstance(v, str) and v in schema[path][1]:
            v = v + "x"
        if kind in ("int", "int0") and draw(st.booleans()):
            v = draw(st.sampled_from([1.5, 2.0, 1e3, -0.5]))
        _get(doc, path)["value"] = v
        return name, doc, (_label(path), _mentions_value(v))
    if kind_of == "number":
        path = draw(st.sampled_from([p for p in paths if schema[p][0] != "choice"]))
        kind, unit, lo, hi, lo_open, _ = schema[path]
        v = draw(HOSTILE_NUMBERS)
        _get(doc, path)["value"] = v
        if _in_range(kind, lo, hi, lo_open, v):
            # a rule across fields (or the arithmetic's own rules) may still refuse it: exit 0 or a clean error
            return name, doc, ("either-error",) if _crosses(doc, path) or path[0] == "arithmetic" else "ok"
        return name, doc, (_label(path), _mentions_value(v))
    if kind_of == "missing":
        where = draw(st.sampled_from(["table", "entry", "description", "event"]))
        if where == "description":
            del doc["description"]
            return name, doc, ("description",)
        if where == "event" and "energy_pj" in doc:
            event = draw(st.sampled_from(sorted(doc["energy_pj"])))
            del doc["energy_pj"][event]
            return name, doc, ("energy_pj", event)
        path = draw(st.sampled_from([p for p in paths if p[0] not in ("published",)]))
        if where == "table":
            required = path[0] != "arithmetic" or schema[path][5] or path[1] in ("leak_bits",)
            del _get(doc, path[:-1])[path[-1]]
            if len(path) == 1:
                return name, doc, (path[0],)
            if path[0] in ("energy_pj",) or (path[0] == "latency_ns" and _timing(doc) == "event_latency"):
                return name, doc, (path[0], path[1])
            if path[0] == "latency_ns":
                return name, doc, "ok"
            return name, doc, (path[1],) if required else "ok"
        entry = draw(st.sampled_from(["value", "source", "unit", "note"]))
        table = _get(doc, path)
        if entry not in table:
            return name, doc, "ok"
        del table[entry]
        if entry == "note" or (entry == "unit" and schema[path][0] == "choice"):
            return name, doc, "ok"
        return name, doc, (_label(path), entry)
    if kind_of == "unknown_key":
        key = draw(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20))
        where = draw(st.sampled_from(["top", "table", "events", "arithmetic"]))
        if where == "top" and key not in chipcfg._TOP_LEVEL_KEYS:
            doc[key] = draw(st.one_of(st.integers(), st.text(max_size=5), st.just({"value": 1})))
            return name, doc, (repr(key),)
        if where == "events" and key not in EVENTS:
            table = draw(st.sampled_from(["energy_pj", "latency_ns"]))
            doc.setdefault(table, {})[key] = {"value": 1.0, "unit": "pJ", "source": "fuzz"}
            return name, doc, (table, repr(key))
        if where == "arithmetic" and "arithmetic" in doc and key not in ARITH_SCHEMA:
            doc["arithmetic"][key] = {"value": 1, "unit": "bits", "source": "fuzz"}
            return name, doc, ("arithmetic", repr(key))
        path = draw(st.sampled_from(paths))
        if key in ENTRY_KEYS:
            key = key + "_"
        _get(doc, path)[key] = 1
        return name, doc, (_label(path), repr(key))
    if kind_of == "unit":
        path = draw(st.sampled_from([p for p in paths if schema[p][1] is not None and schema[p][0] != "choice"]))
        unit = draw(st.text(max_size=8).filter(lambda u: u != schema[path][1]))
        _get(doc, path)["unit"] = unit
        return name, doc, (_label(path), repr(unit))
    if kind_of == "must_know":
        musts = [p for p in paths if schema[p][5]]
        path = draw(st.sampled_from(musts))
        v = draw(st.sampled_from(["unknown", "none"]))
        _get(doc, path)["value"] = v
        return name, doc, (_label(path), repr(v))
    if kind_of == "text":
        path = draw(st.sampled_from(paths))
        text = draw(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=60).filter(str.strip))
        field = draw(st.sampled_from(["source", "note", "description", "reference"]))
        if field in ("description", "reference"):
            doc[field] = text
        else:
            _get(doc, path)[field] = text
        return name, doc, "ok"
    return name, doc, _valid_change(draw, doc, schema)


def _copy(doc):
    if isinstance(doc, dict):
        return {k: _copy(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_copy(v) for v in doc]
    return doc


def _timing(doc) -> str:
    return doc["timing"]["value"]


def _known(doc, key):
    v = doc.get(key, {}).get("value")
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _crosses(doc, path) -> bool:
    """True when the value at ``path`` takes part in a documented rule across fields (then the verdict of an
    in-range value depends on the others: it must be exit 0 or a clean error, either way)."""
    return path[0] in ("mesh_x", "mesh_y", "cores_per_chip", "cores_per_tile", "max_chips", "board_x", "board_y",
                       "weight_bits", "membrane_bits")


def _valid_change(draw, doc, schema):
    """A value changed inside its documented range, keeping the rules across fields: must exit 0."""
    choice = draw(st.sampled_from(["event", "free_int", "int0", "constant", "clock", "mesh_up", "bits"]))
    if choice == "event":
        table = draw(st.sampled_from([t for t in ("energy_pj", "latency_ns") if doc.get(t)]))
        event = draw(st.sampled_from(sorted(doc[table])))
        v = draw(st.one_of(st.floats(0, chipcfg.MAX_PER_EVENT), st.integers(0, int(chipcfg.MAX_PER_EVENT)),
                           st.just("unknown")))
        doc[table][event]["value"] = v
    elif choice == "free_int":
        key = draw(st.sampled_from(["neurons_per_core", "axons_per_core", "synapse_memory_bytes", "max_fanout_cores",
                                    "lanes"]))
        doc[key]["value"] = draw(st.integers(1, chipcfg.MAX_STRUCTURAL))
    elif choice == "int0":
        key = draw(st.sampled_from(["integrate_pipeline_cycles", "fire_pipeline_cycles", "event_overhead_cycles",
                                    "hop_latency_cycles", "barrier_cycles"]))
        doc[key]["value"] = draw(st.integers(0, chipcfg.MAX_STRUCTURAL))
    elif choice == "constant":
        key = draw(st.sampled_from(["static_power_w", "barrier_ns", "chip_barrier_ns", "timestep_s"]))
        lo = 5e-324 if key == "timestep_s" else 0.0
        doc[key]["value"] = draw(st.floats(lo, chipcfg.MAX_PER_EVENT))
    elif choice == "clock":
        doc["clock_hz"]["value"] = draw(st.floats(chipcfg.MIN_CLOCK_HZ, chipcfg.MAX_REAL))
    elif choice == "mesh_up":
        key = draw(st.sampled_from(["mesh_x", "mesh_y"]))
        slots = doc["mesh_x"]["value"] * doc["mesh_y"]["value"] * doc["cores_per_tile"]["value"]
        grow = chipcfg.MAX_CORE_SLOTS // slots
        doc[key]["value"] = doc[key]["value"] * draw(st.integers(1, max(1, grow)))
    else:
        membrane = _known(doc, "membrane_bits")
        hi = min(chipcfg.WEIGHT_BITS[1], (membrane - 1) if membrane else chipcfg.WEIGHT_BITS[1])
        doc["weight_bits"]["value"] = draw(st.integers(chipcfg.WEIGHT_BITS[0], hi))
    return "ok"


def _verdict(outcome, expected, path: Path, argv):
    if expected == "ok":
        assert_ok(outcome, argv=argv)
    elif expected == "either" and outcome.code == 0:
        assert_ok(outcome, argv=argv)
    elif expected in ("either", ("either-error",)):
        if outcome.code == 0:
            assert_ok(outcome, argv=argv)
        else:  # a rule checked where the config is used (the N:M pattern) names the accelerator, not the file
            assert_clean_error(outcome, argv=argv)
            line = outcome.stderr.strip().splitlines()[-1]
            assert str(path) in line or re.search(r"(chip|accelerator) '", line), (argv, line)
    else:
        assert_clean_error(outcome, str(path), *expected, argv=argv)


def _write(tmp: Path, name: str, doc) -> Path:
    p = tmp / f"{name}.toml"
    p.write_text(toml_text(doc), encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def tmp(tmp_path_factory):
    return tmp_path_factory.mktemp("configs")


def test_toml_writer_round_trips_every_bundled_file(tmp):
    """The writer the fuzzing relies on gives every bundled preset and config back unchanged, and each loads."""
    for stem, doc in {**PRESET_DOCS, **CONFIG_DOCS}.items():
        assert tomllib.loads(toml_text(doc)) == doc, stem
    for stem, doc in PRESET_DOCS.items():
        p = _write(tmp, stem, doc)
        assert_ok(run_cli(["chips", p], kind="preset"), argv=stem)
    for stem, doc in CONFIG_DOCS.items():
        p = _write(tmp, stem, doc)
        assert_ok(run_cli(["sat", "resnet18", "--config", p, "--batch", "1"], kind="sat-config"), argv=stem)


def _preset_case(tmp, case, command):
    name, doc, expected = case
    p = _write(tmp, f"p-{name}", doc)
    argv = (["chips", p] if command == "chips" else
            ["estimate", MODEL, "--chip", p, "--timesteps", "2"])
    outcome = run_cli(argv, kind="preset", timeout_s=60)
    if command == "estimate" and expected == "ok" and outcome.code != 0:
        # a valid preset may still not hold the model (capacity, quantization range): a clean error then
        assert_clean_error(outcome, argv=(argv, doc))
        return
    _verdict(outcome, expected, p, (argv, expected))


@settings(max_examples=200, **SETTINGS)
@given(case=preset_mutation())
def test_preset_mutations_via_chips(tmp, case):
    _preset_case(tmp, case, "chips")


@settings(max_examples=15, **SETTINGS)
@given(case=preset_mutation())
def test_preset_mutations_via_estimate(tmp, case):
    _preset_case(tmp, case, "estimate")


@pytest.mark.slow
@settings(max_examples=2000, **SETTINGS)
@given(case=preset_mutation())
def test_preset_mutations_via_chips_slow(tmp, case):
    _preset_case(tmp, case, "chips")


@pytest.mark.slow
@settings(max_examples=150, **SETTINGS)
@given(case=preset_mutation())
def test_preset_mutations_via_estimate_slow(tmp, case):
    _preset_case(tmp, case, "estimate")


# -- file-level damage (presets, configs, mapping files alike) --------------------------------------

@st.composite
def damaged_file(draw, texts: dict[str, str]):
    """(raw bytes, or a directory / 10 MB marker) of a damaged copy of one of ``texts``; and whether valid."""
    stem = draw(st.sampled_from(sorted(texts)))
    raw = texts[stem].encode()
    how = draw(st.sampled_from(["bytes", "truncate", "syntax", "empty", "directory", "huge_comment", "huge_garbage",
                                "duplicate"]))
    if how == "bytes":
        at = draw(st.integers(0, len(raw)))
        junk = draw(st.binary(min_size=1, max_size=8)) + b"\xff"
        return stem, how, raw[:at] + junk + raw[at:]
    if how == "truncate":
        at = draw(st.integers(0, len(raw) - 1))
        return stem, how, raw[:at]
    if how == "syntax":
        at = draw(st.integers(0, len(raw)))
        bad = draw(st.sampled_from([b"= =\n", b"[[[\n", b'x = "\n', b"[a]\n[a]\n", b"\x00", b"x = 1979-13-99\n"]))
        return stem, how, raw[:at] + b"\n" + bad + raw[at:]
    if how == "duplicate":
        return stem, how, raw + b"\n" + raw
    if how == "huge_comment":
        return stem, how, raw + b"\n#" + b"x" * (10 * 2**20) + b"\n"
    if how == "huge_garbage":
        return stem, how, b"\x00\xff" * (5 * 2**20 + 10)
    return stem, how, None if how == "directory" else b""


def _damage_verdict(tmp, kind, argv_of, texts, case, loader):
    stem, how, raw = case
    p = tmp / f"d-{stem}.toml"
    if p.is_dir():
        p.rmdir()
    if how == "directory":
        if p.exists():
            p.unlink()
        p.mkdir()
    else:
        p.write_bytes(raw)
    argv = argv_of(p)
    outcome = run_cli(argv, kind=kind, timeout_s=60)
    try:  # the oracle: tomllib reads it as UTF-8 TOML equal to the original (exit 0), or other TOML (either)
        verdict = "error" if how == "directory" else ("ok" if loader(raw) else "either")
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        verdict = "error"
    if verdict == "ok" or (verdict == "either" and outcome.code == 0):
        assert_ok(outcome, argv=argv)
    else:
        assert_clean_error(outcome, str(p), argv=(argv, how))
    if how == "directory":
        p.rmdir()


def _same_doc(original: dict):
    def check(raw: bytes) -> bool:
        return tomllib.loads(raw.decode("utf-8")) == original
    return check


PRESET_TEXTS = {p.stem: p.read_text(encoding="utf-8") for p in PRESETS}
CONFIG_TEXTS = {p.stem: p.read_text(encoding="utf-8") for p in CONFIGS}


@settings(max_examples=40, **SETTINGS)
@given(case=damaged_file(PRESET_TEXTS))
def test_damaged_preset_files(tmp, case):
    _damage_verdict(tmp, "preset", lambda p: ["chips", p], PRESET_TEXTS, case, _same_doc(PRESET_DOCS[case[0]]))


@settings(max_examples=25, **SETTINGS)
@given(case=damaged_file(CONFIG_TEXTS))
def test_damaged_config_files(tmp, case):
    _damage_verdict(tmp, "sat-config", lambda p: ["sat", "resnet18", "--config", p, "--batch", "1"], CONFIG_TEXTS,
                    case, _same_doc(CONFIG_DOCS[case[0]]))


@pytest.mark.slow
@settings(max_examples=400, **SETTINGS)
@given(case=damaged_file(PRESET_TEXTS))
def test_damaged_preset_files_slow(tmp, case):
    _damage_verdict(tmp, "preset", lambda p: ["chips", p], PRESET_TEXTS, case, _same_doc(PRESET_DOCS[case[0]]))


def test_oversized_preset_is_refused_unread(tmp):
    """A preset over MAX_FILE_BYTES is refused by size before it is read (a hostile 1 GB TOML would take minutes)."""
    p = tmp / "big.toml"
    with open(p, "wb") as fh:
        fh.truncate(chipcfg.MAX_FILE_BYTES + 1)
    outcome = run_cli(["chips", p], kind="preset")
    assert_clean_error(outcome, str(p), f"{chipcfg.MAX_FILE_BYTES + 1:,} bytes")
    line = outcome.stderr.strip().splitlines()[-1].split("error: ", 1)[1]
    assert re.match(rf"^preset file {re.escape(repr(str(p)))} holds 16,777,217 bytes, more than the 16,777,216 a "
                    r"preset TOML may have; give the right file \(a preset is a few kB\)$", line), line


def test_directory_preset_and_config_are_named_as_directories(tmp):
    d = tmp / "dir.toml"
    d.mkdir(exist_ok=True)
    for argv, pattern in (
            (["chips", d], rf"^preset file {re.escape(repr(str(d)))} is not a regular file \(a directory, pipe or "
                           r"device\); give the path of a preset TOML or one of \["),
            (["sat", "resnet18", "--config", d], rf"^accelerator config {re.escape(repr(str(d)))} is not a regular "
                                                 r"file \(a directory, pipe or device\); give the path of a config TOML$")):
        outcome = run_cli(argv, kind="preset")
        assert_clean_error(outcome, str(d))
        line = outcome.stderr.strip().splitlines()[-1].split("error: ", 1)[1]
        assert re.match(pattern, line), line


def test_preset_bits_outside_the_quantizer_are_refused_by_the_preset(tmp):
    """weight_bits = 64 used to load and then fail inside quantize without naming the file: now the preset says."""
    doc = _copy(PRESET_DOCS["loihi"])
    doc["weight_bits"]["value"] = 64
    p = _write(tmp, "bits64", doc)
    outcome = run_cli(["estimate", MODEL, "--chip", p, "--timesteps", "2"], kind="preset")
    assert_clean_error(outcome, str(p), "'weight_bits'", "64")
    line = outcome.stderr.strip().splitlines()[-1].split("error: ", 1)[1]
    assert re.match(rf"^preset file {re.escape(repr(str(p)))}: chip 'bits64' field 'weight_bits' must be an integer "
                    r"in \[2, 32\], found 64$", line), line
    doc["weight_bits"]["value"] = 25  # membrane_bits is 24: narrower than one weight
    p = _write(tmp, "bits25", doc)
    outcome = run_cli(["chips", p], kind="preset")
    line = outcome.stderr.strip().splitlines()[-1].split("error: ", 1)[1]
    assert re.match(r"^preset file '.*': chip 'bits25' field 'membrane_bits' must be at least weight_bits=25, "
                    r"found 24; widen membrane_bits or narrow weight_bits$", line), line


def test_preset_mesh_too_large_is_refused_not_hung(tmp):
    """A 2**31 x 8 mesh used to hang the placement (it walks every router slot): refused by the preset now."""
    doc = _copy(PRESET_DOCS["generic-45nm"])
    doc["mesh_x"]["value"] = 2**16
    p = _write(tmp, "mesh", doc)
    outcome = run_cli(["estimate", MODEL, "--chip", p, "--timesteps", "2"], kind="preset", timeout_s=30)
    line = outcome.stderr.strip().splitlines()[-1].split("error: ", 1)[1]
    assert re.match(r"^preset file '.*': chip 'mesh' mesh 65536x8 of 1 core\(s\) per tile has 524,288 core "
                    r"slots, above the 65,536 of the largest chip neurosim models; shrink mesh_x, mesh_y or "
                    r"cores_per_tile$", line), line


def test_preset_clock_below_one_hz_is_refused(tmp):
    doc = _copy(PRESET_DOCS["generic-45nm"])
    doc["clock_hz"]["value"] = 5e-324
    p = _write(tmp, "clock", doc)
    outcome = run_cli(["estimate", MODEL, "--chip", p, "--timesteps", "2"], kind="preset")
    line = outcome.stderr.strip().splitlines()[-1].split("error: ", 1)[1]
    assert re.match(r"^preset file '.*': chip 'clock' field 'clock_hz' must be a finite number in "
                    r"\[1, 1e\+12\], found 5e-324$", line), line


# -- SAT configs ---------------------------------------------------------------------------------------

@st.composite
def config_mutation(draw):
    name = draw(st.sampled_from(sorted(CONFIG_DOCS)))
    doc = _copy(CONFIG_DOCS[name])
    paths = sorted(SAT_SCHEMA)
    how = draw(st.sampled_from(["type", "number", "missing", "unknown_key", "unit", "must_know", "patterns",
                                "dataflow", "valid", "valid"]))
    if how == "type":
        path = draw(st.sampled_from(paths))
        v = draw(WRONG_TYPES)
        if SAT_SCHEMA[path][0] == "int" and draw(st.booleans()):
            v = draw(st.sampled_from([1.5, 2.0, 1e3]))
        _get(doc, path)["value"] = v
        return name, doc, (_label(path), repr(v))
    if how == "number":
        path = draw(st.sampled_from(paths))
        kind, unit, lo, hi, lo_open, _ = SAT_SCHEMA[path]
        v = draw(HOSTILE_NUMBERS)
        _get(doc, path)["value"] = v
        if _in_range(kind, lo, hi, lo_open, v):
            return name, doc, ("either-error",) if path[0] in ("lanes", "window", "act_bits", "weight_bits",
                                                               "acc_bits") else "ok"
        return name, doc, (_label(path), repr(v))
    if how == "missing":
        path = draw(st.sampled_from(paths + [("patterns",)]))
        if draw(st.booleans()):
            del doc[path[0]]
            return name, doc, (path[0],)
        entry = draw(st.sampled_from(["value", "source", "unit"]))
        del doc[path[0]][entry]
        return name, doc, (path[0],)
    if how == "unknown_key":
        key = draw(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20))
        where = draw(st.sampled_from(["top", "table", "dataflow", "patterns"]))
        if where == "top" and key not in doc and key not in ("reference",):
            doc[key] = 1
            return name, doc, (repr(key),)
        if where == "dataflow" and key not in satcfg._SWITCHES:
            doc.setdefault("dataflow", {})[key] = True
            return name, doc, ("dataflow", repr(key))
        table = "patterns" if where == "patterns" else draw(st.sampled_from(paths))[0]
        if key in ENTRY_KEYS:
            key += "_"
        doc[table][key] = 1
        return name, doc, (table, repr(key))
    if how == "unit":
        path = draw(st.sampled_from(paths))
        unit = draw(st.text(max_size=8).filter(lambda u: u != SAT_SCHEMA[path][1]))
        _get(doc, path)["unit"] = unit
        return name, doc, (_label(path), repr(unit))
    if how == "must_know":
        path = draw(st.sampled_from(paths))
        v = draw(st.sampled_from(["unknown", "none"]))
        _get(doc, path)["value"] = v
        return name, doc, (_label(path), repr(v))
    if how == "patterns":
        v = draw(st.one_of(st.lists(st.one_of(st.text(max_size=6), st.integers(-3, 9), st.booleans()), max_size=3),
                           WRONG_TYPES))
        doc["patterns"]["value"] = v
        return name, doc, ("either-error",) if _patterns_maybe_ok(v) else ("patterns",)
    if how == "dataflow":
        switch = draw(st.sampled_from(satcfg._SWITCHES))
        v = draw(st.one_of(st.booleans(), WRONG_TYPES, HOSTILE_NUMBERS))
        doc.setdefault("dataflow", {})[switch] = v
        return name, doc, "ok" if isinstance(v, bool) else (switch, repr(v))
    # valid: a value inside its declared range, the rules across fields kept
    path = draw(st.sampled_from([p for p in paths if p[0] not in ("lanes", "window", "act_bits", "weight_bits",
                                                                    "acc_bits")] + [("acc_bits",)]))
    kind, unit, lo, hi, lo_open, _ = SAT_SCHEMA[path]
    if path == ("acc_bits",):
        lo = doc["act_bits"]["value"] + doc["weight_bits"]["value"]
    if kind == "int":
        v = draw(st.integers(lo, hi))
    else:
        v = draw(st.floats(lo, hi, exclude_min=lo_open))
    doc[path[0]]["value"] = v
    return name, doc, "ok"


def _patterns_maybe_ok(v) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _config_case(tmp, case):
    name, doc, expected = case
    p = _write(tmp, f"c-{name}", doc)
    argv = ["sat", "resnet18", "--config", p, "--batch", "1"]
    outcome = run_cli(argv, kind="sat-config", timeout_s=60)
    _verdict(outcome, expected, p, (argv, expected))
    if outcome.code == 0:
        assert not re.search(r"\b(nan|inf)\b", outcome.stdout), outcome.stdout[-2000:]


@settings(max_examples=120, **SETTINGS)
@given(case=config_mutation())
def test_sat_config_mutations(tmp, case):
    _config_case(tmp, case)


@pytest.mark.slow
@settings(max_examples=1200, **SETTINGS)
@given(case=config_mutation())
def test_sat_config_mutations_slow(tmp, case):
    _config_case(tmp, case)


def test_sat_config_errors_name_the_file(tmp):
    """Checks across fields and switches used to name only the accelerator, not the file that holds the error."""
    doc = _copy(CONFIG_DOCS["sat-vcu1525"])
    doc["dataflow"]["interleave"] = "yes"
    p = _write(tmp, "flow", doc)
    outcome = run_cli(["sat", "resnet18", "--config", p], kind="sat-config")
    line = outcome.stderr.strip().splitlines()[-1].split("error: ", 1)[1]
    assert re.match(rf"^{re.escape(str(p))}: accelerator 'sat-vcu1525': dataflow\.interleave must be true or false, "
                    r"found 'yes'$", line), line


def test_sat_config_tiny_clock_is_refused_not_an_overflow(tmp):
    """clock_hz = 5e-324 used to reach an OverflowError (internal error): the range starts at 1 Hz."""
    doc = _copy(CONFIG_DOCS["sat-vcu1525"])
    doc["clock_hz"]["value"] = 5e-324
    p = _write(tmp, "clock", doc)
    outcome = run_cli(["sat", "resnet18", "--config", p, "--batch", "1"], kind="sat-config")
    line = outcome.stderr.strip().splitlines()[-1].split("error: ", 1)[1]
    assert re.match(rf"^{re.escape(str(p))}: accelerator 'sat-vcu1525': clock_hz must be in \[1, 1e\+11\] \(Hz\), "
                    r"found 5e-324; fix the config file$", line), line


def test_sat_config_without_patterns_says_run_dense(tmp):
    doc = _copy(CONFIG_DOCS["sat-vcu1525"])
    doc["patterns"]["value"] = []
    p = _write(tmp, "nopat", doc)
    outcome = run_cli(["sat", "resnet18", "--config", p, "--batch", "1"], kind="sat-config")
    line = outcome.stderr.strip().splitlines()[-1].split("error: ", 1)[1]
    assert re.match(r"^accelerator 'sat-vcu1525' lists no sparse N:M pattern, so it cannot run 2:8; run it dense "
                    r"\(--nm dense\) or add the pattern to the config's patterns$", line), line
    assert_ok(run_cli(["sat", "resnet18", "--config", p, "--batch", "1", "--nm", "dense"], kind="sat-config"))
    del doc["patterns"]["source"]
    p = _write(tmp, "nopatsrc", doc)
    outcome = run_cli(["sat", "resnet18", "--config", p, "--batch", "1"], kind="sat-config")
    line = outcome.stderr.strip().splitlines()[-1].split("error: ", 1)[1]
    assert re.match(rf"^{re.escape(str(p))}: \[patterns\] has no source, found None; add source = ", line), line


# -- mapping files ------------------------------------------------------------------------------------

@st.composite
def valid_mapping(draw):
    """A valid mapping of digits_mlp: each population cut into random slices, slices packed onto random cores."""
    slices = []
    for pop, size in MLP_SIZES.items():
        cuts = sorted(draw(st.sets(st.integers(1, size - 1), max_size=4)))
        bounds = [0, *cuts, size]
        slices += [{"population": pop, "start": a, "stop": b} for a, b in zip(bounds, bounds[1:])]
    order = draw(st.permutations(slices))
    cores, i = [], 0
    while i < len(order):
        n = draw(st.integers(1, 3))
        group = list(order[i:i + n])
        i += n
        cores.append(dict(group[0]) if len(group) == 1 and draw(st.booleans()) else {"slices": group})
    return {"core": cores}


@st.composite
def mapping_case(draw):
    doc = draw(valid_mapping())
    how = draw(st.sampled_from(["valid", "range", "overlap", "gap", "population", "type", "unknown", "missing",
                                "not_table", "both", "empty_slices", "top", "no_core"]))
    cores = doc["core"]
    flat = [(c, s) for c in cores for s in (c["slices"] if "slices" in c else [c])]
    core, sl = draw(st.sampled_from(flat))
    if how == "valid":
        return doc, "ok"
    if how == "range":
        key = draw(st.sampled_from(["start", "stop"]))
        v = draw(st.sampled_from([-1, -2**63, 2**63, 10**6, MLP_SIZES[sl["population"]] + 1]))
        sl[key] = v
        return doc, (repr(v),)
    if how == "overlap":
        size = MLP_SIZES[sl["population"]]
        cores.append({"population": sl["population"], "start": 0, "stop": draw(st.integers(1, size))})
        return doc, (repr(sl["population"]),)
    if how == "gap":  # drop one slice: its neurons are on no core
        if "slices" in core:
            core["slices"].remove(sl)
        if "slices" not in core or not core["slices"]:
            cores.remove(core)
        return doc, (repr(sl["population"]),) if cores else ("[[core]]",)
    if how == "population":
        v = draw(st.one_of(st.text(max_size=8).filter(lambda s: s not in MLP_SIZES), st.integers(), st.booleans(),
                           st.lists(st.integers(), max_size=2), st.just({"a": 1})))
        sl["population"] = v
        return doc, ("population",)
    if how == "type":
        key = draw(st.sampled_from(["start", "stop"]))
        v = draw(WRONG_TYPES.filter(lambda x: not isinstance(x, (dict,))) | st.sampled_from([1.0, 0.5, math.nan]))
        sl[key] = v
        return doc, (key, repr(v))
    if how == "unknown":
        key = draw(st.text(min_size=1, max_size=10).filter(lambda k: k not in ("population", "start", "stop", "slices")))
        sl[key] = 1
        return doc, (repr(key),)
    if how == "missing":
        key = draw(st.sampled_from(["population", "start", "stop"]))
        del sl[key]
        return doc, (repr(key),)
    if how == "not_table":
        cores.append(draw(st.sampled_from([1, "x", [1, 2], True])))
        return doc, ("not a table",)
    if how == "both":
        cores.append({"slices": [dict(sl)], "population": sl["population"]})
        return doc, ("'slices'",)
    if how == "empty_slices":
        cores.append({"slices": draw(st.sampled_from([[], "x", 3, {}]))})
        return doc, ("'slices'",)
    if how == "top":
        key = draw(st.text(min_size=1, max_size=10).filter(lambda k: k != "core"))
        doc[key] = 1
        return doc, (repr(key),)
    return {}, ("[[core]]",)


def _mapping_case(tmp, case):
    doc, expected = case
    p = tmp / "map.toml"
    p.write_text(toml_text(doc), encoding="utf-8")
    argv = ["estimate", MODEL, "--chip", "loihi", "--timesteps", "2", "--mapping", p]
    outcome = run_cli(argv, kind="mapping", timeout_s=60)
    if expected == "ok":
        assert_ok(outcome, argv=(argv, doc))
    else:
        assert_clean_error(outcome, f"mapping file {str(p)!r}", *expected, argv=(argv, doc))


@settings(max_examples=35, **SETTINGS)
@given(case=mapping_case())
def test_mapping_files(tmp, case):
    _mapping_case(tmp, case)


@pytest.mark.slow
@settings(max_examples=350, **SETTINGS)
@given(case=mapping_case())
def test_mapping_files_slow(tmp, case):
    _mapping_case(tmp, case)


@pytest.mark.parametrize("how", ["non_utf8", "syntax", "empty", "directory", "huge"])
def test_damaged_mapping_files(tmp, how):
    p = tmp / f"m-{how}.toml"
    if how == "directory":
        p.mkdir(exist_ok=True)
    elif how == "huge":
        with open(p, "wb") as fh:
            fh.truncate(17 * 2**20)
    else:
        p.write_bytes({"non_utf8": b'[[core]]\npopulation = "\xff"\n', "syntax": b"[[core]\n", "empty": b""}[how])
    argv = ["estimate", MODEL, "--chip", "loihi", "--timesteps", "2", "--mapping", p]
    outcome = run_cli(argv, kind="mapping")
    assert_clean_error(outcome, f"mapping file {str(p)!r}", argv=argv)
    line = outcome.stderr.strip().splitlines()[-1].split("error: ", 1)[1]
    expected = {"non_utf8": r"is not valid TOML \('utf-8' codec can't decode byte 0xff",
                "syntax": r"is not valid TOML \(", "empty": r"has no \[\[core\]\] tables; list one \[\[core\]\] per",
                "directory": r"is not a regular file \(a directory, pipe or device\); give the path of a TOML file",
                "huge": r"holds 17,825,792 bytes, more than the 16,777,216 a mapping file may have"}[how]
    assert re.match(rf"^mapping file {re.escape(repr(str(p)))}: {expected}", line), line


def test_mapping_population_of_a_wrong_type_is_named():
    """``population = [1]`` used to raise TypeError (unhashable list) out of the mapping check."""
    from neurosim.errors import FormatError
    from neurosim.targets.neuromorphic.mapfile import parse_mapfile

    with pytest.raises(FormatError, match=r"^mapping file '<mapping>': core 0: unknown population \[1\]; the spiking "
                                          r"populations are \['1', '3'\]$"):
        parse_mapfile({"core": [{"population": [1], "start": 0, "stop": 1}]}, MLP_SIZES)


# -- every numeric flag ----------------------------------------------------------------------------------

NUMERIC_TYPES = {commands.positive_int, commands.nonneg_int, commands.seed_arg, commands.positive_float,
                 commands.rate_arg, commands.shape_arg, commands.nm_arg, int, float}


def _numeric_flags():
    out = []
    for path, parser in leaf_parsers(build_parser()):
        for a in parser._actions:
            if a.option_strings and (a.type in NUMERIC_TYPES or getattr(a.type, "__name__", "").startswith("int_in_")):
                out.append((path, a.option_strings[-1], a.type))
    return out


FLAGS = _numeric_flags()


def _number(text: str):
    """The exact value ``text`` spells as a number (int/float syntax, scientific notation), else None."""
    try:
        return Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return None


def flag_valid(kind, text: str) -> bool:
    """The oracle: does the documented contract of ``kind`` accept ``text``? (Integers up to 30 digits.)"""
    if kind is commands.shape_arg:
        parts = [p.strip() for p in text.replace("x", ",").split(",") if p.strip()]
        return (0 < len(parts) <= 8 and all(re.fullmatch(r"\+?\d{1,31}", p) for p in parts)
                and all(int(p) > 0 for p in parts))
    if kind is commands.nm_arg:
        if text.strip().lower() == "dense":
            return True
        m = re.fullmatch(r"\s*([+-]?[0-9]+)\s*:\s*([+-]?[0-9]+)\s*", text)
        return bool(m) and 1 <= int(m.group(1)) <= int(m.group(2))
    d = _number(text)
    if d is None or not d.is_finite():
        return False
    bounded = re.fullmatch(r"int_in_(-?\d+)_(-?\d+)", getattr(kind, "__name__", ""))
    if bounded:  # commands.int_in(low, high)
        return (d == d.to_integral_value() and len(text.strip()) <= 40
                and int(bounded.group(1)) <= d <= int(bounded.group(2)))
    if kind in (commands.positive_int, commands.nonneg_int, commands.seed_arg, int):
        if d != d.to_integral_value() or d.copy_abs() >= Decimal(10) ** 31 or len(text.strip()) > 40:  # copy_abs: exact
            return False
        return {commands.positive_int: d >= 1, commands.nonneg_int: d >= 0}.get(kind, True)
    f = float(d)
    if kind is commands.rate_arg:
        return 0 <= f <= 1
    return math.isfinite(f) and f > 0


FLAG_VALUES = st.one_of(
    st.sampled_from(["-1", "0", "1", "-5", "1e11", "1e309", "-1e309", "nan", "NaN", "inf", "-inf", "", " ", "1.5",
                     "2.0", "1e3", "0.5", "1e-300", "128.5", "2:8", "8:2", "0:4", "dense", "1,8,8", "0,8", "8x8",
                     "1" * 5000, "9" * 31, "é", "中文", "٣", "\t1\n", "1_000", "+3", "0x10", "1e30", str(2**63),
                     str(-2**63), "1:100000000000000", ",,", "1,2,3,4,5,6,7,8,9"]),
    st.integers(-2**70, 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12),
)


def _flag_case(path, flag, kind, value):
    argv = [*path, f"{flag}={value}", "--no-such-option"]  # the poison: no real work starts
    outcome = run_cli(argv, kind="cli-flag", timeout_s=30)
    shown = commands._shown(value)
    if flag_valid(kind, value):  # the value passes; the poison (or a missing positional) is what is refused
        assert_clean_error(outcome, argv=argv)
        assert f"argument {flag}" not in outcome.stderr.splitlines()[-1], (argv, outcome.stderr)
    else:
        assert_clean_error(outcome, f"argument {flag}", argv=argv)
        line = outcome.stderr.strip().splitlines()[-1]
        assert shown in line or kind is commands.nm_arg, (argv, line)


@settings(max_examples=300, **SETTINGS)
@given(flag=st.sampled_from(FLAGS), value=FLAG_VALUES)
def test_every_numeric_flag(flag, value):
    _flag_case(*flag, value)


@pytest.mark.slow
@settings(max_examples=3000, **SETTINGS)
@given(flag=st.sampled_from(FLAGS), value=FLAG_VALUES)
def test_every_numeric_flag_slow(flag, value):
    _flag_case(*flag, value)


def test_every_numeric_flag_is_fuzzed():
    """The introspection finds the numeric flags of every command (a new one is fuzzed without a test edit)."""
    found = {(" ".join(p), f) for p, f, _ in FLAGS}
    assert {("estimate", "--timesteps"), ("estimate", "--chips"), ("sat study", "--batch"), ("bench", "--neurons"),
            ("sat verify", "--seed"), ("run", "--dt"), ("metrics", "--rate")} <= found, found
    assert len(FLAGS) >= 60, len(FLAGS)


#: values the types accept that are still far out of any real run: each must exit 0 or name its flag
EXTREME = ["1", "2", "1e11", str(2**63), "1e30", str(10**29)]
REAL_RUNS = [(("estimate", MODEL, "--chip", "generic-45nm", "--timesteps", "2"), f, v)
             for f in ("--timesteps", "--seed", "--chips", "--neurons-per-core", "--rate", "--dt")
             for v in (EXTREME if f != "--rate" else ["0", "1", "1e-300"]) if not (f == "--dt" and v in ("1", "2"))
             if not (f == "--timesteps" and v == "2")] + \
            [(("sat", "resnet18", "--batch", "1"), f, v) for f in ("--batch", "--top", "--nm", "--input-shape")
             for v in {"--batch": EXTREME[2:], "--top": ["0", *EXTREME[2:]],
                       "--nm": ["1:100000000000000", "1:1", "dense", "4:16"],
                       "--input-shape": ["3,1,1", "1", "3,100000,100000", "1,1,1,1,1,1,1,1"]}[f]]


@pytest.mark.parametrize("base, flag, value", REAL_RUNS, ids=[f"{b[0]}{f}={v}" for b, f, v in REAL_RUNS])
def test_extreme_accepted_values_run_or_name_their_flag(base, flag, value):
    argv = [*base, f"{flag}={value}"]
    outcome = run_cli(argv, kind="cli-flag-run", timeout_s=60)
    if outcome.code == 0:
        assert_ok(outcome, argv=argv)
        return
    assert_clean_error(outcome, argv=argv)
    if _number(value) is not None and _number(value) >= Decimal("1e11"):
        line = outcome.stderr.strip().splitlines()[-1]
        name = flag.lstrip("-")
        assert flag in line or re.search(rf"\b{re.escape(name)}\b", line), (argv, line)
