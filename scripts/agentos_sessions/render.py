"""Pure functions from an action's data to a rich renderable or a JSON-ready value.

No transport and no printing: `output.py` decides where the result goes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table

from .model import Result, component_of

TABLE_TEXT_LIMIT = 60


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


def new_table(*columns: str, title: str | None = None) -> Table:
    """A table with the house look; long ids never wrap."""
    table = Table(*columns, title=title, title_justify="left", header_style="bold", box=None, pad_edge=False)
    for column in table.columns:
        column.no_wrap = True
    return table


def sessions_table(document: dict[str, Any]) -> Table:
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


def field_table(rows: Iterable[tuple[str, Any]], title: str | None = None) -> Table:
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


def runs_table(document: dict[str, Any]) -> Table:
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


def outcome_table(outcome: dict[str, list[str]]) -> Table:
    """What a deletion did, id by id."""
    table = new_table("Session ID", "Outcome")
    for session_id in outcome["deleted"]:
        table.add_row(session_id, "deleted")
    for session_id in outcome["not_found"]:
        table.add_row(session_id, "not found")
    return table


def dry_run_table(document: dict[str, Any]) -> Table:
    """The sessions a deletion would remove."""
    table = sessions_table(document)
    table.title = f"Dry run: would delete {len(document['data'])} session(s); nothing was deleted"
    return table


def exported_line(summary: dict[str, Any]) -> str:
    """What --export FILE wrote, in one line."""
    return f"exported session {summary['session_id']} ({summary['runs']} runs) to {summary['path']}"


TABLE_RENDERERS: dict[str, Callable[[Any], RenderableType | str]] = {
    "sessions": sessions_table,
    "dry_run": dry_run_table,
    "session": lambda session: field_table(session_rows(session)),
    "cleared": lambda session: field_table(session_rows(session), title="Session cleared"),
    "runs": runs_table,
    "run": run_view,
    "deleted": outcome_table,
    "exported": exported_line,
    "document": lambda document: json.dumps(document, indent=2, ensure_ascii=False),
    "chat": lambda reply: reply["content"],
    "chat_streamed": lambda _reply: "",
}


def for_people(result: Result) -> RenderableType | str:
    """The table (or line of text) a person sees for a result."""
    return TABLE_RENDERERS[result.kind](result.data)


def json_document(result: Result) -> Any:
    """The --json form of a result: AgentOS's own field names."""
    if result.kind == "runs":
        return result.data["data"]
    return result.data
