"""Jobs: long operations that run in the background, recorded step by step.

A job is a row in ``jobs`` plus an asyncio task in the process that owns it (``owner``: its instance id). Its
runner gets a :class:`JobContext` to record steps and progress; every change is persisted, so ``get_job`` in any
process shows where a job is (or where it stopped).

Several processes share the database, so the rules live there: one active job per resource is a partial unique
index, and ``max_jobs_per_server`` is counted across instances when a job moves from pending to running. A job
whose owner died (its heartbeat is older than ``instance_lease_s``) is recovered by another instance, or by the
next start: the handler registered for its kind cleans up (recorded as steps), then it ends ``interrupted``.
Jobs of a live instance are never touched.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from datetime import timedelta
from typing import Any

import structlog

from tomo.database.repositories.jobs import JobRepository
from tomo.database.types import new_id, utcnow
from tomo.errors import ConflictError, JobNotFound, TomoError
from tomo.lib.mcp.tooling import current_principal
from tomo.lib.redaction import redact
from tomo.models.job import Job, JobStatus, JobStep, JobSummary, ProgressCallback, StepStatus
from tomo.services.settings.settings import SettingsService

logger = structlog.get_logger("tomo.jobs")

JobRunner = Callable[["JobContext"], Awaitable[dict[str, Any] | None]]
#: Cleans up after a job whose process died, recording steps on ``ctx``; returns what it did, for the job's message.
RecoveryHandler = Callable[[Job, "JobContext"], Awaitable[str]]
LiveInstances = Callable[[], Awaitable[set[str]]]
SLOT_POLL_S = 0.5


class JobCancelled(TomoError):
    """The job was cancelled by a user."""

    code = "JOB_CANCELLED"


class JobInterrupted(TomoError):
    """The process running the job stopped; another instance recovered it."""

    code = "JOB_INTERRUPTED"


class JobContext:
    """Handed to a job's runner: record steps and progress."""

    def __init__(self, service: JobService, job_id: str, steps: list[JobStep] | None = None,
                 progress: float = 0.0) -> None:
        self._service = service
        self.job_id = job_id
        self.steps: list[JobStep] = list(steps or [])
        self.progress_value = progress
        self.message: str | None = None

    @asynccontextmanager
    async def step(self, name: str) -> AsyncIterator[JobStep]:
        """Record a step: running on entry, ok on success, failed (and re-raised) on error."""
        step = JobStep(name=name, status=StepStatus.RUNNING, started_at=utcnow())
        self.steps.append(step)
        self.message = name
        await self._flush()
        started = time.perf_counter()
        try:
            yield step
        except asyncio.CancelledError:
            self._finish_step(step, StepStatus.CANCELLED, started)
            raise
        except BaseException as exc:
            if step.detail is None:
                step.detail = exc.message if isinstance(exc, TomoError) else type(exc).__name__
            self._finish_step(step, StepStatus.FAILED, started)
            raise
        else:
            if step.status is StepStatus.RUNNING:
                self._finish_step(step, StepStatus.OK, started)
        finally:
            await self._flush()

    def _finish_step(self, step: JobStep, status: StepStatus, started: float) -> None:
        step.status = status
        step.finished_at = utcnow()
        step.duration_ms = round((time.perf_counter() - started) * 1000, 1)

    async def skip(self, name: str, detail: str) -> None:
        """Record a step that had nothing to do (for idempotent re-runs)."""
        now = utcnow()
        self.steps.append(JobStep(name=name, status=StepStatus.SKIPPED, started_at=now, finished_at=now,
                                  duration_ms=0.0, detail=detail))
        await self._flush()

    async def progress(self, percent: float, message: str | None = None) -> None:
        """Set overall progress (0-100) and an optional status line."""
        self.progress_value = max(0.0, min(100.0, percent))
        if message is not None:
            self.message = message
        await self._flush()

    async def _flush(self) -> None:
        await self._service._persist_progress(self)


class JobService:
    """Starts, tracks, waits for and cancels jobs."""

    def __init__(self, job_repository: JobRepository, settings_service: SettingsService, instance_id: str,
                 live_instances: LiveInstances) -> None:
        self.repo = job_repository
        self.settings = settings_service
        self.instance_id = instance_id
        self._live_instances = live_instances
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._changed: dict[str, asyncio.Event] = {}
        self._slot_freed = asyncio.Event()
        self._recovery: dict[str, RecoveryHandler] = {}
        self._shutting_down = False

    def register_recovery(self, kind: str, handler: RecoveryHandler) -> None:
        """How to clean up after a job of ``kind`` whose process died (default: nothing but the record)."""
        self._recovery[kind] = handler

    async def recover_interrupted(self) -> list[str]:
        """Recover the active jobs whose owner is dead: at start, then in every instance every half
        ``instance_lease_s``. Each is adopted by one instance only, cleaned up by its kind's handler and ends
        ``interrupted``; returns the ids this call recovered."""
        live = await self._live_instances() | {self.instance_id}
        recovered = []
        for job in await self.repo.orphans(live):
            if await self.repo.adopt(job.id, job.owner, self.instance_id):
                await self._recover(job)
                recovered.append(job.id)
        if recovered:
            logger.warning("jobs_recovered", count=len(recovered), job_ids=recovered)
        return recovered

    async def _recover(self, job: Job) -> None:
        ctx = JobContext(self, job.id, [JobStep.model_validate(step) for step in job.steps], job.progress)
        for step in ctx.steps:
            if step.status is StepStatus.RUNNING:
                step.status, step.detail = StepStatus.FAILED, step.detail or "stopped: its Tomo process ended"
        lost = f"instance {job.owner}" if job.owner else "an earlier Tomo process"
        handler = self._recovery.get(job.kind)
        outcome = "nothing to clean up"
        try:
            if handler is not None:
                async with ctx.step(f"recover (by instance {self.instance_id})"):
                    outcome = await handler(job, ctx)
        except TomoError as exc:
            outcome = f"the clean-up failed: {exc.message}"
        except Exception as exc:
            logger.exception("job_recovery_crashed", job_id=job.id)
            outcome = f"the clean-up failed on an unexpected error ({type(exc).__name__})"
        ctx.message = (f"The Tomo process running this job ({lost}) stopped; recovered by instance "
                       f"{self.instance_id}: {outcome}.")
        await self._finish(job.id, ctx, JobStatus.INTERRUPTED, error=JobInterrupted(ctx.message))

    async def start(
        self,
        kind: str,
        title: str,
        runner: JobRunner,
        *,
        server_id: str | None = None,
        resource: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> str:
        """Record a new job and run it in the background; returns its id.

        ``resource`` (e.g. ``installation:<id>``) admits one active job at a time:
        a second start while one runs raises ConflictError.
        """
        principal = current_principal()
        job_id = new_id()
        inserted = await self.repo.insert({
            "id": job_id, "kind": kind, "title": title, "status": JobStatus.PENDING.value,
            "server_id": server_id, "resource": resource, "params": redact(params or {}), "steps": [],
            "progress": 0.0, "created_by": principal.username if principal else None, "created_at": utcnow(),
            "owner": self.instance_id,
        })
        if not inserted and resource is not None:
            await self._conflict(resource)
        self._changed[job_id] = asyncio.Event()
        self._tasks[job_id] = asyncio.create_task(self._run(job_id, runner, server_id, resource), name=f"job-{job_id}")
        logger.info("job_started", job_id=job_id, kind=kind, server_id=server_id)
        return job_id

    async def _conflict(self, resource: str) -> None:
        holder = await self.repo.active_for_resource(resource)
        where = f"job {holder}" if holder else "another job"
        raise ConflictError(
            f"Another job ({where}) is already working on {resource}; wait for it with get_job"
            + (f" job_id='{holder}'" if holder else "") + " and try again.",
            details={"job_id": holder},
        )

    async def _run(self, job_id: str, runner: JobRunner, server_id: str | None, resource: str | None) -> None:
        ctx = JobContext(self, job_id)
        try:
            await self._take_slot(ctx, server_id)
            self._notify(job_id)
            result = await runner(ctx)
            await self._finish(job_id, ctx, JobStatus.SUCCEEDED, result=result)
        except asyncio.CancelledError:
            status = JobStatus.INTERRUPTED if self._shutting_down else JobStatus.CANCELLED
            await self._finish(job_id, ctx, status, error=JobCancelled(f"The job was {status.value}."))
        except TomoError as exc:
            await self._finish(job_id, ctx, JobStatus.FAILED, error=exc)
        except Exception as exc:
            logger.exception("job_crashed", job_id=job_id)
            await self._finish(job_id, ctx, JobStatus.FAILED, error=TomoError(
                f"The job stopped on an unexpected error ({type(exc).__name__}); get_logs has the details."))
        finally:
            self._tasks.pop(job_id, None)
            self._slot_freed.set()
            self._slot_freed = asyncio.Event()
            self._notify(job_id)

    async def _take_slot(self, ctx: JobContext, server_id: str | None) -> None:
        """Go from pending to running: at once without a server, else when fewer than max_jobs_per_server jobs
        run against it in all instances together (checked again whenever one ends here, or every 0.5 s)."""
        if server_id is None:
            await self.repo.update(ctx.job_id, {"status": JobStatus.RUNNING.value, "started_at": utcnow()})
            return
        waiting = False
        while True:
            limit = int(self.settings.get("max_jobs_per_server"))
            if await self.repo.claim_slot(ctx.job_id, server_id, limit, utcnow()):
                return
            if not waiting:
                waiting = True
                await ctx.progress(0, f"waiting for a free slot: {limit} job(s) already run against this server")
            with suppress(TimeoutError):
                await asyncio.wait_for(self._slot_freed.wait(), SLOT_POLL_S)

    async def _finish(
        self, job_id: str, ctx: JobContext, status: JobStatus, *, result: dict[str, Any] | None = None,
        error: TomoError | None = None,
    ) -> None:
        values: dict[str, Any] = {
            "status": status.value, "finished_at": utcnow(), "steps": _dump_steps(ctx.steps),
            "result": result, "message": ctx.message if error is None else error.message,
        }
        if status is JobStatus.SUCCEEDED:
            values["progress"] = 100.0
        if error is not None:
            values.update(error_code=error.code, error_message=error.message)
        with suppress(asyncio.CancelledError):
            await asyncio.shield(self.repo.update(job_id, values))
        logger.info("job_finished", job_id=job_id, status=status.value, error=error.code if error else None)

    async def _persist_progress(self, ctx: JobContext) -> None:
        await self.repo.update(ctx.job_id, {
            "steps": _dump_steps(ctx.steps), "progress": ctx.progress_value, "message": ctx.message,
        })
        self._notify(ctx.job_id)

    def _notify(self, job_id: str) -> None:
        event = self._changed.get(job_id)
        if event is not None:
            event.set()
            self._changed[job_id] = asyncio.Event()

    async def get(self, job_id: str) -> Job:
        """The job with its steps; raises JobNotFound."""
        job = await self.repo.get(job_id)
        if job is None:
            raise JobNotFound(f"No job with id '{job_id}'; list_jobs shows recent jobs.")
        return job

    async def active_resources(self, prefix: str) -> set[str]:
        """Resources starting with ``prefix`` held by an active job of any instance."""
        return await self.repo.active_resources(prefix)

    async def active_for_resource(self, resource: str) -> str | None:
        """The id of the pending or running job holding ``resource``, if any."""
        return await self.repo.active_for_resource(resource)

    async def purge_finished(self, older_than_days: int) -> int:
        """Delete finished job records older than the given number of days; returns how many."""
        return await self.repo.purge_finished(utcnow() - timedelta(days=older_than_days))

    async def list_recent(self, server_id: str | None, status: JobStatus | None, limit: int,
                          offset: int = 0) -> tuple[list[JobSummary], int]:
        """A page of recent jobs, newest first, and how many match in all."""
        return await self.repo.list_recent(server_id, status, limit, offset)

    async def wait(self, job_id: str, timeout: float, on_progress: ProgressCallback | None = None) -> Job:
        """Wait until the job finishes or ``timeout`` passes, forwarding progress; returns the job."""
        deadline = time.monotonic() + timeout
        while True:
            event = self._changed.get(job_id)  # taken before reading, so no change can slip between
            job = await self.get(job_id)
            remaining = deadline - time.monotonic()
            if job.status.finished or remaining <= 0:
                return job
            if on_progress is not None:
                await on_progress(job.progress, job.message)
            if event is None:
                await asyncio.sleep(min(remaining, 0.5))
            else:
                with suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), remaining)

    async def cancel(self, job_id: str) -> Job:
        """Cancel a running job; what its runner already did is recorded in the steps."""
        job = await self.get(job_id)
        if job.status.finished:
            raise ConflictError(f"Job {job_id} already ended as {job.status.value}; nothing to cancel.")
        task = self._tasks.get(job_id)
        if task is None:  # another instance runs it: ask it through the database, then wait for the outcome
            if await self.repo.request_cancel(job_id, utcnow()):
                return await self.wait(job_id, 10)
            return await self.get(job_id)
        task.cancel()
        with suppress(asyncio.CancelledError):
            await asyncio.wait({task}, timeout=10)
        return await self.get(job_id)

    async def apply_cancel_requests(self) -> None:
        """Cancel the jobs of this instance that a user asked another instance to cancel."""
        if not self._tasks:
            return
        for job_id in await self.repo.cancel_requests(self.instance_id):
            task = self._tasks.get(job_id)
            if task is not None:
                task.cancel()

    async def shutdown(self) -> None:
        """Stop running jobs; they are recorded as interrupted."""
        self._shutting_down = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=10)


def _dump_steps(steps: list[JobStep]) -> list[dict[str, Any]]:
    return [step.model_dump(mode="json") for step in steps]
