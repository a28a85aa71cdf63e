r"""IR nodes of the recurrent family: what SpikeGPT (RWKV-v4 with spiking activations) needs beyond the core set.

One IR timestep is one token. Shapes are per token, ``(C,)`` for the residual stream.

.. math::

    \text{WKV (per channel } c\text{, } w = -e^{\text{time\_decay}},\ u = \text{time\_first}):\quad
    y_t = \frac{\sum_{i<t} e^{(t-1-i)w + k_i} v_i + e^{u + k_t} v_t}{\sum_{i<t} e^{(t-1-i)w + k_i} + e^{u + k_t}}

    \text{Mul: } y = a \odot b \qquad \text{SquaredReLU: } y = \max(x, 0)^2

:class:`WKV` keeps O(1) state per channel (``p, q, o``: numerator, denominator, common exponent),
computed exactly as RWKV's ``cuda/wkv_cuda.cu`` does, so the cost of a token does not depend on
the context length. :class:`Mul` multiplies two *dynamic* activations (RWKV's receptance gate
``sigmoid(r) * wkv``). Both take **ordered operands** (``operands = 2``, graph edges in insertion
order): ``(k, v)`` for WKV, ``(a, b)`` for Mul. Sigmoid is the core :class:`~neurosim.ir.nodes.GELU`
node with ``kind="sigmoid"``; the embedding is a one-hot input times a
:class:`~neurosim.ir.nodes.Dense` (weight = the embedding table transposed), LayerNorm's affine part a
:class:`~neurosim.ir.nodes.Scale` and an :class:`~neurosim.ir.nodes.Add` with ``constant``; token shift is
a :class:`~neurosim.ir.nodes.Delay` of one step and two Scales (``m x + (1 - m) x_{t-1}``).

All three are float-only (exp and division: no fixed-point semantics), ``family = "dnn"`` for Mul
and SquaredReLU (stateless vector work) and ``"recurrent"`` for WKV (stateful, not a neuron).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from neurosim.errors import IRError, ShapeError
from neurosim.ir.nodes.base import Node, Shape, check_array, register, set_field, short_repr
from neurosim.ir.nodes.dnn import DNNNode


def _two_operands(node: Node, input_shape) -> tuple[Shape, Shape]:
    """The two operand shapes of a 2-operand node (the graph passes a tuple of shapes)."""
    name = type(node).__name__
    shapes = tuple(input_shape)
    if len(shapes) != 2 or not all(isinstance(s, tuple) for s in shapes):
        raise ShapeError(f"{name} takes exactly two operands, found input shapes {short_repr(shapes)}")
    return shapes[0], shapes[1]


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class WKV(Node):
    r"""RWKV-v4's time-mixing recurrence over ordered operands ``(k, v)``, both ``(..., C)``.

    Recurrent form (per channel; state ``p = q = 0``, ``o = -10^{38}`` before the first token)::

        n  = max(o, u + k_t)
        y_t = (e^{o-n} p + e^{u+k_t-n} v_t) / (e^{o-n} q + e^{u+k_t-n})
        n' = max(w + o, k_t)
        p <- e^{w+o-n'} p + e^{k_t-n'} v_t;  q <- e^{w+o-n'} q + e^{k_t-n'};  o <- n'

    which equals the closed form of the module docstring (the common exponent ``o`` only keeps the
    exponentials finite). Per token and channel: 4 exp, 1 division, 6 multiplications, 10 additions or
    subtractions and 2 maxima -- see :mod:`neurosim.metrics.ops_recurrent`.
    ``time_decay`` and ``time_first`` are the torch parameters (``w = -exp(time_decay)``).
    """

    family: ClassVar[str] = "recurrent"
    stateful: ClassVar[bool] = True
    operands: ClassVar[int] = 2

    #: the starting value of the common exponent ``o`` (wkv_cuda.cu's ``MIN_VALUE``)
    O_INIT: ClassVar[float] = -1e38

    time_decay: np.ndarray
    time_first: np.ndarray

    def __post_init__(self) -> None:
        set_field(self, "time_decay", check_array(self, "time_decay", self.time_decay, ndim=1))
        c = self.time_decay.shape[0]
        set_field(self, "time_first", check_array(self, "time_first", self.time_first, shape=(c,)))
        if np.any(self.time_decay > 80.0):
            bad = float(self.time_decay.max())
            raise IRError(f"WKV.time_decay holds {bad!r}; exp(time_decay) overflows the decay w = -exp(time_decay) "
                          f"above 80: give the torch parameter time_decay (w = -exp of it), not w")

    @property
    def channels(self) -> int:
        return int(self.time_decay.shape[0])

    def output_shape(self, input_shape) -> Shape:
        k, v = _two_operands(self, input_shape)
        c = self.channels
        if k != v or not k or k[-1] != c:
            raise ShapeError(f"WKV expects operands k and v of the same shape (..., {c}), found {k!r} and {v!r}; "
                             f"feed it the key and value projections of {c} channels")
        return k


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class Mul(DNNNode):
    """Element-wise product ``a * b`` of two dynamic activations of one shape (ordered operands ``(a, b)``)."""

    operands: ClassVar[int] = 2

    def output_shape(self, input_shape) -> Shape:
        a, b = _two_operands(self, input_shape)
        if a != b:
            raise ShapeError(f"Mul multiplies operands of one shape, found {a!r} and {b!r}; check the two layers "
                             f"feeding it")
        return a


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class SquaredReLU(DNNNode):
    """``max(x, 0)**2`` (RWKV's channel-mix key activation, ``torch.square(torch.relu(x))``)."""
