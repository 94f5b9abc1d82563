"""Start-up of the CLI before and after a change: `--help`, a usage error, one list call, one inspect.

    uv run benchmarks/bench_startup.py                       # the single-file script (d1c1f41) vs now
    uv run benchmarks/bench_startup.py --before-ref ce12903 --repetitions 21

Both scripts run through `uv run --script` (the way agents run them) against one local
AgentOS (agno 3.1), interleaved, after two untimed warm-ups each; medians are reported.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_cli import CLI, ROOT, BenchError, child_env, start_server, stop_server, uv_binary

CASES = {
    "--help": ["--help"],
    "usage error (--limit 0)": ["--limit", "0"],
    "list one page --json": ["--json"],
    "inspect seed-00002 --json": ["--session-id", "seed-00002", "--json"],
}


def old_script(ref: str, directory: Path) -> Path:
    """The CLI as it was at a git revision (its package too, when it had one)."""
    target = directory / "before"
    archive = subprocess.run(["git", "archive", ref, "scripts"], cwd=ROOT, capture_output=True, check=False)
    if archive.returncode != 0:
        raise BenchError(f"git cannot read {ref}: {archive.stderr.decode(errors='replace').strip()}")
    target.mkdir()
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target / "scripts" / "manage_sessions.py"


def timed(script: Path, argv: list[str], url: str) -> float:
    """Seconds for one `uv run --script` of the CLI."""
    start = time.perf_counter()
    command = [uv_binary(), "run", "-q", "--script", str(script), *argv]
    if "--help" not in argv and "--limit" not in argv:
        command += ["--base-url", url]
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=child_env(), check=False)
    return time.perf_counter() - start


def measure(scripts: dict[str, Path], url: str, repetitions: int) -> dict[tuple[str, str], list[float]]:
    """Interleaved timings of every case for every script."""
    for script in scripts.values():
        for argv in CASES.values():
            timed(script, argv, url)
            timed(script, argv, url)
    times: dict[tuple[str, str], list[float]] = {(name, case): [] for name in scripts for case in CASES}
    for _ in range(repetitions):
        for case, argv in CASES.items():
            for name, script in scripts.items():
                times[(name, case)].append(timed(script, argv, url))
    return times


def table(times: dict[tuple[str, str], list[float]], before_ref: str) -> str:
    """A markdown table of medians and ratios."""
    lines = [
        f"| case | before ({before_ref}) | after | ratio after/before |",
        "|---|---|---|---|",
    ]
    for case in CASES:
        before = statistics.median(times[("before", case)]) * 1000
        after = statistics.median(times[("after", case)]) * 1000
        lines.append(f"| {case} | {before:.0f} ms | {after:.0f} ms | {after / before:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table; return the exit code."""
    parser = argparse.ArgumentParser(description="Start-up of manage_sessions.py before and after a change.")
    parser.add_argument("--before-ref", default="d1c1f41", help="git revision to compare with (default d1c1f41)")
    parser.add_argument("--repetitions", type=int, default=15, help="interleaved runs per case (default 15)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="agentos-startup-") as workdir:
        try:
            scripts = {"before": old_script(args.before_ref, Path(workdir)), "after": CLI}
            server, url = start_server(Path(workdir), 12)
        except BenchError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        try:
            times = measure(scripts, url, args.repetitions)
        finally:
            stop_server(server)
    print(table(times, args.before_ref))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
