"""Sets of sessions: one selection (ids, exact names, filters) for every action, against the real AgentOS."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_helpers import Cli
from conftest import AgentOSServer
from faultproxy import FaultProxy


@pytest.fixture(scope="session")
def agentos(set_agentos: AgentOSServer) -> AgentOSServer:
    """The set actions run against SQLite, PostgreSQL and the 4-worker PostgreSQL server."""
    return set_agentos


def new_user() -> str:
    return f"set-user-{uuid.uuid4().hex[:10]}@example.com"


def make(server: AgentOSServer, user: str, name: str, owner: str = "assistant", runs: tuple[str, ...] = (), **extra):
    """A session of `user` straight through the API, with a real run per message; returns its id."""
    kind = {"assistant": "agent", "researcher": "agent", "research-team": "team", "pipeline": "workflow"}[owner]
    session_id = f"set-{uuid.uuid4().hex[:12]}"
    body = {"session_id": session_id, "user_id": user, "session_name": name, f"{kind}_id": owner, **extra}
    httpx.post(f"{server.url}/sessions", params={"type": kind}, json=body, timeout=30).raise_for_status()
    for message in runs:
        route = "teams" if kind == "team" else "agents"
        form = {"message": message, "session_id": session_id, "user_id": user, "stream": "false"}
        httpx.post(f"{server.url}/{route}/{owner}/runs", data=form, timeout=60).raise_for_status()
    return session_id


def several(server: AgentOSServer, user: str, count: int, prefix: str = "S") -> list[str]:
    """`count` sessions of `user`, named prefix0, prefix1, ..."""
    return [make(server, user, f"{prefix}{n}") for n in range(count)]


def detail(server: AgentOSServer, session_id: str) -> dict[str, Any] | None:
    response = httpx.get(f"{server.url}/sessions/{session_id}", timeout=30)
    return None if response.status_code == 404 else response.json()


def run_count(server: AgentOSServer, session_id: str) -> int:
    return len(httpx.get(f"{server.url}/sessions/{session_id}/runs", timeout=30).json())


def ids_of(document: dict[str, Any]) -> set[str]:
    return {session["session_id"] for session in document["data"]}


# --session-name and several ids


def test_session_name_is_exact_and_case_sensitive(cli: Cli, agentos: AgentOSServer) -> None:
    user = new_user()
    exact = make(agentos, user, "Alpha")
    make(agentos, user, "alpha")
    make(agentos, user, "Alpha 2")
    session = cli.json("--session-name", "Alpha", "--user-id", user)
    assert session["session_id"] == exact and session["session_name"] == "Alpha"


def test_a_name_several_sessions_share_is_exit_2_naming_them_and_nothing_is_done(
    cli: Cli, agentos: AgentOSServer
) -> None:
    user = new_user()
    first, second = make(agentos, user, "Twin"), make(agentos, user, "Twin")
    outcome = cli("--session-name", "Twin", "--user-id", user, "--rename", "Renamed")
    assert outcome.code == 2 and first in outcome.err and second in outcome.err
    assert {detail(agentos, sid)["session_name"] for sid in (first, second)} == {"Twin"}


def test_a_name_no_session_has_is_exit_3(cli: Cli) -> None:
    outcome = cli("--session-name", f"nobody-{uuid.uuid4().hex}", "--show-runs")
    assert outcome.code == 3 and "not found" in outcome.err


def test_several_ids_list_those_sessions_and_a_missing_one_is_exit_3(cli: Cli, agentos: AgentOSServer) -> None:
    user = new_user()
    a, b = make(agentos, user, "A"), make(agentos, user, "B")
    assert ids_of(cli.json("--session-id", a, "--session-id", b)) == {a, b}
    outcome = cli("--session-id", a, "--session-id", "set-missing", "--json")
    assert outcome.code == 3 and ids_of(outcome.json()) == {a} and "set-missing" in outcome.err


def test_filters_narrow_the_ids(cli: Cli, agentos: AgentOSServer) -> None:
    alice, bob = new_user(), new_user()
    alices = make(agentos, alice, "Hers")
    assert cli("--session-id", alices, "--user-id", bob).code == 3
    assert cli("--session-id", alices, "--agent-id", "researcher").code == 3
    outcome = cli("--delete", "--session-id", alices, "--agent-id", "researcher", "--json")
    assert outcome.code == 3 and outcome.json() == {"deleted": [], "skipped": [], "refused": [], "not_found": [alices]}
    assert detail(agentos, alices) is not None
    assert cli.json("--session-id", alices, "--agent-id", "assistant")["session_id"] == alices


# Time filters: `after` inclusive, `before` exclusive, at the exact instant


def test_created_after_is_inclusive_and_before_exclusive_at_the_exact_instant(cli: Cli, agentos: AgentOSServer) -> None:
    user = new_user()
    older = make(agentos, user, "Older")
    time.sleep(1.1)
    newer = make(agentos, user, "Newer")
    instant = detail(agentos, newer)["created_at"]
    assert ids_of(cli.json("--user-id", user, "--after", instant)) == {newer}
    assert ids_of(cli.json("--user-id", user, "--before", instant)) == {older}


def test_updated_filters_use_the_last_update_with_the_same_bounds(cli: Cli, agentos: AgentOSServer) -> None:
    user = new_user()
    untouched, touched = make(agentos, user, "Untouched"), make(agentos, user, "Touched")
    time.sleep(1.1)
    cli.json("--session-id", touched, "--update", "--metadata", '{"seen": 1}')
    instant = detail(agentos, touched)["updated_at"]
    assert ids_of(cli.json("--user-id", user, "--updated-after", instant)) == {touched}
    assert ids_of(cli.json("--user-id", user, "--updated-before", instant)) == {untouched}


# Run-aware filters


def test_run_count_filters_and_the_runs_column(cli: Cli, agentos: AgentOSServer) -> None:
    user = new_user()
    never = make(agentos, user, "Never")
    once = make(agentos, user, "Once", runs=("hello",))
    twice = make(agentos, user, "Twice", runs=("one", "two"))
    never_ran = cli.json("--user-id", user, "--max-runs", "0")
    assert ids_of(never_ran) == {never} and never_ran["data"][0]["run_count"] == 0
    assert ids_of(cli.json("--user-id", user, "--min-runs", "1", "--max-runs", "1")) == {once}
    assert {s["session_id"]: s["run_count"] for s in cli.json("--user-id", user, "--min-runs", "1")["data"]} == {
        once: 1,
        twice: 2,
    }
    table = cli("--user-id", user, "--min-runs", "2").out
    assert "Runs" in table.splitlines()[1] and twice in table


def test_search_finds_text_in_any_runs_input_or_output_ignoring_case(cli: Cli, agentos: AgentOSServer) -> None:
    user = new_user()
    pricing = make(agentos, user, "Pricing", runs=("What does the PRO plan cost? Pricing please.",))
    make(agentos, user, "Weather", runs=("Will it rain?",))
    make(agentos, user, "Empty")
    assert ids_of(cli.json("--user-id", user, "--search", "pricing")) == {pricing}
    assert ids_of(cli.json("--user-id", user, "--search", "YOU SAID: WHAT DOES")) == {pricing}  # the reply
    assert cli.json("--user-id", user, "--search", "nowhere-to-be-found")["data"] == []


# --update on a set


def test_update_by_filter_needs_yes_and_dry_run_shows_each_result(cli: Cli, agentos: AgentOSServer) -> None:
    user = new_user()
    a = make(agentos, user, "A", metadata={"keep": 1})
    b = make(agentos, user, "B")
    refused = cli("--update", "--user-id", user, "--metadata", '{"tag": "x"}')
    assert refused.code == 2 and "2 session(s) match; nothing changed" in refused.err
    preview = cli.json("--update", "--user-id", user, "--metadata", '{"tag": "x"}', "--dry-run")
    assert {row["session_id"]: row["metadata"] for row in preview["data"]} == {
        a: {"keep": 1, "tag": "x"},
        b: {"tag": "x"},
    }
    assert detail(agentos, a)["metadata"] == {"keep": 1} and not detail(agentos, b).get("metadata")
    done = cli.json("--update", "--user-id", user, "--metadata", '{"tag": "x"}', "--yes")
    assert sorted(item["session_id"] for item in done["updated"]) == sorted([a, b]) and done["not_found"] == []
    resulting = {item["session_id"]: item["metadata"] for item in done["updated"]}
    assert resulting == {a: {"keep": 1, "tag": "x"}, b: {"tag": "x"}}
    assert detail(agentos, a)["metadata"] == {"keep": 1, "tag": "x"} and detail(agentos, b)["metadata"] == {"tag": "x"}


def test_update_by_ids_reports_missing_ids_with_exit_3_and_updates_the_rest(cli: Cli, agentos: AgentOSServer) -> None:
    user = new_user()
    a = make(agentos, user, "A")
    outcome = cli("--update", "--session-id", a, "--session-id", "set-nope", "--state", '{"s": 1}', "--json")
    assert outcome.code == 3 and outcome.json() == {
        "updated": [{"session_id": a, "session_name": "A", "session_state": {"s": 1}}],
        "skipped": [],
        "refused": [],
        "not_found": ["set-nope"],
    }
    assert detail(agentos, a)["session_state"] == {"s": 1}


def test_update_by_one_name_prints_the_session_as_before(cli: Cli, agentos: AgentOSServer) -> None:
    user = new_user()
    a = make(agentos, user, "Only one of me")
    session = cli.json("--update", "--session-name", "Only one of me", "--user-id", user, "--metadata", '{"n": 2}')
    assert session["session_id"] == a and session["metadata"] == {"n": 2}


def test_update_dry_run_with_an_id_changes_nothing(cli: Cli, agentos: AgentOSServer) -> None:
    user = new_user()
    a = make(agentos, user, "A", metadata={"old": True})
    preview = cli.json("--update", "--session-id", a, "--metadata", '{"new": true}', "--dry-run")
    assert preview["data"] == [{"session_id": a, "metadata": {"old": True, "new": True}}]
    assert detail(agentos, a)["metadata"] == {"old": True}


def test_summary_on_a_workflow_session_is_refused_not_a_false_success(cli: Cli, agentos: AgentOSServer) -> None:
    user = new_user()
    flow = make(agentos, user, "Flow", owner="pipeline")
    outcome = cli("--update", "--session-id", flow, "--summary", "nothing stored")
    assert outcome.code == 2 and "workflow sessions have no summary" in outcome.err


def test_update_without_any_selection_is_refused_before_anything_is_sent(cli: Cli) -> None:
    outcome = cli("--update", "--metadata", '{"a": 1}')
    assert outcome.code == 2 and "--update needs --session-id, --session-name or filters" in outcome.err
    everything = cli("--update", "--all", "--metadata", '{"a": 1}')
    assert everything.code == 2 and "match; nothing changed" in everything.err


def test_update_of_a_set_cut_half_way_reports_and_a_rerun_finishes(
    agentos: AgentOSServer, proxy: FaultProxy, capsys: pytest.CaptureFixture[str]
) -> None:
    user = new_user()
    ids = several(agentos, user, 6)
    proxy.fail(500, times=1_000, skip=2, method="PATCH", path_prefix="/sessions/")
    update = ("--update", "--user-id", user, "--metadata", '{"v": 1}', "--yes", "--json")
    outcome = Cli(capsys, proxy.url, "--retries", "0")(*update)
    assert outcome.code == 1 and "updating stopped" in outcome.error()["error"]
    report = outcome.json()
    done = [sid for sid in ids if (detail(agentos, sid).get("metadata") or {}).get("v") == 1]
    assert len(done) >= 2 and sorted(item["session_id"] for item in report["updated"]) == sorted(done)
    assert sorted(report["not_done"] + report["unknown"]) == sorted(sid for sid in ids if sid not in done)
    proxy.clear_faults()
    again = Cli(capsys, agentos.url).json(*update[:-1])
    assert sorted(item["session_id"] for item in again["updated"]) == sorted(ids)
    assert all(detail(agentos, sid)["metadata"] == {"v": 1} for sid in ids)


# --export and --restore of several sessions


def test_export_of_a_filter_and_restore_of_the_file(cli: Cli, agentos: AgentOSServer, tmp_path: Path) -> None:
    user = new_user()
    team = make(agentos, user, "Team one", owner="research-team", runs=("hi team",))
    agent = make(agentos, user, "Agent one", metadata={"m": 1})
    target = tmp_path / "set.json"
    summary = cli.json("--export", str(target), "--user-id", user)
    assert summary == {
        "sessions": 2, "runs": 1, "path": str(target), "skipped": [], "refused": [], "not_found": []
    }  # fmt: skip
    document = json.loads(target.read_text())
    assert document["format"] == "agentos-sessions-export/1"
    by_id = {entry["session"]["session_id"]: entry for entry in document["sessions"]}
    assert set(by_id) == {team, agent} and len(by_id[team]["runs"]) == 1
    for session_id in (team, agent):
        httpx.delete(f"{agentos.url}/sessions/{session_id}", timeout=30).raise_for_status()
    restored = cli.json("--restore", str(target))
    assert sorted(item["session_id"] for item in restored["restored"]) == sorted([team, agent])
    assert restored["conflict"] == [] and {item["runs_not_restored"] for item in restored["restored"]} == {0, 1}
    assert detail(agentos, team)["team_id"] == "research-team" and detail(agentos, agent)["metadata"] == {"m": 1}
    again = cli("--restore", str(target), "--json")
    assert again.code == 6 and sorted(again.json()["conflict"]) == sorted([team, agent])


def test_restore_refuses_selection_flags_it_would_ignore(cli: Cli, tmp_path: Path) -> None:
    outcome = cli("--restore", str(tmp_path / "x.json"), "--session-id", "abc")
    assert outcome.code == 2 and "--session-id does not apply to --restore" in outcome.err


# --clear of several sessions


def test_clear_by_filter_backs_each_up_and_clears_it(cli: Cli, agentos: AgentOSServer, tmp_path: Path) -> None:
    user = new_user()
    a = make(agentos, user, "A", runs=("one",))
    b = make(agentos, user, "B", runs=("two", "three"))
    preview = cli.json("--clear", "--user-id", user, "--dry-run")
    assert {s["session_id"]: s["run_count"] for s in preview["data"]} == {a: 1, b: 2}
    assert run_count(agentos, a) == 1
    refused = cli("--clear", "--user-id", user)
    assert refused.code == 2 and run_count(agentos, b) == 2
    outcome = cli.json("--clear", "--user-id", user, "--yes", "--backup-dir", str(tmp_path))
    assert sorted(item["session_id"] for item in outcome["cleared"]) == sorted([a, b]) and outcome["not_found"] == []
    assert run_count(agentos, a) == run_count(agentos, b) == 0
    for item in outcome["cleared"]:
        session_id, backup = item["session_id"], item["backup"]
        assert item["runs_removed"] == {a: 1, b: 2}[session_id]
        kept = json.loads(Path(backup).read_text())
        assert kept["session"]["session_id"] == session_id and len(kept["runs"]) == {a: 1, b: 2}[session_id]


def test_two_clears_in_one_second_keep_two_backups(cli: Cli, agentos: AgentOSServer, tmp_path: Path) -> None:
    user = new_user()
    a = make(agentos, user, "A", runs=("one", "two"))
    first = cli.json("--clear", "--session-id", a, "--yes", "--backup-dir", str(tmp_path))
    second = cli.json("--clear", "--session-id", a, "--yes", "--backup-dir", str(tmp_path))
    assert first["backup"] != second["backup"]
    assert len(json.loads(Path(first["backup"]).read_text())["runs"]) == 2
    assert len(json.loads(Path(second["backup"]).read_text())["runs"]) == 0


# --delete with the new selection


def test_delete_the_sessions_that_never_ran(cli: Cli, agentos: AgentOSServer) -> None:
    user = new_user()
    idle = [make(agentos, user, "Idle"), make(agentos, user, "Idle too")]
    busy = make(agentos, user, "Busy", runs=("hello",))
    dry = cli.json("--delete", "--user-id", user, "--max-runs", "0", "--dry-run")
    assert ids_of(dry) == set(idle)
    done = cli.json("--delete", "--user-id", user, "--max-runs", "0", "--yes")
    assert sorted(done["deleted"]) == sorted(idle)
    assert detail(agentos, busy) is not None and all(detail(agentos, sid) is None for sid in idle)


def test_delete_by_name_needs_yes_only_when_several_share_it(cli: Cli, agentos: AgentOSServer) -> None:
    user = new_user()
    single = make(agentos, user, "Single")
    twins = [make(agentos, user, "Twin"), make(agentos, user, "Twin")]
    assert cli.json("--delete", "--session-name", "Single", "--user-id", user)["deleted"] == [single]
    refused = cli("--delete", "--session-name", "Twin", "--user-id", user)
    assert refused.code == 2 and "2 session(s) match" in refused.err and all(sid in refused.err for sid in twins)
    assert all(detail(agentos, sid) is not None for sid in twins)
    assert sorted(cli.json("--delete", "--session-name", "Twin", "--user-id", user, "--yes")["deleted"]) == sorted(
        twins
    )


def test_all_with_page_is_refused(cli: Cli) -> None:
    outcome = cli("--all", "--page", "2")
    assert outcome.code == 2 and "--page does not apply" in outcome.err


def test_delete_dry_run_with_ids_deletes_nothing(cli: Cli, agentos: AgentOSServer) -> None:
    user = new_user()
    a, b = make(agentos, user, "A"), make(agentos, user, "B")
    preview = cli.json("--delete", "--session-id", a, "--session-id", b, "--dry-run")
    assert ids_of(preview) == {a, b} and preview["meta"] == {"total_count": 2}
    assert detail(agentos, a) is not None and detail(agentos, b) is not None


def test_ctrl_c_during_a_set_update_reports_what_may_have_landed(agentos: AgentOSServer, proxy: FaultProxy) -> None:
    user = new_user()
    ids = several(agentos, user, 3)
    proxy.delay(3.0, times=100, method="PATCH", path_prefix="/sessions/")
    script = Path(__file__).resolve().parent.parent / "scripts" / "manage_sessions.py"
    argv = [sys.executable, str(script), "--base-url", proxy.url, "--update", "--user-id", user, "--yes", "--json"]
    process = subprocess.Popen([*argv, "--metadata", '{"v": 1}'], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(proxy.seen("PATCH", path_prefix="/sessions/")) < len(ids) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "updating stopped: interrupted" in err.decode()
    assert sorted(json.loads(out)["unknown"]) == sorted(ids)
