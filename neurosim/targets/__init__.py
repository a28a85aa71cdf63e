"""The hardware targets: one package each, holding the same module names.

=========== ======================================== ========================================
module      neuromorphic                             sat
=========== ======================================== ========================================
``config``  chip presets (``presets/*.toml``)        accelerator configs (``configs/*.toml``)
``model``   the cycle-level engine (numba) and its   the GEMM tile-loop cycle model (numba),
            plain-numpy reference                    its plain-Python reference, workloads
``hdl``     the core and the multi-core top          the N:M sparse PE and the PE array
``verify``  cocotb: RTL vs engine                    cocotb: RTL vs numpy and the tile contract
``report``  the estimate report (JSON, summary)      the training-step report (JSON, summary)
``plots``   energy, mesh, raster, latency            speedup, phases, ablation, patterns
``bench``   engine vs bare numba loop (and Brian2)   model vs plain Python (and SCALE-Sim)
``cli``     ``run estimate chips rtl verify ...``    ``sat study|rtl|verify|synth|bench``
=========== ======================================== ========================================

:data:`TARGETS` is the one registry: name -> the module that declares the target's
:class:`~neurosim.commands.Target` (commands, report schema, report printer). Adding a target is
a new package and one line here.
"""

from __future__ import annotations

import importlib

#: target name -> module holding its ``TARGET``; the first is the default (top-level commands)
TARGETS: dict[str, str] = {
    "neuromorphic": "neurosim.targets.neuromorphic.cli",
    "sat": "neurosim.targets.sat.cli",
}


def targets() -> list:
    """Every registered :class:`~neurosim.commands.Target`, in registry order."""
    return [importlib.import_module(module).TARGET for module in TARGETS.values()]
