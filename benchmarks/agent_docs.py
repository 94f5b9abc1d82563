"""What an agent reads before its first call: SKILL.md and `--help` at 80 columns (issue 21).

Measured for the working tree and for the skill at earlier commits, which `git archive` unpacks
into a temporary folder; `--help` runs with the benchmark's Python, so no uv messages count.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

from bench_cli import PROCESS_TIMEOUT, ROOT, BenchError, child_env

# main just before issue 21: SKILL.md and --help as the two agents of the issue read them.
BEFORE_ISSUE_21 = "1f0bdd2"
DOCS_TARGET = 14_000
HELP_COLUMNS = "80"


@dataclass(frozen=True)
class Documentation:
    """The characters of SKILL.md and of `--help` for one version of the skill."""

    version: str
    skill: int
    help: int

    @property
    def total(self) -> int:
        """Everything read before the first call."""
        return self.skill + self.help


def help_text(script: Path) -> str:
    """`manage_sessions.py --help` as a shell 80 columns wide prints it."""
    completed = subprocess.run(
        [sys.executable, str(script), "--help"],
        capture_output=True,
        text=True,
        env={**child_env(), "COLUMNS": HELP_COLUMNS},
        timeout=PROCESS_TIMEOUT,
    )
    if completed.returncode != 0:
        raise BenchError(f"{script} --help exited {completed.returncode}: {completed.stderr[-500:]}")
    return completed.stdout


def documentation_of(version: str, skill_dir: Path) -> Documentation:
    """SKILL.md and --help of the skill in a folder."""
    script = skill_dir / "scripts" / "manage_sessions.py"
    return Documentation(version, len((skill_dir / "SKILL.md").read_text()), len(help_text(script)))


def documentation_at(commit: str, workdir: Path) -> Documentation:
    """SKILL.md and --help of the skill at a commit."""
    archive = subprocess.run(["git", "archive", commit, "SKILL.md", "scripts"], cwd=ROOT, capture_output=True)
    if archive.returncode != 0:
        raise BenchError(
            f"cannot read the skill at {commit} ({archive.stderr.decode(errors='replace').strip()}); "
            "fetch the history (git fetch --unshallow)"
        )
    target = workdir / f"skill-{commit}"
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as unpacked:
        unpacked.extractall(target, filter="data")
    return documentation_of(commit, target)


def measure_documentation(workdir: Path, before_commit: str) -> list[Documentation]:
    """The requests' 'before' version, main before issue 21, and the working tree."""
    earlier = [documentation_at(commit, workdir) for commit in dict.fromkeys((before_commit, BEFORE_ISSUE_21))]
    return [*earlier, documentation_of("working tree", ROOT)]


def format_documentation(measured: list[Documentation]) -> str:
    """An aligned markdown table, one row per version."""
    header = ("documentation read before the first call", "SKILL.md", "--help (80 columns)", "total")
    rows = [header] + [(d.version, str(d.skill), str(d.help), str(d.total)) for d in measured]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |" for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def documentation_verdict(measured: list[Documentation]) -> str:
    """Issue 21's target for the working tree: at most DOCS_TARGET characters before the first call."""
    now = measured[-1]
    outcome = "pass" if now.total <= DOCS_TARGET else "FAIL"
    return (
        f"Target: at most {DOCS_TARGET:,} characters of documentation before the first call: {outcome} "
        f"({now.total:,}: SKILL.md {now.skill:,} + --help {now.help:,})."
    )
