"""The windows a write cannot close: from its last check to the write, as the server sees them.

AgentOS has no conditional write, so each write is preceded by a read that decides it; what
lands between that read and the write is not seen. This runs a local AgentOS behind the
recording proxy (tests/faultproxy.py) and measures, per write, the time from the last check's
request to the write's arrival (server work included): `uv run benchmarks/bench_windows.py`.
Figures go to RESULTS.md (Safety windows); over a network add about one round trip.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "scripts")]

import httpx  # noqa: E402
from agentos_sessions.cli import main  # noqa: E402
from conftest import AgentOSServer, start_server, stop_server  # noqa: E402
from faultproxy import FaultProxy, SeenRequest  # noqa: E402

ROUNDS = 10


def make(server: AgentOSServer, user: str, runs: int) -> str:
    """A session of `user` with `runs` real runs."""
    session_id = f"w-{uuid.uuid4().hex[:10]}"
    body = {"session_id": session_id, "user_id": user, "agent_id": "assistant", "session_name": "W"}
    httpx.post(f"{server.url}/sessions", params={"type": "agent"}, json=body, timeout=30).raise_for_status()
    for _ in range(runs):
        form = {"message": "hi", "session_id": session_id, "user_id": user, "stream": "false"}
        httpx.post(f"{server.url}/agents/assistant/runs", data=form, timeout=60).raise_for_status()
    return session_id


def quietly(argv: list[str]) -> int:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return main(argv)


def checks_before(requests: list[SeenRequest], write: SeenRequest, prefix: str) -> list[SeenRequest]:
    return [
        r for r in requests if r.method == "GET" and r.path.startswith(prefix) and r.received_at < write.received_at
    ]


def measure(server: AgentOSServer, tmp: Path, user: str) -> dict[str, list[float]]:
    """One round: a clear, a set update of three, a delete batch chosen by name."""
    windows: dict[str, list[float]] = {"clear": [], "set update": [], "set delete batch": []}
    session_id = make(server, user, 1)
    with FaultProxy(server.url) as proxy:
        quietly(["--base-url", proxy.url, "--session-id", session_id, "--clear", "--yes", "--backup-dir", str(tmp)])
        delete = next(r for r in proxy.requests if r.method == "DELETE")
        last = checks_before(proxy.requests, delete, f"/sessions/{session_id}")[-2:]
        windows["clear"].append(delete.received_at - min(r.received_at for r in last))
    for _ in range(3):
        make(server, user, 0)
    with FaultProxy(server.url) as proxy:
        quietly(["--base-url", proxy.url, "--user-id", user, "--update", "--metadata", '{"a": 1}', "--yes"])
        for patch in (r for r in proxy.requests if r.method == "PATCH"):
            read = checks_before(proxy.requests, patch, patch.path)[-1]
            windows["set update"].append(patch.received_at - read.received_at)
    with FaultProxy(server.url) as proxy:
        quietly(["--base-url", proxy.url, "--user-id", user, "--name", "W", "--delete", "--yes"])
        delete = next(r for r in proxy.requests if r.method == "DELETE")
        wave = checks_before(proxy.requests, delete, "/sessions/")
        windows["set delete batch"].append(delete.received_at - min(r.received_at for r in wave))
    return windows


def main_bench() -> None:
    tmp = Path(tempfile.mkdtemp())
    server = start_server(tmp, "--seed", "0")
    try:
        totals: dict[str, list[float]] = {}
        for round_number in range(ROUNDS):
            for name, values in measure(server, tmp, f"u{round_number}@example.com").items():
                totals.setdefault(name, []).extend(values)
    finally:
        stop_server(server)
    print("| write | median | max | n |\n|---|---|---|---|")
    for name, values in totals.items():
        print(f"| {name} | {statistics.median(values) * 1000:.0f} ms | {max(values) * 1000:.0f} ms | {len(values)} |")


if __name__ == "__main__":
    main_bench()
