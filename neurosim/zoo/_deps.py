"""The optional dependencies of the zoo's torch builders, imported only when a builder is called.

``import neurosim.zoo`` works without torch (the E-3DSNN description and every parameter count are
numpy/pure Python); a torch builder called without torch or SpikingJelly raises a
:class:`~neurosim.errors.FrontendError` that names the missing package and the install command.
"""

from __future__ import annotations

import importlib

from neurosim.errors import FrontendError

_FIX = {
    "torch": "pip install 'neurosim[torch]'",
    "spikingjelly": "pip install 'neurosim[torch]' spikingjelly",
}


def require(package: str, builder: str):
    """Import ``package`` (``torch`` or ``spikingjelly``) for ``builder`` or raise a FrontendError naming the fix."""
    try:
        return importlib.import_module(package)
    except ImportError:
        raise FrontendError(
            f"neurosim.zoo.{builder} needs the optional package {package!r}, which is not installed; "
            f"install it with `{_FIX[package]}`"
        ) from None
