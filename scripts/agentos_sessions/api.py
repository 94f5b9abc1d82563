"""Talking to AgentOS: connection settings, the HTTP endpoints over httpx and `AgentOSClient`,
retries, and the one place where transport and HTTP errors become `CliError`.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

import httpx

from .errors import CliError, ExitCode, not_agentos

if TYPE_CHECKING:
    from agno.client import AgentOSClient

RETRY_BASE_DELAY = 0.2
RETRY_MAX_DELAY = 2.0
# The most one answer (a page, a session's runs, a whole chat stream) may hold; more is refused,
# so a wrong or hostile server cannot exhaust memory. A long session's runs are a few MB.
MAX_ANSWER_BYTES = 128 * 1024 * 1024
# How much of the server's own error text a message quotes.
MAX_DETAIL_CHARS = 500
GATEWAY_STATUSES = (502, 504)
ACTED_HINT = "the server may have acted: check before repeating"


class AnswerTooLarge(Exception):
    """An answer grew past MAX_ANSWER_BYTES; raised while it is read."""


class CappedStream(httpx.AsyncByteStream):
    """A response body that stops with AnswerTooLarge once it passes `limit` bytes."""

    def __init__(self, stream: httpx.AsyncByteStream, limit: int) -> None:
        self.stream = stream
        self.limit = limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        received = 0
        async for chunk in self.stream:
            received += len(chunk)
            if received > self.limit:
                raise AnswerTooLarge(self.limit)
            yield chunk

    async def aclose(self) -> None:
        await self.stream.aclose()


async def cap_answer(response: httpx.Response) -> None:
    """httpx response hook, before the body is read: bound it (the client asks for no compression)."""
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_ANSWER_BYTES:
        await response.aclose()
        raise AnswerTooLarge(MAX_ANSWER_BYTES)
    response.stream = CappedStream(response.stream, MAX_ANSWER_BYTES)  # type: ignore[arg-type]


async def within(seconds: float, awaitable: Awaitable[Any]) -> Any:
    """Await with a bound on the whole wait, not on each read: a trickling server times out too."""
    try:
        async with asyncio.timeout(seconds):
            return await awaitable
    except TimeoutError as error:
        raise httpx.ReadTimeout(f"no complete answer within {seconds:g} s") from error


# What the web framework under AgentOS answers for a path it has no route for; AgentOS's own
# 404s always say what was not found ("Session with id ... not found").
ROUTE_MISSING = "Not Found"


class MissingEndpoint(CliError):
    """The server has no such endpoint: a wrong --base-url, or an AgentOS older than the feature."""

    def __init__(self, base_url: str, method: str, path: str) -> None:
        super().__init__(
            f"{base_url} has no endpoint {method} {path}",
            ExitCode.ERROR,
            "check that --base-url points at AgentOS; if it does, this AgentOS is too old for the feature",
        )
        self.path = path


def server_detail(response: httpx.Response) -> str:
    """The server's own explanation of an HTTP error, as one line."""
    try:
        detail = response.json().get("detail", response.reason_phrase)
    except Exception:
        return f"HTTP {response.status_code} {response.reason_phrase}"
    if isinstance(detail, list):
        detail = "; ".join(str(item.get("msg", item)) if isinstance(item, dict) else str(item) for item in detail)
    return " ".join(str(detail)[:MAX_DETAIL_CHARS].split())


def is_agentos_detail(response: httpx.Response) -> bool:
    """True for the JSON error AgentOS sends: an object whose `detail` is a non-empty text."""
    try:
        document = response.json()
    except Exception:
        return False
    return isinstance(document, dict) and isinstance(document.get("detail"), str) and bool(document["detail"].strip())


def translate_error(error: Exception, base_url: str) -> CliError:
    """Turn an httpx or agno client exception into a CliError; re-raise anything else."""
    cause = getattr(error, "original_error", None) or error
    if isinstance(cause, httpx.HTTPStatusError):
        return translate_status(cause.response, base_url)
    if isinstance(cause, AnswerTooLarge):
        return CliError(
            f"{base_url} sent an answer larger than {MAX_ANSWER_BYTES // 2**20} MiB; nothing more was read",
            ExitCode.ERROR,
            "check that --base-url points at AgentOS",
        )
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
    if status == 404 and detail == ROUTE_MISSING:
        return MissingEndpoint(base_url, response.request.method, response.request.url.path)
    if status == 404 and not is_agentos_detail(response):
        # A proxy's or another server's 404 page says nothing about the session: not "not found".
        kind = response.headers.get("content-type", "no content type").split(";")[0]
        return CliError(
            f"{base_url} answered {response.request.method} {response.request.url.path} with a 404 that is not "
            f"AgentOS's ({kind})",
            ExitCode.ERROR,
            "check --base-url: a proxy or another web server answered, not AgentOS",
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
    cause = getattr(error, "original_error", None) or error
    return isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout)


def has_shape(document: Any, shape: type) -> bool:
    """True for a JSON object, or a list of JSON objects, as asked."""
    if shape is list:
        return isinstance(document, list) and all(isinstance(item, dict) for item in document)
    return isinstance(document, dict)


def unsent_or_unknown(failure: CliError, error: BaseException, idempotent: bool, hint: str = ACTED_HINT) -> CliError:
    """A write that reached the server may have taken effect: say so instead of 'just retry'.

    A 502 or 504 comes from a gateway: AgentOS behind it may have done the work all the same.
    """
    cause = getattr(error, "original_error", None) or error
    behind_gateway = isinstance(cause, httpx.HTTPStatusError) and cause.response.status_code in GATEWAY_STATUSES
    if idempotent or is_connection_error(error) or not (failure.exit_code == ExitCode.UNREACHABLE or behind_gateway):
        return failure
    return CliError(failure.message, failure.exit_code, hint)


def is_transient(error: BaseException, idempotent: bool) -> bool:
    """True when repeating the request may succeed and cannot do harm."""
    if is_connection_error(error):
        return True
    if not idempotent:
        return False
    if isinstance(error, httpx.HTTPStatusError):
        return error.response.status_code in (502, 503, 504)
    original = getattr(error, "original_error", None)
    return isinstance(original or error, httpx.TransportError)


def retry_delay(attempt: int) -> float:
    """Seconds to wait before retry number `attempt` (from 0): exponential, capped."""
    return min(RETRY_BASE_DELAY * 2**attempt, RETRY_MAX_DELAY)


def tls_verification(base_url: str) -> ssl.SSLContext | bool:
    """httpx's default for https; for plain http a context that trusts nothing.

    Plain http never uses TLS, and httpx would otherwise load the whole CA bundle (about
    50 ms) on every run; should a request ever reach an https URL, this context fails closed.
    """
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT) if urlsplit(base_url).scheme == "http" else True


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

    def __init__(self, settings: Settings, max_connections: int = 8) -> None:
        self.settings = settings
        self.max_connections = max_connections
        # Endpoints this server turned out not to have (older AgentOS), so each is asked for once per call.
        self.missing_endpoints: set[str] = set()
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
            self._http = httpx.AsyncClient(
                base_url=self.settings.base_url,
                # Uncompressed answers, so the byte cap bounds what is held in memory.
                headers={**self.settings.auth_headers(), "Accept-Encoding": "identity"},
                timeout=self.settings.timeout,
                limits=httpx.Limits(max_connections=self.max_connections),
                event_hooks={"response": [cap_answer]},
                verify=tls_verification(self.settings.base_url),
            )
        return self._http

    @property
    def client(self) -> AgentOSClient:
        if self._client is None:
            from agno.client import AgentOSClient
            from agno.utils.http import set_default_async_client

            silence_agno_logging()
            # agno's calls go through the same client: the same byte cap and connection pool.
            set_default_async_client(self.http)
            self._client = AgentOSClient(base_url=self.settings.base_url, timeout=self.settings.timeout)
        return self._client

    async def attempt(self, call: Callable[[], Awaitable[Any]], idempotent: bool, what: str) -> Any:
        """Run a call, retrying transient failures with bounded exponential backoff."""
        for attempt in range(self.settings.retries + 1):
            try:
                return await within(self.settings.timeout, call())
            except ValueError as error:  # JSON that does not parse, or not in AgentOS's schema
                raise not_agentos(self.settings.base_url, what) from error
            except Exception as error:
                if attempt == self.settings.retries or not is_transient(error, idempotent):
                    raise unsent_or_unknown(
                        translate_error(error, self.settings.base_url), error, idempotent
                    ) from error
                await asyncio.sleep(retry_delay(attempt))
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

    async def stream_events(self, path: str, form: dict[str, str]) -> AsyncIterator[dict[str, Any]]:
        """POST a form and yield the JSON object of each server-sent event (AgentOS run streams)."""
        async with self.http.stream("POST", path, data=form) as response:
            if response.is_error:
                await response.aread()  # the server's detail, for the error message
                response.raise_for_status()
            async for data in sse_data(response.aiter_lines()):
                try:
                    event = json.loads(data)
                except (ValueError, RecursionError):
                    event = None
                if not isinstance(event, dict):
                    raise not_agentos(self.settings.base_url, f"POST {path}")
                yield event


async def sse_data(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """The data of each event in a text/event-stream, its `data:` lines joined."""
    data: list[str] = []
    async for line in lines:
        if line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif not line and data:
            yield "\n".join(data)
            data = []
    if data:
        yield "\n".join(data)


def silence_agno_logging() -> None:
    """agno logs to stdout, which carries only the result; its failures reach the CLI as exceptions."""
    import logging

    for name in ("agno", "agno-team", "agno-workflow"):
        logging.getLogger(name).disabled = True
