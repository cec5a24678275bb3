"""Job tools."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import Field

from tomo.errors import PermissionDenied, ServerNotFound
from tomo.lib.mcp.tooling import ToolPolicy, current_principal, tomo_tool
from tomo.models.common import Page, PageOffset, Reply
from tomo.models.job import Job, JobStatus
from tomo.models.principal import Role
from tomo.services.jobs.jobs import JobService
from tomo.services.servers.servers import ServerService

JobId = Annotated[str, Field(min_length=1, max_length=64, description="Job id from a job tool's answer or list_jobs.")]


class JobsTools:
    """Follow and cancel long operations."""

    def __init__(self, job_service: JobService, server_service: ServerService,
                 tool_policies: Mapping[str, ToolPolicy]) -> None:
        self.jobs = job_service
        self.servers = server_service
        self.policies = tool_policies

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
        server_id: Annotated[
            str | None, Field(max_length=64, description="Only jobs for this server (id or name).")
        ] = None,
        status: Annotated[JobStatus | None, Field(description="Only jobs in this state.")] = None,
        limit: Annotated[int, Field(ge=1, le=200, description="Jobs per page, newest first.")] = 20,
        offset: PageOffset = 0,
    ) -> Reply:
        """List recent jobs, newest first, as compact summaries (no steps; use get_job for those)."""
        server, known = await self._server_filter(server_id)
        jobs, total = await self.jobs.list_recent(server, status, limit, offset)
        if not known and not total:
            raise ServerNotFound(f"Server '{server_id}' not found, and no matching job has that server id; "
                                 "list_servers shows ids and names.")
        return Page(jobs, total, limit, offset).reply("list_jobs", "jobs", "job(s)")

    async def _server_filter(self, ref: str | None) -> tuple[str | None, bool]:
        """A server's id from its id or name, and whether it is registered; an unknown ref stays an id (the
        jobs of a deleted server keep its id)."""
        if ref is None:
            return None, True
        try:
            return (await self.servers.get(ref)).id, True
        except ServerNotFound:
            return ref, False

    @tomo_tool(role=Role.OPERATOR, title="Cancel job")
    async def cancel_job(self, job_id: JobId) -> Reply:
        """Cancel a pending or running job; it needs the role of the tool that started the job.

        The job stops at its next step boundary or wait; steps already done stay recorded (a job that
        cleans up after itself, like install_app, rolls back). Cancelling a finished job is an error.
        """
        job = await self.jobs.get(job_id)
        self._check_may_cancel(job)
        job = await self.jobs.cancel(job_id)
        return Reply(f"Job {job.id} is now {job.status.value}.", job)

    def _check_may_cancel(self, job: Job) -> None:
        """A job's kind is the name of the tool that started it; a kind no tool has (e.g. marketplace_sync,
        from sync_repo) needs an admin, so nobody cancels more than the tools they may call."""
        policy = self.policies.get(job.kind)
        needed = policy.role if policy is not None else Role.ADMIN
        principal = current_principal()
        if principal is not None and principal.has_role(needed):
            return
        who = f"you are '{principal.username}' ({principal.role})" if principal is not None else "nobody signed in"
        started = (f"was started by {job.kind}, which needs the {needed.value} role" if policy is not None
                   else f"is a {job.kind} job, which needs the {needed.value} role")
        raise PermissionDenied(f"Job {job.id} ({job.title}) {started}; cancelling it needs that role too, and {who}.")
