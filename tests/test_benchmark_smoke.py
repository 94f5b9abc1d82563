"""The benchmark runs end to end at tiny sizes and reports every figure (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARK = ROOT / "benchmarks" / "bench_cli.py"
FIGURE_LINES = (
    "| 1a. --help ",
    "| 1b. usage error (--limit 0) ",
    "| 2. list one page --json ",
    "| 3. --all --json, 24 sessions ",
    "| 3. same session-id order ",
    "| 3. peak memory (--all) ",
    "| 4. delete 10 by --user-id ",
    "| 5a. --show-runs --json, 3 runs ",
    "| 5b. --chat first token (pty) ",
)


def run_benchmark(script: Path, output: Path, *options: str) -> tuple[str, str]:
    """Run a benchmark script to completion; its stdout and the report it wrote."""
    completed = subprocess.run(
        [sys.executable, str(script), *options, "--output", str(output)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=240,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout, output.read_text()


def assert_every_line_in_both(lines: tuple[str, ...], stdout: str, report: str) -> None:
    for line in lines:
        assert line in stdout, f"{line!r} missing from stdout:\n{stdout}"
        assert line in report, f"{line!r} missing from the report"


@pytest.mark.slow
def test_quick_benchmark_prints_and_writes_every_figure(tmp_path: Path) -> None:
    stdout, report = run_benchmark(BENCHMARK, tmp_path / "results.md", "--quick")
    assert_every_line_in_both(FIGURE_LINES, stdout, report)
    order_line = next(line for line in report.splitlines() if line.startswith("| 3. same session-id order "))
    assert "| pass " in order_line
    assert "agno 3.1" in report and "- date: " in report


def test_regenerated_report_keeps_hand_written_notes(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCHMARK.parent))
    try:
        import bench_cli
    finally:
        sys.path.remove(str(BENCHMARK.parent))
    output = tmp_path / "RESULTS.md"
    output.write_text(f"old table\n{bench_cli.NOTES_MARKER}\nwhy a target was missed\n")
    bench_cli.write_report(output, "new table\n")
    assert output.read_text() == f"new table\n\n{bench_cli.NOTES_MARKER}\nwhy a target was missed\n"


SETS_BENCHMARK = ROOT / "benchmarks" / "bench_sets.py"
SETS_FIGURE_LINES = (
    "| 6. --update --metadata --yes, 10 sessions ",
    "| 6. same metadata afterwards ",
    "| 7a. --max-runs 0 --all --json, 24 sessions ",
    "| 7a. same session ids ",
    "| 7b. --search banana --all --json, 24 sessions ",
    "| 7b. same session ids ",
    "| 10. --all --user-id --json, 30 sessions (SQLite, 1 worker, loopback) ",
    "| 10. same session ids ",
    "| 8a. --all --json: time ",
    "| 8a. --all --json: peak memory ",
    "| 8b. --delete --user-id --before --dry-run --json: time ",
    "| 8b. --delete --user-id --before --dry-run --json: peak memory ",
    "| 9. --show-runs --last 1 --json, 24 sessions ",
    "| 9. same last run of each ",
)


@pytest.mark.slow
def test_quick_sets_benchmark_prints_and_writes_every_figure_with_both_sides_agreeing(tmp_path: Path) -> None:
    stdout, report = run_benchmark(SETS_BENCHMARK, tmp_path / "RESULTS-sets.md", "--quick")
    assert_every_line_in_both(SETS_FIGURE_LINES, stdout, report)
    same = ("| 6. same ", "| 7a. same ", "| 7b. same ", "| 9. same ", "| 10. same ")
    checks = [line for line in report.splitlines() if line.startswith(same)]
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in checks]
    assert len(cells) == 5 and all(row[4:] == ["identical", "pass"] for row in cells), checks
    assert "| 40 sessions " in report and "| 400 sessions " in report
    assert "agno 3.1" in report and "- date: " in report and "[RESULTS.md](RESULTS.md)" in report


AGENT_BENCHMARK = ROOT / "benchmarks" / "bench_agent_requests.py"
AGENT_REQUEST_ROWS = tuple(f"| {number}. " for number in range(1, 11))


def before_commit_is_available() -> bool:
    found = subprocess.run(["git", "cat-file", "-e", "d1c1f41^{commit}"], cwd=ROOT, capture_output=True)
    return found.returncode == 0


@pytest.mark.slow
def test_agent_requests_benchmark_answers_every_request_completely_with_3x_fewer_characters(tmp_path: Path) -> None:
    if not before_commit_is_available():
        pytest.skip("commit d1c1f41 (the 'before' script) is not in this clone's history")
    stdout, report = run_benchmark(AGENT_BENCHMARK, tmp_path / "RESULTS-agent-requests.md")
    assert_every_line_in_both(AGENT_REQUEST_ROWS, stdout, report)
    assert "n/a" not in stdout
    assert "every answer complete: pass " in stdout and "| **total** " in report
    assert "agno 3.1" in report and "- date: " in report


def test_delay_proxy_adds_its_round_trip_to_each_request_and_keeps_the_connection() -> None:
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import httpx

    sys.path.insert(0, str(BENCHMARK.parent))
    try:
        from delay_proxy import DelayProxy
    finally:
        sys.path.remove(str(BENCHMARK.parent))

    class Echo(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            body = f"path {self.path} port {self.client_address[1]} ".encode() * 5000  # several proxy reads
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with DelayProxy(f"http://127.0.0.1:{server.server_port}", round_trip=0.1) as proxy, httpx.Client() as client:
            start = time.perf_counter()
            answers = [client.get(f"{proxy.url}/sessions/{number}").text for number in range(3)]
            elapsed = time.perf_counter() - start
    finally:
        server.shutdown()
    ports = set()
    for number, answer in enumerate(answers):
        unit = answer[: answer.index("path", 1)]
        assert unit.startswith(f"path /sessions/{number} port ") and answer == unit * 5000
        ports.add(unit.split()[3])
    assert len(ports) == 1  # the three requests shared one upstream connection: kept alive through the proxy
    assert 0.3 <= elapsed < 1.5


def test_agent_requests_benchmark_counts_the_documentation_read_before_the_first_call() -> None:
    if not before_commit_is_available():
        pytest.skip("commit d1c1f41 (the 'before' script) is not in this clone's history")
    completed = subprocess.run(
        [sys.executable, str(AGENT_BENCHMARK), "--docs-only"], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    rows = {
        cells[0]: [int(cell) for cell in cells[1:]]
        for line in completed.stdout.splitlines()
        if line.startswith("| ") and (cells := [cell.strip() for cell in line.strip("|").split("|")])[1].isdigit()
    }
    assert set(rows) == {"d1c1f41", "1f0bdd2", "working tree"}
    assert rows["1f0bdd2"] == [18595, 8367, 18595 + 8367]  # the figures issue 21 started from
    skill, shown, total = rows["working tree"]
    assert skill == len((ROOT / "SKILL.md").read_text()) and total == skill + shown <= 14_000
    assert f"documentation before the first call: pass ({total:,}: " in completed.stdout


def test_agent_requests_benchmark_refuses_a_report_without_requests(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, str(AGENT_BENCHMARK), "--docs-only", "--output", str(tmp_path / "r.md")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert completed.returncode == 2 and "drop --output" in completed.stderr and not (tmp_path / "r.md").exists()


@pytest.mark.parametrize(
    ("option", "value", "complaint"),
    [
        ("--latency", "10,abc", "expected milliseconds from 0 to 10000, comma-separated"),
        ("--latency", "-5", "expected milliseconds from 0 to 10000, comma-separated"),
        ("--servers", "sqlite,mysql", "unknown server 'mysql'; use sqlite, postgres-4w"),
    ],
)
@pytest.mark.parametrize("script", [BENCHMARK, SETS_BENCHMARK], ids=["bench_cli", "bench_sets"])
def test_benchmarks_refuse_a_bad_profile_before_starting_anything(
    script: Path, option: str, value: str, complaint: str
) -> None:
    completed = subprocess.run(
        [sys.executable, str(script), option, value], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert completed.returncode == 2
    assert complaint in completed.stderr and completed.stdout == ""


@pytest.mark.slow
def test_memory_benchmark_runs_every_command_and_the_restore_round_trip(tmp_path: Path) -> None:
    script = ROOT / "benchmarks" / "bench_memory.py"
    completed = subprocess.run(
        [sys.executable, str(script), "--sizes", "300", "--restore", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    commands = [json.loads(line).get("command") for line in completed.stdout.splitlines()]
    assert commands.count("all_json") == commands.count("updated_before_count") == 1
    assert "export_all" in commands and "restore" in commands
    assert '{"restored": 300, "server_sessions": 300}' in completed.stdout
