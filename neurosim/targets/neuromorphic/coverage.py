"""Functional coverage of the neuromorphic co-verification: named bins with goals, merged over runs.

A :class:`Coverage` holds bins (name -> hits, goal, group); :meth:`Coverage.merge` adds the hits
of another run (goals are requirements, not counts: the larger one is kept), :meth:`Coverage.unmet`
names the bins below their goal and :meth:`Coverage.table` prints bin, hits, goal, met. Bins of
a *group* (one per core configuration, e.g. "chunk 3 fired" of every configuration verified)
fold into one row per group in the short table.

What is counted, and where:

* from the stimulus and the engine's values (:func:`core_coverage`): a per-step recomputation of
  the core (``v + acc + bias`` before the clamp, the compare, the reset, the leak) gives
  saturation at both bounds of ``v``, saturation of the subtractive reset, accumulator sums at or
  beyond half of its full scale, spikes of neurons with negative thresholds, ties
  (``v == threshold``), spikes under every reset mode and spike rule, empty timesteps, sparse
  rows of 0 words (loaded; an axon without synapses gets no event, as in the engine), 1 word and
  the row's full chunks, dense and sparse storage, and every output chunk and lane firing per
  configuration. The recomputation must reproduce the engine's spikes of every step and its final
  membranes, otherwise :func:`core_coverage` raises: coverage is never computed from a model
  that disagrees with the spec;
* in the testbenches (``timing`` of their reports, :func:`timing_coverage`): the spike output
  stalled while valid, events offered while the dut was not ready, gaps in the event stream,
  ``eos`` high in the cycle the last event is taken, spike words drained after ``done``, and the
  number of ready-toggle probes of the protocol monitor;
* for the multi-core top (:func:`top_coverage`): the same timing bins, plus a top whose cores
  have mixed lane counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neurosim.errors import VerificationError

#: bins of the core's co-verification and their goals (minimum hits over the runs merged)
CORE_GOALS = {
    "storage dense": 1,
    "storage sparse": 1,
    **{f"spikes with reset {r}, rule {s}": 1 for r in ("subtract", "zero", "none") for s in ("gt", "ge")},
    "v saturates at v_max": 10,
    "v saturates at v_min": 10,
    "subtractive reset saturates": 10,
    "accumulator >= +1/2 full scale": 10,
    "accumulator <= -1/2 full scale": 10,
    "spikes with a negative threshold": 10,
    "tie: v == threshold": 10,
    "empty timestep": 10,
    "sparse row of 0 words (loaded)": 10,
    "sparse row of 1 word": 10,
    "sparse row of full chunks": 10,
}
#: bins counted by the testbenches (the ``timing`` field of their reports)
TIMING_GOALS = {
    "spikes stalled while valid": 1,
    "events offered while not ready": 1,
    "event gaps": 1,
    "eos with the last event": 1,
    "eos after the last event": 1,
    "spike words after done": 1,
    "ready-toggle probes": 1,
}
_TIMING_KEYS = {"spikes_stalled": "spikes stalled while valid", "events_not_ready": "events offered while not ready",
                "event_gaps": "event gaps", "eos_with_last_event": "eos with the last event",
                "eos_after_last_event": "eos after the last event", "spikes_after_done": "spike words after done",
                "ready_probes": "ready-toggle probes"}
#: bins of the multi-core top
#: (the top's ``done`` waits for its spike tap to drain, so no tap word follows ``done``: counted, no goal)
TOP_GOALS = {**{f"top: {k}": v for k, v in TIMING_GOALS.items()}, "top: spike words after done": 0,
             "top: mixed lane counts": 1}

GROUP_CHUNKS = "every output chunk fired (per core config)"
GROUP_LANES = "every output lane fired (per core config)"


@dataclass
class Bin:
    hits: int = 0
    goal: int = 1
    group: str | None = None

    @property
    def met(self) -> bool:
        return self.hits >= self.goal


@dataclass
class Coverage:
    """Named bins with goals; see the module docstring."""

    bins: dict[str, Bin] = field(default_factory=dict)

    def define(self, name: str, goal: int = 1, group: str | None = None) -> Coverage:
        if not isinstance(goal, int) or goal < 0:
            raise VerificationError(f"coverage bin {name!r}: goal must be an int >= 0, found {goal!r}")
        b = self.bins.setdefault(name, Bin(goal=goal, group=group))
        b.goal = max(b.goal, goal)
        return self

    def hit(self, name: str, n: int = 1) -> None:
        if name not in self.bins:
            raise VerificationError(f"coverage bin {name!r} is not defined; define it (with its goal) before "
                                    f"counting hits")
        self.bins[name].hits += int(n)

    def merge(self, other: Coverage) -> Coverage:
        """Add ``other``'s hits into this coverage (in place; returns it)."""
        for name, b in other.bins.items():
            self.define(name, b.goal, b.group)
            self.bins[name].hits += b.hits
        return self

    @classmethod
    def merged(cls, runs) -> Coverage:
        out = cls()
        for c in runs:
            if c is not None:
                out.merge(c)
        return out

    def unmet(self) -> list[str]:
        return [name for name, b in self.bins.items() if not b.met]

    @property
    def met(self) -> bool:
        return not self.unmet()

    def rows(self, collapse: bool = True) -> list[tuple[str, int, int, bool]]:
        """(bin, hits, goal, met); with ``collapse`` a group is one row: hits = its bins met, goal =
        its bins."""
        out, groups = [], {}
        for name, b in self.bins.items():
            if collapse and b.group:
                if b.group not in groups:
                    groups[b.group] = [0, 0]
                    out.append(b.group)
                groups[b.group][0] += int(b.met)
                groups[b.group][1] += 1
            else:
                out.append((name, b.hits, b.goal, b.met))
        return [(r, groups[r][0], groups[r][1], groups[r][0] == groups[r][1]) if isinstance(r, str) else r
                for r in out]

    def table(self, collapse: bool = True) -> str:
        rows = self.rows(collapse)
        width = max([len("bin")] + [len(r[0]) for r in rows])
        lines = [f"{'bin':<{width}}  {'hits':>8}  {'goal':>6}  met"]
        lines += [f"{name:<{width}}  {hits:>8}  {goal:>6}  {'yes' if met else 'NO'}" for name, hits, goal, met in rows]
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {name: {"hits": b.hits, "goal": b.goal, "group": b.group} for name, b in self.bins.items()}


def core_goals() -> Coverage:
    cov = Coverage()
    for name, goal in {**CORE_GOALS, **TIMING_GOALS}.items():
        cov.define(name, goal)
    return cov


def timing_coverage(timing: dict, prefix: str = "", goals: dict | None = None) -> Coverage:
    """The testbench's ``timing`` counts as bins (``prefix`` names the design, e.g. ``"top: "``;
    ``goals`` by full bin name, default :data:`TIMING_GOALS`)."""
    cov = Coverage()
    for key, name in _TIMING_KEYS.items():
        full = prefix + name
        cov.define(full, (goals or {}).get(full, TIMING_GOALS[name]))
        cov.hit(full, int(timing.get(key, 0)))
    return cov


def recompute(cfg, prog, events: list, steps: int):
    """The core's fixed-point update step by step (the spec in
    :mod:`neurosim.targets.neuromorphic.hdl.config`), for coverage only: per step the accumulator
    sums, the pre-clamp totals, the clamped ``v``, the thresholds' compare, the subtractive reset's
    difference and the spikes; and the final membranes. Yields dicts of arrays per step."""
    w = np.asarray(prog.weights, dtype=np.int64)
    bias, th = np.asarray(prog.bias, dtype=np.int64), np.asarray(prog.threshold, dtype=np.int64)
    vr = np.asarray(prog.v_reset, dtype=np.int64)
    lo, hi = cfg.v_min, cfg.v_max
    k = cfg.leak_shift

    def leak(x):
        return x - (x >> k) if k else x

    delayed = cfg.reset_timing == "delayed"
    v = np.zeros(cfg.neurons, dtype=np.int64)
    prev = np.zeros(cfg.neurons, dtype=bool)  # last step's spikes (a delayed reset applies them now)
    for t in range(steps):
        ev = list(events[t])
        acc = w[ev].sum(axis=0) if ev else np.zeros(cfg.neurons, dtype=np.int64)
        base = v
        if delayed and cfg.reset == "subtract":
            base = v - th * prev
        elif delayed and cfg.reset == "zero":
            base = np.where(prev, leak(vr), v)
        total = base + acc + bias
        vs = np.clip(total, lo, hi)
        fired = vs > th if cfg.spike_rule == "gt" else vs >= th
        diff = vs - th
        if delayed or cfg.reset == "none":
            after = vs
        elif cfg.reset == "subtract":
            after = np.where(fired, np.clip(diff, lo, hi), vs)
        else:
            after = np.where(fired, vr, vs)
        after = leak(after)
        yield {"acc": acc, "total": total, "vs": vs, "fired": fired, "diff": diff, "v": after, "prev": prev}
        v, prev = after, fired


def core_coverage(cfg, prog, events: list, spikes, membranes, label: str | None = None) -> Coverage:
    """Bins of one trace on core configuration ``cfg`` (see the module docstring): ``events`` per
    step (the axons the core receives), ``spikes`` ``[T, neurons]`` and ``membranes`` the engine's.

    ``label`` names the configuration in the per-config chunk/lane bins (default ``cfg.name()``)."""
    spikes = np.asarray(spikes, dtype=np.int64)
    steps = spikes.shape[0]
    cov = core_goals()
    for reset in ("subtract", "zero"):  # counted, no goal: the sweeps of immediate cores never reach them
        cov.define(f"delayed {reset} reset applied", 0)
    label = label or f"{cfg.name()}_{cfg.storage}"
    for c in range(cfg.chunks):
        cov.define(f"{label}: chunk {c} fired", 1, GROUP_CHUNKS)
    for lane in range(min(cfg.lanes, cfg.neurons)):
        cov.define(f"{label}: lane {lane} fired", 1, GROUP_LANES)
    cov.hit(f"storage {cfg.storage}", steps)
    acc_max = (1 << (cfg.acc_bits - 1)) - 1
    half = (acc_max + 1) // 2
    th = np.asarray(prog.threshold, dtype=np.int64)
    v = None
    for t, s in enumerate(recompute(cfg, prog, events, steps)):
        if not np.array_equal(s["fired"].astype(np.int64), spikes[t]):
            bad = np.flatnonzero(s["fired"].astype(np.int64) != spikes[t]).tolist()
            raise VerificationError(f"coverage of {label}: the recomputed core fires differently from the engine at "
                                    f"step {t} (neurons {bad}); fix neurosim.targets.neuromorphic.coverage.recompute")
        fired = s["fired"]
        cov.hit(f"spikes with reset {cfg.reset}, rule {cfg.spike_rule}", int(fired.sum()))
        cov.hit("v saturates at v_max", int((s["total"] > cfg.v_max).sum()))
        cov.hit("v saturates at v_min", int((s["total"] < cfg.v_min).sum()))
        if cfg.stores_prev_spike:
            cov.hit(f"delayed {cfg.reset} reset applied", int(s["prev"].sum()))
        if cfg.reset == "subtract" and cfg.reset_timing == "immediate":
            cov.hit("subtractive reset saturates", int((fired & ((s["diff"] > cfg.v_max) | (s["diff"] < cfg.v_min))).sum()))
        cov.hit("accumulator >= +1/2 full scale", int((s["acc"] >= half).sum()))
        cov.hit("accumulator <= -1/2 full scale", int((s["acc"] <= -half).sum()))
        cov.hit("spikes with a negative threshold", int((fired & (th < 0)).sum()))
        cov.hit("tie: v == threshold", int((s["vs"] == th).sum()))
        cov.hit("empty timestep", int(len(events[t]) == 0))
        for n in np.flatnonzero(fired):
            cov.hit(f"{label}: chunk {n // cfg.lanes} fired")
            cov.hit(f"{label}: lane {n % cfg.lanes} fired")
        v = s["v"]
    if v is not None and not np.array_equal(v, np.asarray(membranes, dtype=np.int64)):
        raise VerificationError(f"coverage of {label}: the recomputed final membranes differ from the engine's; fix "
                                f"neurosim.targets.neuromorphic.coverage.recompute")
    if cfg.storage == "sparse":
        words = -(-np.count_nonzero(np.asarray(prog.weights), axis=1) // cfg.lanes)  # ceil(nonzeros / lanes)
        cov.hit("sparse row of 0 words (loaded)", int((words == 0).sum()))
        for t in range(steps):
            for a in events[t]:
                cov.hit("sparse row of 1 word", int(words[a] == 1))
                cov.hit("sparse row of full chunks", int(words[a] == cfg.chunks))
    return cov


def top_coverage(timing: dict, lanes: list[int]) -> Coverage:
    """Bins of one run of the multi-core top: its testbench's timing counts and whether its cores
    (``lanes``: each core's lane count) mix lane counts."""
    cov = timing_coverage(timing, prefix="top: ", goals=TOP_GOALS)
    cov.define("top: mixed lane counts", TOP_GOALS["top: mixed lane counts"])
    cov.hit("top: mixed lane counts", int(len(set(lanes)) > 1))
    return cov
