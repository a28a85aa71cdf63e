"""Frontends: import models into the IR (NIR files, torch modules) and export them (NIR).

:func:`load_model` opens any model file by suffix through :data:`LOADERS`.
"""

from __future__ import annotations



import os
from pathlib import Path
from typing import Callable

from neurosim.errors import FormatError
from neurosim.ir.graph import Graph


def _load_native(path: Path, **_) -> Graph:
    from neurosim.ir.serialize import load

    return load(path)


def _load_nir(path: Path, source=None, dt_s=None, reset=None, reset_timing=None, spike_rule=None, norm_input=None,
              **_) -> Graph:
    from neurosim.frontends.nir import read_nir

    return read_nir(path, source=source, dt_s=dt_s, reset=reset, reset_timing=reset_timing, spike_rule=spike_rule,
                    norm_input=norm_input)


def _load_torch(path: Path, input_shape=None, **_) -> Graph:
    from neurosim.frontends.torch import load_torch_file

    return load_torch_file(path, input_shape)


#: Model file suffix -> loader. Loaders take the path and the CLI's import options.
LOADERS: dict[str, Callable[..., Graph]] = {
    ".nsim": _load_native,
    ".nir": _load_nir,
    ".pt": _load_torch,
    ".pth": _load_torch,
}


def load_model(path: str | os.PathLike, **options) -> Graph:
    """Open a model file (``.nsim`` native, ``.nir``, ``.pt``/``.pth`` torch module) as an IR graph."""
    path = Path(path)
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise FormatError(
            f"model file {str(path)!r} has the suffix {path.suffix!r}; neurosim reads {sorted(LOADERS)!r}"
        )
    if not path.exists():
        raise FormatError(f"model file {str(path)!r} does not exist")
    return loader(path, **options)
