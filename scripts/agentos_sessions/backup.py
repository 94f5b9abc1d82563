"""Actions that move a session through a file: export, clear (backup, then drop the runs), restore.

Each action returns a `Result`; none prints to stdout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections import deque
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .api import SessionsApi
from .errors import CliError, ExitCode, usage_error
from .files import (
    SET_EXPORT_FORMAT,
    SetFile,
    backup_dir,
    backup_name,
    check_destination,
    check_restorable,
    read_backup,
    write_document,
    write_streamed,
)
from .jsonstream import Streamed
from .model import (
    EXPORT_FORMAT,
    CutShort,
    Result,
    detect_session_type,
    is_session,
    now_iso,
    outcome_exit,
    outcome_note,
    printable,
)
from .request import Request, pin_unless_shared
from .selection import GONE, LOOKUP_CONCURRENCY, Chosen, chosen_pages, get_runs, get_session


async def export_session(api: SessionsApi, session_id: str, user_id: str | None) -> dict[str, Any]:
    """The session and all its runs as one JSON document (the clear backup format)."""
    detail, runs = await asyncio.gather(
        get_session(api, session_id, user_id), get_runs(api, session_id, {"user_id": user_id} if user_id else {})
    )
    return {"format": EXPORT_FORMAT, "exported_at": now_iso(), "session": detail, "runs": runs}


async def export_to_file(api: SessionsApi, request: Request) -> Result:
    """Write the selected session(s) and their runs to --export FILE, or stdout for '-'."""
    to_stdout = request.args.export == "-"
    target = Path(request.args.export).absolute()
    if not to_stdout:
        check_destination(target, "--export")
    pinned = await pin_unless_shared(api, request, "export") if request.selection.is_single() else None
    if pinned is None:
        return await export_set(api, request, None if to_stdout else target)
    document = await export_session(api, pinned.single_session_id(), request.args.user_id)
    if to_stdout:
        # What a pipe or a file gets from stdout (output.emit); every export must fit what --restore reads.
        check_restorable(printable(json.dumps(document, ensure_ascii=False, separators=(",", ":")), True), "the export")
        return Result("document", document)
    write_document(document, target)
    summary = {"session_id": document["session"]["session_id"], "runs": len(document["runs"])}
    return Result("exported", {**summary, "path": str(target)})


async def export_set(api: SessionsApi, request: Request, target: Path | None) -> Result:
    """Every selected session with its runs in one document, written as the sessions are read (memory stays flat).

    To stdout (`target` None) the answer is streamed by output.emit_streamed; to a file, under a temporary name.
    """
    chosen = chosen_pages(api, request.selection, request.order(), request.progress)
    counts = {"sessions": 0, "runs": 0}
    gone: list[dict[str, str]] = []

    def finish() -> tuple[dict[str, Any], int, str]:
        left = {"skipped": gone, "refused": chosen.refused, "not_found": chosen.missing}
        return {}, outcome_exit(left), outcome_note(left)

    head = {"format": SET_EXPORT_FORMAT, "exported_at": now_iso()}
    streamed = Streamed(head, "sessions", export_entries(api, chosen, counts, gone), finish, "the export")
    if target is None:
        return Result("document", streamed)
    _, exit_code, note = await write_streamed(streamed, target)
    left = {"skipped": gone, "refused": chosen.refused, "not_found": chosen.missing}
    return Result("exported", {**counts, "path": str(target), **left}, exit_code, note)


async def export_entries(
    api: SessionsApi, chosen: Chosen, counts: dict[str, int], gone: list[dict[str, str]]
) -> AsyncIterator[list[dict[str, Any]]]:
    """The export entries of the chosen sessions in order, LOOKUP_CONCURRENCY read at once, each given when read."""

    async def entry(session: dict[str, Any]) -> dict[str, Any] | None:
        try:
            exported = await export_session(api, session["session_id"], session.get("user_id"))
        except CliError as error:
            if error.exit_code != ExitCode.NOT_FOUND:
                raise
            return None  # deleted since it was selected
        return {"session": exported["session"], "runs": exported["runs"]}

    def settled(session: dict[str, Any], found: dict[str, Any] | None) -> list[dict[str, Any]]:
        if found is None:
            gone.append({"session_id": session["session_id"], "reason": GONE})
            return []
        counts["sessions"] += 1
        counts["runs"] += len(found["runs"])
        return [found]

    # A window of reads in flight, oldest first: it never drains between pages, and holds only a few entries.
    window: deque[tuple[dict[str, Any], asyncio.Task[dict[str, Any] | None]]] = deque()
    try:
        async with contextlib.aclosing(chosen.pages) as pages:
            async for page in pages:
                for session in page:
                    window.append((session, asyncio.ensure_future(entry(session))))
                    if len(window) >= LOOKUP_CONCURRENCY:
                        oldest, read = window.popleft()
                        yield settled(oldest, await read)
        while window:
            oldest, read = window.popleft()
            yield settled(oldest, await read)
    finally:
        for _, read in window:
            read.cancel()
        await asyncio.gather(*(read for _, read in window), return_exceptions=True)


def backup_path(request: Request, session_id: str) -> Path:
    """A new, unique backup file name for a session, in the backup folder."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return backup_dir(request.args.backup_dir) / backup_name(session_id, stamp, secrets.token_hex(4))


def write_backup(document: dict[str, Any], request: Request, session_id: str) -> Path:
    """Write a backup under a name no other file has; never replace one."""
    for _ in range(5):
        path = backup_path(request, session_id)
        try:
            write_document(document, path, exclusive=True)
            return path
        except FileExistsError:
            continue
    raise CliError(f"could not find a free backup file name for '{session_id}'", ExitCode.ERROR, "try again")


def recreate_body(session: dict[str, Any]) -> dict[str, Any]:
    """The POST /sessions body that re-creates a session's row without its runs."""
    body = {
        "session_id": session["session_id"],
        "session_name": session.get("session_name") or None,
        "session_state": session.get("session_state"),
        "metadata": session.get("metadata"),
        "user_id": session.get("user_id"),
        "agent_id": session.get("agent_id"),
        "team_id": session.get("team_id"),
        "workflow_id": session.get("workflow_id"),
    }
    return {key: value for key, value in body.items() if value is not None}


async def recreate_session(api: SessionsApi, session: dict[str, Any]) -> dict[str, Any]:
    """POST the session back with the same id, name, type, owner, state and metadata."""
    # AgentOSClient.create_session() parses the answer with a schema that requires a
    # non-empty name; a session may legitimately have none, so post directly.
    params = {"type": session["session_type"]}
    return await api.write("POST", "/sessions", recreate_body(session), idempotent=False, params=params)


def differences(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """Which kept properties of a re-created session differ from the original."""
    keys = ("session_name", "session_state", "metadata", "user_id", "agent_id", "team_id", "workflow_id")
    return [key for key in keys if (expected.get(key) or None) != (actual.get(key) or None)]


async def restore_session(api: SessionsApi, request: Request) -> Result:
    """Re-create the session(s) of an export or backup file and check them (past runs cannot be re-inserted)."""
    document = read_backup(request.args.restore)
    if isinstance(document, SetFile) and request.args.fields:
        usage_error(f"{request.args.restore} holds several sessions: --fields does not apply", "drop --fields")
    if isinstance(document, SetFile):
        return await restore_set(api, document, stream=request.args.json)
    session = await restore_one(api, document)
    return Result("session", {**session, "run_count": 0, "runs_not_restored": len(document["runs"])})


async def restore_set(api: SessionsApi, set_file: SetFile, stream: bool) -> Result:
    """Re-create a set file's sessions in file order, LOOKUP_CONCURRENCY at once, the file read an entry at a time.

    With `stream` (--json) the answer is written as the sessions are restored, so memory stays flat.
    Cut short (a failed write, a file changed meanwhile, Ctrl-C), the writes in flight are waited for and the
    report says which were restored, which may or may not have been (unknown) and which were not started.
    """
    restoring = SetRestore(api, set_file)
    if stream:
        streamed = Streamed({}, "restored", restoring.pieces(), restoring.finish, failure=restoring.failure)
        return Result("restored", streamed)
    restored = [item async for piece in restoring.pieces() for item in piece]
    tail, exit_code, note = restoring.finish()
    stopped = restoring.failure()
    if stopped is not None:
        raise CutShort(stopped, Result("restored", {"restored": restored, **tail}))
    return Result("restored", {"restored": restored, **tail}, exit_code, note)


class SetRestore:
    """One restore of a set file: its pieces (the sessions restored, in file order), then the rest of the answer."""

    def __init__(self, api: SessionsApi, set_file: SetFile) -> None:
        self.api, self.set_file = api, set_file
        self.conflict: list[str] = []
        self.unknown: list[str] = []
        self.settled = 0
        self.cause: CliError | None = None

    async def pieces(self) -> AsyncIterator[list[dict[str, Any]]]:
        window: deque[tuple[dict[str, Any], asyncio.Task[dict[str, Any]]]] = deque()
        try:
            try:
                for entry in self.set_file.entries():
                    window.append((entry, asyncio.ensure_future(restore_one(self.api, entry))))
                    while window and (len(window) >= LOOKUP_CONCURRENCY or window[0][1].done()):
                        yield await self.settle_oldest(window)
                while window:
                    yield await self.settle_oldest(window)
            except CliError as error:
                self.cause = error
            except asyncio.CancelledError:
                self.cause = CliError("interrupted", ExitCode.INTERRUPTED)
                for _, write in window:
                    write.cancel()
            if self.cause is not None:  # let the writes in flight end, and say what became of each
                await asyncio.gather(*(write for _, write in window), return_exceptions=True)
                while window:
                    entry, write = window.popleft()
                    yield self.settle(entry, write, stop_on_error=False)
        finally:  # the reader left (a broken pipe): nothing more is sent
            for _, write in window:
                write.cancel()

    async def settle_oldest(self, window: deque[tuple[dict[str, Any], asyncio.Task[Any]]]) -> list[dict[str, Any]]:
        """Wait for the oldest write in flight and settle it (a failure other than a conflict is raised)."""
        entry, write = window[0]
        await asyncio.wait([write])
        window.popleft()
        return self.settle(entry, write, stop_on_error=True)

    def settle(self, entry: dict[str, Any], write: asyncio.Task[Any], stop_on_error: bool) -> list[dict[str, Any]]:
        """One finished write: [its restored entry], or [] for a conflict or an unknown fate (raised if asked)."""
        session_id = entry["session"]["session_id"]
        self.settled += 1
        error = None if write.cancelled() else write.exception()
        if write.cancelled() or (error is not None and not is_conflict(error)):
            self.unknown.append(session_id)  # the POST may have landed before its answer was lost
            if stop_on_error and error is not None:
                raise error
            return []
        if error is not None:
            self.conflict.append(session_id)
            return []
        return [{"session_id": session_id, "runs_not_restored": len(entry["runs"])}]

    def finish(self) -> tuple[dict[str, Any], int, str]:
        """The keys after `restored`, the exit code and the stderr note."""
        if self.cause is None:
            note = f"already exist, not restored: {', '.join(self.conflict)}" if self.conflict else ""
            return {"conflict": self.conflict}, ExitCode.CONFLICT if self.conflict else ExitCode.OK, note
        tail = {"conflict": self.conflict, "unknown": self.unknown, "not_done": self.set_file.ids[self.settled :]}
        return {**tail, "error": self.cause.message}, self.cause.exit_code, ""

    def failure(self) -> CliError | None:
        """The error of a restore cut short, for stderr once the report is out; None if it was not."""
        if self.cause is None:
            return None
        hint = "check the sessions under unknown; the same command again restores the rest (restored ones conflict)"
        return CliError(f"restoring stopped: {self.cause.message}", self.cause.exit_code, hint)


def is_conflict(error: BaseException) -> bool:
    return isinstance(error, CliError) and error.exit_code == ExitCode.CONFLICT


async def restore_one(api: SessionsApi, entry: dict[str, Any]) -> dict[str, Any]:
    """Re-create one session and check that AgentOS kept its name, state, metadata, user and owner."""
    session = entry["session"]
    answer = await recreate_session(api, session)
    # AgentOS answers the POST with the session as it stored it (the same schema as GET): one round trip
    if is_session(answer) and answer.get("session_id") == session["session_id"]:
        restored = {**answer, "session_type": detect_session_type(answer)}
    else:
        restored = await get_session(api, session["session_id"], session.get("user_id"))
    changed = differences(session, restored)
    if changed:
        raise CliError(
            f"'{session['session_id']}' was re-created but differs from the file in {', '.join(changed)}",
            ExitCode.ERROR,
            "check the file: its session_type must match its agent_id/team_id/workflow_id",
        )
    return restored
