"""Update and uninstall jobs.

An update keeps the running version's compose.yaml and .env beside the new ones
(``compose.previous.yaml``, ``.env.previous``); when the new version does not come up healthy, the
previous files are restored and started again, so the app keeps serving, and both outcomes are recorded
in the installation's history. An uninstall keeps the data folder and named volumes unless asked.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import structlog

from tomo.database.repositories.installations import InstallationRecord
from tomo.database.types import utcnow
from tomo.errors import DeploymentFailed, TomoError
from tomo.models.installation import InstallationStatus, ServiceState
from tomo.services.apps.health import derive_status
from tomo.services.apps.install import DeploymentService, InstallPlan, plan_message
from tomo.services.apps.render import (
    COMPOSE_FILE,
    ENV_FILE,
    PREVIOUS_COMPOSE_FILE,
    PREVIOUS_ENV_FILE,
    ProjectPaths,
)
from tomo.services.apps.trail import Trail
from tomo.services.jobs.jobs import JobContext

log = structlog.get_logger("tomo.apps")


@dataclass
class UpdateContext:
    """The update's plan plus what the installation ran before it."""

    plan: InstallPlan
    previous_version: str
    previous_services: list[str]
    previous_status: str
    same_version: bool
    new_columns: dict[str, Any]


class LifecycleService:
    """Runs update and uninstall jobs."""

    def __init__(self, deployment_service: DeploymentService) -> None:
        self.deploy = deployment_service
        self.remote = deployment_service.remote
        self.repo = deployment_service.repo

    # ---- update -----------------------------------------------------------------------------------------

    async def update(self, ctx: JobContext, update: UpdateContext) -> dict[str, Any]:
        """The update job's runner."""
        plan, trail = update.plan, Trail()
        try:
            async with asyncio.timeout(self.deploy.job_timeout):
                async with ctx.step("check server and render the new version"):
                    facts = await self.remote.facts(plan.server_id, plan.paths)
                    trail.volumes_before = facts.volumes
                    compose_text, env_text = self.deploy.render(plan, facts, trail)
                async with ctx.step("keep the running compose.yaml and .env"):
                    await self._copy(plan.server_id, plan.paths, COMPOSE_FILE, PREVIOUS_COMPOSE_FILE)
                    await self._copy(plan.server_id, plan.paths, ENV_FILE, PREVIOUS_ENV_FILE)
                    trail.backed_up = True
                    await self.deploy.keep(ctx, plan, trail)
                async with ctx.step("upload the new files"):
                    await self.remote.upload(plan.server_id, plan.paths, compose_text, env_text)
                if update.same_version:
                    async with ctx.step("pull images again"):
                        await self.remote.pull(plan.server_id, plan.paths, self.deploy.job_timeout, _ignore)
                states = await self.deploy.start_and_verify(ctx, plan, trail, (30.0, 85.0))
                async with ctx.step("record update"):
                    await self._record(ctx, plan, states, "updated", update.previous_version,
                                       extra=update.new_columns)
            await ctx.progress(100, f"Updated {plan.label} from {update.previous_version} to {plan.version}.")
            log.info("app_updated", installation_id=plan.installation_id, version=plan.version)
            return {"installation_id": plan.installation_id}
        except BaseException as exc:
            if not trail.backed_up:
                await self._shielded_status(plan.installation_id, update.previous_status)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                raise DeploymentFailed(
                    f"Updating {plan.label} failed before anything changed on the server: "
                    f"{plan.scrub(plan_message(exc))}. The running version is untouched; fix the cause and retry."
                ) from exc
            failure = await DeploymentService._shielded(self.roll_back_update(ctx, update, trail, exc))
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise failure from exc

    async def _copy(self, server_id: str, paths: ProjectPaths, source: str, target: str) -> None:
        await self.remote.copy(server_id, paths, source, target)

    async def _shielded_status(self, installation_id: str, status: str) -> None:
        await DeploymentService._shielded(self.repo.update(installation_id, {"status": status, "updated_at": utcnow()}))

    async def roll_back_update(
        self, ctx: JobContext, update: UpdateContext, trail: Trail, exc: BaseException
    ) -> DeploymentFailed:
        """Put the previous version back and start it; returns the error to raise."""
        plan = update.plan
        logs = await self.deploy.collect_logs(ctx, plan, trail)
        reason = plan.scrub(plan_message(exc) if not isinstance(exc, asyncio.CancelledError) else "cancelled")
        step = next((s.name for s in reversed(ctx.steps) if s.status.value == "failed"), "update")
        try:
            states = await self._restore_previous(ctx, update, trail)
        except (TomoError, OSError) as restore_exc:
            return await self._restore_failed(ctx, update, step, reason, logs, restore_exc)
        await self._record(ctx, plan, states, "update_rolled_back", update.previous_version,
                           detail=f"update to {plan.version} failed: {reason}"[:500])
        log.warning("app_update_rolled_back", installation_id=plan.installation_id, version=plan.version)
        serving = f" and answers at {plan.urls[0]}" if plan.urls else ""
        return DeploymentFailed(
            f"Updating {plan.label} from {update.previous_version} to {plan.version} failed at '{step}': "
            f"{reason}. {logs}Rolled back: version {update.previous_version} runs again{serving}. "
            "Next: read the log lines in get_job, and retry update_app when the cause is fixed.",
            details={"step": step, "installation_id": plan.installation_id, "rolled_back": True},
        )

    async def _restore_previous(self, ctx: JobContext, update: UpdateContext, trail: Trail) -> list[ServiceState]:
        plan = update.plan
        async with ctx.step("roll back: restore the previous compose.yaml and .env"):
            await self.deploy.stop_up(plan, trail)  # the new version's `up` may still run
            await self._copy(plan.server_id, plan.paths, PREVIOUS_COMPOSE_FILE, COMPOSE_FILE)
            await self._copy(plan.server_id, plan.paths, PREVIOUS_ENV_FILE, ENV_FILE)
        await self.deploy.up(ctx, plan, trail, (85.0, 95.0), "roll back: start the previous version")
        async with ctx.step("roll back: verify the previous version"):
            states = await self.deploy.verify(plan.server_id, plan.paths.name, update.previous_services, plan.urls)
        try:
            async with ctx.step("roll back: remove volumes the new version created"):
                created = await self.remote.volumes(plan.server_id, plan.paths.name) - trail.volumes_before
                await self.remote.remove_volumes(plan.server_id, sorted(created))
        except TomoError:
            pass  # an unused volume left over is harmless; the step records it
        return states

    async def _restore_failed(
        self, ctx: JobContext, update: UpdateContext, step: str, reason: str, logs: str, exc: BaseException
    ) -> DeploymentFailed:
        plan = update.plan
        problem = plan.scrub(plan_message(exc))
        note = f"update to {plan.version} failed and restoring {update.previous_version} failed too: {problem}"
        await self.repo.add_event(plan.installation_id, _event(ctx, "update_rollback_failed", plan.version, note), {
            "status": InstallationStatus.ERROR.value, "status_note": note[:1000], "updated_at": utcnow(),
        })  # fmt: skip
        return DeploymentFailed(
            f"Updating {plan.label} to {plan.version} failed at '{step}': {reason}. {logs}Restoring version "
            f"{update.previous_version} failed too: {problem}. The previous files are kept on the server as "
            f"{PREVIOUS_COMPOSE_FILE} and {PREVIOUS_ENV_FILE}; check_app_health and get_app_logs show the state.",
            details={"step": step, "installation_id": plan.installation_id, "rolled_back": False},
        )

    async def _record(
        self, ctx: JobContext, plan: InstallPlan, states: list[ServiceState], action: str, previous: str,
        *, detail: str | None = None, extra: dict[str, Any] | None = None,
    ) -> None:
        now = utcnow()
        status, note = derive_status(states, [])
        version = plan.version if action == "updated" else previous
        values: dict[str, Any] = {
            "status": status.value, "status_note": note, "app_version": version, "status_checked_at": now,
            "services": [state.model_dump(mode="json") for state in states], "updated_at": now, "trail": None,
        }  # fmt: skip
        values.update(extra or {})
        event = _event(ctx, action, plan.version, detail or f"from {previous}")
        await self.repo.add_event(plan.installation_id, event, values)

    # ---- uninstall --------------------------------------------------------------------------------------

    async def uninstall(
        self, ctx: JobContext, record: InstallationRecord, paths: ProjectPaths, remove_data: bool,
        helper_image: str | None,
    ) -> dict[str, Any]:
        """The uninstall job's runner."""
        try:
            await self._uninstall_steps(ctx, record, paths, remove_data, helper_image)
        except BaseException as exc:
            failed = next((s.name for s in reversed(ctx.steps) if s.status.value in ("failed", "cancelled")), "")
            note = f"uninstall stopped at '{failed}': {plan_message(exc)}"
            await DeploymentService._shielded(self.repo.update(record.id, {
                "status": InstallationStatus.ERROR.value, "status_note": note[:1000], "updated_at": utcnow(),
            }))  # fmt: skip
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise DeploymentFailed(
                f"Uninstalling '{record.name}' stopped at '{failed}': {plan_message(exc)}. What was removed stays "
                f"removed; call uninstall_app again (installation_id='{record.id}') to finish.",
                details={"step": failed, "installation_id": record.id},
            ) from exc
        log.info("app_uninstalled", installation_id=record.id, remove_data=remove_data)
        kept = None if remove_data else paths.data_dir
        await ctx.progress(100, f"Uninstalled '{record.name}'" + (f"; its data is kept at {kept}." if kept else
                                                                    " and deleted its data."))
        return {"installation_id": record.id, "removed": True, "data_kept_at": kept}

    async def _uninstall_steps(
        self, ctx: JobContext, record: InstallationRecord, paths: ProjectPaths, remove_data: bool,
        helper_image: str | None,
    ) -> None:
        server_id = record.server_id
        async with ctx.step("stop and remove containers"):
            await self.remote.down(server_id, paths)
        if remove_data:
            async with ctx.step("remove named volumes") as step:
                volumes = sorted(await self.remote.volumes(server_id, paths.name))
                await self.remote.remove_volumes(server_id, volumes)
                step.detail = f"{len(volumes)} removed"
        else:
            await ctx.skip("remove named volumes", "kept (remove_data=false)")
        async with ctx.step("remove compose files"):
            await self.remote.remove_files(server_id, paths, [COMPOSE_FILE, ENV_FILE, PREVIOUS_COMPOSE_FILE,
                                                              PREVIOUS_ENV_FILE])
        if remove_data:
            async with ctx.step("remove the app folder and its data") as step:
                how = await self.remote.remove_tree(server_id, paths, paths.project_dir, helper_image)
                step.detail = f"removed {paths.project_dir} ({how})"
        else:
            await ctx.skip("remove the app folder and its data", f"data kept at {paths.data_dir}")
            await self.remote.remove_dir_if_empty(server_id, paths)
        async with ctx.step("forget the installation"):
            await self.repo.delete(record.id)


def plan_inputs(plan: InstallPlan) -> dict[str, str]:
    """The inputs column: plain values, and '***' where a secret is stored encrypted."""
    return {**plan.inputs.plain, **dict.fromkeys(plan.inputs.secrets, "***")}


def _event(ctx: JobContext, action: str, version: str, detail: str | None) -> dict[str, Any]:
    return {"at": utcnow().isoformat(), "action": action, "version": version, "job_id": ctx.job_id,
            "detail": detail}


async def _ignore(_stream: str, _line: str) -> None:
    return None
