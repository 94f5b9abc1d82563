"""Chatting in a session: pick the agent or team, stream the run, assemble the reply.

The action returns a `Result`; streamed text goes to the `on_chunk` callback the CLI gives.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

from .api import SessionsApi, is_connection_error, retry_delay, translate_error
from .errors import CliError, ExitCode, usage_error
from .model import Result, component_of
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
            f"the reply stream ended early; received: {reply.content!r}", ExitCode.UNREACHABLE, "send the message again"
        )
    note = f"started session {target.session_id}" if target.new_session else ""
    return Result("chat", reply.document(), note=note)
