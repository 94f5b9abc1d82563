"""Which sessions: paging, `--all`, lookups by id and name, run-aware filters, resolving a selection.

Every action that works on a set of sessions asks `resolve`; none re-implements it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

from .api import MissingEndpoint, SessionsApi
from .errors import CliError, ExitCode, not_agentos
from .filters import Filters, Selection
from .model import addressable, api_path, detect_session_type, is_run, is_session
from .paging import (
    ALL_PAGE_SIZE,
    PAGE_CONCURRENCY,
    Progress,
    fetch_all_pages,
    fetch_page,
    in_order,
    read_until,
    stream_pages,
    time_stop,
    unique_sessions,
)

# Reads about single sessions in flight at once (run counts, re-checks before writes, exports). Measured
# (benchmarks/RESULTS-sets.md, 2026-12-03, quiet machine): at 50 ms round trips 8 gave 7.3-7.5x the
# sequential AgentOSClient loop and 16 gave 12.3-13.9x; on loopback and at 10 ms 16 costs nothing.
LOOKUP_CONCURRENCY = 16

__all__ = ["ALL_PAGE_SIZE", "PAGE_CONCURRENCY", "Filters", "Progress", "Selection", "fetch_all_pages", "fetch_page"]


def page_document(sessions: list[dict[str, Any]], page: int, limit: int) -> dict[str, Any]:
    """Slice locally filtered sessions into the API's {data, meta} shape."""
    total = len(sessions)
    return {
        "data": sessions[(page - 1) * limit : page * limit],
        "meta": {"page": page, "limit": limit, "total_pages": -(-total // limit), "total_count": total},
    }


def whole_document(sessions: list[dict[str, Any]]) -> dict[str, Any]:
    """Every matching session, with the true total and nothing that reads like a page limit."""
    return {"data": sessions, "meta": {"total_count": len(sessions)}}


async def with_run_filters(
    api: SessionsApi, sessions: list[dict[str, Any]], filters: Filters, progress: Progress | None = None
) -> list[dict[str, Any]]:
    """The sessions that pass --min-runs/--max-runs/--search, with `run_count` and `matches` (read concurrently).

    A session deleted while the others are read is simply not chosen.
    """
    gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)
    done = 0

    async def check(session: dict[str, Any]) -> dict[str, Any] | None:
        nonlocal done
        async with gate:
            try:
                runs, run_count = await read_runs(api, session, bool(filters.search))
            except CliError as error:
                if error.exit_code != ExitCode.NOT_FOUND:
                    raise
                runs, run_count = None, -1
        done += 1
        if progress:
            progress(done, len(sessions), "sessions")
        if run_count < 0 or not filters.matches_runs(runs, run_count):
            return None
        found = {"matches": filters.search_matches(runs or [])} if filters.search else {}
        return {**session, "run_count": run_count, **found}

    checked = await asyncio.gather(*(check(session) for session in sessions))
    return [session for session in checked if session is not None]


async def read_runs(api: SessionsApi, session: dict[str, Any], whole: bool) -> tuple[list[dict[str, Any]] | None, int]:
    """A session's runs (only when `whole`) and their number, read as the session's own user."""
    session_id, user = session["session_id"], user_of(session)
    if whole:
        runs = await get_runs(api, session_id, user)
        return runs, len(runs)
    return None, await count_runs(api, session_id, user)


def user_of(session: dict[str, Any]) -> dict[str, str]:
    """The session's user_id as a query parameter: AgentOS reads a session as its owner."""
    return {"user_id": session["user_id"]} if session.get("user_id") else {}


class Now(NamedTuple):
    """A session read again right before a write: as it is now, its runs if read, and why it is no longer chosen."""

    session: dict[str, Any] | None
    runs: list[dict[str, Any]] | None = None
    reason: str = ""


GONE = "it no longer exists"
CHANGED = "it changed since it was selected and no longer matches the filters"
RUNS_CHANGED = "its runs changed since it was selected and no longer match the run filters"


async def as_it_is_now(
    api: SessionsApi,
    session: dict[str, Any],
    filters: Filters,
    detail: bool = True,
    runs: bool = False,
    names: tuple[str, ...] = (),
) -> Now:
    """Read the session again (its detail and/or runs, in parallel) and decide whether the filters still choose it.

    `names`: the --session-name values that chose it (not its id): a rename meanwhile un-chooses it.
    """
    session_id, counting = session["session_id"], runs or filters.needs_runs()
    reads: list[Any] = [get_session(api, session_id, session.get("user_id"))] if detail else []
    if counting:
        reads.append(read_runs(api, session, runs or bool(filters.search)))
    try:
        answers = await asyncio.gather(*reads)
    except CliError as error:
        if error.exit_code == ExitCode.NOT_FOUND:
            return Now(None, None, GONE)
        raise
    fresh = answers[0] if detail else dict(session)
    found_runs, run_count = answers[-1] if counting else (None, None)
    if detail and (not filters.without_runs().matches(fresh) or (names and fresh.get("session_name") not in names)):
        return Now(None, None, CHANGED)
    if filters.needs_runs() and not filters.matches_runs(found_runs, run_count or 0):
        return Now(None, None, RUNS_CHANGED)
    return Now({**fresh, **({"run_count": run_count} if counting else {})}, found_runs)


async def with_run_counts(
    api: SessionsApi, sessions: list[dict[str, Any]], progress: Progress | None = None
) -> list[dict[str, Any]]:
    """The sessions, each with its `run_count` (read concurrently)."""
    return await with_run_filters(api, sessions, Filters(min_runs=0), progress)


class Resolved(NamedTuple):
    """The sessions a selection chose, the ids or names that chose none, and sessions whose id cannot be addressed."""

    sessions: list[dict[str, Any]]
    missing: list[str]
    refused: list[dict[str, str]]


def refusal(session: dict[str, Any]) -> dict[str, str]:
    """The outcome entry of a session left alone because its id cannot go into a URL."""
    return {"session_id": session["session_id"], "reason": UNADDRESSABLE_REASON}


UNADDRESSABLE_REASON = "its id has characters no URL can address ('/', '?', '#', '\\', control): left alone"


def split_addressable(sessions: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Sessions whose ids can be put into a request path, and refusals for the others (server input)."""
    usable = [session for session in sessions if addressable(session["session_id"])]
    refused = [refusal(session) for session in sessions if not addressable(session["session_id"])]
    return usable, refused


async def resolve(
    api: SessionsApi,
    selection: Selection,
    order: dict[str, str] | None = None,
    progress: Progress | None = None,
    page_size: int = ALL_PAGE_SIZE,
    acting: bool = True,
) -> Resolved:
    """Every session the selection chooses: the named ones narrowed by the filters, or all that match.

    `acting`: the caller will send requests about each session, so ids no URL can address are
    refused (reported, left alone); a listing shows them unless their runs must be read.
    """
    filters, missing = selection.filters, []
    if selection.names_sessions():
        candidates, missing = await named_sessions(api, selection)
    else:
        candidates = await listed_matches(api, filters, order, progress, page_size)
    refused: list[dict[str, str]] = []
    if acting or filters.needs_runs():
        candidates, refused = split_addressable(candidates)
    if filters.needs_runs():
        kept = await with_run_filters(api, candidates, filters, progress)
        missing += left_out(selection, candidates, kept)
        candidates = kept
    return Resolved(candidates, missing, refused)


async def listed_matches(
    api: SessionsApi, filters: Filters, order: dict[str, str] | None, progress: Progress | None, page_size: int
) -> list[dict[str, Any]]:
    """Every listed session the filters choose; with a time filter, read only as far as its cutoff."""
    stop = time_stop(filters, order)
    if stop is None:
        listed = await fetch_all_pages(api, {**filters.server_params(), **(order or {})}, page_size, progress)
        return [session for session in listed if filters.matches(session)]
    # Read in the time filter's order, holding only the matches, then put them in the order asked for.
    matches = await read_until(api, filters.server_params(), stop, filters.matches, page_size)
    return in_order(matches, order, stop)


class Chosen(NamedTuple):
    """A selection's sessions page by page as they are checked; refused and missing fill up as pages pass."""

    pages: AsyncIterator[list[dict[str, Any]]]
    refused: list[dict[str, str]]
    missing: list[str]


def chosen_pages(
    api: SessionsApi,
    selection: Selection,
    order: dict[str, str] | None,
    progress: Progress | None = None,
    page_size: int = ALL_PAGE_SIZE,
    acting: bool = True,
) -> Chosen:
    """What `resolve` chooses, as pages to consume one at a time, so a whole listing is never held."""
    refused: list[dict[str, str]] = []
    missing: list[str] = []
    pages = checked_pages(api, selection, order, progress, page_size, acting, (refused, missing))
    return Chosen(pages, refused, missing)


async def checked_pages(
    api: SessionsApi,
    selection: Selection,
    order: dict[str, str] | None,
    progress: Progress | None,
    page_size: int,
    acting: bool,
    left: tuple[list[dict[str, str]], list[str]],
) -> AsyncIterator[list[dict[str, Any]]]:
    """The pages of `chosen_pages`: named sessions and time filters are few, held and cut; the rest stream."""
    filters = selection.filters
    if selection.names_sessions() or time_stop(filters, order) is not None:
        resolved = await resolve(api, selection, order, progress, page_size, acting)
        left[0].extend(resolved.refused)
        left[1].extend(resolved.missing)
        for start in range(0, len(resolved.sessions), page_size):
            yield resolved.sessions[start : start + page_size]
        return
    async for page in stream_pages(api, {**filters.server_params(), **(order or {})}, page_size, progress):
        candidates = [session for session in page if filters.matches(session)]
        if acting or filters.needs_runs():
            candidates, refused = split_addressable(candidates)
            left[0].extend(refused)
        if filters.needs_runs():
            candidates = await with_run_filters(api, candidates, filters)
        yield candidates


async def named_sessions(api: SessionsApi, selection: Selection) -> tuple[list[dict[str, Any]], list[str]]:
    """The sessions named by id or exact name, narrowed by the session filters; and what chose none."""
    filters = selection.filters
    by_id, missing = await lookup_sessions(api, list(selection.session_ids), filters.user_id)
    by_id = [session for session in by_id if filters.matches(session)]
    missing += [sid for sid in selection.session_ids if sid not in missing and not any_id(by_id, sid)]
    by_name = await sessions_named(api, selection) if selection.session_names else []
    missing += [name for name in selection.session_names if not any(s.get("session_name") == name for s in by_name)]
    return unique_sessions([*by_id, *by_name]), missing


def left_out(selection: Selection, before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[str]:
    """Ids and names that chose sessions before the run filters and none after: not found, like other filters."""
    ids = [sid for sid in selection.session_ids if any_id(before, sid) and not any_id(after, sid)]
    names = [
        name
        for name in selection.session_names
        if any(s.get("session_name") == name for s in before) and not any(s.get("session_name") == name for s in after)
    ]
    return ids + names


def any_id(sessions: list[dict[str, Any]], session_id: str) -> bool:
    return any(session["session_id"] == session_id for session in sessions)


async def sessions_named(api: SessionsApi, selection: Selection) -> list[dict[str, Any]]:
    """The sessions whose name as AgentOS shows it (stored, or the first message) is exactly one of the given names.

    Case-sensitive, filters applied; the listing is read whole, within the filters AgentOS applies
    itself, because its name filter cannot see names taken from the first message.
    """
    names = selection.session_names
    params = {**selection.filters.server_side().server_params(), "sort_by": "created_at", "sort_order": "desc"}
    listed = await fetch_all_pages(api, params, ALL_PAGE_SIZE)
    return [s for s in listed if s.get("session_name") in names and selection.filters.matches(s)]


async def pin_session(api: SessionsApi, selection: Selection) -> str:
    """The one session a single-session action acts on: no match is exit 3, several are exit 2."""
    filters = selection.filters._replace(user_id=None)  # the action itself sends user_id
    if selection.session_ids and not selection.session_names and filters.is_empty():
        return selection.session_ids[0]
    resolved = await resolve(api, selection)
    if not resolved.sessions:
        ids, names = selection.session_ids, selection.session_names
        named = f"session '{ids[0]}'" if ids else f"a session named '{names[0]}'"
        raise CliError(f"{named} not found among the selected sessions", ExitCode.NOT_FOUND, "list them first")
    if len(resolved.sessions) > 1:
        raise SeveralMatch([session["session_id"] for session in resolved.sessions])
    return resolved.sessions[0]["session_id"]


class SeveralMatch(CliError):
    """A name that should pick one session is shared by several (exit 2); set actions may take them all."""

    def __init__(self, session_ids: list[str]) -> None:
        ids = ", ".join(session_ids)
        super().__init__(f"{len(session_ids)} sessions match: {ids}; nothing was done", ExitCode.USAGE)
        self.hint = "pick one with --session-id"
        self.session_ids = session_ids


async def get_session(api: SessionsApi, session_id: str, user_id: str | None = None) -> dict[str, Any]:
    """GET /sessions/{id} with its detected type added as `session_type`."""
    params = {"user_id": user_id} if user_id else {}
    detail = await api.read(api_path("sessions", session_id), params)
    if not is_session(detail):
        raise not_agentos(api.settings.base_url, f"GET /sessions/{session_id}")
    return {**detail, "session_type": detect_session_type(detail)}


async def get_runs(api: SessionsApi, session_id: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """GET /sessions/{id}/runs, oldest first."""
    runs = await api.read(api_path("sessions", session_id, "runs"), params, shape=list)
    if not all(is_run(run) for run in runs):
        raise not_agentos(api.settings.base_url, f"GET /sessions/{session_id}/runs")
    return runs


async def count_runs(api: SessionsApi, session_id: str, params: dict[str, Any] | None = None) -> int:
    """How many runs a session has: from the light /run-previews (AgentOS 3.1), else from /runs."""
    if "run-previews" not in api.missing_endpoints:
        try:
            return len(await api.read(api_path("sessions", session_id, "run-previews"), params, shape=list))
        except MissingEndpoint:
            api.missing_endpoints.add("run-previews")  # a 3.0 or 2.x server: remembered for this call
    return len(await get_runs(api, session_id, params))


async def find_session(api: SessionsApi, session_id: str, user_id: str | None) -> dict[str, Any] | None:
    """The session, or None when AgentOS does not have it."""
    try:
        return await get_session(api, session_id, user_id)
    except CliError as error:
        if error.exit_code == ExitCode.NOT_FOUND:
            return None
        raise


async def lookup_sessions(
    api: SessionsApi, session_ids: list[str], user_id: str | None
) -> tuple[list[dict[str, Any]], list[str]]:
    """Split ids into existing sessions and ids not found (AgentOS's DELETE cannot tell)."""
    gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)

    async def lookup(session_id: str) -> dict[str, Any] | None:
        async with gate:
            return await find_session(api, session_id, user_id)

    found = await asyncio.gather(*(lookup(session_id) for session_id in session_ids))
    existing = [session for session in found if session is not None]
    missing = [session_id for session_id, session in zip(session_ids, found, strict=True) if session is None]
    return existing, missing
