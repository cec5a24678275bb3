"""Server tools through the whole stack (in-memory MCP client -> tool wrapper -> services -> SSH pool -> testbed).

    scripts/testbed.sh up            # as root, once
    .venv/bin/python bench/bench_servers.py [--runs 200] [--rounds 10]

Rows: execute_command running `true` over MCP on a pooled connection; test_connection on one server and on
N servers at once (the testbed's main sshd plus its extra ports; --servers, default all 13), on fresh
connections (reconnect=true: key exchange and login) and on the pooled ones. Targets: execute_command p50 <=
15 ms; the fresh fan-out round within 2x of one server.

The testbed's sshd instances run on this machine: their CPU (an SSH login costs the server tens of
milliseconds) competes with Tomo's, which a fan-out to real servers does not. So the same fresh fan-out is
also timed with plain asyncssh (connect, run `true`, close; no Tomo), and the machine's CPU time per round
is printed: a round that keeps every core busy is bounded by this machine, not by Tomo.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("FASTMCP_LOG_ENABLED", "false")

import asyncssh  # noqa: E402
from _stats import print_table, row  # noqa: E402
from fastmcp import Client  # noqa: E402
from tests.testbed import Testbed, load_testbed  # noqa: E402

from tomo.lib.config import TomoConfig  # noqa: E402
from tomo.lib.logging_config import configure_logging  # noqa: E402
from tomo.main import build_app  # noqa: E402

EXECUTE_P50_TARGET_MS = 15.0
FANOUT_RATIO_TARGET = 2.0


async def timed(runs: int, call: Callable[[], Awaitable[object]]) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


class CPUMeter:
    """Per-round CPU time of the whole machine (/proc/stat) and of this process, in ms."""

    def __init__(self) -> None:
        self.machine: list[float] = []
        self.process: list[float] = []

    def wrap(self, call: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[object]]:
        async def measured() -> None:
            machine, process = _machine_busy_ms(), _process_cpu_ms()
            await call()
            self.machine.append(_machine_busy_ms() - machine)
            self.process.append(_process_cpu_ms() - process)

        return measured


def _machine_busy_ms() -> float:
    with open("/proc/stat") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) * 1000 / os.sysconf("SC_CLK_TCK")  # all but idle and iowait


def _process_cpu_ms() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return (usage.ru_utime + usage.ru_stime) * 1000


def raw_fanout(testbed: Testbed, ports: list[int]) -> Callable[[], Awaitable[object]]:
    """The fresh fan-out with plain asyncssh: connect (testbed host keys pinned), run `true`, close."""
    host_keys = [asyncssh.read_public_key(path) for path in sorted(testbed.dir.glob("hostkeys/*/*.pub"))]

    async def one(port: int) -> None:
        async with asyncssh.connect(testbed.host, port=port, username=testbed.user, client_keys=[str(testbed.key)],
                                    known_hosts=(host_keys, [], [])) as conn:  # fmt: skip
            await conn.run("true", check=True)

    return lambda: asyncio.gather(*(one(port) for port in ports))


class Caller:
    def __init__(self, client: Client[Any]) -> None:
        self.client = client

    async def __call__(self, tool: str, **arguments: Any) -> dict[str, Any]:
        result = await self.client.call_tool(tool, arguments, raise_on_error=False)
        envelope: dict[str, Any] = result.structured_content or {}
        if not envelope.get("success"):
            raise RuntimeError(f"{tool} failed: {envelope}")
        return envelope


async def register(call: Caller, testbed: Testbed, count: int) -> list[str]:
    await call("update_settings", settings={"allow_execute_command": True})
    names = []
    for port in (testbed.port, *testbed.extra_ports)[:count]:
        name = f"bench-{port}"
        await call("add_server", name=name, host=testbed.host, port=port, username=testbed.user, auth_type="key",
                   private_key=testbed.key.read_text())  # fmt: skip
        names.append(name)
    await asyncio.gather(*(call("test_connection", server_id=name) for name in names))  # pins every host key
    return names


async def run(runs: int, rounds: int, count: int) -> int:
    testbed = load_testbed()
    with tempfile.TemporaryDirectory() as data:
        app = build_app(TomoConfig(data_dir=Path(data)))
        async with Client(app.mcp) as client:
            call = Caller(client)
            names = await register(call, testbed, count)
            main = names[0]

            async def execute() -> None:
                await call("execute_command", server_id=main, command="true", confirm=True)

            def fanout(reconnect: bool) -> Callable[[], Awaitable[object]]:
                return lambda: asyncio.gather(*(call("test_connection", server_id=n, reconnect=reconnect)
                                                for n in names))  # fmt: skip

            await timed(20, execute)
            execute_ms = await timed(runs, execute)
            single_ms = await timed(rounds, lambda: call("test_connection", server_id=main, reconnect=True))
            tomo_cpu = CPUMeter()
            fanout_ms = await timed(rounds, tomo_cpu.wrap(fanout(True)))
            pooled_ms = await timed(rounds * 5, lambda: call("test_connection", server_id=main))
            pooled_fanout_ms = await timed(rounds * 5, fanout(False))
    ports = list((testbed.port, *testbed.extra_ports)[:count])
    raw_cpu = CPUMeter()
    await timed(2, raw_fanout(testbed, ports))
    raw_single_ms = await timed(rounds, raw_fanout(testbed, ports[:1]))
    raw_fanout_ms = await timed(rounds, raw_cpu.wrap(raw_fanout(testbed, ports)))
    print_table(
        f"server tools over MCP (in-memory client) against {testbed.user}@{testbed.host}",
        [
            row("execute_command `true` (pooled connection)", execute_ms),
            row("test_connection, 1 server, fresh connection", single_ms),
            row(f"test_connection, {len(names)} servers at once, fresh", fanout_ms),
            row("test_connection, 1 server, pooled connection", pooled_ms),
            row(f"test_connection, {len(names)} servers at once, pooled", pooled_fanout_ms),
            row("plain asyncssh (no Tomo), 1 server, fresh", raw_single_ms),
            row(f"plain asyncssh (no Tomo), {len(ports)} servers at once, fresh", raw_fanout_ms),
        ],
    )
    cores = os.cpu_count() or 1
    for label, meter, wall in (("Tomo", tomo_cpu, fanout_ms), ("plain asyncssh", raw_cpu, raw_fanout_ms)):
        machine, process = statistics.median(meter.machine), statistics.median(meter.process)
        print(f"fresh fan-out round, {label}: machine CPU {machine:.0f} ms (this process {process:.0f} ms, the "
              f"rest mostly the testbed's sshd) over {statistics.median(wall):.0f} ms wall; a round cannot take "
              f"less than {machine / cores:.0f} ms on {cores} cores")
    raw_ratio = statistics.median(raw_fanout_ms) / statistics.median(raw_single_ms)
    print(f"plain asyncssh fresh fan-out over {len(ports)} servers / one server (medians): {raw_ratio:.2f}x "
          "(what this machine allows)")
    p50 = statistics.median(execute_ms)
    pooled_ratio = statistics.median(pooled_fanout_ms) / statistics.median(pooled_ms)
    print(f"\npooled fan-out over {len(names)} servers / one server (medians): {pooled_ratio:.2f}x")
    ratio = statistics.median(fanout_ms) / statistics.median(single_ms)
    print(f"execute_command p50: {p50:.2f} ms (target <= {EXECUTE_P50_TARGET_MS:g} ms)")
    print(f"fresh fan-out over {len(names)} servers / one server (medians): {ratio:.2f}x "
          f"(target <= {FANOUT_RATIO_TARGET:g}x)")
    ok = p50 <= EXECUTE_P50_TARGET_MS and ratio <= FANOUT_RATIO_TARGET
    print(f"targets: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200, help="execute_command calls")
    parser.add_argument("--rounds", type=int, default=10, help="test_connection rounds")
    parser.add_argument("--servers", type=int, default=13, help="servers in the fan-out (2-13)")
    args = parser.parse_args()
    configure_logging("WARNING")
    return asyncio.run(run(args.runs, args.rounds, args.servers))


if __name__ == "__main__":
    sys.exit(main())
