"""Records and value helpers every torch converter shares.

:class:`Layer` is what a converter knows about the module it converts, :class:`Lowered` what it
returns and :class:`_Entry` one row of the class registry (:mod:`.registry`). The helpers turn
torch tensors into float64 numpy arrays (meta tensors into shape-only placeholders) and build
weighted nodes with N:M detection. Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from neurosim.errors import UnsupportedError
from neurosim.ir.nm import detect_nm
from neurosim.ir.nodes import Node
from neurosim.ir.nodes.base import shape_only

# ----------------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Layer:
    """What a converter knows about the module it converts."""

    path: str  # module path, e.g. "net.2"
    display: str  # public class name, e.g. "snntorch.Leaky"
    in_shape: tuple[int, ...]  # unbatched shape of one timestep
    lead_dims: int  # leading axes the module sees before ``in_shape`` (batch; sinabs: batch, time)

    @property
    def where(self) -> str:
        return f"layer {self.path!r} ({self.display})"

    def error(self, cls: type[Exception], text: str) -> Exception:
        return cls(f"{self.where} {text}")


@dataclass(frozen=True)
class Lowered:
    """A converter's result.

    ``node`` is the IR node (None: the layer is the identity and is skipped); ``recurrent`` are
    ``(name suffix, projection)`` pairs fed by ``node``'s output and feeding ``node`` back one
    step later; ``notes`` go into the graph's :class:`Semantics`.
    """

    node: Node | None
    recurrent: tuple[tuple[str, Node], ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Entry:
    path: str  # public dotted path of the class
    convert: Callable[[Any, Layer], Lowered]
    profile: str | None = None  # set for neuron classes: the framework whose semantics apply
    lead_dims: int = 1  # sinabs' non-Squeeze layers take [B, T, ...]
    returns_tuple: Callable[[Any], bool] | None = None  # forward returns (spk, state...)


# ---------------------------------------------------------------------------------- helpers


def _is_meta(t) -> bool:
    return bool(getattr(t, "is_meta", False))


def _f64(t) -> np.ndarray:
    """A tensor (or number) as a float64 numpy array of the same values.

    A meta-device tensor has a shape but no values: it becomes a :func:`shape_only` array
    (all zeros, no memory), which is what a weight of unknown value is in the IR.
    """
    if _is_meta(t):
        return shape_only(tuple(t.shape))
    if hasattr(t, "detach"):
        return t.detach().cpu().double().numpy().copy()
    return np.asarray(t, dtype=np.float64)


def _projection(cls: type[Node], layer: Layer, weight: np.ndarray, bias: np.ndarray | None, *,
                meta: bool = False, **kw) -> Lowered:
    """A weighted node; N:M detection runs on real weights only (a meta placeholder has no pattern)."""
    nm = None if meta else detect_nm(weight)
    notes = ()
    if nm is not None:
        notes = (f"{layer.where}: weight is {nm[0]}:{nm[1]} structured-sparse (recorded as nm={nm!r})",)
    return Lowered(cls(weight=weight, bias=bias, nm=nm, **kw), notes=notes)


def _check_threshold_positive(layer: Layer, thr: np.ndarray, why: str) -> None:
    if np.any(thr <= 0):
        raise layer.error(
            UnsupportedError,
            f"has threshold {float(np.min(thr))!r}, {why}; use a threshold > 0",
        )
