"""Every answer the CLI prints as JSON, defined once: a session, a run, a list, a count, each write's outcome.

`ANSWERS` maps each answer kind (`Result.kind`) to its definition. references/answers.schema.json
is generated from these (tests/schema_tools.py) and the tests validate real answers against it,
so the documentation, the schema and the output cannot drift apart. Plain typing only: nothing
here loads at run time beyond `typing`.

Keys marked NotRequired are there only sometimes; the comment beside each says when.
In the default answers a key whose value AgentOS does not have (null) is left out; with
`--fields` every asked-for key is present, null when there is no value.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired

# typing_extensions (installed with agno and pydantic): pydantic reads its TypedDict on Python 3.11.
from typing_extensions import TypedDict

Json = Any
Time = str | int | float  # AgentOS sends ISO 8601 strings or Unix seconds


class Match(TypedDict):
    """Where --search matched: one run, in its input or its reply, with up to 160 characters around the match."""

    run_id: str
    created_at: Time | None
    where: Literal["input", "reply"]
    snippet: str


class Session(TypedDict):
    """A session: its properties, not its history (the same keys in lists, inspects, dry runs and writes)."""

    session_id: str
    session_name: NotRequired[str | None]
    session_type: NotRequired[Literal["agent", "team", "workflow"] | None]
    agent_id: NotRequired[str | None]  # agent sessions
    team_id: NotRequired[str | None]  # team sessions
    workflow_id: NotRequired[str | None]  # workflow sessions
    user_id: NotRequired[str | None]
    session_state: NotRequired[dict[str, Json] | None]
    metadata: NotRequired[dict[str, Json] | None]
    session_summary: NotRequired[Json | None]
    created_at: NotRequired[Time | None]
    updated_at: NotRequired[Time | None]
    run_count: NotRequired[int | None]  # whenever runs were counted: inspect, run filters, --fields run_count, previews
    matches: NotRequired[list[Match] | None]  # with --search
    runs_removed: NotRequired[int | None]  # --clear
    backup: NotRequired[str | None]  # --clear: the backup file
    copy_session_id: NotRequired[str | None]  # --clear --keep-copy
    runs_not_restored: NotRequired[int | None]  # --restore without --db
    runs_restored: NotRequired[int | None]  # --restore --db: the runs written back
    via: NotRequired[Literal["database"] | None]  # --restore and --clear through AgentOS's database (--db)
    forked_from_session_id: NotRequired[str | None]  # --fork
    # Only when asked for with --fields: AgentOS's own detail fields, and the script's component_id.
    component_id: NotRequired[str | None]  # the agent, team or workflow id, whichever is set
    metrics: NotRequired[Json | None]
    total_tokens: NotRequired[int | None]
    chat_history: NotRequired[Json | None]
    agent_data: NotRequired[Json | None]
    team_data: NotRequired[Json | None]
    workflow_data: NotRequired[Json | None]
    session_data: NotRequired[Json | None]
    agent_session_id: NotRequired[str | None]


class Run(TypedDict):
    """A run (one message and its reply); --run-id shows it whole, lists show these keys."""

    run_id: str
    status: NotRequired[str | None]
    created_at: NotRequired[Time | None]
    run_input: NotRequired[Json | None]  # the user's message, as text
    content: NotRequired[Json | None]  # the reply
    # Only when asked for with --fields (--run-id shows every field AgentOS has).
    component_id: NotRequired[str | None]
    agent_id: NotRequired[str | None]
    team_id: NotRequired[str | None]
    workflow_id: NotRequired[str | None]
    user_id: NotRequired[str | None]
    parent_run_id: NotRequired[str | None]
    metrics: NotRequired[Json | None]
    messages: NotRequired[Json | None]
    metadata: NotRequired[Json | None]
    session_state: NotRequired[Json | None]
    reasoning_content: NotRequired[Json | None]
    reasoning_steps: NotRequired[Json | None]
    reasoning_messages: NotRequired[Json | None]
    references: NotRequired[Json | None]
    images: NotRequired[Json | None]
    videos: NotRequired[Json | None]
    audio: NotRequired[Json | None]
    files: NotRequired[Json | None]
    input_media: NotRequired[Json | None]
    run_response_format: NotRequired[Json | None]
    step_results: NotRequired[Json | None]
    step_executor_runs: NotRequired[Json | None]
    events: NotRequired[Json | None]


class PageMeta(TypedDict):
    """A listing's counts: a page has all four, a whole list (--all, named sessions) only total_count."""

    total_count: int
    page: NotRequired[int]
    limit: NotRequired[int]
    total_pages: NotRequired[int]
    cutoffs: NotRequired[dict[str, str]]  # a relative date was given: the absolute UTC time it meant


class SessionList(TypedDict):
    """Sessions: a listing, a --dry-run of --delete, a --clear preview (with run_count)."""

    data: list[Session]
    meta: PageMeta


class SessionRuns(TypedDict):
    """One session of --show-runs over a set, its runs oldest first."""

    session_id: str
    session_name: str
    runs: list[Run]


class RunsOfSet(TypedDict):
    """--show-runs over several sessions: total_count counts sessions."""

    data: list[SessionRuns]
    meta: PageMeta


class Group(TypedDict):
    count: int
    runs: NotRequired[int]  # --count --runs


class Count(TypedDict):
    """--count: sessions (and runs with --runs), per --group-by value, largest group first."""

    count: int
    runs: NotRequired[int]  # --runs
    groups: NotRequired[dict[str, int | Group]]  # --group-by; a Group with --runs


class LeftAlone(TypedDict):
    """A session a set write did not touch, and why."""

    session_id: str
    reason: str


class ChangedMeanwhile(TypedDict):
    session_id: str
    keys: list[str]  # "metadata.k", "session_state.k": not what was written


class Outcome(TypedDict):
    """What every write on a set reports beside what it did; exit 0 for skipped, 1 for refused, 3 for not_found."""

    skipped: list[LeftAlone]  # no longer chosen when re-checked right before the write
    refused: list[LeftAlone]  # an id no URL can address: left alone
    not_found: list[str]  # ids or names that chose no session
    unknown: NotRequired[list[str]]  # cut short: may or may not have happened, check them
    not_done: NotRequired[list[str]]  # cut short: not started
    error: NotRequired[str]  # cut short: why (also on stderr); exit code of the cause


class Deleted(Outcome):
    deleted: list[str]


class Updated(Session):
    """A session a set --update wrote: its id, name, and the written fields as AgentOS now has them."""


class UpdatedSet(Outcome):
    updated: list[Updated]
    changed_meanwhile: NotRequired[list[ChangedMeanwhile]]  # another writer changed written keys: exit 1
    unverified: NotRequired[list[str]]  # written, but the re-read that checks them failed


class UpdatePreview(TypedDict):
    """--update --dry-run: what each session would hold (state, metadata, summary)."""

    data: list[dict[str, Json]]
    not_found: list[str]
    refused: list[LeftAlone]
    meta: NotRequired[PageMeta]


class ClearedEntry(TypedDict):
    session_id: str
    runs_removed: int
    backup: str
    copy_session_id: NotRequired[str]  # --keep-copy


class ClearedSet(Outcome):
    cleared: list[ClearedEntry]
    via: NotRequired[Literal["database"]]  # --db: deleted in place, the sessions stay


class Exported(TypedDict):
    """--export FILE: one session (session_id) or a set (sessions, and what was left out)."""

    path: str
    runs: int
    session_id: NotRequired[str]  # one session
    sessions: NotRequired[int]  # a set
    skipped: NotRequired[list[LeftAlone]]
    refused: NotRequired[list[LeftAlone]]
    not_found: NotRequired[list[str]]


class RestoredEntry(TypedDict):
    session_id: str
    runs_not_restored: NotRequired[int]  # without --db: AgentOS's API cannot insert runs; they stay in the file
    runs_restored: NotRequired[int]  # --db: the runs are back, in order, with their times


class Restored(TypedDict):
    """--restore of a set file; without --db, created_at and updated_at become the time of the restore."""

    restored: list[RestoredEntry]
    conflict: list[str]  # already exist: left as they are, exit 6
    via: NotRequired[Literal["database"]]  # --db
    unknown: NotRequired[list[str]]  # cut short: may or may not have been re-created, check them
    not_done: NotRequired[list[str]]  # cut short: not started
    error: NotRequired[str]  # cut short: why (also on stderr); exit code of the cause


class Forked(TypedDict):
    """--fork: the copy, and the original's run count before and after (unchanged)."""

    session_id: str
    session_name: NotRequired[str | None]
    session_type: NotRequired[str | None]
    agent_id: NotRequired[str | None]
    team_id: NotRequired[str | None]
    user_id: NotRequired[str | None]
    created_at: NotRequired[Time | None]
    run_count: int
    forked_from_session_id: str
    original_run_count: NotRequired[dict[str, int] | None]  # {"before": n, "after": n}


class Compaction(TypedDict):
    """--compact: AgentOS's own outcome."""

    status: str
    message: NotRequired[str | None]
    compacted: NotRequired[bool]
    record: NotRequired[Json]
    metrics: NotRequired[Json]
    session_id: NotRequired[str]
    agent_id: NotRequired[str]


class NothingToClear(TypedDict):
    session_id: str
    run_count: int
    runs_removed: int


class Chat(TypedDict):
    session_id: str
    run_id: str | None
    content: Json


class Error(TypedDict):
    """What stderr carries with --json when a command fails (one line)."""

    error: str
    hint: str
    exit_code: int


# Which command prints each answer kind, for references/answers.md.
PRINTED_BY = {
    "sessions": "a listing (no action flag), several `--session-id`/`--session-name`, filters, `--all`",
    "dry_run": "`--delete --dry-run`",
    "clear_preview": "`--clear --dry-run` (sessions with `run_count`)",
    "session": "`--session-id` alone (inspect), `--create`, `--rename`, `--update` of one session, `--restore` of one",
    "cleared": "`--clear` of one session",
    "nothing_to_clear": "`--clear --keep-copy` of a session without runs",
    "forked": "`--fork`",
    "compaction": "`--compact`",
    "runs": "`--show-runs` of one session (a JSON list)",
    "run": "`--run-id` (the whole run, as AgentOS has it)",
    "session_runs": "`--show-runs` of several sessions",
    "count": "`--count`",
    "deleted": "`--delete`",
    "updated": "`--update` of several sessions",
    "update_preview": "`--update --dry-run`",
    "cleared_set": "`--clear` of several sessions",
    "exported": "`--export FILE`",
    "restored": "`--restore FILE` of a set export",
    "document": "`--export -` (the export file itself, on stdout)",
    "chat": "`--chat`",
    "error": "any failure, on stderr with `--json`",
}

ANSWERS: dict[str, Any] = {
    "sessions": SessionList,
    "dry_run": SessionList,
    "clear_preview": SessionList,
    "session": Session,
    "cleared": Session,
    "nothing_to_clear": NothingToClear,
    "forked": Forked,
    "compaction": Compaction,
    "runs": list[Run],
    "run": dict[str, Json],
    "session_runs": RunsOfSet,
    "count": Count,
    "deleted": Deleted,
    "updated": UpdatedSet,
    "update_preview": UpdatePreview,
    "cleared_set": ClearedSet,
    "exported": Exported,
    "restored": Restored,
    "document": dict[str, Json],
    "chat": Chat,
    "error": Error,
}
