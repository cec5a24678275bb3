"""Jobs on PostgreSQL: tests/unit/services/jobs/test_jobs.py, unchanged (a job running at a crash is interrupted after a
restart, list filters, cancel, one job per resource), each test on a fresh PostgreSQL database.

Those tests build their apps with ``TomoConfig(data_dir=...)``, which also reads ``TOMO_DATABASE_URL``: set for
the test (and inherited by the crashing subprocess), it puts them on PostgreSQL. Each test's jobs are then
looked for there, so a test that quietly ran on SQLite fails.
"""

from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from tests.pgkit import database_url  # noqa: F401 - a fresh PostgreSQL database per test
from tests.unit.services.jobs.test_jobs import *  # noqa: F403

from tomo.database.engine import Database


@pytest.fixture(autouse=True)
async def _tomo_database_url(database_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:  # noqa: F811
    monkeypatch.setenv("TOMO_DATABASE_URL", database_url)
    yield
    database = Database(database_url)
    try:
        async with database.connect() as conn:
            jobs = (await conn.execute(sa.text("SELECT count(*) FROM jobs"))).scalar_one()
    finally:
        await database.dispose()
    assert jobs > 0, "the test's jobs are not in its PostgreSQL database"
