"""Job tools."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from tomo.lib.mcp.tooling import tomo_tool
from tomo.models.common import Reply
from tomo.models.job import JobStatus
from tomo.models.principal import Role
from tomo.services.jobs.jobs import JobService

JobId = Annotated[str, Field(min_length=1, max_length=64, description="Job id from a job tool's answer or list_jobs.")]


class JobsTools:
    """Follow and cancel long operations."""

    def __init__(self, job_service: JobService) -> None:
        self.jobs = job_service

    @tomo_tool(read_only=True, idempotent=True, title="Get job")
    async def get_job(self, job_id: JobId) -> Reply:
        """Show one job: status, progress, each step with its timing and outcome, and the error if it failed.

        Use it to follow a job that a tool such as install_app or sync_repo returned before it finished
        (poll every few seconds while pending or running), or to see where a failed job stopped.
        """
        job = await self.jobs.get(job_id)
        return Reply(f"Job {job.id} ({job.title}) is {job.status.value} at {job.progress:.0f}%.", job)

    @tomo_tool(read_only=True, idempotent=True, title="List jobs")
    async def list_jobs(
        self,
        server_id: Annotated[str | None, Field(description="Only jobs for this server (id).")] = None,
        status: Annotated[JobStatus | None, Field(description="Only jobs in this state.")] = None,
        limit: Annotated[int, Field(ge=1, le=200, description="Most recent jobs to return.")] = 20,
    ) -> Reply:
        """List recent jobs, newest first, as compact summaries (no steps; use get_job for those)."""
        jobs = await self.jobs.list_recent(server_id, status, limit)
        return Reply(f"{len(jobs)} job(s).", {"jobs": jobs})

    @tomo_tool(role=Role.OPERATOR, title="Cancel job")
    async def cancel_job(self, job_id: JobId) -> Reply:
        """Cancel a pending or running job.

        The job stops at its next step boundary or wait; steps already done stay recorded (a job that
        cleans up after itself, like install_app, rolls back). Cancelling a finished job is an error.
        """
        job = await self.jobs.cancel(job_id)
        return Reply(f"Job {job.id} is now {job.status.value}.", job)
