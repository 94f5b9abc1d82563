"""What a selection asks for: named sessions and the filters that narrow them, pure.

`selection.py` fetches; this module only decides, so it needs no transport.
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from typing import Any, NamedTuple

from .model import SNIPPET_LIMIT, component_of, parse_api_time, printable, search_match


class WhereClause(NamedTuple):
    """One --where: FIELD.KEY exists, or (with a value) equals VALUE as JSON."""

    field: str
    key: str
    has_value: bool = False
    value: Any = None

    def holds(self, session: dict[str, Any]) -> bool:
        """True when the session's field has the key (with the value, when one was given)."""
        container = session.get(self.field)
        if not isinstance(container, dict) or self.key not in container:
            return False
        return not self.has_value or json_equal(container[self.key], self.value)


def json_equal(left: Any, right: Any) -> bool:
    """Equality as JSON sees it: `true` is not `1`, `1` is `1.0`, objects and arrays compared deeply."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(left[key], right[key]) for key in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(json_equal(a, b) for a, b in zip(left, right, strict=True))
    numbers = (int, float)
    if isinstance(left, numbers) and isinstance(right, numbers):
        return left == right
    return type(left) is type(right) and left == right


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
    where: tuple[WhereClause, ...] = ()

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
        return bool(self.name or self.where) or any(value is not None for value in times) or self.needs_runs()

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
        if not all(clause.holds(session) for clause in self.where):
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

    def search_matches(self, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Where --search matched: per matching run, the part (input first, then reply) and a snippet."""
        found = []
        for run in runs if self.search else []:
            for where, text in run_parts(run):
                span = folded_find(text, self.search or "")
                if span:
                    found.append(search_match(run, where, snippet(text, *span)))
                    break
        return found

    def run_matches(self, run: dict[str, Any]) -> bool:
        """True when --search is not given, or finds its text in this run's input or reply."""
        return not self.search or any(folded_find(text, self.search) for _where, text in run_parts(run))

    def is_empty(self) -> bool:
        return all(value is None or value in ("", ()) for value in self)


def within(moment: int, start: int | None, end: int | None) -> bool:
    """start <= moment < end, each bound optional: `after` is inclusive, `before` exclusive."""
    return (start is None or moment >= start) and (end is None or moment < end)


def run_parts(run: dict[str, Any]) -> list[tuple[str, str]]:
    """("input", text) and ("reply", text) of a run, whichever fields carry them, as text."""
    given = run.get("run_input")
    if isinstance(given, dict):
        given = given.get("input_content", given)
    parts = (("input", given), ("reply", run.get("content")))
    return [(where, text if isinstance(text, str) else json.dumps(text)) for where, text in parts if text is not None]


def run_texts(run: dict[str, Any]) -> list[str]:
    """The user's input and the reply of a run, as text."""
    return [text for _where, text in run_parts(run)]


def folded_find(text: str, needle: str) -> tuple[int, int] | None:
    """(start, end) in `text` of the first case-insensitive occurrence of `needle` (casefold, as the filter)."""
    folded_needle = needle.casefold()
    # casefold can lengthen a character ("ß" -> "ss"): keep where each character starts when folded.
    starts, offset = [], 0
    for character in text:
        starts.append(offset)
        offset += len(character.casefold())
    position = "".join(character.casefold() for character in text).find(folded_needle)
    if position < 0 or not folded_needle:
        return None
    first = bisect_right(starts, position) - 1
    return first, max(bisect_left(starts, position + len(folded_needle)), first + 1)


def shown_character(character: str) -> str:
    """A character as a snippet shows it: line breaks and tabs as a space, other controls as \\uXXXX."""
    return " " if character in "\n\r\t" else printable(character)


def snippet(text: str, start: int, end: int, limit: int = SNIPPET_LIMIT) -> str:
    """At most `limit` shown characters of `text` around [start, end), "…" where it was cut."""
    # Only a window around the match is ever shown, so a long run costs no more than a short one.
    low, high = max(0, start - limit), min(len(text), max(end, start + limit) + limit)
    shown = {index: shown_character(text[index]) for index in range(low, high)}
    if high - low == len(text) and sum(map(len, shown.values())) <= limit:
        return "".join(shown.values())
    room = limit - 2  # for an "…" at either end
    first = last = start
    while last < end and len(shown[last]) <= room:
        room, last = room - len(shown[last]), last + 1
    grew = True
    while grew:  # context after and before the match, in turn, while it fits
        grew = False
        if last < high and len(shown[last]) <= room:
            room, last, grew = room - len(shown[last]), last + 1, True
        if first > low and len(shown[first - 1]) <= room:
            room, first, grew = room - len(shown[first - 1]), first - 1, True
    before, after = "…" if first > 0 else "", "…" if last < len(text) else ""
    return before + "".join(shown[index] for index in range(first, last)) + after


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
