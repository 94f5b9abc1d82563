"""--fork, --compact and --clear --keep-copy against a real AgentOS: copies, declines, refusals, old servers."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from cli_helpers import Cli, unique
from conftest import ALL_SERVERS, AgentOSServer, ServerPool
from faultproxy import FaultProxy

# Four runs of about the same size: with the local `compactor` (keeps the last run, folds only a
# span at least twice the tail) three runs are folded.
FOUR_MESSAGES = ("I like green tea.", "I live in Oslo now.", "My cat is named Tom.", "What do you know?")


@pytest.fixture(scope="session", params=ALL_SERVERS)
def any_agentos(request: pytest.FixtureRequest, server_pool: ServerPool) -> AgentOSServer:
    """agno 3.1 on SQLite and PostgreSQL, and the older servers: all of them fork."""
    return server_pool.get(request.param)


@pytest.fixture
def any_cli(any_agentos: AgentOSServer, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(capsys, any_agentos.url)


def session_with_runs(cli: Cli, user: str, *messages: str, flag: str = "--agent-id", owner: str = "assistant") -> str:
    """A new session of `user` with one run per message."""
    session_id = cli.new_session(flag, owner, user_id=user, name="Trip plans")
    for message in messages:
        outcome = cli("--session-id", session_id, "--chat", message)
        assert outcome.code == 0, outcome.err
    return session_id


def workflow_session_with_run(cli: Cli, server: AgentOSServer, user: str) -> str:
    """A new `pipeline` session of `user` with one run (--chat does not run workflows)."""
    session_id = cli.new_session("--workflow-id", "pipeline", user_id=user)
    data = {"message": "Run it.", "session_id": session_id, "user_id": user, "stream": "false"}
    httpx.post(f"{server.url}/workflows/pipeline/runs", data=data, timeout=60).raise_for_status()
    return session_id


def sessions_of(cli: Cli, user: str) -> dict[str, dict]:
    return {session["session_id"]: session for session in cli.json("--user-id", user, "--all")["data"]}


def runs_of(cli: Cli, session_id: str) -> list[dict]:
    return cli.json("--session-id", session_id, "--show-runs")


# --fork


def test_fork_copies_every_run_into_a_new_session_and_leaves_the_original(any_cli: Cli) -> None:
    user = unique("forker")
    original = session_with_runs(any_cli, user, "My name is Alice.", "What's my name?")
    runs_before = runs_of(any_cli, original)

    copy = any_cli.json("--session-id", original, "--fork")

    assert copy["session_id"] != original and copy["forked_from_session_id"] == original
    assert copy["session_name"] == "Trip plans (fork)" and copy["user_id"] == user
    assert copy["session_type"] == "agent" and copy["agent_id"] == "assistant" and copy["run_count"] == 2
    copied = runs_of(any_cli, copy["session_id"])
    assert [run["run_input"] for run in copied] == ["My name is Alice.", "What's my name?"]
    assert {run["run_id"] for run in copied}.isdisjoint(run["run_id"] for run in runs_before)
    assert runs_of(any_cli, original) == runs_before
    assert any_cli.json("--session-id", original)["session_name"] == "Trip plans"
    assert set(sessions_of(any_cli, user)) == {original, copy["session_id"]}


def test_fork_of_a_team_session_takes_the_name_given(any_cli: Cli) -> None:
    user = unique("team-forker")
    original = session_with_runs(any_cli, user, "Hello team.", flag="--team-id", owner="research-team")

    copy = any_cli.json("--session-id", original, "--fork", "--name", "Plan B")

    assert copy["session_name"] == "Plan B" and copy["team_id"] == "research-team" and copy["session_type"] == "team"
    assert copy["user_id"] == user and copy["run_count"] == 1
    assert any_cli.json("--session-id", copy["session_id"])["session_name"] == "Plan B"


def test_fork_table_names_the_copy_and_says_every_run_was_copied(cli: Cli) -> None:
    user = unique("fork-table")
    original = session_with_runs(cli, user, "One.", "Two.")

    outcome = cli("--session-id", original, "--fork")

    assert outcome.code == 0, outcome.err
    assert f"Forked {original}: the copy has all 2 runs" in outcome.out
    assert "Trip plans (fork)" in outcome.out and user in outcome.out


def test_fork_of_a_workflow_session_is_refused_and_makes_nothing(any_cli: Cli, any_agentos: AgentOSServer) -> None:
    user = unique("wf-forker")
    original = workflow_session_with_run(any_cli, any_agentos, user)

    outcome = any_cli("--session-id", original, "--fork", "--json")

    assert outcome.code == 2 and outcome.out == ""
    assert outcome.error()["error"] == (
        f"session '{original}' is a workflow session; AgentOS can fork only agent and team sessions"
    )
    assert set(sessions_of(any_cli, user)) == {original}


def test_fork_of_a_session_without_runs_says_there_is_nothing_to_fork(any_cli: Cli) -> None:
    user = unique("empty-forker")
    original = any_cli.new_session(user_id=user)

    outcome = any_cli("--session-id", original, "--fork")

    assert outcome.code == 2 and outcome.out == ""
    assert f"session '{original}' has no runs: nothing to fork" in outcome.err
    assert set(sessions_of(any_cli, user)) == {original}


def test_fork_of_a_missing_session_is_not_found(cli: Cli) -> None:
    outcome = cli("--session-id", unique("no-such-session"), "--fork")
    assert outcome.code == 3 and "not found" in outcome.err


def test_fork_of_another_users_session_is_not_found_and_makes_nothing(cli: Cli) -> None:
    user = unique("owner")
    original = session_with_runs(cli, user, "Mine.")

    outcome = cli("--session-id", original, "--fork", "--user-id", unique("intruder"))

    assert outcome.code == 3
    assert set(sessions_of(cli, user)) == {original}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fork"], "this action needs --session-id"),
        (["--compact"], "this action needs --session-id"),
        (["--session-id", "s-1", "--fork", "--compact"], "not allowed with argument"),
        (["--session-id", "s-1", "--compact", "--backup-dir", "x"], "--backup-dir does not apply to --compact"),
        (["--session-id", "s-1", "--fork", "--keep-copy"], "--keep-copy does not apply to --fork"),
        (["--session-id", "s-1", "--fork", "--name", " "], "--name for the copy is empty"),
        (["--session-id", "../x", "--fork"], "is not a usable id"),
        (["--session-id", "../x", "--compact"], "is not a usable id"),
    ],
)
def test_fork_and_compact_usage_mistakes_are_refused_with_exit_2(cli: Cli, args: list[str], message: str) -> None:
    outcome = cli(*args)
    assert outcome.code == 2 and message in outcome.err and outcome.out == ""


# --compact


def test_compact_folds_the_older_runs_and_reports_the_token_counts(cli: Cli) -> None:
    session_id = session_with_runs(cli, unique("compacter"), *FOUR_MESSAGES, owner="compactor")

    outcome = cli.json("--session-id", session_id, "--compact")

    assert outcome["status"] == "compacted" and outcome["compacted"] is True
    assert outcome["session_id"] == session_id and outcome["agent_id"] == "compactor"
    record = outcome["record"]
    assert record["messages_compacted"] == 6 and 0 < record["tokens_after"] < record["tokens_before"]
    assert outcome["message"] == (
        f"Compacted 6 messages ({record['tokens_before']} -> {record['tokens_after']} tokens)."
    )
    assert [line for line in record["summary"].splitlines() if line.startswith("- ")] == [
        f"- The user said: {message}" for message in FOUR_MESSAGES[:3]
    ]
    assert outcome["metrics"]["input_tokens"] > 0 and outcome["metrics"]["output_tokens"] > 0
    assert [run["run_input"] for run in runs_of(cli, session_id)] == list(FOUR_MESSAGES)


def test_compact_table_shows_status_message_and_tokens(cli: Cli) -> None:
    session_id = session_with_runs(cli, unique("compact-table"), *FOUR_MESSAGES, owner="compactor")

    outcome = cli("--session-id", session_id, "--compact")

    assert outcome.code == 0, outcome.err
    lines = {line.split()[0]: line.split(maxsplit=1)[1].strip() for line in outcome.out.splitlines()[2:]}
    assert lines["status"] == "compacted" and lines["messages_compacted"] == "6"
    assert int(lines["tokens_before"]) > int(lines["tokens_after"]) > 0
    assert lines["message"].startswith("Compacted 6 messages (")
    assert outcome.out.startswith(f"Compaction of {session_id}")


def test_compacting_twice_is_a_decline_not_an_error(cli: Cli) -> None:
    session_id = session_with_runs(cli, unique("compact-twice"), *FOUR_MESSAGES, owner="compactor")
    assert cli.json("--session-id", session_id, "--compact")["status"] == "compacted"

    again = cli("--session-id", session_id, "--compact", "--json")

    assert again.code == 0, again.err
    assert again.json()["status"] == "already_compacted" and again.json()["compacted"] is False


@pytest.mark.parametrize(
    ("messages", "status", "message_start"),
    [
        ((), "no_history", "This session has no stored history yet."),
        (FOUR_MESSAGES[:1], "nothing_to_fold", "Nothing to fold yet"),
        (FOUR_MESSAGES[:2], "not_worth_it", "This fold would replace"),
    ],
    ids=["no_history", "nothing_to_fold", "not_worth_it"],
)
def test_compact_declines_exit_0_with_the_status_and_message(
    cli: Cli, messages: tuple[str, ...], status: str, message_start: str
) -> None:
    session_id = session_with_runs(cli, unique("decline"), *messages, owner="compactor")

    outcome = cli("--session-id", session_id, "--compact", "--json")

    assert outcome.code == 0, outcome.err
    declined = outcome.json()
    assert declined["status"] == status and declined["compacted"] is False and declined["record"] is None
    assert declined["message"].startswith(message_start)


def test_compact_on_an_agent_without_compaction_is_exit_1_with_a_settings_hint(cli: Cli) -> None:
    session_id = session_with_runs(cli, unique("no-compaction"), "Hello.", "Again.")

    outcome = cli("--session-id", session_id, "--compact", "--json")

    assert outcome.code == 1 and outcome.out == ""
    error = outcome.error()
    assert error["error"] == (
        f"session '{session_id}' was not compacted (not_enabled): Compaction is not enabled on this agent."
    )
    assert "agent 'assistant'" in error["hint"] and "compaction=True" in error["hint"]


def test_compact_whose_summary_fails_is_exit_1_with_the_servers_message(cli: Cli) -> None:
    messages = ("Please keep no summary of this.", *FOUR_MESSAGES[1:])
    session_id = session_with_runs(cli, unique("summary-fails"), *messages, owner="compactor")

    outcome = cli("--session-id", session_id, "--compact")

    assert outcome.code == 1 and outcome.out == ""
    assert f"error: session '{session_id}' was not compacted (summary_failed): The summarizer returned nothing" in (
        outcome.err
    )


@pytest.mark.parametrize(
    ("flag", "owner", "kind"), [("--team-id", "research-team", "team"), ("--workflow-id", "pipeline", "workflow")]
)
def test_compact_of_a_team_or_workflow_session_is_refused_with_exit_2(
    cli: Cli, flag: str, owner: str, kind: str
) -> None:
    session_id = cli.new_session(flag, owner, user_id=unique("compact-kind"))

    outcome = cli("--session-id", session_id, "--compact")

    assert outcome.code == 2 and outcome.out == ""
    assert f"session '{session_id}' is a {kind} session; AgentOS can compact only agent sessions" in outcome.err


def test_compact_of_a_session_whose_agent_the_server_lacks_names_the_agent(cli: Cli) -> None:
    ghost = unique("ghost-agent")
    session_id = cli.new_session("--agent-id", ghost, user_id=unique("ghost-owner"))

    outcome = cli("--session-id", session_id, "--compact")

    assert outcome.code == 3
    assert f"AgentOS has no agent '{ghost}', the owner of session '{session_id}'" in outcome.err


def test_compact_on_a_server_without_compaction_is_exit_1_naming_the_feature(
    legacy_agentos: AgentOSServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cli = Cli(capsys, legacy_agentos.url)
    session_id = session_with_runs(cli, unique("old-compact"), "Hello.", "Again.")

    outcome = cli("--session-id", session_id, "--compact", "--json")

    assert outcome.code == 1 and outcome.out == ""
    error = outcome.error()
    assert error["error"] == "this AgentOS has no session compaction; it needs agno 3.1 or newer"
    assert "404" not in outcome.err and "not found" not in outcome.err.lower()
    assert len(runs_of(cli, session_id)) == 2


# --clear --keep-copy


def test_clear_keep_copy_forks_first_and_names_the_copy_in_output_and_backup(any_cli: Cli, tmp_path: Path) -> None:
    user = unique("keeper")
    session_id = session_with_runs(any_cli, user, "My name is Alice.", "What's my name?")

    cleared = any_cli.json("--session-id", session_id, "--clear", "--yes", "--keep-copy", "--backup-dir", str(tmp_path))

    copy_id = cleared["copy_session_id"]
    assert cleared["runs_removed"] == 2 and cleared["run_count"] == 0 and runs_of(any_cli, session_id) == []
    assert [run["run_input"] for run in runs_of(any_cli, copy_id)] == ["My name is Alice.", "What's my name?"]
    copy = any_cli.json("--session-id", copy_id)
    assert copy["session_name"] == "Trip plans (before clear)" and copy["user_id"] == user
    backup = json.loads(Path(cleared["backup"]).read_text())
    assert backup["copy_session_id"] == copy_id and len(backup["runs"]) == 2
    assert set(sessions_of(any_cli, user)) == {session_id, copy_id}


def test_clear_keep_copy_table_prints_the_copys_id(cli: Cli, tmp_path: Path) -> None:
    user = unique("keeper-table")
    session_id = session_with_runs(cli, user, "Hello.")

    outcome = cli("--session-id", session_id, "--clear", "--yes", "--keep-copy", "--backup-dir", str(tmp_path))

    assert outcome.code == 0, outcome.err
    (copy_id,) = set(sessions_of(cli, user)) - {session_id}
    assert f"copy_session_id  {copy_id}" in outcome.out


def test_clear_keep_copy_of_a_session_without_runs_changes_nothing(any_cli: Cli, tmp_path: Path) -> None:
    user = unique("keeper-empty")
    session_id = any_cli.new_session(user_id=user, name="Empty", metadata='{"k": 1}')
    before = any_cli.json("--session-id", session_id)

    outcome = any_cli("--session-id", session_id, "--clear", "--yes", "--keep-copy", "--backup-dir", str(tmp_path))

    assert outcome.code == 0, outcome.err
    assert outcome.out == f"session {session_id} has no runs: nothing to clear or copy, nothing changed\n"
    assert list(tmp_path.iterdir()) == []
    assert set(sessions_of(any_cli, user)) == {session_id}
    assert any_cli.json("--session-id", session_id) == before


def test_clear_keep_copy_of_a_workflow_session_is_refused_and_keeps_the_runs(
    any_cli: Cli, any_agentos: AgentOSServer, tmp_path: Path
) -> None:
    user = unique("keeper-wf")
    session_id = workflow_session_with_run(any_cli, any_agentos, user)

    outcome = any_cli("--session-id", session_id, "--clear", "--yes", "--keep-copy", "--backup-dir", str(tmp_path))

    assert outcome.code == 2 and "AgentOS can fork only agent and team sessions" in outcome.err
    assert len(runs_of(any_cli, session_id)) == 1
    assert list(tmp_path.iterdir()) == []
    assert set(sessions_of(any_cli, user)) == {session_id}


def test_keep_copy_without_clear_is_refused(cli: Cli) -> None:
    outcome = cli("--session-id", "seed-00001", "--keep-copy")
    assert outcome.code == 2 and "--keep-copy does not apply to --session-id alone" in outcome.err


# Neither POST is safe to repeat once it reached the server


@pytest.mark.parametrize("agentos", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("flag", "verb"), [("--fork", "fork"), ("--compact", "compact")])
def test_a_fork_or_compact_the_server_failed_is_sent_once_and_exit_1(
    agentos: AgentOSServer, capsys: pytest.CaptureFixture[str], flag: str, verb: str
) -> None:
    user = unique("fault-503")
    session_id = session_with_runs(Cli(capsys, agentos.url), user, "Hello.", owner="compactor")
    path = f"/agents/compactor/sessions/{session_id}/{verb}"
    with FaultProxy(agentos.url) as proxy:
        proxy.fail(503, times=5, method="POST", path=path)
        outcome = Cli(capsys, proxy.url)("--session-id", session_id, flag)
        assert len(proxy.seen("POST", path)) == 1
    assert outcome.code == 1 and "injected by the fault proxy" in outcome.err
    assert set(sessions_of(Cli(capsys, agentos.url), user)) == {session_id}


@pytest.mark.parametrize("agentos", ["sqlite"], indirect=True)
def test_a_fork_whose_answer_is_lost_is_not_repeated_and_says_check_first(
    agentos: AgentOSServer, capsys: pytest.CaptureFixture[str]
) -> None:
    user = unique("fault-drop")
    session_id = session_with_runs(Cli(capsys, agentos.url), user, "Hello.")
    path = f"/agents/assistant/sessions/{session_id}/fork"
    with FaultProxy(agentos.url) as proxy:
        proxy.drop(forward=True, method="POST", path=path)
        outcome = Cli(capsys, proxy.url)("--session-id", session_id, "--fork", "--retries", "3")
        assert len(proxy.seen("POST", path)) == 1
    assert outcome.code == 5 and "the server may have acted: check before repeating" in outcome.err
    assert len(sessions_of(Cli(capsys, agentos.url), user)) == 2  # the one fork that reached the server
