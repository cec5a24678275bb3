"""Job records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tomo.database.engine import Database
from tomo.database.paging import fetch_page
from tomo.database.repositories.instances import InstanceRepository
from tomo.database.tables import jobs
from tomo.models.job import Job, JobError, JobStatus, JobSummary

ACTIVE = (JobStatus.PENDING.value, JobStatus.RUNNING.value)


class _ResourceTaken(Exception):
    """The insert met the one-active-job-per-resource index (the transaction is rolled back)."""


def _to_job(row: sa.Row[Any]) -> Job:
    m = row._mapping
    error = JobError(code=m["error_code"], message=m["error_message"] or "") if m["error_code"] else None
    return Job(
        id=m["id"], kind=m["kind"], title=m["title"], status=JobStatus(m["status"]), progress=m["progress"],
        message=m["message"], server_id=m["server_id"], resource=m["resource"], params=m["params"] or {},
        steps=m["steps"] or [], result=m["result"], error=error, created_by=m["created_by"], owner=m["owner"],
        created_at=m["created_at"], started_at=m["started_at"], finished_at=m["finished_at"],
    )


class JobRepository:
    """Reads and writes the ``jobs`` table."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def insert(self, values: dict[str, Any]) -> bool:
        """Insert a job; False when its resource is held by another active job (the partial unique index
        ``ux_jobs_active_resource`` decides, whichever process asks)."""
        try:
            async with self.database.begin() as conn:
                try:
                    await conn.execute(jobs.insert().values(**values))
                except sa.exc.IntegrityError as exc:
                    if values.get("resource") is None:
                        raise
                    raise _ResourceTaken from exc
        except _ResourceTaken:
            return False
        return True

    async def claim_slot(self, job_id: str, server_id: str, limit: int, now: datetime) -> bool:
        """Move a pending job to running if fewer than ``limit`` jobs run against its server, counted across
        every instance in the same statement (on PostgreSQL under a per-server advisory lock)."""
        running = (sa.select(sa.func.count()).select_from(jobs)
                   .where(jobs.c.server_id == server_id, jobs.c.status == JobStatus.RUNNING.value)
                   .scalar_subquery())
        statement = (jobs.update()
                     .where(jobs.c.id == job_id, jobs.c.status == JobStatus.PENDING.value, running < limit)
                     .values(status=JobStatus.RUNNING.value, started_at=now))
        async with self.database.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                                   {"key": f"tomo-server-slots:{server_id}"})
            result = await conn.execute(statement)
        return bool(result.rowcount)

    async def orphans(self, live: set[str]) -> list[Job]:
        """Active jobs whose owner is not among the ``live`` instances (or that have no owner)."""
        query = sa.select(jobs).where(jobs.c.status.in_(ACTIVE),
                                      sa.or_(jobs.c.owner.is_(None), jobs.c.owner.not_in(sorted(live))))
        async with self.database.connect() as conn:
            rows = (await conn.execute(query.order_by(jobs.c.created_at))).all()
        return [_to_job(row) for row in rows]

    async def adopt(self, job_id: str, owner: str | None, new_owner: str) -> bool:
        """Take over an active job from ``owner``; True for exactly one of several instances trying at once."""
        same_owner = jobs.c.owner.is_(None) if owner is None else jobs.c.owner == owner
        async with self.database.begin() as conn:
            result = await conn.execute(jobs.update().where(jobs.c.id == job_id, jobs.c.status.in_(ACTIVE),
                                                            same_owner).values(owner=new_owner))
        return bool(result.rowcount)

    async def purge_finished(self, before: datetime) -> int:
        """Delete finished jobs created before ``before``; returns how many."""
        async with self.database.begin() as conn:
            result = await conn.execute(jobs.delete().where(jobs.c.status.not_in(ACTIVE), jobs.c.created_at < before))
        return int(result.rowcount or 0)

    async def update(self, job_id: str, values: dict[str, Any]) -> None:
        async with self.database.begin() as conn:
            await conn.execute(jobs.update().where(jobs.c.id == job_id).values(**values))

    async def get(self, job_id: str) -> Job | None:
        async with self.database.connect() as conn:
            row = (await conn.execute(sa.select(jobs).where(jobs.c.id == job_id))).first()
        return _to_job(row) if row else None

    async def list_recent(self, server_id: str | None, status: JobStatus | None, limit: int,
                          offset: int = 0) -> tuple[list[JobSummary], int]:
        """A page of job summaries, newest first, and the number of jobs matching in all."""
        columns = [jobs.c[name] for name in JobSummary.model_fields]  # not the steps, params and result
        query = sa.select(*columns).order_by(jobs.c.created_at.desc(), jobs.c.id)
        if server_id:
            query = query.where(jobs.c.server_id == server_id)
        if status:
            query = query.where(jobs.c.status == status.value)
        async with self.database.connect() as conn:
            rows, total = await fetch_page(conn, query, limit, offset)
        return [JobSummary.model_validate(row) for row in rows], total

    async def active_for_resource(self, resource: str) -> str | None:
        query = sa.select(jobs.c.id).where(jobs.c.resource == resource, jobs.c.status.in_(ACTIVE)).limit(1)
        async with self.database.connect() as conn:
            return (await conn.execute(query)).scalar()

    async def request_cancel(self, job_id: str, now: datetime) -> bool:
        """Ask the instance that runs an active job to cancel it (it notices within about a second)."""
        async with self.database.begin() as conn:
            result = await conn.execute(jobs.update().where(jobs.c.id == job_id, jobs.c.status.in_(ACTIVE))
                                        .values(cancel_requested_at=now))
            if result.rowcount:
                await InstanceRepository.bump_in(conn, "jobs")
        return bool(result.rowcount)

    async def cancel_requests(self, owner: str) -> list[str]:
        """Active jobs of ``owner`` that someone asked to cancel."""
        query = sa.select(jobs.c.id).where(jobs.c.owner == owner, jobs.c.status.in_(ACTIVE),
                                           jobs.c.cancel_requested_at.is_not(None))
        async with self.database.connect() as conn:
            return [str(job_id) for job_id in (await conn.execute(query)).scalars()]

    async def active_resources(self, prefix: str) -> set[str]:
        """Resources starting with ``prefix`` that an active job holds."""
        query = sa.select(jobs.c.resource).where(jobs.c.status.in_(ACTIVE), jobs.c.resource.startswith(prefix))
        async with self.database.connect() as conn:
            return {str(value) for value in (await conn.execute(query)).scalars()}
