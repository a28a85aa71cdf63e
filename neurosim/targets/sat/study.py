"""What ``neurosim sat`` answers: a sparse training step against dense, the ablation and the pattern sweep.

The dense baseline runs on the same accelerator with the same dataflow switches; the ablation
turns the three dataflow optimisations on one at a time (and all together) for the sparse step
and divides the fully optimised dense step by it; the sweep repeats the comparison for every
pattern the accelerator lists.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from neurosim.targets.sat.model.step import StepResult, ideal_speedup, simulate_step
from neurosim.targets.sat.model.workload import Workload
from neurosim.targets.sat.config import AcceleratorConfig

SWITCHES = ("interleave", "pregenerate", "offline_schedule")


@dataclass(frozen=True)
class AblationRow:
    label: str
    switches: dict[str, bool]
    sparse_cycles: int
    dense_cycles: int
    speedup: float  # fully optimised dense step / this sparse step


@dataclass(frozen=True)
class PatternRow:
    nm: tuple[int, int]
    cycles: int
    speedup: float
    ideal: float


@dataclass(frozen=True)
class SATStudy:
    workload: Workload
    config: AcceleratorConfig
    batch: int
    dense: StepResult
    sparse: StepResult
    ablation: tuple[AblationRow, ...]
    patterns: tuple[PatternRow, ...]
    seconds: float

    @property
    def speedup(self) -> float:
        return self.dense.cycles / self.sparse.cycles

    @property
    def ideal(self) -> float:
        """3 / (2N/M + 1): the bound when every GEMM layer is N:M and only MACs take time."""
        return ideal_speedup(*self.sparse.nm)

    @property
    def mac_speedup(self) -> float:
        """Executed MACs of the dense step over the sparse step: this network's compute-only bound
        (layers kept dense and activation products included)."""
        return self.dense.macs / max(1, self.sparse.macs)


def study(workload: Workload, cfg: AcceleratorConfig, nm: tuple[int, int], batch: int = 32, *, ablation: bool = True,
          sweep: bool = True, dense_layers: frozenset[str] | None = None,
          progress: Callable[[int, int], None] | None = None) -> SATStudy:
    """Run the dense and N:M steps, and (optionally) the ablation and the pattern sweep.

    ``dense_layers``: GEMM layers kept dense (default: the first and the last weighted layer).
    ``batch`` is checked (type, the ``batch`` limit of :mod:`neurosim.limits`) by
    :func:`~neurosim.targets.sat.model.step.simulate_step`, which every step goes through.
    ``progress(done, total)`` is called after each modelled training step, so a caller can show
    how far a long study (big network, big batch) has got; ``total`` is the number of steps the
    study models (known before the first one runs).
    """
    sparse_run = nm[0] < nm[1]
    variants: list[tuple[str, dict[str, bool]]] = []
    if ablation and sparse_run:
        variants = [("none", dict.fromkeys(SWITCHES, False))]
        variants += [(f"{s} only", {t: t == s for t in SWITCHES}) for s in SWITCHES]
        variants += [("all", dict.fromkeys(SWITCHES, True))]
    patterns: list[tuple[int, int]] = []
    if sweep:
        patterns = sorted(set(cfg.patterns) | ({tuple(nm)} if sparse_run else set()), key=lambda p: p[0] / p[1])
    # dense and sparse, each ablation variant sparse and dense, each swept pattern but nm (reused)
    total = 2 + 2 * len(variants) + sum(1 for p in patterns if tuple(p) != tuple(nm))
    done = 0
    start = time.perf_counter()

    def step(c: AcceleratorConfig, p: tuple[int, int]) -> StepResult:
        nonlocal done
        result = simulate_step(workload, c, p, batch, dense_layers=dense_layers)
        done += 1
        if progress is not None:
            progress(done, total)
        return result

    dense = step(cfg, (1, 1))
    sparse = step(cfg, nm)
    rows: list[AblationRow] = []
    for label, sw in variants:
        c = cfg.with_dataflow(**sw)
        s = step(c, nm).cycles
        d = step(c, (1, 1)).cycles
        rows.append(AblationRow(label, sw, s, d, dense.cycles / s))
    pats: list[PatternRow] = []
    for p in patterns:
        cycles = sparse.cycles if tuple(p) == tuple(nm) else step(cfg, p).cycles
        pats.append(PatternRow(tuple(p), cycles, dense.cycles / cycles, ideal_speedup(*p)))
    return SATStudy(workload, cfg, batch, dense, sparse, tuple(rows), tuple(pats), time.perf_counter() - start)
