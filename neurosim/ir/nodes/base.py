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

from neurosim.errors import IRError, ShapeError

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
    """Prefix any IRError raised inside with ``node 'name':`` so the message names the node."""
    try:
        yield
    except IRError as exc:
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


def check_shape(node: Node, field: str, value) -> Shape:
    """A shape: a non-empty tuple of positive ints."""
    try:
        shape = tuple(int(v) for v in np.atleast_1d(np.asarray(value)).tolist())
    except (TypeError, ValueError):
        raise ShapeError(
            f"{type(node).__name__}.{field} must be a tuple of positive integers, found {value!r}"
        ) from None
    if len(shape) == 0 or any(d <= 0 for d in shape):
        raise ShapeError(
            f"{type(node).__name__}.{field} must be a non-empty tuple of positive integers, found {value!r}"
        )
    return shape


def check_int_tuple(node: Node, field: str, value, length: int, *, minimum: int = 0) -> tuple[int, ...]:
    """An int or a tuple of ``length`` ints, each >= ``minimum`` (stride, padding, kernel size)."""
    try:
        arr = np.atleast_1d(np.asarray(value, dtype=np.float64))
    except (TypeError, ValueError):
        arr = None
    if arr is not None and arr.size == 1:
        arr = np.repeat(arr, length)
    if (arr is None or arr.ndim != 1 or arr.size != length or not np.all(np.mod(arr, 1) == 0)
            or np.any(arr < minimum)):
        raise IRError(
            f"{type(node).__name__}.{field} must be an int or {length} ints >= {minimum}, found {value!r}"
        )
    return tuple(int(v) for v in arr)


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
        arr = np.array(value, dtype=dtype, copy=True)
    except (TypeError, ValueError):
        raise IRError(f"{cls}.{field} must be numeric, found {value!r}") from None
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
        raise IRError(f"{type(node).__name__}.{field} must be one of {choices!r}, found {value!r}")
    return value


def require_input_shape(node: Node, input_shape: Shape, expected: Shape) -> None:
    if tuple(input_shape) != tuple(expected):
        raise ShapeError(
            f"{type(node).__name__} expects input shape {tuple(expected)!r}, found {tuple(input_shape)!r}; "
            f"check the layer feeding it"
        )
