"""Read only what is needed, in flat memory (issue 23): time filters stop at their cutoff, set answers stream.

Rows read are counted through the fault proxy: the GET /sessions pages answered, each as many rows
as its page and limit held. The big sizes are in benchmarks/bench_memory.py, not here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from agentos_sessions import paging
from agentos_sessions.jsonstream import ListWriter
from agentos_sessions.model import parse_api_time, printable
from cli_helpers import Cli
from conftest import AgentOSServer, start_server, stop_server
from faultproxy import FaultProxy
from test_sets import make, new_user

SEEDED = 300


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentOSServer]:
    """An AgentOS of its own with 300 sessions, one second apart (40 of them updated by real runs)."""
    server = start_server(tmp_path_factory.mktemp("agentos-300"), "--seed", str(SEEDED))
    yield server
    stop_server(server)


@pytest.fixture
def counted(seeded: AgentOSServer, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch) -> Iterator[Any]:
    """The CLI through a counting proxy in front of the 300-session server, reading time pages of 3 rows."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(paging, "TIME_PAGE_SIZE", 3)
    with FaultProxy(seeded.url) as proxy:
        yield Cli(capsys, proxy.url), proxy


def every_session(server: AgentOSServer) -> list[dict[str, Any]]:
    """All sessions of the server, newest first, in one page (what the CLI must agree with)."""
    params = {"limit": 10_000, "sort_by": "created_at", "sort_order": "desc"}
    return httpx.get(f"{server.url}/sessions", params=params, timeout=60).json()["data"]


def rows_read(proxy: FaultProxy, total: int) -> int:
    """Rows the answered GET /sessions pages held (no server-side filter: `total` rows in all)."""
    rows = 0
    for seen in proxy.seen(method="GET", path="/sessions"):
        query = parse_qs(seen.query)
        page, limit = int(query["page"][0]), int(query["limit"][0])
        rows += max(0, min(limit, total - (page - 1) * limit))
    return rows


def created(session: dict[str, Any]) -> int:
    return parse_api_time(session["created_at"])


def updated(session: dict[str, Any]) -> int:
    return parse_api_time(session["updated_at"])


# Time filters read only as far as their cutoff


def test_an_updated_before_matching_one_percent_reads_about_one_percent(counted, seeded: AgentOSServer) -> None:
    via, proxy = counted
    sessions = every_session(seeded)
    oldest = sorted(created(session) for session in sessions)
    cutoff = oldest[SEEDED // 100]  # three sessions were created before it
    expected = sum(updated(session) < cutoff for session in sessions)
    assert via.json("--updated-before", str(cutoff), "--count") == {"count": expected}
    # Read oldest first, stopping after the first page that ends past the cutoff: 3 rows, then one page of 3.
    assert rows_read(proxy, len(sessions)) <= SEEDED // 100 + 3
    for seen in proxy.seen(method="GET", path="/sessions"):
        assert parse_qs(seen.query)["sort_by"] == ["created_at"] and parse_qs(seen.query)["sort_order"] == ["asc"]


def test_an_after_filter_reads_newest_first_and_stops_at_its_cutoff(counted, seeded: AgentOSServer) -> None:
    via, proxy = counted
    sessions = every_session(seeded)
    cutoff = created(sessions[9])  # the ten newest were created at or after it
    listed = via.json("--after", str(cutoff), "--all")
    assert [s["session_id"] for s in listed["data"]] == [s["session_id"] for s in sessions if created(s) >= cutoff]
    assert listed["meta"] == {"total_count": 10}
    assert rows_read(proxy, len(sessions)) <= 10 + 3


def test_a_before_filter_read_oldest_first_still_lists_newest_first(counted, seeded: AgentOSServer) -> None:
    via, proxy = counted
    sessions = every_session(seeded)
    cutoff = created(sessions[-12])  # the eleven oldest were created before it
    listed = via.json("--before", str(cutoff), "--all")
    assert [s["session_id"] for s in listed["data"]] == [s["session_id"] for s in sessions if created(s) < cutoff]
    assert len(listed["data"]) == 11 and rows_read(proxy, len(sessions)) <= 11 + 3
    by_name = via.json("--before", str(cutoff), "--all", "--sort-by", "session_id", "--sort-order", "asc")
    assert [s["session_id"] for s in by_name["data"]] == sorted(s["session_id"] for s in listed["data"])


def test_a_dry_run_delete_by_before_reads_little_and_shows_newest_first(counted, seeded: AgentOSServer) -> None:
    via, proxy = counted
    sessions = every_session(seeded)
    cutoff = created(sessions[-6])  # the five oldest were created before it
    shown = via.json("--delete", "--before", str(cutoff), "--dry-run")
    assert [s["session_id"] for s in shown["data"]] == [s["session_id"] for s in sessions if created(s) < cutoff]
    assert len(shown["data"]) == 5 and rows_read(proxy, len(sessions)) <= 5 + 3


def test_sessions_sharing_the_cutoffs_second_across_pages_are_all_found(counted, seeded: AgentOSServer) -> None:
    """Seven sessions one second before the cutoff and three at it: pages of 3 end on ties, none is lost."""
    from agno.db.sqlite import SqliteDb
    from agno.session import AgentSession

    via, _proxy = counted
    user, cutoff = new_user(), 1_700_000_000  # older than every seeded session: these come first, oldest first
    rows = [(f"tie-{n}", cutoff - 1) for n in range(7)] + [(f"at-{n}", cutoff) for n in range(3)]
    sessions = [
        AgentSession(session_id=f"{name}-{user}", agent_id="assistant", user_id=user, created_at=at, updated_at=at)
        for name, at in rows
    ]
    SqliteDb(db_file=str(seeded.db)).upsert_sessions(sessions, preserve_updated_at=True)
    for flag in ("--before", "--updated-before"):
        listed = via.json("--user-id", user, flag, str(cutoff), "--all")
        assert sorted(s["session_id"] for s in listed["data"]) == sorted(f"tie-{n}-{user}" for n in range(7))
    after = via.json("--user-id", user, "--after", str(cutoff), "--all")
    assert sorted(s["session_id"] for s in after["data"]) == sorted(f"at-{n}-{user}" for n in range(3))


# Set answers stream: the same document, each session once


def test_json_written_in_pieces_is_byte_for_byte_json_dumps_of_the_whole() -> None:
    items = [{"a": [1, {"b": []}], "t": "line\nbreak \x1b[31m \u202e é"}, {}, [], "x", {"nested": {"deep": [[]]}}]
    for layout in ({"indent": 2}, {"separators": (",", ":")}):
        for head, tail in (({}, {"meta": {"total_count": 5}}), ({"format": "f", "exported_at": "now"}, {})):
            for count in (0, 1, len(items)):
                written: list[str] = []
                writer = ListWriter(written.append, layout, head, "data")
                writer.add(items[: min(count, 1)])
                writer.add(items[1:count])
                writer.close(tail)
                whole = json.dumps({**head, "data": items[:count], **tail}, ensure_ascii=False, **layout)
                assert "".join(written) == whole


def test_all_json_streams_the_same_document_the_whole_answer_would_be(cli: Cli, agentos: AgentOSServer) -> None:
    user = new_user()
    made = [make(agentos, user, f"Stream {n} \u202e\x1b") for n in range(5)]
    outcome = cli("--user-id", user, "--all", "--limit", "2", "--json")
    assert outcome.code == 0, outcome.err
    document = outcome.json()
    assert sorted(s["session_id"] for s in document["data"]) == sorted(made) and document["meta"] == {"total_count": 5}
    compact = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    assert outcome.out == printable(compact, True) + "\n"
    fields = cli("--user-id", user, "--all", "--limit", "2", "--json", "--fields", "session_id,run_count")
    assert fields.json()["data"][0] == {"session_id": document["data"][0]["session_id"], "run_count": 0}
    recent = cli.json("--user-id", user, "--all", "--limit", "2", "--after", "2w")
    assert recent["meta"]["total_count"] == 5 and set(recent["meta"]["cutoffs"]) == {"after"}


def test_a_session_created_mid_listing_leaves_every_session_listed_exactly_once(
    agentos: AgentOSServer, proxy: FaultProxy, capsys: pytest.CaptureFixture[str]
) -> None:
    user = new_user()
    before = {make(agentos, user, f"Shift {n}") for n in range(7)}
    newcomer: list[str] = []
    proxy.on(lambda: newcomer.append(make(agentos, user, "Newcomer")), method="GET", path="/sessions", skip=1)
    outcome = Cli(capsys, proxy.url)("--user-id", user, "--all", "--limit", "3", "--json")
    assert outcome.code == 0, outcome.err
    listed = [s["session_id"] for s in outcome.json()["data"]]
    assert len(listed) == len(set(listed)) and before <= set(listed)
    assert newcomer[0] in listed and outcome.json()["meta"] == {"total_count": 8}
    # The pages shifted under the reader (the total changed): it read them again in session_id order.
    assert any("sort_by=session_id" in seen.query for seen in proxy.seen(method="GET", path="/sessions"))


def test_a_streamed_answer_cut_short_exits_1_with_the_error_on_stderr(
    agentos: AgentOSServer, proxy: FaultProxy, capsys: pytest.CaptureFixture[str]
) -> None:
    user = new_user()
    for n in range(4):
        make(agentos, user, f"Cut {n}")
    proxy.fail(503, times=10, method="GET", path="/sessions", skip=1)
    outcome = Cli(capsys, proxy.url)("--user-id", user, "--all", "--limit", "2", "--json", "--retries", "0")
    assert outcome.code == 1 and outcome.out.startswith('{"data":[{"session_id":')
    with pytest.raises(json.JSONDecodeError):
        json.loads(outcome.out)
    assert len(outcome.err.splitlines()) == 1
    assert outcome.error()["error"].endswith("failed: injected by the fault proxy")


def test_a_set_export_is_written_whole_or_not_at_all(
    agentos: AgentOSServer, proxy: FaultProxy, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    user, target = new_user(), tmp_path / "set.json"
    made = [make(agentos, user, f"Export {n} é\u202e", runs=("hi",) if n == 0 else ()) for n in range(5)]
    via = Cli(capsys, proxy.url, "--retries", "0")
    summary = via.json("--user-id", user, "--export", str(target))
    assert summary["sessions"] == 5 and summary["runs"] == 1
    text = target.read_text(encoding="utf-8")
    document = json.loads(text)
    assert text == json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    assert sorted(entry["session"]["session_id"] for entry in document["sessions"]) == sorted(made)
    shown = via("--user-id", user, "--export", "-")
    assert shown.code == 0 and json.loads(shown.out)["sessions"] == document["sessions"]
    proxy.fail(503, times=10, method="GET", path_prefix="/sessions/", skip=3)
    cut = via("--user-id", user, "--export", str(target))
    assert cut.code == 1 and "injected by the fault proxy" in cut.err
    assert target.read_text(encoding="utf-8") == text  # the old file stays until a new one is complete
    assert sorted(path.name for path in tmp_path.iterdir()) == ["set.json"]
