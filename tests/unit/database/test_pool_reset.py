"""On SQLite a connection going back to the pool is rolled back only when it left a transaction open."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
import sqlalchemy as sa
from sqlalchemy.util import await_only, greenlet_spawn

from tomo.database.engine import Database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'tomo.db'}")
    async with database.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE items (n INTEGER NOT NULL)"))
    yield database
    await database.dispose()


@pytest.fixture
def rollbacks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = aiosqlite.Connection.rollback

    async def counted(self: aiosqlite.Connection) -> None:
        calls.append(1)
        await original(self)

    monkeypatch.setattr(aiosqlite.Connection, "rollback", counted)
    return calls


async def with_raw(db: Database, statement: str) -> Any:
    """Run ``statement`` on a pooled connection's driver directly, then give the connection back."""
    def run() -> Any:
        connection = db.engine.sync_engine.raw_connection()
        try:
            driver: Any = connection.driver_connection
            return await_only(driver.execute_fetchall(statement, []))
        finally:
            connection.close()

    return await greenlet_spawn(run)


async def test_a_connection_back_from_a_plain_read_is_not_rolled_back(db: Database, rollbacks: list[int]) -> None:
    assert list(await with_raw(db, "SELECT count(*) FROM items")) == [(0,)]
    assert rollbacks == []


async def test_a_transaction_left_open_is_rolled_back_on_return(db: Database, rollbacks: list[int]) -> None:
    await with_raw(db, "INSERT INTO items (n) VALUES (1)")  # sqlite3 opens a transaction and nobody commits
    assert rollbacks == [1]
    async with db.connect() as conn:
        assert (await conn.execute(sa.text("SELECT count(*) FROM items"))).scalar_one() == 0
    async with db.begin() as conn:  # the connection is usable again: no transaction was left behind
        await conn.execute(sa.text("INSERT INTO items (n) VALUES (2)"))
    async with db.connect() as conn:
        assert (await conn.execute(sa.text("SELECT n FROM items"))).scalars().all() == [2]
