"""Actions that move a session through a file: export, clear (backup, then drop the runs), restore.

Each action returns a `Result`; none prints to stdout.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .api import SessionsApi
from .errors import CliError, ExitCode, usage_error
from .model import (
    EXPORT_FORMAT,
    MAX_JSON_DEPTH,
    SESSION_TYPES,
    Result,
    checked_id,
    json_depth,
    now_iso,
    outcome_exit,
    outcome_note,
    strict_json,
)
from .request import Request, pin_single_session
from .selection import GONE, LOOKUP_CONCURRENCY, get_runs, get_session, resolve

# The file --export writes for a set of sessions; one session keeps EXPORT_FORMAT.
SET_EXPORT_FORMAT = "agentos-sessions-export/1"


async def export_session(api: SessionsApi, session_id: str, user_id: str | None) -> dict[str, Any]:
    """The session and all its runs as one JSON document (the clear backup format)."""
    detail, runs = await asyncio.gather(
        get_session(api, session_id, user_id), get_runs(api, session_id, {"user_id": user_id} if user_id else {})
    )
    return {"format": EXPORT_FORMAT, "exported_at": now_iso(), "session": detail, "runs": runs}


def write_document(document: dict[str, Any], path: Path, exclusive: bool = False) -> None:
    """Write JSON to a file atomically: a crash leaves the old file or the new one.

    `exclusive` never replaces an existing file (a backup must not overwrite another backup).
    """
    partial = path.with_name(f".{path.name}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_private(partial, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        if exclusive:
            os.link(partial, path)  # fails if the name exists, unlike a rename
            partial.unlink()
        else:
            partial.replace(path)
    except FileExistsError:
        partial.unlink(missing_ok=True)
        raise
    except OSError as error:
        usage_error(f"cannot write {path}: {error.strerror}", "choose a writable path; nothing was changed")


def write_private(path: Path, text: str) -> None:
    """Create the file afresh, readable by its owner only (0600) from the start: it holds whole conversations."""
    path.unlink(missing_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as file:
        file.write(text)


def check_destination(path: Path, flag: str) -> None:
    """Refuse a file destination that cannot be written, before anything is sent."""
    if path.is_dir():
        usage_error(f"{flag} {path} is a directory", "give a file name, e.g. session.json")
    existing = next((parent for parent in path.parents if parent.exists()), None)
    if existing is not None and not existing.is_dir():
        usage_error(f"{flag} {path}: {existing} is not a directory", "give a path in a directory")


async def export_to_file(api: SessionsApi, request: Request) -> Result:
    """Write the selected session(s) and their runs to --export FILE, or stdout for '-'."""
    to_stdout = request.args.export == "-"
    if not to_stdout:
        check_destination(Path(request.args.export), "--export")
    if request.selection.is_single():
        request = await pin_single_session(api, request)
        document = await export_session(api, request.single_session_id(), request.args.user_id)
        summary: dict[str, Any] = {"session_id": document["session"]["session_id"], "runs": len(document["runs"])}
        left: dict[str, Any] = {}
    else:
        document, left = await export_set(api, request)
        summary = {"sessions": len(document["sessions"]), "runs": sum(len(e["runs"]) for e in document["sessions"])}
    exit_code, note = outcome_exit(left), outcome_note(left)
    if to_stdout:
        return Result("document", document, exit_code, note)
    write_document(document, Path(request.args.export))
    return Result("exported", {**summary, "path": request.args.export, **left}, exit_code, note)


async def export_set(api: SessionsApi, request: Request) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every selected session with its runs, read concurrently (bounded), in one document; and what was left out."""
    resolved = await resolve(api, request.selection, request.order(), request.progress)
    gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)

    async def entry(session: dict[str, Any]) -> dict[str, Any] | None:
        async with gate:
            try:
                exported = await export_session(api, session["session_id"], session.get("user_id"))
            except CliError as error:
                if error.exit_code != ExitCode.NOT_FOUND:
                    raise
                return None  # deleted since it was selected
        return {"session": exported["session"], "runs": exported["runs"]}

    entries = await asyncio.gather(*(entry(session) for session in resolved.sessions))
    gone = [
        {"session_id": s["session_id"], "reason": GONE}
        for s, e in zip(resolved.sessions, entries, strict=True)
        if e is None
    ]
    document = {
        "format": SET_EXPORT_FORMAT,
        "exported_at": now_iso(),
        "sessions": [e for e in entries if e is not None],
    }
    return document, {"skipped": gone, "refused": resolved.refused, "not_found": resolved.missing}


def backup_dir(given: str | None) -> Path:
    """--backup-dir, else $AGENTOS_BACKUP_DIR, else the XDG state folder: never the skill's own folder."""
    if given:
        return Path(given)
    if os.environ.get("AGENTOS_BACKUP_DIR"):
        return Path(os.environ["AGENTOS_BACKUP_DIR"])
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "agentos-sessions" / "backups"


def backup_path(request: Request, session_id: str) -> Path:
    """A new, unique backup file name for a session, in the backup folder."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return backup_dir(request.args.backup_dir) / f"agentos-backup-{session_id}-{stamp}-{secrets.token_hex(4)}.json"


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


def read_backup(path_text: str) -> dict[str, Any]:
    """Load and check an export or backup file."""
    path = Path(path_text)
    try:
        document = strict_json(path.read_text(encoding="utf-8"))
    except OSError as error:
        usage_error(f"cannot read {path}: {error.strerror}", "give the path that --export or --clear printed")
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        usage_error(f"{path} is not JSON text", "give a file written by --export or --clear")
    except ValueError as error:  # NaN, Infinity, a number too large
        usage_error(f"{path} holds a value AgentOS cannot store: {error}", "fix or remove that value in the file")
    if isinstance(document, dict) and document.get("format") == SET_EXPORT_FORMAT:
        entries = document.get("sessions")
        if not isinstance(entries, list) or not entries:
            usage_error(f"{path} holds no sessions", "give a file written by --export")
        for entry in entries:
            checked_entry(path, entry)
        return document
    if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
        usage_error(f"{path} is not a session export", "give a file written by --export or --clear")
    checked_entry(path, document)
    return document


def checked_entry(path: Path, entry: Any) -> None:
    """Refuse an export entry that lacks a session of a known type with a usable id, or its runs."""
    session = entry.get("session") if isinstance(entry, dict) else None
    if not isinstance(session, dict) or not isinstance(entry.get("runs"), list):
        usage_error(f"{path} is not a session export", "give a file written by --export or --clear")
    if session.get("session_type") not in SESSION_TYPES:
        usage_error(f"{path} names no session type", f"session_type must be one of {', '.join(SESSION_TYPES)}")
    session_id = session.get("session_id")
    checked_id(session_id if isinstance(session_id, str) else "", "the backup's session_id")
    if json_depth({k: session.get(k) for k in ("session_state", "metadata")}) > MAX_JSON_DEPTH + 1:
        usage_error(
            f"{path} holds state or metadata nested deeper than {MAX_JSON_DEPTH} levels", "AgentOS cannot read it back"
        )


async def restore_session(api: SessionsApi, request: Request) -> Result:
    """Re-create the session(s) of an export or backup file and check them (past runs cannot be re-inserted)."""
    document = read_backup(request.args.restore)
    if document.get("format") == SET_EXPORT_FORMAT and request.args.fields:
        usage_error(f"{request.args.restore} holds several sessions: --fields does not apply", "drop --fields")
    if document.get("format") != SET_EXPORT_FORMAT:
        session = await restore_one(api, document)
        return Result("session", {**session, "run_count": 0, "runs_not_restored": len(document["runs"])})
    restored, conflict = [], []
    for entry in document["sessions"]:
        try:
            await restore_one(api, entry)
        except CliError as error:
            if error.exit_code != ExitCode.CONFLICT:
                raise restore_report(error, restored, conflict, entry) from error
            conflict.append(entry["session"]["session_id"])
            continue
        restored.append({"session_id": entry["session"]["session_id"], "runs_not_restored": len(entry["runs"])})
    note = f"already exist, not restored: {', '.join(conflict)}" if conflict else ""
    outcome = {"restored": restored, "conflict": conflict}
    return Result("restored", outcome, ExitCode.CONFLICT if conflict else ExitCode.OK, note)


async def restore_one(api: SessionsApi, entry: dict[str, Any]) -> dict[str, Any]:
    """Re-create one session and check that AgentOS kept its name, state, metadata, user and owner."""
    session = entry["session"]
    await recreate_session(api, session)
    restored = await get_session(api, session["session_id"], session.get("user_id"))
    changed = differences(session, restored)
    if changed:
        raise CliError(
            f"'{session['session_id']}' was re-created but differs from the file in {', '.join(changed)}",
            ExitCode.ERROR,
            "check the file: its session_type must match its agent_id/team_id/workflow_id",
        )
    return restored


def restore_report(error: CliError, restored: list[str], conflict: list[str], failed: dict[str, Any]) -> CliError:
    """One line for a multi-session restore cut short."""
    message = (
        f"restoring stopped at '{failed['session']['session_id']}': {error.message}; "
        f"restored: {', '.join(restored) or 'none'}; already existed: {', '.join(conflict) or 'none'}"
    )
    return CliError(message, error.exit_code, "run the same command again: restored sessions then count as conflicts")
