"""Reading GET /sessions page by page: every page, pages as they come, or only as far as a time filter needs.

Whatever the way, each session is read exactly once even when pages shift under the reader
(sessions created, deleted or updated meanwhile; rows with equal sort keys in no fixed order).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, NamedTuple

from .api import SessionsApi
from .errors import CliError, ExitCode, not_agentos
from .filters import Filters
from .model import is_session_page, parse_api_time

# Pages of --all and of filtered listings: large, because AgentOS pages with OFFSET, which costs
# the server more the further it goes (measured: linear at 2,000, not at 500).
ALL_PAGE_SIZE = 2000
PAGE_CONCURRENCY = 4
# A reading that stops at a time cutoff reads little past it: pages one after another, the first
# small and each as large as all read before (TIME_PAGE_SIZE at most; OFFSET paging needs each
# page's start to be a multiple of its size: 125, 125, 250, 500, 1000, 1000 ...). Past this
# many pages of TIME_PAGE_SIZE the matches are clearly many, and pages are read a few at a time.
FIRST_TIME_PAGE = 125
TIME_PAGE_SIZE = 1000
SEQUENTIAL_TIME_PAGES = 4
# How often a reader whose pages shifted starts again before it gives up.
MAX_PASSES = 5
TIME_FIELDS = ("created_at", "updated_at")
# What AgentOS sorts by when a listing names no order.
DEFAULT_ORDER = {"sort_by": "created_at", "sort_order": "desc"}

Session = dict[str, Any]
# progress(done, total, unit): how far a long fetch has come ("pages", "sessions").
Progress = Callable[[int, int, str], None]


async def fetch_page(api: SessionsApi, params: dict[str, Any], page: int, limit: int) -> dict[str, Any]:
    """One page of GET /sessions."""
    document = await api.read("/sessions", {**params, "page": page, "limit": limit})
    if not is_session_page(document):
        raise not_agentos(api.settings.base_url, "GET /sessions")
    return document


async def fetch_all_pages(
    api: SessionsApi, params: dict[str, Any], page_size: int, progress: Progress | None = None
) -> list[Session]:
    """Every page of GET /sessions, in server order, held in memory (for the actions that need them all at once)."""
    sessions: list[Session] = []
    pages = PageReader(api, params, page_size, progress)
    async for page in pages.in_order():
        sessions.extend(page)
    unique = unique_sessions(sessions)
    if pages.shifted(len(unique)):
        # Rows with equal sort keys have no fixed order (PostgreSQL), and sessions created or
        # deleted meanwhile (the total changed between pages) shift the pages, so pages can
        # overlap and miss rows: one page holding everything has a single order.
        return await fetch_in_one_page(api, params, pages.total)
    return unique


async def fetch_in_one_page(api: SessionsApi, params: dict[str, Any], at_least: int) -> list[Session]:
    """Every session in one page, as large as the server's total is now (it may have grown)."""
    limit = max(at_least, 1)
    for _ in range(MAX_PASSES):
        document = await fetch_page(api, params, 1, limit)
        total = document["meta"].get("total_count", 0)
        if not isinstance(total, int) or total <= limit:
            return unique_sessions(document["data"])
        limit = total + max(100, total // 10)
    raise too_busy()


def too_busy() -> CliError:
    return CliError("sessions kept being created faster than they could be listed", ExitCode.ERROR, "try again")


def unique_sessions(sessions: Iterable[Session]) -> list[Session]:
    """Drop rows that appear on two pages."""
    seen: set[str] = set()
    unique = []
    for session in sessions:
        if session["session_id"] not in seen:
            seen.add(session["session_id"])
            unique.append(session)
    return unique


class PageReader:
    """The pages of one listing in order, a few fetched ahead; what it saw tells whether the pages shifted."""

    def __init__(
        self, api: SessionsApi, params: dict[str, Any], page_size: int, progress: Progress | None = None
    ) -> None:
        self.api, self.params, self.page_size, self.progress = api, params, page_size, progress
        self.total = 0
        self.totals: set[Any] = set()

    async def in_order(self) -> AsyncIterator[list[Session]]:
        """Page 1, then the others in order while up to PAGE_CONCURRENCY are fetched ahead (memory stays flat)."""
        first = await fetch_page(self.api, self.params, 1, self.page_size)
        self.total, total_pages = first["meta"].get("total_count", 0), first["meta"]["total_pages"] or 1
        self.totals.add(self.total)
        self.report(1, total_pages)
        yield first["data"]
        if not first["data"]:
            return  # nothing at all, whatever the total says
        ahead: deque[asyncio.Task[dict[str, Any]]] = deque()
        numbers = iter(range(2, total_pages + 1))
        try:
            while True:
                while len(ahead) < PAGE_CONCURRENCY and (number := next(numbers, None)) is not None:
                    ahead.append(asyncio.ensure_future(fetch_page(self.api, self.params, number, self.page_size)))
                if not ahead:
                    return
                document = await ahead.popleft()
                self.totals.add(document["meta"].get("total_count"))
                self.report(document["meta"].get("page", 0), total_pages)
                if not document["data"]:
                    return  # past the real end: the total shrank
                yield document["data"]
        finally:
            for task in ahead:
                task.cancel()
            await asyncio.gather(*ahead, return_exceptions=True)

    def shifted(self, unique_seen: int) -> bool:
        """True when rows may have been missed: fewer distinct rows than the total, or the total changed."""
        return unique_seen < self.total or len(self.totals) > 1

    def report(self, page: int, total_pages: int) -> None:
        if self.progress:
            self.progress(page, total_pages, "pages")


async def stream_pages(
    api: SessionsApi, params: dict[str, Any], page_size: int, progress: Progress | None = None
) -> AsyncIterator[list[Session]]:
    """Every session of a listing, page by page as read, each exactly once, holding only the ids already given.

    If the pages shifted, the listing is read again in session_id order (unique, so fixed) and the
    sessions not given yet follow at the end, until a pass saw the same total throughout.
    """
    given: set[str] = set()
    reader = PageReader(api, params, page_size, progress)
    for again in range(MAX_PASSES):
        in_pass, rows = set(), 0
        async for page in reader.in_order():
            fresh = [session for session in page if session["session_id"] not in given]
            given.update(session["session_id"] for session in fresh)
            in_pass.update(session["session_id"] for session in page)
            rows += len(page)
            yield fresh
        # In session_id order, a pass whose total held still and that saw no row twice is whole,
        # even if the server's total promised more rows than it has.
        steady = again and len(reader.totals) == 1 and len(in_pass) == rows
        if steady or not reader.shifted(len(in_pass)):
            return
        reader = PageReader(api, {**params, "sort_by": "session_id", "sort_order": "asc"}, page_size)
    raise too_busy()


class Stop(NamedTuple):
    """Where a time filter lets a reading stop: read `field` in `order` until a row is past `cutoff`."""

    field: str
    order: str
    cutoff: int

    def passed(self, session: Session) -> bool:
        """True when this row, and so every row after it in this order, is outside the filter."""
        # AgentOS sorts a missing updated_at as the created_at (COALESCE), so this reads it the same way.
        moment = parse_api_time(session.get(self.field) or session.get("created_at"))
        return moment >= self.cutoff if self.order == "asc" else moment < self.cutoff

    def params(self) -> dict[str, str]:
        return {"sort_by": self.field, "sort_order": self.order}


def time_stop(filters: Filters, order: dict[str, str] | None) -> Stop | None:
    """The bound that lets a reading stop early, preferring one read in the order asked for (no re-ordering).

    --before and --updated-before both bound created_at from above (a session is updated after it
    is created), and created_at never changes, so updates made meanwhile cannot shift those pages.
    """
    upper = [moment for moment in (filters.before, filters.updated_before) if moment is not None]
    stops = [
        *([Stop("created_at", "asc", min(upper))] if upper else []),
        *([Stop("created_at", "desc", filters.after)] if filters.after is not None else []),
        *([Stop("updated_at", "desc", filters.updated_after)] if filters.updated_after is not None else []),
    ]
    wanted = [stop for stop in stops if order is not None and stop.params() == {**DEFAULT_ORDER, **order}]
    return (wanted or stops or [None])[0]


async def read_until(
    api: SessionsApi, params: dict[str, Any], stop: Stop, keep: Callable[[Session], bool], page_size: int
) -> list[Session]:
    """The rows `keep` chooses, reading in the stop's order only until a page ends past the cutoff.

    `page_size`: the listing's; pages here are at most TIME_PAGE_SIZE. Only a page whose LAST row
    is past the cutoff ends the reading: rows with the cutoff's own timestamp (seconds) may fill
    several pages. Pages that shifted meanwhile are read again as one.
    """
    params = {**params, **stop.params()}
    page_size = min(page_size, TIME_PAGE_SIZE)
    ids: set[str] = set()
    kept: list[Session] = []
    totals: set[Any] = set()
    read, done = 0, False
    while not done:
        # Growing pages only at the default size (FIRST_TIME_PAGE times a power of two); a page size
        # given with --limit is kept as given.
        limit = min(max(FIRST_TIME_PAGE, read), page_size) if page_size == TIME_PAGE_SIZE else page_size
        batch = 1 if read < SEQUENTIAL_TIME_PAGES * page_size else PAGE_CONCURRENCY
        pages = range(read // limit + 1, read // limit + 1 + batch)
        documents = await asyncio.gather(*(fetch_page(api, params, page, limit) for page in pages))
        for document in documents:
            rows = document["data"]
            totals.add(document["meta"].get("total_count"))
            read += len(rows)
            ids.update(row["session_id"] for row in rows)
            kept.extend(row for row in rows if keep(row))
            done = len(rows) < limit or stop.passed(rows[-1])
            if done:
                break
    if len(ids) < read or len(totals) > 1:
        return await read_until_in_one_page(api, params, stop, keep, read)
    return kept


async def read_until_in_one_page(
    api: SessionsApi, params: dict[str, Any], stop: Stop, keep: Callable[[Session], bool], at_least: int
) -> list[Session]:
    """The chosen rows from one page (a single order) that reaches past the cutoff, grown until it does."""
    limit = max(at_least, 1)
    for _ in range(MAX_PASSES):
        rows = (await fetch_page(api, params, 1, limit))["data"]
        if len(rows) < limit or stop.passed(rows[-1]):
            return unique_sessions(row for row in rows if keep(row))
        limit *= 2
    raise too_busy()


def in_order(sessions: list[Session], order: dict[str, str] | None, read_as: Stop) -> list[Session]:
    """Sessions read in a time filter's order, put in the order asked for (nulls first ascending, as SQLite)."""
    if order is None or {**DEFAULT_ORDER, **order} == read_as.params():
        return sessions
    order = {**DEFAULT_ORDER, **order}
    field = order["sort_by"]

    def key(session: Session) -> tuple[bool, Any]:
        value = session.get(field)
        if field in TIME_FIELDS:
            value = parse_api_time(value)
        return (value is not None, value if value is not None else "")

    return sorted(sessions, key=key, reverse=order["sort_order"] == "desc")
