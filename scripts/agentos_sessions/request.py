"""The checked command line as the actions see it: ids, filters, values, confirmation.

Built by `cli.py`, read by every action; it sends nothing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from .errors import usage_error
from .model import DEFAULT_SORT_BY, DEFAULT_SORT_ORDER, SESSION_TYPES, checked_id
from .selection import Filters, Progress, Selection, SeveralMatch, pin_session

if TYPE_CHECKING:
    from .api import SessionsApi

# The flags that take a DATE, as argparse names them.
DATE_FLAGS = ("before", "after", "updated_before", "updated_after", "since", "until")


def owner_type(args: argparse.Namespace) -> str | None:
    """Which of --agent-id, --team-id, --workflow-id was given (at most one)."""
    owners = [kind for kind in SESSION_TYPES if getattr(args, f"{kind}_id")]
    if len(owners) > 1:
        usage_error("give only one of --agent-id, --team-id, --workflow-id", "a session has one owner")
    return owners[0] if owners else None


# At most this many ids are named in a refusal that asks for --yes.
SHOWN_IDS = 10


class Request(NamedTuple):
    """The parsed command line, checked, with what the actions need from it."""

    args: argparse.Namespace
    selection: Selection
    progress: Progress | None = None
    on_chunk: Callable[[str], None] | None = None

    @property
    def filters(self) -> Filters:
        return self.selection.filters

    def pinned(self, session_id: str) -> Request:
        """The same request, naming exactly this one session by id."""
        args = argparse.Namespace(**{**vars(self.args), "session_id": [session_id], "session_name": None})
        return self._replace(args=args, selection=self.selection._replace(session_ids=(session_id,), session_names=()))

    def check_set_scope(self, verb: str) -> None:
        """A set write with no ids, names or filters at all needs --all (checked before anything is sent)."""
        if self.selection.is_empty() and not self.args.all:
            usage_error(
                f"--{verb} without --session-id, --session-name or a filter would {verb} every session",
                "add filters (--agent-id, --user-id, --type, --name, --before, ...) or --all --yes",
            )

    def confirm_set(self, sessions: list[dict[str, Any]]) -> None:
        """A write chosen by filters (or by a name that several sessions have) needs --yes; a few are named."""
        if not self.args.yes:
            ids = [session["session_id"] for session in sessions]
            named = f": {', '.join(ids)}" if self.selection.session_names and len(ids) <= SHOWN_IDS else ""
            usage_error(
                f"{len(ids)} session(s) match{named}; nothing changed", "check them with --dry-run, then add --yes"
            )

    def chosen_by_ids(self, sessions: list[dict[str, Any]]) -> bool:
        """True when ids and names pick the sessions one for one (each name matches one), so no --yes is needed."""
        names = self.selection.session_names
        return self.selection.names_sessions() and all(
            sum(session.get("session_name") == name for session in sessions) <= 1 for name in names
        )

    @property
    def state(self) -> dict[str, Any] | None:
        return self.args.state

    @property
    def metadata(self) -> dict[str, Any] | None:
        return self.args.metadata

    def session_ids(self) -> list[str]:
        return [checked_id(value, "--session-id") for value in self.args.session_id or []]

    def single_session_id(self) -> str:
        ids = self.session_ids()
        if len(ids) != 1:
            usage_error("this action needs exactly one --session-id", "pass --session-id ID once")
        return ids[0]

    def optional_session_id(self) -> str | None:
        return self.single_session_id() if self.args.session_id else None

    def order(self) -> dict[str, str]:
        args = self.args
        return {"sort_by": args.sort_by or DEFAULT_SORT_BY, "sort_order": args.sort_order or DEFAULT_SORT_ORDER}

    def user_params(self) -> dict[str, str]:
        return {"user_id": self.args.user_id} if self.args.user_id else {}

    def cutoffs(self) -> dict[str, str]:
        """The absolute cutoff (UTC ISO 8601) of each DATE flag given as a time ago, by flag name."""
        given = {name: getattr(self.args, name, None) for name in DATE_FLAGS}
        return {name: value.cutoff for name, value in given.items() if hasattr(value, "cutoff")}

    def run_filters(self) -> dict[str, Any]:
        params: dict[str, Any] = {"status": self.args.status}
        params["created_after"], params["created_before"] = self.args.since, self.args.until
        return {key: value for key, value in params.items() if value is not None}

    def confirm(self, what: str) -> None:
        """Go on with --yes, or after 'yes' typed at a terminal; otherwise refuse."""
        if self.args.yes:
            return
        if sys.stdin.isatty() and sys.stderr.isatty():
            print(f"About to {what}. Type 'yes' to go on: ", end="", file=sys.stderr, flush=True)
            if sys.stdin.readline().strip().lower() == "yes":
                return
        usage_error(f"refusing to {what} without confirmation", "add --yes to confirm")


async def pin_single_session(api: SessionsApi, request: Request) -> Request:
    """For an action on one session: find it by name or narrow the id by the filters (exit 3 or 2)."""
    if not request.selection.names_sessions():
        return request
    return request.pinned(await pin_session(api, request.selection))


async def pin_unless_shared(api: SessionsApi, request: Request, verb: str) -> Request | None:
    """For --update, --clear, --export of one id or name: that session, or None for the set path.

    A name several sessions share is a set: a write needs --yes (a dry run shows them); an
    export only reads, so it takes them all, as an export chosen by filters does.
    """
    try:
        return await pin_single_session(api, request)
    except SeveralMatch as several:
        args, count, ids = request.args, len(several.session_ids), ", ".join(several.session_ids)
        if args.fields and not args.dry_run:
            usage_error(
                f"{count} sessions have that name ({ids}): --{verb} of several reports each id, not --fields",
                "drop --fields, or pick one with --session-id",
            )
        if verb == "export" or args.yes or args.dry_run:
            return None
        usage_error(
            f"{count} sessions are named '{request.selection.session_names[0]}': {ids}; nothing changed",
            f"add --yes to {verb} all of them, or pick one with --session-id",
        )
