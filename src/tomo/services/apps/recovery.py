"""App jobs whose Tomo process died: the clean-up another instance runs when it adopts them.

The composition root registers these handlers with ``JobService.register_recovery``. Each runs in the instance
that adopted the job, records its steps on that job (after the steps the dead process recorded), and returns a
sentence for the job's message; the job then ends ``interrupted``. They reuse the jobs' own code paths:

- ``install_app`` is rolled back exactly as a failed install is (DeploymentService.roll_back_install, from the
  trail the job kept in the installation row): nothing of it is left on the server and its record is deleted.
  An install that had already recorded itself installed is kept.
- ``update_app`` returns to the previous version as a failed update does (LifecycleService.roll_back_update) if
  the job had changed the server; otherwise the installation takes back the status it had.
- ``uninstall_app`` is finished (LifecycleService.uninstall, whose steps can all run again).

Each is idempotent: run again after a recovery that was itself cut off, it ends in the same state.
"""

from __future__ import annotations

from typing import Any

from tomo.database.repositories.installations import InstallationRecord
from tomo.database.types import utcnow
from tomo.models.installation import InstallationStatus
from tomo.models.job import Job
from tomo.services.apps.install import helper_image
from tomo.services.apps.service import AppService
from tomo.services.apps.status import paths_of
from tomo.services.apps.trail import Trail
from tomo.services.jobs.jobs import JobContext, JobInterrupted, RecoveryHandler

_UPDATE_ENDS = ("updated", "update_rolled_back", "update_rollback_failed")


class AppRecovery:
    """Recovery handlers for the install, update and uninstall jobs."""

    def __init__(self, app_service: AppService) -> None:
        self.apps = app_service
        self.repo = app_service.repo
        self.deployment = app_service.deployment
        self.lifecycle = app_service.lifecycle

    def handlers(self) -> dict[str, RecoveryHandler]:
        """By job kind, as AppService names its jobs."""
        return {"install_app": self.install, "update_app": self.update, "uninstall_app": self.uninstall}

    async def install(self, job: Job, ctx: JobContext) -> str:
        """Roll the install back (or keep it, if it had finished)."""
        record = await self._record_of(job)
        if record is None:
            await ctx.skip("roll back the install", "no installation record: nothing is left to roll back")
            return "nothing was left to roll back"
        if _event_of(record, job.id, ("installed",)) is not None:
            await ctx.skip("roll back the install", "the install had finished and recorded the installation")
            return f"the install had finished before its process stopped, so '{record.name}' is kept"
        plan = (await self.apps.update_context(record, record.app_version)).plan
        trail = Trail.left_by(record.trail, job.id) or Trail(uploaded=False, started=False)
        await self.deployment.roll_back_install(ctx, plan, trail, _stopped())
        left = await self.repo.get(record.id)
        if left is not None:
            return (f"the rollback was incomplete ({left.status_note}); uninstall_app with "
                    f"installation_id='{record.id}' and remove_data=true finishes it")
        return "the install was rolled back as a failed install is: nothing of it is left on the server"

    async def update(self, job: Job, ctx: JobContext) -> str:
        """Return the installation to the version it ran before the update."""
        record = await self._record_of(job)
        if record is None:
            await ctx.skip("roll back the update", "the installation no longer exists")
            return "the installation no longer exists"
        done = _event_of(record, job.id, _UPDATE_ENDS)
        if done is not None:
            await ctx.skip("roll back the update", f"the update had already ended ({done['action']})")
            return f"the update had already ended ({done['action']}) before its process stopped"
        previous_status = str(job.params.get("previous_status") or InstallationStatus.RUNNING.value)
        trail = Trail.left_by(record.trail, job.id)
        if trail is None or not trail.backed_up:
            async with ctx.step("roll back: nothing changed on the server; restore the status"):
                await self.repo.update(record.id, {"status": previous_status, "updated_at": utcnow()})
            return f"the update had not changed the server yet; '{record.name}' still runs {record.app_version}"
        update = await self.apps.update_context(record, job.params.get("version"))
        update.previous_status = previous_status
        update.previous_services = list(job.params.get("previous_services") or update.previous_services)
        failure = await self.lifecycle.roll_back_update(ctx, update, trail, _stopped())
        if failure.details.get("rolled_back"):
            return f"returned '{record.name}' to version {record.app_version}, as a failed update is"
        return (f"restoring version {record.app_version} failed; the previous files are kept on the server "
                "(check_app_health and get_app_logs show the state)")

    async def uninstall(self, job: Job, ctx: JobContext) -> str:
        """Finish the uninstall."""
        record = await self._record_of(job)
        if record is None:
            await ctx.skip("finish the uninstall", "the installation is already forgotten")
            return "the uninstall had finished"
        remove_data = bool(job.params.get("remove_data"))
        helper = job.params.get("helper_image") or helper_image(record)
        result = await self.lifecycle.uninstall(ctx, record, paths_of(record), remove_data, helper)
        kept = f"; its data is kept at {result['data_kept_at']}" if result.get("data_kept_at") else ""
        return f"finished uninstalling '{record.name}'{kept}"

    async def _record_of(self, job: Job) -> InstallationRecord | None:
        installation_id = job.params.get("installation_id")
        return await self.repo.get(str(installation_id)) if installation_id else None


def _stopped() -> JobInterrupted:
    return JobInterrupted("its Tomo process stopped")


def _event_of(record: InstallationRecord, job_id: str, actions: tuple[str, ...]) -> dict[str, Any] | None:
    """The history event the job recorded when it ended, if it got that far."""
    return next((event for event in reversed(record.history)
                 if event.get("job_id") == job_id and event.get("action") in actions), None)
