"""A throwaway PostgreSQL server from the machine's own binaries (initdb, pg_ctl); no Docker."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DEBIAN_BIN_GLOB = "/usr/lib/postgresql/*/bin"


def find_postgres_bin() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH, else Debian's newest package."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    candidates = sorted(glob.glob(DEBIAN_BIN_GLOB), key=lambda path: int(Path(path).parent.name), reverse=True)
    return next((Path(path) for path in candidates if (Path(path) / "initdb").exists()), None)


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def as_server_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the 'postgres' user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def run_tool(command: list[str]) -> None:
    """Run a PostgreSQL tool; raise with its output if it fails."""
    completed = subprocess.run(as_server_user(command), capture_output=True, text=True, timeout=120)
    if completed.returncode != 0:
        raise RuntimeError(f"{command[0]} failed:\n{completed.stdout}\n{completed.stderr}")


def create_database(url: str, name: str) -> str:
    """Create database `name` on the server of `url` (a SQLAlchemy URL); return its URL."""
    import psycopg

    server, _, _ = url.removeprefix("postgresql+psycopg://").rpartition("/")
    with psycopg.connect(f"postgresql://{server}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://{server}/{name}"


@contextmanager
def postgres_server(bin_dir: Path, workdir: Path) -> Iterator[str]:
    """Start PostgreSQL in `workdir` on a free loopback port; yield its SQLAlchemy URL."""
    data, sockets = workdir / "data", workdir / "sockets"
    sockets.mkdir(parents=True)
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
        shutil.chown(sockets, "postgres")
    port = free_port()
    run_tool([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"])
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    run_tool([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(workdir / "log"), "-w", "start"])
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        run_tool([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(workdir, ignore_errors=True)
