"""The local AgentOS is real, offline, seeded as promised and keeps history per session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from conftest import SECURITY_KEY, SERVER_SCRIPT, AgentOSServer, ServerPool, start_server, stop_server


def run_agent(server: AgentOSServer, agent_id: str, message: str, session_id: str, stream: bool = False) -> str:
    """Run an agent through the AgentOS HTTP API and return the full response text."""
    response = httpx.post(
        f"{server.url}/agents/{agent_id}/runs",
        data={"message": message, "session_id": session_id, "stream": str(stream).lower()},
        headers=server.auth_headers(),
        timeout=30,
    )
    response.raise_for_status()
    return response.text


def test_server_answers_get_sessions(agentos: AgentOSServer) -> None:
    response = httpx.get(f"{agentos.url}/sessions", params={"limit": 100_000})
    assert response.status_code == 200
    assert {"data", "meta"} <= response.json().keys()


def test_seed_creates_named_sessions_over_components_and_users(agentos: AgentOSServer) -> None:
    body = httpx.get(f"{agentos.url}/sessions", params={"limit": 100_000}).json()
    seeded = [s for s in body["data"] if s["session_id"].startswith("seed-")]
    assert sorted(s["session_name"] for s in seeded) == sorted(f"Research Chat {n}" for n in range(1, 13))
    assert {s["user_id"] for s in seeded} == {"alice@example.com", "bob@example.com"}
    owners = {s.get("agent_id") or s.get("team_id") or s.get("workflow_id") for s in seeded}
    assert owners == {"assistant", "researcher", "research-team", "pipeline"}
    assert {s["session_type"] for s in seeded} == {"agent", "team", "workflow"}


def test_seed_gives_a_good_share_real_runs_with_history(agentos: AgentOSServer) -> None:
    sessions = httpx.get(f"{agentos.url}/sessions", params={"limit": 100_000}).json()["data"]
    run_counts = {}
    for session in sessions:
        if session["session_id"].startswith("seed-"):
            runs = httpx.get(f"{agentos.url}/sessions/{session['session_id']}/runs").json()
            run_counts[session["session_type"]] = run_counts.get(session["session_type"], 0) + len(runs)
            if runs:
                assert runs[-1]["content"] == "Your name is Alice."
    assert run_counts["agent"] >= 4 and run_counts["team"] >= 2 and run_counts["workflow"] >= 2


def test_second_run_in_a_session_sees_the_first_message(agentos: AgentOSServer) -> None:
    session_id = f"history-{uuid.uuid4()}"
    run_agent(agentos, "assistant", "My name is Alice.", session_id)
    reply = json.loads(run_agent(agentos, "assistant", "What's my name?", session_id))
    assert reply["content"] == "Your name is Alice."


def test_a_run_in_another_session_does_not_see_it(agentos: AgentOSServer) -> None:
    run_agent(agentos, "assistant", "My name is Alice.", f"first-{uuid.uuid4()}")
    reply = json.loads(run_agent(agentos, "assistant", "What's my name?", f"other-{uuid.uuid4()}"))
    assert reply["content"] == "I don't know your name yet."


def test_streaming_run_sends_several_content_events(agentos: AgentOSServer) -> None:
    stream = run_agent(agentos, "researcher", "Tell me about sessions please", f"s-{uuid.uuid4()}", stream=True)
    assert stream.count("event: RunContent") >= 3
    assert "event: RunCompleted" in stream


def test_keyed_server_refuses_a_request_without_the_key(keyed_agentos: AgentOSServer) -> None:
    response = httpx.get(f"{keyed_agentos.url}/sessions")
    assert response.status_code == 401


def test_keyed_server_refuses_a_wrong_key_and_accepts_the_right_one(keyed_agentos: AgentOSServer) -> None:
    wrong = httpx.get(f"{keyed_agentos.url}/sessions", headers={"Authorization": "Bearer nope"})
    right = httpx.get(f"{keyed_agentos.url}/sessions", headers=keyed_agentos.auth_headers())
    assert wrong.status_code == 401
    assert right.status_code == 200 and right.json()["meta"]["total_count"] == 2


@pytest.mark.slow
def test_key_in_the_callers_environment_does_not_leak_into_a_plain_server(tmp_path) -> None:
    server = start_server(tmp_path, env={**os.environ, "OS_SECURITY_KEY": SECURITY_KEY})
    try:
        assert httpx.get(f"{server.url}/sessions").status_code == 200
    finally:
        stop_server(server)


def test_server_logs_go_to_stderr_and_stdout_carries_only_ready(agentos: AgentOSServer) -> None:
    assert agentos.url.startswith("http://127.0.0.1:")
    assert "READY" not in agentos.stderr()


@pytest.mark.slow
def test_seeding_the_same_db_twice_adds_no_sessions_and_no_runs(tmp_path) -> None:
    for _ in range(2):
        server = start_server(tmp_path, "--seed", "3")
        try:
            total = httpx.get(f"{server.url}/sessions").json()["meta"]["total_count"]
            runs = httpx.get(f"{server.url}/sessions/seed-00001/runs").json()
        finally:
            stop_server(server)
        assert total == 3
        assert [run["run_input"] for run in runs] == ["My name is Alice.", "What's my name?"]


def worker_processes(server: AgentOSServer) -> list[int]:
    """The pids of the server's uvicorn workers: its children started by multiprocessing's spawn."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if parent == server.process.pid and b"spawn_main" in command:
            pids.append(int(stat.parent.name))
    return pids


@pytest.mark.slow
def test_workers_share_one_database_seeded_once_and_stop_with_the_server(tmp_path) -> None:
    server = start_server(tmp_path, "--seed", "3", "--workers", "2")
    try:
        workers = worker_processes(server)
        totals = {httpx.get(f"{server.url}/sessions").json()["meta"]["total_count"] for _ in range(6)}
        runs = httpx.get(f"{server.url}/sessions/seed-00001/runs").json()
        session_id = f"w-{uuid.uuid4()}"
        run_agent(server, "assistant", "My name is Alice.", session_id)
        answers = {json.loads(run_agent(server, "assistant", "What's my name?", session_id))["content"]}
    finally:
        stop_server(server)
    assert len(workers) == 2
    assert server.stderr().count("Database ready: SqliteDb") == 2  # each worker opened the database
    assert totals == {3}
    assert [run["run_input"] for run in runs] == ["My name is Alice.", "What's my name?"]
    assert answers == {"Your name is Alice."}
    assert server.process.stdout.read().decode().count("READY") == 0  # READY came once, before this
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]


@pytest.mark.slow
def test_async_db_serves_from_agnos_async_class_with_the_seeded_sessions(tmp_path) -> None:
    server = start_server(tmp_path, "--seed", "3", "--async-db")
    try:
        total = httpx.get(f"{server.url}/sessions").json()["meta"]["total_count"]
        session_id = f"a-{uuid.uuid4()}"
        run_agent(server, "assistant", "My name is Alice.", session_id)
        reply = json.loads(run_agent(server, "assistant", "What's my name?", session_id))
    finally:
        stop_server(server)
    assert "Database ready: AsyncSqliteDb" in server.stderr()
    assert total == 3
    assert reply["content"] == "Your name is Alice."


@pytest.mark.parametrize("workers", ["0", "-2"])
def test_workers_below_one_are_refused_with_one_line(workers: str) -> None:
    completed = subprocess.run(
        [sys.executable, str(SERVER_SCRIPT), "--workers", workers], capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 2
    assert completed.stderr == "error: --workers must be >= 1\n"
    assert completed.stdout == ""


def test_the_production_shaped_server_runs_four_workers_on_async_postgres(server_pool: ServerPool) -> None:
    server = server_pool.get("postgres-4w")
    assert len(worker_processes(server)) == 4
    assert server.stderr().count("Database ready: AsyncPostgresDb") == 4
    assert httpx.get(f"{server.url}/sessions").json()["meta"]["total_count"] >= 12
