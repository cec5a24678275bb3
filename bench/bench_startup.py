"""Start-up: spawn a stdio server and time until its first tools/list answer.

Compares `tomo serve` (database schema current, tool schemas saved by the first start) with a minimal one-tool
FastMCP server in the same run.
Tomo's bytecode is compiled first, as `pip install` does: the libraries in the venv were compiled when they were
installed, and a shell with PYTHONDONTWRITEBYTECODE=1 would otherwise make Tomo alone compile its ~100 modules
from source on every start (about 60 ms here), which no installed copy does.
Each run also records the server's CPU time (user + system, all threads, from /proc when the answer arrives; 10 ms
ticks): on this shared VM the wall-clock ratio moves by about 0.1 from one run of the bench to the next.
After the answer and an idle second (so work started lazily at start-up has settled), each run reads the server's
resident memory from /proc/<pid>/status: VmRSS (all of it) and RssAnon (its heap and stacks, without mapped files).
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
from dataclasses import dataclass
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

MINIMAL_LABEL, TOMO_LABEL = "minimal FastMCP (1 tool)", "tomo serve (schema current)"
IDLE_SECONDS = 1.0

HANDSHAKE = "".join(json.dumps(m) + "\n" for m in [
    {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}},
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
])


@dataclass
class Sample:
    """One start of a server: time to its first tools/list answer, then its idle memory."""

    wall_ms: float
    cpu_ms: float
    rss_mb: float
    anon_mb: float


def start_and_measure(argv: list[str], env: dict[str, str]) -> Sample:
    """Wall-clock and CPU ms until the tools/list answer, and the resident memory an idle second later."""
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
    time.sleep(IDLE_SECONDS)
    rss_mb, anon_mb = _memory_mb(proc.pid)
    proc.stdin.close()
    proc.wait(timeout=30)
    return Sample(elapsed, used, rss_mb, anon_mb)


def _cpu_ms(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")  # utime + stime


def _memory_mb(pid: int) -> tuple[float, float]:
    """VmRSS and RssAnon of a live process, in MB (the kernel reports kB)."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["RssAnon"].split()[0]) / 1024


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
        first = start_and_measure(tomo, env).wall_ms  # creates and migrates the database
        cases = {MINIMAL_LABEL: minimal, TOMO_LABEL: tomo}
        samples: dict[str, list[Sample]] = {label: [] for label in cases}
        for _ in range(runs):
            for label, argv in cases.items():
                samples[label].append(start_and_measure(argv, env))
    report(samples, first)


def report(samples: dict[str, list[Sample]], first_ms: float) -> None:
    def column(name: str) -> dict[str, list[float]]:
        return {label: [getattr(sample, name) for sample in runs] for label, runs in samples.items()}

    wall, cpu, rss, anon = column("wall_ms"), column("cpu_ms"), column("rss_mb"), column("anon_mb")
    print_table("stdio start-up until the first tools/list answer (wall clock)", [row(k, v) for k, v in wall.items()])
    print_table("CPU time of the server process until that answer", [row(k, v) for k, v in cpu.items()])
    print_table(f"resident memory {IDLE_SECONDS:.0f} s after that answer (VmRSS)",
                [row(k, v, "MB") for k, v in rss.items()])
    print_table("of which anonymous (RssAnon: heap and stacks)", [row(k, v, "MB") for k, v in anon.items()])
    print(f"\nfirst start (fresh database, migrations, tool schemas derived): {first_ms:.0f} ms")
    print(f"ratio tomo / minimal (medians): wall clock {ratio(wall):.2f}, CPU time {ratio(cpu):.2f}  (target <= 1.30)")
    print(f"ratio tomo / minimal (medians): idle VmRSS {ratio(rss):.2f}, RssAnon {ratio(anon):.2f}  (target <= 1.25)")


def ratio(samples: dict[str, list[float]]) -> float:
    return statistics.median(samples[TOMO_LABEL]) / statistics.median(samples[MINIMAL_LABEL])


if __name__ == "__main__":
    main()
