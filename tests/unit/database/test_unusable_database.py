"""A database Tomo cannot use fails start-up with a message that says what to fix, never a traceback."""

from __future__ import annotations

import asyncio
import subprocess
import threading
from pathlib import Path

import pytest
from tests.httpkit import TOMO, server_env

from tomo.database.engine import Database
from tomo.errors import DatabaseError

#: Port 1 on loopback: nothing listens there, so the connection is refused at once.
UNREACHABLE = "postgresql+asyncpg://tomo:s3cret-pw@127.0.0.1:1/tomo"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql+aiomysql://tomo:s3cret-pw@db/tomo", "not a database Tomo can use"),
        ("not a url", "not a database Tomo can use"),
        ("oracle://tomo:s3cret-pw@db/tomo", "not a database Tomo can use"),
    ],
)
def test_an_unusable_url_is_refused_with_the_urls_tomo_takes(url: str, says: str) -> None:
    with pytest.raises(DatabaseError) as caught:
        Database(url)
    assert says in caught.value.message and "postgresql+asyncpg://" in caught.value.message
    assert "s3cret-pw" not in caught.value.message


async def test_an_unreachable_server_says_what_to_check_and_hides_the_password() -> None:
    database = Database(UNREACHABLE)
    try:
        with pytest.raises(DatabaseError) as caught:
            await database.migrate()
    finally:
        await database.dispose()
    message = caught.value.message
    assert message.startswith("Tomo cannot open its database 'postgresql+asyncpg://tomo:***@127.0.0.1:1/tomo'")
    assert "111" in message or "refused" in message.lower() or "failed" in message.lower()
    assert "the database exists" in message and "s3cret-pw" not in message


async def test_an_unwritable_sqlite_file_says_to_check_the_data_directory(tmp_path: Path) -> None:
    (tmp_path / "tomo.db").mkdir()  # a directory where the database file should be: SQLite cannot open it
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'tomo.db'}")
    before = set(threading.enumerate())
    try:
        with pytest.raises(DatabaseError, match="data directory exists and is writable"):
            await database.migrate()
    finally:
        await database.dispose()
    # aiosqlite stops the thread of a failed connection without waiting for it; let it finish while this
    # test's event loop is open (else it reports 'Event loop is closed' during a later test).
    for thread in {t for t in threading.enumerate() if "_connection_worker_thread" in t.name} - before:
        await asyncio.to_thread(thread.join, 5)


def test_tomo_serve_exits_with_the_message_not_a_traceback(tmp_path: Path) -> None:
    env = server_env(tmp_path / "data", TOMO_DATABASE_URL=UNREACHABLE)
    done = subprocess.run([TOMO, "serve"], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "\nError (DATABASE_ERROR): Tomo cannot open its database" in "\n" + done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "s3cret-pw" not in done.stderr and done.stdout == ""
