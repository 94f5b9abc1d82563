"""Actions on one session or a page of them: list, inspect, runs, create, rename, update.

Each action returns a `Result`; none prints.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .api import SessionsApi
from .errors import not_agentos, usage_error
from .model import Result, checked_id, detect_session_type, now_iso
from .request import Request, owner_type
from .selection import (
    ALL_PAGE_SIZE,
    count_runs,
    fetch_page,
    find_sessions,
    get_runs,
    get_session,
    page_document,
    whole_document,
)


async def list_sessions(api: SessionsApi, request: Request) -> Result:
    """List sessions: one page, or every page with --all."""
    filters, order = request.filters, request.order()
    if request.args.all:
        page_size = request.args.limit or ALL_PAGE_SIZE
        return Result("sessions", whole_document(await find_sessions(api, filters, order, request.progress, page_size)))
    limit = request.args.limit or 20
    if filters.needs_local_pass():
        matching = await find_sessions(api, filters, order)
        return Result("sessions", page_document(matching, request.args.page or 1, limit))
    document = await fetch_page(api, {**filters.server_params(), **order}, request.args.page or 1, limit)
    return Result("sessions", document)


async def inspect_session(api: SessionsApi, request: Request) -> Result:
    """One session's properties and its number of runs."""
    session_id = request.single_session_id()
    detail, run_count = await asyncio.gather(
        get_session(api, session_id, request.args.user_id), count_runs(api, session_id, request.user_params())
    )
    return Result("session", {**detail, "run_count": run_count})


async def show_runs(api: SessionsApi, request: Request) -> Result:
    """The runs of one session, filtered by status and time."""
    session_id = request.single_session_id()
    params = {**request.user_params(), **request.run_filters()}
    runs = await get_runs(api, session_id, params)
    if request.args.status:  # AgentOS before 3.1 ignores `status`, so it is applied here as well
        runs = [run for run in runs if str(run.get("status", "")).upper() in request.args.status]
    return Result("runs", {"session_id": session_id, "data": runs})


async def show_run(api: SessionsApi, request: Request) -> Result:
    """One run, whole."""
    session_id = request.single_session_id()
    run_id = checked_id(request.args.run_id, "--run-id")
    run = await api.read(f"/sessions/{session_id}/runs/{run_id}", request.user_params())
    if "run_id" not in run:
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
    renamed = await api.write("PATCH", f"/sessions/{session_id}", {"session_name": request.args.rename}, True)
    present = {key: value for key, value in renamed.items() if value is not None}
    return Result("session", {**present, "session_type": detect_session_type(renamed)})


def merged(current: dict[str, Any] | None, given: dict[str, Any] | None, replace: bool) -> dict[str, Any] | None:
    """The value to PATCH: the given keys merged into the current ones, or the given value."""
    if given is None or replace:
        return given
    return {**(current or {}), **given}


async def update_session(api: SessionsApi, request: Request) -> Result:
    """PATCH state, metadata and/or summary; merge into current values unless --replace."""
    from agno.db.base import SessionType

    session_id = request.single_session_id()
    if request.state is None and request.metadata is None and request.args.summary is None:
        usage_error("--update needs --state, --metadata or --summary", "e.g. --update --metadata '{\"k\": 1}'")
    current = await get_session(api, session_id, request.args.user_id)
    summary = {"summary": request.args.summary, "updated_at": now_iso()} if request.args.summary is not None else None
    updated = await api.call_client(
        "update_session",
        idempotent=True,
        session_id=session_id,
        session_type=SessionType(current["session_type"]),
        session_state=merged(current.get("session_state"), request.state, request.args.replace),
        metadata=merged(current.get("metadata"), request.metadata, request.args.replace),
        summary=summary,
        user_id=request.args.user_id,
        db_id=api.settings.db_id,
        table=api.settings.table,
    )
    session_type = current["session_type"]
    return Result("session", {**updated.model_dump(mode="json", exclude_none=True), "session_type": session_type})
