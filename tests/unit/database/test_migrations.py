"""Migrations build a fresh database from nothing, are idempotent, and are skipped when current."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

from tomo.database.engine import MIGRATIONS_DIR, Database, migration_heads
from tomo.database.tables import metadata


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def table_names(db: Database) -> set[str]:
    async with db.connect() as conn:
        return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))


def test_heads_read_from_files_match_alembic() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert migration_heads() == set(ScriptDirectory.from_config(config).get_heads())


async def test_fresh_database_gets_every_table(tmp_path: Path) -> None:
    db = Database(sqlite_url(tmp_path / "new" / "tomo.db"))
    assert await db.migrate() is True
    assert set(metadata.tables) <= await table_names(db)
    assert await db.current_revisions() == migration_heads()
    await db.dispose()


async def test_second_migrate_is_a_no_op(tmp_path: Path) -> None:
    db = Database(sqlite_url(tmp_path / "tomo.db"))
    await db.migrate()
    before = await table_names(db)
    assert await db.migrate() is False
    assert await table_names(db) == before
    await db.dispose()


async def test_sqlite_pragmas_are_set(tmp_path: Path) -> None:
    db = Database(sqlite_url(tmp_path / "tomo.db"))
    async with db.connect() as conn:
        journal = (await conn.execute(sa.text("PRAGMA journal_mode"))).scalar()
        foreign_keys = (await conn.execute(sa.text("PRAGMA foreign_keys"))).scalar()
        busy = (await conn.execute(sa.text("PRAGMA busy_timeout"))).scalar()
    assert (journal, foreign_keys, busy) == ("wal", 1, 5000)
    await db.dispose()


async def test_reupgrade_through_alembic_changes_nothing(tmp_path: Path) -> None:
    db = Database(sqlite_url(tmp_path / "tomo.db"))
    await db.migrate()
    async with db.engine.begin() as conn:
        from tomo.database.engine import _upgrade_to_heads

        await conn.run_sync(_upgrade_to_heads)
    assert await db.current_revisions() == migration_heads()
    await db.dispose()
