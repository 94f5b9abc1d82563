"""Issue 7, secrets: the security key never shows up in output or files, and never travels unprotected.

The key is given by flag and by each environment variable the CLI reads; every
command's stdout, stderr and the files it writes are searched for it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_helpers import manage_sessions
from conftest import ROOT, SECURITY_KEY, AgentOSServer
from faultproxy import FaultProxy

pytestmark = pytest.mark.usefixtures("isolated_environment")

SCRIPTS = ROOT / "scripts"

KEY_SOURCES = ["flag", "AGENTOS_SECURITY_KEY", "OS_SECURITY_KEY"]
WRONG_KEY = "wrong-key-7d41c0e9b3a2"
REMOTE_HTTP = "http://10.255.255.1:7777"


@pytest.fixture
def secret_user(keyed_agentos: AgentOSServer) -> Iterator[str]:
    """A new user id; its sessions are removed afterwards (other tests count the keyed server's sessions)."""
    user = f"secret-user-{uuid.uuid4()}"
    yield user
    with httpx.Client(base_url=keyed_agentos.url, headers=keyed_agentos.auth_headers(), timeout=30) as client:
        for session in client.get("/sessions", params={"user_id": user, "limit": 1000}).json()["data"]:
            client.delete(f"/sessions/{session['session_id']}")


@pytest.fixture
def keyed_proxy(keyed_agentos: AgentOSServer) -> Iterator[FaultProxy]:
    with FaultProxy(keyed_agentos.url) as running:
        yield running


class KeyedCli:
    """main() in-process against one server, with the key passed one chosen way."""

    def __init__(self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str, source: str):
        self.capsys = capsys
        self.url = url
        self.key_args: list[str] = []
        self.transcript: list[str] = []
        if source == "flag":
            self.key_args = ["--security-key", SECURITY_KEY]
        elif source != "none":
            monkeypatch.setenv(source, SECURITY_KEY)

    def __call__(self, *argv: str, expect: int = 0) -> tuple[str, str]:
        self.capsys.readouterr()
        code = manage_sessions.main(["--base-url", self.url, *self.key_args, *argv])
        out, err = self.capsys.readouterr()
        self.transcript += [out, err]
        assert code == expect, (argv, out, err)
        return out, err


def create_session_with_run(server: AgentOSServer, user_id: str) -> tuple[str, str]:
    """A fresh agent session with one run, made straight through the API; return (session id, run id)."""
    session_id = f"secret-{uuid.uuid4()}"
    body = {"session_id": session_id, "agent_id": "assistant", "user_id": user_id, "session_name": "Secret test"}
    response = httpx.post(
        f"{server.url}/sessions", params={"type": "agent"}, json=body, headers=server.auth_headers(), timeout=30
    )
    assert response.status_code == 201, response.text
    response = httpx.post(
        f"{server.url}/agents/assistant/runs",
        data={"message": "My name is Alice.", "session_id": session_id, "user_id": user_id, "stream": "false"},
        headers=server.auth_headers(),
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return session_id, response.json()["run_id"]


def files_under(directory: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in directory.rglob("*") if path.is_file()}


def assert_key_absent(texts: list[str], files: dict[Path, bytes], key: str = SECURITY_KEY) -> None:
    for text in texts:
        assert key not in text, text
        assert "Bearer" not in text, text
    for path, content in files.items():
        assert key.encode() not in content, path
        assert b"Bearer" not in content, path


@pytest.mark.parametrize("source", KEY_SOURCES)
def test_key_appears_in_no_output_export_or_backup_file(
    keyed_agentos, secret_user, capsys, monkeypatch, tmp_path, source
) -> None:
    user = secret_user
    session_id, run_id = create_session_with_run(keyed_agentos, user)
    doomed, _ = create_session_with_run(keyed_agentos, user)
    cli = KeyedCli(capsys, monkeypatch, keyed_agentos.url, source)

    for as_json in ([], ["--json"]):
        cli("--user-id", user, *as_json)
        cli("--user-id", user, "--all", *as_json)
        cli("--session-id", session_id, *as_json)
        cli("--session-id", session_id, "--show-runs", *as_json)
        cli("--session-id", session_id, "--run-id", run_id, *as_json)
        cli("--session-id", f"missing-{uuid.uuid4()}", *as_json, expect=3)
        cli("--session-id", session_id, "--rename", "Renamed secret test", *as_json)
        cli("--session-id", session_id, "--update", "--metadata", '{"checked": true}', *as_json)
    cli("--session-id", session_id, "--export", str(tmp_path / "export.json"))
    cli("--session-id", session_id, "--export", "-")
    cli("--session-id", session_id, "--chat", "What's my name?", "--json")
    cli("--session-id", session_id, "--clear", "--yes", "--backup-dir", str(tmp_path / "backups"))
    cli("--delete", "--session-id", doomed, "--json")

    files = files_under(tmp_path)
    assert tmp_path / "export.json" in files
    assert any(path.name.startswith("agentos-backup-") for path in files)
    assert_key_absent(cli.transcript, files)


@pytest.mark.parametrize("source", KEY_SOURCES)
def test_a_wrong_key_appears_in_no_error_and_leaves_no_file(keyed_agentos, capsys, monkeypatch, tmp_path, source):
    if source == "flag":
        key_args = ["--security-key", WRONG_KEY]
    else:
        monkeypatch.setenv(source, WRONG_KEY)
        key_args = []
    commands = [
        [],
        ["--all"],
        ["--session-id", "seed-00001"],
        ["--session-id", "seed-00001", "--show-runs"],
        ["--session-id", "seed-00001", "--export", str(tmp_path / "export.json")],
        ["--session-id", "seed-00001", "--clear", "--yes", "--backup-dir", str(tmp_path)],
        ["--session-id", "seed-00001", "--rename", "stolen"],
        ["--delete", "--session-id", "seed-00001"],
        ["--create", "--agent-id", "assistant"],
        ["--agent-id", "assistant", "--chat", "hello"],
    ]
    transcript = []
    for command in commands:
        for as_json in ([], ["--json"]):
            capsys.readouterr()
            code = manage_sessions.main(["--base-url", keyed_agentos.url, *key_args, *command, *as_json])
            out, err = capsys.readouterr()
            assert code == 4, (command, err)
            assert out == "" and len(err.splitlines()) == 1, (command, err)
            transcript += [out, err]

    assert files_under(tmp_path) == {}
    assert_key_absent(transcript, {}, WRONG_KEY)
    assert_key_absent(transcript, {}, SECURITY_KEY)


def test_key_from_the_environment_stays_out_of_a_real_process_output(keyed_agentos, tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("AGENTOS_URL", "AGENTOS_SECURITY_KEY")}
    env |= {"OS_SECURITY_KEY": SECURITY_KEY, "AGENTOS_URL": keyed_agentos.url}
    for argv, exit_code in (
        (["--json"], 0),
        (["--session-id", "seed-00001"], 0),
        (["--session-id", "no-such-session", "--json"], 3),
    ):
        done = subprocess.run(
            [sys.executable, str(SCRIPTS / "manage_sessions.py"), *argv],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
        )
        assert done.returncode == exit_code, done.stderr
        assert SECURITY_KEY not in done.stdout + done.stderr


def json_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = manage_sessions.main([*argv, "--json"])
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    return code, json.loads(lines[0])


def test_missing_key_and_wrong_key_get_different_hints(keyed_agentos, capsys) -> None:
    missing_code, missing = json_error(capsys, ["--base-url", keyed_agentos.url])
    wrong_code, wrong = json_error(capsys, ["--base-url", keyed_agentos.url, "--security-key", WRONG_KEY])

    assert missing_code == wrong_code == 4
    assert missing["exit_code"] == wrong["exit_code"] == 4
    assert missing["hint"] != wrong["hint"]
    assert "--security-key" in missing["hint"] and "AGENTOS_SECURITY_KEY" in missing["hint"]
    assert "check" in wrong["hint"].lower()
    assert WRONG_KEY not in json.dumps(wrong)


def test_forbidden_answer_gives_exit_4_and_a_scope_hint_of_its_own(keyed_agentos, keyed_proxy, capsys) -> None:
    keyed_proxy.fail(403, times=100, detail="Insufficient permissions: missing scope sessions:read")

    code, forbidden = json_error(capsys, ["--base-url", keyed_proxy.url, "--security-key", SECURITY_KEY])
    _, missing = json_error(capsys, ["--base-url", keyed_agentos.url])
    _, wrong = json_error(capsys, ["--base-url", keyed_agentos.url, "--security-key", WRONG_KEY])

    assert code == 4 and forbidden["exit_code"] == 4
    assert "missing scope sessions:read" in forbidden["error"]
    assert "scope" in forbidden["hint"]
    assert forbidden["hint"] not in (missing["hint"], wrong["hint"])
    assert SECURITY_KEY not in json.dumps(forbidden)
    assert len(keyed_proxy.seen("GET", "/sessions")) == 1


@pytest.fixture
def sent_requests(monkeypatch: pytest.MonkeyPatch) -> list[httpx.Request]:
    """Every request any httpx.AsyncClient tries to send; none gets out, each fails to connect."""
    attempts: list[httpx.Request] = []

    async def refuse(self: httpx.AsyncClient, request: httpx.Request, **_: Any) -> httpx.Response:
        attempts.append(request)
        raise httpx.ConnectError("blocked by the test", request=request)

    monkeypatch.setattr(httpx.AsyncClient, "send", refuse)
    return attempts


@pytest.mark.parametrize("source", KEY_SOURCES)
@pytest.mark.parametrize(
    "command",
    [[], ["--session-id", "abc-123"], ["--create", "--agent-id", "assistant"], ["--agent-id", "a", "--chat", "hi"]],
    ids=["list", "inspect", "create", "chat"],
)
def test_key_over_plain_http_to_a_remote_host_is_refused_before_any_connection(
    capsys, monkeypatch, sent_requests, source, command
) -> None:
    key_args = ["--security-key", SECURITY_KEY] if source == "flag" else []
    if source != "flag":
        monkeypatch.setenv(source, SECURITY_KEY)

    code, error = json_error(capsys, ["--base-url", REMOTE_HTTP, *key_args, *command])

    assert code == 2
    assert REMOTE_HTTP in error["error"]
    assert "https" in error["hint"] and "--allow-insecure" in error["hint"]
    assert SECURITY_KEY not in json.dumps(error)
    assert sent_requests == []


def test_allow_insecure_lets_the_key_through_then_fails_as_unreachable(capsys, sent_requests) -> None:
    argv = ["--base-url", REMOTE_HTTP, "--security-key", SECURITY_KEY, "--allow-insecure", "--retries", "0"]

    code, error = json_error(capsys, [*argv, "--timeout", "1"])

    assert code == 5
    assert REMOTE_HTTP in error["error"]
    assert SECURITY_KEY not in json.dumps(error)
    assert [request.headers.get("authorization") for request in sent_requests] == [f"Bearer {SECURITY_KEY}"]


def test_key_over_https_to_a_remote_host_is_not_refused(capsys, sent_requests) -> None:
    argv = ["--base-url", "https://10.255.255.1:7777", "--security-key", SECURITY_KEY, "--retries", "0"]

    code, _error = json_error(capsys, argv)

    assert code == 5
    assert [str(request.url.copy_with(query=None)) for request in sent_requests] == [
        "https://10.255.255.1:7777/sessions"
    ]


def test_plain_http_to_a_remote_host_without_a_key_is_allowed(capsys, sent_requests) -> None:
    code, _error = json_error(capsys, ["--base-url", REMOTE_HTTP, "--retries", "0"])

    assert code == 5
    assert len(sent_requests) == 1 and "authorization" not in sent_requests[0].headers


@pytest.mark.parametrize("key", ["clé-91f3e", "k-91f3e\n", "k-91f3e\r\nX-Injected: 1"], ids=["non-ascii", "lf", "crlf"])
def test_key_that_cannot_go_in_a_header_is_refused_with_exit_2_and_not_echoed(keyed_proxy, capsys, key) -> None:
    capsys.readouterr()
    try:
        code = manage_sessions.main(["--base-url", keyed_proxy.url, "--security-key", key, "--retries", "0"])
    finally:
        out, err = capsys.readouterr()

    assert code == 2
    assert out == "" and len(err.splitlines()) == 1
    assert "91f3e" not in err
    assert keyed_proxy.seen() == []


def test_a_mistyped_key_flag_does_not_echo_the_key(capsys) -> None:
    code = manage_sessions.main(["--base-url", "http://127.0.0.1:9", "--security-keys", "not-to-be-shown-42"])
    captured = capsys.readouterr()
    assert code == 2 and "--security-keys" in captured.err
    assert "not-to-be-shown-42" not in captured.out + captured.err
