"""A Tomo instance with a one-second test task, as its own process (tests/integration/test_instance_processes.py).

``tomo serve`` cannot load a test task, so the scheduler test runs this file three times::

    python tests/instancekit.py DATA_DIR RUNS_FILE [DATABASE_URL]

Each process builds the whole app, registers the task ``test_tick`` (every second) on its scheduler before
start-up, writes ``ready-<pid>`` (its instance id) in DATA_DIR once started, and serves until SIGTERM (a clean
shutdown) or SIGKILL. Every run of the task appends one line ``<monotonic time> <instance id> <pid>`` to
RUNS_FILE, opened with O_APPEND so the lines of all processes interleave whole.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

TASK = "test_tick"


@dataclass(frozen=True)
class Run:
    """One line of the runs file."""

    at: float
    instance: str
    pid: int


def read_runs(path: Path) -> list[Run]:
    """Every run recorded so far, in file order (which is time order: one process writes at a time)."""
    if not path.exists():
        return []
    runs = []
    for line in path.read_text().splitlines():
        at, instance, pid = line.split()
        runs.append(Run(float(at), instance, int(pid)))
    return runs


def _append(path: Path, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


async def serve(data_dir: Path, runs_file: Path, database_url: str | None) -> None:
    from tomo.lib.config import TomoConfig
    from tomo.main import build_app

    app = build_app(TomoConfig(data_dir=data_dir, database_url=database_url))
    me = app.services["instance_service"].id

    async def tick() -> None:
        line = f"{time.monotonic():.6f} {me} {os.getpid()}\n"
        await asyncio.to_thread(_append, runs_file, line)

    app.services["scheduler_service"].register(TASK, 1, tick)
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    await app.startup()
    try:
        (data_dir / f"ready-{os.getpid()}").write_text(me)
        await stopping.wait()
    finally:
        await app.shutdown()


if __name__ == "__main__":
    os.environ.setdefault("FASTMCP_CHECK_FOR_UPDATES", "off")
    asyncio.run(serve(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None))
