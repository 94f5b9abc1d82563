"""The command line: checking the parsed flags, running one action, printing it: `main(argv) -> int`.

The parser and the flag tables are in `arguments.py`. `--help` imports only these two modules,
`errors.py` and `model.py`; everything that talks to AgentOS or draws tables is imported once a
command has been parsed.
"""

from __future__ import annotations

# json, urllib.parse and contextlib are imported where they are used: --help needs none of them.
import argparse
import os
import re
import sys
from collections.abc import Awaitable, Callable

from .arguments import (
    ACTION_FLAGS,
    ACTIONS,
    ALSO_ON_SETS,
    COMMAND_NAME,
    DATABASE_ACTIONS,
    DEFAULT_BASE_URL,
    FLAG_ACTIONS,
    ONE_SESSION_ACTIONS,
    SCRIPT_NAME,
    UPDATE_PREVIEW_FIELDS,
    build_parser,
    choose_action,
)
from .errors import TYPE_CHECKING, CliError, ExitCode, usage_error
from .model import (
    RUN_FIELDS,
    SESSION_FIELDS,
    Result,
    printable,
    redact_url,
    redact_urls,
)

INTERRUPTED_HINT = "check the session before repeating a change"

if TYPE_CHECKING:  # typing itself too: --help does not import it
    from .api import SessionsApi, Settings
    from .filters import Selection
    from .request import Request

Action = Callable[["SessionsApi", "Request"], Awaitable[Result]]


def resolve_settings(args: argparse.Namespace) -> Settings:
    """Connection settings from flags and environment, checked before anything is sent."""
    from urllib.parse import urlsplit

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
    from urllib.parse import urlsplit

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
        or not is_utf8(base_url)
    ):
        # Credentials and tokens in a refused URL are not echoed.
        shown = redact_url(base_url)[:80]
        usage_error(f"--base-url {shown!r} is not an http(s) URL", "e.g. --base-url http://localhost:7777")


def is_utf8(text: str) -> bool:
    """False for text holding bytes that were not UTF-8 (Python keeps them as lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_arguments_are_text(argv: list[str]) -> None:
    """Refuse arguments that are not UTF-8 before anything is parsed or sent; the value is not echoed."""
    for position, word in enumerate(argv, 1):
        if not is_utf8(word):
            previous = argv[position - 2] if position > 1 else ""
            after = f" (the value of {previous})" if previous.startswith("--") and is_utf8(previous) else ""
            usage_error(f"argument {position}{after} is not valid UTF-8 text", "pass names, ids and paths as UTF-8")


def is_loopback(base_url: str) -> bool:
    """True when the URL's host is this machine."""
    import ipaddress
    from urllib.parse import urlsplit

    host = urlsplit(base_url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_request(args: argparse.Namespace, action: str, as_json: bool) -> Request:
    """Check flag combinations for the action and gather the selection."""
    from .request import Request

    check_flags_fit(args, action)
    use_database(args, action)
    selection = build_selection(args, action)
    named = len(selection.session_ids) + len(selection.session_names)
    if action in ALSO_ON_SETS and not named and selection.is_empty() and not args.all:
        usage_error("--show-runs needs --session-id, --session-name or filters", "or --all for every session")
    if action in ONE_SESSION_ACTIONS and action not in ALSO_ON_SETS and not named:
        usage_error("this action needs --session-id or --session-name", "find sessions by listing them")
    if named > 1 and action in (*ONE_SESSION_ACTIONS, "chat") and action not in ALSO_ON_SETS:
        usage_error("this action works on one session: give one --session-id or --session-name", "see --help")
    check_fields(args, action)
    check_paging(args, selection)
    if args.group_by and not args.count:
        usage_error("--group-by goes with --count", "e.g. --count --group-by user_id")
    if args.runs and not args.count:
        usage_error("--runs goes with --count", "e.g. --count --runs --group-by agent_id")
    if args.all and args.page:
        usage_error("--all fetches every page, so --page does not apply", "drop --page, or --all")
    if action in ("update", "clear", "export") and selection.is_empty() and not args.all:
        usage_error(f"--{action} needs --session-id, --session-name or filters", "or --all for every session")
    return Request(args, selection, *feedback_for(action, as_json))


def check_fields(args: argparse.Namespace, action: str) -> None:
    """Refuse --fields naming anything the action's sessions or runs do not have; nothing is sent."""
    if args.fields is None:
        return
    known = RUN_FIELDS if action in ("runs", "run") else SESSION_FIELDS
    if action == "update" and args.dry_run:
        known = UPDATE_PREVIEW_FIELDS
    unknown = [name for name in args.fields if name not in known]
    if unknown:
        usage_error(f"unknown field(s) for this action: {', '.join(unknown)}", f"valid fields: {', '.join(known)}")
    if args.count:
        usage_error("--fields does not apply to --count", "drop one of them")
    named = len(args.session_id or []) + len(args.session_name or [])
    prints_sessions = {"update": named == 1 or args.dry_run, "clear": named == 1 or args.dry_run}
    if not prints_sessions.get(action, action != "delete" or args.dry_run):
        usage_error(
            f"--fields picks fields of sessions, and --{action} here prints what it did to each id",
            "use --fields with --dry-run, or with one --session-id",
        )


def check_paging(args: argparse.Namespace, selection: Selection) -> None:
    """Refuse paging and sorting that the answer would not follow: a count, or sessions named one by one."""
    paging = {"--limit": args.limit, "--page": args.page, "--sort-by": args.sort_by, "--sort-order": args.sort_order}
    given = [flag for flag, value in paging.items() if value is not None]
    if args.count and given:
        usage_error(f"{given[0]} does nothing with --count: it counts every matching session", f"drop {given[0]}")
    if not selection.names_sessions():
        return
    for flag in ("--sort-by", "--sort-order", "--all"):
        if flag in given or (flag == "--all" and args.all):
            usage_error(f"{flag} does nothing with --session-id/--session-name: they name the sessions", f"drop {flag}")
    if args.page and not args.limit:
        usage_error("--page with --session-id/--session-name needs --limit", "add --limit N, or drop --page")


def build_selection(args: argparse.Namespace, action: str) -> Selection:
    """The ids, names and filters given; for --create and --fork, --name is the new name, not a filter."""
    from .filters import Filters, Selection, WhereClause
    from .model import checked_id
    from .request import owner_type

    owner = owner_type(args)
    if owner and action in ("create", "chat"):  # the owner's id goes into a URL path (chat) or a new session
        checked_id(getattr(args, f"{owner}_id"), f"--{owner}-id")
    if owner and args.type and owner != args.type:
        usage_error(f"--{owner}-id selects {owner} sessions but --type is {args.type}", "drop one of them")
    if action == "create" and not owner:
        usage_error("--create needs --agent-id, --team-id or --workflow-id", "e.g. --create --agent-id assistant")
    component_id = getattr(args, f"{owner}_id") if owner and action not in ("create", "chat") else None
    name = args.name if action not in ("create", "fork") else None
    filters = Filters(
        args.type,
        component_id,
        args.user_id,
        name,
        args.before,
        args.after,
        args.updated_before,
        args.updated_after,
        args.min_runs,
        args.max_runs,
        args.search,
        tuple(WhereClause(*clause) for clause in args.where or ()),
    )
    ids = tuple(checked_id(value, "--session-id") for value in args.session_id or [])
    names = tuple(args.session_name or [])
    if any(not name for name in names):
        usage_error("--session-name is empty", "give the whole name of a session")
    return Selection(ids if action != "create" else (), names, filters)


def check_flags_fit(args: argparse.Namespace, action: str) -> None:
    """Refuse flags the chosen action would silently ignore."""
    for name, actions in FLAG_ACTIONS.items():
        value = getattr(args, name)
        # `is`, not `in (None, False)`: 0 == False, and `--max-runs 0` is a flag given.
        if value is not None and value is not False and action not in actions:
            flag = "--" + name.replace("_", "-")
            allowed = ", ".join(ACTION_FLAGS.get(name, f"--{name}") for name in actions)
            usage_error(f"{flag} does not apply to {ACTION_FLAGS.get(action, f'--{action}')}", f"use it with {allowed}")


def use_database(args: argparse.Namespace, action: str) -> None:
    """--db, else $AGENTOS_DB_URL for --restore and --clear; --runs-only and --keep-last need one."""
    if action in DATABASE_ACTIONS and not args.db:
        args.db = os.environ.get("AGENTOS_DB_URL") or None
    if args.db is not None and not args.db.strip():
        usage_error("--db is empty", "give AgentOS's database URL, e.g. sqlite:///path/agentos.db")
    for flag, needs in (("runs_only", "runs cannot be inserted"), ("keep_last", "single runs cannot be deleted")):
        if getattr(args, flag) and not args.db:
            usage_error(
                f"--{flag.replace('_', '-')} needs --db URL (or $AGENTOS_DB_URL)",
                f"through AgentOS's API {needs}; give the database AgentOS uses",
            )


def feedback_for(action: str, as_json: bool) -> tuple[Callable[[int, int], None] | None, Callable[[str], None] | None]:
    """A progress bar and live chat output, only where a person is watching."""
    progress = on_chunk = None
    if action in ("list", "delete", "runs") and sys.stderr.isatty():
        from .output import PagesProgress

        progress = PagesProgress()
    if action == "chat" and not as_json and sys.stdout.isatty():
        from .output import print_chunk

        on_chunk = print_chunk
    return progress, on_chunk


def action_for(name: str, via_database: bool = False) -> Action:
    """The function behind an action; its module is imported only now."""
    if via_database and name in DATABASE_ACTIONS:
        from . import history

        return getattr(history, DATABASE_ACTIONS[name].split(".")[1])
    from . import backup, chat, clearing, deletion, forking, sessions, updates

    families = {
        "sessions": sessions,
        "updates": updates,
        "deletion": deletion,
        "backup": backup,
        "clearing": clearing,
        "chat": chat,
        "forking": forking,
    }
    family, function = ACTIONS[name].split(".")
    return getattr(families[family], function)


def pins_one_session(action: str, request: Request) -> bool:
    """True when the action works on one session that must be found first (by name, or narrowed by filters)."""
    if action in ALSO_ON_SETS:
        return request.selection.is_single()
    return action in ONE_SESSION_ACTIONS or (action == "chat" and bool(request.selection.session_names))


async def run(action: str, settings: Settings, request: Request) -> Result:
    """Open the API once and run the action."""
    from .api import SessionsApi
    from .jsonstream import Streamed
    from .model import shaped, with_cutoffs
    from .request import pin_single_session
    from .selection import LOOKUP_CONCURRENCY, PAGE_CONCURRENCY

    try:
        async with SessionsApi(settings, max(PAGE_CONCURRENCY, LOOKUP_CONCURRENCY)) as api:
            if pins_one_session(action, request):
                request = await pin_single_session(api, request)
            result = await action_for(action, via_database=bool(request.args.db))(api, request)
            if isinstance(result.data, Streamed):  # a set answer, written page by page as it is read
                from .output import emit_streamed

                return await emit_streamed(result, request.args.json)
            result = await with_counts_asked_for(api, request, result)
            result = with_cutoffs(shaped(result, request.args.fields), request.cutoffs())
    finally:
        close = getattr(request.progress, "close", None)
        if close:
            close()
    if action == "chat" and request.on_chunk:
        return result._replace(kind="chat_streamed")
    return result


async def with_counts_asked_for(api: SessionsApi, request: Request, result: Result) -> Result:
    """--fields run_count on any list of sessions: count the runs of those that were not counted yet."""
    from .model import LIST_KINDS
    from .selection import with_run_counts

    sessions = result.data["data"] if result.kind in LIST_KINDS else []
    if "run_count" not in (request.args.fields or ()) or all("run_count" in session for session in sessions):
        return result
    counted = await with_run_counts(api, sessions, request.progress)
    return result._replace(data={**result.data, "data": counted})


def emit_error(error: CliError, as_json: bool) -> None:
    """One line on stderr: plain, or a JSON object for --json; URLs redacted, terminal controls escaped."""
    message, hint = redact_urls(error.message), redact_urls(error.hint)
    if as_json:
        import json

        line = json.dumps({"error": message, "hint": hint, "exit_code": int(error.exit_code)})
    else:
        line = f"error: {message}" + (f" ({hint})" if hint else "")
    print(printable(" ".join(line.split())), file=sys.stderr)


def interrupted(as_json: bool) -> int:
    """Ctrl-C: a line on stderr (the JSON error with --json) and exit 130."""
    if as_json:
        emit_error(CliError("interrupted", ExitCode.INTERRUPTED, INTERRUPTED_HINT), as_json)
    else:
        print("interrupted", file=sys.stderr)
    return ExitCode.INTERRUPTED


def emit_result(result: Result, as_json: bool) -> int:
    """Print the result; a reader that left (`| head -1`) ends it quietly with 141, as Unix tools do."""
    import contextlib

    from .output import emit

    try:
        emit(result, as_json)
    except BrokenPipeError:
        # Python flushes stdout again at exit: point it at /dev/null so that flush cannot fail.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.BROKEN_PIPE
    return result.exit_code


def main(argv: list[str] | None = None, prog: str = SCRIPT_NAME) -> int:
    """Parse, run one action, print its result; return the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    as_json = "--json" in argv
    try:
        check_arguments_are_text(argv)
        args = build_parser(prog).parse_args(argv)
        action = choose_action(args)
        settings = resolve_settings(args)
        request = build_request(args, action, as_json)
        import asyncio

        result = asyncio.run(run(action, settings, request))
    except CliError as error:
        report = getattr(error, "result", None)  # a set write cut short: what was and was not done
        if report is not None:
            emit_result(report, as_json)
        emit_error(error, as_json)
        return error.exit_code
    except KeyboardInterrupt:
        return interrupted(as_json)
    return emit_result(result, as_json)


def command_main() -> int:
    """The `agentos-sessions` command (pyproject.toml's [project.scripts]): `main`, named so in --help."""
    return main(prog=COMMAND_NAME)
