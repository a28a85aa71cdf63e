"""Verilog emission: one directory per design with the Verilog and a manifest.

The manifest records the generator (the component's class), neurosim's version and every
parameter, so ``rtl/`` can be checked for drift (regenerating must reproduce the committed files
byte for byte). Each target's ``hdl`` package builds its component and its manifest's own fields
on top of :func:`verilog` and :func:`manifest`.
"""

from __future__ import annotations

import json
from pathlib import Path

from neurosim.fileio import write_text_atomic


def verilog(component, name: str) -> str:
    """The Verilog of an amaranth ``component`` as module ``name`` (no source locations, so the
    text does not depend on where neurosim is installed)."""
    from amaranth.back import verilog as back

    return back.convert(component, name=name, emit_src=False)


def manifest(name: str, generator: type, params: dict, **fields) -> dict:
    """The manifest every design carries: its module ``name``, the ``generator`` class (as an
    importable dotted path), neurosim's version, the structural ``params``, then target ``fields``."""
    from neurosim import __version__

    return {"design": name, "generator": f"{generator.__module__}.{generator.__qualname__}",
            "neurosim_version": __version__, "params": params, **fields}


def emit_design(out_dir, name: str, text: str, doc: dict) -> Path:
    """Write ``<out_dir>/<name>.v`` and ``<out_dir>/manifest.json`` (sorted keys, so it is reproducible)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.v"
    write_text_atomic(path, text)
    write_text_atomic(out / "manifest.json", json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return path
