"""Verify the SAT PE array (``sim/sat``) against numpy and the tile cycle model.

Expected values never come from the RTL: the output of a tile is the N:M GEMM in numpy (the
compressed weights expanded into the dense ``[rows * groups * m, cols]`` matrix they stand for,
then ``x @ W`` in int64), and its cycle count is :func:`neurosim.targets.sat.model.tile.tile_cycles`. The
cocotb testbench adds, per tile, the stall cycles it caused itself (output back-pressure while an
output beat is valid, an activation or weight beat due but not offered) and compares the measured
count with ``tile_cycles + stalls`` exactly; it also checks that the next tile's first weight beat
is taken in the cycle right after the previous tile's last output beat whenever it is offered
there (so a sequence takes the sum of its tiles' cycles).

One simulator build per :class:`~neurosim.targets.sat.hdl.config.SATConfig` runs any number of tiles
back to back, sparse and dense.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neurosim.errors import VerificationError
from neurosim.targets.sat.coverage import Coverage, collect
from neurosim.hdl.runner import Testbench, build_verilog, run_job
from neurosim.targets.sat.hdl import TOP, verilog_of
from neurosim.targets.sat.hdl.config import SATConfig
from neurosim.targets.sat.model.tile import tile_cycles

TESTBENCH = Testbench(top=TOP, module="test_sat", folder="sat", env="NEUROSIM_SAT")

#: the builds `neurosim verify sat` and the test suite sweep: every pattern of the issue (2:4, 2:8,
#: 1:8, 4:8 and dense-only builds), several shapes, widths from 3 to 12 bits, and grouped PEs:
#: two 2:8 groups (the sat-vcu1525 PE: 4 multipliers, a 16-wide window), two 1:4 groups and four
#: 1:4 groups (sat-vcu1525 running 1:4)
CAMPAIGN = (
    SATConfig(rows=1, cols=1, n=2, m=4),
    SATConfig(rows=2, cols=3, n=2, m=8),
    SATConfig(rows=4, cols=4, n=2, m=8),
    SATConfig(rows=3, cols=5, n=1, m=8, act_bits=6, weight_bits=4),
    SATConfig(rows=4, cols=4, n=4, m=8),
    SATConfig(rows=3, cols=2, n=2, m=4, act_bits=4, weight_bits=3, acc_bits=14),
    SATConfig(rows=5, cols=3, n=4, m=8, act_bits=12, weight_bits=10),
    SATConfig(rows=2, cols=2, n=4, m=4),
    SATConfig(rows=3, cols=4, n=8, m=8, act_bits=5, weight_bits=7),
    SATConfig(rows=2, cols=3, groups=2, n=2, m=8),
    SATConfig(rows=3, cols=2, groups=2, n=1, m=4, act_bits=6, weight_bits=5),
    SATConfig(rows=2, cols=2, groups=4, n=1, m=4, act_bits=7, weight_bits=9),
)


@dataclass
class SATTile:
    values: np.ndarray  # [rows, cols, groups * n] weight values (weight j in group j // n)
    offsets: np.ndarray  # [rows, cols, groups * n] offsets below m into the weight's group (ignored in dense mode)
    dense: bool
    x: np.ndarray  # [t, rows * groups * m] activations
    kind: str = "random"
    wgap: float = 0.0  # probability a due weight beat is not offered
    agap: float = 0.0  # probability a due activation beat is not offered
    stall: float = 0.0  # probability the output sink holds ready low
    #: the dense bit packed on weight beats 1..rows-1 (None: the tile's own mode on every beat);
    #: the array samples the bit of beat 0 only, so these must make no difference
    later_dense: tuple | None = None

    @property
    def t(self) -> int:
        return int(self.x.shape[0])

    def beat_dense(self) -> list[bool]:
        """The dense bit of each of the ``rows`` weight beats: beat 0 carries the tile's mode."""
        rows = int(self.values.shape[0])
        later = [self.dense] * (rows - 1) if self.later_dense is None else [bool(b) for b in self.later_dense]
        if len(later) != rows - 1:
            raise VerificationError(f"SATTile.later_dense must give the dense bit of the {rows - 1} weight beats "
                                    f"after the first, found {len(later)} bits; give one per beat or None")
        return [bool(self.dense)] + later


@dataclass
class SATVerifyResult:
    passed: bool
    config: SATConfig
    tiles: int
    sparse_tiles: int
    dense_tiles: int
    beats: int
    differing_bits: int
    differing_cycles: int
    stall_cycles: int
    unstalled_tiles: int  # tiles that ran without a stall: their count is the bare tile_cycles
    build_s: float
    run_s: float
    first_difference: str | None
    simulator: str
    kinds: dict = field(default_factory=dict)
    protocol_violations: int = 0  # stream-rule violations the monitors counted (any fails the run)
    protocol: dict = field(default_factory=dict)  # per kind, and the combinational paths seen
    coverage: Coverage | None = None


def dense_weights(cfg: SATConfig, tile: SATTile) -> np.ndarray:
    """The dense ``[rows * W, cols]`` matrix (``W = groups * m``) a tile's weights stand for:
    weight ``j`` of PE ``(r, c)`` at row ``r*W + (j // n)*m + off_j`` (sparse) or ``r*W + j`` (dense)."""
    R, C, n, m, L = cfg.rows, cfg.cols, cfg.n, cfg.m, cfg.lanes
    j = np.arange(L)
    within = j if tile.dense else (j // n) * m + np.asarray(tile.offsets)
    rows = np.arange(R)[:, None, None] * cfg.window + np.broadcast_to(within, (R, C, L))
    cols = np.broadcast_to(np.arange(C)[None, :, None], (R, C, L))
    w = np.zeros((R * cfg.window, C), dtype=np.int64)
    np.add.at(w, (rows.ravel(), cols.ravel()), np.asarray(tile.values, dtype=np.int64).ravel())
    return w


def expected(cfg: SATConfig, tile: SATTile) -> np.ndarray:
    """Output beats ``[t, cols]`` of a tile: the N:M GEMM ``x @ W`` in exact int64 arithmetic."""
    return np.asarray(tile.x, dtype=np.int64) @ dense_weights(cfg, tile)


def _limits(bits: int) -> tuple[int, int]:
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def make_tile(cfg: SATConfig, rng: np.random.Generator, *, sparse: bool, t: int, kind: str = "random") -> SATTile:
    """One tile. ``kind``: ``random`` (uniform values, some zero activations, rows and beats),
    ``min_min`` (every weight and activation the most negative value: the largest positive sums),
    ``max_min`` (largest weights, most negative activations: the most negative sums), ``extreme``
    (each value independently the min or the max), ``zero_weights``, ``zero_acts``,
    ``first_beat_only`` (random values, one or two beats, every weight beat after the first
    carrying the opposite dense bit: only the first beat's bit may take effect). Random tiles
    carry a random dense bit on the later weight beats and zero some weight columns."""
    R, C, n, m, G = cfg.rows, cfg.cols, cfg.n, cfg.m, cfg.groups
    L, W = cfg.lanes, cfg.window
    if sparse and cfg.dense_only:
        raise VerificationError(f"a dense-only build (n:m = {cfg.pattern!r}) runs dense tiles only; pass sparse=False")
    wlo, whi = _limits(cfg.weight_bits)
    alo, ahi = _limits(cfg.act_bits)
    if sparse:  # distinct offsets per group, in random order (the hardware does not need them sorted)
        offsets = np.argsort(rng.random((R, C, G, m)), axis=-1)[..., :n].reshape(R, C, L)
    elif cfg.dense_only:
        offsets = np.zeros((R, C, L), dtype=np.int64)
    else:  # garbage the PE must ignore in dense mode
        offsets = rng.integers(0, m, size=(R, C, L))
    if kind == "random":
        values = rng.integers(wlo, whi + 1, size=(R, C, L))
        x = rng.integers(alo, ahi + 1, size=(t, R * W))
        x[rng.random(x.shape) < rng.choice([0.0, 0.3])] = 0
        x[rng.random(t) < 0.15] = 0  # all-zero beats
        for r in np.nonzero(rng.random(R) < 0.15)[0]:  # all-zero row windows
            x[:, r * W:(r + 1) * W] = 0
        values[:, rng.random(C) < 0.15] = 0  # all-zero weight columns (an output column of zeros)
    elif kind == "min_min":
        values, x = np.full((R, C, L), wlo), np.full((t, R * W), alo)
    elif kind == "max_min":
        values, x = np.full((R, C, L), whi), np.full((t, R * W), alo)
    elif kind == "extreme":
        values = rng.choice([wlo, whi], size=(R, C, L))
        x = rng.choice([alo, ahi], size=(t, R * W))
    elif kind == "zero_weights":
        values, x = np.zeros((R, C, L), dtype=np.int64), rng.integers(alo, ahi + 1, size=(t, R * W))
    elif kind == "zero_acts":
        values, x = rng.integers(wlo, whi + 1, size=(R, C, L)), np.zeros((t, R * W), dtype=np.int64)
    elif kind == "first_beat_only":
        values, x = rng.integers(wlo, whi + 1, size=(R, C, L)), rng.integers(alo, ahi + 1, size=(t, R * W))
    else:
        raise VerificationError(f"tile kind must be one of {EDGE_KINDS + ('random',)!r}, found {kind!r}")
    if kind == "first_beat_only":
        later = tuple([sparse] * (R - 1))
    elif kind == "random":
        later = tuple(bool(b) for b in rng.random(R - 1) < 0.5)
    else:
        later = None
    return SATTile(values=np.asarray(values, dtype=np.int64), offsets=np.asarray(offsets, dtype=np.int64),
                   dense=not sparse, x=np.asarray(x, dtype=np.int64), kind=kind, later_dense=later)


EDGE_KINDS = ("min_min", "max_min", "extreme", "zero_weights", "zero_acts", "first_beat_only")


def random_tiles(cfg: SATConfig, count: int, seed: int, max_t: int = 20) -> list[SATTile]:
    """``count`` seeded random tiles plus the edge tiles of ``cfg`` (each edge kind in every mode
    the build has). The first random tile runs with always-valid sources and an always-ready sink
    (the bare ``tile_cycles``); the others with random weight and activation gaps and output
    back-pressure. Sparse builds run sparse and dense tiles in about a 3:2 ratio."""
    rng = np.random.default_rng(seed)
    modes = [False] if cfg.dense_only else [True, False]
    tiles = [make_tile(cfg, rng, sparse=s, t=1 if k == "first_beat_only" else int(rng.integers(1, 6)), kind=k)
             for k in EDGE_KINDS for s in modes]
    for k in range(count):
        sparse = (not cfg.dense_only) and bool(rng.random() < 0.6)
        tile = make_tile(cfg, rng, sparse=sparse, t=int(rng.integers(1, max_t + 1)))
        if k:
            tile.wgap, tile.agap, tile.stall = (float(rng.choice([0.0, 0.2, 0.5])), float(rng.choice([0.0, 0.2, 0.5])),
                                                float(rng.choice([0.0, 0.3, 0.6, 0.9])))
        tiles.insert(len(tiles) if k else 0, tile)
    return tiles


def job_of(cfg: SATConfig, tiles: list[SATTile], seed: int = 0) -> dict:
    """The testbench's job: packed beats, numpy's outputs and the model's cycles for every tile."""
    from neurosim.targets.sat.hdl.array import (
        act_beat_layout,
        pack_act_beat,
        pack_weight_beat,
        weight_beat_layout,
    )

    entries = []
    for tile in tiles:
        y = expected(cfg, tile)
        entries.append({
            "weights": [pack_weight_beat(cfg, tile.values[r], tile.offsets[r], d) for r, d in enumerate(tile.beat_dense())],
            "acts": [pack_act_beat(cfg, tile.x[i], i == tile.t - 1) for i in range(tile.t)],
            "y": y.tolist(), "cycles": tile_cycles(cfg.rows, cfg.cols, tile.t),
            "wgap": tile.wgap, "agap": tile.agap, "stall": tile.stall, "kind": tile.kind, "dense": tile.dense,
        })
    params = {"rows": cfg.rows, "cols": cfg.cols, "acc_bits": cfg.acc_bits,
              "weight_payload_bits": weight_beat_layout(cfg).size, "act_payload_bits": act_beat_layout(cfg).size}
    return {"params": params, "seed": seed, "tiles": entries, "probe_rate": PROBE_RATE}


#: the fraction of cycles on which the testbench probes the streams for combinational paths
PROBE_RATE = 0.1


def build(cfg: SATConfig, build_dir, simulator: str = "icarus", mutate: str | None = None):
    return build_verilog(verilog_of(cfg, TOP, mutate), TESTBENCH, build_dir, simulator)


def run(cfg: SATConfig, tiles: list[SATTile], work_dir, simulator: str = "icarus", mutate: str | None = None,
        seed: int = 0, built=None) -> SATVerifyResult:
    """Build (unless ``built`` = (runner, build_s)) and run ``tiles`` back to back; count differences."""
    report, build_s, run_s = run_job(TESTBENCH, job_of(cfg, tiles, seed), work_dir, simulator,
                                     verilog_of(cfg, TOP, mutate) if built is None else None, built)
    kinds: dict[str, int] = {}
    for tile in tiles:
        key = f"{tile.kind}/{'dense' if tile.dense else 'sparse'}"
        kinds[key] = kinds.get(key, 0) + 1
    bits = sum(d["bits"] for d in report["tiles"]) + report["extra_bits"]
    cycles = sum(d["cycles"] for d in report["tiles"]) + report["boundary"]
    violations = sum(report["protocol"].values())
    cov = collect(cfg, tiles, expected, report["events"], [d["stalls"] for d in report["tiles"]])
    return SATVerifyResult(
        passed=not bits and not cycles and report["missing_beats"] == 0 and not violations, config=cfg,
        tiles=len(tiles),
        sparse_tiles=sum(not t.dense for t in tiles), dense_tiles=sum(t.dense for t in tiles),
        beats=sum(t.t for t in tiles), differing_bits=bits + report["missing_beats"] * (cfg.cols * cfg.acc_bits + 1),
        differing_cycles=cycles, stall_cycles=sum(d["stalls"] for d in report["tiles"]),
        unstalled_tiles=sum(d["stalls"] == 0 for d in report["tiles"]), build_s=build_s, run_s=run_s,
        first_difference=report["first"] or report["first_protocol"], simulator=simulator, kinds=kinds,
        protocol_violations=violations, protocol={**report["protocol"], "paths": report["protocol_paths"],
                                                  "probes": report["protocol_probes"]}, coverage=cov)


def verify_campaign(tiles: int, seed: int, work_dir, simulator: str = "icarus", configs=CAMPAIGN,
                    progress=None) -> list[SATVerifyResult]:
    """``tiles`` random tiles spread over ``configs`` (plus each build's edge tiles)."""
    out = []
    for k, cfg in enumerate(configs):
        share = tiles // len(configs) + (1 if k < tiles % len(configs) else 0)
        r = run(cfg, random_tiles(cfg, share, seed=seed * 1000 + k), Path(work_dir) / cfg.name(), simulator,
                seed=seed * 1000 + k)
        out.append(r)
        if progress:
            progress(r)
    return out
