"""Answers sized for an agent: --fields, --count, concise objects, compact JSON, backup folders."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from agentos_sessions.model import CONCISE_RUN_FIELDS
from cli_helpers import Cli, drain_terminal
from conftest import ROOT, AgentOSServer
from test_sets import make, new_user

SCRIPT = ROOT / "scripts" / "manage_sessions.py"


# --fields


def test_fields_keep_only_those_keys_and_the_lists_meta(cli: Cli, agentos: AgentOSServer) -> None:
    user = new_user()
    make(agentos, user, "One", owner="research-team")
    document = cli.json("--user-id", user, "--fields", "session_id,component_id,session_type")
    assert document["meta"]["total_count"] == 1
    assert [set(session) for session in document["data"]] == [{"session_id", "component_id", "session_type"}]
    assert document["data"][0]["component_id"] == "research-team"


def test_fields_are_the_columns_of_the_table(cli: Cli, agentos: AgentOSServer) -> None:
    user = new_user()
    session_id = make(agentos, user, "Columns")
    lines = cli("--user-id", user, "--fields", "session_name,session_id").out.splitlines()
    assert lines[0].split() == ["session_name", "session_id"] and lines[1].split() == ["Columns", session_id]


def test_asking_for_run_count_in_a_listing_counts_the_runs(cli: Cli, agentos: AgentOSServer) -> None:
    user = new_user()
    busy = make(agentos, user, "Busy", runs=("one", "two"))
    idle = make(agentos, user, "Idle")
    rows = cli.json("--user-id", user, "--fields", "session_id,run_count")["data"]
    assert {row["session_id"]: row["run_count"] for row in rows} == {busy: 2, idle: 0}


def test_an_unknown_field_is_exit_2_naming_the_valid_ones_and_nothing_is_sent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    outcome = Cli(capsys, "http://127.0.0.1:9")("--fields", "session_id,colour")
    assert outcome.code == 2 and "colour" in outcome.err and "valid fields: session_id" in outcome.err
    runs = Cli(capsys, "http://127.0.0.1:9")("--session-id", "x", "--show-runs", "--fields", "session_name")
    assert runs.code == 2 and "valid fields: run_id" in runs.err


def test_fields_on_inspect_runs_run_and_a_write(cli: Cli, agentos: AgentOSServer) -> None:
    session_id = make(agentos, new_user(), "Fielded", runs=("hello",))
    assert cli.json("--session-id", session_id, "--fields", "session_name,run_count") == {
        "session_name": "Fielded",
        "run_count": 1,
    }
    runs = cli.json("--session-id", session_id, "--show-runs", "--fields", "run_id,status")
    assert len(runs) == 1 and set(runs[0]) == {"run_id", "status"}
    run = cli.json("--session-id", session_id, "--run-id", runs[0]["run_id"], "--fields", "status")
    assert run == {"status": "COMPLETED"}
    assert cli.json("--session-id", session_id, "--rename", "Renamed", "--fields", "session_name") == {
        "session_name": "Renamed"
    }


# --count


def test_count_prints_the_number_of_matching_sessions(cli: Cli, agentos: AgentOSServer) -> None:
    user = new_user()
    for name in ("a", "b", "c"):
        make(agentos, user, name)
    make(agentos, user, "ran", runs=("hi",))
    assert cli("--user-id", user, "--count").out == "4\n"
    assert cli.json("--user-id", user, "--count") == {"count": 4}
    assert cli.json("--user-id", user, "--count", "--max-runs", "0") == {"count": 3}


def test_count_group_by_gives_every_group_largest_first(cli: Cli, agentos: AgentOSServer) -> None:
    user = new_user()
    for owner in ("researcher", "researcher", "assistant", "research-team", "researcher"):
        make(agentos, user, "grouped", owner=owner)
    counted = cli.json("--user-id", user, "--count", "--group-by", "component_id")
    assert counted == {"count": 5, "groups": {"researcher": 3, "assistant": 1, "research-team": 1}}
    assert list(counted["groups"]) == ["researcher", "assistant", "research-team"]
    table = cli("--user-id", user, "--count", "--group-by", "session_type").out
    assert "agent" in table and "4" in table and "team" in table


def test_group_by_needs_count(cli: Cli) -> None:
    outcome = cli("--group-by", "user_id")
    assert outcome.code == 2 and "--group-by goes with --count" in outcome.err


# Concise by default


def test_a_session_is_concise_unless_fields_ask_for_its_history(cli: Cli, agentos: AgentOSServer) -> None:
    session_id = make(agentos, new_user(), "Chatty", runs=("hello",))
    session = cli.json("--session-id", session_id)
    assert not {"chat_history", "agent_data", "metrics"} & set(session)
    assert session["session_name"] == "Chatty" and session["run_count"] == 1 and session["agent_id"] == "assistant"
    history = cli.json("--session-id", session_id, "--fields", "chat_history")["chat_history"]
    assert [message["content"] for message in history if message["role"] == "user"] == ["hello"]
    exported = cli.json("--session-id", session_id, "--export", "-")
    assert "chat_history" in exported["session"] and "messages" in exported["runs"][0]


def test_runs_are_concise_by_default_and_whole_with_run_id(cli: Cli, agentos: AgentOSServer) -> None:
    session_id = make(agentos, new_user(), "Runs", runs=("hello",))
    (run,) = cli.json("--session-id", session_id, "--show-runs")
    assert tuple(run) == CONCISE_RUN_FIELDS and run["run_input"] == "hello"
    assert "messages" in cli.json("--session-id", session_id, "--run-id", run["run_id"])


def test_all_meta_gives_the_true_total_and_no_page_limit(cli: Cli, agentos: AgentOSServer) -> None:
    user = new_user()
    for number in range(3):
        make(agentos, user, f"S{number}")
    document = cli.json("--user-id", user, "--all", "--limit", "2")
    assert document["meta"] == {"total_count": 3} and len(document["data"]) == 3


def test_json_in_a_pipe_is_one_compact_line(agentos: AgentOSServer) -> None:
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--base-url", agentos.url, "--session-id", "seed-00001", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0 and completed.stdout.count("\n") == 1
    assert '"session_id":"seed-00001"' in completed.stdout


def test_json_at_a_terminal_is_indented(agentos: AgentOSServer) -> None:
    main_fd, child_fd = pty.openpty()
    command = [sys.executable, str(SCRIPT), "--base-url", agentos.url, "--session-id", "seed-00001", "--json"]
    process = subprocess.Popen(command, stdout=child_fd, stderr=subprocess.DEVNULL)
    os.close(child_fd)
    text = drain_terminal(main_fd).decode()
    process.wait(timeout=60)
    assert process.returncode == 0 and '\n  "session_id": "seed-00001"' in text.replace("\r\n", "\n")


# Small things that cost a retry


def test_chat_in_a_missing_session_without_an_owner_is_not_found_with_a_hint(cli: Cli) -> None:
    outcome = cli("--session-id", "set-no-such-session", "--chat", "hello")
    assert outcome.code == 3 and "not found" in outcome.err and "--agent-id" in outcome.err


@pytest.mark.parametrize("rule", ["agentos-backup-dir", "xdg-state-home", "home", "backup-dir-flag"])
def test_the_clear_backup_folder_rules(
    cli: Cli, agentos: AgentOSServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rule: str
) -> None:
    session_id = make(agentos, new_user(), "Backed up", runs=("hi",))
    monkeypatch.delenv("AGENTOS_BACKUP_DIR", raising=False)
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    expected = tmp_path / "home" / ".local" / "state" / "agentos-sessions" / "backups"
    extra: list[str] = []
    if rule == "agentos-backup-dir":
        monkeypatch.setenv("AGENTOS_BACKUP_DIR", str(tmp_path / "env"))
        monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
        expected = tmp_path / "env"
    elif rule == "xdg-state-home":
        monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
        expected = tmp_path / "xdg" / "agentos-sessions" / "backups"
    elif rule == "backup-dir-flag":
        monkeypatch.setenv("AGENTOS_BACKUP_DIR", str(tmp_path / "env"))
        extra, expected = ["--backup-dir", str(tmp_path / "flag")], tmp_path / "flag"
    cleared = cli.json("--session-id", session_id, "--clear", "--yes", *extra)
    assert Path(cleared["backup"]).parent == expected and Path(cleared["backup"]).is_file()
    assert not list(tmp_path.glob("agentos-backup-*.json"))


@pytest.mark.parametrize(
    "argv",
    [
        ["--delete", "--session-id", "s-1"],
        ["--update", "--user-id", "u", "--metadata", "{}", "--yes"],
        ["--clear", "--user-id", "u", "--yes"],
    ],
    ids=["delete", "update-set", "clear-set"],
)
def test_fields_are_refused_where_the_answer_is_not_sessions(capsys: pytest.CaptureFixture[str], argv) -> None:
    outcome = Cli(capsys, "http://127.0.0.1:9")(*argv, "--fields", "session_id")
    assert outcome.code == 2 and "--fields picks fields of sessions" in outcome.err


def test_fields_with_a_multi_session_restore_file_are_refused_before_anything_is_restored(
    cli: Cli, agentos: AgentOSServer, tmp_path: Path
) -> None:
    user = new_user()
    session_id = make(agentos, user, "Exported")
    target = tmp_path / "set.json"
    cli.json("--export", str(target), "--user-id", user)
    cli("--session-id", session_id, "--delete")
    outcome = cli("--restore", str(target), "--fields", "session_id")
    assert outcome.code == 2 and "--fields does not apply" in outcome.err
    assert cli("--session-id", session_id).code == 3
