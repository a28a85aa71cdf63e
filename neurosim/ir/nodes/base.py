"""The node base class, the node-type registry and the field checks every node uses.

Nodes are frozen dataclasses validated in ``__post_init__``: construction either yields a valid
node or raises an :class:`~neurosim.errors.IRError` naming the field and the bad value. A node does
not know its own name; the graph does, and :func:`node_context` prefixes errors with it.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from typing import ClassVar, Iterator

import numpy as np

from neurosim import limits
from neurosim.errors import IRError, LimitError, ShapeError

#: Every IR node type by its type name; serialisation and frontends look types up here.
NODE_TYPES: dict[str, type["Node"]] = {}


def register(cls: type["Node"]) -> type["Node"]:
    """Class decorator: add a node type to :data:`NODE_TYPES` under its class name."""
    if cls.__name__ in NODE_TYPES:
        raise IRError(f"node type {cls.__name__!r} is registered twice; rename one of them")
    NODE_TYPES[cls.__name__] = cls
    return cls


@contextlib.contextmanager
def node_context(name: str) -> Iterator[None]:
    """Prefix any IRError (or LimitError: a node too large) raised inside with ``node 'name':`` so the
    message names the node."""
    try:
        yield
    except (IRError, LimitError) as exc:
        msg = str(exc)
        if msg.startswith("node "):
            raise
        raise type(exc)(f"node {name!r}: {msg}") from exc


Shape = tuple[int, ...]


@dataclass(frozen=True, eq=False)
class Node:
    """Base of all IR nodes.

    ``family`` groups node types for tables and for the engine: ``io``, ``population`` (stateful
    neurons), ``projection`` (weighted connections), ``shape`` (pooling, flatten: no weights),
    ``elementwise`` (stateless maps such as Scale and Threshold).
    """

    family: ClassVar[str] = "node"
    #: True if the node's output is a spike count (0/1, or >1 for multi-spike neurons).
    spiking: ClassVar[bool] = False
    #: True if the node keeps state from one timestep to the next.
    stateful: ClassVar[bool] = False
    #: Number of ordered operands; 1 means "the sum of every incoming edge" (the default).
    operands: ClassVar[int] = 1

    # -- shape --------------------------------------------------------------------------------
    def output_shape(self, input_shape: Shape) -> Shape:
        """The output shape for a given input shape; raises ShapeError if they do not fit."""
        raise NotImplementedError

    def fixed_input_shape(self) -> Shape | None:
        """The input shape this node requires, if its parameters fix one (else None)."""
        return None

    # -- statistics for tables ----------------------------------------------------------------
    def n_params(self) -> int:
        return int(sum(np.asarray(v).size for v in self.arrays().values()))

    def arrays(self) -> dict[str, np.ndarray]:
        """The node's array-valued fields by name (parameters and weights)."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if isinstance(getattr(self, f.name), np.ndarray)
        }

    def describe(self) -> str:
        """One-line summary of the node's non-array fields, for tables."""
        parts = []
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, np.ndarray) or v is None:
                continue
            if f.name == "shape":
                continue
            parts.append(f"{f.name}={_short(v)}")
        return ", ".join(parts)

    # -- equality -----------------------------------------------------------------------------
    def equals(self, other: object) -> bool:
        """Exact equality, arrays compared bit for bit (including dtype and shape)."""
        if type(other) is not type(self):
            return False
        for f in dataclasses.fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
                    return False
                if a.dtype != b.dtype or a.shape != b.shape or not np.array_equal(a, b, equal_nan=True):
                    return False
            elif a != b:
                return False
        return True


def _short(v: object) -> str:
    if hasattr(v, "describe") and callable(v.describe):
        return v.describe()
    return repr(v) if isinstance(v, str) else str(v)


# -- field checks ------------------------------------------------------------------------------


def set_field(node: Node, name: str, value: object) -> None:
    """Normalise a field of a frozen dataclass inside ``__post_init__``."""
    object.__setattr__(node, name, value)


def short_repr(value: object, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters: a hostile file's value (a 300-digit number, a
    megabyte string) never floods an error message."""
    if isinstance(value, np.ndarray) and value.size > 8:
        text = f"array(shape={value.shape!r}, dtype={value.dtype})"
    else:
        try:
            text = repr(value)
        except Exception:  # noqa: BLE001 - a foreign object's __repr__ may fail; the type still names it
            text = f"<{type(value).__name__}>"
    if "\n" in text or "\r" in text:  # an error message is one line
        text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


#: the largest single dimension or element count a shape may declare (int64-safe products)
MAX_DIM = 2**62

#: dtype kinds of real numbers (signed, unsigned, float); bool, complex, strings, bytes, objects,
#: datetimes, timedeltas and structured records are refused by :func:`check_array`
REAL_KINDS = "iuf"
_KIND_NAMES = {"b": "booleans", "c": "complex values", "U": "strings", "S": "bytes", "O": "Python objects",
               "M": "datetimes", "m": "timedeltas", "V": "structured records"}


def is_int(value) -> bool:
    """True for a Python or numpy integer that is not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_real(value) -> bool:
    """True for a finite Python or numpy real number that is not a bool."""
    return (is_int(value) or isinstance(value, (float, np.floating))) and bool(np.isfinite(value))


def _shape_items(value) -> list | None:
    """The items of a shape-like value (int, tuple, list, 1-D numeric array), else None."""
    if isinstance(value, np.ndarray):
        if value.ndim > 1 or value.dtype.kind not in REAL_KINDS:
            return None
        return value.reshape(-1).tolist()
    if isinstance(value, (tuple, list)):
        return list(value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return [value]
    return None


def check_shape(node: Node, field: str, value) -> Shape:
    """A shape: a non-empty tuple of positive integers (an integral float such as ``128.0`` is
    taken, ``128.5``, booleans, strings and non-finite values are refused), whose element count is
    within :mod:`neurosim.limits` (``neurons`` for populations and I/O, else ``elements``) -- checked
    here, before any parameter is broadcast to it."""
    cls = type(node).__name__
    items = _shape_items(value)
    dims: list[int] = []
    for item in items if items is not None else [None]:
        if isinstance(item, (bool, np.bool_)) or item is None:
            dims = []
            break
        if isinstance(item, (int, np.integer)):
            dims.append(int(item))
        elif isinstance(item, (float, np.floating)) and np.isfinite(item) and float(item).is_integer():
            dims.append(int(item))
        else:
            dims = []
            break
    if not dims or any(d <= 0 or d > MAX_DIM for d in dims):
        raise ShapeError(
            f"{cls}.{field} must be a non-empty tuple of positive integers, found {short_repr(value)}"
        )
    size = int(np.prod(dims, dtype=object))
    if size > MAX_DIM:
        raise ShapeError(f"{cls}.{field} {short_repr(tuple(dims))} declares more than 2**62 elements; the shape is wrong")
    kind = "neurons" if node.family in ("population", "io") else "elements"
    limits.check(kind, size, f"{cls}.{field} {tuple(dims)!r}")
    return tuple(dims)


def check_int_tuple(node: Node, field: str, value, length: int, *, minimum: int = 0) -> tuple[int, ...]:
    """An int or a tuple of ``length`` ints, each >= ``minimum`` (stride, padding, kernel size);
    integral floats are taken, booleans, strings and fractions refused."""
    items = _shape_items(value)
    if items is not None and len(items) == 1:
        items = items * length
    ok = items is not None and len(items) == length and all(
        not isinstance(v, (bool, np.bool_)) and (
            isinstance(v, (int, np.integer))
            or (isinstance(v, (float, np.floating)) and np.isfinite(v) and float(v).is_integer()))
        and minimum <= v <= MAX_DIM
        for v in items)
    if not ok:
        raise IRError(
            f"{type(node).__name__}.{field} must be an int or {length} ints >= {minimum}, found {short_repr(value)}"
        )
    return tuple(int(v) for v in items)


def shape_only(shape: Shape, dtype=np.float64) -> np.ndarray:
    """A read-only all-zero array of ``shape`` that takes no memory: a weight whose values are unknown.

    Models built on torch's meta device have shapes but no values; their weights become
    shape-only arrays, which the SAT training model (it needs shapes only) reads like any other.
    """
    return np.broadcast_to(np.zeros((), dtype=dtype), tuple(int(d) for d in shape))


def is_shape_only(arr) -> bool:
    """True for arrays made by :func:`shape_only` (every stride zero, more than one element)."""
    return isinstance(arr, np.ndarray) and arr.size > 1 and not any(arr.strides)


def check_array(node: Node, field: str, value, *, shape: Shape | None = None, ndim: int | None = None,
                dtype=np.float64, finite: bool = True, broadcast: bool = False) -> np.ndarray:
    """A numeric array field, converted to ``dtype``; scalars broadcast to ``shape`` when asked.

    A :func:`shape_only` array of the right dtype is kept as it is (no copy, no memory).
    """
    cls = type(node).__name__
    if is_shape_only(value) and value.dtype == dtype and not value.flags.writeable:
        if (shape is not None and value.shape != tuple(shape)) or (ndim is not None and value.ndim != ndim):
            raise ShapeError(f"{cls}.{field} has shape {value.shape!r}, expected "
                             f"{tuple(shape) if shape is not None else f'{ndim} dimensions'!r}")
        return value
    try:
        src = np.asarray(value)
    except (TypeError, ValueError):
        raise IRError(f"{cls}.{field} must be numeric, found {short_repr(value)}") from None
    if src.dtype.kind not in REAL_KINDS:
        what = _KIND_NAMES.get(src.dtype.kind, f"dtype {src.dtype}")
        raise IRError(
            f"{cls}.{field} must hold real numbers, found {what} (dtype {src.dtype}) {short_repr(value)}; "
            f"store it as a float or integer array"
        )
    target = np.dtype(dtype)
    if target.kind in "iu":
        if src.dtype.kind == "f":
            if not np.all(np.isfinite(src)) or not np.all(np.mod(src, 1) == 0):
                bad = src[~(np.isfinite(src) & (np.mod(np.nan_to_num(src), 1) == 0))].flat[0].item()
                raise IRError(f"{cls}.{field} must hold whole numbers, found {bad!r}")
        info = np.iinfo(target)
        if src.size and (src.min() < info.min or src.max() > info.max):
            bad = src.min() if src.min() < info.min else src.max()
            raise IRError(
                f"{cls}.{field} must lie in {info.min}..{info.max} ({target}), found {short_repr(bad.item())}"
            )
    arr = src.astype(target, copy=True)
    if broadcast and shape is not None:
        try:
            arr = np.broadcast_to(arr, shape).copy()
        except ValueError:
            raise ShapeError(
                f"{cls}.{field} has shape {arr.shape!r}, expected {shape!r} or a scalar"
            ) from None
    if shape is not None and arr.shape != tuple(shape):
        raise ShapeError(f"{cls}.{field} has shape {arr.shape!r}, expected {tuple(shape)!r}")
    if ndim is not None and arr.ndim != ndim:
        raise ShapeError(f"{cls}.{field} must have {ndim} dimensions, found shape {arr.shape!r}")
    if finite and np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        bad = arr[~np.isfinite(arr)].flat[0].item()
        raise IRError(f"{cls}.{field} contains the non-finite value {bad!r}; every entry must be finite")
    arr.setflags(write=False)
    return arr


def check_choice(node: Node, field: str, value, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise IRError(f"{type(node).__name__}.{field} must be one of {choices!r}, found {short_repr(value)}")
    return value


def require_input_shape(node: Node, input_shape: Shape, expected: Shape) -> None:
    if tuple(input_shape) != tuple(expected):
        raise ShapeError(
            f"{type(node).__name__} expects input shape {tuple(expected)!r}, found {tuple(input_shape)!r}; "
            f"check the layer feeding it"
        )
