"""Where results and feedback go: stdout for the result, stderr for notes and progress.

The only module that writes a result; what it writes comes from `render.py`.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from rich.console import Console

from .model import Result, printable
from .render import for_people, json_document

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


def emit(result: Result, as_json: bool) -> None:
    """Write a result to stdout: JSON for programs, a table for people; terminal controls are escaped."""
    if as_json:
        # Controls become \uXXXX escapes, which JSON reads back as the same characters.
        # Indented for a person at a terminal; one compact line for a pipe or a file, as gh does.
        layout: dict[str, Any] = {"indent": 2} if sys.stdout.isatty() else {"separators": (",", ":")}
        sys.stdout.write(printable(json.dumps(json_document(result), ensure_ascii=False, **layout), True) + "\n")
    else:
        rendered = for_people(result)
        if isinstance(rendered, str):
            sys.stdout.write(printable(rendered, keep_lines=True) + "\n")
        else:
            stdout_console().print(rendered)
    sys.stdout.flush()
    if result.note:
        print(printable(result.note, keep_lines=True), file=sys.stderr)


def print_chunk(text: str) -> None:
    """Show part of a streamed reply at once, terminal controls escaped."""
    sys.stdout.write(printable(text, keep_lines=True))
    sys.stdout.flush()


# What each long fetch is called on its progress bar.
PROGRESS_LABELS = {"pages": "fetching sessions", "sessions": "reading runs"}


class PagesProgress:
    """Bars on stderr (rich.progress) for long fetches: pages of sessions, then runs checked per session."""

    def __init__(self) -> None:
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}

    def __call__(self, done: int, total: int, unit: str = "pages") -> None:
        if total <= 1:
            return
        if self._progress is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[unit]}"),
                console=Console(stderr=True),
            )
            self._progress.start()
        if unit not in self._tasks:
            self._tasks[unit] = self._progress.add_task(PROGRESS_LABELS.get(unit, unit), total=total, unit=unit)
        self._progress.update(self._tasks[unit], completed=done, total=total)

    def close(self) -> None:
        """Draw the bars a last time and give the terminal back."""
        if self._progress is not None:
            self._progress.stop()
