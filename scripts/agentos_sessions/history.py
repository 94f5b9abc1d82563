"""Restore and clear through AgentOS's own database (--db): history that comes back.

A restore brings sessions back with their runs, in order, and their original times; a clear deletes
exactly the backed-up runs, in place. Before any write the database is checked read-only (tables,
schema version, and a probe session proving it is the one behind --base-url); every check afterwards
reads through the AgentOS API. Each action returns a `Result` and never prints.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

from . import database as db
from .api import SessionsApi
from .backup import export_session, read_backup, write_backup
from .errors import CliError, ExitCode, usage_error
from .files import SetFile
from .filters import Filters
from .model import CutShort, Result, outcome_exit, outcome_note, set_outcome
from .request import Request, pin_single_session
from .selection import get_runs, get_session, resolve, user_of, whole_document

# What a restore must bring back of the session itself, as the API shows it.
SESSION_KEYS = (
    "session_name",
    "session_state",
    "metadata",
    "session_summary",
    "user_id",
    "agent_id",
    "team_id",
    "workflow_id",
    "created_at",
    "updated_at",
)
# What an in-place clear must leave as it was.
KEPT_KEYS = ("session_name", "session_state", "metadata", "session_summary", "user_id", "created_at")
PROBE_NAME = "agentos-sessions --db probe"


class SessionExists(CliError):
    """A full restore of a session the database already has: counted as a conflict, nothing written."""


async def checked_database(api: SessionsApi, request: Request) -> db.Database:
    """Open --db and check it read-only: AgentOS's tables, agno's schema version, the database behind --base-url."""
    database = db.open_database(request.args.db, request.args.table)
    try:
        db.check_schema(database)
        await probe(api, database)
    except BaseException:
        db.close(database)
        raise
    return database


async def probe(api: SessionsApi, database: db.Database) -> None:
    """Create a session with a random id through the API, look for it in the database, delete it again."""
    probe_id = f"agentos-sessions-probe-{secrets.token_hex(8)}"
    body = {"session_id": probe_id, "session_name": PROBE_NAME}
    await api.write("POST", "/sessions", body, idempotent=False, params={"type": "agent"})
    try:
        found = probe_id in db.existing_sessions(database, [probe_id])
    finally:
        await api.write("DELETE", f"/sessions/{probe_id}", {}, idempotent=True)
    if not found:
        usage_error(
            f"{database.shown} is not the database behind {api.settings.base_url}: a session created through "
            "the API is not in it; nothing was changed",
            "give the URL that server's AgentOS uses (with --db-id/--table when it has several)",
        )


async def restore_with_history(api: SessionsApi, request: Request) -> Result:
    """Re-create the session(s) of a file with their runs and times (--runs-only: the runs, into existing sessions)."""
    document = read_backup(request.args.restore)
    several = isinstance(document, SetFile)
    if several and request.args.fields:
        usage_error(f"{request.args.restore} holds several sessions: --fields does not apply", "drop --fields")
    # Through the database every run is checked against the others before the first write: the file is held.
    entries = list(document.entries()) if isinstance(document, SetFile) else [document]
    prepared = [(entry, records_of(entry)) for entry in entries]
    check_file_run_ids(entries)
    database = await checked_database(api, request)
    try:
        check_run_ids(database, entries)
        if not several:
            return await restore_single(api, request, database, *prepared[0])
        return await restore_several(api, request, database, prepared)
    finally:
        db.close(database)


def records_of(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The entry's runs as agno stores them (exit 2, before anything is sent, if agno could not read it or one)."""
    db.session_object(entry["session"])
    return [db.run_record(run, entry["session"]["session_id"]) for run in entry["runs"]]


def check_file_run_ids(entries: list[dict[str, Any]]) -> None:
    """Refuse a file with a run without a usable run_id, or one run_id twice (exit 2, nothing sent)."""
    run_ids = [run.get("run_id") for entry in entries for run in entry["runs"]]
    if not all(isinstance(run_id, str) and run_id for run_id in run_ids) or len(set(run_ids)) != len(run_ids):
        usage_error("the file holds a run without a run_id, or one run_id twice", "nothing was changed")


def check_run_ids(database: db.Database, entries: list[dict[str, Any]]) -> None:
    """Refuse a file with a run id that belongs to another session in the database, before any write."""
    wanted = {run["run_id"]: entry["session"]["session_id"] for entry in entries for run in entry["runs"]}
    owners = db.run_owners(database, list(wanted))
    for run_id, session_id in wanted.items():
        if owners.get(run_id, session_id) != session_id:
            raise foreign_run(run_id, owners[run_id], session_id, "nothing was restored")


def foreign_run(run_id: str, owner: str, session_id: str, outcome: str) -> CliError:
    """A run id that is another session's: it is never touched."""
    return CliError(
        f"run {run_id} belongs to session '{owner}' in the database, not to '{session_id}'; {outcome}",
        ExitCode.CONFLICT,
        "run ids are unique across sessions: check the file, it may not come from this server",
    )


async def restore_single(
    api: SessionsApi, request: Request, database: db.Database, entry: dict[str, Any], records: list[dict[str, Any]]
) -> Result:
    """Restore one session and answer with it as the API reads it back."""
    after, runs = await restore_entry(api, database, entry, records, request.args.runs_only)
    return Result("session", {**after, "run_count": len(runs), "runs_restored": len(records), "via": "database"})


async def restore_several(
    api: SessionsApi, request: Request, database: db.Database, prepared: list[tuple[dict[str, Any], list[Any]]]
) -> Result:
    """Restore each session of a set file; cut short, say which are complete."""
    restored: list[dict[str, Any]] = []
    conflict: list[str] = []
    for index, (entry, records) in enumerate(prepared):
        session_id = entry["session"]["session_id"]
        try:
            await restore_entry(api, database, entry, records, request.args.runs_only)
        except CliError as error:
            if isinstance(error, SessionExists):
                conflict.append(session_id)
                continue
            raise restore_report(error, restored, conflict, prepared[index:]) from error
        except asyncio.CancelledError:
            interrupted = CliError(f"interrupted after '{session_id}' was written", ExitCode.INTERRUPTED)
            raise restore_report(interrupted, restored, conflict, prepared[index:]) from None
        restored.append({"session_id": session_id, "runs_restored": len(records)})
    note = f"already exist, not restored: {', '.join(conflict)}" if conflict else ""
    outcome = {"restored": restored, "conflict": conflict, "via": "database"}
    return Result("restored", outcome, ExitCode.CONFLICT if conflict else ExitCode.OK, note)


def restore_report(
    error: CliError, restored: list[dict[str, Any]], conflict: list[str], left: list[tuple[dict[str, Any], list[Any]]]
) -> CliError:
    """One line for a set restore cut short: complete, already there, the one that stopped, not started."""
    failed = left[0][0]["session"]["session_id"]
    rest = [entry["session"]["session_id"] for entry, _ in left[1:]]
    complete = [item["session_id"] for item in restored]
    message = (
        f"restoring stopped at '{failed}': {error.message}; complete: {', '.join(complete) or 'none'}; "
        f"already existed: {', '.join(conflict) or 'none'}; not started: {', '.join(rest) or 'none'}"
    )
    return CliError(message, error.exit_code, error.hint or "complete sessions count as conflicts when run again")


async def restore_entry(
    api: SessionsApi, database: db.Database, entry: dict[str, Any], records: list[dict[str, Any]], runs_only: bool
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Write one session's row (unless --runs-only) and runs, each check read right before the write; verify."""
    session = entry["session"]
    session_id = session["session_id"]
    exists = session_id in db.existing_sessions(database, [session_id])
    if runs_only and not exists:
        raise CliError(
            f"session '{session_id}' is not in {database.shown}; --runs-only puts runs back into an existing session",
            ExitCode.NOT_FOUND,
            "restore it whole: the same command without --runs-only",
        )
    if not runs_only and exists:
        raise SessionExists(
            f"session '{session_id}' already exists in {database.shown}; nothing was restored",
            ExitCode.CONFLICT,
            "to put its runs back into it add --runs-only; to replace it, --delete it first",
        )
    check_run_ids(database, [entry])
    positions = db.run_positions(database, session_id) if runs_only else []
    first = min(positions) - len(records) if positions else 0  # older runs go before the session's current ones
    write_entry(database, session, records, first, runs_only)
    return await verify(api, entry, runs_only)


def write_entry(
    database: db.Database, session: dict[str, Any], records: list[dict[str, Any]], first: int, runs_only: bool
) -> None:
    """The writes of one session, through agno's database class; a failure says what was written."""
    from sqlalchemy.exc import SQLAlchemyError

    session_id = session["session_id"]
    written = 0
    try:
        if not runs_only:
            db.write_session(database, session)
        for index, record in enumerate(records):
            db.write_run(database, session_id, session.get("user_id"), record, first + index)
            written += 1
    except SQLAlchemyError as error:
        row = "" if runs_only else "its session row and "
        raise CliError(
            f"writing '{session_id}' to {database.shown} failed after {row}{written} of {len(records)} run(s) "
            f"({type(error).__name__}); '{session_id}' is incomplete",
            ExitCode.ERROR,
            f"delete it (--session-id {session_id} --delete) and restore it again",
        ) from None


async def verify(
    api: SessionsApi, entry: dict[str, Any], runs_only: bool
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Read the session and its runs back through the API; exit 1 naming what differs from the file."""
    session = entry["session"]
    after = await get_session(api, session["session_id"], session.get("user_id"))
    runs = await get_runs(api, session["session_id"], user_of(session))
    differences = [] if runs_only else [key for key in SESSION_KEYS if session.get(key) != after.get(key)]
    differences += run_differences(entry["runs"], runs, runs_only)
    if differences:
        raise CliError(
            f"'{session['session_id']}' was written but reads back different from the file in: "
            f"{', '.join(differences[:8])}",
            ExitCode.ERROR,
            f"compare the file with --session-id {session['session_id']} --export -",
        )
    return after, runs


def run_differences(expected: list[dict[str, Any]], actual: list[dict[str, Any]], runs_only: bool) -> list[str]:
    """Which runs of the file are missing or differ in the API's answer, and whether their order holds."""
    by_id = {run.get("run_id"): run for run in actual}
    differences = []
    for run in expected:
        found = by_id.get(run["run_id"])
        keys = sorted(key for key in run.keys() | (found or {}).keys() if found and run.get(key) != found.get(key))
        if found is None or keys:
            differences.append(f"run {run['run_id']} ({', '.join(keys) or 'missing'})")
    wanted = [run["run_id"] for run in expected]
    if not differences and [run["run_id"] for run in actual if run["run_id"] in set(wanted)] != wanted:
        differences.append("the order of the runs")
    if not runs_only and len(actual) > len(expected):
        differences.append(f"{len(actual) - len(expected)} run(s) that the file does not hold")
    return differences


async def clear_in_place(api: SessionsApi, request: Request) -> Result:
    """Delete the backed-up runs of the selected sessions in place (all, or all but --keep-last N)."""
    if request.args.keep_copy:
        usage_error("--keep-copy does not apply with --db", "with --db the session stays; its backup holds the runs")
    if not request.selection.is_single():
        return await clear_set_in_place(api, request)
    request = await pin_single_session(api, request)
    session_id = request.single_session_id()
    if request.args.dry_run:
        return Result("clear_preview", whole_document([await preview(api, request, session_id)]))
    request.confirm(f"delete {what_goes(request)} of session '{session_id}' from its database")
    database = await checked_database(api, request)
    try:
        result = await clear_one(api, request, database, session_id)
    finally:
        db.close(database)
    if isinstance(result, str):
        raise CliError(f"session '{session_id}': {result}; nothing was cleared", ExitCode.NOT_FOUND, "list sessions")
    return result


def what_goes(request: Request) -> str:
    keep = request.args.keep_last
    return f"all runs but the newest {keep}" if keep else "all runs"


def runs_to_remove(runs: list[dict[str, Any]], keep_last: int | None) -> list[dict[str, Any]]:
    """The runs a clear deletes: all, or all but the newest N (runs come oldest first)."""
    return runs[: len(runs) - keep_last] if keep_last else runs


async def preview(api: SessionsApi, request: Request, session_id: str) -> dict[str, Any]:
    """A session with its run count and how many runs the clear would delete, for --dry-run."""
    session, runs = await asyncio.gather(
        get_session(api, session_id, request.args.user_id), get_runs(api, session_id, request.user_params())
    )
    return {**session, "run_count": len(runs), "runs_removed": len(runs_to_remove(runs, request.args.keep_last))}


class ClearFailed(CliError):
    """An in-place clear that failed after its delete was sent: its outcome is unknown until checked."""


async def clear_one(api: SessionsApi, request: Request, database: db.Database, session_id: str) -> Result | str:
    """Back the runs up, re-check they are this session's, delete exactly them by id, read the session back.

    A session that is gone or no longer matches the filters is left alone: the reason is returned.
    """
    try:
        document = await export_session(api, session_id, request.args.user_id)
    except CliError as error:
        if error.exit_code == ExitCode.NOT_FOUND:
            return "it no longer exists"
        raise
    runs = document["runs"]
    if not (
        request.filters.without_runs().matches(document["session"]) and request.filters.matches_runs(runs, len(runs))
    ):
        return "it no longer matches the filters"
    removed = runs_to_remove(runs, request.args.keep_last)
    if not removed:
        kept = {"run_count": len(runs), "runs_removed": 0, "via": "database"}
        note = f"nothing to delete: session '{session_id}' has {len(runs)} run(s); nothing changed"
        return Result("session", {**document["session"], **kept}, note=note)
    backup = write_backup({**document, "runs": removed}, request, session_id)
    run_ids = [run["run_id"] for run in removed]
    owners = db.run_owners(database, run_ids)  # read right before the delete
    for run_id in run_ids:
        if owners.get(run_id, session_id) != session_id:
            raise foreign_run(run_id, owners[run_id], session_id, f"nothing was deleted (backup {backup})")
    delete_backed_up(database, run_ids, session_id, backup)
    return await cleared_in_place(api, request, document, run_ids, backup)


def still_chosen(filters: Filters, document: dict[str, Any]) -> bool:
    """True when the filters still choose the session as exported, its runs included."""
    runs = document["runs"]
    return filters.without_runs().matches(document["session"]) and filters.matches_runs(runs, len(runs))


async def cleared_in_place(
    api: SessionsApi, request: Request, document: dict[str, Any], run_ids: list[str], backup: Path
) -> Result:
    """Read the cleared session back through the API: its deleted runs gone, its stored properties as they were."""
    session_id = document["session"]["session_id"]
    after = await get_session(api, session_id, request.args.user_id)
    runs = await get_runs(api, session_id, request.user_params())
    left = [run["run_id"] for run in runs if run["run_id"] in set(run_ids)]
    changed = [key for key in KEPT_KEYS if document["session"].get(key) != after.get(key)]
    first_input = next((run.get("run_input") for run in document["runs"]), None)
    if document["session"].get("session_name") == first_input:
        changed = [key for key in changed if key != "session_name"]  # no name of its own: AgentOS shows a message
    if left or changed:
        raise ClearFailed(
            f"'{session_id}' was cleared in the database but reads back with {left or changed} changed",
            ExitCode.ERROR,
            f"the backup {backup} holds the runs",
        )
    outcome = {"run_count": len(runs), "runs_removed": len(run_ids), "backup": str(backup), "via": "database"}
    return Result("cleared", {**after, **outcome})


def delete_backed_up(database: db.Database, run_ids: list[str], session_id: str, backup: Path) -> None:
    """Delete the runs; a database failure names the backup."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        db.delete_runs(database, run_ids)
    except SQLAlchemyError as error:
        raise ClearFailed(
            f"deleting the runs of '{session_id}' from {database.shown} failed ({type(error).__name__})",
            ExitCode.ERROR,
            f"the backup {backup} holds them; check the session, then --restore {backup} --db URL --runs-only",
        ) from None


async def clear_set_in_place(api: SessionsApi, request: Request) -> Result:
    """Clear each selected session in place, each re-checked right before its delete; cut short, say where."""
    resolved = await resolve(api, request.selection, None, request.progress)
    sessions = resolved.sessions
    if request.args.dry_run:
        previews = [await preview(api, request, session["session_id"]) for session in sessions]
        note = outcome_note({"refused": resolved.refused, "not_found": resolved.missing})
        return Result("clear_preview", whole_document(previews), note=note)
    if not request.chosen_by_ids(sessions):
        request.confirm_set(len(sessions))
    request.confirm(f"delete {what_goes(request)} of {len(sessions)} session(s) from their database")
    database = await checked_database(api, request)
    cleared: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    try:
        for index, session in enumerate(sessions):
            try:
                done = await clear_one(api, request, database, session["session_id"])
            except (CliError, asyncio.CancelledError) as error:
                raise clear_report(error, resolved, cleared, skipped, sessions[index:]) from None
            if isinstance(done, str):
                skipped.append({"session_id": session["session_id"], "reason": done})
            elif done.data["runs_removed"]:
                cleared.append({key: done.data[key] for key in ("session_id", "runs_removed", "backup")})
            else:
                reason = f"it has {done.data['run_count']} run(s): nothing to delete"
                skipped.append({"session_id": session["session_id"], "reason": reason})
    finally:
        db.close(database)
    outcome = set_outcome("cleared", cleared, skipped, resolved.refused, resolved.missing, via="database")
    return Result("cleared_set", outcome, outcome_exit(outcome), outcome_note(outcome))


def clear_report(
    error: BaseException, resolved: Any, cleared: list[dict[str, Any]], skipped: list[dict[str, str]], left: list[Any]
) -> CutShort:
    """The report of a set clear cut short: cleared (with backups), the one that stopped, and not started."""
    failed, rest = left[0]["session_id"], [session["session_id"] for session in left[1:]]
    cause = error if isinstance(error, CliError) else CliError("interrupted", ExitCode.INTERRUPTED)
    acted = isinstance(error, ClearFailed)
    outcome = set_outcome("cleared", cleared, skipped, resolved.refused, resolved.missing, via="database")
    outcome.update(unknown=[failed] if acted else [], not_done=rest if acted else [failed, *rest], error=cause.message)
    return CutShort(
        CliError(f"clearing stopped at '{failed}': {cause.message}", cause.exit_code, cause.hint or "run it again"),
        Result("cleared_set", outcome),
    )
