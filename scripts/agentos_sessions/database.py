"""AgentOS's own database, for --db: read-only checks, and writes through agno's database classes.

Checks open the database read-only (SQLite `mode=ro`, PostgreSQL read-only transactions) and create
nothing. Writes go through agno's `SqliteDb`/`PostgresDb` (`upsert_sessions`, `upsert_run`,
`delete_runs`), never raw SQL on agno's tables. SQLAlchemy, the drivers and `agno.db` load only here,
and only when --db is given.
"""

from __future__ import annotations

import copy
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote

from .errors import CliError, ExitCode, usage_error
from .model import parse_api_time, redact_url

if TYPE_CHECKING:
    from agno.db.base import BaseDb
    from sqlalchemy.engine import Engine

# What adds the PostgreSQL driver when it is missing (SQLite's comes with Python).
POSTGRES_DRIVER_COMMAND = "uv run --with 'psycopg[binary]' scripts/manage_sessions.py"
# Fields of a run as the API shows it that agno stores under other names (see agno.os.schema.RunSchema).
API_ONLY_RUN_FIELDS = ("run_input", "run_response_format", "input_media")
INPUT_MEDIA = ("images", "videos", "audios", "files")


class Database(NamedTuple):
    """An AgentOS database: a read-only engine for checks and agno's class for writes."""

    url: str
    backend: str
    reader: Engine
    writer: BaseDb

    @property
    def shown(self) -> str:
        """The URL fit for a message: no user name or password."""
        return redact_url(self.url)

    @property
    def schema(self) -> str | None:
        return getattr(self.writer, "db_schema", None)

    @property
    def sessions_table(self) -> str:
        return self.writer.session_table_name

    @property
    def runs_table(self) -> str:
        return self.writer.runs_table_name


def open_database(url: str, table: str | None) -> Database:
    """Parse --db and open it: read-only for checks; nothing connects or is created yet."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        usage_error(f"--db {redact_url(url)!r} is not a database URL", "e.g. sqlite:///tmp/agentos.db")
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return open_sqlite(url, parsed.database or "", table)
    if backend == "postgresql":
        return open_postgres(url, table)
    usage_error(
        f"--db {redact_url(url)!r}: {backend} is not a database this tool writes",
        "give AgentOS's SQLite (sqlite:///path) or PostgreSQL (postgresql+psycopg://...) URL",
    )


def open_sqlite(url: str, path: str, table: str | None) -> Database:
    """A SQLite file that must exist; checks read it through a `mode=ro` connection."""
    from agno.db.sqlite import SqliteDb
    from sqlalchemy import create_engine

    if not path or path == ":memory:" or path.startswith("file:"):
        usage_error(f"--db {redact_url(url)!r} names no database file", "e.g. sqlite:////srv/agentos/agentos.db")
    file = Path(path)
    if not file.is_file():
        usage_error(f"--db: {path} does not exist; nothing was created", "give the file AgentOS's SqliteDb uses")
    # Read-only SQLite still creates -wal and -shm files for a WAL database that nobody has open;
    # without a -wal file no one is writing, and `immutable` reads the file as it is, creating nothing.
    live = file.with_name(f"{file.name}-wal").exists()
    read_only = f"file:{quote(str(file.resolve()))}?mode=ro" + ("" if live else "&immutable=1")
    reader = create_engine("sqlite://", creator=lambda: sqlite3.connect(read_only, uri=True))
    return Database(url, "sqlite", reader, SqliteDb(db_url=url, session_table=table))


def open_postgres(url: str, table: str | None) -> Database:
    """A PostgreSQL database through psycopg (as agno picks it); checks run in read-only transactions."""
    try:
        from agno.db.postgres import PostgresDb, create_postgres_engine

        read_only = {"options": "-c default_transaction_read_only=on"}
        reader = create_postgres_engine(url, connect_args=read_only)
        writer = PostgresDb(db_engine=create_postgres_engine(url), session_table=table)
    except ImportError as error:
        raise CliError(
            f"--db {redact_url(url)} needs the PostgreSQL driver psycopg, which is not installed ({error.name})",
            ExitCode.USAGE,
            f"run the same command as: {POSTGRES_DRIVER_COMMAND} ...",
        ) from None
    return Database(url, "postgresql", reader, writer)


def reflect(database: Database, name: str) -> Any:
    """A table of the database, read from its catalogue (nothing is created)."""
    from sqlalchemy import MetaData, Table

    return Table(name, MetaData(schema=database.schema), autoload_with=database.reader)


def unreachable(database: Database, error: Exception) -> CliError:
    """A database that cannot be opened or read (a local file: bad input, exit 2); the password is never shown."""
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0][:200]
    return CliError(
        f"cannot read the database {database.shown}: {reason}; nothing was changed",
        ExitCode.USAGE if database.backend == "sqlite" else ExitCode.UNREACHABLE,
        "check --db (or $AGENTOS_DB_URL): the URL AgentOS itself uses",
    )


def check_schema(database: Database) -> None:
    """The sessions and runs tables exist and record the schema version the installed agno writes; else exit 2."""
    from agno.db.migrations.manager import MigrationManager
    from sqlalchemy import inspect, select
    from sqlalchemy.exc import SQLAlchemyError

    expected = MigrationManager.available_versions[-1][1].public
    try:
        present = set(inspect(database.reader).get_table_names(schema=database.schema))
        missing = [t for t in (database.sessions_table, database.runs_table) if t not in present]
        if missing:
            usage_error(
                f"{database.shown} is not AgentOS's database: it has no table {', '.join(missing)}",
                "give the URL AgentOS uses (and --table if its sessions table has another name)",
            )
        versions = reflect(database, database.writer.versions_table_name)
        with database.reader.connect() as connection:
            rows = connection.execute(select(versions.c.table_name, versions.c.version)).all()
    except SQLAlchemyError as error:
        raise unreachable(database, error) from None
    recorded = {table: version for table, version in rows}
    for table in (database.sessions_table, database.runs_table):
        if recorded.get(table) != expected:
            usage_error(
                f"{database.shown}: table {table} has schema version {recorded.get(table) or 'none'}, "
                f"the installed agno writes {expected}; nothing was changed",
                "upgrade the AgentOS server (it migrates its database) or run this tool with its agno version",
            )


def read_rows(database: Database, table_name: str, key: str, values: list[str], columns: tuple[str, ...]) -> list[Any]:
    """Rows whose `key` is one of `values`, read-only."""
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    if not values:
        return []
    try:
        table = reflect(database, table_name)
        with database.reader.connect() as connection:
            query = select(*(table.c[column] for column in columns)).where(table.c[key].in_(values))
            return list(connection.execute(query).all())
    except SQLAlchemyError as error:
        raise unreachable(database, error) from None


def existing_sessions(database: Database, session_ids: list[str]) -> set[str]:
    """Which of these session ids have a row in the sessions table."""
    return {row[0] for row in read_rows(database, database.sessions_table, "session_id", session_ids, ("session_id",))}


def run_owners(database: Database, run_ids: list[str]) -> dict[str, str]:
    """The session each of these run ids belongs to, for those that exist."""
    rows = read_rows(database, database.runs_table, "run_id", run_ids, ("run_id", "session_id"))
    return {run_id: session_id for run_id, session_id in rows}


def run_positions(database: Database, session_id: str) -> list[int]:
    """The run_index of each run the session has now."""
    rows = read_rows(database, database.runs_table, "session_id", [session_id], ("run_index",))
    return [row[0] for row in rows if row[0] is not None]


def session_object(detail: dict[str, Any]) -> Any:
    """agno's AgentSession/TeamSession/WorkflowSession for a session as the API showed it."""
    from agno.session import AgentSession, TeamSession, WorkflowSession

    kind = detail["session_type"]
    session_data = dict(detail.get("session_data") or {}) if kind == "workflow" else {}
    session_data.update({"session_name": detail.get("session_name") or None})
    session_data.update({"session_state": detail.get("session_state"), "session_metrics": detail.get("metrics")})
    record = {
        "session_id": detail["session_id"],
        "user_id": detail.get("user_id"),
        "session_data": {key: value for key, value in session_data.items() if value is not None},
        "metadata": detail.get("metadata"),
        "summary": detail.get("session_summary"),
        f"{kind}_id": detail.get(f"{kind}_id"),
        f"{kind}_data": detail.get(f"{kind}_data"),
        "created_at": parse_api_time(detail["created_at"]) if detail.get("created_at") else None,
        "updated_at": parse_api_time(detail["updated_at"]) if detail.get("updated_at") else None,
    }
    classes = {"agent": AgentSession, "team": TeamSession, "workflow": WorkflowSession}
    try:
        session, reason = classes[kind].from_dict(copy.deepcopy(record)), f"not an {kind} session"
    except Exception as error:  # whatever agno's parser raises on a malformed session
        session, reason = None, type(error).__name__
    if session is None:
        usage_error(
            f"session '{detail['session_id']}' of the file is not one agno can store ({reason})",
            "give a file written by --export or --clear; nothing was changed",
        )
    return session


def run_record(run: dict[str, Any], session_id: str) -> dict[str, Any]:
    """The run as agno stores it, from the run as the API showed it; exit 2 if agno could not read it back."""
    from agno.db.utils import deserialize_run, get_run_type

    record = {key: value for key, value in run.items() if key not in API_ONLY_RUN_FIELDS}
    record["session_id"] = session_id
    if record.get("parent_run_id") == "":
        del record["parent_run_id"]  # the API shows a missing parent as ""
    if run.get("workflow_id"):
        if run.get("run_input") is not None:
            record["input"] = run["run_input"]
    else:
        media = run.get("input_media") if isinstance(run.get("input_media"), dict) else {}
        media_items = {kind: media[kind] for kind in INPUT_MEDIA if media.get(kind)}
        record["input"] = {"input_content": run.get("run_input"), **media_items}
        record["content_type"] = "str" if run.get("run_response_format", "text") == "text" else "dict"
    try:
        record["created_at"] = parse_api_time(run.get("created_at"))
        deserialize_run(get_run_type(record), copy.deepcopy(record))  # parsing copies nothing back
    except Exception as error:  # whatever agno's parser raises on a malformed run
        usage_error(
            f"run {run.get('run_id')!r} of '{session_id}' is not a run agno can read ({type(error).__name__})",
            "give a file written by --export or --clear; nothing was changed",
        )
    return record


def write_session(database: Database, detail: dict[str, Any]) -> None:
    """Insert the session row with its original created_at and updated_at."""
    database.writer.upsert_sessions([session_object(detail)], deserialize=False, preserve_updated_at=True)


def write_run(database: Database, session_id: str, user_id: str | None, record: dict[str, Any], index: int) -> None:
    """Upsert one run (a `run_record`) into the session at position `index`."""
    database.writer.upsert_run(record, session_id, user_id=user_id, run_index=index)


def delete_runs(database: Database, run_ids: list[str]) -> None:
    """Delete exactly these runs, by id."""
    database.writer.delete_runs(run_ids)


def close(database: Database) -> None:
    """Release both engines' connections."""
    database.reader.dispose()
    database.writer.close()
