"""Reading torch files: :func:`load_torch_file` unpickles a whole ``torch.save``'d module and
imports it with :func:`~.convert.from_torch`; missing, truncated and foreign files, and files that
hold a state dict or anything else that is not an ``nn.Module``, raise
:class:`~neurosim.errors.FormatError` naming the path."""

from __future__ import annotations

from pathlib import Path

from neurosim.errors import FormatError, FrontendError
from neurosim.frontends.torch.convert import from_torch
from neurosim.ir.graph import Graph


def load_torch_file(path, input_shape, **options) -> Graph:
    """Load a whole pickled module (``torch.save(model, path)``) and import it with :func:`from_torch`.

    This unpickles with ``weights_only=False``, which runs code from the file: open trusted files
    only. Missing, truncated or foreign files and files that hold no ``nn.Module`` raise
    :class:`~neurosim.errors.FormatError` naming the path.
    """
    try:
        import torch
    except ImportError:  # pragma: no cover - depends on the environment
        raise FrontendError("load_torch_file needs torch; install it (pip install 'neurosim[torch]')") from None
    p = Path(path)
    if not p.exists():
        raise FormatError(f"torch file {str(p)!r} does not exist; check the path")
    if not p.is_file():
        raise FormatError(f"torch file {str(p)!r} is not a regular file; give the path of a torch.save file")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=False)
    except ModuleNotFoundError as exc:
        raise FormatError(
            f"torch file {str(p)!r} pickles a model that needs the module {exc.name!r}, which is not installed; "
            f"install it and retry"
        ) from None
    except Exception as exc:  # truncated zip, foreign pickle, ... (torch raises many types)
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FormatError(
            f"torch file {str(p)!r} cannot be read ({type(exc).__name__}: {detail}); the file is truncated or "
            f"not written by torch.save"
        ) from None
    if not isinstance(obj, torch.nn.Module):
        kind = type(obj).__name__
        extra = " (a state dict? build the model, load_state_dict it and call from_torch)" if isinstance(obj, dict) \
            else ""
        raise FormatError(
            f"torch file {str(p)!r} holds a {kind}{extra}, not a pickled torch.nn.Module; save the whole model "
            f"with torch.save(model, path)"
        )
    return from_torch(obj, input_shape, **options)
