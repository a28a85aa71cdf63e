"""What every target's command line shares: the command and target records, argument types,
the model-file options and the console.

A target's ``cli`` module declares one :class:`Target` (its commands, its report schema and the
function that prints a saved report); :mod:`neurosim.cli` builds the parser from the registry in
:mod:`neurosim.targets`. Nothing here imports a target, so targets and the root parser never
import each other.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from neurosim.errors import FormatError, NeurosimError, SimulationError


@dataclass(frozen=True)
class Command:
    """One subcommand: its help line, ``configure(parser)`` and ``run(args) -> exit status``."""

    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Target:
    """A hardware target as the command line sees it.

    ``nested``: its commands live under ``neurosim <name> ...`` (``default`` runs when the word
    after ``<name>`` is none of them, so ``neurosim sat resnet50`` is ``neurosim sat study
    resnet50``); else they are top-level commands. A nested target's command that shares its name
    with a top-level one is also reachable as ``neurosim <command> <name> ...`` (``neurosim rtl sat``).
    ``report_schema``: the ``schema`` of the ``report.json`` its reports write, and
    ``print_report(doc, console)`` prints one (``neurosim report FILE``)."""

    name: str
    help: str
    commands: dict[str, Command]
    nested: bool = False
    default: str | None = None
    report_schema: str | None = None
    print_report: Callable | None = field(default=None, compare=False)


def console():
    """A rich console; 140 columns wide when the output is not a terminal (files, pipes, tests). Tables and
    long lines printed through neurosim.report.tables are never wrapped off a terminal."""
    from rich.console import Console

    con = Console()
    if not con.is_terminal:
        con = Console(width=140)
    return con


def status(con, text: str):
    """A spinner while long work runs, on a terminal only."""
    import contextlib

    return con.status(text, spinner="dots") if con.is_terminal else contextlib.nullcontext()


# -- argument types -------------------------------------------------------------------------------
#
# Every numeric option goes through one of these types, so a bad value is an argparse error naming the
# flag (argparse prefixes "argument --flag:") before any work starts. Limits that a user may raise with
# ``--limit`` (timesteps, batch) are checked where the value is used, because ``--limit`` is applied
# after parsing.

def _shown(text: str, width: int = 40) -> str:
    """``text`` as ``!r``, cut to ``width`` characters (a 5,000-character value is never echoed whole)."""
    return repr(text) if len(text) <= width else repr(text[:width]) + f"... ({len(text):,} characters)"


def _integer(text: str) -> int | None:
    """The integer ``text`` spells (``64``, ``-5``, ``1e3``, ``2.0e4``), or None when it spells no integer.

    Scientific notation is accepted when it is integral; exponents beyond 30 are refused before any
    conversion, so ``1e999999999`` never builds a billion-digit integer."""
    from decimal import Decimal, InvalidOperation

    text = text.strip()
    if len(text) > 40:
        return None
    try:
        d = Decimal(text)
    except InvalidOperation:
        return None
    if not d.is_finite() or d.adjusted() > 30 or d != d.to_integral_value():
        return None
    return int(d)


def shape_arg(text: str) -> tuple[int, ...]:
    """``--input-shape``: positive integers separated by commas or ``x`` (``64``, ``1,8,8``, ``3x224x224``)."""
    parts = [v for v in text.replace("x", ",").split(",") if v.strip()]
    values = [_integer(v) if v.strip().lstrip("+").isdigit() else None for v in parts]
    if not parts or len(parts) > 8 or any(v is None for v in values):
        raise argparse.ArgumentTypeError(f"expected up to 8 integers like 64 or 1,8,8, found {_shown(text)}")
    if min(values) <= 0:
        raise argparse.ArgumentTypeError(f"expected positive integers like 64 or 1,8,8, found {_shown(text)}")
    return tuple(values)


def rate_arg(text: str) -> float:
    """``--rate``: a spike probability per element and step, a finite number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a spike probability in [0, 1], found {_shown(text)}") from None
    if not 0.0 <= value <= 1.0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected a spike probability in [0, 1], found {_shown(text)}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (``1e3`` accepted when integral); sizes above a resource limit are refused where used."""
    value = _integer(text)
    if value is None or value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, found {_shown(text)}")
    return value


def int_in(low: int, high: int, what: str = "an integer") -> Callable[[str], int]:
    """A type for an integer option in ``[low, high]`` (``--chips``: at most a preset's ``max_chips`` bound), so a
    value beyond it names the flag instead of the internal field it lands in."""
    def parse(text: str) -> int:
        value = _integer(text)
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {what} in [{low:,}, {high:,}], found {_shown(text)}")
        return value

    parse.__name__ = f"int_in_{low}_{high}"
    return parse


def nonneg_int(text: str) -> int:
    """An integer >= 0 (e.g. ``--top 0``: every row; ``--acc-bits 0``: the minimum)."""
    value = _integer(text)
    if value is None or value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, found {_shown(text)}")
    return value


def seed_arg(text: str) -> int:
    """A random seed: any integer. numpy seeds must be >= 0, so a negative seed maps to its unsigned 64-bit
    two's-complement encoding (``-5`` -> ``2**64 - 5``): deterministic, and valid for every consumer."""
    value = _integer(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"expected an integer seed, found {_shown(text)}")
    return numpy_seed(value)


def numpy_seed(seed: int) -> int:
    """``seed`` as numpy accepts it: non-negative seeds unchanged, negative ones modulo ``2**64`` (see :func:`seed_arg`)."""
    return seed if seed >= 0 else seed % 2**64


def positive_float(text: str) -> float:
    """A finite number > 0 (``--dt``): ``nan``, ``inf``, zero and negatives are refused."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (np.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, found {_shown(text)}")
    return value


def nm_arg(text: str) -> tuple[int, int]:
    """``--nm`` as ``(n, m)``, through the one N:M parser (``dense`` is ``1:1``)."""
    from neurosim.ir.nm import parse_nm

    if len(text) > 40:  # parse_nm echoes its input whole: a 5,000-digit value would fill the terminal
        raise argparse.ArgumentTypeError(f"an N:M pattern is written 'N:M' (e.g. '2:8') or 'dense', found "
                                         f"{_shown(text)}")
    try:
        return parse_nm(text)
    except NeurosimError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# -- model files ----------------------------------------------------------------------------------

def add_model_options(p: argparse.ArgumentParser) -> None:
    """``MODEL`` and the options that say how to read it (NIR source profile, overrides, torch shape)."""
    from neurosim.frontends.profiles import profiles

    p.add_argument("model", help="model file: .nir, .nsim (native) or .pt/.pth/.pt2 (torch; a pickled module needs "
                                  "--trust-pickle)")
    p.add_argument("--source", choices=sorted(profiles()), default=None,
                   help="NIR source profile: which framework exported the file (default: exact restore for "
                        "files neurosim wrote, else the NIR spec)")
    p.add_argument("--dt", type=positive_float, default=None, dest="dt_s", metavar="SECONDS",
                   help="timestep used to discretise NIR time constants (overrides the profile)")
    p.add_argument("--reset", choices=("zero", "subtract", "none"), default=None, help="override the reset mode")
    p.add_argument("--reset-timing", choices=("immediate", "delayed"), default=None, help="override the reset timing")
    p.add_argument("--spike-rule", choices=("gt", "ge", "multi"), default=None,
                   help="override the spike rule (gt: v > thr; ge: v >= thr, e.g. Sinabs SingleSpike; multi: "
                        "floor(v/thr) spikes, Sinabs MultiSpike)")
    p.add_argument("--norm-input", action=argparse.BooleanOptionalAction, default=None,
                   help="scale the input of spiking leaky neurons by 1 - decay (Sinabs LIF norm_input=True, the "
                        "--source sinabs default; --no-norm-input for Sinabs models built with norm_input=False)")
    p.add_argument("--input-shape", type=shape_arg, default=None,
                   help="unbatched input shape for torch modules, e.g. 64 or 1,8,8")
    p.add_argument("--trust-pickle", action="store_true",
                   help="allow a .pt/.pth file that pickles a whole module: unpickling runs code from the file, "
                        "so only for files you trust (default: weights-only loading, which refuses such files)")


def load_model_of(args):
    """The IR graph of ``args.model`` read with the options of :func:`add_model_options`."""
    from neurosim.frontends import load_model

    return load_model(args.model, source=args.source, dt_s=args.dt_s, reset=args.reset,
                      reset_timing=args.reset_timing, spike_rule=args.spike_rule,
                      norm_input=args.norm_input, input_shape=args.input_shape,
                      trust_pickle=getattr(args, "trust_pickle", False))


#: dtype kinds an input array may have: bool, signed and unsigned integers, real floats
ARRAY_KINDS = "biuf"


def load_array(path: str, what: str = "input array") -> np.ndarray:
    """One ``.npy`` array read without ever unpickling or evaluating anything beyond its header dict.

    The one boundary of array files: the header is read first (``numpy.lib.format``); a file that is
    not a ``.npy`` (empty, an ``.npz``, a directory, a malformed or hostile header), a dtype that is
    not bool/integer/real (structured, string, bytes, object, complex, datetime, timedelta), an
    element count above the ``elements`` limit (:mod:`neurosim.limits`) and a file shorter than its
    header declares are all refused *before* any data is allocated or read. The values (finite,
    in range, the shape the model wants) are checked by the engine's input check
    (:func:`neurosim.targets.neuromorphic.model.reference.check_input_array`), which the Python API
    shares."""
    import os
    import stat

    from numpy.lib import format as npf

    from neurosim import limits

    name = str(path)
    fix = "save it with numpy.save(path, x) as [T, *input_shape]"
    shown = _shown(name, 200)
    try:
        if os.path.exists(name) and not stat.S_ISREG(os.stat(name).st_mode):  # before open(): a FIFO blocks it
            raise FormatError(f"{what} {shown} is not a regular file (a directory, pipe or device); {fix}")
        fh = open(name, "rb")
    except (OSError, ValueError) as exc:  # ValueError: a path with a NUL byte
        raise FormatError(f"cannot read {what} {shown} ({getattr(exc, 'strerror', None) or exc}); {fix}") from None
    with fh:
        try:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):  # a pipe or device could block or never end
                raise FormatError(f"{what} {shown} is not a regular file; {fix}")
            size = st.st_size
            limits.check("file_bytes", size, f"{what} {shown}")
            magic = fh.read(6)
        except OSError as exc:  # e.g. a directory on some systems
            raise FormatError(f"cannot read {what} {shown} ({exc.strerror or exc}); {fix}") from None
        if magic[:4] == b"PK\x03\x04":
            raise FormatError(f"{what} {shown} is an .npz archive; give one .npy array ({fix})")
        if not magic:
            raise FormatError(f"{what} {shown} is empty (0 bytes); {fix}")
        if magic != b"\x93NUMPY":
            raise FormatError(f"{what} {shown} is not a numpy .npy file (it starts with {magic!r}, not the "
                                  f".npy magic b'\\x93NUMPY'); {fix}")
        fh.seek(0)
        try:
            version = npf.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = npf.read_array_header_1_0(fh)
            elif version in ((2, 0), (3, 0)):
                shape, fortran, dtype = npf.read_array_header_2_0(fh)
            else:
                raise ValueError(version)
        except Exception:  # noqa: BLE001 - any failure to parse a hostile header is one answer: not a .npy
            # numpy's messages quote the parser's internals (``<ast.BoolOp object at 0x...>``): name the file
            raise FormatError(f"{what} {shown} is not a numpy .npy file: its header is malformed or truncated "
                                  f"(it must be a dict of 'descr', 'fortran_order' and 'shape'); {fix}") from None
        if not isinstance(dtype, np.dtype) or dtype.kind not in ARRAY_KINDS or dtype.fields or dtype.subdtype:
            raise SimulationError(f"{what} {shown} has dtype {str(dtype)!r}; inputs must be bool, integer or real "
                                  f"float numbers (spike counts or currents): convert it, e.g. x.astype(numpy.float32)")
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
            raise FormatError(f"{what} {shown} declares shape {shape!r} in its header; a .npy shape holds integers "
                              f">= 0: the file is corrupt ({fix})")
        count = 1
        for n in shape:
            count *= int(n)
        limits.check("elements", count, f"{what} {shown} (shape {tuple(shape)!r})")
        need = count * dtype.itemsize
        have = size - fh.tell()
        if have < need:
            raise FormatError(f"{what} {shown} is truncated: its header declares shape {tuple(shape)!r} of "
                                  f"{str(dtype)!r} ({need:,} bytes of data) but the file holds {max(0, have):,}; "
                                  f"{fix}")
        data = fh.read(need)
    if len(data) < need:  # the file shrank while it was read
        raise FormatError(f"{what} {shown} is truncated ({len(data):,} of {need:,} bytes of data); {fix}")
    x = np.frombuffer(data, dtype=dtype, count=count)
    return x.reshape(shape, order="F" if fortran else "C").copy()
