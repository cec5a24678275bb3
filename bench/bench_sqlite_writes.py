"""SQLite write turn: bursts of concurrent write transactions with Tomo's in-process turn vs without it.

Each round opens a fresh database (migrated), then starts N tasks that each write one log entry in its own
transaction (as N concurrent audited tool calls do), and times the whole burst. "without turn" replaces
``Database._write_turn`` with a no-op, so the writers meet in SQLite's busy handler instead (the same engine,
pool and pragmas otherwise). Rounds alternate between the two to cancel drift.
Run: .venv/bin/python bench/bench_sqlite_writes.py [rounds]   (default 15)
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _stats import print_table, row  # noqa: E402

from tomo.database.engine import Database  # noqa: E402
from tomo.database.repositories.logs import LogRepository  # noqa: E402
from tomo.database.types import utcnow  # noqa: E402

BURSTS = (10, 50)


@contextlib.asynccontextmanager
async def _no_turn(self: Database) -> AsyncIterator[None]:
    yield


async def burst(folder: Path, writers: int, with_turn: bool) -> float:
    database = Database(f"sqlite+aiosqlite:///{folder / 'tomo.db'}")
    if not with_turn:
        database._write_turn = _no_turn.__get__(database)  # type: ignore[method-assign]
    await database.migrate()
    logs = LogRepository(database)
    values = {"level": "INFO", "source": "bench", "message": "x" * 200, "tags": [], "metadata": {"n": 1}}
    try:
        started = time.perf_counter()
        await asyncio.gather(*(logs.add_log({**values, "timestamp": utcnow()}) for _ in range(writers)))
        return (time.perf_counter() - started) * 1000
    finally:
        await database.dispose()


async def main(rounds: int) -> None:
    results: dict[tuple[int, bool], list[float]] = {(n, turn): [] for n in BURSTS for turn in (True, False)}
    for index in range(rounds):
        for writers in BURSTS:
            for with_turn in ((True, False) if index % 2 == 0 else (False, True)):
                with tempfile.TemporaryDirectory() as tmp:
                    results[(writers, with_turn)].append(await burst(Path(tmp), writers, with_turn))
    rows = [row(f"{n} writers, {'with' if turn else 'without'} turn", values)
            for (n, turn), values in results.items()]
    print_table(f"A burst of concurrent write transactions on SQLite ({rounds} rounds)", rows)
    for writers in BURSTS:
        with_turn = sorted(results[(writers, True)])[rounds // 2]
        without = sorted(results[(writers, False)])[rounds // 2]
        print(f"{writers} writers: without the turn the burst takes {without / with_turn:.2f}x as long (median)")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 15))
