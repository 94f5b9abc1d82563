"""Actions on one session or a page of them: list, inspect, runs, create, rename, update.

Each action returns a `Result`; none prints.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

from .api import SessionsApi
from .errors import not_agentos
from .jsonstream import Streamed
from .model import (
    PAGE_SIZE,
    Result,
    api_path,
    checked_id,
    detect_session_type,
    field_value,
    is_run,
    outcome_exit,
    run_totals,
    session_runs,
    sets_of_runs,
    shaped,
    with_cutoffs,
)
from .request import Request, owner_type
from .selection import (
    ALL_PAGE_SIZE,
    LOOKUP_CONCURRENCY,
    Resolved,
    chosen_pages,
    count_runs,
    fetch_page,
    get_runs,
    get_session,
    page_document,
    resolve,
    user_of,
    whole_document,
    with_run_counts,
)


async def list_sessions(api: SessionsApi, request: Request) -> Result:
    """List sessions: the named ones, one page, or every page with --all; or count them."""
    if request.args.count:
        return Result("count", await count_sessions(api, request))
    return await listed(api, request)


async def listed(api: SessionsApi, request: Request) -> Result:
    """The sessions of a listing, as AgentOS's {data, meta}."""
    selection, filters, order, args = request.selection, request.filters, request.order(), request.args
    if not selection.names_sessions() and not args.all and not filters.needs_local_pass():
        document = await fetch_page(api, {**filters.server_params(), **order}, args.page or 1, args.limit or PAGE_SIZE)
        return Result("sessions", document)
    page_size = args.limit if args.all and args.limit else ALL_PAGE_SIZE
    if args.all and args.json and not selection.names_sessions():
        return streamed_listing(api, request, page_size)
    resolved = await resolve(api, selection, order, request.progress, page_size, acting=False)
    whole = args.all or (selection.names_sessions() and not args.limit)
    document = (
        whole_document(resolved.sessions)
        if whole
        else page_document(resolved.sessions, args.page or 1, args.limit or PAGE_SIZE)
    )
    left = {"refused": resolved.refused, "not_found": resolved.missing}
    return Result("sessions", document, outcome_exit(left), left_alone_note(resolved))


def left_alone_note(resolved: Resolved) -> str:
    """The stderr lines of a read: sessions refused (ids no URL can address) and ids or names not found."""
    return "\n".join(
        [*(f"refused {item['session_id']}: {item['reason']}" for item in resolved.refused)]
        + ([f"not found: {', '.join(resolved.missing)}"] if resolved.missing else [])
    )


def streamed_listing(api: SessionsApi, request: Request, page_size: int) -> Result:
    """`--all --json`: the same answer as `listed`, written page by page as each is checked (memory stays flat)."""
    chosen = chosen_pages(api, request.selection, request.order(), request.progress, page_size, acting=False)
    fields, listed = request.args.fields, 0

    async def pieces() -> AsyncIterator[list[dict[str, Any]]]:
        nonlocal listed
        async with contextlib.aclosing(chosen.pages) as pages:
            async for page in pages:
                if "run_count" in (fields or ()) and not all("run_count" in session for session in page):
                    page = await with_run_counts(api, page)  # as --fields run_count does on any list
                listed += len(page)
                yield shaped(Result("sessions", whole_document(page)), fields).data["data"]

    def finish() -> tuple[dict[str, Any], int, str]:
        whole = whole_document([])
        whole["meta"]["total_count"] = listed
        meta = with_cutoffs(shaped(Result("sessions", whole), fields), request.cutoffs()).data["meta"]
        left = {"refused": chosen.refused, "not_found": chosen.missing}
        return {"meta": meta}, outcome_exit(left), left_alone_note(Resolved([], chosen.missing, chosen.refused))

    return Result("sessions", Streamed({}, "data", pieces(), finish))


async def count_sessions(api: SessionsApi, request: Request) -> dict[str, Any]:
    """How many sessions the selection chooses, and per value of --group-by, largest group first."""
    selection, group_by = request.selection, request.args.group_by
    local = group_by or selection.names_sessions() or selection.filters.needs_local_pass() or request.args.runs
    if not local:
        document = await fetch_page(api, selection.filters.server_params(), 1, 1)  # AgentOS counts
        return {"count": document["meta"].get("total_count", 0)}
    sessions = (await resolve(api, selection, None, request.progress)).sessions
    if request.args.runs:
        counted = sessions if selection.filters.needs_runs() else await with_run_counts(api, sessions, request.progress)
        return run_totals(counted, group_by)
    if not group_by:
        return {"count": len(sessions)}
    groups = Counter(str(field_value(session, group_by) or "(none)") for session in sessions)
    return {"count": len(sessions), "groups": dict(sorted(groups.items(), key=lambda item: (-item[1], item[0])))}


async def inspect_session(api: SessionsApi, request: Request) -> Result:
    """One session's properties and its number of runs."""
    session_id = request.single_session_id()
    detail, run_count = await asyncio.gather(
        get_session(api, session_id, request.args.user_id), count_runs(api, session_id, request.user_params())
    )
    return Result("session", {**detail, "run_count": run_count})


async def show_runs(api: SessionsApi, request: Request) -> Result:
    """The runs of one session (a list), or of each session of a set; run filters first, then --last/--first."""
    if not request.selection.is_single():
        return await show_runs_of_set(api, request)
    session_id = request.single_session_id()
    runs = await chosen_runs(api, request, session_id, request.user_params())
    return Result("runs", {"session_id": session_id, "data": runs})


async def chosen_runs(
    api: SessionsApi, request: Request, session_id: str, user: dict[str, str]
) -> list[dict[str, Any]]:
    """A session's runs, oldest first, after --status/--since/--until/--search, then --last/--first."""
    args = request.args
    runs = await get_runs(api, session_id, {**user, **request.run_filters()})
    if args.status:  # AgentOS before 3.1 ignores `status`, so it is applied here as well
        runs = [run for run in runs if str(run.get("status", "")).upper() in args.status]
    runs = [run for run in runs if request.filters.run_matches(run)]
    if args.last:
        return runs[-args.last :]
    return runs[: args.first] if args.first else runs


async def show_runs_of_set(api: SessionsApi, request: Request) -> Result:
    """Each selected session with its runs, in the selection's order; reads concurrent and bounded."""
    resolved = await resolve(api, request.selection, request.order(), request.progress)
    gate, done = asyncio.Semaphore(LOOKUP_CONCURRENCY), 0

    async def runs_of(session: dict[str, Any]) -> dict[str, Any]:
        nonlocal done
        async with gate:
            runs = await chosen_runs(api, request, session["session_id"], user_of(session))
        done += 1
        if request.progress:
            request.progress(done, len(resolved.sessions), "sessions read")
        return session_runs(session, runs)

    entries = await asyncio.gather(*(runs_of(session) for session in resolved.sessions))
    left = {"refused": resolved.refused, "not_found": resolved.missing}
    return Result("session_runs", sets_of_runs(entries), outcome_exit(left), left_alone_note(resolved))


async def show_run(api: SessionsApi, request: Request) -> Result:
    """One run, whole."""
    session_id = request.single_session_id()
    run_id = checked_id(request.args.run_id, "--run-id")
    run = await api.read(api_path("sessions", session_id, "runs", run_id), request.user_params())
    if not is_run(run):
        raise not_agentos(api.settings.base_url, f"GET /sessions/{session_id}/runs/{run_id}")
    return Result("run", run)


async def create_session(api: SessionsApi, request: Request) -> Result:
    """Create a session for an agent, team or workflow."""
    from agno.db.base import SessionType

    args = request.args
    session_type = owner_type(args) or "agent"
    created = await api.call_client(
        "create_session",
        idempotent=False,
        session_type=SessionType(session_type),
        session_id=request.optional_session_id(),
        user_id=args.user_id,
        session_name=args.name,
        session_state=request.state,
        metadata=request.metadata,
        agent_id=args.agent_id,
        team_id=args.team_id,
        workflow_id=args.workflow_id,
        db_id=api.settings.db_id,
    )
    return Result("session", {**created.model_dump(mode="json", exclude_none=True), "session_type": session_type})


async def rename_session(api: SessionsApi, request: Request) -> Result:
    """Rename a session."""
    session_id = request.single_session_id()
    # PATCH, not POST /rename: on PostgreSQL, /rename answers 500 for a session whose
    # session_data is still empty, and AgentOSClient.rename_session() raises ValueError
    # after renaming a session that has no agent/team/workflow id.
    body = {"session_name": request.args.rename}
    renamed = await api.write("PATCH", api_path("sessions", session_id), body, True, request.user_params())
    present = {key: value for key, value in renamed.items() if value is not None}
    return Result("session", {**present, "session_type": detect_session_type(renamed)})
