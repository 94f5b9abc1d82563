"""Start-up: what `--help` leaves out, so it stays within 2x of an empty `uv run` script (issue 23)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "manage_sessions.py"
# Each costs --help 1-2 ms (benchmarks/RESULTS.md, "Start-up, per module"); none is needed to print it.
NOT_FOR_HELP = ("typing", "json", "urllib", "agno", "httpx", "rich", "asyncio")


def modules_after(*arguments: str) -> set[str]:
    """The top-level modules a run of the script imported, from Python's own -X importtime report."""
    command = [sys.executable, "-X", "importtime", str(SCRIPT), *arguments]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=60)
    lines = [line for line in completed.stderr.splitlines() if line.startswith("import time:") and "|" in line]
    return {line.rsplit("|", 1)[1].strip().split(".")[0] for line in lines}


@pytest.mark.parametrize("arguments", [("--help",), ("--limit", "0")], ids=["help", "usage-error"])
def test_help_and_usage_errors_import_nothing_they_do_not_need(arguments: tuple[str, ...]) -> None:
    loaded = modules_after(*arguments)
    assert "argparse" in loaded  # the run really parsed
    assert sorted(loaded & set(NOT_FOR_HELP)) == []
