"""What a session, a run and an id look like to this tool: constants and pure helpers.

Shared by the actions and the renderers; no transport, no I/O.
"""

from __future__ import annotations

import re
from collections import namedtuple
from datetime import UTC, datetime

from .errors import TYPE_CHECKING, CliError, ExitCode, usage_error

if TYPE_CHECKING:  # typing costs --help about 2 ms; only type checkers need it here
    from typing import Any

SESSION_TYPES = ("agent", "team", "workflow")
EXPORT_FORMAT = "agentos-session-export/1"
# --clear's backups go here under $XDG_STATE_HOME (default ~/.local/state); --help names it too.
BACKUP_SUBFOLDER = "agentos-sessions/backups"
MAX_ID_LENGTH = 256
# Characters no percent-encoding makes safe in a path segment: AgentOS's router decodes the
# path once, so an encoded '/' or '?' could still split it; control characters never belong.
UNADDRESSABLE_ID = re.compile(r"[/?#\\\x00-\x1f\x7f]")
MAX_UNIX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z
# Characters a terminal acts on instead of showing (C0, DEL, C1: escape sequences, title and
# clipboard writes) and the bidirectional overrides that reorder what is shown.
TERMINAL_CONTROLS = [
    *range(0x20),
    *range(0x7F, 0xA0),
    0x61C,
    0x200E,
    0x200F,
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
]
# Each becomes a visible \uXXXX, which inside JSON text is the same character again.
ESCAPED_CONTROLS = {code: f"\\u{code:04x}" for code in TERMINAL_CONTROLS}
ESCAPED_CONTROLS_KEEPING_LINES = {code: text for code, text in ESCAPED_CONTROLS.items() if chr(code) not in "\n\t"}
URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]*")
SESSION_TEXT_FIELDS = ("session_name", "user_id", "agent_id", "team_id", "workflow_id")


# collections' namedtuple, not typing's NamedTuple, which would import typing for --help.
RESULT_FIELDS = ("kind", "data", "exit_code", "note", "fields")


class Result(namedtuple("Result", RESULT_FIELDS, defaults=(ExitCode.OK, "", None))):
    """What an action produced: a kind the renderers know, and its data (`fields`: the columns asked for)."""

    __slots__ = ()
    kind: str
    data: Any
    exit_code: ExitCode
    note: str
    fields: tuple[str, ...] | None


def addressable(value: Any) -> bool:
    """True for an id that can name exactly one path segment once percent-encoded."""
    return isinstance(value, str) and bool(value) and not UNADDRESSABLE_ID.search(value) and value not in (".", "..")


def checked_id(value: Any, flag: str) -> str:
    """Refuse a typed id that cannot be addressed, or is longer than any id AgentOS makes (nothing is sent)."""
    if not addressable(value) or len(value) > MAX_ID_LENGTH:
        shown = value[:60] if isinstance(value, str) else value
        usage_error(
            f"{flag} {shown!r:.80} is not a usable id",
            f"ids are 1-{MAX_ID_LENGTH} characters without '/', '?', '#', '\\' or control characters",
        )
    return value


def api_path(*segments: str) -> str:
    """A request path: each segment percent-encoded ('%' as '%25'), so the id named is the id reached.

    An id that no encoding can address is refused here as well, whoever gave it.
    """
    from urllib.parse import quote  # here, not above: --help imports this module and needs no URLs

    for segment in segments:
        if not addressable(segment):
            raise UnaddressableId(segment)
    return "/" + "/".join(quote(segment, safe="") for segment in segments)


class UnaddressableId(CliError):
    """An id (typed or read from the server) that cannot go into a request path: refused, left alone."""

    def __init__(self, value: Any) -> None:
        super().__init__(
            f"the id {str(value)[:80]!r} has characters no URL can address ('/', '?', '#', '\\', control)",
            ExitCode.ERROR,
            "that session was left alone; remove it with AgentOS's own tools",
        )
        self.value = value


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


def printable(text: str, keep_lines: bool = False) -> str:
    """Text for a terminal: control and bidi characters shown as \\uXXXX, never acted on."""
    return text.translate(ESCAPED_CONTROLS_KEEPING_LINES if keep_lines else ESCAPED_CONTROLS)


def redact_url(url: str) -> str:
    """A URL fit for a message: no user name, password, query or fragment."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        scheme, rest = "", url
    authority, tail = re.match(r"([^/?#]*)(.*)", rest, re.DOTALL).groups()  # type: ignore[union-attr]
    if "@" in authority:
        authority = "***@" + authority.rpartition("@")[2]
    tail = re.sub(r"([?#]).*", r"\1***", tail, flags=re.DOTALL)
    return f"{scheme}{separator}{authority}{tail}"


def redact_urls(text: str) -> str:
    """Every URL in a message redacted as `redact_url` does."""
    return URL_IN_TEXT.sub(lambda match: redact_url(match.group()), text)


def strict_json(text: str) -> Any:
    """JSON text decoded, refusing NaN, Infinity and numbers too large for a float (AgentOS cannot store them)."""
    return strict_decoder().decode(text)


def strict_decoder() -> Any:
    """A json.JSONDecoder with strict_json's rules, also for reading a file a value at a time (jsonread)."""
    import json  # here, not above: --help imports this module and needs no JSON

    return json.JSONDecoder(parse_constant=refuse_constant, parse_float=finite)


def refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def finite(number: str) -> float:
    value = float(number)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number {number[:20]} is too large")
    return value


def is_api_time(value: Any) -> bool:
    """True for a time as AgentOS sends it: Unix seconds in range, or an ISO 8601 string."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return -MAX_UNIX_SECONDS <= value <= MAX_UNIX_SECONDS
    try:
        parse_api_time(value)
    except (ValueError, OverflowError):
        return False
    return isinstance(value, str)


def is_count(value: Any) -> bool:
    """True for a JSON whole number >= 0."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def is_session(item: Any, typed: bool = False) -> bool:
    """True for a session as AgentOS sends it, in the fields this tool reads."""
    return (
        isinstance(item, dict)
        and isinstance(item.get("session_id"), str)
        and bool(item["session_id"])
        and all(item.get(key) is None or isinstance(item[key], str) for key in SESSION_TEXT_FIELDS)
        and all(item.get(key) is None or is_api_time(item[key]) for key in ("created_at", "updated_at"))
        and (not typed or item.get("session_type") in SESSION_TYPES)
    )


def is_session_page(document: Any) -> bool:
    """True for a GET /sessions answer whose counts agree (a wild total_pages is not fetched)."""
    meta = document.get("meta") if isinstance(document, dict) else None
    data = document.get("data") if isinstance(document, dict) else None
    if not (isinstance(data, list) and isinstance(meta, dict)):
        return False
    counts = [meta.get(key) for key in ("page", "limit", "total_pages", "total_count")]
    if not all(is_count(count) for count in counts) or counts[1] < 1:
        return False
    _page, limit, total_pages, total_count = counts
    return total_pages <= max(1, -(-total_count // limit)) and all(is_session(item, True) for item in data)


def is_run(run: Any) -> bool:
    """True for a run as AgentOS sends it, in the fields this tool reads."""
    messages = run.get("messages") if isinstance(run, dict) else None
    return (
        isinstance(run, dict)
        and isinstance(run.get("run_id"), str)
        and (run.get("status") is None or isinstance(run["status"], str))
        and (run.get("created_at") is None or is_api_time(run["created_at"]))
        and (messages is None or (isinstance(messages, list) and all(isinstance(m, dict) for m in messages)))
    )


# AgentOS 3.1.10 stores a value nested 254 levels deep and then cannot serialise that session
# again (500 on every read of it); 253 still works. Refuse anything deeper than this.
MAX_JSON_DEPTH = 250


def json_depth(value: Any) -> int:
    """How deeply objects and lists nest in a JSON value (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, depth + 1)
            stack.extend((child, depth + 1) for child in children)
    return deepest


# What --fields may name: AgentOS's own field names, plus the script's session_type,
# run_count and component_id (the agent, team or workflow id, whichever is set).
SESSION_FIELDS = (
    "session_id", "session_name", "session_type", "component_id", "agent_id", "team_id", "workflow_id",
    "user_id", "session_state", "metadata", "session_summary", "created_at", "updated_at", "run_count",
    "metrics", "total_tokens", "chat_history", "agent_data", "team_data", "workflow_data", "session_data",
    "agent_session_id", "runs_removed", "runs_restored", "runs_not_restored", "backup", "copy_session_id",
    "forked_from_session_id", "matches", "via",
)  # fmt: skip
RUN_FIELDS = (
    "run_id", "status", "created_at", "run_input", "content", "component_id", "agent_id", "team_id",
    "workflow_id", "user_id", "parent_run_id", "metrics", "messages", "metadata", "session_state",
    "reasoning_content", "reasoning_steps", "reasoning_messages", "references", "images", "videos", "audio",
    "files", "input_media", "run_response_format", "step_results", "step_executor_runs", "events",
)  # fmt: skip
# A session in JSON, unless --fields asks for more: its properties, not its history.
CONCISE_SESSION_FIELDS = (
    "session_id", "session_name", "session_type", "agent_id", "team_id", "workflow_id", "user_id",
    "session_state", "metadata", "session_summary", "created_at", "updated_at", "run_count",
    "runs_removed", "runs_restored", "runs_not_restored", "backup", "copy_session_id", "forked_from_session_id",
    "matches", "via",
)  # fmt: skip
CONCISE_RUN_FIELDS = ("run_id", "status", "created_at", "run_input", "content")
GROUP_FIELDS = ("user_id", "component_id", "agent_id", "team_id", "workflow_id", "session_type")
# A listing without --limit, --sort-by or --sort-order: the page size and order asked of AgentOS.
PAGE_SIZE = 20
DEFAULT_SORT_BY = "created_at"
SORT_ORDERS = ("asc", "desc")
DEFAULT_SORT_ORDER = "desc"


def field_value(item: dict[str, Any], field: str) -> Any:
    """A field of a session or run, the computed component_id included."""
    return component_of(item) or None if field == "component_id" else item.get(field)


def projected(item: dict[str, Any], fields: tuple[str, ...], every: bool = False) -> dict[str, Any]:
    """Only these fields of a session or run, in this order; with `every` (--fields) each one, null when absent."""
    return {field: value for field in fields if (value := field_value(item, field)) is not None or every}


def concise(item: dict[str, Any], fields: tuple[str, ...] | None, default: tuple[str, ...]) -> dict[str, Any]:
    """A session or run as --fields asks (every key, null when absent), else its default keys that have a value."""
    return projected(item, fields, every=True) if fields else projected(item, default)


def run_text(value: Any) -> Any:
    """A run's input as its text: AgentOS may wrap it as {"input_content": ...}."""
    return value.get("input_content", value) if isinstance(value, dict) else value


SESSION_KINDS = ("session", "cleared")
LIST_KINDS = ("sessions", "dry_run", "clear_preview")
# What a list's meta says (AgentOS's page counts; the cutoffs of relative dates): nothing else.
PAGE_META_FIELDS = ("total_count", "page", "limit", "total_pages", "cutoffs")
# Outcomes whose entries are sessions (their id and what was, or would be, written), narrowed by --fields.
SESSION_ENTRY_KINDS = {"updated": "updated", "update_preview": "data"}
# Answers that carry `meta`, where the absolute cutoffs of relative dates are reported.
CUTOFF_KINDS = (*LIST_KINDS, "update_preview", "session_runs")

# The session fields --where selects on (AgentOS itself has no such filter).
WHERE_FIELDS = ("metadata", "session_state")
# Where --search matched, per run: {"run_id", "created_at", "where": "input"|"reply", "snippet"}.
MATCH_FIELDS = ("run_id", "created_at", "where", "snippet")
SNIPPET_LIMIT = 160


def search_match(run: dict[str, Any], where: str, snippet: str) -> dict[str, Any]:
    """One entry of a session's `matches`."""
    return dict(zip(MATCH_FIELDS, (run.get("run_id"), run.get("created_at"), where, snippet), strict=True))


def session_runs(session: dict[str, Any], runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One session of a set's --show-runs: {"session_id", "session_name", "runs"}."""
    return {"session_id": session["session_id"], "session_name": session.get("session_name") or "", "runs": runs}


def sets_of_runs(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """--show-runs over a set: {"data": [session_runs...], "meta": {"total_count": sessions}}."""
    return {"data": entries, "meta": {"total_count": len(entries)}}


def run_totals(sessions: list[dict[str, Any]], group_by: str | None) -> dict[str, Any]:
    """--count --runs: {"count", "runs"}, and per --group-by value {"count", "runs"}, largest first."""
    totals: dict[str, Any] = {"count": len(sessions), "runs": sum(s.get("run_count", 0) for s in sessions)}
    if group_by:
        groups: dict[str, dict[str, int]] = {}
        for session in sessions:
            group = groups.setdefault(str(field_value(session, group_by) or "(none)"), {"count": 0, "runs": 0})
            group["count"] += 1
            group["runs"] += session.get("run_count", 0)
        totals["groups"] = dict(sorted(groups.items(), key=lambda item: (-item[1]["count"], item[0])))
    return totals


def with_cutoffs(result: Result, cutoffs: dict[str, str]) -> Result:
    """The answer with the absolute cutoffs of relative dates in `meta.cutoffs` (UTC ISO 8601), if any."""
    if not cutoffs or result.kind not in CUTOFF_KINDS:
        return result
    # An update preview has no meta of its own: it gets a list's, counting the sessions it would write.
    meta = {**(result.data.get("meta") or {"total_count": len(result.data["data"])}), "cutoffs": cutoffs}
    return result._replace(data={**result.data, "meta": meta})


def shaped(result: Result, fields: tuple[str, ...] | None) -> Result:
    """The result as small as asked: --fields, else concise sessions and runs (their properties, not history)."""
    data = result.data
    if result.kind in SESSION_KINDS:
        data = concise(data, fields, CONCISE_SESSION_FIELDS)
    elif result.kind in LIST_KINDS:
        meta = {key: value for key, value in data["meta"].items() if key in PAGE_META_FIELDS}
        data = {"data": [concise(session, fields, CONCISE_SESSION_FIELDS) for session in data["data"]], "meta": meta}
    elif result.kind in SESSION_ENTRY_KINDS and fields:
        key = SESSION_ENTRY_KINDS[result.kind]
        data = {**data, key: [projected(entry, fields, every=True) for entry in data[key]]}
    elif result.kind == "runs":
        data = {**data, "data": concise_runs(data["data"], fields)}
    elif result.kind in ("run", "forked") and fields:
        data = projected(data, fields, every=True)
    elif result.kind == "session_runs":
        data = {**data, "data": [{**entry, "runs": concise_runs(entry["runs"], fields)} for entry in data["data"]]}
    return result._replace(data=data, fields=fields)


def concise_runs(runs: list[dict[str, Any]], fields: tuple[str, ...] | None) -> list[dict[str, Any]]:
    """Runs as --fields asks (every key, null when absent), else their concise fields with the input as text."""
    if not fields:
        runs = [{**run, "run_input": run_text(run.get("run_input"))} for run in runs]
    return [concise(run, fields, CONCISE_RUN_FIELDS) for run in runs]


def json_document(result: Result) -> Any:
    """The --json form of a result: AgentOS's own field names."""
    if result.kind == "runs":
        return result.data["data"]
    return result.data


class CutShort(CliError):
    """A set write that stopped part-way: the cause, and the outcome so far, printed as the answer."""

    def __init__(self, cause: CliError, result: Result) -> None:
        super().__init__(cause.message, cause.exit_code, cause.hint)
        self.result = result


def set_outcome(
    done_key: str,
    done: list[Any],
    skipped: list[dict[str, str]],
    refused: list[dict[str, str]],
    not_found: list[str],
    **extra: Any,
) -> dict[str, Any]:
    """The outcome of a write on a set: what was done, skipped (no longer chosen), refused, not found, and more."""
    return {done_key: done, "skipped": skipped, "refused": refused, "not_found": not_found, **extra}


def outcome_exit(outcome: dict[str, Any]) -> ExitCode:
    """Refused sessions or another writer's changes are exit 1; ids or names that chose nothing, 3; skipped is 0."""
    if outcome.get("refused") or outcome.get("changed_meanwhile"):
        return ExitCode.ERROR
    return ExitCode.NOT_FOUND if outcome.get("not_found") else ExitCode.OK


def outcome_note(outcome: dict[str, Any]) -> str:
    """The stderr lines for what a set write left alone."""
    lines = [f"skipped {item['session_id']}: {item['reason']}" for item in outcome.get("skipped", [])]
    lines += [f"refused {item['session_id']}: {item['reason']}" for item in outcome.get("refused", [])]
    lines += [
        f"changed by another writer meanwhile: {item['session_id']} ({', '.join(item['keys'])})"
        for item in outcome.get("changed_meanwhile", [])
    ]
    missing = missing_note(outcome.get("not_found", []))
    return "\n".join([*lines, *([missing] if missing else [])])


def missing_note(missing: list[str], done: str = "changed") -> str:
    """The stderr line for ids or names that chose no session."""
    return f"not found (nothing {done} for them): {', '.join(missing)}" if missing else ""
