"""Printing rich tables and long lines so that no cell is truncated or wrapped in a file or pipe.

On a terminal a table takes the terminal's width (rich wraps cells to fit it, as a reader at a
terminal expects). When the output is not a terminal (a file, a pipe, a test's capture) there is
no width to respect, so a table is printed at its natural width -- every cell on one line, never
``weight-gradie...`` -- and a long line is written unbroken (``soft_wrap``), so ``grep`` finds it.
"""

from __future__ import annotations


def print_table(console, table) -> None:
    """Print ``table`` at the terminal's width, or unwrapped at its natural width when not a terminal."""
    if console.is_terminal:
        console.print(table)
        return
    table.expand = False
    natural = console.measure(table, options=console.options.update(width=10**6)).maximum
    saved = console.width
    console.width = max(saved, natural)
    try:
        console.print(table, crop=False)
    finally:
        console.width = saved


def print_line(console, text: str, **kwargs) -> None:
    """Print one logical line; off a terminal it is never broken into several."""
    console.print(text, soft_wrap=not console.is_terminal, **kwargs)
