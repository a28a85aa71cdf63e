"""The native model format: one ``.nsim`` file, a zip holding ``graph.json`` and ``arrays.npz``.

``graph.json`` holds the structure, every scalar field and the import semantics; arrays live in
``arrays.npz`` under ``<node>/<field>`` and are referenced from the JSON as ``{"$array": key}``.
The format is versioned (:data:`FORMAT_VERSION`); loading rejects newer versions with a clear
error. Saving and loading round-trip exactly: ``load(save(g)).equals(g)``.

Serialisation is generic over the dataclass fields of the node types in
:data:`~neurosim.ir.nodes.NODE_TYPES`: adding a node type needs no change here.

**Loading is the validation boundary of this format** (a file may be truncated, corrupted or
hand-crafted). Before anything is allocated: the file's size is checked against the ``file_bytes``
limit, each zip member's declared size too, and each array's ``.npy`` header is read first (dtype
must be a real integer or float type; element count within the ``elements`` limit) before its data.
Then ``graph.json`` is checked against the schema declared once below (:func:`field_kind`, derived
from the node dataclasses' annotations): every key known, every field present (except the
:data:`OPTIONAL_FIELDS`), every value of its declared JSON type (int, finite number, string, bool,
``{"$tuple": [...]}`` of ints, ``{"$array": key}``, a tagged fixed-point format), node names unique.
The schema has a fixed depth (no subgraphs), so a deeper value is refused where it appears; the
JSON parser's own recursion on a deeply nested document is caught. Errors are
:class:`~neurosim.errors.FormatError` naming the file and the JSON path of the entry
(``nodes[3].fields.threshold``); the node constructors then check values (IRError subclasses,
prefixed with the file).
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import tokenize
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from neurosim import limits
from neurosim.errors import FormatError, IRError, LimitError
from neurosim.fileio import atomic_path
from neurosim.ir.fixedpoint import FixedPoint
from neurosim.ir.graph import Graph, Semantics
from neurosim.ir.nodes import NODE_TYPES, NeuronFixedPoint, Node
from neurosim.ir.nodes.base import REAL_KINDS, node_context, short_repr

FORMAT = "neurosim-ir"
FORMAT_VERSION = 1
SUFFIX = ".nsim"

#: Dataclass-valued fields that may appear inside nodes, by tag.
_VALUE_TYPES: dict[str, type] = {"FixedPoint": FixedPoint, "NeuronFixedPoint": NeuronFixedPoint}

#: Fields a file may leave out (they take their default): NeuronFixedPoint's leak fields added after
#: format version 1 was fixed, whose defaults are the historic shift-leak spec (see its docstring).
#: Every other field must be present: a missing field is an error, never a silent default.
OPTIONAL_FIELDS: dict[str, frozenset[str]] = {
    "NeuronFixedPoint": frozenset({"leak_bits", "leak_code", "input_shift", "syn_leak", "syn_leak_bits",
                                   "syn_leak_code"}),
    # the multi-spike cap, added after format version 1 was fixed (None: no cap, the historic rule)
    "LIF": frozenset({"max_spikes"}), "IF": frozenset({"max_spikes"}), "CubaLIF": frozenset({"max_spikes"}),
}

#: the one mapping from a dataclass field annotation to the JSON kind its value is stored as
_KINDS: dict[str, str] = {
    "np.ndarray": "array", "Shape": "ints", "tuple[int, int]": "ints", "tuple[int, ...]": "ints",
    "int": "int", "float": "number", "str": "str", "bool": "bool",
    "FixedPoint": "FixedPoint", "NeuronFixedPoint": "NeuronFixedPoint",
}
_KIND_TEXT = {
    "array": 'an array reference {"$array": KEY}', "ints": 'a tuple {"$tuple": [integers]}',
    "int": "an integer", "number": "a finite number", "str": "a string", "bool": "true or false",
    "FixedPoint": 'a fixed-point format {"$FixedPoint": {...}}',
    "NeuronFixedPoint": 'a neuron fixed-point format {"$NeuronFixedPoint": {...}}',
}
_TOP_KEYS = ("format", "version", "semantics", "nodes", "edges")
#: the largest integer a field may hold (fixed-point widths, shifts, counts all fit easily)
_MAX_INT = 2**62


def _encode(value: Any, key: str, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, np.ndarray):
        arrays[key] = value
        return {"$array": key}
    if dataclasses.is_dataclass(value) and type(value).__name__ in _VALUE_TYPES:
        return {"$" + type(value).__name__: {f.name: _encode(getattr(value, f.name), f"{key}.{f.name}", arrays)
                                             for f in dataclasses.fields(value)}}
    if isinstance(value, tuple):
        return {"$tuple": [_encode(v, f"{key}.{i}", arrays) for i, v in enumerate(value)]}
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return value


def to_bytes(graph: Graph) -> bytes:
    arrays: dict[str, np.ndarray] = {}
    nodes = []
    for name, node in graph.nodes.items():
        fields = {f.name: _encode(getattr(node, f.name), f"{name}/{f.name}", arrays) for f in dataclasses.fields(node)}
        nodes.append({"name": name, "type": type(node).__name__, "fields": fields})
    doc = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "semantics": {"profile": graph.semantics.profile, "dt_s": graph.semantics.dt_s,
                      "notes": list(graph.semantics.notes)},
        "nodes": nodes,
        "edges": [list(e) for e in graph.edges],
    }
    npz = io.BytesIO()
    np.savez(npz, **arrays)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("graph.json", json.dumps(doc, indent=1, sort_keys=False))
        z.writestr("arrays.npz", npz.getvalue())
    return buf.getvalue()


def save(graph: Graph, path: str | os.PathLike) -> Path:
    """Write ``graph`` to ``path`` atomically (suffix ``.nsim`` recommended)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(to_bytes(graph))
    return path


def field_kind(cls: type, name: str) -> tuple[str, bool]:
    """``(kind, nullable)`` of field ``name`` of dataclass ``cls`` as stored in graph.json; kind
    ``any`` for an annotation this module does not know (the node constructor then checks it)."""
    annotation = next(f.type for f in dataclasses.fields(cls) if f.name == name)
    text = str(annotation)
    nullable = text.endswith("| None")
    return _KINDS.get(text.removesuffix("| None").strip(), "any"), nullable


class _Reader:
    """Checks graph.json against the schema; ``where`` of every error is the JSON path."""

    def __init__(self, source: str, arrays: dict[str, np.ndarray], doc: str = "graph.json",
                 fix: str = "re-save the model with neurosim (neurosim.ir.save)"):
        self.source = source
        self.arrays = arrays
        self.doc = doc
        self.fix = fix

    def fail(self, path: str, expected: str, found: Any) -> FormatError:
        return FormatError(
            f"{self.source}: {self.doc} entry {path} must be {expected}, found {short_repr(found)}; the file is "
            f"damaged or hand-edited -- {self.fix}"
        )

    def dict_of(self, value: Any, path: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
        if not isinstance(value, dict):
            raise self.fail(path, "an object", value)
        for key in required:
            if key not in value:
                raise FormatError(
                    f"{self.source}: {self.doc} entry {path} lacks the key {key!r}; the file is damaged or "
                    f"hand-edited -- {self.fix}"
                )
        extra = sorted(str(k) for k in value if k not in required and k not in optional)
        if extra:
            raise FormatError(
                f"{self.source}: {self.doc} entry {path} has unknown keys {short_repr(extra)} (known: "
                f"{sorted(required + optional)!r}); the file is damaged or of a newer neurosim"
            )
        return value

    def integer(self, value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or abs(value) > _MAX_INT:
            raise self.fail(path, "an integer (|n| <= 2**62)", value)
        return value

    def value(self, value: Any, kind: str, nullable: bool, path: str) -> Any:
        if value is None:
            if nullable or kind == "any":
                return None
            raise self.fail(path, _KIND_TEXT.get(kind, "a value"), value)
        if kind in ("array", "ints", *_VALUE_TYPES) and not isinstance(value, dict):
            raise self.fail(path, _KIND_TEXT[kind], value)
        if kind == "array":
            body = self.dict_of(value, path, ("$array",))["$array"]
            if not isinstance(body, str):
                raise self.fail(f"{path}.$array", "an array name", body)
            if body not in self.arrays:
                raise FormatError(f"{self.source}: {self.doc} entry {path} names the array {short_repr(body)}, "
                                  f"which the file lacks; the file is truncated -- {self.fix}")
            return self.arrays[body]
        if kind == "ints":
            items = self.dict_of(value, path, ("$tuple",))["$tuple"]
            if not isinstance(items, list):
                raise self.fail(f"{path}.$tuple", "a list of integers", items)
            return tuple(self.integer(v, f"{path}.$tuple[{i}]") for i, v in enumerate(items))
        if kind == "int":
            return self.integer(value, path)
        if kind == "number":
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or (isinstance(value, int) and abs(value) > _MAX_INT)
                    or (isinstance(value, float) and not math.isfinite(value))):
                raise self.fail(path, "a finite number", value)
            return value
        if kind == "str":
            if not isinstance(value, str):
                raise self.fail(path, "a string", value)
            return value
        if kind == "bool":
            if not isinstance(value, bool):
                raise self.fail(path, "true or false", value)
            return value
        if kind in _VALUE_TYPES:
            body = self.dict_of(value, path, ("$" + kind,))["$" + kind]
            return self.dataclass(_VALUE_TYPES[kind], body, f"{path}.${kind}")
        return self.generic(value, path)

    def generic(self, value: Any, path: str) -> Any:
        """A field of an annotation without a declared kind: plain JSON scalars and tagged values."""
        if isinstance(value, (str, bool, int, float)) or value is None:
            return value
        if isinstance(value, dict) and len(value) == 1:
            (tag, _), = value.items()
            kind = {"$array": "array", "$tuple": "ints"}.get(tag) or (tag[1:] if tag[1:] in _VALUE_TYPES else None)
            if kind is not None:
                return self.value(value, kind, False, path)
        raise self.fail(path, "a number, string, array reference or tagged value", value)

    def fields(self, cls: type, body: Any, path: str) -> dict[str, Any]:
        names = tuple(f.name for f in dataclasses.fields(cls))
        optional = OPTIONAL_FIELDS.get(cls.__name__, frozenset())
        required = tuple(n for n in names if n not in optional)
        self.dict_of(body, path, required, tuple(n for n in names if n in optional))
        out = {}
        for name in names:
            if name in body:
                kind, nullable = field_kind(cls, name)
                out[name] = self.value(body[name], kind, nullable, f"{path}.{name}")
        return out

    def dataclass(self, cls: type, body: Any, path: str) -> Any:
        kwargs = self.fields(cls, body, path)
        try:
            return cls(**kwargs)
        except IRError as exc:
            raise type(exc)(f"{self.source}: {self.doc} entry {path}: {exc}") from None


def decode_node(type_name: Any, fields: Any, arrays: dict[str, np.ndarray], source: str, path: str, name: str,
                **reader_options) -> Node:
    """One node from its type name and JSON ``fields`` (arrays by key), checked against the schema.

    ``source`` and ``path`` name the file and the JSON entry in errors (``reader_options``: ``doc``, the
    document's name, and ``fix``, the advice); used by :func:`from_bytes` and by the NIR frontend's
    exact restore from neurosim metadata.
    """
    reader = _Reader(source, arrays, **reader_options)
    if not isinstance(type_name, str):
        raise reader.fail(f"{path}.type" if path else "type", "a node type name", type_name)
    cls = NODE_TYPES.get(type_name)
    if cls is None:
        raise FormatError(
            f"{source}: node {name!r} has the unknown type {short_repr(type_name)}; known types: {sorted(NODE_TYPES)!r}"
        )
    kwargs = reader.fields(cls, fields, f"{path}.fields" if path else "fields")
    try:
        with node_context(name):
            return cls(**kwargs)
    except (IRError, LimitError) as exc:
        if str(exc).startswith(f"{source}:"):
            raise
        raise type(exc)(f"{source}: {exc}") from None


def check_array_dtype(dtype: np.dtype, where: str) -> None:
    """Refuse any array dtype but real integers and floats (no bool, complex, str, bytes, object,
    datetime, timedelta, structured): ``where`` names the file entry."""
    if dtype.kind not in REAL_KINDS or dtype.fields is not None:
        raise FormatError(
            f"{where} has dtype {str(dtype)!r}; neurosim model arrays hold real integers or floats only -- the file "
            f"is damaged or hand-crafted, re-save it with neurosim"
        )


#: above this many bytes a zip member must be stored at a plausible compression ratio (no zip bombs)
_LAZY_BYTES = 64 * 2**20
_MAX_RATIO = 1024


def _check_member(info: zipfile.ZipInfo, where: str) -> None:
    limits.check("file_bytes", info.file_size, where)
    if info.file_size > _LAZY_BYTES and info.file_size > _MAX_RATIO * max(1, info.compress_size):
        raise FormatError(f"{where} expands {info.compress_size:,} bytes to {info.file_size:,}; the file is a "
                          f"compression bomb or damaged -- neurosim refuses to expand it")


def _read_npy(f, key: str, where: str, max_header: int = 10_000, available: int | None = None) -> np.ndarray:
    """One ``.npy`` member: header first (dtype, element count against the limits), then the data."""
    bad = FormatError(f"{where} has a malformed .npy header; the file is damaged -- re-save it with neurosim")
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=max_header)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=max_header)
        else:
            raise bad
    except (ValueError, TypeError, SyntaxError, EOFError, OSError, zlib.error, zipfile.BadZipFile, RecursionError,
            MemoryError, tokenize.TokenError, IndexError, KeyError, AttributeError):  # numpy's header parser
        raise bad from None
    check_array_dtype(dtype, where)
    if not isinstance(shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise bad
    count = math.prod(shape)
    limits.check("elements", count, where)
    nbytes = count * dtype.itemsize
    if available is not None and nbytes > available:
        raise FormatError(f"{where} declares {count:,} elements ({nbytes:,} bytes) but the entry holds only "
                          f"{available:,} bytes; the file is truncated or hand-crafted -- re-save it with neurosim")
    try:
        data = f.read(nbytes)
    except (zlib.error, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise FormatError(f"{where} cannot be read ({type(exc).__name__}); the file is damaged or truncated -- re-save "
                          f"it with neurosim") from None
    if len(data) != nbytes:
        raise FormatError(f"{where} holds {len(data)} bytes of data, its header declares {nbytes}; the file is "
                          f"truncated -- re-save it with neurosim")
    arr = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return arr.astype(dtype.newbyteorder("="), copy=True)


def _read_arrays(blob: bytes, source: str) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as z:
            for info in z.infolist():
                where = f"{source}: arrays.npz entry {short_repr(info.filename)}"
                if not info.filename.endswith(".npy"):
                    raise FormatError(f"{where} is not an .npy array; the file is damaged -- re-save it with neurosim")
                _check_member(info, where)
                with z.open(info) as f:
                    arrays[info.filename[:-4]] = _read_npy(f, info.filename[:-4], where, available=info.file_size)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError) as exc:
        raise FormatError(f"{source}: arrays.npz is not a readable array archive ({type(exc).__name__}); the file is "
                          f"damaged or truncated -- re-save it with neurosim") from None
    return arrays


def _exc_name(exc: BaseException) -> str:
    """``zlib.error`` rather than the bare ``error``."""
    return "zlib.error" if isinstance(exc, zlib.error) else type(exc).__name__


def _read_members(data: bytes, source: str) -> tuple[Any, dict[str, np.ndarray]]:
    """graph.json (parsed) and the arrays of a .nsim zip; every zip/zlib/JSON failure is a FormatError."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = z.namelist()
            for need in ("graph.json", "arrays.npz"):
                if need not in names:
                    raise FormatError(f"{source}: {need!r} is missing; this is not a complete neurosim model file")
            extra = sorted(set(names) - {"graph.json", "arrays.npz"})
            if extra or len(names) != 2:
                raise FormatError(f"{source}: the archive holds unexpected entries {short_repr(extra or names)}; a "
                                  f"neurosim model holds graph.json and arrays.npz only")
            for need in ("graph.json", "arrays.npz"):
                _check_member(z.getinfo(need), f"{source}: {need}")
            text = z.read("graph.json")
            blob = z.read("arrays.npz")
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError) as exc:
        if isinstance(exc, FormatError):
            raise
        raise FormatError(
            f"{source}: not a readable neurosim model ({_exc_name(exc)}: {short_repr(str(exc), 120)}); the file is "
            f"truncated or of another format -- re-save it with neurosim.ir.save"
        ) from None
    try:
        doc = json.loads(text.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise FormatError(f"{source}: graph.json is not UTF-8 text (byte {exc.start}); the file is damaged -- re-save "
                          f"it with neurosim") from None
    except json.JSONDecodeError as exc:
        raise FormatError(f"{source}: graph.json is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
                          f"the file is damaged -- re-save it with neurosim") from None
    except (RecursionError, ValueError):  # nesting deeper than the parser's stack; an int of > 4300 digits
        raise FormatError(f"{source}: graph.json nests values too deeply or holds an oversized number; the file is "
                          f"damaged or hand-crafted -- re-save it with neurosim") from None
    return doc, _read_arrays(blob, source)


def from_bytes(data: bytes, source: str = "<bytes>") -> Graph:
    """A :class:`Graph` from the bytes of a ``.nsim`` file; ``source`` names the file in errors."""
    limits.check("file_bytes", len(data), f"model file {source}")
    doc, arrays = _read_members(data, source)
    reader = _Reader(source, arrays)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else doc
        raise FormatError(f"{source}: graph.json has format {short_repr(found)}, expected {FORMAT!r}")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version > FORMAT_VERSION or version < 1:
        raise FormatError(
            f"{source}: format version {short_repr(version)} is not supported (this neurosim reads 1..{FORMAT_VERSION}); "
            f"upgrade neurosim"
        )
    reader.dict_of(doc, "(top level)", _TOP_KEYS)
    sem = reader.dict_of(doc["semantics"], "semantics", ("profile", "dt_s"), ("notes",))
    profile = reader.value(sem["profile"], "str", False, "semantics.profile")
    dt_s = reader.value(sem["dt_s"], "number", True, "semantics.dt_s")
    notes = sem.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise reader.fail("semantics.notes", "a list of strings", notes)
    entries = doc["nodes"]
    if not isinstance(entries, list):
        raise reader.fail("nodes", "a list of nodes", entries)
    nodes: dict[str, Node] = {}
    first: dict[str, int] = {}
    for i, entry in enumerate(entries):
        entry = reader.dict_of(entry, f"nodes[{i}]", ("name", "type", "fields"))
        name = entry["name"]
        if not isinstance(name, str):
            raise reader.fail(f"nodes[{i}].name", "a string", name)
        if name in first:
            raise FormatError(
                f"{source}: graph.json nodes[{i}] repeats the node name {short_repr(name)} of nodes[{first[name]}]; "
                f"every node needs its own name -- the file is damaged or hand-edited"
            )
        first[name] = i
        nodes[name] = decode_node(entry["type"], entry["fields"], arrays, source, f"nodes[{i}]", name)
    edges = doc["edges"]
    if not isinstance(edges, list):
        raise reader.fail("edges", "a list of [source, target] pairs", edges)
    for i, e in enumerate(edges):
        if not (isinstance(e, list) and len(e) == 2 and all(isinstance(v, str) for v in e)):
            raise reader.fail(f"edges[{i}]", "a [source, target] pair of node names", e)
    try:
        semantics = Semantics(profile=profile, dt_s=dt_s, notes=tuple(notes))
        return Graph(nodes, tuple(tuple(e) for e in edges), semantics)
    except (IRError, LimitError) as exc:
        raise type(exc)(f"{source}: {exc}") from None


def load(path: str | os.PathLike) -> Graph:
    """Read a ``.nsim`` file written by :func:`save`."""
    path = Path(path)
    try:
        if path.is_dir():
            raise FormatError(f"model file {str(path)!r} is a directory; give the path of a .nsim file")
        limits.check("file_bytes", path.stat().st_size, f"model file {str(path)!r}")
        data = path.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read model file {short_repr(str(path), 300)}: {exc.strerror}") from None
    return from_bytes(data, str(path))
