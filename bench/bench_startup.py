"""Start-up: spawn a stdio server and time until its first tools/list answer.

Compares `tomo serve` (database schema current, tool schemas saved by the first start) with a minimal one-tool
FastMCP server in the same run.
Tomo's bytecode is compiled first, as `pip install` does: the libraries in the venv were compiled when they were
installed, and a shell with PYTHONDONTWRITEBYTECODE=1 would otherwise make Tomo alone compile its ~100 modules
from source on every start (about 60 ms here), which no installed copy does.
Run: .venv/bin/python bench/bench_startup.py [runs]
"""

from __future__ import annotations

import compileall
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _stats import print_table, row  # noqa: E402

MINIMAL = '''
from fastmcp import FastMCP
mcp = FastMCP("minimal")
@mcp.tool
def ping() -> str:
    """Ping."""
    return "pong"
mcp.run(show_banner=False)
'''

HANDSHAKE = "".join(json.dumps(m) + "\n" for m in [
    {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}},
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
])


def time_to_tools_list(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=env)
    assert proc.stdin and proc.stdout
    proc.stdin.write(HANDSHAKE)
    proc.stdin.flush()
    while True:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{argv[0]} exited before answering tools/list")
        if json.loads(line).get("id") == 2:
            elapsed = (time.perf_counter() - started) * 1000
            break
    proc.stdin.close()
    proc.wait(timeout=30)
    return elapsed


def compile_tomo() -> None:
    import tomo

    compileall.compile_dir(Path(tomo.__file__).parent, quiet=1)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    bin_dir = Path(sys.executable).parent
    compile_tomo()
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "TOMO_DATA_DIR": data, "FASTMCP_LOG_ENABLED": "false", "FASTMCP_CHECK_FOR_UPDATES": "off"}
        tomo = [str(bin_dir / "tomo"), "serve"]
        minimal = [sys.executable, "-c", MINIMAL]
        first = time_to_tools_list(tomo, env)  # creates and migrates the database
        results: dict[str, list[float]] = {"minimal FastMCP (1 tool)": [], "tomo serve (schema current)": []}
        for _ in range(runs):
            results["minimal FastMCP (1 tool)"].append(time_to_tools_list(minimal, env))
            results["tomo serve (schema current)"].append(time_to_tools_list(tomo, env))
    print_table("stdio start-up until the first tools/list answer", [row(k, v) for k, v in results.items()])
    import statistics

    ratio = statistics.median(results["tomo serve (schema current)"]) / statistics.median(
        results["minimal FastMCP (1 tool)"])
    print(f"\nfirst start (fresh database, migrations, tool schemas derived): {first:.0f} ms")
    print(f"ratio tomo / minimal (medians): {ratio:.2f}  (target <= 1.30)")


if __name__ == "__main__":
    main()
