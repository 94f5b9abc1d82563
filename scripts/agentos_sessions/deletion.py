"""Deleting sessions: by id or by filter, in bulk batches re-checked right before each is sent, with an exact report.

Each action returns a `Result`; none prints.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .api import SessionsApi
from .errors import CliError, ExitCode
from .model import CutShort, Result, outcome_exit, outcome_note, set_outcome
from .request import Request
from .selection import LOOKUP_CONCURRENCY, Resolved, as_it_is_now, lookup_sessions, resolve, whole_document

# Batches of AgentOS's bulk delete when nothing about the sessions can change before it is sent (ids,
# type, owner, user, creation time) ...
DELETE_BATCH_SIZE = 200
# ... and when something can (name, update time, runs): one wave of concurrent re-reads, then the
# batch's DELETE, so the window between a session's last check and its delete is about two round trips.
RECHECKED_BATCH_SIZE = LOOKUP_CONCURRENCY


async def delete_sessions(api: SessionsApi, request: Request) -> Result:
    """Delete the selected sessions: by id or name without --yes, by filters with --yes."""
    request.check_set_scope("delete")
    if request.args.dry_run:
        resolved = await resolve(api, request.selection, {}, request.progress)
        note = outcome_note({"refused": resolved.refused, "not_found": resolved.missing})
        return Result("dry_run", whole_document(resolved.sessions), note=note)
    resolved = await resolve(api, request.selection, {}, request.progress)
    if not request.chosen_by_ids(resolved.sessions):
        request.confirm_set(resolved.sessions)
    outcome = await delete_in_batches(api, request, resolved)
    return Result("deleted", outcome, outcome_exit(outcome), outcome_note(outcome))


async def delete_in_batches(api: SessionsApi, request: Request, resolved: Resolved) -> dict[str, Any]:
    """Bulk-delete the sessions batch by batch, each batch re-checked right before it is sent."""
    recheck = request.selection.can_change()
    size = RECHECKED_BATCH_SIZE if recheck else DELETE_BATCH_SIZE
    sessions, deleted, skipped = resolved.sessions, [], []
    for start in range(0, len(sessions), size):
        batch, sent = sessions[start : start + size], False
        try:
            if recheck:
                batch, no_longer = await still_chosen(api, batch, request)
                skipped += no_longer
            sent = True
            await send_delete(api, batch, request.args.user_id)
        except CliError as error:
            failed = [s["session_id"] for s in batch]
            gone, unknown = await fate_of_failed_batch(api, failed, request.args.user_id) if sent else ([], [])
            rest = unsettled(sessions[start:], [*gone, *unknown], skipped)
            raise cut_short(error, resolved, [*deleted, *gone], skipped, unknown, rest) from error
        except asyncio.CancelledError:  # Ctrl-C: a batch being sent may or may not have been deleted
            unknown = [s["session_id"] for s in batch] if sent else []
            rest = unsettled(sessions[start:], unknown, skipped)
            interrupted = CliError("interrupted", ExitCode.INTERRUPTED)
            raise cut_short(interrupted, resolved, deleted, skipped, unknown, rest) from None
        deleted += [s["session_id"] for s in batch]
    return set_outcome("deleted", deleted, skipped, resolved.refused, resolved.missing)


def unsettled(sessions: list[dict[str, Any]], settled: list[str], skipped: list[dict[str, str]]) -> list[str]:
    """Ids of the sessions neither settled nor skipped: not done."""
    done = {*settled, *(item["session_id"] for item in skipped)}
    return [session["session_id"] for session in sessions if session["session_id"] not in done]


async def still_chosen(
    api: SessionsApi, batch: list[dict[str, Any]], request: Request
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The sessions of a batch that the filters still choose, read again now; and the others, skipped."""
    filters, selection = request.filters, request.selection
    # a name or an update time can change: read the session too, not only its runs
    detail = bool(selection.session_names) or not filters.changeable().without_runs().is_empty()
    nows = await asyncio.gather(
        *(
            as_it_is_now(api, session, filters, detail, names=selection.chose_by_name(session["session_id"]))
            for session in batch
        )
    )
    chosen = [session for session, now in zip(batch, nows, strict=True) if now.session is not None]
    skipped = [
        {"session_id": session["session_id"], "reason": now.reason}
        for session, now in zip(batch, nows, strict=True)
        if now.session is None
    ]
    return chosen, skipped


async def send_delete(api: SessionsApi, batch: list[dict[str, Any]], user_id: str | None) -> None:
    """One DELETE /sessions for the batch (the body AgentOSClient.delete_sessions() sends, without its import)."""
    if not batch:
        return
    body = {"session_ids": [s["session_id"] for s in batch], "session_types": [s["session_type"] for s in batch]}
    await api.write("DELETE", "/sessions", body, True, {"user_id": user_id} if user_id else None)


async def fate_of_failed_batch(
    api: SessionsApi, session_ids: list[str], user_id: str | None
) -> tuple[list[str], list[str]]:
    """(gone, unknown) for a batch whose DELETE failed: its answer may be lost after the server acted."""
    try:
        _existing, gone = await lookup_sessions(api, session_ids, user_id)
    except CliError:
        return [], session_ids
    return gone, []


def cut_short(
    cause: CliError,
    resolved: Resolved,
    deleted: list[str],
    skipped: list[dict[str, str]],
    unknown: list[str],
    not_done: list[str],
) -> CutShort:
    """The report of a set delete that stopped: deleted, skipped, unknown and not done, exit code of the cause."""
    outcome = set_outcome("deleted", deleted, skipped, resolved.refused, resolved.missing)
    outcome.update(unknown=unknown, not_done=not_done, error=cause.message)
    hint = "check the sessions under unknown; the same command again deletes the rest"
    return CutShort(CliError(f"deleting stopped: {cause.message}", cause.exit_code, hint), Result("deleted", outcome))
