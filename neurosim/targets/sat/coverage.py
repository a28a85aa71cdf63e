"""Functional coverage of the SAT array's verification: the bins a build's tiles must reach.

Bins are named ``area/what`` and counted per build (:class:`~neurosim.targets.sat.hdl.config.SATConfig`).
Two sources fill them: the stimulus (the tiles, what numpy computes from them: modes, mode
changes, the dense bit carried only by the first weight beat, every offset value at every
weight position, zero rows/columns/beats, extreme operands, sums at the largest reachable
magnitudes, tile lengths) and the testbench's run (the ``events`` of its report: output
back-pressure, a full skid buffer, a refused last beat, bubbles from activation gaps, beats held
while the array stalls, weight gaps, back-to-back tiles). :func:`goals` lists the bins a build
can reach at all (no sparse bins on a dense-only build, no mode-bit-on-later-beats bin with one
row, no ``sum/needs_acc_bits`` where no sum needs the top bit); a run is covered when every goal
is hit at least once. Expected values still come from numpy and the cycle model: coverage only
says which corners the comparison went through.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: the testbench's run events and the bin each one fills
RUN_BINS = {
    "refusals": "out/backpressure",
    "refusal_runs_2": "out/skid_full",  # two refusals in a row: the skid buffer fills and the array stalls
    "last_refused": "out/last_beat_refused",
    "bubbles": "acts/gap_bubble",
    "acts_held": "acts/held_while_stalled",
    "weight_gaps": "weights/gap",
    "weights_held": "weights/held_until_load",
    "back_to_back": "tiles/back_to_back",
    "bubble_and_refusal": "acts+out/gap_with_backpressure",
}


def reachable_sums(cfg) -> tuple[int, int]:
    """The largest and the most negative column sum a tile of ``cfg`` can reach: every one of
    the ``rows * groups * n`` products at ``min * min`` (weights and activations most negative)
    and at ``max weight * min activation``."""
    k = cfg.rows * cfg.lanes
    a_min, w_min, w_max = -(1 << (cfg.act_bits - 1)), -(1 << (cfg.weight_bits - 1)), (1 << (cfg.weight_bits - 1)) - 1
    return k * a_min * w_min, k * a_min * w_max


def goals(cfg) -> list[str]:
    """Every bin a build of ``cfg`` can reach, in a fixed order."""
    sparse = not cfg.dense_only
    out = ["tile/dense", "tile/unstalled", "t/1", "t/fills_pipeline",
           "zero/act_row", "zero/act_beat", "zero/weight_col", "zero/all_weights", "zero/all_acts",
           "extreme/act_min", "extreme/act_max", "extreme/weight_min", "extreme/weight_max",
           "sum/largest", "sum/most_negative"]
    if reachable_sums(cfg)[0] >= 1 << (cfg.acc_bits - 2):
        out.append("sum/needs_acc_bits")  # a sum that does not fit one bit less
    if sparse:
        out += ["tile/sparse", "mode/sparse_to_dense", "mode/dense_to_sparse"]
        if cfg.rows >= 2:
            out += ["dense_bit/first_beat_only/dense", "dense_bit/first_beat_only/sparse"]
        out += [f"offset/w{j}={v}" for j in range(cfg.lanes) for v in range(cfg.m)]
    out += [b for b in RUN_BINS.values() if cfg.rows >= 2 or b != "weights/gap"]  # one row: one weight beat
    return out


@dataclass
class Coverage:
    """Hits per bin of one build and the goals it had to reach."""

    goals: list[str]
    hits: dict[str, int] = field(default_factory=dict)

    @property
    def unmet(self) -> list[str]:
        return [g for g in self.goals if not self.hits.get(g)]

    @property
    def reached(self) -> int:
        return len(self.goals) - len(self.unmet)

    def summary(self) -> str:
        """``61/61 bins`` or ``59/61 bins, unmet: a, b`` (offset bins folded into one count)."""
        unmet = self.unmet
        offsets = [u for u in unmet if u.startswith("offset/")]
        shown = [u for u in unmet if not u.startswith("offset/")]
        if offsets:
            shown.append(f"{len(offsets)} offset bins (first {offsets[0]})")
        return f"{self.reached}/{len(self.goals)} bins" + (f", unmet: {', '.join(shown)}" if shown else "")


def collect(cfg, tiles, expected, events: dict | None, stalls: list[int] | None = None) -> Coverage:
    """The coverage of ``tiles`` (:class:`~neurosim.targets.sat.verify.SATTile`) on ``cfg``;
    ``expected(cfg, tile)`` gives numpy's output beats, ``events`` and ``stalls`` (per tile) come
    from the testbench's report."""
    hits: dict[str, int] = {}

    def hit(name, n=1):
        if n:
            hits[name] = hits.get(name, 0) + int(n)

    R, C, W = cfg.rows, cfg.cols, cfg.window
    a_lo, a_hi = -(1 << (cfg.act_bits - 1)), (1 << (cfg.act_bits - 1)) - 1
    w_lo, w_hi = -(1 << (cfg.weight_bits - 1)), (1 << (cfg.weight_bits - 1)) - 1
    largest, most_negative = reachable_sums(cfg)
    prev = None
    for tile in tiles:
        mode = "dense" if tile.dense else "sparse"
        hit(f"tile/{mode}")
        if prev is not None and prev != tile.dense:
            hit("mode/sparse_to_dense" if tile.dense else "mode/dense_to_sparse")
        prev = tile.dense
        bits = tile.beat_dense()
        if R >= 2 and all(b != tile.dense for b in bits[1:]):
            hit(f"dense_bit/first_beat_only/{mode}")
        if not tile.dense:
            for j in range(cfg.lanes):
                for v in np.unique(tile.offsets[..., j]):
                    hit(f"offset/w{j}={int(v)}")
        hit("t/1", tile.t == 1)
        hit("t/fills_pipeline", tile.t > cfg.latency)
        x, vals = tile.x, tile.values
        hit("zero/act_beat", int((~x.any(axis=1)).sum()))
        hit("zero/act_row", sum(not x[:, r * W:(r + 1) * W].any() for r in range(R)))
        hit("zero/weight_col", sum(not vals[:, c].any() for c in range(C)))
        hit("zero/all_weights", not vals.any())
        hit("zero/all_acts", not x.any())
        hit("extreme/act_min", (x == a_lo).any())
        hit("extreme/act_max", (x == a_hi).any())
        hit("extreme/weight_min", (vals == w_lo).any())
        hit("extreme/weight_max", (vals == w_hi).any())
        y = expected(cfg, tile)
        hit("sum/largest", (y == largest).any())
        hit("sum/most_negative", (y == most_negative).any())
        hit("sum/needs_acc_bits", ((y >= 1 << (cfg.acc_bits - 2)) | (y < -(1 << (cfg.acc_bits - 2)))).any())
    for key, name in RUN_BINS.items():
        hit(name, (events or {}).get(key, 0))
    hit("tile/unstalled", sum(s == 0 for s in stalls or []))
    return Coverage(goals=goals(cfg), hits=hits)

