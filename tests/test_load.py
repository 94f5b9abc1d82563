"""Issue 7, load: many processes at once against one AgentOS, and bounded concurrency in bulk work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from agentos_sessions import paging, selection
from cli_helpers import manage_sessions
from conftest import ROOT, AgentOSServer
from faultproxy import FaultProxy

SCRIPTS = ROOT / "scripts"

# SQLite is the backend where concurrent writers are the real risk; one backend keeps this quick.
pytestmark = [
    pytest.mark.parametrize("agentos", ["sqlite"], indirect=True),
    pytest.mark.usefixtures("isolated_environment"),
]

WORKERS = 20
# Each proxied request is held this long, so that concurrent requests overlap and can be counted.
HOLD_SECONDS = 0.1


@pytest.fixture
def load_user(agentos: AgentOSServer) -> Iterator[str]:
    """A new user id; its sessions are removed afterwards, so the shared server stays as others expect."""
    user = f"load-user-{uuid.uuid4()}@example.com"
    yield user
    with httpx.Client(base_url=agentos.url, timeout=30) as client:
        for session_id in sessions_of(agentos, user):
            client.delete(f"/sessions/{session_id}")


@pytest.fixture
def slow_proxy(agentos: AgentOSServer) -> Iterator[FaultProxy]:
    """A proxy that holds every session request a moment and counts how many are in flight."""
    with FaultProxy(agentos.url) as running:
        running.delay(HOLD_SECONDS, times=1_000_000, path_prefix="/sessions")
        yield running


def run_script(*argv: str, cwd: Path) -> dict:
    """Run the script as users do, in its own process; return its JSON output."""
    env = {k: v for k, v in os.environ.items() if k not in ("AGENTOS_URL", "AGENTOS_SECURITY_KEY", "OS_SECURITY_KEY")}
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / "manage_sessions.py"), *argv, "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=180,
    )
    assert done.returncode == 0, (argv, done.stderr)
    return json.loads(done.stdout)


def sessions_of(server: AgentOSServer, user_id: str) -> dict[str, str]:
    response = httpx.get(f"{server.url}/sessions", params={"user_id": user_id, "limit": 500}, timeout=30)
    response.raise_for_status()
    return {session["session_id"]: session.get("session_name", "") for session in response.json()["data"]}


def create_sessions(server: AgentOSServer, user_id: str, count: int) -> list[str]:
    """Fresh agent sessions, made straight through the API."""
    ids = []
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for number in range(count):
            session_id = f"load-{uuid.uuid4()}"
            body = {"session_id": session_id, "agent_id": "assistant", "user_id": user_id, "session_name": f"n{number}"}
            assert client.post("/sessions", params={"type": "agent"}, json=body).status_code == 201
            ids.append(session_id)
    return ids


@pytest.mark.slow
def test_twenty_concurrent_processes_create_rename_and_delete_their_own_sessions(agentos, load_user, tmp_path) -> None:
    user = load_user
    session_ids = [f"load-{worker:02d}-{uuid.uuid4()}" for worker in range(WORKERS)]
    base = ("--base-url", agentos.url)

    def work(worker: int) -> None:
        session_id = session_ids[worker]
        created = run_script(
            *base, "--create", "--agent-id", "assistant", "--user-id", user, "--session-id", session_id,
            "--name", f"load {worker}", cwd=tmp_path,
        )  # fmt: skip
        assert created["session_id"] == session_id
        renamed = run_script(*base, "--session-id", session_id, "--rename", f"renamed {worker}", cwd=tmp_path)
        assert renamed["session_name"] == f"renamed {worker}"
        if worker % 2 == 0:
            outcome = run_script(*base, "--delete", "--session-id", session_id, cwd=tmp_path)
            assert outcome == {"deleted": [session_id], "skipped": [], "refused": [], "not_found": []}

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        list(pool.map(work, range(WORKERS)))

    expected = {session_ids[worker]: f"renamed {worker}" for worker in range(WORKERS) if worker % 2}
    assert sessions_of(agentos, user) == expected


@pytest.mark.parametrize("bound", [None, 2], ids=["default-bound", "patched-bound"])
def test_list_all_keeps_at_most_page_concurrency_requests_in_flight(
    agentos, load_user, slow_proxy, capsys, monkeypatch, bound
) -> None:
    if bound is not None:
        monkeypatch.setattr(paging, "PAGE_CONCURRENCY", bound)
    user = load_user
    session_ids = create_sessions(agentos, user, 24)

    capsys.readouterr()
    code = manage_sessions.main(["--base-url", slow_proxy.url, "--all", "--user-id", user, "--limit", "2", "--json"])
    out, err = capsys.readouterr()

    assert code == 0, err
    assert sorted(session["session_id"] for session in json.loads(out)["data"]) == sorted(session_ids)
    assert len(slow_proxy.seen("GET", "/sessions")) >= 12
    assert 1 < slow_proxy.max_in_flight <= paging.PAGE_CONCURRENCY


@pytest.mark.parametrize("bound", [None, 3], ids=["default-bound", "patched-bound"])
def test_delete_of_many_ids_keeps_at_most_lookup_concurrency_requests_in_flight(
    agentos, load_user, slow_proxy, capsys, monkeypatch, bound
) -> None:
    if bound is not None:
        monkeypatch.setattr(selection, "LOOKUP_CONCURRENCY", bound)
    user = load_user
    session_ids = create_sessions(agentos, user, 24)
    id_flags = [word for session_id in session_ids for word in ("--session-id", session_id)]

    capsys.readouterr()
    code = manage_sessions.main(["--base-url", slow_proxy.url, "--delete", *id_flags, "--json"])
    out, err = capsys.readouterr()

    assert code == 0, err
    assert sorted(json.loads(out)["deleted"]) == sorted(session_ids)
    assert sessions_of(agentos, user) == {}
    assert 1 < slow_proxy.max_in_flight <= selection.LOOKUP_CONCURRENCY
