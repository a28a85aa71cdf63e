"""Frontends: import models into the IR (NIR files, torch modules) and export them (NIR).

:func:`load_model` opens any model file by suffix through :data:`LOADERS`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from neurosim.errors import FormatError
from neurosim.ir.graph import Graph
from neurosim.ir.nodes.base import short_repr


def _load_native(path: Path, **_) -> Graph:
    from neurosim.ir.serialize import load

    return load(path)


def _load_nir(path: Path, source=None, dt_s=None, reset=None, reset_timing=None, spike_rule=None, norm_input=None,
              **_) -> Graph:
    from neurosim.frontends.nir import read_nir

    return read_nir(path, source=source, dt_s=dt_s, reset=reset, reset_timing=reset_timing, spike_rule=spike_rule,
                    norm_input=norm_input)


def _load_torch(path: Path, input_shape=None, trust_pickle: bool = False, **_) -> Graph:
    from neurosim.frontends.torch import load_torch_file

    return load_torch_file(path, input_shape, trust_pickle=bool(trust_pickle))


#: Model file suffix -> loader. Loaders take the path and the CLI's import options.
LOADERS: dict[str, Callable[..., Graph]] = {
    ".nsim": _load_native,
    ".nir": _load_nir,
    ".pt": _load_torch,
    ".pth": _load_torch,
    ".pt2": _load_torch,
}


def load_model(path: str | os.PathLike, **options) -> Graph:
    """Open a model file (``.nsim`` native, ``.nir``, ``.pt``/``.pth``/``.pt2`` torch) as an IR graph.

    Torch files load weights-only (no code from the file runs); ``trust_pickle=True`` allows a
    pickled whole module (see :mod:`neurosim.frontends.torch.load`)."""
    path = Path(path)
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise FormatError(
            f"model file {short_repr(str(path), 300)} has the suffix {short_repr(path.suffix)}; neurosim reads "
            f"{sorted(LOADERS)!r}"
        )
    shown = short_repr(str(path), 300)
    try:
        exists, is_dir = path.exists(), path.is_dir()
    except (OSError, ValueError) as exc:  # a name too long for the file system, an unencodable name
        raise FormatError(f"model file {shown} cannot be opened ({type(exc).__name__}: "
                          f"{short_repr(getattr(exc, 'strerror', None) or str(exc), 80)}); check the path") from None
    if not exists:
        raise FormatError(f"model file {shown} does not exist")
    if is_dir:
        raise FormatError(f"model file {shown} is a directory; give the path of a model file")
    return loader(path, **options)
