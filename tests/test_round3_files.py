"""The files --export, --clear and --restore read and write (issue 20: items 10-13, 19, and the "Also" list)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from agentos_sessions import cli as cli_module
from agentos_sessions.model import MAX_ID_LENGTH
from cli_helpers import Cli
from conftest import ROOT, AgentOSServer
from test_sets import detail, make, new_user

EXPORT = "agentos-session-export/1"
SET_EXPORT = "agentos-sessions-export/1"
NAME_MAX = 255


def create(server: AgentOSServer, session_id: str, runs: tuple[str, ...] = ()) -> str:
    """A session with exactly this id, owned by the agent `assistant`, with a real run per message."""
    body = {"session_id": session_id, "agent_id": "assistant", "session_name": "Odd id"}
    httpx.post(f"{server.url}/sessions", params={"type": "agent"}, json=body, timeout=30).raise_for_status()
    for message in runs:
        form = {"message": message, "session_id": session_id, "stream": "false"}
        httpx.post(f"{server.url}/agents/assistant/runs", data=form, timeout=60).raise_for_status()
    return session_id


def segment(session_id: str) -> str:
    """The id as one path segment: AgentOS decodes the path once, so '%' and '/' must be encoded."""
    return quote(session_id, safe="")


def run_count(server: AgentOSServer, session_id: str) -> int:
    return len(httpx.get(f"{server.url}/sessions/{segment(session_id)}/runs", timeout=30).json())


def entry(session_id: str, **session: Any) -> dict[str, Any]:
    """One entry of a multi-session export: an agent session of `assistant` with no runs."""
    base = {"session_id": session_id, "session_type": "agent", "agent_id": "assistant", "session_name": "From file"}
    return {"session": {**base, **session}, "runs": []}


def set_file(path: Path, entries: list[Any]) -> Path:
    path.write_text(json.dumps({"format": SET_EXPORT, "exported_at": "2026-01-01T00:00:00Z", "sessions": entries}))
    return path


def fresh_id(prefix: str = "r3") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def gone(server: AgentOSServer, *session_ids: str) -> bool:
    """True when none of these sessions exists on the server."""
    return all(detail(server, session_id) is None for session_id in session_ids)


# 10. A restore file with one wrong-typed entry is refused whole, before anything is sent

BAD_ENTRIES = {
    "state-a-list": lambda sid: entry(sid, session_state=["not", "an", "object"]),
    "metadata-a-string": lambda sid: entry(sid, metadata="not an object"),
    "run-not-an-object": lambda sid: {**entry(sid), "runs": [{"run_id": "r1"}, "not a run"]},
    "bad-session-type": lambda sid: entry(sid, session_type="robot"),
    "name-not-text": lambda sid: entry(sid, session_name=["x"]),
    "user-not-text": lambda sid: entry(sid, user_id=7),
    "session-not-an-object": lambda sid: {"session": sid, "runs": []},
}


@pytest.mark.parametrize("bad", list(BAD_ENTRIES), ids=list(BAD_ENTRIES))
def test_restore_with_one_wrong_typed_entry_restores_nothing_and_names_it(
    cli: Cli, agentos: AgentOSServer, tmp_path: Path, bad: str
) -> None:
    good, wrong, after = fresh_id(), fresh_id(), fresh_id()
    path = set_file(tmp_path / "set.json", [entry(good), BAD_ENTRIES[bad](wrong), entry(after)])
    outcome = cli("--restore", str(path))
    try:
        assert outcome.code == 2, outcome.err
        assert outcome.out == "" and len(outcome.err.splitlines()) == 1 and "Traceback" not in outcome.err
        assert "sessions[1]" in outcome.err and "nothing was restored" in outcome.err
        if bad != "session-not-an-object":
            assert wrong in outcome.err
        assert "sessions[0]" not in outcome.err and "sessions[2]" not in outcome.err
        assert gone(agentos, good, after)
    finally:
        for session_id in (good, wrong, after):
            httpx.delete(f"{agentos.url}/sessions/{session_id}", timeout=30)


def test_restore_names_every_bad_entry_with_its_index_and_id(cli: Cli, agentos: AgentOSServer, tmp_path: Path) -> None:
    ids = [fresh_id() for _ in range(5)]
    entries = [
        entry(ids[0]),
        entry(ids[1], session_state=[1]),
        entry(ids[2]),
        entry("bad/id"),
        entry(ids[4], session_type="robot"),
    ]
    outcome = cli("--restore", str(set_file(tmp_path / "set.json", entries)))
    assert outcome.code == 2 and len(outcome.err.splitlines()) == 1
    for index, shown in ((1, ids[1]), (3, "bad/id"), (4, ids[4])):
        assert f"sessions[{index}] '{shown}'" in outcome.err
    assert "3 bad entries" in outcome.err
    assert "session_state" in outcome.err and "session_type" in outcome.err
    assert gone(agentos, *ids)


def test_a_single_session_restore_file_with_a_list_for_state_is_refused_before_sending(
    cli: Cli, agentos: AgentOSServer, tmp_path: Path
) -> None:
    session_id = fresh_id()
    path = tmp_path / "one.json"
    path.write_text(json.dumps({"format": EXPORT, **entry(session_id, session_state=[1, 2])}))
    outcome = cli("--restore", str(path))
    assert outcome.code == 2 and "session_state" in outcome.err and session_id in outcome.err
    assert gone(agentos, session_id)


# 11. A restore file holding one id twice is refused up front


def test_restore_file_with_a_duplicated_id_restores_nothing_and_names_the_id(
    cli: Cli, agentos: AgentOSServer, tmp_path: Path
) -> None:
    twice, once = fresh_id("twice"), fresh_id("once")
    path = set_file(tmp_path / "set.json", [entry(twice), entry(once), entry(twice, session_name="Second copy")])
    outcome = cli("--restore", str(path), "--json")
    assert outcome.code == 2 and outcome.out == ""
    error = outcome.error()
    assert twice in error["error"] and "sessions[2]" in error["error"] and "sessions[0]" in error["error"]
    assert once not in error["error"]
    assert gone(agentos, twice, once)


# 12. The backup file name always fits and is safe, whatever the id


@pytest.mark.parametrize(
    "session_id",
    [
        "L" * (MAX_ID_LENGTH - 33) + uuid.uuid4().hex[:33],
        "会話" * (MAX_ID_LENGTH // 2 - 6) + uuid.uuid4().hex[:12],
        f"dots..{uuid.uuid4().hex[:8]} 50%2D off:colon*star'quote\"<>|",
    ],
    ids=["256-ascii", "256-multibyte", "odd-characters"],
)
def test_clear_of_a_session_whose_id_fills_a_file_name_writes_a_backup_that_restores(
    cli: Cli, agentos: AgentOSServer, tmp_path: Path, session_id: str
) -> None:
    assert len(session_id) <= MAX_ID_LENGTH
    create(agentos, session_id, runs=("hello",))
    backups = tmp_path / "backups"
    try:
        cleared = cli.json("--session-id", session_id, "--clear", "--yes", "--backup-dir", str(backups))
        backup = Path(cleared["backup"])
        assert backup.parent == backups and backup.is_file() and run_count(agentos, session_id) == 0
        assert len(f".{backup.name}.partial".encode()) <= NAME_MAX
        assert all(c.isascii() and (c.isalnum() or c in "-_.") for c in backup.name), backup.name
        assert hashlib.sha256(session_id.encode()).hexdigest()[:8] in backup.name
        kept = json.loads(backup.read_text(encoding="utf-8"))
        assert kept["session"]["session_id"] == session_id and len(kept["runs"]) == 1
        cli.json("--session-id", session_id, "--delete")
        restored = cli.json("--restore", str(backup))
        assert restored["session_id"] == session_id and restored["runs_not_restored"] == 1
    finally:
        httpx.delete(f"{agentos.url}/sessions/{segment(session_id)}", timeout=30)


@pytest.mark.parametrize("session_id", ["50% off", "with space", "a/b", "..", "~home", "x" * 1000, "é" * 300])
def test_backup_file_names_are_short_portable_and_distinct(session_id: str) -> None:
    from agentos_sessions.files import backup_name

    name = backup_name(session_id, "20260101T000000", "0a1b2c3d")
    assert len(f".{name}.partial".encode()) <= NAME_MAX and name.startswith("agentos-backup-")
    assert all(c.isascii() and (c.isalnum() or c in "-_.") for c in name), name
    assert name.endswith("-20260101T000000-0a1b2c3d.json")
    assert backup_name(session_id + "!", "20260101T000000", "0a1b2c3d") != name


def test_a_plain_id_keeps_its_readable_backup_name(cli: Cli, agentos: AgentOSServer, tmp_path: Path) -> None:
    session_id = make(agentos, new_user(), "Plain", runs=("hi",))
    cleared = cli.json("--session-id", session_id, "--clear", "--yes", "--backup-dir", str(tmp_path))
    assert Path(cleared["backup"]).name.startswith(f"agentos-backup-{session_id}-")


# 13. A dangling symlinked folder is refused with exit 2, nothing changed


def test_export_into_a_dangling_symlinked_folder_is_refused_naming_it(
    cli: Cli, agentos: AgentOSServer, tmp_path: Path
) -> None:
    session_id = make(agentos, new_user(), "Exported")
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "missing")
    outcome = cli("--session-id", session_id, "--export", str(link / "out.json"))
    assert outcome.code == 2 and outcome.out == "" and "Traceback" not in outcome.err
    assert str(link) in outcome.err and len(outcome.err.splitlines()) == 1
    assert f"a link to {tmp_path / 'missing'}, which does not exist" in outcome.err
    assert not (tmp_path / "missing").exists() and link.is_symlink()


def test_clear_with_a_dangling_symlinked_backup_dir_is_refused_and_keeps_the_runs(
    cli: Cli, agentos: AgentOSServer, tmp_path: Path
) -> None:
    session_id = make(agentos, new_user(), "Kept", runs=("hi",))
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "missing")
    outcome = cli("--session-id", session_id, "--clear", "--yes", "--backup-dir", str(link))
    assert outcome.code == 2 and "try again" not in outcome.err and str(link) in outcome.err
    assert "which does not exist" in outcome.err
    assert len(outcome.err.splitlines()) == 1 and "Traceback" not in outcome.err
    assert run_count(agentos, session_id) == 1 and not (tmp_path / "missing").exists()


def test_a_set_clear_with_a_dangling_symlinked_backup_dir_clears_none_of_them(
    cli: Cli, agentos: AgentOSServer, tmp_path: Path
) -> None:
    user = new_user()
    sessions = [make(agentos, user, "One", runs=("hi",)), make(agentos, user, "Two", runs=("hi",))]
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "missing")
    outcome = cli("--clear", "--user-id", user, "--yes", "--backup-dir", str(link))
    assert outcome.code == 2 and str(link) in outcome.err and "Traceback" not in outcome.err
    assert [run_count(agentos, session_id) for session_id in sessions] == [1, 1]


def test_an_export_file_name_too_long_for_the_file_system_is_exit_2(
    cli: Cli, agentos: AgentOSServer, tmp_path: Path
) -> None:
    session_id = make(agentos, new_user(), "Exported")
    outcome = cli("--session-id", session_id, "--export", str(tmp_path / ("x" * 300 + ".json")))
    assert outcome.code == 2 and "File name too long" in outcome.err and "Traceback" not in outcome.err
    assert list(tmp_path.iterdir()) == []


def test_an_export_file_name_that_just_fits_is_written_although_its_temporary_name_would_not(
    cli: Cli, agentos: AgentOSServer, tmp_path: Path
) -> None:
    session_id = make(agentos, new_user(), "Exported")
    target = tmp_path / ("é" * 125 + ".json")  # 255 bytes: the longest name a file can have
    assert len(target.name.encode()) == NAME_MAX
    summary = cli.json("--session-id", session_id, "--export", str(target))
    assert summary["path"] == str(target) and list(tmp_path.iterdir()) == [target]
    assert json.loads(target.read_text())["session"]["session_id"] == session_id


def test_export_into_a_symlinked_folder_that_exists_writes_through_it(
    cli: Cli, agentos: AgentOSServer, tmp_path: Path
) -> None:
    session_id = make(agentos, new_user(), "Through a link")
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    cli.json("--session-id", session_id, "--export", str(tmp_path / "link" / "out.json"))
    assert json.loads((tmp_path / "real" / "out.json").read_text())["session"]["session_id"] == session_id


# 19. Relative XDG_STATE_HOME is ignored; backup and export paths are absolute


def test_a_relative_xdg_state_home_is_ignored(
    cli: Cli, agentos: AgentOSServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    session_id = make(agentos, new_user(), "Backed up", runs=("hi",))
    monkeypatch.delenv("AGENTOS_BACKUP_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", "relative-state")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    cleared = cli.json("--session-id", session_id, "--clear", "--yes")
    expected = tmp_path / "home" / ".local" / "state" / "agentos-sessions" / "backups"
    assert Path(cleared["backup"]).parent == expected and Path(cleared["backup"]).is_file()
    assert not (tmp_path / "relative-state").exists()


@pytest.mark.parametrize("where", ["flag", "environment"])
def test_a_relative_backup_dir_is_printed_and_answered_as_an_absolute_path(
    cli: Cli, agentos: AgentOSServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    session_id = make(agentos, new_user(), "Backed up", runs=("hi",))
    extra = ["--backup-dir", "rel-backups"] if where == "flag" else []
    if where == "environment":
        monkeypatch.setenv("AGENTOS_BACKUP_DIR", "rel-backups")
    cleared = cli.json("--session-id", session_id, "--clear", "--yes", *extra)
    backup = Path(cleared["backup"])
    assert backup.is_absolute() and backup.parent == tmp_path / "rel-backups" and backup.is_file()
    table = cli("--session-id", make(agentos, new_user(), "Again", runs=("hi",)), "--clear", "--yes", *extra)
    assert table.code == 0 and f"{tmp_path}/rel-backups/agentos-backup-" in table.out


def test_an_export_to_a_relative_path_answers_its_absolute_path(
    cli: Cli, agentos: AgentOSServer, tmp_path: Path
) -> None:
    session_id = make(agentos, new_user(), "Exported")
    summary = cli.json("--session-id", session_id, "--export", "out.json")
    assert summary["path"] == str(tmp_path / "out.json") and (tmp_path / "out.json").is_file()


# $HOME unset with no passwd entry


def no_home(monkeypatch: pytest.MonkeyPatch) -> None:
    """No HOME, no backup folder variables, and no passwd entry for this uid."""
    import pwd

    for name in ("HOME", "AGENTOS_BACKUP_DIR", "XDG_STATE_HOME"):
        monkeypatch.delenv(name, raising=False)

    def no_entry(uid: int) -> Any:
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.setattr(pwd, "getpwuid", no_entry)


def test_clear_without_a_home_folder_says_where_to_put_backups_and_clears_nothing(
    cli: Cli, agentos: AgentOSServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    session_id = make(agentos, new_user(), "Homeless", runs=("hi",))
    no_home(monkeypatch)
    outcome = cli("--session-id", session_id, "--clear", "--yes")
    assert outcome.code == 2 and "Traceback" not in outcome.err and len(outcome.err.splitlines()) == 1
    for way in ("--backup-dir", "$AGENTOS_BACKUP_DIR", "$XDG_STATE_HOME"):
        assert way in outcome.err
    assert run_count(agentos, session_id) == 1


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to run as an unknown uid")
def test_clear_as_a_user_with_no_home_and_no_passwd_entry_is_exit_2(agentos: AgentOSServer, tmp_path: Path) -> None:
    import pwd

    uid = next(uid for uid in range(54321, 60000) if not any(entry.pw_uid == uid for entry in pwd.getpwall()))
    session_id = make(agentos, new_user(), "Homeless", runs=("hi",))
    env = {"PATH": os.environ["PATH"], "PYTHONDONTWRITEBYTECODE": "1"}
    as_nobody = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", sys.executable]
    script = str(ROOT / "scripts" / "manage_sessions.py")
    readable = subprocess.run([*as_nobody, "-c", f"open({script!r}).close()"], env=env, cwd="/", capture_output=True)
    if readable.returncode != 0:  # a checkout in a 0700 folder (mktemp -d): another uid cannot even read it
        pytest.skip("the checkout is not readable by another user; the in-process no-home test covers the rest")
    command = [
        *as_nobody, script,
        "--base-url", agentos.url, "--session-id", session_id, "--clear", "--yes",
    ]  # fmt: skip
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "--backup-dir" in done.stderr
    assert run_count(agentos, session_id) == 1


# A restore file too large to read is refused before it is read; every export stays under that size


def test_a_restore_file_over_the_size_limit_is_refused_before_reading(
    cli: Cli, agentos: AgentOSServer, tmp_path: Path
) -> None:
    from agentos_sessions.files import MAX_RESTORE_BYTES

    huge = tmp_path / "huge.json"
    with huge.open("wb") as file:
        file.truncate(MAX_RESTORE_BYTES + 1)  # sparse: no disk, no time
    outcome = cli("--restore", str(huge))
    assert outcome.code == 2 and str(huge) in outcome.err and "GiB" in outcome.err
    assert "Traceback" not in outcome.err and len(outcome.err.splitlines()) == 1


def test_a_restore_file_at_the_size_limit_is_read(
    cli: Cli, agentos: AgentOSServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentos_sessions import files

    session_id = make(agentos, new_user(), "Exported")
    target = tmp_path / "one.json"
    cli.json("--session-id", session_id, "--export", str(target))
    monkeypatch.setattr(files, "MAX_RESTORE_BYTES", target.stat().st_size)
    cli.json("--session-id", session_id, "--delete")
    assert cli.json("--restore", str(target))["session_id"] == session_id


@pytest.mark.parametrize("where", ["file", "stdout"])
def test_an_export_larger_than_restore_reads_is_refused_and_writes_nothing(
    cli: Cli, agentos: AgentOSServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    from agentos_sessions import files

    user = new_user()
    make(agentos, user, "Big", session_state={"text": "x" * 5000})
    make(agentos, user, "Big too", session_state={"text": "y" * 5000})
    monkeypatch.setattr(files, "MAX_RESTORE_BYTES", 8000)
    target = tmp_path / "set.json"
    outcome = cli("--export", "-" if where == "stdout" else str(target), "--user-id", user)
    assert outcome.code == 2 and "--restore" in outcome.err
    assert not target.exists() and list(tmp_path.iterdir()) == []
    if where == "file":
        assert outcome.out == ""
    else:  # a set export streams: cut short at the limit, stdout holds an incomplete document (README)
        assert outcome.out.startswith('{\n  "format": "agentos-sessions-export/1"') and len(outcome.out) <= 8000
        with pytest.raises(json.JSONDecodeError):
            json.loads(outcome.out)


def test_an_export_too_large_indented_is_written_compact_and_restores(
    cli: Cli, agentos: AgentOSServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentos_sessions import files

    deep: Any = "bottom"
    for _ in range(120):
        deep = {"k": deep}
    session_id = make(agentos, new_user(), "Deep", session_state={"deep": deep})
    first = tmp_path / "indented.json"
    cli.json("--session-id", session_id, "--export", str(first))
    compact = len(json.dumps(json.loads(first.read_text()), ensure_ascii=False, separators=(",", ":"))) + 1
    assert first.stat().st_size > 4 * compact
    monkeypatch.setattr(files, "MAX_RESTORE_BYTES", compact + 100)
    target = tmp_path / "compact.json"
    cli.json("--session-id", session_id, "--export", str(target))
    assert target.stat().st_size <= compact + 100 and "\n" not in target.read_text().rstrip("\n")
    cli.json("--session-id", session_id, "--delete")
    assert cli.json("--restore", str(target), "--fields", "session_state")["session_state"] == {"deep": deep}


def test_a_clear_whose_backup_would_be_too_large_to_restore_clears_nothing(
    cli: Cli, agentos: AgentOSServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentos_sessions import files

    session_id = make(agentos, new_user(), "Big", runs=("hi",), session_state={"text": "x" * 5000})
    monkeypatch.setattr(files, "MAX_RESTORE_BYTES", 4000)
    outcome = cli("--session-id", session_id, "--clear", "--yes", "--backup-dir", str(tmp_path / "b"))
    assert outcome.code == 2 and "--restore" in outcome.err
    assert run_count(agentos, session_id) == 1


# --help names the real default backup folder


def test_help_names_the_default_backup_folder_backup_dir_uses(
    cli: Cli, agentos: AgentOSServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # argparse would break the folder at its hyphen
    help_text = cli_module.build_parser().format_help()
    assert "current dir" not in help_text
    assert "$XDG_STATE_HOME/agentos-sessions/backups" in help_text and "$AGENTOS_BACKUP_DIR" in help_text
    monkeypatch.delenv("AGENTOS_BACKUP_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    cleared = cli.json("--session-id", make(agentos, new_user(), "Default", runs=("hi",)), "--clear", "--yes")
    assert Path(cleared["backup"]).parent == tmp_path / "xdg" / "agentos-sessions" / "backups"
