"""What a selection asks for: named sessions and the filters that narrow them, pure.

`selection.py` fetches; this module only decides, so it needs no transport.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from .model import component_of, parse_api_time


class Filters(NamedTuple):
    """The session filters: the same everywhere a set of sessions is chosen."""

    session_type: str | None = None
    component_id: str | None = None
    user_id: str | None = None
    name: str | None = None
    before: int | None = None
    after: int | None = None
    updated_before: int | None = None
    updated_after: int | None = None
    min_runs: int | None = None
    max_runs: int | None = None
    search: str | None = None

    def server_params(self) -> dict[str, str]:
        """Query parameters AgentOS applies itself.

        Never its `session_name`: that filter sees only a stored name (not one AgentOS shows from
        the first message), matches the stored JSON text (so not a tab or a newline on SQLite) and
        lacks Unicode case folds, so names are matched here, over the listing.
        """
        params = {"type": self.session_type, "component_id": self.component_id, "user_id": self.user_id}
        return {k: v for k, v in params.items() if v}

    def server_side(self) -> Filters:
        """Only the filters AgentOS applies exactly (type, owner, user)."""
        return Filters(self.session_type, self.component_id, self.user_id)

    def without_runs(self) -> Filters:
        """These filters but the run-aware ones, which a write re-checks right before it acts."""
        return self._replace(min_runs=None, max_runs=None, search=None)

    def changeable(self) -> Filters:
        """The filters a session can stop matching after it was selected (not type, owner, user or creation)."""
        return self._replace(session_type=None, component_id=None, user_id=None, before=None, after=None)

    def needs_local_pass(self) -> bool:
        """True when some filter can only be applied here, after fetching."""
        times = (self.before, self.after, self.updated_before, self.updated_after)
        return bool(self.name) or any(value is not None for value in times) or self.needs_runs()

    def needs_runs(self) -> bool:
        """True when the runs of each candidate must be read: AgentOS cannot filter on them."""
        return self.min_runs is not None or self.max_runs is not None or bool(self.search)

    def matches(self, session: dict[str, Any]) -> bool:
        """Apply every filter that a session's own fields decide (all but the run-aware ones)."""
        if self.session_type and session.get("session_type") != self.session_type:
            return False
        if self.component_id and component_of(session) != self.component_id:
            return False
        if self.user_id and session.get("user_id") != self.user_id:
            return False
        if self.name and self.name.casefold() not in (session.get("session_name") or "").casefold():
            return False
        created, updated = parse_api_time(session.get("created_at")), parse_api_time(session.get("updated_at"))
        return within(created, self.after, self.before) and within(updated, self.updated_after, self.updated_before)

    def matches_runs(self, runs: list[dict[str, Any]] | None, run_count: int) -> bool:
        """Apply the run-aware filters, given the runs (needed only for --search) or their number."""
        if self.min_runs is not None and run_count < self.min_runs:
            return False
        if self.max_runs is not None and run_count > self.max_runs:
            return False
        if not self.search:
            return True
        needle = self.search.casefold()
        return any(needle in text.casefold() for run in runs or [] for text in run_texts(run))

    def is_empty(self) -> bool:
        return all(value is None or value == "" for value in self)


def within(moment: int, start: int | None, end: int | None) -> bool:
    """start <= moment < end, each bound optional: `after` is inclusive, `before` exclusive."""
    return (start is None or moment >= start) and (end is None or moment < end)


def run_texts(run: dict[str, Any]) -> list[str]:
    """The user's input and the reply of a run, as text, whichever fields carry them."""
    given = run.get("run_input")
    if isinstance(given, dict):
        given = given.get("input_content", given)
    reply = run.get("content")
    return [value if isinstance(value, str) else json.dumps(value) for value in (given, reply) if value is not None]


class Selection(NamedTuple):
    """Which sessions a command is about: ids and exact names it names, and filters that narrow them."""

    session_ids: tuple[str, ...] = ()
    session_names: tuple[str, ...] = ()
    filters: Filters = Filters()

    def names_sessions(self) -> bool:
        """True when ids or names were given: the filters then narrow them."""
        return bool(self.session_ids or self.session_names)

    def is_single(self) -> bool:
        """True when exactly one session is named (one id or one name), however filters narrow it."""
        return len(self.session_ids) + len(self.session_names) == 1

    def is_empty(self) -> bool:
        return not self.names_sessions() and self.filters.is_empty()

    def chose_by_name(self, session_id: str) -> tuple[str, ...]:
        """The names to re-check before writing to a session: those given, unless its id was given too."""
        return () if session_id in self.session_ids else self.session_names

    def can_change(self) -> bool:
        """True when a chosen session can stop matching before a write: a name, an update time, its runs."""
        return bool(self.session_names) or not self.filters.changeable().is_empty()
