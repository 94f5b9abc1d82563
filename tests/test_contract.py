"""One contract for every answer: each JSON the CLI prints validates against references/answers.schema.json.

The schema is generated from scripts/agentos_sessions/contract.py (tests/schema_tools.py); these
tests fail when it is stale, and run every action in each selection form against the real AgentOS.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from agentos_sessions import contract, model, render
from cli_helpers import Cli
from conftest import AgentOSServer
from schema_tools import SCHEMA_PATH, TABLE_PATH, schema_text, table_text, validator
from test_sets import make, new_user


def test_the_checked_in_schema_is_generated_from_the_contract() -> None:
    assert SCHEMA_PATH.read_text() == schema_text(), "run: uv run python tests/schema_tools.py"


def test_the_answers_table_in_the_documentation_is_the_schema_s() -> None:
    assert TABLE_PATH.read_text() == table_text(), "run: uv run python tests/schema_tools.py"
    for kind in contract.ANSWERS:
        assert f"| `{kind}` |" in TABLE_PATH.read_text()


def test_fields_a_session_or_run_may_carry_are_the_contract_s() -> None:
    assert set(model.SESSION_FIELDS) == set(contract.Session.__annotations__) - {"matches"} | (
        {"matches"} if "matches" in model.SESSION_FIELDS else set()
    )
    assert set(model.RUN_FIELDS) == set(contract.Run.__annotations__)
    assert set(model.CONCISE_SESSION_FIELDS) <= set(contract.Session.__annotations__)


def test_every_answer_a_table_is_drawn_for_has_a_definition() -> None:
    printed_as_json = set(render.TABLE_RENDERERS) - {"chat_streamed"}
    assert printed_as_json <= set(contract.ANSWERS)


def check(kind: str, document: Any) -> None:
    errors = sorted(validator(kind).iter_errors(document), key=str)
    assert not errors, f"{kind}: {errors[0].message} at {list(errors[0].absolute_path)}"


@pytest.fixture(scope="module")
def world(agentos: AgentOSServer) -> dict[str, Any]:
    """A user with a few sessions: two with runs, one named twice."""
    user = new_user()
    one = make(agentos, user, "Contract one", runs=("hello contract",), metadata={"topic": "pricing"})
    two = make(agentos, user, "Contract two", runs=("again",), session_state={"step": 1})
    idle = make(agentos, user, "Contract idle")
    team = make(agentos, user, "Contract team", owner="research-team", runs=("team hello",))
    return {"user": user, "one": one, "two": two, "idle": idle, "team": team}


def reads(w: dict[str, Any]) -> list[tuple[str, list[str]]]:
    user, one, two = w["user"], w["one"], w["two"]
    return [
        ("sessions", ["--user-id", user]),
        ("sessions", ["--user-id", user, "--all"]),
        ("sessions", ["--session-id", one, "--session-id", two]),
        ("sessions", ["--session-name", "Contract one", "--session-name", "Contract two"]),
        ("sessions", ["--user-id", user, "--name", "contract"]),
        ("sessions", ["--user-id", user, "--min-runs", "1"]),
        ("sessions", ["--user-id", user, "--fields", "session_id,metadata,run_count"]),
        ("session", ["--session-id", one]),
        ("session", ["--session-name", "Contract one"]),
        ("session", ["--session-id", one, "--fields", "session_id,metadata,session_state"]),
        ("runs", ["--session-id", one, "--show-runs"]),
        ("runs", ["--session-name", "Contract one", "--show-runs", "--fields", "run_id,status,metrics"]),
        ("count", ["--user-id", user, "--count"]),
        ("count", ["--user-id", user, "--count", "--group-by", "session_type"]),
        ("dry_run", ["--session-id", one, "--delete", "--dry-run"]),
        ("dry_run", ["--user-id", user, "--delete", "--dry-run", "--fields", "session_id,run_count,metadata"]),
        ("clear_preview", ["--user-id", user, "--clear", "--dry-run"]),
        ("update_preview", ["--user-id", user, "--update", "--metadata", '{"k": 1}', "--dry-run"]),
        ("update_preview", ["--session-id", one, "--update", "--metadata", '{"k": 1}', "--dry-run"]),
    ]


@pytest.mark.parametrize("index", range(19))
def test_reads_and_previews_validate(cli: Cli, world: dict[str, Any], index: int) -> None:
    kind, argv = reads(world)[index]
    outcome = cli(*argv, "--json")
    assert outcome.code == 0, (argv, outcome.err)
    check(kind, outcome.json())
    if "--fields" in argv:
        asked = argv[argv.index("--fields") + 1].split(",")
        items = outcome.json() if kind == "runs" else outcome.json().get("data", [outcome.json()])
        assert items and all(list(item) == asked for item in items), (argv, items)


def test_a_listing_of_several_ids_is_as_concise_as_an_inspect(cli: Cli, world: dict[str, Any]) -> None:
    listed = cli.json("--session-id", world["one"], "--session-id", world["two"])["data"]
    inspected = cli.json("--session-id", world["one"])
    by_id = {session["session_id"]: session for session in listed}
    assert set(by_id[world["one"]]) == set(inspected) - {"run_count"}
    assert not {"chat_history", "team_data", "agent_data", "metrics", "session_data"} & set(by_id[world["one"]])


def test_writes_validate(cli: Cli, agentos: AgentOSServer, tmp_path: Path) -> None:
    user = new_user()
    a, b = make(agentos, user, "W a", runs=("hi",)), make(agentos, user, "W b", runs=("hi",))
    c = make(agentos, user, "W c")
    check("session", cli.json("--session-id", c, "--update", "--metadata", '{"m": 1}'))
    check("updated", cli.json("--user-id", user, "--update", "--metadata", '{"m": 2}', "--yes"))
    check("session", cli.json("--session-id", c, "--rename", "W c renamed"))
    check("exported", cli.json("--session-id", a, "--export", str(tmp_path / "one.json")))
    check("exported", cli.json("--user-id", user, "--export", str(tmp_path / "set.json")))
    check("document", json.loads(cli("--session-id", a, "--export", "-", "--json").out))
    check("forked", cli.json("--session-id", a, "--fork"))
    check("cleared", cli.json("--session-id", a, "--clear", "--yes", "--backup-dir", str(tmp_path)))
    check(
        "cleared_set", cli.json("--session-id", b, "--session-id", c, "--clear", "--yes", "--backup-dir", str(tmp_path))
    )
    check("deleted", cli.json("--user-id", user, "--delete", "--yes"))
    check("restored", cli.json("--restore", str(tmp_path / "set.json")))
    check("deleted", cli.json("--session-id", a, "--delete"))
    check("session", cli.json("--restore", str(tmp_path / "one.json")))
    created = cli.json("--create", "--agent-id", "compactor", "--user-id", user, "--name", "Made")
    check("session", created)
    check("chat", cli.json("--session-id", created["session_id"], "--chat", "My name is Contract."))
    check("compaction", cli.json("--session-id", created["session_id"], "--compact"))


def test_errors_validate(cli: Cli) -> None:
    outcome = cli("--session-id", f"missing-{uuid.uuid4().hex}", "--json")
    assert outcome.code == 3
    check("error", outcome.error())
