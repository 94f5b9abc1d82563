"""Which sessions: filters, paging, `--all`, and looking sessions up by id.

Every action that works on sessions it did not name one by one asks this module.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from .api import MissingEndpoint, SessionsApi
from .errors import CliError, ExitCode, not_agentos
from .model import detect_session_type, parse_api_time

ALL_PAGE_SIZE = 500
PAGE_CONCURRENCY = 4
LOOKUP_CONCURRENCY = 8

Progress = Callable[[int, int], None]


class Filters(NamedTuple):
    """The session filters shared by listing and bulk deletion."""

    session_type: str | None = None
    component_id: str | None = None
    user_id: str | None = None
    name: str | None = None
    before: int | None = None

    def server_params(self) -> dict[str, str]:
        """Query parameters AgentOS applies itself."""
        params = {"type": self.session_type, "component_id": self.component_id, "user_id": self.user_id}
        if self.name and server_can_prefilter(self.name):
            params["session_name"] = self.name
        return {k: v for k, v in params.items() if v}

    def needs_local_pass(self) -> bool:
        """True when some filter can only be applied here, after fetching."""
        return bool(self.name or self.before is not None)

    def matches(self, session: dict[str, Any]) -> bool:
        """Apply the filters AgentOS cannot apply exactly."""
        if self.name and self.name.casefold() not in (session.get("session_name") or "").casefold():
            return False
        return self.before is None or parse_api_time(session.get("created_at")) < self.before

    def is_empty(self) -> bool:
        return not (self.session_type or self.component_id or self.user_id or self.name or self.before is not None)


def server_can_prefilter(name: str) -> bool:
    """AgentOS's session_name is a LIKE over the stored JSON: usable only to narrow plain ASCII text."""
    return name.isascii() and not re.search(r'[%_"\\]', name)


async def fetch_page(api: SessionsApi, params: dict[str, Any], page: int, limit: int) -> dict[str, Any]:
    """One page of GET /sessions."""
    document = await api.read("/sessions", {**params, "page": page, "limit": limit})
    if not (isinstance(document.get("data"), list) and isinstance(document.get("meta"), dict)):
        raise not_agentos(api.settings.base_url, "GET /sessions")
    return document


async def fetch_all_pages(
    api: SessionsApi, params: dict[str, Any], page_size: int, progress: Progress | None = None
) -> list[dict[str, Any]]:
    """Every page of GET /sessions: the first, then the rest concurrently, in server order."""
    first = await fetch_page(api, params, 1, page_size)
    total_pages = first["meta"].get("total_pages") or 1
    pages: dict[int, list[dict[str, Any]]] = {1: first["data"]}
    gate = asyncio.Semaphore(PAGE_CONCURRENCY)

    async def fetch(page: int) -> None:
        async with gate:
            pages[page] = (await fetch_page(api, params, page, page_size))["data"]
        if progress:
            progress(len(pages), total_pages)

    if progress:
        progress(1, total_pages)
    await asyncio.gather(*(fetch(page) for page in range(2, total_pages + 1)))
    sessions = unique_sessions(session for page in sorted(pages) for session in pages[page])
    total = first["meta"].get("total_count", len(sessions))
    if len(sessions) < total:
        # Rows with equal sort keys have no fixed order (PostgreSQL), so pages can
        # overlap and miss rows: one page holding everything has a single order.
        return (await fetch_page(api, params, 1, total))["data"]
    return sessions


def unique_sessions(sessions: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop rows that appear on two pages."""
    seen: set[str] = set()
    unique = []
    for session in sessions:
        if session["session_id"] not in seen:
            seen.add(session["session_id"])
            unique.append(session)
    return unique


def page_document(sessions: list[dict[str, Any]], page: int, limit: int) -> dict[str, Any]:
    """Slice locally filtered sessions into the API's {data, meta} shape."""
    total = len(sessions)
    return {
        "data": sessions[(page - 1) * limit : page * limit],
        "meta": {"page": page, "limit": limit, "total_pages": -(-total // limit), "total_count": total},
    }


def whole_document(sessions: list[dict[str, Any]]) -> dict[str, Any]:
    """All sessions as one page with the true total."""
    total = len(sessions)
    return {"data": sessions, "meta": {"page": 1, "limit": total, "total_pages": 1, "total_count": total}}


async def find_sessions(
    api: SessionsApi,
    filters: Filters,
    order: dict[str, str],
    progress: Progress | None = None,
    page_size: int = ALL_PAGE_SIZE,
) -> list[dict[str, Any]]:
    """Every session matching the filters, in the requested order."""
    params = {**filters.server_params(), **order}
    sessions = await fetch_all_pages(api, params, page_size, progress)
    return [session for session in sessions if filters.matches(session)]


async def get_session(api: SessionsApi, session_id: str, user_id: str | None = None) -> dict[str, Any]:
    """GET /sessions/{id} with its detected type added as `session_type`."""
    params = {"user_id": user_id} if user_id else {}
    detail = await api.read(f"/sessions/{session_id}", params)
    if "session_id" not in detail:
        raise not_agentos(api.settings.base_url, f"GET /sessions/{session_id}")
    return {**detail, "session_type": detect_session_type(detail)}


async def get_runs(api: SessionsApi, session_id: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """GET /sessions/{id}/runs, oldest first."""
    return await api.read(f"/sessions/{session_id}/runs", params, shape=list)


async def count_runs(api: SessionsApi, session_id: str, params: dict[str, Any] | None = None) -> int:
    """How many runs a session has: from the light /run-previews (AgentOS 3.1), else from /runs."""
    if "run-previews" not in api.missing_endpoints:
        try:
            return len(await api.read(f"/sessions/{session_id}/run-previews", params, shape=list))
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
