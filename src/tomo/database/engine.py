"""The database handle: async engine, SQLite pragmas, and migrations at start.

Start-up is on the hot path of every desktop-client launch, so migrations are
checked cheaply first: the revisions recorded in ``alembic_version`` are compared
with the revision ids of the migration files (read with a regex, no Alembic
import). Only when they differ is Alembic imported and run.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from tomo.errors import AlreadyExists, DatabaseError

logger = structlog.get_logger("tomo.database")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_REVISION = re.compile(r"^revision\s*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\s*=\s*(.+)$", re.MULTILINE)


def migration_heads() -> set[str]:
    """Revision ids that no other migration builds on, read from the files themselves."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        match = _REVISION.search(text)
        if match is None:
            continue
        revisions.add(match.group(1))
        down = _DOWN_REVISION.search(text)
        if down:
            parents.update(re.findall(r"['\"]([^'\"]+)['\"]", down.group(1)))
    return revisions - parents


#: SQLite connections are cheap to keep (one idle aiosqlite thread each). With the default pool (5, plus 10
#: overflow connections closed again on return) every burst of concurrent tool calls opened and closed
#: connections: a thread start and four PRAGMAs each, on the event loop's critical path.
#: A connection going back to the pool is rolled back only when it has a transaction open (see
#: :func:`_rollback_if_open`): SQLAlchemy's default rollback-on-return is one more trip to aiosqlite's thread for
#: each checkout, and most have nothing to roll back.
_SQLITE_POOL: dict[str, Any] = {"pool_size": 16, "max_overflow": 16, "pool_reset_on_return": None}


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _rollback_if_open(dbapi_connection: Any, _record: Any, state: Any) -> None:
    """Pool reset for SQLite: roll back a transaction left open, skip the no-op rollback otherwise.

    Reads through tomo.database.one_trip leave none open, so their checkout costs one trip to the thread
    instead of two (over HTTP, bench/bench_http.py: health_check p50 +0.57 -> +0.35 ms over a bare FastMCP
    server, server CPU 2.23 -> 1.94 ms per call, same run).
    """
    if state.asyncio_safe and not state.transaction_was_reset and dbapi_connection.driver_connection.in_transaction:
        dbapi_connection.rollback()


def _without_nul(value: Any) -> Any:
    return value.replace("\x00", "\ufffd") if isinstance(value, str) and "\x00" in value else value


def _replace_nul_characters(
    _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, executemany: bool
) -> tuple[str, Any]:
    """PostgreSQL text cannot hold a NUL character (SQLite's can, and a log search or a catalog's JSON may carry
    one): bound strings get U+FFFD in its place, so such text is stored, and searched for, instead of failing."""
    rows = parameters if executemany else [parameters]
    if not any(isinstance(value, str) and "\x00" in value for row in rows for value in _values(row)):
        return statement, parameters
    cleaned = [
        {key: _without_nul(value) for key, value in row.items()} if isinstance(row, dict)
        else type(row)(_without_nul(value) for value in row)
        for row in rows
    ]
    return statement, (type(parameters)(cleaned) if executemany else cleaned[0])


def _values(row: Any) -> Any:
    return row.values() if isinstance(row, dict) else row


#: Set while this task holds the SQLite write turn. SQLite lets one writer in at a time and makes the others
#: wait in its busy handler, which sleeps in growing steps (1, 2, 5, 10 ms, ...) and retries: a burst of
#: concurrent writes then costs far more than the writes. Taking turns in-process wakes the next writer the
#: moment the last one commits; the busy timeout still covers other processes (the CLI). A transaction
#: opened while the turn is held (nested, or in a task started inside it) does not wait for itself.
#: Measured (bench/bench_sqlite_writes.py, medians): a burst of 10 concurrent writes takes 8 ms with the turn and
#: 42 ms without it; 50 writes 41 ms vs 450 ms (p95 1.7 s).
_WRITING: ContextVar[bool] = ContextVar("tomo_sqlite_writing", default=False)


class Database:
    """Owns the async engine; repositories borrow connections from it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self._ensure_sqlite_dir(url)
        pool = _SQLITE_POOL if self.is_sqlite else {"pool_pre_ping": True}
        try:
            self.engine: AsyncEngine = create_async_engine(url, **pool)
        except (ImportError, sa.exc.ArgumentError) as exc:  # a driver not installed, or not a database URL
            raise DatabaseError(_unusable_url(url, exc)) from exc
        if self.is_sqlite:
            sa.event.listen(self.engine.sync_engine, "connect", _set_sqlite_pragmas)
            sa.event.listen(self.engine.sync_engine, "reset", _rollback_if_open)
        else:
            sa.event.listen(self.engine.sync_engine, "before_cursor_execute", _replace_nul_characters, retval=True)
        self.revisions: set[str] = set()
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

    @staticmethod
    def _ensure_sqlite_dir(url: str) -> None:
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A connection inside a transaction that commits on success and rolls back on error.

        On SQLite, Tomo's own write transactions take turns (see :data:`_WRITING`).
        """
        async with self._write_turn():
            with _translated_errors():
                async with self.engine.begin() as conn:
                    yield conn

    @asynccontextmanager
    async def _write_turn(self) -> AsyncIterator[None]:
        """Hold the SQLite write turn, unless this task already does (or the database is not SQLite)."""
        if self._write_lock is None or _WRITING.get():
            yield
            return
        async with self._write_lock:
            token = _WRITING.set(True)
            try:
                yield
            finally:
                _WRITING.reset(token)

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads (autocommit-style; no explicit transaction needed)."""
        with _translated_errors():
            async with self.engine.connect() as conn:
                yield conn

    async def current_revisions(self) -> set[str]:
        """Revisions recorded in ``alembic_version`` (empty for a fresh database)."""
        async with self.engine.connect() as conn:
            has_table = await conn.run_sync(lambda c: sa.inspect(c).has_table("alembic_version"))
            if not has_table:
                return set()
            rows = await conn.execute(sa.text("SELECT version_num FROM alembic_version"))
            return {row[0] for row in rows}

    async def migrate(self) -> bool:
        """Bring the schema to the newest revision; returns whether a migration ran."""
        heads = migration_heads()
        try:
            current = await self.current_revisions()
        except (OSError, sa.exc.SQLAlchemyError) as exc:
            raise DatabaseError(self._unreachable(exc)) from exc
        if current == heads:
            self.revisions = current
            return False
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade_to_heads)
        self.revisions = await self.current_revisions()
        logger.info("database_migrated", from_revisions=sorted(current), to_revisions=sorted(self.revisions))
        return True

    def _unreachable(self, exc: BaseException) -> str:
        """Why the database could not be opened at start, and what the owner can check."""
        cause = exc.orig if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None else exc
        reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0][:200]
        if self.is_sqlite:
            advice = "Check that the data directory exists and is writable by this user (or pass --data-dir)."
        else:
            advice = ("Check that the database server is running and reachable from here, that the database exists "
                      "(create it first, e.g. `createdb tomo`), and the user and password in TOMO_DATABASE_URL.")
        return f"Tomo cannot open its database {_shown(self.url)}: {reason}. {advice}"

    async def ping(self) -> None:
        """Run a trivial query; raises DatabaseError when the database does not answer."""
        async with self.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def _unusable_url(url: str, exc: BaseException) -> str:
    if isinstance(exc, ImportError) and url.startswith("postgresql"):
        return (f"TOMO_DATABASE_URL {_shown(url)} needs the Python package '{exc.name or exc}', which is not "
                "installed. For PostgreSQL install Tomo with its postgres extra (pip install 'tomo[postgres]').")
    return (f"TOMO_DATABASE_URL {_shown(url)} is not a database Tomo can use: give "
            "sqlite+aiosqlite:///path/to/tomo.db or postgresql+asyncpg://user:password@host:5432/database.")


def _shown(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        return repr(sa.engine.make_url(url).render_as_string(hide_password=True))
    except sa.exc.ArgumentError:
        return "(not a URL)"


@contextmanager
def duplicate_as(message: str) -> Iterator[None]:
    """Raise AlreadyExists(``message``) when a statement in the block breaks a unique constraint.

    Services check for a duplicate first to answer early; this catches the insert that loses the race
    between two calls (the transaction rolls back as for any error).
    """
    try:
        yield
    except sa.exc.IntegrityError as exc:
        raise AlreadyExists(message) from exc


@contextmanager
def _translated_errors() -> Iterator[None]:
    """Translate SQLAlchemy failures into the domain's DatabaseError, once, here."""
    try:
        yield
    except sa.exc.SQLAlchemyError as exc:
        logger.error("database_error", error=type(exc).__name__)
        raise DatabaseError("The database could not complete the operation; try again.") from exc


def _upgrade_to_heads(sync_connection: sa.Connection) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = sync_connection
    command.upgrade(config, "heads")
