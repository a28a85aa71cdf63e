"""The ``neurosim`` command: the root parser over the targets' registry.

Commands come from :mod:`neurosim.targets` (each target's ``cli`` declares a
:class:`~neurosim.commands.Target`) plus two that belong to no target: ``info`` (the IR's layer
table) and ``report`` (print a saved ``report.json`` of any target, found by its schema). A
nested target's commands also answer to ``neurosim <command> <target>`` (``neurosim rtl sat`` is
``neurosim sat rtl``), and ``neurosim <target> ARG`` runs the target's default command when
``ARG`` is none of its commands. Errors that derive from :class:`~neurosim.errors.NeurosimError`
print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys

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


def _top_level() -> tuple[dict[str, Command], list]:
    """(top-level commands, nested targets)."""
    from neurosim.targets import targets

    commands, nested = dict(COMMON), []
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


def build_parser() -> argparse.ArgumentParser:
    from neurosim import __version__

    commands, nested = _top_level()
    parser = argparse.ArgumentParser(prog="neurosim", description="Neuromorphic and FPGA hardware simulation.")
    parser.add_argument("--version", action="version", version=f"neurosim {__version__}")
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


def main(argv: list[str] | None = None) -> int:
    argv = canonical_argv(list(sys.argv[1:] if argv is None else argv))
    args = build_parser().parse_args(argv)
    try:
        from neurosim import limits

        with limits.overridden(limits.parse(args.limit)):
            return args.run(args)
    except NeurosimError as exc:
        print(f"neurosim {args.command_name}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
