"""Clearing sessions: back each one up, re-check it right before deleting, re-create it without its runs.

AgentOS has no endpoint that deletes runs, so a clear deletes the session and re-creates it from
a read made just before the delete; that read also decides whether the session is still chosen.
Each action returns a `Result`; none prints.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, NamedTuple

from .api import SessionsApi
from .backup import (
    backup_path,
    check_destination,
    differences,
    export_session,
    recreate_session,
    write_backup,
    write_document,
)
from .copying import FORKABLE_TYPES, fork_on_server, owner_path
from .errors import CliError, ExitCode
from .filters import Filters
from .model import CutShort, Result, api_path, outcome_exit, outcome_note, set_outcome
from .request import Request, pin_unless_shared
from .selection import (
    GONE,
    Now,
    as_it_is_now,
    get_runs,
    get_session,
    resolve,
    user_of,
    whole_document,
    with_run_counts,
)

# How often a clear backs a session up again when runs arrive while it is being backed up.
RECHECKS = 3
# The metadata key that marks a copy kept by --clear --keep-copy, so a later clear chosen by filters leaves it.
COPY_MARK = "cleared_copy_of"
KEPT_COPY = f"a copy kept by an earlier --clear --keep-copy (metadata {COPY_MARK})"
NO_RUNS = "it has no runs: nothing to clear or copy"
NO_LONGER_MATCHES = "it no longer matches the filters"


class Cleared(NamedTuple):
    """One session's clear: the re-created session, or why it was skipped."""

    session: dict[str, Any] | None
    backup: Path | None = None
    runs_removed: int = 0
    copy_id: str | None = None
    skipped: str = ""


class ClearFailed(CliError):
    """A clear that failed; `acted` when the session may already be deleted (its backup then matters)."""

    def __init__(self, error: CliError, acted: bool) -> None:
        super().__init__(error.message, error.exit_code, error.hint)
        self.acted = acted


async def clear_session(api: SessionsApi, request: Request) -> Result:
    """Remove the runs of the selected sessions, keeping each one's id, name, type, owner, state and metadata."""
    pinned = await pin_unless_shared(api, request, "clear") if request.selection.is_single() else None
    if pinned is not None:
        return await clear_single(api, pinned)
    return await clear_set(api, request)


async def clear_single(api: SessionsApi, request: Request) -> Result:
    """Clear one session, or preview it; its result is the re-created session."""
    session_id = request.single_session_id()
    check_destination(backup_path(request, session_id), "--backup-dir")
    if request.args.dry_run:
        return Result("clear_preview", whole_document([await with_run_count(api, request, session_id)]))
    request.confirm(f"clear all runs of session '{session_id}'")
    named = {"session_id": session_id, **({"user_id": request.args.user_id} if request.args.user_id else {})}
    done = await clear_one(api, request, named, request.filters)
    if done.skipped == NO_RUNS:
        return Result("nothing_to_clear", {"session_id": session_id, "run_count": 0, "runs_removed": 0})
    if done.skipped:
        raise CliError(
            f"session '{session_id}': {done.skipped}; nothing was cleared", ExitCode.NOT_FOUND, "list sessions first"
        )
    cleared = {**done.session, "run_count": 0, "runs_removed": done.runs_removed, "backup": str(done.backup)}
    return Result("cleared", {**cleared, **({"copy_session_id": done.copy_id} if done.copy_id else {})})


async def with_run_count(api: SessionsApi, request: Request, session_id: str) -> dict[str, Any]:
    """A session with its number of runs, for a dry run."""
    session, runs = await asyncio.gather(
        get_session(api, session_id, request.args.user_id), get_runs(api, session_id, request.user_params())
    )
    return {**session, "run_count": len(runs)}


async def clear_one(api: SessionsApi, request: Request, session: dict[str, Any], filters: Filters) -> Cleared:
    """Back the session up (and copy it), then re-check it and delete at once; repeat while runs keep arriving."""
    session_id, backup, copy_id = session["session_id"], None, None
    for _ in range(RECHECKS):
        try:
            document = await export_session(api, session_id, session.get("user_id"))
        except CliError as error:
            if error.exit_code != ExitCode.NOT_FOUND:
                raise stopped_before_delete(session_id, error, backup) from error
            return await discard(api, backup, copy_id, GONE)
        if not chosen(filters, document):
            return await discard(api, backup, copy_id, NO_LONGER_MATCHES)
        if request.args.keep_copy:
            owner_path(document["session"], "fork", FORKABLE_TYPES)  # a workflow session is refused (exit 2) first
            if not document["runs"]:
                return await discard(api, backup, copy_id, NO_RUNS)
        backup = save(document, request, session_id, backup)
        try:
            copy_id = await kept_copy(api, document, backup, copy_id) if request.args.keep_copy else None
            names = request.selection.chose_by_name(session_id)
            now = await as_it_is_now(api, document["session"], filters, runs=True, names=names)
        except CliError as error:
            raise stopped_before_delete(session_id, error, backup, copy_id) from error
        if now.session is None:
            return await discard(api, backup, copy_id, now.reason)
        if run_ids(now.runs or []) == run_ids(document["runs"]):
            return await delete_and_recreate(api, request, now, backup, copy_id, len(document["runs"]))
    raise CliError(
        f"runs of '{session_id}' kept changing while it was backed up; nothing was cleared",
        ExitCode.ERROR,
        f"the latest backup is {backup}; clear it when no conversation is running",
    )


def stopped_before_delete(
    session_id: str, error: CliError, backup: Path | None, copy_id: str | None = None
) -> CliError:
    """A clear that failed before its delete: the session is unchanged; say where its backup (and copy) are."""
    kept = f"; its backup is {backup}" if backup else ""
    copy = f"; a copy was made: {copy_id}" if copy_id else ""
    return CliError(
        f"clearing '{session_id}' stopped, nothing was deleted: {error.message}",
        error.exit_code,
        f"the session is unchanged{kept}{copy}",
    )


def chosen(filters: Filters, document: dict[str, Any]) -> bool:
    """True when the filters still choose the session as exported (its runs included)."""
    runs = document["runs"]
    return filters.without_runs().matches(document["session"]) and filters.matches_runs(runs, len(runs))


def save(document: dict[str, Any], request: Request, session_id: str, backup: Path | None) -> Path:
    """Write the backup: a new file the first time, the same file again when runs arrived meanwhile."""
    if backup is None:
        return write_backup(document, request, session_id)
    write_document(document, backup)
    return backup


async def discard(api: SessionsApi, backup: Path | None, copy_id: str | None, reason: str) -> Cleared:
    """Nothing was cleared: remove the backup and the copy this clear made, so none is left behind for it."""
    if backup is not None:
        backup.unlink(missing_ok=True)
    if copy_id is not None:
        await api.write("DELETE", api_path("sessions", copy_id), {}, True)
    return Cleared(None, skipped=reason)


async def kept_copy(api: SessionsApi, document: dict[str, Any], backup: Path, stale: str | None) -> str:
    """Fork the session as it was backed up; a copy made before runs arrived is replaced. Noted in the backup."""
    session = document["session"]
    if stale is not None:
        await api.write("DELETE", api_path("sessions", stale), {}, True)
    name = f"{session.get('session_name') or session['session_id']} (before clear)"
    metadata = {**(session.get("metadata") or {}), COPY_MARK: session["session_id"]}
    copy = await fork_on_server(api, session, len(document["runs"]), name, metadata, more_allowed=True)
    write_document({**document, "copy_session_id": copy["session_id"]}, backup)
    return copy["session_id"]


def run_ids(runs: list[dict[str, Any]]) -> list[Any]:
    return [run.get("run_id") for run in runs]


async def delete_and_recreate(
    api: SessionsApi, request: Request, now: Now, backup: Path, copy_id: str | None, runs_removed: int
) -> Cleared:
    """Delete right after the last check (nothing slow between), re-create from that read, verify."""
    session = now.session or {}
    session_id = session["session_id"]
    params = {"type": session["session_type"], **user_of(session)}
    restore_hint = f"the backup {backup} holds the runs; if the session is gone, re-create it with --restore {backup}"
    try:
        await api.write("DELETE", api_path("sessions", session_id), {}, True, params)
    except CliError as error:
        raise ClearFailed(
            CliError(f"clearing '{session_id}' failed: {error.message}", error.exit_code, restore_hint), True
        ) from error
    except asyncio.CancelledError:  # Ctrl-C while the delete was sent: the session may be gone
        raise ClearFailed(
            CliError(f"clearing '{session_id}' was interrupted", ExitCode.INTERRUPTED, restore_hint), True
        ) from None
    try:
        await recreate_session(api, session)
        after, runs = await asyncio.gather(
            get_session(api, session_id, session.get("user_id")), get_runs(api, session_id, request.user_params())
        )
    except CliError as error:
        if error.exit_code == ExitCode.CONFLICT:
            raise ClearFailed(recreated_meanwhile(session_id, backup), True) from error
        raise ClearFailed(
            CliError(f"clearing '{session_id}' failed: {error.message}", error.exit_code, restore_hint), True
        ) from error
    except asyncio.CancelledError:
        raise ClearFailed(
            CliError(f"clearing '{session_id}' was interrupted", ExitCode.INTERRUPTED, restore_hint), True
        ) from None
    changed = differences(session, after)
    if changed or runs:
        raise ClearFailed(
            CliError(f"'{session_id}' was re-created but differs in {changed or 'runs'}", ExitCode.ERROR, restore_hint),
            True,
        )
    return Cleared(after, backup, runs_removed, copy_id)


def recreated_meanwhile(session_id: str, backup: Path) -> CliError:
    """A run re-created the session between the delete and the re-create: say so, offer what works."""
    return CliError(
        f"clearing '{session_id}': after its runs were deleted, a new run re-created the session before the "
        f"script could; the backup {backup} holds the cleared runs",
        ExitCode.CONFLICT,
        f"the session now holds only the new run; to bring back its old name, state and metadata: "
        f"--session-id {session_id} --delete, then --restore {backup}",
    )


async def clear_set(api: SessionsApi, request: Request) -> Result:
    """Clear every selected session in turn, each re-checked right before its delete; cut short, say exactly where."""
    if request.args.dry_run:
        resolved = await resolve(api, request.selection, None, request.progress)
        counted = await with_run_counts(api, resolved.sessions, request.progress)
        note = outcome_note({"refused": resolved.refused, "not_found": resolved.missing})
        return Result("clear_preview", whole_document(counted), note=note)
    resolved = await resolve(api, request.selection, None, request.progress)
    copies = [] if request.chosen_by_ids(resolved.sessions) else [s for s in resolved.sessions if is_kept_copy(s)]
    sessions = [s for s in resolved.sessions if s not in copies]
    if request.args.keep_copy:
        for session in sessions:
            owner_path(session, "fork", FORKABLE_TYPES)  # refuse a workflow before any session is cleared
    if not request.chosen_by_ids(resolved.sessions):
        request.confirm_set(sessions)
    request.confirm(f"clear all runs of {len(sessions)} session(s)")
    for session in sessions[:1]:  # the backup folder is the same for all: refuse an unusable one before any clear
        check_destination(backup_path(request, session["session_id"]), "--backup-dir")
    skipped = [{"session_id": s["session_id"], "reason": KEPT_COPY} for s in copies]
    cleared: list[dict[str, Any]] = []
    for index, session in enumerate(sessions):
        try:
            done = await clear_one(api, request, session, request.filters)
        except CliError as error:
            raise clear_report(error, resolved, cleared, skipped, sessions[index:]) from error
        except asyncio.CancelledError:  # Ctrl-C before this session's delete: it is unchanged
            interrupted = ClearFailed(CliError("interrupted", ExitCode.INTERRUPTED), False)
            raise clear_report(interrupted, resolved, cleared, skipped, sessions[index:]) from None
        if done.skipped:
            skipped.append({"session_id": session["session_id"], "reason": done.skipped})
        elif done.session is not None:
            cleared.append(cleared_entry(session["session_id"], done))
    outcome = set_outcome("cleared", cleared, skipped, resolved.refused, resolved.missing)
    return Result("cleared_set", outcome, outcome_exit(outcome), outcome_note(outcome))


def is_kept_copy(session: dict[str, Any]) -> bool:
    """True for a copy an earlier --clear --keep-copy made (its metadata says so)."""
    metadata = session.get("metadata")
    return isinstance(metadata, dict) and COPY_MARK in metadata


def cleared_entry(session_id: str, done: Cleared) -> dict[str, Any]:
    """What a set clear reports per cleared session."""
    entry = {"session_id": session_id, "runs_removed": done.runs_removed, "backup": str(done.backup)}
    return {**entry, **({"copy_session_id": done.copy_id} if done.copy_id else {})}


def clear_report(
    error: CliError,
    resolved: Any,
    cleared: list[dict[str, Any]],
    skipped: list[dict[str, str]],
    left: list[dict[str, Any]],
) -> CutShort:
    """The report of a set clear cut short: cleared (with backups), the one that failed, and not started."""
    failed, rest = left[0]["session_id"], [s["session_id"] for s in left[1:]]
    acted = getattr(error, "acted", False)
    outcome = set_outcome("cleared", cleared, skipped, resolved.refused, resolved.missing)
    outcome.update(unknown=[failed] if acted else [], not_done=rest if acted else [failed, *rest], error=error.message)
    message = f"clearing stopped at '{failed}': {error.message}"
    return CutShort(
        CliError(message, error.exit_code, error.hint or "the same command again clears the rest"),
        Result("cleared_set", outcome),
    )
