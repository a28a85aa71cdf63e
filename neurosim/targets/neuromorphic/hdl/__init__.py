"""RTL of the neuromorphic target: the time-multiplexed core and the multi-core top (amaranth).

:func:`verilog_of` and :func:`manifest_of` are the target's entry points for ``neurosim rtl``
and its verification (the SAT target's ``hdl`` package has the same two).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

TOP = "neurosim_core"

#: the core's cycle count per timestep, as the manifest states it (design.md, "The neuromorphic core")
CYCLE_SPEC = "step = events * (1 + chunks) + (1 if events else 0) + chunks + 1"


def verilog_of(cfg, name: str = TOP, mutate: str | None = None, program=None) -> str:
    """The core's Verilog for :class:`~.config.CoreConfig` ``cfg`` (with ``program`` baked into its
    memories when given; ``mutate`` plants one of the verification's deliberate bugs)."""
    from neurosim.hdl.emit import verilog
    from neurosim.targets.neuromorphic.hdl.core import NeuromorphicCore

    return verilog(NeuromorphicCore(cfg, program=program, mutate=mutate), name)


def manifest_of(cfg, name: str = TOP, extra: dict | None = None) -> dict:
    from neurosim.hdl.emit import manifest
    from neurosim.targets.neuromorphic.hdl.core import NeuromorphicCore

    return manifest(name, NeuromorphicCore, dataclasses.asdict(cfg), chunks=cfg.chunks, cycle_spec=CYCLE_SPEC,
                    **(extra or {}))


def emit(cfg, out_dir, name: str = TOP, extra: dict | None = None, program=None) -> Path:
    """Write ``<out_dir>/<name>.v`` (with ``program`` baked into its memories when given) and
    ``<out_dir>/manifest.json``; return the Verilog path."""
    from neurosim.hdl.emit import emit_design

    return emit_design(out_dir, name, verilog_of(cfg, name, program=program), manifest_of(cfg, name, extra))
