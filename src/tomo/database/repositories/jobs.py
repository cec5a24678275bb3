"""Job records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tomo.database.engine import Database
from tomo.database.tables import jobs
from tomo.models.job import Job, JobError, JobStatus, JobSummary

ACTIVE = (JobStatus.PENDING.value, JobStatus.RUNNING.value)


def _to_job(row: sa.Row[Any]) -> Job:
    m = row._mapping
    error = JobError(code=m["error_code"], message=m["error_message"] or "") if m["error_code"] else None
    return Job(
        id=m["id"], kind=m["kind"], title=m["title"], status=JobStatus(m["status"]), progress=m["progress"],
        message=m["message"], server_id=m["server_id"], resource=m["resource"], params=m["params"] or {},
        steps=m["steps"] or [], result=m["result"], error=error, created_by=m["created_by"],
        created_at=m["created_at"], started_at=m["started_at"], finished_at=m["finished_at"],
    )


class JobRepository:
    """Reads and writes the ``jobs`` table."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def insert(self, values: dict[str, Any]) -> None:
        async with self.database.begin() as conn:
            await conn.execute(jobs.insert().values(**values))

    async def update(self, job_id: str, values: dict[str, Any]) -> None:
        async with self.database.begin() as conn:
            await conn.execute(jobs.update().where(jobs.c.id == job_id).values(**values))

    async def get(self, job_id: str) -> Job | None:
        async with self.database.connect() as conn:
            row = (await conn.execute(sa.select(jobs).where(jobs.c.id == job_id))).first()
        return _to_job(row) if row else None

    async def list_recent(self, server_id: str | None, status: JobStatus | None, limit: int) -> list[JobSummary]:
        query = sa.select(jobs).order_by(jobs.c.created_at.desc()).limit(limit)
        if server_id:
            query = query.where(jobs.c.server_id == server_id)
        if status:
            query = query.where(jobs.c.status == status.value)
        async with self.database.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [JobSummary.model_validate({**_to_job(r).model_dump(), "error_code": r.error_code}) for r in rows]

    async def active_for_resource(self, resource: str) -> str | None:
        query = sa.select(jobs.c.id).where(jobs.c.resource == resource, jobs.c.status.in_(ACTIVE)).limit(1)
        async with self.database.connect() as conn:
            return (await conn.execute(query)).scalar()

    async def mark_interrupted(self, now: datetime) -> list[str]:
        """Jobs left pending/running by a previous process become ``interrupted``."""
        async with self.database.begin() as conn:
            ids = list((await conn.execute(sa.select(jobs.c.id).where(jobs.c.status.in_(ACTIVE)))).scalars())
            if ids:
                await conn.execute(
                    jobs.update().where(jobs.c.id.in_(ids)).values(
                        status=JobStatus.INTERRUPTED.value, finished_at=now, error_code="JOB_INTERRUPTED",
                        error_message="Tomo stopped while this job ran; check the affected object and retry.",
                    )
                )
        return ids
