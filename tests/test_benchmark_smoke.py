"""The benchmark runs end to end at tiny sizes and reports every figure (no timing is asserted)."""

from __future__ import annotations

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


@pytest.mark.slow
def test_quick_benchmark_prints_and_writes_every_figure(tmp_path: Path) -> None:
    output = tmp_path / "results.md"
    completed = subprocess.run(
        [sys.executable, str(BENCHMARK), "--quick", "--output", str(output)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=240,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = output.read_text()
    for line in FIGURE_LINES:
        assert line in completed.stdout, f"{line!r} missing from stdout:\n{completed.stdout}"
        assert line in report, f"{line!r} missing from {output.name}"
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
