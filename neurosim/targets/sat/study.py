"""What ``neurosim sat`` answers: a sparse training step against dense, the ablation and the pattern sweep.

The dense baseline runs on the same accelerator with the same dataflow switches; the ablation
turns the three dataflow optimisations on one at a time (and all together) for the sparse step
and divides the fully optimised dense step by it; the sweep repeats the comparison for every
pattern the accelerator lists.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

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
          sweep: bool = True, dense_layers: frozenset[str] | None = None) -> SATStudy:
    """Run the dense and N:M steps, and (optionally) the ablation and the pattern sweep.

    ``dense_layers``: GEMM layers kept dense (default: the first and the last weighted layer).
    ``batch`` is checked against the ``batch`` limit (:mod:`neurosim.limits`) first: the model's loop
    over reduction tiles of the weight-gradient GEMMs grows linearly with the batch.
    """
    from neurosim import limits
    from neurosim.errors import SATConfigError

    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise SATConfigError(f"--batch must be a positive integer, found {batch!r}")
    limits.check("batch", batch, f"--batch {batch}")
    start = time.perf_counter()

    def step(c: AcceleratorConfig, p: tuple[int, int]) -> StepResult:
        return simulate_step(workload, c, p, batch, dense_layers=dense_layers)

    dense = step(cfg, (1, 1))
    sparse = step(cfg, nm)
    rows: list[AblationRow] = []
    if ablation and nm[0] < nm[1]:
        variants = [("none", dict.fromkeys(SWITCHES, False))]
        variants += [(f"{s} only", {t: t == s for t in SWITCHES}) for s in SWITCHES]
        variants += [("all", dict.fromkeys(SWITCHES, True))]
        for label, sw in variants:
            c = cfg.with_dataflow(**sw)
            s = step(c, nm).cycles
            d = step(c, (1, 1)).cycles
            rows.append(AblationRow(label, sw, s, d, dense.cycles / s))
    pats: list[PatternRow] = []
    if sweep:
        for p in sorted(set(cfg.patterns) | ({tuple(nm)} if nm[0] < nm[1] else set()), key=lambda p: p[0] / p[1]):
            cycles = sparse.cycles if tuple(p) == tuple(nm) else step(cfg, p).cycles
            pats.append(PatternRow(tuple(p), cycles, dense.cycles / cycles, ideal_speedup(*p)))
    return SATStudy(workload, cfg, batch, dense, sparse, tuple(rows), tuple(pats), time.perf_counter() - start)
