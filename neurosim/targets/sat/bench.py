"""``neurosim bench sat``: the SAT cycle model's speed, and its dense cycles against SCALE-Sim.

Three measurements, each against a baseline run in the same process (or, for SCALE-Sim, a
subprocess in its own interpreter), on a shipped network:

* **training step**: dense and N:M steps of the network (numba kernels; the first call loads or
  compiles them and is reported apart), best of ``repeats``;
* **kernel vs plain Python**: every GEMM of the step through :func:`kernel.gemm_cycles` and through
  the plain-Python reference :func:`reference.gemm` (same chunks), results checked equal first;
* **SCALE-Sim** (``--scalesim-python``): the dense forward GEMMs at batch 1 on an ``R x C``
  weight-stationary array, neurosim configured as SCALE-Sim's array (one multiplier per PE, no
  interleave or scheduling, buffers and bandwidth that never stall); per layer SCALE-Sim reports
  ``folds x (2R + C + M - 2) - 1`` compute cycles and neurosim ``folds x (2R + C + M - 1)``: they
  differ by exactly ``folds + 1`` cycles, the two counting conventions (neurosim counts both the
  first and the last cycle of a tile; SCALE-Sim reports the index of the last cycle of the layer).
"""

from __future__ import annotations

import json
import math
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from neurosim.targets.sat.model import kernel as K
from neurosim.targets.sat.model.step import gemm_table, hw_vector, simulate_step
from neurosim.targets.sat.model.reference import gemm as reference_gemm
from neurosim.targets.sat.model.workload import Workload, load_workload
from neurosim.errors import NeurosimError
from neurosim.targets.sat.config import AcceleratorConfig, load_config

RUNNER = Path(__file__).with_name("scalesim_runner.py")


def scalesim_like(cfg: AcceleratorConfig, rows: int, cols: int) -> AcceleratorConfig:
    """``cfg`` reshaped into SCALE-Sim's array: ``rows x cols`` single-multiplier PEs, nothing that stalls."""
    return cfg.replace(rows=rows, cols=cols, lanes=1, window=1, patterns=(), interleave=False, offline_schedule=False,
                       ifmap_buffer_bytes=1 << 40, ofmap_buffer_bytes=1 << 40, dram_bytes_per_s=1e15)  # the config maxima


def forward_layers(workload: Workload, batch: int = 1) -> list[dict]:
    """The dense forward GEMMs (one per group or head) as ``{"name", "M", "K", "N", "count"}``."""
    return [{"name": g.name, "M": g.m * batch, "K": g.k, "N": g.n, "count": g.count} for g in workload.gemms]


def neurosim_forward_cycles(layers: list[dict], cfg: AcceleratorConfig) -> tuple[np.ndarray, float]:
    """Compute cycles of each layer (one copy) on ``cfg`` and the seconds the kernel took."""
    table = np.array([[ly["M"], ly["K"], ly["N"], 1, cfg.lanes, 1, 1, 0] for ly in layers], dtype=np.int64)
    out = np.zeros((len(layers), K.RESULT_FIELDS), dtype=np.int64)
    hw = hw_vector(cfg, 1)
    K.gemm_cycles(table[:1], hw, out[:1])  # load / compile the kernel outside the timing
    t0 = time.perf_counter()
    K.gemm_cycles(table, hw, out)
    return out[:, K.R_COMPUTE].copy(), time.perf_counter() - t0


def run_scalesim(layers: list[dict], rows: int, cols: int, python: str, workdir: Path | None = None,
                 progress=None) -> dict:
    """Run ``neurosim/targets/sat/scalesim_runner.py`` under ``python``; returns its result document.

    ``progress(done, total, line)`` is called after every layer (SCALE-Sim takes minutes).
    """
    with tempfile.TemporaryDirectory() as tmp:
        lay = Path(tmp) / "layers.json"
        res = Path(tmp) / "result.json"
        lay.write_text(json.dumps([{k: ly[k] for k in ("name", "M", "K", "N")} for ly in layers]))
        cmd = [python, str(RUNNER), "--layers", str(lay), "--rows", str(rows), "--cols", str(cols), "--out", str(res)]
        if workdir is not None:
            cmd += ["--workdir", str(workdir)]
        lines: list[str] = []
        names = {f"{ly['name']}: M=" for ly in layers}
        with subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as proc:
            for line in proc.stderr:
                lines.append(line.rstrip())
                if progress is not None and any(line.startswith(n) for n in names):
                    progress(sum(1 for x in lines if any(x.startswith(n) for n in names)), len(layers), line.rstrip())
        if proc.returncode != 0:
            tail = lines[-3:] or ["no output"]
            raise NeurosimError(f"SCALE-Sim runner failed with status {proc.returncode}: {' | '.join(tail)}; check "
                                f"the interpreter {python!r} has scalesim 3.0 and numpy 2.3")
        return json.loads(res.read_text())


def compare_scalesim(layers: list[dict], rows: int, cols: int, python: str, cfg: AcceleratorConfig | None = None,
                     progress=None) -> dict:
    """Per-layer cycles of neurosim and SCALE-Sim on the same array, their difference and both times."""
    cfg = scalesim_like(cfg or load_config(), rows, cols)
    ns, ns_s = neurosim_forward_cycles(layers, cfg)
    ss = run_scalesim(layers, rows, cols, python, progress=progress)
    rows_out = []
    for ly, c, s in zip(layers, ns.tolist(), ss["layers"]):
        folds = math.ceil(ly["K"] / rows) * math.ceil(ly["N"] / cols)
        rows_out.append({"name": ly["name"], "M": ly["M"], "K": ly["K"], "N": ly["N"], "folds": folds,
                         "neurosim_cycles": c, "scalesim_cycles": s["compute_cycles"],
                         "difference": c - s["compute_cycles"], "expected_difference": folds + 1,
                         "relative": (c - s["compute_cycles"]) / s["compute_cycles"],
                         "scalesim_wall_s": s["wall_s"]})
    return {"rows": rows, "cols": cols, "layers": rows_out, "neurosim_s": ns_s,
            "scalesim_s": sum(r["scalesim_wall_s"] for r in rows_out),
            "max_relative": max(abs(r["relative"]) for r in rows_out),
            "all_expected": all(r["difference"] == r["expected_difference"] for r in rows_out)}


def bench_sat(network: str = "resnet50", nm: tuple[int, int] = (2, 8), batch: int = 32, repeats: int = 5,
              scalesim_python: str | None = None, scalesim_array: tuple[int, int] = (32, 32),
              scalesim_layers: int = 0, log=print) -> dict:
    """Time the training step, the kernel against plain Python, and optionally SCALE-Sim (see above).

    ``batch`` is checked (type, the ``batch`` limit) by the first :func:`simulate_step` call, before
    the GEMM table is built or the plain-Python reference runs (which takes time linear in the batch:
    about 0.15 s per 32 of resnet18). The kernel is timed twice: as the model runs it (repeated chunks
    and middle reduction tiles costed once, time independent of the batch) and tile by tile
    (``fast=False``, the loop the reference also runs); all three give the same numbers.
    """
    cfg = load_config()
    w = load_workload(network)
    res: dict = {"network": network, "nm": f"{nm[0]}:{nm[1]}", "batch": batch, "accelerator": cfg.name}
    t0 = time.perf_counter()
    simulate_step(w, cfg, nm, batch)
    res["first_call_s"] = time.perf_counter() - t0
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        d = simulate_step(w, cfg, (1, 1), batch)
        s = simulate_step(w, cfg, nm, batch)
        best = min(best, time.perf_counter() - t0)
    res["step_pair_s"] = best
    res["speedup"] = d.cycles / s.cycles
    log(f"{network}, batch {batch}: dense + {nm[0]}:{nm[1]} training steps modelled in {best * 1e3:.1f} ms warm "
        f"(first call {res['first_call_s']:.2f} s, numba load/compile); speedup {res['speedup']:.3f}x")

    # kernel against the plain-Python reference, on the GEMMs of the dense step, one chunk size
    # each (no schedule search: the reference has none)
    table, _ = gemm_table(w, batch, (1, 1), cfg.lanes, cfg.lanes, frozenset())
    rows = table.tolist()
    out = np.zeros((len(rows), K.RESULT_FIELDS), dtype=np.int64)
    hw = hw_vector(cfg, 1)
    hw[K.H_SCHEDULE] = 0
    K.gemm_cycles(table[:1], hw, out[:1])
    K.gemm_cycles(table[:1], hw, out[:1], False)
    t0 = time.perf_counter()
    K.gemm_cycles(table, hw, out)
    kernel_s = time.perf_counter() - t0
    loop = np.zeros_like(out)
    t0 = time.perf_counter()
    K.gemm_cycles(table, hw, loop, False)
    loop_s = time.perf_counter() - t0
    if not np.array_equal(loop, out):
        raise NeurosimError(f"the kernel's fast path and its tile-by-tile loop disagree on the GEMMs of {network!r} "
                            f"at batch {batch}; report this as a bug")
    t0 = time.perf_counter()
    for i, r in enumerate(rows):
        ref = reference_gemm(r[0], r[1], r[2], r[3], cfg.lanes, (1, 1), False, rows=cfg.rows, cols=cfg.cols,
                             act_bits=cfg.act_bits, weight_bits=cfg.weight_bits, index_bits=1, acc_bits=cfg.acc_bits,
                             ifmap_bytes=cfg.ifmap_buffer_bytes, ofmap_bytes=cfg.ofmap_buffer_bytes, overlap=True,
                             bytes_per_kcycle=int(hw[K.H_BYTES_PER_KCYC]), interleave=cfg.interleave,
                             chunk=int(out[i, K.R_CHUNK]))
        if ref["cycles"] != out[i, K.R_CYCLES]:
            raise NeurosimError(f"kernel and reference disagree on GEMM {r[:4]!r}: {out[i, K.R_CYCLES]} vs "
                                f"{ref['cycles']} cycles")
    python_s = time.perf_counter() - t0
    res.update(kernel_s=kernel_s, kernel_loop_s=loop_s, python_s=python_s, kernel_over_python=python_s / kernel_s,
               gemms=len(rows))
    log(f"{len(rows)} dense GEMMs of the step: kernel {kernel_s * 1e3:.2f} ms (tile by tile {loop_s * 1e3:.2f} ms), "
        f"plain Python {python_s:.2f} s (same results): {python_s / kernel_s:,.0f}x")

    if scalesim_python:
        layers = forward_layers(w, 1)
        if scalesim_layers:
            layers = layers[:scalesim_layers]
        r, c = scalesim_array
        cmp = compare_scalesim(layers, r, c, scalesim_python, cfg,
                               progress=lambda i, n, line: log(f"SCALE-Sim {i}/{n}: {line}"))
        res["scalesim"] = cmp
        log(f"SCALE-Sim, {len(layers)} dense forward layers of {network} (batch 1) on {r}x{c} WS: "
            f"{cmp['scalesim_s']:.1f} s; neurosim {cmp['neurosim_s'] * 1e3:.2f} ms: "
            f"{cmp['scalesim_s'] / cmp['neurosim_s']:,.0f}x; cycles differ by folds + 1 on every layer: "
            f"{cmp['all_expected']}, at most {cmp['max_relative']:.3%}")
    return res
