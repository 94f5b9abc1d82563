"""Count what an agent reads to answer ten typical requests, before and after issue 13.

    uv run benchmarks/bench_agent_requests.py
    uv run benchmarks/bench_agent_requests.py --output benchmarks/RESULTS-agent-requests.md
    uv run benchmarks/bench_agent_requests.py --docs-only

Beside the requests it counts the documentation an agent reads before its first call, SKILL.md
and `--help` at 80 columns (agent_docs.py), for the "before" commit, for main before issue 21
and for the working tree; `--docs-only` counts only that and starts no server.

"Before" is scripts/manage_sessions.py as of commit d1c1f41 (read with `git show`), "after"
the working tree's. Each version talks to its own local AgentOS (scripts/local_agentos.py
--port 0), both serving copies of one database: 12 seeded sessions plus the runs and sessions
the requests need. For each request an agent runs the commands it would run with that
version: the old one often needs a listing and then one call per session; the new one uses set
selection, --count, --fields and concise JSON. Everything a call prints, stdout and stderr, is
what the agent reads. The new answer must hold every fact the old one gave, and after each
request both servers must hold the same sessions.

Exit codes: 0 measured (the 3x target is reported, not enforced), 1 a check failed (an answer
lost a fact, the servers differ, a command exited unexpectedly, a server did not start),
2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from agent_docs import Documentation, documentation_verdict, format_documentation, measure_documentation
from bench_cli import (
    CLI,
    PROCESS_TIMEOUT,
    ROOT,
    BenchError,
    child_env,
    command_output,
    environment_lines,
    log,
    measured_in_a_temporary_folder,
    start_server,
    stop_server,
    write_report,
)

BEFORE_COMMIT = "d1c1f41"
SEED = 12
ALICE = "alice@example.com"
BOB = "bob@example.com"
CAROL = "carol@example.com"
RUNS_SESSION = "seed-00010"  # alice's researcher session; the set-up gives it six more runs
INSPECT_NAME = "Research Chat 5"
CARD_TEXT = "card number"
CARD_MESSAGE = "My card number is 4111 1111 1111 1111, keep it for the invoice."
REVIEWED = '{"reviewed": true}'
TARGET_RATIO = 3.0
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MISSING_FLAG = re.compile(r"unrecognized arguments: ([^\"\n]+)")


@dataclass(frozen=True)
class Call:
    """One run of the script: its arguments (after --base-url), exit code and output."""

    args: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str

    @property
    def characters(self) -> int:
        """What the agent reads: every character on stdout and stderr."""
        return len(self.stdout) + len(self.stderr)

    def document(self) -> Any:
        """stdout as JSON."""
        try:
            return json.loads(self.stdout)
        except json.JSONDecodeError as error:
            raise BenchError(f"`{shlex.join(self.args)}` printed no JSON ({error}): {self.stdout[:300]!r}") from error


@dataclass
class Agent:
    """Runs one version of the script against one server, as an agent would, and keeps every call."""

    cli: Path
    url: str
    workdir: Path
    calls: list[Call] = field(default_factory=list)

    def attempt(self, args: tuple[str, ...]) -> Call:
        """Run the script once, whatever its exit code."""
        argv = [sys.executable, str(self.cli), "--base-url", self.url, *args]
        completed = subprocess.run(
            argv,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            cwd=self.workdir,
            env=child_env(),
            timeout=PROCESS_TIMEOUT,
        )
        call = Call(
            args,
            completed.returncode,
            completed.stdout.decode(errors="replace"),
            completed.stderr.decode(errors="replace"),
        )
        self.calls.append(call)
        return call

    def run(self, *args: str) -> Call:
        """Run the script once; anything but exit 0 fails the benchmark."""
        call = self.attempt(args)
        if call.exit_code != 0:
            raise BenchError(f"`{shlex.join(args)}` ({self.cli.name}) exited {call.exit_code}: {call.stderr[-1000:]}")
        return call

    def json(self, *args: str) -> Any:
        """Run the script once and read its JSON."""
        return self.run(*args).document()


Facts = Any
Check = Callable[[Facts, Any], list[str]]


@dataclass(frozen=True)
class AgentRequest:
    """A request in an agent's words, how each version answers it, and how to compare the answers."""

    label: str
    # Runs the old script's calls, deciding each from the previous answers; returns the facts it learnt.
    before: Callable[[Agent], Facts]
    # The new script's commands, in order; only reads and dry runs may precede the last one.
    after: tuple[tuple[str, ...], ...]
    # (facts, the last new document) -> each fact the new answer lacks.
    check: Check


def sessions_in(document: Any) -> list[dict[str, Any]]:
    """The sessions of a listing ({"data": [...]}), of a list, or one session."""
    if isinstance(document, dict) and isinstance(document.get("data"), list):
        return document["data"]
    return document if isinstance(document, list) else [document]


def pick(record: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """These keys of a record; an absent key counts as null, as in the API."""
    return {key: record.get(key) for key in keys}


def differences(expected: dict[str, Any], actual: Any) -> list[str]:
    """Each key whose value the actual record lacks or changed."""
    if not isinstance(actual, dict):
        return [f"expected one object, got {actual!r}"[:300]]
    return [
        f"{key}: expected {value!r}, got {actual.get(key)!r}"
        for key, value in expected.items()
        if actual.get(key) != value
    ]


def same_records(expected: list[dict[str, Any]], actual: list[dict[str, Any]], what: str) -> list[str]:
    """A problem when two lists of records differ."""
    return [] if expected == actual else [f"{what}: expected {expected}, got {actual}"]


LIST_KEYS = ("session_id", "session_name", "user_id")
INSPECT_KEYS = (
    *("session_id", "session_name", "session_type", "agent_id", "team_id", "workflow_id", "user_id"),
    *("session_state", "metadata", "run_count"),
)
RUN_KEYS = ("run_id", "status", "created_at", "run_input", "content")
CREATED_KEYS = ("session_id", "session_name", "session_type", "agent_id", "user_id", "session_state", "metadata")
RENAMED_KEYS = ("session_id", "session_name", "session_type", "team_id", "user_id")
CHAT_KEYS = ("session_id", "run_id", "content")


def listed_sessions(keys: tuple[str, ...]) -> Check:
    """A check: the new listing has exactly the old sessions, with the same values for `keys`."""

    def check(expected: Facts, document: Any) -> list[str]:
        actual = sorted((pick(session, keys) for session in sessions_in(document)), key=lambda s: s["session_id"])
        return same_records(expected, actual, "sessions")

    return check


def one_session(expected: Facts, document: Any) -> list[str]:
    """A check: the one session the new answer shows has the old values."""
    found = sessions_in(document)
    return differences(expected, found[0]) if len(found) == 1 else [f"expected one session, got {len(found)}"]


def listed_ids(key: str) -> Check:
    """A check: the new answer's `key` (updated, deleted, cleared) lists the same session ids."""

    def check(expected: Facts, document: Any) -> list[str]:
        listed = document.get(key) or [] if isinstance(document, dict) else None
        # A set write lists ids (delete) or an object per session (update, clear: the contract's entries).
        actual = (
            None
            if listed is None
            else sorted(item.get("session_id") if isinstance(item, dict) else item for item in listed)
        )
        return [] if actual == expected else [f"{key}: expected {expected}, got {actual}"]

    return check


def with_new_id(record: dict[str, Any]) -> dict[str, Any]:
    """The record with server-made ids (UUIDs, different on each server) replaced by a marker."""
    return {
        key: "<new uuid>" if key in ("session_id", "run_id") and UUID.fullmatch(str(value)) else value
        for key, value in record.items()
    }


def researcher_sessions(agent: Agent) -> Facts:
    """1: every session of the researcher agent: one listing."""
    listing = agent.json("--agent-id", "researcher", "--all", "--json")
    return sorted((pick(session, LIST_KEYS) for session in sessions_in(listing)), key=lambda s: s["session_id"])


def sessions_per_user(agent: Agent) -> Facts:
    """2: how many sessions each user has: every session, counted by the agent."""
    listing = agent.json("--all", "--json")
    return dict(sorted(Counter(session.get("user_id") for session in sessions_in(listing)).items()))


def same_counts(expected: Facts, document: Any) -> list[str]:
    """A check: the new count has the same total and the same count per user."""
    if not isinstance(document, dict):
        return [f"expected {{count, groups}}, got {document!r}"[:300]]
    problems = (
        [] if document.get("groups") == expected else [f"groups: expected {expected}, got {document.get('groups')}"]
    )
    if document.get("count") != sum(expected.values()):
        problems.append(f"count: expected {sum(expected.values())}, got {document.get('count')}")
    return problems


def session_by_name(agent: Agent) -> Facts:
    """3: one session known by its name: find its id (--name matches parts of names), then inspect it."""
    listing = agent.json("--name", INSPECT_NAME, "--all", "--json")
    matches = [session["session_id"] for session in sessions_in(listing) if session.get("session_name") == INSPECT_NAME]
    if len(matches) != 1:
        raise BenchError(f"request 3: {len(matches)} sessions are named {INSPECT_NAME!r}, expected one")
    return pick(agent.json("--session-id", matches[0], "--json"), INSPECT_KEYS)


def session_runs(agent: Agent) -> Facts:
    """4: what was said in a session: its runs."""
    return [pick(run, RUN_KEYS) for run in agent.json("--session-id", RUNS_SESSION, "--show-runs", "--json")]


def same_runs(expected: Facts, document: Any) -> list[str]:
    """A check: the same runs, in the same order, with the same input, reply, status and time."""
    runs = document if isinstance(document, list) else []
    return same_records(expected, [pick(run, RUN_KEYS) for run in runs], "runs")


CREATE_ARGS = (
    *("--create", "--agent-id", "assistant", "--user-id", CAROL, "--name", "Pricing review"),
    *("--state", '{"topic": "pricing"}', "--json"),
)


def created_session(agent: Agent) -> Facts:
    """5: create a session and learn its new id."""
    return with_new_id(pick(agent.json(*CREATE_ARGS), CREATED_KEYS))


def same_created(expected: Facts, document: Any) -> list[str]:
    """A check: the new session has a new UUID and the old values."""
    return differences(expected, with_new_id(document) if isinstance(document, dict) else document)


RENAME_ARGS = ("--session-id", "seed-00003", "--rename", "Pricing Q3", "--json")


def renamed_session(agent: Agent) -> Facts:
    """6: rename a session by its id."""
    return pick(agent.json(*RENAME_ARGS), RENAMED_KEYS)


def reviewed_sessions(agent: Agent) -> Facts:
    """7: tag every researcher session of alice: list them, then one --update per session."""
    listing = agent.json("--agent-id", "researcher", "--user-id", ALICE, "--all", "--json")
    updated = [
        agent.json("--session-id", session["session_id"], "--update", "--metadata", REVIEWED, "--json")
        for session in sessions_in(listing)
    ]
    return sorted(session["session_id"] for session in updated if (session.get("metadata") or {}).get("reviewed"))


def deleted_never_ran(agent: Agent) -> Facts:
    """8: delete bob's sessions that never ran: list them, inspect each for run_count, delete those at 0."""
    listing = agent.json("--user-id", BOB, "--all", "--json")
    never_ran = [
        session["session_id"]
        for session in sessions_in(listing)
        if agent.json("--session-id", session["session_id"], "--json").get("run_count") == 0
    ]
    named = [argument for session_id in never_ran for argument in ("--session-id", session_id)]
    return sorted(agent.json(*named, "--delete", "--json")["deleted"])


def mentions(runs: list[dict[str, Any]], text: str) -> bool:
    """True when some run's input or reply contains the text, any case."""
    return any(text in str(run.get(key) or "").lower() for run in runs for key in ("run_input", "content"))


def cleared_card_sessions(agent: Agent) -> Facts:
    """9: clear bob's sessions where he typed his card number: list, read each one's runs, clear each match."""
    listing = agent.json("--user-id", BOB, "--all", "--json")
    matching = [
        session["session_id"]
        for session in sessions_in(listing)
        if mentions(agent.json("--session-id", session["session_id"], "--show-runs", "--json"), CARD_TEXT)
    ]
    cleared = [
        agent.json("--session-id", session_id, "--clear", "--yes", "--backup-dir", "backups", "--json")
        for session_id in matching
    ]
    return sorted(session["session_id"] for session in cleared if session.get("backup"))


def same_cleared(expected: Facts, document: Any) -> list[str]:
    """A check: the same sessions cleared, each with its backup file."""
    problems = listed_ids("cleared")(expected, document)
    cleared = document.get("cleared") if isinstance(document, dict) else None
    backups = [item.get("backup") for item in cleared or [] if isinstance(item, dict) and item.get("backup")]
    if len(backups) != len(expected):
        problems.append(f"backups: expected {len(expected)} files, got {backups}")
    return problems


CHAT_ARGS = ("--session-id", "seed-00001", "--chat", "What is my name?", "--json")


def chat_reply(agent: Agent) -> Facts:
    """10: ask the agent of a session something it was told earlier."""
    return with_new_id(pick(agent.json(*CHAT_ARGS), CHAT_KEYS))


def same_reply(expected: Facts, document: Any) -> list[str]:
    """A check: the same session, the same reply, and a new run id."""
    return differences(expected, with_new_id(document) if isinstance(document, dict) else document)


REVIEW_SET = ("--agent-id", "researcher", "--user-id", ALICE, "--update", "--metadata", REVIEWED)
NEVER_RAN_SET = ("--user-id", BOB, "--max-runs", "0", "--delete")
CARD_SET = ("--user-id", BOB, "--search", CARD_TEXT, "--clear")

# The "after" commands are data: change a flag here and rerun. SKILL.md asks for a --dry-run before
# a write chosen by filters, so the set writes (7-9) run one first.
REQUESTS: tuple[AgentRequest, ...] = (
    AgentRequest(
        "1. list the researcher agent's sessions",
        researcher_sessions,
        (("--agent-id", "researcher", "--all", "--json", "--fields", ",".join(LIST_KEYS)),),
        listed_sessions(LIST_KEYS),
    ),
    AgentRequest(
        "2. count sessions per user",
        sessions_per_user,
        (("--count", "--group-by", "user_id", "--json"),),
        same_counts,
    ),
    AgentRequest(
        f"3. inspect the session named {INSPECT_NAME!r}",
        session_by_name,
        (("--session-name", INSPECT_NAME, "--json"),),
        one_session,
    ),
    AgentRequest(
        f"4. read the runs of {RUNS_SESSION} (8 runs)",
        session_runs,
        (("--session-id", RUNS_SESSION, "--show-runs", "--json"),),
        same_runs,
    ),
    AgentRequest("5. create a session for carol", created_session, (CREATE_ARGS,), same_created),
    AgentRequest("6. rename seed-00003", renamed_session, (RENAME_ARGS,), one_session),
    AgentRequest(
        "7. tag alice's researcher sessions (set update)",
        reviewed_sessions,
        ((*REVIEW_SET, "--dry-run", "--json"), (*REVIEW_SET, "--yes", "--json")),
        listed_ids("updated"),
    ),
    AgentRequest(
        "8. delete bob's sessions that never ran",
        deleted_never_ran,
        (
            (*NEVER_RAN_SET, "--dry-run", "--json", "--fields", "session_id,session_name"),
            (*NEVER_RAN_SET, "--yes", "--json"),
        ),
        listed_ids("deleted"),
    ),
    AgentRequest(
        "9. clear bob's sessions that mention his card number",
        cleared_card_sessions,
        (
            (*CARD_SET, "--dry-run", "--json", "--fields", "session_id,session_name,run_count"),
            (*CARD_SET, "--yes", "--backup-dir", "backups", "--json"),
        ),
        same_cleared,
    ),
    AgentRequest("10. chat in seed-00001", chat_reply, (CHAT_ARGS,), same_reply),
)


@dataclass(frozen=True)
class Version:
    """One version of the script and the server it talks to."""

    cli: Path
    url: str
    workdir: Path

    def agent(self, cli: Path | None = None) -> Agent:
        """A fresh agent on this server, with this version's script (or another one)."""
        return Agent(cli or self.cli, self.url, self.workdir)


@dataclass
class Measured:
    """What each version printed for one request; `after` is empty when a flag is missing."""

    request: AgentRequest
    before: list[Call]
    after: list[Call]
    missing_flag: str = ""


def answer_after(request: AgentRequest, old: Version, new: Version, facts: Facts) -> tuple[list[Call], str]:
    """Run the new commands and check their answer: the calls, or none and the flag the new script lacks."""
    agent = new.agent()
    for args in request.after:
        call = agent.attempt(args)
        missing = MISSING_FLAG.search(call.stderr)
        if call.exit_code == 2 and missing:
            # Nothing before the last command writes, so the new server is as it was: answering the
            # request with the old commands there keeps both servers alike for the next requests.
            request.before(new.agent(old.cli))
            return [], missing.group(1).strip()
        if call.exit_code != 0:
            raise BenchError(f"{request.label}: `{shlex.join(args)}` exited {call.exit_code}: {call.stderr[-1000:]}")
    problems = request.check(facts, agent.calls[-1].document())
    if problems:
        raise BenchError(f"{request.label}: the new answer lacks what the old one gave: {'; '.join(problems)}")
    return agent.calls, ""


def measure(request: AgentRequest, old: Version, new: Version) -> Measured:
    """Answer one request with both versions, check the new answer, and compare the servers."""
    log(f"request {request.label}")
    before = old.agent()
    facts = request.before(before)
    after, missing_flag = answer_after(request, old, new, facts)
    if server_state(old.url) != server_state(new.url):
        raise BenchError(f"{request.label}: the two servers hold different sessions afterwards")
    return Measured(request, before.calls, after, missing_flag)


def server_state(url: str) -> list[tuple[Any, ...]]:
    """Every session's id (server-made ids masked), name, owner, user, state, metadata and run count."""
    with httpx.Client(base_url=url, timeout=60) as client:
        response = client.get("/sessions", params={"limit": 1000})
        response.raise_for_status()
        state = []
        for session in response.json()["data"]:
            runs = client.get(f"/sessions/{session['session_id']}/run-previews")
            runs.raise_for_status()
            values = pick(with_new_id(session), (*INSPECT_KEYS[:7], "session_state", "metadata"))
            state.append((*(json.dumps(value, sort_keys=True) for value in values.values()), len(runs.json())))
    return sorted(state)


def post_run(client: httpx.Client, route: str, session_id: str, user_id: str, message: str) -> None:
    """One real run through the agent's or team's run endpoint."""
    form = {"message": message, "session_id": session_id, "user_id": user_id, "stream": "false"}
    client.post(f"/{route}/runs", data=form).raise_for_status()


def prepare_sessions(url: str) -> None:
    """Add what the requests need to the seeded sessions: runs to read, sessions that never ran, a card number."""
    with httpx.Client(base_url=url, timeout=60) as client:
        for index in range(3, 9):
            post_run(client, "agents/researcher", RUNS_SESSION, ALICE, f"Note {index}: compare the vendor quotes.")
        for session_id, kind, owner in (
            ("bob-draft-1", "agent", "assistant"),
            ("bob-draft-2", "team", "research-team"),
        ):
            body = {
                "session_id": session_id,
                "session_name": f"Draft {session_id[-1]}",
                "user_id": BOB,
                f"{kind}_id": owner,
            }
            client.post("/sessions", params={"type": kind}, json=body).raise_for_status()
        post_run(client, "agents/assistant", "seed-00005", BOB, CARD_MESSAGE)
        post_run(client, "teams/research-team", "seed-00007", BOB, CARD_MESSAGE)


def copy_database(source: Path, target: Path) -> None:
    """Copy a database the server has open: SQLite's backup API, which a file copy is not."""
    with closing(sqlite3.connect(source)) as origin, closing(sqlite3.connect(target)) as copy:
        origin.backup(copy)


def before_script(workdir: Path, given: Path | None) -> Path:
    """The old script: a given file, or scripts/manage_sessions.py at BEFORE_COMMIT."""
    if given is not None:
        return given.resolve()
    shown = subprocess.run(
        ["git", "show", f"{BEFORE_COMMIT}:scripts/manage_sessions.py"], cwd=ROOT, capture_output=True, text=True
    )
    if shown.returncode != 0:
        raise BenchError(
            f"cannot read scripts/manage_sessions.py at {BEFORE_COMMIT} ({shown.stderr.strip()}); "
            "fetch the history (git fetch --unshallow) or pass --before-cli FILE"
        )
    path = workdir / f"manage_sessions_{BEFORE_COMMIT}.py"
    path.write_text(shown.stdout)
    return path


def run_requests(workdir: Path, before_cli: Path, after_cli: Path) -> list[Measured]:
    """Start both servers from one prepared database, answer every request with both versions."""
    # Names of equal length: backup paths in the output are then as long for both versions.
    old_dir, new_dir = workdir / "old", workdir / "new"
    old_dir.mkdir()
    new_dir.mkdir()
    log(f"starting the local AgentOS for the old script ({SEED} seeded sessions)")
    old_server, old_url = start_server(old_dir, SEED)
    try:
        prepare_sessions(old_url)
        copy_database(old_dir / "agentos.db", new_dir / "agentos.db")
        log("starting the local AgentOS for the new script (a copy of the same database)")
        new_server, new_url = start_server(new_dir, 0)
        try:
            old, new = Version(before_cli, old_url, old_dir), Version(after_cli, new_url, new_dir)
            return [measure(request, old, new) for request in REQUESTS]
        finally:
            stop_server(new_server)
    finally:
        stop_server(old_server)


def characters(calls: list[Call]) -> int:
    """Everything a list of calls printed."""
    return sum(call.characters for call in calls)


def fewer(before: int, after: int) -> str:
    """How many times fewer characters the new answer has."""
    return f"{before / after:.1f}x" if after else "-"


TABLE_HEADER = ("request", "calls before", "calls after", "characters before", "characters after", "ratio")


def table_rows(results: list[Measured]) -> list[tuple[str, ...]]:
    """One row per request and a total over the requests measured with both versions."""
    rows = []
    for result in results:
        before_chars = characters(result.before)
        if result.missing_flag:
            missing = f"n/a (flag missing: {result.missing_flag})"
            rows.append((result.request.label, str(len(result.before)), "n/a", str(before_chars), missing, "-"))
            continue
        after_chars = characters(result.after)
        counts = (str(len(result.before)), str(len(result.after)), str(before_chars), str(after_chars))
        rows.append((result.request.label, *counts, fewer(before_chars, after_chars)))
    measured = [result for result in results if not result.missing_flag]
    before_total = characters([call for result in measured for call in result.before])
    after_total = characters([call for result in measured for call in result.after])
    calls = (sum(len(result.before) for result in measured), sum(len(result.after) for result in measured))
    label = "total" if len(measured) == len(results) else f"total ({len(measured)} of {len(results)} measured)"
    rows.append(
        (f"**{label}**", *map(str, calls), str(before_total), str(after_total), fewer(before_total, after_total))
    )
    return rows


def format_table(rows: list[tuple[str, ...]]) -> str:
    """An aligned markdown table."""
    lines = [TABLE_HEADER, *rows]
    widths = [max(len(line[column]) for line in lines) for column in range(len(TABLE_HEADER))]
    text = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) + " |" for line in lines
    ]
    text.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(text)


def verdict(results: list[Measured]) -> str:
    """The issue's target, met or not: at least 3x fewer characters overall, every answer complete."""
    measured = [result for result in results if not result.missing_flag]
    before = characters([call for result in measured for call in result.before])
    after = characters([call for result in measured for call in result.after])
    ratio = before / after if after else 0.0
    outcome = "pass" if ratio >= TARGET_RATIO and len(measured) == len(results) else "FAIL"
    waiting = [result.request.label.split(".")[0] for result in results if result.missing_flag]
    pending = f"; requests {', '.join(waiting)} await a missing flag" if waiting else ""
    return (
        f"Target: at least {TARGET_RATIO:g}x fewer characters overall, every answer complete: {outcome} "
        f"({ratio:.1f}x over {len(measured)} requests, every measured answer checked complete{pending})."
    )


def command_lines(calls: list[Call]) -> list[str]:
    """The calls as the shell lines an agent types (without --base-url)."""
    return [f"manage_sessions.py {shlex.join(call.args)}" for call in calls]


def requests_section(results: list[Measured]) -> list[str]:
    """Each request's commands with both versions, as they ran."""
    lines = ["## The requests and their commands", ""]
    for result in results:
        after = command_lines(result.after) or [
            f"manage_sessions.py {shlex.join(args)}" for args in result.request.after
        ]
        lines += [f"**{result.request.label}**", "", "```bash", "# before"]
        lines += [*command_lines(result.before), "# after", *after, "```", ""]
    return lines


LEGEND = (
    "`calls` counts runs of the script; `characters` counts every character they printed, stdout and "
    "stderr, which is what an agent reads (the script runs with the project's Python, so no uv messages); "
    "`ratio` is characters before / after. Before: scripts/manage_sessions.py at commit {commit}, used as its "
    "SKILL.md said (`--json`, `--all`, one call per session where it had no set action). After: the "
    "working tree ({revision}); the set writes (7-9) start with the `--dry-run` SKILL.md asks for. Each "
    "version has its own server, both started from one database ({seed} seeded sessions, six more runs "
    "in {runs}, two sessions of bob that never ran, a card number in two of bob's sessions). For every "
    "request the script checks that the new answer holds the facts of the old one (the same ids, names, "
    "counts, runs, values) and that both servers hold the same sessions afterwards."
)


def documentation_section(documentation: list[Documentation], results: list[Measured]) -> list[str]:
    """What an agent reads before its first call, and with the ten answers."""
    before, after = documentation[0], documentation[-1]
    answers_before = characters([call for result in results for call in result.before])
    answers_after = characters([call for result in results for call in result.after])
    return [
        "## Documentation read before the first call",
        "",
        format_documentation(documentation),
        "",
        documentation_verdict(documentation),
        "",
        f"Documentation and the ten answers together: {before.total + answers_before:,} characters with "
        f"{before.version}, {after.total + answers_after:,} with the working tree. `SKILL.md` is counted in "
        "characters, `--help` as the script prints it with `COLUMNS=80` (what an agent's shell gets).",
        "",
    ]


def format_markdown(results: list[Measured], documentation: list[Documentation], command: str) -> str:
    """The whole report as markdown."""
    revision = command_output(["git", "-C", str(ROOT), "describe", "--always", "--dirty"])
    legend = LEGEND.format(commit=BEFORE_COMMIT, revision=revision, seed=SEED, runs=RUNS_SESSION)
    parts = [
        "# Characters an agent reads, before and after issue 13",
        "",
        f"Measured with `{command}`.",
        "",
        *environment_lines(),
        "",
        format_table(table_rows(results)),
        "",
        verdict(results),
        "",
        legend,
        "",
        *documentation_section(documentation, results),
        *requests_section(results),
    ]
    return "\n".join(parts)


def build_parser() -> argparse.ArgumentParser:
    """The command line; no side effects."""
    parser = argparse.ArgumentParser(
        description="Count the characters an agent reads for ten typical requests, before and after issue 13."
    )
    parser.add_argument("--output", type=Path, metavar="PATH", help="also write the results as markdown to PATH")
    parser.add_argument(
        "--cli",
        type=Path,
        default=CLI,
        metavar="SCRIPT",
        help="the 'after' manage_sessions.py (default: this checkout's)",
    )
    parser.add_argument(
        "--before-cli",
        type=Path,
        metavar="SCRIPT",
        help=f"the 'before' manage_sessions.py (default: `git show {BEFORE_COMMIT}:scripts/manage_sessions.py`)",
    )
    parser.add_argument(
        "--docs-only",
        action="store_true",
        help="count only SKILL.md and --help, start no server (not with --output)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Answer every request with both versions, print the table, optionally write markdown."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.docs_only and args.output:
        parser.error("--docs-only measures no request, so it writes no report: drop --output")
    started = time.perf_counter()
    measured = measured_in_a_temporary_folder("agentos-agent-requests-", lambda workdir: measure_all(workdir, args))
    if measured is None:
        return 1
    log(f"done in {time.perf_counter() - started:.0f} s at {datetime.now(UTC):%H:%M} UTC")
    publish(*measured, args.output)
    return 0


def measure_all(workdir: Path, args: argparse.Namespace) -> tuple[list[Measured], list[Documentation]]:
    """The documentation read before the first call, then the ten requests unless --docs-only."""
    documentation = measure_documentation(workdir, BEFORE_COMMIT)
    if args.docs_only:
        return [], documentation
    return run_requests(workdir, before_script(workdir, args.before_cli), args.cli.resolve()), documentation


def publish(results: list[Measured], documentation: list[Documentation], output: Path | None) -> None:
    """Print the tables and the verdicts; write the markdown report when asked."""
    if results:
        print(format_table(table_rows(results)))
        print(verdict(results))
    print(format_documentation(documentation))
    print(documentation_verdict(documentation))
    if output:
        command = f"uv run benchmarks/bench_agent_requests.py --output {output}"
        write_report(output, format_markdown(results, documentation, command))


if __name__ == "__main__":
    raise SystemExit(main())
