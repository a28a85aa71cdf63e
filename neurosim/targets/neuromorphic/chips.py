"""``neurosim chips [NAME]``: list the chip presets, or show every constant of one with its source.

Registered in ``neurosim.cli.COMMANDS`` as ``"chips": (help, configure, run)``.
"""

from __future__ import annotations

import argparse

from neurosim.targets.neuromorphic.config import ChipPreset, Constant, load_preset, presets

HELP = "list the chip presets, or show every constant of one with its value, unit and source"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", default=None, metavar="NAME",
                        help="a preset name (e.g. loihi) or a path to a preset TOML; omit to list all presets")


def _console():
    from rich.console import Console

    con = Console()
    if not con.is_terminal:
        con = Console(width=140)
    return con


def _value_text(const: Constant) -> str:
    value = const.value
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return const.display()


def _with_unit(const: Constant) -> str:
    text = _value_text(const)
    return f"{text} {const.unit}" if const.known and const.unit else text


def short_reference(chip: ChipPreset) -> str:
    """One line: the reference's authors and venue without the title (or the description)."""
    ref = chip.reference or chip.description
    parts = ref.split("'")
    if len(parts) >= 3:
        return f"{parts[0].strip().rstrip(',')}, {parts[-1].strip(' ,')}"
    return ref


def _list(con) -> int:
    from rich.table import Table

    table = Table(title="chip presets (neurosim/targets/neuromorphic/presets)")
    for col, justify in (("name", "left"), ("cores", "right"), ("neurons/core", "right"), ("axons/core", "right"),
                         ("weight bits", "right"), ("E / synaptic op", "right"), ("timing", "left"), ("source", "left")):
        table.add_column(col, justify=justify, no_wrap=col != "source", overflow="ellipsis")
    for name, chip in presets().items():
        table.add_row(name, f"{chip.cores_per_chip:,}", f"{chip.neurons_per_core:,}", f"{chip.axons_per_core:,}",
                      str(chip.weight_bits), _with_unit(chip.energy_pj["synaptic_op"]), chip.timing,
                      short_reference(chip))
    con.print(table)
    con.print("neurosim chips NAME shows every constant of one preset with its source.")
    return 0


def _all_constants(chip: ChipPreset) -> dict:
    """The preset's constants followed by its neuron arithmetic (``arithmetic.<key>``)."""
    return {**chip.constants(), **chip.arithmetic.constants()}


def _show(con, chip: ChipPreset) -> int:
    from rich.table import Table

    con.print(f"[bold]{chip.name}[/bold]: {chip.description}")
    if chip.reference:
        con.print(f"reference: {chip.reference}")
    if chip.path:
        con.print(f"file: {chip.path}")
    table = Table(show_lines=False)
    table.add_column("constant", overflow="fold")
    table.add_column("value", justify="right", overflow="fold")
    table.add_column("unit")
    table.add_column("source", overflow="fold", ratio=3)
    table.add_column("note", overflow="fold", ratio=2)
    section = None
    for key, const in _all_constants(chip).items():
        group = key.split(".", 1)[0] if "." in key else "structure"
        if section is not None and group != section:
            table.add_section()
        section = group
        table.add_row(key, _value_text(const), const.unit, const.source, const.note)
    con.print(table)
    unknown = chip.unknown_constants()
    if unknown:
        con.print(f"{len(unknown)} constant(s) unknown (excluded from energy and latency, and reported): "
                  + ", ".join(unknown))
    return 0


def markdown_table(chip: ChipPreset) -> str:
    """Every constant of ``chip`` as a Markdown table (docs/chips.md embeds these; a test checks they match)."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| constant | value | unit | source | note |", "|---|---|---|---|---|"]
    for key, const in _all_constants(chip).items():
        lines.append(f"| `{key}` | {cell(_value_text(const))} | {cell(const.unit)} | {cell(const.source)} | {cell(const.note)} |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    con = _console()
    if getattr(args, "name", None) is None:
        return _list(con)
    return _show(con, load_preset(args.name))
