"""Fixtures that start a real AgentOS (scripts/local_agentos.py) on a free loopback port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from faultproxy import FaultProxy
from postgres_server import create_database, find_postgres_bin, postgres_server

ROOT = Path(__file__).resolve().parent.parent
SERVER_SCRIPT = ROOT / "scripts" / "local_agentos.py"
START_TIMEOUT = 90.0
SECURITY_KEY = "test-key-0f3c9a7e51d2"


@dataclass
class AgentOSServer:
    """A running local AgentOS: where it listens and how to reach it."""

    url: str
    db: Path
    process: subprocess.Popen
    stderr_path: Path
    security_key: str | None = None
    agno_version: str | None = None  # an older agno's version; None for the project's own (3.1)

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.security_key}"} if self.security_key else {}

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def start_server(
    tmp: Path,
    *extra: str,
    security_key: str | None = None,
    env: dict[str, str] | None = None,
    python: tuple[str, ...] = (sys.executable,),
) -> AgentOSServer:
    """Start scripts/local_agentos.py on a free port and wait for its READY line."""
    db = tmp / "agentos.db"
    stderr_path = tmp / "server.stderr"
    command = [*python, str(SERVER_SCRIPT), "--port", "0", "--db", str(db), *extra]
    if security_key:
        command += ["--security-key", security_key]
    with stderr_path.open("wb") as stderr_file:
        # Its own process group, so a server that will not stop is killed with its workers.
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            env=env or os.environ.copy(),
            cwd=tmp,
            start_new_session=True,
        )
    server = AgentOSServer("", db, process, stderr_path, security_key, legacy_version(python))
    server.url = wait_for_ready(server)
    return server


def wait_for_ready(server: AgentOSServer) -> str:
    """Read stdout until READY; fail with the server's stderr if it never comes."""
    deadline = time.monotonic() + START_TIMEOUT * (4 if server.agno_version else 1)
    assert server.process.stdout is not None
    while time.monotonic() < deadline:
        line = server.process.stdout.readline().decode()
        if line.startswith("READY "):
            return line.split()[1]
        if not line and server.process.poll() is not None:
            break
    stop_server(server)
    pytest.fail(f"local AgentOS did not start; its stderr:\n{server.stderr()}")


def stop_server(server: AgentOSServer) -> None:
    """Terminate the server process and wait for it."""
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()


@pytest.fixture(autouse=True)
def backups_in_the_test_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """--clear's default backup folder is the test's own directory, never the user's state folder."""
    monkeypatch.setenv("AGENTOS_BACKUP_DIR", str(tmp_path))


@pytest.fixture
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No URL or key from the caller's shell; files the CLI writes land in the test's directory."""
    for name in ("AGENTOS_URL", "AGENTOS_SECURITY_KEY", "OS_SECURITY_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL; skipped locally without binaries, required when CI=true."""
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but no PostgreSQL binaries (initdb, pg_ctl) were found; .ci/run installs them")
        pytest.skip("no PostgreSQL binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin")
    with postgres_server(bin_dir, Path(tempfile.mkdtemp(prefix="agentos-pg-"))) as url:
        yield url


def legacy_python(version: str) -> tuple[str, ...]:
    """A Python with an older agno, from uv's cache (the same command README gives)."""
    return ("uv", "run", "-q", "--no-project", "--with", f"agno[os,sqlite]=={version}", "--with", "greenlet", "python")


def legacy_version(python: tuple[str, ...]) -> str | None:
    """The agno version a legacy_python() command pins, or None."""
    pinned = [word.split("==")[1] for word in python if word.startswith("agno[") and "==" in word]
    return pinned[0] if pinned else None


class ServerPool:
    """One seeded AgentOS per backend, started when first asked for and shared by the whole run."""

    def __init__(self, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.request = request
        self.tmp_path_factory = tmp_path_factory
        self.servers: dict[str, AgentOSServer] = {}

    def get(self, backend: str) -> AgentOSServer:
        if backend not in self.servers:
            tmp = self.tmp_path_factory.mktemp(f"agentos-{backend}")
            if backend == "postgres":
                server = start_server(tmp, "--seed", "12", "--postgres", self.request.getfixturevalue("postgres_url"))
            elif backend == "postgres-4w":
                # Its own database on the same PostgreSQL: the plain server's sessions stay apart.
                url = create_database(self.request.getfixturevalue("postgres_url"), "agentos_4w")
                server = start_server(tmp, "--seed", "12", "--postgres", url, *PRODUCTION_SHAPE)
            elif backend.startswith("agno-"):
                server = start_server(tmp, "--seed", "12", python=legacy_python(backend.removeprefix("agno-")))
            else:
                server = start_server(tmp, "--seed", "12")
            self.servers[backend] = server
        return self.servers[backend]

    def stop_all(self) -> None:
        for server in self.servers.values():
            stop_server(server)


# The newest release of each older agno line that AgentOS servers in production still run.
LEGACY_AGNO = ("3.0.11", "2.9.0")
BACKENDS = ("sqlite", "postgres")
# How the "postgres-4w" server runs: as AgentOS does in production, four processes, each answering
# requests concurrently, so races a one-request-at-a-time server never shows can happen.
PRODUCTION_SHAPE = ("--workers", "4", "--async-db")
# The set actions and the race tests also run against "postgres-4w"; the other suites do not (CI time).
SET_BACKENDS = (*BACKENDS, "postgres-4w")
# The CLI suites run against these: both databases on agno 3.1, and the older servers on SQLite.
ALL_SERVERS = (*BACKENDS, *(f"agno-{version}" for version in LEGACY_AGNO))


@pytest.fixture(scope="session")
def server_pool(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerPool]:
    pool = ServerPool(request, tmp_path_factory)
    yield pool
    pool.stop_all()


@pytest.fixture(scope="session", params=BACKENDS)
def agentos(request: pytest.FixtureRequest, server_pool: ServerPool) -> AgentOSServer:
    """A plain AgentOS seeded with 12 sessions, on SQLite and on PostgreSQL, shared by the whole run."""
    return server_pool.get(request.param)


@pytest.fixture(scope="session", params=SET_BACKENDS)
def set_agentos(request: pytest.FixtureRequest, server_pool: ServerPool) -> AgentOSServer:
    """`agentos` plus the 4-worker PostgreSQL server, for set actions and races.

    A module opts in by overriding `agentos` with it, so `cli` and `proxy` follow:

        @pytest.fixture(scope="session")
        def agentos(set_agentos: AgentOSServer) -> AgentOSServer:
            return set_agentos
    """
    return server_pool.get(request.param)


@pytest.fixture(scope="session", params=LEGACY_AGNO)
def legacy_agentos(request: pytest.FixtureRequest, server_pool: ServerPool) -> AgentOSServer:
    """A plain AgentOS of an older agno (3.0.11, 2.9.0) on SQLite, seeded with 12 sessions."""
    return server_pool.get(f"agno-{request.param}")


@pytest.fixture(scope="session")
def keyed_agentos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentOSServer]:
    """An AgentOS that requires a bearer security key."""
    server = start_server(tmp_path_factory.mktemp("agentos-keyed"), "--seed", "2", security_key=SECURITY_KEY)
    yield server
    stop_server(server)


@pytest.fixture
def cli(agentos: AgentOSServer, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The CLI in-process against `agentos`, run from the test's own directory (modules may override it)."""
    from cli_helpers import Cli

    monkeypatch.chdir(tmp_path)
    return Cli(capsys, agentos.url)


@pytest.fixture
def proxy(agentos: AgentOSServer) -> Iterator[FaultProxy]:
    """The fault proxy in front of `agentos`."""
    with FaultProxy(agentos.url) as running:
        yield running
