"""Tomo on PostgreSQL in tests: a fresh database per test on the server started by ``scripts/postgres.sh up``.

``TOMO_TEST_POSTGRES_URL`` (``eval "$(scripts/postgres.sh env)"``; ``scripts/test`` does it) is the admin URL,
e.g. ``postgresql+asyncpg://postgres@127.0.0.1:41209/postgres``. Each test gets its own database, created
empty or as a copy of a template that the session migrates once (copying is far cheaper than migrating),
and dropped at teardown. Without the variable, or with no server answering, tests skip; they fail instead
when ``TOMO_TESTBED=required``, as the testbed tests do (tests/testbed.py).

Modules that run an existing SQLite test module on PostgreSQL import :func:`database_url` (which overrides
the SQLite default of tests/conftest.py) and then ``*`` from that module.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, NoReturn

import pytest
from sqlalchemy.engine import make_url

from tomo.database.engine import Database

URL_VARIABLE = "TOMO_TEST_POSTGRES_URL"
_unavailable_reason: str | None = None  # remembered so a missing server costs the connect timeout only once


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("TOMO_TESTBED") == "required":
        pytest.fail(f"PostgreSQL required (TOMO_TESTBED=required) but not available: {reason}. "
                    "Start it with `scripts/postgres.sh up` and `eval \"$(scripts/postgres.sh env)\"`.", pytrace=False)
    pytest.skip(f"PostgreSQL not available: {reason}. Run `scripts/postgres.sh up` and "
                "`eval \"$(scripts/postgres.sh env)\"` (set TOMO_TESTBED=required to make this a failure).")


async def _admin() -> Any:
    """An asyncpg connection to the admin database (the server's ``postgres`` database)."""
    import asyncpg

    url = make_url(os.environ[URL_VARIABLE])
    return await asyncpg.connect(host=url.host, port=url.port, user=url.username, password=url.password,
                                 database=url.database, timeout=5)


def admin_url_or_skip() -> str:
    """The admin URL, or skip (fail when ``TOMO_TESTBED=required``) when no server is configured or answers."""
    global _unavailable_reason
    if _unavailable_reason is not None:
        _unavailable(_unavailable_reason)
    url = os.environ.get(URL_VARIABLE)
    if not url:
        _unavailable_reason = f"{URL_VARIABLE} is not set"
        _unavailable(_unavailable_reason)
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        _unavailable_reason = "the asyncpg driver is not installed (pip install -e '.[test]')"
        _unavailable(_unavailable_reason)
    return url


def database_url_for(admin_url: str, name: str) -> str:
    """The admin URL pointed at another database on the same server."""
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def create_database(name: str, template: str | None = None) -> None:
    """Create a database; skip (fail when required) when the server does not answer."""
    global _unavailable_reason
    try:
        conn = await _admin()
    except (TimeoutError, OSError) as exc:
        _unavailable_reason = f"cannot connect to {make_url(os.environ[URL_VARIABLE]).render_as_string()} ({exc!r})"
        _unavailable(_unavailable_reason)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    finally:
        await conn.close()


async def drop_database(name: str) -> None:
    conn = await _admin()
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


_template: str | None = None  # the session's migrated template database, built by the first test that needs it


async def _session_template(config: pytest.Config) -> str:
    """A database migrated to the newest revision once per session (dropped when the session ends)."""
    global _template
    if _template is not None:
        return _template
    admin_url = admin_url_or_skip()
    name = f"tomo_template_{uuid.uuid4().hex[:12]}"
    await create_database(name)
    config.add_cleanup(lambda: asyncio.run(drop_database(name)))
    database = Database(database_url_for(admin_url, name))
    try:
        await database.migrate()
    finally:
        await database.dispose()
    _template = name
    return name


@asynccontextmanager
async def fresh_database(template: str | None = None) -> AsyncIterator[str]:
    """A new database (empty, or a copy of ``template``) for the duration of the block; yields its URL."""
    admin_url = admin_url_or_skip()
    name = f"tomo_test_{uuid.uuid4().hex}"
    await create_database(name, template)
    try:
        yield database_url_for(admin_url, name)
    finally:
        await drop_database(name)


@pytest.fixture
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """Tomo's database for one test: a fresh PostgreSQL database with the schema already migrated."""
    async with fresh_database(await _session_template(request.config)) as url:
        yield url
