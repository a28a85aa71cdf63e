"""neurosim: lower spiking and sparse models to an event-driven IR, estimate their cost in
silicon, generate RTL and verify it against the simulator."""

__version__ = "0.1.0"

import os as _os
import sys as _sys


def _use_user_numba_cache() -> None:
    """Send numba's on-disk cache (the kernels are ``@njit(cache=True)``) to a user cache folder.

    By default numba writes ``*.nbi``/``*.nbc`` into the ``__pycache__`` next to the source, i.e.
    inside ``site-packages/neurosim`` for an installed wheel: ``pip uninstall`` leaves them behind,
    and the leftover folder then shadows an editable install of neurosim as a namespace package.
    ``$NUMBA_CACHE_DIR`` wins when the user set it; otherwise ``$XDG_CACHE_HOME/neurosim/numba``
    (``~/.cache/neurosim/numba``), or a per-user folder in the temp dir if that is not writable.
    """
    if _os.environ.get("NUMBA_CACHE_DIR"):
        return
    xdg = _os.environ.get("XDG_CACHE_HOME", "")
    base = xdg if _os.path.isabs(xdg) else _os.path.join(_os.path.expanduser("~"), ".cache")
    path = _os.path.join(base, "neurosim", "numba")
    try:
        _os.makedirs(path, exist_ok=True)
        writable = _os.access(path, _os.W_OK)
    except OSError:
        writable = False
    if not writable:
        import tempfile

        user = getattr(_os, "getuid", lambda: _os.environ.get("USERNAME", "user"))()
        path = _os.path.join(tempfile.gettempdir(), f"neurosim-numba-{user}")
    _os.environ["NUMBA_CACHE_DIR"] = path
    config = _sys.modules.get("numba.core.config")
    if config is not None:  # numba was imported before neurosim and has read its environment already
        config.reload_config()


_use_user_numba_cache()

from neurosim.errors import NeurosimError  # noqa: E402

__all__ = ["NeurosimError", "__version__"]
