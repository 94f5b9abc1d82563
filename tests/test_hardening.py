"""Issue 16, reliability round two: what a hostile review found, each pinned against a real AgentOS.

Ids that reach a URL path, terminal escapes in API text, credentials in refused URLs, file
modes of backups, ambiguous dates and numbers, whole-request timeouts, writes behind a
gateway, library logging on stdout, a closed stdout, non-UTF-8 arguments, answers that are
JSON but not AgentOS (or too large), and Ctrl-C.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import pty
import signal
import stat
import struct
import subprocess
import sys
import termios
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from agentos_sessions import api, selection
from cli_helpers import drain_terminal, run_cli
from conftest import ROOT, AgentOSServer
from faultproxy import FaultProxy

# The faults live in the proxy and the checks in the CLI: one backend is enough.
pytestmark = pytest.mark.parametrize("agentos", ["sqlite"], indirect=True)

SCRIPT = ROOT / "scripts" / "manage_sessions.py"
MADE_SESSION_IDS: list[str] = []
# Terminal escapes: clear the screen, set the window title, write the clipboard (OSC 52), an 8-bit CSI.
ESCAPES = "\x1b[2J\x1b]0;owned\x07\x1b]52;c;ZXZpbA==\x07\x9b31m"
RAW_CONTROLS = ("\x1b", "\x07", "\x9b")


@pytest.fixture(autouse=True)
def isolated_environment(agentos: AgentOSServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No URL or key from the caller's shell; files land in the test's directory; sessions made are removed."""
    for name in ("AGENTOS_URL", "AGENTOS_SECURITY_KEY", "OS_SECURITY_KEY", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    yield
    with httpx.Client(base_url=agentos.url, timeout=30) as client:
        for session_id in MADE_SESSION_IDS:
            client.delete(f"/sessions/{session_id}")
    MADE_SESSION_IDS.clear()


@pytest.fixture
def proxy(agentos: AgentOSServer) -> Iterator[FaultProxy]:
    with FaultProxy(agentos.url) as running:
        yield running


def create_session(server: AgentOSServer, user_id: str | None = None, **fields: Any) -> str:
    """POST /sessions straight to the server (an agent session of `assistant` unless told); return the id."""
    session_id = f"hard-{uuid.uuid4()}"
    MADE_SESSION_IDS.append(session_id)
    body = {"session_id": session_id, "agent_id": "assistant", "session_name": "Hardening", **fields}
    if user_id:
        body["user_id"] = user_id
    response = httpx.post(f"{server.url}/sessions", params={"type": "agent"}, json=body, timeout=30)
    assert response.status_code == 201, response.text
    return session_id


def add_run(server: AgentOSServer, session_id: str, message: str, user_id: str | None = None) -> None:
    """One real run in an agent session of `assistant`."""
    form = {
        "message": message,
        "session_id": session_id,
        "stream": "false",
        **({"user_id": user_id} if user_id else {}),
    }
    response = httpx.post(f"{server.url}/agents/assistant/runs", data=form, timeout=60)
    assert response.status_code == 200, response.text


def session_exists(server: AgentOSServer, session_id: str) -> bool:
    return httpx.get(f"{server.url}/sessions/{session_id}", timeout=30).status_code == 200


def new_user() -> str:
    return f"hard-user-{uuid.uuid4()}@example.com"


def one_line(err: str) -> str:
    """The one stderr line of an expected failure, with no traceback."""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def assert_refused_before_sending(code: int, out: str, err: str, proxy: FaultProxy) -> str:
    """Exit 2, nothing on stdout, one stderr line, and no request at all; return the line."""
    assert code == 2, err
    assert out == ""
    assert proxy.seen() == [], [request.target for request in proxy.seen()]
    return one_line(err)


def assert_no_raw_controls(text: str) -> None:
    for control in RAW_CONTROLS:
        assert control not in text, repr(text)


# Item 7: every id that goes into a URL path is checked like a session id.

PATH_BENDING_IDS = ["assistant/runs/X/cancel#", "..", "a?b=c", "x\\y", "a\tb"]


@pytest.mark.parametrize("owner_flag", ["--agent-id", "--team-id"])
@pytest.mark.parametrize("owner", PATH_BENDING_IDS)
def test_chat_refuses_an_owner_id_that_would_bend_the_url_and_sends_nothing(proxy, capsys, owner_flag, owner) -> None:
    code, out, err = run_cli(capsys, "--base-url", proxy.url, owner_flag, owner, "--chat", "hello")

    line = assert_refused_before_sending(code, out, err, proxy)
    assert owner_flag in line and "not a usable id" in line


@pytest.mark.parametrize("owner_flag", ["--agent-id", "--team-id", "--workflow-id"])
def test_create_refuses_an_owner_id_that_could_not_go_into_a_url(proxy, capsys, owner_flag) -> None:
    code, out, err = run_cli(capsys, "--base-url", proxy.url, "--create", owner_flag, "assistant/runs", "--json")

    assert_refused_before_sending(code, out, err, proxy)
    assert json.loads(err)["exit_code"] == 2 and owner_flag in json.loads(err)["error"]


@pytest.mark.parametrize(("owner", "sent"), [("a b", "a%20b"), ("%2e%2e", "%252e%252e"), ("x%2Fy", "x%252Fy")])
def test_an_owner_id_with_percent_or_space_is_sent_encoded_so_the_server_reads_it_as_given(
    proxy, capsys, owner, sent
) -> None:
    code, _out, err = run_cli(capsys, "--base-url", proxy.url, "--agent-id", owner, "--chat", "hello")

    assert code == 3 and "not found" in one_line(err).lower()
    assert [request.path for request in proxy.seen()] == [f"/agents/{sent}/runs"]


def test_chat_in_a_session_whose_stored_owner_would_bend_the_url_is_refused_before_the_run(
    agentos, proxy, capsys
) -> None:
    session_id = create_session(agentos, agent_id="assistant/runs/x/cancel")

    code, out, err = run_cli(capsys, "--base-url", proxy.url, "--session-id", session_id, "--chat", "hello")

    assert code == 1 and out == ""
    assert "no URL can address" in one_line(err)
    assert [request.method for request in proxy.seen()] == ["GET"]


# Item 8: text from the API never reaches the terminal as control characters.


def test_tables_show_terminal_escapes_in_names_and_state_as_text(agentos, capsys) -> None:
    user = new_user()
    session_id = create_session(agentos, user, session_name=f"name {ESCAPES}", metadata={"note": ESCAPES})

    listed = run_cli(capsys, "--base-url", agentos.url, "--user-id", user)
    shown = run_cli(capsys, "--base-url", agentos.url, "--session-id", session_id)

    for code, out, err in (listed, shown):
        assert code == 0, err
        assert session_id in out
        assert_no_raw_controls(out)
        assert "\\u001b[2J" in out and "\\u009b31m" in out


def test_chat_reply_and_runs_table_escape_what_the_agent_echoes(agentos, capsys) -> None:
    session_id = create_session(agentos, new_user())
    message = f"hello {ESCAPES} there"

    code, out, err = run_cli(capsys, "--base-url", agentos.url, "--session-id", session_id, "--chat", message)
    runs_code, runs_out, _ = run_cli(capsys, "--base-url", agentos.url, "--session-id", session_id, "--show-runs")
    json_code, json_out, _ = run_cli(
        capsys, "--base-url", agentos.url, "--session-id", session_id, "--show-runs", "--json"
    )

    assert (code, runs_code, json_code) == (0, 0, 0), err
    assert out.startswith("You said: hello \\u001b[2J")
    assert_no_raw_controls(out + runs_out + json_out)
    assert "\\u001b]52;c;" in runs_out
    assert json.loads(json_out)[0]["content"].startswith(f"You said: {message}")  # JSON keeps the text exact


def test_chat_streamed_to_a_terminal_escapes_each_chunk(agentos) -> None:
    session_id = create_session(agentos)
    main_fd, child_fd = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--base-url", agentos.url, "--session-id", session_id,
         "--chat", f"stream {ESCAPES} please"],
        stdout=child_fd, stderr=subprocess.PIPE, env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip
    os.close(child_fd)
    output = drain_terminal(main_fd)
    process.wait(timeout=60)

    assert process.returncode == 0, process.stderr.read() if process.stderr else ""
    assert b"You said: stream \\u001b[2J" in output
    assert b"\x1b]52" not in output and b"\x1b[2J" not in output and b"\x07" not in output


def test_server_text_in_an_error_line_is_escaped(proxy, capsys) -> None:
    proxy.fail(500, times=10, detail=f"boom {ESCAPES}", method="GET", path="/sessions")

    code, out, err = run_cli(capsys, "--base-url", proxy.url, "--retries", "0")

    assert code == 1 and out == ""
    line = one_line(err)
    assert_no_raw_controls(line)
    assert "boom \\u001b[2J" in line


# Item 9: a refused base URL is never echoed with its credentials or query.

SECRET = "hunter2-s3cret"
URLS_WITH_SECRETS = [
    f"http://alice:{SECRET}@localhost:7777",
    f"http://localhost:7777/?token={SECRET}",
    f"http://localhost:7777/os#{SECRET}",
    f"https://alice:{SECRET}@[::1",
    f"alice:{SECRET}@localhost:7777",
    f"http://alice:{SECRET} x@localhost:7777",
    f"http://alice:{SECRET}{'x' * 100}@localhost:7777",
]


@pytest.mark.parametrize("as_json", [[], ["--json"]], ids=["plain", "json"])
@pytest.mark.parametrize("source", ["flag", "AGENTOS_URL"])
@pytest.mark.parametrize("url", URLS_WITH_SECRETS)
def test_a_refused_base_url_is_echoed_without_credentials_or_query(capsys, monkeypatch, url, source, as_json) -> None:
    if source == "flag":
        argv = ["--base-url", url, *as_json]
    else:
        monkeypatch.setenv("AGENTOS_URL", url)
        argv = list(as_json)

    code, out, err = run_cli(capsys, *argv)

    assert code == 2 and out == ""
    line = one_line(err)
    assert SECRET not in line and "hunter2" not in line
    assert "--base-url" in line and "is not an http(s) URL" in line


# Item 10: exports and backups are readable by their owner only.


def test_export_and_clear_backup_are_created_readable_by_the_owner_only(agentos, capsys, tmp_path) -> None:
    old_umask = os.umask(0o022)
    try:
        session_id = create_session(agentos)
        add_run(agentos, session_id, "My name is Alice.")
        export = tmp_path / "export.json"
        export.write_text("{}")
        export.chmod(0o644)  # an older, world-readable file of the same name is replaced

        export_code = run_cli(capsys, "--base-url", agentos.url, "--session-id", session_id, "--export", str(export))[0]
        clear_code, _out, err = run_cli(
            capsys, "--base-url", agentos.url, "--session-id", session_id, "--clear", "--yes",
            "--backup-dir", str(tmp_path / "backups"),
        )  # fmt: skip
    finally:
        os.umask(old_umask)

    assert (export_code, clear_code) == (0, 0), err
    (backup,) = (tmp_path / "backups").glob("agentos-backup-*.json")
    for path in (export, backup):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert json.loads(backup.read_text())["runs"]


# Item 13: dates, numbers, an empty message, NaN in a backup, and a base URL with a wrong path.


@pytest.mark.parametrize(
    ("before", "found"),
    [("20300101", True), ("20200101", False), ("1893456000", True), ("2030-01-01", True), ("20300101T000000Z", True)],
)
def test_before_reads_an_8_digit_value_as_an_iso_date_and_10_digits_as_unix_seconds(
    agentos, capsys, before, found
) -> None:
    user = new_user()
    session_id = create_session(agentos, user)

    code, out, err = run_cli(capsys, "--base-url", agentos.url, "--user-id", user, "--before", before, "--json")

    assert code == 0, err
    assert [s["session_id"] for s in json.loads(out)["data"]] == ([session_id] if found else [])


@pytest.mark.parametrize("value", ["2030010", "203001011", "0", "1700000", "99.5"])
@pytest.mark.parametrize("flag", ["--before", "--since"])
def test_an_all_digit_date_that_is_neither_yyyymmdd_nor_10_digit_seconds_is_refused(proxy, capsys, flag, value) -> None:
    extra = ["--session-id", "s", "--show-runs"] if flag == "--since" else []
    code, out, err = run_cli(capsys, "--base-url", proxy.url, *extra, flag, value)

    line = assert_refused_before_sending(code, out, err, proxy)
    assert "ambiguous" in line and "20260131" in line


@pytest.mark.parametrize(
    "argv",
    [
        ["--limit", "10001"],
        ["--limit", "9" * 40],
        ["--page", "1000000001"],
        ["--page", "99999999999999999999"],
        ["--limit", "1" + "0" * 5000],
    ],
)
def test_a_page_or_limit_too_big_to_page_through_is_exit_2_not_a_server_500(proxy, capsys, argv) -> None:
    code, out, err = run_cli(capsys, "--base-url", proxy.url, *argv)

    line = assert_refused_before_sending(code, out, err, proxy)
    assert argv[0] in line


def test_the_largest_page_and_limit_allowed_are_answered_by_agentos(agentos, capsys) -> None:
    code, out, err = run_cli(capsys, "--base-url", agentos.url, "--limit", "10000", "--page", "1000000000", "--json")

    assert code == 0, err
    assert json.loads(out)["data"] == []


@pytest.mark.parametrize("message", ["", "   ", "\n\t"])
def test_an_empty_chat_message_is_refused_before_sending(proxy, capsys, message) -> None:
    code, out, err = run_cli(capsys, "--base-url", proxy.url, "--agent-id", "assistant", "--chat", message)

    line = assert_refused_before_sending(code, out, err, proxy)
    assert "--chat" in line and "empty" in line


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_backup_holding_nan_or_infinity_is_refused_before_sending(proxy, capsys, tmp_path, number) -> None:
    backup = tmp_path / "backup.json"
    session = {"session_id": "nan-session", "session_type": "agent", "agent_id": "assistant"}
    text = json.dumps({"format": "agentos-session-export/1", "session": session, "runs": []})
    backup.write_text(text.replace('"runs": []', f'"runs": [], "x": {number}'))

    code, out, err = run_cli(capsys, "--base-url", proxy.url, "--restore", str(backup))

    line = assert_refused_before_sending(code, out, err, proxy)
    assert "cannot store" in line


@pytest.mark.parametrize(
    "argv",
    [[], ["--session-id", "seed-00001"], ["--session-id", "seed-00001", "--delete"],
     ["--agent-id", "assistant", "--chat", "hi"], ["--session-id", "seed-00001", "--show-runs"]],
    ids=["list", "inspect", "delete", "chat", "runs"],
)  # fmt: skip
def test_a_base_url_with_a_wrong_path_is_exit_1_pointing_at_base_url_not_not_found(agentos, capsys, argv) -> None:
    code, out, err = run_cli(capsys, "--base-url", f"{agentos.url}/wrong", *argv, "--json")

    assert code == 1 and out == ""
    error = json.loads(one_line(err))
    assert error["exit_code"] == 1
    assert "has no endpoint" in error["error"] and "/wrong/" in error["error"]
    assert "--base-url" in error["hint"]
    assert session_exists(agentos, "seed-00001")


# Item 14: --timeout bounds a whole request, and each wait between chat events.


def test_a_body_trickling_one_byte_a_second_times_out_after_the_timeout(proxy, capsys) -> None:
    proxy.trickle(1.0, tail=60, method="GET", path="/sessions")

    started = time.monotonic()
    code, out, err = run_cli(capsys, "--base-url", proxy.url, "--timeout", "3", "--retries", "0")
    elapsed = time.monotonic() - started

    assert code == 5 and out == ""
    assert "timed out" in one_line(err)
    assert elapsed < 30  # a per-read timeout would wait out all 60 trickled bytes


def test_a_chat_stream_that_stalls_between_events_times_out_and_says_what_arrived(agentos, proxy, capsys) -> None:
    session_id = create_session(agentos)
    proxy.trickle(1.0, tail=60, method="POST", path="/agents/assistant/runs")

    started = time.monotonic()
    code, out, err = run_cli(
        capsys, "--base-url", proxy.url, "--session-id", session_id, "--chat", "Tell me something long",
        "--timeout", "3", "--retries", "0", "--json",
    )  # fmt: skip
    elapsed = time.monotonic() - started

    assert code == 5 and out == ""
    error = json.loads(one_line(err))
    assert "timed out" in error["error"] and "You said: Tell me" in error["error"]
    assert "--show-runs" in error["hint"]
    assert elapsed < 30


# Item 15: a 502 or 504 on a write that is not repeated says the server may have acted.


@pytest.mark.parametrize("status", [502, 504])
def test_a_gateway_error_on_create_says_the_session_may_exist(proxy, capsys, status) -> None:
    proxy.fail(status, method="POST", path="/sessions")

    code, _out, err = run_cli(capsys, "--base-url", proxy.url, "--create", "--agent-id", "assistant", "--json")

    assert code == 1
    error = json.loads(one_line(err))
    assert error["hint"] == api.ACTED_HINT and "retry later" not in err
    assert len(proxy.seen("POST", "/sessions")) == 1


@pytest.mark.parametrize("status", [502, 504])
def test_a_gateway_error_on_chat_says_to_check_the_runs_before_sending_again(proxy, capsys, status) -> None:
    proxy.fail(status, method="POST", path="/agents/assistant/runs")

    code, _out, err = run_cli(capsys, "--base-url", proxy.url, "--agent-id", "assistant", "--chat", "hi", "--json")

    assert code == 1
    error = json.loads(one_line(err))
    assert "may have been run" in error["hint"] and "--show-runs" in error["hint"]
    assert "retry later" not in err
    assert len(proxy.seen("POST", "/agents/assistant/runs")) == 1


def test_a_gateway_error_on_a_read_still_says_retry_later(proxy, capsys) -> None:
    proxy.fail(502, times=10, method="GET", path="/sessions")

    code, _out, err = run_cli(capsys, "--base-url", proxy.url, "--retries", "0", "--json")

    assert code == 1
    assert "retry later" in json.loads(one_line(err))["hint"]


# Item 16: stdout carries only the result, whatever the stream or the library logs.

BAD_STREAM = (
    b'event: RunStarted\ndata: {"event": "RunStarted", "run_id": "r-1"}\n\n'
    b"event: RunContent\ndata: {not json\n\n"
    b'event: RunCompleted\ndata: {"event": "RunCompleted", "run_id": "r-1", "content": "done"}\n\n'
)


def test_chat_json_with_an_unreadable_stream_event_keeps_stdout_empty_and_fails_in_one_line(proxy, capsys) -> None:
    proxy.fail(200, body=BAD_STREAM, method="POST", path="/agents/assistant/runs")

    code, out, err = run_cli(capsys, "--base-url", proxy.url, "--agent-id", "assistant", "--chat", "hi", "--json")

    assert code == 1 and out == ""
    error = json.loads(one_line(err))
    assert "does not send" in error["error"] and "--show-runs" in error["hint"]


def test_agno_logging_never_reaches_stdout_after_the_client_library_ran(agentos, capsys) -> None:
    session_id = f"hard-{uuid.uuid4()}"
    MADE_SESSION_IDS.append(session_id)

    code, out, err = run_cli(
        capsys, "--base-url", agentos.url, "--create", "--agent-id", "assistant", "--session-id", session_id, "--json"
    )
    for name in ("agno", "agno-team", "agno-workflow"):
        logging.getLogger(name).error("stream parse failed", exc_info=ValueError("boom"))
    late = capsys.readouterr()

    assert code == 0, err
    assert json.loads(out)["session_id"] == session_id
    assert late.out == "" and "boom" not in late.err


# Item 17: a reader that leaves stdout early.


@pytest.mark.parametrize("as_json", [["--json"], []], ids=["json", "table"])
def test_a_closed_stdout_after_a_delete_exits_141_quietly_and_the_delete_stands(agentos, as_json) -> None:
    session_id = create_session(agentos)
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--base-url", agentos.url, "--session-id", session_id, "--delete", *as_json],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    process.stdout.close()  # the reader is gone before the result is written
    _, err = process.communicate(timeout=60)

    assert process.returncode == 141, err
    assert err == b""
    assert not session_exists(agentos, session_id)


# Item 18: arguments that are not UTF-8.


@pytest.mark.parametrize(
    "argv", [["--user-id", "al\udcffice"], ["--session-id", "\udce9t\udce9"], ["--name", "x", "\udcff"]]
)
def test_an_argument_that_is_not_utf8_is_exit_2_before_anything_is_sent(proxy, capsys, argv) -> None:
    code, out, err = run_cli(capsys, "--base-url", proxy.url, *argv)

    line = assert_refused_before_sending(code, out, err, proxy)
    assert "is not valid UTF-8" in line


def test_an_agentos_url_that_is_not_utf8_is_exit_2(proxy, capsys, monkeypatch) -> None:
    monkeypatch.setenv("AGENTOS_URL", f"{proxy.url}/\udcff")

    code, out, err = run_cli(capsys)

    assert_refused_before_sending(code, out, err, proxy)


def test_non_utf8_bytes_on_a_real_command_line_are_exit_2_without_a_traceback(proxy) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--base-url", proxy.url, b"--user-id", b"b\xf6b"],
        capture_output=True, timeout=60, env={**os.environ, "LC_ALL": "C.UTF-8"},
    )  # fmt: skip

    assert done.returncode == 2 and done.stdout == b""
    assert b"argument 4 (the value of --user-id) is not valid UTF-8" in done.stderr
    assert b"Traceback" not in done.stderr
    assert proxy.seen() == []


# Item 19: answers that are JSON but not AgentOS-shaped, or far too large.

PAGE_META = {"page": 1, "limit": 20, "total_pages": 1, "total_count": 1}
SESSION = {"session_id": "s-1", "session_type": "agent", "session_name": "x", "created_at": "2026-01-01T00:00:00Z"}
ODD_ANSWERS = {
    "list-item-without-id": ([], {"data": [{"session_name": "x"}], "meta": PAGE_META}),
    "list-item-not-object": ([], {"data": [5], "meta": PAGE_META}),
    "list-name-not-text": (["--name", "x"], {"data": [{**SESSION, "session_name": 5}], "meta": PAGE_META}),
    "list-bad-time": (["--before", "2030-01-01"], {"data": [{**SESSION, "created_at": "soon"}], "meta": PAGE_META}),
    "list-time-out-of-range": ([], {"data": [{**SESSION, "created_at": 10**20}], "meta": PAGE_META}),
    "list-total-pages-text": (["--all"], {"data": [SESSION], "meta": {**PAGE_META, "total_pages": "5"}}),
    "list-total-pages-wild": (["--all"], {"data": [SESSION], "meta": {**PAGE_META, "total_pages": 100_000_000}}),
    "list-count-bool": (["--all"], {"data": [SESSION], "meta": {**PAGE_META, "total_count": True}}),
    "session-id-not-text": (["--session-id", "s-1", "--delete"], {"session_id": 5}),
    "session-name-list": (["--session-id", "s-1", "--delete"], {"session_id": "s-1", "session_name": ["x"]}),
    "session-time-huge": (["--session-id", "s-1", "--delete"], {"session_id": "s-1", "created_at": 1e30}),
    "inspect-id-not-text": (["--session-id", "s-1"], {"session_id": 5}),
    "runs-id-not-text": (["--session-id", "s-1", "--show-runs"], [{"run_id": 5}]),
    "runs-messages-number": (["--session-id", "s-1", "--show-runs"], [{"run_id": "r", "messages": 5}]),
    "run-messages-not-objects": (["--session-id", "s-1", "--run-id", "r"], {"run_id": "r", "messages": [1, 2]}),
    "run-status-object": (["--session-id", "s-1", "--run-id", "r"], {"run_id": "r", "status": {"x": 1}}),
}


@pytest.mark.parametrize(("argv", "answer"), list(ODD_ANSWERS.values()), ids=list(ODD_ANSWERS))
def test_json_that_is_not_agentos_shaped_is_one_clear_error_not_a_traceback(proxy, capsys, argv, answer) -> None:
    proxy.fail(200, times=100, body=json.dumps(answer).encode(), method="GET")

    started = time.monotonic()
    code, out, err = run_cli(capsys, "--base-url", proxy.url, *argv)

    assert code == 1 and out == ""
    line = one_line(err)
    assert "does not send" in line and "--base-url" in line
    assert len(proxy.seen()) <= 2 and time.monotonic() - started < 30
    assert proxy.seen("DELETE") == []


def test_a_consistent_but_huge_page_count_is_fetched_lazily_and_stops_at_the_first_empty_page(proxy, capsys) -> None:
    total = 50_000_000_000
    meta = {"page": 1, "limit": 500, "total_pages": total // 500, "total_count": total}
    proxy.fail(200, times=1, body=json.dumps({"data": [SESSION], "meta": meta}).encode(), method="GET")
    proxy.fail(200, times=100, body=json.dumps({"data": [], "meta": meta}).encode(), method="GET")

    code, out, err = run_cli(capsys, "--base-url", proxy.url, "--all", "--json")

    assert code == 0, err
    assert len(proxy.seen()) <= 1 + selection.PAGE_CONCURRENCY + 1
    # The one session came and was written at once; a second pass (in session_id order) found no more.
    assert json.loads(out)["data"] == [SESSION]


def test_a_300_mb_answer_is_refused_at_the_cap_without_reading_it_all(proxy, capsys) -> None:
    proxy.flood(300 * 2**20, method="GET", path="/sessions")

    code, out, err = run_cli(capsys, "--base-url", proxy.url, "--retries", "0", "--timeout", "120")

    assert code == 1 and out == ""
    assert f"larger than {api.MAX_ANSWER_BYTES // 2**20} MiB" in one_line(err)


@pytest.mark.parametrize(
    ("method", "argv"),
    [("GET", []), ("POST", ["--create", "--agent-id", "assistant"])],
    ids=["list", "create-through-agno-client"],
)
def test_an_answer_declaring_a_huge_length_is_refused_before_its_body_is_read(
    proxy, capsys, monkeypatch, method, argv
) -> None:
    monkeypatch.setattr(api, "MAX_ANSWER_BYTES", 1000)
    proxy.fail(200, body=b'{"data": [], "meta": {}}' + b" " * 2000, method=method, path="/sessions")

    code, _out, err = run_cli(capsys, "--base-url", proxy.url, "--retries", "0", *argv)

    assert code == 1
    assert "larger than" in one_line(err)


def test_an_endless_chat_stream_is_cut_at_the_cap(proxy, capsys, monkeypatch) -> None:
    monkeypatch.setattr(api, "MAX_ANSWER_BYTES", 2**20)
    proxy.flood(
        50 * 2**20, body=b": keep-alive\n", content_type="text/event-stream", method="POST",
        path="/agents/assistant/runs",
    )  # fmt: skip

    code, out, err = run_cli(capsys, "--base-url", proxy.url, "--agent-id", "assistant", "--chat", "hi", "--json")

    assert code == 1 and out == ""
    assert "larger than 1 MiB" in json.loads(one_line(err))["error"]


# Item 20: Ctrl-C with --json, Ctrl-C during --clear, and COLUMNS=0.


def interrupt_when(process: subprocess.Popen, arrived: Any, within: float = 60) -> tuple[str, str]:
    """Send Ctrl-C once `arrived()` is true, then collect the output."""
    deadline = time.monotonic() + within
    while not arrived() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    return process.communicate(timeout=30)


def test_ctrl_c_with_json_prints_the_json_error(proxy) -> None:
    proxy.delay(60, method="GET", path="/sessions")
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--base-url", proxy.url, "--timeout", "120", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip

    out, err = interrupt_when(process, lambda: proxy.seen("GET", "/sessions"))

    assert process.returncode == 130 and out == ""
    error = json.loads(one_line(err))
    assert error["exit_code"] == 130 and error["error"] == "interrupted"


@pytest.mark.parametrize("as_json", [["--json"], []], ids=["json", "plain"])
def test_ctrl_c_during_clear_names_the_backup_to_restore(agentos, proxy, tmp_path, as_json) -> None:
    session_id = create_session(agentos)
    add_run(agentos, session_id, "My name is Alice.")
    proxy.delay(60, method="DELETE", path=f"/sessions/{session_id}")
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--base-url", proxy.url, "--session-id", session_id, "--clear", "--yes",
         "--backup-dir", str(tmp_path), "--timeout", "120", *as_json],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip

    out, err = interrupt_when(process, lambda: proxy.seen("DELETE", f"/sessions/{session_id}"))

    assert process.returncode == 130 and out == ""
    (backup,) = tmp_path.glob("agentos-backup-*.json")
    line = one_line(err)
    assert "interrupted" in line and f"--restore {backup}" in line
    if as_json:
        assert json.loads(line)["exit_code"] == 130


@pytest.mark.parametrize("columns", ["0", "1", "-5", "junk"])
def test_a_useless_columns_value_still_prints_the_table(agentos, capsys, monkeypatch, columns) -> None:
    user = new_user()
    session_id = create_session(agentos, user)
    monkeypatch.setenv("COLUMNS", columns)

    code, out, err = run_cli(capsys, "--base-url", agentos.url, "--user-id", user)

    assert code == 0, err
    assert session_id in out and "Hardening" in out


def test_columns_0_at_a_terminal_still_prints_the_table(agentos) -> None:
    user = new_user()
    session_id = create_session(agentos, user)
    main_fd, child_fd = pty.openpty()
    fcntl.ioctl(child_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))  # a 200-column terminal
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--base-url", agentos.url, "--user-id", user],
        stdout=child_fd, stderr=subprocess.PIPE, env={**os.environ, "COLUMNS": "0", "NO_COLOR": "1"},
    )  # fmt: skip
    os.close(child_fd)
    output = drain_terminal(main_fd)
    process.wait(timeout=60)

    assert process.returncode == 0
    assert session_id.encode() in output.replace(b"\r\n", b"")
