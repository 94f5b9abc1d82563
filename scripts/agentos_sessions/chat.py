"""Chatting in a session: pick the agent or team, stream the run, assemble the reply.

The action returns a `Result`; streamed text goes to the `on_chunk` callback the CLI gives.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, NamedTuple

from .api import SessionsApi, is_connection_error, retry_delay, translate_error, unsent_or_unknown, within
from .errors import CliError, ExitCode, usage_error
from .model import Result, api_path, component_of
from .request import Request
from .selection import find_session


class ChatTarget(NamedTuple):
    """Where a chat message goes."""

    kind: str
    component_id: str
    session_id: str
    user_id: str | None
    new_session: bool


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

    def take(self, event: dict[str, Any], prefix: str, on_chunk: Callable[[str], None] | None) -> None:
        """Record one streamed event of the top-level run (member and unknown events are skipped)."""
        name, content = event.get("event"), event.get("content")
        run_id = event["run_id"] if isinstance(event.get("run_id"), str) else None
        if name == f"{prefix}Content" and isinstance(content, str):
            self.run_id = self.run_id or run_id
            self.chunks.append(content)
            if on_chunk:
                on_chunk(content)
        elif name == f"{prefix}Completed":
            self.run_id, self.completed = run_id or self.run_id, True
            self.final = content if isinstance(content, str) else None
        elif name == f"{prefix}Error":
            self.error = str(content)

    def document(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "run_id": self.run_id, "content": self.content}


async def chat_target(api: SessionsApi, request: Request) -> ChatTarget:
    """Pick the agent or team, session and user for a chat message."""
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
    if not given and session_id:
        raise CliError(
            f"session '{session_id}' not found on {api.settings.base_url}",
            ExitCode.NOT_FOUND,
            f"to start a session with this id, add --agent-id or --team-id: --session-id {session_id} --agent-id ID",
        )
    if not given:
        usage_error("--chat needs --session-id of an existing session, or --agent-id/--team-id", "see --help")
    kind = "team" if args.team_id else "agent"
    return ChatTarget(kind, given, session_id or str(uuid.uuid4()), args.user_id, True)


def open_run_stream(api: SessionsApi, target: ChatTarget, message: str) -> AsyncIterator[dict[str, Any]]:
    """Start a streamed agent or team run: POST /agents/{id}/runs (or /teams/...) with form data."""
    route = "teams" if target.kind == "team" else "agents"
    form = {"message": message, "stream": "true", "session_id": target.session_id}
    if target.user_id:
        form["user_id"] = target.user_id
    return api.stream_events(api_path(route, target.component_id, "runs"), form)


def sent_hint(target: ChatTarget) -> str:
    """What to do when the message may have been run."""
    return f"the message may have been run: check --session-id {target.session_id} --show-runs before sending it again"


def broken_stream(error: Exception, reply: ChatReply, target: ChatTarget, base_url: str) -> CliError:
    """The error for a run whose stream failed, with what had arrived."""
    if isinstance(error, CliError):  # an answer that is not AgentOS's, after the message went out
        failure = CliError(error.message, error.exit_code, sent_hint(target))
    else:
        failure = unsent_or_unknown(translate_error(error, base_url), error, idempotent=False, hint=sent_hint(target))
    if not reply.content:
        return failure
    message = f"the reply stream broke: {failure.message}; received so far: {reply.content!r}"
    return CliError(message, failure.exit_code, sent_hint(target))


async def receive(api: SessionsApi, target: ChatTarget, request: Request, reply: ChatReply) -> None:
    """Read the run's events into the reply; each wait for the next event is bounded by --timeout."""
    prefix = "TeamRun" if target.kind == "team" else "Run"
    events = open_run_stream(api, target, request.args.chat)
    try:
        while (event := await within(api.settings.timeout, anext(events, None))) is not None:
            reply.take(event, prefix, request.on_chunk)
    finally:
        await events.aclose()


async def stream_reply(api: SessionsApi, target: ChatTarget, request: Request) -> ChatReply:
    """Run the message once; retry only when it never reached the server."""
    for attempt in range(api.settings.retries + 1):
        reply = ChatReply(target.session_id)
        try:
            await receive(api, target, request, reply)
            return reply
        except Exception as error:
            if reply.chunks or attempt == api.settings.retries or not is_connection_error(error):
                raise broken_stream(error, reply, target, api.settings.base_url) from error
            await asyncio.sleep(retry_delay(attempt))
    raise AssertionError("unreachable")


async def chat(api: SessionsApi, request: Request) -> Result:
    """Send one message in a session and collect (and optionally stream) the reply."""
    target = await chat_target(api, request)
    reply = await stream_reply(api, target, request)
    if reply.error:
        raise CliError(f"the run failed on the server: {reply.error}", ExitCode.ERROR, "see the server's log")
    if not reply.completed:
        raise CliError(
            f"the reply stream ended early; received: {reply.content!r}", ExitCode.UNREACHABLE, sent_hint(target)
        )
    note = f"started session {target.session_id}" if target.new_session else ""
    return Result("chat", reply.document(), note=note)
