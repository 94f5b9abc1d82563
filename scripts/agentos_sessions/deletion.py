"""Deleting sessions: by id or by filter, in bulk batches, with an exact report when cut short.

Each action returns a `Result`; none prints.
"""

from __future__ import annotations

from typing import Any

from .api import SessionsApi
from .errors import CliError, ExitCode
from .model import Result, missing_note
from .request import Request
from .selection import lookup_sessions, resolve, whole_document

DELETE_BATCH_SIZE = 200


async def delete_in_batches(api: SessionsApi, sessions: list[dict[str, Any]], user_id: str | None) -> list[str]:
    """Bulk-delete sessions; on failure say exactly which were and were not deleted."""
    deleted: list[str] = []
    for start in range(0, len(sessions), DELETE_BATCH_SIZE):
        batch = sessions[start : start + DELETE_BATCH_SIZE]
        try:
            # A plain DELETE /sessions: AgentOSClient.delete_sessions() sends this same body
            # but costs agno's ~1 s import, which dominated a bulk delete.
            body = {
                "session_ids": [s["session_id"] for s in batch],
                "session_types": [s["session_type"] for s in batch],
            }
            await api.write("DELETE", "/sessions", body, True, {"user_id": user_id} if user_id else None)
        except CliError as error:
            failed = [s["session_id"] for s in batch]
            gone, unknown = await fate_of_failed_batch(api, failed, user_id)
            deleted += gone
            not_deleted = [sid for sid in failed if sid not in gone and sid not in unknown]
            not_deleted += [s["session_id"] for s in sessions[start + len(batch) :]]
            raise CliError(
                deletion_report(error.message, deleted, unknown, not_deleted),
                error.exit_code,
                "run the same command again to delete the rest",
            ) from error
        deleted.extend(s["session_id"] for s in batch)
    return deleted


async def fate_of_failed_batch(
    api: SessionsApi, session_ids: list[str], user_id: str | None
) -> tuple[list[str], list[str]]:
    """(gone, unknown) for a batch whose DELETE failed: its answer may be lost after the server acted."""
    try:
        _existing, gone = await lookup_sessions(api, session_ids, user_id)
    except CliError:
        return [], session_ids
    return gone, []


def deletion_report(reason: str, deleted: list[str], unknown: list[str], not_deleted: list[str]) -> str:
    """One line naming every id: deleted, perhaps deleted, and not deleted."""
    parts = [reason, f"deleted {len(deleted)} session(s) ({', '.join(deleted) or 'none'})"]
    if unknown:
        parts.append(f"perhaps deleted (check them): {', '.join(unknown)}")
    parts.append(f"not deleted: {', '.join(not_deleted) or 'none'}")
    return "; ".join(parts)


async def delete_sessions(api: SessionsApi, request: Request) -> Result:
    """Delete the selected sessions: by id or name without --yes, by filters with --yes."""
    request.check_set_scope("delete")
    resolved = await resolve(api, request.selection, {}, request.progress)
    sessions, missing = resolved.sessions, resolved.missing
    if request.args.dry_run:
        return Result("dry_run", whole_document(sessions), note=missing_note(missing, "deleted"))
    if not request.chosen_by_ids(sessions):
        request.confirm_set(len(sessions))
    deleted = await delete_in_batches(api, sessions, request.args.user_id)
    outcome = {"deleted": deleted, "not_found": missing}
    return Result("deleted", outcome, ExitCode.NOT_FOUND if missing else ExitCode.OK, missing_note(missing, "deleted"))
