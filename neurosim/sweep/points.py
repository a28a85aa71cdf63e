"""Sampling: a validated spec -> its points, in a deterministic order.

* ``grid``: every combination of the axes' values, the last axis varying fastest (the spec's order);
* ``random``: ``samples`` distinct grid points drawn with ``numpy.random.default_rng(seed)``, kept in
  grid order (so a table never depends on the order of the draws);
* ``list``: the ``[[points]]`` tables in file order, each completed by the single values of ``[axes]``.

A point's :attr:`Point.index` is its row in the table, and the table is sorted by it: the same spec
gives the same rows in the same order whatever the cluster does.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from neurosim.sweep.spec import SweepSpec, keys


@dataclass(frozen=True)
class Point:
    """One design point: its row ``index`` and a value for every column key (None: the target's default)."""

    index: int
    values: tuple[tuple[str, Any], ...]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.values)

    def resolved(self, target: str) -> dict[str, Any]:
        """Every setting the point runs with: given values, else the schema's defaults (a default given
        explicitly and one left out are the same point, so they hash alike). Prefixed fields
        (``chip.lanes``) that are not given are left out: the preset's own value applies."""
        given = {k: v for k, v in self.values if v is not None}
        out = {k: spec.default for k, spec in keys(target).items() if "." not in k and spec.default is not None}
        out.update(given)
        return dict(sorted(out.items()))


def _decode(index: int, radices: list[int]) -> list[int]:
    digits = []
    for r in reversed(radices):
        index, d = divmod(index, r)
        digits.append(d)
    return digits[::-1]


def resolve_points(spec: SweepSpec) -> list[Point]:
    """The spec's points (see the module docstring)."""
    columns = spec.column_keys()
    if spec.sampling == "list":
        base = {a.key: a.values[0] for a in spec.axes}
        pts = []
        for i, given in enumerate(spec.points):
            vals = {**base, **dict(given)}
            pts.append(Point(i, tuple((k, vals.get(k)) for k in columns)))
        return pts
    values = [a.values for a in spec.axes]
    if spec.sampling == "grid":
        combos = itertools.product(*values)
    else:
        radices = [len(v) for v in values]
        n = spec.grid_size()
        rng = np.random.default_rng(spec.seed)
        if n <= 10_000_000:
            picks = rng.choice(n, size=spec.samples, replace=False)
        else:
            chosen: set[int] = set()
            while len(chosen) < spec.samples:
                chosen.add(int(rng.integers(0, n)))
            picks = np.fromiter(chosen, dtype=np.int64)
        combos = ([v[d] for v, d in zip(values, _decode(int(i), radices))] for i in sorted(int(p) for p in picks))
    return [Point(i, tuple(zip(columns, combo))) for i, combo in enumerate(combos)]
