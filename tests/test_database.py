"""--db: restore and clear through AgentOS's own database, against real servers on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from cli_helpers import Cli
from conftest import AgentOSServer, start_server, stop_server
from schema_tools import validator

USER = "dora@example.com"


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentOSServer]:
    server = start_server(tmp_path_factory.mktemp("db-sqlite"), "--seed", "3")
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def postgres_database(postgres_url: str) -> str:
    """A database of its own in the shared PostgreSQL, so no other AgentOS writes into it."""
    import psycopg

    name = f"agentos_db_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return postgres_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="module")
def postgres_server(tmp_path_factory: pytest.TempPathFactory, postgres_database: str) -> Iterator[AgentOSServer]:
    server = start_server(tmp_path_factory.mktemp("db-postgres"), "--seed", "3", "--postgres", postgres_database)
    yield server
    stop_server(server)


def sqlite_url(server: AgentOSServer) -> str:
    return f"sqlite:///{server.db}"


@pytest.fixture(params=("sqlite", "postgres"))
def target(request: pytest.FixtureRequest) -> tuple[AgentOSServer, str]:
    """A server and the URL of its database, on each backend."""
    if request.param == "sqlite":
        server = request.getfixturevalue("sqlite_server")
        return server, sqlite_url(server)
    return request.getfixturevalue("postgres_server"), request.getfixturevalue("postgres_database")


@pytest.fixture
def on(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The CLI against a given server, from the test's own directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AGENTOS_DB_URL", raising=False)
    return lambda server: Cli(capsys, server.url)


def chatted_session(cli: Cli, *messages: str) -> str:
    """A new agent session of USER with one real run per message."""
    session_id = f"db-{uuid.uuid4().hex[:10]}"
    for message in messages:
        cli.json("--agent-id", "assistant", "--user-id", USER, "--session-id", session_id, "--chat", message)
    return session_id


def runs_of(cli: Cli, session_id: str) -> list[dict]:
    return cli.json("--session-id", session_id, "--show-runs", "--fields", "run_id,content")


def exported(cli: Cli, session_id: str, path: Path) -> dict:
    cli.json("--session-id", session_id, "--export", str(path))
    return json.loads(path.read_text())


def check(kind: str, document: object) -> None:
    """The answer validates against references/answers.schema.json."""
    errors = sorted(validator(kind).iter_errors(document), key=str)
    assert not errors, f"{kind}: {errors[0].message} at {list(errors[0].absolute_path)}"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_restore_brings_back_the_runs_in_order_with_original_times_and_the_next_chat_sees_them(
    target: tuple[AgentOSServer, str], on, tmp_path: Path
) -> None:
    server, url = target
    cli = on(server)
    session_id = chatted_session(cli, "My name is Zoltan.", "I like tea.")
    cli.json(
        "--session-id",
        session_id,
        "--update",
        "--summary",
        "Zoltan likes tea.",
        "--metadata",
        '{"k": [1, {"a": null}]}',
    )
    file = tmp_path / "session.json"
    document = exported(cli, session_id, file)
    cli.json("--session-id", session_id, "--delete")

    restored = cli.json("--restore", str(file), "--db", url)

    check("session", restored)
    assert restored["via"] == "database"
    assert (restored["runs_restored"], restored["run_count"]) == (2, 2)
    kept = ("created_at", "updated_at", "session_name", "session_summary", "metadata", "session_state")
    detail = cli.json("--session-id", session_id, "--fields", ",".join(kept))
    assert detail == {k: document["session"][k] for k in kept}
    assert detail["session_summary"]["summary"] == "Zoltan likes tea."
    runs = cli.json("--session-id", session_id, "--show-runs", "--fields", "run_id,content,created_at")
    assert runs == [{k: run[k] for k in ("run_id", "content", "created_at")} for run in document["runs"]]
    reply = cli.json("--session-id", session_id, "--user-id", USER, "--chat", "What's my name?")
    assert reply["content"] == "Your name is Zoltan."


def test_restore_keeps_a_seeded_sessions_older_times(sqlite_server: AgentOSServer, on, tmp_path: Path) -> None:
    cli = on(sqlite_server)
    file = tmp_path / "seed.json"
    document = exported(cli, "seed-00002", file)
    cli.json("--session-id", "seed-00002", "--delete")

    cli.json("--restore", str(file), "--db", sqlite_url(sqlite_server))

    after = cli.json("--session-id", "seed-00002", "--fields", "created_at,updated_at")
    assert after == {"created_at": document["session"]["created_at"], "updated_at": document["session"]["updated_at"]}
    assert [run["run_id"] for run in runs_of(cli, "seed-00002")] == [run["run_id"] for run in document["runs"]]


def test_clear_in_place_keeps_the_session_row_and_runs_only_puts_the_runs_back(
    target: tuple[AgentOSServer, str], on
) -> None:
    server, url = target
    cli = on(server)
    session_id = chatted_session(cli, "My name is Ada.", "Hello again.")
    cli.json("--session-id", session_id, "--rename", "Ada's chat")
    before = cli.json("--session-id", session_id, "--fields", "created_at,session_name,session_state")
    runs_before = runs_of(cli, session_id)

    cleared = cli.json("--session-id", session_id, "--clear", "--yes", "--db", url)

    check("cleared", cleared)
    assert (cleared["via"], cleared["runs_removed"], cleared["run_count"]) == ("database", 2, 0)
    assert cli.json("--session-id", session_id, "--fields", "created_at,session_name,session_state") == before
    assert runs_of(cli, session_id) == []
    backup = json.loads(Path(cleared["backup"]).read_text())
    assert [run["run_id"] for run in backup["runs"]] == [run["run_id"] for run in runs_before]

    cli.json("--session-id", session_id, "--user-id", USER, "--chat", "A new start.")
    new_run = runs_of(cli, session_id)

    back = cli.json("--restore", cleared["backup"], "--db", url, "--runs-only")

    assert (back["runs_restored"], back["run_count"], back["via"]) == (2, 3, "database")
    assert runs_of(cli, session_id) == runs_before + new_run
    again = cli("--restore", cleared["backup"], "--db", url, "--json")
    assert again.code == 6, again.err
    assert "already exists" in again.error()["error"]


def test_keep_last_trims_a_long_session_and_runs_only_restores_the_older_runs_before_the_kept_ones(
    sqlite_server: AgentOSServer, on
) -> None:
    cli = on(sqlite_server)
    url = sqlite_url(sqlite_server)
    session_id = chatted_session(cli, "My name is Bo.", "One.", "Two.")
    runs_before = runs_of(cli, session_id)

    trimmed = cli.json("--session-id", session_id, "--clear", "--keep-last", "1", "--yes", "--db", url)

    assert (trimmed["runs_removed"], trimmed["run_count"]) == (2, 1)
    assert runs_of(cli, session_id) == runs_before[2:]
    assert len(json.loads(Path(trimmed["backup"]).read_text())["runs"]) == 2
    cli.json("--restore", trimmed["backup"], "--db", url, "--runs-only")
    assert runs_of(cli, session_id) == runs_before


def test_keep_last_and_runs_only_without_a_database_are_refused_with_the_reason(sqlite_server, on) -> None:
    cli = on(sqlite_server)
    trimmed = cli("--session-id", "seed-00001", "--clear", "--keep-last", "1", "--yes", "--json")
    assert trimmed.code == 2
    assert trimmed.error()["error"] == "--keep-last needs --db URL (or $AGENTOS_DB_URL)"
    assert "API single runs cannot be deleted" in trimmed.error()["hint"]
    assert cli("--restore", "x.json", "--runs-only").code == 2


def test_db_is_refused_for_other_actions_and_agentos_db_url_never_makes_them_fail(
    sqlite_server, on, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = on(sqlite_server)
    refused = cli("--session-id", "seed-00001", "--db", sqlite_url(sqlite_server), "--json")
    assert refused.code == 2
    assert refused.error()["error"] == "--db does not apply to --session-id alone"
    monkeypatch.setenv("AGENTOS_DB_URL", "postgresql+psycopg://nobody:pw@127.0.0.1:1/none")
    assert cli.json("--session-id", "seed-00001", "--fields", "session_id") == {"session_id": "seed-00001"}


def test_agentos_db_url_is_used_by_clear(sqlite_server, on, monkeypatch: pytest.MonkeyPatch) -> None:
    cli = on(sqlite_server)
    session_id = chatted_session(cli, "Hi.")
    created = cli.json("--session-id", session_id, "--fields", "created_at")
    monkeypatch.setenv("AGENTOS_DB_URL", sqlite_url(sqlite_server))
    cleared = cli.json("--session-id", session_id, "--clear", "--yes")
    assert (cleared["via"], cleared["created_at"]) == ("database", created["created_at"])


def test_sessions_move_from_a_sqlite_server_into_a_postgres_servers_database(
    sqlite_server, postgres_server, postgres_database: str, on, tmp_path: Path
) -> None:
    source, destination = on(sqlite_server), on(postgres_server)
    first = chatted_session(source, "My name is Moss.", "Bye.")
    second = chatted_session(source, "My name is Fern.")
    file = tmp_path / "move.json"
    source.json("--session-id", first, "--session-id", second, "--export", str(file))

    outcome = destination.json("--restore", str(file), "--db", postgres_database)

    check("restored", outcome)
    restored = [{"session_id": first, "runs_restored": 2}, {"session_id": second, "runs_restored": 1}]
    assert outcome == {"restored": restored, "conflict": [], "via": "database"}
    for session_id in (first, second):
        assert runs_of(destination, session_id) == runs_of(source, session_id)
        times = "--fields", "created_at,updated_at"
        assert destination.json("--session-id", session_id, *times) == source.json("--session-id", session_id, *times)


def copy_database(server: AgentOSServer, path: Path) -> Path:
    """A consistent copy of a live SQLite database (the backup API reads through the WAL)."""
    with closing(sqlite3.connect(server.db)) as source, closing(sqlite3.connect(path)) as copy:
        source.backup(copy)
    return path


def test_a_database_of_another_schema_version_is_refused_and_left_unchanged(sqlite_server, on, tmp_path: Path) -> None:
    cli = on(sqlite_server)
    copy = copy_database(sqlite_server, tmp_path / "older.db")
    with closing(sqlite3.connect(copy)) as connection, connection:
        connection.execute("UPDATE agno_schema_versions SET version = '2.5.6' WHERE table_name = 'agno_sessions'")
    before = digest(copy)
    file = tmp_path / "s.json"
    exported(cli, "seed-00001", file)

    refused = cli("--restore", str(file), "--db", f"sqlite:///{copy}", "--json")

    assert refused.code == 2
    assert "table agno_sessions has schema version 2.5.6, the installed agno writes 3.0.0" in refused.error()["error"]
    assert digest(copy) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["older.db", "s.json"]


def test_a_database_that_is_not_agentos_is_refused_and_left_unchanged(sqlite_server, on, tmp_path: Path) -> None:
    cli = on(sqlite_server)
    other = tmp_path / "notes.db"
    with closing(sqlite3.connect(other)) as connection:
        connection.execute("CREATE TABLE notes (text TEXT)")
    before = digest(other)
    file = tmp_path / "s.json"
    exported(cli, "seed-00001", file)

    refused = cli("--restore", str(file), "--db", f"sqlite:///{other}", "--json")

    assert refused.code == 2
    assert "is not AgentOS's database: it has no table agno_sessions, agno_runs" in refused.error()["error"]
    assert digest(other) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db", "s.json"]


def test_a_file_that_is_not_a_database_is_refused_and_left_unchanged(sqlite_server, on, tmp_path: Path) -> None:
    cli = on(sqlite_server)
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 100)
    refused = cli("--session-id", "seed-00001", "--clear", "--yes", "--db", f"sqlite:///{text}", "--json")
    assert refused.code == 2
    assert (
        refused.error()["error"]
        == f"cannot read the database sqlite:///{text}: file is not a database; nothing was changed"
    )
    assert text.read_text() == "not a database\n" * 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_a_database_path_that_does_not_exist_is_refused_and_not_created(sqlite_server, on, tmp_path: Path) -> None:
    cli = on(sqlite_server)
    missing = tmp_path / "nowhere" / "agentos.db"
    refused = cli("--session-id", "seed-00001", "--clear", "--yes", "--db", f"sqlite:///{missing}", "--json")
    assert refused.code == 2
    assert refused.error()["error"] == f"--db: {missing} does not exist; nothing was created"
    assert not missing.parent.exists()
    assert len(runs_of(cli, "seed-00001")) == 2


def test_another_servers_database_is_refused_by_the_probe_and_the_probe_is_gone(
    sqlite_server, postgres_database: str, postgres_server, on
) -> None:
    cli = on(sqlite_server)
    session_id = chatted_session(cli, "Keep me.")

    refused = cli("--session-id", session_id, "--clear", "--yes", "--db", postgres_database, "--json")

    assert refused.code == 2
    assert f"is not the database behind {sqlite_server.url}" in refused.error()["error"]
    assert len(runs_of(cli, session_id)) == 1
    assert not cli.json("--name", "agentos-sessions --db probe", "--all")["data"]
    assert not on(postgres_server).json("--name", "agentos-sessions --db probe", "--all")["data"]


def test_a_planted_foreign_run_id_is_refused_and_the_other_sessions_run_is_untouched(
    target: tuple[AgentOSServer, str], on, tmp_path: Path
) -> None:
    server, url = target
    cli = on(server)
    victim = chatted_session(cli, "My name is Victim.")
    victim_runs = cli.json("--session-id", victim, "--show-runs")
    source = chatted_session(cli, "Hostile content.")
    document = exported(cli, source, tmp_path / "source.json")
    planted = {**document, "session": {**document["session"], "session_id": "db-planted"}}
    planted["runs"] = [{**document["runs"][0], "run_id": victim_runs[0]["run_id"], "content": "overwritten"}]
    file = tmp_path / "planted.json"
    file.write_text(json.dumps(planted))

    refused = cli("--restore", str(file), "--db", url, "--json")

    assert refused.code == 6
    message = refused.error()["error"]
    assert f"run {victim_runs[0]['run_id']} belongs to session '{victim}'" in message
    assert cli.json("--session-id", victim, "--show-runs") == victim_runs
    assert cli("--session-id", "db-planted").code == 3


def test_a_field_that_does_not_read_back_makes_the_restore_exit_1_naming_it(sqlite_server, on, tmp_path: Path) -> None:
    cli = on(sqlite_server)
    session_id = chatted_session(cli, "Hello.")
    document = exported(cli, session_id, tmp_path / "s.json")
    cli.json("--session-id", session_id, "--delete")
    document["runs"][0]["not_an_agentos_field"] = 1
    file = tmp_path / "odd.json"
    file.write_text(json.dumps(document))

    outcome = cli("--restore", str(file), "--db", sqlite_url(sqlite_server), "--json")

    assert outcome.code == 1
    assert f"run {document['runs'][0]['run_id']} (not_an_agentos_field)" in outcome.error()["error"]


def test_a_restore_cut_short_says_which_sessions_are_complete(
    sqlite_server, on, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentos_sessions import database
    from sqlalchemy.exc import OperationalError

    cli = on(sqlite_server)
    first, second = chatted_session(cli, "One.", "Two."), chatted_session(cli, "Three.", "Four.")
    file = tmp_path / "two.json"
    cli.json("--session-id", first, "--session-id", second, "--export", str(file))
    cli.json("--session-id", first, "--session-id", second, "--delete")
    real_write_run, calls = database.write_run, []

    def failing_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise OperationalError("INSERT", {}, Exception("disk I/O error"))
        return real_write_run(*args, **kwargs)

    monkeypatch.setattr(database, "write_run", failing_third)
    outcome = cli("--restore", str(file), "--db", sqlite_url(sqlite_server), "--json")

    assert outcome.code == 1
    message = outcome.error()["error"]
    assert f"restoring stopped at '{second}'" in message
    assert f"after its session row and 1 of 2 run(s) (OperationalError); '{second}' is incomplete" in message
    assert f"complete: {first};" in message
    assert len(runs_of(cli, first)) == 2


def test_a_run_landing_during_an_in_place_clear_survives(
    target: tuple[AgentOSServer, str], on, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentos_sessions import database

    server, url = target
    cli = on(server)
    session_id = chatted_session(cli, "My name is Old.", "Old again.")
    old_runs = runs_of(cli, session_id)
    real_run_owners = database.run_owners

    def a_run_lands_first(*args, **kwargs):
        form = {"message": "My name is New.", "stream": "false", "session_id": session_id, "user_id": USER}
        httpx.post(f"{server.url}/agents/assistant/runs", data=form, timeout=30).raise_for_status()
        return real_run_owners(*args, **kwargs)

    monkeypatch.setattr(database, "run_owners", a_run_lands_first)
    cleared = cli.json("--session-id", session_id, "--clear", "--yes", "--db", url)

    assert (cleared["runs_removed"], cleared["run_count"]) == (2, 1)
    left = runs_of(cli, session_id)
    assert [run["content"] for run in left] == ["Nice to meet you, New."]
    assert {run["run_id"] for run in left}.isdisjoint(run["run_id"] for run in old_runs)


def test_a_missing_postgres_driver_names_the_command_that_adds_it_and_never_the_password(
    sqlite_server, on, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = on(sqlite_server)
    monkeypatch.setitem(sys.modules, "psycopg", None)
    url = "postgresql+psycopg://admin:s3cret-pw@127.0.0.1:1/agentos"
    refused = cli("--session-id", "seed-00001", "--clear", "--yes", "--db", url, "--json")
    assert refused.code == 2
    command = "uv run --with 'psycopg[binary]' scripts/manage_sessions.py ..."
    assert refused.error()["hint"] == f"run the same command as: {command}"
    assert "s3cret-pw" not in refused.err
    assert "***@127.0.0.1:1" in refused.error()["error"]


def test_an_unreachable_database_is_exit_5_without_the_password(sqlite_server, on) -> None:
    cli = on(sqlite_server)
    url = "postgresql+psycopg://admin:s3cret-pw@127.0.0.1:1/agentos"
    refused = cli("--session-id", "seed-00001", "--clear", "--yes", "--db", url, "--json")
    assert refused.code == 5, refused.err
    assert "s3cret-pw" not in refused.err
    assert len(runs_of(cli, "seed-00001")) == 2


def test_a_set_clears_in_place_session_by_session_and_reports_each(sqlite_server, on) -> None:
    cli = on(sqlite_server)
    first, second = chatted_session(cli, "A.", "B."), chatted_session(cli, "C.")
    ids = ("--session-id", first, "--session-id", second, "--session-id", "db-nowhere")

    outcome = cli(*ids, "--clear", "--yes", "--db", sqlite_url(sqlite_server), "--json")

    assert outcome.code == 3, outcome.err
    report = outcome.json()
    check("cleared_set", report)
    assert [(item["session_id"], item["runs_removed"]) for item in report["cleared"]] == [(first, 2), (second, 1)]
    assert (report["not_found"], report["skipped"], report["via"]) == (["db-nowhere"], [], "database")
    assert all(Path(item["backup"]).is_file() for item in report["cleared"])
    assert runs_of(cli, first) == runs_of(cli, second) == []


def test_a_dry_run_with_keep_last_counts_what_would_go_and_changes_nothing(sqlite_server, on) -> None:
    cli = on(sqlite_server)
    session_id = chatted_session(cli, "A.", "B.", "C.")
    args = ("--session-id", session_id, "--clear", "--keep-last", "2", "--dry-run", "--db", sqlite_url(sqlite_server))
    check("clear_preview", cli.json(*args))
    preview = cli.json(*args, "--fields", "session_id,run_count,runs_removed")
    assert preview["data"] == [{"session_id": session_id, "run_count": 3, "runs_removed": 1}]
    assert len(runs_of(cli, session_id)) == 3


def test_runs_only_into_a_session_that_does_not_exist_is_exit_3_and_keep_copy_is_refused(
    sqlite_server, on, tmp_path: Path
) -> None:
    cli = on(sqlite_server)
    url = sqlite_url(sqlite_server)
    session_id = chatted_session(cli, "Gone soon.")
    file = tmp_path / "s.json"
    exported(cli, session_id, file)
    cli.json("--session-id", session_id, "--delete")
    missing = cli("--restore", str(file), "--db", url, "--runs-only", "--json")
    assert missing.code == 3
    assert "--runs-only puts runs back into an existing session" in missing.error()["error"]
    copy = cli("--session-id", "seed-00001", "--clear", "--yes", "--keep-copy", "--db", url, "--json")
    assert copy.code == 2
    assert copy.error()["error"] == "--keep-copy does not apply with --db"


def test_without_db_neither_the_database_layer_nor_a_driver_loads(sqlite_server, tmp_path: Path) -> None:
    import subprocess

    scripts = Path(__file__).resolve().parent.parent / "scripts"
    file = tmp_path / "team.json"
    program = f"""
import sys
sys.modules["psycopg"] = None  # a missing driver must not matter without --db
sys.path.insert(0, {str(scripts)!r})
from agentos_sessions.cli import main
base = ["--base-url", {sqlite_server.url!r}]
codes = [int(main([*base, *args])) for args in (
    ["--session-id", "seed-00003", "--export", {str(file)!r}],
    ["--session-id", "seed-00003", "--delete", "--json"],
    ["--restore", {str(file)!r}, "--json"],
)]
modules = ("agentos_sessions.database", "agentos_sessions.history", "agno.db.sqlite", "agno.db.postgres", "sqlalchemy")
print(codes, [name for name in modules if name in sys.modules], file=sys.stderr)
"""
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.stderr.strip().splitlines()[-1] == "[0, 0, 0] []"


def test_keep_last_with_no_more_runs_than_kept_changes_nothing_and_says_so(sqlite_server, on) -> None:
    cli = on(sqlite_server)
    url = sqlite_url(sqlite_server)
    short, long = chatted_session(cli, "Only one."), chatted_session(cli, "One.", "Two.", "Three.")

    single = cli("--session-id", short, "--clear", "--keep-last", "1", "--yes", "--db", url, "--json")
    both = cli(
        "--session-id", short, "--session-id", long, "--clear", "--keep-last", "1", "--yes", "--db", url, "--json"
    )

    assert (single.code, single.json()["runs_removed"], single.json()["run_count"]) == (0, 0, 1)
    assert f"nothing to delete: session '{short}' has 1 run(s)" in single.err
    assert both.code == 0, both.err
    report = both.json()
    assert report["skipped"] == [{"session_id": short, "reason": "it has 1 run(s): nothing to delete"}]
    assert [(item["session_id"], item["runs_removed"]) for item in report["cleared"]] == [(long, 2)]
    assert len(runs_of(cli, long)) == 1


def test_team_and_workflow_sessions_come_back_with_every_field_of_their_runs(
    target: tuple[AgentOSServer, str], on, tmp_path: Path
) -> None:
    server, url = target
    cli = on(server)
    team, workflow = f"db-team-{uuid.uuid4().hex[:8]}", f"db-flow-{uuid.uuid4().hex[:8]}"
    for message in ("My name is Kit.", "What's my name?"):
        cli.json("--team-id", "research-team", "--user-id", USER, "--session-id", team, "--chat", message)
        workflow_run(server, workflow, message)
    file = tmp_path / "both.json"
    cli.json("--session-id", team, "--session-id", workflow, "--export", str(file))
    before = {
        sid: cli.json("--session-id", sid, "--show-runs", "--fields", "run_id,content") for sid in (team, workflow)
    }
    cli.json("--session-id", team, "--session-id", workflow, "--delete")

    outcome = cli.json("--restore", str(file), "--db", url)

    assert [item["session_id"] for item in outcome["restored"]] == [team, workflow]
    assert (outcome["conflict"], outcome["via"]) == ([], "database")
    exported_again = tmp_path / "again.json"
    cli.json("--session-id", team, "--session-id", workflow, "--export", str(exported_again))
    original, again = json.loads(file.read_text()), json.loads(exported_again.read_text())
    assert [entry["runs"] for entry in again["sessions"]] == [entry["runs"] for entry in original["sessions"]]
    assert {sid: cli.json("--session-id", sid, "--show-runs", "--fields", "run_id,content") for sid in before} == before
    assert workflow_run(server, workflow, "What's my name?") == "Your name is Kit."


def workflow_run(server: AgentOSServer, session_id: str, message: str) -> str:
    """A run of the workflow `pipeline` in the session (the CLI chats with agents and teams only)."""
    form = {"message": message, "stream": "false", "session_id": session_id, "user_id": USER}
    answer = httpx.post(f"{server.url}/workflows/pipeline/runs", data=form, timeout=60)
    answer.raise_for_status()
    return answer.json()["content"]


def test_a_run_agno_cannot_read_is_refused_before_anything_is_sent(
    sqlite_server, on, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from faultproxy import FaultProxy

    cli = on(sqlite_server)
    session_id = chatted_session(cli, "Hello.")
    document = exported(cli, session_id, tmp_path / "s.json")
    document["session"]["session_id"] = "db-broken"
    document["runs"][0]["messages"] = "not a list of messages"
    file = tmp_path / "broken.json"
    file.write_text(json.dumps(document))

    with FaultProxy(sqlite_server.url) as proxy:
        refused = Cli(capsys, proxy.url)("--restore", str(file), "--db", sqlite_url(sqlite_server), "--json")
        sent = proxy.seen()

    assert refused.code == 2
    run_id = document["runs"][0]["run_id"]
    assert refused.error()["error"].startswith(f"run '{run_id}' of 'db-broken' is not a run agno can read")
    assert sent == []
    assert cli("--session-id", "db-broken").code == 3


def test_a_file_with_one_run_id_twice_is_refused_before_anything_is_sent(
    sqlite_server, on, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from faultproxy import FaultProxy

    cli = on(sqlite_server)
    document = exported(cli, chatted_session(cli, "Once."), tmp_path / "s.json")
    document["session"]["session_id"] = "db-twice"
    document["runs"] = document["runs"] * 2
    file = tmp_path / "twice.json"
    file.write_text(json.dumps(document))

    with FaultProxy(sqlite_server.url) as proxy:
        refused = Cli(capsys, proxy.url)("--restore", str(file), "--db", sqlite_url(sqlite_server), "--json")
        sent = proxy.seen()

    assert (refused.code, sent) == (2, [])
    assert refused.error()["error"] == "the file holds a run without a run_id, or one run_id twice"


def test_a_set_clear_cut_short_names_where_it_stopped_and_the_first_session_stays_cleared(
    sqlite_server, on, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentos_sessions import database
    from sqlalchemy.exc import OperationalError

    cli = on(sqlite_server)
    first, second = chatted_session(cli, "One."), chatted_session(cli, "Two.")
    real_delete_runs, calls = database.delete_runs, []

    def failing_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OperationalError("DELETE", {}, Exception("database is locked"))
        return real_delete_runs(*args, **kwargs)

    monkeypatch.setattr(database, "delete_runs", failing_second)
    outcome = cli("--session-id", first, "--session-id", second, "--clear", "--yes", "--db", sqlite_url(sqlite_server))

    assert outcome.code == 1
    assert f"clearing stopped at '{second}': deleting the runs of '{second}'" in outcome.err
    assert "(OperationalError)" in outcome.err and "--runs-only" in outcome.err
    assert runs_of(cli, first) == [] and len(runs_of(cli, second)) == 1
