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
from rich.text import Text

from .model import (
    LIST_KINDS,
    SESSION_KINDS,
    Result,
    component_of,
    field_value,
    printable,
)

TABLE_TEXT_LIMIT = 60


def shorten(text: Any, limit: int = TABLE_TEXT_LIMIT) -> str:
    """One line of at most `limit` characters for a table cell."""
    flat = " ".join(str(text if text is not None else "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def format_time(value: Any) -> str:
    """ISO time for a table, whatever form AgentOS sent."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        except (OverflowError, ValueError, OSError):
            return str(value)
    return str(value or "")


def compact_json(value: Any) -> str:
    """A JSON value on one line, for a table cell."""
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": ")) if value not in (None, {}) else ""


def cell_text(value: Any) -> Any:
    """A table cell from API data: text with terminal controls escaped; a rich renderable as it is."""
    if isinstance(value, str):
        return printable(value)
    if hasattr(value, "__rich_console__") or hasattr(value, "__rich__"):
        return value
    return printable("" if value is None else str(value))


class TextTable(Table):
    """A rich Table whose cells are text from the API: shown, never acted on by the terminal."""

    def add_row(self, *cells: Any, **options: Any) -> None:
        super().add_row(*(cell_text(cell) for cell in cells), **options)


def new_table(*columns: str, title: str | None = None) -> Table:
    """A table with the house look; long ids never wrap."""
    shown_title = printable(title) if title else title
    table = TextTable(*columns, title=shown_title, title_justify="left", header_style="bold", box=None, pad_edge=False)
    for column in table.columns:
        column.no_wrap = True
    return table


def sessions_table(document: dict[str, Any]) -> Table:
    """The session list as a table; a Runs column when the runs were counted."""
    meta = document.get("meta", {})
    title = f"Sessions ({meta.get('total_count', 0)} total)"
    if "page" in meta:
        title = f"Sessions (page {meta['page']} of {meta.get('total_pages', 1)}, {meta.get('total_count', 0)} total)"
    counted = any("run_count" in session for session in document["data"])
    searched = any("matches" in session for session in document["data"])
    columns = ["Session ID", "Name", "Type", "Component", "User", "Created", "Updated"]
    table = new_table(*columns, *(["Runs"] if counted else []), *(["Match"] if searched else []), title=title)
    for session in document["data"]:
        row = [
            session["session_id"],
            session.get("session_name") or "",
            session.get("session_type", ""),
            component_of(session),
            session.get("user_id") or "",
            format_time(session.get("created_at")),
            format_time(session.get("updated_at")),
        ]
        table.add_row(
            *row,
            *([str(session.get("run_count", ""))] if counted else []),
            *([first_snippet(session)] if searched else []),
        )
    return table


def first_snippet(session: dict[str, Any]) -> str:
    """Where --search first matched in a session, for a table: the part and the snippet."""
    matches = session.get("matches") or [{}]
    return f"{matches[0].get('where', '')}: {matches[0].get('snippet', '')}" if matches[0] else ""


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
    extras = (
        "run_count",
        "runs_removed",
        "runs_restored",
        "runs_not_restored",
        "backup",
        "forked_from_session_id",
        "copy_session_id",
        "via",
    )
    return rows + [(key, str(session[key])) for key in extras if key in session]


def runs_table(document: dict[str, Any], title: str | None = None) -> Table:
    """The runs of a session, oldest first."""
    title = title or f"Runs of {document['session_id']}"
    table = new_table("Run ID", "Status", "Created", "Input", "Output", title=title)
    for run in document["data"]:
        table.add_row(
            run.get("run_id", ""),
            run.get("status", ""),
            format_time(run.get("created_at")),
            shorten(run_input_text(run)),
            shorten(run.get("content")),
        )
    return table


def session_runs_title(entry: dict[str, Any]) -> str:
    """The heading of one session's runs in a set: its id, its name, how many runs are shown."""
    name = f" ({shorten(entry['session_name'])})" if entry.get("session_name") else ""
    return f"Runs of {entry['session_id']}{name}: {len(entry['runs'])} shown"


def session_runs_view(document: dict[str, Any], fields: tuple[str, ...] | None = None) -> RenderableType:
    """--show-runs over a set: a table per session, in the selection's order."""
    tables: list[RenderableType] = []
    for entry in document["data"]:
        title = session_runs_title(entry)
        as_runs = {"session_id": entry["session_id"], "data": entry["runs"]}
        if not entry["runs"]:
            tables.append(Text(printable(title)))
        else:
            tables.append(fields_table(entry["runs"], fields, title) if fields else runs_table(as_runs, title))
    return Group(*tables) if tables else "no sessions match"


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


# Each outcome key of a set write, in the order rows are shown, with its label for people.
OUTCOME_LABELS = {
    "deleted": "deleted",
    "updated": "updated",
    "cleared": "cleared",
    "restored": "restored",
    "conflict": "already exists",
    "changed_meanwhile": "changed by another writer meanwhile",
    "skipped": "skipped",
    "refused": "refused",
    "unknown": "unknown: check it",
    "not_done": "not done",
    "not_found": "not found",
}


def outcome_detail(item: Any) -> str:
    """The third column of an outcome row: a reason, a backup, the keys another writer changed."""
    if not isinstance(item, dict):
        return ""
    if "reason" in item:
        return str(item["reason"])
    if "keys" in item:
        return ", ".join(item["keys"])
    if "backup" in item:
        return f"{item.get('runs_removed', 0)} runs removed, backup {item['backup']}"
    return compact_json({key: value for key, value in item.items() if key != "session_id"})


def outcome_table(outcome: dict[str, Any]) -> Table:
    """What a set write did, session by session: one row per id, its outcome and why."""
    table = new_table("Session ID", "Outcome", "Detail")
    for key, label in OUTCOME_LABELS.items():
        for item in outcome.get(key, []):
            table.add_row(item if isinstance(item, str) else item["session_id"], label, outcome_detail(item))
    return table


def dry_run_table(document: dict[str, Any], verb: str = "delete") -> Table:
    """The sessions a --dry-run of a delete (or a clear) would change."""
    table = sessions_table(document)
    table.title = dry_run_title(document, verb)
    return table


def dry_run_title(document: dict[str, Any], verb: str) -> str:
    return f"Dry run: would {verb} {len(document['data'])} session(s); nothing was changed"


# The titles of list answers that keep saying what they are when --fields picks their columns.
FIELDS_TABLE_TITLES: dict[str, Callable[[dict[str, Any]], str]] = {
    "dry_run": lambda document: dry_run_title(document, "delete"),
    "clear_preview": lambda document: dry_run_title(document, "clear"),
    "update_preview": lambda document: dry_run_title(document, "update"),
}


def compaction_table(outcome: dict[str, Any]) -> Table:
    """What --compact did: the status, AgentOS's message, and the token counts of a fold."""
    record, metrics = outcome.get("record") or {}, outcome.get("metrics") or {}
    rows = [("status", outcome.get("status", "")), ("message", outcome.get("message") or "")]
    rows += [
        (key, str(record[key])) for key in ("messages_compacted", "tokens_before", "tokens_after") if key in record
    ]
    rows += [(f"summarizer_{key}", str(metrics[key])) for key in ("input_tokens", "output_tokens") if key in metrics]
    if record.get("summary"):
        rows.append(("summary", shorten(record["summary"], 200)))
    return field_table(rows, title=f"Compaction of {outcome.get('session_id', '')}")


def forked_table(copy: dict[str, Any]) -> Table:
    """The new session a fork made, and that it holds every run."""
    title = f"Forked {copy['forked_from_session_id']}: the copy has all {copy['run_count']} runs"
    return field_table(
        [(key, format_time(value) if key == "created_at" else value) for key, value in copy.items()], title
    )


def nothing_cleared_line(session: dict[str, Any]) -> str:
    """What --clear --keep-copy says about a session without runs."""
    return f"session {session['session_id']} has no runs: nothing to clear or copy, nothing changed"


def exported_line(summary: dict[str, Any]) -> str:
    """What --export FILE wrote, in one line."""
    if "session_id" in summary:
        return f"exported session {summary['session_id']} ({summary['runs']} runs) to {summary['path']}"
    return f"exported {summary['sessions']} sessions ({summary['runs']} runs) to {summary['path']}"


def update_preview_table(preview: dict[str, Any]) -> Table:
    """What --update --dry-run would write to each session."""
    table = new_table("Session ID", "State", "Metadata", "Summary", title="Dry run: nothing was changed")
    for body in preview["data"]:
        summary = (body.get("summary") or {}).get("summary", "")
        table.add_row(
            body["session_id"], compact_json(body.get("session_state")), compact_json(body.get("metadata")), summary
        )
    return table


TABLE_RENDERERS: dict[str, Callable[[Any], RenderableType | str]] = {
    "sessions": sessions_table,
    "dry_run": dry_run_table,
    "session": lambda session: field_table(session_rows(session)),
    "cleared": lambda session: field_table(session_rows(session), title="Session cleared"),
    "nothing_to_clear": nothing_cleared_line,
    "forked": forked_table,
    "compaction": compaction_table,
    "runs": runs_table,
    "session_runs": session_runs_view,
    "run": run_view,
    "deleted": outcome_table,
    "exported": exported_line,
    "count": lambda counted: count_view(counted),
    "updated": outcome_table,
    "update_preview": update_preview_table,
    "cleared_set": outcome_table,
    "clear_preview": lambda document: dry_run_table(document, "clear"),
    "restored": outcome_table,
    "document": lambda document: json.dumps(document, indent=2, ensure_ascii=False),
    "chat": lambda reply: str(reply["content"]),
    "chat_streamed": lambda _reply: "",
}


def cell(field: str, value: Any) -> str:
    """One table cell for a field's value."""
    if field.endswith("_at"):
        return format_time(value)
    return shorten(value) if isinstance(value, str) else compact_json(value) or ("" if value is None else str(value))


def fields_table(items: list[dict[str, Any]], fields: tuple[str, ...], title: str | None = None) -> Table:
    """The asked-for fields of sessions or runs as columns."""
    table = new_table(*fields, title=title)
    for item in items:
        table.add_row(*(cell(field, field_value(item, field)) for field in fields))
    return table


def for_people(result: Result) -> RenderableType | str:
    """The table (or line of text) a person sees for a result."""
    fields = result.fields
    if fields and result.kind == "session_runs":
        return session_runs_view(result.data, fields)
    if fields and result.kind in (*LIST_KINDS, "runs", "update_preview"):
        table = fields_table(result.data["data"], fields)
        title = FIELDS_TABLE_TITLES.get(result.kind)
        # A line of its own: a table of a few narrow columns would wrap a title it carried.
        return Group(Text(title(result.data)), table) if title else table
    if fields and result.kind in (*SESSION_KINDS, "run", "forked"):
        return field_table((field, cell(field, field_value(result.data, field))) for field in fields)
    return TABLE_RENDERERS[result.kind](result.data)


def count_view(counted: dict[str, Any]) -> RenderableType | str:
    """--count: the number, or a table of groups, largest first."""
    runs = f", {counted['runs']} runs" if "runs" in counted else ""
    if "groups" not in counted:
        return f"{counted['count']} sessions{runs}" if runs else str(counted["count"])
    table = new_table("Value", "Sessions", *(["Runs"] if runs else []), title=f"{counted['count']} sessions{runs}")
    for value, group in counted["groups"].items():
        numbers = [str(group["count"]), str(group["runs"])] if runs else [str(group)]
        table.add_row(value, *numbers)
    return table
