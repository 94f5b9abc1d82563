"""Reliability, round three (issue 20), the command-line items: names as AgentOS shows them, a name
several sessions share, flags that would be ignored, a 404 that is not AgentOS's, and the gaps the
mutation run found. Against the real AgentOS; faults only through the fault proxy."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest
from agentos_sessions import cli as cli_module
from cli_helpers import ACTION_ARGV, Cli
from conftest import AgentOSServer
from faultproxy import FaultProxy
from test_sets import detail, ids_of, make, new_user, run_count

NOWHERE = "http://127.0.0.1:9"  # nothing listens: a command that sends anything exits 5, not 2


def nameless(server: AgentOSServer, user: str, message: str) -> str:
    """A session with no stored name and one run: AgentOS shows its first message as its name."""
    session_id = f"r3-{uuid.uuid4().hex[:12]}"
    body = {"session_id": session_id, "user_id": user, "agent_id": "assistant"}
    httpx.post(f"{server.url}/sessions", params={"type": "agent"}, json=body, timeout=30).raise_for_status()
    form = {"message": message, "session_id": session_id, "user_id": user, "stream": "false"}
    httpx.post(f"{server.url}/agents/assistant/runs", data=form, timeout=60).raise_for_status()
    return session_id


def offline(capsys: pytest.CaptureFixture[str]) -> Cli:
    """The CLI pointed at a port where nothing listens, without retries."""
    return Cli(capsys, NOWHERE, "--retries", "0")


# Item 1: names as AgentOS shows them


def test_a_name_taken_from_the_first_message_is_found_by_session_name_and_name(
    cli: Cli, agentos: AgentOSServer
) -> None:
    user, message = new_user(), f"Plan the offsite {uuid.uuid4().hex[:8]}"
    session_id = nameless(agentos, user, message)
    assert cli.json("--session-id", session_id)["session_name"] == message  # what AgentOS shows
    assert cli.json("--session-name", message, "--user-id", user)["session_id"] == session_id
    assert ids_of(cli.json("--name", message.upper(), "--user-id", user)) == {session_id}
    assert ids_of(cli.json("--name", message[5:])) == {session_id}  # no other filter at all


def test_names_with_tabs_and_newlines_are_found(cli: Cli, agentos: AgentOSServer) -> None:
    user, tag = new_user(), uuid.uuid4().hex[:8]
    tabbed = make(agentos, user, f"tab\there {tag}")
    broken = make(agentos, user, f"two\nlines {tag}")
    assert cli.json("--session-name", f"tab\there {tag}", "--user-id", user)["session_id"] == tabbed
    assert cli.json("--session-name", f"two\nlines {tag}", "--user-id", user)["session_id"] == broken
    assert ids_of(cli.json("--name", "TAB\tHERE", "--user-id", user)) == {tabbed}
    assert ids_of(cli.json("--name", f"o\nlines {tag}", "--user-id", user)) == {broken}


def test_name_matches_case_folds_the_servers_filter_lacks(cli: Cli, agentos: AgentOSServer) -> None:
    user, tag = new_user(), uuid.uuid4().hex[:8]
    street = make(agentos, user, f"Straße {tag}")
    assert ids_of(cli.json("--name", f"STRASSE {tag.upper()}", "--user-id", user)) == {street}
    assert ids_of(cli.json("--name", f"strasse {tag}")) == {street}
    missing = cli("--session-name", f"STRASSE {tag}", "--user-id", user)  # exact: no folding
    assert missing.code == 3 and "not found" in missing.err


def test_a_write_by_a_first_message_name_several_sessions_show_needs_yes(cli: Cli, agentos: AgentOSServer) -> None:
    user, message = new_user(), f"Same opening {uuid.uuid4().hex[:8]}"
    twins = [nameless(agentos, user, message), nameless(agentos, user, message)]
    refused = cli("--delete", "--session-name", message, "--user-id", user)
    assert refused.code == 2 and "2 session(s) match" in refused.err
    assert all(detail(agentos, sid) is not None for sid in twins)
    deleted = cli.json("--delete", "--session-name", message, "--user-id", user, "--yes")
    assert sorted(deleted["deleted"]) == sorted(twins) and all(detail(agentos, sid) is None for sid in twins)


# Item 8: one --session-name shared by several sessions, for --update, --clear and --export


def test_update_of_a_shared_name_needs_yes_and_then_updates_each(cli: Cli, agentos: AgentOSServer) -> None:
    user = new_user()
    twins = [make(agentos, user, "Twin", metadata={"own": n}) for n in range(2)]
    refused = cli("--update", "--session-name", "Twin", "--user-id", user, "--metadata", '{"tag": 1}')
    assert refused.code == 2 and all(sid in refused.err for sid in twins) and "--yes" in refused.err
    assert [detail(agentos, sid)["metadata"] for sid in twins] == [{"own": 0}, {"own": 1}]
    preview = cli.json("--update", "--session-name", "Twin", "--user-id", user, "--metadata", '{"tag": 1}', "--dry-run")
    assert sorted(entry["session_id"] for entry in preview["data"]) == sorted(twins)
    done = cli.json("--update", "--session-name", "Twin", "--user-id", user, "--metadata", '{"tag": 1}', "--yes")
    assert sorted(entry["session_id"] for entry in done["updated"]) == sorted(twins)
    assert [detail(agentos, sid)["metadata"] for sid in twins] == [{"own": 0, "tag": 1}, {"own": 1, "tag": 1}]


def test_clear_of_a_shared_name_needs_yes_and_then_clears_each(
    cli: Cli, agentos: AgentOSServer, tmp_path: Path
) -> None:
    user = new_user()
    twins = [make(agentos, user, "Twin", runs=("hello",)) for _ in range(2)]
    refused = cli("--clear", "--session-name", "Twin", "--user-id", user, "--backup-dir", str(tmp_path))
    assert refused.code == 2 and all(sid in refused.err for sid in twins)
    assert [run_count(agentos, sid) for sid in twins] == [1, 1]
    preview = cli.json("--clear", "--session-name", "Twin", "--user-id", user, "--dry-run")
    assert ids_of(preview) == set(twins) and not list(tmp_path.glob("*.json"))
    done = cli.json("--clear", "--session-name", "Twin", "--user-id", user, "--yes", "--backup-dir", str(tmp_path))
    assert sorted(entry["session_id"] for entry in done["cleared"]) == sorted(twins) and [
        run_count(agentos, sid) for sid in twins
    ] == [0, 0]


def test_export_of_a_shared_name_writes_every_session_of_that_name(
    cli: Cli, agentos: AgentOSServer, tmp_path: Path
) -> None:
    user = new_user()
    twins = [make(agentos, user, "Twin", runs=("hello",)), make(agentos, user, "Twin")]
    target = tmp_path / "twins.json"
    summary = cli.json("--export", str(target), "--session-name", "Twin", "--user-id", user)
    assert summary["sessions"] == 2 and summary["runs"] == 1
    document = json.loads(target.read_text())
    assert sorted(entry["session"]["session_id"] for entry in document["sessions"]) == sorted(twins)


def test_fields_with_a_write_on_a_shared_name_are_refused_and_nothing_changes(cli: Cli, agentos: AgentOSServer) -> None:
    user = new_user()
    twins = [make(agentos, user, "Twin") for _ in range(2)]
    argv = ["--update", "--session-name", "Twin", "--user-id", user, "--metadata", '{"tag": 1}', "--yes"]
    refused = cli(*argv, "--fields", "session_id")
    assert refused.code == 2 and "--fields" in refused.err
    assert all(not detail(agentos, sid).get("metadata") for sid in twins)


# Item 15: flags that would be ignored are refused before anything is sent


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--export", "out.json", "--user-id", "u", "--fields", "session_id"], "--fields does not apply to --export"),
        (["--count", "--limit", "5"], "--limit"),
        (["--count", "--page", "2"], "--page"),
        (["--count", "--sort-by", "updated_at"], "--sort-by"),
        (["--count", "--sort-order", "asc"], "--sort-order"),
        (["--session-id", "a", "--session-id", "b", "--sort-by", "updated_at"], "--sort-by"),
        (["--session-id", "a", "--session-id", "b", "--sort-order", "asc"], "--sort-order"),
        (["--session-id", "a", "--session-id", "b", "--page", "2"], "--page"),
        (["--session-name", "a", "--session-id", "b", "--all"], "--all"),
        (["--session-id", "a", "--delete", "--all"], "--all"),
        (["--session-name", "a", "--update", "--metadata", "{}", "--all", "--yes"], "--all"),
    ],
    ids=[
        "export-fields",
        "count-limit",
        "count-page",
        "count-sort-by",
        "count-sort-order",
        "ids-sort-by",
        "ids-sort-order",
        "ids-page",
        "names-all",
        "delete-ids-all",
        "update-name-all",
    ],
)
def test_flags_that_would_be_ignored_are_refused(capsys: pytest.CaptureFixture[str], argv: list[str], says: str):
    outcome = offline(capsys)(*argv)
    assert outcome.code == 2 and says in outcome.err and outcome.err.count("\n") == 1, outcome.err


def test_a_page_of_named_sessions_is_still_honoured_with_limit(cli: Cli, agentos: AgentOSServer) -> None:
    user = new_user()
    a, b = make(agentos, user, "A"), make(agentos, user, "B")
    second = cli.json("--session-id", a, "--session-id", b, "--limit", "1", "--page", "2")
    assert ids_of(second) == {b} and second["meta"]["total_count"] == 2


# Item 16: --update --dry-run takes --fields


def test_update_dry_run_projects_its_preview_to_the_fields(cli: Cli, agentos: AgentOSServer) -> None:
    user = new_user()
    session_id = make(agentos, user, "Preview", metadata={"own": 1})
    argv = ["--update", "--session-id", session_id, "--metadata", '{"tag": 2}', "--dry-run"]
    preview = cli.json(*argv, "--fields", "session_id,metadata")
    assert preview["data"] == [{"session_id": session_id, "metadata": {"own": 1, "tag": 2}}]
    lines = cli(*argv, "--fields", "metadata,session_id").out.splitlines()
    assert ["metadata", "session_id"] in [line.split() for line in lines]
    assert not any("State" in line or "Summary" in line for line in lines)
    refused = cli(*argv, "--fields", "session_name")
    assert refused.code == 2 and "valid fields: session_id" in refused.err
    assert detail(agentos, session_id)["metadata"] == {"own": 1}


# Item 18: a 404 that is not AgentOS's own is an error, not "not found"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<html><head><title>404 Not Found</title></head><body><center>nginx</center></body></html>", "text/html"),
        (b'{"message": "no Route matched with those values"}', "application/json"),
        (b"", "text/plain"),
    ],
    ids=["nginx-html", "json-without-detail", "empty"],
)
def test_a_404_that_is_not_agentos_is_exit_1_and_deletes_nothing(
    agentos: AgentOSServer, proxy: FaultProxy, capsys: pytest.CaptureFixture[str], body: bytes, content_type: str
) -> None:
    session_id = make(agentos, new_user(), "Behind a proxy")
    proxy.fail(404, body=body, content_type=content_type, times=10, method="GET", path=f"/sessions/{session_id}")
    deleting = Cli(capsys, proxy.url)("--session-id", session_id, "--delete", "--json")
    assert deleting.code == 1 and "check --base-url" in deleting.err and deleting.out == ""
    assert not proxy.seen(method="DELETE")
    inspecting = Cli(capsys, proxy.url)("--session-id", session_id)
    assert inspecting.code == 1 and "not found" not in inspecting.err.split("(")[0]
    assert detail(agentos, session_id) is not None


def test_agentos_own_404_is_still_not_found(cli: Cli) -> None:
    outcome = cli("--session-id", f"r3-missing-{uuid.uuid4().hex[:8]}", "--delete", "--json")
    assert outcome.code == 3 and outcome.json()["not_found"] and outcome.json()["deleted"] == []


# Item 6 (the bug): a flag whose value is 0 is a flag given


@pytest.mark.parametrize(
    "argv",
    [
        ["--create", "--agent-id", "assistant", "--max-runs", "0"],
        ["--create", "--agent-id", "assistant", "--min-runs", "0"],
        ["--agent-id", "assistant", "--chat", "hi", "--max-runs", "0"],
    ],
    ids=["create-max-runs-0", "create-min-runs-0", "chat-max-runs-0"],
)
def test_a_flag_given_as_zero_is_refused_where_it_does_not_apply(capsys: pytest.CaptureFixture[str], argv) -> None:
    outcome = offline(capsys)(*argv)
    assert outcome.code == 2 and "-runs does not apply to" in outcome.err, outcome.err


# Item 7a: filters narrow the ids and names given, not only the filters AgentOS applies


@pytest.mark.parametrize(
    ("flag", "excluding", "including"),
    [
        ("--name", "no-such-name", "round three"),
        ("--before", "2000-01-01", "2100-01-01"),
        ("--after", "2100-01-01", "2000-01-01"),
        ("--updated-before", "2000-01-01", "2100-01-01"),
        ("--updated-after", "2100-01-01", "2000-01-01"),
    ],
)
def test_every_local_filter_narrows_the_ids_given(
    cli: Cli, agentos: AgentOSServer, flag: str, excluding: str, including: str
) -> None:
    user = new_user()
    a, b = make(agentos, user, "Round three A"), make(agentos, user, "Round Three B")
    named = ["--session-id", a, "--session-id", b]
    narrowed = cli(*named, flag, excluding, "--json")
    assert narrowed.code == 3 and narrowed.json()["data"] == [] and a in narrowed.err and b in narrowed.err
    assert ids_of(cli.json(*named, flag, including)) == {a, b}
    dry = cli("--delete", "--dry-run", *named, flag, excluding, "--json")
    assert dry.json()["data"] == [] and detail(agentos, a) is not None
    names = ["--session-name", "Round three A", "--session-name", "Round Three B", "--user-id", user]
    by_name = cli(*names, flag, excluding, "--json")
    assert by_name.code == 3 and by_name.json()["data"] == []


# Item 7b: which flags fit which action, written out here (not derived from cli.FLAG_ACTIONS)

EVERY_ACTION = "list inspect runs run create rename update delete clear export restore chat fork compact"
# flag -> the actions it does NOT fit; each line is a decision, so a change to the table in cli.py
# that lets a flag through somewhere new fails here.
NOT_FITTING = {
    "limit": "inspect runs run create rename update delete clear export restore chat fork compact",
    "page": "inspect runs run create rename update delete clear export restore chat fork compact",
    "sort_by": "inspect runs run create rename update delete clear export restore chat fork compact",
    "sort_order": "inspect runs run create rename update delete clear export restore chat fork compact",
    "all": "inspect run create rename restore chat fork compact",
    "session_id": "restore",
    "session_name": "create restore",
    "agent_id": "restore",
    "team_id": "restore",
    "workflow_id": "restore",
    "user_id": "restore",
    "type": "create restore chat",
    "before": "create restore chat",
    "after": "create restore chat",
    "updated_before": "create restore chat",
    "updated_after": "create restore chat",
    "min_runs": "create restore chat",
    "max_runs": "create restore chat",
    "search": "create restore chat",
    "name": "restore chat",
    "status": "list inspect run create rename update delete clear export restore chat fork compact",
    "since": "list inspect run create rename update delete clear export restore chat fork compact",
    "until": "list inspect run create rename update delete clear export restore chat fork compact",
    "state": "list inspect runs run rename delete clear export restore chat fork compact",
    "metadata": "list inspect runs run rename delete clear export restore chat fork compact",
    "summary": "list inspect runs run create rename delete clear export restore chat fork compact",
    "replace": "list inspect runs run create rename delete clear export restore chat fork compact",
    "dry_run": "list inspect runs run create rename export restore chat fork compact",
    "yes": "list inspect runs run create rename export restore chat fork compact",
    "backup_dir": "list inspect runs run create rename update delete export restore chat fork compact",
    "keep_copy": "list inspect runs run create rename update delete export restore chat fork compact",
    "count": "inspect runs run create rename update delete clear export restore chat fork compact",
    "group_by": "inspect runs run create rename update delete clear export restore chat fork compact",
    "fields": "export chat compact",
    "where": "create restore chat",
    "last": "list inspect run create rename update delete clear export restore chat fork compact",
    "first": "list inspect run create rename update delete clear export restore chat fork compact",
    "runs": "inspect runs run create rename update delete clear export restore chat fork compact",
    "db": "list inspect runs run create rename update delete export chat fork compact",
    "runs_only": "list inspect runs run create rename update delete clear export chat fork compact",
    "keep_last": "list inspect runs run create rename update delete export restore chat fork compact",
}
ARGV_OF_ACTION = ACTION_ARGV
FLAG_ARGV = {
    "limit": ["--limit", "5"], "page": ["--page", "2"], "sort_by": ["--sort-by", "created_at"],
    "sort_order": ["--sort-order", "asc"], "all": ["--all"], "session_id": ["--session-id", "s-2"],
    "session_name": ["--session-name", "n"], "agent_id": ["--agent-id", "assistant"], "team_id": ["--team-id", "t"],
    "workflow_id": ["--workflow-id", "w"], "user_id": ["--user-id", "u"], "type": ["--type", "agent"],
    "before": ["--before", "2030-01-01"], "after": ["--after", "2020-01-01"],
    "updated_before": ["--updated-before", "2030-01-01"], "updated_after": ["--updated-after", "2020-01-01"],
    "min_runs": ["--min-runs", "0"], "max_runs": ["--max-runs", "0"], "search": ["--search", "x"],
    "name": ["--name", "x"], "status": ["--status", "completed"], "since": ["--since", "2020-01-01"],
    "until": ["--until", "2030-01-01"], "state": ["--state", "{}"], "metadata": ["--metadata", "{}"],
    "summary": ["--summary", "s"], "replace": ["--replace"], "dry_run": ["--dry-run"], "yes": ["--yes"],
    "backup_dir": ["--backup-dir", "b"], "keep_copy": ["--keep-copy"], "count": ["--count"],
    "group_by": ["--group-by", "user_id"], "fields": ["--fields", "session_id"],
    "where": ["--where", "metadata.k"], "last": ["--last", "1"], "first": ["--first", "1"], "runs": ["--runs"],
    "db": ["--db", "sqlite:///nowhere.db"], "runs_only": ["--runs-only"], "keep_last": ["--keep-last", "1"],
}  # fmt: skip
PAIRS = [(flag, action) for flag in NOT_FITTING for action in EVERY_ACTION.split()]


def refusal(capsys: pytest.CaptureFixture[str], flag: str, action: str) -> tuple[int, str]:
    """Run the action with the flag added; return the exit code and whether the flag was refused as not fitting."""
    outcome = offline(capsys)(*ARGV_OF_ACTION[action], *FLAG_ARGV[flag])
    return outcome.code, outcome.err


@pytest.mark.parametrize(
    ("flag", "action"),
    [
        pytest.param(flag, action, id=f"{flag}-{action}")
        for flag, action in PAIRS
        if action in NOT_FITTING[flag].split()
    ],
)
def test_a_flag_is_refused_with_each_action_it_does_not_fit(capsys, flag: str, action: str) -> None:
    code, err = refusal(capsys, flag, action)
    assert code == 2 and f"--{flag.replace('_', '-')} does not apply to" in err, err


@pytest.mark.parametrize(
    ("flag", "action"),
    [
        pytest.param(flag, action, id=f"{flag}-{action}")
        for flag, action in PAIRS
        if action not in NOT_FITTING[flag].split()
    ],
)
def test_a_flag_is_not_refused_as_unfitting_where_it_fits(capsys, flag: str, action: str) -> None:
    _code, err = refusal(capsys, flag, action)
    assert f"--{flag.replace('_', '-')} does not apply to" not in err, err


def test_the_written_out_table_names_every_flag_and_action_of_the_cli() -> None:
    assert set(NOT_FITTING) == set(cli_module.FLAG_ACTIONS) == set(FLAG_ARGV)
    assert set(EVERY_ACTION.split()) == set(cli_module.ACTIONS) == set(ARGV_OF_ACTION)
    assert all(set(actions.split()) <= set(EVERY_ACTION.split()) for actions in NOT_FITTING.values())


# Item 7c: dry-run and clear-preview tables follow --fields


def table_rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines()]


@pytest.mark.parametrize("action", [["--delete"], ["--clear"]], ids=["delete", "clear"])
def test_dry_run_tables_have_the_fields_as_columns(cli: Cli, agentos: AgentOSServer, action: list[str]) -> None:
    user = new_user()
    a, b = make(agentos, user, "Dry A"), make(agentos, user, "Dry B")
    outcome = cli(*action, "--dry-run", "--session-id", a, "--session-id", b, "--fields", "user_id,session_id")
    rows = table_rows(outcome.out)
    assert outcome.code == 0 and ["user_id", "session_id"] in rows
    assert [user, a] in rows and [user, b] in rows
    assert not any("Created" in row or "Name" in row for row in rows)
    assert "nothing was changed" in outcome.out
