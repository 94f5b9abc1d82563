"""Actions that move a session through a file: export, clear (backup, then drop the runs), restore.

Each action returns a `Result`; none prints to stdout.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .api import SessionsApi
from .errors import CliError, ExitCode, usage_error
from .model import EXPORT_FORMAT, SESSION_TYPES, Result, checked_id, now_iso
from .request import Request
from .selection import get_runs, get_session


async def export_session(api: SessionsApi, session_id: str, user_id: str | None) -> dict[str, Any]:
    """The session and all its runs as one JSON document (the clear backup format)."""
    detail, runs = await asyncio.gather(
        get_session(api, session_id, user_id), get_runs(api, session_id, {"user_id": user_id} if user_id else {})
    )
    return {"format": EXPORT_FORMAT, "exported_at": now_iso(), "session": detail, "runs": runs}


def write_document(document: dict[str, Any], path: Path) -> None:
    """Write JSON to a file atomically: a crash leaves the old file or the new one."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        partial.replace(path)
    except OSError as error:
        usage_error(f"cannot write {path}: {error.strerror}", "choose a writable path; nothing was changed")


def check_destination(path: Path, flag: str) -> None:
    """Refuse a file destination that cannot be written, before anything is sent."""
    if path.is_dir():
        usage_error(f"{flag} {path} is a directory", "give a file name, e.g. session.json")
    existing = next((parent for parent in path.parents if parent.exists()), None)
    if existing is not None and not existing.is_dir():
        usage_error(f"{flag} {path}: {existing} is not a directory", "give a path in a directory")


async def export_to_file(api: SessionsApi, request: Request) -> Result:
    """Write the session and its runs to --export FILE, or stdout for '-'."""
    if request.args.export != "-":
        check_destination(Path(request.args.export), "--export")
    document = await export_session(api, request.single_session_id(), request.args.user_id)
    if request.args.export == "-":
        return Result("document", document)
    path = Path(request.args.export)
    write_document(document, path)
    summary = {"session_id": document["session"]["session_id"], "runs": len(document["runs"]), "path": str(path)}
    return Result("exported", summary)


def backup_path(request: Request, session_id: str) -> Path:
    """Where --clear keeps its backup: --backup-dir, else the current directory."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    name = f"agentos-backup-{session_id}-{stamp}.json"
    return Path(request.args.backup_dir) / name if request.args.backup_dir else Path(name)


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


async def clear_session(api: SessionsApi, request: Request) -> Result:
    """Remove a session's runs, keeping its id, name, type, owner, state and metadata."""
    session_id = request.single_session_id()
    request.confirm(f"clear all runs of session '{session_id}'")
    backup = backup_path(request, session_id)
    check_destination(backup, "--backup-dir")
    document = await export_session(api, session_id, request.args.user_id)
    write_document(document, backup)
    restore_hint = f"the backup is safe: re-create the session with --restore {backup}"
    try:
        await api.call_client("delete_session", idempotent=True, session_id=session_id, **request.scope_kwargs())
        await recreate_session(api, document["session"])
        after = await get_session(api, session_id, request.args.user_id)
        runs = await get_runs(api, session_id, request.user_params())
    except CliError as error:
        raise CliError(f"clearing '{session_id}' failed: {error.message}", error.exit_code, restore_hint) from error
    changed = differences(document["session"], after)
    if changed or runs:
        raise CliError(
            f"'{session_id}' was re-created but differs in {changed or 'runs'}", ExitCode.ERROR, restore_hint
        )
    cleared = {**after, "run_count": 0, "runs_removed": len(document["runs"]), "backup": str(backup)}
    return Result("cleared", cleared)


def read_backup(path_text: str) -> dict[str, Any]:
    """Load and check an export or backup file."""
    path = Path(path_text)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        usage_error(f"cannot read {path}: {error.strerror}", "give the path that --export or --clear printed")
    except (ValueError, RecursionError):
        usage_error(f"{path} is not JSON text", "give a file written by --export or --clear")
    session = document.get("session") if isinstance(document, dict) else None
    if (
        not isinstance(document, dict)
        or document.get("format") != EXPORT_FORMAT
        or not isinstance(session, dict)
        or not isinstance(document.get("runs"), list)
    ):
        usage_error(f"{path} is not a session export", "give a file written by --export or --clear")
    if session.get("session_type") not in SESSION_TYPES:
        usage_error(f"{path} names no session type", f"session_type must be one of {', '.join(SESSION_TYPES)}")
    session_id = session.get("session_id")
    checked_id(session_id if isinstance(session_id, str) else "", "the backup's session_id")
    return document


async def restore_session(api: SessionsApi, request: Request) -> Result:
    """Re-create a session row from an export or backup file (past runs cannot be re-inserted)."""
    document = read_backup(request.args.restore)
    session = document["session"]
    await recreate_session(api, session)
    restored = await get_session(api, session["session_id"], session.get("user_id"))
    return Result("session", {**restored, "run_count": 0, "runs_not_restored": len(document["runs"])})
