"""Updating state, metadata and summary: of one session or of every selected session, checked after writing.

AgentOS replaces state and metadata wholesale, so the merge happens here; a re-read after
writing tells when another writer changed the same session meanwhile.
"""

from __future__ import annotations

import asyncio
from typing import Any, NamedTuple

from .api import SessionsApi, is_connection_error
from .errors import CliError, ExitCode, usage_error
from .model import CutShort, Result, api_path, now_iso, outcome_exit, outcome_note, set_outcome
from .request import Request, pin_unless_shared
from .selection import (
    ALL_PAGE_SIZE,
    LOOKUP_CONCURRENCY,
    Resolved,
    Selection,
    as_it_is_now,
    fetch_all_pages,
    get_session,
    lookup_sessions,
    resolve,
    user_of,
)

KEPT_FIELDS = ("session_state", "metadata")


def merged(current: dict[str, Any] | None, given: dict[str, Any] | None, replace: bool) -> dict[str, Any] | None:
    """The value to PATCH: the given keys merged into the current ones, or the given value."""
    if given is None or replace:
        return given
    return {**(current or {}), **given}


def planned(session: dict[str, Any], request: Request) -> dict[str, Any]:
    """The PATCH body for one session: merged state and metadata, and the summary."""
    body: dict[str, Any] = {
        "session_state": merged(session.get("session_state"), request.state, request.args.replace),
        "metadata": merged(session.get("metadata"), request.metadata, request.args.replace),
    }
    if request.args.summary is not None:
        body["summary"] = {"summary": request.args.summary, "updated_at": now_iso()}
    return {key: value for key, value in body.items() if value is not None}


def refuse_summary_of_workflows(sessions: list[dict[str, Any]], request: Request) -> None:
    """AgentOS stores no summary for a workflow session and still answers 200: refuse, do not pretend."""
    workflows = [s["session_id"] for s in sessions if s.get("session_type") == "workflow"]
    if request.args.summary is not None and workflows:
        usage_error(
            f"workflow sessions have no summary: {', '.join(workflows)}; nothing was changed",
            "leave out --summary, or narrow the selection with --type agent/team",
        )


def changed_behind_us(written: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Keys of state and metadata whose value after writing is not what was written: another writer's."""
    changed = []
    for field in KEPT_FIELDS:
        if field not in written:
            continue
        expected, seen = written[field] or {}, after.get(field) or {}
        changed += [f"{field}.{key}" for key in sorted({*expected, *seen}) if expected.get(key) != seen.get(key)]
    return changed


async def patch(api: SessionsApi, session: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """PATCH /sessions/{id} as AgentOSClient.update_session() does, without agno's ~1 s import."""
    params = {"type": session["session_type"], **user_of(session)}
    answer = await api.write("PATCH", api_path("sessions", session["session_id"]), body, True, params)
    return {key: value for key, value in (answer or {}).items() if value is not None}


async def update_session(api: SessionsApi, request: Request) -> Result:
    """Update state, metadata and/or summary of the selected sessions; merge unless --replace."""
    if request.state is None and request.metadata is None and request.args.summary is None:
        usage_error("--update needs --state, --metadata or --summary", "e.g. --update --metadata '{\"k\": 1}'")
    pinned = await pin_unless_shared(api, request, "update") if request.selection.is_single() else None
    if pinned is not None:
        return await update_one(api, pinned)
    return await update_set(api, request)


async def update_one(api: SessionsApi, request: Request) -> Result:
    """Update one session and print it, as --update always has; exit 1 if another writer interfered."""
    session_id, user_id = request.single_session_id(), request.args.user_id
    current = await get_session(api, session_id, user_id)
    refuse_summary_of_workflows([current], request)
    body = planned(current, request)
    if request.args.dry_run:
        return Result("update_preview", {"data": [{"session_id": session_id, **body}], "not_found": [], "refused": []})
    updated = await patch(api, current, body)
    after = await get_session(api, session_id, user_id)
    changed = changed_behind_us(body, after)
    if changed:
        raise interference(session_id, changed)
    return Result("session", {**updated, "session_type": current["session_type"]})


def interference(session_id: str, keys: list[str]) -> CliError:
    """The error for a session another writer changed between this update's read and its re-read."""
    return CliError(
        f"session '{session_id}' was changed by another writer while it was updated: {', '.join(keys)} "
        "differ from what was written",
        ExitCode.ERROR,
        f"inspect it with --session-id {session_id} and update again if needed",
    )


async def update_set(api: SessionsApi, request: Request) -> Result:
    """Update every selected session concurrently (bounded), each merged into a read made right before its PATCH."""
    if request.args.dry_run:
        resolved = await resolve(api, request.selection, None, request.progress)
        refuse_summary_of_workflows(resolved.sessions, request)
        preview = [{"session_id": s["session_id"], **planned(s, request)} for s in resolved.sessions]
        outcome = {"data": preview, "not_found": resolved.missing, "refused": resolved.refused}
        return Result("update_preview", outcome, outcome_exit(outcome), outcome_note(outcome))
    resolved = await resolve(api, request.selection, None, request.progress)
    refuse_summary_of_workflows(resolved.sessions, request)
    if not request.chosen_by_ids(resolved.sessions):
        request.confirm_set(resolved.sessions)
    written = await patch_each(api, request, resolved)
    outcome = await verified(api, request, resolved, written)
    return Result("updated", outcome, outcome_exit(outcome), outcome_note(outcome))


class Written(NamedTuple):
    """What a set update sent: the body written to each session, and the sessions it skipped."""

    written: dict[str, dict[str, Any]]
    skipped: list[dict[str, str]]


async def patch_each(api: SessionsApi, request: Request, resolved: Resolved) -> Written:
    """Per session: read it as it is now, re-check the filters, merge, PATCH; stop starting new ones on a failure."""
    gate, stop = asyncio.Semaphore(LOOKUP_CONCURRENCY), asyncio.Event()
    written: dict[str, dict[str, Any]] = {}
    skipped: list[dict[str, str]] = []
    in_flight: set[str] = set()
    failures: list[tuple[str, CliError]] = []

    async def one(session: dict[str, Any]) -> None:
        async with gate:
            if stop.is_set():
                return
            session_id = session["session_id"]
            try:
                names = request.selection.chose_by_name(session_id)
                now = await as_it_is_now(api, session, request.filters, names=names)
                if now.session is None:
                    skipped.append({"session_id": session_id, "reason": now.reason})
                    return
                body = planned(now.session, request)  # nothing slow between this read and the PATCH
                in_flight.add(session_id)
                await patch(api, now.session, body)
                written[session_id] = body
            except CliError as error:
                stop.set()
                failures.append((session_id, error))

    try:
        await asyncio.gather(*(one(session) for session in resolved.sessions))
    except asyncio.CancelledError:  # Ctrl-C: the PATCHes in flight may or may not have landed
        unknown = sorted(in_flight - set(written))
        raise cut_short(
            CliError("interrupted", ExitCode.INTERRUPTED, ""), resolved, written, skipped, unknown
        ) from None
    if failures:
        unknown = [sid for sid, failure in failures if sid in in_flight and may_have_landed(failure)]
        raise cut_short(failures[0][1], resolved, written, skipped, unknown)
    return Written(written, skipped)


def may_have_landed(error: CliError) -> bool:
    """True when the request was sent and its answer lost: the server may have acted."""
    cause = error.__cause__
    return error.exit_code == ExitCode.UNREACHABLE and cause is not None and not is_connection_error(cause)


def cut_short(
    cause: CliError,
    resolved: Resolved,
    written: dict[str, dict[str, Any]],
    skipped: list[dict[str, str]],
    unknown: list[str],
) -> CutShort:
    """The report of a set update that stopped: updated, skipped, unknown and not done, exit code of the cause."""
    settled = {*written, *unknown, *(item["session_id"] for item in skipped)}
    not_done = [s["session_id"] for s in resolved.sessions if s["session_id"] not in settled]
    updated = [{"session_id": sid} for sid in written]
    outcome = set_outcome("updated", updated, skipped, resolved.refused, resolved.missing)
    outcome.update(unknown=unknown, not_done=not_done, error=cause.message)
    hint = "inspect the sessions under unknown; the same command again updates the rest"
    return CutShort(CliError(f"updating stopped: {cause.message}", cause.exit_code, hint), Result("updated", outcome))


async def verified(api: SessionsApi, request: Request, resolved: Resolved, done: Written) -> dict[str, Any]:
    """Re-read the updated sessions: each one's resulting state and metadata, and any another writer changed."""
    try:
        after = await reread(api, request.selection, list(done.written))
    except CliError as error:
        report = cut_short(error, resolved, done.written, done.skipped, [])
        report.result.data["unverified"] = list(done.written)
        report.message = f"every PATCH was answered, but the re-read to verify them failed: {error.message}"
        raise report from error
    by_id = {session["session_id"]: session for session in after}
    updated = [resulting(by_id.get(sid, {"session_id": sid}), body) for sid, body in done.written.items()]
    changed = [
        {"session_id": sid, "keys": keys}
        for sid, body in done.written.items()
        if (keys := changed_behind_us(body, by_id.get(sid, {})))
    ]
    extra = {"changed_meanwhile": changed} if changed else {}
    return set_outcome("updated", updated, done.skipped, resolved.refused, resolved.missing, **extra)


def resulting(session: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """What an update of a set reports per session: its id and the fields written, as AgentOS now has them."""
    shown = ("session_id", "session_name", *(key for key in ("session_state", "metadata") if key in body))
    summary = {"session_summary": session.get("session_summary")} if "summary" in body else {}
    return {**{key: session.get(key) for key in shown}, **summary}


async def reread(api: SessionsApi, selection: Selection, session_ids: list[str]) -> list[dict[str, Any]]:
    """The sessions as AgentOS has them now: one by one when few were named, else from the listing."""
    ids = set(session_ids)
    if selection.names_sessions() or len(ids) <= LOOKUP_CONCURRENCY:
        return (await lookup_sessions(api, sorted(ids), None))[0]
    params = selection.filters.server_side().server_params()
    return [session for session in await fetch_all_pages(api, params, ALL_PAGE_SIZE) if session["session_id"] in ids]
