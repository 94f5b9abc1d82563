"""Where results and feedback go: stdout for the result, stderr for notes and progress.

The only module that writes a result: JSON here, tables through `tables.py`.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from .model import Result, json_document, printable


def emit(result: Result, as_json: bool) -> None:
    """Write a result to stdout: JSON for programs, a table for people; terminal controls are escaped."""
    if as_json:
        # Controls become \uXXXX escapes, which JSON reads back as the same characters.
        # Indented for a person at a terminal; one compact line for a pipe or a file, as gh does.
        layout: dict[str, Any] = {"indent": 2} if sys.stdout.isatty() else {"separators": (",", ":")}
        sys.stdout.write(printable(json.dumps(json_document(result), ensure_ascii=False, **layout), True) + "\n")
    else:
        from .tables import print_for_people  # rich loads only for a table

        print_for_people(result)
    sys.stdout.flush()
    if result.note:
        print(printable(result.note, keep_lines=True), file=sys.stderr)


def print_chunk(text: str) -> None:
    """Show part of a streamed reply at once, terminal controls escaped."""
    sys.stdout.write(printable(text, keep_lines=True))
    sys.stdout.flush()


# What each long fetch is called on its progress bar.
PROGRESS_LABELS = {
    "pages": "fetching sessions",
    "sessions": "reading runs",
    "sessions read": "reading runs per session",
}


class PagesProgress:
    """Bars on stderr (rich.progress) for long fetches: pages of sessions, then runs checked per session."""

    def __init__(self) -> None:
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}

    def __call__(self, done: int, total: int, unit: str = "pages") -> None:
        if total <= 1:
            return
        if self._progress is None:
            from rich.console import Console
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
