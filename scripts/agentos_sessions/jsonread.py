"""Reading a JSON object from a file member by member, its one long list an item at a time (flat memory).

A set export is `{"format": ..., "exported_at": ..., "sessions": [...]}`: the sessions are read one
after another with the standard decoder, so memory holds one entry and a buffer, not the file.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from typing import Any, BinaryIO, NamedTuple

# Bytes read at a time; a value longer than what is buffered is retried with twice as much.
CHUNK = 1 << 20
WHITESPACE = " \t\n\r"
# How close to the end of the buffer an error may be and still mean "cut off" (a \uXXXX escape is 6 characters).
TAIL = 8


class NotJson(ValueError):
    """The text is not one JSON object."""


class ValueTooLarge(ValueError):
    """One value is larger than the limit given."""


class Member(NamedTuple):
    name: str
    value: Any
    item: bool  # True: one item of the list under `name`; False: the whole value of member `name`


class Reader:
    """A buffered UTF-8 text window over a binary file, decoded a value at a time."""

    def __init__(self, file: BinaryIO, decoder: json.JSONDecoder, limit: int) -> None:
        self.file, self.decoder, self.limit = file, decoder, limit
        self.text = codecs.getincrementaldecoder("utf-8")()
        self.buffer, self.position, self.ended = "", 0, False

    def fill(self, at_least: int = 0) -> bool:
        """Read more into the buffer; False at the end of the file."""
        if self.ended:
            return False
        if self.position > CHUNK:  # drop what was read
            self.buffer, self.position = self.buffer[self.position :], 0
        data = self.file.read(max(at_least, CHUNK))
        self.ended = not data
        self.buffer += self.text.decode(data, final=self.ended)
        return not self.ended

    def peek(self) -> str:
        """The next character that is not whitespace ('' at the end), left unread."""
        while True:
            while self.position < len(self.buffer) and self.buffer[self.position] in WHITESPACE:
                self.position += 1
            if self.position < len(self.buffer) or not self.fill():
                return self.buffer[self.position : self.position + 1]

    def expect(self, allowed: str) -> str:
        """Read the next character, which must be one of `allowed`."""
        found = self.peek()
        if not found or found not in allowed:
            raise NotJson(f"expected {' or '.join(repr(c) for c in allowed)}, found {found!r}")
        self.position += 1
        return found

    def value(self) -> Any:
        """Decode the next value; a value that may go on past the buffer is decoded again with more read."""
        self.peek()
        while True:
            pending = len(self.buffer) - self.position
            try:
                value, end = self.decoder.raw_decode(self.buffer, self.position)
            except json.JSONDecodeError as error:
                if not cut_at_the_end(error, len(self.buffer)):
                    raise NotJson(error.msg) from None
                if pending > self.limit:
                    raise ValueTooLarge(f"a value is larger than {self.limit:,} characters") from None
                if not self.fill(pending):
                    raise NotJson(error.msg) from None
                continue
            if end < len(self.buffer) or not self.fill(pending):  # a number or word may go on past the buffer
                if end - self.position > self.limit:
                    raise ValueTooLarge(f"a value is larger than {self.limit:,} characters")
                self.position = end
                return value

    def end(self) -> None:
        """Nothing but whitespace may follow the object."""
        if self.peek():
            raise NotJson("extra data after the object")


def cut_at_the_end(error: json.JSONDecodeError, length: int) -> bool:
    """True if the error may only mean the value goes on past the buffer (a string, escape or word cut off)."""
    return error.pos >= length - TAIL or error.msg.startswith("Unterminated string")


def members(file: BinaryIO, decoder: json.JSONDecoder, list_name: str, limit: int) -> Iterator[Member]:
    """The members of the object the file holds, in order; the list under `list_name` an item at a time."""
    reader = Reader(file, decoder, limit)
    reader.expect("{")
    if reader.peek() == "}":
        reader.expect("}")
        reader.end()
        return
    seen: set[str] = set()
    while True:
        name = reader.value()
        if not isinstance(name, str):
            raise NotJson("a member name is not a string")
        if name in seen:
            raise NotJson(f"member {name!r} appears twice")
        seen.add(name)
        reader.expect(":")
        if name == list_name and reader.peek() == "[":
            yield from items(reader, name)
        else:
            yield Member(name, reader.value(), False)
        if reader.expect(",}") == "}":
            reader.end()
            return


def items(reader: Reader, name: str) -> Iterator[Member]:
    """The items of the list at the reader, each as soon as it is decoded."""
    reader.expect("[")
    if reader.peek() == "]":
        reader.expect("]")
        return
    while True:
        yield Member(name, reader.value(), True)
        if reader.expect(",]") == "]":
            return
