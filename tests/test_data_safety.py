"""Data-loss and wrong-answer classes of the hostile review (issue 16), against the real AgentOS."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest
from agentos_sessions import cli as cli_module
from agentos_sessions.model import MAX_JSON_DEPTH
from cli_helpers import ACTION_ARGV, Cli
from conftest import AgentOSServer
from faultproxy import FaultProxy
from test_sets import detail, make, new_user, run_count, several


def later(seconds: float, action) -> threading.Timer:
    timer = threading.Timer(seconds, action)
    timer.start()
    return timer


def nested(depth: int) -> str:
    """A JSON object `depth` levels deep."""
    return '{"a": ' * depth + "1" + "}" * depth


# 2. Flags given with ids are honoured (they narrow) or refused, never dropped


def test_delete_by_id_with_filters_that_do_not_match_deletes_nothing(cli: Cli, agentos: AgentOSServer) -> None:
    session_id = make(agentos, new_user(), "Recent research", owner="researcher")
    outcome = cli("--delete", "--session-id", session_id, "--agent-id", "assistant", "--before", "2000-01-01", "--json")
    assert outcome.code == 3 and outcome.json() == {
        "deleted": [],
        "skipped": [],
        "refused": [],
        "not_found": [session_id],
    }
    assert detail(agentos, session_id) is not None


@pytest.mark.parametrize("extra", [["--show-runs", "--agent-id", "researcher"], ["--team-id", "research-team"]])
def test_single_session_actions_are_narrowed_by_filters(cli: Cli, agentos: AgentOSServer, extra: list[str]) -> None:
    session_id = make(agentos, new_user(), "Assistant's", runs=("hi",))
    assert cli("--session-id", session_id, *extra).code == 3
    assert cli("--session-id", session_id, "--show-runs", "--agent-id", "assistant").code == 0


def example_value(flag: str) -> list[str]:
    """A valid value for a flag, so that only the combination can be refused."""
    values = {
        "limit": "5", "page": "2", "sort_by": "created_at", "sort_order": "asc", "type": "agent",
        "before": "2030-01-01", "after": "2020-01-01", "updated_before": "2030-01-01", "updated_after": "2020-01-01",
        "min_runs": "1", "max_runs": "3", "search": "x", "name": "x", "status": "completed",
        "since": "2020-01-01", "until": "2030-01-01", "state": "{}", "metadata": "{}", "summary": "s",
        "backup_dir": "b", "session_id": "s-1", "session_name": "n", "agent_id": "assistant", "team_id": "t",
        "workflow_id": "w", "user_id": "u", "group_by": "user_id", "fields": "session_id", "where": "metadata.k",
        "last": "1", "first": "1", "db": "sqlite:///x.db", "keep_last": "1",
    }  # fmt: skip
    return [f"--{flag.replace('_', '-')}", *([values[flag]] if flag in values else [])]


REFUSALS = [
    pytest.param(flag, action, id=f"{flag}-{action}")
    for flag, actions in cli_module.FLAG_ACTIONS.items()
    for action in ACTION_ARGV
    if action not in actions
]


@pytest.mark.parametrize(("flag", "action"), REFUSALS)
def test_every_flag_is_refused_where_it_does_not_apply(capsys: pytest.CaptureFixture[str], flag: str, action: str):
    argv = [*ACTION_ARGV[action], *example_value(flag), "--base-url", "http://127.0.0.1:9"]
    if flag == "session_id" and action == "restore":
        argv = ["--restore", "x.json", "--session-id", "s-1", "--base-url", "http://127.0.0.1:9"]
    outcome = Cli(capsys, "http://127.0.0.1:9")(*argv)
    assert outcome.code == 2 and f"--{flag.replace('_', '-')} does not apply" in outcome.err, outcome.err


def test_the_refusal_table_covers_every_action() -> None:
    assert set(ACTION_ARGV) == set(cli_module.ACTIONS) and len(REFUSALS) > 100


# 3. A run that lands while --clear backs the session up


def test_a_run_landing_during_clear_ends_up_in_the_backup(
    agentos: AgentOSServer, proxy: FaultProxy, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    user = new_user()
    session_id = make(agentos, user, "Busy", runs=("first",))
    proxy.delay(1.5, skip=1, method="GET", path=f"/sessions/{session_id}/runs")  # the re-check before deleting
    form = {"message": "second", "session_id": session_id, "user_id": user, "stream": "false"}
    timer = later(0.3, lambda: httpx.post(f"{agentos.url}/agents/assistant/runs", data=form, timeout=60))
    outcome = Cli(capsys, proxy.url)("--session-id", session_id, "--clear", "--yes", "--backup-dir", str(tmp_path))
    timer.join()
    assert outcome.code == 0, outcome.err
    backups = list(tmp_path.glob(f"agentos-backup-{session_id}-*.json"))
    assert len(backups) == 1
    assert [run["run_input"] for run in json.loads(backups[0].read_text())["runs"]] == ["first", "second"]
    assert run_count(agentos, session_id) == 0 and "runs_removed" in outcome.out


# 4. Nesting AgentOS cannot read back


def test_json_nested_deeper_than_agentos_can_return_is_refused(cli: Cli, agentos: AgentOSServer) -> None:
    session_id = make(agentos, new_user(), "Deep")
    refused = cli("--session-id", session_id, "--update", "--state", nested(MAX_JSON_DEPTH + 1))
    assert refused.code == 2 and f"deeper than {MAX_JSON_DEPTH} levels" in refused.err
    assert not detail(agentos, session_id).get("session_state")
    assert cli("--session-id", session_id, "--update", "--state", nested(MAX_JSON_DEPTH)).code == 0
    assert cli("--session-id", session_id).code == 0 and cli("--user-id", "nobody", "--json").code == 0


# 5. Concurrent updates: the loser is told


def test_an_update_overwritten_by_another_writer_is_exit_1_naming_the_keys(
    agentos: AgentOSServer, proxy: FaultProxy, capsys: pytest.CaptureFixture[str]
) -> None:
    session_id = make(agentos, new_user(), "Contested", metadata={"base": 1})
    proxy.delay(1.5, skip=1, method="GET", path=f"/sessions/{session_id}")  # the re-read after writing
    other = {"metadata": {"base": 1, "theirs": True}}
    timer = later(0.3, lambda: httpx.patch(f"{agentos.url}/sessions/{session_id}", json=other, timeout=30))
    outcome = Cli(capsys, proxy.url)("--session-id", session_id, "--update", "--metadata", '{"mine": true}')
    timer.join()
    assert outcome.code == 1 and "changed by another writer" in outcome.err
    assert "metadata.mine" in outcome.err and "metadata.theirs" in outcome.err


# 6. --rename honours --user-id


def test_rename_of_another_users_session_is_not_found_and_changes_nothing(cli: Cli, agentos: AgentOSServer) -> None:
    session_id = make(agentos, new_user(), "Alice's")
    outcome = cli("--session-id", session_id, "--rename", "Bob was here", "--user-id", new_user())
    assert outcome.code == 3 and detail(agentos, session_id)["session_name"] == "Alice's"


# 11. Restore checks what it re-created


def test_restore_of_a_backup_whose_type_contradicts_its_owner_is_exit_1(cli: Cli, tmp_path: Path) -> None:
    session = {"session_id": f"set-contra-{new_user()[9:19]}", "session_type": "team", "agent_id": "assistant"}
    backup = tmp_path / "contradiction.json"
    backup.write_text(json.dumps({"format": "agentos-session-export/1", "session": session, "runs": []}))
    outcome = cli("--restore", str(backup))
    assert outcome.code == 1 and "differs from the file in agent_id" in outcome.err


# 12. --all while sessions are being created


def test_all_returns_every_session_once_while_new_ones_are_created(
    agentos: AgentOSServer, proxy: FaultProxy, capsys: pytest.CaptureFixture[str]
) -> None:
    user = new_user()
    existing = several(agentos, user, 10, "Old ")
    proxy.delay(1.5, skip=1, method="GET", path="/sessions")  # page 2 waits while new sessions arrive
    timer = later(0.3, lambda: several(agentos, user, 4, "New "))
    outcome = Cli(capsys, proxy.url)("--all", "--user-id", user, "--limit", "3", "--json")
    timer.join()
    listed = [session["session_id"] for session in outcome.json()["data"]]
    assert outcome.code == 0 and len(listed) == len(set(listed))
    assert set(existing) <= set(listed)


# 15. A conflict during --clear offers only steps that work


def test_clear_conflict_with_a_session_recreated_meanwhile_says_what_happened(
    agentos: AgentOSServer, proxy: FaultProxy, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    user = new_user()
    session_id = make(agentos, user, "Raced", runs=("hello",))
    proxy.delay(1.5, method="POST", path="/sessions")  # the re-create waits; a run re-creates the session first
    body = {"session_id": session_id, "user_id": user, "agent_id": "assistant"}
    timer = later(0.5, lambda: httpx.post(f"{agentos.url}/sessions", params={"type": "agent"}, json=body, timeout=30))
    outcome = Cli(capsys, proxy.url)("--session-id", session_id, "--clear", "--yes", "--backup-dir", str(tmp_path))
    timer.join()
    assert outcome.code == 6 and "re-created the session" in outcome.err
    assert f"--session-id {session_id} --delete, then --restore" in outcome.err
    backup = next(tmp_path.glob(f"agentos-backup-{session_id}-*.json"))
    assert len(json.loads(backup.read_text())["runs"]) == 1
