"""One JSON document written in pieces, byte for byte as `json.dumps` would write it whole.

A set answer (`--all --json`, a set `--export`) is one document holding one long list; writing
each piece of that list as soon as it is checked keeps memory flat however long the list is.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any, NamedTuple

# Stands for an item while the document's frame is laid out; JSON writes it as "\u0000...".
MARKER = "\x00agentos-sessions-item-{}\x00"


class Streamed(NamedTuple):
    """An answer to write as it is read: the keys before the list, its pieces, then what comes after it.

    `finish` is called once every piece is out: the keys after the list, the exit code and the stderr note.
    `restorable`: the document is an export, named so in errors, that must stay within what --restore reads.
    """

    head: dict[str, Any]
    key: str
    pieces: AsyncIterator[list[Any]]
    finish: Callable[[], tuple[dict[str, Any], int, str]]
    restorable: str | None = None
    # A write cut short part-way: the error to report once the whole answer (its report) is out.
    failure: Callable[[], Any] | None = None  # () -> CliError | None


class TooLarge(Exception):
    """The document grew past the size it may have; what was written is to be discarded."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


class ListWriter:
    """Writes {**head, key: [items...], **tail} through `write`, exactly as json.dumps(document, **layout) would."""

    def __init__(
        self,
        write: Callable[[str], object],
        layout: dict[str, Any],
        head: dict[str, Any],
        key: str,
        limit: int | None = None,
    ) -> None:
        self.output, self.layout, self.head, self.key = write, {**layout, "ensure_ascii": False}, head, key
        self.count, self.size, self.limit = 0, 0, limit
        frame = self.dumps({**head, key: [MARKER.format(0), MARKER.format(1)]})
        first, second = self.marker_span(frame, 0), self.marker_span(frame, 1)
        self.opening, self.separator = frame[: first[0]], frame[first[1] : second[0]]
        # Items sit one level deeper than the frame: each line of an indented item gets the frame's indent.
        self.item_indent = frame[frame.rfind("\n", 0, first[0]) + 1 : first[0]] if "\n" in self.opening else ""

    def write(self, text: str) -> None:
        """Write text on, counting its UTF-8 bytes against the limit (TooLarge past it)."""
        if self.limit is not None:
            self.size += len(text.encode())
            if self.size > self.limit:
                raise TooLarge(self.size)
        self.output(text)

    def dumps(self, value: Any) -> str:
        return json.dumps(value, **self.layout)

    def marker_span(self, frame: str, number: int) -> tuple[int, int]:
        quoted = json.dumps(MARKER.format(number))
        start = frame.index(quoted)
        return start, start + len(quoted)

    def add(self, items: list[Any]) -> None:
        """Write these items of the list."""
        for item in items:
            text = self.dumps(item)
            if self.item_indent:
                text = text.replace("\n", "\n" + self.item_indent)  # JSON strings never hold a raw newline
            self.write((self.opening if self.count == 0 else self.separator) + text)
            self.count += 1

    def close(self, tail: dict[str, Any]) -> None:
        """Write the end of the list and the keys after it."""
        if self.count == 0:
            self.write(self.dumps({**self.head, self.key: [], **tail}))
            return
        frame = self.dumps({**self.head, self.key: [MARKER.format(0)], **tail})
        self.write(frame[self.marker_span(frame, 0)[1] :])
