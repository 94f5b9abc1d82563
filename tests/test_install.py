"""The two ways to install: `npx skills add` for agents, `uv tool install` for people who run AgentOS.

Each installs from this checkout, as a new user would, into a temporary project or tool folder
(HOME and XDG_* under tmp_path; uv's and npm's download caches shared), then runs what it
installed against a real local AgentOS.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import NamedTuple

import pytest
from agentos_sessions import cli
from conftest import ROOT, AgentOSServer

# Pinned: it runs on Debian 12's Node 18 and on Node 20, where 1.5.20 and later need Node 22.
SKILLS_INSTALLER = "skills@1.4.5"
SKILL_NAME = "agentos-api-sessions"
CLI_SCRIPT = ROOT / "scripts" / "manage_sessions.py"
README = ROOT / "README.md"
INSTALL_TIMEOUT = 600
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
# A seeded session of the local AgentOS, and the only one researcher has for bob.
SEEDED_ID, SEEDED_NAME = "seed-00001", "Research Chat 1"
BOB_RESEARCH = ["--agent-id", "researcher", "--user-id", "bob@example.com"]

# One database is enough to show an installed copy works; the CLI suites cover both.
on_sqlite = pytest.mark.parametrize("agentos", ["sqlite"], indirect=True)


def user_uv_cache() -> str:
    """uv's cache as the caller's environment sets it, so installs reuse what is downloaded."""
    shown = subprocess.run(["uv", "cache", "dir"], capture_output=True, text=True, timeout=60, check=True)
    return shown.stdout.strip()


def fresh_user_environment(home: Path) -> dict[str, str]:
    """A new user's environment: their own HOME and XDG folders, no AgentOS settings, no PYTHONPATH."""
    skipped = ("AGENTOS_URL", "AGENTOS_SECURITY_KEY", "OS_SECURITY_KEY", "PYTHONPATH", "VIRTUAL_ENV")
    env = {name: value for name, value in os.environ.items() if name not in skipped}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        UV_CACHE_DIR=user_uv_cache(),
        # This interpreter: uv finds no Python of its own under the new HOME and must not download one.
        UV_PYTHON=sys.executable,
        NPM_CONFIG_CACHE=os.environ.get("NPM_CONFIG_CACHE") or str(Path.home() / ".npm"),
        # The caller's npm settings (registry, proxy, CA) still apply with HOME elsewhere.
        NPM_CONFIG_USERCONFIG=os.environ.get("NPM_CONFIG_USERCONFIG") or str(Path.home() / ".npmrc"),
        NPM_CONFIG_UPDATE_NOTIFIER="false",
        # The skills installer reports each install to its authors unless told not to.
        DO_NOT_TRACK="1",
        COLUMNS="100",
    )
    return env


def run(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=cwd, stdin=subprocess.DEVNULL, timeout=INSTALL_TIMEOUT
    )


def require_npx() -> str:
    """npx's path; skipped locally without Node.js, required when CI=true."""
    npx = shutil.which("npx")
    if npx is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but npx (Node.js) is missing; .ci/run installs Debian's nodejs and npm")
        pytest.skip("npx (Node.js) is not installed: the skills installer runs on it")
    return npx


def session_ids(listing: str) -> list[str]:
    """The ids in a `--json` listing."""
    return [session["session_id"] for session in json.loads(listing)["data"]]


# Agents: the skills installer


@pytest.mark.slow
@on_sqlite
def test_skills_installer_copies_the_skill_and_its_script_runs(agentos: AgentOSServer, tmp_path: Path) -> None:
    npx = require_npx()
    env = fresh_user_environment(tmp_path / "home")
    project = tmp_path / "project"
    project.mkdir()
    add = [npx, "--yes", SKILLS_INSTALLER, "add", str(ROOT), "--copy", "--agent", "claude-code", "--yes"]
    installed = run(add, env, project)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    skill_dir = project / ".claude" / "skills" / SKILL_NAME
    assert not skill_dir.is_symlink()
    assert (skill_dir / "SKILL.md").read_text() == (ROOT / "SKILL.md").read_text()
    assert (skill_dir / "scripts" / "agentos_sessions" / "cli.py").is_file()
    script = skill_dir / "scripts" / "manage_sessions.py"
    argv = ["--base-url", agentos.url, "--session-id", SEEDED_ID, "--json"]
    shown = run([sys.executable, str(script), *argv], env, project)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["session_name"] == SEEDED_NAME


# People who operate AgentOS: the `agentos-sessions` command


def test_console_command_is_the_cli_with_the_scripts_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {cli.COMMAND_NAME: "agentos_sessions.cli:command_main"}
    header = re.search(r"(?ms)^# /// script$(.*?)^# ///$", CLI_SCRIPT.read_text())
    assert header is not None
    inline = tomllib.loads("\n".join(line.removeprefix("#").removeprefix(" ") for line in header[1].splitlines()))
    assert sorted(project["dependencies"]) == sorted(inline["dependencies"])  # the client only: no database drivers


def test_console_entry_names_the_command_in_help(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setattr(sys, "argv", ["/somewhere/bin/agentos-sessions", "--help"])
    with pytest.raises(SystemExit) as exited:
        cli.command_main()
    shown = capsys.readouterr().out
    assert exited.value.code == 0
    assert shown.startswith("usage: agentos-sessions [-h] ")
    assert "  agentos-sessions --session-id abc-123 --delete\n" in shown and "manage_sessions.py" not in shown
    assert set(FLAG.findall(shown)) == set(FLAG.findall(cli.build_parser().format_help()))


def test_script_help_still_names_the_script(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    shown = capsys.readouterr().out
    # The command's name nowhere as a command; the backup folder's path may hold the same words.
    assert shown.startswith("usage: manage_sessions.py [-h] ") and not re.search(r"(^|\s)agentos-sessions\s", shown)


class Installed(NamedTuple):
    """Where `uv tool install` put the command: an environment with it on PATH, and a work folder."""

    env: dict[str, str]
    cwd: Path


@pytest.fixture(scope="module")
def installed_command(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """`uv tool install` of this checkout into a temporary tool folder, once for this module."""
    tmp = tmp_path_factory.mktemp("uv-tool")
    env = fresh_user_environment(tmp / "home")
    env.update(UV_TOOL_DIR=str(tmp / "tools"), UV_TOOL_BIN_DIR=str(tmp / "bin"))
    installed = run(["uv", "tool", "install", str(ROOT)], env, tmp)
    assert installed.returncode == 0, installed.stderr
    assert (tmp / "bin" / cli.COMMAND_NAME).is_file(), installed.stderr
    env["PATH"] = f"{tmp / 'bin'}{os.pathsep}{env['PATH']}"
    return Installed(env, tmp)


def run_both(argv: list[str], installed: Installed) -> tuple[subprocess.CompletedProcess[str], ...]:
    """The installed command and the skill's script, run with the same arguments."""
    command = run([cli.COMMAND_NAME, *argv], installed.env, installed.cwd)
    return command, run([sys.executable, str(CLI_SCRIPT), *argv], installed.env, installed.cwd)


@pytest.mark.slow
@on_sqlite
def test_installed_command_lists_sessions_like_the_script(agentos: AgentOSServer, installed_command: Installed) -> None:
    command, script = run_both(["--base-url", agentos.url, *BOB_RESEARCH, "--json"], installed_command)
    assert command.returncode == script.returncode == 0, command.stderr + script.stderr
    assert [i for i in session_ids(command.stdout) if i.startswith("seed-")] == ["seed-00006"]
    assert command.stdout == script.stdout


@pytest.mark.slow
@on_sqlite
@pytest.mark.parametrize(
    ("argv", "exit_code"),
    [
        (["--session-id", SEEDED_ID], 0),
        (["--session-id", "no-such-session", "--json"], 3),
        (["--limit", "0"], 2),
    ],
    ids=["inspect", "not-found", "bad-flag"],
)
def test_installed_command_exits_and_prints_like_the_script(
    argv: list[str], exit_code: int, agentos: AgentOSServer, installed_command: Installed
) -> None:
    command, script = run_both(["--base-url", agentos.url, *argv], installed_command)
    assert (command.returncode, command.stdout, command.stderr) == (script.returncode, script.stdout, script.stderr)
    assert command.returncode == exit_code, command.stderr
    assert (SEEDED_NAME in command.stdout) == (exit_code == 0)


def readme_command_lines() -> list[str]:
    """The `agentos-sessions ...` lines of README.md's code blocks."""
    return re.findall(rf"(?m)^{re.escape(cli.COMMAND_NAME)} .*$", README.read_text())


@pytest.mark.slow
@on_sqlite
def test_readme_commands_for_the_installed_command_run(agentos: AgentOSServer, installed_command: Installed) -> None:
    lines = readme_command_lines()
    assert lines and "uv tool install ." in README.read_text()
    for line in lines:
        argv = [agentos.url if word == "http://localhost:7777" else word for word in shlex.split(line)]
        shown = run([*argv, "--json"], installed_command.env, installed_command.cwd)
        assert shown.returncode == 0, (line, shown.stderr)
        assert json.loads(shown.stdout)["data"], line
