"""The documentation is true and short: SKILL.md, README.md and the references.

Every `uv run scripts/manage_sessions.py ...` line of SKILL.md, README.md and the references
runs against a real AgentOS (in-process, through `main(argv)`) and its effect is checked; every
Python example of references/api-patterns.md runs in a subprocess and prints exactly its
documented output. SKILL.md and --help stay within what an agent reads in a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from agentos_sessions import arguments, cli, model
from agentos_sessions.errors import ExitCode
from agno.skills import LocalSkills, Skills, validate_metadata, validate_skill_directory
from agno.skills.validator import ALLOWED_FIELDS
from conftest import ROOT, AgentOSServer

SKILL = ROOT / "SKILL.md"
README = ROOT / "README.md"
REFERENCE = ROOT / "references" / "api-patterns.md"
COMMANDS_REFERENCE = ROOT / "references" / "commands.md"
REFERENCES = sorted((ROOT / "references").glob("*.md"))
# Written by hand; references/answers.md is generated from the contract and checked by test_contract.py.
HAND_WRITTEN_REFERENCES = [path for path in REFERENCES if path.name != "answers.md"]
CLI_SCRIPT = ROOT / "scripts" / "manage_sessions.py"
SERVER_SCRIPT = ROOT / "scripts" / "local_agentos.py"
CLI_PREFIX = "uv run scripts/manage_sessions.py"
DOC_URL = "http://localhost:7777"
SKILL_NAME = "agentos-api-sessions"
CONVERSATION = ("My name is Alice.", "What's my name?")
EXAMPLE_OWNER = "alice@example.com"
# What an agent reads before its first call (issue 21): SKILL.md, and --help at 80 columns.
MAX_SKILL_CHARACTERS = 8_000
MAX_HELP_CHARACTERS = 6_000
MAX_DOCUMENTATION_CHARACTERS = 14_000  # both together: benchmarks/RESULTS-agent-requests.md
HELP_COLUMNS = "80"

# The commands of the seed skill this one grew from: agents were taught them, so they stay.
SEED_COMMANDS = [
    f"{CLI_PREFIX} --base-url {DOC_URL}",
    f"{CLI_PREFIX} --base-url {DOC_URL} --agent-id researcher",
    f"{CLI_PREFIX} --base-url {DOC_URL} --user-id alice@example.com",
    f"{CLI_PREFIX} --base-url {DOC_URL} --session-id abc-123",
    f"{CLI_PREFIX} --base-url {DOC_URL} --session-id abc-123 --show-runs",
    f'{CLI_PREFIX} --base-url {DOC_URL} --create --agent-id my-agent --user-id alice --name "Research Chat"',
    f'{CLI_PREFIX} --base-url {DOC_URL} --session-id abc-123 --rename "New Name"',
    f"{CLI_PREFIX} --base-url {DOC_URL} --session-id abc-123 --delete",
    f"{CLI_PREFIX} --help",
]
TRIGGER_PHRASES = ["find me all sessions from the researcher agent", "get the latest runs from session X"]
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


# Documented commands


@dataclass(frozen=True)
class DocCommand:
    """One documented command line: its arguments and the exit code the docs promise."""

    source: str
    line: str
    argv: tuple[str, ...]
    exit_code: int

    def __str__(self) -> str:
        return f"{self.source}: {self.line}"


def documented_commands(path: Path) -> list[DocCommand]:
    """Every `uv run scripts/manage_sessions.py ...` in a file, in code blocks or inline code."""
    text = path.read_text().replace("\\\n", " ")
    commands = []
    for match in re.finditer(re.escape(CLI_PREFIX) + r"[^`\n]*", text):
        line = match.group(0).strip()
        promised = re.search(r"\s#\s*exit (\d+)", line)
        argv = shlex.split(line, comments=True)[len(CLI_PREFIX.split()) :]
        commands.append(DocCommand(path.name, line, tuple(argv), int(promised.group(1)) if promised else 0))
    return commands


SKILL_COMMANDS = documented_commands(SKILL)
README_COMMANDS = documented_commands(README)
# references/database.md's commands name a server's own database file, which these tests' servers keep
# elsewhere: tests/test_database.py runs --db against real databases.
REFERENCE_COMMANDS = [
    command for path in REFERENCES if path.name != "database.md" for command in documented_commands(path)
]


# The server, seen through plain HTTP


def api(server: AgentOSServer, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{server.url}{path}", headers=server.auth_headers(), timeout=30, **kwargs)


def all_sessions(server: AgentOSServer) -> dict[str, dict[str, Any]]:
    response = api(server, "GET", "/sessions", params={"limit": 100_000})
    response.raise_for_status()
    return {session["session_id"]: session for session in response.json()["data"]}


def session_detail(server: AgentOSServer, session_id: str) -> dict[str, Any] | None:
    response = api(server, "GET", f"/sessions/{session_id}")
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return response.json()


def session_runs(server: AgentOSServer, session_id: str) -> list[dict[str, Any]]:
    response = api(server, "GET", f"/sessions/{session_id}/runs")
    response.raise_for_status()
    return response.json()


def create_session(server: AgentOSServer, session_id: str, agent_id: str, user_id: str, name: str) -> None:
    body = {"session_id": session_id, "agent_id": agent_id, "user_id": user_id, "session_name": name}
    api(server, "POST", "/sessions", params={"type": "agent"}, json=body).raise_for_status()


def run_agent(server: AgentOSServer, session_id: str, user_id: str, message: str) -> None:
    data = {"message": message, "session_id": session_id, "user_id": user_id, "stream": "false"}
    api(server, "POST", "/agents/assistant/runs", data=data).raise_for_status()


def delete_sessions(server: AgentOSServer, sessions: Iterable[dict[str, Any]]) -> None:
    sessions = list(sessions)
    if sessions:
        body = {
            "session_ids": [session["session_id"] for session in sessions],
            "session_types": [session["session_type"] for session in sessions],
        }
        api(server, "DELETE", "/sessions", json=body).raise_for_status()


def fingerprint(sessions: dict[str, dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    """What must stay the same for sessions a command should not touch."""
    keys = ("session_name", "user_id", "updated_at", "agent_id", "team_id", "workflow_id")
    return {session_id: tuple(session.get(key) for key in keys) for session_id, session in sessions.items()}


def remove_sessions_created_since(server: AgentOSServer, baseline: dict[str, dict[str, Any]]) -> None:
    delete_sessions(server, [s for s in all_sessions(server).values() if s["session_id"] not in baseline])


@dataclass
class Example:
    """Real sessions standing in for the placeholders of the docs (abc-123, def-456, r-1, bob)."""

    session_id: str
    other_session_id: str
    run_id: str
    user_id: str

    def replacements(self, url: str) -> dict[str, str]:
        return {
            DOC_URL: url,
            "abc-123": self.session_id,
            "def-456": self.other_session_id,
            "r-1": self.run_id,
            "bob": self.user_id,
        }


def create_example(server: AgentOSServer) -> Example:
    """A session with a two-message conversation, a second session, and a user with two sessions."""
    tag = uuid.uuid4().hex[:8]
    first, second, user = f"docs-{tag}-a", f"docs-{tag}-b", f"docs-bob-{tag}@example.com"
    create_session(server, first, "assistant", EXAMPLE_OWNER, "Docs example")
    for message in CONVERSATION:
        run_agent(server, first, EXAMPLE_OWNER, message)
    create_session(server, second, "assistant", EXAMPLE_OWNER, "Docs example 2")
    for number in (1, 2):
        create_session(server, f"docs-{tag}-bob-{number}", "researcher", user, f"Bob's notes {number}")
    return Example(first, second, session_runs(server, first)[0]["run_id"], user)


# Running a documented command and checking its documented result


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> Outcome:
    """Run the CLI in-process, as `uv run scripts/manage_sessions.py ARGV` would."""
    capsys.readouterr()
    try:
        code = cli.main(list(argv))
    except SystemExit as exit_:  # --help
        code = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()
    return Outcome(int(code), out, err)


@dataclass
class Run:
    """One documented command after it ran: what it was, what it did, what was there before."""

    command: DocCommand
    server: AgentOSServer
    argv: list[str]
    args: argparse.Namespace
    action: str
    outcome: Outcome
    before: dict[str, dict[str, Any]]
    runs_before: dict[str, int]
    workdir: Path
    capsys: pytest.CaptureFixture[str] = field(repr=False)

    def describe(self) -> str:
        return (
            f"{self.command}\nargv: {self.argv}\nexit {self.outcome.exit_code}\n"
            f"stdout:\n{self.outcome.stdout[-3000:]}\nstderr:\n{self.outcome.stderr[-3000:]}"
        )

    def json_view(self) -> Any:
        """The command's result as JSON: its own stdout, or a re-run with --json (read-only actions)."""
        if self.args.json:
            return json.loads(self.outcome.stdout)
        assert (self.action in READ_ONLY_ACTIONS and (self.action != "delete" or self.args.dry_run)) or (
            self.action in ("update", "clear") and self.args.dry_run
        ), self.describe()
        again = run_cli([*self.argv, "--json"], self.capsys)
        assert again.exit_code == 0, again
        return json.loads(again.stdout)

    def session_id(self) -> str:
        if self.args.session_id:
            return self.args.session_id[0]
        named = [sid for sid, s in self.before.items() if s.get("session_name") == self.args.session_name[0]]
        assert len(named) == 1, self.describe()
        return named[0]

    def is_single(self) -> bool:
        """One session named by one id or one name: the single-session output."""
        return len(self.args.session_id or []) + len(self.args.session_name or []) == 1

    def chosen(self) -> list[str]:
        """The ids of the sessions the selection chose before the command ran, by the documented rules."""
        named = set(self.args.session_id or []) | {
            sid for sid, s in self.before.items() if s.get("session_name") in (self.args.session_name or [])
        }
        pool = named if named or self.args.session_id or self.args.session_name else set(self.before)
        return sorted(sid for sid in pool if sid in self.before and self.matches(self.before[sid]))

    def matches(self, session: dict[str, Any]) -> bool:
        runs = None
        if self.args.min_runs is not None or self.args.max_runs is not None or self.args.search:
            runs = session_runs(self.server, session["session_id"]) if self.action != "list" else None
        return matches_filters(session, self.args, runs)

    def after(self) -> dict[str, dict[str, Any]]:
        return all_sessions(self.server)


READ_ONLY_ACTIONS = ("list", "inspect", "runs", "run", "delete")  # delete only with --dry-run


def substitute(argv: Iterable[str], replacements: dict[str, str]) -> list[str]:
    return [replacements.get(token, token) for token in argv]


def execute(
    server: AgentOSServer, command: DocCommand, argv: list[str], capsys: pytest.CaptureFixture[str], workdir: Path
) -> Run:
    """Run one command with a snapshot of the server before it."""
    args = cli.build_parser().parse_args(argv) if "--help" not in argv else argparse.Namespace(json=False)
    action = cli.choose_action(args) if "--help" not in argv else "help"
    before = all_sessions(server)
    names = getattr(args, "session_name", None) or []
    named = (getattr(args, "session_id", None) or []) + [s for s, d in before.items() if d.get("session_name") in names]
    runs_before = {sid: len(session_runs(server, sid)) for sid in named if sid in before}
    outcome = run_cli(argv, capsys)
    return Run(command, server, argv, args, action, outcome, before, runs_before, workdir, capsys)


def matches_filters(
    session: dict[str, Any], args: argparse.Namespace, runs: list[dict[str, Any]] | None = None
) -> bool:
    """The documented meaning of the selection flags (run filters: from `runs`, or the listed run_count)."""
    owner_ok = all(
        session.get(f"{kind}_id") == getattr(args, f"{kind}_id")
        for kind in ("agent", "team", "workflow")
        if getattr(args, f"{kind}_id")
    )
    user_ok = args.user_id is None or session.get("user_id") == args.user_id
    type_ok = args.type is None or session.get("session_type") == args.type
    name_ok = args.name is None or args.name.casefold() in (session.get("session_name") or "").casefold()
    created, updated = parse_time(session["created_at"]), parse_time(session["updated_at"])
    times_ok = (args.before is None or created < args.before) and (args.after is None or created >= args.after)
    times_ok = times_ok and (args.updated_before is None or updated < args.updated_before)
    times_ok = times_ok and (args.updated_after is None or updated >= args.updated_after)
    count = len(runs) if runs is not None else session.get("run_count")
    runs_ok = count is None or (
        (args.min_runs is None or count >= args.min_runs) and (args.max_runs is None or count <= args.max_runs)
    )
    texts = [str(v) for run in runs or [] for v in (run.get("run_input"), run.get("content"))]
    search_ok = not args.search or runs is None or any(args.search.casefold() in t.casefold() for t in texts)
    where_ok = all(where_holds(session, *clause) for clause in getattr(args, "where", None) or [])
    return owner_ok and user_ok and type_ok and name_ok and times_ok and runs_ok and search_ok and where_ok


def where_holds(session: dict[str, Any], field: str, key: str, has_value: bool, value: Any) -> bool:
    """The documented meaning of --where FIELD.KEY[=VALUE]."""
    container = session.get(field)
    return isinstance(container, dict) and key in container and (not has_value or container[key] == value)


def parse_time(value: str | int) -> int:
    if isinstance(value, int):
        return value
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


def assert_unchanged(run: Run) -> None:
    assert fingerprint(run.after()) == fingerprint(run.before), f"the command changed sessions\n{run.describe()}"


def check_help(run: Run) -> None:
    assert run.outcome.stdout.startswith("usage:") and "--session-id" in run.outcome.stdout, run.describe()


def check_list(run: Run) -> None:
    document = run.json_view()
    if run.args.count:
        expected = [s for s in run.before.values() if matches_filters(s, run.args)]
        assert document["count"] == len(expected) > 0, run.describe()
        counts = [group["count"] if run.args.runs else group for group in document.get("groups", {}).values()]
        if run.args.group_by:
            assert sum(counts) == len(expected), run.describe()
            assert counts == sorted(counts, reverse=True)
        if run.args.runs:
            runs = sum(len(session_runs(run.server, s["session_id"])) for s in expected)
            assert document["runs"] == runs > 0, run.describe()
        return assert_unchanged(run)
    sessions, meta = document["data"], document["meta"]
    assert sessions, f"a documented listing shows sessions\n{run.describe()}"
    assert all(matches_filters(session, run.args) for session in sessions if "created_at" in session), run.describe()
    wanted = run.args.fields or ("session_id", "session_type", "created_at")
    assert all(set(wanted) >= set(s) if run.args.fields else set(wanted) <= set(s) for s in sessions), run.describe()
    if run.args.session_id or run.args.session_name:
        assert sorted(s["session_id"] for s in sessions) == run.chosen(), run.describe()
        return assert_unchanged(run)
    if run.args.all:
        assert meta["total_count"] == len(sessions), run.describe()
    else:
        assert meta["page"] == (run.args.page or 1) and len(sessions) <= (run.args.limit or 20), run.describe()
    assert_unchanged(run)


def check_inspect(run: Run) -> None:
    document = run.json_view()
    assert document["session_id"] == run.session_id() and document["run_count"] == run.runs_before[run.session_id()]
    assert run.session_id() in run.outcome.stdout, run.describe()
    assert_unchanged(run)


def check_runs(run: Run) -> None:
    if not run.is_single():
        return check_runs_of_set(run)
    runs = run.json_view()
    assert runs and all(item["run_id"] for item in runs), run.describe()
    if run.args.status:
        assert {item["status"] for item in runs} <= set(run.args.status), run.describe()
    if not run.args.json:
        assert f"Runs of {run.session_id()}" in run.outcome.stdout, run.describe()
    assert_unchanged(run)


def check_runs_of_set(run: Run) -> None:
    """--show-runs over a set: each chosen session with its runs, at most --last/--first of them."""
    document = run.json_view()
    assert sorted(entry["session_id"] for entry in document["data"]) == run.chosen(), run.describe()
    assert document["meta"]["total_count"] == len(document["data"]) > 0, run.describe()
    most = run.args.last or run.args.first
    for entry in document["data"]:
        everything = session_runs(run.server, entry["session_id"])
        kept = everything[-most:] if run.args.last else everything[:most] if most else everything
        assert [r["run_id"] for r in entry["runs"]] == [r["run_id"] for r in kept], run.describe()
    assert_unchanged(run)


def check_run(run: Run) -> None:
    document = run.json_view()
    assert document["run_id"] == run.args.run_id and document["messages"], run.describe()
    assert_unchanged(run)


def check_create(run: Run) -> None:
    created = [session for session_id, session in run.after().items() if session_id not in run.before]
    assert len(created) == 1, run.describe()
    detail = session_detail(run.server, created[0]["session_id"])
    assert detail is not None and detail["session_name"] == run.args.name, run.describe()
    owner = next(kind for kind in ("agent", "team", "workflow") if getattr(run.args, f"{kind}_id"))
    assert detail[f"{owner}_id"] == getattr(run.args, f"{owner}_id") and detail["user_id"] == run.args.user_id
    assert run.args.session_id is None or detail["session_id"] == run.session_id()
    assert run.args.state is None or detail["session_state"] == run.args.state, run.describe()
    assert run.args.metadata is None or detail["metadata"] == run.args.metadata, run.describe()


def check_rename(run: Run) -> None:
    detail = session_detail(run.server, run.session_id())
    assert detail is not None and detail["session_name"] == run.args.rename, run.describe()
    assert run.args.rename in run.outcome.stdout, run.describe()


def check_update(run: Run) -> None:
    if run.args.dry_run:
        preview = run.json_view()["data"]
        assert sorted(row["session_id"] for row in preview) == run.chosen(), run.describe()
        assert all(run.args.metadata.items() <= row["metadata"].items() for row in preview if run.args.metadata)
        return assert_unchanged(run)
    if not run.is_single():
        outcome = run.json_view()
        updated = [item["session_id"] for item in outcome["updated"]]
        assert sorted(updated) == run.chosen() and outcome["not_found"] == [], run.describe()
        for session_id in updated:
            check_update_of(run, session_id)
        return None
    check_update_of(run, run.session_id())
    assert run.session_id() in run.outcome.stdout, run.describe()


def check_update_of(run: Run, session_id: str) -> None:
    detail = session_detail(run.server, session_id)
    assert detail is not None, run.describe()
    for flag, stored in (("state", "session_state"), ("metadata", "metadata")):
        given = getattr(run.args, flag)
        if given is not None and run.args.replace:
            assert detail[stored] == given, run.describe()
        elif given is not None:
            assert given.items() <= (detail[stored] or {}).items(), run.describe()
    if run.args.summary is not None:
        assert detail["session_summary"]["summary"] == run.args.summary, run.describe()


def check_delete(run: Run) -> None:
    if run.args.dry_run:
        assert_unchanged(run)
        assert all(matches_filters(session, run.args) for session in run.json_view()["data"]), run.describe()
    elif run.args.session_id:
        ids = run.args.session_id
        assert all(session_detail(run.server, session_id) is None for session_id in ids), run.describe()
        missing = [session_id for session_id in ids if session_id not in run.before]
        if run.args.json:
            outcome = json.loads(run.outcome.stdout)
            assert {key: outcome[key] for key in ("deleted", "not_found", "skipped", "refused")} == {
                "deleted": [i for i in ids if i in run.before],
                "skipped": [],
                "refused": [],
                "not_found": missing,
            }, run.describe()
        assert (run.outcome.exit_code == 3) == bool(missing), run.describe()
    elif run.outcome.exit_code == 0:
        after = run.after()
        assert not [s for s in after.values() if matches_filters(s, run.args)], run.describe()
        kept = {sid: s for sid, s in run.before.items() if not matches_filters(s, run.args)}
        assert fingerprint({sid: s for sid, s in after.items()}) == fingerprint(kept), run.describe()
    else:
        assert_unchanged(run)


def check_clear(run: Run) -> None:
    if not run.is_single():
        outcome = run.json_view()
        assert sorted(item["session_id"] for item in outcome["cleared"]) == run.chosen(), run.describe()
        assert outcome["not_found"] == [], run.describe()
        for session_id, backup in ((item["session_id"], item["backup"]) for item in outcome["cleared"]):
            assert session_runs(run.server, session_id) == [], run.describe()
            saved = json.loads((run.workdir / backup).read_text())
            assert saved["session"]["session_id"] == session_id, run.describe()
        return
    session_id = run.session_id()
    assert session_detail(run.server, session_id) is not None and session_runs(run.server, session_id) == []
    backups = list((run.workdir / (run.args.backup_dir or ".")).glob(f"agentos-backup-{session_id}-*.json"))
    assert len(backups) == 1, run.describe()
    backup = json.loads(backups[0].read_text())
    assert len(backup["runs"]) == run.runs_before[session_id] > 0, run.describe()
    if run.args.keep_copy:
        copies = [sid for sid in run.after() if sid not in run.before]
        assert copies == [backup["copy_session_id"]] and copies[0] in run.outcome.stdout, run.describe()
        assert len(session_runs(run.server, copies[0])) == len(backup["runs"]), run.describe()


def check_fork(run: Run) -> None:
    original = session_detail(run.server, run.session_id())
    copies = [sid for sid in run.after() if sid not in run.before]
    assert original is not None and len(copies) == 1, run.describe()
    copy = session_detail(run.server, copies[0])
    name = run.args.name or f"{original['session_name']} (fork)"
    assert copy is not None and copy["session_name"] == name and copy["user_id"] == original["user_id"]
    assert len(session_runs(run.server, copies[0])) == run.runs_before[run.session_id()] > 0, run.describe()
    assert fingerprint({sid: s for sid, s in run.after().items() if sid in run.before}) == fingerprint(run.before)


def check_export(run: Run) -> None:
    if run.args.export == "-":
        document = json.loads(run.outcome.stdout)
    else:
        document = json.loads((run.workdir / run.args.export).read_text())
    if not run.is_single():
        assert document["format"] == "agentos-sessions-export/1", run.describe()
        assert sorted(entry["session"]["session_id"] for entry in document["sessions"]) == run.chosen()
        return assert_unchanged(run)
    assert document["format"] == model.EXPORT_FORMAT and document["session"]["session_id"] == run.session_id()
    assert len(document["runs"]) == run.runs_before[run.session_id()] > 0, run.describe()
    assert_unchanged(run)


def check_restore(run: Run) -> None:
    saved = json.loads((run.workdir / run.args.restore).read_text())["session"]
    detail = session_detail(run.server, saved["session_id"])
    assert detail is not None and detail["session_name"] == saved["session_name"], run.describe()
    assert session_runs(run.server, saved["session_id"]) == [], run.describe()


def check_chat(run: Run) -> None:
    if run.args.json:
        reply = json.loads(run.outcome.stdout)
        session_id, content = reply["session_id"], reply["content"]
    else:
        content = run.outcome.stdout.strip()
        started = re.search(r"started session (\S+)", run.outcome.stderr)
        session_id = started.group(1) if started else run.session_id()
    runs = session_runs(run.server, session_id)
    assert content and len(runs) == run.runs_before.get(session_id, 0) + 1, run.describe()
    assert runs[-1]["run_input"] == run.args.chat and runs[-1]["content"] == content, run.describe()


CHECKS: dict[str, Callable[[Run], None]] = {
    "help": check_help,
    "list": check_list,
    "inspect": check_inspect,
    "runs": check_runs,
    "run": check_run,
    "create": check_create,
    "rename": check_rename,
    "update": check_update,
    "delete": check_delete,
    "clear": check_clear,
    "export": check_export,
    "restore": check_restore,
    "chat": check_chat,
    "fork": check_fork,
}


def check_documented_result(run: Run) -> None:
    """The promised exit code, clean output, and the action's documented effect."""
    assert run.outcome.exit_code == run.command.exit_code, run.describe()
    assert "Traceback" not in run.outcome.stderr, run.describe()
    if run.outcome.exit_code != 0 and run.args.json and not run.outcome.stdout:
        error = json.loads(run.outcome.stderr.strip().splitlines()[-1])
        assert error["exit_code"] == run.command.exit_code and error["error"] and error["hint"], run.describe()
    elif run.action != "help" and run.args.json:
        json.loads(run.outcome.stdout)
    if run.outcome.exit_code != 0 and run.action != "delete":
        assert_unchanged(run)
    else:
        CHECKS[run.action](run)


@pytest.fixture
def cli_env(agentos: AgentOSServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean environment for the CLI: AGENTOS_URL points at the test server, no key, a fresh cwd."""
    for name in ("AGENTOS_SECURITY_KEY", "OS_SECURITY_KEY", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AGENTOS_URL", agentos.url)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def prepare_restore(
    argv: list[str], example: Example, capsys: pytest.CaptureFixture[str], server: AgentOSServer
) -> None:
    """A documented --restore needs an export of a session that is gone since."""
    if "--restore" in argv and not Path(argv[argv.index("--restore") + 1]).exists():
        exported = run_cli(["--session-id", example.session_id, "--export", argv[argv.index("--restore") + 1]], capsys)
        assert exported.exit_code == 0, exported
        api(server, "DELETE", f"/sessions/{example.session_id}").raise_for_status()


@pytest.mark.parametrize(
    "command",
    [*SKILL_COMMANDS, *REFERENCE_COMMANDS],
    ids=[f"skill-{i:02d}" for i in range(len(SKILL_COMMANDS))]
    + [f"{c.source.removesuffix('.md')}-{i:02d}" for i, c in enumerate(REFERENCE_COMMANDS)],
)
def test_skill_command_runs_with_its_documented_result(
    command: DocCommand, agentos: AgentOSServer, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = all_sessions(agentos)
    example = create_example(agentos)
    try:
        argv = substitute(command.argv, example.replacements(agentos.url))
        prepare_restore(argv, example, capsys, agentos)
        check_documented_result(execute(agentos, command, argv, capsys, cli_env))
        assert fingerprint({k: v for k, v in all_sessions(agentos).items() if k in baseline}) == fingerprint(baseline)
    finally:
        remove_sessions_created_since(agentos, baseline)


def test_readme_commands_run_in_order_with_their_documented_results(
    agentos: AgentOSServer, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = all_sessions(agentos)
    demo = f"demo-{uuid.uuid4().hex[:8]}"
    try:
        for command in README_COMMANDS:
            argv = [token.replace("demo-1", demo) for token in substitute(command.argv, {DOC_URL: agentos.url})]
            check_documented_result(execute(agentos, command, argv, capsys, cli_env))
        assert fingerprint(all_sessions(agentos)) == fingerprint(baseline)
    finally:
        remove_sessions_created_since(agentos, baseline)


def test_skill_shows_every_action_and_readme_a_tour() -> None:
    assert len(SKILL_COMMANDS) >= 20 and len(README_COMMANDS) >= 10
    assert {
        cli.choose_action(cli.build_parser().parse_args(c.argv)) for c in SKILL_COMMANDS if "--help" not in c.argv
    } == set(cli.ACTIONS)


# SKILL.md as an Agent Skill


def frontmatter_and_body(path: Path) -> tuple[dict[str, Any], str]:
    match = re.match(r"^---\n(.*?)\n---\n(.*)$", path.read_text(), re.DOTALL)
    assert match, f"{path.name} must start with YAML frontmatter"
    return yaml.safe_load(match.group(1)), match.group(2)


def install_skill(target: Path) -> Path:
    """Copy the skill's files into a folder named like the skill, as an agent would install it."""
    skill_dir = target / SKILL_NAME
    skill_dir.mkdir()
    shutil.copy(SKILL, skill_dir / "SKILL.md")
    for folder in ("scripts", "references"):
        shutil.copytree(ROOT / folder, skill_dir / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return skill_dir


def test_agno_loads_the_skill_with_its_scripts_and_references(tmp_path: Path) -> None:
    skill_dir = install_skill(tmp_path)
    assert validate_skill_directory(skill_dir) == []
    skills = Skills(loaders=[LocalSkills(str(skill_dir))])
    skill = skills.get_skill(SKILL_NAME)
    assert skill is not None and skills.get_skill_names() == [SKILL_NAME]
    assert sorted(skill.scripts) == ["local_agentos.py", "manage_sessions.py"]  # the package folder is not a script
    assert sorted(skill.references) == sorted(path.name for path in REFERENCE.parent.iterdir())
    tools = {tool.name: tool.entrypoint for tool in skills.get_tools()}
    instructions = json.loads(tools["get_skill_instructions"](SKILL_NAME))
    assert instructions["instructions"] == frontmatter_and_body(SKILL)[1].strip()
    reference = json.loads(tools["get_skill_reference"](SKILL_NAME, "api-patterns.md"))
    assert reference["content"] == REFERENCE.read_text()
    script = json.loads(tools["get_skill_script"](SKILL_NAME, "manage_sessions.py"))
    assert script["content"] == CLI_SCRIPT.read_text()


def test_copied_skill_runs_by_absolute_path_from_another_directory(agentos: AgentOSServer, tmp_path: Path) -> None:
    (tmp_path / "skills").mkdir()
    script = install_skill(tmp_path / "skills") / "scripts" / "manage_sessions.py"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    completed = subprocess.run(
        [sys.executable, str(script), "--base-url", agentos.url, "--session-id", "seed-00001", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=elsewhere,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["session_name"] == "Research Chat 1"


def test_agno_skill_runtime_executes_the_script_through_its_shebang(agentos: AgentOSServer, tmp_path: Path) -> None:
    skills = Skills(loaders=[LocalSkills(str(install_skill(tmp_path)))])
    tools = {tool.name: tool.entrypoint for tool in skills.get_tools()}
    argv = ["--base-url", agentos.url, "--session-id", "seed-00001", "--json"]
    answer = json.loads(
        tools["get_skill_script"](SKILL_NAME, "manage_sessions.py", execute=True, args=argv, timeout=600)
    )
    assert answer.get("returncode") == 0, answer
    assert json.loads(answer["stdout"])["session_id"] == "seed-00001"


def test_skill_frontmatter_uses_only_portable_keys_within_limits() -> None:
    metadata, body = frontmatter_and_body(SKILL)
    assert set(metadata) <= ALLOWED_FIELDS
    assert validate_metadata(metadata) == []
    assert metadata["name"] == SKILL_NAME and metadata["license"] == "Apache-2.0"
    assert len(metadata["description"]) < 1024
    assert all(isinstance(value, str) for value in metadata.get("metadata", {}).values())
    assert len(body.splitlines()) < 500


def test_skill_description_says_when_to_use_it() -> None:
    description = " ".join(frontmatter_and_body(SKILL)[0]["description"].split())
    for phrase in TRIGGER_PHRASES:
        assert phrase in description
    assert "scripts/manage_sessions.py" in description


def test_skill_keeps_every_seed_command_on_one_line() -> None:
    lines = {command.line.split("  #")[0].strip() for command in SKILL_COMMANDS}
    assert [command for command in SEED_COMMANDS if command not in lines] == []


def test_paths_named_in_the_skill_exist() -> None:
    named = set(re.findall(r"\b(?:scripts|references)/[\w.-]+\.(?:py|md)\b", SKILL.read_text()))
    assert named and [path for path in sorted(named) if not (ROOT / path).is_file()] == []


# What an agent reads before its first call


def help_at(columns: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """--help as a shell of this width prints it (argparse wraps to $COLUMNS)."""
    monkeypatch.setenv("COLUMNS", columns)
    return cli.build_parser().format_help()


def test_skill_md_stays_within_its_size_limit() -> None:
    assert len(SKILL.read_text()) <= MAX_SKILL_CHARACTERS


def test_help_at_80_columns_stays_within_its_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = help_at(HELP_COLUMNS, monkeypatch)
    assert len(shown) <= MAX_HELP_CHARACTERS
    assert [line for line in shown.splitlines() if len(line) > int(HELP_COLUMNS)] == []


def test_what_an_agent_reads_before_its_first_call_stays_within_its_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(SKILL.read_text()) + len(help_at(HELP_COLUMNS, monkeypatch)) <= MAX_DOCUMENTATION_CHARACTERS


def test_skill_says_when_to_open_each_reference() -> None:
    section = SKILL.read_text().split("\n## References\n", 1)[1]
    lines = {
        path.name: [line for line in section.splitlines() if f"references/{path.name}`:" in line] for path in REFERENCES
    }
    assert {name: len(found) for name, found in lines.items()} == {path.name: 1 for path in REFERENCES}


def option_entries(shown: str) -> dict[str, str]:
    """Each option's entry in --help by its long flag, wrapped lines joined."""
    entries: dict[str, str] = {}
    flag = None
    for line in shown.splitlines():
        start = re.match(r"^  (?:-\w, )?(--[a-z][a-z0-9-]*)", line)
        if start:
            flag = start.group(1)
            entries[flag] = line
        elif flag and line.startswith(" " * 24):
            entries[flag] += " " + line.strip()
        else:
            flag = None
    return {flag: " ".join(text.split()) for flag, text in entries.items()}


def expected_defaults() -> dict[str, tuple[str, ...]]:
    """What --help must say each default is: the parser's own defaults and the constants the code uses."""
    parser_defaults = {action.dest: action.default for action in cli.build_parser()._actions}
    return {
        "--base-url": ("$AGENTOS_URL", cli.DEFAULT_BASE_URL),
        "--security-key": ("$AGENTOS_SECURITY_KEY", "$OS_SECURITY_KEY"),
        "--timeout": (f"{parser_defaults['timeout']:g}",),
        "--retries": (str(parser_defaults["retries"]),),
        "--limit": (str(model.PAGE_SIZE),),
        "--sort-by": (model.DEFAULT_SORT_BY,),
        "--sort-order": (model.DEFAULT_SORT_ORDER,),
        "--backup-dir": ("$AGENTOS_BACKUP_DIR", f"$XDG_STATE_HOME/{model.BACKUP_SUBFOLDER}"),
        "--db": ("$AGENTOS_DB_URL",),
    }


def test_every_default_in_help_is_the_one_the_code_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    entries = option_entries(help_at(HELP_COLUMNS, monkeypatch))
    with_default = {flag: text.split("default", 1)[1] for flag, text in entries.items() if "default" in text}
    expected = expected_defaults()
    assert sorted(with_default) == sorted(expected)
    for flag, values in expected.items():
        assert all(value in with_default[flag] for value in values), (flag, with_default[flag], values)


def test_choices_in_help_are_the_ones_the_code_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    entries = option_entries(help_at(HELP_COLUMNS, monkeypatch))
    listed = {
        "--sort-by": arguments.SORT_FIELDS,
        "--group-by": model.GROUP_FIELDS,
    }
    for flag, values in listed.items():
        assert re.search(r"(?<!, )" + re.escape(", ".join(values)) + r"(?![\w,])", entries[flag]), flag
    assert entries["--type"].startswith(f"--type {{{','.join(model.SESSION_TYPES)}}}")
    assert entries["--sort-order"].startswith(f"--sort-order {{{','.join(model.SORT_ORDERS)}}}")


def test_the_defaults_help_names_are_what_the_code_does(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from agentos_sessions.files import backup_dir
    from agentos_sessions.request import Request

    for name in ("AGENTOS_URL", "AGENTOS_SECURITY_KEY", "OS_SECURITY_KEY", "AGENTOS_BACKUP_DIR"):
        monkeypatch.delenv(name, raising=False)
    args = cli.build_parser().parse_args([])
    settings = cli.resolve_settings(args)
    assert (settings.base_url, settings.timeout, settings.retries) == (cli.DEFAULT_BASE_URL, args.timeout, args.retries)
    monkeypatch.setenv("OS_SECURITY_KEY", "server-key")
    assert cli.resolve_settings(args).security_key == "server-key"
    monkeypatch.setenv("AGENTOS_SECURITY_KEY", "agent-key")
    monkeypatch.setenv("AGENTOS_URL", "http://127.0.0.1:9")
    assert (cli.resolve_settings(args).security_key, cli.resolve_settings(args).base_url) == (
        "agent-key",
        "http://127.0.0.1:9",
    )
    assert Request(args, cli.build_selection(args, "list")).order() == {
        "sort_by": model.DEFAULT_SORT_BY,
        "sort_order": model.DEFAULT_SORT_ORDER,
    }
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert backup_dir(None) == tmp_path / "state" / model.BACKUP_SUBFOLDER
    monkeypatch.setenv("AGENTOS_BACKUP_DIR", str(tmp_path / "chosen"))
    assert backup_dir(None) == tmp_path / "chosen"
    monkeypatch.setenv("AGENTOS_DB_URL", "sqlite:///agentos.db")
    for action in ("restore", "clear"):
        chosen = cli.build_parser().parse_args([])
        cli.use_database(chosen, action)
        assert chosen.db == "sqlite:///agentos.db"


def test_a_listing_without_limit_or_sort_flags_pages_as_help_says(cli, agentos: AgentOSServer) -> None:
    page = cli.json()
    assert page["meta"]["limit"] == model.PAGE_SIZE and page["meta"]["page"] == 1
    listed = api(agentos, "GET", "/sessions", params={"limit": model.PAGE_SIZE, "sort_by": "created_at"}).json()
    assert [s["session_id"] for s in page["data"]] == [s["session_id"] for s in listed["data"]]


# Flags, exit codes and dependencies agree with the script


def cli_flags() -> set[str]:
    return set(FLAG.findall(cli.build_parser().format_help()))


def server_flags() -> set[str]:
    shown = subprocess.run(
        [sys.executable, str(SERVER_SCRIPT), "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    return set(FLAG.findall(shown.stdout))


def test_every_help_flag_is_documented_in_the_commands_reference() -> None:
    assert sorted(cli_flags() - set(FLAG.findall(COMMANDS_REFERENCE.read_text()))) == []


@pytest.mark.parametrize("path", [SKILL, README, *HAND_WRITTEN_REFERENCES], ids=lambda path: path.name)
def test_every_flag_in_the_docs_exists(path: Path) -> None:
    known_cli, known_server = cli_flags(), server_flags()
    unknown = []
    for line in path.read_text().splitlines():
        if re.search(r"bench_\w+\.py", line):
            continue  # a benchmark's own flags
        line = re.sub(r"uv run --no-project .*? python (?=scripts/)", "", line)  # uv's own options
        line = re.sub(r"uv run --with \S+ (?=scripts/)", "", line)
        known = known_server if "local_agentos.py" in line else known_cli
        unknown += [flag for flag in FLAG.findall(line) if flag not in known]
    assert unknown == []


@pytest.mark.parametrize("path", [SKILL, README], ids=lambda path: path.name)
def test_exit_code_tables_list_every_exit_code(path: Path) -> None:
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", path.read_text(), re.MULTILINE)}
    assert documented == {int(code) for code in ExitCode}


def script_metadata(path: Path) -> dict[str, Any]:
    """The PEP 723 `script` block of a file."""
    block = re.search(r"(?m)^# /// script$\s(?P<content>(^#(| .*)$\s)+)^# ///$", path.read_text())
    assert block, f"{path.name} has no PEP 723 block"
    content = "".join(line[2:] if line.startswith("# ") else line[1:] for line in block["content"].splitlines(True))
    return tomllib.loads(content)


def requirements(specs: Iterable[str]) -> dict[str, tuple[set[str], str]]:
    """Requirement strings by normalized name: (extras, version specifier)."""
    parsed = {}
    for spec in specs:
        match = re.fullmatch(r"\s*([A-Za-z0-9._-]+)\s*(?:\[([^\]]*)\])?\s*(.*?)\s*", spec)
        assert match, spec
        name = re.sub(r"[-_.]+", "-", match[1]).lower()
        parsed[name] = ({extra.strip() for extra in (match[2] or "").split(",") if extra.strip()}, match[3])
    return parsed


@pytest.mark.parametrize("script", [CLI_SCRIPT, SERVER_SCRIPT], ids=lambda path: path.name)
def test_script_dependencies_agree_with_pyproject(script: Path) -> None:
    """Same packages and versions; a script may need fewer extras than the project (the tests) installs."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project, dev = pyproject["project"], requirements(pyproject["dependency-groups"]["dev"])
    inline = script_metadata(script)
    wanted, installed = requirements(inline["dependencies"]), requirements(project["dependencies"])
    installed.update({name: dev[name] for name in installed.keys() & dev.keys()})  # the server's database extras
    assert wanted.keys() == installed.keys()
    for name, (extras, version) in wanted.items():
        assert version == installed[name][1] and extras <= installed[name][0], (name, wanted[name], installed[name])
    assert inline["requires-python"] == project["requires-python"]


# references/api-patterns.md


@dataclass(frozen=True)
class PythonExample:
    title: str
    code: str
    expected: str


def python_examples() -> list[PythonExample]:
    """Each ```python block with the "Output:" block after it, and the heading above it."""
    text = REFERENCE.read_text()
    examples = []
    pattern = r"```python\n(?P<code>.*?)```\s*\nOutput:\s*\n+```text\n(?P<output>.*?)```"
    for match in re.finditer(pattern, text, re.DOTALL):
        headings = re.findall(r"^## (.+)$", text[: match.start()], re.MULTILINE)
        examples.append(PythonExample(headings[-1], match["code"], match["output"]))
    return examples


EXAMPLES = python_examples()


@dataclass
class ExampleRun:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def example_runs(agentos: AgentOSServer, keyed_agentos: AgentOSServer, tmp_path_factory) -> list[ExampleRun]:
    """Run every example at once, each in its own interpreter; an example that reads the key gets the keyed server."""
    workdir = tmp_path_factory.mktemp("examples")
    processes = []
    for example in EXAMPLES:
        env = {k: v for k, v in os.environ.items() if k not in ("AGENTOS_SECURITY_KEY", "OS_SECURITY_KEY")}
        env["AGENTOS_URL"] = agentos.url
        if "AGENTOS_SECURITY_KEY" in example.code:
            env.update(AGENTOS_URL=keyed_agentos.url, AGENTOS_SECURITY_KEY=keyed_agentos.security_key or "")
        processes.append(
            subprocess.Popen(
                [sys.executable, "-c", example.code],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                cwd=workdir,
            )
        )
    runs = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=180)
        runs.append(ExampleRun(process.returncode, stdout, stderr))
    return runs


def test_every_python_block_has_a_documented_output() -> None:
    assert len(EXAMPLES) == REFERENCE.read_text().count("```python") >= 7


@pytest.mark.parametrize("index", range(len(EXAMPLES)), ids=[example.title for example in EXAMPLES])
def test_reference_example_prints_its_documented_output(index: int, example_runs: list[ExampleRun]) -> None:
    run, example = example_runs[index], EXAMPLES[index]
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == example.expected.strip(), run.stderr


def test_reference_examples_leave_no_sessions_behind(agentos: AgentOSServer, example_runs: list[ExampleRun]) -> None:
    assert [session_id for session_id in all_sessions(agentos) if session_id.startswith("docs-")] == []


def documented_endpoints() -> list[tuple[str, str, bool]]:
    """(method, path, exists) for each row of the reference's endpoint table."""
    rows = []
    for line in REFERENCE.read_text().splitlines():
        row = re.match(r"^\| (GET|POST|PATCH|DELETE) \| (.+?) \| (.+?) \|", line)
        if row:
            for path in re.findall(r"`([^`]+)`", row.group(2)):
                rows.append((row.group(1), path.split("?")[0], "Does not exist" not in row.group(3)))
    return rows


def test_reference_endpoint_table_matches_the_real_server(agentos: AgentOSServer) -> None:
    served = httpx.get(f"{agentos.url}/openapi.json", timeout=30).json()["paths"]
    rows = documented_endpoints()
    assert len(rows) >= 12
    for method, path, exists in rows:
        assert (method.lower() in served.get(path, {})) == exists, (method, path)
    session_paths = {(m.upper(), p) for p, ops in served.items() if p.startswith("/sessions") for m in ops}
    assert session_paths <= {(method, path) for method, path, _ in rows}
