#!/usr/bin/env -S uv run --script
# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "agno[os,sqlite,postgres]>=3.1,<3.2",
#     "httpx>=0.27",
#     "rich>=13",
# ]
#
# [tool.uv]
# # Byte-compile at install: imports stay fast where .pyc files cannot be written later.
# compile-bytecode = true
# ///
"""A real AgentOS on 127.0.0.1 with an offline, deterministic model.

It is the server the tests start and the one a new user starts to try the tool:

    uv run scripts/local_agentos.py --seed 12
    uv run scripts/local_agentos.py --port 0 --db /tmp/os.db --security-key s3cret
    uv run scripts/local_agentos.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    uv run scripts/local_agentos.py --workers 4 --async-db --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres

With `--workers N` it serves with N uvicorn worker processes sharing one database (seeded once,
before they start); with `--async-db` each process uses agno's async database class
(AsyncSqliteDb, AsyncPostgresDb), so one process also answers requests concurrently.

On an older agno (2.9.0 or 3.0.11), to reproduce what an older server does, run it with
that agno instead of the one in the header:

    uv run --no-project --with 'agno[os,sqlite]==3.0.11' --with greenlet python scripts/local_agentos.py --seed 12

Prints `READY http://127.0.0.1:PORT` on stdout once it accepts connections (every worker started);
everything agno logs goes to stderr.

On agno 3.1 it also serves the agent `compactor`, whose compaction keeps the last run and
folds the rest into a summary the offline model writes: "## Goal" and one "- The user said:
..." line per folded user message (an empty summary, for trying a failed compaction, when
one of them contains "no summary").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import socket
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

AGENT_IDS = ("assistant", "researcher")
TEAM_ID = "research-team"
WORKFLOW_ID = "pipeline"
COMPACTOR_ID = "compactor"
SEED_USERS = ("alice@example.com", "bob@example.com")
# Real runs cost a few milliseconds each; beyond this many, seeded sessions are rows only.
MAX_SEEDED_RUN_SESSIONS = 40
NAME_PATTERN = re.compile(r"\bmy name is\s+([^.!?\n]+)", re.IGNORECASE)
NAME_QUESTION = re.compile(r"\bwhat'?s my name|\bwhat is my name", re.IGNORECASE)
# A workflow step gets earlier runs as a text block in front of the current input.
WORKFLOW_HISTORY = re.compile(r"<workflow_history_context>(.*?)</workflow_history_context>\s*", re.DOTALL)
# How agno's compaction prompt starts, and how its transcript shows a user message.
COMPACTION_PROMPT_START = "You maintain the running summary"
TRANSCRIPT_USER_MESSAGE = re.compile(r"^## user\n\n(.*?)(?=\n\n## |\Z)", re.DOTALL | re.MULTILINE)
SUMMARY_LINE = re.compile(r"^- The user said: .*$", re.MULTILINE)
NO_SUMMARY = "no summary"
# How the parent passes the database settings to its uvicorn workers, which import this module afresh.
WORKER_SETTINGS_VARIABLE = "LOCAL_AGENTOS_WORKER_SETTINGS"
WORKER_START_TIMEOUT = 120.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description="Start a local, offline AgentOS for trying and testing.")
    parser.add_argument("--port", type=int, default=7777, help="port on 127.0.0.1; 0 picks a free one (default 7777)")
    parser.add_argument("--db", default="tmp/agentos.db", help="SQLite file for sessions (default tmp/agentos.db)")
    parser.add_argument(
        "--postgres", metavar="URL", help="keep sessions in PostgreSQL (SQLAlchemy URL) instead of SQLite"
    )
    parser.add_argument("--security-key", help="require this bearer token on every API call")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="pre-create N sessions")
    parser.add_argument(
        "--workers", type=int, default=1, metavar="N", help="serve with N uvicorn worker processes (default 1)"
    )
    parser.add_argument(
        "--async-db",
        action="store_true",
        help="use agno's async database class (AsyncSqliteDb, AsyncPostgresDb): one process serves concurrently",
    )
    return parser.parse_args(argv)


def configure_environment(security_key: str | None) -> None:
    """Set what agno reads from the environment at import time."""
    os.environ["AGNO_TELEMETRY"] = "false"
    # The session router reads OS_SECURITY_KEY when it is imported, so the key must be
    # in place (or removed, so a key in the caller's shell cannot leak in) before that.
    if security_key:
        os.environ["OS_SECURITY_KEY"] = security_key
    else:
        os.environ.pop("OS_SECURITY_KEY", None)


def route_logging_to_stderr() -> None:
    """Keep stdout for the READY line: move agno's and uvicorn's handlers to stderr."""
    for name in ("agno", "agno-team", "agno-workflow", "uvicorn", "uvicorn.error", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(sys.stderr)


def compose_reply(user_messages: list[str]) -> str:
    """Answer the last user message using the earlier ones, so history is visible."""
    *earlier, current = user_messages or [""]
    if NAME_QUESTION.search(current):
        names = [match.group(1).strip() for text in earlier if (match := NAME_PATTERN.search(text))]
        return f"Your name is {names[-1]}." if names else "I don't know your name yet."
    if NAME_PATTERN.search(current):
        return f"Nice to meet you, {NAME_PATTERN.search(current).group(1).strip()}."
    return f"You said: {current} (earlier messages in this session: {len(earlier)})"


def compose_summary(transcript: str) -> str:
    """Fold a compaction transcript (and the summary before it) into a deterministic summary."""
    said = [" ".join(text.split()) for text in TRANSCRIPT_USER_MESSAGE.findall(transcript)]
    if any(NO_SUMMARY in text.lower() for text in said):
        return ""
    lines = SUMMARY_LINE.findall(transcript) + [f"- The user said: {text}" for text in said]
    return "\n".join(["## Goal", "Carry on the conversation.", "## Completed", *lines])


def split_workflow_history(text: str) -> list[str]:
    """Turn a workflow step's input into the earlier user inputs plus the current one."""
    match = WORKFLOW_HISTORY.search(text)
    if not match:
        return [text]
    earlier = re.findall(r"^User input: (.*)$", match.group(1), re.MULTILINE)
    return [*earlier, WORKFLOW_HISTORY.sub("", text)]


def summary_response(messages: list[Any]) -> Any:
    """The answer to agno's compaction prompt, with token usage; None for any other request."""
    if not messages or messages[0].role != "system":
        return None
    if not messages[0].get_content_string().startswith(COMPACTION_PROMPT_START):
        return None
    from agno.metrics import MessageMetrics
    from agno.models.response import ModelResponse

    transcript = messages[-1].get_content_string()
    summary = compose_summary(transcript)
    words_in, words_out = len(transcript.split()), len(summary.split())
    usage = MessageMetrics(input_tokens=words_in, output_tokens=words_out, total_tokens=words_in + words_out)
    return ModelResponse(role="assistant", content=summary, response_usage=usage)


def build_model_class() -> type:
    """Define the offline model on agno's model base class (agno is imported late)."""
    from agno.models.base import Model
    from agno.models.response import ModelResponse

    def user_texts(messages: list[Any]) -> list[str]:
        texts = []
        for message in messages:
            if message.role == "user":
                texts.extend(split_workflow_history(message.get_content_string()))
        return texts

    @dataclass
    class EchoHistoryModel(Model):
        """Deterministic, offline: replies from the user messages it is given."""

        id: str = "echo-history"
        name: str = "EchoHistory"
        provider: str = "local"

        def invoke(self, messages: list[Any], **_: Any) -> ModelResponse:
            summary = summary_response(messages)
            return summary or ModelResponse(role="assistant", content=compose_reply(user_texts(messages)))

        async def ainvoke(self, messages: list[Any], **_: Any) -> ModelResponse:
            return self.invoke(messages)

        def invoke_stream(self, messages: list[Any], **_: Any) -> Iterator[ModelResponse]:
            for word in re.findall(r"\S+\s*", compose_reply(user_texts(messages))):
                yield ModelResponse(role="assistant", content=word)

        async def ainvoke_stream(self, messages: list[Any], **_: Any) -> AsyncIterator[ModelResponse]:
            for chunk in self.invoke_stream(messages):
                await asyncio.sleep(0)
                yield chunk

        def _parse_provider_response(self, response: Any, **_: Any) -> ModelResponse:
            return response

        def _parse_provider_response_delta(self, response: Any) -> ModelResponse:
            return response

    return EchoHistoryModel


def build_db(args: argparse.Namespace, asynchronous: bool = False) -> Any:
    """agno's PostgresDb for --postgres, else its SqliteDb on --db; their async classes if asked."""
    # Imported one by one: older agno releases (run by the compatibility tests) lack the async classes.
    if args.postgres and asynchronous:
        from agno.db.postgres import AsyncPostgresDb

        # SQLAlchemy picks psycopg's async driver for the same URL when the engine is async.
        return AsyncPostgresDb(db_url=args.postgres)
    if args.postgres:
        from agno.db.postgres import PostgresDb

        return PostgresDb(db_url=args.postgres)
    Path(args.db).parent.mkdir(parents=True, exist_ok=True)
    if asynchronous:
        from agno.db.sqlite import AsyncSqliteDb

        return AsyncSqliteDb(db_file=args.db)
    from agno.db.sqlite import SqliteDb

    return SqliteDb(db_file=args.db)


def compaction_settings() -> Any:
    """Manual-only compaction that keeps the last run and folds only what is worth it; None before agno 3.1."""
    try:
        from agno.compaction import Compaction
    except ImportError:
        return None
    return Compaction(compact_at_tokens=None, uncompacted_runs=1, enforce_min_fold_ratio=True, min_fold_ratio=2.0)


def build_agent_os(db: Any, security_key: str | None) -> tuple[Any, dict[str, Any]]:
    """Build the AgentOS and return it with its components by id."""
    from agno.agent import Agent
    from agno.os import AgentOS
    from agno.os.settings import AgnoAPISettings
    from agno.team import Team
    from agno.workflow import Step, Workflow

    model_class = build_model_class()

    def make_agent(agent_id: str, **extra: Any) -> Agent:
        return Agent(
            id=agent_id,
            name=agent_id.title(),
            model=model_class(),
            db=db,
            add_history_to_context=True,
            num_history_runs=10,
            telemetry=False,
            **extra,
        )

    agents = [make_agent(agent_id) for agent_id in AGENT_IDS]
    compaction = compaction_settings()
    if compaction is not None:
        agents.append(make_agent(COMPACTOR_ID, compaction=compaction))
    team = Team(
        id=TEAM_ID,
        name="Research Team",
        members=[make_agent("team-writer")],
        model=model_class(),
        db=db,
        add_history_to_context=True,
        telemetry=False,
    )
    workflow = Workflow(
        id=WORKFLOW_ID,
        name="Pipeline",
        steps=[Step(name="answer", agent=make_agent("pipeline-step"))],
        db=db,
        add_workflow_history_to_steps=True,
        telemetry=False,
    )
    agent_os = AgentOS(
        id="local-agentos",
        description="Local offline AgentOS for agentos-api-sessions",
        agents=agents,
        teams=[team],
        workflows=[workflow],
        settings=AgnoAPISettings(os_security_key=security_key),
        telemetry=False,
    )
    components = {agent.id: agent for agent in agents} | {TEAM_ID: team, WORKFLOW_ID: workflow}
    return agent_os, components


def seed_plan(count: int) -> list[tuple[str, str, str, str]]:
    """Return (session_id, component_id, user_id, name) for each seeded session."""
    component_ids = [*AGENT_IDS, TEAM_ID, WORKFLOW_ID]
    return [
        (
            f"seed-{index:05d}",
            component_ids[(index - 1) % len(component_ids)],
            SEED_USERS[((index - 1) // len(component_ids)) % len(SEED_USERS)],
            f"Research Chat {index}",
        )
        for index in range(1, count + 1)
    ]


def seed_rows(db: Any, plan: list[tuple[str, str, str, str]]) -> None:
    """Insert the seeded sessions through agno's db API, one second apart, oldest first."""
    from agno.session import AgentSession, TeamSession, WorkflowSession

    start = int(time.time()) - len(plan)
    sessions = []
    for offset, (session_id, component_id, user_id, name) in enumerate(plan):
        common = {
            "session_id": session_id,
            "user_id": user_id,
            "session_data": {"session_name": name, "session_state": {"topic": f"topic {offset + 1}"}},
            "metadata": {"seeded": True},
            "created_at": start + offset,
            "updated_at": start + offset,
        }
        if component_id == TEAM_ID:
            sessions.append(TeamSession(team_id=component_id, **common))
        elif component_id == WORKFLOW_ID:
            sessions.append(WorkflowSession(workflow_id=component_id, **common))
        else:
            sessions.append(AgentSession(agent_id=component_id, **common))
    db.upsert_sessions(sessions, preserve_updated_at=True)


def session_type_of(component_id: str) -> Any:
    """agno's SessionType for a component id of this server."""
    from agno.db.base import SessionType

    if component_id == TEAM_ID:
        return SessionType.TEAM
    return SessionType.WORKFLOW if component_id == WORKFLOW_ID else SessionType.AGENT


async def seed_runs(components: dict[str, Any], plan: list[tuple[str, str, str, str]]) -> None:
    """Give two of every three seeded sessions two real runs through agno's run path."""
    with_runs = [entry for index, entry in enumerate(plan, start=1) if index % 3][:MAX_SEEDED_RUN_SESSIONS]
    for session_id, component_id, user_id, _name in with_runs:
        component = components[component_id]
        stored = component.db.get_session(session_id=session_id, session_type=session_type_of(component_id))
        if stored is not None and stored.runs:
            continue  # seeded by an earlier start on the same --db: seeding again adds nothing
        for message in ("My name is Alice.", "What's my name?"):
            if component_id == WORKFLOW_ID:
                await component.arun(input=message, session_id=session_id, user_id=user_id)
            else:
                await component.arun(message, session_id=session_id, user_id=user_id)


async def seed_sessions(components: dict[str, Any], count: int) -> None:
    """Create `count` sessions spread over the components and the two users."""
    plan = seed_plan(count)
    seed_rows(components[AGENT_IDS[0]].db, plan)
    await seed_runs(components, plan)


def bind_socket(port: int) -> socket.socket:
    """Bind 127.0.0.1:port (0 picks a free port) so the READY line can name it."""
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say TCP, and without it
    # every response on a kept-alive connection waited ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


async def serve(agent_os: Any, sock: socket.socket) -> None:
    """Serve the app on the bound socket; print READY once it listens."""
    import uvicorn

    config = uvicorn.Config(agent_os.get_app(), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if serving.done():
            await serving
            raise SystemExit("error: the server stopped before it was ready (see the log above)")
        await asyncio.sleep(0.02)
    route_logging_to_stderr()
    port = sock.getsockname()[1]
    print(f"READY http://127.0.0.1:{port}", flush=True)
    await serving


def worker_app() -> Any:
    """The app of one uvicorn worker, on the database the parent process prepared (a uvicorn factory)."""
    args = argparse.Namespace(**json.loads(os.environ[WORKER_SETTINGS_VARIABLE]))
    agent_os, _ = build_agent_os(build_db(args, args.async_db), os.environ.get("OS_SECURITY_KEY"))
    route_logging_to_stderr()
    return agent_os.get_app()


def serve_workers(args: argparse.Namespace, sock: socket.socket) -> int:
    """Serve with uvicorn's worker processes; print READY once every one of them has started."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    class ReadyWhenAllStarted(Multiprocess):
        failed = False

        def init_processes(self) -> None:
            super().init_processes()
            if all(process.wait_until_ready(WORKER_START_TIMEOUT, self.should_exit) for process in self.processes):
                print(f"READY http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
                return
            print("error: a worker did not start (see the log above)", file=sys.stderr)
            self.failed = True
            self.should_exit.set()

    settings = {"db": args.db, "postgres": args.postgres, "async_db": args.async_db}
    os.environ[WORKER_SETTINGS_VARIABLE] = json.dumps(settings)
    # Workers import the app afresh, so it is named by an import string: this file's module.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    config = uvicorn.Config(
        f"{Path(__file__).stem}:worker_app",
        factory=True,
        workers=args.workers,
        log_level="warning",
        lifespan="on",
        access_log=False,
    )
    supervisor = ReadyWhenAllStarted(config, sockets=[sock])
    supervisor.run()
    return 1 if supervisor.failed else 0


async def prepare(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """Build on the synchronous database, create its tables and seed it (before any worker starts)."""
    db = build_db(args)
    agent_os, components = build_agent_os(db, args.security_key)
    route_logging_to_stderr()
    if args.workers > 1 and hasattr(db, "_create_all_tables"):
        # Each worker creates missing tables when it starts: created here, they never race to.
        db._create_all_tables()
    if args.seed:
        await seed_sessions(components, args.seed)
    return agent_os, components


async def start(args: argparse.Namespace) -> None:
    """Build, seed and serve in this one process."""
    agent_os, _ = await prepare(args)
    if args.async_db:
        agent_os, _ = build_agent_os(build_db(args, asynchronous=True), args.security_key)
    await serve(agent_os, bind_socket(args.port))


def invalid_arguments(args: argparse.Namespace) -> str | None:
    """The one-line complaint about the arguments, or None when they are usable."""
    if args.seed < 0 or not 0 <= args.port <= 65535:
        return "--seed must be >= 0 and --port between 0 and 65535"
    if args.workers < 1:
        return "--workers must be >= 1"
    return None


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    if complaint := invalid_arguments(args):
        print(f"error: {complaint}", file=sys.stderr)
        return 2
    configure_environment(args.security_key)
    try:
        if args.workers == 1:
            asyncio.run(start(args))
            return 0
        asyncio.run(prepare(args))
        return serve_workers(args, bind_socket(args.port))
    except KeyboardInterrupt:
        return 130
    except OSError as error:
        print(f"error: cannot listen on 127.0.0.1:{args.port}: {error.strerror} (try --port 0)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
