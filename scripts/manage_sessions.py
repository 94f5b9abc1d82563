#!/usr/bin/env -S uv run --script
# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "agno[os]>=3.1,<3.2",
#     "httpx>=0.27",
#     "rich>=13",
# ]
#
# [tool.uv]
# # Byte-compile at install: imports stay fast where .pyc files cannot be written later.
# compile-bytecode = true
# ///
"""Manage conversation sessions on an agno AgentOS server.

    manage_sessions.py --base-url http://localhost:7777 --user-id alice@example.com
    manage_sessions.py --session-id abc-123 --show-runs --json
    manage_sessions.py --delete --agent-id researcher --before 2026-01-01 --dry-run

Exit codes: 0 ok, 1 server error or anything unexpected, 2 bad usage or bad input
(nothing sent), 3 not found, 4 authentication or authorization refused, 5 server
unreachable or timed out, 6 conflict, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from enum import IntEnum
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from pathlib import Path

    import httpx
    from agno.client import AgentOSClient
    from rich.console import Console, RenderableType

DEFAULT_BASE_URL = "http://localhost:7777"
SESSION_TYPES = ("agent", "team", "workflow")
# The sessions table's columns: AgentOS sorts by these and silently ignores anything else.
SORT_FIELDS = (
    "created_at",
    "updated_at",
    "session_id",
    "session_type",
    "agent_id",
    "team_id",
    "workflow_id",
    "user_id",
)
RUN_STATUSES = ("CANCELLED", "COMPLETED", "ERROR", "PAUSED", "PENDING", "REGENERATED", "RUNNING")
MAX_ID_LENGTH = 256
MAX_JSON_ARGUMENT = 1_000_000
MAX_UNIX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z
ALL_PAGE_SIZE = 500
PAGE_CONCURRENCY = 4
LOOKUP_CONCURRENCY = 8
DELETE_BATCH_SIZE = 200
RETRY_BASE_DELAY = 0.2
RETRY_MAX_DELAY = 2.0
TABLE_TEXT_LIMIT = 60
PROGRESS_WIDTH = 30
EXPORT_FORMAT = "agentos-session-export/1"
# How each action is asked for on the command line, for messages.
ACTION_FLAGS = {
    "list": "listing (no action flag)",
    "runs": "--show-runs",
    "run": "--run-id",
    "inspect": "--session-id alone",
}
# Flags that only mean something for some actions; elsewhere they are refused, not ignored.
FLAG_ACTIONS = {
    "limit": ("list",),
    "page": ("list",),
    "sort_by": ("list",),
    "sort_order": ("list",),
    "all": ("list", "delete"),
    "type": ("list", "delete"),
    "before": ("list", "delete"),
    "name": ("list", "delete", "create"),
    "status": ("runs",),
    "since": ("runs",),
    "until": ("runs",),
    "state": ("create", "update"),
    "metadata": ("create", "update"),
    "summary": ("update",),
    "replace": ("update",),
    "dry_run": ("delete",),
    "yes": ("delete", "clear"),
    "backup_dir": ("clear",),
}
UNSAFE_ID = re.compile(r"[/?#%\\\s\x00-\x1f\x7f]")


class ExitCode(IntEnum):
    """Process exit codes; documented in --help."""

    OK = 0
    ERROR = 1
    USAGE = 2
    NOT_FOUND = 3
    AUTH = 4
    UNREACHABLE = 5
    CONFLICT = 6
    INTERRUPTED = 130


class CliError(Exception):
    """An expected failure: one line for the user, a hint, and an exit code."""

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.ERROR, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.hint = hint


def usage_error(message: str, hint: str = "see --help") -> NoReturn:
    """Raise the error for bad usage or bad input; nothing has been sent."""
    raise CliError(message, ExitCode.USAGE, hint)


def server_detail(response: httpx.Response) -> str:
    """The server's own explanation of an HTTP error, as one line."""
    try:
        detail = response.json().get("detail", response.reason_phrase)
    except Exception:
        return f"HTTP {response.status_code} {response.reason_phrase}"
    if isinstance(detail, list):
        detail = "; ".join(str(item.get("msg", item)) if isinstance(item, dict) else str(item) for item in detail)
    return " ".join(str(detail).split())


def translate_error(error: Exception, base_url: str) -> CliError:
    """Turn an httpx or agno client exception into a CliError; re-raise anything else."""
    import httpx

    cause = getattr(error, "original_error", None) or error
    if isinstance(cause, httpx.HTTPStatusError):
        return translate_status(cause.response, base_url)
    if is_connection_error(cause):
        return CliError(
            f"cannot reach AgentOS at {base_url}",
            ExitCode.UNREACHABLE,
            "start it with 'uv run scripts/local_agentos.py' or check --base-url / $AGENTOS_URL",
        )
    if isinstance(cause, httpx.TimeoutException):
        return CliError(
            f"request to {base_url} timed out", ExitCode.UNREACHABLE, "raise --timeout or check the server's load"
        )
    if isinstance(cause, httpx.TransportError):
        return CliError(
            f"the connection to {base_url} was lost ({type(cause).__name__})",
            ExitCode.UNREACHABLE,
            "check the server; reads are safe to repeat, check writes before repeating them",
        )
    raise error


def translate_status(response: httpx.Response, base_url: str) -> CliError:
    """Map an HTTP error status to an exit code and a hint."""
    detail = server_detail(response)
    status = response.status_code
    if status == 401:
        hint = (
            "check the key given with --security-key or $AGENTOS_SECURITY_KEY"
            if response.request.headers.get("authorization")
            else "pass --security-key or set $AGENTOS_SECURITY_KEY"
        )
        return CliError(f"AgentOS at {base_url} refused authentication: {detail}", ExitCode.AUTH, hint)
    if status == 403:
        return CliError(
            f"AgentOS at {base_url} refused access: {detail}", ExitCode.AUTH, "the key lacks a scope this call needs"
        )
    if status == 404:
        return CliError(f"{detail} on {base_url}", ExitCode.NOT_FOUND, "list sessions with --user-id or --agent-id")
    if status == 409:
        return CliError(detail, ExitCode.CONFLICT, "choose another --session-id or update the existing session")
    if status < 500:
        return CliError(f"AgentOS rejected the request: {detail}", ExitCode.ERROR, "check the arguments against --help")
    return CliError(f"AgentOS at {base_url} failed: {detail}", ExitCode.ERROR, "see the server's log; retry later")


def is_connection_error(error: BaseException) -> bool:
    """True for errors where the request never reached the server."""
    import httpx

    cause = getattr(error, "original_error", None) or error
    return isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout)


def not_agentos(base_url: str, what: str) -> CliError:
    """The error for an answer that is not what AgentOS sends."""
    return CliError(
        f"{base_url} answered {what} with something AgentOS does not send",
        ExitCode.ERROR,
        "check that --base-url points at an AgentOS 3.1 server",
    )


def has_shape(document: Any, shape: type) -> bool:
    """True for a JSON object, or a list of JSON objects, as asked."""
    if shape is list:
        return isinstance(document, list) and all(isinstance(item, dict) for item in document)
    return isinstance(document, dict)


def unsent_or_unknown(failure: CliError, error: BaseException, idempotent: bool) -> CliError:
    """A write that reached the server may have taken effect: say so instead of 'just retry'."""
    if idempotent or failure.exit_code != ExitCode.UNREACHABLE or is_connection_error(error):
        return failure
    return CliError(failure.message, failure.exit_code, "the server may have acted: check before repeating")


def is_transient(error: BaseException, idempotent: bool) -> bool:
    """True when repeating the request may succeed and cannot do harm."""
    import httpx

    if is_connection_error(error):
        return True
    if not idempotent:
        return False
    if isinstance(error, httpx.HTTPStatusError):
        return error.response.status_code in (502, 503, 504)
    original = getattr(error, "original_error", None)
    return isinstance(original or error, httpx.TransportError)


class Settings(NamedTuple):
    """Where and how to reach AgentOS; built from the common flags."""

    base_url: str
    security_key: str | None
    timeout: float
    retries: int
    db_id: str | None
    table: str | None

    def scope(self) -> dict[str, str]:
        """Query parameters that pick the database and table."""
        return {k: v for k, v in (("db_id", self.db_id), ("table", self.table)) if v}

    def auth_headers(self) -> dict[str, str]:
        """The bearer header, when a key is configured."""
        return {"Authorization": f"Bearer {self.security_key}"} if self.security_key else {}


class SessionsApi:
    """The AgentOS session endpoints, with retries and error translation.

    Reads go through httpx directly: `AgentOSClient.get_sessions()` drops
    `session_state`, `metadata` and `metrics` from list items, and `get_session()`
    raises ValueError for a session that has no agent/team/workflow id. Raw reads
    also keep AgentOS's own field names and skip agno's ~1 s import.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._http: httpx.AsyncClient | None = None
        self._client: AgentOSClient | None = None

    async def __aenter__(self) -> SessionsApi:
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._http is not None:
            await self._http.aclose()
        if self._client is not None:
            from agno.utils.http import aclose_default_clients

            await aclose_default_clients()

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            import httpx

            self._http = httpx.AsyncClient(
                base_url=self.settings.base_url,
                headers=self.settings.auth_headers(),
                timeout=self.settings.timeout,
                limits=httpx.Limits(max_connections=max(PAGE_CONCURRENCY, LOOKUP_CONCURRENCY)),
            )
        return self._http

    @property
    def client(self) -> AgentOSClient:
        if self._client is None:
            from agno.client import AgentOSClient

            self._client = AgentOSClient(base_url=self.settings.base_url, timeout=self.settings.timeout)
        return self._client

    async def attempt(self, call: Callable[[], Awaitable[Any]], idempotent: bool, what: str) -> Any:
        """Run a call, retrying transient failures with bounded exponential backoff."""
        import asyncio

        for attempt in range(self.settings.retries + 1):
            try:
                return await call()
            except ValueError as error:  # JSON that does not parse, or not in AgentOS's schema
                raise not_agentos(self.settings.base_url, what) from error
            except Exception as error:
                if attempt == self.settings.retries or not is_transient(error, idempotent):
                    raise unsent_or_unknown(
                        translate_error(error, self.settings.base_url), error, idempotent
                    ) from error
                await asyncio.sleep(min(RETRY_BASE_DELAY * 2**attempt, RETRY_MAX_DELAY))
        raise AssertionError("unreachable")

    async def read(self, path: str, params: dict[str, Any] | None = None, shape: type = dict) -> Any:
        """GET a JSON document of the given shape (an object, or a list of objects)."""

        async def call() -> Any:
            response = await self.http.get(path, params={**self.settings.scope(), **(params or {})})
            response.raise_for_status()
            return response.json()

        document = await self.attempt(call, idempotent=True, what=f"GET {path}")
        if not has_shape(document, shape):
            raise not_agentos(self.settings.base_url, f"GET {path}")
        return document

    async def write(
        self, method: str, path: str, body: dict[str, Any], idempotent: bool, params: dict[str, str] | None = None
    ) -> Any:
        """Send a JSON body with a method the client library lacks a faithful call for."""

        async def call() -> Any:
            query = {**self.settings.scope(), **(params or {})}
            response = await self.http.request(method, path, json=body, params=query)
            response.raise_for_status()
            return response.json() if response.content else None

        document = await self.attempt(call, idempotent=idempotent, what=f"{method} {path}")
        if document is not None and not isinstance(document, dict):
            raise not_agentos(self.settings.base_url, f"{method} {path}")
        return document

    async def call_client(self, method: str, idempotent: bool, **kwargs: Any) -> Any:
        """Call an AgentOSClient method with the auth header, scope and retries."""
        bound = getattr(self.client, method)
        kwargs.setdefault("headers", self.settings.auth_headers())
        return await self.attempt(lambda: bound(**kwargs), idempotent=idempotent, what=method.replace("_", " "))


class Result(NamedTuple):
    """What an action produced: a kind the renderers know, and its data."""

    kind: str
    data: Any
    exit_code: ExitCode = ExitCode.OK
    note: str = ""


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


def parse_api_time(value: Any) -> int:
    """AgentOS times come as ISO strings or Unix seconds; return Unix seconds."""
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str) and value:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    return 0


def detect_session_type(detail: dict[str, Any]) -> str:
    """Tell the session type from the shape of GET /sessions/{id}."""
    if "agent_id" in detail or "agent_session_id" in detail:
        return "agent"
    if "workflow_id" in detail or "workflow_data" in detail or "chat_history" not in detail:
        return "workflow"
    return "team"


def component_of(session: dict[str, Any]) -> str:
    """The agent, team or workflow id a session belongs to, or ''."""
    return session.get("agent_id") or session.get("team_id") or session.get("workflow_id") or ""


async def fetch_page(api: SessionsApi, params: dict[str, Any], page: int, limit: int) -> dict[str, Any]:
    """One page of GET /sessions."""
    document = await api.read("/sessions", {**params, "page": page, "limit": limit})
    if not (isinstance(document.get("data"), list) and isinstance(document.get("meta"), dict)):
        raise not_agentos(api.settings.base_url, "GET /sessions")
    return document


async def fetch_all_pages(
    api: SessionsApi, params: dict[str, Any], page_size: int, progress: Callable[[int, int], None] | None = None
) -> list[dict[str, Any]]:
    """Every page of GET /sessions: the first, then the rest concurrently, in server order."""
    import asyncio

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
    progress: Callable[[int, int], None] | None = None,
    page_size: int = ALL_PAGE_SIZE,
) -> list[dict[str, Any]]:
    """Every session matching the filters, in the requested order."""
    params = {**filters.server_params(), **order}
    sessions = await fetch_all_pages(api, params, page_size, progress)
    return [session for session in sessions if filters.matches(session)]


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


async def inspect_session(api: SessionsApi, request: Request) -> Result:
    """One session's properties and its number of runs."""
    import asyncio

    session_id = request.single_session_id()
    detail, previews = await asyncio.gather(
        get_session(api, session_id, request.args.user_id),
        api.read(f"/sessions/{session_id}/run-previews", request.user_params(), shape=list),
    )
    return Result("session", {**detail, "run_count": len(previews)})


async def show_runs(api: SessionsApi, request: Request) -> Result:
    """The runs of one session, filtered by status and time."""
    session_id = request.single_session_id()
    params = {**request.user_params(), **request.run_filters()}
    return Result("runs", {"session_id": session_id, "data": await get_runs(api, session_id, params)})


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


def now_iso() -> str:
    """The current time as AgentOS writes it."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    import asyncio

    gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)

    async def lookup(session_id: str) -> dict[str, Any] | None:
        async with gate:
            return await find_session(api, session_id, user_id)

    found = await asyncio.gather(*(lookup(session_id) for session_id in session_ids))
    existing = [session for session in found if session is not None]
    missing = [session_id for session_id, session in zip(session_ids, found, strict=True) if session is None]
    return existing, missing


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
    """Delete sessions by id, or every session matching the filters."""
    args = request.args
    if args.session_id:
        sessions, missing = await lookup_sessions(api, request.session_ids(), args.user_id)
    else:
        request.check_bulk_delete_scope()
        sessions, missing = await find_sessions(api, request.filters, {}, request.progress), []
        if args.dry_run:
            return Result("dry_run", whole_document(sessions))
        request.check_bulk_delete_confirmed(len(sessions))
    if args.dry_run:
        return Result("dry_run", whole_document(sessions), note=missing_note(missing))
    deleted = await delete_in_batches(api, sessions, args.user_id)
    outcome = {"deleted": deleted, "not_found": missing}
    return Result("deleted", outcome, ExitCode.NOT_FOUND if missing else ExitCode.OK, missing_note(missing))


def missing_note(missing: list[str]) -> str:
    """The stderr line for ids that did not exist."""
    if not missing:
        return ""
    return f"not found (nothing deleted for them): {', '.join(missing)}"


async def export_session(api: SessionsApi, session_id: str, user_id: str | None) -> dict[str, Any]:
    """The session and all its runs as one JSON document (the clear backup format)."""
    import asyncio

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
    from pathlib import Path

    if request.args.export != "-":
        check_destination(Path(request.args.export), "--export")
    document = await export_session(api, request.single_session_id(), request.args.user_id)
    if request.args.export == "-":
        return Result("document", document)
    from pathlib import Path

    path = Path(request.args.export)
    write_document(document, path)
    summary = {"session_id": document["session"]["session_id"], "runs": len(document["runs"]), "path": str(path)}
    return Result("exported", summary)


def default_backup_path(session_id: str) -> Path:
    """Where --clear keeps its backup unless --backup-dir says otherwise."""
    from pathlib import Path

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return Path(f"agentos-backup-{session_id}-{stamp}.json")


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
    backup = request.backup_path(session_id)
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
    from pathlib import Path

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


class ChatTarget(NamedTuple):
    """Where a chat message goes."""

    kind: str
    component_id: str
    session_id: str
    user_id: str | None
    new_session: bool


async def chat_target(api: SessionsApi, request: Request) -> ChatTarget:
    """Pick the agent or team, session and user for a chat message."""
    import uuid

    args = request.args
    session_id = request.optional_session_id()
    given = args.team_id or args.agent_id
    session = await find_session(api, session_id, args.user_id) if session_id else None
    if session is not None:
        owner = component_of(session)
        if session["session_type"] == "workflow" or not owner:
            usage_error(f"session '{session_id}' has no agent or team to chat with", "chat in an agent or team session")
        if given and given != owner:
            usage_error(f"session '{session_id}' belongs to '{owner}', not '{given}'", "drop --agent-id/--team-id")
        # AgentOS refuses a run into a session without its owner's user_id.
        return ChatTarget(session["session_type"], owner, session_id, args.user_id or session.get("user_id"), False)
    if not given:
        usage_error("--chat needs --session-id of an existing session, or --agent-id/--team-id", "see --help")
    kind = "team" if args.team_id else "agent"
    return ChatTarget(kind, given, session_id or str(uuid.uuid4()), args.user_id, True)


def open_run_stream(api: SessionsApi, target: ChatTarget, message: str) -> Any:
    """Start a streamed agent or team run through AgentOSClient."""
    team = target.kind == "team"
    return getattr(api.client, "run_team_stream" if team else "run_agent_stream")(
        **{"team_id" if team else "agent_id": target.component_id},
        message=message,
        session_id=target.session_id,
        user_id=target.user_id,
        headers=api.settings.auth_headers(),
    )


def broken_stream(error: Exception, reply: ChatReply, base_url: str) -> CliError:
    """The error for a run whose stream failed, with what had arrived."""
    failure = translate_error(error, base_url)
    if not reply.content:
        return failure
    message = f"the reply stream broke: {failure.message}; received so far: {reply.content!r}"
    return CliError(message, failure.exit_code, "check --show-runs before sending the message again")


async def stream_reply(api: SessionsApi, target: ChatTarget, request: Request) -> ChatReply:
    """Run the message once; retry only when it never reached the server."""
    import asyncio

    prefix = "TeamRun" if target.kind == "team" else "Run"
    for attempt in range(api.settings.retries + 1):
        reply = ChatReply(target.session_id)
        try:
            async for event in open_run_stream(api, target, request.args.chat):
                reply.take(event, prefix, request.on_chunk)
            return reply
        except Exception as error:
            if reply.chunks or attempt == api.settings.retries or not is_connection_error(error):
                raise broken_stream(error, reply, api.settings.base_url) from error
            await asyncio.sleep(min(RETRY_BASE_DELAY * 2**attempt, RETRY_MAX_DELAY))
    raise AssertionError("unreachable")


async def chat(api: SessionsApi, request: Request) -> Result:
    """Send one message in a session and collect (and optionally stream) the reply."""
    target = await chat_target(api, request)
    reply = await stream_reply(api, target, request)
    if reply.error:
        raise CliError(f"the run failed on the server: {reply.error}", ExitCode.ERROR, "see the server's log")
    if not reply.completed:
        raise CliError(
            f"the reply stream ended early; received: {reply.content!r}", ExitCode.UNREACHABLE, "send the message again"
        )
    note = f"started session {target.session_id}" if target.new_session else ""
    return Result("chat", reply.document(), note=note)


class ChatReply:
    """The reply to a chat message, assembled from streamed events."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.run_id: str | None = None
        self.chunks: list[str] = []
        self.final: str | None = None
        self.completed = False
        self.error: str | None = None

    @property
    def content(self) -> str:
        return self.final if self.final is not None else "".join(self.chunks)

    def take(self, event: Any, prefix: str, on_chunk: Callable[[str], None] | None) -> None:
        """Record one streamed event of the top-level run."""
        name = getattr(event, "event", "")
        if name == f"{prefix}Content" and isinstance(event.content, str):
            self.run_id = self.run_id or event.run_id
            self.chunks.append(event.content)
            if on_chunk:
                on_chunk(event.content)
        elif name == f"{prefix}Completed":
            self.run_id, self.completed = event.run_id or self.run_id, True
            self.final = event.content if isinstance(event.content, str) else None
        elif name == f"{prefix}Error":
            self.error = str(event.content)

    def document(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "run_id": self.run_id, "content": self.content}


def shorten(text: Any, limit: int = TABLE_TEXT_LIMIT) -> str:
    """One line of at most `limit` characters for a table cell."""
    flat = " ".join(str(text if text is not None else "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def format_time(value: Any) -> str:
    """ISO time for a table, whatever form AgentOS sent."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value or "")


def compact_json(value: Any) -> str:
    """A JSON value on one line, for a table cell."""
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": ")) if value not in (None, {}) else ""


def new_table(*columns: str, title: str | None = None) -> Any:
    """A table with the house look; long ids never wrap."""
    from rich.table import Table

    table = Table(*columns, title=title, title_justify="left", header_style="bold", box=None, pad_edge=False)
    for column in table.columns:
        column.no_wrap = True
    return table


def sessions_table(document: dict[str, Any]) -> RenderableType:
    """The session list as a table."""
    meta = document.get("meta", {})
    title = f"Sessions (page {meta.get('page', 1)} of {meta.get('total_pages', 1)}, {meta.get('total_count', 0)} total)"
    table = new_table("Session ID", "Name", "Type", "Component", "User", "Created", "Updated", title=title)
    for session in document["data"]:
        table.add_row(
            session["session_id"],
            session.get("session_name") or "",
            session.get("session_type", ""),
            component_of(session),
            session.get("user_id") or "",
            format_time(session.get("created_at")),
            format_time(session.get("updated_at")),
        )
    return table


def field_table(rows: Iterable[tuple[str, Any]], title: str | None = None) -> RenderableType:
    """Two columns, a property and its value."""
    table = new_table("Field", "Value", title=title)
    for name, value in rows:
        table.add_row(name, value if isinstance(value, str) else compact_json(value) or str(value or ""))
    return table


def session_rows(session: dict[str, Any]) -> list[tuple[str, Any]]:
    """The properties shown for one session."""
    summary = session.get("session_summary") or {}
    rows = [
        ("session_id", session.get("session_id", "")),
        ("session_name", session.get("session_name") or ""),
        ("session_type", session.get("session_type", "")),
        ("component_id", component_of(session)),
        ("user_id", session.get("user_id") or ""),
        ("created_at", format_time(session.get("created_at"))),
        ("updated_at", format_time(session.get("updated_at"))),
        ("session_state", compact_json(session.get("session_state"))),
        ("metadata", compact_json(session.get("metadata"))),
        ("summary", summary.get("summary", "") if isinstance(summary, dict) else str(summary)),
    ]
    extras = ("run_count", "runs_removed", "runs_not_restored", "backup")
    return rows + [(key, str(session[key])) for key in extras if key in session]


def runs_table(document: dict[str, Any]) -> RenderableType:
    """The runs of a session, oldest first."""
    table = new_table("Run ID", "Status", "Created", "Input", "Output", title=f"Runs of {document['session_id']}")
    for run in document["data"]:
        table.add_row(
            run.get("run_id", ""),
            run.get("status", ""),
            format_time(run.get("created_at")),
            shorten(run_input_text(run)),
            shorten(run.get("content")),
        )
    return table


def run_input_text(run: dict[str, Any]) -> str:
    """The user's input of a run, whichever field carries it."""
    value = run.get("run_input")
    if isinstance(value, dict):
        value = value.get("input_content", value)
    return value if isinstance(value, str) else compact_json(value)


def run_view(run: dict[str, Any]) -> RenderableType:
    """One run: its properties, then its messages."""
    from rich.console import Group

    rows = [
        ("run_id", run.get("run_id", "")),
        ("status", run.get("status", "")),
        ("created_at", format_time(run.get("created_at"))),
        ("component_id", component_of(run)),
        ("user_id", run.get("user_id") or ""),
        ("input", shorten(run_input_text(run), 200)),
        ("output", shorten(run.get("content"), 200)),
        ("metrics", compact_json(run.get("metrics"))),
    ]
    messages = new_table("Role", "Content", title="Messages")
    for message in run.get("messages") or []:
        messages.add_row(message.get("role", ""), shorten(message.get("content"), 100))
    return Group(field_table(rows), messages)


def outcome_table(outcome: dict[str, list[str]]) -> RenderableType:
    """What a deletion did, id by id."""
    table = new_table("Session ID", "Outcome")
    for session_id in outcome["deleted"]:
        table.add_row(session_id, "deleted")
    for session_id in outcome["not_found"]:
        table.add_row(session_id, "not found")
    return table


def dry_run_table(document: dict[str, Any]) -> RenderableType:
    """The sessions a deletion would remove."""
    table = sessions_table(document)
    table.title = f"Dry run: would delete {len(document['data'])} session(s); nothing was deleted"
    return table


TABLE_RENDERERS: dict[str, Callable[[Any], RenderableType | str]] = {
    "sessions": sessions_table,
    "dry_run": dry_run_table,
    "session": lambda session: field_table(session_rows(session)),
    "cleared": lambda session: field_table(session_rows(session), title="Session cleared"),
    "runs": runs_table,
    "run": run_view,
    "deleted": outcome_table,
    "exported": lambda summary: (
        f"exported session {summary['session_id']} ({summary['runs']} runs) to {summary['path']}"
    ),
    "document": lambda document: json.dumps(document, indent=2, ensure_ascii=False),
    "chat": lambda reply: reply["content"],
    "chat_streamed": lambda _reply: "",
}


def json_document(result: Result) -> Any:
    """The --json form of a result: AgentOS's own field names."""
    if result.kind == "runs":
        return result.data["data"]
    return result.data


def stdout_console() -> Console:
    """Rich tables on a terminal; in a pipe, never cut or wrap a row."""
    from rich.console import Console

    # Names, inputs and outputs come from the API: never read them as markup or emoji codes.
    plain_text = {"markup": False, "emoji": False, "highlight": False}
    if sys.stdout.isatty():
        return Console(**plain_text)
    width = int(os.environ["COLUMNS"]) if os.environ.get("COLUMNS", "").isdigit() else 100_000
    return Console(width=width, no_color=True, soft_wrap=False, **plain_text)


def emit(result: Result, as_json: bool) -> None:
    """Write a result to stdout: JSON for programs, a table for people."""
    if as_json:
        sys.stdout.write(json.dumps(json_document(result), indent=2, ensure_ascii=False) + "\n")
    else:
        rendered = TABLE_RENDERERS[result.kind](result.data)
        if isinstance(rendered, str):
            sys.stdout.write(rendered + "\n")
        else:
            stdout_console().print(rendered)
    sys.stdout.flush()
    if result.note:
        print(result.note, file=sys.stderr)


def emit_error(error: CliError, as_json: bool) -> None:
    """One line on stderr: plain, or a JSON object for --json."""
    if as_json:
        line = json.dumps({"error": error.message, "hint": error.hint, "exit_code": int(error.exit_code)})
    else:
        line = f"error: {error.message}" + (f" ({error.hint})" if error.hint else "")
    print(" ".join(line.split()), file=sys.stderr)


class Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as a CliError, in one line."""

    def error(self, message: str) -> NoReturn:
        prefix = "unrecognized arguments: "
        if message.startswith(prefix):
            # Values are not echoed: a mistyped flag may be followed by a secret.
            flags = [token for token in message.removeprefix(prefix).split() if token.startswith("-")]
            message = f"{prefix}{' '.join(flags) or '(values not shown)'}"
        usage_error(message, "see --help")


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def non_negative_int(text: str) -> int:
    """An argparse type: an integer >= 0."""
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 0, got {text!r}")
    return int(text)


def positive_seconds(text: str) -> float:
    """An argparse type: a finite number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 86_400:
        raise argparse.ArgumentTypeError(f"expected seconds between 0 and 86400, got {text!r}")
    return value


def run_status(text: str) -> str:
    """An argparse type: one of AgentOS's run statuses, any case."""
    if text.upper() not in RUN_STATUSES:
        raise argparse.ArgumentTypeError(f"unknown run status {text!r}; choose from {', '.join(RUN_STATUSES)}")
    return text.upper()


def sort_field(text: str) -> str:
    """An argparse type: a field AgentOS can sort sessions by."""
    if text not in SORT_FIELDS:
        raise argparse.ArgumentTypeError(f"cannot sort by {text!r}; choose from {', '.join(SORT_FIELDS)}")
    return text


def point_in_time(text: str) -> int:
    """An argparse type: ISO 8601 date-time (UTC unless it says) or Unix seconds."""
    if re.fullmatch(r"\d+(\.\d+)?", text.strip()):
        seconds = float(text)
        if seconds > MAX_UNIX_SECONDS:
            raise argparse.ArgumentTypeError(f"{text[:20]!r}... is too far in the future to be a date")
        return int(seconds)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"cannot read {text!r} as a date; use ISO 8601 (2026-11-28T14:00:00Z) or Unix seconds"
        ) from None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())


def refuse_constant(name: str) -> float:
    """json.loads hook: NaN and Infinity are not JSON and AgentOS cannot store them."""
    raise argparse.ArgumentTypeError(f"invalid JSON ({name} is not a JSON number)")


def finite_float(text: str) -> float:
    """json.loads hook: a number too large for a float is refused, not turned into infinity."""
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"invalid JSON (number {text[:20]} is too large)")
    return value


def json_object(text: str) -> dict[str, Any]:
    """An argparse type: a JSON object of bounded size."""
    if len(text) > MAX_JSON_ARGUMENT:
        raise argparse.ArgumentTypeError(f"JSON argument is larger than {MAX_JSON_ARGUMENT} characters")
    try:
        value = json.loads(text, parse_constant=refuse_constant, parse_float=finite_float)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"invalid JSON ({error.msg} at position {error.pos})") from None
    except RecursionError:
        raise argparse.ArgumentTypeError("invalid JSON (nested too deeply)") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f'expected a JSON object like \'{{"key": "value"}}\', got {text[:40]!r}')
    return value


def checked_id(value: str, flag: str) -> str:
    """Refuse ids that could steer a request to another path (nothing is sent)."""
    if not value or len(value) > MAX_ID_LENGTH or UNSAFE_ID.search(value) or value in (".", ".."):
        usage_error(
            f"{flag} {value[:60]!r} is not a usable id",
            f"ids are 1-{MAX_ID_LENGTH} characters without '/', '?', '#', '%', '\\', spaces or control characters",
        )
    return value


EPILOG = """\
examples:
  %(prog)s --base-url http://localhost:7777                      list the newest sessions
  %(prog)s --agent-id researcher --user-id alice@example.com     filter the list
  %(prog)s --name research --sort-by updated_at --all --json     every matching session as JSON
  %(prog)s --session-id abc-123                                  inspect one session
  %(prog)s --session-id abc-123 --show-runs --status completed   its runs
  %(prog)s --session-id abc-123 --run-id r-1 --json              one run, whole
  %(prog)s --create --agent-id my-agent --user-id alice --name "Research Chat"
  %(prog)s --session-id abc-123 --rename "New Name"
  %(prog)s --session-id abc-123 --update --metadata '{"tag": "x"}'
  %(prog)s --session-id abc-123 --delete
  %(prog)s --delete --user-id bob --before 2026-01-01 --dry-run  what a bulk delete would remove
  %(prog)s --session-id abc-123 --clear --yes                    drop the runs, keep the session
  %(prog)s --session-id abc-123 --export backup.json
  %(prog)s --restore backup.json
  %(prog)s --agent-id assistant --chat "My name is Alice."

exit codes:
  0 ok   1 server error or unexpected   2 bad usage or input (nothing sent)   3 not found
  4 authentication/authorization refused   5 server unreachable or timed out   6 conflict
  130 interrupted

environment:
  AGENTOS_URL            default for --base-url
  AGENTOS_SECURITY_KEY   default for --security-key (else OS_SECURITY_KEY)
"""


def build_parser() -> Parser:
    """The command line; no side effects."""
    parser = Parser(
        prog="manage_sessions.py",
        description="List, inspect, create, rename, update, clear, export and delete AgentOS sessions.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    connection = parser.add_argument_group("connection")
    connection.add_argument("--base-url", help=f"AgentOS URL (default $AGENTOS_URL or {DEFAULT_BASE_URL})")
    connection.add_argument("--security-key", help="bearer key (default $AGENTOS_SECURITY_KEY, else $OS_SECURITY_KEY)")
    connection.add_argument("--timeout", type=positive_seconds, default=30.0, help="seconds per request (default 30)")
    connection.add_argument("--retries", type=non_negative_int, default=2, help="retries of safe requests (default 2)")
    connection.add_argument("--db-id", help="database id, for an AgentOS with several databases")
    connection.add_argument("--table", help="sessions table name (needs --db-id)")
    connection.add_argument(
        "--allow-insecure", action="store_true", help="allow sending the key over plain http to a remote host"
    )
    connection.add_argument("--json", action="store_true", help="print one JSON document on stdout")

    actions = parser.add_argument_group("actions (default: list sessions)").add_mutually_exclusive_group()
    actions.add_argument("--show-runs", action="store_true", help="list the runs of --session-id")
    actions.add_argument("--create", action="store_true", help="create a session (--agent-id/--team-id/--workflow-id)")
    actions.add_argument("--rename", metavar="NAME", help="rename --session-id")
    actions.add_argument("--update", action="store_true", help="update --state/--metadata/--summary of --session-id")
    actions.add_argument("--delete", action="store_true", help="delete --session-id(s), or every session matching")
    actions.add_argument("--clear", action="store_true", help="remove all runs of --session-id, keep the session")
    actions.add_argument("--export", metavar="FILE", help="write --session-id and its runs as JSON ('-' = stdout)")
    actions.add_argument("--restore", metavar="FILE", help="re-create a session from an --export/--clear file")
    actions.add_argument("--chat", metavar="MESSAGE", help="send MESSAGE to the session's agent or team")

    selection = parser.add_argument_group("selection")
    selection.add_argument("--session-id", action="append", metavar="ID", help="a session (repeat with --delete)")
    selection.add_argument("--run-id", metavar="RUN", help="show one run of --session-id")
    selection.add_argument("--agent-id", help="filter by, or create for, this agent")
    selection.add_argument("--team-id", help="filter by, or create for, this team")
    selection.add_argument("--workflow-id", help="filter by, or create for, this workflow")
    selection.add_argument("--user-id", help="filter by, or create for, this user (exact)")
    selection.add_argument("--type", choices=SESSION_TYPES, help="only sessions of this type")
    selection.add_argument("--name", help="name: a filter (case-insensitive part), or the name given by --create")
    selection.add_argument("--before", type=point_in_time, metavar="DATE", help="only sessions created before DATE")

    listing = parser.add_argument_group("listing")
    listing.add_argument("--limit", type=positive_int, help="sessions per page (default 20)")
    listing.add_argument("--page", type=positive_int, help="page number, from 1 (default 1)")
    listing.add_argument("--all", action="store_true", help="every page; with --delete, allow an unfiltered delete")
    listing.add_argument("--sort-by", type=sort_field, help=f"one of {', '.join(SORT_FIELDS)} (default created_at)")
    listing.add_argument("--sort-order", choices=("asc", "desc"), help="default desc (newest first)")

    runs = parser.add_argument_group("runs")
    runs.add_argument("--status", type=run_status, action="append", help="only runs with this status (repeatable)")
    runs.add_argument("--since", type=point_in_time, metavar="DATE", help="only runs created at or after DATE")
    runs.add_argument("--until", type=point_in_time, metavar="DATE", help="only runs created at or before DATE")

    values = parser.add_argument_group("values for --create and --update")
    values.add_argument("--state", type=json_object, metavar="JSON", help="session state, a JSON object")
    values.add_argument("--metadata", type=json_object, metavar="JSON", help="metadata, a JSON object")
    values.add_argument("--summary", metavar="TEXT", help="session summary text (--update)")
    values.add_argument("--replace", action="store_true", help="with --update: replace state/metadata, do not merge")

    safety = parser.add_argument_group("safety")
    safety.add_argument("--yes", action="store_true", help="confirm a bulk --delete or a --clear")
    safety.add_argument("--dry-run", action="store_true", help="with --delete: show what would go, delete nothing")
    safety.add_argument("--backup-dir", metavar="DIR", help="where --clear writes its backup (default: current dir)")
    return parser


def owner_type(args: argparse.Namespace) -> str | None:
    """Which of --agent-id, --team-id, --workflow-id was given (at most one)."""
    owners = [kind for kind in SESSION_TYPES if getattr(args, f"{kind}_id")]
    if len(owners) > 1:
        usage_error("give only one of --agent-id, --team-id, --workflow-id", "a session has one owner")
    return owners[0] if owners else None


class Request(NamedTuple):
    """The parsed command line, checked, with what the actions need from it."""

    args: argparse.Namespace
    filters: Filters
    progress: Callable[[int, int], None] | None = None
    on_chunk: Callable[[str], None] | None = None

    @property
    def state(self) -> dict[str, Any] | None:
        return self.args.state

    @property
    def metadata(self) -> dict[str, Any] | None:
        return self.args.metadata

    def session_ids(self) -> list[str]:
        return [checked_id(value, "--session-id") for value in self.args.session_id or []]

    def single_session_id(self) -> str:
        ids = self.session_ids()
        if len(ids) != 1:
            usage_error("this action needs exactly one --session-id", "pass --session-id ID once")
        return ids[0]

    def optional_session_id(self) -> str | None:
        return self.single_session_id() if self.args.session_id else None

    def order(self) -> dict[str, str]:
        return {"sort_by": self.args.sort_by or "created_at", "sort_order": self.args.sort_order or "desc"}

    def user_params(self) -> dict[str, str]:
        return {"user_id": self.args.user_id} if self.args.user_id else {}

    def scope_kwargs(self) -> dict[str, Any]:
        return {"user_id": self.args.user_id, "db_id": self.args.db_id, "table": self.args.table}

    def run_filters(self) -> dict[str, Any]:
        params: dict[str, Any] = {"status": self.args.status}
        params["created_after"], params["created_before"] = self.args.since, self.args.until
        return {key: value for key, value in params.items() if value is not None}

    def backup_path(self, session_id: str) -> Path:
        path = default_backup_path(session_id)
        return path.parent / self.args.backup_dir / path.name if self.args.backup_dir else path

    def confirm(self, what: str) -> None:
        """Go on with --yes, or after 'yes' typed at a terminal; otherwise refuse."""
        if self.args.yes:
            return
        if sys.stdin.isatty() and sys.stderr.isatty():
            print(f"About to {what}. Type 'yes' to go on: ", end="", file=sys.stderr, flush=True)
            if sys.stdin.readline().strip().lower() == "yes":
                return
        usage_error(f"refusing to {what} without confirmation", "add --yes to confirm")

    def check_bulk_delete_scope(self) -> None:
        if self.filters.is_empty() and not self.args.all:
            usage_error(
                "--delete without --session-id or a filter would delete every session",
                "add filters (--agent-id, --user-id, --type, --name, --before) or --all --yes",
            )

    def check_bulk_delete_confirmed(self, count: int) -> None:
        if not self.args.yes:
            usage_error(f"{count} session(s) match; nothing deleted", "check them with --dry-run, then add --yes")


ACTIONS: dict[str, Callable[[SessionsApi, Request], Awaitable[Result]]] = {
    "list": list_sessions,
    "inspect": inspect_session,
    "runs": show_runs,
    "run": show_run,
    "create": create_session,
    "rename": rename_session,
    "update": update_session,
    "delete": delete_sessions,
    "clear": clear_session,
    "export": export_to_file,
    "restore": restore_session,
    "chat": chat,
}


def choose_action(args: argparse.Namespace) -> str:
    """The one action the flags ask for."""
    flagged = {
        "create": args.create,
        "rename": args.rename is not None,
        "update": args.update,
        "delete": args.delete,
        "clear": args.clear,
        "export": args.export is not None,
        "restore": args.restore is not None,
        "chat": args.chat is not None,
        "runs": args.show_runs,
    }
    chosen = next((name for name, on in flagged.items() if on), None)
    if args.run_id is not None and chosen not in (None, "runs"):
        usage_error("--run-id only goes with --session-id (and optionally --show-runs)")
    if args.run_id is not None and chosen in (None, "runs"):
        return "run"
    if chosen:
        return chosen
    return "inspect" if args.session_id else "list"


def resolve_settings(args: argparse.Namespace) -> Settings:
    """Connection settings from flags and environment, checked before anything is sent."""
    given_url = args.base_url if args.base_url is not None else os.environ.get("AGENTOS_URL") or DEFAULT_BASE_URL
    base_url = given_url.rstrip("/")
    key = args.security_key or os.environ.get("AGENTOS_SECURITY_KEY") or os.environ.get("OS_SECURITY_KEY") or None
    check_base_url(base_url)
    if key is not None and not re.fullmatch(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?", key):
        usage_error(
            "the security key has non-ASCII, control or surrounding space characters and cannot be sent",
            "check --security-key / $AGENTOS_SECURITY_KEY / $OS_SECURITY_KEY for a pasted newline or quote",
        )
    if key and urlsplit(base_url).scheme == "http" and not is_loopback(base_url) and not args.allow_insecure:
        usage_error(
            f"refusing to send the security key over plain http to {base_url}",
            "use https, or pass --allow-insecure if the network is trusted",
        )
    if args.table and not args.db_id:
        usage_error("--table needs --db-id", "AgentOS picks a table only within a named database")
    return Settings(base_url, key, args.timeout, args.retries, args.db_id, args.table)


def check_base_url(base_url: str) -> None:
    """Accept only http(s)://host[:port][/path] without spaces, credentials, query or fragment."""
    try:
        parts = urlsplit(base_url)
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        parts, port_ok = urlsplit(""), False
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or not port_ok
        or re.search(r"\s", base_url)
        or parts.query
        or parts.fragment
        or "@" in parts.netloc
    ):
        usage_error(f"--base-url {base_url[:80]!r} is not an http(s) URL", "e.g. --base-url http://localhost:7777")


def is_loopback(base_url: str) -> bool:
    """True when the URL's host is this machine."""
    import ipaddress

    host = urlsplit(base_url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_request(args: argparse.Namespace, action: str, as_json: bool) -> Request:
    """Check flag combinations for the action and gather the filters."""
    if action in ("rename", "update", "clear", "export", "runs", "run", "inspect") and not args.session_id:
        usage_error("this action needs --session-id", "find ids by listing sessions")
    if args.session_id and len(args.session_id) > 1 and action != "delete":
        usage_error("only --delete takes several --session-id values", "pass --session-id once")
    check_flags_fit(args, action)
    owner = owner_type(args) if action in ("list", "delete", "create", "chat") else None
    if owner and args.type and owner != args.type and action in ("list", "delete"):
        usage_error(f"--{owner}-id selects {owner} sessions but --type is {args.type}", "drop one of them")
    if action == "create" and not owner:
        usage_error("--create needs --agent-id, --team-id or --workflow-id", "e.g. --create --agent-id assistant")
    component_id = getattr(args, f"{owner}_id") if owner else None
    name = args.name if action != "create" else None
    filters = Filters(args.type, component_id, args.user_id, name, args.before)
    return Request(args, filters, *feedback_for(action, as_json))


def check_flags_fit(args: argparse.Namespace, action: str) -> None:
    """Refuse flags the chosen action would silently ignore."""
    for name, actions in FLAG_ACTIONS.items():
        if getattr(args, name) not in (None, False) and action not in actions:
            flag = "--" + name.replace("_", "-")
            allowed = ", ".join(ACTION_FLAGS.get(name, f"--{name}") for name in actions)
            usage_error(f"{flag} does not apply to {ACTION_FLAGS.get(action, f'--{action}')}", f"use it with {allowed}")


def feedback_for(action: str, as_json: bool) -> tuple[Callable[[int, int], None] | None, Callable[[str], None] | None]:
    """A progress bar and live chat output, only where a person is watching."""
    progress = progress_printer() if action in ("list", "delete") and sys.stderr.isatty() else None
    on_chunk = print_chunk if action == "chat" and not as_json and sys.stdout.isatty() else None
    return progress, on_chunk


def print_chunk(text: str) -> None:
    """Show part of a streamed reply at once."""
    sys.stdout.write(text)
    sys.stdout.flush()


def progress_printer() -> Callable[[int, int], None]:
    """A bar of fetched pages on stderr, redrawn in place."""

    def show(done: int, total: int) -> None:
        if total > 1:
            filled = PROGRESS_WIDTH * done // total
            bar = "#" * filled + "." * (PROGRESS_WIDTH - filled)
            end = "\n" if done >= total else ""
            print(f"\rfetching sessions [{bar}] {done}/{total} pages", end=end, file=sys.stderr, flush=True)

    return show


async def run(action: str, settings: Settings, request: Request) -> Result:
    """Open the API once and run the action."""
    async with SessionsApi(settings) as api:
        result = await ACTIONS[action](api, request)
    if action == "chat" and request.on_chunk:
        return result._replace(kind="chat_streamed")
    return result


def main(argv: list[str] | None = None) -> int:
    """Parse, run one action, print its result; return the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    as_json = "--json" in argv
    try:
        args = build_parser().parse_args(argv)
        action = choose_action(args)
        settings = resolve_settings(args)
        request = build_request(args, action, as_json)
        import asyncio

        result = asyncio.run(run(action, settings, request))
    except CliError as error:
        emit_error(error, as_json)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    emit(result, as_json)
    return result.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
