"""--restore of a set file reads it an entry at a time, restores several at once in file order, and reports
exactly when cut short (issue 23: the round trip of a 200,000-session export in flat memory)."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from agentos_sessions import backup, files, jsonread
from agentos_sessions.jsonread import NotJson, ValueTooLarge, members
from agentos_sessions.model import strict_decoder
from cli_helpers import Cli
from conftest import AgentOSServer
from faultproxy import FaultProxy
from test_sets import detail, make, new_user

ROOT = Path(__file__).resolve().parent.parent
SAMPLE: dict[str, Any] = {
    "format": "x/1",
    "before": [1, -2.5e-3, 12345678901234567890, True, False, None],
    "sessions": [
        {"text": "caf\u00e9 \u6f22 \U0001f389", "escaped": '\\u00e9 " \\\\ \n'},
        {"nested": {"deep": [[[]]], "n": 0.1}},
        7,
        1234567,
        -2.5e-3,
        True,
        None,
        "last",
    ],
    "count": 9876543210,
    "after": {"a": "b"},
}


def read_all(text: str | bytes, limit: int = 1 << 30) -> tuple[dict[str, Any], list[Any]]:
    data = text.encode() if isinstance(text, str) else text
    head: dict[str, Any] = {}
    items: list[Any] = []
    for member in members(io.BytesIO(data), strict_decoder(), "sessions", limit):
        if member.item:
            items.append(member.value)
        else:
            head[member.name] = member.value
    return head, items


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 8, 64, 1 << 20])
@pytest.mark.parametrize("indent", [None, 2])
def test_members_read_the_same_values_as_json_loads_however_the_file_is_cut(
    monkeypatch: pytest.MonkeyPatch, chunk: int, indent: int | None
) -> None:
    monkeypatch.setattr(jsonread, "CHUNK", chunk)
    text = json.dumps(SAMPLE, indent=indent, ensure_ascii=indent is None)
    head, items = read_all(text)
    assert items == SAMPLE["sessions"]
    assert head == {key: value for key, value in SAMPLE.items() if key != "sessions"}
    assert list(head) == ["format", "before", "count", "after"]


def test_a_list_member_other_than_the_streamed_one_and_an_empty_object_are_read_whole() -> None:
    assert read_all('{"sessions": {"a": 1}, "other": [1, 2]}') == ({"sessions": {"a": 1}, "other": [1, 2]}, [])
    assert read_all(" {} \n") == ({}, [])
    assert read_all('{"sessions": []}') == ({}, [])


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[1, 2]",
        '{"a": 1} x',
        '{"a": 1',
        '{"a": 1, "a": 2}',
        '{"sessions": [1, 2',
        '{"sessions": [1 2]}',
        '{"a": tru}',
        '{"a": "unterminated}',
        "{1: 2}",
    ],
)
@pytest.mark.parametrize("chunk", [1, 4, 1 << 20])
def test_text_that_is_not_one_json_object_is_refused(monkeypatch: pytest.MonkeyPatch, text: str, chunk: int) -> None:
    monkeypatch.setattr(jsonread, "CHUNK", chunk)
    with pytest.raises((NotJson, json.JSONDecodeError)):
        read_all(text)


def test_values_agentos_cannot_store_and_values_over_the_limit_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="NaN"):
        read_all('{"sessions": [NaN]}')
    with pytest.raises(ValueError, match="too large"):
        read_all('{"sessions": [1e999]}')
    monkeypatch.setattr(jsonread, "CHUNK", 16)
    with pytest.raises(ValueTooLarge):
        read_all('{"sessions": ["' + "x" * 500 + '"]}', limit=100)
    assert read_all('{"sessions": ["' + "x" * 90 + '"]}', limit=100)[1] == ["x" * 90]
    with pytest.raises(UnicodeDecodeError):
        read_all(b'{"a": "\xff"}')


def entry(session_id: str, runs: int = 0, size: int = 0) -> dict[str, Any]:
    session = {"session_id": session_id, "session_type": "agent", "agent_id": "assistant", "user_id": "u@example.com"}
    session["session_state"] = {"text": "s" * size}
    return {"session": session, "runs": [{"run_id": f"{session_id}-r{n}"} for n in range(runs)]}


def set_file(path: Path, entries: list[dict[str, Any]], indent: int | None = 2) -> Path:
    document = {"format": files.SET_EXPORT_FORMAT, "exported_at": "2026-12-03T00:00:00Z", "sessions": entries}
    path.write_text(json.dumps(document, indent=indent))
    return path


def test_a_set_file_is_checked_and_restored_an_entry_at_a_time_in_flat_memory(tmp_path: Path) -> None:
    path = set_file(tmp_path / "big.json", [entry(f"flat-{n:05d}", size=4000) for n in range(5000)], indent=None)
    assert path.stat().st_size > 20_000_000
    tracemalloc.start()
    try:
        checked = files.read_backup(str(path))
        assert isinstance(checked, files.SetFile) and len(checked.ids) == 5000
        checking_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        count = sum(1 for _ in checked.entries())
        reading_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 5000
    # The file is 20 MB; what is held is the read buffer (1 MB, copied as it moves on), one entry, and the ids.
    assert checking_peak < 8_000_000 and reading_peak < 8_000_000, (checking_peak, reading_peak)


def test_a_file_with_many_bad_entries_names_the_first_ten_on_one_line(cli: Cli, tmp_path: Path) -> None:
    entries = [entry(f"ok-{n}") for n in range(3)] + [{"session": {"session_id": f"bad-{n}"}} for n in range(25)]
    outcome = cli("--restore", str(set_file(tmp_path / "bad.json", entries)))
    assert outcome.code == 2 and len(outcome.err.splitlines()) == 1
    assert "holds 25 bad entries, so nothing was restored" in outcome.err
    assert "sessions[3] 'bad-0'" in outcome.err and "sessions[12] 'bad-9'" in outcome.err
    assert "bad-10'" not in outcome.err and "and 15 more" in outcome.err


def exported_set(cli: Cli, agentos: AgentOSServer, tmp_path: Path, count: int) -> tuple[Path, list[str]]:
    """`count` sessions of a new user exported to a file, then deleted; the file and its ids in file order."""
    user = new_user()
    for n in range(count):
        make(agentos, user, f"Restore {n}", metadata={"n": n}, runs=("hi",) if n == 0 else ())
    target = tmp_path / "set.json"
    assert cli.json("--export", str(target), "--user-id", user)["sessions"] == count
    ids = [item["session"]["session_id"] for item in json.loads(target.read_text())["sessions"]]
    cli.json("--user-id", user, "--delete", "--yes")
    return target, ids


def test_a_set_restore_answers_in_file_order_and_again_with_conflicts(
    cli: Cli, agentos: AgentOSServer, tmp_path: Path
) -> None:
    target, ids = exported_set(cli, agentos, tmp_path, 20)
    restored = cli.json("--restore", str(target))
    assert [item["session_id"] for item in restored["restored"]] == ids and restored["conflict"] == []
    assert [item["runs_not_restored"] for item in restored["restored"]].count(1) == 1
    assert all(detail(agentos, session_id)["metadata"]["n"] in range(20) for session_id in ids)
    again = cli("--restore", str(target), "--json")
    assert again.code == 6 and again.json() == {"restored": [], "conflict": ids}


@pytest.fixture
def via(proxy: FaultProxy, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.chdir(tmp_path)
    return Cli(capsys, proxy.url)


def test_a_set_restore_cut_by_a_failed_write_reports_each_session_and_the_rerun_finishes_it(
    cli: Cli, via: Cli, agentos: AgentOSServer, proxy: FaultProxy, tmp_path: Path
) -> None:
    target, ids = exported_set(cli, agentos, tmp_path, 40)
    proxy.fail(503, times=1, method="POST", path="/sessions")
    outcome = via("--restore", str(target), "--json")
    answer = outcome.json()
    assert outcome.code == 1 and "restoring stopped" in outcome.err
    # One of the first 16 writes (sent at once) failed; those sent before it was answered finished, in file
    # order; no new write started after it; the rest were never sent.
    failed, not_done = answer["unknown"], answer["not_done"]
    sent = ids[: len(ids) - len(not_done)]
    assert len(failed) == 1 and failed[0] in ids[:16] and 16 <= len(sent) <= 16 + ids.index(failed[0])
    assert not_done == ids[len(sent) :]
    assert [item["session_id"] for item in answer["restored"]] == [i for i in sent if i != failed[0]]
    assert answer["conflict"] == [] and "injected by the fault proxy" in answer["error"]
    assert 1 < proxy.max_in_flight <= 16  # several at once, never more than the bound
    assert all(detail(agentos, session_id) is None for session_id in [*failed, *not_done])
    rerun = via("--restore", str(target), "--json")
    rest = [i for i in ids if i in failed or i in not_done]
    assert rerun.code == 6 and [item["session_id"] for item in rerun.json()["restored"]] == rest
    assert rerun.json()["conflict"] == [i for i in ids if i not in rest]


def test_a_set_file_changed_between_its_check_and_its_restore_stops_the_restore(
    cli: Cli, agentos: AgentOSServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target, ids = exported_set(cli, agentos, tmp_path, 3)
    document = json.loads(target.read_text())
    intruder = f"intruder-{uuid.uuid4().hex[:8]}"
    document["sessions"][1]["session"]["session_id"] = intruder
    checked = files.read_backup

    def another_writer_meanwhile(path_text: str) -> Any:
        result = checked(path_text)
        target.write_text(json.dumps(document))  # after the check, before the restore reads it again
        return result

    monkeypatch.setattr(backup, "read_backup", another_writer_meanwhile)
    outcome = cli("--restore", str(target), "--json")
    assert outcome.code == 1 and f"{target} changed while it was being restored (at sessions[1])" in outcome.err
    answer = outcome.json()
    assert [item["session_id"] for item in answer["restored"]] == ids[:1] and answer["not_done"] == ids[1:]
    assert detail(agentos, intruder) is None and detail(agentos, ids[1]) is None


def test_a_set_file_restores_from_a_pipe(cli: Cli, agentos: AgentOSServer, tmp_path: Path) -> None:
    target, ids = exported_set(cli, agentos, tmp_path, 2)
    command = [sys.executable, str(ROOT / "scripts" / "manage_sessions.py"), "--base-url", agentos.url]
    done = subprocess.run(
        [*command, "--restore", "/dev/stdin", "--json"],
        input=target.read_text(),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert [item["session_id"] for item in json.loads(done.stdout)["restored"]] == ids
    assert all(httpx.get(f"{agentos.url}/sessions/{session_id}", timeout=30).status_code == 200 for session_id in ids)


def test_a_set_restore_for_people_is_a_table_and_cut_short_still_says_what_was_done(
    cli: Cli, via: Cli, agentos: AgentOSServer, proxy: FaultProxy, tmp_path: Path
) -> None:
    target, ids = exported_set(cli, agentos, tmp_path, 3)
    proxy.fail(503, times=1, method="POST", path="/sessions")
    outcome = via("--restore", str(target))
    assert outcome.code == 1 and outcome.err.startswith("error: restoring stopped")
    assert all(session_id in outcome.out for session_id in ids)
    assert not outcome.out.lstrip().startswith("{")
    done = via("--restore", str(target))
    assert done.code == 6 and "already exist, not restored" in done.err


def test_ctrl_c_during_a_set_restore_reports_what_may_have_landed_and_what_was_not_started(
    cli: Cli, agentos: AgentOSServer, proxy: FaultProxy, tmp_path: Path
) -> None:
    target, ids = exported_set(cli, agentos, tmp_path, 20)
    proxy.delay(3.0, times=100, method="POST", path="/sessions")
    argv = [sys.executable, str(ROOT / "scripts" / "manage_sessions.py"), "--base-url", proxy.url]
    process = subprocess.Popen(
        [*argv, "--restore", str(target), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path
    )
    deadline = time.monotonic() + 60
    while len(proxy.seen("POST", path="/sessions")) < 16 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "restoring stopped: interrupted" in err.decode()
    answer = json.loads(out)  # a complete document: the report comes before the error
    assert answer["restored"] == [] and answer["unknown"] == ids[:16] and answer["not_done"] == ids[16:]
