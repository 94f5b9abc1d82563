"""What a session, a run and an id look like to this tool: constants and pure helpers.

Shared by the actions and the renderers; no transport, no I/O.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, NamedTuple

from .errors import ExitCode, usage_error

SESSION_TYPES = ("agent", "team", "workflow")
EXPORT_FORMAT = "agentos-session-export/1"
MAX_ID_LENGTH = 256
UNSAFE_ID = re.compile(r"[/?#%\\\s\x00-\x1f\x7f]")


class Result(NamedTuple):
    """What an action produced: a kind the renderers know, and its data."""

    kind: str
    data: Any
    exit_code: ExitCode = ExitCode.OK
    note: str = ""


def checked_id(value: str, flag: str) -> str:
    """Refuse ids that could steer a request to another path (nothing is sent)."""
    if not value or len(value) > MAX_ID_LENGTH or UNSAFE_ID.search(value) or value in (".", ".."):
        usage_error(
            f"{flag} {value[:60]!r} is not a usable id",
            f"ids are 1-{MAX_ID_LENGTH} characters without '/', '?', '#', '%', '\\', spaces or control characters",
        )
    return value


def parse_api_time(value: Any) -> int:
    """AgentOS times come as ISO strings or Unix seconds; return Unix seconds."""
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str) and value:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    return 0


def now_iso() -> str:
    """The current time as AgentOS writes it."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
