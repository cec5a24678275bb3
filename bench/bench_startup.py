"""Start-up: spawn a stdio server and time until its first tools/list answer.

Compares `tomo serve` (database schema current, tool schemas saved by the first start) with a minimal one-tool
FastMCP server in the same run.
Tomo's bytecode is compiled first, as `pip install` does: the libraries in the venv were compiled when they were
installed, and a shell with PYTHONDONTWRITEBYTECODE=1 would otherwise make Tomo alone compile its ~100 modules
from source on every start (about 60 ms here), which no installed copy does.
Each run also records the server's CPU time (user + system, all threads, from /proc when the answer arrives; 10 ms
ticks): on this shared VM the wall-clock ratio moves by about 0.1 from one run of the bench to the next.
Run: .venv/bin/python bench/bench_startup.py [runs]   (default 20)
"""

from __future__ import annotations

import compileall
import json
import os
import statistics
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


def time_to_tools_list(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock ms until the tools/list answer, and the server's CPU ms until then."""
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
            used = _cpu_ms(proc.pid)
            break
    proc.stdin.close()
    proc.wait(timeout=30)
    return elapsed, used


def _cpu_ms(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")  # utime + stime


def compile_tomo() -> None:
    import tomo

    compileall.compile_dir(Path(tomo.__file__).parent, quiet=1)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    bin_dir = Path(sys.executable).parent
    compile_tomo()
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "TOMO_DATA_DIR": data, "FASTMCP_LOG_ENABLED": "false", "FASTMCP_CHECK_FOR_UPDATES": "off"}
        tomo = [str(bin_dir / "tomo"), "serve"]
        minimal = [sys.executable, "-c", MINIMAL]
        first, _ = time_to_tools_list(tomo, env)  # creates and migrates the database
        cases = {"minimal FastMCP (1 tool)": minimal, "tomo serve (schema current)": tomo}
        wall: dict[str, list[float]] = {label: [] for label in cases}
        cpu: dict[str, list[float]] = {label: [] for label in cases}
        for _ in range(runs):
            for label, argv in cases.items():
                elapsed, used = time_to_tools_list(argv, env)
                wall[label].append(elapsed)
                cpu[label].append(used)
    print_table("stdio start-up until the first tools/list answer (wall clock)", [row(k, v) for k, v in wall.items()])
    print_table("CPU time of the server process until that answer", [row(k, v) for k, v in cpu.items()])
    tomo_label, minimal_label = "tomo serve (schema current)", "minimal FastMCP (1 tool)"
    print(f"\nfirst start (fresh database, migrations, tool schemas derived): {first:.0f} ms")
    print(f"ratio tomo / minimal (medians): wall clock {ratio(wall, tomo_label, minimal_label):.2f}, "
          f"CPU time {ratio(cpu, tomo_label, minimal_label):.2f}  (target <= 1.30)")


def ratio(samples: dict[str, list[float]], numerator: str, denominator: str) -> float:
    return statistics.median(samples[numerator]) / statistics.median(samples[denominator])


if __name__ == "__main__":
    main()
