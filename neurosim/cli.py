"""The ``neurosim`` command: the root parser over the targets' registry.

Commands come from :mod:`neurosim.targets` (each target's ``cli`` declares a
:class:`~neurosim.commands.Target`) plus two that belong to no target: ``info`` (the IR's layer
table) and ``report`` (print a saved ``report.json`` of any target, found by its schema). A
nested target's commands also answer to ``neurosim <command> <target>`` (``neurosim rtl sat`` is
``neurosim sat rtl``), and ``neurosim <target> ARG`` runs the target's default command when
``ARG`` is none of its commands.

:func:`main` is the user's safety net -- a traceback is never the interface:

- an error that derives from :class:`~neurosim.errors.NeurosimError` (bad input, impossible
  request) prints one line ``neurosim <command>: error: ...`` and exits with status 2 (argparse's
  usage errors exit 2 too);
- Ctrl-C (KeyboardInterrupt) prints one line and exits 130, SIGTERM one line and exits 143 (the
  handler turns SIGTERM into an exception, so output temporaries are removed on the way out);
- MemoryError prints one line naming the resource limits and exits 3 (the machine ran out of
  memory for an input the limits let through: lower the size, or the limits);
- any other exception is a bug in neurosim: one line ``neurosim <command>: internal error:
  <type>: <first line> (this is a bug in neurosim; rerun with --debug ...)`` and exit 70
  (``EX_SOFTWARE``).

``--debug`` (before the command, ``neurosim --debug estimate ...``, or among its options; or
``NEUROSIM_DEBUG=1``) prints the traceback above that line, with the same exit status.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import traceback

from neurosim.commands import Command, add_model_options, console, load_model_of
from neurosim.errors import FormatError, NeurosimError


# -- info ---------------------------------------------------------------------------------------

def _info(args) -> int:
    from rich.table import Table

    from neurosim.report.summary import summarize, totals
    from neurosim.report.tables import print_table

    graph = load_model_of(args)
    rows = summarize(graph)
    table = Table(title=f"{args.model}", show_lines=False)
    for col in ("layer", "type", "shape", "neurons", "synapses", "params", "sparsity", "N:M", "fixed point"):
        table.add_column(col, justify="right" if col in ("neurons", "synapses", "params", "sparsity") else "left")
    for r in rows:
        table.add_row(r.name, r.type, "x".join(map(str, r.shape)), f"{r.neurons:,}" if r.neurons else "",
                      f"{r.synapses:,}" if r.synapses else "", f"{r.params:,}",
                      "" if r.sparsity is None else f"{r.sparsity:.1%}", r.nm, r.fixed_point)
    t = totals(rows)
    table.add_section()
    table.add_row("total", "", "", f"{t['neurons']:,}", f"{t['synapses']:,}", f"{t['params']:,}", "", "", "")
    con = console()
    print_table(con, table)
    for r in rows:
        if r.details:
            con.print(f"  [bold]{r.name}[/]: {r.details}")
    sem = graph.semantics
    dt = "none (the source is discrete-time)" if sem.dt_s is None else f"{sem.dt_s!r} s"
    con.print(f"semantics: profile [bold]{sem.profile}[/], dt = {dt}")
    for note in sem.notes:
        con.print(f"  - {note}")
    return 0


def _configure_report(p):
    p.add_argument("report", help="a report.json written by `neurosim estimate --out` or `neurosim sat --out` "
                                  "(or its folder)")


def _report(args) -> int:
    from pathlib import Path

    from neurosim.targets import targets

    path = Path(args.report)
    if path.is_dir():
        path = path / "report.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(f"cannot read report {str(path)!r}: {exc}; give a report.json neurosim wrote") from None
    schema = doc.get("schema") if isinstance(doc, dict) else None
    by_schema = {t.report_schema: t for t in targets() if t.report_schema}
    if schema not in by_schema:
        raise FormatError(f"report {str(path)!r} has schema {schema!r}; neurosim reads {sorted(by_schema)!r}")
    by_schema[schema].print_report(doc, console())
    return 0


#: commands of no target
COMMON: dict[str, Command] = {
    "info": Command("print a table of the model's layers", add_model_options, _info),
    "report": Command("print the summary of a saved report.json (any target)", _configure_report, _report),
}

#: commands of no target that live in their own package: name -> module holding ``COMMAND``
#: (imported when the parser is built, so ``neurosim --help`` lists them)
PACKAGED: dict[str, str] = {
    "metrics": "neurosim.metrics.cli",
    "sweep": "neurosim.sweep.cli",
}


def _top_level() -> tuple[dict[str, Command], list]:
    """(top-level commands, nested targets)."""
    from neurosim.targets import targets

    import importlib

    commands, nested = dict(COMMON), []
    for name, module in PACKAGED.items():
        commands[name] = importlib.import_module(module).COMMAND
    for target in targets():
        if target.nested:
            nested.append(target)
        else:
            commands.update(target.commands)
    return commands, nested


def canonical_argv(argv: list[str]) -> list[str]:
    """Rewrite the aliases: ``<command> <target> ...`` -> ``<target> <command> ...`` and
    ``<target> ARG ...`` -> ``<target> <default> ARG ...``."""
    _, nested = _top_level()
    by_name = {t.name: t for t in nested}
    if len(argv) >= 2 and argv[1] in by_name and argv[0] in by_name[argv[1]].commands:
        argv = [argv[1], argv[0], *argv[2:]]
    if argv and argv[0] in by_name:
        target = by_name[argv[0]]
        rest = argv[1:]
        if target.default and rest and rest[0] not in target.commands and rest[0] not in ("-h", "--help"):
            argv = [argv[0], target.default, *rest]
    return argv


def _add_common_options(p: argparse.ArgumentParser) -> None:
    """Options every command takes."""
    from neurosim.limits import DEFAULTS

    p.add_argument("--limit", action="append", default=[], metavar="NAME=VALUE",
                   help="raise a resource limit for a genuinely large case (repeatable), e.g. --limit neurons=1e9; "
                        f"limits: {', '.join(sorted(DEFAULTS))}")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="on an error, print the Python traceback too (also `neurosim --debug COMMAND`)")


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors kept to one readable line: a long value it quotes (a 5,000-character
    path, a megabyte of garbage) is shortened to its head and tail."""

    def error(self, message: str):
        import re

        from neurosim.fileio import shorten, show

        message = re.sub(r"'([^']{161,})'", lambda m: show(m[1]), message.replace("\n", " "))
        if len(message) > 1000:
            message = shorten(message, 1000)
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    from neurosim import __version__

    commands, nested = _top_level()
    parser = _Parser(prog="neurosim", description="Neuromorphic and FPGA hardware simulation.")
    parser.add_argument("--version", action="version", version=f"neurosim {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="on an error, print the Python traceback too (for a bug report); also NEUROSIM_DEBUG=1")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, cmd in commands.items():
        p = sub.add_parser(name, help=cmd.help, description=cmd.help)
        cmd.configure(p)
        _add_common_options(p)
        p.set_defaults(run=cmd.run, command_name=name)
    for target in nested:
        tp = sub.add_parser(target.name, help=target.help, description=target.help)
        tsub = tp.add_subparsers(dest="target_command", required=True)
        for name, cmd in target.commands.items():
            p = tsub.add_parser(name, help=cmd.help, description=cmd.help)
            cmd.configure(p)
            _add_common_options(p)
            p.set_defaults(run=cmd.run, command_name=f"{target.name} {name}")
    return parser


#: where an internal error asks to be reported
ISSUES = "to the neurosim developers (with the command line and the --debug output)"
#: exit statuses besides 0 (success) and 1 (a check that ran and failed: verify, synth)
EXIT_ERROR, EXIT_MEMORY, EXIT_INTERNAL, EXIT_INTERRUPT, EXIT_PIPE, EXIT_TERM = 2, 3, 70, 130, 141, 143


class Terminated(BaseException):
    """SIGTERM arrived: raised in the main thread so ``finally`` blocks (temporary outputs) run."""


@contextlib.contextmanager
def _sigterm_raises():
    """Turn SIGTERM into :class:`Terminated` for the duration of one command (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum, frame):
        raise Terminated()

    old = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _first_line(exc: BaseException, limit: int = 300) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else ""
    return line if len(line) <= limit else line[:limit] + "..."


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = os.environ.get("NEUROSIM_DEBUG", "") not in ("", "0")
    while argv and argv[0] == "--debug":
        debug = True
        argv.pop(0)
    argv = canonical_argv(argv)
    args = build_parser().parse_args(argv)
    debug = debug or getattr(args, "debug", False)
    name = f"neurosim {args.command_name}"

    def say(text: str, status: int) -> int:
        if debug:
            traceback.print_exc(file=sys.stderr)
        print(f"{name}: {text}", file=sys.stderr)
        return status

    try:
        from neurosim import limits

        with _sigterm_raises(), limits.overridden(limits.parse(args.limit)):
            return args.run(args)
    except NeurosimError as exc:
        return say(f"error: {exc}", EXIT_ERROR)
    except KeyboardInterrupt:
        return say("error: interrupted (Ctrl-C); nothing was left half-written, rerun the command to finish it",
                   EXIT_INTERRUPT)
    except Terminated:
        return say("error: terminated (SIGTERM); nothing was left half-written, rerun the command to finish it",
                   EXIT_TERM)
    except BrokenPipeError:  # `neurosim chips | head`: the reader left; say nothing more
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - so the interpreter's final flush stays quiet
        return EXIT_PIPE
    except MemoryError as exc:
        detail = f" ({_first_line(exc)})" if _first_line(exc) else ""
        return say(f"error: out of memory{detail}: the input fits neurosim's resource limits but not this machine; "
                   f"use a smaller model, input, --timesteps or --batch, or lower a limit with --limit NAME=VALUE",
                   EXIT_MEMORY)
    except Exception as exc:  # noqa: BLE001 - the safety net: every other exception is a bug, in one line
        return say(f"internal error: {type(exc).__name__}: {_first_line(exc)} (this is a bug in neurosim; rerun "
                   f"with --debug for the traceback and report it {ISSUES})", EXIT_INTERNAL)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
