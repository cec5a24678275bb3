"""Live instances, named leases, scheduled tasks and change counters (see tables_instances.py).

Every decision that two processes could take at once is one conditional statement here, settled by the
database: a lease is taken by an UPDATE whose WHERE says "free, expired or already mine"; a task run is claimed
by an UPDATE whose WHERE says "still due". Whoever's statement changed a row won.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tomo.database.engine import Database
from tomo.database.tables_instances import change_counters, instances, leases, scheduled_tasks
from tomo.database.upsert import insert_ignore, upsert


class InstanceRepository:
    """Reads and writes ``instances``, ``leases``, ``scheduled_tasks`` and ``change_counters``."""

    def __init__(self, database: Database) -> None:
        self.database = database

    # ---- instances --------------------------------------------------------------------------------------

    async def register(self, values: dict[str, Any]) -> None:
        """Insert this instance's row (or refresh it: a second start of the same app object)."""
        async with self.database.begin() as conn:
            await upsert(conn, instances, values, ["id"])

    async def heartbeat(self, instance_id: str, now: datetime) -> bool:
        """Refresh this instance's heartbeat; False when its row is gone (it was taken for dead)."""
        async with self.database.begin() as conn:
            result = await conn.execute(
                instances.update().where(instances.c.id == instance_id).values(heartbeat_at=now))
        return bool(result.rowcount)

    async def deregister(self, instance_id: str) -> None:
        async with self.database.begin() as conn:
            await conn.execute(instances.delete().where(instances.c.id == instance_id))
            await conn.execute(leases.delete().where(leases.c.holder == instance_id))

    async def live(self, since: datetime) -> list[dict[str, Any]]:
        """Instances whose heartbeat is not older than ``since``, oldest first."""
        query = sa.select(instances).where(instances.c.heartbeat_at >= since).order_by(instances.c.started_at)
        async with self.database.connect() as conn:
            return [dict(row._mapping) for row in (await conn.execute(query)).all()]

    async def forget_dead(self, before: datetime) -> list[str]:
        """Delete the rows of instances whose heartbeat is older than ``before``; returns their ids."""
        async with self.database.begin() as conn:
            query = sa.select(instances.c.id).where(instances.c.heartbeat_at < before)
            ids = list((await conn.execute(query)).scalars())
            if ids:
                await conn.execute(instances.delete().where(instances.c.id.in_(ids)))
        return ids

    # ---- leases -----------------------------------------------------------------------------------------

    async def acquire_lease(self, name: str, holder: str, now: datetime, ttl_s: float) -> bool:
        """Take or renew lease ``name`` for ``holder`` until now + ttl; False while another holder has it."""
        expires = now + timedelta(seconds=ttl_s)
        async with self.database.begin() as conn:
            await insert_ignore(conn, leases, {"name": name, "holder": holder, "acquired_at": now,
                                               "expires_at": expires}, ["name"])
            result = await conn.execute(
                leases.update()
                .where(leases.c.name == name, sa.or_(leases.c.holder == holder, leases.c.expires_at < now))
                .values(holder=holder, expires_at=expires,
                        acquired_at=sa.case((leases.c.holder == holder, leases.c.acquired_at), else_=now)))
        return bool(result.rowcount)

    async def lease(self, name: str) -> dict[str, Any] | None:
        async with self.database.connect() as conn:
            row = (await conn.execute(sa.select(leases).where(leases.c.name == name))).first()
        return dict(row._mapping) if row else None

    async def release_lease(self, name: str, holder: str) -> None:
        async with self.database.begin() as conn:
            await conn.execute(leases.delete().where(leases.c.name == name, leases.c.holder == holder))

    # ---- scheduled tasks --------------------------------------------------------------------------------

    async def ensure_task(self, name: str, interval_s: float, first_run: datetime) -> None:
        """Create the task's row if it has none; an existing row keeps its schedule, with the new interval."""
        async with self.database.begin() as conn:
            await insert_ignore(conn, scheduled_tasks, {"name": name, "interval_s": interval_s,
                                                        "next_run_at": first_run, "runs": 0}, ["name"])
            await conn.execute(scheduled_tasks.update().where(scheduled_tasks.c.name == name)
                               .values(interval_s=interval_s))

    async def claim_run(self, name: str, due: datetime, next_run: datetime, now: datetime, holder: str) -> bool:
        """Claim the run that was due at ``due``: True for exactly one caller, whatever the number of callers."""
        async with self.database.begin() as conn:
            result = await conn.execute(
                scheduled_tasks.update()
                .where(scheduled_tasks.c.name == name, scheduled_tasks.c.next_run_at == due)
                .values(next_run_at=next_run, last_started_at=now, last_instance=holder, last_outcome="running",
                        runs=scheduled_tasks.c.runs + 1))
        return bool(result.rowcount)

    async def record_run(self, name: str, outcome: str, duration_ms: float, error: str | None) -> None:
        async with self.database.begin() as conn:
            await conn.execute(scheduled_tasks.update().where(scheduled_tasks.c.name == name)
                               .values(last_outcome=outcome, last_duration_ms=duration_ms, last_error=error))

    async def tasks(self) -> list[dict[str, Any]]:
        async with self.database.connect() as conn:
            rows = (await conn.execute(sa.select(scheduled_tasks).order_by(scheduled_tasks.c.name))).all()
        return [dict(row._mapping) for row in rows]

    # ---- change counters --------------------------------------------------------------------------------

    async def bump(self, name: str) -> None:
        """Count one change of ``name`` (other instances reload what they cached of it)."""
        async with self.database.begin() as conn:
            await self.bump_in(conn, name)

    @staticmethod
    async def bump_in(conn: Any, name: str) -> None:
        """The same, inside the caller's transaction, so the change and its count commit together."""
        await insert_ignore(conn, change_counters, {"name": name, "version": 0}, ["name"])
        await conn.execute(change_counters.update().where(change_counters.c.name == name)
                           .values(version=change_counters.c.version + 1))

    async def versions(self) -> dict[str, int]:
        async with self.database.connect() as conn:
            rows = (await conn.execute(sa.select(change_counters.c.name, change_counters.c.version))).all()
        return {str(name): int(version) for name, version in rows}
