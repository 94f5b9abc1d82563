"""Time, peak memory and rows read of the set commands at 5,000 / 50,000 / 200,000 sessions (issue 23).

    uv run benchmarks/bench_memory.py                                   5,000, 50,000, 200,000 sessions
    uv run benchmarks/bench_memory.py --sizes 300,3000                  smaller
    uv run benchmarks/bench_memory.py --cli /tmp/old/scripts/manage_sessions.py   another checkout ("before")

For each size it starts a local AgentOS (scripts/local_agentos.py, a temporary SQLite file) and writes
the sessions straight into its database through agno's SqliteDb (bench_sets.insert_sessions, timed),
one second apart, so `--updated-before` the oldest 1 % matches exactly 1 %. Then, each once:

- `--all --json` (stdout to a file, every session checked to appear once),
- `--updated-before DATE --count --json` (1 % match; the count checked),
- `--all --export FILE` (a set export; its sessions counted),
- with `--restore`, `--restore FILE` of that export into an empty server (the round trip).

Each command runs as a user types it (`uv run`), from a small launcher that reports wall time and the
peak RSS of the process tree (bench_sets.run_measured). Rows read are counted in a second run through
tests/faultproxy.py: the sum, over the GET /sessions pages answered, of the rows each page held.
Prints one JSON line per measurement on stdout; RESULTS.md quotes them.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import parse_qs

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests")]

import bench_sets  # noqa: E402
from bench_cli import CLI, BenchError, log, start_server, stop_server, uv_run, warm_script_environment  # noqa: E402
from bench_sets import insert_sessions, run_measured  # noqa: E402
from faultproxy import FaultProxy  # noqa: E402

USERS = ("bench-memory-a@example.com", "bench-memory-b@example.com")


def rows_read(proxy: FaultProxy, total: int) -> int:
    """Rows the GET /sessions pages held, from each page's number and limit (no server-side filter)."""
    rows = 0
    for seen in proxy.requests:
        if seen.method == "GET" and seen.path == "/sessions" and seen.answered:
            query = parse_qs(seen.query)
            page, limit = int(query.get("page", ["1"])[0]), int(query.get("limit", ["20"])[0])
            rows += max(0, min(limit, total - (page - 1) * limit))
    return rows


def measure(name: str, argv: list[str], workdir: Path, size: int, url: str, count_rows: bool = True) -> dict:
    """One timed run, then (for reads) one through the counting proxy; both must succeed."""
    out, err = workdir / f"{name}.out", workdir / f"{name}.err"
    sample = run_measured(uv_run(Path(argv[0]), "--base-url", url, *argv[1:]), out, err)
    if sample.exit_code != 0:
        raise BenchError(f"{name}: exit {sample.exit_code}; stderr: {err.read_text()[-500:]}")
    rows = None
    if count_rows:
        with FaultProxy(url) as proxy:
            counted = run_measured(uv_run(Path(argv[0]), "--base-url", proxy.url, *argv[1:]), out, err)
            if counted.exit_code != 0:
                raise BenchError(f"{name} (counted): exit {counted.exit_code}; stderr: {err.read_text()[-500:]}")
            rows = rows_read(proxy, size)
    result = {"command": name, "sessions": size, "seconds": round(sample.seconds, 2)}
    result |= {"peak_rss_mb": round(sample.max_rss_kb / 1024), "rows_read": rows}
    print(json.dumps(result), flush=True)
    return result


def check_listing(path: Path, size: int) -> None:
    """Every session exactly once in `--all --json`."""
    ids = [session["session_id"] for session in json.loads(path.read_text())["data"]]
    if len(ids) != size or len(set(ids)) != size:
        raise BenchError(f"--all --json listed {len(ids)} ({len(set(ids))} distinct), expected {size}")


def check_restore(path: Path, url: str, size: int) -> None:
    """Every session of the export restored once, and the server holding exactly those."""
    answer = json.loads(path.read_text())
    restored = [item["session_id"] for item in answer["restored"]]
    if len(restored) != size or len(set(restored)) != size or answer["conflict"]:
        raise BenchError(f"--restore restored {len(set(restored))} of {size} ({len(answer['conflict'])} conflicts)")
    total = httpx.get(f"{url}/sessions", params={"limit": 1}, timeout=120).json()["meta"]["total_count"]
    if total != size:
        raise BenchError(f"the restored server holds {total} sessions, expected {size}")
    print(json.dumps({"restored": size, "server_sessions": total}), flush=True)


def one_size(cli: Path, size: int, workdir: Path, restore: bool, export_up_to: int) -> None:
    """Seed one server with `size` sessions and measure the three commands (and the restore)."""
    with ExitStack() as stack:
        process, url = start_server(workdir, 0)
        stack.callback(stop_server, process)
        newest = int(time.time())
        started = time.perf_counter()
        insert_sessions(f"sqlite:///{workdir / 'agentos.db'}", f"mem-{size}", USERS, size, newest)
        print(json.dumps({"seeded": size, "seconds": round(time.perf_counter() - started, 1)}), flush=True)
        measure("all_json", [str(cli), "--all", "--json"], workdir, size, url)
        check_listing(workdir / "all_json.out", size)
        cutoff = str(newest - size + 1 + size // 100)
        measure("updated_before_count", [str(cli), "--updated-before", cutoff, "--count", "--json"], workdir, size, url)
        count = json.loads((workdir / "updated_before_count.out").read_text())["count"]
        if count != size // 100:
            raise BenchError(f"--updated-before counted {count}, expected {size // 100}")
        export = workdir / "export.json"
        if size > export_up_to:
            return
        measure("export_all", [str(cli), "--all", "--export", str(export)], workdir, size, url, False)
        exported = json.loads(export.read_text())["sessions"]
        print(json.dumps({"export_bytes": export.stat().st_size, "sessions": len(exported)}), flush=True)
        if len(exported) != size:
            raise BenchError(f"--export wrote {len(exported)} sessions, expected {size}")
        del exported
        if restore:
            empty = workdir / "empty"
            empty.mkdir()
            target, target_url = start_server(empty, 0)
            stack.callback(stop_server, target)
            measure("restore", [str(cli), "--restore", str(export), "--json"], workdir, 0, target_url, False)
            check_restore(workdir / "restore.out", target_url, size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,50000,200000", help="comma-separated session counts")
    parser.add_argument("--cli", type=Path, default=CLI, help="the manage_sessions.py to measure")
    parser.add_argument("--restore", action="store_true", help="also restore the export into an empty server")
    parser.add_argument("--export-up-to", type=int, default=10**9, help="export only at sizes up to this")
    parser.add_argument("--workdir", type=Path, help="keep the files here (default: a temporary folder)")
    args = parser.parse_args(argv)
    bench_sets.PROCESS_TIMEOUT = 3600.0  # an export reads every session's runs: a 50,000 one takes minutes
    warm_script_environment(args.cli, "httpx")
    for size in (int(text) for text in args.sizes.split(",")):
        workdir = Path(tempfile.mkdtemp(prefix=f"bench-memory-{size}-", dir=args.workdir))
        log(f"{size} sessions in {workdir}")
        try:
            one_size(args.cli, size, workdir, args.restore, args.export_up_to)
        except BenchError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
