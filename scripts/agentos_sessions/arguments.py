"""The command line's words: the parser, its argument types, and which flags fit which action.

`--help` imports only this module, `errors.py` and `model.py`; nothing here talks to AgentOS.
"""

from __future__ import annotations

# json and datetime are imported where they are used: --help needs neither.
import argparse
import re
import time

from .errors import TYPE_CHECKING, usage_error
from .model import (
    BACKUP_SUBFOLDER,
    DEFAULT_SORT_BY,
    DEFAULT_SORT_ORDER,
    GROUP_FIELDS,
    MAX_JSON_DEPTH,
    MAX_UNIX_SECONDS,
    PAGE_SIZE,
    SESSION_TYPES,
    SORT_ORDERS,
    WHERE_FIELDS,
    json_depth,
    strict_json,
)

if TYPE_CHECKING:  # typing costs --help about 2 ms; only type checkers need it
    from typing import Any, NoReturn

DEFAULT_BASE_URL = "http://localhost:7777"
# What --help calls the program: the skill's script, or the command pyproject.toml installs.
SCRIPT_NAME = "manage_sessions.py"
COMMAND_NAME = "agentos-sessions"
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
MAX_JSON_ARGUMENT = 1_000_000
# Bounds that keep --limit and --page within what AgentOS's databases can page through.
MAX_PAGE_SIZE = 10_000
MAX_PAGE_NUMBER = 1_000_000_000
# How each action is asked for on the command line, for messages.
ACTION_FLAGS = {
    "list": "listing (no action flag)",
    "runs": "--show-runs",
    "run": "--run-id",
    "inspect": "--session-id alone",
}
# Flags that only mean something for some actions; elsewhere they are refused, not ignored.
# Actions that take a set of sessions, and those that act on one but let filters narrow it.
SET_ACTIONS = ("list", "delete", "update", "clear", "export")
NARROWED = (*SET_ACTIONS, "inspect", "runs", "run", "rename", "fork", "compact")
EVERY_ACTION_BUT_RESTORE = (*NARROWED, "create", "chat")
# Flags that only mean something for some actions; elsewhere they are refused, not ignored.
FLAG_ACTIONS = {
    "limit": ("list",),
    "page": ("list",),
    "sort_by": ("list",),
    "sort_order": ("list",),
    "all": (*SET_ACTIONS, "runs"),
    "session_id": EVERY_ACTION_BUT_RESTORE,
    "session_name": (*NARROWED, "chat"),
    "agent_id": EVERY_ACTION_BUT_RESTORE,
    "team_id": EVERY_ACTION_BUT_RESTORE,
    "workflow_id": EVERY_ACTION_BUT_RESTORE,
    "user_id": EVERY_ACTION_BUT_RESTORE,
    "type": NARROWED,
    "before": NARROWED,
    "after": NARROWED,
    "updated_before": NARROWED,
    "updated_after": NARROWED,
    "min_runs": NARROWED,
    "max_runs": NARROWED,
    "search": NARROWED,
    "where": NARROWED,
    "name": (*NARROWED, "create"),
    "status": ("runs",),
    "last": ("runs",),
    "first": ("runs",),
    "since": ("runs",),
    "until": ("runs",),
    "state": ("create", "update"),
    "metadata": ("create", "update"),
    "summary": ("update",),
    "replace": ("update",),
    "dry_run": ("delete", "update", "clear"),
    "yes": ("delete", "update", "clear"),
    "backup_dir": ("clear",),
    "keep_copy": ("clear",),
    "count": ("list",),
    "group_by": ("list",),
    "fields": ("list", "delete", "update", "clear", "inspect", "runs", "run", "rename", "fork", "create", "restore"),
    "runs": ("list",),
    "db": ("restore", "clear"),
    "runs_only": ("restore",),
    "keep_last": ("clear",),
}
# What --update --dry-run shows of each session: what it would write.
UPDATE_PREVIEW_FIELDS = ("session_id", "session_state", "metadata", "summary")
# Actions on exactly one session, named by --session-id or --session-name.
ONE_SESSION_ACTIONS = ("rename", "runs", "run", "inspect", "fork", "compact")
# Of those, the ones that also take a set (any selection), answering per session.
ALSO_ON_SETS = ("runs",)
# Each action's function, as "module.function" in this package; modules load only when run.
ACTIONS = {
    "list": "sessions.list_sessions",
    "inspect": "sessions.inspect_session",
    "runs": "sessions.show_runs",
    "run": "sessions.show_run",
    "create": "sessions.create_session",
    "rename": "sessions.rename_session",
    "update": "updates.update_session",
    "delete": "deletion.delete_sessions",
    "clear": "clearing.clear_session",
    "export": "backup.export_to_file",
    "restore": "backup.restore_session",
    "chat": "chat.chat",
    "fork": "forking.fork_session",
    "compact": "forking.compact_session",
}
# The same actions when AgentOS's database is given (--db or $AGENTOS_DB_URL): history.py.
DATABASE_ACTIONS = {"restore": "history.restore_with_history", "clear": "history.clear_in_place"}


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


def page_size(text: str) -> int:
    """An argparse type: a page size from 1 to MAX_PAGE_SIZE."""
    if len(text.strip()) > 12 or positive_int(text) > MAX_PAGE_SIZE:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_PAGE_SIZE} sessions per page, got {text[:20]!r}")
    return int(text)


def page_number(text: str) -> int:
    """An argparse type: a page number from 1 to MAX_PAGE_NUMBER."""
    if len(text.strip()) > 12 or positive_int(text) > MAX_PAGE_NUMBER:
        raise argparse.ArgumentTypeError(f"expected a page number of at most {MAX_PAGE_NUMBER}, got {text[:20]!r}")
    return int(text)


def message_text(text: str) -> str:
    """An argparse type: a chat message with something in it."""
    if not text.strip():
        raise argparse.ArgumentTypeError("the message is empty")
    return text


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


# A duration before now that a DATE may be: 90m, 12h, 30d, 2w.
DURATION_UNITS = {"m": 60, "h": 3600, "d": 86_400, "w": 604_800}
DATE_FORMS = "ISO 8601 (2026-11-28T14:00:00Z, 20261128), Unix seconds, or a time ago (90m, 12h, 30d, 2w)"


class RelativeMoment(int):
    """Unix seconds worked out from a duration before now; `cutoff` is that moment in UTC ISO 8601."""

    @property
    def cutoff(self) -> str:
        from datetime import UTC, datetime

        return datetime.fromtimestamp(self, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def current_time() -> float:
    """Now, in Unix seconds (a function, so tests can fix the clock)."""
    return time.time()


def time_ago(value: str) -> RelativeMoment | None:
    """`30d` and the like as the moment that long before now; None when `value` is not a duration."""
    match = re.fullmatch(r"(\d{1,9})([mhdw])", value)
    if not match:
        return None
    moment = int(current_time()) - int(match.group(1)) * DURATION_UNITS[match.group(2)]
    if int(match.group(1)) < 1 or moment < 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a usable time ago; use {DATE_FORMS}")
    return RelativeMoment(moment)


def point_in_time(text: str) -> int:
    """An argparse type: ISO 8601 (YYYYMMDD is a date; UTC unless it says), Unix seconds of 10+ digits, or 30d."""
    from datetime import UTC, datetime

    value = text.strip()
    relative = time_ago(value)
    if relative is not None:
        return relative
    if re.fullmatch(r"\d{10,}(\.\d+)?", value):
        seconds = float(value)
        if seconds > MAX_UNIX_SECONDS:
            raise argparse.ArgumentTypeError(f"{value[:20]!r}... is too far in the future to be a date")
        return int(seconds)
    if re.fullmatch(r"\d+(\.\d+)?", value) and not re.fullmatch(r"\d{8}", value):
        raise argparse.ArgumentTypeError(
            f"{value[:20]!r} is ambiguous; write a date as 2026-01-31 or 20260131, Unix seconds with 10 or more digits,"
            " or a time ago with its unit (90m, 12h, 30d, 2w)"
        )
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"cannot read {text[:40]!r} as a date; use {DATE_FORMS}") from None


def where_clause(text: str) -> tuple[str, str, bool, Any]:
    """An argparse type: metadata.KEY or session_state.KEY, with =VALUE (JSON if it parses, else text)."""
    field, dot, rest = text.partition(".")
    key, equals, value_text = rest.partition("=")
    if field not in WHERE_FIELDS or not dot or not key:
        raise argparse.ArgumentTypeError(
            f"cannot read --where {text[:40]!r}; use metadata.KEY=VALUE, metadata.KEY (the key exists),"
            " session_state.KEY=VALUE or session_state.KEY"
        )
    try:
        value = strict_json(value_text) if equals else None
    except (ValueError, RecursionError):  # not JSON: compared as the text itself
        value = value_text
    return field, key, bool(equals), value


def field_names(text: str) -> tuple[str, ...]:
    """An argparse type: comma-separated field names (checked against the action later)."""
    names = tuple(name.strip() for name in text.split(","))
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected field names separated by commas, got {text!r}")
    return names


def json_object(text: str) -> dict[str, Any]:
    """An argparse type: a JSON object of bounded size."""
    import json

    if len(text) > MAX_JSON_ARGUMENT:
        raise argparse.ArgumentTypeError(f"JSON argument is larger than {MAX_JSON_ARGUMENT} characters")
    try:
        value = strict_json(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"invalid JSON ({error.msg} at position {error.pos})") from None
    except ValueError as error:  # NaN, Infinity, a number too large
        raise argparse.ArgumentTypeError(f"invalid JSON ({error})") from None
    except RecursionError:
        raise argparse.ArgumentTypeError("invalid JSON (nested too deeply)") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f'expected a JSON object like \'{{"key": "value"}}\', got {text[:40]!r}')
    if json_depth(value) > MAX_JSON_DEPTH:
        raise argparse.ArgumentTypeError(
            f"JSON nested deeper than {MAX_JSON_DEPTH} levels: AgentOS would store it and then fail to read it back"
        )
    return value


EPILOG = """\
examples:
  %(prog)s --agent-id researcher --all --json   an agent's sessions
  %(prog)s --session-id abc-123 --show-runs     its runs, oldest first
  %(prog)s --user-id bob --delete --dry-run     what it would delete
  %(prog)s --session-id abc-123 --delete
  %(prog)s --session-id abc-123 --clear --yes   drop its runs

exit codes:
  0 ok   1 server error or unexpected   2 bad usage or input (nothing sent)
  3 not found   4 access refused   5 unreachable or timed out
  6 conflict   130 interrupted   141 stdout closed early (the action ran)

DATE: 2026-11-28, 20261128 or 2026-11-28T14:00:00Z (UTC unless it says), Unix
seconds (10+ digits), or a time ago: 90m, 12h, 30d, 2w (meta.cutoffs shows it);
other all-digit values are refused as ambiguous.
"""


def build_parser(prog: str = SCRIPT_NAME) -> Parser:
    """The command line; no side effects."""
    parser = Parser(
        prog=prog,
        usage="%(prog)s [-h] [ACTION] [SELECTION] [OPTIONS]",
        description="List, inspect, change, clear, export and delete the sessions of an AgentOS.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    connection = parser.add_argument_group("connection")
    connection.add_argument("--base-url", help=f"AgentOS URL (default $AGENTOS_URL, else {DEFAULT_BASE_URL})")
    connection.add_argument(
        "--security-key", metavar="KEY", help="bearer key (default $AGENTOS_SECURITY_KEY, else $OS_SECURITY_KEY)"
    )
    connection.add_argument(
        "--timeout",
        type=positive_seconds,
        default=30.0,
        help="seconds per request or chat-event gap (default %(default)g)",
    )
    connection.add_argument(
        "--retries", type=non_negative_int, default=2, help="retries of safe requests (default %(default)s)"
    )
    connection.add_argument("--db-id", help="database id, for an AgentOS with several")
    connection.add_argument("--table", help="sessions table name (needs --db-id)")
    connection.add_argument("--allow-insecure", action="store_true", help="send the key over http to a remote host")
    connection.add_argument("--json", action="store_true", help="print one JSON document on stdout")

    actions = parser.add_argument_group(
        "actions (at most one; default: list sessions)", "ONE session: one --session-id or --session-name"
    ).add_mutually_exclusive_group()
    actions.add_argument("--show-runs", action="store_true", help="list the runs of the selected sessions")
    actions.add_argument("--create", action="store_true", help="create a session of --agent-id/--team-id/--workflow-id")
    actions.add_argument("--rename", metavar="NAME", help="rename ONE session")
    actions.add_argument("--update", action="store_true", help="merge --state/--metadata (or --replace), set --summary")
    actions.add_argument("--delete", action="store_true", help="delete the selected sessions")
    actions.add_argument("--clear", action="store_true", help="delete the selection's runs, keep the sessions")
    actions.add_argument("--export", metavar="FILE", help="write the selection and its runs to FILE ('-': stdout)")
    actions.add_argument("--restore", metavar="FILE", help="re-create the sessions of an export or backup FILE")
    actions.add_argument(
        "--chat", type=message_text, metavar="MESSAGE", help="send MESSAGE in ONE session or a new one of --agent-id"
    )
    actions.add_argument("--fork", action="store_true", help="copy ONE session, runs included, to a new one")
    actions.add_argument("--compact", action="store_true", help="fold ONE session's older runs into a summary")

    selection = parser.add_argument_group("selection (filters narrow ids and names)")
    selection.add_argument("--session-id", action="append", metavar="ID", help="this session (repeatable)")
    selection.add_argument(
        "--session-name", action="append", metavar="NAME", help="the sessions named exactly NAME (repeatable)"
    )
    selection.add_argument("--run-id", metavar="RUN", help="show one run of ONE session")
    selection.add_argument("--agent-id", help="filter by, or create for, this agent")
    selection.add_argument("--team-id", help="filter by, or create for, this team")
    selection.add_argument("--workflow-id", help="filter by, or create for, this workflow")
    selection.add_argument("--user-id", help="filter by, or create for, this user (exact)")
    selection.add_argument("--type", choices=SESSION_TYPES, help="only sessions of this type")
    selection.add_argument("--name", help="name contains NAME (any case); --create/--fork: the new name")
    selection.add_argument("--before", type=point_in_time, metavar="DATE", help="created before DATE")
    selection.add_argument("--after", type=point_in_time, metavar="DATE", help="created at or after DATE")
    selection.add_argument("--updated-before", type=point_in_time, metavar="DATE", help="last updated before DATE")
    selection.add_argument("--updated-after", type=point_in_time, metavar="DATE", help="last updated at or after DATE")
    selection.add_argument("--min-runs", type=non_negative_int, metavar="N", help="at least N runs")
    selection.add_argument("--max-runs", type=non_negative_int, metavar="N", help="at most N runs (0: never ran)")
    selection.add_argument("--search", metavar="TEXT", help="a run's input or reply contains TEXT (any case)")
    selection.add_argument(
        "--where",
        type=where_clause,
        action="append",
        metavar="F.KEY[=V]",
        help="metadata.KEY[=VALUE] or session_state.KEY[=VALUE] (repeatable, all hold)",
    )

    listing = parser.add_argument_group("listing")
    listing.add_argument("--limit", type=page_size, help=f"sessions per page (default {PAGE_SIZE})")
    listing.add_argument("--page", type=page_number, help="page number, from 1")
    listing.add_argument("--all", action="store_true", help="every page; a write with no selection: every session")
    listing.add_argument("--sort-by", type=sort_field, help=f"{', '.join(SORT_FIELDS)} (default {DEFAULT_SORT_BY})")
    listing.add_argument("--sort-order", choices=SORT_ORDERS, help=f"default {DEFAULT_SORT_ORDER} (newest first)")
    listing.add_argument("--count", action="store_true", help="print how many sessions match")
    listing.add_argument("--runs", action="store_true", help="with --count: also their runs in total")
    listing.add_argument(
        "--group-by", choices=GROUP_FIELDS, metavar="FIELD", help=f"with --count: per {', '.join(GROUP_FIELDS)}"
    )
    listing.add_argument(
        "--fields",
        type=field_names,
        metavar="A,B",
        help="only these keys of each session or run",
    )

    runs = parser.add_argument_group("runs")
    runs.add_argument("--status", type=run_status, action="append", help="only runs with this status (repeatable)")
    runs.add_argument("--since", type=point_in_time, metavar="DATE", help="only runs created at or after DATE")
    runs.add_argument("--until", type=point_in_time, metavar="DATE", help="only runs created at or before DATE")
    newest_or_oldest = runs.add_mutually_exclusive_group()
    newest_or_oldest.add_argument("--last", type=positive_int, metavar="N", help="the newest N runs of each session")
    newest_or_oldest.add_argument("--first", type=positive_int, metavar="N", help="the oldest N runs of each session")

    values = parser.add_argument_group("values for --create and --update")
    values.add_argument("--state", type=json_object, metavar="JSON", help="session state, a JSON object")
    values.add_argument("--metadata", type=json_object, metavar="JSON", help="metadata, a JSON object")
    values.add_argument("--summary", metavar="TEXT", help="summary text (--update)")
    values.add_argument("--replace", action="store_true", help="with --update: replace state/metadata, do not merge")

    safety = parser.add_argument_group("safety")
    safety.add_argument("--yes", action="store_true", help="confirm a write chosen by filters, or a --clear")
    safety.add_argument("--dry-run", action="store_true", help="preview --delete/--update/--clear; change nothing")
    safety.add_argument(
        "--backup-dir",
        metavar="DIR",
        help=f"--clear's backups (default: $AGENTOS_BACKUP_DIR, else $XDG_STATE_HOME/{BACKUP_SUBFOLDER})",
    )
    safety.add_argument("--keep-copy", action="store_true", help="with --clear: fork each session first")

    database = parser.add_argument_group("AgentOS's database (--restore and --clear only)")
    database.add_argument(
        "--db", metavar="URL", help="its SQLAlchemy URL (default $AGENTOS_DB_URL): runs come back, clear in place"
    )
    database.add_argument("--runs-only", action="store_true", help="with --restore: runs into the existing session")
    database.add_argument(
        "--keep-last", type=positive_int, metavar="N", help="with --clear: delete all runs but the newest N"
    )
    return parser


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
        "fork": args.fork,
        "compact": args.compact,
        "runs": args.show_runs,
    }
    chosen = next((name for name, on in flagged.items() if on), None)
    if args.run_id is not None and chosen not in (None, "runs"):
        usage_error("--run-id only goes with --session-id (and optionally --show-runs)")
    if args.run_id is not None and chosen in (None, "runs"):
        return "run"
    if chosen:
        return chosen
    named = len(args.session_id or []) + len(args.session_name or [])
    return "inspect" if named == 1 else "list"
