"""The checked command line as the actions see it: ids, filters, values, confirmation.

Built by `cli.py`, read by every action; it sends nothing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

from .errors import usage_error
from .model import SESSION_TYPES, checked_id
from .selection import Filters, Progress


def owner_type(args: argparse.Namespace) -> str | None:
    """Which of --agent-id, --team-id, --workflow-id was given (at most one)."""
    owners = [kind for kind in SESSION_TYPES if getattr(args, f"{kind}_id")]
    if len(owners) > 1:
        usage_error("give only one of --agent-id, --team-id, --workflow-id", "a session has one owner")
    return owners[0] if owners else None


class Request(NamedTuple):
    """The parsed command line, checked, with what the actions need from it."""

    args: argparse.Namespace
    filters: Filters
    progress: Progress | None = None
    on_chunk: Callable[[str], None] | None = None

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
        return {"sort_by": self.args.sort_by or "created_at", "sort_order": self.args.sort_order or "desc"}

    def user_params(self) -> dict[str, str]:
        return {"user_id": self.args.user_id} if self.args.user_id else {}

    def scope_kwargs(self) -> dict[str, Any]:
        return {"user_id": self.args.user_id, "db_id": self.args.db_id, "table": self.args.table}

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

    def check_bulk_delete_scope(self) -> None:
        if self.filters.is_empty() and not self.args.all:
            usage_error(
                "--delete without --session-id or a filter would delete every session",
                "add filters (--agent-id, --user-id, --type, --name, --before) or --all --yes",
            )

    def check_bulk_delete_confirmed(self, count: int) -> None:
        if not self.args.yes:
            usage_error(f"{count} session(s) match; nothing deleted", "check them with --dry-run, then add --yes")
