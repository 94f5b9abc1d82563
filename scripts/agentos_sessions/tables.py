"""Tables for people on stdout: rich's console, sized for a terminal or a pipe.

Imported only when a table is printed, so JSON answers never load rich.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from rich.console import Console

from .model import Result, printable
from .render import for_people

# Narrower than this, $COLUMNS is taken for a mistake (COLUMNS=0 would print nothing at all).
MIN_COLUMNS = 20
MAX_COLUMNS = 100_000


def columns_from_environment() -> int | None:
    """$COLUMNS when it is a usable width, else None."""
    text = os.environ.get("COLUMNS", "")
    return int(text) if text.isdigit() and MIN_COLUMNS <= int(text) <= MAX_COLUMNS else None


def terminal_width() -> int:
    """The width of the terminal on stdout, not trusting $COLUMNS."""
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns or 80
    except (OSError, ValueError):
        return 80


class ResultConsole(Console):
    """A rich Console that leaves a closed stdout to `main` (rich itself would exit 1)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


def stdout_console() -> Console:
    """Rich tables on a terminal; in a pipe, never cut or wrap a row."""
    # Names, inputs and outputs come from the API: never read them as markup or emoji codes.
    plain_text: dict[str, Any] = {"markup": False, "emoji": False, "highlight": False}
    width = columns_from_environment()
    if sys.stdout.isatty():
        return ResultConsole(width=width or terminal_width(), **plain_text)
    return ResultConsole(width=width or MAX_COLUMNS, no_color=True, soft_wrap=False, **plain_text)


def print_for_people(result: Result) -> None:
    """Print a result's table (or line of text) on stdout."""
    rendered = for_people(result)
    if isinstance(rendered, str):
        sys.stdout.write(printable(rendered, keep_lines=True) + "\n")
    else:
        stdout_console().print(rendered)
