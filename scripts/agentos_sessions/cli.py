"""The command line: the parser, which flags fit which action, and `main(argv) -> int`.

`--help` imports only this module, `errors.py` and `model.py`; everything that talks to
AgentOS or draws tables is imported once a command has been parsed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

from .errors import CliError, ExitCode, usage_error
from .model import SESSION_TYPES, Result

if TYPE_CHECKING:
    from .api import SessionsApi, Settings
    from .request import Request

DEFAULT_BASE_URL = "http://localhost:7777"
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
MAX_UNIX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z
# How each action is asked for on the command line, for messages.
ACTION_FLAGS = {
    "list": "listing (no action flag)",
    "runs": "--show-runs",
    "run": "--run-id",
    "inspect": "--session-id alone",
}
# Flags that only mean something for some actions; elsewhere they are refused, not ignored.
FLAG_ACTIONS = {
    "limit": ("list",),
    "page": ("list",),
    "sort_by": ("list",),
    "sort_order": ("list",),
    "all": ("list", "delete"),
    "type": ("list", "delete"),
    "before": ("list", "delete"),
    "name": ("list", "delete", "create"),
    "status": ("runs",),
    "since": ("runs",),
    "until": ("runs",),
    "state": ("create", "update"),
    "metadata": ("create", "update"),
    "summary": ("update",),
    "replace": ("update",),
    "dry_run": ("delete",),
    "yes": ("delete", "clear"),
    "backup_dir": ("clear",),
}
# Each action's function, as "module.function" in this package; modules load only when run.
ACTIONS = {
    "list": "sessions.list_sessions",
    "inspect": "sessions.inspect_session",
    "runs": "sessions.show_runs",
    "run": "sessions.show_run",
    "create": "sessions.create_session",
    "rename": "sessions.rename_session",
    "update": "sessions.update_session",
    "delete": "deletion.delete_sessions",
    "clear": "backup.clear_session",
    "export": "backup.export_to_file",
    "restore": "backup.restore_session",
    "chat": "chat.chat",
}

Action = Callable[["SessionsApi", "Request"], Awaitable[Result]]


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


def point_in_time(text: str) -> int:
    """An argparse type: ISO 8601 date-time (UTC unless it says) or Unix seconds."""
    if re.fullmatch(r"\d+(\.\d+)?", text.strip()):
        seconds = float(text)
        if seconds > MAX_UNIX_SECONDS:
            raise argparse.ArgumentTypeError(f"{text[:20]!r}... is too far in the future to be a date")
        return int(seconds)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"cannot read {text!r} as a date; use ISO 8601 (2026-11-28T14:00:00Z) or Unix seconds"
        ) from None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())


def refuse_constant(name: str) -> float:
    """json.loads hook: NaN and Infinity are not JSON and AgentOS cannot store them."""
    raise argparse.ArgumentTypeError(f"invalid JSON ({name} is not a JSON number)")


def finite_float(text: str) -> float:
    """json.loads hook: a number too large for a float is refused, not turned into infinity."""
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"invalid JSON (number {text[:20]} is too large)")
    return value


def json_object(text: str) -> dict[str, Any]:
    """An argparse type: a JSON object of bounded size."""
    if len(text) > MAX_JSON_ARGUMENT:
        raise argparse.ArgumentTypeError(f"JSON argument is larger than {MAX_JSON_ARGUMENT} characters")
    try:
        value = json.loads(text, parse_constant=refuse_constant, parse_float=finite_float)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"invalid JSON ({error.msg} at position {error.pos})") from None
    except RecursionError:
        raise argparse.ArgumentTypeError("invalid JSON (nested too deeply)") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f'expected a JSON object like \'{{"key": "value"}}\', got {text[:40]!r}')
    return value


EPILOG = """\
examples:
  %(prog)s --base-url http://localhost:7777                      list the newest sessions
  %(prog)s --agent-id researcher --user-id alice@example.com     filter the list
  %(prog)s --name research --sort-by updated_at --all --json     every matching session as JSON
  %(prog)s --session-id abc-123                                  inspect one session
  %(prog)s --session-id abc-123 --show-runs --status completed   its runs
  %(prog)s --session-id abc-123 --run-id r-1 --json              one run, whole
  %(prog)s --create --agent-id my-agent --user-id alice --name "Research Chat"
  %(prog)s --session-id abc-123 --rename "New Name"
  %(prog)s --session-id abc-123 --update --metadata '{"tag": "x"}'
  %(prog)s --session-id abc-123 --delete
  %(prog)s --delete --user-id bob --before 2026-01-01 --dry-run  what a bulk delete would remove
  %(prog)s --session-id abc-123 --clear --yes                    drop the runs, keep the session
  %(prog)s --session-id abc-123 --export backup.json
  %(prog)s --restore backup.json
  %(prog)s --agent-id assistant --chat "My name is Alice."

exit codes:
  0 ok   1 server error or unexpected   2 bad usage or input (nothing sent)   3 not found
  4 authentication/authorization refused   5 server unreachable or timed out   6 conflict
  130 interrupted

environment:
  AGENTOS_URL            default for --base-url
  AGENTOS_SECURITY_KEY   default for --security-key (else OS_SECURITY_KEY)
"""


def build_parser() -> Parser:
    """The command line; no side effects."""
    parser = Parser(
        prog="manage_sessions.py",
        description="List, inspect, create, rename, update, clear, export and delete AgentOS sessions.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    connection = parser.add_argument_group("connection")
    connection.add_argument("--base-url", help=f"AgentOS URL (default $AGENTOS_URL or {DEFAULT_BASE_URL})")
    connection.add_argument("--security-key", help="bearer key (default $AGENTOS_SECURITY_KEY, else $OS_SECURITY_KEY)")
    connection.add_argument("--timeout", type=positive_seconds, default=30.0, help="seconds per request (default 30)")
    connection.add_argument("--retries", type=non_negative_int, default=2, help="retries of safe requests (default 2)")
    connection.add_argument("--db-id", help="database id, for an AgentOS with several databases")
    connection.add_argument("--table", help="sessions table name (needs --db-id)")
    connection.add_argument(
        "--allow-insecure", action="store_true", help="allow sending the key over plain http to a remote host"
    )
    connection.add_argument("--json", action="store_true", help="print one JSON document on stdout")

    actions = parser.add_argument_group("actions (default: list sessions)").add_mutually_exclusive_group()
    actions.add_argument("--show-runs", action="store_true", help="list the runs of --session-id")
    actions.add_argument("--create", action="store_true", help="create a session (--agent-id/--team-id/--workflow-id)")
    actions.add_argument("--rename", metavar="NAME", help="rename --session-id")
    actions.add_argument("--update", action="store_true", help="update --state/--metadata/--summary of --session-id")
    actions.add_argument("--delete", action="store_true", help="delete --session-id(s), or every session matching")
    actions.add_argument("--clear", action="store_true", help="remove all runs of --session-id, keep the session")
    actions.add_argument("--export", metavar="FILE", help="write --session-id and its runs as JSON ('-' = stdout)")
    actions.add_argument("--restore", metavar="FILE", help="re-create a session from an --export/--clear file")
    actions.add_argument("--chat", metavar="MESSAGE", help="send MESSAGE to the session's agent or team")

    selection = parser.add_argument_group("selection")
    selection.add_argument("--session-id", action="append", metavar="ID", help="a session (repeat with --delete)")
    selection.add_argument("--run-id", metavar="RUN", help="show one run of --session-id")
    selection.add_argument("--agent-id", help="filter by, or create for, this agent")
    selection.add_argument("--team-id", help="filter by, or create for, this team")
    selection.add_argument("--workflow-id", help="filter by, or create for, this workflow")
    selection.add_argument("--user-id", help="filter by, or create for, this user (exact)")
    selection.add_argument("--type", choices=SESSION_TYPES, help="only sessions of this type")
    selection.add_argument("--name", help="name: a filter (case-insensitive part), or the name given by --create")
    selection.add_argument("--before", type=point_in_time, metavar="DATE", help="only sessions created before DATE")

    listing = parser.add_argument_group("listing")
    listing.add_argument("--limit", type=positive_int, help="sessions per page (default 20)")
    listing.add_argument("--page", type=positive_int, help="page number, from 1 (default 1)")
    listing.add_argument("--all", action="store_true", help="every page; with --delete, allow an unfiltered delete")
    listing.add_argument("--sort-by", type=sort_field, help=f"one of {', '.join(SORT_FIELDS)} (default created_at)")
    listing.add_argument("--sort-order", choices=("asc", "desc"), help="default desc (newest first)")

    runs = parser.add_argument_group("runs")
    runs.add_argument("--status", type=run_status, action="append", help="only runs with this status (repeatable)")
    runs.add_argument("--since", type=point_in_time, metavar="DATE", help="only runs created at or after DATE")
    runs.add_argument("--until", type=point_in_time, metavar="DATE", help="only runs created at or before DATE")

    values = parser.add_argument_group("values for --create and --update")
    values.add_argument("--state", type=json_object, metavar="JSON", help="session state, a JSON object")
    values.add_argument("--metadata", type=json_object, metavar="JSON", help="metadata, a JSON object")
    values.add_argument("--summary", metavar="TEXT", help="session summary text (--update)")
    values.add_argument("--replace", action="store_true", help="with --update: replace state/metadata, do not merge")

    safety = parser.add_argument_group("safety")
    safety.add_argument("--yes", action="store_true", help="confirm a bulk --delete or a --clear")
    safety.add_argument("--dry-run", action="store_true", help="with --delete: show what would go, delete nothing")
    safety.add_argument("--backup-dir", metavar="DIR", help="where --clear writes its backup (default: current dir)")
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
        "runs": args.show_runs,
    }
    chosen = next((name for name, on in flagged.items() if on), None)
    if args.run_id is not None and chosen not in (None, "runs"):
        usage_error("--run-id only goes with --session-id (and optionally --show-runs)")
    if args.run_id is not None and chosen in (None, "runs"):
        return "run"
    if chosen:
        return chosen
    return "inspect" if args.session_id else "list"


def resolve_settings(args: argparse.Namespace) -> Settings:
    """Connection settings from flags and environment, checked before anything is sent."""
    given_url = args.base_url if args.base_url is not None else os.environ.get("AGENTOS_URL") or DEFAULT_BASE_URL
    base_url = given_url.rstrip("/")
    key = args.security_key or os.environ.get("AGENTOS_SECURITY_KEY") or os.environ.get("OS_SECURITY_KEY") or None
    check_base_url(base_url)
    if key is not None and not re.fullmatch(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?", key):
        usage_error(
            "the security key has non-ASCII, control or surrounding space characters and cannot be sent",
            "check --security-key / $AGENTOS_SECURITY_KEY / $OS_SECURITY_KEY for a pasted newline or quote",
        )
    if key and urlsplit(base_url).scheme == "http" and not is_loopback(base_url) and not args.allow_insecure:
        usage_error(
            f"refusing to send the security key over plain http to {base_url}",
            "use https, or pass --allow-insecure if the network is trusted",
        )
    if args.table and not args.db_id:
        usage_error("--table needs --db-id", "AgentOS picks a table only within a named database")
    from .api import Settings

    return Settings(base_url, key, args.timeout, args.retries, args.db_id, args.table)


def check_base_url(base_url: str) -> None:
    """Accept only http(s)://host[:port][/path] without spaces, credentials, query or fragment."""
    try:
        parts = urlsplit(base_url)
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        parts, port_ok = urlsplit(""), False
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or not port_ok
        or re.search(r"\s", base_url)
        or parts.query
        or parts.fragment
        or "@" in parts.netloc
    ):
        usage_error(f"--base-url {base_url[:80]!r} is not an http(s) URL", "e.g. --base-url http://localhost:7777")


def is_loopback(base_url: str) -> bool:
    """True when the URL's host is this machine."""
    import ipaddress

    host = urlsplit(base_url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_request(args: argparse.Namespace, action: str, as_json: bool) -> Request:
    """Check flag combinations for the action and gather the filters."""
    from .request import Request, owner_type
    from .selection import Filters

    if action in ("rename", "update", "clear", "export", "runs", "run", "inspect") and not args.session_id:
        usage_error("this action needs --session-id", "find ids by listing sessions")
    if args.session_id and len(args.session_id) > 1 and action != "delete":
        usage_error("only --delete takes several --session-id values", "pass --session-id once")
    check_flags_fit(args, action)
    owner = owner_type(args) if action in ("list", "delete", "create", "chat") else None
    if owner and args.type and owner != args.type and action in ("list", "delete"):
        usage_error(f"--{owner}-id selects {owner} sessions but --type is {args.type}", "drop one of them")
    if action == "create" and not owner:
        usage_error("--create needs --agent-id, --team-id or --workflow-id", "e.g. --create --agent-id assistant")
    component_id = getattr(args, f"{owner}_id") if owner else None
    name = args.name if action != "create" else None
    filters = Filters(args.type, component_id, args.user_id, name, args.before)
    return Request(args, filters, *feedback_for(action, as_json))


def check_flags_fit(args: argparse.Namespace, action: str) -> None:
    """Refuse flags the chosen action would silently ignore."""
    for name, actions in FLAG_ACTIONS.items():
        if getattr(args, name) not in (None, False) and action not in actions:
            flag = "--" + name.replace("_", "-")
            allowed = ", ".join(ACTION_FLAGS.get(name, f"--{name}") for name in actions)
            usage_error(f"{flag} does not apply to {ACTION_FLAGS.get(action, f'--{action}')}", f"use it with {allowed}")


def feedback_for(action: str, as_json: bool) -> tuple[Callable[[int, int], None] | None, Callable[[str], None] | None]:
    """A progress bar and live chat output, only where a person is watching."""
    progress = on_chunk = None
    if action in ("list", "delete") and sys.stderr.isatty():
        from .output import PagesProgress

        progress = PagesProgress()
    if action == "chat" and not as_json and sys.stdout.isatty():
        from .output import print_chunk

        on_chunk = print_chunk
    return progress, on_chunk


def action_for(name: str) -> Action:
    """The function behind an action; its module is imported only now."""
    from . import backup, chat, deletion, sessions

    families = {"sessions": sessions, "deletion": deletion, "backup": backup, "chat": chat}
    family, function = ACTIONS[name].split(".")
    return getattr(families[family], function)


async def run(action: str, settings: Settings, request: Request) -> Result:
    """Open the API once and run the action."""
    from .api import SessionsApi
    from .selection import LOOKUP_CONCURRENCY, PAGE_CONCURRENCY

    try:
        async with SessionsApi(settings, max(PAGE_CONCURRENCY, LOOKUP_CONCURRENCY)) as api:
            result = await action_for(action)(api, request)
    finally:
        close = getattr(request.progress, "close", None)
        if close:
            close()
    if action == "chat" and request.on_chunk:
        return result._replace(kind="chat_streamed")
    return result


def emit_error(error: CliError, as_json: bool) -> None:
    """One line on stderr: plain, or a JSON object for --json."""
    if as_json:
        line = json.dumps({"error": error.message, "hint": error.hint, "exit_code": int(error.exit_code)})
    else:
        line = f"error: {error.message}" + (f" ({error.hint})" if error.hint else "")
    print(" ".join(line.split()), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Parse, run one action, print its result; return the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    as_json = "--json" in argv
    try:
        args = build_parser().parse_args(argv)
        action = choose_action(args)
        settings = resolve_settings(args)
        request = build_request(args, action, as_json)
        import asyncio

        result = asyncio.run(run(action, settings, request))
    except CliError as error:
        emit_error(error, as_json)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    from .output import emit

    emit(result, as_json)
    return result.exit_code
