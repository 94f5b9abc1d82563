"""Network profiles and server shapes the benchmarks measure side by side in one run.

A profile is a server (the one-worker SQLite server, or 4 workers on one PostgreSQL, each on
agno's async database class) reached over loopback or through benchmarks/delay_proxy.py:

    with running_server("postgres-4w", workdir, seed=0) as server:
        with reached_through(server.url, 0.050) as url:
            ...  # every request to `url` costs a 50 ms round trip more
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from delay_proxy import DelayProxy

ROOT = Path(__file__).resolve().parent.parent
SERVER_SCRIPT = ROOT / "scripts" / "local_agentos.py"
SERVER_START_TIMEOUT = 300.0
# How AgentOS runs in production: several processes, each answering requests concurrently.
SERVER_SHAPES = {
    "sqlite": ("SQLite, 1 worker", ()),
    "postgres-4w": ("PostgreSQL, 4 async workers", ("--workers", "4", "--async-db")),
}


class ServerError(Exception):
    """A server of a profile did not start."""


@dataclass(frozen=True)
class Server:
    """A running local AgentOS: its URL and its database's SQLAlchemy URL (for direct inserts)."""

    shape: str
    url: str
    db_url: str

    def label(self) -> str:
        """What the tables call this server."""
        return SERVER_SHAPES[self.shape][0]


def round_trips(text: str) -> tuple[float, ...]:
    """A --latency value: milliseconds, or several separated by commas (0 is loopback); seconds out."""
    values = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            value = -1.0
        if not 0 <= value <= 10_000:
            raise argparse.ArgumentTypeError(f"expected milliseconds from 0 to 10000, comma-separated, got {text!r}")
        values.append(value / 1000)
    return tuple(dict.fromkeys(values))


def server_shapes(text: str) -> tuple[str, ...]:
    """A --servers value: shapes separated by commas."""
    shapes = tuple(dict.fromkeys(text.split(",")))
    unknown = [shape for shape in shapes if shape not in SERVER_SHAPES]
    if unknown or not shapes:
        named = unknown[0] if unknown else text
        raise argparse.ArgumentTypeError(f"unknown server {named!r}; use {', '.join(SERVER_SHAPES)}")
    return shapes


def profile_label(server: Server, round_trip: float) -> str:
    """`SQLite, 1 worker, loopback` or `..., +10 ms`."""
    network = f"+{round_trip * 1000:g} ms" if round_trip else "loopback"
    return f"{server.label()}, {network}"


def open_database(db_url: str) -> Any:
    """agno's synchronous database class on a server's database (rows go in without the API)."""
    if db_url.startswith("sqlite:///"):
        from agno.db.sqlite import SqliteDb

        return SqliteDb(db_file=db_url.removeprefix("sqlite:///"))
    from agno.db.postgres import PostgresDb

    return PostgresDb(db_url=db_url)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A throwaway PostgreSQL from the machine's binaries (tests/postgres_server.py); its URL."""
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from postgres_server import find_postgres_bin, postgres_server
    finally:
        sys.path.remove(str(ROOT / "tests"))
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        raise ServerError("no PostgreSQL binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin")
    # A folder of its own: as root, the server runs as 'postgres', which gets this one and no other.
    with postgres_server(bin_dir, Path(tempfile.mkdtemp(prefix="agentos-bench-pg-"))) as url:
        yield url


def start_server(workdir: Path, seed: int, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start scripts/local_agentos.py on a free port in its own process group; return it once READY."""
    with (workdir / "server.err").open("wb") as stderr:
        command = [sys.executable, str(SERVER_SCRIPT), "--port", "0", "--db", str(workdir / "agentos.db")]
        process = subprocess.Popen(
            [*command, "--seed", str(seed), *extra],
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
            cwd=workdir,
            start_new_session=True,
        )
    assert process.stdout is not None
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        line = process.stdout.readline().decode()
        if line.startswith("READY "):
            process.url = line.split()[1]  # type: ignore[attr-defined]
            return process
        if not line and process.poll() is not None:
            break
    stop_server(process)
    tail = (workdir / "server.err").read_text(errors="replace")[-2000:]
    raise ServerError(f"the local AgentOS did not start; its stderr:\n{tail}")


def stop_server(process: subprocess.Popen) -> None:
    """Terminate the server (and its workers) and wait for it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def running_server(shape: str, workdir: Path, seed: int, env: dict[str, str] | None = None) -> Iterator[Server]:
    """A local AgentOS of this shape in `workdir`, stopped (with its PostgreSQL) afterwards."""
    workdir.mkdir(parents=True, exist_ok=True)
    extra = SERVER_SHAPES[shape][1]
    if shape == "sqlite":
        process = start_server(workdir, seed, env=env)
        try:
            yield Server(shape, process.url, f"sqlite:///{workdir / 'agentos.db'}")  # type: ignore[attr-defined]
        finally:
            stop_server(process)
        return
    with postgres_database() as db_url:
        process = start_server(workdir, seed, "--postgres", db_url, *extra, env=env)
        try:
            yield Server(shape, process.url, db_url)  # type: ignore[attr-defined]
        finally:
            stop_server(process)


@contextmanager
def reached_through(url: str, round_trip: float) -> Iterator[str]:
    """The URL to use: `url` itself on loopback, else a delay proxy's in front of it."""
    if not round_trip:
        yield url
        return
    with DelayProxy(url, round_trip) as proxy:
        yield proxy.url
