"""`tomo call health_check` against `tomo serve` answering health_check: the cost of a terminal call (issue 13).

`tomo serve`: spawn a stdio server, send initialize + tools/call health_check, time until the answer (the
server is then closed). `tomo call health_check`: spawn the command, time until it exits, its answer printed
(start-up, an in-memory MCP session, tools/list, the call, and shutdown included). Both on one data directory
whose schema is current (a first start migrates it). Target (issue 13): call <= 1.3x serve.
Run: .venv/bin/python bench/bench_cli.py [runs]   (default 10)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HANDSHAKE = "".join(json.dumps(m) + "\n" for m in [
    {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}},
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "health_check", "arguments": {}}},
])


def serve_ms(tomo: str, env: dict[str, str]) -> float:
    """Milliseconds from spawning `tomo serve` to its health_check answer."""
    started = time.perf_counter()
    proc = subprocess.Popen([tomo, "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)
    assert proc.stdin and proc.stdout
    proc.stdin.write(HANDSHAKE)
    proc.stdin.flush()
    try:
        while True:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("tomo serve exited before answering health_check")
            answer = json.loads(line)
            if answer.get("id") == 2:
                assert answer["result"]["structuredContent"]["success"] is True
                return (time.perf_counter() - started) * 1000
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


def call_ms(tomo: str, env: dict[str, str]) -> float:
    """Milliseconds from spawning `tomo call health_check` to its exit (status 0)."""
    started = time.perf_counter()
    done = subprocess.run([tomo, "call", "health_check"], capture_output=True, text=True, env=env, timeout=60)
    elapsed = (time.perf_counter() - started) * 1000
    assert done.returncode == 0 and done.stdout.startswith("Tomo is running"), done.stderr
    return elapsed


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    tomo = str(Path(sys.executable).parent / "tomo")
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "TOMO_DATA_DIR": data, "TOMO_LOG_LEVEL": "WARNING"}
        serve_ms(tomo, env)  # creates and migrates the database, saves the tool schemas
        serve, call = [], []
        for _ in range(runs):  # interleaved, so a busy moment of this shared machine hits both
            serve.append(serve_ms(tomo, env))
            call.append(call_ms(tomo, env))
    median_serve, median_call = statistics.median(serve), statistics.median(call)
    for label, samples in (("tomo serve -> health_check answer", serve), ("tomo call health_check (to exit) ", call)):
        print(f"{label}: median {statistics.median(samples):.0f} ms (min {min(samples):.0f}, max {max(samples):.0f})")
    print(f"ratio call / serve (medians): {median_call / median_serve:.2f}  (target <= 1.30), {runs} runs")


if __name__ == "__main__":
    main()
