"""On SQLite, Tomo's write transactions take turns in-process instead of colliding in SQLite's busy handler."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tomo.database.engine import Database
from tomo.errors import DatabaseError


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'tomo.db'}")
    async with database.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE items (n INTEGER NOT NULL)"))
    yield database
    await database.dispose()


async def count(db: Database) -> int:
    async with db.connect() as conn:
        return int((await conn.execute(sa.text("SELECT count(*) FROM items"))).scalar_one())


async def test_concurrent_write_transactions_never_overlap_and_all_commit(db: Database) -> None:
    inside, most = 0, 0

    async def write(n: int) -> None:
        nonlocal inside, most
        async with db.begin() as conn:
            inside += 1
            most = max(most, inside)
            await conn.execute(sa.text("INSERT INTO items (n) VALUES (:n)"), {"n": n})
            await asyncio.sleep(0.01)  # another writer would get in here if nothing made them take turns
            inside -= 1

    await asyncio.gather(*(write(n) for n in range(12)))
    assert most == 1
    assert await count(db) == 12


async def test_a_transaction_opened_inside_a_write_turn_does_not_wait_for_it(db: Database) -> None:
    async with asyncio.timeout(5):
        async with db.begin() as outer:
            await outer.execute(sa.text("INSERT INTO items (n) VALUES (1)"))
            async with db.begin() as inner:  # same task: must not deadlock on its own turn
                await inner.execute(sa.text("SELECT count(*) FROM items"))
    assert await count(db) == 1


async def test_a_failed_transaction_rolls_back_and_gives_up_its_turn(db: Database) -> None:
    with pytest.raises(DatabaseError):
        async with db.begin() as conn:
            await conn.execute(sa.text("INSERT INTO items (n) VALUES (1)"))
            await conn.execute(sa.text("INSERT INTO items (n) VALUES (NULL)"))  # NOT NULL: fails
    async with asyncio.timeout(5), db.begin() as conn:
        await conn.execute(sa.text("INSERT INTO items (n) VALUES (2)"))
    assert await count(db) == 1


async def test_a_cancelled_writer_gives_up_its_turn(db: Database) -> None:
    entered = asyncio.Event()

    async def stuck() -> None:
        async with db.begin() as conn:
            await conn.execute(sa.text("INSERT INTO items (n) VALUES (1)"))
            entered.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(stuck())
    await entered.wait()
    task.cancel()
    async with asyncio.timeout(5), db.begin() as conn:
        await conn.execute(sa.text("INSERT INTO items (n) VALUES (2)"))
    assert await count(db) == 1
