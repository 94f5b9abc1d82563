"""Round trips on the critical path of each single-session command, pinned so they cannot grow unnoticed.

Every request goes through the fault proxy, which holds each one for DELAY seconds before the
server sees it: requests sent in parallel overlap, requests that wait for an answer do not. The
count is the longest chain of requests each sent after the one before it was answered.
benchmarks/RESULTS.md has the table, with the least the API allows beside each count.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cli_helpers import Cli
from conftest import AgentOSServer, ServerPool
from faultproxy import FaultProxy, SeenRequest

DELAY = 0.3
USER = "round-trips@example.com"


@pytest.fixture(scope="module")
def agentos(server_pool: ServerPool) -> AgentOSServer:
    """One server is enough: the count is the CLI's, not the database's."""
    return server_pool.get("sqlite")


@pytest.fixture
def slow_proxy(agentos: AgentOSServer) -> Iterator[FaultProxy]:
    """The fault proxy in front of `agentos`, holding every request DELAY seconds."""
    with FaultProxy(agentos.url) as running:
        running.delay(DELAY, times=1_000_000)
        yield running


def sequential_round_trips(requests: list[SeenRequest]) -> int:
    """The longest chain of requests where each was sent after the previous one was answered."""
    ordered = sorted(requests, key=lambda request: request.received_at)
    chain: list[int] = []
    for index, request in enumerate(ordered):
        before = [chain[j] for j in range(index) if ordered[j].answered_at <= request.received_at]
        chain.append(1 + max(before, default=0))
    return max(chain, default=0)


def session_with_runs(agentos: AgentOSServer, runs: int = 2) -> str:
    """A fresh agent session of USER with real runs, made straight through the API."""
    session_id = f"rt-{uuid.uuid4().hex[:12]}"
    body = {"session_id": session_id, "user_id": USER, "agent_id": "assistant", "session_name": "Round trips"}
    httpx.post(f"{agentos.url}/sessions", params={"type": "agent"}, json=body, timeout=30).raise_for_status()
    for number in range(runs):
        form = {"message": f"message {number}", "session_id": session_id, "user_id": USER, "stream": "false"}
        httpx.post(f"{agentos.url}/agents/assistant/runs", data=form, timeout=60).raise_for_status()
    return session_id


def export_file(agentos: AgentOSServer, cli: Cli, tmp_path: Path) -> Path:
    """An --export file of a session that is then deleted, for --restore to re-create it."""
    session_id = session_with_runs(agentos)
    path = tmp_path / "export.json"
    assert cli("--session-id", session_id, "--export", str(path)).code == 0
    httpx.delete(f"{agentos.url}/sessions/{session_id}", timeout=30).raise_for_status()
    return path


def command_arguments(name: str, agentos: AgentOSServer, tmp_path: Path, direct: Cli) -> list[str]:
    """The command line of one single-session command, on a fresh session."""
    if name == "create":
        return ["--create", "--agent-id", "assistant", "--user-id", USER, "--session-id", f"rt-{uuid.uuid4().hex}"]
    if name == "restore":
        return ["--restore", str(export_file(agentos, direct, tmp_path))]
    session = ["--session-id", session_with_runs(agentos)]
    return (
        session
        + {
            "inspect": [],
            "runs": ["--show-runs"],
            "rename": ["--rename", "Renamed"],
            "update": ["--update", "--metadata", json.dumps({"checked": True})],
            "delete": ["--delete"],
            "clear": ["--clear", "--yes", "--backup-dir", str(tmp_path)],
            "export": ["--export", str(tmp_path / "one.json")],
            "fork": ["--fork"],
            "chat": ["--chat", "hello"],
        }[name]
    )


# Sequential round trips each command needs now, and the least the API allows (benchmarks/RESULTS.md
# says why for each). A change that adds a round trip fails here; one that removes one lowers the pin.
ROUND_TRIPS = {
    "inspect": (1, 1),  # the session and its run previews, in parallel
    "runs": (1, 1),
    "create": (1, 1),
    "rename": (1, 1),
    # read (PATCH replaces metadata and state whole, so merging needs it), PATCH, and a re-read: the only way to
    # see another writer who changed the session right after (AgentOS has no conditional write)
    "update": (3, 2),
    "delete": (2, 2),  # read (DELETE answers 204 for a missing id too), DELETE
    # read session and runs (the backup), re-read both right after the backup is written, so nothing slow
    # stands between the last check and the DELETE; DELETE, POST, re-read both to verify
    "clear": (5, 3),
    "export": (1, 1),  # the session and its runs, in parallel
    "restore": (1, 1),  # POST: it answers with the session as stored, which is checked against the file
    "fork": (3, 3),  # read session and runs, POST fork, then name the copy and count its and the original's runs
    "chat": (2, 2),  # read the session (its agent or team and owner), POST the run
}


@pytest.mark.parametrize("name", sorted(ROUND_TRIPS))
def test_single_session_command_needs_its_pinned_round_trips(
    name: str,
    agentos: AgentOSServer,
    slow_proxy: FaultProxy,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    arguments = command_arguments(name, agentos, tmp_path, Cli(capsys, agentos.url))
    outcome = Cli(capsys, slow_proxy.url)(*arguments, "--json")
    assert outcome.code == 0, outcome.err
    requests = slow_proxy.seen()
    chain = sequential_round_trips(requests)
    assert chain == ROUND_TRIPS[name][0], [request.target for request in requests]


def seen(received_at: float, answered_at: float) -> SeenRequest:
    return SeenRequest("GET", "/sessions", "", {}, b"", received_at, "forwarded", True, answered_at)


def test_overlapping_requests_count_once_and_chained_ones_add_up() -> None:
    parallel = [seen(0.0, 0.3), seen(0.01, 0.31)]
    assert sequential_round_trips(parallel) == 1
    assert sequential_round_trips([*parallel, seen(0.32, 0.6), seen(0.61, 0.9)]) == 3
    assert sequential_round_trips([]) == 0
