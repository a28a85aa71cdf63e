"""Reading torch files without running code from them.

:func:`load_torch_file` loads with ``torch.load(weights_only=True)``, which rebuilds tensors and
plain containers only and never imports or calls anything the file names. So:

- a **state dict** (the safe format for weights) loads, and is refused with the way forward: a
  state dict has no architecture, build the model in Python, ``load_state_dict`` and
  :func:`~.convert.from_torch` it;
- **TorchScript** (``torch.jit.save``) and **torch.export** programs (``torch.export.save``, ``.pt2``)
  are detected from their archive layout and named: neither is loaded, since neurosim's converter
  reads ``nn.Module`` layers through ``torch.fx`` and can trace neither (a TorchScript module has no
  Python ``forward``; an exported program is an aten-op graph);
- a file that pickles a **whole module** (``torch.save(model)``) needs a full unpickle, which
  executes whatever the file says: refused with a FormatError unless ``trust_pickle=True`` (the
  CLI's ``--trust-pickle``), which unpickles with ``weights_only=False`` after a warning.

Missing, truncated and foreign files raise :class:`~neurosim.errors.FormatError` naming the path.
"""

from __future__ import annotations

import pickle
import re
import warnings
import zipfile
from pathlib import Path

from neurosim import limits
from neurosim.errors import FormatError, FrontendError, UnsupportedError
from neurosim.frontends.torch.convert import from_torch
from neurosim.ir.graph import Graph
from neurosim.ir.nodes.base import short_repr


class TrustPickleWarning(UserWarning):
    """A torch file is being fully unpickled (``trust_pickle=True``): it may run code."""


def _archive_kind(p: Path) -> str | None:
    """``"torchscript"``, ``"export"`` or None (a torch.save zip or a legacy pickle) from the zip layout."""
    try:
        if not zipfile.is_zipfile(p):
            return None
        with zipfile.ZipFile(p) as z:
            names = z.namelist()
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        return None
    tails = {n.split("/", 1)[1] if "/" in n else n for n in names}
    if "archive_format" in tails or any(t.startswith("models/") and t.endswith(".json") for t in tails):
        return "export"
    if "constants.pkl" in tails and any(t.startswith("code/") for t in tails):
        return "torchscript"
    return None


def load_torch_file(path, input_shape, trust_pickle: bool = False, **options) -> Graph:
    """Load a torch file safely and import the module it holds with :func:`from_torch` (see the
    module docstring for what each kind of file gives). ``trust_pickle=True`` allows a full unpickle
    of a ``torch.save(model)`` file -- it runs code from the file, so only for files you trust."""
    try:
        import torch
    except ImportError:  # pragma: no cover - depends on the environment
        raise FrontendError("load_torch_file needs torch; install it (pip install 'neurosim[torch]')") from None
    p = Path(path)
    shown = short_repr(str(p), 300)
    if not p.exists():
        raise FormatError(f"torch file {shown} does not exist; check the path")
    if not p.is_file():
        raise FormatError(f"torch file {shown} is not a regular file; give the path of a torch.save file")
    limits.check("file_bytes", p.stat().st_size, f"torch file {shown}")
    kind = _archive_kind(p)
    if kind == "torchscript":
        raise UnsupportedError(
            f"torch file {shown} is a TorchScript program (torch.jit.save), which neurosim's torch.fx-based converter "
            f"cannot trace; export the Python model to NIR, or import it in Python with "
            f"neurosim.frontends.torch.from_torch and save a .nsim"
        )
    if kind == "export":
        raise UnsupportedError(
            f"torch file {shown} is a torch.export program (an aten-op graph), which neurosim's converter cannot import; "
            f"export the Python model to NIR, or import it in Python with neurosim.frontends.torch.from_torch and save "
            f"a .nsim"
        )
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        needs = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if needs is None:  # not a pickle that names code: foreign bytes, a truncated file
            raise _unreadable(p, exc) from None
        if not trust_pickle:
            raise FormatError(
                f"torch file {shown} pickles a whole Python object (a torch.save(model) file; it names "
                f"{needs.group(1)[:60]}): unpickling it runs code from the file, so neurosim refuses it; if "
                f"you trust the file pass --trust-pickle (trust_pickle=True), else export the model to NIR or .nsim "
                f"where it was trained"
            ) from None
        obj = _unpickle_trusted(torch, p, shown)
    except Exception as exc:  # noqa: BLE001 - truncated zip, foreign bytes, ... (torch raises many types)
        raise _unreadable(p, exc) from None
    if not isinstance(obj, torch.nn.Module):
        kind_name = type(obj).__name__
        if isinstance(obj, dict):
            raise FormatError(
                f"torch file {shown} holds a state dict ({kind_name} of {len(obj)} entries), which has no architecture; "
                f"build the model in Python, load_state_dict it and call neurosim.frontends.torch.from_torch"
            )
        raise FormatError(
            f"torch file {shown} holds a {kind_name}, not a torch.nn.Module; save the model itself (a state dict "
            f"with its Python class, or the whole module with torch.save(model, path))"
        )
    return from_torch(obj, input_shape, **options)


def _unpickle_trusted(torch, p: Path, shown: str):
    warnings.warn(
        f"unpickling torch file {shown} runs code from the file (--trust-pickle); do this only for files you trust",
        TrustPickleWarning, stacklevel=3,
    )
    try:
        return torch.load(p, map_location="cpu", weights_only=False)
    except ModuleNotFoundError as exc:
        raise FormatError(
            f"torch file {shown} pickles a model that needs the module {exc.name!r}, which is not installed; "
            f"install it and retry"
        ) from None
    except Exception as exc:  # noqa: BLE001 - a trusted pickle may still be truncated or foreign
        raise _unreadable(p, exc) from None


def _unreadable(p: Path, exc: BaseException) -> FormatError:
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return FormatError(
        f"torch file {short_repr(str(p), 300)} cannot be read ({type(exc).__name__}: {short_repr(detail, 120)}); the file is "
        f"truncated or not written by torch.save"
    )
