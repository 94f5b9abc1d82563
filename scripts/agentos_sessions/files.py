"""The files export, clear and restore use: where backups go and what they are called, writing, and reading back.

Plain file I/O and checks on what a file holds; nothing here talks to AgentOS.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, NoReturn, TextIO

from .errors import CliError, ExitCode, usage_error
from .jsonread import Member, NotJson, ValueTooLarge, members
from .jsonstream import ListWriter, Streamed, TooLarge
from .model import (
    BACKUP_SUBFOLDER,
    EXPORT_FORMAT,
    MAX_JSON_DEPTH,
    SESSION_TEXT_FIELDS,
    SESSION_TYPES,
    checked_id,
    json_depth,
    printable,
    strict_decoder,
)

# The largest file --restore reads. JSON parsed into Python takes several times its size in
# memory, so a bigger file is refused before it is read; --export and --clear never write a
# bigger one (they refuse instead), so every file the tool writes can be restored.
MAX_RESTORE_BYTES = 1 << 30
# The file --export writes for a set of sessions; one session keeps EXPORT_FORMAT.
SET_EXPORT_FORMAT = "agentos-sessions-export/1"
# How much of a session id a backup file name keeps: with the prefix, time stamp, hash, random
# part and the ".{name}.partial" of a write in progress it stays far below NAME_MAX (255 bytes).
NAME_ID_CHARS = 80
# The longest file name, in bytes, that Linux, macOS and Windows file systems take.
NAME_MAX = 255
# Characters every file system takes in a name; the others become "_" and the name gets a hash.
UNPORTABLE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]")
FOLDER_HINT = "give --backup-dir, or set $AGENTOS_BACKUP_DIR or an absolute $XDG_STATE_HOME; nothing was changed"


def backup_dir(given: str | None) -> Path:
    """--backup-dir, else $AGENTOS_BACKUP_DIR, else the XDG state folder, as an absolute path."""
    chosen = given or os.environ.get("AGENTOS_BACKUP_DIR")
    if chosen:
        return Path(chosen).absolute()
    state = os.environ.get("XDG_STATE_HOME", "")
    if Path(state).is_absolute():  # the XDG spec: a relative value is invalid and ignored
        return Path(state) / BACKUP_SUBFOLDER
    try:
        home = Path.home()
    except RuntimeError:  # no $HOME and no passwd entry for this user
        home = Path()
    if not home.is_absolute():
        usage_error("no folder for the --clear backup: no absolute $HOME and no home in the user database", FOLDER_HINT)
    return home / ".local" / "state" / BACKUP_SUBFOLDER


def backup_name(session_id: str, stamp: str, token: str) -> str:
    """A backup file name that fits any file system: an id too long or unusual is cut, and a hash keeps it apart."""
    readable = UNPORTABLE_NAME_CHARS.sub("_", session_id)[:NAME_ID_CHARS]
    if readable != session_id:
        readable += "-" + hashlib.sha256(session_id.encode()).hexdigest()[:8]
    return f"agentos-backup-{readable}-{stamp}-{token}.json"


def size_text(size: int) -> str:
    """A byte count as a person reads it."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size:,} bytes"


def fits_restore(text: str) -> bool:
    """True if the text's UTF-8 form is no larger than --restore reads (a character is at most 4 bytes)."""
    return len(text) <= MAX_RESTORE_BYTES // 4 or len(text.encode()) <= MAX_RESTORE_BYTES


def check_restorable(text: str, what: str) -> None:
    """Refuse a document --restore could not read back (nothing is written)."""
    if not fits_restore(text):
        refuse_too_large(f"{len(text.encode()):,} bytes", what)


def refuse_too_large(size: str, what: str) -> NoReturn:
    """The error for a document larger than --restore reads."""
    usage_error(
        f"{what} would be {size}, more than the {size_text(MAX_RESTORE_BYTES)} --restore reads",
        "select fewer sessions and export them in parts; nothing was written or changed",
    )


def document_text(document: dict[str, Any], what: str) -> str:
    """The document as JSON text: indented for people, compact if only that fits what --restore reads."""
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if not fits_restore(text):
        text = json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n"
    check_restorable(text, what)
    return text


def write_document(document: dict[str, Any], path: Path, exclusive: bool = False) -> None:
    """Write JSON to a file atomically: a crash leaves the old file or the new one.

    `exclusive` never replaces an existing file (a backup must not overwrite another backup).
    """
    text = document_text(document, str(path))
    partial = partial_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        usage_error(
            f"cannot write {path}: {path.parent}: {error.strerror}", "choose a writable folder; nothing was changed"
        )
    try:
        write_private(partial, text)
        if exclusive:
            os.link(partial, path)  # fails if the name exists, unlike a rename
            partial.unlink()
        else:
            partial.replace(path)
    except FileExistsError:
        remove_quietly(partial)
        if not exclusive:
            usage_error(f"cannot write {path}: it appeared while being written", "try again")
        raise
    except OSError as error:
        remove_quietly(partial)
        usage_error(f"cannot write {path}: {error.strerror}", "choose a writable path; nothing was changed")


async def write_streamed(streamed: Streamed, path: Path) -> tuple[dict[str, Any], int, str]:
    """Write a streamed export (indented) piece by piece under a temporary name, renamed once it is complete.

    Cut short (an error, Ctrl-C, past what --restore reads), the file named is left as it was and the
    partial file is removed. Returns what `streamed.finish` gave.
    """
    partial = partial_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with private_file(partial) as file:
            writer = ListWriter(file.write, {"indent": 2}, streamed.head, streamed.key, MAX_RESTORE_BYTES)
            async with contextlib.aclosing(streamed.pieces) as pieces:
                async for piece in pieces:
                    writer.add(piece)
            finished = streamed.finish()
            writer.close(finished[0])
            writer.write("\n")
        partial.replace(path)
    except TooLarge as error:
        remove_quietly(partial)
        refuse_too_large(f"more than {error.size:,} bytes", str(path))
    except OSError as error:
        remove_quietly(partial)
        usage_error(f"cannot write {path}: {error.strerror}", "choose a writable path; nothing was changed")
    except BaseException:
        remove_quietly(partial)
        raise
    return finished


def partial_path(path: Path) -> Path:
    """Where a file is written before it takes its name: beside it, and a name that fits when the file's does."""
    name = f".{path.name}.partial"
    if len(name.encode()) > NAME_MAX:
        name = f".agentos-{hashlib.sha256(path.name.encode()).hexdigest()[:16]}.partial"
    return path.with_name(name)


def remove_quietly(path: Path) -> None:
    """Remove a half-written file; one that cannot be removed is no reason to hide the error that matters."""
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def write_private(path: Path, text: str) -> None:
    """Create the file afresh, readable by its owner only (0600) from the start: it holds whole conversations."""
    with private_file(path) as file:
        file.write(text)


def private_file(path: Path) -> TextIO:
    """A new file open for writing, readable by its owner only (0600) from the start; an old one is removed."""
    path.unlink(missing_ok=True)
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8")


def check_destination(path: Path, flag: str) -> None:
    """Refuse a file destination that cannot be written, before anything is sent."""
    try:
        if path.is_dir():
            usage_error(f"{flag} {path} is a directory", "give a file name, e.g. session.json")
        for parent in path.parents:
            if parent.is_symlink() and not parent.exists():
                usage_error(
                    f"{flag} {path}: {parent} is a link to {os.readlink(parent)}, which does not exist",
                    "create the folder it points to, or give another path; nothing was changed",
                )
            if parent.exists():
                if not parent.is_dir():
                    usage_error(f"{flag} {path}: {parent} is not a directory", "give a path in a directory")
                return
    except OSError as error:  # a name too long, a loop of links, a folder that cannot be searched
        usage_error(f"{flag} {path}: {error.strerror}", "give another path; nothing was changed")


def restore_source(path: Path) -> bytes | None:
    """None for a regular file (read from its path as often as needed); a pipe's bytes, as it cannot be read twice.

    A file larger than --restore reads is refused before it is read.
    """
    limit = f"more than the {size_text(MAX_RESTORE_BYTES)} --restore reads"
    hint = "restore it in parts: --export fewer sessions at a time"
    try:
        with path.open("rb") as file:
            status = os.fstat(file.fileno())
            regular = stat.S_ISREG(status.st_mode)
            content = None if regular else file.read(MAX_RESTORE_BYTES + 1)  # a pipe has no size to check first
    except OSError as error:
        cannot_read(path, error)
    if regular and status.st_size > MAX_RESTORE_BYTES:
        usage_error(f"{path} is {status.st_size:,} bytes, {limit}", hint)
    if content is not None and len(content) > MAX_RESTORE_BYTES:
        usage_error(f"{path} is {limit}", hint)
    return content


def open_source(path: Path, content: bytes | None) -> BinaryIO:
    """What restore_source gave, open for one reading from the start."""
    try:
        return io.BytesIO(content) if content is not None else path.open("rb")
    except OSError as error:
        cannot_read(path, error)


def cannot_read(path: Path, error: OSError) -> NoReturn:
    usage_error(f"cannot read {path}: {error.strerror}", "give the path that --export or --clear printed")


def scanned(path: Path, file: BinaryIO) -> Iterator[Member]:
    """The file's members (jsonread.members), the entries of "sessions" one at a time; bad text is exit 2."""
    try:
        yield from members(file, strict_decoder(), "sessions", MAX_RESTORE_BYTES)
    except (NotJson, json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        usage_error(f"{path} is not JSON text", "give a file written by --export or --clear")
    except ValueTooLarge as error:
        usage_error(f"{path}: {error}", "restore it in parts: --export fewer sessions at a time")
    except ValueError as error:  # NaN, Infinity, a number too large
        usage_error(f"{path} holds a value AgentOS cannot store: {error}", "fix or remove that value in the file")
    except OSError as error:
        cannot_read(path, error)


@dataclass
class SetFile:
    """A set export, checked whole: its session ids in order. `entries()` reads it again an entry at a time."""

    path: Path
    ids: list[str]
    content: bytes | None  # a pipe's bytes; None: read the file again

    def entries(self) -> Iterator[dict[str, Any]]:
        """Each entry, in order, checked again: a file changed since it was checked stops here (exit 1)."""
        index = 0
        with open_source(self.path, self.content) as file:
            for member in scanned(self.path, file):
                if not member.item:
                    continue
                if index >= len(self.ids) or entry_id(member.value) != self.ids[index] or entry_problems(member.value):
                    break
                yield member.value
                index += 1
        if index != len(self.ids):
            raise CliError(
                f"{self.path} changed while it was being restored (at sessions[{index}])",
                ExitCode.ERROR,
                "restore from a file nothing else writes to",
            )


def read_backup(path_text: str) -> dict[str, Any] | SetFile:
    """Check an export or backup file whole before anything is sent: one session's document, or a set's ids.

    A set export is read an entry at a time (memory holds one entry), and again when it is restored.
    """
    path = Path(path_text)
    content = restore_source(path)
    head: dict[str, Any] = {}
    check = EntryCheck()
    with open_source(path, content) as file:
        for member in scanned(path, file):
            if member.item:
                check.add(member.value)
            else:
                head[member.name] = member.value
    if head.get("format") == SET_EXPORT_FORMAT:
        if not check.count or "sessions" in head:
            usage_error(f"{path} holds no sessions", "give a file written by --export")
        check.refuse_bad(path, set_file=True)
        return SetFile(path, list(check.first_index), content)
    if head.get("format") != EXPORT_FORMAT or check.count:
        usage_error(f"{path} is not a session export", "give a file written by --export or --clear")
    check.add(head)
    check.refuse_bad(path, set_file=False)
    return head


class EntryCheck:
    """Entries checked one at a time: what keeps each from being restored, and ids seen twice."""

    # The bad entries an error names; the rest are counted.
    NAMED = 10

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.labels: list[str] = []
        self.first_index: dict[str, int] = {}
        self.count = 0

    def add(self, entry: Any) -> None:
        found = entry_problems(entry)
        session_id = entry_id(entry)
        if session_id is not None and session_id in self.first_index:
            found.append(f"the same session_id as sessions[{self.first_index[session_id]}]")
        elif session_id is not None:
            self.first_index[session_id] = self.count
        if found:
            shown = f" '{printable(session_id[:60])}'" if session_id else ""
            self.problems.append(f"{shown} ({', '.join(found)})")
            self.labels.append(f"sessions[{self.count}]")
        self.count += 1

    def refuse_bad(self, path: Path, set_file: bool) -> None:
        """Refuse the whole file if any entry is bad, naming the first few."""
        if not self.problems:
            return
        labels = self.labels if set_file else ["the session"]
        named = [label + problem for label, problem in zip(labels, self.problems, strict=True)]
        more = len(named) - self.NAMED
        listed = "; ".join(named[: self.NAMED]) + (f"; and {more} more" if more > 0 else "")
        total = len(self.problems)
        count = f"{total} bad entr{'y' if total == 1 else 'ies'}" if set_file else "a bad session"
        usage_error(
            f"{path} holds {count}, so nothing was restored: {listed}",
            "fix or remove those entries; a file written by --export or --clear has none",
        )


def entry_id(entry: Any) -> str | None:
    """An entry's session id, if it has one that is text."""
    session = entry.get("session") if isinstance(entry, dict) else None
    session_id = session.get("session_id") if isinstance(session, dict) else None
    return session_id if isinstance(session_id, str) and session_id else None


def entry_problems(entry: Any) -> list[str]:
    """What keeps one entry of an export from being restored as AgentOS stores a session; empty if nothing."""
    session = entry.get("session") if isinstance(entry, dict) else None
    if not isinstance(session, dict):
        return ["no session object"]
    runs = entry.get("runs")
    if not isinstance(runs, list):
        runs, problems = [], ["runs is not a list"]
    else:
        problems = [f"runs[{n}] is not an object" for n, run in enumerate(runs) if not isinstance(run, dict)][:1]
    if session.get("session_type") not in SESSION_TYPES:
        problems.append(f"session_type is not one of {', '.join(SESSION_TYPES)}")
    try:
        checked_id(session.get("session_id"), "session_id")
    except CliError:
        problems.append("session_id is not a usable id")
    problems += [f"{key} is not a JSON object" for key in ("session_state", "metadata") if not_object(session, key)]
    problems += [f"{key} is not text" for key in SESSION_TEXT_FIELDS if not_text(session, key)]
    if json_depth({key: session.get(key) for key in ("session_state", "metadata")}) > MAX_JSON_DEPTH + 1:
        problems.append(f"state or metadata nested deeper than {MAX_JSON_DEPTH} levels")
    return problems


def not_object(session: dict[str, Any], key: str) -> bool:
    return session.get(key) is not None and not isinstance(session[key], dict)


def not_text(session: dict[str, Any], key: str) -> bool:
    return session.get(key) is not None and not isinstance(session[key], str)
