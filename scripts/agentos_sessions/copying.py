"""Copying a session on the server with AgentOS's fork endpoint, and checking the copy.

Below the actions, so `--fork` and `--clear --keep-copy` share it; it returns data, never prints.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .api import MissingEndpoint, SessionsApi
from .errors import CliError, ExitCode, not_agentos, usage_error
from .model import api_path, checked_id, detect_session_type
from .selection import count_runs, get_runs, user_of

FORKABLE_TYPES = ("agent", "team")
# What the copy shows, like the answer to --create: enough to find it and tell it apart.
COPY_FIELDS = ("session_id", "session_name", "session_type", "agent_id", "team_id", "user_id", "created_at")


def owner_path(session: dict[str, Any], verb: str, types: tuple[str, ...]) -> str:
    """The per-owner endpoint for a session (`/agents/A/sessions/S/fork`), or exit 2 when it has none."""
    session_id, kind = session["session_id"], session["session_type"]
    if kind not in types:
        usage_error(
            f"session '{session_id}' is a {kind} session; AgentOS can {verb} only {' and '.join(types)} sessions",
            "pick a session with --agent-id" + (" or --team-id" if "team" in types else ""),
        )
    owner = session.get(f"{kind}_id")
    if not owner:
        usage_error(
            f"session '{session_id}' names no {kind}, so AgentOS cannot {verb} it",
            f"AgentOS {verb}s through the session's {kind}",
        )
    return api_path(f"{kind}s", owner, "sessions", session_id, verb)


def owner_missing(error: CliError, session: dict[str, Any]) -> CliError:
    """Say which agent or team the server lacks, instead of a bare 'Agent not found'."""
    kind = session["session_type"]
    if error.exit_code != ExitCode.NOT_FOUND or not error.message.startswith(f"{kind.title()} not found"):
        return error
    return CliError(
        f"AgentOS has no {kind} '{session.get(f'{kind}_id')}', the owner of session '{session['session_id']}'",
        ExitCode.NOT_FOUND,
        f"only sessions of the {kind}s this AgentOS serves can be forked or compacted",
    )


async def send_fork(api: SessionsApi, session: dict[str, Any], path: str) -> str:
    """POST the fork (never repeated once sent) and return the copy's id."""
    try:
        answer = await api.write("POST", path, {}, idempotent=False, params=user_of(session))
    except MissingEndpoint as error:
        raise CliError(
            "this AgentOS cannot fork sessions: it has no fork endpoint", ExitCode.ERROR, "forking needs a newer agno"
        ) from error
    except CliError as error:
        if "no runs to fork" in error.message:
            usage_error(f"session '{session['session_id']}' has no runs: nothing to fork", "send it a message first")
        raise owner_missing(error, session) from error
    copy_id = (answer or {}).get("session_id")
    try:
        return checked_id(copy_id if isinstance(copy_id, str) else "", "the copy's session_id")
    except CliError:
        raise not_agentos(api.settings.base_url, f"POST {path}") from None


async def fork_on_server(
    api: SessionsApi,
    session: dict[str, Any],
    run_count: int,
    name: str,
    metadata: dict[str, Any] | None = None,
    more_allowed: bool = False,
) -> dict[str, Any]:
    """Fork an agent or team session that has runs, name the copy (and set its metadata), check it got every run.

    `more_allowed`: runs may have landed since `run_count` was read; the caller checks the original again.
    The original's runs are counted again in the same round trip: the answer says it was left as it was.
    """
    session_id = session["session_id"]
    path = owner_path(session, "fork", FORKABLE_TYPES)
    if run_count == 0:
        usage_error(f"session '{session_id}' has no runs: nothing to fork", "send it a message first")
    copy_id = await send_fork(api, session, path)
    try:
        body = {"session_name": name, **({"metadata": metadata} if metadata is not None else {})}
        answer, runs, original_after = await asyncio.gather(  # one round trip: none depends on another
            api.write("PATCH", api_path("sessions", copy_id), body, True),
            get_runs(api, copy_id, user_of(session)),
            count_runs(api, session_id, user_of(session)),
        )
        renamed, copied_runs = answer or {}, len(runs)
    except CliError as error:
        hint = f"the copy exists: inspect it with --session-id {copy_id}"
        raise CliError(
            f"forked '{session_id}' into '{copy_id}', then {error.message}", error.exit_code, hint
        ) from error
    if copied_runs < run_count or (copied_runs > run_count and not more_allowed):
        raise CliError(
            f"the copy '{copy_id}' of '{session_id}' has {copied_runs} runs, the original {run_count}",
            ExitCode.ERROR,
            f"compare them with --show-runs; remove the copy with --session-id {copy_id} --delete",
        )
    if renamed.get("session_id") != copy_id:
        raise not_agentos(api.settings.base_url, f"PATCH /sessions/{copy_id}")
    copy = {**renamed, "session_type": detect_session_type(renamed)}
    concise = {key: copy[key] for key in COPY_FIELDS if copy.get(key) is not None}
    original = {"before": run_count, "after": original_after}
    return {**concise, "run_count": copied_runs, "forked_from_session_id": session_id, "original_run_count": original}
