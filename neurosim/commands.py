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

from neurosim.errors import NeurosimError, SimulationError


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

def shape_arg(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--input-shape must be integers like 64 or 1,8,8, found {text!r}") from None
    if not shape or min(shape) <= 0:
        raise argparse.ArgumentTypeError(f"--input-shape must be positive integers, found {text!r}")
    return shape


def rate_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--rate must be a number in [0, 1], found {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"--rate must be a spike probability in [0, 1], found {text!r}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, found {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, found {text!r}")
    return value


def nm_arg(text: str) -> tuple[int, int]:
    """``--nm`` as ``(n, m)``, through the one N:M parser (``dense`` is ``1:1``)."""
    from neurosim.ir.nm import parse_nm

    try:
        return parse_nm(text)
    except NeurosimError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# -- model files ----------------------------------------------------------------------------------

def add_model_options(p: argparse.ArgumentParser) -> None:
    """``MODEL`` and the options that say how to read it (NIR source profile, overrides, torch shape)."""
    from neurosim.frontends.profiles import profiles

    p.add_argument("model", help="model file: .nir, .nsim (native) or .pt/.pth (pickled torch module)")
    p.add_argument("--source", choices=sorted(profiles()), default=None,
                   help="NIR source profile: which framework exported the file (default: exact restore for "
                        "files neurosim wrote, else the NIR spec)")
    p.add_argument("--dt", type=float, default=None, dest="dt_s", metavar="SECONDS",
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


def load_array(path: str, what: str = "input array") -> np.ndarray:
    """One ``.npy`` array, never unpickled; a clear error for anything else."""
    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise SimulationError(f"cannot read {what} {path!r}: {exc}; save it with numpy.save as [T, *input_shape]") from None
    if isinstance(x, np.lib.npyio.NpzFile):
        raise SimulationError(f"{what} {path!r} is an .npz archive; give one .npy array shaped [T, *input_shape]")
    return x
