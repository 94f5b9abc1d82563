"""Issue 7, faults: the CLI against a real AgentOS behind a fault-injecting proxy.

Reads retry with backoff and succeed once a 503 burst clears; writes that are not safe
to repeat are not repeated; retries are bounded; a bulk delete, a clear and a chat
broken half-way say exactly what happened and leave something recoverable.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from agentos_sessions import api, deletion, model
from cli_helpers import run_cli
from conftest import AgentOSServer
from faultproxy import FaultProxy

# The faults live in the proxy, not in the database: one backend is enough.
pytestmark = pytest.mark.parametrize("agentos", ["sqlite"], indirect=True)

KEPT_PROPERTIES = ("session_name", "session_state", "metadata", "user_id", "agent_id", "team_id", "workflow_id")
COMPONENT_OF_TYPE = {"agent": "assistant", "team": "research-team"}
RUN_ROUTE_OF_TYPE = {"agent": "agents", "team": "teams"}


# Users and session ids a test made; their sessions are removed after it, so the shared
# server keeps looking as the other tests expect.
MADE_USERS: list[str] = []
MADE_SESSION_IDS: list[str] = []


@pytest.fixture(autouse=True)
def isolated_environment(agentos: AgentOSServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No URL or key from the caller's shell; stray files land in the test's directory."""
    for name in ("AGENTOS_URL", "AGENTOS_SECURITY_KEY", "OS_SECURITY_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    yield
    remove_sessions(agentos, MADE_USERS, MADE_SESSION_IDS)
    MADE_USERS.clear()
    MADE_SESSION_IDS.clear()


def remove_sessions(server: AgentOSServer, users: list[str], session_ids: list[str]) -> None:
    """Delete every session of these users, and these sessions."""
    with httpx.Client(base_url=server.url, headers=server.auth_headers(), timeout=30) as client:
        doomed = list(session_ids)
        for user in users:
            listed = client.get("/sessions", params={"user_id": user, "limit": 1000}).json()["data"]
            doomed += [session["session_id"] for session in listed]
        for session_id in doomed:
            client.delete(f"/sessions/{session_id}")


@pytest.fixture
def proxy(agentos: AgentOSServer) -> Iterator[FaultProxy]:
    with FaultProxy(agentos.url) as running:
        yield running


def single_line(err: str) -> str:
    """The one stderr line an expected failure prints, checked to be one and tidy."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def error_message(err: str) -> str:
    """The message of a --json error line."""
    return json.loads(single_line(err))["error"]


def create_session(
    server: AgentOSServer, user_id: str, session_type: str = "agent", name: str = "Fault test", **extra: Any
) -> str:
    """POST /sessions straight to the server; return the new id."""
    session_id = new_session_id()
    body = {
        "session_id": session_id,
        "user_id": user_id,
        "session_name": name,
        f"{session_type}_id": COMPONENT_OF_TYPE.get(session_type, "assistant"),
        **extra,
    }
    response = httpx.post(f"{server.url}/sessions", params={"type": session_type}, json=body, timeout=30)
    assert response.status_code == 201, response.text
    return session_id


def add_run(server: AgentOSServer, session_id: str, user_id: str, session_type: str = "agent") -> None:
    """One real (non-streamed) run in the session."""
    route = f"{RUN_ROUTE_OF_TYPE[session_type]}/{COMPONENT_OF_TYPE[session_type]}"
    response = httpx.post(
        f"{server.url}/{route}/runs",
        data={"message": "My name is Alice.", "session_id": session_id, "user_id": user_id, "stream": "false"},
        timeout=60,
    )
    assert response.status_code == 200, response.text


def fetch_session(server: AgentOSServer, session_id: str) -> dict[str, Any] | None:
    response = httpx.get(f"{server.url}/sessions/{session_id}", timeout=30)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return response.json()


def fetch_runs(server: AgentOSServer, session_id: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{server.url}/sessions/{session_id}/runs", timeout=30)
    response.raise_for_status()
    return response.json()


def total_sessions(server: AgentOSServer) -> int:
    return httpx.get(f"{server.url}/sessions", params={"limit": 1}, timeout=30).json()["meta"]["total_count"]


def kept(session: dict[str, Any]) -> dict[str, Any]:
    """What a clear or a restore promises to keep, with empty and missing alike."""
    return {key: session.get(key) or None for key in KEPT_PROPERTIES}


def new_user() -> str:
    user = f"fault-user-{uuid.uuid4()}@example.com"
    MADE_USERS.append(user)
    return user


def new_session_id() -> str:
    session_id = f"fault-{uuid.uuid4()}"
    MADE_SESSION_IDS.append(session_id)
    return session_id


def test_list_retries_a_503_burst_with_growing_backoff_then_succeeds(agentos, proxy, capsys) -> None:
    user = new_user()
    session_id = create_session(agentos, user)
    proxy.fail(503, times=2, method="GET", path="/sessions")

    code, out, err = run_cli(capsys, "--base-url", proxy.url, "--user-id", user, "--retries", "3", "--json")

    assert code == 0, err
    assert [s["session_id"] for s in json.loads(out)["data"]] == [session_id]
    attempts = proxy.seen("GET", "/sessions")
    assert [a.outcome for a in attempts] == ["status", "status", "forwarded"]
    first_wait = attempts[1].received_at - attempts[0].received_at
    second_wait = attempts[2].received_at - attempts[1].received_at
    assert first_wait >= api.RETRY_BASE_DELAY * 0.9
    assert second_wait >= 2 * api.RETRY_BASE_DELAY * 0.9 and second_wait > first_wait


def test_inspect_retries_a_503_burst_then_succeeds(agentos, proxy, capsys) -> None:
    user = new_user()
    session_id = create_session(agentos, user)
    add_run(agentos, session_id, user)
    proxy.fail(503, times=2, path_prefix=f"/sessions/{session_id}")

    code, out, err = run_cli(capsys, "--base-url", proxy.url, "--session-id", session_id, "--json")

    assert code == 0, err
    document = json.loads(out)
    assert document["session_id"] == session_id
    assert document["run_count"] == 1
    assert len([r for r in proxy.seen() if r.outcome == "status"]) == 2


def test_show_runs_retries_a_503_burst_then_succeeds(agentos, proxy, capsys) -> None:
    user = new_user()
    session_id = create_session(agentos, user)
    add_run(agentos, session_id, user)
    proxy.fail(503, times=2, method="GET", path=f"/sessions/{session_id}/runs")

    code, out, err = run_cli(capsys, "--base-url", proxy.url, "--session-id", session_id, "--show-runs", "--json")

    assert code == 0, err
    assert [run["content"] for run in json.loads(out)] == ["Nice to meet you, Alice."]
    assert len(proxy.seen("GET", f"/sessions/{session_id}/runs")) == 3


def test_list_retries_a_connection_cut_in_the_middle_of_the_response(agentos, proxy, capsys) -> None:
    user = new_user()
    session_id = create_session(agentos, user)
    proxy.cut(times=1, method="GET", path="/sessions")

    code, out, err = run_cli(capsys, "--base-url", proxy.url, "--user-id", user, "--json")

    assert code == 0, err
    assert [s["session_id"] for s in json.loads(out)["data"]] == [session_id]
    assert [a.outcome for a in proxy.seen("GET", "/sessions")] == ["cut", "forwarded"]


def test_read_cut_on_every_attempt_exits_5_saying_the_connection_was_lost(agentos, proxy, capsys) -> None:
    proxy.cut(times=100, after_bytes=20, method="GET", path="/sessions")

    code, _out, err = run_cli(capsys, "--base-url", proxy.url, "--retries", "1")

    assert code == 5
    assert proxy.url in single_line(err)
    assert len(proxy.seen("GET", "/sessions")) == 2


def test_rename_is_safe_to_repeat_so_it_retries_a_503(agentos, proxy, capsys) -> None:
    session_id = create_session(agentos, new_user(), name="before")
    proxy.fail(503, times=1, path_prefix=f"/sessions/{session_id}")

    code, out, err = run_cli(capsys, "--base-url", proxy.url, "--session-id", session_id, "--rename", "after", "--json")

    assert code == 0, err
    assert json.loads(out)["session_name"] == "after"
    assert fetch_session(agentos, session_id)["session_name"] == "after"
    writes = [request for request in proxy.seen(path_prefix=f"/sessions/{session_id}") if request.method != "GET"]
    assert [request.outcome for request in writes] == ["status", "forwarded"]


def test_create_is_not_repeated_blindly_after_a_503(agentos, proxy, capsys) -> None:
    session_id = new_session_id()
    proxy.fail(503, times=5, method="POST", path="/sessions")

    code, _out, err = run_cli(
        capsys, "--base-url", proxy.url, "--create", "--agent-id", "assistant", "--session-id", session_id, "--json"
    )

    assert code == 1
    assert "injected by the fault proxy" in error_message(err)
    assert len(proxy.seen("POST", "/sessions")) == 1
    assert fetch_session(agentos, session_id) is None


def test_create_whose_answer_is_lost_is_not_repeated(agentos, proxy, capsys) -> None:
    session_id = new_session_id()
    proxy.drop(forward=True, method="POST", path="/sessions")

    code, _out, err = run_cli(
        capsys, "--base-url", proxy.url, "--create", "--agent-id", "assistant", "--session-id", session_id
    )

    assert code == 5
    assert "check before repeating" in single_line(err)
    assert len(proxy.seen("POST", "/sessions")) == 1
    assert fetch_session(agentos, session_id) is not None


def test_create_timed_out_is_not_repeated(agentos, proxy, capsys) -> None:
    session_id = new_session_id()
    proxy.delay(1.5, method="POST", path="/sessions")

    code, _out, err = run_cli(
        capsys, "--base-url", proxy.url, "--timeout", "0.5", "--create", "--agent-id", "assistant",
        "--session-id", session_id,
    )  # fmt: skip

    assert code == 5
    assert "timed out" in single_line(err) and "check before repeating" in err
    deadline = time.monotonic() + 10
    while fetch_session(agentos, session_id) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert fetch_session(agentos, session_id) is not None, "the late request should still reach the server"
    assert len(proxy.seen("POST", "/sessions")) == 1


def test_retries_are_bounded_by_the_retries_flag(agentos, proxy, capsys) -> None:
    proxy.fail(503, times=10, method="GET", path="/sessions")

    code, _out, err = run_cli(capsys, "--base-url", proxy.url, "--retries", "1", "--json")

    assert code == 1
    assert "injected by the fault proxy" in error_message(err)
    assert len(proxy.seen("GET", "/sessions")) == 2


def test_read_delayed_past_the_timeout_exits_5_within_the_retry_budget(agentos, proxy, capsys) -> None:
    proxy.delay(5.0, times=10, method="GET", path="/sessions")

    started = time.monotonic()
    code, _out, err = run_cli(capsys, "--base-url", proxy.url, "--timeout", "0.5", "--retries", "1")
    elapsed = time.monotonic() - started

    assert code == 5
    line = single_line(err)
    assert "timed out" in line and proxy.url in line
    # Two attempts of 0.5 s plus backoff; without the timeout they would wait 2 x 5 s. Wide margin: noisy machines.
    assert elapsed < 8.0
    assert len(proxy.seen("GET", "/sessions")) == 2


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--session-id", "{id}"],
        ["--create", "--agent-id", "assistant"],
        ["--delete", "--session-id", "{id}"],
    ],
    ids=["list", "inspect", "create", "delete"],
)
def test_stopped_server_exits_5_naming_the_url_within_the_timeout(agentos, proxy, capsys, argv) -> None:
    session_id = create_session(agentos, new_user())
    importlib.import_module("agno.client")  # its one-off import time is not the server's to answer for
    proxy.stop_listening()

    started = time.monotonic()
    code, out, err = run_cli(
        capsys, "--base-url", proxy.url, "--timeout", "2", *(session_id if word == "{id}" else word for word in argv)
    )
    elapsed = time.monotonic() - started

    assert code == 5
    assert proxy.url in single_line(err)
    assert out == ""
    # A refused connection fails at once; waiting out the 2 s timeout on each of 3 attempts would take 6 s or more.
    assert elapsed < 5.0
    assert fetch_session(agentos, session_id) is not None


def test_chat_stream_cut_half_way_reports_what_arrived_and_exits_non_zero(agentos, proxy, capsys) -> None:
    proxy.cut(after_marker=b"event: RunContent", occurrences=3, method="POST", path="/agents/assistant/runs")

    code, out, err = run_cli(
        capsys, "--base-url", proxy.url, "--agent-id", "assistant", "--user-id", new_user(),
        "--chat", "Tell me about sessions and their many runs", "--json",
    )  # fmt: skip

    assert code == 5
    assert out == ""
    message = error_message(err)
    assert "You said: Tell " in message
    assert "many runs" not in message
    assert len(proxy.seen("POST", "/agents/assistant/runs")) == 1


def start_cut_bulk_delete(
    agentos: AgentOSServer, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch, forward: bool
) -> tuple[str, list[str]]:
    """Six sessions of a new user, deleted two per batch; every batch after the first is cut."""
    monkeypatch.setattr(deletion, "DELETE_BATCH_SIZE", 2)
    user = new_user()
    session_ids = [create_session(agentos, user, name=f"bulk {n}") for n in range(6)]
    proxy.drop(skip=1, forward=forward, method="DELETE", path="/sessions")
    return user, session_ids


def deleted_in_requests(proxy: FaultProxy, forwarded_only: bool = True) -> list[str]:
    """Every session id the server was asked to delete in DELETE /sessions bodies."""
    ids = []
    for request in proxy.seen("DELETE", "/sessions"):
        if request.outcome in ("forwarded", "drop-after-server") or not forwarded_only:
            ids.extend(json.loads(request.body)["session_ids"])
    return ids


def assert_report_splits(report: dict[str, Any], gone: list[str], kept_ids: list[str]) -> None:
    """The report on stdout names each deleted id as deleted and each surviving id as not done."""
    assert sorted(report["deleted"]) == sorted(gone), report
    assert sorted(report["not_done"]) == sorted(kept_ids) and report["unknown"] == [], report


@pytest.mark.parametrize(
    ("answer_lost_after_delete", "deleted_count"),
    [pytest.param(False, 2, id="cut-before-server"), pytest.param(True, 4, id="answer-lost-after-server")],
)
def test_bulk_delete_cut_half_way_names_exactly_the_deleted_and_the_not_deleted_ids(
    agentos, proxy, capsys, monkeypatch, answer_lost_after_delete, deleted_count
) -> None:
    user, session_ids = start_cut_bulk_delete(agentos, proxy, monkeypatch, forward=answer_lost_after_delete)

    code, out, err = run_cli(
        capsys, "--base-url", proxy.url, "--delete", "--user-id", user, "--yes", "--json", "--retries", "1"
    )

    assert code == 5 and "deleting stopped" in error_message(err)
    gone = [sid for sid in session_ids if fetch_session(agentos, sid) is None]
    survivors = [sid for sid in session_ids if sid not in gone]
    assert len(gone) == deleted_count
    assert_report_splits(json.loads(out), gone, survivors)


def test_bulk_delete_cut_half_way_names_the_deleted_ids_and_touches_no_later_batch(
    agentos, proxy, capsys, monkeypatch
) -> None:
    user, session_ids = start_cut_bulk_delete(agentos, proxy, monkeypatch, forward=False)

    code, out, _err = run_cli(
        capsys, "--base-url", proxy.url, "--delete", "--user-id", user, "--yes", "--json", "--retries", "1"
    )

    assert code == 5
    report = json.loads(out)
    gone = [sid for sid in session_ids if fetch_session(agentos, sid) is None]
    assert sorted(gone) == sorted(deleted_in_requests(proxy)) and len(gone) == 2
    assert sorted(report["deleted"]) == sorted(gone) and len(report["not_done"]) == len(session_ids) - 2
    assert len(proxy.seen("DELETE", "/sessions")) == 1 + 2


def test_bulk_delete_run_again_after_a_cut_completes_without_deleting_anything_twice(
    agentos, proxy, capsys, monkeypatch
) -> None:
    user, session_ids = start_cut_bulk_delete(agentos, proxy, monkeypatch, forward=False)
    bystander = create_session(agentos, new_user())
    others_before = total_sessions(agentos) - len(session_ids)
    argv = ("--base-url", proxy.url, "--delete", "--user-id", user, "--yes", "--json", "--retries", "1")

    first_code, _out, _err = run_cli(capsys, *argv)
    first_round = deleted_in_requests(proxy)
    proxy.clear_faults()
    second_code, out, err = run_cli(capsys, *argv)

    assert (first_code, second_code) == (5, 0), err
    second_round = deleted_in_requests(proxy)[len(first_round) :]
    assert sorted(json.loads(out)["deleted"]) == sorted(second_round)
    assert sorted(first_round + second_round) == sorted(session_ids)
    assert all(fetch_session(agentos, sid) is None for sid in session_ids)
    assert fetch_session(agentos, bystander) is not None
    assert total_sessions(agentos) == others_before


CLEAR_STEP_FAULTS = {
    "export": lambda proxy, sid: proxy.drop(method="GET", path=f"/sessions/{sid}"),
    "delete-before-server": lambda proxy, sid: proxy.drop(method="DELETE", path=f"/sessions/{sid}"),
    "delete-after-server": lambda proxy, sid: proxy.drop(forward=True, method="DELETE", path=f"/sessions/{sid}"),
    "recreate-before-server": lambda proxy, _sid: proxy.drop(method="POST", path="/sessions"),
    "recreate-after-server": lambda proxy, _sid: proxy.drop(forward=True, method="POST", path="/sessions"),
    "recreate-503": lambda proxy, _sid: proxy.fail(503, times=10, method="POST", path="/sessions"),
    "recheck-session": lambda proxy, sid: proxy.drop(skip=1, method="GET", path=f"/sessions/{sid}"),
    "verify": lambda proxy, sid: proxy.drop(skip=2, method="GET", path=f"/sessions/{sid}"),
    "recheck-runs": lambda proxy, sid: proxy.cut(skip=1, times=10, method="GET", path=f"/sessions/{sid}/runs"),
    "verify-runs": lambda proxy, sid: proxy.cut(skip=2, times=10, method="GET", path=f"/sessions/{sid}/runs"),
}
# Every step fails as a lost connection (exit 5), except the 503 the server itself answers (exit 1).
CLEAR_STEP_EXIT_CODES = {step: 1 if step == "recreate-503" else 5 for step in CLEAR_STEP_FAULTS}
CLEAR_CASES = [
    pytest.param(session_type, step, id=f"{session_type}-{step}")
    for session_type in ("agent", "team")
    for step in CLEAR_STEP_FAULTS
]


@pytest.mark.parametrize(("session_type", "step"), CLEAR_CASES)
def test_clear_cut_at_any_step_leaves_the_session_or_a_backup_that_restores_it(
    agentos, proxy, capsys, tmp_path, session_type, step
) -> None:
    user = new_user()
    session_id = create_session(
        agentos, user, session_type, name="Clear me", session_state={"topic": "faults"}, metadata={"tag": step}
    )
    add_run(agentos, session_id, user, session_type)
    original = fetch_session(agentos, session_id)
    CLEAR_STEP_FAULTS[step](proxy, session_id)

    code, _out, err = run_cli(
        capsys, "--base-url", proxy.url, "--session-id", session_id, "--clear", "--yes",
        "--backup-dir", str(tmp_path), "--retries", "1",
    )  # fmt: skip

    assert code == CLEAR_STEP_EXIT_CODES[step], err
    line = single_line(err)
    backups = list(tmp_path.glob("agentos-backup-*.json"))
    if step == "export":
        assert backups == []
        assert len(fetch_runs(agentos, session_id)) == 1
    elif step in ("recheck-runs", "recheck-session"):  # the last check, right before the delete
        assert len(backups) == 1 and str(backups[0]) in line and "nothing was deleted" in line
        assert len(fetch_runs(agentos, session_id)) == 1
    else:
        assert len(backups) == 1 and f"--restore {backups[0]}" in line
    if fetch_session(agentos, session_id) is None:
        restore_code, _out, restore_err = run_cli(capsys, "--base-url", agentos.url, "--restore", str(backups[0]))
        assert restore_code == 0, restore_err
    recovered = fetch_session(agentos, session_id)
    assert kept(recovered) == kept(original)
    assert model.detect_session_type(recovered) == session_type


def test_restore_brings_a_team_session_back_as_a_team_session(agentos, capsys, tmp_path) -> None:
    user = new_user()
    session_id = create_session(agentos, user, "team", name="Team talk", metadata={"k": 1})
    backup = tmp_path / "team.json"
    assert run_cli(capsys, "--base-url", agentos.url, "--session-id", session_id, "--export", str(backup))[0] == 0
    httpx.delete(f"{agentos.url}/sessions/{session_id}", timeout=30).raise_for_status()

    code, _out, err = run_cli(capsys, "--base-url", agentos.url, "--restore", str(backup), "--json")

    assert code == 0, err
    restored = fetch_session(agentos, session_id)
    assert restored.get("team_id") == "research-team"
    assert model.detect_session_type(restored) == "team"


def test_chat_refused_at_first_is_retried_once_the_server_listens_again(agentos, proxy, capsys) -> None:
    proxy.stop_listening()
    threading.Timer(0.3, proxy.start_listening).start()

    code, out, err = run_cli(
        capsys, "--base-url", proxy.url, "--agent-id", "assistant", "--user-id", new_user(),
        "--chat", "My name is Rita.", "--retries", "4", "--json",
    )  # fmt: skip

    assert code == 0, err
    assert json.loads(out)["content"] == "Nice to meet you, Rita."
    assert len(proxy.seen("POST", "/agents/assistant/runs")) == 1


def test_chat_cut_before_any_reply_is_not_sent_again(agentos, proxy, capsys) -> None:
    proxy.drop(forward=True, method="POST", path="/agents/assistant/runs")

    code, _out, err = run_cli(
        capsys, "--base-url", proxy.url, "--agent-id", "assistant", "--user-id", new_user(),
        "--chat", "hello", "--retries", "3",
    )  # fmt: skip

    assert code == 5
    single_line(err)
    assert len(proxy.seen("POST", "/agents/assistant/runs")) == 1


@pytest.mark.parametrize("body", [b"<html>not an AgentOS</html>", b'{"unexpected": true}', b"[1, 2]"])
@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--session-id", "seed-00002"],
        ["--session-id", "seed-00002", "--show-runs"],
        ["--session-id", "s", "--run-id", "r"],
    ],
)
def test_an_answer_that_is_not_agentos_is_one_clear_error(proxy, capsys, body, args) -> None:
    proxy.fail(200, times=100, body=body, method="GET")

    code, out, err = run_cli(capsys, "--base-url", proxy.url, *args)

    assert code == 1 and out == ""
    assert "does not send" in single_line(err) and "--base-url" in err


@pytest.mark.parametrize("body", [b"<html>not an AgentOS</html>", b"[1, 2]"])
@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("POST", ["--create", "--agent-id", "assistant"]),
        ("PATCH", ["--session-id", "seed-00002", "--rename", "x"]),
    ],
)
def test_a_write_answered_by_something_else_is_one_clear_error(proxy, capsys, body, method, args) -> None:
    proxy.fail(200, times=10, body=body, method=method)

    code, out, err = run_cli(capsys, "--base-url", proxy.url, *args)

    assert code == 1 and out == ""
    assert "does not send" in single_line(err)
