"""Idle cost of instances: the CPU an idle `tomo serve` spends on its heartbeat, change watch and scheduler.

Starts 1, then 3, stdio servers on one fresh data directory, answers one tools/list each (so start-up is over),
lets them settle, then reads each process's CPU time (user + system, all threads) from /proc/<pid>/stat before
and after an idle window (default 30 s; the kernel counts in 10 ms ticks) and prints it as % of one core.
With 3 processes, one leads the scheduler and two follow (a follower tries the lease every second).

--compare REV runs the same for another revision (e.g. the commit before instances existed), checked out in a
temporary git worktree and imported through PYTHONPATH, in the same run.
Run: .venv/bin/python bench/bench_instances.py [seconds] [--compare REV]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parent.parent
TOMO = Path(sys.executable).parent / "tomo"
SETTLE_S = 3.0  # after the answer: lazy start-up work (key derivation, first heartbeat) is over
TICKS_PER_S = os.sysconf("SC_CLK_TCK")

HANDSHAKE = "".join(json.dumps(m) + "\n" for m in [
    {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}},
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S  # utime, stime (fields 14 and 15 of stat)


def start(data_dir: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """A stdio `tomo serve` that has answered initialize and tools/list (its stdin stays open: it keeps serving)."""
    proc = subprocess.Popen([str(TOMO), "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env={**env, "TOMO_DATA_DIR": str(data_dir)})
    stdin, stdout = proc.stdin, proc.stdout
    assert stdin is not None and stdout is not None
    stdin.write(HANDSHAKE)
    stdin.flush()
    for expected in (1, 2):
        answer = json.loads(stdout.readline())
        assert answer.get("id") == expected and "result" in answer, answer
    return proc


def stop(proc: subprocess.Popen[str]) -> None:
    stdin: IO[str] | None = proc.stdin
    if stdin is not None:
        stdin.close()  # end of input: the server shuts down cleanly
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def idle_percent(count: int, seconds: float, env: dict[str, str]) -> list[float]:
    """% of one core used by each of ``count`` idle servers on one data directory over ``seconds``."""
    with tempfile.TemporaryDirectory() as data:
        procs: list[subprocess.Popen[str]] = []
        try:
            for _ in range(count):  # one after the other: the first migrates the fresh database
                procs.append(start(Path(data), env))
            time.sleep(SETTLE_S)
            before = [cpu_seconds(p.pid) for p in procs]
            started = time.monotonic()
            time.sleep(seconds)
            after = [cpu_seconds(p.pid) for p in procs]
            elapsed = time.monotonic() - started
        finally:
            for proc in procs:
                stop(proc)
    return [(b - a) / elapsed * 100 for a, b in zip(before, after, strict=True)]


@contextmanager
def worktree(rev: str) -> Iterator[Path]:
    """``rev`` checked out in a temporary worktree (removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix="tomo-bench-") as parent:
        path = Path(parent) / "tree"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "--quiet", str(path), rev], check=True)
        try:
            yield path
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(path)], check=True)


def report(label: str, seconds: float, env: dict[str, str]) -> None:
    for count in (1, 3):
        shares = idle_percent(count, seconds, env)
        each = ", ".join(f"{share:.2f}%" for share in shares)
        print(f"{label:<28} {count} instance(s): {statistics.mean(shares):.2f}% of one core each "
              f"(max {max(shares):.2f}%; {each}) over {seconds:g} s idle")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("seconds", nargs="?", type=float, default=30.0)
    parser.add_argument("--compare", metavar="REV", help="also measure this revision (e.g. ab69645^)")
    args = parser.parse_args()
    env = {**os.environ, "FASTMCP_CHECK_FOR_UPDATES": "off", "TOMO_LOG_LEVEL": "WARNING"}
    env.pop("TOMO_DATABASE_URL", None)
    print(f"idle CPU of stdio `tomo serve` (% of one core; {100 / TICKS_PER_S / args.seconds:.3f}% resolution)")
    report("this tree", args.seconds, env)
    if args.compare:
        with worktree(args.compare) as tree:
            report(f"{args.compare}", args.seconds, {**env, "PYTHONPATH": str(tree / "src")})


if __name__ == "__main__":
    main()
