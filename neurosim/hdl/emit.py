"""Verilog emission: one directory per design with the Verilog and a manifest.

The manifest records the generator version and every parameter, so ``rtl/`` can be checked for
drift (regenerating must reproduce the committed files byte for byte).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from neurosim import __version__
from neurosim.fileio import write_text_atomic
from neurosim.hdl.config import CoreConfig

GENERATOR = "neurosim.hdl.core.NeuromorphicCore"


def verilog_of(cfg: CoreConfig, name: str = "neurosim_core", mutate: str | None = None, program=None) -> str:
    from amaranth.back import verilog

    from neurosim.hdl.core import NeuromorphicCore

    return verilog.convert(NeuromorphicCore(cfg, program=program, mutate=mutate), name=name, emit_src=False)


def manifest_of(cfg: CoreConfig, name: str, extra: dict | None = None) -> dict:
    doc = {"design": name, "generator": GENERATOR, "neurosim_version": __version__,
           "params": dataclasses.asdict(cfg), "chunks": cfg.chunks,
           "cycle_spec": "step = events * (1 + chunks) + (1 if events else 0) + chunks + 1"}
    if extra:
        doc.update(extra)
    return doc


def emit(cfg: CoreConfig, out_dir, name: str = "neurosim_core", extra: dict | None = None, program=None) -> Path:
    """Write ``<out_dir>/<name>.v`` (with ``program`` baked into its memories when given) and
    ``<out_dir>/manifest.json``; return the Verilog path."""
    return emit_design(out_dir, name, verilog_of(cfg, name, program=program), manifest_of(cfg, name, extra))


def emit_design(out_dir, name: str, verilog: str, manifest: dict) -> Path:
    """Write ``<out_dir>/<name>.v`` and ``<out_dir>/manifest.json`` (sorted keys, so it is reproducible)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.v"
    write_text_atomic(path, verilog)
    write_text_atomic(out / "manifest.json", json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return path
