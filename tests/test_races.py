"""Set writes act on what is true at the moment they act, and trust no id the server returns.

Each race is made to order with the fault proxy: another writer acts at exactly one step of the
command (`proxy.on(callback, ...)`), against the real AgentOS.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_helpers import Cli
from conftest import AgentOSServer
from faultproxy import FaultProxy
from test_sets import detail, make, new_user, run_count

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "manage_sessions.py"


@pytest.fixture(scope="session")
def agentos(set_agentos: AgentOSServer) -> AgentOSServer:
    """The races run against SQLite, PostgreSQL and the 4-worker PostgreSQL server."""
    return set_agentos


@pytest.fixture
def via(proxy: FaultProxy, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The CLI in-process through the fault proxy."""
    monkeypatch.chdir(tmp_path)
    return Cli(capsys, proxy.url)


def chat(server: AgentOSServer, session_id: str, user: str, message: str = "a run that lands meanwhile") -> None:
    """Another client adds a run to the session."""
    form = {"message": message, "session_id": session_id, "user_id": user, "stream": "false"}
    httpx.post(f"{server.url}/agents/assistant/runs", data=form, timeout=60).raise_for_status()


def patch_metadata(server: AgentOSServer, session_id: str, metadata: dict[str, Any], user: str | None = None) -> None:
    """Another client replaces the session's metadata."""
    params = {"type": "agent", **({"user_id": user} if user else {})}
    url = f"{server.url}/sessions/{session_id}"
    httpx.patch(url, params=params, json={"metadata": metadata}, timeout=30).raise_for_status()


def rename(server: AgentOSServer, session_id: str, name: str) -> None:
    httpx.patch(f"{server.url}/sessions/{session_id}", json={"session_name": name}, timeout=30).raise_for_status()


def paths(proxy: FaultProxy, method: str) -> list[str]:
    return [seen.path for seen in proxy.seen(method=method)]


# Nothing from the server goes into a URL unchecked


def test_a_planted_percent_id_is_addressed_as_itself_never_as_the_id_it_decodes_to(
    via: Cli, agentos: AgentOSServer, proxy: FaultProxy
) -> None:
    tag = uuid.uuid4().hex[:8]
    victim = f"victim-{tag}"
    planted = f"victim%2D{tag}"
    make(agentos, "alice@example.com", "alice's", owner="researcher", session_id=victim, metadata={"owner": "alice"})
    make(agentos, "", f"planted-{tag}", owner="researcher", session_id=planted, user_id=None)
    outcome = via("--agent-id", "researcher", "--name", f"planted-{tag}", "--update", "--metadata", '{"x": 1}', "--yes")
    assert outcome.code == 0, outcome.err
    assert detail(agentos, victim)["metadata"] == {"owner": "alice"}
    assert f"/sessions/victim%252D{tag}" in paths(proxy, "PATCH")
    assert f"/sessions/{victim}" not in paths(proxy, "PATCH")
    # the planted session itself can be inspected and deleted by its own id
    assert via.json("--session-id", planted)["metadata"] == {"x": 1}
    assert via("--session-id", planted, "--delete").code == 0
    assert detail(agentos, victim) is not None


@pytest.mark.parametrize(
    "bad", ["a/b", "a?user_id=x", "a#b", "a\\b", "a\nb"], ids=["slash", "query", "hash", "backslash", "newline"]
)
def test_an_unaddressable_server_id_is_refused_and_left_alone_by_every_set_action(
    via: Cli, agentos: AgentOSServer, proxy: FaultProxy, bad: str, tmp_path: Path
) -> None:
    user = new_user()
    good = make(agentos, user, "Good", runs=("hello",))
    weird = f"{bad}-{uuid.uuid4().hex[:6]}"
    make(agentos, user, "Weird", session_id=weird)
    commands = {
        "update": ["--update", "--metadata", '{"k": 1}', "--yes"],
        "export": ["--export", str(tmp_path / "out.json")],
        "min-runs": ["--min-runs", "0"],
        "search": ["--search", "hello"],
    }
    for name, words in commands.items():
        outcome = via("--user-id", user, *words, "--json")
        assert outcome.code == 1, (name, outcome.err)
        assert "refused" in outcome.err, name
        sent = [seen.path for seen in proxy.seen()]
        assert not any(p.startswith("/sessions/a") for p in sent), (name, sent)
    updated = json.loads(via("--user-id", user, "--update", "--metadata", '{"k": 2}', "--yes", "--json").out)
    assert [item["session_id"] for item in updated["updated"]] == [good]
    assert [item["session_id"] for item in updated["refused"]] == [weird]
    assert detail(agentos, good)["metadata"] == {"k": 2}
    deleted = via("--user-id", user, "--delete", "--yes", "--json")
    assert deleted.code == 1 and deleted.json()["deleted"] == [good]
    assert [item["session_id"] for item in deleted.json()["refused"]] == [weird]


# An update merges into the session as it is at the moment of writing


def test_a_key_added_while_the_set_is_selected_survives_the_update(
    via: Cli, agentos: AgentOSServer, proxy: FaultProxy
) -> None:
    user = new_user()
    target = make(agentos, user, "T", metadata={"a": 1})
    make(agentos, user, "U", metadata={"a": 1})
    proxy.on(
        lambda: patch_metadata(agentos, target, {"a": 1, "theirs": 2}, user), after=True, method="GET", path="/sessions"
    )
    outcome = via.json("--user-id", user, "--update", "--metadata", '{"ours": 3}', "--yes")
    assert detail(agentos, target)["metadata"] == {"a": 1, "theirs": 2, "ours": 3}
    by_id = {item["session_id"]: item for item in outcome["updated"]}
    assert by_id[target]["metadata"] == {"a": 1, "theirs": 2, "ours": 3}


def test_another_writer_right_after_a_set_patch_is_detected_and_named(
    via: Cli, agentos: AgentOSServer, proxy: FaultProxy
) -> None:
    user = new_user()
    target = make(agentos, user, "T")
    make(agentos, user, "U")
    proxy.on(
        lambda: patch_metadata(agentos, target, {"ours": "theirs now"}, user),
        after=True,
        method="PATCH",
        path=f"/sessions/{target}",
    )
    outcome = via("--user-id", user, "--update", "--metadata", '{"ours": 1}', "--yes", "--json")
    assert outcome.code == 1
    assert outcome.json()["changed_meanwhile"] == [{"session_id": target, "keys": ["metadata.ours"]}]
    assert "changed by another writer" in outcome.err


def test_a_set_update_whose_verification_read_fails_names_what_was_written(
    via: Cli, agentos: AgentOSServer, proxy: FaultProxy
) -> None:
    user = new_user()
    ids = [make(agentos, user, f"S{n}") for n in range(3)]
    proxy.fail(503, times=100, skip=3, method="GET", path_prefix="/sessions/")
    outcome = via("--user-id", user, "--update", "--metadata", '{"k": 1}', "--yes", "--retries", "0", "--json")
    assert outcome.code == 1
    report = outcome.json()
    assert sorted(report["unverified"]) == sorted(ids)
    assert sorted(item["session_id"] for item in report["updated"]) == sorted(ids)
    assert "re-read" in outcome.error()["error"]


# A delete or clear re-checks every criterion that can change, right before it acts


def test_a_session_whose_first_run_lands_during_the_selection_is_not_deleted_by_max_runs_0(
    via: Cli, agentos: AgentOSServer, proxy: FaultProxy
) -> None:
    user = new_user()
    idle, busy_soon = make(agentos, user, "Idle"), make(agentos, user, "Busy soon")
    # the run lands after the selection counted this session's runs, before the delete
    proxy.on(
        lambda: chat(agentos, busy_soon, user), after=True, method="GET", path=f"/sessions/{busy_soon}/run-previews"
    )
    outcome = via.json("--user-id", user, "--max-runs", "0", "--delete", "--yes")
    assert outcome["deleted"] == [idle]
    assert outcome["skipped"] == [
        {
            "session_id": busy_soon,
            "reason": "its runs changed since it was selected and no longer match the run filters",
        }
    ]
    assert detail(agentos, busy_soon) is not None and run_count(agentos, busy_soon) == 1


def test_a_session_updated_after_it_was_selected_is_not_deleted_as_stale(
    via: Cli, agentos: AgentOSServer, proxy: FaultProxy
) -> None:
    user = new_user()
    stale, revived = make(agentos, user, "Old"), make(agentos, user, "Old too")
    time.sleep(1.1)
    cutoff = str(int(time.time()))
    time.sleep(1.1)
    proxy.on(lambda: rename(agentos, revived, "Old, renamed"), after=True, method="GET", path="/sessions")
    outcome = via.json("--user-id", user, "--updated-before", cutoff, "--delete", "--yes")
    assert outcome["deleted"] == [stale]
    assert [item["session_id"] for item in outcome["skipped"]] == [revived]
    assert detail(agentos, revived) is not None


def test_a_set_clear_skips_a_session_that_stopped_matching_and_leaves_no_backup(
    via: Cli, agentos: AgentOSServer, proxy: FaultProxy, tmp_path: Path
) -> None:
    user = new_user()
    first = make(agentos, user, "Clear me", runs=("one",))
    second = make(agentos, user, "Clear me", runs=("two",))
    proxy.on(lambda: rename(agentos, second, "Keep me"), after=True, method="GET", path="/sessions")
    outcome = via.json("--user-id", user, "--name", "Clear", "--clear", "--yes", "--backup-dir", str(tmp_path / "b"))
    assert [item["session_id"] for item in outcome["cleared"]] == [first]
    assert [item["session_id"] for item in outcome["skipped"]] == [second]
    assert run_count(agentos, second) == 1
    assert len(list((tmp_path / "b").glob("*.json"))) == 1


def test_a_run_landing_while_the_copy_is_made_is_in_the_backup_and_the_copy(
    via: Cli, agentos: AgentOSServer, proxy: FaultProxy, tmp_path: Path
) -> None:
    user = new_user()
    session = make(agentos, user, "Copied", runs=("first",))
    proxy.on(
        lambda: chat(agentos, session, user, "landed during the fork"),
        method="POST",
        path_prefix="/agents/assistant/sessions/",
    )
    cleared = via.json("--session-id", session, "--clear", "--keep-copy", "--yes", "--backup-dir", str(tmp_path))
    backup = json.loads(Path(cleared["backup"]).read_text())
    inputs = json.dumps(backup["runs"])
    assert "first" in inputs and "landed during the fork" in inputs
    assert cleared["runs_removed"] == 2
    assert run_count(agentos, cleared["copy_session_id"]) == 2
    assert run_count(agentos, session) == 0
    forks = proxy.seen(method="POST", path_prefix="/agents/assistant/sessions/")
    stale = [p for p in paths(proxy, "DELETE") if p != f"/sessions/{session}"]
    assert len(forks) == 2 and len(stale) == 1 and detail(agentos, stale[0].rsplit("/", 1)[1]) is None


def test_the_delete_of_a_clear_follows_its_last_check_with_nothing_between(
    via: Cli, agentos: AgentOSServer, proxy: FaultProxy, tmp_path: Path
) -> None:
    user = new_user()
    session = make(agentos, user, "Window", runs=("hello",))
    via.json("--session-id", session, "--clear", "--keep-copy", "--yes", "--backup-dir", str(tmp_path))
    sent = [seen.target for seen in proxy.seen()]
    delete = sent.index(f"DELETE /sessions/{session}")
    last_check = {f"GET /sessions/{session}", f"GET /sessions/{session}/runs"}
    assert set(sent[delete - 2 : delete]) == last_check, sent


def test_a_clear_never_imports_agno(agentos: AgentOSServer, tmp_path: Path) -> None:
    user = new_user()
    session = make(agentos, user, "No import", runs=("hello",))
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from agentos_sessions.cli import main; "
        "rc = main(sys.argv[2:]); loaded = {m.split('.')[0] for m in sys.modules}; "
        "print(sorted(loaded & {'agno'}), file=sys.stderr); sys.exit(rc)"
    )
    argv = [
        "--base-url",
        agentos.url,
        "--session-id",
        session,
        "--clear",
        "--yes",
        "--backup-dir",
        str(tmp_path),
        "--json",
    ]
    done = subprocess.run(
        [sys.executable, "-c", code, str(SCRIPT.parent), *argv], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_re_running_a_set_clear_with_keep_copy_leaves_the_copies_alone(
    cli: Cli, agentos: AgentOSServer, tmp_path: Path
) -> None:
    user = new_user()
    original = make(agentos, user, "Long", runs=("hello",))
    first = cli.json("--user-id", user, "--clear", "--keep-copy", "--yes", "--backup-dir", str(tmp_path))
    copy = first["cleared"][0]["copy_session_id"]
    again = cli.json("--user-id", user, "--clear", "--keep-copy", "--yes", "--backup-dir", str(tmp_path))
    assert again["cleared"] == []
    reasons = {item["session_id"]: item["reason"] for item in again["skipped"]}
    assert "--keep-copy" in reasons[copy] and "no runs" in reasons[original]
    assert run_count(agentos, copy) == 1


# Every way out reports


def test_a_multi_session_clear_cut_short_names_exactly_where_it_stopped(
    via: Cli, agentos: AgentOSServer, proxy: FaultProxy, tmp_path: Path
) -> None:
    user = new_user()
    ids = [make(agentos, user, f"C{n}", runs=("hi",)) for n in range(3)]
    ordered = [s["session_id"] for s in via.json("--user-id", user, "--all")["data"]]
    proxy.fail(503, times=100, skip=1, method="DELETE", path_prefix="/sessions/")
    outcome = via("--user-id", user, "--clear", "--yes", "--retries", "0", "--backup-dir", str(tmp_path), "--json")
    assert outcome.code == 1
    report = outcome.json()
    assert [item["session_id"] for item in report["cleared"]] == ordered[:1]
    assert report["unknown"] == ordered[1:2] and report["not_done"] == ordered[2:]
    assert set(ids) == set(ordered)


def test_ctrl_c_during_a_set_delete_reports_deleted_unknown_and_not_done(
    agentos: AgentOSServer, proxy: FaultProxy
) -> None:
    user = new_user()
    ids = [make(agentos, user, f"D{n}") for n in range(3)]
    proxy.delay(5.0, times=100, method="DELETE", path="/sessions")
    argv = [sys.executable, str(SCRIPT), "--base-url", proxy.url, "--delete", "--user-id", user, "--yes", "--json"]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not proxy.seen("DELETE", path="/sessions") and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    report = json.loads(out)
    assert sorted(report["unknown"]) == sorted(ids) and report["deleted"] == [] and report["not_done"] == []
    assert json.loads(err)["exit_code"] == 130


def test_a_session_deleted_while_runs_are_counted_is_simply_not_selected(
    via: Cli, agentos: AgentOSServer, proxy: FaultProxy
) -> None:
    user = new_user()
    doomed, kept = make(agentos, user, "Doomed"), make(agentos, user, "Kept")
    proxy.on(
        lambda: httpx.delete(f"{agentos.url}/sessions/{doomed}", timeout=30), after=True, method="GET", path="/sessions"
    )
    outcome = via("--user-id", user, "--min-runs", "0", "--json")
    assert outcome.code == 0, outcome.err
    assert [s["session_id"] for s in outcome.json()["data"]] == [kept]


def test_ids_left_out_by_a_run_filter_are_reported_like_other_filters(via: Cli, agentos: AgentOSServer) -> None:
    user = new_user()
    empty, busy = make(agentos, user, "Empty"), make(agentos, user, "Busy", runs=("hi",))
    outcome = via("--session-id", empty, "--session-id", busy, "--min-runs", "1", "--delete", "--json")
    assert outcome.code == 3
    assert outcome.json()["deleted"] == [busy] and outcome.json()["not_found"] == [empty]
    assert detail(agentos, empty) is not None


def test_a_dry_run_clear_of_one_session_asks_nothing(via: Cli, agentos: AgentOSServer) -> None:
    session = make(agentos, new_user(), "Preview", runs=("hi",))
    outcome = via("--session-id", session, "--clear", "--dry-run", "--json")
    assert outcome.code == 0, outcome.err
    assert outcome.json()["data"][0]["run_count"] == 1


def test_a_session_deleted_while_a_set_is_exported_is_reported_skipped(
    via: Cli, agentos: AgentOSServer, proxy: FaultProxy, tmp_path: Path
) -> None:
    user = new_user()
    doomed, kept = make(agentos, user, "Doomed", runs=("bye",)), make(agentos, user, "Kept")
    delete = lambda: httpx.delete(f"{agentos.url}/sessions/{doomed}", timeout=30)  # noqa: E731
    proxy.on(delete, after=True, method="GET", path="/sessions")
    summary = via.json("--user-id", user, "--export", str(tmp_path / "set.json"))
    assert summary["sessions"] == 1 and summary["skipped"] == [{"session_id": doomed, "reason": "it no longer exists"}]
    document = json.loads((tmp_path / "set.json").read_text())
    assert [entry["session"]["session_id"] for entry in document["sessions"]] == [kept]


def test_a_session_created_meanwhile_is_a_conflict_that_a_restore_leaves_untouched(
    via: Cli, agentos: AgentOSServer, proxy: FaultProxy, tmp_path: Path
) -> None:
    user = new_user()
    first, second = make(agentos, user, "First"), make(agentos, user, "Second", metadata={"v": "old"})
    via.json("--user-id", user, "--export", str(tmp_path / "set.json"))
    for session_id in (first, second):
        httpx.delete(f"{agentos.url}/sessions/{session_id}", timeout=30).raise_for_status()
    recreate = lambda: make(agentos, user, "Someone else's", session_id=second, metadata={"v": "new"})  # noqa: E731
    # The restore sends several POSTs at once: the other writer acts when the one for `second` arrives.
    proxy.on(recreate, method="POST", path="/sessions", body_contains=f'"{second}"'.encode())
    outcome = via("--restore", str(tmp_path / "set.json"), "--json")
    assert outcome.code == 6 and outcome.json()["conflict"] == [second]
    assert detail(agentos, second)["metadata"] == {"v": "new"} and detail(agentos, first) is not None


def test_a_run_landing_while_a_clear_backs_up_is_backed_up_before_anything_is_deleted(
    via: Cli, agentos: AgentOSServer, proxy: FaultProxy, tmp_path: Path
) -> None:
    user = new_user()
    session = make(agentos, user, "Backed up", runs=("first",))
    landing = lambda: chat(agentos, session, user, "landed during the backup")  # noqa: E731
    proxy.on(landing, after=True, method="GET", path=f"/sessions/{session}/runs")
    cleared = via.json("--session-id", session, "--clear", "--yes", "--backup-dir", str(tmp_path))
    assert cleared["runs_removed"] == 2
    assert "landed during the backup" in json.dumps(json.loads(Path(cleared["backup"]).read_text())["runs"])
    assert len(list(tmp_path.glob("agentos-backup-*.json"))) == 1


def test_a_session_renamed_after_it_was_chosen_by_name_is_left_alone(
    via: Cli, agentos: AgentOSServer, proxy: FaultProxy
) -> None:
    user = new_user()
    tag = uuid.uuid4().hex[:6]
    first, second = make(agentos, user, f"Rn A {tag}"), make(agentos, user, f"Rn B {tag}")
    proxy.on(lambda: rename(agentos, second, f"Rn B {tag} renamed"), after=True, method="GET", path="/sessions")
    names = ["--session-name", f"Rn A {tag}", "--session-name", f"Rn B {tag}"]
    outcome = via.json(*names, "--user-id", user, "--delete")
    assert outcome["deleted"] == [first]
    assert [item["session_id"] for item in outcome["skipped"]] == [second]
    assert detail(agentos, second) is not None
