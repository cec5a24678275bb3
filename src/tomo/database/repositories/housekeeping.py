"""Deletes what nobody needs any more: expired sessions, old failed logins, lockouts that ended.

Run by the scheduler's leader (see main.register_tasks); each call is one short transaction.
"""

from __future__ import annotations

from datetime import datetime

from tomo.database.engine import Database
from tomo.database.tables_auth import lockouts, login_failures, sessions


class HousekeepingRepository:
    """Purges of the auth tables; each returns how many rows went."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def purge_sessions(self, now: datetime) -> int:
        """Sessions that expired, or were revoked, before ``now``."""
        stale = (sessions.c.expires_at < now) | (sessions.c.revoked_at < now)
        async with self.database.begin() as conn:
            return int((await conn.execute(sessions.delete().where(stale))).rowcount or 0)

    async def purge_lockouts(self, now: datetime, failures_before: datetime) -> int:
        """Lockouts that ended before ``now`` and failed logins older than ``failures_before``."""
        async with self.database.begin() as conn:
            ended = await conn.execute(lockouts.delete().where(lockouts.c.locked_until < now))
            old = await conn.execute(login_failures.delete().where(login_failures.c.failed_at < failures_before))
        return int(ended.rowcount or 0) + int(old.rowcount or 0)
