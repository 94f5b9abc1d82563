"""Every command of the seed skill, against the real AgentOS, as people and agents use it."""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import socket
import subprocess
import sys

import httpx
import pytest
from cli_helpers import Cli, drain_terminal, unique
from conftest import ALL_SERVERS, ROOT, SECURITY_KEY, AgentOSServer, ServerPool

SCRIPT = ROOT / "scripts" / "manage_sessions.py"


@pytest.fixture(scope="session", params=ALL_SERVERS)
def agentos(request: pytest.FixtureRequest, server_pool: ServerPool) -> AgentOSServer:
    """This suite runs against agno 3.1 on SQLite and PostgreSQL, and against older servers."""
    return server_pool.get(request.param)


def closed_port_url() -> str:
    """A loopback URL where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_list_without_action_shows_newest_first_with_default_limit_20(cli: Cli) -> None:
    document = cli.json()
    assert document["meta"]["limit"] == 20
    assert document["meta"]["total_count"] >= 12
    created = [session["created_at"] for session in document["data"]]
    assert created == sorted(created, reverse=True)


def test_list_json_keeps_agentos_field_names_and_state(cli: Cli) -> None:
    sessions = {s["session_id"]: s for s in cli.json("--limit", "12", "--sort-order", "asc")["data"]}
    first = sessions["seed-00001"]
    assert first["session_name"] == "Research Chat 1"
    assert first["session_type"] == "agent"
    assert first["agent_id"] == "assistant"
    assert first["user_id"] == "alice@example.com"
    assert first["session_state"] == {"topic": "topic 1"}
    assert first["metadata"] == {"seeded": True}


@pytest.mark.parametrize(
    ("flag", "value", "field"),
    [
        ("--agent-id", "researcher", "agent_id"),
        ("--team-id", "research-team", "team_id"),
        ("--workflow-id", "pipeline", "workflow_id"),
        ("--user-id", "bob@example.com", "user_id"),
    ],
)
def test_list_filters_by_owner_and_user(cli: Cli, flag: str, value: str, field: str) -> None:
    sessions = cli.json(flag, value, "--limit", "100")["data"]
    assert sessions
    assert all(session[field] == value for session in sessions)


@pytest.mark.parametrize("session_type", ["agent", "team", "workflow"])
def test_list_filters_by_type(cli: Cli, session_type: str) -> None:
    sessions = cli.json("--type", session_type, "--limit", "100")["data"]
    assert sessions and {s["session_type"] for s in sessions} == {session_type}


def test_list_table_in_a_pipe_keeps_full_ids_and_names_on_one_line(cli: Cli) -> None:
    name = "A very long session name " + "that keeps going " * 8
    session_id = cli.new_session(name=name)
    outcome = cli("--limit", "100")
    assert outcome.code == 0
    row = next(line for line in outcome.out.splitlines() if line.startswith(session_id))
    assert name.strip() in row and "assistant" in row
    assert "\x1b[" not in outcome.out
    assert re.search(r"Session ID\s+Name\s+Type\s+Component\s+User\s+Created\s+Updated", outcome.out)


def test_list_table_respects_a_fixed_console_width(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    outcome = cli("--user-id", "alice@example.com")
    assert outcome.code == 0
    assert all(len(line) <= 100 for line in outcome.out.splitlines())
    assert "Session" in outcome.out


def test_inspect_shows_every_property_of_a_session(cli: Cli) -> None:
    outcome = cli("--session-id", "seed-00002")
    assert outcome.code == 0
    for label, value in [
        ("session_id", "seed-00002"),
        ("session_name", "Research Chat 2"),
        ("session_type", "agent"),
        ("component_id", "researcher"),
        ("user_id", "alice@example.com"),
        ("session_state", '{"topic": "topic 2"}'),
        ("metadata", '{"seeded": true}'),
        ("run_count", "2"),
    ]:
        assert re.search(rf"^{label}\s+{re.escape(value)}", outcome.out, re.MULTILINE), label
    assert re.search(r"^created_at\s+\d{4}-\d\d-\d\dT", outcome.out, re.MULTILINE)
    assert re.search(r"^summary", outcome.out, re.MULTILINE)


@pytest.mark.parametrize(
    ("session_id", "session_type", "owner_field", "owner"),
    [
        ("seed-00002", "agent", "agent_id", "researcher"),
        ("seed-00003", "team", "team_id", "research-team"),
        ("seed-00004", "workflow", "workflow_id", "pipeline"),
    ],
)
def test_inspect_json_of_agent_team_and_workflow_sessions(
    cli: Cli, session_id: str, session_type: str, owner_field: str, owner: str
) -> None:
    session = cli.json("--session-id", session_id)
    assert session["session_id"] == session_id
    assert session["session_type"] == session_type
    assert session[owner_field] == owner
    assert {"created_at", "updated_at", "session_state", "metadata", "run_count"} <= session.keys()


def test_inspect_missing_session_exits_3_with_a_hint(cli: Cli) -> None:
    outcome = cli("--session-id", "no-such-session")
    assert outcome.code == 3
    assert outcome.err.count("\n") == 1
    assert "no-such-session" in outcome.err and "not found" in outcome.err


def test_show_runs_json_lists_runs_oldest_first_with_whole_input_and_output(cli: Cli) -> None:
    runs = cli.json("--session-id", "seed-00002", "--show-runs")
    assert [run["run_input"] for run in runs] == ["My name is Alice.", "What's my name?"]
    assert [run["content"] for run in runs] == ["Nice to meet you, Alice.", "Your name is Alice."]
    assert all(run["status"] == "COMPLETED" and run["run_id"] for run in runs)


def test_show_runs_table_shortens_long_input(cli: Cli) -> None:
    session_id = cli.new_session(user_id="dora")
    long_message = "word " * 60
    assert cli("--session-id", session_id, "--chat", long_message).code == 0
    outcome = cli("--session-id", session_id, "--show-runs")
    assert outcome.code == 0
    assert "…" in outcome.out and long_message.strip() not in outcome.out
    assert re.search(r"Run ID\s+Status\s+Created\s+Input\s+Output", outcome.out)
    assert "COMPLETED" in outcome.out
    runs = cli.json("--session-id", session_id, "--show-runs")
    assert runs[0]["run_input"] == long_message


def test_create_agent_session_as_the_seed_writes_it(cli: Cli) -> None:
    outcome = cli("--create", "--agent-id", "my-agent", "--user-id", "alice", "--name", "Research Chat")
    assert outcome.code == 0
    assert re.search(r"^session_name\s+Research Chat", outcome.out, re.MULTILINE)
    assert re.search(r"^component_id\s+my-agent", outcome.out, re.MULTILINE)
    assert re.search(r"^user_id\s+alice\s*$", outcome.out, re.MULTILINE)


def test_create_with_chosen_id_state_and_metadata(cli: Cli) -> None:
    session_id = unique("created")
    created = cli.json(
        "--create",
        "--agent-id",
        "assistant",
        "--session-id",
        session_id,
        "--state",
        '{"step": 1}',
        "--metadata",
        '{"source": "test"}',
    )
    assert created["session_id"] == session_id
    stored = cli.json("--session-id", session_id)
    assert stored["session_state"] == {"step": 1}
    assert stored["metadata"] == {"source": "test"}
    assert stored["agent_id"] == "assistant"


@pytest.mark.parametrize(
    ("flag", "owner", "field"),
    [("--team-id", "research-team", "team_id"), ("--workflow-id", "pipeline", "workflow_id")],
)
def test_create_team_and_workflow_sessions(cli: Cli, flag: str, owner: str, field: str) -> None:
    session_id = cli.new_session(flag, owner, name="Owned")
    session = cli.json("--session-id", session_id)
    assert session[field] == owner
    assert session["session_type"] == field.removesuffix("_id")


def test_create_duplicate_id_exits_6_with_json_error(cli: Cli) -> None:
    session_id = cli.new_session()
    outcome = cli("--create", "--agent-id", "assistant", "--session-id", session_id, "--json")
    assert outcome.code == 6
    error = outcome.error()
    assert error["exit_code"] == 6 and session_id in error["error"] and error["hint"]
    assert outcome.out == ""


def test_create_without_owner_is_a_usage_error(cli: Cli) -> None:
    outcome = cli("--create", "--name", "x")
    assert outcome.code == 2
    assert "--agent-id" in outcome.err


def test_rename_changes_the_name(cli: Cli) -> None:
    session_id = cli.new_session(name="Old Name")
    outcome = cli("--session-id", session_id, "--rename", "New Name")
    assert outcome.code == 0
    assert re.search(r"^session_name\s+New Name", outcome.out, re.MULTILINE)
    assert cli.json("--session-id", session_id)["session_name"] == "New Name"


def test_rename_works_for_a_session_without_owner(cli: Cli, agentos: AgentOSServer) -> None:
    session_id = unique("ownerless")
    httpx.post(f"{agentos.url}/sessions", params={"type": "agent"}, json={"session_id": session_id}).raise_for_status()
    renamed = cli.json("--session-id", session_id, "--rename", "Named now")
    assert renamed["session_name"] == "Named now"


def test_rename_missing_session_exits_3(cli: Cli) -> None:
    assert cli("--session-id", unique("missing"), "--rename", "x").code == 3


def test_delete_removes_the_session(cli: Cli) -> None:
    session_id = cli.new_session()
    outcome = cli("--session-id", session_id, "--delete")
    assert outcome.code == 0
    assert re.search(rf"^{session_id}\s+deleted", outcome.out, re.MULTILINE)
    assert cli("--session-id", session_id).code == 3


def test_delete_json_reports_deleted_ids(cli: Cli) -> None:
    session_id = cli.new_session()
    assert cli.json("--session-id", session_id, "--delete") == {
        "deleted": [session_id],
        "skipped": [],
        "refused": [],
        "not_found": [],
    }


def test_delete_of_a_missing_id_reports_not_found_and_exits_3(cli: Cli) -> None:
    missing = unique("missing")
    outcome = cli("--session-id", missing, "--delete", "--json")
    assert outcome.code == 3
    assert outcome.json() == {"deleted": [], "skipped": [], "refused": [], "not_found": [missing]}
    assert "not found" in outcome.err


def test_delete_with_another_users_id_deletes_nothing(cli: Cli) -> None:
    session_id = cli.new_session(user_id="owner-user")
    outcome = cli("--session-id", session_id, "--delete", "--user-id", "someone-else", "--json")
    assert outcome.code == 3
    assert cli.json("--session-id", session_id)["user_id"] == "owner-user"


def test_stopped_server_exits_5_naming_the_url(capsys: pytest.CaptureFixture[str]) -> None:
    url = closed_port_url()
    outcome = Cli(capsys, url, "--retries", "0")()
    assert outcome.code == 5
    assert url in outcome.err and "error:" in outcome.err
    assert "Traceback" not in outcome.err


def test_keyed_server_without_key_exits_4_with_hint_to_pass_one(
    keyed_agentos: AgentOSServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("AGENTOS_SECURITY_KEY", "OS_SECURITY_KEY"):
        monkeypatch.delenv(variable, raising=False)
    outcome = Cli(capsys, keyed_agentos.url)()
    assert outcome.code == 4
    assert "--security-key" in outcome.err


def test_keyed_server_with_wrong_key_exits_4_with_hint_to_check_it(
    keyed_agentos: AgentOSServer, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = Cli(capsys, keyed_agentos.url, "--security-key", "wrong-key")("--json")
    assert outcome.code == 4
    assert "check the key" in outcome.error()["hint"]
    assert "wrong-key" not in outcome.err


@pytest.mark.parametrize("variable", ["AGENTOS_SECURITY_KEY", "OS_SECURITY_KEY"])
def test_security_key_comes_from_the_environment(
    keyed_agentos: AgentOSServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.delenv("AGENTOS_SECURITY_KEY", raising=False)
    monkeypatch.setenv(variable, SECURITY_KEY)
    outcome = Cli(capsys, keyed_agentos.url)("--json")
    assert outcome.code == 0
    assert outcome.json()["meta"]["total_count"] >= 2
    assert SECURITY_KEY not in outcome.out + outcome.err


def test_base_url_comes_from_agentos_url(
    agentos: AgentOSServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTOS_URL", agentos.url)
    capsys.readouterr()
    from cli_helpers import manage_sessions

    assert manage_sessions.main(["--json", "--limit", "1"]) == 0
    assert len(json.loads(capsys.readouterr().out)["data"]) == 1


def test_db_id_picks_the_database_and_table_needs_it(cli: Cli, agentos: AgentOSServer) -> None:
    db_id = httpx.get(f"{agentos.url}/config").json()["databases"][0]
    assert cli.json("--db-id", db_id, "--table", "agno_sessions")["meta"]["total_count"] >= 12
    assert cli("--db-id", "no-such-db").code == 3
    outcome = cli("--table", "agno_sessions")
    assert outcome.code == 2 and "--db-id" in outcome.err


def test_bad_json_argument_exits_2_and_creates_nothing(cli: Cli) -> None:
    session_id = unique("badjson")
    outcome = cli("--create", "--agent-id", "assistant", "--session-id", session_id, "--state", "{not json")
    assert outcome.code == 2
    assert outcome.err.count("\n") == 1 and "invalid JSON" in outcome.err
    assert cli("--session-id", session_id).code == 3


def test_usage_error_is_one_line_and_json_with_json_flag(cli: Cli) -> None:
    plain = cli("--limit", "0")
    assert plain.code == 2 and plain.err.count("\n") == 1 and plain.err.startswith("error:")
    as_json = cli("--limit", "0", "--json")
    assert as_json.code == 2 and as_json.error()["exit_code"] == 2


def test_help_lists_flags_examples_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    from cli_helpers import manage_sessions

    with pytest.raises(SystemExit) as exit_info:
        manage_sessions.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in ["--base-url", "--security-key", "--timeout", "--db-id", "--table", "--json", "--session-id"]:
        assert flag in text
    assert "examples:" in text and "exit codes:" in text and "130 interrupted" in text


def test_help_through_uv_run_as_users_run_it() -> None:
    completed = subprocess.run(
        ["uv", "run", "-q", str(SCRIPT), "--help"], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert completed.returncode == 0
    assert "--show-runs" in completed.stdout and "exit codes:" in completed.stdout


def test_help_does_not_import_agno_httpx_or_rich() -> None:
    code = (
        "import runpy, sys\n"
        "sys.argv = ['manage_sessions.py', '--help']\n"
        "try:\n"
        f"    runpy.run_path({str(SCRIPT)!r}, run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('agno', 'httpx', 'rich')))"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert completed.stdout.strip().splitlines()[-1] == "[]"


def test_list_in_a_subprocess_pipe_prints_plain_rows(agentos: AgentOSServer) -> None:
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--base-url", agentos.url, "--user-id", "bob@example.com"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0
    assert "seed-00005" in completed.stdout and "\x1b[" not in completed.stdout


def test_no_color_at_a_terminal_prints_no_colour_codes(agentos: AgentOSServer) -> None:
    main_fd, child_fd = pty.openpty()
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--base-url", agentos.url, "--user-id", "bob@example.com"],
        stdout=child_fd,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(child_fd)
    output = drain_terminal(main_fd)
    process.wait(timeout=60)
    text = output.decode()
    assert "seed-00005" in text
    assert not re.search(r"\x1b\[(3\d|9\d|38;)", text)


def test_ctrl_c_while_waiting_exits_130_without_a_traceback() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts connections in the kernel, never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        process = subprocess.Popen(
            [sys.executable, str(SCRIPT), "--base-url", url, "--timeout", "60"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        silent.settimeout(60)
        connection, _ = silent.accept()  # the CLI is now waiting for an answer
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
        connection.close()
    assert process.returncode == 130
    assert err.strip() == "interrupted" and out == ""


def test_names_with_rich_markup_and_emoji_codes_print_verbatim(cli: Cli) -> None:
    name = "[/oops] [bold]x[/bold] :smile:"
    session_id = cli.new_session(name=name)
    detail = cli("--session-id", session_id)
    listing = cli("--limit", "100")
    assert detail.code == 0 and listing.code == 0
    assert name in detail.out and name in listing.out
