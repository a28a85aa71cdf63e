"""Output paths and atomic writing: a report, model or output folder is either fully written or not there.

Two concerns, one module, because they meet at the same paths:

- **Checking an output path before any work starts** (:func:`check_output_dir`,
  :func:`check_output_file`): every ``--out`` / ``--json`` / ``--work`` of every command goes
  through one of them at the top of the command, so an empty path, a path naming a file where a
  folder is expected (or a folder where a file is), a path under an existing file, a path or name
  longer than the OS allows, or a parent the user cannot write into is one
  :class:`~neurosim.errors.OutputPathError` line naming the flag and the (shortened) path -- not a
  traceback after minutes of simulation or synthesis.
- **Committing atomically** (:func:`atomic_path` for one file, :func:`atomic_dir` for a whole
  folder): everything is written into a hidden temporary sibling ``.<name>.tmp-<pid>-<random>``
  and renamed into place at the end, so a reader never sees a half-written file, and a report
  never sits beside the plots of another run. Temporaries are removed on every catchable exit
  (exception, Ctrl-C, SIGTERM -- the CLI turns SIGTERM into an exception); those of a process
  killed with SIGKILL (its pid no longer alive) are removed at the next write into the same folder
  (:func:`clean_stale`).

Replacing an existing folder swaps it with the new one in one ``renameat2(RENAME_EXCHANGE)`` call
where Linux offers it (no window at all); elsewhere it takes two renames (old folder aside, new
folder in), and between them -- microseconds -- the folder is absent, never mixed; a SIGKILL in that
window leaves the old folder as ``.<name>.old-<pid>-<random>``, which the next write restores or
removes. An existing folder is replaced only when it is empty or holds nothing but what the same
command writes (``owned``), so ``--out ~`` can never swap a user's home folder away.
"""

from __future__ import annotations

import contextlib
import ctypes
import fnmatch
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import Iterable, Iterator

from neurosim.errors import NeurosimError, OutputPathError  # noqa: F401 - OutputPathError re-exported


#: the longest path and file name Linux takes (bytes); other systems allow less, never much more
PATH_MAX = 4096
NAME_MAX = 255
#: a temporary (or set-aside old) file or folder of this module: ``.<name>.<tmp|old>-<pid>-<hex>``
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)-[0-9a-f]{8}$")
#: what a report folder holds (``neurosim estimate --out``, ``neurosim sat --out``)
REPORT_FILES = ("report.json", "*.png", "timing.json")


def shorten(text: str, keep: int = 160) -> str:
    """``text`` whole when at most ``keep`` characters, else its head and tail around ``...``."""
    text = str(text)
    if len(text) <= keep:
        return text
    return f"{text[:keep * 2 // 3]}...{text[-(keep // 4):]}"


def show(path, keep: int = 160) -> str:
    """``path`` for a message: ``repr`` of it, shortened with its length when long."""
    text = str(path)
    return repr(text) if len(text) <= keep else f"{shorten(text, keep)!r} ({len(text):,} characters)"


def _fail(flag: str, path: str, problem: str, fix: str) -> OutputPathError:
    return OutputPathError(f"{flag} {show(path)} {problem}; {fix}")


def _check_text(flag: str, path, kind: str, example: str | None = None) -> Path:
    """The checks that need no file system: type, empty, NUL, encodable, lengths."""
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str):
        raise OutputPathError(f"{flag} must be a path (text), found {type(path).__name__} {shorten(repr(path))}; "
                              f"give a {kind} name")
    if not path.strip():
        raise OutputPathError(f"{flag} is empty ({path!r}); give a {kind} name, e.g. {flag} "
                              f"{example or ('report' if kind == 'folder' else 'out')}")
    if "\x00" in path:
        raise _fail(flag, path, "contains a NUL character", f"give a {kind} name without it")
    try:
        raw = os.fsencode(path)
    except UnicodeError:
        raise _fail(flag, path, "cannot be encoded as a file name on this system",
                    f"give a {kind} name in plain characters") from None
    if len(raw) >= PATH_MAX:
        raise _fail(flag, path, f"is {len(raw):,} bytes long, above the system's limit of {PATH_MAX - 1:,}",
                    f"give a shorter {kind} path")
    for part in raw.split(b"/"):
        if len(part) > NAME_MAX:
            raise _fail(flag, path, f"has a name of {len(part):,} bytes, above the system's limit of {NAME_MAX}",
                        f"give a {kind} path whose names are at most {NAME_MAX} bytes")
    return Path(path)


def _check_parent(flag: str, path: Path, kind: str) -> None:
    """The nearest existing ancestor of ``path`` must be a folder the user can write into."""
    target = Path(os.path.abspath(path))
    for anc in target.parents:
        try:
            is_dir = anc.is_dir()
            exists = is_dir or anc.exists() or anc.is_symlink()
        except OSError as exc:
            raise _fail(flag, str(path), f"cannot be checked ({exc.strerror or exc})", f"give another {kind} path") from None
        if not exists:
            continue
        if not is_dir:
            raise _fail(flag, str(path), f"is under {show(anc)}, which is a file, not a folder",
                        f"give a {kind} path outside it")
        if not os.access(anc, os.W_OK | os.X_OK):
            raise _fail(flag, str(path), f"cannot be created: no write permission in {show(anc)}",
                        f"give a {kind} path in a folder you can write into")
        return


def _stat(flag: str, path: Path, kind: str):
    try:
        return path.is_dir(), path.exists() or path.is_symlink()
    except OSError as exc:
        raise _fail(flag, str(path), f"cannot be checked ({exc.strerror or exc})", f"give another {kind} path") from None


def _foreign(path: Path, owned: Iterable[str]) -> list[str]:
    """Entries of folder ``path`` that match none of the ``owned`` patterns (temporaries aside)."""
    owned = tuple(owned)
    return sorted(e.name for e in path.iterdir()
                  if not _TEMP.match(e.name) and not any(fnmatch.fnmatchcase(e.name, pat) for pat in owned))


def check_output_dir(flag: str, path, *, owned: Iterable[str] | None = None) -> Path:
    """Check that ``path`` (the value of ``flag``) can become an output folder, before any work.

    An existing folder is fine when ``owned`` is None (a work folder that is reused) or when it
    is empty or holds only entries matching ``owned`` (a folder the same command wrote, which
    :func:`atomic_dir` will replace); raises :class:`OutputPathError` otherwise.
    """
    p = _check_text(flag, path, "folder")
    is_dir, exists = _stat(flag, p, "folder")
    if exists and not is_dir:
        raise _fail(flag, str(path), "names an existing file, and a folder is expected",
                    "give a new folder name or the folder of an earlier run")
    if is_dir:
        if owned is not None:
            try:
                foreign = _foreign(p, owned)
            except OSError as exc:
                raise _fail(flag, str(path), f"cannot be listed ({exc.strerror or exc})",
                            "give a folder you can read") from None
            if foreign:
                shown = ", ".join(show(n, 40) for n in foreign[:3]) + (" ..." if len(foreign) > 3 else "")
                raise _fail(flag, str(path), f"is a folder that holds files this command did not write ({shown}), "
                                             f"and the output replaces the whole folder",
                            "give a new or empty folder, or the folder of an earlier run of this command")
            target = Path(os.path.abspath(p))
            if target.parent == target:
                raise _fail(flag, str(path), "is the root folder", "give a folder under it")
    _check_parent(flag, p, "folder")
    return p


def check_output_file(flag: str, path, *, suffix: str | None = None) -> Path:
    """Check that ``path`` (the value of ``flag``) can become an output file (ending in ``suffix``
    when given), before any work; raises :class:`OutputPathError` otherwise."""
    p = _check_text(flag, path, "file", f"out{suffix or '.json'}")
    is_dir, exists = _stat(flag, p, "file")
    if is_dir or str(path).endswith(("/", os.sep)):
        example = (p / f"out{suffix or ''}").as_posix()
        raise _fail(flag, str(path), "is a folder, and a file is expected", f"give a file name, e.g. {show(example)}")
    if suffix is not None and p.suffix.lower() != suffix:
        raise _fail(flag, str(path), f"does not end in {suffix!r}", f"give a {suffix} file name, e.g. "
                                                                     f"{show(p.with_name(p.name + suffix).as_posix())}")
    _check_parent(flag, p, "file")
    return p


# -- temporaries ----------------------------------------------------------------------------------

def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's live process (or an unanswerable pid): leave its files alone
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def clean_stale(folder) -> list[str]:
    """Remove the temporaries of dead processes in ``folder`` (a SIGKILLed run's leftovers); a
    set-aside old folder whose target is missing (killed between two renames) is put back. Returns
    the names removed or restored."""
    folder = Path(folder)
    done = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return done
    for e in entries:
        m = _TEMP.match(e.name)
        if not m or _alive(int(m["pid"])):
            continue
        target = folder / m["name"]
        if m["kind"] == "old" and not (target.exists() or target.is_symlink()):
            with contextlib.suppress(OSError):
                os.rename(e, target)
                done.append(e.name)
                continue
        _remove(e)
        done.append(e.name)
    return done


def _temp_name(target: Path, kind: str = "tmp") -> Path:
    name = target.name[:NAME_MAX - 40]  # room for the prefix and suffix within NAME_MAX
    return target.parent / f".{name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it over ``path``.

    The rename is atomic on POSIX, so readers never see a half-written file, and a failure
    (exception, Ctrl-C, SIGTERM through the CLI) removes the temporary and leaves any previous file
    untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(path.parent)
    tmp = _temp_name(path)
    try:
        yield tmp
        if tmp.exists():
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            os.replace(tmp, path)
    finally:
        if tmp.exists() or tmp.is_symlink():
            _remove(tmp)


def _exchange(a: Path, b: Path) -> bool:
    """Swap ``a`` and ``b`` atomically with Linux's ``renameat2(RENAME_EXCHANGE)``; False where the
    call or the file system does not offer it."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    fn.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
    return fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def _commit_dir(tmp: Path, target: Path) -> None:
    if not (target.exists() or target.is_symlink()):
        os.rename(tmp, target)
        return
    if _exchange(tmp, target):
        _remove(tmp)  # now the old folder
        return
    old = _temp_name(target, "old")
    os.rename(target, old)
    try:
        os.rename(tmp, target)
    except BaseException:
        os.rename(old, target)
        raise
    _remove(old)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, *, flag: str = "--out",
               owned: Iterable[str] = REPORT_FILES) -> Iterator[Path]:
    """Yield an empty temporary folder next to ``path``; on success it replaces ``path`` whole.

    ``path`` is checked first with :func:`check_output_dir` (``flag`` names it in errors;
    ``owned``: what an existing folder may hold to be replaced). On any exception the temporary
    is removed and an existing folder is left as it was.
    """
    target = Path(os.path.abspath(check_output_dir(flag, path, owned=owned)))
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(target.parent)
    tmp = _temp_name(target)
    tmp.mkdir()
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        _commit_dir(tmp, target)
    finally:
        if tmp.exists() or tmp.is_symlink():
            _remove(tmp)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))
