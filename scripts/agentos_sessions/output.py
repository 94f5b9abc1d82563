"""Where results and feedback go: stdout for the result, stderr for notes and progress.

The only module that writes a result; what it writes comes from `render.py`.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from rich.console import Console

from .model import Result
from .render import for_people, json_document


def stdout_console() -> Console:
    """Rich tables on a terminal; in a pipe, never cut or wrap a row."""
    # Names, inputs and outputs come from the API: never read them as markup or emoji codes.
    plain_text: dict[str, Any] = {"markup": False, "emoji": False, "highlight": False}
    if sys.stdout.isatty():
        return Console(**plain_text)
    width = int(os.environ["COLUMNS"]) if os.environ.get("COLUMNS", "").isdigit() else 100_000
    return Console(width=width, no_color=True, soft_wrap=False, **plain_text)


def emit(result: Result, as_json: bool) -> None:
    """Write a result to stdout: JSON for programs, a table for people."""
    if as_json:
        sys.stdout.write(json.dumps(json_document(result), indent=2, ensure_ascii=False) + "\n")
    else:
        rendered = for_people(result)
        if isinstance(rendered, str):
            sys.stdout.write(rendered + "\n")
        else:
            stdout_console().print(rendered)
    sys.stdout.flush()
    if result.note:
        print(result.note, file=sys.stderr)


def print_chunk(text: str) -> None:
    """Show part of a streamed reply at once."""
    sys.stdout.write(text)
    sys.stdout.flush()


class PagesProgress:
    """A bar of fetched pages on stderr (rich.progress), shown once there is more than one page."""

    def __init__(self) -> None:
        self._progress: Any = None
        self._task: Any = None

    def __call__(self, done: int, total: int) -> None:
        if total <= 1:
            return
        if self._progress is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._progress = Progress(
                TextColumn("fetching sessions"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("pages"),
                console=Console(stderr=True),
            )
            self._progress.start()
            self._task = self._progress.add_task("pages", total=total)
        self._progress.update(self._task, completed=done, total=total)

    def close(self) -> None:
        """Draw the bar a last time and give the terminal back."""
        if self._progress is not None:
            self._progress.stop()
