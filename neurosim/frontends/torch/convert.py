"""The import entry point: :func:`from_torch` checks its arguments, picks the registry entries of
the classes the model holds, walks the module into a builder and finishes the IR graph."""

from __future__ import annotations

import numpy as np

from neurosim.errors import FrontendError, ShapeError
from neurosim.frontends.torch.builder import _Builder
from neurosim.frontends.torch.registry import _registry
from neurosim.frontends.torch.trace import _walk
from neurosim.ir.graph import Graph

#: Values of ``Semantics.profile`` this frontend writes.
PROFILES = ("torch", "snntorch", "spikingjelly", "sinabs", "neurosim")


def _input_shape(input_shape) -> tuple[int, ...]:
    if isinstance(input_shape, (int, np.integer)) and not isinstance(input_shape, bool):
        input_shape = (input_shape,)
    try:
        shape = tuple(int(d) for d in input_shape)
        ok = all(int(d) == d for d in input_shape)
    except (TypeError, ValueError):
        shape, ok = (), False
    if not ok or not shape or any(d <= 0 for d in shape):
        raise ShapeError(
            f"input_shape must be a non-empty tuple of positive ints (one timestep of one sample, no batch or "
            f"time axis), found {input_shape!r}"
        )
    return shape


def from_torch(module, input_shape, *, profile: str | None = None, name_prefix: str = "") -> Graph:
    """Import ``module`` (one timestep per forward call) into an IR :class:`Graph`.

    ``input_shape`` is the unbatched shape of one timestep. ``profile`` names the framework whose
    semantics the graph records (default: the framework of the spiking neurons found, ``torch``
    when there are none). ``name_prefix`` is put in front of every layer's node name. The input
    node is ``input`` and the output node ``output``. See the module docstring for the mapping.
    """
    try:
        import torch.nn as nn
    except ImportError:  # pragma: no cover - depends on the environment
        raise FrontendError("from_torch needs torch; install it (pip install 'neurosim[torch]')") from None
    if not isinstance(module, nn.Module):
        raise FrontendError(f"from_torch expects a torch.nn.Module, found {type(module).__name__!r}")
    if profile is not None and profile not in PROFILES:
        raise FrontendError(f"profile must be one of {PROFILES!r} or None, found {profile!r}")
    if not isinstance(name_prefix, str):
        raise FrontendError(f"name_prefix must be a string, found {name_prefix!r}")
    shape = _input_shape(input_shape)
    registry = _registry()
    lead = max([1] + [registry[type(m)].lead_dims for m in module.modules() if type(m) in registry])
    b = _Builder(shape, name_prefix, registry, lead)
    b.dnn_adds = not any(registry[type(m)].profile is not None for m in module.modules() if type(m) in registry)
    out = _walk(b, module, "", ("input",))
    return b.finish(out, profile)
