"""Where results and feedback go: stdout for the result, stderr for notes and progress.

The only module that writes a result: JSON here, tables through `tables.py`.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import Any

from . import files
from .errors import ExitCode
from .jsonstream import ListWriter, Streamed, TooLarge
from .model import CutShort, Result, json_document, printable


def json_layout(as_json: bool) -> dict[str, Any]:
    """Indented at a terminal (and for a document shown without --json); one compact line in a pipe, as gh does."""
    return {"indent": 2} if sys.stdout.isatty() or not as_json else {"separators": (",", ":")}


def emit(result: Result, as_json: bool) -> None:
    """Write a result to stdout: JSON for programs, a table for people; terminal controls are escaped."""
    if result.kind == WRITTEN:
        pass  # streamed while it was read
    elif as_json:
        # Controls become \uXXXX escapes, which JSON reads back as the same characters.
        document = json.dumps(json_document(result), ensure_ascii=False, **json_layout(as_json))
        sys.stdout.write(printable(document, True) + "\n")
    else:
        from .tables import print_for_people  # rich loads only for a table

        print_for_people(result)
    sys.stdout.flush()
    if result.note:
        print(printable(result.note, keep_lines=True), file=sys.stderr)


# The kind of a result already written to stdout while it was read: only its note is left to print.
WRITTEN = "written"


async def emit_streamed(result: Result, as_json: bool) -> Result:
    """Write a streamed answer to stdout piece by piece, each as soon as it is checked; the note comes after.

    Cut short by an error, stdout holds an incomplete document and the error goes to stderr (exit non-zero).
    """
    streamed: Streamed = result.data
    limit = files.MAX_RESTORE_BYTES if streamed.restorable else None  # an export must stay restorable
    write = lambda text: sys.stdout.write(printable(text, True))  # noqa: E731
    writer = ListWriter(write, json_layout(as_json), streamed.head, streamed.key, limit)
    try:
        async with contextlib.aclosing(streamed.pieces) as pieces:
            async for piece in pieces:
                writer.add(piece)
        tail, exit_code, note = streamed.finish()
        writer.close(tail)
        sys.stdout.write("\n")
        sys.stdout.flush()
    except TooLarge as error:
        files.refuse_too_large(f"more than {error.size:,} bytes", streamed.restorable or "the answer")
    except BrokenPipeError:
        # The reader left (`| head -1`): as Unix tools do, end quietly with 141.
        # Python flushes stdout again at exit: point it at /dev/null so that flush cannot fail.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return Result(WRITTEN, None, ExitCode.BROKEN_PIPE)
    failure = streamed.failure() if streamed.failure else None
    if failure is not None:
        raise CutShort(failure, Result(WRITTEN, None, failure.exit_code, note))
    return Result(WRITTEN, None, ExitCode(exit_code), note)


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
                # A streamed answer writes stdout while the bars run: rich must not capture it onto stderr.
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._progress.start()
        if unit not in self._tasks:
            self._tasks[unit] = self._progress.add_task(PROGRESS_LABELS.get(unit, unit), total=total, unit=unit)
        self._progress.update(self._tasks[unit], completed=done, total=total)

    def close(self) -> None:
        """Draw the bars a last time and give the terminal back."""
        if self._progress is not None:
            self._progress.stop()
