"""Updating state, metadata and summary: of one session or of every selected session, checked after writing.

AgentOS replaces state and metadata wholesale, so the merge happens here; a re-read after
writing tells when another writer changed the same session meanwhile.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .api import SessionsApi, is_connection_error
from .errors import CliError, ExitCode, usage_error
from .model import Result, missing_note, now_iso
from .request import Request, pin_single_session
from .selection import (
    ALL_PAGE_SIZE,
    LOOKUP_CONCURRENCY,
    Selection,
    fetch_all_pages,
    get_session,
    lookup_sessions,
    resolve,
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
    params = {"type": session["session_type"], **({"user_id": session["user_id"]} if session.get("user_id") else {})}
    answer = await api.write("PATCH", f"/sessions/{session['session_id']}", body, True, params)
    return {key: value for key, value in (answer or {}).items() if value is not None}


async def update_session(api: SessionsApi, request: Request) -> Result:
    """Update state, metadata and/or summary of the selected sessions; merge unless --replace."""
    if request.state is None and request.metadata is None and request.args.summary is None:
        usage_error("--update needs --state, --metadata or --summary", "e.g. --update --metadata '{\"k\": 1}'")
    if request.selection.is_single():
        return await update_one(api, await pin_single_session(api, request))
    return await update_set(api, request)


async def update_one(api: SessionsApi, request: Request) -> Result:
    """Update one session and print it, as --update always has; exit 1 if another writer interfered."""
    session_id, user_id = request.single_session_id(), request.args.user_id
    current = await get_session(api, session_id, user_id)
    refuse_summary_of_workflows([current], request)
    body = planned(current, request)
    if request.args.dry_run:
        return Result("update_preview", {"data": [{"session_id": session_id, **body}], "not_found": []})
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
    """Update every selected session concurrently (bounded); re-read them all to check the writes held."""
    resolved = await resolve(api, request.selection, None, request.progress)
    sessions, missing = resolved.sessions, resolved.missing
    refuse_summary_of_workflows(sessions, request)
    bodies = {s["session_id"]: planned(s, request) for s in sessions}
    if request.args.dry_run:
        preview = [{"session_id": sid, **body} for sid, body in bodies.items()]
        return Result("update_preview", {"data": preview, "not_found": missing}, note=missing_note(missing))
    if not request.chosen_by_ids(sessions):
        request.confirm_set(len(sessions))
    updated = await patch_all(api, sessions, bodies)
    await check_all_held(api, request.selection, sessions, bodies)
    outcome = {"updated": updated, "not_found": missing}
    return Result("updated", outcome, ExitCode.NOT_FOUND if missing else ExitCode.OK, missing_note(missing))


async def patch_all(api: SessionsApi, sessions: list[dict[str, Any]], bodies: dict[str, dict[str, Any]]) -> list[str]:
    """PATCH each session; on a failure stop starting new ones and report done, not done and unknown."""
    gate, stop = asyncio.Semaphore(LOOKUP_CONCURRENCY), asyncio.Event()
    done: list[str] = []
    started: set[str] = set()
    failures: dict[str, CliError] = {}
    unknown: list[str] = []

    async def one(session: dict[str, Any]) -> None:
        async with gate:
            if stop.is_set():
                return
            started.add(session["session_id"])
            try:
                await patch(api, session, bodies[session["session_id"]])
                done.append(session["session_id"])
            except CliError as error:
                stop.set()
                failures[session["session_id"]] = error
                if may_have_landed(error):
                    unknown.append(session["session_id"])

    try:
        await asyncio.gather(*(one(session) for session in sessions))
    except asyncio.CancelledError:  # Ctrl-C: the PATCHes in flight may or may not have landed
        in_flight = [sid for sid in started if sid not in done]
        interrupted = CliError("interrupted", ExitCode.INTERRUPTED, "")
        raise set_report("updating", sessions, done, interrupted, in_flight) from None
    if failures:
        raise set_report("updating", sessions, done, next(iter(failures.values())), unknown)
    return [s["session_id"] for s in sessions if s["session_id"] in done]


def may_have_landed(error: CliError) -> bool:
    """True when the request was sent and its answer lost: the server may have acted."""
    cause = error.__cause__
    return error.exit_code == ExitCode.UNREACHABLE and cause is not None and not is_connection_error(cause)


def set_report(
    verb: str, sessions: list[dict[str, Any]], done: list[str], first: CliError, unknown: list[str]
) -> CliError:
    """One line for a set action cut short: what was done, what was not, what may have been."""
    not_done = [s["session_id"] for s in sessions if s["session_id"] not in done and s["session_id"] not in unknown]
    parts = [f"{verb} stopped: {first.message}", f"done ({len(done)}): {', '.join(done) or 'none'}"]
    if unknown:
        parts.append(f"unknown, check them: {', '.join(unknown)}")
    parts.append(f"not done: {', '.join(not_done) or 'none'}")
    return CliError("; ".join(parts), first.exit_code, "run the same command again to finish")


async def reread(api: SessionsApi, selection: Selection, sessions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sessions as AgentOS has them now: one by one when few were named, else from the listing."""
    ids = {session["session_id"] for session in sessions}
    if selection.names_sessions() or len(ids) <= LOOKUP_CONCURRENCY:
        return (await lookup_sessions(api, sorted(ids), None))[0]
    params = selection.filters.server_side().server_params()
    return [session for session in await fetch_all_pages(api, params, ALL_PAGE_SIZE) if session["session_id"] in ids]


async def check_all_held(
    api: SessionsApi, selection: Selection, sessions: list[dict[str, Any]], bodies: dict[str, dict[str, Any]]
) -> None:
    """Re-read the updated sessions; exit 1 naming those another writer changed meanwhile."""
    after = await reread(api, selection, sessions)
    changed = {s["session_id"]: keys for s in after if (keys := changed_behind_us(bodies[s["session_id"]], s))}
    if changed:
        named = "; ".join(f"{sid}: {', '.join(keys)}" for sid, keys in changed.items())
        raise CliError(
            f"all {len(sessions)} sessions were updated, but another writer changed some meanwhile: {named}",
            ExitCode.ERROR,
            "inspect those sessions and update them again if needed",
        )
