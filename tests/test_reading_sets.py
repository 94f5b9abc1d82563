"""Reading across sets (issue 22): runs of a set, run totals, where a search matched, --where, relative dates.

Against the real AgentOS on SQLite and PostgreSQL (the `cli` and `agentos` fixtures run both).
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from agentos_sessions import arguments
from agentos_sessions.filters import snippet
from cli_helpers import Cli, drain_terminal
from conftest import AgentOSServer
from faultproxy import FaultProxy
from schema_tools import validator
from test_sets import detail, make, new_user

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "manage_sessions.py"
DAY = 86_400
UNITS = {"m": 60, "h": 3600, "d": DAY, "w": 7 * DAY}
ACCEPTED_FORMS = "(90m, 12h, 30d, 2w)"


def runs_of(server: AgentOSServer, session_id: str) -> list[dict[str, Any]]:
    return httpx.get(f"{server.url}/sessions/{session_id}/runs", timeout=30).json()


def updated_at(server: AgentOSServer, session_id: str) -> int:
    return int(datetime.fromisoformat(detail(server, session_id)["updated_at"].replace("Z", "+00:00")).timestamp())


def iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fix_clock(monkeypatch: pytest.MonkeyPatch, now: int) -> None:
    """Relative dates count back from this moment."""
    monkeypatch.setattr(arguments, "current_time", lambda: float(now))


def ids(document: dict[str, Any]) -> list[str]:
    return [item["session_id"] for item in document["data"]]


# Runs of a set


@pytest.fixture
def carol(agentos: AgentOSServer) -> tuple[str, list[str]]:
    """A user with three sessions, created oldest first: two runs, one run, none."""
    user = new_user()
    sessions = [
        make(agentos, user, "C-two", runs=("first words", "second words")),
        make(agentos, user, "C-one", "researcher", runs=("only words",)),
        make(agentos, user, "C-none"),
    ]
    return user, sessions


def test_show_runs_of_a_filter_keeps_the_newest_run_of_each_session_newest_session_first(
    cli: Cli, agentos: AgentOSServer, carol: tuple[str, list[str]]
) -> None:
    user, (two, one, none) = carol
    answer = cli.json("--user-id", user, "--show-runs", "--last", "1")
    assert answer["meta"] == {"total_count": 3}
    assert sorted(ids(answer)) == sorted([none, one, two])  # newest first; created in one second, ties are free
    by_id = {entry["session_id"]: entry for entry in answer["data"]}
    assert by_id[none] == {"session_id": none, "session_name": "C-none", "runs": []}
    assert [run["run_input"] for run in by_id[two]["runs"]] == ["second words"]
    assert by_id[two]["runs"][0]["run_id"] == runs_of(agentos, two)[-1]["run_id"]
    assert set(by_id[two]["runs"][0]) == {"run_id", "status", "created_at", "run_input", "content"}
    assert [run["run_input"] for run in by_id[one]["runs"]] == ["only words"]


def test_show_runs_of_ids_keeps_their_order_and_first_n_oldest_runs(
    cli: Cli, agentos: AgentOSServer, carol: tuple[str, list[str]]
) -> None:
    _user, (two, one, _none) = carol
    answer = cli.json("--session-id", two, "--session-id", one, "--show-runs", "--first", "1")
    assert ids(answer) == [two, one] and answer["meta"]["total_count"] == 2
    assert [run["run_input"] for run in answer["data"][0]["runs"]] == ["first words"]
    both = cli.json("--session-id", one, "--session-id", two, "--show-runs", "--first", "5")
    assert ids(both) == [one, two]
    assert [run["run_input"] for run in both["data"][1]["runs"]] == ["first words", "second words"]


def test_show_runs_of_names_with_a_missing_name_shows_the_rest_and_exits_3(
    cli: Cli, carol: tuple[str, list[str]]
) -> None:
    user, (two, one, _none) = carol
    outcome = cli("--session-name", "C-two", "--session-name", "No-such", "--user-id", user, "--show-runs", "--json")
    assert outcome.code == 3 and "No-such" in outcome.err
    assert ids(outcome.json()) == [two] and len(outcome.json()["data"][0]["runs"]) == 2
    named = cli.json(
        "--session-name", "C-one", "--session-name", "C-two", "--user-id", user, "--show-runs", "--last", "1"
    )
    assert sorted(ids(named)) == sorted([one, two])
    assert all(len(entry["runs"]) == 1 for entry in named["data"])


def test_one_session_keeps_the_list_of_runs_and_last_first_apply_to_it(cli: Cli, carol: tuple[str, list[str]]) -> None:
    user, (two, _one, _none) = carol
    assert [run["run_input"] for run in cli.json("--session-id", two, "--show-runs")] == ["first words", "second words"]
    assert [run["run_input"] for run in cli.json("--session-id", two, "--show-runs", "--last", "1")] == ["second words"]
    assert [
        run["run_input"]
        for run in cli.json("--session-name", "C-two", "--user-id", user, "--show-runs", "--first", "1")
    ] == ["first words"]


def test_run_filters_apply_before_last_and_leave_empty_sessions_listed(cli: Cli, carol: tuple[str, list[str]]) -> None:
    user, (two, one, none) = carol
    errors = cli.json("--user-id", user, "--show-runs", "--status", "error", "--last", "1")
    assert sorted(ids(errors)) == sorted([none, one, two]) and all(entry["runs"] == [] for entry in errors["data"])
    found = cli.json("--user-id", user, "--show-runs", "--search", "FIRST WORDS", "--last", "1")
    assert ids(found) == [two]  # --search also chooses the sessions
    assert [run["run_input"] for run in found["data"][0]["runs"]] == ["first words"]  # the match, not the newest
    assert cli.json("--session-id", two, "--show-runs", "--search", "second") == [
        run for run in cli.json("--session-id", two, "--show-runs") if run["run_input"] == "second words"
    ]


def test_show_runs_of_a_set_honours_fields_and_prints_a_table_per_session(
    cli: Cli, carol: tuple[str, list[str]]
) -> None:
    user, (two, one, none) = carol
    answer = cli.json("--user-id", user, "--show-runs", "--fields", "run_id")
    assert all(set(run) == {"run_id"} for entry in answer["data"] for run in entry["runs"])
    outcome = cli("--user-id", user, "--show-runs", "--last", "1")
    assert outcome.code == 0
    assert f"Runs of {two} (C-two): 1 shown" in outcome.out and f"Runs of {one} (C-one): 1 shown" in outcome.out
    assert f"Runs of {none} (C-none): 0 shown" in outcome.out and "second words" in outcome.out
    assert "first words" not in outcome.out


def test_runs_of_a_set_show_a_progress_bar_when_stderr_is_a_terminal(
    agentos: AgentOSServer, carol: tuple[str, list[str]]
) -> None:
    user, _sessions = carol
    main_fd, child_fd = pty.openpty()
    command = [sys.executable, str(SCRIPT), "--base-url", agentos.url, "--user-id", user, "--show-runs", "--json"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=child_fd)
    os.close(child_fd)
    out, _ = process.communicate(timeout=120)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", drain_terminal(main_fd).decode())
    assert process.returncode == 0 and json.loads(out)["meta"]["total_count"] == 3
    assert re.search(r"reading runs per session ━+ +3/3 sessions read", text), text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--show-runs"], "--show-runs needs --session-id, --session-name or filters"),
        (["--show-runs", "--user-id", "u", "--last", "1", "--first", "1"], "not allowed with argument"),
        (["--show-runs", "--user-id", "u", "--last", "0"], "at least 1"),
        (["--user-id", "u", "--last", "1"], "--last does not apply"),
        (["--user-id", "u", "--runs"], "--runs goes with --count"),
    ],
)
def test_show_runs_and_totals_refuse_what_they_cannot_honour(cli: Cli, argv: list[str], message: str) -> None:
    outcome = cli(*argv)
    assert outcome.code == 2 and message in outcome.err, outcome.err


# Totals


def test_count_runs_totals_sessions_and_runs_with_and_without_groups(cli: Cli, carol: tuple[str, list[str]]) -> None:
    user, _sessions = carol
    assert cli.json("--user-id", user, "--count", "--runs") == {"count": 3, "runs": 3}
    assert cli.json("--user-id", user, "--count", "--runs", "--group-by", "agent_id") == {
        "count": 3,
        "runs": 3,
        "groups": {"assistant": {"count": 2, "runs": 2}, "researcher": {"count": 1, "runs": 1}},
    }
    assert cli.json("--user-id", user, "--count", "--runs", "--min-runs", "1") == {"count": 2, "runs": 3}
    assert cli.json("--user-id", user, "--count") == {"count": 3}  # without --runs, as before
    assert cli("--user-id", user, "--count", "--runs").out.strip() == "3 sessions, 3 runs"
    table = cli("--user-id", user, "--count", "--runs", "--group-by", "agent_id").out
    assert "Runs" in table and "researcher" in table


# Where a search matched


def test_matches_name_the_run_the_part_and_a_snippet_case_insensitively(cli: Cli, agentos: AgentOSServer) -> None:
    user = new_user()
    refund = make(agentos, user, "Shop", runs=("hello", "Please REFUND my order"))
    make(agentos, user, "Other", runs=("nothing here",))
    answer = cli.json("--user-id", user, "--search", "refund")
    assert ids(answer) == [refund]
    run = runs_of(agentos, refund)[1]
    assert answer["data"][0]["matches"] == [
        {
            "run_id": run["run_id"],
            "created_at": run["created_at"],
            "where": "input",
            "snippet": "Please REFUND my order",
        }
    ]
    # The offline model replies "You said: ...": this text is in a reply alone.
    replied = cli.json("--user-id", user, "--search", "you said: please refund")["data"][0]["matches"]
    assert [(match["run_id"], match["where"]) for match in replied] == [(run["run_id"], "reply")]
    assert replied[0]["snippet"].startswith("You said: Please REFUND my order")


def test_fields_can_leave_matches_out_or_ask_for_them(cli: Cli, agentos: AgentOSServer) -> None:
    user = new_user()
    make(agentos, user, "Shop", runs=("refund please",))
    assert cli.json("--user-id", user, "--search", "refund", "--fields", "session_id")["data"][0].keys() == {
        "session_id"
    }
    asked = cli.json("--user-id", user, "--search", "refund", "--fields", "session_id,matches")["data"][0]
    assert [match["where"] for match in asked["matches"]] == ["input"]
    assert "Match" in cli("--user-id", user, "--search", "refund").out


def test_a_snippet_stays_within_160_characters_around_the_match(cli: Cli, agentos: AgentOSServer) -> None:
    user = new_user()
    long_text = "a" * 400 + " needle " + "b" * 400
    make(agentos, user, "Long", runs=(long_text, "needle at the start " + "c" * 300))
    matches = cli.json("--user-id", user, "--search", "NEEDLE")["data"][0]["matches"]
    middle, start = (match["snippet"] for match in matches)
    assert len(middle) <= 160 and middle.startswith("…a") and middle.endswith("b…") and " needle " in middle
    assert len(middle) >= 150  # the room is used, not wasted
    assert len(start) <= 160 and start.startswith("needle at the start c") and start.endswith("c…")


def test_a_snippet_escapes_control_characters(cli: Cli, agentos: AgentOSServer) -> None:
    user = new_user()
    session_id = make(agentos, user, "Controls", runs=("bell\x07 and\nnew line then \x1b[31mred refund",))
    match = cli.json("--user-id", user, "--search", "refund")["data"][0]["matches"][0]
    stored = runs_of(agentos, session_id)[0]["run_input"]  # PostgreSQL drops some controls when it stores them
    shown = "".join(" " if c in "\n\r\t" else f"\\u{ord(c):04x}" if ord(c) < 32 else c for c in stored)
    assert match["snippet"] == shown and not any(ord(character) < 32 for character in match["snippet"])
    assert "\x1b" not in stored or "\\u001b[31mred refund" in match["snippet"]


def test_snippet_bounds_hold_when_the_match_or_its_escapes_are_long() -> None:
    assert len(snippet("x" * 500, 10, 400)) <= 160
    escaped = snippet("\x01" * 200 + "hit" + "\x01" * 200, 200, 203)
    assert len(escaped) <= 160 and "hit" in escaped and escaped.startswith("…\\u0001")
    assert snippet("short hit", 6, 9) == "short hit"
    assert snippet("y" * 160, 0, 1) == "y" * 160  # exactly the limit: nothing cut


# --where


@pytest.fixture
def tagged(agentos: AgentOSServer) -> tuple[str, dict[str, str]]:
    """Sessions of one user whose metadata and state hold values of different JSON types."""
    user = new_user()
    values = {
        "bool": ({"eval": True, "topic": "pricing"}, {"step": 3, "flag": True}),
        "text": ({"eval": "true", "topic": "billing"}, {"step": "3"}),
        "number": ({"n": 3, "topic": "pricing"}, {"step": 3.0, "plan": {"tier": "pro"}, "flag": 1}),
        "none": (None, None),
    }
    sessions = {
        label: make(agentos, user, f"W-{label}", metadata=metadata, session_state=state)
        for label, (metadata, state) in values.items()
    }
    return user, sessions


def where(cli: Cli, user: str, *clauses: str, extra: tuple[str, ...] = ()) -> set[str]:
    argv = [arg for clause in clauses for arg in ("--where", clause)]
    return set(ids(cli.json("--user-id", user, *argv, *extra, "--all")))


def test_where_compares_as_json_when_the_value_parses_and_as_text_otherwise(
    cli: Cli, tagged: tuple[str, dict[str, str]]
) -> None:
    user, s = tagged
    assert where(cli, user, "metadata.eval=true") == {s["bool"]}
    assert where(cli, user, 'metadata.eval="true"') == {s["text"]}
    assert where(cli, user, "metadata.topic=pricing") == {s["bool"], s["number"]}
    assert where(cli, user, "metadata.n=3") == {s["number"]}
    assert where(cli, user, "metadata.n=1") == set()
    assert where(cli, user, "session_state.step=3") == {s["bool"], s["number"]}  # 3 and 3.0 are one JSON number
    assert where(cli, user, 'session_state.step="3"') == {s["text"]}
    assert where(cli, user, 'session_state.plan={"tier": "pro"}') == {s["number"]}
    assert where(cli, user, "session_state.flag=true") == {s["bool"]}  # JSON true is not 1
    assert where(cli, user, "session_state.flag=1") == {s["number"]}


def test_where_a_key_alone_means_it_exists_and_missing_keys_never_match(
    cli: Cli, tagged: tuple[str, dict[str, str]]
) -> None:
    user, s = tagged
    assert where(cli, user, "metadata.eval") == {s["bool"], s["text"]}
    assert where(cli, user, "session_state.plan") == {s["number"]}
    assert where(cli, user, "metadata.missing") == set()
    assert where(cli, user, "metadata.missing=null") == set()


def test_where_clauses_all_hold_and_combine_with_other_filters(cli: Cli, tagged: tuple[str, dict[str, str]]) -> None:
    user, s = tagged
    assert where(cli, user, "metadata.topic=pricing", "session_state.step=3") == {s["bool"], s["number"]}
    assert where(cli, user, "metadata.topic=pricing", "metadata.eval") == {s["bool"]}
    assert where(cli, user, "metadata.topic=pricing", extra=("--name", "W-num")) == {s["number"]}
    assert where(cli, user, "metadata.topic", extra=("--type", "team")) == set()
    assert cli.json("--user-id", user, "--where", "metadata.topic=pricing", "--count") == {"count": 2}
    listed = cli("--session-id", s["text"], "--session-id", s["bool"], "--where", "metadata.eval=true", "--json")
    assert listed.code == 3 and ids(listed.json()) == [s["bool"]]  # narrows ids like any filter: the other is left out
    assert listed.err.strip() == f"not found: {s['text']}"
    runs = cli.json("--user-id", user, "--where", "metadata.eval", "--show-runs")
    assert set(ids(runs)) == {s["bool"], s["text"]}


def test_where_selects_the_sessions_of_a_set_write(
    cli: Cli, agentos: AgentOSServer, tagged: tuple[str, dict[str, str]]
) -> None:
    user, s = tagged
    dry = cli.json(
        "--user-id", user, "--where", "metadata.topic=pricing", "--update", "--state", '{"x": 1}', "--dry-run"
    )
    assert {body["session_id"] for body in dry["data"]} == {s["bool"], s["number"]}
    updated = cli.json(
        "--user-id", user, "--where", "metadata.topic=pricing", "--update", "--state", '{"x": 1}', "--yes"
    )
    assert {item["session_id"] for item in updated["updated"]} == {s["bool"], s["number"]}
    assert detail(agentos, s["text"])["session_state"] == {"step": "3"}
    deleted = cli.json("--user-id", user, "--where", "metadata.eval=true", "--delete", "--yes")
    assert deleted["deleted"] == [s["bool"]]
    assert detail(agentos, s["bool"]) is None and detail(agentos, s["text"]) is not None


def test_where_selects_what_clear_and_export_would_take(
    cli: Cli, tagged: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    user, s = tagged
    preview = cli.json("--user-id", user, "--where", "session_state.plan", "--clear", "--dry-run")
    assert ids(preview) == [s["number"]]
    exported = cli.json("--user-id", user, "--where", "metadata.eval", "--export", str(tmp_path / "evals.json"))
    written = json.loads((tmp_path / "evals.json").read_text())
    assert exported["sessions"] == 2
    assert {entry["session"]["session_id"] for entry in written["sessions"]} == {s["bool"], s["text"]}


@pytest.fixture
def via(proxy: FaultProxy, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The CLI in-process through the fault proxy, for writes raced by another client."""
    monkeypatch.chdir(tmp_path)
    return Cli(capsys, proxy.url)


def test_where_is_checked_again_right_before_a_delete(via: Cli, agentos: AgentOSServer, proxy: FaultProxy) -> None:
    user = new_user()
    stays, goes = (make(agentos, user, f"Eval {n}", metadata={"eval": True}) for n in range(2))

    def untag() -> None:  # another client, after the listing chose the session and before the delete
        url = f"{agentos.url}/sessions/{stays}"
        httpx.patch(url, params={"type": "agent"}, json={"metadata": {"eval": False}}, timeout=30).raise_for_status()

    proxy.on(untag, after=True, method="GET", path="/sessions")
    outcome = via.json("--user-id", user, "--where", "metadata.eval=true", "--delete", "--yes")
    assert outcome["deleted"] == [goes] and [item["session_id"] for item in outcome["skipped"]] == [stays]
    assert detail(agentos, stays)["metadata"] == {"eval": False} and detail(agentos, goes) is None


def test_a_session_chatted_in_during_updated_before_30d_delete_is_skipped(
    via: Cli, agentos: AgentOSServer, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = new_user()
    stale, chatted = make(agentos, user, "Stale"), make(agentos, user, "Chatted")
    fix_clock(monkeypatch, max(updated_at(agentos, stale), updated_at(agentos, chatted)) + 30 * DAY + 1)
    time.sleep(1.1)  # a run now moves updated_at past the cutoff

    def chat() -> None:  # another client, after the listing chose the session and before the delete
        form = {"message": "still here", "session_id": chatted, "user_id": user, "stream": "false"}
        httpx.post(f"{agentos.url}/agents/assistant/runs", data=form, timeout=60).raise_for_status()

    proxy.on(chat, after=True, method="GET", path="/sessions")
    outcome = via.json("--user-id", user, "--updated-before", "30d", "--delete", "--yes")
    assert outcome["deleted"] == [stale] and [item["session_id"] for item in outcome["skipped"]] == [chatted]
    assert detail(agentos, chatted) is not None


@pytest.mark.parametrize("clause", ["metadata", "metadata.", "metadata.=1", "tags.x=1", "session_state", ".k=1"])
def test_where_refuses_other_forms_naming_the_accepted_ones(cli: Cli, clause: str) -> None:
    outcome = cli("--where", clause)
    assert outcome.code == 2
    assert "use metadata.KEY=VALUE, metadata.KEY (the key exists), session_state.KEY=VALUE" in outcome.err


# Relative dates


@pytest.mark.parametrize(("amount", "unit"), [(90, "m"), (12, "h"), (30, "d"), (2, "w")])
def test_each_unit_counts_back_from_now_and_the_cutoff_itself_is_after_not_before(
    cli: Cli, agentos: AgentOSServer, monkeypatch: pytest.MonkeyPatch, amount: int, unit: str
) -> None:
    user = new_user()
    session_id = make(agentos, user, "Edge")
    moment = updated_at(agentos, session_id)
    fix_clock(monkeypatch, moment + amount * UNITS[unit])  # the session was updated exactly at the cutoff
    before = cli.json("--user-id", user, "--updated-before", f"{amount}{unit}")
    after = cli.json("--user-id", user, "--updated-after", f"{amount}{unit}")
    assert ids(before) == [] and ids(after) == [session_id]
    assert before["meta"]["cutoffs"] == {"updated_before": iso(moment)}
    assert after["meta"]["cutoffs"] == {"updated_after": iso(moment)}
    fix_clock(monkeypatch, moment + amount * UNITS[unit] + 1)  # a second later it is before the cutoff
    assert ids(cli.json("--user-id", user, "--updated-before", f"{amount}{unit}")) == [session_id]
    assert ids(cli.json("--user-id", user, "--updated-after", f"{amount}{unit}")) == []


def test_created_dates_take_relative_forms_too(
    cli: Cli, agentos: AgentOSServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = new_user()
    session_id = make(agentos, user, "Created")
    created = int(datetime.fromisoformat(detail(agentos, session_id)["created_at"].replace("Z", "+00:00")).timestamp())
    fix_clock(monkeypatch, created + 3600)
    assert ids(cli.json("--user-id", user, "--after", "60m")) == [session_id]
    assert ids(cli.json("--user-id", user, "--before", "1h")) == []
    assert ids(cli.json("--user-id", user, "--before", "59m")) == [session_id]


def test_dry_runs_report_the_cutoffs_they_used(
    cli: Cli, agentos: AgentOSServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = new_user()
    session_id = make(agentos, user, "Old")
    fix_clock(monkeypatch, updated_at(agentos, session_id) + 31 * DAY)
    now = int(arguments.current_time())
    dry = cli.json("--user-id", user, "--updated-before", "30d", "--delete", "--dry-run")
    assert ids(dry) == [session_id] and dry["meta"]["cutoffs"] == {"updated_before": iso(now - 30 * DAY)}
    preview = cli.json(
        "--user-id", user, "--after", "2w", "--updated-before", "30d", "--update", "--metadata", "{}", "--dry-run"
    )
    assert preview["meta"]["cutoffs"] == {"after": iso(now - 14 * DAY), "updated_before": iso(now - 30 * DAY)}
    assert detail(agentos, session_id) is not None
    assert "cutoffs" not in cli.json("--user-id", user, "--updated-before", "2099-01-01").get("meta", {})


def test_run_dates_take_relative_forms(cli: Cli, agentos: AgentOSServer) -> None:
    session_id = make(agentos, new_user(), "Recent", runs=("just now",))
    assert [run["run_input"] for run in cli.json("--session-id", session_id, "--show-runs", "--since", "90m")] == [
        "just now"
    ]
    assert cli.json("--session-id", session_id, "--show-runs", "--until", "90m") == []
    other = make(agentos, new_user(), "Empty")
    both = cli.json("--session-id", session_id, "--session-id", other, "--show-runs", "--since", "90m")
    assert [len(entry["runs"]) for entry in both["data"]] == [1, 0] and set(both["meta"]["cutoffs"]) == {"since"}


@pytest.mark.parametrize("value", ["30", "30D", "1.5h", "30s", "-3d", "1y", "0d", "d", "3 d", "9999999w", "P30D"])
def test_other_date_forms_stay_refused_with_the_accepted_forms(cli: Cli, value: str) -> None:
    outcome = cli(f"--updated-before={value}", "--json")
    assert outcome.code == 2 and ACCEPTED_FORMS in outcome.error()["error"], outcome.err
    assert json.loads(outcome.err)["exit_code"] == 2


# Every answer here is one the contract defines (contract.py, references/answers.schema.json)

READ_ANSWERS = [
    ("session_runs", ["--show-runs", "--last", "1"]),
    ("session_runs", ["--show-runs", "--search", "words", "--first", "1", "--fields", "run_id,metrics"]),
    ("session_runs", ["--show-runs", "--since", "2h"]),
    ("count", ["--count", "--runs"]),
    ("count", ["--count", "--runs", "--group-by", "agent_id"]),
    ("sessions", ["--search", "WORDS"]),
    ("sessions", ["--search", "words", "--fields", "session_id,matches"]),
    ("sessions", ["--updated-after", "12h", "--where", "metadata.missing"]),
    ("dry_run", ["--updated-before", "1w", "--delete", "--dry-run"]),
    ("update_preview", ["--updated-after", "90m", "--update", "--metadata", "{}", "--dry-run"]),
]


@pytest.mark.parametrize(("kind", "argv"), READ_ANSWERS, ids=[" ".join(argv) for _kind, argv in READ_ANSWERS])
def test_answers_of_reading_across_sets_are_the_contract_s(
    cli: Cli, carol: tuple[str, list[str]], kind: str, argv: list[str]
) -> None:
    user, _sessions = carol
    document = cli.json("--user-id", user, *argv)
    errors = sorted(validator(kind).iter_errors(document), key=str)
    assert not errors, f"{kind}: {errors[0].message} at {list(errors[0].absolute_path)}"
