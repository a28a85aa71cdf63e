r"""One tile on the SAT PE array: the contract the cycle model and the RTL share.

The array has ``rows`` x ``cols`` processing elements (PEs), weight stationary and systolic.
A PE holds ``G`` weight *groups* (``groups``, 1 unless the PE is built wider): per group ``n``
weight values and ``n`` offsets into that group's own sub-window of ``m`` activations, so a PE
has ``L = G n`` multipliers and a window of ``W = G m`` activations (an accelerator config's
``lanes`` and, for N:M, ``G = lanes // N``). Weight ``j`` belongs to group ``j // n``. In
**sparse** mode (an N:M-compressed weight) PE ``(r, c)`` computes

.. math::

    p_{r,c}(t) = \sum_{j<L} w_{r,c,j}\; x_t[r W + \lfloor j/n \rfloor m + \mathrm{off}_{r,c,j}]

so one tile covers a reduction of ``rows * G * m``; in **dense** mode weight ``j`` meets
activation ``r W + j`` and a tile covers ``rows * G * n``. Column ``c`` sums its PEs top to bottom:
:math:`y_t[c] = \sum_r p_{r,c}(t)` -- exact integer arithmetic, the accumulator wide enough
that it cannot overflow (the RTL's constructor checks the width).

A tile runs in two phases, with every stream always ready/valid:

1. **weight load**: ``rows`` beats, beat ``r`` carrying the ``cols`` groups of PE row ``r``;
2. **stream**: ``t`` activation beats enter one per cycle; row ``r`` sees beat ``t`` ``r``
   cycles late (input skew), partial sums move one row down per cycle and activations one
   column right, and column ``c``'s result is delayed ``cols - 1 - c`` cycles (output de-skew),
   so output beat ``i`` leaves ``rows + cols - 1`` cycles after activation beat ``i`` entered.

Counting every cycle from the first weight handshake to the last output handshake, both
included:

.. math::

    \text{tile\_cycles} = \underbrace{R}_{\text{load}} + \underbrace{T + R + C - 1}_{\text{stream, fill and drain}}
    = 2R + C + T - 1

(SCALE-Sim's weight-stationary fold takes :math:`2R + C + T - 2`: the same array, one cycle
apart in where the count starts.) Stalls (the RTL has registered outputs and an
output skid buffer): each cycle in which the sink refuses a valid output beat, each cycle in
which the array is ready for an activation beat that is not offered (a bubble), and each cycle
a due weight beat after the first is not offered adds exactly one cycle; a bubble and a
refusal in the same cycle add two.
"""

from __future__ import annotations

from numba import njit

from neurosim.errors import SATConfigError


@njit(cache=True)
def tile_cycles(rows: int, cols: int, t: int) -> int:
    """Cycles of one tile of ``t`` activation beats on a ``rows`` x ``cols`` array (no stalls).

    Compiled with numba: the GEMM kernel calls it for every tile. :func:`check_tile` validates.
    """
    return 2 * rows + cols + t - 1


def check_tile(rows: int, cols: int, t: int) -> None:
    """Raise :class:`SATConfigError` unless the tile dimensions are positive integers."""
    for name, v in (("rows", rows), ("cols", cols), ("t", t)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise SATConfigError(f"tile {name} must be a positive integer, found {v!r}")


def tile_reduction(rows: int, n: int, m: int, sparse: bool, groups: int = 1) -> int:
    """Reduction length one tile covers: ``rows * groups * m`` in sparse mode, ``rows * groups * n``
    in dense mode (``groups`` N:M groups per PE; 1 is the one-group PE)."""
    return rows * groups * (m if sparse else n)
