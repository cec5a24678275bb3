"""Tomo on a real PostgreSQL server (scripts/postgres.sh): schema, starts, concurrent writes, timestamps, NUL text.

The feature tests that already run on SQLite run on PostgreSQL too (tests/integration/test_postgres_*.py);
this module covers what only a second database can show.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastmcp import Client
from tests.conftest import ToolCaller
from tests.pgkit import database_url, fresh_database  # noqa: F401 - database_url: Tomo runs on PostgreSQL
from tests.unit.services.marketplace.test_marketplace_kit import (
    add_and_sync,
    commit_all,
    marketplace,
    ready,
    write_tomo_app,
)

from tomo.database import engine
from tomo.database.engine import Database, migration_heads
from tomo.database.tables import metadata
from tomo.lib.config import TomoConfig
from tomo.main import TomoApp, build_app


@pytest.fixture
async def empty_database_url() -> AsyncIterator[str]:
    """A PostgreSQL database with nothing in it (not even Alembic's table)."""
    async with fresh_database() as url:
        yield url


async def table_names(db: Database) -> set[str]:
    async with db.connect() as conn:
        return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))


async def test_tomo_runs_on_postgresql(tomo_app: TomoApp, call: ToolCaller) -> None:
    await call("get_settings")  # starts Tomo
    async with tomo_app.database.connect() as conn:
        version = (await conn.execute(sa.text("SELECT version()"))).scalar_one()
    assert tomo_app.database.engine.dialect.name == "postgresql" and version.startswith("PostgreSQL")


async def test_migrations_build_every_table_from_nothing(empty_database_url: str, tmp_path: Path) -> None:
    app = build_app(TomoConfig(data_dir=tmp_path / "data", database_url=empty_database_url))
    assert await table_names(app.database) == set()
    await app.startup()
    try:
        assert await app.database.current_revisions() == migration_heads()
        assert await table_names(app.database) == {*metadata.tables, "alembic_version"}  # no FTS5 table
    finally:
        await app.shutdown()


async def test_migrated_schema_matches_the_table_definitions(empty_database_url: str) -> None:
    db = Database(empty_database_url)
    await db.migrate()

    def differences(conn: sa.Connection) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))

    async with db.connect() as conn:
        assert await conn.run_sync(differences) == []
    await db.dispose()


async def test_second_start_does_not_run_alembic(
    empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = TomoConfig(data_dir=tmp_path / "data", database_url=empty_database_url)
    first = build_app(config)
    await first.startup()
    await first.shutdown()

    def no_alembic(_connection: sa.Connection) -> None:
        raise AssertionError("Alembic ran although the schema is current")

    monkeypatch.setattr(engine, "_upgrade_to_heads", no_alembic)
    second = build_app(config)
    assert await second.database.migrate() is False
    assert second.database.revisions == migration_heads()
    await second.database.dispose()


MIGRATING_PROCESS = """
import asyncio, sys
from tomo.database.engine import Database

async def main():
    database = Database(sys.argv[1])
    await database.migrate()
    await database.dispose()

asyncio.run(main())
"""


def test_several_instances_starting_together_on_an_empty_database_all_start(empty_database_url: str) -> None:
    """Without the migration lock (migrations/env.py) most of them failed creating tables another had created."""
    procs = [subprocess.Popen([sys.executable, "-c", MIGRATING_PROCESS, empty_database_url], text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]
    outcomes = [(proc.wait(timeout=60), proc.stderr.read() if proc.stderr else "") for proc in procs]
    for proc in procs:
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()
    assert [code for code, _ in outcomes] == [0, 0, 0, 0], [err[-600:] for _, err in outcomes]

    async def revisions() -> set[str]:
        db = Database(empty_database_url)
        try:
            return await db.current_revisions()
        finally:
            await db.dispose()

    assert asyncio.run(revisions()) == migration_heads()


async def test_timestamps_are_utc_whatever_the_server_time_zone(database_url: str, tmp_path: Path) -> None:  # noqa: F811
    admin = Database(database_url)
    async with admin.engine.begin() as conn:  # the session default of every new connection
        name = conn.engine.url.database
        await conn.execute(sa.text(f"ALTER DATABASE \"{name}\" SET timezone TO 'Pacific/Auckland'"))
    await admin.dispose()
    app = build_app(TomoConfig(data_dir=tmp_path / "data", database_url=database_url))
    before = datetime.now(UTC)
    async with Client(app.mcp) as client:
        call = ToolCaller(client)
        await call("update_settings", settings={"ssh_command_timeout": 90})
        audit = (await call("get_audit_log", tool="setting_changed")).data["entries"][0]
        async with app.database.connect() as conn:
            zone = (await conn.execute(sa.text("SHOW timezone"))).scalar()
            stored = (await conn.execute(sa.text("SELECT timestamp AT TIME ZONE 'UTC' FROM audit_log"
                                                 " WHERE tool = 'setting_changed'"))).scalar_one()
    stamp = datetime.fromisoformat(audit["timestamp"])
    assert zone == "Pacific/Auckland"
    assert stamp.utcoffset() is not None and stamp.utcoffset().total_seconds() == 0
    assert before <= stamp <= datetime.now(UTC)
    assert stored == stamp.replace(tzinfo=None)


@pytest.mark.parametrize("text", ["nul\x00byte", "\x00"])
async def test_a_search_for_text_with_a_nul_character_finds_nothing(call: ToolCaller, text: str) -> None:
    logs = await call("get_logs", search=text)
    audit = await call("get_audit_log", user=text)
    assert (logs.error, audit.error) == (None, None), (logs.envelope, audit.envelope)
    assert logs.data["total"] == 0 and audit.data["total"] == 0


async def test_text_with_a_nul_character_is_stored_and_found(call: ToolCaller, tomo_app: TomoApp) -> None:
    await tomo_app.services["log_service"].log_event("test", "WARNING", "remote said a\x00b", tags=["x\x00y"])
    found = await call("get_logs", search="a\x00b")
    assert found.data["total"] == 1, found.envelope
    assert found.data["entries"][0]["message"] == "remote said a\ufffdb"
    assert found.data["entries"][0]["tags"] == ["x\x00y"]  # JSON keeps it: json text escapes it as \u0000


async def test_concurrent_setting_changes_all_succeed(call: ToolCaller, tomo_app: TomoApp) -> None:
    """They deleted and re-inserted the row: on PostgreSQL all but one failed on the key (DATABASE_ERROR)."""
    answers = await asyncio.gather(*(call("update_settings", settings={"ssh_command_timeout": 61 + i})
                                     for i in range(4)))
    assert [answer.error for answer in answers] == [None] * 4
    await tomo_app.services["settings_service"].load()
    assert tomo_app.services["settings_service"].get("ssh_command_timeout") in {61, 62, 63, 64}


async def test_concurrent_ratings_by_one_user_leave_one_rating(call: ToolCaller, tomo_app: TomoApp) -> None:
    """Each updated the user's rating, else inserted it: on PostgreSQL all but one failed on the key."""
    assert (await call("search_marketplace", query="jellyfin")).error is None
    answers = await asyncio.gather(*(call("rate_marketplace_app", app_id="builtin/jellyfin", rating=3 + i % 2)
                                     for i in range(6)))
    assert [answer.error for answer in answers] == [None] * 6
    assert {answer.data["rating_count"] for answer in answers} == {1}
    async with tomo_app.database.connect() as conn:
        stored = (await conn.execute(sa.text("SELECT count(*) FROM marketplace_ratings"))).scalar_one()
    assert stored == 1


async def test_concurrent_ratings_by_different_users_all_count(call: ToolCaller, tomo_app: TomoApp) -> None:
    """Each computed the average from its own snapshot: on PostgreSQL the stored count and average could miss the
    ratings committed meanwhile (seen: count 1 of 8). The app row is now locked first, so raters take turns."""
    assert (await call("search_marketplace", query="jellyfin")).error is None
    repository = tomo_app.services["marketplace_service"].repo
    now = datetime.now(UTC)
    ratings = [1 + i % 5 for i in range(8)]
    await asyncio.gather(*(repository.rate("builtin/jellyfin", f"user-{i}", rating, now)
                           for i, rating in enumerate(ratings)))  # fmt: skip
    app = (await call("get_marketplace_app", app_id="builtin/jellyfin")).data["app"]
    assert app["rating_count"] == 8 and app["avg_rating"] == round(sum(ratings) / 8, 2), app


async def test_a_burst_of_failed_logins_locks_the_account_without_errors(call: ToolCaller, tomo_app: TomoApp) -> None:
    """Each failure past the threshold replaced the lockout by delete-then-insert: on PostgreSQL most of a burst
    of twelve failed on the key instead of locking."""
    await call("get_settings")  # starts Tomo
    lockouts = tomo_app.services["lockout_service"]
    results = await asyncio.gather(*(lockouts.record_failure("mallory", "10.0.0.9") for _ in range(12)),
                                   return_exceptions=True)
    assert [type(result).__name__ for result in results if isinstance(result, Exception)] == []
    locked = (await call("get_locked_accounts")).data
    assert ("user", "mallory") in {(lock["kind"], lock["subject"]) for lock in locked["locks"]}, locked


async def test_a_catalog_with_nul_characters_syncs(tomo_app: TomoApp, tmp_path: Path) -> None:
    """Apps are inserted many rows per statement: the NUL replacement covers that path too."""
    catalog = tmp_path / "catalog"
    for number in range(3):
        write_tomo_app(catalog, f"nul-app-{number}", f"Nul App {number}", tagline="a \x00 inside", description="\x00")
    commit_all(catalog)
    _, job = await add_and_sync(await ready(tomo_app), "nulcat", catalog)
    assert job.status.value == "succeeded", job.error
    apps, total = await marketplace(tomo_app).search("nul app", None, None, None, None, 10, 0)
    assert total == 3 and {app.tagline for app in apps} == {"a \ufffd inside"}


async def test_a_database_that_does_not_exist_is_named_in_the_start_up_error() -> None:
    from tests.pgkit import admin_url_or_skip, database_url_for

    from tomo.errors import DatabaseError

    database = Database(database_url_for(admin_url_or_skip(), "tomo_never_created"))
    try:
        with pytest.raises(DatabaseError, match='database "tomo_never_created" does not exist.*create it first'):
            await database.migrate()
    finally:
        await database.dispose()
