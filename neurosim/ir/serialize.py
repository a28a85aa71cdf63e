"""The native model format: one ``.nsim`` file, a zip holding ``graph.json`` and ``arrays.npz``.

``graph.json`` holds the structure, every scalar field and the import semantics; arrays live in
``arrays.npz`` under ``<node>/<field>`` and are referenced from the JSON as ``{"$array": key}``.
The format is versioned (:data:`FORMAT_VERSION`); loading rejects newer versions with a clear
error. Saving and loading round-trip exactly: ``load(save(g)).equals(g)``.

Serialisation is generic over the dataclass fields of the node types in
:data:`~neurosim.ir.nodes.NODE_TYPES`: adding a node type needs no change here.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from neurosim.errors import FormatError, IRError
from neurosim.fileio import atomic_path
from neurosim.ir.fixedpoint import FixedPoint
from neurosim.ir.graph import Graph, Semantics
from neurosim.ir.nodes import NODE_TYPES, NeuronFixedPoint, Node
from neurosim.ir.nodes.base import node_context

FORMAT = "neurosim-ir"
FORMAT_VERSION = 1
SUFFIX = ".nsim"

#: Dataclass-valued fields that may appear inside nodes, by tag.
_VALUE_TYPES: dict[str, type] = {"FixedPoint": FixedPoint, "NeuronFixedPoint": NeuronFixedPoint}


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


def _decode(value: Any, arrays: Any, where: str) -> Any:
    if isinstance(value, dict):
        if len(value) != 1:
            raise FormatError(f"{where}: expected one tagged value, found keys {sorted(value)!r}")
        (tag, body), = value.items()
        if tag == "$array":
            if body not in arrays:
                raise FormatError(f"{where}: array {body!r} is missing from arrays.npz; the file is truncated")
            return arrays[body]
        if tag == "$tuple":
            return tuple(_decode(v, arrays, where) for v in body)
        cls = _VALUE_TYPES.get(tag[1:])
        if cls is None:
            raise FormatError(f"{where}: unknown value tag {tag!r}")
        return cls(**{k: _decode(v, arrays, where) for k, v in body.items()})
    if isinstance(value, list):
        return tuple(_decode(v, arrays, where) for v in value)
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


def from_bytes(data: bytes, source: str = "<bytes>") -> Graph:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = set(z.namelist())
            for need in ("graph.json", "arrays.npz"):
                if need not in names:
                    raise FormatError(f"{source}: {need!r} is missing; this is not a complete neurosim model file")
            doc = json.loads(z.read("graph.json").decode("utf-8"))
            arrays = dict(np.load(io.BytesIO(z.read("arrays.npz")), allow_pickle=False))
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
        if isinstance(exc, FormatError):
            raise
        raise FormatError(
            f"{source}: not a readable neurosim model ({type(exc).__name__}: {exc}); the file is truncated or "
            f"of another format -- re-save it with neurosim.ir.save"
        ) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise FormatError(f"{source}: graph.json has format {doc.get('format') if isinstance(doc, dict) else doc!r}, "
                          f"expected {FORMAT!r}")
    version = doc.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise FormatError(
            f"{source}: format version {version!r} is not supported (this neurosim reads 1..{FORMAT_VERSION}); "
            f"upgrade neurosim"
        )
    try:
        nodes: dict[str, Node] = {}
        for entry in doc["nodes"]:
            name, tname, fields = entry["name"], entry["type"], entry["fields"]
            cls = NODE_TYPES.get(tname)
            if cls is None:
                raise FormatError(
                    f"{source}: node {name!r} has the unknown type {tname!r}; known types: {sorted(NODE_TYPES)!r}"
                )
            known = {f.name for f in dataclasses.fields(cls)}
            extra = set(fields) - known
            if extra:
                raise FormatError(f"{source}: node {name!r} ({tname}) has unknown fields {sorted(extra)!r}")
            with node_context(name):
                nodes[name] = cls(**{k: _decode(v, arrays, f"{source}: node {name!r}.{k}") for k, v in fields.items()})
        sem = doc["semantics"]
        semantics = Semantics(profile=sem["profile"], dt_s=sem["dt_s"], notes=tuple(sem.get("notes", ())))
        return Graph(nodes, tuple(tuple(e) for e in doc["edges"]), semantics)
    except (KeyError, TypeError) as exc:
        raise FormatError(f"{source}: graph.json lacks or mangles the entry {exc!s}; the file is damaged") from None
    except IRError as exc:
        raise type(exc)(f"{source}: {exc}") from None


def load(path: str | os.PathLike) -> Graph:
    """Read a ``.nsim`` file written by :func:`save`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read model file {str(path)!r}: {exc.strerror}") from None
    return from_bytes(data, str(path))
