"""Actions on a session's history that AgentOS performs itself: fork (copy it) and compact (summarize it).

Each action returns a `Result`; none prints.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .api import MissingEndpoint, SessionsApi
from .copying import fork_on_server, owner_missing, owner_path
from .errors import CliError, ExitCode, not_agentos, usage_error
from .model import Result
from .request import Request
from .selection import get_runs, get_session, user_of

# Ways a compaction declines that are not failures: the session is fine, the status says why.
COMPACT_DECLINES = ("nothing_to_fold", "not_worth_it", "already_compacted", "no_history")
COMPACT_HINTS = {
    "not_enabled": "turn compaction on for agent '{agent}' on the server: Agent(compaction=True) or a Compaction(...)",
    "summary_failed": "the agent's compaction model wrote no summary; see the server's log, then try again",
}


async def fork_session(api: SessionsApi, request: Request) -> Result:
    """Copy an agent or team session, every run included, into a new session; the original is untouched."""
    session_id, given_name = request.single_session_id(), request.args.name
    if given_name is not None and not given_name.strip():
        usage_error("--name for the copy is empty", 'give a name, or leave --name out for "<name> (fork)"')
    session, runs = await asyncio.gather(
        get_session(api, session_id, request.args.user_id), get_runs(api, session_id, request.user_params())
    )
    name = given_name or f"{session.get('session_name') or session_id} (fork)"
    return Result("forked", await fork_on_server(api, session, len(runs), name))


async def send_compact(api: SessionsApi, session: dict[str, Any], path: str) -> dict[str, Any]:
    """POST the compaction (never repeated once sent) and return AgentOS's outcome."""
    try:
        outcome = await api.write("POST", path, {}, idempotent=False, params=user_of(session))
    except MissingEndpoint as error:
        raise CliError(
            "this AgentOS has no session compaction; it needs agno 3.1 or newer",
            ExitCode.ERROR,
            "--fork and --clear work on older servers too",
        ) from error
    except CliError as error:
        raise owner_missing(error, session) from error
    if not isinstance((outcome or {}).get("status"), str):
        raise not_agentos(api.settings.base_url, f"POST {path}")
    return outcome


async def compact_session(api: SessionsApi, request: Request) -> Result:
    """Fold an agent session's older history into a summary now; a decline is reported, not an error."""
    session_id = request.single_session_id()
    session = await get_session(api, session_id, request.args.user_id)
    path = owner_path(session, "compact", ("agent",))
    outcome = await send_compact(api, session, path)
    status = outcome["status"]
    if status == "compacted" or status in COMPACT_DECLINES:
        return Result("compaction", {"session_id": session_id, "agent_id": session["agent_id"], **outcome})
    hint = COMPACT_HINTS.get(status, "see the server's log").format(agent=session["agent_id"])
    message = outcome.get("message") or "no reason given"
    raise CliError(f"session '{session_id}' was not compacted ({status}): {message}", ExitCode.ERROR, hint)
