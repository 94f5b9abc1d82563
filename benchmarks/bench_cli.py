"""Benchmark scripts/manage_sessions.py against the plain agno client code a user would write.

    uv run benchmarks/bench_cli.py                                   full sizes, a few minutes on 2 cores
    uv run benchmarks/bench_cli.py --quick                           tiny sizes, a smoke run
    uv run benchmarks/bench_cli.py --output benchmarks/RESULTS.md    also write the results as markdown
    uv run benchmarks/bench_cli.py --latency 0,10,50 --servers sqlite,postgres-4w   each profile in turn

Starts its own local AgentOS (scripts/local_agentos.py --port 0, a temporary SQLite file); with
`--servers postgres-4w` also 4 workers on a throwaway PostgreSQL (benchmarks/profiles.py).
`--latency MS` reaches the server through benchmarks/delay_proxy.py, which adds MS to every round
trip (comma-separated values: each in turn). Figures 2-5 run for every server and round trip.
Every figure is the median of repeated runs; each comparison runs ours and the baseline
interleaved (A, B, A, B ...) in the same session. Both sides are launched with `uv run`
from a script with the same PEP 723 header, after one untimed warm-up.

Exit codes: 0 measured (targets are reported, not enforced), 1 a check failed (wrong
output, sessions left behind, the server did not start), 2 bad usage.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import platform
import pty
import re
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TypeVar

import httpx
import profiles
from profiles import (
    Server,
    ServerError,
    open_database,
    profile_label,
    reached_through,
    round_trips,
    running_server,
    server_shapes,
)

ROOT = Path(__file__).resolve().parent.parent
CLI = ROOT / "scripts" / "manage_sessions.py"
# A stable place, so uv reuses the baseline scripts' environments from one run to the next.
BASELINE_DIR = Path(tempfile.gettempdir()) / "agentos-sessions-bench"
PROCESS_TIMEOUT = 300.0
DELETE_USER = "bench-delete@example.com"
RUNS_USER = "bench-runs@example.com"
RUNS_SESSION = "bench-runs-session"
CHAT_MESSAGE = "hi"
STARTED = time.perf_counter()
NOTES_MARKER = "<!-- Hand-written notes below this line are kept when the file is regenerated. -->"


@dataclass(frozen=True)
class Sizes:
    """How much data and how many repetitions one benchmark run uses."""

    seed: int
    deletions: int
    runs: int
    startup_repetitions: int
    call_repetitions: int
    bulk_repetitions: int


FULL = Sizes(seed=5000, deletions=1000, runs=200, startup_repetitions=11, call_repetitions=7, bulk_repetitions=5)
QUICK = Sizes(seed=24, deletions=10, runs=3, startup_repetitions=1, call_repetitions=1, bulk_repetitions=1)


class BenchError(Exception):
    """A measurement could not be trusted: wrong exit code, wrong output, server trouble."""


@dataclass
class Sample:
    """One timed process: wall seconds, exit code, peak RSS of its process tree."""

    seconds: float
    exit_code: int
    max_rss_kb: int = 0
    first_output: bytes = b""
    completed_seconds: float = 0.0


@dataclass(frozen=True)
class Target:
    """A goal: ours/baseline at most `value`, or baseline/ours at least `value`."""

    value: float
    speedup: bool = False

    def describe(self) -> str:
        """The target as the table shows it."""
        return f">= {self.value:g}x faster" if self.speedup else f"ratio <= {self.value:g}"


@dataclass
class Row:
    """One line of the results table."""

    figure: str
    ours: str
    baseline: str
    ratio: str
    target: str
    outcome: str


@dataclass
class Bench:
    """Everything the figures share: the server, the scripts, the sizes, the findings."""

    url: str
    db: Path
    workdir: Path
    cli: Path
    baselines: dict[str, Path]
    sizes: Sizes
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    db_url: str = ""
    profile: str = ""

    def suffix(self) -> str:
        """What a figure measured per profile adds to its label: the server and the network."""
        return f" ({self.profile})" if self.profile else ""


BASELINE_BODIES = {
    "noop": '"""Does nothing: the cost of `uv run` and Python start-up for this header."""\n',
    "list_one": """
import asyncio
import sys

from agno.client import AgentOSClient


async def main() -> None:
    page = await AgentOSClient(base_url=sys.argv[1]).get_sessions()
    print(page.model_dump_json(indent=2))


asyncio.run(main())
""",
    "list_all": """
import asyncio
import json
import sys

from agno.client import AgentOSClient


async def main() -> None:
    client = AgentOSClient(base_url=sys.argv[1])
    sessions, page = [], 1
    while True:
        response = await client.get_sessions(page=page)
        sessions.extend(session.model_dump(mode="json") for session in response.data)
        if page >= (response.meta.total_pages or 1):
            break
        page += 1
    print(json.dumps(sessions, indent=2))


asyncio.run(main())
""",
    "delete_each": """
import asyncio
import sys
from pathlib import Path

from agno.client import AgentOSClient


async def main() -> None:
    client = AgentOSClient(base_url=sys.argv[1])
    session_ids = Path(sys.argv[2]).read_text().split()
    for session_id in session_ids:
        await client.delete_session(session_id)
    print(len(session_ids))


asyncio.run(main())
""",
    "runs": """
import asyncio
import json
import sys

from agno.client import AgentOSClient


async def main() -> None:
    runs = await AgentOSClient(base_url=sys.argv[1]).get_session_runs(sys.argv[2])
    print(json.dumps([run.model_dump(mode="json") for run in runs], indent=2))


asyncio.run(main())
""",
    "stream": """
import asyncio
import sys

from agno.client import AgentOSClient


async def main() -> None:
    client = AgentOSClient(base_url=sys.argv[1])
    stream = client.run_agent_stream("assistant", sys.argv[4], session_id=sys.argv[2], user_id=sys.argv[3])
    async for event in stream:
        if event.event == "RunContent" and isinstance(event.content, str):
            sys.stdout.write(event.content)
            sys.stdout.flush()
    print()


asyncio.run(main())
""",
}


def child_env() -> dict[str, str]:
    """The environment of a user's shell: bytecode caching on, no active venv, no keys."""
    env = os.environ.copy()
    # Sandboxes often set this; a user's machine caches bytecode, so warm runs import from .pyc.
    for name in ("PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV", "AGENTOS_SECURITY_KEY", "OS_SECURITY_KEY", "AGENTOS_URL"):
        env.pop(name, None)
    return env


@functools.cache
def uv_binary() -> str:
    """The uv executable itself: `uv run` exports it as $UV; a shim on PATH would add its own start-up."""
    given = os.environ.get("UV")
    found = given if given and Path(given).is_file() else shutil.which("uv")
    if found is None:
        raise BenchError("uv is not on PATH; install it (https://docs.astral.sh/uv/)")
    return found


def is_shim(executable: str) -> bool:
    """True when the executable is a script (a pyenv or asdf shim), not uv's binary."""
    with open(executable, "rb") as file:
        return file.read(2) == b"#!"


def log(message: str) -> None:
    """Progress on stderr, with the seconds since the benchmark started."""
    print(f"[{time.perf_counter() - STARTED:5.1f} s] {message}", file=sys.stderr, flush=True)


def script_header(script: Path) -> str:
    """The PEP 723 block at the top of a script."""
    match = re.search(r"^# /// script$.*?^# ///$", script.read_text(), re.MULTILINE | re.DOTALL)
    if not match:
        raise BenchError(f"{script} has no PEP 723 header")
    return match.group(0) + "\n"


def write_baselines(directory: Path, cli: Path, bodies: dict[str, str] = BASELINE_BODIES) -> dict[str, Path]:
    """Write each baseline script with the CLI's header; rewrite only what changed."""
    directory.mkdir(parents=True, exist_ok=True)
    header = script_header(cli)
    paths = {}
    for name, body in bodies.items():
        path = directory / f"baseline_{name}.py"
        text = header + body
        if not path.exists() or path.read_text() != text:
            partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
            partial.write_text(text)
            partial.replace(path)
        paths[name] = path
    return paths


def warm_script_environment(script: Path, modules: str) -> None:
    """Create the script's uv environment and compile the modules it imports (untimed)."""
    env = child_env()
    subprocess.run([uv_binary(), "sync", "--script", str(script), "--quiet"], check=True, env=env, cwd=ROOT)
    found = subprocess.run(
        [uv_binary(), "python", "find", "--script", str(script)], check=True, env=env, capture_output=True, text=True
    )
    subprocess.run([found.stdout.strip(), "-c", f"import {modules}"], check=True, env=env)


def run_timed(argv: list[str], stdout: Path, stderr: Path) -> Sample:
    """Run a command to completion; wall time and the peak RSS of its whole process tree."""
    with stdout.open("wb") as out, stderr.open("wb") as err:
        start = time.perf_counter()
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=ROOT, env=child_env())
        watchdog = threading.Timer(PROCESS_TIMEOUT, process.kill)
        watchdog.start()
        # wait4's rusage covers the child and every descendant it reaped (uv's Python).
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        watchdog.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    return Sample(seconds, process.returncode, usage.ru_maxrss)


def read_terminal(master: int, start: float, deadline: float) -> tuple[float, bytes]:
    """Read a pseudo-terminal until the child closes it; when its first byte came, and all bytes."""
    first_at, received = 0.0, b""
    while time.perf_counter() < deadline:
        ready, _, _ = select.select([master], [], [], max(deadline - time.perf_counter(), 0))
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every process holding the terminal has exited
            break
        if not chunk:
            break
        if not received:
            first_at = time.perf_counter() - start
        received += chunk
    return first_at, received


def run_in_terminal(argv: list[str], stderr: Path) -> Sample:
    """Run a command with stdout on a pseudo-terminal; `seconds` is the time to its first stdout byte."""
    master, slave = pty.openpty()
    with stderr.open("wb") as err:
        start = time.perf_counter()
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=err, cwd=ROOT, env=child_env())
    os.close(slave)
    try:
        first_at, received = read_terminal(master, start, start + PROCESS_TIMEOUT)
    finally:
        os.close(master)
    try:
        exit_code = process.wait(timeout=PROCESS_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        exit_code = process.wait()
    return Sample(first_at, exit_code, first_output=received, completed_seconds=time.perf_counter() - start)


def checked(sample: Sample, expected_exit: int, what: str, stderr: Path) -> Sample:
    """Fail the benchmark when a command did not exit as it should."""
    if sample.exit_code != expected_exit:
        tail = stderr.read_text(errors="replace")[-2000:]
        raise BenchError(f"{what} exited {sample.exit_code}, expected {expected_exit}; its stderr:\n{tail}")
    return sample


def timed_command(bench: Bench, name: str, argv: list[str], expected_exit: int = 0) -> Callable[[], Sample]:
    """A runner for `interleave`: one timed, checked run whose stdout lands in workdir/name.out."""
    stdout, stderr = bench.workdir / f"{name}.out", bench.workdir / f"{name}.err"

    def run() -> Sample:
        return checked(run_timed(argv, stdout, stderr), expected_exit, name, stderr)

    return run


def interleave(runners: dict[str, Callable[[], Sample]], repetitions: int) -> dict[str, list[Sample]]:
    """Run every runner once per round, in turn, for `repetitions` rounds."""
    samples: dict[str, list[Sample]] = {name: [] for name in runners}
    for _ in range(repetitions):
        for name, runner in runners.items():
            samples[name].append(runner())
    return samples


def median_seconds(samples: list[Sample]) -> float:
    """The median wall time of a series."""
    return statistics.median(sample.seconds for sample in samples)


def format_seconds(seconds: float) -> str:
    """Milliseconds below ten seconds, seconds above."""
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def compare(figure: str, ours: list[Sample], baseline: list[Sample], target: Target) -> Row:
    """A table row from two interleaved series of samples."""
    ours_median, baseline_median = median_seconds(ours), median_seconds(baseline)
    if target.speedup:
        value = baseline_median / ours_median
        ratio, passed = f"{value:.1f}x faster", value >= target.value
    else:
        value = ours_median / baseline_median
        ratio, passed = f"{value:.2f}", value <= target.value
    return Row(
        figure,
        format_seconds(ours_median),
        format_seconds(baseline_median),
        ratio,
        target.describe(),
        "pass" if passed else "FAIL",
    )


def uv_run(script: Path, *args: str) -> list[str]:
    """The command a user types to run a PEP 723 script."""
    return [uv_binary(), "run", str(script), *args]


def start_server(workdir: Path, seed: int) -> tuple[subprocess.Popen, str]:
    """Start scripts/local_agentos.py (one worker, SQLite in `workdir`) and wait for its READY line."""
    try:
        process = profiles.start_server(workdir, seed, env=child_env())
    except ServerError as error:
        raise BenchError(str(error)) from None
    return process, process.url  # type: ignore[attr-defined]


def stop_server(process: subprocess.Popen) -> None:
    """Terminate the server and wait for it."""
    profiles.stop_server(process)


def count_sessions(bench: Bench, **params: str) -> int:
    """total_count of GET /sessions with these filters."""
    response = httpx.get(f"{bench.url}/sessions", params={**params, "limit": 1}, timeout=60)
    response.raise_for_status()
    return response.json()["meta"]["total_count"]


def create_user_sessions(bench: Bench, count: int) -> list[str]:
    """Insert `count` agent sessions for DELETE_USER straight into the server's database."""
    from agno.session import AgentSession

    now = int(time.time())
    session_ids = [f"bench-delete-{index:05d}" for index in range(1, count + 1)]
    sessions = [
        AgentSession(
            session_id=session_id,
            agent_id="assistant",
            user_id=DELETE_USER,
            session_data={"session_name": f"Bench delete {index}"},
            created_at=now,
            updated_at=now,
        )
        for index, session_id in enumerate(session_ids, start=1)
    ]
    open_database(bench.db_url).upsert_sessions(sessions, preserve_updated_at=True)
    if count_sessions(bench, user_id=DELETE_USER) != count:
        raise BenchError(f"created {count} sessions for {DELETE_USER} but the server does not list them all")
    return session_ids


def figure_startup(bench: Bench) -> None:
    """1: --help and a usage error against `uv run` of an empty script with the same header."""
    runners = {
        "help": timed_command(bench, "help", uv_run(bench.cli, "--help")),
        "noop": timed_command(bench, "noop", uv_run(bench.baselines["noop"])),
        "usage": timed_command(bench, "usage", uv_run(bench.cli, "--limit", "0"), expected_exit=2),
    }
    for runner in runners.values():
        runner()
    samples = interleave(runners, bench.sizes.startup_repetitions)
    bench.rows.append(compare("1a. --help", samples["help"], samples["noop"], Target(1.3)))
    bench.rows.append(compare("1b. usage error (--limit 0)", samples["usage"], samples["noop"], Target(1.3)))
    compile_ms = compile_seconds(bench.cli) * 1000
    floor_mb = statistics.median(sample.max_rss_kb for sample in samples["noop"]) / 1024
    lines = len(bench.cli.read_text().splitlines())
    bench.notes.append(
        f"Start-up floor: `uv run` of the empty script takes {format_seconds(median_seconds(samples['noop']))} "
        f"and peaks at {floor_mb:.0f} MB; compiling {bench.cli.name} ({lines} lines) takes {compile_ms:.0f} ms "
        "on every run, because Python never caches bytecode for the `__main__` script."
    )
    bench.notes.append(
        f"Slowest imports of `manage_sessions.py --help`: {import_profile(uv_run(bench.cli, '--help'))}."
    )


def compile_seconds(script: Path) -> float:
    """Median time to compile a script's source, as Python does for every `__main__` run."""
    source = script.read_text()
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        compile(source, str(script), "exec")
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def top_imports(stderr: str, count: int) -> list[tuple[str, float]]:
    """The top-level imports with the largest cumulative time in `-X importtime` output (ms)."""
    imports = []
    for line in stderr.splitlines():
        parts = line.split("|")
        if not line.startswith("import time:") or len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2][1:]
        if not name.startswith(" "):
            imports.append((name.strip(), int(parts[1]) / 1000))
    return sorted(imports, key=lambda item: item[1], reverse=True)[:count]


def import_profile(argv: list[str]) -> str:
    """The slowest imports of one run, as 'module N ms, ...'."""
    env = {**child_env(), "PYTHONPROFILEIMPORTTIME": "1"}
    completed = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=PROCESS_TIMEOUT)
    if completed.returncode != 0:
        raise BenchError(f"{' '.join(argv)} failed under -X importtime:\n{completed.stderr[-2000:]}")
    return ", ".join(f"`{name}` {ms:.0f} ms" for name, ms in top_imports(completed.stderr, 5))


def figure_list_one(bench: Bench) -> None:
    """2: one list call end to end against AgentOSClient.get_sessions() in a minimal script."""
    ours_argv = uv_run(bench.cli, "--base-url", bench.url, "--json")
    baseline_argv = uv_run(bench.baselines["list_one"], bench.url)
    runners = {
        "list_one_ours": timed_command(bench, "list_one_ours", ours_argv),
        "list_one_baseline": timed_command(bench, "list_one_baseline", baseline_argv),
    }
    for runner in runners.values():
        runner()
    samples = interleave(runners, bench.sizes.call_repetitions)
    ours_page = json.loads((bench.workdir / "list_one_ours.out").read_text())
    baseline_page = json.loads((bench.workdir / "list_one_baseline.out").read_text())
    if [s["session_id"] for s in ours_page["data"]] != [s["session_id"] for s in baseline_page["data"]]:
        raise BenchError("figure 2: ours and the baseline listed different sessions")
    label = f"2. list one page --json{bench.suffix()}"
    bench.rows.append(compare(label, samples["list_one_ours"], samples["list_one_baseline"], Target(1.15)))
    if not any(note.startswith("Slowest imports of `manage_sessions.py --json`") for note in bench.notes):
        bench.notes.append(f"Slowest imports of `manage_sessions.py --json` (list): {import_profile(ours_argv)}.")
        bench.notes.append(f"Slowest imports of the AgentOSClient baseline: {import_profile(baseline_argv)}.")


def session_ids_in(path: Path, document_key: str | None) -> list[str]:
    """The session ids of a JSON list (or of document[document_key]) in a file."""
    document = json.loads(path.read_text())
    sessions = document[document_key] if document_key else document
    return [session["session_id"] for session in sessions]


def figure_list_all(bench: Bench) -> None:
    """3: --all --json against a get_sessions(page=p) loop at its default page size."""
    runners = {
        "all_ours": timed_command(bench, "all_ours", uv_run(bench.cli, "--base-url", bench.url, "--all", "--json")),
        "all_baseline": timed_command(bench, "all_baseline", uv_run(bench.baselines["list_all"], bench.url)),
    }
    runners["all_ours"]()
    # A warm-up run of the page loop would cost as much as a timed one: warm its environment instead.
    warm_script_environment(bench.baselines["list_all"], "asyncio, json, sys, agno.client")
    samples = interleave(runners, bench.sizes.bulk_repetitions)
    ours_ids = session_ids_in(bench.workdir / "all_ours.out", "data")
    baseline_ids = session_ids_in(bench.workdir / "all_baseline.out", None)
    seeded = bench.sizes.seed
    bench.rows.append(
        compare(
            f"3. --all --json, {seeded} sessions{bench.suffix()}",
            samples["all_ours"],
            samples["all_baseline"],
            Target(2, True),
        )
    )
    same = ours_ids == baseline_ids and len(ours_ids) >= seeded
    bench.rows.append(
        Row(
            "3. same session-id order",
            f"{len(ours_ids)} ids",
            f"{len(baseline_ids)} ids",
            "-",
            "identical",
            "pass" if same else "FAIL",
        )
    )
    if not same:
        raise BenchError("figure 3: --all --json and the page loop returned different ids or orders")
    ours_mb = statistics.median(s.max_rss_kb for s in samples["all_ours"]) / 1024
    baseline_mb = statistics.median(s.max_rss_kb for s in samples["all_baseline"]) / 1024
    bench.rows.append(
        Row(
            "3. peak memory (--all)",
            f"{ours_mb:.0f} MB",
            f"{baseline_mb:.0f} MB",
            f"{ours_mb / baseline_mb:.2f}",
            "report",
            "-",
        )
    )


def figure_delete(bench: Bench) -> None:
    """4: bulk delete by --user-id against one AgentOSClient.delete_session call per session."""
    count = bench.sizes.deletions
    ids_file = bench.workdir / "delete_ids.txt"
    ours = timed_command(
        bench,
        "delete_ours",
        uv_run(bench.cli, "--base-url", bench.url, "--delete", "--user-id", DELETE_USER, "--yes", "--json"),
    )
    baseline = timed_command(bench, "delete_baseline", uv_run(bench.baselines["delete_each"], bench.url, str(ids_file)))

    def fresh(runner: Callable[[], Sample]) -> Callable[[], Sample]:
        def run() -> Sample:
            ids_file.write_text("\n".join(create_user_sessions(bench, count)) + "\n")
            sample = runner()
            if count_sessions(bench, user_id=DELETE_USER):
                raise BenchError(f"figure 4: sessions of {DELETE_USER} remain after a timed delete")
            return sample

        return run

    fresh(ours)()
    deleted = json.loads((bench.workdir / "delete_ours.out").read_text())["deleted"]
    if len(deleted) != count:
        raise BenchError(f"figure 4: the CLI reported {len(deleted)} deletions, expected {count}")
    ids_file.write_text("")
    baseline()
    samples = interleave({"ours": fresh(ours), "baseline": fresh(baseline)}, bench.sizes.bulk_repetitions)
    label = f"4. delete {count} by --user-id{bench.suffix()}"
    bench.rows.append(compare(label, samples["ours"], samples["baseline"], Target(10, True)))


def create_runs(bench: Bench, count: int) -> None:
    """Give RUNS_SESSION `count` real runs through POST /agents/assistant/runs, one after another."""
    with httpx.Client(base_url=bench.url, timeout=60) as client:
        for index in range(count):
            form = {"message": f"message {index}", "session_id": RUNS_SESSION, "user_id": RUNS_USER, "stream": "false"}
            client.post("/agents/assistant/runs", data=form).raise_for_status()


def figure_runs(bench: Bench) -> None:
    """5a: --show-runs --json on a session with many runs against get_session_runs()."""
    count = bench.sizes.runs
    runners = {
        "runs_ours": timed_command(
            bench,
            "runs_ours",
            uv_run(bench.cli, "--base-url", bench.url, "--session-id", RUNS_SESSION, "--show-runs", "--json"),
        ),
        "runs_baseline": timed_command(
            bench, "runs_baseline", uv_run(bench.baselines["runs"], bench.url, RUNS_SESSION)
        ),
    }
    runners["runs_ours"]()
    samples = interleave(runners, bench.sizes.call_repetitions)
    # Each profile's chat figure adds a run: both sides must print the same runs, at least `count`.
    printed = {name: len(json.loads((bench.workdir / f"{name}.out").read_text())) for name in runners}
    if len(set(printed.values())) != 1 or min(printed.values()) < count:
        raise BenchError(f"figure 5a: the two sides printed {printed} runs, expected the same and at least {count}")
    bench.rows.append(
        compare(
            f"5a. --show-runs --json, {count} runs{bench.suffix()}",
            samples["runs_ours"],
            samples["runs_baseline"],
            Target(1.15),
        )
    )


def first_token_runner(bench: Bench, name: str, argv: list[str]) -> Callable[[], Sample]:
    """A runner timing the first byte a streaming chat writes to its terminal."""
    stderr = bench.workdir / f"{name}.err"

    def run() -> Sample:
        sample = checked(run_in_terminal(argv, stderr), 0, name, stderr)
        if not sample.first_output.startswith(b"You said: "):
            raise BenchError(f"figure 5b: {name} streamed {sample.first_output[:80]!r}, not the model's reply")
        return sample

    return run


def figure_chat(bench: Bench) -> None:
    """5b: --chat first-token latency on a terminal against run_agent_stream() to the first RunContent."""
    runners = {
        "chat_ours": first_token_runner(
            bench,
            "chat_ours",
            uv_run(bench.cli, "--base-url", bench.url, "--session-id", RUNS_SESSION, "--chat", CHAT_MESSAGE),
        ),
        "chat_baseline": first_token_runner(
            bench, "chat_baseline", uv_run(bench.baselines["stream"], bench.url, RUNS_SESSION, RUNS_USER, CHAT_MESSAGE)
        ),
    }
    for runner in runners.values():
        runner()
    samples = interleave(runners, bench.sizes.call_repetitions)
    label = f"5b. --chat first token (pty){bench.suffix()}"
    bench.rows.append(compare(label, samples["chat_ours"], samples["chat_baseline"], Target(1.15)))
    ours_done = statistics.median(sample.completed_seconds for sample in samples["chat_ours"])
    baseline_done = statistics.median(sample.completed_seconds for sample in samples["chat_baseline"])
    bench.notes.append(
        f"{bench.profile}: chat on a pseudo-terminal (so the CLI streams): first content byte after "
        f"{format_seconds(median_seconds(samples['chat_ours']))} (ours) and "
        f"{format_seconds(median_seconds(samples['chat_baseline']))} (baseline); the process exits after "
        f"{format_seconds(ours_done)} and {format_seconds(baseline_done)}."
    )


# Figure 1 runs once; the others for every server and round trip.
PROFILE_FIGURES: list[Callable[[Bench], None]] = [
    figure_list_one,
    figure_list_all,
    figure_delete,
    figure_runs,
    figure_chat,
]


TABLE_HEADER = Row("figure", "ours", "baseline", "ratio", "target", "result")


def format_table(rows: list[Row], header: Row = TABLE_HEADER) -> str:
    """The results as an aligned markdown table."""
    cells = [[row.figure, row.ours, row.baseline, row.ratio, row.target, row.outcome] for row in [header, *rows]]
    widths = [max(len(line[column]) for line in cells) for column in range(len(cells[0]))]
    lines = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) + " |" for line in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def command_output(argv: list[str]) -> str:
    """One line of a command's output, or '?' when it cannot run."""
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout.strip() or "?"
    except OSError:
        return "?"


def environment_lines() -> list[str]:
    """Where and with what the figures were measured: date, machine, Python, agno, uv."""
    script_python = command_output([uv_binary(), "python", "find", "--script", str(CLI)])
    return [
        f"- date: {command_output(['date'])}",
        f"- machine: `{command_output(['uname', '-a'])}`, {os.cpu_count()} cores (nproc {command_output(['nproc'])})",
        f"- python: {platform.python_version()} (script environment: {command_output([script_python, '--version'])})",
        f"- agno {metadata.version('agno')}, {command_output([uv_binary(), '--version'])} (`{uv_binary()}`)",
    ]


def machine_lines(sizes: Sizes) -> list[str]:
    """The environment lines and the sizes of this run."""
    return [
        *environment_lines(),
        f"- sizes: {sizes.seed} seeded sessions, {sizes.deletions} deletions, {sizes.runs} runs; repetitions: "
        f"{sizes.startup_repetitions} (start-up), {sizes.call_repetitions} (single calls, chat), "
        f"{sizes.bulk_repetitions} (--all, delete)",
    ]


def format_markdown(sizes: Sizes, rows: list[Row], notes: list[str], command: str) -> str:
    """The whole report as markdown."""
    legend = (
        "Times are medians of interleaved runs (ours, baseline, ours, baseline ...), each launched with `uv run` "
        "after an untimed warm-up. `ratio` is ours/baseline (lower is better) or, for bulk work, how many times "
        "faster ours is. Peak memory is `ru_maxrss` of `os.wait4()` on the `uv run` process: the largest RSS in "
        "its process tree, i.e. the Python interpreter uv starts."
    )
    parts = [
        "# manage_sessions.py benchmark",
        "",
        f"Measured with `{command}`.",
        "",
        *machine_lines(sizes),
        "",
        format_table(rows),
        "",
        legend,
        "",
        "## Measured notes",
        "",
        *(f"- {note}" for note in notes),
        "",
    ]
    return "\n".join(parts)


def write_report(path: Path, markdown: str) -> None:
    """Write the report, keeping any hand-written notes below NOTES_MARKER in the old file."""
    kept = ""
    if path.exists() and NOTES_MARKER in (old := path.read_text()):
        kept = old[old.index(NOTES_MARKER) :]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown + ("\n" + kept if kept else ""))


def build_parser() -> argparse.ArgumentParser:
    """The command line; no side effects."""
    parser = argparse.ArgumentParser(description="Benchmark manage_sessions.py against plain AgentOSClient scripts.")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and one repetition (a smoke run)")
    parser.add_argument("--output", type=Path, metavar="PATH", help="also write the results as markdown to PATH")
    parser.add_argument(
        "--latency",
        type=round_trips,
        default=(0.0,),
        metavar="MS",
        help="reach the server through a proxy adding MS ms per round trip; several comma-separated values "
        "measure each in turn (default 0)",
    )
    parser.add_argument(
        "--servers",
        type=server_shapes,
        default=("sqlite",),
        metavar="SHAPES",
        help="servers to measure, comma-separated: sqlite, postgres-4w (default sqlite)",
    )
    parser.add_argument("--repetitions", type=int, metavar="N", help="repetitions of figures 2-5 (single calls, bulk)")
    parser.add_argument(
        "--cli", type=Path, default=CLI, metavar="SCRIPT", help="measure another copy of manage_sessions.py (a patch)"
    )
    return parser


def run_profiles(bench: Bench, server: Server, latencies: tuple[float, ...]) -> None:
    """Figures 2-5 against one server, at each round trip in turn."""
    bench.url, bench.db_url = server.url, server.db_url
    create_runs(bench, bench.sizes.runs)
    for round_trip in latencies:
        with reached_through(server.url, round_trip) as url:
            bench.url, bench.profile = url, profile_label(server, round_trip)
            for figure in PROFILE_FIGURES:
                log(f"{bench.profile}: running {figure.__name__}")
                figure(bench)


def run_figures(sizes: Sizes, workdir: Path, args: argparse.Namespace) -> Bench:
    """Figure 1, then figures 2-5 for every server and round trip."""
    if is_shim(uv_binary()):
        log(f"warning: {uv_binary()} is a shim script; its start-up is added to both sides of every ratio")
    cli = args.cli.resolve()
    bench = Bench("", workdir / "agentos.db", workdir, cli, write_baselines(BASELINE_DIR, cli), sizes)
    log("running figure_startup")
    figure_startup(bench)
    for shape in args.servers:
        log(f"starting the local AgentOS ({shape}) with {sizes.seed} seeded sessions")
        try:
            with running_server(shape, workdir / shape, sizes.seed, env=child_env()) as server:
                run_profiles(bench, server, args.latency)
        except ServerError as error:
            raise BenchError(str(error)) from None
    return bench


T = TypeVar("T")


def measured_in_a_temporary_folder(prefix: str, measure: Callable[[Path], T]) -> T | None:
    """Run `measure` in a fresh folder; on a benchmark failure print one line and return None."""
    with tempfile.TemporaryDirectory(prefix=prefix) as workdir:
        try:
            return measure(Path(workdir))
        except (BenchError, subprocess.CalledProcessError, httpx.HTTPError) as error:
            print(f"error: {error}", file=sys.stderr)
            return None


def time_taken(started: float) -> str:
    """The note on how long the whole benchmark took."""
    return f"The whole benchmark took {time.perf_counter() - started:.0f} s at {datetime.now(UTC):%H:%M} UTC."


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, optionally write markdown; return the exit code."""
    args = build_parser().parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.repetitions is not None:
        if args.repetitions < 1:
            print("error: --repetitions must be >= 1", file=sys.stderr)
            return 2
        sizes = dataclasses.replace(sizes, call_repetitions=args.repetitions, bulk_repetitions=args.repetitions)
    started = time.perf_counter()
    bench = measured_in_a_temporary_folder("agentos-bench-", lambda workdir: run_figures(sizes, workdir, args))
    if bench is None:
        return 1
    command = "uv run benchmarks/bench_cli.py" + (" --quick" if args.quick else "")
    if args.latency != (0.0,):
        command += " --latency " + ",".join(f"{value * 1000:g}" for value in args.latency)
    if args.servers != ("sqlite",):
        command += " --servers " + ",".join(args.servers)
    if args.repetitions:
        command += f" --repetitions {args.repetitions}"
    if args.cli.resolve() != CLI:
        command += f" --cli {args.cli}"
    bench.notes.append(time_taken(started))
    print(format_table(bench.rows))
    for note in bench.notes:
        print(f"- {note}")
    if args.output:
        write_report(args.output, format_markdown(sizes, bench.rows, bench.notes, command))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
