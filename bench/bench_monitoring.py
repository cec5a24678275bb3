"""Cost of a metrics sample: Tomo's CPU per server per sample, and one round over every testbed sshd against plain
asyncssh running the same command on the same connections' worth of servers.

Needs the testbed (``scripts/testbed.sh up``; the main sshd and its 12 extra ones on 10.231.0.2). Tomo runs in
this process on a fresh SQLite data directory: each server is added and pinned with test_connection, then
``collect_metrics`` rounds run back to back (connections pooled, as the scheduler would use them). The plain
round opens one asyncssh connection per server first and then runs the sample script (``probe.sample_argv``,
quoted the same way) on all of them at once. CPU is this process's user + system time.
Run: .venv/bin/python bench/bench_monitoring.py [rounds]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncssh

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.testbed import load_testbed  # noqa: E402

from tomo.lib.config import TomoConfig  # noqa: E402
from tomo.lib.ssh.command import to_shell  # noqa: E402
from tomo.main import build_app  # noqa: E402
from tomo.services.monitoring.probe import sample_argv  # noqa: E402


async def tomo_rounds(ports: list[int], rounds: int) -> list[tuple[float, float]]:
    testbed = load_testbed()
    with tempfile.TemporaryDirectory() as data_dir:
        app = build_app(TomoConfig(data_dir=Path(data_dir)))
        await app.database.migrate()
        await app.services["settings_service"].load()
        servers, monitoring = app.services["server_service"], app.services["monitoring_service"]
        try:
            for port in ports:
                server, _ = await servers.add(_server_fields(testbed, port))
                await servers.test_connection(server.id)
            await monitoring.collect()  # warm: connections open, counters stored
            return [await _timed(monitoring.collect()) for _ in range(rounds)]
        finally:
            await app.shutdown()


def _server_fields(testbed: Any, port: int) -> Any:
    from tomo.models.server import ServerCreate, ServerCredentials

    return ServerCreate(name=f"bench-{port}", host=testbed.host, port=port, username=testbed.user,
                        credentials=ServerCredentials(auth_type="password", password=testbed.password))


async def plain_rounds(ports: list[int], rounds: int) -> list[tuple[float, float]]:
    testbed = load_testbed()
    command = to_shell(sample_argv("/opt/tomo/apps"))
    conns = await asyncio.gather(*(asyncssh.connect(testbed.host, port=port, username=testbed.user,
                                                    password=testbed.password, known_hosts=None)
                                   for port in ports))
    try:
        async def one() -> Any:
            return await asyncio.gather(*(conn.run(command) for conn in conns))

        await one()
        return [await _timed(one()) for _ in range(rounds)]
    finally:
        for conn in conns:
            conn.close()


async def _timed(work: Any) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    await work
    return time.perf_counter() - wall, time.process_time() - cpu


def report(name: str, figures: list[tuple[float, float]], servers: int) -> tuple[float, float]:
    wall = statistics.median(w for w, _ in figures) * 1000
    cpu = statistics.median(c for _, c in figures) * 1000
    print(f"{name:<22} {servers:>7} {wall:>14.1f} {cpu:>14.1f} {cpu / servers:>16.2f}")  # noqa: T201
    return wall, cpu


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    testbed = load_testbed()
    ports = [testbed.port, *testbed.extra_ports]
    tomo = asyncio.run(tomo_rounds(ports, rounds))
    plain = asyncio.run(plain_rounds(ports, rounds))
    print(f"{'round':<22} {'servers':>7} {'wall ms (p50)':>14} {'CPU ms (p50)':>14} {'CPU ms/server':>16}")  # noqa: T201
    tomo_wall, tomo_cpu = report("Tomo collect_metrics", tomo, len(ports))
    plain_wall, plain_cpu = report("plain asyncssh", plain, len(ports))
    print(f"Tomo / plain: wall {tomo_wall / plain_wall:.2f}x, CPU {tomo_cpu / plain_cpu:.2f}x "  # noqa: T201
          f"over {rounds} rounds")


if __name__ == "__main__":
    main()
