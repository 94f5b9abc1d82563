"""Calling the CLI in-process against a real AgentOS, for the tests."""

from __future__ import annotations

import json
import os
import select
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import manage_sessions


@dataclass
class Outcome:
    """What one CLI call did: its exit code and its two output streams."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def error(self) -> dict[str, Any]:
        return json.loads(self.err)


class Cli:
    """Runs manage_sessions.main() against one server and captures its output."""

    def __init__(self, capsys: pytest.CaptureFixture[str], base_url: str, *common: str) -> None:
        self.capsys = capsys
        self.common = ["--base-url", base_url, *common]

    def __call__(self, *args: str) -> Outcome:
        self.capsys.readouterr()
        code = manage_sessions.main([*self.common, *args])
        captured = self.capsys.readouterr()
        return Outcome(int(code), captured.out, captured.err)

    def json(self, *args: str) -> Any:
        outcome = self(*args, "--json")
        assert outcome.code == 0, outcome.err
        return outcome.json()

    def new_session(self, owner_flag: str = "--agent-id", owner: str = "assistant", **extra: str) -> str:
        """Create a fresh session with a unique id and return the id."""
        session_id = f"t-{uuid.uuid4().hex[:12]}"
        args = ["--create", owner_flag, owner, "--session-id", session_id]
        for flag, value in extra.items():
            args += [f"--{flag.replace('_', '-')}", value]
        self.json(*args)
        return session_id


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Call main() in-process; return its exit code, stdout and stderr."""
    capsys.readouterr()
    code = manage_sessions.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def unique(prefix: str) -> str:
    """A unique name, so tests never collide on the shared server."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def drain_terminal(main_fd: int, wait: float = 10.0) -> bytes:
    """Everything written to a pseudo-terminal until it closes (or stays quiet for `wait` seconds)."""
    output = b""
    while select.select([main_fd], [], [], wait)[0]:
        try:
            chunk = os.read(main_fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    os.close(main_fd)
    return output


# One way to ask for each action, offline (the ids are never looked up before a refusal).
ACTION_ARGV = {
    "list": [],
    "inspect": ["--session-id", "s-1"],
    "runs": ["--session-id", "s-1", "--show-runs"],
    "run": ["--session-id", "s-1", "--run-id", "r-1"],
    "create": ["--create", "--agent-id", "assistant"],
    "rename": ["--session-id", "s-1", "--rename", "x"],
    "update": ["--session-id", "s-1", "--update", "--metadata", "{}"],
    "delete": ["--session-id", "s-1", "--delete"],
    "clear": ["--session-id", "s-1", "--clear"],
    "export": ["--session-id", "s-1", "--export", "x.json"],
    "restore": ["--restore", "x.json"],
    "chat": ["--agent-id", "assistant", "--chat", "hi"],
    "fork": ["--session-id", "s-1", "--fork"],
    "compact": ["--session-id", "s-1", "--compact"],
}
