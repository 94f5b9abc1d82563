"""Issue 7, hostile input: bad ids, URLs, numbers, JSON, choices, dates and files.

Each is refused with exit 2 and one stderr line before anything is sent: a proxy in
front of the real AgentOS records every request, and must record none. A property
test throws random argument lists at main() with the server out of reach.
"""

from __future__ import annotations

import argparse
import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from agentos_sessions import arguments, cli, model
from cli_helpers import manage_sessions, run_cli
from conftest import AgentOSServer
from faultproxy import FaultProxy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

DOCUMENTED_EXIT_CODES = {0, 1, 2, 3, 4, 5, 6, 130}
MISSING_ID = "hostile-input-no-such-session"


# Nothing here should reach the server, whatever its backend: one will do.
pytestmark = pytest.mark.parametrize("agentos", ["sqlite"], indirect=True)


@pytest.fixture(autouse=True)
def isolated_environment(agentos: AgentOSServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No URL or key from the caller's shell; any file written lands in the test's directory."""
    for name in ("AGENTOS_URL", "AGENTOS_SECURITY_KEY", "OS_SECURITY_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def quiet_proxy(agentos: AgentOSServer) -> Iterator[FaultProxy]:
    """A recording proxy in front of the real AgentOS; it must see no request."""
    with FaultProxy(agentos.url) as running:
        yield running


def assert_refused_before_sending(code: int, out: str, err: str, proxy: FaultProxy | None = None) -> None:
    """Exit 2, nothing on stdout, exactly one tidy stderr line, and (with a proxy) no request."""
    assert code == 2, err
    assert out == ""
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1 and err.endswith("\n"), err
    if proxy is not None:
        assert proxy.seen() == [], [request.target for request in proxy.seen()]


def closed_port_url() -> str:
    """A loopback URL where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


UNSAFE_IDS = {
    "slash": "a/b",
    "leading-slash": "/sessions",
    "dot": ".",
    "dotdot": "..",
    "dotdot-path": "../../openapi.json",
    "question": "a?user_id=bob",
    "hash": "a#b",
    "backslash": "a\\b",
    "tab": "a\tb",
    "newline": "a\nb",
    "carriage-return": "a\rHost: evil",
    "nul": "a\x00b",
    "escape": "a\x1b[31mred",
    "delete": "a\x7fb",
    "empty": "",
    "too-long": "a" * (model.MAX_ID_LENGTH + 1),
    "very-long": "x" * 100_000,
}

SESSION_ID_COMMANDS = {
    "inspect": ["--session-id", "{id}"],
    "show-runs": ["--session-id", "{id}", "--show-runs"],
    "show-run": ["--session-id", "{id}", "--run-id", "r-1"],
    "rename": ["--session-id", "{id}", "--rename", "new name"],
    "update": ["--session-id", "{id}", "--update", "--metadata", '{"k": 1}'],
    "delete": ["--session-id", "{id}", "--delete"],
    "delete-among-others": ["--delete", "--session-id", MISSING_ID, "--session-id", "{id}"],
    "clear": ["--session-id", "{id}", "--clear", "--yes"],
    "export": ["--session-id", "{id}", "--export", "out.json"],
    "chat": ["--session-id", "{id}", "--agent-id", "assistant", "--chat", "hello"],
    "create": ["--create", "--agent-id", "assistant", "--session-id", "{id}"],
}


def fill(template: list[str], value: str) -> list[str]:
    return [value if part == "{id}" else part for part in template]


@pytest.mark.parametrize("bad_id", list(UNSAFE_IDS.values()), ids=list(UNSAFE_IDS))
@pytest.mark.parametrize("command", list(SESSION_ID_COMMANDS.values()), ids=list(SESSION_ID_COMMANDS))
def test_unsafe_session_id_is_refused_with_exit_2_before_any_request(quiet_proxy, capsys, command, bad_id) -> None:
    code, out, err = run_cli(capsys, "--base-url", quiet_proxy.url, *fill(command, bad_id))

    assert_refused_before_sending(code, out, err, quiet_proxy)


# Percent signs and spaces can be addressed: each goes out encoded, so the id named is the id reached.
ENCODED_IDS = {"percent": ("a%2Fb", "a%252Fb"), "percent-dotdot": ("%2e%2e", "%252e%252e"), "space": ("a b", "a%20b")}


@pytest.mark.parametrize(("given", "sent"), list(ENCODED_IDS.values()), ids=list(ENCODED_IDS))
def test_ids_with_percent_or_space_are_sent_encoded(quiet_proxy, capsys, given, sent) -> None:
    code, _out, err = run_cli(capsys, "--base-url", quiet_proxy.url, "--session-id", given, "--show-runs")

    assert code != 2, err
    assert [request.path for request in quiet_proxy.seen()] == [f"/sessions/{sent}/runs"]


@pytest.mark.parametrize("bad_id", list(UNSAFE_IDS.values()), ids=list(UNSAFE_IDS))
def test_unsafe_run_id_is_refused_with_exit_2_before_any_request(quiet_proxy, capsys, bad_id) -> None:
    code, out, err = run_cli(capsys, "--base-url", quiet_proxy.url, "--session-id", "seed-00001", "--run-id", bad_id)

    assert_refused_before_sending(code, out, err, quiet_proxy)


def test_unsafe_run_id_with_show_runs_is_refused_before_any_request(quiet_proxy, capsys) -> None:
    code, out, err = run_cli(
        capsys, "--base-url", quiet_proxy.url, "--session-id", "seed-00001", "--show-runs", "--run-id", "../x"
    )

    assert_refused_before_sending(code, out, err, quiet_proxy)


def test_an_unsafe_id_in_the_middle_of_the_error_line_is_escaped(quiet_proxy, capsys) -> None:
    code, _out, err = run_cli(capsys, "--base-url", quiet_proxy.url, "--session-id", "a\x1b[2J\nb")

    assert code == 2
    assert "\x1b" not in err and err.count("\n") == 1


MALFORMED_BASE_URLS = {
    "no-scheme": "localhost:7777",
    "scheme-relative": "//127.0.0.1:7777",
    "ftp": "ftp://127.0.0.1:21",
    "file": "file:///etc/passwd",
    "javascript": "javascript:alert(1)",
    "space-in-host": "http://exa mple.com",
    "space-before-port": "http://127.0.0.1 :7777",
    "trailing-newline": "http://127.0.0.1:7777/\n",
    "no-host": "http://",
    "port-only": "http://:80",
    "port-zero": "http://127.0.0.1:0",
    "port-too-big": "http://127.0.0.1:99999",
    "port-not-a-number": "http://127.0.0.1:77a7",
    "credentials": "http://user:pw@127.0.0.1:7777",
    "query": "http://127.0.0.1:7777?x=1",
    "fragment": "http://127.0.0.1:7777#top",
}


@pytest.mark.parametrize("url", list(MALFORMED_BASE_URLS.values()), ids=list(MALFORMED_BASE_URLS))
def test_malformed_base_url_is_refused_with_exit_2(capsys, url) -> None:
    code, out, err = run_cli(capsys, "--base-url", url)

    assert_refused_before_sending(code, out, err)


@pytest.mark.parametrize("url", ["http://[::1", "http://[not-an-ip]:7777"], ids=["unclosed-bracket", "bad-ipv6"])
def test_malformed_ipv6_base_url_is_refused_with_exit_2(capsys, url) -> None:
    code, out, err = run_cli(capsys, "--base-url", url)

    assert_refused_before_sending(code, out, err)


def test_empty_base_url_is_refused_rather_than_replaced_by_the_default(capsys) -> None:
    code, out, err = run_cli(capsys, "--base-url", "", "--timeout", "1", "--retries", "0")

    assert_refused_before_sending(code, out, err)


def test_malformed_agentos_url_from_the_environment_is_refused_with_exit_2(capsys, monkeypatch) -> None:
    monkeypatch.setenv("AGENTOS_URL", "ftp://127.0.0.1:21")

    code, out, err = run_cli(capsys)

    assert_refused_before_sending(code, out, err)
    assert "ftp://127.0.0.1:21" in err


BAD_NUMBERS = [
    ("--limit", "0"),
    ("--limit", "-5"),
    ("--limit", "abc"),
    ("--limit", "1.5"),
    ("--limit", ""),
    ("--limit", "9" * 5000),
    ("--page", "-1"),
    ("--page", "0"),
    ("--page", "two"),
    ("--timeout", "abc"),
    ("--timeout", "0"),
    ("--timeout", "-1"),
    ("--timeout", "nan"),
    ("--timeout", "inf"),
    ("--timeout", "1e400"),
    ("--retries", "-1"),
    ("--retries", "1.5"),
    ("--retries", "many"),
]


@pytest.mark.parametrize(("flag", "value"), BAD_NUMBERS, ids=[f"{f}={v[:12]}" for f, v in BAD_NUMBERS])
def test_bad_number_is_refused_with_exit_2_before_any_request(quiet_proxy, capsys, flag, value) -> None:
    code, out, err = run_cli(capsys, "--base-url", quiet_proxy.url, flag, value)

    assert_refused_before_sending(code, out, err, quiet_proxy)
    assert flag in err


BAD_JSON = {
    "invalid": "{",
    "single-quotes": "{'a': 1}",
    "trailing-garbage": '{"a": 1} x',
    "list": "[1, 2]",
    "string": '"text"',
    "number": "42",
    "null": "null",
    "huge": '{"a": "' + "x" * (arguments.MAX_JSON_ARGUMENT + 1) + '"}',
}
JSON_TRACEBACKS = {
    "deeply-nested": '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}",
    "nan": '{"a": NaN}',
    "infinity": '{"a": -Infinity}',
    "overflowing-float": '{"a": 1e999}',
}
JSON_CASES = [pytest.param(text, id=name) for name, text in BAD_JSON.items()] + [
    pytest.param(
        text,
        id=name,
    )
    for name, text in JSON_TRACEBACKS.items()
]
JSON_COMMANDS = {
    "create-state": ["--create", "--agent-id", "assistant", "--session-id", MISSING_ID, "--state", "{json}"],
    "create-metadata": ["--create", "--agent-id", "assistant", "--session-id", MISSING_ID, "--metadata", "{json}"],
    "update-state": ["--session-id", MISSING_ID, "--update", "--state", "{json}"],
}


@pytest.mark.parametrize("text", JSON_CASES)
@pytest.mark.parametrize("command", list(JSON_COMMANDS.values()), ids=list(JSON_COMMANDS))
def test_bad_json_argument_is_refused_with_exit_2_before_any_request(quiet_proxy, capsys, command, text) -> None:
    argv = [text if part == "{json}" else part for part in command]

    code, out, err = run_cli(capsys, "--base-url", quiet_proxy.url, *argv)

    assert_refused_before_sending(code, out, err, quiet_proxy)
    assert len(err) < 1000


BAD_CHOICES = [
    ("--sort-by", "session_name"),
    ("--sort-by", "created_at; DROP TABLE sessions"),
    ("--sort-by", ""),
    ("--sort-order", "ASC"),
    ("--sort-order", "sideways"),
    ("--type", "bogus"),
    ("--type", "AGENT"),
    ("--status", "bogus"),
    ("--status", ""),
]


@pytest.mark.parametrize(("flag", "value"), BAD_CHOICES, ids=[f"{f}={v[:12]}" for f, v in BAD_CHOICES])
def test_unknown_choice_is_refused_with_exit_2_before_any_request(quiet_proxy, capsys, flag, value) -> None:
    extra = ["--session-id", "seed-00001", "--show-runs"] if flag == "--status" else []

    code, out, err = run_cli(capsys, "--base-url", quiet_proxy.url, *extra, flag, value)

    assert_refused_before_sending(code, out, err, quiet_proxy)


BAD_DATES = [
    ("--before", "yesterday"),
    ("--before", "2026-13-01"),
    ("--before", "2026-02-30T10:00:00Z"),
    ("--before", ""),
    ("--before", "1e5"),
    ("--since", "not a date"),
    ("--until", "12:61"),
    ("--before", "-1"),
]
OVERFLOWING_DATES = [("--before", "9" * 400), ("--since", "9" * 400), ("--until", "1" * 320)]
DATE_CASES = [pytest.param(flag, value, id=f"{flag}={value[:12]}") for flag, value in BAD_DATES] + [
    pytest.param(
        flag,
        value,
        id=f"{flag}=digits{len(value)}",
    )
    for flag, value in OVERFLOWING_DATES
]


@pytest.mark.parametrize(("flag", "value"), DATE_CASES)
def test_unparseable_date_is_refused_with_exit_2_before_any_request(quiet_proxy, capsys, flag, value) -> None:
    extra = ["--session-id", "seed-00001", "--show-runs"] if flag in ("--since", "--until") else []

    code, out, err = run_cli(capsys, "--base-url", quiet_proxy.url, *extra, flag, value)

    assert_refused_before_sending(code, out, err, quiet_proxy)


EXPORT = model.EXPORT_FORMAT
RESTORE_FILES = {
    "not-json": b"this is not json",
    "json-list": b"[]",
    "wrong-format": json.dumps({"format": "something-else/1", "session": {}, "runs": []}).encode(),
    "unsafe-session-id": json.dumps({"format": EXPORT, "session": {"session_id": "../x"}, "runs": []}).encode(),
    "empty-session-id": json.dumps({"format": EXPORT, "session": {"session_id": ""}, "runs": []}).encode(),
}
RESTORE_TRACEBACKS = {
    "invalid-utf8": b"\xff\xfe\x00not text",
    "no-session": json.dumps({"format": EXPORT, "runs": []}).encode(),
    "session-not-object": json.dumps({"format": EXPORT, "session": 5, "runs": []}).encode(),
    "session-id-not-string": json.dumps({"format": EXPORT, "session": {"session_id": 5}, "runs": []}).encode(),
    "no-session-type": json.dumps({"format": EXPORT, "session": {"session_id": MISSING_ID}, "runs": []}).encode(),
    "query-in-session-type": json.dumps(
        {"format": EXPORT, "session": {"session_id": MISSING_ID, "session_type": "agent&db_id=x"}, "runs": []}
    ).encode(),
    "no-runs": json.dumps({"format": EXPORT, "session": {"session_id": MISSING_ID, "session_type": "agent"}}).encode(),
    "runs-not-list": json.dumps(
        {"format": EXPORT, "session": {"session_id": MISSING_ID, "session_type": "agent"}, "runs": 7}
    ).encode(),
}
RESTORE_CASES = [pytest.param(content, id=name) for name, content in RESTORE_FILES.items()] + [
    pytest.param(
        content,
        id=name,
    )
    for name, content in RESTORE_TRACEBACKS.items()
]


@pytest.mark.parametrize("content", RESTORE_CASES)
def test_restore_file_of_the_wrong_shape_is_refused_with_exit_2_before_any_request(
    agentos, quiet_proxy, capsys, tmp_path, content
) -> None:
    # A unique id, removed afterwards, in case the file gets through to the server.
    session_id = f"hostile-restore-{uuid.uuid4()}"
    backup = tmp_path / "backup.json"
    backup.write_bytes(content.replace(MISSING_ID.encode(), session_id.encode()))

    try:
        code, out, err = run_cli(capsys, "--base-url", quiet_proxy.url, "--restore", str(backup))
    finally:
        httpx.delete(f"{agentos.url}/sessions/{session_id}", timeout=30)

    assert_refused_before_sending(code, out, err, quiet_proxy)


@pytest.mark.parametrize("where", ["missing", "directory"])
def test_restore_from_a_path_that_is_no_file_is_refused_with_exit_2(quiet_proxy, capsys, tmp_path, where) -> None:
    path = tmp_path / "absent.json" if where == "missing" else tmp_path

    code, out, err = run_cli(capsys, "--base-url", quiet_proxy.url, "--restore", str(path))

    assert_refused_before_sending(code, out, err, quiet_proxy)


def test_export_to_a_directory_is_refused_with_exit_2_before_any_request(quiet_proxy, capsys, tmp_path) -> None:
    code, out, err = run_cli(
        capsys, "--base-url", quiet_proxy.url, "--session-id", "seed-00001", "--export", str(tmp_path)
    )

    assert_refused_before_sending(code, out, err, quiet_proxy)


def test_clear_with_a_backup_dir_that_is_a_file_is_refused_and_keeps_the_session(
    agentos, quiet_proxy, capsys, tmp_path
) -> None:
    session_id = f"hostile-clear-{uuid.uuid4()}"
    body = {"session_id": session_id, "agent_id": "assistant", "session_name": "keep me"}
    assert httpx.post(f"{agentos.url}/sessions", params={"type": "agent"}, json=body, timeout=30).status_code == 201
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("x")

    try:
        code, out, err = run_cli(
            capsys, "--base-url", quiet_proxy.url, "--session-id", session_id, "--clear", "--yes",
            "--backup-dir", str(not_a_directory),
        )  # fmt: skip
        assert httpx.get(f"{agentos.url}/sessions/{session_id}", timeout=30).json()["session_name"] == "keep me"
    finally:
        httpx.delete(f"{agentos.url}/sessions/{session_id}", timeout=30)

    assert_refused_before_sending(code, out, err, quiet_proxy)


PARSER = cli.build_parser()
ACTION_FLAGS = sorted(
    flag
    for group in PARSER._mutually_exclusive_groups
    for action in group._group_actions
    for flag in action.option_strings
)
TAKES_VALUE = {
    flag
    for action in PARSER._actions
    if action.nargs != 0 and not isinstance(action, argparse._HelpAction)
    for flag in action.option_strings
}
LONG_FLAGS = sorted(
    flag
    for action in PARSER._actions
    if not isinstance(action, argparse._HelpAction)
    for flag in action.option_strings
    if flag.startswith("--") and flag not in ACTION_FLAGS
)
OPTION_FLAGS = [flag for flag in LONG_FLAGS if flag in TAKES_VALUE]
SWITCH_FLAGS = [flag for flag in LONG_FLAGS if flag not in TAKES_VALUE]
CLOSED_URL = closed_port_url()
# Values each flag would normally get; a flag not listed here still gets random ones.
PLAUSIBLE = {
    "--base-url": [CLOSED_URL],
    "--security-key": ["k-123"],
    "--timeout": ["0.5", "2"],
    "--retries": ["0", "1"],
    "--db-id": ["db"],
    "--table": ["sessions"],
    "--rename": ["New name"],
    "--export": ["out.json", "-"],
    "--restore": ["backup.json"],
    "--chat": ["hello"],
    "--session-id": ["seed-00001", "abc-123", MISSING_ID],
    "--run-id": ["r-1"],
    "--agent-id": ["assistant"],
    "--team-id": ["research-team"],
    "--workflow-id": ["pipeline"],
    "--user-id": ["alice@example.com"],
    "--type": list(model.SESSION_TYPES),
    "--name": ["Research", "Chat 1"],
    "--before": ["2026-01-01", "1700000000", "2026-11-28T14:00:00Z"],
    "--since": ["2026-01-01", "1700000000"],
    "--until": ["2026-11-28T14:00:00+01:00"],
    "--limit": ["1", "20"],
    "--page": ["1", "3"],
    "--sort-by": list(arguments.SORT_FIELDS),
    "--sort-order": ["asc", "desc"],
    "--status": ["completed", "ERROR"],
    "--state": ['{"a": 1}', "{}"],
    "--metadata": ['{"tag": "x"}'],
    "--summary": ["short"],
    "--backup-dir": ["backups"],
}
NASTY_VALUES = [
    "", "-", "--", ".", "..", "a/b", "a?b", "a#b", "%2F", "a b", "\x00", "\n", "\x1b[2J", "\u202e", "☃",
    "x" * 300, "0", "-1", "1.5", "1e309", "nan", "inf", "9" * 400, "{}", "[]", "{", "null", '{"a": 1}',
    '{"a": NaN}', "[" * 3000, "2026-13-40", "0001-01-01T00:00:00+01:00", "yesterday", "http://[::1", "ftp://x",
]  # fmt: skip
RANDOM_VALUES = st.one_of(st.sampled_from(NASTY_VALUES), st.text(max_size=20), st.integers().map(str))


def value_for(flag: str) -> st.SearchStrategy[str]:
    """Mostly a value the flag expects, sometimes a nasty or random one."""
    plausible = st.sampled_from(PLAUSIBLE.get(flag, ["x"]))
    return st.one_of(plausible, plausible, plausible, plausible, RANDOM_VALUES)


def with_value(flag: str) -> st.SearchStrategy[list[str]]:
    return value_for(flag).map(lambda value: [flag, value]) if flag in TAKES_VALUE else st.just([flag])


ARGUMENT_LISTS = st.tuples(
    st.one_of(st.just([]), st.sampled_from(ACTION_FLAGS).flatmap(with_value)),
    st.one_of(st.just([]), with_value("--session-id")),
    st.lists(st.sampled_from(OPTION_FLAGS).flatmap(with_value), max_size=5),
    st.lists(st.sampled_from(SWITCH_FLAGS), max_size=2, unique=True),
    st.one_of(st.just([]), st.just([]), st.just([]), RANDOM_VALUES.map(lambda value: [value])),
).map(lambda parts: [*parts[0], *parts[1], *(word for pair in parts[2] for word in pair), *parts[3], *parts[4]])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
SESSION_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "session_id": st.one_of(st.sampled_from([MISSING_ID, "../x", ""]), JSON_VALUES),
        "session_type": st.one_of(st.sampled_from(["agent", "team", "workflow", "agent&db_id=x"]), JSON_VALUES),
        "session_name": JSON_VALUES,
        "agent_id": JSON_VALUES,
    },
)
BACKUP_FILES = st.one_of(
    st.binary(max_size=40),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    st.fixed_dictionaries(
        {"format": st.sampled_from([model.EXPORT_FORMAT, "other/1"])},
        optional={"session": st.one_of(SESSION_FIELDS, JSON_VALUES), "runs": st.one_of(st.just([]), JSON_VALUES)},
    ).map(lambda document: json.dumps(document).encode()),
)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(argv=ARGUMENT_LISTS, backup=BACKUP_FILES)
def test_random_arguments_never_give_a_traceback_or_an_undocumented_exit_code(capsys, tmp_path, argv, backup) -> None:
    # derandomize: the same 150 examples every run, so a failure is a finding, never noise.
    (tmp_path / "backup.json").write_bytes(backup)
    # Appended last so they win over random ones: nothing real is touched, and quickly.
    full = [*argv, "--base-url", CLOSED_URL, "--timeout", "0.5", "--retries", "0"]
    capsys.readouterr()
    try:
        code = manage_sessions.main(full)
    except SystemExit as exit_:
        out, _err = capsys.readouterr()
        assert exit_.code == 0 and "usage:" in out, f"SystemExit({exit_.code}) for {full!r}"
        return
    except Exception as error:
        pytest.fail(f"{type(error).__name__}: {error} escaped main for {full!r}")
    _out, err = capsys.readouterr()
    assert code in DOCUMENTED_EXIT_CODES, full
    assert "Traceback" not in err
    if code != 0:
        assert len(err.strip().splitlines()) == 1, (full, err)
