r"""One training step of a workload on a SAT accelerator: cycles, time, traffic and energy per layer and phase.

The step is the sum over layers of three phases (see :mod:`neurosim.targets.sat.model.workload`):
``fwd`` (forward GEMMs and the forward vector work), ``bwd`` (backward-data GEMMs and the backward
vector work) and ``wg`` (weight-gradient GEMMs and the weight update). Under BDWP with pattern
N:M the ``fwd`` and ``bwd`` GEMMs of weighted layers run sparse, ``wg`` stays dense. Layers listed
in ``dense_layers`` (by default the first and the last weighted layer, as N:M training usually
keeps them dense) run dense in every phase.

BDWP needs two compressed copies of each sparse weight per step: pruned along ``k`` for ``fwd``
and along ``n`` for ``bwd``. The weight generator makes them at ``generator_lanes`` weights per
cycle. With *pre-generation* the copies are made while the layer's weight update runs (the
freshly updated weights are on chip), so only the part longer than the layer's ``wg`` phase
shows; without it, generation runs in front of the ``fwd`` and the ``bwd`` GEMM and re-reads the
dense weights from DRAM.

The ideal speedup of a step counts only the GEMMs' multiply-accumulates:
:math:`3 / (2N/M + 1)` when every layer is sparse. Everything else -- array fill and drain,
partial tiles, DRAM stalls, the weight generator, the vector work and the dense layers -- keeps
the modelled speedup below it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neurosim import limits
from neurosim.targets.sat.model import kernel as K
from neurosim.targets.sat.model.workload import Workload
from neurosim.errors import SATConfigError
from neurosim.targets.sat.config import AcceleratorConfig

PHASES = ("fwd", "bwd", "wg")
GEMM_KINDS = frozenset({"conv", "linear", "matmul"})
#: Element-wise kinds applied in the PE array's output path as results are written (ReLU, residual
#: add, a constant scale): no vector-unit cycles and no DRAM traffic of their own; their operations
#: still cost energy.
FUSED_KINDS = frozenset({"relu", "add", "scale"})
#: Vector work of the weight update per weight (SGD with momentum: v = mu v + g; w -= lr v).
UPDATE_OPS = 4


@dataclass(frozen=True)
class PhaseCost:
    """Cost of one layer in one phase."""

    cycles: int = 0
    compute_cycles: int = 0  # busy PE-array (or vector-unit) cycles
    stall_cycles: int = 0  # DRAM stalls and serialised transfers
    generator_cycles: int = 0  # N:M weight generation that was not hidden
    macs: int = 0  # multiply-accumulates executed
    dense_macs: int = 0  # multiply-accumulates of the dense GEMM (useful work)
    vector_ops: int = 0
    dram_bytes: int = 0
    sram_bytes: int = 0
    sparse: bool = False

    def __add__(self, o: PhaseCost) -> PhaseCost:
        return PhaseCost(*(getattr(self, f) + getattr(o, f) for f in _NUMERIC), sparse=self.sparse or o.sparse)


_NUMERIC = ("cycles", "compute_cycles", "stall_cycles", "generator_cycles", "macs", "dense_macs", "vector_ops",
            "dram_bytes", "sram_bytes")


@dataclass(frozen=True)
class LayerCost:
    name: str
    kind: str
    phases: dict[str, PhaseCost]

    @property
    def cycles(self) -> int:
        return sum(p.cycles for p in self.phases.values())


@dataclass(frozen=True)
class StepResult:
    """A training step: per-layer costs, totals, time and energy."""

    workload: str
    config: AcceleratorConfig
    nm: tuple[int, int]
    batch: int
    layers: tuple[LayerCost, ...]
    energy_pj: dict[str, float] = field(default_factory=dict)

    @property
    def cycles(self) -> int:
        return sum(layer.cycles for layer in self.layers)

    def phase_total(self, phase: str) -> PhaseCost:
        total = PhaseCost()
        for layer in self.layers:
            total = total + layer.phases[phase]
        return total

    @property
    def time_s(self) -> float:
        return self.cycles / self.config.clock_hz

    @property
    def total_energy_pj(self) -> float:
        return float(sum(self.energy_pj.values()))

    @property
    def macs(self) -> int:
        """Multiply-accumulates the PE array executes in the step."""
        return sum(self.phase_total(p).macs for p in PHASES)

    def phase_energy_pj(self, phase: str) -> float:
        """Energy of one phase: its operations and traffic, plus static power over its time."""
        cfg, p = self.config, self.phase_total(phase)
        return (p.macs * cfg.mac_pj + p.vector_ops * cfg.vector_op_pj + p.sram_bytes * cfg.sram_pj_per_byte
                + p.dram_bytes * cfg.dram_pj_per_byte + cfg.static_w * p.cycles / cfg.clock_hz * 1e12)

    def phase_utilisation(self, phase: str) -> float:
        p = self.phase_total(phase)
        return p.macs / max(1, p.cycles * self.config.macs_per_cycle)

    def breakdown(self) -> dict[str, float]:
        """Where the step's cycles go: ``macs`` (executed MACs at the array's peak rate), ``array``
        (the rest of the PE array's busy time: fill, drain, partial tiles, idle lanes), ``dram``
        (stalls), ``generator`` (N:M weight generation not hidden) and ``vector`` (the vector unit,
        including the weight update). The five add up to :attr:`cycles`."""
        gemm = [layer for layer in self.layers if layer.kind in GEMM_KINDS]
        vec = [layer for layer in self.layers if layer.kind not in GEMM_KINDS]
        macs = self.macs / self.config.macs_per_cycle
        busy = sum(p.compute_cycles for layer in gemm for p in layer.phases.values())
        stall = sum(p.stall_cycles for layer in gemm for p in layer.phases.values())
        gen = sum(p.generator_cycles for layer in gemm for p in layer.phases.values())
        update = sum(p.cycles for layer in gemm for p in layer.phases.values()) - busy - stall - gen
        return {"macs": macs, "array": busy - macs, "dram": float(stall), "generator": float(gen),
                "vector": float(update + sum(layer.cycles for layer in vec))}

    def utilisation(self) -> float:
        """Executed MACs over peak MACs of the PE array during the whole step."""
        macs = sum(self.phase_total(p).macs for p in PHASES)
        return macs / max(1, self.cycles * self.config.macs_per_cycle)


def index_bits(m: int) -> int:
    """Bits of one kept weight's offset inside its group of M."""
    return max(1, (m - 1).bit_length()) if m > 1 else 0


def hw_vector(cfg: AcceleratorConfig, m: int) -> np.ndarray:
    """The kernel's hardware vector for ``cfg`` and group size ``m`` (offsets of ``log2 M`` bits).

    DRAM transfers are always double buffered (``H_OVERLAP``); the kernel can also serialise them,
    which the tests use to check it against the reference.
    """
    hw = np.zeros(K.HW_FIELDS, dtype=np.int64)
    hw[K.H_ROWS], hw[K.H_COLS] = cfg.rows, cfg.cols
    hw[K.H_ACT_BITS], hw[K.H_W_BITS], hw[K.H_IDX_BITS] = cfg.act_bits, cfg.weight_bits, index_bits(m)
    hw[K.H_ACC_BITS] = cfg.acc_bits
    hw[K.H_IBUF], hw[K.H_OBUF] = cfg.ifmap_buffer_bytes, cfg.ofmap_buffer_bytes
    hw[K.H_OVERLAP] = 1
    hw[K.H_INTERLEAVE] = int(cfg.interleave)
    hw[K.H_SCHEDULE] = int(cfg.offline_schedule)
    hw[K.H_BYTES_PER_KCYC] = _bytes_per_kcycle(cfg)
    return hw


def default_dense_layers(workload: Workload) -> frozenset[str]:
    """The first and the last weighted layer (kept dense by N:M training practice)."""
    weighted = [g.name for g in workload.gemms if g.weighted]
    return frozenset(weighted[:1] + weighted[-1:])


def gemm_table(workload: Workload, batch: int, nm: tuple[int, int], red_dense: int, red_sparse: int,
               dense_layers: frozenset[str]) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """The kernel's GEMM table of a step (rows: fwd, wg, then bwd of each layer) and each row's
    ``(layer index, phase)``. ``nm`` with N < M makes the weighted layers not in ``dense_layers``
    sparse in fwd and bwd."""
    n, m = nm
    rows: list[list[int]] = []
    where: list[tuple[int, str]] = []
    for i, g in enumerate(workload.gemms):
        sp = n < m and g.weighted and g.name not in dense_layers
        bm = batch * g.m
        shapes = {"fwd": (bm, g.k, g.n, sp), "wg": (g.k, bm, g.n, False)}
        if g.needs_dx:
            shapes["bwd"] = (bm, g.n, g.k, sp)
        for phase, (mm, kk, nn, s) in shapes.items():
            rows.append([mm, kk, nn, g.count, red_sparse if s else red_dense, n if s else 1, m if s else 1, int(s)])
            where.append((i, phase))
    return np.array(rows, dtype=np.int64).reshape(-1, K.GEMM_FIELDS), where


def simulate_step(workload: Workload, cfg: AcceleratorConfig, nm: tuple[int, int] = (1, 1), batch: int = 1,
                  dense_layers: frozenset[str] | None = None) -> StepResult:
    """Model one training step of ``workload`` with pattern ``nm`` (``(1, 1)`` or ``(M, M)``: dense)."""
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise SATConfigError(f"batch must be a positive integer, found {_short(batch)}")
    if batch.bit_length() > 63:
        raise SATConfigError(f"batch must be below 2**63 (the cycle model counts in 64-bit integers), found "
                             f"{_short(batch)}; use a realistic training batch such as 32")
    # every path (study, bench, sweep) models its steps here: the one place the batch is bounded
    limits.check("batch", batch, f"--batch {batch}")
    n, m = int(nm[0]), int(nm[1])
    if not 1 <= n <= m:
        raise SATConfigError(f"N:M pattern {n}:{m} needs 1 <= N <= M; use e.g. 2:8")
    cfg.check_pattern(n, m)
    sparse_run = n < m
    dense_layers = default_dense_layers(workload) if dense_layers is None else frozenset(dense_layers)
    unknown = dense_layers - {g.name for g in workload.gemms}
    if unknown:
        raise SATConfigError(f"dense_layers names {min(unknown)!r}, which is not a GEMM layer of "
                             f"{workload.name!r}")
    red_dense = cfg.reduction_per_pe(1, 1)
    red_sparse = cfg.reduction_per_pe(n, m) if sparse_run else red_dense

    _check_int64(workload, batch, cfg)
    table, where = gemm_table(workload, batch, (n, m), red_dense, red_sparse, dense_layers)
    res = np.zeros((len(table), K.RESULT_FIELDS), dtype=np.int64)
    K.gemm_cycles(table, hw_vector(cfg, m), res)

    phase_costs: list[dict[str, PhaseCost]] = [{p: PhaseCost() for p in PHASES} for _ in workload.gemms]
    for (i, phase), r, t in zip(where, res, table):
        phase_costs[i][phase] = PhaseCost(
            cycles=int(r[K.R_CYCLES]), compute_cycles=int(r[K.R_COMPUTE]), stall_cycles=int(r[K.R_STALL]),
            macs=int(r[K.R_MACS]), dense_macs=int(r[K.R_USEFUL]), dram_bytes=int(r[K.R_DRAM_BYTES]),
            sram_bytes=int(r[K.R_SRAM_BYTES]), sparse=bool(t[K.G_SPARSE]))

    # -- weight generation (BDWP) and the weight update --------------------------------------
    bytes_w = cfg.weight_bits / 8
    for i, g in enumerate(workload.gemms):
        if not g.weighted:
            continue
        weights = g.k * g.n * g.count
        upd = _vector_cost(np.array([weights]), np.array([UPDATE_OPS]), cfg, 3)[0]  # read w, g; write w
        pc = phase_costs[i]
        pc["wg"] = pc["wg"] + PhaseCost(cycles=upd[0], compute_cycles=upd[0], vector_ops=weights * UPDATE_OPS,
                                        dram_bytes=upd[1])
        if not pc["fwd"].sparse:
            continue
        gen = -(-weights // cfg.generator_lanes)  # one direction
        stored = -(-weights * n // m)
        out_bytes = int(np.ceil(stored * (cfg.weight_bits + index_bits(m)) / 8))
        if cfg.pregenerate:
            hidden = max(0, 2 * gen - pc["wg"].cycles)
            pc["wg"] = pc["wg"] + PhaseCost(cycles=hidden, generator_cycles=hidden, dram_bytes=2 * out_bytes)
        else:
            for phase in ("fwd", "bwd"):
                if phase == "bwd" and not g.needs_dx:
                    continue
                read = int(np.ceil(weights * bytes_w))
                xfer = _xfer_cycles(read + out_bytes, cfg)
                extra = gen + xfer
                pc[phase] = pc[phase] + PhaseCost(cycles=extra, generator_cycles=gen, stall_cycles=xfer,
                                                  dram_bytes=read + out_bytes)

    layers = [LayerCost(g.name, g.kind, pc) for g, pc in zip(workload.gemms, phase_costs)]

    # -- vector layers -------------------------------------------------------------------------
    if workload.vectors:
        elems = np.array([v.elements * batch for v in workload.vectors], dtype=np.int64)
        fwd = _vector_cost(elems, np.array([v.fwd_ops for v in workload.vectors]), cfg, 2)
        bwd = _vector_cost(elems, np.array([v.bwd_ops for v in workload.vectors]), cfg, 2)
        for v, e, f, b in zip(workload.vectors, elems, fwd, bwd):
            if v.kind in FUSED_KINDS:
                f = b = (0, 0)
            layers.append(LayerCost(v.name, v.kind, {
                "fwd": PhaseCost(cycles=f[0], compute_cycles=f[0], vector_ops=int(e) * v.fwd_ops, dram_bytes=f[1]),
                "bwd": PhaseCost(cycles=b[0], compute_cycles=b[0], vector_ops=int(e) * v.bwd_ops, dram_bytes=b[1]),
                "wg": PhaseCost()}))
    result = StepResult(workload.name, cfg, (n, m), batch, tuple(layers))
    return StepResult(result.workload, cfg, (n, m), batch, result.layers, energy_pj=_energy(result))


#: Largest batch-dependent size the int64 kernels may form: a GEMM's multiply-accumulates times
#: 2**10 (its cycles, tiles and bytes stay far below that on real configs) and a vector layer's
#: operations or transfer bytes times 1000 (the kernel's bytes-to-cycles step) must stay below it
#: (half of int64's range: a margin for the kernel's sums).
INT64_HEADROOM = 2**62


def _check_int64(workload: Workload, batch: int, cfg: AcceleratorConfig) -> None:
    """Raise :class:`SATConfigError` if the step's counts would overflow the kernels' 64-bit integers.

    The numba kernels count in int64, which wraps silently: a batch raised far past the ``batch``
    limit (``--limit batch=1e10``) would report wrapped cycles and MACs with exit 0. The sizes are
    recomputed here with Python integers (exact) before the GEMM table or the kernels see them, and
    the message gives the largest batch that fits (every size is linear in the batch). The three
    GEMMs of a layer (fwd, bwd, wg) have the same multiply-accumulates.
    """
    worst, what = 0, ""
    for g in workload.gemms:
        size = batch * g.m * g.k * g.n * g.count << 10
        if size > worst:
            worst, what = size, f"layer {g.name!r}"
    for v in workload.vectors:
        size = max(v.elements * batch * max(v.fwd_ops, v.bwd_ops, 1),
                   -(-3 * v.elements * batch * cfg.act_bits // 8) * 1000)
        if size > worst:
            worst, what = size, f"layer {v.name!r}"
    if worst > INT64_HEADROOM:
        fits = batch * INT64_HEADROOM // worst
        if fits < 1:
            raise SATConfigError(f"{what} of {workload.name!r} is too large for the cycle model's 64-bit counters "
                                 f"even at batch 1; split the layer or model a smaller network")
        raise SATConfigError(f"--batch {batch} makes {what} of {workload.name!r} too large for the cycle model's "
                             f"64-bit counters; use --batch {fits} or less")


def _short(value: object) -> str:
    """``repr(value)``, cut to 80 characters (a hostile caller may pass a huge object); an integer
    of more than 30 digits is described by its size (Python refuses to print one over 4,300)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 100:
        sign = "a negative" if value < 0 else "an"
        return f"{sign} integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _xfer_cycles(nbytes: int, cfg: AcceleratorConfig) -> int:
    return int(np.ceil(nbytes * cfg.clock_hz / cfg.dram_bytes_per_s))


def _vector_cost(elements: np.ndarray, ops: np.ndarray, cfg: AcceleratorConfig, tensors: int) -> list[tuple[int, int]]:
    """(cycles, DRAM bytes) per row of the vector unit (see :func:`kernel.vector_cycles`)."""
    out = np.zeros((len(elements), 2), dtype=np.int64)
    K.vector_cycles(np.asarray(elements, dtype=np.int64), np.asarray(ops, dtype=np.int64), tensors,
                    cfg.vector_lanes, cfg.act_bits, _bytes_per_kcycle(cfg), True, out)
    return [(int(c), int(b)) for c, b in out]


def _bytes_per_kcycle(cfg: AcceleratorConfig) -> int:
    return max(1, round(cfg.dram_bytes_per_s / cfg.clock_hz * 1000))


def _energy(result: StepResult) -> dict[str, float]:
    cfg = result.config
    macs = vec = dram = sram = 0
    for layer in result.layers:
        for p in layer.phases.values():
            macs += p.macs
            vec += p.vector_ops
            dram += p.dram_bytes
            sram += p.sram_bytes
    return {
        "mac": macs * cfg.mac_pj,
        "vector": vec * cfg.vector_op_pj,
        "sram": sram * cfg.sram_pj_per_byte,
        "dram": dram * cfg.dram_pj_per_byte,
        "static": cfg.static_w * result.time_s * 1e12,
    }


def ideal_speedup(n: int, m: int) -> float:
    """Compute-only bound of a step whose every GEMM layer is N:M in fwd and bwd: 3 / (2N/M + 1)."""
    return 3.0 / (2.0 * n / m + 1.0)
