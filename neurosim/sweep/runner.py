"""What one design point runs, on a worker: a pure function of (target, resolved config, file contents).

:func:`run_point` never raises: a point that fails returns a ``failed`` result holding the one-line
message of the :class:`~neurosim.errors.NeurosimError` (a deterministic failure, cached like a
result), or ``internal error: <type>: <message>`` for anything else (not cached, so a resumed sweep
tries it again). Files (models, user presets and configs) travel with the task as bytes and are
written to a folder private to the worker process, so a worker on another machine needs no shared
file system and no two workers ever write the same file. Loaded graphs are kept per process, keyed
by content digest, so a worker reads each model once.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from neurosim.errors import NeurosimError

#: result columns per target, in table order (after the axis columns, before status and error)
RESULT_COLUMNS = {
    "neuromorphic": ("energy_pj", "energy_per_timestep_pj", "latency_s", "cycles", "cores", "chips",
                     "utilisation", "spikes", "spike_change", "neurons_changed_fraction", "lower_bound"),
    "sat": ("dense_cycles", "cycles", "speedup", "energy_pj", "dense_energy_pj", "latency_s", "utilisation", "macs"),
    "rtl": ("luts", "ffs", "bram", "lutram", "dsp", "fmax_mhz", "fits"),
}
#: how long an error message may be in the table
MAX_ERROR = 500

_WORKDIR: Path | None = None
_GRAPHS: dict[tuple, Any] = {}


def _workdir() -> Path:
    global _WORKDIR
    if _WORKDIR is None:
        _WORKDIR = Path(tempfile.mkdtemp(prefix=f"neurosim-sweep-{os.getpid()}-"))
        atexit.register(shutil.rmtree, _WORKDIR, True)
    return _WORKDIR


def _materialise(files: dict, key: str) -> Path | None:
    """The worker-private path of the file behind ``key`` (None: the value is a bundled name)."""
    if key not in files:
        return None
    digest, suffix, data = files[key]
    path = _workdir() / f"{digest}{suffix}"
    if not path.exists():
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return path


def _digest_of(files: dict, key: str, value: str) -> str:
    return files[key][0] if key in files else f"name:{value}"


def prune_nm(graph, n: int, m: int):
    """``graph`` with every Dense/Conv projection whose fan-in is a multiple of M pruned to N:M by
    magnitude (groups along the input, :func:`neurosim.passes.bdwp.nm_mask_along`); the others stay
    dense. ``(n, m) == (1, 1)`` returns the graph unchanged."""
    from neurosim.ir.nodes.connections import ConvND, Dense
    from neurosim.passes.bdwp import nm_mask_along

    if n == m:
        return graph
    nodes = dict(graph.nodes)
    for name, node in graph.nodes.items():
        if isinstance(node, (Dense, ConvND)) and node.nm is None and node.weight_format is None:
            w = np.asarray(node.weight)
            fan_in = int(np.prod(w.shape[1:]))
            if fan_in % m == 0:
                mask = nm_mask_along(w, n, m, "in")
                nodes[name] = dataclasses.replace(node, weight=np.where(mask, w, 0).astype(w.dtype), nm=(n, m))
    return graph.replace(nodes=nodes)


def _graph(config: dict, files: dict):
    from neurosim.ir.nm import parse_nm

    model = config["model"]
    nm = parse_nm(config.get("nm", "dense"))
    cache_key = (_digest_of(files, "model", model), nm)
    if cache_key not in _GRAPHS:
        if model.startswith("zoo:"):
            import neurosim.workloads as zoo

            graph = getattr(zoo, model[4:])()
        else:
            from neurosim.frontends import load_model

            graph = load_model(_materialise(files, "model"))
        _GRAPHS[cache_key] = prune_nm(graph, *nm)
    return _GRAPHS[cache_key]


def _chip(config: dict, files: dict):
    from neurosim.targets.neuromorphic.config import load_preset

    path = _materialise(files, "preset")
    chip = load_preset(path if path is not None else config["preset"])
    changes = {k[5:]: v for k, v in config.items() if k.startswith("chip.")}
    if "bits" in config:
        changes["weight_bits"] = config["bits"]
    return dataclasses.replace(chip, **changes) if changes else chip


def _neuromorphic(config: dict, files: dict) -> dict:
    from neurosim.targets.neuromorphic.estimate import estimate
    from neurosim.targets.neuromorphic.report import to_dict

    graph = _graph(config, files)
    chip = _chip(config, files)
    est = estimate(graph, chip, rate=config["rate"], timesteps=config["timesteps"], seed=config["seed"],
                   method=config["method"], chips=config.get("chips"), contention=config["contention"],
                   arith=config["arith"])
    doc = to_dict(est, "")
    t = doc["totals"]
    qe = (doc.get("quantization_effect") or {}).get("total") or {}
    per_core = doc.get("per_core") or []
    util = float(np.mean([c["utilisation"] for c in per_core])) if per_core else None
    return {"energy_pj": t["energy_pj"], "energy_per_timestep_pj": t["energy_per_timestep_pj"],
            "latency_s": t["latency_s"], "cycles": t["cycles"], "cores": doc["mapping"]["cores"],
            "chips": doc["mapping"]["chips"], "utilisation": util, "spikes": t["spikes"],
            "spike_change": qe.get("spike_change"), "neurons_changed_fraction": qe.get("changed_fraction"),
            "lower_bound": bool(t["lower_bound"])}


def _sat(config: dict, files: dict) -> dict:
    from neurosim.ir.nm import parse_nm
    from neurosim.targets.sat.config import load_config
    from neurosim.targets.sat.model.workload import load_workload
    from neurosim.targets.sat.study import study

    path = _materialise(files, "config")
    cfg = load_config(path if path is not None else config["config"])
    changes = {k[4:]: v for k, v in config.items() if k.startswith("sat.")}
    if changes:
        cfg = dataclasses.replace(cfg, **changes)
    wpath = _materialise(files, "workload")
    workload = load_workload(str(wpath) if wpath is not None else config["workload"])
    nm = parse_nm(config["nm"])
    cfg.check_pattern(*nm)
    res = study(workload, cfg, nm, config["batch"], ablation=False, sweep=False,
                dense_layers=frozenset() if config["all_layers"] else None)
    return {"dense_cycles": int(res.dense.cycles), "cycles": int(res.sparse.cycles), "speedup": float(res.speedup),
            "energy_pj": float(res.sparse.total_energy_pj), "dense_energy_pj": float(res.dense.total_energy_pj),
            "latency_s": float(res.sparse.time_s), "utilisation": float(res.sparse.utilisation()),
            "macs": int(res.sparse.macs)}


def _rtl(config: dict, files: dict) -> dict:
    from neurosim.hdl.synth import synthesize_design
    from neurosim.targets.neuromorphic.hdl.config import CoreConfig
    from neurosim.targets.neuromorphic.hdl.core import NeuromorphicCore

    core = CoreConfig(**{k[4:]: v for k, v in config.items() if k.startswith("rtl.")})
    work = Path(tempfile.mkdtemp(prefix="synth-", dir=_workdir()))
    try:
        r = synthesize_design(NeuromorphicCore(core), "neurosim_core", config["fpga"], work,
                              freq_mhz=config["freq_mhz"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"luts": r.luts, "ffs": r.ffs, "bram": r.bram, "lutram": r.lutram, "dsp": r.dsp,
            "fmax_mhz": r.fmax_mhz, "fits": bool(r.fits)}


_RUN = {"neuromorphic": _neuromorphic, "sat": _sat, "rtl": _rtl}


def _one_line(text: str) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= MAX_ERROR else line[: MAX_ERROR - 3] + "..."


def run_point(target: str, config: dict, files: dict) -> dict:
    """Run one point; return ``{"status", "error", "cacheable", "values": {result column: value}}``."""
    try:
        values = _RUN[target](config, files)
    except NeurosimError as exc:
        return {"status": "failed", "error": _one_line(exc), "cacheable": True, "values": {}}
    except Exception as exc:  # noqa: BLE001  (one bad point must not stop the sweep; not cached, retried on resume)
        return {"status": "failed", "error": _one_line(f"internal error: {type(exc).__name__}: {exc}"),
                "cacheable": False, "values": {}}
    return {"status": "ok", "error": "", "cacheable": True, "values": values}
