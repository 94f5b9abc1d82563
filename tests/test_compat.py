"""Older AgentOS servers (agno 3.0.11 and 2.9.0): what differs from 3.1, and that the CLI copes.

The whole CLI suite (test_cli_core.py, test_cli_extended.py) also runs against these servers;
this file pins the differences themselves.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from cli_helpers import Cli, unique
from conftest import ROOT, AgentOSServer
from faultproxy import FaultProxy

REFERENCE = ROOT / "references" / "api-patterns.md"


@pytest.fixture
def legacy_cli(legacy_agentos: AgentOSServer, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(capsys, legacy_agentos.url)


@pytest.fixture
def legacy_proxy(legacy_agentos: AgentOSServer) -> Iterator[FaultProxy]:
    with FaultProxy(legacy_agentos.url) as running:
        yield running


@pytest.fixture
def proxy(agentos: AgentOSServer) -> Iterator[FaultProxy]:
    with FaultProxy(agentos.url) as running:
        yield running


def test_older_servers_lack_run_previews(legacy_agentos: AgentOSServer) -> None:
    answer = httpx.get(f"{legacy_agentos.url}/sessions/seed-00002/run-previews")
    assert answer.status_code == 404 and answer.json() == {"detail": "Not Found"}


def test_inspect_on_an_older_server_finds_the_session_and_counts_its_runs(legacy_cli: Cli) -> None:
    outcome = legacy_cli("--session-id", "seed-00002", "--json")
    assert outcome.code == 0, outcome.err
    session = outcome.json()
    assert session["session_id"] == "seed-00002" and session["session_name"] == "Research Chat 2"
    assert session["run_count"] == 2


def test_inspect_of_a_missing_session_on_an_older_server_is_still_not_found(legacy_cli: Cli) -> None:
    outcome = legacy_cli("--session-id", unique("nowhere"))
    assert outcome.code == 3 and "not found" in outcome.err


def test_older_server_asks_for_previews_once_then_counts_from_runs(
    legacy_proxy: FaultProxy, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = Cli(capsys, legacy_proxy.url)("--session-id", "seed-00002", "--json")
    assert outcome.code == 0 and outcome.json()["run_count"] == 2
    assert len(legacy_proxy.seen("GET", "/sessions/seed-00002/run-previews")) == 1
    assert len(legacy_proxy.seen("GET", "/sessions/seed-00002/runs")) == 1


def test_a_31_server_gets_no_extra_request_for_inspect(proxy: FaultProxy, capsys: pytest.CaptureFixture[str]) -> None:
    outcome = Cli(capsys, proxy.url)("--session-id", "seed-00002", "--json")
    assert outcome.code == 0 and outcome.json()["run_count"] == 2
    targets = sorted(request.target for request in proxy.seen())
    assert targets == ["GET /sessions/seed-00002", "GET /sessions/seed-00002/run-previews"]


def test_run_status_filter_is_applied_even_where_the_server_ignores_it(
    legacy_cli: Cli, legacy_agentos: AgentOSServer
) -> None:
    ignored = httpx.get(f"{legacy_agentos.url}/sessions/seed-00002/runs", params={"status": "ERROR"}).json()
    assert len(ignored) == 2  # the server returns every run
    assert legacy_cli.json("--session-id", "seed-00002", "--show-runs", "--status", "error") == []
    assert len(legacy_cli.json("--session-id", "seed-00002", "--show-runs", "--status", "completed")) == 2


VERSION_ROW = re.compile(r"^\| `(GET|POST|PATCH|DELETE) (\S+)`(?: `(\w+)`)? \| (yes|no) \| (yes|no) \| (yes|no) \|")


def version_rows() -> list[tuple[str, str, str | None, dict[str, bool]]]:
    """(method, path, query parameter, {line: present}) for each row of the reference's version table."""
    rows = []
    for line in REFERENCE.read_text().splitlines():
        match = VERSION_ROW.match(line)
        if match:
            method, path, parameter, *present = match.groups()
            rows.append(
                (method, path, parameter, dict(zip(("3.1", "3.0", "2.9"), [p == "yes" for p in present], strict=True)))
            )
    return rows


def served(server: AgentOSServer, method: str, path: str, parameter: str | None) -> bool:
    """Whether the server's OpenAPI document has the endpoint (and the query parameter)."""
    operation = httpx.get(f"{server.url}/openapi.json", timeout=30).json()["paths"].get(path, {}).get(method.lower())
    if operation is None or parameter is None:
        return operation is not None
    return parameter in {item["name"] for item in operation.get("parameters", []) if item["in"] == "query"}


def test_version_table_matches_the_older_servers(legacy_agentos: AgentOSServer) -> None:
    line = ".".join(legacy_agentos.agno_version.split(".")[:2])
    rows = version_rows()
    assert len(rows) >= 7
    assert [(m, p, q) for m, p, q, present in rows if served(legacy_agentos, m, p, q) != present[line]] == []


def test_version_table_matches_the_31_server(agentos: AgentOSServer) -> None:
    assert [(m, p, q) for m, p, q, present in version_rows() if served(agentos, m, p, q) != present["3.1"]] == []
