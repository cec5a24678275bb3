"""OneTripSelect answers exactly what SQLAlchemy would for the same statement, in one trip on SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tomo.database.engine import Database
from tomo.database.one_trip import OneTripSelect
from tomo.database.types import UTCDateTime
from tomo.errors import DatabaseError

metadata = sa.MetaData()
items = sa.Table(
    "items", metadata,
    sa.Column("id", sa.String(8), primary_key=True),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("seen_at", UTCDateTime, nullable=True),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("naive_at", sa.DateTime, nullable=True),
    sa.Column("info", sa.JSON, nullable=True),
)
NOW = datetime(2026, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
ROUND = NOW.replace(microsecond=0, tzinfo=None)  # naive, no microseconds: SQLAlchemy still stores ".000000"
QUERY = sa.select(items, items.c.count.label("renamed")).where(
    items.c.id == sa.bindparam("item_id"), items.c.active.is_(True),
    sa.or_(items.c.seen_at.is_(None), items.c.seen_at > sa.bindparam("since")),
)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'tomo.db'}")
    async with database.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(items.insert(), [
            {"id": "a", "active": True, "seen_at": NOW, "count": 3, "naive_at": ROUND, "info": {"os": "debian"}},
            {"id": "b", "active": True, "seen_at": None, "count": 4, "naive_at": None, "info": None},
            {"id": "off", "active": False, "seen_at": NOW, "count": 5, "naive_at": ROUND, "info": [1, 2]},
        ])
    yield database
    await database.dispose()


async def through_sqlalchemy(db: Database, **values: object) -> dict[str, object] | None:
    async with db.connect() as conn:
        row = (await conn.execute(QUERY, values)).mappings().first()
    return dict(row) if row is not None else None


@pytest.mark.parametrize("item_id", ["a", "b"])
async def test_a_row_comes_back_with_the_types_sqlalchemy_gives(db: Database, item_id: str) -> None:
    values = {"item_id": item_id, "since": NOW - timedelta(seconds=1)}
    found = await OneTripSelect(QUERY).first(db, **values)
    assert found == await through_sqlalchemy(db, **values)
    assert found is not None and found["active"] is True and found["renamed"] == found["count"]
    if item_id == "a":
        assert found["seen_at"] == NOW and found["seen_at"].tzinfo is UTC
        assert found["naive_at"] == ROUND and found["info"] == {"os": "debian"}


async def test_bound_datetimes_compare_as_sqlalchemy_binds_them(db: Database) -> None:
    select = OneTripSelect(QUERY)
    assert await select.first(db, item_id="a", since=NOW - timedelta(microseconds=1)) is not None
    assert await select.first(db, item_id="a", since=NOW) is None  # seen_at > since is false at equality


async def test_a_bound_value_is_stored_text_as_sqlalchemy_writes_it(db: Database) -> None:
    query = sa.select(items.c.id).where(items.c.naive_at == sa.bindparam("at"))
    assert await OneTripSelect(query).all(db, at=ROUND) == [{"id": "a"}, {"id": "off"}]


async def test_no_matching_row_is_none(db: Database) -> None:
    select = OneTripSelect(QUERY)
    assert await select.first(db, item_id="off", since=NOW) is None
    assert await select.first(db, item_id="missing", since=NOW) is None


async def test_a_driver_error_becomes_database_error(db: Database) -> None:
    select = OneTripSelect(QUERY)
    assert await select.first(db, item_id="a", since=NOW - timedelta(days=1)) is not None
    async with db.begin() as conn:
        await conn.execute(sa.text("DROP TABLE items"))
    with pytest.raises(DatabaseError, match="could not complete"):
        await select.first(db, item_id="a", since=NOW)


async def test_all_rows_come_back_in_the_statement_order(db: Database) -> None:
    query = sa.select(items.c.id, items.c.active).order_by(items.c.count.desc())
    async with db.connect() as conn:
        expected = [dict(row) for row in (await conn.execute(query)).mappings()]
    assert await OneTripSelect(query).all(db) == expected
    assert [row["id"] for row in expected] == ["off", "b", "a"]
